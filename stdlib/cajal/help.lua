-- cajal.help — help(): the text registered for cajal's functions and a few
-- topics. cj.help is this module's help; the REPL also makes it a global.
--
--   help()            what help can do, and the topics
--   help(f)           the registered text of f (core.doc / cj_setdocs)
--   help(cj), help(cj.io)   a module's functions with their signatures
--   help("zeros"), help("io.save_npy"), help("repl")   by name or topic
--   help("raster"), help("run")   a function or method by its bare name
--   help("lif"), help("stdp")     a model of the library (stdlib/models)
--   help(net), help(net.E)        an object whose metatable has __help(obj)
--
-- The host defines the global `help` in every cajal process (scripts and
-- -e too); it calls this module's help.
--
-- Other modules add topics with require("cajal.help").topic(name, text).
local core = require "cajal.core"

local M = {}

local format, concat, sort = string.format, table.concat, table.sort
local getmetatable = debug.getmetatable

local topics = {}
local topicorder = {}

-- Help's text goes to io.write, or into `captured` while M.text runs.
local captured
local function write(...)
  if not captured then return io.write(...) end
  for i = 1, select("#", ...) do captured[#captured + 1] = tostring((select(i, ...))) end
end

-- topic(name, text): add or replace a help topic shown by help(name).
function M.topic(name, text)
  assert(type(name) == "string", "bad argument #1 to 'topic' (string expected)")
  assert(type(text) == "string", "bad argument #2 to 'topic' (string expected)")
  if not topics[name] then topicorder[#topicorder + 1] = name end
  topics[name] = text
end

M.topic("repl", [[
The REPL (cajal with no script, or cajal -i)
  1+1, =expr     an expression prints its value (tables and arrays readably)
  x = 1          a statement runs; an incomplete one continues on a ">>" line
  TAB            completes globals, and fields after '.' or ':' (cj.ze<TAB>,
                 net.<TAB>: populations, projections, monitors; net.E.<TAB>: variables)
  Ctrl-C         discards the line; while code runs, stops it ("interrupted")
  Ctrl-D         on an empty line, ends the session
  Up/Down, Ctrl-R   history, kept in ~/.cajal_history ($CAJAL_HISTORY)
  cj, help       the cajal module and this function are globals here (help in scripts too)
Line editing is libedit's emacs mode; ~/.editrc is read.]])

M.topic("language", [[
The network language (.cajal files; man cajal-lang for all of it)
  neuron NAME { parameters {..} state {..} input I : pA  equations { dv/dt = .. }
                spike when COND  reset { .. }  refractory T  method exact|euler|.. }
  synapse NAME { parameters {..} state {..} postsynaptic {..} equations {..}
                 on_pre { .. } on_post { .. } output INPUT = EXPR }
  import "models/lif"                      the model library (help("models"))
  population E = lif(3200, tau_m = 20 ms)  overrides: constants, i, N, draws
  population P = poisson(100, rate = 5 Hz)     spike_times(N) from arrays NAME
  connect E -> E, I exp_current with probability 0.02 weight 16 pA delay 1.5 ms
      rules: all_to_all, one_to_one, with probability P, with in_degree K,
      with out_degree K, from arrays NAME; clauses: weight, delay, as NAME, onto
  drive I_syn of E from arrays NAME every 1 ms [scale 1 pA]
  record spikes of E | record rate of E every 1 ms | record v of E[0..9] every 1 ms
      [to "file.npy"] [as NAME]
  dt = 0.05 ms; seed = 1; parameters { NE = 3200 }   (cj.load opts override)
Units follow numbers (1.62 mV, 20ms, 1 uF/cm^2); dimensions are checked.
From Lua: net = cj.load("file.cajal", { seed = 1 }); net:run(1 * cj.second);
help(net) then shows how to reach the network's parts.]])

M.topic("env", [[
Environment variables read by cajal (see man cajal)
  CAJAL_HOME      a cajal source tree whose Lua modules and models are used first
  CAJAL_PATH      folders searched by `import` in model files (':'-separated;
                  the order of the search: man cajal-lang, IMPORT)
  CAJAL_CACHE     the compile cache of models (else $XDG_CACHE_HOME/cajal,
                  else ~/.cache/cajal)
  CAJAL_JIT=off   run models on the interpreter instead of compiled C
  CC              the C compiler for models
  CAJAL_HISTORY   the REPL history file ("" for none)
  CAJAL_GNUPLOT   the gnuplot program used by cj.plot]])

local function firstline(s)
  return (s:match("^[^\n]*"))
end

local function cajal()
  local ok, cj = pcall(require, "cajal")
  return ok and cj or nil
end

-- Names of a module: its keys and those reachable through its metatable,
-- cajal's lazily loaded parts included (the names TAB completion offers).
local function modulekeys(t)
  local ok, repl = pcall(require, "cajal.repl")
  if ok and type(repl) == "table" and repl.names then return repl.names(t) end
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  return keys
end

local function get(t, k)
  local ok, v = pcall(function() return t[k] end)
  if ok then return v end
  return nil
end

-- The signature of function k of module `name`, as reached from it: a text
-- registered as "core.cache_clear() -> ..." is listed in cj as
-- "cj.cache_clear() -> ...".
local function signature(doc, name, k)
  local sig = firstline(doc)
  if name == "?" then return sig end
  local pre, rest = sig:match("^([%a_][%w_.]*)%." .. k:gsub("%p", "%%%0") .. "(%(.*)$")
  if pre and pre ~= name then return name .. "." .. k .. rest end
  return sig
end

-- Names in indented columns (as TAB lists them), lines of at most 78 characters.
local function columns(names, indent)
  local ok, repl = pcall(require, "cajal.repl")
  if not (ok and type(repl) == "table" and repl.columns) then return indent .. concat(names, ", ") .. "\n" end
  return (repl.columns(names, 78 - #indent):gsub("[^\n]+", indent .. "%0"))
end

-- A few well-known unit names first, for the one-line summary of units.
local COMMON_UNITS = { "ms", "mV", "nS", "pA", "Hz", "nF", "Mohm", "um", "mM" }

-- help(module): one line per function, then submodules and other values.
-- Quantities (the unit names: cj.mV, ...) are summarised on one line when
-- the module also has functions, so they do not push those off the screen.
local function showmodule(t, name)
  local funcs, mods, values, units = {}, {}, {}, {}
  for _, k in ipairs(modulekeys(t)) do
    local v = get(t, k)
    local doc = v ~= nil and core.doc(v)
    if doc then
      funcs[#funcs + 1] = signature(doc, name, k)
    elseif type(v) == "function" then
      funcs[#funcs + 1] = format("%s.%s(...)", name, k)
    elseif core.isquantity and core.isquantity(v) then
      units[#units + 1] = k
    elseif type(v) == "table" and not (getmetatable(v) or {}).__tostring then
      mods[#mods + 1] = k
    elseif v ~= nil then
      values[#values + 1] = k
    end
  end
  local doc = core.doc(t)
  if doc then write(doc, "\n\n") end
  if #funcs > 0 then
    write("Functions:\n")
    for _, s in ipairs(funcs) do write("  ", s, "\n") end
  end
  if #mods > 0 then
    write("Modules (help(", name, ".NAME)):\n  ", concat(mods, ", "), "\n")
  end
  if #values > 0 then
    write("Values:\n  ", concat(values, ", "), "\n")
  end
  if #units > 0 and #funcs > 0 then
    local have, some = {}, {}
    for _, u in ipairs(units) do have[u] = true end
    for _, u in ipairs(COMMON_UNITS) do if have[u] then some[#some + 1] = name .. "." .. u end end
    local where = rawget(t, "units") and name .. ".units" or name
    write(format("Units: %d names, e.g. %s, ...: help(%s) lists them\n", #units, concat(some, ", "), where))
  elseif #units > 0 then
    write(format("Units (%d names; prefixes f p n u m k M G, long names too):\n", #units))
    write(columns(units, "  "))
  end
  if #funcs + #mods + #values + #units == 0 then write("(an empty table)\n") end
end

local function intro()
  write([[
cajal help
  help(f)            what function f does, e.g. help(cj.zeros)
  help(cj)           the functions of the cajal module, with their signatures
  help(cj.io)        the same for a part of it (cj.io, cj.regex, cj.plot, ...)
  help("zeros")      a cajal function by name ("raster", "io.save_npy", "run")
  help("lif")        a model of the library (help("models") lists them)
  help(net)          a network (or net.E, net.spikes.E): its parts and how to reach them
  help("topic")      one of the topics below
Topics: ]], concat(topicorder, ", "), ", models\n")
end

-- A dotted name inside the cajal module ("zeros", "cj.io.save_npy").
local function lookup(name)
  local cj = cajal()
  if not cj then return nil end
  local v = cj
  name = name:gsub("^cj%.", ""):gsub("^cajal%.", "")
  for part in name:gmatch("[^.:]+") do
    v = get(v, part)
    if v == nil then return nil end
  end
  return v
end

-- ---- functions by their bare name ----------------------------------------------

-- Every registered help text whose signature names a function or method
-- `name` ("cj.plot.raster(", "net:run(", "mon:rate("), the modules of cj
-- loaded first so that their texts are registered.
local function byname(name)
  local cj = cajal()
  if cj then
    for _, k in ipairs(modulekeys(cj)) do get(cj, k) end   -- loads cj.plot, cj.load, ...
  end
  local docs = debug.getregistry()["cajal.docs"]
  local found, groups = {}, {}
  if type(docs) ~= "table" or not name:match("^[%a_][%w_]*$") then return found end
  for f, text in pairs(docs) do
    local sig = firstline(text)
    if sig:find("^" .. name .. "%(") or sig:find("[.:]" .. name .. "%(") then
      -- one text per name as written ("net:run"): the Lua layer's over the
      -- runtime handle's method of the same name
      local key = sig:match("^(.-)%(")
      local lua = type(f) == "function" and debug.getinfo(f, "S").what == "Lua"
      local g = groups[key]
      if not g then
        groups[key] = { text = text, lua = lua }
        found[#found + 1] = key
      elseif lua and not g.lua then
        g.text, g.lua = text, true
      end
    end
  end
  -- cj's functions first, then the network's methods (what help("run") most
  -- often means), then other objects' methods, each group alphabetically
  local function rank(key)
    return key:find("^cj%.") and 0 or key:find("^net:") and 1 or 2
  end
  sort(found, function(x, y)
    if rank(x) ~= rank(y) then return rank(x) < rank(y) end
    return x < y
  end)
  for k, key in ipairs(found) do found[k] = groups[key].text end
  return found
end

-- ---- the model library --------------------------------------------------------

local function host()
  local ok, h = pcall(require, "cajal.host")
  return ok and type(h) == "table" and h or nil
end

local function libfiles()
  local h = host()
  local files = h and h.list and h.list("models/") or {}
  sort(files)
  return files
end

local function readlib(file)
  local h = host()
  if not h then return nil end
  local ok, text = pcall(h.findfile, file)
  return ok and text or nil
end

-- The comment at the top of a model file, without its '#' marks.
local function header(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if not line:match("^#") then break end
    out[#out + 1] = (line:gsub("^# ?", ""))
  end
  while out[#out] == "" do out[#out] = nil end
  return concat(out, "\n")
end

-- The models a file defines: { {kind, name, source text}, ... } in order.
local function models(text)
  local list = {}
  local pos = 1
  while true do
    local s, kind, name, open = text:match("()\n?(%a+)[ \t]+([%a_][%w_]*)%s*(){", pos)
    if not s then break end
    if (kind == "neuron" or kind == "synapse") and (s == 1 or text:sub(s, s) == "\n") then
      local depth, i = 0, open
      while i <= #text do                     -- the matching brace; comments skipped
        local c = text:sub(i, i)
        if c == "#" then i = (text:find("\n", i, true) or #text) - 1
        elseif c == "{" then depth = depth + 1
        elseif c == "}" then depth = depth - 1; if depth == 0 then break end end
        i = i + 1
      end
      local from = text:sub(s, s) == "\n" and s + 1 or s
      list[#list + 1] = { kind, name, text:sub(from, i) }
      pos = i + 1
    else
      pos = open
    end
  end
  return list
end

-- help for library model or file `name`: the text, or nil.
local function modelhelp(name)
  if not name:match("^[%a_][%w_]*$") then return nil end
  for _, file in ipairs(libfiles()) do
    local base = file:match("^models/(.*)%.cajal$")
    local text = readlib(file)
    if text then
      local list = models(text)
      local names, hit = {}, nil
      for _, m in ipairs(list) do
        names[#names + 1] = m[2]
        if m[2] == name then hit = m end
      end
      if hit or base == name then
        local out = {}
        if hit then
          out[#out + 1] = format("%s %s, from the model library: import \"models/%s\"", hit[1], name, base)
          out[#out + 1] = hit[1] == "neuron" and format("  population P = %s(N [, parameter = value, ...])", name)
            or format("  connect A -> B %s(...) with probability p weight w", name)
        else
          out[#out + 1] = format("models/%s, in the model library: import \"models/%s\"", base, base)
        end
        out[#out + 1] = ""
        out[#out + 1] = header(text)
        if hit then
          out[#out + 1] = ""
          out[#out + 1] = hit[3]
        end
        local others = {}
        for _, n in ipairs(names) do if n ~= name then others[#others + 1] = n end end
        if #others > 0 then
          out[#out + 1] = ""
          out[#out + 1] = format("%s models/%s: %s (help(\"NAME\") for one)",
            hit and "Also in" or "Models in", base, concat(others, ", "))
        end
        return concat(out, "\n")
      end
    end
  end
  return nil
end

-- The "models" topic: every file of the library and its models.
local function modelstopic()
  local out = { "The model library (import \"models/FILE\"; help(\"NAME\") shows one model)" }
  for _, file in ipairs(libfiles()) do
    local text = readlib(file)
    if text then
      local names = {}
      for _, m in ipairs(models(text)) do names[#names + 1] = m[2] end
      out[#out + 1] = format("  %-22s %s", file:match("^(models/.*)%.cajal$"), concat(names, ", "))
    end
  end
  return concat(out, "\n")
end

local function describe(v)
  local t = type(v)
  if t == "function" then
    local info = debug.getinfo(v, "S")
    if info.what == "Lua" then
      return format("no help for this function (defined at %s:%d)", info.short_src, info.linedefined)
    end
    return "no help registered for this function"
  end
  return format("no help for this %s value (%s)", t, tostring(v))
end

function M.help(x, ...)
  if select("#", ...) > 0 then
    error("bad argument #2 to 'help' (at most one argument expected)", 2)
  end
  if x == nil then intro(); return end
  local g = rawget(_G, "help")                -- the host's global, which calls this
  if x == g and g ~= M.help then x = M.help end
  local doc = core.doc(x)
  if doc then write(doc, "\n"); return end
  if type(x) == "string" then
    if topics[x] then write(topics[x], "\n"); return end
    if x == "models" then write(modelstopic(), "\n"); return end
    local v = lookup(x)
    if v ~= nil and v ~= cajal() then return M.help(v) end
    if x == "cj" or x == "cajal" then return M.help(cajal()) end
    local texts = byname(x)
    local model = modelhelp(x)
    if model then texts[#texts + 1] = model end
    if #texts > 0 then write(concat(texts, "\n\n"), "\n"); return end
    write(format("no help for %q: try help() for the topics, help(cj) for the functions\n", x))
    return
  end
  local mt = getmetatable(x)
  local objhelp = type(mt) == "table" and rawget(mt, "__help")
  if objhelp then
    local text = type(objhelp) == "function" and objhelp(x) or objhelp
    write(tostring(text), "\n")
    return
  end
  if type(x) == "table" and not (getmetatable(x) or {}).__tostring then
    local name = x == cajal() and "cj" or "?"
    if name == "?" then
      local cj = cajal()
      for _, k in ipairs(cj and modulekeys(cj) or {}) do
        if rawget(cj, k) == x then name = "cj." .. k end
      end
    end
    showmodule(x, name)
    return
  end
  write(describe(x), "\n")
end

-- text(x) -> the text help(x) prints (the Jupyter kernel's inspect).
function M.text(x)
  local outer = captured
  captured = {}
  local ok, err = pcall(M.help, x)
  local s = concat(captured)
  captured = outer
  if not ok then error(err, 0) end
  return s
end

core.doc(M.help, [[
help([f | name | topic])
Print the help text of a cajal function (help(cj.zeros)), the functions of a
module with their signatures (help(cj)), a function or method by its name
(help("raster"), help("run")), a model of the library (help("lif")), an object
such as a network (help(net)), or a topic (help("repl")); help() lists them.]])
core.doc(M.text, [[
cajal.help.text(x) -> string
The text help(x) prints, as a string.]])
core.doc(M.topic, [[
cajal.help.topic(name, text)
Add or replace the help topic shown by help(name).]])

return M
