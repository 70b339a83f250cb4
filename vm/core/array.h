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
/* Hint that the n bytes at p will be used as one large array: asks the
 * kernel for transparent huge pages when n is large (first-touch page
 * faults then cost a fraction). A no-op where that is not available. */
void cj_array_advise(void *p, size_t n);
/* Free storage made by cj_array_alloc (only). */
void cj_array_release(cj_array *a);

/* Element access by 0-based index vector, and by flat row-major position k. */
double cj_array_get(const cj_array *a, const int64_t *idx);
void cj_array_set(cj_array *a, const int64_t *idx, double v);
double cj_array_getflat(const cj_array *a, int64_t k);
void cj_array_setflat(cj_array *a, int64_t k, double v);

/* --- the rest of the array API (views, elementwise, reductions, linalg) is
 * declared below by the array subsystem; see array.c, arrmath.c, linalg.c. --- */

/* ---- dtypes and shapes (array.c) ------------------------------------------
 * Dtype promotion, used by every binary operation:
 *   same dtype                      -> that dtype
 *   float64 with anything           -> float64
 *   float32 with uint8 or float32   -> float32;  float32 with int32 -> float64
 *   int32 with uint8                -> int32
 * Division and power of integer arrays give float64 (see cj_binop_dtype).
 * Conversion to an integer dtype truncates toward zero and saturates at the
 * range of the target (300 -> 255 for uint8, -1 -> 0); NaN becomes 0. */
cj_dtype cj_dtype_promote(cj_dtype a, cj_dtype b);
int cj_dtype_isint(cj_dtype t);

/* Number of elements of a shape; CJ_EINVAL on a negative size, too many
 * dimensions or an element count that would overflow. */
int cj_shape_numel(int ndim, const int64_t *shape, int64_t *n);
/* "3x4", "10", "scalar" (0-d) into buf; returns buf. */
const char *cj_shape_format(int ndim, const int64_t *shape, char *buf, size_t n);
int cj_array_sameshape(const cj_array *a, const cj_array *b);
/* Byte address of element idx (0-based). */
void *cj_array_ptr(const cj_array *a, const int64_t *idx);
/* 1 when the memory spanned by a and b may overlap. */
int cj_array_overlap(const cj_array *a, const cj_array *b);

/* ---- views: *v describes part of a's memory (nothing is copied) ----------
 * All indices 0-based. They fail with CJ_ERANGE / CJ_EINVAL and a message. */
/* Drop dimension dim, keeping index i of it. */
int cj_array_select(cj_array *v, const cj_array *a, int dim, int64_t i);
/* Along dim keep count elements start, start+step, ... (step != 0; count 0 is an empty view). */
int cj_array_slice(cj_array *v, const cj_array *a, int dim, int64_t start, int64_t count, int64_t step);
/* Swap dimensions d1 and d2. */
int cj_array_transpose(cj_array *v, const cj_array *a, int d1, int d2);
/* Same elements under a new shape; a must be contiguous (CJ_EINVAL otherwise,
 * or when the element counts differ). */
int cj_array_reshape(cj_array *v, const cj_array *a, int ndim, const int64_t *shape);
/* Shape that a and b broadcast to (numpy rules: align trailing dimensions;
 * sizes must match or one of them be 1). CJ_EINVAL naming both shapes. */
int cj_broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                       int *nout, int64_t *out);
/* View of a stretched to shape (zero strides on broadcast dimensions). */
int cj_array_broadcast(cj_array *v, const cj_array *a, int ndim, const int64_t *shape);

/* ---- the loop driver --------------------------------------------------------
 * cj_array_apply runs kernel k over nop arrays of one common shape (ops[0]
 * is usually the destination). Dimensions are merged where the layout
 * allows, so contiguous arrays reach the kernel as one long line. The kernel
 * gets n elements, a pointer to the first element of each operand and each
 * operand's stride in elements (0 for a broadcast operand). */
