-- cajal.emit — the last stage of the network compiler: IR (vm/core/IR.md)
-- -> one C translation unit, compiled by the runtime's JIT (vm/core/jit.c).
--
-- The C file includes only <math.h>, <stdint.h>, <stddef.h>, declares its own
-- copy of cj_kctx (identical to vm/core/net.h; tests/lua/compile.lua compares
-- them) and one function `void cjk_<id>(const cj_kctx *c)` per kernel.
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

-- The context structure, kept identical to cj_kctx in vm/core/net.h.
M.KCTX = [[
typedef struct cj_kctx {
  int64_t n;
  int64_t step;
  double t, dt;
  double **var;
  const int64_t *list;
  const int32_t *pre, *post;
  const double *lastspike;
  double refractory;
  uint32_t key[2];
  uint32_t kid;
  void (*philox)(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
  int64_t *spikes, *nspikes;
  double *result;
} cj_kctx;
]]

-- Helpers with fixed names; semantics as IR.md §2 and §4 state them.
local PRELUDE = [[
#include <math.h>
#include <stdint.h>
#include <stddef.h>

]] .. M.KCTX .. [[

int cj_kernel_abi = 1;

static inline double cj_sign(double x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }
static inline double cj_heaviside(double x) { return x > 0.0 ? 1.0 : 0.0; }
static inline double cj_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double cj_clip(double x, double lo, double hi) { return fmin(fmax(x, lo), hi); }
static inline double cj_b(int x) { return x ? 1.0 : 0.0; }
static double cj_draw(const cj_kctx *c, int64_t e, uint32_t k, int normal)
{
  uint32_t ctr[4], w[4];
  double u1, u2;
  ctr[0] = (uint32_t)e;
  ctr[1] = (uint32_t)c->step;
  ctr[2] = ((((uint32_t)((uint64_t)c->step >> 32)) & 0xFFFFu) << 16) | (c->kid & 0xFFFFu);
  ctr[3] = k;
  c->philox(ctr, c->key, w);
  u1 = ((double)(((uint64_t)w[0] << 21) ^ ((uint64_t)w[1] >> 11))) * 0x1.0p-53;
  if (!normal) return u1;
  u2 = ((double)(((uint64_t)w[2] << 21) ^ ((uint64_t)w[3] >> 11))) * 0x1.0p-53;
  return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.141592653589793 * u2);
}
]]

