/*
 * linfo.c — cj.info: the Lua face of vm/core/info.c. Entropies and
 * informations of probability tables, count tables or paired samples, with
 * the bias corrections of info.h, in bits unless asked otherwise; spike
 * words and word counters; the direct method; information per spike.
 *
 * A table is read as probabilities or counts: integer dtypes and float
 * tables of whole numbers summing to more than one are counts; anything
 * else must sum to one (opts.counts forces either reading). Estimates come
 * back as value, standard error, details (a table: plugin, bias, N, bins,
 * p, null_mean, null_sd, method). Resampling draws from the generator of
 * opts.seed, else from the module generator (cj.seed).
 */
#include "lanalysis.h"

#include <math.h>
#include <string.h>

#include "arrhist.h"
#include "arrsort.h"
#include "info.h"

#define CJ_COUNTER "cajal.info.counter"

static const char *const METHODS[] = {
  "none", "miller_madow", "panzeri_treves", "qe", "nsb", "shuffle", "bootstrap", NULL
};

typedef struct {
  cj_info_opts o;
  double scale;          /* nats -> the unit asked for */
  int counts;            /* -1: guess, 0: probabilities, 1: counts */
  cj_rng rng;
} estopts;

#define ESTKEYS "base", "correction", "K", "nshuffle", "nresample", "seed", "counts"

static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

static void readest(lua_State *L, int o, estopts *e, cj_info_method def)
{
  double base = 2;
  lua_Integer v;
  memset(e, 0, sizeof *e);
  e->o.method = (cj_info_method)cj_optchoice(L, o, "correction", (int)def, METHODS);
  if (cj_optget(L, o, "base") == LUA_TSTRING && strcmp(lua_tostring(L, -1), "e") == 0) base = exp(1.0);
  else if (lua_type(L, -1) == LUA_TNUMBER) base = lua_tonumber(L, -1);
  else if (!lua_isnil(L, -1)) base = -1;
  lua_pop(L, 1);
  if (!(base > 0) || base == 1 || !isfinite(base)) cj_opterror(L, o, "base", "must be 2, \"e\" or another positive number than 1");
  e->scale = 1 / log(base);
  e->o.K = cj_optnum(L, o, "K", 0);
  if (!(e->o.K == 0 || (e->o.K >= 1 && isfinite(e->o.K)))) cj_opterror(L, o, "K", "must be an alphabet size >= 1");
  v = cj_optint(L, o, "nshuffle", 0);
  if (v < 0 || v > 100000000) cj_opterror(L, o, "nshuffle", "must be 0 .. 1e8");
  e->o.nshuffle = v;
  v = cj_optint(L, o, "nresample", 0);
  if (v < 0 || v > 100000000) cj_opterror(L, o, "nresample", "must be 0 .. 1e8");
  e->o.nresample = v;
  if (cj_opthas(L, o, "seed")) {
    lua_Integer seed = cj_optint(L, o, "seed", 0);
    cj_rng_init(&e->rng, (uint64_t)seed, 9);
    e->o.rng = &e->rng;
  } else {
    e->o.rng = cj_default_rng();
  }
  e->counts = cj_opthas(L, o, "counts") ? cj_optbool(L, o, "counts", 1) : -1;
}

/* The table at arg as contiguous doubles; *isprob says how it is read. */
static const double *readtable(lua_State *L, int arg, const estopts *e, int64_t *n, int *isprob)
{
  larray *a = cj_toarray(L, arg);
  int isint = cj_dtype_isint(a->a.dtype), whole = 1;
  const double *d = cj_f64(L, arg, n);
  double sum = 0;
  if (*n == 0) luaL_argerror(L, arg, "empty table");
  for (int64_t i = 0; i < *n; i++) {
    if (!isfinite(d[i]) || d[i] < 0) {
      lua_pushfstring(L, "%s (entry %I is %f)", isfinite(d[i]) ? "negative count or probability" : "entries must be finite",
                      (lua_Integer)i + 1, d[i]);
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
    whole &= d[i] == floor(d[i]);
    sum += d[i];
  }
  if (!(sum > 0)) luaL_argerror(L, arg, "the table holds no counts (all zero)");
  *isprob = e->counts == 1 ? 0 : e->counts == 0 ? 1 : !(isint || (whole && sum > 1 + 1e-12));
  if (*isprob && fabs(sum - 1) > 1e-9) {
    lua_pushfstring(L, "probabilities must sum to one (the sum is %f; counts must be whole numbers)", sum);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  if (*isprob && (e->o.method != CJ_INFO_PLUGIN || e->o.nshuffle > 0))
    luaL_argerror(L, arg, "a bias correction or shuffle needs counts, not probabilities");
  return d;
}

static void setnum(lua_State *L, const char *k, double v)
{
  if (isnan(v)) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* value, error, details */
static int pushest(lua_State *L, const cj_info_est *r, const estopts *e, int isprob)
{
  lua_pushnumber(L, r->value * e->scale);
  lua_pushnumber(L, isprob ? 0 : r->err * e->scale);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, METHODS[e->o.method]);
  lua_setfield(L, -2, "method");
  setnum(L, "plugin", r->plugin * e->scale);
  setnum(L, "bias", r->bias * e->scale);
  if (!isprob) setnum(L, "N", r->N);
  setnum(L, "bins", r->bins);
  setnum(L, "p", r->pvalue);
  setnum(L, "null_mean", r->null_mean * e->scale);
  setnum(L, "null_sd", r->null_sd * e->scale);
  return 3;
}

/* ---- tables from samples ------------------------------------------------------------ */

static const char *const BINNINGS[] = { "uniform", "quantile", NULL };

/* Number of bins for variable v (0: discrete), from opts.bins (a number or
 * a list with one entry per variable). */
static lua_Integer binsfor(lua_State *L, int o, int v)
{
  lua_Integer nb = 0;
  int isint, t = cj_optget(L, o, "bins");
  if (t == LUA_TTABLE) {
    lua_rawgeti(L, -1, v + 1);
    lua_remove(L, -2);
  }
  if (!lua_isnil(L, -1)) {
    nb = lua_tointegerx(L, -1, &isint);
    if (!isint || nb < 1 || nb > 1000000) cj_opterror(L, o, "bins", "must be a positive integer or a list of them");
  }
  lua_pop(L, 1);
  return nb;
}

/* Labels (0-based, into lab) of the n samples d of variable v; pushes its
 * label values (discrete) or bin edges; returns the number of labels. */
static int64_t labels(lua_State *L, int arg, int o, int v, const double *d, int64_t n, int64_t *lab, cj_dim dim)
{
  lua_Integer nb = binsfor(L, o, v);
  int whole = 1, quant = cj_optchoice(L, o, "binning", 0, BINNINGS);
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(d[i])) luaL_argerror(L, arg, "samples must be finite");
    whole &= d[i] == floor(d[i]);
  }
  if (!nb && !whole) nb = 10;
  if (!nb) {                                    /* discrete: the distinct values */
    double lo = n ? d[0] : 0, hi = lo;
    for (int64_t i = 1; i < n; i++) { if (d[i] < lo) lo = d[i]; if (d[i] > hi) hi = d[i]; }
    if (hi - lo < 4.0 * (double)n + 65536 && hi - lo < 1e8) {   /* small range: count, do not sort */
      int64_t range = (int64_t)(hi - lo) + 1, u = 0;
      int64_t *rank = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)range, 0);
      double *vals;
      for (int64_t k = 0; k < range; k++) rank[k] = -1;
      for (int64_t i = 0; i < n; i++) rank[(int64_t)(d[i] - lo)] = 0;
      for (int64_t k = 0; k < range; k++) if (rank[k] == 0) rank[k] = ++u;
      for (int64_t i = 0; i < n; i++) lab[i] = rank[(int64_t)(d[i] - lo)] - 1;
      vals = cj_newf64(L, 1, &u, dim);
      for (int64_t k = 0; k < range; k++) if (rank[k] > 0) vals[rank[k] - 1] = lo + (double)k;
      lua_remove(L, -2);
      return u;
    }
    double *vals = lua_newuserdatauv(L, sizeof(double) * (size_t)(n + 1), 0);
    int64_t *cnt = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(n + 1), 0), u;
    cj_array a;
    cj_array_wrap(&a, (void *)d, CJ_F64, 1, &n);
    if (cj_array_unique(&a, vals, cnt, lab, &u)) corefail(L, arg);
    lua_pop(L, 2);
    memcpy(cj_newf64(L, 1, &u, dim), vals, sizeof(double) * (size_t)u);
    return u;
  } else {
    int64_t ne = nb + 1;
    double *e = cj_newf64(L, 1, &ne, dim), lo = d[0], hi = d[0];
    cj_bins b = { nb, e, !quant };
    for (int64_t i = 1; i < n; i++) { if (d[i] < lo) lo = d[i]; if (d[i] > hi) hi = d[i]; }
    if (lo == hi) { lo -= 0.5; hi += 0.5; }
    if (quant) {
      double *s = lua_newuserdatauv(L, sizeof(double) * (size_t)n, 0);
      memcpy(s, d, sizeof(double) * (size_t)n);
      if (cj_sort_f64(s, n)) corefail(L, 0);
      for (int64_t k = 0; k <= nb; k++) {
        double pos = (double)k * (double)(n - 1) / (double)nb, f = floor(pos);
        int64_t i = (int64_t)f;
        e[k] = i + 1 < n ? s[i] + (pos - f) * (s[i + 1] - s[i]) : s[n - 1];
        if (k > 0 && !(e[k] > e[k - 1])) luaL_argerror(L, arg, "quantile bins: too many ties for that many bins");
      }
      lua_pop(L, 1);
    } else if (cj_bins_uniform(e, nb, lo, hi)) {
      corefail(L, arg);
    }
    for (int64_t i = 0; i < n; i++) lab[i] = cj_bins_find(&b, d[i]);
    return nb;
  }
}

