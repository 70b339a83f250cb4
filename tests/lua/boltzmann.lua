-- boltzmann.lua — cj.boltzmann from Lua: the validation the issue asks for
-- (Gibbs sampling of a 12-unit machine against exact enumeration within
-- its effective-sample-size error; Boltzmann-machine learning lowering an
-- exactly computed KL divergence; Hopfield capacity at N = 200 and dense
-- associative memory beyond it; an RBM on 4x4 bars and stripes against its
-- exact log-likelihood; the 2-D Ising transition against Onsager), the
-- reproducibility contract (seeds, chains, batches, continued runs), the
-- {0,1} conventions used to check spiking samplers, every misuse, and the
-- three examples.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local B = cj.boltzmann

local format = string.format
local srcdir = T.srcdir

-- ±1 matrix of rows x cols with P(+1) = 1/2 from generator g
local function spins(g, rows, cols)
  return g:rand(rows, cols):lt(0.5):astype("float64") * 2 - 1
end

-- a random machine: W_ij ~ N(0, sw^2) symmetric, zero diagonal; b_i ~ N(0, sb^2)
local function machine(seed, n, sw, sb)
  local g = cj.rng(seed)
  local A = g:normal(0, sw, n, n)
  local W = (A + A:t()) / math.sqrt(2)
  for i = 1, n do W[i][i] = 0 end
  return W, g:normal(0, sb, n)
end

local function same(a, b) return T.same(T.values(a), T.values(b), "arrays") end

---------------------------------------------------------------------------
-- Exact enumeration
---------------------------------------------------------------------------

T.test("exact: a 3-unit machine by hand", function()
  local W = cj.array({ { 0, 1, -0.5 }, { 1, 0, 0.3 }, { -0.5, 0.3, 0 } })
  local b = cj.array({ 0.1, -0.2, 0.3 })
  local t = B.exact(W, b, { probs = true, marginal = 2 })
  -- direct sums over the 8 states
  local Z, m, c, E1 = 0, { 0, 0, 0 }, 0, 0
  for x = 0, 7 do
    local s = { (x & 1) > 0 and 1 or -1, (x & 2) > 0 and 1 or -1, (x & 4) > 0 and 1 or -1 }
    local E = -(s[1] * s[2] * 1 + s[1] * s[3] * -0.5 + s[2] * s[3] * 0.3) - (0.1 * s[1] - 0.2 * s[2] + 0.3 * s[3])
    local w = math.exp(-E)
    Z = Z + w
    for i = 1, 3 do m[i] = m[i] + w * s[i] end
    c = c + w * s[1] * s[3]
    E1 = E1 + w * E
  end
  T.near(t.logZ, math.log(Z), 1e-12, "logZ")
  for i = 1, 3 do T.near(t.mean[i], m[i] / Z, 1e-12, "mean") end
  T.near(t.corr[1][3], c / Z, 1e-12, "corr")
  T.near(t.corr[2][2], 1, 0, "diagonal")
  T.near(t.energy, E1 / Z, 1e-12, "energy")
  T.near(t.p:sum(), 1, 1e-12, "p sums to 1")
  T.near(t.marginal[1] + t.marginal[2] + t.marginal[3] + t.marginal[4], 1, 1e-12, "marginal")
  T.near(t.marginal[4], t.p[4] + t.p[8], 1e-15, "marginal of units 1, 2 both on")
  -- beta as a number
  local t2 = B.exact(W, b, 0.5)
  local t3 = B.exact(W * 0.5, b * 0.5)
  T.near(t2.logZ, t3.logZ, 1e-12, "beta scales the energy")
end)

T.test("exact and gibbs in {0,1} units agree with their +-1 forms", function()
  local W, b = machine(21, 6, 0.8, 0.5)
  local t01 = B.exact(W, b, { units = "01", probs = true })
  local J, h, c = B.binary_to_spin(W, b)
  local ts = B.exact(J, h, { probs = true })
  T.near(t01.logZ, ts.logZ - c, 1e-12, "logZ01 = logZ - beta c")
  for i = 1, 6 do
    T.near(t01.mean[i], (1 + ts.mean[i]) / 2, 1e-12, "P(z_i = 1)")
    for j = 1, 6 do
      local want = i == j and t01.mean[i] or (1 + ts.mean[i] + ts.mean[j] + ts.corr[i][j]) / 4
      T.near(t01.corr[i][j], want, 1e-12, "<z_i z_j>")
    end
  end
  same(t01.p, ts.p)
  -- brute force in {0,1}
  local Z = 0
  for x = 0, 63 do
    local z = {}
    for i = 1, 6 do z[i] = (x >> (i - 1)) & 1 end
    Z = Z + math.exp(-B.energy(W, b, cj.array(z), { units = "01" }))
  end
  T.near(t01.logZ, math.log(Z), 1e-12, "logZ in {0,1} by brute force")
  local W2, b2 = B.spin_to_binary(J, h)
  T.near((W2 - W):abs():max(), 0, 1e-14)
  T.near((b2 - b):abs():max(), 0, 1e-14)
  -- samples in {0,1}: 0/1 values, frequencies near exact (4 chains x 20000 sweeps, tol 0.03)
  local S = B.gibbs(W, b, { units = "01", sweeps = 20000, chains = 4, seed = 3 })
  assert(S:eq(0):astype("int32"):sum() + S:eq(1):astype("int32"):sum() == S:numel())
  local m = S:mean(1)
  for i = 1, 6 do T.near(m[i], t01.mean[i], 0.03, "P(z_i = 1) sampled") end
  local p = B.empirical(S, { units = "01" })
  T.near((p - t01.p):abs():sum() / 2, 0, 0.03, "total variation of the sampled joint distribution")
end)

