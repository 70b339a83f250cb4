-- plot.lua — cj.plot through gnuplot: files are written (PNG magic, SVG
-- structure), what is drawn matches the data (SVG coordinates are an affine
-- image of the values; histogram boxes have the counted heights; an image
-- has row 1 at the top), and every failure is a clear error.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local P = cj.plot

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local function tmp(name) return dir .. "/" .. name end
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function which(name)
  for d in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local f = io.open(d .. "/" .. name)
    if f then f:close() return d .. "/" .. name end
  end
end
local have_gnuplot = which("gnuplot") ~= nil or (os.getenv("CAJAL_GNUPLOT") or "") ~= ""
local CAJAL = os.getenv("CAJAL") or arg[-1] or "cajal"

-- The body of SVG plot group k (gnuplot names them gnuplot_plot_<k>).
local function group(svg, k)
  local s = svg:find('<g id="gnuplot_plot_' .. k .. '"', 1, true)
  assert(s, "no plot group " .. k)
  local e = svg:find('<g id="gnuplot_plot_' .. (k + 1) .. '"', s, true) or #svg
  return svg:sub(s, e)
end
local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end
-- Points of the data path in a group: the last M... sequence.
local function pathpoints(g)
  local d = g:match("<path[^>]- d='([^']*)'")
  local last = d:match(".*(M[^M]*)$")
  local pts = {}
  for x, y in last:gmatch("([%d.]+),([%d.]+)") do pts[#pts + 1] = { tonumber(x), tonumber(y) } end
  return pts
end
local function uses(g)
  local pts = {}
  for x, y in g:gmatch("<use xlink:href='#gpPt%d+' transform='translate%(([%d.]+),([%d.]+)%)") do
    pts[#pts + 1] = { tonumber(x), tonumber(y) }
  end
  return pts
end
-- pixel coordinates must be an affine image of the values (one axis)
local function affine(pix, vals, what)
  local n = #vals
  local p0, p1, v0, v1 = pix[1], pix[n], vals[1], vals[n]
  for i = 1, n do
    local want = p0 + (p1 - p0) * (vals[i] - v0) / (v1 - v0)
    assert(math.abs(pix[i] - want) < 0.02, ("%s: point %d at %g, expected %g"):format(what, i, pix[i], want))
  end
end

local function ispng(path)
  local s = read(path)
  return #s > 100 and s:sub(1, 8) == "\137PNG\r\n\26\n"
end

T.test("lines: PNG and SVG, one line per column, coordinates follow the data", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  local x = cj.linspace(0, 2, 5)
  assert(P.lines(x, x * x, { out = tmp("l.png"), title = "squares", xlabel = "t_1", ylabel = "y" }) == tmp("l.png"))
  assert(ispng(tmp("l.png")))
  P.lines(x, x * x, tmp("l.svg"))
  local svg = read(tmp("l.svg"))
  local pts = pathpoints(group(svg, 1))
  assert(#pts == 5, #pts .. " points")
  local xs, ys, vx, vy = {}, {}, {}, {}
  for i = 1, 5 do xs[i], ys[i], vx[i], vy[i] = pts[i][1], pts[i][2], x[i], x[i] * x[i] end
  affine(xs, vx, "x")
  affine(ys, vy, "y")
  -- a 2-D y: three series, labelled
  local y = cj.array({ { 1, 2, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 4, 4, 4 }, { 5, 0, 5 } })
  P.lines(x, y, { out = tmp("l3.svg"), labels = { "a", "b", "c" } })
  svg = read(tmp("l3.svg"))
  for k = 1, 3 do
    pts = pathpoints(group(svg, k))
    assert(#pts == 5)
    local py, v = {}, {}
    for i = 1, 5 do py[i], v[i] = pts[i][2], y[i][k] end
    if v[1] ~= v[5] then affine(py, v, "column " .. k) end
  end
  assert(svg:find(">b<", 1, true), "labels are drawn")
  assert(not svg:find('gnuplot_plot_4"', 1, true))
  -- lines(y): x is 1..n; a table of numbers is accepted
  P.lines({ 3, 1, 2 }, { out = tmp("ly.svg") })
  assert(#pathpoints(group(read(tmp("ly.svg")), 1)) == 3)
end)

T.test("scatter: one marker per point", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  P.scatter({ 1, 2, 3, 4 }, { 4, 1, 3, 2 }, { out = tmp("s.svg"), pointsize = 1 })
  local pts = uses(group(read(tmp("s.svg")), 1))
  assert(#pts == 4, #pts)
  local ys = {}
  for i = 1, 4 do ys[i] = pts[i][2] end
  affine({ ys[2], ys[4], ys[3], ys[1] }, { 1, 2, 3, 4 }, "y")
  P.scatter(cj.range(100), cj.range(100) * 2, tmp("s.png"))
  assert(ispng(tmp("s.png")))
end)

T.test("raster: arrays, a monitor, populations stacked with their own colors", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  P.raster(cj.array({ 0.1, 0.2, 0.3 }), cj.array({ 1, 2, 3 }), tmp("r.svg"))
  assert(#uses(group(read(tmp("r.svg")), 1)) == 3)
  local function monitor(t, i)
    return { times = function() return cj.array(t) end, indices = function() return cj.array(i) end }
  end
  P.raster({ E = monitor({ 0.01, 0.02, 0.03 }, { 1, 5, 3 }), I = { cj.array({ 0.5 }), cj.array({ 1 }) } },
    { out = tmp("rp.svg"), order = { "I", "E" }, colors = { E = "#ff0000" }, tunit = "ms" })
  local svg = read(tmp("rp.svg"))
  local gi, ge = group(svg, 1), group(svg, 2)
  assert(#uses(gi) == 2 and #uses(ge) == 4, "the points and a key sample per population")
  assert(ge:find("rgb(255,   0,   0)", 1, true), "E drawn in its color")
  -- I (its top index 1 -> one row) lies below E (offset by 1)
  assert(uses(gi)[1][2] > uses(ge)[2][2])
  -- stacking: E takes its monitor's size (10 rows: indices 1..10 are rows 1..10), then I's
  -- neuron 1 is row 11
  local me = monitor({ 0.01, 0.02, 0.03 }, { 1, 5, 3 })
  me.size = function() return 10 end
  P.raster({ E = me, I = monitor({ 0.5 }, { 1 }) }, { out = tmp("rz.svg"), sizes = { I = 5 } })
  svg = read(tmp("rz.svg"))
  local pe, pi = uses(group(svg, 1)), uses(group(svg, 2))
  affine({ pe[1][2], pe[3][2], pe[2][2], pi[1][2] }, { 1, 3, 5, 11 }, "stacked rows")
  -- the rows of a monitor of 3 neurons are 1..3, inside the axis [0.5, 3.5]: the first and
  -- the last neuron are drawn half a row from the edges
  local m3 = monitor({ 0.1, 0.2 }, { 1, 3 })
  m3.size = function() return 3 end
  P.raster(m3, { out = tmp("r3.svg") })
  local gp = read(tmp("r3.svg"))
  assert(#uses(group(gp, 1)) == 2, "both neurons drawn (neuron 3 is inside the axis)")
  P.raster(monitor({ 0.1 }, { 3 }), tmp("rm.png"))
  assert(ispng(tmp("rm.png")))
  P.raster(cj.zeros(0), cj.zeros(0), tmp("empty.png"))   -- no spikes: empty axes
  assert(ispng(tmp("empty.png")))
  -- many spikes go through C, not Lua
  local n = 50000
  P.raster(cj.range(n) * 1e-5, cj.range(n) % 1000, tmp("big.png"))
  assert(ispng(tmp("big.png")))
end)

T.test("hist: box heights are the counts", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  P.hist(cj.array({ 1, 2, 2, 3, 3, 3, 4 }), 3, tmp("h.svg"))   -- bins [1,2) [2,3) [3,4]: 1, 2, 4
  local g = group(read(tmp("h.svg")), 1)
  local heights = {}
  for y0, y1 in g:gmatch("<path stroke='rgb%([^']*%)'%s+d='M[%d.]+,([%d.]+) L[%d.]+,([%d.]+)") do
    heights[#heights + 1] = tonumber(y0) - tonumber(y1)
  end
  assert(#heights == 3, #heights .. " boxes")
  T.near(heights[2] / heights[1], 2, 0.01, "second bin")
  T.near(heights[3] / heights[1], 4, 0.01, "last bin holds the maximum")
  P.hist(cj.range(1000) % 7, tmp("h.png"))
  assert(ispng(tmp("h.png")))
end)

T.test("image and images: files, colorbar, grid, row 1 at the top", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  P.image(cj.array({ { 1, 2, 3 }, { 4, 5, 6 } }) - 3, { out = tmp("i.png"), palette = "diverging" })
  assert(ispng(tmp("i.png")))
  P.image(cj.array({ { 0, 0.5 }, { 1, 1 } }), { out = tmp("o.svg"), palette = "gray" })
  local svg = read(tmp("o.svg"))
  assert(count(svg, "<image") == 1)
  local f = io.open("/usr/bin/python3")
  if f then
    f:close()
    -- decode the embedded PNG: top-left black, top-right gray, bottom row white
    local p = io.popen("/usr/bin/python3 -c " .. shq([==[
import re, base64, zlib, struct, sys
s = open(sys.argv[1]).read()
b = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", s).group(1))
i, data = 8, b""
while i < len(b):
    n, = struct.unpack(">I", b[i:i+4]); t = b[i+4:i+8]; c = b[i+8:i+8+n]; i += 12 + n
    if t == b"IHDR": w, h, bd, ct = struct.unpack(">IIBB", c[:10])
    if t == b"IDAT": data += c
bpp = {2: 3, 6: 4}[ct]
raw, rows, prev = zlib.decompress(data), [], bytes(w * bpp)
for r in range(h):
    ft, line = raw[r*(w*bpp+1)], bytearray(raw[r*(w*bpp+1)+1:(r+1)*(w*bpp+1)])
    for k in range(len(line)):
        a = line[k-bpp] if k >= bpp else 0
        up = prev[k]
        ul = prev[k-bpp] if k >= bpp else 0
        if ft == 1: line[k] = (line[k] + a) & 255
        elif ft == 2: line[k] = (line[k] + up) & 255
        elif ft == 3: line[k] = (line[k] + (a + up) // 2) & 255
        elif ft == 4:
            pa, pb, pc = abs(up - ul), abs(a - ul), abs(a + up - 2*ul)
            pr = a if pa <= pb and pa <= pc else (up if pb <= pc else ul)
            line[k] = (line[k] + pr) & 255
    rows.append(line); prev = line
print(w, h, rows[0][0], rows[0][(w-1)*bpp], rows[h-1][0], rows[h-1][(w-1)*bpp])
]==]) .. " " .. shq(tmp("o.svg")))
    local out = p:read("a")
    p:close()
    local w, h, tl, tr, bl, br = out:match("(%d+) (%d+) (%d+) (%d+) (%d+) (%d+)")
    assert(w == h and tonumber(w) % 2 == 0, out)
    assert(tonumber(tl) == 0 and tonumber(tr) > 60 and tonumber(tr) < 200, "top row is matrix row 1: " .. out)
    assert(tonumber(bl) == 255 and tonumber(br) == 255, out)
  end
  P.images({ cj.ones(2, 2), cj.zeros(3, 3), cj.array({ { 1, 2 } }) }, { out = tmp("g.svg"), titles = { "a", "b", "c" } })
  assert(count(read(tmp("g.svg")), "<image") == 3)
  local rf = cj.range(5 * 4 * 3):reshape(5, 4, 3)
  P.images(rf, { out = tmp("g.png"), cols = 5, title = "receptive fields" })
  assert(ispng(tmp("g.png")))
  P.images(rf, { out = tmp("g5.svg"), cols = 2, shared = false, colorbar = true })
  assert(count(read(tmp("g5.svg")), "<image") == 5)
end)

T.test("pdf output where pdfcairo exists", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  local ok, err = pcall(P.lines, { 1, 2 }, { 2, 1 }, tmp("p.pdf"))
  if ok then assert(read(tmp("p.pdf")):sub(1, 5) == "%PDF-")
  else assert(tostring(err):find("cannot tell the output format", 1, true), err) end
end)

-- The texts of an SVG (tick labels, axis labels), in order.
local function texts(svg)
  local t = {}
  for x in svg:gmatch("<text[^>]*>([^<]*)</text>") do t[#t + 1] = (x:gsub("^%s+", "")) end
  return t
end
local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

T.test("units: quantities are drawn in a readable unit, named on the axis", function()
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  -- 1..10 mV: ticks 1..10, label mV (not 0.001 .. 0.01 of volts)
  P.lines(cj.range(10) * cj.mV, tmp("u1.svg"))
  local t = texts(read(tmp("u1.svg")))
  assert(has(t, "mV") and has(t, "10") and not has(t, "0.01"), table.concat(t, "|"))
  local pts = pathpoints(group(read(tmp("u1.svg")), 1))
  local ys, v = {}, {}
  for i = 1, 10 do ys[i], v[i] = pts[i][2], i end
  affine(ys, v, "y")
  -- both axes, labels given: the unit is added unless the label names it
  P.lines(cj.range(10) * cj.ms, cj.range(10) * cj.mV, { out = tmp("u2.svg"), ylabel = "v", xlabel = "time [ms]" })
  t = texts(read(tmp("u2.svg")))
  assert(has(t, "v (mV)") and has(t, "time [ms]"), table.concat(t, "|"))
  -- a unit chosen: ticks in it
  P.scatter(cj.range(10) * cj.ms, cj.range(10) * cj.mV, { out = tmp("u3.svg"), yunit = "uV", xunit = "s" })
  t = texts(read(tmp("u3.svg")))
  assert(has(t, "uV") and has(t, "s") and has(t, "10000") and has(t, "0.01"), table.concat(t, "|"))
  -- a label that names a unit of the data's dimension chooses it
  P.lines(cj.range(10) * cj.mV, { out = tmp("u2.svg"), ylabel = "v (uV)" })
  t = texts(read(tmp("u2.svg")))
  assert(has(t, "v (uV)") and has(t, "10000") and not has(t, "v (uV) (mV)"), table.concat(t, "|"))
  -- ranges as quantities, in any unit of the axis
  P.lines(cj.range(10) * cj.mV, { out = tmp("u2.svg"), yrange = { 0, 0.02 * cj.volt } })
  t = texts(read(tmp("u2.svg")))
  assert(has(t, "20") and has(t, "15") and not has(t, "0.02"), table.concat(t, "|"))
  -- raster: seconds (as numeric xrange values are), or tunit; times may be quantities
  P.raster(cj.array({ 0.01, 0.02, 0.19 }) * cj.second, cj.array({ 0, 1, 2 }), tmp("u4.svg"))
  t = texts(read(tmp("u4.svg")))
  assert(has(t, "time (s)") and has(t, "0.2"), table.concat(t, "|"))
  P.raster(cj.array({ 0.01, 0.02, 0.19 }) * cj.second, cj.array({ 0, 1, 2 }),
    { out = tmp("u4.svg"), tunit = "ms", xrange = { 0, 0.1 * cj.second } })
  t = texts(read(tmp("u4.svg")))
  assert(has(t, "time (ms)") and has(t, "100") and not has(t, "200"), table.concat(t, "|"))
  P.raster(cj.array({ 0.5, 1.5 }), cj.array({ 0, 1 }), { out = tmp("u5.svg"), tunit = "ms" })
  t = texts(read(tmp("u5.svg")))
  assert(has(t, "time (ms)") and has(t, "1600"), table.concat(t, "|"))
  -- histogram and image
  P.hist(cj.array({ 1, 2, 2, 3 }) * cj.mV, 3, tmp("u6.svg"))
  assert(has(texts(read(tmp("u6.svg"))), "mV"))
  P.image(cj.ones(3, 3) * cj.nS, tmp("u7.svg"))
  assert(has(texts(read(tmp("u7.svg"))), "nS"))
  P.images({ cj.ones(2, 2) * cj.nS, cj.ones(2, 2) * 2e3 * cj.nS }, { out = tmp("u8.svg"), colorbar = true })
  t = texts(read(tmp("u8.svg")))
  assert(has(t, "uS") and has(t, "2"), table.concat(t, "|"))
  -- errors
  T.checkerror("cj.plot.lines: option 'yunit': the data are in V, not s", P.lines, cj.range(3) * cj.mV,
    { out = tmp("x.svg"), yunit = "ms" })
  T.checkerror("cj.plot.lines: option 'xunit': the data are in plain numbers, not s", P.lines, cj.range(3),
    cj.range(3), { out = tmp("x.svg"), xunit = "ms" })
  T.checkerror("option 'yunit': unknown unit 'furlong'", P.lines, cj.range(3) * cj.mV,
    { out = tmp("x.svg"), yunit = "furlong" })
  T.checkerror("cj.plot.lines: option 'yrange': the axis is in mV, the range in s", P.lines,
    cj.range(3) * cj.mV, { out = tmp("x.svg"), yrange = { 0, cj.ms } })
  T.checkerror("cj.plot.lines: option 'xrange': the axis is in plain numbers, the range in s", P.lines,
    cj.range(3) * cj.mV, { out = tmp("x.svg"), xrange = { 0, cj.ms } })
  T.checkerror("cj.plot.images: image 2 is in s, image 1 in S", P.images,
    { cj.ones(2, 2) * cj.nS, cj.ones(2, 2) * cj.ms }, tmp("x.svg"))
end)

T.test("errors: gnuplot missing, no display, bad options and data, gnuplot's own errors", function()
  local function run(env, code)
    local p = io.popen(env .. " " .. shq(CAJAL) .. " -e " .. shq(code) .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    return ok, out
  end
  local ok, out = run("CAJAL_GNUPLOT=/nonexistent", "require('cajal').plot.lines({1,2},{1,2},'" .. tmp("n.png") .. "')")
  assert(not ok and out:find("cj.plot.lines: gnuplot not found at /nonexistent ($CAJAL_GNUPLOT); " ..
    "install the Debian package gnuplot-nox (or gnuplot)", 1, true), out)
  ok, out = run("PATH=/nonexistent-dir CAJAL_GNUPLOT=", "require('cajal').plot.hist({1,2})")
  assert(not ok and out:find("gnuplot not found on PATH; install the Debian package gnuplot-nox", 1, true), out)
  if not have_gnuplot then T.skip("gnuplot not found (install gnuplot-nox)") end
  ok, out = run("env -u DISPLAY -u WAYLAND_DISPLAY", "require('cajal').plot.lines({1,2},{1,2})")
  assert(not ok and out:find('cj.plot.lines: no display to draw on: give out = "file.png"', 1, true), out)
  T.checkerror("cj.plot.lines: cannot tell the output format of 'x.jpg'", function() return P.lines({ 1 }, { 1 }, "x.jpg") end)
  T.checkerror("cj.plot.lines: unknown option 'colour'", function() return P.lines({ 1 }, { 1 }, { colour = 1 }) end)
  T.checkerror("cj.plot.lines: x has 3 values but y has 2 rows", function() return P.lines({ 1, 2, 3 }, { 1, 2 }, tmp("e.png")) end)
  T.checkerror("cj.plot.lines: y must be an array or a table of numbers (got boolean)",
    function() return P.lines({ 1 }, true) end)
  T.checkerror("cj.plot.scatter: option 'size' must be {width, height}",
    function() return P.scatter({ 1 }, { 1 }, { out = tmp("e.png"), size = 3 }) end)
  local e = T.checkerror("cj.plot.lines: gnuplot failed (exit 1): ", function()
    return P.lines({ 1, 2 }, { 1, 2 }, { out = tmp("e.png"), commands = { "set nonsense" } })
  end)
  assert(e:find("unrecognized option", 1, true), e)
  assert(e:find("plot.lua:%d+:%s*%(?[%w%s]*%)?%s*in") == nil)
  T.checkerror("cj.plot.hist: bins must be a positive integer", function() return P.hist({ 1, 2 }, 0) end)
  T.checkerror("cj.plot.hist: no values to count", function() return P.hist(cj.zeros(0), tmp("e.png")) end)
  T.checkerror("cj.plot.image: matrix must be 2-D (got 1 dimensions)", function() return P.image({ 1, 2 }, tmp("e.png")) end)
  T.checkerror("cj.plot.image: option 'palette' must be", function() return P.image({ { 1 } }, { out = tmp("e.png"), palette = "jet" }) end)
  T.checkerror("cj.plot.images: no images", function() return P.images({}, tmp("e.png")) end)
  T.checkerror("cj.plot.raster: population E: a spike monitor (with :times() and :indices()) or {times, indices} expected",
    function() return P.raster({ E = 5 }, tmp("e.png")) end)
  T.checkerror("cj.plot.raster: a spike monitor, a table of monitors, or times and indices expected (got string)",
    function() return P.raster("spikes") end)
  T.checkerror("cj.plot.raster: spikes: times and indices must be 1-D and equally long (2 vs 1)",
    function() return P.raster({ 1, 2 }, { 1 }, tmp("e.png")) end)
  T.checkerror("cj.plot.raster: option 'order' names an unknown population 'X'",
    function() return P.raster({ E = { { 1 }, { 0 } } }, { out = tmp("e.png"), order = { "X" } }) end)
  T.checkerror("cj.plot.lines: no points to draw (y is empty)", function() return P.lines(cj.zeros(0), tmp("e.png")) end)
  -- a failing `set output` does not send the picture to cajal's stdout
  ok, out = run("", "require('cajal').plot.lines({1,2},{1,2},'/nonexistent-dir/x.png')")
  assert(not ok and out:find("cannot open file", 1, true) and not out:find("PNG", 1, true), out)
  -- a newline in a title stays in the title: the rest is not run as gnuplot commands
  local victim = tmp("injected.png")
  local title = 'two\nlines "quoted" \\ back\nset output "' .. victim .. '"'
  assert(P.lines({ 1, 2 }, { 1, 2 }, { out = tmp("t.png"), title = title }) == tmp("t.png"))
  local f = io.open(victim, "rb")
  if f then f:close() end
  assert(not f, "text after a newline in the title ran as a gnuplot command")
  -- the error points at the caller, not inside plot.lua
  local _, msg = pcall(function() P.lines({ 1 }, { 1 }, "x.jpg") end)
  assert(msg:find("^[^:]*plot%.lua:%d+: cj%.plot") and not msg:find("cajal/plot%.lua"), msg)
end)

T.test("every cj.plot function has help", function()
  local core = require "cajal.core"
  for _, k in ipairs({ "lines", "scatter", "raster", "hist", "image", "images" }) do
    assert((core.doc(P[k]) or ""):find("^cj%.plot%." .. k), k)
  end
end)

os.execute("rm -rf " .. shq(dir))
T.done()
