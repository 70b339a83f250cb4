-- capsule.lua — cj.capsule from Lua: routing against a plain-loop
-- re-computation of Procedure 1 (Sabour, Frosst & Hinton 2017) to 1e-12,
-- coupling concentrating on the parent that a subset of children agree on,
-- predictions, the margin loss and gradients against finite differences,
-- training a layer, EM routing against a re-computation, the example, and
-- errors.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local caps = cj.capsule

local format, exp, sqrt = string.format, math.exp, math.sqrt

-- Procedure 1 with plain Lua loops over nested tables: uh[i][j][k]
local function procedure1(uh, r)
  local I, J, D = #uh, #uh[1], #uh[1][1]
  local b, c, v = {}, {}, {}
  for i = 1, I do b[i] = {}; c[i] = {}; for j = 1, J do b[i][j] = 0 end end
  for _ = 1, r do
    for i = 1, I do
      local z = 0
      for j = 1, J do z = z + exp(b[i][j]) end
      for j = 1, J do c[i][j] = exp(b[i][j]) / z end
    end
    for j = 1, J do
      local s, n2 = {}, 0
      for k = 1, D do
        s[k] = 0
        for i = 1, I do s[k] = s[k] + c[i][j] * uh[i][j][k] end
        n2 = n2 + s[k] * s[k]
      end
      v[j] = {}
      for k = 1, D do v[j][k] = n2 / (1 + n2) * s[k] / sqrt(n2) end
    end
    for i = 1, I do
      for j = 1, J do
        for k = 1, D do b[i][j] = b[i][j] + uh[i][j][k] * v[j][k] end
      end
    end
  end
  return v, c, b
end

