-- examples/decoding.lua — reading a stimulus out of a population of
-- Poisson neurons, and deciding between two stimuli as evidence arrives.
--
--   cajal examples/decoding.lua [duration_s [seed]]
--
-- examples/decoding.cajal: 64 neurons with Gaussian tuning curves. In P the
-- stimulus sweeps from -1 to +1 over the run (4 s by default); every 100 ms window of its spikes
-- is decoded by maximum likelihood, by the posterior mean under a flat
-- prior and by the tuning-weighted centre of mass (the population vector of
-- a linear variable), and the errors are compared with the Cramer-Rao
-- bound of the population. In Q the stimulus is held at s = 0.2; its spikes
-- are cut into 250 ms trials and a sequential probability ratio test
-- (Wald) decides between s = 0.2 and s = 0.1 bin by bin (10 ms), reporting
-- accuracy and decision times; a likelihood-ratio test with a prior and
-- unequal losses decides on whole trials. The decoded stimulus is plotted
-- to decoding.png.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 4
local seed = math.tointeger(tonumber(arg and arg[2])) or 1
local N, rmax, r0, width, speed = 64, 30, 2, 0.35, 2 / T     -- the sweep takes the whole run

local net = cj.load(here .. "/decoding.cajal", { seed = seed, progress = false, params = { speed = speed * cj.Hz } })
net:run(T * cj.second)

-- tuning curves on a grid of stimuli (stimuli x neurons, Hz)
local centres, grid = {}, {}
for i = 1, N do centres[i] = -1.5 + 3 * (i - 0.5) / N end
for g = 0, 600 do grid[#grid + 1] = -1.5 + g * 0.005 end
local function rate(i, s) return r0 + rmax * math.exp(-(s - centres[i]) ^ 2 / (2 * width ^ 2)) end
local tuning = {}
for g, s in ipairs(grid) do tuning[g] = {} for i = 1, N do tuning[g][i] = rate(i, s) end end
tuning = cj.array(tuning) * cj.Hz

-- P: decode 100 ms windows
local win = 0.1
local counts = cj.coding.bin(net.spikes.P, win, { t_stop = T }):t():contiguous()   -- windows x neurons
local nwin = counts.shape[1]
local ml = cj.coding.decode(counts, tuning, win, { grid = cj.array(grid) })
local pm = cj.coding.decode(counts, tuning, win, { grid = cj.array(grid), method = "mean" })
local truth, com, crb = {}, {}, 0
local cv = counts:totable()
local e_ml, e_pm, e_com = 0, 0, 0
for w = 1, nwin do
  local s = -1 + speed * (w - 0.5) * win
  truth[w] = s
  local num, den = 0, 0
  for i = 1, N do num = num + cv[w][i] * centres[i]; den = den + cv[w][i] end
  com[w] = den > 0 and num / den or 0
  local fi = 0                                   -- Fisher information of the window
  for i = 1, N do
    local df = (rate(i, s) - r0) * (centres[i] - s) / width ^ 2
    fi = fi + win * df * df / rate(i, s)
  end
  crb = crb + 1 / fi
  e_ml = e_ml + (ml[w] - s) ^ 2; e_pm = e_pm + (pm[w] - s) ^ 2; e_com = e_com + (com[w] - s) ^ 2
end
print(string.format("P: %d windows of %g ms, %d spikes", nwin, win * 1000, net.spikes.P:count()))
print(string.format("rms error: ML %.4f, posterior mean %.4f, centre of mass %.4f; Cramer-Rao bound %.4f",
  math.sqrt(e_ml / nwin), math.sqrt(e_pm / nwin), math.sqrt(e_com / nwin), math.sqrt(crb / nwin)))

-- Q: SPRT between s = 0.2 (true) and s = 0.1, trials of 250 ms binned at 10 ms
local ra, rb = {}, {}
for i = 1, N do ra[i] = rate(i, 0.2); rb[i] = rate(i, 0.1) end
ra, rb = cj.array(ra) * cj.Hz, cj.array(rb) * cj.Hz
local trial, bin = 0.25, 0.01
local ntr = math.floor(T / trial + 1e-9)
local right, decided, tsum, lrt_right = 0, 0, 0, 0
for k = 0, ntr - 1 do
  local c = cj.coding.bin(net.spikes.Q, bin, { t_start = k * trial, t_stop = (k + 1) * trial }):t():contiguous()
  local d, t = cj.coding.sprt(c, ra, rb, bin, { alpha = 0.01, beta = 0.01 })
  if d then right = right + 1 end
  if t.value == t.value then decided = decided + 1; tsum = tsum + t.value end   -- NaN: no threshold crossed
  -- the whole trial at once, with a prior of 0.3 for s = 0.2 and a false "0.2" costing twice as much
  local total = c:sum(1)
  if cj.coding.lrt(total, ra, rb, trial, { prior = 0.3, loss_a = 2 }) then lrt_right = lrt_right + 1 end
end
print(string.format("Q: SPRT (alpha = beta = 1%%) on %d trials of %g ms: %d correct, %d decided before the end,"
  .. " mean decision time %.0f ms", ntr, trial * 1000, right, decided, decided > 0 and 1000 * tsum / decided or 0 / 0))
print(string.format("   LRT on whole trials with P(0.2) = 0.3 and loss 2 for a false 0.2: %d of %d correct", lrt_right, ntr))

local rows = {}
for w = 1, nwin do rows[w] = { truth[w], ml[w], pm[w], com[w] } end
local ok, out = pcall(cj.plot.lines, (cj.range(1, nwin) - 0.5) * win, cj.array(rows),
  { out = "decoding.png", title = "Decoding a swept stimulus from 64 Poisson neurons (100 ms windows)",
    xlabel = "time (s)", ylabel = "stimulus", labels = { "true", "ML", "posterior mean", "centre of mass" } })
print(ok and "plot: decoding.png" or ("no plot: " .. tostring(out)))
