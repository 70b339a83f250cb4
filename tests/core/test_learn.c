/*
 * test_learn.c — vm/core/learn.c against independent re-computations: each
 * rule's update written out naively for a few samples (online and batched),
 * top-k and neighbours against sorting, sparse codes against the closed
 * form of an orthonormal dictionary, PCA and whitening against 2 x 2
 * closed forms and the covariance of the result, the image filter against
 * a single cosine, and the errors (divergence named by sample, bad options).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "fft.h"
#include "learn.h"

static double randu(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) / 16777216.0 - 0.5;
}

static double *randmat(int64_t n, unsigned seed)
{
  double *a = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) a[i] = randu(&seed);
  return a;
}

static cj_hebb_opts hopts(cj_rule rule, double eta, int64_t batch)
{
  cj_hebb_opts o;
  memset(&o, 0, sizeof o);
  o.rule = rule;
  o.loop.eta.kind = CJ_SCHED_CONST;
  o.loop.eta.start = o.loop.eta.end = eta;
  o.loop.epochs = 1;
  o.loop.batch = batch;
  o.loop.name = "test";
  o.alpha = 1;
  return o;
}

#define NEAR(a, b, tol, ...) cr_assert(fabs((a) - (b)) <= (tol), __VA_ARGS__)

Test(learn, schedules_reach_their_ends)
{
  cj_sched e = { CJ_SCHED_EXP, 0.5, 0.005 }, l = { CJ_SCHED_LINEAR, 1, 3 }, v = { CJ_SCHED_INV, 1, 0.1 };
  NEAR(cj_sched_at(&e, 0, 11), 0.5, 1e-15, "exp start");
  NEAR(cj_sched_at(&e, 10, 11), 0.005, 1e-15, "exp end");
  NEAR(cj_sched_at(&e, 5, 11), 0.05, 1e-14, "exp middle is the geometric mean");
  NEAR(cj_sched_at(&l, 5, 11), 2, 1e-15, "linear middle");
  NEAR(cj_sched_at(&v, 10, 11), 0.1, 1e-15, "1/t end");
  NEAR(cj_sched_at(&v, 5, 11), 1 / 5.5, 1e-15, "1/t middle: 1/(1 + 0.5 * 9)");
}

/* Naive per-sample updates of every Hebbian rule (k units, W k x d). */
static void naive(cj_rule rule, const double *x, double *W, int64_t k, int64_t d, double eta,
                  double *theta, double tau)
{
  double y[8], dW[64];
  for (int64_t i = 0; i < k; i++) {
    y[i] = 0;
    for (int64_t j = 0; j < d; j++) y[i] += W[i * d + j] * x[j];
  }
  for (int64_t i = 0; i < k; i++)
    for (int64_t j = 0; j < d; j++) {
      double g = 0;
      if (rule == CJ_RULE_HEBB) g = y[i] * x[j];
      else if (rule == CJ_RULE_OJA) g = y[i] * x[j] - y[i] * y[i] * W[i * d + j];
      else if (rule == CJ_RULE_BCM) g = y[i] * (y[i] - theta[i]) * x[j];
      else {                                   /* Sanger: y x^T - LT(y y^T) W */
        g = y[i] * x[j];
        for (int64_t q = 0; q <= i; q++) g -= y[i] * y[q] * W[q * d + j];
      }
      dW[i * d + j] = eta * g;
    }
  for (int64_t q = 0; q < k * d; q++) W[q] += dW[q];
  if (rule == CJ_RULE_BCM)
    for (int64_t i = 0; i < k; i++) theta[i] += (y[i] * y[i] - theta[i]) / tau;
}

Test(learn, online_rules_match_their_formulas_sample_by_sample)
{
  const cj_rule rules[] = { CJ_RULE_HEBB, CJ_RULE_OJA, CJ_RULE_SANGER, CJ_RULE_BCM };
  int64_t n = 40, d = 5, k = 3;
  double *X = randmat(n * d, 3);
  for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
    double *W = randmat(k * d, 7), *R = randmat(k * d, 7), th[3] = { 0.1, 0.2, 0.3 }, th2[3] = { 0.1, 0.2, 0.3 };
    cj_hebb_opts o = hopts(rules[r], 0.05, 1);
    o.tau = 10;
    o.theta = th;
    cr_assert_eq(cj_learn_hebbian(X, n, d, W, k, &o), CJ_OK, "%s", cj_errmsg());
    for (int64_t s = 0; s < n; s++) naive(rules[r], X + s * d, R, k, d, 0.05, th2, 10);
    for (int64_t q = 0; q < k * d; q++)
      NEAR(W[q], R[q], 1e-12, "rule %d weight %lld: %.17g vs %.17g", (int)rules[r], (long long)q, W[q], R[q]);
    if (rules[r] == CJ_RULE_BCM)
      for (int i = 0; i < 3; i++) NEAR(th[i], th2[i], 1e-12, "theta %d", i);
    free(W);
    free(R);
  }
  free(X);
}

