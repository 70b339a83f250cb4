/*
 * linalg.c — matrix products of cj_array: float32 and float64 through
 * CBLAS (cblas_sgemm / cblas_dgemm), integer dtypes by a C loop in int32.
 *
 * Strided and transposed operands are passed to BLAS as they are when
 * their layout is one BLAS can describe (unit stride along rows or along
 * columns, with a leading dimension); otherwise they are first copied to
 * contiguous scratch. A transposed destination is filled by computing
 * the transposed product.
 */
#include "array.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS is opened on the first matrix product, not linked: resolving its
 * ~14 000 symbol relocations at load time cost ten times the rest of cajal's
 * start-up. Candidates: $CAJAL_BLAS alone when set, else the soname, then the
 * library in pkg-config's libdir (CAJAL_BLAS_LIBDIR, set by configure). */
typedef void (*dgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                         const blasint, const double, const double *, const blasint,
                         const double *, const blasint, const double, double *,
                         const blasint);
typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                         const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *,
                         const blasint);
typedef void (*dgemv_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const blasint,
                         const blasint, const double, const double *, const blasint,
                         const double *, const blasint, const double, double *, const blasint);
typedef void (*dger_fn)(const enum CBLAS_ORDER, const blasint, const blasint, const double,
                        const double *, const blasint, const double *, const blasint,
                        double *, const blasint);
typedef void (*dsyrk_fn)(const enum CBLAS_ORDER, const enum CBLAS_UPLO, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const double, const double *,
                         const blasint, const double, double *, const blasint);
static dgemm_fn p_dgemm;
static sgemm_fn p_sgemm;
static dgemv_fn p_dgemv;
static dger_fn p_dger;
static dsyrk_fn p_dsyrk;
static void *blashandle;       /* the library opened (LAPACK is looked up in it) */
static char blaserr[512];
static pthread_once_t blasonce = PTHREAD_ONCE_INIT;

#ifndef CAJAL_BLAS_LIBDIR
#define CAJAL_BLAS_LIBDIR "/usr/lib/x86_64-linux-gnu/openblas-pthread"
#endif

static void openblas(void)
{
  const char *env = getenv("CAJAL_BLAS");
  const char *cands[] = { env, "libopenblas.so.0", CAJAL_BLAS_LIBDIR "/libblas.so.3",
                          CAJAL_BLAS_LIBDIR "/libopenblas.so", "libblas.so.3" };
  size_t n = env && *env ? 1 : sizeof cands / sizeof *cands;  /* CAJAL_BLAS alone when set */
  for (size_t i = 0; i < n; i++) {
    void *h;
    if (!cands[i] || !*cands[i]) continue;
    if (!(h = dlopen(cands[i], RTLD_NOW | RTLD_LOCAL))) {
      snprintf(blaserr, sizeof blaserr, "%s", dlerror());
      continue;
    }
    *(void **)&p_dgemm = dlsym(h, "cblas_dgemm");
    *(void **)&p_sgemm = dlsym(h, "cblas_sgemm");
    *(void **)&p_dgemv = dlsym(h, "cblas_dgemv");
    *(void **)&p_dger = dlsym(h, "cblas_dger");
    *(void **)&p_dsyrk = dlsym(h, "cblas_dsyrk");
    if (p_dgemm && p_sgemm && p_dgemv && p_dger && p_dsyrk) { blashandle = h; return; }
    p_dgemm = NULL;
    p_sgemm = NULL;
    snprintf(blaserr, sizeof blaserr, "%s has no cblas_dgemm", cands[i]);
    dlclose(h);
  }
}

static int needblas(void)
{
  pthread_once(&blasonce, openblas);
  if (p_dgemm) return CJ_OK;
  return cj_fail(CJ_ERUNTIME, "matrix product needs OpenBLAS (Debian package libopenblas0): %s",
                 blaserr);
}

#define BLASMAX ((int64_t)(sizeof(blasint) >= 8 ? INT64_MAX : INT_MAX))

