-- apiwalk.lua — every function a script can reach from `require "cajal"`,
-- with its help text (core.doc). Shared by tests/lua/docs.lua (which fails
-- on a function without help, or with help but absent from
-- man/cajal-api.3) and tests/docs/genapi.lua (which writes the function
-- reference of that page from the same list).
--
--   local walk = dofile(dir .. "/apiwalk.lua")
--   local list, problems = walk.collect()
--   -- list: { {name = "cj.zeros", fn = f, doc = text | nil}, ... } one entry
--   --       per distinct function, in a stable order
--   -- problems: texts of what could not be reached (a network that failed
--   --       to build, ...)
--
-- What is walked: the module and its tables (io, regex, plot, compile, ...),
-- including the parts loaded on first use, and the modules cajal.help and
-- cajal.repl; the methods of one object of
-- each kind (array, quantity, rng, regex, npy writer, network, population,
-- projection, the three monitors); and the __index table of every
-- metatable cajal registers (luaL_newmetatable "cajal.*"), so a userdata
-- type that the walk does not construct is still covered.
local cj = require "cajal"
local core = require "cajal.core"
local repl = require "cajal.repl"

local getmetatable = debug.getmetatable
local format, sort = string.format, table.sort

local M = {}

-- Names that exist on an object but that no listing shows: a quantity's
-- __index is a C function answering value, dim, exponents, to and in.
M.hidden = { quantity = { "to", "in" } }

-- A small network with a population, a named projection with synapse
-- state, and every kind of monitor; runs on the interpreter, so building it
-- needs no C compiler.
M.network_source = [[
import "models/lif"
import "models/stdp"
population In = poisson(4, rate = 10 Hz)
population E = lif(3)
connect In -> E stdp(g_max = 1 nS) with probability 1 as P
record spikes of E
record v of E every 1 ms
record rate of E
]]

local function get(v, k)
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
  return nil
end

-- A plain table (a module or a table of monitors), not an object.
local function plain(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return not (mt and (rawget(mt, "__name") or rawget(mt, "__tostring")))
end

local Walker = {}
Walker.__index = Walker

local function newwalker()
  return setmetatable({ list = {}, seenf = {}, seenv = {}, seenmt = {}, problems = {} }, Walker)
end

function Walker:addfn(name, f)
  if self.seenf[f] then return end
  self.seenf[f] = true
  self.list[#self.list + 1] = { name = name, fn = f, doc = core.doc(f) }
end

-- v reached as `path`; sep is "." for modules and ":" for objects.
function Walker:walk(v, path, sep)
  if self.seenv[v] then return end
  self.seenv[v] = true
  local names = repl.names(v)
  for _, k in ipairs(names) do
    local x = get(v, k)
    local p = path .. sep .. k
    if type(x) == "function" then
      self:addfn(p, x)
    elseif plain(x) then
      self:walk(x, p, ".")
    elseif type(x) == "table" or type(x) == "userdata" then
      self:object(x, p)
    end
  end
end

-- An object: walked once per metatable (all quantities share one).
function Walker:object(x, path)
  local mt = getmetatable(x)
  if mt == nil or self.seenmt[mt] then return end
  self.seenmt[mt] = true
  local kind = tostring(rawget(mt, "__name") or path):gsub("^cajal%.", "")
  self:walk(x, kind, ":")
  for _, k in ipairs(M.hidden[kind] or {}) do
    local f = get(x, k)
    if type(f) == "function" then self:addfn(kind .. ":" .. k, f)
    else self.problems[#self.problems + 1] = format("%s:%s is not a function", kind, k) end
  end
end

function Walker:try(what, f)
  local ok, err = pcall(f)
  if not ok then self.problems[#self.problems + 1] = format("%s: %s", what, tostring(err)) end
end

function Walker:objects()
  self:try("array", function() self:object(cj.zeros(2, 2), "array") end)
  self:try("quantity", function() self:object(20 * cj.ms, "quantity") end)
  self:try("rng", function() self:object(cj.rng(1), "rng") end)
  self:try("regex", function() self:object(cj.regex.compile("a(b)"), "regex") end)
  self:try("npy writer", function()
    local path = os.tmpname()
    local w = cj.io.npy_writer(path, "float64", 2)
    self:object(w, "npywriter")
    w:close()
    os.remove(path)
  end)
  self:try("boltzmann", function()
    local B = cj.boltzmann
    self:object(B.bm(2, 1, { seed = 1 }), "bm")
    self:object(B.hopfield(4, { seed = 1 }), "hopfield")
    self:object(B.rbm(2, 2, { seed = 1 }), "rbm")
    self:object(B.dbn({ 2, 2, 2 }, { seed = 1 }), "dbn")
    self:object(B.ising(4, { seed = 1 }), "ising")
  end)
  self:try("network", function()
    local net = cj.network(M.network_source, { seed = 1, backend = "interp", progress = false })
    self:object(net, "network")
    self:object(net.E, "population")
    self:object(net.P, "projection")
    self:object(net.spikes.E, "spikemonitor")
    self:object(net.state.E.v, "statemonitor")
    self:object(net.rate.E, "ratemonitor")
  end)
end

-- The method tables of every metatable cajal registered (__index itself,
-- or the table in the first upvalue of an __index function).
function Walker:registry()
  local names = {}
  for k, v in pairs(debug.getregistry()) do
    if type(k) == "string" and k:match("^cajal%.") and type(v) == "table"
       and rawget(v, "__name") == k then
      names[#names + 1] = k
    end
  end
  sort(names)
  for _, k in ipairs(names) do
    local mt = debug.getregistry()[k]
    local idx = rawget(mt, "__index")
    -- methods of an __index function: mt.methods (as cajal.som), else a table upvalue
    if type(idx) ~= "table" then idx = rawget(mt, "methods") end
    if type(idx) == "nil" and type(rawget(mt, "__index")) == "function" then
      local _, up = debug.getupvalue(rawget(mt, "__index"), 1)
      idx = type(up) == "table" and up or nil
    end
    if type(idx) == "table" and not self.seenv[idx] then
      self:walk(idx, (k:gsub("^cajal%.", "")), ":")
    end
  end
end

function M.collect()
  local w = newwalker()
  w:walk(cj, "cj", ".")
  w:walk(require "cajal.help", "cajal.help", ".")   -- help() and help topics
  w:walk(require "cajal.repl", "cajal.repl", ".")   -- the REPL's Lua half
  w:objects()
  w:registry()
  return w.list, w.problems
end

-- The first line of a help text: the signature.
function M.signature(doc)
  return (doc:match("^[^\n]*"):gsub("%s+$", ""))
end

return M
