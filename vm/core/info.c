/*
 * info.c — entropies and informations with bias corrections, divergences,
 * spike words and word counters, the direct method and the information
 * per spike (see info.h for the contracts and the methods).
 *
 * Layout of the estimators: a measure (H, H(R|S), I(S;R), I(X;Y|Z)) is
 * computed on a flat table through a `lay` that says which cells form a
 * stratum (a row whose total is the experimenter's, kept by partitions)
 * and which strata are permuted together by a shuffle. The methods that
 * need no resampling (plug-in, Miller-Madow, Panzeri-Treves, NSB) work on
 * the count profile of each entropy term; the resampling ones (QE,
 * bootstrap, shuffle) redraw tables from the expanded samples and apply
 * the plug-in.
 */
#include "info.h"

#include <math.h>
#include <string.h>

#include "arrsort.h"

/* ---- special functions -------------------------------------------------------------- */

double cj_digamma(double x)
{
  double r = 0, f;
  if (!(x > 0) || isinf(x)) return isinf(x) && x > 0 ? INFINITY : NAN;
  while (x < 10) {
    r -= 1 / x;
    x += 1;
  }
  f = 1 / (x * x);
  return r + log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760))))));
}

double cj_trigamma(double x)
{
  double r = 0, f, ix;
  if (!(x > 0)) return NAN;
  if (isinf(x)) return 0;
  while (x < 10) {
    r += 1 / (x * x);
    x += 1;
  }
  ix = 1 / x;
  f = ix * ix;
  return r + ix + 0.5 * f +
         ix * f * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30 - f * (5.0 / 66 - f * (691.0 / 2730))))));
}

/* ---- count profiles ----------------------------------------------------------------- */

/* m distinct positive values with multiplicities; memory owned here. */
typedef struct { int64_t m; double *val, *mult; double N, R; } prof;

static void prof_free(prof *p)
{
  cj_free(p->val);
  p->val = p->mult = NULL;
}

/* The profile of counts c[0..n) (stride s). */
static int prof_make(const double *c, int64_t n, int64_t s, prof *p)
{
  int64_t k = 0;
  memset(p, 0, sizeof *p);
  if (!(p->val = cj_malloc(sizeof(double) * (size_t)(2 * n + 2))))
    return cj_fail(CJ_ENOMEM, "info: out of memory");
  p->mult = p->val + n + 1;
  for (int64_t i = 0; i < n; i++)
    if (c[i * s] > 0) p->val[k++] = c[i * s];
  if (cj_sort_f64(p->val, k)) { prof_free(p); return CJ_ENOMEM; }
  for (int64_t i = 0; i < k; i++) {
    if (p->m > 0 && p->val[p->m - 1] == p->val[i]) p->mult[p->m - 1] += 1;
    else { p->val[p->m] = p->val[i]; p->mult[p->m] = 1; p->m++; }
    p->N += p->val[i];
  }
  p->R = (double)k;
  return CJ_OK;
}

static void prof_sums(const double *val, const double *mult, int64_t m, double *N, double *R)
{
  *N = 0;
  *R = 0;
  for (int64_t k = 0; k < m; k++) {
    *N += val[k] * mult[k];
    *R += mult[k];
  }
}

/* Plug-in entropy and the delta-method variance of -ln p (per sample). */
static double plugin_prof(const double *val, const double *mult, int64_t m, double N, double *var)
{
  double h = 0, h2 = 0;
  for (int64_t k = 0; k < m; k++) {
    double p = val[k] / N, l = log(p);
    h -= mult[k] * p * l;
    h2 += mult[k] * p * l * l;
  }
  if (var) *var = h2 - h * h > 0 ? h2 - h * h : 0;
  return h;
}

/* ---- Panzeri-Treves ---------------------------------------------------------------- */

/* Expected occupied bins with x unseen bins of probability q each. */
static double pt_expected(const double *val, const double *mult, int64_t m, double N, double q, double x)
{
  double e = 0, scale = 1 - x * q;
  for (int64_t k = 0; k < m; k++) e += mult[k] * -expm1(N * log1p(-scale * val[k] / N));
  return e + x * -expm1(N * log1p(-q));
}

double cj_info_pt_bins(const double *val, const double *mult, int64_t m, double K)
{
  double N, R, q, lo = 0, hi, elo;
  prof_sums(val, mult, m, &N, &R);
  if (!(N > 0) || R >= K) return R;
  q = -expm1(log(N / (N + R)) / N);
  hi = floor(K - R);
  if (hi * q >= 1) hi = floor((1 - 1e-12) / q);
  elo = pt_expected(val, mult, m, N, q, 0);
  if (elo >= R) return R;
  if (pt_expected(val, mult, m, N, q, hi) <= R) return R + hi;
  while (hi - lo > 1) {                         /* E_x increases with x (info.h) */
    double mid = floor((lo + hi) / 2);
    if (pt_expected(val, mult, m, N, q, mid) < R) lo = mid;
    else hi = mid;
  }
  return R + (fabs(pt_expected(val, mult, m, N, q, lo) - R) <= fabs(pt_expected(val, mult, m, N, q, hi) - R) ? lo : hi);
}

/* ---- NSB --------------------------------------------------------------------------------
 * The posterior over beta (Dirichlet concentration per bin) has density
 * p(n | beta) dxi/dbeta, xi(beta) = psi(K beta + 1) - psi(beta + 1) the prior
 * mean entropy; integrated in x = ln beta (so the weight gains a factor
 * beta). Given beta the posterior of p is Dirichlet(n + beta), whose mean
 * entropy and second moment are closed forms (Wolpert & Wolf 1995). */

typedef struct {
  const double *val, *mult;
  int64_t m;
  double K, N, m0;     /* m0: empty bins */
} nsb;

static double nsb_logw(const nsb *c, double x)
{
  double b = exp(x), lw = lgamma(c->K * b) - lgamma(c->N + c->K * b);
  double dxi = c->K * cj_trigamma(c->K * b + 1) - cj_trigamma(b + 1);
  for (int64_t k = 0; k < c->m; k++) lw += c->mult[k] * (lgamma(c->val[k] + b) - lgamma(b));
  return lw + log(dxi > 0 ? dxi : 1e-300) + x;
}

