/*
 * arrsort.h — ordering of array elements: sort and argsort along an axis,
 * binary search in a sorted vector, and the distinct values of an array
 * with their counts. The Lua face is vm/bind/larrsort.c (cj.sort,
 * cj.argsort, cj.searchsorted, cj.unique); the raw helpers at the end serve
 * the analysis modules (info.c, coding.c).
 *
 * Order: ascending, with NaN after every number (numpy's order); all sorts
 * are stable (equal keys keep their order), so argsort is reproducible.
 * Positions and indices are 0-based here. Values of every dtype are
 * compared as doubles, which is exact for all cajal dtypes.
 */
#ifndef CJ_ARRSORT_H
#define CJ_ARRSORT_H

#include "array.h"

/* out = a sorted along dimension axis (0-based). out has a's shape (any
 * dtype: values are converted as cj_array_copy does); it may be a itself.
 * CJ_EINVAL on a bad axis or shape, CJ_ENOMEM. */
int cj_array_sort(cj_array *out, const cj_array *a, int axis);
/* out (a's shape, any dtype able to hold the positions, e.g. int32) = for
 * each line along axis, the 0-based positions that sort it stably. */
int cj_array_argsort(cj_array *out, const cj_array *a, int axis);

/* out (v's shape) = for each element x of v, the insertion position in the
 * ascending 1-D array a that keeps it sorted: the first i with a[i] >= x
 * (right == 0, numpy's side='left') or a[i] > x (right != 0). NaN sorts
 * last. a is not checked for order (a binary search on unsorted data gives
 * some position). */
int cj_array_searchsorted(cj_array *out, const cj_array *a, const cj_array *v, int right);

/* Distinct values of a (all elements, row-major), ascending, NaNs made one
 * value at the end. values and counts receive *nuniq entries; inverse (may
 * be NULL) receives, for each element of a in row-major order, the 0-based
 * position of its value in values. values, counts: at least numel(a)
 * entries each (the worst case). */
int cj_array_unique(const cj_array *a, double *values, int64_t *counts, int64_t *inverse,
                    int64_t *nuniq);

/* ---- raw helpers ------------------------------------------------------------ */
/* Sort x[0..n) ascending in place, NaN last. CJ_ENOMEM (x then untouched). */
int cj_sort_f64(double *x, int64_t n);
/* perm[0..n) = the 0-based positions that sort x[0..n) stably (x untouched). */
int cj_argsort_f64(const double *x, int64_t n, int64_t *perm);
/* Sort the 64-bit keys k[0..n) ascending in place (radix sort). */
int cj_sort_u64(uint64_t *k, int64_t n);
/* First i in [0, n) with a[i] >= x (right == 0) or a[i] > x (right != 0),
 * n if none; a ascending without NaN. */
int64_t cj_search_f64(const double *a, int64_t n, double x, int right);

#endif
