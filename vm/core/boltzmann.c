/*
 * boltzmann.c — Boltzmann machines on +-1 units: the keyed random numbers
 * all of cj.boltzmann draws from, checks, energies, the {0,1} <-> +-1
 * change of variables, exact enumeration of small machines, and single-site
 * Gibbs / Metropolis sampling with annealing schedules. boltzmann.h states
 * the conventions and the counter layout of the random numbers.
 */
#include "boltzmann.h"

#include <math.h>
#include <string.h>

#include "array.h"
#include "rng.h"

/* ---- keyed random numbers ------------------------------------------------------ */

static void keyblock(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                     uint64_t word0, uint32_t out[4])
{
  uint32_t ctr[4], key[2];
  ctr[0] = (uint32_t)word0;
  ctr[1] = (uint32_t)sweep;
  ctr[2] = (uint32_t)chain;
  ctr[3] = 0x40000000u | (uint32_t)(purpose & 63u) << 24 | ((uint32_t)(sweep >> 32) & 0xffffffu);
  key[0] = (uint32_t)seed;
  key[1] = (uint32_t)(seed >> 32);
  cj_philox(ctr, key, out);
}

double cj_bz_uniform(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                     uint64_t unit)
{
  uint32_t w[4];
  keyblock(seed, purpose, chain, sweep, unit >> 1, w);
  return unit & 1 ? CJ_U01(w[2], w[3]) : CJ_U01(w[0], w[1]);
}

/* Eight consecutive blocks (counter word 0 = w0 .. w0 + 7) of one
 * (seed, purpose, chain, sweep): the rounds of cj_philox (rng.c) written
 * lane by lane so that the compiler can keep several lanes in one vector
 * register. out[j][l] is word j of block w0 + l; the same bits as keyblock. */
#define LANES 8
static void keyblocks(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep, uint64_t w0,
                      uint32_t out[4][LANES])
{
  uint32_t a0[LANES], a1[LANES], a2[LANES], a3[LANES];
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  uint32_t c3 = 0x40000000u | (uint32_t)(purpose & 63u) << 24 | ((uint32_t)(sweep >> 32) & 0xffffffu);
  for (int l = 0; l < LANES; l++) {
    a0[l] = (uint32_t)(w0 + (uint64_t)l);
    a1[l] = (uint32_t)sweep;
    a2[l] = (uint32_t)chain;
    a3[l] = c3;
  }
  for (int round = 0; round < 10; round++) {
    for (int l = 0; l < LANES; l++) {
      uint64_t p0 = (uint64_t)0xD2511F53u * a0[l];
      uint64_t p1 = (uint64_t)0xCD9E8D57u * a2[l];
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ a1[l] ^ k0;
      uint32_t n2 = (uint32_t)(p0 >> 32) ^ a3[l] ^ k1;
      a1[l] = (uint32_t)p1;
      a3[l] = (uint32_t)p0;
      a0[l] = n0;
      a2[l] = n2;
    }
    k0 += 0x9E3779B9u;                         /* the key schedule of rng.c */
    k1 += 0xBB67AE85u;
  }
  for (int l = 0; l < LANES; l++) {
    out[0][l] = a0[l];
    out[1][l] = a1[l];
    out[2][l] = a2[l];
    out[3][l] = a3[l];
  }
}

/* Words first .. first + n - 1 of the stream of (seed, purpose, chain,
 * sweep): word k is word k & 3 of the block with counter word 0 = k >> 2. */
