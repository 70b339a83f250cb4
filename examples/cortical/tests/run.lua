-- The tests of the cortical package: `cajal tests/run.lua` in the package
-- folder (or `luarocks --lua-version 5.4 test`). They test the working copy
-- (lua/ of this folder), not an installed one. Exit status 1 on a failure.
local here = (arg and arg[0] or ""):match("^(.*)/tests/[^/]*$") or "."
package.path = here .. "/lua/?.lua;" .. here .. "/lua/?/init.lua;" .. package.path
local cj = require "cajal"
local cortical = require "cortical"

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1
  else failed = failed + 1; io.stderr:write("FAIL ", name, "\n  ", tostring(err), "\n") end
end

test("the module is the working copy's", function()
  assert(cortical.dir == here .. "/lua/cortical", cortical.dir)
end)

-- Every projection of column.cajal is a non-zero entry of the reference
-- table and the reverse; its number of synapses is Binomial(Npre * Npost, p)
-- (within 5 standard deviations).
test("connectivity follows data/connectivity.csv", function()
  local ref = cortical.connectivity()
  local net = cortical.column{ seed = 3, progress = false }
  local seen = {}
  for name, proj in pairs(net.projections) do
    if type(name) == "string" then
      local src, tgt = name:match("^(%w+)_(%w+)$")
      local p = assert(ref[tgt] and ref[tgt][src], "no reference entry for " .. name)
      assert(p > 0, name .. " has a zero reference probability")
      local n = net[src].N * net[tgt].N
      local mean, sd = n * p, math.sqrt(n * p * (1 - p))
      assert(math.abs(proj.N - mean) <= 5 * sd + 1,
        string.format("%s: %d synapses, expected %.1f +- %.1f", name, proj.N, mean, sd))
      seen[name] = true
    end
  end
  for tgt, row in pairs(ref) do
    for src, p in pairs(row) do
      assert(p == 0 or seen[src .. "_" .. tgt], "no projection " .. src .. " -> " .. tgt)
    end
  end
end)

test("population sizes are the paper's times frac", function()
  local sizes = { L23e = 20683, L23i = 5834, L4e = 21915, L4i = 5479, L5e = 4850, L5i = 1065 }
  local net = cortical.column{ params = { frac = 0.01 }, progress = false }
  for name, n in pairs(sizes) do
    assert(net[name].N == math.floor(0.01 * n + 0.5), name)
  end
end)

test("the column is active, at rates below 100 Hz in every population", function()
  local net = cortical.column{ seed = 1, progress = false }
  net:run(300 * cj.ms)
  for _, name in ipairs(cortical.populations) do
    local r = net.spikes[name]:rate().value
    assert(r > 0.5 and r < 100, string.format("%s: %.2f Hz", name, r))
  end
end)

print(string.format("cortical: %d passed, %d failed", passed, failed))
if failed > 0 then os.exit(1) end
