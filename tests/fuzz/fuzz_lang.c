/*
 * fuzz_lang.c — the network language's front end: model text -> AST ->
 * checked IR -> C (compile.build, through the embedded Lua), and, for a
 * model small enough, its network built and run a few steps on the
 * interpreter. A bug is a crash or sanitizer report, or an error that is
 * not a located message of the compiler (an internal Lua error, a
 * traceback), or model text in the generated C.
 */
#include "fuzzlua.h"

static const char setup[] =
  "local compile = require 'cajal.compile'\n"
  "local core = require 'cajal.core'\n"
  "-- the first line of a message (later ones quote the model)\n"
  "local function first(e) return (tostring(e):match('^[^\\n]*')) end\n"
  "local function internal(e)\n"
  "  e = first(e)\n"
  "  return e:find('%.lua:%d') or e:find('attempt to ') or e:find('stack overflow')\n"
  "end\n"
  "return function(src)\n"
  "  local ok, ir = pcall(compile.build, src, 'fuzz.cajal', { jit = true })\n"
  "  if not ok then\n"
  "    if not first(ir):find('^fuzz%.cajal:%d+:%d+: ') then error('not a located error: ' .. tostring(ir), 0) end\n"
  "    return\n"
  "  end\n"
  "  local c = ir.c_source or ''\n"
  "  for w in src:gmatch('[%a_][%w_]*') do\n"
  "    if #w >= 24 and c:find(w, 1, true) then error('model text in the C: ' .. w, 0) end\n"
  "  end\n"
  "  local n, syn = 0, 0\n"
  "  for _, p in ipairs(ir.populations or {}) do n = n + (p.n or 0) end\n"
  "  if n > 2000 or #(ir.projections or {}) > 8 then return end\n"
  "  for _, m in ipairs(ir.monitors or {}) do\n"
  "    if m.file and m.file ~= '' then return end   -- it would write files\n"
  "  end\n"
  "  local okn, h = pcall(core.net_new, ir)\n"
  "  if not okn then\n"
  "    if internal(h) then error('internal error: ' .. tostring(h), 0) end\n"
  "    return\n"
  "  end\n"
  "  local okr, e = pcall(h.run, h, 20, false)\n"
  "  if not okr and internal(e) then error('internal error: ' .. tostring(e), 0) end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_call(fuzz_lua(setup), data, size);
  return 0;
}
