/*
 * lregex.c — cj.regex: PCRE2 regular expressions from Lua (vm/core/regex.h).
 *
 *   local re = cj.regex.compile("(?<key>\\w+)=(\\d+)", "i")
 *   re:match(s [, init]), re:exec(s [, init]), re:find(s [, init]),
 *   re:gmatch(s [, init]), re:findall(s [, init]), re:gsub(s, repl [, n]),
 *   re:split(s [, max]); cj.regex.match(s, pattern, ...) and friends compile
 *   the pattern for one call (pattern may also be a compiled regex).
 *
 * Positions are 1-based and inclusive, as in Lua's string library; an init
 * works like string.find's. A group that did not take part in a match gives
 * false (so tables of captures have no holes). Unlike string.find, ^ means
 * the start of the subject even with an init (use \G to anchor at init),
 * and lookbehinds see the text before init. Iteration (gmatch, gsub,
 * findall, split) follows Lua 5.4: an empty match adjacent to the previous
 * match is skipped (a non-empty match starting there is taken instead, as
 * Perl does: gsub("aa", "a*?", "<%0>") gives "<><a><a>").
 */
#include <stdlib.h>
#include <string.h>

#include "lcajal.h"
#include "regex.h"

#define CJ_REGEX "cajal.regex"

typedef struct lregex {
  cj_regex *re;
  cj_rematch *m;   /* the match storage of this pattern; read it before calling Lua */
} lregex;

#define toregex(L, i) ((lregex *)luaL_testudata(L, i, CJ_REGEX))

static lregex *checkregex(lua_State *L, int i)
{
  lregex *r = luaL_checkudata(L, i, CJ_REGEX);
  if (!r->re) luaL_argerror(L, i, "regex is closed");
  return r;
}

static void closeregex(lregex *r)
{
  cj_rematch_free(r->m);
  cj_regex_free(r->re);
  r->m = NULL;
  r->re = NULL;
}

/* Push a new regex compiled from the string at index parg with the flags
 * string at fidx (0: none). Errors are argument errors on parg / fidx. */
static lregex *newregex(lua_State *L, int parg, int fidx)
{
  size_t len;
  unsigned flags = 0;
  const char *pat = luaL_checklstring(L, parg, &len);
  const char *fl = fidx ? luaL_optstring(L, fidx, NULL) : NULL;
  lregex *r;
  if (cj_regex_parseflags(fl, &flags)) luaL_argerror(L, fidx, cj_errmsg());
  r = lua_newuserdatauv(L, sizeof *r, 1);
  r->re = NULL;
  r->m = NULL;
  luaL_setmetatable(L, CJ_REGEX);
  lua_pushvalue(L, parg);
  lua_setiuservalue(L, -2, 1);          /* keep the pattern text */
  if (cj_regex_compile(&r->re, pat, len, flags, NULL) == CJ_ENOMEM)
    luaL_error(L, "%s", cj_errmsg());
  if (!r->re) luaL_argerror(L, parg, cj_errmsg());
  r->m = cj_rematch_new(r->re);
  if (!r->m) luaL_error(L, "not enough memory");
  return r;
}

/* A string.find-style init: 0-based start, or -1 when past the end. */
static lua_Integer initpos(lua_State *L, int arg, size_t len)
{
  lua_Integer i = luaL_optinteger(L, arg, 1);
  if (i > 0) return (size_t)i > len + 1 ? -1 : i - 1;
  if (i == 0 || (size_t)-(i + 1) >= len) return 0;
  return (lua_Integer)len + i;
}

/* Raise a failure of cj_regex_exec: a bad subject is an argument error. */
static int execerror(lua_State *L, int rc, int sarg, int initarg)
{
  const char *msg = cj_errmsg();
  if (rc == CJ_EINVAL && strstr(msg, "inside a UTF-8") && initarg)
    return luaL_argerror(L, initarg, msg);
  if (rc == CJ_EINVAL) return luaL_argerror(L, sarg, msg);
  return luaL_error(L, "%s", msg);
}

