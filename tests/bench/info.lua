-- info.lua — benchmark of cj.info and cj.coding against numpy/scipy
-- (part of `make bench`; BENCH_ONLY=info make bench runs it alone).
--
-- The same data (written here once as .npy files) are processed by cajal
-- and by tests/bench/numpy_info.py, each task in a fresh process pinned to
-- core 1 (taskset -c 1, OPENBLAS_NUM_THREADS=1), the two alternating over
-- BENCH_ROUNDS rounds (default 3); each process reports the median CPU time
-- of its repetitions, and the medians over rounds are compared. Tasks:
--   mi_none, mi_miller_madow, mi_nsb, mi_shuffle  MI of 1e6 paired labels
--       (8 x 16 table) with no correction, Miller-Madow, NSB, and the mean of
--       100 permutations subtracted: throughput in samples per second
--   words  plug-in entropy of the 10-bin words (1 ms bins) of each of 1000
--       Poisson neurons (10 Hz) over 100 s
--   glm    Poisson GLM fit, 20-tap stimulus and history filters, 100 s of
--       1 ms bins, Newton's method in both
-- Prints "BENCH name value unit" lines: cajal_<task>_ms, numpy_<task>_ms,
-- numpy_over_cajal_<task> (the speed-up, > 1 when cajal is faster),
-- <task>_samples_per_s for the MI tasks, and the cross-checked values.
-- Run by hand: srcdir=SRC ./cajal SRC/tests/bench/info.lua
local cj = require "cajal"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local srcdir = os.getenv("srcdir")
local benchdir = srcdir and (srcdir .. "/tests/bench") or here
local NMI = 1000000

