/*
 * main.c — the cajal command line: options in the manner of lua(1), the
 * protected call with a traceback that every piece of user code runs under,
 * and Ctrl-C turned into a Lua error ("interrupted").
 *
 * Everything after the state is created runs inside one lua_pcall (pmain),
 * so an out-of-memory error anywhere in start-up is reported, not fatal.
 * The cajal Lua module is not loaded here: `cajal -e ''` stays cheap.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cj.h"
#include "netmpi.h"
#include "host.h"

extern int luaopen_lpeg(lua_State *L);

static const char *progname = "cajal";

static const char usage[] =
  "usage: %s [options] [script [args]]\n"
  "Available options are:\n"
  "  -e stat          execute string 'stat'\n"
  "  -i               enter the REPL after 'script', also after an error\n"
  "  -l mod           require library 'mod' into global 'mod'\n"
  "  -l g=mod         require library 'mod' into global 'g'\n"
  "  -v, --version    show version information\n"
  "  -E               ignore LUA_PATH, LUA_CPATH and CAJAL_HOME\n"
  "  -W               turn warnings on\n"
  "  -h, --help       show this help\n"
  "  --dump=STAGE F   print stage ast, ir or c of the network model file F\n"
  "  --cache-clear    remove the compiled models from the compile cache\n"
  "  --models         list the folders `import` searches and the models in each\n"
  "  --jupyter FILE   run as a Jupyter kernel with the connection file FILE\n"
  "  --install-kernel [--user | --prefix DIR]\n"
  "                   write the Jupyter kernel spec 'cajal'\n"
  "  --               stop handling options\n"
  "  -                stop handling options and run stdin\n"
  "With no script, cajal opens the REPL on a terminal and runs stdin otherwise.\n";

/* ---- errors, Ctrl-C, protected calls ------------------------------------ */

static lua_State *runningL;              /* the state a SIGINT should stop */
static lua_State *volatile runningco;    /* the innermost coroutine running, if known */
static volatile sig_atomic_t gotsigint;

/* Count hook installed by the signal handler: raises at the next Lua step. */
static void stop(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  lua_pushliteral(L, "interrupted");
  lua_error(L);
}

/* Only async-signal-safe work: a second Ctrl-C before the hook fires (a long
 * C computation) gets the default action and ends the process. */