static void pushgroup(lua_State *L, lregex *r, const char *s, int i)
{
  size_t a, b;
  if (cj_rematch_span(r->m, i, &a, &b)) lua_pushlstring(L, s + a, b - a);
  else lua_pushboolean(L, 0);
}

/* Push the captures of the last match (the whole match if there are no
 * groups); returns how many. */
static int pushcaptures(lua_State *L, lregex *r, const char *s)
{
  int n = cj_regex_ngroups(r->re);
  if (n == 0) { pushgroup(L, r, s, 0); return 1; }
  luaL_checkstack(L, n, "too many captures");
  for (int i = 1; i <= n; i++) pushgroup(L, r, s, i);
  return n;
}

/* One search from init; 1 if it matched. */
static int search(lua_State *L, lregex *r, int sarg, int initarg)
{
  size_t len;
  const char *s = luaL_checklstring(L, sarg, &len);
  lua_Integer init = initpos(L, initarg, len);
  int found, rc;
  if (init < 0) return 0;
  rc = cj_regex_exec(r->re, r->m, s, len, (size_t)init, 0, &found);
  if (rc) execerror(L, rc, sarg, initarg);
  return found;
}

static int do_match(lua_State *L, lregex *r, int sarg, int initarg)
{
  if (!search(L, r, sarg, initarg)) { luaL_pushfail(L); return 1; }
  return pushcaptures(L, r, lua_tostring(L, sarg));
}

static int do_find(lua_State *L, lregex *r, int sarg, int initarg)
{
  size_t a, b;
  if (!search(L, r, sarg, initarg)) { luaL_pushfail(L); return 1; }
  cj_rematch_span(r->m, 0, &a, &b);
  lua_pushinteger(L, (lua_Integer)a + 1);
  lua_pushinteger(L, (lua_Integer)b);
  if (cj_regex_ngroups(r->re) == 0) return 2;
  return 2 + pushcaptures(L, r, lua_tostring(L, sarg));
}

static int do_exec(lua_State *L, lregex *r, int sarg, int initarg)
{
  const char *s;
  size_t a, b;
  int n = cj_regex_ngroups(r->re), nn = cj_regex_nnames(r->re);
  if (!search(L, r, sarg, initarg)) { luaL_pushfail(L); return 1; }
  s = lua_tostring(L, sarg);
  lua_createtable(L, n, nn + 2);
  for (int i = 1; i <= n; i++) {
    pushgroup(L, r, s, i);
    lua_rawseti(L, -2, i);
  }
  for (int i = 0; i < nn; i++) {   /* duplicate names: the first set group wins */
    int g;
    const char *name = cj_regex_name(r->re, i, &g);
    if (lua_getfield(L, -1, name) == LUA_TSTRING) { lua_pop(L, 1); continue; }
    lua_pop(L, 1);
    pushgroup(L, r, s, g);
    lua_setfield(L, -2, name);
  }
  cj_rematch_span(r->m, 0, &a, &b);
  lua_pushinteger(L, (lua_Integer)a + 1);
  lua_setfield(L, -2, "start");
  lua_pushinteger(L, (lua_Integer)b);
  lua_setfield(L, -2, "stop");
  return 1;
}

/* ---- iteration -------------------------------------------------------- */

/* Next match of the iteration in `it` over the string at sarg; 1 if found. */
static int nextmatch(lua_State *L, lregex *r, int sarg, cj_reiter *it)
{
  size_t len;
  const char *s = lua_tolstring(L, sarg, &len);
  int found, rc = cj_regex_next(r->re, r->m, s, len, it, &found);
  if (rc) execerror(L, rc, sarg, 0);
  return found;
}

static cj_reiter *newiter(lua_State *L, int sarg, int initarg)
{
  size_t len;
  lua_Integer init;
  cj_reiter *it;
  luaL_checklstring(L, sarg, &len);
  init = initarg ? initpos(L, initarg, len) : 0;
  it = lua_newuserdatauv(L, sizeof *it, 0);
  cj_reiter_init(it, init < 0 ? len + 1 : (size_t)init);
  return it;
}

