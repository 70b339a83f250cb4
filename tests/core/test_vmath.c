/*
 * test_vmath.c — the vector paths of vm/core/vmath.c (SLEEF u10) and the
 * libm path, through cj_array_unop, against references computed in long
 * double (64-bit significand on x86-64: their own error is below 2^-11 ulp
 * of a double result and 2^-40 of a float one).
 *
 * Inputs: the IEEE special values (+-0, +-inf, NaN, the smallest and
 * largest subnormals, the smallest normal, the largest finite), the
 * thresholds of each function (exp's overflow at ln(DBL_MAX) and underflow
 * to subnormal and to zero, log1p's pole at -1, ...) with their neighbours,
 * values spread over every binade (random sign, exponent and significand)
 * and values uniform on the interval where the function varies, from the
 * project's counter-based generator; float64 and float32; odd lengths, so
 * the partial last vector is exercised.
 *
 * Asserted, for each path the processor runs (the others are skipped):
 *  - exp, log, log1p, sin, cos, tan, tanh: at most 1 ulp on the SLEEF
 *    paths (SLEEF's documented bound for the u10 functions; vmath.c mends
 *    the few places where SLEEF 3.5 misses it), at most 2.5 ulp on libm
 *    (glibc documents 2 ulp from the correctly rounded result for tanh and
 *    tanhf, which is up to 2.5 ulp from the exact value; the others are
 *    within 1);
 *  - sigmoid, computed from one exp(-|x|), a division and an addition: at
 *    most 3 ulp (1 from exp, 1/2 each from the addition and the division,
 *    and up to 1 more as the result may sit just below a power of two);
 *  - NaN where the reference is NaN, the same infinity where it is infinite,
 *    the sign of a zero result where the reference is zero (exp(-inf) = +0,
 *    log1p(-0) = -0, sin(-0) = -0, tanh(-0) = -0);
 *  - strided and reversed inputs and outputs, and in-place computation,
 *    give bit for bit the contiguous results.
 * The largest error seen is printed for each function (cr_log_info).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "array.h"
#include "rng.h"
#include "vmath.h"

enum { NRAND = 30001 };

typedef struct {
  const char *name;
  cj_unop op;
  long double (*ref)(long double);
  double lo, hi;               /* interval of the uniform inputs (float64) */
  double flo, fhi;             /* the same for float32 */
} fun;

static long double sigmoidl(long double x)
{
  long double e = expl(-fabsl(x));
  return (x < 0 ? e : 1) / (1 + e);
}

static const fun funs[] = {
  { "exp", CJ_EXP, expl, -746, 710, -104, 89 },
  { "log", CJ_LOG, logl, 0, 4, 0, 4 },
  { "log1p", CJ_LOG1P, log1pl, -1, 3, -1, 3 },
  { "sin", CJ_SIN, sinl, -20, 20, -20, 20 },
  { "cos", CJ_COS, cosl, -20, 20, -20, 20 },
  { "tan", CJ_TAN, tanl, -20, 20, -20, 20 },
  { "tanh", CJ_TANH, tanhl, -25, 25, -12, 12 },
  { "sigmoid", CJ_SIGMOID, sigmoidl, -800, 800, -110, 110 },
};
#define NFUNS (sizeof funs / sizeof funs[0])

