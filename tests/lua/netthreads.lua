-- tests/lua/netthreads.lua — threads change no bit: every example network
-- (examples/*.cajal, driven as its script drives it) runs at 1 and at 2
-- threads, on the JIT and on the interpreter, and gives the same spikes and
-- the same state, population and synapse variables alike (threads.h:
-- kernels split in ranges, deliveries and sums by target). The grains are
-- set to 1 so that even these small networks are split everywhere.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values, same = T.values, T.same
local cj = require "cajal"
local core = require "cajal.core"

local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")
local examples = srcdir .. "/examples/"

-- How each example is driven (its .lua script, shortened): load options,
-- a setup of the loaded network, the simulated time in seconds.
local stdp_arrays = { pre = { i = { 0, 1, 2 }, t = { 0.01, 0.02, 0.03 } },
                      forcing = { i = { 0, 1, 2 }, t = { 0.02, 0.01, 0.035 } } }
local DRIVE = {
  brunel = { opts = { params = { NE = 800 }, seed = 2 }, dur = 0.1 },
  coba = { opts = { params = { NE = 400, NI = 100, p = 0.2 }, seed = 8 }, dur = 0.2 },
  cuba = { opts = { params = { NE = 400, NI = 100, p = 0.2 }, seed = 8 }, dur = 0.2 },
  decoding = { opts = { seed = 3, progress = false, params = { speed = 0.5 * cj.Hz } }, dur = 0.5 },
  fi_curve = { opts = {}, dur = 0.3 },
  oja_layer = { opts = { arrays = { data = cj.rng(4):randn(200, 8) } }, dur = 0.2 },
  rate_wta = { opts = {}, dur = 0.2, setup = function(net)
    local h = {}
    for k = 1, net.U.N do h[k] = 0.8 + 0.01 * ((k * 37) % 20) end
    net.U.h = cj.array(h)
  end },
  reliability = { opts = { seed = 5, params = { n_trials = 16 },
                           arrays = { stim = 350e-12 + 250e-12 * cj.rng(5):randn(300) } }, dur = 0.3 },
  ring_attractor = { opts = {}, dur = 0.2, setup = function(net)
    net.R.h = 1 + 0.5 * cj.cos(net.R.theta - 1)
  end },
  stdp = { opts = { params = { K = 3 }, arrays = stdp_arrays }, dur = 0.1 },
}

local function run(name, backend, nthreads)
  local d = DRIVE[name]
  local o = { backend = backend }
  for k, v in pairs(d.opts) do o[k] = v end
  cj.threads(nthreads)
  local net = cj.load(examples .. name .. ".cajal", o)
  if d.setup then d.setup(net) end
  net:run(d.dur * cj.second)
  assert(net.threads == nthreads, string.format("%s: the team had %d threads, %d asked", name, net.threads, nthreads))
  return net
end

local function compare(a, b, what)
  local spikes = 0
  for name, mon in pairs(a.spikes) do
    same(values(b.spikes[name]:times()), values(mon:times()), what .. " " .. name .. " spike times")
    same(values(b.spikes[name]:indices()), values(mon:indices()), what .. " " .. name .. " spike indices")
    spikes = spikes + mon:count()
  end
  for _, group in ipairs(a.populations) do
    local other = b.populations[group.name]
    for _, var in ipairs(group:varnames()) do
      same(values(other[var]), values(group[var]), what .. " " .. group.name .. "." .. var)
    end
  end
  for k, group in ipairs(a.projections) do
    local other = b.projections[k]
    for _, var in ipairs(group:varnames()) do
      same(values(other[var]), values(group[var]), what .. " " .. group.name .. "." .. var)
    end
  end
  return spikes
end

-- fn() at the grains 1 (every kernel split) and without pacing (a busy
-- machine must not put a chunk on one thread: the team size is asserted),
-- the count, grains and pacing restored.
local function split(fn)
  local before = cj.threads()
  local grain = cj.thread_grain()
  local adapt = cj.thread_adapt()
  cj.thread_grain(1)
  cj.thread_adapt(false)
  local ok, err = pcall(fn)
  cj.thread_grain(grain)
  cj.thread_adapt(adapt)
  cj.threads(before)
  assert(ok, err)
end

local function names()
  local out = {}
  local p = assert(io.popen("ls '" .. examples .. "'"))
  for f in p:lines() do
    local n = f:match("^(.+)%.cajal$")
    if n then out[#out + 1] = n end
  end
  p:close()
  table.sort(out)
  return out
end

T.test("threads: every example network identical at 1 and 2 threads, both backends", function()
  if not pcall(cj.threads, 2) then T.skip("built without OpenMP: one thread only") end
  local backends = { "interp" }
  if core.jit_available() then backends[2] = "jit" end
  split(function()
    local list = names()
    assert(#list >= 10, "examples/*.cajal not found in " .. examples)
    for _, name in ipairs(list) do
      assert(DRIVE[name], "examples/" .. name .. ".cajal: add how to drive it to tests/lua/netthreads.lua")
      for _, backend in ipairs(backends) do
        local what = name .. " (" .. backend .. ")"
        local one, two = run(name, backend, 1), run(name, backend, 2)
        compare(one, two, what)
      end
    end
  end)
end)

-- Heterogeneous delays (deliveries from per-step event lists, split by
-- filtering on the target) and plastic synapses whose on_pre writes the
-- synapse and reads the traces of both sides.
local DELAYS = [[
  import "models/lif"
  import "models/synapses"
  import "models/stdp"
  population In = poisson(300, rate = 25 Hz)
  population E = lif(400, v = uniform(-70 mV, -52 mV), I_e = 250 pA)
  connect In -> E stdp(g_max = 2 nS) with probability 0.2 delay uniform(0.5 ms, 5 ms) as Plastic
  connect E -> E exp_current with probability 0.05 weight 100 pA delay uniform(1 ms, 3 ms) as Rec
  record spikes of E
]]

T.test("threads: heterogeneous delays and plasticity identical at 1 and 3 threads", function()
  if not pcall(cj.threads, 2) then T.skip("built without OpenMP: one thread only") end
  split(function()
    for _, backend in ipairs(core.jit_available() and { "interp", "jit" } or { "interp" }) do
      local nets = {}
      for k, nt in ipairs({ 1, 3 }) do
        cj.threads(nt)
        nets[k] = cj.network(DELAYS, { seed = 7, backend = backend })
        nets[k]:run(0.3 * cj.second)
        assert(nets[k].threads == nt, "delays: a team of " .. nets[k].threads .. ", " .. nt .. " asked")
      end
      local spikes = compare(nets[1], nets[2], "delays (" .. backend .. ")")
      assert(spikes > 100, "delays: too few spikes (" .. spikes .. ")")
    end
  end)
end)

-- A fixed weight (x += K) is added straight from the rows of the spiking
-- neurons (threads.c: no list of synapses, no kernel call); the same weight
-- kept per synapse goes through the on_pre kernel. Both must give the same
-- bits, on one thread and split by target at 2 and 3, on both backends.
T.test("threads: a fixed weight added from the rows equals the same weight per synapse", function()
  local f = assert(io.open(examples .. "cuba.cajal"))
  local cuba = f:read("a")
  f:close()
  local function variant(perSynapse)
    if not perSynapse then return cuba end
    local src = cuba:gsub("connect E %-> E, I { on_spike: ge %+= 1%.62 mV }", "connect E -> E, I weight_e()")
                    :gsub("connect I %-> E, I { on_spike: gi %+= %-9 mV }", "connect I -> E, I weight_i()")
    assert(src ~= cuba and not src:find("on_spike"), "the CUBA source changed: update this test")
    return src .. "\nsynapse weight_e { state { w = 1.62 mV } on_pre { ge_post += w } }\n"
               .. "synapse weight_i { state { w = -9 mV } on_pre { gi_post += w } }\n"
  end
  local threads = pcall(cj.threads, 2) and { 1, 2, 3 } or { 1 }
  split(function()
    for _, backend in ipairs(core.jit_available() and { "interp", "jit" } or { "interp" }) do
      for _, nt in ipairs(threads) do
        local nets = {}
        for k = 1, 2 do
          cj.threads(nt)
          nets[k] = cj.network(variant(k == 2), { seed = 8, backend = backend, progress = false,
                                                  params = { NE = 400, NI = 100, p = 0.2 } })
          nets[k]:run(0.2 * cj.second)
          assert(nets[k].threads == nt, "a team of " .. nets[k].threads .. ", " .. nt .. " asked")
        end
        local spikes = compare(nets[1], nets[2], string.format("fixed vs per-synapse weight (%s, %d threads)", backend, nt))
        assert(spikes > 100, "too few spikes (" .. spikes .. ")")
      end
    end
  end)
  if #threads == 1 then T.skip("built without OpenMP: compared on one thread only") end
end)

-- Every way a step shares its work among threads (threads.h), in one
-- network of the IR: a Poisson population (its spikes made on thread 0), a
-- delivery split by target and one that writes through `pre` (on thread 0
-- between barriers), summed coupling reading the pre side, a synapse
-- update split by synapse and one that writes a neuron variable (so P's
-- update and threshold do not fuse), Poisson drives, a drive on some
-- neurons, and reset. Neuron ranges are cut at multiples of 64: P's 700
-- neurons give each of 3 threads a part.
local function coupled()
  return {
    abi = 2, dt = 1e-4, seed = 11, name = "coupled",
    kernels = {
      { id = 1, name = "P_update", domain = "neurons", ntmp = 1,
        refs = { { "pop", 2, 1 }, { "pop", 2, 2 }, { "pop", 2, 4 } },
        body = { { "let", 0, { "*", { "dt" }, { "+", { "num", 180 }, { "+", { "var", 1, "i" },
                   { "*", { "num", 40 }, { "rand", "normal", 0 } } } } } },
                 { "add", 0, "i", { "tmp", 0 } }, { "add", 2, "i", { "var", 0, "i" } } } },
      { id = 2, name = "P_thr", domain = "neurons", kind = "threshold",
        refs = { { "pop", 2, 1 } }, cond = { ">", { "var", 0, "i" }, { "num", 1 } } },
      { id = 3, name = "P_reset", domain = "spikes",
        refs = { { "pop", 2, 1 } }, body = { { "set", 0, "i", { "*", { "num", 0.1 }, { "rand", "uniform", 0 } } } } },
      { id = 4, name = "GP_pre", domain = "events",
        refs = { { "pop", 2, 1 }, { "proj", 1, 1 } },
        body = { { "add", 0, "post", { "var", 1, "s" } } } },
      { id = 5, name = "GP_init", domain = "synapses",
        refs = { { "proj", 1, 1 } }, body = { { "set", 0, "s", { "*", { "num", 0.02 }, { "rand", "uniform", 0 } } } } },
      { id = 6, name = "PP_pre", domain = "events",
        refs = { { "pop", 2, 1 }, { "pop", 2, 3 }, { "proj", 2, 1 } },
        body = { { "add", 0, "post", { "var", 2, "s" } }, { "add", 1, "pre", { "num", 1 } } } },
      { id = 7, name = "PP_sum", domain = "synapses", kind = "sum",
        refs = { { "pop", 2, 2 }, { "pop", 2, 1 } }, value = { "*", { "num", 0.5 }, { "var", 1, "pre" } } },
      { id = 8, name = "PP_update", domain = "synapses",
        refs = { { "proj", 2, 1 } }, body = { { "set", 0, "s", { "*", { "var", 0, "s" }, { "num", 0.9999 } } } } },
      { id = 9, name = "PP_init", domain = "synapses",
        refs = { { "proj", 2, 1 } }, body = { { "set", 0, "s", { "-", { "num", 0.01 }, { "*", { "num", 0.02 }, { "rand", "uniform", 0 } } } } } },
      { id = 10, name = "QP_update", domain = "synapses",
        refs = { { "pop", 2, 4 } }, body = { { "add", 0, "post", { "num", 1e-6 } } } },
    },
    populations = {
      { name = "G", n = 300, kind = "poisson", rate = 40 },
      { name = "P", n = 700, vars = { { name = "x" }, { name = "I" }, { name = "count" }, { name = "acc" } },
        update = 1, threshold = 2, reset = 3, refractory = 0.002,
        poisson_inputs = { { var = 1, n = 50, rate = 20, weight = 0.01 } },
        drives = { { var = 2, indices = { 3, 450, 699 }, values = { { 0.5, -0.5, 2 }, { 0, 0, 0 } }, interval = 0.01 } } },
    },
    projections = {
      { name = "GP", pre = 1, post = 2, rule = { kind = "prob", p = 0.1 }, delay = 3,
        vars = { { name = "w" } }, init = 5, on_pre = 4 },
      { name = "PP", pre = 2, post = 2, rule = { kind = "prob", p = 0.05 }, delay = 1,
        vars = { { name = "w" } }, init = 9, on_pre = 6, update = 8, summed = { { post_var = 2, kernel = 7 } } },
      { name = "QP", pre = 1, post = 2, post_range = { 400, 699 }, rule = { kind = "one_to_one" }, delay = 1, update = 10 },
    },
    monitors = { { kind = "spikes", pop = 2 }, { kind = "spikes", pop = 1 } },
  }
end

T.test("threads: every kind of step work identical at 1, 2 and 3 threads (interpreter)", function()
  if not pcall(cj.threads, 2) then T.skip("built without OpenMP: one thread only") end
  split(function()
    local ref, spikes
    for _, nt in ipairs({ 1, 2, 3 }) do
      cj.threads(nt)
      local net = core.net_new(coupled())
      net:run(2000)
      assert(net:info().threads == nt, "coupled: a team of " .. net:info().threads .. ", " .. nt .. " asked")
      local P = {}
      for v = 1, 4 do P[v] = values(net:state("P", v)) end
      local times, idx = net:monitor(1)
      local got = { P = P, w = values(net:synvar("PP", 1)), times = values(times), idx = values(idx),
                    ls = values(net:lastspike("P")) }
      if not ref then
        ref, spikes = got, #got.idx
        assert(spikes > 500, "coupled: too few spikes (" .. spikes .. ")")
      else
        for v = 1, 4 do same(got.P[v], ref.P[v], nt .. " threads: P var " .. v) end
        same(got.w, ref.w, nt .. " threads: PP.w")
        same(got.times, ref.times, nt .. " threads: spike times")
        same(got.idx, ref.idx, nt .. " threads: spike indices")
        same(got.ls, ref.ls, nt .. " threads: lastspike")
      end
    end
  end)
end)

-- A non-finite value is found in the ranges of the threads, and reported
-- as the first one (population, variable, neuron) at any thread count:
-- y of neuron 100 (thread 0's range) turns infinite in the same step as
-- x of neuron 450 (thread 1's), and x comes first.
T.test("threads: the first non-finite value is the same at 1 and 2 threads", function()
  if not pcall(cj.threads, 2) then T.skip("built without OpenMP: one thread only") end
  local ir = {
    abi = 2, dt = 1e-4, name = "bad",
    kernels = { { id = 1, name = "P_update", domain = "neurons",
      refs = { { "pop", 1, 1 }, { "pop", 1, 2 } },
      body = { { "if", { "and", { ">=", { "t" }, { "num", 0.0149 } }, { "==", { "i" }, { "num", 450 } } },
                 { { "set", 0, "i", { "/", { "num", 0 }, { "num", 0 } } } }, {} },
               { "if", { "and", { ">=", { "t" }, { "num", 0.0149 } }, { "==", { "i" }, { "num", 100 } } },
                 { { "set", 1, "i", { "/", { "num", 1 }, { "num", 0 } } } }, {} } } } },
    populations = { { name = "P", n = 500, vars = { { name = "x" }, { name = "y" } }, update = 1 } },
  }
  split(function()
    for _, nt in ipairs({ 1, 2 }) do
      cj.threads(nt)
      local net = core.net_new(ir)
      local msg = T.checkerror("variable 'x', neuron 450 is NaN at step 200", net.run, net, 1000)
      assert(net:step() == 200, nt .. " threads: " .. msg)
    end
  end)
end)

T.test("threads: the count is set, read and checked", function()
  local before = cj.threads()
  assert(math.type(before) == "integer" and before >= 1)
  assert(cj.threads(1) == 1 and cj.threads() == 1)
  local ok, msg = pcall(cj.threads, 0)
  assert(not ok and tostring(msg):find("a count from 1 to 256 expected, got 0", 1, true), msg)
  ok, msg = pcall(cj.threads, 257)
  assert(not ok and tostring(msg):find("got 257", 1, true), msg)
  ok = pcall(cj.threads, "two")
  assert(not ok)
  cj.threads(before)
  assert(cj.threads() == before)
end)

T.test("threads: CAJAL_THREADS sets the default, a bad value is refused with a warning", function()
  local cajal = arg[-1] or "cajal"
  local function count(env)
    local p = assert(io.popen(env .. " '" .. cajal .. "' -e 'print(require(\"cajal\").threads())' 2>&1"))
    local out = p:read("a")
    p:close()
    return out
  end
  if not pcall(cj.threads, 2) then T.skip("built without OpenMP") end
  local out = count("CAJAL_THREADS=3")
  assert(out:match("^3%s*$"), out)
  out = count("CAJAL_THREADS=zero")
  assert(out:find("CAJAL_THREADS='zero' ignored", 1, true) and out:match("\n?(%d+)%s*$"), out)
end)

T.done()
