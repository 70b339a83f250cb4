/*
 * learn.c — learning rules on arrays (see learn.h for the contracts).
 *
 * Layout: shared pieces (schedules, orders, top-k selection, finiteness),
 * the Hebbian family, Foldiak's network, k-WTA, competitive learning and
 * maps, sparse coding and dictionaries, whitening and images, projections.
 *
 * Rules applied sample by sample are plain loops in a fixed order (dot
 * products with four partial sums); elementary functions come from rng.h
 * (cj_rng_exp/log), so those results are the same bits on every IEEE-754
 * machine. Anything batched goes through the BLAS entry points of array.h.
 */
#include "learn.h"
#include "array.h"
#include "fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define nomem() cj_fail(CJ_ENOMEM, "out of memory")

/* ---- shared pieces -------------------------------------------------------- */

double cj_sched_at(const cj_sched *s, int64_t t, int64_t T)
{
  double u = T > 1 ? (double)t / (double)(T - 1) : 0;
  switch (s->kind) {
  case CJ_SCHED_EXP: return s->start * cj_rng_exp(u * cj_rng_log(s->end / s->start));
  case CJ_SCHED_LINEAR: return s->start + (s->end - s->start) * u;
  case CJ_SCHED_INV: return s->start / (1 + u * (s->start / s->end - 1));
  default: return s->start;
  }
}

static int checksched(const cj_sched *s, const char *fn, const char *what)
{
  if (!isfinite(s->start) || !isfinite(s->end))
    return cj_fail(CJ_EINVAL, "%s: %s must be finite", fn, what);
  if ((s->kind == CJ_SCHED_EXP || s->kind == CJ_SCHED_INV) &&
      (s->start <= 0 || s->end <= 0))
    return cj_fail(CJ_EINVAL, "%s: an exponential or 1/t schedule of %s needs positive start and end",
                   fn, what);
  return CJ_OK;
}

static int checkloop(const cj_learn_loop *o)
{
  int st;
  if (o->epochs < 1) return cj_fail(CJ_EINVAL, "%s: epochs must be >= 1", o->name);
  if (o->batch < 1) return cj_fail(CJ_EINVAL, "%s: batch must be >= 1", o->name);
  if (o->shuffle && !o->rng) return cj_fail(CJ_EINVAL, "%s: shuffling needs a generator", o->name);
  if ((st = checksched(&o->eta, o->name, "eta"))) return st;
  return CJ_OK;
}

/* Sum of a[i] b[i] with four partial sums (a fixed order: same bits everywhere). */
static double dot(const double *a, const double *b, int64_t d)
{
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < d; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static double sqdist(const double *a, const double *b, int64_t d)
{
  double s0 = 0, s1 = 0;
  int64_t i = 0;
  for (; i + 2 <= d; i += 2) {
    double e0 = a[i] - b[i], e1 = a[i + 1] - b[i + 1];
    s0 += e0 * e0;
    s1 += e1 * e1;
  }
  for (; i < d; i++) s0 += (a[i] - b[i]) * (a[i] - b[i]);
  return s0 + s1;
}

static int allfinite(const double *a, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(a[i])) return 0;
  return 1;
}

/* The order of one epoch: 0..n-1, or a Fisher-Yates permutation of it. */
static void order(int64_t *ord, int64_t n, int shuffle, cj_rng *rng)
{
  for (int64_t i = 0; i < n; i++) ord[i] = i;
  if (!shuffle) return;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)cj_rng_below(rng, (uint64_t)i + 1), t = ord[i];
    ord[i] = ord[j];
    ord[j] = t;
  }
}

/* Failure of a sample loop whose values stopped being finite after the
 * update of sample s (0-based position in epoch e, 0-based). */
static int diverged(const char *name, int64_t s, int64_t e, int64_t row, double eta)
{
  return cj_fail(CJ_ERUNTIME, "%s: the weights stopped being finite at sample %lld (row %lld) "
                 "of epoch %lld (rate %g): the rule diverges, use a smaller eta",
                 name, (long long)s + 1, (long long)row + 1, (long long)e + 1, eta);
}

/* ---- top-k selection ---------------------------------------------------------
 * The k largest of v[0..m-1]: their indices in sel[0..k-1] (any order).
 * Quickselect on an index array (idx, m entries of scratch) ordered by value,
 * then lower index; when equal values straddle the boundary and rng is
 * given, the places of that value are drawn uniformly among all its holders. */
static int before(const double *v, int64_t a, int64_t b)
{
  return v[a] > v[b] || (v[a] == v[b] && a < b);
}

static void swapi(int64_t *x, int64_t a, int64_t b)
{
  int64_t t = x[a];
  x[a] = x[b];
  x[b] = t;
}

/* Partition idx[lo..hi] so that the first k - lo places hold the best. */
static void qselect(const double *v, int64_t *idx, int64_t lo, int64_t hi, int64_t k)
{
  while (hi > lo) {
    int64_t mid = lo + (hi - lo) / 2, i, store;
    /* median of three as pivot, moved to hi */
    if (before(v, idx[mid], idx[lo])) swapi(idx, mid, lo);
    if (before(v, idx[hi], idx[lo])) swapi(idx, hi, lo);
    if (before(v, idx[mid], idx[hi])) swapi(idx, mid, hi);
    store = lo;
    for (i = lo; i < hi; i++)
      if (before(v, idx[i], idx[hi])) swapi(idx, i, store++);
    swapi(idx, store, hi);
    if (store == k) return;
    if (store < k) lo = store + 1;
    else hi = store - 1;
  }
}

static void topk(const double *v, int64_t m, int64_t k, cj_rng *rng, int64_t *idx)
{
  int64_t nsel = 0, nall = 0, j;
  double b;
  for (int64_t i = 0; i < m; i++) idx[i] = i;
  if (k <= 0 || k >= m) return;
  qselect(v, idx, 0, m - 1, k);
  if (!rng) return;
  b = v[idx[k - 1]];                          /* the smallest selected value? find it */
  for (j = 0; j < k; j++) if (v[idx[j]] < b) b = v[idx[j]];
  for (j = 0; j < k; j++) nsel += v[idx[j]] == b;
  for (j = k; j < m; j++) nall += v[idx[j]] == b;
  if (!nall) return;
  /* gather the holders of b at the end of the selected part and beyond */
  {
    int64_t p = k;                            /* holders: idx[k - nsel .. k + nall - 1] */
    for (j = k - 1, p = k - 1; j >= 0; j--)
      if (v[idx[j]] == b) swapi(idx, j, p--);
    for (j = k, p = k; j < m; j++)
      if (v[idx[j]] == b) swapi(idx, j, p++);
    nall += nsel;
    /* a uniform choice of nsel among the nall holders: partial Fisher-Yates */
    for (j = 0; j < nsel; j++) {
      int64_t r = (int64_t)cj_rng_below(rng, (uint64_t)(nall - j));
      swapi(idx, k - nsel + j, k - nsel + j + r);
    }
  }
}

/* Index of the smallest of v[0..k-1]; ties drawn uniformly from rng (NULL:
 * the first). Reservoir sampling: draws only when a tie is met. */
static int64_t argmin(const double *v, int64_t k, cj_rng *rng)
{
  int64_t best = 0, ties = 1;
  for (int64_t j = 1; j < k; j++) {
    if (v[j] < v[best]) {
      best = j;
      ties = 1;
    } else if (v[j] == v[best] && rng) {
      ties++;
      if (cj_rng_below(rng, (uint64_t)ties) == 0) best = j;
    }
  }
  return best;
}

/* ---- the Hebbian family ---------------------------------------------------------- */

/* State shared by the per-sample and batched updates. */
typedef struct hebbstate {
  const cj_hebb_opts *o;
  int64_t d, k;
  double *y, *r;          /* k outputs; d scratch (centred x, Sanger's residual) */
  double *xbar, *ybar;    /* covariance means */
} hebbstate;

