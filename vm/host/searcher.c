/*
 * searcher.c — how cajal finds its own code, and the state set-up shared by
 * the program and the fault-injection test.
 *
 * lpeg and cajal.core are linked in and preloaded (the linit.c recipe), and
 * so is LPeg's re.lua (its text is built into the binary). cajal's Lua
 * modules ("cajal", "cajal.plot", "cajal.grammar", ...) and model files
 * ("models/lif.cajal") are looked up in four places, in order:
 *   1. $CAJAL_HOME, a source tree (stdlib/cajal/X.lua, grammar/X.lua,
 *      stdlib/models/X.cajal);
 *   2. the source tree this binary was built from, when the binary runs from
 *      its build directory (so a Lua edit needs no rebuild);
 *   3. the install tree CAJAL_DATADIR (cajal/X.lua, grammar/X.lua,
 *      models/X.cajal);
 *   4. the copies built into the binary (embedded.c), so a copied cajal
 *      runs on its own.
 * Lua sees this through package.searchers[2] and through the module
 * "cajal.host" (findfile, searchdirs, datadir), see host.h.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "lcajal.h"

#ifndef CAJAL_BUILDDIR
#define CAJAL_BUILDDIR ""
#endif

extern int luaopen_lpeg(lua_State *L);

enum { SRCTREE, INSTTREE };

static const cj_embedded *findembedded(const char *name)
{
  for (const cj_embedded *e = cj_embedded_files; e->name; e++)
    if (strcmp(e->name, name) == 0) return e;
  return NULL;
}

/* Is name a module of cajal's namespace ("cajal" or "cajal.*")? */
static int ourmodule(const char *name)
{
  return strncmp(name, "cajal", 5) == 0 && (name[5] == '\0' || name[5] == '.');
}

/* A file name findfile accepts: relative, no "." or ".." segment, no "//". */
static int safefile(const char *name, size_t len)
{
  const char *p = name;
  if (len == 0 || strlen(name) != len || name[0] == '/') return 0;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return 0;
    if (!slash) return 1;
    p = slash + 1;
  }
}

/* Push the path of module or file `name` relative to the root of a tree
 * (stack: -> relpath). Module names map as embed.c maps sources:
 * "cajal" -> cajal/init.lua, "cajal.grammar" -> grammar/cajal.lua,
 * "cajal.grammar.X" -> grammar/X.lua, "cajal.X.Y" -> cajal/X/Y.lua; a file
 * name ("models/lif.cajal") is kept. The source tree adds "stdlib/" in front
 * of everything but grammar/. */
static void relpath(lua_State *L, const char *name, int tree)
{
  const char *stdlib = tree == SRCTREE ? "stdlib/" : "";
  if (strchr(name, '/')) {
    lua_pushfstring(L, "%s%s", stdlib, name);
  } else if (strcmp(name, "cajal") == 0) {
    lua_pushfstring(L, "%scajal/init.lua", stdlib);
  } else if (strcmp(name, "cajal.grammar") == 0) {
    lua_pushliteral(L, "grammar/cajal.lua");
  } else if (strncmp(name, "cajal.grammar.", 14) == 0) {
    luaL_gsub(L, name + 14, ".", "/");
    lua_pushfstring(L, "grammar/%s.lua", lua_tostring(L, -1));
    lua_remove(L, -2);
  } else {
    luaL_gsub(L, name, ".", "/");
    lua_pushfstring(L, "%s%s.lua", stdlib, lua_tostring(L, -1));
    lua_remove(L, -2);
  }
}

/* The source tree of this binary if it runs from its build directory, else
 * NULL. Decided once per process: realpath of the directory of
 * /proc/self/exe against realpath of CAJAL_BUILDDIR. */
static const char *buildsrc(void)
{
  static int done;
  static const char *src;
  char exe[PATH_MAX], dir[PATH_MAX], build[PATH_MAX];
  ssize_t n;
  char *slash;
  if (done) return src;
  done = 1;
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0 || !*CAJAL_BUILDDIR) return NULL;
  exe[n] = '\0';
  slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = '\0';
  if (!realpath(exe, dir) || !realpath(CAJAL_BUILDDIR, build)) return NULL;
  if (strcmp(dir, build) == 0) src = CAJAL_SRCDIR;
  return src;
}

/* Root directories to search, in order (NULL-terminated; at most 3).
 * CAJAL_HOME is ignored under `cajal -E` (registry field LUA_NOENV). */
static int roots(lua_State *L, const char *dirs[4], int kinds[4])
{
  int n = 0;
  const char *home = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "LUA_NOENV") == LUA_TNIL || !lua_toboolean(L, -1))
    home = getenv("CAJAL_HOME");
  lua_pop(L, 1);
  const char *src = buildsrc();
  if (home && *home) { dirs[n] = home; kinds[n++] = SRCTREE; }
  if (src) { dirs[n] = src; kinds[n++] = SRCTREE; }
  dirs[n] = CAJAL_DATADIR; kinds[n++] = INSTTREE;
  dirs[n] = NULL;
  return n;
}

