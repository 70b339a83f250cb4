/*
 * lwindow.c — spike windows: the spikes a spike monitor recorded in the
 * last stretch of a run, as a small object of their own.
 *
 * mon:window(T) and mon:since(t) (stdlib/cajal/network.lua) call the
 * network handle's window method (lnet.c), which finds the records of the
 * window by binary search on their steps (cj_spikes_span) and copies only
 * those into a "cajal.spikewindow" userdata: times in s and neuron indices,
 * in time order, with the window [t_start, t_stop) and the recorded
 * neurons. The copy is a snapshot: running the network on does not change
 * it. Anything that reads spike trains (cj.coding, cj.info, cj.plot.raster)
 * takes a window as it takes a monitor (lanalysis.c sorts its spikes into
 * trains in O(window + neurons)), so a statistic over the last T ms costs
 * O(log record + spikes in the window + neurons) however long the run.
 */
#include "lanalysis.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define checkwindow(L, i) ((lwindow *)luaL_checkudata(L, i, CJ_SPIKEWINDOW))

lwindow *cj_newwindow(lua_State *L, int64_t n)
{
  size_t bytes;
  lwindow *w;
  if (n < 0 || (uint64_t)n > (SIZE_MAX - sizeof(lwindow)) / 12) luaL_error(L, "spike window too large");
  bytes = sizeof(lwindow) + (size_t)n * (sizeof(double) + sizeof(int32_t));
  w = lua_newuserdatauv(L, bytes, 0);
  memset(w, 0, sizeof *w);
  w->n = n;
  w->t = (double *)(w + 1);
  w->id = (int32_t *)(w->t + n);
  luaL_setmetatable(L, CJ_SPIKEWINDOW);
  return w;
}

lwindow *cj_testwindow(lua_State *L, int i)
{
  return luaL_testudata(L, i, CJ_SPIKEWINDOW);
}

static int w_times(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  if (w->n) memcpy(cj_newf64(L, 1, &w->n, cj_dim_seconds()), w->t, sizeof(double) * (size_t)w->n);
  else cj_newf64(L, 1, &w->n, cj_dim_seconds());
  return 1;
}

static int w_indices(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  int32_t *d = cj_newarray(L, CJ_I32, 1, &w->n)->a.data;
  for (int64_t k = 0; k < w->n; k++) d[k] = (int32_t)(w->lo + w->id[k] + 1);
  return 1;
}

static int w_count(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)checkwindow(L, 1)->n);
  return 1;
}

static int w_counts(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  double *c = cj_newf64(L, 1, &w->npop, cj_dimless);
  for (int64_t k = 0; k < w->n; k++) c[w->lo + w->id[k]] += 1;
  return 1;
}

static int w_rate(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  double T = w->t1 - w->t0;
  cj_pushquantity(L, T > 0 ? (double)w->n / ((double)(w->hi - w->lo + 1) * T) : 0, cj_dim_hertz());
  return 1;
}

static int w_duration(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  cj_pushquantity(L, w->t1 - w->t0, cj_dim_seconds());
  return 1;
}

static int w_span(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  cj_pushquantity(L, w->t0, cj_dim_seconds());
  cj_pushquantity(L, w->t1, cj_dim_seconds());
  return 2;
}

static int w_neurons(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  lua_pushinteger(L, (lua_Integer)w->lo + 1);
  lua_pushinteger(L, (lua_Integer)w->hi + 1);
  return 2;
}

static int w_tostring(lua_State *L)
{
  lwindow *w = checkwindow(L, 1);
  char span[96];
  snprintf(span, sizeof span, "[%.6g, %.6g) s", w->t0, w->t1);
  lua_pushfstring(L, "spike window of %s: %I spikes in %s", w->label, (lua_Integer)w->n, span);
  return 1;
}

static const luaL_Reg methods[] = {
  { "times", w_times }, { "indices", w_indices }, { "count", w_count }, { "counts", w_counts },
  { "rate", w_rate }, { "duration", w_duration }, { "span", w_span }, { "neurons", w_neurons },
  { NULL, NULL }
};

static const cj_doc docs[] = {
  { "times", "win:times() -> array (s)\nSpike times in the window, in order (absolute times of the run)." },
  { "indices", "win:indices() -> array\nThe neuron of each spike, 1-based in its population (as mon:indices())." },
  { "count", "win:count() -> integer\nThe number of spikes in the window (also #win)." },
  { "counts", "win:counts() -> array\nSpikes of each neuron of the population in the window (N values)." },
  { "rate", "win:rate() -> quantity (Hz)\n"
    "Mean rate of the recorded neurons in the window: count / (neurons x duration); 0 Hz for a\n"
    "window of zero length." },
  { "duration", "win:duration() -> quantity (s)\nt_stop - t_start: the length of the window (shorter than asked\n"
    "when the run is shorter)." },
  { "span", "win:span() -> t_start, t_stop\n"
    "The window (quantities in s): it holds the spikes of steps t_start <= t < t_stop; t_stop is\n"
    "the time of the network when the window was taken." },
  { "neurons", "win:neurons() -> first, last\nThe 1-based range of the recorded neurons (as mon:neurons())." },
  { NULL, NULL }
};

void cj_open_window(lua_State *L)
{
  luaL_newmetatable(L, CJ_SPIKEWINDOW);        /* stack: mod, mt */
  luaL_newlib(L, methods);
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, w_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, w_count);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
}
