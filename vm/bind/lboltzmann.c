/*
 * lboltzmann.c — cj.boltzmann: Boltzmann machines, Hopfield networks and
 * dense associative memory, RBMs and deep belief nets, Ising models
 * (vm/core/boltzmann.h and the files it lists).
 *
 *   cj.boltzmann.energy(W, b, S)        exact(W, b [, beta | opts])
 *   cj.boltzmann.gibbs(W, b [, opts])   schedule(beta0, beta1, n [, kind])
 *   cj.boltzmann.binary_to_spin(W, b)   spin_to_binary(J, h)   empirical(S)
 *   cj.boltzmann.bm(nv, nh [, opts])        -> machine  (:train, :sample, :exact, :kl, ...)
 *   cj.boltzmann.hopfield(N [, opts])       -> network  (:store, :recall, :energy, ...)
 *   cj.boltzmann.rbm(nv, nh [, opts])       -> rbm      (:train, :sample, :free_energy, ...)
 *   cj.boltzmann.dbn(sizes [, opts])        -> dbn      (:train, :transform, :sample)
 *   cj.boltzmann.ising(L | {r, c} | J [, opts]) -> model (:run, :spins, ...)
 *
 * Data cross as float64 arrays (tables and other dtypes are converted);
 * every argument is checked before anything is allocated, and a bad value
 * names the argument, the element (1-based) and what was expected. Large
 * memory of the objects is reported to the collector. Without opts.seed a
 * seed is drawn from the default generator, so cj.seed(s) fixes every run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "boltzmann.h"
#include "lcajal.h"
#include "lopt.h"
#include "rng.h"

#define CJ_BM "cajal.bm"
#define CJ_HOPFIELD "cajal.hopfield"
#define CJ_RBM "cajal.rbm"
#define CJ_DBN "cajal.dbn"
#define CJ_ISING "cajal.ising"

typedef struct lbm { cj_bm *m; } lbm;
typedef struct lhop { cj_hopfield *h; uint64_t seed; } lhop;
typedef struct lrbm { cj_rbm *r; } lrbm;
typedef struct ldbn { int nl; } ldbn;          /* layers: a table in user value 1 */
/* A lattice (lat) or a general machine: user values 1 = W, 2 = b, 3 = state. */
typedef struct lising { cj_ising *lat; int64_t n, sweep; uint64_t seed; } lising;

#define checkbm(L, i) (((lbm *)luaL_checkudata(L, i, CJ_BM))->m)
#define checkrbm(L, i) (((lrbm *)luaL_checkudata(L, i, CJ_RBM))->r)
#define checkhop(L, i) ((lhop *)luaL_checkudata(L, i, CJ_HOPFIELD))
#define checkising(L, i) ((lising *)luaL_checkudata(L, i, CJ_ISING))
#define checkdbn(L, i) ((ldbn *)luaL_checkudata(L, i, CJ_DBN))

/* __gc of a userdata T holding a core object in field f, freed by fr. */
#define GCFUNC(name, T, tname, f, fr)                \
  static int name(lua_State *L)                      \
  {                                                  \
    T *u_ = luaL_checkudata(L, 1, tname);            \
    fr(u_->f);                                       \
    u_->f = NULL;                                    \
    return 0;                                        \
  }

/* ---- options ------------------------------------------------------------------------ */

static int argerr(lua_State *L, int arg, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_argerror(L, arg, lua_tostring(L, -1));
}

static void corefail(lua_State *L)
{
  luaL_error(L, "%s", cj_errmsg());
}

/* Option table at o (absent: 0), checking every key against known. */
static int optstable(lua_State *L, int o, const char *const *known)
{
  return lopt_at(L, o, known) != 0;
}

/* opts[key] pushed; returns its type (LUA_TNIL when o is 0 or the key absent). */
static int getopt(lua_State *L, int o, const char *key)
{
  if (!o) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, o, key);
}

static int64_t optint(lua_State *L, int o, const char *key, int64_t def, int64_t lo)
{
  int64_t v = def;
  if (getopt(L, o, key) != LUA_TNIL) {
    int isint;
    lua_Integer x = lua_tointegerx(L, -1, &isint);
    if (!isint || x < lo) argerr(L, o, "option '%s' must be an integer >= %d", key, (int)lo);
    v = (int64_t)x;
  }
  lua_pop(L, 1);
  return v;
}

