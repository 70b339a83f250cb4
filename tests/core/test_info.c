/*
 * test_info.c — vm/core/info.c against closed forms and independent
 * computations: digamma and trigamma at known values; entropies and
 * informations of tables with known values; the Miller-Madow and
 * Panzeri-Treves terms; the NSB Dirichlet moments against Monte Carlo
 * sampling of Dirichlet vectors and the NSB integral against a brute-force
 * quadrature over beta; word keys, tallies and the incremental counter
 * against batch counting; divergences; the information per spike.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "info.h"

#define EULER 0.57721566490153286061

static uint64_t xs = 88172645463325252ULL;
static double unif(void)
{
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return ((xs >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(void)
{
  return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

/* Marsaglia-Tsang gamma(a, 1); a < 1 through gamma(a + 1) U^(1/a). */
static double gammav(double a)
{
  double d, c;
  if (a < 1) return gammav(a + 1) * pow(unif(), 1 / a);
  d = a - 1.0 / 3;
  c = 1 / sqrt(9 * d);
  for (;;) {
    double x = gauss(), v = pow(1 + c * x, 3), u = unif();
    if (v > 0 && log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
  }
}

static cj_info_opts plain(cj_info_method m)
{
  cj_info_opts o = { m, 0, 0, 0, NULL };
  return o;
}

Test(info, digamma_and_trigamma_at_known_values)
{
  cr_assert_float_eq(cj_digamma(1), -EULER, 1e-14);
  cr_assert_float_eq(cj_digamma(0.5), -EULER - 2 * log(2.0), 1e-14);
  cr_assert_float_eq(cj_digamma(7), -EULER + 1 + 1. / 2 + 1. / 3 + 1. / 4 + 1. / 5 + 1. / 6, 1e-14);
  cr_assert_float_eq(cj_digamma(1e-9), -1e9 - EULER, 1e-5);
  cr_assert_float_eq(cj_digamma(1e8), log(1e8) - 0.5e-8, 1e-14);
  cr_assert_float_eq(cj_trigamma(1), M_PI * M_PI / 6, 1e-14);
  cr_assert_float_eq(cj_trigamma(0.5), M_PI * M_PI / 2, 1e-13);
  cr_assert_float_eq(cj_trigamma(3), M_PI * M_PI / 6 - 1 - 0.25, 1e-14);
  cr_assert_float_eq(cj_trigamma(1e6) * 1e6, 1 + 0.5e-6 + 1e-12 / 6, 1e-15);
  cr_assert(isnan(cj_digamma(0)) && isnan(cj_trigamma(-1)));
}

Test(info, plugin_values_of_known_tables)
{
  cj_info_opts o = plain(CJ_INFO_PLUGIN);
  cj_info_est r;
  double q = 0.1, bsc[4] = { (1 - q) / 2, q / 2, q / 2, (1 - q) / 2 };
  double hq = -q * log(q) - (1 - q) * log(1 - q);
  double ind[6] = { 0.1 * 0.2, 0.1 * 0.5, 0.1 * 0.3, 0.9 * 0.2, 0.9 * 0.5, 0.9 * 0.3 };
  double id[9] = { 1, 0, 0, 0, 2, 0, 0, 0, 1 };
  cr_assert_eq(cj_info_entropy((double[]){ 1, 1, 1, 1 }, 4, &o, &r), CJ_OK);
  cr_assert_float_eq(r.value, log(4.0), 1e-15);
  cr_assert_eq(cj_info_mi(bsc, 2, 2, &o, &r), CJ_OK);
  cr_assert_float_eq(r.value, log(2.0) - hq, 1e-15);
  cr_assert_eq(cj_info_condentropy(bsc, 2, 2, &o, &r), CJ_OK);
  cr_assert_float_eq(r.value, hq, 1e-15);
  cr_assert_eq(cj_info_mi(ind, 2, 3, &o, &r), CJ_OK);
  cr_assert(fabs(r.value) < 1e-15, "independent: %g", r.value);
  cr_assert_eq(cj_info_mi(id, 3, 3, &o, &r), CJ_OK);
  cr_assert_float_eq(r.value, 1.5 * log(2.0), 1e-15, "identity: I = H(X) = 1.5 bits");
  /* I(X;Y|Z): two slices, one copy (I = ln 2), one independent (0); p(z) = 1/2 each */
  {
    double t[8] = { 0 };   /* x, y, z with z fastest */
    t[(0 * 2 + 0) * 2 + 0] = 1; t[(1 * 2 + 1) * 2 + 0] = 1;
    t[(0 * 2 + 0) * 2 + 1] = 0.5; t[(0 * 2 + 1) * 2 + 1] = 0.5; t[(1 * 2 + 0) * 2 + 1] = 0.5; t[(1 * 2 + 1) * 2 + 1] = 0.5;
    cr_assert_eq(cj_info_cmi(t, 2, 2, 2, &o, &r), CJ_OK);
    cr_assert_float_eq(r.value, 0.5 * log(2.0), 1e-15);
  }
  cr_assert_eq(cj_info_entropy((double[]){ 1, -1 }, 2, &o, &r), CJ_EINVAL);
  cr_assert_eq(cj_info_entropy((double[]){ 0, 0 }, 2, &o, &r), CJ_EINVAL);
}

Test(info, miller_madow_and_panzeri_treves_terms)
{
  cj_info_opts o = plain(CJ_INFO_MM);
  cj_info_est r;
  double c[5] = { 3, 0, 2, 5, 0 }, N = 10;
  double h = -(0.3 * log(0.3) + 0.2 * log(0.2) + 0.5 * log(0.5));
  cr_assert_eq(cj_info_entropy(c, 5, &o, &r), CJ_OK);
  cr_assert_float_eq(r.value, h + 2 / (2 * N), 1e-15);
  cr_assert_eq(r.bins, 3);
  /* MI: [sum_s (R_s - 1) - (R - 1)] / 2N added, both forms agree */
  {
    double j[6] = { 4, 1, 0, 0, 2, 3 }, ref, e;
    cj_info_opts p = plain(CJ_INFO_PLUGIN);
    cr_assert_eq(cj_info_mi(j, 2, 3, &p, &r), CJ_OK);
    ref = r.value - ((1 + 1) - 2) / (2 * 10.0);
    cr_assert_eq(cj_info_mi(j, 2, 3, &o, &r), CJ_OK);
    cr_assert_float_eq(r.value, ref, 1e-15);
    e = r.err;
    cr_assert(e > 0);
  }
  /* PT: a fully sampled alphabet counts its bins; an undersampled one more than it sees */
  {
    double val[2] = { 1, 50 }, mult[2] = { 2, 1 };
    cr_assert_eq(cj_info_pt_bins(val, mult, 2, 3), 3);
    cr_assert_eq(cj_info_pt_bins((double[]){ 1 }, (double[]){ 20 }, 1, 1000) > 20, 1);
    cr_assert_eq(cj_info_pt_bins((double[]){ 1000 }, (double[]){ 4 }, 1, 1000), 4, "well sampled");
  }
}

/* E[H | beta] and E[H^2 | beta] of Dirichlet(n + beta) by Monte Carlo. */
static void mc_moments(const double *n, int K, double beta, int draws, double *m1, double *m2)
{
  double *p = malloc(sizeof(double) * K), s1 = 0, s2 = 0;
  for (int d = 0; d < draws; d++) {
    double tot = 0, h = 0;
    for (int i = 0; i < K; i++) tot += (p[i] = gammav(n[i] + beta));
    for (int i = 0; i < K; i++) if (p[i] > 0) h -= p[i] / tot * log(p[i] / tot);
    s1 += h;
    s2 += h * h;
  }
  *m1 = s1 / draws;
  *m2 = s2 / draws;
  free(p);
}

/* The NSB integral by brute force: trapezoid over ln beta on a fine grid,
 * with the Dirichlet moments from the closed forms written out here. */
static void brute_nsb(const double *n, int K, double *H, double *sd)
{
  double N = 0, w0 = 0, w1 = 0, w2 = 0, gmax = -INFINITY;
  int G = 200000;
  double *g = malloc(sizeof(double) * G);
  for (int i = 0; i < K; i++) N += n[i];
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < G; k++) {
      double x = -45 + 70.0 * k / (G - 1), b = exp(x), A = N + K * b, lw, h1 = 0, h2, s1 = 0, s2 = 0, sa2 = 0, dg = 0, w;
      if (pass == 0) {
        lw = lgamma(K * b) - lgamma(N + K * b) + log(K * cj_trigamma(K * b + 1) - cj_trigamma(b + 1)) + x;
        for (int i = 0; i < K; i++) lw += lgamma(n[i] + b) - lgamma(b);
        g[k] = lw;
        if (lw > gmax) gmax = lw;
        continue;
      }
      h1 = cj_digamma(A + 1);
      for (int i = 0; i < K; i++) {
        double a = n[i] + b, f = cj_digamma(a + 1) - cj_digamma(A + 2), gg = cj_digamma(a + 2) - cj_digamma(A + 2);
        h1 -= a / A * cj_digamma(a + 1);
        s1 += a * f;
        s2 += a * a * f * f;
        sa2 += a * a;
        dg += a * (a + 1) * (gg * gg + cj_trigamma(a + 2) - cj_trigamma(A + 2));
      }
      h2 = (s1 * s1 - s2 - cj_trigamma(A + 2) * (A * A - sa2) + dg) / (A * (A + 1));
      w = exp(g[k] - gmax) * ((k == 0 || k == G - 1) ? 0.5 : 1);
      w0 += w;
      w1 += w * h1;
      w2 += w * h2;
    }
  *H = w1 / w0;
  *sd = sqrt(w2 / w0 - *H * *H);
  free(g);
}

