-- cajal.lower — the third stage of the network compiler: the checked
-- network (cajal.check) -> the IR table of vm/core/IR.md.
--
-- Parameters are already numbers; here variables get their storage (state
-- as structure of arrays, per population and per projection, plus hidden
-- arrays whose names contain '@'), and every model construct becomes a
-- kernel: initial values, the integration step, the threshold, the reset,
-- synaptic events, summed coupling, connection-probability expressions.
--
-- Integration: cajal.integrate (the methods, the exact propagator and its
-- Pade matrix exponential); this file chooses the systems and stores the
-- new values.
--
-- Inputs. An input of a population is the sum of what drives it: summed
-- per-synapse outputs (the runtime sums them into the input, or into a
-- hidden '@sum' array when other terms exist), per-postsynaptic-neuron
-- outputs (expressions of the projection's postsynaptic variables, which
-- live in the post population as hidden 'name@projection' arrays), and
-- drives. The update kernel computes it first, from the old state. When
-- the neuron's equations and the postsynaptic ones are jointly linear with
-- constant coefficients once the inputs are substituted (a LIF with
-- current synapses of any shape), the whole system is integrated exactly
-- as one; otherwise each system is integrated by its own method with the
-- input held over the step.
local M = {}

local check = require "cajal.check"
local texpr = require "cajal.texpr"
local format, concat = string.format, table.concat
local mk, num, call, uses = texpr.mk, texpr.num, texpr.call, texpr.uses
local hasleaf, sum, isnum = texpr.hasleaf, texpr.sum, texpr.isnum
local fail = check.fail

-- ---- kernels -------------------------------------------------------------------
--
-- A kernel builder collects the slots (refs), temporaries and draws of one
-- kernel while its body is lowered.

local Kernel = {}
Kernel.__index = Kernel

local function newkernel(L, name, domain, kind, line)
  local k = setmetatable({ name = name, domain = domain, kind = kind or "stmts",
                           refs = {}, ntmp = 0, body = {}, line = line or 0,
                           slotof = {}, drawof = {}, ndraw = 0, L = L }, Kernel)
  return k
end