#define CJ_MAXOPS 4
typedef void (*cj_kernel)(int64_t n, char *const *p, const int64_t *s, void *ctx);
int cj_array_apply(int nop, const cj_array *const *ops, cj_kernel k, void *ctx);

/* ---- copies ------------------------------------------------------------------
 * cj_array_copy: src broadcast to dst's shape and converted to dst's dtype;
 * overlapping memory is handled (src is read completely before dst is
 * written). CJ_EINVAL when the shapes do not broadcast; CJ_ENOMEM. */
int cj_array_copy(cj_array *dst, const cj_array *src);
void cj_array_fill(cj_array *dst, double v);
/* 1 when a and b have the same shape and put each element at the same
 * address (an elementwise pass can then write b while reading a). */
int cj_array_samelayout(const cj_array *a, const cj_array *b);
/* One element at p as a double, and stored from a double (converting as above). */
double cj_dtype_load(cj_dtype t, const void *p);
void cj_dtype_store(cj_dtype t, void *p, double v);

/* ---- elementwise operations (arrmath.c) --------------------------------------
 * Integer arithmetic wraps around (two's complement, as numpy); x % y is
 * floored (the sign of y, as Lua's %) and x % 0 is 0 for integers (NaN for
 * floats). Division and power of two integer arrays give float64. Floor
 * division x // y (CJ_IDIV) keeps integer dtypes, rounds toward -inf as
 * Lua's // (-7 // 2 is -4) and gives 0 for integer x // 0; for floats it is
 * floor(x / y).
 * Every function writes into a caller-made out of the result's shape and
 * dtype (CJ_EINVAL otherwise); out may be an input (in place) or overlap
 * one (a temporary is used). */
/* The elementwise operations, one line each: X(ENUM, name, verb, kind).
 * From these lists come the enums (CJ_ADD, ...), the names (cj_binop_name),
 * the kernel tables of arrmath.c and the Lua functions, methods and error
 * verbs of larray.c. kind says the result dtype for integer input: KEEP
 * (the promoted dtype), FLOAT (float64), CMP (uint8 0/1). Adding an op is a
 * line here, its kernels in arrmath.c (FLOATOPS, and an integer kernel per
 * integer dtype for a KEEP op), its help entry in larray.c and its test
 * (vm/core/README.md, "Adding an elementwise operation"). */
#define CJ_BINOPS(X)                            \
  X(ADD, add, "add", KEEP)                      \
  X(SUB, sub, "subtract", KEEP)                 \
  X(MUL, mul, "multiply", KEEP)                 \
  X(DIV, div, "divide", FLOAT)                  \
  X(IDIV, idiv, "floor-divide", KEEP)           \
  X(MOD, mod, "take the remainder of", KEEP)    \
  X(POW, pow, "raise", FLOAT)                   \
  X(MINIMUM, minimum, "compare", KEEP)          \
  X(MAXIMUM, maximum, "compare", KEEP)          \
  X(LT, lt, "compare", CMP)                     \
  X(LE, le, "compare", CMP)                     \
  X(GT, gt, "compare", CMP)                     \
  X(GE, ge, "compare", CMP)                     \
  X(EQ, eq, "compare", CMP)                     \
  X(NE, ne, "compare", CMP)
#define CJ_OPENUM_(E, ...) CJ_##E,
typedef enum { CJ_BINOPS(CJ_OPENUM_) CJ_NBINOPS } cj_binop;
const char *cj_binop_name(cj_binop op);        /* "add", "sub", ..., "idiv", ..., "lt", ... */
int cj_binop_iscmp(cj_binop op);
cj_dtype cj_binop_dtype(cj_binop op, cj_dtype a, cj_dtype b);
/* out = a op b, broadcasting a and b to out's shape (which must be their
 * broadcast shape). */
int cj_array_binop(cj_binop op, cj_array *out, const cj_array *a, const cj_array *b);

