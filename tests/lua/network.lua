-- tests/lua/network.lua — the network object of cajal.network (cj.load,
-- cj.network, cj.restore): state views, monitors, run/every/reset,
-- save/restore continuity, the compile cache, the two backends, NaN
-- detection and the errors of bad input. Numerical validation against
-- theory: netvalid.lua; examples and Brian2: netexamples.lua.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values, same, spikelist = T.values, T.same, T.spikelist
local cj = require "cajal"
local core = require "cajal.core"

local format = string.format
local srcdir = T.srcdir
local tmpdir = os.getenv("TMPDIR") or "/tmp"

-- the shared network of fixtures.lua
local SMALL = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/fixtures.lua").SMALL

---------------------------------------------------------------------------
-- The object
---------------------------------------------------------------------------

T.test("net.X of an unknown name is an error listing the parts", function()
  local net = cj.network(SMALL, { seed = 5 })
  local err = T.checkerror("has no population, projection or monitor 'Ee'", function() return net.Ee end)
  assert(err:find("it has E, I, In, Plastic", 1, true), err)
  assert(err:find("network.lua:", 1, true) == nil or err:find("^[^\n]*tests/lua/network%.lua:%d+:"), err)
  assert(net.E and net.Plastic and net.spikes.E, "the parts are still there")
end)

T.test("a part named like a method or field of the network is refused where it is declared", function()
  -- the object's own names: what TAB completion offers, minus the model's parts
  local repl = require "cajal.repl"
  local check = require "cajal.check"
  local net = cj.network(SMALL, { seed = 5 })
  local parts = { E = true, I = true, In = true, Plastic = true }
  local own, n = {}, 0
  for _, k in ipairs(repl.names(net)) do
    if not parts[k] then own[k] = true; n = n + 1 end
  end
  for k in pairs(own) do assert(check.NETFIELDS[k], "check.NETFIELDS lacks '" .. k .. "'") end
  for k in pairs(check.NETFIELDS) do assert(own[k], "'" .. k .. "' is not a field of the network") end
  assert(n >= 15, n)
  for k in pairs(own) do
    local src = 'import "models/lif"\npopulation ' .. k .. ' = lif(2)\n'
    local ok, e = pcall(cj.network, src)
    assert(not ok, "a population named '" .. k .. "' was accepted")
    e = tostring(e)
    assert(e:find("^<string>:2:1: a population cannot be named '" .. k .. "': net%." .. k .. " is the network's own")
           or e:find("^<string>:2:%d+: cannot declare '" .. k .. "': it is a built%-in name")
           or e:find("^<string>:2:%d+: '" .. k .. "' is a reserved word and cannot be a population name"), e)
  end
  T.checkerror("<string>:3:1: a monitor cannot be named 'save': net.save is the network's own method", cj.network,
    'import "models/lif"\npopulation E = lif(2)\nrecord spikes of E as save\n')
  T.checkerror("<string>:4:1: a projection cannot be named 'spikes'", cj.network,
    'import "models/lif"\nimport "models/synapses"\npopulation E = lif(2)\n' ..
    'connect E -> E exp_current all_to_all as spikes\n')
end)

T.test("TAB completion and help() of a network, a population, a monitor", function()
  local repl = require "cajal.repl"
  local net = cj.network(SMALL, { seed = 5 })
  rawset(_G, "hosttest_net", net)
  local function listing(line)
    local ins, list = repl.complete(line, 400)
    return ins, list or ""
  end
  local _, l = listing("hosttest_net.")
  for _, w in ipairs { "E", "I", "In", "Plastic", "run", "spikes", "state", "t" } do
    assert((" " .. l .. " "):find("%s" .. w .. "%s"), "net.<TAB> lacks " .. w .. ": " .. l)
  end
  assert((listing("hosttest_net.Pl")) == "astic")
  _, l = listing("hosttest_net.E.")
  for _, w in ipairs { "v", "N", "name", "lastspike" } do
    assert((" " .. l .. " "):find("%s" .. w .. "%s"), "net.E.<TAB> lacks " .. w .. ": " .. l)
  end
  assert(not l:find("@", 1, true))
  assert((listing("hosttest_net.Plastic.w")) == "" and select(2, listing("hosttest_net.Plastic.")):find("w", 1, true))
  rawset(_G, "hosttest_net", nil)
  -- help(net) and help(net.E): the text of __help
  local help = require("cajal.help").help
  local function helptext(x)
    local tmp = os.tmpname()
    local stdout = io.output()
    io.output(tmp)
    local ok, err = pcall(help, x)
    io.close()
    io.output(stdout)
    local f = io.open(tmp)
    local text = f:read("a")
    f:close()
    os.remove(tmp)
    assert(ok, err)
    return text
  end
  local h = helptext(net)
  for _, w in ipairs { "net.E ", "net.Plastic ", "net.spikes.E ", "net.state.E.v ",
                       "net.rate.I ", "net:run(T)", "net.t" } do
    assert(h:find(w, 1, true), "help(net) lacks '" .. w .. "':\n" .. h)
  end
  assert(h:find("v (V)", 1, true), h)
  h = helptext(net.E)
  assert(h:find("net.E.v ", 1, true) and h:find("in V", 1, true) and h:find("net.E.N = 60", 1, true), h)
  h = helptext(net.spikes.E)
  assert(h:find("spike monitor of E", 1, true) and h:find(":times()", 1, true), h)
  assert(helptext(net.run):find("^net:run%(duration%)"))
end)

