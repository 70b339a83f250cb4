/*
 * test_array.c — libcajal arrays against independent scalar computations:
 * every elementwise operation, reduction and matrix product is checked
 * element by element against a plain loop over 0-based indices, on
 * contiguous, strided (sliced with a step), transposed and broadcast
 * operands, in every dtype it supports.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "array.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t lcg = 88172645463325252ull;

static double urand(void)            /* uniform in [0, 1), deterministic */
{
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg >> 11) / 9007199254740992.0;
}

static cj_array make(cj_dtype t, int ndim, const int64_t *shape)
{
  cj_array a;
  cr_assert_eq(cj_array_alloc(&a, t, ndim, shape), CJ_OK, "%s", cj_errmsg());
  return a;
}

/* values in [lo, hi): integers for integer dtypes */
static void randfill(cj_array *a, double lo, double hi)
{
  int64_t n = cj_array_numel(a);
  for (int64_t k = 0; k < n; k++) {
    double v = lo + (hi - lo) * urand();
    cj_array_setflat(a, k, cj_dtype_isint(a->dtype) ? floor(v) : v);
  }
}

/* element of a at the index of a broadcast result (numpy alignment) */
static double bget(const cj_array *a, int ndim, const int64_t *idx)
{
  int64_t j[CJ_MAXDIM];
  int off = ndim - a->ndim;
  for (int i = 0; i < a->ndim; i++) j[i] = a->shape[i] == 1 ? 0 : idx[i + off];
  return cj_array_get(a, j);
}

static void unflat(const cj_array *a, int64_t k, int64_t *idx)
{
  for (int i = a->ndim - 1; i >= 0; i--) { idx[i] = k % a->shape[i]; k /= a->shape[i]; }
}

static int close(double x, double y, double tol)
{
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  if (isinf(x) || isinf(y)) return x == y;
  return fabs(x - y) <= tol * (1 + fabs(y));
}

/* The layouts every operation is checked on: a fresh contiguous m x n
 * array, a step-2 slice of a bigger one, and a transposed one. *base
 * receives the memory to release. */
enum { CONTIG, STRIDED, TRANSPOSED, NLAYOUTS };
static const char *const layoutname[NLAYOUTS] = { "contiguous", "strided", "transposed" };

static cj_array layout(int kind, cj_dtype t, int64_t m, int64_t n, cj_array *base)
{
  cj_array v;
  int64_t s[2];
  if (kind == CONTIG) {
    s[0] = m; s[1] = n;
    *base = make(t, 2, s);
    return *base;
  }
  if (kind == STRIDED) {
    s[0] = m + 1; s[1] = 2 * n + 3;
    *base = make(t, 2, s);
    cr_assert_eq(cj_array_slice(&v, base, 1, 1, n, 2), CJ_OK);
    cr_assert_eq(cj_array_slice(&v, &v, 0, 1, m, 1), CJ_OK);
    return v;
  }
  s[0] = n; s[1] = m;
  *base = make(t, 2, s);
  cr_assert_eq(cj_array_transpose(&v, base, 0, 1), CJ_OK);
  return v;
}

/* ---- dtypes, shapes, elements --------------------------------------------------------- */

Test(dtype, names_sizes_and_parse)
{
  cj_dtype t;
  cr_assert_str_eq(cj_dtype_name(CJ_F64), "float64");
  cr_assert_str_eq(cj_dtype_name(CJ_U8), "uint8");
  cr_assert_eq(cj_dtype_size(CJ_F32), 4);
  cr_assert_eq(cj_dtype_size(CJ_I32), 4);
  cr_assert_eq(cj_dtype_size(CJ_U8), 1);
  cr_assert_eq(cj_dtype_parse("int32", &t), CJ_OK); cr_assert_eq(t, CJ_I32);
  cr_assert_eq(cj_dtype_parse("double", &t), CJ_OK); cr_assert_eq(t, CJ_F64);
  cr_assert_eq(cj_dtype_parse("byte", &t), CJ_OK); cr_assert_eq(t, CJ_U8);
  cr_assert_eq(cj_dtype_parse("int64", &t), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "unknown dtype 'int64'"));
}

Test(dtype, promotion_table)
{
  cr_assert_eq(cj_dtype_promote(CJ_U8, CJ_U8), CJ_U8);
  cr_assert_eq(cj_dtype_promote(CJ_U8, CJ_I32), CJ_I32);
  cr_assert_eq(cj_dtype_promote(CJ_F32, CJ_U8), CJ_F32);
  cr_assert_eq(cj_dtype_promote(CJ_F32, CJ_I32), CJ_F64);
  cr_assert_eq(cj_dtype_promote(CJ_I32, CJ_F64), CJ_F64);
  cr_assert_eq(cj_binop_dtype(CJ_DIV, CJ_I32, CJ_I32), CJ_F64);
  cr_assert_eq(cj_binop_dtype(CJ_POW, CJ_U8, CJ_U8), CJ_F64);
  cr_assert_eq(cj_binop_dtype(CJ_DIV, CJ_F32, CJ_F32), CJ_F32);
  cr_assert_eq(cj_binop_dtype(CJ_LT, CJ_F64, CJ_I32), CJ_U8);
  cr_assert_eq(cj_unop_dtype(CJ_EXP, CJ_I32), CJ_F64);
  cr_assert_eq(cj_unop_dtype(CJ_ABS, CJ_I32), CJ_I32);
}

Test(shape, numel_contiguity_and_format)
{
  int64_t s[3] = { 2, 3, 4 }, n;
  char buf[32];
  cj_array a = make(CJ_F64, 3, s), v;
  cr_assert_eq(cj_array_numel(&a), 24);
  cr_assert(cj_array_iscontig(&a));
  cr_assert_eq(a.strides[0], 12); cr_assert_eq(a.strides[2], 1);
  cj_array_transpose(&v, &a, 0, 2);
  cr_assert_not(cj_array_iscontig(&v));
  cr_assert_str_eq(cj_shape_format(3, s, buf, sizeof buf), "2x3x4");
  cr_assert_str_eq(cj_shape_format(0, s, buf, sizeof buf), "scalar");
  s[1] = -1;
  cr_assert_eq(cj_shape_numel(3, s, &n), CJ_EINVAL);
  s[0] = s[1] = s[2] = INT64_C(1) << 30;
  cr_assert_eq(cj_shape_numel(3, s, &n), CJ_EINVAL);     /* would overflow */
  cj_array_release(&a);
}

