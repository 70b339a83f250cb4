-- tests/lua/tiered.lua — tiered start (issue 11): a network whose kernels
-- are not in the cache starts on the interpreter while the compiler runs in
-- the background, and switches to the compiled kernels between steps. The
-- switch must change nothing: spikes, state and monitors across the switch
-- point are compared bit for bit with runs on either backend alone. The
-- switch is made deterministic (net:wait_compile() between runs, or
-- CAJAL_TIERED_AT=N inside one run), so no assertion depends on timing.
-- Also: the default (tiered on a cold cache, compiled at once on a warm
-- one, CAJAL_TIERED=0 waits), a compile that fails in the background (a
-- warning, the network stays on the interpreter with its state), and
-- concurrent cold tiered loads compiling once.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local core = require "cajal.core"

local format, concat = string.format, table.concat
local q = T.shq
local tmpdir = T.tmpdir()

local cajal = arg[-1] or "cajal"
if cajal:find("/") and cajal:sub(1, 1) ~= "/" then cajal = (os.getenv("PWD") or ".") .. "/" .. cajal end

local function needcc()
  if not core.jit_available() then T.skip("no C compiler on this machine") end
end

-- A recurrent network with spikes in both populations. Its C is new to the
-- cache (a cold start) for every new tag: the tag becomes the initial
-- value of a variable that nothing reads (a comment would not reach the C).
local tags, ntags = {}, 0
local function model(tag)
  if not tags[tag] then
    ntags = ntags + 1
    tags[tag] = format("%d.%d", os.time() % 1000000, ntags * 1000 + math.random(0, 999))
  end
  return format([[
neuron lif {
  parameters { tau = 20 ms; v_th = -50 mV; v_reset = -60 mV }
  state { v = uniform(-60 mV, -50 mV); ge = 0 mV; gi = 0 mV; tag = %s }
  equations {
    dv/dt = (ge + gi - (v + 49 mV)) / tau
    dge/dt = -ge / 5 ms
    dgi/dt = -gi / 10 ms
  }
  spike when v > v_th
  reset { v = v_reset }
  refractory 5 ms
}
population In = poisson(100, rate = 20 Hz)
population E = lif(400)
population I = lif(100)
connect In -> E, I { on_spike: ge += 1 mV } with probability 0.1
connect E -> E, I { on_spike: ge += 1.62 mV } with probability 0.05
connect I -> E, I { on_spike: gi += -9 mV } with probability 0.05
record spikes of E, I
record v of E[0..9] every 1 ms
]], tags[tag])
end