Test(info, nsb_dirichlet_moments_match_monte_carlo)
{
  /* the moments enter cj_info_nsb through the brute-force formula above;
   * check that formula against sampling at two concentrations */
  double n[4] = { 3, 0, 1, 6 };
  for (int t = 0; t < 2; t++) {
    double beta = t ? 2.5 : 0.3, A = 10 + 4 * beta, h1 = cj_digamma(A + 1), m1, m2;
    double s1 = 0, s2 = 0, sa2 = 0, dg = 0, h2;
    for (int i = 0; i < 4; i++) {
      double a = n[i] + beta, f = cj_digamma(a + 1) - cj_digamma(A + 2), gg = cj_digamma(a + 2) - cj_digamma(A + 2);
      h1 -= a / A * cj_digamma(a + 1);
      s1 += a * f; s2 += a * a * f * f; sa2 += a * a;
      dg += a * (a + 1) * (gg * gg + cj_trigamma(a + 2) - cj_trigamma(A + 2));
    }
    h2 = (s1 * s1 - s2 - cj_trigamma(A + 2) * (A * A - sa2) + dg) / (A * (A + 1));
    mc_moments(n, 4, beta, 400000, &m1, &m2);
    /* 4e5 draws: the standard error of the mean entropy is below 1e-3 */
    cr_assert(fabs(h1 - m1) < 3e-3, "beta %g: E[H] %g vs MC %g", beta, h1, m1);
    cr_assert(fabs(h2 - m2) < 6e-3, "beta %g: E[H^2] %g vs MC %g", beta, h2, m2);
  }
}

