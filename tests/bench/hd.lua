-- tests/bench/hd.lua — `make bench`, structured representations: hypervector
-- bind, bundle and similarity at d = 10 000 for each model (bsc, map, hrr,
-- fhrr), and capsule routing (Procedure 1, 3 iterations) for the CapsNet
-- MNIST shape [1152 -> 10 x 16], side by side with the same operations in
-- numpy (tests/bench/numpy_hd.py, Debian's /usr/bin/python3).
--
--   cajal tests/bench/hd.lua            (run.sh calls it this way)
--   cajal tests/bench/hd.lua --child    one round of cajal's measurements
--
-- Sizes: bind1 one pair of single vectors; bind 200 pairs in one call;
-- bundle 500 vectors into one; sim 100 queries against 500 vectors
-- (50 000 similarities); route_b1 one example, route_b32 a batch of 32.
-- Each figure is the median CPU time of one call (at least 5 calls and
-- 0.3 s); cajal and numpy run in alternation, BENCH_ROUNDS (default 3)
-- rounds each, pinned to one core with taskset -c 1 when it exists and
-- with OPENBLAS_NUM_THREADS=1; the tables report the median over rounds
-- and the ratio numpy / cajal (above 1: cajal is faster).
--
-- Output: "BENCH hd_<op>_cajal_us", "BENCH hd_<op>_numpy_us",
-- "BENCH hd_<op>_speedup" lines and a table.
local format = string.format

local function median(t)
  local s = {}
  for k, v in ipairs(t) do s[k] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

---------------------------------------------------------------------------
-- child: one round of cajal's measurements
---------------------------------------------------------------------------
local function child()
  local cj = require "cajal"
  local hd = cj.hd
  local D, NBIND, NBUNDLE, NQ, NMEM = 10000, 200, 500, 100, 500
  local function time(name, f)
    f()
    local times, total = {}, 0
    while (#times < 5 or total < 0.3) and #times < 200 do
      local t0 = os.clock()
      f()
      local t = os.clock() - t0
      times[#times + 1] = t
      total = total + t
    end
    print(format("T %s %.9g", name, median(times)))
    io.stdout:flush()
  end
  for _, m in ipairs({ "bsc", "map", "hrr", "fhrr" }) do
    local A, B = hd.random(NBIND, D, m, { seed = 1 }), hd.random(NBIND, D, m, { seed = 2 })
    local a1, b1 = A[1], B[1]
    time(m .. "_bind1", function() return hd.bind(a1, b1) end)
    time(m .. "_bind", function() return hd.bind(A, B) end)
    local X = hd.random(NBUNDLE, D, m, { seed = 3 })
    time(m .. "_bundle", function() return hd.bundle(X) end)
    local Q, M = hd.random(NQ, D, m, { seed = 4 }), hd.random(NMEM, D, m, { seed = 5 })
    time(m .. "_sim", function() return hd.similarity(Q, M) end)
  end
  for _, batch in ipairs({ 1, 32 }) do
    local uh = cj.rng(6):normal(0, 0.05, batch, 1152, 10, 16)
    if batch == 1 then uh = uh[1]:copy() end
    time("route_b" .. batch, function() return cj.capsule.route(uh, 3) end)
  end
end

if arg and arg[1] == "--child" then
  child()
  return
end

---------------------------------------------------------------------------
-- driver: alternate cajal and numpy, report medians and ratios
---------------------------------------------------------------------------
local function script_path()
  local p = arg and arg[0] or "hd.lua"
  if p:sub(1, 1) ~= "/" then p = (os.getenv("PWD") or ".") .. "/" .. p end
  return p
end
local function cajal_path()
  local c = os.getenv("CAJAL") or (arg and arg[-1]) or "cajal"
  if c:find("/") and c:sub(1, 1) ~= "/" then c = (os.getenv("PWD") or ".") .. "/" .. c end
  return c
end

local here = script_path():match("^(.*)/[^/]*$")
local python = os.getenv("PYTHON") or "/usr/bin/python3"
local rounds = math.tointeger(tonumber(os.getenv("BENCH_ROUNDS") or "3")) or 3
local pin = os.execute("command -v taskset >/dev/null 2>&1") and "taskset -c 1 " or ""
local env = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "

local function collect(cmd, into)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local n = 0
  for name, t in out:gmatch("T (%S+) (%S+)") do
    into[name] = into[name] or {}
    table.insert(into[name], tonumber(t))
    n = n + 1
  end
  if n == 0 then io.stderr:write("hd bench: no figures from: ", cmd, "\n", out, "\n") end
  return n > 0
end

local cpu = "?"
local f = io.open("/proc/cpuinfo")
if f then
  cpu = f:read("a"):match("model name%s*:%s*([^\n]+)") or "?"
  f:close()
end
print(format("processor: %s; %d rounds, %s", cpu, rounds, pin ~= "" and "pinned to core 1 (taskset -c 1)" or "not pinned (no taskset)"))

local cajal, numpy = {}, {}
local havenumpy = os.execute(python .. " -c 'import numpy' 2>/dev/null")
for _ = 1, rounds do
  collect(format("%s%s'%s' '%s' --child", env, pin, cajal_path(), script_path()), cajal)
  if havenumpy then collect(format("%s%s%s '%s/numpy_hd.py'", env, pin, python, here), numpy) end
end
if not havenumpy then print("(numpy not available: " .. python .. "; cajal figures only)") end

local OPS = {
  { "bsc_bind1", "bind, 1 pair" }, { "bsc_bind", "bind, 200 pairs" }, { "bsc_bundle", "bundle of 500" },
  { "bsc_sim", "similarity 100 x 500" },
  { "map_bind1", "bind, 1 pair" }, { "map_bind", "bind, 200 pairs" }, { "map_bundle", "bundle of 500" },
  { "map_sim", "similarity 100 x 500" },
  { "hrr_bind1", "bind, 1 pair" }, { "hrr_bind", "bind, 200 pairs" }, { "hrr_bundle", "bundle of 500" },
  { "hrr_sim", "similarity 100 x 500" },
  { "fhrr_bind1", "bind, 1 pair" }, { "fhrr_bind", "bind, 200 pairs" }, { "fhrr_bundle", "bundle of 500" },
  { "fhrr_sim", "similarity 100 x 500" },
  { "route_b1", "routing 1152->10x16, 3 it." }, { "route_b32", "routing, batch of 32, 3 it." },
}
print(format("\n%-12s %-28s %12s %12s %9s", "op", "what (d = 10 000)", "cajal us", "numpy us", "speedup"))
for _, op in ipairs(OPS) do
  local c, n = median(cajal[op[1]] or {}), median(numpy[op[1]] or {})
  if c then
    print(format("BENCH hd_%s_cajal_us %.2f us", op[1], c * 1e6))
    if n then
      print(format("BENCH hd_%s_numpy_us %.2f us", op[1], n * 1e6))
      print(format("BENCH hd_%s_speedup %.2f x", op[1], n / c))
    end
    print(format("%-12s %-28s %12.2f %12s %9s", op[1], op[2], c * 1e6, n and format("%.2f", n * 1e6) or "-",
      n and format("%.2f", n / c) or "-"))
  end
end
local r1 = median(cajal.route_b1 or {})
if r1 then print(format("BENCH hd_route_iterations_per_s %.0f it/s", 3 / r1)) end
