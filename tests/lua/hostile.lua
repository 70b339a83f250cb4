-- tests/lua/hostile.lua — the hostile-model corpus (issue 13): models
-- whose names, strings, numbers and comments try to reach the generated C
-- or the runtime, and huge or deep inputs. Each case of tests/hostile has
-- its expected outcome in tests/hostile/EXPECTED ("ok", or "error TEXT");
-- the huge and deep ones are generated here. Every error must be located
-- (file:line:col) and none may be an internal one (a Lua error of the
-- compiler, a traceback, "stack overflow"); every model that compiles must
-- leave none of its text in the C, and must run.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local compile = require "cajal.compile"

local format, rep, concat = string.format, string.rep, table.concat
local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local dir = srcdir .. "/tests/hostile"

local readfile = T.readfile

local expected, order = {}, {}
for line in readfile(dir .. "/EXPECTED"):gmatch("[^\n]+") do
  if not line:find("^#") then
    local case, what, text = line:match("^(%S+) (%S+) ?(.*)$")
    assert(case and (what == "ok" or what == "error"), "EXPECTED: bad line " .. line)
    expected[case] = { what = what, text = text }
    order[#order + 1] = case
  end
end

-- what every failure must look like
local function wellformed(name, path, err)
  assert(err:sub(1, #path + 1) == path .. ":", name .. ": the message does not start with the file: " .. err)
  assert(err:find("^[^\n]-:%d+:%d+: "), name .. ": the message has no line:col: " .. err)
  for _, bad in ipairs({ "stack traceback", "%.lua:%d", "stack overflow", "attempt to ", "internal" }) do
    assert(not err:find(bad), name .. ": an internal error: " .. err)
  end
end

-- what every model that compiles must satisfy
local function clean(name, ir, src)
  local c = ir.c_source or ""
  assert(not c:lower():find("pwned"), name .. ": model text in the generated C")
  for word in src:gmatch("[%a_][%w_]*") do
    if #word > 64 then assert(not c:find(word, 1, true), name .. ": a long name of the model in the C") end
  end
end

local function runs(name, src, backend)
  if not src:find("population") or src:find('%f[%w]to%s*"') then return end   -- nothing to run, or it writes files
  local ok, net = pcall(cj.network, src, { progress = false, seed = 1, backend = backend })
  assert(ok, name .. ": it compiles but does not build: " .. tostring(net))
  net:run(0.001)
end

local files = {}
do
  local p = assert(io.popen('ls -1 "' .. dir .. '"'))
  for f in p:lines() do
    local case = f:match("^(.*)%.cajal$")
    if case then files[#files + 1] = case end
  end
  p:close()
end

T.test("every case has an expected outcome and every outcome a case", function()
  assert(#files >= 40, #files)
  for _, case in ipairs(files) do assert(expected[case], case .. ".cajal has no line in EXPECTED") end
  for _, case in ipairs(order) do
    assert(io.open(dir .. "/" .. case .. ".cajal"), "EXPECTED names a missing case " .. case)
  end
end)

for _, case in ipairs(order) do
  T.test("hostile/" .. case, function()
    local path = dir .. "/" .. case .. ".cajal"
    local src = readfile(path)
    local ok, ir = pcall(compile.build, src, path, {})
    local want = expected[case]
    if want.what == "ok" then
      assert(ok, case .. ": expected to compile, got: " .. tostring(ir))
      clean(case, ir, src)
      runs(case, src)
    else
      assert(not ok, case .. ": expected an error containing '" .. want.text .. "', it compiled")
      local err = tostring(ir)
      wellformed(case, path, err)
      assert(err:find(want.text, 1, true), case .. ": expected '" .. want.text .. "', got: " .. err)
    end
  end)
end

-- Generated: too big to keep as files.
local LIF = "neuron lif {\n  parameters { tau = 10 ms }\n  state { v = 0 mV }\n  equations { dv/dt = -v / tau }\n}\n"
local GENERATED = {
  { "a 10 MB comment", function() return "#" .. rep("x", 10 * 2^20) .. "\n" .. LIF .. "population P = lif(4)\n" end, "ok" },
  { "a name of 100000 characters", function()
      local nm = "P" .. rep("q", 100000)
      return LIF .. format("population %s = lif(4)\nrecord v of %s\n", nm, nm)
    end, "ok" },
  { "a sum of 20001 terms", function()
      return format("neuron n {\n  state { v = 0 mV }\n  equations { dv/dt = -(%s) / (10 ms) / 20001 }\n}\n"
                    .. "population P = n(4)\n", rep("v + ", 20000) .. "v")
    end, "expression nested too deeply" },
  { "a chain of 15000 definitions written last-first", function()
      local t = {}
      for k = 15000, 1, -1 do t[#t + 1] = format("    d%d = d%d + 1 mV", k, k - 1) end
      return format("neuron n {\n  state { v = 0 mV }\n  equations {\n    dv/dt = -d15000 / (10 ms)\n%s\n"
                    .. "    d0 = v\n  }\n}\npopulation P = n(4)\n", concat(t, "\n"))
    end, "expression nested too deeply" },
  { "3000 populations", function()
      local t = { LIF }
      for k = 1, 3000 do t[#t + 1] = format("population P%d = lif(1)\n", k) end
      return concat(t)
    end, "ok" },
  { "100000 semicolons", function() return LIF .. rep(";", 100000) .. "\npopulation P = lif(4)\n" end,
    "expected a statement near ';'" },
  { "a 1 MB file name", function()
      return LIF .. format('population P = lif(4)\nrecord v of P to "%s.npy"\n', rep("a", 2^20))
    end, "ok" },
  { "100000 nested unary minus", function()
      return format("neuron n {\n  state { v = 0 mV }\n  equations { dv/dt = %sv / (10 ms) }\n}\npopulation P = n(4)\n",
                    rep("- ", 100000))
    end, "nested too deeply" },
}

for _, g in ipairs(GENERATED) do
  T.test("generated: " .. g[1], function()
    local src = g[2]()
    local path = "generated.cajal"
    local t0 = os.clock()
    local ok, ir = pcall(compile.build, src, path, { jit = true })
    local secs = os.clock() - t0
    print(format("  %-48s %6.2f s", g[1], secs))
    assert(secs < 30, format("%s took %.1f s", g[1], secs))
    if g[3] == "ok" then
      assert(ok, g[1] .. ": " .. tostring(ir):sub(1, 300))
      clean(g[1], ir, src)
      runs(g[1], src, "interp")                -- (the C compiler's time on huge C is not ours)
    else
      assert(not ok, g[1] .. ": compiled")
      local err = tostring(ir)
      wellformed(g[1], path, err:sub(1, 2000))
      assert(err:find(g[3], 1, true), g[1] .. ": " .. err:sub(1, 300))
    end
  end)
end

T.done()
