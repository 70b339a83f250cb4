-- provenance.lua — every file cajal writes for a user carries a provenance
-- record (stdlib/cajal/provenance.lua, vm/core/prov.c): .npy (sidecar), CSV
-- (first comment line), PNG (iTXt), SVG (<metadata>), NWB (root attribute),
-- net:save files. cj.provenance reads each back; cj.load(record) rebuilds
-- the network, which reproduces the run bit for bit. The containers are
-- checked with independent readers where Debian's python3 is present (zlib
-- CRCs of the PNG chunks, numpy for the .npy, h5py for the NWB attribute);
-- hashes against sha256sum(1). Damaged and foreign files are errors, never
-- crashes.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local dir = T.tmpdir()
local function tmp(name) return dir .. "/" .. name end
local shq, PY, python = T.shq, T.PY, T.python
local havepy = io.open(PY) ~= nil and (python("import numpy, h5py, zlib"))

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- A model in two files: the network imports its neuron from a file next to it.
writefile(tmp("cell.cajal"), [[
neuron cell {
  parameters { tau = 10 ms; vdrive = 15 mV }
  state { v = rand() * 10 mV }
  equations { dv/dt = (vdrive - v) / tau + 2 mV * xi / sqrt(tau) }
  spike when v > 10 mV
  reset { v = 0 mV }
}
]])
local NETTEXT = [[
import "cell"
parameters { n = 20 }
population E = cell(n)
connect E -> E { on_spike: v += 0.5 mV } with probability 0.2
record spikes of E
]]
writefile(tmp("net.cajal"), NETTEXT)

local OPTS = { seed = 17, dt = 0.05 * cj.ms, params = { n = 30, E = { tau = 12 * cj.ms } }, progress = false }

local function sha256sum(path)
  local p = io.popen("sha256sum " .. shq(path) .. " 2>/dev/null")
  local out = p and p:read("a") or ""
  if p then p:close() end
  return out:match("^(%x+)")
end

local function run()
  local net = cj.load(tmp("net.cajal"), OPTS)
  net:run(40 * cj.ms)
  return net
end