cj_dtype cj_matmul_dtype(cj_dtype a, cj_dtype b)
{
  cj_dtype t = cj_dtype_promote(a, b);
  return cj_dtype_isint(t) ? CJ_I32 : t;
}

int cj_matmul_shape(const cj_array *a, const cj_array *b, int *ndim, int64_t *shape)
{
  char b1[64], b2[64];
  int n = 0;
  if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2)
    return cj_fail(CJ_EINVAL, "1-D or 2-D arrays expected, got %d-D and %d-D", a->ndim, b->ndim);
  if (a->shape[a->ndim - 1] != b->shape[0])
    return cj_fail(CJ_EINVAL, "inner dimensions differ: %s and %s",
                   cj_shape_format(a->ndim, a->shape, b1, sizeof b1),
                   cj_shape_format(b->ndim, b->shape, b2, sizeof b2));
  if (a->ndim == 2) shape[n++] = a->shape[0];
  if (b->ndim == 2) shape[n++] = b->shape[1];
  *ndim = n;
  return CJ_OK;
}

/* x as a matrix: a 1-D array is a row (left operand) or a column (right);
 * the stride of the added dimension of size 1 is left 0 (it is free). */
static void as2d(cj_array *m, const cj_array *x, int row)
{
  *m = *x;
  if (x->ndim == 2) return;
  m->ndim = 2;
  if (x->ndim == 0) {
    m->shape[0] = m->shape[1] = 1;
    m->strides[0] = m->strides[1] = 0;
  } else if (row) {
    m->shape[0] = 1; m->strides[0] = 0;
    m->shape[1] = x->shape[0]; m->strides[1] = x->strides[0];
  } else {
    m->shape[1] = 1; m->strides[1] = 0;
  }
}

/* How BLAS can read matrix m: *trans set when m is stored as its row-major
 * transpose; *ld the leading dimension. 0 when it cannot (copy first). */
static int blaslayout(const cj_array *m, int *trans, int64_t *ld)
{
  int64_t r = m->shape[0], c = m->shape[1], s0 = m->strides[0], s1 = m->strides[1];
  int64_t rmin = r > 1 ? r : 1, cmin = c > 1 ? c : 1;
  if ((c == 1 || s1 == 1) && (r == 1 || s0 >= cmin)) {
    *trans = 0;
    *ld = r == 1 ? cmin : s0;
  } else if ((r == 1 || s0 == 1) && (c == 1 || s1 >= rmin)) {
    *trans = 1;
    *ld = c == 1 ? rmin : s1;
  } else {
    return 0;
  }
  return *ld <= BLASMAX;
}

/* A contiguous copy of m in *tmp (dtype t), *m then describes it. */
static int contiguous(cj_array *m, cj_array *tmp, cj_dtype t)
{
  int st;
  if ((st = cj_array_alloc(tmp, t, m->ndim, m->shape))) return st;
  if ((st = cj_array_copy(tmp, m))) return st;
  *m = *tmp;
  return CJ_OK;
}

typedef struct { const cj_array *m; int trans; int64_t ld; } operand;

/* C = A B for float dtypes; c must be row-major (c.trans == 0). */
static void gemm(cj_dtype t, const operand *a, const operand *b, const operand *c,
                 int64_t m, int64_t n, int64_t k)
{
  enum CBLAS_TRANSPOSE ta = a->trans ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = b->trans ? CblasTrans : CblasNoTrans;
  if (t == CJ_F64)
    p_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, 1.0,
                a->m->data, (blasint)a->ld, b->m->data, (blasint)b->ld, 0.0,
                c->m->data, (blasint)c->ld);
  else
    p_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, 1.0f,
                a->m->data, (blasint)a->ld, b->m->data, (blasint)b->ld, 0.0f,
                c->m->data, (blasint)c->ld);
}