/* E[H | beta] and E[H^2 | beta]. */
static void nsb_moments(const nsb *c, double b, double *h1, double *h2)
{
  double A = c->N + c->K * b, pA1 = cj_digamma(A + 1), pA2 = pA1 + 1 / (A + 1), tA2 = cj_trigamma(A + 2);
  double s1 = 0, s2 = 0, sa2 = 0, diag = 0, h = pA1;
  for (int64_t k = 0; k <= c->m; k++) {
    double a = k < c->m ? c->val[k] + b : b, w = k < c->m ? c->mult[k] : c->m0, f, g;
    if (w <= 0) continue;
    f = cj_digamma(a + 1);
    h -= w * a / A * f;
    g = f + 1 / (a + 1) - pA2;                 /* psi(a + 2) = psi(a + 1) + 1 / (a + 1) */
    f -= pA2;
    s1 += w * a * f;
    s2 += w * a * a * f * f;
    sa2 += w * a * a;
    diag += w * a * (a + 1) * (g * g + cj_trigamma(a + 2) - tA2);
  }
  *h1 = h;
  *h2 = (s1 * s1 - s2 - tA2 * (A * A - sa2) + diag) / (A * (A + 1));
}

/* Integrand vector at x, scaled by exp(-gmax). */
static void nsb_f(const nsb *c, double x, double gmax, double f[3])
{
  double w = exp(nsb_logw(c, x) - gmax), h1, h2;
  nsb_moments(c, exp(x), &h1, &h2);
  f[0] = w;
  f[1] = w * h1;
  f[2] = w * h2;
}

/* Gauss-Legendre with 8 nodes on [a, b], added to out. The breakpoints
 * (cj_info_nsb) make every interval small against the scale on which the
 * weight changes, so a fixed rule is exact to rounding; an adaptive rule
 * would chase the rounding noise of the lgamma sums instead. */
static void integrate(const nsb *c, double gmax, double a, double b, double *out)
{
  static const double x[4] = { 0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363 };
  static const double w[4] = { 0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763 };
  double mid = (a + b) / 2, half = (b - a) / 2, f[3];
  for (int k = 0; k < 8; k++) {
    double t = mid + (k < 4 ? -x[k] : x[k - 4]) * half;
    nsb_f(c, t, gmax, f);
    for (int i = 0; i < 3; i++) out[i] += half * w[k % 4] * f[i];
  }
}

int cj_info_nsb(const double *val, const double *mult, int64_t m, double K, double *H, double *sd)
{
  enum { NGRID = 120, NFINE = 33 };
  nsb c = { val, mult, m, K, 0, 0 };
  double R, xlo, xhi, h, g[NGRID], gmax = -INFINITY, xs, a, b, sig, gpp, acc[3] = { 0, 0, 0 };
  double pts[NGRID + NFINE];
  int kmax = 0, np = 0;
  prof_sums(val, mult, m, &c.N, &R);
  if (!(K >= R) || !(K >= 1) || !isfinite(K))
    return cj_fail(CJ_EINVAL, "nsb: the alphabet size (%g) must be at least the occupied bins (%g)", K, R);
  c.m0 = K - R;
  if (K == 1) { *H = 0; *sd = 0; return CJ_OK; }
  xlo = -log(K) - 35;
  xhi = 23;
  h = (xhi - xlo) / (NGRID - 1);
  for (int i = 0; i < NGRID; i++) {
    g[i] = nsb_logw(&c, xlo + i * h);
    if (g[i] > gmax) { gmax = g[i]; kmax = i; }
  }
  if (!isfinite(gmax)) return cj_fail(CJ_ERUNTIME, "nsb: the posterior over beta could not be evaluated");
  /* refine the mode by golden section inside the neighbouring grid cells */
  a = xlo + (kmax > 0 ? kmax - 1 : 0) * h;
  b = xlo + (kmax < NGRID - 1 ? kmax + 1 : NGRID - 1) * h;
  {
    const double r = 0.6180339887498949;
    double x1 = b - r * (b - a), x2 = a + r * (b - a), g1 = nsb_logw(&c, x1), g2 = nsb_logw(&c, x2);
    for (int it = 0; it < 60 && b - a > 1e-9; it++) {
      if (g1 > g2) { b = x2; x2 = x1; g2 = g1; x1 = b - r * (b - a); g1 = nsb_logw(&c, x1); }
      else { a = x1; x1 = x2; g1 = g2; x2 = a + r * (b - a); g2 = nsb_logw(&c, x2); }
    }
  }
  xs = (a + b) / 2;
  if (nsb_logw(&c, xs) > gmax) gmax = nsb_logw(&c, xs);
  gpp = (nsb_logw(&c, xs + 1e-3) - 2 * nsb_logw(&c, xs) + nsb_logw(&c, xs - 1e-3)) / 1e-6;
  sig = gpp < 0 ? 1 / sqrt(-gpp) : 1;
  if (sig > 1) sig = 1;
  /* breakpoints: the grid where the weight matters, and a fine comb at the mode */
  for (int i = 0; i < NGRID; i++)
    if (g[i] > gmax - 50 || (i > 0 && g[i - 1] > gmax - 50) || (i < NGRID - 1 && g[i + 1] > gmax - 50))
      pts[np++] = xlo + i * h;
  for (int k = -(NFINE / 2); k <= NFINE / 2; k++) {
    double x = xs + k * sig / 2;
    if (x > xlo && x < xhi) pts[np++] = x;
  }
  if (cj_sort_f64(pts, np)) return CJ_ENOMEM;
  for (int i = 0; i + 1 < np; i++)
    if (pts[i + 1] > pts[i]) integrate(&c, gmax, pts[i], pts[i + 1], acc);
  if (!(acc[0] > 0)) return cj_fail(CJ_ERUNTIME, "nsb: the posterior over beta vanished");
  *H = acc[1] / acc[0];
  *sd = acc[2] / acc[0] - *H * *H;
  *sd = *sd > 0 ? sqrt(*sd) : 0;
  return CJ_OK;
}

/* ---- measures on tables ------------------------------------------------------------ */

typedef enum { M_H, M_CONDH, M_MI, M_CMI } mkind;

/* A measure and its table's shape: H: a cells; H(R|S), I(S;R): a rows x b
 * columns; I(X;Y|Z): a x b x c (x, y, z; z fastest). K: the response
 * alphabet for NSB and PT (0: the table's). */
typedef struct { mkind kind; int64_t a, b, c; double K; } meas;

static int64_t ncells(const meas *ms)
{
  return ms->kind == M_H ? ms->a : ms->kind == M_CMI ? ms->a * ms->b * ms->c : ms->a * ms->b;
}

/* Strata (kept by partitions) and their values: H one stratum of a values;
 * S x R tables a strata (rows) of b values; CMI strata (x, z) of y values. */
static int64_t nstrata(const meas *ms)
{
  return ms->kind == M_H ? 1 : ms->kind == M_CMI ? ms->a * ms->c : ms->a;
}

static int64_t nvals(const meas *ms)
{
  return ms->kind == M_H ? ms->a : ms->b;
}

static int64_t cellof(const meas *ms, int64_t st, int64_t v)
{
  if (ms->kind == M_H) return v;
  if (ms->kind == M_CMI) return ((st / ms->c) * ms->b + v) * ms->c + st % ms->c;
  return st * ms->b + v;
}

