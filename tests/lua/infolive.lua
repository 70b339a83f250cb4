-- infolive.lua — live measures during a run (issue 9): spike windows
-- (mon:window(T), mon:since(t)) taken from net:every() callbacks hold
-- exactly the spikes of the full monitor restricted to the window, and
-- every statistic of cj.coding and cj.info computed from a window equals,
-- bit for bit, the same function on the whole monitor with t_start/t_stop
-- set to the window, and an independent re-computation in plain Lua. The
-- edges (a window before the network ran, longer than the run, starting at
-- 0, holding no spike, rounded to steps, of a slice of neurons, after a
-- reset) and the errors (bad lengths and times, state and rate monitors,
-- streamed monitors, options outside the window).
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local V = T.values
local srcdir = T.srcdir

-- Two lists equal element for element, NaN matching NaN.
local function same(a, b, what)
  assert(#a == #b, string.format("%s: %d vs %d elements", what, #a, #b))
  for k = 1, #a do
    if not (a[k] == b[k] or (a[k] ~= a[k] and b[k] ~= b[k])) then
      error(string.format("%s: element %d differs: %.17g vs %.17g", what, k, a[k], b[k]), 2)
    end
  end
end

local function isnan(x) return x ~= x end

-- The spikes of the full record (times, 1-based indices) with t0 <= t < t1,
-- and the sorted times of each neuron first..last.
local function restrict(mon, t0, t1, first, last)
  local ft, fi = V(mon:times()), V(mon:indices())
  local rt, ri, per = {}, {}, {}
  for n = first, last do per[n] = {} end
  for k = 1, #ft do
    if ft[k] >= t0 and ft[k] < t1 then
      rt[#rt + 1], ri[#ri + 1] = ft[k], fi[k]
      local l = per[fi[k]]
      l[#l + 1] = ft[k]
    end
  end
  return rt, ri, per
end

local ref_cv = T.ref_cv   -- ISI CV (std/mean, ddof 0) of sorted times

-- The bin of t in bins of dt from t0 (the rule of vm/core/spiketrain.h).
local function binof(t, t0, dt) return math.floor((t - t0) / dt + 1e-9) end

-- Fano factor (ddof 0) of the counts in whole windows of width w from t0.
local function ref_fano(t, t0, t1, w)
  local nw = math.floor((t1 - t0) / w + 1e-9)
  local c = {}
  for k = 0, nw - 1 do c[k] = 0 end
  for _, x in ipairs(t) do
    local b = binof(x, t0, w)
    if b >= 0 and b < nw then c[b] = c[b] + 1 end
  end
  local m, v = 0, 0
  for k = 0, nw - 1 do m = m + c[k] end
  m = m / nw
  for k = 0, nw - 1 do v = v + (c[k] - m) ^ 2 end
  return m > 0 and (v / nw) / m or 0 / 0
end

-- Plug-in entropy (bits) of the binary words of L bins of width dt, one
-- word starting at every bin, pooled over the trains.
local function ref_pooled_words(per, first, last, t0, t1, dt, L)
  local nb = math.floor((t1 - t0) / dt + 1e-9)
  local counts, total = {}, 0
  for n = first, last do
    local bins = {}
    for k = 0, nb - 1 do bins[k] = 0 end
    for _, x in ipairs(per[n]) do
      local b = binof(x, t0, dt)
      if b >= 0 and b < nb then bins[b] = 1 end
    end
    for s = 0, nb - L do
      local code = 0
      for j = 0, L - 1 do code = code * 2 + bins[s + j] end
      counts[code] = (counts[code] or 0) + 1
      total = total + 1
    end
  end
  local h = 0
  for _, c in pairs(counts) do h = h - c / total * math.log(c / total, 2) end
  return h
end

---------------------------------------------------------------- windows during a run
T.test("windows taken during a run equal the full monitor restricted to them", function()
  local net = cj.load(srcdir .. "/examples/cuba.cajal", { seed = 3, progress = false })
  local mon = net.spikes.E
  local WIN, checked = 0.25, 0
  net:every(100 * cj.ms, function(_, now)
    now = now.value
    local w = mon:window(WIN * cj.second)
    local t0, t1 = w:span()
    t0, t1 = t0.value, t1.value
    T.near(t1, now, 1e-12, "the window ends now")
    T.near(t0, math.max(0, now - WIN), 1e-12, "the window starts T before, or at 0")
    T.near(w:duration().value, t1 - t0, 1e-15, "duration")
    -- the spikes: those of the full copy in [t0, t1), in the same order
    local rt, ri, per = restrict(mon, t0, t1, 1, 3200)
    assert(#rt > 100, "spikes in the window: " .. #rt)
    T.same(V(w:times()), rt, "window times")
    T.same(V(w:indices()), ri, "window indices")
    assert(#w == #rt and w:count() == #rt)
    T.near(w:rate().value, #rt / (3200 * (t1 - t0)), 1e-12, "window rate")
    local cnt = V(w:counts())
    for n = 1, 3200 do assert(cnt[n] == #per[n], "count of neuron " .. n) end
    -- every statistic: bit for bit the whole monitor's over the window ...
    local o = { t_start = t0, t_stop = t1 }
    local cw, mcw = cj.coding.cv(w)
    local cm, mcm = cj.coding.cv(mon, o)
    same(V(cw), V(cm), "cv")
    assert(mcw == mcm, "mean cv")
    local fw, mfw = cj.coding.fano(w, 25 * cj.ms)
    local fm, mfm = cj.coding.fano(mon, 25 * cj.ms, o)
    same(V(fw), V(fm), "fano")
    assert(mfw == mfm, "mean fano")
    same(V(cj.coding.rates(w)), V(cj.coding.rates(mon, o)), "rates")
    same(V(cj.coding.psth(w, 5 * cj.ms)), V(cj.coding.psth(mon, 5 * cj.ms, o)), "psth")
    local hw = cj.info.word_entropy(w, 2 * cj.ms, 8, { mode = "pool" })
    local hm = cj.info.word_entropy(mon, 2 * cj.ms, 8, { mode = "pool", t_start = t0, t_stop = t1 })
    assert(hw == hm, "pooled word entropy")
    same(V(cj.info.word_entropy(w, 2 * cj.ms, 4)), V(cj.info.word_entropy(mon, 2 * cj.ms, 4, o)), "word entropies")
    -- ... and an independent re-computation from the restricted spikes
    local cv = V(cw)
    local fv = V(fw)
    for n = 1, 3200 do
      local r = ref_cv(per[n])
      -- absolute 1e-14 too: a regular neuron has a cv of rounding noise (~1e-16)
      if isnan(r) then assert(isnan(cv[n]), "cv NaN " .. n) else T.near(cv[n], r, 1e-12 * r + 1e-14, "cv " .. n) end
      r = ref_fano(per[n], t0, t1, 0.025)
      if isnan(r) then assert(isnan(fv[n]), "fano NaN " .. n) else T.near(fv[n], r, 1e-12 * r, "fano " .. n) end
    end
    T.near(hw, ref_pooled_words(per, 1, 3200, t0, t1, 0.002, 8), 1e-9, "pooled word entropy (Lua)")
    checked = checked + 1
  end)
  net:run(0.6)
  assert(checked == 6, "callbacks: " .. checked)
end)

---------------------------------------------------------------- the edges
local SOURCE = [[
population S = spike_times(3) from arrays st
population P = poisson(20, rate = 80 Hz)
record spikes of S
record spikes of P[5..9]
]]
local STIMES = { i = { 0, 1, 0, 2, 1 }, t = { 0.001, 0.002, 0.0051, 0.05, 0.07 } }

T.test("edges: before the run, longer than the run, from 0, silent, rounded, sliced, after a reset", function()
  local net = cj.network(SOURCE, { seed = 2, progress = false, arrays = { st = STIMES } })
  local S, P = net.spikes.S, net.spikes.P
  -- before the network ran: a window of zero length, which nothing measures
  local w0 = S:window(10 * cj.ms)
  assert(w0:count() == 0 and w0:duration().value == 0 and w0:rate().value == 0, tostring(w0))
  local a, b = w0:span()
  assert(a.value == 0 and b.value == 0)
  T.checkerror("is empty", cj.coding.cv, w0)
  T.checkerror("is empty", cj.info.word_entropy, S:since(0), 0.001, 2)
  net:run(0.1)
  -- longer than the run, and since(0): the whole record, as the monitor itself
  local wl, w00 = P:window(5 * cj.second), P:since(0)
  a, b = wl:span()
  assert(a.value == 0 and math.abs(b.value - 0.1) < 1e-12, "clipped to the run")
  T.same(V(wl:times()), V(P:times()), "long window = the monitor")
  T.same(V(w00:indices()), V(P:indices()), "since(0) = the monitor")
  local _, m1 = cj.coding.cv(wl)
  local _, m2 = cj.coding.cv(P)
  assert(m1 == m2 or (isnan(m1) and isnan(m2)))
  same(V(cj.coding.fano(w00, 10 * cj.ms)), V(cj.coding.fano(P, 10 * cj.ms)), "fano of since(0)")
  -- a silent window (S spikes at 1, 2, 5.1, 50, 70 ms): zero rates, NaN CV and
  -- Fano factor, zero word entropy, a zero PSTH
  local ws = S:window(20 * cj.ms)
  assert(ws:count() == 0, tostring(ws))
  same(V(cj.coding.rates(ws)), { 0, 0, 0 }, "silent rates")
  local cv, mcv = cj.coding.cv(ws)
  assert(isnan(mcv) and isnan(V(cv)[1]))
  local _, mf = cj.coding.fano(ws, 5 * cj.ms)
  assert(isnan(mf))
  assert(cj.info.word_entropy(ws, 1 * cj.ms, 4, { mode = "pool" }) == 0)
  same(V(cj.coding.psth(ws, 5 * cj.ms)), { 0, 0, 0, 0 }, "silent psth")
  -- rounding to steps (dt = 0.1 ms; halves round up): 0.25 ms is 3 steps,
  -- since(1.05 ms) starts at step 11, after the spike of step 10
  T.near(S:window(0.25 * cj.ms):duration().value, 0.0003, 1e-15, "0.25 ms -> 3 steps")
  local since = S:since(1.05 * cj.ms)
  T.near((since:span()).value, 0.0011, 1e-15, "since rounds to a step")
  T.same(V(since:times()), { 0.002, 0.0051, 0.05, 0.07 }, "since(1.05 ms)")
  T.same(V(S:since(0.001):indices()), { 1, 2, 1, 3, 2 }, "since(1 ms) holds the spike at 1 ms")
  -- a window of a slice of neurons (P[5..9], 1-based 6..10)
  local wp = P:window(50 * cj.ms)
  local first, last = wp:neurons()
  assert(first == 6 and last == 10)
  assert(cj.coding.rates(wp):numel() == 5)
  local cnt = V(wp:counts())
  assert(#cnt == 20)
  local tot = 0
  for n = 1, 20 do
    if n < 6 or n > 10 then assert(cnt[n] == 0) end
    tot = tot + cnt[n]
  end
  assert(tot == wp:count() and tot > 0)
  local rt = restrict(P, 0.05, 0.1, 6, 10)
  T.same(V(wp:times()), rt, "slice window")
  T.near(wp:rate().value, tot / (5 * 0.05), 1e-9, "slice rate")
  -- a window is a snapshot: running on does not change it
  local n0 = wp:count()
  net:run(0.05)
  assert(wp:count() == n0, "snapshot count")
  a, b = wp:span()
  T.near(b.value, 0.1, 1e-12, "snapshot span")
  T.near((select(2, P:window(50 * cj.ms):span())).value, 0.15, 1e-12, "a new window ends at the new time")
  -- narrower t_start/t_stop inside a window are honoured
  local wide = P:window(100 * cj.ms)
  a = (wide:span()).value
  same(V(cj.coding.rates(wide, { t_start = a + 0.02 })), V(cj.coding.rates(P, { t_start = a + 0.02, t_stop = 0.15 })),
    "narrowed window")
  -- after a reset the record is empty and windows start again at 0
  net:reset()
  assert(P:window(10 * cj.ms):count() == 0 and P:window(10 * cj.ms):duration().value == 0)
  assert(tostring(P:window(1)):find("spike window of P: 0 spikes"), tostring(P:window(1)))
end)

---------------------------------------------------------------- errors
T.test("bad windows and monitors without spikes give clear errors", function()
  local net = cj.network([[
import "models/lif"
population E = lif(3)
record spikes of E
record v of E every 1 ms
record rate of E
]], { seed = 1, backend = "interp", progress = false })
  net:run(0.01)
  local E = net.spikes.E
  T.checkerror("bad argument #1 to 'window' (the window length must be positive", E.window, E, -1)
  T.checkerror("the window length must be positive", E.window, E, 0)
  T.checkerror("the window length must be positive", E.window, E, 1 / 0)
  T.checkerror("the window length must be positive", E.window, E, 0 / 0)
  T.checkerror("window length expected (a quantity of time", E.window, E, "10")
  T.checkerror("window length expected (a time), got a quantity in", E.window, E, 2 * cj.mV)
  T.checkerror("at least one step (dt = 0.1 ms)", E.window, E, 0.01 * cj.ms)
  T.checkerror("bad argument #1 to 'since' (the start time must lie between 0 and the current time", E.since, E, -1)
  T.checkerror("the start time must lie between 0 and the current time 0.01 s", E.since, E, 0.5)
  T.checkerror("the start time must lie between", E.since, E, 0 / 0)
  T.checkerror("window: spike monitor expected (net.spikes.E), got cajal.statemonitor", E.window, net.state.E.v, 1)
  T.checkerror("since: spike monitor expected", E.since, {}, 0)
  T.checkerror("window: a state monitor records no spike times", function() return net.state.E.v:window(1) end)
  T.checkerror("since: a rate monitor records no spike times", function() return net.rate.E:since(0) end)
  T.checkerror("got a state or rate monitor, which records no spike times", cj.coding.cv, net.state.E.v)
  T.checkerror("got a state or rate monitor", cj.info.word_entropy, net.rate.E, 0.001, 2)
  local w = E:window(5 * cj.ms)
  T.checkerror("t_start and t_stop must lie inside the spike window", cj.coding.cv, w, { t_start = 0 })
  T.checkerror("t_start and t_stop must lie inside the spike window", cj.coding.rates, w, { t_stop = 1 })
  T.checkerror("in order", cj.coding.rates, w, { t_start = 0.009, t_stop = 0.008 })
  -- a monitor streamed to a file keeps its spikes there: no window of it
  local dir = T.tmpdir()
  local s = cj.network([[
population P = poisson(5, rate = 100 Hz)
record spikes of P to "]] .. dir .. [[/p.npy"
]], { seed = 1, progress = false })
  s:run(0.01)
  T.checkerror("window: the spike monitor streams to '" .. dir .. "/p.npy'", s.spikes.P.window, s.spikes.P, 0.005)
  os.execute("rm -rf " .. T.shq(dir))
end)

T.done()
