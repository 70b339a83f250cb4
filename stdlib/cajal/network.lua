-- cajal.network — networks from Lua: cj.load, cj.network, cj.restore.
--
-- A .cajal model is compiled (cajal.compile: text -> IR -> C), its kernels
-- compiled to machine code through the compile cache (core.jit_compile) or
-- left to the IR interpreter, and the runtime (vm/core/net.c through
-- vm/bind/lnet.c) builds the network. This module wraps the runtime's
-- handle in the object scripts use:
--
--   local net = cj.load("examples/cuba.cajal", { seed = 1 })
--   net:run(1 * cj.second)
--   print(net.spikes.E:rate(), net.E.v)
--
-- Conventions:
--   * Neuron and synapse indices are 1-based in Lua: neuron k of E is
--     net.E.v[k], and spike monitors report k. The model file counts from 0
--     (E[0..99] is net.E.v[1..100]).
--   * Durations are quantities (10 * cj.ms) or numbers of seconds. run()
--     rounds a duration to the nearest whole number of steps.
--   * net.E.v is a live view of the runtime's memory, with its unit:
--     reading it between runs sees the current state, writing it (or
--     assigning net.E.v = x) changes the network.
--   * Everything stays in C while running: Lua is called back only between
--     chunks of steps, for net:every() callbacks.
local core = require "cajal.core"
local files = require "cajal.files"

local format, concat = string.format, table.concat
local floor, huge = math.floor, math.huge
local mtype = math.type

local M = {}

-- Private state of each object (network, population, monitor): obj -> fields.
-- Kept out of the objects so every name a model declares is free for
-- populations and variables.
local priv = setmetatable({}, { __mode = "k" })

---------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------

-- Raise "bad argument #n to 'fname' (msg)" at the caller's caller: level
-- counts from the function calling argerror (2: that function's caller,
-- the default for public functions).
local function argerror(fname, n, msg, level)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 2) + 1)
end

