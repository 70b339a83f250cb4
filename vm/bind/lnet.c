/*
 * lnet.c — the Lua face of the network runtime (vm/core/net.h), the kernel
 * interpreter and the kernel compiler cache (vm/core/jit.h).
 *
 * core.net_new(ir [, jit]) reads the IR table of vm/core/IR.md into the C
 * definitions of net.h, checking every field (a malformed table raises
 * "net_new: ir.kernels[3].body[2]: ..." naming the place), and returns a
 * "cajal.net" userdata. The network lives in C; its state arrays are handed
 * to Lua as views (kept alive by the view), monitors as fresh arrays.
 * Indices in the IR are those of IR.md (1-based ids of populations,
 * projections, kernels and variables; 0-based neuron and synapse indices, as
 * in the model language); what the methods return holds 1-based neuron and
 * synapse indices, as Lua counts: the conversion is made here and nowhere
 * else (STYLE), also for monitors read back from their files.
 *
 * Temporary C memory used while reading the IR is owned by a box
 * (cj_newbox, lcajal.h), so an error raised half-way leaks nothing.
 */
#include "lanalysis.h"
#include "net.h"
#include "jit.h"
#include "threads.h"
#include "tier.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CJ_NET "cajal.net"
#define CJ_JIT "cajal.jit"
#define CJ_JITJOB "cajal.jitjob"

/* tier: the background compile of a tiered start (NULL when the network
 * was built on one backend) */
typedef struct lnet { cj_net *net; size_t reported; cj_tier *tier; } lnet;
typedef struct ljit { cj_jit *j; } ljit;
typedef struct ljob { cj_jitjob *job; } ljob;

/* ---- scratch memory -------------------------------------------------------- */
typedef union blk { union blk *next; max_align_t align; } blk;   /* header of a block */
typedef struct scratch { blk *head; cj_ktree *tree; } scratch;

static void freescratch(void *p)
{
  scratch *s = p;
  for (blk *b = s->head, *n; b; b = n) { n = b->next; free(b); }
  cj_ktree_free(s->tree);
  free(s);
}

/* Pushes the box that owns the scratch memory. */
static scratch *newscratch(lua_State *L)
{
  cj_box *b = cj_newbox(L, freescratch);
  scratch *s = calloc(1, sizeof *s);
  if (!s) luaL_error(L, "net_new: out of memory");
  b->p = s;
  if (!(s->tree = cj_ktree_new())) luaL_error(L, "net_new: out of memory");
  return s;
}

static void *salloc(lua_State *L, scratch *s, size_t n)
{
  blk *b = calloc(1, sizeof *b + (n ? n : 1));     /* zeroed */
  if (!b) luaL_error(L, "net_new: out of memory");
  b->next = s->head;
  s->head = b;
  return (char *)b + sizeof *b;
}

/* ---- reading the IR table ----------------------------------------------------- */
typedef struct rd {
  lua_State *L;
  scratch *s;
  const char *fn;      /* function name for messages */
} rd;

static int irfail(rd *r, const char *path, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return luaL_error(r->L, "%s: %s: %s", r->fn, path, msg);
}

static char *spath(rd *r, const char *fmt, ...)
{
  char buf[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char *p = salloc(r->L, r->s, strlen(buf) + 1);
  strcpy(p, buf);
  return p;
}

/* Push t[key] (t at stack index t); returns its type. */
static int field(rd *r, int t, const char *key)
{
  return lua_getfield(r->L, t, key);
}

static lua_Integer toint(rd *r, int idx, const char *path, lua_Integer lo, lua_Integer hi)
{
  lua_State *L = r->L;
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok) {
    if (lua_type(L, idx) == LUA_TNUMBER) irfail(r, path, "expected an integer, got %g", lua_tonumber(L, idx));
    irfail(r, path, "expected an integer, got %s", luaL_typename(L, idx));
  }
  if (v < lo || v > hi) irfail(r, path, "%lld out of range %lld..%lld", (long long)v, (long long)lo, (long long)hi);
  return v;
}

/* t.key as an integer in [lo, hi]; def when absent (required if def < lo). */
static lua_Integer getint(rd *r, int t, const char *key, const char *path, lua_Integer def,
                          lua_Integer lo, lua_Integer hi)
{
  lua_Integer v = def;
  if (field(r, t, key) != LUA_TNIL) v = toint(r, -1, spath(r, "%s.%s", path, key), lo, hi);
  else if (def < lo) irfail(r, path, "field '%s' is required", key);
  lua_pop(r->L, 1);
  return v;
}

static double getnum(rd *r, int t, const char *key, const char *path, double def, int required)
{
  double v = def;
  int tp = field(r, t, key);
  if (tp == LUA_TNUMBER) v = lua_tonumber(r->L, -1);
  else if (tp != LUA_TNIL) irfail(r, path, "field '%s': expected a number, got %s", key, luaL_typename(r->L, -1));
  else if (required) irfail(r, path, "field '%s' is required", key);
  lua_pop(r->L, 1);
  return v;
}

static const char *getstr(rd *r, int t, const char *key, const char *path, const char *def)
{
  const char *v = def;
  int tp = field(r, t, key);
  if (tp == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(r->L, -1, &n);
    if (strlen(s) != n) irfail(r, path, "field '%s' contains a zero byte", key);
    v = strcpy(salloc(r->L, r->s, n + 1), s);
  } else if (tp != LUA_TNIL) irfail(r, path, "field '%s': expected a string, got %s", key, luaL_typename(r->L, -1));
  else if (!def) irfail(r, path, "field '%s' is required", key);
  lua_pop(r->L, 1);
  return v;
}

static int getbool(rd *r, int t, const char *key, const char *path, int def)
{
  int v = def, tp = field(r, t, key);
  if (tp == LUA_TBOOLEAN) v = lua_toboolean(r->L, -1);
  else if (tp != LUA_TNIL) irfail(r, path, "field '%s': expected a boolean, got %s", key, luaL_typename(r->L, -1));
  lua_pop(r->L, 1);
  return v;
}

/* The table at idx as a list; returns its length. */
static lua_Integer checklist(rd *r, int idx, const char *path)
{
  if (lua_type(r->L, idx) != LUA_TTABLE) irfail(r, path, "expected a table, got %s", luaL_typename(r->L, idx));
  return (lua_Integer)lua_rawlen(r->L, idx);
}

/* A numeric vector from an array (any dtype, any strides) or a list of
 * numbers. 2-D arrays and lists of rows give *rows x *cols (cols = 0 for
 * 1-D input). The values are copied into scratch memory. */
