/*
 * lnwb.c — cj.io.save_nwb(path, net [, opts]): a network's monitors to an
 * NWB 2 file (vm/core/nwb.c). cajal.network gathers what the monitors hold
 * (its nwbdata function: spike slices and time series as arrays); this file
 * checks and converts it, then writes with the core. Nothing can raise
 * between cj_nwb_create and cj_nwb_close/abort: all checks come first.
 */
#include "lcajal.h"
#include "lopt.h"

#include <string.h>

#include "nwb.h"

static const char *const optnames[] = {
  "description", "identifier", "session_start_time", "experimenter", "institution", "lab", NULL
};

static const char *optstr(lua_State *L, int o, const char *k, const char *dflt)
{
  const char *s;
  if (lua_isnil(L, o)) return dflt;
  lua_getfield(L, o, k);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return dflt; }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, 3, lua_pushfstring(L, "option '%s' must be a string", k));
  s = lua_tostring(L, -1);
  lua_pop(L, 1);                               /* opts keeps it alive */
  return s;
}


/* t[k] as a string (kept alive by t). */
static const char *strfield(lua_State *L, int t, const char *k, const char *what)
{
  const char *s;
  if (lua_getfield(L, t, k) != LUA_TSTRING) luaL_error(L, "save_nwb: %s: '%s' is not a string", what, k);
  s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

/* t[k] as a contiguous array of dtype with ndim dimensions: converted if
 * needed, the copy stored back in t[k] so that t keeps it alive. */
static const void *arrfield(lua_State *L, int t, const char *k, cj_dtype dtype, int ndim,
                            int64_t *shape, const char *what)
{
  larray *a, *b;
  lua_getfield(L, t, k);
  a = cj_testarray(L, -1);
  if (!a) luaL_error(L, "save_nwb: %s: '%s' is not an array", what, k);
  if (a->a.ndim != ndim) luaL_error(L, "save_nwb: %s: '%s' has %d dimensions, %d expected", what, k,
                                    a->a.ndim, ndim);
  for (int i = 0; i < ndim; i++) shape[i] = a->a.shape[i];
  if (a->a.dtype == dtype && cj_array_iscontig(&a->a)) {
    lua_pop(L, 1);
    return a->a.data;
  }
  b = cj_newarray(L, dtype, ndim, a->a.shape);
  if (cj_array_copy(&b->a, &a->a)) luaL_error(L, "%s", cj_errmsg());
  lua_setfield(L, t, k);
  lua_pop(L, 1);
  return b->a.data;
}

/* The spike slices of data.spikes into g (n entries). Neurons come 1-based,
 * as Lua counts (first, neuron), and go to the file from 0, as NWB counts. */
static void getspikes(lua_State *L, int data, cj_nwb_spikes *g, int n)
{
  lua_getfield(L, data, "spikes");
  for (int k = 0; k < n; k++) {
    int64_t nt, ni;
    int t;
    lua_rawgeti(L, -1, k + 1);
    t = lua_gettop(L);
    g[k].population = strfield(L, t, "population", "spikes");
    lua_getfield(L, t, "first");
    lua_getfield(L, t, "count");
    g[k].first = (int64_t)lua_tointeger(L, -2) - 1;
    g[k].count = (int64_t)lua_tointeger(L, -1);
    lua_pop(L, 2);
    g[k].times = arrfield(L, t, "times", CJ_F64, 1, &nt, "spikes");
    const int32_t *one = arrfield(L, t, "neuron", CJ_I32, 1, &ni, "spikes");
    int32_t *zero = cj_newarray(L, CJ_I32, 1, &ni)->a.data;
    for (int64_t s = 0; s < ni; s++) zero[s] = one[s] - 1;
    lua_setfield(L, t, "neuron0");            /* kept alive by t */
    g[k].neuron = zero;
    if (nt != ni) luaL_error(L, "save_nwb: spikes of %s: %d times but %d neurons", g[k].population,
                             (int)nt, (int)ni);
    g[k].nspikes = nt;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void getseries(lua_State *L, int data, cj_nwb_series *s, int n)
{
  lua_getfield(L, data, "series");
  for (int k = 0; k < n; k++) {
    int64_t shape[2] = { 0, 1 }, nt;
    larray *a;
    int t;
    lua_rawgeti(L, -1, k + 1);
    t = lua_gettop(L);
    s[k].name = strfield(L, t, "name", "series");
    s[k].description = strfield(L, t, "description", s[k].name);
    s[k].unit = strfield(L, t, "unit", s[k].name);
    s[k].comments = NULL;
    lua_getfield(L, t, "data");
    a = cj_testarray(L, -1);
    s[k].ndim = a && a->a.ndim == 1 ? 1 : 2;
    s[k].dtype = a && a->a.dtype == CJ_F32 ? CJ_F32 : CJ_F64;
    lua_pop(L, 1);
    s[k].data = arrfield(L, t, "data", s[k].dtype, s[k].ndim, shape, s[k].name);
    s[k].ntimes = shape[0];
    s[k].ncols = shape[1];
    s[k].timestamps = arrfield(L, t, "timestamps", CJ_F64, 1, &nt, s[k].name);
    if (nt != s[k].ntimes)
      luaL_error(L, "save_nwb: %s: %d rows but %d timestamps", s[k].name, (int)s[k].ntimes, (int)nt);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int numfield(lua_State *L, int t, const char *k, double *v)
{
  int isnum;
  lua_getfield(L, t, k);
  *v = lua_tonumberx(L, -1, &isnum);
  lua_pop(L, 1);
  return isnum;
}

/* cj.io.save_nwb(path, net [, opts]) */
static int io_save_nwb(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  cj_nwb_meta meta;
  cj_nwb_spikes *g;
  cj_nwb_series *s;
  cj_nwb *f;
  int ng, ns, st = CJ_OK;
  double tend = 0, dt = 0;
  luaL_checkany(L, 2);
  lua_settop(L, 3);
  lopt_at(L, 3, optnames);
  /* stack: path, net, opts -> ..., data */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "cajal.network");
  if (!lua_istable(L, -1) || lua_getfield(L, -1, "nwbdata") != LUA_TFUNCTION)
    return luaL_argerror(L, 2, "network expected (from cj.load or cj.network)");
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);                           /* raises for anything but a network */
  lua_replace(L, 4);
  lua_settop(L, 4);
  memset(&meta, 0, sizeof meta);
  meta.session_description = optstr(L, 3, "description", strfield(L, 4, "description", "network"));
  meta.identifier = optstr(L, 3, "identifier", NULL);
  meta.session_start_time = optstr(L, 3, "session_start_time", NULL);
  meta.experimenter = optstr(L, 3, "experimenter", NULL);
  meta.institution = optstr(L, 3, "institution", NULL);
  meta.lab = optstr(L, 3, "lab", NULL);
  meta.notes = strfield(L, 4, "notes", "network");
  meta.provenance = strfield(L, 4, "provenance", "network");
  if (!numfield(L, 4, "t", &tend) || !numfield(L, 4, "dt", &dt))
    return luaL_error(L, "save_nwb: the network's t and dt are missing");
  lua_getfield(L, 4, "spikes");
  lua_getfield(L, 4, "series");
  ng = (int)luaL_len(L, -2);
  ns = (int)luaL_len(L, -1);
  lua_pop(L, 2);
  g = lua_newuserdatauv(L, sizeof *g * (size_t)(ng ? ng : 1), 0);   /* collected with the call */
  s = lua_newuserdatauv(L, sizeof *s * (size_t)(ns ? ns : 1), 0);
  getspikes(L, 4, g, ng);
  getseries(L, 4, s, ns);
  if (!(f = cj_nwb_create(path, &meta))) return luaL_error(L, "%s", cj_errmsg());
  if (ng > 0) st = cj_nwb_units(f, g, ng, tend, dt);
  for (int k = 0; k < ns && st == CJ_OK; k++) st = cj_nwb_timeseries(f, &s[k]);
  if (st != CJ_OK) {
    lua_pushstring(L, cj_errmsg());
    cj_nwb_abort(f);
    return lua_error(L);
  }
  if (cj_nwb_close(f) != CJ_OK) return luaL_error(L, "%s", cj_errmsg());
  return 0;
}

static const cj_doc docs[] = {
  { "save_nwb", "cj.io.save_nwb(path, net [, opts])\n"
    "Write the network's monitors to an NWB 2 file (HDF5): every neuron of a spike monitor\n"
    "becomes a row of the units table (spike_times in s, obs_intervals [0, net.t], population,\n"
    "neuron from 0), every state and rate monitor a TimeSeries in acquisition (data time x\n"
    "columns in SI units, timestamps in s). opts: description (session_description),\n"
    "identifier (default a random UUID), session_start_time (ISO 8601; default now),\n"
    "experimenter, institution, lab. The file is written to a temporary name and renamed.\n"
    "The network's provenance (cj.provenance) is the root attribute cajal_provenance." },
  { NULL, NULL }
};

void cj_open_nwb(lua_State *L)
{
  lua_getfield(L, -1, "io");                   /* stack: mod, io */
  lua_pushcfunction(L, io_save_nwb);
  lua_setfield(L, -2, "save_nwb");
  cj_setdocs(L, -1, docs);
  lua_pop(L, 1);
}
