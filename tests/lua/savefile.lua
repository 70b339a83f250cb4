-- tests/lua/savefile.lua — save files are untrusted input (issue 13,
-- items 2, 3, 7, 8): the model and options in a save file are data, parsed
-- and never run as Lua; one checksum covers them with the state; a crafted
-- or truncated file is refused with a message; net:save writes through a
-- fresh temporary file (mkstemp) in the target folder, so a link planted
-- at a predictable name is never followed; a model records only to .npy
-- files and replaces only recordings.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local core = require "cajal.core"
local network = require "cajal.network"

local format = string.format
local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

local MODEL = [[
neuron lif {
  parameters { tau = 10 ms; v_th = 10 mV }
  state { v = 0 mV }
  equations { dv/dt = -v / tau }
  spike when v > v_th
  reset { v = 0 mV }
}
population In = poisson(40, rate = 20 Hz)
population E = lif(20)
connect In -> E { on_spike: v += 3 mV } with probability 0.5
record spikes of E
]]

local readfile, writefile = T.readfile, T.writefile

-- 64-bit FNV-1a, written here independently of the runtime's
local function fnv(s, n)
  local h = -3750763034362895579          -- 0xcbf29ce484222325 as a signed integer
  for k = 1, n do h = (h ~ s:byte(k)) * 0x100000001b3 end
  return h
end

