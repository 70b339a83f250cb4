/*
 * fuzz_save.c — the save-file reader: the bytes as a file of net:save,
 * their checksum recomputed first (the fuzzer would otherwise only ever
 * test the checksum), parsed by cj_savefile_parse, the model block by
 * network.unpackmeta, and when that names a small model, the network
 * restored from the state and run a few steps on the interpreter. Errors
 * must be messages; an internal Lua error is a bug.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzlua.h"

static const char setup[] =
  "local core = require 'cajal.core'\n"
  "local network = require 'cajal.network'\n"
  "local compile = require 'cajal.compile'\n"
  "local irs, nirs = {}, 0\n"
  "local function internal(e)\n"
  "  e = tostring(e):match('^[^\\n]*')\n"
  "  return e:find('%.lua:%d') or e:find('attempt to ')\n"
  "end\n"
  "return function(bytes)\n"
  "  local sf, meta = core.savefile_parse(bytes, 'fuzz.net')\n"
  "  if not sf then return end\n"
  "  local m = network.unpackmeta(meta)\n"
  "  if not m or #m.source > 20000 then return end\n"
  "  local ir = irs[meta]\n"
  "  if ir == nil then\n"
  "    local o = m.opts or {}\n"
  "    local ok, r = pcall(compile.build, m.source, m.filename, { jit = false, seed = o.seed, dt = o.dt,\n"
  "                                                               params = o.params, arrays = o.arrays })\n"
  "    if ok then\n"
  "      local n = 0\n"
  "      for _, p in ipairs(r.populations) do n = n + p.n end\n"
  "      if n > 10000 then r = false end\n"
  "    else r = false end\n"
  "    if nirs > 32 then irs, nirs = {}, 0 end\n"
  "    irs[meta], nirs, ir = r, nirs + 1, r\n"
  "  end\n"
  "  if not ir then return end\n"
  "  local ok, h = pcall(core.net_restore, ir, sf)\n"
  "  if not ok then\n"
  "    if internal(h) then error('internal error: ' .. tostring(h), 0) end\n"
  "    return\n"
  "  end\n"
  "  local okr, e = pcall(h.run, h, 10, false)\n"
  "  if not okr and internal(e) then error('internal error: ' .. tostring(e), 0) end\n"
  "end\n";

static uint64_t fnv(const uint8_t *b, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uint8_t *buf;
  static size_t cap;
  if (size == 0) { fuzz_call(fuzz_lua(setup), (const uint8_t *)"", 0); return 0; }
  if (size > cap) {
    uint8_t *nb = realloc(buf, size);
    if (!nb) return 0;
    buf = nb; cap = size;
  }
  memcpy(buf, data, size);
  if (size >= 40) {
    uint64_t h = fnv(buf, size - 8);
    memcpy(buf + size - 8, &h, 8);
  }
  fuzz_call(fuzz_lua(setup), buf, size);
  return 0;
}
