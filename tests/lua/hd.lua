-- hd.lua — cj.hd from Lua: the statistics of random hypervectors and of
-- bundles against theory, Kanerva's 'dollar of Mexico', sequences by
-- permutation, HRR unbinding through clean-up, encoders against their
-- definitions (recomputed here from arrays), memories, the examples
-- (records, and language recognition on Debian's word lists), and an
-- error for every misuse.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local hd = cj.hd

local format = string.format
local MODELS = { "bsc", "map", "hrr", "fhrr" }
local D = 10000

-- C(n, k) / 2^n without overflow
local function binom_half(n, k)
  local lp = 0
  for j = 1, k do lp = lp + math.log(n - k + j) - math.log(j) end
  return math.exp(lp - n * math.log(2))
end

-- Similarity of a bundle of k random bipolar (or binary) vectors with each
-- of them after majority with random ties: 2p - 1, p the probability that
-- the majority agrees with a member (the other k - 1 elements are fair coins).
local function majority_theory(k)
  local p = 0
  for m = 0, k - 1 do
    local w = binom_half(k - 1, m)
    if 2 * (m + 1) > k then p = p + w elseif 2 * (m + 1) == k then p = p + w / 2 end
  end
  return 2 * p - 1
end

T.test("random vectors are nearly orthogonal at d = 10 000 (similarity 0 +- 0.03)", function()
  for _, m in ipairs(MODELS) do
    local n = 40
    local S = hd.similarity(hd.random(n, D, m, { seed = 1 }), hd.random(n, D, m, { seed = 2 }))
    local s = T.values(S)
    local mean, var, outside = 0, 0, 0
    for _, x in ipairs(s) do mean = mean + x / #s end
    for _, x in ipairs(s) do
      var = var + (x - mean) ^ 2 / (#s - 1)
      if math.abs(x) > 0.03 then outside = outside + 1 end
    end
    -- theory: sd 1/sqrt(d) (bsc, map, hrr), 1/sqrt(2d) for fhrr (the real
    -- part of a random phase has variance 1/2); 1600 pairs: the sd is
    -- estimated within 2 %, the mean within 3 sd / 40
    local sd = m == "fhrr" and 1 / math.sqrt(2 * D) or 1 / math.sqrt(D)
    T.near(math.sqrt(var), sd, 0.1 * sd, m .. ": sd of random similarities")
    T.near(mean, 0, 3 * sd / 40, m .. ": mean similarity")
    assert(outside <= 0.01 * #s, format("%s: %d of %d beyond +-0.03", m, outside, #s))
    -- a vector with itself
    local x = hd.random(1, D, m, { seed = 3 })[1]
    T.near(hd.similarity(x, x), 1, 1e-12, m .. ": self-similarity")
  end
end)

T.test("a bundle of k items stays similar to each, falling with k as theory says", function()
  local ks = { 1, 2, 3, 5, 9, 17, 33, 65 }
  for _, m in ipairs(MODELS) do
    local last = math.huge
    for _, k in ipairs(ks) do
      local X = hd.random(k, D, m, { seed = 10 + k })
      local b = hd.bundle(X, { seed = 1 })
      local s = hd.similarity(X, b):mean()
      -- bsc: majority with random ties; map, hrr, fhrr: the sum, cosine 1/sqrt(k)
      local want = m == "bsc" and majority_theory(k) or 1 / math.sqrt(k)
      -- the mean of k similarities each within about 2/sqrt(d) of theory
      T.near(s, want, 0.02, format("%s: bundle of %d", m, k))
      -- (for bsc, k = 2j and 2j + 1 have one theory value: a tie at 2j + 1
      -- is as likely as a random tie-break at 2j)
      assert(s < last + 0.02, format("%s: similarity grows at k = %d", m, k))
      last = s
      if m == "map" then     -- normalised: the sign of the sum is a majority
        T.near(hd.similarity(X, hd.normalise(b, { seed = 1 })):mean(), majority_theory(k), 0.02,
          format("map: normalised bundle of %d", k))
      end
    end
  end
end)

T.test("bsc bundle is the bitwise majority (recomputed from the bits)", function()
  for _, k in ipairs({ 3, 7, 64 }) do
    local X = hd.random(k, 1000, "bsc", { seed = k })
    local ones = X:array():astype("int32"):sum(1)      -- count of ones per position
    local b = T.values(hd.bundle(X, { seed = 5 }):array())
    local c = T.values(ones)
    for j = 1, 1000 do
      if 2 * c[j] > k then assert(b[j] == 1) elseif 2 * c[j] < k then assert(b[j] == 0) end
    end
  end
  -- weights: a heavy vector wins every position
  local X = hd.random(5, 300, "bsc", { seed = 9 })
  local b = hd.bundle(X, { 10, 1, 1, 1, 1 })
  T.near(hd.similarity(b, X[1]), 1, 0)
end)

local COUNTRIES = { "name", "capital", "money", "usa", "wdc", "dollar", "mexico", "mxc", "peso" }

T.test("Kanerva's 'dollar of Mexico' answers peso", function()
  for _, m in ipairs(MODELS) do
    local mem = hd.item_memory(COUNTRIES, D, m, { seed = 4 })
    local keys = mem:get({ "name", "capital", "money" })
    local us = hd.record(keys, mem:get({ "usa", "wdc", "dollar" }))
    local mx = hd.record(keys, mem:get({ "mexico", "mxc", "peso" }))
    -- which role does dollar play in the US record, what fills it in Mexico's
    local name, s = mem:nearest(hd.unbind(mx, hd.unbind(us, mem:get("dollar"))))
    assert(name == "peso", m .. ": " .. name)
    assert(s > 0.15, m .. ": similarity " .. s)
    if m == "bsc" or m == "map" then   -- Kanerva's form: DOLLAR * (USA * MEXICO)
      name = mem:nearest(hd.bind(mem:get("dollar"), hd.bind(us, mx)))
      assert(name == "peso", m .. " (Kanerva's form): " .. name)
    end
  end
end)

T.test("a 20-item sequence stored by permutation reads back in order", function()
  local names = {}
  for k = 1, 30 do names[k] = "item" .. k end
  for _, m in ipairs(MODELS) do
    local mem = hd.item_memory(names, D, m, { seed = 7 })
    local order = {}
    for k = 1, 20 do order[k] = names[(k * 7) % 30 + 1] end   -- 20 distinct items
    local s = hd.sequence(mem:get(order), { seed = 1 })
    for i = 1, 20 do
      local got, sim = mem:nearest(hd.permute(s, -(i - 1)))
      assert(got == order[i], format("%s: position %d read %s, stored %s", m, i, got, order[i]))
      assert(sim > 0.1, format("%s: position %d similarity %g", m, i, sim))
    end
  end
end)

T.test("HRR unbinding recovers the filler through clean-up", function()
  local names = { "k1", "k2", "k3", "k4", "k5", "v1", "v2", "v3", "v4", "v5", "x1", "x2" }
  local mem = hd.item_memory(names, D, "hrr", { seed = 2 })
  local keys, vals = mem:get({ "k1", "k2", "k3", "k4", "k5" }), mem:get({ "v1", "v2", "v3", "v4", "v5" })
  local rec = hd.record(keys, vals)
  for i = 1, 5 do
    local noisy = hd.unbind(rec, keys[i])
    local raw = hd.similarity(noisy, vals[i])
    -- correlation with the involution is approximate: the filler comes back
    -- with noise (about 1/sqrt(2 * 5) of it is the filler for 5 pairs)
    assert(raw > 0.2 and raw < 0.6, "raw similarity " .. raw)
    local name, s = mem:nearest(noisy)
    assert(name == "v" .. i, "clean-up gave " .. name)
    T.near(s, raw, 1e-12)
    local clean = mem:get(name)
    T.near(hd.similarity(clean, vals[i]), 1, 1e-12, "cleaned up")
  end
end)

T.test("bind, unbind, permute and their inverses, single vectors and batches", function()
  for _, m in ipairs(MODELS) do
    local A, b = hd.random(4, 500, m, { seed = 1 }), hd.random(1, 500, m, { seed = 2 })[1]
    local C = hd.bind(A, b)
    assert(#C == 4 and C.model == m and C.dim == 500)
    local S = hd.similarity(C, A)                   -- binding makes dissimilar vectors
    for i = 1, 4 do assert(math.abs(S[{ i, i }]) < 0.25, m .. ": bound vector similar to its operand") end
    local back = hd.similarity(hd.unbind(C, b), A)
    for i = 1, 4 do assert(back[{ i, i }] > (m == "hrr" and 0.5 or 1 - 1e-12), m .. ": unbind " .. back[{ i, i }]) end
    -- cyclic shifts compose and invert; arbitrary permutations invert
    local x = A[2]
    T.near(hd.similarity(hd.permute(hd.permute(x, 7), -7), x), 1, 1e-12, m .. ": shift back")
    T.near(hd.similarity(hd.permute(hd.permute(x, 3), 4), hd.permute(x, 7)), 1, 1e-12, m .. ": shifts add")
    T.near(hd.similarity(hd.permute(x, 500), x), 1, 1e-12, m .. ": shift by d")
    local perm = T.values(cj.rng(3):permutation(500))
    local y = hd.permute(x, perm)
    T.near(hd.similarity(hd.permute(y, perm, { inverse = true }), x), 1, 1e-12, m .. ": permutation inverse")
    assert(math.abs(hd.similarity(y, x)) < 0.25, m .. ": permuted vector is dissimilar")
  end
end)

T.test("permutations move elements as numpy.roll and x[perm] do", function()
  local a = cj.range(1, 10)
  local x = hd.from_array(a, "map")
  T.same(T.values(hd.permute(x, 3):array()), { 8, 9, 10, 1, 2, 3, 4, 5, 6, 7 }, "roll by 3")
  T.same(T.values(hd.permute(x, { 2, 1, 10, 9, 3, 4, 5, 6, 7, 8 }):array()), { 2, 1, 10, 9, 3, 4, 5, 6, 7, 8 }, "x[perm]")
  local bits = cj.array({ 1, 0, 0, 1, 1, 0, 1 }):astype("uint8")
  local v = hd.from_array(bits, "bsc")
  T.same(T.values(hd.permute(v, -2):array()), { 0, 1, 1, 0, 1, 1, 0 }, "bsc roll by -2")
end)

T.test("arrays in and out: every model round-trips", function()
  for _, m in ipairs(MODELS) do
    local X = hd.random(3, 70, m, { seed = 5 })
    local a = X:array()
    local Y = hd.from_array(a, m, m == "fhrr" and { complex = true } or nil)
    T.same(T.values(Y:array()), T.values(a), m .. " round trip")
    assert(#Y == 3 and a.shape[1] == 3 and a.shape[2] == 70)
  end
  local p = hd.random(2, 50, "fhrr", { seed = 1 })
  local q = hd.from_array(p:phases(), "fhrr")
  local S = hd.similarity(p, q)
  T.near(S[{ 1, 1 }], 1, 1e-12, "fhrr from phases")
  T.near(S[{ 2, 2 }], 1, 1e-12, "fhrr from phases")
  assert(hd.random(2, 64, "bsc"):array().dtype == "uint8")
end)

T.test("ngrams of a text sum the n-grams of its windows (recomputed with ngram)", function()
  for _, m in ipairs(MODELS) do
    local letters = { " ", "a", "b", "n", "e", "h", "t" }
    local mem = hd.item_memory(letters, 512, m, { seed = 11 })
    local text = "the banana then the ant"
    local windows = {}
    for i = 1, #text - 2 do windows[#windows + 1] = hd.ngram(mem:get({ text:sub(i, i), text:sub(i + 1, i + 1), text:sub(i + 2, i + 2) })) end
    local want = m == "bsc" and hd.bundle(windows, cj.ones(#windows), { seed = 3 }) or hd.bundle(windows)
    local got = hd.ngrams(mem, text, 3, { seed = 3 })
    T.near(hd.similarity(got, want), 1, 1e-12, m .. ": ngrams")
    -- the same from row numbers
    local rows = mem:indices(text)
    T.near(hd.similarity(hd.ngrams(mem:vectors(), rows, 3, { seed = 3 }), want), 1, 1e-12, m .. ": from rows")
    -- ngram: rho(rho(t)) * rho(h) * e
    local t, h, e = mem:get("t"), mem:get("h"), mem:get("e")
    local the = hd.bind(hd.bind(hd.permute(t, 2), hd.permute(h, 1)), e)
    T.near(hd.similarity(hd.ngram({ t, h, e }), the), 1, 1e-12, m .. ": trigram")
  end
end)

T.test("levels and scalars: similarity falls linearly with the distance of levels", function()
  for _, m in ipairs(MODELS) do
    local L = hd.levels(21, D, m, { seed = 3 })
    local S = hd.similarity(L, L)
    for _, jk in ipairs({ { 1, 1 }, { 1, 6 }, { 1, 11 }, { 1, 21 }, { 8, 15 } }) do
      local j, k = jk[1], jk[2]
      T.near(S[{ j, k }], 1 - math.abs(j - k) / 20, 0.04, format("%s levels %d, %d", m, j, k))
    end
    local v = hd.scalar(L, 0.26, 0, 1)            -- 0.26 * 20 = 5.2 -> level 6
    T.near(hd.similarity(v, L[6]), 1, 1e-12)
    local many = hd.scalar(L, cj.array({ -5, 0, 1, 7 }), 0, 1)
    T.same(T.values(hd.similarity(many, L):argmax(2)), { 1, 1, 21, 21 }, "clipped")
  end
end)

T.test("fractional power encoding: fpe(x + y) = fpe(x) * fpe(y), kernel sinc(x - y)", function()
  for _, m in ipairs({ "hrr", "fhrr" }) do
    local z = hd.random(1, D, m, { seed = 8, unitary = true })[1]
    T.near(hd.similarity(hd.fpe(z, 0.7 + 1.6), hd.bind(hd.fpe(z, 0.7), hd.fpe(z, 1.6))), 1, 1e-9, m .. ": powers add")
    local xs = { 0, 0.25, 0.5, 1, 1.5, 3 }
    local S = hd.similarity(hd.fpe(z, 0), hd.fpe(z, xs))
    for k, x in ipairs(xs) do
      local want = x == 0 and 1 or math.sin(math.pi * x) / (math.pi * x)
      T.near(S[k], want, 0.04, format("%s kernel at %g", m, x))
    end
  end
end)

T.test("clean-up memories: nearest neighbour and autoassociative recall", function()
  for _, m in ipairs(MODELS) do
    local X = hd.random(30, 2000, m, { seed = 21 })
    local mem = hd.cleanup(X, nil, { seed = 1 })
    assert(#mem == 30 and mem:names()[7] == "7")
    -- queries: 0.6 times noise added, normalised
    local noise = hd.random(30, 2000, m, { seed = 22 })
    local Q = {}
    for i = 1, 30 do Q[i] = hd.bundle({ X[i], noise[i] }, { 1, 0.6 }, { normalise = true, seed = i }) end
    Q = hd.stack(Q)
    local names, sims, idx = mem:nearest(Q)
    for i = 1, 30 do assert(idx[i] == i and names[i] == tostring(i), m .. ": nearest") end
    assert(sims:min() > 0.3)
    local R, steps = mem:recall(Q, { beta = m == "hrr" and 50 or 0 })
    local back = hd.similarity(R, X)
    for i = 1, 30 do
      local s = back[{ i, i }]
      assert(s > (m == "fhrr" and 0.97 or 1 - 1e-9), format("%s recall %d: %g after %d steps", m, i, s, steps))
    end
  end
  -- item memories: symbols by name, the same vectors for the same seed and name
  local a = hd.item_memory({ "x", "y" }, 300, "bsc", { seed = 5 })
  local b = hd.item_memory({ "y" }, 300, "bsc", { seed = 5 })
  b:add("z")
  T.near(hd.similarity(a:get("y"), b:get("y")), 1, 0, "same seed, same name")
  assert(a:has("x") and not a:has("z") and b:index("z") == 2 and #b == 2)
  b:add("w", a:get("x"))
  T.near(hd.similarity(b:get("w"), a:get("x")), 1, 0)
  T.same(T.values(b:indices({ "z", "y", "w" })), { 2, 1, 3 }, "indices")
end)

T.test("bad input: mismatched models and dimensions, zero length, unknown symbols", function()
  local a, b = hd.random(2, 100, "map"), hd.random(2, 100, "bsc")
  T.checkerror("bad argument #2 to 'bind' (vectors of one model expected, got map and bsc)", function() return hd.bind(a, b) end)
  T.checkerror("bad argument #2 to 'similarity' (vectors of one dimension expected, got 100 and 99)",
    function() return hd.similarity(a, hd.random(1, 99, "map")) end)
  T.checkerror("vectors of one model expected", function() return a:unbind(b) end)
  T.checkerror("bad argument #2 to 'bind' (2 vectors (or 1) expected, got 3)", function() return hd.bind(a, hd.random(3, 100)) end)
  T.checkerror("element 2: vectors of one model and dimension expected, got map 100 and bsc 100",
    function() return hd.bundle({ a[1], b[1] }) end)
  T.checkerror("dimension must be an integer >= 1", function() return hd.random(3, 0) end)
  T.checkerror("zero-length vectors", function() return hd.from_array(cj.zeros(0), "map") end)
  T.checkerror("a non-empty list of hypervectors expected", function() return hd.bundle({}) end)
  T.checkerror("unknown model 'binary' (expected bsc, map, hrr or fhrr)", function() return hd.random(1, 10, "binary") end)
  T.checkerror("hypervector expected, got array (cj.hd.from_array makes one)", function() return hd.bind(cj.zeros(10), a) end)
  T.checkerror("unknown option 'sede'", function() return hd.random(1, 10, "map", { sede = 1 }) end)
  T.checkerror("option 'seed' must be a non-negative integer", function() return hd.random(1, 10, "map", { seed = -1 }) end)
  local mem = hd.item_memory({ "a", "b" }, 64, "map", { seed = 1 })
  T.checkerror("bad argument #1 to 'get' (unknown symbol 'c')", function() return mem:get("c") end)
  T.checkerror("unknown symbol 'c'", function() return mem:get({ "a", "c" }) end)
  T.checkerror("unknown symbol 'x'", function() return hd.ngrams(mem, "abx", 2) end)
  T.checkerror("symbol 'a' is already in the memory", function() return mem:add("a") end)
  T.checkerror("vectors of one model expected, got map and bsc", function() return mem:add("z", hd.random(1, 64, "bsc")[1]) end)
  T.checkerror("a sequence of 2 symbols has no 3-gram", function() return hd.ngrams(mem, "ab", 3) end)
  local twice = {}
  for k = 1, 100 do twice[k] = k end
  twice[2] = 1
  T.checkerror("position 1 appears twice (not a permutation)", function() return hd.permute(a, twice) end)
  T.checkerror("permutation of 100 positions expected, got 3", function() return hd.permute(a, { 1, 2, 3 }) end)
  T.checkerror("weights: 2 values expected, got 3", function() return hd.bundle(a, { 1, 2, 3 }) end)
  T.checkerror("hrr or fhrr base expected, got map", function() return hd.fpe(a[1], 1) end)
  T.checkerror("option 'beta' must be > 0 for hrr", function()
    return hd.cleanup(hd.random(3, 64, "hrr")):recall(hd.random(1, 64, "hrr")[1]) end)
  T.checkerror("row 3 out of range 1..2", function() return a[3] end)
  T.checkerror("the memory is empty", function() return hd.item_memory({}, 10):nearest(hd.random(1, 10)[1]) end)
  -- the process survives and the library still works
  T.near(hd.similarity(a[1], a[1]), 1, 1e-12)
end)

---------------------------------------------------------------------------
-- the examples
---------------------------------------------------------------------------
local function runexample(name, ...) return T.example(name, { ... }) end

T.test("examples/hd_records.lua answers every record query in every model", function()
  local out = runexample("hd_records")
  assert(out:find("all queries answered: yes", 1, true), out)
  assert(select(2, out:gsub("dollar of Mexico%s+peso", "")) == 4, out)
end)

T.test("examples/hd_language.lua: language recognition on Debian's word lists", function()
  local out = runexample("hd_language", "5000", "40", "2")
  if out:find("fewer than two word lists", 1, true) then
    T.skip("the Debian word lists (wamerican, wngerman, wfrench, ...) are not installed")
  end
  local mean = tonumber(out:match("mean accuracy: ([%d.]+) %%"))
  assert(mean and mean > 90, out)
  for name, acc in out:gmatch("\n(%a+)%s+([%d.]+) %%") do
    assert(tonumber(acc) >= 75, format("%s: %s %% on 10-word samples\n%s", name, acc, out))
  end
  local missing = out:match("not installed, skipped: ([^\n]*)")
  if missing then T.skip("ran, but without " .. missing) end
end)

T.done()
