/*
 * arrmath.c — elementwise arithmetic, comparisons and math functions,
 * selection (where, masks) and reductions over cj_array (see array.h for the
 * rules on dtypes, NaN and empty arrays).
 *
 * Every operation is a kernel over one line of elements, run by
 * cj_array_apply; each kernel has a branch for unit strides (and for a
 * broadcast scalar) written so the compiler vectorises it, and a general
 * strided branch. Inputs of another dtype than the computation are first
 * converted into a temporary, as are inputs that overlap the output in a
 * different layout.
 */
#include "array.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

/* ---- scalar semantics ------------------------------------------------------- */

/* Floored modulo with the sign of the divisor, as Lua's % */
static inline double fmodd(double a, double b)
{
  double m = fmod(a, b);
  if ((m > 0) ? b < 0 : (m < 0 && b > 0)) m += b;
  return m;
}

static inline float fmodff(float a, float b)
{
  float m = fmodf(a, b);
  if ((m > 0) ? b < 0 : (m < 0 && b > 0)) m += b;
  return m;
}

static inline int32_t imod(int32_t a, int32_t b)
{
  int32_t r;
  if (b == 0 || b == -1) return 0;             /* x % 0 := 0; INT_MIN % -1 would trap */
  r = a % b;
  if (r != 0 && (r ^ b) < 0) r += b;
  return r;
}

/* Floored integer division, as Lua's //: x // 0 := 0, INT_MIN // -1 wraps */
static inline int32_t idiv32(int32_t a, int32_t b)
{
  int32_t q;
  if (b == 0) return 0;
  if (b == -1) return (int32_t)(0u - (uint32_t)a);   /* INT_MIN / -1 would trap */
  q = a / b;
  if (a % b != 0 && (a ^ b) < 0) q--;
  return q;
}

#define WRAP32(op, x, y) ((int32_t)((uint32_t)(x) op (uint32_t)(y)))
#define FMIN(x, y) ((x) < (y) || (x) != (x) ? (x) : (y))
#define FMAX(x, y) ((x) > (y) || (x) != (x) ? (x) : (y))
#define IMIN(x, y) ((x) < (y) ? (x) : (y))
#define IMAX(x, y) ((x) > (y) ? (x) : (y))

/* ---- binary kernels: p[0] out (TO), p[1] a, p[2] b (T) -------------------------- */

#define BINK(NAME, T, TO, EXPR)                                                 \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    TO *o = (TO *)p[0];                                                         \
    const T *a = (const T *)p[1], *b = (const T *)p[2];                         \
    int64_t so = s[0], sa = s[1], sb = s[2];                                    \
    (void)ctx;                                                                  \
    if (so == 1 && sa == 1 && sb == 1) {                                        \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (TO)(EXPR); } \
    } else if (so == 1 && sa == 1 && sb == 0) {                                 \
      const T y = b[0];                                                         \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (TO)(EXPR); }  \
    } else if (so == 1 && sa == 0 && sb == 1) {                                 \
      const T x = a[0];                                                         \
      IVDEP for (int64_t i = 0; i < n; i++) { T y = b[i]; o[i] = (TO)(EXPR); }  \
    } else {                                                                    \
      for (int64_t i = 0; i < n; i++) {                                         \
        T x = a[i * sa], y = b[i * sb];                                         \
        o[i * so] = (TO)(EXPR);                                                 \
      }                                                                         \
    }                                                                           \
  }

