-- regex.lua — cj.regex from Lua: compile, match, exec, find, gmatch,
-- findall, gsub, split, the conveniences, and errors. Where Lua patterns
-- can say the same thing, string.* is the independent oracle.
local T = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/testing.lua")
local cj = require "cajal"
local R = cj.regex

local function list(...) return table.pack(...) end
local function same(a, b, what)
  assert(a.n == b.n, (what or "") .. ": " .. a.n .. " vs " .. b.n .. " values")
  for i = 1, a.n do
    assert(a[i] == b[i], string.format("%s: value %d: %s vs %s", what or "", i,
      tostring(a[i]), tostring(b[i])))
  end
end

-- Pairs of equivalent patterns: Lua pattern, PCRE2 pattern.
local pairs_ = {
  { "%d+", "\\d+" }, { "%a*", "[A-Za-z]*" }, { "(%a)(%d)", "([A-Za-z])(\\d)" },
  { "x*", "x*" }, { "%s", "\\s" }, { "(b+)", "(b+)" }, { "a-b", "a*?b" },
  { "()b", "()b" }, { "", "" }, { "^a", "^a" }, { "%d$", "\\d$" },
}

local function randstr(rng, n)
  local cs = { "a", "b", "1", "2", " ", "x", "B" }
  local t = {}
  for i = 1, n do t[i] = cs[rng(#cs)] end
  return table.concat(t)
end

T.test("gsub, gmatch, find and match agree with string.* on random subjects", function()
  math.randomseed(7)
  local rng = math.random
  for trial = 1, 300 do
    local s = randstr(rng, rng(0, 12))
    for _, p in ipairs(pairs_) do
      local lp, rp = p[1], p[2]
      if lp == "()b" then goto continue end   -- position captures differ by design
      local re = R.compile(rp)
      same(list(s:gsub(lp, "<%0>")), list(re:gsub(s, "<%0>")), "gsub %0 " .. rp .. " on '" .. s .. "'")
      same(list(s:gsub(lp, "[%1]")), list(re:gsub(s, "[%1]")), "gsub %1 " .. rp)
      local f = function(...) return table.concat({ ... }, "|") end
      same(list(s:gsub(lp, f)), list(re:gsub(s, f)), "gsub fn " .. rp)
      same(list(s:gsub(lp, "-", 2)), list(re:gsub(s, "-", 2)), "gsub n " .. rp)
      for _, init in ipairs({ 1, 2, -1, -3, 0, #s + 1, #s + 2, -100 }) do
        if lp:sub(1, 1) == "^" and init ~= 1 then break end  -- PCRE2's ^ is the subject's start
        same(list(s:find(lp, init)), list(re:find(s, init)), "find " .. rp .. " init " .. init)
        same(list(s:match(lp, init)), list(re:match(s, init)), "match " .. rp .. " init " .. init)
      end
      local a, b = {}, {}
      if lp:sub(1, 1) == "^" then goto continue end  -- string.gmatch takes '^' literally
      for x, y in s:gmatch(lp) do a[#a + 1] = tostring(x) .. "/" .. tostring(y) end
      for x, y in re:gmatch(s) do b[#b + 1] = tostring(x) .. "/" .. tostring(y) end
      assert(table.concat(a, ",") == table.concat(b, ","), "gmatch " .. rp .. " on '" .. s .. "'")
      for _, init in ipairs({ 1, 2, -1, -3, 0, #s + 1, #s + 2, -100 }) do
      end
      ::continue::
    end
  end
end)

T.test("numbered and named groups; unset groups are false", function()
  local re = R.compile("(?<key>\\w+)=(?<val>\\d+)?")
  assert(re.ngroups == 2)
  assert(re.names.key == 1 and re.names.val == 2)
  local k, v = re:match("  abc=12")
  assert(k == "abc" and v == "12")
  k, v = re:match("abc=")
  assert(k == "abc" and v == false)
  local m = re:exec("xx ab=7 yy")
  assert(m.start == 4 and m.stop == 7, m.start .. " " .. m.stop)
  assert(m[1] == "ab" and m[2] == "7" and m.key == "ab" and m.val == "7")
  m = re:exec("q=")
  assert(m[2] == false and m.val == false and m.start == 1 and m.stop == 2)
  assert(re:exec("===") == nil)
  assert(re:match("===") == nil)
  -- duplicate names: the group that matched wins
  local d = R.compile("(?J)(?<n>a)|(?<n>b)")
  assert(d:exec("b").n == "b" and d:exec("a").n == "a")
end)

T.test("flags i m s x u", function()
  assert(R.compile("abc", "i"):match("xABCx") == "ABC")
  assert(R.compile("^b$", "m"):match("a\nb\nc") == "b")
  assert(R.compile("^b$"):match("a\nb\nc") == nil)
  assert(R.compile("a.c", "s"):match("a\nc") == "a\nc")
  assert(R.compile("a.c"):match("a\nc") == nil)
  assert(R.compile(" a b # comment", "x"):match("ab") == "ab")
  local u = R.compile("^(.)(.)$", "u")
  local a, b = u:match("é€")
  assert(a == "é" and b == "€")
  assert(R.compile("^(.)(.)$"):match("é€") == nil)
  assert(R.compile("\\w+", "u"):match("--grüße--") == "grüße")
  local re = R.compile("x", "ui")
  assert(re.flags == "iu" and tostring(re) == "regex /x/iu")
end)

T.test("init: ^ stays the subject's start, lookbehind sees text before init", function()
  assert(R.find("aa", "^a", 2) == nil)
  assert(R.find("aa", "\\Ga", 2) == 2, "\\G anchors at init")
  assert(R.find("ab", "(?<=a)b", 2) == 2)
  assert(R.find("abc", "c", -1) == 3 and R.find("abc", "a", 5) == nil)
end)

T.test("findall shapes: whole match, one group, several groups", function()
  local t = R.findall("a1 b22 c333", "\\d+")
  assert(#t == 3 and t[1] == "1" and t[3] == "333")
  t = R.compile("([a-z])\\d"):findall("a1 b22 c333")
  assert(#t == 3 and t[2] == "b")
  t = R.compile("([a-z])(\\d+)(x)?"):findall("a1 b22")
  assert(#t == 2 and t[2][1] == "b" and t[2][2] == "22" and t[2][3] == false)
  assert(#R.findall("", "a") == 0)
  t = R.findall("abcabc", "b", 3)
  assert(#t == 1)
end)

T.test("gsub templates: %0..%9, %{name}, %{n}, %%, tables, functions", function()
  local re = R.compile("(?<k>\\w+)=(?<v>\\w+)")
  assert(re:gsub("a=1, b=2", "%{v}=%{k}") == "1=a, 2=b")
  assert(re:gsub("a=1", "%2%1%0%%") == "1aa=1%")
  assert(re:gsub("a=1", "%{2}") == "1")
  assert(R.gsub("abc", "(x)?b", "[%1]") == "a[]c", "unset group gives ''")
  local s, n = R.gsub("$name is $age", "\\$(\\w+)", { name = "ann", age = 7 })
  assert(s == "ann is 7" and n == 2)
  s = R.gsub("$a $b", "\\$(\\w+)", { a = "x", b = false })
  assert(s == "x $b", "false keeps the match")
  s = R.gsub("1 2 3", "\\d", function(d) return d * 2 end)
  assert(s == "2 4 6")
  s = R.gsub("1 2 3", "\\d", function(d) if d ~= "2" then return "x" end end)
  assert(s == "x 2 x")
  s, n = R.gsub("aaa", "a", "b", 2)
  assert(s == "bba" and n == 2)
  s, n = R.gsub("aaa", "a", "b", 0)
  assert(s == "aaa" and n == 0)
  assert(R.gsub("a.b", "\\.", 5) == "a5b")
  assert(R.gsub("héllo", "", "-", nil) == "-h-\xc3-\xa9-l-l-o-", "bytes without u")
  assert(R.compile("", "u"):gsub("hé", "-") == "-h-é-", "characters with u")
  -- where an empty match would follow the previous match, a non-empty one
  -- at the same place is taken (as Perl does; Lua patterns cannot differ)
  assert(R.gsub("aa", "a*?", "<%0>") == "<><a><a>")
  assert(R.gsub("ab", "|b", "<%0>") == "<>a<><b>")
  -- the same regex used inside its own replacement function
  local w = R.compile("\\w+")
  assert(w:gsub("ab cd", function(x) return w:match(x .. "!") .. "." end) == "ab. cd.")
end)

T.test("gsub template errors are raised before matching", function()
  local re = R.compile("(a)")
  T.checkerror("invalid capture index %2 in replacement string", function() return re:gsub("xyz", "%2") end)
  T.checkerror("invalid use of '%' in replacement string", function() return re:gsub("a", "%x") end)
  T.checkerror("invalid use of '%' in replacement string", function() return re:gsub("a", "50%") end)
  T.checkerror("unknown group name 'nope'", function() return re:gsub("a", "%{nope}") end)
  T.checkerror("unclosed '%{'", function() return re:gsub("a", "%{1") end)
  T.checkerror("invalid replacement value (a table)", function() return re:gsub("a", function() return {} end) end)
  T.checkerror("bad argument #2 to 'gsub' (string/function/table expected, got boolean)",
    function() return re:gsub("a", true) end)
  -- each names gsub and the replacement argument (#2 as a method, #3 as a function)
  T.checkerror("bad argument #2 to 'gsub' (invalid capture index %2 in replacement string)",
    function() return re:gsub("xyz", "%2") end)
  T.checkerror("bad argument #3 to 'gsub' (invalid use of '%' in replacement string)",
    function() return R.gsub("a", "(a)", "50%") end)
  T.checkerror("bad argument #2 to 'gsub' (unknown group name 'nope' in replacement string)",
    function() return re:gsub("a", "%{nope}") end)
  T.checkerror("bad argument #2 to 'gsub' (unclosed '%{' in replacement string)",
    function() return re:gsub("a", "%{1") end)
  T.checkerror("bad argument #2 to 'gsub' (invalid replacement value (a boolean))",
    function() return re:gsub("a", { a = true }) end)
end)

T.test("split: pieces, max, empty matches, captures not included", function()
  local function j(t) return table.concat(t, "|") end
  assert(j(R.split("a, b,,c", ",\\s*")) == "a|b||c")
  assert(j(R.split(",a,", ",")) == "|a|")
  assert(#R.split("", ",") == 1 and R.split("", ",")[1] == "")
  assert(j(R.split("abc", "")) == "a|b|c")
  assert(j(R.split("a b  c", "\\s*")) == "a|b|c")
  assert(j(R.split("a1b2c3d", "\\d", 3)) == "a|b|c3d")
  assert(j(R.split("a1b", "\\d", 1)) == "a1b")
  assert(j(R.split("a1b", "(\\d)")) == "a|b")
  assert(j(R.compile("", "u"):split("é€")) == "é|€")
  T.checkerror("maximum number of pieces must be at least 1", function() return R.split("a", ",", 0) end)
end)

T.test("conveniences accept a compiled regex; escape quotes metacharacters", function()
  local re = R.compile("B", "i")
  assert(R.match("abc", re) == "b")
  assert(select(2, R.find("abc", re)) == 2)
  assert(R.exec("abc", re).start == 2)
  local n = 0
  for _ in R.gmatch("abcb", re) do n = n + 1 end
  assert(n == 2)
  n = 0
  for w in R.gmatch("one two three", "\\w+") do n = n + #w end
  assert(n == 11)
  local lit = "a.b*c(d)[e]{f}\\g|h^$?+ #"
  assert(R.match("xx" .. lit .. "yy", R.escape(lit)) == lit)
  assert(R.match("a\0b", R.escape("\0b")) == "\0b")
  assert(R.compile(R.escape(lit), "x"):match(lit) == lit, "escape is safe in extended mode")
end)

T.test("bad patterns, flags and arguments raise clear errors", function()
  T.checkerror("bad argument #1 to 'compile' (invalid regex at offset 3: missing closing parenthesis)",
    function() return R.compile("(ab") end)
  T.checkerror("bad argument #2 to 'match' (invalid regex at offset 0: quantifier does not follow a repeatable item)",
    function() return R.match("x", "+") end)
  T.checkerror("bad argument #2 to 'compile' (unknown regex flag 'g'", function() return R.compile("a", "g") end)
  T.checkerror("bad argument #2 to 'match' (string or regex expected, got number)", function() return R.match("x", 5) end)
  T.checkerror("bad argument #1 to 'compile' (string expected, got no value)", function() return R.compile() end)
  local u = R.compile("a", "u")
  T.checkerror("bad argument #1 to 'match' (invalid UTF-8 in subject at offset 1", function() return u:match("a\xff") end)
  T.checkerror("bad argument #2 to 'find' (start offset 1 is inside a UTF-8 character)", function() return u:find("éa", 2) end)
  T.checkerror("bad argument #1 to 'gsub' (invalid UTF-8", function() return u:gsub("\xff", "") end)
  T.checkerror("match limit exceeded", function() return R.match(string.rep("a", 60) .. "!", "^(\\w+\\s?)*$") end)
  T.checkerror("bad argument #1 to 'match' (cajal.regex expected, got string)", function() return R.compile("a").match("a") end)
end)

T.test("close frees the pattern; __close and help texts", function()
  local re = R.compile("a")
  re:close()
  re:close()
  T.checkerror("regex is closed", function() return re:match("a") end)
  assert(tostring(re) == "regex (closed)" and re.pattern == "a")
  do
    local r2 <close> = R.compile("b")
    assert(r2:match("abc") == "b")
  end
  local core = require "cajal.core"
  for _, k in ipairs({ "compile", "match", "find", "exec", "gmatch", "findall", "gsub", "split", "escape" }) do
    local d = core.doc(R[k])
    assert(d and d:find("^cj%.regex%." .. k), "help for " .. k)
  end
  for _, k in ipairs({ "match", "find", "exec", "gmatch", "findall", "gsub", "split", "close" }) do
    assert(core.doc(re[k]):find("^re:" .. k), "help for re:" .. k)
  end
  assert(type(R.compile("a").jit) == "boolean")
end)

T.test("large subjects and many matches", function()
  local s = string.rep("ab12 ", 200000)
  local n = 0
  for _ in R.gmatch(s, "\\d+") do n = n + 1 end
  assert(n == 200000)
  local out, c = R.gsub(s, "\\d+", "%0%0")
  assert(c == 200000 and #out == #s + 2 * 200000)
  assert(#R.split(s, " ") == 200001)
end)

T.done()
