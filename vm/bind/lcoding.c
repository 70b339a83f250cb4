/*
 * lcoding.c — cj.coding: the Lua face of vm/core/coding.c. Spike trains
 * come as anything cj_checktrains reads (a network's spike monitor, arrays
 * of times, lists of arrays, {times, indices}); binned spikes as count
 * arrays (bins, or neurons x bins). Stimuli are arrays of T bins (T x D for
 * D dimensions) of width opts.dt. Durations are numbers (s) or quantities
 * of time; results carry their units (s, Hz). Models (LNP, GLM) are plain
 * Lua tables of arrays, so a user can build one by hand.
 */
#include "lanalysis.h"

#include <math.h>
#include <string.h>

#include "arrsort.h"
#include "coding.h"

static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

#define TRAINKEYS "t_start", "t_stop"

/* A result per train: a number for one bare train, else an array. */
static void pertrain(lua_State *L, const ltrains *s, const double *v, cj_dim d)
{
  int64_t n = s->tr.n;
  if (s->single) cj_pushquantity(L, v[0], d);
  else memcpy(cj_newf64(L, 1, &n, d), v, sizeof(double) * (size_t)n);
}

static double finitemean(const double *v, int64_t n)
{
  double s = 0;
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) if (isfinite(v[i])) { s += v[i]; k++; }
  return k ? s / (double)k : NAN;
}

static double *scratch(lua_State *L, int64_t n)
{
  return lua_newuserdatauv(L, sizeof(double) * (size_t)(n > 0 ? n : 1), 0);
}

/* ---- spike statistics ------------------------------------------------------------------ */

/* A statistic per train (cj.coding.rates, cj.coding.cv): an array and the
 * mean over trains where it is defined, or a number for one bare train. */
static int pertrainstat(lua_State *L, int (*fn)(const cj_trains *, double *), cj_dim d, int withmean)
{
  static const char *const known[] = { TRAINKEYS, NULL };
  int o = cj_opts(L, 2, known);
  ltrains s;
  double *v;
  cj_checktrains(L, 1, o, &s);
  v = scratch(L, s.tr.n);
  fn(&s.tr, v);
  pertrain(L, &s, v, d);
  if (s.single || !withmean) return 1;
  lua_pushnumber(L, finitemean(v, s.tr.n));
  return 2;
}

static int c_rates(lua_State *L) { return pertrainstat(L, cj_coding_rates, cj_dim_hertz(), 0); }
static int c_cv(lua_State *L) { return pertrainstat(L, cj_coding_cv, cj_dimless, 1); }

static int c_isi(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, NULL };
  int o = cj_opts(L, 2, known);
  ltrains s;
  int64_t n, *own, tot;
  double *isi, *a, *b;
  cj_checktrains(L, 1, o, &s);
  tot = cj_trains_count(&s.tr);
  isi = scratch(L, tot);
  own = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(tot + 1), 0);
  cj_coding_isi(&s.tr, isi, own, &n);
  a = cj_newf64(L, 1, &n, cj_dim_seconds());
  b = cj_newf64(L, 1, &n, cj_dimless);
  for (int64_t k = 0; k < n; k++) { a[k] = isi[k]; b[k] = (double)(own[k] + s.first); }
  return 2;
}

static int c_fano(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, NULL };
  int o = cj_opts(L, 3, known);
  ltrains s;
  double *f;
  if (cj_testarray(L, 2) || lua_istable(L, 2)) {           /* several window sizes */
    int64_t nw, shape[2];
    const double *w;
    double *mean, *all;
    larray *wa = cj_toarray(L, 2);
    if (!cj_dim_isless(wa->dim) && !cj_dim_eq(wa->dim, cj_dim_seconds())) luaL_argerror(L, 2, "windows must be durations");
    w = cj_f64(L, 2, &nw);
    cj_checktrains(L, 1, o, &s);
    f = scratch(L, s.tr.n);
    shape[0] = s.tr.n;
    shape[1] = nw;
    mean = cj_newf64(L, 1, &nw, cj_dimless);
    all = cj_newf64(L, 2, shape, cj_dimless);
    for (int64_t i = 0; i < nw; i++) {
      if (!(w[i] > 0)) luaL_argerror(L, 2, "windows must be positive");
      cj_coding_fano(&s.tr, w[i], f);
      mean[i] = finitemean(f, s.tr.n);
      for (int64_t j = 0; j < s.tr.n; j++) all[j * nw + i] = f[j];
    }
    return 2;
  }
  {
    double w = cj_checkpostime(L, 2, "window");
    cj_checktrains(L, 1, o, &s);
    f = scratch(L, s.tr.n);
    if (cj_coding_fano(&s.tr, w, f)) corefail(L, 2);
    pertrain(L, &s, f, cj_dimless);
    if (s.single) return 1;
    lua_pushnumber(L, finitemean(f, s.tr.n));
    return 2;
  }
}

/* bin starts t0 + k dt, in s */
static void pushtimes(lua_State *L, double t0, double dt, int64_t n)
{
  double *t = cj_newf64(L, 1, &n, cj_dim_seconds());
  for (int64_t k = 0; k < n; k++) t[k] = t0 + (double)k * dt;
}

static int c_psth(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, NULL };
  int o = cj_opts(L, 3, known);
  double dt = cj_checkpostime(L, 2, "bin width");
  ltrains s;
  int64_t nb;
  cj_checktrains(L, 1, o, &s);
  nb = cj_trains_nbins(&s.tr, dt);
  if (cj_coding_psth(&s.tr, dt, cj_newf64(L, 1, &nb, cj_dim_hertz()))) corefail(L, 1);
  pushtimes(L, s.tr.t0, dt, nb);
  return 2;
}

static int c_bin(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, "dtype", NULL };
  int o = cj_opts(L, 3, known);
  double dt = cj_checkpostime(L, 2, "bin width");
  ltrains s;
  cj_dtype t = CJ_I32;
  int64_t shape[2];
  larray *r;
  if (cj_optget(L, o, "dtype") != LUA_TNIL && cj_dtype_parse(lua_tostring(L, -1) ? lua_tostring(L, -1) : "?", &t))
    cj_opterror(L, o, "dtype", "must be float64, float32, int32 or uint8");
  lua_pop(L, 1);
  cj_checktrains(L, 1, o, &s);
  shape[0] = s.tr.n;
  shape[1] = cj_trains_nbins(&s.tr, dt);
  if ((double)shape[0] * (double)shape[1] > 2e9) luaL_argerror(L, 2, "too many bins");
  r = s.single ? cj_newarray(L, t, 1, shape + 1) : cj_newarray(L, t, 2, shape);
  if (cj_trains_bin(&s.tr, dt, &r->a)) corefail(L, 1);
  pushtimes(L, s.tr.t0, dt, shape[1]);
  return 2;
}

static const char *const NORMS[] = { "count", "rate", NULL };
static const char *const PAIRS[] = { "all", "matched", NULL };

/* cj.coding.correlogram(a [, b], bin, window [, opts]) -> counts, lags */
static int c_correlogram(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, "normalize", "pairs", NULL };
  int autoc = !lua_isnoneornil(L, 2) && (lua_type(L, 2) == LUA_TNUMBER || (!cj_testarray(L, 2) && !lua_istable(L, 2)));
  int ab = autoc ? 2 : 3, o = cj_opts(L, ab + 2, known), norm = cj_optchoice(L, o, "normalize", 0, NORMS);
  int pairs = autoc ? 2 : cj_optchoice(L, o, "pairs", 0, PAIRS);
  double bin = cj_checkpostime(L, ab, "bin width"), window = cj_checkpostime(L, ab + 1, "window"), *c, *lag;
  ltrains a, b;
  int64_t nb = (int64_t)floor(2 * window / bin + 0.5), nref = 0;
  if (nb < 1 || fabs((double)nb * bin - 2 * window) > 1e-9 * window)
    luaL_argerror(L, ab + 1, "2 window must be a whole number of bins");
  if (autoc && cj_opthas(L, o, "pairs")) cj_opterror(L, o, "pairs", "is for two sets of trains");
  cj_checktrains(L, 1, o, &a);
  if (autoc) b = a;
  else cj_checktrains(L, 2, o, &b);
  c = cj_newf64(L, 1, &nb, norm ? cj_dim_hertz() : cj_dimless);
  if (cj_coding_correlogram(&a.tr, &b.tr, bin, window, pairs, c, nb)) corefail(L, 2);
  if (norm) {                                     /* the rate of b conditional on a spike of a */
    nref = cj_trains_count(&a.tr);
    for (int64_t k = 0; k < nb; k++) c[k] = nref ? c[k] / ((double)nref * bin) : NAN;
  }
  lag = cj_newf64(L, 1, &nb, cj_dim_seconds());
  for (int64_t k = 0; k < nb; k++) lag[k] = -window + ((double)k + 0.5) * bin;
  return 2;
}

