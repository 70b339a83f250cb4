/*
 * lhd.c — cj.hd, hyperdimensional computing in Lua (core: vm/core/hd.c).
 *
 * Two userdata types:
 *   "cajal.hv"       a block of hypervectors: its model, dimension, number of
 *                    rows and whether it is one vector ("single") or a batch;
 *                    the rows live inside the userdata in the model's own
 *                    layout (bit-packed words for bsc, complex pairs for fhrr),
 *                    so every operation can check that its operands are of
 *                    one model and name the argument that is not. Arrays come
 *                    and go through cj.hd.from_array and v:array().
 *   "cajal.hdmemory" an item / clean-up memory: named rows (a growing hv
 *                    buffer in user value 1, names in user value 2: [i] =
 *                    name, [name] = i) and the seed its random symbols come
 *                    from (symbol s: stream hash(s) of that seed).
 * A single vector and a batch of one row both meet every row of a batch.
 * Tie-breaking draws come from stream 1 of opts.seed, vectors from stream
 * 0 (so the two never repeat each other), else from cj.seed's generator.
 */
#include "lcajal.h"
#include "lopt.h"
#include "hd.h"

#include <stdint.h>
#include <string.h>

#define CJ_HV "cajal.hv"
#define CJ_HDMEM "cajal.hdmemory"
#define ALIGN 64
#define DEFAULT_MODEL CJ_HD_MAP
#define TIES 1          /* the stream of tie-breaking draws under opts.seed */

typedef struct lhv {
  cj_hd h;
  int single;         /* one vector (1-D), not a batch of one */
} lhv;

typedef struct lmem {
  cj_hd_model model;
  int64_t d, n;
  uint64_t seed;
} lmem;

#define checkmem(L, i) ((lmem *)luaL_checkudata(L, i, CJ_HDMEM))

static lhv *testhv(lua_State *L, int i)
{
  return (lhv *)luaL_testudata(L, i, CJ_HV);
}

static lhv *checkhv(lua_State *L, int i)
{
  lhv *h = testhv(L, i);
  if (h) return h;
  if (cj_testarray(L, i)) luaL_argerror(L, i, "hypervector expected, got array (cj.hd.from_array makes one)");
  if (luaL_testudata(L, i, CJ_HDMEM))
    luaL_argerror(L, i, "hypervector expected, got item memory (use mem:get(name) or mem:vectors())");
  luaL_typeerror(L, i, "hypervector");
  return NULL;
}

static int corefail(lua_State *L)
{
  return luaL_error(L, "%s", cj_errmsg());
}

/* Push a block of n vectors, its memory not initialised (every core
 * function writes all of its output; the bits past d of a bsc row are
 * cleared here, as the layout wants them zero). */
static lhv *newhv(lua_State *L, cj_hd_model m, int64_t n, int64_t d, int single)
{
  size_t nbytes;
  lhv *h;
  char *p;
  if (cj_hd_checksize(m, n, d)) corefail(L);
  nbytes = (size_t)n * cj_hd_rowbytes(m, d);
  h = (lhv *)lua_newuserdatauv(L, sizeof(lhv) + ALIGN + nbytes, 0);
  p = (char *)(h + 1);
  p += (ALIGN - (uintptr_t)p % ALIGN) % ALIGN;
  if (m == CJ_HD_BSC)
    for (int64_t i = 0, nw = cj_hd_words(d); i < n; i++) ((uint64_t *)p)[(i + 1) * nw - 1] = 0;
  h->h = (cj_hd){ m, n, d, p };
  h->single = single;
  luaL_setmetatable(L, CJ_HV);
  return h;
}

/* A new block of x's kind. */
static lhv *likehv(lua_State *L, const lhv *x, int64_t n, int single)
{
  return newhv(L, x->h.model, n, x->h.d, single);
}

/* ---- arguments ---------------------------------------------------------- */

static cj_hd_model checkmodel(lua_State *L, int i)
{
  cj_hd_model m;
  if (cj_hd_model_parse(luaL_checkstring(L, i), &m)) luaL_argerror(L, i, cj_errmsg());
  return m;
}

/* Model at i when it is a string (*next = i + 1), else the default. */
static cj_hd_model optmodel(lua_State *L, int i, int *next)
{
  *next = i;
  if (lua_type(L, i) != LUA_TSTRING) {
    if (!lua_isnoneornil(L, i) && !lua_istable(L, i)) luaL_typeerror(L, i, "model name");
    if (lua_isnil(L, i)) *next = i + 1;
    return DEFAULT_MODEL;
  }
  *next = i + 1;
  return checkmodel(L, i);
}

