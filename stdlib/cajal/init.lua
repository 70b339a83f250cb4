-- cajal: the module returned by require "cajal" (placeholder; grows per area)
local core = require "cajal.core"
local M = {}
for k, v in pairs(core) do M[k] = v end
return M
