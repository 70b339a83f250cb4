-- units.lua — quantities from Lua: the unit names of the module, arithmetic
-- that keeps dimensions, printing, conversion, parsing, and an error for
-- every misuse (each names the dimensions or the argument at fault).
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local core = require "cajal.core"

local function isq(x) return cj.isquantity(x) end

T.test("unit names are quantities with SI values", function()
  local cases = {
    { "ms", 1e-3, "s" }, { "second", 1, "s" }, { "seconds", 1, "s" }, { "us", 1e-6, "s" },
    { "mV", 1e-3, "V" }, { "uV", 1e-6, "V" }, { "volt", 1, "V" }, { "nA", 1e-9, "A" },
    { "pA", 1e-12, "A" }, { "amp", 1, "A" }, { "nS", 1e-9, "S" }, { "uS", 1e-6, "S" },
    { "mS", 1e-3, "S" }, { "siemens", 1, "S" }, { "pF", 1e-12, "F" }, { "nF", 1e-9, "F" },
    { "uF", 1e-6, "F" }, { "Mohm", 1e6, "ohm" }, { "Gohm", 1e9, "ohm" }, { "ohm", 1, "ohm" },
    { "Hz", 1, "Hz" }, { "kHz", 1e3, "Hz" }, { "mM", 1, "mol/m^3" }, { "uM", 1e-3, "mol/m^3" },
    { "cm", 1e-2, "m" }, { "um", 1e-6, "m" }, { "mm", 1e-3, "m" }, { "cm2", 1e-4, "m^2" },
    { "um2", 1e-12, "m^2" }, { "mm2", 1e-6, "m^2" }, { "kg", 1, "kg" }, { "g", 1e-3, "kg" },
    { "L", 1e-3, "m^3" }, { "C", 1, "C" }, { "N", 1, "N" }, { "J", 1, "J" }, { "W", 1, "W" },
    { "msecond", 1e-3, "s" }, { "mvolt", 1e-3, "V" }, { "millisecond", 1e-3, "s" },
  }
  for _, c in ipairs(cases) do
    local q = cj[c[1]]
    assert(isq(q), c[1] .. " is not a quantity")
    T.near(q.value, c[2], 1e-15 * c[2], c[1])
    assert(q.dim == c[3], c[1] .. ": dim " .. q.dim .. ", expected " .. c[3])
    assert(cj.units[c[1]] == q, c[1] .. ": cj.units disagrees")
  end
end)

T.test("cj.units lists every unit and only quantities", function()
  local n = 0
  for name, q in pairs(cj.units) do
    n = n + 1
    assert(isq(q), name)
    assert(rawget(cj, name) == q or core[name] == q, name .. " missing from the module")
  end
  assert(n > 300, "only " .. n .. " units")
end)

