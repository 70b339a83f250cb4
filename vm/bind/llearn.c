/*
 * llearn.c — cj.learn: learning rules, maps, sparse coding, whitening and
 * hashing on arrays (vm/core/learn.h), and the self-organising map object
 * ("cajal.som").
 *
 * Every function takes its data as arrays (or nested tables) of samples in
 * rows, checks shapes, units and finiteness first, then allocates its
 * results (arrays the collector owns), then calls the core. Options come in
 * a trailing table whose keys are checked (a misspelt option is an error).
 * Randomness: opts.seed gives a private generator (seed, stream LEARN);
 * without it the default generator (cj.seed) is used.
 */
#include "lcajal.h"
#include "lopt.h"
#include "learn.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CJ_SOM "cajal.som"
#define LEARNSTREAM 0x6c6561726eULL      /* "learn": the stream of opts.seed generators */

#define checksom(L, i) ((lsom *)luaL_checkudata(L, i, CJ_SOM))

/* A map: its grid; the weights array (rows x cols x d, or units x d for a
 * chain) is user value 1. */
typedef struct lsom { int64_t rows, cols, d; int twod; } lsom;

static int corefail(lua_State *L)
{
  return luaL_error(L, "%s", cj_errmsg());
}

/* ---- arguments ------------------------------------------------------------------ */

/* A contiguous float64 view of an argument. */
typedef struct mat { double *p; int64_t r, c; int ndim; int64_t shape[CJ_MAXDIM]; } mat;

/* Argument i as a finite, dimensionless float64 array with ndim in
 * [lo, hi] dimensions; converted (and pushed) when it is a table, another
 * dtype or strided. r x c is the matrix of rows (a 1-D array is one row of
 * c values when row1d, else c = 1 column; a 3-D one n x (h*w)). */
static mat checkmat(lua_State *L, int i, const char *what, int lo, int hi, int row1d)
{
  int top = lua_gettop(L);
  larray *a = cj_optarray(L, i);
  mat m;
  char buf[128];
  if (a->a.ndim < lo || a->a.ndim > hi) {
    snprintf(buf, sizeof buf, "%s must be a %d-D%s array (got %d-D)", what, lo,
             hi > lo ? (hi == 2 ? " or 2-D" : " to 3-D") : "", a->a.ndim);
    if (lo == 1 && hi == 2) snprintf(buf, sizeof buf, "%s must be a 1-D or 2-D array (got %d-D)", what, a->a.ndim);
    luaL_argerror(L, i, buf);
  }
  if (!cj_dim_isless(a->dim)) {
    char d[96];
    snprintf(buf, sizeof buf, "%s must be dimensionless (got %s: divide by a unit)", what,
             cj_dim_format(a->dim, d, sizeof d));
    luaL_argerror(L, i, buf);
  }
  if (a->a.dtype != CJ_F64 || !cj_array_iscontig(&a->a)) {
    larray *b = cj_newarray(L, CJ_F64, a->a.ndim, a->a.shape);
    if (cj_array_copy(&b->a, &a->a)) corefail(L);
    a = b;
  }
  (void)top;
  m.p = a->a.data;
  m.ndim = a->a.ndim;
  memcpy(m.shape, a->a.shape, sizeof m.shape);
  if (m.ndim == 0) m.r = m.c = 1;
  else if (m.ndim == 1) { m.r = row1d ? 1 : a->a.shape[0]; m.c = row1d ? a->a.shape[0] : 1; }
  else { m.r = a->a.shape[0]; m.c = cj_array_numel(&a->a) / (m.r > 0 ? m.r : 1); }
  for (int64_t q = 0, n = cj_array_numel(&a->a); q < n; q++)
    if (!isfinite(m.p[q])) {
      snprintf(buf, sizeof buf, "%s has a non-finite value (%s) at row %lld, column %lld", what,
               isnan(m.p[q]) ? "nan" : m.p[q] > 0 ? "inf" : "-inf", (long long)(m.c ? q / m.c + 1 : 1), (long long)(m.c ? q % m.c + 1 : 1));
      luaL_argerror(L, i, buf);
    }
  return m;
}

static void checkcols(lua_State *L, int i, const char *what, const mat *m, int64_t want)
{
  if (m->c != want) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s must have %lld columns (one per input), got %lld", what,
             (long long)want, (long long)m->c);
    luaL_argerror(L, i, buf);
  }
}

/* ---- options ---------------------------------------------------------------------- */


/* opts[key] pushed (nil when absent or no options); returns its type. */
static int optget(lua_State *L, int o, const char *key)
{
  if (!o) { lua_pushnil(L); return LUA_TNIL; }
  return lua_getfield(L, o, key);
}

static void opterror(lua_State *L, int o, const char *key, const char *want)
{
  lua_pushfstring(L, "option '%s' must be %s", key, want);
  luaL_argerror(L, o, lua_tostring(L, -1));
}

