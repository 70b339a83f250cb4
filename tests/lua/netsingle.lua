-- tests/lua/netsingle.lua — single-precision networks (opts.precision =
-- "single"): float32 state, kernels computing in double with one rounding
-- per store, identical on both backends; rates agree with double precision
-- within statistics; save/restore; the NaN check; memory of the state.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local values, same, spikelist = T.values, T.same, T.spikelist
local cj = require "cajal"
local compile = require "cajal.compile"

local format = string.format
local srcdir = T.srcdir
local tmpdir = os.getenv("TMPDIR") or "/tmp"

-- the shared network of fixtures.lua
local SMALL = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/fixtures.lua").SMALL

local function single(opts)
  opts = opts or {}
  opts.precision = "single"
  return opts
end

T.test("the IR and the C carry the precision; other precisions are errors", function()
  local ir = compile.build(SMALL, nil, { precision = "single" })
  assert(ir.precision == "single", tostring(ir.precision))
  assert(ir.c_source:find("float *restrict const v0", 1, true), "no float pointers in the C")
  local ird = compile.build(SMALL, nil, {})
  assert(ird.precision == "double")
  assert(not ird.c_source:find("float", 1, true))
  T.checkerror("option 'precision'", cj.network, SMALL, { precision = "half" })
  T.checkerror("option 'precision'", cj.network, SMALL, { precision = 32 })
  T.checkerror("precision", compile.build, SMALL, nil, { precision = "quad" })
end)

