/*
 * lopt.h — trailing option tables of the bindings: lopt_at, the one check
 * that every key is one the function knows (a typo is an error naming the
 * key), used by every binding that takes options (lanalysis.c's cj_opts,
 * lboltzmann.c, lio.c, llearn.c, lnwb.c, and the structured-representation
 * bindings lhd.c, lcapsule.c, ltpr.c, which also take the getters below:
 * values checked for their type, opts.seed selecting a generator, and
 * numeric arguments as contiguous float64 arrays).
 *
 * An option table is "absent" when its stack index is 0 (the helpers then
 * return the defaults), so callers resolve optional positions first:
 *   int o = lopt_at(L, 3, known);      -- 0 when argument 3 is none or nil
 *   double eta = lopt_number(L, o, "eta", 0.1);
 * Header-only (static functions).
 */
#ifndef LOPT_H
#define LOPT_H

#include "lcajal.h"
#include "rng.h"

#include <math.h>
#include <string.h>

/* Argument i as an option table checked against known (NULL-terminated):
 * returns i (absolute), or 0 when the argument is none or nil. */
static inline int lopt_at(lua_State *L, int i, const char *const *known)
{
  if (lua_isnoneornil(L, i)) return 0;
  i = lua_absindex(L, i);
  luaL_checktype(L, i, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, i)) {
    int ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = known; *k; k++)
        if (strcmp(*k, lua_tostring(L, -1)) == 0) ok = 1;
    if (!ok) {
      lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL));
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
  }
  return i;
}

/* opts[key] pushed when present (returns 1), else nothing pushed (0). */
static inline int lopt_get(lua_State *L, int o, const char *key)
{
  if (!o) return 0;
  if (lua_getfield(L, o, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static inline int lopt_bad(lua_State *L, int o, const char *key, const char *what)
{
  lua_pushfstring(L, "option '%s' must be %s", key, what);
  return luaL_argerror(L, o, lua_tostring(L, -1));
}

static inline double lopt_number(lua_State *L, int o, const char *key, double def)
{
  double v;
  if (!lopt_get(L, o, key)) return def;
  if (lua_type(L, -1) != LUA_TNUMBER) lopt_bad(L, o, key, "a number");
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!isfinite(v)) lopt_bad(L, o, key, "finite");
  return v;
}

static inline lua_Integer lopt_integer(lua_State *L, int o, const char *key, lua_Integer def)
{
  int isint;
  lua_Integer v;
  if (!lopt_get(L, o, key)) return def;
  v = lua_tointegerx(L, -1, &isint);
  if (!isint) lopt_bad(L, o, key, "an integer");
  lua_pop(L, 1);
  return v;
}

static inline int lopt_bool(lua_State *L, int o, const char *key, int def)
{
  int v;
  if (!lopt_get(L, o, key)) return def;
  if (lua_type(L, -1) != LUA_TBOOLEAN) lopt_bad(L, o, key, "a boolean");
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The generator of a call: stream `stream` of opts.seed in *own when the
 * option is given, else cajal's default generator (cj.seed). */
static inline cj_rng *lopt_rng(lua_State *L, int o, uint64_t stream, cj_rng *own)
{
  lua_Integer s = lopt_integer(L, o, "seed", -1);
  if (!lopt_get(L, o, "seed")) return cj_default_rng();
  lua_pop(L, 1);
  if (s < 0) lopt_bad(L, o, "seed", "a non-negative integer");
  cj_rng_init(own, (uint64_t)s, stream);
  return own;
}

/* Argument i as a dimensionless array of ndim dimensions (any of the
 * listed counts: ndim1 or ndim2; 0 = unused), contiguous float64: the
 * array itself when it is one, else a converted copy pushed on the stack.
 * Tables of numbers are accepted too (converted by cj_optarray). */
static inline larray *lopt_f64(lua_State *L, int i, int ndim1, int ndim2, const char *what)
{
  larray *a = cj_optarray(L, i), *c;
  int nd = a->a.ndim;
  if (!cj_dim_isless(a->dim)) {
    lua_pushfstring(L, "%s: dimensionless values expected", what);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  if (nd != ndim1 && nd != ndim2) {
    if (ndim2) lua_pushfstring(L, "%s: %d-D or %d-D array expected, got %d-D", what, ndim1, ndim2, nd);
    else lua_pushfstring(L, "%s: %d-D array expected, got %d-D", what, ndim1, nd);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  for (int k = 0; k < nd; k++)
    if (a->a.shape[k] < 1) {
      lua_pushfstring(L, "%s: empty array (dimension %d has size 0)", what, k + 1);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
  if (a->a.dtype == CJ_F64 && cj_array_iscontig(&a->a)) return a;
  c = cj_newarray(L, CJ_F64, nd, a->a.shape);
  if (cj_array_copy(&c->a, &a->a)) luaL_error(L, "%s", cj_errmsg());
  return c;
}

/* Every element of a finite (else an error about argument i). */
static inline void lopt_finite(lua_State *L, int i, const larray *a, const char *what)
{
  const double *x = a->a.data;
  for (int64_t k = 0, n = cj_array_numel(&a->a); k < n; k++)
    if (!isfinite(x[k])) {
      lua_pushfstring(L, "%s: element %I is not finite", what, (lua_Integer)k + 1);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
}

#endif
