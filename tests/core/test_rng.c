/*
 * test_rng.c — Philox4x32-10 against Random123's known answers, the cursor
 * layout, reproducibility and stream independence, the deterministic
 * elementary functions against libm, the moments of every distribution
 * (n >= 1e6, within 5 standard errors), chi-square goodness of fit of
 * poisson/binomial/below/permutation/choice against exact probabilities,
 * and the bulk fills on contiguous and strided arrays.
 *
 * All draws use fixed seeds, so every run sees the same numbers; the
 * tolerances (5 standard errors, chi-square at p ~ 1e-6) are loose enough
 * that a correct generator passes for any seed and tight enough that a
 * wrong distribution fails.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---- Philox ------------------------------------------------------------------ */

/* Random123 tests/kat_vectors, "philox4x32 10": counter, key -> output. */
static const uint32_t kat[3][10] = {
  { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
  { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
  { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
    0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
};

Test(philox, matches_random123_known_answers)
{
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    cj_philox(kat[i], kat[i] + 4, out);
    for (int j = 0; j < 4; j++)
      cr_assert_eq(out[j], kat[i][6 + j], "vector %d word %d: %08x vs %08x", i, j, out[j],
                   kat[i][6 + j]);
  }
}

Test(cursor, follows_documented_counter_layout)
{
  cj_rng r;
  uint64_t seed = 0x0123456789abcdefull, stream = 0x00000007fedcba98ull;
  cj_rng_init(&r, seed, stream);
  for (uint64_t j = 0; j < 3; j++) {
    uint32_t ctr[4] = { (uint32_t)j, 0, (uint32_t)stream, (uint32_t)(stream >> 32) | 0x80000000u };
    uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) }, out[4];
    cj_philox(ctr, key, out);
    for (int w = 0; w < 4; w++) cr_assert_eq(cj_rng_u32(&r), out[w]);
  }
  cr_assert_eq(r.counter, 3);
}

Test(cursor, uniform_uses_two_words_and_53_bits)
{
  cj_rng a, b;
  cj_rng_init(&a, 5, 0);
  cj_rng_init(&b, 5, 0);
  for (int i = 0; i < 100000; i++) {
    uint32_t hi = cj_rng_u32(&b), lo = cj_rng_u32(&b);
    double u = cj_rng_uniform(&a);
    cr_assert_eq(u, CJ_U01(hi, lo));
    cr_assert(u >= 0 && u < 1);
    cr_assert_eq(u * 0x1.0p53, floor(u * 0x1.0p53));
  }
  cr_assert_eq(CJ_U01(0xffffffffu, 0xffffffffu), 1.0 - 0x1.0p-53);
  cr_assert_eq(CJ_U01(0, 0), 0.0);
}

Test(cursor, same_seed_same_sequence_and_setpos_restores)
{
  cj_rng a, b;
  double saved[1000];
  uint64_t cnt;
  int used;
  cj_rng_init(&a, 42, 3);
  cj_rng_init(&b, 42, 3);
  for (int i = 0; i < 100000; i++) cr_assert_eq(cj_rng_u32(&a), cj_rng_u32(&b));
  cj_rng_u32(&a);                              /* leave a block partly used */
  cnt = a.counter;
  used = a.used;
  for (int i = 0; i < 1000; i++) saved[i] = i % 3 ? cj_rng_uniform(&a) : cj_rng_normal(&a);
  cj_rng_init(&b, 42, 3);
  cr_assert_eq(cj_rng_setpos(&b, cnt, used), CJ_OK);
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(saved[i], i % 3 ? cj_rng_uniform(&b) : cj_rng_normal(&b));
  cr_assert_eq(cj_rng_setpos(&b, 0, 2), CJ_EINVAL);
  cr_assert_eq(cj_rng_setpos(&b, 3, 5), CJ_EINVAL);
  cr_assert_eq(cj_rng_setpos(&b, 0, 4), CJ_OK);
}

static double corr(cj_rng *a, cj_rng *b, int n)
{
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    double x = cj_rng_uniform(a), y = cj_rng_uniform(b);
    sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
  }
  double cov = sxy / n - sx / n * sy / n;
  return cov / sqrt((sxx / n - sx / n * sx / n) * (syy / n - sy / n * sy / n));
}

Test(cursor, streams_and_seeds_differ_and_are_uncorrelated)
{
  const int n = 1000000;
  cj_rng a, b;
  int same = 0;
  cj_rng_init(&a, 7, 0);
  cj_rng_init(&b, 7, 1);
  for (int i = 0; i < 1000; i++) same += cj_rng_u32(&a) == cj_rng_u32(&b);
  cr_assert_lt(same, 3);
  cj_rng_init(&a, 7, 0);
  cj_rng_init(&b, 7, 1);
  double c = corr(&a, &b, n);
  cr_assert_lt(fabs(c), 5 / sqrt(n), "stream correlation %g", c);
  cj_rng_init(&a, 1, 0);
  cj_rng_init(&b, 2, 0);
  c = corr(&a, &b, n);
  cr_assert_lt(fabs(c), 5 / sqrt(n), "seed correlation %g", c);
  cj_rng_init(&a, 1, 0);                       /* lag-1 autocorrelation */
  cj_rng_init(&b, 1, 0);
  cj_rng_uniform(&b);
  c = corr(&a, &b, n);
  cr_assert_lt(fabs(c), 5 / sqrt(n), "lag-1 correlation %g", c);
}

/* The reproducibility contract: these numbers are what seed 20260101,
 * stream 3 gives on every machine, in every version (change them only with
 * a documented break of saved results). */