Test(info, nsb_integral_matches_brute_force_quadrature)
{
  double cases[3][6] = { { 3, 0, 1, 6, 0, 0 }, { 1, 1, 1, 1, 1, 0 }, { 40, 2, 0, 0, 1, 7 } };
  for (int c = 0; c < 3; c++) {
    double val[6], mult[6], H, sd, bh, bsd;
    int m = 0;
    /* profile: distinct positive counts */
    for (int i = 0; i < 6; i++) {
      int k;
      if (cases[c][i] <= 0) continue;
      for (k = 0; k < m && val[k] != cases[c][i]; k++) {}
      if (k == m) { val[m] = cases[c][i]; mult[m++] = 0; }
      mult[k]++;
    }
    cr_assert_eq(cj_info_nsb(val, mult, m, 6, &H, &sd), CJ_OK, "%s", cj_errmsg());
    brute_nsb(cases[c], 6, &bh, &bsd);
    cr_assert(fabs(H - bh) < 1e-6, "case %d: H %.10g vs %.10g", c, H, bh);
    cr_assert(fabs(sd - bsd) < 1e-5, "case %d: sd %.10g vs %.10g", c, sd, bsd);
  }
  /* a large alphabet with few samples: well defined, between 0 and ln K */
  {
    double H, sd;
    cr_assert_eq(cj_info_nsb((double[]){ 1, 2 }, (double[]){ 30, 5 }, 2, 1048576, &H, &sd), CJ_OK);
    cr_assert(H > 0 && H < log(1048576.0) && sd > 0, "H %g sd %g", H, sd);
  }
  cr_assert_eq(cj_info_nsb((double[]){ 1 }, (double[]){ 3 }, 1, 2, &(double){ 0 }, &(double){ 0 }), CJ_EINVAL);
}

