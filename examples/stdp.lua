-- examples/stdp.lua — the STDP pair window: the change of weight of a
-- synapse against the time between its pre- and postsynaptic spike,
-- dt = t_post - t_pre, for the library's pair-based rule (models/stdp):
--     dw = Apre exp(-dt / taupre)     for dt > 0 (pre before post: potentiation)
--     dw = Apost exp(dt / taupost)    for dt < 0 (post before pre: depression)
-- with Apre = 0.01, Apost = -0.0105, taupre = taupost = 20 ms. The traces
-- are event-driven (advanced in closed form), so the simulated window is
-- the formula to rounding. t_pre is the time the pre spike reaches the
-- synapse: one step (the minimal delay) after it is emitted.
--
--   cajal examples/stdp.lua     -> a table, and the window in stdp.png
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local dt = 1e-4
local Apre, Apost, taupre, taupost = 0.01, -0.0105, 0.020, 0.020

-- pair k: pre spike at 100 ms, post driven to fire at 100 ms + d_k (the
-- driver's input, like the pre spike, arrives one step after it is sent)
local K, pre_i, pre_t, drv_i, drv_t = 0, {}, {}, {}, {}
for d = -50, 50 do
  if d ~= 0 then
    pre_i[#pre_i + 1], pre_t[#pre_t + 1] = K, 0.100
    drv_i[#drv_i + 1], drv_t[#drv_t + 1] = K, 0.100 + d * 1e-3
    K = K + 1
  end
end
local net = cj.load(here .. "/stdp.cajal", {
  params = { K = K },
  arrays = { pre = { i = pre_i, t = pre_t }, forcing = { i = drv_i, t = drv_t } },
})
print(net)
net:run(0.3 * cj.second)

local function firsttimes(mon)
  local t = {}
  local ts, is = mon:times():totable(), mon:indices():totable()
  for s = 1, #ts do t[is[s]] = t[is[s]] or ts[s].value end
  return t
end
local tpre, tpost = firsttimes(net.spikes.Pre), firsttimes(net.spikes.Post)
local w = net.S.w:totable()
local x, sim, theory, worst = {}, {}, {}, 0
print("\n  dt (ms)      dw simulated        dw theory")
for k = 1, K do
  local d = tpost[k] - (tpre[k] + dt)
  local th = d > 0 and Apre * math.exp(-d / taupre) or Apost * math.exp(d / taupost)
  x[k], sim[k], theory[k] = d * 1e3, w[k] - 0.5, th
  worst = math.max(worst, math.abs(sim[k] - th))
  if k % 10 == 1 then print(string.format("%9.1f %18.10f %16.10f", d * 1e3, sim[k], th)) end
end
print(string.format("largest difference from the formula: %.2g (weights are about 0.5)", worst))

local ok, err = pcall(cj.plot.scatter, cj.array(x), cj.array(sim), {
  out = "stdp.png", xlabel = "t_post - t_pre (ms)", ylabel = "weight change",
  title = "STDP pair window (models/stdp)", grid = true })
print(ok and "the window: stdp.png" or ("no plot: " .. tostring(err)))