Test(cursor, golden_values_are_stable)
{
  cj_rng r;
  cj_rng_init(&r, 20260101, 3);
  cr_assert_eq(cj_rng_u32(&r), 2740137680u);
  cr_assert_eq(cj_rng_uniform(&r), 0x1.f966d2d9631cep-1);
  cr_assert_eq(cj_rng_normal(&r), 0x1.b63823b0ead81p-1);
  cr_assert_eq(cj_rng_normal(&r), 0x1.24d6ecf988468p-1);
  cr_assert_eq(cj_rng_exponential(&r), 0x1.464cc996220abp-1);
  cr_assert_eq(cj_rng_poisson(&r, 3), 4);
  cr_assert_eq(cj_rng_poisson(&r, 500), 504);
  cr_assert_eq(cj_rng_binomial(&r, 20, 0.2), 4);
  cr_assert_eq(cj_rng_binomial(&r, 100000, 0.3), 29949);
  cr_assert_eq(cj_rng_below(&r, 1000000007), 34377579);
  cr_assert_eq(r.counter, 7);
  cr_assert_eq(r.used, 2);
}

Test(cursor, default_generator_is_seed0_stream0)
{
  cj_rng *d = cj_default_rng(), r;
  cj_rng_init(d, 0, 0);
  cj_rng_init(&r, 0, 0);
  for (int i = 0; i < 10; i++) cr_assert_eq(cj_rng_u32(d), cj_rng_u32(&r));
  cr_assert_eq(cj_default_rng(), d);
}

/* ---- deterministic elementary functions --------------------------------------- */

