/*
 * lrng.c — random numbers in Lua: generator objects ("cajal.rng", a cursor
 * over one (seed, stream) of Philox4x32-10, see vm/core/rng.h) and the
 * module functions cj.seed, cj.rand, cj.randn, cj.uniform, ... that draw
 * from the default generator (cj_default_rng(), which networks also use
 * when no seed is given).
 *
 * One C function serves both forms: as a method (rng:normal(...)) its
 * generator is argument 1; as a module function it is the closure's
 * upvalue and the arguments start at 1. Every draw of many numbers is one
 * call into vm/core (cj_rng_fill_*): no Lua work per element.
 */
#include "lcajal.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CJ_RNG "cajal.rng"

/* A generator: r points to own, or to the default generator. */
typedef struct lrng { cj_rng *r; cj_rng own; } lrng;

#define checkrng(L, i) ((lrng *)luaL_checkudata(L, i, CJ_RNG))

static lrng *newrng(lua_State *L)
{
  lrng *g = lua_newuserdatauv(L, sizeof *g, 0);
  cj_rng_init(&g->own, 0, 0);
  g->r = &g->own;
  luaL_setmetatable(L, CJ_RNG);
  return g;
}

/* The generator of this call and the index of its first argument. */
static cj_rng *self(lua_State *L, int *base)
{
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TUSERDATA) {
    *base = 1;
    return ((lrng *)lua_touserdata(L, lua_upvalueindex(1)))->r;
  }
  *base = 2;
  return checkrng(L, 1)->r;
}

/* ---- arguments ---------------------------------------------------------- */

/* Shape from arguments first..top: nothing (-1: draw one number), one
 * table of sizes, or sizes. */
static int getshape(lua_State *L, int first, int64_t *shape)
{
  int top = lua_gettop(L), table, n;
  while (top >= first && lua_isnil(L, top)) top--;
  if (top < first) return -1;
  table = lua_istable(L, first);
  if (table && top > first) luaL_argerror(L, first + 1, "nothing expected after a shape table");
  n = table ? (int)lua_rawlen(L, first) : top - first + 1;
  if (n > CJ_MAXDIM) luaL_argerror(L, first, "too many dimensions");
  for (int i = 0; i < n; i++) {
    int isint, arg = table ? first : first + i;
    lua_Integer v;
    if (table) lua_rawgeti(L, first, i + 1);
    else lua_pushvalue(L, first + i);
    v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint || v < 0) luaL_argerror(L, arg, "shape: sizes must be non-negative integers");
    shape[i] = (int64_t)v;
  }
  return n;
}

/* Argument i as a number or quantity; def when absent. */
static void getq(lua_State *L, int i, double def, double *v, cj_dim *d)
{
  if (lua_isnoneornil(L, i)) {
    *v = def;
    *d = cj_dimless;
    return;
  }
  if (!cj_toquantity(L, i, v, d)) luaL_typeerror(L, i, "number or quantity");
}

static int64_t checkint(lua_State *L, int i, const char *what)
{
  int isint;
  lua_Integer v = lua_tointegerx(L, i, &isint);
  if (!isint) {
    char msg[80];
    snprintf(msg, sizeof msg, "%s must be an integer", what);
    luaL_argerror(L, i, msg);
  }
  return (int64_t)v;
}

static void corefail(lua_State *L)
{
  luaL_error(L, "%s", cj_errmsg());
}

/* Raise "cannot <verb> A and B" about argument arg. */
static void uniterror(lua_State *L, int arg, const char *verb, cj_dim a, cj_dim b)
{
  char b1[96], b2[96];
  lua_pushfstring(L, "cannot %s %s and %s", verb,
                  cj_dim_isless(a) ? "dimensionless" : cj_dim_format(a, b1, sizeof b1),
                  cj_dim_isless(b) ? "dimensionless" : cj_dim_format(b, b2, sizeof b2));
  luaL_argerror(L, arg, lua_tostring(L, -1));
}

/* A new float64 array of the given shape and dimension (pushed). */
static cj_array *newresult(lua_State *L, int ndim, const int64_t *shape, cj_dim d)
{
  larray *a = cj_newarray(L, CJ_F64, ndim, shape);
  a->dim = d;
  return &a->a;
}