T.test("state views are float32 and writable; monitors record doubles", function()
  local net = cj.network(SMALL, single { seed = 5 })
  assert(net.E.v.dtype == "float32", net.E.v.dtype)
  assert(net.Plastic.w.dtype == "float32", net.Plastic.w.dtype)
  net.E.v = -65 * cj.mV
  local f32 = string.unpack("f", string.pack("f", -0.065))
  assert(f32 ~= -0.065)
  for _, x in ipairs(values(net.E.v)) do T.near(x, f32, 0) end
  net:run(50 * cj.ms)
  local now = values(net.E.v)
  net:run(0.1 * cj.ms)      -- step 500 records the state at t = 50 ms (every 1 ms) before it runs
  local st = net.state.E
  assert(st, "no state monitor")
  local vals = st.v:values()
  assert(vals.dtype == "float64", vals.dtype)
  local last = values(vals)
  for k = 1, 5 do T.near(last[#last - 5 + k], now[k], 0, "last record of neuron " .. k) end
end)

T.test("JIT and interpreter give identical spikes and state in single precision", function()
  local j = cj.network(SMALL, single { seed = 4 })
  local i = cj.network(SMALL, single { seed = 4, backend = "interp" })
  assert(i.backend == "interp")
  j:run(200 * cj.ms); i:run(200 * cj.ms)
  for _, pop in ipairs({ "E", "I" }) do
    local tj, ij = spikelist(j.spikes[pop])
    local ti, ii = spikelist(i.spikes[pop])
    assert(#tj > 0)
    same(ti, tj, pop .. " times")
    same(ii, ij, pop .. " indices")
  end
  same(values(i.E.v), values(j.E.v), "v")
  same(values(i.E.I_syn), values(j.E.I_syn), "I_syn")
  same(values(i.Plastic.w), values(j.Plastic.w), "w")
  -- it is a different computation from double precision
  local d = cj.network(SMALL, { seed = 4 })
  d:run(200 * cj.ms)
  local dv, sv, differ = values(d.E.v), values(j.E.v), false
  for k = 1, #dv do differ = differ or dv[k] ~= sv[k] end
  assert(differ, "single and double state are equal")
end)

T.test("every example model: JIT and interpreter states identical in single precision", function()
  for _, m in ipairs({ "coba", "cuba", "rate_wta", "ring_attractor" }) do
    local path = srcdir .. "/examples/" .. m .. ".cajal"
    local a = cj.load(path, single { seed = 3 })
    local b = cj.load(path, single { seed = 3, backend = "interp" })
    a:run(100 * cj.ms); b:run(100 * cj.ms)
    local ir = compile.load_file(path, { seed = 3, jit = false })
    for _, kind in ipairs({ "populations", "projections" }) do
      for _, p in ipairs(ir[kind]) do
        for _, v in ipairs(p.vars or {}) do
          local x = a[kind][p.name][v.name]
          assert(x.dtype == "float32", m .. ": " .. x.dtype)
          same(values(b[kind][p.name][v.name]), values(x), m .. ": " .. p.name .. "." .. v.name)
        end
      end
    end
  end
end)

T.test("f-I curve: spike counts within 1 of double precision over 1 s", function()
  local path = srcdir .. "/examples/fi_curve.cajal"
  local d = cj.load(path, { seed = 1 })
  local s = cj.load(path, single { seed = 1 })
  local si = cj.load(path, single { seed = 1, backend = "interp" })
  d:run(1 * cj.second); s:run(1 * cj.second); si:run(1 * cj.second)
  local cd, cs, ci = values(d.spikes.F:counts()), values(s.spikes.F:counts()), values(si.spikes.F:counts())
  same(ci, cs, "counts on the two backends")
  local total = 0
  for k = 1, #cd do
    assert(math.abs(cd[k] - cs[k]) <= 1, format("neuron %d: %d spikes (double) vs %d (single)", k - 1, cd[k], cs[k]))
    total = total + cd[k]
  end
  assert(total > 500, "too few spikes: " .. total)
end)

T.test("CUBA rates agree with double precision within statistics", function()
  local path = srcdir .. "/examples/cuba.cajal"
  local d = cj.load(path, { seed = 7 })
  local s = cj.load(path, single { seed = 7 })
  d:run(0.5 * cj.second); s:run(0.5 * cj.second)
  for _, pop in ipairs({ "E", "I" }) do
    local rd, rs = d.spikes[pop]:rate().value, s.spikes[pop]:rate().value
    assert(rd > 2 and rd < 15, pop .. " double rate " .. rd)
    assert(math.abs(rd - rs) < 0.15 * rd, format("%s: %.3f Hz (double) vs %.3f Hz (single)", pop, rd, rs))
  end
end)

T.test("memory: the state takes half the bytes", function()
  local d = cj.network(SMALL, { seed = 2 })
  local s = cj.network(SMALL, single { seed = 2 })
  local ir = compile.build(SMALL, nil, { seed = 2 })
  local elems = 0
  for _, p in ipairs(ir.populations) do elems = elems + p.n * #(p.vars or {}) end
  for _, p in ipairs(ir.projections) do
    elems = elems + d.projections[p.name].N * #(p.vars or {})
  end
  local saved = d.memory - s.memory
  assert(saved > 0, "no memory saved")
  -- every state element takes 8 bytes in double and 4 in single
  T.near(saved, 4 * elems, 0, "bytes saved")
end)

T.test("save at T, restore, run T == one run of 2T in single precision", function()
  local path = tmpdir .. "/cajal_test_single_" .. tostring(os.time()) .. ".net"
  local a = cj.network(SMALL, single { seed = 9 })
  a:run(150 * cj.ms)
  a:save(path)
  local b = cj.restore(path)
  assert(b.E.v.dtype == "float32")
  b:run(150 * cj.ms)
  local c = cj.network(SMALL, single { seed = 9 })
  c:run(300 * cj.ms)
  for _, pop in ipairs({ "E", "I" }) do
    local ta, ia = spikelist(c.spikes[pop], 0.15)
    local tb, ib = spikelist(b.spikes[pop], 0.15)
    assert(#ta > 10, "too few spikes to compare: " .. #ta)
    same(tb, ta, pop .. " spike times after restore")
    same(ib, ia, pop .. " spike indices after restore")
  end
  same(values(b.E.v), values(c.E.v), "state after restore")
  same(values(b.Plastic.w), values(c.Plastic.w), "plastic weights after restore")
  local e = cj.restore(path, { backend = "interp" })
  e:run(150 * cj.ms)
  same(values(e.E.v), values(c.E.v), "state after restore on the interpreter")
  T.checkerror("cannot change on restore", cj.restore, path, { precision = "double" })
  os.remove(path)
end)

T.test("NaN and infinity are found in float32 state", function()
  local net = cj.network(SMALL, single { seed = 5 })
  net:run(1 * cj.ms)
  local v = net.E.v
  v[7] = 0 / 0 * cj.mV
  local err = T.checkerror("NaN", net.run, net, 20 * cj.ms)
  assert(err:find("'E'", 1, true) and err:find("'v'", 1, true), err)
  for _, be in ipairs({ "jit", "interp" }) do
    local boom = cj.network([[
      neuron grow { state { x = 1 } equations { dx/dt = x * x / 1 ms } }
      population G = grow(3)
    ]], single { backend = be })
    err = T.checkerror("'G'", boom.run, boom, 100 * cj.ms)
    assert(err:find("'x'", 1, true) and (err:find("infinite") or err:find("NaN")), err)
  end
end)

T.done()