static double ulps(double a, double b)
{
  if (a == b) return 0;
  return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

Test(detmath, log_within_two_ulp_of_libm)
{
  cj_rng r;
  double worst = 0;
  cj_rng_init(&r, 1, 0);
  for (int i = 0; i < 200000; i++) {
    double x = ldexp(0.5 + 0.5 * cj_rng_uniform(&r), (int)cj_rng_below(&r, 2100) - 1074);
    if (x == 0 || x == 1) continue;
    double e = ulps(cj_rng_log(x), log(x));
    if (e > worst) worst = e;
  }
  for (int i = 0; i < 100000; i++) {          /* near 1, where log is hardest */
    double x = 1 + (cj_rng_uniform(&r) - 0.5) * 1e-3;
    if (x == 1) continue;
    double e = ulps(cj_rng_log(x), log(x));
    if (e > worst) worst = e;
  }
  cr_assert_leq(worst, 2, "worst log error %g ulp", worst);
  cr_assert_eq(cj_rng_log(1), 0);
  cr_assert(isinf(cj_rng_log(0)) && cj_rng_log(0) < 0);
  cr_assert(isnan(cj_rng_log(-1)));
  cr_assert(isinf(cj_rng_log(INFINITY)));
  cr_assert_eq(cj_rng_log(0x1p-1074), log(0x1p-1074));
}

Test(detmath, exp_within_two_ulp_of_libm)
{
  cj_rng r;
  double worst = 0;
  cj_rng_init(&r, 2, 0);
  for (int i = 0; i < 200000; i++) {
    double x = (cj_rng_uniform(&r) - 0.5) * 1400;
    double e = ulps(cj_rng_exp(x), exp(x));
    if (exp(x) > 0x1p-1022 && e > worst) worst = e;
  }
  cr_assert_leq(worst, 2, "worst exp error %g ulp", worst);
  cr_assert_eq(cj_rng_exp(0), 1);
  cr_assert(isinf(cj_rng_exp(710)));
  cr_assert_eq(cj_rng_exp(-746), 0);
  cr_assert_float_eq(cj_rng_exp(-740), exp(-740), 1e-320);
}

Test(detmath, sincos2pi_within_1e15_of_libm)
{
  cj_rng r;
  double worst = 0;
  cj_rng_init(&r, 3, 0);
  for (int i = 0; i < 200000; i++) {
    double t = cj_rng_uniform(&r), s, c;
    cj_rng_sincos2pi(t, &s, &c);
    double e = fmax(fabs(s - sin(2 * M_PI * t)), fabs(c - cos(2 * M_PI * t)));
    if (e > worst) worst = e;
  }
  cr_assert_lt(worst, 1e-15, "worst sincos error %g", worst);
  double s, c;
  cj_rng_sincos2pi(0.25, &s, &c);
  cr_assert_eq(s, 1);
  cr_assert_eq(c, 0);
  cj_rng_sincos2pi(-0.25, &s, &c);
  cr_assert_eq(s, -1);
}

Test(detmath, logfact_matches_lgamma)
{
  for (int64_t k = 0; k < 2000000; k += k < 100 ? 1 : k / 7) {
    double a = cj_rng_logfact(k), b = lgamma((double)k + 1);
    cr_assert_leq(fabs(a - b), 2e-15 * fmax(1, b), "k = %lld: %.17g vs %.17g",
                  (long long)k, a, b);
  }
  cr_assert_float_eq(cj_rng_logfact(1000000000000LL), lgamma(1e12 + 1), 1e-3);
}

/* ---- moments ------------------------------------------------------------------ */

typedef double (*sampler)(cj_rng *r, const double *par);

/* Sample mean and variance of n draws against mean m and variance v, each
 * within 5 standard errors: SE(mean) = sqrt(v/n), SE(var) = sqrt((mu4 - v^2)/n). */
static void moments(sampler f, const double *par, double m, double v, double mu4, const char *what)
{
  const int n = 1000000;
  cj_rng r;
  double s = 0, ss = 0, mean, var;
  cj_rng_init(&r, 2024, 9);
  for (int i = 0; i < n; i++) {
    double x = f(&r, par) - m;                  /* centred: no cancellation */
    s += x;
    ss += x * x;
  }
  mean = s / n;
  var = ss / n - mean * mean;
  cr_assert_lt(fabs(mean), 5 * sqrt(v / n), "%s: mean off by %g (SE %g)", what, mean, sqrt(v / n));
  cr_assert_lt(fabs(var - v), 5 * sqrt((mu4 - v * v) / n), "%s: variance %g vs %g (SE %g)",
               what, var, v, sqrt((mu4 - v * v) / n));
}

static double s_unif(cj_rng *r, const double *p) { (void)p; return cj_rng_uniform(r); }
static double s_norm(cj_rng *r, const double *p) { (void)p; return cj_rng_normal(r); }
static double s_expo(cj_rng *r, const double *p) { (void)p; return cj_rng_exponential(r); }
static double s_pois(cj_rng *r, const double *p) { return (double)cj_rng_poisson(r, p[0]); }
static double s_binom(cj_rng *r, const double *p) { return (double)cj_rng_binomial(r, (int64_t)p[0], p[1]); }
static double s_below(cj_rng *r, const double *p) { return (double)cj_rng_below(r, (uint64_t)p[0]); }

Test(moments, uniform_normal_exponential)
{
  moments(s_unif, NULL, 0.5, 1.0 / 12, 1.0 / 80, "uniform");
  moments(s_norm, NULL, 0, 1, 3, "normal");
  moments(s_expo, NULL, 1, 1, 9, "exponential");
}

Test(moments, poisson_both_branches)
{
  static const double lams[] = { 0.05, 3, 9.99, 10, 47.5, 1e4, 1e9 };
  for (size_t i = 0; i < sizeof lams / sizeof *lams; i++) {
    char what[64];
    double l = lams[i];
    snprintf(what, sizeof what, "poisson(%g)", l);
    moments(s_pois, &l, l, l, l + 3 * l * l, what);
  }
}

Test(moments, binomial_both_branches_and_symmetry)
{
  static const double pars[][2] = { { 20, 0.2 }, { 1000000, 5e-6 }, { 1000, 0.3 },
                                    { 100, 0.8 }, { 7, 0.97 }, { 1000000000, 0.5 } };
  for (size_t i = 0; i < sizeof pars / sizeof *pars; i++) {
    char what[64];
    double n = pars[i][0], p = pars[i][1], q = 1 - p, v = n * p * q;
    snprintf(what, sizeof what, "binomial(%g, %g)", n, p);
    moments(s_binom, pars[i], n * p, v, v * (1 + 3 * (n - 2) * p * q), what);
  }
}

Test(moments, below_small_and_64bit)
{
  double n = 10, big = 1e15;
  moments(s_below, &n, 4.5, (n * n - 1) / 12, (n * n - 1) * (3 * n * n - 7) / 240, "below(10)");
  moments(s_below, &big, (big - 1) / 2, (big * big - 1) / 12,
          (big * big - 1) * (3 * big * big - 7) / 240, "below(1e15)");
}

Test(moments, below_has_no_modulo_bias)
{
  /* n = 3 * 2^30: plain (x mod n) would give values < 2^30 half the time,
   * and plain (x n) >> 32 multiples of 3 half the time; both should be 1/3. */
  const int N = 1000000;
  cj_rng r;
  uint64_t n = 3ull << 30;
  int low = 0, mult3 = 0;
  cj_rng_init(&r, 11, 0);
  for (int i = 0; i < N; i++) {
    uint64_t x = cj_rng_below(&r, n);
    cr_assert_lt(x, n);
    low += x < (1ull << 30);
    mult3 += x % 3 == 0;
  }
  double p = 1.0 / 3, se = sqrt(p * (1 - p) / N);
  cr_assert_lt(fabs((double)low / N - p), 5 * se, "fraction below 2^30: %g", (double)low / N);
  cr_assert_lt(fabs((double)mult3 / N - p), 5 * se, "fraction of multiples of 3: %g",
               (double)mult3 / N);
}

/* ---- chi-square goodness of fit ------------------------------------------------------- */

/* The upper critical value of chi-square with df degrees of freedom at
 * p ~ 1e-6 (Wilson-Hilferty, z = 4.75). */
static double chi2crit(int df)
{
  double a = 2.0 / (9.0 * df), z = 4.75;
  return df * pow(1 - a + z * sqrt(a), 3);
}

/* Counts of n draws in categories 0..ncat-1 (the last one open above, the
 * first open below) against probabilities pk; categories are pooled from the
 * edges so each expected count is >= 5. Asserts chi2 < critical. */
static void chi2test(const int64_t *count, const double *pk, int ncat, int64_t n, const char *what)
{
  double chi2 = 0, e = 0, o = 0;
  int df = -1;
  for (int k = 0; k < ncat; k++) {
    e += pk[k] * n;
    o += count[k];
    if (e >= 5 || k == ncat - 1) {
      chi2 += (o - e) * (o - e) / (e > 0 ? e : 1e-300);
      df++;
      e = o = 0;
    }
  }
  cr_assert_gt(df, 0, "%s: too few categories", what);
  cr_assert_lt(chi2, chi2crit(df), "%s: chi2 = %g with %d df (critical %g)", what, chi2, df,
               chi2crit(df));
}

/* pmf by libm's lgamma (an independent computation) */
static double poisson_pmf(double l, int64_t k)
{
  return exp(-l + k * log(l) - lgamma((double)k + 1));
}

static double binom_pmf(int64_t n, double p, int64_t k)
{
  return exp(lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma((double)(n - k) + 1) + k * log(p) +
             (n - k) * log1p(-p));
}

static void chi2_poisson(double l)
{
  const int64_t N = 1000000;
  int lo = (int)fmax(0, floor(l - 7 * sqrt(l))), hi = (int)ceil(l + 7 * sqrt(l) + 10);
  int ncat = hi - lo + 1;
  int64_t *cnt = calloc((size_t)ncat, sizeof *cnt);
  double *pk = calloc((size_t)ncat, sizeof *pk), tot = 0;
  cj_rng r;
  char what[64];
  cj_rng_init(&r, 99, 1);
  for (int64_t i = 0; i < N; i++) {
    int64_t x = cj_rng_poisson(&r, l);
    cnt[x < lo ? 0 : x > hi ? ncat - 1 : x - lo]++;
  }
  for (int k = 0; k < ncat; k++) tot += pk[k] = poisson_pmf(l, lo + k);
  /* the tail below lo (< 1e-11) is left out; the one above hi joins the last cell */
  pk[ncat - 1] += fmax(0, 1 - tot);
  snprintf(what, sizeof what, "poisson(%g)", l);
  chi2test(cnt, pk, ncat, N, what);
  free(cnt);
  free(pk);
}

Test(chi2, poisson_inversion_and_ptrs)
{
  chi2_poisson(0.7);
  chi2_poisson(6.5);
  chi2_poisson(10);
  chi2_poisson(33.3);
  chi2_poisson(2500);
}

static void chi2_binomial(int64_t n, double p)
{
  const int64_t N = 1000000;
  double m = n * p, sd = sqrt(n * p * (1 - p));
  int64_t lo = (int64_t)fmax(0, floor(m - 8 * sd)), hi = (int64_t)fmin((double)n, ceil(m + 8 * sd));
  int ncat = (int)(hi - lo + 1);
  int64_t *cnt = calloc((size_t)ncat, sizeof *cnt);
  double *pk = calloc((size_t)ncat, sizeof *pk);
  cj_rng r;
  char what[64];
  cj_rng_init(&r, 77, 2);
  for (int64_t i = 0; i < N; i++) {
    int64_t x = cj_rng_binomial(&r, n, p);
    cr_assert(x >= 0 && x <= n);
    cnt[x < lo ? 0 : x > hi ? ncat - 1 : x - lo]++;
  }
  for (int k = 0; k < ncat; k++) pk[k] = binom_pmf(n, p, lo + k);
  snprintf(what, sizeof what, "binomial(%lld, %g)", (long long)n, p);
  chi2test(cnt, pk, ncat, N, what);
  free(cnt);
  free(pk);
}

/* A prepared binomial (cj_binom_init/draw, with or without the tabulated
 * cumulative sums of the inversion) gives exactly cj_rng_binomial's numbers:
 * inversion, BTRS, p > 1/2 both ways, n above the inversion's 1000 cap. */
Test(binom, prepared_and_tabulated_draws_equal_rng_binomial)
{
  const struct { int64_t n; double p; } cs[] = {
    { 1000, 0.002 }, { 10000, 0.005 }, { 100, 0.8 }, { 10, 0.6 }, { 5000000, 1e-6 }, { 3, 0.3 }, { 0, 0.5 }, { 7, 1.0 },
  };
  static double buf[1001];
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    cj_binom B, T;
    cj_binom_init(&B, cs[c].n, cs[c].p);
    cj_binom_init(&T, cs[c].n, cs[c].p);
    int64_t len = cj_binom_tabulate(&T, NULL, 0);
    cr_assert(len <= 1001);
    if (len) cr_assert_eq(cj_binom_tabulate(&T, buf, len), len);
    cj_rng a, b, d;
    cj_rng_init(&a, 42, 7); cj_rng_init(&b, 42, 7); cj_rng_init(&d, 42, 7);
    for (int k = 0; k < 20000; k++) {
      int64_t x = cj_rng_binomial(&a, cs[c].n, cs[c].p);
      cr_assert_eq(cj_binom_draw(&B, &b), x, "n %lld p %g draw %d", (long long)cs[c].n, cs[c].p, k);
      cr_assert_eq(cj_binom_draw(&T, &d), x, "tabulated: n %lld p %g draw %d", (long long)cs[c].n, cs[c].p, k);
    }
  }
}

