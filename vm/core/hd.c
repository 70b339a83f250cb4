/*
 * hd.c — hyperdimensional vectors (see hd.h for the models and contracts).
 *
 * Binary spatter codes run a 64-bit word at a time: binding is XOR,
 * similarity a popcount of the XOR (the popcnt instruction when the
 * processor has it, chosen at run time), and the majority of many vectors
 * is counted by bit-sliced adders (one counter bit-plane per power of two,
 * so adding a vector costs a few word operations per 64 elements) and read
 * out by a bit-sliced comparison with n / 2. The real and complex models
 * are plain loops over contiguous doubles; holographic binding goes through
 * FFTW (fft.h), similarities of many vectors through BLAS (cj_dgemm).
 *
 * Encoders that bind shifted vectors (n-grams) work in the binding
 * "domain" of the model: the words, the doubles, the complex numbers, or,
 * for hrr, the Fourier coefficients (d/2 + 1 complex numbers), where
 * convolution is a product; bundles accumulate there in doubles.
 */
#include "hd.h"

#include "array.h"
#include "fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hot loops: an AVX2 clone chosen at run time, vectorised. They are
 * elementwise, so every clone gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HOT __attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#else
#define HOT
#endif

static const char *const modelnames[CJ_HD_NMODELS] = { "bsc", "map", "hrr", "fhrr" };

const char *cj_hd_model_name(cj_hd_model m)
{
  return (unsigned)m < CJ_HD_NMODELS ? modelnames[m] : "?";
}

int cj_hd_model_parse(const char *name, cj_hd_model *m)
{
  for (int i = 0; i < CJ_HD_NMODELS; i++)
    if (strcmp(name, modelnames[i]) == 0) {
      *m = (cj_hd_model)i;
      return CJ_OK;
    }
  return cj_fail(CJ_EINVAL, "unknown model '%s' (expected bsc, map, hrr or fhrr)", name);
}

int64_t cj_hd_words(int64_t d)
{
  return (d + 63) / 64;
}

size_t cj_hd_rowbytes(cj_hd_model m, int64_t d)
{
  switch (m) {
  case CJ_HD_BSC: return (size_t)cj_hd_words(d) * 8;
  case CJ_HD_FHRR: return (size_t)d * 16;
  default: return (size_t)d * 8;
  }
}

void *cj_hd_row(const cj_hd *x, int64_t i)
{
  return (char *)x->data + (size_t)i * cj_hd_rowbytes(x->model, x->d);
}

#define MAXD ((int64_t)1 << 40)

int cj_hd_checksize(cj_hd_model m, int64_t n, int64_t d)
{
  if ((unsigned)m >= CJ_HD_NMODELS) return cj_fail(CJ_EINVAL, "hd: unknown model %d", (int)m);
  if (d < 1) return cj_fail(CJ_EINVAL, "dimension must be at least 1 (got %lld)", (long long)d);
  if (d > MAXD) return cj_fail(CJ_EINVAL, "dimension %lld is too large", (long long)d);
  if (n < 0) return cj_fail(CJ_EINVAL, "number of vectors must be >= 0 (got %lld)", (long long)n);
  if (n > 0 && cj_hd_rowbytes(m, d) > (SIZE_MAX / 4) / (size_t)n)
    return cj_fail(CJ_EINVAL, "%lld vectors of dimension %lld are too large", (long long)n, (long long)d);
  return CJ_OK;
}

/* ---- checks ------------------------------------------------------------- */

static int checkhd(const cj_hd *x, const char *fn, const char *what)
{
  if (cj_hd_checksize(x->model, x->n, x->d)) {
    cj_errprefix("%s: %s", fn, what);
    return CJ_EINVAL;
  }
  if (x->n > 0 && !x->data) return cj_fail(CJ_EINVAL, "%s: %s has no data", fn, what);
  return CJ_OK;
}

/* b is of a's model and dimension. */
static int samekind(const cj_hd *a, const cj_hd *b, const char *fn, const char *what)
{
  int st = checkhd(b, fn, what);
  if (st) return st;
  if (a->model != b->model)
    return cj_fail(CJ_EINVAL, "%s: vectors of one model expected, got %s and %s", fn,
                   cj_hd_model_name(a->model), cj_hd_model_name(b->model));
  if (a->d != b->d)
    return cj_fail(CJ_EINVAL, "%s: vectors of one dimension expected, got %lld and %lld", fn,
                   (long long)a->d, (long long)b->d);
  return CJ_OK;
}

/* out is n rows of x's kind. */
static int checkout(const cj_hd *out, const cj_hd *x, int64_t n, const char *fn)
{
  int st = samekind(x, out, fn, "output");
  if (st) return st;
  if (out->n != n)
    return cj_fail(CJ_EINVAL, "%s: output must have %lld rows (has %lld)", fn, (long long)n,
                   (long long)out->n);
  return CJ_OK;
}

/* Doubles of a real or complex row (map, hrr: d; fhrr: 2d). */
static int64_t nreal(const cj_hd *x)
{
  return x->model == CJ_HD_FHRR ? 2 * x->d : x->d;
}

static uint64_t lastmask(int64_t d)
{
  int r = (int)(d & 63);
  return r ? ((uint64_t)1 << r) - 1 : ~(uint64_t)0;
}

static uint64_t u64(cj_rng *r)
{
  uint64_t lo = cj_rng_u32(r);
  return lo | (uint64_t)cj_rng_u32(r) << 32;
}

/* ---- random vectors ------------------------------------------------------ */

/* One unitary hrr row: random phases with Hermitian symmetry, +1 at
 * frequency 0 (and d/2), inverse transformed. spec: 2 (d/2 + 1) doubles. */
static int unitaryrow(cj_rng *r, double *row, int64_t d, double *spec)
{
  int64_t c = d / 2 + 1;
  spec[0] = 1;
  spec[1] = 0;
  for (int64_t k = 1; k < c; k++) {
    if (2 * k == d) {
      spec[2 * k] = 1;
      spec[2 * k + 1] = 0;
    } else {
      cj_rng_sincos2pi(cj_rng_uniform(r), &spec[2 * k + 1], &spec[2 * k]);
    }
  }
  return cj_fft_c2r(d, 1, spec, row);
}

