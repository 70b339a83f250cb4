-- examples/info_live.lua — watching a network while it runs: every 100 ms
-- of simulated time, a net:every() callback measures the last `window` ms
-- of the excitatory population of the CUBA network (examples/cuba.cajal,
-- 3200 E + 800 I LIF neurons) and prints
--   rate     mean firing rate (Hz)
--   CV       mean coefficient of variation of the interspike intervals
--   Fano     mean Fano factor of each neuron's counts in 50 ms windows
--   H        word entropy, bits per word of 8 bins of 2 ms (each neuron's
--            binary words, pooled over the population; plug-in)
--   sync     Fano factor of the population's spike count in 1 ms bins
--            (1 for independent Poisson neurons, larger when they fire together)
-- and redraws the five curves to info_live.png. Half-way through, the
-- callback kicks the network: it sets every membrane potential to just
-- below threshold, and the measures show the synchronous volleys that
-- follow and how the network returns to its irregular state.
--
--   cajal examples/info_live.lua [duration_s [window_ms [seed]]]
--
-- Each measure takes a spike window, net.spikes.E:window(T): the spikes of
-- the last T found by binary search in the monitor's record and copied
-- alone, so the cost of a callback does not grow with the length of the run
-- (tests/bench/infolive.lua measures it). At the end, the last window's
-- measures are recomputed from the whole monitor restricted to the window
-- (opts.t_start, t_stop): they must be identical.
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local T = tonumber(arg and arg[1]) or 2
local W = (tonumber(arg and arg[2]) or 300) * cj.ms
local seed = math.tointeger(tonumber(arg and arg[3])) or 1
local format = string.format

local net = cj.load(here .. "/cuba.cajal", { seed = seed, progress = false })
local E = net.spikes.E
local kick = math.floor(T / 2 * 10 + 0.5) / 10          -- on the 100 ms grid

-- The five measures of spike trains (a window, or the monitor with options).
local function measures(spikes, opts)
  local o = opts or {}
  local _, cv = cj.coding.cv(spikes, o)
  local _, fano = cj.coding.fano(spikes, 50 * cj.ms, o)
  local wo = { mode = "pool", t_start = o.t_start, t_stop = o.t_stop }
  local H = cj.info.word_entropy(spikes, 2 * cj.ms, 8, wo)
  local c = cj.coding.bin(spikes, 1 * cj.ms, o):sum(1)   -- population count per 1 ms bin
  local m = c:mean()
  return { cj.coding.rates(spikes, o):mean().value, cv, fano, H, m > 0 and c:var() / m or 0 / 0 }
end

local rows, times, plotted, noplot = {}, {}, nil, nil
local function draw()
  local ok, err = pcall(cj.plot.lines, cj.array(times), cj.array(rows), {
    out = "info_live.png", xlabel = "time (s)", grid = true,
    logy = true,
    title = format("CUBA, E population, measured every 100 ms over the last %g ms", W.value * 1e3),
    labels = { "rate / 10 Hz", "ISI CV", "Fano factor (50 ms)", "word entropy (bits / 16 ms word)",
               "sync: population count Fano (1 ms)" } })
  if ok then plotted = err else noplot = noplot or tostring(err) end
end

print(format("CUBA (seed %d), %g s; every 100 ms, the E population over the last %g ms; kick at %g s",
  seed, T, W.value * 1e3, kick))
print("    t (s)   rate (Hz)    CV    Fano   H (bits)    sync")
net:every(100 * cj.ms, function(n, t)
  local w = E:window(W)
  local m = measures(w)
  print(format("   %6.2f  %9.2f  %6.3f  %6.3f  %8.3f  %7.2f%s", t.value, m[1], m[2], m[3], m[4], m[5],
    math.abs(t.value - kick) < 1e-9 and "   <- kick" or ""))
  times[#times + 1] = t.value
  rows[#rows + 1] = { m[1] / 10, m[2], m[3], m[4], m[5] }
  if #rows >= 2 and not noplot then draw() end
  if math.abs(t.value - kick) < 1e-9 then                -- just below threshold (-50 mV)
    n.E.v = -50.1 * cj.mV
    n.I.v = -50.1 * cj.mV
  end
end)
net:run(T * cj.second)

-- the last window against the whole monitor restricted to it
local w = E:window(W)
local t0, t1 = w:span()
local a, b = measures(w), measures(E, { t_start = t0, t_stop = t1 })
local same = true
for k = 1, #a do same = same and (a[k] == b[k] or (a[k] ~= a[k] and b[k] ~= b[k])) end
print(format("last window [%g, %g) s, %d spikes: the whole monitor restricted to it gives %s measures",
  t0.value, t1.value, #w, same and "identical" or "DIFFERENT"))
print(plotted and ("plot: " .. plotted) or ("no plot: " .. tostring(noplot)))
