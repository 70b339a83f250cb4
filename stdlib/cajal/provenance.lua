-- cajal.provenance — what produced a file: the record cajal writes into
-- every file it saves for a user, and cj.provenance(path), which reads it
-- back. cj.load(record) (cajal.network) rebuilds the network from it.
--
-- A record is a JSON object (man cajal-api, PROVENANCE):
--   format = "cajal-provenance", version = 1, cajal = "0.1.0",
--   date = "2025-01-31T12:00:00Z" (UTC), kind = "npy" | "csv" | "png" | ...,
--   script = { path, abspath, sha256 }           the script cajal runs, if any
--   network = {                                  with opts.net / opts.provenance
--     model = { name, path, abspath, sha256, files = { {path, sha256}, ... },
--               text (a model given as text, cj.network) },
--     overrides (opts.params as given), parameters (all, after overrides),
--     seed, dt (s), backend, precision, method, arrays = { NAME = {sha256, n} },
--     t (s simulated when written), step }
--   file = { sha256 }                            .npy sidecars: the data file's hash
-- model.sha256 is the SHA-256 of the files' SHA-256 digests (hex, one per
-- line, main file first, then every imported file in import order).
--
-- Where a file is written without a network (cj.io.save_npy of a plain
-- array), the record has the cajal version, the date and the script; the
-- network part is there only when the caller passes opts.net = net (that
-- network as it is now) or opts.provenance = a record (its network part,
-- e.g. cj.provenance(net) taken earlier). cajal does not guess "the last
-- network": a result computed from two networks would be mislabelled.
local core = require "cajal.core"
local prov = require "cajal.prov"

local format, concat = string.format, table.concat
local mtype = math.type

local M = {}

local FORMAT, VERSION = "cajal-provenance", 1
local MAXSIDECAR = 16 << 20