Test(shape, empty_arrays_are_contiguous)
{
  int64_t s40[2] = { 4, 0 }, s04[2] = { 0, 4 }, s403[3] = { 4, 0, 3 }, s22[2] = { 2, 2 };
  cj_array a = make(CJ_F64, 2, s40), b = make(CJ_F32, 2, s04), c = make(CJ_I32, 3, s403), v, w;
  cr_assert(cj_array_iscontig(&a), "4x0");
  cr_assert(cj_array_iscontig(&b), "0x4");
  cr_assert(cj_array_iscontig(&c), "4x0x3");
  cj_array_transpose(&v, &c, 0, 2);               /* 3x0x4, strides permuted */
  cr_assert(cj_array_iscontig(&v), "a transposed empty array");
  cr_assert_eq(cj_array_reshape(&w, &a, 2, s04), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(w.shape[0], 0); cr_assert_eq(w.shape[1], 4);
  cr_assert_eq(cj_array_reshape(&w, &v, 2, s40), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_array_reshape(&w, &a, 2, s22), CJ_EINVAL, "sizes still have to match");
  cj_array_release(&a);
  cj_array_release(&b);
  cj_array_release(&c);
}

Test(element, get_set_and_flat_positions)
{
  int64_t s[2] = { 3, 4 }, idx[2] = { 2, 1 };
  cj_array a = make(CJ_F64, 2, s), t;
  for (int64_t k = 0; k < 12; k++) cj_array_setflat(&a, k, (double)k);
  cr_assert_eq(cj_array_get(&a, idx), 9.0);
  cj_array_set(&a, idx, -1.5);
  cr_assert_eq(((double *)a.data)[9], -1.5);
  cj_array_transpose(&t, &a, 0, 1);              /* t(i, j) = a(j, i) */
  cr_assert_eq(cj_array_getflat(&t, 1), 4.0);    /* t(0, 1) = a(1, 0) */
  cr_assert_eq(cj_array_getflat(&t, 3), 1.0);    /* t(1, 0) = a(0, 1) */
  cj_array_release(&a);
}

Test(element, conversion_to_integers_saturates)
{
  int64_t s[1] = { 1 };
  cj_array i = make(CJ_I32, 1, s), u = make(CJ_U8, 1, s);
  const double in[] = { 300.7, -1, -2.9, NAN, 1e20, -1e20, 254.99 };
  const double wi[] = { 300, -1, -2, 0, 2147483647, -2147483648.0, 254 };
  const double wu[] = { 255, 0, 0, 0, 255, 0, 254 };
  for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
    cj_array_setflat(&i, 0, in[k]);
    cj_array_setflat(&u, 0, in[k]);
    cr_assert_eq(cj_array_getflat(&i, 0), wi[k], "int32 of %g", in[k]);
    cr_assert_eq(cj_array_getflat(&u, 0), wu[k], "uint8 of %g", in[k]);
  }
  cj_array_release(&i);
  cj_array_release(&u);
}

/* ---- views ---------------------------------------------------------------------------------- */

Test(view, select_slice_transpose_share_memory)
{
  int64_t s[2] = { 4, 5 };
  cj_array a = make(CJ_F64, 2, s), r, c, sl;
  for (int64_t k = 0; k < 20; k++) cj_array_setflat(&a, k, (double)k);
  cr_assert_eq(cj_array_select(&r, &a, 0, 2), CJ_OK);         /* row 2 */
  cr_assert_eq(r.ndim, 1); cr_assert_eq(cj_array_getflat(&r, 3), 13.0);
  cr_assert_eq(cj_array_select(&c, &a, 1, 4), CJ_OK);         /* column 4 */
  cr_assert_eq(cj_array_getflat(&c, 3), 19.0);
  cj_array_setflat(&c, 0, 100);
  cr_assert_eq(((double *)a.data)[4], 100.0);
  cr_assert_eq(cj_array_slice(&sl, &a, 1, 4, 3, -2), CJ_OK);  /* columns 4, 2, 0 */
  cr_assert_eq(sl.shape[1], 3);
  cr_assert_eq(cj_array_getflat(&sl, 4), 7.0);                 /* (1, 1) -> a(1, 2) */
  cr_assert_eq(cj_array_select(&r, &a, 0, 4), CJ_ERANGE);
  cr_assert_str_eq(cj_errmsg(), "index 5 out of range 1..4");
  cr_assert_eq(cj_array_slice(&sl, &a, 1, 2, 3, 2), CJ_ERANGE);
  cr_assert_eq(cj_array_slice(&sl, &a, 1, 9, 0, 1), CJ_OK);    /* empty: no check */
  cr_assert_eq(cj_array_numel(&sl), 0);
  cr_assert_eq(cj_array_transpose(&sl, &a, 0, 2), CJ_ERANGE);
  cj_array_release(&a);
}

Test(view, reshape_needs_contiguity_and_equal_size)
{
  int64_t s[2] = { 4, 6 }, r1[3] = { 2, 3, 4 }, r2[2] = { 5, 5 };
  cj_array a = make(CJ_F32, 2, s), v, t;
  cr_assert_eq(cj_array_reshape(&v, &a, 3, r1), CJ_OK);
  cr_assert_eq(v.data, a.data); cr_assert_eq(v.strides[0], 12);
  cr_assert_eq(cj_array_reshape(&v, &a, 2, r2), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "sizes do not match"));
  cj_array_transpose(&t, &a, 0, 1);
  cr_assert_eq(cj_array_reshape(&v, &t, 3, r1), CJ_EINVAL);
  cj_array_release(&a);
}

Test(view, broadcast_shapes_and_strides)
{
  int64_t sa[2] = { 3, 1 }, sb[1] = { 4 }, out[CJ_MAXDIM], sc[1] = { 5 };
  int n;
  cj_array a = make(CJ_F64, 2, sa), v;
  cr_assert_eq(cj_broadcast_shape(2, sa, 1, sb, &n, out), CJ_OK);
  cr_assert_eq(n, 2); cr_assert_eq(out[0], 3); cr_assert_eq(out[1], 4);
  cr_assert_eq(cj_array_broadcast(&v, &a, 2, out), CJ_OK);
  cr_assert_eq(v.strides[1], 0); cr_assert_eq(v.strides[0], 1);
  cr_assert_eq(cj_broadcast_shape(1, sb, 1, sc, &n, out), CJ_EINVAL);
  cr_assert_str_eq(cj_errmsg(), "shapes 4 and 5 do not broadcast");
  cj_array_release(&a);
}

/* ---- copies ---------------------------------------------------------------------------------- */

Test(copy, every_dtype_pair_and_layout)
{
  for (int ta = 0; ta < CJ_NDTYPES; ta++)
    for (int tb = 0; tb < CJ_NDTYPES; tb++)
      for (int la = 0; la < NLAYOUTS; la++) {
        cj_array ba, bb, src = layout(la, (cj_dtype)ta, 7, 9, &ba);
        cj_array dst = layout((la + 1) % NLAYOUTS, (cj_dtype)tb, 7, 9, &bb);
        randfill(&src, -20, 300);
        cr_assert_eq(cj_array_copy(&dst, &src), CJ_OK);
        for (int64_t k = 0; k < 63; k++) {
          double x = cj_array_getflat(&src, k), want;
          cj_array one;
          int64_t s1[1] = { 1 };
          one = make((cj_dtype)tb, 1, s1);       /* the reference conversion: setflat */
          cj_array_setflat(&one, 0, x);
          want = cj_array_getflat(&one, 0);
          cj_array_release(&one);
          cr_assert_eq(cj_array_getflat(&dst, k), want, "%s -> %s (%s) at %lld",
                       cj_dtype_name(ta), cj_dtype_name(tb), layoutname[la], (long long)k);
        }
        cj_array_release(&ba);
        cj_array_release(&bb);
      }
}

