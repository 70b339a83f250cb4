-- tests/bench/threads.lua — `make bench`, the threads part: CUBA (Brette et
-- al. 2007, examples/cuba.cajal; p = 80/N, as network.lua) with 4000,
-- 40 000 and 100 000 neurons for 1 s of biological time, run at 1 and at 2 threads,
-- alternated (1, 2, 1, 2, ...), on one network per size (net:reset()
-- between runs, so every run computes the same spikes: checked). Times are
-- wall times of net:run (cj.clock()); the figures are the medians and the
-- ratio t(1 thread) / t(2 threads). Targets (issue 11): >= 1.8x from
-- 40 000 neurons, never slower at 4000 (it runs on one thread there).
-- Threads compete with whatever else runs on the machine: on a shared one,
-- the ratio is a lower bound.
--
--   cajal tests/bench/threads.lua [reps] [backend]    (default 5, jit)
local format = string.format
local cj = require "cajal"

local B = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/bench.lua")
local REPS = math.tointeger(tonumber(arg[1])) or 5
local BACKEND = arg[2] or "jit"

local function bench(name, value, unit)
  print(format("BENCH %s %s %s", name, value, unit))
  io.stdout:flush()
end

local median = B.median

if cj.threads() < 2 and not pcall(cj.threads, 2) then
  print("threads: built without OpenMP, nothing to measure")
  return
end
local before = cj.threads()
print(format("threads: CUBA x 1 s, %s, 1 vs 2 threads, %d alternated runs each (%s, %d processors available)",
  BACKEND, REPS, B.cpu_model(), before))
for _, N in ipairs({ 4000, 40000, 100000 }) do
  local NE = math.floor(N * 0.8 + 0.5)
  local net = cj.load(B.SRC .. "/examples/cuba.cajal",
    { seed = 12345, progress = false, backend = BACKEND, params = { NE = NE, NI = N - NE, p = 80 / N } })
  local times, counts = { [1] = {}, [2] = {} }, {}
  for rep = 0, REPS do                          -- rep 0 warms up (caches, pages)
    for _, nt in ipairs({ 1, 2 }) do
      cj.threads(nt)
      net:reset()
      local t0 = cj.clock()
      net:run(1 * cj.second)
      local dt = cj.clock() - t0
      local n = net.spikes.E:count() + net.spikes.I:count()
      counts[#counts + 1] = n
      assert(n == counts[1], format("N = %d: %d spikes at %d threads, %d at 1", N, n, nt, counts[1]))
      if rep > 0 then table.insert(times[nt], dt) end
    end
  end
  local t1, t2 = median(times[1]), median(times[2])
  print(format("  CUBA %6d: 1 thread %.4f s, 2 threads %.4f s, speed-up %.2fx (%d spikes, same at both)",
    N, t1, t2, t1 / t2, counts[1]))
  bench(format("threads_cuba%d_1t_s", N), format("%.4f", t1), "s")
  bench(format("threads_cuba%d_2t_s", N), format("%.4f", t2), "s")
  bench(format("threads_cuba%d_speedup", N), format("%.3f", t1 / t2), "x")
end
cj.threads(before)