static double optnum(lua_State *L, int o, const char *key, double def)
{
  double v = def;
  if (getopt(L, o, key) != LUA_TNIL) {
    if (!lua_isnumber(L, -1) || !isfinite(lua_tonumber(L, -1)))
      argerr(L, o, "option '%s' must be a finite number", key);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int optbool(lua_State *L, int o, const char *key, int def)
{
  int t = getopt(L, o, key), v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TBOOLEAN) argerr(L, o, "option '%s' must be a boolean", key);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* opts[key] as one of names (index returned), def when absent. */
static int optenum(lua_State *L, int o, const char *key, const char *const *names, int def)
{
  int v = def;
  if (getopt(L, o, key) != LUA_TNIL) {
    const char *s = lua_tostring(L, -1);
    luaL_Buffer b;
    v = -1;
    for (int k = 0; s && lua_type(L, -1) == LUA_TSTRING && names[k]; k++)
      if (strcmp(names[k], s) == 0) v = k;
    if (v < 0) {
      luaL_buffinit(L, &b);
      for (int k = 0; names[k]; k++) {
        luaL_addstring(&b, k ? (names[k + 1] ? "\", \"" : "\" or \"") : "\"");
        luaL_addstring(&b, names[k]);
      }
      luaL_addstring(&b, "\"");
      luaL_pushresult(&b);
      argerr(L, o, "option '%s' must be %s", key, lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);
  return v;
}

/* A positive finite inverse temperature at stack index i (for argument arg). */
static double checkbeta(lua_State *L, int i, int arg, const char *what)
{
  double v;
  if (!lua_isnumber(L, i)) argerr(L, arg, "%s must be a number", what);
  v = lua_tonumber(L, i);
  if (!(v > 0) || !isfinite(v))
    argerr(L, arg, "%s must be positive and finite (temperature > 0), got %f", what, v);
  return v;
}

static double optbeta(lua_State *L, int o, double def)
{
  double v = def;
  if (getopt(L, o, "beta") != LUA_TNIL) v = checkbeta(L, -1, o, "option 'beta'");
  lua_pop(L, 1);
  return v;
}

/* opts.seed, or a seed drawn from the default generator (cj.seed). */
static uint64_t optseed(lua_State *L, int o)
{
  uint64_t s;
  if (getopt(L, o, "seed") != LUA_TNIL) {
    int isint;
    lua_Integer x = lua_tointegerx(L, -1, &isint);
    if (!isint || x < 0) argerr(L, o, "option 'seed' must be a non-negative integer");
    lua_pop(L, 1);
    return (uint64_t)x;
  }
  lua_pop(L, 1);
  s = (uint64_t)cj_rng_u32(cj_default_rng()) << 32;
  s |= cj_rng_u32(cj_default_rng());
  return s & (uint64_t)INT64_MAX;
}

static int64_t checkcount(lua_State *L, int i, const char *what, int64_t lo)
{
  int isint;
  lua_Integer v = lua_tointegerx(L, i, &isint);
  if (!isint || v < lo) argerr(L, i, "%s must be an integer >= %d", what, (int)lo);
  return (int64_t)v;
}

/* ---- arrays --------------------------------------------------------------------------- */

/* The value at slot i as a contiguous float64 array (a table, number or other
 * dtype is converted and replaces slot i). arg, what: for messages. */
static larray *getarr(lua_State *L, int i, int arg, const char *what)
{
  larray *a;
  i = lua_absindex(L, i);
  if (!(a = cj_testarray(L, i))) {
    if (!lua_istable(L, i) && !lua_isnumber(L, i)) argerr(L, arg, "%s must be an array or table", what);
    a = cj_optarray(L, i);
    lua_replace(L, i);
  }
  if (!cj_dim_isless(a->dim)) argerr(L, arg, "%s must be dimensionless", what);
  if (a->a.dtype != CJ_F64 || !cj_array_iscontig(&a->a)) {
    larray *c = cj_newarray(L, CJ_F64, a->a.ndim, a->a.shape);
    if (cj_array_copy(&c->a, &a->a)) corefail(L);
    lua_replace(L, i);
    a = c;
  }
  return a;
}

/* A matrix (rows x cols) at slot i; a 1-D array is one row when vec_ok. */
static double *getmat(lua_State *L, int i, int arg, const char *what, int64_t *rows, int64_t *cols,
                      int vec_ok)
{
  larray *a = getarr(L, i, arg, what);
  *rows = *cols = 0;
  if (a->a.ndim == 2) {
    *rows = a->a.shape[0];
    *cols = a->a.shape[1];
  } else if (a->a.ndim == 1 && vec_ok) {
    *rows = 1;
    *cols = a->a.shape[0];
  } else {
    argerr(L, arg, "%s must be a %s (got %d dimensions)", what, vec_ok ? "vector or a matrix" : "matrix",
           a->a.ndim);
  }
  return a->a.data;
}

/* A vector of n elements (n < 0: any, its length in *len) at slot i. */
static double *getvec(lua_State *L, int i, int arg, const char *what, int64_t n, int64_t *len)
{
  larray *a = getarr(L, i, arg, what);
  if (a->a.ndim != 1) argerr(L, arg, "%s must be a vector (got %d dimensions)", what, a->a.ndim);
  if (n >= 0 && a->a.shape[0] != n)
    argerr(L, arg, "%s must have %d elements (got %d)", what, (int)n, (int)a->a.shape[0]);
  if (len) *len = a->a.shape[0];
  return a->a.data;
}

static double *newmat(lua_State *L, int64_t rows, int64_t cols)
{
  int64_t shape[2] = { rows, cols };
  return cj_newarray(L, CJ_F64, 2, shape)->a.data;
}

static double *newvec(lua_State *L, int64_t n)
{
  return cj_newarray(L, CJ_F64, 1, &n)->a.data;
}

/* Element k of a rows x cols block as "[r][c]" (1-based), or "[k]" for a vector. */
static const char *where(lua_State *L, int64_t k, int64_t rows, int64_t cols, int vec)
{
  if (vec) return lua_pushfstring(L, "[%I]", (lua_Integer)(k + 1));
  (void)rows;
  return lua_pushfstring(L, "[%I][%I]", (lua_Integer)(k / cols + 1), (lua_Integer)(k % cols + 1));
}

/* Data values must be +-1 (pm1), 0/1, or in [0, 1] (frac). */
static void checkbinary(lua_State *L, int arg, const char *what, const double *x, int64_t rows,
                        int64_t cols, int vec, int pm1, int frac)
{
  int64_t k = cj_bz_find_nonbinary(x, rows * cols, pm1, frac);
  if (k < 0) return;
  argerr(L, arg, "%s must hold %s (element %s is %f)", what,
         pm1 ? "-1/+1 values" : frac ? "values in [0, 1]" : "0/1 values",
         where(L, k, rows, cols, vec), x[k]);
}

/* W (n x n) and b (n, or nil: zeros) at args iw, ib: checked symmetric with a
 * zero diagonal and finite. *b is NULL for nil. */
static double *getmodel(lua_State *L, int iw, int ib, int64_t *n, double **b)
{
  int64_t r, c, pi, pj;
  double *W = getmat(L, iw, iw, "W", &r, &c, 0);
  if (r != c || r < 1) argerr(L, iw, "W must be a square matrix with at least one unit (got %dx%d)", (int)r, (int)c);
  *n = r;
  *b = lua_isnoneornil(L, ib) ? NULL : getvec(L, ib, ib, "b", r, NULL);
  if (cj_bz_check(W, *b, r, &pi, &pj)) {
    if (pj < 0) argerr(L, ib, "b[%d] is not finite", (int)pi + 1);
    if (!isfinite(W[pi * r + pj])) argerr(L, iw, "W[%d][%d] is not finite", (int)pi + 1, (int)pj + 1);
    if (pi == pj) argerr(L, iw, "W must have a zero diagonal (W[%d][%d] = %f)", (int)pi + 1, (int)pi + 1, W[pi * r + pi]);
    argerr(L, iw, "W must be symmetric (W[%d][%d] = %f, W[%d][%d] = %f)", (int)pi + 1, (int)pj + 1,
           W[pi * r + pj], (int)pj + 1, (int)pi + 1, W[pj * r + pi]);
  }
  return W;
}

/* units option: 0 = "pm1" (+-1), 1 = "01". */
static const char *const unitnames[] = { "pm1", "01", NULL };

/* {0,1} parameters (W, b) as +-1 ones (J, h pushed as arrays); *c the offset
 * E01(z) = E(s) + c. */
static void tospin(lua_State *L, const double *W, const double *b, int64_t n, double **J, double **h,
                   double *c)
{
  *J = newmat(L, n, n);
  *h = newvec(L, n);
  cj_bz_binary_to_spin(W, b, n, *J, *h, c);
}

/* ---- module functions ---------------------------------------------------------------- */

static int bz_energy(lua_State *L)
{
  static const char *const known[] = { "units", NULL };
  int64_t n, rows, cols;
  double *b, *W = getmodel(L, 1, 2, &n, &b), *S, *E;
  int o = optstable(L, 4, known) ? 4 : 0, u01 = optenum(L, o, "units", unitnames, 0);
  int vec;
  S = getmat(L, 3, 3, "S", &rows, &cols, 1);
  vec = cj_testarray(L, 3)->a.ndim == 1;
  if (cols != n) argerr(L, 3, "S must have %d columns, one per unit (got %d)", (int)n, (int)cols);
  checkbinary(L, 3, "S", S, rows, cols, vec, !u01, 0);
  E = newvec(L, rows);
  cj_bz_energy(W, b, n, S, rows, E);
  if (vec) lua_pushnumber(L, E[0]);
  return 1;
}

/* t.mean etc. of a {0,1} machine from those of its +-1 form. */
static void exact01(double *mean, double *corr, int64_t n)
{
  if (corr)
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++)
        if (i != j) corr[i * n + j] = 0.25 * (1 + mean[i] + mean[j] + corr[i * n + j]);
  for (int64_t i = 0; i < n; i++) {
    mean[i] = 0.5 * (1 + mean[i]);
    if (corr) corr[i * n + i] = mean[i];
  }
}

static int bz_exact(lua_State *L)
{
  static const char *const known[] = { "beta", "units", "probs", "marginal", NULL };
  int64_t n, k = -1;
  double *b, *W = getmodel(L, 1, 2, &n, &b), beta = 1, c = 0;
  int o = 0, u01 = 0, probs = 0;
  cj_bz_exact_out x;
  memset(&x, 0, sizeof x);
  if (lua_type(L, 3) == LUA_TNUMBER) beta = checkbeta(L, 3, 3, "beta");
  else if (optstable(L, 3, known)) o = 3;
  if (o) {
    beta = optbeta(L, o, 1.0);
    u01 = optenum(L, o, "units", unitnames, 0);
    probs = optbool(L, o, "probs", 0);
    k = optint(L, o, "marginal", -1, 0);
    if (k > n) argerr(L, o, "option 'marginal' must be at most the number of units (%d)", (int)n);
  }
  if (n > CJ_BZ_EXACT_MAX)
    argerr(L, 1, "exact enumeration takes at most %d units (got %d)", CJ_BZ_EXACT_MAX, (int)n);
  lua_settop(L, 3);
  if (u01) tospin(L, W, b, n, &W, &b, &c);     /* stack: W, b, o, [J, h] */
  lua_createtable(L, 0, 8);
  x.mean = newvec(L, n);
  lua_setfield(L, -2, "mean");
  x.corr = newmat(L, n, n);
  lua_setfield(L, -2, "corr");
  if (probs) {
    x.p = newvec(L, (int64_t)1 << n);
    lua_setfield(L, -2, "p");
  }
  if (k >= 0) {
    x.k = k;
    x.pk = newvec(L, (int64_t)1 << k);
    lua_setfield(L, -2, "marginal");
  }
  if (cj_bz_exact(W, b, n, beta, &x)) corefail(L);
  if (u01) {
    exact01(x.mean, x.corr, n);
    x.logZ -= beta * c;
    x.energy2 += 2 * c * x.energy + c * c;
    x.energy += c;
  }
  lua_pushnumber(L, x.logZ);
  lua_setfield(L, -2, "logZ");
  lua_pushnumber(L, x.energy);
  lua_setfield(L, -2, "energy");
  lua_pushnumber(L, x.energy2 - x.energy * x.energy);
  lua_setfield(L, -2, "energy_var");
  lua_pushnumber(L, beta);
  lua_setfield(L, -2, "beta");
  lua_pushstring(L, unitnames[u01]);
  lua_setfield(L, -2, "units");
  return 1;
}

static const char *const methodnames[] = { "heatbath", "metropolis", NULL };
static const char *const ordernames[] = { "sequential", "random", NULL };

/* The clamp option: a list of 1-based unit numbers -> flags (a uint8 array pushed). */
static unsigned char *getclamp(lua_State *L, int o, int64_t n)
{
  unsigned char *f = NULL;
  if (getopt(L, o, "clamp") != LUA_TNIL) {
    int64_t len, shape = n;
    double *u = getvec(L, -1, o, "option 'clamp'", -1, &len);
    f = cj_newarray(L, CJ_U8, 1, &shape)->a.data;
    for (int64_t k = 0; k < len; k++) {
      if (u[k] != floor(u[k]) || u[k] < 1 || u[k] > (double)n)
        argerr(L, o, "option 'clamp' must list unit numbers 1 .. %d (element %d is %f)", (int)n, (int)k + 1, u[k]);
      f[(int64_t)u[k] - 1] = 1;
    }
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
  }
  return f;                                    /* stack: [flags] */
}

/* Initial states (chains x n) pushed: opts.init (a vector for every chain or
 * a chains x n matrix, checked binary) or random keyed states. */
static double *getinit(lua_State *L, int o, int64_t n, int64_t chains, int64_t chain0, uint64_t seed,
                       int u01)
{
  double *s = newmat(L, chains, n);
  if (getopt(L, o, "init") != LUA_TNIL) {
    int64_t r, c;
    double *x = getmat(L, -1, o, "option 'init'", &r, &c, 1);
    if (c != n || (r != 1 && r != chains))
      argerr(L, o, "option 'init' must be a vector of %d units or a %dx%d matrix (got %dx%d)", (int)n,
             (int)chains, (int)n, (int)r, (int)c);
    checkbinary(L, o, "option 'init'", x, r, c, r == 1, !u01, 0);
    for (int64_t q = 0; q < chains; q++)
      for (int64_t i = 0; i < n; i++) {
        double v = x[(r == 1 ? 0 : q) * n + i];
        s[q * n + i] = u01 ? 2 * v - 1 : v;
      }
    lua_pop(L, 1);
    return s;
  }
  lua_pop(L, 1);
  cj_bz_random_states(seed, CJ_BZ_INIT, chain0, chains, 0, n, s);
  return s;
}

/* opts.beta for a run of total sweeps: a number, or an array (schedule) of
 * total values. Returns the constant, *betas the schedule or NULL. */
static double getbetas(lua_State *L, int o, int64_t total, const double **betas)
{
  double beta = 1;
  *betas = NULL;
  if (getopt(L, o, "beta") == LUA_TNUMBER) {
    beta = checkbeta(L, -1, o, "option 'beta'");
  } else if (!lua_isnil(L, -1)) {
    double *v = getvec(L, -1, o, "option 'beta' (a schedule)", total, NULL);
    for (int64_t k = 0; k < total; k++)
      if (!(v[k] > 0) || !isfinite(v[k]))
        argerr(L, o, "option 'beta' must hold positive finite values (temperature > 0); element %d is %f",
               (int)k + 1, v[k]);
    *betas = v;
    return beta;                               /* the array stays on the stack */
  }
  lua_pop(L, 1);
  return beta;
}

static int bz_gibbs(lua_State *L)
{
  static const char *const known[] = { "sweeps", "burnin", "chains", "beta", "seed", "thin", "init",
                                       "method", "order", "clamp", "start", "offset", "units", NULL };
  int64_t n;
  double *b, *W = getmodel(L, 1, 2, &n, &b), *state, *samples, c;
  int o = optstable(L, 3, known) ? 3 : 0, u01;
  cj_bz_gibbs_opts g;
  cj_bz_gibbs_defaults(&g);
  lua_settop(L, 3);
  g.sweeps = optint(L, o, "sweeps", 1000, 0);
  g.burnin = optint(L, o, "burnin", 100, 0);
  g.chains = optint(L, o, "chains", 1, 0);
  g.thin = optint(L, o, "thin", 1, 1);
  g.start = optint(L, o, "start", 0, 0);
  g.chain0 = optint(L, o, "offset", 0, 0);
  g.method = (cj_bz_method)optenum(L, o, "method", methodnames, 0);
  g.order = (cj_bz_order)optenum(L, o, "order", ordernames, 0);
  u01 = optenum(L, o, "units", unitnames, 0);
  g.seed = optseed(L, o);
  if (g.sweeps > (INT64_MAX - g.burnin) / g.thin ||
      (g.sweeps > 0 && g.chains > (((int64_t)1 << 40) / n) / g.sweeps))
    argerr(L, 3, "too many samples (chains x sweeps x units)");
  g.beta = getbetas(L, o, g.burnin + g.sweeps * g.thin, &g.betas);   /* stack: ..., [betas] */
  g.clamp = getclamp(L, o, n);                                         /* stack: ..., [flags] */
  if (g.clamp) {
    if (getopt(L, o, "init") == LUA_TNIL) argerr(L, o, "option 'clamp' needs option 'init' (the clamped values)");
    lua_pop(L, 1);
  }
  if (u01) tospin(L, W, b, n, &W, &b, &c);
  samples = newmat(L, g.chains * g.sweeps, n);
  state = getinit(L, o, n, g.chains, g.chain0, g.seed, u01);
  if (cj_bz_gibbs(W, b, n, &g, state, samples, NULL, NULL)) corefail(L);
  if (u01) {
    for (int64_t k = 0; k < g.chains * g.sweeps * n; k++) samples[k] = 0.5 * (samples[k] + 1);
    for (int64_t k = 0; k < g.chains * n; k++) state[k] = 0.5 * (state[k] + 1);
  }
  lua_pushvalue(L, -2);                        /* stack: ..., samples, state, samples */
  lua_insert(L, -2);                           /* stack: ..., samples, samples, state */
  return 2;
}

static int bz_schedule(lua_State *L)
{
  static const char *const kinds[] = { "linear", "geometric", NULL };
  double b0 = checkbeta(L, 1, 1, "beta0"), b1 = checkbeta(L, 2, 2, "beta1");
  int64_t n = checkcount(L, 3, "n", 1);
  int kind = 0;
  if (!lua_isnoneornil(L, 4)) kind = luaL_checkoption(L, 4, NULL, kinds);
  if (cj_bz_schedule(b0, b1, n, kind, newvec(L, n))) corefail(L);
  return 1;
}

static int bz_binary_to_spin(lua_State *L)
{
  int64_t n;
  double *b, *W = getmodel(L, 1, 2, &n, &b), *J, *h, c;
  tospin(L, W, b, n, &J, &h, &c);
  lua_pushnumber(L, c);
  return 3;
}

static int bz_spin_to_binary(lua_State *L)
{
  int64_t n;
  double *h, *J = getmodel(L, 1, 2, &n, &h), *W, *b, c;
  W = newmat(L, n, n);
  b = newvec(L, n);
  cj_bz_spin_to_binary(J, h, n, W, b, &c);
  lua_pushnumber(L, c);
  return 3;
}

static int bz_empirical(lua_State *L)
{
  static const char *const known[] = { "units", NULL };
  int64_t rows, n;
  double *S = getmat(L, 1, 1, "S", &rows, &n, 1), *p;
  int o = optstable(L, 2, known) ? 2 : 0, u01 = optenum(L, o, "units", unitnames, 0);
  if (n > CJ_BZ_EXACT_MAX) argerr(L, 1, "S may have at most %d columns (got %d)", CJ_BZ_EXACT_MAX, (int)n);
  checkbinary(L, 1, "S", S, rows, n, 0, !u01, 0);
  p = newvec(L, (int64_t)1 << n);
  for (int64_t r = 0; r < rows; r++) {
    uint64_t x = 0;
    for (int64_t i = 0; i < n; i++)
      if (S[r * n + i] > 0) x |= (uint64_t)1 << i;
    p[x] += 1.0 / (double)rows;
  }
  return 1;
}

/* ---- shared pieces of the objects ----------------------------------------------------- */

/* Report size bytes of a new object to the collector as work done. */
static void account(lua_State *L, size_t size)
{
  if (size > 65536) lua_gc(L, LUA_GCSTEP, (int)(size / 1024 > INT32_MAX ? INT32_MAX : size / 1024));
}

/* Push a view of rows x cols (cols 0: a vector of rows) doubles at p owned
 * by the object at stack index base. */
static void pushview(lua_State *L, int base, double *p, int64_t rows, int64_t cols)
{
  cj_array v;
  int64_t shape[2] = { rows, cols };
  cj_array_wrap(&v, p, CJ_F64, cols ? 2 : 1, shape);
  cj_pushview(L, base, &v, cj_dimless);
}

/* Copy the value at stack index 3 (__newindex) into rows x cols doubles at p. */
static void assign(lua_State *L, const char *what, double *p, int64_t rows, int64_t cols)
{
  int64_t r, c;
  double *x;
  if (cols) {
    x = getmat(L, 3, 3, what, &r, &c, 0);
    if (r != rows || c != cols) argerr(L, 3, "%s must be %dx%d (got %dx%d)", what, (int)rows, (int)cols, (int)r, (int)c);
  } else {
    x = getvec(L, 3, 3, what, rows, NULL);
  }
  for (int64_t k = 0; k < rows * (cols ? cols : 1); k++)
    if (!isfinite(x[k])) argerr(L, 3, "%s must be finite (element %d)", what, (int)k + 1);
  memcpy(p, x, sizeof(double) * (size_t)(rows * (cols ? cols : 1)));
}

/* __index: the methods (upvalue 1 of the __index closure, where the REPL's
 * completion finds them) then the fields answered by f. */
static int indexwith(lua_State *L, int (*f)(lua_State *L, const char *key))
{
  const char *key;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  key = lua_tostring(L, 2);
  if (key && lua_type(L, 2) == LUA_TSTRING && f(L, key)) return 1;
  lua_pushnil(L);
  return 1;
}

/* Data rows (m x n) of argument i: checked finite, binary (+-1 or 0/1), or in
 * [0, 1]. vec: set when a vector (one row) was given. */
static double *getdata(lua_State *L, int i, int arg, const char *what, int64_t n, int64_t *m, int *vec,
                       int kind)
{
  int64_t c;
  double *X = getmat(L, i, arg, what, m, &c, 1);
  *vec = cj_testarray(L, i)->a.ndim == 1;
  if (c != n) argerr(L, arg, "%s must have %d columns, one per %s unit (got %d)", what, (int)n,
                     kind == 3 ? "hidden" : "visible", (int)c);
  if (kind == 0) checkbinary(L, arg, what, X, *m, c, *vec, 1, 0);        /* +-1 */
  else if (kind == 1) checkbinary(L, arg, what, X, *m, c, *vec, 0, 0);   /* 0/1 */
  else if (kind == 2 || kind == 3) checkbinary(L, arg, what, X, *m, c, *vec, 0, 1);  /* [0, 1] */
  else
    for (int64_t k = 0; k < *m * c; k++)
      if (!isfinite(X[k])) argerr(L, arg, "%s must be finite (element %s)", what, where(L, k, *m, c, *vec));
  return X;
}

/* ---- Boltzmann machines with hidden units --------------------------------------------- */

static int bz_bm(lua_State *L)
{
  static const char *const known[] = { "seed", "sd", "mask", NULL };
  int64_t nv = checkcount(L, 1, "n_visible", 1), nh = checkcount(L, 2, "n_hidden", 0), n = nv + nh;
  int o = optstable(L, 3, known) ? 3 : 0;
  double sd = optnum(L, o, "sd", 0.01);
  uint64_t seed = optseed(L, o);
  unsigned char *mask = NULL;
  lbm *u;
  if (n > 46340) argerr(L, 1, "too many units (%d)", (int)n);
  if (sd < 0) argerr(L, o, "option 'sd' must be >= 0");
  lua_settop(L, 3);
  if (getopt(L, o, "mask") != LUA_TNIL) {      /* stack: nv, nh, o, mask */
    int64_t r, c, shape[2] = { n, n };
    double *x = getmat(L, 4, o, "option 'mask'", &r, &c, 0);
    if (r != n || c != n) argerr(L, o, "option 'mask' must be %dx%d (got %dx%d)", (int)n, (int)n, (int)r, (int)c);
    checkbinary(L, o, "option 'mask'", x, r, c, 0, 0, 0);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++)
        if (x[i * n + j] != x[j * n + i])
          argerr(L, o, "option 'mask' must be symmetric (element [%d][%d])", (int)i + 1, (int)j + 1);
    mask = cj_newarray(L, CJ_U8, 2, shape)->a.data;
    for (int64_t k = 0; k < n * n; k++) mask[k] = x[k] != 0;
  }
  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->m = NULL;
  luaL_setmetatable(L, CJ_BM);
  if (!(u->m = cj_bm_new(nv, nh, mask, sd, seed))) corefail(L);
  account(L, cj_bm_memsize(u->m));
  return 1;
}

GCFUNC(bm_gc, lbm, CJ_BM, m, cj_bm_free)

static int bm_train(lua_State *L)
{
  static const char *const known[] = { "epochs", "batch", "lr", "momentum", "decay", "exact", "persistent",
                                       "chains", "burnin", "sweeps", "anneal", "shuffle", NULL };
  cj_bm *m = checkbm(L, 1);
  int64_t rows;
  int vec, o;
  double *X = getdata(L, 2, 2, "X", m->nv, &rows, &vec, 0);
  cj_bm_train_opts t;
  cj_bm_train_defaults(&t);
  o = optstable(L, 3, known) ? 3 : 0;
  t.epochs = optint(L, o, "epochs", t.epochs, 0);
  t.batch = optint(L, o, "batch", t.batch, 1);
  t.lr = optnum(L, o, "lr", t.lr);
  t.momentum = optnum(L, o, "momentum", 0);
  t.decay = optnum(L, o, "decay", 0);
  t.exact = optbool(L, o, "exact", 0);
  t.persistent = optbool(L, o, "persistent", 1);
  t.chains = optint(L, o, "chains", t.chains, 1);
  t.burnin = optint(L, o, "burnin", t.burnin, 0);
  t.sweeps = optint(L, o, "sweeps", t.sweeps, 1);
  t.shuffle = optbool(L, o, "shuffle", 1);
  if (!(t.momentum >= 0 && t.momentum < 1)) argerr(L, o, "option 'momentum' must be in [0, 1)");
  if (t.decay < 0) argerr(L, o, "option 'decay' must be >= 0");
  if (t.exact && m->n > CJ_BZ_EXACT_MAX)
    argerr(L, o, "option 'exact' enumerates all %d units (at most %d)", (int)m->n, CJ_BZ_EXACT_MAX);
  lua_settop(L, 3);
  if (getopt(L, o, "anneal") != LUA_TNIL) {
    int64_t len;
    double *a = getvec(L, 4, o, "option 'anneal'", -1, &len);
    if (len < 1) argerr(L, o, "option 'anneal' must hold at least one beta");
    for (int64_t k = 0; k < len; k++)
      if (!(a[k] > 0) || !isfinite(a[k]))
        argerr(L, o, "option 'anneal' must hold positive finite betas (temperature > 0); element %d is %f", (int)k + 1, a[k]);
    t.anneal = a;
    t.nanneal = len;
  }
  if (cj_bm_train(m, X, rows, &t)) corefail(L);
  account(L, cj_bm_memsize(m) / 8);
  lua_settop(L, 1);
  return 1;
}

static int bm_sample(lua_State *L)
{
  static const char *const known[] = { "sweeps", "beta", "seed", "offset", "method", NULL };
  cj_bm *m = checkbm(L, 1);
  int64_t cnt = checkcount(L, 2, "n", 0);
  int o = optstable(L, 3, known) ? 3 : 0;
  cj_bz_gibbs_opts g;
  double *state;
  cj_bz_gibbs_defaults(&g);
  g.burnin = optint(L, o, "sweeps", 1000, 1) - 1;
  g.sweeps = 1;
  g.chains = cnt;
  g.chain0 = optint(L, o, "offset", 0, 0);
  g.beta = optbeta(L, o, 1.0);
  g.method = (cj_bz_method)optenum(L, o, "method", methodnames, 0);
  g.seed = optseed(L, o);
  state = newmat(L, cnt, m->n);
  cj_bz_random_states(g.seed, CJ_BZ_INIT, g.chain0, cnt, 0, m->n, state);
  if (cj_bz_gibbs(m->W, m->b, m->n, &g, state, NULL, NULL, NULL)) corefail(L);
  return 1;
}

/* P(visible state) of the machine, 2^nv values pushed. */
static double *visiblemarginal(lua_State *L, int arg, const cj_bm *m)
{
  cj_bz_exact_out x;
  if (m->n > CJ_BZ_EXACT_MAX)
    argerr(L, arg, "exact enumeration takes at most %d units (the machine has %d)", CJ_BZ_EXACT_MAX, (int)m->n);
  memset(&x, 0, sizeof x);
  x.k = m->nv;
  x.pk = newvec(L, (int64_t)1 << m->nv);
  if (cj_bz_exact(m->W, m->b, m->n, 1.0, &x)) corefail(L);
  return x.pk;
}

static uint64_t statecode(const double *s, int64_t n)
{
  uint64_t x = 0;
  for (int64_t i = 0; i < n; i++)
    if (s[i] > 0) x |= (uint64_t)1 << i;
  return x;
}

static int bm_kl(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  int64_t rows, nv = m->nv, N = (int64_t)1 << (nv < 30 ? nv : 30);
  int vec;
  double *X = getdata(L, 2, 2, "X", nv, &rows, &vec, 0), *pm, *pd, kl = 0;
  pm = visiblemarginal(L, 1, m);
  pd = newvec(L, N);
  for (int64_t r = 0; r < rows; r++) pd[statecode(X + r * nv, nv)] += 1.0 / (double)rows;
  for (int64_t x = 0; x < N; x++)
    if (pd[x] > 0) kl += pd[x] * (log(pd[x]) - log(pm[x]));
  lua_pushnumber(L, kl);
  return 1;
}

static int bm_loglik(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  int64_t rows, nv = m->nv;
  int vec;
  double *X = getdata(L, 2, 2, "X", nv, &rows, &vec, 0), *pm, *out;
  pm = visiblemarginal(L, 1, m);
  out = newvec(L, rows);
  for (int64_t r = 0; r < rows; r++) out[r] = log(pm[statecode(X + r * nv, nv)]);
  if (vec) lua_pushnumber(L, out[0]);
  return 1;
}

static int bm_exact(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  lua_settop(L, 2);
  lua_pushcfunction(L, bz_exact);              /* stack: m, beta, exact */
  pushview(L, 1, m->W, m->n, m->n);
  pushview(L, 1, m->b, m->n, 0);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, m->nv);
  lua_setfield(L, -2, "marginal");
  if (!lua_isnil(L, 2)) {
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "beta");
  }
  lua_call(L, 3, 1);
  return 1;
}