/* The fast path of sampletable for whole-number variables of small range
 * (the usual stimulus and response labels): counts go straight into a table
 * indexed by value - min, whose empty rows and columns are then dropped, as
 * numpy's bincount would be used. Returns 0 (nothing pushed) when a
 * variable does not qualify. */
static int direct(lua_State *L, int first, int nv, int o, int64_t n, int64_t *dims)
{
  const double *d[3];
  double lo[3], hi[3], raw = 1;
  int64_t rng[3], *keep[3], shape[3];
  double *t, *c;
  int lt;
  for (int v = 0; v < nv; v++) {
    int64_t m;
    int ok = 1;
    if (binsfor(L, o, v)) return 0;
    d[v] = cj_f64(L, first + v, &m);
    lo[v] = hi[v] = d[v][0];
    for (int64_t i = 0; i < n; i++) {
      double x = d[v][i];
      ok &= x == floor(x);                       /* false for NaN and inf */
      if (x < lo[v]) lo[v] = x;
      if (x > hi[v]) hi[v] = x;
    }
    if (!ok || !(hi[v] - lo[v] < 4.0 * (double)n + 65536)) return 0;
    rng[v] = (int64_t)(hi[v] - lo[v]) + 1;
    raw *= (double)rng[v];
  }
  if (raw > 4.0 * (double)n + 1048576 || raw > 1e8) return 0;
  for (int v = 0; v < nv; v++) shape[v] = rng[v];
  c = cj_newf64(L, nv, shape, cj_dimless);        /* the raw table, pushed (collected later) */
  if (nv == 2) {
    for (int64_t i = 0; i < n; i++) c[(int64_t)(d[0][i] - lo[0]) * rng[1] + (int64_t)(d[1][i] - lo[1])] += 1;
  } else {
    for (int64_t i = 0; i < n; i++) {
      int64_t k = 0;
      for (int v = 0; v < nv; v++) k = k * rng[v] + (int64_t)(d[v][i] - lo[v]);
      c[k] += 1;
    }
  }
  /* the values that occur: a nonzero margin */
  for (int v = 0; v < nv; v++) {
    int64_t inner = 1, outer = 1, u = 0;
    for (int w = v + 1; w < nv; w++) inner *= rng[w];
    for (int w = 0; w < v; w++) outer *= rng[w];
    keep[v] = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)rng[v], 0);
    for (int64_t x = 0; x < rng[v]; x++) {
      double m = 0;
      for (int64_t a = 0; a < outer && m == 0; a++)
        for (int64_t b = 0; b < inner && m == 0; b++) m += c[(a * rng[v] + x) * inner + b];
      keep[v][x] = m > 0 ? u++ : -1;
    }
    dims[v] = u;
  }
  lua_createtable(L, nv, 0);                     /* stack: raw, keeps..., labels */
  lt = lua_gettop(L);
  for (int v = 0; v < nv; v++) {
    double *vals = cj_newf64(L, 1, &dims[v], ((larray *)cj_testarray(L, first + v))->dim);
    for (int64_t x = 0; x < rng[v]; x++) if (keep[v][x] >= 0) vals[keep[v][x]] = lo[v] + (double)x;
    lua_rawseti(L, lt, v + 1);
  }
  t = cj_newf64(L, nv, dims, cj_dimless);
  for (int64_t k = 0; k < (int64_t)raw; k++) {
    int64_t rem = k, out = 0, mul = 1, idx[3];
    if (c[k] == 0) continue;
    for (int v = nv - 1; v >= 0; v--) { idx[v] = keep[v][rem % rng[v]]; rem /= rng[v]; }
    for (int v = nv - 1; v >= 0; v--) { out += idx[v] * mul; mul *= dims[v]; }
    t[out] += c[k];
  }
  lua_insert(L, lt);                             /* stack: ..., table, labels */
  return 1;
}