static int randomrow(cj_rng *r, const cj_hd *x, void *p, int unitary, double *spec)
{
  int64_t d = x->d;
  double *v = p;
  switch (x->model) {
  case CJ_HD_BSC: {
    uint64_t *w = p;
    int64_t nw = cj_hd_words(d);
    for (int64_t j = 0; j < nw; j++) w[j] = u64(r);
    w[nw - 1] &= lastmask(d);
    break;
  }
  case CJ_HD_MAP:
    for (int64_t j = 0; j < d; j += 32) {
      uint32_t u = cj_rng_u32(r);
      for (int64_t b = 0; b < 32 && j + b < d; b++) v[j + b] = (u >> b) & 1 ? 1.0 : -1.0;
    }
    break;
  case CJ_HD_HRR:
    if (unitary) return unitaryrow(r, v, d, spec);
    for (int64_t j = 0; j < d; j++) v[j] = cj_rng_normal(r) / sqrt((double)d);
    break;
  default:
    for (int64_t j = 0; j < d; j++) cj_rng_sincos2pi(cj_rng_uniform(r), &v[2 * j + 1], &v[2 * j]);
  }
  return CJ_OK;
}

int cj_hd_random(cj_rng *r, cj_hd *x, int unitary)
{
  double *spec = NULL;
  int st = checkhd(x, "random", "vectors");
  if (st) return st;
  if (x->model == CJ_HD_HRR && unitary && x->n > 0
      && !(spec = cj_malloc(sizeof(double) * 2 * (size_t)(x->d / 2 + 1))))
    return cj_fail(CJ_ENOMEM, "random: out of memory");
  for (int64_t i = 0; i < x->n && !st; i++) st = randomrow(r, x, cj_hd_row(x, i), unitary, spec);
  cj_free(spec);
  return st;
}

/* ---- binding --------------------------------------------------------------- */

/* Rows of an hrr binding transformed per block: the scratch stays small
 * (and is reused), and the FFTW plans of a block are cached. */
#define HRRBLOCK 8

/* hrr: out = a (*) b, or a (*) involution(b) (correlation) when unbind:
 * in the Fourier domain A B, or A conj(B). */
static int hrrbind(cj_hd *out, const cj_hd *a, const cj_hd *b, int unbind)
{
  int64_t d = a->d, c = d / 2 + 1, n = out->n;
  size_t blk = sizeof(double) * 2 * (size_t)(c * HRRBLOCK);
  double *fa = cj_malloc(blk), *fb = cj_malloc(blk), *fo = cj_malloc(blk), s = unbind ? -1.0 : 1.0;
  int st = CJ_OK;
  if (!fa || !fb || !fo) st = cj_fail(CJ_ENOMEM, "bind: out of memory");
  if (!st && a->n == 1) st = cj_fft_r2c(d, 1, a->data, fa);     /* a broadcast row: once */
  if (!st && b->n == 1) st = cj_fft_r2c(d, 1, b->data, fb);
  for (int64_t i0 = 0; i0 < n && !st; i0 += HRRBLOCK) {
    int64_t nb = n - i0 < HRRBLOCK ? n - i0 : HRRBLOCK;
    if (a->n > 1 && (st = cj_fft_r2c(d, nb, cj_hd_row(a, i0), fa))) break;
    if (b->n > 1 && (st = cj_fft_r2c(d, nb, cj_hd_row(b, i0), fb))) break;
    for (int64_t i = 0; i < nb; i++) {
      const double *pa = fa + 2 * c * (a->n == 1 ? 0 : i), *pb = fb + 2 * c * (b->n == 1 ? 0 : i);
      double *po = fo + 2 * c * i;
      for (int64_t k = 0; k < c; k++) {
        double ar = pa[2 * k], ai = pa[2 * k + 1], br = pb[2 * k], bi = s * pb[2 * k + 1];
        po[2 * k] = ar * br - ai * bi;
        po[2 * k + 1] = ar * bi + ai * br;
      }
    }
    st = cj_fft_c2r(d, nb, fo, cj_hd_row(out, i0));
  }
  cj_free(fa);
  cj_free(fb);
  cj_free(fo);
  return st;
}

/* One row pair of an elementwise model: o = a * b (unbind: a * conj(b)). */
HOT static void bindrow(cj_hd_model m, int64_t d, void *o, const void *a, const void *b, int unbind)
{
  if (m == CJ_HD_BSC) {
    uint64_t *po = o;
    const uint64_t *pa = a, *pb = b;
    for (int64_t w = 0, nw = cj_hd_words(d); w < nw; w++) po[w] = pa[w] ^ pb[w];
  } else if (m == CJ_HD_MAP) {
    double *po = o;
    const double *pa = a, *pb = b;
    for (int64_t j = 0; j < d; j++) po[j] = pa[j] * pb[j];
  } else {
    double *po = o, s = unbind ? -1.0 : 1.0;
    const double *pa = a, *pb = b;
    for (int64_t j = 0; j < d; j++) {
      double ar = pa[2 * j], ai = pa[2 * j + 1], br = pb[2 * j], bi = s * pb[2 * j + 1];
      po[2 * j] = ar * br - ai * bi;
      po[2 * j + 1] = ar * bi + ai * br;
    }
  }
}

int cj_hd_bind(cj_hd *out, const cj_hd *a, const cj_hd *b, int unbind)
{
  const char *fn = unbind ? "unbind" : "bind";
  int64_t n;
  int st;
  if ((st = checkhd(a, fn, "first operand")) || (st = samekind(a, b, fn, "second operand")))
    return st;
  if (a->n != b->n && a->n != 1 && b->n != 1)
    return cj_fail(CJ_EINVAL, "%s: numbers of vectors do not match (%lld and %lld; one of them may be 1)",
                   fn, (long long)a->n, (long long)b->n);
  n = a->n == 1 ? b->n : a->n;
  if ((st = checkout(out, a, n, fn))) return st;
  if (n == 0) return CJ_OK;
  if (a->model == CJ_HD_HRR) return hrrbind(out, a, b, unbind);
  for (int64_t i = 0; i < n; i++)
    bindrow(a->model, a->d, cj_hd_row(out, i), cj_hd_row(a, a->n == 1 ? 0 : i),
            cj_hd_row(b, b->n == 1 ? 0 : i), unbind);
  return CJ_OK;
}

/* ---- accumulating bundles ------------------------------------------------
 * A running weighted sum in doubles: for bsc, +w per 1 bit and -w per 0
 * bit (read out as a majority); otherwise the row's doubles. */