static void words(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep, uint64_t first,
                  int64_t n, uint32_t *w)
{
  uint32_t b[4], wb[4][LANES];
  int64_t k = 0;
  while (k < n && ((first + (uint64_t)k) & 3)) {   /* the rest of the first block */
    keyblock(seed, purpose, chain, sweep, (first + (uint64_t)k) >> 2, b);
    w[k] = b[(first + (uint64_t)k) & 3];
    k++;
  }
  for (; k + 4 * LANES <= n; k += 4 * LANES) {
    keyblocks(seed, purpose, chain, sweep, (first + (uint64_t)k) >> 2, wb);
    for (int l = 0; l < LANES; l++)
      for (int j = 0; j < 4; j++) w[k + 4 * l + j] = wb[j][l];
  }
  for (; k < n; k++) {
    if (((first + (uint64_t)k) & 3) == 0) keyblock(seed, purpose, chain, sweep, (first + (uint64_t)k) >> 2, b);
    w[k] = b[(first + (uint64_t)k) & 3];
  }
}

void cj_bz_words(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep, uint64_t unit0,
                 int64_t n, uint32_t *w)
{
  words(seed, purpose, chain, sweep, unit0, n, w);
}

/* The uniform of unit q is made of words 2q and 2q + 1 of the stream. */
void cj_bz_uniforms(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                    uint64_t unit0, int64_t n, double *u)
{
  enum { CHUNK = 128 };
  uint32_t w[2 * CHUNK];
  for (int64_t k0 = 0; k0 < n; k0 += CHUNK) {
    int64_t m = n - k0 < CHUNK ? n - k0 : CHUNK;
    words(seed, purpose, chain, sweep, 2 * (unit0 + (uint64_t)k0), 2 * m, w);
    for (int64_t k = 0; k < m; k++) u[k0 + k] = CJ_U01(w[2 * k], w[2 * k + 1]);
  }
}

double cj_bz_normal(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                    uint64_t unit)
{
  uint32_t w[4];
  double s, c;
  keyblock(seed, purpose, chain, sweep, unit, w);
  cj_rng_sincos2pi(CJ_U01(w[2], w[3]), &s, &c);
  return sqrt(-2.0 * cj_rng_log(1.0 - CJ_U01(w[0], w[1]))) * c;
}

void cj_bz_permutation(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                       int64_t n, int64_t *perm)
{
  for (int64_t k = 0; k < n; k++) perm[k] = k;
  for (int64_t k = n - 1; k >= 1; k--) {
    int64_t j = (int64_t)(cj_bz_uniform(seed, purpose, chain, sweep, (uint64_t)k) * (double)(k + 1));
    int64_t t = perm[k];
    if (j > k) j = k;                          /* cannot happen: u < 1 */
    perm[k] = perm[j];
    perm[j] = t;
  }
}

/* exp(x) from + - * / and bit operations only (the same bits everywhere,
 * as cj_rng_exp, whose argument reduction and polynomial it shares, but
 * inlinable and without ldexp): x = k ln2 + r, |r| <= ln2/2, exp(r) by its
 * Taylor polynomial of degree 13, times 2^k built in the exponent bits. */
static inline double fexp(double x)
{
  static const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
  double kf, r, p;
  union { double d; uint64_t u; } two;
  if (!(x > -708.0 && x < 709.0)) return cj_rng_exp(x);    /* NaN, overflow, subnormal results */
  kf = x * 1.44269504088896338700 + 0x1.8p52;              /* round to the nearest integer */
  kf -= 0x1.8p52;
  r = (x - kf * ln2hi) - kf * ln2lo;
  p = 1.0 / 6227020800.0;
  p = 1.0 / 479001600.0 + r * p;
  p = 1.0 / 39916800.0 + r * p;
  p = 1.0 / 3628800.0 + r * p;
  p = 1.0 / 362880.0 + r * p;
  p = 1.0 / 40320.0 + r * p;
  p = 1.0 / 5040.0 + r * p;
  p = 1.0 / 720.0 + r * p;
  p = 1.0 / 120.0 + r * p;
  p = 1.0 / 24.0 + r * p;
  p = 1.0 / 6.0 + r * p;
  p = 0.5 + r * p;
  p = 1.0 + r * p;
  p = 1.0 + r * p;
  two.u = (uint64_t)((int64_t)kf + 1023) << 52;
  return p * two.d;
}

double cj_bz_exp(double x)
{
  return fexp(x);
}

