-- cajal — the module returned by `require "cajal"`.
--
-- It is the native module "cajal.core" (arrays, units, rng, regex, io, the
-- network runtime) plus the Lua parts of stdlib/cajal, loaded on first use:
-- cj.plot, cj.help, cj.load / cj.network (the network language), ...
local core = require "cajal.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

-- Lua submodules, loaded when first touched: name -> module name, field
-- (a nil field means the whole module).
local lazy = {
  plot    = { "cajal.plot" },
  help    = { "cajal.help", "help" },
  load    = { "cajal.network", "load" },
  network = { "cajal.network", "network" },
  restore = { "cajal.network", "restore" },
  provenance = { "cajal.provenance", "read" },
  dump    = { "cajal.compile", "dump" },
  compile = { "cajal.compile" },
}

return setmetatable(M, {
  __index = function(t, k)
    local spec = lazy[k]
    if not spec then return nil end
    local mod = require(spec[1])
    local v = mod
    if spec[2] then v = mod[spec[2]] end
    rawset(t, k, v)
    return v
  end,
})
