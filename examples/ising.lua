-- examples/ising.lua — the 2-D Ising model on a periodic L x L lattice
-- (J = 1, h = 0), Metropolis checkerboard sweeps, across temperatures: the
-- mean |magnetisation| per spin falls from 1 to near 0 around Onsager's
-- T_c = 2 / ln(1 + sqrt 2) = 2.269, where the susceptibility and the heat
-- capacity peak. Below T_c it follows Onsager's exact spontaneous
-- magnetisation (1 - sinh(2/T)^-4)^(1/8).
--
--   cajal examples/ising.lua [L [sweeps]]    (default 64 and 2000)
--   -> a table, ising.png (<|m|> and the susceptibility against T) and
--      ising_lattice.png (a configuration at T_c)
local cj = require "cajal"
local B = cj.boltzmann

local L = math.tointeger(tonumber(arg and arg[1])) or 64
local sweeps = math.tointeger(tonumber(arg and arg[2])) or 2000
local TC = 2 / math.log(1 + math.sqrt(2))

local temps, absm, onsager, chi = {}, {}, {}, {}
print(string.format("L = %d, %d sweeps per temperature after %d of burn-in; T_c = %.4f", L, sweeps,
  sweeps // 4, TC))
print("    T    <|m|>  Onsager      chi        C   Binder")
local model = B.ising(L, { seed = 1, init = "up" })
local grid = { 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.15, 2.2, 2.22, 2.24, 2.26, 2.27, 2.28, 2.3, 2.32, 2.35,
               2.4, 2.5, 2.6, 2.8, 3.0, 3.25, 3.5 }
for _, T in ipairs(grid) do
  model:run(sweeps // 4, { T = T })          -- burn-in, continuing from the last temperature
  local r = model:run(sweeps, { T = T })
  local ons = T < TC and (1 - math.sinh(2 / T) ^ -4) ^ 0.125 or 0
  temps[#temps + 1], absm[#absm + 1], onsager[#onsager + 1], chi[#chi + 1] = T, r.abs_m, ons, r.chi
  print(string.format("%5.2f  %7.4f  %7.4f  %7.2f  %7.3f  %7.3f", T, r.abs_m, ons, r.chi, r.heat, r.binder))
end
local peak = 1
for k = 2, #chi do if chi[k] > chi[peak] then peak = k end end
print(string.format("the susceptibility peaks at T = %.2f (T_c = %.3f; on an L x L lattice within about 1/L of it)",
  temps[peak], TC))

local T = cj.array(temps)
local ok, err = pcall(cj.plot.lines, T, cj.array({ absm, onsager }):t(), {
  out = "ising.png", xlabel = "temperature T (J / k_B)", ylabel = "<|m|>",
  labels = { string.format("Metropolis, %dx%d", L, L), "Onsager (L = infinity)" },
  title = string.format("2-D Ising model: the transition at T_c = %.3f", TC),
  commands = { string.format("set arrow from %.4f, graph 0 to %.4f, graph 1 nohead dt 2", TC, TC) } })
print(ok and "magnetisation against temperature: ising.png" or ("no plot: " .. tostring(err)))

local snap = B.ising(L, { seed = 2 })
snap:run(sweeps, { T = TC })
ok, err = pcall(cj.plot.image, snap:spins(), { out = "ising_lattice.png", palette = "gray",
  colorbar = false, title = string.format("spins at T_c after %d sweeps", sweeps) })
print(ok and "a configuration at T_c: ising_lattice.png" or ("no plot: " .. tostring(err)))