Test(chi2, binomial_inversion_btrs_and_symmetry)
{
  chi2_binomial(10, 0.3);          /* inversion */
  chi2_binomial(1000000, 2e-6);    /* inversion, tiny p */
  chi2_binomial(40, 0.25);         /* BTRS, n p = 10 */
  chi2_binomial(5000, 0.1);        /* BTRS */
  chi2_binomial(30, 0.9);          /* symmetric, inversion on 1-p */
  chi2_binomial(300, 0.7);         /* symmetric, BTRS */
}

Test(chi2, below_is_uniform)
{
  const int64_t N = 700000;
  int64_t cnt[7] = { 0 };
  double pk[7];
  cj_rng r;
  cj_rng_init(&r, 5, 5);
  for (int64_t i = 0; i < N; i++) cnt[cj_rng_below(&r, 7)]++;
  for (int k = 0; k < 7; k++) pk[k] = 1.0 / 7;
  chi2test(cnt, pk, 7, N, "below(7)");
}

static int permindex(const int64_t *p)    /* rank of a permutation of 0..3 */
{
  int rank = 0, fact[4] = { 6, 2, 1, 1 };
  for (int i = 0; i < 4; i++) {
    int smaller = 0;
    for (int j = i + 1; j < 4; j++) smaller += p[j] < p[i];
    rank += smaller * fact[i];
  }
  return rank;
}

Test(chi2, permutation_of_4_is_uniform_over_all_24)
{
  const int64_t N = 480000;
  int64_t cnt[24] = { 0 }, perm[4];
  double pk[24];
  cj_array a;
  int64_t shape[1] = { 4 };
  cj_rng r;
  cj_rng_init(&r, 4, 4);
  double buf[4];
  cr_assert_eq(cj_array_wrap(&a, buf, CJ_F64, 1, shape), CJ_OK);
  for (int64_t i = 0; i < N; i++) {
    int seen = 0;
    cr_assert_eq(cj_rng_permutation(&r, &a, 0), CJ_OK);
    for (int k = 0; k < 4; k++) {
      perm[k] = (int64_t)buf[k];
      seen |= 1 << perm[k];
    }
    cr_assert_eq(seen, 15);
    cnt[permindex(perm)]++;
  }
  for (int k = 0; k < 24; k++) pk[k] = 1.0 / 24;
  chi2test(cnt, pk, 24, N, "permutation(4)");
}

