/*
 * host.h — the pieces of vm/host shared by main.c, repl.c, searcher.c and the
 * generated embedded.c.
 */
#ifndef CJ_HOST_H
#define CJ_HOST_H

#include <stddef.h>

typedef struct cj_embedded {
  const char *name;          /* module name ("cajal.plot") or file ("models/lif.cajal") */
  const char *path;          /* source path in the tree ("stdlib/cajal/plot.lua") */
  const char *data;
  size_t len;
} cj_embedded;

extern const cj_embedded cj_embedded_files[];

#ifdef LUA_VERSION_NUM
/* Preload lpeg, re, cajal.core; install the searcher for cajal's Lua sources
 * (source tree, install tree, then the copies built into the binary).
 * Runs in protected mode: call through lua_pcall / lua_cpcall style. */
int cj_host_openlibs(lua_State *L);
#endif

#endif