static double optnum(lua_State *L, int o, const char *key, double def)
{
  int isnum;
  double v;
  if (optget(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return def; }
  v = lua_tonumberx(L, -1, &isnum);
  if (!isnum || !isfinite(v)) opterror(L, o, key, "a finite number");
  lua_pop(L, 1);
  return v;
}

static int64_t optint(lua_State *L, int o, const char *key, int64_t def, int64_t min)
{
  int isint;
  lua_Integer v;
  char want[64];
  if (optget(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return def; }
  v = lua_tointegerx(L, -1, &isint);
  snprintf(want, sizeof want, "an integer >= %lld", (long long)min);
  if (!isint || v < min) opterror(L, o, key, want);
  lua_pop(L, 1);
  return (int64_t)v;
}

static int optbool(lua_State *L, int o, const char *key, int def)
{
  int t = optget(L, o, key), v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) opterror(L, o, key, "a boolean");
  lua_pop(L, 1);
  return v;
}

/* opts[key] as one of names (index returned), def when absent. */
static int optenum(lua_State *L, int o, const char *key, const char *const *names, int def)
{
  const char *s;
  if (optget(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return def; }
  s = lua_tostring(L, -1);
  for (int q = 0; s && lua_type(L, -1) == LUA_TSTRING && names[q]; q++)
    if (strcmp(s, names[q]) == 0) { lua_pop(L, 1); return q; }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int q = 0; names[q]; q++) {
    luaL_addstring(&b, q ? (names[q + 1] ? ", '" : " or '") : "'");
    luaL_addstring(&b, names[q]);
    luaL_addchar(&b, '\'');
  }
  luaL_pushresult(&b);
  opterror(L, o, key, lua_tostring(L, -1));
  return def;
}

/* A rate or radius: a number (constant) or {start, end [, "exp"|"linear"|"inv"]}. */
static cj_sched optsched(lua_State *L, int o, const char *key, cj_sched def)
{
  static const char *const kinds[] = { "const", "exp", "linear", "inv", NULL };
  cj_sched s = def;
  int t = optget(L, o, key);
  if (t == LUA_TNUMBER) {
    s.kind = CJ_SCHED_CONST;
    s.start = s.end = lua_tonumber(L, -1);
  } else if (t == LUA_TTABLE) {
    int ok = lua_rawlen(L, -1) >= 2 && lua_rawlen(L, -1) <= 3;
    s.kind = CJ_SCHED_EXP;
    ok = ok && lua_rawgeti(L, -1, 1) == LUA_TNUMBER;
    s.start = lua_tonumber(L, -1);
    ok = ok && lua_rawgeti(L, -2, 2) == LUA_TNUMBER;
    s.end = lua_tonumber(L, -1);
    if (lua_rawgeti(L, -3, 3) == LUA_TSTRING) {
      int q;
      for (q = 0; kinds[q] && strcmp(kinds[q], lua_tostring(L, -1)); q++) {}
      ok = ok && kinds[q];
      s.kind = kinds[q] ? (cj_sched_kind)q : CJ_SCHED_EXP;
    } else ok = ok && lua_isnil(L, -1);
    lua_pop(L, 3);
    if (!ok) opterror(L, o, key, "a number or {start, end [, \"exp\"|\"linear\"|\"inv\"]}");
  } else if (t != LUA_TNIL) {
    opterror(L, o, key, "a number or {start, end [, \"exp\"|\"linear\"|\"inv\"]}");
  }
  lua_pop(L, 1);
  if (!isfinite(s.start) || !isfinite(s.end)) opterror(L, o, key, "finite");
  if ((s.kind == CJ_SCHED_EXP || s.kind == CJ_SCHED_INV) && (s.start <= 0 || s.end <= 0))
    opterror(L, o, key, "positive for an exponential or 1/t schedule");
  return s;
}

/* The generator of this call: a private one for opts.seed, else the default. */
static cj_rng *optrng(lua_State *L, int o, cj_rng *own)
{
  int isint;
  lua_Integer s;
  if (optget(L, o, "seed") == LUA_TNIL) { lua_pop(L, 1); return cj_default_rng(); }
  s = lua_tointegerx(L, -1, &isint);
  if (!isint) opterror(L, o, "seed", "an integer");
  lua_pop(L, 1);
  cj_rng_init(own, (uint64_t)s, LEARNSTREAM);
  return own;
}

/* A float64 result of the given shape: opts[key] when it is given (it must
 * be a contiguous, dimensionless float64 array of that shape), else new.
 * Pushed either way. */
static double *result(lua_State *L, int o, const char *key, int ndim, const int64_t *shape)
{
  larray *a;
  if (optget(L, o, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return cj_newarray(L, CJ_F64, ndim, shape)->a.data;
  }
  a = cj_testarray(L, -1);
  if (!a || a->a.dtype != CJ_F64 || !cj_array_iscontig(&a->a) || !cj_dim_isless(a->dim) ||
      a->a.ndim != ndim || memcmp(a->a.shape, shape, (size_t)ndim * sizeof *shape)) {
    char b[64], msg[160];
    snprintf(msg, sizeof msg, "a contiguous float64 array of shape %s",
             cj_shape_format(ndim, shape, b, sizeof b));
    opterror(L, o, key, msg);
  }
  return a->a.data;
}

/* Initial values from opts[key] (an array of count values) copied into dst;
 * returns 0 when the option is absent. */
static int optinit(lua_State *L, int o, const char *key, double *dst, int64_t count,
                   int *ndim, int64_t *shape)
{
  mat m;
  int idx;
  if (optget(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return 0; }
  idx = lua_gettop(L);
  m = checkmat(L, idx, key, 1, 2, 1);
  if (m.r * m.c != count) {
    char msg[96];
    snprintf(msg, sizeof msg, "an array of %lld values (got %lld)", (long long)count, (long long)(m.r * m.c));
    opterror(L, o, key, msg);
  }
  if (ndim) { *ndim = m.ndim; memcpy(shape, m.shape, sizeof m.shape); }
  memmove(dst, m.p, (size_t)count * sizeof *dst);
  lua_settop(L, idx - 1);
  return 1;
}

/* opts[key] as a matrix (left on the stack); 0 when absent. */
static int optmat(lua_State *L, int o, const char *key, mat *m, int lo, int hi)
{
  if (optget(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return 0; }
  *m = checkmat(L, lua_gettop(L), key, lo, hi, 1);
  return 1;
}

/* Weights of k x d (or d when oned) for a rule: opts.w0 (copied), else
 * `init` (normal with sd 1/sqrt(d) from r), into opts.out or a new array
 * (pushed). k and oned may be changed by w0's shape when kfixed is 0. */
static double *weights(lua_State *L, int o, const char *key, int64_t *k, int64_t d, int *oned,
                       int kfixed, cj_rng *r)
{
  mat w0;
  int has = optmat(L, o, key, &w0, 1, 2);
  int64_t shape[2];
  double *W;
  if (has) {
    int64_t rows = w0.ndim == 1 ? 1 : w0.shape[0];
    if (w0.c != d || (kfixed && rows != *k)) {
      char msg[96];
      snprintf(msg, sizeof msg, "an array of shape %lldx%lld (units x inputs)", (long long)*k, (long long)d);
      if (*oned && !kfixed) snprintf(msg, sizeof msg, "an array of %lld weights (or units x %lld)", (long long)d, (long long)d);
      opterror(L, o, key, msg);
    }
    *k = rows;
    if (!kfixed) *oned = w0.ndim == 1;
  }
  shape[0] = *oned ? d : *k;
  shape[1] = d;
  W = result(L, o, "out", *oned ? 1 : 2, shape);
  if (has) memmove(W, w0.p, (size_t)(*k * d) * sizeof *W);
  else {
    double s = 1 / sqrt((double)(d > 0 ? d : 1));
    for (int64_t q = 0; q < *k * d; q++) W[q] = s * cj_rng_normal(r);
  }
  return W;
}

static const char *const normnames[] = { "none", "multiplicative", "subtractive", NULL };

static void loopopts(lua_State *L, int o, cj_learn_loop *lp, const char *name, cj_sched eta, cj_rng *r)
{
  lp->name = name;
  lp->eta = optsched(L, o, "eta", eta);
  lp->epochs = optint(L, o, "epochs", 1, 1);
  lp->batch = optint(L, o, "batch", 1, 1);
  lp->shuffle = optbool(L, o, "shuffle", 0);
  lp->rng = r;
}

static const cj_sched ETA_HEBB = { CJ_SCHED_CONST, 0.01, 0.01 };

/* hebb, covariance, oja, bcm (X [, opts]) and sanger (X, k [, opts]) */
static int hebbian(lua_State *L, cj_rule rule, const char *name)
{
  static const char *const keys[] = { "eta", "epochs", "batch", "shuffle", "seed", "w0", "out",
                                      "k", "normalize", "target", "p", "alpha", "tau", "theta0", NULL };
  int sanger = rule == CJ_RULE_SANGER, o, oned = !sanger;
  mat X = checkmat(L, 1, "X", 2, 2, 0);
  int64_t d = X.c, k = 1;
  cj_hebb_opts ho;
  cj_rng own, *r;
  double *W, *theta = NULL;
  if (sanger) {
    k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 1 && k <= d, 2, "k must be between 1 and the number of inputs");
  }
  o = lopt_at(L, sanger ? 3 : 2, keys);
  for (const char *const *q = keys + 7; *q; q++) {          /* rule-specific keys */
    int mine = !strcmp(*q, "normalize") || !strcmp(*q, "target") || !strcmp(*q, "p") ? 
               (rule == CJ_RULE_HEBB || rule == CJ_RULE_COVARIANCE) :
               !strcmp(*q, "k") ? !sanger && rule != CJ_RULE_OJA :
               !strcmp(*q, "alpha") ? rule == CJ_RULE_OJA :
               !strcmp(*q, "tau") ? (rule == CJ_RULE_BCM || rule == CJ_RULE_COVARIANCE) :
               rule == CJ_RULE_BCM;
    if (mine) continue;
    if (optget(L, o, *q) != LUA_TNIL) {
      lua_pushfstring(L, "option '%s' does not apply to %s", *q, name);
      luaL_argerror(L, o, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  r = optrng(L, o, &own);
  memset(&ho, 0, sizeof ho);
  ho.rule = rule;
  loopopts(L, o, &ho.loop, name, ETA_HEBB, r);
  ho.alpha = optnum(L, o, "alpha", 1);
  ho.tau = optnum(L, o, "tau", rule == CJ_RULE_BCM ? 100 : 0);
  ho.norm = (cj_norm)optenum(L, o, "normalize", normnames, 0);
  ho.norm_target = optnum(L, o, "target", 1);
  ho.norm_p = (int)optint(L, o, "p", 2, 1);
  if (optget(L, o, "k") != LUA_TNIL) { k = optint(L, o, "k", 1, 1); oned = 0; }
  lua_pop(L, 1);
  W = weights(L, o, "w0", &k, d, &oned, !oned, r);      /* stack: ..., W */
  if (rule == CJ_RULE_BCM) {
    int64_t ks = k;
    theta = cj_newarray(L, CJ_F64, 1, &ks)->a.data;        /* stack: ..., W, theta */
    if (optget(L, o, "theta0") == LUA_TNUMBER) {
      for (int64_t i = 0; i < k; i++) theta[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      optinit(L, o, "theta0", theta, k, NULL, NULL);
    } else {                                  /* <y^2> under the initial weights */
      lua_pop(L, 1);
      for (int64_t s = 0; s < X.r; s++)
        for (int64_t i = 0; i < k; i++) {
          double y = 0;
          for (int64_t j = 0; j < d; j++) y += W[i * d + j] * X.p[s * d + j];
          theta[i] += y * y / (double)X.r;
        }
    }
    ho.theta = theta;
  }
  if (cj_learn_hebbian(X.p, X.r, d, W, k, &ho)) return corefail(L);
  if (rule != CJ_RULE_BCM) return 1;
  if (oned) {                                /* stack: ..., W, theta -> W, theta[0] */
    double t0 = theta[0];
    lua_pop(L, 1);
    lua_pushnumber(L, t0);
  }
  return 2;
}

static int l_hebb(lua_State *L) { return hebbian(L, CJ_RULE_HEBB, "hebb"); }
static int l_covariance(lua_State *L) { return hebbian(L, CJ_RULE_COVARIANCE, "covariance"); }
static int l_oja(lua_State *L) { return hebbian(L, CJ_RULE_OJA, "oja"); }
static int l_sanger(lua_State *L) { return hebbian(L, CJ_RULE_SANGER, "sanger"); }
static int l_bcm(lua_State *L) { return hebbian(L, CJ_RULE_BCM, "bcm"); }

/* normalize(W [, opts]) -> W' */
static int l_normalize(lua_State *L)
{
  static const char *const keys[] = { "method", "target", "p", "out", NULL };
  mat W = checkmat(L, 1, "W", 1, 2, 1);
  int o = lopt_at(L, 2, keys);
  int how = optenum(L, o, "method", normnames + 1, 0) + 1;
  double target = optnum(L, o, "target", 1), *out;
  int p = (int)optint(L, o, "p", 2, 1);
  if (p != 1 && p != 2) opterror(L, o, "p", "1 or 2");
  out = result(L, o, "out", W.ndim, W.shape);
  memmove(out, W.p, (size_t)(W.r * W.c) * sizeof *out);
  if (cj_learn_normalize(out, W.r, W.c, (cj_norm)how, target, p)) return corefail(L);
  return 1;
}

/* ---- Foldiak --------------------------------------------------------------------------- */

static const char *const foldkeys[] = { "alpha", "beta", "gamma", "p", "lambda", "ds", "settle",
                                        "epochs", "shuffle", "seed", "Q0", "W0", "t0", NULL };

static void foldopts(lua_State *L, int o, cj_foldiak_opts *f, cj_rng *r)
{
  f->alpha = optnum(L, o, "alpha", 0.1);
  f->beta = optnum(L, o, "beta", 0.02);
  f->gamma = optnum(L, o, "gamma", 0.02);
  f->p = optnum(L, o, "p", 0.125);
  f->lambda = optnum(L, o, "lambda", 10);
  f->ds = optnum(L, o, "ds", 0.1);
  f->settle = optint(L, o, "settle", 200, 1);
  f->epochs = optint(L, o, "epochs", 1, 1);
  f->shuffle = optbool(L, o, "shuffle", 0);
  f->rng = r;
}

/* foldiak(X, n [, opts]) -> Q, W, t */
static int l_foldiak(lua_State *L)
{
  mat X = checkmat(L, 1, "X", 2, 2, 0);
  int64_t nout = luaL_checkinteger(L, 2), d = X.c, sq[2], sw[2];
  int o = lopt_at(L, 3, foldkeys);
  cj_foldiak_opts f;
  cj_rng own, *r = optrng(L, o, &own);
  double *Q, *Wl, *t;
  int base;
  luaL_argcheck(L, nout >= 1, 2, "the number of units must be >= 1");
  foldopts(L, o, &f, r);
  sq[0] = nout; sq[1] = d;
  sw[0] = sw[1] = nout;
  base = lua_gettop(L);
  Q = cj_newarray(L, CJ_F64, 2, sq)->a.data;
  Wl = cj_newarray(L, CJ_F64, 2, sw)->a.data;
  t = cj_newarray(L, CJ_F64, 1, sq)->a.data;
  if (!optinit(L, o, "Q0", Q, nout * d, NULL, NULL))     /* uniform on [0, 1), rows scaled to sum 1 */
    for (int64_t i = 0; i < nout; i++) {
      double s = 0;
      for (int64_t j = 0; j < d; j++) s += Q[i * d + j] = cj_rng_uniform(r);
      for (int64_t j = 0; j < d; j++) Q[i * d + j] /= s > 0 ? s : 1;
    }
  optinit(L, o, "W0", Wl, nout * nout, NULL, NULL);
  optinit(L, o, "t0", t, nout, NULL, NULL);
  if (cj_learn_foldiak(X.p, X.r, d, nout, Q, Wl, t, &f)) return corefail(L);
  lua_settop(L, base + 3);
  return 3;
}

/* foldiak_code(X, Q, W, t [, opts]) -> Y */
static int l_foldiak_code(lua_State *L)
{
  static const char *const keys[] = { "lambda", "ds", "settle", NULL };
  mat X = checkmat(L, 1, "X", 2, 2, 0), Q = checkmat(L, 2, "Q", 2, 2, 0);
  mat W = checkmat(L, 3, "W", 2, 2, 0), t = checkmat(L, 4, "t", 1, 1, 1);
  int o = lopt_at(L, 5, keys);
  cj_foldiak_opts f = { 0.1, 0.02, 0.02, 0.125, 10, 0.1, 200, 1, 0, NULL };
  int64_t shape[2];
  double *Y;
  checkcols(L, 2, "Q", &Q, X.c);
  luaL_argcheck(L, W.r == Q.r && W.c == Q.r, 3, "W must be units x units (as Q's rows)");
  luaL_argcheck(L, t.c == Q.r, 4, "t must have one value per unit");
  f.lambda = optnum(L, o, "lambda", 10);
  f.ds = optnum(L, o, "ds", 0.1);
  f.settle = optint(L, o, "settle", 200, 1);
  shape[0] = X.r;
  shape[1] = Q.r;
  Y = cj_newarray(L, CJ_F64, 2, shape)->a.data;
  if (cj_learn_foldiak_respond(X.p, X.r, X.c, Q.r, Q.p, W.p, t.p, &f, Y)) return corefail(L);
  return 1;
}

/* ---- k-WTA ------------------------------------------------------------------------------- */

/* kwta(A, k [, opts]) -> Y, duty */
static int l_kwta(lua_State *L)
{
  static const char *const keys[] = { "boost", "tau", "binary", "duty0", "seed", "out", NULL };
  mat A = checkmat(L, 1, "A", 1, 2, 1);
  int64_t k = luaL_checkinteger(L, 2), m = A.c;
  int o = lopt_at(L, 3, keys);
  cj_rng own, *r = optrng(L, o, &own);
  double boost = optnum(L, o, "boost", 0), tau = optnum(L, o, "tau", 1000), *Y, *duty;
  int binary = optbool(L, o, "binary", 0);
  luaL_argcheck(L, k >= 0 && k <= m, 2, "k must be between 0 and the number of units");
  Y = result(L, o, "out", A.ndim, A.shape);
  duty = cj_newarray(L, CJ_F64, 1, &m)->a.data;
  if (!optinit(L, o, "duty0", duty, m, NULL, NULL))
    for (int64_t i = 0; i < m; i++) duty[i] = m ? (double)k / (double)m : 0;
  if (cj_learn_kwta(A.p, A.r, m, k, boost, tau, binary, duty, r, Y)) return corefail(L);
  return 2;
}

/* ---- competitive learning ---------------------------------------------------------------------- */

/* k rows of X drawn without replacement (k <= n) into W. */
static void samplerows(lua_State *L, const mat *X, int64_t k, cj_rng *r, double *W, int arg)
{
  int64_t *pick;
  luaL_argcheck(L, X->r > 0, 1, "X has no samples to start from");
  if (!(pick = lua_newuserdatauv(L, (size_t)(k > 0 ? k : 1) * sizeof *pick, 0))) corefail(L);
  if (cj_rng_choice(r, X->r, k, k > X->r, NULL, pick)) corefail(L);
  for (int64_t i = 0; i < k; i++) memcpy(W + i * X->c, X->p + pick[i] * X->c, (size_t)X->c * sizeof *W);
  lua_pop(L, 1);
  (void)arg;
}

/* competitive(X, k [, opts]) -> W */
static int l_competitive(lua_State *L)
{
  static const char *const keys[] = { "eta", "epochs", "shuffle", "seed", "w0", "out", NULL };
  static const cj_sched eta = { CJ_SCHED_EXP, 0.1, 0.001 };
  mat X = checkmat(L, 1, "X", 2, 2, 0), w0;
  int64_t k = luaL_checkinteger(L, 2), shape[2];
  int o = lopt_at(L, 3, keys), has;
  cj_rng own, *r = optrng(L, o, &own);
  cj_learn_loop lp;
  double *W;
  luaL_argcheck(L, k >= 1, 2, "k must be >= 1");
  loopopts(L, o, &lp, "competitive", eta, r);
  has = optmat(L, o, "w0", &w0, 2, 2);
  if (has && (w0.r != k || w0.c != X.c)) opterror(L, o, "w0", "an array of k x inputs");
  if (!has && k > X.r) luaL_argerror(L, 2, "more units than samples: give opts.w0");
  shape[0] = k;
  shape[1] = X.c;
  W = result(L, o, "out", 2, shape);
  if (has) memmove(W, w0.p, (size_t)(k * X.c) * sizeof *W);
  else samplerows(L, &X, k, r, W, 1);
  if (cj_learn_competitive(X.p, X.r, X.c, W, k, &lp)) return corefail(L);
  return 1;
}

/* quantize(X, W) -> idx, dist */
static int l_quantize(lua_State *L)
{
  mat X = checkmat(L, 1, "X", 1, 2, 1), W;
  int64_t n = X.r, *best;
  int32_t *idx;
  double *dist;
  if (cj_testarray(L, 2) || lua_istable(L, 2)) W = checkmat(L, 2, "W", 2, 2, 0);
  else {
    lsom *s = checksom(L, 2);
    lua_getiuservalue(L, 2, 1);
    W = checkmat(L, lua_gettop(L), "weights", 2, 3, 0);
    W.r = s->rows * s->cols;
    W.c = s->d;
  }
  checkcols(L, 2, "W", &W, X.c);
  luaL_argcheck(L, W.r >= 1, 2, "no units");
  idx = cj_newarray(L, CJ_I32, 1, &n)->a.data;
  dist = cj_newarray(L, CJ_F64, 1, &n)->a.data;
  best = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *best, 0);
  if (cj_learn_bmu(X.p, n, X.c, W.p, W.r, best, NULL, dist)) return corefail(L);
  for (int64_t s = 0; s < n; s++) idx[s] = (int32_t)(best[s] + 1);
  lua_pop(L, 1);
  return 2;
}

/* ---- self-organising maps ------------------------------------------------------------------------ */

static const char *const somkeys[] = { "eta", "sigma", "epochs", "shuffle", "seed", "w0", NULL };

/* Train the map at index 1's weights on X with the options at o. */
static void somtrain(lua_State *L, lsom *s, double *W, const mat *X, int o, cj_rng *r)
{
  cj_learn_loop lp;
  cj_sched eta = { CJ_SCHED_EXP, 0.5, 0.01 };
  cj_sched sigma = { CJ_SCHED_EXP, (double)(s->rows > s->cols ? s->rows : s->cols) / 2, 0.5 };
  if (sigma.start < sigma.end) sigma.start = sigma.end;
  loopopts(L, o, &lp, "som", eta, r);
  sigma = optsched(L, o, "sigma", sigma);
  if (sigma.start <= 0 || sigma.end <= 0) opterror(L, o, "sigma", "positive");
  if (cj_learn_som(X->p, X->r, X->c, W, s->rows, s->cols, &lp, &sigma)) corefail(L);
}

/* som(X, grid [, opts]) -> map */
static int l_som(lua_State *L)
{
  mat X = checkmat(L, 1, "X", 2, 2, 0), w0;
  int64_t rows, cols = 1, shape[3];
  int o, twod = 0, has, mi;
  cj_rng own, *r;
  lsom *s;
  double *W;
  if (lua_isinteger(L, 2)) rows = lua_tointeger(L, 2);
  else {
    luaL_argcheck(L, lua_istable(L, 2) && lua_rawlen(L, 2) >= 1 && lua_rawlen(L, 2) <= 2, 2,
                  "grid must be a size or {rows, cols}");
    lua_rawgeti(L, 2, 1);
    lua_rawgeti(L, 2, 2);
    luaL_argcheck(L, lua_isinteger(L, -2) && (lua_isnil(L, -1) || lua_isinteger(L, -1)), 2,
                  "grid sizes must be integers");
    rows = lua_tointeger(L, -2);
    if (!lua_isnil(L, -1)) { cols = lua_tointeger(L, -1); twod = 1; }
    lua_pop(L, 2);
  }
  luaL_argcheck(L, rows >= 1 && cols >= 1 && rows <= (1 << 20) && cols <= (1 << 20), 2,
                "grid sizes must be >= 1");
  o = lopt_at(L, 3, somkeys);
  r = optrng(L, o, &own);
  s = lua_newuserdatauv(L, sizeof *s, 1);                 /* stack: ..., map */
  mi = lua_gettop(L);
  s->rows = rows; s->cols = cols; s->d = X.c; s->twod = twod;
  luaL_setmetatable(L, CJ_SOM);
  shape[0] = rows;
  shape[1] = twod ? cols : X.c;
  shape[2] = X.c;
  W = cj_newarray(L, CJ_F64, twod ? 3 : 2, shape)->a.data;   /* stack: ..., map, W */
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 1);
  has = optmat(L, o, "w0", &w0, 2, 3);
  if (has && (w0.r * (w0.ndim == 3 ? w0.shape[1] : 1) != rows * cols || w0.shape[w0.ndim - 1] != X.c))
    opterror(L, o, "w0", "an array of units x inputs (or rows x cols x inputs)");
  if (has) memcpy(W, w0.p, (size_t)(rows * cols * X.c) * sizeof *W);
  else samplerows(L, &X, rows * cols, r, W, 1);
  somtrain(L, s, W, &X, o, r);
  lua_settop(L, mi);                                      /* stack: ..., map */
  return 1;
}

static double *somweights(lua_State *L, int i, lsom **s)
{
  *s = checksom(L, i);
  lua_getiuservalue(L, i, 1);
  return cj_checkarray(L, -1)->a.data;
}

/* map:train(X [, opts]) -> map */
static int m_train(lua_State *L)
{
  lsom *s;
  double *W;
  lua_settop(L, 3);                           /* stack: map, X, opts|nil */
  W = somweights(L, 1, &s);
  mat X = checkmat(L, 2, "X", 2, 2, 0);
  int o = lopt_at(L, 3, somkeys);
  cj_rng own, *r = optrng(L, o, &own);
  checkcols(L, 2, "X", &X, s->d);
  if (optget(L, o, "w0") != LUA_TNIL) opterror(L, o, "w0", "absent (the map has its weights)");
  lua_pop(L, 1);
  somtrain(L, s, W, &X, o, r);
  lua_settop(L, 1);
  return 1;
}

/* map:bmu(X) -> idx (1-based units), dist */
static int m_bmu(lua_State *L)
{
  lsom *s;
  double *W = somweights(L, 1, &s), *dist;
  mat X = checkmat(L, 2, "X", 1, 2, 1);
  int64_t n = X.r, *best;
  int32_t *idx;
  checkcols(L, 2, "X", &X, s->d);
  idx = cj_newarray(L, CJ_I32, 1, &n)->a.data;
  dist = cj_newarray(L, CJ_F64, 1, &n)->a.data;
  best = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *best, 0);
  if (cj_learn_bmu(X.p, n, X.c, W, s->rows * s->cols, best, NULL, dist)) return corefail(L);
  for (int64_t q = 0; q < n; q++) idx[q] = (int32_t)(best[q] + 1);
  lua_pop(L, 1);
  return 2;
}

/* map:quantization_error(X) / cj.learn.quantization_error(X, W | map) */
static int qerror(lua_State *L, int wi, int xi)
{
  mat X = checkmat(L, xi, "X", 1, 2, 1), W;
  double e;
  if (luaL_testudata(L, wi, CJ_SOM)) {
    lsom *s;
    W.p = somweights(L, wi, &s);
    W.r = s->rows * s->cols;
    W.c = s->d;
  } else W = checkmat(L, wi, "W", 2, 2, 0);
  checkcols(L, xi, "X", &X, W.c);
  if (cj_learn_qerror(X.p, X.r, X.c, W.p, W.r, &e)) return corefail(L);
  lua_pushnumber(L, e);
  return 1;
}
static int m_qerror(lua_State *L) { return qerror(L, 1, 2); }
static int l_qerror(lua_State *L) { return qerror(L, 2, 1); }

static int terror(lua_State *L, int mi, int xi)
{
  lsom *s;
  double *W = somweights(L, mi, &s), e;
  mat X = checkmat(L, xi, "X", 1, 2, 1);
  checkcols(L, xi, "X", &X, s->d);
  if (cj_learn_terror(X.p, X.r, X.c, W, s->rows, s->cols, &e)) return corefail(L);
  lua_pushnumber(L, e);
  return 1;
}
static int m_terror(lua_State *L) { return terror(L, 1, 2); }
static int l_terror(lua_State *L) { return terror(L, 2, 1); }

/* map:umatrix() -> rows x cols (or units) array */
static int m_umatrix(lua_State *L)
{
  lsom *s;
  double *W = somweights(L, 1, &s);
  int64_t shape[2] = { s->rows, s->cols };
  double *U = cj_newarray(L, CJ_F64, s->twod ? 2 : 1, shape)->a.data;
  cj_learn_umatrix(W, s->rows, s->cols, s->d, U);
  return 1;
}

static int som_index(lua_State *L)
{
  lsom *s = checksom(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "weights")) lua_getiuservalue(L, 1, 1);
  else if (!strcmp(k, "grid")) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, s->rows);
    lua_rawseti(L, -2, 1);
    if (s->twod) {
      lua_pushinteger(L, s->cols);
      lua_rawseti(L, -2, 2);
    }
  } else if (!strcmp(k, "units")) lua_pushinteger(L, s->rows * s->cols);
  else {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
  }
  return 1;
}

static int som_len(lua_State *L)
{
  lsom *s = checksom(L, 1);
  lua_pushinteger(L, s->rows * s->cols);
  return 1;
}

static int som_tostring(lua_State *L)
{
  lsom *s = checksom(L, 1);
  if (s->twod)
    lua_pushfstring(L, "som(%I x %I units, %I inputs)", (lua_Integer)s->rows, (lua_Integer)s->cols,
                    (lua_Integer)s->d);
  else
    lua_pushfstring(L, "som(%I units in a chain, %I inputs)", (lua_Integer)s->rows, (lua_Integer)s->d);
  return 1;
}

/* ---- sparse coding ------------------------------------------------------------------------------- */

static const char *const scmethods[] = { "ista", "fista", "lca", "cd", NULL };

/* sparse_code(X, D [, opts]) -> A, info */
static int l_sparse_code(lua_State *L)
{
  static const char *const keys[] = { "method", "lambda", "iters", "tol", "step", "nonneg", "a0",
                                      "out", "trace", NULL };
  mat X = checkmat(L, 1, "X", 1, 2, 1), D = checkmat(L, 2, "D", 2, 2, 0);
  int o = lopt_at(L, 3, keys);
  cj_sc_opts so;
  int64_t shape[2], m = D.c;
  double *A, *trace = NULL;
  int ai;
  luaL_argcheck(L, D.r == X.c, 2, "D must have one row per input (d x atoms)");
  memset(&so, 0, sizeof so);
  so.method = (cj_sc_method)optenum(L, o, "method", scmethods, CJ_SC_CD);
  so.lambda = optnum(L, o, "lambda", 0.1);
  so.iters = optint(L, o, "iters", 1000, 1);
  so.tol = optnum(L, o, "tol", 1e-6);
  so.step = optnum(L, o, "step", 0);
  so.nonneg = optbool(L, o, "nonneg", 0);
  if (so.lambda < 0) opterror(L, o, "lambda", ">= 0");
  if (so.tol < 0) opterror(L, o, "tol", ">= 0");
  if (so.step < 0) opterror(L, o, "step", ">= 0");
  shape[0] = X.r;
  shape[1] = m;
  A = result(L, o, "out", X.ndim == 1 ? 1 : 2, X.ndim == 1 ? shape + 1 : shape);
  ai = lua_gettop(L);
  so.warm = optinit(L, o, "a0", A, X.r * m, NULL, NULL);
  if (optbool(L, o, "trace", 0)) trace = cj_newarray(L, CJ_F64, 1, &so.iters)->a.data;
  so.trace = trace;
  if (cj_learn_sparse_code(X.p, X.r, X.c, D.p, m, A, &so)) return corefail(L);
  lua_createtable(L, 0, 5);                                /* stack: A, [trace], info */
  lua_pushinteger(L, so.done);
  lua_setfield(L, -2, "iterations");
  lua_pushnumber(L, so.objective);
  lua_setfield(L, -2, "objective");
  lua_pushboolean(L, so.done < so.iters);
  lua_setfield(L, -2, "converged");
  lua_pushnumber(L, so.L);
  lua_setfield(L, -2, "L");
  if (trace) {
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "trace");
  }
  lua_pushvalue(L, ai);
  lua_insert(L, -2);
  return 2;
}

