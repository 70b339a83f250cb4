/*
 * rng.c — counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror
 * and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11), cursors
 * over (seed, stream), the distributions, and bulk fills of arrays.
 *
 * Every variate is a pure function of (seed, stream, position) computed with
 * integer arithmetic and +, -, *, /, sqrt on doubles: log, exp, sin and cos
 * come from the small deterministic implementations below rather than libm,
 * whose last bits differ between machines. rng.h documents the counter
 * layout and how each distribution consumes words.
 */
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Philox4x32-10 ----------------------------------------------------------- */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u   /* golden ratio */
#define PHILOX_W1 0xBB67AE85u   /* sqrt(3) - 1 */

void cj_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += PHILOX_W0;                 /* key schedule: bump between rounds */
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* ---- cursors ------------------------------------------------------------------- */

static cj_rng default_rng = { 0, 0, 0, { 0, 0, 0, 0 }, 4, 0, 0.0 };

cj_rng *cj_default_rng(void)
{
  return &default_rng;
}

static void block(const cj_rng *r, uint64_t j, uint32_t out[4])
{
  uint32_t ctr[4], key[2];
  ctr[0] = (uint32_t)j;
  ctr[1] = (uint32_t)(j >> 32);
  ctr[2] = (uint32_t)r->stream;
  ctr[3] = (uint32_t)(r->stream >> 32) | 0x80000000u;
  key[0] = (uint32_t)r->seed;
  key[1] = (uint32_t)(r->seed >> 32);
  cj_philox(ctr, key, out);
}

void cj_rng_init(cj_rng *r, uint64_t seed, uint64_t stream)
{
  memset(r, 0, sizeof *r);
  r->seed = seed;
  r->stream = stream;
  r->counter = 0;
  r->used = 4;
}

int cj_rng_setpos(cj_rng *r, uint64_t counter, int used)
{
  if (used < 0 || used > 4) return cj_fail(CJ_EINVAL, "rng position: used must be 0..4 (got %d)", used);
  if (used < 4 && counter == 0)
    return cj_fail(CJ_EINVAL, "rng position: a partly used block needs counter >= 1");
  r->counter = counter;
  r->used = used;
  r->has_spare = 0;
  r->spare = 0;
  if (used < 4) block(r, counter - 1, r->buf);
  return CJ_OK;
}

uint32_t cj_rng_u32(cj_rng *r)
{
  if (r->used >= 4) {
    block(r, r->counter++, r->buf);
    r->used = 0;
  }
  return r->buf[r->used++];
}

double cj_rng_uniform(cj_rng *r)
{
  uint32_t hi = cj_rng_u32(r);
  uint32_t lo = cj_rng_u32(r);
  return CJ_U01(hi, lo);
}

