-- tpr.lua — cj.tpr from Lua: binding as a sum of outer products (loops
-- here), exact unbinding with orthonormal roles and with the duals of
-- independent ones, the error of random roles used as their own duals
-- against theory as the dimension grows, batches, flattening, the example,
-- and errors.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local tpr = cj.tpr

local format, sqrt = string.format, math.sqrt

local function maxerr(a, b) return (a - b):abs():max() end

-- n orthonormal rows of dimension d, by Gram-Schmidt on random vectors
local function orthonormal(n, d, rng)
  local rows = {}
  for k = 1, n do
    local v = rng:normal(0, 1, d)
    for j = 1, k - 1 do v = v - rows[j] * (rows[j] * v):sum() end
    rows[k] = v / sqrt((v * v):sum())
  end
  local t = {}
  for k = 1, n do t[k] = rows[k]:totable() end
  return cj.array(t)
end

T.test("binding is the sum of outer products f_k r_k^T", function()
  local rng = cj.rng(1)
  local R, F = rng:normal(0, 1, 3, 4), rng:normal(0, 1, 3, 5)
  local Tm = tpr.bind(R, F)
  assert(Tm.shape[1] == 5 and Tm.shape[2] == 4)
  for p = 1, 5 do
    for q = 1, 4 do
      local s = 0
      for k = 1, 3 do s = s + F[{ k, p }] * R[{ k, q }] end
      T.near(Tm[{ p, q }], s, 1e-14)
    end
  end
  local one = tpr.bind(R[1], F[1])                 -- one role, one filler: an outer product
  assert(maxerr(one, F[1]:reshape(5, 1):matmul(R[1]:reshape(1, 4))) < 1e-15)
end)

T.test("unbinding recovers fillers exactly with orthonormal roles", function()
  local rng = cj.rng(2)
  local R = orthonormal(6, 10, rng)
  local F = rng:normal(0, 1, 6, 7)
  local Tm = tpr.bind(R, F)
  assert(maxerr(tpr.unbind(Tm, R, { dual = false }), F) < 1e-12, "with the roles themselves")
  assert(maxerr(tpr.unbind(Tm, R), F) < 1e-12, "with the duals")
  assert(maxerr(tpr.dual(R), R) < 1e-12, "orthonormal roles are their own duals")
  -- one role at a time
  for k = 1, 6 do assert(maxerr(tpr.unbind(Tm, R[k], { dual = false }), F[k]) < 1e-12) end
end)

T.test("random independent roles: the duals recover fillers exactly, the roles only approximately", function()
  local rng = cj.rng(3)
  local R, F = rng:normal(0, 1, 5, 8), rng:normal(0, 1, 5, 6)
  local Tm = tpr.bind(R, F)
  local U = tpr.dual(R)
  assert(maxerr(U:matmul(R:t()), cj.array({ { 1, 0, 0, 0, 0 }, { 0, 1, 0, 0, 0 }, { 0, 0, 1, 0, 0 },
    { 0, 0, 0, 1, 0 }, { 0, 0, 0, 0, 1 } })) < 1e-12, "U R^T = I")
  assert(maxerr(tpr.unbind(Tm, R), F) < 1e-12, "exact with duals")
  assert(maxerr(tpr.unbind(Tm, R, { dual = false }), F) > 0.1, "not exact without")
end)

T.test("random roles as their own duals: the error shrinks with the dimension as theory says", function()
  -- n roles with N(0, 1/d) elements: the unbound filler is (r_k . r_k) f_k +
  -- sum_j (r_j . r_k) f_j, relative squared error (n + 1) / d on average
  -- (2/d from |r_k|^2 - 1, (n - 1)/d from the others)
  local rng = cj.rng(4)
  local n, df = 10, 200
  local F = rng:normal(0, 1, n, df)
  local last = math.huge
  for _, d in ipairs({ 64, 256, 1024, 4096 }) do
    local mse = 0
    for rep = 1, 4 do                               -- average over role draws
      local R = rng:normal(0, 1 / sqrt(d), n, d)
      local G = tpr.unbind(tpr.bind(R, F), R, { dual = false })
      mse = mse + ((G - F) ^ 2):sum() / (F ^ 2):sum() / 4
    end
    local e, want = sqrt(mse), sqrt((n + 1) / d)
    -- 40 draws of a squared error whose spread is about its mean: within 25 %
    assert(math.abs(e - want) < 0.25 * want, format("d = %d: error %.4f vs %.4f", d, e, want))
    assert(e < last, "shrinks")
    last = e
  end
end)

T.test("batches of structures share the roles; flattening is row-major", function()
  local rng = cj.rng(5)
  local R, F = rng:normal(0, 1, 3, 4), rng:normal(0, 1, 2, 3, 5)
  local Tm = tpr.bind(R, F)
  assert(Tm.shape[1] == 2 and Tm.shape[2] == 5 and Tm.shape[3] == 4)
  for b = 1, 2 do assert(maxerr(Tm[b], tpr.bind(R, F[b])) < 1e-15) end
  assert(maxerr(tpr.unbind(Tm, R), F) < 1e-12, "batched unbinding")
  local flat = tpr.flatten(Tm)
  assert(flat.shape[1] == 2 and flat.shape[2] == 20)
  T.near(flat[{ 2, 7 }], Tm[{ 2, 2, 3 }], 0, "row-major: element (2, 3) is 4 + 3")
  assert(tpr.flatten(Tm[1]).ndim == 1)
end)

T.test("bad input: dependent roles, shapes, options", function()
  local R = cj.array({ { 1, 2, 3 }, { 2, 4, 6 } })
  local Tm = tpr.bind(R, cj.ones(2, 4))
  T.checkerror("bad argument #2 to 'unbind' (dual: the roles are linearly dependent", function() return tpr.unbind(Tm, R) end)
  T.checkerror("4 roles of dimension 3 are linearly dependent", function() return tpr.dual(cj.ones(4, 3)) end)
  T.checkerror("one filler per role expected (2 roles, 3 fillers)", function() return tpr.bind(R, cj.ones(3, 4)) end)
  T.checkerror("roles of dimension 3 expected (T is 4 x 3), got 2", function() return tpr.unbind(Tm, cj.ones(2, 2)) end)
  T.checkerror("unknown option 'duals'", function() return tpr.unbind(Tm, R, { duals = false }) end)
  T.checkerror("fillers: element 1 is not finite", function() return tpr.bind(R, cj.ones(2, 4) / 0) end)
  T.checkerror("roles: empty array", function() return tpr.bind(cj.zeros(0, 3), cj.ones(0, 2)) end)
end)

T.test("examples/tpr.lua", function()
  local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")
  local cajal = arg[-1] or "cajal"
  local function absolute(path) return path:sub(1, 1) == "/" and path or (os.getenv("PWD") or ".") .. "/" .. path end
  local p = assert(io.popen(format("'%s' '%s/examples/tpr.lua' 2>&1", absolute(cajal), absolute(srcdir))))
  local out = p:read("a")
  assert(p:close(), out)
  assert(out:find("unbound with the roles: mary loves john (largest error 0.0e+00)", 1, true), out)
  local e = tonumber(out:match("unbound with their duals: largest error (%S+)"))
  assert(e and e < 1e-12, out)
  local errs = {}
  for d, x in out:gmatch("\n%s+(%d+)%s+([%d.]+)%s+[%d.]+") do errs[#errs + 1] = tonumber(x) end
  assert(#errs == 5 and errs[5] < errs[1] / 5, out)
end)

T.done()