/* thresholds and special points of every function, in float64 */
static const double specials[] = {
  0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 1.0, -1.0, 0.5, -0.5, 2.0,
  0x1p-1074, -0x1p-1074, 0x0.fffffffffffffp-1022, -0x0.fffffffffffffp-1022,
  DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, 1e-300, 1e300, -1e300,
  /* exp: overflow above ln(DBL_MAX), subnormal below ln(DBL_MIN), zero below ln(2^-1075) */
  709.782712893383973096, 709.78271289338397, 709.7827128933841, 710.0,
  -708.39641853226410622, -708.3964185322642, -745.13321910194110842, -745.1332191019412, -746.0,
  88.72283935546875, 88.7228393554688, 89.0, -87.33654785156250, -103.97208404541016, -104.0,
  /* log1p: the pole at -1 and its neighbours; log near 1 */
  -0.99999999999999989, -0.9999999, -1.0000000000000002, -2.0, 1e-17, -1e-17, 1.0000000000000002,
  0.99999999999999989, 1e-8,
  /* trigonometric: near multiples of pi/2, huge arguments */
  1.5707963267948966, 3.141592653589793, 6.283185307179586, 1e6, 1e15, 1e22, 0x1p1023,
  -0x1p1023, 1.5707963705062866, 3.1415927410125732,
  /* where SLEEF's sin, cos and tan change their argument reduction */
  15.0, 14.999999999999998, 15.000000000000002, 1e9, 999999999.99999988, 1e14, 99999999999999.984,
  125.0, 124.99999237060547, 125.00000762939453, 39000.0, 38999.99609375, 8e6, 7999999.5, 1e7, 9999999.0,
  /* tanh and sigmoid saturation */
  19.06154746539849, 22.0, -22.0, 37.0, -37.0, 710.0, -710.0, -740.0, 8.0, 15.0, 17.0,
  /* SLEEF 3.5's double tanh misses 1 ulp here (vmath.c keeps x below 2^-27) */
  -0x1.0243df1a9776dp-53, 0x1.0243df1a9776dp-53, 0x1p-27, -0x1p-27, 0x1.fffffffffffffp-28,
  /* exp: the table index and scale change (k mod 16 = 0, 15; 2^floor(k/16)) */
  0.043321698784996581, -0.043321698784996581, 0.021660849392498291, -0.021660849392498291,
};
#define NSPECIAL (sizeof specials / sizeof specials[0])

/* ---- inputs ---------------------------------------------------------------------- */

/* A float64 with random sign, exponent in [emin, emax] and significand. */
static double anybinade(cj_rng *r, int emin, int emax, int withsign)
{
  uint64_t m = ((uint64_t)cj_rng_u32(r) << 20) ^ cj_rng_u32(r);
  int e = emin + (int)cj_rng_below(r, (uint64_t)(emax - emin + 1));
  double x = ldexp(1.0 + (double)(m & ((1ull << 52) - 1)) * 0x1p-52, e);
  return withsign && (cj_rng_u32(r) & 1) ? -x : x;
}

/* n inputs for f in dtype t: specials, then thirds over all binades, over the
 * function's interval, and (for log1p) just above -1. */
static int64_t inputs(const fun *f, cj_dtype t, double *x)
{
  cj_rng r;
  int64_t n = 0;
  int isf = t == CJ_F32;
  cj_rng_init(&r, 20260601, (uint64_t)f->op * 2 + (uint64_t)isf);
  for (size_t i = 0; i < NSPECIAL; i++) x[n++] = specials[i];
  for (int i = 0; i < NRAND / 3; i++) {
    int pos = f->op == CJ_LOG;
    x[n++] = isf ? anybinade(&r, -149, 127, !pos) : anybinade(&r, -1074, 1023, !pos);
  }
  for (int i = 0; i < NRAND / 3; i++) {
    double lo = isf ? f->flo : f->lo, hi = isf ? f->fhi : f->hi;
    x[n++] = lo + (hi - lo) * cj_rng_uniform(&r);
  }
  for (int i = 0; i < NRAND - 2 * (NRAND / 3); i++)   /* near the low end: -1 + tiny for log1p */
    x[n++] = f->op == CJ_LOG1P ? -1 + anybinade(&r, isf ? -24 : -53, -1, 0) : anybinade(&r, -30, 3, 1);
  if (isf)
    for (int64_t i = 0; i < n; i++) x[i] = (float)x[i];
  return n;
}

/* ---- ulps ------------------------------------------------------------------------- */

/* Error of y in units of the last place of the format (p significand bits,
 * emin the smallest normal exponent, emax the largest) at the exact r. */