Test(info, resampling_methods_run_reproducibly)
{
  double j[4] = { 30, 10, 12, 28 };
  cj_rng r1, r2;
  cj_info_est a, b;
  cj_info_opts o = { CJ_INFO_QE, 0, 0, 0, &r1 };
  for (int m = CJ_INFO_QE; m <= CJ_INFO_BOOT; m++) {
    if (m == CJ_INFO_NSB) continue;
    cj_rng_init(&r1, 5, 1);
    cj_rng_init(&r2, 5, 1);
    o.method = (cj_info_method)m;
    o.rng = &r1;
    cr_assert_eq(cj_info_mi(j, 2, 2, &o, &a), CJ_OK, "%s", cj_errmsg());
    o.rng = &r2;
    cr_assert_eq(cj_info_mi(j, 2, 2, &o, &b), CJ_OK);
    cr_assert(a.value == b.value && a.err == b.err, "method %d", m);
    cr_assert(fabs(a.value - a.plugin) < 0.05, "method %d: %g vs plug-in %g", m, a.value, a.plugin);
    if (m == CJ_INFO_SHUFFLE) cr_assert(a.value < a.plugin && a.null_mean > 0, "the null bias is positive");
  }
  o.method = CJ_INFO_SHUFFLE;
  cr_assert_eq(cj_info_entropy(j, 4, &o, &a), CJ_EINVAL, "no shuffle for an entropy");
  o.method = CJ_INFO_QE;
  cr_assert_eq(cj_info_mi((double[]){ 1.5, 2, 3, 4 }, 2, 2, &o, &a), CJ_EINVAL, "whole counts");
  o.nshuffle = 200;
  o.method = CJ_INFO_PLUGIN;
  cr_assert_eq(cj_info_mi(j, 2, 2, &o, &a), CJ_OK);
  cr_assert(a.pvalue < 0.01, "strong dependence is significant: p = %g", a.pvalue);
  cr_assert_eq(cj_info_mi((double[]){ 20, 20, 20, 20 }, 2, 2, &o, &a), CJ_OK);
  cr_assert(a.pvalue > 0.5, "independence is not: p = %g", a.pvalue);
}

Test(info, words_keys_and_tally)
{
  /* one train, bins of 1 ms over 6 ms: spikes in bins 0, 2, 2, 5 */
  double t[4] = { 0.0002, 0.0021, 0.0025, 0.0055 };
  int64_t off[2] = { 0, 4 };
  cj_trains s = { 1, off, t, 0, 0.006 };
  cj_words_spec w = { 0.001, 3, 1, 1, CJ_WORDS_EACH };
  uint64_t keys[8], uq[8];
  double cnt[8];
  int64_t m;
  /* letters 1 0 1 0 0 1 -> words 101 010 100 001 */
  cr_assert_eq(cj_words_count(&s, &w), 4);
  cr_assert_eq(cj_words_keys(&s, &w, keys), CJ_OK);
  cr_assert(keys[0] == 5 && keys[1] == 2 && keys[2] == 4 && keys[3] == 1);
  w.maxcount = 3;                            /* two bits per letter: 1 0 2 0 0 1 */
  cr_assert_eq(cj_words_keys(&s, &w, keys), CJ_OK);
  cr_assert_eq(keys[0], (1u << 4) | 2, "%llu", (unsigned long long)keys[0]);
  w.maxcount = 1;
  w.step = 2;
  cr_assert_eq(cj_words_count(&s, &w), 2);
  cr_assert_eq(cj_words_keys(&s, &w, keys), CJ_OK);
  cr_assert(keys[0] == 5 && keys[1] == 4);
  keys[2] = 5;
  cr_assert_eq(cj_words_tally(keys, 3, uq, cnt, &m), CJ_OK);
  cr_assert(m == 2 && uq[0] == 4 && cnt[0] == 1 && uq[1] == 5 && cnt[1] == 2);
  w.L = 70;
  cr_assert_eq(cj_words_keys(&s, &w, keys), CJ_EINVAL, "more than 64 bits");
}