static int gmatch_aux(lua_State *L)
{
  lregex *r = checkregex(L, lua_upvalueindex(1));
  cj_reiter *it = lua_touserdata(L, lua_upvalueindex(3));
  if (!nextmatch(L, r, lua_upvalueindex(2), it)) return 0;
  return pushcaptures(L, r, lua_tostring(L, lua_upvalueindex(2)));
}

static int do_gmatch(lua_State *L, int rarg, int sarg, int initarg)
{
  lua_pushvalue(L, rarg);
  lua_pushvalue(L, sarg);
  newiter(L, sarg, initarg);     /* stack: ..., regex, s, iter */
  lua_pushcclosure(L, gmatch_aux, 3);
  return 1;
}

static int do_findall(lua_State *L, lregex *r, int sarg, int initarg)
{
  int ng = cj_regex_ngroups(r->re);
  lua_Integer k = 0;
  cj_reiter *it = newiter(L, sarg, initarg);
  const char *s = lua_tostring(L, sarg);
  lua_newtable(L);                         /* stack: ..., iter, result */
  while (nextmatch(L, r, sarg, it)) {
    if (ng <= 1) {
      pushgroup(L, r, s, ng);
    } else {
      lua_createtable(L, ng, 0);
      for (int i = 1; i <= ng; i++) {
        pushgroup(L, r, s, i);
        lua_rawseti(L, -2, i);
      }
    }
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static int do_split(lua_State *L, lregex *r, int sarg, int maxarg)
{
  size_t len, a, b, from = 0;
  lua_Integer max = luaL_optinteger(L, maxarg, LUA_MAXINTEGER), k = 0;
  const char *s = luaL_checklstring(L, sarg, &len);
  cj_reiter *it;
  luaL_argcheck(L, max >= 1, maxarg, "maximum number of pieces must be at least 1");
  it = newiter(L, sarg, 0);
  lua_newtable(L);                         /* stack: ..., iter, pieces */
  while (k + 1 < max && nextmatch(L, r, sarg, it)) {
    cj_rematch_span(r->m, 0, &a, &b);
    if (a == b && (a == 0 || a == len)) continue;   /* as Go and JavaScript */
    lua_pushlstring(L, s + from, a - from);
    lua_rawseti(L, -2, ++k);
    from = b;
  }
  lua_pushlstring(L, s + from, len - from);
  lua_rawseti(L, -2, ++k);
  return 1;
}

/* ---- gsub ------------------------------------------------------------- */

/* Parse the reference after a '%' at t[*i]: a group number, or -1 for a
 * literal '%'. Raises on a malformed or unknown reference. */
static int tplerror(lua_State *L, int targ, const char *fmt, const char *arg)
{
  lua_pushfstring(L, fmt, arg);
  return luaL_argerror(L, targ, lua_tostring(L, -1));
}

static int tplref(lua_State *L, lregex *r, int targ, const char *t, size_t len, size_t *i)
{
  int ng = cj_regex_ngroups(r->re);
  int g;
  char c = *i < len ? t[*i] : '\0';
  if (c == '%') { (*i)++; return -1; }
  if (c >= '0' && c <= '9') {
    (*i)++;
    g = c - '0';
    if (g == 1 && ng == 0) return 0;    /* as string.gsub: %1 is the whole match */
  } else if (c == '{') {
    const char *close = memchr(t + *i, '}', len - *i);
    char name[128];
    size_t n;
    if (!close) tplerror(L, targ, "unclosed '%%{' in replacement string", "");
    n = (size_t)(close - (t + *i + 1));
    if (n == 0 || n >= sizeof name) tplerror(L, targ, "bad group name in replacement string", "");
    memcpy(name, t + *i + 1, n);
    name[n] = '\0';
    *i += n + 2;
    if (strspn(name, "0123456789") == n) {
      g = (int)strtol(name, NULL, 10);
      if (n > 6) g = ng + 1;
    } else if ((g = cj_regex_group(r->re, name)) < 0) {
      return tplerror(L, targ, "unknown group name '%s' in replacement string", name);
    }
  } else {
    return tplerror(L, targ, "invalid use of '%%' in replacement string", "");
  }
  if (g > ng) {
    lua_pushfstring(L, "invalid capture index %%%d in replacement string", g);
    luaL_argerror(L, targ, lua_tostring(L, -1));
  }
  return g;
}

/* Check a template once, before any match, so a bad one always raises. */
static void checktemplate(lua_State *L, lregex *r, int targ)
{
  size_t len, i = 0;
  const char *t = lua_tolstring(L, targ, &len);
  while (i < len)
    if (t[i++] == '%') tplref(L, r, targ, t, len, &i);
}

static void addtemplate(lua_State *L, luaL_Buffer *b, lregex *r, int targ, const char *s)
{
  size_t len, i = 0, a, e;
  const char *t = lua_tolstring(L, targ, &len);
  while (i < len) {
    const char *p = memchr(t + i, '%', len - i);
    size_t n = p ? (size_t)(p - (t + i)) : len - i;
    int g;
    luaL_addlstring(b, t + i, n);
    i += n;
    if (!p) break;
    i++;
    g = tplref(L, r, targ, t, len, &i);
    if (g < 0) luaL_addchar(b, '%');
    else if (cj_rematch_span(r->m, g, &a, &e)) luaL_addlstring(b, s + a, e - a);
  }
}

/* Replacement from a table or function: the value on top decides. */
static void addvalue(lua_State *L, luaL_Buffer *b, lregex *r, int rarg, const char *s)
{
  size_t a, e;
  int t = lua_type(L, rarg);
  cj_rematch_span(r->m, 0, &a, &e);
  if (t == LUA_TFUNCTION) {
    int n;
    lua_pushvalue(L, rarg);
    n = pushcaptures(L, r, s);
    lua_call(L, n, 1);
  } else {
    pushgroup(L, r, s, cj_regex_ngroups(r->re) ? 1 : 0);
    lua_gettable(L, rarg);
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s + a, e - a);
    return;
  }
  if (!lua_isstring(L, -1))
    tplerror(L, rarg, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
}

/* the replacement at rarg, the maximum count at rarg + 1 */
static int do_gsub(lua_State *L, lregex *r, int sarg, int rarg)
{
  int narg = rarg + 1;
  size_t len, from = 0;
  const char *s = luaL_checklstring(L, sarg, &len);
  int tr = lua_type(L, rarg);
  lua_Integer max = luaL_optinteger(L, narg, LUA_MAXINTEGER), count = 0;
  cj_reiter *it;
  luaL_Buffer b;
  luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
                   tr == LUA_TTABLE, rarg, "string/function/table");
  if (tr == LUA_TNUMBER || tr == LUA_TSTRING) {
    lua_tostring(L, rarg);
    checktemplate(L, r, rarg);
  }
  it = newiter(L, sarg, 0);
  luaL_buffinit(L, &b);
  while (count < max && nextmatch(L, r, sarg, it)) {
    size_t a, e;
    cj_rematch_span(r->m, 0, &a, &e);
    luaL_addlstring(&b, s + from, a - from);
    if (tr == LUA_TNUMBER || tr == LUA_TSTRING) addtemplate(L, &b, r, rarg, s);
    else addvalue(L, &b, r, rarg, s);   /* may call Lua: r->m not read after */
    from = e;
    count++;
  }
  luaL_addlstring(&b, s + from, len - from);
  luaL_pushresult(&b);
  lua_pushinteger(L, count);
  return 2;
}

/* ---- methods ---------------------------------------------------------- */

static int m_gmatch(lua_State *L)
{
  checkregex(L, 1);
  lua_settop(L, 3);
  return do_gmatch(L, 1, 2, 3);
}

static int m_close(lua_State *L)
{
  closeregex(luaL_checkudata(L, 1, CJ_REGEX));
  return 0;
}

static int m_tostring(lua_State *L)
{
  lregex *r = luaL_checkudata(L, 1, CJ_REGEX);
  char fl[6];
  if (!r->re) { lua_pushliteral(L, "regex (closed)"); return 1; }
  cj_regex_flagstring(cj_regex_flags(r->re), fl);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "regex /%s/%s", lua_tostring(L, -1), fl);
  return 1;
}