/* ---- continuous distributions -------------------------------------------- */

/* uniform() | uniform(shape) | uniform(lo, hi [, shape...]) */
static int r_uniform(lua_State *L)
{
  int base, ndim, nargs;
  cj_rng *r = self(L, &base);
  double lo = 0, hi = 1;
  cj_dim dlo = cj_dimless, dhi = cj_dimless;
  int64_t shape[CJ_MAXDIM];
  nargs = lua_gettop(L) - base + 1;
  if (nargs == 1 && lua_isinteger(L, base)) ndim = getshape(L, base, shape);
  else if (nargs == 1 && lua_istable(L, base)) ndim = getshape(L, base, shape);
  else {
    if (nargs >= 1) {
      getq(L, base, 0, &lo, &dlo);
      if (nargs < 2) luaL_argerror(L, base + 1, "hi expected after lo");
      getq(L, base + 1, 1, &hi, &dhi);
      if (!cj_dim_eq(dlo, dhi)) uniterror(L, base + 1, "draw uniformly between", dlo, dhi);
      luaL_argcheck(L, lo < hi && isfinite(hi - lo), base + 1, "needs finite lo < hi");
    }
    ndim = getshape(L, base + 2, shape);
  }
  if (ndim < 0) {
    double v = lo + (hi - lo) * cj_rng_uniform(r);
    cj_pushquantity(L, v < hi ? v : nextafter(hi, lo), dlo);
    return 1;
  }
  if (cj_rng_fill_uniform(r, newresult(L, ndim, shape, dlo), lo, hi)) corefail(L);
  return 1;
}

/* rand(shape...): uniform on [0, 1) */
static int r_rand(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  int64_t shape[CJ_MAXDIM];
  ndim = getshape(L, base, shape);
  if (ndim < 0) lua_pushnumber(L, cj_rng_uniform(r));
  else if (cj_rng_fill_uniform(r, newresult(L, ndim, shape, cj_dimless), 0, 1)) corefail(L);
  return 1;
}

/* randn(shape...): standard normal */
static int r_randn(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  int64_t shape[CJ_MAXDIM];
  ndim = getshape(L, base, shape);
  if (ndim < 0) lua_pushnumber(L, cj_rng_normal(r));
  else if (cj_rng_fill_normal(r, newresult(L, ndim, shape, cj_dimless), 0, 1)) corefail(L);
  return 1;
}

/* normal([mu [, sigma [, shape...]]]) */
static int r_normal(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  double mu, sigma;
  cj_dim dm, ds;
  int64_t shape[CJ_MAXDIM];
  getq(L, base, 0, &mu, &dm);
  getq(L, base + 1, 1, &sigma, &ds);
  if (lua_isnoneornil(L, base + 1)) ds = dm;    /* normal(mu): sigma = 1 of mu's unit */
  if (!cj_dim_eq(dm, ds)) uniterror(L, base + 1, "draw a normal with mean and deviation in", dm, ds);
  luaL_argcheck(L, isfinite(mu), base, "mean must be finite");
  luaL_argcheck(L, sigma >= 0 && isfinite(sigma), base + 1,
                "standard deviation must be finite and >= 0");
  ndim = getshape(L, base + 2, shape);
  if (ndim < 0) cj_pushquantity(L, mu + sigma * cj_rng_normal(r), dm);
  else if (cj_rng_fill_normal(r, newresult(L, ndim, shape, dm), mu, sigma)) corefail(L);
  return 1;
}

/* exponential([scale [, shape...]]) */
static int r_exponential(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  double scale;
  cj_dim d;
  int64_t shape[CJ_MAXDIM];
  getq(L, base, 1, &scale, &d);
  luaL_argcheck(L, scale >= 0 && isfinite(scale), base, "scale must be finite and >= 0");
  ndim = getshape(L, base + 1, shape);
  if (ndim < 0) cj_pushquantity(L, scale * cj_rng_exponential(r), d);
  else if (cj_rng_fill_exponential(r, newresult(L, ndim, shape, d), scale)) corefail(L);
  return 1;
}

/* ---- discrete distributions --------------------------------------------------- */