Test(info, counter_matches_batch_counting)
{
  cj_info_counter *c = cj_info_counter_new();
  cj_info_opts o = plain(CJ_INFO_PLUGIN), on = plain(CJ_INFO_NSB);
  cj_info_est a, b;
  double cnt[50] = { 0 };
  uint64_t keys[50];
  double kc[50];
  cr_assert(c);
  /* a sliding window: add 5000 words, then remove the first 2000 */
  for (int i = 0; i < 5000; i++) {
    uint64_t k = (uint64_t)(i * 7919 % 37) * 1000003u;
    cr_assert_eq(cj_info_counter_add(c, k, 1), CJ_OK);
    if (i >= 2000) cnt[(i * 7919) % 37] += 1;
  }
  for (int i = 0; i < 2000; i++)
    cr_assert_eq(cj_info_counter_add(c, (uint64_t)(i * 7919 % 37) * 1000003u, -1), CJ_OK);
  cr_assert_eq(cj_info_counter_total(c), 3000);
  cr_assert_eq(cj_info_counter_distinct(c), 37);
  cr_assert_eq(cj_info_counter_entropy(c, &o, &a), CJ_OK);
  cr_assert_eq(cj_info_entropy(cnt, 37, &o, &b), CJ_OK);
  cr_assert_float_eq(a.value, b.value, 1e-14);
  cr_assert_eq(cj_info_counter_entropy(c, &on, &a), CJ_OK);
  cr_assert_eq(cj_info_entropy(cnt, 37, &on, &b), CJ_OK);
  cr_assert_float_eq(a.value, b.value, 1e-12);
  cr_assert_eq(cj_info_counter_items(c, keys, kc), CJ_OK);
  for (int i = 1; i < 37; i++) cr_assert(keys[i] > keys[i - 1]);
  cr_assert_eq(kc[0], cnt[0]);
  cr_assert_eq(cj_info_counter_add(c, 12345, -1), CJ_EINVAL, "removing what is not there");
  cr_assert_eq(cj_info_counter_total(c), 3000);
  cj_info_counter_free(c);
}

Test(info, divergences_and_spike_information)
{
  double p[3] = { 0.5, 0.5, 0 }, q[3] = { 0.25, 0.25, 0.5 }, d;
  double r[4] = { 0, 10, 0, 30 };
  cr_assert_eq(cj_info_kl(p, q, 3, &d), CJ_OK);
  cr_assert_float_eq(d, log(2.0), 1e-15);
  cr_assert_eq(cj_info_kl(q, p, 3, &d), CJ_OK);
  cr_assert(isinf(d));
  cr_assert_eq(cj_info_js(p, q, 3, &d), CJ_OK);
  /* m = (3/8, 3/8, 1/4) */
  cr_assert_float_eq(d, 0.5 * log(0.5 / 0.375) + 0.5 * (0.5 * log(0.25 / 0.375) + 0.5 * log(2.0)), 1e-15);
  cr_assert_eq(cj_info_js(p, p, 3, &d), CJ_OK);
  cr_assert_float_eq(d, 0, 1e-15);
  /* rbar = 10: (1/4) [ 1 ln 1 + 3 ln 3 ] */
  cr_assert_eq(cj_info_spike_information(r, 4, &d), CJ_OK);
  cr_assert_float_eq(d, 0.75 * log(3.0), 1e-15);
  cr_assert_eq(cj_info_spike_information((double[]){ 0, 0 }, 2, &d), CJ_EINVAL);
}