---------------------------------------------------------------- the worker
if arg[1] == "--worker" then
  local task, dir, reps = arg[2], arg[3], tonumber(arg[4])
  local load = cj.io.load_npy
  local f
  if task:match("^mi_") then
    local x, y = load(dir .. "/mi_x.npy"), load(dir .. "/mi_y.npy")
    local corr = task:sub(4)
    f = function() return cj.info.mutual_information(x, y, { correction = corr, nresample = 100, seed = 1 }) end
  elseif task == "words" then
    local t, i = load(dir .. "/spk_t.npy"), load(dir .. "/spk_i.npy")
    local spikes = { times = t, indices = i + 1, n = 1000 }
    f = function() return cj.info.word_entropy(spikes, 0.001, 10, { t_stop = 100 }):mean() end
  else
    local s, y, k = load(dir .. "/glm_s.npy"), load(dir .. "/glm_y.npy"), load(dir .. "/glm_k.npy")
    f = function()
      local m = cj.coding.glm(s, y, { dt = 0.001, lags = 20, hlags = 20, basis = "none" })
      local a, b = m.k:reshape(20), k
      local x, z = a - a:mean(), b - b:mean()
      return (x * z):sum() / math.sqrt((x * x):sum() * (z * z):sum())
    end
  end
  local times, v = {}, nil
  for r = 1, reps do
    collectgarbage()
    local t0 = os.clock()
    v = f()
    times[r] = os.clock() - t0
  end
  table.sort(times)
  print(string.format("TIME %.3f", times[(reps + 1) // 2] * 1e3))
  print(string.format("VALUE %.10g", v))
  return
end

---------------------------------------------------------------- the data
local function bench(name, value, unit)
  print(string.format("BENCH %s %.4g %s", name, value, unit))
  io.stdout:flush()
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local r = cj.rng(2024)
do                                              -- 1e6 labels: r = 2 s or 2 s + 1 with probability 0.4
  local x = r:integers(0, 7, NMI):astype("float64")
  local pick = r:rand(NMI):lt(0.4)
  local y = cj.where(pick, x * 2 + r:integers(0, 1, NMI), r:integers(0, 15, NMI):astype("float64"))
  cj.io.save_npy(dir .. "/mi_x.npy", x)
  cj.io.save_npy(dir .. "/mi_y.npy", y)
end
do                                              -- 1000 Poisson neurons at 10 Hz for 100 s
  local n = r:poisson(10 * 100 * 1000)
  cj.io.save_npy(dir .. "/spk_t.npy", r:rand(n) * 100)
  cj.io.save_npy(dir .. "/spk_i.npy", r:integers(0, 999, n):astype("float64"))
end
do                                              -- a GLM neuron, 100 s of 1 ms bins
  local T = 100000
  local s = r:randn(T)
  local k, h = {}, {}
  for l = 1, 20 do k[l] = 0.6 * math.sin(math.pi * (l - 1) / 12) * math.exp(-(l - 1) / 5) end
  for j = 1, 20 do h[j] = -4 * math.exp(-(j - 1) / 2) + 0.6 * math.exp(-((j - 9) / 3) ^ 2) end
  local model = { dt = 0.001, bias = cj.array{ math.log(20) }, k = cj.array(k):reshape(1, 20, 1),
                  h = cj.array(h):reshape(1, 1, 20) }
  cj.io.save_npy(dir .. "/glm_s.npy", s)
  cj.io.save_npy(dir .. "/glm_y.npy", cj.coding.glm_simulate(model, s, { seed = 5 }))
  cj.io.save_npy(dir .. "/glm_k.npy", cj.array(k))
end

---------------------------------------------------------------- the runs
local cajal = arg[-1] or "cajal"
local python = os.getenv("PYTHON") or "/usr/bin/python3"
local pin = os.execute("taskset -c 1 true 2>/dev/null") and "taskset -c 1 " or ""
local havenumpy = os.execute(python .. " -c 'import numpy, scipy' 2>/dev/null")
local rounds = math.tointeger(tonumber(os.getenv("BENCH_ROUNDS") or "3")) or 3
do
  local p = io.open("/proc/cpuinfo")
  local model = p and p:read("a"):match("model name%s*:%s*([^\n]+)")
  if p then p:close() end
  print(string.format("processor: %s; %s; %d rounds, alternating", model or "unknown",
    pin ~= "" and "both pinned to core 1" or "not pinned (no taskset)", rounds))
end
if not havenumpy then print("(numpy/scipy not available at " .. python .. ": cajal only)") end

local function runone(cmd)
  local p = io.popen("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 " .. pin .. cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local t, v = tonumber(out:match("TIME (%S+)")), tonumber(out:match("VALUE (%S+)"))
  if not t then print("(failed: " .. cmd .. ")\n" .. out) end
  return t, v
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local tasks = {
  { "mi_none", 5 }, { "mi_miller_madow", 5 }, { "mi_nsb", 3 }, { "mi_shuffle", 1 }, { "words", 1 }, { "glm", 1 },
}
for _, task in ipairs(tasks) do
  local name, reps = task[1], task[2]
  local tc, tn, vc, vn = {}, {}, nil, nil
  for round = 1, rounds do
    local c = string.format("'%s' '%s' --worker %s '%s' %d", cajal, arg[0], name, dir, reps)
    local n = string.format("'%s' '%s/numpy_info.py' %s '%s' %d", python, benchdir, name, dir, reps)
    local first, second = c, n
    if round % 2 == 0 then first, second = n, c end
    for _, cmd in ipairs({ first, second }) do
      if cmd == c or havenumpy then
        local t, v = runone(cmd)
        if t then
          if cmd == c then tc[#tc + 1] = t; vc = v else tn[#tn + 1] = t; vn = v end
        end
      end
    end
  end
  if #tc > 0 then bench("cajal_" .. name .. "_ms", median(tc), "ms") end
  if #tn > 0 then bench("numpy_" .. name .. "_ms", median(tn), "ms") end
  if #tc > 0 and #tn > 0 then bench("numpy_over_cajal_" .. name, median(tn) / median(tc), "x") end
  if name:match("^mi_") and #tc > 0 then
    bench(name .. "_samples_per_s_cajal", NMI / (median(tc) / 1e3), "1/s")
    if #tn > 0 then bench(name .. "_samples_per_s_numpy", NMI / (median(tn) / 1e3), "1/s") end
  end
  print(string.format("  %s: cajal %s, numpy %s (%s)", name, tostring(vc), tostring(vn),
    name == "glm" and "correlation of the fitted and true filter" or name == "words" and "mean bits per word"
      or "bits"))
end
os.execute("rm -rf '" .. dir .. "'")
