/*
 * test_boltzmann.c — vm/core/boltzmann.h: the keyed random numbers, exact
 * enumeration against a direct sum over states written here, the {0,1} <->
 * +-1 change of variables, Gibbs and Metropolis sampling against exact
 * marginals (tolerances from the number of sweeps), the independence of a
 * chain from the number of chains and from how a run is cut, Hopfield
 * storage and recall, RBM free energy / partition function / pseudo-
 * likelihood against direct sums, the invariance of RBM samples and
 * training under batching and continuation, and Ising bookkeeping.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "boltzmann.h"
#include "rng.h"

static double randu(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) / 16777216.0 - 0.5;
}

/* A random symmetric zero-diagonal W (scale sc) and b. */
static void randmodel(unsigned seed, int64_t n, double sc, double *W, double *b)
{
  unsigned s = seed;
  for (int64_t i = 0; i < n; i++) {
    W[i * n + i] = 0;
    b[i] = sc * randu(&s);
    for (int64_t j = i + 1; j < n; j++) W[i * n + j] = W[j * n + i] = 2 * sc * randu(&s);
  }
}

/* Direct sums over the 2^n states, in long double. */
static void brute(const double *W, const double *b, int64_t n, double beta, double *logZ, double *mean,
                  double *corr, double *p)
{
  int64_t N = (int64_t)1 << n;
  long double Z = 0, m[32] = { 0 }, c[32 * 32] = { 0 };
  for (int64_t x = 0; x < N; x++) {
    double s[32], E = 0;
    long double w;
    for (int64_t i = 0; i < n; i++) s[i] = (x >> i) & 1 ? 1 : -1;
    for (int64_t i = 0; i < n; i++) {
      E -= b[i] * s[i];
      for (int64_t j = 0; j < n; j++) E -= 0.5 * W[i * n + j] * s[i] * s[j];
    }
    w = expl(-(long double)beta * E);
    Z += w;
    if (p) p[x] = (double)w;
    for (int64_t i = 0; i < n; i++) {
      m[i] += w * s[i];
      for (int64_t j = 0; j < n; j++) c[i * n + j] += w * s[i] * s[j];
    }
  }
  *logZ = (double)logl(Z);
  for (int64_t i = 0; i < n; i++) {
    mean[i] = (double)(m[i] / Z);
    for (int64_t j = 0; j < n; j++) corr[i * n + j] = (double)(c[i * n + j] / Z);
  }
  if (p)
    for (int64_t x = 0; x < N; x++) p[x] = (double)((long double)p[x] / Z);
}

/* ---- keyed random numbers ------------------------------------------------------------ */

Test(boltzmann, keyed_uniforms_do_not_depend_on_how_they_are_drawn)
{
  double u[9];
  for (uint64_t u0 = 0; u0 < 4; u0++) {
    cj_bz_uniforms(7, CJ_BZ_UPDATE, 3, 11, u0, 9, u);
    for (int k = 0; k < 9; k++)
      cr_assert_eq(u[k], cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, u0 + (uint64_t)k), "unit %d", (int)u0 + k);
  }
  cr_assert_neq(cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, 0), cj_bz_uniform(7, CJ_BZ_UPDATE, 4, 11, 0));
  cr_assert_neq(cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, 0), cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 12, 0));
  cr_assert_neq(cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, 0), cj_bz_uniform(7, CJ_BZ_INIT, 3, 11, 0));
  cr_assert_neq(cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, 0), cj_bz_uniform(8, CJ_BZ_UPDATE, 3, 11, 0));
  /* the sweep's high bits count too */
  cr_assert_neq(cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11, 0),
                cj_bz_uniform(7, CJ_BZ_UPDATE, 3, 11 + ((uint64_t)1 << 32), 0));
}

/* The counter layout documented in boltzmann.h, through rng.h's cj_philox. */
static void documented_block(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep, uint64_t w0,
                             uint32_t out[4])
{
  uint32_t ctr[4] = { (uint32_t)w0, (uint32_t)sweep, (uint32_t)chain,
                      0x40000000u | purpose << 24 | ((uint32_t)(sweep >> 32) & 0xffffffu) };
  uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
  cj_philox(ctr, key, out);
}

Test(boltzmann, keyed_draws_follow_the_documented_counter_layout)
{
  uint64_t seed = 0x123456789abcdefull, sweep = ((uint64_t)5 << 32) + 77;
  uint32_t b[4], w[40];
  double u[40];
  cj_bz_uniforms(seed, CJ_BZ_UPDATE, 9, sweep, 3, 40, u);
  cj_bz_words(seed, CJ_BZ_ISING, 9, sweep, 3, 40, w);
  for (uint64_t k = 0; k < 40; k++) {
    uint64_t unit = 3 + k;
    documented_block(seed, CJ_BZ_UPDATE, 9, sweep, unit >> 1, b);
    cr_assert_eq(u[k], unit & 1 ? CJ_U01(b[2], b[3]) : CJ_U01(b[0], b[1]), "uniform of unit %llu",
                 (unsigned long long)unit);
    documented_block(seed, CJ_BZ_ISING, 9, sweep, unit >> 2, b);
    cr_assert_eq(w[k], b[unit & 3], "word of unit %llu", (unsigned long long)unit);
  }
  for (uint64_t u0 = 0; u0 < 4; u0++) {       /* any start, any length */
    uint32_t v[37];
    cj_bz_words(seed, CJ_BZ_ISING, 9, sweep, 3 + u0, 37, v);
    cr_assert(memcmp(v, w + u0, sizeof v) == 0);
  }
}