Test(learn, a_batch_applies_the_mean_of_its_updates_with_the_weights_at_its_start)
{
  const cj_rule rules[] = { CJ_RULE_HEBB, CJ_RULE_OJA, CJ_RULE_SANGER, CJ_RULE_COVARIANCE };
  int64_t n = 12, d = 4, k = 2;
  double *X = randmat(n * d, 5), mean[4] = { 0 };
  for (int64_t s = 0; s < n; s++)
    for (int64_t j = 0; j < d; j++) mean[j] += X[s * d + j] / (double)n;
  for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
    double *W = randmat(k * d, 9), *W0 = randmat(k * d, 9), acc[8] = { 0 };
    cj_hebb_opts o = hopts(rules[r], 0.3, n);      /* one batch of all samples */
    cr_assert_eq(cj_learn_hebbian(X, n, d, W, k, &o), CJ_OK, "%s", cj_errmsg());
    for (int64_t s = 0; s < n; s++) {            /* each sample's update from W0, summed */
      double x[4], Wt[8];
      memcpy(Wt, W0, sizeof Wt);
      for (int64_t j = 0; j < d; j++) x[j] = X[s * d + j] - (rules[r] == CJ_RULE_COVARIANCE ? mean[j] : 0);
      naive(rules[r] == CJ_RULE_COVARIANCE ? CJ_RULE_HEBB : rules[r], x, Wt, k, d, 0.3, NULL, 1);
      for (int q = 0; q < 8; q++) acc[q] += Wt[q] - W0[q];
    }
    for (int q = 0; q < 8; q++)
      NEAR(W[q], W0[q] + acc[q] / (double)n, 1e-12, "rule %d weight %d", (int)rules[r], q);
    free(W);
    free(W0);
  }
  free(X);
}

Test(learn, covariance_rule_with_data_means_is_hebb_on_centred_data)
{
  int64_t n = 30, d = 3;
  double *X = randmat(n * d, 21), *Xc = malloc(sizeof(double) * 90), m[3] = { 0 };
  double *W = randmat(d, 4), *R = randmat(d, 4);
  cj_hebb_opts oc = hopts(CJ_RULE_COVARIANCE, 0.1, 1), oh = hopts(CJ_RULE_HEBB, 0.1, 1);
  for (int64_t s = 0; s < n; s++)
    for (int j = 0; j < 3; j++) { X[s * d + j] += j; m[j] += X[s * d + j] / (double)n; }
  for (int64_t s = 0; s < n; s++)
    for (int j = 0; j < 3; j++) Xc[s * d + j] = X[s * d + j] - m[j];
  cr_assert_eq(cj_learn_hebbian(X, n, d, W, 1, &oc), CJ_OK);
  cr_assert_eq(cj_learn_hebbian(Xc, n, d, R, 1, &oh), CJ_OK);
  for (int q = 0; q < 3; q++) NEAR(W[q], R[q], 1e-12, "weight %d", q);
  free(X); free(Xc); free(W); free(R);
}

Test(learn, diverging_weights_fail_naming_the_sample)
{
  int64_t n = 50, d = 4;
  double *X = randmat(n * d, 1), W[4] = { 1, 1, 1, 1 };
  cj_hebb_opts o = hopts(CJ_RULE_OJA, 1e6, 1);
  for (int64_t q = 0; q < n * d; q++) X[q] *= 100;
  cr_assert_eq(cj_learn_hebbian(X, n, d, W, 1, &o), CJ_ERUNTIME);
  cr_assert(strstr(cj_errmsg(), "stopped being finite at sample"), "%s", cj_errmsg());
  cr_assert(strstr(cj_errmsg(), "of epoch 1"), "%s", cj_errmsg());
  o.loop.batch = 5;
  W[0] = W[1] = W[2] = W[3] = 1;
  cr_assert_eq(cj_learn_hebbian(X, n, d, W, 1, &o), CJ_ERUNTIME, "batched too");
  o = hopts(CJ_RULE_OJA, 0.1, 1);
  o.loop.epochs = 0;
  cr_assert_eq(cj_learn_hebbian(X, n, d, W, 1, &o), CJ_EINVAL);
  free(X);
}

