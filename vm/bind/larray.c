/*
 * larray.c — the Lua face of cj_array: the "cajal.array" userdata,
 * constructors (cj.array, cj.zeros, cj.range, ...), 1-based indexing and
 * slicing, arithmetic metamethods, math, reductions and linear algebra.
 *
 * An owning array keeps its elements in the same userdata, after the larray
 * header, aligned to 64 bytes; a view holds the owner of its memory in user
 * value 1 (never another view: views of views point at the owner), so the
 * collector sees all memory and no __gc is needed. Every loop over
 * elements runs in vm/core; this file checks arguments, allocates results,
 * converts 1-based indices and keeps track of physical dimensions (an
 * array's elements are in SI units; larray.dim says which).
 *
 * Lua numbers meeting an array adopt its dtype where they fit: a float64 or
 * float32 array keeps its dtype; an integer array keeps its dtype with a Lua
 * integer that fits in it (else int32, else float64) and becomes float64
 * with a Lua float. Arrays of two dtypes promote as cj_dtype_promote says.
 */
#include "lcajal.h"

#include <math.h>
#include <stdio.h>
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

/* Raise msg prefixed with the name of the running C function ("permutation:
 * array too large"): for failures no single argument is to blame for. */
static int fnerror(lua_State *L, const char *msg)
{
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
    return luaL_error(L, "%s: %s", ar.name, msg);
  return luaL_error(L, "%s", msg);
}

/* Push a new array; its elements are zeroed when zero is set. */
static larray *newarray(lua_State *L, cj_dtype t, int ndim, const int64_t *shape, int zero)
{
  int64_t n;
  size_t es = cj_dtype_size(t), nbytes;
  larray *la;
  char *p;
  if (cj_shape_numel(ndim, shape, &n)) fnerror(L, cj_errmsg());
  if ((uint64_t)n > (SIZE_MAX - sizeof(larray) - ALIGN) / es) {
    lua_pushfstring(L, "array too large (%I elements)", (lua_Integer)n);
    fnerror(L, lua_tostring(L, -1));
  }
  nbytes = (size_t)n * es;
  la = (larray *)lua_newuserdatauv(L, sizeof(larray) + ALIGN + nbytes, 1);
  p = (char *)(la + 1);
  p += (ALIGN - (uintptr_t)p % ALIGN) % ALIGN;
  cj_array_advise(p, nbytes);
  if (zero) memset(p, 0, nbytes);
  cj_array_wrap(&la->a, p, t, ndim, shape);
  la->dim = cj_dimless;
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
  int isarray;
  base = lua_absindex(L, base);
  isarray = cj_testarray(L, base) != NULL;
  la = (larray *)lua_newuserdatauv(L, sizeof(larray), 1);   /* stack: view */
  la->a = *view;
  la->dim = dim;
  luaL_setmetatable(L, CJ_ARRAY);
  if (!isarray || lua_getiuservalue(L, base, 1) == LUA_TNIL) {   /* stack: view, [nil] */
    if (isarray) lua_pop(L, 1);
    lua_pushvalue(L, base);                    /* the base owns the memory */
  }                                            /* else: the base's owner */
  lua_setiuservalue(L, -2, 1);
  return la;
}

/* A view of the array at stack index base described by v, same dimension. */
static larray *pushview(lua_State *L, int base, const cj_array *v)
{
  return cj_pushview(L, base, v, ((larray *)lua_touserdata(L, base))->dim);
}

/* ---- dimensions ----------------------------------------------------------------- */

static const char *dimname(cj_dim d, char *buf, size_t n)
{
  if (cj_dim_isless(d)) { snprintf(buf, n, "dimensionless"); return buf; }
  return cj_dim_format(d, buf, n);
}

/* Raise "cannot <verb> A and B" about argument arg. */
static void uniterror(lua_State *L, int arg, const char *verb, cj_dim a, cj_dim b)
{
  char b1[96], b2[96];
  lua_pushfstring(L, "cannot %s %s and %s", verb, dimname(a, b1, sizeof b1), dimname(b, b2, sizeof b2));
  luaL_argerror(L, arg, lua_tostring(L, -1));
}

/* A value of dimension got (argument arg) may go where dimension want is:
 * else raise. */
