/*
 * fuzzlua.c — see fuzzlua.h.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlua.h"
#include "host.h"

/* libFuzzer reads the bytes of this section as extra coverage counters. */
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t luacov[1 << 16];

/* Each executed line of Lua, with the line before it (edges, as AFL does):
 * a function is known by the address of its source string, stable while
 * the state lives. */
static void hook(lua_State *L, lua_Debug *ar)
{
  static uintptr_t prev;
  if (!lua_getinfo(L, "S", ar)) return;
  uintptr_t cur = (uintptr_t)ar->source * 0x9E3779B1u + (uintptr_t)ar->currentline;
  uint32_t h = (uint32_t)(((cur ^ (prev >> 1)) * 0x9E3779B97F4A7C15ull) >> 48);
  luacov[h]++;
  prev = cur;
}

static int ref = LUA_NOREF;

lua_State *fuzz_lua(const char *setup)
{
  static lua_State *L;
  if (L) return L;
  L = luaL_newstate();
  if (!L) abort();
  lua_pushcfunction(L, cj_host_openlibs);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK || luaL_loadstring(L, setup) != LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: setup failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(L, hook, LUA_MASKLINE, 0);
  return L;
}

void fuzz_call(lua_State *L, const uint8_t *data, size_t size)
{
  static unsigned long calls;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "fuzz: a bug: %s\n", msg ? msg : "(an error object)");
    abort();
  }
  lua_settop(L, 0);
  if (++calls % 64 == 0) lua_gc(L, LUA_GCCOLLECT);
}
