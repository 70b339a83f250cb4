/*
 * lanalysis.c — argument helpers of the analysis bindings (see
 * lanalysis.h): options, durations, float64 data, spike trains.
 */
#include "lanalysis.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arrsort.h"
#include "lopt.h"

/* ---- options ----------------------------------------------------------------- */

int cj_opts(lua_State *L, int o, const char *const *known)
{
  return lopt_at(L, o, known);
}

int cj_opterror(lua_State *L, int o, const char *key, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lua_pushfstring(L, "option '%s' %s", key, msg);
  return luaL_argerror(L, o, lua_tostring(L, -1));
}

int cj_optget(lua_State *L, int o, const char *key)
{
  if (!o) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, o, key);
}

int cj_opthas(lua_State *L, int o, const char *key)
{
  int t = cj_optget(L, o, key);
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

double cj_optnum(lua_State *L, int o, const char *key, double def)
{
  double v = def;
  int t = cj_optget(L, o, key);
  if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (t != LUA_TNIL) cj_opterror(L, o, key, "must be a number");
  lua_pop(L, 1);
  return v;
}

lua_Integer cj_optint(lua_State *L, int o, const char *key, lua_Integer def)
{
  lua_Integer v = def;
  int isint, t = cj_optget(L, o, key);
  if (t != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isint);
    if (!isint) cj_opterror(L, o, key, "must be an integer");
  }
  lua_pop(L, 1);
  return v;
}

int cj_optbool(lua_State *L, int o, const char *key, int def)
{
  int v = def, t = cj_optget(L, o, key);
  if (t == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL) cj_opterror(L, o, key, "must be a boolean");
  lua_pop(L, 1);
  return v;
}

