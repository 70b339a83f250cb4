/*
 * lmpi.c — cj.mpi: the rank and size of this process when cajal runs
 * under mpirun (vm/core/netmpi.h), and the costs of the spike exchange.
 * Without MPI (not built with it, or not started by mpirun) rank() is 0
 * and size() is 1.
 */
#include "lcajal.h"
#include "netmpi.h"

/* cj.mpi.rank() -> r */
static int mpi_rank(lua_State *L)
{
  lua_pushinteger(L, cj_mpi_rank());
  return 1;
}

/* cj.mpi.size() -> K */
static int mpi_size(lua_State *L)
{
  lua_pushinteger(L, cj_mpi_size());
  return 1;
}

/* cj.mpi.available() -> boolean */
static int mpi_available(lua_State *L)
{
  lua_pushboolean(L, cj_mpi_available());
  return 1;
}

/* cj.mpi.barrier() */
static int mpi_barrier(lua_State *L)
{
  (void)L;
  cj_mpi_barrier();
  return 0;
}

/* cj.mpi.range(n [, rank [, size]]) -> first, last (1-based, inclusive) */
static int mpi_range(lua_State *L)
{
  lua_Integer n = luaL_checkinteger(L, 1);
  lua_Integer r = luaL_optinteger(L, 2, cj_mpi_rank());
  lua_Integer k = luaL_optinteger(L, 3, cj_mpi_size());
  int64_t lo, hi;
  luaL_argcheck(L, n >= 0, 1, "a count >= 0 expected");
  luaL_argcheck(L, k >= 1 && k <= (1 << 24), 3, "a size of 1 or more expected");
  luaL_argcheck(L, r >= 0 && r < k, 2, "a rank in 0 .. size - 1 expected");
  cj_mpi_range((int64_t)n, (int)r, (int)k, &lo, &hi);
  lua_pushinteger(L, (lua_Integer)lo + 1);
  lua_pushinteger(L, (lua_Integer)hi);
  return 2;
}

/* cj.mpi.stats([reset]) -> table */
static int mpi_stats(lua_State *L)
{
  cj_mpi_stats s;
  cj_mpi_stats_get(&s);
  lua_createtable(L, 0, 6);
  lua_pushnumber(L, s.exchange); lua_setfield(L, -2, "exchange");
  lua_pushnumber(L, s.deliver); lua_setfield(L, -2, "deliver");
  lua_pushnumber(L, s.update); lua_setfield(L, -2, "update");
  lua_pushnumber(L, s.other); lua_setfield(L, -2, "other");
  lua_pushinteger(L, (lua_Integer)s.bytes); lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)s.exchanges); lua_setfield(L, -2, "exchanges");
  if (lua_toboolean(L, 1)) cj_mpi_stats_reset();
  return 1;
}

/* cj.mpi.profile([on]) -> on */
static int mpi_profile(lua_State *L)
{
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    cj_mpi_profile(lua_toboolean(L, 1));
  }
  lua_pushboolean(L, cj_mpi_profiling());
  return 1;
}

static const luaL_Reg funcs[] = {
  { "rank", mpi_rank }, { "size", mpi_size }, { "available", mpi_available },
  { "barrier", mpi_barrier }, { "range", mpi_range }, { "stats", mpi_stats },
  { "profile", mpi_profile }, { NULL, NULL }
};

static const cj_doc docs[] = {
  { "rank", "cj.mpi.rank() -> r\n"
    "This process's rank, 0 .. cj.mpi.size() - 1, when cajal runs under mpirun (mpirun -n K\n"
    "cajal run.lua runs the same script on K ranks); 0 otherwise. The spike monitors hold the\n"
    "spikes of all ranks on every rank; state monitors are complete on rank 0 (man cajal-scale)." },
  { "size", "cj.mpi.size() -> K\n"
    "The number of MPI ranks running this script (1 without mpirun or without MPI). A network\n"
    "built on K ranks splits each neuron population into K contiguous ranges (cj.mpi.range):\n"
    "a rank steps its neurons and keeps the synapses onto them; spikes are identical to one rank's." },
  { "available", "cj.mpi.available() -> boolean\nWhether this cajal was built with MPI (configure --with-mpi)." },
  { "barrier", "cj.mpi.barrier()\nWait until every rank gets here (nothing without MPI)." },
  { "range", "cj.mpi.range(n [, rank [, size]]) -> first, last\n"
    "The neurons (1-based, inclusive) of a population of n that rank (default: this one) steps\n"
    "among size ranks (default: cj.mpi.size()): contiguous, the first n % size ranges one longer.\n"
    "first > last when the rank owns none." },
  { "stats", "cj.mpi.stats([reset]) -> {exchange, deliver, update, other, bytes, exchanges}\n"
    "This rank's costs since the last reset: seconds in the spike exchange (waiting for slower\n"
    "ranks included), bytes received, exchanges made (one per window of the shortest delay from a\n"
    "population of neurons, and per chunk of steps); with cj.mpi.profile(true), seconds of the\n"
    "steps in delivery (events, summed coupling, post events), neuron update and threshold, and\n"
    "the rest. reset: zero them after reading." },
  { "profile", "cj.mpi.profile([on]) -> on\n"
    "Time the phases of every step (a clock read per phase) for cj.mpi.stats; off by default." },
  { NULL, NULL }
};

void cj_open_mpi(lua_State *L)
{
  luaL_newlib(L, funcs);                       /* stack: core, mpi */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "mpi");
}
