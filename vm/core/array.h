/*
 * array.h — n-dimensional numeric arrays, the currency between all modules.
 *
 * A cj_array is a *descriptor*: a data pointer, a dtype, a shape and strides
 * (counted in elements, may be negative or zero for broadcasting views). It
 * does not own memory by itself; whoever created the memory frees it. In Lua
 * the memory lives inside a userdata (see vm/bind/lcajal.h); in C,
 * cj_array_alloc()/cj_array_release() pair up. Row-major (C order).
 */
#ifndef CJ_ARRAY_H
#define CJ_ARRAY_H

#include "cj.h"

typedef enum { CJ_F64 = 0, CJ_F32, CJ_I32, CJ_U8, CJ_NDTYPES } cj_dtype;

#define CJ_MAXDIM 8

typedef struct cj_array {
  void *data;                   /* address of element (0, 0, ...) */
  cj_dtype dtype;
  int ndim;                     /* 0 .. CJ_MAXDIM; 0 is a scalar of one element */
  int64_t shape[CJ_MAXDIM];
  int64_t strides[CJ_MAXDIM];   /* in elements, not bytes */
} cj_array;

size_t cj_dtype_size(cj_dtype t);
const char *cj_dtype_name(cj_dtype t);          /* "float64", "float32", "int32", "uint8" */
int cj_dtype_parse(const char *name, cj_dtype *out); /* accepts the names above and "double", "float", "int", "byte"; CJ_EINVAL otherwise */

int64_t cj_array_numel(const cj_array *a);
int cj_array_iscontig(const cj_array *a);       /* row-major contiguous */

/* Fill in a contiguous descriptor over existing memory. CJ_EINVAL on a bad shape. */
int cj_array_wrap(cj_array *a, void *data, cj_dtype t, int ndim, const int64_t *shape);
/* Allocate zeroed contiguous storage with cj_calloc. On failure *a is left with data == NULL. */
int cj_array_alloc(cj_array *a, cj_dtype t, int ndim, const int64_t *shape);
/* Free storage made by cj_array_alloc (only). */
void cj_array_release(cj_array *a);

/* Element access by 0-based index vector, and by flat row-major position k. */
double cj_array_get(const cj_array *a, const int64_t *idx);
void cj_array_set(cj_array *a, const int64_t *idx, double v);
double cj_array_getflat(const cj_array *a, int64_t k);
void cj_array_setflat(cj_array *a, int64_t k, double v);

/* --- the rest of the array API (views, elementwise, reductions, linalg) is
 * declared below by the array subsystem; see array.c, arrmath.c, linalg.c. --- */

#endif
