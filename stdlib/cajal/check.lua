-- cajal.check — the second stage of the network compiler: names and units.
--
-- It walks the AST of grammar/AST.md (one file plus its imports) and turns
-- every model used by the network into an *instance*: a population or a
-- projection whose parameters are folded to numbers (with the overrides of
-- the population statement and of opts.params), whose names are resolved
-- to symbols and whose expressions are typed. Every expression is checked
-- for dimensions; a mismatch raises an error at the sub-expression.
--
-- Typed expressions ("texpr") are prefix lists close to the IR's (IR.md §2):
--   {"num", x}                       a constant (parameters and units folded)
--   {"sym", sym, side}               a variable: sym.kind is "state", "input",
--                                    "syn" (per synapse), "postsyn" (per post
--                                    neuron of a projection); side nil|"pre"|"post"
--   {"def", sym}                     an algebraic definition (sym.expr)
--   {"t"} {"dt"} {"i"} {"j"} {"notref"} {"lastspike"} {"xi"}
--   {"rand", "uniform"|"normal"}     a draw (its index k is the lowering's)
--   {"+", a, b} ... {"call", f, a...} {"ifelse", c, a, b}   as in the IR
-- Statements: {"assign", sym, side, op, texpr} and {"if", c, body, orelse}.
--
-- Dimensions are vectors of the seven SI exponents, stored DOUBLED so that
-- the white noise xi (s^-1/2) and sqrt(tau) have exact dimensions; a value
-- that is stored (parameter, state variable, recorded definition) must have
-- whole exponents (whole() checks; assignments compare with a stored one).
-- The unit table is cj.unit's (vm/core/units.c): nothing is duplicated here.
local M = {}

local core = require "cajal.core"
local format, concat = string.format, table.concat

-- ---- dimensions -----------------------------------------------------------

local NB = 7
local BASES = { "m", "kg", "s", "A", "K", "mol", "cd" }

local function mkdim(...) return { ... } end
local DIMLESS = mkdim(0, 0, 0, 0, 0, 0, 0)
-- ANY: a bare 0 (zero in any unit) or a value whose dimension cannot be
-- known (a name left unresolved when a synapse model is checked alone).
local ANY = { any = true }
-- ZERO: a bare 0 matches any dimension in sums and comparisons, and is a
-- plain number in products (0 * 1 mV is in V)
local ZERO = { any = true, zero = true }
M.DIMLESS, M.ANY, M.mkdim = DIMLESS, ANY, mkdim
local SECOND = mkdim(0, 0, 2, 0, 0, 0, 0)

local function dimeq(a, b)
  if a.any or b.any then return true end
  for k = 1, NB do if a[k] ~= b[k] then return false end end
  return true
end
local function isless(a)
  return a.any or dimeq(a, DIMLESS)
end
local function dimmul(a, b, sign)
  if a.zero then a = DIMLESS end
  if b.zero then b = DIMLESS end
  if a.any or b.any then return ANY end
  local r = {}
  for k = 1, NB do r[k] = a[k] + (sign or 1) * b[k] end
  return r
end
-- a^p for a number p: nil when an exponent would not be a multiple of 1/2
local function dimpow(a, p)
  if a.zero then return DIMLESS end
  if a.any then return ANY end
  local r = {}
  for k = 1, NB do
    local e = a[k] * p
    if e ~= math.floor(e) or math.abs(e) > 250 then return nil end
    r[k] = math.tointeger(e)
  end
  return r
end
M.dimeq, M.dimmul, M.dimpow, M.isless = dimeq, dimmul, dimpow, isless

local function halfint(a)
  for k = 1, NB do if a[k] % 2 ~= 0 then return true end end
  return false
end

-- The base-unit form "m^2 kg s^-3 A^-1" of an integral dimension.
local function baseform(a)
  local parts = {}
  for k = 1, NB do
    local e = a[k] // 2
    if e == 1 then parts[#parts + 1] = BASES[k]
    elseif e ~= 0 then parts[#parts + 1] = BASES[k] .. "^" .. e end
  end
  return concat(parts, " ")
end

-- A dimension in words for messages and for the IR's unit strings:
-- "V", "S/m^2", "dimensionless", "V s^-1/2".
local function dimstr(a)
  if a.any then return "any" end
  if dimeq(a, DIMLESS) then return "dimensionless" end
  if not halfint(a) then
    local ok, q = pcall(core.unit, baseform(a))
    if ok and type(q) ~= "number" then return q.dim end
    return baseform(a)
  end
  -- a half power of seconds: "V s^-1/2" (white noise), "s^1/2" (sqrt(tau));
  -- the shorter of the two spellings, s^-1/2 on a tie
  if a[3] % 2 ~= 0 then
    local best
    for _, step in ipairs({ 1, -1 }) do
      local b = {}
      for k = 1, NB do b[k] = a[k] end
      b[3] = a[3] + step
      if not halfint(b) then
        local head = dimeq(b, DIMLESS) and "" or (dimstr(b) .. " ")
        local text = head .. (step == 1 and "s^-1/2" or "s^1/2")
        if not best or #text < #best then best = text end
      end
    end
    if best then return best end
  end
  local parts = {}
  for k = 1, NB do
    local e = a[k]
    if e ~= 0 then
      local s = (e % 2 == 0) and tostring(e // 2) or (e .. "/2")
      parts[#parts + 1] = (s == "1") and BASES[k] or (BASES[k] .. "^" .. s)
    end
  end
  return concat(parts, " ")
end
M.dimstr = dimstr

-- The unit string of a stored quantity for the IR ("V", "1").
function M.unitstr(a)
  if a.any or dimeq(a, DIMLESS) then return "1" end
  return dimstr(a)
end

-- The (doubled) dimension of a number or cj quantity, from cj.exponents.
local function qdim(q)
  if type(q) == "number" then return DIMLESS end
  local e = core.exponents(q)
  local d = {}
  for k = 1, NB do d[k] = 2 * e[k] end
  return d
end

-- unit symbol -> scale, dim (nil when it is not a unit)
local unitcache = {}
local function unit(name)
  local u = unitcache[name]
  if u == nil then
    u = false
    if core.unit then
      local ok, q = pcall(core.unit, name)
      if ok then
        local d = qdim(q)
        if d then u = { type(q) == "number" and q or q.value, d } end
      end
    end
    unitcache[name] = u
  end
  if u then return u[1], u[2] end
  return nil
end
M.unit = unit

-- A quantity given from Lua (opts.params): number -> dimensionless.
function M.quantity(v)
  if type(v) == "number" then return v, DIMLESS end
  if core.isquantity and core.isquantity(v) then return v.value, qdim(v) end
  return nil
end

-- ---- errors ---------------------------------------------------------------

local grammar
local function G()
  grammar = grammar or require "cajal.grammar"
  return grammar
end

-- Raise the grammar-style error object for position pos of file root src.
local function fail(src, pos, msg)
  error(G().error_at(src, pos, msg), 0)
end
M.fail = fail

-- Edit distance with transpositions (optimal string alignment), for "did
-- you mean" suggestions: Ecx -> Exc is one edit.
local function distance(a, b)
  local la, lb = #a, #b
  if math.abs(la - lb) > 3 then return 99 end
  local d = {}
  for q = 0, la do d[q] = { [0] = q } end
  for j = 0, lb do d[0][j] = j end
  for q = 1, la do
    for j = 1, lb do
      local cost = (a:byte(q) == b:byte(j)) and 0 or 1
      local v = math.min(d[q - 1][j] + 1, d[q][j - 1] + 1, d[q - 1][j - 1] + cost)
      if q > 1 and j > 1 and a:byte(q) == b:byte(j - 1) and a:byte(q - 1) == b:byte(j) then
        v = math.min(v, d[q - 2][j - 2] + 1)
      end
      d[q][j] = v
    end
  end
  return d[la][lb]
end

-- The nearest of names (a list or set-like table of strings) to name, or nil.
local function nearest(name, names)
  local best, bestd = nil, math.huge
  local limit = math.min(#name - 1, math.max(1, math.min(3, #name // 3)))
  for k, v in pairs(names) do
    local cand = type(k) == "string" and k or v
    if type(cand) == "string" and cand ~= name then
      local d = distance(name, cand)
      if d < bestd or (d == bestd and best and cand < best) then best, bestd = cand, d end
    end
  end
  if best and bestd <= limit then return best end
  -- else a unique name that extends it: tau -> tau_m
  local ext
  if #name >= 3 then
    for k, v in pairs(names) do
      local cand = type(k) == "string" and k or v
      if type(cand) == "string" and cand:sub(1, #name) == name and cand ~= name then
        if ext then return nil end
        ext = cand
      end
    end
  end
  return ext
end
M.nearest = nearest

local function suggest(name, names)
  local n = nearest(name, names)
  if n then return format(" (did you mean '%s'?)", n) end
  return ""
end
M.suggest = suggest

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
M.num = num

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
M.mk = mk

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
M.call = call

-- ---- scopes and symbols -----------------------------------------------------
--
-- A scope resolves names: scope.names (this model's symbols), then for a
-- synapse the post neuron (side "post"), then the built-ins the scope
-- allows, then scope.parent (network constants), then units.
-- sym = { kind = "param"|"const"|"state"|"input"|"def"|"syn"|"postsyn",
--         name, dim, value (param/const), expr (def), owner (instance) }

local BUILTIN_DIMS = {
  t = SECOND, dt = SECOND, lastspike = SECOND,
  i = DIMLESS, j = DIMLESS, N = DIMLESS, N_pre = DIMLESS, N_post = DIMLESS,
  pi = DIMLESS, refractory = DIMLESS, not_refractory = DIMLESS,
  xi = mkdim(0, 0, -1, 0, 0, 0, 0),
}
M.BUILTINS = BUILTIN_DIMS

-- Functions: name -> { nargs, kind }; kind says how dimensions go.
local FUNCTIONS = {
  exp = {1, "less"}, expm1 = {1, "less"}, log = {1, "less"}, log1p = {1, "less"},
  log10 = {1, "less"}, sin = {1, "less"}, cos = {1, "less"}, tan = {1, "less"},
  sinh = {1, "less"}, cosh = {1, "less"}, tanh = {1, "less"}, atan = {1, "less"},
  sigmoid = {1, "less"}, exprel = {1, "less"},
  abs = {1, "keep"}, floor = {1, "keep"}, ceil = {1, "keep"}, round = {1, "keep"},
  sign = {1, "sign"}, heaviside = {1, "sign"},
  min = {2, "same"}, max = {2, "same"}, mod = {2, "same"}, clip = {3, "same"},
  atan2 = {2, "ratio"}, sqrt = {1, "sqrt"}, pow = {2, "pow"},
  rand = {0, "rand"}, randn = {0, "rand"}, uniform = {2, "rand"},
  normal = {2, "rand"}, exponential = {1, "rand"}, bernoulli = {1, "rand"},
}
M.FUNCTIONS = FUNCTIONS

local function lookup(scope, name)
  local s = scope
  while s do
    local sym = s.names and s.names[name]
    if sym then return sym, s end
    s = s.parent
  end
  return nil
end

-- Every name visible from scope (for suggestions).
local function visible(scope)
  local all = {}
  local s = scope
  while s do
    for k in pairs(s.names or {}) do all[k] = true end
    if s.post then for k in pairs(s.post.names) do all[k] = true end end
    for k in pairs(s.builtins or {}) do all[k] = true end
    s = s.parent
  end
  return all
end
M.visible = visible

local function builtin_allowed(scope, name)
  local s = scope
  while s do
    if s.builtins and s.builtins[name] then return s end
    s = s.parent
  end
  return nil
end

-- Expressions (and definitions read inside them) nested deeper than this
-- are refused with a located error: every later pass recurses on the
-- nesting, and Lua's stack would end it with a bare "stack overflow".
-- A definition counts with its own depth (sym.depth: the deepest nesting
-- its expression reaches, definitions it reads included), so a long chain
-- d1 = d0 + 1, d2 = d1 + 1, ... checked in order is measured too.
local MAXNEST = 20000
M.MAXNEST = MAXNEST
local nesting, deepest = 0, 0
local expr1

local function toodeep(scope, node)
  fail(scope.src, node.pos or 1, format("expression nested too deeply (more than %d levels of "
                                        .. "operators and definitions)", MAXNEST))
end

local expr

-- names: the scope whose names are suggested (a neuron for x_pre / x_post)
local function unknown(scope, node, what, names)
  local name = node.name
  if node.side then name = name .. "_" .. node.side end
  local msg = format("unknown %s '%s'", what or "name", name)
  if #name <= 64 then
    local cands = visible(names or scope)
    if node.side then
      local c2 = {}
      for k in pairs(cands) do c2[k .. "_" .. node.side] = true end
      cands = c2
    end
    msg = msg .. suggest(name, cands)
  end
  fail(scope.src, node.pos, msg)
end

-- A value read through a symbol.
local function symvalue(scope, sym, side, node)
  if sym.kind == "param" or sym.kind == "const" then
    return num(sym.value), sym.dim
  elseif sym.kind == "def" then
    if sym.checking then
      local chain, on = {}, false
      for _, d in ipairs(M.defstack) do
        if d == sym then on = true end
        if on then chain[#chain + 1] = d.name end
      end
      chain[#chain + 1] = sym.name
      if #chain <= 2 then
        fail(scope.src, node.pos, format("definition '%s' refers to itself", sym.name))
      end
      fail(scope.src, node.pos, format("definitions refer to each other in a circle: %s",
                                       concat(chain, " -> ")))
    end
    if not sym.expr then M.define(sym) end
    local reach = nesting + sym.depth
    if reach > MAXNEST then toodeep(scope, node) end
    if reach > deepest then deepest = reach end
    return { "def", sym, side }, sym.dim
  end
  return { "sym", sym, side }, sym.dim
end

-- Resolve a name node ({tag="name", name, side}) to texpr, dim.
local function name(scope, node)
  local nm, side = node.name, node.side
  if side then
    if nm == "N" and builtin_allowed(scope, "N_" .. side) then
      local s = builtin_allowed(scope, "N_" .. side)
      return num(s.consts["N_" .. side]), DIMLESS
    end
    local target = scope[side]
    if not target then
      if scope.generic and scope.kind == "synapse" then return { "unknown" }, ANY end
      fail(scope.src, node.pos, format("'%s_%s' refers to a %ssynaptic neuron, which exists only in synapse code",
                                       nm, side, side))
    end
    local sym = target.names[nm]
    if not sym or sym.kind == "const" then
      unknown(scope, node, side .. "synaptic variable", { names = target.names })
    end
    local te, d = symvalue(scope, sym, side, node)
    return te, d
  end
  local sym = lookup(scope, nm)
  if sym then return symvalue(scope, sym, nil, node) end
  if scope.post then
    local psym = scope.post.names[nm]
    if psym then return symvalue(scope.post, psym, "post", node) end
  end
  if BUILTIN_DIMS[nm] then
    local s = builtin_allowed(scope, nm)
    if not s then
      fail(scope.src, node.pos, format("'%s' cannot be used here", nm))
    end
    local d = BUILTIN_DIMS[nm]
    if nm == "pi" then return num(math.pi), d end
    if s.consts and s.consts[nm] then return num(s.consts[nm]), d end
    if s.slice and s.slice[nm] then   -- connect clauses count from the slice start
      if s.slice[nm] == 0 then return { nm }, d end
      return mk("-", { nm }, num(s.slice[nm])), d
    end
    if nm == "refractory" then return mk("-", num(1), { "notref" }), d end
    if nm == "not_refractory" then return { "notref" }, d end
    return { nm }, d
  end
  local scale, d = unit(nm)
  if scale then return num(scale), d end
  if scope.generic and scope.kind == "synapse" then return { "unknown" }, ANY end
  unknown(scope, node)
end

-- number literal with its unit
-- The smallest normal double: a literal (with its unit) below it has lost
-- digits (subnormal) or all of them (1e-400 reads as 0).
local DBL_MIN = 2.2250738585072014e-308

local function underflow(scope, node, v, u)
  local mant = (node.text or ""):match("^[%d%.]*") or ""
  if v ~= 0 and math.abs(v) >= DBL_MIN then return end
  if v == 0 and not mant:find("[1-9]") then return end
  fail(scope.src, node.pos, format("the number '%s%s' is too small for double precision (%s): the smallest "
    .. "is 2.2e-308%s", node.text or "?", u and (" " .. u) or "", v == 0 and "it would read as 0" or
    "it would lose digits", u and " in SI units" or ""))
end

local function literal(scope, node)
  local v, d = node.value, DIMLESS
  if type(v) ~= "number" then fail(scope.src, node.pos, "malformed number") end
  underflow(scope, node, v)
  local whole = node.unit and node.unit.text and #node.unit.text < 200 and unit(node.unit.text)
  if whole then
    -- the unit as cj.unit reads it: 1 uF/cm^2 is 0.01 exactly, not 1e-6 * 1e4
    local scale, ud = unit(node.unit.text)
    v, d = v * scale, ud
    if v == 0 and node.value ~= 0 then underflow(scope, node, v, node.unit.text) end
  elseif node.unit then
    local scale = 1.0
    for _, f in ipairs(node.unit.factors or {}) do
      local s, fd = unit(f.name)
      if not s then
        fail(scope.src, node.unit.pos, format("unknown unit '%s' in '%s'", f.name, node.unit.text or f.name))
      end
      local e = f.exp or 1
      scale = scale * s ^ e
      local fe = dimpow(fd, e)
      if not fe then
        fail(scope.src, node.unit.pos, format("unit exponent out of range in '%s'", node.unit.text or f.name))
      end
      d = dimmul(d, fe)
    end
    v = v * scale
  elseif v == 0 then
    d = ZERO                     -- a bare 0 is zero in any unit
  end
  if node.unit then underflow(scope, node, v, node.unit.text) end
  if v == math.huge or v == -math.huge then
    fail(scope.src, node.pos, format("the number '%s %s' is too large for double precision in SI units",
                                     node.text or "?", node.unit and node.unit.text or ""))
  end
  return num(v), d
end

local CMP = { ["<"] = "<", ["<="] = "<=", [">"] = ">", [">="] = ">=", ["=="] = "==", ["!="] = "~=" }

local function mismatch(scope, node, what, da, db)
  fail(scope.src, node.pos, format("unit mismatch in %s: %s and %s", what, dimstr(da), dimstr(db)))
end

local function needless(scope, node, what, d)
  if not isless(d) then
    fail(scope.src, node.pos, format("%s needs a dimensionless value, got %s", what, dimstr(d)))
  end
end

local function both(a, b) if a.any then return b end return a end

local function binop(scope, node)
  local op = node.op
  local a, da = expr(scope, node.lhs)
  local b, db = expr(scope, node.rhs)
  if op == "+" or op == "-" then
    if not dimeq(da, db) then mismatch(scope, node, "'" .. op .. "'", da, db) end
    return mk(op, a, b), both(da, db)
  elseif op == "*" or op == "/" then
    if op == "/" and isnum(b) and b[2] == 0 and M.lenient == 0 then M.divzero(scope, node.rhs) end
    return mk(op, a, b), dimmul(da, db, op == "*" and 1 or -1)
  elseif op == "^" then
    return M.power(scope, node, a, da, b, db, node.rhs)
  elseif CMP[op] then
    if not dimeq(da, db) then mismatch(scope, node, "comparison '" .. op .. "'", da, db) end
    return mk(CMP[op], a, b), DIMLESS
  elseif op == "and" or op == "or" then
    needless(scope, node.lhs, "'" .. op .. "'", da)
    needless(scope, node.rhs, "'" .. op .. "'", db)
    return mk(op, a, b), DIMLESS
  end
  fail(scope.src, node.pos, format("unknown operator '%s'", tostring(op)))
end

-- a ^ b (and pow(a, b)): lower small integer powers to products, keeping
-- the backends free of pow() where it is not needed.
function M.power(scope, node, a, da, b, db, bnode)
  needless(scope, bnode, "an exponent", db)
  if not isnum(b) then
    if not isless(da) then
      fail(scope.src, bnode.pos, format("the exponent of a value in %s must be a constant", dimstr(da)))
    end
    return { "pow", a, b }, DIMLESS
  end
  local p = b[2]
  local d = dimpow(da, p)
  if not d then
    fail(scope.src, node.pos, format("%s to the power %g is not a whole (or half) unit", dimstr(da), p))
  end
  if isnum(a) then return num(a[2] ^ p), d end
  if p == 1 then return a, d
  elseif p == 2 then return mk("*", a, a), d
  elseif p == 3 then return mk("*", mk("*", a, a), a), d
  elseif p == 4 then return mk("*", mk("*", a, a), mk("*", a, a)), d
  elseif p == -1 then return mk("/", num(1), a), d
  elseif p == 0.5 then return call("sqrt", a), d
  end
  return { "pow", a, b }, d
end

-- draws: the distribution functions in terms of uniform/normal draws
local function draw(scope, node, fname, args, dims)
  if not scope.rand then
    fail(scope.src, node.pos, format("random draw '%s' is not allowed here (%s)", fname,
                                     scope.norand or "only in state, weights, delays and event code"))
  end
  if fname == "rand" then return { "rand", "uniform" }, DIMLESS
  elseif fname == "randn" then return { "rand", "normal" }, DIMLESS
  elseif fname == "uniform" then
    if not dimeq(dims[1], dims[2]) then mismatch(scope, node, "'uniform'", dims[1], dims[2]) end
    return mk("+", args[1], mk("*", mk("-", args[2], args[1]), { "rand", "uniform" })), both(dims[1], dims[2])
  elseif fname == "normal" then
    if not dimeq(dims[1], dims[2]) then mismatch(scope, node, "'normal'", dims[1], dims[2]) end
    return mk("+", args[1], mk("*", args[2], { "rand", "normal" })), both(dims[1], dims[2])
  elseif fname == "bernoulli" then -- 1 with probability p, else 0: u < p
    if not isless(dims[1]) then
      fail(scope.src, node.pos, format("'bernoulli' needs a dimensionless probability (got %s)", dimstr(dims[1])))
    end
    return mk("<", { "rand", "uniform" }, args[1]), DIMLESS
  else -- exponential(mean): -mean * log(1 - u)
    return mk("*", mk("neg", args[1]), call("log1p", mk("neg", { "rand", "uniform" }))), dims[1]
  end
end

local LESSFOLD = {
  log10 = function(x) return math.log(x, 10) end,
  sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end,
  cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end,
  expm1 = function(x) local u = math.exp(x); if u == 1 then return x end
                      if u - 1 == -1 then return -1.0 end
                      if u == math.huge then return u end
                      return (u - 1) * x / math.log(u) end,
  log1p = function(x) local u = 1 + x; if u == 1 then return x end
                      if u == math.huge then return u end
                      return math.log(u) * x / (u - 1) end,
}

local function callnode(scope, node)
  local fname = node.name
  local f = FUNCTIONS[fname]
  if not f then
    local msg = format("unknown function '%s'", fname)
    if #fname <= 64 then msg = msg .. suggest(fname, FUNCTIONS) end
    fail(scope.src, node.pos, msg)
  end
  local nargs = #node.args
  if nargs ~= f[1] then
    fail(scope.src, node.pos, format("'%s' takes %d argument%s, got %d", fname, f[1],
                                     f[1] == 1 and "" or "s", nargs))
  end
  local args, dims = {}, {}
  for q, an in ipairs(node.args) do args[q], dims[q] = expr(scope, an) end
  local kind = f[2]
  if kind == "rand" then return draw(scope, node, fname, args, dims) end
  if kind == "less" then
    needless(scope, node.args[1], "'" .. fname .. "'", dims[1])
    local a = args[1]
    if fname == "exprel" then
      if isnum(a) then
        if a[2] == 0 then return num(1), DIMLESS end
        return num((math.exp(a[2]) - 1) / a[2]), DIMLESS
      end
      return mk("ifelse", mk("==", a, num(0)), num(1), mk("/", call("expm1", a), a)), DIMLESS
    end
    if isnum(a) then
      local v = LESSFOLD[fname] and LESSFOLD[fname](a[2])
      if v then return num(v), DIMLESS end
    end
    -- functions the runtime's fixed list lacks, written with those it has
    if fname == "log10" then return mk("/", call("log", a), num(math.log(10))), DIMLESS
    elseif fname == "sinh" then
      return mk("*", mk("-", call("expm1", a), call("expm1", mk("neg", a))), num(0.5)), DIMLESS
    elseif fname == "cosh" then
      return mk("*", mk("+", call("exp", a), call("exp", mk("neg", a))), num(0.5)), DIMLESS
    end
    return call(fname, a), DIMLESS
  elseif kind == "keep" then
    if fname == "round" then   -- C round(): halves away from zero
      local a = args[1]
      if isnum(a) then
        local m = math.floor(math.abs(a[2]) + 0.0)
        if math.abs(a[2]) - m >= 0.5 then m = m + 1 end
        return num(a[2] < 0 and -m or m), dims[1]
      end
      local ab = call("abs", a)
      local fl = call("floor", ab)
      local r = mk("ifelse", mk(">=", mk("-", ab, fl), num(0.5)), mk("+", fl, num(1)), fl)
      return mk("ifelse", mk("<", a, num(0)), mk("neg", r), r), dims[1]
    end
    return call(fname, args[1]), dims[1]
  elseif kind == "sign" then
    if fname == "heaviside" then return call("heaviside", args[1]), DIMLESS end   -- 1 at 0, NaN stays NaN
    return call("sign", args[1]), DIMLESS
  elseif kind == "same" then
    for q = 2, nargs do
      if not dimeq(dims[1], dims[q]) then mismatch(scope, node.args[q], "'" .. fname .. "'", dims[1], dims[q]) end
    end
    local d = dims[1]
    for q = 2, nargs do d = both(d, dims[q]) end
    if fname == "mod" then   -- floored modulo, as Python and Brian define it
      return mk("-", args[1], mk("*", call("floor", mk("/", args[1], args[2])), args[2])), d
    end
    return call(fname, table.unpack(args)), d
  elseif kind == "ratio" then
    if not dimeq(dims[1], dims[2]) then mismatch(scope, node.args[2], "'atan2'", dims[1], dims[2]) end
    return call("atan2", args[1], args[2]), DIMLESS
  elseif kind == "sqrt" then
    local d = dimpow(dims[1], 0.5)
    if not d then
      fail(scope.src, node.args[1].pos, format("sqrt of %s has no unit", dimstr(dims[1])))
    end
    return call("sqrt", args[1]), d
  elseif kind == "pow" then
    return M.power(scope, node, args[1], dims[1], args[2], dims[2], node.args[2])
  end
end

-- Constants must be finite: an expression that folds to an infinity or a
-- NaN (1 / 0 s, exp(1000), a parameter dividing by a zero one) is an error at
-- the innermost place it appears. The branch an `if` with a constant
-- condition does not take is checked for names and units only (M.lenient).
M.lenient = 0

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

-- "division by zero": names the divisor and, for a parameter, where its value came from
function M.divzero(scope, node)
  local what = "the divisor is 0"
  if node.tag == "name" and not node.side then
    local sym = lookup(scope, node.name)
    if sym and (sym.kind == "param" or sym.kind == "const") then
      local u = sym.dim and not isless(sym.dim) and (" " .. M.unitstr(sym.dim)) or ""
      if type(sym.setby) == "table" then      -- an override: point at it, in the user's file
        fail(sym.setby.src, sym.setby.pos, format("division by zero: '%s' is 0%s here, and the model divides by it (%s)",
                                                  node.name, u, M.where(scope.src, node.pos)))
      end
      what = format("'%s' is 0%s%s", node.name, u, sym.setby and (" (set by " .. sym.setby .. ")") or "")
    end
  end
  fail(scope.src, node.pos, "division by zero: " .. what)
end

local function checked(scope, node, e, d)
  if M.lenient == 0 and e[1] == "num" and not finite(e[2]) then
    fail(scope.src, node.pos, format("this expression is %s in double precision: a constant must be finite",
                                     e[2] ~= e[2] and "not a number (NaN)" or "infinite"))
  end
  return e, d
end

-- expr with the finiteness checks suspended (a branch that is not taken)
local function leniently(scope, node)
  M.lenient = M.lenient + 1
  local ok, e, d = pcall(expr, scope, node)
  M.lenient = M.lenient - 1
  if not ok then error(e, 0) end
  return e, d
end

function expr1(scope, node)
  local tag = node.tag
  if tag == "num" then return literal(scope, node)
  elseif tag == "name" then return name(scope, node)
  elseif tag == "binop" then return binop(scope, node)
  elseif tag == "unop" then
    local a, d = expr(scope, node.arg)
    if node.op == "-" then return mk("neg", a), d end
    needless(scope, node.arg, "'not'", d)
    return mk("not", a), DIMLESS
  elseif tag == "call" then return callnode(scope, node)
  elseif tag == "ifelse" then
    local c, dc = expr(scope, node.cond)
    needless(scope, node.cond, "a condition", dc)
    local yes = (isnum(c) and c[2] == 0) and leniently or expr
    local no = (isnum(c) and c[2] ~= 0) and leniently or expr
    local a, da = yes(scope, node.yes)
    local b, db = no(scope, node.no)
    if not dimeq(da, db) then mismatch(scope, node, "'if'", da, db) end
    return mk("ifelse", c, a, b), both(da, db)
  end
  fail(scope.src, node.pos or 1, format("unexpected node '%s' in an expression", tostring(tag)))
end

function expr(scope, node)
  if nesting >= MAXNEST then toodeep(scope, node) end
  nesting = nesting + 1
  if nesting > deepest then deepest = nesting end
  local e, d = expr1(scope, node)
  nesting = nesting - 1
  return checked(scope, node, e, d)
end
M.expr = expr

-- An expression that must fold to a constant: returns the number and dim.
function M.constant(scope, node, what)
  local e, d = expr(scope, node)
  if not isnum(e) then
    fail(scope.src, node.pos, format("%s must be a constant expression", what or "this value"))
  end
  return e[2], d
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
M.uses = uses

-- ---- statements (reset, on_pre, on_post) -------------------------------------

local WRITABLE = { state = true, syn = true, postsyn = true }

local function target(scope, node)
  local nm, side = node.name, node.side
  local sym, owner
  if side then
    owner = scope[side]
    if not owner then
      if scope.generic then return nil end
      fail(scope.src, node.pos, format("'%s_%s' exists only in synapse code", nm, side))
    end
    sym = owner.names[nm]
    if not sym then unknown(scope, node, side .. "synaptic variable", { names = owner.names }) end
  else
    sym = lookup(scope, nm)
    if not sym and scope.post then sym, side = scope.post.names[nm], "post" end
    if not sym then
      if BUILTIN_DIMS[nm] then
        fail(scope.src, node.pos, format("cannot assign to the built-in '%s'", nm))
      end
      if scope.generic then return nil end
      unknown(scope, node, "variable")
    end
  end
  if not WRITABLE[sym.kind] then
    local what = ({ param = "parameter", const = "network parameter", input = "input",
                    def = "definition" })[sym.kind] or sym.kind
    fail(scope.src, node.pos, format("cannot assign to %s '%s'%s", what, nm,
      sym.kind == "input" and " (inputs are sums of what is connected to them)" or
      sym.kind == "def" and " (it is defined by an equation)" or ""))
  end
  return sym, side
end

local function stmts(scope, list)
  local out = {}
  for _, st in ipairs(list or {}) do
    if st.tag == "assign" then
      local sym, side = target(scope, st.target)
      local v, d = expr(scope, st.value)
      if sym then
        local op = st.op
        if op == "*=" or op == "/=" then
          if not isless(d) then
            fail(scope.src, st.value.pos, format("'%s' needs a dimensionless factor, got %s", op, dimstr(d)))
          end
        elseif not dimeq(sym.dim, d) then
          fail(scope.src, st.value.pos, format("unit mismatch in '%s' to '%s': %s and %s", op,
                                                st.target.name, dimstr(sym.dim), dimstr(d)))
        end
        out[#out + 1] = { "assign", sym, side, op, v, pos = st.pos }
      end
    elseif st.tag == "if" then
      local c, d = expr(scope, st.cond)
      needless(scope, st.cond, "a condition", d)
      out[#out + 1] = { "if", c, stmts(scope, st.body), stmts(scope, st.orelse or {}) }
    else
      fail(scope.src, st.pos or 1, format("unexpected statement '%s'", tostring(st.tag)))
    end
  end
  return out
end
M.stmts = stmts

-- ---- model instances ---------------------------------------------------------

local function declare(inst, node, sym, what)
  local nm = node.name
  local prev = inst.names[nm]
  if prev then
    fail(inst.src, node.pos, format("'%s' is already declared (line %d)", nm, M.lineof(inst.src, prev.pos)))
  end
  sym.name, sym.pos, sym.owner = nm, node.pos, inst
  inst.names[nm] = sym
  return sym
end

-- The dimension of a UNIT node (input NAME : UNIT).
local function unitdim(scope, u)
  if u.text and #u.text < 200 and unit(u.text) then return select(2, unit(u.text)) end
  local d = DIMLESS
  for _, f in ipairs(u.factors or {}) do
    local s, fd = unit(f.name)
    if not s then fail(scope.src, u.pos, format("unknown unit '%s'", f.name)) end
    local fe = dimpow(fd, f.exp or 1)
    if not fe then fail(scope.src, u.pos, format("unit exponent out of range in '%s'", u.text or f.name)) end
    d = dimmul(d, fe)
  end
  return d
end

-- A definition's expression, checked on first use (definitions may refer
-- to each other in any order, not in a circle).
-- No pcall here: a pcall per level of a long chain of definitions would
-- hit Lua's limit of nested C calls ("C stack overflow"). An error ends
-- the compilation, and M.network starts with an empty stack.
M.defstack = {}
function M.define(sym)
  if sym.expr then return end
  sym.checking = true
  M.defstack[#M.defstack + 1] = sym
  local n0, d0 = nesting, deepest
  deepest = nesting
  local e, d = expr(sym.scope, sym.node.value)
  sym.depth = deepest - n0
  if d0 > deepest then deepest = d0 end
  M.defstack[#M.defstack] = nil
  sym.checking = nil
  sym.expr, sym.dim = e, d
end

-- A stored value (parameter, state variable) has whole exponents: half units
-- (sqrt(tau), xi) live only inside expressions, and cj quantities have none.
local function whole(scope, node, what, d)
  if not d.any and halfint(d) then
    fail(scope.src, node.pos, format("%s has the unit %s, but a stored value needs whole unit "
                                     .. "exponents (half ones belong inside an expression)", what, dimstr(d)))
  end
end

-- Parameters of a model with overrides: overrides maps name -> {node, scope}
-- (a population or use argument) or {value = number, dim = dim} (opts.params).
-- Parameters of a model with overrides: overrides maps name -> {node, scope}
-- (a population or use argument) or {value = number, dim = dim} (opts.params).
-- A neuron's parameter whose override depends on i, N or a random draw
-- (hh(50, I_e = i * 20 pA)) becomes a per-neuron constant: a state variable
-- without equation (sym.perneuron), set by the initialisation, first of the
-- states; so does a parameter whose default uses such a one. An override
-- sees the network's constants, then the model's earlier parameters
-- (izhikevich2003(800, c = ..., d = 8 mV - 6 mV * (c + 65 mV) / 15 mV)).
-- perneuron: {n = N} for a neuron population, nil for a synapse model (whose
-- parameters are one constant for all its synapses).
local function parameters(inst, scope, defs, overrides, perneuron)
  local what = perneuron and "population" or "projection"
  for _, def in ipairs(defs or {}) do
    local e, d = expr(scope, def.value)
    whole(scope, def.value, format("parameter '%s'", def.name), d)
    local o = overrides[def.name]
    local setby
    if o then
      o.used = true
      local oe, od
      if o.node then
        local os = o.scope
        local ps = { kind = os.kind, src = os.src, names = os.names, parent = { names = inst.names },
                     builtins = perneuron and { i = true, N = true, pi = true }
                                or { i = true, j = true, N_pre = true, N_post = true, pi = true },
                     consts = perneuron and { N = perneuron.n } or {}, rand = true }
        oe, od = expr(ps, o.node)
        setby = { src = os.src, pos = o.node.pos }
        if not dimeq(od, d) then
          fail(os.src, o.node.pos, format("unit mismatch in the override of '%s': %s and %s",
                                          def.name, dimstr(d), dimstr(od)))
        end
        if not isnum(oe) and not perneuron then
          fail(os.src, o.node.pos, format("the override of '%s' must be one constant for the %s: the parameters "
            .. "of a synapse model are shared by all its synapses (a value per synapse belongs in a synapse "
            .. "variable, or in the weight clause)", def.name, what))
        end
      else
        oe, od = num(o.value), o.dim
        setby = "opts.params." .. (o.key or def.name)
        if not dimeq(od, d) then
          error({ text = format("compile.build: opts.params.%s: unit mismatch: %s expected, got %s",
                                o.key or def.name, dimstr(d), dimstr(od)) }, 0)
        end
      end
      e = oe
    elseif not isnum(e) and not perneuron then
      fail(scope.src, def.value.pos, format("parameter '%s' must be a constant expression", def.name))
    end
    local dim = (d.any and DIMLESS) or d
    if isnum(e) then
      declare(inst, def, { kind = "param", value = e[2], dim = dim, setby = setby }, "parameter")
    else
      -- per neuron: xi cannot reach here (not a built-in of these scopes)
      local sym = declare(inst, def, { kind = "state", perneuron = true, dim = dim, init = e,
                                       setby = setby }, "parameter")
      inst.states[#inst.states + 1] = sym
    end
    inst.params[#inst.params + 1] = inst.names[def.name]
  end
end

local function states(inst, scope, defs, kind, overrides, list)
  for _, def in ipairs(defs or {}) do
    local e, d = expr(scope, def.value)
    if d.any then d = DIMLESS end
    whole(scope, def.value, format("state variable '%s'", def.name), d)
    local o = overrides and overrides[def.name]
    if o and o.node then
      o.used = true
      local oe, od = expr(o.scope, o.node)
      if not dimeq(od, d) then
        fail(o.scope.src, o.node.pos, format("unit mismatch in the initial value of '%s': %s and %s",
                                              def.name, dimstr(d), dimstr(od)))
      end
      e = oe
    elseif o then
      o.used = true
      if not dimeq(o.dim, d) then
        error({ text = format("compile.build: opts.params.%s: unit mismatch: %s expected, got %s",
                              o.key or def.name, dimstr(d), dimstr(o.dim)) }, 0)
      end
      e = num(o.value)
    end
    if M.uses(e, function(x) return x[1] == "xi" end) then
      fail(scope.src, def.value.pos, "xi (white noise) belongs in equations")
    end
    local sym = declare(inst, def, { kind = kind, dim = d, init = e }, kind)
    list[#list + 1] = sym
  end
end

local function defs_and_odes(inst, scope, eqs, odekinds)
  for _, eq in ipairs(eqs or {}) do
    if eq.tag == "alg" then
      declare(inst, eq, { kind = "def", node = eq, scope = scope }, "definition")
      inst.defs[#inst.defs + 1] = inst.names[eq.name]
    end
  end
  local seen = {}
  for _, eq in ipairs(eqs or {}) do
    if eq.tag == "alg" then
      M.define(inst.names[eq.name])
    elseif eq.tag == "ode" then
      local sym = inst.names[eq.name]
      if not sym or not odekinds[sym.kind] then
        local msg
        if sym then
          msg = format("'%s' is a %s: only %s have equations", eq.name,
                       ({ param = "parameter", input = "input", def = "definition",
                          syn = "synapse variable", postsyn = "postsynaptic variable",
                          state = "state variable" })[sym.kind] or sym.kind, odekinds.what)
        else
          local cands = {}
          for k, s in pairs(inst.names) do if odekinds[s.kind] then cands[k] = true end end
          msg = format("equation for '%s', which is not a state variable%s",
                       eq.name, #eq.name <= 64 and suggest(eq.name, cands) or "")
        end
        fail(inst.src, eq.pos, msg)
      end
      if seen[sym] then fail(inst.src, eq.pos, format("second equation for '%s'", eq.name)) end
      seen[sym] = true
      local rhs, d = expr(scope, eq.value)
      local want = dimmul(sym.dim, SECOND, -1)
      if not dimeq(d, want) then
        fail(inst.src, eq.value.pos, format("unit mismatch in d%s/dt: %s and %s", eq.name,
                                            dimstr(want), dimstr(d)))
      end
      inst.odes[#inst.odes + 1] = { sym = sym, rhs = rhs, pos = eq.pos,
                                    event_driven = eq.event_driven or nil }
    end
  end
end

local NEURON_BUILTINS = { t = true, dt = true, i = true, N = true, pi = true,
                          lastspike = true, refractory = true, not_refractory = true }
local function copy(t, extra)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- Overrides of a population or use statement: name -> {node, scope}
local function argmap(args, scope)
  local m = {}
  for _, a in ipairs(args or {}) do
    if m[a.name] then fail(scope.src, a.pos, format("'%s' is given twice", a.name)) end
    m[a.name] = { node = a.value, scope = scope, pos = a.pos }
  end
  return m
end

local function unused(overrides, inst, scope)
  for nm, o in pairs(overrides) do
    if not o.used and o.node then
      local cands = {}
      for k, s in pairs(inst.names) do
        if s.kind == "param" or s.kind == "state" or s.kind == "syn" or s.kind == "postsyn" then cands[k] = true end
      end
      fail(o.scope.src, o.pos, format("'%s' is not a parameter or state variable of '%s'%s", nm,
                                      inst.model.name or "synapse", #nm <= 64 and suggest(nm, cands) or ""))
    end
  end
end

-- neuron(net, entry, n, overrides, name) -> instance
--   entry = {node = neuron node, src = file root}; n the size; overrides
--   from the population statement (argmap) merged with opts.params.
function M.neuron(net, entry, n, overrides, popname)
  local node = entry.node
  local inst = { kind = "neuron", name = popname, model = node, src = entry.src, n = n,
                 names = {}, params = {}, states = {}, inputs = {}, defs = {}, odes = {} }
  local consts = { N = n }
  -- a model sees its own names, the built-ins and units: not the network's
  -- constants (a library model must mean the same in every network)
  local base = { kind = "neuron", src = entry.src, names = inst.names,
                 builtins = { pi = true }, consts = consts, norand = "parameters are constants" }
  parameters(inst, base, node.parameters, overrides, { n = n })
  for _, inp in ipairs(node.inputs or {}) do
    declare(inst, inp, { kind = "input", dim = unitdim(base, inp.unit) }, "input")
    inst.inputs[#inst.inputs + 1] = inst.names[inp.name]
  end
  local init = { kind = "neuron", src = entry.src, names = inst.names,
                 builtins = { i = true, N = true, pi = true }, consts = consts, rand = true }
  -- overrides of states are evaluated in the model's scope as well
  for _, o in pairs(overrides) do
    if o.node then o.scope = { kind = "neuron", src = o.scope.src, names = inst.names,
                               parent = o.scope, builtins = init.builtins, consts = consts, rand = true } end
  end
  states(inst, init, node.state, "state", overrides, inst.states)
  unused(overrides, inst)
  local eqscope = { kind = "neuron", src = entry.src, names = inst.names,
                    builtins = copy(NEURON_BUILTINS, { xi = true }), consts = consts,
                    norand = "in equations, use xi for noise" }
  defs_and_odes(inst, eqscope, node.equations, { state = true, what = "state variables" })
  inst.scope = { kind = "neuron", src = entry.src, names = inst.names,
                 builtins = NEURON_BUILTINS, consts = consts, rand = true }
  if node.spike then
    -- draws are allowed: a stochastic spike decision (rand() < p, bernoulli(p)),
    -- keyed by (seed, neuron, step) like every kernel draw (IR.md section 4)
    local c, d = expr(inst.scope, node.spike)
    needless(inst.scope, node.spike, "the spike condition", d)
    inst.spike = c
  end
  if node.reset then inst.reset = stmts(inst.scope, node.reset) end
  if node.refractory then
    local r = node.refractory
    local re = expr(inst.scope, r.duration)
    if not isnum(re) then
      local pn
      M.uses(re, function(x) if x[1] == "sym" and x[2].perneuron then pn = pn or x[2] end return false end)
      if pn then
        fail(inst.src, r.duration.pos, format("the refractory period must be one constant for the population, but "
          .. "'%s' varies per neuron in '%s' (its override uses i or a random draw): give it one value, or make "
          .. "one population per value", pn.name, popname or "?"))
      end
    end
    local v, d = M.constant(inst.scope, r.duration, "the refractory period")
    if not dimeq(d, SECOND) then
      fail(inst.src, r.duration.pos, format("unit mismatch in refractory: s and %s", dimstr(d)))
    end
    if not node.spike then fail(inst.src, r.pos, "refractory needs a spike condition") end
    if v < 0 or v ~= v then fail(inst.src, r.duration.pos, "the refractory period must be >= 0") end
    if v / net.dt > M.MAXSTEPS then
      fail(inst.src, r.duration.pos, format("the refractory period (%g s) is more than 2^53 steps of dt", v))
    end
    inst.refractory = v
    inst.clamp = {}
    if r.clamp then
      for q, nm in ipairs(r.clamp) do
        local sym = inst.names[nm]
        if not sym or sym.kind ~= "state" then
          local cands = {}
          for _, s in ipairs(inst.states) do cands[s.name] = true end
          fail(inst.src, (r.clamp_pos or {})[q] or r.pos,
               format("clamp: '%s' is not a state variable%s", nm, suggest(nm, cands)))
        end
        inst.clamp[sym] = true
      end
    else
      local function scan(list)
        for _, st in ipairs(list or {}) do
          if st[1] == "assign" and st[4] == "=" and st[2].kind == "state" and st[2].owner == inst then
            inst.clamp[st[2]] = true
          elseif st[1] == "if" then scan(st[3]); scan(st[4]) end
        end
      end
      scan(inst.reset)
    end
  end
  if node.method then inst.method, inst.method_pos = node.method.name, node.method.pos end
  return inst
end

local SYN_BUILTINS = { t = true, dt = true, i = true, j = true, N_pre = true, N_post = true, pi = true }

-- synapse(net, entry, proj) -> instance
--   entry = {node = synapse node, src}; proj carries pre, post (neuron
--   instances, nil when the model is checked alone: generic), the use
--   overrides (argmap), and the connection's clauses already checked:
--   weight = {expr, dim, pos} | nil.
function M.synapse(net, entry, proj)
  local node = entry.node
  local inst = { kind = "synapse", name = proj.name, model = node, src = entry.src,
                 names = {}, params = {}, vars = {}, postvars = {}, defs = {}, odes = {},
                 outputs = {}, pre = proj.pre, post = proj.post }
  local generic = (proj.post == nil)
  local consts = { N_pre = proj.pre and proj.pre.n, N_post = proj.post and proj.post.n }
  local function scope(builtins, extra)
    -- an inline synapse is network text: it sees the network's constants
    local s = { kind = "synapse", src = entry.src, names = inst.names,
                parent = node.inline and net and net.scope or nil,
                builtins = builtins, consts = consts, pre = proj.pre, post = proj.post,
                generic = generic }
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end
  local overrides = proj.overrides or {}
  parameters(inst, scope({ pi = true }, { norand = "parameters are constants" }), node.parameters, overrides)
  local init = scope({ i = true, j = true, N_pre = true, N_post = true, pi = true }, { rand = true })
  for _, o in pairs(overrides) do
    if o.node then
      local s = copy(init); s.parent = o.scope; s.src = o.scope.src
      o.scope = s
    end
  end
  states(inst, init, node.state, "syn", overrides, inst.vars)
  states(inst, init, node.postsynaptic, "postsyn", overrides, inst.postvars)
  unused(overrides, inst)
  -- the weight clause sets w, declaring it when the model does not
  if proj.weight then
    local w = inst.names.w
    if w then
      if w.kind ~= "syn" then
        fail(proj.src, proj.weight.pos, "weight sets the synapse variable 'w', but 'w' is not one")
      end
      if not dimeq(w.dim, proj.weight.dim) then
        fail(proj.src, proj.weight.pos, format("unit mismatch in weight: %s (w) and %s",
                                                dimstr(w.dim), dimstr(proj.weight.dim)))
      end
    else
      local d = proj.weight.dim
      if d.any then d = DIMLESS end
      local sym = { kind = "syn", name = "w", dim = d, init = num(0), owner = inst, implicit = true }
      inst.names.w = sym
      inst.vars[#inst.vars + 1] = sym
    end
  end
  local eqscope = scope(copy(SYN_BUILTINS, { xi = true }), { norand = "in equations, use xi for noise" })
  defs_and_odes(inst, eqscope, node.equations,
                { syn = true, postsyn = true, what = "synapse and postsynaptic variables" })
  for _, ode in ipairs(inst.odes) do
    if ode.event_driven and ode.sym.kind ~= "syn" then
      fail(inst.src, ode.pos, format("'%s' is postsynaptic: its equation cannot be event-driven", ode.sym.name))
    end
  end
  inst.scope = scope(SYN_BUILTINS, { rand = true })
  if node.on_pre then inst.on_pre = stmts(inst.scope, node.on_pre) end
  if node.on_post then inst.on_post = stmts(inst.scope, node.on_post) end
  -- outputs: per synapse when they read per-synapse values, else per post neuron
  for _, out in ipairs(node.outputs or {}) do
    local e, d = expr(inst.scope, out.value)
    if M.uses(e, function(x) return x[1] == "rand" end) then
      fail(inst.src, out.value.pos, "an output cannot draw random numbers")
    end
    local persyn = M.uses(e, function(x)
      return (x[1] == "sym" and (x[2].kind == "syn" or x[3] == "pre")) or x[1] == "i" or x[1] == "j"
    end)
    local target = proj.onto or out.name
    local tsym
    if not generic then
      tsym = proj.post.names[target]
      if not tsym or tsym.kind ~= "input" then
        local cands = {}
        for _, s in ipairs(proj.post.inputs) do cands[s.name] = true end
        local where = proj.onto and proj.onto_pos and proj.src or inst.src
        local pos = proj.onto and proj.onto_pos or out.pos
        fail(where, pos, format("'%s' is not an input of '%s'%s", target, proj.post.model.name,
                                #target <= 64 and suggest(target, cands) or ""))
      end
      if not dimeq(tsym.dim, d) then
        fail(inst.src, out.value.pos, format("unit mismatch in output '%s': %s and %s", target,
                                              dimstr(tsym.dim), dimstr(d)))
      end
    end
    inst.outputs[#inst.outputs + 1] = { input = tsym, expr = e, persyn = persyn, pos = out.pos }
  end
  if proj.onto and #inst.outputs ~= 1 then
    fail(proj.src, proj.onto_pos or proj.pos,
         format("onto needs a synapse model with one output (it has %d)", #inst.outputs))
  end
  if node.method then inst.method, inst.method_pos = node.method.name, node.method.pos end
  return inst
end

-- ---- the network ----------------------------------------------------------------

local function opterr(msg) error({ text = "compile.build: " .. msg }, 0) end
M.opterr = opterr

-- The line of byte pos in src (an AST root with .source, or the text).
-- The offsets of the newlines are found once per root and kept on it, so a
-- model of many declarations does not rescan its text for each (quadratic).
local function newlines(s)
  local nl, at = {}, 0
  while true do
    at = s:find("\n", at + 1, true)
    if not at then return nl end
    nl[#nl + 1] = at
  end
end

local linecache = setmetatable({}, { __mode = "k" })   -- root -> its newlines
local function lineof(src, pos)
  local s = type(src) == "table" and src.source or src
  if type(s) ~= "string" then return 0 end
  local nl
  if type(src) == "table" then
    nl = linecache[src]
    if not nl or nl.text ~= s then
      nl = { text = s, at = newlines(s) }
      linecache[src] = nl
    end
    nl = nl.at
  else
    nl = newlines(s)
  end
  pos = pos or 1
  local lo, hi = 1, #nl           -- the number of newlines before pos
  while lo <= hi do
    local mid = (lo + hi) // 2
    if nl[mid] < pos then lo = mid + 1 else hi = mid - 1 end
  end
  return lo
end
M.lineof = lineof

-- "file:line:col" of pos in the file root src
function M.where(src, pos)
  local s = type(src) == "table" and src.source or ""
  local line, col = 1, pos or 1
  for nl in s:sub(1, (pos or 1) - 1):gmatch("()\n") do line = line + 1; col = (pos or 1) - nl end
  return format("%s:%d:%d", type(src) == "table" and src.file or "?", line, col)
end

local GENERATORS = { poisson = true, spike_times = true }

-- The runtime's limits (vm/core/net.c, vm/bind/lnet.c), enforced here so
-- that a model out of range gets a located error, not an internal one.
M.MAXINDEX = 2147483647          -- neurons per population, degrees (int32 indices)
M.MAXDT = 1e6                    -- s
M.MAXDELAY = 10000000            -- steps of a delay
M.MAXSTEPS = 2^53                -- steps of 'every', of a refractory period

local function posint(scope, node, what, min)
  local v, d = M.constant(scope, node, what)
  needless(scope, node, what, d)
  if v ~= math.floor(v) or v < (min or 0) or v > M.MAXINDEX then
    -- a whole value prints as one (-100, not -100.0); others in the fewest digits that read back
    local shown = (v == math.floor(v) and math.abs(v) < 2^53) and format("%d", v) or nil
    for digits = 1, 17 do
      if shown then break end
      if tonumber(format("%." .. digits .. "g", v)) == v then shown = format("%." .. digits .. "g", v) end
    end
    fail(scope.src, node.pos, format("%s must be a whole number in %d..%d, got %s", what, min or 0, M.MAXINDEX,
                                     shown or tostring(v)))
  end
  return math.tointeger(v)
end

-- popref -> pop, lo, hi (0-based inclusive)
local function popref(net, ref, scope, what)
  local pop = net.byname[ref.name]
  if not pop or pop.isproj then
    local cands = {}
    for _, p in ipairs(net.pops) do cands[p.name] = true end
    if what == "record" then for _, p in ipairs(net.projs) do cands[p.name] = true end end
    if pop and pop.isproj and what == "record" then
      local lo = ref.lo and posint(scope, ref.lo, "a slice bound")
      local hi = ref.single and lo or (ref.hi and posint(scope, ref.hi, "a slice bound"))
      return pop, lo, hi
    end
    fail(net.src, ref.pos, format("unknown population '%s'%s", ref.name,
                                  #ref.name <= 64 and suggest(ref.name, cands) or ""))
  end
  local lo, hi = 0, pop.n - 1
  if ref.lo then
    lo = posint(scope, ref.lo, "a slice bound")
    hi = ref.single and lo or (ref.hi and posint(scope, ref.hi, "a slice bound") or pop.n - 1)
    if hi < lo or hi >= pop.n then
      fail(net.src, ref.pos, format("slice %s[%d..%d] is out of range (%s has %d neurons: 0..%d)",
                                    pop.name, lo, hi, pop.name, pop.n, pop.n - 1))
    end
  end
  return pop, lo, hi
end

local function steps(net, scope, node, what)
  local v, d = M.constant(scope, node, what)
  if not dimeq(d, SECOND) then
    fail(scope.src, node.pos, format("unit mismatch in %s: s and %s", what, dimstr(d)))
  end
  local k = v / net.dt
  local r = math.floor(k + 0.5)
  if r < 1 or math.abs(k - r) > 1e-6 * math.max(1, r) then
    fail(scope.src, node.pos, format("%s (%g s) must be a whole number of steps of dt (%g s)", what, v, net.dt))
  end
  if r > M.MAXSTEPS then
    fail(scope.src, node.pos, format("%s (%g s) is %.3g steps of dt: at most 2^53", what, v, r))
  end
  return math.tointeger(r), v
end

-- Split opts.params into network constants, per-population tables and
-- names that apply to every population having them.
local function optparams(opts)
  local per, global = {}, {}
  for k, v in pairs(opts.params or {}) do
    if type(k) ~= "string" then opterr("bad argument 'params' (names expected as keys)") end
    if type(v) == "table" and not (core.isquantity and core.isquantity(v)) then
      per[k] = {}
      for pk, pv in pairs(v) do
        local x, d = M.quantity(pv)
        if type(pv) == "number" then d = ANY end      -- a plain number is taken in SI units
        if not x then opterr(format("bad argument 'params.%s.%s' (number or quantity expected)", k, tostring(pk))) end
        per[k][pk] = { value = x, dim = d, key = k .. "." .. pk }
      end
    else
      local x, d = M.quantity(v)
      if type(v) == "number" then d = ANY end
      if not x then opterr(format("bad argument 'params.%s' (number, quantity or table expected)", k)) end
      global[k] = { value = x, dim = d, key = k }
    end
  end
  return per, global
end

local function mergeopts(overrides, per, global, names)
  for k, o in pairs(global) do
    if names == nil or names[k] then
      if overrides[k] then overrides[k].used = true end
      overrides[k] = o
    end
  end
  for k, o in pairs(per or {}) do
    if overrides[k] then overrides[k].used = true end
    overrides[k] = o
  end
  return overrides
end

local function modelnames(node)
  local s = {}
  for _, blk in ipairs({ "parameters", "state", "postsynaptic" }) do
    for _, d in ipairs(node[blk] or {}) do s[d.name] = true end
  end
  return s
end

-- network(root, models, opts) -> net
--   root: the main file's AST; models: name -> {node, src} (main file and
--   imports); opts as compile.build's.
function M.network(root, models, opts)
  M.defstack, nesting, deepest = {}, 0, 0
  local net = { src = root, pops = {}, projs = {}, monitors = {}, drives = {}, byname = {},
                models = models, consts = {} }
  net.scope = { kind = "network", src = root, names = net.consts, builtins = { pi = true } }
  local per, global = optparams(opts)
  local usedopt = {}
  -- settings first: dt is needed to count steps everywhere
  local dt, seed
  for _, item in ipairs(root.body) do
    if item.tag == "setting" then
      local v, d = M.constant(net.scope, item.value, item.name)
      if item.name == "dt" then
        if not dimeq(d, SECOND) then
          fail(root, item.value.pos, format("dt must be a positive time, got %s", dimstr(d)))
        end
        if not (v > 0 and v <= M.MAXDT) then
          fail(root, item.value.pos, format("dt must be in (0, %g] s, got %.6g s", M.MAXDT, v))
        end
        dt = v
      else
        needless(net.scope, item.value, "seed", d)
        if v ~= math.floor(v) or v < 0 or v >= 2^63 then
          fail(root, item.value.pos, "seed must be a whole number in 0 .. 2^63 - 1")
        end
        seed = math.tointeger(v)
      end
    end
  end
  net.dt = opts.dt or dt or 1e-4
  if not (net.dt <= M.MAXDT) then opterr(format("bad argument 'opts.dt' (at most %g s expected)", M.MAXDT)) end
  -- seed: opts.seed, else the model's `seed =`, else the default generator's
  -- (what cj.seed(n) last set; 0 in a fresh process), so cj.seed governs networks too
  net.seed = opts.seed or seed or require("cajal.core").rng():state().seed
  for _, item in ipairs(root.body) do
    local tag = item.tag
    if tag == "parameters" then
      for _, def in ipairs(item.defs) do
        if net.consts[def.name] then fail(root, def.pos, format("'%s' is already declared", def.name)) end
        local v, d = M.constant(net.scope, def.value, format("parameter '%s'", def.name))
        local o = global[def.name]
        if o then
          if not dimeq(o.dim, d) then
            opterr(format("opts.params.%s: unit mismatch: %s expected, got %s", def.name, dimstr(d), dimstr(o.dim)))
          end
          v = o.value
          usedopt[def.name] = true
        end
        net.consts[def.name] = { kind = "const", name = def.name, value = v, dim = d.any and DIMLESS or d,
                                 pos = def.pos }
      end
    elseif tag == "population" then
      M.population(net, item, per, global, usedopt)
    elseif tag == "connect" then
      M.connect(net, item)
    elseif tag == "record" then
      M.record(net, item)
    elseif tag == "drive" then
      M.drive(net, item, opts)
    elseif tag == "import" or tag == "setting" or tag == "neuron" or tag == "synapse" then
      -- imports are the driver's; models are instantiated by use
    else
      fail(root, item.pos or 1, format("unexpected statement '%s'", tostring(tag)))
    end
  end
  for k in pairs(per) do
    if not net.byname[k] then
      local cands = {}
      for _, p in ipairs(net.pops) do cands[p.name] = true end
      opterr(format("opts.params.%s: no population '%s'%s", k, k, suggest(k, cands)))
    end
  end
  for k in pairs(global) do
    if not usedopt[k] then
      local cands = {}
      for c in pairs(net.consts) do cands[c] = true end
      for _, p in ipairs(net.pops) do for _, s in ipairs(p.params or {}) do cands[s.name] = true end end
      opterr(format("opts.params.%s: no population or network parameter has it%s", k, suggest(k, cands)))
    end
  end
  -- models of the main file that no statement uses are still checked
  for _, item in ipairs(root.body) do
    if item.tag == "neuron" and not (net.used or {})[item] then
      local inst = M.neuron(net, { node = item, src = root }, 1, {}, item.name)
      net.unused = net.unused or {}
      net.unused[#net.unused + 1] = inst
    elseif item.tag == "synapse" and not (net.used or {})[item] then
      M.synapse(net, { node = item, src = root }, { src = root, name = item.name })
    end
  end
  return net
end

-- The methods and fields of the network object that cj.load returns
-- (stdlib/cajal/network.lua: Net and FIELDS). A population, projection or
-- monitor is reached as net.NAME, so one of these names would be hidden
-- behind the method or field: refused where it is declared.
-- tests/lua/network.lua checks this list against the object itself.
M.NETFIELDS = {}
for w in ([[run every cancel reset save wait_compile t dt step backend compiling seed name populations
  projections spikes state rate memory monitors]]):gmatch("%S+") do M.NETFIELDS[w] = true end

local function netfield(net, name, pos, what)
  if name and M.NETFIELDS[name] then
    fail(net.src, pos, format("a %s cannot be named '%s': net.%s is the network's own %s in Lua " ..
      "(choose another name)", what, name, name,
      (name == "run" or name == "every" or name == "cancel" or name == "reset" or name == "save" or
       name == "wait_compile") and "method" or "field"))
  end
end

local function addname(net, name, obj, pos)
  if net.byname[name] then
    fail(net.src, pos, format("'%s' is already the name of a population or projection", name))
  end
  net.byname[name] = obj
end

-- A constant Poisson rate: at most one spike per step (rate dt <= 1);
-- rates that vary are checked by the runtime as it runs.
function M.poissonrate(net, root, node, v, what)
  if not (v >= 0) then fail(root, node.pos, format("the rate of %s must be >= 0 Hz, got %g Hz", what, v)) end
  if v * net.dt > 1 then
    fail(root, node.pos, format("the rate of %s (%g Hz) is more than one spike per step of dt = %g ms can carry "
      .. "(at most 1/dt = %g Hz): use a smaller dt, or spread the rate over more neurons or over the K sources "
      .. "of a Poisson drive (drive VAR of POP from poisson(K, rate = R) weight W)", what, v, net.dt * 1e3, 1 / net.dt))
  end
end

function M.population(net, item, per, global, usedopt)
  local root = net.src
  netfield(net, item.name, item.pos, "population")
  local n = posint(net.scope, item.size, "the population size", 1)
  local entry = net.models[item.model]
  local pop
  if not entry and GENERATORS[item.model] then
    pop = { kind = item.model == "poisson" and "poisson" or "spikegen", name = item.name, n = n,
            names = {}, src = root, model = { name = item.model }, pos = item.pos }
    if pop.kind == "poisson" then
      local rate
      for _, a in ipairs(item.args) do
        if a.name ~= "rate" then
          fail(root, a.pos, format("poisson takes 'rate', not '%s'%s", a.name, suggest(a.name, { rate = true })))
        end
        rate = a.value
      end
      if not rate then fail(root, item.pos, "poisson needs a rate: poisson(N, rate = 10 Hz)") end
      local scope = { kind = "network", src = root, names = {}, parent = net.scope,
                      builtins = { t = true, i = true, N = true, pi = true, dt = true }, consts = { N = n } }
      local e, d = expr(scope, rate)
      local hz = mkdim(0, 0, -2, 0, 0, 0, 0)
      if not dimeq(d, hz) then
        fail(root, rate.pos, format("unit mismatch in rate: Hz and %s", dimstr(d)))
      end
      if isnum(e) then M.poissonrate(net, root, rate, e[2], "a Poisson group") end
      pop.rate = e
    else
      if #item.args > 0 then fail(root, item.args[1].pos, "spike_times takes no parameters") end
      if not item.arrays then
        fail(root, item.pos, "spike_times needs its spikes: spike_times(N) from arrays NAME")
      end
      pop.arrays = item.arrays
    end
    for k in pairs(per[item.name] or {}) do
      opterr(format("opts.params.%s.%s: '%s' is a %s generator, it has no parameters to override",
                    item.name, k, item.name, item.model))
    end
  elseif not entry then
    local cands = {}
    for k, m in pairs(net.models) do if m.node.tag == "neuron" then cands[k] = true end end
    for k in pairs(GENERATORS) do cands[k] = true end
    fail(root, item.pos, format("unknown neuron model '%s'%s", item.model, suggest(item.model, cands)))
  elseif entry.node.tag ~= "neuron" then
    fail(root, item.pos, format("'%s' is a synapse model, not a neuron model", item.model))
  else
    net.used = net.used or {}
    net.used[entry.node] = true
    local overrides = argmap(item.args, net.scope)
    local names = modelnames(entry.node)
    for k in pairs(global) do if names[k] then usedopt[k] = true end end
    mergeopts(overrides, per[item.name], global, names)
    pop = M.neuron(net, entry, n, overrides, item.name)
    pop.pos = item.pos
    for k, o in pairs(per[item.name] or {}) do
      if not o.used then
        opterr(format("opts.params.%s.%s: '%s' has no parameter or state variable '%s'%s", item.name, k,
                      item.model, k, suggest(k, names)))
      end
    end
  end
  addname(net, item.name, pop, item.pos)
  net.pops[#net.pops + 1] = pop
  pop.id = #net.pops
end

local RULES = { all_to_all = "all", one_to_one = "one_to_one", probability = "prob",
                in_degree = "indegree", out_degree = "outdegree", arrays = "arrays" }

function M.connect(net, item)
  local root = net.src
  local pairs_ = {}
  for _, a in ipairs(item.pre) do
    for _, b in ipairs(item.post) do pairs_[#pairs_ + 1] = { a, b } end
  end
  if item.as and #pairs_ > 1 then
    fail(root, item.pos, format("'as %s' names one projection, this connect makes %d", item.as, #pairs_))
  end
  netfield(net, item.as, item.pos, "projection")
  for _, pr in ipairs(pairs_) do
    local pre, plo, phi = popref(net, pr[1], net.scope)
    local post, qlo, qhi = popref(net, pr[2], net.scope)
    if post.kind ~= "neuron" then
      fail(root, pr[2].pos, format("'%s' is a %s generator: it cannot receive connections", post.name, post.kind))
    end
    local npre, npost = phi - plo + 1, qhi - qlo + 1
    local clause = { kind = "network", src = root, names = {}, parent = net.scope,
                     builtins = { i = true, j = true, N_pre = true, N_post = true, pi = true },
                     consts = { N_pre = npre, N_post = npost }, slice = { i = plo, j = qlo }, rand = true }
    local proj = { isproj = true, pre = pre, post = post, pre_range = { plo, phi }, post_range = { qlo, qhi },
                   src = root, pos = item.pos, onto = item.onto, onto_pos = item.onto_pos or item.pos,
                   self = item.self_connections ~= false }
    -- the rule
    local r = item.rule
    local rk = RULES[r.kind]
    if not rk then fail(root, r.pos, format("unknown connection rule '%s'", tostring(r.kind))) end
    proj.rule = { kind = rk }
    if rk == "prob" then
      local noscope = copy(clause, { rand = false, norand = "the probability is drawn by the runtime" })
      local e, d = expr(noscope, r.value)
      needless(noscope, r.value, "a probability", d)
      if isnum(e) then
        if not (e[2] >= 0 and e[2] <= 1) then
          fail(root, r.value.pos, format("a probability must be in [0, 1], got %s", tostring(e[2])))
        end
        proj.rule.p = e[2]
      else
        proj.rule.pexpr = e
      end
    elseif rk == "indegree" or rk == "outdegree" then
      local k = posint(clause, r.value, rk == "indegree" and "in_degree" or "out_degree", 0)
      local limit = rk == "indegree" and npre or npost
      if k > limit then
        fail(root, r.value.pos, format("%s %d is more than the %d neurons to draw from", r.kind, k, limit))
      end
      proj.rule.k = k
    elseif rk == "one_to_one" and npre ~= npost then
      fail(root, r.pos, format("one_to_one needs equal sizes (%d and %d)", npre, npost))
    elseif rk == "arrays" then
      proj.rule.arrays = r.arrays
      proj.arrays = r.arrays
    end
    if item.weight then
      local e, d = expr(clause, item.weight)
      proj.weight = { expr = e, dim = d, pos = item.weight.pos }
    end
    if item.delay then
      local e, d = expr(clause, item.delay)
      if not dimeq(d, SECOND) then
        fail(root, item.delay.pos, format("unit mismatch in delay: s and %s", dimstr(d)))
      end
      if isnum(e) then
        if not (e[2] >= 0) then fail(root, item.delay.pos, "a delay must be >= 0") end
        local k = math.floor(e[2] / net.dt + 0.5)
        if k > M.MAXDELAY then
          fail(root, item.delay.pos, format("a delay of %g s is %.3g steps of dt (%g s): at most %d steps (%g s)",
                                            e[2], k, net.dt, M.MAXDELAY, M.MAXDELAY * net.dt))
        end
        proj.delay = math.max(1, math.tointeger(k))
      else
        proj.delay_expr = e
      end
    else
      proj.delay = 1
    end
    -- the synapse model
    local syn = item.synapse
    local entry, overrides
    if syn.tag == "use" then
      entry = net.models[syn.model]
      if not entry or entry.node.tag ~= "synapse" then
        local cands = {}
        for k, m in pairs(net.models) do if m.node.tag == "synapse" then cands[k] = true end end
        fail(root, syn.pos, format(entry and "'%s' is a neuron model, not a synapse model"
                                         or "unknown synapse model '%s'", syn.model) ..
                              (entry and "" or suggest(syn.model, cands)))
      end
      net.used = net.used or {}
      net.used[entry.node] = true
      overrides = argmap(syn.args, net.scope)
    else
      entry = { node = syn, src = root }
      overrides = {}
    end
    proj.overrides = overrides
    -- name
    local name = item.as
    if not name then
      local base = pre.name .. "->" .. post.name
      local k = 1
      name = base
      while net.byname[name] do k = k + 1; name = base .. "#" .. k end
    end
    proj.name = name
    proj.syn = M.synapse(net, entry, proj)
    addname(net, name, proj, item.pos)
    net.projs[#net.projs + 1] = proj
    proj.id = #net.projs
  end
end

-- Monitors. A record statement makes one monitor per population (or
-- projection) and recorded name; the slices of one population in a
-- statement, and the statements that record the same variable of the same
-- population with the same 'every', 'to' and 'as', make ONE state monitor
-- whose columns are all the neurons recorded, ascending, each once
-- (record v of H[10], H[40] has two columns). Two monitors may not stream
-- to one file.
local function monkey(m)
  return concat({ tostring(m.owner_id), m.sym.name, tostring(m.every or 1), m.file or "", m.name or "" }, "\0")
end

function M.record(net, item)
  local root = net.src
  netfield(net, item.as, item.pos, "monitor")
  local owners, nowners = {}, 0
  for _, ref in ipairs(item.targets) do
    if not owners[ref.name] then owners[ref.name] = true; nowners = nowners + 1 end
  end
  if item.as and nowners > 1 then
    fail(root, item.pos, format("'as %s' names the monitors of one population or projection, this record has %d: "
                                .. "write one record statement per population", item.as, nowners))
  end
  net.monbykey = net.monbykey or {}
  net.monfiles = net.monfiles or {}
  local every = item.every and steps(net, net.scope, item.every, "every")
  local function addfile(m)
    if not m.file then return end
    local prev = net.monfiles[m.file]
    if prev and prev ~= m then
      fail(root, item.pos, format("'%s' is already the file of the monitor at line %d: each monitor streams to "
                                  .. "its own file (one record statement per population and variable)",
                                  m.file, M.lineof(root, prev.pos)))
    end
    net.monfiles[m.file] = m
  end
  for _, ref in ipairs(item.targets) do
    local obj, lo, hi = popref(net, ref, net.scope, "record")
    local mon = { kind = item.kind, file = item.file, name = item.as, pos = item.pos, range = { lo, hi },
                  every = every }
    if obj.isproj then
      if item.kind ~= "state" then
        fail(root, ref.pos, format("'%s' is a projection: record its variables (record w of %s)", obj.name, obj.name))
      end
      mon.proj = obj
      if ref.lo and not ref.single and not ref.hi then
        fail(root, ref.pos, format("a slice of the synapses of '%s' needs its last index (%s[%d..K]): the number "
                                   .. "of synapses is known only when the network is built", obj.name, obj.name, lo))
      end
      mon.range = ref.lo and { lo, hi } or nil
      mon.owner_id = "proj" .. obj.id
    else
      mon.pop = obj
      mon.owner_id = "pop" .. obj.id
      if item.kind ~= "spikes" and item.kind ~= "rate" and obj.kind ~= "neuron" then
        fail(root, ref.pos, format("'%s' is a %s generator: it has no variables to record", obj.name, obj.kind))
      end
    end
    if item.kind == "state" then
      for q, v in ipairs(item.vars) do
        local owner = obj.isproj and obj.syn or obj
        local sym = owner.names[v]
        local ok = sym and (sym.kind == "state" or sym.kind == "input" or sym.kind == "def"
                            or sym.kind == "syn" or sym.kind == "postsyn")
        if not ok then
          local cands = {}
          for k, s in pairs(owner.names) do
            if s.kind ~= "param" then cands[k] = true end
          end
          fail(root, (item.vars_pos or {})[q] or ref.pos,
               format("unknown variable '%s' of %s '%s'%s", v, obj.isproj and "projection" or "population",
                      obj.name, #v <= 64 and suggest(v, cands) or ""))
        end
        if sym.kind == "def" and obj.isproj then
          fail(root, (item.vars_pos or {})[q] or ref.pos,
               format("'%s' is a definition of the synapse: record the variables it uses", v))
        end
        if sym.kind == "def" then
          M.define(sym)
          whole({ src = root }, { pos = (item.vars_pos or {})[q] or ref.pos },
                format("recorded definition '%s'", v), sym.dim)
          if M.uses(sym.expr, function(x) return x[1] == "xi" end) then
            fail(root, (item.vars_pos or {})[q] or ref.pos,
                 format("'%s' uses the white noise xi, which has no value between steps: record the variables it uses", v))
          end
        end
        if sym.kind == "def" and not (obj.recorded_defs and obj.recorded_defs[sym]) then
          obj.recorded_defs = obj.recorded_defs or {}
          obj.recorded_defs[sym] = true
          obj.recorded_defs[#obj.recorded_defs + 1] = sym
        end
        local m = copy(mon, { sym = sym })
        local key = monkey(m)
        local prev = net.monbykey[key]
        if prev then
          prev.ranges[#prev.ranges + 1] = m.range or false
        else
          m.ranges = { m.range or false }
          net.monbykey[key] = m
          net.monitors[#net.monitors + 1] = m
          addfile(m)
        end
      end
    else
      net.monitors[#net.monitors + 1] = mon
      addfile(mon)
    end
  end
end

-- drive VAR of POP from poisson(K, rate = R) weight W: at the start of every
-- step each neuron of the slice gets VAR += W * Binomial(K, R dt), the summed
-- effect of K independent Poisson sources (Brian2's PoissonInput) without
-- K * N synapses. VAR is a state variable (a jump, like on_pre's v_post += w).
function M.poissondrive(net, item)
  local root, pd = net.src, item.poisson
  local pop, lo, hi = popref(net, item.target, net.scope)
  if pop.kind ~= "neuron" then
    fail(root, item.target.pos, format("'%s' is a %s generator: it cannot be driven", pop.name, pop.kind))
  end
  local sym = pop.names[item.var]
  if not sym or sym.kind ~= "state" or sym.perneuron then
    local cands = {}
    for _, st in ipairs(pop.states) do if not st.perneuron then cands[st.name] = true end end
    local why = sym and sym.kind == "input" and format(": '%s' is an input (a sum recomputed every step); a Poisson "
      .. "drive adds jumps to a state variable (drive v of %s ...), or connect a poisson population through "
      .. "a synapse model to feed an input", item.var, pop.name)
      or format(": not a state variable of '%s'%s", pop.name, suggest(item.var, cands))
    fail(root, item.pos, format("drive %s from poisson%s", item.var, why))
  end
  for _, dr in ipairs(pop.drives or {}) do
    if dr.sym == sym then
      fail(root, item.pos, format("'%s' is set by a drive from arrays (line %d): a Poisson drive would be "
                                  .. "overwritten", item.var, M.lineof(root, dr.pos)))
    end
  end
  local k = posint(net.scope, pd.n, "the number of sources of a Poisson drive", 0)
  local rarg = pd.rate
  if rarg.name ~= "rate" then
    fail(root, rarg.pos, format("poisson takes 'rate', not '%s'%s", rarg.name, suggest(rarg.name, { rate = true })))
  end
  local rate, rd = M.constant(net.scope, rarg.value, "the rate of a Poisson drive")
  if not dimeq(rd, mkdim(0, 0, -2, 0, 0, 0, 0)) then
    fail(root, rarg.value.pos, format("unit mismatch in rate: Hz and %s", dimstr(rd)))
  end
  M.poissonrate(net, root, rarg.value, rate, "the sources of a Poisson drive")
  local wscope = { kind = "network", src = root, names = {}, parent = net.scope, builtins = { i = true, N = true },
                   consts = { N = pop.n }, rand = true }
  local we, wd = expr(wscope, pd.weight)
  if not isnum(we) then
    fail(root, pd.weight.pos, "the weight of a Poisson drive must be one constant, the jump of one source's "
      .. "spike in every neuron of the drive (for other jumps, one drive per slice)")
  end
  local w = we[2]
  if not dimeq(wd, sym.dim) then
    fail(root, pd.weight.pos, format("unit mismatch in weight: %s (%s) and %s", dimstr(sym.dim), item.var, dimstr(wd)))
  end
  pop.pdrives = pop.pdrives or {}
  pop.pdrives[#pop.pdrives + 1] = { sym = sym, n = k, rate = rate, weight = w, range = { lo, hi }, pos = item.pos }
end

function M.drive(net, item, opts)
  if item.poisson then return M.poissondrive(net, item) end
  local root = net.src
  local pop, lo, hi = popref(net, item.target, net.scope)
  if pop.kind ~= "neuron" then
    fail(root, item.target.pos, format("'%s' is a %s generator: it cannot be driven", pop.name, pop.kind))
  end
  local sym = pop.names[item.var]
  local ok = sym and (sym.kind == "input" or sym.kind == "state")
  if ok and sym.kind == "state" then
    for _, ode in ipairs(pop.odes) do
      if ode.sym == sym then
        fail(root, item.pos, format("'%s' is integrated by an equation: drive an input, or a state variable without equation", item.var))
      end
    end
  end
  if not ok then
    local cands = {}
    for _, s in ipairs(pop.inputs) do cands[s.name] = true end
    for _, s in ipairs(pop.states) do cands[s.name] = true end
    fail(root, item.pos, format("drive: '%s' is not an input of '%s'%s", item.var, pop.name,
                                suggest(item.var, cands)))
  end
  local arr = (opts.arrays or {})[item.arrays]
  if arr == nil then
    fail(root, item.pos, format("drive: no array '%s' in opts.arrays", item.arrays))
  end
  local every, secs = steps(net, net.scope, item.every, "every")
  local scale = 1.0
  if item.scale then
    local v, d = M.constant(net.scope, item.scale, "scale")
    if not dimeq(d, sym.dim) then
      fail(root, item.scale.pos, format("unit mismatch in scale: %s (%s) and %s", dimstr(sym.dim), item.var, dimstr(d)))
    end
    scale = v
  end
  local dr = { pop = pop, sym = sym, values = arr, interval = secs, every = every, scale = scale,
               range = { lo, hi }, whole = (lo == 0 and hi == pop.n - 1), pos = item.pos }
  pop.drives = pop.drives or {}
  pop.drives[#pop.drives + 1] = dr
  net.drives[#net.drives + 1] = dr
end

return M
