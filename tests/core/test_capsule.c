/*
 * test_capsule.c — capsule routing (vm/core/capsule.c) against independent
 * re-computations: squash and predictions by their formulas, Procedure 1
 * and EM routing by straightforward loops (plain exponentials, densities
 * computed directly), every gradient against central finite differences;
 * errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capsule.h"

static double randu(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) / 16777216.0 - 0.5;
}

static double *randv(int64_t n, unsigned seed, double scale)
{
  double *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int64_t k = 0; k < n; k++) x[k] = scale * randu(&seed);
  return x;
}

Test(capsule, squash_matches_its_formula)
{
  double s[6] = { 3, 4, 0, 0, 0, 0 }, v[6];
  cj_capsule_squash(v, s, 2, 3);
  /* |s| = 5: v = s * 5 / 26 */
  cr_assert(fabs(v[0] - 15.0 / 26) < 1e-15 && fabs(v[1] - 20.0 / 26) < 1e-15 && v[2] == 0);
  for (int k = 3; k < 6; k++) cr_assert_eq(v[k], 0.0, "a zero vector stays zero");
}

/* Procedure 1 written out with plain loops, for one example. */
static void ref_route(const double *uh, int64_t I, int64_t J, int64_t D, int r, double *v, double *c, double *b)
{
  double *s = calloc((size_t)(J * D), sizeof(double));
  for (int64_t k = 0; k < I * J; k++) b[k] = 0;
  for (int t = 0; t < r; t++) {
    for (int64_t i = 0; i < I; i++) {
      double z = 0;
      for (int64_t j = 0; j < J; j++) z += exp(b[i * J + j]);
      for (int64_t j = 0; j < J; j++) c[i * J + j] = exp(b[i * J + j]) / z;
    }
    for (int64_t j = 0; j < J; j++)
      for (int64_t k = 0; k < D; k++) {
        s[j * D + k] = 0;
        for (int64_t i = 0; i < I; i++) s[j * D + k] += c[i * J + j] * uh[(i * J + j) * D + k];
      }
    for (int64_t j = 0; j < J; j++) {
      double n2 = 0;
      for (int64_t k = 0; k < D; k++) n2 += s[j * D + k] * s[j * D + k];
      for (int64_t k = 0; k < D; k++) v[j * D + k] = n2 / (1 + n2) * s[j * D + k] / sqrt(n2);
    }
    for (int64_t i = 0; i < I; i++)
      for (int64_t j = 0; j < J; j++)
        for (int64_t k = 0; k < D; k++) b[i * J + j] += uh[(i * J + j) * D + k] * v[j * D + k];
  }
  free(s);
}

Test(capsule, routing_equals_a_plain_recomputation_of_procedure_1)
{
  int64_t B = 3, I = 12, J = 4, D = 5;
  for (int r = 1; r <= 4; r++) {
    double *uh = randv(B * I * J * D, 7 + r, 1.0), *v = malloc(sizeof(double) * B * J * D);
    double *c = malloc(sizeof(double) * B * I * J), *b = malloc(sizeof(double) * B * I * J);
    double rv[20], rc[48], rb[48];
    cr_assert_eq(cj_capsule_route(uh, B, I, J, D, r, v, c, b), CJ_OK, "%s", cj_errmsg());
    for (int64_t e = 0; e < B; e++) {
      ref_route(uh + e * I * J * D, I, J, D, r, rv, rc, rb);
      for (int64_t k = 0; k < J * D; k++) cr_assert(fabs(v[e * J * D + k] - rv[k]) < 1e-12, "v r=%d", r);
      for (int64_t k = 0; k < I * J; k++) {
        cr_assert(fabs(c[e * I * J + k] - rc[k]) < 1e-12, "c r=%d", r);
        cr_assert(fabs(b[e * I * J + k] - rb[k]) < 1e-12, "b r=%d", r);
      }
    }
    free(uh); free(v); free(c); free(b);
  }
}