static double *doubles(rd *r, int idx, const char *path, int64_t *n, int64_t *rows, int64_t *cols)
{
  lua_State *L = r->L;
  larray *a = cj_testarray(L, idx);
  double *v;
  idx = lua_absindex(L, idx);
  if (a) {
    if (a->a.ndim > 2) irfail(r, path, "expected a 1-D or 2-D array, got %d dimensions", a->a.ndim);
    int64_t m = cj_array_numel(&a->a);
    v = salloc(L, r->s, (size_t)(m > 0 ? m : 1) * sizeof *v);
    if (a->a.dtype == CJ_F64 && cj_array_iscontig(&a->a)) { if (m) memcpy(v, a->a.data, (size_t)m * sizeof *v); }
    else for (int64_t k = 0; k < m; k++) v[k] = cj_array_getflat(&a->a, k);
    *n = m;
    *rows = a->a.ndim == 2 ? a->a.shape[0] : m;
    *cols = a->a.ndim == 2 ? a->a.shape[1] : 0;
    return v;
  }
  lua_Integer len = checklist(r, idx, path);
  int tworow = len > 0 && lua_rawgeti(L, idx, 1) == LUA_TTABLE;
  if (len > 0) lua_pop(L, 1);
  if (!tworow) {
    v = salloc(L, r->s, (size_t)(len > 0 ? len : 1) * sizeof *v);
    for (lua_Integer k = 1; k <= len; k++) {
      if (lua_rawgeti(L, idx, k) != LUA_TNUMBER) irfail(r, path, "element %lld is not a number", (long long)k);
      v[k - 1] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    *n = *rows = len; *cols = 0;
    return v;
  }
  lua_rawgeti(L, idx, 1);
  lua_Integer w = (lua_Integer)lua_rawlen(L, -1);
  lua_pop(L, 1);
  v = salloc(L, r->s, (size_t)(len * w > 0 ? len * w : 1) * sizeof *v);
  for (lua_Integer k = 1; k <= len; k++) {
    if (lua_rawgeti(L, idx, k) != LUA_TTABLE || (lua_Integer)lua_rawlen(L, -1) != w)
      irfail(r, path, "row %lld: expected a list of %lld numbers", (long long)k, (long long)w);
    for (lua_Integer c = 1; c <= w; c++) {
      if (lua_rawgeti(L, -1, c) != LUA_TNUMBER) irfail(r, path, "row %lld, element %lld is not a number", (long long)k, (long long)c);
      v[(k - 1) * w + c - 1] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  *n = len * w; *rows = len; *cols = w;
  return v;
}

/* An integer vector (values must be integral). */
static int64_t *integers(rd *r, int idx, const char *path, int64_t *n)
{
  int64_t rows, cols;
  double *v = doubles(r, idx, path, n, &rows, &cols);
  int64_t *out = salloc(r->L, r->s, (size_t)(*n > 0 ? *n : 1) * sizeof *out);
  for (int64_t k = 0; k < *n; k++) {
    if (!(v[k] == (double)(int64_t)v[k])) irfail(r, path, "element %lld (%g) is not an integer", (long long)k + 1, v[k]);
    out[k] = (int64_t)v[k];
  }
  return out;
}

/* ---- kernels ----------------------------------------------------------------- */
static cj_node *expr(rd *r, int idx, const char *path, int depth);

static cj_node *node(rd *r, cj_nop op)
{
  cj_node *n = cj_ktree_node(r->s->tree, op);
  if (!n) luaL_error(r->L, "%s: out of memory", r->fn);
  return n;
}

/* Element i (1-based) of the list at idx, pushed; returns its type. */
static int elem(rd *r, int idx, int i) { return lua_rawgeti(r->L, idx, i); }

static int elemint(rd *r, int idx, int i, const char *path, lua_Integer lo, lua_Integer hi)
{
  elem(r, idx, i);
  int v = (int)toint(r, -1, spath(r, "%s[%d]", path, i), lo, hi);
  lua_pop(r->L, 1);
  return v;
}

static const char *elemstr(rd *r, int idx, int i, const char *path)
{
  if (elem(r, idx, i) != LUA_TSTRING) irfail(r, path, "element %d: expected a string, got %s", i, luaL_typename(r->L, -1));
  const char *s = lua_tostring(r->L, -1);
  lua_pop(r->L, 1);          /* the table keeps the string alive */
  return s;
}

static int how(rd *r, int idx, int i, const char *path)
{
  const char *s = elemstr(r, idx, i, path);
  int h = cj_how_lookup(s);
  if (h < 0) irfail(r, path, "element selector '%s' (expected i, pre, post or s)", s);
  return h;
}

static cj_node *subexpr(rd *r, int idx, int i, const char *path, int depth)
{
  elem(r, idx, i);
  cj_node *e = expr(r, -1, spath(r, "%s[%d]", path, i), depth + 1);
  lua_pop(r->L, 1);
  return e;
}

static cj_node *expr(rd *r, int idx, const char *path, int depth)
{
  lua_State *L = r->L;
  int n, op;
  cj_node *e;
  idx = lua_absindex(L, idx);
  if (depth > 200) irfail(r, path, "expression nested too deeply");
  luaL_checkstack(L, 8, "IR nested too deeply");        /* each level holds a few slots */
  n = (int)checklist(r, idx, path);
  if (n < 1) irfail(r, path, "empty expression");
  const char *name = elemstr(r, idx, 1, path);
  if ((op = cj_nop_lookup(name)) < 0 || op >= CJ_N_LET)
    irfail(r, path, "unknown expression '%s'", name);
  e = node(r, op);
  switch (op) {
  case CJ_N_NUM:
    if (n != 2 || elem(r, idx, 2) != LUA_TNUMBER) irfail(r, path, "'num' takes one number");
    e->num = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return e;
  case CJ_N_TMP: if (n != 2) irfail(r, path, "'tmp' takes one index"); e->k = elemint(r, idx, 2, path, 0, 4095); return e;
  case CJ_N_VAR:
    if (n != 3) irfail(r, path, "'var' takes a slot and an element selector");
    e->slot = elemint(r, idx, 2, path, 0, 65535);
    e->how = how(r, idx, 3, path);
    return e;
  case CJ_N_RAND: {
    if (n != 3) irfail(r, path, "'rand' takes a distribution and a draw index");
    const char *d = elemstr(r, idx, 2, path);
    if (strcmp(d, "uniform") && strcmp(d, "normal")) irfail(r, path, "unknown distribution '%s'", d);
    e->fn = !strcmp(d, "normal");
    e->k = elemint(r, idx, 3, path, 0, 65535);
    return e;
  }
  case CJ_N_CALL: {
    const char *f = n >= 2 ? elemstr(r, idx, 2, path) : "";
    if ((e->fn = cj_func_lookup(f)) < 0) irfail(r, path, "unknown function '%s'", f);
    e->nargs = cj_func_arity(e->fn);
    if (n - 2 != e->nargs) irfail(r, path, "'%s' takes %d arguments, got %d", f, e->nargs, n - 2);
    for (int a = 0; a < e->nargs; a++) e->arg[a] = subexpr(r, idx, a + 3, path, depth);
    return e;
  }
  default:
    break;
  }
  if (op >= CJ_N_T && op <= CJ_N_LASTSPIKE) {
    if (n != 1) irfail(r, path, "'%s' takes no operands", name);
    return e;
  }
  e->nargs = op == CJ_N_NEG || op == CJ_N_NOT ? 1 : op == CJ_N_IFELSE ? 3 : 2;
  if (n - 1 != e->nargs) irfail(r, path, "'%s' takes %d operands, got %d", name, e->nargs, n - 1);
  for (int a = 0; a < e->nargs; a++) e->arg[a] = subexpr(r, idx, a + 2, path, depth);
  return e;
}

static cj_node **stmts(rd *r, int idx, const char *path, int *count, int depth);

static cj_node *stmt(rd *r, int idx, const char *path, int depth)
{
  lua_State *L = r->L;
  int n = (int)checklist(r, idx, path), op;
  cj_node *s;
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "IR nested too deeply");
  if (n < 1) irfail(r, path, "empty statement");
  const char *name = elemstr(r, idx, 1, path);
  if ((op = cj_nop_lookup(name)) < CJ_N_LET) irfail(r, path, "unknown statement '%s'", name);
  s = node(r, op);
  s->nargs = 1;
  switch (op) {
  case CJ_N_LET:
    if (n != 3) irfail(r, path, "'let' takes a temporary and an expression");
    s->k = elemint(r, idx, 2, path, 0, 4095);
    s->arg[0] = subexpr(r, idx, 3, path, depth);
    break;
  case CJ_N_SET: case CJ_N_ADDTO:
    if (n != 4) irfail(r, path, "'%s' takes a slot, an element selector and an expression", name);
    s->slot = elemint(r, idx, 2, path, 0, 65535);
    s->how = how(r, idx, 3, path);
    s->arg[0] = subexpr(r, idx, 4, path, depth);
    break;
  default:   /* if */
    if (n != 3 && n != 4) irfail(r, path, "'if' takes a condition, a statement list and an optional else list");
    if (depth > 100) irfail(r, path, "statements nested too deeply");
    s->arg[0] = subexpr(r, idx, 2, path, depth);
    for (int b = 0; b < 2; b++) {
      if (b == 1 && n == 3) { s->body[1] = stmts(r, 0, path, &s->nbody[1], depth + 1); continue; }
      elem(r, idx, 3 + b);
      s->body[b] = stmts(r, -1, spath(r, "%s[%d]", path, 3 + b), &s->nbody[b], depth + 1);
      lua_pop(L, 1);
    }
  }
  return s;
}

/* A statement list (idx 0: an empty list). */
static cj_node **stmts(rd *r, int idx, const char *path, int *count, int depth)
{
  int n = idx ? (int)checklist(r, idx, path) : 0;
  cj_node **list = cj_ktree_list(r->s->tree, n);
  if (!list) luaL_error(r->L, "%s: out of memory", r->fn);
  idx = idx ? lua_absindex(r->L, idx) : 0;
  for (int i = 1; i <= n; i++) {
    elem(r, idx, i);
    list[i - 1] = stmt(r, -1, spath(r, "%s[%d]", path, i), depth);
    lua_pop(r->L, 1);
  }
  *count = n;
  return list;
}

static const char *const OWNERS[] = { "pop", "proj", NULL };

static void kernel(rd *r, int t, const char *path, cj_kdef *k)
{
  lua_State *L = r->L;
  const char *s;
  memset(k, 0, sizeof *k);
  k->id = (int)getint(r, t, "id", path, -1, 1, 65535);
  k->name = getstr(r, t, "name", path, "");
  k->line = (int)getint(r, t, "line", path, 0, 0, INT32_MAX);
  k->ntmp = (int)getint(r, t, "ntmp", path, 0, 0, 4095);
  s = getstr(r, t, "domain", path, NULL);
  if ((k->domain = cj_domain_lookup(s)) < 0) irfail(r, path, "unknown domain '%s'", s);
  s = getstr(r, t, "kind", path, "stmts");
  if ((k->kind = cj_kkind_lookup(s)) < 0) irfail(r, path, "unknown kind '%s'", s);
  if (field(r, t, "refs") != LUA_TNIL) {
    const char *rp = spath(r, "%s.refs", path);
    int n = (int)checklist(r, -1, rp);
    cj_ref *refs = salloc(L, r->s, (size_t)(n > 0 ? n : 1) * sizeof *refs);
    for (int i = 1; i <= n; i++) {
      const char *ep = spath(r, "%s[%d]", rp, i);
      elem(r, -1, i);
      if (checklist(r, -1, ep) != 3) irfail(r, ep, "expected {owner, id, var}");
      const char *o = elemstr(r, lua_gettop(L), 1, ep);
      int which = -1;
      for (int q = 0; OWNERS[q]; q++) if (!strcmp(o, OWNERS[q])) which = q;
      if (which < 0) irfail(r, ep, "owner '%s' (expected pop or proj)", o);
      refs[i - 1].owner = which;
      refs[i - 1].id = elemint(r, lua_gettop(L), 2, ep, 1, INT32_MAX) - 1;
      refs[i - 1].var = elemint(r, lua_gettop(L), 3, ep, 1, INT32_MAX) - 1;
      lua_pop(L, 1);
    }
    k->refs = refs;
    k->nrefs = n;
  }
  lua_pop(L, 1);
  if (field(r, t, "body") != LUA_TNIL) k->body = stmts(r, -1, spath(r, "%s.body", path), &k->nbody, 0);
  lua_pop(L, 1);
  if (field(r, t, "cond") != LUA_TNIL) k->cond = expr(r, -1, spath(r, "%s.cond", path), 0);
  else if (k->kind == CJ_KK_THRESHOLD) irfail(r, path, "a threshold kernel needs 'cond'");
  lua_pop(L, 1);
  if (field(r, t, "value") != LUA_TNIL) k->value = expr(r, -1, spath(r, "%s.value", path), 0);
  else if (k->kind == CJ_KK_SUM) irfail(r, path, "a sum kernel needs 'value'");
  lua_pop(L, 1);
}

/* ---- populations, projections, monitors -------------------------------------- */
static void varlist(rd *r, int t, const char *path, int *n, const char ***names, const char ***units)
{
  lua_State *L = r->L;
  *n = 0; *names = *units = NULL;
  if (field(r, t, "vars") != LUA_TNIL) {
    const char *vp = spath(r, "%s.vars", path);
    int m = (int)checklist(r, -1, vp);
    *names = salloc(L, r->s, (size_t)(m > 0 ? m : 1) * sizeof **names);
    *units = salloc(L, r->s, (size_t)(m > 0 ? m : 1) * sizeof **units);
    for (int i = 1; i <= m; i++) {
      const char *ep = spath(r, "%s[%d]", vp, i);
      if (elem(r, -1, i) != LUA_TTABLE) irfail(r, ep, "expected {name = ..., unit = ...}");
      (*names)[i - 1] = getstr(r, lua_gettop(L), "name", ep, NULL);
      (*units)[i - 1] = getstr(r, lua_gettop(L), "unit", ep, "1");
      lua_pop(L, 1);
    }
    *n = m;
  }
  lua_pop(L, 1);
}

static void range(rd *r, int t, const char *key, const char *path, int64_t n, int64_t *lo, int64_t *hi)
{
  *lo = 0; *hi = n - 1;
  if (field(r, t, key) != LUA_TNIL) {
    const char *rp = spath(r, "%s.%s", path, key);
    if (checklist(r, -1, rp) != 2) irfail(r, rp, "expected {first, last} (0-based, inclusive)");
    *lo = elemint(r, lua_gettop(r->L), 1, rp, 0, n - 1);
    *hi = elemint(r, lua_gettop(r->L), 2, rp, *lo, n - 1);
  }
  lua_pop(r->L, 1);
}

static const char *const POPKINDS[] = { "neuron", "poisson", "spikegen", NULL };

static void population(rd *r, int t, const char *path, cj_popdef *p)
{
  lua_State *L = r->L;
  const char *k;
  memset(p, 0, sizeof *p);
  p->name = getstr(r, t, "name", path, NULL);
  p->n = getint(r, t, "n", path, -1, 1, INT32_MAX);
  k = getstr(r, t, "kind", path, "neuron");
  p->kind = -1;
  for (int q = 0; POPKINDS[q]; q++) if (!strcmp(k, POPKINDS[q])) p->kind = q;
  if (p->kind < 0) irfail(r, path, "unknown kind '%s' (expected neuron, poisson or spikegen)", k);
  varlist(r, t, path, &p->nvars, (const char ***)&p->varnames, (const char ***)&p->varunits);
  p->init = (int)getint(r, t, "init", path, 0, 0, 65535);
  p->update = (int)getint(r, t, "update", path, 0, 0, 65535);
  p->threshold = (int)getint(r, t, "threshold", path, 0, 0, 65535);
  p->reset = (int)getint(r, t, "reset", path, 0, 0, 65535);
  p->spiking = getbool(r, t, "spiking", path, p->threshold != 0);
  p->refractory = getnum(r, t, "refractory", path, 0, 0);
  p->rate = getnum(r, t, "rate", path, 0, 0);
  p->rate_kernel = (int)getint(r, t, "rate_kernel", path, 0, 0, 65535);
  p->defs = (int)getint(r, t, "defs", path, 0, 0, 65535);
  p->rate_var = (int)getint(r, t, "rate_var", path, 0, 0, p->nvars);
  if (field(r, t, "poisson_inputs") != LUA_TNIL) {
    const char *dp = spath(r, "%s.poisson_inputs", path);
    int n = (int)checklist(r, -1, dp);
    cj_pinputdef *d = salloc(L, r->s, (size_t)(n > 0 ? n : 1) * sizeof *d);
    for (int i = 1; i <= n; i++) {
      const char *ep = spath(r, "%s[%d]", dp, i);
      if (elem(r, -1, i) != LUA_TTABLE) irfail(r, ep, "expected {var, n, rate, weight}");
      int dt = lua_gettop(L);
      d[i - 1].var = (int)getint(r, dt, "var", ep, -1, 1, p->nvars) - 1;
      d[i - 1].n = getint(r, dt, "n", ep, -1, 0, INT64_MAX);
      d[i - 1].rate = getnum(r, dt, "rate", ep, 0, 1);
      d[i - 1].weight = getnum(r, dt, "weight", ep, 0, 1);
      range(r, dt, "range", ep, p->n, &d[i - 1].lo, &d[i - 1].hi);
      lua_pop(L, 1);
    }
    p->pinputs = d;
    p->npinputs = n;
  }
  lua_pop(L, 1);
  if (p->kind == CJ_POP_SPIKEGEN) {
    int64_t nt = 0, ni = 0, rows, cols;
    if (field(r, t, "times") != LUA_TNIL) p->times = doubles(r, -1, spath(r, "%s.times", path), &nt, &rows, &cols);
    lua_pop(L, 1);
    if (field(r, t, "indices") != LUA_TNIL) p->indices = integers(r, -1, spath(r, "%s.indices", path), &ni);
    lua_pop(L, 1);
    if (nt != ni) irfail(r, path, "times and indices differ in length (%lld and %lld)", (long long)nt, (long long)ni);
    p->nspikes = nt;
  }
  if (field(r, t, "drives") != LUA_TNIL) {
    const char *dp = spath(r, "%s.drives", path);
    int n = (int)checklist(r, -1, dp);
    cj_drivedef *d = salloc(L, r->s, (size_t)(n > 0 ? n : 1) * sizeof *d);
    for (int i = 1; i <= n; i++) {
      const char *ep = spath(r, "%s[%d]", dp, i);
      int64_t nv, rows, cols;
      if (elem(r, -1, i) != LUA_TTABLE) irfail(r, ep, "expected a table");
      int dt = lua_gettop(L);
      d[i - 1].var = (int)getint(r, dt, "var", ep, -1, 1, p->nvars) - 1;
      d[i - 1].interval = getnum(r, dt, "interval", ep, 0, 1);
      if (field(r, dt, "values") == LUA_TNIL) irfail(r, ep, "field 'values' is required");
      d[i - 1].values = doubles(r, -1, spath(r, "%s.values", ep), &nv, &rows, &cols);
      lua_pop(L, 1);
      d[i - 1].rows = rows;
      d[i - 1].cols = cols ? cols : 1;
      if (field(r, dt, "indices") != LUA_TNIL) d[i - 1].indices = integers(r, -1, spath(r, "%s.indices", ep), &d[i - 1].nindices);
      lua_pop(L, 1);
      lua_pop(L, 1);
    }
    p->drives = d;
    p->ndrives = n;
  }
  lua_pop(L, 1);
}

static const char *const RULES[] = { "all", "one_to_one", "prob", "indegree", "outdegree", "arrays", NULL };

static void projection(rd *r, int t, const char *path, cj_projdef *d, const cj_popdef *pops, int npop)
{
  lua_State *L = r->L;
  memset(d, 0, sizeof *d);
  d->name = getstr(r, t, "name", path, NULL);
  d->pre = (int)getint(r, t, "pre", path, -1, 1, npop) - 1;
  d->post = (int)getint(r, t, "post", path, -1, 1, npop) - 1;
  range(r, t, "pre_range", path, pops[d->pre].n, &d->pre_lo, &d->pre_hi);
  range(r, t, "post_range", path, pops[d->post].n, &d->post_lo, &d->post_hi);
  d->self = getbool(r, t, "self", path, 1);
  varlist(r, t, path, &d->nvars, (const char ***)&d->varnames, (const char ***)&d->varunits);
  d->init = (int)getint(r, t, "init", path, 0, 0, 65535);
  d->on_pre = (int)getint(r, t, "on_pre", path, 0, 0, 65535);
  d->on_post = (int)getint(r, t, "on_post", path, 0, 0, 65535);
  d->update = (int)getint(r, t, "update", path, 0, 0, 65535);
  d->delay_var = (int)getint(r, t, "delay_var", path, 0, 0, d->nvars) - 1;
  d->delay = d->delay_var >= 0 ? 0 : getint(r, t, "delay", path, 1, 1, 10000000);
  if (field(r, t, "rule") != LUA_TTABLE) irfail(r, path, "field 'rule' is required (a table)");
  {
    int rt = lua_gettop(L);
    const char *rp = spath(r, "%s.rule", path), *k = getstr(r, rt, "kind", rp, NULL);
    d->rule = -1;
    for (int q = 0; RULES[q]; q++) if (!strcmp(k, RULES[q])) d->rule = q;
    if (d->rule < 0) irfail(r, rp, "unknown rule '%s'", k);
    if (d->rule == CJ_RULE_PROB) {
      d->pkernel = (int)getint(r, rt, "kernel", rp, 0, 0, 65535);
      d->p = getnum(r, rt, "p", rp, 0, d->pkernel == 0);
    }
    if (d->rule == CJ_RULE_INDEG || d->rule == CJ_RULE_OUTDEG) d->k = getint(r, rt, "k", rp, -1, 0, INT32_MAX);
    if (d->rule == CJ_RULE_ARRAYS) {
      int64_t ni, nj;
      if (field(r, rt, "i") == LUA_TNIL) irfail(r, rp, "field 'i' is required");
      d->ai = integers(r, -1, spath(r, "%s.i", rp), &ni);
      lua_pop(L, 1);
      if (field(r, rt, "j") == LUA_TNIL) irfail(r, rp, "field 'j' is required");
      d->aj = integers(r, -1, spath(r, "%s.j", rp), &nj);
      lua_pop(L, 1);
      if (ni != nj) irfail(r, rp, "i and j differ in length (%lld and %lld)", (long long)ni, (long long)nj);
      d->na = ni;
    }
  }
  lua_pop(L, 1);
  if (field(r, t, "weights") != LUA_TNIL) {
    const char *wp = spath(r, "%s.weights", path);
    int wt = lua_gettop(L);
    if (d->rule != CJ_RULE_ARRAYS) irfail(r, wp, "weights are only given with rule 'arrays'");
    checklist(r, wt, wp);
    const double **vals = salloc(L, r->s, (size_t)(d->nvars > 0 ? d->nvars : 1) * sizeof *vals);
    lua_pushnil(L);
    while (lua_next(L, wt)) {
      int v = -1;
      int64_t n, rows, cols;
      if (lua_type(L, -2) != LUA_TSTRING) irfail(r, wp, "keys must be variable names");
      const char *name = lua_tostring(L, -2);
      for (int q = 0; q < d->nvars; q++) if (!strcmp(d->varnames[q], name)) v = q;
      if (v < 0) irfail(r, wp, "no synapse variable '%s'", name);
      vals[v] = doubles(r, -1, spath(r, "%s.%s", wp, name), &n, &rows, &cols);
      if (n != d->na) irfail(r, wp, "'%s' has %lld values for %lld synapses", name, (long long)n, (long long)d->na);
      lua_pop(L, 1);
    }
    d->varvalues = vals;
  }
  lua_pop(L, 1);
  if (field(r, t, "summed") != LUA_TNIL) {
    const char *sp = spath(r, "%s.summed", path);
    int n = (int)checklist(r, -1, sp);
    cj_sumdef *s = salloc(L, r->s, (size_t)(n > 0 ? n : 1) * sizeof *s);
    for (int i = 1; i <= n; i++) {
      const char *ep = spath(r, "%s[%d]", sp, i);
      if (elem(r, -1, i) != LUA_TTABLE) irfail(r, ep, "expected {post_var = ..., kernel = ...}");
      s[i - 1].post_var = (int)getint(r, lua_gettop(L), "post_var", ep, -1, 1, pops[d->post].nvars) - 1;
      s[i - 1].kernel = (int)getint(r, lua_gettop(L), "kernel", ep, -1, 1, 65535);
      lua_pop(L, 1);
    }
    d->summed = s;
    d->nsummed = n;
  }
  lua_pop(L, 1);
}

static const char *const MONKINDS[] = { "spikes", "state", "rate", NULL };

static void monitor(rd *r, int t, const char *path, cj_mondef *m, const cj_popdef *pops, int npop,
                    const cj_projdef *projs, int nproj)
{
  lua_State *L = r->L;
  const char *k = getstr(r, t, "kind", path, NULL);
  memset(m, 0, sizeof *m);
  m->kind = -1;
  for (int q = 0; MONKINDS[q]; q++) if (!strcmp(k, MONKINDS[q])) m->kind = q;
  if (m->kind < 0) irfail(r, path, "unknown kind '%s' (expected spikes, state or rate)", k);
  m->proj = (int)getint(r, t, "proj", path, 0, 0, nproj) - 1;
  m->pop = m->proj >= 0 ? -1 : (int)getint(r, t, "pop", path, -1, 1, npop) - 1;
  if (m->proj >= 0 && m->kind != CJ_MON_STATE) irfail(r, path, "only state monitors may name a projection");
  m->file = getstr(r, t, "file", path, "");
  if (!*m->file) m->file = NULL;
  m->every = getint(r, t, "every", path, 1, 1, INT64_MAX);
  if (m->kind == CJ_MON_STATE) {
    int nv = m->proj >= 0 ? projs[m->proj].nvars : pops[m->pop].nvars;
    m->var = (int)getint(r, t, "var", path, -1, 1, nv) - 1;
    if (field(r, t, "indices") != LUA_TNIL) m->indices = integers(r, -1, spath(r, "%s.indices", path), &m->nindices);
    else m->nindices = -1;
    lua_pop(L, 1);
  } else {
    range(r, t, "range", path, pops[m->pop].n, &m->lo, &m->hi);
  }
}

/* ---- net_new / net_restore -------------------------------------------------- */
static lnet *checknet(lua_State *L, int i)
{
  lnet *n = luaL_checkudata(L, i, CJ_NET);
  if (!n->net) luaL_error(L, "network is closed");
  return n;
}

/* Report the network's memory to the collector (as work done), so large
 * networks prompt collection of unreachable ones. */
static void account(lua_State *L, lnet *n)
{
  size_t now = cj_net_memsize(n->net);
  if (now > n->reported + 65536) {
    lua_gc(L, LUA_GCSTEP, (int)((now - n->reported) / 1024 > INT32_MAX ? INT32_MAX : (now - n->reported) / 1024));
    n->reported = now;
  }
}

/* ---- save files ------------------------------------------------------------------ */
#define CJ_SAVEFILE "cajal.savefile"
typedef struct lsave { cj_savefile *s; } lsave;

static int save_gc(lua_State *L)
{
  lsave *u = luaL_checkudata(L, 1, CJ_SAVEFILE);
  cj_savefile_free(u->s);
  u->s = NULL;
  return 0;
}

/* A userdata safe to collect before the file is read. */
static lsave *newsave(lua_State *L)
{
  lsave *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  luaL_setmetatable(L, CJ_SAVEFILE);
  return u;
}

/* After reading into u (status st): savefile, meta | nil, message. */
static int pushsave(lua_State *L, lsave *u, int st)
{
  size_t n;
  if (st) { luaL_pushfail(L); lua_pushstring(L, cj_errmsg()); return 2; }
  const char *meta = cj_savefile_meta(u->s, &n);
  lua_pushlstring(L, meta, n);                           /* stack: ..., savefile, meta */
  return 2;
}

/* core.savefile_read(path) -> savefile, meta | nil, message */
static int l_savefile_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lsave *u = newsave(L);
  return pushsave(L, u, cj_savefile_read(path, &u->s));
}

/* core.savefile_parse(bytes [, name]) -> savefile, meta | nil, message */
static int l_savefile_parse(lua_State *L)
{
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "(bytes)");
  lsave *u = newsave(L);
  return pushsave(L, u, cj_savefile_parse(data, len, name, &u->s));
}

