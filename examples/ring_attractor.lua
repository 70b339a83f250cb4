-- examples/ring_attractor.lua — a bump of activity that outlives its cue
-- (examples/ring_attractor.cajal: 64 threshold-linear units on a ring,
-- W = (J0 + J1 cos(theta_k - theta_l)) / N, J0 = -2, J1 = 3).
-- For 200 ms the units get a uniform drive plus a cue peaked at 90 degrees;
-- then the cue is removed and the drive is uniform again. With J1 > 2 the
-- bump stays where the cue put it (a memory of the cue's position); with
-- J1 = 1.5 (run with the argument 1.5) it decays to the uniform state.
--
--   cajal examples/ring_attractor.lua [J1]   -> a table, and r(theta, t) in ring_attractor.png
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local J1 = tonumber(arg and arg[1]) or 3
local net = cj.load(here .. "/ring_attractor.cajal", { params = { J1 = J1 } })
print(net)

local theta0 = math.pi / 2
local th = net.R.theta                     -- preferred angles, an array
net.R.h = 1 + 0.5 * cj.cos(th - theta0)    -- drive + cue, computed on arrays

-- the bump's centre (population vector) and contrast
local function bump()
  local r = net.R.r
  local x, y = (r * cj.cos(th)):sum(), (r * cj.sin(th)):sum()
  return math.deg(math.atan(y, x)), r:max(), r:min()
end

print("\n  t (ms)   cue   centre (deg)   max r    min r")
local function report(cue)
  local c, hi, lo = bump()
  print(string.format("%8.0f   %-4s %10.2f %10.4f %8.4f", net.t.value * 1e3, cue, c, hi, lo))
end
net:every(50 * cj.ms, function() report(net.t.value <= 0.2 + 1e-9 and "on" or "off") end)
net:run(200 * cj.ms)
net.R.h = 1                                -- the cue is gone
net:run(800 * cj.ms)

local c, hi, lo = bump()
if hi - lo > 0.1 then
  print(string.format("\nJ1 = %g: the bump persists 800 ms after the cue, centred at %.2f degrees (cue at 90)", J1, c))
else
  print(string.format("\nJ1 = %g: no bump without the cue (max - min = %.2g): below the critical J1 = 2", J1, hi - lo))
end

local ok, err = pcall(cj.plot.image, net.state.R.r:values():t():contiguous(), {
  out = "ring_attractor.png", xlabel = "time (5 ms per column)",
  ylabel = "unit k (preferred angle 360 k / 64 deg)", title = "ring attractor: rates r, cue off at 200 ms" })
print(ok and "r(theta, t): ring_attractor.png" or ("no plot: " .. tostring(err)))
