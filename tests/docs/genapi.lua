-- genapi.lua — writes the function reference of man/cajal-api.3 from the
-- help registry, so the page says what help(f) says.
--
--   cajal tests/docs/genapi.lua man/cajal-api.3     rewrite the page in place
--   cajal tests/docs/genapi.lua man/cajal-api.3 -   print the result instead
--
-- The page is written by hand except between marker lines
--   .\" BEGIN GENERATED <section>
--   .\" END GENERATED <section>
-- whose content this script replaces with one entry per function of that
-- section: .TP, the signature (the first line of its help) in bold, and the
-- rest of the help text. Functions with the same description (cj.rand and
-- rng:rand) share one entry (.TQ). The list of functions comes from
-- tests/lua/apiwalk.lua, as for tests/lua/docs.lua, which fails when a
-- function is missing from the page. A function this script cannot place
-- goes to the "other" block (OTHER FUNCTIONS) with a warning: add it to
-- SECTIONS below.
--
-- Run it with CAJAL_HOME pointing at the source tree, so that the Lua
-- modules are the ones being documented:
--   CAJAL_HOME=$PWD ../build/cajal tests/docs/genapi.lua man/cajal-api.3
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local walk = dofile(here .. "/../lua/apiwalk.lua")

local format, concat = string.format, table.concat

