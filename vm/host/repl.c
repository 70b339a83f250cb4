/*
 * repl.c — the interactive loop of cajal: libedit line editing and history,
 * multi-line chunks, expressions printed by value, tab completion, Ctrl-C.
 *
 * The Lua half lives in stdlib/cajal/repl.lua ("cajal.repl"): init() puts
 * `cj` and `help` into the globals, show(...) formats results, and
 * complete(line, width) proposes names. When that module cannot be loaded
 * the loop still runs, printing with tostring and without completion.
 *
 * The Jupyter kernel (kernel.c) runs cells through the same pieces:
 * cj_repl_load (what is an expression, what is unfinished), cj_repl_show
 * (how values print) and cj_repl_openmodule (host.h).
 *
 * Keys: Ctrl-C on the line discards it (and a pending multi-line chunk);
 * Ctrl-C while code runs raises "interrupted" (main.c's handler); Ctrl-D on
 * an empty line ends the session. The terminal's own signal keys are off
 * while a line is edited (setty -isig), so ^C and ^Z reach us as keys.
 */
#include <lua.h>
#include <lauxlib.h>
#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "host.h"

#define HISTMAX 1000         /* lines kept in the history file */

enum { R_EOF = -1, R_CLEARED = -2 };

typedef struct repl {
  lua_State *L;
  EditLine *el;              /* NULL when stdin is not a terminal */
  History *hist;
  int mod;                   /* stack index of cajal.repl (nil if not loaded) */
  int cleared;               /* Ctrl-C was typed on the current line */
  char *histfile;            /* NULL: no history file */
  char lastline[256];        /* to skip repeated lines in the history file */
  int histwarned;
  char prompt[128];
} repl;

/* ---- history: one physical line per entry, plain text ------------------- */

static char *historypath(void)
{
  const char *env = getenv("CAJAL_HISTORY");
  const char *home = getenv("HOME");
  char *path;
  if (env) return *env ? strdup(env) : NULL;    /* CAJAL_HISTORY="" turns it off */
  if (!home || !*home) return NULL;
  path = malloc(strlen(home) + sizeof "/.cajal_history");
  if (path) sprintf(path, "%s/.cajal_history", home);
  return path;
}

static void histwarn(repl *r, const char *what)
{
  if (r->histwarned++) return;
  fprintf(stderr, "cajal: cannot %s history file '%s': %s\n", what, r->histfile,
          strerror(errno));
}

/* Keep the last HISTMAX lines of the file (rewritten through a temporary
 * name, so a failure leaves the old file intact). */
static void trimhistory(repl *r, char **lines, size_t n)
{
  size_t len = strlen(r->histfile);
  char *tmp = malloc(len + 8);
  FILE *f;
  if (!tmp) return;
  sprintf(tmp, "%s.%d", r->histfile, (int)(getpid() % 100000));
  f = fopen(tmp, "w");
  if (f) {
    for (size_t i = n - HISTMAX; i < n; i++) fputs(lines[i], f);
    if (fclose(f) == 0 && rename(tmp, r->histfile) == 0) { free(tmp); return; }
    remove(tmp);
  }
  histwarn(r, "rewrite");
  free(tmp);
}

static void loadhistory(repl *r)
{
  HistEvent ev;
  FILE *f;
  char **lines = NULL, *line = NULL;
  size_t n = 0, cap = 0, sz = 0;
  if (!r->histfile || !(f = fopen(r->histfile, "r"))) return;
  while (getline(&line, &sz, f) > 0) {
    if (n == cap) {
      char **nl = realloc(lines, (cap = cap ? 2 * cap : 256) * sizeof *lines);
      if (!nl) break;
      lines = nl;
    }
    if (!(lines[n] = strdup(line))) break;
    n++;
  }
  free(line);
  fclose(f);
  for (size_t i = n > HISTMAX ? n - HISTMAX : 0; i < n; i++) {
    char *nl = strchr(lines[i], '\n');
    if (nl) *nl = '\0';
    if (r->hist) history(r->hist, &ev, H_ENTER, lines[i]);
    snprintf(r->lastline, sizeof r->lastline, "%s", lines[i]);
    if (nl) *nl = '\n';
  }
  if (n > HISTMAX) trimhistory(r, lines, n);
  for (size_t i = 0; i < n; i++) free(lines[i]);
  free(lines);
}