static int readable(const char *path)
{
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* Find name on disk: pushes the full path and returns 1, or pushes the
 * places tried ("no file 'A'\n\tno file 'B'") and returns 0. */
static int findondisk(lua_State *L, const char *name)
{
  const char *dirs[4];
  int kinds[4];
  int n = roots(L, dirs, kinds);
  for (int i = 0; i < n; i++) {
    relpath(L, name, kinds[i]);
    lua_pushfstring(L, "%s/%s", dirs[i], lua_tostring(L, -1));
    lua_remove(L, -2);                         /* stack: tried..., path */
    if (readable(lua_tostring(L, -1))) {
      lua_insert(L, -1 - i);
      lua_pop(L, i);
      return 1;
    }
    lua_pushfstring(L, "%sno file '%s'", i ? "\n\t" : "", lua_tostring(L, -1));
    lua_remove(L, -2);
  }
  lua_concat(L, n);
  return 0;
}

/* package.searchers entry: loader, origin | message | nothing (not ours) */
static int searcher(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const cj_embedded *e;
  if (!ourmodule(name)) return 0;
  if (findondisk(L, name)) {
    const char *path = lua_tostring(L, -1);
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
      return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                        name, path, lua_tostring(L, -1));
    lua_insert(L, -2);                          /* stack: loader, path */
    return 2;
  }
  e = findembedded(name);
  if (!e) {
    lua_pushfstring(L, "%s\n\tno built-in module '%s'", lua_tostring(L, -1), name);
    return 1;
  }
  lua_pushfstring(L, "=[cajal]/%s", e->path);
  if (luaL_loadbufferx(L, e->data, e->len, lua_tostring(L, -1), "t") != LUA_OK)
    return luaL_error(L, "error loading built-in module '%s':\n\t%s", name, lua_tostring(L, -1));
  lua_pushfstring(L, "[cajal]/%s", e->path);
  return 2;
}

/* Push the whole content of the file at path, or raise naming it. */
static void pushfile(lua_State *L, const char *path)
{
  FILE *f = fopen(path, "rb");
  luaL_Buffer b;
  size_t n;
  if (!f) luaL_error(L, "cannot open '%s'", path);
  luaL_buffinit(L, &b);
  do {
    char *p = luaL_prepbuffer(&b);
    n = fread(p, 1, LUAL_BUFFERSIZE, f);
    luaL_addsize(&b, n);
  } while (n == LUAL_BUFFERSIZE);
  if (ferror(f)) { fclose(f); luaL_error(L, "cannot read '%s'", path); }
  fclose(f);
  luaL_pushresult(&b);
}

/* findfile(name) -> text, origin | nil, message.
 * name is a relative file name such as "models/lif.cajal" (".cajal" is added
 * when the last segment has no extension). origin is the path read, or
 * "[cajal]/stdlib/models/lif.cajal" for a copy built into the binary. */
static int host_findfile(lua_State *L)
{
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  const char *base = strrchr(name, '/');
  const cj_embedded *e;
  luaL_argcheck(L, safefile(name, len), 1,
                "relative file name without '.' or '..' segments expected");
  if (!strchr(base ? base : name, '.')) {
    name = lua_pushfstring(L, "%s.cajal", name);
    lua_replace(L, 1);
  }
  lua_settop(L, 1);
  if (findondisk(L, name)) {                   /* stack: name, path */
    pushfile(L, lua_tostring(L, 2));
    lua_insert(L, 2);
    return 2;
  }
  e = findembedded(name);
  if (!e) {                                    /* stack: name, tried */
    lua_pushnil(L);
    lua_pushfstring(L, "file '%s' not found:\n\t%s\n\tno built-in file '%s'",
                    name, lua_tostring(L, 2), name);
    return 2;
  }
  lua_pushlstring(L, e->data, e->len);
  lua_pushfstring(L, "[cajal]/%s", e->path);
  return 2;
}

/* searchdirs() -> { dir, ... }: the trees searched, in order, each as the
 * directory that holds cajal/, grammar/ and models/ (a source tree's
 * stdlib/ counts as such, with its grammar/ one level up). */