static void onsigint(int sig)
{
  signal(sig, SIG_DFL);
  gotsigint = 1;
  lua_sethook(runningL, stop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  if (runningco) lua_sethook(runningco, stop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Hooks belong to one thread, and a coroutine only inherits the hook its
 * creator had when it was created: a loop inside a coroutine resumed before
 * Ctrl-C would not see it. coroutine.resume and the functions made by
 * coroutine.wrap therefore note which coroutine runs (runningco) for the
 * signal handler. The original function is upvalue 1; for wrap's functions
 * the coroutine is upvalue 2. */
static int cocall(lua_State *L, lua_State *co)
{
  lua_State *outer = runningco;
  int st;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (co) runningco = co;
  st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  runningco = outer;
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int co_resume(lua_State *L)
{
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  return cocall(L, co);
}

static int co_wrapped(lua_State *L)
{
  return cocall(L, lua_tothread(L, lua_upvalueindex(2)));
}

static int co_wrap(lua_State *L)
{
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);                         /* stack: the original wrapper */
  if (lua_getupvalue(L, 1, 1) == NULL || !lua_isthread(L, -1)) {
    lua_settop(L, 1);                        /* not the expected shape: keep it */
    return 1;
  }
  lua_pushcclosure(L, co_wrapped, 2);
  return 1;
}

/* Replace coroutine.resume and coroutine.wrap by the noting versions. */
static void notecoroutines(lua_State *L)
{
  static const luaL_Reg fns[] = { {"resume", co_resume}, {"wrap", co_wrap}, {NULL, NULL} };
  if (lua_getglobal(L, "coroutine") == LUA_TTABLE) {
    for (const luaL_Reg *f = fns; f->name; f++) {
      lua_getfield(L, -1, f->name);
      lua_pushcclosure(L, f->func, 1);
      lua_setfield(L, -2, f->name);
    }
  }
  lua_pop(L, 1);
}

/* Message handler: the message (or the __tostring of an error object) plus
 * a traceback. A model error (an error object named "cajal.modelerror": the
 * network compiler's file:line:col message, the line and a caret) is shown
 * alone: a traceback would only show the compiler's own Lua files. */
static int msghandler(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (!msg && luaL_getmetafield(L, 1, "__name") != LUA_TNIL) {
    int model = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "cajal.modelerror") == 0;
    lua_pop(L, 1);
    if (model && luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
  }
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int cj_host_docall(lua_State *L, int narg, int nres)
{
  struct sigaction sa, old;
  int base = lua_gettop(L) - narg;           /* function index */
  int st;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);                       /* stack: handler, fn, args */
  runningL = L;
  gotsigint = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onsigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  st = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  if (gotsigint && lua_gethook(L) == stop)   /* Ctrl-C came too late to act */
    lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return st;
}

int cj_host_report(lua_State *L, int status, int withname)
{
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    if (cj_mpi_size() > 1)         /* which of the ranks failed */
      fprintf(stderr, "%s%srank %d of %d: %s\n", withname ? progname : "", withname ? ": " : "",
              cj_mpi_rank(), cj_mpi_size(), msg);
    else if (withname) fprintf(stderr, "%s: %s\n", progname, msg);
    else fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* The global `help` of every cajal process (scripts, -e, the REPL): calls
 * cajal.help's help, loading it on first use so start-up stays cheap. */
static int help(lua_State *L)
{
  int n = lua_gettop(L);
  luaL_argcheck(L, n <= 1, 2, "at most one argument expected");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cajal.help");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "help");                /* stack: args, module, help */
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* ---- version ------------------------------------------------------------- */

/* OpenBLAS's version from the copy linked in, else from the shared library
 * (not linked into the host itself: loading it costs start-up time). */
static void pushblas(lua_State *L)
{
  typedef char *(*configf)(void);
  configf f = (configf)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_config");
  void *lib = NULL;
  if (!f && (lib = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_LOCAL)))
    f = (configf)(uintptr_t)dlsym(lib, "openblas_get_config");
  if (f) {
    const char *s = f();
    const char *sp = strchr(s, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    lua_pushlstring(L, s, sp ? (size_t)(sp - s) : strlen(s));
  } else {
    lua_pushliteral(L, "OpenBLAS not found");
  }
  if (lib) dlclose(lib);
}

void cj_host_pushversion(lua_State *L)
{
  char pcre[64];
  lua_pushcfunction(L, luaopen_lpeg);
  lua_call(L, 0, 1);
  lua_getfield(L, -1, "version");            /* stack: lpeg, version */
  if (lua_isfunction(L, -1)) lua_call(L, 0, 1);
  lua_remove(L, -2);
  if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0) strcpy(pcre, "?");
  pcre[strcspn(pcre, " ")] = '\0';           /* "10.42 2022-12-11" */
  pushblas(L);                               /* stack: lpegversion, blas */
  lua_pushfstring(L, "cajal %s (%s, LPeg %s, PCRE2 %s, %s)", CJ_VERSION, LUA_RELEASE,
                  luaL_optstring(L, -2, "?"), pcre, lua_tostring(L, -1));
  lua_replace(L, -3);
  lua_pop(L, 1);
}

static void printversion(lua_State *L)
{
  cj_host_pushversion(L);
  puts(lua_tostring(L, -1));
  fflush(stdout);
  lua_pop(L, 1);
}

/* ---- command line -------------------------------------------------------- */

enum { HAS_I = 1, HAS_V = 2, HAS_E = 4, HAS_NOENV = 8, HAS_HELP = 16, HAS_ACTION = 32,
       HAS_KERNEL = 64 };

typedef struct opts {
  int flags;
  int script;        /* argv index of the script, 0 if none */
  int stdinscript;   /* the script is stdin ('-' not preceded by '--') */
  const char *bad;   /* the offending argument, if any */
  const char *why;
  const char *connfile;   /* --jupyter FILE */
  int install;            /* --install-kernel: 1, 2 with --user */
  const char *prefix;     /* --install-kernel --prefix DIR */
} opts;

/* Does option argv[*i] take an argument (-e, -l)? Moves *i to it. */
static int optarg_(char **argv, int *i, opts *o)
{
  if (argv[*i][2] != '\0') return 1;         /* -eCODE */
  if (!argv[*i + 1]) { o->bad = argv[*i]; o->why = "needs an argument"; return 0; }
  (*i)++;
  return 1;
}

static int isdumpopt(const char *a)
{
  return strncmp(a, "--dump=", 7) == 0;
}

/* --jupyter FILE, --install-kernel [--user | --prefix DIR] at argv[*i]. */
static int kernelopts(char **argv, int *i, opts *o)
{
  const char *a = argv[*i];
  o->flags |= HAS_KERNEL;
  if (strcmp(a, "--jupyter") == 0) {
    if (!argv[*i + 1]) { o->bad = a; o->why = "needs a connection file"; return 0; }
    o->connfile = argv[++*i];
    return 1;
  }
  o->install = 1;
  if (argv[*i + 1] && strcmp(argv[*i + 1], "--user") == 0) {
    o->install = 2;
    ++*i;
  } else if (argv[*i + 1] && strcmp(argv[*i + 1], "--prefix") == 0) {
    if (!argv[*i + 2]) { o->bad = argv[*i + 1]; o->why = "needs a folder"; return 0; }
    o->prefix = argv[*i + 2];
    *i += 2;
  }
  return 1;
}

/* First pass: find the script and check the options; actions run later in
 * command-line order (runargs). */
static void collectargs(char **argv, opts *o)
{
  int i;
  memset(o, 0, sizeof *o);
  for (i = 1; argv[i]; i++) {
    const char *a = argv[i];
    if (a[0] != '-') { o->script = i; return; }
    if (a[1] == '\0') { o->script = i; o->stdinscript = 1; return; }
    if (strcmp(a, "--") == 0) { if (argv[i + 1]) o->script = i + 1; return; }
    if (a[1] == '-') {
      if (strcmp(a, "--help") == 0) o->flags |= HAS_HELP;
      else if (strcmp(a, "--version") == 0) o->flags |= HAS_V;
      else if (strcmp(a, "--cache-clear") == 0 || strcmp(a, "--models") == 0) o->flags |= HAS_ACTION;
      else if (strcmp(a, "--jupyter") == 0 || strcmp(a, "--install-kernel") == 0) {
        if (!kernelopts(argv, &i, o)) return;
      }
      else if (isdumpopt(a)) {
        const char *st = a + 7;
        if (strcmp(st, "ast") && strcmp(st, "ir") && strcmp(st, "c")) {
          o->bad = a; o->why = "expects ast, ir or c"; return;
        }
        if (!argv[i + 1]) { o->bad = a; o->why = "needs a model file"; return; }
        i++;
        o->flags |= HAS_ACTION;
      } else { o->bad = a; o->why = "is not an option"; return; }
      continue;
    }
    switch (a[1]) {
    case 'e': if (!optarg_(argv, &i, o)) return; o->flags |= HAS_E; continue;
    case 'l': if (!optarg_(argv, &i, o)) return; continue;
    case 'i': case 'v': case 'E': case 'W': case 'h':
      if (a[2] != '\0') break;
      if (a[1] == 'i') o->flags |= HAS_I | HAS_V;
      else if (a[1] == 'v') o->flags |= HAS_V;
      else if (a[1] == 'E') o->flags |= HAS_NOENV;
      else if (a[1] == 'h') o->flags |= HAS_HELP;
      continue;
    default: break;
    }
    o->bad = a; o->why = "is not an option";
    return;
  }
}

/* arg as lua(1) sets it: arg[0] the script, arg[1..] its arguments,
 * negative indices the interpreter and the options (with no script,
 * arg[0] is the interpreter and every argument is positive). */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
  lua_createtable(L, argc - script, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status)
{
  if (status == LUA_OK) status = cj_host_docall(L, 0, 0);
  return cj_host_report(L, status, 1);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [g=]mod: g = require(mod); without "g=", g is mod up to a '-'. */
static int dolibrary(lua_State *L, const char *spec)
{
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  size_t glen = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
  int st;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  st = cj_host_docall(L, 1, 1);
  if (st == LUA_OK) {
    lua_pushlstring(L, spec, glen);          /* stack: module, name */
    lua_insert(L, -2);
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return cj_host_report(L, st, 1);
}

/* The network-language options call into the compiler's Lua modules; a
 * missing function is reported as such, not as an indexing error.
 * The dump returns true, or false and a message: a model error (the
 * compiler's error object: file:line:col, the line, a caret) is the whole
 * message; any other error is internal and keeps its traceback (third
 * result true). */
static const char dumpcode[] =
  "local stage, path = ...\n"
  "local ok, cj = pcall(require, 'cajal')\n"
  "if not ok then error(cj, 0) end\n"
  "local dump\n"
  "ok, dump = pcall(function() return cj.dump end)\n"
  "if not ok or type(dump) ~= 'function' then\n"
  "  error('--dump: cajal.dump is not available in this build' ..\n"
  "        (ok and '' or ' (' .. tostring(dump) .. ')'), 0)\n"
  "end\n"
  "local out\n"
  "ok, out = xpcall(dump, function(e)\n"
  "  if type(e) == 'table' then return e end\n"
  "  return debug.traceback(tostring(e), 2)\n"
  "end, stage, path)\n"
  "if not ok then\n"
  "  if type(out) == 'table' then return false, tostring(out) end\n"
  "  return false, tostring(out), true\n"
  "end\n"
  "out = tostring(out)\n"
  "io.write(out, out:sub(-1) == '\\n' and '' or '\\n')\n"
  "return true\n";

static const char cachecode[] =
  "local ok, compile = pcall(require, 'cajal.compile')\n"
  "if not ok or type(compile) ~= 'table' or type(compile.cache_clear) ~= 'function' then\n"
  "  error('--cache-clear: cajal.compile.cache_clear is not available in this build' ..\n"
  "        (ok and '' or ' (' .. tostring(compile) .. ')'), 0)\n"
  "end\n"
  "local msg = compile.cache_clear()\n"
  "if type(msg) == 'string' then print(msg) end\n";

static const char modelscode[] =
  "local ok, compile = pcall(require, 'cajal.compile')\n"
  "if not ok or type(compile) ~= 'table' or type(compile.models) ~= 'function' then\n"
  "  error('--models: cajal.compile.models is not available in this build', 0)\n"
  "end\n"
  "io.write(compile.models())\n";

static int dodump(lua_State *L, const char *stage, const char *path)
{
  int st = luaL_loadbuffer(L, dumpcode, sizeof dumpcode - 1, "=(--dump)");
  if (st == LUA_OK) {
    lua_pushstring(L, stage);
    lua_pushstring(L, path);
    st = cj_host_docall(L, 2, 3);
    if (st == LUA_OK) {                      /* stack: ok, msg, internal */
      if (!lua_toboolean(L, -3)) {
        const char *msg = lua_tostring(L, -2);
        int internal = lua_toboolean(L, -1);
        fprintf(stderr, "%s%s%s\n", internal ? progname : "", internal ? ": " : "",
                msg ? msg : "(no message)");
        fflush(stderr);
        st = LUA_ERRRUN;
      }
      lua_pop(L, 3);
      return st;
    }
  }
  return cj_host_report(L, st, 1);
}

/* Run -e, -l, -W, --dump, --cache-clear and --models in command-line order, up to the
 * script. Returns 0 when one of them failed. */
static int runargs(lua_State *L, char **argv, int limit)
{
  for (int i = 1; i < limit; i++) {
    const char *a = argv[i];
    if (isdumpopt(a)) {
      if (dodump(L, a + 7, argv[i + 1]) != LUA_OK) return 0;
      i++;
    } else if (strcmp(a, "--cache-clear") == 0) {
      if (dostring(L, cachecode, "=(--cache-clear)") != LUA_OK) return 0;
    } else if (strcmp(a, "--models") == 0) {
      if (dostring(L, modelscode, "=(--models)") != LUA_OK) return 0;
    } else if (strcmp(a, "--jupyter") == 0 || strcmp(a, "--prefix") == 0) {
      i++;                                   /* the file or folder that follows */
    } else if (a[0] == '-' && (a[1] == 'e' || a[1] == 'l')) {
      const char *extra = a[2] ? a + 2 : argv[++i];
      int st = a[1] == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
      if (st != LUA_OK) return 0;
    } else if (strcmp(a, "-W") == 0) {
      lua_warning(L, "@on", 0);
    }
  }
  return 1;
}

static int pushargs(lua_State *L)
{
  int n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);
  return n;
}

static int handlescript(lua_State *L, const char *fname, int isstdin)
{
  int st = luaL_loadfile(L, isstdin ? NULL : fname);
  if (st == LUA_OK) {
    int n = pushargs(L);
    st = cj_host_docall(L, n, LUA_MULTRET);
  }
  return cj_host_report(L, st, 1);
}

static void printusage(FILE *f)
{
  fprintf(f, usage, progname);
  fflush(f);
}

/* The body of the program, run protected; pushes true when all went well. */
static int pmain(lua_State *L)
{
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int ok;
  opts o;
  collectargs(argv, &o);
  if (o.bad) {
    fprintf(stderr, "%s: '%s' %s\n", progname, o.bad, o.why);
    printusage(stderr);
    return 0;
  }
  if (o.flags & HAS_HELP) { printusage(stdout); lua_pushboolean(L, 1); return 1; }
  if (o.flags & HAS_NOENV) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_checkversion(L);
  lua_pushcfunction(L, cj_host_openlibs);
  lua_call(L, 0, 0);
  notecoroutines(L);
  lua_pushcfunction(L, help);
  lua_setglobal(L, "help");
  if (o.flags & HAS_V) printversion(L);
  createargtable(L, argv, argc, o.script);
  lua_gc(L, LUA_GCGEN, 0, 0);
  ok = runargs(L, argv, o.script ? o.script : argc);
  if (ok && o.script) ok = handlescript(L, argv[o.script], o.stdinscript) == LUA_OK;
  if (ok && o.install) ok = cj_jupyter_install(o.install == 2, o.prefix) == 0;
  if (ok && o.connfile) ok = cj_jupyter(L, o.connfile) == 0;
  if (o.flags & HAS_I) {        /* after an error too: the state can be inspected */
    cj_repl(L);
  } else if (!ok) {
    return 0;
  } else if (!o.script && !(o.flags & (HAS_E | HAS_V | HAS_ACTION | HAS_KERNEL))) {
    if (isatty(STDIN_FILENO)) {
      printversion(L);
      cj_repl(L);
    } else if (handlescript(L, NULL, 1) != LUA_OK) {
      return 0;
    }
  }
  lua_pushboolean(L, ok);
  return 1;
}

int main(int argc, char **argv)
{
  lua_State *L;
  int st, ok;
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (cj_mpi_init(&argc, &argv) < 0) {   /* started by mpirun: MPI before anything else */
    fprintf(stderr, "%s: %s\n", progname, cj_errmsg());
    return EXIT_FAILURE;
  }
  L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  st = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  cj_host_report(L, st, 1);
  /* an error on one rank must not leave the others waiting in an exchange */
  if (!(st == LUA_OK && ok)) cj_mpi_abort(1);
  lua_close(L);
  cj_mpi_finalize();
  return st == LUA_OK && ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