/* ---- choice ------------------------------------------------------------------ */

Test(choice, without_replacement_is_distinct_and_uniform)
{
  /* k <= n/4 takes Floyd's path, k > n/4 the partial Fisher-Yates */
  static const int64_t ks[] = { 2, 7 };
  for (int t = 0; t < 2; t++) {
    const int64_t n = 10, k = ks[t], N = 200000;
    int64_t out[10], first[10] = { 0 }, any[10] = { 0 };
    double pk[10];
    cj_rng r;
    cj_rng_init(&r, 8, (uint64_t)t);
    for (int64_t i = 0; i < N; i++) {
      int seen = 0;
      cr_assert_eq(cj_rng_choice(&r, n, k, 0, NULL, out), CJ_OK);
      for (int j = 0; j < k; j++) {
        cr_assert(out[j] >= 0 && out[j] < n);
        cr_assert_eq(seen & (1 << out[j]), 0, "repeated index");
        seen |= 1 << out[j];
        any[out[j]]++;
      }
      first[out[0]]++;                 /* the order is random too */
    }
    for (int j = 0; j < n; j++) pk[j] = 1.0 / n;
    chi2test(first, pk, (int)n, N, "choice first pick");
    for (int j = 0; j < n; j++) cr_assert_lt(fabs(any[j] - (double)N * k / n), 5 * sqrt((double)N * k / n));
  }
}

Test(choice, large_n_small_k_uses_little_memory)
{
  int64_t out[5];
  cj_rng r;
  cj_rng_init(&r, 1, 1);
  cr_assert_eq(cj_rng_choice(&r, 4000000000000LL, 5, 0, NULL, out), CJ_OK);
  for (int i = 0; i < 5; i++) {
    cr_assert(out[i] >= 0 && out[i] < 4000000000000LL);
    for (int j = 0; j < i; j++) cr_assert_neq(out[i], out[j]);
  }
}

Test(choice, weighted_with_replacement_follows_weights)
{
  double w[5] = { 1, 0, 2, 3, 4 }, pk[5];
  int64_t shape[1] = { 5 }, cnt[5] = { 0 }, out[1000];
  cj_array wa;
  cj_rng r;
  cj_array_wrap(&wa, w, CJ_F64, 1, shape);
  cj_rng_init(&r, 3, 3);
  for (int i = 0; i < 500; i++) {
    cr_assert_eq(cj_rng_choice(&r, 5, 1000, 1, &wa, out), CJ_OK);
    for (int j = 0; j < 1000; j++) cnt[out[j]]++;
  }
  cr_assert_eq(cnt[1], 0);
  for (int k = 0; k < 5; k++) pk[k] = w[k] / 10;
  chi2test(cnt, pk, 5, 500000, "weighted choice");
}

Test(choice, weighted_without_replacement_is_successive_sampling)
{
  /* P(first = i, second = j) = w_i / W * w_j / (W - w_i), enumerated. */
  double w[3] = { 1, 2, 3 }, pk[9] = { 0 }, W = 6;
  int64_t shape[1] = { 3 }, cnt[9] = { 0 }, out[2];
  const int64_t N = 300000;
  cj_array wa;
  cj_rng r;
  cj_array_wrap(&wa, w, CJ_F64, 1, shape);
  cj_rng_init(&r, 6, 6);
  for (int64_t i = 0; i < N; i++) {
    cr_assert_eq(cj_rng_choice(&r, 3, 2, 0, &wa, out), CJ_OK);
    cr_assert_neq(out[0], out[1]);
    cnt[out[0] * 3 + out[1]]++;
  }
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      if (i != j) pk[i * 3 + j] = w[i] / W * w[j] / (W - w[i]);
  /* drop the impossible diagonal cells from the test */
  int64_t c6[6];
  double p6[6];
  int m = 0;
  for (int k = 0; k < 9; k++)
    if (k % 4) { c6[m] = cnt[k]; p6[m] = pk[k]; m++; }
  chi2test(c6, p6, 6, N, "weighted choice without replacement");
}

Test(choice, rejects_bad_arguments)
{
  int64_t out[4];
  double w[3] = { 1, -1, 1 }, z[3] = { 0, 0, 1 };
  int64_t shape[1] = { 3 };
  cj_array wa, za;
  cj_rng r;
  cj_rng_init(&r, 1, 1);
  cr_assert_eq(cj_rng_choice(&r, 3, 4, 0, NULL, out), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "without replacement"));
  cr_assert_eq(cj_rng_choice(&r, 0, 1, 1, NULL, out), CJ_EINVAL);
  cr_assert_eq(cj_rng_choice(&r, 3, -1, 1, NULL, out), CJ_EINVAL);
  cj_array_wrap(&wa, w, CJ_F64, 1, shape);
  cr_assert_eq(cj_rng_choice(&r, 3, 1, 1, &wa, out), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "weight 2"), "%s", cj_errmsg());
  cr_assert_eq(cj_rng_choice(&r, 4, 1, 1, &wa, out), CJ_EINVAL);
  cj_array_wrap(&za, z, CJ_F64, 1, shape);
  cr_assert_eq(cj_rng_choice(&r, 3, 2, 0, &za, out), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "nonzero weights"), "%s", cj_errmsg());
  cr_assert_eq(cj_rng_choice(&r, 3, 2, 1, &za, out), CJ_OK);
  cr_assert(out[0] == 2 && out[1] == 2);
}

