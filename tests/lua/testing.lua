-- testing.lua — the small harness of the Lua-level tests (tests/lua/*.lua).
--
--   local T = dofile(arg[0]:match("^(.*)/[^/]*$") .. "/testing.lua")
--   T.test("zeros has the right shape", function() ... assert(...) end)
--   T.checkerror("bad argument #1 to 'zeros'", cj.zeros, "x")
--   T.near(a, b, tol [, what])
--   T.values(array) -> list of numbers (SI);  T.same(list1, list2, what): bit-identical
--   T.spikelist(monitor [, tmin]) -> times, indices sorted by time then index
--   T.skip(reason)   -- inside a test: stop it and count it as skipped, with the reason
--   T.skiptest(name, reason)   -- count a test that cannot run here as skipped
--   T.readfile(path [, default]), T.writefile(path, s)
--   T.skippart(what, reason)   -- inside a test: one part cannot run here; counted as a
--                                 skip with its reason while the rest of the test goes on
--   T.tmpdir() -> a new empty folder;  T.shq(s) -> s quoted for the shell
--   T.example(name [, args [, env]]) -> output: `cajal examples/NAME.lua args` run in a
--                                 scratch folder (env: "VAR=value ..."); fails the test when it fails
--   T.PY, T.python(code) -> ok, output: code run by Debian's /usr/bin/python3 (the peers' numpy, h5py)
--   T.done()   -- prints "<file>: N passed, N failed, N skipped"; exit status 1 on failure
--
-- A skip is never silent: it is counted, and its reason is printed. A test that
-- returns early without T.skip counts as passed, so guards must call T.skip.
local T = {}
local passed, failed, skipped = 0, 0, 0
local current
local SKIP = {}   -- the marker raised by T.skip

function T.skiptest(name, reason)
  skipped = skipped + 1
  print(string.format("SKIP %s: %s", name, reason))
end

function T.skip(reason)
  assert(type(reason) == "string" and reason ~= "", "T.skip needs a reason")
  error(setmetatable({ reason = reason }, SKIP), 0)
end

function T.skippart(what, reason)
  assert(type(what) == "string" and type(reason) == "string" and reason ~= "",
         "T.skippart needs what is skipped and a reason")
  T.skiptest((current or "?") .. " [" .. what .. "]", reason)
end

function T.test(name, fn)
  current = name
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == SKIP then return e end
    return debug.traceback(e, 2)
  end)
  if ok then
    passed = passed + 1
  elseif getmetatable(err) == SKIP then
    T.skiptest(name, err.reason)
  else
    failed = failed + 1
    io.stderr:write("FAIL ", name, "\n", tostring(err), "\n")
  end
end

-- f(...) must raise an error whose message contains `pattern` (plain text)
function T.checkerror(pattern, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("expected an error containing '" .. pattern .. "', got none", 2) end
  err = tostring(err)
  if not err:find(pattern, 1, true) then
    error("expected an error containing '" .. pattern .. "', got: " .. err, 2)
  end
  return err
end

function T.near(a, b, tol, what)
  tol = tol or 1e-12
  if not (math.abs(a - b) <= tol) then
    error(string.format("%s: %.17g vs %.17g (tolerance %g)", what or "values differ", a, b, tol), 2)
  end
end

-- Values of an array (with or without a unit) as a Lua list of numbers in SI units.
function T.values(a)
  local t = a:reshape(a:numel()):totable()
  for k = 1, #t do if type(t[k]) ~= "number" then t[k] = t[k].value end end
  return t
end

-- Two lists of numbers must be identical, element for element (bit-exact).
function T.same(a, b, what)
  assert(#a == #b, string.format("%s: %d vs %d elements", what, #a, #b))
  for k = 1, #a do
    if a[k] ~= b[k] then
      error(string.format("%s: element %d differs: %.17g vs %.17g", what, k, a[k], b[k]), 2)
    end
  end
end

-- The (time, index) pairs of a spike monitor from time tmin on (all if nil),
-- sorted by time then index, as two lists of numbers.
function T.spikelist(mon, tmin)
  local ts, is = T.values(mon:times()), T.values(mon:indices())
  local p = {}
  for k = 1, #ts do
    if not tmin or ts[k] >= tmin - 1e-12 then p[#p + 1] = { ts[k], is[k] } end
  end
  table.sort(p, function(x, y) return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2]) end)
  local a, b = {}, {}
  for k, x in ipairs(p) do a[k], b[k] = x[1], x[2] end
  return a, b
end

-- The bytes of a file (default, or an error, when it cannot be read), and
-- a file written with s.
function T.readfile(path, default)
  local f = io.open(path, "rb")
  if not f then
    if default ~= nil then return default end
    error("cannot read " .. path, 2)
  end
  local s = f:read("a")
  f:close()
  return s
end

function T.writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function T.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  return dir
end

function T.shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The source tree (CAJAL_TEST_SRCDIR, set by tests/run.sh) and this cajal,
-- as absolute paths.
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return (os.getenv("PWD") or io.popen("pwd"):read("l")) .. "/" .. path
end
T.srcdir = os.getenv("CAJAL_TEST_SRCDIR") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")

-- An example script run as a user runs it, in a scratch folder where it
-- writes its plots (removed afterwards); args a string or a list.
function T.example(name, args, env)
  local tmp = T.tmpdir()
  if type(args) == "table" then args = table.concat(args, " ") end
  local cmd = string.format("cd %s && %s %s %s %s 2>&1", T.shq(tmp), env or "", T.shq(absolute(arg[-1] or "cajal")),
                            T.shq(absolute(T.srcdir) .. "/examples/" .. name .. ".lua"), args or "")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  os.execute("rm -rf " .. T.shq(tmp))
  assert(ok, name .. ".lua failed:\n" .. out)
  return out
end

-- ISI coefficient of variation (std/mean of the intervals, ddof 0) of a
-- Lua list of sorted spike times; NaN under two intervals. A reference for
-- cj.coding.cv (coding.lua, infolive.lua).
function T.ref_cv(t)
  if #t < 3 then return 0 / 0 end
  local m, v = 0, 0
  for k = 2, #t do m = m + t[k] - t[k - 1] end
  m = m / (#t - 1)
  for k = 2, #t do v = v + (t[k] - t[k - 1] - m) ^ 2 end
  return math.sqrt(v / (#t - 1)) / m
end

T.PY = "/usr/bin/python3"
function T.python(code)
  local f = io.popen("timeout 300 " .. T.PY .. " -c " .. T.shq(code) .. " 2>&1")
  local out = f:read("a")
  local ok = f:close()
  return ok, out
end

function T.done()
  local name = (arg and arg[0] or "?"):match("([^/]*)$")
  print(string.format("%s: %d passed, %d failed, %d skipped", name, passed, failed, skipped))
  os.exit(failed == 0 and 0 or 1)
end

return T
