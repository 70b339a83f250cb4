/*
 * lprov.c — the C half of provenance: the module "cajal.prov" (preloaded,
 * used by stdlib/cajal/provenance.lua, not part of `cj`), with JSON through
 * jansson, SHA-256 through libsodium and the file containers of
 * vm/core/prov.h and nwb.h.
 *
 *   prov.encode(v [, pretty]) -> text     Lua value -> JSON
 *   prov.decode(text) -> v | nil, why      JSON -> Lua value
 *   prov.sha256(s) -> hex                  prov.sha256_file(path) -> hex | nil, why
 *   prov.kind(path) -> "png" | "svg" | "csv" | "npy" | "nwb" | "save" | "unknown" | nil, why
 *   prov.get(path) -> json | nil, why      the record of a PNG, SVG, CSV or NWB file
 *   prov.put(path, json)                   into a PNG or SVG file
 *   prov.realpath(path) -> path | nil
 *
 * And, for the writers of vm/bind (lio.c, lnwb.c): cj_prov_record, which
 * asks provenance.lua for the record of a file being written.
 *
 * JSON mapping: objects <-> tables with string keys, arrays <-> sequences
 * (an empty table is an empty object), integers <-> Lua integers, reals
 * <-> floats (written with 17 significant digits: they read back to the
 * same double), strings, booleans. JSON null, NaN and infinities, keys of
 * other types, functions and userdata are refused with a message naming
 * where. Nesting is limited to MAXDEPTH both ways (files are untrusted).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lcajal.h"
#include "nwb.h"
#include "prov.h"

#define MAXDEPTH 64

/* ---- Lua -> JSON -------------------------------------------------------------- */

/* A JSON value for the Lua value at index i, or NULL with a message pushed
 * ("where: why"). where is the path of the value ("$.network.seed"). */
static json_t *tojson(lua_State *L, int i, int depth, const char *where);

static int isseq(lua_State *L, int i, lua_Integer *n)
{
  lua_Integer count = 0;
  *n = (lua_Integer)lua_rawlen(L, i);
  lua_pushnil(L);
  while (lua_next(L, i)) {
    lua_pop(L, 1);
    count++;
    if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return 0; }
  }
  return *n > 0 && count == *n;
}

static json_t *fail(lua_State *L, json_t *partial, const char *where, const char *why)
{
  json_decref(partial);
  lua_pushfstring(L, "%s: %s", where, why);
  return NULL;
}

static json_t *tablejson(lua_State *L, int i, int depth, const char *where)
{
  lua_Integer n;
  json_t *r;
  if (depth > MAXDEPTH) return fail(L, NULL, where, "nested too deeply");
  luaL_checkstack(L, 6, "provenance: nested too deeply");
  if (isseq(L, i, &n)) {
    r = json_array();
    for (lua_Integer k = 1; r && k <= n; k++) {
      json_t *v;
      const char *w = lua_pushfstring(L, "%s[%I]", where, k);
      lua_rawgeti(L, i, k);
      v = tojson(L, lua_gettop(L), depth + 1, w);
      if (!v) { lua_replace(L, -3); lua_pop(L, 1); json_decref(r); return NULL; }
      lua_pop(L, 2);
      if (json_array_append_new(r, v)) return fail(L, r, where, "out of memory");
    }
    return r ? r : fail(L, NULL, where, "out of memory");
  }
  if (!(r = json_object())) return fail(L, NULL, where, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, i)) {                       /* stack: key, value */
    json_t *v;
    const char *w;
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      return fail(L, r, where, "a table with keys other than strings (and not a sequence)");
    }
    w = lua_pushfstring(L, "%s.%s", where, lua_tostring(L, -2));
    v = tojson(L, lua_gettop(L) - 1, depth + 1, w);
    if (!v) {                                    /* stack: key, value, w, msg */
      lua_replace(L, -4);
      lua_pop(L, 2);
      json_decref(r);
      return NULL;
    }
    lua_pop(L, 2);
    if (json_object_set_new(r, lua_tostring(L, -1), v)) {
      lua_pop(L, 1);
      return fail(L, r, where, "out of memory or a key that is not UTF-8");
    }
  }
  return r;
}

