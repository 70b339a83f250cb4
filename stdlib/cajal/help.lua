-- cajal.help — help(): the text registered for cajal's functions and a few
-- topics. cj.help is this module's help; the REPL also makes it a global.
--
--   help()            what help can do, and the topics
--   help(f)           the registered text of f (core.doc / cj_setdocs)
--   help(cj), help(cj.io)   a module's functions with their signatures
--   help("zeros"), help("io.save_npy"), help("repl")   by name or topic
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
  TAB            completes globals, and fields after '.' or ':' (cj.ze<TAB>)
  Ctrl-C         discards the line; while code runs, stops it ("interrupted")
  Ctrl-D         on an empty line, ends the session
  Up/Down, Ctrl-R   history, kept in ~/.cajal_history ($CAJAL_HISTORY)
  cj, help       the cajal module and this function are globals here
Line editing is libedit's emacs mode; ~/.editrc is read.]])

M.topic("env", [[
Environment variables read by cajal (see man cajal)
  CAJAL_HOME      a cajal source tree whose Lua modules and models are used first
  CAJAL_PATH      folders searched by `import` in model files (':'-separated)
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

-- help(module): one line per function, then submodules and other values.
local function showmodule(t, name)
  local funcs, mods, values = {}, {}, {}
  local width = 0
  for _, k in ipairs(modulekeys(t)) do
    local v = get(t, k)
    local doc = v ~= nil and core.doc(v)
    if doc then
      funcs[#funcs + 1] = firstline(doc)
    elseif type(v) == "function" then
      funcs[#funcs + 1] = format("%s.%s(...)", name, k)
    elseif type(v) == "table" and not (getmetatable(v) or {}).__tostring then
      mods[#mods + 1] = k
    elseif v ~= nil then
      values[#values + 1] = k
    end
    width = math.max(width, #k)
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
  if #funcs + #mods + #values == 0 then write("(an empty table)\n") end
end

local function intro()
  write([[
cajal help
  help(f)            what function f does, e.g. help(cj.zeros)
  help(cj)           the functions of the cajal module, with their signatures
  help(cj.io)        the same for a part of it (cj.io, cj.regex, cj.plot, ...)
  help("zeros")      a cajal function by name ("io.save_npy" for a part's)
  help("topic")      one of the topics below
Topics: ]], concat(topicorder, ", "), "\n")
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
  local doc = core.doc(x)
  if doc then write(doc, "\n"); return end
  if type(x) == "string" then
    if topics[x] then write(topics[x], "\n"); return end
    local v = lookup(x)
    if v ~= nil and v ~= cajal() then return M.help(v) end
    if x == "cj" or x == "cajal" then return M.help(cajal()) end
    write(format("no help for %q: try help() for the topics, help(cj) for the functions\n", x))
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
module with their signatures (help(cj)), or a topic (help("repl")); help() lists them.]])
core.doc(M.text, [[
cajal.help.text(x) -> string
The text help(x) prints, as a string.]])
core.doc(M.topic, [[
cajal.help.topic(name, text)
Add or replace the help topic shown by help(name).]])

return M