static void checkassign(lua_State *L, int arg, cj_dim want, cj_dim got)
{
  char b1[96], b2[96];
  if (!cj_dim_eq(want, got)) {
    lua_pushfstring(L, "cannot assign %s to an array of %s", dimname(got, b1, sizeof b1),
                    dimname(want, b2, sizeof b2));
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
}

/* The rational num/den (den <= 12) equal to x, or 0. */
static int rational(double x, int *num, int *den)
{
  for (int q = 1; q <= 12; q++) {
    double p = x * q;
    if (fabs(p) <= 1e4 && p == nearbyint(p)) {
      *num = (int)p;
      *den = q;
      return 1;
    }
  }
  return 0;
}

/* d^x, raising (about argument arg) when that is not a dimension. */
static cj_dim dimpow(lua_State *L, int arg, cj_dim d, double x)
{
  int num = 0, den = 1;
  cj_dim r;
  char buf[96];
  if (cj_dim_isless(d)) return d;
  if (!rational(x, &num, &den)) {
    lua_pushfstring(L, "cannot raise %s to the power %f", dimname(d, buf, sizeof buf), x);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  if (cj_dim_pow(d, num, den, &r)) corefail(L, arg);
  return r;
}

/* ---- arguments --------------------------------------------------------------------- */

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

/* Shape from arguments first..last: one table of sizes, or sizes. With
 * infer set, one size may be -1 (returned in *hole, else *hole = -1). */
static int getshape2(lua_State *L, int first, int last, int64_t *shape, int *hole)
{
  int n = 0, isint, table = last >= first && lua_istable(L, first);
  if (hole) *hole = -1;
  if (table && last > first) luaL_argerror(L, first + 1, "nothing expected after a shape table");
  n = table ? (int)lua_rawlen(L, first) : last - first + 1;
  if (n > CJ_MAXDIM) luaL_argerror(L, first, "too many dimensions");
  for (int i = 0; i < n; i++) {
    int arg = table ? first : first + i;
    lua_Integer v;
    if (table) lua_rawgeti(L, first, i + 1);
    else lua_pushvalue(L, first + i);
    v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (hole && isint && v == -1 && *hole < 0) { *hole = i; shape[i] = 1; continue; }
    shape[i] = checksize(L, arg, isint, v);
  }
  {
    int64_t numel;
    if (cj_shape_numel(n, shape, &numel)) luaL_argerror(L, first, cj_errmsg());
  }
  return n;
}

static int getshape(lua_State *L, int first, int last, int64_t *shape)
{
  return getshape2(L, first, last, shape, NULL);
}

/* Index of the last argument that is part of a shape (a trailing string is a dtype). */
static int shapeend(lua_State *L, int first)
{
  int top = lua_gettop(L);
  return (top >= first && lua_type(L, top) == LUA_TSTRING) ? top - 1 : top;
}

/* 1-based (negative: from the end) index i into a dimension of size n ->
 * 0-based; dim > 0 names the dimension in the message. */
static int64_t checkindex(lua_State *L, int arg, lua_Integer i, int64_t n, int dim)
{
  int64_t k = i < 0 ? n + i : i - 1;
  if (k < 0 || k >= n) {
    if (dim > 0)
      lua_pushfstring(L, "index %I out of range 1..%I in dimension %d", i, (lua_Integer)n, dim);
    else
      lua_pushfstring(L, "index %I out of range 1..%I", i, (lua_Integer)n);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return k;
}

/* Axis argument (1-based, negative from the end) -> 0-based. */
static int checkaxis(lua_State *L, int arg, int ndim)
{
  int isint;
  lua_Integer i = lua_tointegerx(L, arg, &isint);
  int64_t k;
  if (!isint) luaL_typeerror(L, arg, "integer axis");
  k = i < 0 ? ndim + i : i - 1;
  if (k < 0 || k >= ndim) {
    lua_pushfstring(L, "axis %I out of range 1..%d", i, ndim);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return (int)k;
}

/* ---- arrays from nested tables ---------------------------------------------------- */

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

typedef struct {
  lua_State *L;
  int arg, havedim;
  larray *out;
  int64_t k;
  char where[96];
} filler;

static void fillerror(filler *f, const char *what, int64_t got, int64_t want)
{
  char msg[200];
  if (got < 0) snprintf(msg, sizeof msg, "%s at %s", what, f->where);
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
      if (!lua_istable(L, -1)) fillerror(f, "table expected", -1, 0);
      filltable(f, d + 1);
    } else {
      double v;
      cj_dim dim;
      if (!cj_toquantity(L, -1, &v, &dim)) fillerror(f, "number expected", -1, 0);
      if (!f->havedim) { f->out->dim = dim; f->havedim = 1; }
      else if (!cj_dim_eq(dim, f->out->dim)) fillerror(f, "mixed dimensions", -1, 0);
      cj_array_setflat(&f->out->a, f->k++, v);
    }
    lua_pop(L, 1);
  }
  f->where[wl] = '\0';
}

/* Push a new array of dtype t made from the nested table at index arg;
 * its elements may be numbers or quantities of one dimension. */
static larray *fromtable(lua_State *L, int arg, cj_dtype t)
{
  int64_t shape[CJ_MAXDIM];
  int n;
  filler f;
  arg = lua_absindex(L, arg);
  n = tableshape(L, arg, shape);
  f.L = L; f.arg = arg; f.k = 0; f.where[0] = '\0'; f.havedim = 0;
  f.out = cj_newarray(L, t, n, shape);
  lua_pushvalue(L, arg);
  filltable(&f, 0);
  lua_pop(L, 1);
  return f.out;
}

larray *cj_optarray(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  double v;
  cj_dim d;
  if (a) return a;
  if (cj_toquantity(L, i, &v, &d)) {
    a = cj_newarray(L, CJ_F64, 0, NULL);
    *(double *)a->a.data = v;
    a->dim = d;
    return a;
  }
  if (lua_istable(L, i)) return fromtable(L, i, CJ_F64);
  luaL_typeerror(L, i, "array, number or table");
  return NULL;
}

/* Argument i as an array, converting a number, quantity or table in place
 * (the stack slot i then holds the new array). */
static larray *toarray(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  if (a) return a;
  a = cj_optarray(L, i);
  lua_replace(L, i);
  return a;
}

/* ---- results ------------------------------------------------------------------------ */

/* Push one value of dtype t with dimension d: an integer for integer
 * dtypes, else a number or quantity. */
static void pushvalue(lua_State *L, cj_dtype t, double v, cj_dim d)
{
  if (cj_dtype_isint(t) && cj_dim_isless(d)) lua_pushinteger(L, (lua_Integer)v);
  else cj_pushquantity(L, v, d);
}

/* The output of an operation: the array at stack index out if given (its
 * dimension becomes d after the computation), else a new uninitialised
 * array pushed on the stack. */
static larray *result(lua_State *L, int out, cj_dtype t, int ndim, const int64_t *shape)
{
  if (out && !lua_isnoneornil(L, out)) {
    larray *o = checkarray(L, out);
    lua_pushvalue(L, out);
    return o;
  }
  return newarray(L, t, ndim, shape, 0);
}

/* A 0-d result (a matmul of two vectors, say) comes back as a number. */
static void unwrap0d(lua_State *L, larray *r)
{
  if (r->a.ndim == 0) {
    pushvalue(L, r->a.dtype, cj_array_getflat(&r->a, 0), r->dim);
    lua_remove(L, -2);
  }
}

/* ---- constructors ---------------------------------------------------------------------- */

static int arr_array(lua_State *L)
{
  cj_dtype t = optdtype(L, 2, CJ_F64);
  larray *src = cj_testarray(L, 1);
  double v;
  cj_dim d;
  if (src) {
    larray *r = newarray(L, t, src->a.ndim, src->a.shape, 0);
    if (cj_array_copy(&r->a, &src->a)) corefail(L, 0);
    r->dim = src->dim;
  } else if (cj_toquantity(L, 1, &v, &d)) {
    larray *r = cj_newarray(L, t, 0, NULL);
    cj_array_setflat(&r->a, 0, v);
    r->dim = d;
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
  double v;
  cj_dim d;
  int n = getshape(L, 1, 1, shape);
  cj_dtype t = optdtype(L, 3, CJ_F64);
  larray *r;
  if (!cj_toquantity(L, 2, &v, &d)) luaL_typeerror(L, 2, "number or quantity");
  r = cj_newarray(L, t, n, shape);
  cj_array_fill(&r->a, v);
  r->dim = d;
  return 1;
}

/* Numeric arguments first..first+n-1 of one dimension, into v[] and *d. */
static void samedims(lua_State *L, int first, int n, double *v, cj_dim *d)
{
  cj_dim di;
  for (int i = 0; i < n; i++) {
    if (!cj_toquantity(L, first + i, &v[i], &di)) luaL_typeerror(L, first + i, "number or quantity");
    if (i == 0) *d = di;
    else if (!cj_dim_eq(di, *d)) {
      char b1[96], b2[96];
      lua_pushfstring(L, "cannot mix %s and %s", dimname(*d, b1, sizeof b1), dimname(di, b2, sizeof b2));
      luaL_argerror(L, first + i, lua_tostring(L, -1));
    }
  }
}

/* cj.range(a, b [, step] [, dtype]) or cj.range(n [, dtype]): the values of
 * Lua's `for x = a, b, step`, bounds included. */
static int arr_range(lua_State *L)
{
  int last = shapeend(L, 1), nargs = last < 3 ? last : 3;
  double v[3] = { 1, 0, 1 }, span;
  cj_dim d = cj_dimless;
  cj_dtype t = optdtype(L, last + 1, CJ_F64);
  int64_t n;
  larray *r;
  if (last > 3) luaL_argerror(L, 4, "dtype string expected");
  if (nargs == 1) v[1] = luaL_checknumber(L, 1);
  else samedims(L, 1, nargs, v, &d);
  if (v[2] == 0) luaL_argerror(L, 3, "step must not be zero");
  if (!isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2])) luaL_argerror(L, 1, "finite bounds expected");
  span = floor((v[1] - v[0]) / v[2]);
  if (span >= 9e15) luaL_argerror(L, 2, "range too long");
  n = span < 0 ? 0 : (int64_t)span + 1;
  r = newarray(L, t, 1, &n, 0);
  for (int64_t k = 0; k < n; k++) cj_array_setflat(&r->a, k, v[0] + (double)k * v[2]);
  r->dim = d;
  return 1;
}

/* cj.linspace(a, b, n [, dtype]): n values from a to b, both included. */
static int arr_linspace(lua_State *L)
{
  double v[2];
  cj_dim d;
  int isint;
  lua_Integer n;
  cj_dtype t = optdtype(L, 4, CJ_F64);
  int64_t len;
  larray *r;
  samedims(L, 1, 2, v, &d);
  n = lua_tointegerx(L, 3, &isint);
  if (!isint || n < 0) luaL_argerror(L, 3, "count must be a non-negative integer");
  len = (int64_t)n;
  r = newarray(L, t, 1, &len, 0);
  for (int64_t k = 0; k < len; k++) {
    double x = k == 0 ? v[0] : k == len - 1 ? v[1] : v[0] + (v[1] - v[0]) * (double)k / (double)(len - 1);
    cj_array_setflat(&r->a, k, x);
  }
  r->dim = d;
  return 1;
}

/* ---- binary operations ------------------------------------------------------------------ */

/* One operand: an array, or a scalar seen as a 0-d array of a dtype chosen
 * against the other operand (see the head of this file). */
typedef struct {
  larray *arr;                 /* NULL for a scalar */
  cj_array a;
  cj_dim dim;
  double v;
  int isint;
  union { double d; float f; int32_t i; uint8_t u; } s;
} operand;

static void getoperand(lua_State *L, int i, operand *o)
{
  o->arr = cj_testarray(L, i);
  if (!o->arr && lua_istable(L, i)) o->arr = toarray(L, i);
  if (o->arr) {
    o->a = o->arr->a;
    o->dim = o->arr->dim;
    return;
  }
  if (!cj_toquantity(L, i, &o->v, &o->dim)) luaL_typeerror(L, i, "number, quantity or array");
  o->isint = lua_isinteger(L, i);
}

static cj_dtype scalardtype(const operand *o, cj_dtype other)
{
  double v = o->v;
  if (!cj_dtype_isint(other)) return other;
  if (!o->isint) return CJ_F64;
  if (other == CJ_U8 && v >= 0 && v <= 255) return CJ_U8;
  if (v >= -2147483648.0 && v <= 2147483647.0) return CJ_I32;
  return CJ_F64;
}

/* Make scalar operand o a 0-d array (o must not move afterwards). */
static void scalarize(operand *o, cj_dtype other)
{
  cj_dtype t;
  if (o->arr) return;
  t = scalardtype(o, other);
  cj_dtype_store(t, &o->s, o->v);
  cj_array_wrap(&o->a, &o->s, t, 0, NULL);
}

static void pairup(lua_State *L, int i, int j, operand *x, operand *y)
{
  getoperand(L, i, x);
  getoperand(L, j, y);
  if (!x->arr && !y->arr) {
    scalarize(x, CJ_F64);
    scalarize(y, CJ_F64);
  } else {
    scalarize(x, y->arr ? y->a.dtype : CJ_F64);
    scalarize(y, x->a.dtype);
  }
}

#define OPVERB(E, n, v, k) v,
static const char *const verbs[CJ_NBINOPS] = { CJ_BINOPS(OPVERB) };

/* Dimension of x op y; raises on a mismatch. */
static cj_dim binopdim(lua_State *L, cj_binop op, const operand *x, const operand *y)
{
  cj_dim d;
  char buf[96];
  switch (op) {
  case CJ_MUL: case CJ_DIV: case CJ_IDIV:
    if (cj_dim_mulx(x->dim, y->dim, op == CJ_MUL ? 1 : -1, &d)) corefail(L, 2);
    return d;
  case CJ_POW:
    if (!cj_dim_isless(y->dim)) {
      lua_pushfstring(L, "cannot raise to the power of a quantity (%s): the exponent must be "
                      "dimensionless", dimname(y->dim, buf, sizeof buf));
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    if (cj_dim_isless(x->dim)) return x->dim;
    if (y->arr) {
      lua_pushfstring(L, "cannot raise an array of %s to an array of powers (a number expected)",
                      dimname(x->dim, buf, sizeof buf));
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    return dimpow(L, 2, x->dim, y->v);
  default:
    if (!cj_dim_eq(x->dim, y->dim)) uniterror(L, 2, verbs[op], x->dim, y->dim);
    return cj_binop_iscmp(op) ? cj_dimless : x->dim;
  }
}

/* ---- reuse of temporaries --------------------------------------------------------------------
 * In `a * b + c` the product is a new array that, when `+` runs, nothing
 * can reach but the VM register the addition reads. numpy reuses such a
 * temporary as the output of the next operation, knowing it from the
 * reference count; Lua keeps no count, so here it is proved from the
 * instructions the VM ran. A large result of an arithmetic metamethod called
 * from a Lua function is *armed*: a count hook (installed only when the
 * thread has no other hook) counts the VM instructions that follow. If the
 * next arithmetic metamethod receives that array as an operand after
 * exactly the instructions of the operation itself (Lua 5.4: OP_ADD and
 * its OP_MMBIN for a binary operator, OP_UNM alone for unary minus), no
 * instruction ran that could have copied it anywhere: it sits in the one
 * register the operation reads, and is dead after it, unless that register
 * is a named local variable (`local t = a * b` then `t + c`), which
 * lua_getlocal tells. The array then receives the result in place (same
 * dtype and shape, elementwise, so each element is read before it is
 * written) and is re-armed, so `a * b + c + d` makes one array, not three.
 * The hook removes itself at the third instruction. Any instruction in
 * between (loading the other operand from an upvalue, a global or a field:
 * `a * b + G`) forgoes the reuse, since the count cannot tell a load from a
 * store: reuse happens where the operands are local variables or
 * constants. Only Lua 5.4's instruction set is known here: with another Lua
 * nothing is reused. Not covered: code run by debug hooks or finalizers
 * that reads another frame's registers with debug.getlocal (no hook is set
 * while the program has one). */
#define ELIDE_MIN_BYTES (256 * 1024)   /* numpy's threshold: below, the bookkeeping costs more */

typedef struct {
  lua_State *L;                        /* thread of the armed array */
  const void *arr;                     /* the armed array, NULL if none */
  int count;                           /* VM instructions since it was armed */
} elision;

static const char elidekey = 'e';

static elision *elidestate(lua_State *L)
{
  elision *e;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &elidekey) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    e = (elision *)lua_newuserdatauv(L, sizeof *e, 0);
    memset(e, 0, sizeof *e);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &elidekey);
  }
  e = (elision *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e;
}

static void elidehook(lua_State *L, lua_Debug *ar)
{
  elision *e = elidestate(L);
  (void)ar;
  if (e->L != L || ++e->count > 2) {
    if (e->L == L) e->arr = NULL;
    if (lua_gethook(L) == elidehook) lua_sethook(L, NULL, 0, 0);
  }
}

/* 1 when the running C function was called as a metamethod by a Lua function. */
static int frommetamethod(lua_State *L)
{
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "n", &ar) || !ar.namewhat ||
      strcmp(ar.namewhat, "metamethod") != 0)
    return 0;
  return lua_getstack(L, 1, &ar) && lua_getinfo(L, "S", &ar) && ar.what[0] != 'C';
}