/* Add a line to the session's history and append it to the file. */
static void addhistory(repl *r, const char *line)
{
  HistEvent ev;
  FILE *f;
  if (line[strspn(line, " \t")] == '\0' || strchr(line, '\n')) return;
  if (r->hist) history(r->hist, &ev, H_ENTER, line);
  if (!r->histfile || strcmp(line, r->lastline) == 0) return;
  snprintf(r->lastline, sizeof r->lastline, "%s", line);
  f = fopen(r->histfile, "a");
  if (!f || fprintf(f, "%s\n", line) < 0) histwarn(r, "write");
  if (f && fclose(f) != 0) histwarn(r, "write");
}

/* ---- libedit callbacks ---------------------------------------------------- */

static repl *getrepl(EditLine *el)
{
  void *p = NULL;
  el_get(el, EL_CLIENTDATA, &p);
  return p;
}

static char *promptfn(EditLine *el)
{
  return getrepl(el)->prompt;
}

/* ^C: show it and end the line (a pushed-back newline, so libedit moves to
 * the next line as for Enter); pushline then discards what was typed. */
static unsigned char clearline(EditLine *el, int ch)
{
  const LineInfo *li = el_line(el);
  (void)ch;
  getrepl(el)->cleared = 1;
  el_cursor(el, (int)(li->lastchar - li->cursor));
  el_insertstr(el, "^C");
  el_push(el, "\n");
  return CC_REFRESH;
}

/* ^Z: suspend as the terminal would (libedit restores the screen on SIGCONT). */
static unsigned char suspend(EditLine *el, int ch)
{
  (void)el; (void)ch;
  kill(getpid(), SIGTSTP);
  return CC_REDISPLAY;
}

static int termwidth(void)
{
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

/* TAB: cajal.repl.complete(text before the cursor, width) -> insert, listing */
static unsigned char complete(EditLine *el, int ch)
{
  repl *r = getrepl(el);
  lua_State *L = r->L;
  const LineInfo *li = el_line(el);
  int top = lua_gettop(L);
  unsigned char res = CC_ERROR;
  (void)ch;
  if (lua_type(L, r->mod) != LUA_TTABLE) return CC_ERROR;
  lua_getfield(L, r->mod, "complete");
  lua_pushlstring(L, li->buffer, (size_t)(li->cursor - li->buffer));
  lua_pushinteger(L, termwidth());
  if (lua_pcall(L, 2, 2, 0) == LUA_OK) {
    const char *ins = lua_tostring(L, -2);
    const char *list = lua_tostring(L, -1);
    if (ins && *ins && el_insertstr(el, ins) == 0) res = CC_REFRESH;
    else if (list && *list) {
      fprintf(stdout, "\n%s", list);
      fflush(stdout);
      res = CC_REDISPLAY;
    }
  }
  lua_settop(L, top);
  return res;
}

static void openeditor(repl *r)
{
  HistEvent ev;
  setlocale(LC_CTYPE, "");
  r->el = el_init("cajal", stdin, stdout, stderr);
  if (!r->el) return;
  r->hist = history_init();
  if (r->hist) {
    history(r->hist, &ev, H_SETSIZE, HISTMAX);
    history(r->hist, &ev, H_SETUNIQUE, 1);
    el_set(r->el, EL_HIST, history, r->hist);
  }
  el_set(r->el, EL_CLIENTDATA, (void *)r);
  el_set(r->el, EL_EDITOR, "emacs");
  el_set(r->el, EL_SIGNAL, 1);
  el_set(r->el, EL_PROMPT, promptfn);
  el_set(r->el, EL_SETTY, "-d", "-isig", NULL);
  /* the wide-character call keeps our static names (el_set's copies leak) */
  el_wset(r->el, EL_ADDFN, L"cajal-complete", L"complete a name", complete);
  el_wset(r->el, EL_ADDFN, L"cajal-clear", L"discard the line", clearline);
  el_wset(r->el, EL_ADDFN, L"cajal-suspend", L"suspend cajal", suspend);
  el_set(r->el, EL_BIND, "^I", "cajal-complete", NULL);
  el_set(r->el, EL_BIND, "^C", "cajal-clear", NULL);
  el_set(r->el, EL_BIND, "^Z", "cajal-suspend", NULL);
  el_source(r->el, NULL);                    /* the user's ~/.editrc */
}

static void closeeditor(repl *r)
{
  if (r->el) el_end(r->el);
  if (r->hist) history_end(r->hist);
  r->el = NULL;
  r->hist = NULL;
}

/* ---- reading chunks -------------------------------------------------------- */

/* The prompt: _PROMPT / _PROMPT2 when they are strings, as in lua(1). */
static void setprompt(repl *r, int first)
{
  lua_State *L = r->L;
  const char *p;
  lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
  p = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : (first ? "> " : ">> ");
  snprintf(r->prompt, sizeof r->prompt, "%s", p);
  lua_pop(L, 1);
}

/* Read one line and push it without its newline. Returns 1, R_EOF, or
 * R_CLEARED (Ctrl-C; nothing pushed). */
static int pushline(repl *r, int first)
{
  lua_State *L = r->L;
  setprompt(r, first);
  fflush(stdout);
  if (r->el) {
    const char *s;
    int n;
    r->cleared = 0;
    do {
      errno = 0;
      s = el_gets(r->el, &n);
    } while (!s && n < 0 && errno == EINTR && !r->cleared);
    if (r->cleared) return R_CLEARED;
    if (!s || n <= 0) return R_EOF;
    if (s[n - 1] == '\n') n--;
    lua_pushlstring(L, s, (size_t)n);
  } else {
    char *line = NULL;
    size_t sz = 0;
    ssize_t n;
    fputs(r->prompt, stdout);
    fflush(stdout);
    n = getline(&line, &sz, stdin);
    if (n <= 0) { free(line); return R_EOF; }
    if (line[n - 1] == '\n') n--;
    lua_pushlstring(L, line, (size_t)n);
    free(line);
  }
  return 1;
}

/* A syntax error at the end of the text: the chunk goes on. */
static int incomplete(lua_State *L, int status)
{
  static const char mark[] = "<eof>";
  size_t len;
  const char *msg;
  if (status != LUA_ERRSYNTAX) return 0;
  msg = lua_tolstring(L, -1, &len);
  return len >= sizeof mark - 1 && strcmp(msg + len - (sizeof mark - 1), mark) == 0;
}

/* Load pre .. s[0..n) .. post; pushes the function or the message. */
static int loadwith(lua_State *L, const char *pre, const char *s, size_t n,
                    const char *post, const char *name)
{
  luaL_Buffer b;
  size_t len;
  const char *code;
  int st;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, pre);
  luaL_addlstring(&b, s, n);
  luaL_addstring(&b, post);
  luaL_pushresult(&b);
  code = lua_tolstring(L, -1, &len);
  st = luaL_loadbuffer(L, code, len, name);
  lua_remove(L, -2);
  return st;
}

