-- tests/lua/nettrust.lua — no silent wrong results (issue 10): what a model
-- means is what runs, or the compiler says why not. Constants that fold to
-- infinities, monitors that lose slices, writes to inputs, Poisson rates a
-- step cannot carry, per-neuron parameter overrides, the time stamp of state
-- monitors, the Poisson drive (Brian2's PoissonInput) against theory, and the
-- conventions ported from Brian2 (delays, refractoriness, heaviside, round).
-- The located errors themselves are golden cases in tests/grammar/invalid.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values, same = T.values, T.same
local cj = require "cajal"
local core = require "cajal.core"

local format = string.format
local exp, log, sqrt, abs, floor = math.exp, math.log, math.sqrt, math.abs, math.floor

local BACKENDS = { "interp" }
if core.jit_available() then BACKENDS[2] = "jit" end

local function net(src, opts)
  local o = { seed = 1, progress = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return cj.network(src, o)
end

---------------------------------------------------------------------------
-- 1. Constants that are not finite are load-time errors
---------------------------------------------------------------------------
-- (the golden cases give the file:line:col and caret of each)
T.test("non-finite constants, overrides and clauses are refused when the model loads", function()
  local lif = 'import "models/lif"\n'
  -- the reproducer of the issue: k folds to inf and every neuron would fire at 1/t_ref
  T.checkerror("division by zero: 'x0' is 0 s", net, lif .. [[
parameters { x0 = 0 ms; k = 1 mV * (1 ms / x0) }
population P = lif(10, E_L = -70 mV + k)]])
  T.checkerror("division by zero", net, "neuron m { parameters { x = 1 / 0 } state { v = 0 } }\npopulation P = m(1)")
  -- tau_m = 0 ms was caught only at step 100 of a run
  local e = T.checkerror("'tau_m' is 0 s here, and the model divides by it", net, lif .. "population P = lif(10, tau_m = 0 ms)")
  assert(e:find("<string>:2:32:", 1, true), e)
  T.checkerror("'tau_m' is 0 s (set by opts.params.tau_m)", net, lif .. "population P = lif(10)",
    { params = { tau_m = 0 } })
  -- clauses: a weight, a delay, a rate
  T.checkerror("infinite", net, lif .. "population P = lif(4)\nconnect P -> P { on_pre: v_post += w } all_to_all weight exp(800) * 1 mV")
  T.checkerror("not a number", net, lif .. "population P = lif(4)\nconnect P -> P { on_pre: v_post += 1 mV } all_to_all delay sqrt(-1) * 1 ms")
  T.checkerror("this expression is infinite", net, "population P = poisson(3, rate = 10 Hz * exp(1e3))")
  -- an `if` whose constant condition avoids the division is fine
  local n = net([[
parameters { tau = 0 ms }
neuron m { state { v = 1 mV } equations { dv/dt = -v / (10 ms) } }
population P = m(1, v = if tau > 0 ms then 1 mV * (1 ms / tau) else 2 mV)]])
  T.near(n.P.v[1].value, 0.002, 0)
end)

T.test("literals that underflow and values beyond the runtime's limits are located errors", function()
  T.checkerror("'1e-400' is too small for double precision", net,
    "neuron m { parameters { tau = 1e-400 s } state { v = 0 } }\npopulation P = m(1)")
  T.checkerror("'1e-310' is too small", net, "neuron m { parameters { a = 1e-310 } state { v = 0 } }\npopulation P = m(1)")
  T.checkerror("too small", net, "neuron m { parameters { a = 1e-300 fF } state { v = 0 } }\npopulation P = m(1)")
  -- 0 written in any way stays 0
  net("neuron m { parameters { a = 0e-400; b = 0.000 } state { v = 0 } }\npopulation P = m(1)")
  local m = "neuron m { state { v = 0 mV } spike when v > 1 mV }\n"
  T.checkerror("<string>:2:18: the population size must be a whole number in 1..2147483647", net,
    m .. "population P = m(2147483648)")
  T.checkerror("dt must be in (0, 1e+06] s", net, "dt = 1e300 s\n" .. m .. "population P = m(1)")
  T.checkerror("option 'dt'", net, m .. "population P = m(1)", { dt = 1e300 })
  T.checkerror("a delay of 1e+16 s is 1e+20 steps", net,
    m .. "population P = m(3)\nconnect P -> P { on_pre: v_post += 1 mV } all_to_all delay 1e16 s")
  T.checkerror("seed must be a whole number in 0 .. 2^63 - 1", net, "seed = 1e300\n" .. m .. "population P = m(1)")
  T.checkerror("every (1e+20 s) is", net, m .. "population P = m(1)\nrecord v of P every 1e20 s")
  -- a drawn delay out of range: the runtime names the synapse, without internal file names
  local e = T.checkerror("has delay", net,
    m .. "population P = m(3)\nconnect P -> P { on_pre: v_post += 1 mV } all_to_all delay 1e16 s * rand()")
  assert(e:match("^cj%.network: projection 'P%->P': synapse"), e)
  -- the synapse's neurons, the pre one found from the CSR rows (no kernel
  -- reads i, so no pre[] is kept): one-to-one on 4 neurons, the delay of
  -- synapse s -> s out of range from s = 2 on
  e = T.checkerror("has delay", net, m .. "population P = m(4)\n"
    .. "connect P -> P { on_pre: v_post += 1 mV } one_to_one delay 1 ms + 1e16 s * floor(j / 2)")
  local s, i, j = e:match("synapse (%d+) %((%d+) %-> (%d+)%)")
  s, i, j = tonumber(s), tonumber(i), tonumber(j)
  assert(s == 2 and i == 2 and j == 2, e)
end)

---------------------------------------------------------------------------
-- 2. Every record statement's data is reachable
---------------------------------------------------------------------------
T.test("slices of one variable are all recorded and reachable", function()
  for _, be in ipairs(BACKENDS) do
    local n = net([[
neuron ramp { state { v = i * 1 mV } equations { dv/dt = (i + 1) * 1 V/s } }
population H = ramp(50)
record v of H[10], H[40] as hv
record v of H[3]
record v of H[45]
record v of H[7] every 0.5 ms
record spikes of H[0..9]
record spikes of H[20..29]
]], { backend = be })
    n:run(1 * cj.ms)
    -- one statement, two slices: one monitor with both columns
    same(values(n.hv.v:indices()), { 11, 41 }, "hv columns")
    -- two statements without a name and with the same every: merged, ascending
    same(values(n.state.H.v:indices()), { 11, 41 }, "state.H.v is the first (hv)")
    local merged = n.state.H["v#2"]
    same(values(merged:indices()), { 4, 46 }, "H[3] and H[45] in one monitor")
    local rows = merged:values()
    assert(rows.shape[1] == 10 and rows.shape[2] == 2)
    for r = 1, 10 do   -- v(t) = i mV + (i + 1) V/s * t, at t = (r - 1) dt
      local t = (r - 1) * 1e-4
      T.near(rows[r][1].value, 3e-3 + 4 * t, 1e-15, "H[3] row " .. r)
      T.near(rows[r][2].value, 45e-3 + 46 * t, 1e-15, "H[45] row " .. r)
    end
    assert(#n.state.H["v#3"]:times() == 2)            -- every 0.5 ms: t = 0, 0.5 ms
    -- all monitors in statement order
    assert(#n.monitors == 5, #n.monitors)
    assert(n.monitors[2] == merged and n.monitors[3] == n.state.H["v#3"])
    assert(n.spikes.H ~= nil and n.spikes["H#2"] ~= nil and n.monitors[5] == n.spikes["H#2"])
    assert(tostring(n):find("monitor    v of H[10, 40] as hv", 1, true), tostring(n))
  end
end)

T.test("a slice of a projection's synapses records those synapses only", function()
  local n = net([[
neuron m { state { v = 0 mV } spike when v > 1 mV }
population P = m(4)
connect P -> P { state { w = 1 mV } on_pre: v_post += w } all_to_all weight (i * 4 + j) * 1 mV as S
record w of S[2..5], S[9]
]])
  n:run(0.2 * cj.ms)
  local m = n.monitors[1]
  same(values(m:indices()), { 3, 4, 5, 6, 10 }, "synapse columns")
  local w = values(m:values()[1])
  for k, x in ipairs({ 2, 3, 4, 5, 9 }) do T.near(w[k], x * 1e-3, 1e-18, "recorded weight " .. k) end
  T.checkerror("needs its last index", net, [==[
neuron m { state { v = 0 mV } spike when v > 1 mV }
population P = m(4)
connect P -> P { state { w = 1 mV } on_pre: v_post += w } all_to_all as S
record w of S[2..]]==])
end)

---------------------------------------------------------------------------
-- 3. Writing an input is an error that says how to inject current
---------------------------------------------------------------------------
T.test("writing an input, a definition or a hidden variable is refused", function()
  local n = net([[
import "models/hh"
population H = hh(5, I_e = i * 20 pA)
neuron d { state { v = 0 mV } equations { dv/dt = -v / (10 ms); twice = 2 * v } }
population D = d(2)
record twice of D
]])
  local e = T.checkerror("H.I_syn: 'I_syn' is an input", function()
    n.H.I_syn = cj.linspace(0, 3000, 5) * cj.pA
  end)
  assert(e:find("I_e = i * 20 pA", 1, true) and e:find("drive I_syn of H from arrays", 1, true), e)
  T.checkerror("'twice' is a definition", function() n.D.twice = 1 * cj.mV end)
  -- the per-neuron parameter that the message suggests can be written
  n.H.I_e = cj.linspace(0, 3000, 5) * cj.pA
  T.near(n.H.I_e[5].value, 3e-9, 1e-21)
  n:run(50 * cj.ms)
end)

---------------------------------------------------------------------------
-- 4. Poisson rates a step cannot carry; the Poisson drive
---------------------------------------------------------------------------
T.test("Poisson groups refuse rates above 1/dt instead of saturating", function()
  -- poisson(100, rate = 20 kHz) at dt = 0.1 ms gave 10 kHz
  T.checkerror("the rate of a Poisson group (20000 Hz) is more than one spike per step", net,
    "population P = poisson(100, rate = 20 kHz)")
  -- 10 kHz is exactly one spike per step: allowed, and exact
  local n = net("population P = poisson(10, rate = 10 kHz)\nrecord spikes of P")
  n:run(1 * cj.ms)
  assert(n.spikes.P:count() == 100)
  for _, be in ipairs(BACKENDS) do
    -- a rate per neuron: checked when the network is built ...
    T.checkerror("the Poisson rate of neuron 299 is 14950 Hz at t = 0 s", net,
      "population P = poisson(300, rate = i * 50 Hz)", { backend = be })
    -- ... and, when it varies in time, at the step it first exceeds 1/dt
    local m = net("population P = poisson(300, rate = i * 25 Hz * (1 + sin(2 * pi * 5 Hz * t)))", { backend = be })
    local e = T.checkerror("the Poisson rate of neuron 299 is", m.run, m, 0.1 * cj.second)
    assert(e:find("at t = 0.011 s", 1, true) and e:find("1/dt = 10000 Hz", 1, true), e)
    -- a rate of t alone (one value per step)
    local q = net("population Q = poisson(5, rate = 20 kHz * t / (1 ms))", { backend = be })
    e = T.checkerror("the Poisson rate is", q.run, q, 1 * cj.ms)
    assert(e:find("at t = 0.0006 s", 1, true), e)
  end
end)

-- Binomial(n, p) probabilities by the recurrence P(k+1) = P(k) (n-k)/(k+1) p/(1-p)
local function binompmf(n, p)
  local P = { [0] = exp(n * math.log(1 - p)) }
  for k = 0, n - 1 do P[k + 1] = P[k] * (n - k) / (k + 1) * p / (1 - p) end
  return P
end

-- Pearson's chi-square of integer samples against pmf P (bins with an
-- expected count >= 5, the tails merged into the edge bins); returns chi2, df.
local function chi2(samples, P, n)
  local N = #samples
  local count = {}
  for _, x in ipairs(samples) do count[x] = (count[x] or 0) + 1 end
  local lo, hi = 0, n
  while N * P[lo] < 5 do lo = lo + 1 end
  while N * P[hi] < 5 do hi = hi - 1 end
  local c2, df = 0, -1
  local function bin(a, b)
    local e, o = 0, 0
    for k = a, b do e = e + N * P[k]; o = o + (count[k] or 0) end
    c2 = c2 + (o - e) ^ 2 / e
    df = df + 1
  end
  bin(0, lo)
  for k = lo + 1, hi - 1 do bin(k, k) end
  bin(hi, n)
  return c2, df
end

-- the chi-square value a correct sampler exceeds with probability 1e-6
-- (Wilson-Hilferty: chi2_df ~ df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3, z = 4.753)
local function chi2max(df)
  local a = 2 / (9 * df)
  return df * (1 - a + 4.753 * sqrt(a)) ^ 3
end

T.test("Poisson drive: one step adds Binomial(K, rate dt) jumps, in every regime of the sampler", function()
  local N = 20000
  local cases = {   -- K, rate: p = rate dt; inversion (K p < 10), BTRS, and p > 1/2 both ways
    { 1000, "20 Hz", 0.002 }, { 10000, "50 Hz", 0.005 }, { 100, "8 kHz", 0.8 }, { 10, "6 kHz", 0.6 },
  }
  local src = { "neuron counter { state { x = 0 } }" }
  for c, case in ipairs(cases) do
    src[#src + 1] = format("population P%d = counter(%d)", c, N)
    src[#src + 1] = format("drive x of P%d from poisson(%d, rate = %s) weight 1", c, case[1], case[2])
  end
  local results = {}
  for _, be in ipairs(BACKENDS) do
    local n = net(table.concat(src, "\n"), { backend = be, seed = 11 })
    n:run(0.1 * cj.ms)
    local all = {}
    for c, case in ipairs(cases) do
      local x = values(n["P" .. c].x)
      for k = 1, N do assert(x[k] == floor(x[k]) and x[k] >= 0 and x[k] <= case[1]) end
      local c2, df = chi2(x, binompmf(case[1], case[3]), case[1])
      assert(c2 < chi2max(df), format("K = %d, p = %g: chi2 = %.1f with %d df (limit %.1f)",
        case[1], case[3], c2, df, chi2max(df)))
      all[#all + 1] = x
    end
    results[#results + 1] = all
  end
  if #results == 2 then
    for c = 1, #cases do same(results[1][c], results[2][c], "case " .. c .. " on both backends") end
  end
end)

T.test("Poisson drive: draws are independent across steps and neurons; slices", function()
  local N, K, p, steps = 20000, 1000, 0.002, 50
  local n = net(format([[
neuron counter { state { x = 0; y = 0 } }
population P = counter(%d)
drive x of P from poisson(%d, rate = 20 Hz) weight 1
drive y of P[100..199] from poisson(10, rate = 1 kHz) weight 2
]], N, K), { seed = 5 })
  n:run(steps * 0.1 * cj.ms)
  local x = values(n.P.x)
  -- the sum of 50 independent steps is Binomial(50 K, p): mean 100, variance 99.8;
  -- 5 sd of the sample mean and of the sample variance (sd var sqrt(2/(N-1)))
  local mean, var = 0, 0
  for k = 1, N do mean = mean + x[k] end
  mean = mean / N
  for k = 1, N do var = var + (x[k] - mean) ^ 2 end
  var = var / (N - 1)
  local mu, v0 = steps * K * p, steps * K * p * (1 - p)
  assert(abs(mean - mu) < 5 * sqrt(v0 / N), format("mean %g vs %g", mean, mu))
  assert(abs(var - v0) < 5 * v0 * sqrt(2 / (N - 1)), format("variance %g vs %g (correlated steps?)", var, v0))
  -- neighbouring neurons are uncorrelated: |r| < 5 / sqrt(N)
  local cov = 0
  for k = 1, N - 1 do cov = cov + (x[k] - mean) * (x[k + 1] - mean) end
  local r = cov / (N - 1) / var
  assert(abs(r) < 5 / sqrt(N), "neighbour correlation " .. r)
  -- a slice: only neurons 100..199 (1-based 101..200) are driven, in jumps of 2
  local y = values(n.P.y)
  local driven = 0
  for k = 1, N do
    if k < 101 or k > 200 then assert(y[k] == 0) else driven = driven + y[k]; assert(y[k] % 2 == 0) end
  end
  -- 100 neurons x 50 steps x 10 sources x p = 0.1 = 5000 spikes (variance 4500), 2 per spike
  assert(abs(driven - 10000) < 5 * 2 * sqrt(4500), driven)
end)

T.test("Poisson drive on a membrane: mean and variance of shot noise, exact for the scheme", function()
  -- dv/dt = -v/tau, integrated exactly (a = exp(-dt/tau) per step), with
  -- v += J Binomial(K, p) at the start of every step: after n steps
  --   E v = J K p a (1 - a^n) / (1 - a),  Var v = J^2 K p (1-p) a^2 (1 - a^(2n)) / (1 - a^2)
  -- (Campbell's theorem in the limit dt -> 0: J K rate tau and J^2 K rate tau / 2).
  -- 4000 independent neurons at one time: 5 sd of the sample mean and variance.
  local N, K, rate, J, tau, dt, steps = 4000, 800, 10, 2e-4, 0.010, 1e-4, 1000
  local src = format([[
neuron free { parameters { tau = 10 ms } state { v = 0 mV } equations { dv/dt = -v / tau } }
population P = free(%d)
drive v of P from poisson(%d, rate = %d Hz) weight 0.2 mV
]], N, K, rate)
  local runs = {}
  for _, be in ipairs(BACKENDS) do
    local n = net(src, { backend = be, seed = 3 })
    n:run(steps * dt * cj.second)
    local v = values(n.P.v)
    local p, a = rate * dt, exp(-dt / tau)
    local mu = J * K * p * a * (1 - a ^ steps) / (1 - a)
    local s2 = J * J * K * p * (1 - p) * a * a * (1 - a ^ (2 * steps)) / (1 - a * a)
    local m, var = 0, 0
    for k = 1, N do m = m + v[k] end
    m = m / N
    for k = 1, N do var = var + (v[k] - m) ^ 2 end
    var = var / (N - 1)
    assert(abs(m - mu) < 5 * sqrt(s2 / N), format("%s: mean %g V vs %g V", be, m, mu))
    assert(abs(var - s2) < 5 * s2 * sqrt(2 / (N - 1)), format("%s: variance %g vs %g", be, var, s2))
    T.near(mu, J * K * rate * tau, 0.01 * mu, "the continuous limit")
    runs[#runs + 1] = v
  end
  if #runs == 2 then same(runs[1], runs[2], "v on both backends") end
end)

T.test("Poisson drive: bad targets and clauses are located errors", function()
  local m = "neuron m { state { v = 0 mV }; input I : pA\n equations { dv/dt = (I * 1 Mohm - v) / (10 ms) } }\n"
    .. "population P = m(10)\n"
  T.checkerror("<string>:4:1: drive I from poisson: 'I' is an input", net,
    m .. "drive I of P from poisson(10, rate = 5 Hz) weight 1 pA")
  T.checkerror("unit mismatch in weight: V (v) and A", net, m .. "drive v of P from poisson(10, rate = 5 Hz) weight 1 pA")
  T.checkerror("the number of sources of a Poisson drive must be a whole number", net,
    m .. "drive v of P from poisson(2.5, rate = 5 Hz) weight 1 mV")
  T.checkerror("the rate of the sources of a Poisson drive (20000 Hz) is more than one spike per step", net,
    m .. "drive v of P from poisson(3, rate = 20 kHz) weight 1 mV")
  T.checkerror("poisson takes 'rate', not 'rat'", net, m .. "drive v of P from poisson(3, rat = 2 Hz) weight 1 mV")
  T.checkerror("unit mismatch in rate: Hz and s", net, m .. "drive v of P from poisson(3, rate = 2 ms) weight 1 mV")
  T.checkerror("the weight of a Poisson drive must be one constant", net,
    m .. "drive v of P from poisson(3, rate = 2 Hz) weight i * 1 mV")
end)

---------------------------------------------------------------------------
-- 5. Overrides depending on i or on a draw are per-neuron constants
---------------------------------------------------------------------------
T.test("per-neuron parameter overrides: hh I_e = i * 20 pA, izhikevich2003 c and d", function()
  local src = [[
import "models/hh"
import "models/izhikevich"
population H = hh(50, I_e = i * 100 pA)
population Z = izhikevich2003(800, c = -65 mV + 15 mV * rand()^2, d = 8 mV - 6 mV * (c + 65 mV) / (15 mV))
record spikes of H, Z
]]
  local runs = {}
  for _, be in ipairs(BACKENDS) do
    local n = net(src, { backend = be, seed = 7 })
    local Ie, c, d = values(n.H.I_e), values(n.Z.c), values(n.Z.d)
    for k = 1, 50 do T.near(Ie[k], (k - 1) * 100e-12, 1e-24) end
    -- c = -65 + 15 r^2 with r uniform: mean -60 mV, r^2 within [0, 1);
    -- d shares the draw: (8 - d) / 6 = (c + 65) / 15 exactly as in Izhikevich's code
    local sum = 0
    for k = 1, 800 do
      local r2 = (c[k] + 0.065) / 0.015
      assert(r2 >= -1e-12 and r2 < 1 + 1e-12)
      T.near((0.008 - d[k]) / 0.006, r2, 1e-9, "d and c share r^2")
      sum = sum + r2
    end
    -- E[r^2] = 1/3, sd of the mean sqrt(4/45 / 800) = 0.0105: 5 sd
    assert(abs(sum / 800 - 1 / 3) < 0.053, sum / 800)
    n:run(100 * cj.ms)
    -- HH f-I: no spikes at 0 pA, repetitive firing at the top of the range (rheobase
    -- about 6 uA/cm^2 = 1.2 nA for the 20000 um^2 of the model)
    local counts = values(n.spikes.H:counts())
    assert(counts[1] == 0 and counts[50] > 3, format("%d %d", counts[1], counts[50]))
    runs[#runs + 1] = { values(n.spikes.Z:times()), values(n.Z.v) }
  end
  if #runs == 2 then
    same(runs[1][1], runs[2][1], "Z spike times on both backends")
    same(runs[1][2], runs[2][2], "Z.v on both backends")
  end
end)

T.test("a per-neuron time constant keeps exact integration", function()
  -- dv/dt = (E_L - v)/tau_m + I_e/C_m with tau_m = 10 ms + i 5 ms: closed form per neuron
  for _, be in ipairs(BACKENDS) do
    local n = net([[
import "models/lif"
population P = lif(4, tau_m = 10 ms + i * 5 ms, I_e = 100 pA, v_th = 0 mV)
]], { backend = be })
    n:run(20 * cj.ms)
    local v = values(n.P.v)
    for k = 1, 4 do
      local tau = 0.010 + (k - 1) * 0.005
      local vinf = -0.070 + 100e-12 * tau / 250e-12
      T.near(v[k], vinf + (-0.070 - vinf) * exp(-0.020 / tau), 1e-15, be .. " neuron " .. k)
    end
  end
end)

---------------------------------------------------------------------------
-- 6. State monitors: the state at time t is stamped t, from t = 0
---------------------------------------------------------------------------
T.test("state monitors record the state at t as t, including t = 0", function()
  for _, be in ipairs(BACKENDS) do
    local n = net([[
neuron ramp { state { v = 0 V } equations { dv/dt = 1 V/s; d = 2 * v } }
population X = ramp(1)
record v, d of X
record v of X every 0.2 ms as slow
]], { backend = be })
    n:run(0.5 * cj.ms)
    local t, v, d = values(n.state.X.v:times()), values(n.state.X.v:values()), values(n.state.X.d:values())
    assert(#t == 5)
    for k = 1, 5 do T.near(t[k], (k - 1) * 1e-4, 1e-19, be .. " times") end
    for k = 1, 5 do
      T.near(v[k], t[k], 1e-18, be .. " v(t) = t")          -- the closed form: v = 1 V/s * t
      T.near(d[k], 2 * t[k], 1e-18, be .. " definition")
    end
    -- net.t and net.X.v agree with what the next record will say
    T.near(n.t.value, 5e-4, 1e-18)
    T.near(n.X.v[1].value, 5e-4, 1e-18)
    T.near(n.X.d[1].value, 1e-3, 1e-18)        -- definitions are current between runs
    n:run(0.1 * cj.ms)
    T.near(values(n.state.X.v:values())[6], 5e-4, 1e-18, "record at 0.5 ms")
    local ts = values(n.slow.v:times())
    assert(#ts == 3)
    for k = 1, 3 do T.near(ts[k], (k - 1) * 2e-4, 1e-19, "every 0.2 ms") end
  end
end)

T.test("a recorded definition after a reset is computed from the reset state", function()
  -- v ramps from 0 to threshold 0.35 mV in 4 steps, resets to 0: the record
  -- of d = v + 1 mV after a spike is 1 mV exactly (not the pre-reset value)
  local n = net([[
neuron saw { state { v = 0 mV } equations { dv/dt = 1 V/s; d = v + 1 mV }
             spike when v > 0.35 mV; reset { v = 0 mV } }
population S = saw(1)
record d of S
record spikes of S
]])
  n:run(1.2 * cj.ms)
  local d = values(n.state.S.d:values())
  local st = values(n.spikes.S:times())
  assert(#st >= 2)
  local checked = 0
  for _, ts in ipairs(st) do
    local r = floor(ts / 1e-4 + 0.5) + 2      -- the record after the spike step
    if d[r] then T.near(d[r], 1e-3, 1e-18, "definition after reset"); checked = checked + 1 end
  end
  assert(checked >= 2, checked)
end)

---------------------------------------------------------------------------
-- Semantics ported from Brian2: delays, refractoriness, heaviside, round
---------------------------------------------------------------------------
T.test("delay 0 ms, delay 0.1 ms (one step) and no delay clause give identical runs", function()
  local src = [[
import "models/lif"
population E = lif(200, I_e = 300 pA + i * 1 pA, v = -70 mV + rand() * 15 mV)
connect E -> E { on_pre: v_post += 0.5 mV } with probability 0.1 %s
record spikes of E
record v of E[0..9]
]]
  for _, be in ipairs(BACKENDS) do
    local runs = {}
    for _, clause in ipairs({ "", "delay 0 ms", "delay 0.1 ms", "delay 0.04 ms" }) do
      local n = net(src:format(clause), { backend = be, seed = 9 })
      n:run(100 * cj.ms)
      assert(n.spikes.E:count() > 100)
      local pre, post, d = n.projections["E->E"]:connectivity()
      assert(d[1] == 1, "one step")
      runs[#runs + 1] = { values(n.spikes.E:times()), values(n.spikes.E:indices()), values(n.state.E.v:values()) }
    end
    for k = 2, #runs do
      for q = 1, 3 do same(runs[1][q], runs[k][q], be .. " run " .. k) end
    end
  end
end)

T.test("delay D delivers exactly D after the spike: the jump enters the dynamics at t_spike + D", function()
  -- a spike at t = 1 ms, delay 1.5 ms (15 steps): the jump J is added at the
  -- start of step 25 (t = 2.5 ms), before that step's update; v then decays
  -- exactly: v(t) = J exp(-(t - 2.5 ms) / tau) for t > 2.5 ms, 0 before (a
  -- monitor stamps the state before the events of its step, so the record
  -- at 2.5 ms is still 0). Brian2 adds it after the update of its step 25,
  -- i.e. from t = 2.6 ms: Brian2's delay X is cajal's delay X + dt. Both a
  -- homogeneous and a per-synapse delay.
  local J, tau, dt = 1e-3, 0.010, 1e-4
  for _, be in ipairs(BACKENDS) do
    for _, delay in ipairs({ "1.5 ms", "1.5 ms + 0 ms * rand()" }) do
      local n = net(format([[
population S = spike_times(1) from arrays st
neuron leak { state { v = 0 mV } equations { dv/dt = -v / (10 ms) } }
population P = leak(1)
connect S -> P { on_pre: v_post += 1 mV } all_to_all delay %s
record v of P
]], delay), { backend = be, arrays = { st = { i = { 0 }, t = { 0.001 } } } })
      n:run(5 * cj.ms)
      local v = values(n.state.P.v:values())
      for r = 1, #v do
        local t = (r - 1) * dt
        local want = r - 1 <= 25 and 0 or J * exp(-(t - 0.0025) / tau)
        T.near(v[r], want, 1e-15, format("%s, delay %s: v at %.1f ms", be, delay, t * 1e3))
      end
    end
  end
end)

T.test("refractoriness: the f-I curve is exactly 1 / ((timestep(t_ref) + floor(T(I)/dt)) dt)", function()
  -- A neuron that spikes at step k is clamped at steps k+1 .. k+K-1,
  -- K = timestep(t_ref) = floor(t_ref/dt + 0.001) (Brian2's count), then
  -- integrates from v_reset; exact integration crosses v_th after
  -- T(I) = tau ln((v_inf - v_reset)/(v_inf - v_th)), v_inf = E_L + R I, and
  -- the crossing is seen in the step that ends past it. Every interspike
  -- interval is therefore K + floor(T/dt) steps. Brian2 2.5.1 gives the same
  -- intervals for these currents: 706 297 203 131 64 steps (t_ref = 2 and
  -- 2.05 ms) and 711 302 208 136 69 (2.5 ms).
  local tau, EL, R, vth, vr, dt = 0.020, -0.070, 1e8, -0.050, -0.065, 1e-4
  local currents = { 205, 250, 300, 400, 800 }
  local brian = { ["2 ms"] = { 706, 297, 203, 131, 64 }, ["2.05 ms"] = { 706, 297, 203, 131, 64 },
                  ["2.5 ms"] = { 711, 302, 208, 136, 69 } }
  for _, be in ipairs(BACKENDS) do
    for tref, bsteps in pairs(brian) do
      local n = net(format([[
neuron lif_fi {
  parameters { tau_m = 20 ms; R = 100 Mohm; E_L = -70 mV; v_th = -50 mV; v_reset = -65 mV
               t_ref = %s; I = 0 pA }
  state      { v = E_L }
  equations  { dv/dt = (E_L - v + R * I) / tau_m }
  spike when v > v_th
  reset      { v = v_reset }
  refractory t_ref
}
population F = lif_fi(5, I = 205 pA + (i >= 1) * 45 pA + (i >= 2) * 50 pA + (i >= 3) * 100 pA + (i >= 4) * 400 pA)
record spikes of F
]], tref), { backend = be })
      n:run(300 * cj.ms)
      local ts, is = values(n.spikes.F:times()), values(n.spikes.F:indices())
      local K = floor(tonumber(tref:match("[%d.]+")) * 1e-3 / dt + 1e-3)
      for k = 1, 5 do
        local I = currents[k] * 1e-12
        local vinf = EL + R * I
        local steps = K + floor(tau * log((vinf - vr) / (vinf - vth)) / dt)
        assert(steps == bsteps[k], format("formula %d vs Brian2 %d", steps, bsteps[k]))
        local prev, count = nil, 0
        for q = 1, #ts do
          if is[q] == k then
            if prev then
              local isi = floor((ts[q] - prev) / dt + 0.5)
              assert(isi == steps, format("%s, t_ref %s, I = %d pA: interval %d steps, formula %d",
                be, tref, currents[k], isi, steps))
              count = count + 1
            end
            prev = ts[q]
          end
        end
        assert(count >= 2, "too few intervals")
      end
    end
  end
end)

T.test("a clamped variable is held through the refractory period: jumps then are dropped, as in Brian2", function()
  -- v starts above threshold: a spike at step 0, v = 10 mV, refractory 5 ms
  -- (K = 50). Inputs of 1 mV delivered at the start of steps 10, 20, 30 and
  -- 50 (the first free step) are dropped; the one at step 60 is kept. Then
  -- v(t) = 10 mV e^{-(t - 5 ms)/tau} from 5 ms, plus 1 mV e^{-(t - 6 ms)/tau}
  -- from 6 ms (a record at t is the state before step t's events). Brian2
  -- 2.5.1 with (unless refractory) drops the same inputs. A variable that is
  -- not clamped (w, clamp v only) keeps every jump.
  local tau, dt = 0.020, 1e-4
  for _, be in ipairs(BACKENDS) do
    local n = net([[
neuron m { state { v = 25 mV; w = 0 mV }
           equations { dv/dt = -v / (20 ms); dw/dt = -w / (20 ms) }
           spike when v > 20 mV; reset { v = 10 mV }; refractory 5 ms clamp v }
population G = m(1)
population S = spike_times(1) from arrays st
connect S -> G { on_pre: v_post += 1 mV; w_post += 1 mV } all_to_all
record v, w of G
record spikes of G
]], { backend = be, arrays = { st = { i = { 0, 0, 0, 0, 0 }, t = { 0.0009, 0.0019, 0.0029, 0.0049, 0.0059 } } } })
    n:run(8 * cj.ms)
    assert(n.spikes.G:count() == 1)
    local v, w = values(n.state.G.v:values()), values(n.state.G.w:values())
    for r = 2, #v do
      local t = (r - 1) * dt
      local want = t <= 0.005 + 1e-12 and 0.010 or 0.010 * exp(-(t - 0.005) / tau)
      if t > 0.006 + 1e-12 then want = want + 0.001 * exp(-(t - 0.006) / tau) end
      T.near(v[r], want, 1e-15, format("%s: v at %.1f ms", be, t * 1e3))
    end
    -- w is not clamped: all five jumps, each decaying from its step
    local t = (#w - 1) * dt
    local want = 0
    for _, s in ipairs({ 0.001, 0.002, 0.003, 0.005, 0.006 }) do want = want + 0.001 * exp(-(t - s) / tau) end
    T.near(w[#w], want, 1e-15, be .. ": w keeps its jumps")
  end
end)

T.test("heaviside(0) = 1 and round() halves away from zero, folded and at run time", function()
  -- folded: the arguments are constants; at run time: the same values come
  -- from a state variable (x = i-th test value), on both backends
  local xs = { 0, -0.0, 1e-300 * 0, 0.5, -0.5, 2.5, -2.5, 0.49999999999999994, -1e-9, 1.5 }
  local H = { 1, 1, 1, 1, 0, 1, 0, 1, 0, 1 }
  local Rn = { 0, 0, 0, 1, -1, 3, -3, 0, 0, 2 }
  local lit, folded = {}, {}
  for k, x in ipairs(xs) do
    lit[k] = format("%.17g", x)
    if lit[k] == "-0" then lit[k] = "-0.0" end
    folded[#folded + 1] = format("h%d = heaviside(%s); r%d = round(%s)", k, lit[k], k, lit[k])
  end
  local cases = {}
  for k = 1, #xs do cases[#cases + 1] = format("(i == %d) * (%s)", k - 1, lit[k]) end
  for _, be in ipairs(BACKENDS) do
    local n = net(format([[
neuron g { state { x = 0 } equations { hx = heaviside(x); rx = round(x) } }
population G = g(%d, x = %s)
record hx, rx of G
neuron f { state { %s } }
population F = f(1)
]], #xs, table.concat(cases, " + "), table.concat(folded, "; ")), { backend = be })
    n:run(0.1 * cj.ms)
    local hx, rx = values(n.state.G.hx:values()), values(n.state.G.rx:values())
    for k = 1, #xs do
      assert(hx[k] == H[k], format("%s: heaviside(%s) = %g", be, lit[k], hx[k]))
      assert(rx[k] == Rn[k], format("%s: round(%s) = %g", be, lit[k], rx[k]))
      -- the same calls with constant arguments, folded by the compiler
      assert(n.F["h" .. k][1] == H[k], format("folded heaviside(%s) = %g", lit[k], n.F["h" .. k][1]))
      assert(n.F["r" .. k][1] == Rn[k], format("folded round(%s) = %g", lit[k], n.F["r" .. k][1]))
    end
  end
end)

T.done()
