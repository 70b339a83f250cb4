-- tests/lua/netexamples.lua — the examples: the CUBA and COBA benchmarks
-- against Brian2's rates for the same models, JIT and interpreter identical
-- on every example model, and every example script runs and says what it
-- shows.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values, same = T.values, T.same
local cj = require "cajal"

local format = string.format
local srcdir = T.srcdir
local examples = srcdir .. "/examples/"

---------------------------------------------------------------------------
-- Brette et al. (2007) benchmarks against Brian2
---------------------------------------------------------------------------
-- A network's rate depends on its random connectivity and initial state, so
-- the two simulators are compared as distributions over networks. Brian2
-- 2.5.1 (../shared/peers/brian2_bench.py, cython target, 1 s, seeds 1-14 and
-- 12345) gave, mean and sd over the 15 networks:
--   CUBA  E 5.609 sd 0.259   I 5.626 sd 0.065
--   COBA  E 19.58 sd 1.26    I 19.31 sd 0.50
-- (cajal over seeds 1-15: CUBA E 5.54 sd 0.26, I 5.62 sd 0.06; COBA E 18.89
-- sd 1.51, I 19.17 sd 0.68). Here 4 cajal networks are averaged; the
-- difference of the two means has sd s = sqrt(sd_c^2/4 + sd_b^2/15) (sd_c
-- taken as the larger of the two sds), and must be below 4 s:
--   CUBA E 0.59 Hz, I 0.15 Hz;  COBA E 3.4 Hz, I 1.5 Hz.
local BRIAN = {
  -- { Brian2's mean, the larger of the two sds }
  cuba = { E = { 5.609, 0.263 }, I = { 5.626, 0.065 } },
  coba = { E = { 19.58, 1.513 }, I = { 19.31, 0.680 } },
}

local function compare(model)
  local seeds = { 101, 202, 303, 404 }
  local sum = { E = 0, I = 0 }
  for _, seed in ipairs(seeds) do
    local net = cj.load(examples .. model .. ".cajal", { seed = seed })
    assert(net.E.N == 3200 and net.I.N == 800)
    net:run(1 * cj.second)
    sum.E = sum.E + net.spikes.E:rate().value
    sum.I = sum.I + net.spikes.I:rate().value
  end
  for _, pop in ipairs({ "E", "I" }) do
    local mean = sum[pop] / #seeds
    local ref, sd = BRIAN[model][pop][1], BRIAN[model][pop][2]
    local tol = 4 * math.sqrt(sd * sd / #seeds + sd * sd / 15)
    assert(math.abs(mean - ref) < tol, format("%s %s: cajal %.3f Hz vs Brian2 %.3f Hz (tolerance %.3f)",
      model, pop, mean, ref, tol))
  end
end

T.test("CUBA (benchmark 2) rates agree with Brian2", function() compare("cuba") end)
T.test("COBA (benchmark 1) rates agree with Brian2", function() compare("coba") end)

T.test("CUBA structure: in-degree and weights as in Brian2's CUBA.py", function()
  local net = cj.load(examples .. "cuba.cajal", { seed = 3 })
  -- p = 0.02: each projection has about p * Npre * Npost synapses (binomial)
  for _, p in ipairs({ { "E->E", 3200, 3200 }, { "E->I", 3200, 800 }, { "I->E", 800, 3200 }, { "I->I", 800, 800 } }) do
    local n = net.projections[p[1]].N
    local mu = 0.02 * p[2] * p[3]
    local sd = math.sqrt(mu * 0.98)
    assert(math.abs(n - mu) < 5 * sd, format("%s: %d synapses, expected %.0f +- %.0f", p[1], n, mu, 5 * sd))
  end
  -- initial v uniform in [Vr, Vt) = [-60, -50) mV
  local v = net.E.v
  assert(v:min().value >= -0.060 and v:max().value < -0.050)
  assert(math.abs(v:mean().value + 0.055) < 0.0005)
end)

---------------------------------------------------------------------------
-- The two backends agree on every example model
---------------------------------------------------------------------------
-- Same seed, same model: the JIT-compiled kernels and the IR interpreter
-- must give the same spikes and the same state, bit for bit (IR.md).
local function both(path, opts, setup, dur)
  local nets = {}
  for _, backend in ipairs({ "jit", "interp" }) do
    local o = { backend = backend }
    for k, v in pairs(opts or {}) do o[k] = v end
    local net = cj.load(path, o)
    if setup then setup(net) end
    net:run(dur)
    nets[backend] = net
  end
  return nets.jit, nets.interp
end

local function samespikes(a, b, what)
  for name, mon in pairs(a.spikes) do
    same(values(b.spikes[name]:times()), values(mon:times()), what .. " " .. name .. " times")
    same(values(b.spikes[name]:indices()), values(mon:indices()), what .. " " .. name .. " indices")
  end
end

local function samestate(a, b, what)
  for _, pop in ipairs(a.populations) do
    local ip = b.populations[pop.name]
    for _, var in ipairs(pop:varnames()) do
      same(values(ip[var]), values(pop[var]), what .. " " .. pop.name .. "." .. var)
    end
  end
end

T.test("JIT and interpreter identical on every example model", function()
  local okjit, why = (require "cajal.core").jit_available()
  if not okjit then T.skip("no C compiler: " .. tostring(why)) end
  local small = { params = { NE = 400, NI = 100, p = 0.2 }, seed = 8 }
  for _, m in ipairs({ "cuba", "coba" }) do
    local j, i = both(examples .. m .. ".cajal", small, nil, 0.3 * cj.second)
    assert(j.spikes.E:count() > 0, m .. ": no spikes")
    samespikes(j, i, m)
    samestate(j, i, m)
  end
  local j, i = both(examples .. "fi_curve.cajal", nil, nil, 0.3 * cj.second)
  assert(j.spikes.F:count() > 0)
  samespikes(j, i, "fi_curve")
  same(values(i.state.F.v:values()), values(j.state.F.v:values()), "fi_curve v trace")
  local function inputs(net)
    local h = {}
    for k = 1, net.U.N do h[k] = 0.8 + 0.01 * ((k * 37) % 20) end
    net.U.h = cj.array(h)
  end
  j, i = both(examples .. "rate_wta.cajal", nil, inputs, 0.2 * cj.second)
  samestate(j, i, "rate_wta")
  local function cue(net) net.R.h = 1 + 0.5 * cj.cos(net.R.theta - 1) end
  j, i = both(examples .. "ring_attractor.cajal", nil, cue, 0.2 * cj.second)
  samestate(j, i, "ring")
  local arrays = { pre = { i = { 0, 1, 2 }, t = { 0.01, 0.02, 0.03 } },
                   forcing = { i = { 0, 1, 2 }, t = { 0.02, 0.01, 0.035 } } }
  j, i = both(examples .. "stdp.cajal", { params = { K = 3 }, arrays = arrays }, nil, 0.1 * cj.second)
  samespikes(j, i, "stdp")
  same(values(i.S.w), values(j.S.w), "stdp weights")
  assert(values(j.S.w)[1] ~= 0.5, "stdp: no plasticity")
end)

---------------------------------------------------------------------------
-- The example scripts
---------------------------------------------------------------------------
-- Each runs as `cajal examples/NAME.lua` (in a scratch folder, where it
-- writes its PNG) and prints what it shows.
local function runexample(name, ...) return T.example(name, { ... }) end

T.test("examples/cuba.lua and coba.lua print cajal's and Brian2's rates", function()
  local out = runexample("cuba", "0.3", "5")
  assert(out:find("cajal, seed 5, 0.3 s: E %d+%.%d+ Hz, I %d+%.%d+ Hz"), out)
  assert(out:find("Brian2 2.5.1", 1, true), out)
  out = runexample("coba", "0.3", "5")
  assert(out:find("cajal, seed 5, 0.3 s: E %d+%.%d+ Hz"), out)
  assert(out:find("Brian2", 1, true), out)
end)

T.test("examples/fi_curve.lua stays within one step of the analytic period", function()
  local out = runexample("fi_curve")
  local worst = tonumber(out:match("largest shortfall of the mean period: ([%d.]+) steps"))
  assert(worst and worst >= 0 and worst <= 1, out)
end)

T.test("examples/rate_wta.lua, ring_attractor.lua and stdp.lua", function()
  local out = runexample("rate_wta")
  local best, arg = out:match("the winner is unit (%d+) %(argmax r = (%d+)%)")
  assert(best and best == arg, out)
  out = runexample("ring_attractor")
  assert(out:find("the bump persists 800 ms after the cue, centred at 90.00 degrees", 1, true), out)
  out = runexample("ring_attractor", "1.5")
  assert(out:find("no bump without the cue", 1, true), out)
  out = runexample("stdp")
  local worst = tonumber(out:match("largest difference from the formula: (%S+)"))
  assert(worst and worst < 1e-12, out)
end)

-- Brunel (2000), model A, regime C (g = 5, eta = 2), with its external
-- Poisson inputs as a Poisson drive. Brunel's mean-field rate (eq. 21, the
-- diffusion approximation of an infinite sparse network; computed by the
-- script) is 37.95 Hz. cajal over seeds 1-4 (0.3 s, rates after 0.1 s):
-- 37.34, 37.14, 37.94, 36.25 Hz, and 37.27, 36.88 Hz (seeds 1-2, 1 s, rates
-- after 0.2 s); Brian2 2.5.1 on the same network with PoissonInput and
-- delay D - dt (seeds 1-3, 1 s, after 0.2 s): 36.85, 37.11, 37.02 Hz (at
-- NE = 2000 both give 74.2-74.6 Hz). The rate must be within 6 % of the
-- theory, E and I within 2 % of each other (they receive the same input
-- statistics), and the firing irregular (mean CV of the ISIs > 0.3).
T.test("examples/brunel.lua: model A fires at Brunel's mean-field rate", function()
  local out = runexample("brunel", "0.3")
  local rE, rI, cv = out:match("E ([%d.]+) Hz, I ([%d.]+) Hz; mean CV of the ISIs ([%d.]+)")
  local theory = tonumber(out:match("mean%-field theory %(Brunel 2000, eq%. 21%): ([%d.]+) Hz"))
  rE, rI, cv = tonumber(rE), tonumber(rI), tonumber(cv)
  assert(rE and rI and cv and theory, out)
  T.near(theory, 37.95, 0.01, "the script's mean-field rate (scipy gives 37.9497 Hz)")
  assert(math.abs(rE - theory) < 0.06 * theory, out)
  assert(math.abs(rE - rI) < 0.02 * rE, out)
  assert(cv > 0.3, out)
end)

T.test("JIT and interpreter identical on the Brunel example (Poisson drive, delays)", function()
  if not (require "cajal.core").jit_available() then T.skip("no C compiler: only the interpreter can run") end
  local j, i = both(examples .. "brunel.cajal", { params = { NE = 800 }, seed = 2 }, nil, 0.1 * cj.second)
  assert(j.spikes.E:count() > 100, "brunel: too few spikes")
  samespikes(j, i, "brunel")
  samestate(j, i, "brunel")
end)

T.done()