Test(copy, overlapping_shift_reads_source_first)
{
  int64_t s[1] = { 10 };
  cj_array a = make(CJ_I32, 1, s), src, dst;
  for (int k = 0; k < 10; k++) cj_array_setflat(&a, k, k);
  cj_array_slice(&src, &a, 0, 0, 8, 1);
  cj_array_slice(&dst, &a, 0, 2, 8, 1);          /* a[2..9] = a[0..7] */
  cr_assert_eq(cj_array_copy(&dst, &src), CJ_OK);
  for (int k = 2; k < 10; k++) cr_assert_eq(cj_array_getflat(&a, k), k - 2);
  cj_array_slice(&src, &a, 0, 9, 10, -1);        /* reverse in place */
  cr_assert_eq(cj_array_copy(&a, &src), CJ_OK);
  cr_assert_eq(cj_array_getflat(&a, 0), 7);
  cr_assert_eq(cj_array_getflat(&a, 9), 0);
  cj_array_release(&a);
}

Test(copy, fill_a_strided_view)
{
  int64_t s[2] = { 4, 4 };
  cj_array a = make(CJ_U8, 2, s), v;
  cj_array_slice(&v, &a, 1, 0, 2, 2);
  cj_array_fill(&v, 7);
  for (int64_t k = 0; k < 16; k++) cr_assert_eq(cj_array_getflat(&a, k), (k % 4 == 0 || k % 4 == 2) ? 7 : 0);
  cj_array_release(&a);
}

/* ---- elementwise binary operations ------------------------------------------------------------------- */

static double refmod(double x, double y, cj_dtype t)
{
  if (cj_dtype_isint(t)) {
    if (y == 0) return 0;
    double r = fmod(x, y);
    if (r != 0 && (r < 0) != (y < 0)) r += y;
    return r;
  }
  double m = fmod(x, y);
  if (m != 0 && (m < 0) != (y < 0)) m += y;
  return m;
}

/* floored division as Lua's //: integer x // 0 is 0 (the wrap of INT_MIN // -1 is
 * applied by refbin's integer rounding below) */
static double refidiv(double x, double y, cj_dtype t)
{
  if (cj_dtype_isint(t)) return y == 0 ? 0 : floor(x / y);
  return t == CJ_F32 ? floorf((float)x / (float)y) : floor(x / y);
}

/* the reference: computed in double, then wrapped/rounded as the dtype does */
static double refbin(cj_binop op, double x, double y, cj_dtype t)
{
  double r;
  switch (op) {
  case CJ_ADD: r = x + y; break;
  case CJ_SUB: r = x - y; break;
  case CJ_MUL: r = x * y; break;
  case CJ_DIV: return t == CJ_F32 ? (float)x / (float)y : x / y;
  case CJ_IDIV: r = refidiv(x, y, t); if (!cj_dtype_isint(t)) return r; break;
  case CJ_MOD: return refmod(x, y, t);
  case CJ_POW: return t == CJ_F32 ? powf((float)x, (float)y) : pow(x, y);
  case CJ_MINIMUM: return x < y ? x : y;
  case CJ_MAXIMUM: return x > y ? x : y;
  case CJ_LT: return x < y;
  case CJ_LE: return x <= y;
  case CJ_GT: return x > y;
  case CJ_GE: return x >= y;
  case CJ_EQ: return x == y;
  case CJ_NE: return x != y;
  default: return NAN;
  }
  if (t == CJ_U8) return (double)(uint8_t)(int64_t)r;
  if (t == CJ_I32) return (double)(int32_t)(uint32_t)(int64_t)r;
  if (t == CJ_F32) return (float)r;
  return r;
}

static void checkbinop(cj_binop op, cj_dtype t, const cj_array *a, const cj_array *b, const char *what)
{
  int64_t shape[CJ_MAXDIM], idx[CJ_MAXDIM];
  int ndim;
  cj_dtype rt = cj_binop_dtype(op, a->dtype, b->dtype);
  cj_array out;
  cr_assert_eq(cj_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &ndim, shape), CJ_OK);
  out = make(rt, ndim, shape);
  cr_assert_eq(cj_array_binop(op, &out, a, b), CJ_OK, "%s", cj_errmsg());
  for (int64_t k = 0; k < cj_array_numel(&out); k++) {
    unflat(&out, k, idx);
    double x = bget(a, ndim, idx), y = bget(b, ndim, idx);
    double want = refbin(op, x, y, rt == CJ_U8 && cj_binop_iscmp(op) ? t : rt);
    double got = cj_array_get(&out, idx);
    cr_assert(close(got, want, t == CJ_F32 ? 1e-6 : 1e-15),
              "%s %s (%s): %g op %g = %g, want %g", cj_binop_name(op), cj_dtype_name(t), what, x, y, got, want);
  }
  cj_array_release(&out);
}

Test(binop, every_op_dtype_and_layout)
{
  for (int t = 0; t < CJ_NDTYPES; t++)
    for (int op = 0; op < CJ_NBINOPS; op++)
      for (int la = 0; la < NLAYOUTS; la++) {
        cj_array ba, bb, a = layout(la, (cj_dtype)t, 6, 11, &ba);
        cj_array b = layout((la + 2) % NLAYOUTS, (cj_dtype)t, 6, 11, &bb);
        int isint = cj_dtype_isint((cj_dtype)t);
        randfill(&a, isint ? 0 : -3, isint ? 200 : 3);
        randfill(&b, isint ? (t == CJ_U8 ? 0 : -9) : 0.1, isint ? 9 : 2.5);
        checkbinop((cj_binop)op, (cj_dtype)t, &a, &b, layoutname[la]);
        cj_array_release(&ba);
        cj_array_release(&bb);
      }
}

Test(binop, broadcasting_rows_columns_and_scalars)
{
  int64_t sm[2] = { 5, 7 }, sr[1] = { 7 }, sc[2] = { 5, 1 };
  cj_array m = make(CJ_F64, 2, sm), r = make(CJ_F64, 1, sr), c = make(CJ_F64, 2, sc), s, mt;
  double sv = 2.5;
  randfill(&m, -1, 1); randfill(&r, -1, 1); randfill(&c, 0.5, 1);
  cj_array_wrap(&s, &sv, CJ_F64, 0, NULL);
  for (int op = 0; op < CJ_NBINOPS; op++) {
    checkbinop((cj_binop)op, CJ_F64, &m, &r, "matrix-row");
    checkbinop((cj_binop)op, CJ_F64, &r, &m, "row-matrix");
    checkbinop((cj_binop)op, CJ_F64, &m, &c, "matrix-column");
    checkbinop((cj_binop)op, CJ_F64, &c, &r, "column-row (outer)");
    checkbinop((cj_binop)op, CJ_F64, &m, &s, "matrix-scalar");
    checkbinop((cj_binop)op, CJ_F64, &s, &m, "scalar-matrix");
  }
  cj_array_transpose(&mt, &m, 0, 1);             /* 7x5 transposed + column 7x1 */
  {
    int64_t sc2[2] = { 7, 1 };
    cj_array c2 = make(CJ_F64, 2, sc2);
    randfill(&c2, -1, 1);
    checkbinop(CJ_SUB, CJ_F64, &mt, &c2, "transposed-column");
    cj_array_release(&c2);
  }
  cj_array_release(&m); cj_array_release(&r); cj_array_release(&c);
}

