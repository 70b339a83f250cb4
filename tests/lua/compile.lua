-- tests/lua/compile.lua — the network compiler (stdlib/cajal: check, lower,
-- emit, compile): the matrix exponential against closed forms, exact
-- integration against closed-form solutions (an independent evaluator of
-- the IR below), the other integration methods against their one-step
-- formulas, dimension and name errors, imports, the generated C (it
-- compiles, it contains no model text), the model library and examples.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local compile = require "cajal.compile"
local lower = require "cajal.lower"
local emit = require "cajal.emit"
local check = require "cajal.check"
local core = require "cajal.core"

local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or (arg[0]:match("^(.*)/tests/lua/[^/]*$")) or "."
local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

local function writefile(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function build(src, opts) return compile.build(src, "test.cajal", opts) end

-- the error text of compiling src (nil when it compiles)
local function errtext(src, opts, name)
  local ok, e = pcall(compile.build, src, name or "test.cajal", opts)
  if ok then return nil end
  return tostring(e)
end

local function expect_error(src, pattern, opts)
  local e = errtext(src, opts)
  if not e then error("expected an error containing '" .. pattern .. "', it compiled", 2) end
  if not e:find(pattern, 1, true) then
    error("expected an error containing '" .. pattern .. "', got:\n" .. e, 2)
  end
  return e
end

-- ---- an independent evaluator of IR kernels (neuron and synapse domains) -------
-- state: pops[p][v][i] (Lua arrays, 0-based i stored at i+1); enough of IR.md
-- §2 to run update kernels without the runtime.
local EV = {}
local F = {
  exp = math.exp, log = math.log, sqrt = math.sqrt, abs = math.abs, sin = math.sin,
  cos = math.cos, tan = math.tan, floor = math.floor, ceil = math.ceil,
  pow = function(a, b) return a ^ b end,
  expm1 = lower.expm1,
  log1p = function(x) return math.log(1 + x) end,
  tanh = function(x) local e = math.exp(2 * x); return (e - 1) / (e + 1) end,
  min = math.min, max = math.max,
  clip = function(x, a, b) return math.min(math.max(x, a), b) end,
  sign = function(x) return x > 0 and 1.0 or (x < 0 and -1.0 or 0.0) end,
  sigmoid = function(x) return 1 / (1 + math.exp(-x)) end,
  heaviside = function(x) return x >= 0 and 1.0 or (x < 0 and 0.0 or x) end,
}
local function b(x) return x and 1.0 or 0.0 end
local function ev(e, c)
  local op = e[1]
  if op == "num" then return e[2]
  elseif op == "tmp" then return c.tmp[e[2]]
  elseif op == "var" then
    local arr = c.slots[e[2]]
    return arr[c.index(e[3]) + 1]
  elseif op == "t" then return c.t
  elseif op == "dt" then return c.dt
  elseif op == "i" then return c.i
  elseif op == "j" then return c.j
  elseif op == "notref" then return b(c.t - (c.lastspike[c.i + 1] or -math.huge) >= (c.refractory or 0))
  elseif op == "lastspike" then return c.lastspike[c.i + 1] or -math.huge
  elseif op == "+" then return ev(e[2], c) + ev(e[3], c)
  elseif op == "-" then return ev(e[2], c) - ev(e[3], c)
  elseif op == "*" then return ev(e[2], c) * ev(e[3], c)
  elseif op == "/" then return ev(e[2], c) / ev(e[3], c)
  elseif op == "neg" then return -ev(e[2], c)
  elseif op == "pow" then return ev(e[2], c) ^ ev(e[3], c)
  elseif op == "<" then return b(ev(e[2], c) < ev(e[3], c))
  elseif op == "<=" then return b(ev(e[2], c) <= ev(e[3], c))
  elseif op == ">" then return b(ev(e[2], c) > ev(e[3], c))
  elseif op == ">=" then return b(ev(e[2], c) >= ev(e[3], c))
  elseif op == "==" then return b(ev(e[2], c) == ev(e[3], c))
  elseif op == "~=" then return b(ev(e[2], c) ~= ev(e[3], c))
  elseif op == "and" then local x, y = ev(e[2], c), ev(e[3], c); return b(x ~= 0 and y ~= 0)
  elseif op == "or" then local x, y = ev(e[2], c), ev(e[3], c); return b(x ~= 0 or y ~= 0)
  elseif op == "not" then return b(ev(e[2], c) == 0)
  elseif op == "ifelse" then
    if ev(e[2], c) ~= 0 then return ev(e[3], c) end
    return ev(e[4], c)
  elseif op == "call" then
    local a = {}
    for q = 3, #e do a[#a + 1] = ev(e[q], c) end
    return assert(F[e[2]], e[2])(table.unpack(a))
  elseif op == "rand" then return c.rand(e[2], e[3])
  end
  error("evaluator: " .. tostring(op))
end
local function run(list, c)
  for _, st in ipairs(list) do
    if st[1] == "let" then c.tmp[st[2]] = ev(st[3], c)
    elseif st[1] == "set" then c.slots[st[2]][c.index(st[3]) + 1] = ev(st[4], c)
    elseif st[1] == "add" then
      local arr, ix = c.slots[st[2]], c.index(st[3]) + 1
      arr[ix] = arr[ix] + ev(st[4], c)
    elseif st[1] == "if" then
      if ev(st[2], c) ~= 0 then run(st[3], c) else run(st[4], c) end
    end
  end
end
-- EV.neurons(ir, kid, state, t): run a neurons-domain kernel over all neurons;
-- state[p][v] is the Lua array of population p's variable v.
function EV.neurons(ir, kid, state, t, extra)
  local k = ir.kernels[kid]
  local slots = {}
  for r, ref in ipairs(k.refs) do slots[r - 1] = state[ref[2]][ref[3]] end
  local pop = ir.populations[k.refs[1] and k.refs[1][2] or 1]
  -- the runtime's bound: (K - 1/2) dt, K = round(T / dt)
  local bound = pop.refractory and (math.floor(pop.refractory / ir.dt + 0.5) - 0.5) * ir.dt
  local c = { slots = slots, t = t, dt = ir.dt, tmp = {}, refractory = bound,
              lastspike = (extra and extra.lastspike) or {},
              rand = (extra and extra.rand) or function() return 0.5 end }
  c.index = function() return c.i end
  for i = 0, pop.n - 1 do
    c.i = i
    if k.kind == "threshold" then
      c.fired = c.fired or {}
      if ev(k.cond, c) ~= 0 then c.fired[#c.fired + 1] = i end
    else
      run(k.body, c)
    end
  end
  return c.fired
end
EV.ev = ev

-- a fresh state table for the population vars of an IR, initialised by hand
local function newstate(ir, values)
  local st = {}
  for p, pop in ipairs(ir.populations) do
    st[p] = {}
    for v, var in ipairs(pop.vars or {}) do
      local arr = {}
      for i = 1, pop.n do arr[i] = (values and values[var.name]) or 0.0 end
      st[p][v] = arr
    end
  end
  return st
end

local function varindex(ir, p, name)
  for v, var in ipairs(ir.populations[p].vars) do if var.name == name then return v end end
  error("no var " .. name)
end

-- ---- the matrix exponential ----------------------------------------------------

local function maxrel(R, X)
  local m = 0
  for r = 1, #X do
    for c = 1, #X do m = math.max(m, math.abs(R[r][c] - X[r][c]) / math.max(1, math.abs(X[r][c]))) end
  end
  return m
end

T.test("Pade-13 coefficients are Higham's (2005) b_0 .. b_13", function()
  local want = { 64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800,
                 129060195264000, 10559470521600, 670442572800, 33522128640, 1323241920,
                 40840800, 960960, 16380, 182, 1 }
  for j = 0, 13 do assert(lower.PADE[j] == want[j + 1], "b_" .. j) end
end)

T.test("expm of rotations, a Jordan block and diagonals matches closed forms", function()
  for _, th in ipairs({ 0.7, 30, 1e-8 }) do
    local R = lower.expm({ { 0, -th }, { th, 0 } })
    T.near(maxrel(R, { { math.cos(th), -math.sin(th) }, { math.sin(th), math.cos(th) } }), 0, 1e-14, "rotation " .. th)
  end
  for _, a in ipairs({ -3.2, 0.5, -40 }) do
    local e = math.exp(a)
    local R = lower.expm({ { a, 1 }, { 0, a } })
    T.near(maxrel(R, { { e, e }, { 0, e } }), 0, 4e-15, "jordan " .. a)
  end
  local R = lower.expm({ { -1e-5, 0 }, { 0, -2e-5 } })
  T.near(R[1][1], math.exp(-1e-5), 1e-16)
  T.near(R[2][2], math.exp(-2e-5), 1e-16)
  assert(R[1][2] == 0 and R[2][1] == 0)
end)

T.test("expm of a 3x3 triangular matrix with distinct eigenvalues", function()
  -- A = [[a, 1, 0], [0, b, 1], [0, 0, c]]: divided differences of exp
  local a, bb, c = -1.0, -2.5, -0.25
  local ea, eb, ec = math.exp(a), math.exp(bb), math.exp(c)
  local d_ab = (ea - eb) / (a - bb)
  local d_bc = (eb - ec) / (bb - c)
  local d_abc = (d_ab - d_bc) / (a - c)
  local R = lower.expm({ { a, 1, 0 }, { 0, bb, 1 }, { 0, 0, c } })
  T.near(maxrel(R, { { ea, d_ab, d_abc }, { 0, eb, d_bc }, { 0, 0, ec } }), 0, 4e-15)
end)

T.test("expm with scaling and squaring: e^A e^-A = I, large norms", function()
  local A = { { -100, 50, 3 }, { 20, -200, 7 }, { 1, 2, -30 } }
  local nA = {}
  for r = 1, 3 do nA[r] = {} for c = 1, 3 do nA[r][c] = -A[r][c] / 40 end end
  local P = { {}, {}, {} }
  for r = 1, 3 do for c = 1, 3 do P[r][c] = A[r][c] / 40 end end
  local E1, E2 = lower.expm(P), lower.expm(nA)
  for r = 1, 3 do
    for c = 1, 3 do
      local s = 0
      for k = 1, 3 do s = s + E1[r][k] * E2[k][c] end
      T.near(s, r == c and 1 or 0, 1e-13, "product")
    end
  end
  -- a stiff 1x1 (2^8 squarings): e^-700
  T.near(lower.expm({ { -700 } })[1][1] / math.exp(-700), 1, 1e-12)
  assert(lower.expm({ { 0 / 0 } }) == nil, "NaN gives nil")
  assert(lower.expm({ { math.huge } }) == nil, "inf gives nil")
end)

T.test("expm of a badly scaled matrix (units mixed: 1/C next to 1/tau) keeps full accuracy", function()
  -- dv/dt = -v/tm + I/C, dI/dt = -I/ts over one step: 1/C = 4e9
  local h, tm, ts, C = 1e-4, 0.01, 0.005, 250e-12
  local P = lower.propagator({ { -1 / tm, 1 / C }, { 0, -1 / ts } }, h)
  T.near(P[1][1], math.exp(-h / tm), 2e-16, "P_vv")
  T.near(P[2][2], math.exp(-h / ts), 2e-16, "P_II")
  -- e^-a - e^-b = -e^-a expm1(a - b), without cancellation
  local want = (1 / C) * tm * ts / (tm - ts) * -math.exp(-h / tm) * lower.expm1(h / tm - h / ts)
  T.near(P[1][2] / want, 1, 2e-15, "P_vI")
end)

T.test("propagator: Q = int expm(A s) ds for 1x1 and the LIF-synapse pair", function()
  local a, h = -50.0, 1e-4
  local P, Q = lower.propagator({ { a } }, h)
  T.near(P[1][1], math.exp(a * h), 1e-16)
  T.near(Q[1][1], lower.expm1(a * h) / a, 1e-19)
  -- dv = (g - v)/tm, dg = -g/te
  local tm, te = 0.02, 0.005
  P, Q = lower.propagator({ { -1 / tm, 1 / tm }, { 0, -1 / te } }, h)
  local e1, e2 = math.exp(-h / tm), math.exp(-h / te)
  T.near(P[1][1], e1, 4e-16)
  T.near(P[1][2] / (te / (te - tm) * (e2 - e1)), 1, 1e-13)
  T.near(P[2][2], e2, 4e-16)
  T.near(Q[1][1], tm * (1 - e1), 1e-18)
end)

-- ---- exact integration and the other methods -------------------------------------

local LIN3 = [[
neuron lin3 {
  parameters { tau_m = 20 ms; tau_e = 5 ms; tau_w = 50 ms; E_L = -65 mV }
  state      { v = -50 mV; ge = 2 mV; w = -70 mV }
  equations  {
    dv/dt  = (E_L + ge - v) / tau_m
    dge/dt = -ge / tau_e
    dw/dt  = (v - w) / tau_w
  }
}
population P = lin3(1)
]]

T.test("a linear 3-variable system is integrated exactly (closed form, 1e-12)", function()
  local ir = build(LIN3)
  local pop = ir.populations[1]
  local st = newstate(ir)
  local v, ge, w = varindex(ir, 1, "v"), varindex(ir, 1, "ge"), varindex(ir, 1, "w")
  EV.neurons(ir, pop.init, st, 0)
  local v0, g0, w0 = st[1][v][1], st[1][ge][1], st[1][w][1]
  T.near(v0, -0.05, 1e-18); T.near(g0, 0.002, 1e-18); T.near(w0, -0.07, 1e-18)
  local tm, te, tw, E = 0.02, 0.005, 0.05, -0.065
  local u0, z0 = v0 - E, w0 - E                      -- u = v - E_L, z = w - E_L
  local ce = g0 * te / (te - tm)
  local cm = u0 - ce
  local function closed(t)
    local g = g0 * math.exp(-t / te)
    local u = cm * math.exp(-t / tm) + ce * math.exp(-t / te)
    local z = z0 * math.exp(-t / tw)
              + cm * tm / (tm - tw) * (math.exp(-t / tm) - math.exp(-t / tw))
              + ce * te / (te - tw) * (math.exp(-t / te) - math.exp(-t / tw))
    return u + E, g, z + E
  end
  for n = 1, 2000 do
    EV.neurons(ir, pop.update, st, (n - 1) * ir.dt)
    if n % 250 == 0 then
      local cv, cg, cw = closed(n * ir.dt)
      T.near(st[1][v][1], cv, 1e-12 * math.abs(cv), "v at step " .. n)
      T.near(st[1][ge][1], cg, 1e-12 * math.abs(cg) + 1e-300, "ge at step " .. n)
      T.near(st[1][w][1], cw, 1e-12 * math.abs(cw), "w at step " .. n)
    end
  end
end)

T.test("exact integration is the default for linear systems, euler for others", function()
  local ir = build(LIN3)
  local k = ir.kernels[ir.populations[1].update]
  -- the exact step is a matrix-vector product: no division by tau in the kernel
  local text = compile.irtext({ k })
  assert(not text:find('"/"', 1, true), "exact kernel has a division:\n" .. text)
  local nl = build([[
neuron q { parameters { tau = 10 ms } state { v = 1 } equations { dv/dt = -v * v / tau } }
population P = q(1)
]])
  local st = newstate(nl)
  EV.neurons(nl, nl.populations[1].init, st, 0)
  EV.neurons(nl, nl.populations[1].update, st, 0)
  T.near(st[1][1][1], 1 - 1e-4 * 1 / 0.01, 1e-15, "euler step")
end)

T.test("euler, rk2 (midpoint), rk4, exponential_euler: one step of dx/dt = -x/tau", function()
  local z = 1e-4 / 3e-3
  local want = {
    euler = 1 - z,
    rk2 = 1 - z + z * z / 2,
    rk4 = 1 - z + z ^ 2 / 2 - z ^ 3 / 6 + z ^ 4 / 24,
    exponential_euler = math.exp(-z),
    exact = math.exp(-z),
  }
  for m, x1 in pairs(want) do
    local src = ([[
neuron d { parameters { tau = 3 ms } state { x = 1 } equations { dx/dt = -x / tau } method %s }
population P = d(2)
]]):format(m)
    local ir = build(src)
    local st = newstate(ir)
    EV.neurons(ir, ir.populations[1].init, st, 0)
    EV.neurons(ir, ir.populations[1].update, st, 0)
    T.near(st[1][1][1], x1, 4e-16, m)
    -- opts.method overrides the model's choice
    local ir2 = build((src:gsub("method [%w_]+", "")), { method = m })
    local st2 = newstate(ir2)
    EV.neurons(ir2, ir2.populations[1].init, st2, 0)
    EV.neurons(ir2, ir2.populations[1].update, st2, 0)
    T.near(st2[1][1][1], x1, 4e-16, "opts.method " .. m)
  end
end)

T.test("rk4 integrates a non-autonomous equation with t at the stages", function()
  -- dx/dt = cos(w t): x(h) = sin(w h)/w; rk4 is Simpson's rule here
  local ir = build([[
neuron c { parameters { w = 100 Hz } state { x = 0 } equations { dx/dt = cos(w * t) * 1 Hz } method rk4 }
population P = c(1)
]])
  local st = newstate(ir)
  EV.neurons(ir, ir.populations[1].update, st, 0)
  local h, w = 1e-4, 100
  local simpson = h / 6 * (1 + 4 * math.cos(w * h / 2) + math.cos(w * h))
  T.near(st[1][1][1], simpson, 1e-19)
  T.near(st[1][1][1], math.sin(w * h) / w, 1e-15, "close to the integral")
end)

T.test("exponential_euler on a gating variable matches its closed form", function()
  -- dm/dt = a (1 - m) - b m with a, b functions of v (held over the step)
  local ir = build([[
neuron g {
  parameters { a0 = 0.5 / ms; b0 = 2 / ms }
  state { v = -60 mV; m = 0.1 }
  equations { dm/dt = a0 * exp(v / (20 mV)) * (1 - m) - b0 * m }
  method exponential_euler
}
population P = g(1)
]])
  local st = newstate(ir)
  EV.neurons(ir, ir.populations[1].init, st, 0)
  EV.neurons(ir, ir.populations[1].update, st, 0)
  local a, bb, h = 500 * math.exp(-3), 2000, 1e-4
  local minf = a / (a + bb)
  T.near(st[1][2][1], minf + (0.1 - minf) * math.exp(-(a + bb) * h), 1e-15)
  T.near(st[1][1][1], -0.06, 0, "v has no equation")
end)

T.test("white noise xi: Euler-Maruyama with sqrt(dt)", function()
  local ir = build([[
neuron ou {
  parameters { tau = 10 ms; sigma = 2 mV }
  state { v = 1 mV }
  equations { dv/dt = -v / tau + sigma * sqrt(2 / tau) * xi }
}
population P = ou(1)
]])
  local st = newstate(ir)
  EV.neurons(ir, ir.populations[1].init, st, 0)
  local draws = 0
  EV.neurons(ir, ir.populations[1].update, st, 0, { rand = function(kind, k)
    assert(kind == "normal" and k == 0, kind .. k); draws = draws + 1; return 0.3 end })
  assert(draws == 1)
  local h, tau, s = 1e-4, 0.01, 0.002
  T.near(st[1][1][1], 0.001 - h * 0.001 / tau + s * math.sqrt(2 / tau) * math.sqrt(h) * 0.3, 1e-18)
  expect_error([[
neuron ou { state { v = 1 mV } equations { dv/dt = -v / (10 ms) + 1 mV / sqrt(10 ms) * xi } method rk4 }
population P = ou(1)]], "method rk4 cannot integrate the noise xi")
  expect_error([[
neuron ou { state { v = 1 mV } equations { dv/dt = -v / (10 ms) + 1 mV * xi } }
population P = ou(1)]], "unit mismatch in '+': V/s and V s^-1/2")
end)

T.test("half units: inside expressions, never stored", function()
  -- sqrt of an odd exponent is a half unit; a definition may carry one
  local ir = build([[
neuron ou {
  parameters { tau = 10 ms; sigma = 2 mV }
  state { v = 1 mV }
  equations { dv/dt = -v / tau + sigma * sqrt(2) / root_tau * xi
              root_tau = sqrt(tau) }
}
population P = ou(1)
]])
  assert(#ir.populations[1].vars == 1)
  local stored = "has the unit s^1/2, but a stored value needs whole unit exponents"
  expect_error([[
neuron n { parameters { tau = 10 ms; r = sqrt(tau) } state { v = 0 } equations { dv/dt = -v / tau } }
population P = n(1)]], "parameter 'r' " .. stored)
  expect_error([[
neuron n { parameters { tau = 10 ms } state { v = 0; w = sqrt(tau) } equations { dv/dt = -v / tau } }
population P = n(1)]], "state variable 'w' " .. stored)
  expect_error([[
neuron n { state { v = 0 mV } }
synapse s { state { w = sqrt(1 ms) } on_pre { v_post += 1 mV } }
population P = n(2)
connect P -> P s all_to_all]], "state variable 'w' " .. stored)
  expect_error([[
neuron n { parameters { tau = 10 ms } state { v = 0 } equations { dv/dt = -v / tau
                                                                  h = sqrt(tau) } }
population P = n(1)
record h of P]], "recorded definition 'h' " .. stored)
  -- a whole power of a half unit is whole again
  build([[
neuron n { parameters { tau = 10 ms; r2 = sqrt(tau) * sqrt(tau) } state { v = 0 } equations { dv/dt = -v / r2 } }
population P = n(1)]])
  expect_error([[
neuron n { state { v = 0 } equations { dv/dt = -v / (10 ms) + sqrt(sqrt(1 ms)) / (1 s) } }
population P = n(1)]], "sqrt of s^1/2 has no unit")
end)

T.test("a recorded definition is stored, from the new state", function()
  local ir = build([[
neuron d { state { v = 1 mV } equations { dv/dt = -v / (10 ms)
                                         twice = 2 * v } }
population P = d(2)
record twice of P
record twice, v of P every 1 ms
]])
  local k = varindex(ir, 1, "twice")
  assert(#ir.populations[1].vars == 2, "one variable for the definition")
  local st = newstate(ir)
  -- the definitions kernel computes it from the current state (the runtime
  -- runs it before a monitor records and at the end of a run)
  EV.neurons(ir, ir.populations[1].init, st, 0)
  EV.neurons(ir, ir.populations[1].defs, st, 0)
  T.near(st[1][k][1], 0.002, 0)
  EV.neurons(ir, ir.populations[1].update, st, 0)
  EV.neurons(ir, ir.populations[1].defs, st, 0)
  T.near(st[1][k][1], 2 * st[1][1][1], 0)
  assert(ir.monitors[1].var == k and ir.monitors[1].var_name == "twice")
  expect_error([[
neuron d { state { v = 1 mV } }
synapse s { state { w = 1 } equations { u = 2 * w } on_pre { v_post += w * 1 mV } }
population P = d(2)
connect P -> P s all_to_all as S
record u of S
]], "'u' is a definition of the synapse")
end)

T.test("an input summing a postsynaptic output that uses a definition", function()
  local ir = build([[
neuron n { state { v = -60 mV } input I : pA
           equations { dv/dt = (-70 mV - v) / (10 ms) + I / (100 pF) } }
synapse c { parameters { E = 0 mV } postsynaptic { g = 2 nS }
            equations { dg/dt = -g / (5 ms)
                        Ic = g * (E - v_post) }
            on_pre { g += 1 nS }
            output I = Ic }
population P = n(2)
connect P -> P c all_to_all
]])
  local pop = ir.populations[1]
  local st = newstate(ir)
  EV.neurons(ir, pop.init, st, 0)
  EV.neurons(ir, pop.update, st, 0)
  -- the input holds g (E - v) of the old state: 2 nS * 60 mV
  T.near(st[1][varindex(ir, 1, "I")][1], 2e-9 * 0.06, 1e-24)
end)

T.test("refractory: clamped variables, the bound (K - 1/2) dt, the flags", function()
  local ir = build([[
neuron r {
  parameters { t_ref = 2 ms }
  state { v = 0 mV; a = 0 }
  equations { dv/dt = (10 mV - v) / (10 ms)
              da/dt = not_refractory / (1 ms) }
  spike when v > 5 mV
  reset { v = 0 mV }
  refractory t_ref
}
population P = r(1)
]])
  local pop = ir.populations[1]
  T.near(pop.refractory, 0.002, 0, "the period in seconds")
  local st = newstate(ir)
  EV.neurons(ir, pop.update, st, 0.0010, { lastspike = { 0.0 } })
  assert(st[1][1][1] == 0, "v is clamped while refractory")
  T.near(st[1][2][1], 0, 0, "not_refractory is 0")
  EV.neurons(ir, pop.update, st, 0.0020, { lastspike = { 0.0 } })
  assert(st[1][1][1] > 0, "v integrates again 20 steps after the spike")
  T.near(st[1][2][1], 0.1, 1e-15, "not_refractory is 1")
  expect_error([[
neuron r { state { v = 0 mV }; spike when v > 1 mV; refractory 2 mV }
population P = r(1)]], "unit mismatch in refractory: s and V")
end)

-- ---- names and units --------------------------------------------------------------

local BASE = [[
neuron m {
  parameters { tau_m = 20 ms; v_th = -50 mV }
  state { v = -60 mV }
  equations { dv/dt = %s }
  spike when %s
  reset { %s }
}
population E = m(10)
]]
local function model(eq, cond, reset)
  return BASE:format(eq or "-v / tau_m", cond or "v > v_th", reset or "v = -60 mV")
end

T.test("a unit mismatch names both dimensions and points at the sub-expression", function()
  local e = expect_error(model("(-v + 1 ms) / tau_m"), "unit mismatch in '+': V and s")
  assert(e:find("^test.cajal:4:24: "), e)
  assert(e:find("\n                       %^"), "caret under the sum:\n" .. e)
  expect_error(model("-v"), "unit mismatch in dv/dt: V/s and V")
  expect_error(model("exp(v) / tau_m * 1 mV"), "'exp' needs a dimensionless value, got V")
  expect_error(model(nil, "v > 3 ms"), "unit mismatch in comparison '>': V and s")
  expect_error(model(nil, "v"), "the spike condition needs a dimensionless value, got V")
  expect_error(model(nil, nil, "v = 3 ms"), "unit mismatch in '=' to 'v': V and s")
  expect_error(model(nil, nil, "v += 1"), "unit mismatch in '+=' to 'v': V and dimensionless")
  expect_error(model(nil, nil, "v *= 2 mV"), "'*=' needs a dimensionless factor, got V")
  expect_error(model("-v / tau_m + sqrt(v) / tau_m"), "unit mismatch in '+': V/s and")
  expect_error(model("-v / tau_m * v ^ (v / mV) / mV"), "the exponent of a value in V must be a constant")
  expect_error(model("-v / tau_m * 2 ^ v"), "an exponent needs a dimensionless value, got V")
  expect_error(model("-v / tau_m * uniform(1, 2 mV)"), "random draw 'uniform' is not allowed here")
  -- units are names too, and a bare 0 is zero in any unit
  assert(build(model("-(v / mV) * mV / tau_m", "v > 0", "v = 0")))
  assert(build(model("-v / tau_m * sqrt(v * v) / mV")))
  expect_error(model("-v / tau_m + 0 * 1 mV"), "unit mismatch in '+': V/s and V")
end)

T.test("unknown names get the nearest known name", function()
  expect_error(model("-v / tau_n"), "unknown name 'tau_n' (did you mean 'tau_m'?)")
  expect_error(model("-v / tau_m * exq(1)"), "unknown function 'exq' (did you mean 'exp'?)")
  expect_error(model("-v / tau_m * exp(1, 2)"), "'exp' takes 1 argument, got 2")
  expect_error(model("-v / tau_m * clip(v / mV, 0)"), "'clip' takes 3 arguments, got 2")
  expect_error(model(nil, nil, "vv = 1 mV"), "unknown variable 'vv' (did you mean 'v'?)")
  expect_error(model(nil, nil, "tau_m = 1 ms"), "cannot assign to parameter 'tau_m'")
  expect_error(model(nil, nil, "t = 1 ms"), "cannot assign to the built-in 't'")
  expect_error(model(nil, nil, "v_post = 1 mV"), "exists only in synapse code")
  expect_error(model() .. "connect E -> EE { on_pre: v += 1 mV } all_to_all\n",
               "unknown population 'EE' (did you mean 'E'?)")
  expect_error(model() .. "record vv of E\n", "unknown variable 'vv' of population 'E' (did you mean 'v'?)")
  expect_error(model() .. "record spikes of X\n", "unknown population 'X'")
  expect_error(model() .. "population F = mm(3)\n", "unknown neuron model 'mm' (did you mean 'm'?)")
  expect_error(model() .. "population F = m(3, tau_mm = 1 ms)\n",
               "'tau_mm' is not a parameter or state variable of 'm' (did you mean 'tau_m'?)")
  expect_error(model() .. "population F = m(3, tau_m = 1 mV)\n", "unit mismatch in the override of 'tau_m': s and V")
  expect_error(model() .. "connect E -> E { on_pre: v += 1 mV; w = 2 } all_to_all\n",
               "unknown variable 'w'")
  expect_error(model() .. "connect E -> E { on_pre: v += 1 ms } all_to_all\n",
               "unit mismatch in '+=' to 'v': V and s")
  expect_error(model() .. "record v of E[5..10]\n", "out of range (E has 10 neurons: 0..9)")
end)

T.test("connection clauses: rules, weights, delays, onto, names", function()
  local syn = "synapse s { state { w = 1 mV } on_pre { v_post += w } }\n"
  local ir = build(model() .. syn .. [[
connect E -> E s with probability 0.5 * exp(-abs(i - j) / 3) weight i * 1 mV delay 1 ms + j * 0.1 ms
connect E[0..4] -> E[5..9] s one_to_one weight 2 mV delay 0.25 ms as EE
]])
  local p1, p2 = ir.projections[1], ir.projections[2]
  assert(p1.rule.kind == "prob" and p1.rule.kernel and ir.kernels[p1.rule.kernel].domain == "pairs")
  assert(p1.delay_var and not p1.delay)
  assert(p2.name == "EE" and p2.delay == 3 and p2.rule.kind == "one_to_one")
  assert(p2.pre_range[1] == 0 and p2.pre_range[2] == 4 and p2.post_range[1] == 5)
  expect_error(model() .. syn .. "connect E -> E s with probability 2\n", "a probability must be in [0, 1]")
  expect_error(model() .. syn .. "connect E -> E s with in_degree 11\n", "in_degree 11 is more than the 10 neurons")
  expect_error(model() .. syn .. "connect E -> E s all_to_all weight 1 ms\n", "unit mismatch in weight: V (w) and s")
  expect_error(model() .. syn .. "connect E -> E s all_to_all delay 1 mV\n", "unit mismatch in delay: s and V")
  expect_error(model() .. syn .. "connect E -> E s all_to_all as A\nconnect E -> E s all_to_all as A\n",
               "'A' is already the name of a population or projection")
  expect_error(model() .. syn .. "connect E -> E m all_to_all\n", "'m' is a neuron model, not a synapse model")
  -- network constants: seen by inline synapses and overrides, not by models
  assert(build("parameters { we = 2 mV; tau = 10 ms }\n" .. model() ..
               "population F = m(2, tau_m = tau)\nconnect E -> F { on_pre: v += we } all_to_all\n"))
  expect_error("parameters { we = 2 mV }\n" .. model("-v / tau_m + we / tau_m"), "unknown name 'we'")
end)

T.test("opts: params per population and by name, dt, seed, errors", function()
  local ir = build(model() .. "population F = m(5)\n", { params = { E = { tau_m = 0.01 }, v_th = check.quantity and 0 or 0 }, dt = 5e-5, seed = 7 })
  assert(ir.dt == 5e-5 and ir.seed == 7)
  local function factor(p)
    local k = ir.kernels[ir.populations[p].update]
    return k.body[1][3][2][2]                 -- let 0 = P * v
  end
  T.near(factor(1), math.exp(-5e-5 / 0.01), 4e-16, "E's tau_m is overridden")
  T.near(factor(2), math.exp(-5e-5 / 0.02), 4e-16, "F keeps its tau_m")
  assert(ir.kernels[ir.populations[2].threshold].cond[3][2] == 0, "v_th = 0 for all")
  local e = errtext(model(), { params = { tau_n = 1 } })
  assert(e and e:find("opts.params.tau_n: no population or network parameter has it (did you mean 'tau_m'?)", 1, true), e)
  e = errtext(model(), { params = { E = { tau_m = core.unit and core.unit("mV") or 1 } } })
  assert(e and e:find("unit mismatch", 1, true), e)
  -- exponents come from cj.exponents: large ones are read, not overflowed
  e = errtext(model(), { params = { E = { tau_m = core.unit("K^70") } } })
  assert(e and e:find("opts.params.E.tau_m: unit mismatch: s expected, got K^70", 1, true), e)
  e = errtext(model(), { params = { Q = { tau_m = 1 } } })
  assert(e and e:find("opts.params.Q: no population 'Q'", 1, true), e)
  T.checkerror("bad argument 'opts.dt'", compile.build, model(), "x", { dt = -1 })
  T.checkerror("bad argument 'opts.method'", compile.build, model(), "x", { method = "leapfrog" })
  T.checkerror("bad argument 'opts.seed'", compile.build, model(), "x", { seed = 1.5 })
  T.checkerror("bad argument #1 'source'", compile.build, 42)
end)

-- ---- imports ----------------------------------------------------------------------

T.test("imports: relative to the file, CAJAL_PATH order, cycles, not found", function()
  os.execute("mkdir -p '" .. tmpdir .. "/lib/sub'")
  writefile(tmpdir .. "/lib/sub/a.cajal", 'import "b"\nneuron na { state { x = 1 } equations { dx/dt = -x / (5 ms) } }\n')
  writefile(tmpdir .. "/lib/sub/b.cajal", 'neuron nb { state { y = 0 } }\n')
  writefile(tmpdir .. "/main.cajal", 'import "lib/sub/a"\npopulation A = na(2)\npopulation B = nb(1)\n')
  local ir = compile.load_file(tmpdir .. "/main.cajal")
  assert(#ir.populations == 2)
  assert(ir.source:find("neuron nb", 1, true), "all model text is in ir.source")
  -- a cycle
  writefile(tmpdir .. "/c1.cajal", 'import "c2"\nneuron n1 { state { x = 1 } }\n')
  writefile(tmpdir .. "/c2.cajal", 'import "c1"\nneuron n2 { state { x = 1 } }\n')
  writefile(tmpdir .. "/cyc.cajal", 'import "c1"\npopulation A = n1(1)\n')
  local e = compile.diagnose(tmpdir .. "/cyc.cajal")
  assert(e and e:find("cyclic import: ", 1, true) and e:find("c1.cajal -> ", 1, true), e)
  e = compile.diagnose(tmpdir .. "/nothere.cajal")
  assert(e and e:find("cannot read", 1, true), e)
  writefile(tmpdir .. "/missing.cajal", 'import "no/such/model"\n')
  e = compile.diagnose(tmpdir .. "/missing.cajal")
  assert(e and e:find('import "no/such/model": no such model file', 1, true), e)
  assert(e:find("missing.cajal:1:1:", 1, true), e)
  -- an imported file holds models only
  writefile(tmpdir .. "/bad.cajal", 'neuron z { state { x = 1 } }\npopulation Z = z(1)\n')
  writefile(tmpdir .. "/usebad.cajal", 'import "bad"\n')
  e = compile.diagnose(tmpdir .. "/usebad.cajal")
  assert(e and e:find("bad.cajal:2:1: an imported file may contain only imports and model definitions", 1, true), e)
  -- two definitions of one name
  writefile(tmpdir .. "/dup.cajal", 'import "lib/sub/b"\nneuron nb { state { y = 0 } }\n')
  e = compile.diagnose(tmpdir .. "/dup.cajal")
  assert(e and e:find("model 'nb' is already defined", 1, true), e)
  -- the model library is found without a path
  assert(compile.build('import "models/lif"\npopulation E = lif(3)\n', tmpdir .. "/x.cajal"))
  -- search order: CAJAL_PATH after the importing file's folder
  local dirs = compile.searchpath("/some/dir")
  assert(dirs[1] == "/some/dir")
end)

T.test("import order: the file's folder, CAJAL_PATH, ~/.local/share/cajal, the library; never the current folder", function()
  local R = tmpdir .. "/order"
  local function q(x) return "'" .. x:gsub("'", "'\\''") .. "'" end
  -- a models/lif.cajal in each place, tagged with the place
  local places = { file = R .. "/proj", cwd = R .. "/cwd", path1 = R .. "/path1", path2 = R .. "/path2",
                   home = R .. "/home/.local/share/cajal" }
  for tag, dir in pairs(places) do
    assert(os.execute("mkdir -p " .. q(dir .. "/models")))
    writefile(dir .. "/models/lif.cajal", "# tag: " .. tag .. "\nneuron lif { state { v = 0 mV; tagged = 1 } }\n")
  end
  writefile(R .. "/proj/net.cajal", 'import "models/lif"\npopulation E = lif(1)\n')
  writefile(R .. "/proj/run.lua", 'local cj = require "cajal"\n' ..
    'local net = cj.network(\'import "models/lif"\\npopulation E = lif(1)\', { backend = "interp" })\n' ..
    'print(pcall(function() return net.E.tagged end) and "not shipped" or "shipped")\n')
  local cajal = arg[-1] or "cajal"
  if cajal:find("/") and cajal:sub(1, 1) ~= "/" then cajal = (os.getenv("PWD") or ".") .. "/" .. cajal end
  local probe = "print(require 'cajal.compile'.load_file(" .. ("%q"):format(R .. "/proj/net.cajal") ..
    ").source:match('# tag: (%w+)') or 'shipped')"
  -- which file `import "models/lif"` took, run from R/cwd with HOME and CAJAL_PATH
  local function which(home, path, code)
    local env = "env -u CAJAL_PATH HOME=" .. q(home) .. (path and " CAJAL_PATH=" .. q(path) or "")
    local p = io.popen("cd " .. q(places.cwd) .. " && " .. env .. " " .. q(cajal) .. " " ..
      (code or "-e " .. q(probe)) .. " 2>&1")
    local r = p:read("a"):gsub("%s+$", "")
    assert(p:close(), r)
    return r
  end
  local home = R .. "/home"
  local both = R .. "/path1:" .. R .. "/path2"
  assert(which(home, both) == "file", "1: the importing file's folder first")
  assert(os.execute("mv " .. q(R .. "/proj/models") .. " " .. q(R .. "/proj/models.off")))
  assert(which(home, both) == "path1", "2: then CAJAL_PATH, left to right")
  assert(which(home, R .. "/path2:" .. R .. "/path1") == "path2", "2: CAJAL_PATH's order")
  assert(which(home, nil) == "home", "3: then ~/.local/share/cajal")
  assert(which(R .. "/nohome", nil) == "shipped", "4: then the library, not ./models of the current folder")
  assert(which(R .. "/nohome", "::") == "shipped", "an empty CAJAL_PATH entry is not the current folder")
  assert(which(R .. "/nohome", ".") == "cwd", "the current folder when CAJAL_PATH names it")
  -- cj.network: as a file in the calling script's folder; -e: the current folder
  assert(os.execute("mv " .. q(R .. "/proj/models.off") .. " " .. q(R .. "/proj/models")))
  assert(which(R .. "/nohome", nil, q(R .. "/proj/run.lua")) == "not shipped", "cj.network from a script")
  assert(which(R .. "/nohome", nil, "-e " .. q('local net = require "cajal".network(\'import "models/lif"\\n' ..
    'population E = lif(1)\', { backend = "interp" }); print(pcall(function() return net.E.tagged end) ' ..
    'and "cwd" or "shipped")')) == "cwd", "cj.network from -e")
  os.remove(R .. "/proj/models/lif.cajal")
  assert(which(R .. "/nohome", nil, q(R .. "/proj/run.lua")) == "shipped", "cj.network from a script: not the cwd")
  -- not found: the message lists where it looked, in order, and points to the documentation
  writefile(R .. "/proj/missing.cajal", 'import "models/lfi"\n')
  local e = compile.diagnose(R .. "/proj/missing.cajal")
  assert(e:find('missing.cajal:1:1: import "models/lfi": no such model file in the importing file\'s folder, ' ..
    "CAJAL_PATH, ~/.local/share/cajal, cajal's model library or the LuaRocks trees (did you mean 'models/lif'?) (the order of " ..
    "the search: man cajal-lang, IMPORT)\n", 1, true), e)
  os.execute("rm -rf " .. q(R))
end)

-- ---- the generated C ------------------------------------------------------------------

local CC = os.getenv("CC") or "cc"
local have_cc = os.execute(CC .. " --version >/dev/null 2>&1")

-- compile c to an object file with all warnings as errors; true or false, log
local function cc(c, name)
  local base = tmpdir .. "/" .. name
  writefile(base .. ".c", c)
  local cmd = ("%s -std=c99 -O1 -Wall -Wextra -Werror -Wno-unused-parameter -c '%s.c' -o '%s.o' >'%s.log' 2>&1")
              :format(CC, base, base, base)
  local ok = os.execute(cmd)
  local f = io.open(base .. ".log")
  local log = f and f:read("a") or ""
  if f then f:close() end
  return ok, log
end

local function listdir(dir, pattern)
  local out = {}
  local p = io.popen("ls '" .. dir .. "' 2>/dev/null")
  for name in p:lines() do if name:match(pattern) then out[#out + 1] = dir .. "/" .. name end end
  p:close()
  table.sort(out)
  return out
end

T.test("the prelude is the runtime's: cj_kctx as in vm/core/interp.h", function()
  if core.kernel_prelude then
    assert(core.kernel_prelude() == emit.PRELUDE, "emit.PRELUDE differs from cj_kernel_prelude()")
  end
  local f = io.open(srcdir .. "/vm/core/interp.h")
  if not f then T.skip("vm/core/interp.h not found under " .. srcdir) end
  local h = f:read("a")
  f:close()
  local function fields(text)
    local body = text:match("typedef struct cj_kctx%s*{(.-)}%s*cj_kctx;")
    assert(body, "no cj_kctx")
    body = body:gsub("/%*.-%*/", ""):gsub("%s+", " ")
    return body
  end
  assert(fields(h) == fields(emit.PRELUDE), "cj_kctx differs:\n" .. fields(h) .. "\n" .. fields(emit.PRELUDE))
end)

T.test("emit rejects malformed IR: a temporary read before its let", function()
  local k = { domain = "neurons", kind = "stmts", refs = { { "pop", 1, 1 } }, ntmp = 2,
              body = { { "let", 0, { "num", 1 } }, { "set", 0, "i", { "tmp", 1 } } } }
  T.checkerror("tmp read before its let", emit.c, { kernels = { k } })
  k.body = { { "if", { "num", 1 }, { { "let", 1, { "num", 2 } } }, {} }, { "set", 0, "i", { "tmp", 1 } } }
  T.checkerror("tmp read before its let", emit.c, { kernels = { k } })
  k.body = { { "if", { "num", 1 }, { { "let", 1, { "num", 2 } } }, { { "let", 1, { "num", 3 } } } },
             { "set", 0, "i", { "tmp", 1 } } }
  assert(emit.c({ kernels = { k } }))
  T.checkerror("malformed IR (slot", emit.c, { kernels = { { domain = "neurons", refs = {}, ntmp = 0,
               body = { { "set", 0, "i", { "num", 1 } } } } } })
  T.checkerror("malformed IR (function", emit.c, { kernels = { { domain = "scalar", refs = {}, ntmp = 1,
               body = { { "let", 0, { "call", "system", { "num", 1 } } } } } } })
end)

T.test("numbers are printed exactly (hex floats), specials by name", function()
  for _, x in ipairs({ 1.62e-3, -9e-3, 0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0 }) do
    local s = emit.number(x):gsub("^%((.*)%)$", "%1")
    assert(tonumber(s) == x and (x ~= 0 or 1 / tonumber(s) == 1 / x), s)
  end
  assert(emit.number(math.huge) == "HUGE_VAL" and emit.number(-math.huge) == "(-HUGE_VAL)")
  assert(emit.number(0 / 0) == "NAN")
end)

-- a model with hostile names: C keywords, libc functions, a 10k name
local LONG = "n" .. string.rep("x", 10000)
local HOSTILE = ([[
neuron system {
  parameters { printf = 20 ms; main = -50 mV; exit = 1; LONG = 2 ms }
  state { include = -60 mV; define = 0 mV; popen = 0 }
  input fopen : mV
  equations {
    dinclude/dt = (define + fopen - include) / printf
    ddefine/dt = -define / LONG
    dpopen/dt = -popen / LONG
    abort = include * exit
  }
  spike when abort > main
  reset { include = -60 mV; popen += 1 }
  refractory LONG
}
synapse execve { state { goto = 1 mV } postsynaptic { asm = 0 mV }
  equations { dasm/dt = -asm / (3 ms) }
  on_pre { asm += goto; define_post += 0.5 * goto }
  output fopen = asm }
population volatile = system(3)
population register = system(2, printf = 10 ms)
connect volatile -> register execve all_to_all weight 2 mV as typedef
record include of volatile every 1 ms to "x*/\"y.npy"
record abort of volatile every 1 ms
]]):gsub("LONG", LONG)

T.test("hostile names never reach the C source", function()
  local ir = build(HOSTILE)
  local c = ir.c_source
  local prelude_len = assert(c:find("/* kernel 1,", 1, true), "no kernels") - 1
  assert(c:sub(1, prelude_len):find(emit.PRELUDE, 1, true) == 1 or core.kernel_prelude, "prelude first")
  c = c:sub(prelude_len + 1)            -- the kernels: everything that depends on the model
  for _, w in ipairs({ "system", "printf", "main", "exit", "include", "define", "popen", "fopen",
                       "abort", "execve", "goto", "asm", "volatile", "register", "typedef", LONG }) do
    for pos, word in c:gmatch("()([%a_][%w_]*)") do
      if word == w then
        error("model name '" .. w:sub(1, 20) .. "' in the C source")
      end
    end
  end
  assert(not c:find('y.npy', 1, true) and not c:find('"y', 1, true))
  assert(ir.monitors[1].file == 'x*/"y.npy', "file names go to the IR only")
  if not have_cc then T.skippart("the C compiles", CC .. " not found") end
  if have_cc then
    local ok, log = cc(ir.c_source, "hostile")
    assert(ok, log)
  end
end)

T.test("hostile input never crashes the compiler", function()
  local cases = {
    'import "a\\"b*/c"\n',
    'import "/etc/passwd"\n',
    'import "../../../../etc/passwd"\n',
    'neuron n { parameters { p = 1e308 * 1e308; q = 0 * (1e308 * 10); r = 2 ^ 1e300 }\n' ..
      '  state { v = p } equations { dv/dt = (q - v) / (1 ms) * r } }\npopulation P = n(1)\n',
    'neuron n { state { v = 1 mV } equations { dv/dt = v ^ 1e308 } }\npopulation P = n(1)\n',
    'neuron n { state { v = 1 mV } equations { dv/dt = v * mV^200 } }\npopulation P = n(1)\n',
    'neuron n { state { v = 1 } equations { dv/dt = exp(exp(exp(v))) * log(-1) / (1 ms) } }\npopulation P = n(1)\n',
    'neuron n\xff { state { v = 1 } }\n',
    'neuron n { state { v\xc3\xa9 = 1 } }\n',
    "population P = poisson(0, rate = 1 Hz)\n",
    "population P = poisson(1e12, rate = 1 Hz)\n",
    "neuron n { equations { a = b\n b = a } }\npopulation P = n(1)\n",
    "neuron n { state { x = 0 } equations { dx/dt = a / (1 ms)\n a = b\n b = a } }\npopulation P = n(1)\n",
    string.rep("(", 500) .. "1" .. string.rep(")", 500),
    "neuron n { state { v = 0 } equations { dv/dt = " .. string.rep("v + ", 3000) .. "v } }\n",
  }
  if not have_cc then T.skippart("the C compiles", CC .. " not found") end
  for q, src in ipairs(cases) do
    local ok, e = pcall(compile.build, src, "h.cajal")
    if ok then
      assert(type(e) == "table" and type(e.c_source) == "string", "case " .. q)
      if have_cc then
        local okc, log = cc(e.c_source, "case" .. q)
        assert(okc, "case " .. q .. ":\n" .. log)
      end
    else
      assert(type(e) == "table" and type(tostring(e)) == "string", "case " .. q .. ": " .. tostring(e))
      assert(tostring(e):find("^h%.cajal:%d+:%d+: ") or tostring(e):find("^compile"),
             "case " .. q .. ": " .. tostring(e))
    end
  end
end)

T.test("mutated models give positioned errors, never an internal error", function()
  local files = listdir(srcdir .. "/examples", "%.cajal$")
  for _, f in ipairs(listdir(srcdir .. "/stdlib/models", "%.cajal$")) do files[#files + 1] = f end
  local texts = {}
  for q, f in ipairs(files) do local fh = io.open(f); texts[q] = fh:read("a"); fh:close() end
  local words = { "v", "w", "ge", "i", "j", "t", "xi", "0", "1 mV", "ms", "+", "*", "/", "^", "(", ")",
    "exp(", "rand()", "v_post", "r_pre", "not_refractory", "if v > 0 then 1 else 2", "1e308", "{", "}",
    "\n", "=", "+=", "all_to_all", "weight", "delay 2 ms", "clamp v", "(event-driven)", "I_syn",
    "output I_syn = w", "postsynaptic { g = 0 nS }", "method rk4", "method exact", "population X = lif(3)",
    "record v of E", "Hz", "nS", "uniform(1, 2)" }
  local anyarrays = setmetatable({}, { __index = function() return { i = { 0 }, j = { 0 }, t = { 0.001 } } end })
  local seed = 12345
  local function rnd(n)                       -- a small LCG: the same cases on every run
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
  end
  local compiled = 0
  for _ = 1, 400 do
    local q = rnd(#files)
    local src = texts[q]
    for _ = 1, rnd(3) do
      local p = rnd(#src)
      src = src:sub(1, p - 1) .. words[rnd(#words)] .. src:sub(p + rnd(6) - 1)
    end
    local ok, e = pcall(compile.build, src, files[q], { arrays = anyarrays })
    if ok then
      compiled = compiled + 1
      assert(type(e.c_source) == "string")
    else
      local msg = tostring(e)
      assert(type(e) == "table" and (msg:find("^[^\n]*:%d+:%d+: ") or msg:find("^compile")),
             "internal error for a mutation of " .. files[q] .. ":\n" .. msg .. "\n--- source:\n" .. src)
    end
  end
  assert(compiled > 20, "too few mutations compiled: " .. compiled)
end)

T.test("every model of the library and every example compiles, and its C too", function()
  local files = listdir(srcdir .. "/stdlib/models", "%.cajal$")
  for _, f in ipairs(listdir(srcdir .. "/examples", "%.cajal$")) do files[#files + 1] = f end
  assert(#files >= 10, "found " .. #files .. " files under " .. srcdir)
  if not have_cc then T.skippart("the C compiles", CC .. " not found") end
  -- any array an example asks for: one spike, one connection
  local anyarrays = setmetatable({}, { __index = function() return { i = { 0 }, j = { 0 }, t = { 0.001 } } end })
  for _, f in ipairs(files) do
    local ok, ir = pcall(compile.load_file, f, { seed = 3, arrays = anyarrays })
    assert(ok, tostring(ir))
    if have_cc then
      local okc, log = cc(ir.c_source, (f:match("([^/]*)%.cajal$")))
      assert(okc, f .. ":\n" .. log)
    end
  end
end)

T.test("every synapse of the library works with every neuron that has its input", function()
  local imports = {}
  for _, f in ipairs(listdir(srcdir .. "/stdlib/models", "%.cajal$")) do
    imports[#imports + 1] = ('import "models/%s"'):format(f:match("([^/]*)%.cajal$"))
  end
  local src = table.concat(imports, "\n") .. "\n"
  local lib = {}
  for _, f in ipairs(listdir(srcdir .. "/stdlib/models", "%.cajal$")) do
    local fh = io.open(f); local text = fh:read("a"); fh:close()
    for kind, name in text:gmatch("\n(%a+) ([%w_]+) {") do
      lib[#lib + 1] = { kind = kind, name = name }
    end
  end
  local n = 0
  for _, nm in ipairs(lib) do
    if nm.kind == "neuron" then
      for _, sm in ipairs(lib) do
        if sm.kind == "synapse" then
          local net = src .. ("population A = %s(4)\npopulation B = %s(3)\nconnect A -> B %s all_to_all\n")
                            :format(nm.name, nm.name, sm.name)
          local ok, e = pcall(compile.build, net, tmpdir .. "/lib.cajal")
          if ok then n = n + 1
          else
            local msg = tostring(e)
            assert(msg:find("is not an input of", 1, true) or msg:find("unit mismatch in output", 1, true)
                   or msg:find("unknown presynaptic variable", 1, true)
                   or msg:find("unknown postsynaptic variable", 1, true),
                   nm.name .. " + " .. sm.name .. ": " .. msg)
          end
        end
      end
    end
  end
  assert(n >= 20, "only " .. n .. " neuron/synapse pairs compiled")
end)

-- Two values equal all the way down (tables by content); a path to the first
-- difference, or nil.
local function deepdiff(a, b, path)
  path = path or "ir"
  if type(a) ~= type(b) then return path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) ~= "table" then
    if a ~= b and not (a ~= a and b ~= b) then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return nil
  end
  for k, v in pairs(a) do
    local d = deepdiff(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do if a[k] == nil then return path .. "." .. tostring(k) .. ": missing" end end
  return nil
end

T.test("dumps: ast, ir and c have the structure of the model", function()
  local src = LIN3 .. "neuron other { state { x = 0 } equations { dx/dt = -x / (1 ms) } }\n" ..
              "population Q = other(3)\nrecord v of P\n"
  local path = tmpdir .. "/dump.cajal"
  writefile(path, src)
  -- ast: one node per top-level item, at the line and column where it starts
  local ast = compile.dump("ast", path)
  local lines = {}
  for l in ast:gmatch("[^\n]+") do lines[#lines + 1] = l end
  assert(lines[1] == "file 1:1 file=" .. path, lines[1])
  assert(lines[2] == "  body:", lines[2])
  local items = {}
  for _, l in ipairs(lines) do
    local tag, pos, rest = l:match("^    (%a+) (%d+:%d+)(.*)$")
    if tag then items[#items + 1] = { tag, pos, rest:match("name=([%w_]+)") } end
  end
  local want, lnum = {}, 0
  for l in (src .. "\n"):gmatch("([^\n]*)\n") do        -- the items, found in the text itself
    lnum = lnum + 1
    local tag, name = l:match("^(%a+) ([%w_]+)")
    if tag == "neuron" or tag == "population" then want[#want + 1] = { tag, lnum .. ":1", name } end
    if tag == "record" then want[#want + 1] = { tag, lnum .. ":1" } end
  end
  assert(#items == #want, #items .. " top-level nodes, " .. #want .. " items in the text")
  for k, w in ipairs(want) do
    local it = items[k]
    assert(it[1] == w[1] and it[2] == w[2] and it[3] == w[3],
           ("item %d: %s %s %s, expected %s %s %s"):format(k, it[1], it[2], tostring(it[3]), w[1], w[2], tostring(w[3])))
  end
  -- ir: the text is the IR itself (a Lua table), source and C left out, and
  -- the provenance's parts (the files' text and the parameter set)
  local irt = compile.dump("ir", path)
  local chunk = assert(load("return " .. irt, "=ir", "t", {}))
  local dumped = chunk()
  local ir = compile.build(src, path)
  assert(ir.files[1].path == path and ir.files[1].text == src and ir.parameters.populations.P)
  ir.source, ir.c_source, ir.files, ir.parameters = nil, nil, nil, nil
  local d = deepdiff(dumped, ir)
  assert(d == nil, "the IR dump differs from the IR: " .. tostring(d))
  assert(#dumped.populations == 2 and dumped.populations[1].name == "P" and dumped.populations[2].n == 3)
  assert(#dumped.monitors == 1 and dumped.monitors[1].pop == 1)
  -- c: one function per kernel of the IR, and nothing else named cjk_
  local c = compile.dump("c", path)
  local defs = {}
  for id in c:gmatch("\nvoid cjk_(%d+)%(const cj_kctx %*c%)") do defs[#defs + 1] = tonumber(id) end
  assert(#defs == #ir.kernels, #defs .. " kernel functions for " .. #ir.kernels .. " kernels")
  for k, kern in ipairs(ir.kernels) do assert(defs[k] == kern.id, "kernel " .. kern.id) end
  if not have_cc then T.skippart("the dumped C compiles", CC .. " not found") end
  if have_cc then
    local ok, log = cc(c, "dump")
    assert(ok, log)
  end
  T.checkerror("bad argument #1 'stage'", compile.dump, "asm", path)
  assert(compile.diagnose(path) == nil)
end)

-- ---- through the runtime (vm/core/net.c, interp.c, jit.c) ------------------------

local function flat(arr)
  local out = {}
  local function walk(t)
    if type(t) == "table" then for _, x in ipairs(t) do walk(x) end
    else out[#out + 1] = type(t) == "number" and t or t.value end
  end
  walk(arr:totable())
  return out
end

-- backends(ir) -> list of {name, jit handle or nil}
local function backends(ir)
  local list = { { "interpreter" } }
  local okjit, why = core.jit_available()
  if not okjit then T.skippart("compiled backend", "no C compiler: " .. tostring(why)) end
  if okjit then
    local h, msg = core.jit_compile(ir.c_source, ir.kernels)
    assert(h, msg)
    list[#list + 1] = { "jit", h }
  end
  return list
end

T.test("runtime: the exact integration matches the closed form and the IR, both backends", function()
  local ir = build((LIN3:gsub("lin3%(1%)", "lin3(3)")))
  local st = newstate(ir)
  EV.neurons(ir, ir.populations[1].init, st, 0)
  for n = 0, 1999 do EV.neurons(ir, ir.populations[1].update, st, n * ir.dt) end
  for _, be in ipairs(backends(ir)) do
    local net = core.net_new(ir, be[2])
    net:run(2000)
    for _, name in ipairs({ "v", "ge", "w" }) do
      local got = flat(net:state("P", name))
      local want = st[1][varindex(ir, 1, name)][1]
      assert(#got == 3)
      for i = 1, 3 do
        assert(got[i] == want, ("%s: %s %.17g vs the IR evaluated in Lua %.17g"):format(be[1], name, got[i], want))
      end
    end
  end
end)

T.test("runtime: an exponential current synapse onto a LIF is integrated jointly and exactly", function()
  local ir = build([[
import "models/lif"
import "models/synapses"
population S = spike_times(1) from arrays st
population L = lif(1)
connect S -> L exp_current all_to_all weight 50 pA
record v of L every 0.1 ms
]], { arrays = { st = { i = { 0 }, t = { 0.001 } } } })
  for _, be in ipairs(backends(ir)) do
    local net = core.net_new(ir, be[2])
    net:run(400)
    local v = flat(net:monitor(1))
    assert(#v == 400)
    -- spike at step 10, delivered at the start of step 11: row n+1 (1-based)
    -- holds the state at n dt, which has felt it from n = 12 on
    local w, Cm, tm, ts, EL, dt = 50e-12, 250e-12, 0.01, 0.005, -0.07, 1e-4
    for n = 0, 399 do
      local want = EL
      if n >= 12 then
        local s = (n - 11) * dt
        want = EL + (w / Cm) * tm * ts / (tm - ts) * (math.exp(-s / tm) - math.exp(-s / ts))
      end
      T.near(v[n + 1], want, 1e-12 * 0.07, be[1] .. " v at step " .. n)
    end
  end
end)

T.test("runtime: examples and library models give the same results on both backends", function()
  if not core.jit_available() then T.skip("no C compiler: only the interpreter can run") end
  local lib = {}
  local imports = {}
  for _, f in ipairs(listdir(srcdir .. "/stdlib/models", "%.cajal$")) do
    imports[#imports + 1] = ('import "models/%s"'):format(f:match("([^/]*)%.cajal$"))
  end
  -- one network with every spiking neuron of the library driven by Poisson
  -- input through a current synapse, and every conductance synapse once
  local net = table.concat(imports, "\n") .. [[

population P = poisson(20, rate = 50 Hz)
population L = lif(5, I_e = 300 pA)
population A = adex(5)
population Z = izhikevich(5)
population H = hh(5)
population Q = qif(5)
population X = eif(5)
connect P -> L exp_current all_to_all weight 100 pA
connect P -> A alpha_cond all_to_all weight 2 nS
connect P -> Z biexp_current all_to_all weight 80 pA
connect P -> H exp_cond all_to_all weight 5 nS
connect P -> Q ampa all_to_all weight 3
connect P -> X nmda all_to_all weight 2
connect L -> A stdp all_to_all
connect L -> L stdp_delta with probability 0.5
record spikes of L, A, Z, H, Q, X
record v of A, H every 1 ms
]]
  local files = listdir(srcdir .. "/examples", "%.cajal$")
  local cases = {}
  for _, f in ipairs(files) do
    local fh = io.open(f); local text = fh:read("a"); fh:close()
    if not text:find("from arrays", 1, true) then          -- those need data from Lua
      cases[#cases + 1] = { f, compile.load_file(f, { seed = 5 }) }
    end
  end
  cases[#cases + 1] = { "library", compile.build(net, tmpdir .. "/library.cajal", { seed = 5 }) }
  for _, c in ipairs(cases) do
    local ir = c[2]
    local results = {}
    for _, be in ipairs(backends(ir)) do
      local n = core.net_new(ir, be[2])
      n:run(1500)
      local out = {}
      for m = 1, #ir.monitors do
        local a, bb = n:monitor(m)
        out[#out + 1] = table.concat(flat(a), ",")
        if bb then out[#out + 1] = table.concat(flat(bb), ",") end
      end
      for p, pop in ipairs(ir.populations) do
        for v = 1, #(pop.vars or {}) do out[#out + 1] = table.concat(flat(n:state(p, v)), ",") end
      end
      results[#results + 1] = table.concat(out, ";")
    end
    assert(results[1] == results[2], c[1] .. ": the backends differ")
    assert(not results[1]:find("nan", 1, true), c[1] .. ": NaN in the state")
  end
end)


T.test("two models compile in one state without interference: no per-parse state is kept", function()
  local grammar = require "cajal.grammar"
  local check = require "cajal.check"
  local good = [[
    neuron leaky {
      parameters { tau = 10 ms }
      state { v = 0 mV }
      equations {
        a = v / tau
        dv/dt = -a
      }
    }
    population P = leaky(3, v = 1 mV)
    record v of P
  ]]
  -- the first model fails half-way: inside a chain of definitions, with a
  -- bracket still open at the parse
  local circle = [[
    neuron lif {
      state { v = 0 mV }
      equations {
        x = y
        y = z
        z = x
        dv/dt = -v / (10 ms) + x / ms
      }
    }
    population P = lif(4)
  ]]
  local alone = compile.irtext(compile.build(good, "good.cajal", { seed = 1 }))
  local err = T.checkerror("circle: x -> y -> z -> x", compile.build, circle, "circle.cajal", { seed = 1 })
  assert(not err:find("a ->", 1, true), err)
  assert(not grammar.parse("population P = lif(4, v = (1 mV\n", "c.cajal"))
  assert(compile.irtext(compile.build(good, "good.cajal", { seed = 1 })) == alone,
         "a model compiled after a failed one differs from the same model compiled alone")
  -- the grammar alone: a parse after a failed one gives the same tree
  local ast1 = grammar.dump((grammar.parse(good, "a.cajal")))
  assert(not grammar.parse("neuron n { state { v = 0 mV }\n", "b.cajal"))
  assert(grammar.dump((grammar.parse(good, "a.cajal"))) == ast1)
  -- the modules keep nothing of a compilation
  assert(check.defstack == nil, "check.lua keeps a definition stack in the module")
end)

os.execute("rm -rf '" .. tmpdir .. "'")
T.done()