/* Ctrl-C while C code runs a long loop (building connectivity, net:run):
 * our handler notes it, the loop asks (stopflag / onprogress) and stops. */
static volatile sig_atomic_t interrupted;
static void onsigint(int sig) { (void)sig; interrupted = 1; }
static int stopflag(void *ud) { (void)ud; return interrupted != 0; }

/* Build or restore n's network with Ctrl-C noted: a build stops at the next
 * row of connectivity. Returns the status of the call. */
static int buildnet(lnet *n, const cj_savefile *path)
{
  struct sigaction sa, old;
  int st;
  interrupted = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onsigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  cj_net_set_stop(n->net, stopflag, NULL);
  st = path ? cj_net_restore_from(n->net, path) : cj_net_build(n->net);
  cj_net_set_stop(n->net, NULL, NULL);
  sigaction(SIGINT, &old, NULL);
  if (!st && interrupted)        /* Ctrl-C after the last check still stops the load */
    st = cj_fail(CJ_ERUNTIME, "interrupted while %s network '%s'", path ? "restoring" : "building",
                 cj_net_name(n->net));
  return st;
}

/* The step from which a tiered start waits for its compile
 * ($CAJAL_TIERED_AT, a whole number of steps; 0 when unset). */
static int64_t tieredat(void)
{
  const char *s = getenv("CAJAL_TIERED_AT");
  char *end;
  long long k = s && *s ? strtoll(s, &end, 10) : 0;
  return s && *s && !*end && k > 0 ? (int64_t)k : 0;
}