static json_t *tojson(lua_State *L, int i, int depth, const char *where)
{
  switch (lua_type(L, i)) {
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, i));
  case LUA_TNUMBER:
    if (lua_isinteger(L, i)) return json_integer((json_int_t)lua_tointeger(L, i));
    else {
      double x = lua_tonumber(L, i);
      if (x != x || x == HUGE_VAL || x == -HUGE_VAL) return fail(L, NULL, where, "NaN or infinity");
      return json_real(x);
    }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    json_t *r = json_stringn(s, n);
    return r ? r : fail(L, NULL, where, "a string that is not UTF-8");
  }
  case LUA_TTABLE: return tablejson(L, i, depth, where);
  default:
    lua_pushfstring(L, "%s: a value of type %s", where, luaL_typename(L, i));
    return NULL;
  }
}

/* encode(v [, pretty]) -> text */
static int p_encode(lua_State *L)
{
  json_t *j;
  char *s;
  size_t flags = JSON_REAL_PRECISION(17) | JSON_SORT_KEYS | JSON_ENSURE_ASCII;
  luaL_checkany(L, 1);
  if (lua_toboolean(L, 2)) flags |= JSON_INDENT(2);
  else flags |= JSON_COMPACT;
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) luaL_argerror(L, 1, "table expected");
  if (!(j = tojson(L, 1, 0, "$"))) return luaL_error(L, "provenance: cannot encode %s", lua_tostring(L, -1));
  s = json_dumps(j, flags);
  json_decref(j);
  if (!s) return luaL_error(L, "provenance: out of memory");
  lua_pushstring(L, s);
  free(s);
  return 1;
}

/* ---- JSON -> Lua -------------------------------------------------------------- */

/* Push the Lua value of j; 0 and a message pushed when it cannot be. */
static int tolua(lua_State *L, json_t *j, int depth)
{
  if (depth > MAXDEPTH) { lua_pushliteral(L, "nested too deeply"); return 0; }
  if (!lua_checkstack(L, 4)) { lua_pushliteral(L, "nested too deeply"); return 0; }
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *v;
    lua_createtable(L, 0, (int)(json_object_size(j) < INT_MAX ? json_object_size(j) : 0));
    json_object_foreach(j, k, v) {
      if (!tolua(L, v, depth + 1)) return 0;
      lua_setfield(L, -2, k);
    }
    return 1;
  }
  case JSON_ARRAY: {
    size_t k;
    json_t *v;
    lua_createtable(L, (int)(json_array_size(j) < INT_MAX ? json_array_size(j) : 0), 0);
    json_array_foreach(j, k, v) {
      if (!tolua(L, v, depth + 1)) return 0;
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return 1;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); return 1;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); return 1;
  case JSON_REAL: lua_pushnumber(L, json_real_value(j)); return 1;
  case JSON_TRUE: lua_pushboolean(L, 1); return 1;
  case JSON_FALSE: lua_pushboolean(L, 0); return 1;
  default: lua_pushliteral(L, "null is not a provenance value"); return 0;
  }
}

/* A json_t owned by a userdata, so an error in tolua does not leak it. */
static int jbox_gc(lua_State *L)
{
  json_t **p = lua_touserdata(L, 1);
  json_decref(*p);
  *p = NULL;
  return 0;
}