-- s with its checksum (the last 8 bytes) recomputed: what a deliberate
-- forger does
local function reseal(s)
  return s:sub(1, -9) .. string.pack("<i8", fnv(s, #s - 8))
end

local function saved(opts)
  local net = cj.network(MODEL, opts or { seed = 4, progress = false })
  net:run(0.05)
  local path = tmpdir .. "/a.net"
  net:save(path)
  return net, path, readfile(path)
end

T.test("the model and options round-trip as data", function()
  local arr = cj.linspace(0, 1, 7):reshape(7, 1) * cj.mV
  local opts = { seed = 4, progress = false, dt = 0.1 * cj.ms, backend = "interp",
                 params = { E = { tau = 12 * cj.ms }, extra = { deep = { 1, 2.5, "x", true } } },
                 arrays = { W = arr } }
  local meta = network.packmeta({ source = MODEL, filename = "m.cajal", opts = opts })
  local back = assert(network.unpackmeta(meta))
  assert(back.source == MODEL and back.filename == "m.cajal")
  assert(back.opts.seed == 4 and math.type(back.opts.seed) == "integer")
  assert(back.opts.progress == false and back.opts.backend == "interp")
  assert(core.isquantity(back.opts.dt) and back.opts.dt.value == 1e-4)
  assert(back.opts.params.E.tau.value == 0.012 and cj.dimension(back.opts.params.E.tau) == "s")
  local deep = back.opts.params.extra.deep
  assert(deep[1] == 1 and deep[2] == 2.5 and deep[3] == "x" and deep[4] == true)
  local w = back.opts.arrays.W
  assert(w.shape[1] == 7 and w.shape[2] == 1 and w.dim == cj.dimension(arr))
  T.same(T.values(w), T.values(arr), "array option")
  -- and a saved network continues exactly as the original
  local a, path = saved({ seed = 4, progress = false, params = { E = { tau = 12 * cj.ms } } })
  local b = cj.restore(path, { progress = false })
  a:run(0.05); b:run(0.05)
  assert(a.spikes.E:count() > 0, "no spikes: the test model is too quiet")
  T.same(T.values(b.spikes.E:times()), T.values(a.spikes.E:times()), "spike times after restore")
  T.same(T.values(b.E.v), T.values(a.E.v), "state after restore")
  os.remove(path)
end)

T.test("the header is never run as Lua", function()
  -- the format of cajal before: a Lua chunk as header; 'while true do end'
  -- made restore hang. It is now just not a save file.
  local path = tmpdir .. "/lua.net"
  writefile(path, "cajal network 1 17\nwhile true do end" .. string.rep("\0", 64))
  T.checkerror("is not a cajal network file", cj.restore, path)
  -- a save file whose meta block holds Lua code, sealed with a valid checksum
  local _, p2, bytes = saved()
  local metalen = string.unpack("<i8", bytes, 25)
  local code = "return os.exit(7)"
  local forged = bytes:sub(1, 24) .. string.pack("<i8", #code) .. code .. bytes:sub(33 + metalen)
  writefile(p2, reseal(forged))
  T.checkerror("corrupt header (not written by this version of cajal)", cj.restore, p2)
  os.remove(path); os.remove(p2)
end)

T.test("an edited model is caught by the checksum; a resealed one is the forger's model", function()
  local _, path, bytes = saved()
  local at = assert(bytes:find("rate = 20 Hz", 1, true))
  local edited = bytes:sub(1, at - 1) .. "rate = 90 Hz" .. bytes:sub(at + 12)
  writefile(path, edited)
  T.checkerror("corrupt or truncated (checksum mismatch)", cj.restore, path)
  -- the checksum is not a signature: recomputed, the edit restores
  writefile(path, reseal(edited))
  local net = cj.restore(path, { progress = false })
  assert(net.t.value > 0.049)
  os.remove(path)
end)

T.test("crafted meta blocks are refused with a message", function()
  local meta = network.packmeta({ source = MODEL, filename = "m.cajal",
                                  opts = { seed = 1, arrays = { W = cj.ones(3, 2) * cj.mV },
                                           dt = 1 * cj.ms, params = { NE = 5 } } })
  local refused, accepted = 0, 0
  local function try(m)
    local ok, v, why = pcall(network.unpackmeta, m)
    assert(ok, "unpackmeta raised: " .. tostring(v))
    if v then accepted = accepted + 1 else refused = refused + 1; assert(type(why) == "string") end
  end
  for k = 1, #meta do
    try(meta:sub(1, k - 1))                                        -- truncated
    for _, b in ipairs({ 0, 1, 0x7f, 0xff }) do                    -- a byte changed
      try(meta:sub(1, k - 1) .. string.char(b) .. meta:sub(k + 1))
    end
  end
  -- hostile sizes: a table of 2^32-1 entries, an array of 2^62 elements, deep nesting
  try("cajal-meta 1\nt\255\255\255\255")
  try("cajal-meta 1\na" .. string.pack("<s4s4B", "float64", "1", 2) .. string.pack("<i8i8", 2^31, 2^31))
  try("cajal-meta 1\n" .. string.rep("t\1\0\0\0s\1\0\0\0k", 100) .. "T")
  assert(refused > #meta, format("only %d of %d crafted blocks refused", refused, refused + accepted))
end)

T.test("a truncated save file is refused at every length", function()
  local _, path, bytes = saved()
  local step = math.max(1, #bytes // 300)
  for len = 0, #bytes - 1, step do
    writefile(path, bytes:sub(1, len))
    local ok, err = pcall(cj.restore, path)
    assert(not ok, "truncated to " .. len .. " bytes restored")
    assert(tostring(err):find("cj.restore:", 1, true), err)
    -- cut before the checksum (len = #bytes - 8) and resealed, the file is whole
    -- again: the original, which must restore; every other length must not
    local sealed = reseal(bytes:sub(1, len) .. string.rep("\0", 8))
    writefile(path, sealed)
    ok, err = pcall(cj.restore, path)
    if sealed == bytes then
      assert(ok, "the original file, resealed, must restore: " .. tostring(err))
    else
      assert(not ok, "truncated to " .. len .. " bytes and resealed restored")
      assert(tostring(err):find("cj.restore:", 1, true), err)
    end
  end
  -- that length is always tried, wherever the step falls
  writefile(path, reseal(bytes:sub(1, #bytes - 8) .. string.rep("\0", 8)))
  assert(pcall(cj.restore, path), "the resealed original restores")
  os.remove(path)
end)

T.test("net:save follows no link planted at a predictable temporary name", function()
  local net = cj.network(MODEL, { seed = 2, progress = false })
  net:run(0.01)
  local dir = tmpdir .. "/shared"
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local victim = tmpdir .. "/victim.txt"
  writefile(victim, "precious")
  local path = dir .. "/run.net"
  -- the names the Lua layer and the runtime used before
  local pid = io.open("/proc/self/stat") and readfile("/proc/self/stat"):match("^(%d+)")
  for _, name in ipairs({ path .. ".tmp", path .. ".tmp.tmp" .. tostring(pid), path .. ".tmp" .. tostring(pid) }) do
    assert(os.execute(format("ln -sf '%s' '%s'", victim, name)))
  end
  net:save(path)
  assert(readfile(victim) == "precious", "the save wrote through a planted link")
  assert(cj.restore(path, { progress = false }).t.value > 0.009)
  -- nothing left behind but the links planted and the file
  local p = assert(io.popen("ls -A '" .. dir .. "'"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  assert(#names == 4, "left in the folder: " .. table.concat(names, " "))
  -- the file has the mode the umask gives (not mkstemp's 0600)
  p = assert(io.popen(format("umask; stat -c %%a '%s'", path)))
  local mask, mode = tonumber(p:read("l"), 8), tonumber(p:read("l"), 8)
  p:close()
  assert(mode == (438 & ~mask), format("mode %o with umask %o", mode, mask))   -- 438 = 0666
  -- a save onto a link replaces the link, never its target
  os.remove(path)
  assert(os.execute(format("ln -s '%s' '%s'", victim, path)))
  net:save(path)
  assert(readfile(victim) == "precious", "the save wrote through the link at its own path")
  os.execute("rm -rf '" .. dir .. "'")
  os.remove(victim)
end)

-- Found by fuzz_save: a state monitor of every neuron or synapse has its
-- indices only once the network is built, and the shape compared before
-- that read them from NULL (a crash of every such restore).
T.test("a network recording every neuron and synapse restores", function()
  local src = MODEL:gsub("record spikes of E", "record spikes of E\nrecord v of E every 1 ms\n"
                         .. "connect E -> E { state { w = 1 mV }\n on_pre: v_post += w } with probability 0.3 as EE\n"
                         .. "record w of EE")
  local a = cj.network(src, { seed = 6, progress = false })
  a:run(0.02)
  local path = tmpdir .. "/all.net"
  a:save(path)
  local b = cj.restore(path, { progress = false })
  a:run(0.02); b:run(0.02)
  T.same(T.values(b.state.E.v:values()), T.values(a.state.E.v:values()), "monitor of every neuron")
  T.same(T.values(b.state.EE.w:values()), T.values(a.state.EE.w:values()), "monitor of every synapse")
  os.remove(path)
end)

-- record ... to (issue 13, item 8): a model writes only .npy files, and
-- replaces only recordings; a restored save is held to the same rule.
T.test("record ... to writes only .npy files and replaces only recordings", function()
  local function model(file)
    return (MODEL:gsub("record spikes of E", 'record spikes of E to "' .. file .. '"'))
  end
  local e = T.checkerror("the file name must end in '.npy'", cj.network, model(tmpdir .. "/x.txt"))
  assert(e:find("^<string>:11:20:"), e)
  T.checkerror("must end in '.npy'", cj.network, model(tmpdir .. "/.npy"))
  T.checkerror("control character in a string", cj.network, model(tmpdir .. "/x.npy\tz"))
  local notes = tmpdir .. "/notes.npy"
  writefile(notes, "precious notes\n")
  T.checkerror("refusing to overwrite", cj.network, model(notes), { progress = false })
  assert(readfile(notes) == "precious notes\n")
  -- a recording is replaced by the next run
  local rec = tmpdir .. "/rec.npy"
  for _ = 1, 2 do
    local net = cj.network(model(rec), { seed = 1, progress = false })
    net:run(0.05)
    assert(net.spikes.E:count() > 0)
  end
  -- a save file forged to record onto the notes: refused, the notes intact
  local net = cj.network(model(rec), { seed = 1, progress = false })
  net:run(0.02)
  local path = tmpdir .. "/r.net"
  net:save(path)
  local bytes = readfile(path)
  local metalen = string.unpack("<i8", bytes, 25)
  local meta = network.packmeta({ source = model(notes), filename = "m.cajal", opts = { seed = 1 } })
  writefile(path, reseal(bytes:sub(1, 24) .. string.pack("<i8", #meta) .. meta .. bytes:sub(33 + metalen)))
  -- (the record had rows: restore reads the file back first, and it is no recording)
  T.checkerror("monitor file '" .. notes .. "' cannot be read back: " .. notes .. ": not a .npy file",
               cj.restore, path, { progress = false })
  assert(readfile(notes) == "precious notes\n")
  -- and the runtime refuses a name the compiler would have refused
  meta = network.packmeta({ source = model(tmpdir .. "/x.txt"), filename = "m.cajal", opts = { seed = 1 } })
  writefile(path, reseal(bytes:sub(1, 24) .. string.pack("<i8", #meta) .. meta .. bytes:sub(33 + metalen)))
  T.checkerror("must end in '.npy'", cj.restore, path)
  local ir = require("cajal.compile").build(model(rec), "m.cajal", { jit = false })
  ir.monitors[1].file = notes:gsub("%.npy$", ".txt")
  T.checkerror("must end in .npy", core.net_new, ir)
  os.remove(path); os.remove(rec); os.remove(notes)
end)

os.execute("rm -rf '" .. tmpdir .. "'")
T.done()