uint64_t cj_rng_below(cj_rng *r, uint64_t n)
{
  if (n == 0) return 0;
  if (n <= 0xFFFFFFFFu) {           /* Lemire (2019), 32-bit */
    uint32_t n32 = (uint32_t)n;
    uint64_t m = (uint64_t)cj_rng_u32(r) * n32;
    uint32_t l = (uint32_t)m;
    if (l < n32) {
      uint32_t t = (uint32_t)(-n32) % n32;
      while (l < t) {
        m = (uint64_t)cj_rng_u32(r) * n32;
        l = (uint32_t)m;
      }
    }
    return m >> 32;
  }
  uint64_t x = (uint64_t)cj_rng_u32(r) << 32;
  x |= cj_rng_u32(r);
  unsigned __int128 m = (unsigned __int128)x * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = (0 - n) % n;
    while (l < t) {
      x = (uint64_t)cj_rng_u32(r) << 32;
      x |= cj_rng_u32(r);
      m = (unsigned __int128)x * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* ---- deterministic elementary functions ------------------------------------ */

static const double ln2_hi = 6.93147180369123816490e-01;  /* 32 significant bits */
static const double ln2_lo = 1.90821492927058770002e-10;

/* log(1+f) for m = 1+f in [sqrt(1/2), sqrt(2)): with s = f/(2+f),
 * log(1+f) = 2 atanh(s) = f - s (f - R), R = 2z/3 + 2z^2/5 + ..., z = s^2. */
static double log1pm(double f)
{
  double s = f / (2.0 + f), z = s * s, R;
  R = 2.0 / 23;
  R = 2.0 / 21 + z * R;
  R = 2.0 / 19 + z * R;
  R = 2.0 / 17 + z * R;
  R = 2.0 / 15 + z * R;
  R = 2.0 / 13 + z * R;
  R = 2.0 / 11 + z * R;
  R = 2.0 / 9 + z * R;
  R = 2.0 / 7 + z * R;
  R = 2.0 / 5 + z * R;
  R = 2.0 / 3 + z * R;
  R *= z;
  return f - s * (f - R);
}

double cj_rng_log(double x)
{
  int k;
  double m;
  if (isnan(x) || x < 0) return NAN;
  if (x == 0) return -INFINITY;
  if (isinf(x)) return x;
  m = frexp(x, &k);                            /* x = m 2^k, m in [1/2, 1) */
  if (m < 0.70710678118654752440) {
    m *= 2;
    k--;
  }
  return k * ln2_hi + (log1pm(m - 1.0) + k * ln2_lo);
}

/* log(1 + x) accurate for small x (used for q^n in binomial inversion). */
static double log1pd(double x)
{
  double u = 1.0 + x;
  if (u == 1.0) return x;
  return cj_rng_log(u) - ((u - 1.0) - x) / u;
}

double cj_rng_exp(double x)
{
  static const double c[] = {  /* 1/n!, n = 0..13 */
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
    1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
    1.0 / 6227020800.0
  };
  double kf, r, p;
  if (isnan(x)) return x;
  if (x > 709.782712893384) return INFINITY;
  if (x < -745.1332191019412) return 0.0;
  kf = floor(x * 1.44269504088896338700 + 0.5);
  r = (x - kf * ln2_hi) - kf * ln2_lo;           /* |r| <= ln2/2 */
  p = c[13];
  for (int i = 12; i >= 0; i--) p = c[i] + r * p;
  return ldexp(p, (int)kf);
}

void cj_rng_sincos2pi(double t, double *s, double *c)
{
  static const double sc[] = {  /* (-1)^k / (2k+1)! */
    1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880, -1.0 / 39916800,
    1.0 / 6227020800.0, -1.0 / 1307674368000.0, 1.0 / 355687428096000.0
  };
  static const double cc[] = {  /* (-1)^k / (2k)! */
    1.0, -1.0 / 2, 1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800,
    1.0 / 479001600, -1.0 / 87178291200.0, 1.0 / 20922789888000.0,
    -1.0 / 6402373705728000.0
  };
  double u, f, x, x2, sn, cs, tmp;
  int q, swap;
  t -= floor(t);
  if (!(t < 1.0)) t = 0.0;                     /* also NaN/inf: angle 0 */
  u = t * 4.0;                                 /* exact */
  q = (int)u;
  f = u - q;                                   /* exact, in [0, 1) */
  swap = f > 0.5;
  if (swap) f = 1.0 - f;                       /* exact */
  x = f * 1.57079632679489661923;              /* [0, pi/4] */
  x2 = x * x;
  sn = sc[8];
  for (int i = 7; i >= 0; i--) sn = sc[i] + x2 * sn;
  sn *= x;
  cs = cc[9];
  for (int i = 8; i >= 0; i--) cs = cc[i] + x2 * cs;
  if (swap) { tmp = sn; sn = cs; cs = tmp; }
  switch (q) {
  case 0: *s = sn; *c = cs; break;
  case 1: *s = cs; *c = -sn; break;
  case 2: *s = -sn; *c = -cs; break;
  default: *s = -cs; *c = sn; break;
  }
}

double cj_rng_logfact(int64_t k)
{
  static const double small[16] = {  /* log(k!) exactly rounded, k < 16 */
    0, 0, 0.69314718055994529, 1.791759469228055, 3.1780538303479458,
    4.7874917427820458, 6.5792512120101012, 8.5251613610654147,
    10.604602902745251, 12.801827480081469, 15.104412573075516,
    17.502307845873887, 19.987214495661885, 22.552163853123425,
    25.19122118273868, 27.89927138384089
  };
  double n, n2, corr;
  if (k < 0) return NAN;
  if (k < 16) return small[k];
  n = (double)k + 1.0;                         /* Stirling series for lgamma(n) */
  n2 = n * n;
  corr = (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - 1.0 / (1680 * n2)) / n2) / n2) / n;
  return (n - 0.5) * cj_rng_log(n) - n + 0.91893853320467274178 + corr;
}

/* ---- distributions ---------------------------------------------------------- */

double cj_rng_normal(cj_rng *r)
{
  double u1, u2, rad, s, c;
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  u1 = cj_rng_uniform(r);
  u2 = cj_rng_uniform(r);
  rad = sqrt(-2.0 * cj_rng_log(1.0 - u1));
  cj_rng_sincos2pi(u2, &s, &c);
  r->spare = rad * s;
  r->has_spare = 1;
  return rad * c;
}

double cj_rng_exponential(cj_rng *r)
{
  return 0.0 - cj_rng_log(1.0 - cj_rng_uniform(r)) + 0.0;   /* never -0 */
}

/* Sequential search from 0: the smallest x with u < F(x). pk(x+1) is pk(x)
 * times step(x+1); a search that runs away (u within rounding of 1) starts
 * again with a new u. */
static int64_t poisson_inv(cj_rng *r, double lambda)
{
  double p0 = cj_rng_exp(-lambda);
  for (;;) {
    double u = cj_rng_uniform(r), pk = p0, F = p0;
    int64_t x = 0;
    while (u >= F && x < 1000) {
      x++;
      pk *= lambda / (double)x;
      F += pk;
    }
    if (x < 1000) return x;
  }
}