/* poisson(lambda [, shape...]) */
static int r_poisson(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  double lam = luaL_checknumber(L, base);
  int64_t shape[CJ_MAXDIM];
  luaL_argcheck(L, lam >= 0 && lam <= CJ_POISSON_MAX, base, "lambda must be in [0, 1e15]");
  ndim = getshape(L, base + 1, shape);
  if (ndim < 0) lua_pushinteger(L, (lua_Integer)cj_rng_poisson(r, lam));
  else if (cj_rng_fill_poisson(r, newresult(L, ndim, shape, cj_dimless), lam)) corefail(L);
  return 1;
}

/* binomial(n, p [, shape...]) */
static int r_binomial(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  int64_t n = checkint(L, base, "n"), shape[CJ_MAXDIM];
  double p = luaL_checknumber(L, base + 1);
  luaL_argcheck(L, n >= 0, base, "n must be >= 0");
  luaL_argcheck(L, p >= 0 && p <= 1, base + 1, "p must be in [0, 1]");
  ndim = getshape(L, base + 2, shape);
  if (ndim < 0) lua_pushinteger(L, (lua_Integer)cj_rng_binomial(r, n, p));
  else if (cj_rng_fill_binomial(r, newresult(L, ndim, shape, cj_dimless), n, p)) corefail(L);
  return 1;
}

/* integers(lo, hi [, shape...]): uniform on lo..hi, both included */
static int r_integers(lua_State *L)
{
  int base, ndim;
  cj_rng *r = self(L, &base);
  int64_t lo = checkint(L, base, "lo"), hi = checkint(L, base + 1, "hi"), shape[CJ_MAXDIM];
  uint64_t n;
  luaL_argcheck(L, lo <= hi, base + 1, "needs lo <= hi");
  n = (uint64_t)hi - (uint64_t)lo + 1;
  ndim = getshape(L, base + 2, shape);
  if (ndim < 0) {
    uint64_t x;
    if (n) x = cj_rng_below(r, n);
    else {                                      /* the whole 64-bit range */
      x = (uint64_t)cj_rng_u32(r) << 32;
      x |= cj_rng_u32(r);
    }
    lua_pushinteger(L, (lua_Integer)((uint64_t)lo + x));
    return 1;
  }
  luaL_argcheck(L, n != 0 && n <= (1ull << 53) && lo >= -(1LL << 53) && hi <= (1LL << 53),
                base + 1, "range too large for a float64 array (2^53 values at most)");
  if (cj_rng_fill_below(r, newresult(L, ndim, shape, cj_dimless), n, lo)) corefail(L);
  return 1;
}

/* ---- permutations and choice --------------------------------------------------- */

/* permutation(n) -> 1..n shuffled (int32); permutation(array) -> shuffled copy */
static int r_permutation(lua_State *L)
{
  int base;
  cj_rng *r = self(L, &base);
  larray *src = cj_testarray(L, base), *a;
  if (src) {
    luaL_argcheck(L, src->a.ndim == 1, base, "needs a 1-D array");
    a = cj_newarray(L, src->a.dtype, 1, src->a.shape);
    a->dim = src->dim;
    if (cj_array_copy(&a->a, &src->a) || cj_rng_shuffle(r, &a->a)) corefail(L);
    return 1;
  }
  int64_t n = checkint(L, base, "n");
  luaL_argcheck(L, n >= 0, base, "n must be >= 0");
  a = cj_newarray(L, n <= INT32_MAX ? CJ_I32 : CJ_F64, 1, &n);
  if (cj_rng_permutation(r, &a->a, 1)) corefail(L);
  return 1;
}

/* shuffle(array): in place (1-D), returns the array */
static int r_shuffle(lua_State *L)
{
  int base;
  cj_rng *r = self(L, &base);
  larray *a = cj_checkarray(L, base);
  luaL_argcheck(L, a->a.ndim == 1, base, "needs a 1-D array");
  if (cj_rng_shuffle(r, &a->a)) corefail(L);
  lua_settop(L, base);
  return 1;
}

