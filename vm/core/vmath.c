/*
 * vmath.c — the vector paths of vmath.h: SLEEF's u10 functions (at most
 * 1 ulp from the exact result) applied to lines of float64 and float32
 * elements, one set of kernels per x86-64 instruction set, and the choice
 * between them.
 *
 * SLEEF declares its AVX2 and AVX-512 entry points only when the compiler
 * targets those instruction sets. This file is compiled for the baseline
 * (the program must start on any x86-64), takes the declarations from
 * sleef.h with those targets switched on for the inclusion only, and
 * compiles the kernels of each set with that set's target attribute. A
 * kernel runs only after __builtin_cpu_supports said the processor (and the
 * operating system, for the wide registers) has the set.
 *
 * The logistic sigmoid is not a SLEEF function: it is computed from one
 * exponential of -|x| as 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0,
 * which neither overflows nor loses the tiny values of large negative x
 * (1 / (1 + exp(-x)) gives 0 for x < -709 where the exact value is a
 * subnormal number). Its error is at most a few ulp (tests/core/test_vmath.c
 * states and checks the bound), against 1 for the SLEEF functions.
 */
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VMATH_X86 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
#include <sleef.h>
#pragma GCC pop_options
#endif

/* The functions each path provides, in table order. */
enum { F_EXP, F_LOG, F_LOG1P, F_SIN, F_COS, F_TAN, F_TANH, F_SIGMOID, NFUN };

static int funindex(cj_unop op)
{
  switch (op) {
  case CJ_EXP: return F_EXP;
  case CJ_LOG: return F_LOG;
  case CJ_LOG1P: return F_LOG1P;
  case CJ_SIN: return F_SIN;
  case CJ_COS: return F_COS;
  case CJ_TAN: return F_TAN;
  case CJ_TANH: return F_TANH;
  case CJ_SIGMOID: return F_SIGMOID;
  default: return -1;
  }
}

typedef struct {
  const char *name;
  int (*supported)(void);
  const cj_kernel (*kern)[NFUN];   /* [0] float64, [1] float32; NULL: libm */
} path;

static int always(void) { return 1; }

#ifdef VMATH_X86

/* ---- one line of elements through a vector function ------------------------------
 * Contiguous lines go vector by vector straight from and to memory; strided
 * lines and the last partial vector are gathered into a buffer (padded with
 * zeros, which every function takes without a fault), computed there and
 * scattered back, so each element gets exactly the same operations
 * wherever it sits. Works in place (out == in, same layout). */
#define CHUNK 256

/* the variables of a line kernel: W lanes, out and in, their strides */
#define LINEVARS(T, VT)                                                         \
  enum { W = sizeof(VT) / sizeof(T) };                                          \
  T *o = (T *)p[0];                                                             \
  const T *a = (const T *)p[1];                                                 \
  int64_t so = s[0], sa = s[1], i = 0

/* o[k] = f(a[k]) vector by vector for k in [lo, hi), hi - lo a multiple of W */
#define STRAIGHT(VT, f, o, a, lo, hi)                                           \
  for (int64_t k_ = (lo); k_ < (hi); k_ += W) {                                 \
    VT v_;                                                                      \
    memcpy(&v_, (a) + k_, sizeof v_);                                           \
    v_ = f(v_);                                                                 \
    memcpy((o) + k_, &v_, sizeof v_);                                           \
  }

/* the body of a line kernel applying f (a function or a function-like macro) */
#define LINEBODY(T, VT, f)                                                      \
  LINEVARS(T, VT);                                                              \
  VT buf[CHUNK / W];                                                            \
  T *b = (T *)buf;                                                              \
  if (so == 1 && sa == 1) {                                                     \
    STRAIGHT(VT, f, o, a, 0, n - n % W);                                        \
    i = n - n % W;                                                              \
  }                                                                             \
  while (i < n) {                                                               \
    int64_t m = n - i < CHUNK ? n - i : CHUNK, k;                               \
    for (k = 0; k < m; k++) b[k] = a[(i + k) * sa];                             \
    for (; k % W; k++) b[k] = 0;                                                \
    for (k = 0; k < (m + W - 1) / W; k++) buf[k] = f(buf[k]);                   \
    for (k = 0; k < m; k++) o[(i + k) * so] = b[k];                             \
    i += m;                                                                     \
  }

#define LINE(NAME, T, VT, TGT)                                                  \
  TGT static void NAME(VT (*f)(VT), int64_t n, char *const *p, const int64_t *s) \
  {                                                                             \
    LINEBODY(T, VT, f)                                                          \
  }