/* Count table of the samples at first .. first + nv - 1 (1-D, one length):
 * pushes the table (float64, one dimension per variable) and a list of
 * the label arrays; returns the sizes in dims. */
static void sampletable(lua_State *L, int first, int nv, int o, int64_t *dims)
{
  int64_t n = -1, *lab[3], cells = 1;
  int lt;
  double *t;
  for (int v = 0; v < nv; v++) {
    larray *a = cj_toarray(L, first + v);
    int64_t m = cj_array_numel(&a->a);
    if (a->a.ndim != 1) luaL_argerror(L, first + v, "samples must be a 1-D array");
    if (n >= 0 && m != n) {
      lua_pushfstring(L, "samples differ in length (%I and %I)", (lua_Integer)n, (lua_Integer)m);
      luaL_argerror(L, first + v, lua_tostring(L, -1));
    }
    n = m;
  }
  if (n == 0) luaL_argerror(L, first, "no samples (empty arrays)");
  if (direct(L, first, nv, o, n, dims)) return;
  lua_createtable(L, nv, 0);                   /* stack: labels */
  lt = lua_gettop(L);
  for (int v = 0; v < nv; v++) {
    int64_t m;
    larray *a = cj_testarray(L, first + v);
    cj_dim dim = a->dim;
    const double *d = cj_f64(L, first + v, &m);
    lab[v] = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)n, 0);
    lua_insert(L, lt);                          /* keep the labels' memory below the list */
    lt++;
    dims[v] = labels(L, first + v, o, v, d, n, lab[v], dim);
    lua_rawseti(L, lt, v + 1);
    cells *= dims[v];
  }
  if (cells > 100000000) luaL_argerror(L, first, "the table would have more than 1e8 cells");
  t = cj_newf64(L, nv, dims, cj_dimless);
  for (int64_t i = 0; i < n; i++) {
    int64_t k = 0, out = 0;
    for (int v = 0; v < nv; v++) {
      if (lab[v][i] < 0) { out = 1; break; }
      k = k * dims[v] + lab[v][i];
    }
    if (!out) t[k] += 1;
  }
  lua_insert(L, lt);                           /* stack: ..., table, labels */
}

/* Is argument i data (an array or a list of numbers) rather than options? */
static int isdata(lua_State *L, int i)
{
  int r;
  if (cj_testarray(L, i)) return 1;
  if (!lua_istable(L, i)) return 0;
  r = lua_rawgeti(L, i, 1) != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}

/* ---- entropies and informations ------------------------------------------------------ */

static const char *const TABKEYS[] = { ESTKEYS, NULL };
static const char *const SAMPLEKEYS[] = { ESTKEYS, "bins", "binning", NULL };

/* cj.info.entropy(p [, opts]) and cj.info.joint_entropy */
static int i_entropy(lua_State *L)
{
  estopts e;
  int o = cj_opts(L, 2, TABKEYS), isprob;
  int64_t n;
  const double *d;
  cj_info_est r;
  readest(L, o, &e, CJ_INFO_PLUGIN);
  d = readtable(L, 1, &e, &n, &isprob);
  if (cj_info_entropy(d, n, &e.o, &r)) corefail(L, 1);
  return pushest(L, &r, &e, isprob);
}

/* A 2-D table at arg (or the table of samples arg, arg+1), with the
 * options at the index after; returns the options index. */
