-- tests/bench/vsbrian.lua — `make bench`: cajal against Brian2 2.5.1
-- cpp_standalone on the Brette et al. (2007) benchmarks, the table of
-- issue 11's Report, and the cost of a neuron step against the memory
-- bandwidth of this machine.
--
--   cajal tests/bench/vsbrian.lua               (run.sh calls it this way)
--   BENCH_FULL=1 cajal tests/bench/vsbrian.lua  (the full table)
--
-- Cases: CUBA 4000 x 1 s, CUBA 40 000 x 1 s, COBA 4000 x 1 s; with
-- BENCH_FULL=1 also CUBA 400 000 x 1 s (80 synapses per neuron at every
-- size: p = 80/N). Each measurement is a fresh process pinned to one core
-- (taskset -c $BENCH_CPU, default 1; BENCH_CPU=none does not pin), cajal
-- and Brian2 alternated (cajal, Brian2, cajal, Brian2, ...) BENCH_REPEATS
-- times (default 2, or 5 with BENCH_FULL=1). Both sides are timed on the
-- run loop only, on the wall clock: cajal's net:run (network.lua's child,
-- which loads the model from a compile cache shared by the runs), Brian2's
-- run_loop_s (the simulation loop of the compiled binary, without its
-- ~20 s of code generation and C++ compilation, which every Brian2 run
-- pays again); one untimed cajal run per case first fills the cache, so
-- that no timed run is the tiered start. Printed: the medians, the ratio
-- Brian2/cajal ("cajal faster by"), the processor model, and lines
-- "BENCH vsbrian_<case>_... ".
-- Brian2 is found in ../shared/peers (CAJAL_PEERS overrides); without it
-- (or with CAJAL_BENCH_BRIAN=0) only cajal's side is printed.
-- The interpreter (the backend of CAJAL_JIT=off, or a machine without a C
-- compiler) is a third side, alternated with the other two in every round
-- (BENCH_INTERP=0 leaves it out): its run loop and Brian2's over it.
--
-- The bandwidth model of a neuron step (printed with the estimate):
--   A step of a LIF population with exact integration reads and writes
--   each state variable once and reads the time of the last spike (the
--   refractory test): CUBA and COBA both keep v, ge, gi and lastspike in
--   double precision, so a fused update-and-threshold pass touches
--     B_state = 3 x (8 read + 8 written) + 8 read = 56 bytes per neuron.
--   Spike delivery adds, per neuron and step, e = rate x dt x K events
--   (K = 80 synapses per source, the mean rate of the run), each reading a
--   4-byte target index and reading and writing the 8-byte target
--   variable: B_syn = 20 e bytes.
--   Lower bound: t_min = (B_state + B_syn) / BW, with BW the triad
--   bandwidth (tests/bench/stream.c, pinned to the same core) measured at
--   the working set of the state, 4 x 8 x N bytes: cache-resident for
--   4000 neurons (128 KiB), L2/L3 for 40 000 (1.25 MiB), L3 for 400 000
--   (12.5 MiB). It ignores the latency of scattered deliveries and counts
--   bytes as STREAM does (no write-allocate traffic), so it is optimistic:
--   measured / estimate is how far a step is from the machine's limit
--   (issue 11's target: within 2x at every size). The compiled kernels
--   test the threshold in the update pass (emit.lua's cjf_): no second pass
--   over v and lastspike.
local format = string.format

local B = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/bench.lua")
local here = B.script_dir
local shq = B.shq

local FULL = os.getenv("BENCH_FULL") == "1"
local REPEATS = math.tointeger(tonumber(os.getenv("BENCH_REPEATS") or (FULL and "5" or "2")))
if not REPEATS or REPEATS < 1 then error("BENCH_REPEATS: a positive integer expected") end
local CPU = os.getenv("BENCH_CPU") or "1"
local PIN = ""
if CPU ~= "none" and os.execute("command -v taskset >/dev/null 2>&1") then
  PIN = format("taskset -c %s ", CPU)
end

local cases = {
  { "cuba", 4000, 1 },
  { "cuba", 40000, 1 },
  { "coba", 4000, 1 },
}
if FULL then table.insert(cases, 3, { "cuba", 400000, 1 }) end

local function bench(name, value, unit)
  print(format("BENCH %s %s %s", name, value, unit))
  io.stdout:flush()
end

local function median(t)
  if #t == 0 then return nil end
  return B.median(t)
end

---------------------------------------------------------------------------
-- the bandwidth probe
---------------------------------------------------------------------------
local STATE_BYTES = 32                         -- v, ge, gi, lastspike: 4 doubles
local function probe_bandwidth()
  local cc = os.getenv("CC") or "cc"
  local exe = os.tmpname()
  local sizes, bw = {}, {}
  local seen = {}
  for _, c in ipairs(cases) do
    local b = format("%d", STATE_BYTES * c[2])
    if not seen[b] then sizes[#sizes + 1], seen[b] = b, true end
  end
  sizes[#sizes + 1] = "201326592"              -- main memory: 192 MiB
  -- compiled as the model kernels are (-O3 -march=native), so both use the same vector width
  if not os.execute(format("%s -O3 -march=native -o %s %s 2>/dev/null", cc, shq(exe), shq(here() .. "/stream.c"))) then
    print("(stream.c did not compile with " .. cc .. ")")
    return bw
  end
  local p = io.popen(PIN .. shq(exe) .. " " .. table.concat(sizes, " "))
  for line in p:lines() do
    local bytes, copy, scale, add, triad =
      line:match("^STREAM (%d+) copy (%S+) scale (%S+) add (%S+) triad (%S+)")
    if bytes then
      bytes = tonumber(bytes)
      bw[#bw + 1] = { bytes = bytes, copy = tonumber(copy), triad = tonumber(triad) }
      print(format("stream %10.0f KiB: copy %6.1f  scale %6.1f  add %6.1f  triad %6.1f GB/s",
        bytes / 1024, tonumber(copy), tonumber(scale), tonumber(add), tonumber(triad)))
      bench(format("stream_triad_%dKiB_GBs", bytes // 1024), triad, "GB/s")
    end
  end
  p:close()
  os.remove(exe)
  return bw
end

-- triad bandwidth measured at the working set closest to bytes
local function triad_at(bw, bytes)
  local best, d = nil, math.huge
  for _, b in ipairs(bw) do
    local x = math.abs(math.log(b.bytes / bytes))
    if x < d then best, d = b.triad, x end
  end
  return best
end

---------------------------------------------------------------------------
-- the runs
---------------------------------------------------------------------------
local CACHE = os.tmpname()
os.remove(CACHE)

-- one cajal run through network.lua's child: the run loop on the wall clock
local function cajal_run(model, N, T, mode)
  return B.child(format("CAJAL_CACHE=%s %s", shq(CACHE), PIN), format("%s %d %g %s", model, N, T, mode or "warm"))
end
local INTERP = os.getenv("BENCH_INTERP") ~= "0"

print("processor: " .. B.cpu_model())
print(format("pinned: %s; %d repeats, alternated; peers: %s", PIN ~= "" and PIN or "no", REPEATS, B.PEERS))
local bw = probe_bandwidth()

local rows, nobrian = {}, nil
if os.getenv("CAJAL_BENCH_BRIAN") == "0" then nobrian = "CAJAL_BENCH_BRIAN=0" end
for _, c in ipairs(cases) do
  local model, N, T = c[1], c[2], c[3]
  local tag = format("%s%d_%gs", model, N, T)
  local cw, iw, bl, rates, steps = {}, {}, {}, {}, nil
  cajal_run(model, N, T)      -- untimed: compiles the kernels into the cache (the first run is tiered)
  for _ = 1, REPEATS do
    local r = cajal_run(model, N, T)
    if r then
      cw[#cw + 1] = r.run_wall_s
      rates[#rates + 1] = (0.8 * r.rate_E + 0.2 * r.rate_I)
      steps = r.steps
    end
    if INTERP then
      local ri = cajal_run(model, N, T, "interp")
      if ri then iw[#iw + 1] = ri.run_wall_s end
    end
    if not nobrian then
      local b, err = B.brian(model, N, T, PIN)
      if b and b.run_loop_s then bl[#bl + 1] = b.run_loop_s
      elseif err and err:match("^no ") then nobrian = err
      elseif err then io.stderr:write(err, "\n") end
    end
  end
  local row = { tag = tag, N = N, cajal = median(cw), interp = median(iw), brian = median(bl), n = #cw, nb = #bl }
  if row.interp then bench("vsbrian_" .. tag .. "_interp_run_s", format("%.4f", row.interp), "s") end
  if row.cajal and steps then
    local rate = median(rates)
    local e = rate * 1e-4 * 80                 -- events per neuron-step (dt = 0.1 ms)
    local bytes = 56 + 20 * e
    local triad = triad_at(bw, STATE_BYTES * N)
    row.ns = row.cajal / (N * steps) * 1e9
    if triad then
      row.est = bytes / (triad * 1e9) * 1e9    -- ns per neuron-step
      row.bytes, row.triad = bytes, triad
    end
    bench("vsbrian_" .. tag .. "_cajal_run_s", format("%.4f", row.cajal), "s")
    bench("vsbrian_" .. tag .. "_ns_per_neuron_step", format("%.3f", row.ns), "ns")
    if row.est then
      bench("vsbrian_" .. tag .. "_bandwidth_bound_ns", format("%.3f", row.est), "ns")
      bench("vsbrian_" .. tag .. "_vs_bandwidth_bound", format("%.2f", row.ns / row.est), "x")
    end
  end
  if row.brian then
    bench("vsbrian_" .. tag .. "_brian2_run_s", format("%.4f", row.brian), "s")
    if row.cajal then bench("vsbrian_" .. tag .. "_cajal_faster_by", format("%.2f", row.brian / row.cajal), "x") end
    if row.interp then bench("vsbrian_" .. tag .. "_interp_faster_by", format("%.2f", row.brian / row.interp), "x") end
  end
  rows[#rows + 1] = row
end
os.execute("rm -rf " .. shq(CACHE))
if nobrian then print("(Brian2 not run: " .. nobrian .. ")") end

print(format("\ncajal vs Brian2 2.5.1 cpp_standalone — run loop, wall clock, medians of %d alternated runs,", REPEATS))
print("each pinned to one core; " .. B.cpu_model())
-- the table of one side (field key of the rows) against Brian2
local function table_of(key, head, ratio)
  print(format("| %-26s | %14s | %15s | %15s |", "case", head, "Brian2 run loop", ratio))
  print("|----------------------------|----------------|-----------------|-----------------|")
  for _, r in ipairs(rows) do
    local name = format("%s %d x 1 s", r.tag:match("^(%a+)"):upper(), r.N)
    print(format("| %-26s | %14s | %15s | %15s |", name, r[key] and format("%.3f s", r[key]) or "-",
      r.brian and format("%.3f s", r.brian) or "-",
      (r[key] and r.brian) and format("%.2fx", r.brian / r[key]) or "-"))
  end
end
table_of("cajal", "cajal run loop", "cajal faster by")
if INTERP then
  print("\nthe interpreter (CAJAL_JIT=off), alternated in the same rounds; above 1x it is faster than Brian2")
  table_of("interp", "interp loop", "interp vs Brian2")
end
print("\nneuron step against the bandwidth bound (model in the header of tests/bench/vsbrian.lua:")
print("(56 + 20 e) bytes per neuron-step, e = rate x dt x 80 events, at the triad bandwidth of the state's working set)")
print(format("%-16s %10s %10s %12s %12s %10s", "case", "bytes", "triad GB/s", "bound ns", "cajal ns", "ratio"))
for _, r in ipairs(rows) do
  if r.ns then
    print(format("%-16s %10s %10s %12s %12.3f %10s", r.tag, r.bytes and format("%.1f", r.bytes) or "-",
      r.triad and format("%.1f", r.triad) or "-", r.est and format("%.3f", r.est) or "-", r.ns,
      r.est and format("%.2fx", r.ns / r.est) or "-"))
  end
end