Test(binop, mixed_dtypes_promote)
{
  int64_t s[1] = { 9 };
  cj_array a = make(CJ_I32, 1, s), b = make(CJ_F32, 1, s), u = make(CJ_U8, 1, s);
  randfill(&a, -100, 100); randfill(&b, -2, 2); randfill(&u, 0, 255);
  checkbinop(CJ_MUL, CJ_F64, &a, &b, "int32*float32");
  checkbinop(CJ_DIV, CJ_F64, &a, &u, "int32/uint8");
  checkbinop(CJ_ADD, CJ_I32, &u, &a, "uint8+int32");
  checkbinop(CJ_LT, CJ_F64, &a, &b, "int32<float32");
  cj_array_release(&a); cj_array_release(&b); cj_array_release(&u);
}

Test(binop, integer_semantics)
{
  int64_t s[1] = { 4 };
  cj_array a = make(CJ_I32, 1, s), b = make(CJ_I32, 1, s), o = make(CJ_I32, 1, s);
  const double av[] = { 7, -7, 2147483647, -2147483648.0 }, bv[] = { -2, 2, 1, -1 };
  for (int k = 0; k < 4; k++) { cj_array_setflat(&a, k, av[k]); cj_array_setflat(&b, k, bv[k]); }
  cj_array_binop(CJ_MOD, &o, &a, &b);            /* floored, sign of the divisor */
  cr_assert_eq(cj_array_getflat(&o, 0), -1);
  cr_assert_eq(cj_array_getflat(&o, 1), 1);
  cr_assert_eq(cj_array_getflat(&o, 3), 0);      /* INT_MIN % -1 */
  cj_array_binop(CJ_ADD, &o, &a, &b);            /* wraps */
  cr_assert_eq(cj_array_getflat(&o, 2), -2147483648.0);
  cj_array_setflat(&b, 0, 0);
  cj_array_binop(CJ_MOD, &o, &a, &b);
  cr_assert_eq(cj_array_getflat(&o, 0), 0);      /* x % 0 := 0 */
  cj_array_release(&a); cj_array_release(&b); cj_array_release(&o);
}

Test(binop, floor_division_as_lua)
{
  /* the int32 results against Lua 5.4's // on integers (integer x // 0 := 0, as x % 0) */
  int64_t s[1] = { 10 };
  const double av[] = { -7, 7, -7, 7, 6, -6, 0, 2147483647, -2147483648.0, 5 };
  const double bv[] = { 2, -2, -2, 2, 3, 3, 5, 2, -1, 0 };
  const double want[] = { -4, -4, 3, 3, 2, -2, 0, 1073741823, -2147483648.0, 0 };
  cj_array a = make(CJ_I32, 1, s), b = make(CJ_I32, 1, s), o = make(CJ_I32, 1, s);
  cj_array fa = make(CJ_F64, 1, s), fb = make(CJ_F64, 1, s), fo = make(CJ_F64, 1, s);
  cj_array ga = make(CJ_F32, 1, s), gb = make(CJ_F32, 1, s), go = make(CJ_F32, 1, s);
  int64_t su[1] = { 3 };
  cj_array ua = make(CJ_U8, 1, su), ub = make(CJ_U8, 1, su), uo = make(CJ_U8, 1, su);
  cr_assert_eq(cj_binop_dtype(CJ_IDIV, CJ_I32, CJ_I32), CJ_I32);
  cr_assert_eq(cj_binop_dtype(CJ_IDIV, CJ_U8, CJ_I32), CJ_I32);
  cr_assert_eq(cj_binop_dtype(CJ_IDIV, CJ_I32, CJ_F32), CJ_F64);
  cr_assert_eq(cj_binop_dtype(CJ_IDIV, CJ_F32, CJ_F32), CJ_F32);
  cr_assert_str_eq(cj_binop_name(CJ_IDIV), "idiv");
  for (int k = 0; k < 10; k++) {
    cj_array_setflat(&a, k, av[k]); cj_array_setflat(&b, k, bv[k]);
    cj_array_setflat(&fa, k, av[k]); cj_array_setflat(&fb, k, bv[k]);
    cj_array_setflat(&ga, k, av[k] / 4); cj_array_setflat(&gb, k, bv[k] / 4);
  }
  cr_assert_eq(cj_array_binop(CJ_IDIV, &o, &a, &b), CJ_OK, "%s", cj_errmsg());
  for (int k = 0; k < 10; k++)
    cr_assert_eq(cj_array_getflat(&o, k), want[k], "%g // %g = %g, want %g", av[k], bv[k],
                 cj_array_getflat(&o, k), want[k]);
  cr_assert_eq(cj_array_binop(CJ_IDIV, &fo, &fa, &fb), CJ_OK);
  for (int k = 0; k < 9; k++) cr_assert_eq(cj_array_getflat(&fo, k), floor(av[k] / bv[k]));
  cr_assert(isinf(cj_array_getflat(&fo, 9)) && cj_array_getflat(&fo, 9) > 0);   /* 5.0 // 0.0 */
  cr_assert_eq(cj_array_getflat(&fo, 0), -4);    /* -7.0 // 2.0 */
  cr_assert_eq(cj_array_binop(CJ_IDIV, &go, &ga, &gb), CJ_OK);
  for (int k = 0; k < 9; k++)
    cr_assert_eq(cj_array_getflat(&go, k), floorf((float)(av[k] / 4) / (float)(bv[k] / 4)));
  const double uav[] = { 255, 7, 9 }, ubv[] = { 2, 0, 10 }, uwant[] = { 127, 0, 0 };
  for (int k = 0; k < 3; k++) { cj_array_setflat(&ua, k, uav[k]); cj_array_setflat(&ub, k, ubv[k]); }
  cr_assert_eq(cj_array_binop(CJ_IDIV, &uo, &ua, &ub), CJ_OK);
  for (int k = 0; k < 3; k++) cr_assert_eq(cj_array_getflat(&uo, k), uwant[k]);
  cr_assert_eq(cj_array_binop(CJ_IDIV, &fo, &a, &b), CJ_EINVAL);   /* out must be int32 */
  cj_array_release(&a); cj_array_release(&b); cj_array_release(&o);
  cj_array_release(&fa); cj_array_release(&fb); cj_array_release(&fo);
  cj_array_release(&ga); cj_array_release(&gb); cj_array_release(&go);
  cj_array_release(&ua); cj_array_release(&ub); cj_array_release(&uo);
}

Test(binop, in_place_and_overlapping_output)
{
  int64_t s[1] = { 10 };
  cj_array a = make(CJ_F64, 1, s), ref = make(CJ_F64, 1, s), x, y;
  for (int k = 0; k < 10; k++) cj_array_setflat(&a, k, k);
  cr_assert_eq(cj_array_binop(CJ_MUL, &a, &a, &a), CJ_OK);     /* exactly in place */
  for (int k = 0; k < 10; k++) cr_assert_eq(cj_array_getflat(&a, k), k * k);
  for (int k = 0; k < 10; k++) cj_array_setflat(&a, k, k);
  cj_array_slice(&x, &a, 0, 0, 9, 1);
  cj_array_slice(&y, &a, 0, 1, 9, 1);
  cr_assert_eq(cj_array_binop(CJ_ADD, &y, &x, &x), CJ_OK);     /* a[1..] = 2 a[..8] */
  for (int k = 1; k < 10; k++) cr_assert_eq(cj_array_getflat(&a, k), 2 * (k - 1));
  cj_array_release(&a); cj_array_release(&ref);
}