Test(boltzmann, keyed_uniforms_and_normals_have_the_right_moments)
{
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0;
  for (int k = 0; k < n; k++) {
    double u = cj_bz_uniform(1, CJ_BZ_UPDATE, (uint64_t)k % 7, (uint64_t)k / 7, 5);
    double z = cj_bz_normal(1, CJ_BZ_RBM_VN, 0, 0, (uint64_t)k);
    cr_assert(u >= 0 && u < 1);
    su += u;
    su2 += u * u;
    sn += z;
    sn2 += z * z;
  }
  /* 5 standard errors: SE(mean u) = sqrt(1/12/n), SE(mean z) = 1/sqrt(n), SE(mean z^2) = sqrt(2/n) */
  cr_assert(fabs(su / n - 0.5) < 5 * sqrt(1.0 / 12 / n), "mean u %g", su / n);
  cr_assert(fabs(su2 / n - 1.0 / 3) < 5 * sqrt(4.0 / 45 / n), "mean u^2 %g", su2 / n);
  cr_assert(fabs(sn / n) < 5 / sqrt(n), "mean z %g", sn / n);
  cr_assert(fabs(sn2 / n - 1) < 5 * sqrt(2.0 / n), "mean z^2 %g", sn2 / n);
}

Test(boltzmann, keyed_permutations_are_uniform)
{
  int64_t perm[5], count[5][5] = { { 0 } };
  const int reps = 50000;
  for (int r = 0; r < reps; r++) {
    int seen[5] = { 0 };
    cj_bz_permutation(3, CJ_BZ_HOPFIELD, 0, (uint64_t)r, 5, perm);
    for (int k = 0; k < 5; k++) {
      cr_assert(perm[k] >= 0 && perm[k] < 5);
      cr_assert(!seen[perm[k]]);
      seen[perm[k]] = 1;
      count[k][perm[k]]++;
    }
  }
  /* each position holds each value with probability 1/5: binomial, 5 SE */
  for (int k = 0; k < 5; k++)
    for (int v = 0; v < 5; v++)
      cr_assert(fabs(count[k][v] - reps / 5.0) < 5 * sqrt(reps * 0.2 * 0.8), "pos %d val %d: %lld", k, v,
                (long long)count[k][v]);
}

/* ---- checks, energy, change of variables ---------------------------------------------- */

Test(boltzmann, check_finds_asymmetry_diagonal_and_nan)
{
  double W[9] = { 0, 1, 2, 1, 0, 3, 2, 3, 0 }, b[3] = { 0, 0, 0 };
  int64_t i, j;
  cr_assert_eq(cj_bz_check(W, b, 3, &i, &j), CJ_OK);
  W[5] = 3.5;
  cr_assert_eq(cj_bz_check(W, b, 3, &i, &j), CJ_EINVAL);
  cr_assert(i == 1 && j == 2, "%lld %lld", (long long)i, (long long)j);
  W[5] = 3;
  W[4] = 0.1;
  cr_assert_eq(cj_bz_check(W, b, 3, &i, &j), CJ_EINVAL);
  cr_assert(i == 1 && j == 1);
  W[4] = 0;
  b[2] = NAN;
  cr_assert_eq(cj_bz_check(W, b, 3, &i, &j), CJ_EINVAL);
  cr_assert(i == 2 && j == -1);
}

Test(boltzmann, binary_and_spin_forms_give_the_same_energies)
{
  const int64_t n = 5;
  double W[25], b[5], J[25], h[25], W2[25], b2[5], c, c2;
  randmodel(4, n, 1.0, W, b);
  cj_bz_binary_to_spin(W, b, n, J, h, &c);
  for (int64_t x = 0; x < 32; x++) {
    double z[5], s[5], E01, E;
    for (int64_t i = 0; i < n; i++) {
      z[i] = (x >> i) & 1;
      s[i] = 2 * z[i] - 1;
    }
    cj_bz_energy(W, b, n, z, 1, &E01);
    cj_bz_energy(J, h, n, s, 1, &E);
    cr_assert(fabs(E01 - (E + c)) < 1e-12, "state %lld: %g vs %g", (long long)x, E01, E + c);
  }
  cj_bz_spin_to_binary(J, h, n, W2, b2, &c2);
  for (int64_t k = 0; k < n * n; k++) cr_assert(fabs(W2[k] - W[k]) < 1e-14);
  for (int64_t k = 0; k < n; k++) cr_assert(fabs(b2[k] - b[k]) < 1e-14);
  cr_assert(fabs(c2 - c) < 1e-12);
}

