-- examples/fi_curve.lua — the f-I curve of a leaky integrate-and-fire
-- neuron against the analytic formula
--     f = 1 / (t_ref + tau ln((E_L + R I - v_reset) / (E_L + R I - v_th)))
-- (zero below the rheobase I = (v_th - E_L) / R = 200 pA). The model
-- (examples/fi_curve.cajal) is integrated exactly, so the only error is that
-- a threshold crossing is seen at the end of its time step: every interval
-- is at most one step (0.1 ms) shorter than the analytic period.
--
--   cajal examples/fi_curve.lua     -> a table, and the curve in fi_curve.png
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local tau, R, EL, vth, vreset, tref = 20e-3, 100e6, -70e-3, -50e-3, -65e-3, 2e-3
local dt = 1e-4

local net = cj.load(here .. "/fi_curve.cajal")
net:run(2 * cj.second)

-- spike times of each neuron (1-based)
local N = net.F.N
local times = {}
for k = 1, N do times[k] = {} end
local ts, is = net.spikes.F:times():totable(), net.spikes.F:indices():totable()
for s = 1, #ts do
  local l = times[is[s]]
  l[#l + 1] = ts[s].value
end

local I, fsim, fth = {}, {}, {}
local worst = 0
print("   I (pA)   f simulated (Hz)   f analytic (Hz)   period error (steps)")
for k = 1, N do
  local cur = (k - 1) * 5e-12                 -- I = i * 5 pA in the model (i = k - 1)
  local drive = EL + R * cur
  local P = drive > vth and tref + tau * math.log((drive - vreset) / (drive - vth)) or math.huge
  local t = times[k]
  -- the rate from the regular intervals (the first spike comes from rest)
  local f = #t >= 2 and (#t - 1) / (t[#t] - t[1]) or 0
  I[k], fsim[k], fth[k] = cur * 1e12, f, 1 / P
  if f > 0 then worst = math.max(worst, (P - 1 / f) / dt) end
  if (k - 1) % 10 == 0 then
    print(string.format("%9.0f %18.3f %17.3f %18.3f", cur * 1e12, f, 1 / P, f > 0 and (P - 1 / f) / dt or 0))
  end
end
print(string.format("largest shortfall of the mean period: %.3f steps (the bound: 1 step of %g ms)",
  worst, dt * 1e3))

local ok, err = pcall(cj.plot.lines, cj.array(I), cj.array({ fth, fsim }):t(), {
  out = "fi_curve.png", xlabel = "input current (pA)", ylabel = "firing rate (Hz)",
  title = "LIF f-I curve: simulation (dt = 0.1 ms) vs analytic", labels = { "analytic", "cajal" },
  grid = true })
print(ok and "plot: fi_curve.png" or ("no plot: " .. tostring(err)))
