-- examples/capsules.lua — parts routed to the whole they agree on
-- (routing by agreement, Sabour, Frosst & Hinton 2017).
--
-- Two objects, a house (roof, wall, door) and a boat (hull, sail, mast),
-- live in the plane. A pose is a similarity transform (scale, rotation,
-- translation) written as the 6 numbers of its 2 x 3 matrix; a part sits
-- in its object at a fixed relative pose R, so from the pose of a part
-- each object's pose can be predicted: M_object = M_part R^-1, a linear map
-- of the part's 6 numbers (the capsule weights W[part][object]). A part
-- that does not belong to an object predicts nonsense for it (a random R).
--
-- In each scene the three parts of one object are seen at poses consistent
-- with one placement of it, plus one part of the other object placed at
-- random (clutter). Routing sends each part to the object its prediction
-- agrees with: the coupling coefficients c (parts x objects) are printed
-- and drawn. The length of an object capsule grows with the number of
-- parts that agree on it: the clutter part alone also lights up its own
-- object, less than three agreeing parts do (the weights here are the
-- true part-object relations, not learned ones, and no capsule tells a
-- part's presence apart from its pose).
--
--   cajal examples/capsules.lua [seed]   -> tables, and c in capsules.png
local cj = require "cajal"

local seed = math.tointeger(tonumber(arg and arg[1])) or 1
local rng = cj.rng(seed)
local PARTS = { "roof", "wall", "door", "hull", "sail", "mast" }
local OBJECTS = { "house", "boat" }
local OWNER = { 1, 1, 1, 2, 2, 2 }               -- the object of each part
local ITERATIONS = 5                             -- of routing (the paper uses 3; more sharpen c)

-- 3 x 3 homogeneous matrix of a similarity transform, as a Lua table
local function pose(s, theta, x, y)
  local a, b = s * math.cos(theta), s * math.sin(theta)
  return { { a, -b, x }, { b, a, y }, { 0, 0, 1 } }
end

local function mul(A, B)
  local C = {}
  for i = 1, 3 do
    C[i] = {}
    for j = 1, 3 do C[i][j] = A[i][1] * B[1][j] + A[i][2] * B[2][j] + A[i][3] * B[3][j] end
  end
  return C
end

local function inverse(P)                        -- of a similarity transform
  local a, b, x, y = P[1][1], P[2][1], P[1][3], P[2][3]
  local q = a * a + b * b
  local ia, ib = a / q, -b / q
  return { { ia, -ib, -(ia * x - ib * y) }, { ib, ia, -(ib * x + ia * y) }, { 0, 0, 1 } }
end

local function random_pose()
  return pose(rng:uniform(0.8, 1.2), rng:uniform(-math.pi, math.pi), rng:uniform(-1, 1), rng:uniform(-1, 1))
end

-- relative pose of part i in object j: fixed for the owner, random otherwise
local REL = {}
for i = 1, #PARTS do
  REL[i] = {}
  for j = 1, #OBJECTS do
    REL[i][j] = OWNER[i] == j and pose(0.5, (i - 1) * 0.7, 0.3 * math.cos(i), 0.3 * math.sin(i)) or random_pose()
  end
end

-- W[i][j] maps the 6 numbers of a part's pose to those of object j's pose:
-- each row r of the 2 x 3 pose is multiplied by Rinv, so W is block
-- diagonal with two copies of Rinv^T.
local W = cj.zeros(#PARTS, #OBJECTS, 6, 6)
for i = 1, #PARTS do
  for j = 1, #OBJECTS do
    local Ri = inverse(REL[i][j])
    for blk = 0, 1 do
      for p = 1, 3 do
        for q = 1, 3 do W[{ i, j, blk * 3 + p, blk * 3 + q }] = Ri[q][p] end
      end
    end
  end
end

local function flat(P) return { P[1][1], P[1][2], P[1][3], P[2][1], P[2][2], P[2][3] } end

-- a scene: object k placed at random with its three parts, plus one part of
-- the other object at a random pose; u (parts x 6), zero for unseen parts
local function scene(k)
  local u = cj.zeros(#PARTS, 6)
  local M = random_pose()
  local clutter
  for i = 1, #PARTS do
    if OWNER[i] == k then u[i] = cj.array(flat(mul(M, REL[i][k]))) end
  end
  repeat clutter = rng:integers(1, #PARTS) until OWNER[clutter] ~= k
  u[clutter] = cj.array(flat(random_pose()))
  return u, clutter
end

local couplings, results = {}, {}
for k = 1, #OBJECTS do
  local u, clutter = scene(k)
  local uhat = cj.capsule.predict(u, W)          -- parts x objects x 6
  local v, c = cj.capsule.route(uhat, ITERATIONS)
  local len = cj.sqrt((v * v):sum(2))
  print(string.format("\nscene %d: a %s, and a %s out of place", k, OBJECTS[k], PARTS[clutter]))
  print(string.format("%-6s %8s %8s", "part", "house", "boat"))
  for i = 1, #PARTS do
    local seen = u[i]:abs():sum() > 0
    print(string.format("%-6s %8.3f %8.3f%s", PARTS[i], c[{ i, 1 }], c[{ i, 2 }], seen and "" or "   (not seen)"))
  end
  print(string.format("length of the object capsules: house %.3f, boat %.3f", len[1], len[2]))
  local parts_ok, sum = true, 0
  for i = 1, #PARTS do
    if OWNER[i] == k then
      parts_ok = parts_ok and c[{ i, k }] > 0.5
      sum = sum + c[{ i, k }] / 3
    end
  end
  local winner = len[1] > len[2] and 1 or 2
  print(string.format("the parts of the %s couple mostly to it: %s (mean coupling %.3f); the longer capsule: %s (%s)",
    OBJECTS[k], parts_ok and "yes" or "no", sum, OBJECTS[winner], winner == k and "right" or "wrong"))
  couplings[k] = c
  results[k] = parts_ok and winner == k
end
print(string.format("\nboth scenes parsed: %s", (results[1] and results[2]) and "yes" or "no"))

local ok, err = pcall(cj.plot.images, couplings, {
  out = "capsules.png", titles = { "scene 1: house", "scene 2: boat" }, cols = 2, colorbar = true,
  title = "coupling c: parts (rows: roof wall door hull sail mast) x objects (house, boat)" })
print(ok and "couplings drawn: capsules.png" or ("no plot: " .. tostring(err)))