/* Strata whose values a shuffle permutes together: all rows of S x R, the
 * strata of one z for CMI. */
static int64_t groupof(const meas *ms, int64_t st)
{
  return ms->kind == M_CMI ? st % ms->c : 0;
}

static double tsum(const double *t, int64_t n, int64_t s)
{
  double x = 0;
  for (int64_t i = 0; i < n; i++) x += t[i * s];
  return x;
}

/* One entropy term: counts c[0..n) with stride s; method PLUGIN, MM, PT or
 * NSB; *sd the NSB posterior deviation (0 otherwise); *bins the occupied
 * (MM) or Bayesian (PT) count. */
static int hterm(const double *c, int64_t n, int64_t s, double K, cj_info_method m, double *h,
                 double *sd, double *bins)
{
  prof p;
  int st = CJ_OK;
  *sd = 0;
  *h = 0;
  if ((st = prof_make(c, n, s, &p))) return st;
  if (bins) *bins = p.R;
  if (p.N > 0) {
    *h = plugin_prof(p.val, p.mult, p.m, p.N, NULL);
    if (m == CJ_INFO_MM) {
      *h += (p.R - 1) / (2 * p.N);
    } else if (m == CJ_INFO_PT) {
      double r = cj_info_pt_bins(p.val, p.mult, p.m, K > p.R ? K : p.R);
      *h += (r - 1) / (2 * p.N);
      if (bins) *bins = r;
    } else if (m == CJ_INFO_NSB) {
      st = cj_info_nsb(p.val, p.mult, p.m, K > p.R ? K : p.R, h, sd);
    }
  }
  prof_free(&p);
  return st;
}

/* Variance (per sample) of the log-ratio whose mean the measure is: the
 * delta-method variance of its plug-in estimate is this over N. */
static double deltavar(const meas *ms, const double *t, double N, double est)
{
  double s2 = 0;
  int64_t a = ms->a, b = ms->b, c = ms->c;
  if (ms->kind == M_H) {
    for (int64_t i = 0; i < a; i++) if (t[i] > 0) { double l = log(t[i] / N); s2 += t[i] / N * l * l; }
  } else if (ms->kind == M_CMI) {
    for (int64_t x = 0; x < a; x++)
      for (int64_t z = 0; z < c; z++) {
        double pxz = tsum(t + x * b * c + z, b, c) / N;
        for (int64_t y = 0; y < b; y++) {
          double p = t[(x * b + y) * c + z] / N, pz = 0, pyz = 0, l;
          if (p <= 0) continue;
          for (int64_t x2 = 0; x2 < a; x2++) {
            pz += tsum(t + x2 * b * c + z, b, c) / N;
            pyz += t[(x2 * b + y) * c + z] / N;
          }
          l = log(p * pz / (pxz * pyz));
          s2 += p * l * l;
        }
      }
  } else {
    for (int64_t i = 0; i < a; i++) {
      double ps = tsum(t + i * b, b, 1) / N;
      for (int64_t j = 0; j < b; j++) {
        double p = t[i * b + j] / N, l;
        if (p <= 0) continue;
        l = ms->kind == M_CONDH ? log(p / ps) : log(p / (ps * tsum(t + j, a, b) / N));
        s2 += p * l * l;
      }
    }
  }
  return s2 - est * est > 0 ? s2 - est * est : 0;
}

/* The measure by a method without resampling: *val and its error bar *err
 * (NSB: posterior deviation; others: delta method of the plug-in). */
static int mest(const meas *ms, const double *t, cj_info_method m, double *val, double *err, double *bins)
{
  double N = tsum(t, ncells(ms), 1), h, sd, acc = 0, var2 = 0;
  int64_t a = ms->a, b = ms->b, c = ms->c;
  int st = CJ_OK;
  double *tmp = NULL;
  *val = 0;
  *err = 0;
  if (bins) *bins = NAN;
  if (!(N > 0)) return cj_fail(CJ_EINVAL, "info: the table holds no counts");
  switch (ms->kind) {
  case M_H:
    st = hterm(t, a, 1, ms->K > 0 ? ms->K : (double)a, m, val, &sd, bins);
    var2 = sd * sd;
    break;
  case M_CONDH: case M_MI:
    for (int64_t i = 0; i < a && !st; i++) {
      double ns = tsum(t + i * b, b, 1);
      if (ns <= 0) continue;
      st = hterm(t + i * b, b, 1, ms->K > 0 ? ms->K : (double)b, m, &h, &sd, NULL);
      acc += ns / N * h;
      var2 += (ns / N) * (ns / N) * sd * sd;
    }
    *val = acc;
    if (ms->kind == M_MI && !st) {
      if (!(tmp = cj_malloc(sizeof(double) * (size_t)b))) return cj_fail(CJ_ENOMEM, "info: out of memory");
      for (int64_t j = 0; j < b; j++) tmp[j] = tsum(t + j, a, b);
      st = hterm(tmp, b, 1, ms->K > 0 ? ms->K : (double)b, m, &h, &sd, NULL);
      *val = h - acc;
      var2 += sd * sd;
    }
    break;
  case M_CMI:
    if (!(tmp = cj_malloc(sizeof(double) * (size_t)(a * b)))) return cj_fail(CJ_ENOMEM, "info: out of memory");
    for (int64_t z = 0; z < c && !st; z++) {
      meas sl = { M_MI, a, b, 1, ms->K };
      double nz = 0, iz, ez;
      for (int64_t k = 0; k < a * b; k++) nz += (tmp[k] = t[k * c + z]);
      if (nz <= 0) continue;
      st = mest(&sl, tmp, m, &iz, &ez, NULL);
      acc += nz / N * iz;
      if (m == CJ_INFO_NSB) var2 += (nz / N) * (nz / N) * ez * ez;
    }
    *val = acc;
    break;
  }
  cj_free(tmp);
  if (st) return st;
  if (m == CJ_INFO_NSB) {
    *err = sqrt(var2);
  } else {
    double pv = *val, pe;
    if (m != CJ_INFO_PLUGIN && (st = mest(ms, t, CJ_INFO_PLUGIN, &pv, &pe, NULL))) return st;
    *err = sqrt(deltavar(ms, t, N, pv) / N);
  }
  return CJ_OK;
}

static double plugin_of(const meas *ms, const double *t)
{
  double v = 0, e;
  mest(ms, t, CJ_INFO_PLUGIN, &v, &e, NULL);
  return v;
}

/* ---- resampling ------------------------------------------------------------------------- */

/* The samples of a table of whole counts: stratum k holds the values
 * v[start[k] .. start[k+1]). */
typedef struct { int64_t ns, N, *start, *v; } smp;

