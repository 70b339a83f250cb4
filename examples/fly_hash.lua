-- examples/fly_hash.lua — similarity search with the fly's olfactory
-- circuit (Dasgupta, Stevens & Navlakha 2017, Science 358:793). Each odour
-- (a vector of d receptor rates) is centred on its own mean, expanded by a
-- sparse binary projection into m = 20 k Kenyon cells (each sums 6 random
-- inputs) and reduced by winner-take-all to its k most active cells: the
-- hash. Odours whose hashes overlap most should be the odours nearest in
-- rate space. For hash lengths k = 8, 16, 32 this compares the overlap of
-- the 10 nearest neighbours under the hash with the true ones, against
-- locality-sensitive hashing by a dense Gaussian projection to k values.
-- The fly's advantage is largest for short hashes and for odour-like data
-- (non-negative, skewed rates); on other data, points on a smooth
-- low-dimensional manifold say, the dense projection can do better.
--
--   cajal examples/fly_hash.lua    (CAJAL_EXAMPLE_SMALL=1: fewer odours)
local cj = require "cajal"
local L = cj.learn

local small = os.getenv("CAJAL_EXAMPLE_SMALL") ~= nil
local n, d, r = small and 1000 or 2000, 50, 10

-- odours: n / 10 receptor profiles (exponential rates), each met 10 times
-- at concentrations 0.5 .. 1.5 with receptor noise
local g = cj.rng(1)
local np = n // 10
local profiles = g:exponential(1, np, d)
local X = cj.zeros(n, d)
for i = 1, n do X[i] = profiles[(i - 1) % np + 1] * g:uniform(0.5, 1.5) + g:normal(0, 0.3, d) end

local truth = L.knn(X, r, { seed = 1 })
local function overlap(A)
  local s, a, b = 0, truth:totable(), A:totable()
  for i = 1, #a do
    local set = {}
    for _, v in ipairs(a[i]) do set[v] = true end
    for _, v in ipairs(b[i]) do if set[v] then s = s + 1 end end
  end
  return s / (#a * r)
end

print(string.format("%d odours of %d receptors; overlap of the %d nearest neighbours with the true ones", n, d, r))
print(string.format("%6s %10s %18s", "k", "fly hash", "dense projection"))
for _, k in ipairs({ 8, 16, 32 }) do
  local fly, dense, trials = 0, 0, 3
  for t = 1, trials do
    local P = L.random_projection(d, 20 * k, { kind = "binary", fanin = 6, seed = 10 * k + t })
    local H = L.fly_hash(X, P, k, { seed = t })
    fly = fly + overlap(L.knn(H:astype("float64"), r, { seed = t })) / trials
    local G = L.random_projection(d, k, { kind = "gaussian", seed = 10 * k + t })
    dense = dense + overlap(L.knn(cj.matmul(X, G:transpose()), r, { seed = t })) / trials
  end
  print(string.format("%6d %10.3f %18.3f", k, fly, dense))
  if k == 16 then print(string.format("   (k = 16: fly hash %.3f, dense projection %.3f)", fly, dense)) end
end
