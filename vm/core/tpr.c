/*
 * tpr.c — tensor product representations (see tpr.h). Binding and
 * unbinding are one BLAS product per structure; the dual roles solve the
 * n x n Gram system by Cholesky (n, the number of roles, is small next to
 * the dimensions).
 */
#include "tpr.h"

#include "array.h"

#include <math.h>
#include <string.h>

static int checksizes(int64_t B, int64_t n, int64_t dr, int64_t df, const char *fn)
{
  if (B < 0 || n < 1 || dr < 1 || df < 1)
    return cj_fail(CJ_EINVAL, "%s: sizes must be positive (structures %lld, roles %lld, role dim %lld, filler dim %lld)",
                   fn, (long long)B, (long long)n, (long long)dr, (long long)df);
  return CJ_OK;
}

int cj_tpr_bind(double *T, const double *R, const double *F, int64_t B, int64_t n, int64_t dr, int64_t df)
{
  int st = checksizes(B, n, dr, df, "bind");
  for (int64_t b = 0; b < B && !st; b++)
    st = cj_dgemm(1, 0, df, dr, n, 1.0, F + b * n * df, df, R, dr, 0.0, T + b * df * dr, dr);
  return st;
}

int cj_tpr_unbind(double *F, const double *T, const double *U, int64_t B, int64_t n, int64_t dr, int64_t df)
{
  int st = checksizes(B, n, dr, df, "unbind");
  for (int64_t b = 0; b < B && !st; b++)
    st = cj_dgemm(0, 1, n, df, dr, 1.0, U, dr, T + b * df * dr, dr, 0.0, F + b * n * df, df);
  return st;
}

/* In-place Cholesky G = L L^T (lower triangle), refusing pivots below tol. */
static int cholesky(double *G, int64_t n, double tol)
{
  for (int64_t j = 0; j < n; j++) {
    double d = G[j * n + j];
    for (int64_t k = 0; k < j; k++) d -= G[j * n + k] * G[j * n + k];
    if (!(d > tol)) return -1;
    d = sqrt(d);
    G[j * n + j] = d;
    for (int64_t i = j + 1; i < n; i++) {
      double s = G[i * n + j];
      for (int64_t k = 0; k < j; k++) s -= G[i * n + k] * G[j * n + k];
      G[i * n + j] = s / d;
    }
  }
  return 0;
}

/* Solve L L^T X = X in place for the m columns of X (n x m). */
static void cholsolve(const double *L, int64_t n, double *X, int64_t m)
{
  for (int64_t c = 0; c < m; c++) {
    for (int64_t i = 0; i < n; i++) {         /* L y = x */
      double s = X[i * m + c];
      for (int64_t k = 0; k < i; k++) s -= L[i * n + k] * X[k * m + c];
      X[i * m + c] = s / L[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; i--) {    /* L^T z = y */
      double s = X[i * m + c];
      for (int64_t k = i + 1; k < n; k++) s -= L[k * n + i] * X[k * m + c];
      X[i * m + c] = s / L[i * n + i];
    }
  }
}

int cj_tpr_dual(double *U, const double *R, int64_t n, int64_t dr)
{
  double *G, big = 0;
  int st = checksizes(0, n, dr, 1, "dual");
  if (st) return st;
  if (n > dr)
    return cj_fail(CJ_EINVAL, "dual: %lld roles of dimension %lld are linearly dependent", (long long)n, (long long)dr);
  if (!(G = cj_malloc(sizeof(double) * (size_t)(n * n)))) return cj_fail(CJ_ENOMEM, "dual: out of memory");
  if ((st = cj_dsyrk(0, n, dr, 1.0, R, dr, 0.0, G, n))) {
    cj_free(G);
    return st;
  }
  for (int64_t i = 0; i < n; i++) big = G[i * n + i] > big ? G[i * n + i] : big;
  if (cholesky(G, n, 1e-12 * big) < 0) {
    cj_free(G);
    return cj_fail(CJ_EINVAL, "dual: the roles are linearly dependent (or nearly: singular Gram matrix)");
  }
  memcpy(U, R, sizeof(double) * (size_t)(n * dr));
  cholsolve(G, n, U, dr);
  cj_free(G);
  return CJ_OK;
}
