-- coding.lua — cj.coding against independent computations written here in
-- plain Lua: spike statistics (rates, ISIs, CV, Fano, PSTH, correlograms,
-- Welch spectra by a direct DFT) on arrays, strided views and the CUBA
-- network's monitors; the Poisson theory (CV and Fano near 1); the
-- time-rescaling test accepting the true intensity and rejecting a wrong
-- one; the STA of an LNP neuron recovering its filter; the GLM recovering
-- the filters of a GLM neuron simulated here; ML decoding unbiased with a
-- variance reaching the Cramer-Rao bound; LRT and SPRT; the population
-- vector; optimal linear reconstruction; and the errors.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local V = T.values
local srcdir = T.srcdir

local function corr(a, b)
  local n, ma, mb = #a, 0, 0
  for i = 1, n do ma = ma + a[i]; mb = mb + b[i] end
  ma, mb = ma / n, mb / n
  local sab, saa, sbb = 0, 0, 0
  for i = 1, n do
    sab = sab + (a[i] - ma) * (b[i] - mb); saa = saa + (a[i] - ma) ^ 2; sbb = sbb + (b[i] - mb) ^ 2
  end
  return sab / math.sqrt(saa * sbb)
end

-- reference statistics of a Lua list of sorted spike times
local ref_cv = T.ref_cv

local function ref_counts(t, t0, w, nw)
  local c = {}
  for k = 1, nw do c[k] = 0 end
  for _, x in ipairs(t) do
    local b = math.floor((x - t0) / w + 1e-9) + 1
    if b >= 1 and b <= nw then c[b] = c[b] + 1 end
  end
  return c
end

local function ref_fano(t, t0, t1, w)
  local nw = math.floor((t1 - t0) / w + 1e-9)
  local c = ref_counts(t, t0, w, nw)
  local m, v = 0, 0
  for k = 1, nw do m = m + c[k] end
  m = m / nw
  for k = 1, nw do v = v + (c[k] - m) ^ 2 end
  return m > 0 and v / nw / m or 0 / 0
end

-- Welch PSD as scipy.signal.welch (periodic Hann, mean removed, density,
-- one-sided) by a direct DFT
local function ref_welch(x, fs, nseg, nover)
  local step, w, ws = nseg - nover, {}, 0
  for k = 0, nseg - 1 do w[k] = 0.5 - 0.5 * math.cos(2 * math.pi * k / nseg); ws = ws + w[k] ^ 2 end
  local nf, psd, nsegs = nseg // 2 + 1, {}, 0
  for f = 1, nf do psd[f] = 0 end
  local start = 0
  while start + nseg <= #x do
    local mean = 0
    for k = 1, nseg do mean = mean + x[start + k] end
    mean = mean / nseg
    for f = 0, nf - 1 do
      local re, im = 0, 0
      for k = 0, nseg - 1 do
        local a = -2 * math.pi * f * k / nseg
        local v = (x[start + k + 1] - mean) * w[k]
        re = re + v * math.cos(a); im = im + v * math.sin(a)
      end
      psd[f + 1] = psd[f + 1] + re * re + im * im
    end
    nsegs = nsegs + 1
    start = start + step
  end
  for f = 1, nf do
    psd[f] = psd[f] / nsegs / (fs * ws)
    if f > 1 and not (nseg % 2 == 0 and f == nf) then psd[f] = psd[f] * 2 end
  end
  return psd
end

local function sorted(t) table.sort(t); return t end

