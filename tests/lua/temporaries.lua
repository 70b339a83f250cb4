-- temporaries.lua — reuse of temporaries in array expressions (vm/bind/larray.c,
-- "reuse of temporaries"): `a * b + c` makes one new array, not two, when
-- the product can be reached by nothing else; wherever the intermediate
-- array is kept (a local, a global, an upvalue, a table, a function that
-- stores its argument), it must keep its values. Reuse needs the operands
-- in local variables (or constants): the expressions below copy the
-- upvalues a, b, c, d into locals first. Memory is counted with the
-- collector stopped: an array of N doubles is N * 8 bytes of the Lua heap.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local N = 200000                        -- 1.6 MB per array: above the 256 KiB threshold
local MB = N * 8 / 1024                 -- one array, in the KiB of collectgarbage("count")
local a = cj.range(0, N - 1) / N
local b = 1 - a
local c = cj.full(N, 0.5)
local d = cj.full(N, 0.25)

-- KiB allocated by f (collector stopped), and f's result
local function allocated(f)
  collectgarbage()
  collectgarbage("stop")
  local m0 = collectgarbage("count")
  local r = f()
  local m1 = collectgarbage("count")
  collectgarbage("restart")
  return m1 - m0, r
end

-- max |x - y| over the elements
local function maxdiff(x, y) return cj.abs(x - y):max() end

local ref = cj.muladd(a, b, c)          -- a * b + c in one pass: the independent value

T.test("a * b + c makes one new array and the right values", function()
  local kib, r = allocated(function() local a, b, c = a, b, c; return a * b + c end)
  assert(kib < 1.5 * MB, string.format("%.0f KiB allocated, one array is %.0f", kib, MB))
  assert(maxdiff(r, ref) == 0)
  assert(not rawequal(r, a) and not rawequal(r, b) and not rawequal(r, c))
end)

T.test("a chain makes one array: a * b + c + d, -(a * b), 2 * (a * b) - 1", function()
  local kib, r = allocated(function() local a, b, c, d = a, b, c, d; return a * b + c + d end)
  assert(kib < 1.5 * MB, string.format("%.0f KiB for a * b + c + d", kib))
  assert(maxdiff(r, ref + d) == 0)
  kib, r = allocated(function() local a, b = a, b; return -(a * b) end)
  assert(kib < 1.5 * MB, string.format("%.0f KiB for -(a * b)", kib))
  assert(maxdiff(r, cj.neg(cj.mul(a, b))) == 0)
  kib, r = allocated(function() local a, b = a, b; return 2 * (a * b) - 1 end)
  assert(kib < 1.5 * MB, string.format("%.0f KiB for 2 * (a * b) - 1", kib))
  assert(maxdiff(r, cj.sub(cj.mul(cj.mul(a, b), 2), 1)) < 1e-15)
  kib, r = allocated(function() local a, b, c = a, b, c; return c + a * b end)  -- on the right
  assert(kib < 1.5 * MB and maxdiff(r, ref) == 0, string.format("%.0f KiB for c + a * b", kib))
end)

T.test("a kept intermediate keeps its values", function()
  local a, b, c = a, b, c               -- locals: reuse is possible here
  local p = cj.mul(a, b)                -- the product, computed apart
  local t = a * b                       -- a named local
  local u = t + c
  assert(maxdiff(t, p) == 0 and maxdiff(u, ref) == 0 and not rawequal(t, u))
  KEPT = a * b                          -- a global
  u = KEPT + c
  assert(maxdiff(KEPT, p) == 0 and maxdiff(u, ref) == 0)
  KEPT = nil
  local up = a * b                      -- an upvalue of a closure
  local function get() return up end
  u = up + c
  assert(maxdiff(get(), p) == 0 and maxdiff(u, ref) == 0)
  local tab = {}
  tab.x = a * b                         -- a table field
  u = tab.x + c
  assert(maxdiff(tab.x, p) == 0 and maxdiff(u, ref) == 0)
  local t2
  t2 = a * b                            -- assigned to a declared local
  u = t2 + c
  assert(maxdiff(t2, p) == 0 and maxdiff(u, ref) == 0)
  tab[1] = a * b                        -- a list slot
  u = tab[1] + c
  assert(maxdiff(tab[1], p) == 0 and maxdiff(u, ref) == 0)
  local kept
  local function keep(x) kept = x; return x end
  u = keep(a * b) + c                   -- a function that stores its argument
  assert(maxdiff(kept, p) == 0 and maxdiff(u, ref) == 0)
  local v = a * b
  u = v + v                             -- the same local on both sides
  assert(maxdiff(v, p) == 0 and maxdiff(u, p * 2) == 0)
  local w <const> = a * b
  u = w + c
  assert(maxdiff(w, p) == 0 and maxdiff(u, ref) == 0)
  local s = a * b
  local s2 = s                          -- a second name
  s = nil
  u = s2 + c
  assert(maxdiff(s2, p) == 0 and maxdiff(u, ref) == 0)
end)

T.test("no reuse across dtypes, shapes and units; results still right", function()
  local i = cj.array(cj.range(0, N - 1), "int32")
  local r = i * i + 0.5                 -- int32 product, float64 sum
  local w = ((N - 1) * (N - 1)) & 0xffffffff          -- int32 wraps around
  if w >= 2 ^ 31 then w = w - 2 ^ 32 end
  assert(r.dtype == "float64" and r[N] == w + 0.5, tostring(r[N]))
  local col = cj.range(0, 399):reshape(400, 1)
  local row = cj.range(0, 499):reshape(1, 500)
  local m = (col * 2) + row             -- broadcast to 400 x 500: a new array
  assert(m.shape[1] == 400 and m.shape[2] == 500 and m[{3, 4}] == 2 * 2 + 3)
  local v = (a * cj.mV) + (b * cj.mV)  -- quantities: the unit follows
  assert(tostring(v[1]):find("V") and math.abs(v[2].value - 1e-3) < 1e-15)
  local ok = pcall(function() return (a * cj.mV) + b end)
  assert(not ok, "mV + dimensionless must fail")
end)

T.test("an operand loaded from an upvalue or a global forgoes the reuse, rightly", function()
  local kib, r = allocated(function() return a * b + c end)   -- GETUPVAL c between
  assert(kib > 1.5 * MB and maxdiff(r, ref) == 0)
  G_C = c
  kib, r = allocated(function() local a, b = a, b; return a * b + G_C end)
  G_C = nil
  assert(kib > 1.5 * MB and maxdiff(r, ref) == 0)
end)

T.test("a debug hook of the program is kept and nothing is reused under it", function()
  local calls = 0
  local function hook() calls = calls + 1 end
  debug.sethook(hook, "", 1000)
  local kib, r = allocated(function() local a, b, c = a, b, c; return a * b + c end)
  local h = debug.gethook()
  debug.sethook()
  assert(h == hook, "the program's hook was replaced")
  assert(kib > 1.5 * MB, "reused under a program's hook")
  assert(maxdiff(r, ref) == 0)
end)

T.test("inside coroutines", function()
  local co = coroutine.wrap(function()
    local a, b, c = a, b, c
    local r = a * b + c
    coroutine.yield(r)
    local t = a * b
    coroutine.yield(t + c, t)
  end)
  assert(maxdiff(co(), ref) == 0)
  local u, t = co()
  assert(maxdiff(u, ref) == 0 and maxdiff(t, cj.mul(a, b)) == 0)
end)

T.test("small arrays are not tracked, and stay right", function()
  local x = cj.range(1, 10)
  local y = x * x + x
  assert(y[10] == 110 and x[10] == 10)
end)

T.done()