static double ulperr(long double y, long double r, int p, int emin, int emax)
{
  long double a = fabsl(r), u;
  int e;
  if (isnan(r)) return isnan(y) ? 0 : INFINITY;
  if (isnan(y)) return INFINITY;
  if (isinf(r)) return y == r ? 0 : INFINITY;
  if (isinf(y)) {                              /* overflow: correct when r rounds to it */
    long double big = ldexpl(2.0L - ldexpl(1, -p), emax);   /* the rounding boundary */
    return (y > 0) == (r > 0) && a >= big ? 0 : INFINITY;
  }
  if (r == 0 && y == 0) return signbit(y) == signbit(r) ? 0 : INFINITY;
  e = a < ldexpl(1, emin) ? emin : ilogbl(a);
  if (e > emax) e = emax;
  u = ldexpl(1, e - (p - 1));
  return (double)(fabsl(y - r) / u);
}

static double ulperr_d(double y, long double r) { return ulperr(y, r, 53, -1022, 1023); }
static double ulperr_f(float y, long double r) { return ulperr(y, r, 24, -126, 127); }

/* 1 when long double carries more bits than double, so that the references
 * are exact enough (not under valgrind, which computes x87 arithmetic in
 * double precision: there only the layout checks are made, with a warning). */
static int exactref(void)
{
  volatile long double x = 1;
  x += 0x1p-60L;
  return x != 1;
}

/* ---- one function on the current path --------------------------------------------- */

static cj_array make(cj_dtype t, int64_t n)
{
  cj_array a;
  cr_assert_eq(cj_array_alloc(&a, t, 1, &n), CJ_OK, "%s", cj_errmsg());
  return a;
}

static void apply(cj_unop op, cj_array *out, const cj_array *in)
{
  cr_assert_eq(cj_array_unop(op, out, in), CJ_OK, "%s", cj_errmsg());
}

/* Largest ulp error of f in dtype t; checks layouts against the contiguous result. */
static double check(const fun *f, cj_dtype t, double bound)
{
  static double xs[NSPECIAL + NRAND];
  int64_t n = inputs(f, t, xs), m = 3 * n;
  cj_array x = make(t, n), y = make(t, n), big = make(t, m), bigo = make(t, 2 * n);
  cj_array sx, so, rx, ry;
  double worst = 0;
  int64_t wi = 0;
  for (int64_t i = 0; i < n; i++) {
    cj_array_setflat(&x, i, xs[i]);
    cj_array_setflat(&big, 3 * i + 1, xs[i]);
  }
  apply(f->op, &y, &x);
  for (int64_t i = 0; i < n; i++) {
    long double r = f->ref(t == CJ_F32 ? (long double)((float *)x.data)[i] : (long double)((double *)x.data)[i]);
    double e = t == CJ_F32 ? ulperr_f(((float *)y.data)[i], r) : ulperr_d(((double *)y.data)[i], r);
    if (!(e <= worst)) { worst = e; wi = i; }
  }
  cr_expect(!exactref() || worst <= bound, "%s %s on %s: %.3g ulp at x = %a (got %a, exact %La), bound %g", f->name,
            cj_dtype_name(t), cj_vmath_name(), worst, cj_array_getflat(&x, wi), cj_array_getflat(&y, wi),
            f->ref(cj_array_getflat(&x, wi)), bound);
  /* strided input (every third element) into a strided output (every other) */
  cr_assert_eq(cj_array_slice(&sx, &big, 0, 1, n, 3), CJ_OK);
  cr_assert_eq(cj_array_slice(&so, &bigo, 0, 0, n, 2), CJ_OK);
  apply(f->op, &so, &sx);
  /* reversed input into a reversed output */
  cr_assert_eq(cj_array_slice(&rx, &x, 0, n - 1, n, -1), CJ_OK);
  cr_assert_eq(cj_array_slice(&ry, &big, 0, m - 1, n, -1), CJ_OK);
  apply(f->op, &ry, &rx);
  for (int64_t i = 0; i < n; i++) {
    double c = cj_array_getflat(&y, i), s = cj_array_getflat(&so, i), v = cj_array_getflat(&ry, n - 1 - i);
    double al;
    cj_array one, ox;
    cr_assert(memcmp(&c, &s, sizeof c) == 0, "%s %s strided differs at x = %a: %a vs %a", cj_vmath_name(),
              f->name, cj_array_getflat(&x, i), s, c);
    cr_assert(memcmp(&c, &v, sizeof c) == 0, "%s %s reversed differs at x = %a: %a vs %a", cj_vmath_name(),
              f->name, cj_array_getflat(&x, i), v, c);
    /* the element alone (a vector padded around it) */
    cr_assert_eq(cj_array_slice(&one, &x, 0, i, 1, 1), CJ_OK);
    cr_assert_eq(cj_array_slice(&ox, &bigo, 0, 1, 1, 1), CJ_OK);
    apply(f->op, &ox, &one);
    al = cj_array_getflat(&ox, 0);
    cr_assert(memcmp(&c, &al, sizeof c) == 0, "%s %s alone differs at x = %a: %a vs %a", cj_vmath_name(),
              f->name, cj_array_getflat(&x, i), al, c);
  }
  apply(f->op, &x, &x);                         /* in place */
  cr_assert(memcmp(x.data, y.data, (size_t)n * cj_dtype_size(t)) == 0, "%s in place differs", f->name);
  cj_array_release(&x);
  cj_array_release(&y);
  cj_array_release(&big);
  cj_array_release(&bigo);
  return worst;
}