static int twoway(lua_State *L, int nvars, int64_t *dims, const double **d, estopts *e, int *isprob)
{
  int o;
  int64_t n;
  if (isdata(L, 2)) {                          /* paired samples */
    o = cj_opts(L, nvars + 1, SAMPLEKEYS);
    readest(L, o, e, CJ_INFO_PLUGIN);
    if (e->counts == 0) cj_opterror(L, o, "counts", "cannot be false for samples");
    sampletable(L, 1, nvars, o, dims);
    lua_pop(L, 1);
    lua_replace(L, 1);
    e->counts = 1;
  } else {
    larray *a;
    o = cj_opts(L, 2, TABKEYS);
    readest(L, o, e, CJ_INFO_PLUGIN);
    a = cj_toarray(L, 1);
    if (a->a.ndim != nvars) {
      lua_pushfstring(L, "%d-D table expected (got %d dimensions)", nvars, a->a.ndim);
      luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    for (int v = 0; v < nvars; v++) dims[v] = a->a.shape[v];
  }
  *d = readtable(L, 1, e, &n, isprob);
  return o;
}

/* The measures of 2-D and 3-D tables (or of paired samples):
 * cj.info.mutual_information(joint [, opts]) / (x, y [, opts])     I(S; R)
 * cj.info.conditional_entropy(joint [, opts]) / (x, y [, opts])    H(Y | X)
 * cj.info.conditional_mi(table [, opts]) / (x, y, z [, opts])       I(X; Y | Z) */
enum { MI, CONDH, CMI };

static int tablemeasure(lua_State *L, int kind)
{
  estopts e;
  int64_t dims[3];
  const double *d;
  int isprob, st;
  cj_info_est r;
  twoway(L, kind == CMI ? 3 : 2, dims, &d, &e, &isprob);
  st = kind == MI ? cj_info_mi(d, dims[0], dims[1], &e.o, &r)
     : kind == CONDH ? cj_info_condentropy(d, dims[0], dims[1], &e.o, &r)
     : cj_info_cmi(d, dims[0], dims[1], dims[2], &e.o, &r);
  if (st) corefail(L, 1);
  return pushest(L, &r, &e, isprob);
}

static int i_mi(lua_State *L) { return tablemeasure(L, MI); }
static int i_condentropy(lua_State *L) { return tablemeasure(L, CONDH); }
static int i_cmi(lua_State *L) { return tablemeasure(L, CMI); }

/* cj.info.table(x [, y [, z]] [, opts]) -> counts, labels... */
static int i_table(lua_State *L)
{
  static const char *const known[] = { "bins", "binning", NULL };
  int nv = 1, o;
  int64_t dims[3];
  while (nv < 3 && isdata(L, nv + 1)) nv++;
  o = cj_opts(L, nv + 1, known);
  sampletable(L, 1, nv, o, dims);              /* stack: ..., table, labels */
  for (int v = 1; v <= nv; v++) lua_rawgeti(L, -v, v);
  lua_remove(L, -nv - 1);
  return 1 + nv;
}

/* p, q tables of one size as normalised weights (with the checks of readtable) */
static int divergence(lua_State *L, int js)
{
  static const char *const known[] = { "base", "counts", NULL };
  estopts e;
  int o = cj_opts(L, 3, known), ip, iq;
  int64_t n, m;
  const double *p, *q;
  double d;
  readest(L, o, &e, CJ_INFO_PLUGIN);
  p = readtable(L, 1, &e, &n, &ip);
  q = readtable(L, 2, &e, &m, &iq);
  if (n != m) {
    lua_pushfstring(L, "p and q differ in size (%I and %I)", (lua_Integer)n, (lua_Integer)m);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  if ((js ? cj_info_js : cj_info_kl)(p, q, n, &d)) corefail(L, 1);
  lua_pushnumber(L, d * e.scale);
  return 1;
}

static int i_kl(lua_State *L) { return divergence(L, 0); }
static int i_js(lua_State *L) { return divergence(L, 1); }

/* ---- spike words ------------------------------------------------------------------------- */

static const char *const MODES[] = { "each", "pool", "population", NULL };

/* Trains at 1, bin width at 2, word length at 3, options at o. */
static void wordargs(lua_State *L, int o, ltrains *s, cj_words_spec *w, int defmode)
{
  int isint;
  lua_Integer Lw = lua_tointegerx(L, 3, &isint), step = cj_optint(L, o, "step", 1), mx = cj_optint(L, o, "max", 1);
  w->dt = cj_checkpostime(L, 2, "bin width");
  if (!isint || Lw < 1 || Lw > 64) luaL_argerror(L, 3, "word length must be an integer 1..64");
  if (step < 1) cj_opterror(L, o, "step", "must be a positive integer");
  if (mx < 1 || mx > 255) cj_opterror(L, o, "max", "must be an integer 1..255");
  w->L = (int)Lw;
  w->step = (int64_t)step;
  w->maxcount = (int)mx;
  w->mode = cj_optchoice(L, o, "mode", defmode, MODES);
  cj_checktrains(L, 1, o, s);                  /* pushes the trains' store */
  {
    int64_t bits = (int64_t)w->L * cj_words_letterbits(w->maxcount) * (w->mode == CJ_WORDS_POPULATION ? s->tr.n : 1);
    if (bits > 64) {
      lua_pushfstring(L, "a word needs %I bits (at most 64): fewer %s, shorter words or a smaller 'max'",
                      (lua_Integer)bits, w->mode == CJ_WORDS_POPULATION ? "trains" : "letters");
      luaL_argerror(L, 3, lua_tostring(L, -1));
    }
  }
}

#define WORDKEYS "step", "max", "mode", "t_start", "t_stop"

/* All keys of the trains (EACH/POOL: n x nw; POPULATION: nw) in a userdata pushed. */
static uint64_t *allkeys(lua_State *L, const ltrains *s, const cj_words_spec *w, int64_t *nk, int64_t *nw)
{
  uint64_t *keys;
  *nw = cj_words_count(&s->tr, w);
  *nk = w->mode == CJ_WORDS_POPULATION ? *nw : *nw * s->tr.n;
  keys = lua_newuserdatauv(L, sizeof(uint64_t) * (size_t)(*nk + 1), 0);
  if (cj_words_keys(&s->tr, w, keys)) corefail(L, 1);
  return keys;
}

/* cj.info.words(spikes, dt, L [, opts]) -> codes */
static int i_words(lua_State *L)
{
  static const char *const known[] = { WORDKEYS, NULL };
  int o = cj_opts(L, 4, known);
  ltrains s;
  cj_words_spec w;
  int64_t nk, nw, shape[2];
  uint64_t *keys;
  double *out;
  wordargs(L, o, &s, &w, CJ_WORDS_EACH);
  if ((int64_t)w.L * cj_words_letterbits(w.maxcount) * (w.mode == CJ_WORDS_POPULATION ? s.tr.n : 1) > 53)
    luaL_argerror(L, 3, "word codes above 2^53 cannot be returned exactly (use word_entropy or a counter of shorter words)");
  keys = allkeys(L, &s, &w, &nk, &nw);
  shape[0] = s.tr.n;
  shape[1] = nw;
  out = (w.mode == CJ_WORDS_POPULATION || s.single) ? cj_newf64(L, 1, &nw, cj_dimless) : cj_newf64(L, 2, shape, cj_dimless);
  for (int64_t k = 0; k < nk; k++) out[k] = (double)keys[k];
  return 1;
}

/* Tally keys[0..n) (sorted in place) into two pushed arrays? No: into the
 * userdata cnt (n doubles) and uq; returns the distinct count. */
static int64_t tally(lua_State *L, uint64_t *keys, int64_t n, uint64_t **uq, double **cnt)
{
  int64_t m;
  *uq = lua_newuserdatauv(L, sizeof(uint64_t) * (size_t)(n + 1), 0);
  *cnt = lua_newuserdatauv(L, sizeof(double) * (size_t)(n + 1), 0);
  if (cj_words_tally(keys, n, *uq, *cnt, &m)) corefail(L, 0);
  return m;
}

/* cj.info.word_distribution(spikes, dt, L [, opts]) -> words, counts */
static int i_worddist(lua_State *L)
{
  static const char *const known[] = { WORDKEYS, NULL };
  int o = cj_opts(L, 4, known);
  ltrains s;
  cj_words_spec w;
  int64_t nk, nw, m;
  uint64_t *keys, *uq;
  double *cnt, *a, *b;
  wordargs(L, o, &s, &w, CJ_WORDS_POOL);
  if (w.mode == CJ_WORDS_EACH) cj_opterror(L, o, "mode", "must be \"pool\" or \"population\" for a distribution");
  if ((int64_t)w.L * cj_words_letterbits(w.maxcount) * (w.mode == CJ_WORDS_POPULATION ? s.tr.n : 1) > 53)
    luaL_argerror(L, 3, "word codes above 2^53 cannot be returned exactly");
  keys = allkeys(L, &s, &w, &nk, &nw);
  m = tally(L, keys, nk, &uq, &cnt);
  a = cj_newf64(L, 1, &m, cj_dimless);
  b = cj_newf64(L, 1, &m, cj_dimless);
  for (int64_t k = 0; k < m; k++) { a[k] = (double)uq[k]; b[k] = cnt[k]; }
  return 2;
}

/* cj.info.word_entropy(spikes, dt, L [, opts]) -> H, err[, details] */
static int i_wordentropy(lua_State *L)
{
  static const char *const known[] = { WORDKEYS, ESTKEYS, NULL };
  int o = cj_opts(L, 4, known);
  ltrains s;
  cj_words_spec w;
  estopts e;
  cj_info_est r;
  double K;
  readest(L, o, &e, CJ_INFO_PLUGIN);
  if (e.counts == 0) cj_opterror(L, o, "counts", "cannot be false for words");
  wordargs(L, o, &s, &w, CJ_WORDS_EACH);
  K = e.o.K > 0 ? e.o.K : pow((double)w.maxcount + 1, (double)w.L * (w.mode == CJ_WORDS_POPULATION ? (double)s.tr.n : 1));
  if (w.mode == CJ_WORDS_EACH && !s.single) {
    int64_t n = s.tr.n, nw = cj_words_count(&s.tr, &w), m;
    double *h = cj_newf64(L, 1, &n, cj_dimless), *err = cj_newf64(L, 1, &n, cj_dimless), *cnt;
    uint64_t *keys = lua_newuserdatauv(L, sizeof(uint64_t) * (size_t)(nw + 1), 0), *uq;
    int top = lua_gettop(L);
    for (int64_t j = 0; j < n; j++) {
      cj_trains one = { 1, s.tr.off + j, s.tr.t, s.tr.t0, s.tr.t1 };
      cj_info_opts o2 = e.o;
      if (nw == 0) luaL_argerror(L, 3, "no word fits in the window");
      if (cj_words_keys(&one, &w, keys)) corefail(L, 1);
      m = tally(L, keys, nw, &uq, &cnt);
      o2.K = K > (double)m ? K : (double)m;
      if (cj_info_entropy(cnt, m, &o2, &r)) corefail(L, 1);
      h[j] = r.value * e.scale;
      err[j] = r.err * e.scale;
      lua_settop(L, top);
    }
    lua_pop(L, 1);
    return 2;
  } else {
    int64_t nk, nw, m;
    uint64_t *keys = allkeys(L, &s, &w, &nk, &nw), *uq;
    double *cnt;
    if (nk == 0) luaL_argerror(L, 3, "no word fits in the window");
    m = tally(L, keys, nk, &uq, &cnt);
    e.o.K = K > (double)m ? K : (double)m;
    if (cj_info_entropy(cnt, m, &e.o, &r)) corefail(L, 1);
    return pushest(L, &r, &e, 0);
  }
}

/* ---- the direct method -------------------------------------------------------------------- */

/* Word lengths from argument 3 (a number, list or array) into a pushed
 * userdata; returns their number. */
static int wordlengths(lua_State *L, int **Ls)
{
  int64_t m = 1;
  const double *d;
  double one;
  if (lua_type(L, 3) == LUA_TNUMBER) {
    one = lua_tonumber(L, 3);
    d = &one;
  } else {
    luaL_argexpected(L, cj_testarray(L, 3) || lua_istable(L, 3), 3, "word length or list of lengths");
    d = cj_f64(L, 3, &m);
    if (m < 1 || m > 64) luaL_argerror(L, 3, "1 to 64 word lengths expected");
  }
  *Ls = lua_newuserdatauv(L, sizeof(int) * (size_t)m, 0);
  for (int64_t i = 0; i < m; i++) {
    if (d[i] != floor(d[i]) || d[i] < 1 || d[i] > 64) luaL_argerror(L, 3, "word lengths must be integers 1..64");
    (*Ls)[i] = (int)d[i];
  }
  return (int)m;
}

static void pushlist(lua_State *L, const double *v, int n, double scale, const char *k)
{
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, v[i] * scale);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, k);
}

