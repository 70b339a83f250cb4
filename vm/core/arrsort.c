/*
 * arrsort.c — sorting, searching and distinct values (see arrsort.h).
 *
 * Lines along an axis are gathered into one contiguous float64 buffer (a
 * transposed view copied by cj_array_copy, which handles every stride and
 * dtype), sorted there, and copied back. The sort is a bottom-up merge sort
 * over runs made by insertion sort: stable, O(n log n) in the worst case.
 * 64-bit keys (the spike words of info.c) go through an LSD radix sort.
 */
#include "arrsort.h"

#include <math.h>
#include <string.h>

#define RUN 32

/* Insertion sort of k[lo..hi) carrying ix (may be NULL); stable. */
static void insertion(double *k, int64_t *ix, int64_t lo, int64_t hi)
{
  for (int64_t i = lo + 1; i < hi; i++) {
    double v = k[i];
    int64_t vi = ix ? ix[i] : 0, j = i;
    for (; j > lo && k[j - 1] > v; j--) {
      k[j] = k[j - 1];
      if (ix) ix[j] = ix[j - 1];
    }
    k[j] = v;
    if (ix) ix[j] = vi;
  }
}

/* Merge the sorted runs s[lo..mid) and s[mid..hi) into d (same positions). */
static void merge(const double *sk, const int64_t *si, double *dk, int64_t *di,
                  int64_t lo, int64_t mid, int64_t hi)
{
  int64_t i = lo, j = mid, o = lo;
  while (i < mid && j < hi) {
    int64_t from = sk[j] < sk[i] ? j++ : i++;
    dk[o] = sk[from];
    if (di) di[o] = si[from];
    o++;
  }
  for (; i < mid; i++, o++) { dk[o] = sk[i]; if (di) di[o] = si[i]; }
  for (; j < hi; j++, o++) { dk[o] = sk[j]; if (di) di[o] = si[j]; }
}

/* Stable sort of k[0..n) (no NaN) carrying ix (may be NULL), with scratch
 * tk, ti of n entries. */
static void msort(double *k, int64_t *ix, double *tk, int64_t *ti, int64_t n)
{
  double *sk = k, *dk = tk;
  int64_t *si = ix, *di = ix ? ti : NULL;
  for (int64_t lo = 0; lo < n; lo += RUN) insertion(k, ix, lo, lo + RUN < n ? lo + RUN : n);
  for (int64_t w = RUN; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      merge(sk, si, dk, di, lo, mid, hi);
    }
    { double *t = sk; sk = dk; dk = t; }
    if (ix) { int64_t *t = si; si = di; di = t; }
  }
  if (sk != k) {
    memcpy(k, sk, sizeof(double) * (size_t)n);
    if (ix) memcpy(ix, si, sizeof(int64_t) * (size_t)n);
  }
}

/* Move NaNs to the end stably (carrying ix); returns the count of numbers. */
static int64_t nanlast(double *k, int64_t *ix, double *tk, int64_t *ti, int64_t n)
{
  int64_t m = 0, q = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(k[i])) {
      tk[q] = k[i];
      if (ix) ti[q] = ix[i];
      q++;
    } else {
      k[m] = k[i];
      if (ix) ix[m] = ix[i];
      m++;
    }
  }
  memcpy(k + m, tk, sizeof(double) * (size_t)q);
  if (ix) memcpy(ix + m, ti, sizeof(int64_t) * (size_t)q);
  return m;
}

/* Sort one line with scratch (tk, ti); ix may be NULL. */
static void sortline(double *k, int64_t *ix, double *tk, int64_t *ti, int64_t n)
{
  msort(k, ix, tk, ti, nanlast(k, ix, tk, ti, n));
}

int cj_sort_f64(double *x, int64_t n)
{
  double *t;
  if (n < 2) return CJ_OK;
  if (!(t = cj_malloc(sizeof(double) * (size_t)n))) return cj_fail(CJ_ENOMEM, "sort: out of memory");
  sortline(x, NULL, t, NULL, n);
  cj_free(t);
  return CJ_OK;
}