static void smp_free(smp *s)
{
  cj_free(s->start);
  cj_free(s->v);
  s->start = s->v = NULL;
}

static int smp_make(const meas *ms, const double *t, smp *s)
{
  int64_t ns = nstrata(ms), nv = nvals(ms), k = 0;
  s->ns = ns;
  s->N = (int64_t)tsum(t, ncells(ms), 1);
  s->start = cj_malloc(sizeof(int64_t) * (size_t)(ns + 1));
  s->v = cj_malloc(sizeof(int64_t) * (size_t)(s->N + 1));
  if (!s->start || !s->v) {
    smp_free(s);
    return cj_fail(CJ_ENOMEM, "info: out of memory for %lld samples", (long long)s->N);
  }
  for (int64_t st = 0; st < ns; st++) {
    s->start[st] = k;
    for (int64_t v = 0; v < nv; v++)
      for (int64_t r = (int64_t)t[cellof(ms, st, v)]; r > 0; r--) s->v[k++] = v;
  }
  s->start[ns] = k;
  return CJ_OK;
}

static void permute(cj_rng *rng, int64_t *x, int64_t n)
{
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)cj_rng_below(rng, (uint64_t)(i + 1)), tmp = x[i];
    x[i] = x[j];
    x[j] = tmp;
  }
}

/* Quadratic extrapolation: plug-in on the whole, on 2 and on 4 random
 * partitions (stratified), fitted as H0 + a/n + b/n^2 through the three
 * mean estimates at their mean sizes. */
static int qe(const meas *ms, const double *t, cj_rng *rng, double *h0)
{
  smp s;
  int64_t n = ncells(ms);
  double *part = NULL, x[3], y[3];
  int st;
  if ((st = smp_make(ms, t, &s))) return st;
  if (s.N < 4) { smp_free(&s); return cj_fail(CJ_EINVAL, "qe: at least 4 samples needed (got %lld)", (long long)s.N); }
  if (!(part = cj_malloc(sizeof(double) * (size_t)n))) { smp_free(&s); return cj_fail(CJ_ENOMEM, "qe: out of memory"); }
  x[0] = 1.0 / (double)s.N;
  y[0] = plugin_of(ms, t);
  for (int level = 1; level <= 2; level++) {
    int64_t P = level == 1 ? 2 : 4;
    double hs = 0, ns = 0;
    for (int64_t k = 0; k < s.ns; k++) permute(rng, s.v + s.start[k], s.start[k + 1] - s.start[k]);
    for (int64_t p = 0; p < P; p++) {
      double np;
      memset(part, 0, sizeof(double) * (size_t)n);
      for (int64_t k = 0; k < s.ns; k++)
        for (int64_t i = s.start[k] + p; i < s.start[k + 1]; i += P) part[cellof(ms, k, s.v[i])] += 1;
      np = tsum(part, n, 1);
      hs += np > 0 ? plugin_of(ms, part) : 0;
      ns += np;
    }
    x[level] = (double)P / ns;
    y[level] = hs / (double)P;
  }
  /* the quadratic through the three points, evaluated at 1/n = 0 */
  *h0 = y[0] * x[1] * x[2] / ((x[0] - x[1]) * (x[0] - x[2])) +
        y[1] * x[0] * x[2] / ((x[1] - x[0]) * (x[1] - x[2])) +
        y[2] * x[0] * x[1] / ((x[2] - x[0]) * (x[2] - x[1]));
  cj_free(part);
  smp_free(&s);
  return CJ_OK;
}

/* A table with the values of each shuffle group permuted across its
 * strata (scratch: N entries). */
static void shuffled(const meas *ms, const smp *s, cj_rng *rng, int64_t *scratch, double *out)
{
  int64_t ng = ms->kind == M_CMI ? ms->c : 1;
  memset(out, 0, sizeof(double) * (size_t)ncells(ms));
  for (int64_t g = 0; g < ng; g++) {
    int64_t k = 0, w = 0;
    for (int64_t st = 0; st < s->ns; st++)
      if (groupof(ms, st) == g)
        for (int64_t i = s->start[st]; i < s->start[st + 1]; i++) scratch[k++] = s->v[i];
    permute(rng, scratch, k);
    for (int64_t st = 0; st < s->ns; st++)
      if (groupof(ms, st) == g)
        for (int64_t i = s->start[st]; i < s->start[st + 1]; i++) out[cellof(ms, st, scratch[w++])] += 1;
  }
}

/* A table of N draws with replacement from the cells of t (multinomial,
 * by successive binomials). */
static void resampled(const double *t, int64_t n, double N, cj_rng *rng, double *out)
{
  double rem = N, wrem = tsum(t, n, 1);
  for (int64_t i = 0; i < n; i++) {
    int64_t k = 0;
    if (rem > 0 && t[i] > 0) k = t[i] >= wrem ? (int64_t)rem : cj_rng_binomial(rng, (int64_t)rem, t[i] / wrem);
    out[i] = (double)k;
    rem -= (double)k;
    wrem -= t[i];
  }
}

/* ---- the estimators ------------------------------------------------------------------------ */

static int checktable(const double *t, int64_t n, int whole)
{
  double tot = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(t[i]) || t[i] < 0)
      return cj_fail(CJ_EINVAL, "counts must be finite and non-negative (cell %lld is %g)", (long long)i + 1, t[i]);
    if (whole && t[i] != floor(t[i]))
      return cj_fail(CJ_EINVAL, "resampling needs whole counts (cell %lld is %g)", (long long)i + 1, t[i]);
    tot += t[i];
  }
  if (!(tot > 0)) return cj_fail(CJ_EINVAL, "the table holds no counts");
  if (whole && tot > 1e9) return cj_fail(CJ_EINVAL, "resampling: too many samples (%g)", tot);
  return CJ_OK;
}

/* The method's estimate of table u (for nulls): BOOT and SHUFFLE use the plug-in. */
static int estimate_of(const meas *ms, const double *u, const cj_info_opts *o, double *v)
{
  double e;
  switch (o->method) {
  case CJ_INFO_QE: return qe(ms, u, o->rng, v);
  case CJ_INFO_BOOT: case CJ_INFO_SHUFFLE: return mest(ms, u, CJ_INFO_PLUGIN, v, &e, NULL);
  default: return mest(ms, u, o->method, v, &e, NULL);
  }
}

/* Shuffle nulls: nrep estimates of permuted tables; returns mean, sd and
 * the count of nulls >= ref. */