/* sparse_objective(X, D, A [, lambda]) -> mean objective */
static int l_sparse_objective(lua_State *L)
{
  mat X = checkmat(L, 1, "X", 1, 2, 1), D = checkmat(L, 2, "D", 2, 2, 0), A = checkmat(L, 3, "A", 1, 2, 1);
  double lambda = luaL_optnumber(L, 4, 0.1), obj;
  luaL_argcheck(L, D.r == X.c, 2, "D must have one row per input (d x atoms)");
  luaL_argcheck(L, A.r == X.r && A.c == D.c, 3, "A must be samples x atoms");
  luaL_argcheck(L, lambda >= 0 && isfinite(lambda), 4, "lambda must be finite and >= 0");
  if (cj_learn_sc_objective(X.p, X.r, X.c, D.p, D.c, A.p, lambda, &obj)) return corefail(L);
  lua_pushnumber(L, obj);
  return 1;
}

/* dictionary(X, m [, opts]) -> D, info */
static int l_dictionary(lua_State *L)
{
  static const char *const keys[] = { "method", "lambda", "epochs", "batch", "shuffle", "seed", "eta",
                                      "forget", "iters", "tol", "nonneg", "replace", "D0", "out", NULL };
  static const char *const methods[] = { "bcd", "sgd", NULL };
  static const cj_sched eta = { CJ_SCHED_CONST, 0.1, 0.1 };
  mat X = checkmat(L, 1, "X", 2, 2, 0), D0;
  int64_t m = luaL_checkinteger(L, 2), d = X.c, shape[2];
  int o = lopt_at(L, 3, keys);
  cj_rng own, *r = optrng(L, o, &own);
  cj_dict_opts dop;
  double *D;
  int has;
  luaL_argcheck(L, m >= 1, 2, "the number of atoms must be >= 1");
  memset(&dop, 0, sizeof dop);
  dop.method = (cj_dict_method)optenum(L, o, "method", methods, 0);
  loopopts(L, o, &dop.loop, "dictionary", eta, r);
  if (optget(L, o, "batch") == LUA_TNIL) dop.loop.batch = 256;
  lua_pop(L, 1);
  dop.loop.shuffle = optbool(L, o, "shuffle", 1);
  dop.lambda = optnum(L, o, "lambda", 0.1);
  dop.forget = optnum(L, o, "forget", 20);
  dop.code_iters = optint(L, o, "iters", 100, 1);
  dop.tol = optnum(L, o, "tol", 1e-4);
  dop.nonneg = optbool(L, o, "nonneg", 0);
  dop.replace = optbool(L, o, "replace", 1);
  has = optmat(L, o, "D0", &D0, 2, 2);
  if (has && (D0.r != d || D0.c != m)) opterror(L, o, "D0", "an array of inputs x atoms");
  shape[0] = d;
  shape[1] = m;
  D = result(L, o, "out", 2, shape);
  if (has) memmove(D, D0.p, (size_t)(d * m) * sizeof *D);
  else {                                   /* m samples (with replacement if m > n) as columns */
    int64_t *pick;
    luaL_argcheck(L, X.r > 0, 1, "X has no samples to start from");
    pick = lua_newuserdatauv(L, (size_t)m * sizeof *pick, 0);
    if (cj_rng_choice(r, X.r, m, m > X.r, NULL, pick)) return corefail(L);
    for (int64_t j = 0; j < m; j++)
      for (int64_t i = 0; i < d; i++) D[i * m + j] = X.p[pick[j] * d + i];
    lua_pop(L, 1);
    for (int64_t j = 0; j < m; j++) {      /* a zero column gets a random direction */
      double s = 0;
      for (int64_t i = 0; i < d; i++) s += D[i * m + j] * D[i * m + j];
      if (s == 0) for (int64_t i = 0; i < d; i++) D[i * m + j] = cj_rng_normal(r);
    }
  }
  if (cj_learn_dictionary(X.p, X.r, d, D, m, &dop)) return corefail(L);
  lua_createtable(L, 0, 2);
  lua_pushnumber(L, dop.objective);
  lua_setfield(L, -2, "objective");
  lua_pushinteger(L, dop.replaced);
  lua_setfield(L, -2, "replaced");
  return 2;
}