Test(capsule, coupling_concentrates_on_the_parent_the_children_agree_on)
{
  /* 8 children: 6 predict the same pose for parent 1 (and noise for the
   * others), 2 predict noise everywhere */
  int64_t I = 8, J = 3, D = 4;
  double uh[96], v[12], c[24], b[24];
  unsigned s = 3;
  for (int64_t i = 0; i < I; i++)
    for (int64_t j = 0; j < J; j++)
      for (int64_t k = 0; k < D; k++)
        uh[(i * J + j) * D + k] = (i < 6 && j == 1) ? (k == 0 ? 2.0 : 0.5) + 0.05 * randu(&s) : randu(&s);
  cr_assert_eq(cj_capsule_route(uh, 1, I, J, D, 3, v, c, b), CJ_OK);
  for (int64_t i = 0; i < 6; i++) cr_assert(c[i * J + 1] > 0.9, "child %lld couples to parent 2 (%g)", (long long)i, c[i * J + 1]);
  {
    double n1 = 0, n0 = 0;
    for (int64_t k = 0; k < D; k++) {
      n1 += v[1 * D + k] * v[1 * D + k];
      n0 += v[0 * D + k] * v[0 * D + k];
    }
    cr_assert(sqrt(n1) > 0.9 && sqrt(n0) < 0.5, "the agreed parent is active: |v| %g vs %g", sqrt(n1), sqrt(n0));
  }
}

/* Loss sum_j w . v_j of the routed output, for finite differences. */
static double routed_loss(const double *uh, int64_t B, int64_t I, int64_t J, int64_t D, int r, const double *w)
{
  double *v = malloc(sizeof(double) * B * J * D), L = 0;
  cj_capsule_route(uh, B, I, J, D, r, v, NULL, NULL);
  for (int64_t k = 0; k < B * J * D; k++) L += w[k] * v[k];
  free(v);
  return L;
}

Test(capsule, routing_gradient_matches_finite_differences)
{
  int64_t B = 2, I = 5, J = 3, D = 4, n = B * I * J * D;
  for (int r = 1; r <= 3; r++) {
    double *uh = randv(n, 20 + r, 1.5), *w = randv(B * J * D, 30, 2.0), *g = malloc(sizeof(double) * n);
    cr_assert_eq(cj_capsule_route_grad(uh, B, I, J, D, r, w, g), CJ_OK, "%s", cj_errmsg());
    for (int64_t k = 0; k < n; k++) {
      double h = 1e-6, x = uh[k], lp, lm, fd;
      uh[k] = x + h;
      lp = routed_loss(uh, B, I, J, D, r, w);
      uh[k] = x - h;
      lm = routed_loss(uh, B, I, J, D, r, w);
      uh[k] = x;
      fd = (lp - lm) / (2 * h);
      /* central differences: error O(h^2) plus rounding 1e-16 / h */
      cr_assert(fabs(fd - g[k]) < 1e-7 * (1 + fabs(fd)), "r=%d [%lld]: %g vs %g", r, (long long)k, g[k], fd);
    }
    free(uh); free(w); free(g);
  }
}