/* out = a * b + c in one pass (rounded as the two operations would be),
 * all three broadcast to out's shape; out dtype: the promotion of all three. */
int cj_array_muladd(cj_array *out, const cj_array *a, const cj_array *b, const cj_array *c);

/* X(ENUM, name, kind): kind KEEP keeps integer dtypes, FLOAT gives float64
 * for integer input. */
#define CJ_UNOPS(X)                             \
  X(NEG, neg, KEEP)                             \
  X(ABS, abs, KEEP)                             \
  X(RELU, relu, KEEP)                           \
  X(SIGN, sign, KEEP)                           \
  X(FLOOR, floor, KEEP)                         \
  X(CEIL, ceil, KEEP)                           \
  X(EXP, exp, FLOAT)                            \
  X(LOG, log, FLOAT)                            \
  X(LOG1P, log1p, FLOAT)                        \
  X(SQRT, sqrt, FLOAT)                          \
  X(SIN, sin, FLOAT)                            \
  X(COS, cos, FLOAT)                            \
  X(TAN, tan, FLOAT)                            \
  X(TANH, tanh, FLOAT)                          \
  X(SIGMOID, sigmoid, FLOAT)
typedef enum { CJ_UNOPS(CJ_OPENUM_) CJ_NUNOPS } cj_unop;
const char *cj_unop_name(cj_unop op);
/* Same dtype for float input; integer input keeps its dtype for the KEEP
 * operations (neg .. ceil) and gives float64 for the others. */
cj_dtype cj_unop_dtype(cj_unop op, cj_dtype a);
int cj_array_unop(cj_unop op, cj_array *out, const cj_array *a);
/* out = a limited to [lo, hi] (bounds rounded inward for integer dtypes);
 * out has a's dtype. CJ_EINVAL when lo > hi. NaN stays NaN. */
int cj_array_clip(cj_array *out, const cj_array *a, double lo, double hi);
/* out = mask ? a : b elementwise (mask uint8, nonzero is true), all three
 * broadcast to out's shape; out dtype: cj_dtype_promote(a, b). */
int cj_array_where(cj_array *out, const cj_array *mask, const cj_array *a, const cj_array *b);

/* ---- masks: a uint8 array of a's shape selects the elements where nonzero -- */
int64_t cj_array_count(const cj_array *mask);  /* nonzero elements */
/* out (1-D, cj_array_count(mask) elements, a's dtype) = a's selected
 * elements in row-major order. */
int cj_array_masked_select(cj_array *out, const cj_array *a, const cj_array *mask);
/* a's selected elements = src, a 0-d array or a 1-D array of
 * cj_array_count(mask) elements (converted to a's dtype). */
int cj_array_masked_assign(cj_array *a, const cj_array *mask, const cj_array *src);

/* ---- reductions (arrmath.c) ----------------------------------------------------
 * Sums, means and variances accumulate in double (pairwise on contiguous
 * data); var and std divide by n - ddof (NaN when that is not positive).
 * min, max propagate NaN; argmin/argmax give the first position of the
 * extreme (or of the first NaN), 0-based. The mean of nothing is NaN; min,
 * max and arg* of nothing fail with CJ_EINVAL; sum of nothing is 0, prod 1,
 * any 0, all 1 (NaN counts as true). */
/* X(ENUM, name) */
#define CJ_REDUCTIONS(X)                                                        \
  X(SUM, sum) X(MEAN, mean) X(VAR, var) X(STD, std) X(MIN, min) X(MAX, max)     \
  X(ARGMIN, argmin) X(ARGMAX, argmax) X(PROD, prod) X(ANY, any) X(ALL, all)
typedef enum { CJ_REDUCTIONS(CJ_OPENUM_) CJ_NREDUCE } cj_reduce;
const char *cj_reduce_name(cj_reduce op);
/* dtype of a reduction along an axis: sum, mean, var, std, prod -> float64
 * for integer input (else the input's); min, max -> input's; arg* -> int32;
 * any, all -> uint8. */