int cj_argsort_f64(const double *x, int64_t n, int64_t *perm)
{
  double *k = cj_malloc(sizeof(double) * (size_t)(2 * n + 1));
  int64_t *t = cj_malloc(sizeof(int64_t) * (size_t)(n + 1));
  if (!k || !t) {
    cj_free(k);
    cj_free(t);
    return cj_fail(CJ_ENOMEM, "argsort: out of memory");
  }
  memcpy(k, x, sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  sortline(k, perm, k + n, t, n);
  cj_free(k);
  cj_free(t);
  return CJ_OK;
}

int cj_sort_u64(uint64_t *k, int64_t n)
{
  enum { BITS = 11, NB = 1 << BITS };
  uint64_t *t, *s, *d;
  int64_t *cnt;
  if (n < 2) return CJ_OK;
  t = cj_malloc(sizeof(uint64_t) * (size_t)n);
  cnt = cj_malloc(sizeof(int64_t) * NB);
  if (!t || !cnt) {
    cj_free(t);
    cj_free(cnt);
    return cj_fail(CJ_ENOMEM, "sort: out of memory");
  }
  s = k;
  d = t;
  for (int shift = 0; shift < 64; shift += BITS) {
    int64_t sum = 0;
    memset(cnt, 0, sizeof(int64_t) * NB);
    for (int64_t i = 0; i < n; i++) cnt[(s[i] >> shift) & (NB - 1)]++;
    if (cnt[(s[0] >> shift) & (NB - 1)] == n) continue;   /* one digit: nothing to do */
    for (int b = 0; b < NB; b++) { int64_t c = cnt[b]; cnt[b] = sum; sum += c; }
    for (int64_t i = 0; i < n; i++) d[cnt[(s[i] >> shift) & (NB - 1)]++] = s[i];
    { uint64_t *x = s; s = d; d = x; }
  }
  if (s != k) memcpy(k, s, sizeof(uint64_t) * (size_t)n);
  cj_free(t);
  cj_free(cnt);
  return CJ_OK;
}

int64_t cj_search_f64(const double *a, int64_t n, double x, int right)
{
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    /* NaN is the largest value: a[mid] < x when x is NaN and a[mid] is not */
    int before = right ? !(x < a[mid]) && !(isnan(a[mid]) && !isnan(x))
                       : (a[mid] < x || (isnan(x) && !isnan(a[mid])));
    if (before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* ---- arrays ---------------------------------------------------------------------- */

/* v = a with dimension axis moved to the end (by a swap); *len its size. */
static int axislast(cj_array *v, const cj_array *a, int axis, const char *fn)
{
  if (axis < 0 || axis >= a->ndim)
    return cj_fail(CJ_EINVAL, "%s: axis %d out of range for %d dimensions", fn, axis + 1, a->ndim);
  return cj_array_transpose(v, a, axis, a->ndim - 1);
}

/* buf (contiguous float64 of v's shape, allocated) = v. */
static int gather(cj_array *buf, const cj_array *v, const char *fn)
{
  int st;
  if ((st = cj_array_alloc(buf, CJ_F64, v->ndim, v->shape)))
    return cj_fail(st, "%s: out of memory", fn);
  if ((st = cj_array_copy(buf, v))) cj_array_release(buf);
  return st;
}

static int sortaxis(cj_array *out, const cj_array *a, int axis, int arg)
{
  const char *fn = arg ? "argsort" : "sort";
  cj_array va, vo, buf;
  int64_t n = cj_array_numel(a), len;
  double *tk = NULL;
  int64_t *ix = NULL, *ti = NULL;
  int st;
  if (!cj_array_sameshape(out, a)) return cj_fail(CJ_EINVAL, "%s: out has the wrong shape", fn);
  if (a->ndim == 0) { cj_array_fill(out, 0); if (!arg) cj_array_copy(out, a); return CJ_OK; }
  if ((st = axislast(&va, a, axis, fn)) || (st = axislast(&vo, out, axis, fn))) return st;
  if (n == 0) return CJ_OK;
  if ((st = gather(&buf, &va, fn))) return st;
  len = va.shape[va.ndim - 1];
  tk = cj_malloc(sizeof(double) * (size_t)len);
  if (arg) {
    ix = cj_malloc(sizeof(int64_t) * (size_t)len);
    ti = cj_malloc(sizeof(int64_t) * (size_t)len);
  }
  if (!tk || (arg && (!ix || !ti))) {
    st = cj_fail(CJ_ENOMEM, "%s: out of memory", fn);
  } else {
    double *d = buf.data;
    for (int64_t off = 0; off < n; off += len) {
      if (arg) for (int64_t i = 0; i < len; i++) ix[i] = i;
      sortline(d + off, ix, tk, ti, len);
      if (arg) for (int64_t i = 0; i < len; i++) d[off + i] = (double)ix[i];
    }
    st = cj_array_copy(&vo, &buf);
  }
  cj_free(tk);
  cj_free(ix);
  cj_free(ti);
  cj_array_release(&buf);
  return st;
}

int cj_array_sort(cj_array *out, const cj_array *a, int axis)
{
  return sortaxis(out, a, axis, 0);
}

int cj_array_argsort(cj_array *out, const cj_array *a, int axis)
{
  return sortaxis(out, a, axis, 1);
}

int cj_array_searchsorted(cj_array *out, const cj_array *a, const cj_array *v, int right)
{
  cj_array sa, sv;
  int64_t n, m;
  int st;
  if (a->ndim != 1) return cj_fail(CJ_EINVAL, "searchsorted: a must be 1-D (got %d dimensions)", a->ndim);
  if (!cj_array_sameshape(out, v)) return cj_fail(CJ_EINVAL, "searchsorted: out has the wrong shape");
  n = a->shape[0];
  m = cj_array_numel(v);
  if ((st = gather(&sa, a, "searchsorted"))) return st;
  if ((st = gather(&sv, v, "searchsorted"))) { cj_array_release(&sa); return st; }
  for (int64_t i = 0; i < m; i++) {
    double *x = (double *)sv.data + i;
    *x = (double)cj_search_f64(sa.data, n, *x, right);
  }
  st = cj_array_copy(out, &sv);
  cj_array_release(&sa);
  cj_array_release(&sv);
  return st;
}

int cj_array_unique(const cj_array *a, double *values, int64_t *counts, int64_t *inverse,
                    int64_t *nuniq)
{
  cj_array buf;
  int64_t n = cj_array_numel(a), *perm = NULL, u = 0;
  const double *x;
  int st;
  *nuniq = 0;
  if (n == 0) return CJ_OK;
  if ((st = gather(&buf, a, "unique"))) return st;
  x = buf.data;
  if (!(perm = cj_malloc(sizeof(int64_t) * (size_t)n))) {
    cj_array_release(&buf);
    return cj_fail(CJ_ENOMEM, "unique: out of memory");
  }
  if ((st = cj_argsort_f64(x, n, perm))) goto done;
  for (int64_t i = 0; i < n; i++) {
    double v = x[perm[i]];
    int same = u > 0 && (v == values[u - 1] || (isnan(v) && isnan(values[u - 1])));
    if (!same) { values[u] = v; counts[u] = 0; u++; }
    counts[u - 1]++;
    if (inverse) inverse[perm[i]] = u - 1;
  }
  *nuniq = u;
done:
  cj_free(perm);
  cj_array_release(&buf);
  return st;
}