/* ---- exact enumeration ------------------------------------------------------------------ */

Test(boltzmann, exact_matches_a_direct_sum)
{
  for (int64_t n = 1; n <= 12; n += 11) {
    double W[144], b[12], mean[12], corr[144], p[4096], pk[32], bm[12], bc[144], bp[4096], blz;
    cj_bz_exact_out o;
    randmodel(9 + (unsigned)n, n, 0.8, W, b);
    memset(&o, 0, sizeof o);
    o.mean = mean;
    o.corr = corr;
    o.p = p;
    o.k = n < 5 ? n : 5;
    o.pk = pk;
    cr_assert_eq(cj_bz_exact(W, b, n, 0.7, &o), CJ_OK, "%s", cj_errmsg());
    brute(W, b, n, 0.7, &blz, bm, bc, bp);
    cr_assert(fabs(o.logZ - blz) < 1e-11 * (1 + fabs(blz)), "n=%lld logZ %.17g vs %.17g", (long long)n, o.logZ, blz);
    for (int64_t i = 0; i < n; i++) {
      cr_assert(fabs(mean[i] - bm[i]) < 1e-12, "mean %lld", (long long)i);
      for (int64_t j = 0; j < n; j++) cr_assert(fabs(corr[i * n + j] - bc[i * n + j]) < 1e-12);
    }
    for (int64_t x = 0; x < ((int64_t)1 << n); x++) {
      cr_assert(fabs(p[x] - bp[x]) < 1e-13, "p[%lld]", (long long)x);
    }
    for (int64_t y = 0; y < ((int64_t)1 << o.k); y++) {
      double acc = 0;
      for (int64_t x = y; x < ((int64_t)1 << n); x += (int64_t)1 << o.k) acc += bp[x];
      cr_assert(fabs(pk[y] - acc) < 1e-12, "marginal %lld", (long long)y);
    }
  }
}

Test(boltzmann, exact_energy_moments_match_a_direct_sum)
{
  double W[36], b[6], p[64], E1 = 0, E2 = 0;
  cj_bz_exact_out o;
  randmodel(2, 6, 1.0, W, b);
  memset(&o, 0, sizeof o);
  o.p = p;
  cr_assert_eq(cj_bz_exact(W, b, 6, 1.3, &o), CJ_OK);
  for (int64_t x = 0; x < 64; x++) {
    double s[6], E;
    for (int i = 0; i < 6; i++) s[i] = (x >> i) & 1 ? 1 : -1;
    cj_bz_energy(W, b, 6, s, 1, &E);
    E1 += p[x] * E;
    E2 += p[x] * E * E;
  }
  cr_assert(fabs(o.energy - E1) < 1e-12 && fabs(o.energy2 - E2) < 1e-11);
}

Test(boltzmann, exact_refuses_bad_sizes_and_temperatures)
{
  double W[1] = { 0 }, b[1] = { 0 };
  cj_bz_exact_out o;
  memset(&o, 0, sizeof o);
  cr_assert_eq(cj_bz_exact(W, b, 0, 1, &o), CJ_EINVAL);
  cr_assert_eq(cj_bz_exact(W, b, CJ_BZ_EXACT_MAX + 1, 1, &o), CJ_EINVAL);
  cr_assert_eq(cj_bz_exact(W, b, 1, 0, &o), CJ_EINVAL);
  cr_assert_eq(cj_bz_exact(W, b, 1, -1, &o), CJ_EINVAL);
  cr_assert_eq(cj_bz_exact(W, b, 1, INFINITY, &o), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "beta"));
}

/* ---- sampling ------------------------------------------------------------------------ */

/* Means and correlations of chains x sweeps samples against exact ones:
 * with 8 chains of 20000 sweeps and weak couplings (autocorrelation of a
 * few sweeps) the standard error of a mean is below 0.005; 0.03 is > 6 SE. */
