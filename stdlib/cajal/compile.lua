-- cajal.compile — the network compiler: .cajal text -> AST (cajal.grammar)
-- -> checked model (cajal.check: names, units) -> IR (cajal.lower, the table
-- of vm/core/IR.md) -> C (cajal.emit). This file is the driver: imports,
-- options, error formatting, dumps.
--
-- API (the contract with cajal.network, the host's --dump and the golden
-- error tests; change it only together with them):
--
--   compile.build(source, filename [, opts]) -> ir
--     source    the model text (a string); filename names it in messages and
--               anchors relative imports (nil -> "<string>", imports then
--               resolve from opts.importdir, else the current directory).
--     opts      (all optional)
--       seed      integer (default: the model's `seed =`, else the seed of cj.seed)
--       dt        step in seconds, a number or a cj quantity (default 0.1 ms)
--       params    overrides of population parameters, folded as constants:
--                 { E = { tau_m = 10 * cj.ms }, I = {...} }  per population, or
--                 { tau_m = 10 * cj.ms }  for every population that has it.
--                 Values are numbers (SI) or quantities (dimension checked).
--       arrays    { NAME = <array or table of numbers> } for `from arrays NAME`
--                 connections, spike generators, drives and rate tables.
--       method    "exact" | "euler" | "rk2" | "rk4" | "exponential_euler":
--                 overrides the integration method of every model.
--       precision "double" (default) or "single" (float32 state)
--       jit       false: leave ir.c_source nil (interpreter only)
--       importdir the folder that plays the importing file's for text
--                 without a filename (cj.network: the calling script's)
--     Returns the IR table of vm/core/IR.md, c_source included.
--     On an error in the model it raises an error OBJECT (error(e, 0)): the
--     grammar's error table { file, line, col, pos, msg, text } whose
--     tostring() is the text
--       file:line:col: message
--       <the source line>
--       <spaces>^
--     Syntax errors (cajal.grammar) and semantic errors (names, units,
--     imports) have the same shape. Misuse of the arguments raises an
--     object whose text is "compile.build: bad argument ...".
--
--   compile.load_file(path [, opts]) -> ir
--     Reads path and builds it. Imports (`import "models/lif"`) are looked
--     up in the order of man cajal-lang, IMPORT (searchpath, then the model
--     library shipped with cajal); the current directory is not searched. A
--     cycle of imports is an error naming the chain.
--
--   compile.diagnose(path) -> nil | message   the first error, nil if it compiles
--   compile.dump(stage, path [, opts]) -> text   stage "ast" | "ir" | "c"
--     (cj.dump; `cajal --dump=STAGE FILE`)
--   compile.cache_clear()   empties the compile cache (the runtime's)
local M = {}

local grammar = require "cajal.grammar"
local check = require "cajal.check"
local netcheck = require "cajal.netcheck"
local lower = require "cajal.lower"
local emit = require "cajal.emit"
local core = require "cajal.core"
local files = require "cajal.files"
local integrate = require "cajal.integrate"
local readfile, isfile = files.readfile, files.isfile
local format, concat = string.format, table.concat

-- errors: the grammar's error objects pass through; ours have the same shape
local function errobj(text)
  return setmetatable({ text = text, msg = text }, { __tostring = function(e) return e.text end })
end

local function rethrow(e)
  if type(e) == "table" and getmetatable(e) == nil and e.text then e = errobj(e.text) end
  error(e, 0)
end

local function parse(source, filename)
  local ast, err = grammar.parse(source, filename)
  if not ast then error(err, 0) end
  return ast
end

-- ---- imports ---------------------------------------------------------------------

-- a/./b -> a/b, a/x/../b -> a/b (so one file has one name in cycles)
local function normalize(path)
  local abs = path:sub(1, 1) == "/"
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." and #parts > 0 and parts[#parts] ~= ".." then parts[#parts] = nil
    elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  local r = table.concat(parts, "/")
  if abs then r = "/" .. r end
  return r ~= "" and r or "."
end

local function dirname(path)
  return path and path:match("^(.*)/[^/]*$") or "."
end

-- The folders searched for `import "NAME"` from a file in dir, before the
-- model library shipped with cajal. The order is the one documented (once)
-- in man cajal-lang, IMPORT:
--   1. dir, the importing file's folder (as trusted as the file itself);
--   2. the folders of CAJAL_PATH, left to right (empty entries ignored: they
--      do not mean the current folder);
--   3. ~/.local/share/cajal, the user's own library;
--   then (find below) the shipped library. The current folder is not
--   searched unless it is one of these: a model must not pick up a file
--   planted in whatever folder cajal happens to run in (as PATH leaves out
--   "." and Python's -P leaves out the current folder).
function M.searchpath(dir)
  local dirs = { dir or "." }
  local env = os.getenv("CAJAL_PATH")
  local home = os.getenv("HOME")
  for entry in ((env or "") .. ":"):gmatch("([^:]*):") do
    if entry ~= "" then dirs[#dirs + 1] = entry end
  end
  if home and home ~= "" then dirs[#dirs + 1] = home .. "/.local/share/cajal" end
  local seen, out = {}, {}
  for _, d in ipairs(dirs) do
    if not seen[d] then seen[d] = true; out[#out + 1] = d end
  end
  return out
end

-- The LuaRocks trees, searched after the shipped library: the folders of
-- package.path's absolute "DIR/?.lua" templates, in its order (a relative
-- template such as "./?.lua" is left out, as the current folder is). cajal
-- puts the user tree ~/.luarocks/share/lua/5.4 into package.path at start
-- (vm/host/searcher.c); the system tree /usr/local/share/lua/5.4 is Lua's
-- default. `luarocks make` of a model package copies its lua/ folder there,
-- so `import "pkg/cells"` finds DIR/pkg/cells.cajal next to `require "pkg"`.
function M.rocktrees()
  local out, seen = {}, {}
  for tmpl in (package.path or ""):gmatch("[^;]+") do
    local d = tmpl:match("^(/.-)/%?%.lua$")
    if d and not seen[d] then seen[d] = true; out[#out + 1] = d end
  end
  return out
end

-- the stdlib/ directory this module was loaded from (a source or install
-- tree), nil for the copy built into the binary
local SELF = (debug.getinfo(1, "S").source or ""):match("^@(.*)/cajal/[^/]*$")

-- find(name, dir) -> text, origin | nil, tried
local function find(name, dir)
  local file = name
  if not file:match("%.cajal$") then file = file .. ".cajal" end
  local tried = {}
  local candidates = {}
  if file:sub(1, 1) == "/" then
    candidates[1] = file
  else
    for _, d in ipairs(M.searchpath(dir)) do candidates[#candidates + 1] = d .. "/" .. file end
  end
  -- the first readable file of dirs/file (dirs nil: candidates), noting each tried
  local function first(dirs)
    for _, d in ipairs(dirs or candidates) do
      local path = dirs and d .. "/" .. file or d
      tried[#tried + 1] = path
      if isfile(path) then
        local text = readfile(path)
        if text then return text, path end
      end
    end
  end
  local text, path = first(nil)
  if text then return text, path end
  -- the model library shipped with cajal: install tree, then the binary
  if file:sub(1, 1) ~= "/" and not file:find("%.%.") then
    local here = SELF and SELF .. "/" .. file
    if here and isfile(here) then
      local text = readfile(here)
      if text then return text, here end
    end
    local ok, host = pcall(require, "cajal.host")
    if ok and type(host) == "table" and host.findfile then
      local ok2, text, origin = pcall(host.findfile, file)
      if ok2 and text then return text, origin end
      tried[#tried + 1] = "the model library of cajal"
    elseif core.embedded then
      local text = core.embedded(file)
      if text then return text, "[cajal]/" .. file end
      tried[#tried + 1] = "the models built into cajal"
    end
    text, path = first(M.rocktrees())
    if text then return text, path end
  end
  return nil, tried
end
M.find = find

-- models([dir]) -> text: what `import` sees from a file in dir (default the
-- current folder), place by place in the order of the search, each with the
-- model files found there (cajal --models). The shipped library is listed
-- as built into cajal (the copy every cajal has), with the folder that
-- overrides it when there is one.
function M.models(dir)
  local ok, host = pcall(require, "cajal.host")
  if not ok or type(host) ~= "table" then host = nil end
  local out = {}
  local function place(label, folder, names)
    out[#out + 1] = format("%s: %s", label, folder)
    if not names or #names == 0 then out[#out + 1] = "  (no models)" end
    for _, n in ipairs(names or {}) do
      out[#out + 1] = "  " .. n:gsub("%.cajal$", "")
    end
  end
  local function scan(d) return host and host.models(d) or {} end
  local env = os.getenv("CAJAL_PATH")
  local dirs = M.searchpath(dir)
  if dir == nil then
    out[1] = "importing file's folder: the folder of each model file (not listed)"
  end
  for k, d in ipairs(dirs) do
    if k == 1 and dir == nil then goto continue end
    local label = k == 1 and "importing file's folder" or
      (d:match("/%.local/share/cajal$") and "user library" or "CAJAL_PATH")
    if k > 1 and env and (":" .. env .. ":"):find(":" .. d .. ":", 1, true) then label = "CAJAL_PATH" end
    place(label, d, scan(d))
    ::continue::
  end
  local lib = host and host.list("models/") or {}
  place("cajal's model library", SELF or (host and host.datadir) or "[cajal]", lib)
  for _, d in ipairs(M.rocktrees()) do place("LuaRocks tree", d, scan(d)) end
  return concat(out, "\n") .. "\n"
end

-- Collect the models of root and of everything it imports into models
-- (name -> {node, src}); stack holds the origins being loaded (cycles).
-- importdir: the folder of a root that is not a file (origin nil).
local function collect(root, origin, models, sources, stack, main, importdir)
  for _, item in ipairs(root.body) do
    if item.tag == "neuron" or item.tag == "synapse" then
      local prev = models[item.name]
      if prev then
        check.fail(root, item.pos, format("model '%s' is already defined (%s:%d)", item.name,
                                          prev.src.file or "?", check.lineof(prev.src, prev.node.pos)))
      end
      models[item.name] = { node = item, src = root }
    elseif item.tag == "import" then
      local text, where = find(item.path, origin and dirname(origin) or importdir)
      if not text then
        -- a misspelt library file: its nearest name
        local lib = {}
        local okh, host = pcall(require, "cajal.host")
        if okh and type(host) == "table" and host.list then
          for _, f in ipairs(host.list("models/")) do lib[(f:gsub("%.cajal$", ""))] = true end
        end
        check.fail(root, item.pos, format("import \"%s\": no such model file in the importing file's " ..
          "folder, CAJAL_PATH, ~/.local/share/cajal, cajal's model library or the LuaRocks trees%s (the order of the search: " ..
          "man cajal-lang, IMPORT)", item.path, check.suggest((item.path:gsub("%.cajal$", "")), lib)))
      end
      where = normalize(where)
      if #stack >= 64 then check.fail(root, item.pos, "imports nested more than 64 deep") end
      for q, o in ipairs(stack) do
        if o == where then
          local chain = {}
          for k = q, #stack do chain[#chain + 1] = stack[k]:match("([^/]*)$") end
          chain[#chain + 1] = where:match("([^/]*)$")
          check.fail(root, item.pos, format("cyclic import: %s", concat(chain, " -> ")))
        end
      end
      if not sources[where] then
        local sub = parse(text, where)
        sources[where] = text
        sources[#sources + 1] = where
        stack[#stack + 1] = where
        for _, it in ipairs(sub.body) do
          if it.tag ~= "import" and it.tag ~= "neuron" and it.tag ~= "synapse" then
            check.fail(sub, it.pos, "an imported file may contain only imports and model definitions")
          end
        end
        collect(sub, where, models, sources, stack, false, importdir)
        stack[#stack] = nil
      end
    elseif not main then
      check.fail(root, item.pos, "an imported file may contain only imports and model definitions")
    end
  end
end

-- ---- the pipeline -----------------------------------------------------------------

local function checkopts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(errobj("compile.build: bad argument #3 'opts' (table expected)"), 0) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  local function bad(what, want)
    error(errobj(format("compile.build: bad argument 'opts.%s' (%s expected)", what, want)), 0)
  end
  if o.seed ~= nil then
    if math.type(o.seed) ~= "integer" then
      if type(o.seed) == "number" and o.seed == math.floor(o.seed) and o.seed >= 0 and o.seed < 2^63 then
        o.seed = math.tointeger(o.seed)
      else bad("seed", "a whole number") end
    end
  end
  if o.dt ~= nil then
    local v, d = check.quantity(o.dt)
    if not v or not (v > 0) or v == math.huge or not (check.dimeq(d, check.DIMLESS) or
                                                      check.dimstr(d) == "s") then
      bad("dt", "a positive time (seconds or a quantity in s)")
    end
    o.dt = v
  end
  if o.params ~= nil and type(o.params) ~= "table" then bad("params", "table") end
  if o.arrays ~= nil and type(o.arrays) ~= "table" then bad("arrays", "table") end
  if o.precision ~= nil and o.precision ~= "double" and o.precision ~= "single" then
    bad("precision", "\"double\" or \"single\"")
  end
  if o.importdir ~= nil and type(o.importdir) ~= "string" then bad("importdir", "a folder name") end
  if o.method ~= nil then
    if not integrate.ISMETHOD[o.method] then bad("method", integrate.CHOICES) end
  end
  return o
end

-- front(source, filename, importdir) -> root, models, sources
local function front(source, filename, importdir)
  local root = parse(source, filename)
  local models, sources = {}, { [filename] = source, filename }
  local origin = filename:sub(1, 1) ~= "<" and normalize(filename) or nil
  collect(root, origin, models, sources, { origin or filename }, true, importdir or ".")
  return root, models, sources
end

-- build(source, filename [, opts]) -> ir   (see the contract at the top)
function M.build(source, filename, opts)
  if type(source) ~= "string" then
    error(errobj("compile.build: bad argument #1 'source' (string expected)"), 0)
  end
  if filename ~= nil and type(filename) ~= "string" then
    error(errobj("compile.build: bad argument #2 'filename' (string expected)"), 0)
  end
  filename = filename or "<string>"
  opts = checkopts(opts)
  local ok, ir = pcall(function()
    local root, models, sources = front(source, filename, opts.importdir)
    local ir = lower.network(netcheck.network(root, models, opts), opts)
    local all = {}
    for _, o in ipairs(sources) do all[#all + 1] = sources[o] end
    ir.source = concat(all, "\n")
    -- the model's files in import order, the main one first (provenance)
    ir.files = {}
    for _, o in ipairs(sources) do ir.files[#ir.files + 1] = { path = o, text = sources[o] } end
    ir.name = filename:match("([^/]*)$"):gsub("%.cajal$", "")
    if opts.jit ~= false then ir.c_source = emit.c(ir) end
    return ir
  end)
  if not ok then rethrow(ir) end
  return ir
end

function M.load_file(path, opts)
  if type(path) ~= "string" then
    error(errobj("compile.load_file: bad argument #1 'path' (string expected)"), 0)
  end
  local text = readfile(path)
  if not text then error(errobj(format("cannot read '%s'", path)), 0) end
  return M.build(text, path, opts)
end

-- diagnose(path [, opts]) -> nil | the first error's text
function M.diagnose(path, opts)
  local ok, err = pcall(M.load_file, path, opts)
  if ok then return nil end
  return tostring(type(err) == "table" and (err.text or err) or err)
end

-- ---- dumps -------------------------------------------------------------------------

local function irvalue(v, indent, out)
  local t = type(v)
  if t == "number" then
    if math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else out[#out + 1] = format("%.17g", v) end
  elseif t == "string" then out[#out + 1] = format("%q", v)
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local flat = true
      for _, x in ipairs(v) do if type(x) == "table" and #x == 0 and next(x) ~= nil then flat = false end end
      local parts = {}
      for _, x in ipairs(v) do
        local o = {}
        irvalue(x, indent .. "  ", o)
        parts[#parts + 1] = concat(o)
      end
      local keys = {}
      for k in pairs(v) do if type(k) ~= "number" then keys[#keys + 1] = k end end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local o = {}
        irvalue(v[k], indent .. "  ", o)
        parts[#parts + 1] = k .. " = " .. concat(o)
      end
      local one = "{ " .. concat(parts, ", ") .. " }"
      if #one <= 100 and flat then out[#out + 1] = one
      else out[#out + 1] = "{\n" .. indent .. "  " .. concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}" end
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      local parts = {}
      for _, k in ipairs(keys) do
        local o = {}
        irvalue(v[k], indent .. "  ", o)
        parts[#parts + 1] = tostring(k) .. " = " .. concat(o)
      end
      local one = "{ " .. concat(parts, ", ") .. " }"
      if #one <= 100 then out[#out + 1] = one
      else out[#out + 1] = "{\n" .. indent .. "  " .. concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}" end
    end
  elseif t == "userdata" then out[#out + 1] = "<" .. (tostring(v):match("^(%S+)") or "array") .. ">"
  else out[#out + 1] = tostring(v) end
end

-- the IR as Lua-like text (source and C left out)
function M.irtext(ir)
  local copy = {}
  for k, v in pairs(ir) do
    if k ~= "source" and k ~= "c_source" and k ~= "files" and k ~= "parameters" then copy[k] = v end
  end
  local out = {}
  irvalue(copy, "", out)
  return concat(out) .. "\n"
end

-- dump(stage, path [, opts]) -> text: "ast" | "ir" | "c"
function M.dump(stage, path, opts)
  if stage ~= "ast" and stage ~= "ir" and stage ~= "c" then
    error(errobj(format("compile.dump: bad argument #1 'stage' (\"ast\", \"ir\" or \"c\" expected, got %s)",
                        tostring(stage))), 0)
  end
  if type(path) ~= "string" then error(errobj("compile.dump: bad argument #2 'path' (string expected)"), 0) end
  local text = readfile(path)
  if not text then error(errobj(format("cannot read '%s'", path)), 0) end
  if stage == "ast" then
    local ok, r = pcall(parse, text, path)
    if not ok then rethrow(r) end
    return grammar.dump(r)
  end
  local ir = M.build(text, path, opts)
  if stage == "ir" then return M.irtext(ir) end
  return ir.c_source
end

-- cache_clear(): empties the compile cache of the runtime (vm/core/jit.c)
function M.cache_clear()
  if not core.cache_clear then
    error(errobj("compile.cache_clear: this cajal has no compile cache (the JIT is not built)"), 0)
  end
  return core.cache_clear()
end

local doc = core.doc
if doc then
  doc(M.build, "compile.build(source, filename [, opts]) -> ir\n" ..
      "Compile network-language text into the IR table (vm/core/IR.md) with its C source;\n" ..
      "opts: seed, dt, params, arrays, method, precision, jit.")
  doc(M.load_file, "compile.load_file(path [, opts]) -> ir\nRead a .cajal file and compile it (see compile.build).")
  doc(M.diagnose, "compile.diagnose(path) -> nil | message\nThe first error of a .cajal file, nil when it compiles.")
  doc(M.dump, "cj.dump(stage, path [, opts]) -> text\n" ..
      "A stage of the compilation of a .cajal file: \"ast\", \"ir\" or \"c\" (cajal --dump=STAGE FILE).")
  doc(M.cache_clear, "compile.cache_clear()\nEmpty the compile cache (cajal --cache-clear).")
  doc(M.searchpath, "compile.searchpath([dir]) -> { dir, ... }\n" ..
      "The folders searched by `import` from a file in dir, before cajal's model library:\n" ..
      "dir, the folders of CAJAL_PATH, ~/.local/share/cajal (man cajal-lang, IMPORT).")
  doc(M.find, "compile.find(name [, dir]) -> text, origin | nil, tried\n" ..
      "The text of the model file an `import \"name\"` finds (searchpath, then the model\n" ..
      "library shipped with cajal), or nil and the list of places tried.")
  doc(M.models, "compile.models([dir]) -> text\n" ..
      "The places `import` searches from a file in dir (default \".\"), in order, each with\n" ..
      "the model files found there (cajal --models).")
  doc(M.rocktrees, "compile.rocktrees() -> { dir, ... }\n" ..
      "The LuaRocks trees `import` searches after cajal's model library: the folders of the\n" ..
      "absolute DIR/?.lua templates of package.path (cajal --models lists them).")
  doc(M.irtext, "compile.irtext(ir) -> string\nThe IR as readable Lua-like text, without its source and C (cajal --dump=ir).")
end

return M