/* One sample x with rate eta: y = W x, then the rule's update of W. */
static void hebbone(hebbstate *h, double *W, const double *x, double eta)
{
  const cj_hebb_opts *o = h->o;
  int64_t d = h->d, k = h->k;
  double *y = h->y, *r = h->r;
  switch (o->rule) {
  case CJ_RULE_HEBB:
    for (int64_t i = 0; i < k; i++) y[i] = dot(W + i * d, x, d);
    for (int64_t i = 0; i < k; i++) {
      double *w = W + i * d, a = eta * y[i];
      for (int64_t j = 0; j < d; j++) w[j] += a * x[j];
    }
    break;
  case CJ_RULE_COVARIANCE:
    for (int64_t j = 0; j < d; j++) r[j] = x[j] - h->xbar[j];
    for (int64_t i = 0; i < k; i++)
      y[i] = o->tau > 0 ? dot(W + i * d, x, d) - h->ybar[i] : dot(W + i * d, r, d);
    for (int64_t i = 0; i < k; i++) {
      double *w = W + i * d, a = eta * y[i];
      for (int64_t j = 0; j < d; j++) w[j] += a * r[j];
    }
    if (o->tau > 0) {
      for (int64_t i = 0; i < k; i++) h->ybar[i] += y[i] / o->tau;   /* y is y - ybar here */
      for (int64_t j = 0; j < d; j++) h->xbar[j] += r[j] / o->tau;
    }
    break;
  case CJ_RULE_OJA:
    for (int64_t i = 0; i < k; i++) {
      double *w = W + i * d, yi = dot(w, x, d), a = eta * yi, b = o->alpha * yi;
      y[i] = yi;
      for (int64_t j = 0; j < d; j++) w[j] += a * (x[j] - b * w[j]);
    }
    break;
  case CJ_RULE_SANGER:
    for (int64_t i = 0; i < k; i++) y[i] = dot(W + i * d, x, d);
    memcpy(r, x, (size_t)d * sizeof *r);
    for (int64_t i = 0; i < k; i++) {        /* r = x - sum_{j <= i} y_j w_j (old w) */
      double *w = W + i * d, yi = y[i], a = eta * yi;
      for (int64_t j = 0; j < d; j++) {
        r[j] -= yi * w[j];
        w[j] += a * r[j];
      }
    }
    break;
  case CJ_RULE_BCM:
    for (int64_t i = 0; i < k; i++) {
      double *w = W + i * d, yi = dot(w, x, d), a = eta * yi * (yi - o->theta[i]);
      y[i] = yi;
      for (int64_t j = 0; j < d; j++) w[j] += a * x[j];
      o->theta[i] += (yi * yi - o->theta[i]) / o->tau;
    }
    break;
  }
}

/* One batch of b rows (Xb, contiguous b x d) with rate eta, through BLAS.
 * Y (b x k), G (k x d) and C (k x k) are scratch. */
static int hebbbatch(hebbstate *h, double *W, double *Xb, int64_t b, double eta,
                     double *Y, double *G, double *C)
{
  const cj_hebb_opts *o = h->o;
  int64_t d = h->d, k = h->k;
  double s = eta / (double)b;
  int st;
  if (o->rule == CJ_RULE_COVARIANCE && o->tau <= 0)      /* x - <x>: W (x - <x>) = y - <y> */
    for (int64_t q = 0; q < b; q++)
      for (int64_t j = 0; j < d; j++) Xb[q * d + j] -= h->xbar[j];
  if ((st = cj_dgemm(0, 1, b, k, d, 1, Xb, d, W, d, 0, Y, k))) return st;   /* Y = Xb W^T */
  if (o->rule == CJ_RULE_COVARIANCE && o->tau > 0)        /* running means, sample by sample */
    for (int64_t q = 0; q < b; q++) {
      for (int64_t i = 0; i < k; i++) {
        double yc = Y[q * k + i] - h->ybar[i];
        Y[q * k + i] = yc;
        h->ybar[i] += yc / o->tau;
      }
      for (int64_t j = 0; j < d; j++) {
        double xc = Xb[q * d + j] - h->xbar[j];
        Xb[q * d + j] = xc;
        h->xbar[j] += xc / o->tau;
      }
    }
  if (o->rule == CJ_RULE_BCM)
    for (int64_t q = 0; q < b; q++)
      for (int64_t i = 0; i < k; i++) {
        double yi = Y[q * k + i];
        Y[q * k + i] = yi * (yi - o->theta[i]);
        o->theta[i] += (yi * yi - o->theta[i]) / o->tau;
      }
  if (o->rule == CJ_RULE_OJA || o->rule == CJ_RULE_SANGER) {
    if ((st = cj_dgemm(1, 0, k, d, b, 1, Y, k, Xb, d, 0, G, d))) return st;  /* Y^T Xb */
    if ((st = cj_dsyrk(1, k, b, 1, Y, k, 0, C, k))) return st;               /* Y^T Y */
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = (o->rule == CJ_RULE_OJA ? i : 0); j <= i; j++) {
        double c = (o->rule == CJ_RULE_OJA ? o->alpha : 1) * C[i * k + j];
        for (int64_t q = 0; q < d; q++) G[i * d + q] -= c * W[j * d + q];
      }
    for (int64_t q = 0; q < k * d; q++) W[q] += s * G[q];
    return CJ_OK;
  }
  return cj_dgemm(1, 0, k, d, b, s, Y, k, Xb, d, 1, W, d);                 /* W += s Y^T Xb */
}

static int checkhebb(const cj_hebb_opts *o, int64_t k)
{
  int st;
  if ((st = checkloop(&o->loop))) return st;
  if (o->rule == CJ_RULE_OJA && !(isfinite(o->alpha) && o->alpha > 0))
    return cj_fail(CJ_EINVAL, "%s: alpha must be positive", o->loop.name);
  if (o->rule == CJ_RULE_BCM) {
    if (!(o->tau >= 1) || !isfinite(o->tau))
      return cj_fail(CJ_EINVAL, "%s: tau must be >= 1 sample", o->loop.name);
    if (!o->theta || !allfinite(o->theta, k))
      return cj_fail(CJ_EINVAL, "%s: thresholds must be finite", o->loop.name);
  }
  if (o->rule == CJ_RULE_COVARIANCE && o->tau > 0 && (o->tau < 1 || !isfinite(o->tau)))
    return cj_fail(CJ_EINVAL, "%s: tau must be >= 1 sample (or 0: the data means)", o->loop.name);
  if (o->norm != CJ_NORM_NONE && !isfinite(o->norm_target))
    return cj_fail(CJ_EINVAL, "%s: the normalisation target must be finite", o->loop.name);
  if (o->norm == CJ_NORM_MULT && o->norm_p != 1 && o->norm_p != 2)
    return cj_fail(CJ_EINVAL, "%s: the norm must be 1 or 2", o->loop.name);
  return CJ_OK;
}

/* Column means of X into m (d). */
static void colmeans(const double *X, int64_t n, int64_t d, double *m)
{
  memset(m, 0, (size_t)d * sizeof *m);
  for (int64_t s = 0; s < n; s++)
    for (int64_t j = 0; j < d; j++) m[j] += X[s * d + j];
  for (int64_t j = 0; j < d; j++) m[j] /= (double)(n > 0 ? n : 1);
}

int cj_learn_hebbian(const double *X, int64_t n, int64_t d, double *W, int64_t k,
                     const cj_hebb_opts *o)
{
  const cj_learn_loop *L = &o->loop;
  int64_t b = L->batch < n ? L->batch : (n > 0 ? n : 1), T = L->epochs * n;
  int64_t *ord = NULL;
  double *buf = NULL, *Xb, *Y, *G, *C;
  hebbstate h = { o, d, k, NULL, NULL, NULL, NULL };
  int st;
  if ((st = checkhebb(o, k))) return st;
  if (n == 0 || k == 0 || d == 0) return CJ_OK;
  ord = cj_malloc((size_t)n * sizeof *ord);
  /* y k, r d, xbar d, ybar k, then for batches Xb b*d, Y b*k, G k*d, C k*k */
  buf = cj_malloc((size_t)(2 * k + 2 * d + (b > 1 ? b * d + b * k + k * d + k * k : 0)) * sizeof *buf);
  if (!ord || !buf) { st = nomem(); goto done; }
  h.y = buf; h.r = h.y + k; h.xbar = h.r + d; h.ybar = h.xbar + d;
  Xb = h.ybar + k; Y = Xb + b * d; G = Y + b * k; C = G + k * d;
  if (o->rule == CJ_RULE_COVARIANCE) {
    colmeans(X, n, d, h.xbar);
    for (int64_t i = 0; i < k; i++) h.ybar[i] = dot(W + i * d, h.xbar, d);
  }
  for (int64_t e = 0, ps = 0, pe = 0, prow = 0; e < L->epochs; e++) {
    order(ord, n, L->shuffle, L->rng);
    for (int64_t s = 0; s < n; s += b) {
      int64_t nb = n - s < b ? n - s : b;
      double eta = cj_sched_at(&L->eta, e * n + s, T);
      if (b == 1) {
        /* non-finite weights show in the outputs: those of this sample
         * blame the previous update (or the start) */
        hebbone(&h, W, X + ord[s] * d, eta);
        if (!allfinite(h.y, k)) { st = diverged(L->name, ps, pe, prow, eta); goto done; }
      } else {
        for (int64_t q = 0; q < nb; q++) memcpy(Xb + q * d, X + ord[s + q] * d, (size_t)d * sizeof *Xb);
        if ((st = hebbbatch(&h, W, Xb, nb, eta, Y, G, C))) goto done;
      }
      if (o->norm != CJ_NORM_NONE) cj_learn_normalize(W, k, d, o->norm, o->norm_target, o->norm_p);
      ps = s + nb - 1;
      pe = e;
      prow = ord[ps];
      if ((b > 1 || (e == L->epochs - 1 && ps == n - 1)) && !allfinite(W, k * d)) {
        st = diverged(L->name, ps, pe, prow, eta);
        goto done;
      }
    }
  }
done:
  cj_free(ord);
  cj_free(buf);
  return st;
}

