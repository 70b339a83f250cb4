-- rng.lua — random numbers from Lua: seeding and reproducibility, shapes,
-- units, the moments of each distribution (n = 1e6, within 5 standard
-- errors), permutations and choice, save/restore of generator state, and
-- an error for every misuse.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local core = require "cajal.core"

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function shape(a) return table.concat(a.shape, "x") end

-- mean and variance of array a against m and v, each within 5 standard
-- errors (SE(mean) = sqrt(v/n), SE(var) = sqrt((mu4 - v^2)/n)).
local function moments(a, m, v, mu4, what)
  local n = a:numel()
  local mean, var = a:mean(), a:var()
  if type(mean) ~= "number" then mean, var = mean.value, var.value end
  local se_m, se_v = math.sqrt(v / n), math.sqrt((mu4 - v * v) / n)
  assert(math.abs(mean - m) < 5 * se_m,
    string.format("%s: mean %.6g vs %.6g (SE %.3g)", what, mean, m, se_m))
  assert(math.abs(var - v) < 5 * se_v,
    string.format("%s: variance %.6g vs %.6g (SE %.3g)", what, var, v, se_v))
end

T.test("the same seed gives the same numbers", function()
  cj.seed(3)
  local a = cj.rand(1000)
  local x = cj.randn()
  cj.seed(3)
  local b = cj.rand(1000)
  assert(same(a, b))
  assert(cj.randn() == x)
  assert(same(cj.rng(3):rand(1000), a), "cj.rng(3) and cj.seed(3) agree (both stream 0)")
  assert(not same(cj.rng(4):rand(1000), a))
  assert(not same(cj.rng(3, 1):rand(1000), a), "streams differ")
end)

T.test("golden values (the same on every machine)", function()
  local g = cj.rng(1)
  assert(g:rand() == 0.8667363110211227)
  assert(g:rand() == 0.98485346010754604)
  assert(g:randn() == 0.02871082972510695)
end)

T.test("scalar and bulk draws give the same sequence", function()
  local g, h = cj.rng(9), cj.rng(9)
  local a = g:normal(0, 1, 10)
  for i = 1, 10 do assert(a[i] == h:normal()) end
  local p = g:poisson(40, 10)
  for i = 1, 10 do assert(p[i] == h:poisson(40)) end
end)

T.test("different streams are uncorrelated", function()
  local n = 200000
  local x, y = cj.rng(5, 0):rand(n), cj.rng(5, 1):rand(n)
  local c = ((x - x:mean()) * (y - y:mean())):mean() / (x:std() * y:std())
  assert(math.abs(c) < 5 / math.sqrt(n), "correlation " .. c)
end)

T.test("shapes", function()
  assert(type(cj.rand()) == "number")
  assert(shape(cj.rand(5)) == "5")
  assert(shape(cj.rand(2, 3)) == "2x3")
  assert(shape(cj.rand({ 4, 2 })) == "4x2")
  assert(shape(cj.randn(0)) == "0")
  assert(shape(cj.uniform({ 3 })) == "3")
  assert(shape(cj.uniform(3)) == "3")
  assert(shape(cj.normal(0, 1, 2, 2)) == "2x2")
  assert(shape(cj.poisson(2, { 2, 5 })) == "2x5")
  assert(cj.rand(3).dtype == "float64")
  local r = cj.rand(10000)
  assert(r:min() >= 0 and r:max() < 1)
end)

T.test("uniform with bounds and units", function()
  local a = cj.uniform(-70 * cj.mV, -50 * cj.mV, 10000)
  assert(cj.dimension(a) == "V")
  assert(a:min() >= -70 * cj.mV and a:max() < -50 * cj.mV)
  local q = cj.uniform(-70 * cj.mV, -50 * cj.mV)
  assert(cj.isquantity(q) and q >= -70 * cj.mV and q < -50 * cj.mV)
  local x = cj.uniform(2, 3)
  assert(type(x) == "number" and x >= 2 and x < 3)
  local b = cj.rng(1):uniform(10, 20, 2, 3)
  assert(shape(b) == "2x3" and b:min() >= 10 and b:max() < 20)
end)

