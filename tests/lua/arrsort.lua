-- arrsort.lua — cj.sort, cj.argsort, cj.searchsorted, cj.unique,
-- cj.bincount, cj.histogram, cj.histogram2d and the FFT family (cj.fft,
-- cj.ifft, cj.rfft, cj.irfft, cj.fftfreq, cj.rfftfreq), each against an
-- independent computation in plain Lua (table.sort, counting loops, a
-- direct O(n^2) DFT) on contiguous and strided inputs, and their errors.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local function list(a) return T.values(a) end

-- pseudo-random values from cajal's generator, as a Lua list
local function randlist(n, seed, scale)
  local r = cj.rng(seed)
  return list(r:uniform(n) * (scale or 1))
end

local function sorted(t)
  local c = {}
  for k = 1, #t do c[k] = t[k] end
  table.sort(c)
  return c
end

---------------------------------------------------------------- sort / argsort
T.test("sort and argsort match table.sort, stably, on contiguous and strided data", function()
  local t = randlist(1000, 1, 10)
  for k = 1, 1000, 7 do t[k] = math.floor(t[k]) end      -- ties
  local a = cj.array(t)
  T.same(list(cj.sort(a)), sorted(t), "sort")
  local p = list(cj.argsort(a))
  for k = 2, #p do
    local x, y = t[p[k - 1]], t[p[k]]
    assert(x < y or (x == y and p[k - 1] < p[k]), "argsort not stable at " .. k)
  end
  -- strided: every third element of a reversed view, and columns of a matrix
  local m = cj.array(t):reshape(50, 20)
  local col = m:t()                                   -- 20 x 50 view, strided
  local s = cj.sort(col)                              -- along the last axis
  for i = 1, 20 do
    local ref = {}
    for j = 1, 50 do ref[j] = t[(j - 1) * 20 + i] end
    T.same(list(s[i]), sorted(ref), "row " .. i)
  end
  local s1 = cj.sort(m, 1)                            -- along the first axis
  T.same(list(s1:t()), list(cj.sort(m:t(), 2)), "axis 1 vs axis 2 of the transpose")
  T.same(list(cj.sort(m, -2)), list(s1), "negative axis")
  local v = a[{ { 3, 1000, 3 } }]
  local ref = {}
  for k = 3, 1000, 3 do ref[#ref + 1] = t[k] end
  T.same(list(cj.sort(v)), sorted(ref), "strided slice")
end)

T.test("sort keeps dtype and unit; NaN goes last; argsort is 1-based int32", function()
  local a = cj.array({3, -1, 2}, "int32")
  local s = cj.sort(a)
  assert(s.dtype == "int32")
  T.same(list(s), {-1, 2, 3}, "int32")
  local q = cj.sort(cj.array{3, 1, 2} * cj.ms)
  assert(tostring(q[1]) == "1 ms", tostring(q[1]))
  local n = list(cj.sort(cj.array{0 / 0, 2, -math.huge, 1}))
  assert(n[1] == -math.huge and n[2] == 1 and n[3] == 2 and n[4] ~= n[4])
  local p = cj.argsort(cj.array{0 / 0, 5, 4})
  assert(p.dtype == "int32")
  T.same(list(p), {3, 2, 1}, "argsort with NaN")
  T.same(list(cj.argsort(cj.array{{3, 1}, {0, 2}}, 1)), {2, 1, 1, 2}, "argsort axis 1")
end)

---------------------------------------------------------------- searchsorted
T.test("searchsorted gives 1-based insertion points, left and right", function()
  local a = cj.array{1, 2, 2, 3, 5}
  T.same(list(cj.searchsorted(a, cj.array{0, 1, 2, 2.5, 5, 6})), {1, 1, 2, 4, 5, 6}, "left")
  T.same(list(cj.searchsorted(a, cj.array{0, 1, 2, 2.5, 5, 6}, "right")), {1, 2, 4, 4, 6, 6}, "right")
  assert(cj.searchsorted(a, 2) == 2 and math.type(cj.searchsorted(a, 2)) == "integer")
  -- against a linear scan on random data, values given as a strided 2-D view
  local t = sorted(randlist(200, 2))
  local v = cj.rng(3):rand(10, 6):t()
  local got = list(cj.searchsorted(cj.array(t), v, "right"))
  local vv = list(v)
  for k = 1, #vv do
    local i = 1
    while i <= #t and t[i] <= vv[k] do i = i + 1 end
    assert(got[k] == i, "position of " .. vv[k])
  end
  local w = cj.searchsorted(a, cj.array{{0, 9}})
  assert(w.shape[1] == 1 and w.shape[2] == 2)
end)

---------------------------------------------------------------- unique
T.test("unique gives sorted values, counts and the inverse map", function()
  local t = {}
  local r = cj.rng(4)
  local d = list(r:integers(0, 9, 500))
  for k = 1, #d do t[k] = d[k] end
  local vals, counts, inv = cj.unique(cj.array(t):reshape(25, 20):t())   -- strided
  local ref = {}
  for _, x in ipairs(t) do ref[x] = (ref[x] or 0) + 1 end
  local keys = {}
  for k in pairs(ref) do keys[#keys + 1] = k end
  table.sort(keys)
  T.same(list(vals), keys, "values")
  local c = list(counts)
  for k, x in ipairs(keys) do assert(c[k] == ref[x], "count of " .. x) end
  assert(inv.shape[1] == 20 and inv.shape[2] == 25)
  local src = list(cj.array(t):reshape(25, 20):t())
  local iv, vl = list(inv), list(vals)
  for k = 1, #src do assert(vl[iv[k]] == src[k]) end
  local v2, c2 = cj.unique(cj.array{0 / 0, 1, 0 / 0})
  assert(v2:numel() == 2 and list(c2)[2] == 2, "NaNs make one value")
  local e = cj.unique(cj.zeros(0))
  assert(e:numel() == 0)
  local q = cj.unique(cj.array{2, 1, 2} * cj.mV)
  assert(tostring(q[1]) == "1 mV")
end)

---------------------------------------------------------------- bincount
T.test("bincount counts integer labels, with min, length and weights", function()
  T.same(list(cj.bincount(cj.array{0, 1, 1, 3})), {1, 2, 0, 1}, "numpy's bincount")
  T.same(list(cj.bincount(cj.array({1, 2, 2, 4}, "int32"), { min = 1 })), {1, 2, 0, 1}, "min = 1")
  T.same(list(cj.bincount(cj.array{0, 1}, { length = 4 })), {1, 1, 0, 0}, "length")
  T.same(list(cj.bincount(cj.array{0, 1, 1}, { weights = cj.array{0.5, 2, 3} })), {0.5, 5}, "weights")
  assert(cj.bincount(cj.zeros(0)):numel() == 0)
  local r = cj.rng(5)
  local x = r:integers(0, 20, 40, 30)
  local got = list(cj.bincount(x:t()))
  local ref = {}
  for _, v in ipairs(list(x)) do ref[v + 1] = (ref[v + 1] or 0) + 1 end
  for k = 1, #got do assert(got[k] == (ref[k] or 0), "bin " .. k) end
  T.checkerror("(values must be >= 0 (got -1; set opts.min))",
    cj.bincount, cj.array{1, -1})
  T.checkerror("values must be integers (got 1.5)", cj.bincount, cj.array{1, 1.5})
  T.checkerror("unknown option 'minlength'", cj.bincount, cj.array{1}, { minlength = 3 })
  T.checkerror("option 'weights' must have the shape of the data", cj.bincount, cj.array{1, 2},
    { weights = cj.array{1} })
end)

---------------------------------------------------------------- histogram
-- reference: bin of x for edges e (numpy's rule), or nil
local function binof(e, x)
  if x ~= x or x < e[1] or x > e[#e] then return nil end
  if x == e[#e] then return #e - 1 end
  for k = 1, #e - 1 do if x >= e[k] and x < e[k + 1] then return k end end
end

T.test("histogram with equal bins and with edges matches a counting loop", function()
  local t = randlist(2000, 6, 7)
  t[1], t[2], t[3] = 0 / 0, math.huge, -1
  local a = cj.array(t):reshape(40, 50):t()            -- strided
  local counts, edges = cj.histogram(a, 13)
  local e = list(edges)
  assert(#e == 14)
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(t) do if x == x and x > -math.huge and x < math.huge then
    lo = math.min(lo, x); hi = math.max(hi, x) end end
  T.near(e[1], lo, 0, "first edge"); T.near(e[14], hi, 0, "last edge")
  local ref = {}
  for k = 1, 13 do ref[k] = 0 end
  for _, x in ipairs(t) do local k = binof(e, x); if k then ref[k] = ref[k] + 1 end end
  T.same(list(counts), ref, "equal bins")
  -- given edges (unequal), weights, range
  local ed = {-1, 0, 0.5, 3, 7.5}
  local c2 = cj.histogram(a, cj.array(ed), { weights = cj.ones(40, 50):t() * 2 })
  local r2 = {0, 0, 0, 0}
  for _, x in ipairs(t) do local k = binof(ed, x); if k then r2[k] = r2[k] + 2 end end
  T.same(list(c2), r2, "edges and weights")
  local c3, e3 = cj.histogram(cj.array{0, 1, 2, 10}, 2, { range = {0, 2} })
  T.same(list(c3), {1, 2}, "range: 2 is in the last bin, 10 left out")
  T.same(list(e3), {0, 1, 2}, "range edges")
  local d = cj.histogram(cj.array(t), 5, { density = true, range = {0, 7} })
  local dd, e4 = list(d), 7 / 5
  local s = 0
  for k = 1, 5 do s = s + dd[k] * e4 end
  T.near(s, 1, 1e-12, "density integrates to one")
  local qc, qe = cj.histogram(cj.array{1, 2, 3} * cj.ms, 2)
  assert(tostring(qe[1]) == "1 ms" and list(qc)[2] == 2)
  local z = cj.histogram(cj.array{5, 5}, 2)
  T.same(list(z), {0, 2}, "one value: range value +- 0.5 as numpy")
end)

T.test("histogram2d matches a counting loop", function()
  local x, y = randlist(500, 7), randlist(500, 8)
  local c, ex, ey = cj.histogram2d(cj.array(x), cj.array(y), {4, 3})
  assert(c.shape[1] == 4 and c.shape[2] == 3)
  local e1, e2 = list(ex), list(ey)
  local ref = {}
  for k = 1, 12 do ref[k] = 0 end
  for k = 1, 500 do
    local i, j = binof(e1, x[k]), binof(e2, y[k])
    if i and j then ref[(i - 1) * 3 + j] = ref[(i - 1) * 3 + j] + 1 end
  end
  T.same(list(c), ref, "2-D counts")
  local c2 = cj.histogram2d(cj.array{0, 1, 1}, cj.array{0, 0, 1}, { cj.array{0, 0.5, 1}, cj.array{0, 1} })
  T.same(list(c2), {1, 2}, "edges")
  local c3 = cj.histogram2d(cj.array{0, 1, 5}, cj.array{0, 1, 1}, 2, { range = { {0, 1}, {0, 1} } })
  T.same(list(c3), {1, 0, 0, 1}, "range")
end)

T.test("histogram errors name the argument", function()
  T.checkerror("(number of bins must be a positive integer)",
    cj.histogram, cj.array{1}, 0)
  T.checkerror("bins: edges must increase", cj.histogram, cj.array{1}, cj.array{0, 2, 1})
  T.checkerror("range must be {lo, hi} with lo < hi", cj.histogram, cj.array{1}, 3, { range = {1, 1} })
  T.checkerror("bin edges must have the unit of the data", cj.histogram, cj.array{1} * cj.ms, cj.array{0, 1})
  T.checkerror("unknown option 'bins'", cj.histogram, cj.array{1}, 3, { bins = 3 })
  T.checkerror("x and y must have one shape", cj.histogram2d, cj.array{1, 2}, cj.array{1})
end)

---------------------------------------------------------------- FFT
-- direct DFT of a complex list {re, im, re, im, ...}; sign -1 forward
local function dft(z, sign)
  local n = #z // 2
  local out = {}
  for k = 0, n - 1 do
    local re, im = 0, 0
    for j = 0, n - 1 do
      local a = sign * 2 * math.pi * ((j * k) % n) / n
      local c, s = math.cos(a), math.sin(a)
      re = re + z[2 * j + 1] * c - z[2 * j + 2] * s
      im = im + z[2 * j + 1] * s + z[2 * j + 2] * c
    end
    out[2 * k + 1], out[2 * k + 2] = re, im
  end
  return out
end

local function close(got, ref, tol, what)
  assert(#got == #ref, what .. ": " .. #got .. " vs " .. #ref .. " values")
  for k = 1, #ref do T.near(got[k], ref[k], tol, what .. " [" .. k .. "]") end
end

T.test("fft, ifft, rfft, irfft match a direct DFT", function()
  for _, n in ipairs({1, 2, 5, 8, 17, 30}) do
    local x = randlist(n, 10 + n)
    local z = {}
    for k = 1, n do z[2 * k - 1], z[2 * k] = x[k], 0 end
    local ref = dft(z, -1)
    local X = cj.fft(cj.array(x))
    assert(X.ndim == 2 and X.shape[1] == n and X.shape[2] == 2)
    close(list(X), ref, 1e-12 * n, "fft n=" .. n)
    local R = cj.rfft(cj.array(x))
    local rr = {}
    for k = 1, 2 * (n // 2 + 1) do rr[k] = ref[k] end
    close(list(R), rr, 1e-12 * n, "rfft n=" .. n)
    close(list(cj.irfft(R, { n = n })), x, 1e-12, "irfft n=" .. n)
    local back = list(cj.ifft(X))
    for k = 1, n do T.near(back[2 * k - 1], x[k], 1e-12, "ifft re"); T.near(back[2 * k], 0, 1e-12, "ifft im") end
    -- complex input
    local c = randlist(2 * n, 40 + n)
    close(list(cj.fft(cj.array(c):reshape(n, 2), { complex = true })), dft(c, -1), 1e-12 * n, "complex fft")
    local inv = dft(c, 1)
    for k = 1, #inv do inv[k] = inv[k] / n end
    close(list(cj.ifft(cj.array(c):reshape(n, 2))), inv, 1e-12, "ifft n=" .. n)
  end
end)

T.test("fft along an axis, of strided input, with padding and truncation", function()
  local m = cj.rng(11):rand(6, 8)                 -- 6 rows of 8
  local v = m:t()                                    -- strided 8 x 6
  local X = cj.fft(v, { axis = 1 })                  -- transform down the columns of v
  assert(X.shape[1] == 8 and X.shape[2] == 6 and X.shape[3] == 2)
  for i = 1, 6 do
    local row = list(m[i])
    local z = {}
    for k = 1, 8 do z[2 * k - 1], z[2 * k] = row[k], 0 end
    local ref = dft(z, -1)
    for k = 1, 8 do
      T.near(X[{ k, i, 1 }], ref[2 * k - 1], 1e-12, "re"); T.near(X[{ k, i, 2 }], ref[2 * k], 1e-12, "im")
    end
  end
  -- padding: n = 12 equals the transform of the zero-padded row
  local P = cj.rfft(m, { n = 12 })
  local pad = cj.zeros(6, 12); pad[{ {}, { 1, 8 } }] = m
  close(list(P), list(cj.rfft(pad)), 1e-12, "padding")
  local Q = cj.fft(m, { n = 5 })
  close(list(Q), list(cj.fft(m[{ {}, { 1, 5 } }]:copy())), 1e-12, "truncation")
  local U = cj.fft(cj.array{1, 2} * cj.mV)
  assert(tostring(U[{ 1, 1 }]) == "3 mV", "unit kept")
end)

T.test("fftfreq and rfftfreq follow numpy", function()
  T.same(list(cj.fftfreq(5)), {0, 0.2, 0.4, -0.4, -0.2}, "odd")
  close(list(cj.fftfreq(4, 0.5)), {0, 0.5, -1, -0.5}, 0, "even")
  close(list(cj.rfftfreq(5, 0.1)), {0, 2, 4}, 1e-12, "rfftfreq")
  local f = cj.rfftfreq(4, 1 * cj.ms)
  assert(tostring(f[2]) == "250 Hz", tostring(f[2]))
end)

T.test("fft errors name the argument", function()
  T.checkerror("complex array expected", cj.ifft, cj.array{1, 2, 3})
  T.checkerror("option 'n' must be a positive integer", cj.fft, cj.array{1, 2}, { n = 0 })
  T.checkerror("option 'axis' out of range 1..1", cj.fft, cj.array{1, 2}, { axis = 2 })
  T.checkerror("option 'complex' is only for cj.fft", cj.rfft, cj.array{1, 2}, { complex = true })
  T.checkerror("unknown option 'norm'", cj.fft, cj.array{1, 2}, { norm = "ortho" })
  T.checkerror("needs opts.n", cj.irfft, cj.array{{1, 0}})
  T.checkerror("sample spacing must be a positive", cj.fftfreq, 4, -1)
end)

T.done()