/* PTRS: Hoermann, "The transformed rejection method for generating Poisson
 * random variables", Insurance: Mathematics and Economics 12 (1993). */
static int64_t poisson_ptrs(cj_rng *r, double lambda)
{
  double slam = sqrt(lambda), loglam = cj_rng_log(lambda);
  double b = 0.931 + 2.53 * slam;
  double a = -0.059 + 0.02483 * b;
  double invalpha = 1.1239 + 1.1328 / (b - 3.4);
  double vr = 0.9277 - 3.6224 / (b - 2.0);
  double loginvalpha = cj_rng_log(invalpha);
  for (;;) {
    double U = cj_rng_uniform(r) - 0.5;
    double V = cj_rng_uniform(r);
    double us = 0.5 - fabs(U);
    double k = floor((2.0 * a / us + b) * U + lambda + 0.43);
    if (us >= 0.07 && V <= vr) return (int64_t)k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (cj_rng_log(V) + loginvalpha - cj_rng_log(a / (us * us) + b) <=
        -lambda + k * loglam - cj_rng_logfact((int64_t)k))
      return (int64_t)k;
  }
}

int64_t cj_rng_poisson(cj_rng *r, double lambda)
{
  if (!(lambda >= 0 && lambda <= CJ_POISSON_MAX)) return -1;
  if (lambda == 0) return 0;
  return lambda < 10 ? poisson_inv(r, lambda) : poisson_ptrs(r, lambda);
}

/* Binomial draws with the constants of (n, p) computed once (cj_binom_init),
 * so that many draws of one distribution (a Poisson drive: one per neuron
 * and step) pay for no logarithm or exponential in the common case. */
void cj_binom_init(cj_binom *B, int64_t n, double p)
{
  memset(B, 0, sizeof *B);
  B->n = n;
  B->p = p;
  if (n < 0 || !(p >= 0 && p <= 1)) { B->kind = CJ_BINOM_BAD; return; }
  if (n == 0 || p == 0) { B->kind = CJ_BINOM_ZERO; return; }
  if (p == 1) { B->kind = CJ_BINOM_ALL; return; }
  if (p > 0.5) { B->flip = 1; p = 1.0 - p; }
  double nd = (double)n, q = 1.0 - p;
  if (nd * p < 10) {               /* inversion */
    B->kind = CJ_BINOM_INV;
    B->s = p / q;
    B->a = (nd + 1.0) * B->s;
    B->p0 = cj_rng_exp(nd * log1pd(-p));
    return;
  }
  B->kind = CJ_BINOM_BTRS;         /* Hoermann's BTRS */
  double spq = sqrt(nd * p * q);
  B->b = 1.15 + 2.53 * spq;
  B->a = -0.0873 + 0.0248 * B->b + 0.01 * p;
  B->c = nd * p + 0.5;
  B->vr = 0.92 - 4.2 / B->b;
  B->alpha = (2.83 + 5.1 / B->b) * spq;
  B->lpq = cj_rng_log(p / q);
  B->m = floor((nd + 1.0) * p);
  B->h = cj_rng_logfact((int64_t)B->m) + cj_rng_logfact(n - (int64_t)B->m);
}

int64_t cj_binom_tabulate(cj_binom *B, double *buf, int64_t cap)
{
  if (B->kind != CJ_BINOM_INV) return 0;
  const int64_t len = (B->n < 1000 ? B->n : 1000) + 1;
  if (!buf || cap < len) return len;
  double pk = B->p0, F = B->p0;
  buf[0] = F;
  for (int64_t x = 1; x < len; x++) {      /* the steps of binomial_inv's loop */
    pk *= B->a / (double)x - B->s;
    F += pk;
    buf[x] = F;
  }
  B->cdf = buf;
  B->ncdf = len;
  return len;
}

static int64_t binomial_inv(const cj_binom *B, cj_rng *r)
{
  const int64_t n = B->n;
  if (B->cdf)
    for (;;) {
      const double u = cj_rng_uniform(r);
      const int64_t last = B->ncdf - 1;
      int64_t x = 0;
      while (x < last && u >= B->cdf[x]) x++;
      if (u < B->cdf[x] || x == n) return x;
    }
  for (;;) {
    double u = cj_rng_uniform(r), pk = B->p0, F = B->p0;
    int64_t x = 0;
    while (u >= F && x < n && x < 1000) {
      x++;
      pk *= B->a / (double)x - B->s;
      F += pk;
    }
    if (u < F || x == n) return x;
  }
}

/* BTRS: Hoermann, "The generation of binomial random variates", Journal of
 * Statistical Computation and Simulation 46 (1993). Needs n p >= 10, p <= 1/2. */