/* Build a network from the IR at stack index 1; at jitidx (0: none) a jit
 * handle, or a compile job (a tiered start: the network runs on the
 * interpreter and takes the job); save non-NULL: restore from that save
 * file. Pushes the net. */
static cj_kfn jitfused(void *ud, int update, int threshold) { return cj_jit_fused(ud, update, threshold); }

static int newnet(lua_State *L, const char *fn, int jitidx, const cj_savefile *path)
{
  rd r = { L, NULL, fn };
  ljit *jh = NULL;
  ljob *jb = NULL;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (jitidx && !lua_isnoneornil(L, jitidx) && !(jb = luaL_testudata(L, jitidx, CJ_JITJOB)))
    jh = luaL_checkudata(L, jitidx, CJ_JIT);
  if (jh && !jh->j) luaL_argerror(L, jitidx, "the JIT handle is released");
  if (jb && !jb->job) luaL_argerror(L, jitidx, "the compile job is taken by another network");
  r.s = newscratch(L);                                   /* stack: ..., scratch */
  int abi = (int)getint(&r, 1, "abi", "ir", CJ_KERNEL_ABI, 0, INT32_MAX);
  if (abi != CJ_KERNEL_ABI) irfail(&r, "ir.abi", "the IR has ABI %d, this runtime reads ABI %d", abi, CJ_KERNEL_ABI);
  double dt = getnum(&r, 1, "dt", "ir", 0, 1);
  if (!(dt > 0) || dt > 1e6) irfail(&r, "ir.dt", "expected a positive step in seconds, got %g", dt);
  lua_Integer seed = 1;
  if (field(&r, 1, "seed") != LUA_TNIL) {
    if (lua_isinteger(L, -1)) seed = lua_tointeger(L, -1);
    else seed = toint(&r, -1, "ir.seed", LUA_MININTEGER, LUA_MAXINTEGER);
  }
  lua_pop(L, 1);
  const char *prec = getstr(&r, 1, "precision", "ir", "double");
  if (strcmp(prec, "double") && strcmp(prec, "single"))
    irfail(&r, "ir.precision", "'%s' is not supported ('double' or 'single')", prec);
  const int single = !strcmp(prec, "single");
  const char *name = getstr(&r, 1, "name", "ir", "network");

  /* read everything before creating the network */
  int nk = 0, np = 0, nj = 0, nm = 0;
  cj_kdef *ks = NULL; cj_popdef *ps = NULL; cj_projdef *js = NULL; cj_mondef *ms = NULL;
  if (field(&r, 1, "kernels") != LUA_TNIL) {
    nk = (int)checklist(&r, -1, "ir.kernels");
    ks = salloc(L, r.s, (size_t)(nk > 0 ? nk : 1) * sizeof *ks);
    for (int i = 1; i <= nk; i++) {
      const char *p = spath(&r, "ir.kernels[%d]", i);
      if (elem(&r, -1, i) != LUA_TTABLE) irfail(&r, p, "expected a table");
      kernel(&r, lua_gettop(L), p, &ks[i - 1]);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (field(&r, 1, "populations") == LUA_TNIL) irfail(&r, "ir", "field 'populations' is required");
  np = (int)checklist(&r, -1, "ir.populations");
  ps = salloc(L, r.s, (size_t)(np > 0 ? np : 1) * sizeof *ps);
  for (int i = 1; i <= np; i++) {
    const char *p = spath(&r, "ir.populations[%d]", i);
    if (elem(&r, -1, i) != LUA_TTABLE) irfail(&r, p, "expected a table");
    population(&r, lua_gettop(L), p, &ps[i - 1]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (field(&r, 1, "projections") != LUA_TNIL) {
    nj = (int)checklist(&r, -1, "ir.projections");
    js = salloc(L, r.s, (size_t)(nj > 0 ? nj : 1) * sizeof *js);
    for (int i = 1; i <= nj; i++) {
      const char *p = spath(&r, "ir.projections[%d]", i);
      if (elem(&r, -1, i) != LUA_TTABLE) irfail(&r, p, "expected a table");
      projection(&r, lua_gettop(L), p, &js[i - 1], ps, np);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (field(&r, 1, "monitors") != LUA_TNIL) {
    nm = (int)checklist(&r, -1, "ir.monitors");
    ms = salloc(L, r.s, (size_t)(nm > 0 ? nm : 1) * sizeof *ms);
    for (int i = 1; i <= nm; i++) {
      const char *p = spath(&r, "ir.monitors[%d]", i);
      if (elem(&r, -1, i) != LUA_TTABLE) irfail(&r, p, "expected a table");
      monitor(&r, lua_gettop(L), p, &ms[i - 1], ps, np, js, nj);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);

  /* the network: a userdata safe to collect before anything can fail */
  lnet *n = lua_newuserdatauv(L, sizeof *n, 1);          /* stack: ..., scratch, net */
  n->net = NULL;
  n->reported = 0;
  n->tier = NULL;
  luaL_setmetatable(L, CJ_NET);
  if (jh) { lua_pushvalue(L, jitidx); lua_setiuservalue(L, -2, 1); }
  if (jb) {
    if (!(n->tier = cj_tier_new(jb->job))) return luaL_error(L, "%s: out of memory", fn);
    jb->job = NULL;
    cj_tier_wait_at(n->tier, tieredat());
  }
  if (!(n->net = cj_net_new(name, dt, (uint64_t)seed))) return luaL_error(L, "%s: out of memory", fn);
  if (cj_net_set_single(n->net, single)) return luaL_error(L, "%s: %s", fn, cj_errmsg());
  for (int i = 0; i < nk; i++) {
    cj_kfn f = NULL;
    if (jh && !(f = cj_jit_kernel(jh->j, ks[i].id)))
      return luaL_error(L, "%s: the compiled C has no function cjk_%d for kernel %d '%s'", fn, ks[i].id, ks[i].id, ks[i].name);
    if (cj_net_add_kernel(n->net, &ks[i], f)) return luaL_error(L, "%s: %s", fn, cj_errmsg());
  }
  for (int i = 0; i < np; i++)
    if (cj_net_add_pop(n->net, &ps[i])) return luaL_error(L, "%s: ir.populations[%d]: %s", fn, i + 1, cj_errmsg());
  if (jh) cj_net_set_fused(n->net, jitfused, jh->j);
  for (int i = 0; i < nj; i++)
    if (cj_net_add_proj(n->net, &js[i])) return luaL_error(L, "%s: ir.projections[%d]: %s", fn, i + 1, cj_errmsg());
  for (int i = 0; i < nm; i++)
    if (cj_net_add_monitor(n->net, &ms[i])) return luaL_error(L, "%s: ir.monitors[%d]: %s", fn, i + 1, cj_errmsg());
  if (buildnet(n, path)) {
    if (interrupted) {                  /* "interrupted while building ...", as net:run's: no position */
      lua_pushstring(L, cj_errmsg());
      return lua_error(L);
    }
    return luaL_error(L, "%s: %s", fn, cj_errmsg());
  }
  account(L, n);
  return 1;
}

static int net_new(lua_State *L)
{
  return newnet(L, "net_new", 2, NULL);
}

static int net_restore(lua_State *L)
{
  lsave *u = luaL_checkudata(L, 2, CJ_SAVEFILE);
  if (!u->s) return luaL_argerror(L, 2, "the save file is released");
  return newnet(L, "net_restore", 3, u->s);
}

/* ---- methods ------------------------------------------------------------------- */

/* Progress goes to the hook registry["cajal.progress"] when a host set one
 * (the Jupyter kernel: vm/host/kernel.c), called as hook(done, total, dt,
 * elapsed, state) with state "running" (at most every 0.1 s), then "done"
 * or "stopped"; else to a bar on stderr when it is a terminal. */
#define PROGRESS_HOOK "cajal.progress"

typedef struct progress {
  int bar, hook;
  double t0, last;
  double dt;
  int64_t step0;
  lua_State *L;
  lnet *n;
} progress;

/* A tiered start between steps: advance the compile, switch when it is
 * loaded; a failure is a warning (the network stays on the interpreter). */
static void tierpoll(lnet *n, int wait)
{
  if (!n->tier || !cj_tier_poll(n->tier, n->net, wait)) return;
  const char *m = cj_errmsg();
  if (!strncmp(m, "jit: ", 5)) m += 5;
  fprintf(stderr, "cajal: warning: cannot compile kernels: %s; network '%s' stays on the interpreter\n",
          m, cj_net_name(n->net));
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An error of the hook is dropped, except an interrupt that reached it
 * (a Ctrl-C just before the run began), which stops the run. */
static void callhook(progress *p, int64_t done, int64_t total, double t, const char *state)
{
  lua_State *L = p->L;
  lua_getfield(L, LUA_REGISTRYINDEX, PROGRESS_HOOK);
  lua_pushnumber(L, (lua_Number)done);
  lua_pushnumber(L, (lua_Number)total);
  lua_pushnumber(L, p->dt);
  lua_pushnumber(L, t - p->t0);
  lua_pushstring(L, state);
  if (lua_pcall(L, 5, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg && strncmp(msg, "interrupted", 11) == 0) interrupted = 1;
    lua_pop(L, 1);
  }
}

static int onprogress(void *ud, int64_t done, int64_t total)
{
  progress *p = ud;
  tierpoll(p->n, 0);
  if (p->hook) {
    double t = now();
    if (t - p->last >= 0.1 && done < total) {
      callhook(p, done, total, t, "running");
      p->last = t;
    }
  } else if (p->bar) {
    double t = now();
    if (t - p->last >= 0.1 || done == total) {
      int w = 30, k = (int)(w * (double)done / (double)total);
      double el = t - p->t0, eta = done ? el * (double)(total - done) / (double)done : 0;
      fprintf(stderr, "\r[%.*s%*s] %3d%%  %.3g / %.3g s  %.1fs left ", k, "##############################",
              w - k, "", (int)(100.0 * (double)done / (double)total), (double)done * p->dt,
              (double)total * p->dt, eta);
      if (done == total) fprintf(stderr, "\r%*s\r", 80, "");
      fflush(stderr);
      p->last = t;
    }
  }
  return interrupted != 0;
}

/* net:run(nsteps [, progress]) */
static int m_run(lua_State *L)
{
  lnet *n = checknet(L, 1);
  lua_Integer steps = luaL_checkinteger(L, 2);
  int show = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  struct sigaction sa, old;
  progress p = { 0, 0, 0, 0, cj_net_dt(n->net), cj_net_step(n->net), L, n };
  int64_t step0 = cj_net_step(n->net);
  luaL_argcheck(L, steps >= 0, 2, "number of steps must be >= 0");
  p.hook = show && lua_getfield(L, LUA_REGISTRYINDEX, PROGRESS_HOOK) == LUA_TFUNCTION;
  lua_pop(L, 1);
  p.bar = show && !p.hook && isatty(2) && steps >= 1000;
  p.t0 = p.last = now();
  interrupted = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onsigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  tierpoll(n, 0);
  int st = cj_net_run(n->net, steps, onprogress, &p);
  sigaction(SIGINT, &old, NULL);
  if (p.bar && st) fprintf(stderr, "\n");
  if (st) {                                    /* before the hook runs anything */
    int pop, var;
    int64_t i;
    lua_pushstring(L, cj_errmsg());
    if (cj_net_nonfinite(n->net, &pop, &var, &i)) {   /* where it is in Lua, counted from 1 */
      lua_pushfstring(L, " [in Lua: net.%s.%s[%I]]", cj_net_pop_name(n->net, pop),
                      cj_net_pop_varname(n->net, pop, var), (lua_Integer)i + 1);
      lua_concat(L, 2);
    }
  }
  if (p.hook) callhook(&p, cj_net_step(n->net) - step0, steps, now(), st ? "stopped" : "done");
  account(L, n);
  if (st) return luaL_error(L, "%s", lua_tostring(L, -1));
  return 0;
}

static int popindex(lua_State *L, cj_net *net, int arg)
{
  int p;
  if (lua_type(L, arg) == LUA_TSTRING) {
    p = cj_net_pop_find(net, lua_tostring(L, arg));
    if (p < 0) luaL_argerror(L, arg, lua_pushfstring(L, "no population '%s'", lua_tostring(L, arg)));
    return p;
  }
  p = (int)luaL_checkinteger(L, arg) - 1;
  luaL_argcheck(L, p >= 0 && p < cj_net_npops(net), arg, "population index out of range");
  return p;
}

static int projindex(lua_State *L, cj_net *net, int arg)
{
  int j;
  if (lua_type(L, arg) == LUA_TSTRING) {
    j = cj_net_proj_find(net, lua_tostring(L, arg));
    if (j < 0) luaL_argerror(L, arg, lua_pushfstring(L, "no projection '%s'", lua_tostring(L, arg)));
    return j;
  }
  j = (int)luaL_checkinteger(L, arg) - 1;
  luaL_argcheck(L, j >= 0 && j < cj_net_nprojs(net), arg, "projection index out of range");
  return j;
}

static cj_dim unitdim(const char *unit)
{
  double scale;
  cj_dim d;
  if (!unit || !*unit || !strcmp(unit, "1") || cj_unit_parse(unit, &scale, &d)) return cj_dimless;
  return d;
}

static void pushvec(lua_State *L, int base, void *data, cj_dtype t, int64_t n, cj_dim d)
{
  cj_array a;
  cj_array_wrap(&a, data, t, 1, &n);
  cj_pushview(L, base, &a, d);
}

/* net:state(pop, var) -> float64 (float32 in single precision) view of the live state */
static int m_state(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int p = popindex(L, n->net, 2), v;
  if (lua_type(L, 3) == LUA_TSTRING) {
    v = cj_net_pop_varfind(n->net, p, lua_tostring(L, 3));
    if (v < 0) return luaL_argerror(L, 3, lua_pushfstring(L, "population '%s' has no variable '%s'",
                                                         cj_net_pop_name(n->net, p), lua_tostring(L, 3)));
  } else {
    v = (int)luaL_checkinteger(L, 3) - 1;
    luaL_argcheck(L, v >= 0 && v < cj_net_pop_nvars(n->net, p), 3, "variable index out of range");
  }
  pushvec(L, 1, cj_net_pop_data(n->net, p, v), cj_net_single(n->net) ? CJ_F32 : CJ_F64, cj_net_pop_size(n->net, p), unitdim(cj_net_pop_varunit(n->net, p, v)));
  return 1;
}

/* net:lastspike(pop) -> float64 view (s; -inf before the first spike) */
static int m_lastspike(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int p = popindex(L, n->net, 2);
  pushvec(L, 1, cj_net_pop_lastspike(n->net, p), CJ_F64, cj_net_pop_size(n->net, p), cj_dim_base(CJ_DIM_S));
  return 1;
}

/* net:synvar(proj, var) -> float64 view of a synapse variable */
static int m_synvar(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int j = projindex(L, n->net, 2), v;
  if (lua_type(L, 3) == LUA_TSTRING) {
    v = cj_net_proj_varfind(n->net, j, lua_tostring(L, 3));
    if (v < 0) return luaL_argerror(L, 3, lua_pushfstring(L, "projection '%s' has no variable '%s'",
                                                         cj_net_proj_name(n->net, j), lua_tostring(L, 3)));
  } else {
    v = (int)luaL_checkinteger(L, 3) - 1;
    luaL_argcheck(L, v >= 0 && v < cj_net_proj_nvars(n->net, j), 3, "variable index out of range");
  }
  pushvec(L, 1, cj_net_proj_data(n->net, j, v), cj_net_single(n->net) ? CJ_F32 : CJ_F64, cj_net_proj_nsyn(n->net, j), unitdim(cj_net_proj_varunit(n->net, j, v)));
  return 1;
}

static larray *copyvec(lua_State *L, cj_dtype t, int64_t n, const void *src, cj_dim d)
{
  larray *a = cj_newarray(L, t, 1, &n);
  if (n) memcpy(a->a.data, src, (size_t)n * cj_dtype_size(t));
  a->dim = d;
  return a;
}

/* A copy of n neuron indices, 1-based (the runtime counts from 0). */
static void pushindices(lua_State *L, int64_t n, const int32_t *idx)
{
  int32_t *x = cj_newarray(L, CJ_I32, 1, &n)->a.data;
  for (int64_t k = 0; k < n; k++) x[k] = idx[k] + 1;
}

/* net:connectivity(proj) -> pre, post (int32, 1-based), delays (int32 steps) */
static int m_connectivity(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int j = projindex(L, n->net, 2);
  int64_t ns = cj_net_proj_nsyn(n->net, j);
  const int32_t *pre = cj_net_proj_pre(n->net, j);
  if (!pre && ns) return luaL_error(L, "%s", cj_errmsg());
  pushindices(L, ns, pre);
  pushindices(L, ns, cj_net_proj_post(n->net, j));
  const int32_t *d = cj_net_proj_delays(n->net, j);
  if (d) copyvec(L, CJ_I32, ns, d, cj_dimless);
  else {
    larray *a = cj_newarray(L, CJ_I32, 1, &ns);
    int32_t *x = a->a.data;
    for (int64_t s = 0; s < ns; s++) x[s] = (int32_t)cj_net_proj_delay(n->net, j);
  }
  return 3;
}

/* Times k * every * dt (s) of n records. */
static void pushrecordtimes(lua_State *L, int64_t n, int64_t every, double dt)
{
  larray *t = cj_newarray(L, CJ_F64, 1, &n);
  for (int64_t k = 0; k < n; k++) ((double *)t->a.data)[k] = (double)(k * every) * dt;
  t->dim = cj_dim_base(CJ_DIM_S);
}

/* The data of monitor m streamed to its file (float64 rows, written by
 * monitor.c at the end of every run: spikes [t (s), neuron from 0], state one
 * row of values per record, rates one per window), read back in the shapes
 * and units of the in-memory monitors. A file that cannot be read, or that is
 * not what the monitor wrote, is an error naming it. */
static int streamed(lua_State *L, cj_net *net, int m)
{
  const char *file = cj_net_mon_file(net, m);
  int kind = cj_net_mon_kind(net, m), pop, proj, var;
  int64_t every = cj_net_mon_every(net, m), rows;
  double dt = cj_net_dt(net);
  larray *x;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "cajal.core");
  lua_getfield(L, -1, "io");
  lua_getfield(L, -1, "load_npy");
  lua_pushstring(L, file);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return luaL_error(L, "monitor streamed to '%s': %s", file, lua_tostring(L, -1));
  x = cj_testarray(L, -1);
  rows = x && x->a.ndim >= 1 ? x->a.shape[0] : 0;
  if (!x || x->a.dtype != CJ_F64 || !cj_array_iscontig(&x->a) || x->a.ndim != (kind == CJ_MON_RATE ? 1 : 2) ||
      (kind == CJ_MON_SPIKES && x->a.shape[1] != 2))
    return luaL_error(L, "monitor streamed to '%s': the file does not hold this monitor's float64 rows", file);
  const double *d = x->a.data;
  if (kind == CJ_MON_SPIKES) {
    larray *t = cj_newarray(L, CJ_F64, 1, &rows);
    int32_t *i = cj_newarray(L, CJ_I32, 1, &rows)->a.data;
    for (int64_t k = 0; k < rows; k++) {
      if (!(d[2 * k + 1] >= 0 && d[2 * k + 1] < INT32_MAX))
        return luaL_error(L, "monitor streamed to '%s': row %I holds no neuron index", file, (lua_Integer)k + 1);
      ((double *)t->a.data)[k] = d[2 * k];
      i[k] = (int32_t)d[2 * k + 1] + 1;
    }
    t->dim = cj_dim_base(CJ_DIM_S);
    lua_pushliteral(L, "spikes");
    return 3;
  }
  cj_net_mon_target(net, m, &pop, &proj, &var);
  x->dim = kind == CJ_MON_RATE ? cj_dim_div(cj_dimless, cj_dim_base(CJ_DIM_S))
         : unitdim(proj >= 0 ? cj_net_proj_varunit(net, proj, var) : cj_net_pop_varunit(net, pop, var));
  pushrecordtimes(L, rows, every, dt);
  lua_pushstring(L, kind == CJ_MON_RATE ? "rate" : "state");
  return 3;
}

/* net:monitor(m) -> spikes: times, indices (1-based) | state: values (rows x cols), times
 * | rate: rates, times; the same from the file of a streamed monitor. */
static int m_monitor(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int m = (int)luaL_checkinteger(L, 2) - 1;
  double dt = cj_net_dt(n->net);
  cj_dim sec = cj_dim_base(CJ_DIM_S);
  luaL_argcheck(L, m >= 0 && m < cj_net_nmonitors(n->net), 2, "monitor index out of range");
  if (cj_net_mon_file(n->net, m)) return streamed(L, n->net, m);
  switch (cj_net_mon_kind(n->net, m)) {
  case CJ_MON_SPIKES: {
    const int64_t *st; const int32_t *id;
    int64_t ns = cj_net_mon_spikes(n->net, m, &st, &id);
    larray *t = cj_newarray(L, CJ_F64, 1, &ns);
    for (int64_t k = 0; k < ns; k++) ((double *)t->a.data)[k] = (double)st[k] * dt;
    t->dim = sec;
    pushindices(L, ns, id);
    lua_pushliteral(L, "spikes");
    return 3;
  }
  case CJ_MON_STATE: {
    const int64_t *st; const double *v; int64_t cols;
    int64_t rows = cj_net_mon_state(n->net, m, &st, &v, &cols), shape[2] = { rows, cols };
    larray *a = cj_newarray(L, CJ_F64, 2, shape);
    int pop, proj, var;
    if (rows * cols != 0) memcpy(a->a.data, v, (size_t)(rows * cols) * sizeof *v);
    cj_net_mon_target(n->net, m, &pop, &proj, &var);
    a->dim = unitdim(proj >= 0 ? cj_net_proj_varunit(n->net, proj, var) : cj_net_pop_varunit(n->net, pop, var));
    larray *t = cj_newarray(L, CJ_F64, 1, &rows);
    for (int64_t k = 0; k < rows; k++) ((double *)t->a.data)[k] = (double)st[k] * dt;
    t->dim = sec;
    lua_pushliteral(L, "state");
    return 3;
  }
  default: {
    const double *r;
    int64_t nr = cj_net_mon_rate(n->net, m, &r), every = cj_net_mon_every(n->net, m);
    copyvec(L, CJ_F64, nr, r, cj_dim_div(cj_dimless, sec));
    pushrecordtimes(L, nr, every, dt);
    lua_pushliteral(L, "rate");
    return 3;
  }
  }
}

/* net:monitor_neurons(m) -> first, last (1-based) of a spike or rate monitor's
 * slice | the 1-based indices (int32 array) of a state monitor's columns. */
static int m_monitor_neurons(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int m = (int)luaL_checkinteger(L, 2) - 1;
  luaL_argcheck(L, m >= 0 && m < cj_net_nmonitors(n->net), 2, "monitor index out of range");
  if (cj_net_mon_kind(n->net, m) == CJ_MON_STATE) {
    const int64_t *idx;
    int64_t k, cols = cj_net_mon_indices(n->net, m, &idx);
    int32_t *x = cj_newarray(L, CJ_I32, 1, &cols)->a.data;
    for (k = 0; k < cols; k++) x[k] = (int32_t)idx[k] + 1;
    return 1;
  }
  int64_t lo, hi;
  cj_net_mon_slice(n->net, m, &lo, &hi);
  lua_pushinteger(L, lo + 1);
  lua_pushinteger(L, hi + 1);
  return 2;
}

/* net:window(m, s0, s1) -> the spikes of spike monitor m recorded at steps
 * s0 <= step < s1 (s1 at most the current step), as a spike window
 * (lwindow.c): O(log record + window), the record is not copied. */
static int m_window(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int m = (int)luaL_checkinteger(L, 2) - 1, pop, proj, var;
  lua_Integer s0 = luaL_checkinteger(L, 3), s1 = luaL_checkinteger(L, 4);
  const int64_t *st; const int32_t *id;
  int64_t nrec, k0, k1, lo, hi;
  double dt = cj_net_dt(n->net);
  lwindow *w;
  luaL_argcheck(L, m >= 0 && m < cj_net_nmonitors(n->net), 2, "monitor index out of range");
  luaL_argcheck(L, cj_net_mon_kind(n->net, m) == CJ_MON_SPIKES, 2,
                "not a spike monitor (windows are taken of spike monitors: net.spikes.E)");
  if (cj_net_mon_file(n->net, m))
    return luaL_error(L, "the spike monitor streams to '%s': its spikes are in the file, and windows are "
                      "taken of monitors kept in memory", cj_net_mon_file(n->net, m));
  luaL_argcheck(L, s0 >= 0 && s0 <= s1 && s1 <= cj_net_step(n->net), 3,
                "steps must satisfy 0 <= from <= to <= the current step");
  nrec = cj_net_mon_spikes(n->net, m, &st, &id);
  cj_spikes_span(st, nrec, (int64_t)s0, (int64_t)s1, &k0, &k1);
  cj_net_mon_target(n->net, m, &pop, &proj, &var);
  cj_net_mon_slice(n->net, m, &lo, &hi);
  w = cj_newwindow(L, k1 - k0);
  w->lo = lo;
  w->hi = hi;
  w->npop = cj_net_pop_size(n->net, pop);
  w->t0 = (double)s0 * dt;
  w->t1 = (double)s1 * dt;
  snprintf(w->label, sizeof w->label, "%s", cj_net_pop_name(n->net, pop));
  for (int64_t k = k0; k < k1; k++) {
    w->t[k - k0] = (double)st[k] * dt;                 /* as net:monitor() gives them */
    w->id[k - k0] = (int32_t)(id[k] - lo);
  }
  return 1;
}

static int m_step(lua_State *L) { lua_pushinteger(L, (lua_Integer)cj_net_step(checknet(L, 1)->net)); return 1; }
static int m_time(lua_State *L) { lua_pushnumber(L, cj_net_time(checknet(L, 1)->net)); return 1; }
static int m_dt(lua_State *L) { lua_pushnumber(L, cj_net_dt(checknet(L, 1)->net)); return 1; }

static int m_reset(lua_State *L)
{
  lnet *n = checknet(L, 1);
  if (cj_net_reset(n->net)) return luaL_error(L, "%s", cj_errmsg());
  return 0;
}

static int m_save(lua_State *L)
{
  lnet *n = checknet(L, 1);
  const char *path = luaL_checkstring(L, 2);
  size_t len = 0;
  const char *meta = luaL_optlstring(L, 3, "", &len);
  if (cj_net_save_meta(n->net, path, meta, len)) return luaL_error(L, "%s", cj_errmsg());
  return 0;
}

/* net:info() -> { name, step, dt, memory, populations = {{name, n, vars}}, projections = {{name, nsyn}} } */
static int m_info(lua_State *L)
{
  lnet *n = checknet(L, 1);
  cj_net *net = n->net;
  lua_createtable(L, 0, 7);
  lua_pushstring(L, cj_net_name(net)); lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)cj_net_step(net)); lua_setfield(L, -2, "step");
  lua_pushnumber(L, cj_net_dt(net)); lua_setfield(L, -2, "dt");
  lua_pushinteger(L, (lua_Integer)cj_net_memsize(net)); lua_setfield(L, -2, "memory");
  lua_pushstring(L, cj_net_single(net) ? "single" : "double"); lua_setfield(L, -2, "precision");
  lua_pushinteger(L, cj_net_threads(net)); lua_setfield(L, -2, "threads");
  lua_createtable(L, cj_net_npops(net), 0);
  for (int p = 0; p < cj_net_npops(net); p++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, cj_net_pop_name(net, p)); lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)cj_net_pop_size(net, p)); lua_setfield(L, -2, "n");
    lua_createtable(L, cj_net_pop_nvars(net, p), 0);
    for (int v = 0; v < cj_net_pop_nvars(net, p); v++) {
      lua_pushstring(L, cj_net_pop_varname(net, p, v));
      lua_rawseti(L, -2, v + 1);
    }
    lua_setfield(L, -2, "vars");
    lua_rawseti(L, -2, p + 1);
  }
  lua_setfield(L, -2, "populations");
  lua_createtable(L, cj_net_nprojs(net), 0);
  for (int j = 0; j < cj_net_nprojs(net); j++) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, cj_net_proj_name(net, j)); lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)cj_net_proj_nsyn(net, j)); lua_setfield(L, -2, "nsyn");
    lua_rawseti(L, -2, j + 1);
  }
  lua_setfield(L, -2, "projections");
  return 1;
}