/* ---- fills -------------------------------------------------------------------- */

Test(fill, contiguous_equals_scalar_calls)
{
  double buf[1000];
  int64_t shape[2] = { 25, 40 };
  cj_array a;
  cj_rng r, s;
  cj_array_wrap(&a, buf, CJ_F64, 2, shape);
  cj_rng_init(&r, 12, 0);
  cj_rng_init(&s, 12, 0);
  cr_assert_eq(cj_rng_fill_normal(&r, &a, 2, 3), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], 2 + 3 * cj_rng_normal(&s));
  cr_assert_eq(cj_rng_fill_uniform(&r, &a, -1, 1), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], -1 + 2 * cj_rng_uniform(&s));
  cr_assert_eq(cj_rng_fill_poisson(&r, &a, 30), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], (double)cj_rng_poisson(&s, 30));
  cr_assert_eq(cj_rng_fill_binomial(&r, &a, 50, 0.4), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], (double)cj_rng_binomial(&s, 50, 0.4));
  cr_assert_eq(cj_rng_fill_exponential(&r, &a, 0.5), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], 0.5 * cj_rng_exponential(&s));
  cr_assert_eq(cj_rng_fill_below(&r, &a, 6, 1), CJ_OK);
  for (int i = 0; i < 1000; i++) cr_assert_eq(buf[i], 1.0 + (double)cj_rng_below(&s, 6));
}

Test(fill, strided_views_get_row_major_order)
{
  /* a transposed view and an every-other-column slice: element (i, j) gets
   * the (i * cols + j)-th number, whatever the memory layout */
  float buf[600];
  int64_t shape[2] = { 20, 30 };
  cj_array base, t, sl;
  cj_rng r, s;
  cj_array_wrap(&base, buf, CJ_F32, 2, shape);
  cr_assert_eq(cj_array_transpose(&t, &base, 0, 1), CJ_OK);     /* 30 x 20 */
  cj_rng_init(&r, 13, 0);
  cj_rng_init(&s, 13, 0);
  cr_assert_eq(cj_rng_fill_uniform(&r, &t, 0, 10), CJ_OK);
  for (int i = 0; i < 30; i++)
    for (int j = 0; j < 20; j++) {
      int64_t idx[2] = { i, j };
      cr_assert_eq(cj_array_get(&t, idx), (double)(float)(10 * cj_rng_uniform(&s)));
    }
  cr_assert_eq(cj_array_slice(&sl, &base, 1, 1, 15, 2), CJ_OK);  /* 20 x 15 */
  memset(buf, 0, sizeof buf);
  cr_assert_eq(cj_rng_fill_below(&r, &sl, 100, 0), CJ_OK);
  for (int i = 0; i < 20; i++)
    for (int j = 0; j < 30; j++) {
      double v = buf[i * 30 + j];
      if (j % 2 == 0) cr_assert_eq(v, 0, "untouched column written");
      else cr_assert_eq(v, (double)cj_rng_below(&s, 100));
    }
}

Test(fill, dtypes_and_ranges)
{
  uint8_t u8[2000];
  int32_t i32[2000];
  float f32[2000];
  int64_t shape[1] = { 2000 };
  cj_array a;
  cj_rng r;
  cj_rng_init(&r, 14, 0);
  cj_array_wrap(&a, f32, CJ_F32, 1, shape);
  cr_assert_eq(cj_rng_fill_uniform(&r, &a, 1, 1.0000001), CJ_OK);  /* few floats in range */
  for (int i = 0; i < 2000; i++) cr_assert(f32[i] >= 1 && f32[i] < (float)1.0000001);
  cj_array_wrap(&a, i32, CJ_I32, 1, shape);
  cr_assert_eq(cj_rng_fill_uniform(&r, &a, 0, 1), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "int32"), "%s", cj_errmsg());
  cr_assert_eq(cj_rng_fill_poisson(&r, &a, 1e6), CJ_OK);
  for (int i = 0; i < 2000; i++) cr_assert(i32[i] > 990000 && i32[i] < 1010000);
  cj_array_wrap(&a, u8, CJ_U8, 1, shape);
  cr_assert_eq(cj_rng_fill_binomial(&r, &a, 255, 0.5), CJ_OK);
  cr_assert_eq(cj_rng_fill_poisson(&r, &a, 300), CJ_ERANGE);
  cr_assert(strstr(cj_errmsg(), "does not fit a uint8"), "%s", cj_errmsg());
  cr_assert_eq(cj_rng_permutation(&r, &a, 0), CJ_ERANGE);
  shape[0] = 256;
  cj_array_wrap(&a, u8, CJ_U8, 1, shape);
  cr_assert_eq(cj_rng_permutation(&r, &a, 0), CJ_OK);
  int seen[256] = { 0 };
  for (int i = 0; i < 256; i++) seen[u8[i]]++;
  for (int i = 0; i < 256; i++) cr_assert_eq(seen[i], 1);
}

Test(fill, rejects_bad_parameters)
{
  double buf[4];
  int64_t shape[1] = { 4 };
  cj_array a;
  cj_rng r;
  cj_rng_init(&r, 1, 0);
  cj_array_wrap(&a, buf, CJ_F64, 1, shape);
  cr_assert_eq(cj_rng_fill_uniform(&r, &a, 1, 1), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_uniform(&r, &a, -INFINITY, 1), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_normal(&r, &a, 0, -1), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "standard deviation"));
  cr_assert_eq(cj_rng_fill_normal(&r, &a, NAN, 1), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_exponential(&r, &a, -2), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_poisson(&r, &a, -1), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_poisson(&r, &a, NAN), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_binomial(&r, &a, -1, 0.5), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_binomial(&r, &a, 10, 1.5), CJ_EINVAL);
  cr_assert_eq(cj_rng_fill_below(&r, &a, 0, 0), CJ_EINVAL);
  cr_assert_eq(cj_rng_poisson(&r, -3), -1);
  cr_assert_eq(cj_rng_binomial(&r, 5, NAN), -1);
  cr_assert_eq(cj_rng_below(&r, 0), 0);
  cr_assert_eq(cj_rng_binomial(&r, 9, 1), 9);
  cr_assert_eq(cj_rng_binomial(&r, 9, 0), 0);
  cr_assert_eq(cj_rng_poisson(&r, 0), 0);
}

