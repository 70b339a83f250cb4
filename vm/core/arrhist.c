/*
 * arrhist.c — bincount and histograms (see arrhist.h). Every pass runs
 * through cj_array_apply, so strided and broadcast inputs cost nothing
 * extra; elements are loaded as doubles.
 */
#include "arrhist.h"

#include <math.h>

#include "arrsort.h"

int cj_bins_uniform(double *edges, int64_t n, double lo, double hi)
{
  if (n < 1) return cj_fail(CJ_EINVAL, "number of bins must be positive (got %lld)", (long long)n);
  if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
    return cj_fail(CJ_EINVAL, "range must be finite with lo < hi (got %g, %g)", lo, hi);
  for (int64_t k = 0; k < n; k++) edges[k] = lo + (hi - lo) * ((double)k / (double)n);
  edges[n] = hi;
  return CJ_OK;
}

int cj_bins_check(const double *edges, int64_t n)
{
  if (n < 1) return cj_fail(CJ_EINVAL, "at least two edges expected (got %lld)", (long long)(n + 1));
  for (int64_t k = 0; k <= n; k++) {
    if (!isfinite(edges[k])) return cj_fail(CJ_EINVAL, "edge %lld is not finite", (long long)k + 1);
    if (k && !(edges[k] > edges[k - 1]))
      return cj_fail(CJ_EINVAL, "edges must increase (edge %lld is %g after %g)", (long long)k + 1,
                     edges[k], edges[k - 1]);
  }
  return CJ_OK;
}

int64_t cj_bins_find(const cj_bins *b, double x)
{
  const double *e = b->edges;
  int64_t n = b->n, k;
  if (!(x >= e[0] && x <= e[n])) return -1;    /* outside, or NaN */
  if (x == e[n]) return n - 1;
  if (b->uniform) {
    k = (int64_t)((x - e[0]) / (e[n] - e[0]) * (double)n);
    if (k < 0) k = 0;
    if (k > n - 1) k = n - 1;
    while (k > 0 && x < e[k]) k--;             /* rounding: at most one step */
    while (k < n - 1 && x >= e[k + 1]) k++;
    return k;
  }
  return cj_search_f64(e, n + 1, x, 1) - 1;
}

typedef struct {
  cj_dtype tx, ty, tw;
  int hasw;
  const cj_bins *bx, *by;
  double *counts;
  int64_t lo, len;
  int st;
} hctx;

static void k_hist(int64_t n, char *const *p, const int64_t *s, void *vc)
{
  hctx *c = vc;
  size_t ex = cj_dtype_size(c->tx), ew = cj_dtype_size(c->tw);
  for (int64_t i = 0; i < n; i++) {
    int64_t k = cj_bins_find(c->bx, cj_dtype_load(c->tx, p[0] + i * s[0] * (int64_t)ex));
    if (k >= 0) c->counts[k] += c->hasw ? cj_dtype_load(c->tw, p[1] + i * s[1] * (int64_t)ew) : 1.0;
  }
}

static void k_hist2(int64_t n, char *const *p, const int64_t *s, void *vc)
{
  hctx *c = vc;
  size_t ex = cj_dtype_size(c->tx), ey = cj_dtype_size(c->ty), ew = cj_dtype_size(c->tw);
  for (int64_t i = 0; i < n; i++) {
    int64_t kx = cj_bins_find(c->bx, cj_dtype_load(c->tx, p[0] + i * s[0] * (int64_t)ex));
    int64_t ky = kx < 0 ? -1 : cj_bins_find(c->by, cj_dtype_load(c->ty, p[1] + i * s[1] * (int64_t)ey));
    if (ky >= 0)
      c->counts[kx * c->by->n + ky] += c->hasw ? cj_dtype_load(c->tw, p[2] + i * s[2] * (int64_t)ew) : 1.0;
  }
}