static int64_t binomial_btrs(const cj_binom *B, cj_rng *r)
{
  const int64_t n = B->n;
  const double nd = (double)n, a = B->a, b = B->b;
  for (;;) {
    double U = cj_rng_uniform(r) - 0.5;
    double V = cj_rng_uniform(r);
    double us = 0.5 - fabs(U);
    double k = floor((2.0 * a / us + b) * U + B->c);
    if (k < 0 || k > nd) continue;
    if (us >= 0.07 && V <= B->vr) return (int64_t)k;
    V = cj_rng_log(V * B->alpha / (a / (us * us) + b));
    if (V <= B->h - cj_rng_logfact((int64_t)k) - cj_rng_logfact(n - (int64_t)k) + (k - B->m) * B->lpq)
      return (int64_t)k;
  }
}

int64_t cj_binom_draw(const cj_binom *B, cj_rng *r)
{
  int64_t x;
  switch (B->kind) {
  case CJ_BINOM_ZERO: return 0;
  case CJ_BINOM_ALL: return B->n;
  case CJ_BINOM_INV: x = binomial_inv(B, r); break;
  case CJ_BINOM_BTRS: x = binomial_btrs(B, r); break;
  default: return -1;
  }
  return B->flip ? B->n - x : x;
}

/* ---- geometric gaps (rng.h) --------------------------------------------------
 * Ziggurat of exp(-x), x >= 0, in 256 layers of equal area v: x[1] = R, the
 * edge of the base layer (the rectangle [0, R] x [0, exp(-R)] and the tail
 * beyond R, drawn as a rectangle of width x[0] = v / exp(-R)), then
 * x[i+1] = -log(exp(-x[i]) + v / x[i]), which reaches 0 at i = 256 for this
 * R (the constant of the 256-layer exponential ziggurat). */
#define ZIG_R 7.69711747013104972

void cj_geom_init(cj_geom *G, double p)
{
  double v = (ZIG_R + 1.0) * cj_rng_exp(-ZIG_R);
  memset(G, 0, sizeof *G);
  G->p = p >= 0 ? p : 0;                  /* NaN and negative: never */
  if (!(p > 0) || p >= 1) return;
  G->il = -1.0 / log1pd(-p);
  G->x[0] = v / cj_rng_exp(-ZIG_R);
  G->x[1] = ZIG_R;
  G->fx[0] = 0;
  G->fx[1] = cj_rng_exp(-ZIG_R);
  for (int i = 1; i < 255; i++) {
    G->fx[i + 1] = G->fx[i] + v / G->x[i];
    G->x[i + 1] = -cj_rng_log(G->fx[i + 1]);
  }
  G->x[256] = 0;
  G->fx[256] = 1;
}

/* Words of a cursor read ahead in runs of nb blocks (computed one after
 * another, so their multiplications overlap), then given back: wdone leaves
 * the cursor exactly where as many cj_rng_u32 calls would. */
#define WBLOCKS 16
typedef struct wbuf { cj_rng *r; uint32_t w[4 * WBLOCKS]; int i, n, nb, fromcur; } wbuf;

/* Blocks j .. j + nb - 1 of the cursor's stream (nb a constant of the
 * caller, at most WBLOCKS), as block() makes them, round by round over all
 * of them (a loop the compiler vectorises: 5.0 against 8.5 ns a block on
 * SSE2 for a run of WBLOCKS). */
