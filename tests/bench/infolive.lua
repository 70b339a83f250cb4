-- infolive.lua — benchmark of live measures (part of `make bench`;
-- BENCH_ONLY=infolive make bench runs it alone): what one net:every()
-- callback pays to measure the last 500 ms of the CUBA network's E
-- population (3200 neurons, about 17 500 spikes per simulated second) as
-- the record grows, through a spike window (net.spikes.E:window(0.5)) and
-- through the whole monitor (the only way before windows: the analysis
-- copies the whole record, then keeps [t_start, t_stop]).
--
-- One cajal process pinned to core 1 (taskset -c 1) runs the network to
-- each length in BENCH_LIVE_LENGTHS (seconds, default "1 10 100") and,
-- at each, times (median of repetitions, CPU time):
--   take     E:window(0.5)  against  E:times() + E:indices() (a full copy)
--   cv       cj.coding.cv of the window  against  of the monitor with t_start/t_stop
--   all      cv, Fano factor (50 ms), rates and pooled word entropy (8 x 2 ms)
--            of the window  against  of the monitor restricted to it
-- and checks that both give identical numbers. Prints "BENCH name value
-- unit" lines: infolive_<what>_window_ms_<L>s, infolive_<what>_full_ms_<L>s
-- and infolive_<what>_full_over_window_<L>s (> 1: the window is cheaper).
-- A window's cost should stay flat as L grows; the full path's grows with L.
-- Run by hand: srcdir=SRC ./cajal SRC/tests/bench/infolive.lua
local cj = require "cajal"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local srcdir = os.getenv("srcdir") or (here .. "/../..")
local format = string.format
local WIN = 0.5

---------------------------------------------------------------- the worker
if arg[1] == "--worker" then
  local lengths = {}
  for x in (arg[2] or "1 10 100"):gmatch("%S+") do lengths[#lengths + 1] = tonumber(x) end
  local net = cj.load(srcdir .. "/examples/cuba.cajal", { seed = 1, progress = false })
  local E = net.spikes.E

  local function all(sp, o)
    o = o or {}
    local _, cv = cj.coding.cv(sp, o)
    local _, f = cj.coding.fano(sp, 50 * cj.ms, o)
    local r = cj.coding.rates(sp, o):mean().value
    local H = cj.info.word_entropy(sp, 2 * cj.ms, 8, { mode = "pool", t_start = o.t_start, t_stop = o.t_stop })
    return { cv, f, r, H }
  end
  local function median(f, reps)
    local t = {}
    for r = 1, reps do
      collectgarbage()
      local c = os.clock()
      f()
      t[r] = os.clock() - c
    end
    table.sort(t)
    return t[(reps + 1) // 2] * 1e3
  end

  for _, L in ipairs(lengths) do
    net:run(L - net.t.value)                -- on to L seconds
    local now = net.t.value
    local o = { t_start = now - WIN, t_stop = now }
    local a, b = all(E:window(WIN)), all(E, o)
    for k = 1, #a do
      assert(a[k] == b[k] or (a[k] ~= a[k] and b[k] ~= b[k]), "window and monitor disagree")
    end
    local reps = L >= 100 and 5 or 11
    print(format("LEN %g %d", L, E:count()))
    print(format("T take %g %.4f %.4f", L, median(function() return E:window(WIN) end, 51),
      median(function() return E:times(), E:indices() end, reps)))
    print(format("T cv %g %.4f %.4f", L, median(function() return cj.coding.cv(E:window(WIN)) end, 21),
      median(function() return cj.coding.cv(E, o) end, reps)))
    print(format("T all %g %.4f %.4f", L, median(function() return all(E:window(WIN)) end, 11),
      median(function() return all(E, o) end, reps)))
    io.stdout:flush()
  end
  return
end

---------------------------------------------------------------- the driver
local function bench(name, value, unit)
  print(format("BENCH %s %.4g %s", name, value, unit))
  io.stdout:flush()
end

local cajal = arg[-1] or "cajal"
local pin = os.execute("taskset -c 1 true 2>/dev/null") and "taskset -c 1 " or ""
local lengths = os.getenv("BENCH_LIVE_LENGTHS") or "1 10 100"
do
  local p = io.open("/proc/cpuinfo")
  local model = p and p:read("a"):match("model name%s*:%s*([^\n]+)")
  if p then p:close() end
  print(format("processor: %s; %s; CUBA E (3200 neurons), window of %g s, records of %s s",
    model or "unknown", pin ~= "" and "pinned to core 1" or "not pinned (no taskset)", WIN, lengths))
end
local cmd = format("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 %s'%s' '%s' --worker '%s' 2>&1", pin, cajal, arg[0], lengths)
local p = io.popen(cmd)
local out = p:read("a")
p:close()
if not out:find("LEN ") then print("(failed: " .. cmd .. ")\n" .. out) return end
print(format("  %-5s %9s %10s  %12s %12s %8s", "task", "record", "spikes", "window (ms)", "full (ms)", "ratio"))
local spikes = {}
for L, n in out:gmatch("LEN (%S+) (%d+)") do spikes[L] = n end
for what, L, w, f in out:gmatch("T (%a+) (%S+) (%S+) (%S+)") do
  w, f = tonumber(w), tonumber(f)
  print(format("  %-5s %8ss %10s  %12.4f %12.4f %7.1fx", what, L, spikes[L], w, f, f / w))
  bench(format("infolive_%s_window_ms_%ss", what, L), w, "ms")
  bench(format("infolive_%s_full_ms_%ss", what, L), f, "ms")
  bench(format("infolive_%s_full_over_window_%ss", what, L), f / w, "x")
end
if out:find("disagree") then print(out) end
