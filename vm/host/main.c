/*
 * main.c — the cajal command line (a minimal first version: the host issue
 * completes it with -l, -i, -, the REPL and the pcall/traceback discipline).
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "lcajal.h"

static int msghandler(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int docall(lua_State *L, int narg)
{
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int st = lua_pcall(L, narg, 0, base);
  lua_remove(L, base);
  if (st != LUA_OK) {
    fprintf(stderr, "cajal: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return st;
}

int main(int argc, char **argv)
{
  lua_State *L = luaL_newstate();
  int st = 0;
  if (!L) { fprintf(stderr, "cajal: cannot create state: not enough memory\n"); return 1; }
  lua_pushcfunction(L, cj_host_openlibs);
  if (docall(L, 0) != LUA_OK) { lua_close(L); return 1; }
  if (argc > 2 && strcmp(argv[1], "-e") == 0) {
    st = luaL_loadbuffer(L, argv[2], strlen(argv[2]), "=(command line)");
    st = st == LUA_OK ? docall(L, 0) : (fprintf(stderr, "cajal: %s\n", lua_tostring(L, -1)), 1);
  } else if (argc > 1) {
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i - 1); }
    lua_setglobal(L, "arg");
    st = luaL_loadfile(L, argv[1]);
    if (st == LUA_OK) {
      for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
      st = docall(L, argc - 2);
    } else {
      fprintf(stderr, "cajal: %s\n", lua_tostring(L, -1));
    }
  }
  lua_close(L);
  return st == LUA_OK ? 0 : 1;
}