Test(capsule, predictions_and_their_gradient_match_loops)
{
  int64_t B = 3, I = 4, J = 2, dout = 3, din = 5;
  double *u = randv(B * I * din, 1, 1), *W = randv(I * J * dout * din, 2, 1), *dh = randv(B * I * J * dout, 3, 1);
  double *uh = malloc(sizeof(double) * B * I * J * dout), *dW = malloc(sizeof(double) * I * J * dout * din);
  double *du = malloc(sizeof(double) * B * I * din);
  cr_assert_eq(cj_capsule_predict(uh, u, W, B, I, J, dout, din), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_capsule_predict_grad(dW, du, dh, u, W, B, I, J, dout, din), CJ_OK);
  for (int64_t e = 0; e < B; e++)
    for (int64_t i = 0; i < I; i++)
      for (int64_t j = 0; j < J; j++)
        for (int64_t p = 0; p < dout; p++) {
          double s = 0;
          for (int64_t q = 0; q < din; q++) s += W[((i * J + j) * dout + p) * din + q] * u[(e * I + i) * din + q];
          cr_assert(fabs(uh[((e * I + i) * J + j) * dout + p] - s) < 1e-13);
        }
  for (int64_t i = 0; i < I; i++)
    for (int64_t j = 0; j < J; j++)
      for (int64_t p = 0; p < dout; p++)
        for (int64_t q = 0; q < din; q++) {
          double s = 0;
          for (int64_t e = 0; e < B; e++) s += dh[((e * I + i) * J + j) * dout + p] * u[(e * I + i) * din + q];
          cr_assert(fabs(dW[((i * J + j) * dout + p) * din + q] - s) < 1e-13);
        }
  for (int64_t e = 0; e < B; e++)
    for (int64_t i = 0; i < I; i++)
      for (int64_t q = 0; q < din; q++) {
        double s = 0;
        for (int64_t j = 0; j < J; j++)
          for (int64_t p = 0; p < dout; p++) s += W[((i * J + j) * dout + p) * din + q] * dh[((e * I + i) * J + j) * dout + p];
        cr_assert(fabs(du[(e * I + i) * din + q] - s) < 1e-13);
      }
  free(u); free(W); free(dh); free(uh); free(dW); free(du);
}

Test(capsule, margin_loss_and_its_gradient)
{
  int64_t B = 2, J = 3, D = 2;
  double v[12] = { 0.95, 0, 0.3, 0.4, 0, 0.05, 0.6, 0, 0.1, 0.1, 0, 0 };
  double T[6] = { 1, 0, 0, 1, 0, 1 }, dv[12], L;
  cr_assert_eq(cj_capsule_margin(v, T, B, J, D, 0.9, 0.1, 0.5, &L, dv), CJ_OK);
  {
    /* by hand: example 1: |v| = .95 (present: 0), .5 (absent: .5 * .4^2 = .08),
     * .05 (absent: 0); example 2: .6 (present: .3^2 = .09), |(.1,.1)| (absent:
     * .5 (.1414 - .1)^2), 0 (present: .81) */
    double n = sqrt(0.02), ref = (0.08 + 0.09 + 0.5 * (n - 0.1) * (n - 0.1) + 0.81) / 2;
    cr_assert(fabs(L - ref) < 1e-15, "%g vs %g", L, ref);
  }
  for (int64_t k = 0; k < 12; k++) {
    double h = 1e-7, x = v[k], lp, lm;
    if (k >= 10) continue;                     /* |v| = 0: not differentiable */
    v[k] = x + h;
    cj_capsule_margin(v, T, B, J, D, 0.9, 0.1, 0.5, &lp, NULL);
    v[k] = x - h;
    cj_capsule_margin(v, T, B, J, D, 0.9, 0.1, 0.5, &lm, NULL);
    v[k] = x;
    cr_assert(fabs((lp - lm) / (2 * h) - dv[k]) < 1e-7, "dv[%lld] %g vs %g", (long long)k, dv[k], (lp - lm) / (2 * h));
  }
  cr_assert(dv[10] == 0 && dv[11] == 0);
}

