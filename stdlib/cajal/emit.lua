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
-- doubles) so gcc vectorises them; thresholds are separate kernels, and
-- each population's update and threshold are also emitted fused into one
-- pass over the neurons (cjf_<update>_<threshold>, IR.md §7), which the
-- runtime calls in their place when it can.
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
    if ctx.slotmap then r = ctx.slotmap[r] end
    if ctx.known and ctx.known[r] and e[3] == "i" then
      return format(ctx.single and "((double)x%d)" or "x%d", r)
    end
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
    return format("((ct - %s) >= crf ? 1.0 : 0.0)", ctx.ls or "cls[i]")
  elseif op == "lastspike" then
    if not ctx.hows.i then bad("lastspike outside a neuron domain", ctx.domain) end
    return ctx.ls or "cls[i]"
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
    return format("%s(%s, %s, %d)", e[2] == "normal" and "cj_normal" or "cj_uniform", ctx.cname or "c", ctx.elem, k)
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
      -- ctx.keep (the fused kernel): the value a top-level `set` stores at
      -- element i is kept in x<r> too, for the threshold to read
      local keep = ctx.keep and op == "set" and st[3] == "i" and ctx.depth == 0
      if ctx.keep then ctx.keep[r] = keep end
      if keep then
        out[#out + 1] = format("%sx%d = %s%s; %s = x%d;", indent, r, ctx.single and "(float)" or "", v, target, r)
      elseif ctx.single then
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
        ctx.depth = ctx.depth + 1
        stmts(list, ctx, out, indent .. "  ")
        ctx.depth = ctx.depth - 1
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

local function refkey(ref)
  return format("%s:%d:%d", tostring(ref[1]), int(ref[2], "ref owner"), int(ref[3], "ref var"))
end

-- The translation context of kernel k (id), and the start of its C function
-- `name` in out: the signature, a restrict pointer per slot, the context's
-- scalars in locals.
local function open(k, id, name, single, out)
  local dom = DOMAINS[k.domain]
  if not dom then bad("domain", k.domain) end
  local ctx = { domain = k.domain, hows = dom.hows, elem = dom.elem, set = {}, depth = 0,
                nslots = #(k.refs or {}), ntmp = int(k.ntmp or 0, "ntmp"), single = single }
  out[#out + 1] = format("/* kernel %d, model line %d */", id,
                         math.type(k.line) == "integer" and k.line or 0)
  out[#out + 1] = format("void %s(const cj_kctx *c)", name)
  out[#out + 1] = "{"
  local seen = {}
  for r = 0, ctx.nslots - 1 do
    -- slots name distinct arrays (lower.lua makes refs unique): restrict
    -- lets gcc vectorise without run-time alias checks
    local ref = k.refs[r + 1]
    if type(ref) ~= "table" then bad("ref", ref) end
    local key = refkey(ref)
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
  return ctx, dom
end

-- C: ca, the first neuron index from clo at which v0 (the first slot's
-- array) is 64-byte aligned, at most 7 (15 in single precision) past clo.
local function aligned(ctx)
  if ctx.nslots == 0 then return "  const int64_t ca = clo;" end
  return "  const int64_t ca = clo + (int64_t)(((0u - (uintptr_t)(v0 + clo)) & 63u) / sizeof *v0);"
end

local function kernel(k, id, single)
  local out = {}
  local ctx, dom = open(k, id, format("cjk_%d", id), single, out)
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
    if k.domain == "neurons" then
      -- the neurons before the first 64-byte boundary of v0, then the rest
      -- (see FUSEBLOCK below); `GCC ivdep` as in the fused pass
      out[#out + 1] = aligned(ctx)
      out[#out + 1] = "  const int64_t cm = ca < cn ? ca : cn;"
      for _, head in ipairs({ "for (int64_t i = clo; i < cm; i++) {", "for (int64_t i = cm; i < cn; i++) {" }) do
        out[#out + 1] = '  _Pragma("GCC ivdep") ' .. head
        for _, l in ipairs(body) do out[#out + 1] = l end
        out[#out + 1] = "  }"
      end
    else
      out[#out + 1] = "  " .. dom.head
      for _, l in ipairs(body) do out[#out + 1] = l end
      out[#out + 1] = "  }"
    end
  end
  out[#out + 1] = "}"
  return concat(out, "\n")
end

-- The fused pass (below) goes through the neurons in blocks of FUSEBLOCK:
-- a branch-free loop updates a block and ORs the spike tests of its
-- neurons; only a block with a spike is scanned again, testing the values
-- just stored (the test is a pure function of the state and the draws are
-- counter-based: the same value both times) into a bit mask (a vectorised
-- loop), whose set bits are appended in ascending order (FUSEBLOCK <= 64).
-- Full blocks run a loop of constant length (no vector epilogue), the
-- others the same body with their own bound. The first block ends where
-- the first slot's array is 64-byte aligned: the state arrays come from
-- malloc (16-byte aligned), and a 64-byte vector that straddles two cache
-- lines costs two accesses (the arrays of one population are allocated
-- alike, so one peel aligns them all when their offsets agree). Which
-- neurons a block holds changes no result: each neuron's arithmetic is its own.
local FUSEBLOCK = 64

-- Population pid's update kernel uid and threshold kernel tid in one pass
-- over the neurons, `void cjf_<uid>_<tid>(const cj_kctx *c)`, or nil when
-- the threshold reads a variable the update kernel does not name (or one
-- of another population). Called with the update kernel's context and the
-- population's spike list (c->spikes, c->nspikes: appended in ascending
-- order, as a threshold kernel does); the runtime uses it in place of the
-- two kernels when nothing that runs between them in a step (IR.md §3,
-- 4-5) writes the population's state (vm/core/net.c), so spikes and state
-- are those of the two passes, bit for bit. The threshold's random draws
-- keep its own kernel id (a copy of the context with kid = tid).
-- `GCC ivdep`: a neuron kernel touches element i only, of distinct arrays
-- (the slots are restrict): without it gcc adds run-time alias checks to
-- every block (it does not carry restrict from these locals into the loop).
local function fused(ir, pid, uid, tid, single)
  local U, T = ir.kernels[uid], ir.kernels[tid]
  if type(U) ~= "table" or type(T) ~= "table" or U.domain ~= "neurons" or (U.kind or "stmts") ~= "stmts"
     or T.domain ~= "neurons" or T.kind ~= "threshold" then return nil end
  local slot, map = {}, {}
  for r, ref in ipairs(U.refs or {}) do slot[refkey(ref)] = r - 1 end
  for r, ref in ipairs(T.refs or {}) do
    if ref[1] ~= "pop" or ref[2] ~= pid or not slot[refkey(ref)] then return nil end
    map[r - 1] = slot[refkey(ref)]
  end
  local out = {}
  local ctx = open(U, uid, format("cjf_%d_%d", uid, tid), single, out)
  local body, indent = {}, "      "
  -- the time of the last spike read once (no store can change it), the
  -- values the update stores kept in x<r> (ctx.keep): the threshold reads
  -- them from registers, not again from memory
  body[#body + 1] = indent .. "const double lsi = cls[i];"
  for q = 0, ctx.ntmp - 1 do body[#body + 1] = format("%sdouble t%d;", indent, q) end
  for r = 0, ctx.nslots - 1 do
    body[#body + 1] = format("%s%s x%d; (void)x%d;", indent, single and "float" or "double", r, r)
  end
  ctx.keep, ctx.ls = {}, "lsi"
  stmts(U.body, ctx, body, indent)
  local tctx = { domain = "neurons", hows = ctx.hows, elem = "i", set = {}, nslots = #(T.refs or {}),
                 ntmp = 0, single = single, slotmap = map, cname = "&cth", known = ctx.keep, ls = "lsi" }
  local cond = expr(T.cond, tctx)
  body[#body + 1] = format("%sany |= ((ct - lsi) >= crf) & (%s != 0.0);", indent, cond)
  -- the rescan reads the test's variables back from memory (the values
  -- just stored, in the arrays' precision: those the registers held)
  tctx.known, tctx.set = nil, {}
  local cond2 = expr(T.cond, tctx)
  if cond:find("&cth", 1, true) then
    out[#out + 1] = format("  cj_kctx cth = *c; cth.kid = %d;", tid)
  end
  local function loop(bound)
    out[#out + 1] = format('    _Pragma("GCC ivdep") for (int64_t i = b; i < %s; i++) {', bound)
    for _, l in ipairs(body) do out[#out + 1] = l end
    out[#out + 1] = "    }"
  end
  out[#out + 1] = "  int64_t *const csp = c->spikes;"
  out[#out + 1] = "  int64_t cns = *c->nspikes;"
  out[#out + 1] = aligned(ctx)
  out[#out + 1] = "  for (int64_t b = clo, e; b < cn; b = e) {"
  out[#out + 1] = format("    e = b < ca ? (ca < cn ? ca : cn) : (cn - b < %d ? cn : b + %d);", FUSEBLOCK, FUSEBLOCK)
  out[#out + 1] = "    int64_t any = 0;"
  out[#out + 1] = format("    if (e - b == %d)", FUSEBLOCK)
  loop(format("b + %d", FUSEBLOCK))
  out[#out + 1] = "    else"
  loop("e")
  out[#out + 1] = "    if (!any) continue;"
  out[#out + 1] = "    uint64_t m = 0;"
  out[#out + 1] = "    for (int64_t i = b; i < e; i++) {"
  out[#out + 1] = "      const double lsi = cls[i];"
  out[#out + 1] = format("      m |= (uint64_t)(((ct - lsi) >= crf) & (%s != 0.0)) << (i - b);", cond2)
  out[#out + 1] = "    }"
  out[#out + 1] = "    for (; m; m &= m - 1) csp[cns++] = b + __builtin_ctzll(m);"
  out[#out + 1] = "  }"
  out[#out + 1] = "  *c->nspikes = cns;"
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
  for pid, P in ipairs(ir.populations or {}) do
    if type(P) == "table" and (P.kind or "neuron") == "neuron" and P.update and P.threshold then
      parts[#parts + 1] = fused(ir, pid, int(P.update, "update kernel"), int(P.threshold, "threshold kernel"), single)
    end
  end
  return concat(parts, "\n") .. "\n"
end

return M
