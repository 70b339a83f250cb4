-- install.lua — `make install` seen by a user: a DESTDIR install with another
-- prefix puts the program, the Lua sources, the model library, the man pages
-- and the examples in their folders; the installed man pages name this
-- prefix's folders, not /usr/local; an installed example runs from any
-- folder with the installed program. Run by `make check` from the build
-- directory ($MAKE is the make running it); skipped elsewhere.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")

local MAKE = os.getenv("MAKE")
local PREFIX = "/opt/cajal-installtest"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local readall = T.readfile

local function sh(cmd)
  local out = os.tmpname()
  local ok = os.execute(cmd .. " >" .. q(out) .. " 2>&1")
  local text = readall(out) or ""
  os.remove(out)
  return ok, text
end

local dest = os.tmpname()
os.remove(dest)

-- the files under dest whose path ends with `tail` (a pattern), without dest
local function find(tail)
  local p = io.popen("cd " .. q(dest) .. " && find . -type f")
  local hits = {}
  for line in p:lines() do
    local path = line:sub(2)
    if path:match(tail) then hits[#hits + 1] = path end
  end
  p:close()
  table.sort(hits)
  return hits
end

local installed = false
local function install()
  if installed then return end
  if not MAKE or not readall("Makefile") then
    T.skip("not run by make check from the build directory (needs $MAKE and ./Makefile)")
  end
  local ok, log = sh(MAKE .. " install DESTDIR=" .. q(dest) .. " prefix=" .. q(PREFIX))
  assert(ok, "make install failed:\n" .. log:sub(-3000))
  installed = true
end

T.test("make install: program, modules, model library, man pages and examples", function()
  install()
  local bin = find("/bin/cajal$")
  assert(#bin == 1 and bin[1] == PREFIX .. "/bin/cajal", table.concat(bin, " "))
  local lif = find("/models/lif%.cajal$")
  assert(#lif == 1 and lif[1] == PREFIX .. "/share/cajal/models/lif.cajal", table.concat(lif, " "))
  assert(#find("/share/cajal/cajal/network%.lua$") == 1 and #find("/share/cajal/grammar/cajal%.lua$") == 1)
  for _, page in ipairs { "/man1/cajal%.1$", "/man7/cajal%-lang%.7$", "/man3/cajal%-api%.3$" } do
    assert(#find(page) == 1, page .. " not installed")
  end
  -- every example script and model, beside each other (scripts load their model from their folder)
  local ex = find("/examples/.*[^/]$")
  assert(#ex >= 12, #ex .. " example files")
  local dir = PREFIX .. "/share/doc/cajal/examples"
  assert(find("^" .. dir:gsub("%p", "%%%0") .. "/fi_curve%.lua$")[1], "examples not in " .. dir)
  -- every file of the source tree's examples/, in its subfolder (a new example must be
  -- listed in Makefile.am: dist_examples_DATA, or a package's dist_examples*_DATA)
  local src = (os.getenv("CAJAL_TEST_SRCDIR") or ".") .. "/examples"
  local p = io.popen("cd " .. q(src) .. " && find . -type f | sed 's|^\\./||'")
  local n = 0
  for name in p:lines() do
    n = n + 1
    assert(readall(dest .. dir .. "/" .. name), name .. " not installed (add it to dist_examples_DATA)")
  end
  p:close()
  assert(n >= 12 and #ex == n, #ex .. " installed, " .. n .. " in examples/")
end)

T.test("the installed man pages name the configured folders, not /usr/local", function()
  install()
  local page = assert(readall(dest .. find("/man1/cajal%.1$")[1]))
  assert(page:find(PREFIX .. "/share/cajal\n", 1, true), "cajal.1 does not name the install tree")
  assert(page:find(PREFIX .. "/share/doc/cajal/examples", 1, true), "cajal.1 does not name the examples")
  -- (Jupyter's own folder, /usr/local/share/jupyter, is not cajal's: it stays)
  assert(not page:find("/usr/local/share/cajal", 1, true), "cajal.1 still names /usr/local/share/cajal")
  assert(not page:find("/usr/local/share/doc/cajal", 1, true), "cajal.1 still names /usr/local/share/doc")
  local lang = assert(readall(dest .. find("/man7/cajal%-lang%.7$")[1]))
  assert(not lang:find("/usr/local/share/cajal", 1, true), "cajal-lang.7 names /usr/local/share/cajal")
  -- the source page is written for the default prefix, so the two differ exactly there
  local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or "."
  local src = assert(readall(srcdir .. "/man/cajal.1"))
  assert(src:gsub("/usr/local/share/doc/cajal", PREFIX .. "/share/doc/cajal")
            :gsub("/usr/local/share/cajal", PREFIX .. "/share/cajal") == page, "only the folders change")
end)

T.test("an installed example runs from another folder with the installed cajal", function()
  install()
  local bin = dest .. PREFIX .. "/bin/cajal"
  local example = dest .. PREFIX .. "/share/doc/cajal/examples/fi_curve.lua"
  local work = os.tmpname()
  os.remove(work)
  assert(os.execute("mkdir " .. q(work)))
  -- the installed program is not at its prefix (DESTDIR): it runs on its built-in modules
  local ok, out = sh("cd " .. q(work) .. " && env -u CAJAL_HOME CAJAL_JIT=off " .. q(bin) .. " " .. q(example))
  local png = readall(work .. "/fi_curve.png")
  os.execute("rm -rf " .. q(work))
  assert(ok, out)
  assert(out:find("f analytic (Hz)", 1, true) and out:find("largest shortfall", 1, true), out)
  -- the figure goes to the current folder (or the example says why there is none)
  assert(out:find("\nplot: fi_curve.png\n", 1, true) and png and png:sub(2, 4) == "PNG"
         or out:find("\nno plot: ", 1, true), out)
end)

os.execute("rm -rf " .. q(dest))
T.done()
