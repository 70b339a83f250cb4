/*
 * fuzzlua.h — what the libFuzzer harnesses of tests/fuzz share: a Lua
 * state set up as the cajal program sets it up (cj_host_openlibs: the
 * built-in Lua sources, lpeg, cajal.core), with a line hook that feeds
 * libFuzzer's extra counters, so the fuzzer sees coverage of the Lua code
 * (the compiler's front end) as well as of the instrumented C.
 */
#ifndef CJ_FUZZLUA_H
#define CJ_FUZZLUA_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

/* The state, made on first use. setup is a Lua chunk returning the
 * function each input is given to (as a string); its reference is kept. */
lua_State *fuzz_lua(const char *setup);
/* Call the function with data; a Lua error out of it means the harness
 * found a bug (an internal error where a message was due): it is printed
 * and the process aborts, which libFuzzer reports as a crash. */
void fuzz_call(lua_State *L, const uint8_t *data, size_t size);

#endif
