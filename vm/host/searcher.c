/*
 * searcher.c — how cajal finds its own Lua code: lpeg and cajal.core are
 * linked in and preloaded (the linit.c recipe); Lua modules of cajal
 * ("cajal", "cajal.plot", "cajal.grammar", ...) and model files
 * ("models/lif.cajal") come from, in order: $CAJAL_HOME (a source tree), the
 * install tree, then the copies built into the binary.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <stdlib.h>

#include "host.h"
#include "lcajal.h"

extern int luaopen_lpeg(lua_State *L);

static const cj_embedded *findembedded(const char *name)
{
  for (const cj_embedded *e = cj_embedded_files; e->name; e++)
    if (strcmp(e->name, name) == 0) return e;
  return NULL;
}

/* Path of module `name` inside a source tree rooted at home (stack: -> path) */
static void srcpath(lua_State *L, const char *home, const char *name)
{
  const cj_embedded *e = findembedded(name);
  if (e) lua_pushfstring(L, "%s/%s", home, e->path);
  else lua_pushfstring(L, "%s/stdlib/%s.lua", home, luaL_gsub(L, name, ".", "/"));
}

static int readable(const char *path)
{
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* package.searchers entry: returns loader, origin | message */
static int searcher(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const char *home = getenv("CAJAL_HOME");
  const cj_embedded *e;
  if (home && *home) {
    srcpath(L, home, name);
    const char *path = lua_tostring(L, -1);
    if (readable(path)) {
      if (luaL_loadfile(L, path) != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                          name, path, lua_tostring(L, -1));
      lua_pushstring(L, path);
      return 2;
    }
  }
  e = findembedded(name);
  if (!e || strchr(e->name, '/')) {
    lua_pushfstring(L, "no built-in cajal module '%s'", name);
    return 1;
  }
  lua_pushfstring(L, "=[cajal]/%s", e->path);
  if (luaL_loadbufferx(L, e->data, e->len, lua_tostring(L, -1), "t") != LUA_OK)
    return luaL_error(L, "error loading built-in module '%s':\n\t%s", name, lua_tostring(L, -1));
  lua_pushfstring(L, "[cajal]/%s", e->path);
  return 2;
}

/* cajal.core.embedded(name) -> text | nil: a file built into the binary */
static int host_embedded(lua_State *L)
{
  const cj_embedded *e = findembedded(luaL_checkstring(L, 1));
  if (!e) return 0;
  lua_pushlstring(L, e->data, e->len);
  return 1;
}

int cj_host_openlibs(lua_State *L)
{
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);  /* stack: preload */
  lua_pushcfunction(L, luaopen_lpeg);
  lua_setfield(L, -2, "lpeg");
  lua_pushcfunction(L, luaopen_cajal_core);
  lua_setfield(L, -2, "cajal.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");                            /* stack: package, searchers */
  for (lua_Integer i = luaL_len(L, -1) + 1; i > 2; i--) {      /* insert at position 2 */
    lua_rawgeti(L, -1, i - 1);
    lua_rawseti(L, -2, i);
  }
  lua_pushcfunction(L, searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
  /* re.lua is embedded under the name "re" */
  lua_pushcfunction(L, host_embedded);
  lua_setfield(L, LUA_REGISTRYINDEX, "cajal.embedded");
  return 0;
}