static int bm_energy(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  int64_t rows;
  int vec;
  double *S = getdata(L, 2, 2, "S", m->n, &rows, &vec, 0), *E = newvec(L, rows);
  cj_bz_energy(m->W, m->b, m->n, S, rows, E);
  if (vec) lua_pushnumber(L, E[0]);
  return 1;
}

static int bmfield(lua_State *L, const char *k)
{
  cj_bm *m = checkbm(L, 1);
  if (!strcmp(k, "W")) memcpy(newmat(L, m->n, m->n), m->W, sizeof(double) * (size_t)(m->n * m->n));
  else if (!strcmp(k, "b")) memcpy(newvec(L, m->n), m->b, sizeof(double) * (size_t)m->n);
  else if (!strcmp(k, "n_visible")) lua_pushinteger(L, m->nv);
  else if (!strcmp(k, "n_hidden")) lua_pushinteger(L, m->nh);
  else if (!strcmp(k, "seed")) lua_pushinteger(L, (lua_Integer)m->seed);
  else if (!strcmp(k, "epochs")) lua_pushinteger(L, m->epochs);
  else if (!strcmp(k, "updates")) lua_pushinteger(L, m->updates);
  else return 0;
  return 1;
}

static int bm_index(lua_State *L) { return indexwith(L, bmfield); }

