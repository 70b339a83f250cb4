/*
 * larray.c — the Lua face of cj_array: the "cajal.array" userdata,
 * constructors (cj.array, cj.zeros, ...), 1-based indexing and slicing,
 * arithmetic metamethods, math, reductions and linear algebra.
 *
 * An owning array keeps its elements in the same userdata, after the larray
 * header, aligned to 64 bytes; a view holds the owner of its memory in user
 * value 1 (never another view: views of views point at the owner), so the
 * collector sees all memory and no __gc is needed. Every loop over
 * elements runs in vm/core; this file only checks arguments, allocates the
 * result and converts 1-based indices.
 */
#include "lcajal.h"

#include <math.h>
#include <string.h>

#define ALIGN 64

larray *cj_testarray(lua_State *L, int i)
{
  return (larray *)luaL_testudata(L, i, CJ_ARRAY);
}

larray *cj_checkarray(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  if (!a) luaL_typeerror(L, i, "array");
  return a;
}

#define checkarray(L, i) cj_checkarray(L, i)

/* Raise the pending libcajal error as a Lua error for argument arg (arg 0:
 * a plain error). */
static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

/* Push a new array; its elements are zeroed when zero is set. */
static larray *newarray(lua_State *L, cj_dtype t, int ndim, const int64_t *shape, int zero)
{
  int64_t n;
  size_t es = cj_dtype_size(t), nbytes;
  larray *la;
  char *p;
  if (cj_shape_numel(ndim, shape, &n)) corefail(L, 0);
  if ((uint64_t)n > (SIZE_MAX - sizeof(larray) - ALIGN) / es)
    luaL_error(L, "array too large (%lld elements)", (long long)n);
  nbytes = (size_t)n * es;
  la = (larray *)lua_newuserdatauv(L, sizeof(larray) + ALIGN + nbytes, 1);
  p = (char *)(la + 1);
  p += (ALIGN - (uintptr_t)p % ALIGN) % ALIGN;
  if (zero) memset(p, 0, nbytes);
  cj_array_wrap(&la->a, p, t, ndim, shape);
  memset(&la->dim, 0, sizeof la->dim);         /* dimensionless */
  luaL_setmetatable(L, CJ_ARRAY);
  return la;
}

larray *cj_newarray(lua_State *L, cj_dtype t, int ndim, const int64_t *shape)
{
  return newarray(L, t, ndim, shape, 1);
}

larray *cj_pushview(lua_State *L, int base, const cj_array *view, cj_dim dim)
{
  larray *la;
  base = lua_absindex(L, base);
  la = (larray *)lua_newuserdatauv(L, sizeof(larray), 1);   /* stack: view */
  la->a = *view;
  la->dim = dim;
  luaL_setmetatable(L, CJ_ARRAY);
  if (!cj_testarray(L, base) || lua_getiuservalue(L, base, 1) == LUA_TNIL) {
    if (cj_testarray(L, base)) lua_pop(L, 1);
    lua_pushvalue(L, base);                    /* the base owns the memory */
  }                                            /* else: the base's owner */
  lua_setiuservalue(L, -2, 1);
  return la;
}

/* A view of la (at stack index base) described by v, same dimension. */
static larray *pushview(lua_State *L, int base, const cj_array *v)
{
  return cj_pushview(L, base, v, ((larray *)lua_touserdata(L, base))->dim);
}

/* ---- arguments --------------------------------------------------------- */

static cj_dtype optdtype(lua_State *L, int i, cj_dtype def)
{
  cj_dtype t;
  if (lua_isnoneornil(L, i)) return def;
  if (cj_dtype_parse(luaL_checkstring(L, i), &t)) corefail(L, i);
  return t;
}

static int64_t checksize(lua_State *L, int arg, int isint, lua_Integer v)
{
  if (!isint || v < 0) luaL_argerror(L, arg, "size must be a non-negative integer");
  return (int64_t)v;
}

/* Shape from arguments first..last: one table of sizes, or sizes. */
static int getshape(lua_State *L, int first, int last, int64_t *shape)
{
  int n = 0, isint;
  if (last >= first && lua_istable(L, first)) {
    if (last > first) luaL_argerror(L, first + 1, "nothing expected after a shape table");
    n = (int)lua_rawlen(L, first);
    if (n > CJ_MAXDIM) luaL_argerror(L, first, "too many dimensions");
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, first, i + 1);
      shape[i] = checksize(L, first, 1, lua_tointegerx(L, -1, &isint));
      if (!isint) luaL_argerror(L, first, "size must be a non-negative integer");
      lua_pop(L, 1);
    }
    return n;
  }
  if (last - first + 1 > CJ_MAXDIM) luaL_argerror(L, first, "too many dimensions");
  for (int i = first; i <= last; i++) {
    lua_Integer v = lua_tointegerx(L, i, &isint);
    shape[n++] = checksize(L, i, isint, v);
  }
  return n;
}