-- Fixed function table: IR name -> C name, arity.
local FUNCS = {
  exp = {"exp", 1}, log = {"log", 1}, log1p = {"log1p", 1}, expm1 = {"expm1", 1},
  log10 = {"log10", 1}, sqrt = {"sqrt", 1}, abs = {"fabs", 1},
  sin = {"sin", 1}, cos = {"cos", 1}, tan = {"tan", 1},
  sinh = {"sinh", 1}, cosh = {"cosh", 1}, tanh = {"tanh", 1},
  atan = {"atan", 1}, atan2 = {"atan2", 2},
  floor = {"floor", 1}, ceil = {"ceil", 1}, round = {"round", 1},
  fmod = {"fmod", 2},
  sign = {"cj_sign", 1}, pow = {"pow", 2}, min = {"fmin", 2}, max = {"fmax", 2},
  clip = {"cj_clip", 3}, sigmoid = {"cj_sigmoid", 1}, heaviside = {"cj_heaviside", 1},
}
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
    return "t" .. k
  elseif op == "var" then
    local r = int(e[2], "slot")
    if r >= ctx.nslots then bad("slot", r) end
    local ix = INDEX[e[3]]
    if not ix or not ctx.hows[e[3]] then bad("var pick", e[3]) end
    return format("v%d[%s]", r, ix)
  elseif op == "t" then return "ct"
  elseif op == "dt" then return "cdt"
  elseif op == "n" then return "(double)cn"
  elseif op == "i" then
    if not ctx.hows.i and not ctx.hows.pre then bad("i outside its domain", ctx.domain) end
    return ctx.hows.i and "(double)i" or "(double)c->pre[s]"
  elseif op == "j" then
    if not ctx.hows.post then bad("j outside a synapse domain", ctx.domain) end
    return "(double)c->post[s]"
  elseif op == "notref" then
    if not ctx.hows.i then bad("notref outside a neuron domain", ctx.domain) end
    return "cj_b(!(ct - cls[i] < crf))"
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
    return format("cj_b(%s %s %s)", expr(e[2], ctx), CMPOPS[op], expr(e[3], ctx))
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
    return format("cj_draw(c, %s, %du, %d)", ctx.elem, k, e[2] == "normal" and 1 or 0)
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
    elseif op == "set" or op == "add" then
      local r = int(st[2], "slot")
      if r >= ctx.nslots then bad("slot", r) end
      local ix = INDEX[st[3]]
      if not ix or not ctx.hows[st[3]] then bad("var pick", st[3]) end
      local target = format("v%d[%s]", r, ix)
      local v = expr(st[4], ctx)
      if op == "set" then
        out[#out + 1] = format("%s%s = %s;", indent, target, v)
      else
        out[#out + 1] = format("%s%s = %s + %s;", indent, target, target, v)
      end
    elseif op == "if" then
      out[#out + 1] = format("%sif (%s != 0.0) {", indent, expr(st[2], ctx))
      stmts(st[3], ctx, out, indent .. "  ")
      if st[4] and #st[4] > 0 then
        out[#out + 1] = indent .. "} else {"
        stmts(st[4], ctx, out, indent .. "  ")
      end
      out[#out + 1] = indent .. "}"
    else
      bad("statement", op)
    end
  end
end

-- domain -> which `how` picks exist there, the element index, loop header
local DOMAINS = {
  neurons  = { hows = { i = true }, elem = "i",
               head = "for (int64_t i = 0; i < cn; i++) {" },
  spikes   = { hows = { i = true }, elem = "i",
               head = "for (int64_t q = 0; q < cn; q++) {\n    const int64_t i = c->list[q];" },
  synapses = { hows = { s = true, pre = true, post = true }, elem = "s",
               head = "for (int64_t s = 0; s < cn; s++) {" },
  events   = { hows = { s = true, pre = true, post = true }, elem = "s",
               head = "for (int64_t q = 0; q < cn; q++) {\n    const int64_t s = c->list[q];" },
  pairs    = { hows = { pre = true, post = true }, elem = "s",
               head = "for (int64_t s = 0; s < cn; s++) {" },
  scalar   = { hows = {}, elem = "0" },
}

local function kernel(k, id)
  local dom = DOMAINS[k.domain]
  if not dom then bad("domain", k.domain) end
  local ctx = { domain = k.domain, hows = dom.hows, elem = dom.elem,
                nslots = #(k.refs or {}), ntmp = int(k.ntmp or 0, "ntmp") }
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
    out[#out + 1] = format("  double *restrict const v%d = c->var[%d];", r, r)
  end
  -- the context's scalars in locals: the loops then read no memory that
  -- a store through v<r> could change
  out[#out + 1] = "  const int64_t cn = c->n;"
  out[#out + 1] = "  const double ct = c->t, cdt = c->dt, crf = c->refractory;"
  out[#out + 1] = "  const double *const cls = c->lastspike;"
  out[#out + 1] = "  (void)cn; (void)ct; (void)cdt; (void)crf; (void)cls;"
  local body, indent = {}, "    "
  for q = 0, ctx.ntmp - 1 do body[#body + 1] = format("%sdouble t%d;", indent, q) end
  local kind = k.kind or "stmts"
  if kind == "stmts" then
    stmts(k.body, ctx, body, indent)
  elseif kind == "threshold" then
    if k.domain ~= "neurons" then bad("threshold domain", k.domain) end
    body[#body + 1] = format("%sif (!(ct - cls[i] < crf) && %s != 0.0)",
                             indent, expr(k.cond, ctx))
    body[#body + 1] = indent .. "  c->spikes[(*c->nspikes)++] = i;"
  elseif kind == "sum" then
    if k.domain ~= "synapses" or ctx.nslots < 1 then bad("sum kernel", k.domain) end
    body[#body + 1] = format("%sv0[c->post[s]] += %s;", indent, expr(k.value, ctx))
  else
    bad("kernel kind", kind)
  end
  if k.domain == "scalar" then
    if kind ~= "stmts" or ctx.ntmp < 1 then bad("scalar kernel", id) end
    out[#out + 1] = "  {"
    for _, l in ipairs(body) do out[#out + 1] = l end
    out[#out + 1] = "    *c->result = t0;"
    out[#out + 1] = "  }"
  else
    if k.domain == "pairs" then
      if kind ~= "stmts" or ctx.ntmp < 1 then bad("pairs kernel", id) end
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
function M.c(ir)
  local parts = { PRELUDE }
  for id, k in ipairs(ir.kernels or {}) do
    if k.id ~= nil and k.id ~= id then bad("kernel id", k.id) end
    parts[#parts + 1] = kernel(k, id)
  end
  return concat(parts, "\n") .. "\n"
end

return M