static int bm_newindex(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  const char *k = luaL_checkstring(L, 2);
  int64_t n = m->n, pi, pj;
  if (!strcmp(k, "b")) {
    assign(L, "b", m->b, n, 0);
    return 0;
  }
  if (strcmp(k, "W")) return luaL_error(L, "cannot set field '%s' of a Boltzmann machine (W and b can be set)", k);
  {
    int64_t r, c;
    double *x = getmat(L, 3, 3, "W", &r, &c, 0);
    if (r != n || c != n) argerr(L, 3, "W must be %dx%d (got %dx%d)", (int)n, (int)n, (int)r, (int)c);
    if (cj_bz_check(x, NULL, n, &pi, &pj))
      argerr(L, 3, "W must be finite and symmetric with a zero diagonal (element [%d][%d])", (int)pi + 1, (int)pj + 1);
    for (int64_t k2 = 0; k2 < n * n; k2++)
      if (!m->mask[k2] && x[k2] != 0)
        argerr(L, 3, "W[%d][%d] must be 0 (not in the connection mask)", (int)(k2 / n) + 1, (int)(k2 % n) + 1);
    memcpy(m->W, x, sizeof(double) * (size_t)(n * n));
  }
  return 0;
}

static int bm_tostring(lua_State *L)
{
  cj_bm *m = checkbm(L, 1);
  lua_pushfstring(L, "boltzmann machine: %d visible + %d hidden units (+-1), %d epochs trained",
                  (int)m->nv, (int)m->nh, (int)m->epochs);
  return 1;
}

static int bm_len(lua_State *L)
{
  lua_pushinteger(L, checkbm(L, 1)->n);
  return 1;
}

/* ---- Hopfield networks ------------------------------------------------------------------ */

static const char *const rulenames[] = { "hebb", "pseudoinverse", "dense", NULL };
static const char *const fnames[] = { "poly", "rectpoly", "exp", NULL };
static const char *const modenames[] = { "async", "sequential", "sync", NULL };

static int bz_hopfield(lua_State *L)
{
  static const char *const known[] = { "rule", "F", "n", "seed", NULL };
  int64_t N = checkcount(L, 1, "N", 1);
  int o = optstable(L, 2, known) ? 2 : 0;
  int rule = optenum(L, o, "rule", rulenames, 0), fn = optenum(L, o, "F", fnames, 0);
  int64_t deg = optint(L, o, "n", 3, 1);
  uint64_t seed = optseed(L, o);
  lhop *u;
  if (N > 46340) argerr(L, 1, "N must be at most 46340 (got %d)", (int)N);
  if (deg > 64) argerr(L, o, "option 'n' must be at most 64");
  if (rule != CJ_HOP_DENSE && o && (getopt(L, o, "F") != LUA_TNIL || getopt(L, o, "n") != LUA_TNIL))
    argerr(L, o, "options 'F' and 'n' belong to rule = \"dense\"");
  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->h = NULL;
  u->seed = seed;
  luaL_setmetatable(L, CJ_HOPFIELD);
  if (!(u->h = cj_hopfield_new(N, (cj_hop_rule)rule, (cj_hop_fn)fn, (int)deg))) corefail(L);
  account(L, cj_hopfield_memsize(u->h));
  return 1;
}

GCFUNC(hop_gc, lhop, CJ_HOPFIELD, h, cj_hopfield_free)

static int hop_store(lua_State *L)
{
  cj_hopfield *h = checkhop(L, 1)->h;
  int64_t P;
  int vec;
  double *X = getdata(L, 2, 2, "patterns", h->N, &P, &vec, 0);
  if (cj_hopfield_store(h, X, P)) {
    if (h->rule == CJ_HOP_PINV) argerr(L, 2, "%s", cj_errmsg());
    corefail(L);
  }
  account(L, (size_t)(P * h->N) * sizeof(double));
  lua_settop(L, 1);
  return 1;
}

static int hop_clear(lua_State *L)
{
  cj_hopfield_clear(checkhop(L, 1)->h);
  lua_settop(L, 1);
  return 1;
}

static int hop_recall(lua_State *L)
{
  static const char *const known[] = { "mode", "max_sweeps", "seed", "offset", NULL };
  lhop *u = checkhop(L, 1);
  cj_hopfield *h = u->h;
  int64_t m;
  int vec, o;
  double *cue = getdata(L, 2, 2, "cue", h->N, &m, &vec, 0), *S;
  cj_hopfield_opts ho;
  int64_t *sweeps;
  unsigned char *conv;
  int32_t *sw;
  o = optstable(L, 3, known) ? 3 : 0;
  ho.mode = (cj_hop_mode)optenum(L, o, "mode", modenames, 0);
  ho.max_sweeps = optint(L, o, "max_sweeps", 100, 0);
  ho.row0 = optint(L, o, "offset", 0, 0);
  ho.seed = u->seed;
  if (o && getopt(L, o, "seed") != LUA_TNIL) ho.seed = optseed(L, o);
  lua_settop(L, 3);
  S = vec ? newvec(L, h->N) : newmat(L, m, h->N);                 /* stack: 4 = states */
  memcpy(S, cue, sizeof(double) * (size_t)(m * h->N));
  conv = cj_newarray(L, CJ_U8, 1, &m)->a.data;                     /* 5 */
  sw = cj_newarray(L, CJ_I32, 1, &m)->a.data;                      /* 6 */
  sweeps = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(m ? m : 1), 0);  /* 7: scratch */
  if (cj_hopfield_recall(h, S, m, &ho, sweeps, conv)) corefail(L);
  for (int64_t r = 0; r < m; r++) sw[r] = (int32_t)sweeps[r];
  lua_pop(L, 1);
  if (vec) {
    lua_pushboolean(L, conv[0]);
    lua_pushinteger(L, sw[0]);
    lua_replace(L, 6);
    lua_replace(L, 5);
  }
  return 3;
}

static int hop_energy(lua_State *L)
{
  cj_hopfield *h = checkhop(L, 1)->h;
  int64_t m;
  int vec;
  double *S = getdata(L, 2, 2, "S", h->N, &m, &vec, 0), *E = newvec(L, m);
  cj_hopfield_energy(h, S, m, E);
  if (vec) lua_pushnumber(L, E[0]);
  return 1;
}

static int hop_overlap(lua_State *L)
{
  cj_hopfield *h = checkhop(L, 1)->h;
  int64_t m, N = h->N;
  int vec;
  double *S = getdata(L, 2, 2, "S", N, &m, &vec, 0), *out;
  out = vec ? newvec(L, h->P) : newmat(L, m, h->P);
  for (int64_t r = 0; r < m; r++)
    for (int64_t mu = 0; mu < h->P; mu++) {
      double acc = 0;
      for (int64_t j = 0; j < N; j++) acc += h->xi[mu * N + j] * S[r * N + j];
      out[r * h->P + mu] = acc / (double)N;
    }
  return 1;
}

static int hopfield_field(lua_State *L, const char *k)
{
  lhop *u = checkhop(L, 1);
  cj_hopfield *h = u->h;
  if (!strcmp(k, "N")) lua_pushinteger(L, h->N);
  else if (!strcmp(k, "P")) lua_pushinteger(L, h->P);
  else if (!strcmp(k, "rule")) lua_pushstring(L, rulenames[h->rule]);
  else if (!strcmp(k, "seed")) lua_pushinteger(L, (lua_Integer)u->seed);
  else if (!strcmp(k, "W")) {
    if (h->W) memcpy(newmat(L, h->N, h->N), h->W, sizeof(double) * (size_t)(h->N * h->N));
    else lua_pushnil(L);
  } else if (!strcmp(k, "patterns")) {
    double *x = newmat(L, h->P, h->N);
    if (h->P) memcpy(x, h->xi, sizeof(double) * (size_t)(h->P * h->N));
  } else {
    return 0;
  }
  return 1;
}

static int hop_index(lua_State *L) { return indexwith(L, hopfield_field); }

static int hop_tostring(lua_State *L)
{
  cj_hopfield *h = checkhop(L, 1)->h;
  if (h->rule == CJ_HOP_DENSE)
    lua_pushfstring(L, "dense associative memory: %d units, %d patterns, F = %s%s", (int)h->N, (int)h->P,
                    h->fn == CJ_HOP_EXP ? "exp(x)" : h->fn == CJ_HOP_POLY ? "x^" : "max(x,0)^",
                    h->fn == CJ_HOP_EXP ? "" : lua_pushfstring(L, "%d", h->degree));
  else
    lua_pushfstring(L, "hopfield network: %d units, %d patterns (%s rule)", (int)h->N, (int)h->P,
                    rulenames[h->rule]);
  return 1;
}

static int hop_len(lua_State *L)
{
  lua_pushinteger(L, checkhop(L, 1)->h->N);
  return 1;
}

/* ---- restricted Boltzmann machines ---------------------------------------------------------- */

static const char *const visnames[] = { "binary", "gaussian", NULL };

/* The kind of data check for visible data of r (getdata): 0/1, [0, 1] when
 * fractional, finite for Gaussian units. */
static int viskind(const cj_rbm *r, int frac)
{
  return r->visible == CJ_RBM_GAUSSIAN ? 4 : frac ? 2 : 1;
}

static cj_rbm *newrbm(lua_State *L, int64_t nv, int64_t nh, int vis, double sd, uint64_t seed)
{
  lrbm *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->r = NULL;
  luaL_setmetatable(L, CJ_RBM);
  if (!(u->r = cj_rbm_new(nv, nh, (cj_rbm_visible)vis, sd, seed))) corefail(L);
  account(L, cj_rbm_memsize(u->r));
  return u->r;
}

static int bz_rbm(lua_State *L)
{
  static const char *const known[] = { "visible", "seed", "sd", NULL };
  int64_t nv = checkcount(L, 1, "n_visible", 1), nh = checkcount(L, 2, "n_hidden", 1);
  int o = optstable(L, 3, known) ? 3 : 0;
  int vis = optenum(L, o, "visible", visnames, 0);
  double sd = optnum(L, o, "sd", 0.01);
  uint64_t seed = optseed(L, o);
  if (sd < 0) argerr(L, o, "option 'sd' must be >= 0");
  if (nv > INT32_MAX || nh > INT32_MAX || nv > (((int64_t)1 << 40) / nh))
    argerr(L, 1, "too many units (%d x %d weights)", (int)nv, (int)nh);
  newrbm(L, nv, nh, vis, sd, seed);
  return 1;
}

GCFUNC(rbm_gc, lrbm, CJ_RBM, r, cj_rbm_free)

static const char *const trainkeys[] = { "epochs", "batch", "k", "persistent", "lr", "momentum", "decay",
                                         "shuffle", "fractional", "verbose", NULL };