T.test("normal and exponential with units", function()
  local v = cj.normal(-65 * cj.mV, 5 * cj.mV, 1000)
  assert(cj.dimension(v) == "V")
  local q = cj.normal(-65 * cj.mV)
  assert(cj.isquantity(q) and q.dim == "V")
  local isi = cj.exponential(10 * cj.ms, 1000)
  assert(cj.dimension(isi) == "s" and isi:min() >= 0 * cj.ms)
  assert(cj.isquantity(cj.exponential(cj.ms)))
end)

T.test("moments of the continuous distributions (n = 1e6)", function()
  local g = cj.rng(2024)
  moments(g:rand(1000000), 0.5, 1 / 12, 1 / 80, "rand")
  moments(g:uniform(-2, 6, 1000000), 2, 64 / 12, 8 ^ 4 / 80, "uniform(-2, 6)")
  moments(g:randn(1000000), 0, 1, 3, "randn")
  moments(g:normal(3, 2, 1000000), 3, 4, 48, "normal(3, 2)")
  moments(g:exponential(2, 1000000), 2, 4, 9 * 16, "exponential(2)")
end)

T.test("moments of the discrete distributions (n = 1e6, both algorithms)", function()
  local g = cj.rng(77)
  for _, l in ipairs({ 0.5, 4, 10, 250 }) do
    moments(g:poisson(l, 1000000), l, l, l + 3 * l * l, "poisson(" .. l .. ")")
  end
  for _, c in ipairs({ { 20, 0.2 }, { 1000, 0.4 }, { 60, 0.9 } }) do
    local n, p = c[1], c[2]
    local v = n * p * (1 - p)
    moments(g:binomial(n, p, 1000000), n * p, v, v * (1 + 3 * (n - 2) * p * (1 - p)),
      "binomial(" .. n .. ", " .. p .. ")")
  end
  local k = 6
  moments(g:integers(1, k, 1000000), 3.5, (k * k - 1) / 12, (k * k - 1) * (3 * k * k - 7) / 240,
    "integers(1, 6)")
end)

T.test("discrete scalars are integers", function()
  assert(math.type(cj.poisson(3)) == "integer")
  assert(math.type(cj.binomial(10, 0.5)) == "integer")
  local x = cj.integers(-3, 3)
  assert(math.type(x) == "integer" and x >= -3 and x <= 3)
  local seen = {}
  for _ = 1, 200 do seen[cj.integers(1, 3)] = true end
  assert(seen[1] and seen[2] and seen[3], "both ends are included")
  assert(cj.binomial(7, 1) == 7 and cj.binomial(7, 0) == 0 and cj.poisson(0) == 0)
end)

