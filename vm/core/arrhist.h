/*
 * arrhist.h — counting: bincount of integer labels and 1-D / 2-D
 * histograms over equal-width bins or given edges. The Lua face is
 * vm/bind/larrhist.c (cj.bincount, cj.histogram, cj.histogram2d); the
 * analysis modules (info.c, coding.c) count through the same functions.
 *
 * Bins follow numpy: bin k holds edges[k] <= x < edges[k+1], except the
 * last, which also holds x == edges[n]. Values outside the edges and NaN
 * are not counted. Counts are accumulated in double (a weight per element
 * when weights are given), added to what the output already holds, so a
 * histogram can be built in pieces.
 */
#ifndef CJ_ARRHIST_H
#define CJ_ARRHIST_H

#include "array.h"

/* The bins of one axis: n bins with n + 1 increasing edges. When uniform
 * is set the edges are lo + (hi - lo) k / n and a value's bin is computed
 * rather than searched. */
typedef struct cj_bins {
  int64_t n;
  const double *edges;
  int uniform;
} cj_bins;

/* edges[0..n] = n equal bins over [lo, hi] (lo < hi, both finite; n >= 1),
 * the last edge exactly hi. CJ_EINVAL otherwise. */
int cj_bins_uniform(double *edges, int64_t n, double lo, double hi);
/* CJ_EINVAL unless edges[0..n] are finite and strictly increasing (n >= 1). */
int cj_bins_check(const double *edges, int64_t n);
/* The bin of x (0 .. n-1), or -1 when x is outside or NaN. */
int64_t cj_bins_find(const cj_bins *b, double x);

/* counts[k] += (weight of) each element of x (any shape) falling in bin k
 * of b. w: NULL, or an array of x's shape. */
int cj_histogram(const cj_array *x, const cj_array *w, const cj_bins *b, double *counts);
/* counts (bx.n x by.n, row-major) += pairs (x, y) (arrays of one shape). */
int cj_histogram2d(const cj_array *x, const cj_array *y, const cj_array *w,
                   const cj_bins *bx, const cj_bins *by, double *counts);

/* counts[v - lo] += (weight of) each element of value v, for lo <= v <
 * lo + len. Values must be integers (any dtype; a float with a fraction is
 * CJ_EINVAL naming it); a value outside [lo, lo + len) is CJ_ERANGE naming
 * it; NaN is CJ_EINVAL. */
int cj_bincount(const cj_array *x, const cj_array *w, int64_t lo, int64_t len, double *counts);

/* Smallest and largest finite values of x (*found = 0 when there are none). */
int cj_finite_range(const cj_array *x, double *lo, double *hi, int *found);

#endif
