-- cajal.emit — the last stage of the network compiler: IR (vm/core/IR.md)
-- -> one C translation unit, compiled by the runtime's JIT (vm/core/jit.c).
--
-- The C file includes only <math.h>, <stdint.h>, <stddef.h>, starts with the
-- runtime's kernel prelude (its cj_kctx is generated from the one in
-- vm/core/interp.h) and has one function `void cjk_<id>(const cj_kctx *c)`
-- per kernel.
-- Nothing from the model reaches the C text: identifiers are generated
-- (cjk_<id>, v<slot>, t<tmp>, fixed helpers), numbers are re-printed from
-- their values as hex floats (exact), function names come from a fixed table,
-- and comments carry kernel ids and model line numbers only.
--
-- The IR interpreter (vm/core/interp.c) must compute bit-identical results,
-- so every expression is printed fully parenthesised in IR order: no
-- reassociation, and the JIT compiles with -ffp-contract=off (no FMA).
-- Neuron update kernels contain no branches (ifelse becomes a ternary on
-- doubles) so gcc vectorises them; thresholds are separate kernels.
local M = {}

local format, concat = string.format, table.concat

local core = require "cajal.core"

-- The kernel prelude of the runtime (vm/core/interp.c cj_kernel_prelude():
-- includes, cj_kctx, the helpers both backends share), taken from the
-- runtime itself: there is no copy to keep equal.
M.PRELUDE = core.kernel_prelude()

-- Helpers of our own, after the prelude (fixed names).
local HELPERS = [[
static inline double cj_b(int x) { return x ? 1.0 : 0.0; }
]]

local function prelude() return M.PRELUDE end
-- The function table, IR name -> { C name, arity }: the runtime's
-- (CJ_KFUNCS in vm/core/interp.h), so both backends call the same C.
local FUNCS = core.kernel_functions()
M.FUNCS = FUNCS

local BINOPS = { ["+"] = "+", ["-"] = "-", ["*"] = "*", ["/"] = "/" }
local CMPOPS = { ["<"] = "<", ["<="] = "<=", [">"] = ">", [">="] = ">=",
                 ["=="] = "==", ["~="] = "!=" }

-- A double as exact C text.
local function number(x)
  if x ~= x then return "NAN" end
  if x == math.huge then return "HUGE_VAL" end
  if x == -math.huge then return "(-HUGE_VAL)" end
  if x == 0 then return (1 / x < 0) and "(-0.0)" or "0.0" end
  local s = format("%a", x)
  if x < 0 then s = "(" .. s .. ")" end
  return s
end
M.number = number

local function bad(what, v)
  error(format("emit: malformed IR (%s: %s)", what, tostring(v)), 0)
end

local function int(v, what)
  if math.type(v) ~= "integer" then
    if type(v) == "number" and v == math.floor(v) and v >= 0 and v < 2^31 then
      return math.tointeger(v)
    end
    bad(what, v)
  end
  if v < 0 or v >= 2^31 then bad(what, v) end
  return v
end

-- The element index of the domain for `how` picks and random counters.
local INDEX = { i = "i", pre = "c->pre[s]", post = "c->post[s]", s = "s" }

local expr

local function args(e, n, k)
  local out = {}
  for a = 1, n do out[a] = expr(e[k + a], k) end
  return out
end