double cj_bz_sigmoid(double x)
{
  return 1.0 / (1.0 + fexp(-x));
}

void cj_bz_sigmoids(double *x, int64_t n)
{
  for (int64_t k = 0; k < n; k++) x[k] = 1.0 / (1.0 + fexp(-x[k]));
}

/* ---- checks -------------------------------------------------------------------- */

int cj_bz_check(const double *W, const double *b, int64_t n, int64_t *pi, int64_t *pj)
{
  double scale = 0;
  for (int64_t k = 0; k < n * n; k++) {
    if (!isfinite(W[k])) {
      *pi = k / n;
      *pj = k % n;
      return cj_fail(CJ_EINVAL, "W[%lld][%lld] is not finite", (long long)*pi, (long long)*pj);
    }
    if (fabs(W[k]) > scale) scale = fabs(W[k]);
  }
  for (int64_t i = 0; i < n; i++) {
    *pi = *pj = i;
    if (W[i * n + i] != 0)
      return cj_fail(CJ_EINVAL, "W[%lld][%lld] = %g: the diagonal must be zero", (long long)i,
                     (long long)i, W[i * n + i]);
    for (int64_t j = i + 1; j < n; j++)
      if (fabs(W[i * n + j] - W[j * n + i]) > 1e-12 * scale) {
        *pj = j;
        return cj_fail(CJ_EINVAL, "W[%lld][%lld] = %.17g but W[%lld][%lld] = %.17g: W must be symmetric",
                       (long long)i, (long long)j, W[i * n + j], (long long)j, (long long)i,
                       W[j * n + i]);
      }
  }
  if (b)
    for (int64_t i = 0; i < n; i++)
      if (!isfinite(b[i])) {
        *pi = i;
        *pj = -1;
        return cj_fail(CJ_EINVAL, "b[%lld] is not finite", (long long)i);
      }
  *pi = *pj = -1;
  return CJ_OK;
}

int64_t cj_bz_find_nonbinary(const double *x, int64_t n, int pm1, int frac)
{
  for (int64_t k = 0; k < n; k++) {
    double v = x[k];
    if (pm1) {
      if (v != 1.0 && v != -1.0) return k;
    } else if (frac) {
      if (!(v >= 0.0 && v <= 1.0)) return k;
    } else if (v != 0.0 && v != 1.0) {
      return k;
    }
  }
  return -1;
}

/* ---- energy and the change of variables --------------------------------------- */

void cj_bz_fields(const double *W, const double *b, int64_t n, const double *s, double *h)
{
  for (int64_t i = 0; i < n; i++) {
    const double *w = W + i * n;
    double acc = b ? b[i] : 0.0;
    for (int64_t j = 0; j < n; j++) acc += w[j] * s[j];
    h[i] = acc;
  }
}

void cj_bz_energy(const double *W, const double *b, int64_t n, const double *S, int64_t m,
                  double *E)
{
  for (int64_t r = 0; r < m; r++) {
    const double *s = S + r * n;
    double quad = 0, lin = 0;
    for (int64_t i = 0; i < n; i++) {
      const double *w = W + i * n;
      double acc = 0;
      for (int64_t j = 0; j < n; j++) acc += w[j] * s[j];
      quad += s[i] * acc;
      if (b) lin += b[i] * s[i];
    }
    E[r] = -0.5 * quad - lin;
  }
}

void cj_bz_binary_to_spin(const double *W, const double *b, int64_t n, double *J, double *h,
                          double *c)
{
  double tot = 0, btot = 0;
  for (int64_t i = 0; i < n; i++) {
    double row = 0;
    for (int64_t j = 0; j < n; j++) {
      J[i * n + j] = W[i * n + j] / 4;
      row += W[i * n + j];
    }
    tot += row;
    btot += b ? b[i] : 0.0;
    h[i] = (b ? b[i] / 2 : 0.0) + row / 4;
  }
  if (c) *c = -tot / 8 - btot / 2;
}