---------------------------------------------------------------- statistics on arrays
T.test("rates, ISIs, CV, Fano, PSTH and bins match loops in Lua, contiguous and strided", function()
  local r = cj.rng(1)
  local lists, trains = {}, {}
  for j = 1, 3 do
    local big = cj.sort(r:rand(2 * 300 * j) * 20)           -- every other element: a strided view
    trains[j] = big[{ { 1, 2 * 300 * j, 2 } }]
    lists[j] = V(trains[j])
  end
  local opts = { t_stop = 20 }
  local rates = V(cj.coding.rates(trains, opts))
  for j = 1, 3 do T.near(rates[j], #lists[j] / 20, 1e-12, "rate") end
  local isi, own = cj.coding.isi(trains, opts)
  local iv, ov = V(isi), V(own)
  local k = 0
  for j = 1, 3 do for i = 2, #lists[j] do
    k = k + 1
    T.near(iv[k], lists[j][i] - lists[j][i - 1], 1e-15, "isi"); assert(ov[k] == j)
  end end
  assert(#iv == k)
  local cv, mcv = cj.coding.cv(trains, opts)
  local cvv = V(cv)
  for j = 1, 3 do T.near(cvv[j], ref_cv(lists[j]), 1e-12, "cv") end
  T.near(mcv, (cvv[1] + cvv[2] + cvv[3]) / 3, 1e-12, "mean cv")
  local f = V(cj.coding.fano(trains, 0.25, opts))
  for j = 1, 3 do T.near(f[j], ref_fano(lists[j], 0, 20, 0.25), 1e-12, "fano") end
  local fw, fall = cj.coding.fano(trains, cj.array{0.1, 0.5} * cj.second, opts)
  T.near(V(fall)[2 * 2], ref_fano(lists[2], 0, 20, 0.5), 1e-12, "fano matrix")
  assert(fw:numel() == 2)
  local psth, t = cj.coding.psth(trains, 0.5, opts)
  local pv = V(psth)
  local cnt = {}
  for b = 1, 40 do cnt[b] = 0 end
  for j = 1, 3 do local c = ref_counts(lists[j], 0, 0.5, 40) for b = 1, 40 do cnt[b] = cnt[b] + c[b] end end
  for b = 1, 40 do T.near(pv[b], cnt[b] / (3 * 0.5), 1e-12, "psth") end
  T.near(V(t)[2], 0.5, 1e-15, "bin starts")
  local counts = cj.coding.bin(trains, 0.5, opts)
  assert(counts.shape[1] == 3 and counts.shape[2] == 40 and counts.dtype == "int32")
  T.same(V(counts[2]), ref_counts(lists[2], 0, 0.5, 40), "bin")
  -- one train: numbers
  local one = cj.array(lists[1]) * cj.second
  T.near(cj.coding.cv(one), cvv[1], 1e-12, "one train")
  assert(type(cj.coding.fano(one, 0.25, opts)) == "number")
  -- {times, indices}
  local tt, ii = {}, {}
  for j = 1, 3 do for _, x in ipairs(lists[j]) do tt[#tt + 1] = x; ii[#ii + 1] = j end end
  local rr = V(cj.coding.rates({ times = cj.array(tt), indices = cj.array(ii) }, opts))
  T.same(rr, rates, "times and indices")
end)

T.test("a Poisson process has CV and Fano factor near one", function()
  local r = cj.rng(2)
  local t = cj.sort(r:rand(20000) * 1000)        -- 20 Hz for 1000 s
  T.near(cj.coding.cv(t), 1, 0.03, "CV")
  T.near(cj.coding.fano(t, 0.1, { t_stop = 1000 }), 1, 0.05, "Fano 100 ms")
  T.near(cj.coding.fano(t, 1, { t_stop = 1000 }), 1, 0.1, "Fano 1 s")
end)

T.test("correlograms match a brute-force count over all pairs", function()
  local r = cj.rng(3)
  local a = { cj.sort(r:rand(150)), cj.sort(r:rand(100)) }
  local b = { cj.sort(r:rand(120)) }
  local la, lb = { V(a[1]), V(a[2]) }, { V(b[1]) }
  local bin, w = 0.002, 0.02
  local c, lags = cj.coding.correlogram(a, b, bin, w)
  local ref = {}
  for k = 1, 20 do ref[k] = 0 end
  for _, x in ipairs(la) do for _, tx in ipairs(x) do for _, ty in ipairs(lb[1]) do
    local d = ty - tx
    if d >= -w and d <= w then
      local k = math.floor((d + w) / bin) + 1
      if k == 21 then k = 20 end
      ref[k] = ref[k] + 1
    end
  end end end
  T.same(V(c), ref, "cross")
  T.near(V(lags)[1], -w + bin / 2, 1e-15, "lag centres")
  local ac = V(cj.coding.correlogram(a, bin, w))
  local aref = {}
  for k = 1, 20 do aref[k] = 0 end
  for _, x in ipairs(la) do for i, tx in ipairs(x) do for j, ty in ipairs(x) do
    local d = ty - tx
    if i ~= j and d >= -w and d <= w then
      local k = math.floor((d + w) / bin) + 1
      if k == 21 then k = 20 end
      aref[k] = aref[k] + 1
    end
  end end end
  T.same(ac, aref, "auto")
  local rate = V(cj.coding.correlogram(a, b, bin, w, { normalize = "rate" }))
  T.near(rate[5], ref[5] / (250 * bin), 1e-9, "rate normalisation")
end)

T.test("Welch spectra match a direct DFT (as scipy.signal.welch)", function()
  local r = cj.rng(4)
  local x = V(r:randn(1000))
  local f, p = cj.coding.welch(cj.array(x), 0.001, { segment = 0.128 })
  local ref = ref_welch(x, 1000, 128, 64)
  local pv = V(p)
  assert(#pv == 65)
  for k = 1, 65 do T.near(pv[k], ref[k], 1e-10 * ref[k] + 1e-15, "psd " .. k) end
  T.near(V(f)[2], 1000 / 128, 1e-12, "frequencies")
  -- white noise of variance 1 sampled at 1 kHz: density 2 / fs per Hz (one-sided)
  local big = r:randn(200000)
  local _, pb = cj.coding.welch(big, 0.001, { segment = 0.256 })
  local m = 0
  for _, v in ipairs(V(pb)) do m = m + v end
  T.near(m / pb:numel(), 2 / 1000, 0.0001, "white noise level")
end)

---------------------------------------------------------------- the CUBA network
T.test("ISI CV, Fano factor and spectrum of the CUBA example match a re-computation", function()
  local net = cj.load(srcdir .. "/examples/cuba.cajal", { seed = 1, progress = false })
  net:run(1 * cj.second)
  local mon = net.spikes.E
  local times, idx = V(mon:times()), V(mon:indices())
  local first, last = mon:neurons()
  assert(first == 1 and last == 3200)
  T.near(mon:duration().value, 1, 1e-9, "duration")
  local per = {}
  for n = 1, 3200 do per[n] = {} end
  for k = 1, #times do local l = per[idx[k]]; l[#l + 1] = times[k] end
  -- CV of each neuron
  local cv, mcv = cj.coding.cv(mon)
  local cvv = V(cv)
  local sum, n = 0, 0
  for i = 1, 3200 do
    local ref = ref_cv(per[i])
    if ref == ref then
      T.near(cvv[i], ref, 1e-9, "cv of neuron " .. i); sum = sum + ref; n = n + 1
    else
      assert(cvv[i] ~= cvv[i], "NaN for neuron " .. i)
    end
  end
  T.near(mcv, sum / n, 1e-9, "mean CV")
  assert(n > 1000, "enough neurons fire repeatedly: " .. n)
  -- Fano factor in 50 ms windows
  local fv, mf = cj.coding.fano(mon, 50 * cj.ms)
  fv = V(fv)
  local fs, fn = 0, 0
  for i = 1, 3200 do
    local ref = ref_fano(per[i], 0, 1, 0.05)
    if ref == ref then T.near(fv[i], ref, 1e-9, "fano " .. i); fs = fs + ref; fn = fn + 1 end
  end
  T.near(mf, fs / fn, 1e-9, "mean Fano")
  -- spectrum of the population rate, bins of 1 ms, segments of 128 ms
  local f, p = cj.coding.spectrum(mon, 1 * cj.ms, { segment = 128 * cj.ms })
  local rate = ref_counts(times, 0, 0.001, 1000)
  for b = 1, 1000 do rate[b] = rate[b] / (3200 * 0.001) end
  local ref = ref_welch(rate, 1000, 128, 64)
  local pv = V(p)
  for k = 1, #ref do T.near(pv[k], ref[k], 1e-9 * ref[k] + 1e-12, "psd " .. k) end
  assert(tostring(f[2]):find("Hz"))
  -- words of the monitor, and a slice of neurons through t_start/t_stop
  local h = cj.info.word_entropy(mon, 2 * cj.ms, 4, { mode = "pool", t_start = 0.2 })
  assert(h > 0 and h < 4)
end)

---------------------------------------------------------------- time rescaling
T.test("time rescaling accepts the true intensity and rejects a wrong one", function()
  local r = cj.rng(5)
  local dur, lmax = 200, 36
  local lam = function(t) return 20 * (1 + 0.8 * math.sin(2 * math.pi * 2 * t)) end
  local cand = V(cj.sort(r:rand(math.floor(lmax * dur)) * dur))
  local u = V(r:rand(#cand))
  local kept = {}
  for k = 1, #cand do if u[k] < lam(cand[k]) / lmax then kept[#kept + 1] = cand[k] end end
  local spikes = cj.array(kept) * cj.second
  local dt, nb = 0.0005, math.floor(dur / 0.0005)
  local l = {}
  for b = 1, nb do l[b] = lam((b - 0.5) * dt) end
  local ks, p, z, q = cj.coding.time_rescaling(spikes, cj.array(l) * cj.Hz, { dt = dt, t_stop = dur })
  assert(p > 0.05, string.format("true model rejected: KS %.4f, p %.3g", ks, p))
  assert(z:numel() == #kept and q:numel() == #kept)
  local ks2, p2 = cj.coding.time_rescaling(spikes, 20 * cj.Hz, { t_stop = dur })
  assert(p2 < 1e-4, string.format("a constant rate accepted: KS %.4f, p %.3g", ks2, p2))
  assert(ks2 > ks)
  -- KS statistic against a direct computation
  local zv, n, d = V(z), #kept, 0
  for k = 1, n do d = math.max(d, k / n - zv[k], zv[k] - (k - 1) / n) end
  T.near(ks, d, 1e-15, "KS distance")
end)

---------------------------------------------------------------- encoding
-- white-noise stimulus and a causal filter applied in Lua
local function filtered(s, k)
  local x = {}
  for t = 1, #s do
    local acc = 0
    for l = 1, #k do if t - l + 1 >= 1 then acc = acc + k[l] * s[t - l + 1] end end
    x[t] = acc
  end
  return x
end

T.test("the STA of an LNP neuron driven by white noise recovers its filter; the nonlinearity by Bayes' rule", function()
  local r = cj.rng(6)
  local Tn, dt = 200000, 0.001
  local s = V(r:randn(Tn))
  local k = {}
  for l = 1, 20 do k[l] = math.sin(math.pi * (l - 1) / 10) * math.exp(-(l - 1) / 6) end
  local norm = 0
  for l = 1, 20 do norm = norm + k[l] ^ 2 end
  norm = math.sqrt(norm)
  for l = 1, 20 do k[l] = k[l] / norm end
  local x = filtered(s, k)
  local u = V(r:rand(Tn))
  local y = {}
  for t = 1, Tn do y[t] = u[t] < 20 * math.exp(x[t]) * dt and 1 or 0 end
  local sta, nsp = cj.coding.sta(cj.array(s), cj.array(y), 20)
  assert(nsp > 3000)
  assert(corr(V(sta), k) > 0.95, "STA vs filter: " .. corr(V(sta), k))
  -- spike times (a quantity array) binned at dt give the same STA
  local times = {}
  for t = 1, Tn do if y[t] == 1 then times[#times + 1] = (t - 0.5) * dt end end
  local sta2 = cj.coding.sta(cj.array(s), cj.array(times) * cj.second, 20, { dt = dt, t_stop = Tn * dt })
  T.same(V(sta2), V(sta), "trains vs counts")
  -- the nonlinearity: rate(x) = 20 exp(x) along the unit filter
  local model = cj.coding.lnp(cj.array(s), cj.array(y), 20, { dt = dt, filter = cj.array(k), bins = 10 })
  local e, rt = V(model.edges), V(model.rate)
  for b = 3, 8 do
    local mid = (e[b] + e[b + 1]) / 2
    T.near(rt[b], 20 * math.exp(mid), 0.15 * 20 * math.exp(mid), "rate in bin " .. b)
  end
  local pred = V(cj.coding.lnp_rate(model, cj.array(s)))
  assert(pred[1] ~= pred[1] and pred[100] > 0)
  -- STC: a symmetric (energy) neuron has a large STC eigenvalue along its filter
  local y2 = {}
  for t = 1, Tn do y2[t] = u[t] < 5 * x[t] ^ 2 * dt and 1 or 0 end
  local ev, evec = cj.coding.stc(cj.array(s), cj.array(y2), 20)
  local e1 = V(evec:t()[1])
  assert(V(ev)[1] > 1, "leading eigenvalue " .. V(ev)[1])
  assert(math.abs(corr(e1, k)) > 0.95, "leading STC vector: " .. corr(e1, k))
end)

-- a Poisson draw by inversion from a uniform u
local function poisson(mu, u)
  local p, c, k = math.exp(-mu), math.exp(-mu), 0
  while u > c and k < 50 do k = k + 1; p = p * mu / k; c = c + p end
  return k
end

T.test("the GLM recovers the stimulus and history filters of a simulated GLM neuron", function()
  local r = cj.rng(7)
  local Tn, dt = 200000, 0.001
  local s = V(r:randn(Tn))
  local k, h = {}, {}
  for l = 1, 20 do k[l] = 0.6 * math.sin(math.pi * (l - 1) / 12) * math.exp(-(l - 1) / 5) end
  for j = 1, 20 do h[j] = -4 * math.exp(-(j - 1) / 2) + 0.6 * math.exp(-((j - 9) / 3) ^ 2) end
  local x = filtered(s, k)
  local u = V(r:rand(Tn))
  local y, b = {}, math.log(20)
  for t = 1, Tn do
    local eta = b + x[t]
    for j = 1, 20 do if t - j >= 1 and y[t - j] > 0 then eta = eta + h[j] * y[t - j] end end
    y[t] = poisson(math.exp(eta) * dt, u[t])
  end
  local m = cj.coding.glm(cj.array(s), cj.array(y), { dt = dt, lags = 20, hlags = 20, basis = "none" })
  assert(m.converged[1], "converged")
  local kf, hf = V(m.k), V(m.h)
  assert(corr(kf, k) > 0.95, "stimulus filter: " .. corr(kf, k))
  assert(corr(hf, h) > 0.95, "history filter: " .. corr(hf, h))
  T.near(m.bias[1], b, 0.15, "bias (log rate)")
  -- on raised cosines (8 + 8 weights) the fit keeps the shapes
  local mc = cj.coding.glm(cj.array(s), cj.array(y), { dt = dt, lags = 20, hlags = 20, nk = 8, nh = 8 })
  assert(corr(V(mc.k), k) > 0.95, "cosine stimulus filter: " .. corr(V(mc.k), k))
  assert(corr(V(mc.h), h) > 0.9, "cosine history filter: " .. corr(V(mc.h), h))
  -- cj.coding.glm_simulate draws from the same model: refitting recovers it too
  local model = { dt = dt, bias = cj.array{b}, k = cj.array(k):reshape(1, 20, 1), h = cj.array(h):reshape(1, 1, 20) }
  local ysim = cj.coding.glm_simulate(model, cj.array(s), { seed = 3 })
  local m2 = cj.coding.glm(cj.array(s), ysim, { dt = dt, lags = 20, hlags = 20, basis = "none" })
  assert(corr(V(m2.k), k) > 0.95 and corr(V(m2.h), h) > 0.95, "refit of glm_simulate")
  -- the conditional intensity of the true model passes time rescaling; a model without history fails
  local times = {}
  for t = 1, Tn do if y[t] > 0 then times[#times + 1] = (t - 1 + 0.5) * dt end end
  local lam = cj.coding.glm_rate(model, cj.array(s), cj.array(y))
  local _, p = cj.coding.time_rescaling(cj.array(times) * cj.second, lam, { dt = dt, t_stop = Tn * dt })
  local nohist = { dt = dt, bias = cj.array{b}, k = model.k }
  local lam0 = cj.coding.glm_rate(nohist, cj.array(s), cj.array(y))
  local _, p0 = cj.coding.time_rescaling(cj.array(times) * cj.second, lam0, { dt = dt, t_stop = Tn * dt })
  assert(p > 0.01 and p0 < 1e-6, string.format("rescaling p: true %.3g, without history %.3g", p, p0))
  -- the discrete-time form (Haslinger et al. 2010), exact for a model of binned counts
  local _, pd = cj.coding.time_rescaling(cj.array(times) * cj.second, lam, { dt = dt, t_stop = Tn * dt, discrete = true, seed = 1 })
  local _, pd0 = cj.coding.time_rescaling(cj.array(times) * cj.second, lam0, { dt = dt, t_stop = Tn * dt, discrete = true, seed = 1 })
  assert(pd > 0.01 and pd0 < 1e-6, string.format("discrete rescaling p: true %.3g, without history %.3g", pd, pd0))
end)

T.test("the GLM recovers coupling between two neurons", function()
  local r = cj.rng(8)
  local Tn, dt = 100000, 0.001
  local c = {}
  for j = 1, 10 do c[j] = 1.5 * math.exp(-(j - 1) / 3) end        -- neuron 1 excites neuron 2
  local u1, u2 = V(r:rand(Tn)), V(r:rand(Tn))
  local y1, y2 = {}, {}
  for t = 1, Tn do
    y1[t] = poisson(30 * dt, u1[t])
    local eta = math.log(10)
    for j = 1, 10 do if t - j >= 1 then eta = eta + c[j] * y1[t - j] end end
    y2[t] = poisson(math.exp(eta) * dt, u2[t])
  end
  local y = cj.array{ y1, y2 }
  local m = cj.coding.glm(nil, y, { dt = dt, hlags = 10, basis = "none" })
  local h = m.h
  local c21 = V(h[{ 2, 1 }])
  assert(corr(c21, c) > 0.95, "coupling 1 -> 2: " .. corr(c21, c))
  local c12 = V(h[{ 1, 2 }])
  local mx = 0
  for j = 1, 10 do mx = math.max(mx, math.abs(c12[j])) end
  assert(mx < 0.5, "no coupling 2 -> 1: " .. mx)
end)

T.test("raised-cosine bases follow their formula", function()
  local B = cj.coding.raised_cosine(4, 30, { first = 0, last = 12, offset = 1 })
  local a, b = math.log(1), math.log(13)
  local d = (b - a) / 3
  for t = 0, 29, 7 do for j = 0, 3 do
    local arg = math.max(-math.pi, math.min(math.pi, (math.log(t + 1) - (a + j * d)) * math.pi / (2 * d)))
    T.near(B[{ t + 1, j + 1 }], (math.cos(arg) + 1) / 2, 1e-12, "basis")
  end end
  -- bumps a quarter period apart: four overlap everywhere inside and sum to 2
  local L = cj.coding.raised_cosine(5, 40, { offset = 0 })
  local s = V(L:sum(2))
  for t = 8, 20 do T.near(s[t], 2, 1e-12, "linear bumps sum to two inside") end
end)

---------------------------------------------------------------- decoding
T.test("ML decoding is unbiased and its variance approaches the Cramer-Rao bound", function()
  local r = cj.rng(9)
  local s0, win, sig, rmax, r0 = 0.1, 0.5, 0.5, 20, 1
  local grid = {}
  for g = 0, 1000 do grid[#grid + 1] = -1 + g * 0.002 end
  local ratios = {}
  for _, N in ipairs({ 4, 16, 64 }) do
    local centres = {}
    for i = 1, N do centres[i] = -2 + 4 * (i - 0.5) / N end
    local f = function(i, x) return rmax * math.exp(-(x - centres[i]) ^ 2 / (2 * sig ^ 2)) + r0 end
    local tuning = {}
    for g, x in ipairs(grid) do tuning[g] = {} for i = 1, N do tuning[g][i] = f(i, x) end end
    local trials = 2000
    local cols = {}
    for i = 1, N do cols[i] = V(r:poisson(f(i, s0) * win, trials)) end
    local counts = {}
    for tr = 1, trials do counts[tr] = {} for i = 1, N do counts[tr][i] = cols[i][tr] end end
    local est = V((cj.coding.decode(cj.array(counts), cj.array(tuning) * cj.Hz, win, { grid = cj.array(grid) })))
    local m, v = 0, 0
    for _, e in ipairs(est) do m = m + e end
    m = m / trials
    for _, e in ipairs(est) do v = v + (e - m) ^ 2 end
    v = v / (trials - 1)
    local fi = 0
    for i = 1, N do
      local df = (f(i, s0) - r0) * (-(s0 - centres[i]) / sig ^ 2)
      fi = fi + win * df ^ 2 / f(i, s0)
    end
    local crb = 1 / fi
    assert(math.abs(m - s0) < 4 * math.sqrt(v / trials), string.format("N=%d: mean %.4f vs %.4f", N, m, s0))
    ratios[N] = v / crb
  end
  -- 2000 trials: the variance is known to about 6 %; at 64 neurons ML is efficient
  assert(ratios[64] > 0.88 and ratios[64] < 1.12, "var / CRB at N = 64: " .. ratios[64])
  assert(math.abs(ratios[4] - 1) > math.abs(ratios[64] - 1), string.format("var/CRB %.3f (N=4) vs %.3f (N=64)", ratios[4], ratios[64]))
  -- MAP and posterior mean, and the posterior sums to one
  local tun = cj.array{ { 5, 20 }, { 20, 5 } }
  local est, post = cj.coding.decode(cj.array{ 3, 9 }, tun, 0.5, { method = "map", prior = cj.array{ 0.9, 0.1 } })
  T.near(post:sum(), 1, 1e-12, "posterior")
  local ll = V(cj.coding.loglikelihood(cj.array{ 3, 9 }, tun, 0.5))
  local lp1, lp2 = ll[1] + math.log(0.9), ll[2] + math.log(0.1)
  assert(est == (lp1 > lp2 and 1 or 2))
  T.near(V(post)[1], 1 / (1 + math.exp(lp2 - lp1)), 1e-12, "posterior value")
  local lref = 3 * math.log(5 * 0.5) - 5 * 0.5 + 9 * math.log(20 * 0.5) - 20 * 0.5 - math.log(6) - math.log(362880)
  T.near(ll[1], lref, 1e-12, "Poisson log-likelihood")
end)

T.test("likelihood-ratio test and SPRT with priors and losses", function()
  local ra, rb = cj.array{ 20, 10, 15 }, cj.array{ 10, 20, 15 }
  local d, llr = cj.coding.lrt(cj.array{ 4, 1, 3 }, ra, rb, 0.2)
  local ref = 4 * math.log(2) + 1 * math.log(0.5) - (10 - 10 + 0) * 0.2
  T.near(llr, ref, 1e-12, "log LR")
  assert(d == true)
  local d2 = cj.coding.lrt(cj.array{ 4, 1, 3 }, ra, rb, 0.2, { loss_a = 100 })
  assert(d2 == false, "a large cost of a false 'a' flips the decision")
  local d3 = cj.coding.lrt(cj.array{ 4, 1, 3 }, ra, rb, 0.2, { prior = 0.001 })
  assert(d3 == false, "a small prior flips it too")
  -- SPRT: trials drawn under a; errors below Wald's bound alpha / (1 - beta)
  local r = cj.rng(10)
  local N, steps, trials, dt = 10, 400, 300, 0.01
  local fa, fb = {}, {}
  for i = 1, N do fa[i] = 12; fb[i] = 8 end
  local c = r:poisson(12 * dt, trials, steps, N)
  local dec, tm = cj.coding.sprt(c, cj.array(fa), cj.array(fb), dt, { alpha = 0.05, beta = 0.05 })
  local wrong, tsum = 0, 0
  for k, v in ipairs(V(dec)) do
    if v ~= 1 then wrong = wrong + 1 end
    tsum = tsum + V(tm)[k]
  end
  assert(wrong / trials < 0.05 / 0.95 + 0.03, "SPRT error rate " .. wrong / trials)
  assert(tsum == tsum and tsum / trials < steps * dt, "decisions are made in time")
  local one, t1, path = cj.coding.sprt(c[1], cj.array(fa), cj.array(fb), dt)
  assert(type(one) == "boolean" and path:numel() == steps)
end)

T.test("the population vector of cosine tuning points at the stimulus", function()
  local N, pref = 16, {}
  for i = 1, N do pref[i] = 2 * math.pi * (i - 1) / N end
  for _, th in ipairs({ 0.3, 2.0, 5.5 }) do
    local rates = {}
    for i = 1, N do rates[i] = 20 + 15 * math.cos(th - pref[i]) end
    local a = cj.coding.population_vector(cj.array(rates), cj.array(pref))
    T.near(a, th, 1e-12, "angle")
    local a2 = cj.coding.population_vector(cj.array(rates), cj.array(pref), { baseline = 20 })
    T.near(a2, th, 1e-12, "with baseline")
  end
  -- orientations (period pi)
  local rates = {}
  for i = 1, N do rates[i] = 10 + 8 * math.cos(2 * (1.0 - pref[i] / 2)) end
  local half = {}
  for i = 1, N do half[i] = pref[i] / 2 end
  T.near(cj.coding.population_vector(cj.array(rates), cj.array(half), { period = math.pi }), 1.0, 1e-12, "orientation")
end)

T.test("optimal linear reconstruction recovers a stimulus from spike trains", function()
  local r = cj.rng(11)
  local Tn, dt = 40000, 0.002
  local w = V(r:randn(Tn))
  local s, acc = {}, 0
  for t = 1, Tn do acc = acc * 0.95 + w[t]; s[t] = acc * 0.3 end      -- slow stimulus
  local N, trains = 8, {}
  for i = 1, N do
    local u, g = V(r:rand(Tn)), (i % 2 == 0) and 1 or -1
    local t = {}
    for b = 1, Tn do if u[b] < 20 * math.exp(g * s[b]) * dt then t[#t + 1] = (b - 0.5) * dt end end
    trains[i] = cj.array(t) * cj.second
  end
  local half = Tn // 2
  local first, second = {}, {}
  for t = 1, half do first[t] = s[t]; second[t] = s[half + t] end
  local est, K, stats = cj.coding.reconstruct(trains, cj.array(first), dt, { pre = 10, post = 10, t_stop = half * dt })
  assert(stats.r2 > 0.5, "training r2 " .. stats.r2)
  assert(K.shape[1] == N and K.shape[2] == 21)
  -- the same filters on the second half
  local shifted = {}
  for i = 1, N do shifted[i] = trains[i] - half * dt * cj.second end
  local _, _, st2 = cj.coding.reconstruct(shifted, cj.array(second), dt,
    { pre = 10, post = 10, t_stop = half * dt, filters = stats })
  assert(st2.r2 > 0.4, "held-out r2 " .. st2.r2)
  local ev = V(est)
  local ss = 0
  for t = 1, half do ss = ss + (first[t] - ev[t]) ^ 2 end
  local m, vs = 0, 0
  for t = 1, half do m = m + first[t] end
  m = m / half
  for t = 1, half do vs = vs + (first[t] - m) ^ 2 end
  T.near(stats.r2, 1 - ss / vs, 1e-12, "r2")
end)

---------------------------------------------------------------- errors
T.test("bad input: clear errors naming the argument", function()
  T.checkerror("#2", cj.coding.fano, cj.array{ 0.1 }, -1)
  T.checkerror("window must be positive", cj.coding.fano, cj.array{ 0.1 }, -1)
  T.checkerror("spike trains (a spike monitor, an array of times or a list of arrays) expected", cj.coding.cv, 5)
  T.checkerror("spike times must be in seconds", cj.coding.cv, cj.array{ 1 } * cj.mV)
  T.checkerror("empty observation window", cj.coding.rates, cj.array{ 0.1 }, { t_start = 1, t_stop = 0.5 })
  T.checkerror("unknown option 't_end'", cj.coding.rates, cj.array{ 0.1 }, { t_end = 1 })
  T.checkerror("spike counts have 3 bins, the stimulus 4", cj.coding.sta, cj.array{ 1, 2, 3, 4 }, cj.array{ 0, 1, 0 }, 2)
  T.checkerror("lags must be 1 .. 4 bins", cj.coding.sta, cj.array{ 1, 2, 3, 4 }, cj.array{ 0, 1, 0, 1 }, 9)
  T.checkerror("spike trains need opts.dt", cj.coding.sta, cj.array{ 1, 2, 3, 4 }, { cj.array{ 0.1 } }, 2)
  T.checkerror("tuning has 2 neurons, the counts 3", cj.coding.decode, cj.array{ 1, 2, 3 }, cj.array{ { 1, 2 } }, 1)
  T.checkerror("opts.dt (the bin width) expected", cj.coding.glm, cj.array{ 1, 2, 3 }, cj.array{ 0, 1, 0 })
  T.checkerror("has no spikes", cj.coding.glm, cj.randn(100), cj.zeros(100), { dt = 0.001, lags = 3, hlags = 2 })
  T.checkerror("2 window must be a whole number of bins", cj.coding.correlogram, { cj.array{ 0.1 } }, 0.003, 0.01)
  T.checkerror("3 rates for 2 neurons", cj.coding.lrt, cj.array{ 1, 2 }, cj.array{ 1, 2, 3 }, cj.array{ 1, 2 }, 1)
  T.checkerror("option 'prior' is needed for the MAP estimate", cj.coding.decode, cj.array{ 1 }, cj.array{ { 1 } }, 1,
    { method = "map" })
  T.checkerror("model has no field 'bias'", cj.coding.glm_simulate, { dt = 0.001 }, nil, { T = 10 })
end)

T.done()
