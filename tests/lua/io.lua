-- io.lua — cj.io from Lua: .npy save/load (and numpy reading what cajal
-- writes, and the reverse, for every dtype), the streaming writer, CSV,
-- save_columns, and the errors. numpy is the independent oracle; the
-- interop tests print a note and are skipped only when /usr/bin/python3 or
-- numpy is missing.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local IO = cj.io

local dir = T.tmpdir()
local function tmp(name) return dir .. "/" .. name end

local PY, shq, python = T.PY, T.shq, T.python
local have_numpy = io.open(PY) ~= nil and (python("import numpy"))
if not have_numpy then
  print("NOTE: " .. PY .. " with numpy not found: numpy interop tests skipped")
end

-- The values used on both sides, element i (0-based, C order) of each dtype.
local dtypes = { "float64", "float32", "int32", "uint8" }
local npname = { float64 = "<f8", float32 = "<f4", int32 = "<i4", uint8 = "|u1" }
local function value(dtype, i)
  if dtype == "float64" or dtype == "float32" then return (i * 37 % 101) / 7 - 3 end
  if dtype == "int32" then return i * 37 % 101 - 50 end
  return i * 37 % 256
end
local pyvalue = {
  float64 = "((i*37 % 101)/7 - 3)",
  float32 = "((i*37 % 101)/7 - 3).astype(np.float32)",
  int32 = "(i*37 % 101 - 50).astype(np.int32)",
  uint8 = "((i*37) % 256).astype(np.uint8)",
}
local function make(dtype, n, ...)
  local t = {}
  for i = 0, n - 1 do t[i + 1] = value(dtype, i) end
  local a = cj.array(t, dtype)
  if select("#", ...) > 0 then a = a:reshape(...) end
  return a