local function isarray(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return mt and mt.__name == "cajal.array" or false
end

-- ---- values -------------------------------------------------------------------

-- x with quantities as {value = SI, unit = dimension} (JSON has no units).
function M.plain(x, depth)
  depth = depth or 0
  if depth > 32 then error("provenance: options nested too deeply", 0) end
  if core.isquantity(x) then return { value = x.value, unit = core.dimension(x) } end
  if type(x) ~= "table" then return x end
  local t = {}
  for k, v in pairs(x) do t[k] = M.plain(v, depth + 1) end
  return t
end

-- The inverse of plain: {value = x, unit = "s"} becomes x * cj.unit("s").
function M.unplain(x, depth)
  depth = depth or 0
  if type(x) ~= "table" or depth > 32 then return x end
  local n = 0
  for _ in pairs(x) do n = n + 1 end
  if n == 2 and type(x.value) == "number" and type(x.unit) == "string" then
    if x.unit == "1" then return x.value end
    local ok, u = pcall(core.unit, x.unit)
    if ok then return x.value * u end
  end
  local t = {}
  for k, v in pairs(x) do t[k] = M.unplain(v, depth + 1) end
  return t
end

-- SHA-256 of an array or table of numbers: its float64 values, little-endian.
function M.arrayhash(a)
  if not isarray(a) then a = core.array(a) end
  local flat = a:reshape(a:numel()):totable()
  local parts, pack = {}, string.pack
  for k = 1, #flat, 4096 do
    local chunk = {}
    for j = k, math.min(k + 4095, #flat) do chunk[#chunk + 1] = pack("<d", flat[j]) end
    parts[#parts + 1] = concat(chunk)
  end
  return prov.sha256(concat(parts)), #flat
end

-- The model hash of a list of file digests.
function M.modelhash(digests)
  return prov.sha256(concat(digests, "\n"))
end

-- ---- records --------------------------------------------------------------------

local function now() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

-- The script cajal runs (arg[0] when a script was given: arg[-1] is then
-- the interpreter), nil in the REPL, with -e or in a notebook.
local function script()
  local a = rawget(_G, "arg")
  if type(a) ~= "table" or a[-1] == nil then return nil end
  local s = a[0]
  if type(s) ~= "string" or s == "" or s == "-" then return nil end
  return { path = s, abspath = prov.realpath(s), sha256 = prov.sha256_file(s) }
end

local function copy(x)
  if type(x) ~= "table" then return x end
  local t = {}
  for k, v in pairs(x) do t[k] = copy(v) end
  return t
end

-- record(opts, kind) -> the record of a file of kind written now.
function M.record(opts, kind)
  local r = { format = FORMAT, version = VERSION, cajal = core.version, date = now(), kind = kind,
              script = script() }
  if opts == nil then return r end
  if opts.net ~= nil and opts.provenance ~= nil then
    error("bad option (give opts.net or opts.provenance, not both)", 0)
  end
  if opts.net ~= nil then
    local nw = require("cajal.network").provenance(opts.net)
    if not nw then error("bad option 'net' (a network expected, got " .. type(opts.net) .. ")", 0) end
    r.network = nw
  elseif opts.provenance ~= nil then
    local p = opts.provenance
    if type(p) ~= "table" or type(p.network) ~= "table" then
      error("bad option 'provenance' (a provenance record with a network expected: cj.provenance(net))", 0)
    end
    r.network = copy(p.network)
  end
  return r
end

-- forfile(opts, kind [, path]) -> text: the record for a file being written,
-- as the writers of vm/bind want it: "csv" the comment line, "npy" the
-- sidecar written next to path (its text returned), others the JSON text.
function M.forfile(opts, kind, path)
  local ok, r = pcall(M.record, opts, kind)
  if not ok then error(format("save_%s: %s", kind, tostring(r)), 0) end
  if kind == "csv" then return "# " .. FORMAT .. ": " .. prov.encode(r) end
  if kind ~= "npy" and kind ~= "pdf" then return prov.encode(r) end
  r.file = { sha256 = prov.sha256_file(path) }
  local text = prov.encode(r, true) .. "\n"
  local side = path .. ".prov.json"
  local f, err = io.open(side, "wb")
  if not f then error(format("save_%s: cannot write the provenance sidecar: %s", kind, err), 0) end
  local okw, werr = f:write(text)
  local okc = f:close()
  if not okw or not okc then error(format("save_%s: cannot write '%s': %s", kind, side, tostring(werr)), 0) end
  return text
end

-- Write the record into the PNG or SVG file at path (cj.plot); a PDF gets a
-- sidecar, as a .npy (a record inside would need an incremental update of the
-- PDF's object table).
function M.embed(path, opts, kind)
  if kind == "pdf" then M.forfile(opts, kind, path); return end
  prov.put(path, M.forfile(opts, kind))
end

-- ---- reading back -------------------------------------------------------------------

local function isint(x) return mtype(x) == "integer" end
local function ishex(x) return type(x) == "string" and #x == 64 and not x:find("[^0-9a-f]") end

-- Check the shape of a decoded record: nil, or the first thing wrong.
local function malformed(r)
  if r.format ~= FORMAT then return "not a cajal provenance record (no format = \"cajal-provenance\")" end
  if not isint(r.version) then return "'version' is not an integer" end
  if r.version > VERSION then
    return format("record version %d, written by a newer cajal (this one reads %d)", r.version, VERSION)
  end
  if type(r.cajal) ~= "string" then return "'cajal' (the version) is not a string" end
  if type(r.date) ~= "string" then return "'date' is not a string" end
  if r.script ~= nil and (type(r.script) ~= "table" or type(r.script.path) ~= "string") then
    return "'script' is not {path, sha256}"
  end
  local n = r.network
  if n == nil then return nil end
  if type(n) ~= "table" then return "'network' is not an object" end
  local m = n.model
  if type(m) ~= "table" or not ishex(m.sha256) or type(m.files) ~= "table" or #m.files < 1 then
    return "'network.model' is not {sha256, files}"
  end
  for k, f in ipairs(m.files) do
    if type(f) ~= "table" or type(f.path) ~= "string" or not ishex(f.sha256) then
      return format("'network.model.files[%d]' is not {path, sha256}", k)
    end
  end
  if m.path ~= nil and type(m.path) ~= "string" then return "'network.model.path' is not a string" end
  if m.abspath ~= nil and type(m.abspath) ~= "string" then return "'network.model.abspath' is not a string" end
  if m.text ~= nil and type(m.text) ~= "string" then return "'network.model.text' is not a string" end
  if m.path == nil and m.text == nil then return "'network.model' has neither path nor text" end
  if not isint(n.seed) or n.seed < 0 then return "'network.seed' is not a non-negative integer" end
  if type(n.dt) ~= "number" or not (n.dt > 0 and n.dt < math.huge) then return "'network.dt' is not a positive number" end
  if n.backend ~= "jit" and n.backend ~= "interp" then return "'network.backend' is not \"jit\" or \"interp\"" end
  if n.precision ~= "double" and n.precision ~= "single" then
    return "'network.precision' is not \"double\" or \"single\""
  end
  if n.method ~= nil and type(n.method) ~= "string" then return "'network.method' is not a string" end
  if n.overrides ~= nil and type(n.overrides) ~= "table" then return "'network.overrides' is not an object" end
  if n.arrays ~= nil and type(n.arrays) ~= "table" then return "'network.arrays' is not an object" end
  for k, a in pairs(n.arrays or {}) do
    if type(k) ~= "string" or type(a) ~= "table" or not ishex(a.sha256) then
      return format("'network.arrays.%s' is not {sha256, n}", tostring(k))
    end
  end
  if n.t ~= nil and type(n.t) ~= "number" then return "'network.t' is not a number" end
  if n.step ~= nil and (not isint(n.step) or n.step < 0) then return "'network.step' is not a step count" end
  return nil
end
M.malformed = malformed

local function readsidecar(path)
  local side = path .. ".prov.json"
  local f = io.open(side, "rb")
  if not f then
    error(format("cj.provenance: '%s' has no provenance (no sidecar '%s')", path, side), 3)
  end
  local size = f:seek("end")
  if not size or size > MAXSIDECAR then
    f:close()
    error(format("cj.provenance: '%s': larger than %d bytes", side, MAXSIDECAR), 3)
  end
  f:seek("set")
  local text = f:read("a")
  f:close()
  return text, side
end

local function fromsave(path)
  local sf, bytes = core.savefile_read(path)
  if not sf then error("cj.provenance: " .. tostring(bytes):gsub("^restore: ", ""), 3) end
  local meta, why = require("cajal.network").unpackmeta(bytes)
  if not meta then error(format("cj.provenance: '%s': corrupt header (%s)", path, why), 3) end
  if type(meta.provenance) ~= "string" then
    error(format("cj.provenance: '%s' has no provenance (saved by a cajal before provenance; " ..
      "cj.restore still reads it)", path), 3)
  end
  return meta.provenance
end

-- cj.provenance(path | net) -> record
function M.read(path)
  if type(path) ~= "string" then
    local nw = require("cajal.network").provenance(path)
    if nw then
      local r = M.record(nil, "network")
      r.network = nw
      return r
    end
    error("bad argument #1 to 'provenance' (file name or network expected, got " .. type(path) .. ")", 2)
  end
  local kind, why = prov.kind(path)
  if not kind then error("cj.provenance: " .. why, 2) end
  local text, where = nil, path
  if kind == "npy" or kind == "pdf" then text, where = readsidecar(path)
  elseif kind == "save" then text = fromsave(path)
  elseif kind == "unknown" then error(format("cj.provenance: '%s' is empty", path), 2)
  else
    text, why = prov.get(path)
    if not text then error("cj.provenance: " .. why, 2) end
  end
  local r
  r, why = prov.decode(text)
  if not r then error(format("cj.provenance: '%s': malformed provenance (%s)", where, why), 2) end
  why = malformed(r)
  if why then error(format("cj.provenance: '%s': malformed provenance (%s)", where, why), 2) end
  if (kind == "npy" or kind == "pdf") and type(r.file) == "table" and r.file.sha256 ~= nil then
    local h = prov.sha256_file(path)
    if h ~= r.file.sha256 then
      error(format("cj.provenance: '%s' does not match its sidecar '%s' (the data were changed after " ..
        "they were written, or the sidecar belongs to another file)", path, where), 2)
    end
  end
  return r
end

core.doc(M.read, [[
cj.provenance(path | net) -> table
The provenance record of a file cajal wrote: .npy (sidecar path.prov.json),
.pdf (sidecar), CSV (first line '# cajal-provenance: JSON'), PNG (iTXt chunk), SVG
(<metadata>), NWB (root attribute cajal_provenance), or a save file of
net:save. Fields: format, version, cajal, date (UTC ISO 8601), kind,
script {path, abspath, sha256}, network {model {name, path, sha256, files},
overrides, parameters, seed, dt, backend, precision, method, t, step}.
Given a network, its record now. cj.load(record) rebuilds the network.
A file without a record, or with a malformed one, is an error naming it.]])

return M