int cj_learn_normalize(double *W, int64_t k, int64_t d, cj_norm how, double target, int p)
{
  if (how == CJ_NORM_NONE || d == 0) return CJ_OK;
  if (!isfinite(target)) return cj_fail(CJ_EINVAL, "normalize: target must be finite");
  if (how == CJ_NORM_MULT && p != 1 && p != 2) return cj_fail(CJ_EINVAL, "normalize: the norm must be 1 or 2");
  for (int64_t i = 0; i < k; i++) {
    double *w = W + i * d, s = 0;
    if (how == CJ_NORM_SUB) {
      for (int64_t j = 0; j < d; j++) s += w[j];
      s = (s - target) / (double)d;
      for (int64_t j = 0; j < d; j++) w[j] -= s;
      continue;
    }
    if (p == 1) for (int64_t j = 0; j < d; j++) s += fabs(w[j]);
    else s = sqrt(dot(w, w, d));
    if (s > 0) {
      s = target / s;
      for (int64_t j = 0; j < d; j++) w[j] *= s;
    }
  }
  return CJ_OK;
}

/* ---- Foldiak's network ------------------------------------------------------------ */

static int checkfoldiak(const cj_foldiak_opts *o)
{
  if (!isfinite(o->alpha) || !isfinite(o->beta) || !isfinite(o->gamma) || !isfinite(o->lambda))
    return cj_fail(CJ_EINVAL, "foldiak: alpha, beta, gamma and lambda must be finite");
  if (!(o->p > 0 && o->p < 1)) return cj_fail(CJ_EINVAL, "foldiak: p must be in (0, 1)");
  if (!(o->ds > 0 && o->ds <= 1)) return cj_fail(CJ_EINVAL, "foldiak: the settling step must be in (0, 1]");
  if (o->settle < 1) return cj_fail(CJ_EINVAL, "foldiak: settle must be >= 1");
  if (o->epochs < 1) return cj_fail(CJ_EINVAL, "foldiak: epochs must be >= 1");
  if (o->shuffle && !o->rng) return cj_fail(CJ_EINVAL, "foldiak: shuffling needs a generator");
  return CJ_OK;
}

/* Settle the rates for input x: u = Q x - t once, then Euler steps of
 * dy/ds = f(u + Wl y) - y from y = 0 (synchronous). y (nout) gets 0/1;
 * ys, v are scratch (nout each). */
static void settle(const double *x, int64_t d, int64_t nout, const double *Q, const double *Wl,
                   const double *t, const cj_foldiak_opts *o, double *u, double *ys, double *v,
                   double *y)
{
  for (int64_t i = 0; i < nout; i++) {
    u[i] = dot(Q + i * d, x, d) - t[i];
    ys[i] = 0;
  }
  for (int64_t it = 0; it < o->settle; it++) {
    double moved = 0;
    for (int64_t i = 0; i < nout; i++) {
      double a = u[i] + dot(Wl + i * nout, ys, nout);
      v[i] = 1 / (1 + cj_rng_exp(-o->lambda * a)) - ys[i];
    }
    for (int64_t i = 0; i < nout; i++) {
      ys[i] += o->ds * v[i];
      if (fabs(v[i]) > moved) moved = fabs(v[i]);
    }
    if (moved < 1e-9) break;
  }
  for (int64_t i = 0; i < nout; i++) y[i] = ys[i] > 0.5 ? 1 : 0;
}

static void foldiakupdate(const double *x, int64_t d, int64_t nout, double *Q, double *Wl,
                          double *t, const cj_foldiak_opts *o, const double *y)
{
  double p2 = o->p * o->p;
  for (int64_t i = 0; i < nout; i++) {
    double *l = Wl + i * nout, *q = Q + i * d;
    for (int64_t j = 0; j < nout; j++) {
      if (j == i) continue;
      l[j] -= o->alpha * (y[i] * y[j] - p2);
      if (l[j] > 0) l[j] = 0;                  /* the lateral weights stay inhibitory */
    }
    if (y[i] != 0)
      for (int64_t j = 0; j < d; j++) q[j] += o->beta * (x[j] - q[j]);
    t[i] += o->gamma * (y[i] - o->p);
  }
}

int cj_learn_foldiak(const double *X, int64_t n, int64_t d, int64_t nout, double *Q,
                     double *Wl, double *t, const cj_foldiak_opts *o)
{
  int64_t *ord;
  double *buf;
  int st;
  if ((st = checkfoldiak(o))) return st;
  if (n == 0 || nout == 0) return CJ_OK;
  ord = cj_malloc((size_t)n * sizeof *ord);
  buf = cj_malloc((size_t)(4 * nout) * sizeof *buf);
  if (!ord || !buf) { st = nomem(); goto done; }
  for (int64_t i = 0; i < nout; i++) Wl[i * nout + i] = 0;
  for (int64_t e = 0; e < o->epochs; e++) {
    order(ord, n, o->shuffle, o->rng);
    for (int64_t s = 0; s < n; s++) {
      const double *x = X + ord[s] * d;
      settle(x, d, nout, Q, Wl, t, o, buf, buf + nout, buf + 2 * nout, buf + 3 * nout);
      foldiakupdate(x, d, nout, Q, Wl, t, o, buf + 3 * nout);
      if (!allfinite(t, nout)) { st = diverged("foldiak", s, e, ord[s], o->alpha); goto done; }
    }
  }
  if (!allfinite(Q, nout * d) || !allfinite(Wl, nout * nout))
    st = diverged("foldiak", n - 1, o->epochs - 1, ord[n - 1], o->beta);
done:
  cj_free(ord);
  cj_free(buf);
  return st;
}

int cj_learn_foldiak_respond(const double *X, int64_t n, int64_t d, int64_t nout,
                             const double *Q, const double *Wl, const double *t,
                             const cj_foldiak_opts *o, double *Y)
{
  double *buf;
  int st;
  if ((st = checkfoldiak(o))) return st;
  if (n == 0 || nout == 0) return CJ_OK;
  if (!(buf = cj_malloc((size_t)(3 * nout) * sizeof *buf))) return nomem();
  for (int64_t s = 0; s < n; s++)
    settle(X + s * d, d, nout, Q, Wl, t, o, buf, buf + nout, buf + 2 * nout, Y + s * nout);
  cj_free(buf);
  return CJ_OK;
}

/* ---- k-winners-take-all -------------------------------------------------------------- */

int cj_learn_kwta(const double *A, int64_t n, int64_t m, int64_t k, double boost, double tau,
                  int binary, double *duty, cj_rng *rng, double *Y)
{
  int64_t *idx;
  double *v, target = m > 0 ? (double)k / (double)m : 0;
  if (k < 0 || k > m) return cj_fail(CJ_EINVAL, "kwta: k must be in 0..%lld", (long long)m);
  if (!isfinite(boost) || boost < 0) return cj_fail(CJ_EINVAL, "kwta: boost must be finite and >= 0");
  if (!(tau >= 1) || !isfinite(tau)) return cj_fail(CJ_EINVAL, "kwta: tau must be >= 1 row");
  if (n == 0 || m == 0) return CJ_OK;
  idx = cj_malloc((size_t)m * sizeof *idx);
  v = cj_malloc((size_t)m * sizeof *v);
  if (!idx || !v) {
    cj_free(idx);
    cj_free(v);
    return nomem();
  }
  for (int64_t s = 0; s < n; s++) {
    const double *a = A + s * m;
    double *y = Y + s * m;
    for (int64_t i = 0; i < m; i++)
      v[i] = boost > 0 ? cj_rng_exp(-boost * (duty[i] - target)) * a[i] : a[i];
    topk(v, m, k, rng, idx);
    memset(y, 0, (size_t)m * sizeof *y);
    for (int64_t j = 0; j < k; j++) y[idx[j]] = binary ? 1 : a[idx[j]];
    for (int64_t i = 0; i < m; i++) duty[i] -= duty[i] / tau;   /* duty += (won - duty) / tau */
    for (int64_t j = 0; j < k; j++) duty[idx[j]] += 1 / tau;
  }
  cj_free(idx);
  cj_free(v);
  return CJ_OK;
}

/* ---- competitive learning and maps ------------------------------------------------------ */

/* Squared distances from x to the k rows of W. */
static void dists(const double *x, const double *W, int64_t k, int64_t d, double *dist)
{
  for (int64_t j = 0; j < k; j++) dist[j] = sqdist(x, W + j * d, d);
}