/* a kernel whose function F is inlined into its line loop */
#define LINEKERN(NAME, T, VT, TGT, F)                                           \
  TGT static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)  \
  {                                                                             \
    (void)ctx;                                                                  \
    LINEBODY(T, VT, F)                                                          \
  }

/* SLEEF's sin, cos and tan choose their argument reduction once for a whole
 * vector (a cheap one when every lane is small, finer ones otherwise), and
 * the ways round differently in the last bit: a lane's result would depend
 * on its neighbours. Their lines are therefore sorted by magnitude classes
 * whose limits are SLEEF's (3.5: 15, 1e9, 1e14 for double; 125, 39000,
 * 8e6, 1e7 for float; NaN and infinities last) and each vector holds one
 * class only (padded with a copy of its first element). The test
 * (tests/core/test_vmath.c) checks that every element alone gives the bits
 * it gets inside an array. */
#define TRIGLINE(NAME, T, VT, IT, ANY, TGT, L0, L1, L2, L3)                     \
  TGT static void NAME##_chunk(VT (*f)(VT), int64_t m, T *o, int64_t so, const T *a, int64_t sa) \
  {                                                                             \
    enum { W = sizeof(VT) / sizeof(T) };                                        \
    VT xb[CHUNK / W], cb[CHUNK / W];                                            \
    T *x = (T *)xb, *c = (T *)cb;                                               \
    int16_t cls[CHUNK], idx[CHUNK];                                             \
    int any = 0;                                                                \
    for (int64_t k = 0; k < m; k++) {                                           \
      T v = a[k * sa], av = v < 0 ? -v : v;                                     \
      x[k] = v;                                                                 \
      cls[k] = (int16_t)(!(av < L0) + !(av < L1) + !(av < L2) + !(av < L3));    \
      any |= cls[k];                                                            \
    }                                                                           \
    for (int16_t q = 0; q <= (any ? 4 : 0); q++) {                              \
      int64_t nq = 0, k;                                                        \
      for (k = 0; k < m; k++)                                                   \
        if (cls[k] == q) { idx[nq] = (int16_t)k; c[nq++] = x[k]; }              \
      if (!nq) continue;                                                        \
      for (k = nq; k % W; k++) c[k] = c[0];                                     \
      for (k = 0; k < (nq + W - 1) / W; k++) cb[k] = f(cb[k]);                  \
      for (k = 0; k < nq; k++) x[idx[k]] = c[k];                                \
    }                                                                           \
    for (int64_t k = 0; k < m; k++) o[k * so] = x[k];                           \
  }                                                                             \
  /* contiguous chunks whose lanes are all small go straight through */        \
  TGT static void NAME(VT (*f)(VT), int64_t n, char *const *p, const int64_t *s) \
  {                                                                             \
    LINEVARS(T, VT);                                                            \
    const VT zero = { 0 }, negz = -zero, lim = zero + L0;                       \
    if (so == 1 && sa == 1) {                                                   \
      for (; i + CHUNK <= n; i += CHUNK) {                                      \
        IT big = (IT)(zero != zero);                                            \
        for (int64_t k = 0; k < CHUNK; k += W) {                                \
          VT v;                                                                 \
          memcpy(&v, a + i + k, sizeof v);                                      \
          big |= ~((VT)((IT)v & ~(IT)negz) < lim);  /* NaN counts as big */     \
        }                                                                       \
        if (ANY(big)) {                                                         \
          NAME##_chunk(f, CHUNK, o + i, 1, a + i, 1);                           \
          continue;                                                             \
        }                                                                       \
        STRAIGHT(VT, f, o, a, i, i + CHUNK);                                    \
      }                                                                         \
    }                                                                           \
    for (int64_t m; i < n; i += m) {                                            \
      m = n - i < CHUNK ? n - i : CHUNK;                                        \
      NAME##_chunk(f, m, o + i * so, so, a + i * sa, sa);                       \
    }                                                                           \
  }

/* sigmoid from exp(-|x|); IT is the signed integer vector of VT's width */
#define SIGMOID(NAME, VT, IT, EXPF, TGT)                                        \
  TGT static VT NAME(VT x)                                                      \
  {                                                                             \
    const VT zero = { 0 }, one = zero + 1, negz = -zero;                        \
    VT e = EXPF((VT)((IT)x | (IT)negz));            /* exp(-|x|) */             \
    IT neg = x < zero;                                                          \
    VT num = (VT)(((IT)e & neg) | ((IT)one & ~neg));                            \
    return num / (one + e);                                                     \
  }