Test(fill, shuffle_keeps_elements_of_a_strided_view)
{
  int32_t buf[100];
  int64_t shape[1] = { 100 };
  cj_array a, v;
  cj_rng r;
  for (int i = 0; i < 100; i++) buf[i] = i;
  cj_array_wrap(&a, buf, CJ_I32, 1, shape);
  cr_assert_eq(cj_array_slice(&v, &a, 0, 99, 50, -2), CJ_OK);    /* odd elements, reversed */
  cj_rng_init(&r, 1, 0);
  cr_assert_eq(cj_rng_shuffle(&r, &v), CJ_OK);
  int seen[100] = { 0 }, moved = 0;
  for (int i = 0; i < 100; i++) {
    if (i % 2 == 0) cr_assert_eq(buf[i], i);
    else { cr_assert(buf[i] % 2 == 1); seen[buf[i]]++; moved += buf[i] != i; }
  }
  for (int i = 1; i < 100; i += 2) cr_assert_eq(seen[i], 1);
  cr_assert_gt(moved, 30);
}

/* ---- geometric gaps (cj_geom) ---------------------------------------------------------- */

/* The ziggurat's layers have equal area and close at the top: the last
 * recurrence step lands on exp(-0) = 1 (an independent check of the
 * constant R and of the tables). */
Test(geom, ziggurat_tables_close)
{
  cj_geom G;
  cj_geom_init(&G, 0.1);
  const double v = (7.69711747013104972 + 1) * exp(-7.69711747013104972);
  cr_assert_gt(G.x[255], 0);
  cr_assert_lt(G.x[255], G.x[254]);
  cr_assert_lt(fabs(exp(-G.x[255]) + v / G.x[255] - 1), 1e-12, "top %.17g", exp(-G.x[255]) + v / G.x[255]);
  for (int i = 1; i < 255; i++)
    cr_assert_lt(fabs(G.x[i] * (exp(-G.x[i + 1]) - exp(-G.x[i])) - v), 1e-15, "layer %d", i);
}

/* Gaps against the exact pmf p (1-p)^k (libm's pow: independent), 10^6
 * draws, plus the mean (1-p)/p within 5 standard errors. */
static void chi2_geom(double p)
{
  const int64_t N = 1000000;
  const double q = 1 - p, mean = q / p, sd = sqrt(q) / p;
  int ncat = (int)fmin(4000, ceil(12 / p)) + 1;
  int64_t *cnt = calloc((size_t)ncat, sizeof *cnt);
  double *pk = calloc((size_t)ncat, sizeof *pk), s = 0;
  cj_geom G;
  cj_rng r;
  char what[64];
  cj_geom_init(&G, p);
  cj_rng_init(&r, 31, 4);
  for (int64_t i = 0; i < N; i++) {
    int64_t x = cj_geom_draw(&G, &r);
    cr_assert(x >= 0);
    s += (double)x;
    cnt[x >= ncat - 1 ? ncat - 1 : x]++;
  }
  /* cells of width w when 1/p is large: P(k w <= G < (k+1) w) */
  for (int k = 0; k < ncat - 1; k++) pk[k] = pow(q, k) - pow(q, k + 1);
  pk[ncat - 1] = pow(q, ncat - 1);
  snprintf(what, sizeof what, "geometric(%g)", p);
  chi2test(cnt, pk, ncat, N, what);
  cr_assert_lt(fabs(s / N - mean), 5 * sd / sqrt((double)N), "%s: mean %g vs %g", what, s / N, mean);
  free(cnt);
  free(pk);
}

Test(geom, chi2_against_exact_pmf)
{
  chi2_geom(0.5);
  chi2_geom(0.3);
  chi2_geom(0.02);
  chi2_geom(0.002);
  chi2_geom(0.9999);
}

/* Tail probabilities far out (the ziggurat's base layer and tail, wedges of
 * the top layers): P(G >= k) = (1-p)^k at k = 1/p ... 12/p, p = 1e-4. */
Test(geom, tail_probabilities)
{
  const int64_t N = 2000000;
  const double p = 1e-4;
  static const int mult[] = { 1, 3, 6, 9, 12 };
  int64_t above[5] = { 0 };
  cj_geom G;
  cj_rng r;
  cj_geom_init(&G, p);
  cj_rng_init(&r, 5, 6);
  for (int64_t i = 0; i < N; i++) {
    int64_t x = cj_geom_draw(&G, &r);
    for (int m = 0; m < 5; m++) above[m] += x >= (int64_t)(mult[m] / p);
  }
  for (int m = 0; m < 5; m++) {
    double P = pow(1 - p, mult[m] / p), se = sqrt(P * (1 - P) / N);
    cr_assert_lt(fabs((double)above[m] / N - P), 5 * se + 1.0 / N, "P(G >= %d/p) = %g vs %g",
                 mult[m], (double)above[m] / N, P);
  }
}