int cj_optchoice(lua_State *L, int o, const char *key, int def, const char *const *choices)
{
  int t = cj_optget(L, o, key), v = def;
  if (t != LUA_TNIL) {
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    char list[200] = "";
    v = -1;
    for (int k = 0; s && choices[k]; k++)
      if (strcmp(s, choices[k]) == 0) v = k;
    if (v < 0) {
      for (int k = 0; choices[k]; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s\"%s\"", k ? (choices[k + 1] ? ", " : " or ") : "", choices[k]);
      }
      cj_opterror(L, o, key, "must be %s", list);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* The value on top of the stack as seconds; msg names it on failure. */
static int totime(lua_State *L, double *v)
{
  cj_dim d;
  if (!cj_toquantity(L, -1, v, &d)) return 0;
  return cj_dim_isless(d) || cj_dim_eq(d, cj_dim_seconds());
}

double cj_opttime(lua_State *L, int o, const char *key, double def)
{
  double v = def;
  if (cj_optget(L, o, key) != LUA_TNIL && !totime(L, &v))
    cj_opterror(L, o, key, "must be a duration (seconds or a quantity of time)");
  lua_pop(L, 1);
  return v;
}

/* ---- values ------------------------------------------------------------------- */

cj_dim cj_dim_seconds(void) { return cj_dim_base(CJ_DIM_S); }

cj_dim cj_dim_hertz(void) { return cj_dim_div(cj_dimless, cj_dim_base(CJ_DIM_S)); }

double cj_checktime(lua_State *L, int i, const char *what)
{
  double v;
  lua_pushvalue(L, i);
  if (!totime(L, &v)) {
    lua_pushfstring(L, "%s must be a duration (seconds or a quantity of time)", what);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  if (!isfinite(v)) {
    lua_pushfstring(L, "%s must be finite", what);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  return v;
}

double cj_checkpostime(lua_State *L, int i, const char *what)
{
  double v = cj_checktime(L, i, what);
  if (!(v > 0)) {
    lua_pushfstring(L, "%s must be positive", what);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  return v;
}

larray *cj_toarray(lua_State *L, int i)
{
  larray *a = cj_testarray(L, i);
  i = lua_absindex(L, i);
  if (a) return a;
  a = cj_optarray(L, i);
  lua_replace(L, i);
  return a;
}

const double *cj_f64(lua_State *L, int i, int64_t *n)
{
  larray *a;
  i = lua_absindex(L, i);
  a = cj_toarray(L, i);
  *n = cj_array_numel(&a->a);
  if (a->a.dtype != CJ_F64 || !cj_array_iscontig(&a->a)) {
    larray *c = cj_newarray(L, CJ_F64, a->a.ndim, a->a.shape);
    if (cj_array_copy(&c->a, &a->a)) luaL_error(L, "%s", cj_errmsg());
    c->dim = a->dim;
    lua_replace(L, i);
    a = c;
  }
  return a->a.data;
}

double *cj_newf64(lua_State *L, int ndim, const int64_t *shape, cj_dim d)
{
  larray *a = cj_newarray(L, CJ_F64, ndim, shape);
  a->dim = d;
  return a->a.data;
}

/* ---- spike trains --------------------------------------------------------------- */

#define SPIKEMON "cajal.spikemonitor"

/* 1 for a spike monitor; 2 for a state or rate monitor (no spike times). */
static int ismonitor(lua_State *L, int i)
{
  int r = 0;
  if (lua_type(L, i) == LUA_TTABLE && lua_getmetatable(L, i)) {
    if (lua_getfield(L, -1, "__name") == LUA_TSTRING) {
      const char *name = lua_tostring(L, -1);
      r = strcmp(name, SPIKEMON) == 0 ? 1
        : strcmp(name, "cajal.statemonitor") == 0 || strcmp(name, "cajal.ratemonitor") == 0 ? 2 : 0;
    }
    lua_pop(L, 2);
  }
  return r;
}

int cj_istrains(lua_State *L, int i)
{
  int r;
  if (ismonitor(L, i) || cj_testwindow(L, i)) return 1;
  if (lua_type(L, i) != LUA_TTABLE) return 0;
  r = lua_getfield(L, i, "times") != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}

/* Call method name of the object at i with no arguments; nres results. */
static void callmethod(lua_State *L, int i, const char *name, int nres)
{
  if (lua_getfield(L, i, name) != LUA_TFUNCTION)
    luaL_error(L, "spike monitor has no method '%s'", name);
  lua_pushvalue(L, i);
  lua_call(L, 1, nres);
}

/* The array at index k as spike times in s (float64 contiguous, converted
 * in place); arg names the argument in errors. */
static const double *timesof(lua_State *L, int arg, int k, int64_t *n, const char *what)
{
  larray *a;
  k = lua_absindex(L, k);
  if (!cj_testarray(L, k) && !lua_istable(L, k) && lua_type(L, k) != LUA_TNUMBER) {
    lua_pushfstring(L, "%s: array of spike times expected, got %s", what, luaL_typename(L, k));
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  a = cj_toarray(L, k);
  if (!cj_dim_isless(a->dim) && !cj_dim_eq(a->dim, cj_dim_seconds())) {
    lua_pushfstring(L, "%s: spike times must be in seconds", what);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  if (a->a.ndim > 1) {
    lua_pushfstring(L, "%s: spike times must be 1-D (got %d dimensions)", what, a->a.ndim);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
  return cj_f64(L, k, n);
}

typedef struct { int64_t *off; double *t; } store;

/* Push the userdata holding ntrains + 1 offsets and nspikes times. */
static store newstore(lua_State *L, int64_t ntrains, int64_t nspikes)
{
  store s;
  size_t bytes = sizeof(int64_t) * (size_t)(ntrains + 1) + sizeof(double) * (size_t)nspikes;
  s.off = lua_newuserdatauv(L, bytes, 0);
  s.t = (double *)(s.off + ntrains + 1);
  return s;
}

/* Keep spikes within [t0, t1] of each train and sort each train. */
static void tidy(lua_State *L, int arg, ltrains *s, store *st)
{
  int64_t w = 0;
  for (int64_t j = 0; j < s->tr.n; j++) {
    int64_t b = st->off[j], e = st->off[j + 1], start = w;
    for (int64_t k = b; k < e; k++) {
      double t = st->t[k];
      if (isnan(t)) luaL_argerror(L, arg, "spike times must not be NaN");
      if (t >= s->tr.t0 && t <= s->tr.t1) st->t[w++] = t;
    }
    st->off[j] = start;
    if (cj_sort_f64(st->t + start, w - start)) luaL_error(L, "%s", cj_errmsg());
  }
  st->off[s->tr.n] = w;
}

/* Window from options; def1 is the default stop. */
static void window(lua_State *L, int arg, int o, ltrains *s, double def1)
{
  s->tr.t0 = cj_opttime(L, o, "t_start", 0);
  s->tr.t1 = cj_opttime(L, o, "t_stop", def1);
  if (!isfinite(s->tr.t0) || !isfinite(s->tr.t1) || !(s->tr.t1 > s->tr.t0)) {
    lua_pushfstring(L, "empty observation window [%f, %f] s (set t_start < t_stop)", s->tr.t0, s->tr.t1);
    luaL_argerror(L, arg, lua_tostring(L, -1));
  }
}

static double lastof(const double *t, int64_t n, double m)
{
  for (int64_t k = 0; k < n; k++) if (t[k] > m) m = t[k];
  return m;
}

/* times t (n) with 1-based labels lab (n) into trains first..first+ntr-1 */
static void fromlabels(lua_State *L, int arg, int o, ltrains *s, const double *t, const double *lab,
                       int64_t n, int64_t first, int64_t ntr, double defstop)
{
  store st;
  int top;
  for (int64_t k = 0; k < n; k++) {
    double v = lab[k];
    if (v != floor(v) || v < (double)first || v >= (double)(first + ntr)) {
      lua_pushfstring(L, "spike index %f outside %I..%I", v, (lua_Integer)first, (lua_Integer)(first + ntr - 1));
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
  }
  window(L, arg, o, s, defstop);
  st = newstore(L, ntr, n);
  top = lua_gettop(L);
  memset(st.off, 0, sizeof(int64_t) * (size_t)(ntr + 1));
  for (int64_t k = 0; k < n; k++) st.off[(int64_t)lab[k] - first + 1]++;
  for (int64_t j = 0; j < ntr; j++) st.off[j + 1] += st.off[j];
  {
    int64_t *pos = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(ntr + 1), 0);
    memcpy(pos, st.off, sizeof(int64_t) * (size_t)(ntr + 1));
    for (int64_t k = 0; k < n; k++) st.t[pos[(int64_t)lab[k] - first]++] = t[k];
    lua_settop(L, top);
  }
  s->tr.n = ntr;
  s->first = first;
  tidy(L, arg, s, &st);
  s->tr.off = st.off;
  s->tr.t = st.t;
}

static int hastimes(lua_State *L, int i)
{
  int r;
  if (!lua_istable(L, i)) return 0;
  r = lua_getfield(L, i, "times") != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}

/* A monitor: its recorded neurons, window [0, duration]. */
static void frommonitor(lua_State *L, int i, int o, ltrains *s)
{
  int64_t n, nl;
  const double *t, *lab;
  double lo, hi, dur;
  callmethod(L, i, "neurons", 2);
  lo = lua_tonumber(L, -2);
  hi = lua_tonumber(L, -1);
  callmethod(L, i, "duration", 1);
  dur = cj_checktime(L, -1, "monitor duration");
  callmethod(L, i, "times", 1);
  t = timesof(L, i, -1, &n, "monitor");
  callmethod(L, i, "indices", 1);
  lab = cj_f64(L, -1, &nl);
  fromlabels(L, i, o, s, t, lab, n, (int64_t)lo, (int64_t)(hi - lo + 1), dur);
}

/* A table { times = t, indices = i [, n = N] }. */
static void fromtable(lua_State *L, int i, int o, ltrains *s)
{
  int64_t n, nl, ntr;
  const double *t, *lab;
  double maxlab = 0;
  int isint;
  lua_getfield(L, i, "times");
  t = timesof(L, i, -1, &n, "field 'times'");
  if (lua_getfield(L, i, "indices") == LUA_TNIL) luaL_argerror(L, i, "field 'indices' expected with 'times'");
  if (!cj_testarray(L, -1) && !lua_istable(L, -1)) luaL_argerror(L, i, "field 'indices' must be an array");
  lab = cj_f64(L, -1, &nl);
  if (nl != n) {
    lua_pushfstring(L, "fields 'times' and 'indices' differ in length (%I and %I)", (lua_Integer)n, (lua_Integer)nl);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  for (int64_t k = 0; k < n; k++) if (lab[k] > maxlab) maxlab = lab[k];
  lua_getfield(L, i, "n");
  ntr = lua_isnil(L, -1) ? (int64_t)maxlab : (int64_t)lua_tointegerx(L, -1, &isint);
  if (!lua_isnil(L, -1) && (!isint || ntr < 0)) luaL_argerror(L, i, "field 'n' must be a non-negative integer");
  lua_pop(L, 1);
  fromlabels(L, i, o, s, t, lab, n, 1, ntr, lastof(t, n, 0));
}

/* A list of arrays, one train each. */
static void fromlist(lua_State *L, int i, int o, ltrains *s)
{
  int64_t ntr = (int64_t)lua_rawlen(L, i), total = 0, n;
  int base = lua_gettop(L);
  double last = 0;
  store st;
  if (ntr > 100000000) luaL_argerror(L, i, "too many spike trains");
  luaL_checkstack(L, (int)ntr + 8, "too many spike trains");
  for (int64_t j = 1; j <= ntr; j++) {
    char what[48];
    const double *t;
    snprintf(what, sizeof what, "train %lld", (long long)j);
    lua_rawgeti(L, i, (lua_Integer)j);
    t = timesof(L, i, -1, &n, what);
    total += n;
    last = lastof(t, n, last);
  }
  window(L, i, o, s, last);
  st = newstore(L, ntr, total);
  st.off[0] = 0;
  for (int64_t j = 0; j < ntr; j++) {
    larray *a = cj_testarray(L, base + 1 + (int)j);
    n = cj_array_numel(&a->a);
    memcpy(st.t + st.off[j], a->a.data, sizeof(double) * (size_t)n);
    st.off[j + 1] = st.off[j] + n;
  }
  s->tr.n = ntr;
  tidy(L, i, s, &st);
  s->tr.off = st.off;
  s->tr.t = st.t;
}

/* A spike window: its neurons' trains over [t_start, t_stop) of the
 * window, or a narrower window from the options. The spikes are in time
 * order, so a stable sort by neuron leaves every train ascending. */
static void fromwindow(lua_State *L, int i, int o, ltrains *s, const lwindow *w)
{
  store st;
  int64_t ntr = w->hi - w->lo + 1;
  if (!(w->t1 > w->t0)) {
    lua_pushfstring(L, "the spike window [%f, %f] s is empty (taken before the network ran, or since its "
                    "current time): nothing to measure yet", w->t0, w->t1);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  s->tr.t0 = cj_opttime(L, o, "t_start", w->t0);
  s->tr.t1 = cj_opttime(L, o, "t_stop", w->t1);
  if (!(s->tr.t0 >= w->t0 && s->tr.t1 <= w->t1 && s->tr.t0 < s->tr.t1)) {
    lua_pushfstring(L, "t_start and t_stop must lie inside the spike window [%f, %f] s, in order", w->t0, w->t1);
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  st = newstore(L, ntr, w->n);
  if (cj_trains_fromlabels(w->t, w->id, w->n, ntr, st.off, st.t)) luaL_argerror(L, i, cj_errmsg());
  s->tr.n = ntr;
  s->first = w->lo + 1;
  if (s->tr.t0 > w->t0 || s->tr.t1 < w->t1) tidy(L, i, s, &st);
  s->tr.off = st.off;
  s->tr.t = st.t;
}

void cj_checktrains(lua_State *L, int i, int o, ltrains *s)
{
  int base = lua_gettop(L), mon;
  const lwindow *w;
  i = lua_absindex(L, i);
  memset(s, 0, sizeof *s);
  s->first = 1;
  mon = ismonitor(L, i);
  if (mon == 2) {
    luaL_argerror(L, i, "spike trains expected, got a state or rate monitor, which records no spike times "
                  "(use a spike monitor: net.spikes.E)");
  } else if (mon) {
    frommonitor(L, i, o, s);
  } else if ((w = cj_testwindow(L, i))) {
    fromwindow(L, i, o, s, w);
  } else if (cj_testarray(L, i)) {
    store st;
    int64_t n;
    const double *t = timesof(L, i, i, &n, "spike train");
    window(L, i, o, s, lastof(t, n, 0));
    st = newstore(L, 1, n);
    memcpy(st.t, t, sizeof(double) * (size_t)n);
    st.off[0] = 0;
    st.off[1] = n;
    s->tr.n = 1;
    s->single = 1;
    tidy(L, i, s, &st);
    s->tr.off = st.off;
    s->tr.t = st.t;
  } else if (hastimes(L, i)) {
    fromtable(L, i, o, s);
  } else if (lua_istable(L, i)) {
    fromlist(L, i, o, s);
  } else {
    luaL_typeerror(L, i, "spike trains (a spike monitor, an array of times or a list of arrays)");
  }
  if (lua_gettop(L) > base + 1) {             /* keep only the store */
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
  }
  if (cj_trains_check(&s->tr)) luaL_argerror(L, i, cj_errmsg());
}