typedef struct accum {
  cj_hd_model m;
  int64_t d, len;
  double *acc;
} accum;

static int acc_init(accum *a, cj_hd_model m, int64_t d, int64_t len, const char *fn)
{
  a->m = m;
  a->d = d;
  a->len = len;
  a->acc = cj_calloc((size_t)len, sizeof(double));
  return a->acc ? CJ_OK : cj_fail(CJ_ENOMEM, "%s: out of memory", fn);
}

static int acc_new(accum *a, const cj_hd *x, const char *fn)
{
  return acc_init(a, x->model, x->d, x->model == CJ_HD_BSC ? x->d : nreal(x), fn);
}

HOT static void acc_add(accum *a, const void *row, double w)
{
  double *acc = a->acc;
  if (a->m == CJ_HD_BSC) {
    const uint64_t *b = row;
    for (int64_t i = 0; i < a->d; i++) acc[i] += (b[i >> 6] >> (i & 63)) & 1 ? w : -w;
  } else {
    const double *v = row;
    for (int64_t i = 0; i < a->len; i++) acc[i] += w * v[i];
  }
}

/* acc += w0 v0 + w1 v1 + w2 v2 + w3 v3 (grouped as (w0 v0 + w1 v1) + (w2 v2 + w3 v3)). */
HOT static void add4(double *acc, int64_t len, const double *const *v, const double *w)
{
  const double *v0 = v[0], *v1 = v[1], *v2 = v[2], *v3 = v[3];
  for (int64_t i = 0; i < len; i++) acc[i] += (w[0] * v0[i] + w[1] * v1[i]) + (w[2] * v2[i] + w[3] * v3[i]);
}

/* Write the bundle to row: bsc the sign of the sums, zero sums broken by
 * the bits of one random u32 pair per word; otherwise the sums. */
static void acc_finish(accum *a, void *row, cj_rng *r)
{
  if (a->m == CJ_HD_BSC) {
    uint64_t *o = row;
    for (int64_t w = 0, nw = cj_hd_words(a->d); w < nw; w++) {
      uint64_t t = u64(r), bits = 0;
      for (int64_t b = 0; b < 64 && 64 * w + b < a->d; b++) {
        double s = a->acc[64 * w + b];
        if (s > 0 || (s == 0 && ((t >> b) & 1))) bits |= (uint64_t)1 << b;
      }
      o[w] = bits;
    }
  } else {
    memcpy(row, a->acc, sizeof(double) * (size_t)a->len);
  }
  cj_free(a->acc);
  a->acc = NULL;
}

/* Add one row of bits to the bit-sliced counters (plane l: bit l of the
 * count at every position) by a ripple of half adders, plane by plane over
 * all the words (no branch on the data, vectorised). Counts stay below
 * 2^L, so the last carry is zero. */
HOT static void addbits(uint64_t *planes, uint64_t *carry, const uint64_t *row, int64_t nw, int L)
{
  memcpy(carry, row, sizeof(uint64_t) * (size_t)nw);
  for (int l = 0; l < L; l++) {
    uint64_t *p = planes + (size_t)l * (size_t)nw;
    for (int64_t w = 0; w < nw; w++) {
      uint64_t t = p[w] & carry[w];
      p[w] ^= carry[w];
      carry[w] = t;
    }
  }
}

/* Majority of the n rows of a bsc block, by bit-sliced counters: plane l
 * holds bit l of the count of ones at every position. */
static int majority(cj_hd *out, const cj_hd *x, cj_rng *r)
{
  int64_t n = x->n, nw = cj_hd_words(x->d), half = n / 2;
  const uint64_t *rows = x->data;
  uint64_t *o = out->data, *planes, *carry;
  int L = 1;
  while (L < 63 && ((int64_t)1 << L) <= n) L++;
  if (!(planes = cj_calloc((size_t)L * (size_t)nw, sizeof(uint64_t))))
    return cj_fail(CJ_ENOMEM, "bundle: out of memory");
  if (!(carry = cj_malloc(sizeof(uint64_t) * (size_t)nw))) {
    cj_free(planes);
    return cj_fail(CJ_ENOMEM, "bundle: out of memory");
  }
  for (int64_t i = 0; i < n; i++, rows += nw) addbits(planes, carry, rows, nw, L);
  cj_free(carry);
  for (int64_t w = 0; w < nw; w++) {
    uint64_t gt = 0, eq = ~(uint64_t)0;           /* count > half, count == half */
    for (int l = L - 1; l >= 0; l--) {
      uint64_t p = planes[(size_t)l * (size_t)nw + (size_t)w];
      if ((half >> l) & 1) eq &= p;
      else {
        gt |= eq & p;
        eq &= ~p;
      }
    }
    if (n % 2 == 0) gt |= eq & u64(r);
    o[w] = gt;
  }
  o[nw - 1] &= lastmask(x->d);
  cj_free(planes);
  return CJ_OK;
}

int cj_hd_bundle(cj_hd *out, const cj_hd *x, const double *w, cj_rng *r)
{
  accum a;
  int st;
  if ((st = checkhd(x, "bundle", "vectors")) || (st = checkout(out, x, 1, "bundle"))) return st;
  if (x->n < 1) return cj_fail(CJ_EINVAL, "bundle: no vectors to bundle");
  if (w)
    for (int64_t i = 0; i < x->n; i++)
      if (!isfinite(w[i])) return cj_fail(CJ_EINVAL, "bundle: weight %lld is not finite", (long long)i + 1);
  if (x->model == CJ_HD_BSC && !w) return majority(out, x, r);
  if ((st = acc_new(&a, x, "bundle"))) return st;
  if (x->model == CJ_HD_BSC) {
    for (int64_t i = 0; i < x->n; i++) acc_add(&a, cj_hd_row(x, i), w[i]);
  } else {                                     /* four rows per pass over the sums */
    int64_t i = 0;
    for (; i + 4 <= x->n; i += 4) {
      const double *v[4] = { cj_hd_row(x, i), cj_hd_row(x, i + 1), cj_hd_row(x, i + 2), cj_hd_row(x, i + 3) };
      double w4[4] = { w ? w[i] : 1, w ? w[i + 1] : 1, w ? w[i + 2] : 1, w ? w[i + 3] : 1 };
      add4(a.acc, a.len, v, w4);
    }
    for (; i < x->n; i++) acc_add(&a, cj_hd_row(x, i), w ? w[i] : 1.0);
  }
  acc_finish(&a, out->data, r);
  return CJ_OK;
}