/* decode(text) -> value | nil, why */
static int p_decode(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  json_error_t err;
  json_t **box;
  lua_settop(L, 1);
  box = lua_newuserdatauv(L, sizeof *box, 0);  /* stack: text, box */
  *box = NULL;
  if (luaL_newmetatable(L, "cajal.jsonbox")) {
    lua_pushcfunction(L, jbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  if (n > CJ_PROV_MAX) {
    lua_pushnil(L);
    lua_pushfstring(L, "record longer than %d bytes", (int)CJ_PROV_MAX);
    return 2;
  }
  if (!(*box = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err))) {
    lua_pushnil(L);
    lua_pushfstring(L, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
    return 2;
  }
  if (!json_is_object(*box)) {
    lua_pushnil(L);
    lua_pushliteral(L, "a JSON object expected");
    return 2;
  }
  if (!tolua(L, *box, 0)) {
    lua_pushnil(L);
    lua_pushfstring(L, "unusable JSON: %s", lua_tostring(L, -2));
    return 2;
  }
  return 1;
}

/* ---- hashes, files -------------------------------------------------------------- */

static int p_sha256(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char hex[65];
  cj_sha256_hex(s, n, hex);
  lua_pushstring(L, hex);
  return 1;
}

static int failed(lua_State *L)
{
  lua_pushnil(L);
  lua_pushstring(L, cj_errmsg());
  return 2;
}

static int p_sha256_file(lua_State *L)
{
  char hex[65];
  if (cj_sha256_file(luaL_checkstring(L, 1), hex)) return failed(L);
  lua_pushstring(L, hex);
  return 1;
}

static const char *const KINDS[] = { "unknown", "png", "svg", "csv", "npy", "nwb", "save", "pdf" };

static int p_kind(lua_State *L)
{
  cj_provkind k;
  if (cj_prov_kind(luaL_checkstring(L, 1), &k)) return failed(L);
  lua_pushstring(L, KINDS[k]);
  return 1;
}

static int p_get(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  cj_provkind k;
  char *json = NULL;
  size_t n = 0;
  int st;
  if (cj_prov_kind(path, &k)) return failed(L);
  switch (k) {
  case CJ_PROV_PNG: st = cj_prov_png_get(path, &json, &n); break;
  case CJ_PROV_SVG: st = cj_prov_svg_get(path, &json, &n); break;
  case CJ_PROV_CSV: st = cj_prov_csv_get(path, &json, &n); break;
  case CJ_PROV_NWB: st = cj_nwb_provenance(path, &json, &n); break;
  default: st = cj_fail(CJ_EINVAL, "%s: a %s file keeps no record inside", path, cj_prov_kindname(k));
  }
  if (st) return failed(L);
  lua_pushlstring(L, json, n);
  cj_free(json);
  return 1;
}

static int p_put(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t n;
  const char *json = luaL_checklstring(L, 2, &n);
  cj_provkind k;
  int st;
  if (cj_prov_kind(path, &k)) return luaL_error(L, "%s", cj_errmsg());
  if (k == CJ_PROV_PNG) st = cj_prov_png_put(path, json, n);
  else if (k == CJ_PROV_SVG) st = cj_prov_svg_put(path, json, n);
  else return luaL_error(L, "%s: provenance goes into PNG and SVG files this way, not into a %s file",
                         path, cj_prov_kindname(k));
  if (st) return luaL_error(L, "%s", cj_errmsg());
  return 0;
}

static int p_realpath(lua_State *L)
{
  char *r = realpath(luaL_checkstring(L, 1), NULL);
  if (!r) return failed(L);
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* ---- for the writers ------------------------------------------------------------ */

void cj_prov_record(lua_State *L, int opts, const char *kind, const char *path)
{
  opts = lua_absindex(L, opts);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cajal.provenance");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "forfile");              /* stack: mod, forfile */
  lua_remove(L, -2);
  lua_pushvalue(L, opts);
  lua_pushstring(L, kind);
  lua_pushstring(L, path);
  lua_call(L, 3, 1);                           /* stack: json */
}

static int luaopen_cajal_prov(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"encode", p_encode}, {"decode", p_decode}, {"sha256", p_sha256},
    {"sha256_file", p_sha256_file}, {"kind", p_kind}, {"get", p_get}, {"put", p_put},
    {"realpath", p_realpath}, {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}

void cj_open_prov(lua_State *L)
{
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cajal_prov);
  lua_setfield(L, -2, "cajal.prov");
  lua_pop(L, 1);
}
