-- cajal.netcheck — the second stage of the network compiler, for the
-- network's own statements: settings, population, connect, record, drive
-- and top-level parameters, checked for names, units and the runtime's
-- limits (check.lua does the same for the models these statements use, and
-- provides the expression checker and the model instances called here).
-- network(root, models, opts) returns the checked network that lower.lua
-- turns into IR.
local M = {}

local check = require "cajal.check"
local core = require "cajal.core"
local format, concat = string.format, table.concat
local ANY, DIMLESS, SECOND, mkdim = check.ANY, check.DIMLESS, check.SECOND, check.mkdim
local dimeq, dimstr, expr, needless, whole = check.dimeq, check.dimstr, check.expr, check.needless, check.whole
local fail, suggest, copy, argmap = check.fail, check.suggest, check.copy, check.argmap
local isnum = require("cajal.texpr").isnum
local opterr = check.opterr

local GENERATORS = { poisson = true, spike_times = true }


local function posint(scope, node, what, min)
  local v, d = check.constant(scope, node, what)
  needless(scope, node, what, d)
  if v ~= math.floor(v) or v < (min or 0) or v > check.MAXINDEX then
    -- a whole value prints as one (-100, not -100.0); others in the fewest digits that read back
    local shown = (v == math.floor(v) and math.abs(v) < 2^53) and format("%d", v) or nil
    for digits = 1, 17 do
      if shown then break end
      if tonumber(format("%." .. digits .. "g", v)) == v then shown = format("%." .. digits .. "g", v) end
    end
    fail(scope.src, node.pos, format("%s must be a whole number in %d..%d, got %s", what, min or 0, check.MAXINDEX,
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
  local v, d = check.constant(scope, node, what)
  if not dimeq(d, SECOND) then
    fail(scope.src, node.pos, format("unit mismatch in %s: s and %s", what, dimstr(d)))
  end
  local k = v / net.dt
  local r = math.floor(k + 0.5)
  if r < 1 or math.abs(k - r) > 1e-6 * math.max(1, r) then
    fail(scope.src, node.pos, format("%s (%g s) must be a whole number of steps of dt (%g s)", what, v, net.dt))
  end
  if r > check.MAXSTEPS then
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
        local x, d = check.quantity(pv)
        if type(pv) == "number" then d = ANY end      -- a plain number is taken in SI units
        if not x then opterr(format("bad argument 'params.%s.%s' (number or quantity expected)", k, tostring(pk))) end
        per[k][pk] = { value = x, dim = d, key = k .. "." .. pk }
      end
    else
      local x, d = check.quantity(v)
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
  -- the context of this compilation, carried by every scope (scope.cx): the
  -- definitions being checked and the nesting counts. Nothing of it is
  -- kept in the module, so compilations cannot disturb each other.
  local cx = { defstack = {}, nesting = 0, deepest = 0 }
  local net = { src = root, pops = {}, projs = {}, monitors = {}, drives = {}, byname = {},
                models = models, consts = {}, cx = cx }
  net.scope = { kind = "network", src = root, names = net.consts, builtins = { pi = true }, cx = cx }
  local per, global = optparams(opts)
  local usedopt = {}
  -- settings first: dt is needed to count steps everywhere
  local dt, seed
  for _, item in ipairs(root.body) do
    if item.tag == "setting" then
      local v, d = check.constant(net.scope, item.value, item.name)
      if item.name == "dt" then
        if not dimeq(d, SECOND) then
          fail(root, item.value.pos, format("dt must be a positive time, got %s", dimstr(d)))
        end
        if not (v > 0 and v <= check.MAXDT) then
          fail(root, item.value.pos, format("dt must be in (0, %g] s, got %.6g s", check.MAXDT, v))
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
  if not (net.dt <= check.MAXDT) then opterr(format("bad argument 'opts.dt' (at most %g s expected)", check.MAXDT)) end
  -- seed: opts.seed, else the model's `seed =`, else the default generator's
  -- (what cj.seed(n) last set; 0 in a fresh process), so cj.seed governs networks too
  net.seed = opts.seed or seed or require("cajal.core").rng():state().seed
  for _, item in ipairs(root.body) do
    local tag = item.tag
    if tag == "parameters" then
      for _, def in ipairs(item.defs) do
        if net.consts[def.name] then fail(root, def.pos, format("'%s' is already declared", def.name)) end
        local v, d = check.constant(net.scope, def.value, format("parameter '%s'", def.name))
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
      local inst = check.neuron(net, { node = item, src = root }, 1, {}, item.name)
      net.unused = net.unused or {}
      net.unused[#net.unused + 1] = inst
    elseif item.tag == "synapse" and not (net.used or {})[item] then
      check.synapse(net, { node = item, src = root }, { src = root, name = item.name })
    end
  end
  return net
end

local function netfield(net, name, pos, what)
  if name and check.NETFIELDS[name] then
    fail(net.src, pos, format("a %s cannot be named '%s': net.%s is the network's own %s in Lua " ..
      "(choose another name)", what, name, name,
      (name == "run" or name == "every" or name == "cancel" or name == "reset" or name == "save" or
       name == "wait_compile")
        and "method" or "field"))
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
      local scope = { kind = "network", src = root, names = {}, parent = net.scope, cx = net.cx,
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
    pop = check.neuron(net, entry, n, overrides, item.name)
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
    local clause = { kind = "network", src = root, names = {}, parent = net.scope, cx = net.cx,
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
        if k > check.MAXDELAY then
          fail(root, item.delay.pos, format("a delay of %g s is %.3g steps of dt (%g s): at most %d steps (%g s)",
                                            e[2], k, net.dt, check.MAXDELAY, check.MAXDELAY * net.dt))
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
    proj.syn = check.synapse(net, entry, proj)
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
                                  m.file, check.lineof(root, prev.pos)))
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
          check.define(sym)
          whole({ src = root }, { pos = (item.vars_pos or {})[q] or ref.pos },
                format("recorded definition '%s'", v), sym.dim)
          if check.uses(sym.expr, function(x) return x[1] == "xi" end) then
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
                                  .. "overwritten", item.var, check.lineof(root, dr.pos)))
    end
  end
  local k = posint(net.scope, pd.n, "the number of sources of a Poisson drive", 0)
  local rarg = pd.rate
  if rarg.name ~= "rate" then
    fail(root, rarg.pos, format("poisson takes 'rate', not '%s'%s", rarg.name, suggest(rarg.name, { rate = true })))
  end
  local rate, rd = check.constant(net.scope, rarg.value, "the rate of a Poisson drive")
  if not dimeq(rd, mkdim(0, 0, -2, 0, 0, 0, 0)) then
    fail(root, rarg.value.pos, format("unit mismatch in rate: Hz and %s", dimstr(rd)))
  end
  M.poissonrate(net, root, rarg.value, rate, "the sources of a Poisson drive")
  local wscope = { kind = "network", src = root, names = {}, parent = net.scope, cx = net.cx, builtins = { i = true, N = true },
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
    local v, d = check.constant(net.scope, item.scale, "scale")
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
