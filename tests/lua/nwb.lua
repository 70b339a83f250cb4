-- nwb.lua — cj.io.save_nwb: a network's monitors to an NWB 2 file, read back
-- with h5py (Debian python3-h5py, the independent reader): the file-level
-- layout an NWB 2 reader requires, the units table (one unit per monitored
-- neuron, spike trains equal bit for bit to the monitors'), the TimeSeries
-- of state and rate monitors (values and timestamps equal to the monitors'),
-- typed objects with UUID object_ids and object references that resolve;
-- then the errors. Tests needing h5py are skipped, with the reason, where
-- /usr/bin/python3 or h5py is missing. (Debian 12 has no pynwb to validate
-- with.)
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"

local dir = T.tmpdir()
local function tmp(name) return dir .. "/" .. name end

local PY, shq, python = T.PY, T.shq, T.python
local have_h5py = io.open(PY) ~= nil and (python("import h5py"))
local function needh5py()
  if not have_h5py then T.skip(PY .. " with h5py not found (Debian python3-h5py)") end
end

-- Two populations, spikes of E[2..9] and of all of I, v of three neurons of
-- E every 0.3 ms, the rate of I; 200 ms.
local model = [[
neuron lif {
  parameters { tau = 10 ms; vdrive = 15 mV }
  state { v = rand() * 10 mV }
  equations { dv/dt = (vdrive - v) / tau }
  spike when v > 10 mV
  reset { v = 0 mV }
}
population E = lif(12)
population I = lif(4)
connect E -> I { on_spike: v += 0.5 mV } with probability 0.5
record spikes of E[2..9]
record spikes of I
record v of E[0..2] every 0.3 ms
record rate of I every 1 ms
]]

local net = cj.network(model, { seed = 5 })
net:run(0.2 * cj.second)
local path = tmp("run.nwb")
cj.io.save_nwb(path, net, { experimenter = "Ada Lovelace", lab = "test lab" })

-- h5py's view of the file as Lua source: every value printed with %.17g.
local function readback(file)
  local ok, out = python(([==[
import h5py, re
f = h5py.File(%q, "r")
def s(x): return x.decode() if isinstance(x, bytes) else str(x)
def q(x): return '"' + s(x).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
def nums(a): return "{" + ", ".join("%%.17g" %% v for v in a) + "}"
out = ["return {"]
out.append("root = {%%s}," %% ", ".join("%%s = %%s" %% (k, q(v)) for k, v in f.attrs.items()))
names = []
f.visit(names.append)
out.append("names = {%%s}," %% ", ".join(q(n) for n in names))
ids = []
f.visititems(lambda n, o: ids.append(s(o.attrs["object_id"])) if "object_id" in o.attrs else None)
ids.append(s(f.attrs["object_id"]))
out.append("ids = {%%s}," %% ", ".join(q(i) for i in ids))
for k in ["identifier", "session_description", "session_start_time", "timestamps_reference_time"]:
    out.append("%%s = %%s," %% (k, q(f[k][()])))
out.append("file_create_date = {%%s}," %% ", ".join(q(v) for v in f["file_create_date"][()]))
out.append("experimenter = %%s, lab = %%s," %% (q(f["general/experimenter"][0]), q(f["general/lab"][()])))
u = f["units"]
out.append("colnames = {%%s}," %% ", ".join(q(c) for c in u.attrs["colnames"]))
out.append("unit_type = %%s, unit_ns = %%s," %% (q(u.attrs["neurodata_type"]), q(u.attrs["namespace"])))
out.append("ids_col = %%s, neuron = %%s," %% (nums(u["id"][:]), nums(u["neuron"][:])))
out.append("population = {%%s}," %% ", ".join(q(p) for p in u["population"][:]))
out.append("times = %%s, ends = %%s," %% (nums(u["spike_times"][:]), nums(u["spike_times_index"][:])))
out.append("resolution = %%.17g," %% u["spike_times"].attrs["resolution"])
out.append("obs = %%s, obs_ends = %%s," %% (nums(u["obs_intervals"][:].ravel()), nums(u["obs_intervals_index"][:])))
out.append("targets = {%%s, %%s}," %% (q(f[u["spike_times_index"].attrs["target"]].name), q(f[u["obs_intervals_index"].attrs["target"]].name)))
out.append("types = {")
for n in ["units/id", "units/spike_times", "units/spike_times_index", "units/neuron", "acquisition/E_v", "acquisition/I_rate"]:
    out.append("[%%s] = %%s," %% (q(n), q(f[n].attrs["neurodata_type"])))
out.append("},")
out.append("series = {")
for n, g in f["acquisition"].items():
    d = g["data"]
    out.append("%%s = { shape = {%%s}, data = %%s, t = %%s, unit = %%s, conversion = %%.17g, resolution = %%.17g, tunit = %%s, description = %%s }," %% (
        n, ", ".join(str(x) for x in d.shape), nums(d[()].ravel()), nums(g["timestamps"][:]), q(d.attrs["unit"]),
        d.attrs["conversion"], d.attrs["resolution"], q(g["timestamps"].attrs["unit"]), q(g.attrs["description"])))
out.append("},")
out.append("}")
print("\n".join(out))
]==]):format(file))
  assert(ok, out)
  return assert(load(out))()
end

local R
local function back()
  R = R or readback(path)
  return R
end

T.test("the file has the NWB 2 file-level layout", function()
  needh5py()
  local r = back()
  assert(r.root.neurodata_type == "NWBFile" and r.root.namespace == "core", r.root.neurodata_type)
  assert(r.root.nwb_version:match("^2%.%d+%.%d+$"), r.root.nwb_version)
  local have = {}
  for _, n in ipairs(r.names) do have[n] = true end
  for _, n in ipairs({ "acquisition", "analysis", "processing", "stimulus", "stimulus/presentation",
                       "stimulus/templates", "general", "identifier", "session_description",
                       "session_start_time", "timestamps_reference_time", "file_create_date", "units" }) do
    assert(have[n], "missing /" .. n)
  end
  local iso = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d+[+-]%d%d:%d%d$"
  assert(r.session_start_time:match(iso), r.session_start_time)
  assert(r.timestamps_reference_time == r.session_start_time)
  assert(#r.file_create_date == 1 and r.file_create_date[1]:match(iso))
  assert(r.identifier:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"), r.identifier)
  assert(r.session_description:find("seed 5", 1, true), r.session_description)
  assert(r.experimenter == "Ada Lovelace" and r.lab == "test lab")
end)

T.test("typed objects carry unique UUID object_ids", function()
  needh5py()
  local r, seen = back(), {}
  assert(#r.ids >= 10, #r.ids)
  for _, id in ipairs(r.ids) do
    assert(id:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x+$") and #id == 36, id)
    assert(not seen[id], "repeated object_id " .. id)
    seen[id] = true
  end
  assert(r.types["units/id"] == "ElementIdentifiers" and r.types["units/spike_times"] == "VectorData")
  assert(r.types["units/spike_times_index"] == "VectorIndex" and r.types["acquisition/E_v"] == "TimeSeries")
  assert(r.unit_type == "Units" and r.unit_ns == "core")
  assert(r.targets[1] == "/units/spike_times" and r.targets[2] == "/units/obs_intervals", r.targets[1])
end)

T.test("units: one per monitored neuron, spike trains equal to the monitors'", function()
  needh5py()
  local r = back()
  assert(table.concat(r.colnames, ",") == "spike_times,obs_intervals,population,neuron")
  -- E[2..9] (8 units) then I (4 units), neurons counted from 0
  assert(#r.ids_col == 12 and #r.neuron == 12 and #r.population == 12, #r.ids_col)
  for k = 1, 12 do
    assert(r.ids_col[k] == k - 1)
    local pop, n = k <= 8 and "E" or "I", k <= 8 and k + 1 or k - 9
    assert(r.population[k] == pop and r.neuron[k] == n, r.population[k] .. r.neuron[k])
  end
  -- independent: group each monitor's (time, index) pairs by neuron here
  local expect = {}
  for _, pop in ipairs({ "E", "I" }) do
    local ts, is = T.values(net.spikes[pop]:times()), T.values(net.spikes[pop]:indices())
    for k = 1, #ts do
      local key = pop .. (is[k] - 1)
      expect[key] = expect[key] or {}
      table.insert(expect[key], ts[k])
    end
  end
  local total, start = 0, 0
  for k = 1, 12 do
    local want = expect[r.population[k] .. r.neuron[k]] or {}
    local got = {}
    for j = start + 1, r.ends[k] do got[#got + 1] = r.times[j] end
    T.same(got, want, "spike train of unit " .. (k - 1))
    for j = 2, #got do assert(got[j] >= got[j - 1], "time order within a unit") end
    total, start = total + #got, r.ends[k]
  end
  assert(total == #r.times and total == net.spikes.E:count() + net.spikes.I:count(), total)
  assert(total > 20, "the test network spikes: " .. total)
  T.near(r.resolution, 1e-4, 1e-18, "resolution is dt")
  for k = 1, 12 do
    assert(r.obs[2 * k - 1] == 0 and r.obs_ends[k] == k)
    T.near(r.obs[2 * k], 0.2, 1e-12, "observed until net.t")
  end
end)

T.test("state and rate monitors are TimeSeries with the monitors' values", function()
  needh5py()
  local r = back()
  local v = r.series.E_v
  local mon = net.state.E.v
  local values, times = T.values(mon:values()), T.values(mon:times())
  assert(v.shape[1] == #times and v.shape[2] == 3, v.shape[1] .. "x" .. v.shape[2])
  T.same(v.data, values, "E.v data (volts)")
  T.same(v.t, times, "E.v timestamps")
  T.near(v.t[2] - v.t[1], 3e-4, 1e-15, "recorded every 0.3 ms")
  assert(v.unit == "V" and v.conversion == 1 and v.resolution == -1 and v.tunit == "seconds")
  assert(v.description:find("neurons 0..2", 1, true), v.description)
  local rate = r.series.I_rate
  assert(#rate.shape == 1 and rate.unit == "Hz", rate.unit)
  T.same(rate.data, T.values(net.rate.I:values()), "I rate")
  T.same(rate.t, T.values(net.rate.I:times()), "I rate windows")
end)

T.test("a network without monitors gives a file without units", function()
  needh5py()
  local n2 = cj.network([[
neuron r { state { x = 0 } equations { dx/dt = (1 - x) / 10 ms } }
population P = r(3)
]], { seed = 1 })
  n2:run(0.01 * cj.second)
  local p2 = tmp("empty.nwb")
  cj.io.save_nwb(p2, n2, { description = "nothing recorded", identifier = "fixed-id",
                           session_start_time = "2020-01-02T03:04:05+00:00" })
  local ok, out = python(([[
import h5py
f = h5py.File(%q, "r")
print(sorted(f.keys()), f["identifier"][()].decode(), f["session_description"][()].decode(),
      f["session_start_time"][()].decode(), len(f["acquisition"]))
]]):format(p2))
  assert(ok, out)
  assert(out:find("['acquisition', 'analysis', 'file_create_date', 'general', 'identifier', 'processing', " ..
    "'session_description', 'session_start_time', 'stimulus', 'timestamps_reference_time'] fixed-id " ..
    "nothing recorded 2020-01-02T03:04:05+00:00 0", 1, true), out)
end)

T.test("bad arguments are errors naming what was expected", function()
  T.checkerror("network expected", cj.io.save_nwb, tmp("x.nwb"), {})
  T.checkerror("network expected", cj.io.save_nwb, tmp("x.nwb"), 42)
  T.checkerror("unknown option 'experimentr'", cj.io.save_nwb, tmp("x.nwb"), net, { experimentr = "x" })
  T.checkerror("option 'lab' must be a string", cj.io.save_nwb, tmp("x.nwb"), net, { lab = 3 })
  T.checkerror("bad argument #1", cj.io.save_nwb, nil, net)
  local err = T.checkerror("cannot write", cj.io.save_nwb, tmp("no/such/dir/x.nwb"), net)
  assert(err:find("no/such/dir", 1, true), err)
  -- nothing is left behind: neither the file nor its temporary
  local p = io.popen("ls " .. shq(dir))
  local listing = p:read("a")
  p:close()
  assert(not listing:find("tmp"), listing)
end)

T.test("a second export of the same run overwrites the file and differs only in ids and dates", function()
  needh5py()
  cj.io.save_nwb(tmp("again.nwb"), net, { experimenter = "Ada Lovelace", lab = "test lab" })
  local r2 = readback(tmp("again.nwb"))
  local r = back()
  assert(r2.identifier ~= r.identifier)
  T.same(r2.times, r.times, "spike times")
  T.same(r2.series.E_v.data, r.series.E_v.data, "E.v")
end)

os.execute("rm -rf " .. shq(dir))
T.done()