/* choice(n | array [, k [, replace [, p]]]) */
static int r_choice(lua_State *L)
{
  int base, replace = 1, single;
  cj_rng *r = self(L, &base);
  larray *src = cj_testarray(L, base), *w = NULL, *out;
  int64_t n, k, *idx;
  if (src) {
    luaL_argcheck(L, src->a.ndim == 1, base, "needs a 1-D array or a count");
    n = src->a.shape[0];
  } else {
    n = checkint(L, base, "n (or a 1-D array)");
    luaL_argcheck(L, n >= 0, base, "n must be >= 0");
  }
  single = lua_isnoneornil(L, base + 1);
  k = single ? 1 : checkint(L, base + 1, "k");
  luaL_argcheck(L, k >= 0, base + 1, "k must be >= 0");
  if (!lua_isnoneornil(L, base + 2)) {
    luaL_checktype(L, base + 2, LUA_TBOOLEAN);
    replace = lua_toboolean(L, base + 2);
  }
  if (!lua_isnoneornil(L, base + 3)) {
    int top = lua_gettop(L);
    w = cj_optarray(L, base + 3);               /* may push a converted table */
    if (lua_gettop(L) == top) lua_pushvalue(L, base + 3);
    luaL_argcheck(L, w->a.ndim == 1 && w->a.shape[0] == n, base + 3,
                  "weights must be a 1-D array with one weight per candidate");
  }
  luaL_argcheck(L, replace || k <= n, base + 1, "more draws than candidates without replacement");
  luaL_argcheck(L, n > 0 || k == 0, base, "cannot choose from nothing");
  idx = lua_newuserdatauv(L, (size_t)(k ? k : 1) * sizeof *idx, 0);  /* collected on error */
  if (cj_rng_choice(r, n, k, replace, w ? &w->a : NULL, idx)) {
    const char *msg = cj_errmsg();
    if (w && strncmp(msg, "choice: ", 8) == 0) luaL_argerror(L, base + 3, msg + 8);
    corefail(L);
  }
  if (single) {
    if (!src) lua_pushinteger(L, (lua_Integer)idx[0] + 1);
    else if (cj_dtype_isint(src->a.dtype))
      lua_pushinteger(L, (lua_Integer)cj_array_getflat(&src->a, idx[0]));
    else cj_pushquantity(L, cj_array_getflat(&src->a, idx[0]), src->dim);
    return 1;
  }
  if (!src) {
    out = cj_newarray(L, n <= INT32_MAX ? CJ_I32 : CJ_F64, 1, &k);
    for (int64_t j = 0; j < k; j++) cj_array_setflat(&out->a, j, (double)(idx[j] + 1));
    return 1;
  }
  out = cj_newarray(L, src->a.dtype, 1, &k);
  out->dim = src->dim;
  for (int64_t j = 0; j < k; j++) cj_array_setflat(&out->a, j, cj_array_getflat(&src->a, idx[j]));
  return 1;
}

/* ---- state --------------------------------------------------------------------- */

/* rng:state() -> { seed, stream, counter, used [, spare] } */
static int m_state(lua_State *L)
{
  lrng *g = checkrng(L, 1);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)g->r->seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, (lua_Integer)g->r->stream);
  lua_setfield(L, -2, "stream");
  lua_pushinteger(L, (lua_Integer)g->r->counter);
  lua_setfield(L, -2, "counter");
  lua_pushinteger(L, g->r->used);
  lua_setfield(L, -2, "used");
  if (g->r->has_spare) {
    lua_pushnumber(L, g->r->spare);
    lua_setfield(L, -2, "spare");
  }
  return 1;
}

static lua_Integer intfield(lua_State *L, int t, const char *k, int required, lua_Integer def)
{
  int isint;
  lua_Integer v;
  if (lua_getfield(L, t, k) == LUA_TNIL && !required) {
    lua_pop(L, 1);
    return def;
  }
  v = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (!isint) {
    char msg[64];
    snprintf(msg, sizeof msg, "state field '%s' must be an integer", k);
    luaL_argerror(L, t, msg);
  }
  return v;
}