/* ---- normalisation ----------------------------------------------------------- */

/* Random bits, 32 at a time. */
typedef struct { cj_rng *r; uint32_t bits; int left; } bitsrc;

static int nextbit(bitsrc *b)
{
  int v;
  if (b->left == 0) {
    b->bits = cj_rng_u32(b->r);
    b->left = 32;
  }
  v = b->bits & 1;
  b->bits >>= 1;
  b->left--;
  return v;
}

static void normrow(const cj_hd *x, double *o, const double *v, bitsrc *bs)
{
  int64_t d = x->d;
  if (x->model == CJ_HD_MAP) {
    for (int64_t j = 0; j < d; j++)
      o[j] = v[j] > 0 ? 1.0 : v[j] < 0 ? -1.0 : v[j] == 0 ? (nextbit(bs) ? 1.0 : -1.0) : v[j];
  } else if (x->model == CJ_HD_HRR) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += v[j] * v[j];
    s = s > 0 ? 1.0 / sqrt(s) : 0.0;
    for (int64_t j = 0; j < d; j++) o[j] = v[j] * s;
  } else {
    for (int64_t j = 0; j < d; j++) {
      double re = v[2 * j], im = v[2 * j + 1], m = hypot(re, im);
      if (m > 0) {
        o[2 * j] = re / m;
        o[2 * j + 1] = im / m;
      } else {
        cj_rng_sincos2pi(cj_rng_uniform(bs->r), &o[2 * j + 1], &o[2 * j]);
      }
    }
  }
}

/* out may be x. */
int cj_hd_normalise(cj_hd *out, const cj_hd *x, cj_rng *r)
{
  bitsrc bs = { r, 0, 0 };
  int st;
  if ((st = checkhd(x, "normalise", "vectors")) || (st = checkout(out, x, x->n, "normalise")))
    return st;
  if (x->model == CJ_HD_BSC) {
    if (out->data != x->data && x->n > 0)
      memmove(out->data, x->data, (size_t)x->n * cj_hd_rowbytes(x->model, x->d));
    return CJ_OK;
  }
  for (int64_t i = 0; i < x->n; i++) normrow(x, cj_hd_row(out, i), cj_hd_row(x, i), &bs);
  return CJ_OK;
}

/* ---- permutations -------------------------------------------------------------- */

/* nb (1..64) bits of a bsc row starting at bit p, p + nb <= d. */
static uint64_t getbits(const uint64_t *in, int64_t p, int nb)
{
  int64_t w = p >> 6;
  int s = (int)(p & 63);
  uint64_t v = in[w] >> s;
  if (s && s + nb > 64) v |= in[w + 1] << (64 - s);
  return nb == 64 ? v : v & (((uint64_t)1 << nb) - 1);
}

/* out bit i = in bit (i - k) mod d, for 0 <= k < d. */
static void rotbits(uint64_t *out, const uint64_t *in, int64_t d, int64_t k)
{
  for (int64_t w = 0, nw = cj_hd_words(d); w < nw; w++) {
    int64_t p = 64 * w - k;
    int nb = (int)(d - 64 * w < 64 ? d - 64 * w : 64);
    if (p < 0) p += d;
    if (p + nb <= d) out[w] = getbits(in, p, nb);
    else {
      int first = (int)(d - p);
      out[w] = getbits(in, p, first) | getbits(in, 0, nb - first) << first;
    }
  }
}

/* One row shifted by k (0 <= k < d): out[(i + k) mod d] = in[i]. */
static void shiftrow(cj_hd_model m, int64_t d, void *out, const void *in, int64_t k)
{
  size_t e = m == CJ_HD_FHRR ? 16 : 8;
  if (m == CJ_HD_BSC) {
    rotbits(out, in, d, k);
    return;
  }
  memcpy((char *)out + e * (size_t)k, in, e * (size_t)(d - k));
  memcpy(out, (const char *)in + e * (size_t)(d - k), e * (size_t)k);
}

static int64_t modd(int64_t k, int64_t d)
{
  k %= d;
  return k < 0 ? k + d : k;
}

int cj_hd_shift(cj_hd *out, const cj_hd *x, int64_t k)
{
  int st;
  if ((st = checkhd(x, "permute", "vectors")) || (st = checkout(out, x, x->n, "permute"))) return st;
  k = modd(k, x->d);
  for (int64_t i = 0; i < x->n; i++) shiftrow(x->model, x->d, cj_hd_row(out, i), cj_hd_row(x, i), k);
  return CJ_OK;
}

static int checkperm(const int64_t *perm, int64_t d)
{
  uint64_t *seen = cj_calloc((size_t)cj_hd_words(d), sizeof(uint64_t));
  int st = CJ_OK;
  if (!seen) return cj_fail(CJ_ENOMEM, "permute: out of memory");
  for (int64_t i = 0; i < d && !st; i++) {
    int64_t p = perm[i];
    if (p < 0 || p >= d)
      st = cj_fail(CJ_EINVAL, "permute: position %lld out of range 1..%lld", (long long)p + 1, (long long)d);
    else if ((seen[p >> 6] >> (p & 63)) & 1)
      st = cj_fail(CJ_EINVAL, "permute: position %lld appears twice (not a permutation)", (long long)p + 1);
    else
      seen[p >> 6] |= (uint64_t)1 << (p & 63);
  }
  cj_free(seen);
  return st;
}

int cj_hd_permute(cj_hd *out, const cj_hd *x, const int64_t *perm, int inverse)
{
  int64_t d = x->d;
  int st;
  if ((st = checkhd(x, "permute", "vectors")) || (st = checkout(out, x, x->n, "permute"))) return st;
  if ((st = checkperm(perm, d))) return st;
  for (int64_t i = 0; i < x->n; i++) {
    void *o = cj_hd_row(out, i);
    const void *v = cj_hd_row(x, i);
    if (x->model == CJ_HD_BSC) {
      uint64_t *po = o;
      const uint64_t *pv = v;
      memset(po, 0, cj_hd_rowbytes(x->model, d));
      for (int64_t j = 0; j < d; j++) {
        int64_t dst = inverse ? perm[j] : j, src = inverse ? j : perm[j];
        po[dst >> 6] |= ((pv[src >> 6] >> (src & 63)) & 1) << (dst & 63);
      }
    } else {
      int e = x->model == CJ_HD_FHRR ? 2 : 1;
      double *po = o;
      const double *pv = v;
      for (int64_t j = 0; j < d; j++) {
        int64_t dst = inverse ? perm[j] : j, src = inverse ? j : perm[j];
        po[e * dst] = pv[e * src];
        if (e == 2) po[2 * dst + 1] = pv[2 * src + 1];
      }
    }
  }
  return CJ_OK;
}