/* net:backend(kernel_id) -> "jit" | "interpreter" */
static int m_backend(lua_State *L)
{
  lnet *n = checknet(L, 1);
  int b = cj_net_kernel_jit(n->net, (int)luaL_checkinteger(L, 2));
  luaL_argcheck(L, b >= 0, 2, "no such kernel");
  lua_pushstring(L, b ? "jit" : "interpreter");
  return 1;
}

/* net:tier([wait]) -> "compiling" | "jit" | "interp" | nil: the state of a
 * tiered start after a poll (wait: until the compile has ended, switching
 * now); nil for a network built on one backend. */
static int m_tier(lua_State *L)
{
  lnet *n = checknet(L, 1);
  if (!n->tier) { lua_pushnil(L); return 1; }
  tierpoll(n, lua_toboolean(L, 2));
  int s = cj_tier_state(n->tier);
  lua_pushstring(L, s == CJ_TIER_COMPILING ? "compiling" : s == CJ_TIER_JIT ? "jit" : "interp");
  return 1;
}

static int m_gc(lua_State *L)
{
  lnet *n = luaL_checkudata(L, 1, CJ_NET);
  cj_net_free(n->net);
  n->net = NULL;
  cj_tier_free(n->tier);            /* after the network: it ran these kernels */
  n->tier = NULL;
  return 0;
}