/* rng:setstate(t): t as returned by rng:state() */
static int m_setstate(lua_State *L)
{
  lrng *g = checkrng(L, 1);
  cj_rng tmp;
  lua_Integer seed, stream, counter, used;
  luaL_checktype(L, 2, LUA_TTABLE);
  seed = intfield(L, 2, "seed", 1, 0);
  stream = intfield(L, 2, "stream", 0, 0);
  counter = intfield(L, 2, "counter", 0, 0);
  used = intfield(L, 2, "used", 0, 4);
  luaL_argcheck(L, stream >= 0, 2, "state field 'stream' must be >= 0");
  luaL_argcheck(L, used >= 0 && used <= 4, 2, "state field 'used' must be 0..4");
  cj_rng_init(&tmp, (uint64_t)seed, (uint64_t)stream);
  if (cj_rng_setpos(&tmp, (uint64_t)counter, (int)used)) luaL_argerror(L, 2, cj_errmsg());
  if (lua_getfield(L, 2, "spare") != LUA_TNIL) {
    luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER, 2, "state field 'spare' must be a number");
    tmp.spare = lua_tonumber(L, -1);
    tmp.has_spare = 1;
  }
  *g->r = tmp;
  lua_settop(L, 1);
  return 1;
}

/* rng:clone() -> an independent generator at the same position */
static int m_clone(lua_State *L)
{
  lrng *g = checkrng(L, 1), *c = newrng(L);
  c->own = *g->r;
  return 1;
}

static int m_tostring(lua_State *L)
{
  lrng *g = checkrng(L, 1);
  lua_pushfstring(L, "rng(seed=%I, stream=%I, counter=%I)%s", (lua_Integer)g->r->seed,
                  (lua_Integer)g->r->stream, (lua_Integer)g->r->counter,
                  g->r == cj_default_rng() ? " [default]" : "");
  return 1;
}

/* ---- module functions -------------------------------------------------------------- */

/* cj.rng([seed [, stream]]): a new generator; no argument: the default one */
static int l_rng(lua_State *L)
{
  int64_t seed, stream = 0;
  lrng *g;
  if (lua_isnoneornil(L, 1)) {
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
  }
  seed = checkint(L, 1, "seed");
  if (!lua_isnoneornil(L, 2)) stream = checkint(L, 2, "stream");
  luaL_argcheck(L, stream >= 0, 2, "stream must be >= 0");
  g = newrng(L);
  cj_rng_init(&g->own, (uint64_t)seed, (uint64_t)stream);
  return 1;
}

/* A seed from the system: /dev/urandom, else time and pid. 53 bits, so it
 * prints and round-trips as a plain number. */
static uint64_t freshseed(void)
{
  uint64_t s = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(&s, sizeof s, 1, f) != 1)
    s = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^ (uint64_t)clock();
  if (f) fclose(f);
  return s & ((1ull << 53) - 1);
}

/* cj.seed([n]) -> n: reseed the default generator (stream 0) */
static int l_seed(lua_State *L)
{
  uint64_t s = lua_isnoneornil(L, 1) ? freshseed() : (uint64_t)checkint(L, 1, "seed");
  cj_rng_init(cj_default_rng(), s, 0);
  lua_pushinteger(L, (lua_Integer)s);
  return 1;
}

static const luaL_Reg draws[] = {
  { "uniform", r_uniform }, { "rand", r_rand }, { "randn", r_randn },
  { "normal", r_normal }, { "exponential", r_exponential }, { "poisson", r_poisson },
  { "binomial", r_binomial }, { "integers", r_integers }, { "permutation", r_permutation },
  { "shuffle", r_shuffle }, { "choice", r_choice }, { NULL, NULL }
};

static const luaL_Reg methods[] = {
  { "state", m_state }, { "setstate", m_setstate }, { "clone", m_clone }, { NULL, NULL }
};