Test(learn, normalisation_keeps_the_norm_or_the_sum)
{
  double W[6] = { 3, 4, 0, 1, -2, 7 };
  cr_assert_eq(cj_learn_normalize(W, 2, 3, CJ_NORM_MULT, 2, 2), CJ_OK);
  NEAR(W[0], 1.2, 1e-15, "3 * 2 / 5");
  NEAR(W[1], 1.6, 1e-15, "4 * 2 / 5");
  NEAR(W[3] * W[3] + W[4] * W[4] + W[5] * W[5], 4, 1e-14, "row 2 has norm 2");
  cr_assert_eq(cj_learn_normalize(W, 2, 3, CJ_NORM_SUB, 1, 0), CJ_OK);
  NEAR(W[0] + W[1] + W[2], 1, 1e-15, "sum kept");
  NEAR(W[0] - W[1], 1.2 - 1.6, 1e-15, "differences unchanged by subtraction");
  cr_assert_eq(cj_learn_normalize(W, 2, 3, CJ_NORM_MULT, 1, 1), CJ_OK);
  NEAR(fabs(W[3]) + fabs(W[4]) + fabs(W[5]), 1, 1e-15, "L1 norm");
}

static int cmpdesc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

Test(learn, kwta_keeps_the_k_largest_and_breaks_ties_at_random)
{
  int64_t n = 20, m = 30, k = 7;
  double *A = randmat(n * m, 13), *Y = malloc(sizeof(double) * 600), duty[30], sorted[30];
  cj_rng r;
  for (int i = 0; i < m; i++) duty[i] = (double)k / m;
  cr_assert_eq(cj_learn_kwta(A, n, m, k, 0, 100, 0, duty, NULL, Y), CJ_OK);
  for (int64_t s = 0; s < n; s++) {
    int cnt = 0;
    memcpy(sorted, A + s * m, sizeof sorted);
    qsort(sorted, 30, sizeof *sorted, cmpdesc);
    for (int i = 0; i < m; i++) {
      double y = Y[s * m + i];
      if (y != 0) { cnt++; cr_assert(A[s * m + i] >= sorted[k - 1], "a winner is among the k largest"); }
    }
    cr_assert_eq(cnt, k);
  }
  /* all equal: each unit wins with probability k/m; counts over 3000 rows */
  {
    int64_t rows = 3000, wins[30] = { 0 };
    double *E = calloc(rows * m, sizeof(double)), *YE = malloc(sizeof(double) * rows * m);
    cj_rng_init(&r, 5, 0);
    for (int i = 0; i < m; i++) duty[i] = (double)k / m;
    cr_assert_eq(cj_learn_kwta(E, rows, m, k, 0, 100, 1, duty, &r, YE), CJ_OK);
    for (int64_t q = 0; q < rows * m; q++) wins[q % m] += YE[q] != 0;
    /* binomial(3000, 7/30): mean 700, sd 23.2; 5 sd */
    for (int i = 0; i < m; i++) cr_assert(labs(wins[i] - 700) < 116, "unit %d won %lld times", i, (long long)wins[i]);
    free(E); free(YE);
  }
  free(A); free(Y);
}

Test(learn, boosting_spreads_the_wins_over_all_units)
{
  int64_t rows = 4000, m = 10, k = 2, wins[10] = { 0 };
  double *A = malloc(sizeof(double) * rows * m), *Y = malloc(sizeof(double) * rows * m), duty[10];
  unsigned s = 4;
  for (int64_t q = 0; q < rows * m; q++) A[q] = 1 + 0.1 * (q % m) + 0.01 * randu(&s);  /* unit 9 always largest */
  for (int i = 0; i < m; i++) duty[i] = 0.2;
  cr_assert_eq(cj_learn_kwta(A, rows, m, k, 0, 100, 1, duty, NULL, Y), CJ_OK);
  cr_assert(duty[9] > 0.99 && duty[0] < 0.01, "without boosting units 8 and 9 always win");
  for (int i = 0; i < m; i++) duty[i] = 0.2;
  cr_assert_eq(cj_learn_kwta(A, rows, m, k, 20, 100, 1, duty, NULL, Y), CJ_OK);
  for (int64_t q = (rows / 2) * m; q < rows * m; q++) wins[q % m] += Y[q] != 0;
  for (int i = 0; i < m; i++)      /* the target duty 0.2 of 2000 rows: 400 each, within 25 % */
    cr_assert(wins[i] > 300 && wins[i] < 500, "unit %d won %lld of 2000", i, (long long)wins[i]);
  free(A); free(Y);
}