/* Arm the array at the top of the stack (a fresh result of a metamethod). */
static void arm(lua_State *L, const larray *r)
{
  elision *e;
  lua_Hook h = lua_gethook(L);
#if LUA_VERSION_NUM == 504
  if ((h && h != elidehook) || r->a.ndim == 0 ||
      (size_t)cj_array_numel(&r->a) * cj_dtype_size(r->a.dtype) < ELIDE_MIN_BYTES || !frommetamethod(L))
    return;
  e = elidestate(L);
  e->L = L;
  e->arr = r;
  e->count = 0;
  lua_sethook(L, elidehook, LUA_MASKCOUNT, 1);
#else
  (void)L; (void)r; (void)h; (void)e;
#endif
}

/* The operand at index i when it is the armed array, dead after this
 * operation (ninstr VM instructions since it was armed, in no named local
 * of the calling function) and of dtype t and the given shape; else NULL.
 * Disarms when the operand is the armed array, reused or not. */
static larray *reusable(lua_State *L, int i, int ninstr, cj_dtype t, int ndim, const int64_t *shape)
{
  elision *e;
  larray *a = cj_testarray(L, i);
  lua_Debug ar;
  int ok;
  cj_array want;
  if (!a || lua_gethook(L) != elidehook) return NULL;
  e = elidestate(L);
  ok = e->L == L && e->arr == a && e->count == ninstr;
  if (!ok) return NULL;
  e->arr = NULL;
  want.ndim = ndim;
  memcpy(want.shape, shape, sizeof(int64_t) * (size_t)ndim);
  if (a->a.dtype != t || !cj_array_sameshape(&a->a, &want) || !cj_array_iscontig(&a->a) || !frommetamethod(L))
    return NULL;
  lua_getstack(L, 1, &ar);
  for (int n = 1;; n++) {                      /* named locals of the caller holding it? */
    const char *name = lua_getlocal(L, &ar, n);
    if (!name) break;
    ok = name[0] == '(' || !lua_rawequal(L, -1, i);
    lua_pop(L, 1);
    if (!ok) return NULL;
  }
  return a;
}

/* x op y for the operands at stack indices 1 and 2, into the array at
 * index out (0: none). Leaves the result on top of the stack. */
static larray *binop(lua_State *L, cj_binop op, int out)
{
  operand x, y;
  int64_t shape[CJ_MAXDIM];
  int ndim;
  cj_dim d;
  cj_dtype t;
  larray *r;
  pairup(L, 1, 2, &x, &y);
  d = binopdim(L, op, &x, &y);
  if (cj_broadcast_shape(x.a.ndim, x.a.shape, y.a.ndim, y.a.shape, &ndim, shape)) corefail(L, 2);
  t = cj_binop_dtype(op, x.a.dtype, y.a.dtype);
  r = NULL;
  if (!out && (r = reusable(L, 1, 2, t, ndim, shape)) == NULL) r = reusable(L, 2, 2, t, ndim, shape);
  if (r) lua_pushvalue(L, r == lua_touserdata(L, 1) ? 1 : 2);   /* the temporary is the result */
  else r = result(L, out, t, ndim, shape);
  if (cj_array_binop(op, &r->a, &x.a, &y.a)) corefail(L, out);
  r->dim = d;
  if (!x.arr && !y.arr) unwrap0d(L, r);
  else if (!out) arm(L, r);
  return r;
}