end
local function flat(a)
  local out = {}
  local function walk(x)
    if type(x) == "table" then for _, y in ipairs(x) do walk(y) end else out[#out + 1] = x end
  end
  walk(a:totable())
  return out
end
local function same(a, b, what)
  assert(a.dtype == b.dtype, what .. ": dtype " .. a.dtype .. " vs " .. b.dtype)
  assert(#a.shape == #b.shape, what .. ": ndim")
  for d = 1, #a.shape do assert(a.shape[d] == b.shape[d], what .. ": shape") end
  local x, y = flat(a), flat(b)
  assert(#x == #y, what .. ": sizes")
  for i = 1, #x do
    assert(x[i] == y[i] or (x[i] ~= x[i] and y[i] ~= y[i]), what .. ": element " .. i .. ": " .. x[i] .. " vs " .. y[i])
  end
end

T.test("save_npy / load_npy round trip: every dtype, shapes, strided views", function()
  for _, dt in ipairs(dtypes) do
    local a = make(dt, 24, 2, 3, 4)
    IO.save_npy(tmp("r.npy"), a)
    same(IO.load_npy(tmp("r.npy")), a, dt .. " 3-D")
    local m = make(dt, 12, 3, 4)
    IO.save_npy(tmp("t.npy"), m:t())
    local b = IO.load_npy(tmp("t.npy"))
    assert(b.shape[1] == 4 and b.shape[2] == 3)
    for i = 1, 4 do for j = 1, 3 do assert(b[i][j] == m[j][i]) end end
    IO.save_npy(tmp("s.npy"), m[{ {}, { 4, 1, -2 } }])
    b = IO.load_npy(tmp("s.npy"))
    assert(b.shape[2] == 2 and b[3][1] == m[3][4] and b[3][2] == m[3][2])
  end
  IO.save_npy(tmp("z.npy"), cj.zeros(0, 3))
  local z = IO.load_npy(tmp("z.npy"))
  assert(z.shape[1] == 0 and z.shape[2] == 3)
  IO.save_npy(tmp("n.npy"), { { 1, 2 }, { 3, 4.5 } })   -- a table is converted
  assert(IO.load_npy(tmp("n.npy"))[2][2] == 4.5)
  IO.save_npy(tmp("q.npy"), cj.array({ 1, 2 }) * cj.ms)    -- SI values, no unit
  T.near(IO.load_npy(tmp("q.npy"))[2], 0.002, 1e-18)
end)

T.test("numpy reads what cajal writes, for every dtype, C order from strided data", function()
  if not have_numpy then T.skip(PY .. " with numpy not found") end
  for _, dt in ipairs(dtypes) do
    IO.save_npy(tmp(dt .. ".npy"), make(dt, 12, 3, 4))
    IO.save_npy(tmp(dt .. "-t.npy"), make(dt, 12, 3, 4):t())
    IO.save_npy(tmp(dt .. "-1.npy"), make(dt, 7))
  end
  local ok, out = python(([==[
import numpy as np
d = %s
for dt, npn in [("float64", "<f8"), ("float32", "<f4"), ("int32", "<i4"), ("uint8", "|u1")]:
    i = np.arange(12)
    exp = {"float64": %s, "float32": %s, "int32": %s, "uint8": %s}[dt]
    a = np.load(d + "/" + dt + ".npy")
    assert a.dtype == np.dtype(npn) and a.shape == (3, 4), (dt, a.dtype, a.shape)
    assert np.array_equal(a, exp.reshape(3, 4)), dt
    t = np.load(d + "/" + dt + "-t.npy")
    assert t.flags.c_contiguous and np.array_equal(t, exp.reshape(3, 4).T), dt
    i = np.arange(7)
    exp = {"float64": %s, "float32": %s, "int32": %s, "uint8": %s}[dt]
    assert np.array_equal(np.load(d + "/" + dt + "-1.npy"), exp), dt
print("numpy ok")
]==]):format(("%q"):format(dir), pyvalue.float64, pyvalue.float32, pyvalue.int32, pyvalue.uint8,
    pyvalue.float64, pyvalue.float32, pyvalue.int32, pyvalue.uint8))
  assert(ok and out:find("numpy ok"), out)
end)

T.test("cajal reads what numpy writes: byte orders, Fortran order, versions, 0-d", function()
  if not have_numpy then T.skip(PY .. " with numpy not found") end
  local ok, out = python(([==[
import numpy as np
d = %s
i = np.arange(12)
ex = {"float64": %s, "float32": %s, "int32": %s, "uint8": %s}
for dt, a in ex.items():
    np.save(d + "/np-" + dt + ".npy", a.reshape(3, 4))
    np.save(d + "/np-" + dt + "-be.npy", a.reshape(3, 4).astype(a.dtype.newbyteorder(">")))
    np.save(d + "/np-" + dt + "-f.npy", np.asfortranarray(a.reshape(3, 4)))
    with open(d + "/np-" + dt + "-v2.npy", "wb") as f:
        np.lib.format.write_array(f, a.reshape(2, 6), version=(2, 0))
    with open(d + "/np-" + dt + "-v3.npy", "wb") as f:
        np.lib.format.write_array(f, np.asfortranarray(a.reshape(2, 3, 2)), version=(3, 0))
np.save(d + "/np-0d.npy", np.float64(2.5))
np.save(d + "/np-i8.npy", np.arange(3, dtype=np.int64))
np.save(d + "/np-bool.npy", np.array([True, False]))
np.save(d + "/np-c16.npy", np.zeros(2, dtype=np.complex128))
print("written")
]==]):format(("%q"):format(dir), pyvalue.float64, pyvalue.float32, pyvalue.int32, pyvalue.uint8))
  assert(ok and out:find("written"), out)
  for _, dt in ipairs(dtypes) do
    local want = make(dt, 12, 3, 4)
    same(IO.load_npy(tmp("np-" .. dt .. ".npy")), want, dt)
    same(IO.load_npy(tmp("np-" .. dt .. "-be.npy")), want, dt .. " big-endian")
    same(IO.load_npy(tmp("np-" .. dt .. "-f.npy")), want, dt .. " Fortran order")
    same(IO.load_npy(tmp("np-" .. dt .. "-v2.npy")), make(dt, 12, 2, 6), dt .. " version 2.0")
    same(IO.load_npy(tmp("np-" .. dt .. "-v3.npy")), make(dt, 12, 2, 3, 2), dt .. " version 3.0")
  end
  local s = IO.load_npy(tmp("np-0d.npy"))
  assert(s.ndim == 0 and s:sum() == 2.5)
  T.checkerror("np-i8.npy: unsupported dtype '<i8'", IO.load_npy, tmp("np-i8.npy"))
  T.checkerror("np-bool.npy: unsupported dtype '|b1'", IO.load_npy, tmp("np-bool.npy"))
  T.checkerror("np-c16.npy: unsupported dtype '<c16'", IO.load_npy, tmp("np-c16.npy"))
end)

T.test("malformed and truncated .npy files are errors naming the file", function()
  local f = io.open(tmp("bad.npy"), "wb")
  f:write("not numpy at all")
  f:close()
  local e = T.checkerror("load_npy: " .. tmp("bad.npy") .. ": not a .npy file (bad magic string)",
    IO.load_npy, tmp("bad.npy"))
  T.checkerror("load_npy: " .. tmp("missing.npy") .. ": No such file or directory", IO.load_npy, tmp("missing.npy"))
  T.checkerror("save_npy: /nonexistent/x.npy: No such file or directory", IO.save_npy, "/nonexistent/x.npy", cj.zeros(2))
  T.checkerror("bad argument #2 to 'save_npy' (array, number or table expected, got string)",
    function() return IO.save_npy(tmp("x.npy"), "x") end)
  IO.save_npy(tmp("good.npy"), make("float64", 12, 3, 4))
  local good = io.open(tmp("good.npy"), "rb"):read("a")
  for cut = 0, #good - 1 do
    f = io.open(tmp("cut.npy"), "wb")
    f:write(good:sub(1, cut))
    f:close()
    e = T.checkerror("load_npy: " .. tmp("cut.npy") .. ": ", IO.load_npy, tmp("cut.npy"))
    assert(e:find("truncated"), e)
  end
  f = io.open(tmp("long.npy"), "wb")
  f:write(good .. "\0\0\0\0\0\0\0\0")
  f:close()
  T.checkerror("8 bytes after the data of shape 3x4 of float64", IO.load_npy, tmp("long.npy"))
  -- random byte flips: an error or an array, never a crash
  math.randomseed(3)
  for _ = 1, 500 do
    local b = { good:byte(1, -1) }
    for _ = 1, math.random(1, 3) do b[math.random(1, 128)] = math.random(0, 255) end
    f = io.open(tmp("flip.npy"), "wb")
    f:write(string.char(table.unpack(b)))
    f:close()
    local ok, r = pcall(IO.load_npy, tmp("flip.npy"))
    assert(ok or tostring(r):find(tmp("flip.npy"), 1, true), tostring(r))
  end
end)

T.test("npy_writer streams rows; flush makes the file readable; numpy agrees", function()
  local w = IO.npy_writer(tmp("w.npy"), "float32", 3)
  assert(tostring(w):find("float32, 0 rows of 3"))
  w:append(cj.array({ { 1, 2, 3 }, { 4, 5, 6 } }))
  w:append({ 7, 8, 9 })
  w:flush()
  local part = IO.load_npy(tmp("w.npy"))
  assert(part.shape[1] == 3 and part.dtype == "float32" and part[3][3] == 9)
  w:append(make("int32", 30, 10, 3))
  assert(w:rows() == 13)
  T.checkerror("bad argument #1 to 'append' (" .. tmp("w.npy") .. ": rows of shape 3 expected, got an array of shape 2x2)",
    function() return w:append(cj.zeros(2, 2)) end)
  assert(w:close() == 13)
  assert(w:close() == nil, "closing twice is harmless")
  T.checkerror("npy writer is closed", function() return w:append({ 1, 2, 3 }) end)
  local a = IO.load_npy(tmp("w.npy"))
  assert(a.shape[1] == 13 and a.shape[2] == 3)
  assert(a[4][1] == value("int32", 0) and a[13][3] == value("int32", 29))
  -- one value per row, and a <close> variable
  do
    local s <close> = IO.npy_writer(tmp("s.npy"), "int32")
    for k = 1, 100 do s:append(k) end
    s:append(cj.range(5))
  end
  local s = IO.load_npy(tmp("s.npy"))
  assert(s.ndim == 1 and #s == 105 and s[100] == 100 and s[105] == 5)
  -- a writer dropped without close is finished by the collector
  IO.npy_writer(tmp("g.npy"), nil, { 2, 2 }):append(cj.ones(3, 2, 2))
  collectgarbage()
  collectgarbage()
  local g = IO.load_npy(tmp("g.npy"))
  assert(g.ndim == 3 and g.shape[1] == 3 and g:sum() == 12)
  if not have_numpy then
    T.skippart("numpy reads the streamed file", PY .. " with numpy not found")
  else
    local ok, out = python(([==[
import numpy as np
a = np.load(%q)
assert a.dtype == np.float32 and a.shape == (13, 3), (a.dtype, a.shape)
assert a[1, 2] == 6 and a[12, 2] == 29*37 %% 101 - 50
print("numpy ok")
]==]):format(tmp("w.npy")))
    assert(ok and out:find("numpy ok"), out)
  end
  T.checkerror("bad argument #3 to 'npy_writer' (number of columns must be at least 1)",
    function() return IO.npy_writer(tmp("x.npy"), "float64", 0) end)
  T.checkerror("bad argument #2 to 'npy_writer'", function() return IO.npy_writer(tmp("x.npy"), "complex") end)
  T.checkerror("npy_writer: /nonexistent/w.npy: No such file or directory",
    function() return IO.npy_writer("/nonexistent/w.npy") end)
end)

T.test("save_csv / load_csv: named columns, text, NaN, order, 2-D arrays", function()
  local x = cj.array({ 0.1, 1 / 3, -2.5e-300, 0 / 0, 1e300 })
  IO.save_csv(tmp("a.csv"), { x = x, n = cj.array({ 1, 2, 3, 4, 5 }, "int32"),
    name = { "a", "b,c", "say \"hi\"", "two\nlines", " pad " } }, { "name", "x", "n" })
  local cols, header = IO.load_csv(tmp("a.csv"))
  assert(header[1] == "name" and header[2] == "x" and header[3] == "n" and #header == 3)
  assert(cols.x.dtype == "float64" and #cols.x == 5)
  for i = 1, 5 do
    if i == 4 then assert(cols.x[i] ~= cols.x[i]) else assert(cols.x[i] == x[i], i) end
  end
  assert(cols.n[5] == 5 and cols.name[2] == "b,c" and cols.name[3] == 'say "hi"')
  assert(cols.name[4] == "two\nlines" and cols.name[5] == " pad ")
  local text = io.open(tmp("a.csv")):read("a")
  -- the first line is the provenance comment (tests/lua/provenance.lua), then the header
  text = text:gsub("^# cajal%-provenance: [^\n]*\n", "")
  assert(text:find("^name,x,n\n") and text:find("\n\"b,c\",0.3333333333333333,2\n", 1, true), text)
  -- default order: sorted names; tables of numbers
  IO.save_csv(tmp("b.csv"), { b = { 1, 2 }, a = { 3, 4 } })
  cols, header = IO.load_csv(tmp("b.csv"))
  assert(header[1] == "a" and cols.a[2] == 4 and cols.b[1] == 1)
  -- a 2-D array with a header list, strided (transposed)
  local m = make("float64", 6, 2, 3)
  IO.save_csv(tmp("m.csv"), m:t(), { "p", "q" })
  cols = IO.load_csv(tmp("m.csv"))
  for i = 1, 3 do assert(cols.p[i] == m[1][i] and cols.q[i] == m[2][i]) end
  -- options
  IO.save_csv(tmp("c.csv"), { a = { 1, 2 } }, nil, { sep = ";" })
  cols = IO.load_csv(tmp("c.csv"), { sep = ";" })
  assert(cols.a[2] == 2)
  local f = io.open(tmp("h.csv"), "w")
  f:write("# comment\n1\t2\n3\t4\n")
  f:close()
  cols, header = IO.load_csv(tmp("h.csv"), { sep = "\t", header = false, comment = "#" })
  assert(header[2] == 2 and cols[2][2] == 4 and cols[1][1] == 1)
end)

T.test("CSV interop with Python's csv module, both ways", function()
  if not io.open(PY) then T.skip(PY .. " not found") end
  IO.save_csv(tmp("p.csv"), { v = cj.array({ 0.1, -1e-7, 1 / 3 }), s = { "x,y", "q\"q", "" } }, { "s", "v" })
  local ok, out = python(([==[
import csv
rows = list(csv.reader(line for line in open(%q, newline="") if not line.startswith("#")))
assert rows[0] == ["s", "v"], rows[0]
assert [r[0] for r in rows[1:]] == ["x,y", 'q"q', ""], rows
assert [float(r[1]) for r in rows[1:]] == [0.1, -1e-7, 1/3], rows
w = csv.writer(open(%q, "w", newline=""))   # CRLF line ends, minimal quoting
w.writerow(["id", "label", "w"])
for k in range(50):
    w.writerow([k, "n,%%d\n\"x\"" %% k, repr(k / 7)])
print("python ok")
]==]):format(tmp("p.csv"), tmp("py.csv")))
  assert(ok and out:find("python ok"), out)
  local cols = IO.load_csv(tmp("py.csv"))
  assert(#cols.id == 50 and cols.id[50] == 49)
  assert(cols.label[8] == 'n,7\n"x"')
  for k = 0, 49 do assert(cols.w[k + 1] == k / 7, k) end
end)

T.test("CSV errors name the file, line and column", function()
  local function put(name, s)
    local f = io.open(tmp(name), "wb")
    f:write(s)
    f:close()
    return tmp(name)
  end
  T.checkerror("load_csv: " .. put("e1.csv", "a,b\n1,2\n3,4,5\n") .. ":3:5: expected 2 fields, found 3",
    IO.load_csv, tmp("e1.csv"))
  T.checkerror(put("e2.csv", "a,b\n1,\"open\n") .. ":2:3: unterminated quoted field", IO.load_csv, tmp("e2.csv"))
  T.checkerror(put("e3.csv", "a,b\n1,x\n") .. ":2:3: column 'b': expected a number, got 'x'",
    IO.load_csv, tmp("e3.csv"), { numeric = true })
  T.checkerror(put("e4.csv", "") .. ": no header row (the file is empty)", IO.load_csv, tmp("e4.csv"))
  T.checkerror("load_csv: " .. tmp("none.csv") .. ": No such file or directory", IO.load_csv, tmp("none.csv"))
  T.checkerror("unknown option 'seperator'", function() return IO.load_csv(tmp("e1.csv"), { seperator = ";" }) end)
  T.checkerror("option 'sep' must be one character", function() return IO.load_csv(tmp("e1.csv"), { sep = ";;" }) end)
  T.checkerror("save_csv: column 'b' has 3 rows, column 'a' has 2",
    function() return IO.save_csv(tmp("x.csv"), { a = { 1, 2 }, b = { 1, 2, 3 } }) end)
  T.checkerror("bad argument #3 to 'save_csv' (no column 'c' in the columns table)",
    function() return IO.save_csv(tmp("x.csv"), { a = { 1 } }, { "a", "c" }) end)
  T.checkerror("bad argument #3 to 'save_csv' (header has 1 names for 2 columns)",
    function() return IO.save_csv(tmp("x.csv"), cj.zeros(3, 2), { "a" }) end)
  T.checkerror("save_csv: column 'a', row 2: expected a number or a string, got boolean",
    function() return IO.save_csv(tmp("x.csv"), { a = { 1, true } }) end)
  T.checkerror("save_csv: /nonexistent/x.csv: No such file or directory",
    function() return IO.save_csv("/nonexistent/x.csv", { a = { 1 } }) end)
end)

T.test("save_columns writes float64 rows (binary) or text", function()
  local x, y = cj.linspace(0, 1, 5), make("int32", 10)[{ { 1, -1, 2 } }]
  assert(IO.save_columns(tmp("c.bin"), { x, y }) == 5)
  local s = io.open(tmp("c.bin"), "rb"):read("a")
  assert(#s == 5 * 16)
  for i = 1, 5 do
    local a, b = string.unpack("dd", s, (i - 1) * 16 + 1)
    assert(a == x[i] and b == y[i])
  end
  IO.save_columns(tmp("c.txt"), { x, { 1, 0 / 0, 3, 4, 5 } }, "text")
  local lines = {}
  for l in io.lines(tmp("c.txt")) do lines[#lines + 1] = l end
  assert(#lines == 5 and lines[2] == "0.25 NaN" and lines[5] == "1 5", lines[2])
  IO.save_columns(tmp("m.bin"), make("float64", 6, 2, 3):t())   -- one array: flat, C order
  s = io.open(tmp("m.bin"), "rb"):read("a")
  assert(#s == 48 and string.unpack("d", s, 9) == value("float64", 3))
  local m = make("float64", 10, 5, 2)
  assert(IO.save_columns(tmp("m2.bin"), { x, m, y }) == 5)   -- 2-D: each of its columns
  s = io.open(tmp("m2.bin"), "rb"):read("a")
  assert(#s == 5 * 32)
  for i = 1, 5 do
    local a, b, c, d = string.unpack("dddd", s, (i - 1) * 32 + 1)
    assert(a == x[i] and b == m[i][1] and c == m[i][2] and d == y[i])
  end
  T.checkerror("entry 2 has 3 rows, entry 1 has 5", function() return IO.save_columns(tmp("x"), { x, { 1, 2, 3 } }) end)
  T.checkerror("entry 1 must be a 1-D or 2-D array", function() return IO.save_columns(tmp("x"), { cj.zeros(2, 2, 2) }) end)
  T.checkerror("bad argument #2 to 'save_columns' (no columns (a list of 1-D or 2-D arrays expected))",
               function() return IO.save_columns(tmp("x"), { a = x, b = y }) end)
end)

T.test("every cj.io function has help", function()
  local core = require "cajal.core"
  for _, k in ipairs({ "save_npy", "load_npy", "npy_writer", "save_csv", "load_csv", "save_columns" }) do
    assert((core.doc(IO[k]) or ""):find("^cj%.io%." .. k), k)
  end
  local w = IO.npy_writer(tmp("d.npy"))
  for _, k in ipairs({ "append", "flush", "rows", "close" }) do
    assert((core.doc(w[k]) or ""):find("^w:" .. k), k)
  end
  w:close()
end)

os.execute("rm -rf '" .. dir .. "'")
T.done()
