-- examples/coba.lua — Brette et al. (2007), benchmark 1 (COBA): the Vogels
-- & Abbott (2005) network of 4000 conductance-based integrate-and-fire
-- neurons, Euler integration, no external input (the model:
-- examples/coba.cajal, as ../shared/peers/brian2_bench.py --model coba).
--
--   cajal examples/coba.lua [duration_s [seed]]
--
-- Prints the mean rates of E and I, the rates Brian2 gives for the same
-- model, and draws the population rate (5 ms bins) to coba.png.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 1
local seed = math.tointeger(tonumber(arg and arg[2])) or 12345

local net = cj.load(here .. "/coba.cajal", { seed = seed })
print(net)
local c0 = os.clock()
net:run(T * cj.second)
local cpu = os.clock() - c0
local rE, rI = net.spikes.E:rate().value, net.spikes.I:rate().value
print(string.format("\ncajal, seed %d, %g s: E %.2f Hz, I %.2f Hz  (%d spikes; the run took %.2f s of CPU)",
  seed, T, rE, rI, net.spikes.E:count() + net.spikes.I:count(), cpu))
print([[
Brian2 2.5.1 on the same model, 15 random networks, 1 s:
  E 19.6 +- 1.3 Hz, I 19.3 +- 0.5 Hz (mean +- sd over networks; seed 12345: 21.4 / 20.0 Hz;
  10 s with seed 12345: 21.9 / 20.4 Hz)
cajal, 15 random networks (seeds 1-15), 1 s:
  E 18.9 +- 1.5 Hz, I 19.2 +- 0.7 Hz
The two simulators agree within the spread between random networks
(tests/lua/netexamples.lua checks it).]])

-- population rate of E in 5 ms bins, from the spike times
local nb = math.max(1, math.floor(T / 0.005 + 0.5))
local counts = {}
for b = 1, nb do counts[b] = 0 end
for _, t in ipairs(net.spikes.E:times():totable()) do
  local b = math.min(nb, math.floor(t.value / 0.005) + 1)
  counts[b] = counts[b] + 1
end
local x, y = {}, {}
for b = 1, nb do x[b], y[b] = (b - 0.5) * 5, counts[b] / (3200 * 0.005) end
local ok, err = pcall(cj.plot.lines, cj.array(x), cj.array(y), { out = "coba.png",
  xlabel = "time (ms)", ylabel = "rate of E (Hz)", title = "COBA: population rate, 5 ms bins" })
print(ok and "population rate: coba.png" or ("no plot: " .. tostring(err)))
