-- tests/lua/jitenv.lua — when the machine fails the compiler (issue 13,
-- items 5 and 10, and item 1 seen from a script): a compiler that hangs, is
-- killed by a signal, cannot run its assembler, or a cache disk that is
-- full, and an unsafe cache directory each give one warning naming the
-- real cause, and the network runs on the interpreter; a compiler that
-- rejects the generated C stays an error; concurrent cold loads of one
-- model run the compiler once. Each case runs ./cajal in a child process
-- with fake compilers (shell scripts given as CC).
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local core = require "cajal.core"

local format = string.format
local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

local cajal = arg[-1] or "cajal"
if cajal:find("/") and cajal:sub(1, 1) ~= "/" then cajal = (os.getenv("PWD") or ".") .. "/" .. cajal end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function writefile(path, s, mode)
  T.writefile(path, s)
  if mode then assert(os.execute(format("chmod %s %s", mode, q(path)))) end
end

local function readfile(path) return T.readfile(path, "") end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local s = p:read("a")
  p:close()
  return (s:gsub("%s+$", ""))
end

-- the real compiler, for wrappers
local realcc = sh("command -v cc || command -v gcc")

-- A script that builds a small network (unique per tag, so nothing is in
-- the cache) and prints its backend and spike count.
local function script(tag, opts)
  local path = format("%s/run_%s.lua", tmpdir, tag)
  writefile(path, format([[
local cj = require "cajal"
local src = [=[
neuron lif {
  parameters { tau = 10 ms; v_th = 10 mV }
  state { v = 0 mV }
  equations { dv/dt = -v / tau }
  spike when v > v_th
  reset { v = 0 mV }
}
population In = poisson(40, rate = 30 Hz)
population E = lif(20)
connect In -> E { on_spike: v += 3 mV } with probability 0.5
record spikes of E
# %s
]=]
for k = 1, %d do
  local net = cj.network(src, { seed = 3, progress = false%s })
  net:run(0.1)
  print("result", net.backend, net.spikes.E:count())
end
]], tag .. tostring(os.time()) .. tostring({}), opts and opts.loads or 1,
      opts and opts.backend and format(", backend = %q", opts.backend) or ""))
  return path
end

-- Run a script with env (a string of NAME=value words); returns status,
-- stdout, stderr, seconds (wall, whole seconds).
local function run(env, path)
  local out, err = tmpdir .. "/out.txt", tmpdir .. "/err.txt"
  local t0 = os.time()
  -- CAJAL_TIERED=0: these cases are about a load that waits for the compiler
  -- (a tiered start's failures are tests/lua/tiered.lua's)
  local ok, _, code = os.execute(format("env -u CAJAL_JIT CAJAL_TIERED=0 %s %s %s >%s 2>%s </dev/null",
                                        env, q(cajal), q(path), q(out), q(err)))
  return ok and 0 or code, readfile(out), readfile(err), os.time() - t0
end

local function fresh(name)
  local d = format("%s/cache_%s", tmpdir, name)
  os.execute("rm -rf " .. q(d))
  return d
end

local function warnings(err)
  local n = 0
  for _ in err:gmatch("cajal: warning:") do n = n + 1 end
  return n
end

local function needcc()
  if not core.jit_available() or realcc == "" then T.skip("no C compiler on this machine") end
end

-- the interpreter's result for the model, to compare the fallbacks with
local reference
local function interp_result()
  if not reference then
    local st, out = run("CAJAL_JIT=off", script("ref"))
    assert(st == 0, out)
    reference = out:match("result%s+interp%s+(%d+)")
    assert(reference, out)
  end
  return reference
end

local function fellback(name, st, out, err, cause)
  assert(st == 0, name .. ": exit status " .. tostring(st) .. "\n" .. err)
  assert(out:match("result%s+interp%s+(%d+)") == interp_result(), name .. ": " .. out)
  assert(warnings(err) == 1, name .. ": expected one warning, got:\n" .. err)
  assert(err:find(cause, 1, true), name .. ": the warning does not name '" .. cause .. "':\n" .. err)
  assert(err:find("networks run on the interpreter", 1, true), err)
end

T.test("a hanging compiler is stopped at CAJAL_JIT_TIMEOUT, its processes killed", function()
  needcc()
  local cc, pids = tmpdir .. "/hang.sh", tmpdir .. "/hang.pids"
  writefile(cc, format("#!/bin/sh\nsleep 600 &\necho $$ $! > %s\nwait\n", q(pids)), "755")
  local st, out, err, secs = run(format("CC=%s CAJAL_JIT_TIMEOUT=2 CAJAL_CACHE=%s", q(cc), q(fresh("hang"))),
                                 script("hang"))
  fellback("hang", st, out, err, "did not finish within 2 s (the limit is CAJAL_JIT_TIMEOUT)")
  assert(secs < 60, "took " .. secs .. " s")
  -- (a killed process may linger a moment as a zombie until init reaps it)
  for pid in readfile(pids):gmatch("%d+") do
    local alive = true
    for _ = 1, 50 do
      alive = sh(format("ps -o stat= -p %s", pid)):match("^[^Z]") ~= nil
      if not alive then break end
      os.execute("sleep 0.1")
    end
    assert(not alive, "process " .. pid .. " of the compiler still runs")
  end
end)