static void compare(const double *W, const double *b, int64_t n, cj_bz_method method, cj_bz_order order)
{
  double mean[6], corr[36], sm[6] = { 0 }, sc[36] = { 0 }, *S, *state;
  cj_bz_exact_out o;
  cj_bz_gibbs_opts g;
  int64_t rows;
  memset(&o, 0, sizeof o);
  o.mean = mean;
  o.corr = corr;
  cr_assert_eq(cj_bz_exact(W, b, n, 0.9, &o), CJ_OK);
  cj_bz_gibbs_defaults(&g);
  g.chains = 8;
  g.sweeps = 20000;
  g.beta = 0.9;
  g.seed = 5;
  g.method = method;
  g.order = order;
  rows = g.chains * g.sweeps;
  S = malloc(sizeof(double) * (size_t)(rows * n));
  state = malloc(sizeof(double) * (size_t)(g.chains * n));
  cj_bz_random_states(5, CJ_BZ_INIT, 0, g.chains, 0, n, state);
  cr_assert_eq(cj_bz_gibbs(W, b, n, &g, state, S, NULL, NULL), CJ_OK, "%s", cj_errmsg());
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < n; i++) {
      sm[i] += S[r * n + i] / (double)rows;
      for (int64_t j = 0; j < n; j++) sc[i * n + j] += S[r * n + i] * S[r * n + j] / (double)rows;
    }
  for (int64_t i = 0; i < n; i++) {
    cr_assert(fabs(sm[i] - mean[i]) < 0.03, "method %d order %d: <s_%lld> %g vs %g", method, order,
              (long long)i, sm[i], mean[i]);
    for (int64_t j = 0; j < n; j++)
      cr_assert(fabs(sc[i * n + j] - corr[i * n + j]) < 0.03, "<s%lld s%lld>", (long long)i, (long long)j);
  }
  free(S);
  free(state);
}

Test(boltzmann, gibbs_and_metropolis_match_exact_marginals)
{
  double W[36], b[6];
  randmodel(17, 6, 0.5, W, b);
  compare(W, b, 6, CJ_BZ_HEATBATH, CJ_BZ_SEQUENTIAL);
  compare(W, b, 6, CJ_BZ_METROPOLIS, CJ_BZ_SEQUENTIAL);
  compare(W, b, 6, CJ_BZ_HEATBATH, CJ_BZ_RANDOM);
}

Test(boltzmann, a_chain_does_not_depend_on_the_number_of_chains)
{
  double W[25], b[5], s1[5], s4[20], S1[50 * 5], S4[4 * 50 * 5];
  cj_bz_gibbs_opts g;
  randmodel(3, 5, 1.0, W, b);
  cj_bz_gibbs_defaults(&g);
  g.sweeps = 50;
  g.burnin = 7;
  g.seed = 99;
  g.order = CJ_BZ_RANDOM;
  cj_bz_random_states(99, CJ_BZ_INIT, 2, 1, 0, 5, s1);
  cj_bz_random_states(99, CJ_BZ_INIT, 0, 4, 0, 5, s4);
  cr_assert(memcmp(s1, s4 + 2 * 5, sizeof s1) == 0, "initial states keyed by chain");
  g.chains = 1;
  g.chain0 = 2;
  cr_assert_eq(cj_bz_gibbs(W, b, 5, &g, s1, S1, NULL, NULL), CJ_OK);
  g.chains = 4;
  g.chain0 = 0;
  cr_assert_eq(cj_bz_gibbs(W, b, 5, &g, s4, S4, NULL, NULL), CJ_OK);
  cr_assert(memcmp(S1, S4 + 2 * 50 * 5, sizeof S1) == 0, "chain 2 alone and among 4");
}

Test(boltzmann, a_run_cut_in_two_equals_the_whole_run)
{
  double W[49], b[7], a[7], c[7], Sa[40 * 7], Sc[40 * 7], Ea[40], Ec[40];
  double betas[40];
  cj_bz_gibbs_opts g;
  randmodel(8, 7, 1.2, W, b);
  cj_bz_schedule(0.2, 1.5, 40, 1, betas);
  cj_bz_random_states(1, CJ_BZ_INIT, 0, 1, 0, 7, a);
  memcpy(c, a, sizeof a);
  cj_bz_gibbs_defaults(&g);
  g.burnin = 0;
  g.seed = 1;
  g.method = CJ_BZ_METROPOLIS;
  g.sweeps = 40;
  g.betas = betas;
  cr_assert_eq(cj_bz_gibbs(W, b, 7, &g, a, Sa, Ea, NULL), CJ_OK);
  g.sweeps = 15;
  cr_assert_eq(cj_bz_gibbs(W, b, 7, &g, c, Sc, Ec, NULL), CJ_OK);
  g.start = 15;
  g.sweeps = 25;
  g.betas = betas + 15;
  cr_assert_eq(cj_bz_gibbs(W, b, 7, &g, c, Sc + 15 * 7, Ec + 15, NULL), CJ_OK);
  cr_assert(memcmp(Sa, Sc, sizeof Sa) == 0);
  cr_assert(memcmp(a, c, sizeof a) == 0);
  for (int t = 0; t < 40; t++) {
    double E;
    cj_bz_energy(W, b, 7, Sa + t * 7, 1, &E);
    cr_assert(fabs(Ea[t] - E) < 1e-12, "energy of sweep %d", t);
  }
}

Test(boltzmann, clamped_units_keep_their_values)
{
  double W[16], b[4], s[4] = { 1, -1, 1, 1 }, S[100 * 4];
  unsigned char clamp[4] = { 0, 1, 0, 1 };
  cj_bz_gibbs_opts g;
  randmodel(5, 4, 2.0, W, b);
  cj_bz_gibbs_defaults(&g);
  g.sweeps = 100;
  g.clamp = clamp;
  cr_assert_eq(cj_bz_gibbs(W, b, 4, &g, s, S, NULL, NULL), CJ_OK);
  for (int t = 0; t < 100; t++) cr_assert(S[t * 4 + 1] == -1 && S[t * 4 + 3] == 1);
}

