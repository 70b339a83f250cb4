/*
 * array.c — the cj_array descriptor: dtypes, shapes, element access, views
 * (select, slice, transpose, reshape, broadcast), the loop driver that every
 * whole-array operation runs through, and copies with dtype conversion.
 * Elementwise math and reductions are in arrmath.c, matrix products in
 * linalg.c. Nothing here allocates except cj_array_alloc and the temporary
 * of an overlapping copy.
 */
#include "array.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* -O2 in GCC 12 leaves loop vectorisation to -O3; the loops below want it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

static const struct { const char *name; size_t size; } dtypes[CJ_NDTYPES] = {
  { "float64", sizeof(double) },
  { "float32", sizeof(float) },
  { "int32", sizeof(int32_t) },
  { "uint8", sizeof(uint8_t) },
};

size_t cj_dtype_size(cj_dtype t)
{
  return (unsigned)t < CJ_NDTYPES ? dtypes[t].size : 0;
}

const char *cj_dtype_name(cj_dtype t)
{
  return (unsigned)t < CJ_NDTYPES ? dtypes[t].name : "?";
}

int cj_dtype_parse(const char *name, cj_dtype *out)
{
  static const struct { const char *name; cj_dtype t; } alias[] = {
    { "double", CJ_F64 }, { "float", CJ_F32 }, { "int", CJ_I32 }, { "byte", CJ_U8 },
  };
  for (int i = 0; i < CJ_NDTYPES; i++)
    if (strcmp(name, dtypes[i].name) == 0) { *out = (cj_dtype)i; return CJ_OK; }
  for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
    if (strcmp(name, alias[i].name) == 0) { *out = alias[i].t; return CJ_OK; }
  return cj_fail(CJ_EINVAL, "unknown dtype '%s' (expected float64, float32, int32 or uint8)", name);
}

int cj_dtype_isint(cj_dtype t)
{
  return t == CJ_I32 || t == CJ_U8;
}

cj_dtype cj_dtype_promote(cj_dtype a, cj_dtype b)
{
  if (a == b) return a;
  if (a == CJ_F64 || b == CJ_F64) return CJ_F64;
  if (a == CJ_F32 || b == CJ_F32)
    return (a == CJ_I32 || b == CJ_I32) ? CJ_F64 : CJ_F32;
  return CJ_I32;                               /* int32 with uint8 */
}

/* ---- shapes ---------------------------------------------------------------- */

int cj_shape_numel(int ndim, const int64_t *shape, int64_t *n)
{
  int64_t k = 1;
  if (ndim < 0 || ndim > CJ_MAXDIM)
    return cj_fail(CJ_EINVAL, "%d dimensions (at most %d)", ndim, CJ_MAXDIM);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return cj_fail(CJ_EINVAL, "negative size %lld in dimension %d", (long long)shape[i], i + 1);
    if (shape[i] && k > INT64_MAX / 64 / shape[i])
      return cj_fail(CJ_EINVAL, "array too large");
    k *= shape[i];
  }
  *n = k;
  return CJ_OK;
}