/* Index of the last argument that is part of a shape (a trailing string is a dtype). */
static int shapeend(lua_State *L, int first)
{
  int top = lua_gettop(L);
  return (top >= first && lua_type(L, top) == LUA_TSTRING) ? top - 1 : top;
}

/* ---- arrays from nested tables ------------------------------------------- */

/* Shape of a nested table: follows the first elements down. */
static int tableshape(lua_State *L, int t, int64_t *shape)
{
  int n = 0;
  lua_pushvalue(L, t);
  while (lua_istable(L, -1)) {
    if (n == CJ_MAXDIM) luaL_argerror(L, t, "nested table has too many dimensions");
    shape[n++] = (int64_t)lua_rawlen(L, -1);
    if (shape[n - 1] == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return n;
}

typedef struct { lua_State *L; int arg; larray *out; int64_t k; char where[96]; } filler;

static void fillerror(filler *f, const char *what, int64_t got, int64_t want)
{
  char msg[200];
  if (got < 0) snprintf(msg, sizeof msg, "%s expected at %s", what, f->where);
  else snprintf(msg, sizeof msg, "ragged nested table: %s has length %lld, expected %lld",
                f->where[0] ? f->where : "the table", (long long)got, (long long)want);
  luaL_argerror(f->L, f->arg, msg);
}

/* Copy the table on top of the stack (depth d of the shape) into f->out. */
static void filltable(filler *f, int d)
{
  lua_State *L = f->L;
  const cj_array *a = &f->out->a;
  size_t wl = strlen(f->where);
  if ((int64_t)lua_rawlen(L, -1) != a->shape[d])
    fillerror(f, "", (int64_t)lua_rawlen(L, -1), a->shape[d]);
  for (int64_t i = 1; i <= a->shape[d]; i++) {
    snprintf(f->where + wl, sizeof f->where - wl, "[%lld]", (long long)i);
    lua_rawgeti(L, -1, (lua_Integer)i);
    if (d < a->ndim - 1) {
      if (!lua_istable(L, -1)) fillerror(f, "table", -1, 0);
      filltable(f, d + 1);
    } else {
      int isnum;
      lua_Number v = lua_tonumberx(L, -1, &isnum);
      if (!isnum || lua_type(L, -1) == LUA_TSTRING)
        fillerror(f, "number", -1, 0);
      cj_array_setflat(&f->out->a, f->k++, v);
    }
    lua_pop(L, 1);
  }
  f->where[wl] = '\0';
}

/* Push a new array of dtype t made from the nested table at index arg. */
static larray *fromtable(lua_State *L, int arg, cj_dtype t)
{
  int64_t shape[CJ_MAXDIM];
  int n;
  filler f;
  arg = lua_absindex(L, arg);
  n = tableshape(L, arg, shape);
  f.L = L; f.arg = arg; f.k = 0; f.where[0] = '\0';
  f.out = cj_newarray(L, t, n, shape);
  lua_pushvalue(L, arg);
  filltable(&f, 0);
  lua_pop(L, 1);
  return f.out;
}

larray *cj_optarray(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  if (a) return a;
  if (lua_type(L, i) == LUA_TNUMBER) {
    a = cj_newarray(L, CJ_F64, 0, NULL);
    *(double *)a->a.data = lua_tonumber(L, i);
    return a;
  }
  if (lua_istable(L, i)) return fromtable(L, i, CJ_F64);
  luaL_typeerror(L, i, "array, number or table");
  return NULL;
}

/* ---- constructors ------------------------------------------------------ */

static int arr_array(lua_State *L)
{
  cj_dtype t = optdtype(L, 2, CJ_F64);
  larray *src = cj_testarray(L, 1);
  if (src) {
    larray *r = newarray(L, t, src->a.ndim, src->a.shape, 0);
    if (cj_array_copy(&r->a, &src->a)) corefail(L, 0);
    r->dim = src->dim;
  } else if (lua_type(L, 1) == LUA_TNUMBER) {
    larray *r = cj_newarray(L, t, 0, NULL);
    cj_array_setflat(&r->a, 0, lua_tonumber(L, 1));
  } else {
    luaL_argexpected(L, lua_istable(L, 1), 1, "table");
    fromtable(L, 1, t);
  }
  return 1;
}

/* cj.zeros / cj.ones: shape..., [dtype] */
static int filled(lua_State *L, double v)
{
  int64_t shape[CJ_MAXDIM];
  int last = shapeend(L, 1);
  int n = getshape(L, 1, last, shape);
  cj_dtype t = optdtype(L, last + 1, CJ_F64);
  larray *r = cj_newarray(L, t, n, shape);
  if (v != 0) cj_array_fill(&r->a, v);
  return 1;
}

static int arr_zeros(lua_State *L) { return filled(L, 0); }
static int arr_ones(lua_State *L) { return filled(L, 1); }

/* cj.full(shape, value [, dtype]) */
static int arr_full(lua_State *L)
{
  int64_t shape[CJ_MAXDIM];
  int n = getshape(L, 1, 1, shape);
  lua_Number v = luaL_checknumber(L, 2);
  cj_dtype t = optdtype(L, 3, CJ_F64);
  larray *r = cj_newarray(L, t, n, shape);
  cj_array_fill(&r->a, v);
  return 1;
}

/* ---- metamethods and fields ----------------------------------------------- */

/* Push element at p of la as a Lua value (integer for integer dtypes). */
static void pushelem(lua_State *L, const larray *la, const int64_t *idx)
{
  double v = cj_array_get(&la->a, idx);
  if (cj_dtype_isint(la->a.dtype)) lua_pushinteger(L, (lua_Integer)v);
  else lua_pushnumber(L, v);
}

static void pushshape(lua_State *L, const cj_array *a)
{
  lua_createtable(L, a->ndim, 0);
  for (int i = 0; i < a->ndim; i++) {
    lua_pushinteger(L, (lua_Integer)a->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* 1-based (negative: from the end) index i into a dimension of size n -> 0-based. */
static int64_t checkindex(lua_State *L, int arg, lua_Integer i, int64_t n)
{
  int64_t k = i < 0 ? n + i : i - 1;
  if (k < 0 || k >= n) {
    lua_pushfstring(L, "index %I out of range 1..%I", i, (lua_Integer)n);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return k;
}

/* __index(a, key); upvalue 1: the methods table */
static int m_index(lua_State *L)
{
  larray *la = checkarray(L, 1);
  int isint;
  lua_Integer i = lua_tointegerx(L, 2, &isint);
  if (isint && lua_type(L, 2) == LUA_TNUMBER) {
    int64_t idx[CJ_MAXDIM] = { 0 };
    cj_array v;
    if (la->a.ndim == 0) luaL_argerror(L, 2, "cannot index a 0-d array");
    idx[0] = checkindex(L, 2, i, la->a.shape[0]);
    if (la->a.ndim == 1) { pushelem(L, la, idx); return 1; }
    cj_array_select(&v, &la->a, 0, idx[0]);
    pushview(L, 1, &v);
    return 1;
  }
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL) return 1;
    if (strcmp(k, "shape") == 0) pushshape(L, &la->a);
    else if (strcmp(k, "ndim") == 0) lua_pushinteger(L, la->a.ndim);
    else if (strcmp(k, "dtype") == 0) lua_pushstring(L, cj_dtype_name(la->a.dtype));
    else lua_pushnil(L);
    return 1;
  }
  return luaL_typeerror(L, 2, "integer index");
}

static int m_len(lua_State *L)
{
  larray *la = checkarray(L, 1);
  if (la->a.ndim == 0) luaL_argerror(L, 1, "a 0-d array has no length");
  lua_pushinteger(L, (lua_Integer)la->a.shape[0]);
  return 1;
}

/* ---- tostring: numpy-like, summarised when large ------------------------------- */

#define SUMMARY 1000   /* more elements than this: show EDGE items per dimension */
#define EDGE 3

typedef struct {
  const cj_array *a;
  int summarise, width;
  luaL_Buffer *b;                /* NULL while measuring */
} printer;

static int fmtnum(char *s, size_t n, cj_dtype t, double v)
{
  if (cj_dtype_isint(t)) return snprintf(s, n, "%lld", (long long)v);
  if (isnan(v)) return snprintf(s, n, "nan");
  if (isinf(v)) return snprintf(s, n, v > 0 ? "inf" : "-inf");
  int w = snprintf(s, n, "%.*g", t == CJ_F32 ? 6 : 8, v);
  if (w > 0 && (size_t)w + 1 < n && !strpbrk(s, ".e")) { s[w++] = '.'; s[w] = '\0'; }
  return w;
}

static void printelem(printer *p, const int64_t *idx)
{
  char s[48];
  int w = fmtnum(s, sizeof s, p->a->dtype, cj_array_get(p->a, idx));
  if (!p->b) { if (w > p->width) p->width = w; return; }
  for (int i = w; i < p->width; i++) luaL_addchar(p->b, ' ');
  luaL_addlstring(p->b, s, (size_t)w);
}

static void addstr(printer *p, const char *s)
{
  if (p->b) luaL_addstring(p->b, s);
}

static void printdim(printer *p, int d, int64_t *idx)
{
  int64_t n = p->a->shape[d];
  int last = d == p->a->ndim - 1;
  addstr(p, "[");
  for (int64_t i = 0; i < n; i++) {
    if (p->summarise && n > 2 * EDGE && i == EDGE) {
      i = n - EDGE;
      addstr(p, last ? "... " : "...");
      if (!last) for (int k = d; k < p->a->ndim - 1; k++) addstr(p, "\n");
      if (!last) for (int k = 0; k <= d; k++) addstr(p, " ");
    }
    idx[d] = i;
    if (last) printelem(p, idx);
    else printdim(p, d + 1, idx);
    if (i < n - 1) {
      addstr(p, last ? " " : "");
      if (!last) {
        for (int k = d; k < p->a->ndim - 1; k++) addstr(p, "\n");
        for (int k = 0; k <= d; k++) addstr(p, " ");
      }
    }
  }
  addstr(p, "]");
}

static int m_tostring(lua_State *L)
{
  larray *la = checkarray(L, 1);
  luaL_Buffer b;
  int64_t idx[CJ_MAXDIM] = { 0 };
  printer p = { &la->a, cj_array_numel(&la->a) > SUMMARY, 0, NULL };
  luaL_buffinit(L, &b);
  if (la->a.ndim == 0) {
    printelem(&p, idx);
    p.b = &b;
    printelem(&p, idx);
  } else {
    printdim(&p, 0, idx);                      /* measure the widest element */
    p.b = &b;
    printdim(&p, 0, idx);
  }
  if (la->a.dtype != CJ_F64) {
    luaL_addstring(&b, " (");
    luaL_addstring(&b, cj_dtype_name(la->a.dtype));
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- simple methods ---------------------------------------------------------- */

static int m_numel(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cj_array_numel(&checkarray(L, 1)->a));
  return 1;
}

static int m_copy(lua_State *L)
{
  larray *la = checkarray(L, 1);
  larray *r = newarray(L, la->a.dtype, la->a.ndim, la->a.shape, 0);
  if (cj_array_copy(&r->a, &la->a)) corefail(L, 0);
  r->dim = la->dim;
  return 1;
}

static int m_fill(lua_State *L)
{
  larray *la = checkarray(L, 1);
  cj_array_fill(&la->a, luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

static const luaL_Reg methods[] = {
  { "numel", m_numel },
  { "copy", m_copy },
  { "fill", m_fill },
  { NULL, NULL }
};

static const luaL_Reg metamethods[] = {
  { "__len", m_len },
  { "__tostring", m_tostring },
  { NULL, NULL }
};

static const luaL_Reg functions[] = {
  { "array", arr_array },
  { "zeros", arr_zeros },
  { "ones", arr_ones },
  { "full", arr_full },
  { NULL, NULL }
};

static const cj_doc docs[] = {
  { "array", "cj.array(t [, dtype]) -> array\n"
    "A new array from a (nested) table of numbers, a number or another array.\n"
    "dtype: \"float64\" (default), \"float32\", \"int32\" or \"uint8\"." },
  { "zeros", "cj.zeros(shape... [, dtype]) -> array\n"
    "A new array of zeros; shape as sizes (cj.zeros(3, 4)) or a table ({3, 4})." },
  { "ones", "cj.ones(shape... [, dtype]) -> array\nA new array of ones." },
  { "full", "cj.full(shape, value [, dtype]) -> array\n"
    "A new array with every element set to value; shape a size or a table." },
  { NULL, NULL }
};

static const cj_doc methoddocs[] = {
  { "numel", "a:numel() -> integer\nThe number of elements." },
  { "copy", "a:copy() -> array\nA new contiguous array with the same elements, dtype and unit." },
  { "fill", "a:fill(v) -> a\nSets every element (of a view too) to v." },
  { NULL, NULL }
};

void cj_open_array(lua_State *L)
{
  luaL_newmetatable(L, CJ_ARRAY);              /* stack: module, mt */
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);                     /* stack: module, mt, methods */
  cj_setdocs(L, -1, methoddocs);
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
  cj_setdocs(L, -1, docs);
}
