/*
 * fft.c — FFTW behind cj_fft_* (see fft.h): a small cache of plans made
 * with FFTW_ESTIMATE | FFTW_UNALIGNED, executed on the caller's arrays with
 * FFTW's new-array interface.
 *
 * FFTW's planner is not thread-safe, so plan creation (and the cache) is
 * under one mutex; fftw_execute_dft and friends are thread-safe on distinct
 * arrays. The first CACHE plans live until the process ends; past that, a
 * plan is made and destroyed per call.
 */
#include "fft.h"

#include <fftw3.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

enum { C2C_FWD, C2C_INV, R2C, C2R };
#define CACHE 32

typedef struct { int kind; int64_t n, howmany; fftw_plan p; } entry;
static entry cache[CACHE];
static int ncache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A new plan for (kind, n, howmany) in *pp, planned on scratch arrays of
 * the right size (FFTW_ESTIMATE does not touch them). Under the lock. */
static int makeplan(int kind, int n, int howmany, fftw_plan *pp)
{
  size_t cplx = kind == C2C_FWD || kind == C2C_INV ? (size_t)n : (size_t)n / 2 + 1;
  size_t nin = kind == R2C ? (size_t)n : 2 * cplx, nout = kind == C2R ? (size_t)n : 2 * cplx;
  double *in = fftw_malloc(sizeof(double) * nin * (size_t)howmany);
  double *out = fftw_malloc(sizeof(double) * nout * (size_t)howmany);
  unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED | (kind == C2R ? FFTW_PRESERVE_INPUT : 0);
  fftw_plan p = NULL;
  if (in && out) {
    int len = n, ic = (int)cplx;
    switch (kind) {
    case C2C_FWD: case C2C_INV:
      p = fftw_plan_many_dft(1, &len, howmany, (fftw_complex *)in, NULL, 1, n,
                             (fftw_complex *)out, NULL, 1, n,
                             kind == C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD, flags);
      break;
    case R2C:
      p = fftw_plan_many_dft_r2c(1, &len, howmany, in, NULL, 1, n,
                                 (fftw_complex *)out, NULL, 1, ic, flags);
      break;
    default:
      p = fftw_plan_many_dft_c2r(1, &len, howmany, (fftw_complex *)in, NULL, 1, ic,
                                 out, NULL, 1, n, flags);
    }
  }
  fftw_free(in);
  fftw_free(out);
  *pp = p;
  if (!in || !out) {
    if (p) fftw_destroy_plan(p);
    *pp = NULL;
    return cj_fail(CJ_ENOMEM, "fft: out of memory for %d x %d", howmany, n);
  }
  if (!p) return cj_fail(CJ_ERUNTIME, "fft: FFTW made no plan for %d x %d", howmany, n);
  return CJ_OK;
}

/* The plan for (kind, n, howmany) in *p: cached, or (when the cache is
 * full) made for this call only, in which case *owned is set and the caller
 * releases it with dropplan. Plans in the cache are never destroyed, since
 * another thread may be executing one. */
static int getplan(int kind, int64_t n, int64_t howmany, fftw_plan *p, int *owned)
{
  int st = CJ_OK;
  *p = NULL;
  *owned = 0;
  if (n < 1)
    return cj_fail(CJ_EINVAL, "fft: length must be positive (got %lld)", (long long)n);
  if (howmany < 0)
    return cj_fail(CJ_EINVAL, "fft: number of rows must be non-negative (got %lld)", (long long)howmany);
  if (n > INT_MAX / 2 || howmany > INT_MAX || n * howmany > (int64_t)1 << 40)
    return cj_fail(CJ_ERANGE, "fft: %lld x %lld is too large", (long long)howmany, (long long)n);
  pthread_mutex_lock(&lock);
  for (int i = 0; i < ncache && !*p; i++)
    if (cache[i].kind == kind && cache[i].n == n && cache[i].howmany == howmany) *p = cache[i].p;
  if (!*p && !(st = makeplan(kind, (int)n, (int)howmany, p))) {
    if (ncache < CACHE) cache[ncache++] = (entry){ kind, n, howmany, *p };
    else *owned = 1;
  }
  pthread_mutex_unlock(&lock);
  return st;
}

static void dropplan(fftw_plan p)
{
  pthread_mutex_lock(&lock);
  fftw_destroy_plan(p);
  pthread_mutex_unlock(&lock);
}