static int nulls(const meas *ms, const double *t, const cj_info_opts *o, int64_t nrep, double ref,
                 cj_info_est *r)
{
  smp s;
  int64_t n = ncells(ms), ge = 0;
  double *u = NULL, sum = 0, sum2 = 0;
  int64_t *scratch = NULL;
  int st;
  if ((st = smp_make(ms, t, &s))) return st;
  u = cj_malloc(sizeof(double) * (size_t)n);
  scratch = cj_malloc(sizeof(int64_t) * (size_t)(s.N + 1));
  if (!u || !scratch) st = cj_fail(CJ_ENOMEM, "info: out of memory");
  for (int64_t k = 0; k < nrep && !st; k++) {
    double v;
    shuffled(ms, &s, o->rng, scratch, u);
    if ((st = estimate_of(ms, u, o, &v))) break;
    sum += v;
    sum2 += v * v;
    if (v >= ref - 1e-12 * fabs(ref)) ge++;
  }
  if (!st) {
    r->null_mean = sum / (double)nrep;
    r->null_sd = nrep > 1 ? sqrt(fmax(0, (sum2 - sum * sum / (double)nrep) / (double)(nrep - 1))) : 0;
    r->pvalue = (double)(1 + ge) / (double)(1 + nrep);
  }
  cj_free(u);
  cj_free(scratch);
  smp_free(&s);
  return st;
}

static int boot(const meas *ms, const double *t, const cj_info_opts *o, int64_t nrep, double *mean, double *sd)
{
  int64_t n = ncells(ms);
  double *u = cj_malloc(sizeof(double) * (size_t)n), N = tsum(t, n, 1), sum = 0, sum2 = 0;
  int st = CJ_OK;
  *mean = *sd = 0;
  if (!u) return cj_fail(CJ_ENOMEM, "info: out of memory");
  for (int64_t k = 0; k < nrep; k++) {
    double v = 0, e;
    resampled(t, n, N, o->rng, u);
    if ((st = mest(ms, u, CJ_INFO_PLUGIN, &v, &e, NULL))) break;
    sum += v;
    sum2 += v * v;
  }
  *mean = sum / (double)nrep;
  *sd = nrep > 1 ? sqrt(fmax(0, (sum2 - sum * sum / (double)nrep) / (double)(nrep - 1))) : 0;
  cj_free(u);
  return st;
}

static int estimate(const meas *ms, const double *t, const cj_info_opts *o, cj_info_est *r)
{
  int64_t n = ncells(ms), nrep = o->nresample > 0 ? o->nresample : 100;
  int resamp = o->method == CJ_INFO_QE || o->method == CJ_INFO_SHUFFLE || o->method == CJ_INFO_BOOT || o->nshuffle > 0;
  int isinfo = ms->kind == M_MI || ms->kind == M_CMI;
  double e;
  int st;
  r->pvalue = r->null_mean = r->null_sd = r->bins = NAN;
  if ((unsigned)o->method >= CJ_INFO_NMETHODS) return cj_fail(CJ_EINVAL, "info: unknown method");
  if ((st = checktable(t, n, resamp))) return st;
  if (resamp && !o->rng) return cj_fail(CJ_EINVAL, "info: resampling needs a generator");
  if ((o->method == CJ_INFO_SHUFFLE || o->nshuffle > 0) && !isinfo)
    return cj_fail(CJ_EINVAL, "shuffles test an information (mutual or conditional), not an entropy");
  r->N = tsum(t, n, 1);
  if ((st = mest(ms, t, CJ_INFO_PLUGIN, &r->plugin, &r->err, NULL))) return st;
  switch (o->method) {
  case CJ_INFO_PLUGIN: case CJ_INFO_MM: case CJ_INFO_PT: case CJ_INFO_NSB:
    st = mest(ms, t, o->method, &r->value, &e, &r->bins);
    r->err = e;
    break;
  case CJ_INFO_QE:
    st = qe(ms, t, o->rng, &r->value);
    break;
  case CJ_INFO_BOOT: {
    double mean, sd;
    if (!(st = boot(ms, t, o, nrep, &mean, &sd))) {
      r->value = 2 * r->plugin - mean;
      r->err = sd;
    }
    break;
  }
  default:                                      /* SHUFFLE */
    if (!(st = nulls(ms, t, o, nrep, r->plugin, r))) r->value = r->plugin - r->null_mean;
  }
  if (st) return st;
  if (o->nshuffle > 0 && o->method != CJ_INFO_SHUFFLE)
    st = nulls(ms, t, o, o->nshuffle, o->method == CJ_INFO_BOOT ? r->plugin : r->value, r);
  r->bias = r->plugin - r->value;
  return st;
}

int cj_info_entropy(const double *c, int64_t n, const cj_info_opts *o, cj_info_est *r)
{
  meas ms = { M_H, n, 1, 1, o->K };
  if (n < 1) return cj_fail(CJ_EINVAL, "entropy: empty table");
  if (o->K > 0 && o->K < n) return cj_fail(CJ_EINVAL, "entropy: alphabet size %g is below the table's %lld cells", o->K, (long long)n);
  return estimate(&ms, c, o, r);
}

int cj_info_condentropy(const double *joint, int64_t ns, int64_t nr, const cj_info_opts *o, cj_info_est *r)
{
  meas ms = { M_CONDH, ns, nr, 1, o->K };
  if (ns < 1 || nr < 1) return cj_fail(CJ_EINVAL, "conditional entropy: empty table");
  return estimate(&ms, joint, o, r);
}

int cj_info_mi(const double *joint, int64_t ns, int64_t nr, const cj_info_opts *o, cj_info_est *r)
{
  meas ms = { M_MI, ns, nr, 1, o->K };
  if (ns < 1 || nr < 1) return cj_fail(CJ_EINVAL, "mutual information: empty table");
  return estimate(&ms, joint, o, r);
}

int cj_info_cmi(const double *t, int64_t nx, int64_t ny, int64_t nz, const cj_info_opts *o, cj_info_est *r)
{
  meas ms = { M_CMI, nx, ny, nz, o->K };
  if (nx < 1 || ny < 1 || nz < 1) return cj_fail(CJ_EINVAL, "conditional mutual information: empty table");
  return estimate(&ms, t, o, r);
}

int cj_info_entropy_profile(const double *val, const double *mult, int64_t m, double K,
                            cj_info_method method, cj_info_est *r)
{
  double N, R, var;
  int st = CJ_OK;
  prof_sums(val, mult, m, &N, &R);
  r->pvalue = r->null_mean = r->null_sd = NAN;
  r->N = N;
  r->bins = R;
  if (!(N > 0)) return cj_fail(CJ_EINVAL, "entropy: no counts");
  if (K <= 0) K = R;
  if (K < R) return cj_fail(CJ_EINVAL, "entropy: alphabet size %g is below the %g occupied bins", K, R);
  r->plugin = plugin_prof(val, mult, m, N, &var);
  r->err = sqrt(var / N);
  r->value = r->plugin;
  switch (method) {
  case CJ_INFO_PLUGIN: break;
  case CJ_INFO_MM: r->value += (R - 1) / (2 * N); break;
  case CJ_INFO_PT: r->bins = cj_info_pt_bins(val, mult, m, K); r->value += (r->bins - 1) / (2 * N); break;
  case CJ_INFO_NSB: st = cj_info_nsb(val, mult, m, K, &r->value, &r->err); break;
  default: return cj_fail(CJ_EINVAL, "entropy: this method needs the counts themselves");
  }
  r->bias = r->plugin - r->value;
  return st;
}