/* Fields: pattern, flags, ngroups, names ({name = group}), jit. */
static int m_index(lua_State *L)
{
  lregex *r = luaL_checkudata(L, 1, CJ_REGEX);
  const char *k = luaL_checkstring(L, 2);
  char fl[6];
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (strcmp(k, "pattern") == 0) { lua_getiuservalue(L, 1, 1); return 1; }
  if (!r->re) return luaL_error(L, "regex is closed");
  if (strcmp(k, "flags") == 0) {
    cj_regex_flagstring(cj_regex_flags(r->re), fl);
    lua_pushstring(L, fl);
  } else if (strcmp(k, "ngroups") == 0) {
    lua_pushinteger(L, cj_regex_ngroups(r->re));
  } else if (strcmp(k, "jit") == 0) {
    lua_pushboolean(L, cj_regex_isjit(r->re));
  } else if (strcmp(k, "names") == 0) {
    lua_newtable(L);
    for (int i = 0; i < cj_regex_nnames(r->re); i++) {
      const char *name = cj_regex_name(r->re, i, NULL);
      lua_pushinteger(L, cj_regex_group(r->re, name));
      lua_setfield(L, -2, name);
    }
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* ---- module functions ------------------------------------------------- */

static int re_compile(lua_State *L)
{
  newregex(L, 1, 2);
  return 1;
}

/* The pattern at index 2 of a convenience function: a compiled regex is
 * used as is; a string is compiled for this call and pushed on the stack. */
static lregex *patternarg(lua_State *L, int *temp)
{
  lregex *r = toregex(L, 2);
  *temp = 0;
  if (r) return checkregex(L, 2);
  if (lua_type(L, 2) != LUA_TSTRING) luaL_typeerror(L, 2, "string or regex");
  *temp = 1;
  return newregex(L, 2, 0);
}

/* Finish a convenience call: free a temporary pattern now rather than at
 * the next collection (its memory is outside the collector's sight). */
static int done(lregex *r, int temp, int nres)
{
  if (temp) closeregex(r);
  return nres;
}

static int re_gmatch(lua_State *L)
{
  int temp;
  lua_settop(L, 3);     /* a temporary pattern goes above the arguments */
  patternarg(L, &temp);
  return do_gmatch(L, temp ? 4 : 2, 1, 3);
}

/* ---- the operations as methods and as module functions -----------------
 * r:op(s, a, ...) and cj.regex.op(s, pattern, a, ...) share do_op(L, r,
 * sarg, 3): the subject at 2 or 1, the other arguments from 3 on in both.
 * X(name, nargs): nargs the module function's argument count. */
#define REOPS(X) X(match, 3) X(find, 3) X(exec, 3) X(findall, 3) X(gsub, 4) X(split, 3)

typedef int (*reop)(lua_State *L, lregex *r, int sarg, int arg3);

static int asmethod(lua_State *L, reop op)
{
  return op(L, checkregex(L, 1), 2, 3);
}

static int asfunction(lua_State *L, reop op, int nargs)
{
  int temp;
  lregex *r;
  lua_settop(L, nargs);     /* a temporary pattern goes above the arguments */
  r = patternarg(L, &temp);
  return done(r, temp, op(L, r, 1, 3));
}

#define WRAPOP(name, nargs)                                                     \
  static int m_##name(lua_State *L) { return asmethod(L, do_##name); }          \
  static int re_##name(lua_State *L) { return asfunction(L, do_##name, nargs); }
REOPS(WRAPOP)

/* escape(s): s with every ASCII punctuation character backslash-escaped. */
static int re_escape(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0) { luaL_addstring(&b, "\\x00"); continue; }
    if (c < 0x80 && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
        !(c >= 'A' && c <= 'Z') && c != '_')
      luaL_addchar(&b, '\\');
    luaL_addchar(&b, (char)c);
  }
  luaL_pushresult(&b);
  return 1;
}

