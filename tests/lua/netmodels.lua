-- tests/lua/netmodels.lua — every model of the library (stdlib/models) in
-- a running network, on both backends: the JIT-compiled kernels and the IR
-- interpreter must give the same spikes and the same state, bit for bit,
-- and no NaN. The models are found by reading the library, so a model
-- added later is tested too: each synapse model drives the first neuron
-- model that has its input, each neuron model is driven by the first
-- synapse model that fits it, and a neuron no synapse fits runs on its own.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values = T.values
local cj = require "cajal"
local core = require "cajal.core"
local compile = require "cajal.compile"

local format = string.format
local srcdir = T.srcdir
local libdir = srcdir .. "/stdlib/models/"

-- The models of the library: { file, kind, name } in file order.
local function library()
  local p = assert(io.popen("ls '" .. libdir .. "'"))
  local models = {}
  for f in p:lines() do
    local name = f:match("^(.*)%.cajal$")
    if name then
      local fh = assert(io.open(libdir .. f))
      local text = "\n" .. fh:read("a")
      fh:close()
      for kind, m in text:gmatch("\n(%a+) ([%w_]+) {") do
        if kind == "neuron" or kind == "synapse" then
          models[#models + 1] = { file = name, kind = kind, name = m }
        end
      end
    end
  end
  p:close()
  return models
end

local models = library()
local imports = {}
do
  local seen = {}
  for _, m in ipairs(models) do
    if not seen[m.file] then seen[m.file] = true; imports[#imports + 1] = format('import "models/%s"', m.file) end
  end
end
local HEAD = table.concat(imports, "\n") .. "\npopulation Drive = poisson(200, rate = 200 Hz)\n"

-- Does `connect Drive -> X syn` (or, for a rate unit, X -> X) compile?
-- A synapse that reads a variable of its pre neuron (sampler_coupling's
-- z_pre) fits a spiking X as X -> X. -> "self", "drive" or nil
local function fits(neuron, synapse, rate)
  local src = HEAD .. format("population X = %s(3)\n", neuron)
  local function try(form)
    local c = form == "self" and format("connect X -> X %s all_to_all weight 0.1\n", synapse)
              or format("connect Drive -> X %s all_to_all\n", synapse)
    return pcall(compile.build, src .. c, "fit.cajal") and form or nil
  end
  if rate then return try("self") end
  return try("drive") or try("self")
end

local function israte(neuron)
  local ok, ir = pcall(compile.build, HEAD .. format("population X = %s(2)\n", neuron), "rate.cajal")
  assert(ok, neuron .. ": " .. tostring(ir))
  return not ir.populations[2].spiking
end

T.test("the library has neurons and synapses", function()
  local n, s = 0, 0
  for _, m in ipairs(models) do
    if m.kind == "neuron" then n = n + 1 else s = s + 1 end
  end
  assert(n >= 10 and s >= 10, format("%d neurons, %d synapses in %s", n, s, libdir))
end)

T.test("every library model runs identically on the JIT and the interpreter", function()
  local neurons, synapses = {}, {}
  for _, m in ipairs(models) do
    if m.kind == "neuron" then neurons[#neurons + 1] = m.name else synapses[#synapses + 1] = m.name end
  end
  local rate = {}
  for _, n in ipairs(neurons) do rate[n] = israte(n) end
  -- pairs: every synapse with a neuron, every neuron with a synapse if any fits
  local pairs_, used = {}, {}
  for _, s in ipairs(synapses) do
    for _, n in ipairs(neurons) do
      local form = fits(n, s, rate[n])
      if form then
        pairs_[#pairs_ + 1] = { n, s, form }
        used[n] = true
        break
      end
    end
  end
  for _, n in ipairs(neurons) do
    if not used[n] then
      local found, form
      for _, s in ipairs(synapses) do
        form = fits(n, s, rate[n])
        if form then found = s; break end
      end
      pairs_[#pairs_ + 1] = { n, found, form }
    end
  end
  if os.getenv("VERBOSE") then for k, p in ipairs(pairs_) do print(k, p[1], p[2]) end end
  local lines = { HEAD }
  local spiking = {}
  for k, p in ipairs(pairs_) do
    local pop = format("X%d", k)
    lines[#lines + 1] = format("population %s = %s(6)", pop, p[1])
    if p[2] then
      if p[3] == "self" then
        lines[#lines + 1] = format("connect %s -> %s %s all_to_all weight 0.1", pop, pop, p[2])
      else
        lines[#lines + 1] = format("connect Drive -> %s %s all_to_all", pop, p[2])
      end
    end
    if not rate[p[1]] then spiking[#spiking + 1] = pop end
  end
  lines[#lines + 1] = "record spikes of " .. table.concat(spiking, ", ")
  local src = table.concat(lines, "\n") .. "\n"
  local nets = {}
  if not core.jit_available() then T.skippart("compiled backend", "no C compiler") end
  for _, backend in ipairs({ "jit", "interp" }) do
    if backend == "interp" or core.jit_available() then
      local net = cj.network(src, { seed = 21, backend = backend })
      net:run(0.2 * cj.second)
      nets[#nets + 1] = net
    end
  end
  local a, b = nets[1], nets[#nets]
  local fired = 0
  for _, pop in ipairs(spiking) do
    local ta, tb = values(a.spikes[pop]:times()), values(b.spikes[pop]:times())
    local ia, ib = values(a.spikes[pop]:indices()), values(b.spikes[pop]:indices())
    assert(#ta == #tb, format("%s: %d vs %d spikes", pop, #ta, #tb))
    for k = 1, #ta do
      assert(ta[k] == tb[k] and ia[k] == ib[k], format("%s: spike %d differs", pop, k))
    end
    if #ta > 0 then fired = fired + 1 end
    if os.getenv("VERBOSE") then print(pop, #ta) end
  end
  -- inhibitory synapses (gaba_a) and slow ones may leave theirs silent
  assert(fired >= 0.75 * #spiking, format("only %d of %d spiking populations fired", fired, #spiking))
  for k, pop in ipairs(a.populations) do
    for _, var in ipairs(pop:varnames()) do
      local x, y = values(pop[var]), values(b.populations[k][var])
      for e = 1, #x do
        assert(x[e] == y[e], format("%s.%s[%d]: %.17g vs %.17g", pop.name, var, e, x[e], y[e]))
        assert(x[e] == x[e], format("%s.%s[%d] is NaN", pop.name, var, e))
      end
    end
  end
  for k, proj in ipairs(a.projections) do
    for _, var in ipairs(proj:varnames()) do
      local x, y = values(proj[var]), values(b.projections[k][var])
      for e = 1, #x do assert(x[e] == y[e], format("%s.%s[%d] differs", proj.name, var, e)) end
    end
  end
  -- every model took part
  local names = {}
  for _, p in ipairs(pairs_) do names[p[1]] = true; if p[2] then names[p[2]] = true end end
  for _, m in ipairs(models) do assert(names[m.name], m.name .. " was not tested") end
end)

T.done()