Test(binop, bad_output_is_refused)
{
  int64_t s[1] = { 3 }, s4[1] = { 4 };
  cj_array a = make(CJ_F64, 1, s), o = make(CJ_F64, 1, s4), oi = make(CJ_I32, 1, s);
  cr_assert_eq(cj_array_binop(CJ_ADD, &o, &a, &a), CJ_EINVAL);
  cr_assert_str_eq(cj_errmsg(), "out has shape 4, expected 3");
  cr_assert_eq(cj_array_binop(CJ_ADD, &oi, &a, &a), CJ_EINVAL);
  cr_assert_str_eq(cj_errmsg(), "out has dtype int32, expected float64");
  cj_array_release(&a); cj_array_release(&o); cj_array_release(&oi);
}

Test(muladd, layouts_broadcast_dtypes_and_in_place)
{
  int64_t sr[1] = { 11 };
  for (int t = 0; t < CJ_NDTYPES; t++)
    for (int la = 0; la < NLAYOUTS; la++) {
      cj_array ba, bc, a = layout(la, (cj_dtype)t, 6, 11, &ba), c = layout((la + 1) % NLAYOUTS, (cj_dtype)t, 6, 11, &bc);
      cj_array row = make((cj_dtype)t, 1, sr), out = make((cj_dtype)t, 2, a.shape), ref = make((cj_dtype)t, 2, a.shape);
      randfill(&a, 0, 100); randfill(&c, 0, 100); randfill(&row, 0, 9);
      cr_assert_eq(cj_array_muladd(&out, &a, &row, &c), CJ_OK, "%s", cj_errmsg());
      cj_array_binop(CJ_MUL, &ref, &a, &row);     /* reference: the two operations */
      cj_array_binop(CJ_ADD, &ref, &ref, &c);
      for (int64_t k = 0; k < 66; k++)
        cr_assert_eq(cj_array_getflat(&out, k), cj_array_getflat(&ref, k), "%s (%s) at %lld",
                     cj_dtype_name(t), layoutname[la], (long long)k);
      cr_assert_eq(cj_array_muladd(&a, &a, &row, &c), CJ_OK);   /* in place */
      for (int64_t k = 0; k < 66; k++) cr_assert_eq(cj_array_getflat(&a, k), cj_array_getflat(&ref, k));
      cj_array_release(&ba); cj_array_release(&bc); cj_array_release(&row);
      cj_array_release(&out); cj_array_release(&ref);
    }
}

/* ---- unary operations ------------------------------------------------------------------------------- */

static double refun(cj_unop op, double x)
{
  switch (op) {
  case CJ_NEG: return -x;
  case CJ_ABS: return fabs(x);
  case CJ_RELU: return x > 0 ? x : 0;
  case CJ_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
  case CJ_FLOOR: return floor(x);
  case CJ_CEIL: return ceil(x);
  case CJ_EXP: return exp(x);
  case CJ_LOG: return log(x);
  case CJ_LOG1P: return log1p(x);
  case CJ_SQRT: return sqrt(x);
  case CJ_SIN: return sin(x);
  case CJ_COS: return cos(x);
  case CJ_TAN: return tan(x);
  case CJ_TANH: return tanh(x);
  case CJ_SIGMOID: return 1 / (1 + exp(-x));
  default: return NAN;
  }
}

Test(unop, every_op_dtype_and_layout)
{
  for (int t = 0; t < CJ_NDTYPES; t++)
    for (int op = 0; op < CJ_NUNOPS; op++)
      for (int la = 0; la < NLAYOUTS; la++) {
        int isint = cj_dtype_isint((cj_dtype)t);
        int positive = op == CJ_LOG || op == CJ_SQRT || op == CJ_LOG1P || t == CJ_U8;
        cj_array ba, a = layout(la, (cj_dtype)t, 5, 8, &ba), out;
        cj_dtype rt = cj_unop_dtype((cj_unop)op, (cj_dtype)t);
        randfill(&a, positive ? 0.01 : (isint ? -50 : -3), isint ? 50 : 3);
        out = make(rt, 2, a.shape);
        cr_assert_eq(cj_array_unop((cj_unop)op, &out, &a), CJ_OK, "%s", cj_errmsg());
        for (int64_t k = 0; k < 40; k++) {
          double x = cj_array_getflat(&a, k), want = refun((cj_unop)op, x);
          if (rt == CJ_U8) want = (uint8_t)(int)want;
          cr_assert(close(cj_array_getflat(&out, k), want, rt == CJ_F32 ? 2e-6 : 1e-15),
                    "%s %s (%s) of %g: %g, want %g", cj_unop_name(op), cj_dtype_name(t),
                    layoutname[la], x, cj_array_getflat(&out, k), want);
        }
        /* in place on the same memory */
        if (rt == (cj_dtype)t) {
          cj_array copy = make((cj_dtype)t, 2, a.shape);
          cj_array_copy(&copy, &a);
          cr_assert_eq(cj_array_unop((cj_unop)op, &a, &a), CJ_OK);
          for (int64_t k = 0; k < 40; k++)
            cr_assert(close(cj_array_getflat(&a, k), cj_array_getflat(&out, k), 0));
          cj_array_release(&copy);
        }
        cj_array_release(&out);
        cj_array_release(&ba);
      }
}

Test(unop, special_values)
{
  int64_t s[1] = { 4 };
  cj_array a = make(CJ_F64, 1, s), o = make(CJ_F64, 1, s);
  const double v[] = { -800, 800, NAN, -0.0 };
  for (int k = 0; k < 4; k++) cj_array_setflat(&a, k, v[k]);
  cj_array_unop(CJ_SIGMOID, &o, &a);
  cr_assert_eq(cj_array_getflat(&o, 0), 0.0);
  cr_assert_eq(cj_array_getflat(&o, 1), 1.0);
  cr_assert(isnan(cj_array_getflat(&o, 2)));
  cj_array_unop(CJ_RELU, &o, &a);
  cr_assert(isnan(cj_array_getflat(&o, 2)));
  cj_array_unop(CJ_SIGN, &o, &a);
  cr_assert(isnan(cj_array_getflat(&o, 2)));
  cr_assert_eq(cj_array_getflat(&o, 0), -1);
  cj_array_release(&a); cj_array_release(&o);
}

