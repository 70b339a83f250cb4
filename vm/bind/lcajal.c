/*
 * lcajal.c — opens the native module "cajal.core": one table that every
 * area (arrays, units, rng, regex, io, network) fills in, plus the help
 * registry. The Lua module "cajal" (stdlib/cajal/init.lua) builds on it.
 */
#include "lcajal.h"

#include <time.h>

#define DOCS "cajal.docs"

/* stack: ... -> ... ; registry[DOCS] is a weak-keyed table fn -> text */
static void getdocs(lua_State *L)
{
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, DOCS)) return;
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}

/* ---- boxes ------------------------------------------------------------------ */

#define CJ_BOX "cajal.box"

void cj_boxfree(cj_box *b)
{
  if (b->p) b->free(b->p);
  b->p = NULL;
}

static int box_gc(lua_State *L)
{
  cj_boxfree(luaL_checkudata(L, 1, CJ_BOX));
  return 0;
}

cj_box *cj_newbox(lua_State *L, void (*free)(void *))
{
  cj_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->free = free;
  if (luaL_newmetatable(L, CJ_BOX)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}

void cj_setdocs(lua_State *L, int t, const cj_doc *docs)
{
  t = lua_absindex(L, t);
  getdocs(L);                                  /* stack: docs */
  for (; docs->name; docs++) {
    if (lua_getfield(L, t, docs->name) != LUA_TNIL) {  /* stack: docs, fn */
      lua_pushstring(L, docs->text);
      lua_rawset(L, -3);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* core.doc(f [, text]): get or set the help text of a value. */
static int core_doc(lua_State *L)
{
  luaL_checkany(L, 1);
  getdocs(L);                                  /* stack: f, [text], docs */
  if (lua_gettop(L) >= 3 && !lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TSTRING);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    lua_pushvalue(L, 1);
    return 1;
  }
  lua_pushvalue(L, 1);
  lua_rawget(L, -2);
  return 1;
}

static const cj_doc docs[] = {
  { "doc", "cj.doc(f [, text]) -> text | f\n"
    "The help text of f (nil if none). With text, record it as f's help (first line\n"
    "the signature, as help(f) and man cajal-api show it) and return f." },
  { NULL, NULL }
};

/* core.clock() -> seconds on the monotonic wall clock (for timing runs) */
static int core_clock(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static const cj_doc clockdocs[] = {
  { "clock", "cj.clock() -> seconds\nWall-clock time in seconds from a monotonic clock (CLOCK_MONOTONIC):\n"
             "differences time runs and loads; os.clock() measures CPU time instead." },
  { NULL, NULL }
};

int luaopen_cajal_core(lua_State *L)
{
  lua_newtable(L);
  lua_pushcfunction(L, core_doc);
  lua_setfield(L, -2, "doc");
  lua_pushcfunction(L, core_clock);
  lua_setfield(L, -2, "clock");
  cj_setdocs(L, -1, docs);
  lua_pushliteral(L, CJ_VERSION);
  lua_setfield(L, -2, "version");
  cj_open_units(L);
  cj_open_array(L);
  cj_open_rng(L);
  cj_open_regex(L);
  cj_open_io(L);
  cj_open_nwb(L);
  cj_open_net(L);
  cj_open_mpi(L);
  cj_open_learn(L);
  cj_open_boltzmann(L);
  cj_open_hd(L);
  cj_open_capsule(L);
  cj_open_tpr(L);
  cj_open_arrsort(L);
  cj_open_arrhist(L);
  cj_open_fft(L);
  cj_open_info(L);
  cj_open_coding(L);
  cj_open_window(L);
  cj_open_prov(L);
  cj_setdocs(L, -1, clockdocs);
  return 1;
}