/* ---- similarity ------------------------------------------------------------------- */

static int64_t hamming_sw(const uint64_t *a, const uint64_t *b, int64_t nw)
{
  int64_t h = 0;
  for (int64_t w = 0; w < nw; w++) h += __builtin_popcountll(a[w] ^ b[w]);
  return h;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("popcnt")))
static int64_t hamming_hw(const uint64_t *a, const uint64_t *b, int64_t nw)
{
  int64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, w = 0;
  for (; w + 4 <= nw; w += 4) {
    h0 += __builtin_popcountll(a[w] ^ b[w]);
    h1 += __builtin_popcountll(a[w + 1] ^ b[w + 1]);
    h2 += __builtin_popcountll(a[w + 2] ^ b[w + 2]);
    h3 += __builtin_popcountll(a[w + 3] ^ b[w + 3]);
  }
  for (; w < nw; w++) h0 += __builtin_popcountll(a[w] ^ b[w]);
  return h0 + h1 + h2 + h3;
}

/* AVX-512 with VPOPCNTQ: eight words per instruction, the tail masked. */
__attribute__((target("avx512f,avx512vpopcntdq")))
static int64_t hamming_avx512(const uint64_t *a, const uint64_t *b, int64_t nw)
{
  __m512i acc = _mm512_setzero_si512();
  int64_t w = 0;
  for (; w + 8 <= nw; w += 8) {
    __m512i x = _mm512_xor_si512(_mm512_loadu_si512(a + w), _mm512_loadu_si512(b + w));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
  }
  if (w < nw) {
    __mmask8 m = (__mmask8)((1u << (nw - w)) - 1);
    __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, a + w), _mm512_maskz_loadu_epi64(m, b + w));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
  }
  return _mm512_reduce_add_epi64(acc);
}

typedef int64_t (*hamming_fn)(const uint64_t *, const uint64_t *, int64_t);

/* The fastest Hamming distance the processor offers (found once; a benign
 * race: every thread finds the same). All give the same counts. */
static hamming_fn hamming(void)
{
  static int hw = -1;
  if (hw < 0) {
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("avx512vpopcntdq") ? 2 : __builtin_cpu_supports("popcnt") ? 1 : 0;
  }
  return hw == 2 ? hamming_avx512 : hw ? hamming_hw : hamming_sw;
}
#else
typedef int64_t (*hamming_fn)(const uint64_t *, const uint64_t *, int64_t);
static hamming_fn hamming(void) { return hamming_sw; }
#endif

/* Euclidean norms of the n rows (len doubles each) of x. */
static void rownorms(const double *x, int64_t n, int64_t len, double *norm)
{
  for (int64_t i = 0; i < n; i++, x += len) {
    double s = 0;
    for (int64_t j = 0; j < len; j++) s += x[j] * x[j];
    norm[i] = sqrt(s);
  }
}

int cj_hd_similarity(double *sim, const cj_hd *a, const cj_hd *b)
{
  int64_t na = a->n, nb = b->n, len;
  double *norms;
  int st;
  if ((st = checkhd(a, "similarity", "first operand")) || (st = samekind(a, b, "similarity", "second operand")))
    return st;
  if (na == 0 || nb == 0) return CJ_OK;
  if (a->model == CJ_HD_BSC) {
    int64_t nw = cj_hd_words(a->d);
    hamming_fn h = hamming();
    double s = 2.0 / (double)a->d;
    for (int64_t i = 0; i < na; i++)
      for (int64_t j = 0; j < nb; j++)
        sim[i * nb + j] = 1.0 - s * (double)h(cj_hd_row(a, i), cj_hd_row(b, j), nw);
    return CJ_OK;
  }
  len = nreal(a);
  if (!(norms = cj_malloc(sizeof(double) * (size_t)(na + nb)))) return cj_fail(CJ_ENOMEM, "similarity: out of memory");
  if ((st = cj_dgemm(0, 1, na, nb, len, 1.0, a->data, len, b->data, len, 0.0, sim, nb))) {
    cj_free(norms);
    return st;
  }
  rownorms(a->data, na, len, norms);
  rownorms(b->data, nb, len, norms + na);
  for (int64_t i = 0; i < na; i++)
    for (int64_t j = 0; j < nb; j++) {
      double q = norms[i] * norms[na + j];
      sim[i * nb + j] = q > 0 ? sim[i * nb + j] / q : 0.0;
    }
  cj_free(norms);
  return CJ_OK;
}

/* ---- encoders ------------------------------------------------------------------------ */

int cj_hd_sequence(cj_hd *out, const cj_hd *x, cj_rng *r)
{
  accum a;
  void *tmp;
  int st;
  if ((st = checkhd(x, "sequence", "vectors")) || (st = checkout(out, x, 1, "sequence"))) return st;
  if (x->n < 1) return cj_fail(CJ_EINVAL, "sequence: no vectors");
  if (!(tmp = cj_malloc(cj_hd_rowbytes(x->model, x->d)))) return cj_fail(CJ_ENOMEM, "sequence: out of memory");
  if ((st = acc_new(&a, x, "sequence"))) {
    cj_free(tmp);
    return st;
  }
  for (int64_t i = 0; i < x->n; i++) {
    shiftrow(x->model, x->d, tmp, cj_hd_row(x, i), modd(i, x->d));
    acc_add(&a, tmp, 1.0);
  }
  acc_finish(&a, out->data, r);
  cj_free(tmp);
  return CJ_OK;
}

/* The binding domain: bsc words, map doubles, fhrr complex numbers, hrr
 * Fourier coefficients (d/2 + 1 complex). Sizes in doubles (or words). */
static int64_t domainlen(cj_hd_model m, int64_t d)
{
  switch (m) {
  case CJ_HD_BSC: return cj_hd_words(d);
  case CJ_HD_MAP: return d;
  case CJ_HD_HRR: return 2 * (d / 2 + 1);
  default: return 2 * d;
  }
}