int cj_learn_competitive(const double *X, int64_t n, int64_t d, double *W, int64_t k,
                         const cj_learn_loop *o)
{
  int64_t *ord, T = o->epochs * n;
  double *dist;
  int st;
  if ((st = checkloop(o))) return st;
  if (o->batch != 1) return cj_fail(CJ_EINVAL, "%s: updates are one sample at a time (batch 1)", o->name);
  if (n == 0 || k == 0) return CJ_OK;
  ord = cj_malloc((size_t)n * sizeof *ord);
  dist = cj_malloc((size_t)k * sizeof *dist);
  if (!ord || !dist) { st = nomem(); goto done; }
  for (int64_t e = 0; e < o->epochs; e++) {
    order(ord, n, o->shuffle, o->rng);
    for (int64_t s = 0; s < n; s++) {
      const double *x = X + ord[s] * d;
      double eta = cj_sched_at(&o->eta, e * n + s, T), *w;
      dists(x, W, k, d, dist);
      w = W + argmin(dist, k, o->rng) * d;
      for (int64_t j = 0; j < d; j++) w[j] += eta * (x[j] - w[j]);
      if (!allfinite(w, d)) { st = diverged(o->name, s, e, ord[s], eta); goto done; }
    }
  }
done:
  cj_free(ord);
  cj_free(dist);
  return st;
}

int cj_learn_som(const double *X, int64_t n, int64_t d, double *W, int64_t rows, int64_t cols,
                 const cj_learn_loop *o, const cj_sched *sigma)
{
  int64_t k = rows * cols, *ord, T = o->epochs * n;
  double *dist;
  int st;
  if ((st = checkloop(o)) || (st = checksched(sigma, o->name, "sigma"))) return st;
  if (o->batch != 1) return cj_fail(CJ_EINVAL, "%s: updates are one sample at a time (batch 1)", o->name);
  if (sigma->start <= 0 || sigma->end <= 0) return cj_fail(CJ_EINVAL, "%s: sigma must be positive", o->name);
  if (n == 0 || k == 0) return CJ_OK;
  ord = cj_malloc((size_t)n * sizeof *ord);
  dist = cj_malloc((size_t)(k + rows + cols) * sizeof *dist);
  if (!ord || !dist) { st = nomem(); goto done; }
  for (int64_t e = 0; e < o->epochs; e++) {
    order(ord, n, o->shuffle, o->rng);
    for (int64_t s = 0; s < n; s++) {
      const double *x = X + ord[s] * d;
      double eta = cj_sched_at(&o->eta, e * n + s, T), sg = cj_sched_at(sigma, e * n + s, T);
      double c = -1 / (2 * sg * sg), *hr = dist + k, *hc = hr + rows;
      int64_t b;
      dists(x, W, k, d, dist);
      b = argmin(dist, k, o->rng);
      /* the Gaussian neighbourhood is separable: h = hr[row] hc[col] */
      for (int64_t r = 0; r < rows; r++) hr[r] = cj_rng_exp(c * (double)((r - b / cols) * (r - b / cols)));
      for (int64_t q = 0; q < cols; q++) hc[q] = cj_rng_exp(c * (double)((q - b % cols) * (q - b % cols)));
      for (int64_t u = 0; u < k; u++) {
        double a = eta * (hr[u / cols] * hc[u % cols]), *w = W + u * d;
        if (a == 0) continue;
        for (int64_t j = 0; j < d; j++) w[j] += a * (x[j] - w[j]);
      }
      if (!allfinite(W + b * d, d)) { st = diverged(o->name, s, e, ord[s], eta); goto done; }
    }
  }
done:
  cj_free(ord);
  cj_free(dist);
  return st;
}

int cj_learn_bmu(const double *X, int64_t n, int64_t d, const double *W, int64_t k,
                 int64_t *best, int64_t *second, double *dist)
{
  if (k < 1 || (second && k < 2))
    return cj_fail(CJ_EINVAL, "bmu: needs at least %d units", second ? 2 : 1);
  for (int64_t s = 0; s < n; s++) {
    const double *x = X + s * d;
    int64_t b1 = -1, b2 = -1;
    double d1 = INFINITY, d2 = INFINITY;
    for (int64_t j = 0; j < k; j++) {
      double e = sqdist(x, W + j * d, d);
      if (e < d1 || b1 < 0) { d2 = d1; b2 = b1; d1 = e; b1 = j; }
      else if (e < d2 || b2 < 0) { d2 = e; b2 = j; }
    }
    best[s] = b1;
    if (second) second[s] = b2;
    if (dist) dist[s] = sqrt(d1);
  }
  return CJ_OK;
}

int cj_learn_qerror(const double *X, int64_t n, int64_t d, const double *W, int64_t k,
                    double *err)
{
  double sum = 0;
  if (k < 1) return cj_fail(CJ_EINVAL, "quantization_error: needs at least one unit");
  for (int64_t s = 0; s < n; s++) {
    const double *x = X + s * d;
    double m = INFINITY;
    for (int64_t j = 0; j < k; j++) {
      double e = sqdist(x, W + j * d, d);
      if (e < m) m = e;
    }
    sum += sqrt(m);
  }
  *err = n > 0 ? sum / (double)n : NAN;
  return CJ_OK;
}

int cj_learn_terror(const double *X, int64_t n, int64_t d, const double *W, int64_t rows,
                    int64_t cols, double *err)
{
  int64_t k = rows * cols, bad = 0, *b;
  int st;
  if (k < 2) return cj_fail(CJ_EINVAL, "topographic_error: needs at least 2 units");
  if (n == 0) { *err = NAN; return CJ_OK; }
  if (!(b = cj_malloc((size_t)(2 * n) * sizeof *b))) return nomem();
  if ((st = cj_learn_bmu(X, n, d, W, k, b, b + n, NULL))) { cj_free(b); return st; }
  for (int64_t s = 0; s < n; s++) {
    int64_t dr = b[s] / cols - b[n + s] / cols, dc = b[s] % cols - b[n + s] % cols;
    bad += llabs(dr) + llabs(dc) != 1;
  }
  cj_free(b);
  *err = (double)bad / (double)n;
  return CJ_OK;
}

int cj_learn_umatrix(const double *W, int64_t rows, int64_t cols, int64_t d, double *U)
{
  static const int dr[4] = { -1, 1, 0, 0 }, dc[4] = { 0, 0, -1, 1 };
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      double sum = 0;
      int cnt = 0;
      for (int q = 0; q < 4; q++) {
        int64_t r2 = r + dr[q], c2 = c + dc[q];
        if (r2 < 0 || r2 >= rows || c2 < 0 || c2 >= cols) continue;
        sum += sqrt(sqdist(W + (r * cols + c) * d, W + (r2 * cols + c2) * d, d));
        cnt++;
      }
      U[r * cols + c] = cnt ? sum / cnt : 0;
    }
  return CJ_OK;
}

/* ---- sparse coding ------------------------------------------------------------------------ */

#define SCBLOCK 256   /* rows solved together: the working set stays in cache */

static double shrink(double v, double th, int nonneg)
{
  if (v > th) return v - th;
  if (!nonneg && v < -th) return v + th;
  return 0;
}

/* Largest eigenvalue of the m x m Gram matrix G (scratch: m*m + m). */
static int lipschitz(const double *G, int64_t m, double *scratch, double *L)
{
  int st;
  memcpy(scratch, G, (size_t)(m * m) * sizeof *scratch);
  if ((st = cj_dsyevd(m, scratch, scratch + m * m, 0))) return st;
  *L = scratch[m * m + m - 1];
  return CJ_OK;
}

/* Sum over the nb rows of 1/2 |x|^2 - a.b + 1/2 a.(G a) + lambda |a|_1, with
 * C = A G computed here; xx[q] = 1/2 |x_q|^2. */
static int blockobj(const double *A, const double *B, const double *G, double *C, int64_t nb,
                    int64_t m, const double *xx, double lambda, double *obj)
{
  double s = 0;
  int st;
  if ((st = cj_dgemm(0, 0, nb, m, m, 1, A, m, G, m, 0, C, m))) return st;
  for (int64_t q = 0; q < nb; q++) {
    double r = xx[q];
    for (int64_t j = 0; j < m; j++) {
      double a = A[q * m + j];
      r += a * (0.5 * C[q * m + j] - B[q * m + j]) + lambda * fabs(a);
    }
    s += r;
  }
  *obj = s;
  return CJ_OK;
}

typedef struct scblock {
  const double *G, *B, *xx;
  double *A, *C, *Y;        /* codes; A G or Y G; FISTA's extrapolation or LCA's u */
  int64_t nb, m;
  double L;
} scblock;

/* One iteration of the chosen method over the block; *moved gets the
 * largest change of a code (LCA: of an internal variable), *big the largest
 * magnitude; returns CJ_ERUNTIME-worthy 0/1 in *bad for a non-finite value. */