T.test("state monitor indices are integers; a bad population size shows a whole number", function()
  local net = cj.network(SMALL, { seed = 5 })
  local idx = net.state.E.v:indices()
  assert(idx.dtype == "int32" and tostring(idx) == "[1 2 3 4 5] (int32)", tostring(idx))
  T.checkerror("the population size must be a whole number in 1..2147483647, got -100\n", cj.network,
    'import "models/lif"\npopulation E = lif(-100)\n')
  T.checkerror("got 2.5\n", cj.network, 'import "models/lif"\npopulation E = lif(5 / 2)\n')
end)

T.test("populations, state views with units, writing state", function()
  local net = cj.network(SMALL, { seed = 5 })
  assert(net.E.N == 60 and net.I.N == 20 and net.In.N == 40)
  assert(#net.E == 60)
  local v = net.E.v
  assert(v:numel() == 60)
  assert(cj.dimension(v) == "V", "v has unit " .. cj.dimension(v))
  -- initial values from uniform(-70 mV, -55 mV)
  for _, x in ipairs(values(v)) do assert(x >= -0.070 and x < -0.055) end
  -- write a quantity, an array, read back (1-based: neuron k is v[k])
  net.E.v = -65 * cj.mV
  for _, x in ipairs(values(net.E.v)) do T.near(x, -0.065, 1e-15) end
  local a = cj.zeros(60) * cj.mV
  a[3] = -52 * cj.mV
  net.E.v = a
  T.near(values(net.E.v)[3], -0.052, 1e-15)
  -- the view is live: writing through it changes the network
  local view = net.E.v
  view[5] = -51 * cj.mV
  T.near(values(net.E.v)[5], -0.051, 1e-15)
  T.checkerror("in V", function() net.E.v = 3 end)
  T.checkerror("in V", function() net.E.v = 3 * cj.ms end)
  T.checkerror("has no variable 'vv'", function() return net.E.vv end)
  T.checkerror("60 values", function() net.E.v = cj.zeros(10) * cj.mV end)
  -- a Lua list of quantities (or of numbers, for a dimensionless variable)
  local list = {}
  for k = 1, 60 do list[k] = (-70 + k / 10) * cj.mV end
  net.E.v = list
  T.near(values(net.E.v)[60], -0.064, 1e-15)
  local plain = {}
  for k = 1, 60 do plain[k] = k end
  T.checkerror("in V", function() net.E.v = plain end)
  -- a wrong length is named before a wrong unit, for lists and arrays
  T.checkerror("E.v: expected 60 values, got 2", function() net.E.v = { 1, 2 } end)
  T.checkerror("E.v: expected 60 values, got 0", function() net.E.v = {} end)
  T.checkerror("E.v: expected 60 values, got an array of 10", function() net.E.v = cj.zeros(10) end)
  T.near(values(net.E.v)[60], -0.064, 1e-15)   -- refused writes change nothing
  -- a projection's synapse variables
  local w = net.Plastic.w
  assert(w:numel() == net.Plastic.N and net.Plastic.N > 0)
  for _, x in ipairs(values(w)) do T.near(x, 0.5, 0) end
  -- its connectivity: 1-based neurons, synapses ordered by pre neuron,
  -- delays uniform(1 ms, 3 ms) rounded to steps
  local pre, post, delays = net.Plastic:connectivity()
  pre, post, delays = values(pre), values(post), values(delays)
  assert(#pre == net.Plastic.N and #post == #pre and #delays == #pre)
  for s = 1, #pre do
    assert(pre[s] >= 1 and pre[s] <= 40 and post[s] >= 1 and post[s] <= 60)
    assert(delays[s] >= 10 and delays[s] <= 30, "delay " .. delays[s])
    if s > 1 then assert(pre[s] > pre[s - 1] or (pre[s] == pre[s - 1] and post[s] > post[s - 1])) end
  end
  local mu, sd = 0.3 * 40 * 60, math.sqrt(0.3 * 0.7 * 40 * 60)
  assert(math.abs(#pre - mu) < 5 * sd, "synapse count " .. #pre)
  for _, x in ipairs(values(net.E:lastspike())) do assert(x == -math.huge) end
  assert(#net.E:varnames() >= 2 and net.E:varnames()[1] == "v")
  assert(tostring(net):find("population E", 1, true))
  assert(tostring(net):find("Plastic", 1, true))
end)

T.test("run rounds to steps; t, dt, every() and reset()", function()
  local net = cj.network(SMALL, { seed = 5 })
  T.near(net.dt.value, 1e-4, 0)
  T.near(net.t.value, 0, 0)
  -- run returns nothing (the REPL then prints nothing); net.step counts
  assert(select("#", net:run(1 * cj.ms)) == 0, "run returned a value")
  assert(net.step == 10)
  T.near(net.t.value, 1e-3, 1e-15)
  net:run(0.26 * cj.ms)                    -- 2.6 steps -> 3
  assert(net.step == 13)
  net:run(0.0004)                          -- a number of seconds
  assert(net.step == 17)
  net:run(0)
  assert(net.step == 17)
  local calls = {}
  net:every(2 * cj.ms, function(n, t)
    assert(n == net)
    calls[#calls + 1] = t.value
  end)
  net:run(7 * cj.ms)
  assert(#calls == 3, "every: " .. #calls .. " calls")
  T.near(calls[1], 0.0037, 1e-12)
  T.near(calls[3], 0.0077, 1e-12)
  -- reset: back to t = 0, the same initial state, monitors empty
  local v0 = values(cj.network(SMALL, { seed = 5 }).E.v)
  net:reset()
  T.near(net.t.value, 0, 0)
  same(values(net.E.v), v0, "state after reset")
  assert(net.spikes.E:count() == 0)
  T.checkerror("non-negative", function() net:run(-1 * cj.ms) end)
  -- durations past integer steps, NaN and infinite ones are argument errors of run
  local step0 = net.step
  T.checkerror("bad argument #1 to 'run' (duration too long", net.run, net, 1e300 * cj.second)
  T.checkerror("bad argument #1 to 'run' (duration too long", net.run, net, 2^60)
  T.checkerror("bad argument #1 to 'run' (a non-negative finite", net.run, net, 0 / 0 * cj.second)
  T.checkerror("bad argument #1 to 'run' (a non-negative finite", net.run, net, 0 / 0)
  T.checkerror("bad argument #1 to 'run' (a non-negative finite", net.run, net, -1e-3)
  T.checkerror("bad argument #1 to 'run' (a non-negative finite", net.run, net, math.huge * cj.second)
  T.checkerror("bad argument #1 to 'run' (a non-negative finite", net.run, net, -math.huge)
  assert(net.step == step0, "a refused run advanced the network")
  T.checkerror("duration", function() net:run(1 * cj.mV) end)
  T.checkerror("duration", function() net:run("1 s") end)
  T.checkerror("at least one step", function() net:every(0.01 * cj.ms, print) end)
  T.checkerror("function expected", function() net:every(1 * cj.ms, 3) end)
  -- a callback may not run the network; an error in it stops the run there
  local id = net:every(1 * cj.ms, function(n) n:run(1 * cj.ms) end)
  T.checkerror("already running", net.run, net, 5 * cj.ms)
  net:cancel(id)
  local s1 = net.step
  net:run(5 * cj.ms)
  assert(net.step == s1 + 50)
  -- nor reset it (the loop would restart its clock and not end): refused as a nested run
  local once = false
  id = net:every(1 * cj.ms, function(n) if not once then once = true; n:reset() end end)
  s1 = net.step
  T.checkerror("reset: the network is running", net.run, net, 5 * cj.ms)
  assert(net.step == s1 + 10, "the refused reset stopped the run at step " .. net.step)
  net:cancel(id)
  local s0 = net.step
  id = net:every(1 * cj.ms, function() error("stop here") end)
  T.checkerror("stop here", net.run, net, 5 * cj.ms)
  assert(net.step == s0 + 10, "stopped at step " .. net.step)
  net:cancel(id)
end)

T.test("monitors: spikes, state, rate", function()
  local net = cj.network(SMALL, { seed = 5 })
  net:run(200 * cj.ms)
  local sp = net.spikes.E
  local ts, is = values(sp:times()), values(sp:indices())
  assert(#ts == #is and #ts == sp:count() and #ts > 20, "E spikes: " .. #ts)
  assert(cj.dimension(sp:times()) == "s")
  local counts = {}
  for k = 1, 60 do counts[k] = 0 end
  for k = 1, #ts do
    assert(is[k] >= 1 and is[k] <= 60 and is[k] == math.floor(is[k]), "1-based index " .. is[k])
    assert(ts[k] >= 0 and ts[k] < 0.2)
    -- spike times are multiples of dt
    T.near(ts[k] / 1e-4, math.floor(ts[k] / 1e-4 + 0.5), 1e-6)
    if k > 1 then assert(ts[k] >= ts[k - 1], "times not sorted") end
    counts[is[k]] = counts[is[k]] + 1
  end
  same(values(sp:counts()), counts, "counts()")
  T.near(sp:rate().value, #ts / (60 * 0.2), 1e-9, "rate()")
  assert(cj.dimension(sp:rate()) == "Hz" or cj.dimension(sp:rate()) == "s^-1")
  -- state monitor: every 1 ms, neurons 1..5
  local sm = net.state.E.v
  local st, sv = sm:times(), sm:values()
  assert(st:numel() == 200, "state records: " .. st:numel())
  assert(sv.shape[1] == 200 and sv.shape[2] == 5)
  assert(cj.dimension(sv) == "V")
  same(values(sm:indices()), { 1, 2, 3, 4, 5 }, "state monitor indices")
  -- the last record is the current state of those neurons (recorded after the step 1999 ... ok at t = 199 ms)
  -- population rate of I: spikes / (n dt) at each step
  local rm = net.rate.I
  local rv = values(rm:values())
  assert(#rv == 2000, "rate values: " .. #rv)
  local total = 0
  for _, x in ipairs(rv) do total = total + x * 20 * 1e-4 end
  T.near(total, net.spikes.I:count(), 1e-6, "rate monitor integrates to the spike count")
end)

T.test("monitors streamed to .npy files read back as the in-memory ones", function()
  local base = format("%s/cajal_stream_%d_", tmpdir, os.time())
  local src = [[
    population P = poisson(10, rate = 100 Hz)
    neuron leak { state { v = 1 mV } equations { dv/dt = -v / 10 ms } }
    population L = leak(3)
    record spikes of P%s
    record rate of P every 1 ms%s
    record v of L every 2 ms%s
  ]]
  local files = { base .. "spk.npy", base .. "rate.npy", base .. "v.npy" }
  local a = cj.network(src:format(format(' to "%s"', files[1]), format(' to "%s"', files[2]),
    format(' to "%s"', files[3])), { seed = 3 })
  local b = cj.network(src:format("", "", ""), { seed = 3 })
  for _ = 1, 2 do                     -- the files grow run after run
    a:run(50 * cj.ms); b:run(50 * cj.ms)
    assert(a.spikes.P:count() == b.spikes.P:count() and a.spikes.P:count() > 50)
    same(values(a.spikes.P:times()), values(b.spikes.P:times()), "streamed spike times")
    same(values(a.spikes.P:indices()), values(b.spikes.P:indices()), "streamed spike indices")
    same(values(a.rate.P:values()), values(b.rate.P:values()), "streamed rates")
    same(values(a.rate.P:times()), values(b.rate.P:times()), "streamed rate times")
    same(values(a.state.L.v:values()), values(b.state.L.v:values()), "streamed v")
    same(values(a.state.L.v:times()), values(b.state.L.v:times()), "streamed record times")
    assert(cj.dimension(a.state.L.v:values()) == "V")
  end
  T.near(a.spikes.P:rate().value, b.spikes.P:rate().value, 0)
  -- a file changed on disk behind the monitor's back: an error naming it, no crash
  cj.io.save_npy(files[1], cj.ones(4, 3))
  T.checkerror("monitor streamed to '" .. files[1] .. "': the file does not hold this monitor's float64 rows",
    a.spikes.P.times, a.spikes.P)
  cj.io.save_npy(files[1], cj.array({ { 0.001, 2 }, { 0.002, -1 } }))
  T.checkerror("monitor streamed to '" .. files[1] .. "': row 2 holds no neuron index", a.spikes.P.indices, a.spikes.P)
  T.writefile(files[1], "not a numpy file")
  T.checkerror("monitor streamed to '" .. files[1] .. "': ", a.spikes.P.times, a.spikes.P)
  a = nil
  collectgarbage()
  for _, f in ipairs(files) do os.remove(f); os.remove(f .. ".prov.json") end
end)

T.test("cj.plot.raster accepts a spike monitor", function()
  local net = cj.network(SMALL, { seed = 5 })
  net:run(50 * cj.ms)
  assert(type(cj.plot) == "table" and cj.plot.raster, "cj.plot.raster is missing")
  local png = tmpdir .. "/cajal_test_raster_" .. tostring(os.time()) .. ".png"
  local ok, err = pcall(cj.plot.raster, net.spikes.E, png)
  if not ok then
    -- only a missing gnuplot excuses it
    assert(tostring(err):find("gnuplot not found", 1, true), "cj.plot.raster(monitor): " .. tostring(err))
    T.skip("gnuplot not found (install gnuplot-nox)")
  end
  local f = io.open(png, "rb")
  assert(f, "no PNG written")
  assert(f:read(4) == "\x89PNG", "not a PNG")
  f:close()
  os.remove(png)
end)

---------------------------------------------------------------------------
-- Save and restore
---------------------------------------------------------------------------
-- Running T, saving, restoring and running T again gives exactly the
-- spikes (and state) of one run of 2T: the file holds state, weights,
-- traces, RNG counters and the spikes in flight (delays up to 4 ms).
T.test("save at T, restore, run T == one run of 2T", function()
  local path = tmpdir .. "/cajal_test_save_" .. tostring(os.time()) .. ".net"
  local a = cj.network(SMALL, { seed = 9 })
  a:run(150 * cj.ms)
  a:save(path)
  a:run(150 * cj.ms)
  local b = cj.restore(path)
  T.near(b.t.value, 0.15, 1e-12, "restored time")
  b:run(150 * cj.ms)
  local c = cj.network(SMALL, { seed = 9 })
  c:run(300 * cj.ms)
  for _, pop in ipairs({ "E", "I" }) do
    local ta, ia = spikelist(c.spikes[pop], 0.15)
    local tb, ib = spikelist(b.spikes[pop], 0.15)
    assert(#ta > 10, "too few spikes to compare: " .. #ta)
    same(tb, ta, pop .. " spike times after restore")
    same(ib, ia, pop .. " spike indices after restore")
    local t2, i2 = spikelist(a.spikes[pop], 0.15)
    same(t2, ta, pop .. " spike times of the saving network")
  end
  same(values(b.E.v), values(c.E.v), "state after restore")
  same(values(b.Plastic.w), values(c.Plastic.w), "plastic weights after restore")
  -- restored on the other backend, it continues the same way
  local d = cj.restore(path, { backend = "interp", progress = false })
  assert(d.backend == "interp")
  d:run(150 * cj.ms)
  same(values(d.E.v), values(c.E.v), "state after restore on the interpreter")
  T.checkerror("cannot change on restore", cj.restore, path, { seed = 3 })
  os.remove(path)
  T.checkerror("cannot open", cj.restore, tmpdir .. "/no/such/file.net")
  -- an unwritable path is named as given, with the reason, and no temporary file
  local bad = tmpdir .. "/no/such/dir.net"
  local err = T.checkerror("net:save: cannot write '" .. bad .. "': No such file or directory", a.save, a, bad)
  assert(not err:find(".tmp", 1, true) and not err:find("save: save:", 1, true), err)
  local f = io.open(path, "wb"); f:write("not a network"); f:close()
  T.checkerror(path, cj.restore, path)
  os.remove(path)
end)

---------------------------------------------------------------------------
-- The compile cache and the backends
---------------------------------------------------------------------------

T.test("a second load of an unchanged model does not run the compiler", function()
  if not core.jit_stats then error("core.jit_stats missing") end
  local src = SMALL .. "\n# cache test " .. tostring(os.time()) .. tostring(os.clock()) .. "\n"
  local net1 = cj.network(src, { seed = 1 })
  if net1:wait_compile() ~= "jit" then T.skip("no C compiler: nothing is cached") end
  local s1 = core.jit_stats()
  local net2 = cj.network(src, { seed = 1 })
  local s2 = core.jit_stats()
  assert(net2.backend == "jit")
  assert(s2.compiles == s1.compiles, format("compiler ran again (%d -> %d)", s1.compiles, s2.compiles))
  assert(s2.hits == s1.hits + 1, format("no cache hit (%d -> %d)", s1.hits, s2.hits))
  -- and another process finds it in the cache on disk
  local cajal = arg[-1] or "cajal"
  if cajal:find("/") and cajal:sub(1, 1) ~= "/" then cajal = (os.getenv("PWD") or ".") .. "/" .. cajal end
  local f = assert(io.open(tmpdir .. "/cajal_cache_test.cajal", "w"))
  f:write(src)
  f:close()
  local p = assert(io.popen(format("'%s' -e 'local cj = require \"cajal\"; local n = cj.load(\"%s\", {seed = 1}); " ..
    "local s = require(\"cajal.core\").jit_stats(); print(\"stats\", n.backend, s.compiles, s.hits)' 2>&1",
    cajal, tmpdir .. "/cajal_cache_test.cajal")))
  local out = p:read("a")
  p:close()
  os.remove(tmpdir .. "/cajal_cache_test.cajal")
  assert(out:find("stats\tjit\t0\t1"), "second process: " .. out)
end)

T.test("without opts.seed a network takes the seed of cj.seed", function()
  cj.seed(7)
  local a = cj.network(SMALL)
  assert(a.seed == 7, "seed " .. tostring(a.seed))
  local b = cj.network(SMALL, { seed = 7 })
  local c = cj.network(SMALL, { seed = 8 })
  a:run(50 * cj.ms); b:run(50 * cj.ms); c:run(50 * cj.ms)
  same(values(a.E.v), values(b.E.v), "cj.seed(7) vs opts.seed = 7")
  local differ = false
  local va, vc = values(a.E.v), values(c.E.v)
  for k = 1, #va do if va[k] ~= vc[k] then differ = true end end
  assert(differ, "seed 8 gave the same state as seed 7")
  cj.seed(0)
end)

T.test("JIT and interpreter give identical spike trains and state", function()
  local j = cj.network(SMALL, { seed = 4 })
  local i = cj.network(SMALL, { seed = 4, backend = "interp" })
  assert(i.backend == "interp")
  j:run(100 * cj.ms); i:run(100 * cj.ms)
  for _, pop in ipairs({ "E", "I" }) do
    local tj, ij = spikelist(j.spikes[pop])
    local ti, ii = spikelist(i.spikes[pop])
    assert(#tj > 0)
    same(ti, tj, pop .. " times")
    same(ii, ij, pop .. " indices")
  end
  same(values(i.E.v), values(j.E.v), "v")
  same(values(i.Plastic.w), values(j.Plastic.w), "w")
end)

T.test("no C compiler: one warning, then the interpreter", function()
  local cajal = arg[-1] or "cajal"
  if cajal:find("/") and cajal:sub(1, 1) ~= "/" then cajal = (os.getenv("PWD") or ".") .. "/" .. cajal end
  local code = [[local cj = require "cajal"
    local a = cj.network("population P = poisson(5, rate = 100 Hz)\nrecord spikes of P", { seed = 1 })
    local b = cj.network("population Q = poisson(5, rate = 10 Hz)")
    a:run(0.1)
    print("backends", a.backend, b.backend, a.spikes.P:count())]]
  local cache = format("%s/cajal_nocc_%d", tmpdir, os.time())
  local cmd = format("env -u CAJAL_JIT CC=/nonexistent/cc CAJAL_CACHE=%s '%s' -e '%s' 2>&1", cache, cajal,
    (code:gsub("'", "'\\''")))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close(), out)
  os.execute("rm -rf '" .. cache .. "'")
  assert(out:find("backends\tinterp\tinterp\t%d+"), out)
  local _, nwarn = out:gsub("warning: [^\n]*interpreter", "")
  assert(nwarn == 1, "expected one warning line:\n" .. out)
  assert(out:find("/nonexistent/cc", 1, true), out)
  -- asking for the JIT explicitly is an error, not a fallback
  cmd = format("env -u CAJAL_JIT CC=/nonexistent/cc '%s' -e 'local cj = require \"cajal\"; cj.network(\"population P = poisson(5, rate = 1 Hz)\", {backend = \"jit\"})' 2>&1", cajal)
  p = assert(io.popen(cmd))
  out = p:read("a")
  assert(not p:close(), "backend = 'jit' without a compiler did not fail")
  assert(out:find("backend 'jit'", 1, true), out)
end)

---------------------------------------------------------------------------
-- NaN detection
---------------------------------------------------------------------------

T.test("NaN in state stops the run naming population, variable, neuron, step", function()
  local net = cj.network(SMALL, { seed = 5 })
  net:run(1 * cj.ms)
  local v = net.E.v
  v[7] = 0 / 0 * cj.mV
  local err = T.checkerror("NaN", net.run, net, 20 * cj.ms)
  assert(err:find("'E'", 1, true) and err:find("'v'", 1, true), err)
  assert(err:find("neuron 7") or err:find("v%[7%]"), "message does not name neuron 7 (1-based): " .. err)
  assert(err:find("step %d+"), err)
  -- the network stays inspectable
  assert(net.E.N == 60 and net.t.value > 0)
  -- an exploding equation
  local boom = cj.network([[
    neuron grow { state { x = 1 } equations { dx/dt = x * x / 1 ms } }
    population G = grow(3)
  ]], { backend = "interp" })
  err = T.checkerror("'G'", boom.run, boom, 100 * cj.ms)
  assert(err:find("'x'", 1, true) and (err:find("infinite") or err:find("NaN")), err)
end)

---------------------------------------------------------------------------
-- Bad input
---------------------------------------------------------------------------

T.test("clear errors for bad paths, sources and options", function()
  T.checkerror("cannot open 'no_such_model.cajal'", cj.load, "no_such_model.cajal")
  T.checkerror("bad argument #1 to 'cj.load'", cj.load, 42)
  T.checkerror("bad argument #1 to 'cj.network'", cj.network, nil)
  T.checkerror("bad argument #2 to 'cj.network'", cj.network, "population P = poisson(1, rate = 1 Hz)", 5)
  local ok = "population P = poisson(3, rate = 10 Hz)\nrecord spikes of P"
  T.checkerror("unknown option 'sed'", cj.network, ok, { sed = 1 })
  T.checkerror("option 'seed'", cj.network, ok, { seed = -1 })
  T.checkerror("option 'seed'", cj.network, ok, { seed = "x" })
  T.checkerror("option 'dt'", cj.network, ok, { dt = -1 * cj.ms })
  T.checkerror("option 'dt'", cj.network, ok, { dt = 1 * cj.mV })
  T.checkerror("option 'backend'", cj.network, ok, { backend = "gpu" })
  T.checkerror("option 'progress'", cj.network, ok, { progress = "yes" })
  -- option errors found while compiling are argument errors too, and every
  -- argument error points at the calling line
  T.checkerror("bad argument #2 to 'cj.network' (option 'params': Q: no population 'Q')",
    cj.network, ok, { params = { Q = { x = 1 } } })
  T.checkerror("P.nope: 'P' is a poisson generator, it has no parameters to override",
    cj.network, "population P = poisson(5, rate = 10 Hz)", { params = { P = { nope = 1 } } })
  T.checkerror("bad argument #2 to 'cj.network' (option 'method': ", cj.network, ok, { method = "bogus" })
  local model = srcdir .. "/tests/lua/data/bad.cajal"
  local here = arg[0]:match("[^/]*$")
  local calls = {
    function() local n = cj.network(42); return n end,
    function() local n = cj.network(ok, 5); return n end,
    function() local n = cj.network(ok, { sed = 1 }); return n end,
    function() local n = cj.network(ok, { seed = -1 }); return n end,
    function() local n = cj.network(ok, { params = { Q = { x = 1 } } }); return n end,
    function() local n = cj.network(ok, { method = "bogus" }); return n end,
    function() local n = cj.load(42); return n end,
    function() local n = cj.load(model, { dt = 1 * cj.mV }); return n end,
    function() local n = cj.load(model, { method = "bogus" }); return n end,
  }
  for k, f in ipairs(calls) do
    local line = debug.getinfo(f, "S").linedefined
    local e = T.checkerror("bad argument #", f)
    assert(e:find(here .. ":" .. line .. ": bad argument", 1, true), format("call %d (line %d): %s", k, line, e))
  end
  -- errors in the model come back with file:line:col
  T.checkerror("<string>:2:", cj.network, "population P = poisson(3, rate = 10 Hz)\nrecord spikes of Q")
  local err = T.checkerror("bad.cajal:", cj.load, srcdir .. "/tests/lua/data/bad.cajal")
  assert(err:find("%^"), "no caret in: " .. err)
  -- a valid network with dt and seed options
  local net = cj.network(ok, { dt = 0.05 * cj.ms, seed = 2 })
  T.near(net.dt.value, 5e-5, 0)
  assert(net.seed == 2)
end)

---------------------------------------------------------------------------
-- Summed outputs read the inputs of the same step (IR.md section 3)
---------------------------------------------------------------------------

-- X is driven from arrays, Y sums X and is also driven on its neuron 0 (so
-- its input is '@sum' plus a drive), Z sums Y: all algebraic (r = I_in).
-- After one step Z holds the sample of that step through both layers.
local CHAIN = [[
dt = 1 ms
neuron unit { input I_in : Hz
  equations { r = I_in } }
synapse lin { state { w = 1 }
  output I_in = w * r_pre }
population X = unit(3)
population Y = unit(2)
population Z = unit(1)
drive I_in of X from arrays data every 1 ms scale 1 Hz
drive I_in of Y[0..0] from arrays extra every 1 ms scale 1 Hz
%s
]]
local XY = "connect X -> Y lin all_to_all weight 0.5"
local YZ = "connect Y -> Z lin all_to_all weight 2"

T.test("a chain of algebraic rate units carries a sample through in one step, on both backends", function()
  local data = cj.array{ { 1, 2, 3 }, { 4, 5, 6 }, { -1, 0, 2 } }
  local extra = cj.array{ 10, 20, 30 }
  local seen = {}
  for _, backend in ipairs({ "jit", "interp" }) do
    if backend == "jit" and not require("cajal.core").jit_available() then
      T.skippart("jit", "no C compiler for the JIT")
    else
      local net = cj.network(CHAIN:format(XY .. "\n" .. YZ), { arrays = { data = data, extra = extra }, backend = backend })
      local z = {}
      for n = 1, 3 do
        net:run(1e-3 * cj.second)
        z[n] = (net.Z.I_in[1]).value
        -- y0 = 0.5 sum(x) + extra, y1 = 0.5 sum(x); z = 2 (y0 + y1)
        local sx = data[n]:sum()
        T.near(z[n], 2 * (0.5 * sx + extra[n] + 0.5 * sx), 1e-12, "z at step " .. n)
      end
      seen[#seen + 1] = z
    end
  end
  if #seen == 2 then T.same(seen[1], seen[2], "jit and interpreter") end
end)

T.test("a sum that reads an input summed later in the step, or itself, is refused", function()
  local data = cj.array{ { 1, 2, 3 } }
  local opts = { arrays = { data = data, extra = cj.array{ 1 } } }
  T.checkerror("which 'XY' sums into later in the step: connect 'XY' before 'YZ'", cj.network,
               CHAIN:format(YZ .. " as YZ\n" .. XY .. " as XY"), opts)
  T.checkerror("which it sums into itself: an algebraic loop", cj.network,
               CHAIN:format(XY .. "\nconnect Y -> Y lin all_to_all weight 0.1 as YY"), opts)
  -- a unit with a state in between is not a loop
  local src = CHAIN:format(XY):gsub("population Y = unit%(2%)", "population Y = leaky(2)")
                   :gsub("population X", "neuron leaky { input I_in : Hz\n state { r = 0 Hz }\n"
                         .. " equations { dr/dt = (I_in - r) / 10 ms } }\npopulation X", 1)
  cj.network(src .. "connect Y -> Y lin all_to_all weight 0.1\n", opts)
end)

-- Storage of a synapse (issue 11): its 4-byte target (CSR by pre neuron)
-- plus its variables; the pre neuron of each synapse is kept (4 more bytes)
-- only when a kernel of the projection reads it. Two networks differing in
-- the connection probability only: the memory difference per synapse is
-- exactly that. The pre neurons are the same either way, and a kernel that
-- reads i (the weight clause) sees the pre neuron of its synapse.
T.test("a synapse costs 4 bytes unless a kernel reads its pre neuron", function()
  local plain = "{ on_spike: v += 1 mV }"
  local function make(p, clause)
    return cj.network(format([[
neuron lif { state { v = 0 mV }
  equations { dv/dt = -v / (10 ms) }
  spike when v > 10 mV
  reset { v = 0 mV } }
population A = lif(300)
population B = lif(200)
connect A -> B %s with probability %g %s as AB
]], clause, p, clause == plain and "" or "weight i * 1 mV"), { seed = 21, progress = false })
  end
  local reads = "{ state { w = 0 mV }\n on_pre: v_post += w }"
  local a1, a2 = make(0.1, plain), make(0.3, plain)
  local b1, b2 = make(0.1, reads), make(0.3, reads)
  local dn = a2.AB.N - a1.AB.N
  assert(dn > 5000, "synapses " .. dn)
  assert((a2.memory - a1.memory) / dn == 4, "bytes per synapse, no kernel reads pre: " .. (a2.memory - a1.memory) / dn)
  assert((b2.memory - b1.memory) / dn == 16, "bytes per synapse with pre, post and w (float64): " .. (b2.memory - b1.memory) / dn)
  local pa, qa = a2.AB:connectivity()
  local pb, qb = b2.AB:connectivity()
  T.same(values(pa), values(pb), "pre neurons from rowptr and as kept")
  T.same(values(qa), values(qb), "targets")
  local w = values(b2.AB.w)
  for s, i in ipairs(values(pb)) do assert(math.abs(w[s] - (i - 1) * 1e-3) < 1e-15, "w of synapse " .. s) end
  -- a save of a network without pre[] restores the same connectivity
  a2:run(0.01)
  local path = os.tmpname()
  a2:save(path)
  local r = cj.restore(path, { progress = false })
  os.remove(path)
  local pr, qr = r.AB:connectivity()
  T.same(values(pr), values(pa), "restored pre")
  T.same(values(qr), values(qa), "restored post")
  assert(r.memory == a2.memory, "restored memory " .. r.memory .. " vs " .. a2.memory)
end)

T.done()