/* metamethods: the two operands */
static int mm_add(lua_State *L) { binop(L, CJ_ADD, 0); return 1; }
static int mm_sub(lua_State *L) { binop(L, CJ_SUB, 0); return 1; }
static int mm_mul(lua_State *L) { binop(L, CJ_MUL, 0); return 1; }
static int mm_div(lua_State *L) { binop(L, CJ_DIV, 0); return 1; }
static int mm_idiv(lua_State *L) { binop(L, CJ_IDIV, 0); return 1; }
static int mm_mod(lua_State *L) { binop(L, CJ_MOD, 0); return 1; }
static int mm_pow(lua_State *L) { binop(L, CJ_POW, 0); return 1; }

/* functions and methods: (a, b [, out]) */
#define BINFN(NAME, OP) \
  static int NAME(lua_State *L) { lua_settop(L, 3); binop(L, OP, 3); return 1; }
#define MKBINFN(E, n, ...) BINFN(m_##n, CJ_##E)
CJ_BINOPS(MKBINFN)

/* cj.muladd(a, b, c [, out]): a * b + c in one pass */
static int m_muladd(lua_State *L)
{
  operand x[3];
  int64_t s1[CJ_MAXDIM], shape[CJ_MAXDIM];
  int n1, ndim, anyarray = 0;
  cj_dtype t = CJ_F64;
  cj_dim d;
  larray *r;
  lua_settop(L, 4);
  for (int i = 0; i < 3; i++) {
    getoperand(L, i + 1, &x[i]);
    if (x[i].arr) t = anyarray++ ? cj_dtype_promote(t, x[i].a.dtype) : x[i].a.dtype;
  }
  for (int i = 0; i < 3; i++) scalarize(&x[i], t);
  if (cj_dim_mulx(x[0].dim, x[1].dim, 1, &d)) corefail(L, 2);
  if (!cj_dim_eq(d, x[2].dim)) uniterror(L, 3, "add", d, x[2].dim);
  if (cj_broadcast_shape(x[0].a.ndim, x[0].a.shape, x[1].a.ndim, x[1].a.shape, &n1, s1) ||
      cj_broadcast_shape(n1, s1, x[2].a.ndim, x[2].a.shape, &ndim, shape))
    corefail(L, 3);
  t = cj_dtype_promote(cj_dtype_promote(x[0].a.dtype, x[1].a.dtype), x[2].a.dtype);
  r = result(L, 4, t, ndim, shape);
  if (cj_array_muladd(&r->a, &x[0].a, &x[1].a, &x[2].a)) corefail(L, 4);
  r->dim = d;
  if (!anyarray) unwrap0d(L, r);
  return 1;
}

/* ---- unary operations ----------------------------------------------------------------------- */

/* Dimension of op(a): raises when op needs a dimensionless argument. */
static cj_dim unopdim(lua_State *L, cj_unop op, cj_dim d)
{
  char buf[96], msg[160];
  switch (op) {
  case CJ_NEG: case CJ_ABS: case CJ_RELU: case CJ_FLOOR: case CJ_CEIL: return d;
  case CJ_SIGN: return cj_dimless;
  case CJ_SQRT: return dimpow(L, 1, d, 0.5);
  default:
    if (!cj_dim_isless(d)) {
      snprintf(msg, sizeof msg, "dimensionless argument expected, got %s",
               dimname(d, buf, sizeof buf));
      luaL_argerror(L, 1, msg);
    }
    return d;
  }
}

/* op(a) for the operand at index 1, into the array at index out (0: none). */
static int unop(lua_State *L, cj_unop op, int out)
{
  larray *a, *r;
  int scalar = !cj_testarray(L, 1);
  cj_dim d;
  a = toarray(L, 1);
  d = unopdim(L, op, a->dim);
  r = NULL;
  if (op == CJ_NEG && !out && (r = reusable(L, 1, 1, a->a.dtype, a->a.ndim, a->a.shape)) != NULL)
    lua_pushvalue(L, 1);                       /* -(a * b): the temporary is the result */
  else r = result(L, out, cj_unop_dtype(op, a->a.dtype), a->a.ndim, a->a.shape);
  if (cj_array_unop(op, &r->a, &a->a)) corefail(L, out);
  r->dim = d;
  if (scalar) unwrap0d(L, r);
  else if (op == CJ_NEG && !out) arm(L, r);
  return 1;
}

static int mm_unm(lua_State *L) { lua_settop(L, 1); return unop(L, CJ_NEG, 0); }

#define UNFN(NAME, OP) \
  static int NAME(lua_State *L) { lua_settop(L, 2); return unop(L, OP, 2); }
#define MKUNFN(E, n, k) UNFN(m_##n, CJ_##E)
CJ_UNOPS(MKUNFN)

/* a:clip(lo, hi [, out]); nil bounds are open */
static int m_clip(lua_State *L)
{
  larray *a, *r;
  double b[2] = { -HUGE_VAL, HUGE_VAL };
  cj_dim d;
  int scalar = !cj_testarray(L, 1);
  lua_settop(L, 4);
  a = toarray(L, 1);
  for (int i = 0; i < 2; i++) {
    if (lua_isnil(L, 2 + i)) continue;
    if (!cj_toquantity(L, 2 + i, &b[i], &d)) luaL_typeerror(L, 2 + i, "number or quantity");
    if (!cj_dim_eq(d, a->dim)) uniterror(L, 2 + i, "clip", a->dim, d);
  }
  if (!(b[0] <= b[1])) luaL_argerror(L, 3, "upper bound below the lower bound");
  r = result(L, 4, a->a.dtype, a->a.ndim, a->a.shape);
  if (cj_array_clip(&r->a, &a->a, b[0], b[1])) corefail(L, 4);
  r->dim = a->dim;
  if (scalar) unwrap0d(L, r);
  return 1;
}

/* cj.where(mask, a, b [, out]) */
static int arr_where(lua_State *L)
{
  larray *m, *r;
  operand x, y;
  int64_t s1[CJ_MAXDIM], shape[CJ_MAXDIM];
  int n1, ndim;
  lua_settop(L, 4);
  m = checkarray(L, 1);
  if (m->a.dtype != CJ_U8) luaL_argerror(L, 1, "uint8 mask expected");
  pairup(L, 2, 3, &x, &y);
  if (!cj_dim_eq(x.dim, y.dim)) uniterror(L, 3, "choose between", x.dim, y.dim);
  if (cj_broadcast_shape(m->a.ndim, m->a.shape, x.a.ndim, x.a.shape, &n1, s1) ||
      cj_broadcast_shape(n1, s1, y.a.ndim, y.a.shape, &ndim, shape))
    corefail(L, 3);
  r = result(L, 4, cj_dtype_promote(x.a.dtype, y.a.dtype), ndim, shape);
  if (cj_array_where(&r->a, &m->a, &x.a, &y.a)) corefail(L, 4);
  r->dim = x.dim;
  return 1;
}

/* ---- reductions ---------------------------------------------------------------------------- */

