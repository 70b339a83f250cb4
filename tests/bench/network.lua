-- tests/bench/network.lua — `make bench`, the network part: the CUBA
-- benchmark (Brette et al. 2007, examples/cuba.cajal) with 4000 neurons for
-- 1 s and 10 s and with 40 000 neurons (same in-degree, p = 80/N) for 1 s,
-- and COBA 4000 x 1 s, side by side with Brian2's cpp_standalone on the same
-- models in the same run (../shared/peers/brian2_bench.py, when
-- python3-brian is installed; CAJAL_BENCH_BRIAN=0 skips it).
--
--   cajal tests/bench/network.lua            (run.sh calls it this way)
--
-- Every measurement runs in a fresh cajal process (so peak memory is that
-- of one network): the first with an empty compile cache (cold load: the
-- model is compiled to C and the C compiled by cc), the second with the
-- cache filled by the first (warm load) and the run. A load is cj.load:
-- compiling the model to IR and C, finding the kernels (cc or the cache),
-- building the connectivity and the initial state; the compiler's Lua
-- modules, loaded once per process on first use, are timed apart. Times are CPU times
-- of the process (os.clock; plus the compiler's, a child process, for the
-- cold load), which a shared machine disturbs less than wall time; the run
-- is also timed on the wall clock (cj.clock(), CLOCK_MONOTONIC).
-- Brian2's figure is its run loop (wall), without the ~20 s of C++
-- compilation per run, which is reported apart.
--
-- Output: lines "BENCH <name> <value> <unit>" and a table.
local format = string.format

local PYTHON = "/usr/bin/python3"

local function script_dir()
  local d = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  if d:sub(1, 1) ~= "/" then d = (os.getenv("PWD") or ".") .. "/" .. d end
  return d
end
local SRC = script_dir() .. "/../.."
-- the peer scripts: ../shared/peers beside the project root; $CAJAL_PEERS overrides
local PEERS = os.getenv("CAJAL_PEERS") or SRC .. "/../shared/peers"

local function cajal_path()
  local c = os.getenv("CAJAL") or (arg and arg[-1]) or "cajal"
  if c:find("/") and c:sub(1, 1) ~= "/" then c = (os.getenv("PWD") or ".") .. "/" .. c end
  return c
end