static inline void blocksn(const cj_rng *r, uint64_t j, uint32_t *out, int nb)
{
  uint32_t c0[WBLOCKS], c1[WBLOCKS], c2[WBLOCKS], c3[WBLOCKS];
  uint32_t k0 = (uint32_t)r->seed, k1 = (uint32_t)(r->seed >> 32);
  for (int l = 0; l < nb; l++) {
    c0[l] = (uint32_t)(j + (uint64_t)l);
    c1[l] = (uint32_t)((j + (uint64_t)l) >> 32);
    c2[l] = (uint32_t)r->stream;
    c3[l] = (uint32_t)(r->stream >> 32) | 0x80000000u;
  }
  for (int round = 0; round < 10; round++) {
    for (int l = 0; l < nb; l++) {
      const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l], p1 = (uint64_t)PHILOX_M1 * c2[l];
      const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = (uint32_t)p1;
      c3[l] = (uint32_t)p0;
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  for (int l = 0; l < nb; l++) {
    out[4 * l] = c0[l];
    out[4 * l + 1] = c1[l];
    out[4 * l + 2] = c2[l];
    out[4 * l + 3] = c3[l];
  }
}

static void blocks(const cj_rng *r, uint64_t j, uint32_t *out) { blocksn(r, j, out, WBLOCKS); }
static void blocks4(const cj_rng *r, uint64_t j, uint32_t *out) { blocksn(r, j, out, 4); }

static void wrefill(wbuf *W)
{
  cj_rng *r = W->r;
  W->i = 0;
  if (r->used < 4) {                 /* the rest of the cursor's block first */
    W->n = 4 - r->used;
    memcpy(W->w, r->buf + r->used, (size_t)W->n * sizeof *W->w);
    r->used = 4;
    W->fromcur = 1;
    return;
  }
  if (W->nb == WBLOCKS) blocks(r, r->counter, W->w);
  else if (W->nb == 4) blocks4(r, r->counter, W->w);
  else block(r, r->counter, W->w);
  r->counter += (uint64_t)W->nb;
  W->n = 4 * W->nb;
  W->fromcur = 0;
}

static inline uint32_t wnext(wbuf *W)
{
  if (W->i == W->n) wrefill(W);
  return W->w[W->i++];
}

static void wdone(wbuf *W)
{
  cj_rng *r = W->r;
  const int left = W->n - W->i;
  if (!left) return;
  if (W->fromcur) { r->used = 4 - left; return; }
  const int used = W->i, full = used / 4;  /* blocks of this run wholly or partly used */
  r->counter -= (uint64_t)(W->nb - full - (used % 4 != 0));
  if (used % 4) {
    memcpy(r->buf, W->w + 4 * full, sizeof r->buf);
    r->used = used % 4;
  } else {
    r->used = 4;
  }
}

/* E ~ Exp(1) from the ziggurat of G. */
static inline double zigexp(const cj_geom *G, wbuf *W)
{
  double base = 0;
  for (;;) {
    uint64_t b = wnext(W);
    b = b << 32 | wnext(W);
    const int i = (int)(b & 255);
    const double x = (double)(b >> 11) * 0x1.0p-53 * G->x[i];
    if (x < G->x[i + 1]) return base + x;          /* inside the layer's core */
    if (i == 0) { base += ZIG_R; continue; }       /* the tail: R + Exp(1) */
    const uint32_t hi = wnext(W), lo = wnext(W);
    const double y = G->fx[i] + CJ_U01(hi, lo) * (G->fx[i + 1] - G->fx[i]);
    if (y < cj_rng_exp(-x)) return base + x;      /* under the curve in the wedge */
  }
}

static inline int64_t gap(const cj_geom *G, wbuf *W)
{
  const double g = zigexp(G, W) * G->il;
  return g < 0x1.0p62 ? (int64_t)g : INT64_MAX;
}

int64_t cj_geom_draw(const cj_geom *G, cj_rng *r)
{
  if (G->p >= 1) return 0;
  if (!(G->p > 0)) return INT64_MAX;
  wbuf W = { .r = r, .nb = 1 };
  const int64_t g = gap(G, &W);
  wdone(&W);
  return g;
}

void cj_geom_fill(const cj_geom *G, cj_rng *r, int64_t *out, int64_t n)
{
  if (G->p >= 1 || !(G->p > 0)) {
    for (int64_t k = 0; k < n; k++) out[k] = G->p >= 1 ? 0 : INT64_MAX;
    return;
  }
  wbuf W = { .r = r, .nb = WBLOCKS };
  for (int64_t k = 0; k < n; k++) out[k] = gap(G, &W);
  wdone(&W);
}

int64_t cj_geom_walk(const cj_geom *G, cj_rng *r, int64_t from, int64_t end, int64_t *out, int64_t cap)
{
  int64_t n = 0, pos = from - 1, g[32];
  if (G->p >= 1) {
    for (; n < cap && from + n < end; n++) out[n] = from + n;
    return n;
  }
  if (!(G->p > 0)) return 0;
  wbuf W;                            /* w is written before it is read: not cleared */
  W.r = r; W.i = W.n = 0; W.nb = WBLOCKS; W.fromcur = 0;
  /* far from the end, 32 gaps at a time (their computations overlap; the
   * ones after a gap passing the end are drawn in vain), from runs of
   * blocks; then one by one, from runs of 4 blocks while 6 or more are
   * expected, then block by block: little is made in vain */
  while (n + 32 <= cap && (double)(end - pos) * G->p >= 48) {
    for (int k = 0; k < 32; k++) g[k] = gap(G, &W);
    for (int k = 0; k < 32; k++) {
      if (g[k] >= end - pos - 1) goto done;
      pos += 1 + g[k];
      out[n++] = pos;
    }
  }
  while (n < cap) {
    if (W.i == W.n) {
      const double mu = (double)(end - pos) * G->p;
      W.nb = mu >= 19 ? WBLOCKS : mu >= 6 ? 4 : 1;
    }
    const int64_t x = gap(G, &W);
    if (x >= end - pos - 1) break;
    pos += 1 + x;
    out[n++] = pos;
  }
done:
  wdone(&W);
  return n;
}

int64_t cj_rng_binomial(cj_rng *r, int64_t n, double p)
{
  cj_binom B;
  cj_binom_init(&B, n, p);
  return cj_binom_draw(&B, r);
}

/* ---- bulk fills ------------------------------------------------------------- */

enum { D_UNIFORM, D_NORMAL, D_EXPONENTIAL, D_POISSON, D_BINOMIAL, D_BELOW, D_RANGE };

typedef struct {
  cj_rng *r;
  int kind;
  cj_dtype t;
  double a, b;        /* uniform lo, hi; normal mu, sigma; exponential scale; poisson lambda; binomial p */
  int64_t n, off;     /* binomial n; below n and offset; range next value */
  int status;
  double bad;         /* the value that did not fit */
} fillctx;

static double draw(fillctx *f)
{
  switch (f->kind) {
  case D_UNIFORM: {
    double v = f->a + (f->b - f->a) * cj_rng_uniform(f->r);
    return v < f->b ? v : nextafter(f->b, f->a);
  }
  case D_NORMAL: return f->a + f->b * cj_rng_normal(f->r);
  case D_EXPONENTIAL: return f->a * cj_rng_exponential(f->r);
  case D_POISSON: return (double)cj_rng_poisson(f->r, f->a);
  case D_BINOMIAL: return (double)cj_rng_binomial(f->r, f->n, f->b);
  case D_BELOW: return (double)((int64_t)cj_rng_below(f->r, (uint64_t)f->n) + f->off);
  default: return (double)f->off++;
  }
}

/* Store v into element q of dtype t; 0 when it does not fit. */
static int store(fillctx *f, char *q, double v)
{
  switch (f->t) {
  case CJ_F64: *(double *)q = v; return 1;
  case CJ_F32: {
    float x = (float)v;
    if (f->kind == D_UNIFORM && x >= (float)f->b && (float)f->b > (float)f->a)
      x = nextafterf((float)f->b, (float)f->a);
    if (f->kind >= D_POISSON && (double)x != v) return 0;
    *(float *)q = x;
    return 1;
  }
  case CJ_I32:
    if (!(v >= -2147483648.0 && v <= 2147483647.0)) return 0;
    *(int32_t *)q = (int32_t)v;
    return 1;
  case CJ_U8:
    if (!(v >= 0 && v <= 255)) return 0;
    *(uint8_t *)q = (uint8_t)v;
    return 1;
  default: return 0;
  }
}

static void fillk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  fillctx *f = ctx;
  int64_t step = s[0] * (int64_t)cj_dtype_size(f->t);
  char *q = p[0];
  if (f->status) return;
  for (int64_t i = 0; i < n; i++, q += step) {
    double v = draw(f);
    if (!store(f, q, v)) {
      f->status = CJ_ERANGE;
      f->bad = v;
      return;
    }
  }
}