Test(geom, edge_probabilities_and_golden_values)
{
  cj_geom G;
  cj_rng r;
  cj_rng_init(&r, 20260101, 3);
  cj_geom_init(&G, 0);
  cr_assert_eq(cj_geom_draw(&G, &r), INT64_MAX);
  cj_geom_init(&G, NAN);
  cr_assert_eq(cj_geom_draw(&G, &r), INT64_MAX);
  cj_geom_init(&G, 1);
  cr_assert_eq(cj_geom_draw(&G, &r), 0);
  cr_assert_eq(r.counter, 0, "p = 0, 1 consume no words");
  cj_geom_init(&G, 1e-300);          /* beyond 2^62: reported as never */
  cr_assert_eq(cj_geom_draw(&G, &r), INT64_MAX);
  /* the reproducibility contract (connectivity of a seed): change only with
   * a documented break */
  cj_rng_init(&r, 20260101, 3);
  cj_geom_init(&G, 0.02);
  int64_t g[4];
  for (int i = 0; i < 4; i++) g[i] = cj_geom_draw(&G, &r);
  cr_assert(g[0] == 61 && g[1] == 75 && g[2] == 5 && g[3] == 132, "golden %lld %lld %lld %lld", (long long)g[0], (long long)g[1],
              (long long)g[2], (long long)g[3]);
  cr_assert(r.counter == 2 && r.used == 4);
}

/* cj_geom_fill gives the numbers of as many cj_geom_draw calls and leaves
 * the cursor where they do, from every offset within a block, for counts
 * across the run length (16 blocks), with wedges and tails (p = 0.3 and
 * 0.7 hit both often enough in 3000 draws). */
Test(geom, fill_equals_draws_and_leaves_the_cursor_alike)
{
  static const int64_t counts[] = { 1, 2, 7, 31, 32, 33, 64, 100, 3000 };
  static const double ps[] = { 0.3, 0.7, 1e-3 };
  int64_t *a = malloc(3000 * sizeof *a);
  for (size_t q = 0; q < 3; q++)
    for (int off = 0; off < 4; off++)
      for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        cj_geom G;
        cj_rng r1, r2;
        cj_geom_init(&G, ps[q]);
        cj_rng_init(&r1, 8, 9);
        cj_rng_init(&r2, 8, 9);
        for (int k = 0; k < off; k++) { cj_rng_u32(&r1); cj_rng_u32(&r2); }
        cj_geom_fill(&G, &r1, a, counts[c]);
        for (int64_t k = 0; k < counts[c]; k++)
          cr_assert_eq(a[k], cj_geom_draw(&G, &r2), "p %g offset %d count %lld draw %lld", ps[q], off,
                       (long long)counts[c], (long long)k);
        cr_assert_eq(r1.counter, r2.counter);
        cr_assert_eq(r1.used, r2.used);
        cr_assert_eq(cj_rng_u32(&r1), cj_rng_u32(&r2), "the next word after the fill");
        cr_assert_eq(cj_rng_uniform(&r1), cj_rng_uniform(&r2));
      }
  free(a);
}

/* cj_geom_walk gives the positions an independent loop of cj_geom_draw
 * calls gives (gap g after position x: next success at x + 1 + g, stop at
 * the first gap passing end - 1), across spans and probabilities that use
 * the runs of 32 gaps, the runs of 4 blocks and single blocks; with a small
 * cap, successive calls from the last position continue the same walk and
 * leave the cursor where as many draws do. */
Test(geom, walk_equals_draws_and_continues_after_cap)
{
  static const double ps[] = { 0.3, 0.7, 0.05, 1e-3 };
  static const int64_t spans[] = { 1, 5, 100, 4096, 70000 };
  static const int64_t caps[] = { 1, 7, 31, 32, 33, 256 };
  int64_t *want = malloc(70000 * sizeof *want), *got = malloc(70000 * sizeof *got);
  for (size_t q = 0; q < 4; q++)
    for (size_t s = 0; s < 5; s++)
      for (size_t c = 0; c < 6; c++) {
        const int64_t from = 17, end = from + spans[s];
        cj_geom G;
        cj_rng r1, r2;
        int64_t nw = 0, ng = 0, n, draws = 0;
        cj_geom_init(&G, ps[q]);
        cj_rng_init(&r1, 8, 9 + q);
        cj_rng_init(&r2, 8, 9 + q);
        for (int64_t x = from - 1;;) {
          const int64_t g = cj_geom_draw(&G, &r2);
          if (g >= end - x - 1) break;
          want[nw++] = x += 1 + g;
        }
        cj_rng_init(&r2, 8, 9 + q);
        do {
          n = cj_geom_walk(&G, &r1, ng ? got[ng - 1] + 1 : from, end, got + ng, caps[c]);
          ng += n;
          if (n == caps[c]) {    /* the cursor is after the ng-th gap */
            for (; draws < ng; draws++) cj_geom_draw(&G, &r2);
            cr_assert(r1.counter == r2.counter && r1.used == r2.used, "p %g span %lld cap %lld: cursor after %lld",
                      ps[q], (long long)spans[s], (long long)caps[c], (long long)ng);
          }
        } while (n == caps[c]);
        cr_assert_eq(ng, nw, "p %g span %lld cap %lld: %lld successes, draws give %lld", ps[q], (long long)spans[s],
                     (long long)caps[c], (long long)ng, (long long)nw);
        for (int64_t k = 0; k < nw; k++) cr_assert_eq(got[k], want[k], "p %g span %lld success %lld", ps[q], (long long)spans[s], (long long)k);
      }
  /* p = 1: every position, no words; p = 0: none */
  cj_geom G;
  cj_rng r;
  cj_rng_init(&r, 1, 2);
  cj_geom_init(&G, 1);
  cr_assert_eq(cj_geom_walk(&G, &r, 3, 10, got, 256), 7);
  for (int k = 0; k < 7; k++) cr_assert_eq(got[k], 3 + k);
  cj_geom_init(&G, 0);
  cr_assert_eq(cj_geom_walk(&G, &r, 3, 10, got, 256), 0);
  cr_assert_eq(r.counter, 0);
  free(want); free(got);
}