static void floatmatmul(cj_dtype t, const cj_array *c, const cj_array *a, const cj_array *b)
{
  operand oa = { a, 0, 0 }, ob = { b, 0, 0 }, oc = { c, 0, 0 };
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  blaslayout(a, &oa.trans, &oa.ld);            /* the caller made all three describable */
  blaslayout(b, &ob.trans, &ob.ld);
  blaslayout(c, &oc.trans, &oc.ld);
  if (!oc.trans) {
    gemm(t, &oa, &ob, &oc, m, n, k);
  } else {                                     /* C^T = B^T A^T, row-major */
    oa.trans = !oa.trans;
    ob.trans = !ob.trans;
    oc.trans = 0;
    gemm(t, &ob, &oa, &oc, n, m, k);
  }
}

/* int32 product, wrapping around on overflow; a and b contiguous int32. */
static int intmatmul(cj_array *c, const cj_array *a, const cj_array *b)
{
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  const int32_t *A = a->data, *B = b->data;
  uint32_t *acc = cj_malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
  if (!acc) return cj_fail(CJ_ENOMEM, "out of memory");
  for (int64_t i = 0; i < m; i++) {
    memset(acc, 0, sizeof(uint32_t) * (size_t)n);
    for (int64_t l = 0; l < k; l++) {
      uint32_t x = (uint32_t)A[i * k + l];
      const int32_t *row = B + l * n;
      for (int64_t j = 0; j < n; j++) acc[j] += x * (uint32_t)row[j];
    }
    for (int64_t j = 0; j < n; j++) {
      int64_t idx[2] = { i, j };
      *(int32_t *)cj_array_ptr(c, idx) = (int32_t)acc[j];
    }
  }
  cj_free(acc);
  return CJ_OK;
}

/* Whether matrix x must be copied before the product can read it. */
static int needcopy(const cj_array *x, cj_dtype t)
{
  int trans;
  int64_t ld;
  if (x->dtype != t) return 1;
  return t == CJ_I32 ? !cj_array_iscontig(x) : !blaslayout(x, &trans, &ld);
}

int cj_array_matmul(cj_array *out, const cj_array *a, const cj_array *b)
{
  int64_t shape[2] = { 0, 0 };
  int ndim, st = CJ_OK;
  cj_dtype t = cj_matmul_dtype(a->dtype, b->dtype);
  cj_array A, B, C, O, ta, tb, tc, want;
  char s1[64], s2[64];
  if ((st = cj_matmul_shape(a, b, &ndim, shape))) return st;
  want.ndim = ndim; want.shape[0] = shape[0]; want.shape[1] = shape[1];
  if (!cj_array_sameshape(out, &want))
    return cj_fail(CJ_EINVAL, "out has shape %s, expected %s",
                   cj_shape_format(out->ndim, out->shape, s1, sizeof s1),
                   cj_shape_format(ndim, shape, s2, sizeof s2));
  if (out->dtype != t)
    return cj_fail(CJ_EINVAL, "out has dtype %s, expected %s", cj_dtype_name(out->dtype), cj_dtype_name(t));
  as2d(&A, a, 1);
  as2d(&B, b, 0);
  as2d(&O, out, a->ndim == 1);                 /* (m,n), (m,1), (1,n) or (1,1) */
  if (a->ndim == 2 && b->ndim == 1) {
    O.shape[1] = 1; O.strides[1] = 0;
  }
  if (A.shape[0] == 0 || B.shape[1] == 0) return CJ_OK;
  if (A.shape[1] == 0) { cj_array_fill(out, 0); return CJ_OK; }
  if (A.shape[0] > BLASMAX || A.shape[1] > BLASMAX || B.shape[1] > BLASMAX)
    return cj_fail(CJ_EINVAL, "matrix too large");
  ta.data = tb.data = tc.data = NULL;
  if (t != CJ_I32 && (st = needblas())) return st;
  if ((needcopy(&A, t) && (st = contiguous(&A, &ta, t))) ||
      (needcopy(&B, t) && (st = contiguous(&B, &tb, t))))
    goto done;
  C = O;
  if (cj_array_overlap(&O, &A) || cj_array_overlap(&O, &B) || (t != CJ_I32 && needcopy(&O, t))) {
    int64_t cs[2] = { A.shape[0], B.shape[1] };
    if ((st = cj_array_alloc(&tc, t, 2, cs))) goto done;
    C = tc;
  }
  if (t == CJ_I32) st = intmatmul(&C, &A, &B);
  else floatmatmul(t, &C, &A, &B);
  if (st == CJ_OK && tc.data) st = cj_array_copy(&O, &tc);
done:
  if (ta.data) cj_array_release(&ta);
  if (tb.data) cj_array_release(&tb);
  if (tc.data) cj_array_release(&tc);
  return st;
}