static int fill(fillctx *f, cj_array *a, const char *what)
{
  const cj_array *ops[1] = { a };
  int st;
  f->t = a->dtype;
  f->status = CJ_OK;
  if (f->kind <= D_EXPONENTIAL && cj_dtype_isint(a->dtype))
    return cj_fail(CJ_EINVAL, "%s: needs a float64 or float32 array (got %s)", what,
                   cj_dtype_name(a->dtype));
  if ((st = cj_array_apply(1, ops, fillk, f))) return st;
  if (f->status)
    return cj_fail(CJ_ERANGE, "%s: value %.17g does not fit a %s array", what, f->bad,
                   cj_dtype_name(a->dtype));
  return CJ_OK;
}

static fillctx mkctx(cj_rng *r, int kind, double a, double b)
{
  fillctx f;
  memset(&f, 0, sizeof f);
  f.r = r;
  f.kind = kind;
  f.a = a;
  f.b = b;
  return f;
}

int cj_rng_fill_uniform(cj_rng *r, cj_array *a, double lo, double hi)
{
  fillctx f = mkctx(r, D_UNIFORM, lo, hi);
  if (!(lo < hi) || !isfinite(hi - lo))
    return cj_fail(CJ_EINVAL, "uniform: needs finite lo < hi (got %g, %g)", lo, hi);
  return fill(&f, a, "uniform");
}

int cj_rng_fill_normal(cj_rng *r, cj_array *a, double mu, double sigma)
{
  fillctx f = mkctx(r, D_NORMAL, mu, sigma);
  if (!isfinite(mu)) return cj_fail(CJ_EINVAL, "normal: mean must be finite (got %g)", mu);
  if (!(sigma >= 0 && isfinite(sigma)))
    return cj_fail(CJ_EINVAL, "normal: standard deviation must be finite and >= 0 (got %g)", sigma);
  return fill(&f, a, "normal");
}

int cj_rng_fill_exponential(cj_rng *r, cj_array *a, double scale)
{
  fillctx f = mkctx(r, D_EXPONENTIAL, scale, 0);
  if (!(scale >= 0 && isfinite(scale)))
    return cj_fail(CJ_EINVAL, "exponential: scale must be finite and >= 0 (got %g)", scale);
  return fill(&f, a, "exponential");
}

int cj_rng_fill_poisson(cj_rng *r, cj_array *a, double lambda)
{
  fillctx f = mkctx(r, D_POISSON, lambda, 0);
  if (!(lambda >= 0 && lambda <= CJ_POISSON_MAX))
    return cj_fail(CJ_EINVAL, "poisson: lambda must be in [0, %g] (got %g)", CJ_POISSON_MAX, lambda);
  return fill(&f, a, "poisson");
}