local function isarray(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return mt and mt.__name == "cajal.array" or false
end

-- The dimension of x as cj.dimension prints it ("1" for a plain number), or
-- nil if x is not a number, quantity or array.
local function dimof(x)
  if type(x) == "number" then return "1" end
  if core.isquantity(x) or isarray(x) then return core.dimension(x) end
  return nil
end

-- The dimension of a unit text of the IR ("V", "mV", "1", "").
local unitdims = {}
local function unitdim(u)
  if u == nil or u == "" or u == "1" then return "1" end
  local d = unitdims[u]
  if not d then
    local ok, q = pcall(core.unit, u)
    d = ok and dimof(q) or u
    unitdims[u] = d
  end
  return d
end

-- A duration (quantity of time or number of seconds) in seconds.
local function seconds(fname, n, x, what)
  what = what or "duration"
  if type(x) == "number" then return x end
  if core.isquantity(x) then
    local d = core.dimension(x)
    if d ~= "s" then argerror(fname, n, format("%s expected (a time), got a quantity in %s", what, d), 3) end
    return x.value
  end
  argerror(fname, n, format("%s expected (a quantity of time or a number of seconds), got %s",
    what, type(x)), 3)
end

-- The nearest whole number of steps of sec (halves round up; a slack of
-- 1e-9 step absorbs the rounding of sec / dt).
local function tosteps(sec, dt)
  return floor(sec / dt + 0.5 + 1e-9)
end

local function seconds_q(x) return x * core.second end

---------------------------------------------------------------------------
-- Options
---------------------------------------------------------------------------

local OPTIONS = {
  seed = "a non-negative integer",
  dt = "a positive duration",
  params = "a table of parameter overrides",
  arrays = "a table of arrays",
  method = "an integration method name",
  precision = "\"double\" or \"single\"",
  backend = "\"jit\", \"interp\", \"tiered\" or \"auto\"",
  progress = "a boolean",
}
local OPTNAMES = {}
for k in pairs(OPTIONS) do OPTNAMES[#OPTNAMES + 1] = k end
table.sort(OPTNAMES)

local function showval(v)
  if type(v) == "number" or type(v) == "string" or type(v) == "boolean" then return tostring(v) end
  if core.isquantity(v) then return tostring(v) end
  return type(v)
end

-- opts of fname (its argument n) checked; returns a shallow copy.
local function checkopts(fname, n, opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(fname, n, "table of options expected, got " .. type(opts), 3) end
  local o = {}
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      argerror(fname, n, format("unknown option '%s' (options: %s)", tostring(k), concat(OPTNAMES, ", ")), 3)
    end
    o[k] = v
  end
  local function bad(k)
    argerror(fname, n, format("option '%s': %s expected, got %s", k, OPTIONS[k], showval(o[k])), 4)
  end
  if o.seed ~= nil then
    local s = o.seed
    if mtype(s) == "float" and s == floor(s) and s >= 0 and s < 2^63 then o.seed = floor(s)
    elseif not (mtype(s) == "integer" and s >= 0) then bad("seed") end
  end
  if o.dt ~= nil then
    local ok, s = pcall(seconds, fname, n, o.dt)
    if not ok or not (s > 0 and s < huge) then bad("dt") end
  end
  if o.params ~= nil and type(o.params) ~= "table" then bad("params") end
  if o.arrays ~= nil and type(o.arrays) ~= "table" then bad("arrays") end
  if o.method ~= nil and type(o.method) ~= "string" then bad("method") end
  if o.precision ~= nil and o.precision ~= "double" and o.precision ~= "single" then bad("precision") end
  if o.backend ~= nil and o.backend ~= "jit" and o.backend ~= "interp" and o.backend ~= "auto" and
     o.backend ~= "tiered" then
    bad("backend")
  end
  if o.progress ~= nil and type(o.progress) ~= "boolean" then bad("progress") end
  return o
end

---------------------------------------------------------------------------
-- Building: compile, pick the backend, make the runtime network
---------------------------------------------------------------------------

local warned = {}

-- One warning per cause and process.
local function warnonce(why)
  if warned[why] then return end
  warned[why] = true
  io.stderr:write("cajal: warning: ", why, "; networks run on the interpreter\n")
end

-- The compiled kernels of ir (nil for the interpreter) and the backend
-- name. No compiler (or CAJAL_JIT=off), or a failure of the environment
-- while compiling (a full disk, no assembler, a compiler killed or past
-- CAJAL_JIT_TIMEOUT, an unsafe cache directory), falls back to the
-- interpreter with a one-line warning naming the cause; with backend "jit"
-- asked for, it is an error. A compiler that fails on the generated C is an
-- error naming the model line whose code failed.
-- A bad option found while building: cj.load / cj.network raise it as an
-- argument error at their caller's line (cj.restore prints it).
local OPTERR = { __tostring = function(e) return e.fname .. ": " .. e.msg end }
local function opterror(fname, msg)
  error(setmetatable({ fname = fname, msg = msg }, OPTERR), 0)
end

-- Tiered start (backend "auto" by default, or "tiered"): kernels not in the
-- cache are compiled in the background while the network runs on the
-- interpreter, and it switches to them between steps when they are loaded
-- (backend "tiered" is returned with the compile job). CAJAL_TIERED=0 (or
-- off, no, false) makes "auto" wait for the compiler, as "jit" does.
local function tieredenv()
  local s = os.getenv("CAJAL_TIERED")
  return not (s == "0" or s == "off" or s == "no" or s == "false")
end

local function pickbackend(fname, ir, opts)
  local want = opts.backend or "auto"
  if want == "auto" and os.getenv("CAJAL_JIT") == "off" then want = "interp" end
  if want == "interp" then return nil, "interp" end
  local ok, why = core.jit_available()
  if not ok or not ir.c_source then
    why = why or "the model has no C source"
    if want == "jit" then opterror(fname, format("option 'backend': backend 'jit' unavailable: %s", why)) end
    warnonce(why)
    return nil, "interp"
  end
  local tiered = want == "tiered" or (want == "auto" and tieredenv())
  local jit, err, kind = (tiered and core.jit_start or core.jit_compile)(ir.c_source, ir.kernels)
  if jit and getmetatable(jit).__name == "cajal.jitjob" then return jit, "tiered" end
  if not jit then
    if kind ~= "environment" or want == "jit" then error(format("%s: %s", fname, tostring(err)), 0) end
    warnonce(tostring(err):gsub("^jit: ", "cannot compile kernels: "))
    return nil, "interp"
  end
  return jit, "jit"
end

local wrap  -- forward

-- Build the network of source (named filename) with checked opts; with
-- savefile (core.savefile_read), take its state from it instead of building.
-- importdir: the folder imports start from when there is no filename.
local function build(fname, source, filename, opts, savefile, importdir)
  local compile = require "cajal.compile"
  local copts = { seed = opts.seed, dt = opts.dt, params = opts.params, arrays = opts.arrays,
                  method = opts.method, precision = opts.precision, importdir = importdir }
  if opts.backend == "interp" or ((opts.backend or "auto") ~= "jit" and os.getenv("CAJAL_JIT") == "off") then
    copts.jit = false      -- no C to emit
  end
  local ok, ir = pcall(compile.build, source, filename, copts)
  if not ok then
    -- compile.build names itself for bad options: they are options of fname
    local text = tostring(ir)
    local k, why = text:match("^compile%.build: bad argument 'opts%.([%w_]+)' %((.*)%)$")
    if k then opterror(fname, format("option '%s': %s", k, why)) end
    local rest = text:match("^compile%.build: (opts%..*)$")
    if rest then opterror(fname, (rest:gsub("^opts%.([%w_]+)%.?", "option '%1': "))) end
    error(ir, 0)
  end
  local jit, backend = pickbackend(fname, ir, opts)
  local h
  if savefile then
    local ok, r = pcall(core.net_restore, ir, savefile, jit)
    if not ok then
      r = tostring(r):gsub("^[^\n]-%.lua:%d+: ", ""):gsub("^net_restore: ", "")
      error(format("%s: %s", fname, r), 0)
    end
    h = r
  else
    -- what only the runtime can check (a drawn delay out of range, a Poisson
    -- rate above 1/dt): the message names the network, not this file
    local ok, r = pcall(core.net_new, ir, jit)
    if not ok then error(format("%s: %s", fname, (tostring(r):gsub("^net_new: ", ""))), 0) end
    h = r
  end
  return wrap(h, ir, backend, { source = source, filename = filename, opts = opts, importdir = importdir })
end

---------------------------------------------------------------------------
-- Populations and projections: live state as array views
---------------------------------------------------------------------------

local Group = {}     -- methods of populations and projections
local groupmt = { __name = "cajal.population" }

-- The names of vars, without the compiler's hidden ones ("g@E->I": the
-- postsynaptic state of a projection, still readable as net.E["g@E->I"]).
local function varlist(vars)
  local t = {}
  for _, v in ipairs(vars) do
    if not v.name:find("@", 1, true) then t[#t + 1] = v.name end
  end
  return concat(t, ", ")
end

local function findvar(o, name)
  for k, v in ipairs(o.vars) do if v.name == name then return k, v end end
  error(format("%s '%s' has no variable '%s' (variables: %s)", o.what, o.name, tostring(name),
    varlist(o.vars)), 3)
end

local function view(o, vid)
  local h = priv[o.net].h
  if o.what == "population" then return h:state(o.id, vid) end
  return h:synvar(o.id, vid)
end

groupmt.__index = function(obj, k)
  local m = Group[k]
  if m ~= nil then return m end
  local o = priv[obj]
  if k == "N" then return o.n end
  if k == "name" then return o.name end
  return view(o, (findvar(o, k)))
end

-- Variables a script cannot meaningfully write: the runtime recomputes them.
local function readonly(o, k, var)
  local what = o.name .. "." .. tostring(k)
  if var.role == "input" then
    error(format("%s: '%s' is an input, the sum of what is connected to it, recomputed every step: "
      .. "writing it would have no effect. To inject a current, give the population a per-neuron parameter "
      .. "(population %s = model(N, I_e = i * 20 pA), then net.%s.I_e can be written), write a state variable, "
      .. "or drive the input from an array (drive %s of %s from arrays NAME every DT)", what, k, o.name, o.name,
      k, o.name), 3)
  elseif var.role == "definition" then
    error(format("%s: '%s' is a definition (an equation NAME = EXPR), computed from the state: write the "
      .. "variables it uses", what, k), 3)
  elseif var.role == "hidden" then
    error(format("%s: '%s' is the compiler's own variable: it cannot be written", what, k), 3)
  end
end

groupmt.__newindex = function(obj, k, x)
  local o = priv[obj]
  local vid, var = findvar(o, k)
  readonly(o, k, var)
  local what = o.name .. "." .. tostring(k)
  -- the length first: a list of the wrong length is wrong whatever its unit
  if type(x) == "table" then            -- a list of numbers or of quantities of one unit
    if #x ~= o.n then error(format("%s: expected %d values, got %d", what, o.n, #x), 2) end
    local ok, a = pcall(core.array, x)
    if not ok then error(format("%s: %s", what, tostring(a)), 2) end
    x = a
  end
  if isarray(x) and x:numel() ~= o.n then
    error(format("%s: expected %d values, got an array of %d", what, o.n, x:numel()), 2)
  end
  local want, got = unitdim(var.unit), dimof(x)
  if got == nil then error(format("%s: a number, quantity or array expected, got %s", what, type(x)), 2) end
  if got ~= want then
    error(format("%s: a value in %s expected, got %s", what, want,
      got == "1" and "a plain number (multiply by a unit, e.g. x * cj.mV)" or "a value in " .. got), 2)
  end
  local v = view(o, vid)
  v[{}] = isarray(x) and x:reshape(o.n) or x
end

groupmt.__tostring = function(obj)
  local o = priv[obj]
  return format("%s %s: %d %s (%s)", o.what, o.name, o.n,
    o.what == "population" and "neurons" or "synapses", varlist(o.vars))
end

groupmt.__len = function(obj) return priv[obj].n end

-- TAB completion (cajal.repl): the variables, N and name (the methods come
-- from Group through __index).
groupmt.__complete = function(obj)
  local t = { "N", "name" }
  for _, v in ipairs(priv[obj].vars) do
    if not v.name:find("@", 1, true) then t[#t + 1] = v.name end
  end
  return t
end

-- help(net.E): what the population or projection holds and how to use it.
groupmt.__help = function(obj)
  local o = priv[obj]
  local L = { tostring(obj) }
  local pre = "net." .. (o.name:match("^[%a_][%w_]*$") and o.name or format("projections[%q]", o.name))
  L[#L + 1] = format("  %s.N = %d; %s.name = %q", pre, o.n, pre, o.name)
  for _, v in ipairs(o.vars) do
    if not v.name:find("@", 1, true) then
      L[#L + 1] = format("  %s.%-10s live state of every %s, in %s (read it, or assign: %s.%s = x)",
        pre, v.name, o.what == "population" and "neuron" or "synapse",
        (v.unit or "") ~= "" and v.unit or "1", pre, v.name)
    end
  end
  if o.what == "population" then
    L[#L + 1] = format("  %s:lastspike()   last spike time of each neuron; %s:varnames()", pre, pre)
    L[#L + 1] = "Indices are 1-based in Lua: neuron k of the model file (from 0) is [k + 1]."
  else
    L[#L + 1] = format("  %s:connectivity()   pre, post (1-based) and delay (steps) of each synapse", pre)
  end
  return concat(L, "\n")
end

-- proj:connectivity() -> pre, post (1-based neuron indices, int32 arrays)
-- and delays (in steps) of every synapse, in synapse order.
function Group:connectivity()
  local o = priv[self]
  if o.what ~= "projection" then error("connectivity: " .. o.name .. " is not a projection", 2) end
  return priv[o.net].h:connectivity(o.id)
end

-- pop:varnames() -> the names of the state variables (hidden ones too)
function Group:varnames()
  local t = {}
  for k, v in ipairs(priv[self].vars) do t[k] = v.name end
  return t
end

-- pop:lastspike() -> the time of the last spike of each neuron (s; -inf before the first)
function Group:lastspike()
  local o = priv[self]
  if o.what ~= "population" then error("lastspike: " .. o.name .. " is not a population", 2) end
  return priv[o.net].h:lastspike(o.id)
end

local function newgroup(net, what, id, name, n, vars)
  local obj = setmetatable({}, groupmt)
  priv[obj] = { net = net, what = what, id = id, name = name, n = n, vars = vars or {} }
  return obj
end

---------------------------------------------------------------------------
-- Monitors
---------------------------------------------------------------------------

local SpikeMon, StateMon, RateMon = {}, {}, {}
local register, indexlabel   -- below
local spikemt = { __index = SpikeMon, __name = "cajal.spikemonitor" }
local statemt = { __index = StateMon, __name = "cajal.statemonitor" }
local ratemt  = { __index = RateMon,  __name = "cajal.ratemonitor" }

-- A monitor's data as the binding gives it: spikes (times in s, 1-based
-- indices), state (values rows x cols, times), rate (rates, window start
-- times); a monitor streamed to a file (`record ... to "x.npy"`, written at
-- the end of every run) is read back from the file by the binding.
local function fetch(mon)
  local o = priv[mon]
  local h = priv[o.net].h
  local ok, a, b = pcall(h.monitor, h, o.id)
  if not ok then error(a, 3) end
  return a, b, o
end

-- mon:times() -> spike times (an array in s), in the order they happened.
function SpikeMon:times()
  return (fetch(self))
end

-- mon:indices() -> the neuron of each spike, 1-based in its population
-- (neuron k of E is net.E.v[k]; for a monitor of E[100..199] the indices
-- run from 101 to 200), in the order of times().
function SpikeMon:indices()
  local _, idx = fetch(self)
  return idx
end

-- mon:count() -> the number of spikes recorded.
function SpikeMon:count()
  return (fetch(self)):numel()
end

-- mon:counts() -> spikes of each neuron of the population (float64 array of
-- N, 1-based; neurons outside a monitored slice count 0).
function SpikeMon:counts()
  local _, idx, o = fetch(self)
  local c = {}
  for k = 1, o.n do c[k] = 0 end
  local t = idx:totable()
  for k = 1, #t do
    local i = t[k]
    c[i] = c[i] + 1
  end
  return core.array(c)
end

-- mon:rate() -> mean firing rate of the recorded neurons over the time
-- recorded (since the network was built or reset): a quantity in Hz.
function SpikeMon:rate()
  local t, _, o = fetch(self)
  local n = o.last - o.first + 1
  local T = priv[o.net].h:step() * priv[o.net].dt
  if T <= 0 or n <= 0 then return 0 * core.Hz end
  return (t:numel() / (n * T)) * core.Hz
end

-- mon:duration() -> the time recorded since the network was built or reset
-- (a quantity in s); mon:neurons() -> first, last: the 1-based range of the
-- recorded neurons. With times() and indices() they make a monitor a set
-- of spike trains for cj.coding and cj.info.
function SpikeMon:duration()
  local o = priv[self]
  return priv[o.net].h:step() * priv[o.net].dt * core.second
end

function SpikeMon:neurons()
  local o = priv[self]
  return o.first, o.last
end

-- mon:window(T) -> the spikes of the last T of the run (T rounded to whole
-- steps, at least one; clipped to the run so far), and mon:since(t) -> the
-- spikes from time t (rounded to a step) to now: spike windows
-- (vm/bind/lwindow.c) holding the spikes of steps t_start <= t < t_stop,
-- t_stop the current time. Found by binary search on the record and
-- copied alone, so their cost does not grow with the length of the run:
-- the way to watch a running network from a net:every() callback.
local function takewindow(self, fname, s0, now)
  local o = priv[self]
  local n = priv[o.net]
  local ok, w = pcall(n.h.window, n.h, o.id, s0, now)
  if not ok then error(format("%s: %s", fname, (tostring(w):gsub("^bad argument #%d to '[^']*' %((.*)%)$", "%1"))), 3) end
  return w
end

local function checkspikemon(self, fname)
  if getmetatable(self) ~= spikemt or not priv[self] then
    local mt = getmetatable(self)
    local what = type(mt) == "table" and rawget(mt, "__name") or type(self)
    error(format("%s: spike monitor expected (net.spikes.E), got %s", fname, tostring(what)), 3)
  end
  return priv[priv[self].net]
end

function SpikeMon:window(T)
  local n = checkspikemon(self, "window")
  local sec = seconds("window", 1, T, "window length")
  if not (sec > 0 and sec < huge) then
    argerror("window", 1, format("the window length must be positive and finite, got %s s", tostring(sec)))
  end
  local k = tosteps(sec, n.dt)
  if k < 1 then
    argerror("window", 1, format("the window must be at least one step (dt = %g ms)", n.dt * 1e3))
  end
  local now = n.h:step()
  return takewindow(self, "window", now > k and now - k or 0, now)
end

function SpikeMon:since(t)
  local n = checkspikemon(self, "since")
  local sec = seconds("since", 1, t, "start time")
  local now = n.h:step()
  local k = sec == sec and tosteps(sec, n.dt) or -1
  if not (sec >= 0 and k <= now) then
    argerror("since", 1, format("the start time must lie between 0 and the current time %g s, got %s s",
      now * n.dt, tostring(sec)))
  end
  return takewindow(self, "since", math.tointeger(k), now)
end

-- State and rate monitors record no spike times: say so.
local function nospikes(kind)
  return function(_, k)
    if k == "window" or k == "since" then
      error(format("%s: a %s monitor records no spike times; windows are taken of spike monitors (net.spikes.E)",
        k, kind), 2)
    end
  end
end
setmetatable(StateMon, { __index = nospikes("state") })
setmetatable(RateMon, { __index = nospikes("rate") })

spikemt.__tostring = function(mon)
  local o = priv[mon]
  return format("spike monitor of %s: %d spikes", o.label, mon:count())
end
spikemt.__len = function(mon) return mon:count() end

-- mon:times() -> the time of each record (s).
function StateMon:times()
  local _, t = fetch(self)
  return t
end

-- mon:values() -> a 2-D array in the variable's unit: one row per record
-- (times()), one column per recorded neuron or synapse (indices()).
function StateMon:values()
  return (fetch(self))
end

-- mon:indices() -> the recorded neurons (or synapses), 1-based (int32).
function StateMon:indices()
  return priv[self].indices:copy()
end

statemt.__tostring = function(mon)
  local o = priv[mon]
  local _, t = fetch(mon)
  return format("state monitor of %s.%s: %d %s, %d records", o.label, o.var, o.indices:numel(),
    o.what == "population" and "neurons" or "synapses", t:numel())
end

-- mon:times() -> the start of each window (s).
function RateMon:times()
  local _, t = fetch(self)
  return t
end

-- mon:values() -> the population rate in each window (Hz): spikes of the
-- recorded neurons / (neurons * window).
function RateMon:values()
  return (fetch(self))
end

ratemt.__tostring = function(mon)
  local o = priv[mon]
  return format("rate monitor of %s: %d windows", o.label, (fetch(mon)):numel())
end

-- "[10, 40]", "[0..9]", "" (all of n), "[3 of 10]" for the 0-based indices of a state monitor
function indexlabel(idx, n)
  if #idx == n then return "" end
  if #idx <= 4 then
    local t = {}
    for k, i in ipairs(idx) do t[k] = format("%d", i) end
    return "[" .. concat(t, ", ") .. "]"
  end
  if idx[#idx] - idx[1] == #idx - 1 then return format("[%d..%d]", idx[1], idx[#idx]) end
  return format("[%d of %d]", #idx, n)
end

local function slicelabel(name, lo, hi, n)
  if lo == 0 and hi == n - 1 then return name end
  if lo == hi then return format("%s[%d]", name, lo) end
  return format("%s[%d..%d]", name, lo, hi)
end

-- t[key] = mon, or t["key#2"], t["key#3"], ... when key is taken: every
-- monitor stays reachable (the compiler already merged what can be one).
function register(t, key, mon)
  if t[key] == nil then t[key] = mon; return end
  local k = 2
  while t[key .. "#" .. k] ~= nil do k = k + 1 end
  t[key .. "#" .. k] = mon
end

-- The monitor object of ir.monitors[id], registered in o's tables.
local function newmonitor(net, o, id, m)
  local ir = o.ir
  local mon
  if m.kind == "spikes" or m.kind == "rate" then
    local pop = ir.populations[m.pop]
    local lo, hi = m.range and m.range[1] or 0, m.range and m.range[2] or pop.n - 1
    local first, last = o.h:monitor_neurons(id)
    local p = { net = net, id = id, first = first, last = last, n = pop.n, every = m.every or 1,
                label = slicelabel(pop.name, lo, hi, pop.n) }   -- the label in the model's terms
    mon = setmetatable({}, m.kind == "spikes" and spikemt or ratemt)
    priv[mon] = p
    register(m.kind == "spikes" and o.spikes or o.rate, pop.name, mon)
  else
    local owner = m.proj and ir.projections[m.proj] or ir.populations[m.pop]
    local var = m.var_name or owner.vars[m.var].name
    local idx = o.h:monitor_neurons(id)
    local unit = ""
    for _, v in ipairs(owner.vars) do if v.name == var then unit = v.unit or "" end end
    mon = setmetatable({}, statemt)
    priv[mon] = { net = net, id = id, var = var, indices = idx, label = owner.name,
                  what = m.proj and "projection" or "population", unit = unit, every = m.every or 1 }
    local g = o.state[owner.name]
    if g == nil then g = {}; o.state[owner.name] = g end
    register(g, var, mon)
  end
  if m.name then
    if m.kind == "state" then
      local g = o.byname[m.name]
      if g == nil then g = {}; o.byname[m.name] = g end
      if type(g) == "table" and getmetatable(g) == nil then register(g, priv[mon].var, mon) end
    elseif o.byname[m.name] == nil then
      o.byname[m.name] = mon
    end
  end
  o.monitors[#o.monitors + 1] = mon
  return mon
end

---------------------------------------------------------------------------
-- The network object
---------------------------------------------------------------------------

local Net = {}
local netmt = { __name = "cajal.network" }

local FIELDS = {}   -- computed fields of a network

function FIELDS.t(o) return seconds_q(o.h:step() * o.dt) end
function FIELDS.dt(o) return seconds_q(o.dt) end
function FIELDS.step(o) return o.h:step() end
-- the backend running the network now: a tiered start is "interp" until it
-- has switched to the compiled kernels
local function backendof(o)
  if o.backend ~= "tiered" then return o.backend end
  return o.h:tier() == "jit" and "jit" or "interp"
end
function FIELDS.backend(o) return backendof(o) end
function FIELDS.compiling(o) return o.backend == "tiered" and o.h:tier() == "compiling" end
function FIELDS.seed(o) return o.ir.seed end
function FIELDS.name(o) return o.ir.name end
function FIELDS.populations(o) return o.pops end
function FIELDS.projections(o) return o.projs end
function FIELDS.spikes(o) return o.spikes end
function FIELDS.state(o) return o.state end
function FIELDS.rate(o) return o.rate end
function FIELDS.monitors(o) return o.monitors end
function FIELDS.memory(o) return o.h:info().memory end
function FIELDS.threads(o) return o.h:info().threads end

-- The names of o's parts reachable as net.NAME, sorted: populations,
-- named projections and named monitors.
local function partnames(o)
  local names = {}
  for k in pairs(o.byname) do names[#names + 1] = k end
  table.sort(names)
  return names
end

netmt.__index = function(net, k)
  local m = Net[k]
  if m ~= nil then return m end
  local o = priv[net]
  local f = FIELDS[k]
  if f then return f(o) end
  local v = o.byname[k]
  if v == nil then
    -- a typo must not read as nil: say what there is
    local names = partnames(o)
    error(format("network '%s' has no population, projection or monitor '%s' (%s; fields: t, dt, " ..
      "step, spikes, state, rate, populations, projections, ...; help(net) for all)", o.ir.name or "?",
      tostring(k), #names > 0 and "it has " .. concat(names, ", ") or "it has none"), 2)
  end
  return v
end

-- TAB completion (cajal.repl) offers the parts with the methods and fields.
netmt.__complete = function(net) return partnames(priv[net]) end

netmt.__newindex = function(_, k)
  error(format("cannot set field '%s' of a network (state is set through its population: net.E.v = x)",
    tostring(k)), 2)
end

function wrap(h, ir, backend, meta)
  local net = setmetatable({}, netmt)
  local o = { h = h, ir = ir, backend = backend, meta = meta, dt = h:dt(),
              every = {}, byname = {}, pops = {}, projs = {}, spikes = {}, state = {}, rate = {},
              monitors = {} }
  priv[net] = o
  for id, p in ipairs(ir.populations) do
    local g = newgroup(net, "population", id, p.name, p.n, p.vars)
    o.pops[id], o.pops[p.name], o.byname[p.name] = g, g, g
  end
  local info = h:info()
  for id, p in ipairs(ir.projections) do
    local g = newgroup(net, "projection", id, p.name, info.projections[id].nsyn, p.vars)
    o.projs[id], o.projs[p.name] = g, g
    if p.name:match("^[%a_][%w_]*$") and o.byname[p.name] == nil then o.byname[p.name] = g end
  end
  for id, m in ipairs(ir.monitors) do o.monitors[id] = newmonitor(net, o, id, m) end
  return net
end

---------------------------------------------------------------------------
-- Running
---------------------------------------------------------------------------

local MAXSTEPS = 1 << 53

-- A monitor streamed to a file (`record ... to "x.npy"`) is complete at the end
-- of every run: its provenance sidecar x.npy.prov.json (the network's record and
-- the data file's SHA-256, as cj.io.save_npy writes it) is written then, so it
-- always describes the file as it is between runs.
local function sidecars(net, o)
  for _, m in ipairs(o.ir.monitors) do
    if m.file then
      local ok, err = pcall(require("cajal.provenance").forfile, { net = net }, "npy", m.file)
      if not ok then error(format("run: monitor streamed to '%s': %s", m.file, tostring(err)), 3) end
    end
  end
end

-- net:run(duration): runs for duration (a quantity of time or a number of
-- seconds) rounded to the nearest whole number of steps. Returns nothing (as
-- Brian2's run), so the REPL prints nothing; net.step counts the steps.
function Net:run(duration)
  local o = priv[self]
  if not o then argerror("run", 1, "network expected") end
  local sec = seconds("run", 1, duration)
  if not (sec >= 0 and sec < huge) then
    argerror("run", 1, format("a non-negative finite duration expected, got %s", tostring(sec)))
  end
  if o.running then error("run: the network is already running (called from an every() callback?)", 2) end
  -- steps are counted in integers; past 2^53 whole steps are no longer exact
  local nsteps = math.tointeger(tosteps(sec, o.dt))
  if not nsteps or nsteps > MAXSTEPS - o.h:step() then
    argerror("run", 1, format("duration too long: %.4g steps of %g ms (at most %d steps in all)",
      sec / o.dt, o.dt * 1e3, MAXSTEPS))
  end
  local h = o.h
  local stop = h:step() + nsteps
  local bar = o.meta.opts.progress ~= false
  while h:step() < stop do
    local now, nxt = h:step(), stop
    for _, cb in ipairs(o.every) do
      if cb.next > now and cb.next < nxt then nxt = cb.next end
    end
    local ok, err = pcall(h.run, h, nxt - now, bar)
    if not ok then error(err, 2) end
    now = h:step()
    o.running = true
    for _, cb in ipairs(o.every) do
      if cb.next == now then
        cb.next = now + cb.interval
        ok, err = pcall(cb.fn, self, seconds_q(now * o.dt))
        if not ok then o.running = false; error(err, 0) end
      end
    end
    o.running = false
  end
  sidecars(self, o)
end

-- net:every(interval, fn) -> id: during run(), call fn(net, t) each time
-- simulated time has advanced by interval (rounded to whole steps, at least
-- one) since the call to every(). fn may read and write state; the run
-- continues when it returns. net:cancel(id) stops the calls.
function Net:every(interval, fn)
  local o = priv[self]
  if not o then argerror("every", 1, "network expected") end
  local sec = seconds("every", 1, interval, "interval")
  if type(fn) ~= "function" then argerror("every", 2, "function expected, got " .. type(fn)) end
  local k = tosteps(sec, o.dt)
  if not (k >= 1 and k < 2^53) then
    argerror("every", 1, format("interval must be at least one step (dt = %g ms)", o.dt * 1e3))
  end
  o.every[#o.every + 1] = { interval = k, next = o.h:step() + k, fn = fn }
  return #o.every
end

-- net:wait_compile() -> backend: a tiered start waits for its background
-- compile and switches to the compiled kernels now; returns net.backend
-- ("interp" when the compile failed: the warning has been printed).
function Net:wait_compile()
  local o = priv[self]
  if not o then argerror("wait_compile", 1, "network expected") end
  if o.backend == "tiered" then o.h:tier(true) end
  return backendof(o)
end

function Net:cancel(id)
  local o = priv[self]
  local cb = o and o.every[id]
  if not cb then argerror("cancel", 1, "callback id expected") end
  cb.next = -1
end

-- net:reset(): back to t = 0: the initial state again (the same draws for
-- the same seed), spikes in flight dropped, monitors emptied; the
-- connectivity is kept. Callbacks of every() start counting again.
function Net:reset()
  local o = priv[self]
  if not o then argerror("reset", 1, "network expected") end
  -- a reset from an every() callback would restart the clock under the
  -- running loop, which then never reaches its end
  if o.running then error("reset: the network is running (called from an every() callback?)", 2) end
  o.h:reset()
  for _, cb in ipairs(o.every) do
    if cb.next >= 0 then cb.next = cb.interval end
  end
end

---------------------------------------------------------------------------
-- Save and restore
---------------------------------------------------------------------------
-- The file is the runtime's (vm/core/net.c: format, state, weights, RNG
-- positions, spikes in flight, monitors) with a block of bytes of ours
-- inside it: what rebuilds the network (the model source, its file name,
-- the options; compiling it again is a cache hit). The block is data, never
-- code: a tagged, length-prefixed encoding (string.pack) read back by a
-- parser that checks every tag, length and count. One checksum covers the
-- whole file (see net.h: it detects corruption, it is not a signature).
--
--   meta   = "cajal-meta 1\n" value            the table {source, filename, opts}
--   value  = "T" | "F"                          true, false
--          | "i" int64 | "f" double             numbers
--          | "s" len:uint32 bytes               strings
--          | "q" double dim:string              quantities (SI value, dimension)
--          | "a" dtype:string dim:string ndim:uint8 shape:int64*ndim double*numel
--          | "t" count:uint32 (value value)*count    tables (keys: strings, integers)
-- all little-endian.

local META = "cajal-meta 1\n"
local MAXMETADEPTH = 32
local spack, sunpack = string.pack, string.unpack
local DTYPES = { float64 = true, float32 = true, int32 = true, uint8 = true }

-- x encoded and appended to out
local function encode(x, out, depth)
  if depth > MAXMETADEPTH then error("net:save: options nested too deeply", 0) end
  local tx = type(x)
  if tx == "boolean" then out[#out + 1] = x and "T" or "F"
  elseif tx == "number" then
    out[#out + 1] = mtype(x) == "integer" and spack("<c1i8", "i", x) or spack("<c1d", "f", x)
  elseif tx == "string" then out[#out + 1] = spack("<c1s4", "s", x)
  elseif core.isquantity(x) then out[#out + 1] = spack("<c1ds4", "q", x.value, core.dimension(x))
  elseif isarray(x) then
    local n = x:numel()
    local flat = (x.dim == "1" and x or x / core.unit(x.dim)):reshape(n):totable()
    local shape = x.shape
    out[#out + 1] = spack("<c1s4s4B", "a", x.dtype, x.dim, #shape)
    for _, k in ipairs(shape) do out[#out + 1] = spack("<i8", k) end
    for k = 1, n do out[#out + 1] = spack("<d", flat[k]) end
  elseif tx == "table" then
    local keys = {}
    for k in pairs(x) do
      if type(k) ~= "string" and mtype(k) ~= "integer" then
        error("net:save: cannot save an option table with a key of type " .. type(k), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys, function(p, q)
      if type(p) == type(q) then return p < q end
      return type(p) == "number"
    end)
    out[#out + 1] = spack("<c1I4", "t", #keys)
    for _, k in ipairs(keys) do
      encode(k, out, depth + 1)
      encode(x[k], out, depth + 1)
    end
  else
    error("net:save: cannot save an option value of type " .. tx, 0)
  end
end

-- The value at byte pos of s -> value, next pos. Raises a short message
-- (no position of ours in it) when the bytes are not a valid encoding.
local function decode(s, pos, depth)
  local function bad(why) error({ meta = why }, 0) end
  local function get(fmt)
    local r = table.pack(pcall(sunpack, fmt, s, pos))
    if not r[1] then bad("truncated") end
    pos = r[r.n]
    return table.unpack(r, 2, r.n - 1)
  end
  if depth > MAXMETADEPTH then bad("nested too deeply") end
  local tag = get("c1")
  if tag == "T" then return true, pos
  elseif tag == "F" then return false, pos
  elseif tag == "i" then return get("<i8"), pos
  elseif tag == "f" then return get("<d"), pos
  elseif tag == "s" then return get("<s4"), pos
  elseif tag == "q" then
    local v, d = get("<ds4")
    local ok, u = pcall(core.unit, d)
    if not ok or not core.isquantity(u) and d ~= "1" then bad("bad unit '" .. d:sub(1, 40) .. "'") end
    return d == "1" and v or v * u, pos
  elseif tag == "a" then
    local dtype, d, ndim = get("<s4s4B")
    if not DTYPES[dtype] then bad("bad dtype") end
    if ndim < 1 or ndim > 8 then bad("bad array rank") end
    local shape, n = {}, 1
    for k = 1, ndim do
      local e = get("<i8")
      if e < 0 or (e > 0 and n > (#s - pos + 1) // 8 // e) then bad("array larger than the file") end
      shape[k], n = e, n * e
    end
    if n * 8 > #s - pos + 1 then bad("array larger than the file") end
    local t = {}
    for k = 1, n do t[k] = get("<d") end
    local ok, arr = pcall(function()
      local r = core.array(t, dtype):reshape(table.unpack(shape))
      if d ~= "1" then r = r * core.unit(d) end
      return r
    end)
    if not ok then bad("bad array") end
    return arr, pos
  elseif tag == "t" then
    local n = get("<I4")
    if n * 2 > #s - pos + 1 then bad("table larger than the file") end
    local t = {}
    for _ = 1, n do
      local k, v
      k, pos = decode(s, pos, depth + 1)
      if type(k) ~= "string" and mtype(k) ~= "integer" then bad("bad table key") end
      v, pos = decode(s, pos, depth + 1)
      t[k] = v
    end
    return t, pos
  end
  bad("unknown tag")
end

local function packmeta(x)
  local out = { META }
  encode(x, out, 0)
  return concat(out)
end

-- meta bytes -> { source, filename, opts } | nil, why
local function unpackmeta(s)
  if s:sub(1, #META) ~= META then return nil, "not written by this version of cajal" end
  local ok, v, pos = pcall(decode, s, #META + 1, 0)
  if not ok then
    if type(v) == "table" and v.meta then return nil, v.meta end
    error(v, 0)
  end
  if pos ~= #s + 1 then return nil, "trailing bytes" end
  if type(v) ~= "table" or type(v.source) ~= "string" or
     (v.filename ~= nil and type(v.filename) ~= "string") or
     (v.opts ~= nil and type(v.opts) ~= "table") then
    return nil, "missing model source"
  end
  return v
end
M.packmeta, M.unpackmeta = packmeta, unpackmeta

-- net:save(path): everything needed to continue the run: the model and
-- its options, the state, weights, RNG positions, spikes in flight and
-- monitors. The runtime writes the file under a fresh temporary name in the
-- target folder (mkstemp) and renames it.
function Net:save(path)
  local o = priv[self]
  if not o then argerror("save", 1, "network expected") end
  if type(path) ~= "string" then argerror("save", 1, "file name expected, got " .. type(path)) end
  local okp, record = pcall(require("cajal.provenance").forfile, { net = self }, "save")
  if not okp then error("net:save: " .. tostring(record):gsub("^save_save: ", ""), 2) end
  local meta = packmeta({ source = o.meta.source, filename = o.meta.filename, opts = o.meta.opts,
                          provenance = record })
  local ok, err = pcall(o.h.save, o.h, path, meta)
  if not ok then error("net:save: " .. tostring(err):gsub("^save: ", ""), 2) end
  return path
end

-- cj.restore(path [, opts]) -> net: the network saved by net:save(path),
-- continuing where it stopped. opts may choose backend and progress only.
function M.restore(path, opts)
  if type(path) ~= "string" then argerror("cj.restore", 1, "file name expected, got " .. type(path)) end
  if opts ~= nil and type(opts) ~= "table" then
    argerror("cj.restore", 2, "table of options expected, got " .. type(opts))
  end
  local sf, bytes = core.savefile_read(path)
  if not sf then error("cj.restore: " .. tostring(bytes):gsub("^restore: ", ""), 2) end
  local meta, why = unpackmeta(bytes)
  if not meta then error(format("cj.restore: '%s': corrupt header (%s)", path, why), 2) end
  local o = meta.opts or {}
  for k, v in pairs(opts or {}) do
    if k ~= "backend" and k ~= "progress" then
      argerror("cj.restore", 2, format("option '%s' cannot change on restore (only backend and progress)", tostring(k)))
    end
    o[k] = v
  end
  local okc, checked = pcall(checkopts, "cj.restore", 2, o)
  if not okc then error(format("cj.restore: '%s': corrupt header (%s)", path, tostring(checked)), 2) end
  local okb, net = pcall(build, "cj.restore", meta.source, meta.filename, checked, sf)
  if not okb then
    error(format("cj.restore: '%s': %s", path, tostring(net):gsub("^cj%.restore: ", "")), 2)
  end
  return net
end

---------------------------------------------------------------------------
-- Summary
---------------------------------------------------------------------------

netmt.__tostring = function(net)
  local o = priv[net]
  local ir, L = o.ir, {}
  L[1] = format("network %s: %s backend, dt = %g ms, seed %d, t = %s",
    ir.name or "?", backendof(o), o.dt * 1e3, ir.seed or 0, tostring(seconds_q(o.h:step() * o.dt)))
  for id, p in ipairs(ir.populations) do
    local kind = p.kind ~= "neuron" and p.kind or (p.spiking and "spiking" or "rate")
    L[#L + 1] = format("  population %-10s %9d  %s%s", p.name, p.n, kind,
      #(p.vars or {}) > 0 and " (" .. varlist(p.vars) .. ")" or "")
  end
  for id, p in ipairs(ir.projections) do
    L[#L + 1] = format("  projection %-10s %9d synapses", p.name, o.projs[id].N)
  end
  for id, m in ipairs(ir.monitors) do
    local owner = m.proj and ir.projections[m.proj] or ir.populations[m.pop]
    local what = m.kind == "state" and (m.var_name or owner.vars[m.var].name) or m.kind
    local label = owner.name
    if m.kind ~= "state" then
      local r = m.range or { 0, owner.n - 1 }
      label = slicelabel(owner.name, r[1], r[2], owner.n)
    elseif m.indices then
      label = owner.name .. indexlabel(m.indices, m.proj and o.projs[m.proj].N or owner.n)
    end
    L[#L + 1] = format("  monitor    %s of %s%s%s", what, label,
      (m.every or 1) > 1 and format(" every %d steps", m.every) or "", m.name and " as " .. m.name or "")
  end
  return concat(L, "\n")
end

-- help(net): the summary, then how to reach each part.
netmt.__help = function(net)
  local o = priv[net]
  local L = { tostring(net), "", "Its parts (TAB after 'net.' completes them):" }
  local function line(what, text) L[#L + 1] = format("  %-24s %s", what, text) end
  local function vars(g)
    local t = {}
    for _, v in ipairs(priv[g].vars) do
      if not v.name:find("@", 1, true) then
        t[#t + 1] = v.name .. ((v.unit or "") ~= "" and v.unit ~= "1" and " (" .. v.unit .. ")" or "")
      end
    end
    return #t > 0 and concat(t, ", ") or "no variables"
  end
  for id, p in ipairs(o.ir.populations) do
    line("net." .. p.name, format("population: %s; .N = %d; help(net.%s)", vars(o.pops[id]), p.n, p.name))
  end
  for id, p in ipairs(o.ir.projections) do
    local ref = o.byname[p.name] == o.projs[id] and "net." .. p.name or format("net.projections[%q]", p.name)
    line(ref, format("projection: %s; :connectivity()", vars(o.projs[id])))
  end
  local function mons(t, prefix, text)
    local names = {}
    for k in pairs(t) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      if getmetatable(t[k]) then line(prefix .. k, text)
      else
        local sub = {}
        for v in pairs(t[k]) do sub[#sub + 1] = v end
        table.sort(sub)
        for _, v in ipairs(sub) do line(prefix .. k .. "." .. v, text) end
      end
    end
  end
  mons(o.spikes, "net.spikes.", "spike monitor: :times(), :indices(), :counts(), :rate(), :window(T)")
  mons(o.state, "net.state.", "state monitor: :values() (row per record), :times(), :indices()")
  mons(o.rate, "net.rate.", "rate monitor: :values() (Hz), :times()")
  for _, k in ipairs(partnames(o)) do
    local v = o.byname[k]
    if not (getmetatable(v) == groupmt) then line("net." .. k, "the monitor(s) recorded 'as " .. k .. "'") end
  end
  L[#L + 1] = "  net.populations, net.projections: all of them, by name and by number"
  L[#L + 1] = "Time and set-up: net.t, net.dt, net.step, net.seed, net.backend, net.compiling, net.name, net.memory, net.threads"
  L[#L + 1] = "Methods: net:run(T), net:every(T, fn), net:cancel(id), net:reset(), net:save(path), net:wait_compile()"
  L[#L + 1] = "  (help(net.run) for one); cj.restore(path) continues a saved run."
  return concat(L, "\n")
end

local function monhelp(kind, methods)
  return function(mon)
    return tostring(mon) .. "\n" .. methods
  end
end
spikemt.__help = monhelp("spikes", "  :times() (s), :indices() (1-based, int32), :count(), :counts() (per neuron), :rate() (Hz),\n" ..
  "  :window(T) / :since(t) (the spikes of the last T / since t, for live measures in net:every())")
statemt.__help = monhelp("state", "  :values() (a row per record, a column per neuron, in the variable's unit),\n" ..
  "  :times() (s), :indices() (the recorded neurons, 1-based, int32)")
ratemt.__help = monhelp("rate", "  :values() (the population rate in Hz per window), :times() (window starts, s)")

---------------------------------------------------------------------------
-- NWB export: what cj.io.save_nwb (vm/bind/lnwb.c) writes
---------------------------------------------------------------------------

-- "0..9", "0..4, 7, 9..12": 0-based indices as ranges.
local function ranges(idx)
  local out, k = {}, 1
  while k <= #idx do
    local j = k
    while j < #idx and idx[j + 1] == idx[j] + 1 do j = j + 1 end
    out[#out + 1] = j > k and format("%d..%d", idx[k], idx[j]) or format("%d", idx[k])
    k = j + 1
  end
  return concat(out, ", ")
end

local function nwbunit(u)
  local d = unitdim(u)
  return d == "1" and "dimensionless" or d
end

-- M.nwbdata(net) -> { description, notes, t, dt, spikes = { slice... },
-- series = { timeseries... } }: every spike monitor as a slice of its
-- population (a slice overlapping an earlier one of the same population is
-- left out: one unit per neuron), every state and rate monitor as a time
-- series named after its monitor (or owner_variable, owner_rate).
function M.nwbdata(net)
  local o = priv[net]
  if not o or getmetatable(net) ~= netmt then
    error(format("bad argument #2 to 'save_nwb' (network expected, got %s)", type(net)), 3)
  end
  local ir = o.ir
  local spikes, series, names, covered = {}, {}, {}, {}
  local function uniq(name)
    name = name:gsub("[/%c]", "_")
    local n, k = name, 1
    while names[n] do k = k + 1; n = name .. "_" .. k end
    names[n] = true
    return n
  end
  for id, m in ipairs(ir.monitors) do
    local mon = o.monitors[id]
    local p = priv[mon]
    if m.kind == "spikes" then
      local pop = ir.populations[m.pop].name
      local overlap = false
      for _, r in ipairs(covered[pop] or {}) do
        if p.first <= r[2] and r[1] <= p.last then overlap = true end
      end
      if not overlap then
        covered[pop] = covered[pop] or {}
        table.insert(covered[pop], { p.first, p.last })
        local t, idx = fetch(mon)
        spikes[#spikes + 1] = { population = pop, first = p.first, count = p.last - p.first + 1,
                                times = t, neuron = idx }
      end
    elseif m.kind == "state" then
      local values, t = fetch(mon)
      local idx = m.indices or {}     -- the IR's, from 0 as in the model file
      series[#series + 1] = {
        name = uniq(m.name or (p.label .. "_" .. p.var)),
        description = format("%s of %s %s: columns are %s %s (from 0, as in the model file), " ..
          "recorded every %d step(s) of %g ms", p.var, p.what, p.label,
          p.what == "population" and "neurons" or "synapses", ranges(idx), p.every, o.dt * 1e3),
        unit = nwbunit(p.unit), data = values, timestamps = t }
    else
      local values, t = fetch(mon)
      series[#series + 1] = {
        name = uniq(m.name or (p.label:gsub("%[.*", "") .. "_rate")),
        description = format("population rate of %s (spikes / (neurons x window)); timestamps " ..
          "are the starts of windows of %d step(s) of %g ms", p.label, p.every, o.dt * 1e3),
        unit = "Hz", data = values, timestamps = t }
    end
  end
  return {
    description = format("cajal simulation of network %s: dt = %g ms, seed %d, %s backend, %g s simulated",
      ir.name or "?", o.dt * 1e3, ir.seed or 0, backendof(o), o.h:step() * o.dt),
    notes = tostring(net) .. "\n(written by cajal " .. core.version .. ")",
    provenance = require("cajal.provenance").forfile({ net = net }, "nwb"),
    t = o.h:step() * o.dt, dt = o.dt, spikes = spikes, series = series }
end

---------------------------------------------------------------------------
-- Provenance (cajal.provenance): what rebuilds this network
---------------------------------------------------------------------------

-- M.provenance(net) -> the network part of a provenance record, nil for
-- anything but a network.
function M.provenance(net)
  local o = type(net) == "table" and priv[net]
  if not o or getmetatable(net) ~= netmt then return nil end
  local P, prov = require "cajal.provenance", require "cajal.prov"
  local ir, meta = o.ir, o.meta
  local files, digests = {}, {}
  for k, f in ipairs(ir.files or { { path = meta.filename or "<string>", text = meta.source } }) do
    digests[k] = prov.sha256(f.text)
    files[k] = { path = f.path, sha256 = digests[k] }
  end
  local model = { name = ir.name, sha256 = P.modelhash(digests), files = files }
  if meta.filename then
    model.path, model.abspath = meta.filename, prov.realpath(meta.filename)
  else
    model.text = meta.source
  end
  local arrays
  for name, a in pairs(meta.opts.arrays or {}) do
    arrays = arrays or {}
    local h, n = P.arrayhash(a)
    arrays[tostring(name)] = { sha256 = h, n = n }
  end
  local step = o.h:step()
  return { model = model, overrides = P.plain(meta.opts.params or {}), parameters = ir.parameters,
           seed = ir.seed, dt = o.dt, backend = backendof(o), precision = ir.precision or "double",
           method = meta.opts.method, arrays = arrays, t = step * o.dt, step = step }
end

-- The model text a record names: the recorded text, or the file at its
-- absolute path, then at its path as given, whose SHA-256 is the recorded
-- one. -> source, filename (nil for text)
local function findmodel(m)
  local prov = require "cajal.prov"
  local want = m.files[1].sha256
  if m.text then
    if prov.sha256(m.text) ~= want then error("cj.load: the record's model text does not match its hash", 0) end
    return m.text, nil
  end
  local tried, changed, seen = {}, nil, {}
  for _, path in ipairs({ m.abspath, m.path }) do
    if not seen[path] then
      seen[path] = true
      tried[#tried + 1] = path
      local text = files.readfile(path)
      if text then
        local h = prov.sha256(text)
        if h == want then return text, path end
        changed = changed or format("the model text at '%s' changed since the record was written " ..
          "(SHA-256 %s recorded, %s now)", path, want:sub(1, 16), h:sub(1, 16))
      end
    end
  end
  error("cj.load: " .. (changed or format("cannot find the model of the record (tried %s)",
    concat(tried, ", "))), 0)
end

local REBUILDOPTS = { progress = true, backend = true, arrays = true }

-- cj.load(record [, opts]): the network of a provenance record, as it was
-- built (not as it was when the record was written: run it for record.network.t).
local function rebuild(p, opts)
  local function badarg(k, msg) error(format("bad argument #%d to 'cj.load' (%s)", k, msg), 0) end
  local P = require "cajal.provenance"
  local why = P.malformed(p)
  if why then badarg(1, "a provenance record expected (" .. why .. ")") end
  local n = p.network
  if not n then
    badarg(1, "the record has no network (the file was written without opts.net: " ..
      "it names the script only)")
  end
  if opts ~= nil and type(opts) ~= "table" then badarg(2, "table of options expected") end
  for k in pairs(opts or {}) do
    if not REBUILDOPTS[k] then
      badarg(2, format("option '%s' comes from the record (only progress, backend and arrays " ..
        "may be given)", tostring(k)))
    end
  end
  opts = opts or {}
  local o = { seed = n.seed, dt = n.dt, params = P.unplain(n.overrides or {}), method = n.method,
              precision = n.precision, backend = opts.backend or n.backend, progress = opts.progress,
              arrays = opts.arrays }
  for name, a in pairs(n.arrays or {}) do
    local given = opts.arrays and opts.arrays[name]
    if given == nil then
      badarg(2, format("the network was built from opts.arrays.%s: give the same array " ..
        "(opts.arrays)", name))
    end
    if P.arrayhash(given) ~= a.sha256 then
      badarg(2, format("opts.arrays.%s is not the array the network was built from " ..
        "(its SHA-256 differs)", name))
    end
  end
  local source, filename = findmodel(n.model)
  o = checkopts("cj.load", 2, o)
  local net = build("cj.load", source, filename, o, nil, not filename and "." or nil)
  -- the imports found now must be the files recorded
  local files = priv[net].ir.files or {}
  local prov = require "cajal.prov"
  for k, f in ipairs(n.model.files) do
    local now = files[k]
    if not now then
      error(format("cj.load: the model now imports fewer files than recorded ('%s' is no longer imported)",
        f.path), 0)
    end
    if prov.sha256(now.text) ~= f.sha256 then
      error(format("cj.load: the imported file '%s' (found now at '%s') changed since the record was written",
        f.path, now.path), 0)
    end
  end
  if #files ~= #n.model.files then
    error(format("cj.load: the model now imports '%s', which the record does not list", files[#n.model.files + 1].path), 0)
  end
  return net
end

---------------------------------------------------------------------------
-- Entry points
---------------------------------------------------------------------------

-- cj.load(path [, opts]) -> net
function M.load(path, opts)
  if type(path) == "table" then
    local ok, net = pcall(rebuild, path, opts)
    if not ok then
      if getmetatable(net) == OPTERR then argerror("cj.load", 2, net.msg) end
      error(net, 2)
    end
    return net
  end
  if type(path) ~= "string" then
    argerror("cj.load", 1, "file name or provenance record expected, got " .. type(path))
  end
  opts = checkopts("cj.load", 2, opts)
  local source, err = files.readfile(path)
  if not source then error(format("cj.load: cannot open '%s': %s", path, err), 2) end
  local ok, net = pcall(build, "cj.load", source, path, opts)
  if not ok then
    if getmetatable(net) == OPTERR then argerror("cj.load", 2, net.msg) end
    error(net, 0)
  end
  return net
end

-- cj.network(source [, opts]) -> net
function M.network(source, opts)
  if type(source) ~= "string" then
    argerror("cj.network", 1, "model source (a string) expected, got " .. type(source))
  end
  opts = checkopts("cj.network", 2, opts)
  -- the text imports as a file in the calling script's folder would (the
  -- current folder for the REPL, -e and stdin, as Python's sys.path[0])
  local caller = debug.getinfo(2, "S")
  local script = caller and caller.source:match("^@(.*)$")
  local importdir = script and (script:match("^(.*)/[^/]*$") or ".") or "."
  local ok, net = pcall(build, "cj.network", source, nil, opts, nil, importdir)
  if not ok then
    if getmetatable(net) == OPTERR then argerror("cj.network", 2, net.msg) end
    error(net, 0)
  end
  return net
end

core.doc(M.load, [[
cj.load(path [, opts]) -> network
Compile the .cajal model in path and build its network (path may be a
provenance record, cj.provenance(file): the same model, found again at
its recorded path and checked against its SHA-256, with the same
overrides, seed, dt, backend and precision; opts then only progress,
backend, arrays; run it for record.network.t to reproduce). opts: seed, dt
(quantity or s), params ({E = {tau_m = 10 * cj.ms}} or {NE = 3200}), arrays
(for `from arrays NAME`), method, backend ("auto" | "jit" | "interp" |
"tiered"; CAJAL_JIT=off chooses the interpreter), progress (false: no
progress bar). "auto" loads compiled kernels from the cache, and when they
are not there starts on the interpreter while the compiler builds them in
the background, switching between steps when they are loaded (a tiered
start; the same results: net.backend says "interp", then "jit");
CAJAL_TIERED=0 or backend "jit" waits for the compiler instead.
Ctrl-C stops the building of connectivity (no network is made).
The network: net:run(T), net:every(dt, fn), net:reset(), net:save(path),
net.t, net.dt; net.E.v (live state, with unit; writable; inputs and
definitions read only), net.E.N;
net.spikes.E:times() / :indices() (1-based) / :counts() / :rate() /
:window(T) (the last T, cheaply: for cj.coding and cj.info in net:every());
net.state.E.v:times() / :values(); net.rate.E:values() (a monitor
recorded `to "x.npy"` is read back from its file); further monitors of
E.v are net.state.E["v#2"], ...; net.monitors lists all. Populations and
named projections are fields (net.E, net.EE.w); every population is in
net.populations. tostring(net) summarises it.]])
core.doc(M.network, [[
cj.network(source [, opts]) -> network
As cj.load, from the model text itself; its imports resolve as those of a
file in the folder of the calling script (the current folder in the REPL
and -e; the search order: man cajal-lang, IMPORT).]])
core.doc(M.restore, [[
cj.restore(path [, opts]) -> network
The network saved by net:save(path), continuing exactly where it stopped
(state, weights, RNG positions, spikes in flight, monitors). opts may set
backend and progress. The file is read as data, never run; its checksum
catches corruption, it is not a signature (see cajal-api(3)). A save made
on K MPI ranks (path and path.rankR) restores on any number of ranks, each
reading the parts that hold synapses onto its neurons.]])
core.doc(Net.run, [[
net:run(duration)
Run for duration (a quantity of time, or seconds), rounded to the nearest
whole number of steps (net.step counts them); the loop runs in C (a progress
bar on a terminal; Ctrl-C stops it between steps).
A NaN or infinite state stops it with an error naming population,
variable, neuron and step; the network stays inspectable.]])
core.doc(Net.every, [[
net:every(interval, fn) -> id
During run(), call fn(net, t) each time simulated time advances by
interval (whole steps, at least one). net:cancel(id) stops it.]])
core.doc(Net.reset, [[
net:reset()
Back to t = 0 with the initial state (same draws), monitors emptied,
spikes in flight dropped; connectivity kept. Not from an every() callback.]])
core.doc(Net.save, [[
net:save(path)
Write the model, its options and the whole state (weights, RNG positions,
spikes in flight, monitors) to path; cj.restore(path) continues the run.
Written to a fresh temporary file in path's folder, then renamed. On K > 1
MPI ranks: path (rank 0: all but synapses) and path.rankR (rank R's
synapses), every rank writing its own (man cajal-scale, ACROSS MACHINES).]])
core.doc(Net.cancel, "net:cancel(id)\nStop the callback that net:every() registered as id.")
core.doc(Net.wait_compile, [[
net:wait_compile() -> backend
A network in a tiered start (net.compiling) waits for the compiler and
switches to the compiled kernels now. Returns net.backend: "jit", or
"interp" when the compile failed (a warning says why; the state is kept).]])
core.doc(Group.connectivity, "proj:connectivity() -> pre, post, delays\n" ..
  "Per synapse: 1-based pre and post neurons (int32 arrays) and the delay in steps.")
core.doc(Group.lastspike, "pop:lastspike() -> array (s)\nA view of each neuron's last spike time (-inf before the first).")
core.doc(Group.varnames, "pop:varnames() -> table\nThe names of the state variables (the compiler's hidden ones too).")
core.doc(SpikeMon.times, "mon:times() -> array (s)\nSpike times of a spike monitor, in order.")
core.doc(SpikeMon.indices, "mon:indices() -> array\nThe neuron of each spike, 1-based in its population.")
core.doc(SpikeMon.counts, "mon:counts() -> array\nSpikes of each neuron of the population (N values).")
core.doc(SpikeMon.rate, "mon:rate() -> quantity (Hz)\nMean rate of the recorded neurons since build or reset.")
core.doc(SpikeMon.count, "mon:count() -> integer\nThe number of spikes recorded.")
core.doc(SpikeMon.duration, "mon:duration() -> quantity (s)\nThe time recorded since the network was built or reset.")
core.doc(SpikeMon.neurons, "mon:neurons() -> first, last\nThe 1-based range of the recorded neurons of the population.")
core.doc(SpikeMon.window, [[
mon:window(T) -> spike window
The spikes of the last T of the run (a duration, rounded to whole steps, at least one
step; clipped to the run so far): those of steps t_start <= t < t_stop, t_stop = now.
Found by binary search and copied alone, in O(log record + spikes in the window), so it
costs the same after 1 s or 1 h of run: take it in a net:every() callback to watch a
running network. cj.coding, cj.info and cj.plot.raster take a window as they take the
monitor (window [t_start, t_stop)); win:rate(), win:counts(), win:span() ... as the
monitor's. A snapshot: running on does not change it. Not for monitors streamed to a file.]])
core.doc(SpikeMon.since, [[
mon:since(t) -> spike window
The spikes from time t (rounded to a step; 0 <= t <= now) to now, as mon:window().
since(0) holds the whole record; since(now) is empty, of zero length.]])
core.doc(StateMon.values, "mon:values() -> 2-D array\nOne row per record, one column per recorded neuron, in the variable's unit.")
core.doc(StateMon.times, "mon:times() -> array (s)\n" ..
  "The time of each record: the state at t is stamped t, from t = 0 (recorded before the step at t runs).")
core.doc(StateMon.indices, "mon:indices() -> int32 array\nThe recorded neurons (or synapses), 1-based.")
core.doc(RateMon.values, "mon:values() -> array (Hz)\nThe population rate in each window.")
core.doc(RateMon.times, "mon:times() -> array (s)\nThe start of each window.")

return M