---------------------------------------------------------------------------
-- Validation 1: Gibbs vs exact on a 12-unit machine, tolerance from the ESS
---------------------------------------------------------------------------
-- 8 chains of 20000 kept sweeps (1000 burn-in). The error of every average
-- (the 12 <s_i> and 66 <s_i s_j>) is estimated by batch means: each chain cut
-- into 50 batches of 400 sweeps, SE = sd(batch means) / sqrt(400 batches),
-- i.e. ESS = var(f) / SE^2. Each estimate must be within 4.5 SE of the exact
-- value (78 statistics: a false alarm has probability about 5e-4). The
-- test also asserts that the ESS is large, so the tolerance is tight.
T.test("gibbs on a 12-unit machine matches exact marginals and correlations (ESS tolerance)", function()
  local n, chains, sweeps, bsize = 12, 8, 20000, 400
  local W, b = machine(7, n, 0.25, 0.3)
  local t = B.exact(W, b)
  for _, method in ipairs({ "heatbath", "metropolis" }) do
    local S = B.gibbs(W, b, { chains = chains, sweeps = sweeps, burnin = 1000, seed = 11, method = method })
    assert(S.shape[1] == chains * sweeps and S.shape[2] == n)
    local nb = chains * sweeps // bsize
    local worst, minness = 0, math.huge
    local function check(col, exact, what)
      local bm = col:reshape(nb, bsize):mean(2)           -- batch means
      local est = bm:mean()
      local se = bm:std() / math.sqrt(nb)
      local var = col:var()
      local ess = var / (se * se)
      minness = math.min(minness, ess)
      assert(se < 0.02, format("%s %s: SE %.4f too large", method, what, se))
      local z = math.abs(est - exact) / se
      worst = math.max(worst, z)
      assert(z < 4.5, format("%s %s: %.4f vs exact %.4f (SE %.4f, ESS %.0f)", method, what, est, exact, se, ess))
    end
    for i = 1, n do
      check(S[{ {}, i }]:contiguous(), t.mean[i], format("<s_%d>", i))
      for j = i + 1, n do
        check((S[{ {}, i }] * S[{ {}, j }]):contiguous(), t.corr[i][j], format("<s_%d s_%d>", i, j))
      end
    end
    assert(minness > 5000, format("%s: smallest ESS %.0f", method, minness))
    print(format("  %s: largest deviation %.2f SE, smallest ESS %.0f of %d samples", method, worst, minness,
      chains * sweeps))
  end
end)

---------------------------------------------------------------------------
-- Reproducibility
---------------------------------------------------------------------------

T.test("gibbs: a seed gives one chain, whatever the chains beside it or the cut", function()
  local W, b = machine(3, 8, 0.6, 0.2)
  local a = B.gibbs(W, b, { sweeps = 100, seed = 5 })
  same(a, B.gibbs(W, b, { sweeps = 100, seed = 5 }))
  assert((a - B.gibbs(W, b, { sweeps = 100, seed = 6 })):abs():sum() > 0, "another seed, another chain")
  local many = B.gibbs(W, b, { sweeps = 100, seed = 5, chains = 6, order = "random" })
  local one = B.gibbs(W, b, { sweeps = 100, seed = 5, chains = 1, offset = 4, order = "random" })
  same(one, many[{ { 401, 500 } }])
  -- 60 + 40 sweeps continued = 100 sweeps, with an annealing schedule
  local sched = B.schedule(0.1, 1.0, 100, "geometric")
  local whole, fin = B.gibbs(W, b, { sweeps = 100, burnin = 0, seed = 9, beta = sched })
  local p1, f1 = B.gibbs(W, b, { sweeps = 60, burnin = 0, seed = 9, beta = sched[{ { 1, 60 } }] })
  local p2, f2 = B.gibbs(W, b, { sweeps = 40, burnin = 0, seed = 9, beta = sched[{ { 61, 100 } }], start = 60, init = f1 })
  same(whole[{ { 1, 60 } }], p1)
  same(whole[{ { 61, 100 } }], p2)
  same(fin, f2)
  -- the default seed comes from cj.seed
  cj.seed(42)
  local d1 = B.gibbs(W, b, { sweeps = 10 })
  cj.seed(42)
  same(d1, B.gibbs(W, b, { sweeps = 10 }))
end)

T.test("clamped units stay at their init values", function()
  local W, b = machine(4, 5, 1, 0.5)
  local init = cj.array({ 1, -1, 1, -1, 1 })
  local S = B.gibbs(W, b, { sweeps = 200, clamp = { 2, 5 }, init = init, seed = 1 })
  assert(S[{ {}, 2 }]:eq(-1):all() and S[{ {}, 5 }]:eq(1):all())
  assert(S[{ {}, 1 }]:eq(1):any() and S[{ {}, 1 }]:eq(-1):any(), "free units move")
end)

T.test("annealing finds the ground state of a small frustrated machine", function()
  local W, b = machine(12, 14, 1.0, 0.3)
  local t = B.exact(W, b, { probs = true })
  -- the ground state: the most probable state at beta = 1 is the lowest energy
  local best = t.p:argmax()
  local sched = B.schedule(0.05, 5, 300, "geometric")
  local S = B.gibbs(W, b, { burnin = 299, sweeps = 1, beta = sched, chains = 20, seed = 2 })
  local E = B.energy(W, b, S)
  local gs = {}
  for i = 1, 14 do gs[i] = ((best - 1) >> (i - 1)) & 1 == 1 and 1 or -1 end
  local Eg = B.energy(W, b, cj.array(gs))
  assert(E:min() >= Eg - 1e-9, "nothing below the ground state")
  local hits = E:le(Eg + 1e-9):astype("int32"):sum()
  assert(hits >= 10, format("annealing reached the ground state in %d of 20 chains", hits))
end)

---------------------------------------------------------------------------
-- Validation 2: Boltzmann-machine learning lowers the exact KL divergence
---------------------------------------------------------------------------
-- Data: 300 rows over 4 visible units from three noisy prototypes (a
-- distribution with third- and fourth-order structure that hidden units
-- help to model). KL(P_data || P_model) is computed exactly (enumeration of
-- all 6 units). With W small at the start the model is near uniform.
local function bmdata()
  local g = cj.rng(31)
  local protos = { { 1, 1, 1, 1 }, { 1, -1, 1, -1 }, { -1, -1, 1, 1 } }
  local rows = {}
  for r = 1, 300 do
    local p = protos[(r - 1) % 3 + 1]
    local row = {}
    for i = 1, 4 do row[i] = g:rand() < 0.1 and -p[i] or p[i] end
    rows[r] = row
  end
  return cj.array(rows)
end