T.test("printing chooses the prefix", function()
  assert(tostring(20 * cj.ms) == "20 ms")
  assert(tostring(-65 * cj.mV) == "-65 mV")
  assert(tostring(0 * cj.volt) == "0 V")
  assert(tostring(0.02 * cj.second) == "20 ms")
  assert(tostring(1.62 * cj.mV) == "1.62 mV")
  assert(tostring(200 * cj.pF) == "200 pF")
  assert(tostring(cj.unit("uF/cm^2")) == "1 uF/cm^2")
  assert(tostring(120 * cj.unit("mS/cm2")) == "120 mS/cm^2")
  assert(tostring(1 / cj.ms) == "1 kHz")
  assert(tostring(5 * cj.Hz) == "5 Hz")
  assert(tostring(100 * cj.Mohm) == "100 Mohm")
  assert(tostring(cj.mM) == "1 mM")
  assert(tostring(cj.mV / cj.ms) == "1 V/s")
  assert(("v = " .. -65 * cj.mV) == "v = -65 mV")
  assert((cj.ms .. "!") == "1 ms!")
  -- 8 significant digits, as array elements (numpy's default precision)
  assert(tostring(1486 / 3 * cj.Hz) == "495.33333 Hz", tostring(1486 / 3 * cj.Hz))
  assert(tostring(cj.ms / 3) == "333.33333 us")
  assert(tostring(cj.array({ 1486 / 3 }) * cj.Hz) == "[495.33333] Hz")
  assert(tostring(123456.789 * cj.ohm) == "123.45679 kohm", tostring(123456.789 * cj.ohm))
end)

T.test("arithmetic keeps dimensions", function()
  local q = 3 * cj.mV + 2 * cj.mV
  T.near(q.value, 5e-3, 1e-18)
  assert(q.dim == "V")
  q = 3 * cj.mV - 5 * cj.mV
  T.near(q.value, -2e-3, 1e-18)
  q = cj.nS * cj.mV                          -- S V = A
  assert(q.dim == "A")
  T.near(q.value, 1e-12, 1e-27)
  q = cj.mV / cj.Mohm
  assert(q.dim == "A" and math.abs(q.value - 1e-9) < 1e-24)
  q = cj.mV / 2
  assert(q.dim == "V" and q.value == 0.5e-3)
  q = 2 / cj.ms
  assert(q.dim == "Hz" and math.abs(q.value - 2000) < 1e-12)
  q = -cj.ms
  assert(q.dim == "s" and q.value == -1e-3)
  T.near((7 * cj.ms % (3 * cj.ms)):to("ms"), 1, 1e-12)
  T.near((-7 * cj.ms % (3 * cj.ms)):to("ms"), 2, 1e-12)
  assert(7 * cj.ms // (3 * cj.ms) == 2)
end)

T.test("dimensionless results are plain numbers", function()
  local x = (20 * cj.ms) / (5 * cj.ms)
  assert(math.type(x) == "float" and x == 4)
  assert(type(cj.ms * cj.kHz) == "number")
  T.near(cj.ms * cj.kHz, 1, 1e-15)
  assert(type(cj.unit("ms/s")) == "number")
end)

T.test("powers with integer and rational exponents", function()
  local a = cj.um ^ 2
  assert(a.dim == "m^2")
  T.near(a.value, cj.um2.value, 1e-30)
  local r = cj.um2 ^ 0.5
  assert(r.dim == "m")
  T.near(r.value, 1e-6, 1e-21)
  local c = (8 * cj.m ^ 3) ^ (1 / 3)
  assert(c.dim == "m")
  T.near(c.value, 2, 1e-14)
  local v = (cj.mV * cj.mV) ^ 0.5
  assert(v.dim == "V")
  assert((cj.s ^ -1).dim == "Hz")
  assert(cj.ms ^ 0 == 1)
end)

T.test("comparisons need equal dimensions", function()
  assert(cj.ms < cj.second)
  assert(cj.ms <= cj.ms)
  assert(not (cj.second < cj.ms))
  assert(1000 * cj.ms == cj.second)
  assert(cj.mV ~= 2 * cj.mV)
  assert(cj.mV > cj.uV)
end)

T.test("conversion with :to", function()
  T.near((20 * cj.ms):to(cj.second), 0.02, 1e-17)
  T.near((20 * cj.ms):to("us"), 20000, 1e-9)
  T.near((1 * cj.unit("mS/cm^2")):to("S/m^2"), 10, 1e-14)
  T.near((-65 * cj.mV)["in"](-65 * cj.mV, cj.mV), -65, 1e-12)
  T.near((3 * cj.ms):to(0.5 * cj.ms), 6, 1e-12)
end)

T.test("cj.unit parses expressions", function()
  T.near(cj.unit("uF/cm^2").value, 0.01, 1e-17)
  assert(cj.unit("uF/cm^2").dim == "F/m^2")
  T.near(cj.unit("mS/cm2").value, 10, 1e-14)
  assert(cj.unit("1/ms").dim == "Hz")
  assert(cj.unit("mV/ms").dim == "V/s")
  assert(cj.unit("m^2 kg s^-3 A^-1") == cj.volt)
  assert(cj.unit("10 ms") == 10 * cj.ms)
  assert(cj.unit("2") == 2)
end)

T.test("cj.dimension of numbers, quantities, strings and arrays", function()
  assert(cj.dimension(3) == "1")
  assert(cj.dimension(cj.mV) == "V")
  assert(cj.dimension(cj.nS / cj.cm2) == "S/m^2")
  assert(cj.dimension("uF/cm^2") == "F/m^2")
  assert(cj.dimension(cj.zeros(3)) == "1")
  assert(cj.dimension(cj.nA * cj.Mohm) == "V")
end)

T.test("quantities times arrays go to the array code", function()
  local a = cj.array({ 1, 2, 3 }) * cj.mV
  assert(cj.dimension(a) == "V")
  T.near(a[2].value, 2e-3, 1e-18)
  local b = cj.mV * cj.array({ 1, 2, 3 })
  assert(cj.dimension(b) == "V")
  local c = cj.array({ 1, 2 }) * cj.mV + cj.mV
  T.near(c[1].value, 2e-3, 1e-18)
  local d = cj.ms / cj.array({ 1, 2 })
  assert(cj.dimension(d) == "s")
  T.checkerror("cannot add", function() return cj.array({ 1, 2 }) * cj.mV + cj.ms end)
end)

T.test("misuse raises errors naming both dimensions", function()
  T.checkerror("cannot add V and s", function() return cj.mV + cj.ms end)
  T.checkerror("cannot subtract s and V", function() return cj.ms - cj.mV end)
  T.checkerror("cannot add V and dimensionless", function() return cj.mV + 1 end)
  T.checkerror("cannot add dimensionless and V", function() return 1 + cj.mV end)
  T.checkerror("cannot compare V and s", function() return cj.mV < cj.ms end)
  T.checkerror("cannot compare s and V", function() return cj.ms <= cj.mV end)
  T.checkerror("cannot compare V and s", function() return cj.mV == cj.ms end)
  T.checkerror("cannot compare V and dimensionless", function() return cj.mV < 1 end)
  T.checkerror("cannot take the remainder of s and V", function() return cj.ms % cj.mV end)
  T.checkerror("cannot floor-divide s and V", function() return cj.ms // cj.mV end)
  T.checkerror("cannot add a quantity and a string", function() return cj.mV + "x" end)
  T.checkerror("cannot multiply a table and a quantity", function() return {} * cj.mV end)
  T.checkerror("cannot raise Hz to the power 1/2", function() return cj.Hz ^ 0.5 end)
  T.checkerror("cannot raise s to the power 1/3", function() return cj.s ^ (1 / 3) end)
  T.checkerror("exponent must be a fraction", function() return cj.ms ^ 0.123456 end)
  T.checkerror("exponent must be a number", function() return 2 ^ cj.ms end)
  T.checkerror("exponent must be a number", function() return cj.ms ^ cj.ms end)
  T.checkerror("bad argument #1 to 'to' (cannot convert V to s)", function() return cj.mV:to(cj.ms) end)
  T.checkerror("bad argument #1 to 'to' (cannot convert s to dimensionless)", function() return cj.ms:to(5) end)
  T.checkerror("unknown unit 'parsec'", function() return cj.mV:to("parsec") end)
  T.checkerror("unit (quantity or string) expected", function() return cj.mV:to({}) end)
  T.checkerror("dimension exponent out of range", function() return (cj.m ^ 100) * (cj.m ^ 100) end)
end)

T.test("cj.unit reports bad expressions with the place", function()
  T.checkerror("bad argument #1 to", cj.unit, "uF/xyz")
  T.checkerror("unknown unit 'xyz' at column 4 in unit 'uF/xyz'", cj.unit, "uF/xyz")
  T.checkerror("empty unit expression", cj.unit, "")
  T.checkerror("unbalanced '(' at column 4", cj.unit, "uF/(cm^2")
  T.checkerror("unexpected '$' at column 4", cj.unit, "mV $")
  T.checkerror("cannot raise Hz to the power 1/2", cj.unit, "Hz^(1/2)")
  T.checkerror("string expected", cj.unit, {})
  T.checkerror("number, quantity, array or unit string expected", cj.dimension, {})
  T.checkerror("unknown unit 'foo'", cj.dimension, "foo")
end)

T.test("cj.exponents gives the base exponents", function()
  local function eq(t, u) return table.concat(t, ",") == table.concat(u, ",") end
  assert(eq(cj.exponents(cj.mV), { 2, 1, -3, -1, 0, 0, 0 }))
  assert(eq(cj.mV.exponents, { 2, 1, -3, -1, 0, 0, 0 }))
  assert(eq(cj.exponents(3), { 0, 0, 0, 0, 0, 0, 0 }))
  assert(eq(cj.exponents("uF/cm^2"), { -4, -1, 4, 2, 0, 0, 0 }))
  assert(eq(cj.exponents("K mol^-1 cd^3"), { 0, 0, 0, 0, 1, -1, 3 }))
  assert(eq(cj.exponents(cj.zeros(2) * cj.Hz), { 0, 0, -1, 0, 0, 0, 0 }))
  T.checkerror("number, quantity, array or unit string expected", cj.exponents, true)
  T.checkerror("unknown unit 'zz'", cj.exponents, "zz")
end)

-- man/cajal-lang.7's table of unit symbols and prefixes is cj.unit's table:
-- every symbol with every listed prefix parses, every other prefix letter
-- does not, and the symbols the page rules out are not units.
T.test("the unit table of man/cajal-lang.7 is cj.unit's", function()
  local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")
  local f = assert(io.open(srcdir .. "/man/cajal-lang.7", "rb"))
  local page = f:read("a")
  f:close()
  local tbl = page:match("Unit symbols are.-%.TS\n[^\n]*\n(.-)%.TE")
  assert(tbl, "no unit table in man/cajal-lang.7")
  local rows = 0
  for line in tbl:gmatch("[^\n]+") do
    local syms, rest = line:match("^([^\t]+)\t(.*)$")
    assert(syms, line)
    local pfx = {}
    if rest ~= "none" then
      for p in rest:gsub("%b()", ""):gsub("^prefixes ", ""):gmatch("%S+") do pfx[#pfx + 1] = p end
    end
    for sym in syms:gsub("%b()", ""):gmatch("[^,%s]+") do
      rows = rows + 1
      assert(cj.isquantity(cj.unit(sym)), sym)
      local allowed = {}
      for _, p in ipairs(pfx) do
        allowed[p] = true
        local ok, q = pcall(cj.unit, p .. sym)
        assert(ok and cj.isquantity(q), "the page lists " .. p .. sym .. ": " .. tostring(q))
      end
      for p in ("fpnumckMG"):gmatch(".") do
        if not allowed[p] then
          assert(not pcall(cj.unit, p .. sym), p .. sym .. " is a unit the page does not list")
        end
      end
    end
  end
  assert(rows >= 18, rows)
  T.checkerror("unknown unit 'l'", cj.unit, "l")
  assert((cj.unit("mL") / cj.unit("L")) == 1e-3 and cj.unit("litre") == cj.unit("L"))
end)

T.test("fields of a quantity", function()
  local q = -65 * cj.mV
  assert(q.value == -0.065)
  assert(q.dim == "V")
  assert(q.nosuchfield == nil and q[1] == nil)
  assert(cj.isquantity(q) and not cj.isquantity(3) and not cj.isquantity(cj.zeros(1)))
end)

T.test("help texts are registered", function()
  for _, f in ipairs({ cj.unit, cj.dimension, cj.isquantity, cj.exponents }) do
    local h = core.doc(f)
    assert(type(h) == "string" and h:match("^cj%.%w+%("), tostring(h))
  end
  assert(core.doc(cj.ms.to):match("^q:to%(unit%)"))
end)

T.done()