int cj_rng_fill_binomial(cj_rng *r, cj_array *a, int64_t n, double p)
{
  fillctx f = mkctx(r, D_BINOMIAL, 0, p);
  f.n = n;
  if (n < 0) return cj_fail(CJ_EINVAL, "binomial: n must be >= 0 (got %lld)", (long long)n);
  if (!(p >= 0 && p <= 1)) return cj_fail(CJ_EINVAL, "binomial: p must be in [0, 1] (got %g)", p);
  return fill(&f, a, "binomial");
}

int cj_rng_fill_below(cj_rng *r, cj_array *a, uint64_t n, int64_t offset)
{
  fillctx f = mkctx(r, D_BELOW, 0, 0);
  if (n == 0 || n > (1ull << 53))
    return cj_fail(CJ_EINVAL, "integers: n must be in [1, 2^53] (got %llu)", (unsigned long long)n);
  f.n = (int64_t)n;
  f.off = offset;
  return fill(&f, a, "integers");
}

/* ---- permutations and choice -------------------------------------------------- */

static char *elem(const cj_array *a, int64_t i)
{
  return (char *)a->data + i * a->strides[0] * (int64_t)cj_dtype_size(a->dtype);
}

int cj_rng_shuffle(cj_rng *r, cj_array *a)
{
  size_t es;
  char tmp[8];
  if (a->ndim != 1) return cj_fail(CJ_EINVAL, "shuffle: needs a 1-D array (got %d-D)", a->ndim);
  es = cj_dtype_size(a->dtype);
  for (int64_t i = a->shape[0] - 1; i > 0; i--) {
    int64_t j = (int64_t)cj_rng_below(r, (uint64_t)i + 1);
    char *pi = elem(a, i), *pj = elem(a, j);
    memcpy(tmp, pi, es);
    memcpy(pi, pj, es);
    memcpy(pj, tmp, es);
  }
  return CJ_OK;
}

int cj_rng_permutation(cj_rng *r, cj_array *a, int64_t base)
{
  fillctx f = mkctx(r, D_RANGE, 0, 0);
  int st;
  if (a->ndim != 1) return cj_fail(CJ_EINVAL, "permutation: needs a 1-D array (got %d-D)", a->ndim);
  f.off = base;
  if ((st = fill(&f, a, "permutation"))) return st;
  return cj_rng_shuffle(r, a);
}

/* An open-addressing set of int64 >= 0 (stored + 1; 0 is empty). */
typedef struct { uint64_t *slot; uint64_t mask; } iset;

static int iset_init(iset *s, int64_t k)
{
  uint64_t cap = 16;
  while (cap < (uint64_t)k * 2) cap <<= 1;
  s->slot = cj_calloc(cap, sizeof *s->slot);
  s->mask = cap - 1;
  return s->slot ? CJ_OK : cj_fail(CJ_ENOMEM, "choice: out of memory");
}

/* Insert v; returns 1 if it was already there. */
static int iset_put(iset *s, int64_t v)
{
  uint64_t key = (uint64_t)v + 1, h = (key * 0x9E3779B97F4A7C15ull) & s->mask;
  while (s->slot[h]) {
    if (s->slot[h] == key) return 1;
    h = (h + 1) & s->mask;
  }
  s->slot[h] = key;
  return 0;
}

static void shuffle64(cj_rng *r, int64_t *x, int64_t k)
{
  for (int64_t i = k - 1; i > 0; i--) {
    int64_t j = (int64_t)cj_rng_below(r, (uint64_t)i + 1), t = x[i];
    x[i] = x[j];
    x[j] = t;
  }
}

static int choose_floyd(cj_rng *r, int64_t n, int64_t k, int64_t *out)
{
  iset s;
  int64_t m = 0;
  if (iset_init(&s, k)) return CJ_ENOMEM;
  for (int64_t j = n - k; j < n; j++) {
    int64_t t = (int64_t)cj_rng_below(r, (uint64_t)j + 1);
    if (iset_put(&s, t)) {
      iset_put(&s, j);
      t = j;
    }
    out[m++] = t;
  }
  cj_free(s.slot);
  shuffle64(r, out, k);
  return CJ_OK;
}

static int choose_partial(cj_rng *r, int64_t n, int64_t k, int64_t *out)
{
  int64_t *idx = cj_malloc((size_t)n * sizeof *idx);
  if (!idx) return cj_fail(CJ_ENOMEM, "choice: out of memory");
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  for (int64_t i = 0; i < k; i++) {
    int64_t j = i + (int64_t)cj_rng_below(r, (uint64_t)(n - i)), t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
    out[i] = idx[i];
  }
  cj_free(idx);
  return CJ_OK;
}

