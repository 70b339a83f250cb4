-- tests/bench/scale.lua — `make bench`, scale: the CUBA network
-- (examples/cuba.cajal, 80 % excitatory) with 100 synapses per neuron
-- (p = 100 / N) at N = 10^4 and 10^5 neurons, and with BENCH_FULL=1 also
-- at 10^6 neurons (10^8 synapses: about 1 GB and a minute). For each size,
-- in a fresh cajal process: the build time (cj.load with a warm compile
-- cache: connectivity, initial state), the run time per simulated second
-- (CPU and wall), the peak resident memory (VmHWM) and the bytes per
-- synapse, counted two ways: `accounted` from net.memory (the runtime's own
-- account of its arrays) and `resident` from the growth of VmRSS; both as
-- the difference from a twin network without synapses (p = 0), divided by
-- the synapse count; `with rows` adds the CSR row pointers (8 bytes per pre
-- neuron and projection, which the twin has too). Also the bytes per neuron (the twin's) and the mean
-- rate, which with the synapse count sets the spike traffic of a
-- distributed run (man/cajal-scale.7), and the run split into a cost per
-- neuron and step (the twin's run: the neurons alone) and a cost per
-- synaptic event (the rest, over spikes times the mean out-degree).
--
--   cajal tests/bench/scale.lua                 (10^4, 10^5)
--   BENCH_FULL=1 cajal tests/bench/scale.lua    (10^4, 10^5, 10^6)
--   BENCH_SCALE_T=0.2 ...                       (simulated seconds; default 1)
--
-- Output: lines "BENCH scale_<N>_<what> <value> <unit>" and a table.
local format = string.format
local B = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/bench.lua")
local SRC, readfile = B.SRC, B.readfile

local K = 100                        -- synapses per neuron

local function status(field)
  local s = readfile("/proc/self/status")
  local kb = s and tonumber(s:match(field .. ":%s*(%d+)"))
  return kb and kb * 1024 or 0
end

-- cajal scale.lua --child N T
local function child(N, T)
  local cj = require "cajal"
  local core = require "cajal.core"
  local NE = math.floor(N * 0.8 + 0.5)
  local function load(p)
    return cj.load(SRC .. "/examples/cuba.cajal",
                   { seed = 12345, progress = false, params = { NE = NE, NI = N - NE, p = p } })
  end
  load(0)                            -- compiles (or finds) the kernels, loads the modules
  collectgarbage("collect"); collectgarbage("collect")
  local rss0 = status("VmRSS")
  local twin = load(0)
  local twin_mem, rss1 = twin.memory, status("VmRSS")
  local t0 = os.clock()
  twin:run(T * cj.second)            -- the neurons alone: their update cost
  local twin_cpu = os.clock() - t0
  twin = nil
  collectgarbage("collect"); collectgarbage("collect")
  local rss2 = status("VmRSS")
  local w0, c0 = core.clock(), os.clock()
  local net = load(K / N)
  local build_wall, build_cpu = core.clock() - w0, os.clock() - c0
  local rss3, mem = status("VmRSS"), net.memory
  local nsyn, rows = 0, 0
  for _, p in ipairs(net.projections) do   -- rows: the CSR row pointers (int64, one per pre neuron + 1)
    nsyn = nsyn + p.N
    rows = rows + 8 * (net[p.name:match("^(.-)%->")].N + 1)
  end
  local r0, rc0 = core.clock(), os.clock()
  net:run(T * cj.second)
  local run_wall, run_cpu = core.clock() - r0, os.clock() - rc0
  local spikes = net.spikes.E:count() + net.spikes.I:count()
  local res = {
    N = N, nsyn = nsyn, T = T, build_wall_s = build_wall, build_cpu_s = build_cpu,
    run_wall_per_s = run_wall / T, run_cpu_per_s = run_cpu / T,
    peak_mb = status("VmHWM") / 2 ^ 20,
    syn_bytes_accounted = (mem - twin_mem) / nsyn,
    syn_bytes_with_rows = (mem - twin_mem + rows) / nsyn,
    syn_bytes_resident = (rss3 - rss2) / nsyn,
    neuron_bytes_accounted = twin_mem / N,
    neuron_bytes_resident = (rss1 - rss0) / N,
    rate_hz = spikes / N / T,
    neuron_step_ns = twin_cpu / (N * net.step) * 1e9,
    event_ns = (run_cpu - twin_cpu) / (spikes * nsyn / N) * 1e9,
  }
  local parts = {}
  for k, v in pairs(res) do parts[#parts + 1] = format("%s=%.17g", k, v) end
  table.sort(parts)
  print("CHILD " .. table.concat(parts, " "))
end

if arg and arg[1] == "--child" then
  child(tonumber(arg[2]), tonumber(arg[3]))
  return
end

local function runchild(N, T)
  return B.child("", format("%d %g", N, T), "scale.lua")
end

local function bench(name, value, unit) print(format("BENCH %s %s %s", name, value, unit)); io.stdout:flush() end

local T = tonumber(os.getenv("BENCH_SCALE_T") or "1")
local sizes = { 10000, 100000 }
if os.getenv("BENCH_FULL") == "1" then sizes[#sizes + 1] = 1000000 end
print(format("processor: %s; CUBA, %d synapses per neuron, %g s simulated; %d thread(s) (cpu: summed over them)",
             B.cpu_model(), K, T, require("cajal").threads()))
local rows = {}
for _, N in ipairs(sizes) do
  local r = runchild(N, T)
  if r then
    local tag = format("scale_%d", N)
    bench(tag .. "_synapses", format("%d", r.nsyn), "")
    bench(tag .. "_build_wall_s", format("%.3f", r.build_wall_s), "s")
    bench(tag .. "_build_ns_per_synapse", format("%.1f", r.build_wall_s / r.nsyn * 1e9), "ns")
    bench(tag .. "_run_cpu_per_bio_s", format("%.3f", r.run_cpu_per_s), "s")
    bench(tag .. "_run_wall_per_bio_s", format("%.3f", r.run_wall_per_s), "s")
    bench(tag .. "_peak_MB", format("%.1f", r.peak_mb), "MB")
    bench(tag .. "_bytes_per_synapse_accounted", format("%.2f", r.syn_bytes_accounted), "B")
    bench(tag .. "_bytes_per_synapse_with_rows", format("%.2f", r.syn_bytes_with_rows), "B")
    bench(tag .. "_bytes_per_synapse_resident", format("%.2f", r.syn_bytes_resident), "B")
    bench(tag .. "_bytes_per_neuron_accounted", format("%.1f", r.neuron_bytes_accounted), "B")
    bench(tag .. "_rate_Hz", format("%.2f", r.rate_hz), "Hz")
    bench(tag .. "_neuron_step_ns", format("%.2f", r.neuron_step_ns), "ns")
    bench(tag .. "_synaptic_event_ns", format("%.2f", r.event_ns), "ns")
    rows[#rows + 1] = r
  end
end
print(format("%10s %12s %9s %12s %12s %9s %11s %11s %11s %8s %8s %8s", "neurons", "synapses", "build s", "run cpu/s",
             "run wall/s", "peak MB", "B/syn acct", "+rows", "B/syn RSS", "rate Hz", "ns/n.st", "ns/ev"))
for _, r in ipairs(rows) do
  print(format("%10d %12d %9.3f %12.3f %12.3f %9.1f %11.2f %11.2f %11.2f %8.2f %8.2f %8.2f", r.N, r.nsyn,
               r.build_wall_s, r.run_cpu_per_s, r.run_wall_per_s, r.peak_mb, r.syn_bytes_accounted,
               r.syn_bytes_with_rows, r.syn_bytes_resident, r.rate_hz, r.neuron_step_ns, r.event_ns))
end