static int64_t checkcount(lua_State *L, int i, int64_t min, const char *what)
{
  int isint;
  lua_Integer v = lua_tointegerx(L, i, &isint);
  if (!isint || v < min) {
    lua_pushfstring(L, "%s must be an integer >= %d", what, (int)min);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  return (int64_t)v;
}

/* got (argument arg) must be of want's model and dimension. */
static void samekind(lua_State *L, int arg, const cj_hd *want, const cj_hd *got)
{
  if (want->model != got->model) {
    lua_pushfstring(L, "vectors of one model expected, got %s and %s", cj_hd_model_name(want->model),
                    cj_hd_model_name(got->model));
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  if (want->d != got->d) {
    lua_pushfstring(L, "vectors of one dimension expected, got %I and %I", (lua_Integer)want->d,
                    (lua_Integer)got->d);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
}

/* Argument i as a block: a hypervector, or a non-empty table of them
 * (stacked into a new batch pushed on the stack; returns its index). */
static int blockarg(lua_State *L, int i)
{
  int64_t n, at = 0;
  lhv *first, *out;
  if (!lua_istable(L, i)) {
    checkhv(L, i);
    return i;
  }
  n = (int64_t)lua_rawlen(L, i);
  if (n < 1) luaL_argerror(L, i, "a non-empty list of hypervectors expected");
  lua_rawgeti(L, i, 1);
  if (!(first = testhv(L, -1))) luaL_argerror(L, i, "element 1: hypervector expected");
  lua_pop(L, 1);
  for (int64_t k = 1; k <= n; k++) {           /* count rows, check kinds */
    lhv *x;
    lua_rawgeti(L, i, k);
    if (!(x = testhv(L, -1))) {
      lua_pushfstring(L, "element %I: hypervector expected", (lua_Integer)k);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    if (x->h.model != first->h.model || x->h.d != first->h.d) {
      lua_pushfstring(L, "element %I: vectors of one model and dimension expected, got %s %I and %s %I",
                      (lua_Integer)k, cj_hd_model_name(first->h.model), (lua_Integer)first->h.d,
                      cj_hd_model_name(x->h.model), (lua_Integer)x->h.d);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    at += x->h.n;
    lua_pop(L, 1);
  }
  out = likehv(L, first, at, 0);               /* stack: ..., batch */
  at = 0;
  for (int64_t k = 1; k <= n; k++) {
    lhv *x;
    size_t nb;
    lua_rawgeti(L, i, k);
    x = testhv(L, -1);
    nb = (size_t)x->h.n * cj_hd_rowbytes(x->h.model, x->h.d);
    if (nb) memcpy(cj_hd_row(&out->h, at), x->h.data, nb);
    at += x->h.n;
    lua_pop(L, 1);
  }
  return lua_gettop(L);
}

/* A scratch buffer the collector owns (pushed). */
static void *scratch(lua_State *L, size_t n)
{
  return lua_newuserdatauv(L, n ? n : 1, 0);
}

/* Argument i as n doubles: an array or a table of numbers (want >= 0:
 * that many are required). Pushes a scratch buffer. */
static double *doubles(lua_State *L, int i, int64_t want, int64_t *n, const char *what)
{
  larray *a = cj_testarray(L, i);
  double *v;
  if (!a && !lua_istable(L, i)) {
    lua_pushfstring(L, "%s: array or table of numbers expected", what);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  *n = a ? cj_array_numel(&a->a) : (int64_t)lua_rawlen(L, i);
  if (want >= 0 && *n != want) {
    lua_pushfstring(L, "%s: %I values expected, got %I", what, (lua_Integer)want, (lua_Integer)*n);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  v = scratch(L, sizeof(double) * (size_t)*n);
  for (int64_t k = 0; k < *n; k++) {
    if (a) v[k] = cj_array_getflat(&a->a, k);
    else {
      int ok;
      lua_rawgeti(L, i, k + 1);
      v[k] = lua_tonumberx(L, -1, &ok);
      lua_pop(L, 1);
      if (!ok) {
        lua_pushfstring(L, "%s: element %I is not a number", what, (lua_Integer)k + 1);
        luaL_argerror(L, i, lua_tostring(L, -1));
      }
    }
  }
  return v;
}

/* Argument i as n 1-based integers in 1..max, returned 0-based in a pushed
 * scratch buffer. */
static int64_t *indices(lua_State *L, int i, int64_t max, int64_t *n, const char *what)
{
  double *v = doubles(L, i, -1, n, what);
  int64_t *idx = scratch(L, sizeof(int64_t) * (size_t)*n);
  for (int64_t k = 0; k < *n; k++) {
    if (!(v[k] >= 1 && v[k] <= (double)max && v[k] == (double)(int64_t)v[k])) {
      lua_pushfstring(L, "%s: element %I (%f) is not an integer in 1..%I", what, (lua_Integer)k + 1,
                      v[k], (lua_Integer)max);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    idx[k] = (int64_t)v[k] - 1;
  }
  return idx;
}

/* ---- constructors and conversions ---------------------------------------- */

static const char *const seedopt[] = { "seed", NULL };

/* random(n, d [, model] [, opts]) */
static int hd_random(lua_State *L)
{
  lua_settop(L, 4);
  static const char *const known[] = { "seed", "unitary", NULL };
  int64_t n = checkcount(L, 1, 0, "number of vectors"), d = checkcount(L, 2, 1, "dimension");
  int next, o;
  cj_hd_model m = optmodel(L, 3, &next);
  cj_rng own, *r;
  int unitary;
  o = lopt_at(L, next, known);
  unitary = lopt_bool(L, o, "unitary", 0);
  r = lopt_rng(L, o, 0, &own);
  if (cj_hd_random(r, &newhv(L, m, n, d, 0)->h, unitary)) corefail(L);
  return 1;
}

/* from_array(a, model [, opts]) */
static int hd_from_array(lua_State *L)
{
  lua_settop(L, 3);
  static const char *const known[] = { "complex", NULL };
  larray *a = cj_checkarray(L, 1);
  cj_hd_model m = checkmodel(L, 2);
  int o = lopt_at(L, 3, known), cplx = lopt_bool(L, o, "complex", 0), nd = a->a.ndim - cplx;
  int64_t n, d;
  lhv *h;
  if (cplx && (m != CJ_HD_FHRR || a->a.ndim < 1 || a->a.shape[a->a.ndim - 1] != 2))
    luaL_argerror(L, 1, "complex = true wants an fhrr array whose last dimension is 2 (re, im)");
  if (nd != 1 && nd != 2) luaL_argerror(L, 1, "a vector (1-D) or one vector per row (2-D) expected");
  n = nd == 2 ? a->a.shape[0] : 1;
  d = a->a.shape[nd - 1];
  if (d < 1) luaL_argerror(L, 1, "zero-length vectors");
  h = newhv(L, m, n, d, nd == 1);
  if (n) memset(h->h.data, 0, (size_t)n * cj_hd_rowbytes(m, d));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) {
      int64_t k = (i * d + j) * (cplx ? 2 : 1);
      double v = cj_array_getflat(&a->a, k);
      if (m == CJ_HD_BSC) {
        uint64_t *w = cj_hd_row(&h->h, i);
        if (v != 0) w[j >> 6] |= (uint64_t)1 << (j & 63);
      } else if (m != CJ_HD_FHRR) {
        ((double *)cj_hd_row(&h->h, i))[j] = v;
      } else {
        double *c = (double *)cj_hd_row(&h->h, i) + 2 * j;
        if (cplx) {
          c[0] = v;
          c[1] = cj_array_getflat(&a->a, k + 1);
        } else {
          c[0] = cos(v);
          c[1] = sin(v);
        }
      }
    }
  return 1;
}

/* v:array() -> array */
static int v_array(lua_State *L)
{
  lhv *h = checkhv(L, 1);
  int64_t shape[3], n = h->h.n, d = h->h.d;
  int nd = 0;
  larray *a;
  if (!h->single) shape[nd++] = n;
  shape[nd++] = d;
  if (h->h.model == CJ_HD_FHRR) shape[nd++] = 2;
  a = cj_newarray(L, h->h.model == CJ_HD_BSC ? CJ_U8 : CJ_F64, nd, shape);
  if (h->h.model == CJ_HD_BSC) {
    uint8_t *o = a->a.data;
    for (int64_t i = 0; i < n; i++) {
      const uint64_t *w = cj_hd_row(&h->h, i);
      for (int64_t j = 0; j < d; j++) o[i * d + j] = (uint8_t)((w[j >> 6] >> (j & 63)) & 1);
    }
  } else if (n) {
    memcpy(a->a.data, h->h.data, (size_t)n * cj_hd_rowbytes(h->h.model, d));
  }
  return 1;
}

/* v:phases() -> array of angles (fhrr) */
static int v_phases(lua_State *L)
{
  lhv *h = checkhv(L, 1);
  int64_t shape[2], n = h->h.n, d = h->h.d;
  int nd = 0;
  double *o;
  if (h->h.model != CJ_HD_FHRR) luaL_argerror(L, 1, "phases of fhrr vectors only");
  if (!h->single) shape[nd++] = n;
  shape[nd++] = d;
  o = cj_newarray(L, CJ_F64, nd, shape)->a.data;
  for (int64_t k = 0; k < n * d; k++) {
    const double *c = (const double *)h->h.data + 2 * k;
    o[k] = atan2(c[1], c[0]);
  }
  return 1;
}

/* Push rows idx[0..n-1] of h as a batch (or a single vector). */
static void pushrows(lua_State *L, const lhv *h, const int64_t *idx, int64_t n, int single)
{
  lhv *o = likehv(L, h, n, single);
  size_t rb = cj_hd_rowbytes(h->h.model, h->h.d);
  for (int64_t k = 0; k < n; k++) memcpy(cj_hd_row(&o->h, k), cj_hd_row(&h->h, idx[k]), rb);
}

/* v:rows(idx) -> batch of the rows idx (1-based) */
static int v_rows(lua_State *L)
{
  lua_settop(L, 2);
  lhv *h = checkhv(L, 1);
  int64_t n, *idx = indices(L, 2, h->h.n, &n, "rows");
  pushrows(L, h, idx, n, 0);
  return 1;
}

/* stack(list) -> batch */
static int hd_stack(lua_State *L)
{
  lua_settop(L, 1);
  int i;
  luaL_checktype(L, 1, LUA_TTABLE);
  i = blockarg(L, 1);
  lua_pushvalue(L, i);
  return 1;
}

static int v_index(lua_State *L)
{
  lhv *h = checkhv(L, 1);
  int isint;
  lua_Integer i = lua_tointegerx(L, 2, &isint);
  if (isint) {
    int64_t k = (int64_t)i - 1;
    if (i < 1 || i > h->h.n) {
      lua_pushfstring(L, "row %I out of range 1..%I", i, (lua_Integer)h->h.n);
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    pushrows(L, h, &k, 1, 1);
    return 1;
  }
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL) return 1;
    if (strcmp(k, "model") == 0) lua_pushstring(L, cj_hd_model_name(h->h.model));
    else if (strcmp(k, "dim") == 0) lua_pushinteger(L, (lua_Integer)h->h.d);
    else lua_pushnil(L);
    return 1;
  }
  return luaL_typeerror(L, 2, "row number or method name");
}

static int v_len(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)checkhv(L, 1)->h.n);
  return 1;
}

static int v_tostring(lua_State *L)
{
  lhv *h = checkhv(L, 1);
  if (h->single) lua_pushfstring(L, "hypervector(%s, d=%I)", cj_hd_model_name(h->h.model), (lua_Integer)h->h.d);
  else lua_pushfstring(L, "hypervectors(%s, %I x d=%I)", cj_hd_model_name(h->h.model), (lua_Integer)h->h.n,
                       (lua_Integer)h->h.d);
  return 1;
}

/* ---- operations ------------------------------------------------------------ */

/* Rows of a and b pair up: equal counts, or one of them is 1 row. */
static int64_t pairrows(lua_State *L, const lhv *a, const lhv *b)
{
  if (a->h.n != b->h.n && a->h.n != 1 && b->h.n != 1) {
    lua_pushfstring(L, "%I vectors (or 1) expected, got %I", (lua_Integer)a->h.n, (lua_Integer)b->h.n);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  return a->h.n == 1 ? b->h.n : a->h.n;
}

static int bindop(lua_State *L, int unbind)
{
  lua_settop(L, 2);
  lhv *a = checkhv(L, 1), *b = checkhv(L, 2), *o;
  int64_t n;
  samekind(L, 2, &a->h, &b->h);
  n = pairrows(L, a, b);
  o = likehv(L, a, n, a->single && b->single);
  if (cj_hd_bind(&o->h, &a->h, &b->h, unbind)) corefail(L);
  return 1;
}

static int hd_bind(lua_State *L) { return bindop(L, 0); }
static int hd_unbind(lua_State *L) { return bindop(L, 1); }

/* Normalise the vector on top in place when opts.normalise is set. */
static void maybenormalise(lua_State *L, int o, cj_rng *r)
{
  lhv *h = testhv(L, -1);
  if (lopt_bool(L, o, "normalise", 0) && cj_hd_normalise(&h->h, &h->h, r)) corefail(L);
}

/* Position of the weights and of the options of (x [, weights] [, opts]):
 * a list or an array at 2 is weights, another table options. */
static void weightsopts(lua_State *L, int *wi, int *oi)
{
  *wi = 0;
  *oi = 3;
  if (cj_testarray(L, 2) || (lua_istable(L, 2) && lua_rawlen(L, 2) > 0)) *wi = 2;
  else if (lua_istable(L, 2)) *oi = 2;
  else if (!lua_isnoneornil(L, 2)) luaL_typeerror(L, 2, "weights or options");
}

/* bundle(x [, weights] [, opts]) */
static int hd_bundle(lua_State *L)
{
  lua_settop(L, 3);
  static const char *const known[] = { "seed", "normalise", NULL };
  int xi = blockarg(L, 1), wi, oi, o;
  lhv *x = testhv(L, xi), *out;
  double *w = NULL;
  cj_rng own, *r;
  weightsopts(L, &wi, &oi);
  o = lopt_at(L, oi, known);
  if (x->h.n < 1) luaL_argerror(L, 1, "no vectors to bundle");
  if (wi) {
    int64_t n;
    w = doubles(L, wi, x->h.n, &n, "weights");
    for (int64_t k = 0; k < n; k++)
      if (!isfinite(w[k])) luaL_argerror(L, wi, "weights must be finite");
  }
  r = lopt_rng(L, o, TIES, &own);
  out = likehv(L, x, 1, 1);
  if (cj_hd_bundle(&out->h, &x->h, w, r)) corefail(L);
  maybenormalise(L, o, r);
  return 1;
}

/* normalise(x [, opts]) */
static int hd_normalise(lua_State *L)
{
  lua_settop(L, 2);
  lhv *x = checkhv(L, 1), *o;
  int oi = lopt_at(L, 2, seedopt);
  cj_rng own, *r = lopt_rng(L, oi, TIES, &own);
  o = likehv(L, x, x->h.n, x->single);
  if (cj_hd_normalise(&o->h, &x->h, r)) corefail(L);
  return 1;
}

/* permute(x, k | perm [, opts]) */
static int hd_permute(lua_State *L)
{
  lua_settop(L, 3);
  static const char *const known[] = { "inverse", NULL };
  lhv *x = checkhv(L, 1), *out;
  int o = lopt_at(L, 3, known), inverse = lopt_bool(L, o, "inverse", 0);
  if (lua_isinteger(L, 2)) {
    lua_Integer k = lua_tointeger(L, 2);
    out = likehv(L, x, x->h.n, x->single);
    if (cj_hd_shift(&out->h, &x->h, inverse ? -(k % x->h.d) : k)) corefail(L);
  } else if (lua_istable(L, 2) || cj_testarray(L, 2)) {
    int64_t n, *perm = indices(L, 2, x->h.d, &n, "permutation");
    if (n != x->h.d) {
      lua_pushfstring(L, "permutation of %I positions expected, got %I", (lua_Integer)x->h.d, (lua_Integer)n);
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    out = likehv(L, x, x->h.n, x->single);
    if (cj_hd_permute(&out->h, &x->h, perm, inverse)) {
      const char *msg = cj_errmsg(), *p = strstr(msg, ": ");
      luaL_argerror(L, 2, p ? p + 2 : msg);          /* without the core's "permute: " */
    }
  } else {
    luaL_typeerror(L, 2, "integer shift or permutation");
  }
  return 1;
}

/* similarity(a, b) -> number | array */
static int hd_similarity(lua_State *L)
{
  lua_settop(L, 2);
  lhv *a = checkhv(L, 1), *b = checkhv(L, 2);
  int64_t shape[2];
  int nd = 0;
  larray *s;
  samekind(L, 2, &a->h, &b->h);
  if (!a->single) shape[nd++] = a->h.n;
  if (!b->single) shape[nd++] = b->h.n;
  s = cj_newarray(L, CJ_F64, nd, shape);
  if (cj_hd_similarity(s->a.data, &a->h, &b->h)) corefail(L);
  if (nd == 0) lua_pushnumber(L, ((double *)s->a.data)[0]);
  return 1;
}

/* ---- encoders -------------------------------------------------------------- */

static const char *const encopts[] = { "seed", "normalise", NULL };

/* sequence(x [, opts]) */
static int hd_sequence(lua_State *L)
{
  lua_settop(L, 2);
  int xi = blockarg(L, 1), o = lopt_at(L, 2, encopts);
  lhv *x = testhv(L, xi), *out;
  cj_rng own, *r = lopt_rng(L, o, TIES, &own);
  if (x->h.n < 1) luaL_argerror(L, 1, "no vectors");
  out = likehv(L, x, 1, 1);
  if (cj_hd_sequence(&out->h, &x->h, r)) corefail(L);
  maybenormalise(L, o, r);
  return 1;
}

/* ngram(x) */
static int hd_ngram(lua_State *L)
{
  lua_settop(L, 1);
  int xi = blockarg(L, 1);
  lhv *x = testhv(L, xi), *out;
  if (x->h.n < 1) luaL_argerror(L, 1, "no vectors");
  out = likehv(L, x, 1, 1);
  if (cj_hd_ngram(&out->h, &x->h)) corefail(L);
  return 1;
}

/* record(keys, values [, opts]): bundle of bind(keys_i, values_i) */
static int hd_record(lua_State *L)
{
  lua_settop(L, 3);
  int ki = blockarg(L, 1), vi = blockarg(L, 2), o = lopt_at(L, 3, encopts);
  lhv *k = testhv(L, ki), *v = testhv(L, vi), *pairs, *out;
  cj_rng own, *r = lopt_rng(L, o, TIES, &own);
  samekind(L, 2, &k->h, &v->h);
  if (k->h.n != v->h.n) {
    lua_pushfstring(L, "%I values expected (one per key), got %I", (lua_Integer)k->h.n, (lua_Integer)v->h.n);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  if (k->h.n < 1) luaL_argerror(L, 1, "no keys");
  pairs = likehv(L, k, k->h.n, 0);
  if (cj_hd_bind(&pairs->h, &k->h, &v->h, 0)) corefail(L);
  out = likehv(L, k, 1, 1);
  if (cj_hd_bundle(&out->h, &pairs->h, NULL, r)) corefail(L);
  maybenormalise(L, o, r);
  return 1;
}

/* levels(n, d [, model] [, opts]) */
static int hd_levels(lua_State *L)
{
  lua_settop(L, 4);
  int64_t n = checkcount(L, 1, 1, "number of levels"), d = checkcount(L, 2, 1, "dimension");
  int next, o;
  cj_hd_model m = optmodel(L, 3, &next);
  cj_rng own, *r;
  o = lopt_at(L, next, seedopt);
  r = lopt_rng(L, o, 0, &own);
  if (cj_hd_levels(r, &newhv(L, m, n, d, 0)->h)) corefail(L);
  return 1;
}

/* Values of argument i: a number (*single set) or an array / table. */
static double *values(lua_State *L, int i, int64_t *n, int *single, const char *what)
{
  double *v;
  *single = lua_type(L, i) == LUA_TNUMBER;
  if (!*single) return doubles(L, i, -1, n, what);
  v = scratch(L, sizeof(double));
  *v = lua_tonumber(L, i);
  *n = 1;
  return v;
}

/* scalar(levels, x, lo, hi) */
static int hd_scalar(lua_State *L)
{
  lua_settop(L, 4);
  lhv *lv = checkhv(L, 1);
  double lo = luaL_checknumber(L, 3), hi = luaL_checknumber(L, 4), *x;
  int64_t n, *idx;
  int single;
  luaL_argcheck(L, lv->h.n >= 1, 1, "no levels");
  luaL_argcheck(L, isfinite(lo) && isfinite(hi) && lo < hi, 4, "finite lo < hi expected");
  x = values(L, 2, &n, &single, "values");
  idx = scratch(L, sizeof(int64_t) * (size_t)n);
  for (int64_t k = 0; k < n; k++) {
    double q = (x[k] - lo) / (hi - lo) * (double)(lv->h.n - 1);
    if (isnan(q)) luaL_argerror(L, 2, "NaN cannot be encoded");
    q = floor(q + 0.5);
    idx[k] = q < 0 ? 0 : q > (double)(lv->h.n - 1) ? lv->h.n - 1 : (int64_t)q;
  }
  pushrows(L, lv, idx, n, single);
  return 1;
}

/* fpe(base, x) */
static int hd_fpe(lua_State *L)
{
  lua_settop(L, 2);
  lhv *b = checkhv(L, 1), *out;
  int64_t n;
  int single;
  double *x;
  if (b->h.model != CJ_HD_HRR && b->h.model != CJ_HD_FHRR) {
    lua_pushfstring(L, "hrr or fhrr base expected, got %s", cj_hd_model_name(b->h.model));
    luaL_argerror(L, 1, lua_tostring(L, -1));
  }
  luaL_argcheck(L, b->h.n == 1, 1, "one base vector expected");
  x = values(L, 2, &n, &single, "exponents");
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(x[k])) luaL_argerror(L, 2, "exponents must be finite");
  out = likehv(L, b, n, single);
  if (cj_hd_fpe(&out->h, &b->h, x)) corefail(L);
  return 1;
}

/* ---- item and clean-up memories ------------------------------------------------ */

/* Stack at a memory method: the buffer (uv 1) and names (uv 2) of the
 * memory at index m, pushed. */
static lhv *membuf(lua_State *L, int m)
{
  lua_getiuservalue(L, m, 1);
  return testhv(L, -1);
}

static void memnames(lua_State *L, int m)
{
  lua_getiuservalue(L, m, 2);
}

static uint64_t namehash(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ULL;               /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h & ~((uint64_t)1 << 63);
}

/* Append row (NULL: the random vector of the name) under the name at
 * stack index ni. Raises if the name is taken. */
static void memappend(lua_State *L, int m, int ni, const void *row)
{
  lmem *mem = checkmem(L, m);
  size_t len, rb = cj_hd_rowbytes(mem->model, mem->d);
  const char *name = lua_tolstring(L, ni, &len);
  lhv *buf = membuf(L, m);                               /* stack: buf */
  memnames(L, m);                                        /* stack: buf, names */
  lua_pushvalue(L, ni);
  if (lua_rawget(L, -2) != LUA_TNIL) {
    lua_pushfstring(L, "symbol '%s' is already in the memory", name);
    luaL_argerror(L, ni, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  if (mem->n == buf->h.n) {                              /* grow: double the rows */
    lhv *nb = newhv(L, mem->model, buf->h.n ? 2 * buf->h.n : 16, mem->d, 0);
    if (mem->n) memcpy(nb->h.data, buf->h.data, (size_t)mem->n * rb);
    lua_setiuservalue(L, m, 1);
    buf = membuf(L, m);
    lua_replace(L, -3);                                  /* stack: buf, names, */
  }
  if (row) memcpy(cj_hd_row(&buf->h, mem->n), row, rb);
  else {
    cj_rng r;
    cj_hd one = { mem->model, 1, mem->d, cj_hd_row(&buf->h, mem->n) };
    cj_rng_init(&r, mem->seed, namehash(name, len));
    if (cj_hd_random(&r, &one, 0)) corefail(L);
  }
  mem->n++;
  lua_pushvalue(L, ni);
  lua_rawseti(L, -2, mem->n);                            /* names[n] = name */
  lua_pushvalue(L, ni);
  lua_pushinteger(L, (lua_Integer)mem->n);
  lua_rawset(L, -3);                                     /* names[name] = n */
  lua_pop(L, 2);
}

static lmem *newmem(lua_State *L, cj_hd_model m, int64_t d, uint64_t seed)
{
  lmem *mem = lua_newuserdatauv(L, sizeof(lmem), 2);
  *mem = (lmem){ m, d, 0, seed };
  luaL_setmetatable(L, CJ_HDMEM);
  newhv(L, m, 0, d, 0);
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 2);
  return mem;
}

static uint64_t memseed(lua_State *L, int o)
{
  lua_Integer s = lopt_integer(L, o, "seed", -1);
  cj_rng *r = cj_default_rng();
  if (lopt_get(L, o, "seed")) {
    lua_pop(L, 1);
    if (s < 0) lopt_bad(L, o, "seed", "a non-negative integer");
    return (uint64_t)s;
  }
  return ((uint64_t)cj_rng_u32(r) << 32 | cj_rng_u32(r)) & ~((uint64_t)1 << 63);
}

static void checkname(lua_State *L, int i, const char *what)
{
  if (lua_type(L, i) != LUA_TSTRING) {
    lua_pushfstring(L, "%s must be a string (got %s)", what, luaL_typename(L, i));
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
}

/* item_memory(symbols, d [, model] [, opts]) */
static int hd_item_memory(lua_State *L)
{
  lua_settop(L, 4);
  int64_t d = checkcount(L, 2, 1, "dimension"), n;
  int next, o, m;
  cj_hd_model model;
  luaL_checktype(L, 1, LUA_TTABLE);
  model = optmodel(L, 3, &next);
  o = lopt_at(L, next, seedopt);
  n = (int64_t)lua_rawlen(L, 1);
  newmem(L, model, d, memseed(L, o));
  m = lua_gettop(L);
  for (int64_t k = 1; k <= n; k++) {
    lua_rawgeti(L, 1, k);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pushfstring(L, "symbol %I must be a string (got %s)", (lua_Integer)k, luaL_typename(L, -1));
      luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    memappend(L, m, lua_gettop(L), NULL);
    lua_pop(L, 1);
  }
  lua_settop(L, m);
  return 1;
}

/* cleanup(vectors [, names] [, opts]) */
static int hd_cleanup(lua_State *L)
{
  lua_settop(L, 3);
  int xi = blockarg(L, 1), named, oi, o, m;
  lhv *x = testhv(L, xi);
  weightsopts(L, &named, &oi);
  o = lopt_at(L, oi, seedopt);
  luaL_argcheck(L, !cj_testarray(L, 2), 2, "names must be a list of strings");
  if (named && (int64_t)lua_rawlen(L, 2) != x->h.n) {
    lua_pushfstring(L, "%I names expected (one per vector), got %I", (lua_Integer)x->h.n,
                    (lua_Integer)lua_rawlen(L, 2));
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  newmem(L, x->h.model, x->h.d, memseed(L, o));
  m = lua_gettop(L);
  for (int64_t k = 0; k < x->h.n; k++) {
    if (named) {
      lua_rawgeti(L, 2, k + 1);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 2, "names must be strings");
    } else {
      lua_pushfstring(L, "%I", (lua_Integer)k + 1);
    }
    memappend(L, m, lua_gettop(L), cj_hd_row(&x->h, k));
    lua_pop(L, 1);
  }
  lua_settop(L, m);
  return 1;
}

/* The 1-based index of the name at i (0 if unknown); names table at t. */
static int64_t lookup(lua_State *L, int t, int i)
{
  int64_t k;
  lua_pushvalue(L, i);
  lua_rawget(L, t);
  k = lua_isinteger(L, -1) ? (int64_t)lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  return k;
}

static int64_t checksymbol(lua_State *L, int t, int i, int arg)
{
  int64_t k = lookup(L, t, i);
  if (!k) {
    lua_pushfstring(L, "unknown symbol '%s'", luaL_tolstring(L, i, NULL));
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return k;
}

/* Symbols of argument i as 0-based rows (pushed scratch): a name, a list
 * of names, or a string read as UTF-8 characters when chars is set. */
static int64_t *symbols(lua_State *L, int m, int i, int chars, int64_t *n)
{
  int t, top;
  int64_t *idx;
  memnames(L, m);
  t = lua_gettop(L);
  if (lua_type(L, i) == LUA_TSTRING && chars) {
    size_t len, p = 0;
    const char *s = lua_tolstring(L, i, &len);
    idx = scratch(L, sizeof(int64_t) * (len ? len : 1));
    *n = 0;
    while (p < len) {
      size_t q = p + 1;
      unsigned char c = (unsigned char)s[p];
      int extra = c < 0x80 ? 0 : c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
      for (int e = 0; e < extra; e++, q++)
        if (q >= len || ((unsigned char)s[q] & 0xc0) != 0x80) extra = -1;
      if (extra < 0) {
        lua_pushfstring(L, "invalid UTF-8 at byte %I", (lua_Integer)p + 1);
        luaL_argerror(L, i, lua_tostring(L, -1));
      }
      lua_pushlstring(L, s + p, q - p);
      idx[(*n)++] = checksymbol(L, t, lua_gettop(L), i) - 1;
      lua_pop(L, 1);
      p = q;
    }
    return idx;
  }
  if (lua_type(L, i) == LUA_TSTRING) {
    idx = scratch(L, sizeof(int64_t));
    *n = 1;
    idx[0] = checksymbol(L, t, i, i) - 1;
    return idx;
  }
  luaL_argexpected(L, lua_istable(L, i), i, "symbol name or list of names");
  *n = (int64_t)lua_rawlen(L, i);
  idx = scratch(L, sizeof(int64_t) * (size_t)(*n ? *n : 1));
  top = lua_gettop(L);
  for (int64_t k = 0; k < *n; k++) {
    lua_rawgeti(L, i, k + 1);
    idx[k] = checksymbol(L, t, top + 1, i) - 1;
    lua_settop(L, top);
  }
  return idx;
}

/* mem:add(name [, v]) -> mem */
static int m_add(lua_State *L)
{
  lua_settop(L, 3);
  lmem *mem = checkmem(L, 1);
  lhv *v = NULL;
  checkname(L, 2, "symbol");
  if (!lua_isnoneornil(L, 3)) {
    cj_hd want = { mem->model, 1, mem->d, NULL };
    v = checkhv(L, 3);
    samekind(L, 3, &want, &v->h);
    luaL_argcheck(L, v->h.n == 1, 3, "one vector expected");
  }
  memappend(L, 1, 2, v ? v->h.data : NULL);
  lua_settop(L, 1);
  return 1;
}

/* mem:get(name | names) -> vector | batch */
static int m_get(lua_State *L)
{
  lua_settop(L, 2);
  int64_t n, *idx;
  lhv *buf;
  checkmem(L, 1);
  idx = symbols(L, 1, 2, 0, &n);
  buf = membuf(L, 1);
  pushrows(L, buf, idx, n, lua_type(L, 2) == LUA_TSTRING);
  return 1;
}

/* mem:indices(names | text) -> int32 array (1-based) */
static int m_indices(lua_State *L)
{
  lua_settop(L, 2);
  int64_t n, *idx;
  int32_t *o;
  checkmem(L, 1);
  idx = symbols(L, 1, 2, 1, &n);
  o = cj_newarray(L, CJ_I32, 1, &n)->a.data;
  for (int64_t k = 0; k < n; k++) o[k] = (int32_t)(idx[k] + 1);
  return 1;
}

/* mem:has(name) -> boolean */
static int m_has(lua_State *L)
{
  checkmem(L, 1);
  luaL_checkany(L, 2);
  memnames(L, 1);
  lua_pushboolean(L, lua_type(L, 2) == LUA_TSTRING && lookup(L, lua_gettop(L), 2) > 0);
  return 1;
}

/* mem:index(name) -> integer */
static int m_index(lua_State *L)
{
  lua_settop(L, 2);
  int64_t n, *idx;
  checkmem(L, 1);
  checkname(L, 2, "symbol");
  idx = symbols(L, 1, 2, 0, &n);
  lua_pushinteger(L, (lua_Integer)idx[0] + 1);
  return 1;
}

/* mem:names() -> list */
static int m_names(lua_State *L)
{
  lmem *mem = checkmem(L, 1);
  memnames(L, 1);
  lua_createtable(L, mem->n < INT32_MAX ? (int)mem->n : 0, 0);
  for (int64_t k = 1; k <= mem->n; k++) {
    lua_rawgeti(L, -2, k);
    lua_rawseti(L, -2, k);
  }
  return 1;
}

/* The memory's rows as a block view (no copy; valid while buf is on the stack). */
static cj_hd memrows(lua_State *L, int m)
{
  lmem *mem = checkmem(L, m);
  lhv *buf = membuf(L, m);
  return (cj_hd){ mem->model, mem->n, mem->d, buf->h.data };
}

/* mem:vectors() -> batch */
static int m_vectors(lua_State *L)
{
  cj_hd rows = memrows(L, 1);
  lhv *o = newhv(L, rows.model, rows.n, rows.d, 0);
  if (rows.n) memcpy(o->h.data, rows.data, (size_t)rows.n * cj_hd_rowbytes(rows.model, rows.d));
  return 1;
}

/* mem:nearest(x) -> name, similarity, index | names, similarities, indices */
static int m_nearest(lua_State *L)
{
  lua_settop(L, 2);
  cj_hd rows = memrows(L, 1);
  lhv *x = checkhv(L, 2);
  int64_t *idx, n = x->h.n;
  double *sim;
  int32_t *ix;
  luaL_argcheck(L, rows.n > 0, 1, "the memory is empty");
  samekind(L, 2, &rows, &x->h);
  idx = scratch(L, sizeof(int64_t) * (size_t)n);
  sim = scratch(L, sizeof(double) * (size_t)n);
  if (cj_hd_nearest(&rows, &x->h, idx, sim)) corefail(L);
  memnames(L, 1);                                        /* stack: ..., names */
  if (x->single) {
    lua_rawgeti(L, -1, idx[0] + 1);
    lua_pushnumber(L, sim[0]);
    lua_pushinteger(L, (lua_Integer)idx[0] + 1);
    return 3;
  }
  lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
  for (int64_t k = 0; k < n; k++) {
    lua_rawgeti(L, -2, idx[k] + 1);
    lua_rawseti(L, -2, k + 1);
  }
  memcpy(cj_newarray(L, CJ_F64, 1, &n)->a.data, sim, sizeof(double) * (size_t)n);
  ix = cj_newarray(L, CJ_I32, 1, &n)->a.data;
  for (int64_t k = 0; k < n; k++) ix[k] = (int32_t)(idx[k] + 1);
  return 3;
}

/* mem:recall(x [, opts]) -> vector(s), steps */
static int m_recall(lua_State *L)
{
  lua_settop(L, 3);
  static const char *const known[] = { "beta", "steps", "seed", NULL };
  cj_hd rows = memrows(L, 1);
  lhv *x = checkhv(L, 2), *out;
  int o = lopt_at(L, 3, known), iters = 0;
  double beta = lopt_number(L, o, "beta", 0);
  lua_Integer steps = lopt_integer(L, o, "steps", 20);
  cj_rng own, *r = lopt_rng(L, o, TIES, &own);
  luaL_argcheck(L, rows.n > 0, 1, "the memory is empty");
  samekind(L, 2, &rows, &x->h);
  if (beta < 0) lopt_bad(L, o, "beta", ">= 0");
  if (steps < 1 || steps > INT32_MAX) lopt_bad(L, o, "steps", "a positive integer");
  if (beta == 0 && rows.model == CJ_HD_HRR)
    lopt_bad(L, o ? o : 3, "beta", "> 0 for hrr (linear normalisation: the outer-product rule has no attractors)");
  out = likehv(L, x, x->h.n, x->single);
  if (cj_hd_recall(&out->h, &rows, &x->h, beta, (int)steps, r, &iters)) corefail(L);
  lua_pushinteger(L, iters);
  return 2;
}

static int m_len(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)checkmem(L, 1)->n);
  return 1;
}

static int m_tostring(lua_State *L)
{
  lmem *mem = checkmem(L, 1);
  lua_pushfstring(L, "item memory(%s, d=%I, %I symbols)", cj_hd_model_name(mem->model),
                  (lua_Integer)mem->d, (lua_Integer)mem->n);
  return 1;
}

/* ngrams(codebook, seq, n [, opts]) */
static int hd_ngrams(lua_State *L)
{
  lua_settop(L, 4);
  int o = lopt_at(L, 4, encopts), ismem = luaL_testudata(L, 1, CJ_HDMEM) != NULL;
  int64_t n = checkcount(L, 3, 1, "n"), len, *idx;
  cj_hd cb;
  lhv *out;
  cj_rng own, *r = lopt_rng(L, o, TIES, &own);
  if (ismem) {
    cb = memrows(L, 1);
    idx = symbols(L, 1, 2, 1, &len);
  } else {
    cb = checkhv(L, 1)->h;
    if (lua_type(L, 2) == LUA_TSTRING) luaL_argerror(L, 2, "text needs an item memory as codebook");
    idx = indices(L, 2, cb.n, &len, "sequence");
  }
  luaL_argcheck(L, n <= INT32_MAX, 3, "n is too large");
  if (len < n) {
    lua_pushfstring(L, "a sequence of %I symbols has no %I-gram", (lua_Integer)len, (lua_Integer)n);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  out = newhv(L, cb.model, 1, cb.d, 1);
  if (cj_hd_ngrams(&out->h, &cb, idx, len, (int)n, r)) corefail(L);
  maybenormalise(L, o, r);
  return 1;
}

/* ---- registration ------------------------------------------------------------ */

static const luaL_Reg funcs[] = {
  {"random", hd_random}, {"from_array", hd_from_array}, {"stack", hd_stack},
  {"bind", hd_bind}, {"unbind", hd_unbind}, {"bundle", hd_bundle},
  {"permute", hd_permute}, {"similarity", hd_similarity}, {"normalise", hd_normalise},
  {"sequence", hd_sequence}, {"ngram", hd_ngram}, {"ngrams", hd_ngrams}, {"record", hd_record},
  {"levels", hd_levels}, {"scalar", hd_scalar}, {"fpe", hd_fpe},
  {"item_memory", hd_item_memory}, {"cleanup", hd_cleanup},
  {NULL, NULL}
};

static const luaL_Reg vmethods[] = {
  {"bind", hd_bind}, {"unbind", hd_unbind}, {"bundle", hd_bundle}, {"permute", hd_permute},
  {"similarity", hd_similarity}, {"normalise", hd_normalise}, {"array", v_array},
  {"phases", v_phases}, {"rows", v_rows},
  {NULL, NULL}
};

static const luaL_Reg mmethods[] = {
  {"add", m_add}, {"get", m_get}, {"has", m_has}, {"index", m_index}, {"indices", m_indices},
  {"names", m_names}, {"vectors", m_vectors}, {"nearest", m_nearest}, {"recall", m_recall},
  {NULL, NULL}
};

static const cj_doc docs[] = {
  {"random", "cj.hd.random(n, d [, model] [, opts]) -> vectors\n"
   "n random hypervectors of dimension d (a batch of n rows) of model \"bsc\", \"map\"\n"
   "(default), \"hrr\" or \"fhrr\": bsc random bits, map +-1, hrr N(0, 1/d) elements, fhrr\n"
   "phases uniform on [0, 2 pi). opts.seed: draw from that seed (stream 0) instead of\n"
   "cj.seed's generator; opts.unitary (hrr): Fourier coefficients of modulus 1 (exact\n"
   "inverses, real fractional powers)."},
  {"from_array", "cj.hd.from_array(a, model [, opts]) -> vector(s)\n"
   "Hypervectors from an array: 1-D is one vector, 2-D one per row. bsc: nonzero -> 1;\n"
   "map, hrr: the values; fhrr: phases in radians, or with opts.complex = true the last\n"
   "dimension (2) holds real and imaginary parts."},
  {"stack", "cj.hd.stack(list) -> vectors\n"
   "One batch of the rows of a list of vectors and batches of one model and dimension."},
  {"bind", "cj.hd.bind(a, b) -> vector(s)\n"
   "Binding, dissimilar to both operands: bsc XOR, map elementwise product, hrr circular\n"
   "convolution (by FFT), fhrr elementwise complex product (phases add). Rows pair up;\n"
   "a single vector (or a batch of one) meets every row of the other. Both operands\n"
   "must be of one model and dimension (else an error naming argument 2)."},
  {"unbind", "cj.hd.unbind(c, key) -> vector(s)\n"
   "What was bound to key in c: bsc XOR and map product (exact for +-1 keys), hrr circular\n"
   "correlation (convolution with the involution key[-i mod d], Plate's approximate\n"
   "inverse: clean up the result), fhrr product with the conjugate (exact)."},
  {"bundle", "cj.hd.bundle(x [, weights] [, opts]) -> vector\n"
   "Superposition of the rows of x (a batch or a list of vectors), similar to each: map,\n"
   "hrr, fhrr the (weighted) sum, unnormalised; bsc the (weighted) majority of the bits,\n"
   "ties broken by random bits (opts.seed, stream 1, else cj.seed's generator).\n"
   "opts.normalise = true applies cj.hd.normalise to the result."},
  {"permute", "cj.hd.permute(x, k | perm [, opts]) -> vector(s)\n"
   "Cyclic shift by k positions (out[i] = x[i - k mod d], as numpy.roll(x, k)), or the\n"
   "permutation perm (a list or array of the positions 1..d, out[i] = x[perm[i]]).\n"
   "opts.inverse = true undoes it."},
  {"similarity", "cj.hd.similarity(a, b) -> number | array\n"
   "bsc 1 - 2 hamming / d (by popcount); map, hrr cosine; fhrr Re<a, b> / (|a| |b|). Random\n"
   "vectors give about 0 (+- 1/sqrt(d)). A number for two single vectors, a 1-D array for a\n"
   "vector and a batch, an (n x m) array for two batches."},
  {"normalise", "cj.hd.normalise(x [, opts]) -> vector(s)\n"
   "Back to the model's space: map sign (zeros become +-1 at random), hrr unit Euclidean\n"
   "norm, fhrr modulus 1 per element (zeros get a random phase), bsc unchanged.\n"
   "opts.seed for the random choices (stream 1)."},
  {"sequence", "cj.hd.sequence(x [, opts]) -> vector\n"
   "A sequence by permutation: the bundle of rho^(i-1)(x_i) (row i shifted by i - 1). Read\n"
   "position i back with mem:nearest(cj.hd.permute(s, -(i - 1))). opts: seed, normalise."},
  {"ngram", "cj.hd.ngram(x) -> vector\n"
   "The n-gram of the n rows of x by rotate-and-bind: rho^(n-1)(x_1) * ... * rho(x_(n-1)) * x_n\n"
   "(\"the\" = rho(rho(t)) * rho(h) * e, Joshi, Halseth & Kanerva)."},
  {"ngrams", "cj.hd.ngrams(codebook, seq, n [, opts]) -> vector\n"
   "The bundle of the n-grams of every window of seq: codebook is an item memory (seq a\n"
   "string of its one-character symbols, UTF-8, or a list of names) or a batch (seq 1-based\n"
   "row numbers). Counted per distinct n-gram, so long texts cost little. opts: seed,\n"
   "normalise. An unknown symbol is an error naming it."},
  {"record", "cj.hd.record(keys, values [, opts]) -> vector\n"
   "A key-value record: the bundle of bind(keys_i, values_i) (Kanerva's holistic record);\n"
   "query a field with cj.hd.unbind(record, key). opts: seed, normalise."},
  {"levels", "cj.hd.levels(n, d [, model] [, opts]) -> vectors\n"
   "n level vectors for scalars: level 1 and level n are random, the ones between take\n"
   "each element from the last level when a fixed random threshold lies below their\n"
   "fraction, so the similarity of levels j and k is about 1 - |j - k| / (n - 1). opts.seed."},
  {"scalar", "cj.hd.scalar(levels, x, lo, hi) -> vector(s)\n"
   "Level encoding: the level nearest to x on a linear scale from lo (level 1) to hi\n"
   "(level n), clipped. x a number (one vector) or an array / table (a batch)."},
  {"fpe", "cj.hd.fpe(base, x) -> vector(s)\n"
   "Fractional power encoding: base^x, for an hrr base (powers of its Fourier\n"
   "coefficients; use a unitary base) or an fhrr base (powers of each element: phases\n"
   "times x). The similarity of fpe(x) and fpe(y) is about sinc(x - y); fpe(x + y) =\n"
   "bind(fpe(x), fpe(y)). x a number or an array / table."},
  {"item_memory", "cj.hd.item_memory(symbols, d [, model] [, opts]) -> memory\n"
   "A codebook of random vectors named by the strings in symbols (more with mem:add). The\n"
   "vector of a symbol depends only on opts.seed and its name (drawn from cj.seed's\n"
   "generator when no seed is given), so memories with one seed agree. Also a clean-up\n"
   "memory: mem:nearest, mem:recall."},
  {"cleanup", "cj.hd.cleanup(vectors [, names] [, opts]) -> memory\n"
   "A clean-up memory of the given vectors (a batch or a list), named by names (default\n"
   "\"1\", \"2\", ...): mem:nearest(x) finds the stored vector most similar to x,\n"
   "mem:recall(x) lets x settle in an attractor network of the stored vectors."},
  {NULL, NULL}
};

static const cj_doc vdocs[] = {
  {"array", "hv:array() -> array\n"
   "The vector(s) as an array: (d) for one vector, (n, d) for a batch; bsc uint8 0/1, map\n"
   "and hrr float64, fhrr float64 with a last dimension of 2 (re, im). Fields: hv.model,\n"
   "hv.dim; #hv is the number of vectors, hv[i] vector i."},
  {"phases", "hv:phases() -> array\nThe phases (radians, -pi..pi) of fhrr vectors."},
  {"rows", "hv:rows(idx) -> vectors\nA batch of the rows idx (a list or array of 1-based row numbers)."},
  {NULL, NULL}
};

static const cj_doc mdocs[] = {
  {"add", "memory:add(name [, v]) -> memory\n"
   "Add a symbol: the vector v (one vector of the memory's model and dimension), or its\n"
   "random vector (from the memory's seed and the name). A name already present is an error."},
  {"get", "memory:get(name | names) -> vector(s)\n"
   "The vector of a symbol, or a batch for a list of names. An unknown symbol is an error."},
  {"has", "memory:has(name) -> boolean\nWhether the symbol is in the memory."},
  {"index", "memory:index(name) -> integer\nThe row of a symbol (1-based); an unknown symbol is an error."},
  {"indices", "memory:indices(names | text) -> array\n"
   "The rows (int32, 1-based) of a list of names, or of the UTF-8 characters of a string."},
  {"names", "memory:names() -> list\nThe symbols in row order."},
  {"vectors", "memory:vectors() -> vectors\nThe stored vectors as one batch (a copy)."},
  {"nearest", "memory:nearest(x) -> name, similarity, index | names, similarities, indices\n"
   "Clean-up by nearest neighbour: the stored vector most similar to x (the first of equals).\n"
   "For a batch: a list of names, an array of similarities and an int32 array of rows."},
  {"recall", "memory:recall(x [, opts]) -> vector(s), steps\n"
   "Autoassociative clean-up: x settles in an attractor network whose patterns are the\n"
   "stored vectors, x <- normalise(sum_i w_i m_i) with w_i = similarity(m_i, x) (opts.beta\n"
   "= 0, the default: Hopfield's outer-product rule; for fhrr the phasor network) or\n"
   "w = softmax(beta similarity) (beta > 0: a dense associative memory; required for\n"
   "hrr), for at most opts.steps (20) steps or until x stops changing."},
  {NULL, NULL}
};

void cj_open_hd(lua_State *L)
{
  luaL_newmetatable(L, CJ_HV);                 /* stack: mod, mt */
  lua_pushcfunction(L, v_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, v_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, vmethods);                    /* stack: mod, mt, methods */
  cj_setdocs(L, -1, vdocs);
  lua_pushcclosure(L, v_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, CJ_HDMEM);              /* stack: mod, mt */
  lua_pushcfunction(L, m_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, m_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, mmethods);
  cj_setdocs(L, -1, mdocs);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);                       /* stack: mod, hd */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "hd");
}
