-- tests/bench/tiered.lua — tiered start (issue 11): CUBA 4000 x 1 s from a
-- cold kernel cache (a fresh CAJAL_CACHE per run), three ways:
--   tiered   the default: the interpreter at once, the compiled kernels
--            when the background compile has loaded them
--   jit      CAJAL_TIERED=0: wait for the compiler, then run compiled
--   interp   CAJAL_JIT=off: the interpreter only
-- Each run is a fresh cajal process. Printed: time to the first step (from
-- the start of the script to the end of net:run of one step: load,
-- compile when waited for, build) and total wall time of the process (its
-- exit included: a tiered process whose script ends before the compiler
-- waits for it there, so the cache is warm next time). Runs alternate
-- between the modes; medians of BENCH_TIERED_REPS (default 5), pinned to
-- one core with taskset when available (the compiler then shares it).
local B = dofile(((arg[0]:match("^(.*)/[^/]*$")) or ".") .. "/lib/bench.lua")
local format = string.format

if arg[1] == "--child" then
  local cj = require "cajal"
  local t0 = cj.clock()
  local net = cj.load(B.SRC .. "/examples/cuba.cajal", { seed = 1, progress = false })
  net:run(net.dt)
  local first = cj.clock() - t0
  local b0 = net.backend
  net:run(1 * cj.second - net.dt)
  print(format("CHILD first=%.4f run=%.4f start=%s end=%s", first, cj.clock() - t0, b0, net.backend))
  return
end

local reps = tonumber(os.getenv("BENCH_TIERED_REPS")) or 5
local pin = os.execute("command -v taskset >/dev/null 2>&1") and "taskset -c 1 " or ""
local modes = {
  { "tiered", "" }, { "jit", "CAJAL_TIERED=0 " }, { "interp", "CAJAL_JIT=off " },
}
local res = {}
local function now()
  local p = io.popen("date +%s.%N")
  local s = tonumber(p:read("l"))
  p:close()
  return s
end
for r = 1, reps do
  for _, m in ipairs(modes) do
    local cache = os.tmpname()
    os.remove(cache)
    local cmd = format("env -u CAJAL_JIT -u CAJAL_TIERED %sCAJAL_CACHE=%s %s%s %s --child 2>&1", m[2], B.shq(cache),
                       pin, B.shq(B.cajal_path()), B.shq(arg[0]))
    local t0 = now()
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    local wall = now() - t0
    os.execute("rm -rf " .. B.shq(cache))
    local line = out:match("CHILD ([^\n]*)")
    if not line then io.stderr:write("tiered bench child failed:\n", out, "\n"); os.exit(1) end
    local first, run, b0, b1 = line:match("first=(%S+) run=(%S+) start=(%S+) end=(%S+)")
    res[m[1]] = res[m[1]] or { first = {}, run = {}, wall = {}, b = b0 .. "->" .. b1 }
    local t = res[m[1]]
    t.first[#t.first + 1], t.run[#t.run + 1], t.wall[#t.wall + 1] = tonumber(first), tonumber(run), wall
  end
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end

print(format("tiered start, CUBA 4000 x 1 s, cold cache, %d alternated runs each, medians (%s%s)", reps,
             B.cpu_model(), pin ~= "" and ", pinned to one core" or ""))
print(format("%-8s %14s %14s %12s  %s", "mode", "first step (s)", "script (s)", "process (s)", "backend"))
for _, m in ipairs(modes) do
  local t = res[m[1]]
  local f, r, w = median(t.first), median(t.run), median(t.wall)
  print(format("%-8s %14.3f %14.3f %12.3f  %s", m[1], f, r, w, t.b))
  print(format("BENCH tiered_%s_first_step_s %.4f s", m[1], f))
  print(format("BENCH tiered_%s_wall_s %.4f s", m[1], w))
end
