-- cajal.integrate — the integration methods of the network language, used
-- by lower.lua for every system of equations of a model.
--
-- The one list of their names (METHODS) is what the grammar (`method
-- NAME`), its error text, compile's opts.method check and the dispatch
-- below read. Adding a method: its name in METHODS, its stepper here (a
-- function of env and the system returning the new values, called from
-- step()), its paragraph in man cajal-lang(7) (METHOD) and a test.
--
-- A system of equations whose right-hand sides are affine in
-- its variables with constant coefficients (forcing terms that do not
-- depend on the variables are held constant over a step: inputs, other
-- per-neuron values) is integrated EXACTLY: with A the coefficients and f
-- the forcing, x(t+dt) = P x(t) + Q f with P = expm(A dt) and
-- Q = integral_0^dt expm(A s) ds, both read off expm([[A dt, I dt], [0, 0]])
-- computed here in double precision (scaling and squaring with the
-- diagonal Pade approximant of degree 13, Higham 2005). Other systems use
-- the model's method: euler, rk2 (the midpoint rule), rk4 (the classical
-- one), exponential_euler (each equation linear in its own variable,
-- dx/dt = A x + B with A and B frozen at the start of the step:
-- x + (A x + B) * expm1(A dt) / A). An equation with the white noise xi is
-- integrated by Euler-Maruyama (xi = N(0,1) / sqrt(dt)). All right-hand
-- sides are evaluated from the old state into temporaries, then stored;
-- a variable clamped by the refractory period is stored as
-- ifelse(not_refractory, new, old), after taking back the value the reset
-- left (jumps during the period are dropped, as in Brian2). The matrix is balanced first (powers
-- of 2) so that mixed units do not cost accuracy.
--
local M = {}

local texpr = require "cajal.texpr"
local format = string.format
local mk, num, call, uses = texpr.mk, texpr.num, texpr.call, texpr.uses
local hasleaf, sum, isnum = texpr.hasleaf, texpr.sum, texpr.isnum

-- The expression lowering of lower.lua (loaded first: it requires this file).
local function lower() return package.loaded["cajal.lower"] end
local function lx(e, env, side) return lower().lx(e, env, side) end
local function readvar(env, sym, side) return lower().readvar(env, sym, side) end
local function affine(e, vars) return lower().affine(e, vars) end
local function fail(...) return require("cajal.check").fail(...) end
local function suggest(...) return require("cajal.check").suggest(...) end

-- In the order messages list them.
M.METHODS = { "exact", "euler", "rk2", "rk4", "exponential_euler" }

M.ISMETHOD = {}
for _, m in ipairs(M.METHODS) do M.ISMETHOD[m] = true end