-- slot of (owner kind, owner id, var index)
function Kernel:slot(owner, id, var)
  local key = owner .. ":" .. id .. ":" .. var
  local r = self.slotof[key]
  if not r then
    self.refs[#self.refs + 1] = { owner, id, var }
    r = #self.refs - 1
    self.slotof[key] = r
  end
  return r
end

function Kernel:tmp()
  local k = self.ntmp
  self.ntmp = k + 1
  return k
end

local function trivial(e)
  local op = e[1]
  return op == "num" or op == "tmp" or op == "var" or op == "t" or op == "dt"
      or op == "i" or op == "j" or op == "n"
end

-- Bind e to a temporary (unless it is a leaf); returns the expression to use.
function Kernel:let(e, out)
  if self.inline or trivial(e) then return e end
  local k = self:tmp()
  out = out or self.body
  out[#out + 1] = { "let", k, e }
  return { "tmp", k }
end

-- the k of a draw: one per texpr draw node (a node inlined twice draws once)
function Kernel:draw(node)
  local k = self.drawof[node]
  if not k then
    k = self.ndraw
    self.ndraw = k + 1
    self.drawof[node] = k
  end
  return k
end

function Kernel:ir(id)
  local t = { id = id, name = self.name, domain = self.domain, kind = self.kind,
              refs = self.refs, ntmp = self.ntmp, line = self.line }
  if self.kind == "stmts" then t.body = self.body
  elseif self.kind == "threshold" then t.cond = self.cond
  elseif self.kind == "sum" then t.value = self.value end
  return t
end

-- ---- expressions -----------------------------------------------------------------
--
-- env = { k = kernel, domain = "neurons"|"spikes"|"synapses"|"events"|"pairs"|"scalar",
--         pop = population (neuron domains), proj = projection (synapse domains),
--         subst = { [sym] = IR expr } (values replacing variables: RK stages),
--         defs = { } (cache: def -> IR expr, per env), out = statement list,
--         tshift = IR expr added to t (RK stages), xi = function() -> IR expr }

local lx, shallow

-- The IR reference of a variable symbol read or written in env.
local function pick(env, sym, side)
  local L = env.k.L
  local st = L.store[sym]
  if not st then
    if sym.kind == "input" and L.zero_inputs[sym] then return nil end
    error(format("lower: no storage for '%s'", tostring(sym.name)), 0)
  end
  local how
  local d = env.domain
  if d == "neurons" or d == "spikes" then
    if st[1] ~= "pop" or st[2] ~= env.pop.id then
      error(format("lower: '%s' read outside its population", sym.name), 0)
    end
    how = "i"
  else
    if st[1] == "proj" then how = "s"
    elseif sym.kind == "postsyn" then how = side == "pre" and "pre" or "post"
    elseif side == "post" or side == "pre" then how = side
    else error(format("lower: '%s' needs _pre or _post here", sym.name), 0) end
  end
  return env.k:slot(st[1], st[2], st[3]), how
end

local function readvar(env, sym, side)
  if env.subst and env.subst[sym] then return env.subst[sym] end
  if sym.kind == "input" and env.k.L.zero_inputs[sym] then return num(0) end
  local r, how = pick(env, sym, side)
  return { "var", r, how }
end

local LEAVES = { t = true, dt = true, i = true, j = true, notref = true, lastspike = true }

-- IR expressions are kept at most LETDEPTH levels deep: a deeper one (a
-- sum of thousands of terms) is bound to a temporary at that depth, so the
-- runtime's reader, the interpreter and the C compiler never see deep
-- nesting (the C compiler is slow on it, the interpreter refuses it).
-- Binding computes a branch of an ifelse eagerly, which changes no value:
-- draws are counter-based and IR arithmetic does not trap.
local LETDEPTH = 64
local irdepth = setmetatable({}, { __mode = "k" })

function shallow(env, r)
  if type(r) ~= "table" or r[1] == "num" or r[1] == "tmp" then return r end
  local d = 0
  for q = 2, #r do
    local a = r[q]
    if type(a) == "table" and a[1] ~= nil then
      local da = irdepth[a] or 1
      if da > d then d = da end
    end
  end
  d = d + 1
  if d >= LETDEPTH and not env.k.inline then return env.k:let(r, env.out) end
  irdepth[r] = d
  return r
end

function lx(e, env, side)
  local op = e[1]
  if op == "num" then return e
  elseif op == "sym" then
    return readvar(env, e[2], e[3] or side)
  elseif op == "def" then
    local sym, s = e[2], e[3] or side
    local key = s and (s .. ":") or ""
    env.defs = env.defs or {}
    local cache = env.defs[sym]
    if not cache then cache = {}; env.defs[sym] = cache end
    local v = cache[key]
    if not v then
      v = env.k:let(lx(sym.expr, env, s), env.out)
      cache[key] = v
    end
    return v
  elseif op == "t" then
    if env.tshift then return mk("+", { "t" }, env.tshift) end
    return { "t" }
  elseif op == "notref" then
    if env.domain ~= "neurons" then error("lower: not_refractory outside a neuron kernel", 0) end
    if not env.pop.refractory or env.pop.refractory == 0 then return num(1) end
    return { "notref" }
  elseif op == "lastspike" then
    if env.domain ~= "neurons" and env.domain ~= "spikes" then
      error("lower: lastspike outside a neuron kernel", 0)
    end
    return { "lastspike" }
  elseif op == "i" and env.ionly_post then
    return { "i" }
  elseif op == "j" and env.domain == "neurons" then
    return { "i" }                       -- postsynaptic init in the post population
  elseif LEAVES[op] then
    return { op }
  elseif op == "xi" then
    if not env.xi then error("lower: xi outside an equation", 0) end
    return env.xi()
  elseif op == "rand" then
    return { "rand", e[2], env.k:draw(e) }
  elseif op == "unknown" then
    error("lower: unresolved name", 0)
  elseif op == "call" then
    local out = { "call", e[2] }
    for q = 3, #e do out[q] = lx(e[q], env, side) end
    return shallow(env, call(e[2], table.unpack(out, 3)))
  elseif op == "ifelse" then
    return shallow(env, mk("ifelse", lx(e[2], env, side), lx(e[3], env, side), lx(e[4], env, side)))
  elseif op == "neg" or op == "not" then
    return shallow(env, mk(op, lx(e[2], env, side)))
  else
    return shallow(env, mk(op, lx(e[2], env, side), lx(e[3], env, side)))
  end
end
M.lx = lx
M.readvar = readvar

-- ---- affine analysis ------------------------------------------------------------
--
-- affine(e, vars) -> { coef = { [sym] = texpr }, rest = texpr } when e is
-- affine in the variables (a set of syms), nil otherwise. Coefficients and
-- rest are texprs free of the variables; definitions are looked through.

--
-- Both are memoised per variable set and node (definitions by their
-- symbol): definitions that share definitions (d2 = d1 + d1) make a DAG,
-- and a long sum calls freeof on every suffix, so unmemoised both are
-- exponential or quadratic. A definition's affine parts that are not
-- plain leaves are wrapped as new definitions ("name@rest", "name@coef"),
-- lowered once per kernel like any definition, so results stay DAGs the
-- kernel computes once instead of trees that grow with every level.
local freememo = setmetatable({}, { __mode = "k" })   -- vars -> node -> bool
local affmemo = setmetatable({}, { __mode = "k" })    -- vars -> node|sym -> result|false

local function memo(t, vars)
  local m = t[vars]
  if not m then m = setmetatable({}, { __mode = "k" }); t[vars] = m end
  return m
end

local function freeof(e, vars)
  local m = memo(freememo, vars)
  local function free(x)
    local r = m[x]
    if r ~= nil then return r end
    local op = x[1]
    if op == "sym" then r = not vars[x[2]]
    elseif op == "def" then r = free(x[2].expr)
    else
      r = true
      for q = 2, #x do
        local a = x[q]
        if type(a) == "table" and a[1] ~= nil and not free(a) then r = false; break end
      end
    end
    m[x] = r
    return r
  end
  return free(e)
end

local LEAFOPS = { num = true, sym = true, def = true }
local function asdef(e, sym, what)
  if LEAFOPS[e[1]] then return e end
  return { "def", { kind = "def", name = sym.name .. "@" .. what, expr = e, dim = sym.dim,
                    pos = sym.pos, owner = sym.owner } }
end

local function scale(a, f, op)
  local r = { coef = {}, rest = a.rest and mk(op, a.rest, f) }
  for s, c in pairs(a.coef) do r.coef[s] = mk(op, c, f) end
  return r
end

local function addaff(a, b, op)
  local r = { coef = {} }
  for s, c in pairs(a.coef) do r.coef[s] = c end
  for s, c in pairs(b.coef) do
    if r.coef[s] then r.coef[s] = mk(op, r.coef[s], c)
    else r.coef[s] = (op == "-") and mk("neg", c) or c end
  end
  if a.rest and b.rest then r.rest = mk(op, a.rest, b.rest)
  elseif b.rest then r.rest = (op == "-") and mk("neg", b.rest) or b.rest
  else r.rest = a.rest end
  return r
end

local affine1

local function affine(e, vars)
  local m = memo(affmemo, vars)
  local key = e[1] == "def" and e[2] or e
  local r = m[key]
  if r == nil then
    r = affine1(e, vars) or false
    m[key] = r
  end
  return r or nil
end

function affine1(e, vars)
  local op = e[1]
  if op == "sym" and vars[e[2]] then
    return { coef = { [e[2]] = num(1) } }
  elseif op == "def" then
    if freeof(e, vars) then return { coef = {}, rest = e } end
    local a = affine(e[2].expr, vars)
    if not a then return nil end
    local r = { coef = {}, rest = a.rest and asdef(a.rest, e[2], "rest") }
    for s, c in pairs(a.coef) do r.coef[s] = asdef(c, e[2], "coef") end
    return r
  elseif freeof(e, vars) then
    return { coef = {}, rest = e }
  elseif op == "+" or op == "-" then
    local a, b = affine(e[2], vars), affine(e[3], vars)
    if not a or not b then return nil end
    return addaff(a, b, op)
  elseif op == "neg" then
    local a = affine(e[2], vars)
    if not a then return nil end
    return scale(a, num(-1), "*")
  elseif op == "*" then
    local fa, fb = freeof(e[2], vars), freeof(e[3], vars)
    if fa then
      local b = affine(e[3], vars)
      if not b then return nil end
      local r = { coef = {}, rest = b.rest and mk("*", e[2], b.rest) }
      for s, c in pairs(b.coef) do r.coef[s] = mk("*", e[2], c) end
      return r
    elseif fb then
      local a = affine(e[2], vars)
      if not a then return nil end
      return scale(a, e[3], "*")
    end
    return nil
  elseif op == "/" then
    if not freeof(e[3], vars) then return nil end
    local a = affine(e[2], vars)
    if not a then return nil end
    return scale(a, e[3], "/")
  end
  return nil
end
M.affine = affine

-- ---- integration: cajal.integrate ---------------------------------------------------

local integrate = require "cajal.integrate"
local linear, exact, stage = integrate.linear, integrate.exact, integrate.stage
local resetconstants   -- below
M.integrate = integrate.step
M.expm, M.expm_unbalanced, M.propagator, M.PADE = integrate.expm, integrate.expm_unbalanced,
  integrate.propagator, integrate.PADE
M.expm1, M.linear = integrate.expm1, integrate.linear


-- ---- statements ---------------------------------------------------------------------

local function lstmts(env, list)
  for _, st in ipairs(list) do
    if st[1] == "assign" then
      local sym, side, op, v = st[2], st[3], st[4], st[5]
      local val = lx(v, env)
      local r, how = pick(env, sym, side)
      if op == "=" then
        env.out[#env.out + 1] = { "set", r, how, val }
      elseif op == "+=" then
        env.out[#env.out + 1] = { "add", r, how, val }
      elseif op == "-=" then
        env.out[#env.out + 1] = { "add", r, how, mk("neg", val) }
      else
        env.out[#env.out + 1] = { "set", r, how, mk(op == "*=" and "*" or "/", { "var", r, how }, val) }
      end
      env.defs = {}               -- definitions read after this see the new value
    else
      local c = lx(st[2], env)
      local yes, no = {}, {}
      local function branch(body, out)
        local e = stage(env, env.subst, env.tshift)
        e.out = out
        lstmts(e, body)
      end
      branch(st[3], yes)
      branch(st[4], no)
      if isnum(c) then
        for _, s in ipairs(c[2] ~= 0 and yes or no) do env.out[#env.out + 1] = s end
      else
        env.out[#env.out + 1] = { "if", c, yes, no }
      end
      env.defs = {}
    end
  end
end

-- ---- the network ---------------------------------------------------------------------

local unitstr = check.unitstr

local function addkernel(L, kb)
  local id = #L.kernels + 1
  L.kernels[id] = kb:ir(id)
  return id
end

-- the role of a stored variable in the IR (what the Lua API lets a script do with it)
local ROLES = { state = "state", syn = "state", postsyn = "state", input = "input", def = "definition",
                hidden = "hidden" }

local function addvar(L, owner, sym, name, dim)
  local t = owner.ir
  local role = sym.perneuron and "parameter" or ROLES[sym.kind] or "state"
  t.vars[#t.vars + 1] = { name = name, unit = dim and unitstr(dim) or "1", role = role }
  L.store[sym] = { owner.isproj and "proj" or "pop", owner.id, #t.vars }
  return #t.vars
end

local function hidden(L, owner, name, dim)
  local sym = { kind = "hidden", name = name, dim = dim, owner = owner }
  addvar(L, owner, sym, name, dim)
  return sym
end

local function line(obj, pos) return check.lineof(obj.src, pos or (obj.model and obj.model.pos) or 1) end

local function arrays(net, opts, name, pos, fields)
  local a = (opts.arrays or {})[name]
  if a == nil then fail(net.src, pos, format("no array '%s' in opts.arrays", name)) end
  for _, f in ipairs(fields or {}) do
    if type(a) ~= "table" or a[f] == nil then
      fail(net.src, pos, format("opts.arrays.%s needs a field '%s'", name, f))
    end
  end
  return a
end

-- The state variables that a reset leaves at a constant: the value of its
-- last top-level assignment 'x = constant' when no later statement may
-- change x. sym -> number.
resetconstants = function(list)
  local out = {}
  local function touched(stmts, seen)
    for _, st in ipairs(stmts) do
      if st[1] == "assign" then seen[st[2]] = true
      else touched(st[3], seen); touched(st[4], seen) end
    end
    return seen
  end
  for _, st in ipairs(list) do
    if st[1] == "assign" then
      local v = st[5]
      out[st[2]] = (st[4] == "=" and not st[3] and v[1] == "num") and v[2] or nil
    else
      for sym in pairs(touched({ st }, {})) do out[sym] = nil end
    end
  end
  return out
end

-- neuron populations: storage
local function popvars(L, net, pop, opts)
  local p = { name = pop.name, n = pop.n, kind = "neuron", vars = {} }
  pop.ir = p
  if pop.kind == "poisson" then
    local r = pop.rate
    if isnum(r) then
      p.kind, p.rate = "poisson", r[2]
    elseif not hasleaf(r, { i = true }) then
      p.kind = "poisson"
      local kb = newkernel(L, pop.name .. "_rate", "scalar", "stmts", line(pop, pop.pos))
      local env = { k = kb, domain = "scalar", pop = pop, out = kb.body }
      local v = lx(r, env)
      kb:tmp()
      kb.body[#kb.body + 1] = { "let", 0, v }
      p.rate_kernel = addkernel(L, kb)
    else
      -- a rate that depends on the neuron: a neuron group drawing its spikes,
      -- its rates in a hidden variable (set once, or every step when they
      -- depend on t) that the runtime checks against 1/dt (rate_var)
      p.spiking = true
      local h = hidden(L, pop, "@rate", check.mkdim(0, 0, -2, 0, 0, 0, 0))
      p.rate_var = L.store[h][3]
      local function setter(name)
        local kb = newkernel(L, pop.name .. name, "neurons", "stmts", line(pop, pop.pos))
        local env = { k = kb, domain = "neurons", pop = pop, out = kb.body, defs = {} }
        local r0, how = pick(env, h)
        local v = lx(r, env)
        kb.body[#kb.body + 1] = { "set", r0, how, v }
        return addkernel(L, kb)
      end
      p.init = setter("_rate_init")
      if hasleaf(r, { t = true }) then p.update = setter("_rate") end
      local kb = newkernel(L, pop.name .. "_poisson", "neurons", "threshold", line(pop, pop.pos))
      local env = { k = kb, domain = "neurons", pop = pop }
      kb.cond = mk("<", { "rand", "uniform", 0 }, mk("*", { "var", kb:slot("pop", pop.id, p.rate_var), "i" }, num(L.dt)))
      kb.ndraw = 1
      p.threshold = addkernel(L, kb)
    end
    return
  elseif pop.kind == "spikegen" then
    local a = arrays(net, opts, pop.arrays, pop.pos, { "i", "t" })
    p.kind, p.times, p.indices = "spikegen", a.t, a.i
    return
  end
  for _, s in ipairs(pop.states) do addvar(L, pop, s, s.name, s.dim) end
  for _, s in ipairs(pop.inputs) do addvar(L, pop, s, s.name, s.dim) end
  for _, d in ipairs(pop.recorded_defs or {}) do
    if not L.store[d] then addvar(L, pop, d, d.name, d.dim) end
  end
  p.spiking = pop.spike ~= nil
  if pop.refractory and pop.refractory > 0 then
    -- the period in seconds (IR.md); the runtime turns it into the bound
    -- (K - 1/2) dt, K = timestep(T): refractory at steps k+1 .. k+K-1 after
    -- a spike at step k, as Brian2 counts them.
    p.refractory = pop.refractory
    -- Clamped variables are held at their value after the reset: a jump that
    -- reaches one (an on_pre event, a Poisson drive) in steps k+1 .. k+K is
    -- dropped, as Brian2's (unless refractory) drops writes while
    -- not_refractory is false (its events of step m act from step m+1 here).
    -- The reset stores the value in a hidden 'x@held'; the update starts by
    -- restoring it while t - lastspike < (K + 1/2) dt.
    -- (A reset that ends by setting the variable to a constant, v = v_reset,
    -- needs no storage: the constant is held.)
    local K = math.floor((pop.refractory + 1e-3 * L.dt) / L.dt)   -- cj_timestep(), as the runtime
    if K >= 1 and pop.clamp then
      local withode = {}
      for _, ode in ipairs(pop.odes) do withode[ode.sym] = true end
      local const = resetconstants(pop.reset or {})
      pop.held, pop.heldbound = {}, (K + 0.5) * L.dt
      for _, st in ipairs(pop.states) do
        if pop.clamp[st] and withode[st] then
          pop.held[#pop.held + 1] = { sym = st, value = const[st],
                                      held = not const[st] and hidden(L, pop, st.name .. "@held", st.dim) or nil }
        end
      end
    end
  end
  pop.inputs_of = {}
  for _, s in ipairs(pop.inputs) do pop.inputs_of[s] = { sums = {}, post = {}, drives = {} } end
end

local function whole(range, n) return range[1] == 0 and range[2] == n - 1 end
local function inrange(range)
  return mk("and", mk(">=", { "i" }, num(range[1])), mk("<=", { "i" }, num(range[2])))
end

local function projvars(L, net, proj, opts)
  local syn = proj.syn
  local q = { name = proj.name, pre = proj.pre.id, post = proj.post.id,
              pre_range = proj.pre_range, post_range = proj.post_range,
              self = proj.self, vars = {}, summed = {} }
  proj.ir = q
  local rule = proj.rule
  if rule.kind == "arrays" then
    local a = arrays(net, opts, rule.arrays, proj.pos, { "i", "j" })
    q.rule = { kind = "arrays", i = a.i, j = a.j }
    proj.arraydata = a
  elseif rule.pexpr then
    q.rule = { kind = "prob" }
  else
    q.rule = { kind = rule.kind, p = rule.p, k = rule.k }
  end
  for _, s in ipairs(syn.vars) do addvar(L, proj, s, s.name, s.dim) end
  local evodes, clock, postodes = {}, {}, {}
  for _, ode in ipairs(syn.odes) do
    if ode.sym.kind == "postsyn" then postodes[#postodes + 1] = ode
    elseif ode.event_driven then evodes[#evodes + 1] = ode
    else clock[#clock + 1] = ode end
  end
  proj.evodes, proj.clock, proj.postodes = evodes, clock, postodes
  if #evodes > 0 then proj.lastupdate = hidden(L, proj, "@lastupdate", check.BUILTINS.t) end
  if proj.delay_expr or (proj.arraydata and proj.arraydata.delay ~= nil) then
    proj.delaysym = hidden(L, proj, "@delay", check.BUILTINS.t)
    q.delay_var = L.store[proj.delaysym][3]
  else
    q.delay = proj.delay
  end
  if proj.arraydata then
    local a = proj.arraydata
    q.weights = {}
    if a.w ~= nil then
      if not syn.names.w or syn.names.w.kind ~= "syn" then
        fail(net.src, proj.pos, format("opts.arrays.%s has w, but the synapse has no variable w", rule.arrays))
      end
      q.weights.w = a.w
    end
    if a.delay ~= nil then q.weights["@delay"] = a.delay end
  end
  -- postsynaptic variables live in the post population, one set per projection
  local post = proj.post
  q.post_vars = {}
  for _, s in ipairs(syn.postvars) do
    local idx = addvar(L, post, s, s.name .. "@" .. proj.name, s.dim)
    q.post_vars[#q.post_vars + 1] = { name = s.name, var = idx }
  end
  post.incoming = post.incoming or {}
  post.incoming[#post.incoming + 1] = proj
  for _, out in ipairs(syn.outputs) do
    local slot = post.inputs_of[out.input]
    if out.persyn then slot.sums[#slot.sums + 1] = { proj = proj, expr = out.expr }
    else slot.post[#slot.post + 1] = { proj = proj, expr = out.expr } end
  end
end

-- inputs: where each is stored and how the update kernel computes it
local function inputs(L, pop)
  if pop.kind ~= "neuron" then return end
  for _, pd in ipairs(pop.pdrives or {}) do
    pop.ir.poisson_inputs = pop.ir.poisson_inputs or {}
    local t = pop.ir.poisson_inputs
    t[#t + 1] = { var = L.store[pd.sym][3], n = pd.n, rate = pd.rate, weight = pd.weight, range = pd.range }
  end
  for _, dr in ipairs(pop.drives or {}) do
    local sym = dr.sym
    if sym.kind == "state" and dr.whole and dr.scale == 1 then
      pop.ir.drives = pop.ir.drives or {}
      pop.ir.drives[#pop.ir.drives + 1] = { var = L.store[sym][3], values = dr.values, interval = dr.interval }
    else
      local k = #(pop.ir.drives or {}) + 1
      local h = hidden(L, pop, sym.name .. "@drive" .. k, sym.dim)
      pop.ir.drives = pop.ir.drives or {}
      pop.ir.drives[#pop.ir.drives + 1] = { var = L.store[h][3], values = dr.values, interval = dr.interval }
      local v = mk("*", num(dr.scale), { "sym", h })
      if not dr.whole then v = mk("ifelse", inrange(dr.range), v, num(0)) end
      if sym.kind == "state" then
        pop.statedrives = pop.statedrives or {}
        pop.statedrives[#pop.statedrives + 1] = { sym = sym, value = v, whole = dr.whole, range = dr.range }
      else
        local slot = pop.inputs_of[sym]
        slot.drives[#slot.drives + 1] = v
      end
    end
  end
  pop.inputexpr = {}
  for _, s in ipairs(pop.inputs) do
    local slot = pop.inputs_of[s]
    local only_sums = #slot.post == 0 and #slot.drives == 0
    if #slot.sums == 0 and only_sums then
      L.zero_inputs[s] = true
    elseif only_sums then
      slot.target = s                       -- the runtime sums straight into the input
    else
      local terms = {}
      if #slot.sums > 0 then
        slot.target = hidden(L, pop, s.name .. "@sum", s.dim)
        terms[#terms + 1] = { "sym", slot.target }
      end
      for _, c in ipairs(slot.post) do
        local e = c.expr
        if not whole(c.proj.post_range, pop.n) then e = mk("ifelse", inrange(c.proj.post_range), e, num(0)) end
        terms[#terms + 1] = e
      end
      for _, d in ipairs(slot.drives) do terms[#terms + 1] = d end
      pop.inputexpr[s] = sum(terms)
    end
  end
end

-- e with each child expression mapped by f (a new node only when one changed)
local function mapkids(e, f)
  local r, changed = { e[1] }, false
  for q = 2, #e do
    local a = e[q]
    r[q] = (type(a) == "table" and a[1] ~= nil) and f(a) or a
    if r[q] ~= a then changed = true end
  end
  return changed and r or e
end

-- the definition node e with its expression mapped by f: a new definition
-- named after it (suffix), made once per memo key, or e when f changes nothing
local function redef(e, memo, key, suffix, f)
  local sym = e[2]
  local d = memo[key]
  if d == nil then
    local x = f(sym.expr)
    d = x ~= sym.expr and { kind = "def", name = sym.name .. suffix, expr = x, dim = sym.dim,
                            pos = sym.pos, owner = sym.owner } or false
    memo[key] = d
  end
  if not d then return e end
  return { "def", d, e[3] }
end

-- texpr with the inputs of pop replaced by what they sum. A definition
-- that reads an input becomes a new definition of the substituted
-- expression, made once per symbol (memo: sym -> def node), so shared
-- definitions stay shared.
local function substinputs(e, pop, memo)
  local op = e[1]
  memo = memo or {}
  local function f(a) return substinputs(a, pop, memo) end
  if op == "sym" then
    local s = e[2]
    if s.kind == "input" and s.owner == pop then
      if pop.inputexpr[s] then return pop.inputexpr[s] end
    end
    return e
  elseif op == "def" then
    return redef(e, memo, e[2], "@in", f)
  end
  return mapkids(e, f)
end

-- The inputs read by a sum kernel (through r_pre = I_in, or any definition
-- of a pre or post neuron) are those of this step (IR.md section 3): the
-- runtime stores an input in the update kernel (step 4), after the sums
-- (step 3), so a sum kernel reads instead what the input sums: its drives
-- (set at step 2), its postsynaptic terms (from the state at the start of
-- the step) and its '@sum' array, which projections earlier in the file
-- have filled. texpr e of proj's output -> e with those inputs replaced;
-- a summed input filled by this projection or a later one is an error
-- (an algebraic loop, or an order the runtime cannot honour).
local function sideexpr(e, side)
  -- an expression of a neuron read from a synapse: its index is i (pre) or j (post)
  local op = e[1]
  if op == "i" then return side == "post" and { "j" } or e end
  if op == "sym" and e[2].kind == "postsyn" and not e[3] then return { "sym", e[2], side } end
  return mapkids(e, function(a) return sideexpr(a, side) end)
end

local function stepinputs(e, proj, out, memo, side)
  local op = e[1]
  if op == "sym" or op == "def" then side = e[3] or side end
  local function f(a) return stepinputs(a, proj, out, memo, side) end
  if op == "sym" and e[2].kind == "input" and side then
    local s = e[2]
    local pop = side == "pre" and proj.pre or proj.post
    if s.owner ~= pop or not pop.inputs_of then return e end
    for _, c in ipairs(pop.inputs_of[s].sums) do
      if c.proj.id >= proj.id then
        local why = c.proj == proj and "which it sums into itself: an algebraic loop;"
                    or format("which '%s' sums into later in the step: connect '%s' before '%s', or",
                              c.proj.name, c.proj.name, proj.name)
        fail(proj.syn.src, out.pos, format("the output of '%s' reads the input '%s' of '%s' (%s), %s "
          .. "give '%s' a state variable (dr/dt = ...)", proj.name, s.name, pop.name, side, why, pop.name))
      end
    end
    local x = pop.inputexpr[s]
    return x and sideexpr(x, side) or e
  elseif op == "def" then
    return redef(e, memo, (side or "") .. ":" .. tostring(e[2]), "@now", f)
  end
  return mapkids(e, f)
end

-- A statement kernel over the neurons of pop named NAME_suffix, and the
-- environment its expressions are lowered in.
local function popkernel(L, pop, suffix)
  local kb = newkernel(L, pop.name .. "_" .. suffix, "neurons", "stmts", line(pop))
  return kb, { k = kb, domain = "neurons", pop = pop, out = kb.body, defs = {} }
end

local function popinit(L, pop)
  local kb, env = popkernel(L, pop, "init")
  local function set(sym, e)
    local r, how = pick(env, sym)
    kb.body[#kb.body + 1] = { "set", r, how, e }
    env.defs = {}
  end
  for _, s in ipairs(pop.states) do set(s, lx(s.init, env)) end
  for _, s in ipairs(pop.inputs) do set(s, num(0)) end
  for _, proj in ipairs(pop.incoming or {}) do
    for _, s in ipairs(proj.syn.postvars) do set(s, lx(s.init, env)) end
  end
  return addkernel(L, kb)
end

-- recorded definitions: a kernel the runtime runs on the current state
-- before a state monitor of the population records, and at the end of a run
local function popdefs(L, pop)
  if not pop.recorded_defs or #pop.recorded_defs == 0 then return nil end
  local kb, env = popkernel(L, pop, "defs")
  for _, d in ipairs(pop.recorded_defs) do
    local r, how = pick(env, d)
    local v = lx({ "def", d }, env)            -- may append lets: before the index
    kb.body[#kb.body + 1] = { "set", r, how, v }
  end
  return addkernel(L, kb)
end

local function popupdate(L, pop)
  local kb, env = popkernel(L, pop, "update")
  -- 0. clamped variables of neurons that spiked less than K + 1/2 steps ago
  -- are read as their value after the reset (jumps since are dropped): a
  -- temporary that every read of the kernel uses (env.subst)
  for _, h in ipairs(pop.held or {}) do
    local r, how = pick(env, h.sym)
    local held = h.value and num(h.value) or { "var", pick(env, h.held) }
    local recent = mk("<", mk("-", { "t" }, { "lastspike" }), num(pop.heldbound))
    env.subst = env.subst or {}
    env.subst[h.sym] = kb:let(mk("ifelse", recent, held, { "var", r, how }))
  end
  -- 1. driven state variables, 2. inputs (from the old state)
  for _, sd in ipairs(pop.statedrives or {}) do
    local r, how = pick(env, sd.sym)
    local v = lx(sd.value, env)
    if not sd.whole then v = mk("ifelse", lx(inrange(sd.range), env), v, { "var", r, how }) end
    kb.body[#kb.body + 1] = { "set", r, how, v }
  end
  for _, s in ipairs(pop.inputs) do
    if pop.inputexpr[s] then
      local r, how = pick(env, s)
      local v = lx(pop.inputexpr[s], env)       -- may append lets: before the index
      kb.body[#kb.body + 1] = { "set", r, how, v }
    end
  end
  env.defs = {}
  -- 3. the systems: the neuron's equations and each projection's postsynaptic ones
  local groups = {}
  local g0 = {}
  for _, ode in ipairs(pop.odes) do
    g0[#g0 + 1] = { sym = ode.sym, rhs = ode.rhs, pos = ode.pos, clamp = pop.clamp and pop.clamp[ode.sym] }
  end
  groups[1] = { system = g0, method = pop.method,
                where = { src = pop.src, pos = pop.method_pos or (pop.model and pop.model.pos), what = format("'%s'", pop.model.name) } }
  for _, proj in ipairs(pop.incoming or {}) do
    if #proj.postodes > 0 then
      local g = {}
      for _, ode in ipairs(proj.postodes) do
        if uses(ode.rhs, function(x) return (x[1] == "sym" and (x[2].kind == "syn" or x[3] == "pre"))
                                           or x[1] == "i" or x[1] == "j" end) then
          fail(proj.syn.src, ode.pos, format("the equation of postsynaptic '%s' may use only postsynaptic values", ode.sym.name))
        end
        g[#g + 1] = { sym = ode.sym, rhs = ode.rhs, pos = ode.pos }
      end
      groups[#groups + 1] = { system = g, method = proj.syn.method,
                              where = { src = proj.syn.src, pos = proj.syn.method_pos or proj.syn.model.pos,
                                        what = format("'%s'", proj.syn.model.name or "the synapse") } }
    end
  end
  -- joint exact integration when inputs couple the systems linearly
  local results = {}
  local joint = false
  if #groups > 1 then
    local all, ok, memo = {}, true, {}
    for _, g in ipairs(groups) do
      if g.method and g.method ~= "exact" then ok = false end
      for _, eq in ipairs(g.system) do
        all[#all + 1] = { sym = eq.sym, rhs = substinputs(eq.rhs, pop, memo), pos = eq.pos, clamp = eq.clamp }
      end
    end
    local A, f = nil, nil
    if ok and #all > 0 then A, f = linear(all) end
    if A then
      local new = exact(env, all, A, f)
      if new then
        joint = true
        for q, eq in ipairs(all) do results[#results + 1] = { eq = eq, new = new[q] } end
      end
    end
  end
  if not joint then
    for _, g in ipairs(groups) do
      local e = stage(env)
      e.defs = {}
      local new = integrate.step(e, g.system, g.method, g.where)
      for q, eq in ipairs(g.system) do results[#results + 1] = { eq = eq, new = new[q] } end
    end
  end
  -- 4. store
  for _, res in ipairs(results) do
    local r, how = pick(env, res.eq.sym)
    local v = res.new
    if res.eq.clamp and pop.ir.refractory then
      v = mk("ifelse", { "notref" }, v, (env.subst and env.subst[res.eq.sym]) or { "var", r, how })
    end
    kb.body[#kb.body + 1] = { "set", r, how, v }
  end
  return addkernel(L, kb)
end

local function inline_env(kb, domain, pop, proj)
  -- threshold and sum kernels have no statements: definitions are inlined
  kb.inline = true
  return { k = kb, domain = domain, pop = pop, proj = proj, defs = {} }
end

local function neuronkernels(L, pop)
  local p = pop.ir
  p.init = popinit(L, pop)
  p.update = popupdate(L, pop)
  p.defs = popdefs(L, pop)
  if pop.spike then
    local kb = newkernel(L, pop.name .. "_threshold", "neurons", "threshold", line(pop, pop.model.blocks and pop.model.blocks.spike))
    kb.cond = lx(pop.spike, inline_env(kb, "neurons", pop))
    p.threshold = addkernel(L, kb)
  end
  local stores = {}
  for _, h in ipairs(pop.held or {}) do if h.held then stores[#stores + 1] = h end end
  if (pop.reset and #pop.reset > 0) or #stores > 0 then
    local kb = newkernel(L, pop.name .. "_reset", "spikes", "stmts", line(pop, pop.model.blocks and pop.model.blocks.reset))
    local env = { k = kb, domain = "spikes", pop = pop, out = kb.body, defs = {} }
    lstmts(env, pop.reset or {})
    for _, h in ipairs(stores) do                  -- the value the refractory period holds
      local r, how = pick(env, h.sym)
      local rh, howh = pick(env, h.held)
      kb.body[#kb.body + 1] = { "set", rh, howh, { "var", r, how } }
    end
    p.reset = addkernel(L, kb)
  end
end

-- event-driven variables advanced in closed form from @lastupdate to t
local function catchup(env, proj)
  if #proj.evodes == 0 then return end
  local kb = env.k
  local r0, how0 = pick(env, proj.lastupdate)
  local delta = kb:let(mk("-", { "t" }, { "var", r0, how0 }), env.out)
  for _, ode in ipairs(proj.evodes) do
    local a = affine(ode.rhs, { [ode.sym] = true })
    local A = a and (a.coef[ode.sym] or num(0))
    local B = a and (a.rest or num(0))
    if not a or not isnum(A) or not isnum(B) then
      fail(proj.syn.src, ode.pos, format("event-driven d%s/dt must be linear in %s with constant coefficients",
                                          ode.sym.name, ode.sym.name))
    end
    local r, how = pick(env, ode.sym)
    local x = { "var", r, how }
    local v
    if A[2] == 0 then
      v = mk("+", x, mk("*", B, delta))
    else
      local ad = mk("*", A, delta)
      v = mk("*", x, call("exp", ad))
      if B[2] ~= 0 then v = mk("+", v, mk("*", num(B[2] / A[2]), call("expm1", ad))) end
    end
    env.out[#env.out + 1] = { "set", r, how, v }
  end
  env.out[#env.out + 1] = { "set", r0, how0, { "t" } }
end

local function projkernels(L, net, proj)
  local q, syn = proj.ir, proj.syn
  local ln = line(proj, proj.pos)
  -- initial values, weights, delays
  do
    local kb = newkernel(L, proj.name .. "_init", "synapses", "stmts", ln)
    local env = { k = kb, domain = "synapses", proj = proj, out = kb.body, defs = {} }
    local function set(sym, e)
      local r, how = pick(env, sym)
      kb.body[#kb.body + 1] = { "set", r, how, e }
      env.defs = {}
    end
    for _, s in ipairs(syn.vars) do
      if s == syn.names.w and proj.weight then
        set(s, lx(proj.weight.expr, env))          -- the weight clause replaces w's default
      else
        set(s, lx(s.init, env))
      end
    end
    if proj.delay_expr then set(proj.delaysym, lx(proj.delay_expr, env)) end
    if proj.lastupdate then set(proj.lastupdate, num(0)) end
    if #kb.body > 0 then q.init = addkernel(L, kb) end
  end
  -- connection probability as an expression of i and j (IR domain "pairs")
  if proj.rule.pexpr then
    local kb = newkernel(L, proj.name .. "_p", "pairs", "stmts", ln)
    local env = { k = kb, domain = "pairs", proj = proj, out = kb.body, defs = {} }
    local v = lx(proj.rule.pexpr, env)
    local t0 = kb:tmp()
    kb.body[#kb.body + 1] = { "let", t0, v }
    q.rule.kernel = addkernel(L, kb)
  end
  -- events
  for _, ev in ipairs({ "on_pre", "on_post" }) do
    if syn[ev] then
      local kb = newkernel(L, proj.name .. "_" .. ev, "events", "stmts",
                           check.lineof(syn.src, (syn.model.blocks or {})[ev] or syn.model.pos or 1))
      local env = { k = kb, domain = "events", proj = proj, out = kb.body, defs = {} }
      catchup(env, proj)
      env.defs = {}
      lstmts(env, syn[ev])
      q[ev] = addkernel(L, kb)
    end
  end
  -- clock-driven per-synapse equations
  if #proj.clock > 0 then
    local kb = newkernel(L, proj.name .. "_update", "synapses", "stmts", ln)
    local env = { k = kb, domain = "synapses", proj = proj, out = kb.body, defs = {} }
    local sys = {}
    for _, ode in ipairs(proj.clock) do sys[#sys + 1] = { sym = ode.sym, rhs = ode.rhs, pos = ode.pos } end
    local new = integrate.step(env, sys, syn.method,
                          { src = syn.src, pos = syn.method_pos or syn.model.pos, what = format("'%s'", syn.model.name or "the synapse") })
    for k, eq in ipairs(sys) do
      local r, how = pick(env, eq.sym)
      kb.body[#kb.body + 1] = { "set", r, how, new[k] }
    end
    q.update = addkernel(L, kb)
  end
  -- summed coupling
  local post = proj.post
  for _, out in ipairs(syn.outputs) do
    if out.persyn then
      local slot = post.inputs_of[out.input]
      local kb = newkernel(L, proj.name .. "_sum", "synapses", "sum", check.lineof(syn.src, out.pos))
      local st = L.store[slot.target]
      kb:slot(st[1], st[2], st[3])           -- refs[1]: the post variable summed into
      kb.value = lx(stepinputs(out.expr, proj, out, {}), inline_env(kb, "synapses", nil, proj))
      if type(kb.value) ~= "table" then error("lower: bad sum", 0) end
      q.summed[#q.summed + 1] = { post_var = st[3], kernel = addkernel(L, kb) }
    end
  end
end

-- the recorded elements of a state monitor: its ranges (false: all of a
-- projection's synapses), merged, ascending, each once
local function monindices(m, lo0, hi0)
  local seen, list = {}, {}
  for _, r in ipairs(m.ranges) do
    if not r then return nil end
    local lo, hi = r[1], r[2] or r[1]
    if lo0 then lo, hi = lo0, hi0 end
    for x = lo, hi do
      if not seen[x] then seen[x] = true; list[#list + 1] = x end
    end
  end
  table.sort(list)
  return list
end

local function monitors(L, net)
  local out = {}
  for _, m in ipairs(net.monitors) do
    local t = { kind = m.kind, file = m.file, name = m.name }
    if m.kind == "spikes" or m.kind == "rate" then
      t.pop = m.pop.id
      t.range = m.range
      if m.kind == "rate" then t.every = m.every or 1 end
    else
      local st = L.store[m.sym]
      if not st then error(format("lower: no storage for monitored '%s'", m.sym.name), 0) end
      t.var = st[3]
      t.every = m.every or 1
      t.var_name = m.sym.name
      if st[1] == "proj" then
        t.proj = st[2]
        t.indices = monindices(m)
      else
        t.pop = st[2]
        if m.proj then   -- a postsynaptic variable: the post slice of the projection
          t.indices = monindices(m, m.proj.post_range[1], m.proj.post_range[2])
        else
          t.indices = monindices(m)
        end
      end
    end
    out[#out + 1] = t
  end
  return out
end

-- The full parameter set after overrides (provenance): { network = {NAME =
-- {value, unit}}, populations = {POP = {NAME = {value, unit}}}, projections
-- = {PROJ = {...}} }; values in SI units, unit the dimension's text; a
-- parameter set per neuron (an expression of i or a draw) is {per_neuron =
-- true, unit}.
local function paramset(net)
  local function entry(sym)
    local unit = check.dimstr(sym.dim)
    if sym.kind == "param" then return { value = sym.value, unit = unit } end
    return { per_neuron = true, unit = unit }
  end
  local function group(inst)
    local t = {}
    for _, sym in ipairs(inst and inst.params or {}) do t[sym.name] = entry(sym) end
    return t
  end
  local r = { network = {}, populations = {}, projections = {} }
  for name, c in pairs(net.consts) do r.network[name] = entry({ kind = "param", value = c.value, dim = c.dim }) end
  for _, pop in ipairs(net.pops) do r.populations[pop.name] = group(pop) end
  for _, proj in ipairs(net.projs) do r.projections[proj.name] = group(proj.syn) end
  return r
end

-- network(net, opts) -> ir (without c_source: that is the emitter's)
function M.network(net, opts)
  local L = { store = {}, zero_inputs = {}, dt = net.dt, kernels = {}, method = opts.method }
  local ir = { abi = 2, dt = net.dt, seed = net.seed, precision = opts.precision or "double",
               populations = {}, projections = {}, monitors = {}, kernels = L.kernels }
  for _, pop in ipairs(net.pops) do
    popvars(L, net, pop, opts)
    ir.populations[pop.id] = pop.ir
  end
  for _, proj in ipairs(net.projs) do
    projvars(L, net, proj, opts)
    ir.projections[proj.id] = proj.ir
  end
  for _, pop in ipairs(net.pops) do inputs(L, pop) end
  for _, pop in ipairs(net.pops) do
    if pop.kind == "neuron" then neuronkernels(L, pop) end
  end
  for _, proj in ipairs(net.projs) do projkernels(L, net, proj) end
  ir.monitors = monitors(L, net)
  ir.parameters = paramset(net)
  -- models of the file that no population uses: lowered once (for their
  -- errors: a method that cannot integrate them), then dropped
  for q, inst in ipairs(net.unused or {}) do
    local L2 = { store = {}, zero_inputs = {}, dt = net.dt, kernels = {}, method = opts.method }
    inst.id = q
    popvars(L2, net, inst, opts)
    inputs(L2, inst)
    neuronkernels(L2, inst)
  end
  return ir
end

return M
