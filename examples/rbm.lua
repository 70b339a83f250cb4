-- examples/rbm.lua — a restricted Boltzmann machine (64 visible, 100 hidden
-- units) learns the 1797 8x8 handwritten digits that Debian's
-- python3-sklearn ships (sklearn/datasets/data/digits.csv.gz), with the
-- settings of sklearn's "RBM features for digit classification" example:
-- grey levels scaled to [0, 1] and used as probabilities, learning rate
-- 0.06, batches of 10. Prints the pseudo-likelihood (of the binarised
-- digits) and the reconstruction error per epoch, then draws the learned
-- filters and samples of the model.
--
--   cajal examples/rbm.lua [epochs]    (default 20)
--   -> rbm_filters.png (the 100 weight vectors as 8x8 images) and
--      rbm_samples.png (block Gibbs samples, 1000 steps from random images)
-- The data file is found through $CAJAL_DIGITS, else dpkg's file list of
-- python3-sklearn, else Debian's python3; without it the script says SKIP.
local cj = require "cajal"
local B = cj.boltzmann

local epochs = math.tointeger(tonumber(arg and arg[1])) or 20

local function readable(p)
  local f = p and io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local function firstline(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local line = p and p:read("l")
  if p then p:close() end
  return line
end

local function locate()
  local env = os.getenv("CAJAL_DIGITS")
  if env and env ~= "" then return env end
  local p = firstline("dpkg -L python3-sklearn | grep '/datasets/data/digits.csv.gz$'")
  if readable(p) then return p end
  p = firstline("/usr/bin/python3 -c 'import os, sklearn.datasets as d; " ..
    "print(os.path.join(os.path.dirname(d.__file__), \"data\", \"digits.csv.gz\"))'")
  if readable(p) then return p end
  return nil
end

local path = locate()
if not readable(path) then
  print("SKIP: the 8x8 digits of python3-sklearn were not found " ..
    "(install python3-sklearn, or set CAJAL_DIGITS to digits.csv.gz)")
  return
end

local rows, labels = {}, {}
local gz = io.popen("gzip -dc '" .. path:gsub("'", "'\\''") .. "'")
for line in gz:lines() do
  local v = {}
  for x in line:gmatch("[^,]+") do v[#v + 1] = tonumber(x) end
  if #v == 65 then
    labels[#labels + 1] = table.remove(v)
    rows[#rows + 1] = v
  end
end
gz:close()
if #rows == 0 then error("no digits read from " .. path) end
local X = cj.array(rows) / 16                 -- grey levels as probabilities
local Xb = X:gt(0.5):astype("float64")        -- binarised, for the pseudo-likelihood
print(string.format("%d digits of 8x8 pixels from %s", X.shape[1], path))

local rbm = B.rbm(64, 100, { seed = 1 })
for e = 1, epochs do
  rbm:train(X, { epochs = 1, lr = 0.06, batch = 10, fractional = true })
  print(string.format("epoch %2d: pseudo-likelihood %8.3f per digit, reconstruction error %.3f", e,
    rbm:pseudo_loglik(Xb):mean(), rbm:reconstruction_error(X, { fractional = true })))
end

local filters = {}
for j = 1, rbm.n_hidden do filters[j] = rbm.W[{ {}, j }]:contiguous():reshape(8, 8) end
local ok, err = pcall(cj.plot.images, filters, { out = "rbm_filters.png", cols = 10, palette = "diverging",
  shared = false, size = { 900, 900 }, title = "RBM filters: the weights of each hidden unit" })
print(ok and "filters: rbm_filters.png" or ("no plot: " .. tostring(err)))

local S = rbm:sample(20, { steps = 1000, mean = true, seed = 2 })
local samples = {}
for q = 1, 20 do samples[q] = S[q]:reshape(8, 8) end
ok, err = pcall(cj.plot.images, samples, { out = "rbm_samples.png", cols = 5, palette = "gray",
  size = { 700, 600 }, title = "samples: 1000 block Gibbs steps from random images" })
print(ok and "samples: rbm_samples.png" or ("no plot: " .. tostring(err)))