/* arithmetic for each dtype, then comparisons */
#define FLOATOPS(S, T, MODF, POWF, FLOORF)                          \
  BINK(add_##S, T, T, x + y)                                        \
  BINK(sub_##S, T, T, x - y)                                        \
  BINK(mul_##S, T, T, x * y)                                        \
  BINK(div_##S, T, T, x / y)                                        \
  BINK(idiv_##S, T, T, FLOORF(x / y))                               \
  BINK(mod_##S, T, T, MODF(x, y))                                   \
  BINK(pow_##S, T, T, POWF(x, y))                                   \
  BINK(minimum_##S, T, T, FMIN(x, y))                               \
  BINK(maximum_##S, T, T, FMAX(x, y))
#define CMPOPS(S, T)                                                \
  BINK(lt_##S, T, uint8_t, x < y)                                   \
  BINK(le_##S, T, uint8_t, x <= y)                                  \
  BINK(gt_##S, T, uint8_t, x > y)                                   \
  BINK(ge_##S, T, uint8_t, x >= y)                                  \
  BINK(eq_##S, T, uint8_t, x == y)                                  \
  BINK(ne_##S, T, uint8_t, x != y)

FLOATOPS(f64, double, fmodd, pow, floor)
FLOATOPS(f32, float, fmodff, powf, floorf)
BINK(add_i32, int32_t, int32_t, WRAP32(+, x, y))
BINK(sub_i32, int32_t, int32_t, WRAP32(-, x, y))
BINK(mul_i32, int32_t, int32_t, WRAP32(*, x, y))
BINK(idiv_i32, int32_t, int32_t, idiv32(x, y))
BINK(mod_i32, int32_t, int32_t, imod(x, y))
BINK(minimum_i32, int32_t, int32_t, IMIN(x, y))
BINK(maximum_i32, int32_t, int32_t, IMAX(x, y))
BINK(add_u8, uint8_t, uint8_t, x + y)
BINK(sub_u8, uint8_t, uint8_t, x - y)
BINK(mul_u8, uint8_t, uint8_t, x * y)
BINK(idiv_u8, uint8_t, uint8_t, y ? x / y : 0)
BINK(mod_u8, uint8_t, uint8_t, y ? x % y : 0)
BINK(minimum_u8, uint8_t, uint8_t, IMIN(x, y))
BINK(maximum_u8, uint8_t, uint8_t, IMAX(x, y))
CMPOPS(f64, double)
CMPOPS(f32, float)
CMPOPS(i32, int32_t)
CMPOPS(u8, uint8_t)

/* [dtype][op] from the list of array.h: the kernel op_dtype; NULL where the
 * computation is never done in that dtype (a FLOAT op on integers). */
#define INTK_KEEP(k) k
#define INTK_CMP(k) k
#define INTK_FLOAT(k) NULL
#define KF64(E, n, v, k) [CJ_##E] = n##_f64,
#define KF32(E, n, v, k) [CJ_##E] = n##_f32,
#define KI32(E, n, v, k) [CJ_##E] = INTK_##k(n##_i32),
#define KU8(E, n, v, k) [CJ_##E] = INTK_##k(n##_u8),
static const cj_kernel binkern[CJ_NDTYPES][CJ_NBINOPS] = {
  { CJ_BINOPS(KF64) }, { CJ_BINOPS(KF32) }, { CJ_BINOPS(KI32) }, { CJ_BINOPS(KU8) },
};

#define OPNAME(E, n, ...) #n,
#define OPKIND(E, n, v, k) OPK_##k,
enum { OPK_KEEP, OPK_FLOAT, OPK_CMP };
static const char *const binnames[CJ_NBINOPS] = { CJ_BINOPS(OPNAME) };
static const unsigned char binkinds[CJ_NBINOPS] = { CJ_BINOPS(OPKIND) };

const char *cj_binop_name(cj_binop op)
{
  return (unsigned)op < CJ_NBINOPS ? binnames[op] : "?";
}

int cj_binop_iscmp(cj_binop op)
{
  return (unsigned)op < CJ_NBINOPS && binkinds[op] == OPK_CMP;
}

/* The dtype the operation is computed in. */
static cj_dtype computedtype(cj_binop op, cj_dtype a, cj_dtype b)
{
  cj_dtype t = cj_dtype_promote(a, b);
  if (binkinds[op] == OPK_FLOAT && cj_dtype_isint(t)) return CJ_F64;
  return t;
}

cj_dtype cj_binop_dtype(cj_binop op, cj_dtype a, cj_dtype b)
{
  return cj_binop_iscmp(op) ? CJ_U8 : computedtype(op, a, b);
}

/* ---- operands ------------------------------------------------------------------ */

/* *v = src converted to dtype t and broadcast to out's shape, safe to read
 * while out is written. A temporary is made (tmp->data set; the caller
 * releases it) when the dtype differs or src overlaps out in another layout. */
static int operand(cj_array *v, cj_array *tmp, const cj_array *src, cj_dtype t, const cj_array *out)
{
  int st;
  tmp->data = NULL;
  if ((st = cj_array_broadcast(v, src, out->ndim, out->shape))) return st;
  if (src->dtype == t && !(cj_array_overlap(v, out) && !cj_array_samelayout(v, out)))
    return CJ_OK;
  if ((st = cj_array_alloc(tmp, t, src->ndim, src->shape))) return st;
  if ((st = cj_array_copy(tmp, src))) return st;
  return cj_array_broadcast(v, tmp, out->ndim, out->shape);
}

static void release(cj_array *tmp)
{
  if (tmp->data) cj_array_release(tmp);
}

static int checkout(const cj_array *out, cj_dtype t, int ndim, const int64_t *shape)
{
  char b1[64], b2[64];
  cj_array want;
  want.ndim = ndim;
  memcpy(want.shape, shape, sizeof(int64_t) * (size_t)ndim);
  if (!cj_array_sameshape(out, &want))
    return cj_fail(CJ_EINVAL, "out has shape %s, expected %s",
                   cj_shape_format(out->ndim, out->shape, b1, sizeof b1),
                   cj_shape_format(ndim, shape, b2, sizeof b2));
  if (out->dtype != t)
    return cj_fail(CJ_EINVAL, "out has dtype %s, expected %s",
                   cj_dtype_name(out->dtype), cj_dtype_name(t));
  return CJ_OK;
}

int cj_array_binop(cj_binop op, cj_array *out, const cj_array *a, const cj_array *b)
{
  int64_t shape[CJ_MAXDIM];
  int ndim, st;
  cj_dtype t;
  cj_array va, vb, ta, tb;
  const cj_array *ops[3];
  if ((unsigned)op >= CJ_NBINOPS) return cj_fail(CJ_EINVAL, "bad operation %d", (int)op);
  if ((st = cj_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &ndim, shape))) return st;
  if ((st = checkout(out, cj_binop_dtype(op, a->dtype, b->dtype), ndim, shape))) return st;
  t = computedtype(op, a->dtype, b->dtype);
  tb.data = NULL;
  if ((st = operand(&va, &ta, a, t, out)) || (st = operand(&vb, &tb, b, t, out))) goto done;
  ops[0] = out; ops[1] = &va; ops[2] = &vb;
  st = cj_array_apply(3, ops, binkern[t][op], NULL);
done:
  release(&ta);
  release(&tb);
  return st;
}

/* ---- a * b + c: p[0] out, p[1] a, p[2] b, p[3] c, all T ------------------------ */

#define MULADDK(NAME, T, EXPR)                                                  \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    T *o = (T *)p[0];                                                           \
    const T *a = (const T *)p[1], *b = (const T *)p[2], *c = (const T *)p[3];   \
    (void)ctx;                                                                  \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                     \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i], z = c[i]; o[i] = (T)(EXPR); } \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 0 && s[3] == 1) {              \
      const T y = b[0];                                                         \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i], z = c[i]; o[i] = (T)(EXPR); } \
    } else {                                                                    \
      for (int64_t i = 0; i < n; i++) {                                         \
        T x = a[i * s[1]], y = b[i * s[2]], z = c[i * s[3]];                    \
        o[i * s[0]] = (T)(EXPR);                                                \
      }                                                                         \
    }                                                                           \
  }

MULADDK(muladd_f64, double, x * y + z)
MULADDK(muladd_f32, float, x * y + z)
MULADDK(muladd_i32, int32_t, (uint32_t)x * (uint32_t)y + (uint32_t)z)
MULADDK(muladd_u8, uint8_t, x * y + z)
static const cj_kernel muladdkern[CJ_NDTYPES] = { muladd_f64, muladd_f32, muladd_i32, muladd_u8 };

int cj_array_muladd(cj_array *out, const cj_array *a, const cj_array *b, const cj_array *c)
{
  int64_t s1[CJ_MAXDIM], shape[CJ_MAXDIM];
  int n1, ndim, st;
  cj_dtype t = cj_dtype_promote(cj_dtype_promote(a->dtype, b->dtype), c->dtype);
  cj_array va, vb, vc, ta, tb, tc;
  const cj_array *ops[4];
  if ((st = cj_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &n1, s1)) ||
      (st = cj_broadcast_shape(n1, s1, c->ndim, c->shape, &ndim, shape)))
    return st;
  if ((st = checkout(out, t, ndim, shape))) return st;
  tb.data = tc.data = NULL;
  if ((st = operand(&va, &ta, a, t, out)) || (st = operand(&vb, &tb, b, t, out)) ||
      (st = operand(&vc, &tc, c, t, out)))
    goto done;
  ops[0] = out; ops[1] = &va; ops[2] = &vb; ops[3] = &vc;
  st = cj_array_apply(4, ops, muladdkern[t], NULL);
done:
  release(&ta);
  release(&tb);
  release(&tc);
  return st;
}

/* ---- unary kernels: p[0] out, p[1] a, both T ----------------------------------- */

#define UNK(NAME, T, EXPR)                                                      \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    T *o = (T *)p[0];                                                           \
    const T *a = (const T *)p[1];                                               \
    int64_t so = s[0], sa = s[1];                                               \
    (void)ctx;                                                                  \
    if (so == 1 && sa == 1) {                                                   \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (T)(EXPR); }   \
    } else {                                                                    \
      for (int64_t i = 0; i < n; i++) { T x = a[i * sa]; o[i * so] = (T)(EXPR); } \
    }                                                                           \
  }

#define SIGNF(x) ((x) > 0 ? 1 : (x) < 0 ? -1 : (x))
/* 1 / (1 + exp(-x)) without overflow, and keeping the tiny values of large
 * negative x: exp(x) / (1 + exp(x)) there (as vmath.c's vector version) */
static inline double sigm(double x)
{
  double e = exp(-fabs(x));
  return (x < 0 ? e : 1) / (1 + e);
}

static inline float sigmf(float x)
{
  float e = expf(-fabsf(x));
  return (x < 0 ? e : 1) / (1 + e);
}
#define FLOATUN(S, T, F)                                            \
  UNK(neg_##S, T, -x)                                               \
  UNK(abs_##S, T, F##fabs(x))                                       \
  UNK(relu_##S, T, x < 0 ? 0 : x)                                   \
  UNK(sign_##S, T, SIGNF(x))                                        \
  UNK(floor_##S, T, F##floor(x))                                    \
  UNK(ceil_##S, T, F##ceil(x))                                      \
  UNK(exp_##S, T, F##exp(x))                                        \
  UNK(log_##S, T, F##log(x))                                        \
  UNK(log1p_##S, T, F##log1p(x))                                    \
  UNK(sqrt_##S, T, F##sqrt(x))                                      \
  UNK(sin_##S, T, F##sin(x))                                        \
  UNK(cos_##S, T, F##cos(x))                                        \
  UNK(tan_##S, T, F##tan(x))                                        \
  UNK(tanh_##S, T, F##tanh(x))                                      \
  UNK(sigmoid_##S, T, F##sigm(x))

/* float versions of <math.h> names: expf(x) written as f_exp(x) */
#define f_fabs fabsf
#define f_floor floorf
#define f_ceil ceilf
#define f_exp expf
#define f_log logf
#define f_log1p log1pf
#define f_sqrt sqrtf
#define f_sin sinf
#define f_cos cosf
#define f_tan tanf
#define f_tanh tanhf
#define f_sigm sigmf
FLOATUN(f64, double, )
FLOATUN(f32, float, f_)
/* integer kernels of the KEEP operations */
UNK(neg_i32, int32_t, (int32_t)(0u - (uint32_t)x))
UNK(abs_i32, int32_t, x < 0 ? (int32_t)(0u - (uint32_t)x) : x)
UNK(relu_i32, int32_t, x < 0 ? 0 : x)
UNK(sign_i32, int32_t, (x > 0) - (x < 0))
UNK(floor_i32, int32_t, x)
UNK(ceil_i32, int32_t, x)
UNK(neg_u8, uint8_t, -x)
UNK(abs_u8, uint8_t, x)
UNK(relu_u8, uint8_t, x)
UNK(sign_u8, uint8_t, x > 0)
UNK(floor_u8, uint8_t, x)
UNK(ceil_u8, uint8_t, x)

#define UKF64(E, n, k) [CJ_##E] = n##_f64,
#define UKF32(E, n, k) [CJ_##E] = n##_f32,
#define UKI32(E, n, k) [CJ_##E] = INTK_##k(n##_i32),
#define UKU8(E, n, k) [CJ_##E] = INTK_##k(n##_u8),
static const cj_kernel unkern[CJ_NDTYPES][CJ_NUNOPS] = {
  { CJ_UNOPS(UKF64) }, { CJ_UNOPS(UKF32) }, { CJ_UNOPS(UKI32) }, { CJ_UNOPS(UKU8) },
};

#define UNKIND(E, n, k) OPK_##k,
static const char *const unnames[CJ_NUNOPS] = { CJ_UNOPS(OPNAME) };
static const unsigned char unkinds[CJ_NUNOPS] = { CJ_UNOPS(UNKIND) };

const char *cj_unop_name(cj_unop op)
{
  return (unsigned)op < CJ_NUNOPS ? unnames[op] : "?";
}

cj_dtype cj_unop_dtype(cj_unop op, cj_dtype a)
{
  return (cj_dtype_isint(a) && (unsigned)op < CJ_NUNOPS && unkinds[op] == OPK_FLOAT) ? CJ_F64 : a;
}

/* Run kernel k (p[0] out, p[1] input, both of out's dtype) on a: when a
 * has another dtype or overlaps out in another layout, a is first copied
 * into out and the kernel runs in place. */
static int inplace(cj_array *out, const cj_array *a, cj_kernel k, void *ctx)
{
  const cj_array *ops[2];
  int st;
  if (a->dtype != out->dtype || (cj_array_overlap(a, out) && !cj_array_samelayout(a, out))) {
    if ((st = cj_array_copy(out, a))) return st;
    a = out;
  }
  ops[0] = out; ops[1] = a;
  return cj_array_apply(2, ops, k, ctx);
}

/* The elementary functions take vmath.c's vector kernels where it has them
 * (SLEEF, at most 1 ulp), libm's otherwise. */
int cj_array_unop(cj_unop op, cj_array *out, const cj_array *a)
{
  int st;
  cj_dtype t;
  cj_kernel k;
  if ((unsigned)op >= CJ_NUNOPS) return cj_fail(CJ_EINVAL, "bad operation %d", (int)op);
  t = cj_unop_dtype(op, a->dtype);
  if ((st = checkout(out, t, a->ndim, a->shape))) return st;
  if (!(k = cj_vmath_kernel(op, t))) k = unkern[t][op];
  return inplace(out, a, k, NULL);
}

/* ---- clip ---------------------------------------------------------------------- */

typedef struct { double lo, hi; } bounds;

#define CLIPK(NAME, T)                                                          \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    const bounds *c = ctx;                                                      \
    const T lo = (T)c->lo, hi = (T)c->hi;                                       \
    T *o = (T *)p[0];                                                           \
    const T *a = (const T *)p[1];                                               \
    int64_t so = s[0], sa = s[1];                                               \
    if (so == 1 && sa == 1) {                                                   \
      IVDEP for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = x < lo ? lo : x > hi ? hi : x; } \
    } else {                                                                    \
      for (int64_t i = 0; i < n; i++) {                                         \
        T x = a[i * sa];                                                        \
        o[i * so] = x < lo ? lo : x > hi ? hi : x;                              \
      }                                                                         \
    }                                                                           \
  }

CLIPK(clip_f64, double)
CLIPK(clip_f32, float)
CLIPK(clip_i32, int32_t)
CLIPK(clip_u8, uint8_t)
static const cj_kernel clipkern[CJ_NDTYPES] = { clip_f64, clip_f32, clip_i32, clip_u8 };

int cj_array_clip(cj_array *out, const cj_array *a, double lo, double hi)
{
  bounds c;
  int st;
  if (!(lo <= hi)) return cj_fail(CJ_EINVAL, "clip bounds %g > %g", lo, hi);
  if ((st = checkout(out, a->dtype, a->ndim, a->shape))) return st;
  c.lo = lo; c.hi = hi;
  if (a->dtype == CJ_I32) {                    /* bounds inside the int32 range, rounded inward */
    c.lo = fmin(fmax(ceil(lo), -2147483648.0), 2147483647.0);
    c.hi = fmin(fmax(floor(hi), -2147483648.0), 2147483647.0);
  } else if (a->dtype == CJ_U8) {
    c.lo = fmin(fmax(ceil(lo), 0), 255);
    c.hi = fmin(fmax(floor(hi), 0), 255);
  }
  if (c.lo > c.hi) {                           /* no integer inside [lo, hi] */
    return cj_fail(CJ_EINVAL, "no %s value in [%g, %g]", cj_dtype_name(a->dtype), lo, hi);
  }
  return inplace(out, a, clipkern[a->dtype], &c);
}

/* ---- where ---------------------------------------------------------------------- */

#define WHEREK(NAME, T)                                                         \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx)      \
  {                                                                             \
    T *o = (T *)p[0];                                                           \
    const uint8_t *m = (const uint8_t *)p[1];                                   \
    const T *a = (const T *)p[2], *b = (const T *)p[3];                         \
    (void)ctx;                                                                  \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                     \
      IVDEP for (int64_t i = 0; i < n; i++) o[i] = m[i] ? a[i] : b[i];          \
    } else {                                                                    \
      for (int64_t i = 0; i < n; i++)                                           \
        o[i * s[0]] = m[i * s[1]] ? a[i * s[2]] : b[i * s[3]];                  \
    }                                                                           \
  }

WHEREK(where_f64, double)
WHEREK(where_f32, float)
WHEREK(where_i32, int32_t)
WHEREK(where_u8, uint8_t)
static const cj_kernel wherekern[CJ_NDTYPES] = { where_f64, where_f32, where_i32, where_u8 };

int cj_array_where(cj_array *out, const cj_array *mask, const cj_array *a, const cj_array *b)
{
  int64_t s1[CJ_MAXDIM], shape[CJ_MAXDIM];
  int n1, ndim, st;
  cj_dtype t = cj_dtype_promote(a->dtype, b->dtype);
  cj_array vm, va, vb, tm, ta, tb;
  const cj_array *ops[4];
  if (mask->dtype != CJ_U8) return cj_fail(CJ_EINVAL, "mask must be uint8, not %s", cj_dtype_name(mask->dtype));
  if ((st = cj_broadcast_shape(mask->ndim, mask->shape, a->ndim, a->shape, &n1, s1))) return st;
  if ((st = cj_broadcast_shape(n1, s1, b->ndim, b->shape, &ndim, shape))) return st;
  if ((st = checkout(out, t, ndim, shape))) return st;
  ta.data = tb.data = NULL;
  if ((st = operand(&vm, &tm, mask, CJ_U8, out)) || (st = operand(&va, &ta, a, t, out)) ||
      (st = operand(&vb, &tb, b, t, out)))
    goto done;
  ops[0] = out; ops[1] = &vm; ops[2] = &va; ops[3] = &vb;
  st = cj_array_apply(4, ops, wherekern[t], NULL);
done:
  release(&tm);
  release(&ta);
  release(&tb);
  return st;
}

/* ---- masks ------------------------------------------------------------------------ */

static void countk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  const uint8_t *m = (const uint8_t *)p[0];
  int64_t c = 0;
  if (s[0] == 1) for (int64_t i = 0; i < n; i++) c += m[i] != 0;
  else for (int64_t i = 0; i < n; i++) c += m[i * s[0]] != 0;
  *(int64_t *)ctx += c;
}

int64_t cj_array_count(const cj_array *mask)
{
  int64_t c = 0;
  const cj_array *ops[1] = { mask };
  cj_array_apply(1, ops, countk, &c);
  return c;
}

/* The other end of a masked copy: a 1-D run of elements (stride 0 for a
 * repeated scalar). */
typedef struct { char *p; int64_t stride; size_t es; } run;

/* p[0] the masked array, p[1] the mask; selected elements go to (or come
 * from) the run in ctx, in order. ctx->stride < 0 marks the select direction. */
static void selectk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  run *r = ctx;
  const uint8_t *m = (const uint8_t *)p[1];
  size_t es = r->es;
  for (int64_t i = 0; i < n; i++) {
    if (!m[i * s[1]]) continue;
    memcpy(r->p, p[0] + i * s[0] * (int64_t)es, es);
    r->p += r->stride * (int64_t)es;
  }
}

static void assignk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  run *r = ctx;
  const uint8_t *m = (const uint8_t *)p[1];
  size_t es = r->es;
  for (int64_t i = 0; i < n; i++) {
    if (!m[i * s[1]]) continue;
    memcpy(p[0] + i * s[0] * (int64_t)es, r->p, es);
    r->p += r->stride * (int64_t)es;
  }
}

static int checkmask(const cj_array *a, const cj_array *mask)
{
  char b1[64], b2[64];
  if (mask->dtype != CJ_U8) return cj_fail(CJ_EINVAL, "mask must be uint8, not %s", cj_dtype_name(mask->dtype));
  if (!cj_array_sameshape(a, mask))
    return cj_fail(CJ_EINVAL, "mask has shape %s, expected %s",
                   cj_shape_format(mask->ndim, mask->shape, b1, sizeof b1),
                   cj_shape_format(a->ndim, a->shape, b2, sizeof b2));
  return CJ_OK;
}

int cj_array_masked_select(cj_array *out, const cj_array *a, const cj_array *mask)
{
  int st;
  int64_t n;
  run r;
  const cj_array *ops[2] = { a, mask };
  if ((st = checkmask(a, mask))) return st;
  n = cj_array_count(mask);
  if ((st = checkout(out, a->dtype, 1, &n))) return st;
  if (cj_array_overlap(out, a)) return cj_fail(CJ_EINVAL, "out overlaps the input");
  r.p = out->data; r.stride = out->strides[0]; r.es = cj_dtype_size(a->dtype);
  return cj_array_apply(2, ops, selectk, &r);
}

int cj_array_masked_assign(cj_array *a, const cj_array *mask, const cj_array *src)
{
  int st;
  int64_t n;
  cj_array tmp;
  run r;
  const cj_array *ops[2] = { a, mask };
  if ((st = checkmask(a, mask))) return st;
  n = cj_array_count(mask);
  if (src->ndim > 1 || (src->ndim == 1 && src->shape[0] != n && src->shape[0] != 1))
    return cj_fail(CJ_EINVAL, "%lld values expected for %lld selected elements",
                   (long long)cj_array_numel(src), (long long)n);
  tmp.data = NULL;
  if (src->dtype != a->dtype || cj_array_overlap(src, a) || cj_array_overlap(src, mask)) {
    if ((st = cj_array_alloc(&tmp, a->dtype, src->ndim, src->shape))) return st;
    cj_array_copy(&tmp, src);
    src = &tmp;
  }
  r.p = src->data;
  r.stride = (src->ndim == 0 || src->shape[0] == 1) ? 0 : src->strides[0];
  r.es = cj_dtype_size(a->dtype);
  st = cj_array_apply(2, ops, assignk, &r);
  release(&tmp);
  return st;
}

/* ---- reductions of one line -------------------------------------------------------
 * Each reduces n elements of dtype t at p with stride s (elements) to a
 * double; the arg* variants return a 0-based position. */

#define PAIRWISE 128

#define LINEFUNS(S, T)                                                          \
  static double psum_##S(const T *a, int64_t n)                                 \
  {                                                                             \
    if (n <= PAIRWISE) {                                                        \
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                    \
      int64_t i = 0;                                                            \
      for (; i + 4 <= n; i += 4) {                                              \
        s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];             \
      }                                                                         \
      for (; i < n; i++) s0 += a[i];                                            \
      return (s0 + s1) + (s2 + s3);                                             \
    }                                                                           \
    int64_t h = n / 2 / 8 * 8;                                                  \
    return psum_##S(a, h) + psum_##S(a + h, n - h);                             \
  }                                                                             \
  static double sum_##S(const T *a, int64_t n, int64_t s)                       \
  {                                                                             \
    double acc = 0;                                                             \
    if (s == 1) return psum_##S(a, n);                                          \
    for (int64_t i = 0; i < n; i++) acc += a[i * s];                            \
    return acc;                                                                 \
  }                                                                             \
  static double ssd_##S(const T *a, int64_t n, int64_t s, double m)             \
  {                                                                             \
    double acc = 0;                                                             \
    for (int64_t i = 0; i < n; i++) { double d = a[i * s] - m; acc += d * d; }  \
    return acc;                                                                 \
  }                                                                             \
  static double prod_##S(const T *a, int64_t n, int64_t s)                      \
  {                                                                             \
    double acc = 1;                                                             \
    for (int64_t i = 0; i < n; i++) acc *= a[i * s];                            \
    return acc;                                                                 \
  }                                                                             \
  static int64_t argext_##S(const T *a, int64_t n, int64_t s, int max)          \
  {                                                                             \
    int64_t best = 0;                                                           \
    T b = a[0];                                                                 \
    if (b != b) return 0;                                                       \
    for (int64_t i = 1; i < n; i++) {                                           \
      T x = a[i * s];                                                           \
      if (x != x) return i;                                                     \
      if (max ? x > b : x < b) { b = x; best = i; }                             \
    }                                                                           \
    return best;                                                                \
  }                                                                             \
  static double count_##S(const T *a, int64_t n, int64_t s)                     \
  {                                                                             \
    int64_t c = 0;                                                              \
    for (int64_t i = 0; i < n; i++) c += a[i * s] != 0;                         \
    return (double)c;                                                           \
  }

LINEFUNS(f64, double)
LINEFUNS(f32, float)
LINEFUNS(i32, int32_t)
LINEFUNS(u8, uint8_t)

#define DISPATCH(t, F, ...)                                                   \
  ((t) == CJ_F64 ? F##_f64((const double *)__VA_ARGS__) :                     \
   (t) == CJ_F32 ? F##_f32((const float *)__VA_ARGS__) :                      \
   (t) == CJ_I32 ? F##_i32((const int32_t *)__VA_ARGS__) :                    \
                   F##_u8((const uint8_t *)__VA_ARGS__))

static double linesum(cj_dtype t, const char *p, int64_t n, int64_t s) { return DISPATCH(t, sum, p, n, s); }
static double linessd(cj_dtype t, const char *p, int64_t n, int64_t s, double m) { return DISPATCH(t, ssd, p, n, s, m); }
static double lineprod(cj_dtype t, const char *p, int64_t n, int64_t s) { return DISPATCH(t, prod, p, n, s); }
static double linecount(cj_dtype t, const char *p, int64_t n, int64_t s) { return DISPATCH(t, count, p, n, s); }
static int64_t lineargext(cj_dtype t, const char *p, int64_t n, int64_t s, int max)
{
  return DISPATCH(t, argext, p, n, s, max);
}

static const char *const rednames[CJ_NREDUCE] = { CJ_REDUCTIONS(OPNAME) };

const char *cj_reduce_name(cj_reduce op)
{
  return (unsigned)op < CJ_NREDUCE ? rednames[op] : "?";
}

cj_dtype cj_reduce_dtype(cj_reduce op, cj_dtype t)
{
  switch (op) {
  case CJ_MIN: case CJ_MAX: return t;
  case CJ_ARGMIN: case CJ_ARGMAX: return CJ_I32;
  case CJ_ANY: case CJ_ALL: return CJ_U8;
  default: return cj_dtype_isint(t) ? CJ_F64 : t;
  }
}

/* One line reduced: value of op over n elements at p, stride s. Arg* give
 * the position as a double. n > 0 for min, max, arg*. */
static double reduceline(cj_reduce op, cj_dtype t, const char *p, int64_t n, int64_t s, int ddof)
{
  size_t es = cj_dtype_size(t);
  double m;
  int64_t k;
  switch (op) {
  case CJ_SUM: return linesum(t, p, n, s);
  case CJ_MEAN: return n ? linesum(t, p, n, s) / (double)n : NAN;
  case CJ_VAR: case CJ_STD:
    if (n - ddof <= 0) return NAN;
    m = linesum(t, p, n, s) / (double)n;
    m = linessd(t, p, n, s, m) / (double)(n - ddof);
    return op == CJ_STD ? sqrt(m) : m;
  case CJ_MIN: case CJ_MAX:
    k = lineargext(t, p, n, s, op == CJ_MAX);
    return cj_dtype_load(t, p + k * s * (int64_t)es);
  case CJ_ARGMIN: case CJ_ARGMAX: return (double)lineargext(t, p, n, s, op == CJ_ARGMAX);
  case CJ_PROD: return lineprod(t, p, n, s);
  case CJ_ANY: return linecount(t, p, n, s) > 0;
  case CJ_ALL: return linecount(t, p, n, s) == (double)n;
  default: return NAN;
  }
}

/* ---- whole-array reductions --------------------------------------------------------- */

typedef struct {
  cj_reduce op;
  cj_dtype t;
  double acc, mean;
  int64_t pos, best;        /* elements seen; position of the extreme so far */
  int found;                /* arg*: a NaN was seen */
} whole;

static void wholek(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  whole *w = ctx;
  int64_t k;
  double x, b;
  switch (w->op) {
  case CJ_SUM: w->acc += linesum(w->t, p[0], n, s[0]); break;
  case CJ_VAR: w->acc += linessd(w->t, p[0], n, s[0], w->mean); break;
  case CJ_PROD: w->acc *= lineprod(w->t, p[0], n, s[0]); break;
  case CJ_ANY: case CJ_ALL: w->acc += linecount(w->t, p[0], n, s[0]); break;
  default:                  /* CJ_ARGMIN, CJ_ARGMAX */
    if (w->found) break;
    k = lineargext(w->t, p[0], n, s[0], w->op == CJ_ARGMAX);
    x = cj_dtype_load(w->t, p[0] + k * s[0] * (int64_t)cj_dtype_size(w->t));
    b = w->acc;
    if (x != x) { w->found = 1; w->best = w->pos + k; }
    else if (w->pos == 0 || (w->op == CJ_ARGMAX ? x > b : x < b)) { w->acc = x; w->best = w->pos + k; }
    break;
  }
  w->pos += n;
}

static double runwhole(whole *w, const cj_array *a, cj_reduce op, double init)
{
  const cj_array *ops[1] = { a };
  w->op = op; w->acc = init; w->pos = 0;
  cj_array_apply(1, ops, wholek, w);
  return w->acc;
}

int cj_array_reduce(cj_reduce op, const cj_array *a, int ddof, double *res)
{
  whole w = { CJ_SUM, a->dtype, 0, 0, 0, 0, 0 };
  int64_t n = cj_array_numel(a);
  if ((unsigned)op >= CJ_NREDUCE) return cj_fail(CJ_EINVAL, "bad reduction %d", (int)op);
  if (n == 0 && (op == CJ_MIN || op == CJ_MAX || op == CJ_ARGMIN || op == CJ_ARGMAX))
    return cj_fail(CJ_EINVAL, "%s of an empty array", rednames[op]);
  switch (op) {
  case CJ_SUM: *res = runwhole(&w, a, CJ_SUM, 0); break;
  case CJ_MEAN: *res = n ? runwhole(&w, a, CJ_SUM, 0) / (double)n : NAN; break;
  case CJ_VAR: case CJ_STD:
    if (n - ddof <= 0) { *res = NAN; break; }
    w.mean = runwhole(&w, a, CJ_SUM, 0) / (double)n;
    *res = runwhole(&w, a, CJ_VAR, 0) / (double)(n - ddof);
    if (op == CJ_STD) *res = sqrt(*res);
    break;
  case CJ_PROD: *res = runwhole(&w, a, CJ_PROD, 1); break;
  case CJ_ANY: *res = runwhole(&w, a, CJ_ANY, 0) > 0; break;
  case CJ_ALL: *res = runwhole(&w, a, CJ_ALL, 0) == (double)n; break;
  default:                                     /* min, max and the arg* */
    runwhole(&w, a, (op == CJ_MAX || op == CJ_ARGMAX) ? CJ_ARGMAX : CJ_ARGMIN, 0);
    *res = (op == CJ_ARGMIN || op == CJ_ARGMAX) ? (double)w.best : cj_array_getflat(a, w.best);
    break;
  }
  return CJ_OK;
}

/* ---- reductions along an axis ----------------------------------------------------------
 * The driver walks the output and, through a (a with the axis dropped),
 * the start of each line; the kernel reduces the lines of n outputs. */

typedef struct {
  cj_reduce op;
  cj_dtype in, out;
  int64_t len, stride;      /* the line: elements along the axis and their stride */
  int ddof;
} axisred;

static void axisk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  const axisred *r = ctx;
  size_t eo = cj_dtype_size(r->out), ei = cj_dtype_size(r->in);
  for (int64_t i = 0; i < n; i++) {
    double v = reduceline(r->op, r->in, p[1] + i * s[1] * (int64_t)ei, r->len, r->stride, r->ddof);
    cj_dtype_store(r->out, p[0] + i * s[0] * (int64_t)eo, v);
  }
}

/* sum or mean along an axis that is not the innermost: whole rows are
 * added into out (contiguous, vectorised) instead of walking columns. */
static int sumrows(cj_array *out, const cj_array *a, int axis, int mean);

int cj_array_reduce_axis(cj_reduce op, cj_array *out, const cj_array *a, int axis, int ddof)
{
  axisred r;
  cj_array rest;
  const cj_array *ops[2];
  int st;
  if ((unsigned)op >= CJ_NREDUCE) return cj_fail(CJ_EINVAL, "bad reduction %d", (int)op);
  if (axis < 0 || axis >= a->ndim)
    return cj_fail(CJ_ERANGE, "axis %d out of range 1..%d", axis + 1, a->ndim);
  if (a->shape[axis] == 0 && (op == CJ_MIN || op == CJ_MAX || op == CJ_ARGMIN || op == CJ_ARGMAX))
    return cj_fail(CJ_EINVAL, "%s along an empty axis", rednames[op]);
  rest = *a;                                   /* a without the axis */
  for (int k = axis; k < a->ndim - 1; k++) {
    rest.shape[k] = a->shape[k + 1];
    rest.strides[k] = a->strides[k + 1];
  }
  rest.ndim = a->ndim - 1;
  if ((st = checkout(out, cj_reduce_dtype(op, a->dtype), rest.ndim, rest.shape))) return st;
  if (cj_array_overlap(out, a)) return cj_fail(CJ_EINVAL, "out overlaps the input");
  if ((op == CJ_SUM || op == CJ_MEAN) && out->dtype == CJ_F64 && cj_array_iscontig(out) &&
      a->shape[axis] > 0 && axis < a->ndim - 1)
    return sumrows(out, a, axis, op == CJ_MEAN);
  r.op = op; r.in = a->dtype; r.out = out->dtype;
  r.len = a->shape[axis]; r.stride = a->strides[axis]; r.ddof = ddof;
  ops[0] = out; ops[1] = &rest;
  return cj_array_apply(2, ops, axisk, &r);
}

static int sumrows(cj_array *out, const cj_array *a, int axis, int mean)
{
  cj_array slice, o = *out;
  int64_t n = a->shape[axis];
  int st;
  cj_array_fill(out, 0);
  for (int64_t k = 0; k < n; k++) {
    if ((st = cj_array_select(&slice, a, axis, k))) return st;
    if ((st = cj_array_binop(CJ_ADD, &o, &o, &slice))) return st;
  }
  if (mean) {
    double inv = (double)n;
    cj_array s;
    cj_array_wrap(&s, &inv, CJ_F64, 0, NULL);
    return cj_array_binop(CJ_DIV, &o, &o, &s);
  }
  return CJ_OK;
}

/* ---- cumulative sums ----------------------------------------------------------------------- */

typedef struct {
  cj_dtype in, out;
  int64_t len, sin, sout;   /* along the axis; 0 len: a flattened pass */
  double acc;               /* running sum of a flattened pass */
} cumctx;

/* along the axis: p[0] out, p[1] a, each position starting a line */
static void cumaxisk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  const cumctx *c = ctx;
  int64_t eo = (int64_t)cj_dtype_size(c->out), ei = (int64_t)cj_dtype_size(c->in);
  for (int64_t i = 0; i < n; i++) {
    const char *x = p[1] + i * s[1] * ei;
    char *y = p[0] + i * s[0] * eo;
    double acc = 0;
    for (int64_t k = 0; k < c->len; k++) {
      acc += cj_dtype_load(c->in, x + k * c->sin * ei);
      cj_dtype_store(c->out, y + k * c->sout * eo, acc);
    }
  }
}

/* flattened: p[0] a (in row-major order), ctx: out run */
typedef struct { cumctx c; char *o; int64_t so; } cumflat;

static void cumflatk(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  cumflat *f = ctx;
  int64_t eo = (int64_t)cj_dtype_size(f->c.out), ei = (int64_t)cj_dtype_size(f->c.in);
  if (f->c.in == CJ_F64 && f->c.out == CJ_F64 && s[0] == 1 && f->so == 1) {
    const double *x = (const double *)p[0];
    double *y = (double *)f->o, acc = f->c.acc;
    for (int64_t i = 0; i < n; i++) y[i] = acc += x[i];
    f->c.acc = acc;
  } else {
    for (int64_t i = 0; i < n; i++) {
      f->c.acc += cj_dtype_load(f->c.in, p[0] + i * s[0] * ei);
      cj_dtype_store(f->c.out, f->o + i * f->so * eo, f->c.acc);
    }
  }
  f->o += n * f->so * eo;
}

int cj_array_cumsum(cj_array *out, const cj_array *a, int axis)
{
  int st;
  cj_dtype t = cj_reduce_dtype(CJ_SUM, a->dtype);
  cj_array rest, orest;
  const cj_array *ops[2];
  if (axis < 0) {
    int64_t n = cj_array_numel(a);
    cumflat f;
    if ((st = checkout(out, t, 1, &n))) return st;
    if (cj_array_overlap(out, a)) return cj_fail(CJ_EINVAL, "out overlaps the input");
    f.c.in = a->dtype; f.c.out = t; f.c.acc = 0; f.o = out->data; f.so = out->strides[0];
    ops[0] = a;
    return cj_array_apply(1, ops, cumflatk, &f);
  }
  if (axis >= a->ndim) return cj_fail(CJ_ERANGE, "axis %d out of range 1..%d", axis + 1, a->ndim);
  if ((st = checkout(out, t, a->ndim, a->shape))) return st;
  if (cj_array_overlap(out, a)) return cj_fail(CJ_EINVAL, "out overlaps the input");
  if (a->shape[axis] == 0) return CJ_OK;
  cj_array_select(&rest, a, axis, 0);
  cj_array_select(&orest, out, axis, 0);
  {
    cumctx c = { a->dtype, t, a->shape[axis], a->strides[axis], out->strides[axis], 0 };
    ops[0] = &orest; ops[1] = &rest;
    return cj_array_apply(2, ops, cumaxisk, &c);
  }
}