/* Does s[0..n) load with pre and post around it? Leaves the stack as found. */
static int loads(lua_State *L, const char *pre, const char *s, size_t n, const char *post)
{
  int ok = loadwith(L, pre, s, n, post, "=check") == LUA_OK;
  lua_pop(L, 1);
  return ok;
}

/* Is s[0..n) a non-empty list of expressions (not blank, not a comment)? */
static int isexprlist(lua_State *L, const char *s, size_t n)
{
  return loads(L, "local _ = ", s, n, "\n");
}

static int blank(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!strchr(" \t\r\n\f\v", s[i]) || s[i] == '\0') return 0;
  return 1;
}

#define MAXSPLIT 64          /* line starts tried for a cell's final expression */

/* The last lines of a chunk that form an expression statement on their own
 * (lines k.. of the text): the chunk is then run with "return" before them,
 * so a cell's last value shows. Both halves must load alone, and when the
 * whole text is a valid chunk the tail must be a statement by itself too
 * (so "y = a\n-b" stays y = a - b). Pushes the function and returns 1, or
 * pushes nothing and returns 0. */
static int loadtail(lua_State *L, const char *s, size_t len, int whole, const char *name)
{
  int tries = 0;
  for (size_t k = len; k > 0 && tries < MAXSPLIT; k--) {
    const char *tail = s + k;
    size_t tn = len - k;
    if (s[k - 1] != '\n' || blank(tail, tn)) continue;
    tries++;
    if (!isexprlist(L, tail, tn) || !loads(L, "", s, k, "")) continue;
    if (whole && !loads(L, ";", tail, tn, "")) continue;   /* a statement by itself */
    lua_pushlstring(L, s, k);
    lua_pushliteral(L, "return ");
    lua_concat(L, 2);
    if (loadwith(L, lua_tostring(L, -1), tail, tn, "\n;", name) == LUA_OK) {
      lua_remove(L, -2);
      return 1;
    }
    lua_pop(L, 2);
  }
  return 0;
}

