-- packages.lua — model packages: examples/cortical installed with LuaRocks
-- (`luarocks --tree TMP make`, and `--local` into a user tree under a
-- temporary HOME), then required and imported from there by a fresh cajal:
-- with the tree on LUA_PATH, and from ~/.luarocks with nothing set at all.
-- `cajal --models` lists the tree and the package's models. The package's
-- own tests run with one command (cajal tests/run.lua). Skipped, with the
-- reason, where luarocks is not installed (Debian package luarocks).
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")

local shq = T.shq
local CAJAL = os.getenv("CAJAL") or arg[-1]
local SRC = os.getenv("CAJAL_TEST_SRCDIR") or "."
local ABS = io.popen("cd " .. shq(SRC) .. " && pwd"):read("l")
local PKG = ABS .. "/examples/cortical"
local cajalabs = CAJAL:sub(1, 1) == "/" and CAJAL or io.popen("pwd"):read("l") .. "/" .. CAJAL

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local haverocks = sh("command -v luarocks >/dev/null")

local function needrocks()
  if not haverocks then T.skip("luarocks not found (Debian package luarocks)") end
end

-- a copy of the package (luarocks make runs in it; the source tree stays clean)
local function copy()
  local d = T.tmpdir()
  assert(sh("cp -R " .. shq(PKG) .. " " .. shq(d .. "/cortical")))
  return d .. "/cortical"
end

local USE = [[
local cj = require "cajal"
local cortical = require "cortical"
io.write(cortical.dir, "\n")
local net = cj.network('import "cortical/cells"\npopulation P = pyramidal(5)\npopulation B = basket(3)\n',
  { progress = false })
io.write(net.P.N, " ", net.B.N, "\n")
local col = cortical.column{ seed = 2, progress = false }
io.write(col.L4e.N, "\n")
]]

T.test("luarocks --tree TMP make installs the package; require and import find it there", function()
  needrocks()
  local pkg, tree = copy(), T.tmpdir()
  local ok, out = sh("cd " .. shq(pkg) .. " && HOME=" .. shq(tree) .. " luarocks --lua-version 5.4 --tree " ..
    shq(tree) .. " make cortical-0.1-1.rockspec")
  assert(ok, out)
  local lua = tree .. "/share/lua/5.4"
  assert(io.open(lua .. "/cortical/cells.cajal") and io.open(lua .. "/cortical/data/connectivity.csv"),
    "installed files: " .. out)
  T.writefile(tree .. "/use.lua", USE)
  local env = "LUA_PATH_5_4=" .. shq(lua .. "/?.lua;" .. lua .. "/?/init.lua;;") .. " HOME=" .. shq(tree)
  ok, out = sh("cd " .. shq(tree) .. " && " .. env .. " " .. shq(cajalabs) .. " use.lua")
  assert(ok, out)
  local dir, n, col = out:match("^([^\n]*)\n(%d+ %d+)\n(%d+)\n$")
  assert(dir == lua .. "/cortical", out)
  assert(n == "5 3" and col == "438", out)
  -- --models lists the tree and what is in it
  ok, out = sh(env .. " " .. shq(cajalabs) .. " --models")
  assert(ok, out)
  assert(out:find("LuaRocks tree: " .. lua .. "\n  cortical/cells\n  cortical/column\n", 1, true), out)
  assert(out:find("cajal's model library: [^\n]*\n  models/lif\n"), out)
  -- without the tree on the path, the import is not found, and the message says where it looked
  ok, out = sh("cd " .. shq(tree) .. " && HOME=" .. shq(tree) .. " " .. shq(cajalabs) ..
    " -e " .. shq("require('cajal').network('import \"cortical/cells\"\\npopulation P = pyramidal(1)')"))
  assert(not ok and out:find("LuaRocks trees", 1, true), out)
end)

T.test("luarocks --local make (~/.luarocks): found with no variable set", function()
  needrocks()
  local pkg, home = copy(), T.tmpdir()
  local ok, out = sh("cd " .. shq(pkg) .. " && HOME=" .. shq(home) ..
    " luarocks --lua-version 5.4 --local make cortical-0.1-1.rockspec")
  assert(ok, out)
  T.writefile(home .. "/use.lua", USE)
  ok, out = sh("cd " .. shq(home) .. " && env -u LUA_PATH -u LUA_PATH_5_4 -u CAJAL_PATH HOME=" .. shq(home) ..
    " " .. shq(cajalabs) .. " use.lua")
  assert(ok, out)
  assert(out:find("^" .. home:gsub("%p", "%%%0") .. "/%.luarocks/share/lua/5%.4/cortical\n"), out)
end)

T.test("the package's own tests run with one command (cajal tests/run.lua)", function()
  local pkg = copy()
  local ok, out = sh("cd " .. shq(pkg) .. " && " .. shq(cajalabs) .. " tests/run.lua")
  assert(ok and out:find("cortical: 4 passed, 0 failed", 1, true), out)
end)

T.done()