/* ---- divergences ------------------------------------------------------------------------- */

static int normalise(const double *p, int64_t n, double *sum, const char *name)
{
  *sum = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(p[i]) || p[i] < 0)
      return cj_fail(CJ_EINVAL, "%s: weights must be finite and non-negative (entry %lld is %g)", name, (long long)i + 1, p[i]);
    *sum += p[i];
  }
  if (!(*sum > 0)) return cj_fail(CJ_EINVAL, "%s: all weights are zero", name);
  return CJ_OK;
}

int cj_info_kl(const double *p, const double *q, int64_t n, double *d)
{
  double sp, sq, acc = 0;
  int st;
  if ((st = normalise(p, n, &sp, "p")) || (st = normalise(q, n, &sq, "q"))) return st;
  for (int64_t i = 0; i < n; i++) {
    double a = p[i] / sp, b = q[i] / sq;
    if (a <= 0) continue;
    if (b <= 0) { *d = INFINITY; return CJ_OK; }
    acc += a * log(a / b);
  }
  *d = acc > 0 ? acc : 0;
  return CJ_OK;
}

int cj_info_js(const double *p, const double *q, int64_t n, double *d)
{
  double sp, sq, acc = 0;
  int st;
  if ((st = normalise(p, n, &sp, "p")) || (st = normalise(q, n, &sq, "q"))) return st;
  for (int64_t i = 0; i < n; i++) {
    double a = p[i] / sp, b = q[i] / sq, m = (a + b) / 2;
    if (a > 0) acc += 0.5 * a * log(a / m);
    if (b > 0) acc += 0.5 * b * log(b / m);
  }
  *d = acc > 0 ? acc : 0;
  return CJ_OK;
}

/* ---- spike words ----------------------------------------------------------------------- */

int cj_words_letterbits(int maxcount)
{
  int b = 1;
  while (b < 8 && (1 << b) <= maxcount) b++;
  return b;
}

int64_t cj_words_count(const cj_trains *s, const cj_words_spec *w)
{
  int64_t nb = cj_trains_nbins(s, w->dt);
  if (w->L < 1 || w->step < 1 || nb < w->L) return 0;
  return (nb - w->L) / w->step + 1;
}

static int checkspec(const cj_trains *s, const cj_words_spec *w)
{
  int64_t bits = (int64_t)w->L * cj_words_letterbits(w->maxcount);
  if (!(w->dt > 0)) return cj_fail(CJ_EINVAL, "words: bin width must be positive (got %g)", w->dt);
  if (w->L < 1) return cj_fail(CJ_EINVAL, "words: word length must be at least 1 (got %d)", w->L);
  if (w->maxcount < 1 || w->maxcount > 255)
    return cj_fail(CJ_EINVAL, "words: letter cap must be 1..255 (got %d)", w->maxcount);
  if (w->step < 1) return cj_fail(CJ_EINVAL, "words: step must be at least 1 bin");
  if (w->mode == CJ_WORDS_POPULATION) bits *= s->n;
  if (bits > 64)
    return cj_fail(CJ_EINVAL, "words: a word needs %lld bits (%s%d letters of %d bits); at most 64", (long long)bits,
                   w->mode == CJ_WORDS_POPULATION ? "trains x " : "", w->L, cj_words_letterbits(w->maxcount));
  return CJ_OK;
}

int cj_words_letters(const cj_trains *s, const cj_words_spec *w, uint8_t *letters, int64_t nbins)
{
  memset(letters, 0, (size_t)(s->n * nbins));
  for (int64_t j = 0; j < s->n; j++)
    for (int64_t k = s->off[j]; k < s->off[j + 1]; k++) {
      int64_t b = cj_trains_binof(s, w->dt, s->t[k]);
      uint8_t *l = letters + j * nbins + b;
      if (b >= 0 && b < nbins && *l < w->maxcount) (*l)++;
    }
  return CJ_OK;
}

/* keys of train j's words (letters row l of nb bins), nw starts. */
static void rowkeys(const uint8_t *l, const cj_words_spec *w, int bits, int64_t nw, uint64_t *keys)
{
  uint64_t key = 0, mask = bits * w->L >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << (bits * w->L)) - 1);
  int64_t last = (nw - 1) * w->step + w->L;
  for (int64_t b = 0; b < last; b++) {
    key = ((key << bits) | l[b]) & mask;
    if (b + 1 >= w->L && (b + 1 - w->L) % w->step == 0) keys[(b + 1 - w->L) / w->step] = key;
  }
}

int cj_words_keys(const cj_trains *s, const cj_words_spec *w, uint64_t *keys)
{
  int64_t nb = cj_trains_nbins(s, w->dt), nw = cj_words_count(s, w);
  int bits = cj_words_letterbits(w->maxcount), st;
  uint8_t *letters;
  if ((st = checkspec(s, w))) return st;
  if (nw == 0 || s->n == 0) return CJ_OK;
  if (!(letters = cj_malloc((size_t)(s->n * nb)))) return cj_fail(CJ_ENOMEM, "words: out of memory");
  cj_words_letters(s, w, letters, nb);
  if (w->mode == CJ_WORDS_POPULATION) {
    for (int64_t k = 0; k < nw; k++) {
      uint64_t key = 0;
      for (int64_t j = 0; j < s->n; j++)
        for (int i = 0; i < w->L; i++) key = (key << bits) | letters[j * nb + k * w->step + i];
      keys[k] = key;
    }
  } else {
    for (int64_t j = 0; j < s->n; j++) rowkeys(letters + j * nb, w, bits, nw, keys + j * nw);
  }
  cj_free(letters);
  return CJ_OK;
}

int cj_words_tally(uint64_t *keys, int64_t n, uint64_t *uniq, double *cnt, int64_t *m)
{
  int64_t u = 0;
  int st;
  *m = 0;
  if ((st = cj_sort_u64(keys, n))) return st;
  for (int64_t i = 0; i < n; i++) {
    if (u > 0 && keys[i] == uniq[u - 1]) { cnt[u - 1] += 1; continue; }
    uniq[u] = keys[i];
    cnt[u++] = 1;
  }
  *m = u;
  return CJ_OK;
}