Test(boltzmann, gibbs_refuses_bad_temperatures)
{
  double W[4] = { 0, 1, 1, 0 }, b[2] = { 0, 0 }, s[2] = { 1, 1 }, betas[3] = { 1, 0, 1 };
  cj_bz_gibbs_opts g;
  cj_bz_gibbs_defaults(&g);
  g.beta = 0;
  cr_assert_eq(cj_bz_gibbs(W, b, 2, &g, s, NULL, NULL, NULL), CJ_EINVAL);
  g.beta = 1;
  g.burnin = 0;
  g.sweeps = 3;
  g.betas = betas;
  cr_assert_eq(cj_bz_gibbs(W, b, 2, &g, s, NULL, NULL, NULL), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "sweep 1"), "%s", cj_errmsg());
  cr_assert_eq(cj_bz_schedule(1, -1, 3, 0, betas), CJ_EINVAL);
}

Test(boltzmann, schedules_run_from_beta0_to_beta1)
{
  double lin[5], geo[5];
  cr_assert_eq(cj_bz_schedule(0.1, 2.0, 5, 0, lin), CJ_OK);
  cr_assert_eq(cj_bz_schedule(0.1, 2.0, 5, 1, geo), CJ_OK);
  cr_assert(lin[0] == 0.1 && lin[4] == 2.0 && fabs(lin[2] - 1.05) < 1e-15);
  cr_assert(fabs(geo[0] - 0.1) < 1e-15 && geo[4] == 2.0);
  for (int k = 1; k < 5; k++) cr_assert(fabs(geo[k] / geo[k - 1] - pow(20, 0.25)) < 1e-13);
}

/* ---- Hopfield networks ------------------------------------------------------------------ */

static void randpatterns(unsigned seed, int64_t P, int64_t N, double *X)
{
  unsigned s = seed;
  for (int64_t k = 0; k < P * N; k++) X[k] = randu(&s) < 0 ? -1 : 1;
}

Test(boltzmann, hebbian_weights_are_the_outer_product_sum)
{
  double X[3 * 20];
  cj_hopfield *h = cj_hopfield_new(20, CJ_HOP_HEBB, CJ_HOP_POLY, 1);
  randpatterns(1, 3, 20, X);
  cr_assert_eq(cj_hopfield_store(h, X, 2), CJ_OK);
  cr_assert_eq(cj_hopfield_store(h, X + 40, 1), CJ_OK);
  for (int i = 0; i < 20; i++)
    for (int j = 0; j < 20; j++) {
      double w = 0;
      for (int mu = 0; mu < 3; mu++) w += X[mu * 20 + i] * X[mu * 20 + j];
      cr_assert(fabs(h->W[i * 20 + j] - (i == j ? 0 : w / 20)) < 1e-15);
    }
  cj_hopfield_free(h);
}

Test(boltzmann, stored_patterns_are_recalled_and_energy_falls)
{
  const int64_t N = 100, P = 5;
  double X[5 * 100], S[5 * 100], E0[5], E1[5];
  int64_t sweeps[5];
  unsigned char conv[5];
  unsigned s = 3;
  cj_hopfield_opts o = { CJ_HOP_ASYNC, 50, 1, 0 };
  for (int rule = 0; rule < 3; rule++) {
    cj_hopfield *h = cj_hopfield_new(N, (cj_hop_rule)rule, CJ_HOP_POLY, 3);
    randpatterns(7, P, N, X);
    cr_assert_eq(cj_hopfield_store(h, X, P), CJ_OK, "%s", cj_errmsg());
    memcpy(S, X, sizeof S);
    for (int64_t k = 0; k < P * N; k++)
      if (randu(&s) + 0.5 < 0.15) S[k] = -S[k];        /* 15 % corrupted */
    cj_hopfield_energy(h, S, P, E0);
    cr_assert_eq(cj_hopfield_recall(h, S, P, &o, sweeps, conv), CJ_OK);
    cj_hopfield_energy(h, S, P, E1);
    for (int64_t r = 0; r < P; r++) {
      cr_assert(conv[r], "rule %d row %lld", rule, (long long)r);
      cr_assert(memcmp(S + r * N, X + r * N, sizeof(double) * (size_t)N) == 0, "rule %d row %lld recalled",
                rule, (long long)r);
      cr_assert(E1[r] < E0[r], "energy falls");
      cr_assert(sweeps[r] >= 2);
    }
    cj_hopfield_free(h);
  }
}