static int choose_cumulative(cj_rng *r, const double *w, int64_t n, int64_t k, int64_t *out)
{
  double *cum = cj_malloc((size_t)n * sizeof *cum), total = 0;
  int64_t lastpos = 0;
  if (!cum) return cj_fail(CJ_ENOMEM, "choice: out of memory");
  for (int64_t i = 0; i < n; i++) {
    total += w[i];
    cum[i] = total;
    if (w[i] > 0) lastpos = i;
  }
  for (int64_t j = 0; j < k; j++) {
    double x = cj_rng_uniform(r) * total;
    int64_t lo = 0, hi = n;                      /* first i with cum[i] > x */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (cum[mid] > x) hi = mid; else lo = mid + 1;
    }
    out[j] = lo < n ? lo : lastpos;
  }
  cj_free(cum);
  return CJ_OK;
}

typedef struct { double key; int64_t i; } keyed;

static int keyless(const keyed *a, const keyed *b)
{
  return a->key < b->key || (a->key == b->key && a->i < b->i);
}

/* max-heap on (key, i) */
static void siftdown(keyed *h, int64_t n, int64_t i)
{
  for (;;) {
    int64_t l = 2 * i + 1, m = i;
    if (l < n && keyless(&h[m], &h[l])) m = l;
    if (l + 1 < n && keyless(&h[m], &h[l + 1])) m = l + 1;
    if (m == i) return;
    keyed t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static int cmpkeyed(const void *a, const void *b)
{
  const keyed *x = a, *y = b;
  return keyless(x, y) ? -1 : keyless(y, x) ? 1 : 0;
}

static int choose_keys(cj_rng *r, const double *w, int64_t n, int64_t k, int64_t *out)
{
  keyed *h = cj_malloc((size_t)(k ? k : 1) * sizeof *h);
  int64_t m = 0;
  if (!h) return cj_fail(CJ_ENOMEM, "choice: out of memory");
  for (int64_t i = 0; i < n; i++) {
    double e = cj_rng_exponential(r);
    keyed x;
    if (!(w[i] > 0)) continue;
    x.key = e / w[i];
    x.i = i;
    if (m < k) {
      h[m++] = x;
      if (m == k)
        for (int64_t j = k / 2 - 1; j >= 0; j--) siftdown(h, k, j);
    } else if (k > 0 && keyless(&x, &h[0])) {
      h[0] = x;
      siftdown(h, k, 0);
    }
  }
  qsort(h, (size_t)m, sizeof *h, cmpkeyed);
  for (int64_t j = 0; j < m; j++) out[j] = h[j].i;
  cj_free(h);
  return CJ_OK;
}

/* Weights as a contiguous double vector (checked). *owned tells the caller to free it. */
static int getweights(const cj_array *w, int64_t n, int64_t k, int replace, double **out)
{
  double *v, total = 0;
  int64_t npos = 0;
  if (w->ndim != 1 || w->shape[0] != n)
    return cj_fail(CJ_EINVAL, "choice: weights must be a 1-D array of %lld elements",
                   (long long)n);
  v = cj_malloc((size_t)(n ? n : 1) * sizeof *v);
  if (!v) return cj_fail(CJ_ENOMEM, "choice: out of memory");
  for (int64_t i = 0; i < n; i++) {
    v[i] = cj_array_getflat(w, i);
    if (!(v[i] >= 0 && isfinite(v[i]))) {
      double bad = v[i];
      cj_free(v);
      return cj_fail(CJ_EINVAL, "choice: weight %lld is %g (weights must be finite and >= 0)",
                     (long long)i + 1, bad);
    }
    total += v[i];
    npos += v[i] > 0;
  }
  if (!(total > 0 && isfinite(total)) || (!replace && npos < k)) {
    cj_free(v);
    if (!replace && total > 0 && isfinite(total))
      return cj_fail(CJ_EINVAL, "choice: %lld draws without replacement but only %lld "
                     "nonzero weights", (long long)k, (long long)npos);
    return cj_fail(CJ_EINVAL, "choice: weights must have a positive, finite sum");
  }
  *out = v;
  return CJ_OK;
}

int cj_rng_choice(cj_rng *r, int64_t n, int64_t k, int replace, const cj_array *w, int64_t *out)
{
  double *wv = NULL;
  int st;
  if (n < 0 || k < 0)
    return cj_fail(CJ_EINVAL, "choice: n and k must be >= 0 (got %lld, %lld)", (long long)n,
                   (long long)k);
  if (k > 0 && n == 0) return cj_fail(CJ_EINVAL, "choice: cannot draw from an empty set");
  if (!replace && k > n)
    return cj_fail(CJ_EINVAL, "choice: cannot draw %lld of %lld without replacement",
                   (long long)k, (long long)n);
  if (k == 0) return CJ_OK;
  if (w) {
    if ((st = getweights(w, n, k, replace, &wv))) return st;
    st = replace ? choose_cumulative(r, wv, n, k, out) : choose_keys(r, wv, n, k, out);
    cj_free(wv);
    return st;
  }
  if (replace) {
    for (int64_t j = 0; j < k; j++) out[j] = (int64_t)cj_rng_below(r, (uint64_t)n);
    return CJ_OK;
  }
  return k <= n / 4 ? choose_floyd(r, n, k, out) : choose_partial(r, n, k, out);
}