Test(learn, competitive_learning_moves_only_the_winner)
{
  double X[2] = { 1, 1 }, W[6] = { 0, 0, 2, 2, 0.9, 1.2 };
  cj_learn_loop o = { { CJ_SCHED_CONST, 0.25, 0.25 }, 1, 1, 0, NULL, "test" };
  cr_assert_eq(cj_learn_competitive(X, 1, 2, W, 3, &o), CJ_OK);
  NEAR(W[4], 0.9 + 0.25 * 0.1, 1e-15, "the nearest unit (3) moved");
  NEAR(W[5], 1.2 - 0.25 * 0.2, 1e-15, "the nearest unit (3) moved");
  cr_assert(W[0] == 0 && W[2] == 2, "the others did not");
}

Test(learn, som_moves_every_unit_by_its_neighbourhood)
{
  double X[1] = { 1 }, W[6] = { 0, 0.2, 0.6, 0.9, 0.3, 0 }, W0[6];
  cj_learn_loop o = { { CJ_SCHED_CONST, 0.5, 0.5 }, 1, 1, 0, NULL, "test" };
  cj_sched sg = { CJ_SCHED_CONST, 1.5, 1.5 };
  memcpy(W0, W, sizeof W);
  cr_assert_eq(cj_learn_som(X, 1, 1, W, 2, 3, &o, &sg), CJ_OK);   /* 2 x 3 grid; winner: unit 3 (0.9) */
  for (int u = 0; u < 6; u++) {
    double dr = u / 3 - 1, dc = u % 3 - 0, h = exp(-(dr * dr + dc * dc) / (2 * 1.5 * 1.5));
    NEAR(W[u], W0[u] + 0.5 * h * (1 - W0[u]), 1e-14, "unit %d", u);
  }
}

Test(learn, errors_of_a_map_on_a_hand_made_grid)
{
  /* a 1 x 3 chain with weights 0, 1, 2 (1-D inputs) */
  double W[3] = { 0, 1, 2 }, X[4] = { 0.1, 0.6, 1.9, 1.4 }, e;
  int64_t b[4], s2[4];
  cr_assert_eq(cj_learn_bmu(X, 4, 1, W, 3, b, s2, NULL), CJ_OK);
  cr_assert(b[0] == 0 && s2[0] == 1 && b[1] == 1 && s2[1] == 0 && b[2] == 2 && s2[3] == 2);
  cr_assert_eq(cj_learn_qerror(X, 4, 1, W, 3, &e), CJ_OK);
  NEAR(e, (0.1 + 0.4 + 0.1 + 0.4) / 4, 1e-15, "mean distance");
  cr_assert_eq(cj_learn_terror(X, 4, 1, W, 1, 3, &e), CJ_OK);
  NEAR(e, 0, 0, "all neighbours");
  W[1] = 5;                      /* now 0.6 has best 0 and second 2: not neighbours */
  cr_assert_eq(cj_learn_terror(X, 4, 1, W, 1, 3, &e), CJ_OK);
  NEAR(e, 1.0, 0, "every sample now has its two best units at 0 and 2");
}

Test(learn, sparse_codes_of_an_orthonormal_dictionary_are_soft_thresholds)
{
  int64_t n = 50, d = 6;
  double *X = randmat(n * d, 8), D[36] = { 0 }, *A = malloc(sizeof(double) * 300), lam = 0.1;
  cj_sc_opts o;
  for (int i = 0; i < 6; i++) D[i * 6 + (i + 2) % 6] = i % 2 ? -1 : 1;   /* a signed permutation */
  for (int method = 0; method < 4; method++)
    for (int nonneg = 0; nonneg < 2; nonneg++) {
      memset(&o, 0, sizeof o);
      o.method = (cj_sc_method)method;
      o.lambda = lam;
      o.iters = 2000;
      o.tol = 1e-13;
      o.nonneg = nonneg;
      cr_assert_eq(cj_learn_sparse_code(X, n, d, D, d, A, &o), CJ_OK, "%s", cj_errmsg());
      NEAR(o.L, 1, 1e-12, "L of an orthonormal dictionary");
      for (int64_t s = 0; s < n; s++)
        for (int j = 0; j < 6; j++) {
          double b = 0, want;
          for (int i = 0; i < 6; i++) b += D[i * 6 + j] * X[s * d + i];   /* D^T x */
          want = b > lam ? b - lam : (!nonneg && b < -lam ? b + lam : 0);
          NEAR(A[s * d + j], want, 1e-9, "method %d nonneg %d: code %lld,%d", method, nonneg, (long long)s, j);
        }
    }
  free(X); free(A);
}