/* Welch options: segment (duration or bins), overlap (fraction) */
static void welchopts(lua_State *L, int o, double dt, int64_t n, int64_t *nseg, int64_t *nover)
{
  double ov = cj_optnum(L, o, "overlap", 0.5);
  *nseg = n < 256 ? n : 256;
  if (cj_optget(L, o, "segment") != LUA_TNIL) {
    double v;
    cj_dim d;
    if (!cj_toquantity(L, -1, &v, &d) || !(cj_dim_isless(d) || cj_dim_eq(d, cj_dim_seconds())) || !(v > 0))
      cj_opterror(L, o, "segment", "must be a positive duration");
    *nseg = (int64_t)floor(v / dt + 0.5);
    if (*nseg < 2 || *nseg > n) cj_opterror(L, o, "segment", "must hold 2 .. %lld bins", (long long)n);
  }
  lua_pop(L, 1);
  if (!(ov >= 0 && ov < 1)) cj_opterror(L, o, "overlap", "must be a fraction in [0, 1)");
  *nover = (int64_t)floor(ov * (double)*nseg);
}

static void pushspectrum(lua_State *L, const double *x, int64_t n, double dt, int o, cj_dim pd)
{
  int64_t nseg, nover, nf;
  double *f;
  welchopts(L, o, dt, n, &nseg, &nover);
  nf = nseg / 2 + 1;
  f = cj_newf64(L, 1, &nf, cj_dim_hertz());
  for (int64_t k = 0; k < nf; k++) f[k] = (double)k / ((double)nseg * dt);
  if (cj_coding_welch(x, n, 1 / dt, nseg, nover, cj_newf64(L, 1, &nf, pd))) corefail(L, 1);
}

/* cj.coding.spectrum(spikes, dt [, opts]) -> f, psd (of the population rate) */
static int c_spectrum(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, "segment", "overlap", NULL };
  int o = cj_opts(L, 3, known);
  double dt = cj_checkpostime(L, 2, "bin width"), *x;
  ltrains s;
  int64_t nb;
  cj_checktrains(L, 1, o, &s);
  nb = cj_trains_nbins(&s.tr, dt);
  if (nb < 2 || s.tr.n < 1) luaL_argerror(L, 2, "fewer than two bins in the window");
  x = scratch(L, nb);
  cj_coding_psth(&s.tr, dt, x);
  pushspectrum(L, x, nb, dt, o, cj_dim_hertz());   /* Hz^2 / Hz */
  return 2;
}

/* cj.coding.welch(x, dt [, opts]) -> f, psd */
static int c_welch(lua_State *L)
{
  static const char *const known[] = { "segment", "overlap", NULL };
  int o = cj_opts(L, 3, known);
  double dt = cj_checkpostime(L, 2, "sample spacing");
  larray *a = cj_toarray(L, 1);
  cj_dim d = cj_dim_div(cj_dim_mul(a->dim, a->dim), cj_dim_hertz());
  int64_t n;
  const double *x;
  if (a->a.ndim != 1) luaL_argerror(L, 1, "1-D signal expected");
  x = cj_f64(L, 1, &n);
  if (n < 2) luaL_argerror(L, 1, "at least two samples expected");
  pushspectrum(L, x, n, dt, o, d);
  return 2;
}

/* cj.coding.time_rescaling(spikes, rate [, opts]) -> ks, p, z, quantiles */
static int c_rescale(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, "dt", "discrete", "seed", NULL };
  int o = cj_opts(L, 3, known), discrete = cj_optbool(L, o, "discrete", 0);
  ltrains s;
  cj_rng own, *rng = NULL;
  double dt, *z, ks, p, one;
  const double *lam;
  int64_t nl, nb, nz;
  cj_checktrains(L, 1, o, &s);
  if (!cj_testarray(L, 2) && !lua_istable(L, 2)) {      /* a constant rate */
    cj_dim d;
    if (!cj_toquantity(L, 2, &one, &d) || !(cj_dim_isless(d) || cj_dim_eq(d, cj_dim_hertz())) || !(one >= 0))
      luaL_argerror(L, 2, "rate must be a number or array of Hz");
    dt = s.tr.t1 - s.tr.t0;
    lam = &one;
    nl = 1;
    nb = 1;
  } else {
    larray *a = cj_toarray(L, 2);
    int64_t n;
    if (!cj_dim_isless(a->dim) && !cj_dim_eq(a->dim, cj_dim_hertz())) luaL_argerror(L, 2, "rate must be in Hz");
    if (!cj_opthas(L, o, "dt")) luaL_argerror(L, 3, "opts.dt (the bin width of the rate) expected");
    dt = cj_opttime(L, o, "dt", 0);
    if (!(dt > 0)) cj_opterror(L, o, "dt", "must be positive");
    nl = a->a.ndim == 2 ? a->a.shape[0] : 1;
    if (a->a.ndim > 2) luaL_argerror(L, 2, "rate must be 1-D (shared) or 2-D (one row per train)");
    lam = cj_f64(L, 2, &n);
    nb = n / nl;
    if (nl != 1 && nl != s.tr.n) {
      lua_pushfstring(L, "%I rows of rates for %I trains", (lua_Integer)nl, (lua_Integer)s.tr.n);
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
  }
  if (discrete) {
    if (nb == 1 && !cj_testarray(L, 2)) luaL_argerror(L, 2, "the discrete test needs a binned rate array and opts.dt");
    if (cj_opthas(L, o, "seed")) { cj_rng_init(&own, (uint64_t)cj_optint(L, o, "seed", 0), 13); rng = &own; }
    else rng = cj_default_rng();
  } else if (cj_opthas(L, o, "seed")) {
    cj_opterror(L, o, "seed", "is for the discrete test");
  }
  z = scratch(L, cj_trains_count(&s.tr));
  if (cj_coding_rescale(&s.tr, lam, nl, nb, dt, rng, z, &nz, &ks, &p)) corefail(L, 2);
  if (nz < 1) luaL_argerror(L, 1, "no spikes to rescale");
  lua_pushnumber(L, ks);
  lua_pushnumber(L, p);
  memcpy(cj_newf64(L, 1, &nz, cj_dimless), z, sizeof(double) * (size_t)nz);
  {
    double *b = cj_newf64(L, 1, &nz, cj_dimless);
    for (int64_t k = 0; k < nz; k++) b[k] = ((double)k + 0.5) / (double)nz;
  }
  return 4;
}

/* ---- stimuli and binned spikes --------------------------------------------------------------- */

typedef struct { const double *s; int64_t T, D; cj_dim dim; } stim;

/* Argument i as a stimulus (T or T x D). */
static void checkstim(lua_State *L, int i, stim *st)
{
  larray *a = cj_toarray(L, i);
  int64_t n;
  if (a->a.ndim != 1 && a->a.ndim != 2) luaL_argerror(L, i, "stimulus must be 1-D (T) or 2-D (T x D)");
  st->T = a->a.shape[0];
  st->D = a->a.ndim == 2 ? a->a.shape[1] : 1;
  st->dim = a->dim;
  st->s = cj_f64(L, i, &n);
  if (st->T < 1 || st->D < 1) luaL_argerror(L, i, "empty stimulus");
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(st->s[k])) luaL_argerror(L, i, "stimulus values must be finite");
}

/* Is argument i spike trains rather than counts? A monitor, a {times =}
 * table, a list whose first entry is an array, or an array with a unit of
 * time; arrays of plain numbers and nested tables of numbers are counts. */
static int trainsarg(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  if (a) return cj_dim_eq(a->dim, cj_dim_seconds());
  if (cj_istrains(L, i)) return 1;
  if (lua_istable(L, i)) {
    int r;
    lua_rawgeti(L, i, 1);
    r = cj_testarray(L, -1) != NULL;
    lua_pop(L, 1);
    return r;
  }
  return 0;
}

/* Argument i as spike counts of N neurons over T bins (N x T, row-major),
 * pushed as a new array or converted in place: trains binned at dt from
 * t_start (T < 0: as many bins as the window holds, *T set), or a count
 * array (T, or N x T). *single: one neuron given as a 1-D thing. */
