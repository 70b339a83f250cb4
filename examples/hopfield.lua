-- examples/hopfield.lua — associative memory: four 16x16 pictures are stored
-- in a Hopfield network (Hebbian rule) and recalled from cues with 25 % of
-- their pixels flipped. Then `extra` random patterns are stored beside
-- them: past about 0.138 N patterns the Hebbian network's recall collapses,
-- while a dense associative memory (Krotov & Hopfield 2016, F(x) = x^3)
-- still recalls every picture.
--
--   cajal examples/hopfield.lua [extra]    (default 40; N = 256)
--   -> the pictures in the terminal, and hopfield.png: stored, cue, Hebbian
--      recall and dense recall, one row per picture
local cj = require "cajal"
local B = cj.boltzmann

local extra = math.tointeger(tonumber(arg and arg[1])) or 40
local N = 256

local art = {
  { "................", "....########....", "..############..", ".####......####.",
    ".###..##..##.###", "####..##..##.###", "####..........##", "####..........##",
    "####.#......#.##", "####..#....#..##", ".###...####..###", ".####........##.",
    "..############..", "....########....", "................", "................" },
  { "################", "################", "##............##", "##............##",
    "##..########..##", "##..########..##", "##..##....##..##", "##..##....##..##",
    "##..##....##..##", "##..##....##..##", "##..########..##", "##..########..##",
    "##............##", "##............##", "################", "################" },
  { "##............##", "###..........###", ".###........###.", "..###......###..",
    "...###....###...", "....###..###....", ".....######.....", "......####......",
    "......####......", ".....######.....", "....###..###....", "...###....###...",
    "..###......###..", ".###........###.", "###..........###", "##............##" },
  { "................", "################", "################", "......####......",
    "......####......", "......####......", "......####......", "......####......",
    "......####......", "......####......", "......####......", "......####......",
    "......####......", "......####......", "......####......", "................" },
}

local rows = {}
for k, pic in ipairs(art) do
  local v = {}
  for _, line in ipairs(pic) do
    for c in line:gmatch(".") do v[#v + 1] = c == "#" and 1 or -1 end
  end
  assert(#v == N)
  rows[k] = v
end
local X = cj.array(rows)
local P = X.shape[1]

-- cues: 25 % of the pixels flipped
local g = cj.rng(1)
local cue = X * (1 - 2 * g:rand(P, N):lt(0.25):astype("float64"))

local function show(list, titles)
  print(table.concat(titles, "  "))
  for r = 0, 15 do
    local line = {}
    for _, v in ipairs(list) do
      local t = {}
      for c = 1, 16 do t[c] = v[r * 16 + c] > 0 and "#" or "." end
      line[#line + 1] = table.concat(t)
    end
    print(table.concat(line, "  "))
  end
end

local function recall(net, what)
  local S, conv, sweeps = net:recall(cue, { seed = 2 })
  local ov, ok = net:overlap(S), 0
  for k = 1, P do if ov[k][k] > 0.99 then ok = ok + 1 end end
  print(string.format("%-48s recalled %d of %d pictures (overlaps %s)", what, ok, P,
    table.concat((function()
      local t = {}
      for k = 1, P do t[k] = string.format("%.2f", ov[k][k]) end
      return t
    end)(), " ")))
  return S
end

local hebb = B.hopfield(N, { seed = 1 })
hebb:store(X)
local S1 = recall(hebb, string.format("Hebbian, %d pictures (%.3f N):", P, P / N))
show({ X[1], cue[1], S1[1] }, { "stored          ", "cue (25 % noise)", "recalled        " })

local R = g:rand(extra, N):lt(0.5):astype("float64") * 2 - 1
hebb:store(R)
local S2 = recall(hebb, string.format("Hebbian, %d pictures + %d random (%.3f N):", P, extra, (P + extra) / N))
local dense = B.hopfield(N, { rule = "dense", n = 3, seed = 1 })
dense:store(X)
dense:store(R)
local S3 = recall(dense, string.format("dense (F = x^3), %d pictures + %d random:", P, extra))
show({ cue[2], S2[2], S3[2] }, { "cue             ", "Hebbian         ", "dense           " })

local imgs, titles = {}, {}
for k = 1, P do
  for _, m in ipairs({ { X, "stored" }, { cue, "cue" }, { S2, "Hebbian" }, { S3, "dense x^3" } }) do
    imgs[#imgs + 1] = -m[1][k]:reshape(16, 16)       -- "#" (+1) drawn dark
    titles[#titles + 1] = m[2]
  end
end
local ok, err = pcall(cj.plot.images, imgs, { out = "hopfield.png", cols = 4, titles = titles,
  palette = "gray", size = { 800, 850 },
  title = string.format("%d pictures + %d random patterns in N = %d units", P, extra, N) })
print(ok and "pictures: hopfield.png" or ("no plot: " .. tostring(err)))