Test(learn, sparse_objective_is_the_direct_sum)
{
  double X[4] = { 1, 2, 3, 4 }, D[6] = { 1, 0, 0.5, 0, 1, 0.5 }, A[6] = { 1, 0, 1, 0, -1, 2 }, obj;
  /* x1 = (1,2), a1 = (1,0,1): Da = (1.5, 0.5), r = (-0.5, 1.5); x2 = (3,4), a2 = (0,-1,2): Da = (1, 0), r = (2, 4) */
  double want = ((0.5 * (0.25 + 2.25) + 0.2 * 2) + (0.5 * (4 + 16) + 0.2 * 3)) / 2;
  cr_assert_eq(cj_learn_sc_objective(X, 2, 2, D, 3, A, 0.2, &obj), CJ_OK);
  NEAR(obj, want, 1e-14, "%.17g vs %.17g", obj, want);
}

Test(learn, dsyevd_and_pca_match_the_2x2_closed_form)
{
  double a[4] = { 2, 1, 1, 3 }, w[2];
  double t = 2.5, r = sqrt(0.25 + 1);
  cr_assert_eq(cj_dsyevd(2, a, w, 1), CJ_OK, "%s", cj_errmsg());
  NEAR(w[0], t - r, 1e-14, "small eigenvalue");
  NEAR(w[1], t + r, 1e-14, "large eigenvalue");
  NEAR(2 * a[2] + 1 * a[3], w[1] * a[2], 1e-13, "row 1 is the eigenvector of w[1]");
  /* PCA of four points with covariance [[2, 1], [1, 3]] * 3 / 3 */
  {
    /* rows chosen with mean 0 and X^T X = 3 [[2, 1], [1, 3]] */
    double X[8], mean[2], V[4], var[2], L[4] = { sqrt(2.0), 0, 1 / sqrt(2.0), sqrt(2.5) };
    const double E[8] = { 1, 1, 1, -1, -1, 1, -1, -1 };   /* E^T E = 4 I, mean 0 */
    for (int s = 0; s < 4; s++)                            /* X = E L^T sqrt(3/4): cov = L L^T */
      for (int j = 0; j < 2; j++) X[s * 2 + j] = sqrt(0.75) * (E[s * 2] * L[j * 2] + E[s * 2 + 1] * L[j * 2 + 1]);
    cr_assert_eq(cj_learn_pca(X, 4, 2, 2, mean, V, var), CJ_OK, "%s", cj_errmsg());
    NEAR(var[0], t + r, 1e-13, "largest variance first");
    NEAR(var[1], t - r, 1e-13, "then the smaller");
    NEAR(2 * V[0] + 1 * V[1], var[0] * V[0], 1e-12, "V[0] is its eigenvector");
    cr_assert(fabs(V[0]) <= V[1] || V[0] > 0, "largest element positive");
  }
}

Test(learn, whitened_data_has_unit_covariance)
{
  int64_t n = 500, d = 3;
  double *X = randmat(n * d, 77), mean[3], W[9], Z[3], C[9] = { 0 };
  for (int64_t s = 0; s < n; s++) { X[s * d + 1] += 2 * X[s * d]; X[s * d + 2] = 0.1 * X[s * d + 2] - X[s * d]; }
  for (int zca = 0; zca < 2; zca++) {
    memset(C, 0, sizeof C);
    cr_assert_eq(cj_learn_whitening(X, n, d, d, zca, 0, mean, W), CJ_OK, "%s", cj_errmsg());
    for (int64_t s = 0; s < n; s++) {
      for (int i = 0; i < 3; i++) {
        Z[i] = 0;
        for (int j = 0; j < 3; j++) Z[i] += W[i * 3 + j] * (X[s * d + j] - mean[j]);
      }
      for (int i = 0; i < 9; i++) C[i] += Z[i / 3] * Z[i % 3] / (double)(n - 1);
    }
    for (int i = 0; i < 9; i++) NEAR(C[i], i % 4 == 0 ? 1 : 0, 1e-10, "zca %d: cov[%d] = %g", zca, i, C[i]);
    if (zca) for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++)
      NEAR(W[i * 3 + j], W[j * 3 + i], 1e-12, "ZCA's matrix is symmetric");
  }
  free(X);
}