void cj_bz_spin_to_binary(const double *J, const double *h, int64_t n, double *W, double *b,
                          double *c)
{
  double tot = 0, btot = 0;
  for (int64_t i = 0; i < n; i++) {
    double row = 0;
    for (int64_t j = 0; j < n; j++) {
      W[i * n + j] = 4 * J[i * n + j];
      row += J[i * n + j];
    }
    b[i] = 2 * (h ? h[i] : 0.0) - 2 * row;
    tot += 4 * row;
    btot += b[i];
  }
  if (c) *c = -tot / 8 - btot / 2;
}

/* ---- exact enumeration --------------------------------------------------------- */

#define XBLOCK 2048   /* states per block of the enumeration */

/* Fill S (cnt x n) with the states x0 .. x0 + cnt - 1 and e[r] = -beta E. */
static int blockenergies(const double *W, const double *b, int64_t n, double beta, uint64_t x0,
                         int64_t cnt, double *S, double *F, double *e)
{
  int rc;
  for (int64_t r = 0; r < cnt; r++) {
    uint64_t x = x0 + (uint64_t)r;
    for (int64_t i = 0; i < n; i++) S[r * n + i] = (x >> i) & 1 ? 1.0 : -1.0;
  }
  if ((rc = cj_dgemm(0, 0, cnt, n, n, 1.0, S, n, W, n, 0.0, F, n))) return rc;
  for (int64_t r = 0; r < cnt; r++) {
    double quad = 0, lin = 0;
    for (int64_t i = 0; i < n; i++) {
      quad += S[r * n + i] * F[r * n + i];
      if (b) lin += b[i] * S[r * n + i];
    }
    e[r] = beta * (0.5 * quad + lin);
  }
  return CJ_OK;
}

int cj_bz_exact(const double *W, const double *b, int64_t n, double beta, cj_bz_exact_out *o)
{
  int64_t blk, N;
  double *S = NULL, *F = NULL, *e = NULL, maxv = -INFINITY, Z = 0, E1 = 0, E2 = 0;
  int rc = CJ_OK;
  if (n < 1 || n > CJ_BZ_EXACT_MAX)
    return cj_fail(CJ_EINVAL, "exact enumeration takes 1 to %d units (got %lld)", CJ_BZ_EXACT_MAX,
                   (long long)n);
  if (!(beta > 0) || !isfinite(beta))
    return cj_fail(CJ_EINVAL, "beta must be positive and finite (got %g)", beta);
  if (o->pk && (o->k < 0 || o->k > n))
    return cj_fail(CJ_EINVAL, "marginal over %lld units of %lld", (long long)o->k, (long long)n);
  N = (int64_t)1 << n;
  blk = N < XBLOCK ? N : XBLOCK;
  S = cj_malloc(sizeof(double) * (size_t)(blk * n));
  F = cj_malloc(sizeof(double) * (size_t)(blk * n));
  e = cj_malloc(sizeof(double) * (size_t)blk);
  if (!S || !F || !e) {
    rc = cj_fail(CJ_ENOMEM, "exact: out of memory");
    goto done;
  }
  for (int64_t x0 = 0; x0 < N; x0 += blk) {    /* pass 1: the largest -beta E */
    if ((rc = blockenergies(W, b, n, beta, (uint64_t)x0, blk, S, F, e))) goto done;
    for (int64_t r = 0; r < blk; r++)
      if (e[r] > maxv) maxv = e[r];
  }
  if (o->mean) memset(o->mean, 0, sizeof(double) * (size_t)n);
  if (o->corr) memset(o->corr, 0, sizeof(double) * (size_t)(n * n));
  if (o->pk) memset(o->pk, 0, sizeof(double) * ((size_t)1 << o->k));
  for (int64_t x0 = 0; x0 < N; x0 += blk) {    /* pass 2: weighted sums */
    if ((rc = blockenergies(W, b, n, beta, (uint64_t)x0, blk, S, F, e))) goto done;
    for (int64_t r = 0; r < blk; r++) {
      double en = -e[r] / beta, w = exp(e[r] - maxv);
      e[r] = w;
      Z += w;
      E1 += w * en;
      E2 += w * en * en;
      if (o->p) o->p[x0 + r] = w;
      if (o->pk) o->pk[(x0 + r) & (((int64_t)1 << o->k) - 1)] += w;
    }
    if (o->mean && (rc = cj_dgemv(1, blk, n, 1.0, S, n, e, 1, 1.0, o->mean, 1))) goto done;
    if (o->corr) {
      for (int64_t r = 0; r < blk; r++) {
        double sw = sqrt(e[r]);
        for (int64_t i = 0; i < n; i++) F[r * n + i] = S[r * n + i] * sw;
      }
      if ((rc = cj_dsyrk(1, n, blk, 1.0, F, n, 1.0, o->corr, n))) goto done;
    }
  }
  o->logZ = maxv + log(Z);
  o->energy = E1 / Z;
  o->energy2 = E2 / Z;
  if (o->mean)
    for (int64_t i = 0; i < n; i++) o->mean[i] /= Z;
  if (o->corr) {
    for (int64_t i = 0; i < n * n; i++) o->corr[i] /= Z;
    for (int64_t i = 0; i < n; i++) o->corr[i * n + i] = 1.0;
  }
  if (o->p)
    for (int64_t x = 0; x < N; x++) o->p[x] /= Z;
  if (o->pk)
    for (int64_t x = 0; x < ((int64_t)1 << o->k); x++) o->pk[x] /= Z;
done:
  cj_free(S);
  cj_free(F);
  cj_free(e);
  return rc;
}

