-- array.lua — benchmark of cajal's arrays against a plain C loop and numpy
-- (part of `make bench`, called by tests/bench/run.sh).
--
-- Run by hand from the build tree:
--   srcdir=/path/to/source CC=cc ./cajal /path/to/source/tests/bench/array.lua
-- Environment: BENCH_N (elements, default 1e7), BENCH_M (matrix size, default
-- 1000), BENCH_ROUNDS (default 3), BENCH_CPU (the core, default 1), CC
-- (compiler for cloop.c, default cc), PYTHON (default /usr/bin/python3).
--
-- Method: the piece pins itself (and so its peers) to one core with taskset,
-- then runs BENCH_ROUNDS rounds, each the C loop, numpy and cajal one after
-- the other (alternated); a round's figure of an op is its best of 7 runs,
-- and the figures printed are the medians over the rounds.
--
-- Prints "BENCH name value unit" lines:
--   cajal_<op>_ms        best CPU time of one op on BENCH_N doubles, written
--                        into a preallocated array (cj.add(a, b, out), ...)
--   cajal_<op>_alloc_ms  the same op allocating its result (a + b, ...)
--   c_<op>_ms, c_<op>_alloc_ms, numpy_<op>_ms, numpy_<op>_alloc_ms   the peers
--   cajal_vs_c_<op> ratio (preallocated; target <= 1.5), cajal_vs_numpy_<op>[_alloc]
--   cajal_matmul_gflops, numpy_matmul_gflops   BENCH_M x BENCH_M products (wall clock)
-- with op in add (a + b), muladd (a * b + c as two operations), exp (exp(a)),
-- log, log1p, sin, cos, tanh, sigmoid of a (numpy's side: scipy.special.expit),
-- exp32 (exp of a as float32); CAJAL_VMATH=libm measures the scalar libm path;
-- cajal_muladd_fused_ms: a * b + c in one pass (cj.muladd), vs c_muladd_ms;
-- cajal_muladd_locals_alloc_ms: a * b + c of local variables (the product reused).
local cj = require "cajal"

local N = math.tointeger(tonumber(os.getenv("BENCH_N") or "1e7") // 1)
local M = math.tointeger(tonumber(os.getenv("BENCH_M") or "1000") // 1)
local ROUNDS = math.tointeger(tonumber(os.getenv("BENCH_ROUNDS") or "3") // 1)
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local srcdir = os.getenv("srcdir")
local benchdir = srcdir and (srcdir .. "/tests/bench") or here
local B = dofile(here .. "/lib/bench.lua")

-- pinned to one core: run again under taskset (the peers inherit the mask)
if not os.getenv("BENCH_PINNED") and os.execute("command -v taskset >/dev/null 2>&1") then
  local cpu = os.getenv("BENCH_CPU") or "1"
  local ok = os.execute(string.format("BENCH_PINNED=%s taskset -c %s %s %s", B.shq(cpu), B.shq(cpu),
    B.shq(B.cajal_path()), B.shq(arg[0])))
  os.exit(ok and 0 or 1)
end
print(string.format("processor: %s; pinned to core %s; %d rounds, medians", B.cpu_model(),
  os.getenv("BENCH_PINNED") or "(not pinned: no taskset)", ROUNDS))

local results, rounds = {}, {}

local function bench(name, value, unit)
  results[name] = value
  print(string.format("BENCH %s %.2f %s", name, value, unit))
  io.stdout:flush()
end

-- one round's figure; the medians are printed after the last round
local function record(name, value, unit)
  local r = rounds[name]
  if not r then r = { unit = unit }; rounds[name] = r; rounds[#rounds + 1] = name end
  r[#r + 1] = value
end

-- best CPU time of f() over reps runs, in ms (a full collection before each, untimed)
local function best(f, reps)
  local t = math.huge
  for _ = 1, reps do
    collectgarbage()
    local t0 = os.clock()
    f()
    t = math.min(t, os.clock() - t0)
  end
  return t * 1e3
end

local function wallclock()
  local p = io.popen("date +%s.%N")
  local s = p:read("n")
  p:close()
  return s
end

-- the peers: their BENCH lines are one round's figures
local function run(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  for line in p:lines() do
    local name, v, unit = line:match("^BENCH (%S+) (%S+) (.*)$")
    if name and not name:find("matmul") then record(name, tonumber(v), unit)
    elseif name then bench(name, tonumber(v), unit) end
  end
  p:close()
end

local cc = os.getenv("CC") or "cc"
local exe = os.tmpname()
local have_c = os.execute(string.format("%s -O2 -o %s %s/cloop.c -lm", cc, exe, benchdir))
if not have_c then print("(cloop.c did not compile with " .. cc .. ")") end
local python = os.getenv("PYTHON") or "/usr/bin/python3"
local have_numpy = os.execute(python .. " -c 'import numpy' 2>/dev/null")
if not have_numpy then print("(numpy not available: " .. python .. ")") end

-- cajal: the same data as cloop.c and numpy_array.py
local a = cj.range(0, N - 1) / N
local b = 1 - a
local c = cj.full(N, 0.5)
local o = cj.zeros(N)
local ops = {
  { "add", function() cj.add(a, b, o) end, function() return a + b end },
  { "muladd", function() cj.mul(a, b, o); cj.add(o, c, o) end, function() return a * b + c end },
  { "exp", function() cj.exp(a, o) end, function() return cj.exp(a) end },
}
for _, f in ipairs { "log", "log1p", "sin", "cos", "tanh", "sigmoid" } do
  local fn = cj[f]
  ops[#ops + 1] = { f, function() fn(a, o) end, function() return fn(a) end }
end
local a32, o32 = cj.array(a, "float32"), cj.zeros(N, "float32")
ops[#ops + 1] = { "exp32", function() cj.exp(a32, o32) end, function() return cj.exp(a32) end }
local fused = {                                -- a * b + c in one pass: cj.muladd
  "muladd_fused", function() cj.muladd(a, b, c, o) end, function() return cj.muladd(a, b, c) end,
}

for round = 1, ROUNDS do
  if have_c then run(string.format("%s %d", exe, N)) end
  if have_numpy then
    run(string.format("%s %s/numpy_array.py %d %d", python, benchdir, N, round == 1 and M or 0))
  end
  for _, op in ipairs(ops) do
    local name = op[1]
    record("cajal_" .. name .. "_ms", best(op[2], 7), "ms")
    record("cajal_" .. name .. "_alloc_ms", best(op[3], 7), "ms")
  end
  record("cajal_muladd_fused_ms", best(fused[2], 7), "ms")
  record("cajal_muladd_fused_alloc_ms", best(fused[3], 7), "ms")
  -- a * b + c with the operands in local variables: the product is reused for
  -- the sum (one new array, as numpy's elision); the closures above read
  -- upvalues, where cajal cannot prove the product dead and allocates twice
  record("cajal_muladd_locals_alloc_ms", best(function() local a, b, c = a, b, c; return a * b + c end, 7), "ms")
end
os.remove(exe)
for _, name in ipairs(rounds) do bench(name, B.median(rounds[name]), rounds[name].unit) end

if results.numpy_muladd_alloc_ms then
  bench("cajal_vs_numpy_muladd_locals_alloc", results.cajal_muladd_locals_alloc_ms / results.numpy_muladd_alloc_ms, "x")
end
if results.c_muladd_ms then
  bench("cajal_vs_c_muladd_fused", results.cajal_muladd_fused_ms / results.c_muladd_ms, "x")
end
for _, op in ipairs(ops) do
  local name = op[1]
  local cajal, calloc = results["cajal_" .. name .. "_ms"], results["cajal_" .. name .. "_alloc_ms"]
  if results["c_" .. name .. "_ms"] then
    bench("cajal_vs_c_" .. name, cajal / results["c_" .. name .. "_ms"], "x")
  end
  if results["numpy_" .. name .. "_ms"] then
    bench("cajal_vs_numpy_" .. name, cajal / results["numpy_" .. name .. "_ms"], "x")
    bench("cajal_vs_numpy_" .. name .. "_alloc", calloc / results["numpy_" .. name .. "_alloc_ms"], "x")
  end
end
a, b, c, o, a32, o32 = nil, nil, nil, nil, nil, nil
collectgarbage()

-- matrix product: wall clock over enough repetitions to hide the clock's cost
local x = cj.sin(cj.range(M * M)):reshape(M, M)
local y = cj.cos(cj.range(M * M)):reshape(M, M)
local z = cj.zeros(M, M)
cj.matmul(x, y, z)                             -- warm up (threads, caches)
local overhead = -(wallclock() - wallclock())  -- the clock's own cost
local reps, t = 1, 0
while true do                                  -- a batch long enough for the clock
  local t0 = wallclock()
  for _ = 1, reps do cj.matmul(x, y, z) end
  t = wallclock() - t0 - overhead
  if t > 0.25 then break end
  reps = reps * 2
end
for _ = 1, 4 do                                -- best of 5 batches (a shared machine)
  local t0 = wallclock()
  for _ = 1, reps do cj.matmul(x, y, z) end
  t = math.min(t, wallclock() - t0 - overhead)
end
bench("cajal_matmul_gflops", 2 * M ^ 3 * reps / t / 1e9, "GFLOP/s")
if results.numpy_matmul_gflops then
  bench("cajal_vs_numpy_matmul", results.cajal_matmul_gflops / results.numpy_matmul_gflops, "x")
end
