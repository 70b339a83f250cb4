-- examples/info_spikes.lua — how much a spiking neuron says about its
-- input, by the direct method of Strong et al. (1998).
--
--   cajal examples/info_spikes.lua [duration_s [trials [seed]]]
--
-- examples/reliability.cajal gives every one of `trials` noisy LIF neurons
-- the same frozen current (an Ornstein-Uhlenbeck process, 400 +- 200 pA,
-- 5 ms correlation time): each neuron is one trial. For bins of 1, 2 and
-- 4 ms and words of 1 to 8 bins, cj.info.direct estimates the total and the
-- noise entropy (quadratic extrapolation to infinite data) and their
-- difference, the information rate; the rates are then extrapolated to
-- infinitely long words. The information per spike of Brenner et al.
-- (2000), from the PSTH, is printed alongside. The rates against word
-- length are plotted to info_spikes.png.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 10
local trials = math.tointeger(tonumber(arg and arg[2])) or 64
local seed = math.tointeger(tonumber(arg and arg[3])) or 1

-- the frozen stimulus: an OU current sampled every 1 ms
local n, tau = math.floor(T * 1000 + 0.5), 5
local w = cj.rng(seed):randn(n):totable()
local a, stim, x = math.exp(-1 / tau), {}, 0
for k = 1, n do
  x = a * x + math.sqrt(1 - a * a) * w[k]
  stim[k] = 400e-12 + 200e-12 * x
end

local net = cj.load(here .. "/reliability.cajal",
  { seed = seed, progress = false, params = { n_trials = trials }, arrays = { stim = cj.array(stim) } })
net:run(T * cj.second)
local spikes = net.spikes.P
print(string.format("%d trials of %g s, %.1f spikes/s per trial", trials, T, spikes:rate().value))

local Ls = { 1, 2, 3, 4, 5, 6, 7, 8 }
local bins = { 0.001, 0.002, 0.004 }
local curves = {}
print("\ninformation rate (bits/s) by word length L (bins)")
print("  bin     L=1    L=2    L=3    L=4    L=5    L=6    L=7    L=8   | L->inf  +-     bits/spike")
for b, dt in ipairs(bins) do
  local r = cj.info.direct(spikes, dt, Ls, { seed = seed })
  local line = string.format("%3d ms ", math.floor(dt * 1000 + 0.5))
  for i = 1, #Ls do line = line .. string.format(" %6.1f", r.info_rates[i]) end
  print(line .. string.format("   | %6.1f  %4.1f   %.3f", r.info_rate, r.info_rate_err, r.info_per_spike))
  curves[b] = r.info_rates
end

local bits, rate, err = cj.info.spike_information(spikes, 1 * cj.ms, { seed = seed })
print(string.format("\ninformation per spike from the 1 ms PSTH (Brenner et al. 2000): %.3f +- %.3f bits/spike (%.1f bits/s)",
  bits, err, rate))
print("(a PSTH from finitely many trials is noisy, which biases this upwards; the direct method's")
print("extrapolated rate per spike at the finest bin is its counterpart)")

local y = {}
for i = 1, #Ls do y[i] = { curves[1][i], curves[2][i], curves[3][i] } end
local ok, out = pcall(cj.plot.lines, cj.array(Ls), cj.array(y), { out = "info_spikes.png",
  title = "Direct method: information rate of a noisy LIF neuron", xlabel = "word length L (bins)",
  ylabel = "information rate (bits/s)", labels = { "1 ms bins", "2 ms bins", "4 ms bins" } })
print(ok and "plot: info_spikes.png" or ("no plot: " .. tostring(out)))
