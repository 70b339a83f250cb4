-- tests/lua/grammar.lua — the parser of the network language (grammar/cajal.lua).
--
-- 1. Every model of stdlib/models and every tests/grammar/valid/*.cajal parses.
-- 2. Golden errors: each tests/grammar/invalid/<case>/input.cajal must fail
--    with exactly the text of <case>/expected (a trailing newline stripped).
--    When cajal.compile has diagnose(path) (names, units: the compiler's
--    errors), its message is compared, after replacing the case's path by
--    "input.cajal"; a case the parser rejects must also match the parser's
--    own message. diagnose(path) returns nil for a good file, else an error
--    table with .text (like the parser's) or a string.
-- 3. The shapes of the AST (grammar/AST.md), the error API, the dump.
-- 4. Hostile input (deep nesting, bad bytes, huge numbers, every truncation
--    and random mutations of the fixtures) gives errors, never a crash.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local G = require "cajal.grammar"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local top = here .. "/../.."

local readfile = T.readfile

local function listdir(dir, pattern)
  local names = {}
  local p = assert(io.popen('ls -1 "' .. dir .. '" 2>/dev/null'))
  for name in p:lines() do
    if not pattern or name:find(pattern) then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

-- Replaces every occurrence of old (plain text) in s.
local function replace(s, old, new)
  local out, i = {}, 1
  while true do
    local a, b = s:find(old, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = new
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

local function parse(src)
  local ast, err = G.parse(src, "t.cajal")
  if not ast then error("unexpected parse error:\n" .. tostring(err), 2) end
  return ast
end

local function perr(src)
  local ast, err = G.parse(src, "t.cajal")
  if ast then error("expected a parse error for: " .. src, 2) end
  return err
end

local function eq(a, b, what)
  if a ~= b then
    error(string.format("%s: expected %s, got %s", what or "value", tostring(b), tostring(a)), 2)
  end
end

-- The expression of the first parameter of the first top-level parameters block.
local function expr(text)
  return parse("parameters { x = " .. text .. " }").body[1].defs[1].value
end

-- A compact S-expression of an expression tree, for precedence checks.
local function sx(e)
  if e.tag == "num" then return e.text .. (e.unit and ("[" .. e.unit.text .. "]") or "") end
  if e.tag == "name" then return e.name .. (e.side and ("@" .. e.side) or "") end
  if e.tag == "unop" then return "(" .. e.op .. " " .. sx(e.arg) .. ")" end
  if e.tag == "binop" then return "(" .. e.op .. " " .. sx(e.lhs) .. " " .. sx(e.rhs) .. ")" end
  if e.tag == "call" then
    local a = {}
    for k, v in ipairs(e.args) do a[k] = sx(v) end
    return e.name .. "(" .. table.concat(a, ",") .. ")"
  end
  if e.tag == "ifelse" then return "(if " .. sx(e.cond) .. " " .. sx(e.yes) .. " " .. sx(e.no) .. ")" end
  error("unknown expression tag " .. tostring(e.tag))
end

-- line:col of a node, through error_at (the compiler's way to point at it)
local function where(root, node)
  local e = G.error_at(root, node.pos, "x")
  return e.line .. ":" .. e.col
end

------------------------------------------------------------------------------
-- 1. The model library and the valid fixtures parse
------------------------------------------------------------------------------

local models = listdir(top .. "/stdlib/models", "%.cajal$")
T.test("the model library is complete", function()
  local want = { "adex", "eif", "hh", "izhikevich", "lif", "qif", "rate", "receptors", "stdp",
    "synapses", "theta", "wilson_cowan" }
  local have = {}
  for _, m in ipairs(models) do have[m:gsub("%.cajal$", "")] = true end
  for _, w in ipairs(want) do assert(have[w], "missing stdlib/models/" .. w .. ".cajal") end
end)

local defined = {}
for _, m in ipairs(models) do
  T.test("stdlib model " .. m .. " parses and holds only model definitions", function()
    local ast, err = G.parse(readfile(top .. "/stdlib/models/" .. m), m)
    assert(ast, tostring(err))
    assert(#ast.body > 0, "no models in " .. m)
    for _, item in ipairs(ast.body) do
      assert(item.tag == "neuron" or item.tag == "synapse",
        m .. ": an imported file holds only models, found " .. item.tag)
      assert(not defined[item.name], "model '" .. item.name .. "' defined twice in the library")
      defined[item.name] = m
    end
  end)
end

T.test("the library defines the models the issue lists", function()
  for _, n in ipairs { "lif", "cuba_lif", "coba_lif", "eif", "adex", "izhikevich", "izhikevich2003",
    "hh", "theta", "qif", "linear_rate", "threshold_linear", "sigmoid_rate", "rate_coupling",
    "wilson_cowan", "delta_current", "exp_current", "alpha_current", "biexp_current", "exp_cond",
    "alpha_cond", "biexp_cond", "ampa", "gaba_a", "nmda", "stdp", "stdp_delta" } do
    assert(defined[n], "no model named " .. n)
  end
end)

T.test("every library spiking neuron declares the input I_syn, every library synapse drives one", function()
  for _, m in ipairs(models) do
    local ast = parse(readfile(top .. "/stdlib/models/" .. m))
    for _, item in ipairs(ast.body) do
      if item.tag == "neuron" and item.spike and item.name ~= "cuba_lif" and item.name ~= "coba_lif" then
        local found = false
        for _, inp in ipairs(item.inputs) do found = found or inp.name == "I_syn" end
        assert(found, item.name .. " has no input I_syn")
      elseif item.tag == "synapse" then
        assert(#item.outputs > 0 or item.on_pre, item.name .. " neither outputs nor acts on spikes")
      end
    end
  end
end)

local valid = listdir(top .. "/tests/grammar/valid", "%.cajal$")
T.test("there are valid fixtures", function() assert(#valid >= 5, #valid) end)
for _, v in ipairs(valid) do
  T.test("valid fixture " .. v .. " parses", function()
    local ast, err = G.parse(readfile(top .. "/tests/grammar/valid/" .. v), v)
    assert(ast, tostring(err))
    assert(#ast.body > 0)
  end)
end

-- The AST.md rules: known tags, a position in range on every node, no table
-- reachable twice, lists as sequences.
local tags = {}
for t in ([[file import setting parameters neuron synapse population connect record
  drive arg popref use rule def input output refractory method ode alg assign if num
  name binop unop call ifelse unit]]):gmatch("%S+") do tags[t] = true end
local function checktree(ast)
  local seen, n = {}, 0
  local function walk(t, path)
    assert(not seen[t], "table reachable twice: " .. path)
    seen[t] = true
    if t.tag ~= nil then
      n = n + 1
      assert(tags[t.tag], "unknown tag " .. tostring(t.tag) .. " at " .. path)
      assert(math.type(t.pos) == "integer" and t.pos >= 1 and t.pos <= #ast.source + 1,
        "bad pos at " .. path)
      assert(getmetatable(t) == nil, "metatable at " .. path)
    end
    for k, v in pairs(t) do
      if type(v) == "table" then walk(v, path .. "." .. tostring(k)) end
    end
  end
  walk(ast, "root")
  return n
end

T.test("every fixture's AST follows the rules of AST.md", function()
  local total = 0
  for _, v in ipairs(valid) do
    total = total + checktree(parse(readfile(top .. "/tests/grammar/valid/" .. v)))
  end
  for _, m in ipairs(models) do
    total = total + checktree(parse(readfile(top .. "/stdlib/models/" .. m)))
  end
  assert(total > 1000, total)
end)

------------------------------------------------------------------------------
-- 2. Golden errors
------------------------------------------------------------------------------

local okc, compile = pcall(require, "cajal.compile")
local diagnose = okc and type(compile) == "table" and type(compile.diagnose) == "function"
  and compile.diagnose or nil
local invalid = listdir(top .. "/tests/grammar/invalid")
T.test("there is one golden case per message, at least 15", function()
  assert(#invalid >= 15, #invalid)
end)
for _, case in ipairs(invalid) do
  T.test("invalid/" .. case, function()
    local dir = top .. "/tests/grammar/invalid/" .. case
    local path = dir .. "/input.cajal"
    local expected = readfile(dir .. "/expected"):gsub("\n$", "")
    local src = readfile(path)
    local ast, err = G.parse(src, "input.cajal")
    if not ast then
      assert(err.text == expected, "parser message differs:\n--- expected\n" .. expected
        .. "\n--- got\n" .. err.text)
    end
    if diagnose then
      local ok, res = pcall(diagnose, path)
      assert(ok, "diagnose raised: " .. tostring(res))
      assert(res ~= nil, "diagnose found no error in " .. path)
      local text = type(res) == "table" and (res.text or tostring(res)) or tostring(res)
      text = replace(text, path, "input.cajal")
      assert(text == expected, "diagnose message differs:\n--- expected\n" .. expected
        .. "\n--- got\n" .. text)
    else
      assert(not ast, "parsed without error, and no cajal.compile.diagnose to check it")
    end
  end)
end

------------------------------------------------------------------------------
-- 3. AST shapes
------------------------------------------------------------------------------

local design = readfile(top .. "/tests/grammar/valid/design_sketch.cajal")

T.test("DESIGN's neuron: blocks become fields", function()
  local ast = parse(design)
  eq(ast.tag, "file"); eq(ast.file, "t.cajal"); eq(ast.source, design); eq(ast.pos, 1)
  local n = ast.body[1]
  eq(n.tag, "neuron"); eq(n.name, "lif")
  eq(#n.parameters, 5); eq(n.parameters[1].tag, "def"); eq(n.parameters[1].name, "tau_m")
  eq(sx(n.parameters[1].value), "20[ms]")
  eq(sx(n.parameters[2].value), "(- 49[mV])")
  eq(#n.state, 3); eq(sx(n.state[1].value), "uniform(v_reset,v_th)")
  eq(#n.equations, 3)
  eq(n.equations[1].tag, "ode"); eq(n.equations[1].name, "v"); eq(n.equations[1].event_driven, false)
  eq(sx(n.equations[1].value), "(/ (- (+ ge gi) (- v v_rest)) tau_m)")
  eq(sx(n.equations[2].value), "(/ (- ge) 5[ms])")
  eq(sx(n.spike), "(> v v_th)")
  eq(#n.reset, 1); eq(n.reset[1].tag, "assign"); eq(n.reset[1].op, "=")
  eq(n.reset[1].target.name, "v"); eq(sx(n.reset[1].value), "v_reset")
  eq(n.refractory.tag, "refractory"); eq(sx(n.refractory.duration), "t_ref")
  eq(n.refractory.clamp, nil)
  eq(n.method, nil); eq(#n.inputs, 0)
  eq(where(ast, n), "2:1"); eq(where(ast, n.equations[1]), "6:5")
  eq(where(ast, n.reset[1]), "11:11")
  eq(where(ast, { pos = n.blocks.reset }), "11:3")
end)

T.test("DESIGN's network: populations, inline synapses, rules, monitors", function()
  local body = parse(design).body
  local E = body[2]
  eq(E.tag, "population"); eq(E.name, "E"); eq(E.model, "lif"); eq(sx(E.size), "3200"); eq(#E.args, 0)
  local c = body[4]
  eq(c.tag, "connect"); eq(#c.pre, 1); eq(c.pre[1].name, "E"); eq(#c.post, 2)
  eq(c.post[1].name, "E"); eq(c.post[2].name, "I"); eq(c.post[2].lo, nil)
  eq(c.synapse.tag, "synapse"); eq(c.synapse.inline, true); eq(c.synapse.name, nil)
  eq(#c.synapse.on_pre, 1, "on_spike is stored as on_pre")
  eq(c.synapse.on_pre[1].op, "+="); eq(c.synapse.on_pre[1].target.name, "ge")
  eq(sx(c.synapse.on_pre[1].value), "1.62[mV]")
  eq(c.rule.tag, "rule"); eq(c.rule.kind, "probability"); eq(sx(c.rule.value), "0.02")
  eq(c.weight, nil); eq(c.delay, nil); eq(c.self_connections, nil)
  local r1, r2 = body[6], body[7]
  eq(r1.tag, "record"); eq(r1.kind, "spikes"); eq(#r1.targets, 2); eq(r1.vars, nil)
  eq(r2.kind, "state"); eq(r2.vars[1], "v"); eq(#r2.vars, 1); eq(r2.targets[1].name, "E")
  eq(sx(r2.targets[1].lo), "0"); eq(sx(r2.targets[1].hi), "9"); eq(r2.targets[1].single, nil)
  eq(sx(r2.every), "1[ms]")
end)

T.test("numbers and units", function()
  local e = expr("1 uF/cm^2")
  eq(e.tag, "num"); eq(e.value, 1.0); eq(math.type(e.value), "float"); eq(e.text, "1")
  eq(e.unit.tag, "unit"); eq(e.unit.text, "uF/cm^2")
  eq(#e.unit.factors, 2)
  eq(e.unit.factors[1].name, "uF"); eq(e.unit.factors[1].exp, 1)
  eq(e.unit.factors[2].name, "cm"); eq(e.unit.factors[2].exp, -2)
  e = expr("3 mV*ms^-1/nS^2")
  eq(e.unit.text, "mV*ms^-1/nS^2")
  eq(e.unit.factors[2].exp, -1); eq(e.unit.factors[3].name, "nS"); eq(e.unit.factors[3].exp, -2)
  eq(expr("20ms").unit.text, "ms")
  eq(expr(".5").value, 0.5); eq(expr("1.").value, 1.0); eq(expr("2.5E+2").value, 250.0)
  eq(expr("1e-3 s").value, 1e-3); eq(expr("1e-3 s").text, "1e-3")
  eq(expr("1.62 mV").value, 1.62)
  eq(expr("7").unit, nil)
  -- a unit is one token without spaces: division by a name needs spaces
  eq(sx(expr("-ge / 5 ms")), "(/ (- ge) 5[ms])")
  eq(sx(expr("2 mV / tau")), "(/ 2[mV] tau)")
  eq(expr("2 mV/tau").unit.text, "mV/tau")
  eq(sx(expr("0.1 / ms")), "(/ 0.1 ms)")
  eq(sx(expr("v / mV + 40")), "(+ (/ v mV) 40)")
  -- keywords are never units
  local c = parse("connect E -> E s with probability 0.02 weight 2 mV delay 1 ms").body[1]
  eq(c.rule.value.unit, nil); eq(sx(c.weight), "2[mV]"); eq(sx(c.delay), "1[ms]")
  local inp = parse("neuron a { input x : 1, y : uF/cm^2 }").body[1].inputs
  eq(inp[1].unit.text, "1"); eq(#inp[1].unit.factors, 0); eq(inp[2].unit.factors[2].exp, -2)
end)

T.test("operator precedence and associativity", function()
  local cases = {
    { "-x^2", "(- (^ x 2))" },
    { "2^-1*3", "(* (^ 2 (- 1)) 3)" },
    { "2^3^2", "(^ 2 (^ 3 2))" },
    { "a - b - c", "(- (- a b) c)" },
    { "a / b / c", "(/ (/ a b) c)" },
    { "a + b * c", "(+ a (* b c))" },
    { "a * -b", "(* a (- b))" },
    { "+a", "a" },
    { "- -a", "(- (- a))" },
    { "a or b and c", "(or a (and b c))" },
    { "not a < b", "(not (< a b))" },
    { "not a and b", "(and (not a) b)" },
    { "a < b + c", "(< a (+ b c))" },
    { "a == b and c != d", "(and (== a b) (!= c d))" },
    { "a <= b or a >= b", "(or (<= a b) (>= a b))" },
    { "if a > 0 then 1 else 2", "(if (> a 0) 1 2)" },
    { "if a then if b then 1 else 2 else 3", "(if a (if b 1 2) 3)" },
    { "1 + (if a then 1 else 2)", "(+ 1 (if a 1 2))" },
    { "(a + b) * c", "(* (+ a b) c)" },
    { "exp(-(v - V_T) / D)", "exp((/ (- (- v V_T)) D))" },
    { "clip(w + apost, 0, wmax)", "clip((+ w apost),0,wmax)" },
    { "rand()", "rand()" },
    { "v_post - r_pre", "(- v@post r@pre)" },
    { "refractory + not_refractory", "(+ refractory not_refractory)" },
    { "2 * pi * 5 Hz * t", "(* (* (* 2 pi) 5[Hz]) t)" },
  }
  for _, c in ipairs(cases) do eq(sx(expr(c[1])), c[2], c[1]) end
end)

T.test("binop positions: pos of the left operand, opos of the operator", function()
  local ast = parse("parameters { x = a +\n  b * c }")
  local e = ast.body[1].defs[1].value
  eq(e.op, "+"); eq(where(ast, e), "1:18"); eq(where(ast, { pos = e.opos }), "1:20")
  eq(where(ast, e.rhs), "2:3"); eq(where(ast, { pos = e.rhs.opos }), "2:5")
end)

T.test("synapse models: state, postsynaptic, event-driven equations, events, outputs", function()
  local s = parse([[
synapse stdp {
  parameters { taupre = 20 ms; Apre = 0.01 }
  state { w = 0.5; apre = 0 }
  postsynaptic { g = 0 nS }
  equations {
    dapre/dt = -apre / taupre (event-driven)
    dg/dt = -g / 5 ms (clock-driven)
    s = g * 2
  }
  on_pre { g += w * 1 nS; apre += Apre; w = clip(w + apost, 0, 1) }
  on_post: w = clip(w + apre, 0, 1); apost_pre -= 1
  output I_syn = g * (0 mV - v_post)
  output I_b = w * r_pre
  method rk2
}]]).body[1]
  eq(s.tag, "synapse"); eq(s.name, "stdp"); eq(s.inline, nil)
  eq(#s.state, 2); eq(#s.postsynaptic, 1); eq(s.postsynaptic[1].name, "g")
  eq(s.equations[1].tag, "ode"); eq(s.equations[1].event_driven, true)
  eq(s.equations[2].event_driven, false); eq(s.equations[3].tag, "alg"); eq(s.equations[3].name, "s")
  eq(#s.on_pre, 3); eq(#s.on_post, 2)
  eq(s.on_post[2].target.name, "apost"); eq(s.on_post[2].target.side, "pre"); eq(s.on_post[2].op, "-=")
  eq(#s.outputs, 2); eq(s.outputs[1].tag, "output"); eq(s.outputs[1].name, "I_syn")
  eq(sx(s.outputs[2].value), "(* w r@pre)")
  eq(s.method.tag, "method"); eq(s.method.name, "rk2")
  for _, b in ipairs { "parameters", "state", "postsynaptic", "equations", "on_pre", "on_post",
    "output", "method" } do
    assert(type(s.blocks[b]) == "number", "blocks." .. b)
  end
end)

T.test("neuron details: inputs, refractory clamp forms, methods, if/else chains", function()
  local body = parse([[
neuron a {
  input I_syn : pA, I_ext : nA
  input g : nS
  reset {
    v = 0 mV
    if w > 1 { w = 1 } else if w < 0 { w = 0 } else { w *= 0.5; w /= 2 }
  }
  refractory 2 ms clamp v, w
  method exponential_euler
}
neuron b { refractory t_ref clamp none }
neuron c { refractory t_ref }]]).body
  local a = body[1]
  eq(#a.inputs, 3); eq(a.inputs[1].name, "I_syn"); eq(a.inputs[1].unit.text, "pA")
  eq(a.inputs[3].name, "g")
  local st = a.reset[2]
  eq(st.tag, "if"); eq(sx(st.cond), "(> w 1)"); eq(#st.body, 1)
  eq(#st.orelse, 1); eq(st.orelse[1].tag, "if"); eq(sx(st.orelse[1].cond), "(< w 0)")
  eq(#st.orelse[1].orelse, 2); eq(st.orelse[1].orelse[2].op, "/=")
  eq(a.refractory.clamp[1], "v"); eq(a.refractory.clamp[2], "w"); eq(#a.refractory.clamp_pos, 2)
  eq(a.method.name, "exponential_euler")
  eq(type(body[2].refractory.clamp), "table"); eq(#body[2].refractory.clamp, 0)
  eq(body[3].refractory.clamp, nil)
end)

T.test("connections: every rule kind and clause", function()
  local body = parse([[
connect A -> B s all_to_all
connect A -> B s one_to_one
connect A -> B s with probability exp(-(i - j)^2)
connect A -> B s with in_degree 80
connect A -> B s with out_degree K
connect A[0..9], B[3] -> C[10..] s(tau = 2 ms, w = 1) from arrays conn1
  weight uniform(0 nS, 1 nS) delay 1 ms + rand() * ms self_connections off onto I_exc as AB
connect A -> A s() all_to_all self_connections on
]]).body
  local kinds = { "all_to_all", "one_to_one", "probability", "in_degree", "out_degree", "arrays" }
  for k, kind in ipairs(kinds) do eq(body[k].rule.kind, kind, "rule " .. k) end
  eq(body[1].rule.value, nil); eq(sx(body[4].rule.value), "80"); eq(sx(body[5].rule.value), "K")
  local c = body[6]
  eq(c.rule.arrays, "conn1")
  eq(c.pre[1].name, "A"); eq(sx(c.pre[1].lo), "0"); eq(sx(c.pre[1].hi), "9")
  eq(c.pre[2].single, true); eq(sx(c.pre[2].lo), "3"); eq(c.pre[2].hi, nil)
  eq(sx(c.post[1].lo), "10"); eq(c.post[1].hi, nil); eq(c.post[1].single, nil)
  eq(c.synapse.tag, "use"); eq(c.synapse.model, "s"); eq(#c.synapse.args, 2)
  eq(c.synapse.args[1].tag, "arg"); eq(c.synapse.args[1].name, "tau"); eq(sx(c.synapse.args[2].value), "1")
  eq(sx(c.weight), "uniform(0[nS],1[nS])"); eq(sx(c.delay), "(+ 1[ms] (* rand() ms))")
  eq(c.self_connections, false); eq(c.onto, "I_exc"); eq(c.as, "AB")
  eq(body[7].self_connections, true); eq(#body[7].synapse.args, 0)
  eq(#body[1].synapse.args, 0)
end)

T.test("populations, generators, settings, constants, monitors, drives, imports", function()
  local body = parse([[
import "models/lif"
import "a \"quoted\" \\ path"
dt = 0.05 ms; seed = 42
parameters { NE = 3200; we = 1.62 mV }
population E = lif(NE, tau_m = 10 ms, v = uniform(-60 mV, -50 mV))
population P = poisson(100, rate = 10 Hz * (1 + sin(2 * pi * t / 100 ms)))
population S = spike_times(20) from arrays stim
record rate of E every 1 ms to "rate.npy" as rE
record v, w of E[0..9], S every 0.5 ms
drive I_ext of E[0..9] from arrays cur every 0.1 ms scale 1 pA
drive I_ext of E from arrays cur2 every 1 ms
]]).body
  eq(body[1].tag, "import"); eq(body[1].path, "models/lif")
  eq(body[2].path, 'a "quoted" \\ path')
  eq(body[3].tag, "setting"); eq(body[3].name, "dt"); eq(sx(body[3].value), "0.05[ms]")
  eq(body[4].name, "seed")
  eq(body[5].tag, "parameters"); eq(#body[5].defs, 2)
  local E = body[6]
  eq(sx(E.size), "NE"); eq(#E.args, 2); eq(E.args[2].name, "v"); eq(E.arrays, nil)
  eq(body[7].model, "poisson"); eq(body[7].args[1].name, "rate")
  eq(body[8].model, "spike_times"); eq(body[8].arrays, "stim"); eq(#body[8].args, 0)
  local r = body[9]
  eq(r.kind, "rate"); eq(r.file, "rate.npy"); eq(r.as, "rE"); eq(sx(r.every), "1[ms]")
  r = body[10]
  eq(r.kind, "state"); eq(#r.vars, 2); eq(r.vars[2], "w"); eq(#r.vars_pos, 2); eq(#r.targets, 2)
  local d = body[11]
  eq(d.tag, "drive"); eq(d.var, "I_ext"); eq(d.target.name, "E"); eq(sx(d.target.hi), "9")
  eq(d.arrays, "cur"); eq(sx(d.every), "0.1[ms]"); eq(sx(d.scale), "1[pA]")
  eq(body[12].scale, nil)
end)

T.test("layout: separators, continuations, brackets and braces", function()
  -- blocks back to back, ';' separators, a newline inside parentheses
  local b = parse("neuron a{parameters{x=1;y=2}state{v=0 mV}}neuron b{}\n"
    .. "parameters { z = (1 +\n 2\n - 3) }").body
  eq(#b, 3); eq(#b[1].parameters, 2); eq(#b[1].state, 1); eq(sx(b[3].defs[1].value), "(- (+ 1 2) 3)")
  -- continuation after an operator, a comma, '=' and before clause words
  b = parse("parameters { x = 1 +\n 2\n y =\n 3 }\nconnect A,\n B -> C s\n all_to_all\n weight 2\n"
    .. "population P = lif(\n 10,\n a = 1\n)").body
  eq(sx(b[1].defs[1].value), "(+ 1 2)"); eq(sx(b[1].defs[2].value), "3")
  eq(#b[2].pre, 2); eq(sx(b[2].weight), "2"); eq(b[3].args[1].name, "a")
  -- a newline ends a statement: an operator starting the next line is an error
  local err = perr("parameters { x = 1\n + 2 }")
  eq(err.line, 2)
  -- comments anywhere, CRLF line ends, a byte order mark
  b = parse("\239\187\191# c\r\nneuron a { # c\r\n  parameters { x = 1 # c\r\n }\r\n}\r\n").body
  eq(#b[1].parameters, 1)
end)

T.test("names: suffixes, reserved words, built-ins, prefixes", function()
  eq(sx(expr("ge_post + x_pre + _pre + a_preb")), "(+ (+ (+ ge@post x@pre) _pre) a_preb)")
  eq(parse("neuron system { parameters { os = 1; io = 2; exit = 3 } }").body[1].name, "system")
  for _, bad in ipairs { "neuron a { parameters { when = 1 } }", "neuron a { state { t = 1 } }",
    "neuron a { state { N = 1 } }", "neuron a { parameters { cj_x = 1 } }",
    "neuron a { parameters { __x = 1 } }", "neuron __gc { }", "neuron cj_n { }",
    "parameters { x = __index }", "parameters { x = cj_f(1) }", "neuron a { input I_pre : pA }",
    "population population = lif(1)", "population cj_E = lif(1)" } do
    local err = perr(bad)
    assert(err.msg:find("reserved") or err.msg:find("built%-in") or err.msg:find("may not start")
      or err.msg:find("starts with") or err.msg:find("ends in"), bad .. " -> " .. err.msg)
  end
end)

------------------------------------------------------------------------------
-- Errors and positions
------------------------------------------------------------------------------

T.test("error tables: fields, tostring, near, caret", function()
  local ast, err = G.parse("neuron a {\n  parameters { tau = 20 $ }\n}\n", "m.cajal")
  eq(ast, nil)
  eq(err.file, "m.cajal"); eq(err.line, 2); eq(err.col, 25); eq(err.near, "$")
  eq(err.msg, "expected a unit or an operator after number")
  eq(tostring(err), err.text)
  eq(err.text, "m.cajal:2:25: expected a unit or an operator after number near '$'\n"
    .. "  parameters { tau = 20 $ }\n                        ^")
  local _, e2 = G.parse("neuron a {", "x")
  assert(e2.text:find("near <eof>", 1, true), e2.text)
  eq(e2.near, nil)
  local _, e3 = G.parse("parameters { x = 1 +\n")
  assert(e3.text:find("^<string>:"), e3.text)
end)

T.test("error_at formats any position like the parser", function()
  local src = "neuron a {\n\tparameters { tau = 20 ms }\n}\n"
  local ast = parse(src)
  local node = ast.body[1].parameters[1]
  local e = G.error_at(ast, node.pos, "unknown name 'tau'")
  eq(e.line, 2); eq(e.col, 15); eq(e.file, "t.cajal"); eq(e.pos, node.pos)
  eq(e.text, "t.cajal:2:15: unknown name 'tau'\n\tparameters { tau = 20 ms }\n\t             ^")
  local e2 = G.error_at(src, node.pos, "m", true, "f.cajal")
  eq(e2.text:match("^[^\n]*"), "f.cajal:2:15: m near 'tau'")
  -- columns count characters: UTF-8 in a comment before the position
  local src3 = "import \"é\" # αβγ\nx"
  local e3 = G.error_at(src3, #src3, "here")
  eq(e3.line, 2); eq(e3.col, 1)
  local e4 = G.error_at(src3, src3:find("#", 1, true), "c")
  eq(e4.col, 12); eq(e4.text:match("\n([^\n]*)$"), string.rep(" ", 11) .. "^")
  -- out-of-range positions are clamped, never an error
  eq(G.error_at(src, 10 ^ 9, "end").line, 4)
  eq(G.error_at(src, -5, "start").line, 1)
  T.checkerror("bad argument #1 to 'error_at'", G.error_at, nil, 1, "m")
  T.checkerror("bad argument #2 to 'error_at'", G.error_at, src, "x", "m")
end)

T.test("parse checks its arguments", function()
  T.checkerror("bad argument #1 to 'parse' (string expected, got nil)", G.parse)
  T.checkerror("bad argument #1 to 'parse' (string expected, got table)", G.parse, {})
  T.checkerror("bad argument #2 to 'parse' (string expected, got number)", G.parse, "", 3)
end)

T.test("suggest finds the nearest word, and only a near one", function()
  eq(G.suggest("equation", { "parameters", "equations", "state" }), "equations")
  eq(G.suggest("tua_m", { "tau_m", "v_th" }), "tau_m")
  eq(G.suggest("xyz", { "tau_m", "v_th" }), nil)
  eq(G.suggest("a", { "b" }), nil)
  eq(G.distance("kitten", "sitting"), 3)
  eq(G.distance("", "abc"), 3)
end)

T.test("the word lists are exported for the compiler", function()
  assert(G.reserved.connect and G.reserved.weight and not G.reserved.v)
  assert(G.builtins.t and G.builtins.dt and G.builtins.N_pre and G.builtins.xi)
  for _, f in ipairs { "exp", "log", "sqrt", "clip", "sigmoid", "exprel", "rand", "randn",
    "uniform", "normal", "exponential" } do
    assert(G.functions[f], f)
  end
  assert(G.methods.exact and G.methods.exponential_euler and not G.methods.rk3)
end)

T.test("the reference page lists exactly the grammar's reserved words and functions", function()
  local page = readfile(top .. "/man/cajal-lang.7")
  local block = page:match("%.B Reserved words\n%.nf\n(.-)\n%.fi")
  assert(block, "no reserved word list in man/cajal-lang.7")
  local listed = {}
  for w in block:gmatch("%S+") do
    assert(G.reserved[w], "man page lists '" .. w .. "', which is not reserved")
    listed[w] = true
  end
  for w in pairs(G.reserved) do assert(listed[w], "'" .. w .. "' missing from the man page") end
  local text = page:match("%.SH FUNCTIONS(.-)%.SH")
  for f in pairs(G.functions) do
    assert(text:find("%f[%w_]" .. f .. "%f[^%w_]"), "function " .. f .. " missing from the man page")
  end
end)

------------------------------------------------------------------------------
-- Dump
------------------------------------------------------------------------------

T.test("dump is stable, indented text", function()
  local ast = parse("neuron a {\n  state { v = -1.5 mV }\n  spike when v > 0 mV\n}\n"
    .. "connect A -> B[2..] { on_pre: v_post += 1 mV } all_to_all\n")
  local want = [[
file 1:1 file=t.cajal
  body:
    neuron 1:1 blocks=[spike@3:3, state@2:3] equations=[] inputs=[] name=a parameters=[]
      spike:
        binop 3:14 op=">" opos=3:16
          lhs:
            name 3:14 name=v
          rhs:
            num 3:18 text=0 value=0
              unit:
                unit 3:20 factors=[mV^1] text=mV
      state:
        def 2:11 name=v
          value:
            unop 2:15 op=-
              arg:
                num 2:16 text=1.5 value=1.5
                  unit:
                    unit 2:20 factors=[mV^1] text=mV
    connect 5:1
      post:
        popref 5:14 name=B
          lo:
            num 5:16 text=2 value=2
      pre:
        popref 5:9 name=A
      rule:
        rule 5:48 kind=all_to_all
      synapse:
        synapse 5:21 blocks=[on_pre@5:23] equations=[] inline=true outputs=[] parameters=[] postsynaptic=[] state=[]
          on_pre:
            assign 5:31 op="+="
              target:
                name 5:31 name=v side=post
              value:
                num 5:41 text=1 value=1
                  unit:
                    unit 5:43 factors=[mV^1] text=mV
]]
  local got = G.dump(ast)
  eq(got, want)
  eq(G.dump(parse(design)), G.dump(parse(design)))
  T.checkerror("bad argument #1 to 'dump'", G.dump, "x")
end)

------------------------------------------------------------------------------
-- 4. Hostile input
------------------------------------------------------------------------------

-- parse must return (ast) or (nil, err) with a well-formed err; never raise.
local function survives(src, name)
  local ok, ast, err = pcall(G.parse, src, "h.cajal")
  if not ok then error((name or "input") .. " raised: " .. tostring(ast), 2) end
  if not ast then
    assert(type(err) == "table" and type(err.text) == "string", name)
    assert(err.line >= 1 and err.col >= 1 and err.msg ~= "", name)
    local lines = select(2, err.text:gsub("\n", "\n"))
    assert(lines == 2, (name or "") .. ": an error has three lines: " .. err.text)
  end
  return ast, err
end

T.test("hostile inputs give errors, not crashes", function()
  local cases = {
    { "10k parentheses", "parameters { x = " .. ("("):rep(10000) .. "1" .. (")"):rep(10000) .. " }", "nesting too deep" },
    { "10k braces", ("{"):rep(10000), "nesting too deep" },
    { "10k unary minus", "parameters { x = " .. ("-"):rep(10000) .. "1 }", "nested too deeply" },
    { "10k not", "parameters { x = " .. ("not "):rep(10000) .. "1 }", "nested too deeply" },
    { "10k powers", "parameters { x = " .. ("2^"):rep(10000) .. "1 }", "nested too deeply" },
    { "5k if-then-else", "parameters { x = " .. ("if 1 then 1 else "):rep(5000) .. "1 }", "nested too deeply" },
    { "60 nested calls", "parameters { x = " .. ("exp("):rep(60) .. "1" .. (")"):rep(60) .. " }", "nested too deeply" },
    { "huge number", "parameters { x = 1e999 }", "number out of range" },
    { "huge integer", "parameters { x = " .. ("9"):rep(400) .. " }", "number out of range" },
    { "NUL", "parameters { x = 1\0 }", "NUL byte" },
    { "NUL in comment", "# \0\nparameters { x = 1 }", "NUL byte" },
    { "NUL in string", 'import "a\0"', "control character" },
    { "invalid UTF-8", "parameters { x = 1 \255 }", "invalid UTF-8" },
    { "invalid UTF-8 in comment", "# \192\128\nx", "invalid UTF-8" },
    { "invalid UTF-8 in string", 'import "\237\160\128"', "invalid UTF-8" },
    { "truncated UTF-8", "parameters { x = 1 \226\130", "invalid UTF-8" },
    { "control character", "parameters { x = 1 \27 }", "control character" },
    { "unterminated string", 'import "models/lif', "unterminated string" },
    { "string with newline", 'import "a\nb"', "unterminated string" },
    { "unterminated block", "neuron a {\n  parameters {\n", "expected '}'" },
    { "unterminated paren", "parameters { x = (((1 }", "expected ')'" },
    { "__gc", "neuron __gc { }", "reserved" },
    { "cj_x", "parameters { cj_x = 1 }", "reserved" },
    { "cj_ call", "parameters { x = cj_exit(0) }", "may not start" },
    { "only a brace", "}", "expected a statement" },
    { "garbage", "@@@@", "expected a statement" },
  }
  for _, c in ipairs(cases) do
    local ast, err = survives(c[2], c[1])
    assert(not ast, c[1] .. " parsed")
    assert(err.msg:find(c[3], 1, true), c[1] .. ": " .. err.msg)
  end
end)

T.test("big but sane inputs parse", function()
  local ast = survives("parameters { x = 1" .. (" + a"):rep(100000) .. " }", "100k terms")
  assert(ast, "a 100k-term sum must parse")
  local parts = {}
  for k = 1, 20000 do parts[k] = ("population E%d = lif(10, tau_m = %d ms)\n"):format(k, k) end
  ast = survives(table.concat(parts), "20k statements")
  assert(ast and #ast.body == 20000)
  ast = survives("parameters { x = " .. ("("):rep(90) .. "1" .. (")"):rep(90) .. " }", "90 parens")
  assert(ast, "90 nested parentheses must parse")
  ast = survives("neuron a { reset { " .. ("if 1 { "):rep(90) .. ("}"):rep(90) .. " } }", "90 ifs")
  assert(ast, "90 nested if blocks must parse")
  survives("parameters { x = " .. ("a + "):rep(100000) .. "}", "1 MB line")
  eq(#parse("").body, 0); eq(#parse("  \n\n# only a comment\n").body, 0)
end)

T.test("every truncation of the fixtures is an error or a file, never a crash", function()
  for _, v in ipairs { "all_constructs.cajal", "formatting.cajal" } do
    local src = readfile(top .. "/tests/grammar/valid/" .. v)
    for k = 0, #src do survives(src:sub(1, k), v .. " truncated at " .. k) end
  end
end)

T.test("random mutations of the fixtures never crash the parser", function()
  local rng = 12345
  local function rand(n)   -- a small LCG, so the test is the same everywhere
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng % n + 1
  end
  local alphabet = "(){}[];,=+-*/^<>!.#\"\\\n\t 0123456789aezAZ_\0\255\194\181"
  local srcs = {}
  for _, v in ipairs(valid) do srcs[#srcs + 1] = readfile(top .. "/tests/grammar/valid/" .. v) end
  for _, m in ipairs(models) do srcs[#srcs + 1] = readfile(top .. "/stdlib/models/" .. m) end
  local n = 0
  for round = 1, 2000 do
    local s = srcs[rand(#srcs)]
    for _ = 1, rand(4) do
      local p, op = rand(#s), rand(3)
      if op == 1 then s = s:sub(1, p - 1) .. s:sub(p + 1)
      elseif op == 2 then local c = rand(#alphabet); s = s:sub(1, p - 1) .. alphabet:sub(c, c) .. s:sub(p)
      else local q = rand(#s); s = s:sub(1, p - 1) .. s:sub(q, q + rand(20)) .. s:sub(p) end
    end
    local ast = survives(s, "mutation " .. round)
    if not ast then n = n + 1 end
  end
  assert(n > 500, "mutations should mostly break the files: " .. n)
end)

T.done()