/* ---- Gibbs and Metropolis sampling --------------------------------------------- */

void cj_bz_gibbs_defaults(cj_bz_gibbs_opts *o)
{
  memset(o, 0, sizeof *o);
  o->chains = 1;
  o->sweeps = 1000;
  o->burnin = 100;
  o->thin = 1;
  o->beta = 1.0;
  o->purpose = CJ_BZ_UPDATE;
  o->method = CJ_BZ_HEATBATH;
  o->order = CJ_BZ_SEQUENTIAL;
}

void cj_bz_random_states(uint64_t seed, unsigned purpose, int64_t chain0, int64_t chains,
                         uint64_t sweep, int64_t n, double *state)
{
  for (int64_t c = 0; c < chains; c++) {
    double *s = state + c * n;
    cj_bz_uniforms(seed, purpose, (uint64_t)(chain0 + c), sweep, 0, n, s);
    for (int64_t i = 0; i < n; i++) s[i] = s[i] < 0.5 ? 1.0 : -1.0;
  }
}

int cj_bz_schedule(double beta0, double beta1, int64_t n, int kind, double *out)
{
  if (!(beta0 > 0) || !isfinite(beta0) || !(beta1 > 0) || !isfinite(beta1))
    return cj_fail(CJ_EINVAL, "schedule: inverse temperatures must be positive and finite");
  if (n < 1) return cj_fail(CJ_EINVAL, "schedule: at least one step expected");
  if (kind != 0 && kind != 1) return cj_fail(CJ_EINVAL, "schedule: unknown kind %d", kind);
  for (int64_t k = 0; k < n; k++) {
    double f = n == 1 ? 1.0 : (double)k / (double)(n - 1);
    out[k] = kind == 0 ? beta0 + (beta1 - beta0) * f
                       : beta0 * cj_rng_exp(cj_rng_log(beta1 / beta0) * f);
  }
  out[n - 1] = beta1;
  return CJ_OK;
}

/* One sweep of chain `chain` at sweep index sw: s and its fresh fields h
 * in, updated out (h fresh again). u, perm: n scratch. */