-- "exact, euler, rk2, rk4 or exponential_euler"
M.CHOICES = table.concat(M.METHODS, ", ", 1, #M.METHODS - 1) .. " or " .. M.METHODS[#M.METHODS]

-- ---- dense matrices (lists of rows) --------------------------------------------

local function zeros(n, m)
  local A = {}
  for r = 1, n do
    local row = {}
    for c = 1, m or n do row[c] = 0.0 end
    A[r] = row
  end
  return A
end

local function eye(n)
  local I = zeros(n)
  for r = 1, n do I[r][r] = 1.0 end
  return I
end

local function matmul(A, B)
  local n, m, p = #A, #B, #B[1]
  local C = {}
  for r = 1, n do
    local Cr, Ar = {}, A[r]
    for c = 1, p do
      local s = 0.0
      for k = 1, m do s = s + Ar[k] * B[k][c] end
      Cr[c] = s
    end
    C[r] = Cr
  end
  return C
end

-- sum of c_k X_k over terms {{c, X}, ...}
local function lincomb(terms, n)
  local C = zeros(n)
  for r = 1, n do
    local Cr = C[r]
    for c = 1, n do
      local s = 0.0
      for _, t in ipairs(terms) do s = s + t[1] * t[2][r][c] end
      Cr[c] = s
    end
  end
  return C
end

-- Solve A X = B (Gaussian elimination with partial pivoting); nil if singular.
local function solve(A, B)
  local n, p = #A, #B[1]
  local a, b = {}, {}
  for r = 1, n do a[r] = table.move(A[r], 1, n, 1, {}); b[r] = table.move(B[r], 1, p, 1, {}) end
  for k = 1, n do
    local piv, best = k, math.abs(a[k][k])
    for r = k + 1, n do
      if math.abs(a[r][k]) > best then piv, best = r, math.abs(a[r][k]) end
    end
    if best == 0 then return nil end
    a[k], a[piv] = a[piv], a[k]
    b[k], b[piv] = b[piv], b[k]
    for r = k + 1, n do
      local f = a[r][k] / a[k][k]
      if f ~= 0 then
        for c = k, n do a[r][c] = a[r][c] - f * a[k][c] end
        for c = 1, p do b[r][c] = b[r][c] - f * b[k][c] end
      end
    end
  end
  for k = n, 1, -1 do
    for c = 1, p do
      local s = b[k][c]
      for q = k + 1, n do s = s - a[k][q] * b[q][c] end
      b[k][c] = s / a[k][k]
    end
  end
  return b
end

local function norm1(A)
  local best = 0.0
  for c = 1, #A do
    local s = 0.0
    for r = 1, #A do s = s + math.abs(A[r][c]) end
    if s > best or s ~= s then best = s end
  end
  return best
end

-- Coefficients b_0..b_13 of the degree-13 diagonal Pade approximant of exp,
-- b_j = (26-j)! 13! / (26! j! (13-j)!) scaled to integers (b_13 = 1): the
-- recurrence b_(j-1) = b_j * j (27-j) / (14-j) stays exact in 64-bit integers.
local PADE = {}
do
  local b = 1
  PADE[13] = 1.0
  for j = 13, 1, -1 do
    b = b * j * (27 - j) // (14 - j)
    PADE[j - 1] = b + 0.0
  end
end
M.PADE = PADE
local THETA13 = 5.371920351148152   -- Higham (2005), Table 2.3

-- Balance A (Parlett & Reinsch; LAPACK's gebal without permutations):
-- B = D^-1 A D with D a diagonal of powers of 2 (exact), so rows and columns
-- have comparable norms. A model mixes units (1/C = 4e9 next to 1/tau = 50):
-- without this the scaling and squaring would square away 10 digits.
local function balance(A)
  local n = #A
  local B, d = {}, {}
  for r = 1, n do B[r] = table.move(A[r], 1, n, 1, {}); d[r] = 1.0 end
  for _ = 1, 100 do
    local done = true
    for k = 1, n do
      local c, r = 0.0, 0.0
      for q = 1, n do
        if q ~= k then c = c + math.abs(B[q][k]); r = r + math.abs(B[k][q]) end
      end
      if c > 0 and r > 0 and c < math.huge and r < math.huge then
        local f, s, g = 1.0, c + r, r / 2
        while c < g do f = f * 2; c = c * 4 end
        g = r * 2
        while c >= g do f = f / 2; c = c / 4 end
        if (c + r) / f < 0.95 * s then
          done = false
          d[k] = d[k] * f
          for q = 1, n do B[k][q] = B[k][q] / f; B[q][k] = B[q][k] * f end
        end
      end
    end
    if done then break end
  end
  return B, d
end

-- expm(A) for a square matrix A (list of rows): balancing, then scaling and
-- squaring with Pade(13). Returns nil when A has a NaN or an infinity.
function M.expm(A)
  local n = #A
  if norm1(A) ~= norm1(A) or norm1(A) == math.huge then return nil end
  local B, d = balance(A)
  local E = M.expm_unbalanced(B)
  if not E then return nil end
  for r = 1, n do for c = 1, n do E[r][c] = d[r] * E[r][c] / d[c] end end
  return E
end

function M.expm_unbalanced(A)
  local n = #A
  local nrm = norm1(A)
  if nrm ~= nrm or nrm == math.huge then return nil end
  local s = 0
  if nrm > THETA13 then s = math.ceil(math.log(nrm / THETA13, 2)) end
  if s > 1000 then return nil end
  local scale = 2.0 ^ -s
  local X = zeros(n)
  for r = 1, n do for c = 1, n do X[r][c] = A[r][c] * scale end end
  local I, b = eye(n), PADE
  local X2 = matmul(X, X)
  local X4 = matmul(X2, X2)
  local X6 = matmul(X4, X2)
  local U = matmul(X, lincomb({ { 1.0, matmul(X6, lincomb({ { b[13], X6 }, { b[11], X4 }, { b[9], X2 } }, n)) },
                                { b[7], X6 }, { b[5], X4 }, { b[3], X2 }, { b[1], I } }, n))
  local V = lincomb({ { 1.0, matmul(X6, lincomb({ { b[12], X6 }, { b[10], X4 }, { b[8], X2 } }, n)) },
                      { b[6], X6 }, { b[4], X4 }, { b[2], X2 }, { b[0], I } }, n)
  local R = solve(lincomb({ { 1, V }, { -1, U } }, n), lincomb({ { 1, V }, { 1, U } }, n))
  if not R then return nil end
  for _ = 1, s do R = matmul(R, R) end
  for r = 1, n do for c = 1, n do if R[r][c] ~= R[r][c] then return nil end end end
  return R
end

-- propagator(A, h) -> P, Q with P = expm(A h), Q = int_0^h expm(A s) ds.
function M.propagator(A, h)
  local n = #A
  local Mx = zeros(2 * n)
  for r = 1, n do
    for c = 1, n do Mx[r][c] = A[r][c] * h end
    Mx[r][n + r] = h
  end
  local E = M.expm(Mx)
  if not E then return nil end
  local P, Q = zeros(n), zeros(n)
  for r = 1, n do
    for c = 1, n do P[r][c] = E[r][c]; Q[r][c] = E[r][n + c] end
  end
  return P, Q
end

-- ---- integration ------------------------------------------------------------------
--
-- A system is a list of equations { sym, rhs = texpr, clamp = bool, pos }.
-- integrate(env, system, method) lowers one step into temporaries and
-- returns the list of new values (IR expressions), in system order.

local perneuron_linear   -- below

-- exp(x) - 1 without cancellation (Kahan's trick; Lua has no expm1)
local function expm1(x)
  local u = math.exp(x)
  if u == 1.0 then return x end
  local um = u - 1.0
  if um == -1.0 then return -1.0 end
  if u == math.huge then return u end
  return um * x / math.log(u)
end
M.expm1 = expm1
local NOTCONST = { t = true, xi = true, rand = true, unknown = true }

-- linear(system) -> A (numbers), f (texpr|nil per equation) | nil, eq, why
local function linear(system)
  local vars, n = {}, #system
  for k, eq in ipairs(system) do vars[eq.sym] = k end
  local A, f = zeros(n), {}
  for k, eq in ipairs(system) do
    local a = affine(eq.rhs, vars)
    if not a then
      return nil, eq, format("d%s/dt is not linear in the variables", eq.sym.name)
    end
    for s, c in pairs(a.coef) do
      if not isnum(c) then
        return nil, eq, format("d%s/dt has a coefficient that is not constant", eq.sym.name)
      end
      A[k][vars[s]] = c[2]
    end
    if a.rest and not (isnum(a.rest) and a.rest[2] == 0) then
      if hasleaf(a.rest, NOTCONST) then
        return nil, eq, format("d%s/dt depends on t or on noise", eq.sym.name)
      end
      f[k] = a.rest
    end
  end
  return A, f
end
M.linear = linear

-- which x_l reach x_k through the coefficients (transitive, reflexive)
local function reach(A)
  local n = #A
  local R = {}
  for k = 1, n do
    R[k] = {}
    for l = 1, n do R[k][l] = (k == l) or A[k][l] ~= 0 end
  end
  for m = 1, n do
    for k = 1, n do
      if R[k][m] then for l = 1, n do if R[m][l] then R[k][l] = true end end end
    end
  end
  return R
end


local function exact(env, system, A, f)
  local L = env.k.L
  local P, Q = M.propagator(A, L.dt)
  if not P then return nil end
  local R = reach(A)
  local x, fv = {}, {}
  for l, eq in ipairs(system) do
    x[l] = readvar(env, eq.sym)
    if f[l] then
      local v = lx(f[l], env)
      fv[l] = isnum(v) and v or env.k:let(v, env.out)
    end
  end
  local new = {}
  for k = 1, #system do
    local terms, const = {}, 0.0
    for l = 1, #system do
      if R[k][l] and P[k][l] ~= 0 then terms[#terms + 1] = mk("*", num(P[k][l]), x[l]) end
    end
    for l = 1, #system do
      if R[k][l] and fv[l] and Q[k][l] ~= 0 then
        if isnum(fv[l]) then const = const + Q[k][l] * fv[l][2]
        else terms[#terms + 1] = mk("*", num(Q[k][l]), fv[l]) end
      end
    end
    if const ~= 0 then terms[#terms + 1] = num(const) end
    new[k] = env.k:let(sum(terms), env.out)
  end
  return new
end

-- an env for one stage: fresh definition cache, substituted variables
-- (the substitutions of env stay, those given override them: a clamped
-- variable's value after its restore, see popupdate)
local function stage(env, subst, tshift)
  local s = env.subst
  if subst and s and subst ~= s then
    local m = {}
    for k, v in pairs(s) do m[k] = v end
    for k, v in pairs(subst) do m[k] = v end
    s = m
  elseif subst then
    s = subst
  end
  return { k = env.k, domain = env.domain, pop = env.pop, proj = env.proj, out = env.out,
           subst = s, tshift = tshift, defs = {}, xi = env.xi }
end

-- The right-hand sides of system, each bound to a temporary. With h (the
-- Euler step), also the factor of each: a right-hand side E / c with c a
-- constant is returned as E with the factor h / c (computed once here, as
-- Brian2 folds dt / tau into a loop invariant), others with h. So an Euler
-- step x + h E / c costs no division per neuron (both backends run the
-- same IR: the rounding of h / c is the compiler's, the same everywhere).
local function rhs_all(env, system, h)
  local r, c = {}, {}
  for q, eq in ipairs(system) do
    local e = env
    if eq.noise then
      e = stage(env, env.subst, env.tshift)
      e.defs = env.defs
      e.xi = eq.noise
    end
    local v = lx(eq.rhs, e)
    c[q] = h
    if h and v[1] == "/" and isnum(v[3]) then
      local f = h / v[3][2]
      if f == f and f ~= 0 and math.abs(f) >= 0x1p-1022 and math.abs(f) < math.huge then
        v, c[q] = v[2], f
      end
    end
    r[q] = env.k:let(v, env.out)
  end
  return r, c
end

local function rk(env, system, method)
  local dt = env.k.L.dt
  local x = {}
  for q, eq in ipairs(system) do x[q] = readvar(env, eq.sym) end
  local function at(k, h)    -- x + h k, as a substitution
    local s = {}
    for q, eq in ipairs(system) do s[eq.sym] = env.k:let(mk("+", x[q], mk("*", num(h), k[q])), env.out) end
    return s
  end
  local new = {}
  if method == "euler" then
    local k1, c = rhs_all(stage(env), system, dt)
    for q in ipairs(system) do new[q] = env.k:let(mk("+", x[q], mk("*", num(c[q]), k1[q])), env.out) end
  elseif method == "rk2" then
    local k1 = rhs_all(stage(env), system)
    local k2 = rhs_all(stage(env, at(k1, dt / 2), num(dt / 2)), system)
    for q in ipairs(system) do new[q] = env.k:let(mk("+", x[q], mk("*", num(dt), k2[q])), env.out) end
  else -- rk4
    local k1 = rhs_all(stage(env), system)
    local k2 = rhs_all(stage(env, at(k1, dt / 2), num(dt / 2)), system)
    local k3 = rhs_all(stage(env, at(k2, dt / 2), num(dt / 2)), system)
    local k4 = rhs_all(stage(env, at(k3, dt), num(dt)), system)
    for q in ipairs(system) do
      local s = mk("+", mk("+", mk("+", k1[q], mk("*", num(2), k2[q])), mk("*", num(2), k3[q])), k4[q])
      new[q] = env.k:let(mk("+", x[q], mk("*", num(dt / 6), s)), env.out)
    end
  end
  return new
end

local function expeuler(env, system, src)
  local dt = env.k.L.dt
  local e = stage(env)
  local new = {}
  for q, eq in ipairs(system) do
    local a = affine(eq.rhs, { [eq.sym] = true })
    if not a then
      fail(src, eq.pos, format("exponential_euler: d%s/dt is not linear in %s", eq.sym.name, eq.sym.name))
    end
    local x = readvar(env, eq.sym)
    local A = a.coef[eq.sym] and lx(a.coef[eq.sym], e) or num(0)
    local B = a.rest and lx(a.rest, e) or num(0)
    if isnum(A) and A[2] == 0 then
      new[q] = env.k:let(mk("+", x, mk("*", num(dt), B)), env.out)
    else
      local factor
      if isnum(A) then
        factor = num(math.abs(A[2] * dt) < 1e-300 and dt or (expm1(A[2] * dt) / A[2]))
      else
        A = env.k:let(A, env.out)
        factor = mk("ifelse", mk("==", A, num(0)), num(dt), mk("/", call("expm1", mk("*", A, num(dt))), A))
      end
      B = env.k:let(B, env.out)
      new[q] = env.k:let(mk("+", x, mk("*", mk("+", mk("*", A, x), B), factor)), env.out)
    end
  end
  return new
end

local METHODS = M.ISMETHOD

-- One equation, affine in its variable, whose coefficient is built from
-- numbers and per-neuron parameters only (a population override with i or a
-- draw: lif(10, tau_m = 10 ms + i * 1 ms)), the rest free of t and noise.
perneuron_linear = function(system)
  if #system ~= 1 then return false end
  local eq = system[1]
  local a = affine(eq.rhs, { [eq.sym] = true })
  if not a or (a.rest and hasleaf(a.rest, NOTCONST)) then return false end
  local c = a.coef[eq.sym]
  if not c then return false end
  local ok, some = true, false
  uses(c, function(x)
    local op = x[1]
    if op == "sym" then
      if x[2].perneuron then some = true else ok = false end
    elseif op == "def" then
      ok = false
    elseif NOTCONST[op] or op == "notref" or op == "lastspike" then
      ok = false
    end
    return false
  end)
  return ok and some
end

-- integrate(env, system, method, where) -> new values; where = {src, pos,
-- what} for errors. method nil: exact when linear, else euler.
local function integrate(env, system, method, where)
  if #system == 0 then return {} end
  method = env.k.L.method or method
  local noisy = false
  for _, eq in ipairs(system) do
    if hasleaf(eq.rhs, { xi = true }) then
      noisy = true
      local node = {}
      local c = num(1 / math.sqrt(env.k.L.dt))
      eq.noise = function() return mk("*", { "rand", "normal", env.k:draw(node) }, c) end
    end
  end
  if noisy then
    if method and method ~= "euler" then
      fail(where.src, where.pos, format("method %s cannot integrate the noise xi: use euler (Euler-Maruyama)", method))
    end
    return rk(env, system, "euler")
  end
  if method and not METHODS[method] then
    fail(where.src, where.pos, format("unknown method '%s'%s", method, suggest(method, METHODS)))
  end
  if method == nil or method == "exact" then
    local A, f, why = linear(system)
    if A then
      local new = exact(env, system, A, f)
      if new then return new end
      why = "its propagator is not finite"
    elseif perneuron_linear(system) then
      -- one equation dx/dt = A x + B, A a per-neuron parameter: the closed
      -- form x + (A x + B) expm1(A dt) / A is exact, neuron by neuron
      return expeuler(env, system, where.src)
    end
    if method == "exact" then
      fail(where.src, where.pos, format("method exact: the equations of %s are not linear with constant coefficients (%s)",
                                        where.what, tostring(why)))
    end
    method = "euler"
  end
  if method == "exponential_euler" then return expeuler(env, system, where.src) end
  return rk(env, system, method)
end
M.step = integrate
M.exact, M.stage = exact, stage

return M