Test(learn, image_filter_scales_each_frequency_by_r_of_f)
{
  int64_t h = 32, w = 64;
  double *img = malloc(sizeof(double) * h * w), *out = malloc(sizeof(double) * h * w), f0 = 0.3;
  /* two cosines: (kx, ky) = (4, 0) amplitude 1 and (0, 8) amplitude 1 */
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++)
      img[i * w + j] = cos(2 * M_PI * 4 * j / (double)w) + cos(2 * M_PI * 8 * i / (double)h);
  cr_assert_eq(cj_learn_whiten_image(img, h, w, f0, out), CJ_OK, "%s", cj_errmsg());
  {
    double f1 = 4.0 / w, f2 = 8.0 / h, r1 = f1 * exp(-pow(f1 / f0, 4)), r2 = f2 * exp(-pow(f2 / f0, 4));
    double a1 = 0, a2 = 0, var = (r1 * r1 + r2 * r2) / 2, s = 1 / sqrt(var);
    for (int64_t i = 0; i < h; i++)
      for (int64_t j = 0; j < w; j++) {
        a1 += out[i * w + j] * cos(2 * M_PI * 4 * j / (double)w) * 2 / (double)(h * w);
        a2 += out[i * w + j] * cos(2 * M_PI * 8 * i / (double)h) * 2 / (double)(h * w);
      }
    NEAR(a1, r1 * s, 1e-10, "amplitude at f = 1/16: %g vs %g", a1, r1 * s);
    NEAR(a2, r2 * s, 1e-10, "amplitude at f = 1/4: %g vs %g", a2, r2 * s);
  }
  free(img); free(out);
}

Test(learn, patches_on_a_grid_and_at_random)
{
  double img[2 * 4 * 5], P[2 * 2 * 4 * 6];
  cj_rng r, r2;
  for (int q = 0; q < 40; q++) img[q] = q;
  cr_assert_eq(cj_learn_npatches(2, 4, 5, 2, 3, 2), 2 * 2 * 2);
  cr_assert_eq(cj_learn_patches(img, 2, 4, 5, 2, 3, 2, 8, NULL, P), CJ_OK);
  /* patch 1: image 0, corner (0, 2): 2 3 4 / 7 8 9; patch 4: image 0 corner (2, 2) */
  cr_assert(P[6] == 2 && P[8] == 4 && P[9] == 7 && P[11] == 9);
  cr_assert(P[4 * 6] == 20, "patch 5 starts image 1");
  cj_rng_init(&r, 3, 0);
  cj_rng_init(&r2, 3, 0);
  cr_assert_eq(cj_learn_patches(img, 2, 4, 5, 2, 2, 1, 10, &r, P), CJ_OK);
  for (int q = 0; q < 10; q++) {
    int im = (int)cj_rng_below(&r2, 2), r0 = (int)cj_rng_below(&r2, 3), c0 = (int)cj_rng_below(&r2, 4);
    cr_assert(P[q * 4] == im * 20 + r0 * 5 + c0 && P[q * 4 + 3] == P[q * 4] + 6, "patch %d", q);
  }
  cr_assert_eq(cj_learn_patches(img, 1, 4, 5, 5, 1, 1, 1, NULL, P), CJ_EINVAL);
}

