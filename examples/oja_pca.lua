-- examples/oja_pca.lua — Oja's rule finds the first principal component,
-- in both of cajal's forms: cj.learn.oja on an array of samples, and a
-- network of rate units with oja synapses (examples/oja_layer.cajal), one
-- sample per step of 1 ms. The learned weight vectors are printed beside the
-- principal eigenvector of the sample covariance computed by numpy
-- (/usr/bin/python3, or $PYTHON), and by cj.learn.pca when numpy is absent.
--
--   cajal examples/oja_pca.lua [samples]    (CAJAL_EXAMPLE_SMALL=1: 4000)
local cj = require "cajal"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local n = math.tointeger(tonumber(arg and arg[1])) or (os.getenv("CAJAL_EXAMPLE_SMALL") and 4000 or 20000)
local d = 8

-- samples: independent Gaussians of decreasing spread, rotated at random
local g = cj.rng(2024)
local R = cj.learn.pca(g:normal(0, 1, 64, d))            -- orthonormal rows
local X = cj.matmul(g:normal(0, 1, n, d) * cj.array{ 3, 2, 1.5, 1, 0.7, 0.5, 0.3, 0.2 }, R)

-- 1. on arrays: one pass, a rate falling from 0.01 to 0.0005
local t0 = cj.clock()
local w = cj.learn.oja(X, { eta = { 0.01, 0.0005 }, seed = 1 })
local t_arrays = cj.clock() - t0

-- 2. in the language: tau_w = 4 s, 1 ms per sample (eta = 0.00025 per sample)
t0 = cj.clock()
local net = cj.load(here .. "/oja_layer.cajal", { arrays = { data = X }, params = { n_inputs = d } })
net:run(n * 1e-3 * cj.second)
local wnet = net.P.w:copy()
local t_net = cj.clock() - t0
-- the same rule on arrays with the network's rate and start: the same weights
local w_same = cj.learn.oja(X, { eta = 0.00025, w0 = cj.full(d, 0.3) })
local dmax = cj.max(cj.abs(wnet - w_same))

-- 3. the reference: numpy's eigenvector of the covariance
local ref, refname
local python = os.getenv("PYTHON") or "/usr/bin/python3"
local npy = os.tmpname() .. ".npy"
cj.io.save_npy(npy, X)
local p = io.popen(string.format("%s -c 'import numpy as np, sys; X = np.load(sys.argv[1]); " ..
  "l, V = np.linalg.eigh(np.cov(X.T)); print(\" \".join(repr(float(v)) for v in V[:, -1]))' %s 2>/dev/null",
  python, npy))
local line = p and p:read("l")
if p then p:close() end
os.remove(npy)
if line and line:match("%d") then
  local t = {}
  for v in line:gmatch("%S+") do t[#t + 1] = tonumber(v) end
  ref, refname = cj.array(t), "numpy"
else
  print("(no numpy: " .. python .. " with numpy is missing; the reference is cj.learn.pca)")
  ref, refname = cj.learn.pca(X, 1)[1], "cj.learn.pca"
end

-- the sign of an eigenvector is arbitrary: align everything with ref
local function aligned(v) return cj.dot(v, ref) < 0 and -v or v end
w, wnet = aligned(w), aligned(wnet)
local function cos(a) return cj.dot(a, ref) / math.sqrt(cj.dot(a, a) * cj.dot(ref, ref)) end

print(string.format("%d samples of %d inputs\n", n, d))
print(string.format("%5s %14s %14s %14s", "input", "cj.learn.oja", "network", refname))
for k = 1, d do
  print(string.format("%5d %14.6f %14.6f %14.6f", k, w[k], wnet[k], ref[k]))
end
print(string.format("\n|cos| cj.learn.oja vs eigenvector: %.6f   |w| = %.4f   (%.3f s)",
  math.abs(cos(w)), math.sqrt(cj.dot(w, w)), t_arrays))
print(string.format("|cos| network vs eigenvector:      %.6f   |w| = %.4f   (%.3f s, %g s simulated)",
  math.abs(cos(wnet)), math.sqrt(cj.dot(wnet, wnet)), t_net, n * 1e-3))
print(string.format("network vs cj.learn.oja with eta = 0.00025 from w = 0.3: max |difference| %.3g", dmax))