static int checkw(const cj_array *x, const cj_array *w, const char *fn)
{
  if (w && !cj_array_sameshape(x, w)) return cj_fail(CJ_EINVAL, "%s: weights must have the shape of the data", fn);
  return CJ_OK;
}

int cj_histogram(const cj_array *x, const cj_array *w, const cj_bins *b, double *counts)
{
  hctx c = { x->dtype, x->dtype, w ? w->dtype : CJ_F64, w != NULL, b, NULL, counts, 0, 0, CJ_OK };
  const cj_array *ops[2] = { x, w };
  int st;
  if ((st = checkw(x, w, "histogram"))) return st;
  return cj_array_apply(w ? 2 : 1, ops, k_hist, &c);
}

int cj_histogram2d(const cj_array *x, const cj_array *y, const cj_array *w,
                   const cj_bins *bx, const cj_bins *by, double *counts)
{
  hctx c = { x->dtype, y->dtype, w ? w->dtype : CJ_F64, w != NULL, bx, by, counts, 0, 0, CJ_OK };
  const cj_array *ops[3] = { x, y, w };
  int st;
  if (!cj_array_sameshape(x, y)) return cj_fail(CJ_EINVAL, "histogram2d: x and y must have one shape");
  if ((st = checkw(x, w, "histogram2d"))) return st;
  return cj_array_apply(w ? 3 : 2, ops, k_hist2, &c);
}

static void k_bincount(int64_t n, char *const *p, const int64_t *s, void *vc)
{
  hctx *c = vc;
  size_t ex = cj_dtype_size(c->tx), ew = cj_dtype_size(c->tw);
  for (int64_t i = 0; i < n && !c->st; i++) {
    double v = cj_dtype_load(c->tx, p[0] + i * s[0] * (int64_t)ex);
    if (v != floor(v) || isnan(v))
      c->st = cj_fail(CJ_EINVAL, "bincount: values must be integers (got %g)", v);
    else if (v < (double)c->lo || v >= (double)c->lo + (double)c->len)
      c->st = cj_fail(CJ_ERANGE, "bincount: value %.0f outside %lld..%lld", v, (long long)c->lo,
                      (long long)(c->lo + c->len - 1));
    else
      c->counts[(int64_t)v - c->lo] += c->hasw ? cj_dtype_load(c->tw, p[1] + i * s[1] * (int64_t)ew) : 1.0;
  }
}

int cj_bincount(const cj_array *x, const cj_array *w, int64_t lo, int64_t len, double *counts)
{
  hctx c = { x->dtype, x->dtype, w ? w->dtype : CJ_F64, w != NULL, NULL, NULL, counts, lo, len, CJ_OK };
  const cj_array *ops[2] = { x, w };
  int st;
  if ((st = checkw(x, w, "bincount"))) return st;
  if ((st = cj_array_apply(w ? 2 : 1, ops, k_bincount, &c))) return st;
  return c.st;
}

typedef struct { double lo, hi; int found; } rctx;

static void k_range(int64_t n, char *const *p, const int64_t *s, void *vc)
{
  rctx *c = ((void **)vc)[0];
  cj_dtype t = *(cj_dtype *)((void **)vc)[1];
  size_t e = cj_dtype_size(t);
  for (int64_t i = 0; i < n; i++) {
    double v = cj_dtype_load(t, p[0] + i * s[0] * (int64_t)e);
    if (!isfinite(v)) continue;
    if (!c->found || v < c->lo) c->lo = v;
    if (!c->found || v > c->hi) c->hi = v;
    c->found = 1;
  }
}

int cj_finite_range(const cj_array *x, double *lo, double *hi, int *found)
{
  rctx r = { 0, 0, 0 };
  cj_dtype t = x->dtype;
  void *ctx[2] = { &r, &t };
  const cj_array *ops[1] = { x };
  int st = cj_array_apply(1, ops, k_range, ctx);
  *lo = r.lo;
  *hi = r.hi;
  *found = r.found;
  return st;
}
