/*
 * test_faultalloc.c — fault injection: cajal's start-up with the N-th
 * allocation failing, for N = 0, 1, 2, ... until start-up no longer reaches
 * N allocations (Lua's ltests.c and SQLite's fault tests do the same).
 *
 * One counting allocator serves both the Lua state (lua_newstate) and
 * libcajal (cj_set_allocator), so failures hit C-side allocations too. Two
 * modes:
 *   persistent  allocation N and every later one fail (memory runs out);
 *   one-shot    only allocation N fails (Lua retries after an emergency
 *               collection; libcajal must unwind and report).
 * Each run does what `cajal -e` does at start-up (cj_host_openlibs under
 * lua_pcall), then require "cajal", require "re" and a small computation
 * with arrays and units. A run passes when it either completes with the
 * right results or returns an error status with a message; a crash, an
 * ASan report or a leak (LeakSanitizer at exit) fails the whole program.
 * Five checks: start-up without injection, libcajal allocating through the
 * counter, each mode's sweep, and the same allocation count every time
 * (start-up is deterministic). Output ends with
 * "N passed, N failed" (tests/run.sh counts it).
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cj.h"
#include "host.h"

typedef struct counter {
  long count;        /* allocations so far */
  long failat;       /* index of the first allocation to fail */
  int persistent;    /* fail every allocation from failat on */
  int injected;      /* an allocation was refused */
  long cside;        /* allocations asked by libcajal (cj_malloc & co.) */
} counter;

static void *countalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  counter *c = ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  /* Lua assumes shrinking never fails; only new blocks and growth count. */
  if (!ptr || nsize > osize) {
    long k = c->count++;
    if (k == c->failat || (c->persistent && k > c->failat)) {
      c->injected = 1;
      return NULL;
    }
  }
  return realloc(ptr, nsize);
}

/* libcajal's allocator: the same counter, noting the C-side share. */
static void *cjalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  counter *c = ud;
  if (nsize > 0 && (!ptr || nsize > osize)) c->cside++;
  return countalloc(ud, ptr, osize, nsize);
}

static const char script[] =
  "local cj = require 'cajal'\n"
  "local re = require 're'\n"
  "local a = cj.ones(40, 5)\n"
  "local b = a:copy()\n"
  "b:fill(2)\n"
  "assert(b:numel() == 200 and b[3][2] == 2 and a[1][1] == 1)\n"
  "assert(#tostring(b) > 0)\n"
  "assert((a + b):sum() == 600)\n"
  "local m = a:t():matmul(b)\n"
  "assert(m.shape[1] == 5 and m.shape[2] == 5 and m[5][5] == 80)\n"
  "local rx = cj.regex.compile('(?<v>[a-z]+) = (\\\\d+)')\n"
  "local name, num = rx:match('x = 12')\n"
  "assert(name == 'x' and num == '12')\n"
  "cj.seed(3)\n"
  "assert(#cj.choice(10, 4, false) == 4)\n"
  "local t = 20 * cj.ms\n"
  "assert(tostring(t) == '20 ms')\n"
  "assert(re.match('v = 3 mV', \"{[a-z]+} ' = '\") == 'v')\n"
  "return 'ok'\n";

/* The start-up under test (a lua_CFunction, run by lua_pcall). */
static int startup(lua_State *L)
{
  lua_pushcfunction(L, cj_host_openlibs);
  lua_call(L, 0, 0);
  if (luaL_loadbuffer(L, script, sizeof script - 1, "=faultalloc") != LUA_OK)
    return lua_error(L);
  lua_call(L, 0, 1);
  return 1;
}

typedef struct outcome {
  int ok;            /* the run completed with the right result */
  int reported;      /* the run failed with an error message */
  int injected;
  long allocs;
  long cside;
  char msg[200];
} outcome;

static outcome run(long failat, int persistent)
{
  counter c = { 0, failat, persistent, 0, 0 };
  outcome o;
  lua_State *L;
  memset(&o, 0, sizeof o);
  cj_set_allocator(cjalloc, &c);
  L = lua_newstate(countalloc, &c);
  if (!L) {
    o.reported = 1;
    snprintf(o.msg, sizeof o.msg, "cannot create state");
  } else {
    int st;
    lua_pushcfunction(L, startup);
    st = lua_pcall(L, 0, 1, 0);
    if (st == LUA_OK) {
      const char *r = lua_tostring(L, -1);
      o.ok = r && strcmp(r, "ok") == 0;
      if (!o.ok) snprintf(o.msg, sizeof o.msg, "wrong result");
    } else {
      const char *m = lua_tostring(L, -1);
      o.reported = m && *m;
      snprintf(o.msg, sizeof o.msg, "%s", m ? m : "(no message)");
    }
    lua_close(L);
  }
  cj_set_allocator(NULL, NULL);
  o.injected = c.injected;
  o.allocs = c.count;
  o.cside = c.cside;
  return o;
}

/* Fail at N = 0, 1, ... until a run never reaches N. Returns the number of
 * bad runs (0: the mode passes). */
static int sweep(int persistent, long *limit)
{
  const char *mode = persistent ? "persistent" : "one-shot";
  int bad = 0, errors = 0, recovered = 0;
  for (long n = 0;; n++) {
    outcome o = run(n, persistent);
    if (!o.injected) {
      if (!o.ok) {
        printf("FAIL %s: start-up without injected failure: %s\n", mode, o.msg);
        bad++;
      }
      *limit = o.allocs;
      break;
    }
    if (o.ok) recovered++;
    else if (o.reported) errors++;
    else {
      printf("FAIL %s N=%ld: no error reported (%s)\n", mode, n, o.msg);
      bad++;
    }
  }
  printf("%s: %ld allocations in start-up; %d runs reported an error, %d recovered, %d bad\n",
         mode, *limit, errors, recovered, bad);
  return bad;
}

int main(void)
{
  int passed = 0, failed = 0;
  long limit1 = 0, limit2 = 0;
  outcome base = run(-1, 0);
  if (!base.ok) {
    printf("FAIL start-up without fault injection: %s\n", base.msg);
    printf("0 passed, 1 failed\n");
    return 1;
  }
  passed++;
  printf("start-up: %ld allocations, %ld of them by libcajal\n", base.allocs, base.cside);
  if (base.cside > 0) {
    passed++;
  } else {
    printf("FAIL no allocation went through libcajal's allocator\n");
    failed++;
  }
  if (sweep(1, &limit1) == 0) passed++; else failed++;
  if (sweep(0, &limit2) == 0) passed++; else failed++;
  if (limit1 == base.allocs && limit2 == base.allocs) {
    passed++;
  } else {
    printf("FAIL allocation count differs between runs (%ld, %ld, %ld)\n",
           base.allocs, limit1, limit2);
    failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