static int m_tostring(lua_State *L)
{
  lnet *n = luaL_checkudata(L, 1, CJ_NET);
  if (!n->net) lua_pushliteral(L, "network (closed)");
  else lua_pushfstring(L, "network '%s' (%d populations, %d projections, step %I, t = %f s)",
                       cj_net_name(n->net), cj_net_npops(n->net), cj_net_nprojs(n->net),
                       (lua_Integer)cj_net_step(n->net), cj_net_time(n->net));
  return 1;
}

/* ---- the compiler cache ------------------------------------------------------------ */
static int jit_gc(lua_State *L)
{
  ljit *j = luaL_checkudata(L, 1, CJ_JIT);
  cj_jit_release(j->j);
  j->j = NULL;
  return 0;
}

static int jit_tostring(lua_State *L)
{
  ljit *j = luaL_checkudata(L, 1, CJ_JIT);
  lua_pushfstring(L, "compiled kernels (%s)", j->j ? cj_jit_path(j->j) : "released");
  return 1;
}

static int job_gc(lua_State *L)
{
  ljob *j = luaL_checkudata(L, 1, CJ_JITJOB);
  cj_jit_job_release(j->job);
  j->job = NULL;
  return 0;
}

/* The arguments of jit_compile / jit_start: the source at 1, the kernel
 * lines (from the IR kernel list at 2) into *lines in scratch memory. */