-- ctx: { domain, nslots, ntmp, elem = C expression of the element index }
function expr(e, ctx)
  if type(e) ~= "table" then bad("expression", e) end
  local op = e[1]
  if op == "num" then
    if type(e[2]) ~= "number" then bad("num", e[2]) end
    return number(e[2] + 0.0)
  elseif op == "tmp" then
    local k = int(e[2], "tmp")
    if k >= ctx.ntmp then bad("tmp index", k) end
    -- a temporary is read only after its let (on every path): C would read
    -- an uninitialised double, the interpreter a stale one
    if not ctx.set[k] then bad("tmp read before its let", k) end
    return "t" .. k
  elseif op == "var" then
    local r = int(e[2], "slot")
    if r >= ctx.nslots then bad("slot", r) end
    local ix = INDEX[e[3]]
    if not ix or not ctx.hows[e[3]] then bad("var pick", e[3]) end
    if ctx.single then return format("((double)v%d[%s])", r, ix) end
    return format("v%d[%s]", r, ix)
  elseif op == "t" then return "ct"
  elseif op == "dt" then return "cdt"
  elseif op == "n" then return "(double)c->npop"
  elseif op == "i" then
    if not ctx.hows.i and not ctx.hows.pre then bad("i outside its domain", ctx.domain) end
    return ctx.hows.i and "(double)i" or "(double)c->pre[s]"
  elseif op == "j" then
    if not ctx.hows.post then bad("j outside a synapse domain", ctx.domain) end
    return "(double)c->post[s]"
  elseif op == "notref" then
    if not ctx.hows.i then bad("notref outside a neuron domain", ctx.domain) end
    return "((ct - cls[i]) >= crf ? 1.0 : 0.0)"
  elseif op == "lastspike" then
    if not ctx.hows.i then bad("lastspike outside a neuron domain", ctx.domain) end
    return "cls[i]"
  elseif BINOPS[op] then
    return format("(%s %s %s)", expr(e[2], ctx), BINOPS[op], expr(e[3], ctx))
  elseif op == "neg" then
    return format("(-%s)", expr(e[2], ctx))
  elseif op == "pow" then
    return format("pow(%s, %s)", expr(e[2], ctx), expr(e[3], ctx))
  elseif CMPOPS[op] then
    return format("(%s %s %s ? 1.0 : 0.0)", expr(e[2], ctx), CMPOPS[op], expr(e[3], ctx))
  elseif op == "and" or op == "or" then
    -- both sides evaluated (IR.md): bitwise on the 0/1 truth values
    return format("cj_b((%s != 0.0) %s (%s != 0.0))", expr(e[2], ctx),
                  op == "and" and "&" or "|", expr(e[3], ctx))
  elseif op == "not" then
    return format("cj_b(%s == 0.0)", expr(e[2], ctx))
  elseif op == "ifelse" then
    return format("(%s != 0.0 ? %s : %s)", expr(e[2], ctx), expr(e[3], ctx), expr(e[4], ctx))
  elseif op == "call" then
    local f = FUNCS[e[2]]
    if not f then bad("function", e[2]) end
    if #e ~= 2 + f[2] then bad("argument count of " .. e[2], #e - 2) end
    local a = {}
    for q = 1, f[2] do a[q] = expr(e[2 + q], ctx) end
    return format("%s(%s)", f[1], concat(a, ", "))
  elseif op == "rand" then
    local k = int(e[3], "draw index")
    if e[2] ~= "uniform" and e[2] ~= "normal" then bad("distribution", e[2]) end
    return format("%s(c, %s, %d)", e[2] == "normal" and "cj_normal" or "cj_uniform", ctx.elem, k)
  end
  bad("expression", op)
end