/* cj.info.direct(trials, dt, L [, opts]) -> results */
static int i_direct(lua_State *L)
{
  static const char *const known[] = { "fit", "step", "max", "t_start", "t_stop", ESTKEYS, NULL };
  int o = cj_opts(L, 4, known), nL, *Ls, *fit, nfit2 = 0;
  double dt = cj_checkpostime(L, 2, "bin width"), *buf;
  lua_Integer step = cj_optint(L, o, "step", 1), mx = cj_optint(L, o, "max", 1);
  estopts e;
  ltrains s;
  cj_direct_out out;
  readest(L, o, &e, CJ_INFO_QE);
  if (e.o.method == CJ_INFO_SHUFFLE) cj_opterror(L, o, "correction", "\"shuffle\" does not apply to entropies");
  if (e.o.nshuffle > 0) cj_opterror(L, o, "nshuffle", "does not apply to entropies");
  if (e.counts == 0) cj_opterror(L, o, "counts", "cannot be false for spike trains");
  if (step < 1) cj_opterror(L, o, "step", "must be a positive integer");
  if (mx < 1 || mx > 255) cj_opterror(L, o, "max", "must be an integer 1..255");
  nL = wordlengths(L, &Ls);
  fit = lua_newuserdatauv(L, sizeof(int) * (size_t)nL, 0);
  for (int i = 0; i < nL; i++) nfit2 += Ls[i] >= 2;
  for (int i = 0; i < nL; i++) fit[i] = nfit2 >= 2 ? Ls[i] >= 2 : 1;
  if (cj_optget(L, o, "fit") != LUA_TNIL) {    /* the lengths to fit, or booleans */
    if (!lua_istable(L, -1)) cj_opterror(L, o, "fit", "must be a list of word lengths");
    for (int i = 0; i < nL; i++) fit[i] = 0;
    for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, -1); k++) {
      int isint, found = 0;
      lua_Integer v;
      lua_rawgeti(L, -1, k);
      v = lua_tointegerx(L, -1, &isint);
      lua_pop(L, 1);
      for (int i = 0; i < nL; i++) if (isint && Ls[i] == v) { fit[i] = 1; found = 1; }
      if (!found) cj_opterror(L, o, "fit", "names a word length that is not computed");
    }
  }
  lua_pop(L, 1);
  cj_checktrains(L, 1, o, &s);
  buf = lua_newuserdatauv(L, sizeof(double) * (size_t)(4 * nL), 0);
  out.htot = buf; out.htot_err = buf + nL; out.hnoise = buf + 2 * nL; out.hnoise_err = buf + 3 * nL;
  if (cj_info_direct(&s.tr, dt, Ls, fit, nL, (int)mx, (int64_t)step, &e.o, &out)) corefail(L, 1);
  lua_createtable(L, 0, 20);
  {
    double *lens = lua_newuserdatauv(L, sizeof(double) * (size_t)(3 * nL), 0), *inf = lens + nL, *rate = inf + nL;
    lua_pop(L, 1);
    for (int i = 0; i < nL; i++) {
      lens[i] = Ls[i];
      inf[i] = out.htot[i] - out.hnoise[i];
      rate[i] = inf[i] / (Ls[i] * dt);
    }
    pushlist(L, lens, nL, 1, "L");
    pushlist(L, out.htot, nL, e.scale, "total");
    pushlist(L, out.htot_err, nL, e.scale, "total_err");
    pushlist(L, out.hnoise, nL, e.scale, "noise");
    pushlist(L, out.hnoise_err, nL, e.scale, "noise_err");
    pushlist(L, inf, nL, e.scale, "info");
    pushlist(L, rate, nL, e.scale, "info_rates");
  }
  setnum(L, "total_rate", out.tot_rate * e.scale);
  setnum(L, "total_rate_err", out.tot_rate_err * e.scale);
  setnum(L, "noise_rate", out.noise_rate * e.scale);
  setnum(L, "noise_rate_err", out.noise_rate_err * e.scale);
  setnum(L, "info_rate", out.info_rate * e.scale);
  setnum(L, "info_rate_err", out.info_rate_err * e.scale);
  setnum(L, "spike_rate", out.spike_rate);
  setnum(L, "info_per_spike", out.spike_rate > 0 ? out.info_rate * e.scale / out.spike_rate : NAN);
  setnum(L, "dt", dt);
  lua_pushstring(L, METHODS[e.o.method]);
  lua_setfield(L, -2, "method");
  return 1;
}