/* dst = row shifted by k, in the domain; tmp: one row of scratch. */
static int todomain(cj_hd_model m, int64_t d, void *dst, const void *row, int64_t k, void *tmp)
{
  if (m != CJ_HD_HRR) {
    shiftrow(m, d, dst, row, k);
    return CJ_OK;
  }
  shiftrow(m, d, tmp, row, k);
  return cj_fft_r2c(d, 1, tmp, dst);
}

/* acc = acc * v in the domain. */
HOT static void dmul(cj_hd_model m, int64_t len, void *acc, const void *v)
{
  if (m == CJ_HD_BSC) {
    uint64_t *a = acc;
    const uint64_t *b = v;
    for (int64_t w = 0; w < len; w++) a[w] ^= b[w];
  } else if (m == CJ_HD_MAP) {
    double *a = acc;
    const double *b = v;
    for (int64_t j = 0; j < len; j++) a[j] *= b[j];
  } else {
    double *a = acc;
    const double *b = v;
    for (int64_t j = 0; j < len; j += 2) {
      double ar = a[j], ai = a[j + 1];
      a[j] = ar * b[j] - ai * b[j + 1];
      a[j + 1] = ar * b[j + 1] + ai * b[j];
    }
  }
}

/* Row (out) from a domain vector. */
static int fromdomain(cj_hd_model m, int64_t d, void *out, const void *v)
{
  if (m == CJ_HD_HRR) return cj_fft_c2r(d, 1, v, out);
  memcpy(out, v, cj_hd_rowbytes(m, d));
  return CJ_OK;
}

int cj_hd_ngram(cj_hd *out, const cj_hd *x)
{
  int64_t n = x->n, len = domainlen(x->model, x->d);
  double *prod, *v, *tmp;
  int st;
  if ((st = checkhd(x, "ngram", "vectors")) || (st = checkout(out, x, 1, "ngram"))) return st;
  if (n < 1) return cj_fail(CJ_EINVAL, "ngram: no vectors");
  prod = cj_malloc(sizeof(double) * (size_t)len);
  v = cj_malloc(sizeof(double) * (size_t)len);
  tmp = cj_malloc(cj_hd_rowbytes(x->model, x->d));
  if (!prod || !v || !tmp) st = cj_fail(CJ_ENOMEM, "ngram: out of memory");
  for (int64_t i = 0; i < n && !st; i++) {
    st = todomain(x->model, x->d, i ? v : prod, cj_hd_row(x, i), modd(n - 1 - i, x->d), tmp);
    if (!st && i) dmul(x->model, len, prod, v);
  }
  if (!st) st = fromdomain(x->model, x->d, out->data, prod);
  cj_free(prod);
  cj_free(v);
  cj_free(tmp);
  return st;
}

/* Sorting windows of the sequence lexicographically (qsort has no context
 * argument; the context is per thread). */
static _Thread_local const int64_t *sortseq;
static _Thread_local int sortn;

static int cmpwindow(const void *pa, const void *pb)
{
  const int64_t *a = sortseq + *(const int64_t *)pa, *b = sortseq + *(const int64_t *)pb;
  for (int j = 0; j < sortn; j++)
    if (a[j] != b[j]) return a[j] < b[j] ? -1 : 1;
  return 0;
}

/* prod[i] *= x[(i - k) mod d] (0 <= k < d), elementwise models. */
HOT static void mulshifted(cj_hd_model m, int64_t d, double *prod, const double *x, int64_t k)
{
  if (m == CJ_HD_MAP) {
    for (int64_t i = 0; i < k; i++) prod[i] *= x[i - k + d];
    for (int64_t i = k; i < d; i++) prod[i] *= x[i - k];
    return;
  }
  for (int64_t i = 0; i < d; i++) {
    const double *b = x + 2 * (i < k ? i - k + d : i - k);
    double ar = prod[2 * i], ai = prod[2 * i + 1];
    prod[2 * i] = ar * b[0] - ai * b[1];
    prod[2 * i + 1] = ar * b[1] + ai * b[0];
  }
}

/* Work of cj_hd_ngrams. Elementwise models bind shifted rows of the
 * codebook directly; hrr binds in the Fourier domain, where the n-gram is
 * the product of the symbols' transforms shifted as a whole by
 * n (n - 1) / 2 (shifts add under convolution), so each symbol is
 * transformed once (on first use) and the shift is applied to the sum. */
typedef struct ngramwork {
  const cj_hd *cb;
  int n;
  int64_t len;             /* domain length (doubles or words) */
  double **table;          /* hrr: [symbol] the transform, made on first use */
  double *prod, *tmp;
} ngramwork;

static const double *transform(ngramwork *g, int64_t sym, int *st)
{
  double **slot = &g->table[sym];
  if (!*slot) {
    if (!(*slot = cj_malloc(sizeof(double) * (size_t)g->len))) {
      *st = cj_fail(CJ_ENOMEM, "ngrams: out of memory");
      return NULL;
    }
    *st = cj_fft_r2c(g->cb->d, 1, cj_hd_row(g->cb, sym), *slot);
  }
  return *slot;
}

/* prod = the n-gram starting at seq, in the domain (hrr: unshifted). */
static int ngramof(ngramwork *g, const int64_t *seq)
{
  cj_hd_model m = g->cb->model;
  int64_t d = g->cb->d;
  int st = CJ_OK;
  for (int j = 0; j < g->n && !st; j++) {
    const void *row = cj_hd_row(g->cb, seq[j]);
    int64_t k = modd(g->n - 1 - j, d);
    if (m == CJ_HD_HRR) {
      const double *v = transform(g, seq[j], &st);
      if (st) break;
      if (j == 0) memcpy(g->prod, v, sizeof(double) * (size_t)g->len);
      else dmul(m, g->len, g->prod, v);
    } else if (j == 0) {
      shiftrow(m, d, g->prod, row, k);
    } else if (m == CJ_HD_BSC) {
      rotbits((uint64_t *)g->tmp, row, d, k);
      dmul(m, g->len, g->prod, g->tmp);
    } else {
      mulshifted(m, d, g->prod, row, k);
    }
  }
  return st;
}