/* SLEEF 3.5's exp gives inf from x = 709.78271114955749 on, where the exact
 * value is still below DBL_MAX up to ln(DBL_MAX) = 709.782712893384: those
 * lanes (and the overflowing ones) take libm's exp. */
#define EXPFIX(NAME, VT, IT, ANY, EXPD, TGT)                                    \
  TGT static VT NAME(VT x)                                                      \
  {                                                                             \
    enum { W = sizeof(VT) / sizeof(double) };                                   \
    VT r = EXPD(x);                                                             \
    IT big = x > 709.78;                                                        \
    if (ANY(big))                                                               \
      for (int k = 0; k < W; k++)                                               \
        if (big[k]) r[k] = exp(x[k]);                                           \
    return r;                                                                   \
  }

/* SLEEF 3.5's log1p gives inf above 1e307 (1e38 in float); there log1p(x)
 * and log(x) differ by 1/x, far below an ulp: lanes above BIG take log. */
#define LOG1PFIX(NAME, T, VT, IT, ANY, LOG1P, LOG, BIG, TGT)                    \
  TGT static VT NAME(VT x)                                                      \
  {                                                                             \
    VT r = LOG1P(x);                                                            \
    IT big = x > (T)BIG;                                                        \
    if (ANY(big)) r = (VT)(((IT)LOG(x) & big) | ((IT)r & ~big));                \
    return r;                                                                   \
  }

/* SLEEF 3.5's tanh is a hair over 1 ulp for tiny x (float x = 2^-24, double
 * x = -0x1.0243df1a9776dp-53: the neighbour away from zero); below TINY
 * (2^-13 in float, 2^-27 in double), tanh(x) = x (1 - x^2/3 + ...) and x
 * itself is within 0.1 ulp: those lanes keep x (and its sign). */
#define TANHFIX(NAME, VT, IT, TANH, TINY, TGT)                                  \
  TGT static VT NAME(VT x)                                                      \
  {                                                                             \
    IT tiny = (x < TINY) & (x > -TINY);                                         \
    return (VT)(((IT)x & tiny) | ((IT)TANH(x) & ~tiny));                        \
  }

#define KERN(NAME, LINEFN, VT, F)                                               \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    (void)ctx;                                                                  \
    LINEFN((VT (*)(VT))F, n, p, s);                                             \
  }

typedef int64_t vi2 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));
typedef int64_t vi4l __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
typedef int64_t vi8l __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

/* ANY<D|F><set>(m): some lane of the comparison mask m is set */
#define ANYD512(m) (_mm512_test_epi64_mask((__m512i)(m), (__m512i)(m)) != 0)
#define ANYF512(m) (_mm512_test_epi32_mask((__m512i)(m), (__m512i)(m)) != 0)
#define ANYD256(m) (_mm256_movemask_pd((__m256d)(m)) != 0)
#define ANYF256(m) (_mm256_movemask_ps((__m256)(m)) != 0)
#define ANYD128(m) (_mm_movemask_pd((__m128d)(m)) != 0)
#define ANYF128(m) (_mm_movemask_ps((__m128)(m)) != 0)

#define T512 __attribute__((target("avx512f,avx2,fma")))
#define T256 __attribute__((target("avx2,fma")))
#define T128

/* ---- exp of 8 doubles (AVX-512): table-driven, cajal's own ----------------------
 * SLEEF's u10 exp costs about 1.5 times numpy's (which has an AVX-512 exp of
 * its own); this one is as fast as memory lets it be on long lines. With
 * k = round(x 16 / ln 2), r = x - k ln2/16 (|r| <= ln2/32, ln2/16 split into
 * a 32-bit head and a tail so the reduction loses nothing that matters) and
 * j = k mod 16:
 *   exp(x) = 2^floor(k/16) * 2^(j/16) * e^r,
 * 2^(j/16) a pair hi + lo of doubles (hi rounded, lo the rest, from 60-digit
 * decimal arithmetic), e^r - 1 = p(r) its Taylor polynomial to r^7 (the
 * remainder r^8/8! is below 1.2e-18), formed as hi + (lo + hi p): one
 * rounding of a sum accurate to about 0.02 ulp, so the error is below
 * 0.52 ulp. VSCALEFPD multiplies by 2^floor(k/16) with one more rounding
 * only where the result is subnormal, gives inf past ln(DBL_MAX) and zero
 * below ln(2^-1075). x is clamped to [-746, 710] (beyond, the result is
 * 0 or inf anyway); NaN lanes return NaN. tests/core/test_vmath.c checks
 * <= 1 ulp over every binade and at the thresholds. */