const char *cj_shape_format(int ndim, const int64_t *shape, char *buf, size_t n)
{
  size_t used = 0;
  if (ndim == 0) { snprintf(buf, n, "scalar"); return buf; }
  buf[0] = '\0';
  for (int i = 0; i < ndim && used < n; i++) {
    int w = snprintf(buf + used, n - used, i ? "x%lld" : "%lld", (long long)shape[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

int64_t cj_array_numel(const cj_array *a)
{
  int64_t k = 1;
  for (int i = 0; i < a->ndim; i++) k *= a->shape[i];
  return k;
}

/* Row-major contiguous; an empty array is, whatever its strides (it has no
 * element to be out of place). */
int cj_array_iscontig(const cj_array *a)
{
  int64_t k = 1;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] == 0) return 1;
  for (int i = a->ndim - 1; i >= 0; i--) {
    if (a->shape[i] != 1 && a->strides[i] != k) return 0;
    k *= a->shape[i];
  }
  return 1;
}

int cj_array_sameshape(const cj_array *a, const cj_array *b)
{
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

int cj_array_wrap(cj_array *a, void *data, cj_dtype t, int ndim, const int64_t *shape)
{
  int64_t n, k = 1;
  int st;
  if ((unsigned)t >= CJ_NDTYPES) return cj_fail(CJ_EINVAL, "bad dtype %d", (int)t);
  if ((st = cj_shape_numel(ndim, shape, &n))) return st;
  a->data = data;
  a->dtype = t;
  a->ndim = ndim;
  for (int i = ndim - 1; i >= 0; i--) {
    a->shape[i] = shape[i];
    a->strides[i] = k;
    k *= shape[i] ? shape[i] : 1;
  }
  return CJ_OK;
}

int cj_array_alloc(cj_array *a, cj_dtype t, int ndim, const int64_t *shape)
{
  int64_t n;
  int st;
  a->data = NULL;
  if ((st = cj_array_wrap(a, NULL, t, ndim, shape))) return st;
  n = cj_array_numel(a);
  if ((uint64_t)n > SIZE_MAX / cj_dtype_size(t)) return cj_fail(CJ_ENOMEM, "array too large");
  a->data = cj_calloc((size_t)(n ? n : 1), cj_dtype_size(t));
  if (!a->data) return cj_fail(CJ_ENOMEM, "out of memory (%lld elements)", (long long)n);
  cj_array_advise(a->data, (size_t)n * cj_dtype_size(t));
  return CJ_OK;
}

#define HUGE_MIN (4u << 20)       /* below this, huge pages are not worth asking for */

void cj_array_advise(void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t page = 4096;
  uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + n) & ~(page - 1);
  if (n >= HUGE_MIN && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)p; (void)n;
#endif
}

void cj_array_release(cj_array *a)
{
  cj_free(a->data);
  a->data = NULL;
}

/* ---- elements ---------------------------------------------------------------- */

/* Conversions from double, saturating for integer targets (see array.h). */
static inline int32_t toi32(double v)
{
  if (v != v) return 0;
  if (v >= 2147483647.0) return INT32_MAX;
  if (v <= -2147483648.0) return INT32_MIN;
  return (int32_t)v;
}

static inline uint8_t tou8(double v)
{
  if (!(v > 0)) return 0;                      /* negative or NaN */
  if (v >= 255.0) return 255;
  return (uint8_t)v;
}

void *cj_array_ptr(const cj_array *a, const int64_t *idx)
{
  int64_t off = 0;
  for (int i = 0; i < a->ndim; i++) off += idx[i] * a->strides[i];
  return (char *)a->data + off * (int64_t)cj_dtype_size(a->dtype);
}

double cj_dtype_load(cj_dtype t, const void *p)
{
  switch (t) {
  case CJ_F64: return *(const double *)p;
  case CJ_F32: return *(const float *)p;
  case CJ_I32: return *(const int32_t *)p;
  case CJ_U8: return *(const uint8_t *)p;
  default: return 0;
  }
}

void cj_dtype_store(cj_dtype t, void *p, double v)
{
  switch (t) {
  case CJ_F64: *(double *)p = v; break;
  case CJ_F32: *(float *)p = (float)v; break;
  case CJ_I32: *(int32_t *)p = toi32(v); break;
  case CJ_U8: *(uint8_t *)p = tou8(v); break;
  default: break;
  }
}

double cj_array_get(const cj_array *a, const int64_t *idx)
{
  return cj_dtype_load(a->dtype, cj_array_ptr(a, idx));
}

void cj_array_set(cj_array *a, const int64_t *idx, double v)
{
  cj_dtype_store(a->dtype, cj_array_ptr(a, idx), v);
}

/* Index vector of flat row-major position k. */
static void unflatten(const cj_array *a, int64_t k, int64_t *idx)
{
  for (int i = a->ndim - 1; i >= 0; i--) {
    int64_t n = a->shape[i] ? a->shape[i] : 1;
    idx[i] = k % n;
    k /= n;
  }
}

double cj_array_getflat(const cj_array *a, int64_t k)
{
  int64_t idx[CJ_MAXDIM];
  unflatten(a, k, idx);
  return cj_array_get(a, idx);
}

void cj_array_setflat(cj_array *a, int64_t k, double v)
{
  int64_t idx[CJ_MAXDIM];
  unflatten(a, k, idx);
  cj_array_set(a, idx, v);
}

/* Byte range [lo, hi) touched by a (empty arrays touch nothing). */
static void span(const cj_array *a, uintptr_t *lo, uintptr_t *hi)
{
  int64_t mn = 0, mx = 0, es = (int64_t)cj_dtype_size(a->dtype);
  if (cj_array_numel(a) == 0) { *lo = *hi = (uintptr_t)a->data; return; }
  for (int i = 0; i < a->ndim; i++) {
    int64_t d = (a->shape[i] - 1) * a->strides[i];
    if (d < 0) mn += d; else mx += d;
  }
  *lo = (uintptr_t)((char *)a->data + mn * es);
  *hi = (uintptr_t)((char *)a->data + (mx + 1) * es);
}

int cj_array_overlap(const cj_array *a, const cj_array *b)
{
  uintptr_t alo, ahi, blo, bhi;
  span(a, &alo, &ahi);
  span(b, &blo, &bhi);
  return alo < bhi && blo < ahi;
}

/* ---- views ---------------------------------------------------------------------- */

static int checkdim(const cj_array *a, int dim)
{
  if (dim < 0 || dim >= a->ndim)
    return cj_fail(CJ_ERANGE, "dimension %d out of range 1..%d", dim + 1, a->ndim);
  return CJ_OK;
}

int cj_array_select(cj_array *v, const cj_array *a, int dim, int64_t i)
{
  cj_array r;
  int st;
  if ((st = checkdim(a, dim))) return st;
  if (i < 0 || i >= a->shape[dim])
    return cj_fail(CJ_ERANGE, "index %lld out of range 1..%lld", (long long)i + 1,
                   (long long)a->shape[dim]);
  r = *a;
  r.data = (char *)a->data + i * a->strides[dim] * (int64_t)cj_dtype_size(a->dtype);
  for (int k = dim; k < a->ndim - 1; k++) {
    r.shape[k] = a->shape[k + 1];
    r.strides[k] = a->strides[k + 1];
  }
  r.ndim = a->ndim - 1;
  *v = r;
  return CJ_OK;
}

int cj_array_slice(cj_array *v, const cj_array *a, int dim, int64_t start, int64_t count, int64_t step)
{
  cj_array r;
  int st;
  if ((st = checkdim(a, dim))) return st;
  if (step == 0) return cj_fail(CJ_EINVAL, "slice step is 0");
  if (count < 0) return cj_fail(CJ_EINVAL, "negative slice length");
  r = *a;
  if (count > 0) {
    int64_t last = start + (count - 1) * step, n = a->shape[dim];
    if (start < 0 || start >= n || last < 0 || last >= n)
      return cj_fail(CJ_ERANGE, "slice %lld..%lld out of range 1..%lld",
                     (long long)start + 1, (long long)last + 1, (long long)n);
    r.data = (char *)a->data + start * a->strides[dim] * (int64_t)cj_dtype_size(a->dtype);
  }
  r.shape[dim] = count;
  r.strides[dim] = a->strides[dim] * step;
  *v = r;
  return CJ_OK;
}

int cj_array_transpose(cj_array *v, const cj_array *a, int d1, int d2)
{
  cj_array r;
  int64_t t;
  int st;
  if ((st = checkdim(a, d1)) || (st = checkdim(a, d2))) return st;
  r = *a;
  t = r.shape[d1]; r.shape[d1] = r.shape[d2]; r.shape[d2] = t;
  t = r.strides[d1]; r.strides[d1] = r.strides[d2]; r.strides[d2] = t;
  *v = r;
  return CJ_OK;
}

int cj_array_reshape(cj_array *v, const cj_array *a, int ndim, const int64_t *shape)
{
  int64_t n;
  int st;
  char b1[64], b2[64];
  if ((st = cj_shape_numel(ndim, shape, &n))) return st;
  if (n != cj_array_numel(a))
    return cj_fail(CJ_EINVAL, "sizes do not match: %s has %lld elements, %s has %lld",
                   cj_shape_format(a->ndim, a->shape, b1, sizeof b1), (long long)cj_array_numel(a),
                   cj_shape_format(ndim, shape, b2, sizeof b2), (long long)n);
  if (!cj_array_iscontig(a)) return cj_fail(CJ_EINVAL, "array is not contiguous");
  return cj_array_wrap(v, a->data, a->dtype, ndim, shape);
}

int cj_broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                       int *nout, int64_t *out)
{
  int n = na > nb ? na : nb;
  char b1[64], b2[64];
  for (int i = 0; i < n; i++) {            /* i counts from the last dimension */
    int64_t x = i < na ? sa[na - 1 - i] : 1, y = i < nb ? sb[nb - 1 - i] : 1;
    if (x != y && x != 1 && y != 1)
      return cj_fail(CJ_EINVAL, "shapes %s and %s do not broadcast",
                     cj_shape_format(na, sa, b1, sizeof b1), cj_shape_format(nb, sb, b2, sizeof b2));
    out[n - 1 - i] = x == 1 ? y : x;
  }
  *nout = n;
  return CJ_OK;
}

int cj_array_broadcast(cj_array *v, const cj_array *a, int ndim, const int64_t *shape)
{
  cj_array r = *a;
  int off = ndim - a->ndim;
  char b1[64], b2[64];
  if (off < 0) goto bad;
  for (int i = ndim - 1; i >= 0; i--) {
    int j = i - off;
    if (j >= 0 && a->shape[j] == shape[i]) {
      r.strides[i] = a->strides[j];
    } else if (j < 0 || a->shape[j] == 1) {
      r.strides[i] = 0;
    } else {
      goto bad;
    }
    r.shape[i] = shape[i];
  }
  r.ndim = ndim;
  *v = r;
  return CJ_OK;
bad:
  return cj_fail(CJ_EINVAL, "shape %s does not broadcast to %s",
                 cj_shape_format(a->ndim, a->shape, b1, sizeof b1),
                 cj_shape_format(ndim, shape, b2, sizeof b2));
}

/* ---- the loop driver ------------------------------------------------------------ */

typedef struct {
  int ndim;
  int64_t shape[CJ_MAXDIM];
  int64_t strides[CJ_MAXOPS][CJ_MAXDIM];
} layout;

/* Drop dimensions of size 1 and merge neighbours that are laid out
 * contiguously for every operand. Returns 0 when there is nothing to do. */
static int collapse(layout *l, int nop, const cj_array *const *ops)
{
  const cj_array *a = ops[0];
  l->ndim = 0;
  for (int i = 0; i < a->ndim; i++) {
    int d = l->ndim, merge = d > 0;
    if (a->shape[i] == 0) return 0;
    if (a->shape[i] == 1) continue;
    for (int k = 0; k < nop && merge; k++)
      merge = ops[k]->strides[i] * a->shape[i] == l->strides[k][d - 1];
    if (merge) {
      l->shape[d - 1] *= a->shape[i];
      for (int k = 0; k < nop; k++) l->strides[k][d - 1] = ops[k]->strides[i];
      continue;
    }
    l->shape[d] = a->shape[i];
    for (int k = 0; k < nop; k++) l->strides[k][d] = ops[k]->strides[i];
    l->ndim++;
  }
  if (l->ndim == 0) {                          /* a single element */
    l->ndim = 1;
    l->shape[0] = 1;
    for (int k = 0; k < nop; k++) l->strides[k][0] = 0;
  }
  return 1;
}

int cj_array_apply(int nop, const cj_array *const *ops, cj_kernel k, void *ctx)
{
  layout l;
  char *p[CJ_MAXOPS];
  int64_t es[CJ_MAXOPS], inner[CJ_MAXOPS], idx[CJ_MAXDIM] = { 0 };
  int last;
  if (nop < 1 || nop > CJ_MAXOPS) return cj_fail(CJ_EINVAL, "bad operand count %d", nop);
  for (int i = 1; i < nop; i++)
    if (!cj_array_sameshape(ops[0], ops[i])) return cj_fail(CJ_EINVAL, "operand shapes differ");
  if (!collapse(&l, nop, ops)) return CJ_OK;
  last = l.ndim - 1;
  for (int i = 0; i < nop; i++) {
    p[i] = ops[i]->data;
    es[i] = (int64_t)cj_dtype_size(ops[i]->dtype);
    inner[i] = l.strides[i][last];
  }
  for (;;) {
    int d;
    k(l.shape[last], p, inner, ctx);
    for (d = last - 1; d >= 0; d--) {          /* odometer over the outer dims */
      for (int i = 0; i < nop; i++) p[i] += l.strides[i][d] * es[i];
      if (++idx[d] < l.shape[d]) break;
      for (int i = 0; i < nop; i++) p[i] -= l.strides[i][d] * l.shape[d] * es[i];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return CJ_OK;
}

/* ---- copies with conversion -------------------------------------------------------- */

#define CONV_F64(x) ((double)(x))
#define CONV_F32(x) ((float)(x))
#define CONV_I32(x) toi32((double)(x))
#define CONV_U8(x) tou8((double)(x))
#define CONV_ID(x) (x)

/* one kernel per (source, target) pair: p[0] target, p[1] source */
#define CASTK(NAME, TO, TI, CONV)                                          \
  static void NAME(int64_t n, char *const *p, const int64_t *s, void *ctx) \
  {                                                                        \
    TO *o = (TO *)p[0];                                                    \
    const TI *a = (const TI *)p[1];                                        \
    int64_t so = s[0], sa = s[1];                                          \
    (void)ctx;                                                             \
    if (so == 1 && sa == 1) {                                              \
      IVDEP for (int64_t i = 0; i < n; i++) o[i] = CONV(a[i]);             \
    } else if (sa == 0) {                                                  \
      TO v = CONV(a[0]);                                                   \
      for (int64_t i = 0; i < n; i++) o[i * so] = v;                       \
    } else {                                                               \
      for (int64_t i = 0; i < n; i++) o[i * so] = CONV(a[i * sa]);         \
    }                                                                      \
  }

CASTK(f64_f64, double, double, CONV_ID)
CASTK(f64_f32, double, float, CONV_F64)
CASTK(f64_i32, double, int32_t, CONV_F64)
CASTK(f64_u8, double, uint8_t, CONV_F64)
CASTK(f32_f64, float, double, CONV_F32)
CASTK(f32_f32, float, float, CONV_ID)
CASTK(f32_i32, float, int32_t, CONV_F32)
CASTK(f32_u8, float, uint8_t, CONV_F32)
CASTK(i32_f64, int32_t, double, CONV_I32)
CASTK(i32_f32, int32_t, float, CONV_I32)
CASTK(i32_i32, int32_t, int32_t, CONV_ID)
CASTK(i32_u8, int32_t, uint8_t, (int32_t))
CASTK(u8_f64, uint8_t, double, CONV_U8)
CASTK(u8_f32, uint8_t, float, CONV_U8)
CASTK(u8_i32, uint8_t, int32_t, CONV_U8)
CASTK(u8_u8, uint8_t, uint8_t, CONV_ID)

static const cj_kernel castk[CJ_NDTYPES][CJ_NDTYPES] = {   /* [to][from] */
  { f64_f64, f64_f32, f64_i32, f64_u8 },
  { f32_f64, f32_f32, f32_i32, f32_u8 },
  { i32_f64, i32_f32, i32_i32, i32_u8 },
  { u8_f64, u8_f32, u8_i32, u8_u8 },
};

/* Same elements at the same places: an elementwise pass may then read and
 * write in place. */
int cj_array_samelayout(const cj_array *a, const cj_array *b)
{
  if (a->data != b->data || a->dtype != b->dtype || !cj_array_sameshape(a, b)) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] > 1 && a->strides[i] != b->strides[i]) return 0;
  return 1;
}

int cj_array_copy(cj_array *dst, const cj_array *src)
{
  cj_array b, tmp;
  const cj_array *ops[2];
  int st;
  if ((st = cj_array_broadcast(&b, src, dst->ndim, dst->shape))) return st;
  tmp.data = NULL;
  if (cj_array_overlap(dst, &b) && !cj_array_samelayout(dst, &b)) {
    /* read all of src first: copy it to contiguous scratch */
    if ((st = cj_array_alloc(&tmp, src->dtype, src->ndim, src->shape))) return st;
    ops[0] = &tmp; ops[1] = src;
    cj_array_apply(2, ops, castk[src->dtype][src->dtype], NULL);
    if ((st = cj_array_broadcast(&b, &tmp, dst->ndim, dst->shape))) goto done;
  }
  ops[0] = dst; ops[1] = &b;
  st = cj_array_apply(2, ops, castk[dst->dtype][b.dtype], NULL);
done:
  if (tmp.data) cj_array_release(&tmp);
  return st;
}

void cj_array_fill(cj_array *dst, double v)
{
  cj_array s;
  int64_t none[1] = { 0 };
  cj_array_wrap(&s, &v, CJ_F64, 0, none);
  cj_array_copy(dst, &s);                      /* a 0-d source cannot fail */
}