/* EM routing, written directly: densities as products of 1-D normals. */
static void ref_em(const double *V, const double *a, int64_t I, int64_t J, int64_t H, const cj_capsule_em *o,
                   double *aout, double *mu, double *R)
{
  double var[64], act[8];
  for (int64_t k = 0; k < I * J; k++) R[k] = 1.0 / J;
  for (int t = 0; t < o->iters; t++) {
    for (int64_t i = 0; i < I; i++)
      for (int64_t j = 0; j < J; j++) R[i * J + j] *= a[i];
    for (int64_t j = 0; j < J; j++) {
      double rs = 0, cost = 0;
      for (int64_t i = 0; i < I; i++) rs += R[i * J + j];
      for (int64_t h = 0; h < H; h++) {
        double m = 0, q = 0;
        for (int64_t i = 0; i < I; i++) m += R[i * J + j] * V[(i * J + j) * H + h] / rs;
        for (int64_t i = 0; i < I; i++) q += R[i * J + j] * pow(V[(i * J + j) * H + h] - m, 2) / rs;
        mu[j * H + h] = m;
        var[j * H + h] = q + o->eps;
        cost += (o->beta_u[j] + log(sqrt(var[j * H + h]))) * rs;
      }
      act[j] = 1 / (1 + exp(-o->lambda[t] * (o->beta_a[j] - cost)));
    }
    for (int64_t i = 0; i < I; i++) {
      double p[8], z = 0;
      for (int64_t j = 0; j < J; j++) {
        p[j] = act[j];
        for (int64_t h = 0; h < H; h++) {
          double s2 = var[j * H + h], e = V[(i * J + j) * H + h] - mu[j * H + h];
          p[j] *= exp(-e * e / (2 * s2)) / sqrt(2 * M_PI * s2);
        }
        z += p[j];
      }
      for (int64_t j = 0; j < J; j++) R[i * J + j] = p[j] / z;
    }
  }
  for (int64_t j = 0; j < J; j++) aout[j] = act[j];
}

Test(capsule, em_routing_equals_a_direct_recomputation)
{
  int64_t B = 2, I = 6, J = 3, H = 4;
  double lambda[3] = { 0.01, 0.02, 0.04 }, bu[3] = { 0.1, -0.2, 0.3 }, ba[3] = { 0.5, 0.0, -0.5 };
  cj_capsule_em o = { 3, lambda, bu, ba, 1e-4 };
  double *V = randv(B * I * J * H, 5, 2.0), a[12], aout[6], mu[24], R[36], ra[3], rmu[12], rR[18];
  unsigned s = 9;
  for (int k = 0; k < 12; k++) a[k] = 0.6 + randu(&s);
  cr_assert_eq(cj_capsule_em_route(V, a, B, I, J, H, &o, aout, mu, NULL, R), CJ_OK, "%s", cj_errmsg());
  for (int64_t e = 0; e < B; e++) {
    ref_em(V + e * I * J * H, a + e * I, I, J, H, &o, ra, rmu, rR);
    for (int64_t j = 0; j < J; j++) cr_assert(fabs(aout[e * J + j] - ra[j]) < 1e-12, "a %g vs %g", aout[e * J + j], ra[j]);
    for (int64_t k = 0; k < J * H; k++) cr_assert(fabs(mu[e * J * H + k] - rmu[k]) < 1e-12);
    for (int64_t k = 0; k < I * J; k++) cr_assert(fabs(R[e * I * J + k] - rR[k]) < 1e-12);
  }
  free(V);
}

Test(capsule, em_routing_assigns_agreeing_votes_to_one_parent)
{
  /* children 1..5 vote (1, 2, 3, 4) + small noise for parent 1 and scattered
   * votes elsewhere; a parent without support has activation
   * logistic(lambda beta_a) = logistic(-1) */
  int64_t I = 5, J = 2, H = 4;
  double V[40], a[5] = { 1, 1, 1, 1, 1 }, lambda[3] = { 1, 1, 1 }, bu[2] = { 0, 0 }, ba[2] = { -1, -1 };
  double aout[2], mu[8], R[10];
  cj_capsule_em o = { 3, lambda, bu, ba, 1e-6 };
  unsigned s = 4;
  for (int64_t i = 0; i < I; i++)
    for (int64_t j = 0; j < J; j++)
      for (int64_t h = 0; h < H; h++) V[(i * J + j) * H + h] = j == 0 ? (h + 1) + 0.01 * randu(&s) : 4 * randu(&s);
  cr_assert_eq(cj_capsule_em_route(V, a, 1, I, J, H, &o, aout, mu, NULL, R), CJ_OK);
  for (int64_t i = 0; i < I; i++) cr_assert(R[i * J] > 0.99, "child %lld -> parent 1 (%g)", (long long)i, R[i * J]);
  cr_assert(aout[0] > 0.99 && aout[1] < 0.5, "activations %g %g", aout[0], aout[1]);
  for (int64_t h = 0; h < H; h++) cr_assert(fabs(mu[h] - (h + 1)) < 0.01, "pose %g", mu[h]);
}

