-- tests/lua/fixtures.lua — networks shared by several test files, so that
-- each is written once. Load with
--   local F = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/fixtures.lua")
local F = {}

-- A small recurrent network with every construct that carries state across
-- a run: random initial state, Poisson input, heterogeneous delays (spikes
-- in flight), plastic synapses with traces (event kernels, add statements),
-- summed and event-driven synapses, a refractory period; a monitor of each
-- kind. Used by network.lua and netsingle.lua.
F.SMALL = [[
  import "models/lif"
  import "models/synapses"
  import "models/stdp"
  population In = poisson(40, rate = 30 Hz)
  population E = lif(60, v = uniform(-70 mV, -55 mV), I_e = 300 pA)
  population I = lif(20, v = uniform(-70 mV, -55 mV))
  connect In -> E stdp(g_max = 2 nS) with probability 0.3 delay uniform(1 ms, 3 ms) as Plastic
  connect E -> E, I exp_current with probability 0.1 weight 150 pA delay uniform(0.5 ms, 4 ms)
  connect I -> E exp_cond(E_rev = -80 mV) with probability 0.3 weight 2 nS
  record spikes of E, I
  record v of E[0..4] every 1 ms
  record rate of I
]]

return F