/* ---- information per spike ------------------------------------------------------------------ */

/* PSTH (Hz) of the trains at bin dt into r (nb) */
static void psth(const cj_trains *s, double dt, const int64_t *use, int64_t nuse, double *r, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++) r[b] = 0;
  for (int64_t u = 0; u < nuse; u++) {
    int64_t j = use[u];
    for (int64_t k = s->off[j]; k < s->off[j + 1]; k++) {
      int64_t b = cj_trains_binof(s, dt, s->t[k]);
      if (b >= 0 && b < nb) r[b] += 1;
    }
  }
  for (int64_t b = 0; b < nb; b++) r[b] /= (double)nuse * dt;
}

/* cj.info.spike_information(rate [, opts]) / (trials, dt [, opts]) -> bits/spike, bits/s, err */
static int i_spikeinfo(lua_State *L)
{
  static const char *const known[] = { "base", "nboot", "seed", "t_start", "t_stop", NULL };
  int trains = !lua_isnoneornil(L, 2) && !lua_istable(L, 2), o;
  estopts e;
  double I, mean = 0, err = NAN;
  if (!trains) {                               /* a rate array (Hz) */
    int64_t n;
    const double *r;
    larray *a;
    o = cj_opts(L, 2, known);
    if (cj_opthas(L, o, "nboot") || cj_opthas(L, o, "seed") || cj_opthas(L, o, "t_start") || cj_opthas(L, o, "t_stop"))
      luaL_argerror(L, 2, "nboot, seed, t_start and t_stop need trials and a bin width");
    readest(L, o, &e, CJ_INFO_PLUGIN);
    luaL_argexpected(L, cj_testarray(L, 1) || isdata(L, 1), 1, "rate array (or trials with a bin width)");
    a = cj_toarray(L, 1);
    if (!cj_dim_isless(a->dim) && !cj_dim_eq(a->dim, cj_dim_hertz())) luaL_argerror(L, 1, "rate must be in Hz");
    r = cj_f64(L, 1, &n);
    if (cj_info_spike_information(r, n, &I)) corefail(L, 1);
    for (int64_t i = 0; i < n; i++) mean += r[i];
    mean /= (double)n;
  } else {
    double dt = cj_checkpostime(L, 2, "bin width"), *r;
    ltrains s;
    int64_t nb, *use, nboot;
    cj_rng own, *rng;
    o = cj_opts(L, 3, known);
    readest(L, o, &e, CJ_INFO_PLUGIN);
    nboot = cj_optint(L, o, "nboot", 100);
    if (nboot < 0) cj_opterror(L, o, "nboot", "must be non-negative");
    cj_checktrains(L, 1, o, &s);
    nb = cj_trains_nbins(&s.tr, dt);
    if (nb < 1 || s.tr.n < 1) luaL_argerror(L, 1, "no whole bin of width dt in the window, or no trials");
    r = lua_newuserdatauv(L, sizeof(double) * (size_t)nb, 0);
    use = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)s.tr.n, 0);
    for (int64_t j = 0; j < s.tr.n; j++) use[j] = j;
    psth(&s.tr, dt, use, s.tr.n, r, nb);
    if (cj_info_spike_information(r, nb, &I)) corefail(L, 1);
    for (int64_t b = 0; b < nb; b++) mean += r[b];
    mean /= (double)nb;
    if (cj_opthas(L, o, "seed")) { cj_rng_init(&own, (uint64_t)cj_optint(L, o, "seed", 0), 9); rng = &own; }
    else rng = cj_default_rng();
    if (nboot > 1) {                           /* bootstrap over trials */
      double sum = 0, sum2 = 0, v;
      int64_t ok = 0;
      for (int64_t k = 0; k < nboot; k++) {
        for (int64_t j = 0; j < s.tr.n; j++) use[j] = (int64_t)cj_rng_below(rng, (uint64_t)s.tr.n);
        psth(&s.tr, dt, use, s.tr.n, r, nb);
        if (cj_info_spike_information(r, nb, &v)) continue;
        sum += v;
        sum2 += v * v;
        ok++;
      }
      if (ok > 1) err = sqrt(fmax(0, (sum2 - sum * sum / (double)ok) / (double)(ok - 1)));
    }
  }
  lua_pushnumber(L, I * e.scale);
  lua_pushnumber(L, I * e.scale * mean);
  lua_pushnumber(L, err * e.scale);
  return 3;
}

/* ---- counters ---------------------------------------------------------------------------- */

typedef struct { cj_info_counter *c; size_t reported; } lcounter;

#define checkcounter(L, i) ((lcounter *)luaL_checkudata(L, i, CJ_COUNTER))

static lcounter *livecounter(lua_State *L)
{
  lcounter *c = checkcounter(L, 1);
  if (!c->c) luaL_argerror(L, 1, "counter has been freed");
  return c;
}

static int c_gc(lua_State *L)
{
  lcounter *c = checkcounter(L, 1);
  cj_info_counter_free(c->c);
  c->c = NULL;
  return 0;
}