T.test("a .npy written with opts.net has a sidecar naming model, parameters, seed, dt, backend", function()
  local net = run()
  local t = net.spikes.E:times()
  cj.io.save_npy(tmp("t.npy"), t, { net = net })
  local p = cj.provenance(tmp("t.npy"))
  assert(p.format == "cajal-provenance" and p.version == 1 and p.kind == "npy")
  assert(p.cajal == cj.version, p.cajal)
  assert(p.date:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), p.date)
  local n = p.network
  assert(n.seed == 17 and n.dt == 0.05e-3 and n.precision == "double", tostring(n.dt))
  assert(n.backend == net.backend)
  assert(n.step == net.step and n.t == net.step * 0.05e-3)
  -- the overrides as given, and the full parameter set after them
  assert(n.overrides.n == 30 and n.overrides.E.tau.value == 0.012 and n.overrides.E.tau.unit == "s")
  assert(n.parameters.network.n.value == 30)
  assert(n.parameters.populations.E.tau.value == 0.012)
  assert(n.parameters.populations.E.vdrive.value == 0.015 and n.parameters.populations.E.vdrive.unit == "V")
  -- the model: both files in import order, hashes as sha256sum computes them
  local m = n.model
  assert(#m.files == 2 and m.files[1].path == tmp("net.cajal") and m.files[2].path:match("cell%.cajal$"))
  local h1, h2 = sha256sum(tmp("net.cajal")), sha256sum(tmp("cell.cajal"))
  if not h1 then T.skippart("sha256sum", "sha256sum(1) not found") else
    assert(m.files[1].sha256 == h1 and m.files[2].sha256 == h2)
    writefile(tmp("digests"), h1 .. "\n" .. h2)
    assert(m.sha256 == sha256sum(tmp("digests")), "model hash: SHA-256 of the digests, one per line")
    assert(p.file.sha256 == sha256sum(tmp("t.npy")))
  end
  -- the script is this test file
  assert(p.script and p.script.path == arg[0] and #p.script.sha256 == 64)
end)

T.test("cj.load(provenance) rebuilds the network and reproduces the run bit for bit", function()
  local net = run()
  local t0, i0 = T.values(net.spikes.E:times()), T.values(net.spikes.E:indices())
  assert(#t0 > 20, "the run must spike: " .. #t0)
  cj.io.save_npy(tmp("times.npy"), net.spikes.E:times(), { net = net })
  cj.io.save_npy(tmp("index.npy"), net.spikes.E:indices(), { net = net })
  net = nil
  collectgarbage()
  -- from the files and their records alone
  local p = cj.provenance(tmp("times.npy"))
  local again = cj.load(p, { progress = false })
  again:run(p.network.t)
  assert(again.step == p.network.step)
  T.same(T.values(cj.io.load_npy(tmp("times.npy"))), T.values(again.spikes.E:times()), "spike times")
  T.same(T.values(cj.io.load_npy(tmp("index.npy"))), T.values(again.spikes.E:indices()), "spike indices")
  T.same(t0, T.values(again.spikes.E:times()), "spike times against the original")
  T.same(i0, T.values(again.spikes.E:indices()), "indices against the original")
  -- the other backend gives the same network too (the design's promise)
  local interp = cj.load(p, { progress = false, backend = "interp" })
  interp:run(p.network.t)
  T.same(t0, T.values(interp.spikes.E:times()), "spike times on the interpreter")
end)

T.test("a monitor streamed to a file gets its sidecar at the end of every run", function()
  local file = tmp("stream.npy")
  writefile(tmp("streamnet.cajal"), NETTEXT:gsub("record spikes of E", "record spikes of E to \"" .. file .. "\""))
  local net = cj.load(tmp("streamnet.cajal"), OPTS)
  net:run(20 * cj.ms)
  local p1 = cj.provenance(file)
  assert(p1.network.step == net.step, "the record describes the file after the first run")
  assert(p1.file.sha256 == sha256sum(file), "the data file's hash (sha256sum)")
  net:run(20 * cj.ms)
  local p2 = cj.provenance(file)     -- refused if the sidecar still held the first hash
  assert(p2.network.step == net.step, "the record follows the second run")
  assert(p2.file.sha256 ~= p1.file.sha256, "the file grew, its hash changed")
  local f = assert(io.open(file, "rb"))
  local bytes = f:read("a")
  f:close()
  net = nil
  collectgarbage()
  -- the record rebuilds the run: streaming again writes the same bytes
  local again = cj.load(p2, { progress = false })
  again:run(p2.network.t)
  f = assert(io.open(file, "rb"))
  assert(f:read("a") == bytes, "the rebuilt run streams the same file, byte for byte")
  f:close()
end)

T.test("cj.io.npy_writer: close writes the sidecar, with the network as it is then", function()
  local net = run()
  local w = cj.io.npy_writer(tmp("w.npy"), "float64", 2, { net = net })
  w:append(cj.ones(3, 2))
  net:run(10 * cj.ms)
  w:append(cj.zeros(1, 2))
  assert(w:close() == 4)
  local p = cj.provenance(tmp("w.npy"))
  assert(p.network.step == net.step, "the record is taken at close")
  assert(p.file.sha256 == sha256sum(tmp("w.npy")), "the hash of the finished file")
  -- without options: version, date and script
  local w2 = cj.io.npy_writer(tmp("w2.npy"))
  w2:append(cj.ones(2))
  w2:close()
  local p2 = cj.provenance(tmp("w2.npy"))
  assert(p2.network == nil and p2.cajal == cj.version, "no network part without opts.net")
  T.checkerror("unknown option 'nett'", cj.io.npy_writer, tmp("w3.npy"), "float64", nil, { nett = net })
end)

T.test("a network given as text (cj.network) is rebuilt from the text in its record", function()
  local text = NETTEXT:gsub('import "cell"\n', "") .. "\n" .. T.readfile(tmp("cell.cajal"))
  local net = cj.network(text, { seed = 5, progress = false })
  net:run(10 * cj.ms)
  local p = cj.provenance(net)
  assert(p.network.model.text == text and p.network.model.path == nil)
  local again = cj.load(p, { progress = false })
  again:run(p.network.t)
  T.same(T.values(net.spikes.E:times()), T.values(again.spikes.E:times()), "spike times")
end)

T.test("CSV, PNG, SVG, PDF, NWB and save files carry the same network record", function()
  local net = run()
  local mon = net.spikes.E
  local want = cj.provenance(net).network.model.sha256
  cj.io.save_csv(tmp("s.csv"), { t = mon:times(), i = mon:indices() }, { "t", "i" }, { net = net })
  net:save(tmp("s.save"))
  cj.io.save_nwb(tmp("s.nwb"), net)
  local okplot, err = pcall(cj.plot.raster, net.spikes, { out = tmp("s.png"), net = net })
  local plots = okplot and { "s.png" } or {}
  if not okplot then T.skippart("plots", "gnuplot: " .. tostring(err)) else
    cj.plot.raster(net.spikes, { out = tmp("s.svg"), net = net })
    plots[2] = "s.svg"
    if pcall(cj.plot.raster, net.spikes, { out = tmp("s.pdf"), net = net }) then
      plots[3] = "s.pdf"      -- a sidecar s.pdf.prov.json
      assert(cj.provenance(tmp("s.pdf")).file.sha256 == sha256sum(tmp("s.pdf")))
    else
      T.skippart("PDF plots", "gnuplot has no pdfcairo terminal")
    end
  end
  for _, f in ipairs({ "s.csv", "s.save", "s.nwb", table.unpack(plots) }) do
    local p = cj.provenance(tmp(f))
    assert(p.network.model.sha256 == want, f)
    assert(p.network.seed == 17 and p.network.step == net.step, f)
    assert(p.kind == (f:match("%.(%a+)$")), f .. ": kind " .. tostring(p.kind))
  end
  -- the CSV reads back as before: the comment line is skipped
  local cols, header = cj.io.load_csv(tmp("s.csv"))
  assert(#header == 2 and header[1] == "t")
  T.same(T.values(cols.t), T.values(mon:times()), "CSV times")
  assert(T.readfile(tmp("s.csv")):match("^# cajal%-provenance: {"))
  -- a restored save file rebuilds from its record too
  local p = cj.provenance(tmp("s.save"))
  local again = cj.load(p, { progress = false })
  again:run(p.network.t)
  T.same(T.values(mon:times()), T.values(again.spikes.E:times()), "from the save file's record")
  assert(cj.restore(tmp("s.save"), { progress = false }).step == net.step)
end)

T.test("independent readers: PNG chunk CRCs (zlib), numpy, h5py", function()
  if not havepy then T.skip(PY .. " with numpy and h5py not found") end
  local net = run()
  cj.io.save_npy(tmp("r.npy"), net.spikes.E:times(), { net = net })
  cj.io.save_nwb(tmp("r.nwb"), net)
  local okplot = pcall(cj.plot.raster, net.spikes, { out = tmp("r.png"), net = net })
  local ok, out = python(([[
import json, struct, zlib, numpy, h5py
a = numpy.load(%q)
side = json.load(open(%q + '.prov.json'))
assert side['format'] == 'cajal-provenance' and side['network']['seed'] == 17
with h5py.File(%q, 'r') as f:
    rec = json.loads(f.attrs['cajal_provenance'])
assert rec['network']['model']['sha256'] == side['network']['model']['sha256']
if %s:
    b = open(%q, 'rb').read()
    i, found = 8, 0
    while i < len(b):
        n, = struct.unpack('>I', b[i:i+4]); t = b[i+4:i+8]; d = b[i+8:i+8+n]
        assert zlib.crc32(t + d) == struct.unpack('>I', b[i+8+n:i+12+n])[0], t
        if t == b'iTXt' and d.startswith(b'cajal-provenance\0'):
            found = json.loads(d[len('cajal-provenance') + 5:])['network']['seed']
        i += 12 + n
    assert t == b'IEND' and found == 17
print(len(a))
]]):format(tmp("r.npy"), tmp("r.npy"), tmp("r.nwb"), okplot and "True" or "False", tmp("r.png")))
  assert(ok, out)
  assert(tonumber(out) == net.spikes.E:count())
end)

T.test("without a network: version, date and script only; opts.provenance carries a record", function()
  cj.io.save_npy(tmp("plain.npy"), cj.zeros(3))
  local p = cj.provenance(tmp("plain.npy"))
  assert(p.network == nil and p.cajal == cj.version and p.script.path == arg[0])
  T.checkerror("the record has no network", cj.load, p)
  local net = run()
  local rec = cj.provenance(net)
  cj.io.save_npy(tmp("later.npy"), cj.ones(2), { provenance = rec })
  assert(cj.provenance(tmp("later.npy")).network.model.sha256 == rec.network.model.sha256)
  T.checkerror("not both", cj.io.save_npy, tmp("x.npy"), cj.ones(2), { net = net, provenance = rec })
  T.checkerror("bad option 'net'", cj.io.save_npy, tmp("x.npy"), cj.ones(2), { net = {} })
  T.checkerror("unknown option 'nett'", cj.io.save_npy, tmp("x.npy"), cj.ones(2), { nett = net })
end)

T.test("a changed model, a changed import, a changed .npy are refused clearly", function()
  local net = run()
  cj.io.save_npy(tmp("c.npy"), net.spikes.E:times(), { net = net })
  local p = cj.provenance(tmp("c.npy"))
  local cell = T.readfile(tmp("cell.cajal"))
  writefile(tmp("cell.cajal"), cell:gsub("vdrive = 15 mV", "vdrive = 16 mV"))
  T.checkerror("the imported file", cj.load, p)
  writefile(tmp("cell.cajal"), cell)
  writefile(tmp("net.cajal"), NETTEXT .. "\n# edited\n")
  T.checkerror("changed since the record was written", cj.load, p)
  writefile(tmp("net.cajal"), NETTEXT)
  assert(cj.load(p, { progress = false }))
  T.checkerror("comes from the record", cj.load, p, { seed = 3 })
  -- the data file changed after the sidecar was written
  cj.io.save_npy(tmp("other.npy"), cj.ones(4))
  os.rename(tmp("other.npy"), tmp("c.npy"))
  T.checkerror("does not match its sidecar", cj.provenance, tmp("c.npy"))
end)

T.test("files without provenance or with a damaged one: errors naming the file", function()
  writefile(tmp("plain.csv"), "a,b\n1,2\n")
  T.checkerror("has no cajal provenance", cj.provenance, tmp("plain.csv"))
  writefile(tmp("empty.csv"), "")
  T.checkerror("is empty", cj.provenance, tmp("empty.csv"))
  T.checkerror("No such file", cj.provenance, tmp("missing.npy"))
  T.checkerror("bad argument #1 to 'provenance'", cj.provenance, 42)
  -- .npy without sidecar
  cj.io.save_npy(tmp("n.npy"), cj.zeros(2))
  os.remove(tmp("n.npy.prov.json"))
  T.checkerror("no sidecar", cj.provenance, tmp("n.npy"))
  -- malformed JSON, wrong shapes, a newer version, null, deep nesting
  local bad = {
    { "# cajal-provenance: {\"format\":", "malformed JSON" },
    { "# cajal-provenance: [1]", "a JSON object expected" },
    { "# cajal-provenance: {\"format\":\"other\"}", "not a cajal provenance record" },
    { '# cajal-provenance: {"format":"cajal-provenance","version":9,"cajal":"9","date":"x"}', "newer cajal" },
    { '# cajal-provenance: {"format":"cajal-provenance","version":1,"cajal":null,"date":"x"}', "null" },
    { "# cajal-provenance: " .. ("[") :rep(100) .. ("]"):rep(100), "malformed" },
    { '# cajal-provenance: {"format":"cajal-provenance","version":1,"cajal":"0","date":"x",' ..
      '"network":{"model":{"sha256":"00","files":[]}}}', "'network.model'" },
    { "# cajal-provenance: \n1,2\n", "malformed provenance line" },
  }
  for k, case in ipairs(bad) do
    writefile(tmp("bad.csv"), case[1] .. "\na\n1\n")
    local err = T.checkerror(case[2], cj.provenance, tmp("bad.csv"))
    assert(err:find(tmp("bad.csv"), 1, true), "case " .. k .. " names the file: " .. err)
  end
  -- a plot without opts.net: the script's record, no network
  if not pcall(cj.plot.raster, run().spikes, { out = tmp("d.png") }) then T.skip("gnuplot cannot draw here") end
  local p = cj.provenance(tmp("d.png"))
  assert(p.kind == "png" and p.network == nil and p.script.path == arg[0])
end)

T.test("PNG and SVG records: replaced, not added twice; damaged containers refused", function()
  local net = run()
  if not pcall(cj.plot.raster, net.spikes, { out = tmp("x.png"), net = net }) then
    T.skip("gnuplot cannot draw here")
  end
  local png = T.readfile(tmp("x.png"))
  local _, count = png:gsub("cajal%-provenance\0", "")
  assert(count == 1, count)
  require("cajal.provenance").embed(tmp("x.png"), { net = net }, "png")
  _, count = T.readfile(tmp("x.png")):gsub("cajal%-provenance\0", "")
  assert(count == 1, "a second record replaces the first: " .. count)
  png = T.readfile(tmp("x.png"))
  -- flip one byte inside the record: its CRC no longer matches
  local at = png:find('"seed":17', 1, true)
  writefile(tmp("y.png"), png:sub(1, at - 1) .. '"seed":18' .. png:sub(at + 9))
  T.checkerror("bad CRC", cj.provenance, tmp("y.png"))
  -- cut the file in the middle of the record's chunk
  writefile(tmp("z.png"), png:sub(1, at))
  T.checkerror("runs past the end of the file", cj.provenance, tmp("z.png"))
  -- an SVG record with a '<' in a string survives escaping; a second plot replaces it
  cj.plot.raster(net.spikes, { out = tmp("x.svg"), net = net, title = "a < b & c" })
  local svg = T.readfile(tmp("x.svg"))
  local _, n = svg:gsub('<metadata id="cajal%-provenance">', "")
  assert(n == 1)
  writefile(tmp("u.svg"), (svg:gsub('<metadata id="cajal%-provenance">', '<metadata id="cajal-provenance">&bogus;')))
  T.checkerror("unknown entity", cj.provenance, tmp("u.svg"))
  writefile(tmp("v.svg"), (svg:gsub("</metadata>", "")))
  T.checkerror("unclosed", cj.provenance, tmp("v.svg"))
end)

T.done()