-- Sections: explicit names first (in this order), then names matching a
-- pattern (sorted). A name is the path by which apiwalk reached the
-- function ("cj.zeros", "rng:rand", "network:run"); `sig` patterns match
-- the signature instead.
local SECTIONS = {
  { id = "arrays", names = {
    "cj.array", "cj.zeros", "cj.ones", "cj.full", "cj.range", "cj.linspace",
    "cj.copy", "array:contiguous", "cj.astype", "cj.reshape", "cj.transpose", "array:t",
    "array:fill", "array:numel", "array:totable" } },
  { id = "math", names = {
    "cj.add", "cj.sub", "cj.mul", "cj.div", "cj.idiv", "cj.mod", "cj.pow", "cj.muladd",
    "cj.minimum", "cj.maximum", "array:neg", "cj.neg", "cj.abs", "cj.sign", "cj.floor", "cj.ceil",
    "cj.clip", "cj.relu", "cj.sqrt", "cj.exp", "cj.log", "cj.log1p", "cj.sin", "cj.cos",
    "cj.tan", "cj.tanh", "cj.sigmoid",
    "cj.eq", "cj.ne", "cj.lt", "cj.le", "cj.gt", "cj.ge", "cj.where" } },
  { id = "reductions", names = {
    "cj.sum", "cj.prod", "cj.mean", "cj.var", "cj.std", "cj.min", "cj.max",
    "cj.argmin", "cj.argmax", "cj.any", "cj.all", "cj.cumsum" } },
  { id = "linalg", names = { "cj.matmul", "cj.dot" } },
  { id = "sorting", names = { "cj.sort", "cj.argsort", "cj.searchsorted", "cj.unique",
    "cj.bincount", "cj.histogram", "cj.histogram2d" } },
  { id = "fft", names = { "cj.fft", "cj.ifft", "cj.rfft", "cj.irfft", "cj.fftfreq", "cj.rfftfreq" } },
  { id = "info", names = {
    "cj.info.entropy", "cj.info.joint_entropy", "cj.info.conditional_entropy",
    "cj.info.mutual_information", "cj.info.conditional_mi", "cj.info.kl", "cj.info.js",
    "cj.info.table", "cj.info.words", "cj.info.word_distribution", "cj.info.word_entropy",
    "cj.info.direct", "cj.info.spike_information", "cj.info.counter" },
    -- live measures (issue 9): windows of spike monitors, after the counters
    patterns = { "^cj%.info%.", "^info%.counter:", "^spikemonitor:window$", "^spikemonitor:since$",
                 "^spikewindow:" },
    firstof = { ["^info%.counter:"] = "Word counters (c = cj.info.counter())",
                ["^spikemonitor:window$"] = "Live measures: spike windows (win = net.spikes.E:window(T))" } },
  { id = "coding", names = {
    "cj.coding.bin", "cj.coding.rates", "cj.coding.isi", "cj.coding.cv", "cj.coding.fano",
    "cj.coding.psth", "cj.coding.correlogram", "cj.coding.spectrum", "cj.coding.welch",
    "cj.coding.time_rescaling", "cj.coding.sta", "cj.coding.stc", "cj.coding.lnp",
    "cj.coding.lnp_rate", "cj.coding.raised_cosine", "cj.coding.glm", "cj.coding.glm_rate",
    "cj.coding.glm_simulate", "cj.coding.population_vector", "cj.coding.loglikelihood",
    "cj.coding.decode", "cj.coding.lrt", "cj.coding.sprt", "cj.coding.reconstruct" },
    patterns = { "^cj%.coding%." },
    headings = { ["cj.coding.bin"] = "Spike statistics", ["cj.coding.sta"] = "Encoding",
                 ["cj.coding.population_vector"] = "Decoding" } },
  { id = "units", names = { "cj.unit", "cj.dimension", "cj.exponents", "cj.isquantity",
    "quantity:to" } },
  { id = "random", names = {
    "cj.seed", "cj.rng", "rng:state", "rng:setstate", "rng:clone",
    "cj.rand", "cj.randn", "cj.uniform", "cj.normal", "cj.exponential", "cj.poisson",
    "cj.binomial", "cj.integers", "cj.choice", "cj.permutation", "cj.shuffle" },
    patterns = { "^rng:" } },
  { id = "regex", names = { "cj.regex.compile", "cj.regex.escape" },
    patterns = { "^cj%.regex%.", "^regex:" },
    firstof = { ["^regex:"] = "Compiled patterns (re = cj.regex.compile(...))" } },
  { id = "io", names = {
    "cj.io.save_npy", "cj.io.load_npy", "cj.io.npy_writer", "npywriter:append",
    "npywriter:flush", "npywriter:rows", "npywriter:close",
    "cj.io.save_csv", "cj.io.load_csv", "cj.io.save_columns" },
    patterns = { "^cj%.io%.", "^npywriter:" } },
  { id = "plot", names = { "cj.plot.lines", "cj.plot.scatter", "cj.plot.raster",
    "cj.plot.hist", "cj.plot.image", "cj.plot.images" }, patterns = { "^cj%.plot%." } },
  { id = "network", names = {
    "cj.load", "cj.network", "cj.restore", "cj.threads", "cj.thread_grain", "cj.thread_adapt",
    "cj.mpi.rank", "cj.mpi.size", "cj.mpi.range", "cj.mpi.available", "cj.mpi.barrier",
    "cj.mpi.stats", "cj.mpi.profile",
    "network:run", "network:every", "network:cancel", "network:reset", "network:save",
    "population:varnames", "population:lastspike", "population:connectivity",
    "spikemonitor:times", "spikemonitor:indices", "spikemonitor:count",
    "spikemonitor:counts", "spikemonitor:rate",
    "statemonitor:times", "statemonitor:values", "statemonitor:indices",
    "ratemonitor:times", "ratemonitor:values" },
    patterns = { "^network:", "^population:", "monitor:" },
    headings = { ["cj.load"] = "Making a network",
                 ["network:run"] = "Networks (net)",
                 ["population:varnames"] = "Populations and projections (net.E, net.P)",
                 ["spikemonitor:times"] = "Spike monitors (net.spikes.E)",
                 ["statemonitor:times"] = "State monitors (net.state.E.v)",
                 ["ratemonitor:times"] = "Rate monitors (net.rate.E)" } },
  { id = "provenance", names = { "cj.provenance" } },
  -- structured representations (issue 8)
  { id = "capsule", names = {
    "cj.capsule.squash", "cj.capsule.predict", "cj.capsule.route", "cj.capsule.route_grad",
    "cj.capsule.margin_loss", "cj.capsule.em_route", "cj.capsule.layer",
    "capsulelayer:forward", "capsulelayer:backward", "capsulelayer:train" },
    patterns = { "^cj%.capsule%.", "^capsulelayer:" },
    headings = { ["capsulelayer:forward"] = "Capsule layers (layer = cj.capsule.layer(...))" } },
  { id = "hd", names = {
    "cj.hd.random", "cj.hd.from_array", "cj.hd.stack", "hv:array", "hv:phases", "hv:rows",
    "cj.hd.bind", "cj.hd.unbind", "cj.hd.bundle", "cj.hd.permute", "cj.hd.similarity",
    "cj.hd.normalise", "cj.hd.sequence", "cj.hd.ngram", "cj.hd.ngrams", "cj.hd.record",
    "cj.hd.levels", "cj.hd.scalar", "cj.hd.fpe", "cj.hd.item_memory", "cj.hd.cleanup",
    "hdmemory:add", "hdmemory:get", "hdmemory:has", "hdmemory:index", "hdmemory:indices",
    "hdmemory:names", "hdmemory:vectors", "hdmemory:nearest", "hdmemory:recall" },
    patterns = { "^cj%.hd%.", "^hv:", "^hdmemory:" },
    headings = { ["cj.hd.random"] = "Hypervectors",
                 ["cj.hd.bind"] = "Operations",
                 ["cj.hd.sequence"] = "Encoders",
                 ["cj.hd.item_memory"] = "Item and clean-up memories" } },
  { id = "tpr", names = { "cj.tpr.bind", "cj.tpr.unbind", "cj.tpr.dual", "cj.tpr.flatten" },
    patterns = { "^cj%.tpr%." } },
  { id = "help", names = { "cj.help", "cj.doc", "cajal.help.topic" },
    patterns = { "^cajal%.help%.", "^cajal%.repl%." } },
  { id = "internals", names = {
    "cj.compile.build", "cj.compile.load_file", "cj.compile.diagnose", "cj.compile.dump",
    "cj.compile.irtext", "cj.compile.searchpath", "cj.compile.find", "cj.compile.cache_clear",
    "cj.jit_available", "cj.jit_compile", "cj.jit_flags", "cj.jit_stats", "cj.kernel_prelude", "cj.kernel_functions",
    "cj.cache_dir", "cj.cache_clear", "cj.net_new", "cj.net_restore",
    "cj.savefile_read", "cj.savefile_parse" },
    patterns = { "^cj%.compile%.", "^net:" }, sig = { "^core%.", "^compile%." },
    firstof = { ["^net:"] = "The runtime handle (core.net_new)" } },
  { id = "learn", names = {
    "cj.learn.hebb", "cj.learn.covariance", "cj.learn.oja", "cj.learn.sanger", "cj.learn.bcm",
    "cj.learn.normalize", "cj.learn.foldiak", "cj.learn.foldiak_code", "cj.learn.kwta",
    "cj.learn.competitive", "cj.learn.quantize", "cj.learn.som", "cj.learn.quantization_error",
    "cj.learn.topographic_error", "som:train", "som:bmu", "som:quantization_error",
    "som:topographic_error", "som:umatrix", "cj.learn.sparse_code", "cj.learn.sparse_objective",
    "cj.learn.dictionary", "cj.learn.pca", "cj.learn.whiten", "cj.learn.whiten_image",
    "cj.learn.patches", "cj.learn.dead_leaves", "cj.learn.random_projection", "cj.learn.fly_hash",
    "cj.learn.knn" },
    patterns = { "^cj%.learn%.", "^som:" },
    headings = { ["cj.learn.hebb"] = "Hebbian rules",
                 ["cj.learn.foldiak"] = "Sparse and competitive codes",
                 ["cj.learn.competitive"] = "Competitive learning and maps",
                 ["som:train"] = "Maps (map = cj.learn.som(...))",
                 ["cj.learn.sparse_code"] = "Sparse coding",
                 ["cj.learn.pca"] = "Whitening and images",
                 ["cj.learn.random_projection"] = "Random projections and hashing" } },
  { id = "boltzmann", names = {
    "cj.boltzmann.energy", "cj.boltzmann.exact", "cj.boltzmann.gibbs", "cj.boltzmann.schedule",
    "cj.boltzmann.empirical", "cj.boltzmann.binary_to_spin", "cj.boltzmann.spin_to_binary",
    "cj.boltzmann.bm", "bm:train", "bm:sample", "bm:exact", "bm:kl", "bm:loglik", "bm:energy",
    "cj.boltzmann.hopfield", "hopfield:store", "hopfield:recall", "hopfield:energy",
    "hopfield:overlap", "hopfield:clear",
    "cj.boltzmann.rbm", "rbm:train", "rbm:sample", "rbm:free_energy", "rbm:hidden", "rbm:visible",
    "rbm:log_partition", "rbm:loglik", "rbm:pseudo_loglik", "rbm:reconstruction_error",
    "rbm:to_boltzmann", "cj.boltzmann.dbn", "dbn:train", "dbn:transform", "dbn:sample",
    "cj.boltzmann.ising", "ising:run", "ising:spins", "ising:magnetization", "ising:energy" },
    patterns = { "^cj%.boltzmann%.", "^bm:", "^hopfield:", "^rbm:", "^dbn:", "^ising:" },
    headings = { ["cj.boltzmann.energy"] = "Boltzmann machines: energy, enumeration, sampling",
                 ["cj.boltzmann.bm"] = "Machines with hidden units and their learning",
                 ["cj.boltzmann.hopfield"] = "Hopfield networks and dense associative memory",
                 ["cj.boltzmann.rbm"] = "Restricted Boltzmann machines",
                 ["cj.boltzmann.dbn"] = "Deep belief nets",
                 ["cj.boltzmann.ising"] = "Ising models" } },
  { id = "other", names = { "cj.clock" } },
}