int cj_array_dot(const cj_array *a, const cj_array *b, double *res)
{
  int64_t n, sa, sb;
  double acc[4] = { 0, 0, 0, 0 };
  if (a->ndim != 1 || b->ndim != 1)
    return cj_fail(CJ_EINVAL, "1-D arrays expected, got %d-D and %d-D", a->ndim, b->ndim);
  if (a->shape[0] != b->shape[0])
    return cj_fail(CJ_EINVAL, "lengths differ: %lld and %lld", (long long)a->shape[0], (long long)b->shape[0]);
  n = a->shape[0]; sa = a->strides[0]; sb = b->strides[0];
  if (a->dtype == CJ_F64 && b->dtype == CJ_F64) {
    const double *x = a->data, *y = b->data;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int j = 0; j < 4; j++) acc[j] += x[(i + j) * sa] * y[(i + j) * sb];
    for (; i < n; i++) acc[0] += x[i * sa] * y[i * sb];
  } else {
    size_t ea = cj_dtype_size(a->dtype), eb = cj_dtype_size(b->dtype);
    for (int64_t i = 0; i < n; i++)
      acc[0] += cj_dtype_load(a->dtype, (const char *)a->data + i * sa * (int64_t)ea) *
                cj_dtype_load(b->dtype, (const char *)b->data + i * sb * (int64_t)eb);
  }
  *res = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  return CJ_OK;
}

/* ---- raw BLAS for the primitive modules (see array.h) --------------------- */

static int blasdims(int64_t a, int64_t b, int64_t c, int64_t d)
{
  if (a < 0 || b < 0 || c < 0 || d < 0 || a > BLASMAX || b > BLASMAX || c > BLASMAX || d > BLASMAX)
    return cj_fail(CJ_ERANGE, "matrix too large for BLAS");
  return CJ_OK;
}

#define tr(t) ((t) ? CblasTrans : CblasNoTrans)

int cj_dgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
             const double *a, int64_t lda, const double *b, int64_t ldb,
             double beta, double *c, int64_t ldc)
{
  int st;
  if ((st = needblas()) || (st = blasdims(m, n, k, lda > ldb ? (lda > ldc ? lda : ldc) : (ldb > ldc ? ldb : ldc))))
    return st;
  if (m == 0 || n == 0) return CJ_OK;
  if (k == 0) {                               /* BLAS may skip beta*C when k == 0 */
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
    return CJ_OK;
  }
  p_dgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)m, (blasint)n, (blasint)k, alpha,
          a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
  return CJ_OK;
}

int cj_dgemv(int ta, int64_t m, int64_t n, double alpha, const double *a, int64_t lda,
             const double *x, int64_t incx, double beta, double *y, int64_t incy)
{
  int st;
  if ((st = needblas()) || (st = blasdims(m, n, lda, incx > incy ? incx : incy))) return st;
  if (m == 0 || n == 0) {
    int64_t len = ta ? n : m;
    for (int64_t i = 0; i < len; i++) y[i * incy] = beta == 0 ? 0 : beta * y[i * incy];
    return CJ_OK;
  }
  p_dgemv(CblasRowMajor, tr(ta), (blasint)m, (blasint)n, alpha, a, (blasint)lda,
          x, (blasint)incx, beta, y, (blasint)incy);
  return CJ_OK;
}