static int i_counter(lua_State *L)
{
  lcounter *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->c = NULL;
  c->reported = 0;
  luaL_setmetatable(L, CJ_COUNTER);
  if (!(c->c = cj_info_counter_new())) luaL_error(L, "counter: out of memory");
  return 1;
}

/* A word code as a key: a whole number in [0, 2^53]. */
static uint64_t tokey(lua_State *L, int arg, double v)
{
  if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) {
    lua_pushfstring(L, "word codes must be whole numbers in 0 .. 2^53 (got %f)", v);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return (uint64_t)v;
}

/* c:add(codes [, n]) / c:remove(codes [, n]); all or nothing */
static int addwords(lua_State *L, int sign)
{
  lcounter *c = livecounter(L);
  int isint;
  lua_Integer n = lua_isnoneornil(L, 3) ? 1 : lua_tointegerx(L, 3, &isint);
  int64_t m;
  const double *d;
  size_t now;
  if (!lua_isnoneornil(L, 3) && (!isint || n < 1)) luaL_argerror(L, 3, "count must be a positive integer");
  d = cj_f64(L, 2, &m);
  for (int64_t k = 0; k < m; k++) tokey(L, 2, d[k]);
  for (int64_t k = 0; k < m; k++)
    if (cj_info_counter_add(c->c, (uint64_t)d[k], sign * (int64_t)n)) {
      for (int64_t u = 0; u < k; u++) cj_info_counter_add(c->c, (uint64_t)d[u], -sign * (int64_t)n);
      return luaL_argerror(L, 2, cj_errmsg());
    }
  now = cj_info_counter_bytes(c->c);
  if (now > c->reported + 65536) {
    lua_gc(L, LUA_GCSTEP, (int)((now - c->reported) / 1024 > INT32_MAX ? INT32_MAX : (now - c->reported) / 1024));
    c->reported = now;
  }
  lua_settop(L, 1);
  return 1;
}

static int c_add(lua_State *L) { return addwords(L, 1); }
static int c_remove(lua_State *L) { return addwords(L, -1); }

static int c_entropy(lua_State *L)
{
  static const char *const known[] = { "base", "correction", "K", "nresample", "seed", NULL };
  lcounter *c = livecounter(L);
  int o = cj_opts(L, 2, known);
  estopts e;
  cj_info_est r;
  readest(L, o, &e, CJ_INFO_PLUGIN);
  if (e.o.method == CJ_INFO_SHUFFLE) cj_opterror(L, o, "correction", "\"shuffle\" does not apply to entropies");
  if (cj_info_counter_entropy(c->c, &e.o, &r)) corefail(L, 1);
  return pushest(L, &r, &e, 0);
}

static int c_counts(lua_State *L)
{
  lcounter *c = livecounter(L);
  int64_t m = cj_info_counter_distinct(c->c);
  uint64_t *keys = lua_newuserdatauv(L, sizeof(uint64_t) * (size_t)(m + 1), 0);
  double *w, *n = lua_newuserdatauv(L, sizeof(double) * (size_t)(m + 1), 0);
  if (cj_info_counter_items(c->c, keys, n)) corefail(L, 0);
  w = cj_newf64(L, 1, &m, cj_dimless);
  for (int64_t k = 0; k < m; k++) w[k] = (double)keys[k];
  memcpy(cj_newf64(L, 1, &m, cj_dimless), n, sizeof(double) * (size_t)m);
  return 2;
}

static int c_total(lua_State *L) { lua_pushinteger(L, cj_info_counter_total(livecounter(L)->c)); return 1; }
static int c_distinct(lua_State *L) { lua_pushinteger(L, cj_info_counter_distinct(livecounter(L)->c)); return 1; }

static int c_get(lua_State *L)
{
  lcounter *c = livecounter(L);
  lua_pushinteger(L, cj_info_counter_get(c->c, tokey(L, 2, luaL_checknumber(L, 2))));
  return 1;
}

static int c_clear(lua_State *L)
{
  cj_info_counter_clear(livecounter(L)->c);
  lua_settop(L, 1);
  return 1;
}

static int c_tostring(lua_State *L)
{
  lcounter *c = checkcounter(L, 1);
  if (!c->c) lua_pushliteral(L, "word counter (freed)");
  else lua_pushfstring(L, "word counter: %I words, %I distinct", (lua_Integer)cj_info_counter_total(c->c),
                       (lua_Integer)cj_info_counter_distinct(c->c));
  return 1;
}

static int c_len(lua_State *L)
{
  lua_pushinteger(L, cj_info_counter_total(livecounter(L)->c));
  return 1;
}

/* ---- registration --------------------------------------------------------------------------- */

static const luaL_Reg cmethods[] = {
  { "add", c_add }, { "remove", c_remove }, { "entropy", c_entropy }, { "counts", c_counts },
  { "total", c_total }, { "distinct", c_distinct }, { "get", c_get }, { "clear", c_clear },
  { NULL, NULL }
};

static const luaL_Reg funcs[] = {
  { "entropy", i_entropy }, { "joint_entropy", i_entropy }, { "conditional_entropy", i_condentropy },
  { "mutual_information", i_mi }, { "conditional_mi", i_cmi }, { "kl", i_kl }, { "js", i_js },
  { "table", i_table }, { "words", i_words }, { "word_distribution", i_worddist },
  { "word_entropy", i_wordentropy }, { "direct", i_direct }, { "spike_information", i_spikeinfo },
  { "counter", i_counter }, { NULL, NULL }
};

#define EST "\nEstimate options: correction = \"none\" (plug-in, default) | \"miller_madow\" |\n" \
  "\"panzeri_treves\" | \"qe\" | \"nsb\" | \"shuffle\" | \"bootstrap\"; base = 2 (bits, default) | \"e\"\n" \
  "| any base; K (alphabet size for nsb and panzeri_treves, default the table's size);\n" \
  "nresample (shuffles or bootstrap replicates, default 100); nshuffle (permutation test:\n" \
  "adds the p-value); seed (else the module generator); counts (true/false: read the table\n" \
  "as counts or probabilities instead of guessing). Returns value, standard error, details\n" \
  "{plugin, bias, N, bins, p, null_mean, null_sd, method}; see cajal-api(3) INFORMATION."

#define WORDS "\nWords: bins of width dt (s or a quantity), L bins per word, letters the spike count\n" \
  "capped at opts.max (default 1: binary); a word starts at every opts.step bins (default 1).\n" \
  "Codes: the first bin is the most significant letter (binary 101 is 5)."