/* ---- whitening and images -------------------------------------------------------------------------- */

/* pca(X [, k]) -> V (k x d), var (k), mean (d) */
static int l_pca(lua_State *L)
{
  mat X = checkmat(L, 1, "X", 2, 2, 0);
  int64_t d = X.c, k = luaL_optinteger(L, 2, d), shape[2];
  double *V, *var, *mean;
  luaL_argcheck(L, k >= 0 && k <= d, 2, "k must be between 0 and the number of inputs");
  luaL_argcheck(L, X.r >= 2, 1, "needs at least 2 samples");
  shape[0] = k;
  shape[1] = d;
  V = cj_newarray(L, CJ_F64, 2, shape)->a.data;
  var = cj_newarray(L, CJ_F64, 1, &k)->a.data;
  mean = cj_newarray(L, CJ_F64, 1, &d)->a.data;
  if (cj_learn_pca(X.p, X.r, d, k, mean, V, var)) return corefail(L);
  return 3;
}

/* whiten(X [, opts]) -> Z, W, mean */
static int l_whiten(lua_State *L)
{
  static const char *const keys[] = { "method", "k", "eps", NULL };
  static const char *const methods[] = { "zca", "pca", NULL };
  mat X = checkmat(L, 1, "X", 2, 2, 0);
  int o = lopt_at(L, 2, keys);
  int zca = optenum(L, o, "method", methods, 0) == 0;
  int64_t d = X.c, k = optint(L, o, "k", d, 1), shape[2];
  double eps, *W, *mean, *Z, big = 0;
  luaL_argcheck(L, X.r >= 2, 1, "needs at least 2 samples");
  if (k > d) opterror(L, o, "k", "at most the number of inputs");
  if (zca && k != d) opterror(L, o, "k", "absent for ZCA (it keeps every dimension)");
  if (optget(L, o, "eps") == LUA_TNIL) {     /* default eps: 1e-5 of the largest variance */
    int64_t one = 1;
    double *v1 = cj_newarray(L, CJ_F64, 1, &d)->a.data, *m1 = cj_newarray(L, CJ_F64, 1, &d)->a.data;
    double *var1 = cj_newarray(L, CJ_F64, 1, &one)->a.data;
    if (d > 0 && cj_learn_pca(X.p, X.r, d, 1, m1, v1, var1)) return corefail(L);
    big = d > 0 ? var1[0] : 0;
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
  eps = optnum(L, o, "eps", 1e-5 * big);
  if (eps < 0) opterror(L, o, "eps", ">= 0");
  shape[0] = X.r;
  shape[1] = k;
  Z = cj_newarray(L, CJ_F64, 2, shape)->a.data;
  shape[0] = k;
  shape[1] = d;
  W = cj_newarray(L, CJ_F64, 2, shape)->a.data;
  mean = cj_newarray(L, CJ_F64, 1, &d)->a.data;
  if (cj_learn_whitening(X.p, X.r, d, k, zca, eps, mean, W)) return corefail(L);
  /* Z = X W^T - (W mean)^T */
  if (cj_dgemm(0, 1, X.r, k, d, 1, X.p, d, W, d, 0, Z, k)) return corefail(L);
  for (int64_t i = 0; i < k; i++) {
    double c = 0;
    for (int64_t j = 0; j < d; j++) c += W[i * d + j] * mean[j];
    for (int64_t s = 0; s < X.r; s++) Z[s * k + i] -= c;
  }
  return 3;
}

/* whiten_image(img [, opts]) -> img */
static int l_whiten_image(lua_State *L)
{
  static const char *const keys[] = { "f0", "out", NULL };
  mat I = checkmat(L, 1, "image", 2, 2, 0);
  int o = lopt_at(L, 2, keys);
  double f0 = optnum(L, o, "f0", 0.4), *out;
  if (!(f0 > 0)) opterror(L, o, "f0", "positive (cycles per pixel)");
  luaL_argcheck(L, I.r >= 1 && I.c >= 1, 1, "empty image");
  out = result(L, o, "out", 2, I.shape);
  if (cj_learn_whiten_image(I.p, I.r, I.c, f0, out)) return corefail(L);
  return 1;
}

/* patches(img, size [, opts]) -> P */
static int l_patches(lua_State *L)
{
  static const char *const keys[] = { "count", "stride", "seed", "center", NULL };
  mat I = checkmat(L, 1, "image", 2, 3, 0);
  int64_t nimg = I.ndim == 3 ? I.shape[0] : 1, h = I.shape[I.ndim - 2], w = I.shape[I.ndim - 1];
  int64_t ph, pw, stride, count, shape[2];
  int o, center;
  cj_rng own, *r = NULL;
  double *P;
  if (lua_istable(L, 2)) {
    lua_rawgeti(L, 2, 1);
    lua_rawgeti(L, 2, 2);
    luaL_argcheck(L, lua_isinteger(L, -2) && lua_isinteger(L, -1) && lua_rawlen(L, 2) == 2, 2,
                  "size must be an integer or {rows, cols}");
    ph = lua_tointeger(L, -2);
    pw = lua_tointeger(L, -1);
    lua_pop(L, 2);
  } else ph = pw = luaL_checkinteger(L, 2);
  luaL_argcheck(L, ph >= 1 && pw >= 1 && ph <= h && pw <= w, 2, "the patch must fit the image");
  o = lopt_at(L, 3, keys);
  stride = optint(L, o, "stride", 1, 1);
  center = optbool(L, o, "center", 0);
  if (optget(L, o, "count") != LUA_TNIL) {
    if (optget(L, o, "stride") != LUA_TNIL) opterror(L, o, "stride", "absent with count (random patches)");
    lua_pop(L, 1);
    count = optint(L, o, "count", 0, 0);
    r = optrng(L, o, &own);
  } else count = cj_learn_npatches(nimg, h, w, ph, pw, stride);
  lua_pop(L, 1);
  shape[0] = count;
  shape[1] = ph * pw;
  P = cj_newarray(L, CJ_F64, 2, shape)->a.data;
  if (cj_learn_patches(I.p, nimg, h, w, ph, pw, stride, count, r, P)) return corefail(L);
  if (center)
    for (int64_t q = 0; q < count; q++) {
      double mu = 0, *p = P + q * ph * pw;
      for (int64_t j = 0; j < ph * pw; j++) mu += p[j];
      mu /= (double)(ph * pw);
      for (int64_t j = 0; j < ph * pw; j++) p[j] -= mu;
    }
  return 1;
}

/* dead_leaves(h, w [, opts]) -> img */
static int l_dead_leaves(lua_State *L)
{
  static const char *const keys[] = { "rmin", "rmax", "seed", NULL };
  int64_t shape[2] = { luaL_checkinteger(L, 1), luaL_checkinteger(L, 2) };
  int o;
  cj_rng own, *r;
  double rmin, rmax;
  luaL_argcheck(L, shape[0] >= 1 && shape[0] <= (1 << 16), 1, "height must be in 1..65536");
  luaL_argcheck(L, shape[1] >= 1 && shape[1] <= (1 << 16), 2, "width must be in 1..65536");
  o = lopt_at(L, 3, keys);
  r = optrng(L, o, &own);
  rmin = optnum(L, o, "rmin", 1);
  rmax = optnum(L, o, "rmax", (double)(shape[0] < shape[1] ? shape[0] : shape[1]) / 4);
  if (rmax < rmin) rmax = rmin;
  if (!(rmin >= 0.5)) opterror(L, o, "rmin", ">= 0.5 pixel");
  if (cj_learn_dead_leaves(shape[0], shape[1], rmin, rmax, r, cj_newarray(L, CJ_F64, 2, shape)->a.data))
    return corefail(L);
  return 1;
}

/* ---- projections and hashing ------------------------------------------------------------------------ */

/* random_projection(d, m [, opts]) -> P (m x d) */
static int l_random_projection(lua_State *L)
{
  static const char *const keys[] = { "kind", "fanin", "seed", NULL };
  static const char *const kinds[] = { "gaussian", "sparse", "binary", NULL };
  int64_t d = luaL_checkinteger(L, 1), m = luaL_checkinteger(L, 2), shape[2], fanin;
  int o, kind;
  cj_rng own, *r;
  luaL_argcheck(L, d >= 1, 1, "the number of inputs must be >= 1");
  luaL_argcheck(L, m >= 1, 2, "the number of outputs must be >= 1");
  o = lopt_at(L, 3, keys);
  kind = optenum(L, o, "kind", kinds, 0);
  fanin = optint(L, o, "fanin", d < 6 ? d : 6, 1);
  if (fanin > d) opterror(L, o, "fanin", "at most the number of inputs");
  r = optrng(L, o, &own);
  shape[0] = m;
  shape[1] = d;
  if (cj_learn_projection(d, m, (cj_proj_kind)kind, fanin, r, cj_newarray(L, CJ_F64, 2, shape)->a.data))
    return corefail(L);
  return 1;
}

/* fly_hash(X, P, k [, opts]) -> H (uint8, n x m) */
static int l_fly_hash(lua_State *L)
{
  static const char *const keys[] = { "center", "seed", NULL };
  mat X = checkmat(L, 1, "X", 1, 2, 1), P = checkmat(L, 2, "P", 2, 2, 0);
  int64_t k = luaL_checkinteger(L, 3), shape[2];
  int o = lopt_at(L, 4, keys), center = optbool(L, o, "center", 1);
  cj_rng own, *r = optrng(L, o, &own);
  checkcols(L, 2, "P", &P, X.c);
  luaL_argcheck(L, k >= 0 && k <= P.r, 3, "k must be between 0 and the number of outputs");
  shape[0] = X.r;
  shape[1] = P.r;
  if (cj_learn_fly_hash(X.p, X.r, X.c, P.p, P.r, k, center, r,
                        cj_newarray(L, CJ_U8, X.ndim == 1 ? 1 : 2, X.ndim == 1 ? shape + 1 : shape)->a.data))
    return corefail(L);
  return 1;
}

/* knn(X, r [, opts]) -> idx (int32, n x r, 1-based) */
static int l_knn(lua_State *L)
{
  static const char *const keys[] = { "seed", NULL };
  mat X = checkmat(L, 1, "X", 2, 2, 0);
  int64_t r = luaL_checkinteger(L, 2), shape[2], *idx;
  int o = lopt_at(L, 3, keys);
  cj_rng own, *g = optrng(L, o, &own);
  int32_t *out;
  luaL_argcheck(L, r >= 0 && r < X.r, 2, "r must be between 0 and the number of samples - 1");
  shape[0] = X.r;
  shape[1] = r;
  out = cj_newarray(L, CJ_I32, 2, shape)->a.data;
  idx = lua_newuserdatauv(L, (size_t)(X.r * r > 0 ? X.r * r : 1) * sizeof *idx, 0);
  if (cj_learn_knn(X.p, X.r, X.c, r, g, idx)) return corefail(L);
  for (int64_t q = 0; q < X.r * r; q++) out[q] = (int32_t)(idx[q] + 1);
  lua_pop(L, 1);
  return 1;
}

/* ---- registration ------------------------------------------------------------------------------------ */

static const luaL_Reg funcs[] = {
  { "hebb", l_hebb }, { "covariance", l_covariance }, { "oja", l_oja }, { "sanger", l_sanger },
  { "bcm", l_bcm }, { "normalize", l_normalize }, { "foldiak", l_foldiak },
  { "foldiak_code", l_foldiak_code }, { "kwta", l_kwta }, { "competitive", l_competitive },
  { "quantize", l_quantize }, { "som", l_som }, { "quantization_error", l_qerror },
  { "topographic_error", l_terror }, { "sparse_code", l_sparse_code },
  { "sparse_objective", l_sparse_objective }, { "dictionary", l_dictionary }, { "pca", l_pca },
  { "whiten", l_whiten }, { "whiten_image", l_whiten_image }, { "patches", l_patches },
  { "dead_leaves", l_dead_leaves }, { "random_projection", l_random_projection },
  { "fly_hash", l_fly_hash }, { "knn", l_knn },
  { NULL, NULL }
};

static const luaL_Reg methods[] = {
  { "train", m_train }, { "bmu", m_bmu }, { "quantization_error", m_qerror },
  { "topographic_error", m_terror }, { "umatrix", m_umatrix },
  { NULL, NULL }
};

#define LOOPDOC \
  "opts.eta: the rate per sample, a number or a schedule {start, end [, \"exp\"|\"linear\"|\"inv\"]}\n" \
  "over all presentations; opts.epochs (1) passes over the rows, in row order unless opts.shuffle\n" \
  "(a new permutation each epoch); opts.seed: a private generator (else the default one, cj.seed).\n"
#define WDOC \
  "opts.w0: initial weights (copied; default normal with sd 1/sqrt(d) from the generator); opts.out:\n" \
  "the array to write (pass the same array as w0 and out to train in place); opts.batch (1): samples\n" \
  "per update, a batch applying the mean of its per-sample updates through BLAS.\n" \
  "Rows of X are samples (finite, dimensionless). Weights that stop being finite raise an error\n" \
  "naming the sample and epoch.\n"

static const cj_doc docs[] = {
  { "hebb", "cj.learn.hebb(X [, opts]) -> w\n"
    "Plain Hebbian learning of linear units y = W x: dW = eta y x^T after each sample (Hebb 1949;\n"
    "Dayan & Abbott 2001, eq. 8.3). Without normalisation the weights grow without bound along the\n"
    "principal eigenvector of <x x^T>. w has one row of d weights (1-D) unless opts.k (units) or a\n"
    "2-D w0 asks for several. opts.normalize = \"multiplicative\" | \"subtractive\" after each update\n"
    "(see cj.learn.normalize; opts.target, opts.p).\n" LOOPDOC WDOC },
  { "covariance", "cj.learn.covariance(X [, opts]) -> w\n"
    "The covariance rule dW = eta (y - <y>)(x - <x>)^T of linear units y = W x (Sejnowski 1977;\n"
    "Dayan & Abbott eq. 8.5): potentiation when pre and post activity are both above or below their\n"
    "means, depression otherwise. <x> and <y> are the data means (<y> = W <x>), or with opts.tau\n"
    "running means with that time constant in samples, started at the data means. Options as hebb.\n" },
  { "oja", "cj.learn.oja(X [, opts]) -> w\n"
    "Oja's rule (Oja 1982) for one linear unit y = w.x: dw = eta y (x - alpha y w). w converges to\n"
    "the principal eigenvector of <x x^T> (of the covariance for centred data) with |w| = 1/sqrt(alpha)\n"
    "(opts.alpha, default 1). The sign of w is not determined by the rule.\n" LOOPDOC WDOC },
  { "sanger", "cj.learn.sanger(X, k [, opts]) -> W\n"
    "Sanger's generalised Hebbian algorithm (Sanger 1989): k linear units y = W x (W is k x d),\n"
    "dW = eta (y x^T - LT(y y^T) W), LT the lower triangle with the diagonal. Row i converges to the\n"
    "i-th eigenvector of <x x^T>, in order of decreasing eigenvalue, with unit norm.\n" LOOPDOC WDOC },
  { "bcm", "cj.learn.bcm(X [, opts]) -> w, theta\n"
    "The BCM rule (Bienenstock, Cooper & Munro 1982, in Intrator & Cooper's form) for linear units\n"
    "y = W x: dW = eta y (y - theta) x^T, with the sliding threshold theta += (y^2 - theta) / tau after\n"
    "each sample (opts.tau, in samples, default 100; opts.theta0, default <y^2> under the initial\n"
    "weights). The unit becomes selective: it answers one input pattern and not the others. theta is\n"
    "a number for one unit, an array for several (opts.k or a 2-D w0).\n" LOOPDOC WDOC },
  { "normalize", "cj.learn.normalize(W [, opts]) -> W\n"
    "Weight normalisation of each row (Miller & MacKay 1994): opts.method = \"multiplicative\"\n"
    "(default; w * target / |w|_p, opts.p = 2 or 1, a zero row unchanged) or \"subtractive\"\n"
    "(w - (sum(w) - target) / d, keeping the sum at target). opts.target (1); opts.out (may be W)." },
  { "foldiak", "cj.learn.foldiak(X, n [, opts]) -> Q, W, t\n"
    "Foldiak's (1990) network of n units forming a sparse, decorrelated binary code of X: feed-forward\n"
    "weights Q (n x d, Hebbian: dQ_ij = beta y_i (x_j - Q_ij)), lateral weights W (n x n, anti-Hebbian:\n"
    "dW_ij = -alpha (y_i y_j - p^2), kept <= 0, zero diagonal) and thresholds t (dt_i = gamma (y_i - p)).\n"
    "For each sample the units settle by Euler steps (opts.ds 0.1, opts.settle 200 steps at most) of\n"
    "dy*/ds = f(Q x + W y* - t) - y*, f(u) = 1/(1 + exp(-lambda u)), then y = [y* > 0.5].\n"
    "Defaults as the paper: alpha 0.1, beta 0.02, gamma 0.02, p 1/8, lambda 10. opts.Q0 (default uniform\n"
    "rows scaled to sum 1), W0 (0), t0 (0); opts.epochs, shuffle, seed." },
  { "foldiak_code", "cj.learn.foldiak_code(X, Q, W, t [, opts]) -> Y\n"
    "The binary responses (samples x units) of a network from cj.learn.foldiak, without learning.\n"
    "opts.lambda, ds, settle as there." },
  { "kwta", "cj.learn.kwta(A, k [, opts]) -> Y, duty\n"
    "k-winners-take-all over each row of A (samples x units): the k largest boosted values b_i a_i win;\n"
    "Y keeps their a_i (or 1 with opts.binary), 0 elsewhere. Boosting as in the spatial pooler of\n"
    "Hawkins & Ahmad: b_i = exp(-boost (duty_i - k/m)), duty the running mean of winning with time\n"
    "constant opts.tau rows (1000), updated after each row; opts.boost (0: none), opts.duty0 (k/m).\n"
    "Ties at the boundary are broken at random from the generator (opts.seed)." },
  { "competitive", "cj.learn.competitive(X, k [, opts]) -> W\n"
    "Competitive learning (Rumelhart & Zipser 1985): for each sample the nearest of k units (Euclidean;\n"
    "ties at random) moves towards it, dw = eta (x - w). W is k x d, started at k distinct random rows\n"
    "of X (or opts.w0). opts.eta defaults to the schedule {0.1, 0.001} (exponential).\n" LOOPDOC
    "opts.out as for hebb." },
  { "quantize", "cj.learn.quantize(X, W | map) -> idx, dist\n"
    "The nearest row of W (or unit of a map) for each row of X: 1-based indices (int32) and distances." },
  { "som", "cj.learn.som(X, grid [, opts]) -> map\n"
    "A Kohonen self-organising map (Kohonen 1982) on a chain (grid = n) or a rectangle\n"
    "(grid = {rows, cols}), trained on the rows of X: for each sample, with b the best-matching unit\n"
    "(ties at random), every unit moves dw_u = eta h_u (x - w_u), h_u = exp(-|g_u - g_b|^2 / (2 sigma^2))\n"
    "with g the grid positions. opts.eta (default {0.5, 0.01}) and opts.sigma (default\n"
    "{max(rows, cols)/2, 0.5}, in grid units) are numbers or schedules over all presentations;\n"
    "epochs, shuffle, seed as for oja; opts.w0 (units x d) else units start at random rows of X.\n"
    "map.weights (rows x cols x d, or units x d; live), map.grid, map.units, #map; map:train(X [, opts]),\n"
    "map:bmu(X), map:quantization_error(X), map:topographic_error(X), map:umatrix()." },
  { "quantization_error", "cj.learn.quantization_error(X, W | map) -> number\n"
    "Mean Euclidean distance from each row of X to its nearest unit (Kohonen's quantisation error)." },
  { "topographic_error", "cj.learn.topographic_error(X, map) -> number\n"
    "Fraction of the rows of X whose best and second-best units are not grid neighbours (Kiviluoto\n"
    "1996), with 4-neighbourhoods on a rectangle (diagonal units are not neighbours; MiniSom counts\n"
    "them) and adjacent units on a chain." },
  { "sparse_code", "cj.learn.sparse_code(X, D [, opts]) -> A, info\n"
    "Sparse codes (Olshausen & Field 1996) of the rows of X for the dictionary D (d x m, atoms in\n"
    "columns): each row a of A (n x m) minimises 1/2 |x - D a|^2 + lambda |a|_1 (opts.lambda 0.1;\n"
    "opts.nonneg: subject to a >= 0). opts.method: \"cd\" (default: coordinate descent on the Gram\n"
    "matrix, sample by sample, as scikit-learn's lasso_cd), \"fista\" (Beck & Teboulle 2009), \"ista\",\n"
    "or \"lca\" (the Locally Competitive Algorithm, Rozell et al. 2008, Euler step opts.step, default\n"
    "1/max(L, 1)); ISTA and FISTA step 1/L, L the largest eigenvalue of D^T D, on blocks of 256 samples.\n"
    "Iterations (CD: sweeps) stop when no code (LCA: no internal variable) moves by more than\n"
    "opts.tol (1e-6) * max(1, max|A|), or after opts.iters (1000). opts.a0 warm start, opts.out.\n"
    "info: iterations (the most any block or sample used), objective (the mean over samples),\n"
    "converged, L, and with opts.trace the objective after each iteration." },
  { "sparse_objective", "cj.learn.sparse_objective(X, D, A [, lambda]) -> number\n"
    "Mean over the rows of 1/2 |x - D a|^2 + lambda |a|_1 (lambda default 0.1)." },
  { "dictionary", "cj.learn.dictionary(X, m [, opts]) -> D, info\n"
    "Learn a dictionary of m unit-norm atoms (d x m) for the rows of X, on mini-batches (opts.batch\n"
    "256, shuffled each epoch unless opts.shuffle = false; opts.epochs 1): codes by coordinate descent\n"
    "(opts.lambda 0.1, opts.iters 100 sweeps, opts.tol 1e-4, opts.nonneg), then the atoms by opts.method \"bcd\" (block\n"
    "coordinate descent on the running statistics, Mairal et al. 2009, forgetting (1 - 1/t)^forget,\n"
    "opts.forget 20) or \"sgd\" (Olshausen & Field's gradient step D += eta/b (X - A D^T)^T A, opts.eta\n"
    "0.1), each followed by normalising the columns to unit length. Between epochs, atoms that coded\n"
    "almost nothing (< 2 % of the mean number of nonzero codes) or repeat a more used one (|cos| > 0.95)\n"
    "restart as the worst reconstructed samples of the last batch (K-SVD's remedy; opts.replace = false\n"
    "to keep them). Starts from opts.D0 or m random samples. info.objective: the mean objective of\n"
    "the last batch; info.replaced: atoms restarted." },
  { "pca", "cj.learn.pca(X [, k]) -> V, var, mean\n"
    "Principal components of the rows of X: V (k x d) the unit eigenvectors of the covariance (divisor\n"
    "n - 1, as numpy.cov and sklearn) by decreasing variance var; each signed so that its largest-\n"
    "magnitude element is positive. k defaults to d. LAPACK dsyevd." },
  { "whiten", "cj.learn.whiten(X [, opts]) -> Z, W, mean\n"
    "Whitened data Z = (X - mean) W^T with unit covariance: opts.method \"zca\" (default; W = U S U^T, the\n"
    "symmetric whitening of Bell & Sejnowski 1997) or \"pca\" (W = S U^T, keeping opts.k components),\n"
    "S = diag(1/sqrt(var + eps)); opts.eps defaults to 1e-5 times the largest variance." },
  { "whiten_image", "cj.learn.whiten_image(img [, opts]) -> img\n"
    "The whitening filter of natural images (Olshausen & Field 1997): multiply the 2-D spectrum by\n"
    "R(f) = f exp(-(f/f0)^4), f in cycles per pixel (opts.f0 = 0.4, their 200 cycles per 512 pixels),\n"
    "flattening a 1/f amplitude spectrum and rolling off the highest frequencies; the result has mean 0\n"
    "and variance 1. Periodic boundaries (FFTW). opts.out." },
  { "patches", "cj.learn.patches(img, size [, opts]) -> P\n"
    "Patches of size x size (or size = {rows, cols}) pixels from an image (h x w) or a stack (n x h x w),\n"
    "one per row of P, flattened row by row. All corners stride apart (opts.stride 1, as\n"
    "sklearn's extract_patches_2d) in raster order, or opts.count patches at random positions (opts.seed).\n"
    "opts.center: subtract each patch's mean." },
  { "dead_leaves", "cj.learn.dead_leaves(h, w [, opts]) -> img\n"
    "A synthetic natural-like image: opaque discs of uniform grey levels in [0, 1), radii of density r^-3\n"
    "on [opts.rmin, opts.rmax] pixels (1, min(h, w)/4), falling behind each other until the image is\n"
    "covered (Lee, Mumford & Huang 2001). Edges from occlusion; the amplitude spectrum falls close to\n"
    "1/f, as for natural images. opts.seed." },
  { "random_projection", "cj.learn.random_projection(d, m [, opts]) -> P\n"
    "A random m x d projection: opts.kind \"gaussian\" (entries N(0, 1/m), sklearn's\n"
    "GaussianRandomProjection), \"sparse\" (+-sqrt(s/m) with probability 1/(2s) each, s = sqrt(d), Li et\n"
    "al. 2006), or \"binary\" (each row has opts.fanin ones at distinct random inputs, default 6 as a\n"
    "Kenyon cell of the fly). opts.seed." },
  { "fly_hash", "cj.learn.fly_hash(X, P, k [, opts]) -> H\n"
    "The fly-olfaction hash (Dasgupta, Stevens & Navlakha 2017): each row of X centred on its own mean\n"
    "(unless opts.center = false), expanded by P (m x d, e.g. random_projection(d, 20 * d, {kind =\n"
    "\"binary\"})), and its k largest outputs set to 1 (winner-take-all; ties at random), the rest 0.\n"
    "H is uint8, samples x m." },
  { "knn", "cj.learn.knn(X, r [, opts]) -> idx\n"
    "The r nearest other rows of each row of X (Euclidean), nearest first, as 1-based int32 indices\n"
    "(n x r). Where equal distances straddle the r-th place, those taken are drawn at random from the\n"
    "generator (opts.seed), as binary hashes make ties common." },
  { NULL, NULL }
};

static const cj_doc mdocs[] = {
  { "train", "map:train(X [, opts]) -> map\nTrain further (options of cj.learn.som but w0)." },
  { "bmu", "map:bmu(X) -> idx, dist\nThe best-matching unit (1-based, row-major on the grid) of each row and its distance." },
  { "quantization_error", "map:quantization_error(X) -> number\nMean distance from each row of X to its best unit." },
  { "topographic_error", "map:topographic_error(X) -> number\nFraction of rows whose two best units are not grid neighbours." },
  { "umatrix", "map:umatrix() -> array\nFor each unit, the mean distance to the weights of its grid neighbours (rows x cols)." },
  { NULL, NULL }
};

void cj_open_learn(lua_State *L)
{
  luaL_newmetatable(L, CJ_SOM);                /* stack: mod, mt */
  luaL_newlib(L, methods);
  cj_setdocs(L, -1, mdocs);
  lua_setfield(L, -2, "methods");
  lua_pushcfunction(L, som_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, som_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, som_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);                       /* stack: mod, learn */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "learn");
}
