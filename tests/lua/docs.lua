-- tests/lua/docs.lua — the help registry and man/cajal-api.3 against the
-- code: every function reachable from `require "cajal"` (its tables, the
-- methods of arrays, quantities, generators, regexes, npy writers,
-- networks, populations and monitors, and of every userdata type cajal
-- registers) has a help text whose first line is a signature; every such
-- signature is an entry of man/cajal-api.3; every entry of the page's
-- generated blocks is the signature of a function that exists; the page
-- renders without groff warnings. tests/docs/genapi.lua rewrites the
-- function reference of the page from the registry.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local T = dofile(dir .. "/testing.lua")
local walk = dofile(dir .. "/apiwalk.lua")
local core = require "cajal.core"

local format, concat = string.format, table.concat
local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or (dir .. "/../..")
local PAGE = srcdir .. "/man/cajal-api.3"

local readfile = T.readfile

-- ---- the checks, as functions of their data (so they can be tested) -----

-- Plain text of one roff line (nil for comments and layout requests).
local FONTMACROS = { B = true, I = true, BR = true, RB = true, BI = true, IB = true,
                     IR = true, RI = true, SM = true, SB = true, SH = true, SS = true }
local function deroff(line)
  if line:match("^[.']%s*\\\"") then return nil end
  local macro, args = line:match("^[.']%s*(%S+)%s*(.*)$")
  if macro then
    if not FONTMACROS[macro] then return nil end
    local parts = {}
    for q, w in args:gmatch('"([^"]*)"()') do parts[#parts + 1] = q end
    if #parts == 0 then
      for w in args:gmatch("%S+") do parts[#parts + 1] = w end
      line = concat(parts, " ")
    else
      line = concat(parts, " ")
    end
  end
  line = line:gsub("\\f%(..", ""):gsub("\\f%[[^%]]*%]", ""):gsub("\\f.", "")
  line = line:gsub("\\%(dq", '"'):gsub("\\%(aq", "'"):gsub("\\%(em", "--")
  line = line:gsub("\\&", ""):gsub("\\%-", "-"):gsub("\\~", " "):gsub("\\ ", " ")
  line = line:gsub("\\e", "\\")
  return (line:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- The page as: set of all text lines, and the entry tags (the line after
-- .TP/.TQ) inside generated blocks, with their line numbers.
local function readpage(text)
  local lines, tags = {}, {}
  local n, inside, wanttag = 0, nil, false
  for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local b = raw:match('^%.\\" BEGIN GENERATED (%S+)')
    local e = raw:match('^%.\\" END GENERATED (%S+)')
    if b then inside = b elseif e then inside = nil end
    local plain = deroff(raw)
    if plain then lines[plain] = true end
    if wanttag and plain then
      if inside then tags[#tags + 1] = { text = plain, line = n, block = inside } end
      wanttag = false
    end
    if raw:match("^%.T[PQ]%s*$") then wanttag = true end
  end
  return lines, tags
end

-- Functions without help, or whose help does not start with a signature.
local function undocumented(list)
  local bad = {}
  for _, e in ipairs(list) do
    if type(e.doc) ~= "string" then
      bad[#bad + 1] = e.name .. ": no help text"
    elseif not walk.signature(e.doc):match("^[%w_.:]+%b()") then
      bad[#bad + 1] = format("%s: help does not start with a signature: %q", e.name,
        walk.signature(e.doc))
    end
  end
  return bad
end

-- Functions with help whose signature is not a line of the page.
local function missing(list, lines)
  local bad = {}
  for _, e in ipairs(list) do
    if type(e.doc) == "string" and not lines[walk.signature(e.doc)] then
      bad[#bad + 1] = format("%s: '%s' is not in man/cajal-api.3", e.name, walk.signature(e.doc))
    end
  end
  return bad
end

-- Entries of the generated blocks that are no function's signature.
local function stale(list, tags)
  local sigs, bad = {}, {}
  for _, e in ipairs(list) do
    if type(e.doc) == "string" then sigs[walk.signature(e.doc)] = true end
  end
  for _, t in ipairs(tags) do
    if not sigs[t.text] then
      bad[#bad + 1] = format("man/cajal-api.3:%d: '%s' (block %s) is no function's signature",
        t.line, t.text, t.block)
    end
  end
  return bad
end

local function report(what, bad)
  if #bad > 0 then
    error(format("%d %s:\n  %s\n(add help with core.doc / cj_setdocs; regenerate the page with\n" ..
      "  CAJAL_HOME=SRCDIR ./cajal SRCDIR/tests/docs/genapi.lua SRCDIR/man/cajal-api.3)",
      #bad, what, concat(bad, "\n  ")), 2)
  end
end

-- ---- the data -------------------------------------------------------------

local list, problems = walk.collect()
local pagetext = readfile(PAGE)
local lines, tags = readpage(pagetext)

-- ---- tests ------------------------------------------------------------------

T.test("the walk reaches every kind of object (module, arrays, networks, monitors)", function()
  assert(#problems == 0, "could not walk: " .. concat(problems, "; "))
  local names = {}
  for _, e in ipairs(list) do names[e.name] = true end
  for _, n in ipairs({ "cj.zeros", "cj.io.save_npy", "cj.regex.compile", "cj.plot.raster",
                       "cj.load", "cj.help", "quantity:to", "array:numel", "rng:clone",
                       "regex:gsub", "npywriter:append", "network:run", "population:varnames",
                       "spikemonitor:rate", "statemonitor:values", "ratemonitor:values",
                       "net:state", "cj.compile.build", "cajal.repl.names" }) do
    assert(names[n], n .. " was not reached")
  end
  assert(#list > 150, "only " .. #list .. " functions found")
end)

T.test("every reachable function has help text starting with its signature", function()
  report("functions without help", undocumented(list))
end)

T.test("every function with help is in man/cajal-api.3", function()
  report("functions missing from the page", missing(list, lines))
end)

T.test("every entry of the page's function reference is a function that exists", function()
  assert(#tags > 150, "only " .. #tags .. " entries in the generated blocks of the page")
  report("stale entries", stale(list, tags))
end)

T.test("the checks fail on an undocumented, a missing and a stale function", function()
  local f = function() end
  local fake = { { name = "cj.fake", fn = f, doc = nil },
                 { name = "cj.other", fn = print, doc = "cj.other(x) -> y\nNot on the page." },
                 { name = "cj.nosig", fn = pairs, doc = "no signature here" } }
  local u = undocumented(fake)
  assert(#u == 2 and u[1]:find("cj.fake: no help", 1, true) and u[2]:find("cj.nosig", 1, true),
    concat(u, "; "))
  local m = missing(fake, lines)
  assert(#m == 2 and m[1]:find("cj.other(x) -> y", 1, true), concat(m, "; "))
  local l2, t2 = readpage('.\\" BEGIN GENERATED x\n.TP\n\\fBcj.gone(a) \\-> b\\fR\nText.\n' ..
                          '.\\" END GENERATED x\n.TP\n\\fBhand written\\fR\n')
  assert(l2["cj.gone(a) -> b"] and l2["hand written"])
  local s = stale(fake, t2)
  assert(#s == 1 and s[1]:find("'cj.gone(a) -> b'", 1, true), concat(s, "; "))
end)

T.test("roff escapes read back as the help text", function()
  assert(deroff([[\fBcj.io.save_columns(path, columns [, "binary"|"text"]) \-> rows\fR]]) ==
    [[cj.io.save_columns(path, columns [, "binary"|"text"]) -> rows]])
  assert(deroff([[u UTF\-8 (Unicode \ew, \ed, ...)]]) == [[u UTF-8 (Unicode \w, \d, ...)]])
  assert(deroff([[\&.start]]) == ".start")
  assert(deroff('.B "require \\(dqcajal\\(dq"') == 'require "cajal"')
  assert(deroff('.\\" a comment') == nil and deroff(".TP") == nil)
end)

T.test("help(f) prints the registered text that the page shows", function()
  local help = require("cajal.help").help
  local tmp = os.tmpname()
  local stdout = io.output()
  io.output(tmp)
  local ok, err = pcall(help, require("cajal").zeros)
  io.close()
  io.output(stdout)
  local text = readfile(tmp)
  os.remove(tmp)
  assert(ok, err)
  assert(text == core.doc(require("cajal").zeros) .. "\n", text)
  assert(lines[walk.signature(text)], "help(cj.zeros)'s first line is not on the page")
end)

T.test("the page renders without groff warnings", function()
  local p = io.popen("command -v groff 2>/dev/null")
  local groff = p:read("l")
  p:close()
  if not groff then T.skip("groff not installed: rendering not checked") end
  local cmd = format("groff -man -Tutf8 -ww '%s' 2>&1 >/dev/null", PAGE:gsub("'", "'\\''"))
  local f = io.popen(cmd)
  local warnings = f:read("a")
  f:close()
  assert(warnings == "", "groff: " .. warnings)
  f = io.popen(format("groff -man -Tutf8 -P-cbou '%s' 2>/dev/null", PAGE:gsub("'", "'\\''")))
  local text = f:read("a")
  f:close()
  assert(text:find("CONVENTIONS", 1, true) and text:find("cj.zeros(shape... [, dtype])", 1, true),
    "the rendered page lacks its sections")
end)

T.test("tests/bench names no absolute path of this machine (peers: ../shared/peers)", function()
  local q = "'" .. srcdir:gsub("'", "'\\''") .. "'"
  local p = io.popen("cd " .. q .. " && pwd -P")
  local root = p:read("l")
  p:close()
  assert(root, "cannot resolve " .. srcdir)
  -- the source tree and the folders above it, but the system's own (/usr, /opt, ...)
  local system = { usr = true, opt = true, bin = true, lib = true, etc = true, tmp = true, var = true }
  local paths = {}
  local d = root
  while d and d ~= "" and d ~= "/" do
    if not system[d:match("^/([^/]+)")] or d:match("^/[^/]+/.") then paths[#paths + 1] = d .. "/" end
    d = d:match("^(.*)/[^/]*$")
  end
  p = io.popen("ls " .. q .. "/tests/bench")
  local n = 0
  for name in p:lines() do
    local f = io.open(srcdir .. "/tests/bench/" .. name, "rb")
    local text = f and f:read("a") or ""
    if f then f:close() end
    n = n + 1
    for _, abs in ipairs(paths) do
      assert(not text:find(abs, 1, true), "tests/bench/" .. name .. " names " .. abs)
    end
  end
  p:close()
  assert(n >= 3, "tests/bench not found under " .. srcdir)
end)

T.done()
