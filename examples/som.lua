-- examples/som.lua — a Kohonen self-organising map (cj.learn.som) of 12 x 12
-- units learns the unit square: the grid unfolds and covers the square
-- with neighbouring units at neighbouring places. Prints the quantisation
-- and topographic errors as the rate and the neighbourhood shrink, and
-- draws the map in input space (each unit at its weights, grid neighbours
-- joined) over the samples, in som.png.
--
--   cajal examples/som.lua [epochs]    (CAJAL_EXAMPLE_SMALL=1: a smaller run)
local cj = require "cajal"

local small = os.getenv("CAJAL_EXAMPLE_SMALL") ~= nil
local epochs = math.tointeger(tonumber(arg and arg[1])) or (small and 3 or 10)
local n, side = small and 2000 or 10000, 12

local g = cj.rng(7)
local X = g:rand(n, 2)

-- start untrained (random samples), then one run with the default schedules:
-- eta 0.5 -> 0.01 and sigma side/2 -> 0.5 (exponential) over all presentations
local map = cj.learn.som(X, { side, side }, { epochs = 1, eta = 1e-9, sigma = 0.5, seed = 1 })
print(string.format("%s, %d samples from the unit square", tostring(map), n))
print(string.format("before:  quantisation error %.4f, topographic error %.4f",
  map:quantization_error(X), map:topographic_error(X)))
map:train(X, { epochs = epochs, shuffle = true, seed = 2 })
local qe, te = map:quantization_error(X), map:topographic_error(X)
print(string.format("after %d epochs: quantisation error %.4f, topographic error %.4f", epochs, qe, te))
-- a regular grid of side^2 cells: mean distance to the cell centre 0.3826 / side
print(string.format("(a regular %dx%d grid would have quantisation error %.4f)", side, side, 0.3826 / side))

-- the map as polylines: the rows of the grid, then its columns, NaN between lines
local W = map.weights                          -- side x side x 2
local xs, ys = {}, {}
local function point(r, c) xs[#xs + 1] = W[r][c][1]; ys[#ys + 1] = W[r][c][2] end
local function gap() xs[#xs + 1] = 0 / 0; ys[#ys + 1] = 0 / 0 end
for r = 1, side do for c = 1, side do point(r, c) end gap() end
for c = 1, side do for r = 1, side do point(r, c) end gap() end
local ok, err = pcall(function()
  cj.plot.lines(cj.array(xs), cj.array(ys), {
    out = "som.png", xlabel = "x_1", ylabel = "x_2", xrange = { -0.05, 1.05 }, yrange = { -0.05, 1.05 },
    title = string.format("SOM %dx%d on the unit square (topographic error %.3f)", side, side, te),
    size = { 700, 700 }, linewidth = 1.5 })
end)
print(ok and "the map: som.png" or ("no plot: " .. tostring(err)))