#define METHOD(name, nargs) {#name, m_##name},
#define FUNCTION(name, nargs) {#name, re_##name},
static const luaL_Reg methods[] = {
  REOPS(METHOD) {"gmatch", m_gmatch}, {"close", m_close},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  REOPS(FUNCTION) {"compile", re_compile}, {"gmatch", re_gmatch}, {"escape", re_escape},
  {NULL, NULL}
};

static const cj_doc methoddocs[] = {
  {"match", "re:match(s [, init]) -> captures... | whole match | nil\n"
            "First match in s from byte init (as string.find's; default 1). Groups that did\n"
            "not take part give false."},
  {"find", "re:find(s [, init]) -> start, stop [, captures...] | nil\n"
           "Position (1-based, inclusive) of the first match, then its captures if any."},
  {"exec", "re:exec(s [, init]) -> {start=, stop=, [1]=..., name=...} | nil\n"
           "The first match as a table of numbered and named groups (unset: false)."},
  {"gmatch", "re:gmatch(s [, init]) -> iterator\n"
             "Iterates over the matches, giving captures (or the whole match) as string.gmatch."},
  {"findall", "re:findall(s [, init]) -> table\n"
              "All matches: the whole match (no groups), the capture (one group) or a table of\n"
              "captures (several) per match."},
  {"gsub", "re:gsub(s, repl [, n]) -> string, count\n"
           "Replace matches (at most n). repl: string with %0 (whole match), %1..%9, %{name},\n"
           "%{12}, %% ; or a table indexed by the first capture; or a function of the captures."},
  {"split", "re:split(s [, max]) -> table\n"
            "Pieces of s between matches (at most max pieces; the last holds the rest).\n"
            "Captures are not included; empty matches at either end do not split."},
  {"close", "re:close()\nFree the compiled pattern now (also done by __gc and __close)."},
  {NULL, NULL}
};