static int sciter(scblock *b, const cj_sc_opts *o, double *tk, double *moved, double *big, int *bad)
{
  int64_t N = b->nb * b->m;
  double th = o->lambda / b->L, mv = 0, bg = 0;
  int st, nf = 0;
  const double *src = o->method == CJ_SC_FISTA ? b->Y : b->A;
  if ((st = cj_dgemm(0, 0, b->nb, b->m, b->m, 1, src, b->m, b->G, b->m, 0, b->C, b->m))) return st;
  if (o->method == CJ_SC_ISTA) {
    for (int64_t q = 0; q < N; q++) {
      double a = shrink(b->A[q] - (b->C[q] - b->B[q]) / b->L, th, o->nonneg);
      double dd = fabs(a - b->A[q]);
      nf |= !isfinite(a);
      if (dd > mv) mv = dd;
      if (fabs(a) > bg) bg = fabs(a);
      b->A[q] = a;
    }
  } else if (o->method == CJ_SC_FISTA) {
    double t1 = (1 + sqrt(1 + 4 * *tk * *tk)) / 2, mom = (*tk - 1) / t1;
    for (int64_t q = 0; q < N; q++) {
      double a = shrink(b->Y[q] - (b->C[q] - b->B[q]) / b->L, th, o->nonneg);
      double dd = fabs(a - b->A[q]);
      nf |= !isfinite(a);
      if (dd > mv) mv = dd;
      if (fabs(a) > bg) bg = fabs(a);
      b->Y[q] = a + mom * (a - b->A[q]);
      b->A[q] = a;
    }
    *tk = t1;
  } else {
    double eta = o->step > 0 ? o->step : 1 / (b->L > 1 ? b->L : 1);
    for (int64_t q = 0; q < N; q++) {
      double du = eta * (b->B[q] - b->Y[q] - b->C[q] + b->A[q]);
      double u = b->Y[q] + du;
      nf |= !isfinite(u);
      if (fabs(du) > mv) mv = fabs(du);
      if (fabs(u) > bg) bg = fabs(u);
      b->Y[q] = u;
      b->A[q] = shrink(u, o->lambda, o->nonneg);
    }
  }
  *moved = mv;
  *big = bg;
  *bad = nf;
  return CJ_OK;
}

/* One coordinate step on a_j: its exact minimiser given the others, with
 * c = b - G a (the residual correlations) updated at the indices idx (all m
 * when idx is NULL, else the n listed). Returns the change. */
static double cdstep(double *a, double *c, const double *G, int64_t m, int64_t j, double lambda,
                     int nonneg, const int64_t *idx, int64_t n)
{
  double gjj = G[j * m + j], old = a[j], nw = 0, dd;
  const double *gj = G + j * m;
  if (gjj > 0) nw = shrink(c[j] + gjj * old, lambda, nonneg) / gjj;
  if (nw == old) return 0;
  dd = nw - old;
  a[j] = nw;
  if (!idx) for (int64_t i = 0; i < m; i++) c[i] -= dd * gj[i];
  else for (int64_t q = 0; q < n; q++) c[idx[q]] -= dd * gj[idx[q]];
  return dd;
}

/* Coordinate descent for the nb samples of the block, one at a time
 * (glmnet's scheme): a full sweep over all codes with c = b - G a kept
 * current, then sweeps over the nonzero codes alone, updating c only there
 * (O(k^2) for k active codes), until they settle; c is then brought up to
 * date everywhere and a full sweep checks the rest. The objective of a
 * sample is 1/2 |x|^2 - 1/2 a.(b + c) + lambda |a|_1 (as G a = b - c). */
static int cdsolve(scblock *b, cj_sc_opts *o, double lambda, double *trace)
{
  int64_t m = b->m, *act;
  double *c, *delta;
  if (!(c = cj_malloc((size_t)(2 * m) * sizeof *c))) return nomem();
  if (!(act = cj_malloc((size_t)m * sizeof *act))) { cj_free(c); return nomem(); }
  delta = c + m;
  for (int64_t q = 0; q < b->nb; q++) {
    double *a = b->A + q * m, obj = 0;
    const double *bq = b->B + q * m;
    int64_t it = 0, full = 1, na = 0;
    memcpy(c, bq, (size_t)m * sizeof *c);
    for (int64_t j = 0; j < m; j++)           /* warm codes: c = b - G a */
      if (a[j] != 0)
        for (int64_t i = 0; i < m; i++) c[i] -= b->G[j * m + i] * a[j];
    while (it < o->iters) {
      double mv = 0, bg = 0;
      if (full) {
        na = 0;
        for (int64_t j = 0; j < m; j++) {
          double dd = cdstep(a, c, b->G, m, j, lambda, o->nonneg, NULL, 0);
          if (fabs(dd) > mv) mv = fabs(dd);
          if (a[j] != 0) act[na++] = j;
          if (fabs(a[j]) > bg) bg = fabs(a[j]);
        }
        memset(delta, 0, (size_t)m * sizeof *delta);
      } else {
        for (int64_t k = 0; k < na; k++) {
          int64_t j = act[k];
          double dd = cdstep(a, c, b->G, m, j, lambda, o->nonneg, act, na);
          delta[j] += dd;
          if (fabs(dd) > mv) mv = fabs(dd);
          if (fabs(a[j]) > bg) bg = fabs(a[j]);
        }
      }
      it++;
      if (!isfinite(mv) || !isfinite(bg)) {
        cj_free(c);
        cj_free(act);
        return cj_fail(CJ_ERUNTIME, "sparse_code: the codes stopped being finite at sweep %lld", (long long)it);
      }
      if (trace) {                            /* c may be stale off the active set, where a = 0 */
        obj = b->xx[q];
        for (int64_t j = 0; j < m; j++) obj += -0.5 * a[j] * (bq[j] + c[j]) + lambda * fabs(a[j]);
        trace[it - 1] += obj;
      }
      if (mv <= o->tol * (bg > 1 ? bg : 1)) {
        if (full) break;                      /* a full sweep changed nothing: done */
        /* the active set settled: bring c up to date off it, then a full sweep */
        for (int64_t k = 0; k < na; k++) {
          int64_t j = act[k];
          if (delta[j] == 0) continue;
          for (int64_t i = 0; i < m; i++) c[i] -= delta[j] * b->G[j * m + i];
          for (int64_t k2 = 0; k2 < na; k2++) c[act[k2]] += delta[j] * b->G[j * m + act[k2]];
        }
        full = 1;
      } else if (full) full = na == 0;        /* iterate on the active set */
    }
    if (it > o->done) o->done = it;
    for (int64_t j = it; trace && j < o->iters; j++) trace[j] += obj;
  }
  cj_free(c);
  cj_free(act);
  return CJ_OK;
}

/* Solve one block; adds its objective after each iteration to trace. */
static int scsolve(scblock *b, cj_sc_opts *o, double lambda, double *trace)
{
  double tk = 1, moved, big, obj = 0;
  int64_t it = 0, N = b->nb * b->m;
  int st, bad;
  if (o->method == CJ_SC_CD) return cdsolve(b, o, lambda, trace);
  if (o->method == CJ_SC_FISTA) memcpy(b->Y, b->A, (size_t)N * sizeof *b->Y);
  if (o->method == CJ_SC_LCA) memcpy(b->Y, b->A, (size_t)N * sizeof *b->Y);  /* u from the warm codes */
  for (it = 0; it < o->iters; it++) {
    if ((st = sciter(b, o, &tk, &moved, &big, &bad))) return st;
    if (bad)
      return cj_fail(CJ_ERUNTIME, "sparse_code: the codes stopped being finite at iteration %lld "
                     "(the step is too large for this dictionary)", (long long)it + 1);
    if (trace) {
      if ((st = blockobj(b->A, b->B, b->G, b->C, b->nb, b->m, b->xx, lambda, &obj))) return st;
      trace[it] += obj;
    }
    if (moved <= o->tol * (big > 1 ? big : 1)) { it++; break; }
  }
  if (it > o->done) o->done = it;
  for (int64_t j = it; trace && j < o->iters; j++) trace[j] += obj;  /* a stopped block stays */
  return CJ_OK;
}

static int checksc(const cj_sc_opts *o)
{
  if (!isfinite(o->lambda) || o->lambda < 0) return cj_fail(CJ_EINVAL, "sparse_code: lambda must be finite and >= 0");
  if (o->iters < 1) return cj_fail(CJ_EINVAL, "sparse_code: iters must be >= 1");
  if (!(o->tol >= 0) || !isfinite(o->tol)) return cj_fail(CJ_EINVAL, "sparse_code: tol must be finite and >= 0");
  if (!isfinite(o->step) || o->step < 0) return cj_fail(CJ_EINVAL, "sparse_code: step must be finite and >= 0");
  return CJ_OK;
}