-- Everything a run leaves: spikes, the state of every neuron, the monitor
-- (source text, so child processes compute it the same way).
local DIGEST = [[function(net)
  local out = {}
  local function add(list) for _, x in ipairs(list) do out[#out + 1] = string.format("%.17g", x) end end
  for _, p in ipairs { "E", "I" } do
    add(T.values(net.spikes[p]:times()))
    add(T.values(net.spikes[p]:indices()))
    for _, v in ipairs { "v", "ge", "gi" } do add(T.values(net[p][v])) end
  end
  add(T.values(net.state.E.v:values()))
  return table.concat(out, " ")
end]]
local digest = load("local T = ...; return " .. DIGEST)(T)
local TESTING = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua"

-- A child cajal running script text with env; returns status, stdout, stderr.
local function lines(out) return (out:gsub("digest [^\n]*", "digest ...")) end

local function child(env, text)
  local path, out, err = tmpdir .. "/child.lua", tmpdir .. "/out.txt", tmpdir .. "/err.txt"
  T.writefile(path, text)
  local ok, _, code = os.execute(format("env -u CAJAL_JIT -u CAJAL_TIERED -u CAJAL_TIERED_AT %s %s %s >%s 2>%s </dev/null",
                                        env, q(cajal), q(path), q(out), q(err)))
  return ok and 0 or code, T.readfile(out, ""), T.readfile(err, "")
end

-- The script of a child: loads src with opts (Lua text), runs the pieces
-- (a list of step counts, Lua text), prints the backend before and after
-- and the digest.
local function script(src, opts, pieces)
  return format([[
local cj = require "cajal"
local T = dofile(%q)
local net = cj.network(%q, %s)
print("before", net.backend, tostring(net.compiling))
for _, n in ipairs(%s) do net:run(n * net.dt) end
print("after", net.backend, tostring(net.compiling))
print("digest " .. (%s)(net))
]], TESTING, src, opts, pieces, DIGEST)
end

local STEPS = 1000

T.test("a switch between runs changes no spike, state or monitor value", function()
  needcc()
  local src = model("between " .. tostring(os.time()) .. tostring({}))
  local ref = {}
  for _, be in ipairs { "interp", "jit" } do
    local net = cj.network(src, { seed = 5, backend = be, progress = false })
    assert(net.backend == be and net.compiling == false, be)
    net:run(STEPS * net.dt)
    ref[be] = digest(net)
  end
  assert(ref.interp == ref.jit, "the backends differ before any switch")
  assert(#ref.jit > 1000 and ref.jit:find("e%-"), "no spikes to compare")
  -- the kernels are in the cache now: a new model text for a cold start
  src = model("between cold " .. tostring(os.time()) .. tostring({}))
  local net = cj.network(src, { seed = 5, backend = "tiered", progress = false })
  -- (the compiler has had no time to finish: it was started a moment ago)
  assert(net.backend == "interp" and net.compiling == true, "a cold tiered start begins on the interpreter")
  net:run(300 * net.dt)
  assert(net:wait_compile() == "jit" and net.backend == "jit" and net.compiling == false)
  net:run((STEPS - 300) * net.dt)
  assert(digest(net) == ref.interp, "spikes or state differ across the switch at step 300")
  assert(net.step == STEPS)
end)

T.test("a switch inside one run (CAJAL_TIERED_AT) changes nothing either", function()
  needcc()
  local tag = "inrun " .. tostring(os.time()) .. tostring({})
  local cache = tmpdir .. "/cache_inrun"
  local st, ref, err = child(format("CAJAL_JIT=off CAJAL_CACHE=%s", q(cache)),
                             script(model(tag), "{ seed = 7, progress = false }", "{ " .. STEPS .. " }"))
  assert(st == 0, err)
  local refd = ref:match("digest ([^\n]*)")
  assert(ref:match("after%s+interp") and refd, lines(ref))
  -- cold: one run of STEPS, switched at the check of step 500 (checks come every 100 steps)
  st, out, err = child(format("CAJAL_TIERED_AT=450 CAJAL_CACHE=%s", q(cache)),
                       script(model(tag), "{ seed = 7, progress = false }", "{ " .. STEPS .. " }"))
  assert(st == 0, err)
  assert(out:match("before%s+interp%s+true"), "a cold start is tiered by default: " .. lines(out))
  assert(out:match("after%s+jit%s+false"), "switched inside the run: " .. lines(out))
  assert(out:match("digest ([^\n]*)") == refd, "the in-run switch changed the result")
  assert(not err:find("warning"), err)
  -- warm: the compiled kernels at once; the same result
  st, out, err = child(format("CAJAL_CACHE=%s", q(cache)),
                       script(model(tag), "{ seed = 7, progress = false }", "{ 300, 700 }"))
  assert(st == 0, err)
  assert(out:match("before%s+jit%s+false"), "a warm cache loads the compiled kernels: " .. lines(out))
  assert(out:match("digest ([^\n]*)") == refd)
end)

T.test("CAJAL_TIERED=0 and backend jit wait for the compiler; a short script leaves the cache warm", function()
  needcc()
  local tag = "default " .. tostring(os.time()) .. tostring({})
  local cache = tmpdir .. "/cache_default"
  local run = script(model(tag), "{ seed = 2, progress = false }", "{ 10 }")
  local st, out, err = child(format("CAJAL_TIERED=0 CAJAL_CACHE=%s", q(cache)), run)
  assert(st == 0, err)
  assert(out:match("before%s+jit%s+false"), lines(out))
  run = script(model(tag .. " 2"), "{ seed = 2, progress = false, backend = 'jit' }", "{ 10 }")
  st, out, err = child(format("CAJAL_CACHE=%s", q(cache)), run)
  assert(st == 0 and out:match("before%s+jit%s+false"), lines(out) .. err)
  -- a cold tiered script that ends before its compile: the compile finishes at exit
  run = script(model(tag .. " 3"), "{ seed = 2, progress = false }", "{ 10 }")
  st, out, err = child(format("CAJAL_CACHE=%s", q(cache)), run)
  assert(st == 0 and out:match("before%s+interp%s+true"), lines(out) .. err)
  st, out, err = child(format("CAJAL_CACHE=%s", q(cache)), run)
  assert(st == 0 and out:match("before%s+jit%s+false"), "the compile of the first run did not reach the cache: " .. lines(out) .. err)
end)

T.test("a compile that fails in the background leaves the network on the interpreter, with one warning", function()
  needcc()
  local tag = "fail " .. tostring(os.time()) .. tostring({})
  local refst, ref = child(format("CAJAL_JIT=off CAJAL_CACHE=%s", q(tmpdir .. "/cache_ref")),
                           script(model(tag), "{ seed = 3, progress = false }", "{ 300, 700 }"))
  assert(refst == 0, ref)
  local refd = ref:match("digest ([^\n]*)")
  -- a compiler that fails for the environment, and one that rejects the C
  local broken = tmpdir .. "/broken.sh"
  T.writefile(broken, "#!/bin/sh\nsleep 0.2\necho 'as: cannot execute: no such file' >&2\nexit 1\n")
  assert(os.execute("chmod 755 " .. q(broken)))
  local rejecting = tmpdir .. "/rejecting.sh"
  T.writefile(rejecting, "#!/bin/sh\nfor a; do case $a in *.c) f=$a;; esac; done\n" ..
    "echo \"$f:3:1: error: expected something\" >&2\nexit 1\n")
  assert(os.execute("chmod 755 " .. q(rejecting)))
  for _, c in ipairs { { broken, "cannot execute" }, { rejecting, "error: expected something" } } do
    local text = format([[
local cj = require "cajal"
local T = dofile(%q)
local net = cj.network(%q, { seed = 3, progress = false })
net:run(300 * net.dt)
print("waited", net:wait_compile(), tostring(net.compiling))
net:run(700 * net.dt)
print("after", net.backend)
print("digest " .. (%s)(net))
]], TESTING, model(tag), DIGEST)
    local st, out, err = child(format("CC=%s CAJAL_CACHE=%s", q(c[1]), q(tmpdir .. "/cache_" .. c[1]:match("(%w+)%.sh$"))), text)
    assert(st == 0, "exit status " .. tostring(st) .. "\n" .. err)
    assert(out:match("waited%s+interp%s+false") and out:match("after%s+interp"), lines(out))
    local n = select(2, err:gsub("cajal: warning:", ""))
    assert(n == 1, "expected one warning:\n" .. err)
    assert(err:find(c[2], 1, true) and err:find("stays on the interpreter", 1, true), err)
    assert(out:match("digest ([^\n]*)") == refd, "state was lost or changed by the failed compile")
  end
end)

T.test("concurrent cold tiered loads of one model run the compiler once and agree", function()
  needcc()
  local realcc = io.popen("command -v cc || command -v gcc"):read("l")
  local count, cc = tmpdir .. "/count.txt", tmpdir .. "/counting.sh"
  T.writefile(count, "")
  T.writefile(cc, format("#!/bin/sh\necho run >> %s\nexec %s \"$@\"\n", q(count), q(realcc)))
  assert(os.execute("chmod 755 " .. q(cc)))
  local path = tmpdir .. "/conc.lua"
  T.writefile(path, script(model("conc " .. tostring(os.time()) .. tostring({})),
                           "{ seed = 4, progress = false }", "{ 200, 800 }"))
  local cmd = {}
  for k = 1, 3 do
    cmd[k] = format("env -u CAJAL_JIT -u CAJAL_TIERED CC=%s CAJAL_CACHE=%s %s %s >%s/conc%d.txt 2>&1 &",
                    q(cc), q(tmpdir .. "/cache_conc"), q(cajal), q(path), q(tmpdir), k)
  end
  assert(os.execute(concat(cmd, " ") .. " wait"))
  local first
  for k = 1, 3 do
    local out = T.readfile(format("%s/conc%d.txt", tmpdir, k))
    local d = out:match("digest ([^\n]*)")
    assert(d, lines(out))
    first = first or d
    assert(d == first, "the processes disagree")
  end
  local runs = select(2, T.readfile(count):gsub("run", ""))
  assert(runs == 1, format("the compiler ran %d times for 3 concurrent loads", runs))
end)

os.execute("rm -rf " .. q(tmpdir))
T.done()
