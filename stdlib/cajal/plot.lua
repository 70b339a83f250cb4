-- cajal.plot — figures through gnuplot, as cj.plot.
--
--   cj.plot.lines(x, y [, opts])          cj.plot.scatter(x, y [, opts])
--   cj.plot.raster(monitor | times, indices | {E = m1, I = m2} [, opts])
--   cj.plot.hist(values [, bins] [, opts])
--   cj.plot.image(matrix [, opts])        cj.plot.images(list | 3-D array [, opts])
--
-- Each call writes its data with cj.io.save_columns (binary float64, written
-- in C, so a million points cost nothing in Lua), sends a script to gnuplot
-- through a pipe, and removes the data files when gnuplot is done. The
-- output follows opts.out: "x.png" (pngcairo, else png), "x.svg", "x.pdf"
-- (pdfcairo); with no out, inline in a Jupyter notebook (cajal --jupyter),
-- else a window when there is a display and gnuplot has a window terminal
-- (qt, wxt, x11), else an error asking for out. Where
-- opts is expected a string is taken as opts.out. gnuplot's own errors are
-- raised; its warnings go to stderr. $CAJAL_GNUPLOT names the gnuplot to
-- run (default: gnuplot on PATH).
--
-- Common options: out, title, xlabel, ylabel, size ({w, h} pixels; default
-- {800, 600}), xrange / yrange ({lo, hi}), logx, logy, grid, labels (one per
-- line or column), commands (a list of extra gnuplot commands, run before
-- the plot command), net / provenance (the network part of the provenance
-- record written into a PNG or SVG file, or beside a PDF: cajal.provenance).
--
-- Units: data with a unit (arrays of quantities, monitor times) are drawn in
-- a unit with a readable prefix, the one they print in (mV for values of a
-- few millivolts), or in opts.xunit / opts.yunit; the axis label says it
-- ("mV", or "v (mV)" when the label given is "v"; a label ending in a unit
-- of the data's dimension, "v (uV)", chooses it). xrange / yrange are in that
-- unit, or quantities. Raster times are drawn in seconds unless opts.tunit.
local core = require "cajal.core"
local files = require "cajal.files"
local IO = core.io

local M = {}

local ARRAY = getmetatable(core.zeros(1))
local function isarray(v) return getmetatable(v) == ARRAY end

-- ---- gnuplot ------------------------------------------------------------------

local gp = {}   -- cache: path, terminals

-- Data files written for the plot being made; removed when it is drawn or
-- when anything fails.
local pending = {}
local function cleanup()
  for _, f in ipairs(pending) do os.remove(f) end
  pending = {}
end

-- Raise "cj.plot.<fn>: msg", positioned at the first Lua caller outside
-- this file (the public functions run under a pcall, see guard below).
local SRC = debug.getinfo(1, "S").source
local function fail(fn, msg)
  local where = ""
  for level = 2, 100 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= SRC and info.what ~= "C" then
      if info.currentline and info.currentline > 0 then
        where = info.short_src .. ":" .. info.currentline .. ": "
      end
      break
    end
  end
  error(where .. "cj.plot." .. fn .. ": " .. msg, 0)
end

-- f, removing its data files whatever error it raises.
local function guard(f)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if not r[1] then
      cleanup()
      error(r[2], 0)
    end
    return table.unpack(r, 2, r.n)
  end
end

local exists = files.isfile

local function shellquote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
-- A gnuplot double-quoted string. Backslash escapes keep every character
-- inside it: a raw newline would end the command and run the rest of a
-- title or file name as gnuplot commands.
local function gpquote(s)
  s = tostring(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n")
  s = s:gsub("%c", function(c) return ("\\%03o"):format(c:byte()) end)
  return '"' .. s .. '"'
end

local function findgnuplot(fn)
  local env = os.getenv("CAJAL_GNUPLOT")
  if env and env ~= "" then
    if env:find("/") and not exists(env) then
      fail(fn, "gnuplot not found at " .. env .. " ($CAJAL_GNUPLOT); install the Debian " ..
        "package gnuplot-nox (or gnuplot), or point CAJAL_GNUPLOT at it")
    end
    if env:find("/") then return env end
  end
  local name = env and env ~= "" and env or "gnuplot"
  for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
    if exists(dir .. "/" .. name) then return dir .. "/" .. name end
  end
  fail(fn, "gnuplot not found on PATH; install the Debian package gnuplot-nox " ..
    "(or gnuplot for windows on screen)")
end

local function tmpname()
  local n = os.tmpname()
  return n
end

local function readall(path) return files.readfile(path) or "" end
-- Run script through gnuplot: true, or nil and gnuplot's message.
local function rungnuplot(fn, path, script, persist)
  local err = tmpname()
  -- stdout to /dev/null: when `set output` fails gnuplot draws to stdout
  local p = io.popen(shellquote(path) .. (persist and " -persist" or "") .. " >/dev/null 2>" ..
                     shellquote(err), "w")
  if not p then
    os.remove(err)
    return nil, "cannot start " .. path
  end
  p:write(script)
  local ok, how, code = p:close()
  local msg = readall(err)
  os.remove(err)
  if not ok then
    msg = msg:gsub("^%s+", ""):gsub("%s+$", "")
    if how == "exit" and code == 127 then
      return nil, "cannot run " .. path .. "; install the Debian package gnuplot-nox (or gnuplot)"
    end
    return nil, "gnuplot failed (" .. how .. " " .. tostring(code) .. "): " .. msg
  end
  if msg:find("%S") then
    io.stderr:write("cj.plot." .. fn .. ": gnuplot: ", msg, msg:sub(-1) == "\n" and "" or "\n")
  end
  return true
end

local function terminals(fn, path)
  if gp.path == path and gp.terminals then return gp.terminals end
  local out = tmpname()
  local cmd = shellquote(path) .. " -e " .. shellquote("print GPVAL_TERMINALS") .. " >" .. shellquote(out) .. " 2>&1"
  local ok = os.execute(cmd)
  local text = readall(out)
  os.remove(out)
  if not ok then fail(fn, "cannot run " .. path .. ": " .. text) end
  local set = {}
  for t in text:gmatch("%S+") do set[t] = true end
  gp.path, gp.terminals = path, set
  return set
end

-- The "set terminal" line for opts.out (or a window).
local function terminal(fn, path, opts)
  local terms = terminals(fn, path)
  local w, h = 800, 600
  if opts.size ~= nil then
    local s = opts.size
    if type(s) ~= "table" or type(s[1]) ~= "number" or type(s[2]) ~= "number" or s[1] <= 0 or s[2] <= 0 then
      fail(fn, "option 'size' must be {width, height} in pixels")
    end
    w, h = math.floor(s[1]), math.floor(s[2])
  end
  local out = opts.out
  if out == nil then
    local display = os.getenv("DISPLAY") or os.getenv("WAYLAND_DISPLAY")
    if not display or display == "" then
      fail(fn, "no display to draw on: give out = \"file.png\" (or .svg, .pdf)")
    end
    for _, t in ipairs({ "qt", "wxt", "x11" }) do
      if terms[t] then return ("set terminal %s size %d,%d noenhanced persist"):format(t, w, h), nil, true end
    end
    fail(fn, "this gnuplot has no window terminal (qt, wxt, x11): give out = \"file.png\", " ..
      "or install the Debian package gnuplot-qt (or gnuplot-x11)")
  end
  if type(out) ~= "string" then fail(fn, "option 'out' must be a file name") end
  local ext = (out:match("%.([%a%d]+)$") or ""):lower()
  local line
  if ext == "png" then
    line = ("set terminal %s size %d,%d noenhanced"):format(terms.pngcairo and "pngcairo" or "png", w, h)
  elseif ext == "svg" then
    line = ("set terminal svg size %d,%d noenhanced"):format(w, h)
  elseif ext == "pdf" and terms.pdfcairo then
    line = ("set terminal pdfcairo size %gin,%gin noenhanced"):format(w / 100, h / 100)
  else
    fail(fn, "cannot tell the output format of '" .. out .. "' (use .png, .svg" ..
      (terms.pdfcairo and " or .pdf)" or ")"))
  end
  return line .. "\nset output " .. gpquote(out), out, false
end

-- ---- options and data ------------------------------------------------------------

local common = { out = 1, title = 1, xlabel = 1, ylabel = 1, size = 1, xrange = 1, yrange = 1,
  logx = 1, logy = 1, grid = 1, labels = 1, commands = 1, xunit = 1, yunit = 1,
  net = 1, provenance = 1 }

-- ---- units ---------------------------------------------------------------------------

-- a (an array, maybe with a unit) as plain numbers in a readable unit, and
-- the unit's name (nil for plain numbers). `want` (a unit name, opts.xunit)
-- chooses the unit; its dimension must be a's. `big` (a quantity) replaces
-- max |a| in choosing the unit (several arrays drawn in one unit).
local function inunit(fn, a, want, optname, big)
  local dim = a.dim
  if want ~= nil then
    if type(want) ~= "string" then fail(fn, "option '" .. optname .. "' must be a unit name such as \"ms\"") end
    local ok, u = pcall(core.unit, want)
    if not ok then
      fail(fn, ("option '%s': %s"):format(optname, tostring(u):match("%((.*)%)$") or tostring(u)))
    end
    local ud = core.isquantity(u) and core.dimension(u) or "1"
    if ud ~= (dim or "1") then
      fail(fn, ("option '%s': the data are in %s, not %s"):format(optname,
        (dim == nil or dim == "1") and "plain numbers" or dim, ud == "1" and "plain numbers" or ud))
    end
    return a / u, want
  end
  if dim == nil or dim == "1" then return a, nil end
  -- the unit the largest magnitude prints in ("9 mV" -> mV)
  big = big or (a:numel() > 0 and core.abs(a):max() or nil)
  local name = big and tostring(big):match("^%S+ (.+)$")
  local ok, u = pcall(core.unit, name or dim)
  if not ok or not core.isquantity(u) or core.dimension(u) ~= dim then
    name, u = dim, core.unit(dim)
  end
  return a / u, name
end

-- The unit a label names at its end, "rate (Hz)" or "v [mV]", when it is a
-- unit of a's dimension (the data are then drawn in it), else nil.
local function labelunit(label, a)
  if type(label) ~= "string" or not isarray(a) or (a.dim or "1") == "1" then return nil end
  local u = label:match("%(([^()]+)%)%s*$") or label:match("%[([^%[%]]+)%]%s*$")
  local ok, q = pcall(core.unit, u or "")
  if u and ok and core.isquantity(q) and core.dimension(q) == a.dim then return u end
  return nil
end

-- The label of an axis: the user's text with the unit in parentheses (kept
-- as is when it names the unit already), the unit alone, or nil.
local function axislabel(user, unit)
  if unit == nil then return user end
  if user == nil then return unit end
  user = tostring(user)
  if user:find("(" .. unit .. ")", 1, true) or user:find("[" .. unit .. "]", 1, true) then return user end
  return user .. " (" .. unit .. ")"
end

local function checkopts(fn, opts, extra)
  if opts == nil then return {} end
  if type(opts) == "string" then return { out = opts } end
  if type(opts) ~= "table" then fail(fn, "options must be a table (or an output file name)") end
  for k in pairs(opts) do
    if not common[k] and not (extra and extra[k]) then
      fail(fn, "unknown option '" .. tostring(k) .. "'")
    end
  end
  return opts
end

-- v as an array: arrays pass, tables of numbers are converted.
local function toarray(fn, v, what)
  if isarray(v) then return v end
  if type(v) == "table" then
    local ok, a = pcall(core.array, v)
    if ok then return a end
    fail(fn, what .. ": " .. tostring(a):gsub("^.-: ", ""))
  end
  fail(fn, what .. " must be an array or a table of numbers (got " .. type(v) .. ")")
end

-- The "set xrange" line of opts[name]: {lo, hi} as numbers in the axis unit,
-- or quantities (converted to unit, the axis unit; nil for plain numbers).
local function range(fn, r, name, unit)
  if r == nil then return nil end
  local function bound(x)
    if x == nil or type(x) == "number" then return x end
    if not core.isquantity(x) then return false end
    local d = core.dimension(x)
    local ok, u = pcall(core.unit, unit or "1")
    if not unit or not ok or not core.isquantity(u) or core.dimension(u) ~= d then
      fail(fn, ("option '%s': the axis is in %s, the range in %s"):format(name, unit or "plain numbers", d))
    end
    return x / u
  end
  local lo, hi = type(r) == "table" and bound(r[1]), type(r) == "table" and bound(r[2])
  if type(r) ~= "table" or lo == false or hi == false then
    fail(fn, "option '" .. name .. "' must be {lo, hi}")
  end
  return ("set %s [%s:%s]"):format(name, lo and ("%.17g"):format(lo) or "*", hi and ("%.17g"):format(hi) or "*")
end

-- The lines of a script shared by every plot: title, labels, ranges, ...
local function preamble(fn, opts, lines)
  local function text(k)
    if opts[k] ~= nil then
      if type(opts[k]) ~= "string" and type(opts[k]) ~= "number" then
        fail(fn, "option '" .. k .. "' must be a string")
      end
      lines[#lines + 1] = ("set %s %s"):format(k, gpquote(opts[k]))
    end
  end
  text("title")
  text("xlabel")
  text("ylabel")
  lines[#lines + 1] = range(fn, opts.xrange, "xrange", opts.xunit)
  lines[#lines + 1] = range(fn, opts.yrange, "yrange", opts.yunit)
  if opts.logx then lines[#lines + 1] = "set logscale x" end
  if opts.logy then lines[#lines + 1] = "set logscale y" end
  if opts.grid then lines[#lines + 1] = "set grid" end
  if opts.commands ~= nil then
    if type(opts.commands) ~= "table" then fail(fn, "option 'commands' must be a list of strings") end
    for _, c in ipairs(opts.commands) do lines[#lines + 1] = tostring(c) end
  end
end

-- host.display when cajal runs as a Jupyter kernel (vm/host/kernel.c).
local function notebook()
  local ok, host = pcall(require, "cajal.host")
  return ok and type(host) == "table" and host.kernel and host.display or nil
end

-- Run the script on the data files written so far, then remove them. In a
-- Jupyter kernel, a plot without out is drawn to a temporary PNG that is
-- sent to the notebook (and returns nothing).
local function draw(fn, opts, body)
  local display = opts.out == nil and notebook()
  if display then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    local base = tmpname()
    pending[#pending + 1] = base
    o.out = base .. ".png"
    pending[#pending + 1] = o.out
    opts = o
  end
  local path = findgnuplot(fn)
  local term, out, window = terminal(fn, path, opts)
  local lines = { term }
  local plot = 1                             -- the first plot or multiplot command
  while plot <= #body and not body[plot]:find("^plot ") and not body[plot]:find("^set multiplot") do
    plot = plot + 1
  end
  for k = 1, plot - 1 do lines[#lines + 1] = body[k] end
  preamble(fn, opts, lines)                  -- the caller's settings override the defaults
  for k = plot, #body do lines[#lines + 1] = body[k] end
  if not window then lines[#lines + 1] = "set output" end
  local ok, err = rungnuplot(fn, path, table.concat(lines, "\n") .. "\n", window)
  if not ok then fail(fn, err) end            -- guard() removes the files
  if out then
    local f = io.open(out, "rb")
    local size = f and f:seek("end") or 0
    if f then f:close() end
    if size == 0 then fail(fn, "gnuplot wrote nothing to " .. out) end
    -- the provenance record (cajal.provenance): PNG and SVG carry one, a PDF
    -- has a sidecar out.prov.json (as a .npy)
    local ext = (out:match("%.([%a%d]+)$") or ""):lower()
    if not display and (ext == "png" or ext == "svg" or ext == "pdf") then
      local okp, err = pcall(require("cajal.provenance").embed, out, opts, ext)
      if not okp then fail(fn, (tostring(err):gsub("^save_%a+: ", ""))) end
    end
  end
  if display then
    local png = readall(out)
    cleanup()
    local size = opts.size or { 800, 600 }
    display({ ["image/png"] = png }, { ["image/png"] = { width = size[1], height = size[2] } })
    return
  end
  cleanup()
  return out or true
end

local function datafile(fn, cols)
  local name = tmpname()
  pending[#pending + 1] = name
  local ok, err = pcall(IO.save_columns, name, cols)
  if not ok then fail(fn, (tostring(err):gsub("^.-save_columns'? ?", ""))) end
  return name
end

local function fmt(n) return ("binary format='%%%dfloat64'"):format(n) end

local function label(opts, k, default)
  local l = opts.labels and opts.labels[k]
  if l == nil then return default and ("title " .. gpquote(default)) or "notitle" end
  return "title " .. gpquote(l)
end

-- x, y for lines and scatter: y 1-D or 2-D (one series per column).
local function xy(fn, x, y, opts)
  if y == nil or (type(y) == "table" and not isarray(y) and y[1] == nil) or type(y) == "string" then
    y, opts = x, y                          -- lines(y [, opts]): x = 1..n
    y = toarray(fn, y, "y")
    x = core.range(y.shape[1] or 1)
  else
    x, y = toarray(fn, x, "x"), toarray(fn, y, "y")
  end
  if x.ndim ~= 1 then fail(fn, "x must be 1-D (got " .. x.ndim .. " dimensions)") end
  if y.ndim ~= 1 and y.ndim ~= 2 then fail(fn, "y must be 1-D or 2-D (got " .. y.ndim .. " dimensions)") end
  if y.shape[1] ~= x.shape[1] then
    fail(fn, ("x has %d values but y has %d rows"):format(x.shape[1], y.shape[1]))
  end
  if x.shape[1] == 0 or (y.ndim == 2 and y.shape[2] == 0) then fail(fn, "no points to draw (y is empty)") end
  return x, y, opts
end

-- x and y in readable units (or opts.xunit / yunit); opts with the axis
-- labels naming them (a copy: the caller's table is not changed).
local function units(fn, x, y, opts)
  local xu, yu
  x, xu = inunit(fn, x, opts.xunit or labelunit(opts.xlabel, x), "xunit")
  y, yu = inunit(fn, y, opts.yunit or labelunit(opts.ylabel, y), "yunit")
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.xlabel, o.ylabel = axislabel(opts.xlabel, xu), axislabel(opts.ylabel, yu)
  o.xunit, o.yunit = xu, yu                 -- the ranges are in these units
  return x, y, o
end

local function series(fn, x, y, opts, style)
  x, y, opts = units(fn, x, y, opts)
  local f = datafile(fn, { x, y })
  local k = y.ndim == 1 and 1 or y.shape[2]
  local parts = {}
  for j = 1, k do
    parts[j] = ("%s %s using 1:%d with %s %s"):format(j == 1 and gpquote(f) or "''", fmt(k + 1),
      j + 1, style, label(opts, j))
  end
  local body = {}
  if not opts.labels then body[1] = "unset key" end
  body[#body + 1] = "plot " .. table.concat(parts, ", \\\n  ")
  return draw(fn, opts, body)
end

-- ---- the plots ---------------------------------------------------------------------

function M.lines(x, y, opts)
  x, y, opts = xy("lines", x, y, opts)
  opts = checkopts("lines", opts, { linewidth = 1 })
  local lw = opts.linewidth and (" lw %g"):format(opts.linewidth) or ""
  return series("lines", x, y, opts, "lines" .. lw)
end

function M.scatter(x, y, opts)
  x, y, opts = xy("scatter", x, y, opts)
  opts = checkopts("scatter", opts, { pointsize = 1 })
  return series("scatter", x, y, opts, ("points pt 7 ps %g"):format(opts.pointsize or 0.5))
end

-- A spike monitor: anything with :times() and :indices() methods.
local function ismonitor(v)
  if type(v) ~= "table" and type(v) ~= "userdata" then return false end
  local ok, t = pcall(function() return v.times end)
  local ok2, i = pcall(function() return v.indices end)
  return ok and ok2 and t ~= nil and i ~= nil and (type(t) == "function" or getmetatable(t) ~= nil)
end

-- Spike times and indices from a monitor or a pair {times, indices}.
local function spikes(fn, v, what)
  if ismonitor(v) then
    return toarray(fn, v:times(), what .. " times"), toarray(fn, v:indices(), what .. " indices")
  end
  if type(v) == "table" and v[1] ~= nil and v[2] ~= nil then
    return toarray(fn, v[1], what .. " times"), toarray(fn, v[2], what .. " indices")
  end
  fail(fn, what .. ": a spike monitor (with :times() and :indices()) or {times, indices} expected")
end

local palette = { "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000" }

-- The populations of a raster call: { name, times, indices, size } each,
-- and the options argument.
local function rastergroups(a, b, opts)
  local groups = {}
  local function size(m)
    local ok, f = pcall(function() return m.size end)
    if ok and type(f) == "function" then return f(m) end
    if ok and type(f) == "number" then return f end
  end
  if isarray(a) or (type(a) == "table" and type(a[1]) == "number") then
    groups[1] = { nil, toarray("raster", a, "times"), toarray("raster", b, "indices") }
    return groups, opts
  end
  if ismonitor(a) or (type(a) == "table" and a[1] ~= nil) then
    local t, i = spikes("raster", a, "spikes")
    groups[1] = { nil, t, i, ismonitor(a) and size(a) or nil }
    return groups, b
  end
  if type(a) ~= "table" then
    fail("raster", "a spike monitor, a table of monitors, or times and indices expected (got " ..
      type(a) .. ")")
  end
  local names = {}
  for k in pairs(a) do names[#names + 1] = k end
  table.sort(names, function(p, q) return tostring(p) < tostring(q) end)
  for _, k in ipairs(names) do
    local t, i = spikes("raster", a[k], "population " .. tostring(k))
    groups[#groups + 1] = { tostring(k), t, i, ismonitor(a[k]) and size(a[k]) or nil }
  end
  return groups, b
end

local function reorder(groups, order)
  if not order then return groups end
  local byname, ordered = {}, {}
  for _, g in ipairs(groups) do byname[g[1]] = g end
  for _, n in ipairs(order) do
    if not byname[n] then fail("raster", "option 'order' names an unknown population '" .. tostring(n) .. "'") end
    ordered[#ordered + 1] = byname[n]
  end
  return ordered
end

function M.raster(a, b, opts)
  local groups
  groups, opts = rastergroups(a, b, opts)
  opts = checkopts("raster", opts, { colors = 1, order = 1, pointsize = 1, tunit = 1, sizes = 1 })
  groups = reorder(groups, opts.order)
  -- times: plain numbers are seconds; drawn in seconds (numeric xrange
  -- values are seconds) or opts.tunit ("ms", ...)
  local tunit = opts.tunit or "s"
  for _, g in ipairs(groups) do
    if not g[2].dim or g[2].dim == "1" then g[2] = g[2] * core.second end
  end
  local parts, offset, low = {}, 0, 0.5
  for k, g in ipairs(groups) do
    local t, i = g[2], g[3]
    if t.ndim ~= 1 or i.ndim ~= 1 or t.shape[1] ~= i.shape[1] then
      fail("raster", ("%s: times and indices must be 1-D and equally long (%s vs %s)"):format(
        g[1] or "spikes", table.concat(t.shape, "x"), table.concat(i.shape, "x")))
    end
    local n = t.shape[1]
    local color = (opts.colors and g[1] and opts.colors[g[1]]) or palette[(k - 1) % #palette + 1]
    t = inunit("raster", t, tunit, "tunit")
    if n > 0 then
      low = math.min(low, i:min() + offset - 0.5)   -- an index below 1 is still drawn
      local f = datafile("raster", { t, i + offset })
      parts[#parts + 1] = ("%s %s using 1:2 with points pt 7 ps %g lc rgb %s %s"):format(
        gpquote(f), fmt(2), opts.pointsize or (n > 100000 and 0.1 or 0.3), gpquote(color),
        g[1] and ("title " .. gpquote(g[1])) or "notitle")
    end
    -- a population takes its size in rows: opts.sizes, the monitor's size, or its top
    -- index (indices are 1-based, as mon:indices() gives them: neuron k is row offset + k)
    offset = offset + ((opts.sizes and g[1] and opts.sizes[g[1]]) or g[4] or (n > 0 and math.max(i:max(), 0) or 0))
  end
  local o = {}
  for k, x in pairs(opts) do o[k] = x end
  o.xunit, opts = tunit, o                  -- xrange in the time unit
  local body = {
    "set xlabel " .. gpquote("time (" .. tunit .. ")"),
    "set ylabel 'neuron'",
    #groups < 2 and "unset key" or "set key outside right",
    ("set yrange [%g:%g]"):format(low, math.max(offset, 1) + 0.5),
    #parts == 0 and "set xrange [0:1]" or "set xrange [0:*]",
  }
  if #parts == 0 then parts[1] = "NaN notitle" end   -- no spikes at all: empty axes
  body[#body + 1] = "plot " .. table.concat(parts, ", \\\n  ")
  return draw("raster", opts, body)
end

function M.hist(values, bins, opts)
  if type(bins) == "table" or type(bins) == "string" then bins, opts = nil, bins end
  opts = checkopts("hist", opts, { color = 1 })
  local v = toarray("hist", values, "values")
  local vu
  v, vu = inunit("hist", v, opts.xunit or labelunit(opts.xlabel, v), "xunit")
  if vu then
    local o = {}
    for k, x in pairs(opts) do o[k] = x end
    o.xlabel, o.xunit = axislabel(opts.xlabel, vu), vu
    opts = o
  end
  bins = bins or 10
  if math.type(bins) ~= "integer" or bins < 1 then fail("hist", "bins must be a positive integer") end
  if v:numel() == 0 then fail("hist", "no values to count") end
  local lo, hi = v:min(), v:max()
  if lo ~= lo or hi ~= hi then fail("hist", "values contain NaN") end
  if lo == hi then lo, hi = lo - 0.5, hi + 0.5 end
  local w = (hi - lo) / bins
  local f = datafile("hist", v)
  local body = {
    "unset key",
    "set style fill solid 0.6 border",
    "set boxwidth " .. ("%.17g"):format(w) .. " absolute",
    ("bin(x) = %.17g + %.17g * (floor((x - %.17g) / %.17g) >= %d ? %d : floor((x - %.17g) / %.17g)) + %.17g"):format(
      lo, w, lo, w, bins, bins - 1, lo, w, w / 2),
    "set yrange [0:*]",
  }
  if not opts.xrange then body[#body + 1] = ("set xrange [%.17g:%.17g]"):format(lo, hi) end
  if not opts.ylabel then body[#body + 1] = "set ylabel 'count'" end
  body[#body + 1] = ("plot %s %s using (bin($1)):(1.0) smooth frequency with boxes lc rgb %s"):format(
    gpquote(f), fmt(1), gpquote(opts.color or palette[1]))
  return draw("hist", opts, body)
end

local palettes = {
  viridis = "set palette defined (0 '#440154', 1 '#414487', 2 '#2a788e', 3 '#22a884', 4 '#7ad151', 5 '#fde725')",
  gray = "set palette gray",
  diverging = "set palette defined (0 '#2166ac', 1 '#f7f7f7', 2 '#b2182b')",
}

-- The data file of matrix a (nr x nc) and the plot command drawing it with
-- element (i, j) centred at x = j, y = i. gnuplot draws no image smaller
-- than 2 x 2, so every element is written as a 2 x 2 block of half-size
-- pixels: the picture is the same.
local function imagedata(fn, a)
  local nr, nc = a.shape[1], a.shape[2]
  local z = core.zeros(2 * nr, 2 * nc)
  z[{ { 1, -1, 2 }, { 1, -1, 2 } }] = a
  z[{ { 2, -1, 2 }, { 1, -1, 2 } }] = a
  z[{ { 1, -1, 2 }, { 2, -1, 2 } }] = a
  z[{ { 2, -1, 2 }, { 2, -1, 2 } }] = a
  local f = datafile(fn, z)
  return ("plot %s binary array=(%d,%d) format='%%float64' dx=0.5 dy=0.5 origin=(0.75,0.75) " ..
    "with image notitle"):format(gpquote(f), 2 * nc, 2 * nr)
end

local function colorrange(opts, lo, hi)
  if opts.cbrange then
    return ("set cbrange [%.17g:%.17g]"):format(opts.cbrange[1], opts.cbrange[2])
  end
  if opts.palette == "diverging" then
    local m = math.max(math.abs(lo), math.abs(hi))
    if m == 0 then m = 1 end
    return ("set cbrange [%.17g:%.17g]"):format(-m, m)
  end
  if lo == hi then return ("set cbrange [%.17g:%.17g]"):format(lo - 0.5, hi + 0.5) end
  return ("set cbrange [%.17g:%.17g]"):format(lo, hi)
end

local function checkpalette(fn, opts)
  if opts.palette ~= nil and not palettes[opts.palette] then
    fail(fn, "option 'palette' must be \"viridis\", \"gray\" or \"diverging\"")
  end
  if opts.cbrange ~= nil and (type(opts.cbrange) ~= "table" or type(opts.cbrange[1]) ~= "number"
      or type(opts.cbrange[2]) ~= "number") then
    fail(fn, "option 'cbrange' must be {lo, hi}")
  end
  return palettes[opts.palette or "viridis"]
end

local function axes(nr, nc)
  return {
    ("set xrange [0.5:%g]"):format(nc + 0.5),
    ("set yrange [%g:0.5]"):format(nr + 0.5),       -- row 1 at the top, as a matrix is read
    "set size ratio -1",
    "set tics out",
  }
end

function M.image(m, opts)
  opts = checkopts("image", opts, { palette = 1, cbrange = 1, colorbar = 1, unit = 1 })
  local a, au = inunit("image", toarray("image", m, "matrix"), opts.unit, "unit")
  if a.ndim ~= 2 then fail("image", "matrix must be 2-D (got " .. a.ndim .. " dimensions)") end
  local nr, nc = a.shape[1], a.shape[2]
  if nr == 0 or nc == 0 then fail("image", "matrix is empty") end
  local pal = checkpalette("image", opts)
  local cmd = imagedata("image", a)
  local body = axes(nr, nc)
  body[#body + 1] = pal
  body[#body + 1] = colorrange(opts, a:min(), a:max())
  if opts.colorbar == false then body[#body + 1] = "unset colorbox" end
  if au then body[#body + 1] = "set cblabel " .. gpquote(au) end
  body[#body + 1] = cmd
  return draw("image", opts, body)
end

function M.images(list, opts)
  opts = checkopts("images", opts, { palette = 1, cbrange = 1, cols = 1, titles = 1, shared = 1, colorbar = 1,
    unit = 1 })
  local pal = checkpalette("images", opts)
  local mats = {}
  if isarray(list) then
    if list.ndim ~= 3 then fail("images", "a 3-D array (n x rows x cols) or a list of matrices expected") end
    for k = 1, list.shape[1] do mats[k] = list[k] end
  elseif type(list) == "table" then
    for k, v in ipairs(list) do
      mats[k] = toarray("images", v, "image " .. k)
      if mats[k].ndim ~= 2 then fail("images", "image " .. k .. " must be 2-D") end
    end
  else
    fail("images", "a 3-D array or a list of matrices expected (got " .. type(list) .. ")")
  end
  local n = #mats
  if n == 0 then fail("images", "no images") end
  -- all in one unit, the readable one of the largest magnitude (or opts.unit)
  local unit
  if mats[1].dim and mats[1].dim ~= "1" or opts.unit then
    local big
    for k, a in ipairs(mats) do
      if (a.dim or "1") ~= (mats[1].dim or "1") then
        fail("images", ("image %d is in %s, image 1 in %s"):format(k, a.dim or "1", mats[1].dim or "1"))
      end
      local m = a:numel() > 0 and core.abs(a):max() or nil
      if m and (not big or m > big) then big = m end
    end
    for k, a in ipairs(mats) do mats[k], unit = inunit("images", a, opts.unit, "unit", big) end
  end
  local cols = opts.cols or math.ceil(math.sqrt(n))
  if math.type(cols) ~= "integer" or cols < 1 then fail("images", "option 'cols' must be a positive integer") end
  local rows = math.ceil(n / cols)
  local body = {}
  local lo, hi = math.huge, -math.huge
  for _, a in ipairs(mats) do lo, hi = math.min(lo, a:min()), math.max(hi, a:max()) end
  body[#body + 1] = pal
  if opts.colorbar ~= true then body[#body + 1] = "unset colorbox" end
  if unit then body[#body + 1] = "set cblabel " .. gpquote(unit) end
  body[#body + 1] = "unset key"
  body[#body + 1] = "unset tics"
  local mp = ("set multiplot layout %d,%d"):format(rows, cols)
  if opts.title then mp = mp .. " title " .. gpquote(opts.title) end
  body[#body + 1] = mp
  body[#body + 1] = "unset title"
  for k, a in ipairs(mats) do
    local nr, nc = a.shape[1], a.shape[2]
    if nr == 0 or nc == 0 then
      fail("images", "image " .. k .. " is empty")
    end
    local cmd = imagedata("images", a)
    for _, l in ipairs(axes(nr, nc)) do body[#body + 1] = l end
    if opts.shared == false then body[#body + 1] = colorrange(opts, a:min(), a:max())
    else body[#body + 1] = colorrange(opts, lo, hi) end
    local t = opts.titles and opts.titles[k]
    body[#body + 1] = t and ("set title " .. gpquote(t)) or "unset title"
    body[#body + 1] = cmd
  end
  body[#body + 1] = "unset multiplot"
  local o = {}
  for k, v in pairs(opts) do if common[k] and k ~= "title" then o[k] = v end end
  return draw("images", o, body)
end

local docs = {
  lines = "cj.plot.lines(x, y [, opts]) / cj.plot.lines(y [, opts]) -> output\n" ..
    "Line plot; y 1-D or 2-D (one line per column). opts: out (\"f.png\", \"f.svg\", \"f.pdf\"; none:\n" ..
    "inline in a Jupyter notebook, else a window), title,\n" ..
    "xlabel, ylabel, labels, size {w, h}, xrange, yrange, logx, logy, grid, linewidth, commands.\n" ..
    "Data with a unit are drawn in a readable unit (mV) named on the axis (\"v (mV)\" for\n" ..
    "ylabel = \"v\"); xunit / yunit choose it (\"ms\").",
  scatter = "cj.plot.scatter(x, y [, opts]) -> output\nPoints; y 1-D or 2-D. Options as lines, plus pointsize.",
  raster = "cj.plot.raster(monitor | times, indices | {E = m1, I = m2} [, opts]) -> output\n" ..
    "Spike raster: a monitor with :times() and :indices(), two arrays, or a table of populations\n" ..
    "stacked bottom-up (opts.order, opts.colors {name = color}, opts.sizes {name = neurons}, else a\n" ..
    "monitor's size, else its highest index; indices are 1-based as mon:indices() gives them). opts.tunit: the time unit of the axis (\"s\", the\n" ..
    "default, \"ms\", ...; plain times are seconds; xrange in it or as quantities); pointsize.",
  hist = "cj.plot.hist(values [, bins] [, opts]) -> output\nHistogram of the values in bins (default 10) equal bins from min to max;\n" ..
    "values with a unit are counted in a readable unit named on the axis (or opts.xunit).",
  image = "cj.plot.image(matrix [, opts]) -> output\n" ..
    "Heatmap with a colorbar, row 1 at the top. opts: palette \"viridis\" | \"gray\" | \"diverging\"\n" ..
    "(symmetric around 0), cbrange {lo, hi}, colorbar (false to hide), unit (of a matrix with a\n" ..
    "unit, default a readable one, named on the colorbar).",
  images = "cj.plot.images(list | 3-D array [, opts]) -> output\n" ..
    "A grid of images (receptive fields, weight matrices): opts.cols, titles, shared (one color\n" ..
    "range, default true), palette, cbrange, colorbar, unit (as image).",
}
for k, t in pairs(docs) do
  M[k] = guard(M[k])
  core.doc(M[k], t)
end

return M
