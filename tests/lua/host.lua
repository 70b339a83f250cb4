-- host.lua — the cajal program seen from outside: options, exit status,
-- error reports, the arg table, stdin scripts, module search (also from a
-- copy of the binary in another directory), cajal.host.findfile, and the
-- REPL's value printing and completion (cajal.repl), and help().
-- The interpreter under test is $CAJAL (tests/run.sh) or arg[-1].
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")

local CAJAL = os.getenv("CAJAL") or arg[-1]

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function readall(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function writefile(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- sh(cmdline [, stdin text]) -> exit code, stdout, stderr
local function sh(cmd, input)
  local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
  writefile(inp, input or "")
  local ok, how, code = os.execute(cmd .. " <" .. inp .. " >" .. out .. " 2>" .. err)
  local o, e = readall(out), readall(err)
  os.remove(out); os.remove(err); os.remove(inp)
  if how == "signal" then code = 128 + code end
  return code, o, e
end

-- run cajal with the given (already quoted where needed) argument string
local function cajal(args, input, env)
  return sh((env or "") .. " " .. q(CAJAL) .. " " .. args, input)
end

local function has(s, text) return s:find(text, 1, true) ~= nil end

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -m 700 " .. q(p)))
  return p
end

local function rmtree(p) os.execute("rm -rf " .. q(p)) end

-- ---- options -------------------------------------------------------------

T.test("-v prints one version line naming Lua, LPeg, PCRE2, OpenBLAS", function()
  local code, out = cajal("-v")
  assert(code == 0, code)
  assert(out:match("^cajal %d+%.%d+%.%d+ %(Lua 5%.4%.%d+, LPeg [%d.]+, PCRE2 [%d.]+, OpenBLAS [^)]*%)\n$"), out)
  local code2, out2 = cajal("--version")
  assert(code2 == 0 and out2 == out)
end)

T.test("-h and --help print the usage on stdout, status 0", function()
  for _, opt in ipairs { "-h", "--help" } do
    local code, out, err = cajal(opt)
    assert(code == 0, code)
    assert(has(out, "usage:") and has(out, "-e stat") and has(out, "--dump=") and has(out, "--cache-clear"), out)
    assert(err == "", err)
  end
end)

T.test("an unknown option or a missing argument: usage on stderr, status 1", function()
  for _, args in ipairs { "-x", "--nope", "-e", "-l", "-vx", "--dump=asm f.cajal", "--dump=ast" } do
    local code, out, err = cajal(args)
    assert(code == 1, args .. ": " .. tostring(code))
    assert(out == "", args .. ": " .. out)
    assert(has(err, "usage:"), args .. ": " .. err)
  end
  local _, _, err = cajal("--dump=asm f.cajal")
  assert(has(err, "ast, ir or c"), err)
end)

T.test("-e runs code; several run in order; exit status 0", function()
  local code, out, err = cajal("-e 'io.write(1)' -e 'io.write(2)' -e 'print(3)'")
  assert(code == 0 and out == "123\n" and err == "", out .. err)
  local code2, out2 = cajal("-e'print(40+2)'")          -- argument attached
  assert(code2 == 0 and out2 == "42\n", out2)
end)

T.test("an error: status 1, message and traceback on stderr, nothing more runs", function()
  local code, out, err = cajal("-e 'error(\"boom\")' -e 'print(\"after\")'")
  assert(code == 1, code)
  assert(out == "", out)
  assert(has(err, "(command line):1: boom"), err)
  assert(has(err, "stack traceback:"), err)
end)

T.test("error objects: __tostring is used; other values are named", function()
  local _, _, err = cajal([[-e 'error(setmetatable({}, {__tostring = function() return "custom message" end}))']])
  assert(has(err, "custom message") and has(err, "stack traceback:"), err)
  local code, _, err2 = cajal([[-e 'error({})']])
  assert(code == 1 and has(err2, "(error object is a table value)"), err2)
  local _, _, err3 = cajal([[-e 'error(42)']])
  assert(has(err3, "42"), err3)
end)

T.test("os.exit status passes through", function()
  assert(cajal("-e 'os.exit(3)'") == 3)
  assert(cajal("-e 'os.exit(true)'") == 0)
  assert(cajal("-e 'os.exit(false)'") == 1)
end)

T.test("a syntax error in -e or in the script: status 1 with the message", function()
  local code, _, err = cajal("-e 'x = = 1'")
  assert(code == 1 and has(err, "unexpected symbol"), err)
  local dir = tmpdir()
  writefile(dir .. "/bad.lua", "local x = \n")
  local code2, _, err2 = cajal(q(dir .. "/bad.lua"))
  rmtree(dir)
  assert(code2 == 1 and has(err2, "bad.lua:2:"), err2)
  local code3, _, err3 = cajal("/nonexistent/x.lua")
  assert(code3 == 1 and has(err3, "cannot open /nonexistent/x.lua"), err3)
end)

T.test("-W turns warnings on", function()
  local _, _, err = cajal("-W -e 'warn(\"careful\")'")
  assert(has(err, "Lua warning: careful"), err)
  local _, _, err2 = cajal("-e 'warn(\"careful\")'")
  assert(err2 == "", err2)
end)

T.test("coroutine.resume and wrap keep their behaviour (the host notes the running one)", function()
  local code, out, err = cajal([[-e '
    local g = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); error("inner " .. b) end)
    print(g(1)); print(pcall(g, "x"))
    local co = coroutine.create(function(x) coroutine.yield(x * 2); return "done", 7 end)
    print(coroutine.resume(co, 21)); print(coroutine.resume(co)); print(coroutine.resume(co))
    print(pcall(coroutine.resume, 1))
    local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
    print(gen(), gen(), gen())
    local outer = coroutine.wrap(function()
      local inner = coroutine.wrap(function() coroutine.yield("in") end)
      coroutine.yield(inner()) end)
    print(outer(), coroutine.isyieldable(), coroutine.running())']])
  assert(code == 0, err)
  local lines = {}
  for l in out:gmatch("[^\n]*") do if l ~= "" then lines[#lines + 1] = l end end
  assert(lines[1] == "2" and lines[2] == "false\t(command line):2: inner x", out)
  assert(lines[3] == "true\t42" and lines[4] == "true\tdone\t7", out)
  assert(lines[5] == "false\tcannot resume dead coroutine", out)
  assert(lines[6]:match("^false\tbad argument #1 to 'coroutine.resume'"), lines[6])
  assert(lines[7] == "1\t2\t3", out)
  assert(lines[8]:match("^in\tfalse\tthread: "), lines[8])
end)

-- ---- the arg table, scripts, stdin -----------------------------------------

local dump = [[
local t = {}
for i = -3, #arg do t[#t + 1] = tostring(i) .. "=" .. tostring(arg[i]) end
print(table.concat(t, " "))
print(select("#", ...), ...)
]]

T.test("arg: script at 0, its arguments positive, interpreter and options negative", function()
  local dir = tmpdir()
  local script = dir .. "/args.lua"
  writefile(script, dump)
  local code, out = cajal("-e 'x=1' " .. q(script) .. " a 'b c'")
  rmtree(dir)
  assert(code == 0, code)
  local line1, line2 = out:match("^(.-)\n(.-)\n$")
  assert(line1 == "-3=" .. CAJAL .. " -2=-e -1=x=1 0=" .. script .. " 1=a 2=b c", line1)
  assert(line2 == "2\ta\tb c", line2)
end)

T.test("arg without a script: arg[0] is the interpreter, options positive", function()
  local code, out = cajal([[-e 'print(arg[0], arg[1], arg[2], arg[-1])']])
  assert(code == 0 and out == CAJAL .. "\t-e\tprint(arg[0], arg[1], arg[2], arg[-1])\tnil\n", out)
end)

T.test("'-' runs stdin with the arguments that follow", function()
  local code, out = cajal("- x y", "print(arg[0], ...)")
  assert(code == 0 and out == "-\tx\ty\n", out)
end)

T.test("'--' ends the options: a script named like an option runs", function()
  local dir = tmpdir()
  writefile(dir .. "/-v", "print('script', ...)")
  local code, out = sh("cd " .. q(dir) .. " && " .. q(CAJAL:match("^/") and CAJAL or os.getenv("PWD") .. "/" .. CAJAL) .. " -- -v 1")
  rmtree(dir)
  assert(code == 0 and out == "script\t1\n", out)
end)

T.test("no script and stdin not a terminal: stdin is the script", function()
  local code, out = cajal("", "print('from stdin', arg[0] ~= nil)")
  assert(code == 0 and out == "from stdin\ttrue\n", out)
  local code2, _, err = cajal("", "error('stdin boom')")
  assert(code2 == 1 and has(err, "stdin boom"), err)
end)

T.test("-i after a script reads the REPL from stdin and prints values", function()
  local code, out = cajal("-i -e 'y = 20'", "y + 1\n=y*2\nfunction f(a)\nreturn a * 3\nend\nf(5)\n")
  assert(code == 0, code)
  assert(has(out, "\n21\n") or out:match("^21\n") or has(out, "> 21\n"), out)
  assert(has(out, "40\n") and has(out, "15\n"), out)
  assert(has(out, "cajal 0.1.0"), "-i implies -v: " .. out)
end)

T.test("-i: errors are reported and the REPL goes on", function()
  local code, out, err = cajal("-i", "error('first')\n1+1\n")
  assert(code == 0 and has(err, "first") and has(out, "2\n"), out .. err)
end)

T.test("-i after a failing script still opens the REPL; status 1 at the end", function()
  local code, out, err = cajal("-i -e 'x = 5' -e 'error(\"stop here\")'", "x * 2\n")
  assert(code == 1, code)
  assert(has(err, "stop here") and has(out, "10\n"), out .. err)
end)

T.test("-l mod, -l g=mod and a '-' suffix", function()
  local code, out = cajal([[-l re -l R=re -e 'print(type(re), re == R, type(re.match))']])
  assert(code == 0 and out == "table\ttrue\tfunction\n", out)
  local dir = tmpdir()                      -- "-l probe-v2": module probe-v2, global probe
  writefile(dir .. "/probe-v2.lua", "return 'v2'")
  local code2, out2 = cajal([[-l probe-v2 -e 'print(probe)']], nil, "LUA_PATH=" .. q(dir .. "/?.lua"))
  rmtree(dir)
  assert(code2 == 0 and out2 == "v2\n", out2)
  local code3, _, err3 = cajal("-l no_such_module_xyz")
  assert(code3 == 1 and has(err3, "module 'no_such_module_xyz' not found"), err3)
end)

T.test("start-up loads no cajal module (cheap -e '')", function()
  local code, out = cajal([[-e 'print(package.loaded.cajal, package.loaded["cajal.core"])']])
  assert(code == 0 and out == "nil\tnil\n", out)
end)

-- ---- module search ---------------------------------------------------------

T.test("lpeg, re and cajal load whatever LUA_PATH says", function()
  local code, out, err = cajal([[-e 'local re = require "re"; print(re.match("abc", "{%a+}"), type(require "lpeg".P), type(require "cajal"))']],
                               nil, "LUA_PATH=/nonexistent/?.lua LUA_CPATH=/nonexistent/?.so")
  assert(code == 0 and out == "abc\tfunction\ttable\n", out .. err)
end)

T.test("from the build tree, cajal's modules come from the source tree", function()
  local code, out = cajal([[-e 'print((select(2, require "cajal")))']], nil, "env -u CAJAL_HOME")
  assert(code == 0, code)
  assert(out:match("/stdlib/cajal/init%.lua\n$") and not has(out, "[cajal]"), out)
end)

T.test("CAJAL_HOME comes first; -E ignores it", function()
  local dir = tmpdir()
  assert(os.execute("mkdir -p " .. q(dir .. "/stdlib/cajal") .. " " .. q(dir .. "/stdlib/models")))
  writefile(dir .. "/stdlib/cajal/hosttest_probe.lua", "return 'probe from home'")
  writefile(dir .. "/stdlib/models/hosttest.cajal", "# probe model\n")
  local env = "CAJAL_HOME=" .. q(dir)
  local code, out, err = cajal([[-e 'local m, where = require "cajal.hosttest_probe"; print(m, where)']], nil, env)
  assert(code == 0 and out == "probe from home\t" .. dir .. "/stdlib/cajal/hosttest_probe.lua\n", out .. err)
  local code2, out2 = cajal([[-e 'print(require "cajal.host".findfile("models/hosttest"))']], nil, env)
  assert(code2 == 0 and out2 == "# probe model\n\t" .. dir .. "/stdlib/models/hosttest.cajal\n", out2)
  local code3, _, err3 = cajal([[-E -e 'require "cajal.hosttest_probe"']], nil, env)
  assert(code3 == 1 and has(err3, "module 'cajal.hosttest_probe' not found"), err3)
  rmtree(dir)
end)

T.test("a missing cajal module: the error lists the places searched", function()
  local code, _, err = cajal([[-e 'require "cajal.no_such_part"']], nil, "CAJAL_HOME=/nonexistent/home")
  assert(code == 1, code)
  assert(has(err, "no file '/nonexistent/home/stdlib/cajal/no_such_part.lua'"), err)
  assert(has(err, "no built-in module 'cajal.no_such_part'"), err)
end)

T.test("a syntax error in a cajal module names its file", function()
  local dir = tmpdir()
  assert(os.execute("mkdir -p " .. q(dir .. "/stdlib/cajal")))
  writefile(dir .. "/stdlib/cajal/hosttest_bad.lua", "return {\n")
  local code, _, err = cajal([[-e 'require "cajal.hosttest_bad"']], nil, "CAJAL_HOME=" .. q(dir))
  rmtree(dir)
  assert(code == 1 and has(err, "error loading module 'cajal.hosttest_bad'") and has(err, "hosttest_bad.lua:2:"), err)
end)

-- findfile is also tested in-process: this file runs inside cajal.
local host = require "cajal.host"

T.test("findfile: model files with or without .cajal; origin says where", function()
  local text, origin = host.findfile("models/lif")
  assert(type(text) == "string" and #text > 0, "models/lif not found")
  local text2, origin2 = host.findfile("models/lif.cajal")
  assert(text2 == text and origin2 == origin)
  assert(origin:match("stdlib/models/lif%.cajal$") or origin:match("/models/lif%.cajal$"), origin)
end)

T.test("findfile: missing files give nil and the places tried", function()
  local text, msg = host.findfile("models/no_such_model")
  assert(text == nil and has(msg, "no_such_model.cajal") and has(msg, "no built-in file"), msg)
end)

T.test("findfile: names outside the tree are refused", function()
  for _, bad in ipairs { "../etc/passwd", "/etc/passwd", "models/../x", "a//b", "./models/lif", "", "models/x\0y" } do
    local err = T.checkerror("bad argument #1 to", host.findfile, bad)
    assert(has(err, "findfile") and has(err, "relative file name"), err)
  end
  T.checkerror("string expected", host.findfile, {})
end)

T.test("searchdirs and datadir", function()
  local dirs = host.searchdirs()
  assert(type(dirs) == "table" and #dirs >= 1 and dirs[#dirs] == host.datadir, tostring(dirs[#dirs]))
  assert(type(host.datadir) == "string" and host.datadir:match("cajal$"), host.datadir)
end)

T.test("a copy of the binary elsewhere runs on its own (built-in sources)", function()
  local dir = tmpdir()
  assert(os.execute("cp " .. q(CAJAL) .. " " .. q(dir .. "/cajal")))
  local code, out, err = sh("cd / && env -u CAJAL_HOME LUA_PATH=/nonexistent/?.lua " .. q(dir .. "/cajal") ..
    [[ -e 'local cj, where = require "cajal"; local host = require "cajal.host"
           local text, origin = host.findfile("models/lif")
           print(type(cj), where, require "re".match("x1", "{%a}"), origin, #text > 0)']])
  rmtree(dir)
  assert(code == 0, out .. err)
  local t, where, m, origin, nonempty = out:match("^(%S+)\t(%S+)\t(%S+)\t(%S+)\t(%S+)\n$")
  assert(t == "table" and m == "x" and nonempty == "true", out)
  -- built in, unless cajal is installed in its data directory on this machine
  assert(where == "[cajal]/stdlib/cajal/init.lua" or where:sub(1, #host.datadir) == host.datadir, where)
  assert(origin == "[cajal]/stdlib/models/lif.cajal" or origin:sub(1, #host.datadir) == host.datadir, origin)
end)

-- ---- network-language options ------------------------------------------------

T.test("--dump reports a missing file with status 1", function()
  local code, out, err = cajal("--dump=ast /nonexistent/model.cajal")
  assert(code == 1 and out == "", out)
  assert(has(err, "/nonexistent/model.cajal") or has(err, "not available"), err)
end)

T.test("--dump=ast|ir|c prints what cj.dump gives (structure: tests/lua/compile.lua)", function()
  local dir = tmpdir()
  local path = dir .. "/m.cajal"
  writefile(path, assert(host.findfile("models/lif")) .. "population E = lif(4)\n")
  local compile = require "cajal.compile"
  for _, stage in ipairs { "ast", "ir", "c" } do
    local code, out, err = cajal("--dump=" .. stage .. " " .. q(path))
    assert(code == 0 and err == "", stage .. ": " .. err)
    local want = compile.dump(stage, path)
    assert(out == want .. (want:sub(-1) == "\n" and "" or "\n"), stage .. ": the output differs from cj.dump")
  end
  local _, ast = cajal("--dump=ast " .. q(path))
  assert(ast:match("^file 1:1 file=") and ast:find("\n    neuron 18:1 [^\n]*name=lif\n") and
         ast:find("\n    population %d+:1 [^\n]*name=E\n"), ast)
  rmtree(dir)
end)

T.test("--dump of a bad model prints the positioned error only, status 1", function()
  local dir = tmpdir()
  local path = dir .. "/bad.cajal"
  writefile(path, "neuron n {\n  state { v = 0 mV }\n  equations { dv/dt = v + 1 }\n}\npopulation P = n(2)\n")
  local want = path .. ":3:23: unit mismatch in '+': V and dimensionless\n"
    .. "  equations { dv/dt = v + 1 }\n" .. "                      ^\n"
  for _, stage in ipairs { "ir", "c" } do
    local code, out, err = cajal("--dump=" .. stage .. " " .. q(path))
    assert(code == 1 and out == "", stage .. ": " .. tostring(code))
    assert(err == want, stage .. ":\n" .. err)
  end
  writefile(path, "neuron n {\n  state { v = 0 mV }\n  equations { dv/dt = (v + }\n}\n")
  local code, out, err = cajal("--dump=ast " .. q(path))
  rmtree(dir)
  assert(code == 1 and out == "", code)
  assert(err:find("^" .. path:gsub("%p", "%%%0") .. ":3:%d+: [^\n]*\n[^\n]*\n *%^\n$"), err)
  local _, _, err2 = cajal("--dump=ir /nonexistent/model.cajal")
  assert(not has(err2, "traceback"), err2)
  -- an internal error (not the compiler's error object) keeps its traceback
  local code3, _, err3 = cajal("-e " .. q("rawset(require 'cajal', 'dump', function() error('boom') end)")
                               .. " --dump=ir " .. q(path))
  assert(code3 == 1 and has(err3, "boom") and has(err3, "stack traceback"), err3)
end)

T.test("a model error in a script, -e or the REPL: the positioned message only, no traceback", function()
  local dir = tmpdir()
  local model = dir .. "/bad.cajal"
  writefile(model, "neuron n {\n  state { v = 0 mV }\n  equations { dv/dt = v + 1 }\n}\npopulation P = n(2)\n")
  writefile(dir .. "/run.lua", "local cj = require 'cajal'\nlocal net = cj.load(" .. string.format("%q", model) .. ")\n")
  local want = model .. ":3:23: unit mismatch in '+': V and dimensionless\n"
    .. "  equations { dv/dt = v + 1 }\n" .. "                      ^\n"
  local code, out, err = cajal(q(dir .. "/run.lua"))
  assert(code == 1 and out == "", tostring(code))
  assert(err == CAJAL .. ": " .. want, err)
  local code2, _, err2 = cajal("-e " .. q("require 'cajal'.network('neuron n { state { v = 0 mV } }\\npopulation P = m(2)')"))
  assert(code2 == 1 and err2:match("^[^\n]*<string>:2:1: unknown neuron model .m.[^\n]*\n[^\n]*\n *%^\n$"), err2)
  local code3, out3, err3 = cajal("-i", "net = cj.load(" .. string.format("%q", model) .. ")\n1+1\n")
  assert(code3 == 0 and has(out3, "2\n"), out3)
  assert(err3 == want, err3)
  -- other errors keep their traceback
  local _, _, err4 = cajal("-e " .. q("require 'cajal'.load(42)"))
  assert(has(err4, "bad argument #1 to 'cj.load'") and has(err4, "stack traceback:"), err4)
  rmtree(dir)
end)

T.test("--cache-clear runs the compiler's cache_clear (status 0 or a clear error)", function()
  local dir = tmpdir()
  local code, _, err = cajal("--cache-clear", nil, "CAJAL_CACHE=" .. q(dir))
  rmtree(dir)
  assert(code == 0 or (code == 1 and (has(err, "cache_clear") or has(err, "cache"))), err)
end)

-- ---- REPL printing and completion (cajal.repl), help -----------------------

local repl = require "cajal.repl"

T.test("show: scalars, strings quoted and escaped, several values tab-separated", function()
  assert(repl.show(1, 2.5, true, nil) == "1\t2.5\ttrue\tnil")
  assert(repl.show("a\"b\n\tc\0") == [["a\"b\n\tc\0"]], repl.show("a\"b\n\tc\0"))
  assert(repl.show("\1\127") == [["\001\127"]], repl.show("\1\127"))
  assert(repl.show() == "")
  assert(repl.show(1.0) == "1.0" and repl.show(math.huge) == "inf")
end)

T.test("show: tables readable, keys ordered, names bare, others bracketed", function()
  assert(repl.show({}) == "{}")
  assert(repl.show({ 1, "x", { 2 } }) == [[{ 1, "x", { 2 } }]], repl.show({ 1, "x", { 2 } }))
  assert(repl.show({ b = 1, a = 2, [10] = 3, ["x y"] = 4, [true] = 5, ["end"] = 6 })
         == [[{ [10] = 3, a = 2, b = 1, ["end"] = 6, ["x y"] = 4, [true] = 5 }]],
         repl.show({ b = 1, a = 2, [10] = 3, ["x y"] = 4, [true] = 5, ["end"] = 6 }))
  assert(repl.show({ 1, 2, n = 2 }) == "{ 1, 2, n = 2 }")
end)

T.test("show: large tables cut with a count, deep ones with {...}, cycles named", function()
  local big = {}
  for i = 1, 1000 do big[i] = i end
  local s = repl.show(big)
  assert(s:match("^{ 1, 2, 3, ") and s:match(", 20, %.%.%. %(980 more%) }$"), s)
  assert(repl.show({ { { { 1 } } } }) == "{ { { {...} } } }", repl.show({ { { { 1 } } } }))
  local t = {}
  t.self = t
  assert(repl.show(t) == "{ self = <cycle> }", repl.show(t))
  local long = string.rep("x", 200)
  assert(repl.show({ long }) == '{ "' .. string.rep("x", 80) .. '"... }')
  assert(repl.show(long) == '"' .. long .. '"')
end)

T.test("show: values with __tostring (arrays, quantities) print through it", function()
  local v = setmetatable({}, { __tostring = function() return "[1 2 3]" end })
  assert(repl.show(v, v) == "[1 2 3]\t[1 2 3]")
  local cj = require "cajal"
  assert(repl.show(20 * cj.ms) == tostring(20 * cj.ms))
  local a = cj.zeros(3)
  assert(repl.show(a) == tostring(a))
  assert(repl.show({ a }) == "{ " .. tostring(a) .. " }")
end)

T.test("complete: globals, fields, methods through metatables", function()
  local ins, list = repl.complete("pri")
  assert(ins == "nt" and list == nil, ins)
  assert((repl.complete("string.upp")) == "er")
  assert((repl.complete("x = math.fl")) == "oor")
  hosttest_obj = setmetatable({ own = 1 }, { __index = { method_one = function() end, field_two = 2 } })
  assert((repl.complete("hosttest_obj:meth")) == "od_one")
  assert((repl.complete("hosttest_obj.fie")) == "ld_two")
  local _, l = repl.complete("hosttest_obj:")
  assert(l == nil or not has(l, "field_two"), "':' lists only callables")
  assert((repl.complete("(\"abc\"):up")) == "", "no completion after an expression")
  hosttest_str = "x"
  assert((repl.complete("s = hosttest_str:up")) == "per", "string methods")
  hosttest_obj, hosttest_str = nil, nil
end)

T.test("complete: several candidates give the common prefix, then a listing", function()
  hosttest_aa1, hosttest_aa2 = 1, 2
  local ins = repl.complete("hosttest_a")
  assert(ins == "a", ins)
  local ins2, list = repl.complete("hosttest_aa", 40)
  assert(ins2 == "" and list == "hosttest_aa1  hosttest_aa2\n", list)
  hosttest_aa1, hosttest_aa2 = nil, nil
  local _, l3 = repl.complete("whi")
  assert(l3 == nil and (repl.complete("whi")) == "le", "keywords complete")
  assert((repl.complete("no_such_prefix_zz")) == "")
  assert((repl.complete("1.5")) == "")
end)

T.test("complete: cj.ze completes to zeros; array methods complete after ':'", function()
  local cj = require "cajal"
  rawset(_G, "cj", cj)
  assert((repl.complete("cj.ze")) == "ros")
  hosttest_arr = cj.zeros(2)
  local _, list = repl.complete("hosttest_arr:", 200)
  assert(list and has(list, "copy"), tostring(list))
  hosttest_arr = nil
  rawset(_G, "cj", nil)
end)

T.test("names: own fields, __index tables, lazily loaded parts of cj", function()
  local names = repl.names(setmetatable({ a = 1, [2] = 2, ["not a name"] = 3 },
                                        { __index = { b = 1, __hidden = 2 } }))
  assert(table.concat(names, ",") == "a,b", table.concat(names, ","))
  local set = {}
  for _, k in ipairs(repl.names(require "cajal")) do set[k] = true end
  assert(set.zeros and set.load and set.network and set.plot, "cj names")
end)

T.test("complete: a failing __index does not break completion", function()
  hosttest_bad = setmetatable({}, { __index = function() error("no") end })
  assert((repl.complete("hosttest_bad.x.y")) == "")
  hosttest_bad = nil
end)

T.test("help(f) prints the registered text; help(cj) lists signatures", function()
  local code, out = cajal([[-e 'local cj = require "cajal"; cj.help(cj.help)']])
  assert(code == 0 and out:match("^help%(%[f | name | topic%]%)\n"), out)
  local code2, out2 = cajal([[-e 'local cj = require "cajal"; cj.help(cj)']])
  assert(code2 == 0 and has(out2, "Functions:") and has(out2, "cj.zeros("), out2)
  assert(has(out2, "cj.load("), "lazily loaded functions are listed too")
  local code3, out3 = cajal([[-e 'require "cajal".help("zeros")']])
  assert(code3 == 0 and out3:match("^cj%.zeros%("), out3)
  local code4, out4 = cajal([[-e 'require "cajal".help()']])
  assert(code4 == 0 and has(out4, "Topics:") and has(out4, "repl"), out4)
  local _, out5 = cajal([[-e 'require "cajal".help("repl")']])
  assert(has(out5, "Ctrl-C"), out5)
  local _, out6 = cajal([[-e 'require "cajal".help("no_such_thing_q")']])
  assert(has(out6, "no help for \"no_such_thing_q\""), out6)
  local _, out7 = cajal([[-e 'require "cajal".help(function() end)']])
  assert(has(out7, "no help for this function (defined at"), out7)
  local _, out8 = cajal([[-e 'require "cajal".help(require "cajal.host".findfile)']])
  assert(has(out8, "cajal.host.findfile(name)"), out8)
end)

T.test("help(cj): functions named as reached from cj, units summarised on one line", function()
  local code, out = cajal([[-e 'help((require "cajal"))']])
  assert(code == 0, code)
  assert(not out:find("\n  core%."), "help(cj) lists core.* names:\n" .. out)
  assert(has(out, "\n  cj.cache_clear() -> "), out)
  local lines = {}
  for l in out:gmatch("[^\n]*") do lines[#lines + 1] = l end
  local last = 0
  for k, l in ipairs(lines) do if l:match("^  cj%.") or l:match("^  help%(") then last = k end end
  assert(#lines - last <= 8, "help(cj) prints " .. (#lines - last) .. " lines after its functions")
  assert(out:find("\nUnits: %d+ names, e%.g%. cj%.ms, cj%.mV"), out)
  assert(not has(out, "millivolt"), "unit aliases listed in help(cj)")
  local _, units = cajal([[-e 'help((require "cajal").units)']])
  assert(has(units, "millivolt") and has(units, "mV"), "help(cj.units) lists every unit")
end)

T.test("help by bare name: functions of cj's parts and methods", function()
  local _, out = cajal([[-e 'help("raster")']])
  assert(out:match("^cj%.plot%.raster%(monitor"), out)
  local _, out2 = cajal([[-e 'help("run")']])
  assert(out2:match("^net:run%(duration%)\n") and not has(out2, "nsteps"), out2)
  local _, out3 = cajal([[-e 'help("save_npy")']])
  assert(out3:match("^cj%.io%.save_npy%("), out3)
end)

T.test("help of the model library: a model, a file, the list", function()
  local _, lif = cajal([[-e 'help("lif")']])
  assert(lif:match("^neuron lif, from the model library: import \"models/lif\"\n"), lif)
  assert(has(lif, "\nneuron lif {\n") and has(lif, "refractory t_ref\n}"), lif)
  assert(has(lif, "Lapicque 1907") and has(lif, "Also in models/lif: cuba_lif, coba_lif"), lif)
  assert(not has(lif, "neuron cuba_lif {"), "only the model asked for")
  local _, stdp = cajal([[-e 'help("stdp")']])
  assert(stdp:match("^synapse stdp, ") and has(stdp, "Song, Miller & Abbott") and has(stdp, "synapse stdp {"), stdp)
  assert(has(stdp, "on_post") and has(stdp, "Also in models/stdp: stdp_delta"), stdp)
  local _, coba = cajal([[-e 'help("coba_lif")']])
  assert(coba:match("^neuron coba_lif, ") and has(coba, "neuron coba_lif {"), coba)
  local _, syn = cajal([[-e 'help("synapses")']])
  assert(syn:match("^models/synapses, in the model library") and has(syn, "exp_cond"), syn)
  local _, list = cajal([[-e 'help("models")']])
  for _, f in ipairs(host.list("models/")) do
    local text = assert(host.findfile(f))
    local base = f:match("^(models/.-)%.cajal$")
    assert(has(list, "  " .. base .. " "), base .. " missing from help(\"models\"):\n" .. list)
    for kind, name in text:gmatch("\n(%a+) ([%w_]+) {") do
      if kind == "neuron" or kind == "synapse" then assert(has(list, name), name) end
    end
  end
  assert(#host.list("models/") >= 10)
  local _, intro = cajal([[-e 'help()']])
  assert(intro:find("Topics: [^\n]*language") and intro:find("Topics: [^\n]*models"), intro)
  local _, lang = cajal([[-e 'help("language")']])
  assert(has(lang, "population E = lif(") and has(lang, "connect ") and has(lang, "record spikes of"), lang)
end)

T.test("help is a global in scripts and -e too, not only in the REPL", function()
  local dir = tmpdir()
  writefile(dir .. "/h.lua", "help('zeros')\nhelp(help)\n")
  local code, out, err = cajal(q(dir .. "/h.lua"))
  rmtree(dir)
  assert(code == 0 and err == "", err)
  assert(out:match("^cj%.zeros%(") and has(out, "\nhelp([f | name | topic])\n"), out)
  local code2, _, err2 = cajal("-e 'help(1, 2)'")
  assert(code2 == 1 and has(err2, "(command line):1: bad argument #2 to 'help'"), err2)
  local code3, out3 = cajal([[-e 'print(package.loaded["cajal.help"])']])
  assert(code3 == 0 and out3 == "nil\n", "help is loaded on first use only")
end)

T.test("help topics can be added", function()
  local code, out = cajal([[-e 'local h = require "cajal.help"; h.topic("hosttest", "probe text"); h.help("hosttest"); h.help()']])
  assert(code == 0 and has(out, "probe text\n") and has(out, "hosttest"), out)
end)

T.test("cj.clock is a monotonic wall clock that tracks sleeping time", function()
  local cj = require "cajal"
  local a = cj.clock()
  local c0 = os.clock()
  os.execute("sleep 0.2")
  local b = cj.clock()
  assert(b - a >= 0.19, "wall clock advanced " .. (b - a) .. " s over a 0.2 s sleep")
  assert(b - a < 30, "wall clock jumped " .. (b - a) .. " s")
  -- CPU time barely moves while the child sleeps: the two clocks differ
  assert(os.clock() - c0 < 0.1)
end)

T.done()