int cj_repl_load(lua_State *L, const char *s, size_t len, const char *name, int *more)
{
  const char *e = s;
  size_t en = len;
  int st;
  *more = 0;
  if (en > 0 && e[0] == '=') { e++; en--; }  /* "=expr", as lua 5.1-5.3 */
  if (isexprlist(L, e, en)) {
    if (loadwith(L, "return ", e, en, "\n;", name) == LUA_OK) return LUA_OK;
    lua_pop(L, 1);
  }
  st = luaL_loadbuffer(L, s, len, name);
  if (memchr(s, '\n', len) && loadtail(L, s, len, st == LUA_OK, name)) {
    lua_remove(L, -2);                         /* the plain chunk or its error */
    return LUA_OK;
  }
  *more = st != LUA_OK && incomplete(L, st);
  return st;
}

/* Read a chunk: pushes a function (LUA_OK) or an error message (a Lua error
 * status), or pushes nothing and returns R_EOF / R_CLEARED. */
static int loadchunk(repl *r)
{
  lua_State *L = r->L;
  int n = pushline(r, 1);
  if (n != 1) return n;
  addhistory(r, lua_tostring(L, -1));
  for (;;) {                                  /* stack: text */
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int more;
    int st = cj_repl_load(L, text, len, "=stdin", &more);
    if (!more) {
      lua_remove(L, -2);
      return st;
    }
    lua_pop(L, 1);                            /* the "<eof>" message */
    n = pushline(r, 0);
    if (n == R_CLEARED) { lua_pop(L, 1); return R_CLEARED; }
    if (n == R_EOF) {                         /* report the unfinished chunk */
      fputc('\n', stdout);
      st = luaL_loadbuffer(L, text, len, "=stdin");
      lua_remove(L, -2);
      return st;
    }
    addhistory(r, lua_tostring(L, -1));       /* stack: text, line */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* ---- printing results -------------------------------------------------- */

/* Fallback when cajal.repl is missing: tostring of each, tab-separated. */
static int showplain(lua_State *L)
{
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

int cj_repl_show(lua_State *L, int mod, int n)
{
  if (lua_type(L, mod) == LUA_TTABLE) lua_getfield(L, mod, "show");
  else lua_pushcfunction(L, showplain);
  lua_insert(L, -n - 1);
  return cj_host_docall(L, n, 1);
}

/* Print the n values on top of the stack (stack: values -> ) */
static void printresults(repl *r, int n)
{
  lua_State *L = r->L;
  int st = cj_repl_show(L, r->mod, n);
  if (st == LUA_OK) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (s) {
      fwrite(s, 1, len, stdout);
      fputc('\n', stdout);
      fflush(stdout);
    }
    lua_pop(L, 1);
  } else {
    cj_host_report(L, st, 0);
  }
}

void cj_repl_openmodule(lua_State *L)
{
  int st;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cajal.repl");
  st = cj_host_docall(L, 1, 1);
  if (st != LUA_OK || !lua_istable(L, -1)) {
    if (st != LUA_OK) cj_host_report(L, st, 1);
    else lua_pop(L, 1);
    fprintf(stderr, "cajal: the REPL runs without value printing and completion\n");
    lua_pushnil(L);
    return;
  }
  lua_getfield(L, -1, "init");
  cj_host_report(L, cj_host_docall(L, 0, 0), 1);
}

void cj_repl(lua_State *L)
{
  repl r;
  int base = lua_gettop(L);
  /* Between lines the terminal is in its normal mode: a Ctrl-C typed there
   * (just after Enter) must not end the session. Code runs under
   * cj_host_docall's own handler. */
  void (*oldint)(int) = signal(SIGINT, SIG_IGN);
  memset(&r, 0, sizeof r);
  r.L = L;
  r.histfile = historypath();
  if (isatty(STDIN_FILENO)) openeditor(&r);
  loadhistory(&r);
  cj_repl_openmodule(L);
  r.mod = lua_gettop(L);
  if (r.el) {
    fputs("help() for help, Ctrl-D to exit.\n", stdout);
  }
  for (;;) {
    int st = loadchunk(&r);
    if (st == R_EOF) break;
    if (st == R_CLEARED) continue;
    if (st == LUA_OK) st = cj_host_docall(L, 0, LUA_MULTRET);
    if (st != LUA_OK) cj_host_report(L, st, 0);
    else if (lua_gettop(L) > r.mod) printresults(&r, lua_gettop(L) - r.mod);
    lua_settop(L, r.mod);
  }
  lua_settop(L, base);
  closeeditor(&r);
  free(r.histfile);
  fflush(stdout);
  signal(SIGINT, oldint);
}