/* in and out overlap: the caller's input is copied first. */
static int overlaps(const double *a, size_t na, const double *b, size_t nb)
{
  return a < b + nb && b < a + na;
}

static int run(int kind, int64_t n, int64_t howmany, const double *in, double *out)
{
  size_t cplx = kind == C2C_FWD || kind == C2C_INV ? (size_t)n : (size_t)n / 2 + 1;
  size_t nin = (kind == R2C ? (size_t)n : 2 * cplx) * (size_t)howmany;
  size_t nout = (kind == C2R ? (size_t)n : 2 * cplx) * (size_t)howmany;
  double *tmp = NULL;
  fftw_plan p;
  int owned, st;
  if (howmany == 0 && n >= 1) return CJ_OK;
  if ((st = getplan(kind, n, howmany, &p, &owned))) return st;
  if (overlaps(in, nin, out, nout)) {
    if (!(tmp = cj_malloc(sizeof(double) * nin))) {
      if (owned) dropplan(p);
      return cj_fail(CJ_ENOMEM, "fft: out of memory");
    }
    memcpy(tmp, in, sizeof(double) * nin);
    in = tmp;
  }
  switch (kind) {
  case C2C_FWD: case C2C_INV:
    fftw_execute_dft(p, (fftw_complex *)in, (fftw_complex *)out);
    break;
  case R2C:
    fftw_execute_dft_r2c(p, (double *)in, (fftw_complex *)out);
    break;
  default:
    fftw_execute_dft_c2r(p, (fftw_complex *)in, out);
  }
  cj_free(tmp);
  if (owned) dropplan(p);
  if (kind == C2C_INV || kind == C2R) {
    double s = 1.0 / (double)n;
    for (size_t i = 0; i < nout; i++) out[i] *= s;
  }
  return CJ_OK;
}

int cj_fft_c2c(int64_t n, int64_t howmany, const double *in, double *out, int inverse)
{
  return run(inverse ? C2C_INV : C2C_FWD, n, howmany, in, out);
}

int cj_fft_r2c(int64_t n, int64_t howmany, const double *in, double *out)
{
  return run(R2C, n, howmany, in, out);
}

int cj_fft_c2r(int64_t n, int64_t howmany, const double *in, double *out)
{
  return run(C2R, n, howmany, in, out);
}

/* conj != 0: correlation (multiply by the conjugate of A). */
static int convolve(int64_t n, int64_t howmany, const double *a, const double *b,
                    double *out, int conj)
{
  int64_t c = n / 2 + 1;
  double *fa, *fb;
  int st;
  if (n < 1) return cj_fail(CJ_EINVAL, "fft: length must be positive (got %lld)", (long long)n);
  if (howmany < 0)
    return cj_fail(CJ_EINVAL, "fft: number of rows must be non-negative (got %lld)", (long long)howmany);
  fa = cj_malloc(sizeof(double) * 2 * (size_t)(c * howmany + 1));
  fb = cj_malloc(sizeof(double) * 2 * (size_t)(c * howmany + 1));
  if (!fa || !fb) {
    cj_free(fa);
    cj_free(fb);
    return cj_fail(CJ_ENOMEM, "fft: out of memory for %lld x %lld", (long long)howmany, (long long)n);
  }
  if (!(st = cj_fft_r2c(n, howmany, a, fa)) && !(st = cj_fft_r2c(n, howmany, b, fb))) {
    for (int64_t k = 0; k < c * howmany; k++) {
      double ar = fa[2 * k], ai = conj ? -fa[2 * k + 1] : fa[2 * k + 1];
      double br = fb[2 * k], bi = fb[2 * k + 1];
      fa[2 * k] = ar * br - ai * bi;
      fa[2 * k + 1] = ar * bi + ai * br;
    }
    st = cj_fft_c2r(n, howmany, fa, out);
  }
  cj_free(fa);
  cj_free(fb);
  return st;
}

int cj_fft_cconv(int64_t n, int64_t howmany, const double *a, const double *b, double *out)
{
  return convolve(n, howmany, a, b, out, 0);
}

int cj_fft_ccorr(int64_t n, int64_t howmany, const double *a, const double *b, double *out)
{
  return convolve(n, howmany, a, b, out, 1);
}
