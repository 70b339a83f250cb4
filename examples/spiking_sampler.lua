-- examples/spiking_sampler.lua — a network of spiking neurons samples from a
-- Boltzmann distribution (Buesing, Bill, Nessler & Maass 2011): neuron k
-- "is on" (z_k = 1) for tau = 20 ms after each of its spikes, and fires with
-- probability sigmoid(u_k - log(tau / dt)) per step when it is not, where
-- u_k = b_k + sum_j W_kj z_j (models/boltzmann: neural_sampler). The
-- fraction of time the network spends in each of the 2^10 states is set
-- against the exact distribution p(z) ∝ exp(½ zᵀWz + bᵀz) enumerated by
-- cj.boltzmann.exact, beside Glauber units (one unit in turn per step: Gibbs
-- sampling) on the same machine.
--
-- The machine is drawn in cj.boltzmann's ±1 form (J, h) and converted:
-- with s = 2z - 1, W = 4J and b = 2h - 2 J 1 (cajal-lang(7), models/boltzmann).
--
--   cajal examples/spiking_sampler.lua [seconds]   (default 200 s of network time)
--   -> a table, spiking_sampler.png (state probabilities: network vs exact)
--      and spiking_sampler_raster.png (the first 0.5 s of spikes)
local cj = require "cajal"
local B = cj.boltzmann

local T = tonumber(arg and arg[1]) or 200
local n, dt, tau = 10, 1e-4, 20e-3

-- a random machine: J symmetric with zero diagonal, N(0, 0.3^2) entries; h ~ N(0, 0.3^2)
local g = cj.rng(2011)
local A = g:normal(0, 0.3, n, n)
local J = (A + A:t()) / math.sqrt(2)
for k = 1, n do J[k][k] = 0 end
local h = g:normal(0, 0.3, n)
local W = J * 4
local b = h * 2 - cj.matmul(J, cj.ones(n)) * 2
local exact = B.exact(W, b, { units = "01", probs = true })

-- the network: a population coupled to itself, w = W_kj from arrays
local function network(model, every)
  local I, Jp, w = {}, {}, {}
  for pre = 1, n do
    for post = 1, n do
      if pre ~= post then I[#I + 1], Jp[#Jp + 1], w[#w + 1] = pre - 1, post - 1, W[post][pre] end
    end
  end
  local net = cj.network(string.format([[
import "models/boltzmann"
dt = 0.1 ms
population Z = %s
connect Z -> Z sampler_coupling from arrays couplings
record z of Z every %s
record spikes of Z
]], model, every), { seed = 1, arrays = { couplings = { i = cj.array(I), j = cj.array(Jp), w = cj.array(w) } } })
  net.Z.b = b
  return net
end

local t0 = cj.clock()
local spiking = network(string.format("neural_sampler(%d, tau = %g ms)", n, tau * 1e3), "1 ms")
spiking:run(T * cj.second)
local t_spiking = cj.clock() - t0
local glauber = network(string.format("glauber_unit(%d)", n), "1 ms")   -- a sweep per recorded row
glauber:run(T / 10 * cj.second)

-- the state distributions (10 % burn-in dropped)
local function states(net)
  local Z = net.state.Z.z:values()
  local rows = Z.shape[1]
  Z = Z[{ { rows // 10 + 1, rows }, {} }]:contiguous()
  return B.empirical(Z, { units = "01" }), Z.shape[1], Z:mean(1)
end
local ps, rs, zs = states(spiking)
local pg, rg, zg = states(glauber)

local function kl(p, q)       -- KL(p || q) over the states where q > 0 (nats)
  local s = 0
  for x = 1, p.shape[1] do
    if p[x] > 0 and q[x] > 0 then s = s + p[x] * math.log(p[x] / q[x]) end
  end
  return s
end
local function tv(p, q) return 0.5 * cj.abs(p - q):sum() end

print(string.format("%d units, %g s of network time (%d rows of z every 1 ms; %.1f s to run), tau = %g ms, dt = %g ms",
  n, T, rs, t_spiking, tau * 1e3, dt * 1e3))
print(string.format("%5s %9s %9s %9s", "unit", "exact", "spiking", "glauber"))
for k = 1, n do
  print(string.format("%5d %9.4f %9.4f %9.4f", k, exact.mean[k], zs[k], zg[k]))
end
print(string.format("state distribution: total variation %.4f (spiking), %.4f (glauber, %d sweeps); " ..
  "KL(sampled || exact) %.4f, %.4f nats", tv(ps, exact.p), tv(pg, exact.p), rg, kl(ps, exact.p), kl(pg, exact.p)))
local spk = spiking.spikes.Z:times()
print(string.format("the spiking network fired %d spikes (%.1f Hz per neuron)", spk.shape[1], spk.shape[1] / (n * T)))

-- plots: the probability of each state with p > 1e-4, network against exact
local ex, sp, gl = {}, {}, {}
for x = 1, exact.p.shape[1] do
  if exact.p[x] > 1e-4 and ps[x] > 0 and pg[x] > 0 then
    ex[#ex + 1], sp[#sp + 1], gl[#gl + 1] = exact.p[x], ps[x], pg[x]
  end
end
local ok, err = pcall(cj.plot.scatter, cj.array(ex), cj.array({ sp, gl, ex }):t(), {
  out = "spiking_sampler.png", logx = true, logy = true,
  xlabel = "exact p(z)", ylabel = "fraction of time in state z",
  labels = { string.format("spiking network (Buesing et al. 2011), %g s", T), "Glauber units", "exact" },
  title = string.format("sampling a %d-unit Boltzmann machine: the %d states with p > 1e-4", n, #ex),
  commands = { "set key top left" } })
print(ok and "state probabilities: spiking_sampler.png" or ("no plot: " .. tostring(err)))
ok, err = pcall(cj.plot.raster, spiking.spikes.Z, { out = "spiking_sampler_raster.png", xrange = { 0, math.min(T, 0.5) },
  title = string.format("neural sampler: each spike holds z_k = 1 for %g ms", tau * 1e3) })
print(ok and "spikes: spiking_sampler_raster.png" or ("no plot: " .. tostring(err)))
