-- examples/cuba.lua — Brette et al. (2007), benchmark 2 (CUBA): 4000 leaky
-- integrate-and-fire neurons with current-based exponential synapses,
-- integrated exactly (the model: examples/cuba.cajal, which is Brian2's
-- examples/CUBA.py parameter for parameter).
--
--   cajal examples/cuba.lua [duration_s [seed]]
--
-- Prints the network, the mean firing rates of the excitatory and the
-- inhibitory population, and the rates Brian2 gives for the same model
-- (../shared/peers/brian2_bench.py --model cuba), and draws a raster of the
-- first 200 ms to cuba.png.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 1
local seed = math.tointeger(tonumber(arg and arg[2])) or 12345

local net = cj.load(here .. "/cuba.cajal", { seed = seed })
print(net)
local c0 = os.clock()
net:run(T * cj.second)
local cpu = os.clock() - c0
local rE, rI = net.spikes.E:rate().value, net.spikes.I:rate().value
print(string.format("\ncajal, seed %d, %g s: E %.2f Hz, I %.2f Hz  (%d spikes; the run took %.2f s of CPU)",
  seed, T, rE, rI, net.spikes.E:count() + net.spikes.I:count(), cpu))

-- Rates depend on the random network: compare distributions over networks.
-- Brian2 2.5.1 (python3-brian), same model, cython target, 1 s, seeds
-- 1-14 and 12345 (brian2_bench.py --model cuba --N 4000 --duration 1):
print([[
Brian2 2.5.1 on the same model, 15 random networks, 1 s:
  E 5.61 +- 0.26 Hz, I 5.63 +- 0.07 Hz (mean +- sd over networks; seed 12345: 5.69 / 5.66 Hz;
  10 s with seed 12345: 5.51 / 5.56 Hz)
cajal, 15 random networks (seeds 1-15), 1 s:
  E 5.54 +- 0.26 Hz, I 5.62 +- 0.06 Hz
The two simulators agree within the spread between random networks
(tests/lua/netexamples.lua checks it).]])

local ok, err = pcall(function()
  local E, I = net.spikes.E, net.spikes.I
  return cj.plot.raster({ E = E, I = I }, { out = "cuba.png", xrange = { 0, math.min(T, 0.2) },
    title = "CUBA: 3200 E + 800 I LIF neurons", order = { "E", "I" }, pointsize = 0.2 })
end)
print(ok and "raster of the first 200 ms: cuba.png" or ("no plot: " .. tostring(err)))