local function stmts(list, ctx, out, indent)
  if type(list) ~= "table" then bad("statement list", list) end
  for _, st in ipairs(list) do
    local op = st[1]
    if op == "let" then
      local k = int(st[2], "tmp")
      if k >= ctx.ntmp then bad("tmp index", k) end
      out[#out + 1] = format("%st%d = %s;", indent, k, expr(st[3], ctx))
      ctx.set[k] = true
    elseif op == "set" or op == "add" then
      local r = int(st[2], "slot")
      if r >= ctx.nslots then bad("slot", r) end
      local ix = INDEX[st[3]]
      if not ix or not ctx.hows[st[3]] then bad("var pick", st[3]) end
      local target = format("v%d[%s]", r, ix)
      local v = expr(st[4], ctx)
      if ctx.single then
        -- single precision: computed in double, rounded once on store
        if op == "set" then
          out[#out + 1] = format("%s%s = (float)%s;", indent, target, v)
        else
          out[#out + 1] = format("%s%s = (float)((double)%s + %s);", indent, target, target, v)
        end
      elseif op == "set" then
        out[#out + 1] = format("%s%s = %s;", indent, target, v)
      else
        out[#out + 1] = format("%s%s = %s + %s;", indent, target, target, v)
      end
    elseif op == "if" then
      out[#out + 1] = format("%sif (%s != 0.0) {", indent, expr(st[2], ctx))
      local before = ctx.set
      local function branch(list)
        ctx.set = setmetatable({}, { __index = before })
        stmts(list, ctx, out, indent .. "  ")
        return ctx.set
      end
      local yes = branch(st[3])
      local no = {}
      if st[4] and #st[4] > 0 then
        out[#out + 1] = indent .. "} else {"
        no = branch(st[4])
      end
      out[#out + 1] = indent .. "}"
      ctx.set = before                         -- set after the if: set in both branches
      for k in pairs(yes) do if rawget(no, k) then before[k] = true end end
    else
      bad("statement", op)
    end
  end
end

-- domain -> which `how` picks exist there, the element index, loop header
local DOMAINS = {
  neurons  = { hows = { i = true }, elem = "i",
               head = "for (int64_t i = clo; i < cn; i++) {" },
  spikes   = { hows = { i = true }, elem = "i",
               head = "for (int64_t q = clo; q < cn; q++) {\n    const int64_t i = c->list[q];" },
  synapses = { hows = { s = true, pre = true, post = true }, elem = "s",
               head = "for (int64_t s = clo; s < cn; s++) {" },
  events   = { hows = { s = true, pre = true, post = true }, elem = "s",
               head = "for (int64_t q = clo; q < cn; q++) {\n    const int64_t s = c->list[q];" },
  pairs    = { hows = { pre = true, post = true }, elem = "s",
               head = "for (int64_t s = clo; s < cn; s++) {" },
  scalar   = { hows = {}, elem = "0" },
}

local function kernel(k, id, single)
  local dom = DOMAINS[k.domain]
  if not dom then bad("domain", k.domain) end
  local ctx = { domain = k.domain, hows = dom.hows, elem = dom.elem, set = {},
                nslots = #(k.refs or {}), ntmp = int(k.ntmp or 0, "ntmp"), single = single }
  local out = {}
  out[#out + 1] = format("/* kernel %d, model line %d */", id,
                         math.type(k.line) == "integer" and k.line or 0)
  out[#out + 1] = format("void cjk_%d(const cj_kctx *c)", id)
  out[#out + 1] = "{"
  local seen = {}
  for r = 0, ctx.nslots - 1 do
    -- slots name distinct arrays (lower.lua makes refs unique): restrict
    -- lets gcc vectorise without run-time alias checks
    local ref = k.refs[r + 1]
    if type(ref) ~= "table" then bad("ref", ref) end
    local key = concat({tostring(ref[1]), tostring(ref[2]), tostring(ref[3])}, ":")
    if seen[key] then bad("duplicate ref", r) end
    seen[key] = true
    out[#out + 1] = format("  %s *restrict const v%d = c->var[%d];", single and "float" or "double", r, r)
  end
  -- the context's scalars in locals: the loops then read no memory that
  -- a store through v<r> could change
  out[#out + 1] = "  const int64_t cn = c->n, clo = c->lo;"
  out[#out + 1] = "  const double ct = c->t, cdt = c->dt, crf = c->refractory;"
  out[#out + 1] = "  const double *const cls = c->lastspike;"
  out[#out + 1] = "  (void)cn; (void)clo; (void)ct; (void)cdt; (void)crf; (void)cls;"
  local body, indent = {}, "    "
  for q = 0, ctx.ntmp - 1 do body[#body + 1] = format("%sdouble t%d;", indent, q) end
  local kind = k.kind or "stmts"
  if kind == "stmts" then
    stmts(k.body, ctx, body, indent)
  elseif kind == "threshold" then
    if k.domain ~= "neurons" then bad("threshold domain", k.domain) end
    ctx.cond = expr(k.cond, ctx)
  elseif kind == "sum" then
    if k.domain ~= "synapses" or ctx.nslots < 1 then bad("sum kernel", k.domain) end
    if single then
      body[#body + 1] = format("%sv0[c->post[s]] = (float)((double)v0[c->post[s]] + %s);", indent, expr(k.value, ctx))
    else
      body[#body + 1] = format("%sv0[c->post[s]] += %s;", indent, expr(k.value, ctx))
    end
  else
    bad("kernel kind", kind)
  end
  if k.domain == "scalar" then
    if kind ~= "stmts" or ctx.ntmp < 1 or not ctx.set[0] then bad("scalar kernel", id) end
    out[#out + 1] = "  {"
    for _, l in ipairs(body) do out[#out + 1] = l end
    out[#out + 1] = "    *c->result = t0;"
    out[#out + 1] = "  }"
  elseif kind == "threshold" then
    -- Spikes are rare: a branch-free (vectorised) pass over a block of 32
    -- neurons tells whether any crosses, and only such blocks are scanned
    -- again, in order, to append the spiking ones (the condition is a pure
    -- function of the state: evaluating it twice changes nothing). The
    -- count lives in a local: a store through spikes could otherwise change
    -- *nspikes (both int64_t), and gcc would reload it every iteration.
    out[#out + 1] = "  int64_t *const csp = c->spikes;"
    out[#out + 1] = "  int64_t cns = *c->nspikes;"
    out[#out + 1] = "  for (int64_t b = clo; b < cn; b += 32) {"
    out[#out + 1] = "    const int64_t e = cn - b < 32 ? cn : b + 32;"
    out[#out + 1] = "    int any = 0;"
    out[#out + 1] = "    for (int64_t i = b; i < e; i++) {"
    for _, l in ipairs(body) do out[#out + 1] = "  " .. l end
    out[#out + 1] = format("      any |= ((ct - cls[i]) >= crf) & (%s != 0.0);", ctx.cond)
    out[#out + 1] = "    }"
    out[#out + 1] = "    if (!any) continue;"
    out[#out + 1] = "    for (int64_t i = b; i < e; i++) {"
    for _, l in ipairs(body) do out[#out + 1] = "  " .. l end
    out[#out + 1] = format("      if ((ct - cls[i]) >= crf && %s != 0.0)", ctx.cond)
    out[#out + 1] = "        csp[cns++] = i;"
    out[#out + 1] = "    }"
    out[#out + 1] = "  }"
    out[#out + 1] = "  *c->nspikes = cns;"
  else
    if kind == "sum" then
      -- split by target (vm/core/threads.h): the synapses list[lo .. n-1]
      out[#out + 1] = "  if (c->list) {"
      out[#out + 1] = "  for (int64_t q = clo; q < cn; q++) {"
      out[#out + 1] = "    const int64_t s = c->list[q];"
      for _, l in ipairs(body) do out[#out + 1] = l end
      out[#out + 1] = "  }"
      out[#out + 1] = "  return;"
      out[#out + 1] = "  }"
    end
    if k.domain == "pairs" then
      if kind ~= "stmts" or ctx.ntmp < 1 or not ctx.set[0] then bad("pairs kernel", id) end
      body[#body + 1] = "    c->result[s] = t0;"
    end
    out[#out + 1] = "  " .. dom.head
    for _, l in ipairs(body) do out[#out + 1] = l end
    out[#out + 1] = "  }"
  end
  out[#out + 1] = "}"
  return concat(out, "\n")
end

-- emit.c(ir) -> C source text for every kernel of ir.kernels.
-- Raises "emit: malformed IR (...)" on a table that breaks IR.md.
-- ir.precision "single": variables are float arrays (`float *v<r>`), read
-- as ((double)v<r>[..]) and stored with one rounding (IR.md §7).
function M.c(ir)
  local prec = ir.precision or "double"
  if prec ~= "double" and prec ~= "single" then bad("precision", prec) end
  local single = prec == "single"
  local parts = { prelude(), HELPERS }
  for id, k in ipairs(ir.kernels or {}) do
    if k.id ~= nil and k.id ~= id then bad("kernel id", k.id) end
    parts[#parts + 1] = kernel(k, id, single)
  end
  return concat(parts, "\n") .. "\n"
end

return M