T.test("a compiler killed by a signal: one warning for two loads, the interpreter", function()
  needcc()
  local cc = tmpdir .. "/killed.sh"
  writefile(cc, "#!/bin/sh\nkill -KILL $$\n", "755")
  local st, out, err = run(format("CC=%s CAJAL_CACHE=%s", q(cc), q(fresh("killed"))), script("killed", { loads = 2 }))
  fellback("killed", st, out, err, "was killed by signal 9")
  local n = 0
  for _ in out:gmatch("result%s+interp") do n = n + 1 end
  assert(n == 2, out)
end)

T.test("a compiler that cannot run its assembler", function()
  needcc()
  local p = assert(io.popen(q(realcc) .. " -v 2>&1"))
  local version = p:read("a")
  p:close()
  if not version:find("gcc version", 1, true) then
    T.skip("the compiler is not gcc (the case relies on gcc finding 'as' on PATH)")
  end
  -- gcc finds cc1 in its own folders, the assembler on PATH
  local st, out, err = run(format("CC=%s CAJAL_CACHE=%s", q("env PATH=/nonexistent " .. realcc), q(fresh("noas"))),
                           script("noas"))
  fellback("no assembler", st, out, err, "cannot execute")
  assert(err:find("as", 1, true), err)
end)

T.test("a full cache disk names 'No space left on device'", function()
  needcc()
  local dir = tmpdir .. "/small"
  assert(os.execute("mkdir -p " .. q(dir)))
  if not os.execute(format("mount -t tmpfs -o size=64k,mode=0700 tmpfs %s 2>/dev/null", q(dir))) then
    T.skip("cannot mount a small tmpfs here (needs root)")
  end
  -- the C fits, the object does not: fill the disk but ~12 KiB
  local ok, err0 = pcall(function()
    os.execute(format("dd if=/dev/zero of=%s/fill bs=4k count=13 2>/dev/null", q(dir)))
    local st, out, err = run(format("CAJAL_CACHE=%s", q(dir)), script("full"))
    fellback("full disk", st, out, err, "No space left on device")
    assert(sh("ls " .. q(dir)):find("fill"), "the cache lost the other file")
    assert(not sh("ls " .. q(dir)):find("tmp%-"), "temporaries left: " .. sh("ls " .. q(dir)))
  end)
  os.execute("umount " .. q(dir))
  if not ok then error(err0, 0) end
end)

T.test("an unsafe cache directory falls back, saying why", function()
  needcc()
  local real, link = fresh("real"), tmpdir .. "/link"
  assert(os.execute(format("mkdir -m 700 %s && ln -sfn %s %s", q(real), q(real), q(link))))
  local st, out, err = run(format("CAJAL_CACHE=%s", q(link)), script("unsafe"))
  fellback("link", st, out, err, "is a symbolic link")
end)

T.test("a compiler that rejects the generated C stays an error; so does a failure with backend jit", function()
  needcc()
  local cc = tmpdir .. "/reject.sh"
  -- the C file comes just before -lm, as jit.c passes it
  writefile(cc, "#!/bin/sh\nfor a; do c=$p; p=$a; done\necho \"$c:3:1: error: expected ';' before '}' token\" >&2\nexit 1\n",
            "755")
  local st, out, err = run(format("CC=%s CAJAL_CACHE=%s", q(cc), q(fresh("reject"))), script("reject"))
  assert(st ~= 0 and not out:find("result"), out .. err)
  assert(err:find("C compiler error: expected ';'", 1, true), err)
  assert(warnings(err) == 0, err)
  local killed = tmpdir .. "/killed2.sh"
  writefile(killed, "#!/bin/sh\nkill -KILL $$\n", "755")
  st, out, err = run(format("CC=%s CAJAL_CACHE=%s", q(killed), q(fresh("jitonly"))), script("jitonly", { backend = "jit" }))
  assert(st ~= 0 and not out:find("result"), out .. err)
  assert(err:find("killed by signal 9", 1, true), err)
end)

T.test("concurrent cold loads of one model run the compiler once", function()
  needcc()
  local count, cc = tmpdir .. "/count.txt", tmpdir .. "/counting.sh"
  writefile(count, "")
  writefile(cc, format("#!/bin/sh\necho run >> %s\nsleep 1\nexec %s \"$@\"\n", q(count), q(realcc)), "755")
  local path, cache = script("concurrent"), fresh("concurrent")
  local outs = {}
  for k = 1, 4 do outs[k] = format("%s/conc%d.txt", tmpdir, k) end
  local cmd = {}
  for k = 1, 4 do
    cmd[k] = format("env -u CAJAL_JIT CAJAL_TIERED=0 CC=%s CAJAL_CACHE=%s %s %s >%s 2>&1 &", q(cc), q(cache), q(cajal), q(path), q(outs[k]))
  end
  assert(os.execute(table.concat(cmd, " ") .. " wait"))
  local runs = select(2, readfile(count):gsub("run", ""))
  local first
  for k = 1, 4 do
    local n = readfile(outs[k]):match("result%s+jit%s+(%d+)")
    assert(n, "process " .. k .. ": " .. readfile(outs[k]))
    first = first or n
    assert(n == first, "the processes disagree")
  end
  assert(runs == 1, format("the compiler ran %d times for 4 concurrent loads", runs))
end)

os.execute("rm -rf " .. q(tmpdir))
T.done()
