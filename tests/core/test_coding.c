/*
 * test_coding.c — vm/core/coding.c against direct computations: Cholesky
 * and Jacobi on known matrices, the Kolmogorov p-value at tabulated
 * points, Welch's estimate against a direct DFT, correlogram and
 * time-rescaling values of small hand-made trains, the STA sums, the
 * decoding likelihood, posterior and parabolic peak, the GLM's Newton fit
 * reaching the stationary point of its log-likelihood, and linear
 * reconstruction of a stimulus that is an exact filter of the spikes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"

static uint64_t xs = 0x9E3779B97F4A7C15ULL;
static double unif(void)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return ((xs >> 11) + 0.5) * 0x1.0p-53;
}

Test(coding, cholesky_solves_a_known_system)
{
  double a[9] = { 4, 2, 0.4, 2, 5, 1, 0.4, 1, 3 }, b[3] = { 1, 2, 3 }, a0[9], x[3];
  memcpy(a0, a, sizeof a);
  memcpy(x, b, sizeof b);
  cr_assert_eq(cj_coding_cholsolve(a, 3, x), CJ_OK);
  for (int i = 0; i < 3; i++) {
    double r = 0;
    for (int j = 0; j < 3; j++) r += a0[i * 3 + j] * x[j];
    cr_assert_float_eq(r, b[i], 1e-14);
  }
  double neg[4] = { 1, 2, 2, 1 }, y[2] = { 1, 1 };
  cr_assert_eq(cj_coding_cholsolve(neg, 2, y), CJ_ERUNTIME);
}

Test(coding, jacobi_eigendecomposition_reconstructs_the_matrix)
{
  enum { n = 6 };
  double a[n * n], a0[n * n], ev[n], V[n * n];
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = unif() - 0.5;
  memcpy(a0, a, sizeof a);
  cr_assert_eq(cj_coding_eigsym(a, n, ev, V), CJ_OK);
  for (int i = 1; i < n; i++) cr_assert(ev[i] <= ev[i - 1], "descending");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double r = 0;
      for (int k = 0; k < n; k++) r += V[i * n + k] * ev[k] * V[j * n + k];
      cr_assert_float_eq(r, a0[i * n + j], 1e-12, "A = V diag V^T at %d %d", i, j);
    }
}

Test(coding, kolmogorov_pvalues_at_tabulated_points)
{
  /* large n: Q(lambda) with lambda = sqrt(n) d; Q(1.358) = 0.05, Q(1.628) = 0.01 */
  cr_assert(fabs(cj_coding_kspvalue(1.358 / sqrt(1e6), 1000000) - 0.05) < 1e-3);
  cr_assert(fabs(cj_coding_kspvalue(1.628 / sqrt(1e6), 1000000) - 0.01) < 5e-4);
  cr_assert(fabs(cj_coding_kspvalue(0.5 / sqrt(1e6), 1000000) - 0.9639) < 1e-3);
  cr_assert_eq(cj_coding_kspvalue(0, 10), 1);
}

Test(coding, welch_matches_a_direct_dft)
{
  enum { n = 300, nseg = 64, nover = 32 };
  double x[n], psd[nseg / 2 + 1], ref[nseg / 2 + 1] = { 0 }, w[nseg], ws = 0;
  int nsegs = 0;
  for (int i = 0; i < n; i++) x[i] = unif() - 0.3;
  cr_assert_eq(cj_coding_welch(x, n, 250, nseg, nover, psd), CJ_OK);
  for (int k = 0; k < nseg; k++) { w[k] = 0.5 - 0.5 * cos(2 * M_PI * k / nseg); ws += w[k] * w[k]; }
  for (int s = 0; s + nseg <= n; s += nseg - nover, nsegs++) {
    double m = 0;
    for (int k = 0; k < nseg; k++) m += x[s + k] / nseg;
    for (int f = 0; f <= nseg / 2; f++) {
      double re = 0, im = 0;
      for (int k = 0; k < nseg; k++) {
        re += (x[s + k] - m) * w[k] * cos(2 * M_PI * f * k / nseg);
        im -= (x[s + k] - m) * w[k] * sin(2 * M_PI * f * k / nseg);
      }
      ref[f] += re * re + im * im;
    }
  }
  for (int f = 0; f <= nseg / 2; f++) {
    double r = ref[f] / nsegs / (250 * ws) * (f > 0 && f < nseg / 2 ? 2 : 1);
    cr_assert(fabs(psd[f] - r) < 1e-12 * (1 + r), "f=%d: %g vs %g", f, psd[f], r);
  }
}

Test(coding, correlogram_and_rescaling_of_small_trains)
{
  double t[5] = { 0.1, 0.25, 0.3, 0.2, 0.7 }, c[4], z[5], ks, p;
  int64_t off[3] = { 0, 3, 5 }, nz;
  cj_trains s = { 2, off, t, 0, 1 };
  /* train 1 vs train 2: lags 0.1, -0.05, -0.1, 0.6, 0.45, 0.4 within +-0.2: 0.1, -0.05, -0.1 */
  cj_trains a = { 1, off, t, 0, 1 }, b = { 1, off + 1, t, 0, 1 };
  cr_assert_eq(cj_coding_correlogram(&a, &b, 0.1, 0.2, 0, c, 4), CJ_OK);
  cr_assert(c[0] == 0 && c[1] == 2 && c[2] == 0 && c[3] == 1, "%g %g %g %g", c[0], c[1], c[2], c[3]);
  /* a constant rate of 2 Hz: tau = 2 x intervals (from t0 = 0) */
  double lam = 2;
  cr_assert_eq(cj_coding_rescale(&s, &lam, 1, 1, 1.0, NULL, z, &nz, &ks, &p), CJ_OK);
  cr_assert_eq(nz, 5);
  {
    double ref[5] = { 1 - exp(-0.2), 1 - exp(-0.3), 1 - exp(-0.1), 1 - exp(-0.4), 1 - exp(-1.0) };
    for (int i = 0; i < 5; i++) {
      int found = 0;
      for (int j = 0; j < 5; j++) if (fabs(z[i] - ref[j]) < 1e-14) found = 1;
      cr_assert(found, "z[%d] = %g", i, z[i]);
    }
  }
  for (int i = 1; i < 5; i++) cr_assert(z[i] >= z[i - 1]);
}