static const char *jitargs(lua_State *L, const char *fn, cj_jitline **plines, int *pnl)
{
  size_t len;
  const char *src = luaL_checklstring(L, 1, &len);
  int nl = 0;
  cj_jitline *lines = NULL;
  rd r = { L, NULL, fn };
  luaL_argcheck(L, strlen(src) == len, 1, "source contains a zero byte");
  lua_settop(L, 2);
  r.s = newscratch(L);                                   /* stack: src, kernels, scratch */
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    nl = (int)lua_rawlen(L, 2);
    lines = salloc(L, r.s, (size_t)(nl > 0 ? nl : 1) * sizeof *lines);
    for (int i = 1; i <= nl; i++) {
      if (lua_rawgeti(L, 2, i) == LUA_TTABLE) {
        const char *p = spath(&r, "kernels[%d]", i);
        lines[i - 1].id = (int)getint(&r, -1, "id", p, 0, 0, 65535);
        lines[i - 1].line = (int)getint(&r, -1, "line", p, 0, 0, INT32_MAX);
        lines[i - 1].name = getstr(&r, -1, "name", p, "");
      }
      lua_pop(L, 1);
    }
  }
  *plines = lines;
  *pnl = nl;
  return src;
}

static int jitfail(lua_State *L, int st)
{
  luaL_pushfail(L);
  lua_pushstring(L, cj_errmsg());
  lua_pushstring(L, st == CJ_EIO ? "environment" : "model");
  return 3;
}

/* core.jit_compile(csource [, kernels]) -> handle | nil, message, kind
 * kind: "environment" (the machine failed: run the interpreter instead) or
 * "model" (the compiler rejected the C).
 * kernels: the IR kernel list (id, line, name used for compiler errors) */
static int l_jit_compile(lua_State *L)
{
  int nl;
  cj_jitline *lines;
  const char *src = jitargs(L, "jit_compile", &lines, &nl);
  ljit *j = lua_newuserdatauv(L, sizeof *j, 0);
  j->j = NULL;
  luaL_setmetatable(L, CJ_JIT);
  int st = cj_jit_compile(src, lines, nl, &j->j);
  return st ? jitfail(L, st) : 1;
}

/* core.jit_start(csource [, kernels]) -> handle | job | nil, message, kind:
 * the kernels from the cache, or a compile running in the background (a
 * job for core.net_new: a tiered start). */
static int l_jit_start(lua_State *L)
{
  int nl;
  cj_jitline *lines;
  const char *src = jitargs(L, "jit_start", &lines, &nl);
  ljit *j = lua_newuserdatauv(L, sizeof *j, 0);          /* stack: ..., handle, job */
  j->j = NULL;
  luaL_setmetatable(L, CJ_JIT);
  ljob *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->job = NULL;
  luaL_setmetatable(L, CJ_JITJOB);
  int st = cj_jit_start(src, lines, nl, &j->j, &b->job);
  if (st) return jitfail(L, st);
  if (j->j) lua_pop(L, 1);
  return 1;
}

static int l_jit_available(lua_State *L)
{
  char why[256];
  int ok = cj_jit_available(why, sizeof why);
  lua_pushboolean(L, ok);
  if (ok) return 1;
  lua_pushstring(L, why);
  return 2;
}

static int l_jit_stats(lua_State *L)
{
  cj_jitstats s;
  cj_jit_stats(&s);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, s.compiles); lua_setfield(L, -2, "compiles");
  lua_pushinteger(L, s.hits); lua_setfield(L, -2, "hits");
  lua_pushinteger(L, s.rebuilds); lua_setfield(L, -2, "rebuilds");
  return 1;
}

static int l_cache_clear(lua_State *L)
{
  long n;
  if (cj_jit_cache_clear(&n)) { luaL_pushfail(L); lua_pushstring(L, cj_errmsg()); return 2; }
  lua_pushinteger(L, n);
  return 1;
}

static int l_cache_dir(lua_State *L)
{
  char buf[4096];
  if (cj_jit_cache_dir(buf, sizeof buf)) { luaL_pushfail(L); lua_pushstring(L, cj_errmsg()); return 2; }
  lua_pushstring(L, buf);
  return 1;
}

/* cj.threads([n]) -> n: set (1 .. CJ_THR_MAX) or read the thread count */
static int l_threads(lua_State *L)
{
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= CJ_THR_MAX, 1, lua_pushfstring(L, "a count from 1 to %d expected, got %I",
                                                                  CJ_THR_MAX, n));
    if (n > 1 && !cj_threads_available()) luaL_argerror(L, 1, "this cajal was built without OpenMP (one thread only)");
    cj_threads_set((int)n);
  }
  lua_pushinteger(L, cj_threads());
  return 1;
}