Test(learn, dead_leaves_cover_the_image_with_grey_levels)
{
  int64_t h = 40, w = 50;
  double *img = malloc(sizeof(double) * h * w), *img2 = malloc(sizeof(double) * h * w);
  cj_rng r;
  int distinct = 0;
  for (int64_t q = 0; q < h * w; q++) img[q] = -1;
  cj_rng_init(&r, 9, 0);
  cr_assert_eq(cj_learn_dead_leaves(h, w, 1, 10, &r, img), CJ_OK);
  cj_rng_init(&r, 9, 0);
  cr_assert_eq(cj_learn_dead_leaves(h, w, 1, 10, &r, img2), CJ_OK);
  for (int64_t q = 0; q < h * w; q++) {
    cr_assert(img[q] >= 0 && img[q] < 1, "pixel %lld covered", (long long)q);
    cr_assert(img[q] == img2[q], "same seed, same image");
    distinct += q > 0 && img[q] != img[q - 1];
  }
  cr_assert(distinct > 50 && distinct < h * w / 2, "piecewise constant: %d changes", distinct);
  cr_assert_eq(cj_learn_dead_leaves(h, w, 0.1, 10, &r, img), CJ_EINVAL);
  free(img); free(img2);
}

Test(learn, projections_have_their_law)
{
  int64_t d = 50, m = 400;
  double *P = malloc(sizeof(double) * d * m), s2 = 0;
  cj_rng r;
  cj_rng_init(&r, 1, 0);
  cr_assert_eq(cj_learn_projection(d, m, CJ_PROJ_BINARY, 6, &r, P), CJ_OK);
  for (int64_t i = 0; i < m; i++) {
    int ones = 0;
    for (int64_t j = 0; j < d; j++) { cr_assert(P[i * d + j] == 0 || P[i * d + j] == 1); ones += P[i * d + j] == 1; }
    cr_assert_eq(ones, 6, "row %lld", (long long)i);
  }
  cr_assert_eq(cj_learn_projection(d, m, CJ_PROJ_GAUSSIAN, 0, &r, P), CJ_OK);
  for (int64_t q = 0; q < d * m; q++) s2 += P[q] * P[q];
  /* mean of 20000 squares of N(0, 1/400): 1/400 with relative sd sqrt(2/20000) = 1 %; 5 sd */
  NEAR(s2 / (d * m) * m, 1, 0.05, "variance 1/m");
  cr_assert_eq(cj_learn_projection(d, m, CJ_PROJ_SPARSE, 0, &r, P), CJ_OK);
  s2 = 0;
  for (int64_t q = 0; q < d * m; q++) s2 += P[q] * P[q];
  NEAR(s2 / (d * m) * m, 1, 0.1, "sparse: also variance 1/m");
  cr_assert_eq(cj_learn_projection(d, m, CJ_PROJ_BINARY, 51, &r, P), CJ_EINVAL);
  free(P);
}

Test(learn, fly_hash_marks_the_k_largest_centred_projections)
{
  int64_t n = 10, d = 8, m = 40, k = 5;
  double *X = randmat(n * d, 2), *P = randmat(m * d, 6), y[40], sorted[40];
  uint8_t H[400];
  cr_assert_eq(cj_learn_fly_hash(X, n, d, P, m, k, 1, NULL, H), CJ_OK);
  for (int64_t s = 0; s < n; s++) {
    double mu = 0;
    int ones = 0;
    for (int j = 0; j < d; j++) mu += X[s * d + j] / d;
    for (int i = 0; i < m; i++) {
      y[i] = 0;
      for (int j = 0; j < d; j++) y[i] += P[i * d + j] * (X[s * d + j] - mu);
    }
    memcpy(sorted, y, sizeof y);
    qsort(sorted, 40, sizeof *sorted, cmpdesc);
    for (int i = 0; i < m; i++) {
      ones += H[s * m + i];
      cr_assert_eq(H[s * m + i], y[i] >= sorted[k - 1] - 1e-12 ? 1 : 0, "row %lld output %d", (long long)s, i);
    }
    cr_assert_eq(ones, k);
  }
  free(X); free(P);
}

Test(learn, knn_matches_brute_force)
{
  int64_t n = 60, d = 3, r = 4, idx[240];
  double *X = randmat(n * d, 31);
  cr_assert_eq(cj_learn_knn(X, n, d, r, NULL, idx), CJ_OK, "%s", cj_errmsg());
  for (int64_t s = 0; s < n; s++) {
    double dist[60];
    for (int64_t j = 0; j < n; j++) {
      dist[j] = 0;
      for (int q = 0; q < 3; q++) dist[j] += (X[s * d + q] - X[j * d + q]) * (X[s * d + q] - X[j * d + q]);
    }
    for (int64_t q = 0; q < r; q++) {
      int64_t a = idx[s * r + q], better = 0;
      cr_assert(a != s, "not itself");
      for (int64_t j = 0; j < n; j++) better += j != s && dist[j] < dist[a] - 1e-12;
      cr_assert_eq(better, q, "row %lld: neighbour %lld is the %lld-th nearest", (long long)s, (long long)q, (long long)better);
    }
  }
  cr_assert_eq(cj_learn_knn(X, n, d, n, NULL, idx), CJ_EINVAL);
  free(X);
}