Test(clip, floats_ints_and_bad_bounds)
{
  int64_t s[1] = { 50 };
  cj_array a = make(CJ_F64, 1, s), o = make(CJ_F64, 1, s), i = make(CJ_I32, 1, s), oi = make(CJ_I32, 1, s);
  randfill(&a, -10, 10);
  cj_array_copy(&i, &a);
  cr_assert_eq(cj_array_clip(&o, &a, -2.5, 3), CJ_OK);
  cr_assert_eq(cj_array_clip(&oi, &i, -2.5, 3.5), CJ_OK);      /* int bounds -2, 3 */
  for (int k = 0; k < 50; k++) {
    double x = cj_array_getflat(&a, k), xi = cj_array_getflat(&i, k);
    cr_assert_eq(cj_array_getflat(&o, k), fmin(fmax(x, -2.5), 3));
    cr_assert_eq(cj_array_getflat(&oi, k), fmin(fmax(xi, -2), 3));
  }
  cr_assert_eq(cj_array_clip(&o, &a, 3, 2), CJ_EINVAL);
  cr_assert_eq(cj_array_clip(&oi, &i, 0.2, 0.8), CJ_EINVAL);
  cj_array_release(&a); cj_array_release(&o); cj_array_release(&i); cj_array_release(&oi);
}

Test(select, where_with_broadcast_and_promotion)
{
  int64_t sm[2] = { 4, 6 }, sr[1] = { 6 };
  cj_array m = make(CJ_U8, 2, sm), a = make(CJ_I32, 1, sr), b = make(CJ_F32, 2, sm), o = make(CJ_F64, 2, sm);
  randfill(&m, 0, 2); randfill(&a, -5, 5); randfill(&b, -1, 1);
  cr_assert_eq(cj_array_where(&o, &m, &a, &b), CJ_OK, "%s", cj_errmsg());
  for (int64_t k = 0; k < 24; k++)
    cr_assert_eq(cj_array_getflat(&o, k),
                 cj_array_getflat(&m, k) ? cj_array_getflat(&a, k % 6) : (double)(float)cj_array_getflat(&b, k));
  cj_array_release(&m); cj_array_release(&a); cj_array_release(&b); cj_array_release(&o);
}

Test(select, masked_select_and_assign_in_row_major_order)
{
  int64_t s[2] = { 5, 4 }, n;
  cj_array base, a = layout(TRANSPOSED, CJ_F64, 5, 4, &base), m = make(CJ_U8, 2, s), out, src;
  randfill(&a, -1, 1);
  randfill(&m, 0, 2);
  n = cj_array_count(&m);
  out = make(CJ_F64, 1, &n);
  cr_assert_eq(cj_array_masked_select(&out, &a, &m), CJ_OK);
  for (int64_t k = 0, j = 0; k < 20; k++)
    if (cj_array_getflat(&m, k)) cr_assert_eq(cj_array_getflat(&out, j++), cj_array_getflat(&a, k));
  src = make(CJ_I32, 1, &n);
  for (int64_t j = 0; j < n; j++) cj_array_setflat(&src, j, 100 + j);
  cr_assert_eq(cj_array_masked_assign(&a, &m, &src), CJ_OK);
  for (int64_t k = 0, j = 0; k < 20; k++)
    if (cj_array_getflat(&m, k)) cr_assert_eq(cj_array_getflat(&a, k), 100 + j++);
  n++;
  cj_array_release(&src);
  src = make(CJ_I32, 1, &n);
  cr_assert_eq(cj_array_masked_assign(&a, &m, &src), CJ_EINVAL);
  cj_array_release(&base); cj_array_release(&m); cj_array_release(&out); cj_array_release(&src);
}

/* ---- reductions ------------------------------------------------------------------------------------------ */

