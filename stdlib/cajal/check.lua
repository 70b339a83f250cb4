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
-- Why the algebra of dimensions (equality, product, power) is not units.c's
-- cj_dim through the binding: cj_dim holds whole exponents and has no
-- unknown dimension, while the compiler needs half exponents (xi is in
-- s^-1/2, sqrt(tau) in s^1/2, whole again once multiplied) and ANY/ZERO (a
-- bare 0 fits any unit; a name unresolved while a synapse model is checked
-- alone). The few lines below are that algebra; the names of dimensions
-- (dimstr) and of units come from C.
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

-- The nearest of names (a list or set-like table of strings) to name, or
-- nil: the grammar's suggestion, so that a typo gets one answer at parse
-- and at check time.
local function nearest(name, names)
  return G().suggest(name, names)
end
M.nearest = nearest

local function suggest(name, names)
  local n = nearest(name, names)
  if n then return format(" (did you mean '%s'?)", n) end
  return ""
end
M.suggest = suggest

-- ---- typed expressions: cajal.texpr -----------------------------------------

local texpr = require "cajal.texpr"
local isnum, num, mk, call, uses = texpr.isnum, texpr.num, texpr.mk, texpr.call, texpr.uses
M.num, M.mk, M.call, M.uses = num, mk, call, uses

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

-- Functions: name -> { nargs, kind } (cajal.functions says what kind means).
local FUNCTIONS = require "cajal.functions"
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
-- The counts live in the compilation's context (scope.cx, see M.network).
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
      for _, d in ipairs(scope.cx.defstack) do
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
    local cx = scope.cx
    local reach = cx.nesting + sym.depth
    if reach > MAXNEST then toodeep(scope, node) end
    if reach > cx.deepest then cx.deepest = reach end
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
  local cx = scope.cx
  if cx.nesting >= MAXNEST then toodeep(scope, node) end
  cx.nesting = cx.nesting + 1
  if cx.nesting > cx.deepest then cx.deepest = cx.nesting end
  local e, d = expr1(scope, node)
  cx.nesting = cx.nesting - 1
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
-- the compilation, and its context (sym.scope.cx) with it.
function M.define(sym)
  if sym.expr then return end
  local cx = sym.scope.cx
  sym.checking = true
  cx.defstack[#cx.defstack + 1] = sym
  local n0, d0 = cx.nesting, cx.deepest
  cx.deepest = cx.nesting
  local e, d = expr(sym.scope, sym.node.value)
  sym.depth = cx.deepest - n0
  if d0 > cx.deepest then cx.deepest = d0 end
  cx.defstack[#cx.defstack] = nil
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
        local ps = { kind = os.kind, src = os.src, names = os.names, parent = { names = inst.names }, cx = os.cx,
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
  local cx = net.cx
  local base = { kind = "neuron", src = entry.src, names = inst.names, cx = cx,
                 builtins = { pi = true }, consts = consts, norand = "parameters are constants" }
  parameters(inst, base, node.parameters, overrides, { n = n })
  for _, inp in ipairs(node.inputs or {}) do
    declare(inst, inp, { kind = "input", dim = unitdim(base, inp.unit) }, "input")
    inst.inputs[#inst.inputs + 1] = inst.names[inp.name]
  end
  local init = { kind = "neuron", src = entry.src, names = inst.names, cx = cx,
                 builtins = { i = true, N = true, pi = true }, consts = consts, rand = true }
  -- overrides of states are evaluated in the model's scope as well
  for _, o in pairs(overrides) do
    if o.node then o.scope = { kind = "neuron", src = o.scope.src, names = inst.names, cx = cx,
                               parent = o.scope, builtins = init.builtins, consts = consts, rand = true } end
  end
  states(inst, init, node.state, "state", overrides, inst.states)
  unused(overrides, inst)
  local eqscope = { kind = "neuron", src = entry.src, names = inst.names, cx = cx,
                    builtins = copy(NEURON_BUILTINS, { xi = true }), consts = consts,
                    norand = "in equations, use xi for noise" }
  defs_and_odes(inst, eqscope, node.equations, { state = true, what = "state variables" })
  inst.scope = { kind = "neuron", src = entry.src, names = inst.names, cx = cx,
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
    local s = { kind = "synapse", src = entry.src, names = inst.names, cx = net.cx,
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

-- ---- positions ------------------------------------------------------------------

-- The runtime's limits (vm/core/net.c, vm/bind/lnet.c), enforced here so
-- that a model out of range gets a located error, not an internal one.
M.MAXINDEX = 2147483647          -- neurons per population, degrees (int32 indices)
M.MAXDT = 1e6                    -- s
M.MAXDELAY = 10000000            -- steps of a delay
M.MAXSTEPS = 2^53                -- steps of 'every', of a refractory period


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

-- The methods and fields of the network object that cj.load returns
-- (stdlib/cajal/network.lua: Net and FIELDS). A population, projection or
-- monitor is reached as net.NAME, so one of these names would be hidden
-- behind the method or field: refused where it is declared.
-- tests/lua/network.lua checks this list against the object itself.
M.NETFIELDS = {}
for w in ([[run every cancel reset save wait_compile t dt step backend compiling seed name populations
  projections spikes state rate memory threads monitors]]):gmatch("%S+") do M.NETFIELDS[w] = true end

-- ---- the network: cajal.netcheck ------------------------------------------------

-- what netcheck.lua takes from here besides the functions of M above
M.SECOND, M.needless, M.whole, M.copy, M.argmap = SECOND, needless, whole, copy, argmap

-- network(root, models, opts) -> net: the network statements checked
-- (netcheck.lua), each model used becoming an instance (M.neuron, M.synapse).
function M.network(root, models, opts)
  return require("cajal.netcheck").network(root, models, opts)
end

return M
