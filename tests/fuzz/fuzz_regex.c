/*
 * fuzz_regex.c — the regex binding (cj.regex, vm/bind/lregex.c over PCRE2)
 * through Lua: the input is op byte, pattern, NUL, subject (and for gsub
 * a replacement after a second NUL). Errors must be messages; a Lua
 * internal error is a bug.
 */
#include "fuzzlua.h"

static const char setup[] =
  "local cj = require 'cajal'\n"
  "local R = cj.regex\n"
  "local OPS = { 'match', 'find', 'exec', 'findall', 'split', 'gsub', 'gmatch', 'compile' }\n"
  "return function(s)\n"
  "  if #s < 1 then return end\n"
  "  local op = OPS[s:byte(1) % #OPS + 1]\n"
  "  local pat, subj, repl = s:sub(2):match('^([^%z]*)%z?([^%z]*)%z?(.*)$')\n"
  "  local init = (s:byte(1) // 8) % 4 + 1\n"
  "  local ok, e = pcall(function()\n"
  "    if op == 'gsub' then return R.gsub(subj, pat, repl, 100)\n"
  "    elseif op == 'gmatch' then local n = 0; for _ in R.gmatch(subj, pat) do n = n + 1; if n > 1000 then break end end\n"
  "    elseif op == 'compile' then local r = R.compile(pat, ({ '', 'i', 'm', 'sx' })[init]); return r:findall(subj), tostring(r)\n"
  "    elseif op == 'split' then return R.split(subj, pat, init)\n"
  "    else return R[op](subj, pat, init) end\n"
  "  end)\n"
  "  if not ok and (tostring(e):match('^[^\\n]*'):find('attempt to ') or tostring(e):match('^[^\\n]*'):find('%.lua:%d')) then\n"
  "    error('internal error: ' .. tostring(e), 0)\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_call(fuzz_lua(setup), data, size);
  return 0;
}
