-- examples/hd_language.lua — language recognition with hypervectors, by the
-- method of Joshi, Halseth & Kanerva (2016, "Language geometry using random
-- indexing"; 2017): every letter is a random bipolar vector (MAP, d = 10 000),
-- a letter trigram is rho(rho(a)) * rho(b) * c (rotate and multiply), a
-- language's profile is the sum of the trigrams of its training text, and a
-- sample is assigned to the language whose profile is most similar (cosine)
-- to the sum of its own trigrams.
--
-- The text comes from Debian's word lists (the w-prefixed packages: wamerican,
-- wngerman, wfrench, ...): the training text of a language is a stream of
-- words drawn at random from its list, the test samples are 10 words drawn
-- from words kept out of training (one word in four, chosen by a hash of the
-- word). Word lists are not running prose: inflected forms, compounds and
-- names are as frequent as common words, so accuracies are lower than
-- Joshi et al.'s on sentences. Languages whose list is not installed are
-- skipped (and named).
--
--   cajal examples/hd_language.lua [train words [samples [seed]]]
--   (defaults 20000 words per language, 100 samples of 10 words, seed 1;
--   the word lists are looked up in $CAJAL_DICT_DIR, else /usr/share/dict)
local cj = require "cajal"

local ntrain = math.tointeger(tonumber(arg and arg[1])) or 20000
local nsamples = math.tointeger(tonumber(arg and arg[2])) or 100
local seed = math.tointeger(tonumber(arg and arg[3])) or 1
local D, WORDS = 10000, 10
local dictdir = os.getenv("CAJAL_DICT_DIR") or "/usr/share/dict"

-- language, word list, Debian package
local LANGUAGES = {
  { "English", "american-english", "wamerican" },
  { "German", "ngerman", "wngerman" },
  { "French", "french", "wfrench" },
  { "Spanish", "spanish", "wspanish" },
  { "Italian", "italian", "witalian" },
  { "Portuguese", "portuguese", "wportuguese" },
  { "Catalan", "catalan", "wcatalan" },
  { "Dutch", "dutch", "wdutch" },
  { "Swedish", "swedish", "wswedish" },
  { "Danish", "danish", "wdanish" },
  { "Norwegian", "bokmaal", "wnorwegian" },
  { "Polish", "polish", "wpolish" },
}

-- A word as lower-case letters (UTF-8; lists in Latin-1 are converted),
-- or nil when nothing is left.
local function clean(line)
  if not utf8.len(line) then                         -- Latin-1: every byte a code point
    line = line:gsub("[\128-\255]", function(c) return utf8.char(c:byte()) end)
  end
  local out = {}
  for _, c in utf8.codes(line) do
    if c >= 65 and c <= 90 then c = c + 32 end
    if (c >= 97 and c <= 122) or (c >= 0xDF and c <= 0x24F and c ~= 0xF7) then
      out[#out + 1] = utf8.char(c)
    elseif c >= 0xC0 and c <= 0xDE and c ~= 0xD7 then
      out[#out + 1] = utf8.char(c + 32)             -- Latin-1 capitals
    end
  end
  if #out == 0 then return nil end
  return table.concat(out)
end

-- Test words: one in four, by a hash of the word (the same split every run).
local function istest(w)
  local h = 0
  for k = 1, #w do h = (h * 31 + w:byte(k)) % 1000003 end
  return h % 4 == 0
end

-- n words of a list drawn at random (a random byte offset, then the next
-- whole line), from the test words or from the others.
local function draw(f, size, rng, n, test)
  local out = {}
  while #out < n do
    f:seek("set", rng:integers(0, size - 1))
    f:read("l")                                       -- the rest of a line
    local line = f:read("l") or (f:seek("set", 0) and f:read("l"))
    local w = line and clean(line)
    if w and istest(w) == test then out[#out + 1] = w end
  end
  return out
end

local rng = cj.rng(seed)
local langs, missing = {}, {}
for _, L in ipairs(LANGUAGES) do
  local f = io.open(dictdir .. "/" .. L[2], "rb")
  if f then
    local size = f:seek("end")
    langs[#langs + 1] = { name = L[1], train = table.concat(draw(f, size, rng, ntrain, false), " ") }
    local samples = {}
    for k = 1, nsamples do samples[k] = table.concat(draw(f, size, rng, WORDS, true), " ") end
    langs[#langs].samples = samples
    f:close()
  else
    missing[#missing + 1] = L[1] .. " (" .. L[3] .. ")"
  end
end
if #missing > 0 then print("not installed, skipped: " .. table.concat(missing, ", ")) end
if #langs < 2 then
  print("fewer than two word lists found in " .. dictdir .. ": nothing to recognise")
  return
end

-- the alphabet: every character of the training texts, and the space
local seen, letters = { [" "] = true }, { " " }
for _, L in ipairs(langs) do
  for _, c in utf8.codes(L.train) do
    local s = utf8.char(c)
    if not seen[s] then seen[s] = true; letters[#letters + 1] = s end
  end
end
local items = cj.hd.item_memory(letters, D, "map", { seed = seed })

-- profiles: the trigrams of each training text, summed (one call per language)
local t0 = cj.clock()
local profiles = {}
for k, L in ipairs(langs) do profiles[k] = cj.hd.ngrams(items, L.train, 3) end
profiles = cj.hd.stack(profiles)
local ttrain = cj.clock() - t0

-- test: every sample's trigram sum against every profile
t0 = cj.clock()
print(string.format("\n%d languages, %d training words each, %d samples of %d words (d = %d, MAP)\n",
  #langs, ntrain, nsamples, WORDS, D))
print(string.format("%-12s %9s   %s", "language", "accuracy", "most frequent mistake"))
local total, right = 0, 0
for k, L in ipairs(langs) do
  local vs = {}
  for s, text in ipairs(L.samples) do
    -- characters never seen in training have no vector: leave them out
    local kept = {}
    for _, c in utf8.codes(text) do
      local ch = utf8.char(c)
      if seen[ch] then kept[#kept + 1] = ch end
    end
    vs[s] = cj.hd.ngrams(items, table.concat(kept), 3)
  end
  local sim = cj.hd.similarity(cj.hd.stack(vs), profiles)   -- samples x languages
  local guess = sim:argmax(2)
  local correct, wrong = 0, {}
  for s = 1, #vs do
    local g = guess[s]
    if g == k then correct = correct + 1 else wrong[g] = (wrong[g] or 0) + 1 end
  end
  local worst, wn = nil, 0
  for g, n in pairs(wrong) do if n > wn then worst, wn = g, n end end
  print(string.format("%-12s %8.1f %%   %s", L.name, 100 * correct / #vs,
    worst and string.format("%s (%d)", langs[worst].name, wn) or "-"))
  total, right = total + #vs, right + correct
end
print(string.format("\nmean accuracy: %.1f %% over %d samples (chance %.1f %%)", 100 * right / total, total,
  100 / #langs))
print(string.format("training %.2f s, testing %.2f s", ttrain, cj.clock() - t0))