/* RBM training options from the table at o (0: none); *frac, *verbose. */
static void rbmopts(lua_State *L, int o, const cj_rbm *r, cj_rbm_train_opts *t, int *frac, int *verbose)
{
  cj_rbm_train_defaults(t);
  if (r->visible == CJ_RBM_GAUSSIAN) t->lr = 0.01;
  if (o) optstable(L, o, trainkeys);
  t->epochs = optint(L, o, "epochs", t->epochs, 0);
  t->batch = optint(L, o, "batch", t->batch, 1);
  t->k = optint(L, o, "k", 1, 1);
  t->persistent = optbool(L, o, "persistent", 0);
  t->lr = optnum(L, o, "lr", t->lr);
  t->momentum = optnum(L, o, "momentum", 0);
  t->decay = optnum(L, o, "decay", 0);
  t->shuffle = optbool(L, o, "shuffle", 1);
  *frac = optbool(L, o, "fractional", 0);
  *verbose = optbool(L, o, "verbose", 0);
  if (!(t->momentum >= 0 && t->momentum < 1)) argerr(L, o, "option 'momentum' must be in [0, 1)");
  if (t->decay < 0) argerr(L, o, "option 'decay' must be >= 0");
}

static int rbm_train(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  cj_rbm_train_opts t;
  int frac, verbose, vec, o = lua_isnoneornil(L, 3) ? 0 : 3;
  int64_t m;
  double *X;
  if (o) luaL_checktype(L, 3, LUA_TTABLE);
  rbmopts(L, o, r, &t, &frac, &verbose);
  X = getdata(L, 2, 2, "X", r->nv, &m, &vec, viskind(r, frac));
  if (!verbose) {
    if (cj_rbm_train(r, X, m, &t, NULL)) corefail(L);
  } else {
    int64_t epochs = t.epochs;
    t.epochs = 1;
    for (int64_t e = 0; e < epochs; e++) {
      double err;
      if (cj_rbm_train(r, X, m, &t, &err)) corefail(L);
      printf("rbm: epoch %lld, reconstruction error %.6g per row\n", (long long)r->epochs, err);
      fflush(stdout);
    }
  }
  lua_settop(L, 1);
  return 1;
}

static int rbm_sample(lua_State *L)
{
  static const char *const known[] = { "steps", "seed", "init", "mean", "offset", "hidden", NULL };
  cj_rbm *r = checkrbm(L, 1);
  int64_t n = checkcount(L, 2, "n", 0), steps, off;
  int o = optstable(L, 3, known) ? 3 : 0, meanv, hid;
  double *init = NULL, *V, *H = NULL;
  uint64_t seed;
  steps = optint(L, o, "steps", 1000, 0);
  off = optint(L, o, "offset", 0, 0);
  meanv = optbool(L, o, "mean", 0);
  hid = optbool(L, o, "hidden", 0);
  seed = optseed(L, o);
  lua_settop(L, 3);
  if (getopt(L, o, "init") != LUA_TNIL) {      /* stack: 4 = init */
    int64_t rows;
    int vec;
    init = getdata(L, 4, o, "option 'init'", r->nv, &rows, &vec, viskind(r, 1));
    if (rows != n) argerr(L, o, "option 'init' must have %d rows, one per sample (got %d)", (int)n, (int)rows);
  } else {
    lua_pop(L, 1);
  }
  V = newmat(L, n, r->nv);
  if (hid) H = newmat(L, n, r->nh);
  if (cj_rbm_sample(r, n, off, steps, seed, init, meanv, V, H)) corefail(L);
  return hid ? 2 : 1;
}

static int rbm_free_energy(lua_State *L)
{
  static const char *const known[] = { "fractional", NULL };
  cj_rbm *r = checkrbm(L, 1);
  int o = optstable(L, 3, known) ? 3 : 0, vec;
  int64_t m;
  double *X = getdata(L, 2, 2, "X", r->nv, &m, &vec, viskind(r, optbool(L, o, "fractional", 0))), *F;
  F = newvec(L, m);
  if (cj_rbm_free_energy(r, X, m, F)) corefail(L);
  if (vec) lua_pushnumber(L, F[0]);
  return 1;
}

static int rbm_hidden(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  int64_t m;
  int vec;
  double *X = getdata(L, 2, 2, "X", r->nv, &m, &vec, viskind(r, 1)), *P;
  P = vec ? newvec(L, r->nh) : newmat(L, m, r->nh);
  if (cj_rbm_hidden(r, X, m, P)) corefail(L);
  return 1;
}

static int rbm_visible(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  int64_t m;
  int vec;
  double *H = getdata(L, 2, 2, "H", r->nh, &m, &vec, 3), *M;
  M = vec ? newvec(L, r->nv) : newmat(L, m, r->nv);
  if (cj_rbm_visible_mean(r, H, m, M)) corefail(L);
  return 1;
}

static double logZ(lua_State *L, const cj_rbm *r)
{
  double z;
  int64_t ne = r->visible == CJ_RBM_GAUSSIAN || r->nh <= r->nv ? r->nh : r->nv;
  if (ne > CJ_BZ_EXACT_MAX)
    argerr(L, 1, "the exact partition function enumerates the smaller layer (%d units; at most %d)",
           (int)ne, CJ_BZ_EXACT_MAX);
  if (cj_rbm_logZ(r, &z)) corefail(L);
  return z;
}

static int rbm_log_partition(lua_State *L)
{
  lua_pushnumber(L, logZ(L, checkrbm(L, 1)));
  return 1;
}

static int rbm_loglik(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  int64_t m;
  int vec;
  double *X = getdata(L, 2, 2, "X", r->nv, &m, &vec, viskind(r, 0)), *F, z = logZ(L, r);
  F = newvec(L, m);
  if (cj_rbm_free_energy(r, X, m, F)) corefail(L);
  for (int64_t q = 0; q < m; q++) F[q] = -F[q] - z;
  if (vec) lua_pushnumber(L, F[0]);
  return 1;
}

static int rbm_pseudo_loglik(lua_State *L)
{
  static const char *const known[] = { "stochastic", "seed", NULL };
  cj_rbm *r = checkrbm(L, 1);
  int o = optstable(L, 3, known) ? 3 : 0, vec, st = optbool(L, o, "stochastic", 0);
  uint64_t seed = st ? optseed(L, o) : 0;
  int64_t m;
  double *X, *out;
  if (r->visible != CJ_RBM_BINARY) argerr(L, 1, "pseudo-likelihood needs binary visible units");
  X = getdata(L, 2, 2, "X", r->nv, &m, &vec, 1);
  out = newvec(L, m);
  if (cj_rbm_pseudo_loglik(r, X, m, st, seed, out)) corefail(L);
  if (vec) lua_pushnumber(L, out[0]);
  return 1;
}

static int rbm_recon(lua_State *L)
{
  static const char *const known[] = { "fractional", NULL };
  cj_rbm *r = checkrbm(L, 1);
  int o = optstable(L, 3, known) ? 3 : 0, vec;
  int64_t m;
  double *X = getdata(L, 2, 2, "X", r->nv, &m, &vec, viskind(r, optbool(L, o, "fractional", 0))), *e, s = 0;
  e = newvec(L, m);
  if (cj_rbm_recon_error(r, X, m, e)) corefail(L);
  for (int64_t q = 0; q < m; q++) s += e[q];
  lua_pushnumber(L, m ? s / (double)m : 0.0);
  return 1;
}

static int rbm_to_boltzmann(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  int64_t nv = r->nv, nh = r->nh, n = nv + nh;
  double *W01, *b01, *J, *h, c;
  if (r->visible != CJ_RBM_BINARY) argerr(L, 1, "only an RBM with binary visible units is a Boltzmann machine");
  if (n > 46340) argerr(L, 1, "too many units (%d)", (int)n);
  W01 = newmat(L, n, n);
  b01 = newvec(L, n);
  for (int64_t i = 0; i < nv; i++)
    for (int64_t j = 0; j < nh; j++) W01[i * n + nv + j] = W01[(nv + j) * n + i] = r->W[i * nh + j];
  memcpy(b01, r->a, sizeof(double) * (size_t)nv);
  memcpy(b01 + nv, r->c, sizeof(double) * (size_t)nh);
  tospin(L, W01, b01, n, &J, &h, &c);
  lua_pushnumber(L, c);
  return 3;
}

static int rbmfield(lua_State *L, const char *k)
{
  cj_rbm *r = checkrbm(L, 1);
  if (!strcmp(k, "W")) pushview(L, 1, r->W, r->nv, r->nh);
  else if (!strcmp(k, "vbias")) pushview(L, 1, r->a, r->nv, 0);
  else if (!strcmp(k, "hbias")) pushview(L, 1, r->c, r->nh, 0);
  else if (!strcmp(k, "n_visible")) lua_pushinteger(L, r->nv);
  else if (!strcmp(k, "n_hidden")) lua_pushinteger(L, r->nh);
  else if (!strcmp(k, "visible")) lua_pushstring(L, visnames[r->visible]);
  else if (!strcmp(k, "seed")) lua_pushinteger(L, (lua_Integer)r->seed);
  else if (!strcmp(k, "epochs")) lua_pushinteger(L, r->epochs);
  else if (!strcmp(k, "updates")) lua_pushinteger(L, r->updates);
  else return 0;
  return 1;
}

static int rbm_index(lua_State *L) { return indexwith(L, rbmfield); }

static int rbm_newindex(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "W")) assign(L, "W", r->W, r->nv, r->nh);
  else if (!strcmp(k, "vbias")) assign(L, "vbias", r->a, r->nv, 0);
  else if (!strcmp(k, "hbias")) assign(L, "hbias", r->c, r->nh, 0);
  else return luaL_error(L, "cannot set field '%s' of an rbm (W, vbias and hbias can be set)", k);
  return 0;
}

static int rbm_tostring(lua_State *L)
{
  cj_rbm *r = checkrbm(L, 1);
  lua_pushfstring(L, "rbm: %d %s visible x %d binary hidden units, %d epochs trained", (int)r->nv,
                  visnames[r->visible], (int)r->nh, (int)r->epochs);
  return 1;
}

/* ---- deep belief nets ------------------------------------------------------------------ */

static int bz_dbn(lua_State *L)
{
  static const char *const known[] = { "visible", "seed", "sd", NULL };
  int o = optstable(L, 2, known) ? 2 : 0, nl, vis;
  double sd;
  uint64_t seed;
  ldbn *u;
  luaL_checktype(L, 1, LUA_TTABLE);
  nl = (int)lua_rawlen(L, 1) - 1;
  if (nl < 1 || nl > 64) argerr(L, 1, "sizes must list 2 to 65 layer sizes (visible first)");
  for (int l = 0; l <= nl; l++) {
    int isint;
    lua_Integer v;
    lua_rawgeti(L, 1, l + 1);
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 1 || v > INT32_MAX) argerr(L, 1, "sizes[%d] must be a positive integer", l + 1);
    lua_pop(L, 1);
  }
  vis = optenum(L, o, "visible", visnames, 0);
  sd = optnum(L, o, "sd", 0.01);
  seed = optseed(L, o);
  if (sd < 0) argerr(L, o, "option 'sd' must be >= 0");
  u = lua_newuserdatauv(L, sizeof *u, 1);     /* stack: sizes, o, dbn */
  u->nl = 0;
  luaL_setmetatable(L, CJ_DBN);
  lua_createtable(L, nl, 0);
  for (int l = 0; l < nl; l++) {
    lua_Integer a, b;
    lua_rawgeti(L, 1, l + 1);
    lua_rawgeti(L, 1, l + 2);
    a = lua_tointeger(L, -2);
    b = lua_tointeger(L, -1);
    lua_pop(L, 2);
    newrbm(L, a, b, l ? CJ_RBM_BINARY : vis, sd, (seed + (uint64_t)l) & (uint64_t)INT64_MAX);
    lua_rawseti(L, -2, l + 1);
  }
  lua_setiuservalue(L, -2, 1);
  u->nl = nl;
  return 1;
}

