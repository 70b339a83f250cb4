/*
 * test_tpr.c — tensor product representations (vm/core/tpr.c): binding
 * against the sum of outer products written as loops, dual roles against
 * their defining property U R^T = I, exact recovery of fillers with
 * linearly independent roles, and refusal of dependent ones.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpr.h"

static double *randv(int64_t n, unsigned s)
{
  double *x = malloc(sizeof(double) * (size_t)n);
  for (int64_t k = 0; k < n; k++) {
    s = s * 1103515245u + 12345u;
    x[k] = (s >> 8) / 16777216.0 - 0.5;
  }
  return x;
}

Test(tpr, binding_is_the_sum_of_outer_products)
{
  int64_t B = 2, n = 3, dr = 4, df = 5;
  double *R = randv(n * dr, 1), *F = randv(B * n * df, 2), *T = malloc(sizeof(double) * B * df * dr);
  cr_assert_eq(cj_tpr_bind(T, R, F, B, n, dr, df), CJ_OK, "%s", cj_errmsg());
  for (int64_t b = 0; b < B; b++)
    for (int64_t p = 0; p < df; p++)
      for (int64_t q = 0; q < dr; q++) {
        double s = 0;
        for (int64_t k = 0; k < n; k++) s += F[(b * n + k) * df + p] * R[k * dr + q];
        cr_assert(fabs(T[(b * df + p) * dr + q] - s) < 1e-15);
      }
  free(R); free(F); free(T);
}

Test(tpr, dual_roles_invert_the_roles_and_recover_fillers_exactly)
{
  int64_t B = 3, n = 6, dr = 8, df = 7;
  double *R = randv(n * dr, 3), *F = randv(B * n * df, 4), *U = malloc(sizeof(double) * n * dr);
  double *T = malloc(sizeof(double) * B * df * dr), *G = malloc(sizeof(double) * B * n * df);
  cr_assert_eq(cj_tpr_dual(U, R, n, dr), CJ_OK, "%s", cj_errmsg());
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t q = 0; q < dr; q++) s += U[i * dr + q] * R[j * dr + q];
      cr_assert(fabs(s - (i == j)) < 1e-12, "U R^T [%lld,%lld] = %g", (long long)i, (long long)j, s);
    }
  cj_tpr_bind(T, R, F, B, n, dr, df);
  cr_assert_eq(cj_tpr_unbind(G, T, U, B, n, dr, df), CJ_OK);
  for (int64_t k = 0; k < B * n * df; k++) cr_assert(fabs(G[k] - F[k]) < 1e-12, "filler element %lld", (long long)k);
  free(R); free(F); free(U); free(T); free(G);
}

Test(tpr, orthonormal_roles_are_their_own_duals)
{
  int64_t n = 4, dr = 4;
  double R[16] = { 0 }, U[16];
  /* a rotation of the standard basis: rows (c, s, 0, 0), (-s, c, 0, 0), ... */
  double c = cos(0.3), s = sin(0.3);
  R[0] = c; R[1] = s; R[4] = -s; R[5] = c; R[10] = c; R[11] = -s; R[14] = s; R[15] = c;
  cr_assert_eq(cj_tpr_dual(U, R, n, dr), CJ_OK);
  for (int k = 0; k < 16; k++) cr_assert(fabs(U[k] - R[k]) < 1e-15);
}

Test(tpr, dependent_roles_are_refused)
{
  double R[12] = { 1, 2, 3, 2, 4, 6, 0, 1, 0, 1, 1, 1 }, U[12];
  cr_assert_eq(cj_tpr_dual(U, R, 2, 3), CJ_EINVAL, "row 2 = 2 x row 1");
  cr_assert(strstr(cj_errmsg(), "linearly dependent"), "%s", cj_errmsg());
  cr_assert_eq(cj_tpr_dual(U, R, 4, 3), CJ_EINVAL, "4 roles in 3 dimensions");
  cr_assert_eq(cj_tpr_bind(U, R, R, 1, 0, 3, 3), CJ_EINVAL);
}