static cj_dim reducedim(lua_State *L, cj_reduce op, cj_dim d, int64_t n)
{
  switch (op) {
  case CJ_VAR: return dimpow(L, 1, d, 2);
  case CJ_PROD:
    if (cj_dim_isless(d)) return d;
    if (n > 127) {
      lua_pushfstring(L, "product of %I quantities has no dimension", (lua_Integer)n);
      luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    return dimpow(L, 1, d, (double)n);
  case CJ_ARGMIN: case CJ_ARGMAX: case CJ_ANY: case CJ_ALL: return cj_dimless;
  default: return d;
  }
}

/* a:op([axis] [, ddof]): a value (arg*: a 1-based index) over the whole
 * array, or an array along axis. */
static int reduce(lua_State *L, cj_reduce op)
{
  larray *a = toarray(L, 1), *r;
  int axis = lua_isnoneornil(L, 2) ? -1 : checkaxis(L, 2, a->a.ndim);
  lua_Integer ddof = 0;
  cj_dim d;
  if (op == CJ_VAR || op == CJ_STD) {
    ddof = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, ddof >= 0 && ddof <= INT32_MAX, 3, "ddof must be a non-negative integer");
  }
  d = reducedim(L, op, a->dim, axis < 0 ? cj_array_numel(&a->a) : a->a.shape[axis]);
  if (axis < 0) {
    double v;
    if (cj_array_reduce(op, &a->a, (int)ddof, &v)) corefail(L, 1);
    if (op == CJ_ANY || op == CJ_ALL) lua_pushboolean(L, v != 0);
    else if (op == CJ_ARGMIN || op == CJ_ARGMAX) lua_pushinteger(L, (lua_Integer)v + 1);
    else if (cj_dtype_isint(a->a.dtype) && op != CJ_MEAN && op != CJ_VAR && op != CJ_STD &&
             fabs(v) < 9007199254740992.0)
      pushvalue(L, CJ_I32, v, d);
    else cj_pushquantity(L, v, d);
    return 1;
  } else {
    int64_t shape[CJ_MAXDIM];
    int n = 0;
    for (int i = 0; i < a->a.ndim; i++)
      if (i != axis) shape[n++] = a->a.shape[i];
    r = newarray(L, cj_reduce_dtype(op, a->a.dtype), n, shape, 0);
    if (cj_array_reduce_axis(op, &r->a, &a->a, axis, (int)ddof)) corefail(L, 2);
    if (op == CJ_ARGMIN || op == CJ_ARGMAX) {            /* 1-based positions */
      int32_t one = 1;
      cj_array s;
      cj_array_wrap(&s, &one, CJ_I32, 0, NULL);
      cj_array_binop(CJ_ADD, &r->a, &r->a, &s);
    }
    r->dim = d;
    return 1;
  }
}

#define REDFN(NAME, OP) static int NAME(lua_State *L) { return reduce(L, OP); }
#define MKREDFN(E, n) REDFN(m_##n, CJ_##E)
CJ_REDUCTIONS(MKREDFN)

/* a:cumsum([axis]): along axis, or over the flattened array */
static int m_cumsum(lua_State *L)
{
  larray *a = toarray(L, 1), *r;
  int axis = lua_isnoneornil(L, 2) ? -1 : checkaxis(L, 2, a->a.ndim);
  cj_dtype t = cj_reduce_dtype(CJ_SUM, a->a.dtype);
  int64_t n = cj_array_numel(&a->a);
  r = axis < 0 ? newarray(L, t, 1, &n, 0) : newarray(L, t, a->a.ndim, a->a.shape, 0);
  if (cj_array_cumsum(&r->a, &a->a, axis)) corefail(L, 0);
  r->dim = a->dim;
  return 1;
}

/* ---- linear algebra -------------------------------------------------------------------------- */

/* cj.matmul(a, b [, out]) */
static int m_matmul(lua_State *L)
{
  larray *a, *b, *r;
  int64_t shape[2];
  int ndim;
  cj_dim d;
  lua_settop(L, 3);
  a = toarray(L, 1);
  b = toarray(L, 2);
  if (cj_dim_mulx(a->dim, b->dim, 1, &d)) corefail(L, 2);
  if (cj_matmul_shape(&a->a, &b->a, &ndim, shape)) corefail(L, 2);
  r = result(L, 3, cj_matmul_dtype(a->a.dtype, b->a.dtype), ndim, shape);
  if (cj_array_matmul(&r->a, &a->a, &b->a)) corefail(L, 3);
  r->dim = d;
  if (lua_isnil(L, 3)) unwrap0d(L, r);
  return 1;
}

/* a:dot(b): the inner product of two vectors; matmul otherwise */
static int m_dot(lua_State *L)
{
  larray *a, *b;
  double v;
  cj_dim d;
  lua_settop(L, 2);
  a = toarray(L, 1);
  b = toarray(L, 2);
  if (a->a.ndim != 1 || b->a.ndim != 1) return m_matmul(L);
  if (cj_dim_mulx(a->dim, b->dim, 1, &d)) corefail(L, 2);
  if (cj_array_dot(&a->a, &b->a, &v)) corefail(L, 2);
  if (cj_dtype_isint(cj_matmul_dtype(a->a.dtype, b->a.dtype))) pushvalue(L, CJ_I32, v, d);
  else cj_pushquantity(L, v, d);
  return 1;
}

/* ---- shape and layout --------------------------------------------------------------------------- */

/* a:t(): all dimensions reversed (a view) */
static int m_t(lua_State *L)
{
  larray *a = checkarray(L, 1);
  cj_array v = a->a;
  for (int i = 0; i < a->a.ndim; i++) {
    v.shape[i] = a->a.shape[a->a.ndim - 1 - i];
    v.strides[i] = a->a.strides[a->a.ndim - 1 - i];
  }
  pushview(L, 1, &v);
  return 1;
}

/* a:transpose([d1, d2]): dimensions d1 and d2 swapped (a view) */
static int m_transpose(lua_State *L)
{
  larray *a = checkarray(L, 1);
  cj_array v;
  int d1, d2;
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) return m_t(L);
  d1 = checkaxis(L, 2, a->a.ndim);
  d2 = checkaxis(L, 3, a->a.ndim);
  cj_array_transpose(&v, &a->a, d1, d2);
  pushview(L, 1, &v);
  return 1;
}

