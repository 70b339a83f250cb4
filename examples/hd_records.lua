-- examples/hd_records.lua — records as hypervectors, and queries on them
-- (Kanerva 2010, "What we mean when we say 'What's the dollar of Mexico?'").
--
-- A country is the record name * X + capital * Y + money * Z: each field a
-- key bound to its value, the fields bundled into one vector. From records
-- alone, without knowing which field anything is in, we ask:
--   the dollar of Mexico      unbind(MEX, unbind(USA, dollar)): which role
--                             does dollar play in USA, what fills it in MEX
--   the capital of Sweden     unbind(SWE, capital)
--   what is Tokyo in Japan    unbind(JPN, tokyo) -> the key "capital"
--   the country of the yen    the record most similar to bind(money, yen)
-- and, with self-inverse binding (bsc, map) only, Kanerva's mapping
-- USA * MEX, which turns every value of one record into the value of the
-- other: dollar * (USA * MEX) ~ peso. Every answer is cleaned up in an item
-- memory (nearest neighbour); its similarity and the runner-up's show the
-- margin. d = 10 000 for each of the four models.
--
--   cajal examples/hd_records.lua [seed]
local cj = require "cajal"

local seed = math.tointeger(tonumber(arg and arg[1])) or 1
local D = 10000
local KEYS = { "name", "capital", "money" }
local COUNTRIES = {
  { "usa", "washington", "dollar" }, { "mexico", "mexico_city", "peso" },
  { "sweden", "stockholm", "krona" }, { "japan", "tokyo", "yen" },
}

local symbols = {}
for _, k in ipairs(KEYS) do symbols[#symbols + 1] = k end
for _, c in ipairs(COUNTRIES) do for _, v in ipairs(c) do symbols[#symbols + 1] = v end end

-- the best and second-best symbol for x
local function answer(mem, x)
  local names, sims = mem:names(), cj.hd.similarity(mem:vectors(), x)
  local order = {}
  for k = 1, #names do order[k] = k end
  table.sort(order, function(a, b) return sims[a] > sims[b] end)
  return names[order[1]], sims[order[1]], names[order[2]], sims[order[2]]
end

local function show(query, expected, name, s, second, s2)
  print(string.format("  %-34s %-12s %6.3f   (next: %s %.3f)%s", query, name, s, second, s2,
    name == expected and "" or "   WRONG, expected " .. expected))
  return name == expected
end

local all = true
for _, model in ipairs({ "bsc", "map", "hrr", "fhrr" }) do
  local mem = cj.hd.item_memory(symbols, D, model, { seed = seed })
  local keys = mem:get(KEYS)
  local rec, names = {}, {}
  for k, c in ipairs(COUNTRIES) do
    rec[c[1]] = cj.hd.record(keys, mem:get(c), { seed = seed })
    names[k] = c[1]
  end
  local db = cj.hd.cleanup({ rec.usa, rec.mexico, rec.sweden, rec.japan }, names)
  print(string.format("\n%s (d = %d)", model, D))
  local ok = true
  ok = show("dollar of Mexico", "peso",
    answer(mem, cj.hd.unbind(rec.mexico, cj.hd.unbind(rec.usa, mem:get("dollar"))))) and ok
  ok = show("capital of Sweden", "stockholm", answer(mem, cj.hd.unbind(rec.sweden, mem:get("capital")))) and ok
  ok = show("what is tokyo in Japan", "capital", answer(mem, cj.hd.unbind(rec.japan, mem:get("tokyo")))) and ok
  ok = show("country of the yen", "japan", answer(db, cj.hd.bind(mem:get("money"), mem:get("yen")))) and ok
  if model == "bsc" or model == "map" then
    local F = cj.hd.bind(rec.usa, rec.mexico)                    -- Kanerva's mapping
    ok = show("dollar * (USA * MEX)", "peso", answer(mem, cj.hd.bind(mem:get("dollar"), F))) and ok
    ok = show("washington * (USA * MEX)", "mexico_city", answer(mem, cj.hd.bind(mem:get("washington"), F))) and ok
  end
  all = all and ok
end
print(string.format("\nall queries answered: %s", all and "yes" or "no"))