/* cj.thread_grain([neurons]) -> neurons */
static int l_thread_grain(lua_State *L)
{
  lua_Integer e = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, e >= 0, 1, "a positive count expected (0: unchanged)");
  lua_pushinteger(L, cj_threads_grain(e));
  return 1;
}

/* cj.thread_adapt([on]) -> on */
static int l_thread_adapt(lua_State *L)
{
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    cj_threads_adapt(lua_toboolean(L, 1));
  }
  lua_pushboolean(L, cj_threads_adapt(-1));
  return 1;
}

static int l_kernel_prelude(lua_State *L) { lua_pushstring(L, cj_kernel_prelude()); return 1; }

/* core.kernel_functions() -> { name = { cname, nargs } } from CJ_KFUNCS */
static int l_kernel_functions(lua_State *L)
{
  lua_createtable(L, 0, CJ_NFUNC);
  for (int f = 0; f < CJ_NFUNC; f++) {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, cj_func_cname(f));
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, cj_func_arity(f));
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, cj_func_name(f));
  }
  return 1;
}
static int l_jit_flags(lua_State *L) { lua_pushstring(L, cj_jit_flags()); return 1; }

/* ---- opening ------------------------------------------------------------------------ */
static const luaL_Reg methods[] = {
  { "run", m_run }, { "state", m_state }, { "lastspike", m_lastspike }, { "synvar", m_synvar },
  { "connectivity", m_connectivity }, { "monitor", m_monitor }, { "monitor_neurons", m_monitor_neurons }, { "window", m_window }, { "step", m_step },
  { "time", m_time }, { "dt", m_dt }, { "reset", m_reset }, { "save", m_save },
  { "info", m_info }, { "backend", m_backend }, { "tier", m_tier }, { NULL, NULL }
};

static const luaL_Reg funcs[] = {
  { "net_new", net_new }, { "net_restore", net_restore }, { "jit_compile", l_jit_compile },
  { "jit_start", l_jit_start },
  { "savefile_read", l_savefile_read }, { "savefile_parse", l_savefile_parse },
  { "jit_available", l_jit_available }, { "jit_stats", l_jit_stats }, { "cache_clear", l_cache_clear },
  { "cache_dir", l_cache_dir }, { "kernel_prelude", l_kernel_prelude }, { "jit_flags", l_jit_flags },
  { "kernel_functions", l_kernel_functions },
  { "threads", l_threads }, { "thread_grain", l_thread_grain }, { "thread_adapt", l_thread_adapt }, { NULL, NULL }
};

static const cj_doc docs[] = {
  { "net_new", "core.net_new(ir [, jit]) -> net\n"
    "Build a network from an IR table (vm/core/IR.md); jit: a handle from core.jit_compile, else the interpreter runs the kernels; a job from core.jit_start: the interpreter runs them until the job has compiled them (a tiered start, net:tier)." },
  { "net_restore", "core.net_restore(ir, savefile [, jit]) -> net\n"
    "A network from the IR whose connectivity and state come from a save file (core.savefile_read)." },
  { "savefile_read", "core.savefile_read(path) -> savefile, meta | nil, message\n"
    "Read a file written by net:save and check its format and checksum; meta: the bytes saved with it." },
  { "savefile_parse", "core.savefile_parse(bytes [, name]) -> savefile, meta | nil, message\n"
    "As core.savefile_read, from the file's bytes in a string." },
  { "jit_compile", "core.jit_compile(csource [, kernels]) -> handle | nil, message, kind\n"
    "Compile kernel C through the cache; kernels (the IR list) lets errors name model lines. "
    "kind: \"environment\" when the machine failed (no compiler or assembler, a full disk, a "
    "compiler killed or past CAJAL_JIT_TIMEOUT, an unsafe cache), \"model\" when the compiler rejected the C." },
  { "jit_start", "core.jit_start(csource [, kernels]) -> handle | job | nil, message, kind\n"
    "As jit_compile, without waiting for the compiler: the kernels when the cache has them, else a job "
    "(the compiler running as a child process) to give to core.net_new for a tiered start." },
  { "jit_available", "core.jit_available() -> true | false, why\nWhether kernels can be compiled (CAJAL_JIT, CC)." },
  { "jit_stats", "core.jit_stats() -> {compiles, hits, rebuilds}\nCompiler runs and cache hits of this process." },
  { "cache_clear", "cj.cache_clear() -> count | nil, message\nRemove the compiled kernels from the cache directory." },
  { "cache_dir", "cj.cache_dir() -> path\nThe compile cache ($CAJAL_CACHE, $XDG_CACHE_HOME/cajal or ~/.cache/cajal)." },
  { "kernel_prelude", "core.kernel_prelude() -> string\nThe C text every generated kernel file starts with." },
  { "jit_flags", "core.jit_flags() -> string\nThe flags kernels are compiled with." },
  { "kernel_functions", "core.kernel_functions() -> {name = {cname, nargs}}\n"
    "The functions a kernel may call (IR.md's \"call\"): the C function both backends call and its\n"
    "argument count, from CJ_KFUNCS in vm/core/interp.h." },
  { "threads", "cj.threads([n]) -> n\n"
    "Set (1 .. 256) or read the threads that run network steps (OpenMP). The default is\n"
    "$CAJAL_THREADS, else the processors this process may use. Results are identical, bit for\n"
    "bit, at any count: each thread owns a range of every population's neurons (their update,\n"
    "threshold, and the deliveries and summed coupling into them, each target adding its inputs\n"
    "in the one-thread order), random numbers are keyed by (seed, element, step). A network of\n"
    "fewer than 2 x cj.thread_grain() neurons runs on one thread (net.threads: how many ran).\n"
    "Under mpirun the count is each rank's: its threads share the rank's own neurons, thread 0\n"
    "exchanges the spikes (man cajal-scale, THREADS AND RANKS). Here (2 cores of a virtual\n"
    "machine) CUBA with 40 000 and 100 000 neurons ran 1.4-1.9x faster at 2 threads, COBA\n"
    "40 000 1.66-1.80x (tests/bench/threads.lua, several runs). While\n"
    "other work holds the cores, every barrier of a step waits for a thread the system has set\n"
    "aside, so a run times its chunks and runs them on one thread while that is faster\n"
    "(cj.thread_adapt). Without OpenMP: 1." },
  { "thread_adapt", "cj.thread_adapt([on]) -> on\n"
    "Whether a run may put chunks of steps on one thread when its team of threads is slower\n"
    "(a busy machine): it times every chunk (net:run's chunks, 100 steps by default); when the\n"
    "team's barriers had to sleep it times one chunk on one thread, and while the team is the\n"
    "slower it runs 1, 2, 4 ... 64 chunks on one thread before trying the team again. Results\n"
    "are the same bits either way; net.threads tells how many ran the last chunk. Default true;\n"
    "tests that check a team's size turn it off." },
  { "thread_grain", "cj.thread_grain([neurons]) -> neurons\n"
    "The neurons per thread below which a network runs on fewer threads (default 8192: one\n"
    "thread under 16384 neurons); 0 or nil leaves it unchanged. Tests set 1 to split even tiny\n"
    "networks. A projection's index by target for splitting summed coupling is made when the\n"
    "network is built with at least 2 x neurons." },
  { NULL, NULL }
};

static const cj_doc mdocs[] = {
  { "run", "net:run(nsteps [, progress])\nAdvance nsteps steps in C (progress bar on a terminal; Ctrl-C stops between steps)." },
  { "state", "net:state(pop, var) -> array\nA float64 view of the live state (float32 in a single-precision network; pop, var: names or 1-based indices); writes are seen by the next run." },
  { "lastspike", "net:lastspike(pop) -> array\nA view of the last spike time of each neuron (s; -inf before the first)." },
  { "synvar", "net:synvar(proj, var) -> array\nA float64 view of a synapse variable (float32 in single precision), in synapse order." },
  { "connectivity", "net:connectivity(proj) -> pre, post, delays\nint32 arrays: 1-based neuron indices per synapse, and delays in steps." },
  { "monitor_neurons", "net:monitor_neurons(m) -> first, last | indices\nThe recorded neurons, 1-based: the slice of a spike or rate monitor, the columns (int32 array) of a state monitor." },
  { "monitor", "net:monitor(m) -> a, b, kind\nspikes: times (s), indices (1-based); state: values (rows x cols), times; rate: rates (Hz), window start times.\nA monitor streaming to a file gives the same, read back from its file." },
  { "step", "net:step() -> integer\nSteps done since build or reset." },
  { "time", "net:time() -> seconds\nThe current time, step * dt." },
  { "dt", "net:dt() -> seconds\nThe time step." },
  { "window", "net:window(m, from, to) -> spike window\nThe spikes of spike monitor m recorded at steps from <= step < to (to at most the current step), copied out in O(log record + window); mon:window(T) is the public face." },
  { "reset", "net:reset()\nBack to step 0: initial values again, spikes in flight and monitors dropped; connectivity kept." },
  { "save", "net:save(path)\nWrite connectivity, state, spikes in flight, RNG positions and monitors to a file (a third argument: bytes stored with them, under the same checksum)." },
  { "info", "net:info() -> table\nName, step, dt, memory (bytes), precision, threads (of the last chunk of steps run), populations and projections." },
  { "backend", "net:backend(kernel_id) -> 'jit' | 'interpreter'\nWhich backend runs a kernel." },
  { "tier", "net:tier([wait]) -> 'compiling' | 'jit' | 'interp' | nil\nA tiered start: poll the background compile (wait: until it ends) and switch to its kernels when loaded; the state after the poll ('interp': the compile failed). nil for a network built on one backend." },
  { NULL, NULL }
};

void cj_open_net(lua_State *L)
{
  if (luaL_newmetatable(L, CJ_NET)) {
    luaL_newlib(L, methods);
    cj_setdocs(L, -1, mdocs);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_tostring); lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, CJ_SAVEFILE)) {
    lua_pushcfunction(L, save_gc); lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, CJ_JIT)) {
    lua_pushcfunction(L, jit_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, jit_tostring); lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, CJ_JITJOB)) {
    lua_pushcfunction(L, job_gc); lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  cj_setdocs(L, -1, docs);
}