-- roff text: backslashes, minus signs, and a leading . or ' neutralised.
local function esc(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  if s:match("^[.']") then s = "\\&" .. s end
  return s
end

-- Sort the walked functions into sections; returns id -> list of entries.
local function classify(list)
  local byname, placed, out = {}, {}, {}
  for _, e in ipairs(list) do byname[e.name] = e end
  for _, sec in ipairs(SECTIONS) do
    local t = {}
    for _, n in ipairs(sec.names) do
      local e = byname[n]
      if e and not placed[e] then placed[e] = true; t[#t + 1] = e end
    end
    -- then, pattern by pattern, the names it matches (sorted)
    local pats = {}
    for _, p in ipairs(sec.patterns or {}) do pats[#pats + 1] = { p, "name" } end
    for _, p in ipairs(sec.sig or {}) do pats[#pats + 1] = { p, "sig" } end
    for _, pk in ipairs(pats) do
      local more = {}
      for _, e in ipairs(list) do
        local s = pk[2] == "name" and e.name or (e.doc and walk.signature(e.doc)) or ""
        if not placed[e] and s:match(pk[1]) then more[#more + 1] = e end
      end
      table.sort(more, function(a, b) return a.name < b.name end)
      for _, e in ipairs(more) do placed[e] = true; t[#t + 1] = e end
    end
    -- subheadings: before a named entry, or before the first name matching a pattern
    local firstof = {}
    for p, text in pairs(sec.firstof or {}) do firstof[p] = text end
    for _, e in ipairs(t) do
      local h = sec.headings and sec.headings[e.name]
      for p, text in pairs(firstof) do
        if not h and e.name:match(p) then h = text; firstof[p] = nil end
      end
      e.heading = h
    end
    out[sec.id] = t
  end
  for _, e in ipairs(list) do
    if not placed[e] then
      table.insert(out.other, e)
      io.stderr:write("genapi: warning: ", e.name, " has no section (see SECTIONS); put in 'other'\n")
    end
  end
  return out
end

-- The roff of one section's entries.
local function render(entries)
  local L = {}
  local groups, bybody = {}, {}
  for _, e in ipairs(entries) do
    local doc = e.doc or (e.name .. "(...)\n(no help text)")
    local body = doc:match("^[^\n]*\n(.*)$") or ""
    local g = bybody[body]
    if not g or body == "" or e.heading then
      g = { sigs = {}, body = body, heading = e.heading }
      bybody[body] = g
      groups[#groups + 1] = g
    end
    g.sigs[#g.sigs + 1] = walk.signature(doc)
  end
  for _, g in ipairs(groups) do
    if g.heading then L[#L + 1] = ".SS " .. esc(g.heading) end
    for k, sig in ipairs(g.sigs) do
      L[#L + 1] = k == 1 and ".TP" or ".TQ"
      L[#L + 1] = "\\fB" .. esc(sig) .. "\\fR"
    end
    for line in (g.body .. "\n"):gmatch("([^\n]*)\n") do
      line = line:gsub("^%s+", ""):gsub("%s+$", "")
      if line ~= "" then L[#L + 1] = esc(line) end
    end
  end
  return L
end

local function readlines(path)
  local f = assert(io.open(path, "rb"))
  local t = {}
  for line in f:lines() do t[#t + 1] = line end
  f:close()
  return t
end

local function main(path, dest)
  if not path then
    io.stderr:write("usage: cajal tests/docs/genapi.lua man/cajal-api.3 [-]\n")
    os.exit(2)
  end
  local list, problems = walk.collect()
  for _, p in ipairs(problems) do io.stderr:write("genapi: warning: ", p, "\n") end
  local secs = classify(list)
  local out, inside, found = {}, nil, {}
  for n, line in ipairs(readlines(path)) do
    local b = line:match('^%.\\" BEGIN GENERATED (%S+)')
    local e = line:match('^%.\\" END GENERATED (%S+)')
    if inside then
      if e then
        if e ~= inside then error(format("%s:%d: END GENERATED %s inside %s", path, n, e, inside)) end
        for _, l in ipairs(render(secs[inside])) do out[#out + 1] = l end
        out[#out + 1] = line
        inside = nil
      end
    else
      out[#out + 1] = line
      if b then
        if not secs[b] then error(format("%s:%d: unknown section '%s'", path, n, b)) end
        inside, found[b] = b, true
      end
    end
  end
  if inside then error(format("%s: no END GENERATED %s", path, inside)) end
  for id, t in pairs(secs) do
    if #t > 0 and not found[id] then
      error(format("%s: no block for section '%s' (%d functions)", path, id, #t))
    end
  end
  local text = concat(out, "\n") .. "\n"
  if dest == "-" then io.write(text); return end
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  assert(f:write(text))
  assert(f:close())
  assert(os.rename(tmp, path))
  local count = 0
  for _ in pairs(list) do count = count + 1 end
  io.stderr:write(format("genapi: %s: %d functions\n", path, count))
end

main(...)
