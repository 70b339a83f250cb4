-- A cajal model package: `luarocks --lua-version 5.4 make` (add --local for
-- the user tree ~/.luarocks, or --tree DIR) copies lua/ into the tree's
-- share/lua/5.4, where cajal's `import` and `require` find it;
-- `luarocks --lua-version 5.4 test` runs its tests with cajal.
rockspec_format = "3.0"
package = "cortical"
version = "0.1-1"
source = { url = "git+https://example.org/cajal-models/cortical.git" }
description = {
  summary = "A cortical-column microcircuit for cajal (Potjans & Diesmann 2014 connectivity)",
  detailed = "Neuron models (cortical/cells), a three-layer column network (cortical/column), "
    .. "its reference connectivity (cortical/data) and a Lua module to build it.",
  license = "MIT",
}
dependencies = { "lua >= 5.4" }
build = {
  type = "builtin",
  modules = { cortical = "lua/cortical/init.lua" },
  -- lua/ is copied whole into the tree: the .cajal files and data/ with it
}
test = { type = "command", command = "cajal tests/run.lua" }