T.test("permutation, shuffle", function()
  local p = cj.permutation(100)
  assert(p.dtype == "int32" and #p == 100)
  local seen = {}
  for i = 1, 100 do seen[p[i]] = (seen[p[i]] or 0) + 1 end
  for i = 1, 100 do assert(seen[i] == 1, "1..n each once") end
  local a = cj.array({ 10, 20, 30, 40 }) * cj.mV
  local q = cj.permutation(a)
  assert(cj.dimension(q) == "V" and #q == 4 and q:sum() == a:sum())
  assert(a[1] == 10 * cj.mV, "the source is not touched")
  local s = cj.range(1, 50)
  local r = cj.shuffle(s)
  assert(rawequal(r, s))
  assert(s:sum() == 50 * 51 / 2)
  assert(#cj.permutation(0) == 0)
end)

T.test("permutations of 4 are uniform over all 24 (chi-square)", function()
  local g, count, N = cj.rng(4), {}, 48000
  for _ = 1, N do
    local p = g:permutation(4)
    local key = p[1] * 1000 + p[2] * 100 + p[3] * 10 + p[4]
    count[key] = (count[key] or 0) + 1
  end
  local chi2, cells = 0, 0
  for _, c in pairs(count) do
    chi2 = chi2 + (c - N / 24) ^ 2 / (N / 24)
    cells = cells + 1
  end
  assert(cells == 24)
  assert(chi2 < 66.4, "chi2 = " .. chi2 .. " (23 df, p ~ 1e-6 critical 66.4)")
end)

T.test("choice", function()
  local i = cj.choice(10)
  assert(math.type(i) == "integer" and i >= 1 and i <= 10)
  local k = cj.choice(10, 10, false)
  assert(k.dtype == "int32")
  local seen = {}
  for j = 1, 10 do seen[k[j]] = true end
  for j = 1, 10 do assert(seen[j]) end
  local w = cj.choice(3, 100, true, { 0, 0, 1 })
  assert(w:min() == 3 and w:max() == 3)
  local w2 = cj.choice(3, 2, false, cj.array({ 0, 5, 1 }))
  assert((w2[1] == 2 and w2[2] == 3) or (w2[1] == 3 and w2[2] == 2))
  local src = cj.array({ 1.5, 2.5, 3.5 }) * cj.ms
  local e = cj.choice(src)
  assert(cj.isquantity(e) and e.dim == "s")
  local es = cj.choice(src, 5)
  assert(cj.dimension(es) == "s" and #es == 5)
  local ints = cj.array({ 7, 8 }, "int32")
  assert(math.type(cj.choice(ints)) == "integer")
  assert(#cj.choice(5, 0) == 0)
  -- weighted frequencies over 1e5 draws, within 5 standard errors
  local n, d = 100000, cj.rng(8):choice(4, 100000, true, { 1, 2, 3, 4 })
  for j = 1, 4 do
    local c = (d:astype("float64") - j):abs():min() -- sanity: the array holds only 1..4
    assert(c == 0)
  end
  local counts = { 0, 0, 0, 0 }
  for j = 1, n do counts[d[j]] = counts[d[j]] + 1 end
  for j = 1, 4 do
    local p = j / 10
    assert(math.abs(counts[j] / n - p) < 5 * math.sqrt(p * (1 - p) / n), "weight " .. j)
  end
end)

T.test("state, setstate and clone", function()
  local g = cj.rng(11, 2)
  g:rand(3)
  g:randn()                                  -- leaves a cached second normal
  local s = g:state()
  assert(s.seed == 11 and s.stream == 2 and s.counter >= 1 and s.spare)
  local c = g:clone()
  local a = g:normal(0, 1, 7)
  local b = c:normal(0, 1, 7)
  assert(same(a, b), "a clone continues identically")
  g:setstate(s)
  assert(same(g:normal(0, 1, 7), a), "setstate rewinds")
  local h = cj.rng(0)
  h:setstate(s)
  assert(same(h:normal(0, 1, 7), a), "state moves between generators")
  assert(tostring(g):match("^rng%(seed=11, stream=2"))
  local d = cj.rng()
  assert(rawequal(d, cj.rng()) and tostring(d):match("%[default%]"))
  cj.seed(21)
  local ds = d:state()
  local x = cj.rand(4)
  d:setstate(ds)
  assert(same(cj.rand(4), x), "the default generator restores too")
end)

T.test("cj.seed without argument returns a fresh seed that reproduces", function()
  local s = cj.seed()
  assert(math.type(s) == "integer")
  local a = cj.rand(5)
  assert(cj.seed(s) == s)
  assert(same(cj.rand(5), a))
end)

T.test("misuse raises errors naming the argument", function()
  local g = cj.rng(1)
  T.checkerror("needs finite lo < hi", cj.uniform, 1, 0)
  T.checkerror("hi expected after lo", cj.uniform, 1.5)
  T.checkerror("cannot draw uniformly between V and s", cj.uniform, cj.mV, cj.ms)
  T.checkerror("number or quantity expected", cj.uniform, "a", 2)
  T.checkerror("standard deviation must be finite and >= 0", cj.normal, 0, -1)
  T.checkerror("mean must be finite", cj.normal, 0 / 0, 1)
  T.checkerror("cannot draw a normal with mean and deviation in V and s", cj.normal, cj.mV, cj.ms)
  T.checkerror("scale must be finite and >= 0", cj.exponential, -1)
  T.checkerror("lambda must be in [0, 1e15]", cj.poisson, -1)
  T.checkerror("number expected", cj.poisson, "x")
  T.checkerror("n must be >= 0", cj.binomial, -1, 0.5)
  T.checkerror("n must be an integer", cj.binomial, 2.5, 0.5)
  T.checkerror("p must be in [0, 1]", cj.binomial, 3, 2)
  T.checkerror("needs lo <= hi", cj.integers, 5, 1)
  T.checkerror("n must be >= 0", cj.permutation, -1)
  T.checkerror("needs a 1-D array", cj.permutation, cj.zeros(2, 2))
  T.checkerror("needs a 1-D array", cj.shuffle, cj.zeros(2, 2))
  T.checkerror("array expected", cj.shuffle, 5)
  T.checkerror("more draws than candidates without replacement", cj.choice, 3, 4, false)
  T.checkerror("weights must be a 1-D array with one weight per candidate", cj.choice, 3, 2, true, { 1, 2 })
  T.checkerror("weights must have a positive, finite sum", cj.choice, 3, 2, true, { 0, 0, 0 })
  T.checkerror("weight 2 is -1", cj.choice, 3, 2, true, { 1, -1, 1 })
  T.checkerror("nonzero weights", cj.choice, 3, 2, false, { 0, 0, 1 })
  T.checkerror("cannot choose from nothing", cj.choice, 0)
  T.checkerror("boolean expected", cj.choice, 3, 2, "no")
  T.checkerror("k must be >= 0", cj.choice, 3, -2)
  T.checkerror("shape: sizes must be non-negative integers", cj.rand, -1)
  T.checkerror("shape: sizes must be non-negative integers", cj.rand, "x")
  T.checkerror("shape: sizes must be non-negative integers", cj.rand, { 2, 0.5 })
  T.checkerror("nothing expected after a shape table", cj.rand, { 2 }, 3)
  T.checkerror("too many dimensions", cj.rand, 1, 1, 1, 1, 1, 1, 1, 1, 1)
  T.checkerror("seed must be an integer", cj.rng, "x")
  T.checkerror("stream must be >= 0", cj.rng, 1, -1)
  T.checkerror("seed must be an integer", cj.seed, 1.5)
  T.checkerror("table expected", g.setstate, g, 5)
  T.checkerror("state field 'seed' must be an integer", g.setstate, g, {})
  T.checkerror("state field 'used' must be 0..4", g.setstate, g, { seed = 1, used = 7 })
  T.checkerror("partly used block needs counter >= 1", g.setstate, g, { seed = 1, used = 2 })
  T.checkerror("state field 'spare' must be a number", g.setstate, g, { seed = 1, spare = "x" })
  T.checkerror("cajal.rng expected", g.rand, 5)
  -- unit, weight and size errors name the function and the argument too
  local function e(pattern, f) T.checkerror(pattern, f) end
  e("bad argument #2 to 'uniform' (cannot draw uniformly between V and s)",
    function() return cj.uniform(cj.mV, cj.ms) end)
  e("bad argument #2 to 'uniform' (cannot draw uniformly between V and s)",
    function() return g:uniform(cj.mV, cj.ms, 3) end)
  e("bad argument #2 to 'normal' (cannot draw a normal with mean and deviation in V and s)",
    function() return cj.normal(cj.mV, cj.ms) end)
  e("bad argument #4 to 'choice' (weight 2 is -1 (weights must be finite and >= 0))",
    function() return cj.choice(3, 2, true, { 1, -1, 1 }) end)
  e("bad argument #4 to 'choice' (weights must have a positive, finite sum)",
    function() return cj.choice(3, 2, true, { 0, 0, 0 }) end)
  e("permutation: array too large", function() return cj.permutation(1e18) end)
end)

T.test("help texts are registered", function()
  for _, name in ipairs({ "seed", "rng", "rand", "randn", "uniform", "normal", "exponential",
                          "poisson", "binomial", "integers", "permutation", "shuffle", "choice" }) do
    local h = core.doc(cj[name])
    assert(type(h) == "string" and h:match("^cj%." .. name .. "%("), name .. ": " .. tostring(h))
  end
  local g = cj.rng(1)
  for _, name in ipairs({ "uniform", "normal", "poisson", "choice", "state", "setstate", "clone" }) do
    local h = core.doc(g[name])
    assert(type(h) == "string" and h:match("^rng:" .. name .. "%("), name .. ": " .. tostring(h))
  end
end)

T.done()