static double layer_loss(const cj_capsule_layer *l, int64_t B, const double *u, const double *T)
{
  double *uh = malloc(sizeof(double) * B * l->I * l->J * l->dout), *v = malloc(sizeof(double) * B * l->J * l->dout), L;
  cj_capsule_layer_forward(l, B, u, uh, v, NULL, NULL);
  cj_capsule_margin(v, T, B, l->J, l->dout, 0.9, 0.1, 0.5, &L, NULL);
  free(uh);
  free(v);
  return L;
}

Test(capsule, layer_gradient_of_the_margin_loss_matches_finite_differences)
{
  cj_capsule_layer l = { 6, 3, 4, 5, 3, NULL };
  int64_t B = 2, nW = 6 * 3 * 5 * 4;
  double *u = randv(B * 6 * 4, 11, 2), T[6] = { 1, 0, 0, 0, 0, 1 };
  double *uh = malloc(sizeof(double) * B * 6 * 3 * 5), *v = malloc(sizeof(double) * B * 3 * 5);
  double *dv = malloc(sizeof(double) * B * 3 * 5), *dW = malloc(sizeof(double) * nW), *du = malloc(sizeof(double) * B * 6 * 4), L;
  l.W = randv(nW, 12, 1);
  cr_assert_eq(cj_capsule_layer_forward(&l, B, u, uh, v, NULL, NULL), CJ_OK);
  cj_capsule_margin(v, T, B, 3, 5, 0.9, 0.1, 0.5, &L, dv);
  cr_assert_eq(cj_capsule_layer_backward(&l, B, u, uh, dv, dW, du), CJ_OK, "%s", cj_errmsg());
  for (int64_t k = 0; k < nW; k++) {
    double h = 1e-6, x = l.W[k], lp, lm, fd;
    l.W[k] = x + h;
    lp = layer_loss(&l, B, u, T);
    l.W[k] = x - h;
    lm = layer_loss(&l, B, u, T);
    l.W[k] = x;
    fd = (lp - lm) / (2 * h);
    cr_assert(fabs(fd - dW[k]) < 1e-7 * (1 + fabs(fd)), "dW[%lld] %g vs %g", (long long)k, dW[k], fd);
  }
  for (int64_t k = 0; k < B * 6 * 4; k++) {
    double h = 1e-6, x = u[k], lp, lm, fd;
    u[k] = x + h;
    lp = layer_loss(&l, B, u, T);
    u[k] = x - h;
    lm = layer_loss(&l, B, u, T);
    u[k] = x;
    fd = (lp - lm) / (2 * h);
    cr_assert(fabs(fd - du[k]) < 1e-7 * (1 + fabs(fd)), "du[%lld] %g vs %g", (long long)k, du[k], fd);
  }
  free(u); free(uh); free(v); free(dv); free(dW); free(du); free(l.W);
}

Test(capsule, bad_sizes_are_errors)
{
  double x[4] = { 0 };
  double lam = 1, bu = 0, ba = 0;
  cj_capsule_em o = { 0, &lam, &bu, &ba, 1e-9 };
  cr_assert_eq(cj_capsule_route(x, 1, 1, 1, 1, 0, x, NULL, NULL), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "iterations must be at least 1"), "%s", cj_errmsg());
  cr_assert_eq(cj_capsule_route(x, 1, 0, 1, 1, 1, x, NULL, NULL), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "sizes must be positive"), "%s", cj_errmsg());
  cr_assert_eq(cj_capsule_em_route(x, x, 1, 1, 1, 1, &o, x, x, NULL, NULL), CJ_EINVAL);
  x[0] = -1;
  o.iters = 1;
  cr_assert_eq(cj_capsule_em_route(x, x, 1, 1, 1, 1, &o, x, x, NULL, NULL), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "activations"), "%s", cj_errmsg());
}