int cj_dger(int64_t m, int64_t n, double alpha, const double *x, int64_t incx,
            const double *y, int64_t incy, double *a, int64_t lda)
{
  int st;
  if ((st = needblas()) || (st = blasdims(m, n, lda, incx > incy ? incx : incy))) return st;
  if (m == 0 || n == 0) return CJ_OK;
  p_dger(CblasRowMajor, (blasint)m, (blasint)n, alpha, x, (blasint)incx, y, (blasint)incy,
         a, (blasint)lda);
  return CJ_OK;
}

int cj_dsyrk(int ta, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
             double beta, double *c, int64_t ldc)
{
  int st;
  if ((st = needblas()) || (st = blasdims(n, k, lda, ldc))) return st;
  if (n == 0) return CJ_OK;
  if (k == 0) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
    return CJ_OK;
  }
  p_dsyrk(CblasRowMajor, CblasUpper, tr(ta), (blasint)n, (blasint)k, alpha, a, (blasint)lda,
          beta, c, (blasint)ldc);
  for (int64_t i = 1; i < n; i++)               /* mirror: callers get the full matrix */
    for (int64_t j = 0; j < i; j++) c[i * ldc + j] = c[j * ldc + i];
  return CJ_OK;
}

/* ---- symmetric eigenproblem: LAPACK dsyevd (see array.h) ------------------ */

typedef void (*dsyevd_fn)(const char *jobz, const char *uplo, const blasint *n, double *a,
                          const blasint *lda, double *w, double *work, const blasint *lwork,
                          blasint *iwork, const blasint *liwork, blasint *info,
                          size_t ljobz, size_t luplo);
static dsyevd_fn p_dsyevd;
static pthread_once_t lapackonce = PTHREAD_ONCE_INIT;

/* dsyevd_ from the BLAS library (OpenBLAS carries LAPACK), else from liblapack. */
static void openlapack(void)
{
  void *h;
  if (blashandle && (*(void **)&p_dsyevd = dlsym(blashandle, "dsyevd_"))) return;
  if ((h = dlopen("liblapack.so.3", RTLD_NOW | RTLD_LOCAL)) &&
      !(*(void **)&p_dsyevd = dlsym(h, "dsyevd_")))
    dlclose(h);
}

int cj_dsyevd(int64_t n, double *a, double *w, int vectors)
{
  char jobz = vectors ? 'V' : 'N', uplo = 'U';
  blasint bn, lwork = -1, liwork = -1, iw = 0, info = 0;
  double wq = 0, *work;
  blasint *iwork;
  int st;
  if ((st = needblas()) || (st = blasdims(n, n, 0, 0))) return st;
  pthread_once(&lapackonce, openlapack);
  if (!p_dsyevd)
    return cj_fail(CJ_ERUNTIME, "eigenvalues need LAPACK (Debian package libopenblas0 or liblapack3)");
  if (n == 0) return CJ_OK;
  bn = (blasint)n;
  p_dsyevd(&jobz, &uplo, &bn, a, &bn, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
  if (info) return cj_fail(CJ_ERUNTIME, "dsyevd: workspace query failed (info %d)", (int)info);
  lwork = (blasint)wq;
  liwork = iw;
  work = cj_malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
  iwork = cj_malloc((size_t)(liwork > 1 ? liwork : 1) * sizeof *iwork);
  if (!work || !iwork) {
    cj_free(work);
    cj_free(iwork);
    return cj_fail(CJ_ENOMEM, "out of memory");
  }
  p_dsyevd(&jobz, &uplo, &bn, a, &bn, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  cj_free(work);
  cj_free(iwork);
  if (info) return cj_fail(CJ_ERUNTIME, "dsyevd: %s (info %d)",
                           info < 0 ? "bad argument" : "no convergence", (int)info);
  return CJ_OK;
}