/* Help: module form (cj.x) and method form (rng:x) of each draw. */
static const char *const drawdocs[][3] = {
  { "uniform", "uniform([lo, hi] [, shape...]) -> number | quantity | array",
    "Uniform on [lo, hi) (default [0, 1)); lo and hi may be quantities of one unit.\n"
    "uniform(n) or uniform({d1, d2}) alone is a shape; to draw one number in [2, 3) write uniform(2, 3)." },
  { "rand", "rand([shape...]) -> number | array", "Uniform on [0, 1): rand() one number, rand(3, 4) a 3x4 array." },
  { "randn", "randn([shape...]) -> number | array", "Standard normal (Box-Muller on Philox4x32-10)." },
  { "normal", "normal([mu [, sigma [, shape...]]]) -> number | quantity | array",
    "Normal with mean mu (default 0) and standard deviation sigma (default 1), e.g. normal(-65*cj.mV, 5*cj.mV, 100)." },
  { "exponential", "exponential([scale [, shape...]]) -> number | quantity | array",
    "Exponential with mean scale (default 1), e.g. exponential(10*cj.ms, 1000) for inter-spike intervals." },
  { "poisson", "poisson(lambda [, shape...]) -> integer | array",
    "Poisson counts with mean lambda (exact: inversion below 10, PTRS above)." },
  { "binomial", "binomial(n, p [, shape...]) -> integer | array",
    "Binomial counts of n trials with success probability p (exact: inversion or BTRS)." },
  { "integers", "integers(lo, hi [, shape...]) -> integer | array",
    "Uniform integers in lo..hi, both ends included, without modulo bias." },
  { "permutation", "permutation(n | array) -> array",
    "A random permutation of 1..n (int32), or a shuffled copy of a 1-D array." },
  { "shuffle", "shuffle(array) -> array", "Shuffle a 1-D array in place (Fisher-Yates); returns it." },
  { "choice", "choice(n | array [, k [, replace [, p]]]) -> value | array",
    "k draws from 1..n or from a 1-D array, with replacement unless replace is false,\n"
    "optionally with weights p (array or table). Without k: one value." },
};

static void setdrawdocs(lua_State *L, int t, const char *prefix)
{
  char buf[512];
  for (size_t i = 0; i < sizeof drawdocs / sizeof *drawdocs; i++) {
    cj_doc d[2] = { { drawdocs[i][0], buf }, { NULL, NULL } };
    snprintf(buf, sizeof buf, "%s%s\n%s", prefix, drawdocs[i][1], drawdocs[i][2]);
    cj_setdocs(L, t, d);
  }
}

static const cj_doc moddocs[] = {
  { "seed", "cj.seed([n]) -> n\n"
    "Reseed the default generator (used by cj.rand, cj.normal, ... and by networks\n"
    "loaded without a seed). No argument: a fresh seed from the system, returned." },
  { "rng", "cj.rng([seed [, stream]]) -> rng\n"
    "A generator over (seed, stream) of Philox4x32-10; streams are independent.\n"
    "No argument: the default generator itself." },
  { NULL, NULL }
};

static const cj_doc methdocs[] = {
  { "state", "rng:state() -> table\n"
    "Position of the generator {seed, stream, counter, used [, spare]}, for rng:setstate." },
  { "setstate", "rng:setstate(t) -> rng\nMove the generator to a position saved by rng:state()." },
  { "clone", "rng:clone() -> rng\nAn independent generator at the same position." },
  { NULL, NULL }
};

void cj_open_rng(lua_State *L)
{
  lrng *def;
  int mod = lua_gettop(L);
  luaL_newmetatable(L, CJ_RNG);                       /* stack: M, mt */
  lua_pushcfunction(L, m_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_newtable(L);                                    /* stack: M, mt, methods */
  luaL_setfuncs(L, draws, 0);
  luaL_setfuncs(L, methods, 0);
  setdrawdocs(L, -1, "rng:");
  cj_setdocs(L, -1, methdocs);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);                                      /* stack: M */
  def = lua_newuserdatauv(L, sizeof *def, 0);         /* stack: M, default */
  def->r = cj_default_rng();
  luaL_setmetatable(L, CJ_RNG);
  for (const luaL_Reg *f = draws; f->name; f++) {
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, f->func, 1);
    lua_setfield(L, mod, f->name);
  }
  lua_pushcclosure(L, l_rng, 1);                      /* stack: M */
  lua_setfield(L, mod, "rng");
  lua_pushcfunction(L, l_seed);
  lua_setfield(L, mod, "seed");
  setdrawdocs(L, mod, "cj.");
  cj_setdocs(L, mod, moddocs);
}