static const cj_doc funcdocs[] = {
  {"compile", "cj.regex.compile(pattern [, flags]) -> regex\n"
              "Compile a PCRE2 pattern. flags: i caseless, m multiline, s dotall, x extended,\n"
              "u UTF-8 (Unicode \\w, \\d, ...). Fields: pattern, flags, ngroups, names, jit."},
  {"match", "cj.regex.match(s, pattern [, init]) -> captures... | nil\n"
            "re:match without keeping the compiled pattern (pattern: string or regex)."},
  {"find", "cj.regex.find(s, pattern [, init]) -> start, stop [, captures...] | nil\n"
           "re:find for a pattern string or regex."},
  {"exec", "cj.regex.exec(s, pattern [, init]) -> table | nil\nre:exec for a pattern string or regex."},
  {"gmatch", "cj.regex.gmatch(s, pattern [, init]) -> iterator\nre:gmatch for a pattern string or regex."},
  {"findall", "cj.regex.findall(s, pattern [, init]) -> table\nre:findall for a pattern string or regex."},
  {"gsub", "cj.regex.gsub(s, pattern, repl [, n]) -> string, count\n"
           "re:gsub for a pattern string or regex (see help of re:gsub for repl)."},
  {"split", "cj.regex.split(s, pattern [, max]) -> table\nre:split for a pattern string or regex."},
  {"escape", "cj.regex.escape(s) -> string\nA pattern matching s literally."},
  {NULL, NULL}
};

void cj_open_regex(lua_State *L)
{
  luaL_newmetatable(L, CJ_REGEX);             /* stack: mod, mt */
  luaL_newlib(L, methods);                    /* stack: mod, mt, methods */
  cj_setdocs(L, -1, methoddocs);
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, m_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);                      /* stack: mod, regex */
  cj_setdocs(L, -1, funcdocs);
  lua_setfield(L, -2, "regex");
}
