-- tests/bench/hd.lua — `make bench`, structured representations: hypervector
-- bind, bundle and similarity at d = 10 000 for each model (bsc, map, hrr,
-- fhrr), and capsule routing (Procedure 1, 3 iterations) for the CapsNet
-- MNIST shape [1152 -> 10 x 16], side by side with the same operations in
-- numpy (tests/bench/numpy_hd.py, Debian's /usr/bin/python3).
--
--   cajal tests/bench/hd.lua            (run.sh calls it this way)
--   cajal tests/bench/hd.lua --child OP one of cajal's measurements (OP: bsc_bind1, ...)
--
-- Sizes: bind1 one pair of single vectors; bind 100 pairs in one call
-- (outputs of 8 MB for map and hrr, 16 MB for fhrr: with 32 MB outputs,
-- glibc trims the heap between calls because Lua frees results later than
-- numpy's reference counting does, and every call of cajal's then pays
-- fresh page faults: 130 ms instead of 4 ms for fhrr on the machine this
-- was written on, a virtual machine with costly faults);
-- bundle 500 vectors into one; sim 100 queries against 500 vectors
-- (50 000 similarities); route_b1 one example, route_b32 a batch of 32.
-- Each figure is the median CPU time of one call, calls timed in groups
-- of at least 2 ms (at least 5 groups and 0.3 s in all, after a full
-- collection of garbage), each operation in a fresh process; cajal and
-- numpy run in alternation, operation by operation, BENCH_ROUNDS (default
-- 3) rounds, pinned to one core with taskset -c 1 when it exists and with
-- OPENBLAS_NUM_THREADS=1; the tables report the median over rounds
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
-- child: one measurement of cajal's (a fresh process per operation, so
-- that no operation inherits the heap left by another)
---------------------------------------------------------------------------
local function child(op)
  local cj = require "cajal"
  local hd = cj.hd
  local D, NBIND, NBUNDLE, NQ, NMEM = 10000, 100, 500, 100, 500
  -- the median CPU time of one call, calls timed in groups of k (k such
  -- that a group takes at least 2 ms), at least 5 groups and 0.3 s
  local function time(f)
    collectgarbage()
    local k, t = 1, 0
    while true do
      local t0 = os.clock()
      for _ = 1, k do f() end
      t = os.clock() - t0
      if t >= 2e-3 then break end
      k = k * 2
    end
    local times, total = {}, 0
    while (#times < 5 or total < 0.3) and #times < 200 do
      local t0 = os.clock()
      for _ = 1, k do f() end
      t = os.clock() - t0
      times[#times + 1] = t / k
      total = total + t
    end
    print(format("T %s %.9g", op, median(times)))
  end
  local m, what = op:match("^(%a+)_(%w+)$")
  if m == "route" then
    local batch = tonumber(what:match("b(%d+)"))
    local uh = cj.rng(6):normal(0, 0.05, batch, 1152, 10, 16)
    if batch == 1 then uh = uh[1]:copy() end
    return time(function() return cj.capsule.route(uh, 3) end)
  end
  if what == "bind1" or what == "bind" then
    local A, B = hd.random(NBIND, D, m, { seed = 1 }), hd.random(NBIND, D, m, { seed = 2 })
    if what == "bind1" then A, B = A[1], B[1] end
    return time(function() return hd.bind(A, B) end)
  elseif what == "bundle" then
    local X = hd.random(NBUNDLE, D, m, { seed = 3 })
    return time(function() return hd.bundle(X) end)
  end
  local Q, M = hd.random(NQ, D, m, { seed = 4 }), hd.random(NMEM, D, m, { seed = 5 })
  return time(function() return hd.similarity(Q, M) end)
end

if arg and arg[1] == "--child" then
  child(arg[2])
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

local OPS = {
  { "bsc_bind1", "bind, 1 pair" }, { "bsc_bind", "bind, 100 pairs" }, { "bsc_bundle", "bundle of 500" },
  { "bsc_sim", "similarity 100 x 500" },
  { "map_bind1", "bind, 1 pair" }, { "map_bind", "bind, 100 pairs" }, { "map_bundle", "bundle of 500" },
  { "map_sim", "similarity 100 x 500" },
  { "hrr_bind1", "bind, 1 pair" }, { "hrr_bind", "bind, 100 pairs" }, { "hrr_bundle", "bundle of 500" },
  { "hrr_sim", "similarity 100 x 500" },
  { "fhrr_bind1", "bind, 1 pair" }, { "fhrr_bind", "bind, 100 pairs" }, { "fhrr_bundle", "bundle of 500" },
  { "fhrr_sim", "similarity 100 x 500" },
  { "route_b1", "routing 1152->10x16, 3 it." }, { "route_b32", "routing, batch of 32, 3 it." },
}
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
  for _, op in ipairs(OPS) do
    collect(format("%s%s'%s' '%s' --child %s", env, pin, cajal_path(), script_path(), op[1]), cajal)
    if havenumpy then collect(format("%s%s%s '%s/numpy_hd.py' %s", env, pin, python, here, op[1]), numpy) end
  end
end
if not havenumpy then print("(numpy not available: " .. python .. "; cajal figures only)") end

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