static void checkpath(const char *path)
{
  int libm = strcmp(path, "libm") == 0;
  if (!cj_vmath_supported(path)) cr_skip_test("this processor cannot run the %s path", path);
  if (!exactref())
    cr_log_warn("long double is no wider than double here: errors are not checked, only layouts");
  cr_assert_eq(cj_vmath_use(path), CJ_OK, "%s", cj_errmsg());
  cr_assert_str_eq(cj_vmath_name(), path);
  for (size_t i = 0; i < NFUNS; i++) {
    double bound = funs[i].op == CJ_SIGMOID ? 3 : libm ? 2.5 : 1;
    double ed = check(&funs[i], CJ_F64, bound), ef = check(&funs[i], CJ_F32, bound);
    cr_log_info("%s %-7s float64 %.4f ulp, float32 %.4f ulp (bound %g)", path, funs[i].name, ed, ef, bound);
  }
}

Test(vmath, avx512_within_bounds) { checkpath("avx512"); }
Test(vmath, avx2_within_bounds) { checkpath("avx2"); }
Test(vmath, sse_within_bounds) { checkpath("sse"); }
Test(vmath, libm_within_bounds) { checkpath("libm"); }

Test(vmath, auto_takes_the_widest_supported)
{
  const char *order[] = { "avx512", "avx2", "sse", "libm" };
  cr_assert_eq(cj_vmath_use("auto"), CJ_OK);
  for (int i = 0; i < 4; i++)
    if (cj_vmath_supported(order[i])) {
      cr_assert_str_eq(cj_vmath_name(), order[i]);
      return;
    }
  cr_assert_fail("no path supported, not even libm");
}

Test(vmath, unknown_or_unsupported_path_is_refused)
{
  cr_assert_eq(cj_vmath_use("libm"), CJ_OK);
  cr_assert_eq(cj_vmath_use("avx1024"), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "unknown path 'avx1024'"), "%s", cj_errmsg());
  cr_assert_str_eq(cj_vmath_name(), "libm");   /* the previous path stays */
  cr_assert_eq(cj_vmath_use(NULL), CJ_EINVAL);
  for (const char *const *p = (const char *const[]){ "avx512", "avx2", "sse", NULL }; *p; p++)
    if (!cj_vmath_supported(*p)) {
      cr_assert_eq(cj_vmath_use(*p), CJ_EINVAL);
      cr_assert(strstr(cj_errmsg(), "not supported by this processor"), "%s", cj_errmsg());
    }
}

Test(vmath, other_ops_and_dtypes_have_no_vector_kernel)
{
  cr_assert_eq(cj_vmath_use("auto"), CJ_OK);
  cr_assert_null(cj_vmath_kernel(CJ_SQRT, CJ_F64));
  cr_assert_null(cj_vmath_kernel(CJ_EXP, CJ_I32));
  if (strcmp(cj_vmath_name(), "libm") != 0) cr_assert_not_null(cj_vmath_kernel(CJ_EXP, CJ_F64));
}