cj_dtype cj_reduce_dtype(cj_reduce op, cj_dtype t);
/* Over all elements; arg* give the flat row-major position. */
int cj_array_reduce(cj_reduce op, const cj_array *a, int ddof, double *res);
/* Along dimension axis (0-based): out has a's shape without that dimension. */
int cj_array_reduce_axis(cj_reduce op, cj_array *out, const cj_array *a, int axis, int ddof);
/* Running sums along axis (out: a's shape), or over the flattened array
 * when axis < 0 (out: 1-D of numel(a)); out dtype cj_reduce_dtype(CJ_SUM). */
int cj_array_cumsum(cj_array *out, const cj_array *a, int axis);


/* ---- linear algebra (linalg.c) ------------------------------------------------
 * Matrix products of 1-D and 2-D arrays, numpy's matmul rules: (m,k)(k,n)
 * -> (m,n); (m,k)(k) -> (m); (k)(k,n) -> (n); (k)(k) -> 0-d. Float dtypes go
 * through cblas_dgemm / cblas_sgemm; integer dtypes are multiplied in int32
 * (wrapping around) by a C loop. */
cj_dtype cj_matmul_dtype(cj_dtype a, cj_dtype b);  /* promoted; integers -> int32 */
int cj_matmul_shape(const cj_array *a, const cj_array *b, int *ndim, int64_t *shape);
/* out must have the product's shape and dtype; it may overlap a or b. */
int cj_array_matmul(cj_array *out, const cj_array *a, const cj_array *b);
/* Inner product of two 1-D arrays of one length, accumulated in double. */
int cj_array_dot(const cj_array *a, const cj_array *b, double *res);

/* Raw BLAS on row-major double matrices, for the primitive modules (learn,
 * boltzmann, capsule, ...): the CBLAS routine of the same name with
 * CblasRowMajor, ta/tb nonzero for a transposed operand. OpenBLAS is opened
 * on first use; CJ_ERUNTIME (message names the Debian package) when it cannot
 * be, CJ_ERANGE when a size exceeds BLAS's integer. Sizes of zero are handled
 * here (C = beta*C) rather than passed to BLAS.
 *   cj_dgemm:  C (m x n) = alpha op(A) op(B) + beta C, op(A) m x k
 *   cj_dgemv:  y = alpha op(A) x + beta y, A m x n
 *   cj_dger:   A (m x n) += alpha x y^T
 *   cj_dsyrk:  C (n x n) = alpha op(A) op(A)^T + beta C, op(A) n x k; the
 *              whole of C is written (BLAS's upper triangle, mirrored) */
int cj_dgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
             const double *a, int64_t lda, const double *b, int64_t ldb,
             double beta, double *c, int64_t ldc);
int cj_dgemv(int ta, int64_t m, int64_t n, double alpha, const double *a, int64_t lda,
             const double *x, int64_t incx, double beta, double *y, int64_t incy);
int cj_dger(int64_t m, int64_t n, double alpha, const double *x, int64_t incx,
            const double *y, int64_t incy, double *a, int64_t lda);
int cj_dsyrk(int ta, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
             double beta, double *c, int64_t ldc);
/* Eigenvalues (and with vectors nonzero, eigenvectors) of the symmetric
 * n x n row-major matrix a (both triangles must hold it), by LAPACK dsyevd
 * (OpenBLAS carries LAPACK; else liblapack.so.3). w[n] gets the eigenvalues
 * in ascending order; with vectors, row i of a becomes the unit eigenvector
 * of w[i] (a is destroyed either way). CJ_ERUNTIME when LAPACK is missing or
 * does not converge, CJ_ENOMEM. */
int cj_dsyevd(int64_t n, double *a, double *w, int vectors);

#endif
