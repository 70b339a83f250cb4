-- examples/rate_wta.lua — winner-take-all among 8 threshold-linear (ReLU)
-- rate units (examples/rate_wta.cajal): each unit excites itself with
-- weight alpha = 0.5 and inhibits every other unit with weight beta = 1.
-- Whatever the inputs, only the unit with the largest input stays active,
-- at r = h / (1 - alpha); the others fall silent. The inputs are set from
-- Lua (net.U.h is a live view of the network's state).
--
--   cajal examples/rate_wta.lua [seed]   -> a table, and r(t) in rate_wta.png
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local seed = math.tointeger(tonumber(arg and arg[1])) or 7
local alpha = 0.5

local net = cj.load(here .. "/rate_wta.cajal")
print(net)
math.randomseed(seed)
local h, best = {}, 1
for k = 1, net.U.N do
  h[k] = 0.8 + 0.2 * math.random()          -- inputs within 20 % of each other
  if h[k] > h[best] then best = k end
end
net.U.h = cj.array(h)
net:run(1 * cj.second)

local r = net.U.r:totable()
print("\nunit   input h   rate r after 1 s")
for k = 1, #r do
  print(string.format("%4d %9.4f %12.6f%s", k, h[k], r[k], k == best and "   <- largest input" or ""))
end
print(string.format("the winner is unit %d (argmax r = %d); theory r = h / (1 - alpha) = %.6f",
  best, net.U.r:argmax(), h[best] / (1 - alpha)))

local mon = net.state.U.r
local ok, err = pcall(cj.plot.lines, mon:times() * 1e3 / cj.second, mon:values(), {
  out = "rate_wta.png", xlabel = "time (ms)", ylabel = "rate r", xrange = { 0, 300 },
  title = "ReLU winner-take-all: 8 units" })
print(ok and "r(t) of every unit: rate_wta.png" or ("no plot: " .. tostring(err)))