static int ngramsum(ngramwork *g, accum *a, const int64_t *idx, const int64_t *pos, int64_t nwin)
{
  int st = CJ_OK;
  for (int64_t p = 0; p < nwin && !st;) {
    int64_t q = p + 1;
    while (q < nwin && memcmp(idx + pos[p], idx + pos[q], sizeof(int64_t) * (size_t)g->n) == 0) q++;
    if (!(st = ngramof(g, idx + pos[p]))) acc_add(a, g->prod, (double)(q - p));
    p = q;
  }
  return st;
}

/* hrr: out = the inverse transform of the sum, shifted by n (n - 1) / 2. */
static int hrrfinish(ngramwork *g, accum *a, void *out)
{
  int64_t d = g->cb->d, n = g->n;
  int st = cj_fft_c2r(d, 1, a->acc, g->tmp);
  if (!st) shiftrow(CJ_HD_HRR, d, out, g->tmp, modd(n * (n - 1) / 2, d));
  return st;
}

int cj_hd_ngrams(cj_hd *out, const cj_hd *cb, const int64_t *idx, int64_t len, int n, cj_rng *r)
{
  ngramwork g = { cb, n, 0, NULL, NULL, NULL };
  int64_t nwin, *pos = NULL;
  accum a = { 0 };
  int st;
  if ((st = checkhd(cb, "ngrams", "codebook")) || (st = checkout(out, cb, 1, "ngrams"))) return st;
  if (n < 1) return cj_fail(CJ_EINVAL, "ngrams: n must be at least 1 (got %d)", n);
  if (len < n) return cj_fail(CJ_EINVAL, "ngrams: a sequence of %lld symbols has no %d-gram", (long long)len, n);
  for (int64_t i = 0; i < len; i++)
    if (idx[i] < 0 || idx[i] >= cb->n)
      return cj_fail(CJ_EINVAL, "ngrams: symbol %lld at position %lld is not a row of the codebook (1..%lld)",
                     (long long)idx[i] + 1, (long long)i + 1, (long long)cb->n);
  nwin = len - n + 1;
  g.len = domainlen(cb->model, cb->d);
  pos = cj_malloc(sizeof(int64_t) * (size_t)nwin);
  g.table = cb->model == CJ_HD_HRR ? cj_calloc((size_t)cb->n, sizeof(double *)) : NULL;
  g.prod = cj_malloc(sizeof(double) * (size_t)g.len);
  g.tmp = cj_malloc(cj_hd_rowbytes(cb->model, cb->d));
  if (!pos || (cb->model == CJ_HD_HRR && !g.table) || !g.prod || !g.tmp)
    st = cj_fail(CJ_ENOMEM, "ngrams: out of memory");
  /* the accumulator lives in the domain: for hrr the Fourier coefficients */
  if (!st) st = acc_init(&a, cb->model, cb->d, cb->model == CJ_HD_BSC ? cb->d : g.len, "ngrams");
  if (!st) {
    for (int64_t p = 0; p < nwin; p++) pos[p] = p;
    sortseq = idx;
    sortn = n;
    qsort(pos, (size_t)nwin, sizeof(int64_t), cmpwindow);
    st = ngramsum(&g, &a, idx, pos, nwin);
  }
  if (!st && cb->model == CJ_HD_HRR) st = hrrfinish(&g, &a, out->data);
  else if (!st) acc_finish(&a, out->data, r);
  cj_free(a.acc);
  if (g.table)
    for (int64_t i = 0; i < cb->n; i++) cj_free(g.table[i]);
  cj_free(g.table);
  cj_free(g.prod);
  cj_free(g.tmp);
  cj_free(pos);
  return st;
}

/* Copy element j of row src into element j of row dst. */
static void copyelem(cj_hd_model m, void *dst, const void *src, int64_t j)
{
  if (m == CJ_HD_BSC) {
    uint64_t *o = dst, bit = (uint64_t)1 << (j & 63);
    const uint64_t *s = src;
    o[j >> 6] = (o[j >> 6] & ~bit) | (s[j >> 6] & bit);
  } else if (m == CJ_HD_MAP || m == CJ_HD_HRR) {
    ((double *)dst)[j] = ((const double *)src)[j];
  } else {
    ((double *)dst)[2 * j] = ((const double *)src)[2 * j];
    ((double *)dst)[2 * j + 1] = ((const double *)src)[2 * j + 1];
  }
}

int cj_hd_levels(cj_rng *r, cj_hd *out)
{
  size_t rb = cj_hd_rowbytes(out->model, out->d);
  cj_hd ends;
  double *t;
  int st;
  if ((st = checkhd(out, "levels", "output"))) return st;
  if (out->n < 1) return cj_fail(CJ_EINVAL, "levels: at least one level needed");
  ends = (cj_hd){ out->model, 2, out->d, cj_malloc(2 * rb) };
  t = cj_malloc(sizeof(double) * (size_t)out->d);
  if (!ends.data || !t) st = cj_fail(CJ_ENOMEM, "levels: out of memory");
  if (!st) st = cj_hd_random(r, &ends, 0);
  if (!st) {
    for (int64_t j = 0; j < out->d; j++) t[j] = cj_rng_uniform(r);
    for (int64_t k = 0; k < out->n; k++) {
      double f = out->n == 1 ? 0.0 : (double)k / (double)(out->n - 1);
      void *row = cj_hd_row(out, k);
      memcpy(row, ends.data, rb);
      for (int64_t j = 0; j < out->d; j++)
        if (t[j] < f) copyelem(out->model, row, cj_hd_row(&ends, 1), j);
    }
  }
  cj_free(ends.data);
  cj_free(t);
  return st;
}

/* z^x for complex z = (re, im): |z|^x exp(i x arg z), into o[0..1]. */
static void powc(double re, double im, double x, double *o)
{
  double m = pow(hypot(re, im), x), a = x * atan2(im, re);
  o[0] = m * cos(a);
  o[1] = m * sin(a);
}

