-- tests/lua/infoexamples.lua — the examples of cj.info and cj.coding run
-- as `cajal examples/NAME.lua` in a scratch folder (where they write their
-- plots), and what they print is checked, so they cannot rot:
-- info_spikes.lua (direct method on the reliability network), glm.lua (a
-- GLM fitted to a LIF neuron), decoding.lua (population decoding, SPRT),
-- info_live.lua (measures of a running network from net:every()).
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")

local format = string.format
local function run(name, ...) return T.example(name, { ... }) end

T.test("examples/info_spikes.lua: information rates by the direct method", function()
  local out = run("info_spikes", "4", "32", "2")
  assert(out:find("32 trials of 4 s"), out)
  local rates = {}
  for bin, inf, perspike in out:gmatch("\n%s*(%d) ms [^|]*| +([%d.]+) +[%d.]+ +([%d.]+)") do
    rates[tonumber(bin)] = { tonumber(inf), tonumber(perspike) }
  end
  assert(rates[1] and rates[2] and rates[4], out)
  for _, r in pairs(rates) do assert(r[1] > 5 and r[1] < 200 and r[2] > 0.1 and r[2] < 5, out) end
  local brenner = tonumber(out:match("Brenner et al%. 2000%): ([%d.]+)"))
  -- two estimates of the same quantity at 1 ms: within 30 % of each other
  assert(brenner and math.abs(brenner - rates[1][2]) < 0.3 * rates[1][2], out)
  assert(out:find("plot: info_spikes.png") or out:find("no plot:"), out)
end)

T.test("examples/glm.lua: the GLM of a LIF neuron and its time-rescaling test", function()
  local out = run("glm", "30", "2")
  assert(out:find("converged: true"), out)
  local c = tonumber(out:match("correlation ([%d.]+)"))
  assert(c and c > 0.8, out)
  local g1 = tonumber(out:match("post%-spike gain: x (%S+) 1 ms"))
  assert(g1 and g1 < 0.1, "refractoriness: " .. out)
  local ks = tonumber(out:match("with history: +KS ([%d.]+)"))
  local ks0 = tonumber(out:match("without history: KS ([%d.]+)"))
  assert(ks and ks0 and ks < 0.5 * ks0, out)
end)

T.test("examples/decoding.lua: population decoding near the Cramer-Rao bound, SPRT decisions", function()
  local out = run("decoding", "4", "3")
  local ml, pm, com, crb = out:match("rms error: ML ([%d.]+), posterior mean ([%d.]+), centre of mass ([%d.]+); Cramer%-Rao bound ([%d.]+)")
  ml, pm, com, crb = tonumber(ml), tonumber(pm), tonumber(com), tonumber(crb)
  assert(ml and ml < 1.6 * crb and pm < 1.6 * crb and com > ml, out)
  local ntr, right = out:match("on (%d+) trials of 250 ms: (%d+) correct")
  assert(ntr and tonumber(right) >= 0.7 * tonumber(ntr), out)
  assert(out:find("LRT on whole trials"), out)
end)

T.test("examples/info_live.lua: live measures of CUBA every 100 ms, and the kick they see", function()
  local out = run("info_live", "1.2", "300", "1")
  local rows = {}
  for t, rate, cv, fano, H, sync in out:gmatch("\n +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+) +([%d.]+)") do
    rows[#rows + 1] = { t = tonumber(t), rate = tonumber(rate), cv = tonumber(cv), fano = tonumber(fano),
                        H = tonumber(H), sync = tonumber(sync) }
  end
  assert(#rows == 12, out)
  for k, r in ipairs(rows) do
    assert(math.abs(r.t - 0.1 * k) < 1e-9, out)
    -- CUBA fires at about 5.5 Hz (netexamples.lua: Brian2 5.61 +- 0.26 Hz over 1 s), irregularly
    assert(r.rate > 3 and r.rate < 9, "rate: " .. out)
    assert(r.cv > 0.05 and r.cv < 1.5 and r.fano > 0.1 and r.fano < 2, "cv, fano: " .. out)
    -- binary words of 8 bins at p ~ 0.011 per bin: about 8 h(0.011) = 0.7 bits
    assert(r.H > 0.4 and r.H < 1.2, "entropy: " .. out)
  end
  -- the kick at 0.6 s (every neuron just below threshold) synchronises the
  -- population: the 1 ms count Fano factor jumps tenfold in the windows after it
  assert(out:find("0.60 [^\n]*<%- kick"), out)
  assert(rows[7].sync > 10 * rows[6].sync, out)
  assert(out:find("restricted to it gives identical measures"), out)
  assert(out:find("plot: info_live.png") or out:find("no plot:"), out)
end)
T.done()
