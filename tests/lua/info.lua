-- info.lua — cj.info: entropies and informations of tables with known
-- values (exact to 1e-12), plug-in estimates from samples converging to
-- them, every bias correction reducing the bias of the plug-in MI of an
-- 8x8 joint over many repetitions, NSB against the plug-in on an
-- undersampled alphabet, word entropies of Bernoulli spike trains against
-- their analytic value, the direct method recovering a known information
-- rate and a known entropy rate, the information per spike, the word
-- counter, and the errors on bad input. Reference values are computed here
-- from the formulas, independently of vm/core/info.c.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local log2 = function(x) return math.log(x, 2) end
local function h2(p) if p <= 0 or p >= 1 then return 0 end return -p * log2(p) - (1 - p) * log2(1 - p) end

-- entropy (bits) and MI of a Lua table of probabilities, written out here
local function H(t)
  local s = 0
  for _, p in ipairs(t) do if p > 0 then s = s - p * log2(p) end end
  return s
end
local function MI(j)
  local ps, pr, s = {}, {}, 0
  for a = 1, #j do for b = 1, #j[a] do
    ps[a] = (ps[a] or 0) + j[a][b]; pr[b] = (pr[b] or 0) + j[a][b]
  end end
  for a = 1, #j do for b = 1, #j[a] do
    local p = j[a][b]
    if p > 0 then s = s + p * log2(p / (ps[a] * pr[b])) end
  end end
  return s
end

---------------------------------------------------------------- exact tables
T.test("known joints: H and I exact to 1e-12 from probability tables", function()
  for _, q in ipairs({0, 0.01, 0.1, 0.25, 0.5}) do          -- binary symmetric channels
    local j = {{(1 - q) / 2, q / 2}, {q / 2, (1 - q) / 2}}
    local I = cj.info.mutual_information(cj.array(j))
    T.near(I, 1 - h2(q), 1e-12, "BSC q=" .. q)
    T.near(cj.info.conditional_entropy(cj.array(j)), h2(q), 1e-12, "H(R|S) of BSC")
    T.near(cj.info.joint_entropy(cj.array(j)), 1 + h2(q), 1e-12, "H(S,R) of BSC")
  end
  local px, py = {0.1, 0.2, 0.3, 0.4}, {0.5, 0.25, 0.125, 0.125}
  local ind = {}
  for a = 1, 4 do ind[a] = {} for b = 1, 4 do ind[a][b] = px[a] * py[b] end end
  T.near(cj.info.mutual_information(cj.array(ind)), 0, 1e-12, "independent")
  T.near(cj.info.entropy(cj.array(py)), 1.75, 1e-12, "H of (1/2, 1/4, 1/8, 1/8)")
  local id = {}
  for a = 1, 4 do id[a] = {} for b = 1, 4 do id[a][b] = a == b and px[a] or 0 end end
  T.near(cj.info.mutual_information(cj.array(id)), H(px), 1e-12, "identity: I = H")
  T.near(cj.info.conditional_entropy(cj.array(id)), 0, 1e-12, "identity: H(R|S) = 0")
  local I, err = cj.info.mutual_information(cj.array(id), { base = "e" })
  T.near(I, H(px) * math.log(2), 1e-12, "nats")
  assert(err == 0, "a probability table is exact")
  -- I(X;Y|Z): z = 1 a copy channel, z = 2 independent; p(z) = 0.3, 0.7
  local t = cj.zeros(2, 2, 2)
  t[{1, 1, 1}] = 0.15; t[{2, 2, 1}] = 0.15
  for x = 1, 2 do for y = 1, 2 do t[{x, y, 2}] = 0.7 / 4 end end
  T.near(cj.info.conditional_mi(t), 0.3, 1e-12, "CMI")
  -- KL and JS
  T.near(cj.info.kl(cj.array{0.5, 0.5}, cj.array{0.25, 0.75}), 0.5 * log2(2) + 0.5 * log2(0.5 / 0.75), 1e-12, "KL")
  assert(cj.info.kl(cj.array{0.5, 0.5}, cj.array{1, 0}) == math.huge)
  T.near(cj.info.js(cj.array{1, 0}, cj.array{0, 1}), 1, 1e-12, "JS of disjoint supports")
  T.near(cj.info.kl(cj.array{2, 2}, cj.array{1, 3}), 0.5 * log2(2) + 0.5 * log2(0.5 / 0.75), 1e-12, "counts normalised")
end)

