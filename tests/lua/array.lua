-- array.lua — the Lua face of cajal arrays: every constructor, method,
-- metamethod and module function, their error messages, views sharing
-- memory and surviving the collection of their base, and units.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local core = require "cajal.core"

-- elementwise equality with a nested table (tolerance tol for floats)
local function same(a, t, tol, what)
  local got = a:totable()
  local function walk(x, y, path)
    if type(y) == "table" then
      assert(type(x) == "table" and #x == #y,
             (what or "") .. ": shape differs at " .. path)
      for i = 1, #y do walk(x[i], y[i], path .. "[" .. i .. "]") end
    elseif x ~= y and not (x ~= x and y ~= y) then   -- NaN matches NaN
      T.near(x, y, tol or 0, (what or "") .. path)
    end
  end
  walk(got, t, "")
end

local function shape(a) return table.concat(a.shape, "x") end

-- reference: apply f to every element of a nested table
local function map(t, f)
  if type(t) ~= "table" then return f(t) end
  local r = {}
  for i = 1, #t do r[i] = map(t[i], f) end
  return r
end

---------------------------------------------------------------- constructors
T.test("array from nested tables, with dtypes", function()
  local a = cj.array{{1, 2, 3}, {4, 5, 6}}
  assert(shape(a) == "2x3" and a.ndim == 2 and a.dtype == "float64")
  same(a, {{1, 2, 3}, {4, 5, 6}})
  local b = cj.array({1.7, -2.5, 300}, "uint8")
  assert(b.dtype == "uint8")
  same(b, {1, 0, 255})                     -- truncation toward zero, saturation
  same(cj.array({1.7, -2.5}, "int32"), {1, -2})
  assert(math.type(cj.array({3}, "int32")[1]) == "integer")
  local e = cj.array{}
  assert(shape(e) == "0" and e:numel() == 0)
  local c = cj.array(a, "float32")
  assert(c.dtype == "float32"); same(c, a:totable())
  c[{1, 1}] = 99; assert(a[{1, 1}] == 1)  -- a copy
  local z = cj.array(2.5)
  assert(z.ndim == 0 and z:numel() == 1)
end)

T.test("array errors name the argument and the place", function()
  T.checkerror("bad argument #1 to 'array' (ragged nested table: [2] has length 1, expected 2)",
    function() local _ = cj.array{{1, 2}, {3}} end)
  T.checkerror("(number expected at [2][2])", function() local _ = cj.array{{1, 2}, {3, "x"}} end)
  T.checkerror("(table expected at [2])", function() local _ = cj.array{{1, 2}, 3} end)
  T.checkerror("unknown dtype 'int64'", function() local _ = cj.array({1}, "int64") end)
  T.checkerror("table expected, got boolean", function() local _ = cj.array(true) end)
  T.checkerror("(mixed dimensions at [2])", function() local _ = cj.array{1 * cj.mV, 2 * cj.ms} end)
end)

T.test("zeros, ones, full", function()
  local z = cj.zeros(3, 4)
  assert(shape(z) == "3x4" and z:sum() == 0)
  assert(shape(cj.zeros{2, 5}) == "2x5")
  local o = cj.ones(2, 3, "int32")
  assert(o.dtype == "int32" and o:sum() == 6)
  assert(shape(cj.ones(5)) == "5")
  local f = cj.full({2, 2}, 7.5, "float32")
  assert(f.dtype == "float32"); same(f, {{7.5, 7.5}, {7.5, 7.5}})
  assert(shape(cj.zeros(0, 3)) == "0x3")
  local v = cj.full(3, -65 * cj.mV)
  assert(v.dim == "V"); T.near(v[1].value, -0.065, 1e-15)
  T.checkerror("(size must be a non-negative integer)", function() local _ = cj.zeros(-1) end)
  T.checkerror("(size must be a non-negative integer)", function() local _ = cj.zeros(2.5) end)
  T.checkerror("(size must be a non-negative integer)", function() local _ = cj.ones{2, "x"} end)
  T.checkerror("unknown dtype 'foo'", function() local _ = cj.zeros(2, "foo") end)
  T.checkerror("too many dimensions", function() local _ = cj.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end)
  T.checkerror("number or quantity expected", function() local _ = cj.full(3, "x") end)
end)

