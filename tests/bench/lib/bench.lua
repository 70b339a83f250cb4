-- tests/bench/lib/bench.lua — pieces shared by the benchmark pieces of
-- tests/bench (network.lua, vsbrian.lua): where the project and the peers
-- are, quoting, and running Brian2 through the peer script. Not a piece
-- itself (run.sh runs tests/bench/*.lua only); a piece loads it with
--   local B = dofile(<dir of the piece> .. "/lib/bench.lua")
--
-- The peers (../shared/peers from the project root) can be moved with the
-- environment variable CAJAL_PEERS; Brian2 runs under Debian's python,
-- /usr/bin/python3 (CAJAL_BENCH_PYTHON overrides).
local format = string.format
local B = {}

-- Directory of the running piece (absolute), from arg[0].
function B.script_dir()
  local d = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  if d:sub(1, 1) ~= "/" then d = (os.getenv("PWD") or ".") .. "/" .. d end
  return d
end

B.SRC = B.script_dir() .. "/../.."
B.PEERS = os.getenv("CAJAL_PEERS") or (B.SRC .. "/../shared/peers")
B.PYTHON = os.getenv("CAJAL_BENCH_PYTHON") or "/usr/bin/python3"

function B.shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function B.readfile(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The cajal running this piece (absolute when it was given with a path).
function B.cajal_path()
  local c = os.getenv("CAJAL") or (arg and arg[-1]) or "cajal"
  if c:find("/") and c:sub(1, 1) ~= "/" then c = (os.getenv("PWD") or ".") .. "/" .. c end
  return c
end

-- The median of a list of numbers (the list is not changed).
function B.median(t)
  local s = {}
  for k, v in ipairs(t) do s[k] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- The processor, as /proc/cpuinfo names it.
function B.cpu_model()
  local s = B.readfile("/proc/cpuinfo") or ""
  return s:match("model name%s*:%s*([^\n]*)") or "unknown processor"
end

-- A piece's child mode (one measurement in a fresh cajal; the piece is
-- network.lua unless named): prefix (environment, taskset) and arguments
-- after --child; the CHILD line as a table, or nil after a message on stderr.
function B.child(prefix, args, piece)
  local cmd = format("%s%s %s --child %s 2>&1", prefix, B.shq(B.cajal_path()),
    B.shq(B.SRC .. "/tests/bench/" .. (piece or "network.lua")), args)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local line = out:match("CHILD ([^\n]*)")
  if not line then
    io.stderr:write("bench child failed: ", cmd, "\n", out:sub(-2000), "\n")
    return nil
  end
  local r = {}
  for k, v in line:gmatch("(%S+)=(%S+)") do r[k] = tonumber(v) or v end
  return r
end

-- Brian2 cpp_standalone on the CUBA or COBA benchmark: the RESULT json of
-- the peer script as a flat table (numbers, strings), or nil and a reason.
-- prefix (optional) goes before the command (taskset -c 1, say).
function B.brian(model, N, T, prefix)
  local script = B.PEERS .. "/brian2_bench.py"
  if not B.readfile(script) then return nil, "no peer script " .. script end
  if not B.readfile(B.PYTHON) then return nil, "no " .. B.PYTHON end
  local cmd = format("%s%s %s --model %s --N %d --target cpp_standalone --duration %g 2>&1",
    prefix or "", B.PYTHON, B.shq(script), model, N, T)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local json = out:match("RESULT (%b{})")
  if not json then return nil, format("brian2 failed (%s):\n%s", cmd, out:sub(-2000)) end
  local r = {}
  for k, v in json:gmatch('"([%w_]+)":%s*([^,}]+)') do
    v = v:gsub('^"', ""):gsub('"$', "")
    r[k] = tonumber(v) or v
  end
  return r
end

return B