---------------------------------------------------------------- samples
-- N samples of a joint (Lua table of rows) as a count table, drawn with cajal's rng
local function sample(j, N, r)
  local ns, nr, w = #j, #j[1], {}
  for a = 1, ns do for b = 1, nr do w[#w + 1] = j[a][b] end end
  local cells = r:choice(ns * nr, N, true, w)
  local c = cj.bincount(cells, { min = 1, length = ns * nr })
  return c:reshape(ns, nr)
end

T.test("plug-in estimates from samples converge to the exact values", function()
  local q = 0.1
  local j = {{(1 - q) / 2, q / 2}, {q / 2, (1 - q) / 2}}
  local r = cj.rng(7)
  local prev = math.huge
  for _, N in ipairs({1000, 100000}) do
    local c = sample(j, N, r)
    local I, err = cj.info.mutual_information(c)
    assert(err > 0)
    -- within 4 standard errors plus the leading bias 1/(2 N ln 2)
    assert(math.abs(I - (1 - h2(q))) < 4 * err + 1 / (2 * N * math.log(2)),
           string.format("N=%d: %g vs %g (err %g)", N, I, 1 - h2(q), err))
    assert(err < prev); prev = err
  end
  -- from paired samples: labels of x and y
  local x, y = {}, {}
  local u = list and nil
  local draws = r:rand(20000)
  local flips = r:rand(20000)
  local dv, fv = T.values(draws), T.values(flips)
  for k = 1, 20000 do
    x[k] = dv[k] < 0.5 and 1 or 2
    y[k] = fv[k] < q and (3 - x[k]) or x[k]
  end
  local I, err = cj.info.mutual_information(cj.array(x), cj.array(y))
  assert(math.abs(I - (1 - h2(q))) < 4 * err + 1e-4, "samples: " .. I)
  local c, lx, ly = cj.info.table(cj.array(x), cj.array(y))
  T.same(T.values(lx), {1, 2}, "labels"); T.same(T.values(ly), {1, 2}, "labels")
  T.near(c:sum(), 20000, 0, "all samples counted")
end)

-- the 8x8 joint of the bias tests: s uniform, r = s with probability 0.25,
-- else uniform over the other seven (I = 0.083 bits, small against the
-- plug-in's bias at small N, and with a small variance so that a few
-- hundred repetitions resolve biases of 1/N)
local J8 = {}
for a = 1, 8 do J8[a] = {} for b = 1, 8 do J8[a][b] = (a == b and 0.25 or 0.75 / 7) / 8 end end
local I8 = MI(J8)

-- an experiment: each of the 8 stimuli presented N times
local function trials(N, r)
  local c = cj.zeros(8, 8)
  for a = 1, 8 do
    local pr = {}
    for b = 1, 8 do pr[b] = J8[a][b] * 8 end
    c[a] = cj.bincount(r:choice(8, N, true, pr), { min = 1, length = 8 })
  end
  return c
end

T.test("each bias correction reduces the bias of the plug-in MI (8x8 joint, N = 20 .. 1000 trials per stimulus)", function()
  local methods = {"miller_madow", "panzeri_treves", "qe", "nsb", "shuffle", "bootstrap"}
  -- repetitions chosen so that the standard error of the mean plug-in
  -- (delta method: 0.53 / sqrt(8 N) bits per repetition) stays below a
  -- tenth of its bias (about 4.4 / N bits)
  local REPS = { [20] = 100, [50] = 100, [100] = 100, [200] = 200, [500] = 400, [1000] = 600 }
  local r = cj.rng(11)
  for _, N in ipairs({20, 50, 100, 200, 500, 1000}) do
    local reps = REPS[N]
    local sum = { none = 0 }
    for _, m in ipairs(methods) do sum[m] = 0 end
    for k = 1, reps do
      local c = trials(N, r)
      sum.none = sum.none + cj.info.mutual_information(c)
      for _, m in ipairs(methods) do
        sum[m] = sum[m] + cj.info.mutual_information(c, { correction = m, seed = N * 1000 + k, nresample = 30 })
      end
    end
    local b0 = math.abs(sum.none / reps - I8)
    for _, m in ipairs(methods) do
      local b = math.abs(sum[m] / reps - I8)
      assert(b < b0, string.format("N=%d %s: |bias| %.4f not below the plug-in's %.4f", N, m, b, b0))
    end
  end
end)

T.test("NSB entropy is close to the truth where the plug-in is far off", function()
  -- K = 1000 bins, N = 200 samples: a uniform distribution and one drawn
  -- from a flat Dirichlet (normalised exponentials)
  local K, r = 1000, cj.rng(3)
  local u, d = {}, T.values(r:exponential(1, K))
  local z = 0
  for k = 1, K do u[k] = 1 / K; z = z + d[k] end
  for k = 1, K do d[k] = d[k] / z end
  for _, p in ipairs({u, d}) do
    local Htrue = H(p)
    local sp, sn, inside = 0, 0, 0
    local reps = 20
    for _ = 1, reps do
      local c = cj.bincount(r:choice(K, 200, true, p), { min = 1, length = K })
      local hp = cj.info.entropy(c)
      local hn, en = cj.info.entropy(c, { correction = "nsb" })
      sp = sp + (hp - Htrue); sn = sn + (hn - Htrue)
      if math.abs(hn - Htrue) < 2 * en then inside = inside + 1 end
    end
    sp, sn = sp / reps, sn / reps
    assert(sp < -1.5, "plug-in is far below the truth: " .. sp)
    assert(math.abs(sn) < 0.1 * math.abs(sp), string.format("NSB bias %.3f vs plug-in %.3f bits", sn, sp))
    assert(inside >= reps * 0.8, "NSB error bars cover the truth: " .. inside .. "/" .. reps)
  end
end)

---------------------------------------------------------------- spike words
-- a Bernoulli spike train: a spike in the middle of each bin with probability p
local function bernoulli(r, nbins, dt, p)
  local u = T.values(r:rand(nbins))
  local t = {}
  for k = 1, nbins do if u[k] < p then t[#t + 1] = (k - 0.5) * dt end end
  return cj.array(t)
end

T.test("word entropy of a Bernoulli spike train is L h(p)", function()
  local r = cj.rng(21)
  local dt, p, nb = 0.002, 0.15, 400000
  local train = bernoulli(r, nb, dt, p)
  for _, L in ipairs({1, 2, 4, 8}) do
    local h, err = cj.info.word_entropy(train, dt, L, { t_stop = nb * dt })
    assert(math.abs(h - L * h2(p)) < 4 * err + 2 ^ L / (2 * nb * math.log(2)),
           string.format("L=%d: %g vs %g (err %g)", L, h, L * h2(p), err))
  end
  -- words: codes of a known train, population words, distributions
  local t = cj.array{0.0002, 0.0021, 0.0025, 0.0055}
  T.same(T.values(cj.info.words(t, 0.001, 3, { t_stop = 0.006 })), {5, 2, 4, 1}, "codes")
  T.same(T.values(cj.info.words(t, 0.001, 3, { t_stop = 0.006, max = 3 })), {1 * 16 + 2, 2 * 4, 2 * 16, 1}, "counts 0..3")
  local two = { cj.array{0.0005}, cj.array{0.0015} }
  T.same(T.values(cj.info.words(two, 0.001, 2, { t_stop = 0.003, mode = "population" })), {9, 2}, "population")
  local wv, wc = cj.info.word_distribution(two, 0.001, 1, { t_stop = 0.003 })
  T.same(T.values(wv), {0, 1}, "pooled words"); T.same(T.values(wc), {4, 2}, "pooled counts")
  local he = cj.info.word_entropy(two, 0.001, 1, { t_stop = 0.003 })
  assert(he.shape[1] == 2, "one entropy per train")
  T.near(he[1], h2(1 / 3), 1e-12, "per train")
end)

T.test("the direct method recovers a known information rate", function()
  -- stimulus: each bin independently 'high' or 'low' (frozen across trials);
  -- every trial fires in a bin with probability 0.4 (high) or 0.05 (low)
  local r = cj.rng(31)
  local dt, nb, ntr, phi, plo = 0.002, 10000, 150, 0.4, 0.05
  local state = T.values(r:rand(nb))
  local trials = {}
  for j = 1, ntr do
    local u = T.values(r:rand(nb))
    local t = {}
    for k = 1, nb do
      if u[k] < (state[k] < 0.5 and phi or plo) then t[#t + 1] = (k - 0.5) * dt end
    end
    trials[j] = cj.array(t)
  end
  local truth = (h2((phi + plo) / 2) - (h2(phi) + h2(plo)) / 2) / dt     -- bits/s
  local res = cj.info.direct(trials, dt, {1, 2, 3, 4}, { t_stop = nb * dt, seed = 1 })
  assert(math.abs(res.info_rate - truth) < 0.05 * truth + 3 * res.info_rate_err,
         string.format("info rate %.2f vs %.2f bits/s (err %.2f)", res.info_rate, truth, res.info_rate_err))
  T.near(res.total_rate, h2((phi + plo) / 2) / dt, 0.02 * h2((phi + plo) / 2) / dt, "total entropy rate")
  T.near(res.spike_rate, (phi + plo) / 2 / dt, 0.02 * (phi + plo) / 2 / dt, "spike rate")
  T.near(res.info_per_spike, res.info_rate / res.spike_rate, 1e-12, "bits per spike")
  for i = 1, 4 do T.near(res.info_rates[i], truth, 0.06 * truth, "rate at L=" .. i) end
end)

T.test("the direct method extrapolates a Markov entropy rate to infinite word length", function()
  -- the same two-state Markov spike train in every trial: noise entropy 0,
  -- H(L) = H(1) + (L - 1) h_rate exactly, so H(L)/L is linear in 1/L
  local r = cj.rng(41)
  local dt, nb, p01, p10 = 0.001, 200000, 0.1, 0.3
  local u = T.values(r:rand(nb))
  local t, s = {}, 0
  for k = 1, nb do
    if s == 0 then s = u[k] < p01 and 1 or 0 else s = u[k] < p10 and 0 or 1 end
    if s == 1 then t[#t + 1] = (k - 0.5) * dt end
  end
  local train = cj.array(t)
  local pi1 = p01 / (p01 + p10)
  local hrate = ((1 - pi1) * h2(p01) + pi1 * h2(p10)) / dt
  local res = cj.info.direct({ train, train }, dt, {1, 2, 4, 6, 8}, { t_stop = nb * dt, correction = "miller_madow" })
  T.near(res.noise_rate, 0, 1e-9, "no noise")
  assert(math.abs(res.total_rate - hrate) < 0.01 * hrate,
         string.format("entropy rate %.2f vs %.2f bits/s", res.total_rate, hrate))
  -- H(L)/L at L = 1 is h(pi1)/dt, far from the rate: the extrapolation matters
  assert(math.abs(res.total[1] / dt - hrate) > 0.2 * hrate)
end)

T.test("information per spike (Brenner et al. 2000)", function()
  local bits, rate = cj.info.spike_information(cj.array{0, 10, 0, 30} * cj.Hz)
  T.near(bits, 0.75 * log2(3), 1e-12, "two-level rate")
  T.near(rate, 10 * 0.75 * log2(3), 1e-12, "bits/s")
  T.near(cj.info.spike_information(cj.full(5, 7)), 0, 1e-12, "a constant rate carries nothing")
  -- from trials: a rate switching between 5 and 45 Hz every 50 ms, 400 trials
  local r = cj.rng(51)
  local dt, nb, ntr = 0.005, 400, 400
  local trials = {}
  for j = 1, ntr do
    local u = T.values(r:rand(nb))
    local t = {}
    for k = 1, nb do
      local hz = ((k - 1) // 10) % 2 == 0 and 5 or 45
      if u[k] < hz * dt then t[#t + 1] = (k - 0.5) * dt end
    end
    trials[j] = cj.array(t)
  end
  local ref = 0.5 * (5 / 25) * log2(5 / 25) + 0.5 * (45 / 25) * log2(45 / 25)
  local b, bs, err = cj.info.spike_information(trials, dt, { t_stop = nb * dt, seed = 2 })
  assert(err > 0 and err < 0.1, "bootstrap error " .. err)
  assert(math.abs(b - ref) < 0.05 + 3 * err, string.format("%.3f vs %.3f bits/spike", b, ref))
  T.near(bs / b, 25, 1.5, "bits/s over bits/spike is the mean rate")
end)

T.test("the word counter follows a sliding window", function()
  local r = cj.rng(61)
  local codes = T.values(r:integers(0, 15, 3000))
  local c = cj.info.counter()
  local w = 500
  for k = 1, #codes do
    c:add(codes[k])
    if k > w then c:remove(codes[k - w]) end
  end
  assert(c:total() == w and #c == w)
  local window = {}
  for k = #codes - w + 1, #codes do window[#window + 1] = codes[k] end
  local ref = cj.info.entropy(cj.bincount(cj.array(window)))
  T.near(c:entropy(), ref, 1e-12, "entropy of the window")
  local hn = c:entropy({ correction = "nsb", K = 16 })
  local hb = cj.info.entropy(cj.bincount(cj.array(window), { length = 16 }), { correction = "nsb" })
  T.near(hn, hb, 1e-9, "NSB from the counter's profile")
  local wv, wc = c:counts()
  T.near(wc:sum(), w, 0, "counts")
  T.checkerror("cannot remove", function() c:remove(cj.array{1, 99}) end)
  assert(c:total() == w, "a failed removal changes nothing")
  assert(c:get(99) == 0)
  c:clear()
  assert(c:total() == 0 and tostring(c):find("0 words"))
end)

---------------------------------------------------------------- errors
T.test("bad input: a clear error naming the argument", function()
  T.checkerror("#1", cj.info.entropy, cj.array{0.5, 0.4})
  T.checkerror("probabilities must sum to one (the sum is 0.9", cj.info.entropy, cj.array{0.5, 0.4})
  T.checkerror("negative count or probability (entry 2 is -1.0)", cj.info.entropy, cj.array{3, -1})
  T.checkerror("empty table", cj.info.entropy, cj.zeros(0))
  T.checkerror("the table holds no counts", cj.info.mutual_information, cj.zeros(2, 2))
  T.checkerror("samples differ in length (3 and 2)", cj.info.mutual_information, cj.array{1, 2, 3}, cj.array{1, 2})
  T.checkerror("no samples (empty arrays)", cj.info.mutual_information, cj.zeros(0), cj.zeros(0))
  T.checkerror("2-D table expected (got 1 dimensions)", cj.info.mutual_information, cj.array{1, 2})
  T.checkerror("p and q differ in size (2 and 3)", cj.info.kl, cj.array{0.5, 0.5}, cj.array{0.2, 0.3, 0.5})
  T.checkerror("a bias correction or shuffle needs counts", cj.info.entropy, cj.array{0.5, 0.5}, { correction = "nsb" })
  T.checkerror("option 'correction' must be", cj.info.entropy, cj.array{1, 2}, { correction = "jackknife" })
  T.checkerror("unknown option 'corection'", cj.info.entropy, cj.array{1, 2}, { corection = "nsb" })
  T.checkerror("shuffles test an information", cj.info.entropy, cj.array{1, 2}, { correction = "shuffle" })
  T.checkerror("resampling needs whole counts", cj.info.mutual_information, cj.array{{1.5, 2}, {3, 4}},
    { correction = "qe", counts = true })
  T.checkerror("bin width must be positive", cj.info.word_entropy, cj.array{0.1}, 0, 3)
  T.checkerror("word length must be an integer 1..64", cj.info.words, cj.array{0.1}, 0.001, 0)
  T.checkerror("a word needs 80 bits", cj.info.word_entropy, { cj.array{0.1}, cj.array{0.2} }, 0.001, 40,
    { mode = "population" })
  T.checkerror("spike times must be in seconds", cj.info.words, cj.array{1} * cj.mV, 0.001, 2)
  T.checkerror("rate must be in Hz", cj.info.spike_information, cj.array{1, 2} * cj.mV)
  T.checkerror("at least 2 trials", cj.info.direct, { cj.array{0.1} }, 0.01, 2, { t_stop = 1 })
end)

T.done()