local function maxdiff(a, t)                      -- array vs nested table
  local x, y, m = T.values(a), {}, 0
  local function flat(u) if type(u) == "table" then for _, w in ipairs(u) do flat(w) end else y[#y + 1] = u end end
  flat(t)
  assert(#x == #y, format("%d vs %d elements", #x, #y))
  for k = 1, #x do m = math.max(m, math.abs(x[k] - y[k])) end
  return m
end

T.test("routing equals a plain re-computation of Procedure 1 (to 1e-12)", function()
  local rng = cj.rng(4)
  for _, r in ipairs({ 1, 2, 3, 5 }) do
    local U = rng:normal(0, 0.5, 2, 30, 5, 8)           -- batch of 2
    local v, c, b = caps.route(U, r)
    assert(v.shape[1] == 2 and v.shape[2] == 5 and v.shape[3] == 8 and c.shape[2] == 30 and b.shape[3] == 5)
    for e = 1, 2 do
      local rv, rc, rb = procedure1(U[e]:totable(), r)
      assert(maxdiff(v[e], rv) < 1e-12, format("v, r = %d: %g", r, maxdiff(v[e], rv)))
      assert(maxdiff(c[e], rc) < 1e-12, "c")
      assert(maxdiff(b[e], rb) < 1e-12, "b")
      -- one example alone gives the same
      local v1 = caps.route(U[e], r)
      assert(maxdiff(v1, rv) < 1e-12, "unbatched")
    end
  end
end)

T.test("where a subset of children agree on one parent, the coupling concentrates on it", function()
  local rng = cj.rng(9)
  local I, J, D = 24, 6, 8
  local U = rng:normal(0, 0.3, I, J, D)
  local pose = rng:normal(0, 1, D)
  for i = 1, 12 do U[{ i, 4 }] = pose + rng:normal(0, 0.05, D) end   -- 12 children agree on parent 4
  local v, c = caps.route(U, 3)
  for i = 1, 12 do assert(c[{ i, 4 }] > 0.9, format("child %d: c = %g", i, c[{ i, 4 }])) end
  local len = cj.sqrt((v * v):sum(2))
  assert(len:argmax() == 4, "parent 4 is the longest")
  assert(len[4] > 0.95, "and active: " .. len[4])
  -- the other children spread out: none couples more than 0.9 to parent 4
  for i = 13, I do assert(c[{ i, 4 }] < 0.9) end
  -- the coupling sharpens with iterations
  local _, c1 = caps.route(U, 1)
  local _, c5 = caps.route(U, 5)
  assert(c1[{ 1, 4 }] < c[{ 1, 4 }] and c[{ 1, 4 }] < c5[{ 1, 4 }])
end)

T.test("squash and predictions against their formulas", function()
  local v = caps.squash(cj.array({ { 3, 4 }, { 0, 0 } }))
  T.near(v[{ 1, 1 }], 3 * 5 / 26, 1e-15)
  T.near(v[{ 1, 2 }], 4 * 5 / 26, 1e-15)
  assert(v[{ 2, 1 }] == 0 and v[{ 2, 2 }] == 0)
  local rng = cj.rng(1)
  local u, W = rng:normal(0, 1, 3, 4), rng:normal(0, 1, 3, 2, 5, 4)
  local uh = caps.predict(u, W)
  for i = 1, 3 do
    for j = 1, 2 do
      local want = W[{ i, j }]:matmul(u[i])
      assert(maxdiff(uh[{ i, j }], want:totable()) < 1e-13)
    end
  end
end)

T.test("margin loss: value, target forms and gradient", function()
  local v = cj.array({ { { 0.95, 0 }, { 0.3, 0.4 } }, { { 0.6, 0 }, { 0.1, 0.1 } } })
  local L, dv = caps.margin_loss(v, { 1, 1 })
  -- example 1: class 1 present at .95 (0), class 2 absent at .5 (.5 * .4^2);
  -- example 2: class 1 at .6 (.3^2), class 2 absent at .1414 (.5 * .0414^2)
  local n = sqrt(0.02)
  T.near(L, (0.08 + 0.09 + 0.5 * (n - 0.1) ^ 2) / 2, 1e-15)
  local L2 = caps.margin_loss(v, cj.array({ { 1, 0 }, { 1, 0 } }))
  local L3 = caps.margin_loss(v, cj.array({ 1, 1 }))
  T.near(L2, L, 0)
  T.near(L3, L, 0)
  T.near(caps.margin_loss(v[1], 1), 0.08, 1e-15, "one example")
  for _, idx in ipairs({ { 1, 1, 1 }, { 1, 2, 2 }, { 2, 1, 1 }, { 2, 2, 1 } }) do
    local h, x = 1e-7, v[idx]
    v[idx] = x + h
    local lp = caps.margin_loss(v, { 1, 1 })
    v[idx] = x - h
    local lm = caps.margin_loss(v, { 1, 1 })
    v[idx] = x
    T.near(dv[idx], (lp - lm) / (2 * h), 1e-7, "dv")
  end
end)

T.test("a capsule layer: gradient of W against finite differences, and training", function()
  local layer = caps.layer(10, 3, 4, 6, { seed = 3, std = 0.3 })
  assert(layer.children == 10 and layer.parents == 3 and layer.dim_in == 4 and layer.dim_out == 6)
  local u = cj.rng(5):normal(0, 1, 2, 10, 4)
  local labels = { 2, 3 }
  local v = layer:forward(u)
  local L, dv = caps.margin_loss(v, labels)
  local dW = layer:backward(dv)
  local W = layer.W
  for _, idx in ipairs({ { 1, 1, 1, 1 }, { 4, 2, 3, 2 }, { 10, 3, 6, 4 }, { 7, 2, 1, 3 } }) do
    local h, x = 1e-6, W[idx]
    W[idx] = x + h
    local lp = caps.margin_loss(layer:forward(u), labels)
    W[idx] = x - h
    local lm = caps.margin_loss(layer:forward(u), labels)
    W[idx] = x
    T.near(dW[idx], (lp - lm) / (2 * h), 1e-7 * (1 + math.abs(dW[idx])), "dW")
  end
  -- training: two input patterns, each to its own class
  local first = L
  for _ = 1, 100 do L = layer:train(u, labels, 0.5) end
  assert(L < 0.05 * first, format("loss %g after training (from %g)", L, first))
  local len = cj.sqrt((layer:forward(u) ^ 2):sum(3))
  assert(len[1]:argmax() == 2 and len[2]:argmax() == 3, "classified")
  layer.W = cj.zeros(10, 3, 6, 4)
  assert(layer.W:abs():max() == 0, "W assigned in place")
  layer.iterations = 1
  assert(layer.iterations == 1)
end)

-- EM routing with plain loops (densities as products of normals)
local function em(V, a, r, lambda, bu, ba, eps)
  local I, J, H = #V, #V[1], #V[1][1]
  local R, mu, var, act = {}, {}, {}, {}
  for i = 1, I do R[i] = {}; for j = 1, J do R[i][j] = 1 / J end end
  for t = 1, r do
    for i = 1, I do for j = 1, J do R[i][j] = R[i][j] * a[i] end end
    for j = 1, J do
      local rs, cost = 0, 0
      for i = 1, I do rs = rs + R[i][j] end
      mu[j], var[j] = {}, {}
      for h = 1, H do
        local m, q = 0, 0
        for i = 1, I do m = m + R[i][j] * V[i][j][h] / rs end
        for i = 1, I do q = q + R[i][j] * (V[i][j][h] - m) ^ 2 / rs end
        mu[j][h], var[j][h] = m, q + eps
        cost = cost + (bu + math.log(sqrt(var[j][h]))) * rs
      end
      act[j] = 1 / (1 + exp(-lambda[t] * (ba - cost)))
    end
    for i = 1, I do
      local p, z = {}, 0
      for j = 1, J do
        p[j] = act[j]
        for h = 1, H do
          p[j] = p[j] * exp(-(V[i][j][h] - mu[j][h]) ^ 2 / (2 * var[j][h])) / sqrt(2 * math.pi * var[j][h])
        end
        z = z + p[j]
      end
      for j = 1, J do R[i][j] = p[j] / z end
    end
  end
  return act, mu, R, var
end

T.test("EM routing equals a direct re-computation and clusters agreeing votes", function()
  local rng = cj.rng(2)
  local V, a = rng:normal(0, 1.5, 7, 3, 4), rng:uniform(0.3, 1, 7)
  local lambda = { 0.01, 0.02, 0.05 }
  local ao, mu, R, var = caps.em_route(V, a, 3, { lambda = lambda, beta_u = 0.2, beta_a = -0.1, eps = 1e-6 })
  local ra, rmu, rR, rvar = em(V:totable(), a:totable(), 3, lambda, 0.2, -0.1, 1e-6)
  assert(maxdiff(ao, ra) < 1e-12 and maxdiff(mu, rmu) < 1e-12 and maxdiff(R, rR) < 1e-12 and maxdiff(var, rvar) < 1e-12)
  -- six of eight children vote for one pose of parent 2
  V = rng:normal(0, 2, 8, 3, 4)
  for i = 1, 6 do V[{ i, 2 }] = cj.array({ 1, -1, 0.5, 2 }) + rng:normal(0, 0.01, 4) end
  ao, mu, R = caps.em_route(V, cj.ones(8), 3, { beta_a = -1 })
  for i = 1, 6 do assert(R[{ i, 2 }] > 0.99, format("child %d: R = %g", i, R[{ i, 2 }])) end
  assert(ao:argmax() == 2 and ao[2] > 0.99, "parent 2 active")
  assert(maxdiff(mu[2], { 1, -1, 0.5, 2 }) < 0.01, "its pose")
end)

T.test("bad input: shapes, iterations, options, order of calls", function()
  local U = cj.zeros(4, 3, 2)
  T.checkerror("bad argument #1 to 'route' (u_hat: 3-D or 4-D array expected, got 2-D)", function() return caps.route(cj.zeros(3, 2), 3) end)
  T.checkerror("bad argument #2 to 'route' (iterations must be a positive integer)", function() return caps.route(U, 0) end)
  T.checkerror("u_hat: empty array", function() return caps.route(cj.zeros(0, 3, 2), 3) end)
  T.checkerror("bad argument #1 to 'route' (u_hat: contains NaN or infinity)", function() return caps.route(U + 0 / 0, 3) end)
  local inf = cj.zeros(4, 3, 2)
  inf[{ 3, 2, 1 }] = math.huge
  T.checkerror("u_hat: contains NaN or infinity", function() return caps.route(inf, 3) end)
  T.checkerror("u_hat: dimensionless values expected", function() return caps.route(U * cj.mV, 3) end)
  T.checkerror("W must be (children, parents, dim_out, dim_in) = (4, ?, ?, 2)", function() return caps.predict(cj.zeros(4, 2), cj.zeros(4, 3, 5, 3)) end)
  T.checkerror("class 3 out of range 1..2", function() return caps.margin_loss(cj.zeros(2, 4), 3) end)
  T.checkerror("unknown option 'mplus'", function() return caps.margin_loss(cj.zeros(2, 4), 1, { mplus = 1 }) end)
  local layer = caps.layer(4, 2, 3, 5)
  T.checkerror("backward before forward", function() return layer:backward(cj.zeros(2, 5)) end)
  T.checkerror("u must be (batch?, 4, 3)", function() return layer:forward(cj.zeros(4, 2)) end)
  T.checkerror("W must keep its shape", function() layer.W = cj.zeros(2, 2) end)
  T.checkerror("no field 'w' to set", function() layer.w = 1 end)
  T.checkerror("one activation per child", function() return caps.em_route(cj.zeros(4, 2, 3), cj.ones(3), 2) end)
  T.checkerror("option 'lambda' must be a number or a list of 2 numbers", function()
    return caps.em_route(cj.zeros(4, 2, 3), cj.ones(4), 2, { lambda = { 1 } }) end)
  T.checkerror("bad argument #4 to 'layer' (dim_out must be a positive integer)", function() return caps.layer(4, 2, 3, 0) end)
end)

T.test("examples/capsules.lua routes each scene's parts to their object", function()
  local out = T.example("capsules")
  assert(out:find("both scenes parsed: yes", 1, true), out)
  assert(out:find("couplings drawn: capsules.png", 1, true) or out:find("no plot:", 1, true), out)
end)

T.done()
