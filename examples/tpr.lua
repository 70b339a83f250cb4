-- examples/tpr.lua — tensor product representations (Smolensky 1990).
--
-- "Mary loves John" is the sum of filler (x) role products: the vector of
-- each word bound to its role (agent, verb, patient) by an outer product.
-- Unbinding with the dual of a role gives its filler back exactly when the
-- roles are linearly independent; with the role itself, exactly only when
-- the roles are orthonormal, and for random roles with an error that
-- shrinks as the role dimension grows: for n random roles with N(0, 1/d)
-- elements the unbound filler is (r_k . r_k) f_k + sum_j (r_j . r_k) f_j,
-- an error of about sqrt((n + 1) / d) relative to the filler (variance 2/d
-- from |r_k|^2 - 1, (n - 1)/d from the other roles). Flattened, the TPRs of
-- "Mary loves John" and "John loves Mary" share only the verb in its role.
--
--   cajal examples/tpr.lua [seed]
local cj = require "cajal"

local seed = math.tointeger(tonumber(arg and arg[1])) or 1
local rng = cj.rng(seed)
local DF = 64                                       -- word vector dimension
local WORDS = { "mary", "john", "loves", "sees", "bill" }
local words = rng:normal(0, 1 / math.sqrt(DF), #WORDS, DF)
local index = {}
for k, w in ipairs(WORDS) do index[w] = k end

local function sentence(list)
  local t = {}
  for k, w in ipairs(list) do t[k] = words[index[w]]:totable() end
  return cj.array(t)
end

local function nearest(f)
  local best, bs = nil, -math.huge
  for k = 1, #WORDS do
    local w = words[k]
    local s = (w * f):sum() / math.sqrt((w * w):sum() * (f * f):sum())
    if s > bs then best, bs = WORDS[k], s end
  end
  return best, bs
end

local function maxerr(a, b) return (a - b):abs():max() end

-- 1. orthonormal roles: the unit vectors of agent, verb, patient
local roles = cj.array({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } })
local F = sentence({ "mary", "loves", "john" })
local T = cj.tpr.bind(roles, F)                      -- 64 x 3
print(string.format("\"mary loves john\": a %d x %d tensor", T.shape[1], T.shape[2]))
local back = cj.tpr.unbind(T, roles, { dual = false })
local got = {}
for k = 1, 3 do got[k] = nearest(back[k]) end
print(string.format("orthonormal roles, unbound with the roles: %s %s %s (largest error %.1e)",
  got[1], got[2], got[3], maxerr(back, F)))

-- 2. random, linearly independent roles: the duals recover the fillers exactly
local rroles = rng:normal(0, 1, 3, 5)
T = cj.tpr.bind(rroles, F)
back = cj.tpr.unbind(T, rroles)                      -- duals by default
print(string.format("random roles (3 of dimension 5), unbound with their duals: largest error %.1e",
  maxerr(back, F)))
local selfback = cj.tpr.unbind(T, rroles, { dual = false })
print(string.format("the same roles used as their own duals: largest error %.2f (not exact)",
  maxerr(selfback, F)))

-- 3. random roles as their own duals: the error against the dimension
print("\n8 random roles of dimension d (elements N(0, 1/d)), unbound with themselves:")
print(string.format("%8s %14s %14s", "d", "rel. error", "sqrt(9/d)"))
local n, fill = 8, rng:normal(0, 1, 8, DF)
for _, d in ipairs({ 16, 64, 256, 1024, 4096 }) do
  local R = rng:normal(0, 1 / math.sqrt(d), n, d)
  local G = cj.tpr.unbind(cj.tpr.bind(R, fill), R, { dual = false })
  local e = math.sqrt(((G - fill) ^ 2):sum() / (fill ^ 2):sum())
  print(string.format("%8d %14.4f %14.4f", d, e, math.sqrt((n + 1) / d)))
end

-- 4. flattened TPRs as vectors
local a = cj.tpr.flatten(cj.tpr.bind(roles, sentence({ "mary", "loves", "john" })))
local b = cj.tpr.flatten(cj.tpr.bind(roles, sentence({ "john", "loves", "mary" })))
local c = cj.tpr.flatten(cj.tpr.bind(roles, sentence({ "mary", "loves", "john" })))
local function cos(x, y) return (x * y):sum() / math.sqrt((x * x):sum() * (y * y):sum()) end
print(string.format("\ncosine of the flattened TPRs: mary loves john / john loves mary %.3f, with itself %.3f",
  cos(a, b), cos(a, c)))
print("(only the verb is shared in its role: about 1/3 for random word vectors)")