/* naive reference over n values */
static double refred(cj_reduce op, const double *x, int64_t n, int ddof)
{
  double s = 0, m, best;
  int64_t k = 0;
  switch (op) {
  case CJ_SUM: for (int64_t i = 0; i < n; i++) s += x[i]; return s;
  case CJ_MEAN: for (int64_t i = 0; i < n; i++) s += x[i]; return s / n;
  case CJ_VAR: case CJ_STD:
    m = refred(CJ_MEAN, x, n, 0);
    for (int64_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    s /= (double)(n - ddof);
    return op == CJ_STD ? sqrt(s) : s;
  case CJ_PROD: s = 1; for (int64_t i = 0; i < n; i++) s *= x[i]; return s;
  case CJ_ANY: for (int64_t i = 0; i < n; i++) if (x[i] != 0) return 1; return 0;
  case CJ_ALL: for (int64_t i = 0; i < n; i++) if (x[i] == 0) return 0; return 1;
  default:
    best = x[0];
    for (int64_t i = 1; i < n; i++)
      if ((op == CJ_MAX || op == CJ_ARGMAX) ? x[i] > best : x[i] < best) { best = x[i]; k = i; }
    return (op == CJ_MIN || op == CJ_MAX) ? best : (double)k;
  }
}

Test(reduce, whole_array_every_op_dtype_and_layout)
{
  double x[2000];
  for (int t = 0; t < CJ_NDTYPES; t++)
    for (int op = 0; op < CJ_NREDUCE; op++)
      for (int la = 0; la < NLAYOUTS; la++) {
        cj_array ba, a = layout(la, (cj_dtype)t, 37, 41, &ba);
        double got, want;
        int64_t n = 37 * 41;
        if (op == CJ_PROD) randfill(&a, 0.99, 1.01);
        else randfill(&a, cj_dtype_isint((cj_dtype)t) ? (t == CJ_U8 ? 0 : -100) : -1, cj_dtype_isint((cj_dtype)t) ? 100 : 1);
        if (op == CJ_PROD && cj_dtype_isint((cj_dtype)t)) cj_array_fill(&a, 1);
        for (int64_t k = 0; k < n; k++) x[k] = cj_array_getflat(&a, k);
        if (op == CJ_ALL) x[n / 2] = 0, cj_array_setflat(&a, n / 2, 0);
        cr_assert_eq(cj_array_reduce((cj_reduce)op, &a, 1, &got), CJ_OK, "%s", cj_errmsg());
        want = refred((cj_reduce)op, x, n, 1);
        cr_assert(close(got, want, 1e-12), "%s %s (%s): %.17g, want %.17g", cj_reduce_name(op),
                  cj_dtype_name(t), layoutname[la], got, want);
        cj_array_release(&ba);
      }
}

Test(reduce, along_each_axis_every_op_and_layout)
{
  double line[64];
  for (int op = 0; op < CJ_NREDUCE; op++)
    for (int la = 0; la < NLAYOUTS; la++)
      for (int axis = 0; axis < 2; axis++)
        for (int t = 0; t < CJ_NDTYPES; t += 2) {          /* float64 and int32 */
          cj_array ba, a = layout(la, (cj_dtype)t, 9, 13, &ba), out;
          int64_t n = a.shape[axis], m = a.shape[1 - axis];
          randfill(&a, t == CJ_I32 ? -5 : -1, t == CJ_I32 ? 5 : 1);
          out = make(cj_reduce_dtype((cj_reduce)op, (cj_dtype)t), 1, &m);
          cr_assert_eq(cj_array_reduce_axis((cj_reduce)op, &out, &a, axis, 0), CJ_OK, "%s", cj_errmsg());
          for (int64_t j = 0; j < m; j++) {
            for (int64_t i = 0; i < n; i++) {
              int64_t idx[2];
              idx[axis] = i; idx[1 - axis] = j;
              line[i] = cj_array_get(&a, idx);
            }
            double want = refred((cj_reduce)op, line, n, 0), got = cj_array_getflat(&out, j);
            cr_assert(close(got, want, 1e-13), "%s axis %d (%s, %s) at %lld: %g, want %g",
                      cj_reduce_name(op), axis, layoutname[la], cj_dtype_name(t), (long long)j, got, want);
          }
          cj_array_release(&out);
          cj_array_release(&ba);
        }
}

Test(reduce, pairwise_sum_is_accurate)
{
  int64_t n = 1000003;
  cj_array a = make(CJ_F64, 1, &n);
  double got;
  cj_array_fill(&a, 0.1);
  cj_array_reduce(CJ_SUM, &a, 0, &got);
  /* naive summation drifts by ~1e-6 here; pairwise stays within a few ulps of n * 0.1 */
  cr_assert(fabs(got - 100000.3) < 1e-8, "sum %.17g", got);
  cj_array_reduce(CJ_VAR, &a, 0, &got);
  cr_assert(fabs(got) < 1e-25);
  cj_array_release(&a);
}

Test(reduce, nan_empty_and_ddof)
{
  int64_t n = 5, zero = 0;
  cj_array a = make(CJ_F64, 1, &n), e = make(CJ_F64, 1, &zero);
  double r;
  for (int k = 0; k < 5; k++) cj_array_setflat(&a, k, k);
  cj_array_setflat(&a, 3, NAN);
  cj_array_reduce(CJ_MAX, &a, 0, &r); cr_assert(isnan(r));
  cj_array_reduce(CJ_ARGMIN, &a, 0, &r); cr_assert_eq(r, 3);
  cj_array_reduce(CJ_ANY, &a, 0, &r); cr_assert_eq(r, 1);
  cr_assert_eq(cj_array_reduce(CJ_MIN, &e, 0, &r), CJ_EINVAL);
  cr_assert_str_eq(cj_errmsg(), "min of an empty array");
  cj_array_reduce(CJ_SUM, &e, 0, &r); cr_assert_eq(r, 0);
  cj_array_reduce(CJ_PROD, &e, 0, &r); cr_assert_eq(r, 1);
  cj_array_reduce(CJ_MEAN, &e, 0, &r); cr_assert(isnan(r));
  cj_array_reduce(CJ_ALL, &e, 0, &r); cr_assert_eq(r, 1);
  cj_array_reduce(CJ_VAR, &a, 5, &r); cr_assert(isnan(r));
  cj_array_release(&a); cj_array_release(&e);
}

Test(reduce, cumsum_flat_and_along_axes)
{
  cj_array ba, a = layout(TRANSPOSED, CJ_I32, 4, 5, &ba), out;
  int64_t n = 20;
  double acc = 0;
  randfill(&a, -9, 9);
  out = make(CJ_F64, 1, &n);
  cr_assert_eq(cj_array_cumsum(&out, &a, -1), CJ_OK);
  for (int64_t k = 0; k < 20; k++) {
    acc += cj_array_getflat(&a, k);
    cr_assert_eq(cj_array_getflat(&out, k), acc);
  }
  cj_array_release(&out);
  out = make(CJ_F64, 2, a.shape);
  for (int axis = 0; axis < 2; axis++) {
    cr_assert_eq(cj_array_cumsum(&out, &a, axis), CJ_OK);
    for (int64_t i = 0; i < 4; i++)
      for (int64_t j = 0; j < 5; j++) {
        double s = 0;
        int64_t idx[2], lim = axis == 0 ? i : j;
        for (int64_t k = 0; k <= lim; k++) {
          idx[0] = axis == 0 ? k : i; idx[1] = axis == 0 ? j : k;
          s += cj_array_get(&a, idx);
        }
        idx[0] = i; idx[1] = j;
        cr_assert_eq(cj_array_get(&out, idx), s);
      }
  }
  cj_array_release(&out); cj_array_release(&ba);
}

/* ---- matrix products ---------------------------------------------------------------------------------------- */

static void checkmatmul(const cj_array *a, const cj_array *b, cj_array *out, double tol, const char *what)
{
  int64_t m = a->ndim == 2 ? a->shape[0] : 1, k = a->shape[a->ndim - 1];
  int64_t n = b->ndim == 2 ? b->shape[1] : 1;
  cr_assert_eq(cj_array_matmul(out, a, b), CJ_OK, "%s: %s", what, cj_errmsg());
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0, got;
      for (int64_t l = 0; l < k; l++) {
        int64_t ia[2] = { i, l }, ib[2] = { l, j };
        s += cj_array_get(a, a->ndim == 2 ? ia : ia + 1) * cj_array_get(b, ib);
      }
      {
        int64_t io[2] = { i, j };
        const int64_t *p = out->ndim == 2 ? io : (a->ndim == 2 ? io : io + 1);
        got = cj_array_get(out, p);
      }
      if (out->dtype == CJ_I32) s = (double)(int32_t)(uint32_t)(int64_t)s;
      cr_assert(close(got, s, tol), "%s (%lld,%lld): %.17g, want %.17g", what, (long long)i, (long long)j, got, s);
    }
}

Test(matmul, float_layouts_against_triple_loop)
{
  const int64_t m = 13, k = 17, n = 11;
  for (int t = 0; t < 2; t++)
    for (int la = 0; la < NLAYOUTS; la++)
      for (int lb = 0; lb < NLAYOUTS; lb++)
        for (int lo = 0; lo < NLAYOUTS; lo++) {
          cj_array ba, bb, bo;
          cj_array a = layout(la, (cj_dtype)t, m, k, &ba), b = layout(lb, (cj_dtype)t, k, n, &bb);
          cj_array o = layout(lo, (cj_dtype)t, m, n, &bo);
          char what[96];
          randfill(&a, -1, 1);
          randfill(&b, -1, 1);
          snprintf(what, sizeof what, "%s: A %s, B %s, out %s", cj_dtype_name(t), layoutname[la],
                   layoutname[lb], layoutname[lo]);
          checkmatmul(&a, &b, &o, t == CJ_F32 ? 1e-5 : 1e-13, what);
          cj_array_release(&ba); cj_array_release(&bb); cj_array_release(&bo);
        }
}

/* The raw BLAS entry points of the primitive modules, against plain loops,
 * with leading dimensions larger than the rows and both transpositions. */