T.test("range follows Lua's numeric for", function()
  local function forloop(a, b, s)
    local t = {}
    for x = a, b, s or 1 do t[#t + 1] = x end
    return t
  end
  same(cj.range(5), {1, 2, 3, 4, 5})
  same(cj.range(2, 10, 3), forloop(2, 10, 3))
  same(cj.range(10, 1, -4), forloop(10, 1, -4))
  same(cj.range(1, 0), {})
  same(cj.range(0, 1, 0.25), forloop(0, 1, 0.25))
  same(cj.range(-3, 3), forloop(-3, 3))
  local r = cj.range(1, 4, "int32")
  assert(r.dtype == "int32" and r[4] == 4)
  local t = cj.range(0 * cj.ms, 2 * cj.ms, 1 * cj.ms)
  assert(t.dim == "s" and #t == 3)
  T.checkerror("(step must not be zero)", function() local _ = cj.range(1, 5, 0) end)
  T.checkerror("cannot mix s and V", function() local _ = cj.range(1 * cj.ms, 2 * cj.mV) end)
end)

T.test("linspace includes both ends", function()
  local l = cj.linspace(0, 1, 5)
  same(l, {0, 0.25, 0.5, 0.75, 1})
  same(cj.linspace(-1, 1, 1), {-1})
  assert(#cj.linspace(0, 1, 0) == 0)
  local x = cj.linspace(0.1, 0.7, 7)
  assert(x[7] == 0.7)
  T.checkerror("(count must be a non-negative integer)", function() local _ = cj.linspace(0, 1, -2) end)
end)

---------------------------------------------------------------- fields, tostring
T.test("shape, ndim, dtype, #, numel", function()
  local a = cj.zeros(4, 3, 2)
  assert(a.shape[1] == 4 and a.shape[3] == 2 and #a.shape == 3)
  a.shape[1] = 100                              -- a fresh table each time
  assert(a.shape[1] == 4)
  assert(a.ndim == 3 and #a == 4 and a:numel() == 24)
  assert(a.dim == "1" and a.nosuchfield == nil)
  T.checkerror("a 0-d array has no length", function() return #cj.array(1) end)
end)

T.test("tostring is numpy-like, with dtype and unit", function()
  assert(tostring(cj.array{1, 2, 3}) == "[1. 2. 3.]")
  assert(tostring(cj.array{{1, 2}, {3, 4}}) == "[[1. 2.]\n [3. 4.]]")
  assert(tostring(cj.array({1, 20, 3}, "int32")) == "[ 1 20  3] (int32)")
  assert(tostring(cj.array{0.5, -1.25}) == "[  0.5 -1.25]")
  assert(tostring(cj.array{0 / 0, 1 / 0}) == "[nan inf]")
  assert(tostring(cj.array(4)) == "4.")
  assert(tostring(cj.array{}) == "[]")
  assert(tostring(cj.array{-65, -70} * cj.mV) == "[-65. -70.] mV")
  assert(tostring(cj.array({1, 2}, "float32") * cj.ms) == "[1. 2.] ms (float32)")
  local big = tostring(cj.range(1e6))
  assert(big:find("...", 1, true) and #big < 200, big)
  assert("v = " .. cj.array{1, 2} == "v = [1. 2.]" and cj.array{3} .. "!" == "[3.]!")
  local m = tostring(cj.zeros(2000, 3))
  assert(select(2, m:gsub("\n", "")) == 6, m)   -- 3 rows, "...", 3 rows
end)

---------------------------------------------------------------- indexing
T.test("1-based element and row indexing, negative from the end", function()
  local v = cj.array{10, 20, 30}
  assert(v[1] == 10 and v[3] == 30 and v[-1] == 30 and v[-3] == 10)
  local m = cj.array{{1, 2, 3}, {4, 5, 6}}
  local row = m[2]
  assert(shape(row) == "3" and row[3] == 6)
  assert(m[{2, 3}] == 6 and m[{-1, -1}] == 6 and m[{1, -3}] == 1)
  assert(m[2.0][1] == 4)
end)

T.test("index errors", function()
  local v = cj.range(10)
  T.checkerror("bad argument #2 to 'index' (index 11 out of range 1..10)", function() return v[11] end)
  T.checkerror("(index -11 out of range 1..10)", function() return v[-11] end)
  T.checkerror("(index 0 out of range 1..10)", function() return v[0] end)
  T.checkerror("(indices must be integers)", function() return v[1.5] end)
  local m = cj.zeros(2, 3)
  T.checkerror("(index 4 out of range 1..3 in dimension 2)", function() return m[{1, 4}] end)
  T.checkerror("(too many indices: 3 for a 2-D array)", function() return m[{1, 1, 1}] end)
  T.checkerror("integer or slice table expected in position 1, got string", function() return m[{"a"}] end)
  T.checkerror("(slice bounds must be integers)", function() return m[{{1.5, 2}}] end)
  T.checkerror("(slice step must not be zero)", function() return m[{{1, 2, 0}}] end)
  T.checkerror("(index 3 out of range 1..2 in dimension 1)", function() return m[{{1, 3}}] end)
  T.checkerror("integer, table or mask index expected, got boolean", function() return m[true] end)
  T.checkerror("cannot index a 0-d array", function() return cj.array(1)[1] end)
  T.checkerror("cannot set field 'x' of an array", function() m.x = 1 end)
  T.checkerror("bad argument #2 to 'newindex' (index 11 out of range 1..10)", function() v[11] = 1 end)
end)

T.test("slices as Torch7: {lo, hi}, {lo, hi, step}, {i}, {}", function()
  local m = cj.array{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}
  same(m[{{}, 2}], {2, 6, 10})
  same(m[{{2, 3}, {2, 3}}], {{6, 7}, {10, 11}})
  same(m[{{}, {1, 4, 2}}], {{1, 3}, {5, 7}, {9, 11}})
  same(m[{{-1, 1, -1}, 1}], {9, 5, 1})
  same(m[{{2}}], {{5, 6, 7, 8}})                -- {i} keeps the dimension
  same(m[{2, {-2, -1}}], {7, 8})
  assert(shape(m[{{3, 2}}]) == "0x4")           -- empty slice
  same(m[{{}, {}}], m:totable())
end)

T.test("views share memory; assignment fills or copies with broadcast", function()
  local m = cj.zeros(3, 4)
  local col = m[{{}, 2}]
  col[2] = 5
  assert(m[{2, 2}] == 5)
  m[{{}, 1}] = 7
  same(m[{{}, 1}], {7, 7, 7})
  m[{{1, 2}, {3, 4}}] = cj.array{1, 2}           -- a row broadcast down
  same(m[{{1, 2}, {3, 4}}], {{1, 2}, {1, 2}})
  m[3] = {9, 8, 7, 6}
  same(m[3], {9, 8, 7, 6})
  m[{1, 4}] = -1
  assert(m[1][4] == -1)
  local t = m:t()
  t[{4, 3}] = 100
  assert(m[{3, 4}] == 100)
  local v = cj.range(6)
  v[{{1, 6, 2}}] = 0
  same(v, {0, 2, 0, 4, 0, 6})
  T.checkerror("shape 3 does not broadcast to 2", function() m[{{1, 2}, 1}] = cj.array{1, 2, 3} end)
  T.checkerror("number, quantity, array or table expected, got string", function() m[1] = "x" end)
end)

T.test("a view keeps its base alive after the base is collected", function()
  local base = cj.range(1000)
  local view = base[{{500, 509}}]
  local viewofview = view[{{2, 3}}]
  base = nil
  collectgarbage(); collectgarbage()
  local junk = {}
  for i = 1, 100 do junk[i] = cj.zeros(1000) + i end   -- reuse freed memory, if any
  same(view, {500, 501, 502, 503, 504, 505, 506, 507, 508, 509})
  view = nil
  collectgarbage(); collectgarbage()
  same(viewofview, {501, 502})
  viewofview[1] = 0
  assert(viewofview:sum() == 502)
end)

T.test("masked select and assign", function()
  local a = cj.array{{1, -2, 3}, {-4, 5, -6}}
  local neg = a:lt(0)
  assert(neg.dtype == "uint8")
  same(a[neg], {-2, -4, -6})
  a[neg] = 0
  same(a, {{1, 0, 3}, {0, 5, 0}})
  a[a:gt(2)] = cj.array{30, 50}
  same(a, {{1, 0, 30}, {0, 50, 0}})
  same(a:t()[a:t():eq(0)], {0, 0, 0})
  T.checkerror("mask must be a uint8 array", function() return a[cj.zeros(2, 3)] end)
  T.checkerror("mask has shape 3, expected 2x3", function() return a[cj.ones(3, "uint8")] end)
  T.checkerror("3 values expected for 2 selected elements", function() a[a:gt(1)] = cj.array{1, 2, 3} end)
end)

---------------------------------------------------------------- arithmetic
T.test("operators with scalars, broadcasting and unary minus", function()
  local a = cj.array{{1, 2, 3}, {4, 5, 6}}
  local row = cj.array{10, 20, 30}
  local col = cj.array{{1}, {2}}
  local ta = a:totable()
  same(a + 1, map(ta, function(x) return x + 1 end))
  same(2 - a, map(ta, function(x) return 2 - x end))
  same(a * a, map(ta, function(x) return x * x end))
  same(a / 4, map(ta, function(x) return x / 4 end))
  same(a % 4, map(ta, function(x) return x % 4 end))
  same(-a % 4, map(ta, function(x) return -x % 4 end))
  same(a ^ 0.5, map(ta, function(x) return x ^ 0.5 end), 1e-15)
  same(-a, map(ta, function(x) return -x end))
  same(a + row, {{11, 22, 33}, {14, 25, 36}})
  same(a * col, {{1, 2, 3}, {8, 10, 12}})
  same(col + row, {{11, 21, 31}, {12, 22, 32}})
  same(a:t() - a:t(), {{0, 0}, {0, 0}, {0, 0}})
  same(a + {1, 1, 1}, {{2, 3, 4}, {5, 6, 7}})    -- tables convert
  T.checkerror("shapes 2x3 and 2 do not broadcast", function() return a + cj.array{1, 2} end)
  T.checkerror("bad argument #2 to 'add' (number, quantity or array expected, got string)",
    function() return a + "x" end)
  T.checkerror("number, quantity or array expected, got boolean", function() return true * a end)
end)

T.test("dtype promotion and integer semantics", function()
  local i = cj.array({7, -7, 9}, "int32")
  assert((i + 1).dtype == "int32")
  assert((i + 1.5).dtype == "float64")
  assert((i / 2).dtype == "float64")
  same(i / 2, {3.5, -3.5, 4.5})
  same(i % 2, {1, 1, 1})
  same(i % -2, {-1, -1, -1})
  same(i % 0, {0, 0, 0})
  assert((i * 2).dtype == "int32")
  local u = cj.array({250, 3}, "uint8")
  assert((u + 1).dtype == "uint8")
  same(u + 10, {4, 13})                           -- uint8 wraps around
  assert((u + 300).dtype == "int32")              -- 300 does not fit in uint8
  local f = cj.array({1, 2}, "float32")
  assert((f * 0.5).dtype == "float32")
  assert((f + i[{{1, 2}}]).dtype == "float64")
  assert((f + u).dtype == "float32")
  assert(cj.array({2147483647}, "int32"):add(1)[1] == -2147483648)
end)

T.test("floor division // as Lua's, on every dtype", function()
  -- int32 and uint8 stay integer and match Lua's integer //, except x // 0 which is 0 (as x % 0)
  local av, bv = {7, -7, 7, -7, 6, -6, 0, 5}, {2, 2, -2, -2, 3, 3, 5, 0}
  local want = {}
  for k = 1, #av do want[k] = bv[k] == 0 and 0 or av[k] // bv[k] end
  assert(want[2] == -4)
  local i, j = cj.array(av, "int32"), cj.array(bv, "int32")
  local r = i // j
  assert(r.dtype == "int32"); same(r, want, 0, "int32 //")
  same(cj.idiv(i, j), want, 0, "cj.idiv"); same(i:idiv(j), want, 0, ":idiv")
  assert(cj.array({-2147483648}, "int32"):idiv(-1)[1] == -2147483648)   -- wraps as Lua's
  local u = cj.array({255, 7, 9}, "uint8")
  assert((u // 2).dtype == "uint8"); same(u // cj.array({2, 0, 10}, "uint8"), {127, 0, 0})
  assert((u // -2).dtype == "int32"); same(u // -2, {-128, -4, -5})
  -- floats: floor(a / b), float32 kept, int32 // float promotes to float64
  local f = cj.array(av)
  local fwant = {}
  for k = 1, #av do fwant[k] = av[k] * 1.0 // bv[k] end
  assert(fwant[8] == math.huge)
  same(f // cj.array(bv), fwant, 0, "float64 //")
  same(f // 0.5, map(av, function(x) return x // 0.5 end))
  same(cj.array({7.5, -7.5}) // 2, {3, -4})
  local g = cj.array({7.5, -7.5, 1}, "float32")
  assert((g // 2).dtype == "float32"); same(g // 2, {3, -4, 0})
  assert((i // 2.5).dtype == "float64"); same(i // 2.5, map(av, function(x) return x // 2.5 end))
  assert((g // cj.array({2, 2, 2}, "int32")).dtype == "float64")
  -- mixed number and array, both ways
  local d = cj.array({2, -2, 3}, "int32")
  assert((7 // d).dtype == "int32"); same(7 // d, {3, -4, 2})
  assert((7.5 // d).dtype == "float64"); same(7.5 // d, {3, -4, 2})
  same(cj.idiv(-7, d), {-4, 3, -3})
  assert(cj.idiv(-7, 2) == -4)
  -- broadcasting: matrix // row, column // row
  local m = cj.array{{7, -7, 9}, {-1, 1, 100}}
  same(m // cj.array{2, -3, 4}, {{3, 2, 2}, {-1, -1, 25}})
  same(cj.array{{7}, {-7}} // cj.array{2, 3}, {{3, 2}, {-4, -3}})
  -- strided operand
  local s = cj.array{{7, 0}, {-7, 0}, {9, 0}}[{{}, {1}}]
  same(s // 2, {{3}, {-4}, {4}})
  -- out, in place too
  local out = cj.zeros(8, "int32")
  assert(cj.idiv(i, j, out) == out); same(out, want)
  i:idiv(2, i); same(i, {3, -4, 3, -4, 3, -3, 0, 2})
  T.checkerror("out has dtype float64, expected int32", function() local _ = cj.idiv(i, 2, cj.zeros(8)) end)
  T.checkerror("shapes 8 and 3 do not broadcast", function() return i // cj.ones(3) end)
  T.checkerror("bad argument #2 to 'idiv' (number, quantity or array expected, got string)",
    function() return i // "x" end)
end)

T.test("functions with out write in place", function()
  local a = cj.range(5)
  local out = cj.zeros(5)
  local r = cj.add(a, a, out)
  assert(r == out); same(out, {2, 4, 6, 8, 10})
  cj.mul(a, 3, a)
  same(a, {3, 6, 9, 12, 15})
  a:sub(1, a)
  same(a, {2, 5, 8, 11, 14})
  cj.exp(cj.zeros(5), out)
  same(out, {1, 1, 1, 1, 1})
  local v = cj.range(6)
  cj.add(v[{{1, 5}}], 1, v[{{2, 6}}])           -- overlapping: reads first
  same(v, {1, 2, 3, 4, 5, 6})
  T.checkerror("out has shape 4, expected 5", function() local _ = cj.add(a, a, cj.zeros(4)) end)
  T.checkerror("out has dtype int32, expected float64", function() local _ = cj.exp(a, cj.zeros(5, "int32")) end)
  T.checkerror("array expected, got number", function() local _ = cj.add(a, a, 3) end)
end)

T.test("every binary function and method", function()
  local a = cj.array{1, 5, -3, 4}
  local b = cj.array{2, 5, -4, 0}
  local ref = {
    add = function(x, y) return x + y end, sub = function(x, y) return x - y end,
    mul = function(x, y) return x * y end, pow = function(x, y) return x ^ y end,
    minimum = math.min, maximum = math.max,
    lt = function(x, y) return x < y and 1 or 0 end, le = function(x, y) return x <= y and 1 or 0 end,
    gt = function(x, y) return x > y and 1 or 0 end, ge = function(x, y) return x >= y and 1 or 0 end,
    eq = function(x, y) return x == y and 1 or 0 end, ne = function(x, y) return x ~= y and 1 or 0 end,
  }
  local ta, tb = a:totable(), b:totable()
  for name, f in pairs(ref) do
    local want = {}
    for k = 1, 4 do want[k] = f(ta[k], tb[k]) end
    same(cj[name](a, b), want, 0, name)
    same(a[name](a, b), want, 0, name)
  end
  same(cj.div(a, {2, 2, 2, 2}), {0.5, 2.5, -1.5, 2})
  same(cj.mod(a, 3), {1, 2, 0, 1})
  same(cj.maximum(a, 0), {1, 5, 0, 4})
end)

T.test("muladd: a * b + c in one pass", function()
  local a = cj.array{{1, 2}, {3, 4}}
  same(cj.muladd(a, {10, 100}, 1), {{11, 201}, {31, 401}})
  same(a:muladd(a, a), {{2, 6}, {12, 20}})
  local v = cj.range(4)
  cj.muladd(v, 0.5, v, v)                        -- in place: v = v * 0.5 + v
  same(v, {1.5, 3, 4.5, 6})
  assert(cj.muladd(2, 3, 4) == 10)
  local i = cj.array({1, 2}, "int32")
  assert(cj.muladd(i, 2, 1).dtype == "int32" and cj.muladd(i, 0.5, 1).dtype == "float64")
  local w = cj.muladd(cj.ones(2) * cj.mV, 2, 1 * cj.mV)
  assert(w.dim == "V")
  T.checkerror("cannot add V and dimensionless", function() local _ = cj.muladd(cj.ones(2), cj.mV, 1) end)
  T.checkerror("shapes 2 and 3 do not broadcast", function() local _ = cj.muladd(cj.ones(2), cj.ones(3), 1) end)
end)

T.test("every math function against Lua's math", function()
  local x = cj.array{0.1, 0.5, 1, 2.5, 7}
  local fns = {
    exp = math.exp, log = math.log, sqrt = math.sqrt, sin = math.sin, cos = math.cos,
    tan = math.tan, abs = math.abs, floor = math.floor, ceil = math.ceil,
    log1p = function(v) return math.log(1 + v) end,
    tanh = function(v) return (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) end,
    sigmoid = function(v) return 1 / (1 + math.exp(-v)) end,
  }
  for name, f in pairs(fns) do
    same(cj[name](x), map(x:totable(), f), 1e-14, name)
    same(x[name](x), map(x:totable(), f), 1e-14, name)
    same(cj[name](-x), map((-x):totable(), f), 1e-14, name .. " of negatives")
  end
  local y = cj.array{-2, 0, 3}
  same(y:relu(), {0, 0, 3})
  same(y:sign(), {-1, 0, 1})
  same(y:neg(), {2, 0, -3})
  same(y:clip(-1, 1), {-1, 0, 1})
  same(y:clip(nil, 1), {-2, 0, 1})
  same(cj.clip(y, 0), {0, 0, 3})
  same(cj.pow(y, 2), {4, 0, 9})
  local i = cj.array({-2, 0, 3}, "int32")
  assert(i:abs().dtype == "int32" and i:exp().dtype == "float64")
  same(i:abs(), {2, 0, 3})
  same(i:sqrt(), {0 / 0, 0, math.sqrt(3)}, 1e-15)
  assert(cj.exp(0) == 1 and cj.sqrt(4) == 2)     -- numbers in, numbers out
  T.checkerror("upper bound below the lower bound", function() local _ = y:clip(2, 1) end)
  T.checkerror("no int32 value in [0.2, 0.8]", function() local _ = i:clip(0.2, 0.8) end)
end)

T.test("comparisons give uint8 masks; where, any, all", function()
  local a = cj.array{{1, 2}, {3, 4}}
  local m = a:ge(2)
  assert(m.dtype == "uint8"); same(m, {{0, 1}, {1, 1}})
  same(cj.where(m, a, -a), {{-1, 2}, {3, 4}})
  same(cj.where(m, 1, 0), {{0, 1}, {1, 1}})
  same(cj.where(cj.array({1, 0}, "uint8"), a, 0), {{1, 0}, {3, 0}})
  assert(m:any() == true and m:all() == false)
  same(m:all(2), {0, 1})
  same(m:any(1), {1, 1})
  assert(cj.zeros(3):any() == false and cj.ones(3):all() == true)
  T.checkerror("uint8 mask expected", function() local _ = cj.where(a, a, a) end)
end)

---------------------------------------------------------------- reductions
T.test("reductions over everything and along each axis", function()
  local t = {{1, 2, 3}, {4, 5, 7}}
  local a = cj.array(t)
  assert(a:sum() == 22 and cj.sum(a) == 22)
  same(a:sum(1), {5, 7, 10}); same(a:sum(2), {6, 16}); same(a:sum(-1), {6, 16})
  T.near(a:mean(), 22 / 6, 1e-15)
  same(a:mean(2), {2, 16 / 3}, 1e-15)
  local mean = 22 / 6
  local ss = 0
  for _, r in ipairs(t) do for _, x in ipairs(r) do ss = ss + (x - mean) ^ 2 end end
  T.near(a:var(), ss / 6, 1e-14)
  T.near(a:var(nil, 1), ss / 5, 1e-14)
  T.near(a:std(nil, 1), math.sqrt(ss / 5), 1e-14)
  same(a:var(1), {2.25, 2.25, 4}, 1e-15)
  same(a:std(1, 1), {math.sqrt(4.5), math.sqrt(4.5), math.sqrt(8)}, 1e-15)
  assert(a:min() == 1 and a:max() == 7)
  same(a:max(1), {4, 5, 7}); same(a:min(2), {1, 4})
  assert(a:argmax() == 6 and a:argmin() == 1)
  same(a:argmax(2), {3, 3}); same(a:argmin(1), {1, 1, 1})
  assert(a:argmax(2).dtype == "int32")
  assert(a:prod() == 840); same(a:prod(1), {4, 10, 21})
  same(a:cumsum(), {1, 3, 6, 10, 15, 22})
  same(a:cumsum(1), {{1, 2, 3}, {5, 7, 10}})
  same(a:cumsum(2), {{1, 3, 6}, {4, 9, 16}})
  same(a:t():sum(1), {6, 16})
  local i = cj.array({1, 2, 3}, "int32")
  assert(math.type(i:sum()) == "integer" and i:sum() == 6)
  assert(i:mean() == 2.0 and math.type(i:max()) == "integer")
  assert(cj.array{3, 0 / 0, 1}:argmax() == 2)
  assert(cj.sum({1, 2, 3}) == 6)
end)

T.test("reduction errors", function()
  local a = cj.zeros(2, 3)
  T.checkerror("bad argument #2 to 'sum' (axis 3 out of range 1..2)", function() local _ = cj.sum(a, 3) end)
  T.checkerror("bad argument #1 to 'sum' (axis 0 out of range 1..2)", function() local _ = a:sum(0) end)
  T.checkerror("integer axis expected, got string", function() local _ = a:mean("x") end)
  T.checkerror("min of an empty array", function() local _ = cj.zeros(0):min() end)
  T.checkerror("argmax along an empty axis", function() local _ = cj.zeros(0, 2):argmax(1) end)
  T.checkerror("ddof must be a non-negative integer", function() local _ = a:var(nil, -1) end)
  assert(cj.zeros(0):sum() == 0)
  assert(cj.zeros(0):mean() ~= cj.zeros(0):mean())      -- NaN
end)

---------------------------------------------------------------- linear algebra
local function matmulref(a, b)
  local r = {}
  for i = 1, #a do
    r[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      r[i][j] = s
    end
  end
  return r
end

T.test("matmul and dot against loops, with transposed and strided operands", function()
  local ta, tb = {}, {}
  for i = 1, 5 do ta[i] = {}; for k = 1, 7 do ta[i][k] = math.sin(i * 7 + k) end end
  for k = 1, 7 do tb[k] = {}; for j = 1, 4 do tb[k][j] = math.cos(k * 4 + j) end end
  local a, b = cj.array(ta), cj.array(tb)
  same(cj.matmul(a, b), matmulref(ta, tb), 1e-14)
  same(a:matmul(b), matmulref(ta, tb), 1e-14)
  same(a:dot(b), matmulref(ta, tb), 1e-14)
  same(b:t():matmul(a:t()), matmulref(b:t():totable(), a:t():totable()), 1e-14)
  local big = cj.zeros(10, 14)
  big[{{1, 10, 2}, {1, 14, 2}}] = a
  same(big[{{1, 10, 2}, {1, 14, 2}}]:matmul(b), matmulref(ta, tb), 1e-14)
  local out = cj.zeros(4, 5)
  cj.matmul(a, b, out:t())                      -- a transposed destination
  same(out:t(), matmulref(ta, tb), 1e-14)
  local v = cj.array{1, 2, 3, 4, 5, 6, 7}
  local mv = a:matmul(v)
  for i = 1, 5 do
    local s = 0
    for k = 1, 7 do s = s + ta[i][k] * k end
    T.near(mv[i], s, 1e-13)
  end
  T.near(v:dot(v), 140, 0)
  assert(cj.matmul(v, v) == 140)
  local f = cj.array(ta, "float32"):matmul(cj.array(tb, "float32"))
  assert(f.dtype == "float32"); same(f, matmulref(ta, tb), 1e-5)
  local ii = cj.array({{1, 2}, {3, 4}}, "int32")
  assert(ii:matmul(ii).dtype == "int32"); same(ii:matmul(ii), {{7, 10}, {15, 22}})
  assert(math.type(cj.array({1, 2}, "int32"):dot(cj.array({3, 4}, "int32"))) == "integer")
  T.checkerror("inner dimensions differ: 5x7 and 5x7", function() local _ = a:matmul(a) end)
  T.checkerror("1-D or 2-D arrays expected, got 3-D and 2-D", function() local _ = cj.matmul(cj.zeros(2, 2, 2), a) end)
  T.checkerror("lengths differ: 7 and 3", function() local _ = v:dot(cj.ones(3)) end)
  T.checkerror("out has shape 4x5, expected 5x4", function() local _ = cj.matmul(a, b, cj.zeros(4, 5)) end)
  T.checkerror("out has dtype float32, expected float64", function() local _ = cj.matmul(a, b, cj.zeros(5, 4, "float32")) end)
end)

---------------------------------------------------------------- shape and layout
T.test("t, transpose, reshape, contiguous, copy, astype, fill, totable", function()
  local a = cj.array{{1, 2, 3}, {4, 5, 6}}
  same(a:t(), {{1, 4}, {2, 5}, {3, 6}})
  same(a:transpose(), a:t():totable())
  same(a:transpose(1, 2), a:t():totable())
  same(cj.transpose(a, -1, 1), a:t():totable())
  local c = cj.zeros(2, 3, 4)
  assert(shape(c:transpose(1, 3)) == "4x3x2" and shape(c:t()) == "4x3x2")
  local r = a:reshape(3, 2)
  same(r, {{1, 2}, {3, 4}, {5, 6}})
  r[{1, 1}] = 10; assert(a[{1, 1}] == 10)       -- contiguous: a view
  local rt = a:t():reshape(-1)
  same(rt, {10, 4, 2, 5, 3, 6})
  rt[1] = 0; assert(a[{1, 1}] == 10)            -- not contiguous: a copy
  assert(shape(a:reshape{6, 1}) == "6x1" and shape(cj.reshape(a, 1, -1)) == "1x6")
  T.checkerror("sizes do not match: 2x3 has 6 elements, 4x2 has 8", function() local _ = a:reshape(4, 2) end)
  T.checkerror("cannot infer a size: 6 elements into 4x1", function() local _ = a:reshape(4, -1) end)
  local t = a:t()
  local tc = t:contiguous()
  assert(a:contiguous() == a and tc ~= t)
  same(tc, t:totable())
  local cp = a:copy(); cp[1] = 0; assert(a[{1, 2}] == 2)
  local f = a:astype("float32")
  assert(f.dtype == "float32" and a:astype("uint8").dtype == "uint8")
  same(cj.array{-1.5, 2.7, 300}:astype("int32"), {-1, 2, 300})
  T.checkerror("unknown dtype 'x'", function() local _ = a:astype("x") end)
  assert(a[2]:fill(9) ~= nil); same(a[2], {9, 9, 9})
  local n = cj.array({{1, 2}}, "int32"):totable()
  assert(math.type(n[1][2]) == "integer")
  assert(cj.array(3):totable() == 3)
end)

---------------------------------------------------------------- units
T.test("arrays carry units through arithmetic", function()
  local v = cj.array{-65, -70} * cj.mV
  assert(v.dim == "V")
  T.near(v[1].value, -0.065, 1e-15)
  local plain = v / cj.mV
  assert(plain.dim == "1"); same(plain, {-65, -70}, 1e-12)
  assert((cj.mV * cj.array{1, 2}).dim == "V")
  local g = cj.ones(2) * cj.nS
  assert((g * v).dim == "A")
  assert((v * v).dim:find("V") == nil)          -- V^2 in base units
  same((v + v) / cj.mV, {-130, -140}, 1e-12)
  same((v - 5 * cj.mV) / cj.mV, {-70, -75}, 1e-12)
  assert((v:abs() / cj.mV):sum() == 135)
  assert(v:sum().dim == "V" and tostring(v:max()) == "-65 mV")
  assert(v:var().dim ~= "V" and v:std().dim == "V")
  assert(v:argmax() == 1)
  assert(cj.sqrt(cj.ones(2) * cj.unit("m^2")).dim == "m")
  same(v:lt(-68 * cj.mV), {0, 1})
  local vs = cj.array{7, -7} * cj.unit("V")            -- //: the unit of a / b
  local q = vs // (2 * cj.unit("s"))
  assert(q.dim == (vs / cj.unit("s")).dim and q.dim == "V/s", q.dim)
  same(q / cj.unit("V/s"), {3, -4})
  local n = (cj.array{7, -7} * cj.second) // (2 * cj.second)
  assert(n.dim == "1"); same(n, {3, -4})
  assert(((2 * cj.unit("V")) // (cj.array{1, 2} * cj.second)).dim == "V/s")
  assert(cj.idiv(vs, cj.ones(2) * cj.second).dim == "V/s")
  local t = cj.linspace(0 * cj.ms, 10 * cj.ms, 3)
  assert(tostring(t) == "[ 0.  5. 10.] ms", tostring(t))
  v[1] = -60 * cj.mV
  T.near(v[1].value, -0.06, 1e-15)
end)

T.test("unit errors name both dimensions", function()
  local v = cj.ones(3) * cj.mV
  local s = cj.ones(3) * cj.second
  T.checkerror("cannot add V and s", function() return v + s end)
  T.checkerror("cannot subtract V and dimensionless", function() return v - 1 end)
  T.checkerror("cannot compare V and s", function() return v:lt(s) end)
  T.checkerror("cannot add s and V", function() return 1 * cj.ms + v end)
  T.checkerror("bad argument #1 to 'exp' (dimensionless argument expected, got V)", function() return cj.exp(v) end)
  T.checkerror("calling 'sin' on bad self (dimensionless argument expected, got s)", function() return s:sin() end)
  T.checkerror("cannot assign dimensionless to an array of V", function() v[1] = 3 end)
  T.checkerror("cannot assign s to an array of V", function() v[{}] = s end)
  T.checkerror("cannot raise to the power of a quantity", function() return v ^ cj.ms end)
  T.checkerror("cannot choose between V and s", function() return cj.where(v:gt(0 * cj.mV), v, s) end)
  T.checkerror("cannot clip V and s", function() return v:clip(0 * cj.ms) end)
  assert((v ^ 2).dim == cj.dimension(cj.mV * cj.mV))
  -- each names the function and the argument
  local function e(pattern, f) T.checkerror(pattern, f) end
  e("bad argument #2 to 'add' (cannot add V and s)", function() return cj.add(v, s) end)
  e("bad argument #2 to 'range' (cannot mix dimensionless and s)", function() return cj.range(1, cj.ms) end)
  e("bad argument #2 to 'linspace' (cannot mix V and s)", function() return cj.linspace(cj.mV, cj.ms, 3) end)
  e("bad argument #1 to 'fill' (cannot assign s to an array of V)", function() return v:fill(cj.ms) end)
  e("bad argument #3 to 'newindex' (cannot assign dimensionless to an array of V)", function() v[1] = 3 end)
  e("bad argument #1 to 'sqrt' (cannot raise s to the power 1/2", function() return cj.sqrt(s) end)
  e("bad argument #2 to 'pow' (cannot raise an array of V to an array of powers",
    function() return cj.pow(v, cj.ones(3)) end)
  e("bad argument #2 to 'pow' (cannot raise to the power of a quantity", function() return cj.pow(v, cj.ms) end)
  e("bad argument #3 to 'where' (cannot choose between V and s)",
    function() return cj.where(v:gt(0 * cj.mV), v, s) end)
  e("bad argument #2 to 'clip' (cannot clip V and s)", function() return cj.clip(v, 0 * cj.ms) end)
  e("bad argument #3 to 'muladd' (cannot add V and s)", function() return cj.muladd(v, 2, s) end)
  e("bad argument #1 to 'zeros' (array too large)", function() return cj.zeros(1e12, 1e12) end)
end)

T.test("matmul without a loadable OpenBLAS is an error naming the package", function()
  local cajal = os.getenv("CAJAL") or arg[-1]
  local p = io.popen("CAJAL_BLAS=/nonexistent/libblas.so '" .. cajal ..
    "' -e 'local cj = require \"cajal\"; print(pcall(cj.matmul, cj.ones(2, 2), cj.ones(2, 2)))' 2>&1")
  local out = p:read("a")
  p:close()
  assert(out:find("false", 1, true) and out:find("libopenblas0", 1, true)
    and out:find("/nonexistent/libblas.so", 1, true), out)
  -- integer products need no BLAS
  p = io.popen("CAJAL_BLAS=/nonexistent/libblas.so '" .. cajal ..
    "' -e 'local cj = require \"cajal\"; print(cj.matmul(cj.ones(2, 2, \"int32\"), cj.ones(2, 2, \"int32\"))[{1, 1}])' 2>&1")
  out = p:read("a")
  p:close()
  assert(out == "2\n", out)
end)

---------------------------------------------------------------- help
T.test("cj.neg is the unary minus, into out too", function()
  local a = cj.array{1, -2, 3}
  local n = cj.neg(a)
  assert(n[1] == -1 and n[2] == 2 and n[3] == -3)
  local out = cj.zeros(3)
  cj.neg(a, out)
  assert(out[1] == -1 and out[2] == 2 and out[3] == -3)
  assert(tostring(cj.neg(2 * cj.mV)) == tostring(-2 * cj.mV))
end)

T.test("every array function has help text", function()
  local names = {
    "array", "zeros", "ones", "full", "range", "linspace", "where", "add", "sub", "mul", "div",
    "idiv", "mod", "pow", "minimum", "maximum", "muladd", "lt", "le", "gt", "ge", "eq", "ne", "neg", "abs", "relu",
    "sign", "floor", "ceil", "exp", "log", "log1p", "sqrt", "sin", "cos", "tan", "tanh",
    "sigmoid", "clip", "sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "prod",
    "any", "all", "cumsum", "matmul", "dot", "transpose", "reshape", "copy", "astype",
  }
  for _, n in ipairs(names) do
    assert(type(cj[n]) == "function", n)
    local h = core.doc(cj[n])
    assert(type(h) == "string" and h:find(n, 1, true), "no help for " .. n)
  end
  local a = cj.zeros(1)
  for _, m in ipairs{"t", "contiguous", "fill", "numel", "totable", "neg"} do
    assert(core.doc(a[m]), "no help for method " .. m)
  end
end)

T.done()
