/*
 * lanalysis.h — argument helpers shared by the analysis bindings (sorting
 * and counting, FFT, cj.info, cj.coding): option tables whose unknown keys
 * are errors, durations given as numbers (s) or quantities of time, arrays
 * as contiguous float64 data, and spike trains read from a network's spike
 * monitor, an array of spike times, a list of arrays, or a table of times
 * and indices.
 *
 * Every helper raises through luaL_argerror naming the argument (and the
 * option) and what was expected; none leaves a raw resource behind (data
 * live in userdata pushed on the stack).
 */
#ifndef LANALYSIS_H
#define LANALYSIS_H

#include "lcajal.h"
#include "spiketrain.h"

/* The options table at stack index o: 0 when absent or nil (getters then
 * return their default), else o's absolute index. A key not in known
 * (NULL-terminated) raises "unknown option 'x'". */
int cj_opts(lua_State *L, int o, const char *const *known);
/* Getters; o is 0 or an index returned by cj_opts. A wrong type raises
 * "option 'key' must be ...". */
int cj_opthas(lua_State *L, int o, const char *key);
double cj_optnum(lua_State *L, int o, const char *key, double def);
lua_Integer cj_optint(lua_State *L, int o, const char *key, lua_Integer def);
int cj_optbool(lua_State *L, int o, const char *key, int def);
/* A string option among choices (NULL-terminated): its position, or def
 * when absent. */
int cj_optchoice(lua_State *L, int o, const char *key, int def, const char *const *choices);
/* A duration option (number of seconds or quantity of time) in s. */
double cj_opttime(lua_State *L, int o, const char *key, double def);
/* Push the value of option key (nil when absent); returns its Lua type. */
int cj_optget(lua_State *L, int o, const char *key);
/* Raise "option 'key' ..." about the options table at o. */
int cj_opterror(lua_State *L, int o, const char *key, const char *fmt, ...);

/* Argument i as a duration in seconds: a number or a quantity of time.
 * what names it in the message ("bin width"). */
double cj_checktime(lua_State *L, int i, const char *what);
/* Argument i as a positive duration. */
double cj_checkpostime(lua_State *L, int i, const char *what);
/* Argument i as an array: numbers and (nested) tables are converted in
 * place (stack slot i then holds the array). */
larray *cj_toarray(lua_State *L, int i);
/* Contiguous float64 data of the array at index i (converting in place
 * when it is not already contiguous float64); *n its element count. */
const double *cj_f64(lua_State *L, int i, int64_t *n);
/* Push a new float64 array of shape (ndim, shape) with dimension d;
 * returns its data. */
double *cj_newf64(lua_State *L, int ndim, const int64_t *shape, cj_dim d);
/* The dimension of seconds and of hertz. */
cj_dim cj_dim_seconds(void);
cj_dim cj_dim_hertz(void);

/* ---- spike trains -------------------------------------------------------------
 * Argument i as spike trains. Accepted:
 *   - a spike monitor (net.spikes.E): one train per recorded neuron, the
 *     window [0, mon:duration()];
 *   - a 1-D array of spike times: one train (single = 1);
 *   - a list of 1-D arrays (or tables of numbers): one train each;
 *   - a table { times = t, indices = i [, n = N] }: spike i[k] at t[k],
 *     indices 1-based, N trains (default: the largest index);
 *   - a spike window (mon:window(T), lwindow.c): one train per recorded
 *     neuron, the window [t_start, t_stop) it was taken over; t_start and
 *     t_stop options must lie inside it.
 * Times in s (plain numbers or quantities of time), any order. Options
 * read from the table at o (0: none): t_start (default 0) and t_stop
 * (default: the monitor's duration, else the last spike); spikes outside
 * [t_start, t_stop] are dropped. Pushes one userdata owning the data. */
typedef struct ltrains {
  cj_trains tr;
  int single;        /* one train given as a bare array */
  int64_t first;     /* 1-based label of train 0 (a monitor of E[100..] says 101) */
} ltrains;
void cj_checktrains(lua_State *L, int i, int o, ltrains *s);
/* 1 when the value at i looks like spike trains (a monitor, a window, or
 * a table with a times field): lets a function accept trains or binned
 * counts. State and rate monitors answer 1 too, so that cj_checktrains
 * says why they are refused. */
int cj_istrains(lua_State *L, int i);

/* ---- spike windows (lwindow.c) -------------------------------------------------
 * The spikes of a monitor in [t0, t1), copied out of a network by lnet.c:
 * one userdata holding this header, then n times and n indices. */
#define CJ_SPIKEWINDOW "cajal.spikewindow"
typedef struct lwindow {
  int64_t n;              /* spikes */
  int64_t lo, hi, npop;   /* recorded neurons lo..hi (0-based) of a population of npop */
  double t0, t1;          /* the window (s): spikes of steps with t0 <= t < t1 */
  double *t;              /* n times (s), in time order */
  int32_t *id;            /* n neurons, 0-based among the recorded: neuron lo + id */
  char label[64];         /* the population's name, for printing */
} lwindow;
/* Push a window with room for n spikes (fields other than n, t, id zero). */
lwindow *cj_newwindow(lua_State *L, int64_t n);
lwindow *cj_testwindow(lua_State *L, int i);      /* NULL if not a window */

#endif