Test(boltzmann, pseudoinverse_makes_correlated_patterns_fixed_points)
{
  const int64_t N = 60, P = 20;
  double X[20 * 60], S[20 * 60];
  cj_hopfield_opts o = { CJ_HOP_SEQUENTIAL, 10, 0, 0 };
  unsigned char conv[20];
  unsigned s = 11;
  cj_hopfield *h = cj_hopfield_new(N, CJ_HOP_PINV, CJ_HOP_POLY, 1);
  for (int64_t k = 0; k < P * N; k++) X[k] = randu(&s) < 0.3 ? 1 : -1;   /* biased: correlated */
  cr_assert_eq(cj_hopfield_store(h, X, P), CJ_OK);
  memcpy(S, X, sizeof S);
  cr_assert_eq(cj_hopfield_recall(h, S, P, &o, NULL, conv), CJ_OK);
  for (int r = 0; r < P; r++) cr_assert(conv[r] && memcmp(S + r * N, X + r * N, sizeof(double) * N) == 0);
  cr_assert_eq(cj_hopfield_store(h, X, 1), CJ_EINVAL, "a repeated pattern is dependent");
  cr_assert_eq(h->P, P, "a failed store leaves the network unchanged");
  cj_hopfield_free(h);
}

Test(boltzmann, a_zero_field_is_a_tie_whatever_the_rounding)
{
  /* N = 10: Hebbian weights are integers over 10, not exact in binary, so a
   * field that is exactly zero comes out of the sums as +-1e-17 or so. One
   * synchronous step must give sign(sum_j C_ij s_j) computed in integers, the
   * old value where that sum is 0. */
  const int64_t N = 10, P = 4;
  double X[4 * 10], S[10], S0[10];
  int C[10][10], ties = 0;
  unsigned s = 21;
  cj_hopfield_opts o = { CJ_HOP_SYNC, 1, 0, 0 };
  cj_hopfield *h = cj_hopfield_new(N, CJ_HOP_HEBB, CJ_HOP_POLY, 1);
  randpatterns(13, P, N, X);
  cr_assert_eq(cj_hopfield_store(h, X, P), CJ_OK);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      C[i][j] = 0;
      for (int mu = 0; mu < P; mu++) C[i][j] += i == j ? 0 : (int)(X[mu * N + i] * X[mu * N + j]);
    }
  for (int rep = 0; rep < 2000; rep++) {
    for (int i = 0; i < N; i++) S[i] = S0[i] = randu(&s) < 0 ? -1 : 1;
    cr_assert_eq(cj_hopfield_recall(h, S, 1, &o, NULL, NULL), CJ_OK);
    for (int i = 0; i < N; i++) {
      int f = 0;
      for (int j = 0; j < N; j++) f += C[i][j] * (int)S0[j];
      ties += f == 0;
      cr_assert_eq(S[i], f > 0 ? 1 : f < 0 ? -1 : S0[i], "rep %d unit %d: integer field %d", rep, i, f);
    }
  }
  cr_assert(ties > 100, "the test meets ties (%d)", ties);
  cj_hopfield_free(h);
}

Test(boltzmann, synchronous_recall_detects_a_two_cycle)
{
  double X[2] = { 1, -1 }, S[2] = { 1, 1 };
  int64_t sw;
  unsigned char conv;
  cj_hopfield_opts o = { CJ_HOP_SYNC, 100, 0, 0 };
  cj_hopfield *h = cj_hopfield_new(2, CJ_HOP_HEBB, CJ_HOP_POLY, 1);
  cr_assert_eq(cj_hopfield_store(h, X, 1), CJ_OK);     /* W = [[0, -1/2], [-1/2, 0]] */
  cr_assert_eq(cj_hopfield_recall(h, S, 1, &o, &sw, &conv), CJ_OK);
  cr_assert(!conv && sw == 2, "conv %d sweeps %lld", conv, (long long)sw);
  S[0] = S[1] = 1;
  o.mode = CJ_HOP_SEQUENTIAL;
  cr_assert_eq(cj_hopfield_recall(h, S, 1, &o, &sw, &conv), CJ_OK);
  cr_assert(conv && S[0] == -S[1], "asynchronous updates reach a stored state or its mirror");
  cj_hopfield_free(h);
}

/* ---- RBMs ------------------------------------------------------------------------------- */

/* log sum over all (v, h) of exp(-E) for a binary RBM, directly. */
static double rbm_bruteZ(const cj_rbm *r)
{
  long double Z = 0;
  for (int64_t x = 0; x < ((int64_t)1 << r->nv); x++)
    for (int64_t y = 0; y < ((int64_t)1 << r->nh); y++) {
      double E = 0;
      for (int64_t i = 0; i < r->nv; i++) {
        double v = (x >> i) & 1;
        E -= r->a[i] * v;
        for (int64_t j = 0; j < r->nh; j++) E -= v * r->W[i * r->nh + j] * ((y >> j) & 1);
      }
      for (int64_t j = 0; j < r->nh; j++) E -= r->c[j] * ((y >> j) & 1);
      Z += expl(-(long double)E);
    }
  return (double)logl(Z);
}