static int host_searchdirs(lua_State *L)
{
  const char *dirs[4];
  int kinds[4];
  int n = roots(L, dirs, kinds);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    if (kinds[i] == SRCTREE) lua_pushfstring(L, "%s/stdlib", dirs[i]);
    else lua_pushstring(L, dirs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* list([prefix]) -> { name, ... }: the files shipped with cajal (the copies
 * built into the binary, so the list is the same wherever cajal runs) whose
 * name starts with prefix, e.g. list("models/"), in build order. */
static int host_list(lua_State *L)
{
  size_t n;
  const char *prefix = luaL_optlstring(L, 1, "", &n);
  lua_Integer k = 0;
  lua_newtable(L);
  for (const cj_embedded *e = cj_embedded_files; e->name; e++) {
    if (!strchr(e->name, '/') || strncmp(e->name, prefix, n) != 0) continue;
    lua_pushstring(L, e->name);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* Append to the table at index t the model files under dir/rel (relative
 * names, "cortical/cells.cajal"), depth levels deep at most, leaving out
 * hidden entries. */
static void walkmodels(lua_State *L, int t, const char *dir, const char *rel, int depth)
{
  const char *full = rel[0] ? lua_pushfstring(L, "%s/%s", dir, rel) : lua_pushstring(L, dir);
  DIR *d = opendir(full);
  struct dirent *e;
  if (!d) { lua_pop(L, 1); return; }
  while ((e = readdir(d)) && luaL_len(L, t) < 100000) {
    struct stat st;
    size_t n = strlen(e->d_name);
    const char *name;
    if (e->d_name[0] == '.') continue;
    name = rel[0] ? lua_pushfstring(L, "%s/%s", rel, e->d_name) : lua_pushstring(L, e->d_name);
    lua_pushfstring(L, "%s/%s", dir, name);
    if (stat(lua_tostring(L, -1), &st) == 0) {
      if (S_ISDIR(st.st_mode) && depth > 0) walkmodels(L, t, dir, name, depth - 1);
      else if (S_ISREG(st.st_mode) && n > 6 && strcmp(e->d_name + n - 6, ".cajal") == 0) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, t, luaL_len(L, t) + 1);
      }
    }
    lua_pop(L, 2);
  }
  closedir(d);
  lua_pop(L, 1);
}

/* models(dir) -> { name, ... }: the .cajal files under dir (4 levels deep
 * at most), as relative names, sorted; {} for a folder that does not exist. */
static int host_models(lua_State *L)
{
  const char *dir = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_newtable(L);
  walkmodels(L, 2, dir, "", 4);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, 2);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

static int luaopen_cajal_host(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"findfile", host_findfile},
    {"list", host_list},
    {"models", host_models},
    {"searchdirs", host_searchdirs},
    {NULL, NULL}
  };
  static const cj_doc docs[] = {
    {"findfile", "cajal.host.findfile(name) -> text, origin | nil, message\n"
                 "Read a file shipped with cajal, e.g. \"models/lif.cajal\", from $CAJAL_HOME,\n"
                 "the build's source tree, the install tree or the copy built into cajal."},
    {"list", "cajal.host.list([prefix]) -> { name, ... }\n"
             "The data files shipped with cajal whose name starts with prefix, e.g.\n"
             "list(\"models/\") -> { \"models/lif.cajal\", ... } (the model library)."},
    {"models", "cajal.host.models(dir) -> { name, ... }\n"
               "The .cajal files under dir (4 levels deep at most), as sorted relative names."},
    {"searchdirs", "cajal.host.searchdirs() -> { dir, ... }\n"
                   "The trees searched for cajal's Lua modules and model files, in order."},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  cj_setdocs(L, -1, docs);
  lua_pushliteral(L, CAJAL_DATADIR);
  lua_setfield(L, -2, "datadir");
  return 1;
}

/* preload["re"]: LPeg's re.lua, built into the binary */
static int luaopen_re(lua_State *L)
{
  const cj_embedded *e = findembedded("re");
  if (!e) return luaL_error(L, "re.lua is not built into this cajal");
  if (luaL_loadbufferx(L, e->data, e->len, "=[cajal]/re.lua", "t") != LUA_OK)
    return lua_error(L);
  lua_pushliteral(L, "re");
  lua_call(L, 1, 1);
  return 1;
}

/* package.path and cpath gain the user's LuaRocks tree (~/.luarocks, for
 * Lua 5.4) in front, where `luarocks make` installs a package for one user
 * (the system tree /usr/local is in Lua's defaults already). Not under -E,
 * which keeps the environment (HOME included) out. */
static void addrocktree(lua_State *L)
{
  static const char *const fields[2] = { "path", "cpath" };
  static const char *const tmpl[2] = { "%s/.luarocks/share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR
                                       "/?.lua;%s/.luarocks/share/lua/" LUA_VERSION_MAJOR "."
                                       LUA_VERSION_MINOR "/?/init.lua;",
                                       "%s/.luarocks/lib/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR
                                       "/?.so;" };
  const char *home = getenv("HOME");
  int noenv = lua_getfield(L, LUA_REGISTRYINDEX, "LUA_NOENV") != LUA_TNIL && lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (noenv || !home || home[0] != '/') return;
  lua_getglobal(L, "package");                                 /* stack: package */
  for (int i = 0; i < 2; i++) {
    const char *old;
    lua_getfield(L, -1, fields[i]);
    old = lua_tostring(L, -1);
    if (i == 0) lua_pushfstring(L, tmpl[0], home, home);
    else lua_pushfstring(L, tmpl[1], home);
    if (old && !strstr(old, lua_tostring(L, -1))) {
      lua_pushstring(L, old);
      lua_concat(L, 2);
      lua_setfield(L, -3, fields[i]);
    } else lua_pop(L, 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

int cj_host_openlibs(lua_State *L)
{
  static const luaL_Reg preload[] = {
    {"lpeg", luaopen_lpeg},
    {"re", luaopen_re},
    {"cajal.core", luaopen_cajal_core},
    {"cajal.host", luaopen_cajal_host},
    {NULL, NULL}
  };
  luaL_openlibs(L);
  addrocktree(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);  /* stack: preload */
  for (const luaL_Reg *r = preload; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
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
  return 0;
}
