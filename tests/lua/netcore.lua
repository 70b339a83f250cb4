-- netcore.lua — the network runtime through its binding (cajal.core):
-- hand-written IR tables (vm/core/IR.md), no model compiler involved.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local core = require "cajal.core"
local cj = require "cajal"

-- the number inside a quantity (arrays with units return quantities)
local function val(q) return type(q) == "number" and q or q.value end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

-- A generator G (2 neurons) drives a LIF-like population P (3 neurons)
-- one-to-one-ish: every spike of G adds w to P's x.
local function smallir(extra)
  local ir = {
    abi = 2, dt = 1e-4, seed = 3, name = "small",
    kernels = {
      { id = 1, name = "P_update", domain = "neurons", line = 10, ntmp = 1,
        refs = { { "pop", 2, 1 }, { "pop", 2, 2 } },
        body = { { "let", 0, { "*", { "var", 0, "i" }, { "num", 0.5 } } },
                 { "set", 0, "i", { "tmp", 0 } },
                 { "add", 1, "i", { "dt" } } } },
      { id = 2, name = "P_thr", domain = "neurons", kind = "threshold", line = 11,
        refs = { { "pop", 2, 1 } }, cond = { ">", { "var", 0, "i" }, { "num", 0.7 } } },
      { id = 3, name = "P_reset", domain = "spikes", line = 12,
        refs = { { "pop", 2, 1 } }, body = { { "set", 0, "i", { "num", 0 } } } },
      { id = 4, name = "GP_pre", domain = "events", line = 13,
        refs = { { "pop", 2, 1 }, { "proj", 1, 1 } },
        body = { { "add", 0, "post", { "var", 1, "s" } } } },
      { id = 5, name = "GP_init", domain = "synapses", line = 14,
        refs = { { "proj", 1, 1 } },
        body = { { "set", 0, "s", { "+", { "num", 1 }, { "*", { "i" }, { "num", 0.5 } } } } } },
    },
    populations = {
      { name = "G", n = 2, kind = "spikegen", times = { 0.001, 0.001, 0.0015 }, indices = { 0, 1, 0 } },
      { name = "P", n = 3, vars = { { name = "x", unit = "V" }, { name = "clock", unit = "s" } },
        update = 1, threshold = 2, reset = 3, refractory = 0.0005 },
    },
    projections = {
      { name = "G->P", pre = 1, post = 2, rule = { kind = "all" }, delay = 2,
        vars = { { name = "w", unit = "V" } }, init = 5, on_pre = 4 },
    },
    monitors = {
      { kind = "spikes", pop = 2 },
      { kind = "state", pop = 2, var = 1, indices = { 0, 2 }, every = 5 },
      { kind = "rate", pop = 1, every = 10 },
    },
  }
  for k, v in pairs(extra or {}) do ir[k] = v end
  return ir
end