/* The layers of the dbn at index 1 into rs (at most 64); returns the count. */
static int layers(lua_State *L, cj_rbm **rs)
{
  ldbn *u = checkdbn(L, 1);
  lua_getiuservalue(L, 1, 1);
  for (int l = 0; l < u->nl; l++) {
    lua_rawgeti(L, -1, l + 1);
    rs[l] = checkrbm(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return u->nl;
}

static int dbn_train(lua_State *L)
{
  cj_rbm *rs[64];
  int nl = layers(L, rs), frac, verbose, vec, o = lua_isnoneornil(L, 3) ? 0 : 3;
  cj_rbm_train_opts t;
  int64_t m;
  double *X;
  if (o) luaL_checktype(L, 3, LUA_TTABLE);
  rbmopts(L, o, rs[0], &t, &frac, &verbose);
  X = getdata(L, 2, 2, "X", rs[0]->nv, &m, &vec, viskind(rs[0], frac));
  if (cj_dbn_train(rs, nl, X, m, &t)) corefail(L);
  lua_settop(L, 1);
  return 1;
}

static int dbn_transform(lua_State *L)
{
  cj_rbm *rs[64];
  int nl = layers(L, rs), vec;
  int64_t m;
  double *X = getdata(L, 2, 2, "X", rs[0]->nv, &m, &vec, viskind(rs[0], 1)), *out;
  out = vec ? newvec(L, rs[nl - 1]->nh) : newmat(L, m, rs[nl - 1]->nh);
  if (cj_dbn_transform(rs, nl, X, m, out)) corefail(L);
  return 1;
}

static int dbn_sample(lua_State *L)
{
  static const char *const known[] = { "steps", "seed", "mean", "offset", NULL };
  cj_rbm *rs[64];
  int nl = layers(L, rs);
  int64_t n = checkcount(L, 2, "n", 0);
  int o = optstable(L, 3, known) ? 3 : 0;
  int64_t steps = optint(L, o, "steps", 1000, 0), off = optint(L, o, "offset", 0, 0);
  int meanv = optbool(L, o, "mean", 0);
  uint64_t seed = optseed(L, o);
  double *V = newmat(L, n, rs[0]->nv);
  if (cj_dbn_sample(rs, nl, n, off, steps, seed, meanv, V)) corefail(L);
  return 1;
}

static int dbn_index(lua_State *L)
{
  ldbn *u = checkdbn(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer i = lua_tointeger(L, 2);
    if (i < 1 || i > u->nl) return lua_pushnil(L), 1;
    lua_getiuservalue(L, 1, 1);
    lua_rawgeti(L, -1, i);
    return 1;
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) == LUA_TSTRING && !strcmp(lua_tostring(L, 2), "sizes")) {
    cj_rbm *rs[64];
    int nl = layers(L, rs);
    lua_createtable(L, nl + 1, 0);
    for (int l = 0; l <= nl; l++) {
      lua_pushinteger(L, l ? rs[l - 1]->nh : rs[0]->nv);
      lua_rawseti(L, -2, l + 1);
    }
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

static int dbn_len(lua_State *L)
{
  lua_pushinteger(L, checkdbn(L, 1)->nl);
  return 1;
}

static int dbn_tostring(lua_State *L)
{
  cj_rbm *rs[64];
  int nl = layers(L, rs);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "deep belief net: %d", (int)rs[0]->nv);
  luaL_addvalue(&b);
  for (int l = 0; l < nl; l++) {
    lua_pushfstring(L, "-%d", (int)rs[l]->nh);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- Ising models ------------------------------------------------------------------------ */

/* Argument 1 names a lattice: an integer L, or a table {rows, cols} of two numbers. */
static int islattice(lua_State *L)
{
  int yes;
  if (lua_isinteger(L, 1)) return 1;
  if (!lua_istable(L, 1) || cj_testarray(L, 1) || lua_rawlen(L, 1) != 2) return 0;
  yes = lua_rawgeti(L, 1, 1) == LUA_TNUMBER;
  lua_pop(L, 1);
  return yes;
}

static int bz_ising(lua_State *L)
{
  static const char *const known[] = { "J", "h", "seed", "init", NULL };
  int o = optstable(L, 2, known) ? 2 : 0;
  uint64_t seed = optseed(L, o);
  lising *u;
  lua_settop(L, 2);
  if (islattice(L)) {
    int64_t R, C;
    double J = optnum(L, o, "J", 1.0), h = optnum(L, o, "h", 0.0);
    int init = 0;
    if (lua_isinteger(L, 1)) {
      R = C = lua_tointeger(L, 1);
    } else {
      lua_rawgeti(L, 1, 1);
      lua_rawgeti(L, 1, 2);
      R = checkcount(L, -2, "sizes[1]", 0);
      C = checkcount(L, -1, "sizes[2]", 0);
      lua_pop(L, 2);
    }
    if (R < 4 || C < 4 || R % 2 || C % 2 || R > (1 << 20) || C > (1 << 20) || R * C > ((int64_t)1 << 34))
      argerr(L, 1, "the lattice needs even sizes of at least 4 (got %dx%d)", (int)R, (int)C);
    if (getopt(L, o, "init") == LUA_TSTRING) {  /* stack: 3 = init */
      static const char *const inits[] = { "random", "up", "down", NULL };
      int k = luaL_checkoption(L, 3, NULL, inits);
      init = k == 1 ? 1 : k == 2 ? -1 : 0;
    } else if (!lua_isnil(L, 3)) {
      larray *a = getarr(L, 3, o, "option 'init'");
      if (cj_array_numel(&a->a) != R * C)
        argerr(L, o, "option 'init' must hold %d spins (got %d)", (int)(R * C), (int)cj_array_numel(&a->a));
      checkbinary(L, o, "option 'init'", a->a.data, 1, R * C, 1, 1, 0);
    }
    u = lua_newuserdatauv(L, sizeof *u, 3);
    u->lat = NULL;
    u->n = R * C;
    u->seed = seed;
    u->sweep = 0;
    luaL_setmetatable(L, CJ_ISING);
    if (!(u->lat = cj_ising_new(R, C, J, h, seed, init))) corefail(L);
    if (!lua_isnil(L, 3) && !lua_isstring(L, 3)) cj_ising_set(u->lat, cj_testarray(L, 3)->a.data);
    account(L, (size_t)(R * C));
    return 1;
  }
  {                                            /* a general coupling matrix */
    int64_t n;
    double *b, *W, *s;
    if (o && getopt(L, o, "J") != LUA_TNIL) argerr(L, o, "option 'J' belongs to a lattice (the matrix is J)");
    lua_settop(L, 2);
    W = getmodel(L, 1, 3, &n, &b);             /* slot 3 empty: b from opts.h below */
    lua_settop(L, 2);
    b = newvec(L, n);                          /* stack: 3 = b */
    if (getopt(L, o, "h") == LUA_TNUMBER) {
      double h = optnum(L, o, "h", 0);
      for (int64_t i = 0; i < n; i++) b[i] = h;
    } else if (!lua_isnil(L, -1)) {
      double *x = getvec(L, -1, o, "option 'h'", n, NULL);
      for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) argerr(L, o, "option 'h' must be finite (element %d)", (int)i + 1);
        b[i] = x[i];
      }
    }
    lua_settop(L, 3);
    s = newvec(L, n);                          /* stack: 4 = state */
    if (getopt(L, o, "init") == LUA_TSTRING) {
      static const char *const inits[] = { "random", "up", "down", NULL };
      int k = luaL_checkoption(L, 5, NULL, inits);
      if (k == 0) cj_bz_random_states(seed, CJ_BZ_INIT, 0, 1, 0, n, s);
      for (int64_t i = 0; k && i < n; i++) s[i] = k == 1 ? 1.0 : -1.0;
    } else if (!lua_isnil(L, 5)) {
      double *x = getvec(L, 5, o, "option 'init'", n, NULL);
      checkbinary(L, o, "option 'init'", x, 1, n, 1, 1, 0);
      memcpy(s, x, sizeof(double) * (size_t)n);
    } else {
      cj_bz_random_states(seed, CJ_BZ_INIT, 0, 1, 0, n, s);
    }
    lua_settop(L, 4);
    memcpy(newmat(L, n, n), W, sizeof(double) * (size_t)(n * n));   /* a copy the caller cannot change */
    lua_replace(L, 1);
    u = lua_newuserdatauv(L, sizeof *u, 3);    /* stack: 5 = model */
    u->lat = NULL;
    u->n = n;
    u->seed = seed;
    u->sweep = 0;
    luaL_setmetatable(L, CJ_ISING);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 5, 1);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, 5, 2);
    lua_pushvalue(L, 4);
    lua_setiuservalue(L, 5, 3);
    return 1;
  }
}

GCFUNC(ising_gc, lising, CJ_ISING, lat, cj_ising_free)

/* Raw arrays of a general model. */
static void general(lua_State *L, double **W, double **b, double **s)
{
  lua_getiuservalue(L, 1, 1);
  *W = cj_checkarray(L, -1)->a.data;
  lua_getiuservalue(L, 1, 2);
  *b = cj_checkarray(L, -1)->a.data;
  lua_getiuservalue(L, 1, 3);
  *s = cj_checkarray(L, -1)->a.data;
  lua_pop(L, 3);                               /* the model keeps them alive */
}

