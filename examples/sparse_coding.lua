-- examples/sparse_coding.lua — sparse coding of image patches after
-- Olshausen & Field (1996): whiten an image with their 1/f filter
-- (cj.learn.whiten_image), cut 8 x 8 patches, learn a dictionary of
-- unit-norm atoms whose sparse combinations (L1 penalty, FISTA) rebuild the
-- patches, and draw the atoms as an image grid (sparse_coding.png). The
-- image is a synthetic dead-leaves image (cj.learn.dead_leaves: occluding
-- discs, an amplitude spectrum close to 1/f like natural images), or any
-- grey image saved as .npy (a 2-D float array) given on the command line.
-- The atoms come out localised and edge-like, oriented at many angles.
--
--   cajal examples/sparse_coding.lua [image.npy]   (CAJAL_EXAMPLE_SMALL=1: smaller)
local cj = require "cajal"
local L = cj.learn

local small = os.getenv("CAJAL_EXAMPLE_SMALL") ~= nil
local img
if arg and arg[1] then
  img = cj.io.load_npy(arg[1]):astype("float64")
  print(string.format("image %s: %dx%d", arg[1], img.shape[1], img.shape[2]))
else
  img = L.dead_leaves(small and 128 or 512, small and 128 or 512, { seed = 1, rmin = 2 })
  print(string.format("a dead-leaves image, %dx%d", img.shape[1], img.shape[2]))
end

local size, atoms = 8, small and 32 or 64
local white = L.whiten_image(img, { f0 = 0.4 })          -- mean 0, variance 1
local X = L.patches(white, size, { count = small and 3000 or 20000, seed = 2, center = true })
X = X / X:std()
print(string.format("%d patches of %dx%d, whitened, each centred", X.shape[1], size, size))

local lambda = 0.8
local t0 = cj.clock()
local D, info = L.dictionary(X, atoms, { lambda = lambda, epochs = small and 2 or 5, seed = 3 })
print(string.format("learned %d atoms in %.2f s", atoms, cj.clock() - t0))

-- codes of all the patches with the learned atoms
local A, ci = L.sparse_code(X, D, { lambda = lambda })
local active = (A:ne(0)):sum() / X.shape[1]
local resid = X - cj.matmul(A, D:transpose())
print(string.format("objective %.4f per patch (FISTA, %d iterations); %.1f of %d atoms active per patch;",
  ci.objective, ci.iterations, active, atoms))
print(string.format("the codes keep %.1f %% of the patches' variance", 100 * (1 - (resid * resid):mean() / (X * X):mean())))

-- the atoms as one mosaic: 8 per row, each scaled to its own largest
-- magnitude (grey 0: zero), one pixel of zero between them
local cols = 8
local rows = math.ceil(atoms / cols)
local M = cj.zeros(rows * (size + 1) - 1, cols * (size + 1) - 1)
for k = 1, atoms do
  local atom = D[{ {}, k }]:copy():reshape(size, size)
  atom = atom / cj.abs(atom):max()
  local r0, c0 = ((k - 1) // cols) * (size + 1), ((k - 1) % cols) * (size + 1)
  M[{ { r0 + 1, r0 + size }, { c0 + 1, c0 + size } }] = atom
end
local ok, err = pcall(cj.plot.image, M, { out = "sparse_coding.png", palette = "gray", cbrange = { -1, 1 },
  size = { 700, 100 + 80 * rows }, title = string.format("%d atoms of %dx%d patches (lambda %g)", atoms, size, size, lambda) })
print(ok and "atoms: sparse_coding.png" or ("no plot: " .. tostring(err)))