/* ---- the incremental counter ----------------------------------------------------------------
 * Two open-addressing tables (linear probing, power-of-two sizes): words
 * (key -> count) and the profile (count -> number of words with it). A
 * word whose count falls to zero keeps its slot (so probing chains stay
 * intact) until the next growth drops it. */

typedef struct { uint64_t key; int64_t n; int used; } slot;
typedef struct { slot *s; int64_t cap, used; } table;

struct cj_info_counter {
  table words, prof;
  int64_t total, distinct;
};

static uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

static slot *find(const table *t, uint64_t key)
{
  uint64_t i = mix(key) & (uint64_t)(t->cap - 1);
  while (t->s[i].used && t->s[i].key != key) i = (i + 1) & (uint64_t)(t->cap - 1);
  return &t->s[i];
}

/* Room for one more slot: grows (dropping zero counts) past 70 % use. */
static int reserve(table *t)
{
  table g;
  if (t->cap && (t->used + 1) * 10 < t->cap * 7) return CJ_OK;
  g.cap = t->cap ? t->cap * 2 : 64;
  g.used = 0;
  if (!(g.s = cj_calloc((size_t)g.cap, sizeof(slot)))) return cj_fail(CJ_ENOMEM, "counter: out of memory");
  for (int64_t i = 0; i < t->cap; i++)
    if (t->s[i].used && t->s[i].n != 0) {
      *find(&g, t->s[i].key) = t->s[i];
      g.used++;
    }
  cj_free(t->s);
  *t = g;
  return CJ_OK;
}

/* Table entry for key, made (count 0) when absent. */
static int entry(table *t, uint64_t key, slot **out)
{
  slot *e;
  int st;
  if (t->cap && (e = find(t, key))->used) { *out = e; return CJ_OK; }
  if ((st = reserve(t))) return st;
  e = find(t, key);
  if (!e->used) { e->used = 1; e->key = key; e->n = 0; t->used++; }
  *out = e;
  return CJ_OK;
}

cj_info_counter *cj_info_counter_new(void)
{
  return cj_calloc(1, sizeof(cj_info_counter));
}

void cj_info_counter_clear(cj_info_counter *c)
{
  cj_free(c->words.s);
  cj_free(c->prof.s);
  memset(c, 0, sizeof *c);
}

void cj_info_counter_free(cj_info_counter *c)
{
  if (!c) return;
  cj_info_counter_clear(c);
  cj_free(c);
}

static int profmove(cj_info_counter *c, int64_t from, int64_t to)
{
  slot *e;
  int st;
  if (from > 0) {
    e = find(&c->prof, (uint64_t)from);
    e->n--;
  }
  if (to > 0) {
    if ((st = entry(&c->prof, (uint64_t)to, &e))) return st;
    e->n++;
  }
  return CJ_OK;
}

int cj_info_counter_add(cj_info_counter *c, uint64_t key, int64_t n)
{
  slot *e;
  int64_t old;
  int st;
  if (n == 0) return CJ_OK;
  if (n < 0 && cj_info_counter_get(c, key) < -n)
    return cj_fail(CJ_EINVAL, "counter: cannot remove %lld copies of a word counted %lld times",
                   (long long)-n, (long long)cj_info_counter_get(c, key));
  /* both tables get their room first, so a failure leaves the counter as it was */
  if ((st = reserve(&c->prof)) || (st = entry(&c->words, key, &e))) return st;
  old = e->n;
  if ((st = profmove(c, old, old + n))) return st;
  e->n = old + n;
  c->total += n;
  c->distinct += (old == 0) - (e->n == 0);
  return CJ_OK;
}

int64_t cj_info_counter_total(const cj_info_counter *c) { return c->total; }

size_t cj_info_counter_bytes(const cj_info_counter *c)
{
  return sizeof *c + sizeof(slot) * (size_t)(c->words.cap + c->prof.cap);
}
int64_t cj_info_counter_distinct(const cj_info_counter *c) { return c->distinct; }

int64_t cj_info_counter_get(const cj_info_counter *c, uint64_t key)
{
  slot *e;
  if (!c->words.cap) return 0;
  e = find(&c->words, key);
  return e->used ? e->n : 0;
}

int cj_info_counter_items(const cj_info_counter *c, uint64_t *keys, double *counts)
{
  int64_t k = 0;
  uint64_t *tmp;
  int st;
  if (!c->distinct) return CJ_OK;
  tmp = cj_malloc(sizeof(uint64_t) * (size_t)c->distinct);
  if (!tmp) return cj_fail(CJ_ENOMEM, "counter: out of memory");
  for (int64_t i = 0; i < c->words.cap; i++)
    if (c->words.s[i].used && c->words.s[i].n > 0) tmp[k++] = c->words.s[i].key;
  if ((st = cj_sort_u64(tmp, k))) { cj_free(tmp); return st; }
  for (int64_t i = 0; i < k; i++) {
    keys[i] = tmp[i];
    counts[i] = (double)cj_info_counter_get(c, tmp[i]);
  }
  cj_free(tmp);
  return CJ_OK;
}

int cj_info_counter_entropy(const cj_info_counter *c, const cj_info_opts *o, cj_info_est *r)
{
  int64_t m = 0;
  double *val, *mult;
  int st;
  if (c->total <= 0) return cj_fail(CJ_EINVAL, "counter: nothing counted");
  if (o->method == CJ_INFO_QE || o->method == CJ_INFO_BOOT) {
    uint64_t *keys = cj_malloc(sizeof(uint64_t) * (size_t)c->distinct);
    double *cnt = cj_malloc(sizeof(double) * (size_t)c->distinct);
    cj_info_opts o2 = *o;
    if (!keys || !cnt) st = cj_fail(CJ_ENOMEM, "counter: out of memory");
    else if (!(st = cj_info_counter_items(c, keys, cnt))) {
      if (o2.K <= 0) o2.K = (double)c->distinct;
      st = cj_info_entropy(cnt, c->distinct, &o2, r);
    }
    cj_free(keys);
    cj_free(cnt);
    return st;
  }
  if (!(val = cj_malloc(sizeof(double) * (size_t)(2 * c->prof.cap + 2))))
    return cj_fail(CJ_ENOMEM, "counter: out of memory");
  mult = val + c->prof.cap + 1;
  for (int64_t i = 0; i < c->prof.cap; i++)
    if (c->prof.s[i].used && c->prof.s[i].n > 0) val[m++] = (double)c->prof.s[i].key;
  /* ascending counts: the sums do not depend on the table's history */
  if (!(st = cj_sort_f64(val, m))) {
    for (int64_t k = 0; k < m; k++) mult[k] = (double)find(&c->prof, (uint64_t)val[k])->n;
    st = cj_info_entropy_profile(val, mult, m, o->K > 0 ? o->K : (double)c->distinct, o->method, r);
  }
  cj_free(val);
  return st;
}