int cj_hd_fpe(cj_hd *out, const cj_hd *base, const double *x)
{
  int64_t d = base->d, c = d / 2 + 1, n = out->n;
  double *fb = NULL, *spec = NULL;
  int st;
  if ((st = checkhd(base, "fpe", "base")) || (st = checkout(out, base, n, "fpe"))) return st;
  if (base->model != CJ_HD_HRR && base->model != CJ_HD_FHRR)
    return cj_fail(CJ_EINVAL, "fpe: fractional powers need an hrr or fhrr base (got %s)",
                   cj_hd_model_name(base->model));
  if (base->n != 1) return cj_fail(CJ_EINVAL, "fpe: one base vector expected (got %lld)", (long long)base->n);
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(x[k])) return cj_fail(CJ_EINVAL, "fpe: exponent %lld is not finite", (long long)k + 1);
  if (base->model == CJ_HD_FHRR) {
    const double *b = base->data;
    for (int64_t k = 0; k < n; k++) {
      double *o = cj_hd_row(out, k);
      for (int64_t j = 0; j < d; j++) powc(b[2 * j], b[2 * j + 1], x[k], o + 2 * j);
    }
    return CJ_OK;
  }
  if (n == 0) return CJ_OK;
  fb = cj_malloc(sizeof(double) * 2 * (size_t)c);
  spec = cj_malloc(sizeof(double) * 2 * (size_t)(c * n));
  if (!fb || !spec) st = cj_fail(CJ_ENOMEM, "fpe: out of memory");
  if (!st) st = cj_fft_r2c(d, 1, base->data, fb);
  if (!st) {
    for (int64_t k = 0; k < n; k++)
      for (int64_t f = 0; f < c; f++) powc(fb[2 * f], fb[2 * f + 1], x[k], spec + 2 * (k * c + f));
    st = cj_fft_c2r(d, n, spec, out->data);
  }
  cj_free(fb);
  cj_free(spec);
  return st;
}

/* ---- clean-up ------------------------------------------------------------------------- */

/* Rows of q examined per block, so that the similarity block stays near
 * 2^22 doubles. */
static int64_t blockrows(int64_t k)
{
  int64_t b = ((int64_t)1 << 22) / (k > 0 ? k : 1);
  return b < 1 ? 1 : b;
}

int cj_hd_nearest(const cj_hd *mem, const cj_hd *q, int64_t *idx, double *sim)
{
  int64_t k = mem->n, bs = blockrows(k);
  double *s;
  int st;
  if ((st = checkhd(mem, "nearest", "memory")) || (st = samekind(mem, q, "nearest", "query"))) return st;
  if (k < 1) return cj_fail(CJ_EINVAL, "nearest: the memory is empty");
  if (q->n == 0) return CJ_OK;
  if (!(s = cj_malloc(sizeof(double) * (size_t)(k * (q->n < bs ? q->n : bs)))))
    return cj_fail(CJ_ENOMEM, "nearest: out of memory");
  for (int64_t i0 = 0; i0 < q->n && !st; i0 += bs) {
    int64_t nb = q->n - i0 < bs ? q->n - i0 : bs;
    cj_hd blk = { q->model, nb, q->d, cj_hd_row(q, i0) };
    if ((st = cj_hd_similarity(s, &blk, mem))) break;
    for (int64_t i = 0; i < nb; i++) {
      const double *si = s + i * k;
      int64_t best = 0;
      for (int64_t j = 1; j < k; j++)
        if (si[j] > si[best]) best = j;
      idx[i0 + i] = best;
      if (sim) sim[i0 + i] = si[best];
    }
  }
  cj_free(s);
  return st;
}

/* Largest elementwise difference of two rows (bsc: 1 if any bit differs). */
static double rowchange(const cj_hd *x, const void *a, const void *b)
{
  double m = 0;
  if (x->model == CJ_HD_BSC) return memcmp(a, b, cj_hd_rowbytes(x->model, x->d)) ? 1.0 : 0.0;
  for (int64_t j = 0, len = nreal(x); j < len; j++) {
    double e = fabs(((const double *)a)[j] - ((const double *)b)[j]);
    if (e > m) m = e;
  }
  return m;
}

/* One query row: at most steps updates of x (1 row, in place). */
static int recallrow(const cj_hd *mem, cj_hd *x, cj_hd *next, double beta, int steps, cj_rng *r,
                     double *s, int *taken)
{
  int st = CJ_OK, t;
  int64_t k = mem->n;
  size_t rb = cj_hd_rowbytes(x->model, x->d);
  for (t = 0; t < steps && !st; t++) {
    if ((st = cj_hd_similarity(s, mem, x))) break;
    if (beta > 0) {
      double mx = s[0], z = 0;
      for (int64_t i = 1; i < k; i++) mx = s[i] > mx ? s[i] : mx;
      for (int64_t i = 0; i < k; i++) z += s[i] = exp(beta * (s[i] - mx));
      for (int64_t i = 0; i < k; i++) s[i] /= z;
    }
    if ((st = cj_hd_bundle(next, mem, s, r)) || (st = cj_hd_normalise(next, next, r))) break;
    if (rowchange(x, x->data, next->data) <= 1e-12) {
      t++;
      break;
    }
    memcpy(x->data, next->data, rb);
  }
  *taken = t;
  return st;
}

int cj_hd_recall(cj_hd *out, const cj_hd *mem, const cj_hd *q, double beta, int steps,
                 cj_rng *r, int *iters)
{
  size_t rb = cj_hd_rowbytes(q->model, q->d);
  cj_hd x, next;
  double *s;
  int st, most = 0;
  if ((st = checkhd(mem, "recall", "memory")) || (st = samekind(mem, q, "recall", "query"))
      || (st = checkout(out, q, q->n, "recall")))
    return st;
  if (mem->n < 1) return cj_fail(CJ_EINVAL, "recall: the memory is empty");
  if (!(beta >= 0) || !isfinite(beta)) return cj_fail(CJ_EINVAL, "recall: beta must be finite and >= 0");
  if (beta == 0 && mem->model == CJ_HD_HRR)
    return cj_fail(CJ_EINVAL, "recall: hrr needs beta > 0 (its normalisation is linear: the outer-product rule has no attractors)");
  if (steps < 1) return cj_fail(CJ_EINVAL, "recall: steps must be at least 1 (got %d)", steps);
  x = (cj_hd){ q->model, 1, q->d, NULL };
  next = x;
  next.data = cj_malloc(rb);
  s = cj_malloc(sizeof(double) * (size_t)mem->n);
  if (!next.data || !s) st = cj_fail(CJ_ENOMEM, "recall: out of memory");
  for (int64_t i = 0; i < q->n && !st; i++) {
    int taken;
    x.data = cj_hd_row(out, i);
    memcpy(x.data, cj_hd_row(q, i), rb);
    st = recallrow(mem, &x, &next, beta, steps, r, s, &taken);
    if (taken > most) most = taken;
  }
  if (iters) *iters = most;
  cj_free(next.data);
  cj_free(s);
  return st;
}
