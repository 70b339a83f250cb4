-- cortical — a model package for cajal: a cortical-column microcircuit
-- (layers 2/3, 4 and 5, excitatory and inhibitory populations, Potjans &
-- Diesmann 2014 connectivity). Installed with `luarocks make`, it is found
-- by `require "cortical"` and by `import "cortical/cells"` without
-- CAJAL_PATH (cajal searches the LuaRocks trees: man cajal-lang, IMPORT).
--
--   local cortical = require "cortical"
--   local net = cortical.column{ seed = 1, params = { frac = 0.05 } }
--   net:run(1 * cj.second)
--   print(net.spikes.L4e:rate())
local cj = require "cajal"

local M = {}

-- the folder this module was installed in: the model and data files are there
M.dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
M.file = M.dir .. "/column.cajal"

-- the populations, in layer order
M.populations = { "L23e", "L23i", "L4e", "L4i", "L5e", "L5i" }

-- cortical.column([opts]) -> network: the microcircuit, opts as cj.load's
function M.column(opts)
  return cj.load(M.file, opts)
end

-- cortical.connectivity() -> { [target] = { [source] = p } }: the reference
-- probabilities of data/connectivity.csv (Potjans & Diesmann 2014, Table 5)
function M.connectivity()
  local cols, header = cj.io.load_csv(M.dir .. "/data/connectivity.csv")
  local t = {}
  for r, target in ipairs(cols.target) do
    t[target] = {}
    for k = 2, #header do t[target][header[k]] = cols[header[k]][r] end
  end
  return t
end

return M
