-- learn.lua — benchmark of cj.learn against numpy and scikit-learn (part of
-- `make bench`; BENCH_ONLY=learn make bench runs it alone).
--
--   Oja and Sanger (k = 8): 64 inputs, 1e5 samples, one pass in row order,
--     against the same rule written in numpy (a loop over samples, the
--     vector work in numpy): samples per second, and the largest difference
--     of the weights (the same rule on the same data from the same start).
--   Sparse-coding inference: 8x8 patches of a whitened dead-leaves image
--     (unit pixel variance), dictionaries of 64 and 256 unit-norm atoms (random
--     patches), lambda 0.5, cj.learn.sparse_code (its default, coordinate
--     descent on the Gram matrix) against scikit-learn's
--     SparseCoder(transform_algorithm = "lasso_cd"), the same algorithm.
--   Dictionary learning: 64 atoms on the same patches, cj.learn.dictionary
--     (batch 256) against MiniBatchDictionaryLearning(fit_algorithm = "cd",
--     batch 256).
--
-- Equal objective: the peer runs with its defaults; its result is scored by
-- cajal's objective (the mean over patches of 1/2 |x - D a|^2 + lambda |a|_1;
-- a dictionary is scored by coding all patches to tol 1e-9).
-- cajal is then timed at the loosest setting, from a fixed ladder (tol
-- 1e-2 ... 1e-9; dictionary epochs 1, 2, 3, ...), whose score is at
-- least as good (<=) as the peer's: cajal is never timed at a worse
-- objective. Both scores are printed.
--
-- Everything runs on one core: the piece re-runs itself under `taskset -c 1`
-- with OPENBLAS_NUM_THREADS=1 (numpy's OpenBLAS too); CPU times; cajal and
-- the peer alternate for BENCH_ROUNDS rounds (3) and the medians are
-- reported, with ratios (peer time / cajal time: > 1 means cajal is faster).
-- Environment: PYTHON (/usr/bin/python3), BENCH_ROUNDS, BENCH_LEARN_N (1e5).
local cj = require "cajal"
local L = cj.learn

local format = string.format
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local srcdir = os.getenv("srcdir")
local benchdir = srcdir and (srcdir .. "/tests/bench") or here
local python = os.getenv("PYTHON") or "/usr/bin/python3"

if not os.getenv("LEARN_BENCH_PINNED") then
  local self = arg[-1] or "cajal"
  local pin = os.execute("taskset -c 1 true 2>/dev/null") and "taskset -c 1 " or ""
  if pin == "" then print("(taskset not available: not pinned)") end
  local ok = os.execute(format("LEARN_BENCH_PINNED=1 OPENBLAS_NUM_THREADS=1 %s'%s' '%s'", pin, self, arg[0]))
  os.exit(ok and 0 or 1)
end

local rounds = math.tointeger(tonumber(os.getenv("BENCH_ROUNDS") or "3")) or 3
local N = math.tointeger(tonumber(os.getenv("BENCH_LEARN_N") or "1e5") // 1)
local cpu = io.open("/proc/cpuinfo")
local model = cpu and cpu:read("a"):match("model name%s*:%s*([^\n]+)") or "?"
if cpu then cpu:close() end
print(format("processor: %s; one core (taskset -c 1), OPENBLAS_NUM_THREADS=1; medians of %d rounds", model, rounds))

local function bench(name, value, unit)
  print(format("BENCH %s %.4g %s", name, value, unit))
  io.stdout:flush()
end

local median = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/bench.lua").median

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p '" .. tmp .. "'"))
local havepeer = os.execute(python .. " -c 'import numpy, sklearn' 2>/dev/null")
if not havepeer then print("(numpy or sklearn missing for " .. python .. ": cajal alone)") end

-- one peer measurement: its CPU seconds (nil when it failed)
local function peer(...)
  if not havepeer then return nil end
  local args = { ... }
  for k, v in ipairs(args) do args[k] = "'" .. tostring(v) .. "'" end
  local p = io.popen(format("%s '%s/numpy_learn.py' %s 2>/dev/null", python, benchdir, table.concat(args, " ")))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("TIME (%S+)"))
end

local function cputime(f)
  collectgarbage()
  local t0 = os.clock()
  local r = f()
  return os.clock() - t0, r
end

-- alternate cajal (f) and the peer (args) for the rounds; medians
local function race(f, ...)
  local tc, tp = {}, {}
  local result
  for r = 1, rounds do
    tc[r], result = cputime(f)
    tp[r] = peer(...)
  end
  return median(tc), tp[1] and median(tp) or nil, result
end

---------------------------------------------------------------------------
-- Oja and Sanger
---------------------------------------------------------------------------
local d = 64
local g = cj.rng(1)
local R = L.pca(g:normal(0, 1, 4 * d, d))
local X = cj.matmul(g:normal(0, 1, N, d) * cj.linspace(2, 0.1, d), R)
local xpath = tmp .. "/X.npy"
cj.io.save_npy(xpath, X)

local eta, tc, tp = 1e-4, nil, nil
-- { rule, bench name, initial weights, cajal call }
local rules = {
  { "oja", "oja", g:normal(0, 1 / math.sqrt(d), d), function(w0) return L.oja(X, { eta = eta, w0 = w0 }) end },
  { "sanger", "sanger8", g:normal(0, 1 / math.sqrt(d), 8, d),
    function(w0) return L.sanger(X, 8, { eta = eta, w0 = w0 }) end },
}
for _, r in ipairs(rules) do
  local rule, name, w0, f = r[1], r[2], r[3], r[4]
  local wpath = tmp .. "/w0_" .. rule .. ".npy"
  cj.io.save_npy(wpath, w0)
  local w
  tc, tp, w = race(function() return f(w0) end, rule, xpath, wpath, eta)
  bench("cajal_" .. name .. "_samples_per_s", N / tc, "samples/s")
  if tp then
    bench("numpy_" .. name .. "_samples_per_s", N / tp, "samples/s")
    bench("numpy_vs_cajal_" .. name, tp / tc, "x")
    bench(name .. "_max_weight_difference", cj.abs(w - cj.io.load_npy(tmp .. "/" .. rule .. ".npy")):max(), "")
  end
end
X = nil
collectgarbage()

---------------------------------------------------------------------------
-- sparse coding
---------------------------------------------------------------------------
local lambda = 0.5
local img = L.whiten_image(L.dead_leaves(512, 512, { seed = 2, rmin = 2 }))
local P = L.patches(img, 8, { count = 10000, seed = 3, center = true })
P = P / P:std()
local ppath = tmp .. "/P.npy"
cj.io.save_npy(ppath, P)
local TOLS = { 1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6, 2e-6, 1e-6, 1e-7, 1e-8, 1e-9 }

for _, m in ipairs({ 64, 256 }) do
  local D = L.patches(img, 8, { count = m, seed = 10 + m, center = true }):transpose():copy()
  D = D / cj.sqrt((D * D):sum(1))
  local dpath = tmp .. "/D.npy"
  cj.io.save_npy(dpath, D)
  local target
  if havepeer and peer("code", ppath, dpath, lambda) then
    target = L.sparse_objective(P, D, cj.io.load_npy(tmp .. "/codes.npy"), lambda)
  end
  local tol = TOLS[#TOLS]
  local obj
  for _, t in ipairs(TOLS) do
    local _, info = L.sparse_code(P, D, { lambda = lambda, tol = t, iters = 100000 })
    obj = info.objective
    if not target or obj <= target then tol = t; break end
  end
  local info
  tc, tp, info = race(function() local _, i = L.sparse_code(P, D, { lambda = lambda, tol = tol, iters = 100000 }); return i end,
    "code", ppath, dpath, lambda)
  print(format("  %d atoms: cajal tol %g, %d sweeps at most, objective %.8f; sklearn lasso_cd objective %s",
    m, tol, info.iterations, info.objective, target and format("%.8f", target) or "-"))
  bench(format("cajal_sparse_code_%d_patches_per_s", m), 10000 / tc, "patches/s")
  if tp then
    bench(format("sklearn_sparse_code_%d_patches_per_s", m), 10000 / tp, "patches/s")
    bench(format("sklearn_vs_cajal_sparse_code_%d", m), tp / tc, "x")
  end
end

---------------------------------------------------------------------------
-- dictionary learning
---------------------------------------------------------------------------
do
  local m, epochs = 64, 3
  local function score(D)
    local _, info = L.sparse_code(P, D, { lambda = lambda, tol = 1e-9, iters = 100000 })
    return info.objective
  end
  local target
  local tpeer = {}
  if havepeer then
    tpeer[1] = peer("dict", ppath, m, lambda, epochs)
    if tpeer[1] then target = score(cj.io.load_npy(tmp .. "/dict.npy")) end
  end
  local E, obj = 1, nil
  while E <= 20 do
    obj = score(L.dictionary(P, m, { lambda = lambda, epochs = E, seed = 1 }))
    if not target or obj <= target then break end
    E = E + 1
  end
  local tcs = {}
  for r = 1, rounds do
    tcs[r] = cputime(function() return L.dictionary(P, m, { lambda = lambda, epochs = E, seed = 1 }) end)
    if r > 1 and havepeer then tpeer[r] = peer("dict", ppath, m, lambda, epochs) end
  end
  tc = median(tcs)
  print(format("  %d atoms: cajal %d epoch(s), objective %.6f; sklearn %d epochs, objective %s",
    m, E, obj, epochs, target and format("%.6f", target) or "-"))
  bench("cajal_dictionary_64_s", tc, "s")
  if target then
    tp = median(tpeer)
    bench("sklearn_dictionary_64_s", tp, "s")
    bench("sklearn_vs_cajal_dictionary_64", tp / tc, "x")
  end
end

os.execute("rm -rf '" .. tmp .. "'")
