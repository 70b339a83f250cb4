-- boltzmann.lua — benchmark of cj.boltzmann against its peers (part of
-- `make bench`; BENCH_ONLY=boltzmann make bench runs it alone):
--   RBM training throughput (samples/s) at 64-64 (8x8 bars and stripes) and
--   784-500 (random binary images, P(1) = 0.2), batches of 10, learning
--   rate 0.1, against sklearn's BernoulliRBM (Debian python3-sklearn) on
--   the same data (.npy written here): cajal CD-1 and cajal PCD-1, the
--   latter being the algorithm BernoulliRBM runs;
--   Gibbs sweeps per second of a 512x512 periodic Ising lattice at T = 2.3
--   (Metropolis, checkerboard) against the same update in numpy.
-- Every measurement is a separate process pinned to one core (taskset -c 1
-- when available) with OPENBLAS_NUM_THREADS=1 and glibc's malloc thresholds
-- raised (see env below); times are the process's CPU time (os.clock,
-- time.process_time: the machine is shared, and a single-threaded run's
-- CPU time does not count the waits); cajal and the peer alternate,
-- BENCH_REPS times (default 3), and the medians and their ratio are printed.
-- Environment: CAJAL (the interpreter), PYTHON (default /usr/bin/python3),
-- BENCH_REPS. Prints "BENCH name value unit" lines.
local cj = require "cajal"
local B = cj.boltzmann

local format = string.format

-- ---- worker mode: one measurement, "RESULT value" -----------------------------
if arg[1] == "worker" then
  local kind = arg[2]
  local v
  if kind == "rbm" then
    local X = cj.io.load_npy(arg[3])
    local nh, epochs, persistent = tonumber(arg[4]), tonumber(arg[5]), arg[6] == "pcd"
    local r = B.rbm(X.shape[2], nh, { seed = 1 })
    local t = os.clock()
    r:train(X, { epochs = epochs, batch = 10, lr = 0.1, persistent = persistent })
    v = X.shape[1] * epochs / (os.clock() - t)
  else
    local L, sweeps, T = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])
    local m = B.ising(L, { seed = 1 })
    m:run(5, { T = T })
    local t = os.clock()
    m:run(sweeps, { T = T })
    v = sweeps / (os.clock() - t)
  end
  print(format("RESULT %.6g", v))
  return
end

-- ---- orchestration ----------------------------------------------------------------
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local srcdir = os.getenv("srcdir")
local benchdir = srcdir and (srcdir .. "/tests/bench") or here
local cajal = os.getenv("CAJAL") or arg[-1] or "cajal"
local python = os.getenv("PYTHON") or "/usr/bin/python3"
local reps = math.tointeger(tonumber(os.getenv("BENCH_REPS") or "3")) or 3
local function sh(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local pin = os.execute("taskset -c 1 true 2>/dev/null") and "taskset -c 1 " or ""
-- glibc's malloc maps a fresh block for every large array and, with its
-- default thresholds, gives the pages back between minibatches: numpy's
-- temporaries (3 MB at 784x500) then cost page faults and sklearn's fit runs
-- several times slower than it can. Both sides run with the thresholds
-- raised, so the peer is measured at its best.
local env = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=268435456 " ..
  "MALLOC_TRIM_THRESHOLD_=1073741824 "
local cpu = "?"
do
  local f = io.open("/proc/cpuinfo")
  if f then
    cpu = (f:read("a"):match("model name%s*:%s*([^\n]*)")) or "?"
    f:close()
  end
end
print(format("processor: %s; %s; %d alternating runs each, medians", cpu,
  pin ~= "" and "every run pinned to core 1" or "taskset missing: runs not pinned", reps))

local function bench(name, value, unit) print(format("BENCH %s %.4g %s", name, value, unit)) io.stdout:flush() end

local function measure(cmd)
  local p = io.popen(env .. pin .. cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local v = tonumber(out:match("RESULT (%S+)"))
  if not v then io.stderr:write("bench: no result from ", cmd, ":\n", out, "\n") end
  return v
end

local function median(t)
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- runs: name -> command; alternated reps times; returns name -> median
local function alternate(runs)
  local vals = {}
  for _ = 1, reps do
    for _, r in ipairs(runs) do
      local v = measure(r[2])
      vals[r[1]] = vals[r[1]] or {}
      if v then table.insert(vals[r[1]], v) end
    end
  end
  local med = {}
  for k, t in pairs(vals) do med[k] = median(t) end
  return med
end

local havesk = os.execute(python .. " -c 'import sklearn' 2>/dev/null")
local havenp = os.execute(python .. " -c 'import numpy' 2>/dev/null")
local me = sh(cajal) .. " " .. sh(arg[0]) .. " worker "
local peer = sh(python) .. " " .. sh(benchdir .. "/boltzmann_peers.py") .. " "

-- the data, shared by both sides
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. sh(tmp))
local g = cj.rng(1)
local bas = cj.zeros(5000, 64)
for q = 1, 5000 do
  local code, vertical = g:integers(0, 255), g:rand() < 0.5
  for i = 0, 7 do
    for j = 0, 7 do
      bas[q][i * 8 + j + 1] = ((code >> (vertical and j or i)) & 1)
    end
  end
end
cj.io.save_npy(tmp .. "/bas64.npy", bas)
cj.io.save_npy(tmp .. "/rand784.npy", g:rand(1000, 784):lt(0.2):astype("float64"))

for _, case in ipairs({ { "64x64", tmp .. "/bas64.npy", 64, 4 }, { "784x500", tmp .. "/rand784.npy", 500, 1 } }) do
  local name, data, nh, ep = case[1], case[2], case[3], case[4]
  local runs = {
    { "cd1", me .. format("rbm %s %d %d cd", sh(data), nh, ep) },
    { "pcd1", me .. format("rbm %s %d %d pcd", sh(data), nh, ep) },
  }
  if havesk then runs[#runs + 1] = { "sklearn", peer .. format("rbm %s %d %d", sh(data), nh, ep) } end
  local med = alternate(runs)
  if med.cd1 then bench("rbm_" .. name .. "_cajal_cd1", med.cd1, "samples/s") end
  if med.pcd1 then bench("rbm_" .. name .. "_cajal_pcd1", med.pcd1, "samples/s") end
  if med.sklearn then
    bench("rbm_" .. name .. "_sklearn_pcd1", med.sklearn, "samples/s")
    if med.cd1 then bench("rbm_" .. name .. "_cd1_vs_sklearn", med.cd1 / med.sklearn, "x") end
    if med.pcd1 then bench("rbm_" .. name .. "_pcd1_vs_sklearn", med.pcd1 / med.sklearn, "x") end
  else
    print("(sklearn not available: " .. python .. ")")
  end
end
os.execute("rm -rf " .. sh(tmp))

local runs = { { "cajal", me .. "ising 512 200 2.3" } }
if havenp then runs[2] = { "numpy", peer .. "ising 512 20 2.3" } end
local med = alternate(runs)
if med.cajal then bench("ising_512_cajal", med.cajal, "sweeps/s") end
if med.numpy then
  bench("ising_512_numpy", med.numpy, "sweeps/s")
  if med.cajal then bench("ising_512_cajal_vs_numpy", med.cajal / med.numpy, "x") end
else
  print("(numpy not available: " .. python .. ")")
end
