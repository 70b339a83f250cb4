/*
 * larrsort.c — cj.sort, cj.argsort, cj.searchsorted, cj.unique: the Lua
 * face of vm/core/arrsort.c. Positions come back 1-based (the core's
 * 0-based positions plus one); values keep their unit.
 */
#include "lanalysis.h"

#include <string.h>

#include "arrsort.h"

static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

/* Optional 1-based axis at arg (negative from the end; nil: the last). */
static int optaxis(lua_State *L, int arg, int ndim)
{
  int isint;
  lua_Integer i;
  if (lua_isnoneornil(L, arg)) return ndim > 0 ? ndim - 1 : 0;
  i = lua_tointegerx(L, arg, &isint);
  if (!isint) luaL_typeerror(L, arg, "integer axis");
  if (i < 0) i += ndim + 1;
  if (i < 1 || i > ndim) {
    lua_pushfstring(L, "axis %d out of range 1..%d", (int)lua_tointeger(L, arg), ndim);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return (int)i - 1;
}

/* Add one to every element of an integer array (0-based -> 1-based). */
static void plusone(lua_State *L, larray *r)
{
  int32_t one = 1;
  cj_array c;
  cj_array_wrap(&c, &one, CJ_I32, 0, NULL);
  if (cj_array_binop(CJ_ADD, &r->a, &r->a, &c)) corefail(L, 0);
}

/* cj.sort(a [, axis]) -> array */
static int l_sort(lua_State *L)
{
  larray *a = cj_toarray(L, 1), *r;
  int axis = optaxis(L, 2, a->a.ndim);
  r = cj_newarray(L, a->a.dtype, a->a.ndim, a->a.shape);
  r->dim = a->dim;
  if (cj_array_sort(&r->a, &a->a, axis)) corefail(L, 1);
  return 1;
}

/* cj.argsort(a [, axis]) -> int32 array of 1-based positions */
static int l_argsort(lua_State *L)
{
  larray *a = cj_toarray(L, 1), *r;
  int axis = optaxis(L, 2, a->a.ndim);
  if (a->a.ndim > 0 && a->a.shape[axis] > INT32_MAX) luaL_argerror(L, 1, "too many elements along the axis");
  r = cj_newarray(L, CJ_I32, a->a.ndim, a->a.shape);
  if (cj_array_argsort(&r->a, &a->a, axis)) corefail(L, 1);
  plusone(L, r);
  return 1;
}

/* cj.searchsorted(a, v [, side]) -> positions (1-based, 1..n+1) */
static int l_searchsorted(lua_State *L)
{
  static const char *const sides[] = { "left", "right", NULL };
  int scalar = !cj_testarray(L, 2) && !lua_istable(L, 2);
  larray *a = cj_toarray(L, 1), *v, *r;
  int right;
  v = cj_toarray(L, 2);
  right = luaL_checkoption(L, 3, "left", sides);
  luaL_argexpected(L, a->a.ndim == 1, 1, "1-D sorted array");
  if (a->a.shape[0] >= INT32_MAX) luaL_argerror(L, 1, "array too long");
  if (!cj_dim_eq(a->dim, v->dim)) luaL_argerror(L, 2, "values must have the unit of the sorted array");
  r = cj_newarray(L, CJ_I32, v->a.ndim, v->a.shape);
  if (cj_array_searchsorted(&r->a, &a->a, &v->a, right)) corefail(L, 1);
  plusone(L, r);
  if (scalar && v->a.ndim == 0) lua_pushinteger(L, (lua_Integer)cj_array_getflat(&r->a, 0));
  return 1;
}

/* cj.unique(a) -> values, counts, inverse */
static int l_unique(lua_State *L)
{
  larray *a = cj_toarray(L, 1), *vals, *cnts, *inv;
  int64_t n = cj_array_numel(&a->a), u;
  double *v;
  int64_t *c, *iv;
  if (n >= INT32_MAX) luaL_argerror(L, 1, "array too large");
  v = lua_newuserdatauv(L, sizeof(double) * (size_t)(n + 1), 0);          /* scratch, collected */
  c = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(2 * n + 1), 0);
  iv = c + n;
  if (cj_array_unique(&a->a, v, c, iv, &u)) corefail(L, 1);
  vals = cj_newarray(L, a->a.dtype, 1, &u);
  vals->dim = a->dim;
  cnts = cj_newarray(L, CJ_I32, 1, &u);
  inv = cj_newarray(L, CJ_I32, a->a.ndim, a->a.shape);
  for (int64_t k = 0; k < u; k++) {
    cj_array_setflat(&vals->a, k, v[k]);
    ((int32_t *)cnts->a.data)[k] = (int32_t)c[k];
  }
  for (int64_t k = 0; k < n; k++) ((int32_t *)inv->a.data)[k] = (int32_t)iv[k] + 1;
  return 3;
}

static const luaL_Reg funcs[] = {
  { "sort", l_sort }, { "argsort", l_argsort }, { "searchsorted", l_searchsorted },
  { "unique", l_unique }, { NULL, NULL }
};

static const cj_doc docs[] = {
  { "sort", "cj.sort(a [, axis]) -> array\n"
    "A sorted copy of a along the 1-based axis (default the last; negative counts from the end),\n"
    "ascending, NaN last, stable; dtype and unit kept. numpy.sort(a, axis)." },
  { "argsort", "cj.argsort(a [, axis]) -> int32 array\n"
    "For each line along axis (default the last), the 1-based positions that sort it: a[p[1]] is\n"
    "the smallest. Stable (equal values keep their order, numpy's kind='stable'); NaN last." },
  { "searchsorted", "cj.searchsorted(a, v [, side]) -> integer or int32 array\n"
    "Where each value of v would go in the ascending 1-D array a to keep it sorted, 1-based\n"
    "(1 .. #a + 1): side \"left\" (default) gives the first i with a[i] >= v, \"right\" the first\n"
    "with a[i] > v. numpy's searchsorted plus one. v a number (an integer comes back) or array\n"
    "(same shape back); units must match." },
  { "unique", "cj.unique(a) -> values, counts, inverse\n"
    "The distinct values of a (all elements), ascending with NaNs made one value at the end\n"
    "(a's dtype and unit); how often each occurs (int32); and for every element of a (a's shape)\n"
    "the 1-based position of its value in values, so values[inverse[k]] == a[k]." },
  { NULL, NULL }
};

void cj_open_arrsort(lua_State *L)
{
  luaL_setfuncs(L, funcs, 0);
  cj_setdocs(L, -1, docs);
}