int cj_learn_sparse_code(const double *X, int64_t n, int64_t d, const double *D, int64_t m,
                         double *A, cj_sc_opts *o)
{
  int64_t blk = n < SCBLOCK ? n : SCBLOCK;
  double *G = NULL, *buf = NULL;
  scblock b;
  int st;
  o->done = 0;
  o->objective = NAN;
  if ((st = checksc(o))) return st;
  if (o->trace) memset(o->trace, 0, (size_t)o->iters * sizeof *o->trace);
  if (!o->warm && n > 0 && m > 0) memset(A, 0, (size_t)(n * m) * sizeof *A);
  if (n == 0 || m == 0) { o->objective = 0; return n ? cj_learn_sc_objective(X, n, d, D, m, A, o->lambda, &o->objective) : CJ_OK; }
  G = cj_malloc((size_t)(m * m + m) * sizeof *G);
  buf = cj_malloc((size_t)(m * m + m > 3 * blk * m + blk ? m * m + m : 3 * blk * m + blk) * sizeof *buf);
  if (!G || !buf) { st = nomem(); goto done; }
  if ((st = cj_dsyrk(1, m, d, 1, D, m, 0, G, m)) || (st = lipschitz(G, m, buf, &b.L))) goto done;
  o->L = b.L;
  if (!(b.L > 0)) {                          /* no atom: every code is 0 */
    memset(A, 0, (size_t)(n * m) * sizeof *A);
    st = cj_learn_sc_objective(X, n, d, D, m, A, o->lambda, &o->objective);
    goto done;
  }
  b.G = G; b.m = m;
  for (int64_t r0 = 0; r0 < n; r0 += blk) {
    double *B = buf, *xx = buf + 3 * blk * m;
    b.nb = n - r0 < blk ? n - r0 : blk;
    b.A = A + r0 * m; b.B = B; b.C = B + blk * m; b.Y = b.C + blk * m; b.xx = xx;
    if ((st = cj_dgemm(0, 0, b.nb, m, d, 1, X + r0 * d, d, D, m, 0, B, m))) goto done;
    for (int64_t q = 0; q < b.nb; q++) xx[q] = 0.5 * dot(X + (r0 + q) * d, X + (r0 + q) * d, d);
    if ((st = scsolve(&b, o, o->lambda, o->trace))) goto done;
  }
  if (o->trace) for (int64_t j = 0; j < o->iters; j++) o->trace[j] /= (double)n;
  st = cj_learn_sc_objective(X, n, d, D, m, A, o->lambda, &o->objective);
done:
  cj_free(G);
  cj_free(buf);
  return st;
}

int cj_learn_sc_objective(const double *X, int64_t n, int64_t d, const double *D, int64_t m,
                          const double *A, double lambda, double *obj)
{
  int64_t blk = n < SCBLOCK ? n : SCBLOCK;
  double *R, s = 0;
  int st = CJ_OK;
  if (n == 0) { *obj = NAN; return CJ_OK; }
  if (!(R = cj_malloc((size_t)(blk * d > 0 ? blk * d : 1) * sizeof *R))) return nomem();
  for (int64_t r0 = 0; r0 < n && !st; r0 += blk) {
    int64_t nb = n - r0 < blk ? n - r0 : blk;
    memcpy(R, X + r0 * d, (size_t)(nb * d) * sizeof *R);
    /* R = X - A D^T */
    if ((st = cj_dgemm(0, 1, nb, d, m, -1, A + r0 * m, m, D, m, 1, R, d))) break;
    for (int64_t q = 0; q < nb * d; q++) s += 0.5 * R[q] * R[q];
    for (int64_t q = 0; q < nb * m; q++) s += lambda * fabs(A[r0 * m + q]);
  }
  cj_free(R);
  *obj = s / (double)n;
  return st;
}

/* ---- dictionary learning ------------------------------------------------------------------- */

/* Scale column j of D (d x m) to unit length (a zero column is left). */
static void unitcol(double *D, int64_t d, int64_t m, int64_t j)
{
  double s = 0;
  for (int64_t i = 0; i < d; i++) s += D[i * m + j] * D[i * m + j];
  if (s > 0) {
    s = 1 / sqrt(s);
    for (int64_t i = 0; i < d; i++) D[i * m + j] *= s;
  }
}

/* Mairal et al.'s block coordinate descent over the columns of D with the
 * statistics S (m x m) and Bs (d x m); u is scratch (d). */
static int bcdsweep(double *D, int64_t d, int64_t m, const double *S, const double *Bs, double *u)
{
  double tr = 0;
  int st;
  for (int64_t j = 0; j < m; j++) tr += S[j * m + j];
  for (int64_t j = 0; j < m; j++) {
    double sjj = S[j * m + j];
    if (!(sjj > 1e-12 * tr / (double)m)) continue;   /* an unused atom stays */
    if ((st = cj_dgemv(0, d, m, 1, D, m, S + j * m, 1, 0, u, 1))) return st;   /* D S_j */
    for (int64_t i = 0; i < d; i++) D[i * m + j] += (Bs[i * m + j] - u[i]) / sjj;
    unitcol(D, d, m, j);
  }
  return CJ_OK;
}

/* Between epochs: atoms that coded almost nothing in the epoch (cnt, the
 * number of nonzero codes of each, below 2 % of the mean) or that nearly
 * repeat another (|cos| > 0.95; the less used goes) restart as the worst
 * reconstructed samples of the last batch (Xb, its codes Ab; K-SVD's
 * remedy, Aharon, Elad & Bruckstein 2006), their statistics cleared.
 * R (nb x d), G (m x m) and rn (nb) are scratch. Returns the count. */
static int64_t refresh(double *D, int64_t d, int64_t m, const double *Xb, const double *Ab,
                       int64_t nb, const double *cnt, double *S, double *Bs, double *R, double *G,
                       double *rn)
{
  double mean = 0;
  int64_t replaced = 0;
  for (int64_t j = 0; j < m; j++) mean += cnt[j] / (double)m;
  memcpy(R, Xb, (size_t)(nb * d) * sizeof *R);
  if (cj_dgemm(0, 1, nb, d, m, -1, Ab, m, D, m, 1, R, d) || cj_dsyrk(1, m, d, 1, D, m, 0, G, m))
    return 0;
  for (int64_t q = 0; q < nb; q++) rn[q] = dot(R + q * d, R + q * d, d);
  for (int64_t j = 0; j < m; j++) {
    int dup = 0;
    int64_t w = 0;
    for (int64_t i = 0; i < m && !dup; i++)
      dup = i != j && fabs(G[i * m + j]) > 0.95 && (cnt[j] < cnt[i] || (cnt[j] == cnt[i] && j > i));
    if (!dup && cnt[j] >= 0.02 * mean) continue;
    for (int64_t q = 1; q < nb; q++) if (rn[q] > rn[w]) w = q;
    if (!(rn[w] > 0)) break;
    for (int64_t i = 0; i < d; i++) D[i * m + j] = R[w * d + i];
    unitcol(D, d, m, j);
    rn[w] = 0;                                /* each sample serves once */
    for (int64_t i = 0; i < m; i++) S[i * m + j] = S[j * m + i] = 0;
    for (int64_t i = 0; i < d; i++) Bs[i * m + j] = 0;
    for (int64_t i = 0; i < m; i++) G[i * m + j] = G[j * m + i] = 0;
    replaced++;
  }
  return replaced;
}

int cj_learn_dictionary(const double *X, int64_t n, int64_t d, double *D, int64_t m,
                        cj_dict_opts *o)
{
  const cj_learn_loop *L = &o->loop;
  int64_t b = L->batch < n ? L->batch : (n > 0 ? n : 1), T = L->epochs * n, t = 0, *ord = NULL;
  double *Xb = NULL, *Ab, *S, *Bs, *u, *cnt, *G, *rn;
  cj_sc_opts sc = { CJ_SC_CD, o->lambda, o->tol, 0, o->code_iters, o->nonneg, 0, NULL, 0, 0, 0 };
  int st;
  o->objective = NAN;
  if ((st = checkloop(L)) || (st = checksc(&sc))) return st;
  if (!isfinite(o->forget) || o->forget < 0) return cj_fail(CJ_EINVAL, "dictionary: forget must be >= 0");
  if (n == 0 || m == 0) return CJ_OK;
  ord = cj_malloc((size_t)n * sizeof *ord);
  Xb = cj_malloc((size_t)(2 * b * d + b * m + 2 * m * m + d * m + d + m + b) * sizeof *Xb);
  if (!ord || !Xb) { st = nomem(); goto done; }
  Ab = Xb + 2 * b * d; S = Ab + b * m; Bs = S + m * m; u = Bs + d * m; cnt = u + d; G = cnt + m;
  rn = G + m * m;
  memset(S, 0, (size_t)(m * m + d * m) * sizeof *S);
  for (int64_t j = 0; j < m; j++) unitcol(D, d, m, j);
  for (int64_t e = 0, nb = 0; e < L->epochs; e++) {
    order(ord, n, L->shuffle, L->rng);
    memset(cnt, 0, (size_t)m * sizeof *cnt);
    for (int64_t s = 0; s < n; s += b) {
      nb = n - s < b ? n - s : b;
      for (int64_t q = 0; q < nb; q++) memcpy(Xb + q * d, X + ord[s + q] * d, (size_t)d * sizeof *Xb);
      if ((st = cj_learn_sparse_code(Xb, nb, d, D, m, Ab, &sc))) goto done;
      o->objective = sc.objective;
      for (int64_t q = 0; q < nb * m; q++) cnt[q % m] += Ab[q] != 0;
      if (o->method == CJ_DICT_BCD) {
        double beta = ++t > 1 ? cj_rng_exp(o->forget * cj_rng_log(1 - 1 / (double)t)) : 0;
        if ((st = cj_dsyrk(1, m, nb, 1, Ab, m, beta, S, m)) ||
            (st = cj_dgemm(1, 0, d, m, nb, 1, Xb, d, Ab, m, beta, Bs, m)) ||
            (st = bcdsweep(D, d, m, S, Bs, u)))
          goto done;
      } else {
        double eta = cj_sched_at(&L->eta, e * n + s, T), *R = Xb + b * d;
        memcpy(R, Xb, (size_t)(nb * d) * sizeof *R);
        if ((st = cj_dgemm(0, 1, nb, d, m, -1, Ab, m, D, m, 1, R, d)) ||
            (st = cj_dgemm(1, 0, d, m, nb, eta / (double)nb, R, d, Ab, m, 1, D, m)))
          goto done;
        for (int64_t j = 0; j < m; j++) unitcol(D, d, m, j);
      }
      if (!allfinite(D, d * m)) {
        st = cj_fail(CJ_ERUNTIME, "dictionary: the atoms stopped being finite at the batch of "
                     "samples %lld..%lld of epoch %lld: use a smaller eta",
                     (long long)s + 1, (long long)(s + nb), (long long)e + 1);
        goto done;
      }
    }
    if (o->replace && e + 1 < L->epochs)
      o->replaced += refresh(D, d, m, Xb, Ab, nb, cnt, S, Bs, Xb + b * d, G, rn);
  }
done:
  cj_free(ord);
  cj_free(Xb);
  return st;
}