Test(learn, same_generator_same_weights)
{
  int64_t n = 200, d = 4, k = 3;
  double *X = randmat(n * d, 42), W1[12], W2[12];
  cj_rng r1, r2;
  cj_learn_loop o = { { CJ_SCHED_EXP, 0.2, 0.01 }, 3, 1, 1, NULL, "test" };
  for (int q = 0; q < 12; q++) W1[q] = W2[q] = X[q];
  cj_rng_init(&r1, 8, 1);
  cj_rng_init(&r2, 8, 1);
  o.rng = &r1;
  cr_assert_eq(cj_learn_competitive(X, n, d, W1, k, &o), CJ_OK);
  o.rng = &r2;
  cr_assert_eq(cj_learn_competitive(X, n, d, W2, k, &o), CJ_OK);
  cr_assert(memcmp(W1, W2, sizeof W1) == 0, "bit for bit");
  free(X);
}

/* Slope of log power against log radial frequency (cycles per picture) for
 * 4 <= f <= 64 of an N x N image, its 2-D spectrum by rows then columns. */
static double spectral_slope(const double *img, int64_t N)
{
  double *c = calloc(2 * N * N, sizeof(double)), *f = malloc(sizeof(double) * 2 * N * N);
  double *t = malloc(sizeof(double) * 2 * N * N), pw[65] = { 0 }, cnt[65] = { 0 }, mean = 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (int64_t q = 0; q < N * N; q++) mean += img[q] / (double)(N * N);
  for (int64_t q = 0; q < N * N; q++) c[2 * q] = img[q] - mean;
  cj_fft_c2c(N, N, c, f, 0);
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < N; j++) { t[2 * (j * N + i)] = f[2 * (i * N + j)]; t[2 * (j * N + i) + 1] = f[2 * (i * N + j) + 1]; }
  cj_fft_c2c(N, N, t, f, 0);
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < N; j++) {
      double ki = (double)(i <= N / 2 ? i : i - N), kj = (double)(j <= N / 2 ? j : j - N);
      int b = (int)lround(sqrt(ki * ki + kj * kj));
      if (b >= 4 && b <= 64) { pw[b] += f[2 * (i * N + j)] * f[2 * (i * N + j)] + f[2 * (i * N + j) + 1] * f[2 * (i * N + j) + 1]; cnt[b]++; }
    }
  for (int b = 4; b <= 64; b++) {
    double x = log(b), y = log(pw[b] / cnt[b]);
    sx += x; sy += y; sxx += x * x; sxy += x * y; n++;
  }
  free(c); free(f); free(t);
  return (sxy - sx * sy / n) / (sxx - sx * sx / n);
}

Test(learn, dead_leaves_have_a_near_1_over_f2_power_spectrum_that_the_filter_flattens)
{
  int64_t N = 256;
  double *img = malloc(sizeof(double) * N * N), *w = malloc(sizeof(double) * N * N), s0, s1;
  cj_rng r;
  cj_rng_init(&r, 3, 0);
  cr_assert_eq(cj_learn_dead_leaves(N, N, 1, 64, &r, img), CJ_OK);
  s0 = spectral_slope(img, N);
  /* natural images: power ~ 1/f^2 (Field 1987; Ruderman 1997); measured -1.85, whitened 0.06 */
  cr_assert(s0 < -1.6 && s0 > -2.6, "dead leaves: power slope %.3f", s0);
  cr_assert_eq(cj_learn_whiten_image(img, N, N, 0.4, w), CJ_OK);
  s1 = spectral_slope(w, N);
  /* times f^2 exp(-2 (f/f0)^4): at most 64/256 = 0.25 cycles/pixel the
   * roll-off lowers the top by exp(-2 * 0.39) = 0.46, a slope of about -0.2 */
  cr_assert(fabs(s1 - (s0 + 2)) < 0.35, "whitened: slope %.3f vs %.3f + 2", s1, s0);
  cr_assert(fabs(s1) < 0.7, "whitened: nearly flat, slope %.3f", s1);
  cr_log_info("power slopes: dead leaves %.3f, whitened %.3f", s0, s1);
  free(img); free(w);
}