static void sweep(const double *W, const double *b, int64_t n, const cj_bz_gibbs_opts *o,
                  uint64_t chain, uint64_t sw, double beta, double *s, double *h, double *u,
                  int64_t *perm)
{
  cj_bz_uniforms(o->seed, o->purpose, chain, sw, 0, n, u);
  if (o->order == CJ_BZ_RANDOM) cj_bz_permutation(o->seed, o->purpose | CJ_BZ_ORDER, chain, sw, n, perm);
  for (int64_t q = 0; q < n; q++) {
    int64_t i = o->order == CJ_BZ_RANDOM ? perm[q] : q;
    double snew;
    if (o->clamp && o->clamp[i]) continue;
    if (o->method == CJ_BZ_HEATBATH) {
      snew = u[i] < cj_bz_sigmoid(2.0 * beta * h[i]) ? 1.0 : -1.0;
    } else {
      double dE = 2.0 * s[i] * h[i];
      snew = dE <= 0 || u[i] < fexp(-beta * dE) ? -s[i] : s[i];
    }
    if (snew != s[i]) {
      const double *w = W + i * n;
      double d = snew - s[i];
      s[i] = snew;
      for (int64_t j = 0; j < n; j++) h[j] += d * w[j];
    }
  }
  cj_bz_fields(W, b, n, s, h);
}

int cj_bz_gibbs(const double *W, const double *b, int64_t n, const cj_bz_gibbs_opts *o,
                double *state, double *samples, double *energies, double *mags)
{
  int64_t total;
  double *h, *u;
  int64_t *perm;
  if (n < 1 || o->chains < 0 || o->sweeps < 0 || o->burnin < 0 || o->thin < 1 || o->start < 0 ||
      o->chain0 < 0)
    return cj_fail(CJ_EINVAL, "gibbs: bad sizes (units %lld, chains %lld, sweeps %lld, burnin %lld, thin %lld)",
                   (long long)n, (long long)o->chains, (long long)o->sweeps, (long long)o->burnin,
                   (long long)o->thin);
  if (o->sweeps > (INT64_MAX - o->burnin) / o->thin)
    return cj_fail(CJ_EINVAL, "gibbs: too many sweeps");
  total = o->burnin + o->sweeps * o->thin;
  if (o->betas) {
    for (int64_t t = 0; t < total; t++)
      if (!(o->betas[t] > 0) || !isfinite(o->betas[t]))
        return cj_fail(CJ_EINVAL, "gibbs: beta must be positive and finite (sweep %lld: %g)",
                       (long long)t, o->betas[t]);
  } else if (!(o->beta > 0) || !isfinite(o->beta)) {
    return cj_fail(CJ_EINVAL, "gibbs: beta must be positive and finite (got %g)", o->beta);
  }
  h = cj_malloc(sizeof(double) * (size_t)n);
  u = cj_malloc(sizeof(double) * (size_t)n);
  perm = cj_malloc(sizeof(int64_t) * (size_t)n);
  if (!h || !u || !perm) {
    cj_free(h);
    cj_free(u);
    cj_free(perm);
    return cj_fail(CJ_ENOMEM, "gibbs: out of memory");
  }
  for (int64_t c = 0; c < o->chains; c++) {
    double *s = state + c * n;
    int64_t kept = 0;
    uint64_t chain = (uint64_t)(o->chain0 + c);
    cj_bz_fields(W, b, n, s, h);
    for (int64_t t = 0; t < total; t++) {
      double beta = o->betas ? o->betas[t] : o->beta;
      sweep(W, b, n, o, chain, (uint64_t)(o->start + t), beta, s, h, u, perm);
      if (t < o->burnin || (t - o->burnin + 1) % o->thin) continue;
      int64_t row = c * o->sweeps + kept++;
      if (samples) memcpy(samples + row * n, s, sizeof(double) * (size_t)n);
      if (energies) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += s[i] * (h[i] + (b ? b[i] : 0.0));
        energies[row] = -0.5 * acc;
      }
      if (mags) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += s[i];
        mags[row] = acc / (double)n;
      }
    }
  }
  cj_free(h);
  cj_free(u);
  cj_free(perm);
  return CJ_OK;
}