Test(coding, sta_sums_and_projection)
{
  double s[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };   /* T = 6, D = 2 */
  double y[6] = { 0, 1, 0, 2, 0, 1 }, sta[4], nsp, k[4] = { 1, 0, 0, -1 }, x[6];
  cr_assert_eq(cj_coding_sta(s, 6, 2, y, 2, sta, &nsp), CJ_OK);
  /* spikes at t = 1 (1), 3 (2), 5 (1): lag 0 rows 1, 3, 3, 5; lag 1 rows 0, 2, 2, 4 */
  cr_assert_eq(nsp, 4);
  cr_assert_float_eq(sta[0], (3 + 7 + 7 + 11) / 4.0, 1e-15);
  cr_assert_float_eq(sta[3], (2 + 6 + 6 + 10) / 4.0, 1e-15);
  cr_assert_eq(cj_coding_project(s, 6, 2, k, 2, x), CJ_OK);
  cr_assert(isnan(x[0]));
  cr_assert_float_eq(x[2], 5 - 4, 1e-15);
}

Test(coding, decoding_likelihood_posterior_and_peak)
{
  double n[2] = { 2, 0 }, f[4] = { 10, 1, 1, 10 }, ll[2], post[2];
  cr_assert_eq(cj_decode_loglik(n, 1, 2, f, 2, 0.1, ll), CJ_OK);
  cr_assert_float_eq(ll[0], 2 * log(1.0) - 1 - log(2.0) - 0.1, 1e-15);
  cr_assert_float_eq(ll[1], 2 * log(0.1) - 0.1 - log(2.0) - 1, 1e-15);
  cr_assert_eq(cj_decode_posterior(ll, 1, 2, NULL, post), CJ_OK);
  cr_assert_float_eq(post[0] + post[1], 1, 1e-15);
  cr_assert_float_eq(post[0] / post[1], exp(ll[0] - ll[1]), 1e-12);
  double v[5] = { 0, 3, 4, 3.5, 0 };
  /* parabola through (1,3), (2,4), (3,3.5): vertex at 2 + 0.5 (3 - 3.5) / (3 - 8 + 3.5) */
  cr_assert_float_eq(cj_decode_argmax(v, 5, 1), 2 + 0.5 * (3 - 3.5) / (3 - 8 + 3.5), 1e-15);
  cr_assert_eq(cj_decode_argmax(v, 5, 0), 2);
}

Test(coding, glm_fit_is_a_stationary_point)
{
  enum { T = 20000, L = 3 };
  double *s = malloc(sizeof(double) * T), *y = malloc(sizeof(double) * T), dt = 0.001;
  double bias, k[L], h[2], ll;
  int it, conv;
  cj_glm_spec g = { T, 1, 1, dt, L, L, NULL, 2, 2, NULL, 0, 0.0, 50, 1e-12 };
  cj_glm_fit out = { &bias, k, h, &ll, &it, &conv };
  for (int t = 0; t < T; t++) s[t] = unif() - 0.5;
  for (int t = 0; t < T; t++) {
    double e = log(40) + 1.5 * s[t] - 0.8 * (t > 0 ? s[t - 1] : 0) - 2 * (t > 0 ? y[t - 1] : 0);
    y[t] = unif() < exp(e) * dt;
  }
  cr_assert_eq(cj_glm_fit_model(&g, s, y, &out), CJ_OK, "%s", cj_errmsg());
  cr_assert(conv, "converged in %d steps", it);
  /* the gradient at the fit vanishes: d/dbias = sum (y - lambda dt) = 0 */
  {
    double lam[T], gsum = 0, gk = 0;
    double hh[2] = { h[0], h[1] };
    cr_assert_eq(cj_glm_intensity(T, 1, 1, dt, s, y, &bias, k, L, hh, 2, lam), CJ_OK);
    for (int t = 0; t < T; t++) {
      gsum += y[t] - lam[t] * dt;
      gk += (y[t] - lam[t] * dt) * s[t];
    }
    cr_assert(fabs(gsum) < 1e-6 && fabs(gk) < 1e-6, "gradient %g %g", gsum, gk);
  }
  cr_assert(fabs(k[0] - 1.5) < 0.5 && fabs(k[1] + 0.8) < 0.5, "k %g %g", k[0], k[1]);
  free(s);
  free(y);
}

Test(coding, linear_reconstruction_of_an_exact_filter)
{
  enum { T = 500, N = 2 };
  double y[N * T], s[T], K[N * 3], c, est[T], Kt[N * 3] = { 0.5, 1, -0.25, 0, 2, 0.75 };
  for (int i = 0; i < N * T; i++) y[i] = unif() < 0.2;
  cr_assert_eq(cj_decode_apply(y, N, T, Kt, 1, 1, 0.3, s), CJ_OK);
  cr_assert_eq(cj_decode_linear(y, N, T, s, 1, 1, 0, K, &c, est), CJ_OK, "%s", cj_errmsg());
  cr_assert_float_eq(c, 0.3, 1e-10);
  for (int i = 0; i < N * 3; i++) cr_assert_float_eq(K[i], Kt[i], 1e-10);
  for (int t = 0; t < T; t++) cr_assert_float_eq(est[t], s[t], 1e-10);
}
