/*
 * larrhist.c — cj.bincount, cj.histogram, cj.histogram2d: the Lua face of
 * vm/core/arrhist.c. Counts come back as float64 arrays (exact for counts
 * below 2^53, and the same type with weights or density); edges carry the
 * data's unit.
 */
#include "lanalysis.h"

#include <math.h>

#include "arrhist.h"

static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

/* Option weights: NULL or an array of x's shape (converted in place in the
 * options table's place on the stack: pushed, so the caller's top grows). */
static const cj_array *optweights(lua_State *L, int o, const larray *x)
{
  larray *w;
  if (cj_optget(L, o, "weights") == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  w = cj_toarray(L, -1);
  if (!cj_array_sameshape(&w->a, &x->a)) cj_opterror(L, o, "weights", "must have the shape of the data");
  return &w->a;                                /* stays on the stack */
}

/* cj.bincount(x [, opts]) -> counts */
static int l_bincount(lua_State *L)
{
  static const char *const known[] = { "weights", "min", "length", NULL };
  larray *x = cj_toarray(L, 1);
  int o = cj_opts(L, 2, known);
  lua_Integer lo = cj_optint(L, o, "min", 0), minlen = cj_optint(L, o, "length", 0);
  const cj_array *w = optweights(L, o, x);
  double vlo, vhi;
  int found;
  int64_t len;
  double *c;
  if (minlen < 0) cj_opterror(L, o, "length", "must be non-negative");
  if (cj_finite_range(&x->a, &vlo, &vhi, &found)) corefail(L, 1);
  if (found && vlo < (double)lo) {
    lua_pushfstring(L, "values must be >= %I (got %s; set opts.min)", lo,
                    vlo == floor(vlo) && vlo > -1e15 ? lua_pushfstring(L, "%I", (lua_Integer)vlo)
                                                     : lua_pushfstring(L, "%f", vlo));
    luaL_argerror(L, 1, lua_tostring(L, -1));
  }
  if (found && vhi - (double)lo >= 1e9) luaL_argerror(L, 1, "values too large to count (more than 1e9 bins)");
  len = found ? (int64_t)(vhi - (double)lo) + 1 : 0;
  if (len < minlen) len = minlen;
  c = cj_newf64(L, 1, &len, cj_dimless);
  if (cj_bincount(&x->a, w, lo, len, c)) corefail(L, 1);
  return 1;
}

/* The bins of one axis from argument value at index v (integer count, or
 * edges), range option value at index rg (0: none), data x. Pushes the
 * edges array (unit of x) and fills b. */
static void getbins(lua_State *L, int arg, int v, int rg, const larray *x, cj_bins *b, const char *what)
{
  int isint;
  lua_Integer n = 10;
  double lo, hi;
  larray *e;
  if (v && !lua_isnoneornil(L, v) && (cj_testarray(L, v) || lua_istable(L, v))) {
    int64_t ne;
    e = cj_toarray(L, v);
    if (e->a.ndim != 1) luaL_argerror(L, arg, "bin edges must be 1-D");
    if (!cj_dim_eq(e->dim, x->dim)) luaL_argerror(L, arg, "bin edges must have the unit of the data");
    lua_pushvalue(L, v);
    cj_f64(L, -1, &ne);
    e = cj_testarray(L, -1);
    if (cj_bins_check(e->a.data, ne - 1)) {
      lua_pushfstring(L, "%s: %s", what, cj_errmsg());
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
    b->n = ne - 1;
    b->edges = e->a.data;
    b->uniform = 0;
    return;
  }
  if (v && !lua_isnoneornil(L, v)) {
    n = lua_tointegerx(L, v, &isint);
    if (!isint || n < 1 || n > 100000000) luaL_argerror(L, arg, "number of bins must be a positive integer");
  }
  if (rg) {
    cj_dim d1, d2;
    lua_rawgeti(L, rg, 1);
    lua_rawgeti(L, rg, 2);
    if (!cj_toquantity(L, -2, &lo, &d1) || !cj_toquantity(L, -1, &hi, &d2) ||
        !cj_dim_eq(d1, x->dim) || !cj_dim_eq(d2, x->dim) || !(lo < hi) || !isfinite(lo) || !isfinite(hi))
      luaL_argerror(L, arg, "range must be {lo, hi} with lo < hi, in the unit of the data");
    lua_pop(L, 2);
  } else {
    int found;
    if (cj_finite_range(&x->a, &lo, &hi, &found)) corefail(L, arg);
    if (!found) { lo = 0; hi = 1; }
    if (lo == hi) { lo -= 0.5; hi += 0.5; }
  }
  {
    int64_t ne = (int64_t)n + 1;
    double *ed = cj_newf64(L, 1, &ne, x->dim);
    if (cj_bins_uniform(ed, (int64_t)n, lo, hi)) corefail(L, arg);
    b->n = (int64_t)n;
    b->edges = ed;
    b->uniform = 1;
  }
}

/* counts / (total * width): integrates to one over the bins */
static void density(double *c, const cj_bins *bx, const cj_bins *by)
{
  double total = 0;
  int64_t ny = by ? by->n : 1;
  for (int64_t k = 0; k < bx->n * ny; k++) total += c[k];
  for (int64_t i = 0; i < bx->n; i++)
    for (int64_t j = 0; j < ny; j++) {
      double w = bx->edges[i + 1] - bx->edges[i];
      if (by) w *= by->edges[j + 1] - by->edges[j];
      c[i * ny + j] = total > 0 ? c[i * ny + j] / (total * w) : NAN;
    }
}

static cj_dim invdim(cj_dim d) { return cj_dim_div(cj_dimless, d); }

/* cj.histogram(x [, bins] [, opts]) -> counts, edges */
static int l_histogram(lua_State *L)
{
  static const char *const known[] = { "range", "weights", "density", NULL };
  larray *x = cj_toarray(L, 1);
  int o = cj_opts(L, 3, known), rg = 0, dens = cj_optbool(L, o, "density", 0), eidx;
  const cj_array *w;
  cj_bins b;
  int64_t n;
  double *c;
  if (cj_optget(L, o, "range") != LUA_TNIL) {
    if (!lua_istable(L, -1)) cj_opterror(L, o, "range", "must be a table {lo, hi}");
    rg = lua_gettop(L);
  }
  w = optweights(L, o, x);
  getbins(L, 2, 2, rg, x, &b, "bins");
  eidx = lua_gettop(L);
  n = b.n;
  c = cj_newf64(L, 1, &n, dens ? invdim(x->dim) : cj_dimless);
  if (cj_histogram(&x->a, w, &b, c)) corefail(L, 1);
  if (dens) density(c, &b, NULL);
  lua_pushvalue(L, eidx);
  return 2;
}

/* cj.histogram2d(x, y [, bins] [, opts]) -> counts, xedges, yedges */
static int l_histogram2d(lua_State *L)
{
  static const char *const known[] = { "range", "weights", "density", NULL };
  larray *x = cj_toarray(L, 1), *y = cj_toarray(L, 2);
  int o = cj_opts(L, 4, known), rx = 0, ry = 0, dens = cj_optbool(L, o, "density", 0);
  int bx = 3, by = 3, ex, ey;
  const cj_array *w;
  cj_bins b1, b2;
  int64_t shape[2];
  double *c;
  if (!cj_array_sameshape(&x->a, &y->a)) luaL_argerror(L, 2, "x and y must have one shape");
  if (cj_optget(L, o, "range") != LUA_TNIL) {
    int t = lua_gettop(L);
    if (!lua_istable(L, t)) cj_opterror(L, o, "range", "must be a table {{xlo, xhi}, {ylo, yhi}}");
    lua_rawgeti(L, t, 1);
    lua_rawgeti(L, t, 2);
    if (!lua_istable(L, -1) || !lua_istable(L, -2)) cj_opterror(L, o, "range", "must be a table {{xlo, xhi}, {ylo, yhi}}");
    rx = t + 1;
    ry = t + 2;
  }
  w = optweights(L, o, x);
  if (lua_istable(L, 3) && !cj_testarray(L, 3)) {     /* {nx, ny} or {xedges, yedges} */
    lua_rawgeti(L, 3, 1);
    lua_rawgeti(L, 3, 2);
    if (lua_isnil(L, -1) || lua_isnil(L, -2)) luaL_argerror(L, 3, "bins must be a number, {nx, ny} or {xedges, yedges}");
    bx = lua_gettop(L) - 1;
    by = bx + 1;
  } else if (cj_testarray(L, 3)) {
    luaL_argerror(L, 3, "bins must be a number, {nx, ny} or {xedges, yedges}");
  }
  getbins(L, 3, bx, rx, x, &b1, "x bins");
  ex = lua_gettop(L);
  getbins(L, 3, by, ry, y, &b2, "y bins");
  ey = lua_gettop(L);
  shape[0] = b1.n;
  shape[1] = b2.n;
  c = cj_newf64(L, 2, shape, dens ? invdim(cj_dim_mul(x->dim, y->dim)) : cj_dimless);
  if (cj_histogram2d(&x->a, &y->a, w, &b1, &b2, c)) corefail(L, 1);
  if (dens) density(c, &b1, &b2);
  lua_pushvalue(L, ex);
  lua_pushvalue(L, ey);
  return 3;
}

static const luaL_Reg funcs[] = {
  { "bincount", l_bincount }, { "histogram", l_histogram }, { "histogram2d", l_histogram2d },
  { NULL, NULL }
};

static const cj_doc docs[] = {
  { "bincount", "cj.bincount(x [, opts]) -> counts\n"
    "How often each integer value occurs in x (any shape; values must be integers >= opts.min):\n"
    "counts[k] counts the value min + k - 1, for k = 1 .. max(x) - min + 1. opts.min (default 0,\n"
    "as numpy: counts[1] is the number of zeros; use min = 1 for 1-based labels such as neuron\n"
    "indices), opts.length (at least this many counts), opts.weights (sum weights instead).\n"
    "float64 result." },
  { "histogram", "cj.histogram(x [, bins] [, opts]) -> counts, edges\n"
    "Histogram of the elements of x (any shape): bins an integer (default 10 equal bins over\n"
    "[min, max] or opts.range = {lo, hi}) or an array of increasing edges. Bin k holds\n"
    "edges[k] <= x < edges[k+1]; the last also holds x == edges[#edges] (numpy's rule); values\n"
    "outside and NaN are left out. opts.weights (x's shape), opts.density (counts / (total *\n"
    "width), integrating to one). counts float64; edges in x's unit." },
  { "histogram2d", "cj.histogram2d(x, y [, bins] [, opts]) -> counts, xedges, yedges\n"
    "Joint histogram of the pairs (x[k], y[k]): counts[i][j] holds the pairs in x bin i and\n"
    "y bin j. bins: an integer (default 10), {nx, ny}, or {xedges, yedges}; opts.range =\n"
    "{{xlo, xhi}, {ylo, yhi}}, opts.weights, opts.density, as cj.histogram." },
  { NULL, NULL }
};

void cj_open_arrhist(lua_State *L)
{
  luaL_setfuncs(L, funcs, 0);
  cj_setdocs(L, -1, docs);
}