/* ---- whitening ---------------------------------------------------------------------------------- */

#define ROWBLOCK 1024

/* mean (d) and the covariance C (d x d, divisor n - 1) of X, centring a
 * block of rows at a time. */
static int covariance(const double *X, int64_t n, int64_t d, double *mean, double *C)
{
  int64_t blk = n < ROWBLOCK ? n : ROWBLOCK;
  double *Xc;
  int st = CJ_OK;
  if (!(Xc = cj_malloc((size_t)(blk * d) * sizeof *Xc))) return nomem();
  colmeans(X, n, d, mean);
  memset(C, 0, (size_t)(d * d) * sizeof *C);
  for (int64_t r0 = 0; r0 < n && !st; r0 += blk) {
    int64_t nb = n - r0 < blk ? n - r0 : blk;
    for (int64_t q = 0; q < nb; q++)
      for (int64_t j = 0; j < d; j++) Xc[q * d + j] = X[(r0 + q) * d + j] - mean[j];
    st = cj_dsyrk(1, d, nb, 1 / (double)(n - 1), Xc, d, 1, C, d);
  }
  cj_free(Xc);
  return st;
}

/* All d components, largest first: V (d x d) rows, var (d). */
static int eigh_desc(double *C, int64_t d, double *V, double *var)
{
  double *w;
  int st;
  if (!(w = cj_malloc((size_t)d * sizeof *w))) return nomem();
  if ((st = cj_dsyevd(d, C, w, 1))) { cj_free(w); return st; }
  for (int64_t i = 0; i < d; i++) {
    const double *src = C + (d - 1 - i) * d;
    double *v = V + i * d, big = 0;
    for (int64_t j = 0; j < d; j++) if (fabs(src[j]) > fabs(big)) big = src[j];
    for (int64_t j = 0; j < d; j++) v[j] = big < 0 ? -src[j] : src[j];
    var[i] = w[d - 1 - i] > 0 ? w[d - 1 - i] : 0;     /* rounding can give -1e-17 */
  }
  cj_free(w);
  return CJ_OK;
}

int cj_learn_pca(const double *X, int64_t n, int64_t d, int64_t k, double *mean, double *V,
                 double *var)
{
  double *C, *Vall, *vall;
  int st;
  if (n < 2) return cj_fail(CJ_EINVAL, "pca: needs at least 2 samples");
  if (k < 0 || k > d) return cj_fail(CJ_EINVAL, "pca: k must be in 0..%lld", (long long)d);
  if (!(C = cj_malloc((size_t)(2 * d * d + d) * sizeof *C))) return nomem();
  Vall = C + d * d; vall = Vall + d * d;
  if (!(st = covariance(X, n, d, mean, C)) && !(st = eigh_desc(C, d, Vall, vall))) {
    memcpy(V, Vall, (size_t)(k * d) * sizeof *V);
    memcpy(var, vall, (size_t)k * sizeof *var);
  }
  cj_free(C);
  return st;
}

int cj_learn_whitening(const double *X, int64_t n, int64_t d, int64_t k, int zca, double eps,
                       double *mean, double *W)
{
  double *V, *var, *M;
  int st;
  if (!isfinite(eps) || eps < 0) return cj_fail(CJ_EINVAL, "whiten: eps must be finite and >= 0");
  if (zca) k = d;
  if (!(V = cj_malloc((size_t)(2 * d * d + d) * sizeof *V))) return nomem();
  var = V + d * d; M = var + d;
  if ((st = cj_learn_pca(X, n, d, d, mean, V, var))) goto done;
  for (int64_t i = 0; i < k; i++) {
    double s;
    if (!(var[i] + eps > 0)) {
      st = cj_fail(CJ_EINVAL, "whiten: component %lld has zero variance: give eps > 0", (long long)i + 1);
      goto done;
    }
    s = 1 / sqrt(var[i] + eps);
    for (int64_t j = 0; j < d; j++) (zca ? M : W)[i * d + j] = s * V[i * d + j];
  }
  if (zca) st = cj_dgemm(1, 0, d, d, d, 1, V, d, M, d, 0, W, d);   /* W = V^T diag(s) V */
done:
  cj_free(V);
  return st;
}

/* ---- images ------------------------------------------------------------------------------------- */

/* Transpose the r x c complex matrix a into b (c x r). */
static void ctranspose(const double *a, int64_t r, int64_t c, double *b)
{
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < c; j++) {
      b[2 * (j * r + i)] = a[2 * (i * c + j)];
      b[2 * (j * r + i) + 1] = a[2 * (i * c + j) + 1];
    }
}

int cj_learn_whiten_image(const double *img, int64_t h, int64_t w, double f0, double *out)
{
  int64_t wc = w / 2 + 1, N = h * w;
  double *F, *G, mean = 0, var = 0;
  int st;
  if (h < 1 || w < 1) return cj_fail(CJ_EINVAL, "whiten_image: empty image");
  if (!(f0 > 0) || !isfinite(f0)) return cj_fail(CJ_EINVAL, "whiten_image: f0 must be positive");
  F = cj_malloc((size_t)(4 * h * wc) * sizeof *F);
  if (!F) return nomem();
  G = F + 2 * h * wc;
  if ((st = cj_fft_r2c(w, h, img, F))) goto done;            /* rows */
  ctranspose(F, h, wc, G);
  if ((st = cj_fft_c2c(h, wc, G, F, 0))) goto done;         /* columns */
  for (int64_t kx = 0; kx < wc; kx++) {
    double fx = (double)kx / (double)w;
    for (int64_t ky = 0; ky < h; ky++) {
      double fy = (double)(ky <= h / 2 ? ky : ky - h) / (double)h;
      double f = sqrt(fx * fx + fy * fy), q = f / f0, r = f * exp(-(q * q) * (q * q));
      F[2 * (kx * h + ky)] *= r;
      F[2 * (kx * h + ky) + 1] *= r;
    }
  }
  if ((st = cj_fft_c2c(h, wc, F, G, 1))) goto done;
  ctranspose(G, wc, h, F);
  if ((st = cj_fft_c2r(w, h, F, out))) goto done;
  for (int64_t i = 0; i < N; i++) mean += out[i];
  mean /= (double)N;
  for (int64_t i = 0; i < N; i++) var += (out[i] - mean) * (out[i] - mean);
  var /= (double)N;
  for (int64_t i = 0; i < N; i++) out[i] = var > 0 ? (out[i] - mean) / sqrt(var) : 0;
done:
  cj_free(F);
  return st;
}

int64_t cj_learn_npatches(int64_t nimg, int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t stride)
{
  if (ph < 1 || pw < 1 || ph > h || pw > w || stride < 1) return 0;
  return nimg * ((h - ph) / stride + 1) * ((w - pw) / stride + 1);
}