static void rbm_randomise(cj_rbm *r, unsigned seed)
{
  unsigned s = seed;
  for (int64_t k = 0; k < r->nv * r->nh; k++) r->W[k] = 3 * randu(&s);
  for (int64_t i = 0; i < r->nv; i++) r->a[i] = randu(&s);
  for (int64_t j = 0; j < r->nh; j++) r->c[j] = randu(&s);
}

Test(boltzmann, rbm_partition_function_matches_a_direct_sum_either_way)
{
  for (int shape = 0; shape < 2; shape++) {
    cj_rbm *r = cj_rbm_new(shape ? 7 : 4, shape ? 4 : 7, CJ_RBM_BINARY, 0.01, 1);
    double z, bz;
    rbm_randomise(r, 5 + (unsigned)shape);
    cr_assert_eq(cj_rbm_logZ(r, &z), CJ_OK, "%s", cj_errmsg());
    bz = rbm_bruteZ(r);
    cr_assert(fabs(z - bz) < 1e-11 * (1 + fabs(bz)), "%.17g vs %.17g", z, bz);
    cj_rbm_free(r);
  }
}

Test(boltzmann, rbm_free_energy_is_minus_log_of_the_sum_over_hidden_states)
{
  cj_rbm *r = cj_rbm_new(5, 3, CJ_RBM_BINARY, 0.01, 1);
  double V[2 * 5] = { 1, 0, 1, 1, 0, 0, 0, 0, 1, 1 }, F[2];
  rbm_randomise(r, 2);
  cr_assert_eq(cj_rbm_free_energy(r, V, 2, F), CJ_OK);
  for (int q = 0; q < 2; q++) {
    long double s = 0;
    for (int y = 0; y < 8; y++) {
      double E = 0;
      for (int i = 0; i < 5; i++) {
        E -= r->a[i] * V[q * 5 + i];
        for (int j = 0; j < 3; j++) E -= V[q * 5 + i] * r->W[i * 3 + j] * ((y >> j) & 1);
      }
      for (int j = 0; j < 3; j++) E -= r->c[j] * ((y >> j) & 1);
      s += expl(-(long double)E);
    }
    cr_assert(fabs(F[q] + (double)logl(s)) < 1e-12, "row %d", q);
  }
  cj_rbm_free(r);
}

Test(boltzmann, gaussian_rbm_partition_function_matches_numerical_integration)
{
  /* one Gaussian visible unit: Z = sum_h exp(c'h) int exp(-(v-a)^2/2 + v W h) dv */
  cj_rbm *r = cj_rbm_new(1, 3, CJ_RBM_GAUSSIAN, 0.01, 1);
  double z, sum = 0, dv = 1e-3;
  rbm_randomise(r, 4);
  cr_assert_eq(cj_rbm_logZ(r, &z), CJ_OK);
  for (double v = -40; v < 40; v += dv) {
    double s = exp(-0.5 * (v - r->a[0]) * (v - r->a[0]));
    double prod = 1;
    for (int j = 0; j < 3; j++) prod *= 1 + exp(r->c[j] + v * r->W[j]);
    sum += s * prod * dv;
  }
  cr_assert(fabs(z - log(sum)) < 1e-9, "%.17g vs %.17g", z, log(sum));
  cj_rbm_free(r);
}

Test(boltzmann, pseudo_likelihood_is_the_sum_of_conditionals)
{
  cj_rbm *r = cj_rbm_new(4, 3, CJ_RBM_BINARY, 0.01, 1);
  double V[4] = { 1, 0, 0, 1 }, pl, F0;
  double expect = 0;
  rbm_randomise(r, 8);
  cr_assert_eq(cj_rbm_pseudo_loglik(r, V, 1, 0, 0, &pl), CJ_OK);
  cj_rbm_free_energy(r, V, 1, &F0);
  for (int i = 0; i < 4; i++) {
    double W2[4], F1;
    memcpy(W2, V, sizeof W2);
    W2[i] = 1 - W2[i];
    cj_rbm_free_energy(r, W2, 1, &F1);
    expect += log(exp(-F0) / (exp(-F0) + exp(-F1)));
  }
  cr_assert(fabs(pl - expect) < 1e-12, "%g vs %g", pl, expect);
  cj_rbm_free(r);
}

Test(boltzmann, rbm_samples_do_not_depend_on_how_many_are_drawn)
{
  cj_rbm *r = cj_rbm_new(6, 4, CJ_RBM_BINARY, 0.5, 3);
  double A[70 * 6], B[5 * 6], C[3 * 6];
  cr_assert_eq(cj_rbm_sample(r, 70, 0, 20, 9, NULL, 0, A, NULL), CJ_OK);
  cr_assert_eq(cj_rbm_sample(r, 5, 0, 20, 9, NULL, 0, B, NULL), CJ_OK);
  cr_assert_eq(cj_rbm_sample(r, 3, 63, 20, 9, NULL, 0, C, NULL), CJ_OK);
  cr_assert(memcmp(A, B, sizeof B) == 0);
  cr_assert(memcmp(A + 63 * 6, C, sizeof C) == 0, "chains 64..66 across a block boundary");
  for (int k = 0; k < 70 * 6; k++) cr_assert(A[k] == 0 || A[k] == 1);
  cj_rbm_free(r);
}