static const double exptab[2][16] __attribute__((aligned(64))) = {
  { 0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0 },
  { 0x0.0p+0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54,
    0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55, 0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54,
    -0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56,
    0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55, -0x1.e9c23179c2893p-54 },
};

__attribute__((always_inline)) T512 static inline __m512d exp_dv_512(__m512d x)
{
  const __m512d shift = _mm512_set1_pd(0x1.8p52);      /* adds and rounds to an integer */
  __m512d xc = _mm512_min_pd(_mm512_max_pd(x, _mm512_set1_pd(-746.0)), _mm512_set1_pd(710.0));
  __m512d kd = _mm512_fmadd_pd(xc, _mm512_set1_pd(0x1.71547652b82fep+4), shift);
  __m512d k = _mm512_sub_pd(kd, shift);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(0x1.62e42fee00000p-5), xc);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(0x1.a39ef35793c76p-37), r);
  __m512i j = _mm512_castpd_si512(kd);                  /* low 4 bits: k mod 16 */
  __m512d hi = _mm512_permutex2var_pd(_mm512_load_pd(exptab[0]), j, _mm512_load_pd(exptab[0] + 8));
  __m512d lo = _mm512_permutex2var_pd(_mm512_load_pd(exptab[1]), j, _mm512_load_pd(exptab[1] + 8));
  __m512d q = _mm512_set1_pd(0x1.a01a01a01a01ap-13);   /* 1/7! */
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.6c16c16c16c17p-10));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.1111111111111p-7));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.5555555555555p-5));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0x1.5555555555555p-3));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
  __m512d pr = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, r);  /* e^r - 1 */
  __m512d y = _mm512_add_pd(hi, _mm512_fmadd_pd(hi, pr, lo));
  y = _mm512_scalef_pd(y, _mm512_mul_pd(k, _mm512_set1_pd(0.0625)));
  return _mm512_mask_add_pd(y, _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), x, x);
}

/* All kernels of one instruction set S: TGT its target attribute, VD/VF the
 * vector types, ID/IF integer vectors of their widths, FD(name)/FF(name)
 * the SLEEF functions; exp_dv_S the exp of a vector of doubles. */