/* ---- the direct method ------------------------------------------------------------------- */

/* Entropy of n keys (sorted here) with alphabet K. */
static int keyentropy(uint64_t *keys, int64_t n, double K, const cj_info_opts *o, uint64_t *uq, double *cnt,
                      cj_info_est *r)
{
  int64_t m;
  cj_info_opts o2 = *o;
  int st;
  if ((st = cj_words_tally(keys, n, uq, cnt, &m))) return st;
  o2.K = K > (double)m ? K : (double)m;
  return cj_info_entropy(cnt, m, &o2, r);
}

/* Least squares y = c0 + c1 x over the points with use[i]; intercept and
 * its standard error propagated from the errors e. */
static int extrapolate(const double *x, const double *y, const double *e, const int *use, int n,
                       double *c0, double *err)
{
  double sx = 0, sxx = 0, k = 0, det, acc = 0, var = 0;
  for (int i = 0; i < n; i++)
    if (use[i]) { k++; sx += x[i]; sxx += x[i] * x[i]; }
  if (k < 1) return cj_fail(CJ_EINVAL, "direct: no word length selected for the extrapolation");
  det = k * sxx - sx * sx;
  for (int i = 0; i < n; i++) {
    double w;
    if (!use[i]) continue;
    w = (k == 1 || det <= 0) ? 1 / k : (sxx - sx * x[i]) / det;   /* intercept weight of point i */
    acc += w * y[i];
    var += w * w * e[i] * e[i];
  }
  *c0 = acc;
  *err = sqrt(var);
  return CJ_OK;
}

int cj_info_direct(const cj_trains *s, double dt, const int *L, const int *fit, int nL, int maxcount,
                   int64_t step, const cj_info_opts *o, cj_direct_out *out)
{
  int64_t n = s->n, maxw = 0;
  double *invL = NULL, *rt = NULL, *rn = NULL, *et = NULL, *en = NULL, *cnt = NULL;
  uint64_t *keys = NULL, *uq = NULL, *col = NULL;
  int st = CJ_OK;
  if (n < 2) return cj_fail(CJ_EINVAL, "direct: at least 2 trials needed (got %lld)", (long long)n);
  if (o->method == CJ_INFO_QE && n < 4)
    return cj_fail(CJ_EINVAL, "direct: the qe correction splits the trials in quarters: at least 4 needed (got %lld)", (long long)n);
  if (nL < 1) return cj_fail(CJ_EINVAL, "direct: no word lengths");
  if (step < 1) return cj_fail(CJ_EINVAL, "direct: step must be at least 1 bin");
  for (int i = 0; i < nL; i++) {
    cj_words_spec w = { dt, L[i], maxcount, 1, CJ_WORDS_EACH };
    if ((st = checkspec(s, &w))) return st;
    if (cj_words_count(s, &w) < 1)
      return cj_fail(CJ_EINVAL, "direct: words of %d bins do not fit in the trials", L[i]);
    if (cj_words_count(s, &w) > maxw) maxw = cj_words_count(s, &w);
  }
  keys = cj_malloc(sizeof(uint64_t) * (size_t)(n * maxw));
  uq = cj_malloc(sizeof(uint64_t) * (size_t)(n * maxw));
  cnt = cj_malloc(sizeof(double) * (size_t)(n * maxw));
  col = cj_malloc(sizeof(uint64_t) * (size_t)n);
  invL = cj_malloc(sizeof(double) * (size_t)(5 * nL));
  if (!keys || !uq || !cnt || !col || !invL) { st = cj_fail(CJ_ENOMEM, "direct: out of memory"); goto done; }
  rt = invL + nL; rn = rt + nL; et = rn + nL; en = et + nL;
  for (int i = 0; i < nL && !st; i++) {
    cj_words_spec w = { dt, L[i], maxcount, 1, CJ_WORDS_EACH };
    int64_t nw = cj_words_count(s, &w), npos = 0;
    double K = pow((double)maxcount + 1, L[i]), hsum = 0, esum = 0;
    cj_info_est r;
    if ((st = cj_words_keys(s, &w, keys))) break;
    /* noise: the words at each start across trials (before the keys are sorted) */
    for (int64_t t = 0; t < nw && !st; t += step) {
      for (int64_t j = 0; j < n; j++) col[j] = keys[j * nw + t];
      if ((st = keyentropy(col, n, K, o, uq, cnt, &r))) break;
      hsum += r.value;
      esum += r.err * r.err;
      npos++;
    }
    if (st) break;
    out->hnoise[i] = hsum / (double)npos;
    out->hnoise_err[i] = sqrt(esum) / (double)npos;
    if ((st = keyentropy(keys, n * nw, K, o, uq, cnt, &r))) break;
    out->htot[i] = r.value;
    out->htot_err[i] = r.err;
    invL[i] = 1.0 / L[i];
    rt[i] = out->htot[i] / (L[i] * dt);
    rn[i] = out->hnoise[i] / (L[i] * dt);
    et[i] = out->htot_err[i] / (L[i] * dt);
    en[i] = out->hnoise_err[i] / (L[i] * dt);
  }
  if (!st) st = extrapolate(invL, rt, et, fit, nL, &out->tot_rate, &out->tot_rate_err);
  if (!st) st = extrapolate(invL, rn, en, fit, nL, &out->noise_rate, &out->noise_rate_err);
  if (!st) {
    out->info_rate = out->tot_rate - out->noise_rate;
    out->info_rate_err = sqrt(out->tot_rate_err * out->tot_rate_err + out->noise_rate_err * out->noise_rate_err);
    out->spike_rate = (double)cj_trains_count(s) / ((double)n * (s->t1 - s->t0));
  }
done:
  cj_free(keys);
  cj_free(uq);
  cj_free(cnt);
  cj_free(col);
  cj_free(invL);
  return st;
}

/* ---- information per spike --------------------------------------------------------------- */

int cj_info_spike_information(const double *r, int64_t n, double *nats)
{
  double mean = 0, acc = 0;
  if (n < 1) return cj_fail(CJ_EINVAL, "spike information: empty rate");
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(r[i]) || r[i] < 0)
      return cj_fail(CJ_EINVAL, "spike information: rates must be finite and non-negative (entry %lld is %g)",
                     (long long)i + 1, r[i]);
    mean += r[i];
  }
  mean /= (double)n;
  if (!(mean > 0)) return cj_fail(CJ_EINVAL, "spike information: the rate is zero everywhere");
  for (int64_t i = 0; i < n; i++)
    if (r[i] > 0) acc += r[i] / mean * log(r[i] / mean);
  *nats = acc / (double)n;
  return CJ_OK;
}