static const cj_doc docs[] = {
  { "entropy", "cj.info.entropy(p [, opts]) -> H, err, details\n"
    "Entropy of a probability or count table p (any shape: all its cells), in bits unless\n"
    "opts.base = \"e\". Probabilities must sum to one; counts are whole numbers." EST },
  { "joint_entropy", "cj.info.joint_entropy(joint [, opts]) -> H, err, details\n"
    "Entropy of all cells of a joint table (the same computation as cj.info.entropy)." EST },
  { "conditional_entropy", "cj.info.conditional_entropy(joint [, opts]) / (x, y [, opts]) -> H, err, details\n"
    "H(Y | X) = sum_x p(x) H(Y | X = x) of a 2-D table whose rows are X (the noise entropy when\n"
    "rows are stimuli), or of paired samples x, y (see cj.info.table for bins)." EST },
  { "mutual_information", "cj.info.mutual_information(joint [, opts]) / (x, y [, opts]) -> I, err, details\n"
    "I(S; R) = H(R) - sum_s p(s) H(R | s) of a 2-D probability or count table (rows S, the\n"
    "stimulus; columns R, the response), or of paired samples x, y: integers are labels,\n"
    "other values are binned (opts.bins, default 10; opts.binning = \"uniform\" | \"quantile\")." EST },
  { "conditional_mi", "cj.info.conditional_mi(table [, opts]) / (x, y, z [, opts]) -> I, err, details\n"
    "I(X; Y | Z) = sum_z p(z) I(X; Y | Z = z) of a 3-D table (x, y, z) or of samples. Shuffles\n"
    "permute y within each z." EST },
  { "kl", "cj.info.kl(p, q [, opts]) -> number\n"
    "Kullback-Leibler divergence D(p || q) = sum p log(p / q) in bits (opts.base as\n"
    "cj.info.entropy); p and q probability or count tables of one size (counts are\n"
    "normalised). inf when q is 0 where p is not." },
  { "js", "cj.info.js(p, q [, opts]) -> number\n"
    "Jensen-Shannon divergence (D(p || m) + D(q || m)) / 2, m = (p + q) / 2: symmetric, between 0\n"
    "and 1 bit." },
  { "table", "cj.info.table(x [, y [, z]] [, opts]) -> counts, labels_x [, labels_y [, labels_z]]\n"
    "Count table of paired samples (1-D arrays of one length): a variable of whole numbers is\n"
    "discrete (labels: its distinct values, ascending), others are binned into opts.bins (a\n"
    "number, or one per variable; default 10) equal-width (\"uniform\") or equal-count\n"
    "(\"quantile\", opts.binning) bins (labels: the edges)." },
  { "words", "cj.info.words(spikes, dt, L [, opts]) -> codes\n"
    "The words of spike trains (a monitor such as net.spikes.E, an array of times, a list of\n"
    "arrays, or {times =, indices =}) as integer codes: trains x starts (1-D for one train);\n"
    "opts.mode = \"population\" makes one word per start holding every train (train 1 most\n"
    "significant). opts.t_start, t_stop: the window (default from 0 to the monitor's\n"
    "duration or the last spike)." WORDS },
  { "word_distribution", "cj.info.word_distribution(spikes, dt, L [, opts]) -> words, counts\n"
    "The distinct words (codes, ascending) and how often each occurs, pooled over the trains\n"
    "(opts.mode = \"pool\", default) or as population words (\"population\")." WORDS },
  { "word_entropy", "cj.info.word_entropy(spikes, dt, L [, opts]) -> H, err [, details]\n"
    "Entropy of the word distribution in bits per word: per train (opts.mode = \"each\",\n"
    "default: arrays of H and err, or numbers and details for one train), pooled over trains\n"
    "(\"pool\") or of population words (\"population\"). The alphabet K for nsb and\n"
    "panzeri_treves is (max + 1)^L (per train) unless opts.K." WORDS EST },
  { "direct", "cj.info.direct(trials, dt, L [, opts]) -> results\n"
    "The direct method (Strong et al. 1998): trials are repeated presentations of one\n"
    "stimulus (trains aligned at its onset); L a word length or a list of them. For each L,\n"
    "total entropy of all words and noise entropy (mean over start bins, every opts.step, of\n"
    "the entropy across trials), each by opts.correction (default \"qe\", Strong's extrapolation\n"
    "to infinite data); rates (entropy / (L dt)) are extrapolated to infinite L by a line in\n"
    "1/L through opts.fit (word lengths; default those >= 2). results: L, total, noise, info\n"
    "(per word), their _err, info_rates, and total_rate, noise_rate, info_rate (bits/s) with\n"
    "_err, spike_rate (Hz), info_per_spike (bits)." },
  { "spike_information", "cj.info.spike_information(rate [, opts]) / (trials, dt [, opts]) -> bits/spike, bits/s, err\n"
    "Information per spike carried by a time-varying rate (Brenner et al. 2000):\n"
    "I = <(r / rbar) log2(r / rbar)>_t, and I rbar in bits/s. From a rate array (Hz), or from\n"
    "repeated trials binned at dt (their PSTH), then err is the bootstrap spread over trials\n"
    "(opts.nboot, default 100; opts.seed). A finite number of trials biases I upwards." },
  { "counter", "cj.info.counter() -> counter\n"
    "An incremental word counter: c:add(codes [, n]) and c:remove(codes [, n]) update it (a\n"
    "sliding window adds new words and removes old ones), c:entropy([opts]) is computed from\n"
    "what it holds in O(distinct counts), c:counts() gives words and counts." },
  { NULL, NULL }
};

static const cj_doc cdocs[] = {
  { "add", "counter:add(codes [, n]) -> counter\nCount each word code (a number or an array) n times (default 1)." },
  { "remove", "counter:remove(codes [, n]) -> counter\n"
    "Uncount each code n times; removing a word that is not there is an error and changes nothing." },
  { "entropy", "counter:entropy([opts]) -> H, err, details\n"
    "Entropy of the counted words; opts as cj.info.entropy (K defaults to the distinct words)." },
  { "counts", "counter:counts() -> words, counts\nThe distinct words (ascending) and their counts." },
  { "total", "counter:total() -> integer\nWords counted (also #counter)." },
  { "distinct", "counter:distinct() -> integer\nDistinct words with a positive count." },
  { "get", "counter:get(code) -> integer\nThe count of one word." },
  { "clear", "counter:clear() -> counter\nForget every word." },
  { NULL, NULL }
};

void cj_open_info(lua_State *L)
{
  luaL_newmetatable(L, CJ_COUNTER);            /* stack: mod, mt */
  luaL_newlib(L, cmethods);
  cj_setdocs(L, -1, cdocs);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, c_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, c_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, c_len);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);                       /* stack: mod, info */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "info");
}