#define ISA(S, TGT, VD, VF, ID, IF, FD, FF)                                     \
  LINE(line_d_##S, double, VD, TGT)                                             \
  LINE(line_f_##S, float, VF, TGT)                                              \
  TRIGLINE(trig_d_##S, double, VD, ID, ANYD##S, TGT, 15.0, 1e9, 1e14, INFINITY) \
  TRIGLINE(trig_f_##S, float, VF, IF, ANYF##S, TGT, 125.0f, 39000.0f, 8e6f, 1e7f) \
  SIGMOID(sigmoid_d_##S, VD, ID, exp_dv_##S, TGT)                               \
  SIGMOID(sigmoid_f_##S, VF, IF, FF(exp), TGT)                                  \
  LOG1PFIX(log1p_dv_##S, double, VD, ID, ANYD##S, FD(log1p), FD(log), 1e300, TGT) \
  LOG1PFIX(log1p_fv_##S, float, VF, IF, ANYF##S, FF(log1p), FF(log), 1e36, TGT) \
  TANHFIX(tanh_fv_##S, VF, IF, FF(tanh), 0x1p-13f, TGT)                         \
  TANHFIX(tanh_dv_##S, VD, ID, FD(tanh), 0x1p-27, TGT)                          \
  LINEKERN(exp_d_##S, double, VD, TGT, exp_dv_##S)                              \
  KERN(exp_f_##S, line_f_##S, VF, FF(exp))                                      \
  KERN(log_d_##S, line_d_##S, VD, FD(log))                                      \
  KERN(log_f_##S, line_f_##S, VF, FF(log))                                      \
  KERN(log1p_d_##S, line_d_##S, VD, log1p_dv_##S)                               \
  KERN(log1p_f_##S, line_f_##S, VF, log1p_fv_##S)                               \
  KERN(sin_d_##S, trig_d_##S, VD, FD(sin))                                      \
  KERN(sin_f_##S, trig_f_##S, VF, FF(sin))                                      \
  KERN(cos_d_##S, trig_d_##S, VD, FD(cos))                                      \
  KERN(cos_f_##S, trig_f_##S, VF, FF(cos))                                      \
  KERN(tan_d_##S, trig_d_##S, VD, FD(tan))                                      \
  KERN(tan_f_##S, trig_f_##S, VF, FF(tan))                                      \
  KERN(tanh_d_##S, line_d_##S, VD, tanh_dv_##S)                                 \
  KERN(tanh_f_##S, line_f_##S, VF, tanh_fv_##S)                                 \
  LINEKERN(sigmoid_dk_##S, double, VD, TGT, sigmoid_d_##S)                      \
  KERN(sigmoid_fk_##S, line_f_##S, VF, sigmoid_f_##S)                           \
  static const cj_kernel kern_##S[2][NFUN] = {                                  \
    { exp_d_##S, log_d_##S, log1p_d_##S, sin_d_##S, cos_d_##S, tan_d_##S, tanh_d_##S, sigmoid_dk_##S }, \
    { exp_f_##S, log_f_##S, log1p_f_##S, sin_f_##S, cos_f_##S, tan_f_##S, tanh_f_##S, sigmoid_fk_##S }, \
  };

#define D512(f) Sleef_##f##d8_u10avx512f
#define F512(f) Sleef_##f##f16_u10avx512f
#define D256(f) Sleef_##f##d4_u10avx2
#define F256(f) Sleef_##f##f8_u10avx2
#define D128(f) Sleef_##f##d2_u10              /* SLEEF picks SSE2, SSE4.1 or AVX2-128 */
#define F128(f) Sleef_##f##f4_u10

EXPFIX(exp_dv_256, __m256d, vi4l, ANYD256, D256(exp), T256)
EXPFIX(exp_dv_128, __m128d, vi2, ANYD128, D128(exp), T128)
ISA(512, T512, __m512d, __m512, vi8l, vi16, D512, F512)
ISA(256, T256, __m256d, __m256, vi4l, vi8, D256, F256)
ISA(128, T128, __m128d, __m128, vi2, vi4, D128, F128)

static int has512(void) { return __builtin_cpu_supports("avx512f"); }
static int has256(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

#define X86(ok, kern) ok, kern

#else

static int never(void) { return 0; }

#define X86(ok, kern) never, NULL

#endif

static const path paths[] = {
  { "avx512", X86(has512, kern_512) },
  { "avx2", X86(has256, kern_256) },
  { "sse", X86(always, kern_128) },
  { "libm", always, NULL },
};

#define NPATHS (sizeof paths / sizeof paths[0])

static const path *current;            /* NULL until first use */

static const path *widest(void)
{
  for (size_t i = 0; i < NPATHS; i++)
    if (paths[i].supported()) return &paths[i];
  return &paths[NPATHS - 1];
}

static const path *byname(const char *name)
{
  for (size_t i = 0; i < NPATHS; i++)
    if (strcmp(paths[i].name, name) == 0) return &paths[i];
  return NULL;
}

/* The path in use; chosen from CAJAL_VMATH on first call. Two threads
 * racing here make the same choice. */
static const path *use(void)
{
  const path *p = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
  if (!p) {
    const char *e = getenv("CAJAL_VMATH");
    p = e ? byname(e) : NULL;
    if (!p || !p->supported()) p = widest();
    __atomic_store_n(&current, p, __ATOMIC_RELEASE);
  }
  return p;
}

cj_kernel cj_vmath_kernel(cj_unop op, cj_dtype t)
{
  const path *p = use();
  int f = funindex(op);
  if (!p->kern || f < 0 || (t != CJ_F64 && t != CJ_F32)) return NULL;
  return p->kern[t == CJ_F32][f];
}

int cj_vmath_supported(const char *name)
{
  const path *p;
  if (name && strcmp(name, "auto") == 0) return 1;
  p = name ? byname(name) : NULL;
  return p && p->supported();
}

int cj_vmath_use(const char *name)
{
  const path *p;
  if (!name) return cj_fail(CJ_EINVAL, "vmath: path name expected");
  p = strcmp(name, "auto") == 0 ? widest() : byname(name);
  if (!p)
    return cj_fail(CJ_EINVAL, "vmath: unknown path '%s' (auto, avx512, avx2, sse or libm expected)", name);
  if (!p->supported())
    return cj_fail(CJ_EINVAL, "vmath: path '%s' is not supported by this processor", name);
  __atomic_store_n(&current, p, __ATOMIC_RELEASE);
  return CJ_OK;
}

const char *cj_vmath_name(void)
{
  return use()->name;
}