/* a:reshape(shape...): a view when a is contiguous, else a copy; one size may be -1 */
static int m_reshape(lua_State *L)
{
  larray *a = checkarray(L, 1), *r;
  int64_t shape[CJ_MAXDIM], n = cj_array_numel(&a->a), rest;
  int hole, ndim = getshape2(L, 2, lua_gettop(L), shape, &hole);
  cj_array v, src;
  char b1[64], b2[64];
  if (cj_shape_numel(ndim, shape, &rest)) corefail(L, 2);
  if (hole >= 0) {
    if (rest == 0 || n % rest) {
      lua_pushfstring(L, "cannot infer a size: %I elements into %s", (lua_Integer)n,
                      cj_shape_format(ndim, shape, b1, sizeof b1));
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    shape[hole] = n / rest;
    rest = n;
  }
  if (rest != n) {
    lua_pushfstring(L, "sizes do not match: %s has %I elements, %s has %I",
                    cj_shape_format(a->a.ndim, a->a.shape, b1, sizeof b1), (lua_Integer)n,
                    cj_shape_format(ndim, shape, b2, sizeof b2), (lua_Integer)rest);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  if (cj_array_iscontig(&a->a)) {
    if (cj_array_reshape(&v, &a->a, ndim, shape)) corefail(L, 2);
    pushview(L, 1, &v);
    return 1;
  }
  r = newarray(L, a->a.dtype, ndim, shape, 0);
  cj_array_wrap(&src, NULL, a->a.dtype, a->a.ndim, a->a.shape);
  src.data = r->a.data;                          /* r seen with a's shape */
  if (cj_array_copy(&src, &a->a)) corefail(L, 0);
  r->dim = a->dim;
  return 1;
}

static int m_contiguous(lua_State *L)
{
  larray *a = checkarray(L, 1), *r;
  if (cj_array_iscontig(&a->a)) { lua_settop(L, 1); return 1; }
  r = newarray(L, a->a.dtype, a->a.ndim, a->a.shape, 0);
  if (cj_array_copy(&r->a, &a->a)) corefail(L, 0);
  r->dim = a->dim;
  return 1;
}

static int m_copy(lua_State *L)
{
  larray *a = checkarray(L, 1), *r;
  r = newarray(L, a->a.dtype, a->a.ndim, a->a.shape, 0);
  if (cj_array_copy(&r->a, &a->a)) corefail(L, 0);
  r->dim = a->dim;
  return 1;
}

static int m_astype(lua_State *L)
{
  larray *a = checkarray(L, 1), *r;
  cj_dtype t;
  if (cj_dtype_parse(luaL_checkstring(L, 2), &t)) corefail(L, 2);
  r = newarray(L, t, a->a.ndim, a->a.shape, 0);
  if (cj_array_copy(&r->a, &a->a)) corefail(L, 0);
  r->dim = a->dim;
  return 1;
}

static int m_fill(lua_State *L)
{
  larray *a = checkarray(L, 1);
  double v;
  cj_dim d;
  if (!cj_toquantity(L, 2, &v, &d)) luaL_typeerror(L, 2, "number or quantity");
  checkassign(L, 2, a->dim, d);
  cj_array_fill(&a->a, v);
  lua_settop(L, 1);
  return 1;
}

static int m_numel(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cj_array_numel(&checkarray(L, 1)->a));
  return 1;
}

static void pushtable(lua_State *L, const larray *a, int d, int64_t *idx)
{
  lua_createtable(L, (int)a->a.shape[d], 0);
  for (int64_t i = 0; i < a->a.shape[d]; i++) {
    idx[d] = i;
    if (d == a->a.ndim - 1) pushvalue(L, a->a.dtype, cj_array_get(&a->a, idx), a->dim);
    else pushtable(L, a, d + 1, idx);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* a:totable(): nested tables of numbers (quantities for an array with a unit) */
static int m_totable(lua_State *L)
{
  larray *a = checkarray(L, 1);
  int64_t idx[CJ_MAXDIM] = { 0 };
  luaL_checkstack(L, CJ_MAXDIM + 4, "totable");
  if (a->a.ndim == 0) pushvalue(L, a->a.dtype, cj_array_get(&a->a, idx), a->dim);
  else pushtable(L, a, 0, idx);
  return 1;
}

/* ---- indexing ------------------------------------------------------------------------------------ */

/* Slice spec {lo, hi [, step]}, {i} or {} at stack top for a dimension of
 * size n: 0-based start, count, step. */
static void slicespec(lua_State *L, int64_t n, int dim, int64_t *start, int64_t *count, int64_t *step)
{
  int len = (int)lua_rawlen(L, -1), isint;
  lua_Integer v[3] = { 1, -1, 1 };
  if (len > 3) luaL_argerror(L, 2, "slice {lo, hi [, step]} expected");
  for (int i = 0; i < len; i++) {
    lua_rawgeti(L, -1, i + 1);
    v[i] = lua_tointegerx(L, -1, &isint);
    if (!isint) luaL_argerror(L, 2, "slice bounds must be integers");
    lua_pop(L, 1);
  }
  if (len == 1) v[1] = v[0];
  if (v[2] == 0) luaL_argerror(L, 2, "slice step must not be zero");
  if (len == 0 && n == 0) { *start = 0; *count = 0; *step = 1; return; }
  {
    int64_t lo = v[0] < 0 ? n + v[0] : v[0] - 1, hi = v[1] < 0 ? n + v[1] : v[1] - 1;
    int64_t st = v[2], c;
    /* bounds far outside the dimension fail here, before any arithmetic on them;
     * an empty slice may start one past either end ({n + 1, n}, {0, -n - 1, -1}) */
    if (lo < -1 || lo > n) checkindex(L, 2, v[0], n, dim);
    if (hi < -1 || hi > n) checkindex(L, 2, v[1], n, dim);
    if (st > n) st = n > 0 ? n : 1;              /* one element either way */
    if (st < -n) st = n > 0 ? -n : -1;
    c = st > 0 ? (hi - lo) / st + 1 : (lo - hi) / -st + 1;
    if ((st > 0 && hi < lo) || (st < 0 && hi > lo)) c = 0;   /* empty */
    if (c > 0) {
      checkindex(L, 2, v[0], n, dim);
      checkindex(L, 2, v[1], n, dim);
    }
    *start = lo; *count = c; *step = st;
  }
}

/* The part of a selected by the index table at stack index k: returns 1
 * when it is a single element (one integer per dimension). */
static int indexview(lua_State *L, const larray *a, int k, cj_array *v)
{
  int n = (int)lua_rawlen(L, k), d = 0, isint, multi = a->a.ndim > 1;
  *v = a->a;
  if (n > a->a.ndim) {
    lua_pushfstring(L, "too many indices: %d for a %d-D array", n, a->a.ndim);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  for (int i = 1; i <= n; i++) {
    int t = lua_rawgeti(L, k, i);
    if (t == LUA_TNUMBER) {
      lua_Integer x = lua_tointegerx(L, -1, &isint);
      if (!isint) luaL_argerror(L, 2, "indices must be integers");
      cj_array_select(v, v, d, checkindex(L, 2, x, v->shape[d], multi ? i : 0));
    } else if (t == LUA_TTABLE) {
      int64_t start, count, step;
      slicespec(L, v->shape[d], multi ? i : 0, &start, &count, &step);
      if (cj_array_slice(v, v, d, start, count, step)) corefail(L, 2);
      d++;
    } else {
      lua_pushfstring(L, "integer or slice table expected in position %d, got %s", i, luaL_typename(L, -1));
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  return v->ndim == 0 && n == a->a.ndim;
}

/* __index(a, key); upvalue 1: the methods table */
static int m_index(lua_State *L)
{
  larray *a = checkarray(L, 1), *m;
  int isint;
  lua_Integer i = lua_tointegerx(L, 2, &isint);
  int64_t idx[CJ_MAXDIM] = { 0 };
  cj_array v;
  switch (lua_type(L, 2)) {
  case LUA_TNUMBER:
    if (!isint) return luaL_argerror(L, 2, "indices must be integers");
    if (a->a.ndim == 0) return luaL_argerror(L, 2, "cannot index a 0-d array");
    idx[0] = checkindex(L, 2, i, a->a.shape[0], 0);
    if (a->a.ndim == 1) {
      pushvalue(L, a->a.dtype, cj_array_get(&a->a, idx), a->dim);
      return 1;
    }
    cj_array_select(&v, &a->a, 0, idx[0]);
    pushview(L, 1, &v);
    return 1;
  case LUA_TSTRING: {
    const char *k = lua_tostring(L, 2);
    char buf[96];
    if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL) return 1;
    if (strcmp(k, "shape") == 0) {
      lua_createtable(L, a->a.ndim, 0);
      for (int j = 0; j < a->a.ndim; j++) {
        lua_pushinteger(L, (lua_Integer)a->a.shape[j]);
        lua_rawseti(L, -2, j + 1);
      }
    }
    else if (strcmp(k, "ndim") == 0) lua_pushinteger(L, a->a.ndim);
    else if (strcmp(k, "dtype") == 0) lua_pushstring(L, cj_dtype_name(a->a.dtype));
    else if (strcmp(k, "dim") == 0) lua_pushstring(L, cj_dim_format(a->dim, buf, sizeof buf));
    else lua_pushnil(L);
    return 1;
  }
  case LUA_TTABLE:
    if (indexview(L, a, 2, &v)) pushvalue(L, v.dtype, cj_array_getflat(&v, 0), a->dim);
    else pushview(L, 1, &v);
    return 1;
  default:
    if ((m = cj_testarray(L, 2))) {
      larray *r;
      int64_t n;
      if (m->a.dtype != CJ_U8) return luaL_argerror(L, 2, "mask must be a uint8 array");
      n = cj_array_count(&m->a);
      r = newarray(L, a->a.dtype, 1, &n, 0);
      if (cj_array_masked_select(&r->a, &a->a, &m->a)) corefail(L, 2);
      r->dim = a->dim;
      return 1;
    }
    return luaL_typeerror(L, 2, "integer, table or mask index");
  }
}

/* Assign the value at stack index 3 to the elements of view v of a. */
static void assign(lua_State *L, const larray *a, cj_array *v)
{
  double x;
  cj_dim d;
  larray *src;
  if (cj_toquantity(L, 3, &x, &d)) {
    checkassign(L, 3, a->dim, d);
    cj_array_fill(v, x);
    return;
  }
  if (!cj_testarray(L, 3) && !lua_istable(L, 3)) luaL_typeerror(L, 3, "number, quantity, array or table");
  src = toarray(L, 3);
  checkassign(L, 3, a->dim, src->dim);
  if (cj_array_copy(v, &src->a)) corefail(L, 3);
}

/* __newindex(a, key, value) */
static int m_newindex(lua_State *L)
{
  larray *a = checkarray(L, 1), *m;
  int isint;
  lua_Integer i = lua_tointegerx(L, 2, &isint);
  cj_array v;
  switch (lua_type(L, 2)) {
  case LUA_TNUMBER:
    if (!isint) return luaL_argerror(L, 2, "indices must be integers");
    if (a->a.ndim == 0) return luaL_argerror(L, 2, "cannot index a 0-d array");
    cj_array_select(&v, &a->a, 0, checkindex(L, 2, i, a->a.shape[0], 0));
    assign(L, a, &v);
    return 0;
  case LUA_TTABLE:
    indexview(L, a, 2, &v);
    assign(L, a, &v);
    return 0;
  default:
    if ((m = cj_testarray(L, 2))) {
      larray *src;
      double x;
      cj_dim d;
      if (m->a.dtype != CJ_U8) return luaL_argerror(L, 2, "mask must be a uint8 array");
      if (cj_toquantity(L, 3, &x, &d)) {
        cj_array s;
        checkassign(L, 3, a->dim, d);
        cj_array_wrap(&s, &x, CJ_F64, 0, NULL);
        if (cj_array_masked_assign(&a->a, &m->a, &s)) corefail(L, 2);
        return 0;
      }
      if (!cj_testarray(L, 3) && !lua_istable(L, 3)) luaL_typeerror(L, 3, "number, quantity, array or table");
      src = toarray(L, 3);
      checkassign(L, 3, a->dim, src->dim);
      if (cj_array_masked_assign(&a->a, &m->a, &src->a)) corefail(L, 3);
      return 0;
    }
    if (lua_type(L, 2) == LUA_TSTRING)
      return luaL_error(L, "cannot set field '%s' of an array", lua_tostring(L, 2));
    return luaL_typeerror(L, 2, "integer, table or mask index");
  }
}

static int m_len(lua_State *L)
{
  larray *a = checkarray(L, 1);
  if (a->a.ndim == 0) luaL_argerror(L, 1, "a 0-d array has no length");
  lua_pushinteger(L, (lua_Integer)a->a.shape[0]);
  return 1;
}

/* ---- tostring: numpy-like, summarised when large ---------------------------------------------------- */

#define SUMMARY 1000   /* more elements than this: show EDGE items per dimension */
#define EDGE 3

typedef struct {
  const cj_array *a;
  double scale;                  /* elements are printed divided by it */
  int summarise, width;
  luaL_Buffer *b;                /* NULL while measuring */
} printer;

static int fmtnum(char *s, size_t n, cj_dtype t, double v)
{
  int w;
  if (cj_dtype_isint(t)) return snprintf(s, n, "%lld", (long long)v);
  if (isnan(v)) return snprintf(s, n, "nan");
  if (isinf(v)) return snprintf(s, n, v > 0 ? "inf" : "-inf");
  w = snprintf(s, n, "%.*g", t == CJ_F32 ? 6 : CJ_PRINT_DIGITS, v);
  if (w > 0 && (size_t)w + 1 < n && !strpbrk(s, ".e")) { s[w++] = '.'; s[w] = '\0'; }
  return w;
}

static void printelem(printer *p, const int64_t *idx)
{
  char s[48];
  double v = cj_array_get(p->a, idx);
  int w = fmtnum(s, sizeof s, p->a->dtype, p->scale == 1 ? v : v / p->scale);
  if (!p->b) { if (w > p->width) p->width = w; return; }
  for (int i = w; i < p->width; i++) luaL_addchar(p->b, ' ');
  luaL_addlstring(p->b, s, (size_t)w);
}

static void addstr(printer *p, const char *s)
{
  if (p->b) luaL_addstring(p->b, s);
}

/* between two blocks of dimension d: blank lines, then indentation */
static void newline(printer *p, int d)
{
  for (int k = d; k < p->a->ndim - 1; k++) addstr(p, "\n");
  for (int k = 0; k <= d; k++) addstr(p, " ");
}

static void printdim(printer *p, int d, int64_t *idx)
{
  int64_t n = p->a->shape[d];
  int last = d == p->a->ndim - 1;
  addstr(p, "[");
  for (int64_t i = 0; i < n; i++) {
    if (p->summarise && n > 2 * EDGE && i == EDGE) {
      i = n - EDGE;
      if (last) addstr(p, "... ");
      else { addstr(p, "..."); newline(p, d); }
    }
    idx[d] = i;
    if (last) printelem(p, idx);
    else printdim(p, d + 1, idx);
    if (i < n - 1) {
      if (last) addstr(p, " ");
      else newline(p, d);
    }
  }
  addstr(p, "]");
}

/* The unit to print an array of dimension d in: "mV" for voltages around
 * 1e-3, found by formatting the largest magnitude as a quantity. */
static const char *printunit(const cj_array *a, cj_dim d, double *scale, char *buf, size_t n)
{
  double big = 1, lo, hi, v;
  cj_dim ud;
  const char *sp;
  *scale = 1;
  if (cj_dim_isless(d)) return NULL;
  if (cj_array_numel(a) > 0 && !cj_array_reduce(CJ_MIN, a, 0, &lo) &&
      !cj_array_reduce(CJ_MAX, a, 0, &hi)) {
    v = fmax(fabs(lo), fabs(hi));
    if (isfinite(v) && v > 0) big = v;
  }
  cj_quantity_format(big, d, buf, n);
  sp = strchr(buf, ' ');
  if (sp && cj_unit_parse(sp + 1, &v, &ud) == CJ_OK && cj_dim_eq(ud, d) && v > 0) {
    *scale = v;
    memmove(buf, sp + 1, strlen(sp + 1) + 1);
    return buf;
  }
  return cj_dim_format(d, buf, n);
}

static int m_tostring(lua_State *L)
{
  larray *a = checkarray(L, 1);
  luaL_Buffer b;
  int64_t idx[CJ_MAXDIM] = { 0 };
  char ubuf[128];
  printer p = { &a->a, 1, cj_array_numel(&a->a) > SUMMARY, 0, NULL };
  const char *unit = printunit(&a->a, a->dim, &p.scale, ubuf, sizeof ubuf);
  luaL_buffinit(L, &b);
  if (a->a.ndim == 0) {
    printelem(&p, idx);
    p.b = &b;
    printelem(&p, idx);
  } else {
    printdim(&p, 0, idx);                      /* measure the widest element */
    p.b = &b;
    printdim(&p, 0, idx);
  }
  if (unit) {
    luaL_addchar(&b, ' ');
    luaL_addstring(&b, unit);
  }
  if (a->a.dtype != CJ_F64) {
    luaL_addstring(&b, " (");
    luaL_addstring(&b, cj_dtype_name(a->a.dtype));
    luaL_addchar(&b, ')');
  }
  luaL_pushresult(&b);
  return 1;
}

/* "text" .. a and a .. "text": the printed form */
static int m_concat(lua_State *L)
{
  luaL_tolstring(L, 1, NULL);
  luaL_tolstring(L, 2, NULL);
  lua_concat(L, 2);
  return 1;
}

/* ---- registration ----------------------------------------------------------------------------------- */

#define FN(name) { #name, m_##name }
#define OPFN(E, n, ...) FN(n),
/* the array operations of array.h's lists, then the others */
static const luaL_Reg methods[] = {
  CJ_BINOPS(OPFN) CJ_UNOPS(OPFN) CJ_REDUCTIONS(OPFN)
  FN(muladd), FN(clip), FN(cumsum),
  FN(matmul), FN(dot), FN(t), FN(transpose), FN(reshape), FN(contiguous), FN(copy),
  FN(astype), FN(fill), FN(numel), FN(totable),
  { NULL, NULL }
};

static const luaL_Reg metamethods[] = {
  { "__add", mm_add }, { "__sub", mm_sub }, { "__mul", mm_mul }, { "__div", mm_div },
  { "__idiv", mm_idiv }, { "__mod", mm_mod }, { "__pow", mm_pow }, { "__unm", mm_unm },
  { "__newindex", m_newindex }, { "__len", m_len }, { "__tostring", m_tostring },
  { "__concat", m_concat },
  { NULL, NULL }
};

/* module functions besides the methods that also live in the module */
static const luaL_Reg functions[] = {
  { "array", arr_array }, { "zeros", arr_zeros }, { "ones", arr_ones }, { "full", arr_full },
  { "range", arr_range }, { "linspace", arr_linspace }, { "where", arr_where },
  { NULL, NULL }
};

/* methods that are also module functions: cj.exp(a), cj.sum(a, axis), ... */
#define OPNAME(E, n, ...) #n,
static const char *const shared[] = {
  CJ_BINOPS(OPNAME) CJ_UNOPS(OPNAME) CJ_REDUCTIONS(OPNAME)
  "muladd", "clip", "cumsum", "matmul", "dot", "transpose", "reshape", "copy", "astype", NULL
};

#define BINDOC(n, what) { n, "cj." n "(a, b [, out]) / a:" n "(b [, out]) -> array\n" what \
    "\nBroadcasts a and b (arrays or numbers); out: an array of the result's shape and dtype." }
#define CMPDOC(n, what) { n, "cj." n "(a, b [, out]) / a:" n "(b [, out]) -> uint8 mask\n" \
    "1 where a " what " b, else 0 (broadcasting); dimensions must match." }
#define UNDOC(n, what) { n, "cj." n "(a [, out]) / a:" n "([out]) -> array\n" what }
#define REDDOC(n, what) { n, "cj." n "(a [, axis]) / a:" n "([axis]) -> number or array\n" what \
    "\nOver all elements, or along the 1-based axis (the result drops that dimension)." }

static const cj_doc docs[] = {
  { "array", "cj.array(t [, dtype]) -> array\n"
    "A new array from a nested table of numbers (or quantities of one unit), a number or an\n"
    "array. dtype: \"float64\" (default), \"float32\", \"int32\" or \"uint8\"." },
  { "zeros", "cj.zeros(shape... [, dtype]) -> array\n"
    "A new array of zeros; shape as sizes (cj.zeros(3, 4)) or a table ({3, 4})." },
  { "ones", "cj.ones(shape... [, dtype]) -> array\nA new array of ones; shape as in cj.zeros." },
  { "full", "cj.full(shape, value [, dtype]) -> array\n"
    "A new array with every element value (a number or quantity); shape a size or a table." },
  { "range", "cj.range(a, b [, step] [, dtype]) / cj.range(n [, dtype]) -> array\n"
    "The values of Lua's `for x = a, b, step` (b included when reached): a, a+step, ...;\n"
    "cj.range(n) is 1..n. Quantities of one unit allowed. For fractional steps prefer linspace." },
  { "linspace", "cj.linspace(a, b, n [, dtype]) -> array\n"
    "n evenly spaced values from a to b, both included (quantities allowed)." },
  { "where", "cj.where(mask, a, b [, out]) -> array\n"
    "Elementwise mask ~= 0 and a or b; mask a uint8 array, a and b arrays or numbers (broadcast)." },
  BINDOC("add", "Elementwise a + b."),
  BINDOC("sub", "Elementwise a - b."),
  BINDOC("mul", "Elementwise a * b."),
  BINDOC("div", "Elementwise a / b (integer arrays give float64)."),
  BINDOC("idiv", "Elementwise a // b, floored as Lua's // (-7 // 2 is -4); integer arrays stay\n"
         "integer and integer x // 0 is 0; floats give floor(a / b). Unit: a's over b's."),
  BINDOC("mod", "Elementwise a % b, floored as Lua's % (integer x % 0 is 0)."),
  BINDOC("pow", "Elementwise a ^ b (float64 for integer arrays)."),
  BINDOC("minimum", "Elementwise smaller of a and b (NaN propagates)."),
  BINDOC("maximum", "Elementwise larger of a and b (NaN propagates)."),
  { "muladd", "cj.muladd(a, b, c [, out]) / a:muladd(b, c [, out]) -> array\n"
    "a * b + c in one pass over memory (same rounding as the two operations), broadcasting;\n"
    "for updates such as v = v * decay + input. out: an array of the result's shape and dtype." },
  CMPDOC("lt", "<"), CMPDOC("le", "<="), CMPDOC("gt", ">"), CMPDOC("ge", ">="),
  CMPDOC("eq", "=="), CMPDOC("ne", "~="),
  UNDOC("neg", "Elementwise -a (also the unary minus operator)."),
  UNDOC("abs", "Elementwise |a|; keeps the unit."),
  UNDOC("relu", "Elementwise max(a, 0); keeps the unit."),
  UNDOC("sign", "Elementwise -1, 0 or 1."),
  UNDOC("floor", "Elementwise rounding down; keeps the unit."),
  UNDOC("ceil", "Elementwise rounding up; keeps the unit."),
  UNDOC("exp", "Elementwise e^a; a must be dimensionless (integer arrays give float64). Within 1 ulp, as\n"
        "log, log1p, sin, cos, tan, tanh (vector code: see MATH in cajal-api(3))."),
  UNDOC("log", "Elementwise natural logarithm; a must be dimensionless."),
  UNDOC("log1p", "Elementwise log(1 + a), accurate for small a; a must be dimensionless."),
  UNDOC("sqrt", "Elementwise square root; the unit's exponents are halved."),
  UNDOC("sin", "Elementwise sine (radians); a must be dimensionless."),
  UNDOC("cos", "Elementwise cosine (radians); a must be dimensionless."),
  UNDOC("tan", "Elementwise tangent (radians); a must be dimensionless."),
  UNDOC("tanh", "Elementwise hyperbolic tangent; a must be dimensionless."),
  UNDOC("sigmoid", "Elementwise 1 / (1 + e^-a), as e^a / (1 + e^a) for a < 0 (no overflow, tiny values\n"
        "kept), within 3 ulp; a must be dimensionless."),
  { "clip", "cj.clip(a, lo, hi [, out]) / a:clip(lo, hi [, out]) -> array\n"
    "Elementwise a limited to [lo, hi]; a nil bound is open; bounds in a's unit." },
  REDDOC("sum", "Sum (accumulated in double; pairwise on contiguous data)."),
  REDDOC("mean", "Arithmetic mean (NaN for no elements)."),
  { "var", "cj.var(a [, axis [, ddof]]) / a:var([axis [, ddof]]) -> number or array\n"
    "Variance: sum of squared deviations / (n - ddof), ddof 0 by default; axis may be nil." },
  { "std", "cj.std(a [, axis [, ddof]]) / a:std([axis [, ddof]]) -> number or array\n"
    "Standard deviation: sqrt of var with the same ddof." },
  REDDOC("min", "Smallest element (NaN if any is NaN)."),
  REDDOC("max", "Largest element (NaN if any is NaN)."),
  REDDOC("argmin", "1-based position of the first smallest element (flat, row-major, without axis)."),
  REDDOC("argmax", "1-based position of the first largest element (flat, row-major, without axis)."),
  REDDOC("prod", "Product of the elements."),
  REDDOC("any", "true if any element is nonzero (a uint8 array along an axis)."),
  REDDOC("all", "true if every element is nonzero (a uint8 array along an axis)."),
  { "cumsum", "cj.cumsum(a [, axis]) / a:cumsum([axis]) -> array\n"
    "Running sums along axis, or over the flattened array (1-D result)." },
  { "matmul", "cj.matmul(a, b [, out]) / a:matmul(b [, out]) -> array or number\n"
    "Matrix product of 1-D/2-D arrays through BLAS (numpy's matmul rules); units multiply." },
  { "dot", "cj.dot(a, b) / a:dot(b) -> number or array\n"
    "Inner product of two vectors; for matrices the same as matmul." },
  { "t", "a:t() -> view\nAll dimensions reversed (the transpose of a matrix); shares memory." },
  { "transpose", "cj.transpose(a [, d1, d2]) / a:transpose([d1, d2]) -> view\n"
    "Dimensions d1 and d2 (1-based) swapped, or all reversed; shares memory." },
  { "reshape", "cj.reshape(a, shape...) / a:reshape(shape...) -> array\n"
    "The elements under a new shape (one size may be -1); a view when a is contiguous, else a copy." },
  { "contiguous", "a:contiguous() -> array\na itself when contiguous, else a contiguous copy." },
  { "copy", "cj.copy(a) / a:copy() -> array\nA new contiguous array with the same elements, dtype and unit." },
  { "astype", "cj.astype(a, dtype) / a:astype(dtype) -> array\n"
    "A converted copy; to integer dtypes values are truncated and saturate (NaN -> 0)." },
  { "fill", "a:fill(v) -> a\nSets every element (of a view too) to v, a number or quantity of a's unit." },
  { "numel", "a:numel() -> integer\nThe number of elements." },
  { "totable", "a:totable() -> table\nThe elements as nested Lua tables (quantities for an array with a unit)." },
  { NULL, NULL }
};

void cj_open_array(lua_State *L)
{
  int module = lua_gettop(L);
  luaL_newmetatable(L, CJ_ARRAY);              /* stack: module, mt */
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);                     /* stack: module, mt, methods */
  cj_setdocs(L, -1, docs);
  for (const char *const *s = shared; *s; s++) {
    lua_getfield(L, -1, *s);
    lua_setfield(L, module, *s);
  }
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
  cj_setdocs(L, -1, docs);
}