T.test("boltzmann machine learning lowers KL(data || model), sampled and exact", function()
  local X = bmdata()
  local m = B.bm(4, 2, { seed = 3, sd = 0.1 })
  local kl0 = m:kl(X)
  local hist = { kl0 }
  for k = 1, 6 do
    m:train(X, { epochs = 5, lr = 0.05, batch = 20, chains = 50, burnin = 10, sweeps = 2 })
    hist[#hist + 1] = m:kl(X)
  end
  print(format("  sampled phases: KL %.3f -> %.3f nats", kl0, hist[#hist]))
  assert(hist[#hist] < 0.4 * kl0, format("KL %.3f -> %.3f", kl0, hist[#hist]))
  assert(m.epochs == 30)
  local w = m.W
  w[1][2] = 5
  assert(m.W[1][2] ~= 5 and m.W[1][2] == m.W[2][1], "W is a copy; the machine stays symmetric")
  -- exact gradient (both phases enumerated): KL falls at every step
  local e = B.bm(4, 2, { seed = 3, sd = 0.1 })
  local prev = e:kl(X)
  for k = 1, 20 do
    e:train(X, { epochs = 1, lr = 0.02, batch = 300, exact = true, shuffle = false })
    local kl = e:kl(X)
    assert(kl < prev + 1e-12, format("exact learning step %d: KL %.6f after %.6f", k, kl, prev))
    prev = kl
  end
  assert(prev < kl0, "exact learning lowered KL")
  -- hidden units matter: 4-bit parity (s4 = s1 s2 s3, the 8 such states
  -- equally likely) has no pairwise correlations, so a machine without
  -- hidden units stays at KL = log 2; two hidden units learn it
  local rows = {}
  for x = 0, 7 do
    local s = {}
    for i = 1, 3 do s[i] = ((x >> (i - 1)) & 1) == 1 and 1 or -1 end
    s[4] = s[1] * s[2] * s[3]
    rows[#rows + 1] = s
  end
  local par = cj.array(rows)
  local v = B.bm(4, 0, { seed = 3, sd = 0.5 })
  local h = B.bm(4, 2, { seed = 3, sd = 0.5 })
  v:train(par, { epochs = 500, lr = 0.2, batch = 8, exact = true, shuffle = false })
  h:train(par, { epochs = 500, lr = 0.2, batch = 8, exact = true, shuffle = false })
  print(format("  parity, exact learning: visible only KL %.4f (log 2 = %.4f), with 2 hidden units %.4f",
    v:kl(par), math.log(2), h:kl(par)))
  T.near(v:kl(par), math.log(2), 1e-3, "pairwise machine: nothing to learn")
  assert(h:kl(par) < 0.1, "hidden units learn parity")
  -- the log-likelihood and KL agree: KL = -H(data) - mean log P(v)
  T.near(h:kl(par), -math.log(8) - h:loglik(par):mean(), 1e-10, "KL = cross-entropy - entropy")
  local p = B.empirical(X)
  local H = 0
  for x = 1, 16 do if p[x] > 0 then H = H - p[x] * math.log(p[x]) end end
  T.near(m:kl(X), -H - m:loglik(X):mean(), 1e-10, "KL = cross-entropy - entropy")
end)

T.test("a trained machine's samples follow its exact distribution", function()
  local m = B.bm(3, 2, { seed = 2, sd = 0.8 })
  local t = m:exact()
  local S = m:sample(4000, { sweeps = 50, seed = 1 })
  assert(S.shape[1] == 4000 and S.shape[2] == 5)
  for i = 1, 5 do
    -- independent chains: SE = sqrt((1 - m^2) / 4000) <= 0.016; 5 SE
    T.near(S[{ {}, i }]:mean(), t.mean[i], 5 * math.sqrt((1 - t.mean[i] ^ 2) / 4000) + 1e-9, "mean")
  end
  local pv = B.empirical(S[{ {}, { 1, 3 } }]:contiguous())
  for x = 1, 8 do
    T.near(pv[x], t.marginal[x], 5 * math.sqrt(t.marginal[x] * (1 - t.marginal[x]) / 4000) + 1e-9, "visible marginal")
  end
end)

---------------------------------------------------------------------------
-- Validation 3: Hopfield capacity at N = 200; dense associative memory
---------------------------------------------------------------------------
-- P random patterns, cues with 10 % of the units flipped, asynchronous
-- recall in random order. A pattern counts as recalled when the final
-- overlap m = xi . s / N is at least 0.95 (at alpha = 0.1 the retrieval
-- state has m of about 0.99, Amit, Gutfreund & Sompolinsky 1987).
local function capacity(P, opts, trials)
  local N, rec, ov = 200, 0, 0
  for tr = 1, trials do
    local g = cj.rng(1000 * P + tr)
    local X = spins(g, P, N)
    local net = B.hopfield(N, opts)
    net:store(X)
    local flip = g:rand(P, N):lt(0.1):astype("float64")
    local S, conv = net:recall(X * (1 - 2 * flip), { seed = tr })
    local o = net:overlap(S)
    for mu = 1, P do
      ov = ov + o[mu][mu]
      if o[mu][mu] >= 0.95 then rec = rec + 1 end
    end
    assert(conv:all(), "asynchronous recall converges")
  end
  return rec / (P * trials), ov / (P * trials)
end

T.test("hopfield N = 200: recall up to 0.1 N, collapse before 0.2 N", function()
  for _, P in ipairs({ 5, 10, 20 }) do
    local f, m = capacity(P, nil, 4)
    print(format("  P = %d (%.3f N): %.0f %% recalled, mean overlap %.3f", P, P / 200, 100 * f, m))
    assert(f >= 0.9 and m >= 0.97, format("P = %d: %.2f recalled, overlap %.3f", P, f, m))
  end
  local f, m = capacity(40, nil, 4)
  print(format("  P = 40 (0.200 N): %.0f %% recalled, mean overlap %.3f", 100 * f, m))
  assert(f <= 0.3 and m <= 0.8, format("P = 0.2 N: %.2f recalled, overlap %.3f: no collapse", f, m))
end)

T.test("pseudo-inverse storage recalls beyond the Hebbian capacity", function()
  local f = capacity(40, { rule = "pseudoinverse" }, 2)
  assert(f >= 0.95, format("pseudo-inverse at 0.2 N: %.2f recalled", f))
end)

T.test("dense associative memory (n = 3) stores far more than 0.138 N", function()
  for _, P in ipairs({ 100, 200 }) do
    local f, m = capacity(P, { rule = "dense", n = 3 }, 1)
    print(format("  dense n = 3, P = %d (%.1f N): %.0f %% recalled, mean overlap %.3f", P, P / 200, 100 * f, m))
    assert(f >= 0.98, format("dense P = %d: %.2f recalled", P, f))
  end
  local f = capacity(100, { rule = "dense", F = "exp" }, 1)
  assert(f >= 0.98, "exponential dense memory")
end)

T.test("hopfield: synchronous and sequential modes, energy, batch rows keyed by index", function()
  local g = cj.rng(5)
  local X = spins(g, 6, 64)
  local net = B.hopfield(64, { seed = 3 })
  net:store(X)
  assert(net.P == 6 and net.N == 64 and #net == 64 and net.W.shape[1] == 64)
  T.near(net.W[1][1], 0, 0)
  local cue = X * (1 - 2 * g:rand(6, 64):lt(0.1):astype("float64"))
  local S, conv, sw = net:recall(cue)
  for r = 1, 6 do
    local s1, c1, n1 = net:recall(cue[r], { offset = r - 1 })
    same(s1, S[r])
    assert(c1 == (conv[r] == 1) and n1 == sw[r])
  end
  local E0, E1 = net:energy(cue), net:energy(S)
  for r = 1, 6 do assert(E1[r] <= E0[r]) end
  T.near(net:energy(X[1]), -0.5 * (X[1]:matmul(net.W):dot(X[1])), 1e-9, "E = -1/2 s'Ws")
  local Ss = net:recall(cue, { mode = "sync" })
  local Sq = net:recall(cue, { mode = "sequential" })
  assert(Ss.shape[1] == 6 and Sq.shape[1] == 6)
  net:clear()
  assert(net.P == 0 and net.W:abs():max() == 0)
end)

---------------------------------------------------------------------------
-- Validation 4: RBM on 4x4 bars and stripes
---------------------------------------------------------------------------
-- The 30 distinct 4x4 bars-and-stripes images (16 with horizontal stripes,
-- 16 vertical, the empty and full image shared). The optimal average
-- log-likelihood, the uniform distribution on them, is -log 30 = -3.401.
-- CD-10 with momentum 0.5 and a decreasing learning rate; the exact
-- log-likelihood (enumerating the 16 hidden units) must rise from its
-- start (16 log 1/2 = -11.09 for W near 0) and end within 0.6 nats of the
-- optimum. Samples (1000 chains of 1000 block-Gibbs steps) must be valid
-- images at the rate the model's exact distribution predicts (4 SE).
local function bars_and_stripes()
  local rows, seen = {}, {}
  for code = 0, 15 do
    for _, orient in ipairs({ "h", "v" }) do
      local img = {}
      for i = 0, 3 do
        for j = 0, 3 do img[#img + 1] = orient == "h" and ((code >> i) & 1) or ((code >> j) & 1) end
      end
      local key = table.concat(img)
      if not seen[key] then seen[key] = true; rows[#rows + 1] = img end
    end
  end
  return cj.array(rows), seen
end

T.test("rbm on 4x4 bars and stripes: exact log-likelihood rises to near the optimum", function()
  local X, valid = bars_and_stripes()
  assert(X.shape[1] == 30)
  local r = B.rbm(16, 16, { seed = 1 })
  local ll = { r:loglik(X):mean() }
  for _, ph in ipairs({ { 0.1, 300 }, { 0.1, 300 }, { 0.05, 300 }, { 0.05, 300 }, { 0.02, 300 }, { 0.01, 300 } }) do
    r:train(X, { epochs = ph[2], batch = 10, lr = ph[1], momentum = 0.5, k = 10 })
    ll[#ll + 1] = r:loglik(X):mean()
  end
  local opt = -math.log(30)
  print(format("  log-likelihood per image: %s (optimum %.3f)", table.concat((function()
    local t = {}
    for k, v in ipairs(ll) do t[k] = format("%.3f", v) end
    return t
  end)(), " "), opt))
  T.near(ll[1], 16 * math.log(0.5), 0.05, "start: W near 0, P(v) near 2^-16")
  assert(ll[2] > ll[1] + 5, "the log-likelihood rises")
  assert(ll[#ll] > opt - 0.6, format("ends at %.3f, optimum %.3f", ll[#ll], opt))
  assert(ll[#ll] <= opt + 1e-9, "cannot exceed the optimum")
  -- exact probability that a sample is a valid image: all 2^16 states
  local codes = cj.range(0, 65535)
  local V = cj.zeros(65536, 16)
  for i = 1, 16 do
    V[{ {}, i }] = (codes // 2 ^ (i - 1)) % 2
  end
  local p = (-r:free_energy(V) - r:log_partition()):exp()
  T.near(p:sum(), 1, 1e-9, "the exact visible distribution sums to 1")
  local pvalid = 0
  for q = 1, 65536 do
    local x = q - 1
    local key = {}
    for i = 1, 16 do key[i] = (x >> (i - 1)) & 1 end
    if valid[table.concat(key)] then pvalid = pvalid + p[q] end
  end
  local S = r:sample(1000, { seed = 3, steps = 1000 })
  local ok = 0
  for q = 1, 1000 do
    local key = {}
    for i = 1, 16 do key[i] = math.floor(S[q][i]) end
    if valid[table.concat(key)] then ok = ok + 1 end
  end
  local se = math.sqrt(pvalid * (1 - pvalid) / 1000)
  print(format("  samples valid: %.3f (exact P(valid) %.3f, SE %.3f)", ok / 1000, pvalid, se))
  assert(ok / 1000 >= 0.8, "most samples are bars or stripes")
  T.near(ok / 1000, pvalid, 4 * se, "valid fraction vs the model's exact P(valid)")
end)

T.test("rbm: the equivalent Boltzmann machine has the same distribution", function()
  local r = B.rbm(5, 3, { seed = 2, sd = 1 })
  r.vbias = cj.array({ 0.1, -0.3, 0.2, 0, 0.5 })
  r.hbias = cj.array({ -0.2, 0.4, 0.1 })
  local W, b, c = r:to_boltzmann()
  local t = B.exact(W, b, { marginal = 5 })
  T.near(t.logZ - c, r:log_partition(), 1e-10, "log Z of the rbm = log Z of the machine - c")
  local V = cj.zeros(32, 5)
  for x = 0, 31 do for i = 1, 5 do V[x + 1][i] = (x >> (i - 1)) & 1 end end
  local ll = r:loglik(V)
  for x = 1, 32 do T.near(math.log(t.marginal[x]), ll[x], 1e-10, "P(v)") end
end)

T.test("rbm: sampling, batching, training continued and persistent CD", function()
  local X = bars_and_stripes()
  local r = B.rbm(16, 8, { seed = 4 })
  local a = B.rbm(16, 8, { seed = 4 })
  r:train(X, { epochs = 6, persistent = true, momentum = 0.5, k = 2 })
  for _ = 1, 3 do a:train(X, { epochs = 2, persistent = true, momentum = 0.5, k = 2 }) end
  same(r.W, a.W)
  same(r.vbias, a.vbias)
  assert(r.epochs == 6 and r.updates == 18)
  local s100 = r:sample(100, { seed = 7, steps = 30 })
  same(s100[{ { 1, 10 } }], r:sample(10, { seed = 7, steps = 30 }))
  same(s100[{ { 71, 100 } }], r:sample(30, { seed = 7, steps = 30, offset = 70 }))
  local v, h = r:sample(5, { seed = 7, steps = 30, hidden = true, mean = true })
  assert(h.shape[2] == 8 and v:min() > 0 and v:max() < 1, "mean visible values are probabilities")
  -- p(h|v), E[v|h], reconstruction error, pseudo-likelihood
  local P = r:hidden(X)
  assert(P.shape[1] == 30 and P.shape[2] == 8 and P:min() >= 0 and P:max() <= 1)
  local M = r:visible(P)
  T.near(r:reconstruction_error(X), ((X - M) ^ 2):sum() / 30, 1e-10, "reconstruction error")
  local pl = r:pseudo_loglik(X)
  assert(pl.shape[1] == 30 and pl:max() < 0)
  local st = r:pseudo_loglik(X, { stochastic = true, seed = 1 })
  T.near(st:mean(), pl:mean(), 3, "stochastic pseudo-likelihood estimates the full one")
  assert(r:free_energy(X[1]) == r:free_energy(X)[1])
end)

T.test("gaussian-binary rbm learns real data and its density integrates", function()
  -- two unit-variance clusters at (2, 2) and (-2, -2): one hidden unit can
  -- move the mean of p(v | h) between them
  local g = cj.rng(8)
  local X = g:normal(0, 1, 400, 2)
  X[{ { 1, 200 } }] = X[{ { 1, 200 } }] + 2
  X[{ { 201, 400 } }] = X[{ { 201, 400 } }] - 2
  local r = B.rbm(2, 4, { visible = "gaussian", seed = 3, sd = 0.1 })
  local ll0 = r:loglik(X):mean()
  r:train(X, { epochs = 100, lr = 0.01, batch = 20, momentum = 0.5 })
  local ll1 = r:loglik(X):mean()
  -- the data's own density, the mixture: an upper bound in expectation
  local best = 0
  for q = 1, 400 do
    local x, y = X[q][1], X[q][2]
    best = best + math.log(0.5 * (math.exp(-((x - 2) ^ 2 + (y - 2) ^ 2) / 2) +
      math.exp(-((x + 2) ^ 2 + (y + 2) ^ 2) / 2)) / (2 * math.pi)) / 400
  end
  print(format("  gaussian rbm: log-density %.3f -> %.3f (the generating mixture: %.3f)", ll0, ll1, best))
  assert(ll1 > ll0 + 2, "training raises the log-density")
  assert(ll1 > best - 0.3, "and comes near the generating density")
  -- the density integrates to 1 (midpoint sums on [-8, 8]^2, step 0.05)
  local xs = cj.linspace(-8, 8, 321)
  local G = cj.zeros(321 * 321, 2)
  for i = 1, 321 do
    G[{ { (i - 1) * 321 + 1, i * 321 }, 1 }] = xs[i]
    G[{ { (i - 1) * 321 + 1, i * 321 }, 2 }] = xs
  end
  local dens = r:loglik(G):exp()
  T.near(dens:sum() * 0.05 * 0.05, 1, 1e-6, "the exact density integrates to 1")
  local S = r:sample(1000, { seed = 2, steps = 200 })
  assert(S.shape[2] == 2)
  T.near(S[{ {}, 1 }]:mean(), X[{ {}, 1 }]:mean(), 0.4, "samples follow the data")
end)

T.test("deep belief net: greedy stacking, transform, samples", function()
  local X = bars_and_stripes()
  local d = B.dbn({ 16, 12, 8 }, { seed = 5 })
  assert(#d == 2 and d[1].n_visible == 16 and d[2].n_hidden == 8 and d[3] == nil)
  assert(d.sizes[3] == 8)
  d:train(X, { epochs = 200, lr = 0.1, k = 2 })
  assert(d[1].epochs == 200 and d[2].epochs == 200)
  local F = d:transform(X)
  assert(F.shape[1] == 30 and F.shape[2] == 8)
  T.near((F - d[2]:hidden(d[1]:hidden(X))):abs():max(), 0, 1e-12, "transform is the up pass")
  local S = d:sample(50, { seed = 1, steps = 200 })
  assert(S.shape[1] == 50 and S.shape[2] == 16)
  assert(S:eq(0):astype("int32"):sum() + S:eq(1):astype("int32"):sum() == S:numel())
  same(S[{ { 1, 5 } }], d:sample(5, { seed = 1, steps = 200 }))
end)

---------------------------------------------------------------------------
-- Validation 5: the 2-D Ising transition
---------------------------------------------------------------------------
-- L = 32, 1000 sweeps of burn-in then 4000 (Metropolis, checkerboard).
-- Below T_c the mean |m| must follow Onsager's spontaneous magnetisation
-- (1 - sinh(2/T)^-4)^(1/8) within 0.015 (finite-size and sampling error at
-- L = 32 are below 0.005 there), above it |m| falls to finite-size values;
-- the susceptibility peaks between T_c and T_c + 0.2 (the L = 32 pseudo-
-- critical point lies above T_c); the energy per spin matches Onsager's
-- u(T) = -coth(2/T) [1 + (2/pi)(2 tanh^2(2/T) - 1) K(k)], k = 2 sinh(2/T) /
-- cosh^2(2/T), within 0.01 away from T_c.
local TC = 2 / math.log(1 + math.sqrt(2))

local function onsager_u(T)
  local b = 1 / T
  local k = 2 * math.sinh(2 * b) / math.cosh(2 * b) ^ 2
  local a, g = 1, math.sqrt(1 - k * k)                 -- K(k) = pi / (2 AGM(1, sqrt(1 - k^2)))
  for _ = 1, 40 do a, g = (a + g) / 2, math.sqrt(a * g) end
  local K = math.pi / (2 * a)
  local th = math.tanh(2 * b)
  return -(1 / th) * (1 + (2 / math.pi) * (2 * th * th - 1) * K)
end

T.test("2-D Ising: magnetisation against temperature shows the transition at T_c", function()
  local temps = { 1.8, 2.0, 2.1, 2.2, 2.269, 2.3, 2.35, 2.4, 2.5, 2.8, 3.2 }
  local chi, peak = -1, nil
  for _, Tt in ipairs(temps) do
    local m = B.ising(32, { seed = 3, init = "up" })
    m:run(1000, { T = Tt })
    local r = m:run(4000, { T = Tt })
    if r.chi > chi then chi, peak = r.chi, Tt end
    local ons = Tt < TC and (1 - math.sinh(2 / Tt) ^ -4) ^ 0.125 or 0
    print(format("  T = %.3f: <|m|> %.4f (Onsager %.4f), e %.4f, chi %.2f, C %.3f, U %.3f", Tt, r.abs_m, ons,
      r.e_mean, r.chi, r.heat, r.binder))
    if Tt <= 2.0 then T.near(r.abs_m, ons, 0.015, format("|m| at T = %.2f", Tt)) end
    if Tt >= 2.8 then assert(r.abs_m < 0.15, format("T = %.2f: |m| %.3f", Tt, r.abs_m)) end
    if Tt <= 2.0 or Tt >= 2.8 then T.near(r.e_mean, onsager_u(Tt), 0.01, format("energy at T = %.2f", Tt)) end
  end
  assert(peak >= TC - 0.01 and peak <= TC + 0.2, format("susceptibility peaks at T = %.3f", peak))
end)

T.test("ising: heat bath agrees with Metropolis; general couplings equal gibbs", function()
  local a = B.ising({ 16, 24 }, { seed = 1 })
  local h = B.ising({ 16, 24 }, { seed = 1 })
  a:run(500, { T = 3.0 })
  h:run(500, { T = 3.0, method = "heatbath" })
  local ra, rh = a:run(8000, { T = 3.0 }), h:run(8000, { T = 3.0, method = "heatbath" })
  T.near(ra.e_mean, onsager_u(3.0), 0.01, "Metropolis energy")
  T.near(rh.e_mean, onsager_u(3.0), 0.01, "heat-bath energy")
  assert(a.rows == 16 and a.cols == 24 and a.N == 384 and a.sweeps == 8500)
  local s = a:spins()
  assert(s.shape[1] == 16 and s.shape[2] == 24)
  T.near(a:magnetization(), s:mean(), 1e-15)
  -- a run continued equals one run
  local c1, c2 = B.ising(8, { seed = 4 }), B.ising(8, { seed = 4 })
  c1:run(30, { beta = 0.5 })
  c2:run(10, { beta = 0.5 }); c2:run(20, { beta = 0.5 })
  same(c1:spins(), c2:spins())
  -- a general coupling matrix: the same chain as cj.boltzmann.gibbs
  local W = machine(6, 10, 0.5, 0)
  local init = cj.array({ 1, -1, 1, 1, -1, 1, -1, -1, 1, 1 })
  local g = B.ising(W, { seed = 8, init = init, h = 0.2 })
  local r = g:run(50, { beta = 0.7, method = "heatbath" })
  local S = B.gibbs(W, cj.full(10, 0.2), { seed = 8, init = init, sweeps = 50, burnin = 0, beta = 0.7 })
  same(g:spins(), S[50])
  T.near(r.m[50], S[50]:mean(), 1e-15, "magnetisation per sweep")
  T.near(r.e[50], B.energy(W, cj.full(10, 0.2), S[50]) / 10, 1e-12, "energy per spin per sweep")
  T.near(g:energy(), r.e[50], 1e-12)
  local J = g.J
  J[1][2] = 99
  assert(g.J[1][2] ~= 99 and g.h[1] == 0.2, "J and h are copies")
  W[1][2] = 42
  assert(g.J[1][2] ~= 42, "the model copied the caller's matrix")
end)

---------------------------------------------------------------------------
-- Validation 6: sampling by networks (models/boltzmann, cajal-lang(7))
---------------------------------------------------------------------------
-- The models use units z in {0,1}, p(z) ∝ exp(½ zᵀWz + bᵀz); cj.boltzmann
-- uses s = 2z - 1 in {-1,1} and E(s) = -½ sᵀJs - hᵀs. Substituting,
-- ½ sᵀJs + hᵀs = ½ zᵀ(4J)z + (2h - 2 J 1)ᵀz + const, so W = 4J,
-- b = 2h - 2 J 1 (J 1: the row sums of J), and <z_k> = (1 + <s_k>) / 2.
local function binary(J, h)
  return J * 4, h * 2 - cj.matmul(J, cj.ones(h.shape[1])) * 2
end

-- A population of MODEL(n [, overrides]) coupled all to all by
-- sampler_coupling with w = W (from arrays), biases b, z recorded every `every`.
local function samplernet(model, W, b, every, opts)
  local name, over = model:match("^([%w_]+)%((.*)%)$")
  if name then model, over = name, ", " .. over else over = "" end
  local n = b.shape[1]
  local I, J, w = {}, {}, {}
  for pre = 1, n do
    for post = 1, n do
      if pre ~= post then I[#I + 1], J[#J + 1], w[#w + 1] = pre - 1, post - 1, W[post][pre] end
    end
  end
  local src = format([[
import "models/boltzmann"
dt = 0.1 ms
population Z = %s(%d%s)
connect Z -> Z sampler_coupling from arrays couplings
record z of Z every %s
record spikes of Z
]], model, n, over, every)
  local o = { arrays = { couplings = { i = cj.array(I), j = cj.array(J), w = cj.array(w) } }, seed = 5 }
  for k, v in pairs(opts or {}) do o[k] = v end
  local net = cj.network(src, o)
  net.Z.b = b
  return net
end

-- Averages of the recorded z (after 10 % burn-in) against exact ones, the
-- error of each by batch means (50 batches: SE = sd(batch means) / sqrt(50),
-- ESS = var / SE^2); |estimate - exact| must be below 4.5 SE + bias.
local function compare(Z, t, pairs_, bias, what)
  local rows, n = Z.shape[1], Z.shape[2]
  local nb = 50
  local bs = (rows - rows // 10) // nb
  local X = Z[{ { rows - nb * bs + 1, rows }, {} }]:contiguous()
  local worst, minness, maxse, maxdev = 0, math.huge, 0, 0
  local function check(col, exact, name)
    local bm = col:reshape(nb, bs):mean(2)
    local est, se = bm:mean(), bm:std() / math.sqrt(nb)
    minness = math.min(minness, col:var() / (se * se))
    maxse = math.max(maxse, se)
    maxdev = math.max(maxdev, math.abs(est - exact))
    worst = math.max(worst, (math.abs(est - exact) - bias) / se)
    assert(math.abs(est - exact) < 4.5 * se + bias,
           format("%s %s: %.4f vs exact %.4f (SE %.4f, bias bound %.4f)", what, name, est, exact, se, bias))
  end
  for k = 1, n do
    check(X[{ {}, k }]:contiguous(), t.mean[k], format("<z_%d>", k))
    if pairs_ then
      for l = k + 1, n do check((X[{ {}, k }] * X[{ {}, l }]):contiguous(), t.corr[k][l], format("<z_%d z_%d>", k, l)) end
    end
  end
  print(format("  %s: largest |error| %.4f, largest SE %.4f, bias bound %.4f, worst (|error| - bias) / SE %.2f, "
    .. "smallest ESS %.0f of %d rows", what, maxdev, maxse, bias, worst, minness, nb * bs))
  return maxse
end

T.test("the {0,1} form of a machine: W = 4J, b = 2h - 2 J 1", function()
  local J, h = machine(7, 12, 0.25, 0.3)
  local W, b = binary(J, h)
  local s, z = B.exact(J, h), B.exact(W, b, { units = "01" })
  for k = 1, 12 do T.near(z.mean[k], (1 + s.mean[k]) / 2, 1e-12, "<z_k>") end
  T.near(z.corr[1][5], (1 + s.mean[1] + s.mean[5] + s.corr[1][5]) / 4, 1e-12, "<z_1 z_5>")
  -- and back: cj.boltzmann.binary_to_spin gives J = W/4, h = b/2 + W 1/4
  local J2, h2 = B.binary_to_spin(W, b)
  T.near(cj.abs(J2 - J):max(), 0, 1e-15, "J"); T.near(cj.abs(h2 - h):max(), 0, 1e-15, "h")
end)

-- Glauber units, one in turn per step: exact Gibbs sampling. 12 units,
-- 30000 sweeps (one recorded row per sweep): marginals and the 66 pair
-- averages within 4.5 SE (78 statistics: a false alarm has probability
-- about 5e-4).
-- The 12-unit machine of Validation 1 in {0,1} form, sampled by MODEL for
-- `seconds`, z recorded every `every`, compared with the exact values ->
-- the largest SE, the network
local function sampled(model, every, seconds, pairs_, bias, what)
  local W, b = binary(machine(7, 12, 0.25, 0.3))
  local net = samplernet(model, W, b, every)
  net:run(seconds * cj.second)
  return compare(net.state.Z.z:values(), B.exact(W, b, { units = "01" }), pairs_, bias, what), net
end

T.test("glauber units sample the exact marginals and pair averages of a 12-unit machine", function()
  local se = sampled("glauber_unit", "1.2 ms", 30000 * 12 * 1e-4, true, 0, "glauber")
  assert(se < 0.01, format("SE %.4f: too few effective samples", se))
end)

-- The spiking sampler of Buesing et al. (2011), tau = 20 ms (200 steps),
-- all neurons deciding every step: 800 s of network time, z recorded every
-- 1 ms. Beside the sampling error, the parallel decisions of one step bias
-- the distribution by O(dt / tau) (measured at most 0.75 dt / tau over the
-- marginals with tau = 10 ms and 20 ms in runs of 2000 s and 4000 s, with
-- SE 0.0015): the tolerance is 4.5 SE + dt / tau.
T.test("the spiking sampler (Buesing et al. 2011) samples the exact marginals of a 12-unit machine", function()
  local se, net = sampled("neural_sampler(tau = 20 ms)", "1 ms", 800, false, 1e-4 / 20e-3, "spiking sampler")
  assert(se < 0.006, format("SE %.4f: too few effective samples", se))
  -- spikes are real: every neuron fires, never within tau of its last spike
  -- except at exactly tau (the paper's neuron may fire again as it ends)
  local times, idx = T.spikelist(net.spikes.Z)
  local last, fired = {}, 0
  for k = 1, #times do
    local q = idx[k]
    if last[q] then assert(times[k] - last[q] > 20e-3 - 0.5e-4, "a spike within tau") else fired = fired + 1 end
    last[q] = times[k]
  end
  assert(fired == 12, format("%d of 12 neurons fired", fired))
end)

T.test("stochastic spike decisions: the same draws on both backends, in pieces and after a restore", function()
  local J, h = machine(3, 10, 0.3, 0.3)
  local W, b = binary(J, h)
  local function spikes(model, backend, pieces)
    local net = samplernet(model, W, b, "1 ms", { backend = backend })
    for _ = 1, pieces do net:run(0.2 / pieces * cj.second) end
    local tt, ii = T.spikelist(net.spikes.Z)
    assert(#tt > 100, model .. ": too few spikes")
    return { tt, ii }
  end
  -- bernoulli(p) takes a dimensionless probability; draws stay out of equations
  local function unit(body) return "neuron u {\n state { v = 0 mV }\n" .. body .. "\n}\npopulation P = u(2)\n" end
  T.checkerror("'bernoulli' needs a dimensionless probability (got V)", cj.network,
               unit("spike when bernoulli(v)"))
  T.checkerror("random draw 'bernoulli' is not allowed here (in equations, use xi for noise)", cj.network,
               unit("equations { dv/dt = bernoulli(0.5) * mV / ms }"))
  -- 1000 neurons x 100 steps of bernoulli(0.5) and rand() < 0.5: Binomial(1e5, 1/4)
  local net = cj.network(unit("spike when bernoulli(0.5) and rand() < 0.5"):gsub("u%(2%)", "u(1000)")
                         .. "record spikes of P\n")
  net:run(100 * 1e-4 * cj.second)
  local count = #T.values(net.spikes.P:times())
  assert(math.abs(count - 25000) < 4.5 * math.sqrt(1e5 * 0.25 * 0.75), format("%d spikes, 25000 expected", count))
  local jit = require("cajal.core").jit_available()
  if not jit then T.skippart("jit", "no C compiler for the JIT") end
  -- saved at 0.1 s and restored, the sampler goes on with the same decisions
  local path = os.tmpname()
  local net = samplernet("neural_sampler", W, b, "1 ms")
  net:run(0.1 * cj.second); net:save(path); net:run(0.1 * cj.second)
  local r = cj.restore(path)
  os.remove(path)
  r:run(0.1 * cj.second)
  local t1, i1 = T.spikelist(net.spikes.Z, 0.1)
  local t2, i2 = T.spikelist(r.spikes.Z, 0.1)
  assert(#t1 > 50, "too few spikes after the save")
  T.same(t1, t2, "times after restore"); T.same(i1, i2, "indices after restore")
  for _, model in ipairs({ "glauber_unit", "neural_sampler" }) do
    local a = spikes(model, "interp", 1)
    local c = spikes(model, "interp", 4)
    T.same(a[1], c[1], model .. ": times in pieces"); T.same(a[2], c[2], model .. ": indices in pieces")
    if jit then
      local d = spikes(model, "jit", 1)
      T.same(a[1], d[1], model .. ": times jit"); T.same(a[2], d[2], model .. ": indices jit")
    end
  end
end)

---------------------------------------------------------------------------
-- Bad input
---------------------------------------------------------------------------

T.test("bad input: a clear error naming the argument", function()
  local W, b = machine(1, 4, 1, 1)
  local ce = T.checkerror
  ce("bad argument #3 to 'exact' (beta must be positive and finite (temperature > 0)", function() return B.exact(W, b, 0) end)
  ce("option 'beta' must be positive", B.exact, W, b, { beta = -1 })
  ce("option 'beta' must be positive", B.gibbs, W, b, { beta = 0 })
  ce("option 'beta' must hold positive finite values", B.gibbs, W, b, { beta = cj.array({ 1, 0 }), burnin = 0, sweeps = 2 })
  ce("must have 3 elements", B.gibbs, W, b, { beta = cj.array({ 1, 1 }), burnin = 1, sweeps = 2 })
  ce("bad argument #1 to 'exact' (exact enumeration takes at most 24 units (got 25)", function() return B.exact(cj.zeros(25, 25)) end)
  ce("W must be symmetric (W[1][2]", B.exact, cj.array({ { 0, 1 }, { 2, 0 } }))
  ce("W must have a zero diagonal (W[2][2] = 1", B.exact, cj.array({ { 0, 1 }, { 1, 1 } }))
  ce("W must be a square matrix", B.gibbs, cj.zeros(2, 3), nil)
  ce("b must have 4 elements (got 3)", B.gibbs, W, cj.zeros(3))
  ce("unknown option 'sweep'", B.gibbs, W, b, { sweep = 10 })
  ce("option 'method' must be \"heatbath\" or \"metropolis\"", B.gibbs, W, b, { method = "glauber" })
  ce("option 'clamp' needs option 'init'", B.gibbs, W, b, { clamp = { 1 } })
  ce("option 'clamp' must list unit numbers 1 .. 4", B.gibbs, W, b, { clamp = { 5 }, init = cj.ones(4) })
  ce("option 'init' must hold -1/+1 values (element [3] is 0", B.gibbs, W, b, { init = cj.array({ 1, 1, 0, 1 }) })
  ce("option 'init' must hold 0/1 values", B.gibbs, W, b, { init = cj.array({ 1, 1, -1, 1 }), units = "01" })
  ce("S must hold -1/+1 values", B.energy, W, b, cj.zeros(4))
  ce("S must have 4 columns", B.energy, W, b, cj.ones(2, 3))
  -- Boltzmann machines
  local m = B.bm(3, 1, { seed = 1 })
  ce("bad argument #1 to 'train' (X must hold -1/+1 values (element [1][2] is 0.5", function() return m:train(cj.array({ { 1, 0.5, 1 } })) end)
  ce("X must have 3 columns, one per visible unit (got 4)", m.train, m, cj.ones(2, 4))
  ce("option 'momentum' must be in [0, 1)", m.train, m, cj.ones(2, 3), { momentum = 1 })
  ce("option 'anneal' must hold positive finite betas", m.train, m, cj.ones(2, 3), { anneal = { 0.5, 0 } })
  ce("exact enumeration takes at most 24 units (the machine has 30)", B.bm(20, 10, { seed = 1 }).kl,
    B.bm(20, 10, { seed = 1 }), cj.ones(1, 20))
  ce("option 'exact' enumerates all 30 units", B.bm(20, 10).train, B.bm(20, 10), cj.ones(1, 20), { exact = true })
  ce("option 'mask' must be symmetric", B.bm, 2, 0, { mask = cj.array({ { 0, 1 }, { 0, 0 } }) })
  ce("W must be finite and symmetric", function() m.W = cj.array({ { 0, 1, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } }) end)
  ce("n_visible must be an integer >= 1", B.bm, 0, 1)
  -- Hopfield
  local net = B.hopfield(8)
  ce("patterns must hold -1/+1 values (element [1][3] is 0", net.store, net, cj.array({ { 1, 1, 0, 1, 1, 1, 1, 1 } }))
  ce("patterns must have 8 columns", net.store, net, cj.ones(2, 7))
  ce("cue must have 8 columns", net.recall, net, cj.ones(7))
  ce("option 'mode' must be \"async\", \"sequential\" or \"sync\"", net.recall, net, cj.ones(8), { mode = "random" })
  ce("option 'rule' must be", B.hopfield, 8, { rule = "storkey" })
  ce("options 'F' and 'n' belong to rule = \"dense\"", B.hopfield, 8, { n = 3 })
  local pinv = B.hopfield(8, { rule = "pseudoinverse" })
  pinv:store(cj.ones(1, 8))
  ce("linear combination", pinv.store, pinv, cj.ones(1, 8) * -1)
  assert(pinv.P == 1, "the failed store changed nothing")
  -- RBMs
  local r = B.rbm(4, 3, { seed = 1 })
  ce("bad argument #1 to 'train' (X must hold 0/1 values (element [1][2] is 2", function() return r:train(cj.array({ { 1, 2, 0, 1 } })) end)
  ce("X must hold 0/1 values (element [1][1] is 0.5", r.train, r, cj.array({ { 0.5, 1, 0, 1 } }))
  r:train(cj.array({ { 0.5, 1, 0, 1 } }), { fractional = true, epochs = 1 })
  ce("X must hold values in [0, 1]", r.train, r, cj.array({ { 1.5, 1, 0, 1 } }), { fractional = true })
  ce("X must have 4 columns", r.free_energy, r, cj.ones(2, 5))
  ce("option 'k' must be an integer >= 1", r.train, r, cj.ones(2, 4), { k = 0 })
  ce("unknown option 'lr_decay'", r.train, r, cj.ones(2, 4), { lr_decay = 1 })
  ce("H must hold values in [0, 1]", r.visible, r, cj.full({ 1, 3 }, 2))
  ce("the exact partition function enumerates the smaller layer (30 units; at most 24)", function()
    local big = B.rbm(30, 40)
    return big:log_partition()
  end)
  ce("pseudo-likelihood needs binary visible units", function()
    local gr = B.rbm(2, 2, { visible = "gaussian" })
    return gr:pseudo_loglik(cj.ones(1, 2))
  end)
  ce("X must be finite", function()
    local gr = B.rbm(2, 2, { visible = "gaussian" })
    return gr:train(cj.array({ { 0, 0 / 0 } }))
  end)
  ce("option 'init' must have 2 rows", r.sample, r, 2, { init = cj.ones(3, 4) })
  ce("W must be 4x3", function() r.W = cj.ones(3, 4) end)
  ce("sizes must list 2 to 65 layer sizes", B.dbn, { 4 })
  -- Ising
  ce("the lattice needs even sizes of at least 4 (got 5x5)", B.ising, 5)
  local is = B.ising(4)
  ce("option 'T' must be positive and finite (temperature > 0)", is.run, is, 10, { T = 0 })
  ce("option 'beta' must be positive", is.run, is, 10, { beta = -2 })
  ce("give option 'T' or option 'beta', not both", is.run, is, 10, { T = 1, beta = 1 })
  ce("option 'order' belongs to a general coupling matrix", is.run, is, 10, { order = "random" })
  ce("option 'init' must hold 16 spins", B.ising, 4, { init = cj.ones(3) })
  ce("option 'J' belongs to a lattice", B.ising, W, { J = 2 })
  -- the REPL survives: errors leave a usable module
  assert(B.exact(W, b).logZ)
end)

---------------------------------------------------------------------------
-- The examples
---------------------------------------------------------------------------
-- Each runs as `cajal examples/NAME.lua small-args` in a scratch folder and
-- must print what it shows; plots are written when gnuplot is there.
local function example(name, args) return T.example(name, args) end

T.test("examples/hopfield.lua recalls pictures from corrupted cues", function()
  local out = example("hopfield", "40")
  assert(out:find("recalled", 1, true), out)
  assert(out:find("dense", 1, true), out)
end)

T.test("examples/ising.lua shows the transition near T_c", function()
  local out = example("ising", "16 300")
  assert(out:find("T_c", 1, true), out)
  assert(out:find("<|m|>", 1, true), out)
end)

T.test("examples/spiking_sampler.lua samples the exact distribution with a spiking network", function()
  local out = example("spiking_sampler", "40")
  -- 40 s: the total variation from the exact distribution over the 1024
  -- states is 0.09 (spiking) and 0.11 (Glauber, 3600 sweeps), sampling noise
  -- that falls as 1/sqrt(T) (0.04 and 0.05 at 200 s); a sampler of the
  -- wrong distribution (marginals off by 0.1) is far above 0.2
  local tvs, tvg = out:match("total variation ([%d.]+) %(spiking%), ([%d.]+) %(glauber")
  assert(tvs and tonumber(tvs) < 0.2 and tonumber(tvg) < 0.2, out)
  assert(out:find("exact", 1, true) and out:find("Hz per neuron", 1, true), out)
end)

T.test("examples/rbm.lua learns the 8x8 digits of python3-sklearn", function()
  local out = example("rbm", "2")
  if out:find("SKIP:", 1, true) then T.skip(out:match("SKIP: ([^\n]*)")) end
  assert(out:find("pseudo-likelihood", 1, true), out)
end)

T.done()
