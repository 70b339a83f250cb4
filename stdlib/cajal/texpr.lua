-- cajal.texpr — typed expressions, the form check.lua gives every
-- expression (its header lists the nodes: {"num", x}, {"sym", sym, side},
-- {"+", a, b}, {"call", f, ...}, ...): constructors that fold constants, and
-- walkers. Shared by the stages that build and read them: check (names and
-- units), lower (IR) and integrate (the integration methods).
local M = {}

-- ---- constant folding -------------------------------------------------------

local function isnum(e) return e[1] == "num" end

-- Fold where the IR order of evaluation gives the same double (IR.md: left
-- before right, no reassociation): only operations whose operands are all
-- constants, plus the identities x*1, 1*x, x/1, x+0, 0+x, x-0.
local FOLD2 = {
  ["+"] = function(a, b) return a + b end, ["-"] = function(a, b) return a - b end,
  ["*"] = function(a, b) return a * b end, ["/"] = function(a, b) return a / b end,
  ["<"] = function(a, b) return a < b and 1.0 or 0.0 end,
  ["<="] = function(a, b) return a <= b and 1.0 or 0.0 end,
  [">"] = function(a, b) return a > b and 1.0 or 0.0 end,
  [">="] = function(a, b) return a >= b and 1.0 or 0.0 end,
  ["=="] = function(a, b) return a == b and 1.0 or 0.0 end,
  ["~="] = function(a, b) return a ~= b and 1.0 or 0.0 end,
  ["and"] = function(a, b) return (a ~= 0 and b ~= 0) and 1.0 or 0.0 end,
  ["or"] = function(a, b) return (a ~= 0 or b ~= 0) and 1.0 or 0.0 end,
  ["pow"] = function(a, b) return a ^ b end,
}
local FOLDF = {
  exp = math.exp, log = math.log, sqrt = math.sqrt, abs = math.abs,
  sin = math.sin, cos = math.cos, tan = math.tan, floor = math.floor, ceil = math.ceil,
  log10 = function(x) return math.log(x, 10) end,
  atan = math.atan, atan2 = function(y, x) return math.atan(y, x) end,
  tanh = function(x)
    if x > 20 then return 1.0 elseif x < -20 then return -1.0 end
    local e = math.exp(2 * x); return (e - 1) / (e + 1)
  end,
  min = function(a, b) if a ~= a then return b elseif b ~= b then return a end return math.min(a, b) end,
  max = function(a, b) if a ~= a then return b elseif b ~= b then return a end return math.max(a, b) end,
  sign = function(x) return x > 0 and 1.0 or (x < 0 and -1.0 or x) end,   -- as cj_sign: -0 and NaN pass
  heaviside = function(x) return x >= 0 and 1.0 or (x < 0 and 0.0 or x) end,
  sigmoid = function(x) return 1.0 / (1.0 + math.exp(-x)) end,
}

local function num(x) return { "num", x + 0.0 } end

-- Build an IR-like node, folding constants. f names a function for "call".
local function mk(op, a, b, c)
  if op == "neg" then
    if isnum(a) then return num(-a[2]) end
    return { "neg", a }
  elseif op == "not" then
    if isnum(a) then return num(a[2] == 0 and 1 or 0) end
    return { "not", a }
  elseif op == "ifelse" then
    if isnum(a) then return (a[2] ~= 0) and b or c end
    return { "ifelse", a, b, c }
  end
  local f = FOLD2[op]
  if f and isnum(a) and isnum(b) then
    local r = f(a[2], b[2])
    if op == "floor" then r = r + 0.0 end
    return num(r)
  end
  if op == "*" then
    if isnum(b) and b[2] == 1 then return a end
    if isnum(a) and a[2] == 1 then return b end
    if isnum(b) and b[2] == -1 then return mk("neg", a) end    -- exact in IEEE
    if isnum(a) and a[2] == -1 then return mk("neg", b) end
  elseif op == "/" then
    if isnum(b) and b[2] == 1 then return a end
  elseif op == "+" then
    if isnum(b) and b[2] == 0 then return a end
    if isnum(a) and a[2] == 0 then return b end
  elseif op == "-" then
    if isnum(b) and b[2] == 0 then return a end
    if isnum(a) and a[2] == 0 and not (1 / a[2] < 0) then return mk("neg", b) end
  end
  return { op, a, b }
end

local function call(f, ...)
  local args = { ... }
  local ff = FOLDF[f]
  if ff then
    local all = true
    for _, a in ipairs(args) do if not isnum(a) then all = false end end
    if all then
      local v = {}
      for q, a in ipairs(args) do v[q] = a[2] end
      local ok, r = pcall(ff, table.unpack(v))
      if ok and type(r) == "number" then return num(r) end
    end
  end
  return { "call", f, ... }
end

-- Does a texpr use a given kind of leaf? pred(leaf) -> bool
-- Definitions are looked through; each node is visited once (definitions
-- that share definitions make a DAG: walked as a tree it is exponential).
local function uses(e, pred, seen)
  if type(e) ~= "table" then return false end
  seen = seen or {}
  if seen[e] then return false end
  seen[e] = true
  if pred(e) then return true end
  if e[1] == "def" then return uses(e[2].expr, pred, seen) end
  for q = 2, #e do
    if type(e[q]) == "table" and e[q][1] ~= nil and uses(e[q], pred, seen) then return true end
  end
  return false
end

-- Does e contain a leaf whose op is a key of what?
local function hasleaf(e, what)
  return uses(e, function(x) return what[x[1]] end)
end

-- The sum of a list of expressions, left to right (0 for none).
local function sum(terms)
  local e
  for _, t in ipairs(terms) do e = e and mk("+", e, t) or t end
  return e or num(0)
end

M.isnum, M.num, M.mk, M.call, M.uses, M.hasleaf, M.sum = isnum, num, mk, call, uses, hasleaf, sum
return M
