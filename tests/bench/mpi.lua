-- tests/bench/mpi.lua — `make bench`, the MPI part: what one rank of a
-- network split over K ranks costs (vm/core/netmpi.h, man cajal-scale(7)).
-- CUBA (examples/cuba.cajal, 80 synapses per neuron: p = 80/N) with N
-- neurons for T seconds of biological time on K ranks, one thread each;
-- every rank times the phases of its steps (cj.mpi.profile: delivery,
-- neuron update and threshold, spike exchange, the rest) and counts the
-- bytes it receives in the exchange, then prints them with its memory.
-- The figures of man/cajal-scale.7 come from
--   cajal tests/bench/mpi.lua [N [T [K [D]]]]    (default 40000, 0.5 s, 4 ranks)
-- D, a delay in milliseconds, gives every synapse that delay (CUBA has the
-- one step of the default): the ranks then exchange once per D / dt steps.
-- which launches itself under mpirun (MPIRUN, default mpirun) with K ranks
-- and then with 1, and prints per rank and the summary lines BENCH mpi_*.
-- More ranks than cores are oversubscribed: the ranks then take turns on
-- the cores, and the exchange time includes waiting for the others.
local format = string.format
local cj = require "cajal"

local N = math.tointeger(tonumber(arg[1])) or 40000
local T = tonumber(arg[2]) or 0.5
local K = math.tointeger(tonumber(arg[3])) or 4
local D = tonumber(arg[4])
local srcdir = os.getenv("srcdir") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")

if os.getenv("CAJAL_MPI_BENCH_RANK") then   -- one rank of the measured run
  cj.threads(1)
  local f = assert(io.open(srcdir .. "/examples/cuba.cajal"))
  local src = f:read("a")
  f:close()
  if D then src = src:gsub("(connect [^\n]- with probability p)", "%1 delay " .. D .. " ms") end
  local net = cj.network(src, { seed = 1, progress = false,
                                params = { NE = N * 4 // 5, NI = N - N * 4 // 5, p = 80 / N } })
  net:run(0.01 * cj.second)                  -- kernels warm
  cj.mpi.barrier()
  cj.mpi.stats(true)
  cj.mpi.profile(true)
  local t0 = cj.clock()
  net:run(T * cj.second)
  local wall = cj.clock() - t0
  cj.mpi.profile(false)
  local s = cj.mpi.stats()
  local steps = math.floor(T / 1e-4 + 0.5)
  local spikes = net.spikes.E:count() + net.spikes.I:count()
  print(format("RANK %d %d wall %.4f update %.4f deliver %.4f exchange %.4f other %.4f bytes %d exchanges %d "
               .. "memory %d spikes %d steps %d", cj.mpi.rank(), cj.mpi.size(), wall, s.update, s.deliver,
               s.exchange, s.other, s.bytes, s.exchanges, net.memory, spikes, steps))
  io.stdout:flush()
  return
end

if not cj.mpi.available() then
  print("mpi: cajal was built without MPI, nothing to measure")
  return
end
local mpirun = os.getenv("MPIRUN") or "mpirun"
local exe = os.getenv("CAJAL") or arg[-1] or "cajal"
local ENV = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
  .. "OMPI_MCA_btl=self,vader OMPI_MCA_mpi_yield_when_idle=1 OMP_WAIT_POLICY=passive CAJAL_MPI_BENCH_RANK=1 "

local function launch(k)
  local cmd = format("%s srcdir=%s %s --oversubscribe -n %d %s %s %d %s %d %s </dev/null 2>&1",
                     ENV, srcdir, mpirun, k, exe, arg[0], N, T, k, D or "")
  local p = assert(io.popen(cmd))
  local rows = {}
  for line in p:lines() do
    local r = line:match("^RANK (%d+)")
    if r then
      local row = {}
      for key, val in line:gmatch("(%a+) ([%d%.]+)") do row[key] = tonumber(val) end
      rows[#rows + 1] = row
      print(line)
    end
  end
  p:close()
  assert(#rows == k, format("mpirun -n %d: %d ranks reported", k, #rows))
  return rows
end

local cpu = "?"
for line in io.lines("/proc/cpuinfo") do
  local m = line:match("^model name%s*:%s*(.+)$")
  if m then cpu = m; break end
end
print(format("mpi: CUBA %d neurons, %g s (%d steps), delay %s, 1 thread per rank; %s, %d cores", N, T,
             math.floor(T / 1e-4 + 0.5), D and D .. " ms" or "one step", cpu, cj.threads()))
for _, k in ipairs({ K, 1 }) do
  local rows = launch(k)
  local worst = { wall = 0, update = 0, deliver = 0, exchange = 0, other = 0, bytes = 0, memory = 0 }
  for _, r in ipairs(rows) do for key in pairs(worst) do worst[key] = math.max(worst[key], r[key]) end end
  local steps = rows[1].steps
  print(format("BENCH mpi_K%d_step_us %.2f us (slowest rank: update %.2f, delivery %.2f, exchange %.2f, other %.2f)",
               k, worst.wall / steps * 1e6, worst.update / steps * 1e6, worst.deliver / steps * 1e6,
               worst.exchange / steps * 1e6, worst.other / steps * 1e6))
  print(format("BENCH mpi_K%d_bytes_per_step %.1f bytes received per rank per step (%d spikes in %d steps, "
               .. "%d exchanges)", k, worst.bytes / steps, rows[1].spikes, steps, rows[1].exchanges))
  print(format("BENCH mpi_K%d_memory %.1f MB per rank", k, worst.memory / 1e6))
end