int cj_learn_patches(const double *img, int64_t nimg, int64_t h, int64_t w, int64_t ph,
                     int64_t pw, int64_t stride, int64_t count, cj_rng *rng, double *P)
{
  int64_t q = 0;
  if (ph < 1 || pw < 1 || ph > h || pw > w)
    return cj_fail(CJ_EINVAL, "patches: a %lldx%lld patch does not fit a %lldx%lld image",
                   (long long)ph, (long long)pw, (long long)h, (long long)w);
  if (nimg < 1) return cj_fail(CJ_EINVAL, "patches: no image");
  if (!rng && count != cj_learn_npatches(nimg, h, w, ph, pw, stride))
    return cj_fail(CJ_EINVAL, "patches: count does not match the grid of corners");
  if (rng) {
    for (; q < count; q++) {
      int64_t im = (int64_t)cj_rng_below(rng, (uint64_t)nimg);
      int64_t r0 = (int64_t)cj_rng_below(rng, (uint64_t)(h - ph + 1));
      int64_t c0 = (int64_t)cj_rng_below(rng, (uint64_t)(w - pw + 1));
      for (int64_t i = 0; i < ph; i++)
        memcpy(P + q * ph * pw + i * pw, img + (im * h + r0 + i) * w + c0, (size_t)pw * sizeof *P);
    }
    return CJ_OK;
  }
  for (int64_t im = 0; im < nimg; im++)
    for (int64_t r0 = 0; r0 + ph <= h; r0 += stride)
      for (int64_t c0 = 0; c0 + pw <= w; c0 += stride, q++)
        for (int64_t i = 0; i < ph; i++)
          memcpy(P + q * ph * pw + i * pw, img + (im * h + r0 + i) * w + c0, (size_t)pw * sizeof *P);
  return CJ_OK;
}

int cj_learn_dead_leaves(int64_t h, int64_t w, double rmin, double rmax, cj_rng *rng, double *img)
{
  int64_t left = h * w, leaves = 0;
  double a, span;
  uint8_t *cov;
  if (h < 1 || w < 1) return cj_fail(CJ_EINVAL, "dead_leaves: empty image");
  if (!(rmin >= 0.5) || !(rmax >= rmin) || !isfinite(rmax))
    return cj_fail(CJ_EINVAL, "dead_leaves: radii must satisfy 0.5 <= rmin <= rmax < inf");
  if (!(cov = cj_calloc((size_t)(h * w), 1))) return nomem();
  a = 1 / (rmin * rmin);
  span = a - 1 / (rmax * rmax);
  while (left > 0) {
    double r = 1 / sqrt(a - cj_rng_uniform(rng) * span);
    double cx = -rmax + cj_rng_uniform(rng) * ((double)w + 2 * rmax);
    double cy = -rmax + cj_rng_uniform(rng) * ((double)h + 2 * rmax);
    double g = cj_rng_uniform(rng);
    int64_t i0 = (int64_t)ceil(cy - r - 0.5), i1 = (int64_t)floor(cy + r - 0.5);
    if (++leaves > (int64_t)1e9) { cj_free(cov); return cj_fail(CJ_ERUNTIME, "dead_leaves: too many leaves"); }
    for (int64_t i = i0 < 0 ? 0 : i0; i <= i1 && i < h; i++) {
      double dy = (double)i + 0.5 - cy, half2 = r * r - dy * dy, half;
      int64_t j0, j1;
      if (half2 < 0) continue;
      half = sqrt(half2);
      j0 = (int64_t)ceil(cx - half - 0.5);
      j1 = (int64_t)floor(cx + half - 0.5);
      for (int64_t j = j0 < 0 ? 0 : j0; j <= j1 && j < w; j++)
        if (!cov[i * w + j]) {
          cov[i * w + j] = 1;
          img[i * w + j] = g;
          left--;
        }
    }
  }
  cj_free(cov);
  return CJ_OK;
}

/* ---- random projections, the fly hash, neighbours ------------------------------------------------ */

int cj_learn_projection(int64_t d, int64_t m, cj_proj_kind kind, int64_t fanin, cj_rng *rng,
                        double *P)
{
  if (kind == CJ_PROJ_GAUSSIAN) {
    double s = 1 / sqrt((double)(m > 0 ? m : 1));
    for (int64_t q = 0; q < m * d; q++) P[q] = s * cj_rng_normal(rng);
  } else if (kind == CJ_PROJ_SPARSE) {
    double s = sqrt((double)d), v = sqrt(s / (double)(m > 0 ? m : 1)), p = 1 / (2 * s);
    for (int64_t q = 0; q < m * d; q++) {
      double u = cj_rng_uniform(rng);
      P[q] = u < p ? v : u < 2 * p ? -v : 0;
    }
  } else {
    int64_t *pick;
    int st = CJ_OK;
    if (fanin < 1 || fanin > d)
      return cj_fail(CJ_EINVAL, "random_projection: fanin must be in 1..%lld", (long long)d);
    if (!(pick = cj_malloc((size_t)fanin * sizeof *pick))) return nomem();
    memset(P, 0, (size_t)(m * d) * sizeof *P);
    for (int64_t i = 0; i < m && !st; i++) {
      st = cj_rng_choice(rng, d, fanin, 0, NULL, pick);
      for (int64_t j = 0; j < fanin && !st; j++) P[i * d + pick[j]] = 1;
    }
    cj_free(pick);
    return st;
  }
  return CJ_OK;
}

int cj_learn_fly_hash(const double *X, int64_t n, int64_t d, const double *P, int64_t m,
                      int64_t k, int center, cj_rng *rng, uint8_t *H)
{
  int64_t blk = n < SCBLOCK ? n : SCBLOCK, *idx;
  double *Xc, *Y;
  int st = CJ_OK;
  if (k < 0 || k > m) return cj_fail(CJ_EINVAL, "fly_hash: k must be in 0..%lld", (long long)m);
  if (n == 0 || m == 0) return CJ_OK;
  Xc = cj_malloc((size_t)(blk * d + blk * m) * sizeof *Xc);
  idx = cj_malloc((size_t)m * sizeof *idx);
  if (!Xc || !idx) { st = nomem(); goto done; }
  Y = Xc + blk * d;
  for (int64_t r0 = 0; r0 < n; r0 += blk) {
    int64_t nb = n - r0 < blk ? n - r0 : blk;
    for (int64_t q = 0; q < nb; q++) {
      const double *x = X + (r0 + q) * d;
      double mu = 0;
      if (center) {
        for (int64_t j = 0; j < d; j++) mu += x[j];
        mu /= (double)(d > 0 ? d : 1);
      }
      for (int64_t j = 0; j < d; j++) Xc[q * d + j] = x[j] - mu;
    }
    if ((st = cj_dgemm(0, 1, nb, m, d, 1, Xc, d, P, d, 0, Y, m))) goto done;   /* Y = Xc P^T */
    for (int64_t q = 0; q < nb; q++) {
      uint8_t *hrow = H + (r0 + q) * m;
      topk(Y + q * m, m, k, rng, idx);
      memset(hrow, 0, (size_t)m);
      for (int64_t j = 0; j < k; j++) hrow[idx[j]] = 1;
    }
  }
done:
  cj_free(Xc);
  cj_free(idx);
  return st;
}

/* Shell sort of sel[0..r-1] by v descending, then index ascending. */
static void sortsel(const double *v, int64_t *sel, int64_t r)
{
  static const int64_t gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
  for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++)
    for (int64_t i = gaps[g]; i < r; i++) {
      int64_t x = sel[i], j = i;
      for (; j >= gaps[g] && before(v, x, sel[j - gaps[g]]); j -= gaps[g]) sel[j] = sel[j - gaps[g]];
      sel[j] = x;
    }
}

int cj_learn_knn(const double *X, int64_t n, int64_t d, int64_t r, cj_rng *rng, int64_t *idx)
{
  int64_t blk = n < SCBLOCK ? n : SCBLOCK, *sel;
  double *nrm, *Gb;
  int st = CJ_OK;
  if (r < 0 || r > n - 1) return cj_fail(CJ_EINVAL, "knn: r must be in 0..%lld", (long long)(n > 0 ? n - 1 : 0));
  if (n == 0 || r == 0) return CJ_OK;
  nrm = cj_malloc((size_t)(n + blk * n) * sizeof *nrm);
  sel = cj_malloc((size_t)n * sizeof *sel);
  if (!nrm || !sel) { st = nomem(); goto done; }
  Gb = nrm + n;
  for (int64_t i = 0; i < n; i++) nrm[i] = dot(X + i * d, X + i * d, d);
  for (int64_t r0 = 0; r0 < n; r0 += blk) {
    int64_t nb = n - r0 < blk ? n - r0 : blk;
    if ((st = cj_dgemm(0, 1, nb, n, d, 1, X + r0 * d, d, X, d, 0, Gb, n))) goto done;
    for (int64_t q = 0; q < nb; q++) {
      double *v = Gb + q * n;                /* minus the squared distances */
      for (int64_t j = 0; j < n; j++) v[j] = 2 * v[j] - nrm[r0 + q] - nrm[j];
      v[r0 + q] = -INFINITY;
      topk(v, n, r, rng, sel);
      sortsel(v, sel, r);
      memcpy(idx + (r0 + q) * r, sel, (size_t)r * sizeof *idx);
    }
  }
done:
  cj_free(nrm);
  cj_free(sel);
  return st;
}