T.test("a network from an IR table runs and records", function()
  local net = core.net_new(smallir())
  assert(tostring(net):find("network 'small'"))
  net:run(30)
  assert(net:step() == 30)
  T.near(net:time(), 30e-4, 1e-15)
  -- G spikes at steps 10 (both) and 15 (neuron 0); arrivals at 12 and 17,
  -- with x halved every step: x[j] = 1 + 0.5 (w of G0) + 1.5 (G1) = 2.5 at 12
  local times, idx, kind = net:monitor(1)
  assert(kind == "spikes")
  assert(#times == 3 and #idx == 3, #times)
  for k = 1, 3 do
    T.near(val(times[k]), 12e-4, 1e-15)
    assert(idx[k] == k)         -- the binding counts neurons from 1, as Lua does
  end
  local vals, st = net:monitor(2)
  assert(vals.shape[1] == 6 and vals.shape[2] == 2)
  T.near(val(st[3]), 10e-4, 1e-15)
  -- after the reset at 12, x gets 1 (G0, w = 1) at 17 and is halved: 0.5 at 17 > 0.7? no
  local x = net:state("P", "x")
  T.near(val(x[1]), 0.5 * 0.5 ^ 12, 1e-18)
  local clock = net:state(2, 2)
  T.near(val(clock[1]), 30e-4, 1e-15)
  local rates, rt, rk = net:monitor(3)
  assert(rk == "rate" and #rates == 3)
  T.near(val(rates[2]), 3 / (2 * 10 * 1e-4), 1e-9)   -- steps 10 (two) and 15 (one)
  T.near(val(rates[1]), 0, 0)
end)

T.test("state views are live in both directions", function()
  local net = core.net_new(smallir())
  local x = net:state("P", "x")
  x[2] = 100 * cj.V           -- above threshold: neuron 1 spikes at step 0
  net:run(1)
  local t, i = net:monitor(1)
  assert(#t == 1 and i[1] == 2)   -- neuron 1 of the IR is [2] in Lua
  assert(val(x[2]) == 0)      -- reset seen through the view
  local ls = net:lastspike("P")
  assert(val(ls[2]) == 0 and val(ls[1]) == -math.huge)
  local w = net:synvar("G->P", "w")
  assert(#w == 6)
  T.near(val(w[1]), 1, 0); T.near(val(w[4]), 1.5, 0)
  local pre, post, d = net:connectivity(1)
  assert(#pre == 6 and pre[1] == 1 and post[3] == 3 and pre[4] == 2 and d[1] == 2)   -- 1-based
  x = nil
  collectgarbage()
  local info = net:info()
  assert(info.populations[2].name == "P" and info.projections[1].nsyn == 6 and info.memory > 0)
  assert(net:backend(1) == "interpreter")
end)

T.test("reset and save/restore give the same continuation", function()
  local path = tmpname()
  local a = core.net_new(smallir())
  a:run(40)
  local ta = a:monitor(1)
  local b = core.net_new(smallir())
  b:run(11)                   -- spikes of step 10 are in flight
  b:save(path)
  local c = core.net_restore(smallir(), (assert(core.savefile_read(path))))
  assert(c:step() == 11)
  c:run(29)
  local tc = c:monitor(1)
  assert(#ta == #tc)
  for k = 1, #ta do assert(val(ta[k]) == val(tc[k])) end
  b:reset()
  assert(b:step() == 0 and #b:monitor(1) == 0)
  b:run(40)
  assert(#b:monitor(1) == #ta)
  os.remove(path)
  local none, err = core.savefile_read("/nonexistent/x.net")
  assert(none == nil and err:find("restore: cannot open", 1, true), err)
  T.checkerror("savefile expected", core.net_restore, smallir(), "/nonexistent/x.net")
  T.checkerror("save: cannot write", function() a:save("/nonexistent/dir/x.net") end)
end)

T.test("malformed IR is named precisely", function()
  local function bad(patch, msg)
    local ir = smallir()
    patch(ir)
    T.checkerror(msg, core.net_new, ir)
  end
  bad(function(ir) ir.abi = 7 end, "net_new: ir.abi: the IR has ABI 7")
  bad(function(ir) ir.dt = -1 end, "ir.dt: expected a positive step")
  bad(function(ir) ir.populations[2].n = "three" end, "ir.populations[2].n: expected an integer, got string")
  bad(function(ir) ir.populations[2].kind = "blob" end, "ir.populations[2]: unknown kind 'blob'")
  bad(function(ir) ir.kernels[1].body[1][3] = { "frob", 1 } end, "ir.kernels[1].body[1][3]: unknown expression 'frob'")
  bad(function(ir) ir.kernels[1].body[2] = { "set", 0, "x", { "num", 1 } } end, "ir.kernels[1].body[2]: element selector 'x'")
  bad(function(ir) ir.kernels[1].body[1][3] = { "call", "exp", { "num", 1 }, { "num", 2 } } end, "'exp' takes 1 arguments, got 2")
  bad(function(ir) ir.kernels[1].refs[1] = { "pop", 9, 1 } end, "is not a variable this kernel can reach")
  bad(function(ir) ir.kernels[1].body[1] = { "let", 5, { "num", 1 } } end, "temporary 5 out of range")
  bad(function(ir) ir.projections[1].rule = { kind = "sometimes" } end, "ir.projections[1].rule: unknown rule 'sometimes'")
  bad(function(ir) ir.projections[1].post = 3 end, "ir.projections[1].post: 3 out of range 1..2")
  bad(function(ir) ir.populations[1].indices = { 0, 1 } end, "times and indices differ in length")
  bad(function(ir) ir.populations[1].indices = { 0, 5, 0 } end, "spike 2 has index 5")
  bad(function(ir) ir.monitors[2].var = 4 end, "ir.monitors[2].var: 4 out of range 1..2")
  bad(function(ir) ir.kernels[4].body = { { "add", 0, "post" } } end, "'add' takes a slot, an element selector and an expression")
  bad(function(ir) ir.kernels[2].domain = "events" end, "threshold kernels must have domain 'neurons'")
  local deep = { "num", 1 }
  for _ = 1, 300 do deep = { "neg", deep } end
  bad(function(ir) ir.kernels[1].body[1][3] = deep end, "nested too deeply")
  T.checkerror("net_new' (table expected", core.net_new, 42)
end)

T.test("NaN stops the run naming population, variable, neuron and step", function()
  local ir = smallir()
  ir.kernels[1].body[3] = { "if", { "==", { "i" }, { "num", 2 } },
                            { { "set", 1, "i", { "/", { "num", 0 }, { "num", 0 } } } } }
  local net = core.net_new(ir)
  local msg = T.checkerror("population 'P', variable 'clock', neuron 2 is NaN at step 100", net.run, net, 250)
  assert(net:step() == 100, msg)
  -- neuron 2 of the model (from 0) is [3] in Lua: the binding says so
  assert(msg:find("[in Lua: net.P.clock[3]]", 1, true), msg)
  -- a run stopped for another reason says nothing of the kind
  local msg2 = T.checkerror("number of steps must be >= 0", net.run, net, -1)
  assert(not msg2:find("in Lua", 1, true), msg2)
end)

T.test("arrays, drives and heterogeneous delays from Lua", function()
  local ir = {
    abi = 2, dt = 1e-4,
    kernels = {
      { id = 1, name = "pre", domain = "events", refs = { { "pop", 2, 1 }, { "proj", 1, 1 } },
        body = { { "add", 0, "post", { "var", 1, "s" } } } },
    },
    populations = {
      { name = "G", n = 3, kind = "spikegen", times = core.array and core.array({ 0, 0 }) or { 0, 0 }, indices = { 0, 2 } },
      { name = "N", n = 2, vars = { { name = "x" }, { name = "I" } },
        drives = { { var = 2, values = { { 1, 2 }, { 3, 4 } }, interval = 2e-4 } } },
    },
    projections = {
      { name = "GN", pre = 1, post = 2, rule = { kind = "arrays", i = { 2, 0, 0 }, j = { 1, 1, 0 } },
        vars = { { name = "w" }, { name = "@delay" } }, delay_var = 2, on_pre = 1,
        weights = { w = { 10, 20, 30 }, ["@delay"] = { 3e-4, 1e-4, 5e-4 } } },
    },
    monitors = { { kind = "state", pop = 2, var = 1, every = 1 } },
  }
  local net = core.net_new(ir)
  local pre, post, d = net:connectivity("GN")
  -- sorted by (pre, post): (0,0) w 30 d 5, (0,1) w 20 d 1, (2,1) w 10 d 3 in the IR's
  -- numbering; the binding gives them 1-based
  assert(pre[1] == 1 and post[1] == 1 and pre[2] == 1 and post[2] == 2 and pre[3] == 3)
  assert(d[1] == 5 and d[2] == 1 and d[3] == 3)
  local w = net:synvar(1, 1)
  assert(w[1] == 30 and w[2] == 20 and w[3] == 10)
  net:run(8)
  local vals = net:monitor(1)
  local function x(step, j) return vals[step + 1][j + 1] end
  -- row k: the state before step k; an event delivered at step d shows from row d + 1
  assert(x(0, 1) == 0 and x(1, 1) == 0 and x(2, 1) == 20 and x(4, 1) == 30 and x(6, 0) == 30 and x(5, 0) == 0)
  local I = net:state("N", "I")
  assert(I[1] == 3 and I[2] == 4)        -- row 1 from step 2 on, held past the end
end)

T.test("compiled kernels: same results, cache hits, model lines in errors", function()
  local ok, why = core.jit_available()
  if not ok then T.skip("no C compiler: " .. why) end
  local dir = core.cache_dir()
  assert(type(dir) == "string" and #dir > 0)
  local ir = smallir()
  local src = core.kernel_prelude() .. [==[
void cjk_1(const cj_kctx *c) { double *x = c->var[0], *k = c->var[1];
  for (int64_t i = 0; i < c->n; i++) { double t0 = (x[i] * 0.5); x[i] = t0; k[i] += c->dt; } }
void cjk_2(const cj_kctx *c) { const double *x = c->var[0];
  for (int64_t i = 0; i < c->n; i++) if ((c->t - c->lastspike[i]) >= c->refractory && (x[i] > 0.7 ? 1.0 : 0.0) != 0.0) c->spikes[(*c->nspikes)++] = i; }
void cjk_3(const cj_kctx *c) { double *x = c->var[0]; for (int64_t q = 0; q < c->n; q++) x[c->list[q]] = 0.0; }
void cjk_4(const cj_kctx *c) { double *x = c->var[0], *w = c->var[1];
  for (int64_t q = 0; q < c->n; q++) { int64_t s = c->list[q]; x[c->post[s]] += w[s]; } }
void cjk_5(const cj_kctx *c) { double *w = c->var[0];
  for (int64_t s = 0; s < c->n; s++) w[s] = (1.0 + ((double)c->pre[s] * 0.5)); }
]==]
  src = src .. "/* " .. tostring(os.time()) .. tostring({}) .. " */\n"   -- a fresh cache entry
  local s0 = core.jit_stats()
  local jit = assert(core.jit_compile(src, ir.kernels))
  local s1 = core.jit_stats()
  assert(s1.compiles == s0.compiles + 1)
  local jit2 = assert(core.jit_compile(src, ir.kernels))
  local s2 = core.jit_stats()
  assert(s2.compiles == s1.compiles and s2.hits == s1.hits + 1, "second load ran the compiler")
  local a, b = core.net_new(ir, jit), core.net_new(smallir())
  assert(a:backend(1) == "jit")
  a:run(40); b:run(40)
  local ta, tb = a:monitor(1), b:monitor(1)
  assert(#ta == #tb and #ta > 0)
  local xa, xb = a:state(2, 1), b:state(2, 1)
  for k = 1, 3 do assert(val(xa[k]) == val(xb[k])) end
  jit, jit2 = nil, nil
  collectgarbage()            -- the network keeps its code alive
  a:run(10)
  local r, msg = core.jit_compile(core.kernel_prelude() .. "void cjk_2(const cj_kctx *c)\n{\n  oops;\n}\n", ir.kernels)
  assert(r == nil and msg:find("model line 11 (kernel 2 'P_thr')", 1, true), msg)
  T.checkerror("has no function cjk_", core.net_new, ir, assert(core.jit_compile(core.kernel_prelude())))
end)

T.test("fused update and threshold (JIT): used when nothing between them writes the state, same spikes, at every size", function()
  local ok, why = core.jit_available()
  if not ok then T.skip("no C compiler: " .. why) end
  local emit = require "cajal.emit"
  -- a stochastic threshold: its draws must keep the threshold's kernel id
  local function stochastic(ir)
    ir.kernels[2].cond = { "or", { ">", { "var", 0, "i" }, { "num", 0.7 } },
                           { "<", { "rand", "uniform", 0 }, { "num", 0.05 } } }
    return ir
  end
  -- a projection update that writes x of P (through post) between P's
  -- update and threshold: the fused pass would read x before it
  local function writer(ir)
    ir.kernels[6] = { id = 6, name = "GP_update", domain = "synapses", line = 15,
                      refs = { { "pop", 2, 1 } }, body = { { "add", 0, "post", { "num", 0.4 } } } }
    ir.projections[1].update = 6
    return ir
  end
  -- the spikes and state of P after 200 steps; src: the C, else emitted
  local function run(ir, src)
    local net = src and core.net_new(ir, assert(core.jit_compile(src, ir.kernels))) or core.net_new(ir)
    net:run(200)
    local times, idx = net:monitor(1)
    local x = net:state(2, 1)
    local out = { #times }
    for k = 1, #times do out[#out + 1] = string.format("%a:%d", val(times[k]), idx[k]) end
    for k = 1, ir.populations[2].n do out[#out + 1] = string.format("%a", val(x[k])) end
    return table.concat(out, " "), #times
  end
  -- the same C with a fused function that finds no spike
  local function blind(src)
    local a = assert(src:find("void cjf_1_2(const cj_kctx *c)", 1, true))
    return src:sub(1, a - 1) .. "void cjf_1_2(const cj_kctx *c) { (void)c; }\n"
      .. "/* " .. tostring(os.time()) .. tostring({}) .. " */\n"
  end
  -- P of n neurons: the sizes around the blocks of 64 and the first block,
  -- which ends where the state is 64-byte aligned (malloc places arrays of
  -- these sizes at several offsets); the writer case runs the plain update
  -- kernel, which is split there too
  local function sized(ir, n)
    ir.populations[2].n = n
    ir.monitors[2].indices = { 0, n - 1 }
    return ir
  end
  for _, n in ipairs({ 3, 1, 2, 7, 8, 9, 15, 63, 64, 65, 71, 72, 129, 200 }) do
    for _, case in ipairs({ { "stochastic", stochastic }, { "writer", function(ir) return writer(stochastic(ir)) end } }) do
      local function mk() return sized(case[2](smallir()), n) end
      local src = emit.c(mk())
      assert(src:find("void cjf_1_2(const cj_kctx *c)", 1, true), "no fused function emitted")
      local want, count = run(mk())
      assert(count > 3 * n, case[1] .. ", " .. n .. " neurons: too few spikes to compare: " .. count)
      local jit = run(mk(), src)
      assert(jit == want, case[1] .. ", " .. n .. " neurons: JIT vs interpreter:\n" .. jit .. "\n" .. want)
      if n == 3 then
        local got = run(mk(), blind(src))
        if case[1] == "writer" then
          assert(got == want, "a projection update writes the state: the fused function must not run")
        else
          assert(got ~= want and got:match("^0 "), "the fused function did not run: " .. got:sub(1, 40))
        end
      end
    end
  end
  -- one that reads a variable the update does not name is not emitted
  local ir = smallir()
  ir.kernels[2].refs = { { "pop", 2, 1 }, { "pop", 2, 2 } }
  ir.kernels[1].refs = { { "pop", 2, 1 } }
  ir.kernels[1].body = { { "set", 0, "i", { "*", { "var", 0, "i" }, { "num", 0.5 } } } }
  ir.kernels[2].cond = { ">", { "var", 1, "i" }, { "num", 0.7 } }
  assert(not emit.c(ir):find("cjf_", 1, true))
end)

T.test("Ctrl-C stops a run between steps", function()
  local stat = io.open("/proc/self/stat")
  if not stat then T.skip("no /proc to find our pid") end
  local pid = stat:read("a"):match("^(%d+)")
  stat:close()
  local net = core.net_new(smallir())
  os.execute("(sleep 0.3; kill -INT " .. pid .. ") &")
  local msg = T.checkerror("interrupted at step", net.run, net, 1000000000, false)
  local n = net:step()
  assert(n > 0 and n < 1000000000 and n % 100 == 0, msg)
  net:run(5)                  -- and it runs on
  assert(net:step() == n + 5)
end)

T.done()
