-- tests/lua/netmpi.lua — a network split over MPI ranks gives the bits of
-- one rank (vm/core/netmpi.h). Each case runs in this process on one rank
-- and one thread (the reference), then under mpirun on K = 1, 2, 4 ranks x
-- CAJAL_THREADS = 1, 2 (and 3 at K = 2; grain 1: even these small networks
-- are split over threads). Every rank writes what it holds; the test asserts:
--   * every rank ran its steps on a team of CAJAL_THREADS threads (net.threads),
--   * every rank's spike monitors hold the reference's spikes (all ranks'),
--   * rank 0 holds the reference's neuron state, and its state monitors,
--   * the synapses of all ranks together are the reference's, each once, on
--     the rank owning its post neuron, with identical synapse variables
--     (plastic weights included), in the reference's order per row.
-- Then checkpoints: a run saved at K = 2 restores at K = 1 and K = 4, one
-- saved at K = 4 at K = 2 and 1, a one-rank save at K = 2, each continuing
-- with the spikes of an uninterrupted one-rank run; bad parts of a save
-- are refused on every rank; and an error on one rank stops every rank
-- (MPI_Abort), with the rank in the message.
-- Run by this file itself as `netmpi.lua worker CASE OUT [SAVE|RESTORE]`.
local cj = require "cajal"
local F = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/fixtures.lua")
local srcdir = os.getenv("CAJAL_TEST_SRCDIR") or ((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../..")

-- The networks: CUBA (examples/cuba.cajal, denser and smaller), and the
-- fixture with plastic STDP synapses, Poisson input, random delays (drawn
-- by synapse init kernels: keyed by one-rank synapse ids) and monitors of
-- each kind.
local CASES = {
  cuba = { load = function()
    return cj.load(srcdir .. "/examples/cuba.cajal", { seed = 8, params = { NE = 400, NI = 100, p = 0.2 } })
  end, dur = 0.2 },
  stdp = { load = function() return cj.network(F.SMALL, { seed = 5 }) end, dur = 0.3 },
  -- delays of 0.8 ms and more from the split populations: the ranks
  -- exchange spikes once per 8 steps (asserted below), and a Poisson group
  -- with the default delay of one step, queued at once on every rank; run
  -- in pieces that end inside a window
  delays = { load = function()
    local f = assert(io.open(srcdir .. "/examples/cuba.cajal"))
    local src = f:read("a")
    f:close()
    src = src:gsub("(connect E %-> E, I [^\n]- with probability p)", "%1 delay uniform(0.8 ms, 2 ms)")
             :gsub("(connect I %-> E, I [^\n]- with probability p)", "%1 delay 0.9 ms")
             .. "population In = poisson(50, rate = 40 Hz)\n"
             .. "connect In -> E { on_spike: ge += 1.62 mV } with probability 0.2\n"
             .. "record rate of E\n"
    assert(src:find("delay uniform") and src:find("delay 0.9 ms"), "the delays were not written into CUBA")
    return cj.network(src, { seed = 8, params = { NE = 400, NI = 100, p = 0.2 } })
  end, dur = 0.2, pieces = { 0.0137, 0.0805 }, window = 8 },
  -- rows of 3 blocks of 4096 post neurons (p = 0.05; vm/core/connect.c),
  -- cut by the ranks inside blocks, with self-exclusion and slices; a fixed
  -- in-degree onto a slice (one stream per target)
  blocks = { load = function()
    return cj.network([[
      import "models/lif"
      import "models/synapses"
      population E = lif(9000, v = uniform(-70 mV, -55 mV), I_e = 600 pA)
      connect E[4090..4109] -> E[3..] exp_current with probability 0.05 weight 150 pA self_connections off as Rows
      connect E[0..99] -> E[4000..4199] exp_current with in_degree 10 weight 50 pA self_connections off as Into
      record spikes of E
    ]], { seed = 3 })
  end, dur = 0.03 },
}

local function values(a)
  local t = a:reshape(a:numel()):totable()
  for k = 1, #t do if type(t[k]) ~= "number" then t[k] = t[k].value end end
  return t
end

local function hex(list)
  local o = {}
  for k = 1, #list do o[k] = string.format("%a", list[k]) end
  return table.concat(o, " ")
end

-- What this rank holds, one line per item: "kind name data".
local function dump(net, path)
  local f = assert(io.open(path, "w"))
  f:write("team threads ", net.threads, "\n")
  local names = {}
  for name in pairs(net.spikes) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    f:write("spikes ", name, " ", hex(values(net.spikes[name]:times())), "|",
            hex(values(net.spikes[name]:indices())), "\n")
  end
  for _, g in ipairs(net.populations) do
    for _, var in ipairs(g:varnames()) do f:write("state ", g.name, ".", var, " ", hex(values(g[var])), "\n") end
  end
  for m, mon in ipairs(net.monitors) do
    local kind = getmetatable(mon).__name
    if kind == "cajal.statemonitor" or kind == "cajal.ratemonitor" then
      f:write("monitor ", m, " ", hex(values(mon:values())), "\n")
    end
  end
  -- synapses: pre post var1 var2 ... one line each, in this rank's order
  for k, g in ipairs(net.projections) do
    local pre, post = g:connectivity()
    pre, post = values(pre), values(post)
    local vars = {}
    for v, name in ipairs(g:varnames()) do vars[v] = values(g[name]) end
    for s = 1, #pre do
      local row = { pre[s], post[s] }
      for v = 1, #vars do row[#row + 1] = string.format("%a", vars[v][s]) end
      f:write("syn ", k, " ", table.concat(row, " "), "\n")
    end
  end
  f:close()
end

local function worker(case, out, mode, file)
  local C = CASES[case]
  if mode == "refuse" then  -- what cannot be split: the same error on every rank
    local src = {
      rand = F.SMALL:gsub("exp_current with probability 0.1",
                          "{ on_pre: v_post += rand() * 0.1 mV } with probability 0.1"),
      synstate = F.SMALL:gsub("record rate of I", "record w of Plastic[0..3]"),
    }
    local ok, err = pcall(cj.network, src[case], { seed = 5 })
    local f = assert(io.open(out .. ".rank" .. cj.mpi.rank(), "w"))
    f:write(ok and "built" or tostring(err))
    f:close()
    return
  end
  cj.thread_grain(1)
  cj.thread_adapt(false)             -- the team size is asserted: no chunk on one thread
  if mode == "restore" or mode == "tryrestore" then
    local ok, net = pcall(cj.restore, file)
    if not ok and mode == "tryrestore" then   -- bad input: every rank must say why, none may hang
      local f = assert(io.open(out .. ".rank" .. cj.mpi.rank(), "w"))
      f:write(tostring(net))
      f:close()
      return
    end
    if not ok then error(net, 0) end
    net:run(C.dur / 2 * cj.second)
    dump(net, out .. ".rank" .. cj.mpi.rank())
    return
  end
  local net = C.load()
  if mode == "save" or mode == "trysave" then
    net:run(C.dur / 2 * cj.second)
    local ok, err = pcall(net.save, net, file)
    if not ok and mode == "trysave" then      -- a failure: every rank must say why
      local f = assert(io.open(out .. ".rank" .. cj.mpi.rank(), "w"))
      f:write(tostring(err))
      f:close()
      return
    end
    assert(ok, err)
    return
  end
  if mode == "fail" then    -- an error on the last rank only
    net:run(0.01 * cj.second)
    if cj.mpi.rank() == cj.mpi.size() - 1 then error("deliberate failure") end
    net:run(10 * cj.second)   -- the others wait in the exchange until aborted
    return
  end
  cj.mpi.stats(true)
  local left = C.dur
  for _, d in ipairs(C.pieces or {}) do
    net:run(d * cj.second)
    left = left - d
  end
  net:run(left * cj.second)
  local s = cj.mpi.stats()
  dump(net, out .. ".rank" .. cj.mpi.rank())
  local f = assert(io.open(out .. ".rank" .. cj.mpi.rank(), "a"))
  f:write("exchanges count ", s.exchanges, "\n")
  f:close()
end

if arg[1] == "worker" then
  worker(arg[2], arg[3], arg[4], arg[5])
  return
end

local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local self = arg[0]
local exe = os.getenv("CAJAL") or "./cajal"
local mpirun = os.getenv("MPIRUN") or ""
local tmp = os.tmpname()
os.remove(tmp)

local function readlines(path)
  local f = io.open(path)
  if not f then return nil end
  local t = {}
  for line in f:lines() do t[#t + 1] = line end
  f:close()
  return t
end

local function parse(lines)
  local r = { spikes = {}, state = {}, monitor = {}, syn = {}, team = {}, exchanges = {} }
  for _, line in ipairs(lines) do
    local kind, name, data = line:match("^(%S+) (%S+) ?(.*)$")
    if kind == "syn" then r.syn[#r.syn + 1] = name .. " " .. data
    else r[kind][name] = data end
  end
  return r
end

-- mpirun: in a container without network or terminal, as root in CI; up to
-- 4 ranks x 3 threads on 2 cores, so nobody may spin while waiting (OpenMP's
-- threads and MPI's polling would take the cores from the ranks that work).
-- In a build with sanitizers, the leaks Open MPI leaves at MPI_Finalize are
-- its own (lsan-mpi.supp; ignored by other builds).
local ENV = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
  .. "OMPI_MCA_btl=self,vader OMPI_MCA_mpi_yield_when_idle=1 OMP_WAIT_POLICY=passive "
  .. "LSAN_OPTIONS=suppressions=" .. srcdir .. "/tests/lua/lsan-mpi.supp:fast_unwind_on_malloc=0 "
local function launch(k, threads, args)
  local cmd = string.format("%sCAJAL_THREADS=%d %s --oversubscribe -n %d %s %s worker %s </dev/null >%s.log 2>&1",
                            ENV, threads, mpirun, k, exe, self, args, tmp)
  local ok = os.execute(cmd)
  return ok, table.concat(readlines(tmp .. ".log") or {}, "\n")
end

local function reference(case, mode, file)
  cj.threads(1)
  worker(case, tmp .. ".ref", mode, file)
  return parse(assert(readlines(tmp .. ".ref.rank0")))
end

-- Whether this cajal runs teams of threads (built with OpenMP).
local OMP = pcall(cj.threads, 2)
cj.threads(1)

-- The K ranks' files against the reference; each rank's steps ran on a
-- team of `threads` (1 without OpenMP).
local function check(ref, k, what, threads, exchanges)
  local all = {}
  for r = 0, k - 1 do
    local lines = readlines(tmp .. ".rank" .. r)
    assert(lines, what .. ": rank " .. r .. " wrote nothing")
    local got = parse(lines)
    os.remove(tmp .. ".rank" .. r)
    assert(tonumber(got.team.threads) == (OMP and threads or 1),
           string.format("%s: rank %d ran on %s threads, %d expected", what, r, got.team.threads, threads))
    if exchanges then
      assert(tonumber(got.exchanges.count) == exchanges, string.format("%s: rank %d exchanged %s times, %d expected",
                                                                      what, r, got.exchanges.count, exchanges))
    end
    for name, data in pairs(ref.spikes) do
      assert(got.spikes[name] == data, string.format("%s: rank %d: spikes of %s differ", what, r, name))
    end
    if r == 0 then
      for name, data in pairs(ref.state) do
        assert(got.state[name] == data, string.format("%s: rank 0: state %s differs", what, name))
      end
      for name, data in pairs(ref.monitor) do
        assert(got.monitor[name] == data, string.format("%s: rank 0: state monitor %s differs", what, name))
      end
    end
    for _, s in ipairs(got.syn) do all[#all + 1] = s end
  end
  -- the union in the reference's order: by projection, pre, then post
  local function key(s)
    local j, i, p = s:match("^(%d+) (%S+) (%S+)")
    return tonumber(j), tonumber(i), tonumber(p)
  end
  table.sort(all, function(a, b)
    local j1, i1, p1 = key(a)
    local j2, i2, p2 = key(b)
    if j1 ~= j2 then return j1 < j2 end
    if i1 ~= i2 then return i1 < i2 end
    return p1 < p2
  end)
  assert(#all == #ref.syn, string.format("%s: %d synapses over the ranks, %d on one", what, #all, #ref.syn))
  for s = 1, #all do
    assert(all[s] == ref.syn[s], string.format("%s: synapse %d: %s vs %s", what, s, all[s], ref.syn[s]))
  end
  return #all
end

-- The exchanges of a case on K > 1 ranks, counted independently of
-- netmpi.c: each run is cut into chunks of 100 steps ending at multiples of
-- 100 (cj_net_set_chunk's default), and a chunk into windows of C.window
-- steps, the last one shorter.
local function exchanges(C)
  local w, step, n = C.window or 1, 0, 0
  local runs = {}
  local left = C.dur
  for _, d in ipairs(C.pieces or {}) do runs[#runs + 1] = math.floor(d / 1e-4 + 0.5); left = left - d end
  runs[#runs + 1] = math.floor(left / 1e-4 + 0.5)
  for _, m in ipairs(runs) do
    local stop = step + m
    while step < stop do
      local e = math.min(stop, (step // 100 + 1) * 100)
      n = n + (e - step + w - 1) // w
      step = e
    end
  end
  return n
end

if not cj.mpi.available() then
  T.skiptest("networks across MPI ranks", "cajal was built without MPI (configure found no Open MPI: "
             .. "install libopenmpi-dev and openmpi-bin)")
elseif mpirun == "" then
  T.skiptest("networks across MPI ranks", "no mpirun was found by configure (install openmpi-bin)")
else
  for _, case in ipairs({ "cuba", "stdp", "delays", "blocks" }) do
    local ref = reference(case)
    local nspk = 0
    for _, data in pairs(ref.spikes) do nspk = nspk + select(2, data:gsub("|", "")) end
    for _, k in ipairs({ 1, 2, 4 }) do
      for _, threads in ipairs(k == 2 and { 1, 2, 3 } or { 1, 2 }) do
        T.test(string.format("%s on %d ranks x %d threads: the bits of one rank", case, k, threads), function()
          local ok, log = launch(k, threads, case .. " " .. tmp)
          assert(ok, "mpirun failed:\n" .. log)
          local n = check(ref, k, string.format("%s K=%d threads=%d", case, k, threads), threads,
                          k > 1 and exchanges(CASES[case]) or 0)
          assert(n > 1000, case .. ": too few synapses to mean anything: " .. n)
        end)
      end
    end
  end

  -- checkpoints: a save on K > 1 ranks is K + 1 files (PATH, rank 0's main
  -- file, and PATH.rankR, the synapses rank R held), a one-rank save one
  -- file; restored on any K', the run continues with the spikes of one
  -- uninterrupted one-rank run.
  local function exists(path)
    local f = io.open(path)
    if f then f:close() end
    return f ~= nil
  end
  local function removesave(file)
    os.remove(file)
    for r = 0, 7 do os.remove(file .. ".rank" .. r) end
  end
  local function saveat(case, k, file)
    removesave(file)
    if k == 1 then
      cj.threads(1)
      worker(case, tmp .. ".ref", "save", file)
    else
      local ok, log = launch(k, 1, case .. " " .. tmp .. " save " .. file)
      assert(ok, "mpirun (save) failed:\n" .. log)
    end
    assert(exists(file), "K = " .. k .. ": no " .. file)
    for r = 0, 7 do
      assert(exists(file .. ".rank" .. r) == (k > 1 and r < k), string.format("K = %d: part %d %s", k, r,
             exists(file .. ".rank" .. r) and "written" or "missing"))
    end
  end
  for _, case in ipairs({ "cuba", "stdp", "delays" }) do
    local ref = reference(case)           -- uninterrupted, one rank
    for _, plan in ipairs({ { 2, { 1, 4 } }, { 4, { 2, 1 } }, { 1, { 2 } } }) do
      local k, ks = plan[1], plan[2]
      T.test(string.format("%s: saved at K = %d, restored at K = %s, the spikes of one uninterrupted run", case, k,
                           table.concat(ks, " and K = ")), function()
        local file = tmp .. "." .. case .. ".save"
        saveat(case, k, file)
        for _, k2 in ipairs(ks) do
          local ok, log = launch(k2, 2, case .. " " .. tmp .. " restore " .. file)
          assert(ok, "mpirun (restore) failed:\n" .. log)
          check(ref, k2, string.format("%s saved at K=%d restored at K=%d", case, k, k2), 2)
        end
        removesave(file)
      end)
    end
  end

  -- Bad parts: each refused at K = 1 (in this process) and at K = 2 with the
  -- error caught by pcall on every rank: every rank must report it (the
  -- ranks agree on the failure), none may wait for another (a time limit).
  local function fnv(s)
    local h = 0xcbf29ce484222325
    for k = 1, #s do h = (h ~ s:byte(k)) * 0x100000001b3 end
    return h
  end
  local function reseal(s)            -- a valid checksum for altered bytes
    local body = s:sub(1, -9)
    return body .. string.pack("<i8", fnv(body))
  end
  local function set64(s, at, v) return s:sub(1, at - 1) .. string.pack("<i8", v) .. s:sub(at + 8) end
  local function trylaunch(k, args)
    local cmd = string.format("%stimeout -k 5 120 %s --oversubscribe -n %d %s %s worker %s </dev/null >%s.log 2>&1",
                              ENV, mpirun, k, exe, self, args, tmp)
    local ok = os.execute(cmd)
    return ok, table.concat(readlines(tmp .. ".log") or {}, "\n")
  end
  local function plain(s) return (s:gsub("%p", "%%%0")) end

  T.test("bad parts of a save across ranks are refused on every rank, naming the file and what was expected", function()
    local file, other, four = tmp .. ".bad.save", tmp .. ".other.save", tmp .. ".four.save"
    saveat("stdp", 2, file); saveat("stdp", 2, other); saveat("stdp", 4, four)
    local good = { [0] = T.readfile(file .. ".rank0"), T.readfile(file .. ".rank1") }
    local function refused(pattern, what)
      local ok, err = pcall(cj.restore, file)
      assert(not ok, what .. ": restored at K = 1")
      assert(tostring(err):find(pattern), what .. " at K = 1: " .. tostring(err))
      local done, log = trylaunch(2, "stdp " .. tmp .. " tryrestore " .. file)
      assert(done, what .. ": mpirun failed or hung:\n" .. log)
      for r = 0, 1 do
        local lines = assert(readlines(tmp .. ".rank" .. r), what .. ": rank " .. r .. " said nothing")
        local msg = table.concat(lines, "\n")
        os.remove(tmp .. ".rank" .. r)
        assert(msg:find(pattern) and msg:find("rank %d of 2"), string.format("%s, rank %d: %s", what, r, msg))
      end
    end
    os.remove(file .. ".rank1")
    refused("cannot open '" .. plain(file) .. "%.rank1'.-part 1 of the 2 of '" .. plain(file) .. "'", "a missing part")
    T.writefile(file .. ".rank1", good[1])
    T.writefile(file .. ".rank0", good[0]:sub(1, #good[0] // 2))
    refused("'" .. plain(file) .. "%.rank0' is corrupt or truncated", "a truncated part")
    T.writefile(file .. ".rank0", good[0])
    T.writefile(file .. ".rank1", T.readfile(other .. ".rank1"))
    refused("'" .. plain(file) .. "%.rank1' belongs to another save than '" .. plain(file) .. "'",
            "a part of another save")
    T.writefile(file .. ".rank1", T.readfile(four .. ".rank1"))
    refused("is part 1 of a save across 4 MPI ranks; expected part 1 of the 2", "a part of a save on 4 ranks")
    T.writefile(file .. ".rank1", good[0])
    refused("'" .. plain(file) .. "%.rank1' is part 0 of a save across 2 MPI ranks; expected part 1",
            "part 0 as part 1")
    -- part 1 claiming another range of post neurons (the first projection's
    -- range follows the 64-byte head: magic, format, id, K, rank, shape, step)
    local lo = string.unpack("<i8", good[1], 65)
    T.writefile(file .. ".rank1", reseal(set64(good[1], 65, lo + 1)))
    refused("holds projection '[%w_]+' onto neurons %[" .. (lo + 1) .. ", %d+%) of '[%w_]+'; part 1 of a save "
            .. "across 2 MPI ranks holds %[" .. lo .. ", %d+%)", "a part claiming another range")
    -- part 1's first synapse given part 0's first id (each part in order):
    -- found where both are read, on one rank
    local n0, n1 = string.unpack("<i8", good[0], 81), string.unpack("<i8", good[1], 81)
    assert(n0 > 0 and n1 > 0, "empty parts")
    T.writefile(file .. ".rank1", reseal(set64(good[1], 89, string.unpack("<i8", good[0], 89))))
    T.checkerror("the parts of '" .. file .. "' hold synapse " .. string.unpack("<i8", good[0], 89)
                 .. " of projection '", cj.restore, file)
    T.writefile(file .. ".rank1", good[1])
    T.checkerror("one rank's part of a network saved across MPI ranks", cj.restore, file .. ".rank0")
    assert(pcall(cj.restore, file), "the save restores again")
    removesave(file); removesave(other); removesave(four)
  end)

  T.test("a save that fails on one rank fails on every rank, and leaves no main file", function()
    local file = tmp .. ".failed.save"
    removesave(file)
    assert(os.execute("mkdir -p " .. T.shq(file .. ".rank1/x")))   -- rank 1 cannot rename its part onto it
    local done, log = trylaunch(2, "stdp " .. tmp .. " trysave " .. file)
    assert(done, "mpirun failed or hung:\n" .. log)
    for r = 0, 1 do
      local msg = table.concat(assert(readlines(tmp .. ".rank" .. r), "rank " .. r .. " said nothing"), "\n")
      os.remove(tmp .. ".rank" .. r)
      assert(msg:find("net:save: rank 1 of 2: cannot write '" .. plain(file) .. "%.rank1'"),
             "rank " .. r .. ": " .. msg)
    end
    assert(not exists(file), "a main file was written")
    local p = io.popen("ls -d " .. T.shq(file) .. "* 2>/dev/null")
    local left = p:read("a")
    p:close()
    os.execute("rm -rf " .. T.shq(file .. ".rank1"))
    removesave(file)
    assert(left:gsub("%s+$", "") == file .. ".rank0\n" .. file .. ".rank1" or left:gsub("%s+$", "") == file .. ".rank1",
           "left behind: " .. left)
  end)

  -- Hostile counts and indices in a part (the checksum made valid): each is
  -- refused with a message or restores and runs; none reads out of bounds.
  T.test("crafted values in a part are refused or harmless, never a crash", function()
    local file = tmp .. ".craft.save"
    saveat("stdp", 2, file)
    local good = T.readfile(file .. ".rank1")
    local refusedn, tried = 0, 0
    local function try(bytes)
      T.writefile(file .. ".rank1", reseal(bytes))
      tried = tried + 1
      local ok, net = pcall(cj.restore, file)
      if ok then   -- a value that restores must run, or stop with a message (a variable made NaN)
        local ran, err = pcall(net.run, net, 0.002 * cj.second)
        assert(ran or tostring(err):find("is NaN") or tostring(err):find("infinite"), tostring(err))
      else
        refusedn = refusedn + 1
      end
      assert(ok or tostring(net):find(plain(file)), tostring(net))
    end
    -- the head and counts (8-byte values), then ids, pre and post neurons
    -- and spikes in flight through the file (4-byte values)
    for at = 25, 1000, 8 do
      local v = string.unpack("<i8", good, at)
      for _, bad in ipairs({ -1, v + 1, v - 1, math.maxinteger, math.mininteger }) do try(set64(good, at, bad)) end
    end
    for at = 1001, #good - 12, (#good - 1000) // 97 * 4 + 4 do
      local v = string.unpack("<i4", good, at)
      for _, bad in ipairs({ -1, v + 1, 0x7fffffff }) do
        try(good:sub(1, at - 1) .. string.pack("<i4", bad) .. good:sub(at + 4))
      end
    end
    print(string.format("  (crafted parts: %d of %d refused)", refusedn, tried))
    assert(tried > 500 and refusedn > tried // 2, string.format("%d of %d refused", refusedn, tried))
    removesave(file)
  end)

  T.test("what cannot run split is refused on every rank, by name", function()
    for case, want in pairs({ rand = "draws random numbers", synstate = "state of synapses %('Plastic'%)" }) do
      worker(case, tmp, "refuse")                 -- one rank builds it
      assert(table.concat(assert(readlines(tmp .. ".rank0"))) == "built", case .. " on one rank")
      local ok, log = launch(2, 1, case .. " " .. tmp .. " refuse")
      assert(ok, "mpirun failed:\n" .. log)
      for r = 0, 1 do
        local msg = table.concat(assert(readlines(tmp .. ".rank" .. r)), "\n")
        os.remove(tmp .. ".rank" .. r)
        assert(msg:find(want), string.format("%s, rank %d: %s", case, r, msg))
        assert(msg:find("2 MPI ranks"), msg)
      end
    end
  end)

  T.test("an error on one rank stops all of them, naming the rank", function()
    local t0 = cj.clock()
    local ok, log = launch(2, 1, "cuba " .. tmp .. " fail")
    assert(not ok, "mpirun succeeded though a rank failed")
    assert(log:find("rank 1 of 2: .-deliberate failure"), "the message names no rank:\n" .. log)
    assert(cj.clock() - t0 < 60, "the ranks took " .. (cj.clock() - t0) .. " s to stop")
  end)

  T.test("cj.mpi without mpirun: rank 0 of 1; the partition covers every neuron once", function()
    assert(cj.mpi.rank() == 0 and cj.mpi.size() == 1)
    for _, n in ipairs({ 1, 7, 100, 4001 }) do
      for _, k in ipairs({ 1, 2, 3, 4, 8 }) do
        local next = 1
        for r = 0, k - 1 do
          local a, b = cj.mpi.range(n, r, k)
          assert(a == next, string.format("n=%d k=%d rank %d starts at %d, expected %d", n, k, r, a, next))
          assert(b - a + 1 == n // k + (r < n % k and 1 or 0))
          next = b + 1
        end
        assert(next == n + 1)
      end
    end
    T.checkerror("rank in 0 .. size - 1", cj.mpi.range, 10, 4, 4)
  end)
end
os.remove(tmp .. ".log"); os.remove(tmp .. ".ref.rank0")
T.done()
