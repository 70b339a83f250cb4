-- examples/demo.lua — what `make demo` shows after the build: a quick tour
-- of cajal in a few seconds. Arrays with units, counter-based random
-- numbers, a plot through gnuplot, and a network model compiled to C when
-- it is loaded. (More: examples/*.lua, `cajal` for the REPL, help(cj.load).)
local cj = require "cajal"

print(string.format("cajal %s\n", cj.version))

-- 1. Arrays and units: a membrane time constant and a charging curve
local tau, R, I = 20 * cj.ms, 100 * cj.Mohm, 150 * cj.pA
local t = cj.linspace(0 * cj.ms, 100 * cj.ms, 6)
local v = R * I * (1 - cj.exp(-(t / tau)))          -- t / tau is dimensionless
print("charging an RC membrane, v(t) = R I (1 - exp(-t/tau)):")
print("  t =", t)
print("  v =", v)
print("  R * I =", R * I, "  (units multiply: ohm * A = V)")
local ok, err = pcall(function() return t + v end)
print("  t + v ->", ok and "?" or (tostring(err):gsub("^.-:%d+: ", "")))

-- 2. Random numbers: Philox, the same on every machine for a seed
cj.seed(42)
local x = cj.randn(100000)
print(string.format("\n100000 standard normal draws (seed 42): mean %.4f, sd %.4f, max %.3f",
  x:mean(), x:std(), x:max()))

-- 3. A network written in the cajal language, compiled to C at load time
local net = cj.network([[
  import "models/lif"
  import "models/synapses"
  population In = poisson(200, rate = 20 Hz)
  population E  = lif(100, v = uniform(-70 mV, -55 mV))
  connect In -> E exp_current with probability 0.2 weight 90 pA
  connect E -> E exp_current with probability 0.05 weight 30 pA
  record spikes of E
  record v of E[0..2] every 0.5 ms
]], { seed = 1 })
print("\n" .. tostring(net))
net:run(0.5 * cj.second)
print(string.format("after %s: %d spikes in E, mean rate %s", tostring(net.t),
  net.spikes.E:count(), tostring(net.spikes.E:rate())))

-- 4. Plots through gnuplot
local png = "demo.png"
ok, err = pcall(cj.plot.raster, net.spikes.E, { out = png, title = "100 LIF neurons driven by Poisson input" })
print(ok and ("raster plot: " .. png) or ("no plot (" .. tostring(err) .. ")"))
