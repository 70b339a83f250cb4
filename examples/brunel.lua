-- examples/brunel.lua — Brunel (2000), model A: a sparse network of 10000
-- excitatory and 2500 inhibitory integrate-and-fire neurons with delta
-- synapses, driven by 1000 external Poisson inputs per neuron (a Poisson
-- drive: one binomial draw per neuron and step, not 12.5 million synapses).
-- The model: examples/brunel.cajal.
--
--   cajal examples/brunel.lua [duration_s [g [eta [seed]]]]
--
-- Prints the network, the firing rates after the first 100 ms, the mean
-- coefficient of variation of the interspike intervals (irregularity), and
-- the rate of Brunel's mean-field theory (eq. 21 of the paper: the
-- self-consistent solution of the Siegert formula), and draws a raster of
-- 200 neurons to brunel.png.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 0.5
local g = tonumber(arg and arg[2]) or 5
local eta = tonumber(arg and arg[3]) or 2
local seed = math.tointeger(tonumber(arg and arg[4])) or 1

local net = cj.load(here .. "/brunel.cajal", { seed = seed, params = { g = g, eta = eta } })
print(net)

---------------------------------------------------------------------------
-- Mean-field theory (Brunel 2000, eqs. 4-5 and 21), with the defaults of
-- brunel.cajal: tau = 20 ms, theta = 20 mV, V_r = 10 mV, t_ref = 2 ms,
-- J = 0.1 mV, CE = 1000, CI = 250.
--   mu = CE J tau (nu_ext + nu (1 - g CI/CE)),  sigma^2 = J^2 CE tau (nu_ext + nu (1 + g^2 CI/CE))
--   1/nu = t_ref + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma} e^(u^2) (1 + erf u) du
---------------------------------------------------------------------------
-- e^(u^2) (1 + erf u) = erfcx(-u); erfc from the Chebyshev fit of Numerical
-- Recipes (fractional error < 1.2e-7 everywhere), in which e^(-u^2) cancels.
local function erfcx_neg(u)          -- e^(u^2) (1 + erf(u))
  local z = math.abs(u)
  local t = 1 / (1 + 0.5 * z)
  local p = t * math.exp(-1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))))     -- erfc(z) e^(z^2)
  if u <= 0 then return p end
  return 2 * math.exp(u * u) - p
end

local function siegert(mu, sigma, tau, tref, theta, vr)
  local a, b, n = (vr - mu) / sigma, (theta - mu) / sigma, 2000
  local h, s = (b - a) / n, erfcx_neg(a) + erfcx_neg(b)
  for k = 1, n - 1 do s = s + (k % 2 == 1 and 4 or 2) * erfcx_neg(a + k * h) end   -- Simpson
  return 1 / (tref + tau * math.sqrt(math.pi) * s * h / 3)
end

local function meanfield(gg, et)
  local tau, tref, theta, vr, J, CE, CI = 0.020, 0.002, 0.020, 0.010, 1e-4, 1000, 250
  local nu_ext = et * theta / (J * CE * tau)
  local function F(nu)
    local mu = CE * J * tau * (nu_ext + nu * (1 - gg * CI / CE))
    local s2 = J * J * CE * tau * (nu_ext + nu * (1 + gg * gg * CI / CE))
    return siegert(mu, math.sqrt(s2), tau, tref, theta, vr) - nu
  end
  local lo, hi = 1e-3, 1 / tref - 1e-3       -- F(lo) > 0 > F(hi): bisection
  if F(lo) < 0 then return 0 end
  for _ = 1, 100 do
    local mid = (lo + hi) / 2
    if F(mid) > 0 then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

---------------------------------------------------------------------------
-- The run
---------------------------------------------------------------------------
local t0, c0 = 0.1, os.clock()
net:run(t0 * cj.second)
local nE0, nI0 = net.spikes.E:count(), net.spikes.I:count()
net:run((T - t0) * cj.second)
local cpu = os.clock() - c0
local NE, NI = net.E.N, net.I.N
local rE = (net.spikes.E:count() - nE0) / (NE * (T - t0))
local rI = (net.spikes.I:count() - nI0) / (NI * (T - t0))

-- CV of the interspike intervals of the first 1000 excitatory neurons (with >= 3 spikes)
local ts = (net.spikes.E:times() / cj.second):totable()
local is = net.spikes.E:indices():totable()
local last, isi = {}, {}
local rt, ri = {}, {}                      -- the raster: neurons 1..200, the last 200 ms
for k = 1, #ts do
  local i, t = is[k], ts[k]
  if i <= 200 and t >= T - 0.2 then rt[#rt + 1] = t; ri[#ri + 1] = i end
  if i <= 1000 and t >= t0 then
    if last[i] then isi[i] = isi[i] or {}; table.insert(isi[i], t - last[i]) end
    last[i] = t
  end
end
local cvsum, ncv = 0, 0
for _, l in pairs(isi) do
  if #l >= 2 then
    local m, v = 0, 0
    for _, x in ipairs(l) do m = m + x end
    m = m / #l
    for _, x in ipairs(l) do v = v + (x - m) ^ 2 end
    cvsum, ncv = cvsum + math.sqrt(v / (#l - 1)) / m, ncv + 1
  end
end

print(string.format("\ng = %g, eta = %g, seed %d, %g s (rates after %g s): E %.2f Hz, I %.2f Hz; "
  .. "mean CV of the ISIs %.2f (the run took %.1f s of CPU)", g, eta, seed, T, t0, rE, rI,
  ncv > 0 and cvsum / ncv or 0 / 0, cpu))
print(string.format("mean-field theory (Brunel 2000, eq. 21): %.2f Hz", meanfield(g, eta)))

local ok, err = pcall(function()
  return cj.plot.raster(cj.array(rt), cj.array(ri), { out = "brunel.png", xrange = { math.max(0, T - 0.2), T },
    title = string.format("Brunel (2000), g = %g, eta = %g: 200 excitatory neurons", g, eta), pointsize = 0.3 })
end)
print(ok and "raster of 200 excitatory neurons: brunel.png" or ("no plot: " .. tostring(err)))