static const double *checkcounts(lua_State *L, int i, int o, double dt, int64_t *T, int64_t *N, int *single)
{
  if (trainsarg(L, i)) {
    ltrains s;
    int64_t shape[2];
    larray *r;
    if (!(dt > 0)) luaL_argerror(L, i, "spike trains need opts.dt (the bin width)");
    cj_checktrains(L, i, o, &s);
    if (*T < 0) *T = cj_trains_nbins(&s.tr, dt);
    if (cj_trains_nbins(&s.tr, dt) < *T) {
      lua_pushfstring(L, "the spike trains span %I bins of dt, the stimulus %I (set t_stop)",
                      (lua_Integer)cj_trains_nbins(&s.tr, dt), (lua_Integer)*T);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    s.tr.t1 = s.tr.t0 + (double)*T * dt;           /* exactly T bins */
    shape[0] = s.tr.n;
    shape[1] = *T;
    r = cj_newarray(L, CJ_F64, 2, shape);
    if (cj_trains_bin(&s.tr, dt, &r->a)) corefail(L, i);
    lua_replace(L, i);
    *N = s.tr.n;
    *single = s.single;
    return r->a.data;
  } else {
    larray *a = cj_toarray(L, i);
    int64_t n;
    const double *d;
    if (a->a.ndim != 1 && a->a.ndim != 2) luaL_argerror(L, i, "spike counts must be 1-D (T) or 2-D (N x T)");
    *N = a->a.ndim == 2 ? a->a.shape[0] : 1;
    *single = a->a.ndim == 1;
    if (*T < 0) *T = a->a.shape[a->a.ndim - 1];
    if (a->a.shape[a->a.ndim - 1] != *T) {
      lua_pushfstring(L, "spike counts have %I bins, the stimulus %I (spike times need a unit of time)",
                      (lua_Integer)a->a.shape[a->a.ndim - 1], (lua_Integer)*T);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    d = cj_f64(L, i, &n);
    for (int64_t k = 0; k < n; k++)
      if (!(d[k] >= 0) || d[k] != floor(d[k])) luaL_argerror(L, i, "spike counts must be whole and >= 0");
    return d;
  }
}

/* Lags: an integer number of bins, or a duration (with dt). */
static int64_t checklags(lua_State *L, int i, double dt, int64_t max, const char *what)
{
  int isint;
  lua_Integer n = lua_tointegerx(L, i, &isint);
  if (!isint) {
    double v = cj_checkpostime(L, i, what);
    if (!(dt > 0)) {
      lua_pushfstring(L, "%s as a duration needs opts.dt", what);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    n = (lua_Integer)floor(v / dt + 0.5);
  }
  if (n < 1 || n > max) {
    lua_pushfstring(L, "%s must be 1 .. %I bins", what, (lua_Integer)max);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  return (int64_t)n;
}

/* Spikes that are trains need a stimulus bin width. */
#define STIMKEYS "dt", TRAINKEYS

/* cj.coding.sta(stimulus, spikes, lags [, opts]) -> sta, nspikes */
static int c_sta(lua_State *L)
{
  static const char *const known[] = { STIMKEYS, NULL };
  int o = cj_opts(L, 4, known), single;
  stim st;
  double dt = cj_opttime(L, o, "dt", 0), *out, *nsp;
  int64_t N, lags, shape[3];
  const double *y;
  checkstim(L, 1, &st);
  lags = checklags(L, 3, dt, st.T, "lags");
  y = checkcounts(L, 2, o, dt, &st.T, &N, &single);
  shape[0] = N; shape[1] = lags; shape[2] = st.D;
  {
    int nd = st.D > 1 ? 3 : 2;
    larray *r = single ? cj_newarray(L, CJ_F64, nd - 1, shape + 1) : cj_newarray(L, CJ_F64, nd, shape);
    r->dim = st.dim;
    out = r->a.data;
  }
  nsp = scratch(L, N);
  for (int64_t n = 0; n < N; n++)
    if (cj_coding_sta(st.s, st.T, st.D, y + n * st.T, lags, out + n * lags * st.D, &nsp[n])) corefail(L, 3);
  lua_pop(L, 1);
  if (single) lua_pushnumber(L, nsp[0]);
  else memcpy(cj_newf64(L, 1, &N, cj_dimless), nsp, sizeof(double) * (size_t)N);
  return 2;
}

/* cj.coding.stc(stimulus, spikes, lags [, opts]) -> evals, evecs, dc, sta */
static int c_stc(lua_State *L)
{
  static const char *const known[] = { STIMKEYS, NULL };
  int o = cj_opts(L, 4, known), single;
  stim st;
  double dt = cj_opttime(L, o, "dt", 0), nsp;
  int64_t N, lags, p, shape[2];
  const double *y;
  double *ev, *evec, *dc, *sta;
  checkstim(L, 1, &st);
  lags = checklags(L, 3, dt, st.T, "lags");
  y = checkcounts(L, 2, o, dt, &st.T, &N, &single);
  if (N != 1) luaL_argerror(L, 2, "one neuron expected");
  p = lags * st.D;
  if (p > 2000) luaL_argerror(L, 3, "lags x dimensions must be at most 2000");
  shape[0] = shape[1] = p;
  ev = cj_newf64(L, 1, &p, cj_dim_mul(st.dim, st.dim));
  evec = cj_newf64(L, 2, shape, cj_dimless);
  dc = cj_newf64(L, 2, shape, cj_dim_mul(st.dim, st.dim));
  if (cj_coding_stc(st.s, st.T, st.D, y, lags, dc, ev, evec)) corefail(L, 2);
  sta = cj_newf64(L, 1, &p, st.dim);
  cj_coding_sta(st.s, st.T, st.D, y, lags, sta, &nsp);
  return 4;
}

static const char *const BINNINGS[] = { "quantile", "uniform", NULL };

/* cj.coding.lnp(stimulus, spikes, lags [, opts]) -> model */
static int c_lnp(lua_State *L)
{
  static const char *const known[] = { STIMKEYS, "filter", "bins", "binning", NULL };
  int o = cj_opts(L, 4, known), single, quant, top;
  stim st;
  double dt = cj_opttime(L, o, "dt", 0), nsp, *k, *x, *e, *rate, *sum, *cnt, lo = INFINITY, hi = -INFINITY, norm = 0;
  lua_Integer nb = cj_optint(L, o, "bins", 20);
  int64_t N, lags, p, ne, nx;
  const double *y;
  quant = cj_optchoice(L, o, "binning", 0, BINNINGS) == 0;
  if (!(dt > 0)) luaL_argerror(L, 4, "opts.dt (the stimulus bin width) expected: rates are in Hz");
  if (nb < 2 || nb > 100000) cj_opterror(L, o, "bins", "must be 2 .. 100000");
  checkstim(L, 1, &st);
  lags = checklags(L, 3, dt, st.T, "lags");
  y = checkcounts(L, 2, o, dt, &st.T, &N, &single);
  if (N != 1) luaL_argerror(L, 2, "one neuron expected");
  p = lags * st.D;
  nx = st.T - lags + 1;
  ne = nb + 1;
  lua_createtable(L, 0, 8);                      /* stack: model */
  top = lua_gettop(L);
  {
    int64_t shape[2] = { lags, st.D };
    k = st.D > 1 ? cj_newf64(L, 2, shape, cj_dimless) : cj_newf64(L, 1, &lags, cj_dimless);
    lua_setfield(L, top, "filter");
  }
  e = cj_newf64(L, 1, &ne, cj_dimless);
  lua_setfield(L, top, "edges");
  {
    int64_t nbins = (int64_t)nb;
    rate = cj_newf64(L, 1, &nbins, cj_dim_hertz());
    lua_setfield(L, top, "rate");
  }
  x = scratch(L, st.T);
  sum = scratch(L, nb);
  cnt = scratch(L, nb);
  if (cj_optget(L, o, "filter") != LUA_TNIL) {
    int64_t m;
    const double *f = cj_f64(L, -1, &m);
    if (m != p) cj_opterror(L, o, "filter", "must hold lags x dimensions = %lld values", (long long)p);
    memcpy(k, f, sizeof(double) * (size_t)p);
  } else if (cj_coding_sta(st.s, st.T, st.D, y, lags, k, &nsp) || nsp < 1) {
    luaL_argerror(L, 2, "no spikes to estimate a filter from");
  }
  lua_pop(L, 1);
  for (int64_t i = 0; i < p; i++) norm += k[i] * k[i];
  if (!(norm > 0)) luaL_argerror(L, 2, "the filter is zero");
  for (int64_t i = 0; i < p; i++) k[i] /= sqrt(norm);
  cj_coding_project(st.s, st.T, st.D, k, lags, x);
  for (int64_t t = lags - 1; t < st.T; t++) { if (x[t] < lo) lo = x[t]; if (x[t] > hi) hi = x[t]; }
  if (lo == hi) { lo -= 0.5; hi += 0.5; }
  if (quant) {                                  /* equal time in every bin */
    {
      double *srt = scratch(L, nx);
      memcpy(srt, x + lags - 1, sizeof(double) * (size_t)nx);
      if (cj_sort_f64(srt, nx)) corefail(L, 0);
      for (int64_t b = 0; b <= nb; b++) e[b] = srt[(int64_t)floor((double)b * (double)(nx - 1) / (double)nb + 0.5)];
      lua_pop(L, 1);
    }
    for (int64_t b = 1; b <= nb; b++)
      if (!(e[b] > e[b - 1])) luaL_argerror(L, 1, "the projected stimulus has too many ties for quantile bins");
  } else {
    for (int64_t b = 0; b <= nb; b++) e[b] = lo + (hi - lo) * (double)b / (double)nb;
  }
  for (int64_t b = 0; b < nb; b++) sum[b] = cnt[b] = 0;
  for (int64_t t = lags - 1; t < st.T; t++) {
    int64_t b = cj_search_f64(e, nb + 1, x[t], 1) - 1;
    if (b < 0) b = 0;
    if (b >= nb) b = nb - 1;
    sum[b] += y[t];
    cnt[b] += 1;
  }
  for (int64_t b = 0; b < nb; b++) rate[b] = cnt[b] > 0 ? sum[b] / (cnt[b] * dt) : NAN;
  lua_settop(L, top);
  lua_pushnumber(L, dt);
  lua_setfield(L, top, "dt");
  lua_pushinteger(L, (lua_Integer)lags);
  lua_setfield(L, top, "lags");
  return 1;
}

/* A field of model table m as float64 data with n elements (exactly n
 * unless n < 0, then *n is set). */
static const double *field(lua_State *L, int m, const char *k, int64_t *n, int64_t want)
{
  int64_t got;
  const double *d;
  if (lua_getfield(L, m, k) == LUA_TNIL) {
    lua_pushfstring(L, "model has no field '%s'", k);
    luaL_argerror(L, m, lua_tostring(L, -1));
  }
  d = cj_f64(L, -1, &got);
  if (want >= 0 && got != want) {
    lua_pushfstring(L, "model field '%s' has %I values, expected %I", k, (lua_Integer)got, (lua_Integer)want);
    luaL_argerror(L, m, lua_tostring(L, -1));
  }
  if (n) *n = got;
  return d;                                      /* the array stays on the stack */
}

static lua_Integer intfield(lua_State *L, int m, const char *k, lua_Integer def)
{
  int isint;
  lua_Integer v = def;
  if (lua_getfield(L, m, k) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isint);
    if (!isint) {
      lua_pushfstring(L, "model field '%s' must be an integer", k);
      luaL_argerror(L, m, lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);
  return v;
}

static double numfield(lua_State *L, int m, const char *k)
{
  double v;
  cj_dim d;
  lua_getfield(L, m, k);
  if (!cj_toquantity(L, -1, &v, &d)) {
    lua_pushfstring(L, "model field '%s' must be a number", k);
    luaL_argerror(L, m, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

/* cj.coding.lnp_rate(model, stimulus) -> rate (Hz) */
static int c_lnprate(lua_State *L)
{
  stim st;
  int64_t lags, nb, ne, p;
  const double *k, *e, *r;
  double *x, *out;
  luaL_checktype(L, 1, LUA_TTABLE);
  checkstim(L, 2, &st);
  lags = intfield(L, 1, "lags", 0);
  if (lags < 1 || lags > st.T) luaL_argerror(L, 1, "model field 'lags' must be 1 .. the stimulus length");
  p = lags * st.D;
  k = field(L, 1, "filter", NULL, p);
  e = field(L, 1, "edges", &ne, -1);
  r = field(L, 1, "rate", &nb, ne - 1);
  x = scratch(L, st.T);
  cj_coding_project(st.s, st.T, st.D, k, lags, x);
  out = cj_newf64(L, 1, &st.T, cj_dim_hertz());
  for (int64_t t = 0; t < st.T; t++) {
    int64_t b;
    if (isnan(x[t])) { out[t] = NAN; continue; }
    b = cj_search_f64(e, ne, x[t], 1) - 1;
    if (b < 0) b = 0;
    if (b >= nb) b = nb - 1;
    out[t] = r[b];
  }
  return 1;
}

/* ---- the GLM ------------------------------------------------------------------------------------- */

/* default raised-cosine basis of nb functions over lags bins with log offset */
static void cosbasis(lua_State *L, int64_t lags, int64_t nb, double offset, double **out)
{
  double a, endp, last;
  int64_t shape[2] = { lags, nb };
  *out = cj_newf64(L, 2, shape, cj_dimless);
  a = offset > 0 ? log(offset) : 0;
  endp = offset > 0 ? log((double)(lags - 1) + offset) : (double)(lags - 1);
  last = nb > 1 ? a + (endp - a) * (double)(nb - 1) / (double)(nb + 1) : a + (endp - a) / 2;
  last = offset > 0 ? exp(last) - offset : last;
  if (cj_coding_raised_cosine(lags, nb, 0, last, offset, *out)) corefail(L, 0);
}

/* cj.coding.raised_cosine(n, lags [, opts]) -> basis (lags x n) */
static int c_cosine(lua_State *L)
{
  static const char *const known[] = { "first", "last", "offset", NULL };
  int isint;
  lua_Integer nb = lua_tointegerx(L, 1, &isint), lags;
  int o;
  double offset, *b;
  if (!isint || nb < 1 || nb > 1000) luaL_argerror(L, 1, "number of basis functions must be 1 .. 1000");
  lags = lua_tointegerx(L, 2, &isint);
  if (!isint || lags < 1 || lags > 1000000) luaL_argerror(L, 2, "lags must be a positive number of bins");
  o = cj_opts(L, 3, known);
  offset = cj_optnum(L, o, "offset", 1);
  if (!(offset >= 0)) cj_opterror(L, o, "offset", "must be >= 0");
  if (!cj_opthas(L, o, "first") && !cj_opthas(L, o, "last")) {
    cosbasis(L, (int64_t)lags, (int64_t)nb, offset, &b);
  } else {
    int64_t shape[2] = { lags, nb };
    double first = cj_optnum(L, o, "first", 0), last = cj_optnum(L, o, "last", (double)(lags - 1));
    b = cj_newf64(L, 2, shape, cj_dimless);
    if (cj_coding_raised_cosine((int64_t)lags, (int64_t)nb, first, last, offset, b)) corefail(L, 3);
  }
  return 1;
}

static const char *const BASES[] = { "raised_cosine", "none", NULL };

/* cj.coding.glm(stimulus, spikes [, opts]) -> model */
static int c_glm(lua_State *L)
{
  static const char *const known[] = { STIMKEYS, "lags", "hlags", "nk", "nh", "basis", "offset", "coupling",
                                       "l2", "maxit", "tol", NULL };
  int o = cj_opts(L, 3, known), single, basis, top;
  stim st = { NULL, 0, 0, { { 0 } } };
  cj_glm_spec g;
  cj_glm_fit f;
  double dt = cj_opttime(L, o, "dt", 0), offset = cj_optnum(L, o, "offset", 1);
  double *Bk = NULL, *Bh = NULL;
  int64_t N, shape[3];
  const double *y;
  memset(&g, 0, sizeof g);
  if (!(dt > 0)) luaL_argerror(L, 3, "opts.dt (the bin width) expected");
  if (!(offset >= 0)) cj_opterror(L, o, "offset", "must be >= 0");
  basis = cj_optchoice(L, o, "basis", 0, BASES);
  if (!lua_isnil(L, 1)) checkstim(L, 1, &st);
  else st.T = -1;                                /* no stimulus: T from the spikes */
  y = checkcounts(L, 2, o, dt, &st.T, &N, &single);
  g.T = st.T; g.D = st.D; g.N = N; g.dt = dt;
  g.lags = st.D > 0 ? cj_optint(L, o, "lags", 20) : 0;
  g.hlags = cj_optint(L, o, "hlags", 20);
  if (st.D > 0 && (g.lags < 1 || g.lags > st.T)) cj_opterror(L, o, "lags", "must be 1 .. T bins");
  if (g.hlags < 0 || g.hlags >= st.T) cj_opterror(L, o, "hlags", "must be 0 .. T - 1 bins");
  g.nk = cj_optint(L, o, "nk", g.lags < 8 ? g.lags : 8);
  g.nh = cj_optint(L, o, "nh", g.hlags < 8 ? g.hlags : 8);
  if (basis == 0) {
    if (st.D > 0 && (g.nk < 1 || g.nk > g.lags)) cj_opterror(L, o, "nk", "must be 1 .. lags");
    if (g.hlags > 0 && (g.nh < 1 || g.nh > g.hlags)) cj_opterror(L, o, "nh", "must be 1 .. hlags");
    if (st.D > 0) cosbasis(L, g.lags, g.nk, offset, &Bk);
    if (g.hlags > 0) cosbasis(L, g.hlags, g.nh, offset, &Bh);
  } else if (cj_opthas(L, o, "nk") || cj_opthas(L, o, "nh")) {
    cj_opterror(L, o, cj_opthas(L, o, "nk") ? "nk" : "nh", "needs basis = \"raised_cosine\"");
  }
  g.Bk = Bk;
  g.Bh = Bh;
  g.coupling = cj_optbool(L, o, "coupling", N > 1);
  g.l2 = cj_optnum(L, o, "l2", 0);
  g.maxit = (int)cj_optint(L, o, "maxit", 50);
  g.tol = cj_optnum(L, o, "tol", 1e-10);
  if (!(g.l2 >= 0)) cj_opterror(L, o, "l2", "must be >= 0");
  if (g.maxit < 1) cj_opterror(L, o, "maxit", "must be positive");
  lua_createtable(L, 0, 16);                      /* stack: model */
  top = lua_gettop(L);
  f.bias = cj_newf64(L, 1, &N, cj_dimless);
  lua_setfield(L, top, "bias");
  shape[0] = N; shape[1] = g.lags; shape[2] = st.D;
  f.k = cj_newf64(L, 3, shape, st.D > 0 ? cj_dim_div(cj_dimless, st.dim) : cj_dimless);
  lua_setfield(L, top, "k");
  shape[1] = N; shape[2] = g.hlags;
  f.h = cj_newf64(L, 3, shape, cj_dimless);
  lua_setfield(L, top, "h");
  f.loglik = cj_newf64(L, 1, &N, cj_dimless);
  lua_setfield(L, top, "loglik");
  f.iters = lua_newuserdatauv(L, sizeof(int) * (size_t)N, 0);
  f.conv = lua_newuserdatauv(L, sizeof(int) * (size_t)N, 0);
  if (cj_glm_fit_model(&g, st.s, y, &f)) corefail(L, 2);
  lua_createtable(L, (int)N, 0);
  lua_createtable(L, (int)N, 0);
  for (int64_t n = 0; n < N; n++) {
    lua_pushinteger(L, f.iters[n]);
    lua_rawseti(L, -3, n + 1);
    lua_pushboolean(L, f.conv[n]);
    lua_rawseti(L, -2, n + 1);
  }
  lua_setfield(L, top, "converged");
  lua_setfield(L, top, "iterations");
  lua_pop(L, 2);
  lua_pushnumber(L, dt);
  lua_setfield(L, top, "dt");
  if (Bk) { lua_pushvalue(L, top - (Bh ? 2 : 1)); lua_setfield(L, top, "basis_k"); }
  if (Bh) { lua_pushvalue(L, top - 1); lua_setfield(L, top, "basis_h"); }
  return 1;
}

/* The filters of a GLM model table at m: N, lags, hlags, D and data. */
typedef struct { int64_t N, lags, hlags, D; double dt; const double *bias, *k, *h; } glmmodel;

static void readglm(lua_State *L, int m, int64_t D, glmmodel *g)
{
  larray *a;
  luaL_checktype(L, m, LUA_TTABLE);
  g->dt = numfield(L, m, "dt");
  if (!(g->dt > 0)) luaL_argerror(L, m, "model field 'dt' must be positive");
  g->bias = field(L, m, "bias", &g->N, -1);
  if (g->N < 1) luaL_argerror(L, m, "model field 'bias' is empty");
  lua_getfield(L, m, "k");
  a = cj_testarray(L, -1);
  lua_pop(L, 1);
  g->D = D;
  g->lags = 0;
  g->k = NULL;
  if (a && D > 0) {
    if (a->a.ndim != 3 || a->a.shape[0] != g->N || a->a.shape[2] != D)
      luaL_argerror(L, m, "model field 'k' must be N x lags x D (D the stimulus dimensions)");
    g->lags = a->a.shape[1];
    g->k = field(L, m, "k", NULL, -1);
  } else if (D > 0) {
    luaL_argerror(L, m, "model field 'k' expected with a stimulus");
  }
  lua_getfield(L, m, "h");
  a = cj_testarray(L, -1);
  lua_pop(L, 1);
  g->hlags = 0;
  g->h = NULL;
  if (a) {
    if (a->a.ndim != 3 || a->a.shape[0] != g->N || a->a.shape[1] != g->N)
      luaL_argerror(L, m, "model field 'h' must be N x N x hlags");
    g->hlags = a->a.shape[2];
    g->h = field(L, m, "h", NULL, -1);
  }
}

/* cj.coding.glm_rate(model, stimulus, spikes [, opts]) -> intensity (Hz) */
static int c_glmrate(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, NULL };
  int o = cj_opts(L, 4, known), single;
  stim st = { NULL, 0, 0, { { 0 } } };
  glmmodel g;
  int64_t N, shape[2];
  const double *y;
  double *lam;
  if (!lua_isnil(L, 2)) checkstim(L, 2, &st);
  else st.T = -1;
  readglm(L, 1, st.D, &g);
  y = checkcounts(L, 3, o, g.dt, &st.T, &N, &single);
  if (N != g.N) {
    lua_pushfstring(L, "%I spike trains for a model of %I neurons", (lua_Integer)N, (lua_Integer)g.N);
    luaL_argerror(L, 3, lua_tostring(L, -1));
  }
  shape[0] = N;
  shape[1] = st.T;
  lam = single ? cj_newf64(L, 1, shape + 1, cj_dim_hertz()) : cj_newf64(L, 2, shape, cj_dim_hertz());
  if (cj_glm_intensity(st.T, st.D, N, g.dt, st.s, y, g.bias, g.k, g.lags, g.h, g.hlags, lam)) corefail(L, 1);
  return 1;
}

/* cj.coding.glm_simulate(model, stimulus [, opts]) -> counts */
static int c_glmsim(lua_State *L)
{
  static const char *const known[] = { "T", "seed", "max", NULL };
  int o = cj_opts(L, 3, known);
  stim st = { NULL, 0, 0, { { 0 } } };
  glmmodel g;
  cj_rng own, *rng = cj_default_rng();
  lua_Integer mx = cj_optint(L, o, "max", 0);
  int64_t shape[2];
  double *y;
  if (!lua_isnil(L, 2)) {
    checkstim(L, 2, &st);
    if (cj_opthas(L, o, "T")) cj_opterror(L, o, "T", "is set by the stimulus");
  } else {
    st.T = cj_optint(L, o, "T", 0);
    if (st.T < 1) luaL_argerror(L, 3, "without a stimulus, opts.T (number of bins) is needed");
  }
  if (mx < 0 || mx > 1000000) cj_opterror(L, o, "max", "must be 0 .. 1e6");
  if (cj_opthas(L, o, "seed")) { cj_rng_init(&own, (uint64_t)cj_optint(L, o, "seed", 0), 11); rng = &own; }
  readglm(L, 1, st.D, &g);
  shape[0] = g.N;
  shape[1] = st.T;
  y = g.N == 1 ? cj_newf64(L, 1, shape + 1, cj_dimless) : cj_newf64(L, 2, shape, cj_dimless);
  if (cj_glm_simulate(st.T, st.D, g.N, g.dt, st.s, g.bias, g.k, g.lags, g.h, g.hlags, (int)mx, rng, y)) corefail(L, 1);
  return 1;
}

/* ---- decoding ------------------------------------------------------------------------------------ */

/* counts (trials x N, or N) and tuning (G x N); returns data; sets sizes. */
static void decodeargs(lua_State *L, const double **n, int64_t *trials, int64_t *N, int *single,
                       const double **f, int64_t *G)
{
  larray *c = cj_toarray(L, 1), *t = cj_toarray(L, 2);
  int64_t m;
  if (c->a.ndim != 1 && c->a.ndim != 2) luaL_argerror(L, 1, "counts must be 1-D (N) or 2-D (trials x N)");
  if (t->a.ndim != 2) luaL_argerror(L, 2, "tuning must be 2-D (stimuli x neurons)");
  if (!cj_dim_isless(t->dim) && !cj_dim_eq(t->dim, cj_dim_hertz())) luaL_argerror(L, 2, "tuning rates must be in Hz");
  *single = c->a.ndim == 1;
  *N = c->a.shape[c->a.ndim - 1];
  *trials = *single ? 1 : c->a.shape[0];
  *G = t->a.shape[0];
  if (t->a.shape[1] != *N) {
    lua_pushfstring(L, "tuning has %I neurons, the counts %I", (lua_Integer)t->a.shape[1], (lua_Integer)*N);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  if (*G < 1 || *N < 1) luaL_argerror(L, 2, "empty tuning");
  *n = cj_f64(L, 1, &m);
  *f = cj_f64(L, 2, &m);
}

static double *tracksout(lua_State *L, int single, int64_t trials, int64_t G, cj_dim d)
{
  int64_t shape[2] = { trials, G };
  return single ? cj_newf64(L, 1, &G, d) : cj_newf64(L, 2, shape, d);
}

/* cj.coding.loglikelihood(counts, tuning, window) */
static int c_loglik(lua_State *L)
{
  const double *n, *f;
  int64_t trials, N, G;
  int single;
  double w = cj_checkpostime(L, 3, "window");
  decodeargs(L, &n, &trials, &N, &single, &f, &G);
  if (cj_decode_loglik(n, trials, N, f, G, w, tracksout(L, single, trials, G, cj_dimless))) corefail(L, 1);
  return 1;
}

static const double *optprior(lua_State *L, int o, int64_t G)
{
  const double *p;
  int64_t m;
  if (cj_optget(L, o, "prior") == LUA_TNIL) { lua_pop(L, 1); return NULL; }
  p = cj_f64(L, -1, &m);
  if (m != G) cj_opterror(L, o, "prior", "must have one value per stimulus (%lld)", (long long)G);
  return p;
}

static const char *const DECODERS[] = { "ml", "map", "mean", NULL };

/* cj.coding.decode(counts, tuning, window [, opts]) -> estimates, posterior */
static int c_decode(lua_State *L)
{
  static const char *const known[] = { "method", "prior", "grid", "interpolate", NULL };
  int o = cj_opts(L, 4, known), single, method = cj_optchoice(L, o, "method", 0, DECODERS);
  int interp = cj_optbool(L, o, "interpolate", 1), uniform = 1;
  const double *n, *f, *prior, *grid = NULL;
  int64_t trials, N, G;
  double w = cj_checkpostime(L, 3, "window"), *ll, *post, *est;
  cj_dim gd = cj_dimless;
  decodeargs(L, &n, &trials, &N, &single, &f, &G);
  prior = optprior(L, o, G);
  if (method == 1 && !prior) cj_opterror(L, o, "prior", "is needed for the MAP estimate");
  if (cj_optget(L, o, "grid") != LUA_TNIL) {
    int64_t m;
    larray *ga = cj_toarray(L, -1);
    gd = ga->dim;
    grid = cj_f64(L, -1, &m);
    if (m != G) cj_opterror(L, o, "grid", "must have one value per stimulus (%lld)", (long long)G);
    for (int64_t gi = 2; gi < G; gi++)
      if (fabs((grid[gi] - grid[gi - 1]) - (grid[1] - grid[0])) > 1e-9 * fabs(grid[1] - grid[0])) uniform = 0;
  }
  ll = scratch(L, trials * G);
  if (cj_decode_loglik(n, trials, N, f, G, w, ll)) corefail(L, 1);
  post = tracksout(L, single, trials, G, cj_dimless);
  if (cj_decode_posterior(ll, trials, G, prior, post)) corefail(L, 1);
  est = single ? cj_newf64(L, 0, NULL, gd) : cj_newf64(L, 1, &trials, gd);
  for (int64_t tr = 0; tr < trials; tr++) {
    double x;
    if (method == 2) {                           /* posterior mean */
      x = 0;
      for (int64_t gi = 0; gi < G; gi++) x += post[tr * G + gi] * (grid ? grid[gi] : (double)(gi + 1));
    } else {
      double *v = method == 0 ? ll + tr * G : post + tr * G, *lp = NULL, idx;
      if (method == 1) {                          /* log posterior for the interpolation */
        lp = scratch(L, G);
        for (int64_t gi = 0; gi < G; gi++) lp[gi] = log(v[gi]);
        v = lp;
      }
      idx = cj_decode_argmax(v, G, interp && uniform);
      if (lp) lua_pop(L, 1);
      if (grid) {
        int64_t i0 = (int64_t)floor(idx);
        x = i0 + 1 < G ? grid[i0] + (idx - (double)i0) * (grid[i0 + 1] - grid[i0]) : grid[i0];
      } else {
        x = idx + 1;
      }
    }
    est[tr] = x;
  }
  if (single) {
    lua_pop(L, 1);
    cj_pushquantity(L, est[0], gd);
  }
  lua_pushvalue(L, -2);                          /* the posterior */
  return 2;
}

/* the Poisson log likelihood ratio of counts (N) given rates a, b over w */
static double llr(const double *c, const double *ra, const double *rb, int64_t N, double w)
{
  double acc = 0;
  for (int64_t i = 0; i < N; i++) {
    if (c[i] > 0) acc += c[i] * (log(ra[i]) - log(rb[i]));
    acc -= (ra[i] - rb[i]) * w;
  }
  return acc;
}

/* two rate vectors of N (Hz, > 0) at args 2, 3 */
static void ratepair(lua_State *L, int64_t N, const double **ra, const double **rb)
{
  int64_t m;
  for (int i = 2; i <= 3; i++) {
    larray *a = cj_toarray(L, i);
    const double *d;
    if (!cj_dim_isless(a->dim) && !cj_dim_eq(a->dim, cj_dim_hertz())) luaL_argerror(L, i, "rates must be in Hz");
    d = cj_f64(L, i, &m);
    if (m != N) {
      lua_pushfstring(L, "%I rates for %I neurons", (lua_Integer)m, (lua_Integer)N);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    for (int64_t k = 0; k < m; k++)
      if (!(d[k] > 0) || !isfinite(d[k])) luaL_argerror(L, i, "rates must be finite and positive");
    *(i == 2 ? ra : rb) = d;
  }
}

/* log threshold of the Bayes decision with priors and losses */
static double bayesthreshold(lua_State *L, int o)
{
  double pa = cj_optnum(L, o, "prior", 0.5), la = cj_optnum(L, o, "loss_a", 1), lb = cj_optnum(L, o, "loss_b", 1);
  if (!(pa > 0 && pa < 1)) cj_opterror(L, o, "prior", "must be a probability in (0, 1)");
  if (!(la > 0) || !isfinite(la)) cj_opterror(L, o, "loss_a", "must be positive");
  if (!(lb > 0) || !isfinite(lb)) cj_opterror(L, o, "loss_b", "must be positive");
  return log(((1 - pa) * la) / (pa * lb));
}

/* cj.coding.lrt(counts, rates_a, rates_b, window [, opts]) -> decisions, loglr */
static int c_lrt(lua_State *L)
{
  static const char *const known[] = { "prior", "loss_a", "loss_b", NULL };
  int o = cj_opts(L, 5, known);
  larray *c = cj_toarray(L, 1);
  double w = cj_checkpostime(L, 4, "window"), th = bayesthreshold(L, o), *lr;
  const double *n, *ra, *rb;
  int64_t N, trials, m;
  larray *dec;
  if (c->a.ndim != 1 && c->a.ndim != 2) luaL_argerror(L, 1, "counts must be 1-D (N) or 2-D (trials x N)");
  N = c->a.shape[c->a.ndim - 1];
  trials = c->a.ndim == 2 ? c->a.shape[0] : 1;
  n = cj_f64(L, 1, &m);
  ratepair(L, N, &ra, &rb);
  for (int64_t k = 0; k < m; k++)
    if (!(n[k] >= 0) || n[k] != floor(n[k])) luaL_argerror(L, 1, "counts must be whole and >= 0");
  dec = cj_newarray(L, CJ_U8, 1, &trials);
  lr = cj_newf64(L, 1, &trials, cj_dimless);
  for (int64_t tr = 0; tr < trials; tr++) {
    lr[tr] = llr(n + tr * N, ra, rb, N, w);
    ((uint8_t *)dec->a.data)[tr] = lr[tr] > th;
  }
  if (c->a.ndim == 1) {
    lua_pushboolean(L, lr[0] > th);
    lua_pushnumber(L, lr[0]);
  }
  return 2;
}

/* cj.coding.sprt(counts, rates_a, rates_b, dt [, opts]) -> decision, time, loglr */
static int c_sprt(lua_State *L)
{
  static const char *const known[] = { "alpha", "beta", "prior", "loss_a", "loss_b", NULL };
  int o = cj_opts(L, 5, known), single;
  double dt = cj_checkpostime(L, 4, "bin width"), th = bayesthreshold(L, o);
  double alpha = cj_optnum(L, o, "alpha", 0.05), beta = cj_optnum(L, o, "beta", 0.05), A, B, start;
  double pa = cj_optnum(L, o, "prior", 0.5), *path, *dec, *tm;
  const double *n, *ra, *rb;
  int64_t N, steps, trials, m;
  larray *c;
  if (!(alpha > 0 && alpha < 0.5)) cj_opterror(L, o, "alpha", "must be in (0, 0.5)");
  if (!(beta > 0 && beta < 0.5)) cj_opterror(L, o, "beta", "must be in (0, 0.5)");
  if (cj_istrains(L, 1) || (lua_istable(L, 1) && !cj_testarray(L, 1))) {   /* one trial: neurons' trains */
    ltrains s;
    int64_t shape[2];
    larray *r;
    cj_checktrains(L, 1, 0, &s);
    shape[0] = cj_trains_nbins(&s.tr, dt);
    shape[1] = s.tr.n;
    r = cj_newarray(L, CJ_F64, 2, shape);
    {
      int64_t sh2[2] = { s.tr.n, shape[0] };
      larray *b = cj_newarray(L, CJ_F64, 2, sh2);
      cj_array tv;
      if (cj_trains_bin(&s.tr, dt, &b->a) || cj_array_transpose(&tv, &b->a, 0, 1) || cj_array_copy(&r->a, &tv))
        corefail(L, 1);
      lua_pop(L, 1);
    }
    lua_replace(L, 1);
  }
  c = cj_toarray(L, 1);
  if (c->a.ndim != 2 && c->a.ndim != 3) luaL_argerror(L, 1, "counts must be steps x N (one trial) or trials x steps x N");
  single = c->a.ndim == 2;
  trials = single ? 1 : c->a.shape[0];
  steps = c->a.shape[c->a.ndim - 2];
  N = c->a.shape[c->a.ndim - 1];
  n = cj_f64(L, 1, &m);
  ratepair(L, N, &ra, &rb);
  for (int64_t k = 0; k < m; k++)
    if (!(n[k] >= 0) || n[k] != floor(n[k])) luaL_argerror(L, 1, "counts must be whole and >= 0");
  A = log((1 - beta) / alpha);                    /* Wald's thresholds on the log likelihood ratio */
  B = log(beta / (1 - alpha));
  start = log(pa / (1 - pa));                     /* the evidence starts at the prior log odds */
  dec = trials == 1 && single ? scratch(L, 1) : cj_newf64(L, 1, &trials, cj_dimless);
  tm = trials == 1 && single ? scratch(L, 1) : cj_newf64(L, 1, &trials, cj_dim_seconds());
  path = single ? cj_newf64(L, 1, &steps, cj_dimless) : scratch(L, steps);
  for (int64_t tr = 0; tr < trials; tr++) {
    double v = start;
    dec[tr] = NAN;
    tm[tr] = NAN;
    for (int64_t k = 0; k < steps; k++) {
      v += llr(n + (tr * steps + k) * N, ra, rb, N, dt);
      path[k] = v;
      if (isnan(dec[tr]) && (v >= A + start || v <= B + start)) {
        dec[tr] = v >= A + start;
        tm[tr] = (double)(k + 1) * dt;
      }
    }
    if (isnan(dec[tr])) dec[tr] = v - start > th ? 1 : 0;   /* no threshold crossed: Bayes' rule at the end */
  }
  if (single) {
    lua_pushboolean(L, dec[0] == 1);
    cj_pushquantity(L, tm[0], cj_dim_seconds());
    lua_pushvalue(L, -3);                         /* path */
    return 3;
  }
  lua_pop(L, 1);                                  /* scratch path */
  return 2;
}

/* cj.coding.population_vector(rates, preferred [, opts]) -> angle, length */
static int c_popvec(lua_State *L)
{
  static const char *const known[] = { "period", "baseline", NULL };
  int o = cj_opts(L, 3, known);
  larray *r = cj_toarray(L, 1);
  double period = cj_optnum(L, o, "period", 2 * M_PI), base = cj_optnum(L, o, "baseline", 0), *ang, *len;
  const double *rt, *pr;
  int64_t N, trials, m;
  if (!(period > 0)) cj_opterror(L, o, "period", "must be positive");
  if (r->a.ndim != 1 && r->a.ndim != 2) luaL_argerror(L, 1, "rates must be 1-D (N) or 2-D (trials x N)");
  N = r->a.shape[r->a.ndim - 1];
  trials = r->a.ndim == 2 ? r->a.shape[0] : 1;
  rt = cj_f64(L, 1, &m);
  pr = cj_f64(L, 2, &m);
  if (m != N) luaL_argerror(L, 2, "one preferred angle per neuron expected");
  ang = cj_newf64(L, 1, &trials, cj_dimless);
  len = cj_newf64(L, 1, &trials, cj_dimless);
  for (int64_t tr = 0; tr < trials; tr++) {
    double x = 0, y = 0;
    for (int64_t i = 0; i < N; i++) {
      double a = 2 * M_PI * pr[i] / period, v = rt[tr * N + i] - base;
      x += v * cos(a);
      y += v * sin(a);
    }
    ang[tr] = atan2(y, x) * period / (2 * M_PI);
    if (ang[tr] < 0) ang[tr] += period;
    len[tr] = sqrt(x * x + y * y);
  }
  if (r->a.ndim == 1) {
    lua_pushnumber(L, ang[0]);
    lua_pushnumber(L, len[0]);
  }
  return 2;
}

/* cj.coding.reconstruct(spikes, stimulus, dt [, opts]) -> estimate, filters, stats */
static int c_reconstruct(lua_State *L)
{
  static const char *const known[] = { TRAINKEYS, "pre", "post", "l2", "filters", NULL };
  int o = cj_opts(L, 4, known), single, fi = 0;
  double dt = cj_checkpostime(L, 3, "bin width"), l2 = cj_optnum(L, o, "l2", 0), c = 0, *K, *est, mean = 0, vs = 0, ve = 0;
  larray *sa = cj_toarray(L, 2);
  int64_t T, N, pre = cj_optint(L, o, "pre", 20), post = cj_optint(L, o, "post", 20), nl, m, shape[2];
  const double *s, *y, *Kg = NULL;
  if (sa->a.ndim != 1) luaL_argerror(L, 2, "stimulus must be 1-D");
  T = sa->a.shape[0];
  s = cj_f64(L, 2, &m);
  if (!(l2 >= 0)) cj_opterror(L, o, "l2", "must be >= 0");
  if (pre < 0 || post < 0 || pre + post + 1 > T) cj_opterror(L, o, "pre", "and post must be >= 0 bins with pre + post < T");
  y = checkcounts(L, 1, o, dt, &T, &N, &single);
  nl = pre + post + 1;
  if (cj_optget(L, o, "filters") != LUA_TNIL) {  /* apply the filters of an earlier fit */
    fi = lua_gettop(L);
    if (!lua_istable(L, fi)) cj_opterror(L, o, "filters", "must be the stats table of an earlier reconstruction");
    Kg = field(L, fi, "filters", &m, N * nl);
    c = numfield(L, fi, "c");
  }
  shape[0] = N;
  shape[1] = nl;
  est = cj_newf64(L, 1, &T, sa->dim);
  K = cj_newf64(L, 2, shape, sa->dim);
  if (Kg) {
    memcpy(K, Kg, sizeof(double) * (size_t)(N * nl));
    if (cj_decode_apply(y, N, T, K, pre, post, c, est)) corefail(L, 1);
  } else if (cj_decode_linear(y, N, T, s, pre, post, l2, K, &c, est)) {
    corefail(L, 1);
  }
  for (int64_t t = 0; t < T; t++) mean += s[t];
  mean /= (double)T;
  for (int64_t t = 0; t < T; t++) { vs += (s[t] - mean) * (s[t] - mean); ve += (s[t] - est[t]) * (s[t] - est[t]); }
  lua_createtable(L, 0, 6);                      /* stack: est, K, stats */
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "filters");
  cj_pushquantity(L, c, sa->dim);
  lua_setfield(L, -2, "c");
  lua_pushnumber(L, vs > 0 ? 1 - ve / vs : NAN);
  lua_setfield(L, -2, "r2");
  lua_pushnumber(L, vs > 0 ? 1 - sqrt(ve / vs) : NAN);
  lua_setfield(L, -2, "coding_fraction");
  pushtimes(L, -(double)pre * dt, dt, nl);
  lua_setfield(L, -2, "lags");
  return 3;
}

/* ---- registration ------------------------------------------------------------------------------- */

static const luaL_Reg funcs[] = {
  { "rates", c_rates }, { "isi", c_isi }, { "cv", c_cv }, { "fano", c_fano }, { "psth", c_psth },
  { "bin", c_bin }, { "correlogram", c_correlogram }, { "spectrum", c_spectrum }, { "welch", c_welch },
  { "time_rescaling", c_rescale }, { "sta", c_sta }, { "stc", c_stc }, { "lnp", c_lnp },
  { "lnp_rate", c_lnprate }, { "raised_cosine", c_cosine }, { "glm", c_glm }, { "glm_rate", c_glmrate },
  { "glm_simulate", c_glmsim }, { "population_vector", c_popvec }, { "loglikelihood", c_loglik },
  { "decode", c_decode }, { "lrt", c_lrt }, { "sprt", c_sprt }, { "reconstruct", c_reconstruct },
  { NULL, NULL }
};

#define SPIKES "\nspikes: a spike monitor (net.spikes.E), an array of spike times, a list of arrays or\n" \
  "{times =, indices =}; opts.t_start, opts.t_stop set the window (default 0 to the monitor's\n" \
  "duration or the last spike)."

static const cj_doc docs[] = {
  { "rates", "cj.coding.rates(spikes [, opts]) -> Hz\n"
    "Mean rate of each train over the window (an array; a number for one train)." SPIKES },
  { "isi", "cj.coding.isi(spikes [, opts]) -> intervals, trains\n"
    "Inter-spike intervals (s) of every train, concatenated, and the 1-based train of each\n"
    "(cj.histogram(isi) gives the ISI distribution)." SPIKES },
  { "cv", "cj.coding.cv(spikes [, opts]) -> cv [, mean]\n"
    "Coefficient of variation std/mean of each train's intervals (std with ddof 0, as\n"
    "scipy.stats.variation); NaN with fewer than 2 intervals; the mean over trains with a value." SPIKES },
  { "fano", "cj.coding.fano(spikes, window [, opts]) -> F [, mean]\n"
    "Fano factor var/mean (ddof 0) of each train's spike counts in consecutive windows of that\n"
    "width; NaN for silent trains. window an array of widths: the mean F per width and a\n"
    "trains x widths matrix." SPIKES },
  { "psth", "cj.coding.psth(spikes, bin [, opts]) -> rate, t\n"
    "Peri-stimulus time histogram: spikes of all trains (trials) per bin / (trains x bin), in Hz,\n"
    "and the start of each bin." SPIKES },
  { "bin", "cj.coding.bin(spikes, dt [, opts]) -> counts, t\n"
    "Spike counts per bin: trains x bins (1-D for one train), int32 unless opts.dtype; the start\n"
    "of each bin. A last partial bin is dropped." SPIKES },
  { "correlogram", "cj.coding.correlogram(a [, b], bin, window [, opts]) -> counts, lags\n"
    "Cross-correlogram of lags t_b - t_a in [-window, window] (2 window a whole number of bins),\n"
    "pooled over all pairs of trains (opts.pairs = \"matched\": train j of a with train j of b);\n"
    "without b the autocorrelogram of each train with itself, zero-lag self pairs excluded.\n"
    "opts.normalize = \"rate\": counts / (spikes of a x bin), the rate of b around a spike of a." SPIKES },
  { "spectrum", "cj.coding.spectrum(spikes, dt [, opts]) -> f, psd\n"
    "Power spectrum of the population rate (spikes of all trains per bin / (trains dt), Hz) by\n"
    "Welch's method as scipy.signal.welch: periodic Hann window, opts.segment (a duration;\n"
    "default 256 bins), opts.overlap (fraction, default 0.5), mean removed, one-sided density\n"
    "in Hz^2/Hz." SPIKES },
  { "welch", "cj.coding.welch(x, dt [, opts]) -> f, psd\n"
    "Welch power spectral density of a signal sampled every dt, as cj.coding.spectrum\n"
    "(units: x's squared per Hz)." },
  { "time_rescaling", "cj.coding.time_rescaling(spikes, rate [, opts]) -> ks, p, z, quantiles\n"
    "Goodness of fit of an intensity (Brown et al. 2002): rate a constant (Hz) or an array\n"
    "sampled every opts.dt (1-D shared, or one row per train; piecewise constant). The\n"
    "rescaled intervals tau (from t_start to the first spike, then between spikes) give\n"
    "z = 1 - exp(-tau), uniform when the model is right; ks is their Kolmogorov-Smirnov\n"
    "distance, p its p-value; z sorted and the model quantiles (k - 1/2)/n make the KS plot\n"
    "(95% band +- 1.36/sqrt(n)). opts.discrete = true: the discrete-time test of Haslinger et\n"
    "al. (2010) for models of binned spikes such as the GLM (the spike's bin enters through a\n"
    "random fraction of its spike probability; opts.seed), exact where bins are coarse." SPIKES },
  { "sta", "cj.coding.sta(stimulus, spikes, lags [, opts]) -> sta, nspikes\n"
    "Spike-triggered average: sta[l] = mean stimulus l - 1 bins before a spike's bin (l = 1 ..\n"
    "lags), over spikes with a full history. stimulus T or T x D; spikes a count array (T, or\n"
    "N x T: one STA per neuron) or trains binned at opts.dt (the stimulus bin width) from\n"
    "t_start. lags in bins, or a duration with opts.dt. Keeps the stimulus unit." },
  { "stc", "cj.coding.stc(stimulus, spikes, lags [, opts]) -> eigenvalues, eigenvectors, dC, sta\n"
    "Spike-triggered covariance minus the stimulus covariance (dC, lags D x lags D) and its\n"
    "eigendecomposition (descending; vectors in columns; entry (l-1) D + d is lag l, dimension\n"
    "d). Arguments as cj.coding.sta, one neuron." },
  { "lnp", "cj.coding.lnp(stimulus, spikes, lags [, opts]) -> model\n"
    "Linear-nonlinear-Poisson model: the filter (the STA, or opts.filter, unit norm), and the\n"
    "nonlinearity by Bayes' rule P(spike | x) = P(x | spike) P(spike) / P(x) from histograms of\n"
    "the filtered stimulus x at all times and at spikes: rate[b] = spikes / (time) in bin b\n"
    "(Hz; opts.bins, default 20; opts.binning \"quantile\" (equal time, default) or \"uniform\").\n"
    "opts.dt is required. model = {filter, edges, rate, dt, lags}." },
  { "lnp_rate", "cj.coding.lnp_rate(model, stimulus) -> rate\n"
    "The rate (Hz) an LNP model predicts for each bin (NaN before lags bins of history)." },
  { "raised_cosine", "cj.coding.raised_cosine(n, lags [, opts]) -> basis\n"
    "n raised-cosine bumps over lags bins (lags x n), log-stretched as in Pillow et al. (2008):\n"
    "(cos(clamp((log(t + offset) - c_j) pi / (2 delta), -pi, pi)) + 1) / 2; opts.offset (bins,\n"
    "default 1; 0 gives linear spacing), opts.first and opts.last (peak positions in bins;\n"
    "default: bumps filling the window)." },
  { "glm", "cj.coding.glm(stimulus, spikes [, opts]) -> model\n"
    "Poisson GLM (Pillow et al. 2008): lambda_n(t) = exp(b_n + k_n * s + h_n * y_n + sum_m c_nm * y_m),\n"
    "stimulus filter k (opts.lags bins, default 20), post-spike filter h and coupling filters\n"
    "(opts.hlags, default 20; opts.coupling, default with several neurons), each on opts.nk /\n"
    "opts.nh raised cosines (default 8; opts.basis = \"none\" fits every lag), fitted by Newton's\n"
    "method (IRLS) with a line search on the concave log-likelihood, optional ridge opts.l2.\n"
    "stimulus T or T x D (or nil), spikes counts (N x T) or trains binned at opts.dt (required).\n"
    "model = {dt, bias (N), k (N x lags x D), h (N x N x hlags: h[n][n] post-spike, h[n][m]\n"
    "coupling from m), loglik, iterations, converged, basis_k, basis_h}." },
  { "glm_rate", "cj.coding.glm_rate(model, stimulus, spikes [, opts]) -> lambda\n"
    "Conditional intensity (Hz) of each neuron given the stimulus and the observed spikes (for\n"
    "cj.coding.time_rescaling)." },
  { "glm_simulate", "cj.coding.glm_simulate(model, stimulus [, opts]) -> counts\n"
    "Spike counts drawn from a GLM bin by bin (Poisson of lambda dt, the history from the spikes\n"
    "drawn); opts.seed, opts.max (count cap), opts.T (bins, without a stimulus)." },
  { "population_vector", "cj.coding.population_vector(rates, preferred [, opts]) -> angle, length\n"
    "Population vector sum_i (r_i - baseline) (cos, sin)(2 pi theta_i / period): its angle (in\n"
    "[0, period)) and length, per trial for a trials x N matrix. opts.period (default 2 pi; pi\n"
    "for orientations), opts.baseline." },
  { "loglikelihood", "cj.coding.loglikelihood(counts, tuning, window) -> ll\n"
    "Poisson log-likelihood sum_i n_i log(f_i(s) w) - f_i(s) w - log n_i! of spike counts\n"
    "(N, or trials x N) in a window w under each stimulus of the tuning table (stimuli x N, Hz)." },
  { "decode", "cj.coding.decode(counts, tuning, window [, opts]) -> estimate, posterior\n"
    "Bayesian decoding of a Poisson population over a stimulus grid: opts.method = \"ml\"\n"
    "(default), \"map\" (needs opts.prior) or \"mean\" (posterior mean); opts.grid (the stimulus\n"
    "values, default 1 .. G), opts.interpolate (default true: the vertex of a parabola through\n"
    "the peak on an equally spaced grid). The posterior (per trial) sums to one." },
  { "lrt", "cj.coding.lrt(counts, rates_a, rates_b, window [, opts]) -> decision, loglr\n"
    "Likelihood-ratio test between two Poisson populations: decide a when log LR > log((1 - P(a))\n"
    "loss_a / (P(a) loss_b)); opts.prior = P(a) (0.5), opts.loss_a (cost of answering a when b is\n"
    "true), opts.loss_b. counts N (boolean result) or trials x N (uint8 array)." },
  { "sprt", "cj.coding.sprt(counts, rates_a, rates_b, dt [, opts]) -> decision, time, path\n"
    "Sequential probability ratio test: the log LR summed bin by bin (counts steps x N, or\n"
    "trials x steps x N, or one trial's spike trains binned at dt), starting at the prior log\n"
    "odds, stops at Wald's thresholds log((1 - beta)/alpha) and log(beta/(1 - alpha)) (opts.alpha,\n"
    "opts.beta: error rates, default 0.05); undecided at the end: the Bayes rule of cj.coding.lrt\n"
    "(priors and losses) and time NaN. One trial: decision (true = a), time, log odds path." },
  { "reconstruct", "cj.coding.reconstruct(spikes, stimulus, dt [, opts]) -> estimate, filters, stats\n"
    "Optimal linear stimulus reconstruction: least squares (ridge opts.l2) of the stimulus (T\n"
    "bins of dt) on the binned spikes at lags -opts.pre .. opts.post bins (default 20 each):\n"
    "s(t) ~ c + sum_i sum_tau K_i(tau) y_i(t - tau). stats = {filters, c, r2, coding_fraction\n"
    "(1 - rms error / std), lags (s)}; opts.filters = stats applies them to new spikes." },
  { NULL, NULL }
};

void cj_open_coding(lua_State *L)
{
  luaL_newlib(L, funcs);
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "coding");
}
