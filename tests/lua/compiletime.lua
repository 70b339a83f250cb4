-- tests/lua/compiletime.lua — the network compiler's work grows linearly
-- with the model (issue 13, items 4 and 6). Each pathological model below
-- took seconds to minutes (or failed with "C stack overflow") before the
-- passes were made linear; each must now compile (text -> checked IR -> C,
-- through compile.build) within a bound that is generous on purpose
-- (BOUND seconds of CPU time, a hundred times what it takes here): this
-- is a complexity regression test, not a benchmark. The CPU time of each
-- case is printed, for the record.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local compile = require "cajal.compile"
local check = require "cajal.check"
local cj = require "cajal"

local BOUND = 5.0
local format, rep, concat = string.format, string.rep, table.concat

local function neuron(defs, rhs, extra)
  return format("neuron c {\n  state { v = 1 mV%s }\n  equations {\n%s\n    dv/dt = %s\n  }\n}\n"
                .. "population P = c(10)\n", extra or "", concat(defs, "\n"), rhs)
end

-- seconds of CPU time to build src; raises the compiler's error if any
local function timed(name, src)
  local t0 = os.clock()
  local ir = compile.build(src, name .. ".cajal")
  local dt = os.clock() - t0
  print(format("  %-34s %7.3f s", name, dt))
  assert(ir.c_source and #ir.c_source > 0, "no C emitted")
  if dt >= BOUND then error(format("%s took %.2f s (bound %g s)", name, dt, BOUND), 2) end
  return ir, dt
end

-- d_k = d_(k-1) + d_(k-1): a DAG of definitions, a tree of 2^n leaves
T.test("200 definitions each used twice by the next compile in linear time", function()
  local defs = { "    d0 = v / (10 ms)" }
  for k = 1, 200 do defs[#defs + 1] = format("    d%d = d%d / 2 + d%d / 2", k, k - 1, k - 1) end
  timed("shared definitions, 200 levels", neuron(defs, "-d200"))
end)

-- the same chain written last-first: checking it recurses 200 levels deep
-- (one pcall per level hit Lua's C-call limit: "C stack overflow")
T.test("a 200-deep definition chain written in reverse compiles", function()
  local defs = {}
  for k = 200, 1, -1 do defs[#defs + 1] = format("    d%d = d%d + 1 mV", k, k - 1) end
  defs[#defs + 1] = "    d0 = v"
  timed("reverse chain, 200 levels", neuron(defs, "-d200 / (10 ms)"))
end)

T.test("a 10000-term linear sum compiles in linear time", function()
  local t = {}
  for k = 1, 10000 do t[k] = format("%d * v", k % 7 + 1) end
  timed("linear sum, 10000 terms", neuron({}, "-(" .. concat(t, " + ") .. ") / (10 ms) / 40000"))
end)

T.test("a 10000-term nonlinear sum compiles in linear time, in shallow IR", function()
  local t = {}
  for k = 1, 10000 do t[k] = format("v * v * %d / mV", k % 7 + 1) end
  local ir = timed("nonlinear sum, 10000 terms", neuron({}, "-(" .. concat(t, " + ") .. ") / (10 ms) / 40000"))
  -- the IR is bound to temporaries every 64 levels: no kernel nests deeper
  local function depth(e)
    if type(e) ~= "table" then return 0 end
    local d = 0
    for _, x in ipairs(e) do
      local dx = depth(x)
      if dx > d then d = dx end
    end
    return d + 1
  end
  for _, k in ipairs(ir.kernels) do
    assert(depth(k.body or k.cond or k.value) < 80, "kernel " .. k.name .. " nests too deeply")
  end
end)

T.test("a 40000-character name is declared in linear time", function()
  local nm = "x" .. rep("a", 40000)
  timed("name of 40000 characters", format("neuron c {\n  parameters { %s = 1 }\n  state { v = 1 mV }\n"
        .. "  equations { dv/dt = -v * %s / (10 ms) }\n}\npopulation P = c(10)\n", nm, nm))
end)

T.test("2000 models and populations compile in linear time", function()
  local t = {}
  for k = 1, 2000 do
    t[k] = format("neuron c%d {\n  state { v = 1 mV }\n  equations { dv/dt = -v / (10 ms) }\n}\n"
                  .. "population P%d = c%d(2)\n", k, k, k)
  end
  timed("2000 models and populations", concat(t))
end)

-- What the linear passes must not change: the chain of halves is the plain
-- model, value for value (halving and adding halves are exact).
T.test("a chain of shared definitions gives the plain model's results bit for bit", function()
  local function model(n)
    local defs = { "    d0 = (E_L - v + R * I) / tau_m" }
    for k = 1, n do defs[#defs + 1] = format("    d%d = d%d / 2 + d%d / 2", k, k - 1, k - 1) end
    return format([[
neuron lif {
  parameters { tau_m = 20 ms; R = 100 Mohm; E_L = -70 mV; v_th = -50 mV; v_reset = -65 mV }
  state { v = E_L; I = 0 pA }
  equations {
%s
    dv/dt = d%d
  }
  spike when v > v_th
  reset { v = v_reset }
}
population F = lif(101, I = i * 5 pA)
record spikes of F
]], concat(defs, "\n"), n)
  end
  for _, backend in ipairs { "interp", "auto" } do
    local a = cj.network(model(200), { backend = backend, progress = false })
    local b = cj.network(model(0), { backend = backend, progress = false })
    a:run(0.2); b:run(0.2)
    assert(b.spikes.F:count() > 100, "the plain model should spike")
    T.same(T.values(a.F.v), T.values(b.F.v), backend .. ": v")
    T.same(T.values(a.spikes.F:times()), T.values(b.spikes.F:times()), backend .. ": spike times")
  end
end)

-- Nesting past the limit is a located error, never a bare "stack overflow".
T.test("nesting past the limit is a located error", function()
  local n = check.MAXNEST + 10
  local ok, e = pcall(compile.build, neuron({}, "-(" .. rep("v + ", n) .. "v) / (10 ms)"), "deep.cajal")
  assert(not ok)
  e = tostring(e)
  assert(e:find("^deep%.cajal:5:%d+: expression nested too deeply"), e:sub(1, 200))
  local defs = {}
  for k = 30000, 1, -1 do defs[#defs + 1] = format("    d%d = d%d + 1 mV", k, k - 1) end
  defs[#defs + 1] = "    d0 = v"
  ok, e = pcall(compile.build, neuron(defs, "-d30000 / (10 ms)"), "chain.cajal")
  assert(not ok)
  e = tostring(e)
  assert(e:find("^chain%.cajal:%d+:%d+: expression nested too deeply"), e:sub(1, 200))
  -- and a long forward chain, whose depth shows only when it is lowered
  defs = { "    d0 = v" }
  for k = 1, 30000 do defs[#defs + 1] = format("    d%d = d%d + 1 mV", k, k - 1) end
  ok, e = pcall(compile.build, neuron(defs, "-d30000 / (10 ms)"), "fwd.cajal")
  assert(not ok)
  e = tostring(e)
  assert(e:find("^fwd%.cajal:%d+:%d+: expression nested too deeply"), e:sub(1, 200))
end)

T.done()