local function readfile(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Wall clock from /proc/uptime (s, 10 ms resolution), nil if absent.
local function uptime()
  local s = readfile("/proc/uptime")
  return s and tonumber(s:match("^(%S+)"))
end

-- CPU seconds of reaped children (compiler runs): /proc/self/stat fields 16, 17.
local function children_cpu()
  local s = readfile("/proc/self/stat")
  if not s then return 0 end
  local rest = s:match("%) (.*)$")
  local f = {}
  for x in rest:gmatch("%S+") do f[#f + 1] = x end
  -- fields after the command: index 1 is field 3 (state); cutime is field 16
  local cut, cst = tonumber(f[14]), tonumber(f[15])
  return ((cut or 0) + (cst or 0)) / 100
end

local function peak_mb()
  local s = readfile("/proc/self/status")
  local kb = s and tonumber(s:match("VmHWM:%s*(%d+)"))
  return kb and kb / 1024 or 0
end

---------------------------------------------------------------------------
-- Child: one measurement in this process
---------------------------------------------------------------------------
-- cajal network.lua --child MODEL N T MODE   (MODE: cold | warm | interp)
local function child(model, N, T, mode)
  local cj = require "cajal"
  local core = require "cajal.core"
  N, T = tonumber(N), tonumber(T)
  local NE = math.floor(N * 0.8 + 0.5)
  local opts = { seed = 12345, progress = false, params = { NE = NE, NI = N - NE, p = 80 / N } }
  if mode == "interp" then opts.backend = "interp" end
  if mode == "cold" then assert(core.cache_clear()) end
  -- the compiler's Lua modules load once per process, on first use: timed apart
  local m0 = os.clock()
  require "cajal.compile"
  local _ = cj.load
  local modules = os.clock() - m0
  local s0 = core.jit_stats()
  local c0, k0, lw0 = os.clock(), children_cpu(), core.clock()
  local net = cj.load(SRC .. "/examples/" .. model .. ".cajal", opts)
  local load = os.clock() - c0 + (children_cpu() - k0)
  local load_wall = core.clock() - lw0
  local s1 = core.jit_stats()
  local res = { load_s = load, load_wall_s = load_wall, compiles = s1.compiles - s0.compiles, hits = s1.hits - s0.hits,
                backend = net.backend, modules_s = modules }
  if mode ~= "cold" then
    local w0, r0 = core.clock(), os.clock()
    net:run(T * cj.second)
    res.run_cpu_s = os.clock() - r0
    res.run_wall_s = core.clock() - w0
    local nsyn = 0
    for _, p in ipairs(net.projections) do nsyn = nsyn + p.N end
    local spikes = net.spikes.E:count() + net.spikes.I:count()
    res.spikes = spikes
    res.nsyn = nsyn
    res.rate_E = net.spikes.E:rate().value
    res.rate_I = net.spikes.I:rate().value
    res.steps = net.step
    -- synaptic events: spikes times the mean out-degree (as the peer script counts them)
    res.events = spikes * nsyn / N
    res.peak_mb = peak_mb()
    res.net_mb = net.memory / 2 ^ 20
  end
  local parts = {}
  for k, v in pairs(res) do
    parts[#parts + 1] = format("%s=%s", k, type(v) == "number" and format("%.17g", v) or tostring(v))
  end
  table.sort(parts)
  print("CHILD " .. table.concat(parts, " "))
end

if arg and arg[1] == "--child" then
  child(arg[2], arg[3], arg[4], arg[5])
  return
end

---------------------------------------------------------------------------
-- Parent
---------------------------------------------------------------------------

local CAJAL = cajal_path()
local CACHE = os.tmpname()
os.remove(CACHE)

local function bench(name, value, unit)
  print(format("BENCH %s %s %s", name, value, unit))
  io.stdout:flush()
end

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function runchild(model, N, T, mode)
  local cmd = format("CAJAL_CACHE=%s %s %s --child %s %d %g %s 2>&1", shq(CACHE), shq(CAJAL),
    shq(SRC .. "/tests/bench/network.lua"), model, N, T, mode)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local line = out:match("CHILD ([^\n]*)")
  if not line then
    io.stderr:write("bench child failed: ", cmd, "\n", out, "\n")
    return nil
  end
  local r = {}
  for k, v in line:gmatch("(%S+)=(%S+)") do r[k] = tonumber(v) or v end
  return r
end

-- Brian2 cpp_standalone on the same model: the RESULT json of the peer
-- script (flat: numbers, strings, booleans).
local warned_peer = false
local function brian(model, N, T)
  if os.getenv("CAJAL_BENCH_BRIAN") == "0" then return nil end
  local script = PEERS .. "/brian2_bench.py"
  if not readfile(script) or not readfile(PYTHON) then
    if not warned_peer then
      warned_peer = true
      print(format("NOTE: %s not found (set CAJAL_PEERS to the peers folder): no Brian2 figures",
        readfile(PYTHON) and script or PYTHON))
    end
    return nil
  end
  local cmd = format("%s %s --model %s --N %d --target cpp_standalone --duration %g 2>&1",
    PYTHON, shq(script), model, N, T)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local json = out:match("RESULT (%b{})")
  if not json then
    io.stderr:write("brian2 failed (", cmd, "):\n", out:sub(-2000), "\n")
    return nil
  end
  local r = {}
  for k, v in json:gmatch('"([%w_]+)":%s*([^,}]+)') do
    v = v:gsub('^"', ""):gsub('"$', "")
    r[k] = tonumber(v) or v
  end
  return r
end

local cases = {
  { "cuba", 4000, 1 },
  { "cuba", 4000, 10 },
  { "cuba", 40000, 1 },
  { "coba", 4000, 1 },
}

local rows = {}
for _, c in ipairs(cases) do
  local model, N, T = c[1], c[2], c[3]
  local tag = format("%s%d_%gs", model, N, T)
  local cold = runchild(model, N, T, "cold")
  local warm = runchild(model, N, T, "warm")
  local row = { tag = tag }
  if cold then
    bench(tag .. "_cold_load_ms", format("%.1f", cold.load_s * 1e3), "ms")
    bench(tag .. "_cold_load_wall_ms", format("%.1f", cold.load_wall_s * 1e3), "ms")
    row.cold = cold.load_s
  end
  if warm then
    if tag == "cuba4000_1s" then
      bench("network_modules_load_ms", format("%.1f", warm.modules_s * 1e3), "ms")
    end
    bench(tag .. "_warm_load_ms", format("%.1f", warm.load_s * 1e3), "ms")
    bench(tag .. "_warm_load_wall_ms", format("%.1f", warm.load_wall_s * 1e3), "ms")
    bench(tag .. "_warm_load_compiler_runs", warm.compiles, "runs")
    bench(tag .. "_run_cpu_s", format("%.3f", warm.run_cpu_s), "s")
    bench(tag .. "_run_wall_s", format("%.2f", warm.run_wall_s), "s")
    bench(tag .. "_neuron_updates_per_s", format("%.3g", N * warm.steps / warm.run_cpu_s), "1/s")
    bench(tag .. "_syn_events_per_s", format("%.3g", warm.events / warm.run_cpu_s), "1/s")
    bench(tag .. "_peak_MB", format("%.1f", warm.peak_mb), "MB")
    bench(tag .. "_rates_E_I", format("%.2f/%.2f", warm.rate_E, warm.rate_I), "Hz")
    row.warm, row.run, row.wall, row.mb = warm.load_s, warm.run_cpu_s, warm.run_wall_s, warm.peak_mb
    row.rates = format("%.2f/%.2f", warm.rate_E, warm.rate_I)
  end
  if tag == "cuba4000_1s" then
    local it = runchild(model, N, T, "interp")
    if it then
      bench(tag .. "_interp_run_cpu_s", format("%.3f", it.run_cpu_s), "s")
      row.interp = it.run_cpu_s
    end
  end
  local b = brian(model, N, T)
  if b and b.run_loop_s then
    bench("brian2_" .. tag .. "_run_s", format("%.3f", b.run_loop_s), "s")
    bench("brian2_" .. tag .. "_compile_s", format("%.1f", (b.make_s or 0) + (b.codegen_s or 0)), "s")
    if b.binary_maxrss_MB then bench("brian2_" .. tag .. "_peak_MB", format("%.1f", b.binary_maxrss_MB), "MB") end
    bench("brian2_" .. tag .. "_rates_E_I", format("%.2f/%.2f", b.rate_exc_Hz, b.rate_inh_Hz), "Hz")
    row.brian, row.bmb = b.run_loop_s, b.binary_maxrss_MB
    row.brates = format("%.2f/%.2f", b.rate_exc_Hz, b.rate_inh_Hz)
    if warm then
      bench(tag .. "_speedup_vs_brian2_cpu", format("%.2f", b.run_loop_s / warm.run_cpu_s), "x")
      if warm.run_wall_s > 0 then
        bench(tag .. "_speedup_vs_brian2_wall", format("%.2f", b.run_loop_s / warm.run_wall_s), "x")
      end
    end
  end
  rows[#rows + 1] = row
end
os.execute("rm -rf " .. shq(CACHE))

print("\nnetwork benchmarks (cajal: CPU s of the run; Brian2 cpp_standalone: wall s of its run loop)")
print(format("%-14s %9s %9s %9s %9s %9s %8s %8s %12s %12s", "case", "cold ms", "warm ms", "run s",
  "run wall", "Brian2 s", "speedup", "MB", "rates", "Brian2 rates"))
for _, r in ipairs(rows) do
  local function f(x, fmt) return x and format(fmt, x) or "-" end
  print(format("%-14s %9s %9s %9s %9s %9s %8s %8s %12s %12s", r.tag, f(r.cold and r.cold * 1e3, "%.0f"),
    f(r.warm and r.warm * 1e3, "%.1f"), f(r.run, "%.3f"), f(r.wall, "%.2f"), f(r.brian, "%.3f"),
    f(r.brian and r.run and r.brian / r.run, "%.2fx"), f(r.mb, "%.0f"), r.rates or "-", r.brates or "-"))
end
print("targets: CUBA 4000 x 1 s run >= 3x faster than Brian2 cpp_standalone; warm load < 50 ms; cold load < 1 s")
print("(loads exclude the one-time loading of the compiler's Lua modules: BENCH network_modules_load_ms)")