Test(boltzmann, rbm_training_continues_across_calls)
{
  double X[12 * 5];
  unsigned s = 1;
  cj_rbm_train_opts o;
  cj_rbm *a = cj_rbm_new(5, 3, CJ_RBM_BINARY, 0.01, 4), *b = cj_rbm_new(5, 3, CJ_RBM_BINARY, 0.01, 4);
  for (int k = 0; k < 60; k++) X[k] = randu(&s) < 0 ? 0 : 1;
  for (int persistent = 0; persistent < 2; persistent++) {
    cj_rbm_train_defaults(&o);
    o.batch = 5;
    o.k = 2;
    o.momentum = 0.5;
    o.persistent = persistent;
    o.epochs = 4;
    cr_assert_eq(cj_rbm_train(a, X, 12, &o, NULL), CJ_OK);
    o.epochs = 1;
    for (int e = 0; e < 4; e++) cr_assert_eq(cj_rbm_train(b, X, 12, &o, NULL), CJ_OK);
    cr_assert(memcmp(a->W, b->W, sizeof(double) * 15) == 0, "persistent %d", persistent);
    cr_assert(memcmp(a->c, b->c, sizeof(double) * 3) == 0);
  }
  cj_rbm_free(a);
  cj_rbm_free(b);
}

/* ---- Ising lattice ------------------------------------------------------------------------ */

Test(boltzmann, ising_bookkeeping_matches_a_recount)
{
  cj_ising *m = cj_ising_new(6, 8, 0.7, 0.2, 3, 0);
  double mag[10], en[10];
  cr_assert_eq(cj_ising_run(m, 10, 0.6, CJ_ISING_METROPOLIS, mag, en), CJ_OK);
  for (int method = 0; method < 2; method++) {
    double E = 0, M = 0;
    cr_assert_eq(cj_ising_run(m, 3, 0.4, (cj_ising_method)method, NULL, NULL), CJ_OK);
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 8; j++) {
        int s = m->s[i * 8 + j];
        M += s;
        E -= 0.7 * s * (m->s[i * 8 + (j + 1) % 8] + m->s[((i + 1) % 6) * 8 + j]) + 0.2 * s;
      }
    cr_assert(fabs(cj_ising_energy(m) - E / 48) < 1e-14);
    cr_assert(cj_ising_magnetization(m) == M / 48);
  }
  cr_assert_eq(m->sweep, 16);
  cr_assert_eq(cj_ising_run(m, 1, 0, CJ_ISING_METROPOLIS, NULL, NULL), CJ_EINVAL);
  cj_ising_free(m);
  cr_assert_null(cj_ising_new(5, 8, 1, 0, 1, 0), "odd sizes refused");
}

Test(boltzmann, ising_lattice_matches_exact_enumeration_of_a_4x4_torus)
{
  /* the same periodic 4x4 lattice as a coupling matrix, enumerated exactly;
   * 4 x 50000 sweeps, energy per spin: SE below 0.003, tolerance 0.02 */
  double W[256] = { 0 }, b[16], p[65536], eabs = 0, Em = 0, beta = 0.4;
  cj_bz_exact_out o;
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      int k = i * 4 + j, r = i * 4 + (j + 1) % 4, d = ((i + 1) % 4) * 4 + j;
      W[k * 16 + r] = W[r * 16 + k] = 1;
      W[k * 16 + d] = W[d * 16 + k] = 1;
      b[k] = 0.1;
    }
  memset(&o, 0, sizeof o);
  o.p = p;
  cr_assert_eq(cj_bz_exact(W, b, 16, beta, &o), CJ_OK);
  for (int64_t x = 0; x < 65536; x++) eabs += p[x] * fabs(2.0 * __builtin_popcountll((unsigned long long)x) - 16) / 16;
  for (int method = 0; method < 2; method++) {
    static double mag[50000], en[50000];
    double sm = 0, se = 0;
    for (int rep = 0; rep < 4; rep++) {
      cj_ising *m = cj_ising_new(4, 4, 1, 0.1, 10 + (uint64_t)rep, 0);
      cj_ising_run(m, 1000, beta, (cj_ising_method)method, NULL, NULL);
      cr_assert_eq(cj_ising_run(m, 50000, beta, (cj_ising_method)method, mag, en), CJ_OK);
      for (int t = 0; t < 50000; t++) {
        sm += fabs(mag[t]) / 200000;
        se += en[t] / 200000;
      }
      cj_ising_free(m);
    }
    Em = o.energy / 16;
    cr_assert(fabs(se - Em) < 0.02, "method %d: e %g vs exact %g", method, se, Em);
    cr_assert(fabs(sm - eabs) < 0.02, "method %d: |m| %g vs exact %g", method, sm, eabs);
  }
}