Test(matmul, raw_blas_against_loops)
{
  enum { M = 7, N = 5, K = 6, LD = 9 };
  double a[K * LD], b[K * LD], c[M * LD], x[K * 2], y[M * 2];
  unsigned seed = 3;
  for (int i = 0; i < K * LD; i++) {
    seed = seed * 1103515245u + 12345u; a[i] = (seed >> 8) / 16777216.0 - 0.5;
    seed = seed * 1103515245u + 12345u; b[i] = (seed >> 8) / 16777216.0 - 0.5;
  }
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      /* op(A) is M x K: stored M x K (ta 0) or K x M (ta 1), rows LD apart;
       * only the first K rows of a exist, so keep M, K <= K rows when transposed */
      int m = ta ? K : M < K ? M : K, k = K, n = N;
      for (int i = 0; i < m * LD; i++) c[i] = 0.25 * i;
      cr_assert_eq(cj_dgemm(ta, tb, m, n, k, 1.5, a, LD, b, LD, 0.5, c, LD), CJ_OK, "%s", cj_errmsg());
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
          double s = 0;
          for (int l = 0; l < k; l++)
            s += (ta ? a[l * LD + i] : a[i * LD + l]) * (tb ? b[j * LD + l] : b[l * LD + j]);
          s = 1.5 * s + 0.5 * (0.25 * (i * LD + j));
          cr_assert(close(c[i * LD + j], s, 1e-13), "gemm ta=%d tb=%d (%d,%d): %g vs %g", ta, tb, i, j, c[i * LD + j], s);
        }
    }
  for (int i = 0; i < K * 2; i++) x[i] = 0.1 * i - 0.3;
  for (int i = 0; i < M * 2; i++) y[i] = 1;
  cr_assert_eq(cj_dgemv(0, K, N, 2.0, a, LD, x, 2, -1.0, y, 2), CJ_OK, "%s", cj_errmsg());
  for (int i = 0; i < K; i++) {
    double s = 0;
    for (int j = 0; j < N; j++) s += a[i * LD + j] * x[2 * j];
    cr_assert(close(y[2 * i], 2 * s - 1, 1e-13), "gemv row %d", i);
  }
  memcpy(c, a, sizeof(double) * K * LD);
  cr_assert_eq(cj_dger(K, N, -0.5, x, 1, y, 2, c, LD), CJ_OK, "%s", cj_errmsg());
  for (int i = 0; i < K; i++)
    for (int j = 0; j < N; j++)
      cr_assert(close(c[i * LD + j], a[i * LD + j] - 0.5 * x[i] * y[2 * j], 1e-14), "ger (%d,%d)", i, j);
  cr_assert_eq(cj_dsyrk(0, K, N, 1.0, a, LD, 0.0, c, LD), CJ_OK, "%s", cj_errmsg());
  for (int i = 0; i < K; i++)
    for (int j = 0; j < K; j++) {
      double s = 0;
      for (int l = 0; l < N; l++) s += a[i * LD + l] * a[j * LD + l];
      cr_assert(close(c[i * LD + j], s, 1e-13), "syrk (%d,%d): %g vs %g", i, j, c[i * LD + j], s);
    }
  cr_assert_eq(cj_dgemm(0, 0, 2, 2, 0, 1.0, a, LD, b, LD, 0.0, c, LD), CJ_OK);
  cr_assert(c[0] == 0 && c[1] == 0 && c[LD] == 0 && c[LD + 1] == 0, "k = 0 gives zeros");
}

Test(matmul, vectors_integers_and_mixed)
{
  int64_t sa[2] = { 6, 4 }, sv[1] = { 4 }, sw[1] = { 6 };
  cj_array a = make(CJ_I32, 2, sa), v = make(CJ_U8, 1, sv), w = make(CJ_F64, 1, sw);
  cj_array o1 = make(CJ_I32, 1, sw), o2 = make(CJ_F64, 1, sv), af, o0;
  randfill(&a, -1000, 1000); randfill(&v, 0, 255); randfill(&w, -1, 1);
  checkmatmul(&a, &v, &o1, 0, "int32 matrix x uint8 vector");
  checkmatmul(&w, &a, &o2, 1e-13, "float64 vector x int32 matrix");
  af = make(CJ_F64, 1, sv);
  randfill(&af, -1, 1);
  o0 = make(CJ_F64, 0, NULL);
  cr_assert_eq(cj_array_matmul(&o0, &af, &af), CJ_OK);
  double d, want = 0;
  for (int i = 0; i < 4; i++) want += cj_array_getflat(&af, i) * cj_array_getflat(&af, i);
  cr_assert(close(cj_array_getflat(&o0, 0), want, 1e-14));
  cr_assert_eq(cj_array_dot(&af, &af, &d), CJ_OK);
  cr_assert(close(d, want, 1e-14));
  cj_array_release(&a); cj_array_release(&v); cj_array_release(&w); cj_array_release(&o1);
  cj_array_release(&o2); cj_array_release(&af); cj_array_release(&o0);
}

Test(matmul, output_overlapping_an_input)
{
  int64_t s[2] = { 8, 8 };
  cj_array a = make(CJ_F64, 2, s), b = make(CJ_F64, 2, s), a0 = make(CJ_F64, 2, s), o = make(CJ_F64, 2, s);
  randfill(&a, -1, 1); randfill(&b, -1, 1);
  cj_array_copy(&a0, &a);
  cj_array_matmul(&o, &a0, &b);
  cr_assert_eq(cj_array_matmul(&a, &a, &b), CJ_OK);   /* a = a b */
  for (int64_t k = 0; k < 64; k++) cr_assert(close(cj_array_getflat(&a, k), cj_array_getflat(&o, k), 1e-14));
  cj_array_release(&a); cj_array_release(&b); cj_array_release(&a0); cj_array_release(&o);
}

Test(matmul, shapes_are_checked_and_empty_inner_gives_zeros)
{
  int64_t s1[2] = { 3, 4 }, s2[2] = { 5, 2 }, s3[2] = { 3, 0 }, s4[2] = { 0, 2 }, so[2] = { 3, 2 };
  cj_array a = make(CJ_F64, 2, s1), b = make(CJ_F64, 2, s2), e1 = make(CJ_F64, 2, s3), e2 = make(CJ_F64, 2, s4);
  cj_array o = make(CJ_F64, 2, so);
  cr_assert_eq(cj_array_matmul(&o, &a, &b), CJ_EINVAL);
  cr_assert_str_eq(cj_errmsg(), "inner dimensions differ: 3x4 and 5x2");
  cj_array_fill(&o, 5);
  cr_assert_eq(cj_array_matmul(&o, &e1, &e2), CJ_OK);
  for (int k = 0; k < 6; k++) cr_assert_eq(cj_array_getflat(&o, k), 0);
  cj_array_release(&a); cj_array_release(&b); cj_array_release(&e1); cj_array_release(&e2); cj_array_release(&o);
}

/* ---- the driver ----------------------------------------------------------------------------------------------- */

static void countlines(int64_t n, char *const *p, const int64_t *s, void *ctx)
{
  (void)p; (void)s;
  ((int64_t *)ctx)[0]++;
  ((int64_t *)ctx)[1] += n;
}

Test(apply, merges_contiguous_dimensions)
{
  int64_t s[4] = { 2, 3, 1, 5 }, c[2] = { 0, 0 };
  cj_array a = make(CJ_F64, 4, s), t;
  const cj_array *ops[1] = { &a };
  cr_assert_eq(cj_array_apply(1, ops, countlines, c), CJ_OK);
  cr_assert_eq(c[0], 1);                          /* one line of 30 */
  cr_assert_eq(c[1], 30);
  cj_array_transpose(&t, &a, 0, 3);
  ops[0] = &t; c[0] = c[1] = 0;
  cj_array_apply(1, ops, countlines, c);
  cr_assert_eq(c[1], 30);
  cr_assert_gt(c[0], 1);
  cj_array_release(&a);
}