static void setnum(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int ising_run(lua_State *L)
{
  static const char *const known[] = { "T", "beta", "method", "order", NULL };
  static const char *const imethods[] = { "metropolis", "heatbath", NULL };
  lising *u = checkising(L, 1);
  int64_t sweeps = checkcount(L, 2, "sweeps", 0), N = u->n;
  int o = optstable(L, 3, known) ? 3 : 0, method, order;
  double beta = 1, *mag, *en, sm = 0, sa = 0, s2 = 0, s4 = 0, se = 0, se2 = 0;
  if (o && getopt(L, o, "T") != LUA_TNIL) {
    double T = checkbeta(L, -1, o, "option 'T'");
    if (getopt(L, o, "beta") != LUA_TNIL) argerr(L, o, "give option 'T' or option 'beta', not both");
    beta = 1.0 / T;
  } else {
    beta = optbeta(L, o, 1.0);
  }
  method = optenum(L, o, "method", imethods, 0);
  order = optenum(L, o, "order", ordernames, 0);
  if (u->lat && order) argerr(L, o, "option 'order' belongs to a general coupling matrix (a lattice is updated by checkerboard)");
  lua_settop(L, 3);
  lua_createtable(L, 0, 12);                   /* stack: 4 = result */
  mag = newvec(L, sweeps);
  lua_setfield(L, 4, "m");
  en = newvec(L, sweeps);
  lua_setfield(L, 4, "e");
  if (u->lat) {
    if (cj_ising_run(u->lat, sweeps, beta, method ? CJ_ISING_HEATBATH : CJ_ISING_METROPOLIS, mag, en))
      corefail(L);
    u->sweep = u->lat->sweep;
  } else {
    double *W, *b, *s;
    cj_bz_gibbs_opts g;
    general(L, &W, &b, &s);
    cj_bz_gibbs_defaults(&g);
    g.burnin = 0;
    g.sweeps = sweeps;
    g.start = u->sweep;
    g.beta = beta;
    g.seed = u->seed;
    g.method = method ? CJ_BZ_HEATBATH : CJ_BZ_METROPOLIS;
    g.order = (cj_bz_order)order;
    if (cj_bz_gibbs(W, b, N, &g, s, NULL, en, mag)) corefail(L);
    for (int64_t t = 0; t < sweeps; t++) en[t] /= (double)N;
    u->sweep += sweeps;
  }
  for (int64_t t = 0; t < sweeps; t++) {
    double m = mag[t], e = en[t];
    sm += m;
    sa += fabs(m);
    s2 += m * m;
    s4 += m * m * m * m;
    se += e;
    se2 += e * e;
  }
  if (sweeps > 0) {
    double k = (double)sweeps;
    sm /= k, sa /= k, s2 /= k, s4 /= k, se /= k, se2 /= k;
  }
  setnum(L, "beta", beta);
  setnum(L, "T", 1.0 / beta);
  setnum(L, "m_mean", sweeps ? sm : NAN);
  setnum(L, "abs_m", sweeps ? sa : NAN);
  setnum(L, "m2", sweeps ? s2 : NAN);
  setnum(L, "m4", sweeps ? s4 : NAN);
  setnum(L, "e_mean", sweeps ? se : NAN);
  setnum(L, "e2", sweeps ? se2 : NAN);
  setnum(L, "chi", sweeps ? beta * (double)N * (s2 - sa * sa) : NAN);
  setnum(L, "heat", sweeps ? beta * beta * (double)N * (se2 - se * se) : NAN);
  setnum(L, "binder", sweeps && s2 > 0 ? 1.0 - s4 / (3.0 * s2 * s2) : NAN);
  return 1;
}

static int ising_spins(lua_State *L)
{
  lising *u = checkising(L, 1);
  if (u->lat) {
    double *x = newmat(L, u->lat->rows, u->lat->cols);
    for (int64_t k = 0; k < u->n; k++) x[k] = u->lat->s[k];
  } else {
    double *W, *b, *s;
    general(L, &W, &b, &s);
    memcpy(newvec(L, u->n), s, sizeof(double) * (size_t)u->n);
  }
  return 1;
}

static int ising_magnetization(lua_State *L)
{
  lising *u = checkising(L, 1);
  if (u->lat) {
    lua_pushnumber(L, cj_ising_magnetization(u->lat));
  } else {
    double *W, *b, *s, acc = 0;
    general(L, &W, &b, &s);
    for (int64_t i = 0; i < u->n; i++) acc += s[i];
    lua_pushnumber(L, acc / (double)u->n);
  }
  return 1;
}

static int ising_energy(lua_State *L)
{
  lising *u = checkising(L, 1);
  if (u->lat) {
    lua_pushnumber(L, cj_ising_energy(u->lat));
  } else {
    double *W, *b, *s, E;
    general(L, &W, &b, &s);
    cj_bz_energy(W, b, u->n, s, 1, &E);
    lua_pushnumber(L, E / (double)u->n);
  }
  return 1;
}

static int isingfield(lua_State *L, const char *k)
{
  lising *u = checkising(L, 1);
  if (!strcmp(k, "N")) lua_pushinteger(L, u->n);
  else if (!strcmp(k, "sweeps")) lua_pushinteger(L, u->sweep);
  else if (!strcmp(k, "seed")) lua_pushinteger(L, (lua_Integer)u->seed);
  else if (!strcmp(k, "rows") && u->lat) lua_pushinteger(L, u->lat->rows);
  else if (!strcmp(k, "cols") && u->lat) lua_pushinteger(L, u->lat->cols);
  else if (!strcmp(k, "J") && u->lat) lua_pushnumber(L, u->lat->J);
  else if (!strcmp(k, "h") && u->lat) lua_pushnumber(L, u->lat->h);
  else if (!strcmp(k, "J") || !strcmp(k, "h")) {
    larray *own, *copy;
    lua_getiuservalue(L, 1, k[0] == 'J' ? 1 : 2);  /* a copy: the model keeps its own */
    own = cj_checkarray(L, -1);
    copy = cj_newarray(L, CJ_F64, own->a.ndim, own->a.shape);
    memcpy(copy->a.data, own->a.data, sizeof(double) * (size_t)cj_array_numel(&own->a));
  }
  else return 0;
  return 1;
}

static int ising_index(lua_State *L) { return indexwith(L, isingfield); }

static int ising_tostring(lua_State *L)
{
  lising *u = checkising(L, 1);
  if (u->lat)
    lua_pushfstring(L, "ising lattice %dx%d (periodic), J = %f, h = %f, %d sweeps", (int)u->lat->rows,
                    (int)u->lat->cols, u->lat->J, u->lat->h, (int)u->sweep);
  else
    lua_pushfstring(L, "ising model: %d spins, general couplings, %d sweeps", (int)u->n, (int)u->sweep);
  return 1;
}

static int ising_len(lua_State *L)
{
  lua_pushinteger(L, checkising(L, 1)->n);
  return 1;
}

/* ---- registration ------------------------------------------------------------------- */

static const luaL_Reg funcs[] = {
  { "energy", bz_energy }, { "exact", bz_exact }, { "gibbs", bz_gibbs }, { "schedule", bz_schedule },
  { "binary_to_spin", bz_binary_to_spin }, { "spin_to_binary", bz_spin_to_binary },
  { "empirical", bz_empirical }, { "bm", bz_bm }, { "hopfield", bz_hopfield }, { "rbm", bz_rbm },
  { "dbn", bz_dbn }, { "ising", bz_ising }, { NULL, NULL }
};

static const cj_doc docs[] = {
  { "energy", "cj.boltzmann.energy(W, b, S [, opts]) -> number | array\n"
    "E(s) = -1/2 s'Ws - b's of the state s (a vector) or of each row of S. W: n x n symmetric\n"
    "with a zero diagonal; b: n values or nil. Units +-1 (opts.units = \"01\": {0,1})." },
  { "exact", "cj.boltzmann.exact(W, b [, beta | opts]) -> t\n"
    "Exact enumeration of the 2^n states of P(s) = exp(-beta E(s)) / Z, E(s) = -1/2 s'Ws - b's\n"
    "(n <= 24; about a second at n = 20). t.logZ (log Z), t.mean (<s_i>), t.corr (<s_i s_j>, n x n,\n"
    "1 on the diagonal), t.energy (<E>), t.energy_var (Var E; heat capacity = beta^2 Var E).\n"
    "opts: beta (default 1, > 0), units (\"pm1\" default, or \"01\": z in {0,1} with\n"
    "E(z) = -1/2 z'Wz - b'z, as in Buesing et al. 2011; t.mean is then P(z_i = 1)), probs = true\n"
    "for t.p (the 2^n probabilities; state x = sum_i [s_i = +1] 2^(i-1), unit 1 the lowest bit,\n"
    "t.p[x + 1] its probability), marginal = k for t.marginal (2^k probabilities of units 1..k)." },
  { "gibbs", "cj.boltzmann.gibbs(W, b [, opts]) -> samples, final\n"
    "Single-site Gibbs (heat bath: s_i = +1 with probability sigmoid(2 beta h_i), h = Ws + b) or\n"
    "Metropolis sampling of exp(-beta E(s)). samples: one row per kept sweep, chain after chain\n"
    "(rows (c-1)*sweeps + 1 .. c*sweeps are chain c); final: chains x n last states. opts: sweeps\n"
    "(kept, 1000), burnin (100), chains (1), thin (1), beta (1, or an array of burnin + sweeps*thin\n"
    "values: an annealing schedule, see schedule), seed, init (a state, or chains x n), method\n"
    "(\"heatbath\" | \"metropolis\"), order (\"sequential\" | \"random\" per sweep), clamp (unit numbers\n"
    "held at their init values), start (sweep offset: continue a run with init = final),\n"
    "offset (chain offset), units (\"pm1\" | \"01\"). Every decision is keyed by (seed, chain, sweep,\n"
    "unit): chain c is the same whatever the number of chains, and two calls of T sweeps (start =\n"
    "T, init = final) equal one of 2T. Without seed one is drawn from cj's default generator." },
  { "schedule", "cj.boltzmann.schedule(beta0, beta1, n [, kind]) -> array\n"
    "n inverse temperatures from beta0 to beta1: kind \"linear\" (in beta, default) or \"geometric\"\n"
    "(constant ratio: the temperature falls exponentially). For gibbs's opts.beta (annealing)." },
  { "binary_to_spin", "cj.boltzmann.binary_to_spin(W, b) -> J, h, c\n"
    "The +-1 machine of a {0,1} one: with z = (s + 1)/2, -1/2 z'Wz - b'z = -1/2 s'Js - h's + c,\n"
    "J = W/4, h = b/2 + W1/4, c = -1'W1/8 - b'1/2." },
  { "spin_to_binary", "cj.boltzmann.spin_to_binary(J, h) -> W, b, c\n"
    "The {0,1} machine of a +-1 one (the inverse of binary_to_spin): W = 4J, b = 2h - 2J1; c as there." },
  { "empirical", "cj.boltzmann.empirical(S [, opts]) -> array\n"
    "The 2^n frequencies of the states in the rows of S (n <= 24 columns), coded as in exact\n"
    "(t.p): compare samples with the exact distribution. opts.units \"pm1\" | \"01\"." },
  { "bm", "cj.boltzmann.bm(n_visible, n_hidden [, opts]) -> machine\n"
    "A Boltzmann machine of +-1 units, the visible ones first, fully connected (opts.mask: an n x n\n"
    "symmetric 0/1 matrix of allowed connections), W_ij ~ N(0, sd^2) (opts.sd, 0.01), b = 0,\n"
    "opts.seed. Fields W, b (copies; assign m.W = ... to set them, checked), n_visible, n_hidden,\n"
    "epochs, updates, seed.\n"
    "Methods :train, :sample, :exact, :kl, :loglik, :energy." },
  { "hopfield", "cj.boltzmann.hopfield(N [, opts]) -> network\n"
    "A Hopfield network of N +-1 units. opts.rule: \"hebb\" (W = 1/N sum xi xi', zero diagonal),\n"
    "\"pseudoinverse\" (projection W = X'(XX')^-1 X, zero diagonal; patterns linearly independent)\n"
    "or \"dense\" (dense associative memory, Krotov & Hopfield 2016: E = -sum_mu F(xi_mu . s) with\n"
    "opts.F \"poly\" x^n, \"rectpoly\" max(x,0)^n or \"exp\" exp(x), opts.n = 3). opts.seed keys the\n"
    "random update order. Fields N, P, W (a copy; nil for dense), patterns, rule, seed.\n"
    "Methods :store, :recall, :energy, :overlap, :clear." },
  { "rbm", "cj.boltzmann.rbm(n_visible, n_hidden [, opts]) -> rbm\n"
    "A restricted Boltzmann machine with {0,1} hidden units and opts.visible \"binary\" ({0,1}, as\n"
    "sklearn's BernoulliRBM) or \"gaussian\" (real, unit variance: standardise the data) visible\n"
    "units; E = -a'v - c'h - v'Wh (Gaussian: |v - a|^2/2 - c'h - v'Wh). W_ij ~ N(0, sd^2) (opts.sd,\n"
    "0.01), opts.seed. Fields W (n_visible x n_hidden: sklearn's components_ transposed), vbias (a),\n"
    "hbias (c) (live views, assignable), n_visible, n_hidden, visible, epochs, updates, seed.\n"
    "Methods :train, :sample, :free_energy, :hidden, :visible, :log_partition, :loglik,\n"
    ":pseudo_loglik, :reconstruction_error, :to_boltzmann." },
  { "dbn", "cj.boltzmann.dbn(sizes [, opts]) -> dbn\n"
    "A deep belief net: RBMs stacked on sizes = {n_visible, n_h1, n_h2, ...}; layer l is dbn[l]\n"
    "(an rbm), #dbn the number of layers. opts.visible (first layer), sd, seed (layer l gets\n"
    "seed + l - 1). Methods :train (greedy, layer-wise), :transform, :sample." },
  { "ising", "cj.boltzmann.ising(L | {rows, cols} | J [, opts]) -> model\n"
    "An Ising model, E = -J sum_<ij> s_i s_j - h sum_i s_i: on a periodic L x L (or rows x cols,\n"
    "even sizes >= 4) lattice with opts.J (1) and opts.h (0), updated by checkerboard sweeps; or on\n"
    "a general coupling matrix J (symmetric, zero diagonal; E = -1/2 s'Js - h's, opts.h a number or\n"
    "vector), updated by single-site sweeps. opts.seed, opts.init (\"random\" default, \"up\", \"down\",\n"
    "or spins). Fields N, sweeps, seed, rows, cols, J, h. Methods :run, :spins, :magnetization,\n"
    ":energy. Temperatures are in units of J/k_B." },
  { NULL, NULL }
};

static const luaL_Reg bm_methods[] = {
  { "train", bm_train }, { "sample", bm_sample }, { "exact", bm_exact }, { "kl", bm_kl },
  { "loglik", bm_loglik }, { "energy", bm_energy }, { NULL, NULL }
};

static const cj_doc bm_docs[] = {
  { "train", "machine:train(X [, opts]) -> machine\n"
    "Learning on the rows of X (+-1, n_visible columns) by dW_ij = lr (<s_i s_j>_data -\n"
    "<s_i s_j>_model - decay W_ij) with momentum, db alike. Clamped phase: per row, the hidden\n"
    "units sampled with the visible ones clamped (a fresh chain: burnin sweeps, or the anneal\n"
    "schedule, then sweeps averaged); free phase: opts.chains chains (persistent: advanced sweeps\n"
    "sweeps per update; else fresh as above). opts: epochs (10), batch (10), lr (0.05), momentum (0),\n"
    "decay (0), persistent (true), chains (100), burnin (20), sweeps (1), anneal (betas), shuffle\n"
    "(true), exact (false: both phases by enumeration, n <= 24). Calls continue one another." },
  { "sample", "machine:sample(n [, opts]) -> samples\n"
    "n independent chains (all units, visible first), each after opts.sweeps (1000) Gibbs sweeps;\n"
    "opts: beta, seed, offset, method (as cj.boltzmann.gibbs)." },
  { "exact", "machine:exact([beta]) -> t\n"
    "cj.boltzmann.exact of the machine, with t.marginal the distribution of the visible units." },
  { "kl", "machine:kl(X) -> number\n"
    "KL(P_data || P_model) in nats over the visible states, P_data the frequencies of the rows of X,\n"
    "P_model the machine's exact marginal (n <= 24 units)." },
  { "loglik", "machine:loglik(X) -> number | array\nExact log P(v) of each row (n <= 24 units)." },
  { "energy", "machine:energy(S) -> number | array\nE(s) of a state (all units) or of each row of S." },
  { NULL, NULL }
};

static const luaL_Reg hop_methods[] = {
  { "store", hop_store }, { "recall", hop_recall }, { "energy", hop_energy },
  { "overlap", hop_overlap }, { "clear", hop_clear }, { NULL, NULL }
};

static const cj_doc hop_docs[] = {
  { "store", "net:store(patterns) -> net\n"
    "Adds the +-1 patterns (rows, or one vector) and recomputes W from all stored ones." },
  { "recall", "net:recall(cue [, opts]) -> states, converged, sweeps\n"
    "Zero-temperature dynamics from each cue (a vector or rows): a unit takes the sign of its field\n"
    "(dense: of its energy difference) and keeps its value on a tie (a field within 1e-10 of\n"
    "sum_j |W_ij|, so rounding never decides). opts.mode: \"async\" (default;\n"
    "every unit once per sweep in a random order keyed by (seed, row, sweep)), \"sequential\" or\n"
    "\"sync\" (all at once; a 2-cycle stops the run, not converged); max_sweeps (100), seed (the\n"
    "network's), offset (row offset of the keys). converged: a sweep changed nothing; sweeps: made,\n"
    "the last unchanged one included. For rows: a uint8 and an int32 array." },
  { "energy", "net:energy(S) -> number | array\n"
    "-1/2 s'Ws, or -sum_mu F(xi_mu . s) for dense memory (exp: -inf past xi . s = 709)." },
  { "overlap", "net:overlap(S) -> array\n"
    "m_mu = xi_mu . s / N with every stored pattern: a vector for a state, rows x P for rows." },
  { "clear", "net:clear() -> net\nForgets every pattern (W = 0)." },
  { NULL, NULL }
};

static const luaL_Reg rbm_methods[] = {
  { "train", rbm_train }, { "sample", rbm_sample }, { "free_energy", rbm_free_energy },
  { "hidden", rbm_hidden }, { "visible", rbm_visible }, { "log_partition", rbm_log_partition },
  { "loglik", rbm_loglik }, { "pseudo_loglik", rbm_pseudo_loglik },
  { "reconstruction_error", rbm_recon }, { "to_boltzmann", rbm_to_boltzmann }, { NULL, NULL }
};

static const cj_doc rbm_docs[] = {
  { "train", "rbm:train(X [, opts]) -> rbm\n"
    "Minibatch CD-k on the rows of X: positive statistics v0' p(h|v0), k steps of block Gibbs\n"
    "(binary v sampled; Gaussian v noise-free, Hinton's guide), negative vk' p(h|vk);\n"
    "dW = lr ((pos - neg)/batch - decay W) + momentum dW_prev (biases without decay); products\n"
    "through BLAS. opts: epochs (10), batch (10), k (1), persistent (false: true is PCD, as\n"
    "sklearn's BernoulliRBM), lr (0.1; 0.01 Gaussian), momentum (0), decay (0), shuffle (true),\n"
    "fractional (false: binary X must be 0/1; true accepts [0, 1] as probabilities), verbose\n"
    "(prints the reconstruction error per epoch). Calls continue one another (keys, momentum, chains)." },
  { "sample", "rbm:sample(n [, opts]) -> v [, h]\n"
    "n chains of block Gibbs v -> h -> v for opts.steps (1000) steps from opts.init (n rows) or\n"
    "random; every draw keyed by (seed, chain, step, unit): chain q does not depend on n. opts: seed,\n"
    "mean (return E[v|h] of the last step), hidden (also return the last h), offset (chain offset)." },
  { "free_energy", "rbm:free_energy(X [, opts]) -> number | array\n"
    "F(v) = -a'v - sum_j softplus(c_j + v'W_j) (Gaussian: |v - a|^2/2 - ...), P(v) = exp(-F(v))/Z.\n"
    "opts.fractional accepts binary data in [0, 1]." },
  { "hidden", "rbm:hidden(X) -> array\np(h_j = 1 | v) = sigmoid(c + v'W) for each row (sklearn's transform)." },
  { "visible", "rbm:visible(H) -> array\nE[v | h]: sigmoid(a + Wh) (binary) or a + Wh (Gaussian)." },
  { "log_partition", "rbm:log_partition() -> number\n"
    "log Z, exact, by enumerating the smaller layer (the hidden one for Gaussian visible units;\n"
    "at most 24 units); for Gaussian units Z includes (2 pi)^(n_visible/2)." },
  { "loglik", "rbm:loglik(X) -> number | array\n"
    "Exact log P(v) = -F(v) - log Z of each row (a log density for Gaussian units)." },
  { "pseudo_loglik", "rbm:pseudo_loglik(X [, opts]) -> number | array\n"
    "sum_i log P(v_i | v_-i) of each binary row. opts.stochastic = true: n_visible log P(v_i | v_-i)\n"
    "for one random unit i per row (sklearn's score_samples), keyed by opts.seed." },
  { "reconstruction_error", "rbm:reconstruction_error(X [, opts]) -> number\n"
    "Mean over rows of sum_i (v_i - r_i)^2, r = E[v | p(h|v)] (mean field, no sampling)." },
  { "to_boltzmann", "rbm:to_boltzmann() -> W, b, c\n"
    "The +-1 Boltzmann machine (n_visible + n_hidden units, visible first) equal to this binary RBM\n"
    "under s = 2z - 1: E_rbm(v, h) = E(s) + c; cj.boltzmann.exact(W, b) then gives its statistics." },
  { NULL, NULL }
};

static const luaL_Reg dbn_methods[] = {
  { "train", dbn_train }, { "transform", dbn_transform }, { "sample", dbn_sample }, { NULL, NULL }
};

static const cj_doc dbn_docs[] = {
  { "train", "dbn:train(X [, opts]) -> dbn\n"
    "Greedy layer-wise training (Hinton, Osindero & Teh 2006): layer 1 on X, each next layer on\n"
    "the hidden probabilities of the one below; opts as rbm:train, for every layer." },
  { "transform", "dbn:transform(X) -> array\nThe up pass: hidden probabilities of the top layer." },
  { "sample", "dbn:sample(n [, opts]) -> array\n"
    "Block Gibbs in the top RBM (opts.steps, 1000), then a down pass v ~ p(v|h) through the layers\n"
    "below; opts: seed, mean (the bottom layer's E[v|h]), offset." },
  { NULL, NULL }
};

static const luaL_Reg ising_methods[] = {
  { "run", ising_run }, { "spins", ising_spins }, { "magnetization", ising_magnetization },
  { "energy", ising_energy }, { NULL, NULL }
};

static const cj_doc ising_docs[] = {
  { "run", "model:run(sweeps [, opts]) -> t\n"
    "Runs sweeps sweeps at opts.T or opts.beta = 1/T (default 1) by opts.method \"metropolis\"\n"
    "(default) or \"heatbath\" (order \"sequential\" | \"random\" for a general model). t.m, t.e: per\n"
    "sweep, magnetisation and energy per spin; over the run t.m_mean, t.abs_m (<|m|>), t.m2, t.m4,\n"
    "t.e_mean, t.e2, t.chi = beta N (<m^2> - <|m|>^2), t.heat = beta^2 N (<e^2> - <e>^2), t.binder =\n"
    "1 - <m^4>/(3 <m^2>^2). Runs continue one another (keyed by sweep): burn in with a first run." },
  { "spins", "model:spins() -> array\nThe spins: rows x cols for a lattice, a vector otherwise." },
  { "magnetization", "model:magnetization() -> number\nsum_i s_i / N now." },
  { "energy", "model:energy() -> number\nE / N now." },
  { NULL, NULL }
};

/* A metatable for type tname: __index is idx closed over the methods (with
 * their docs); fields lists the field names for completion (__complete);
 * gc/tostring/len/newindex when given. */
static void newtype(lua_State *L, const char *tname, const luaL_Reg *methods, const cj_doc *d,
                    const char *const *fields, lua_CFunction idx, lua_CFunction gc, lua_CFunction str,
                    lua_CFunction len, lua_CFunction nidx)
{
  luaL_newmetatable(L, tname);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  cj_setdocs(L, -1, d);
  lua_pushcclosure(L, idx, 1);
  lua_setfield(L, -2, "__index");
  lua_newtable(L);
  for (int k = 0; fields[k]; k++) {
    lua_pushstring(L, fields[k]);
    lua_rawseti(L, -2, k + 1);
  }
  lua_setfield(L, -2, "__complete");
  if (gc) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pushcfunction(L, str);
  lua_setfield(L, -2, "__tostring");
  if (len) {
    lua_pushcfunction(L, len);
    lua_setfield(L, -2, "__len");
  }
  if (nidx) {
    lua_pushcfunction(L, nidx);
    lua_setfield(L, -2, "__newindex");
  }
  lua_pop(L, 1);
}

void cj_open_boltzmann(lua_State *L)
{
  static const char *const bmf[] = { "W", "b", "n_visible", "n_hidden", "seed", "epochs", "updates", NULL };
  static const char *const hopf[] = { "N", "P", "W", "patterns", "rule", "seed", NULL };
  static const char *const rbmf[] = { "W", "vbias", "hbias", "n_visible", "n_hidden", "visible", "seed",
                                      "epochs", "updates", NULL };
  static const char *const dbnf[] = { "sizes", NULL };
  static const char *const isingf[] = { "N", "sweeps", "seed", "rows", "cols", "J", "h", NULL };
  newtype(L, CJ_BM, bm_methods, bm_docs, bmf, bm_index, bm_gc, bm_tostring, bm_len, bm_newindex);
  newtype(L, CJ_HOPFIELD, hop_methods, hop_docs, hopf, hop_index, hop_gc, hop_tostring, hop_len, NULL);
  newtype(L, CJ_RBM, rbm_methods, rbm_docs, rbmf, rbm_index, rbm_gc, rbm_tostring, NULL, rbm_newindex);
  newtype(L, CJ_DBN, dbn_methods, dbn_docs, dbnf, dbn_index, NULL, dbn_tostring, dbn_len, NULL);
  newtype(L, CJ_ISING, ising_methods, ising_docs, isingf, ising_index, ising_gc, ising_tostring, ising_len,
          NULL);
  luaL_newlib(L, funcs);                       /* stack: mod, boltzmann */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "boltzmann");
}
