-- cajal.repl — the Lua half of the REPL (vm/host/repl.c): how results are
-- printed and which names complete.
--
--   init()               puts `cj` (the cajal module) and `help` into _G
--   show(...)            the text the REPL prints for a call's results
--   complete(line, width) -> insert, listing   for the TAB key
--
-- Values print readably: strings quoted, tables as { 1, 2, a = 1, [k] = v }
-- cut after MAXITEMS entries or MAXDEPTH levels, anything with __tostring
-- (arrays, quantities) through it, several results separated by tabs.
local M = {}

local type, pairs, tostring, rawget, rawlen = type, pairs, tostring, rawget, rawlen
local getmetatable = debug.getmetatable
local sort, concat, format = table.sort, table.concat, string.format
local mathtype = math.type

M.MAXITEMS = 20     -- entries shown per table
M.MAXDEPTH = 3      -- nesting levels shown
M.MAXSTRING = 80    -- characters of a string shown inside a table
M.MAXLIST = 100     -- names listed by an ambiguous TAB

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local
  nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function isname(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not keywords[s]
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t",
                  ["\r"] = "\\r", ["\0"] = "\\0" }

-- s as a double-quoted Lua string literal, cut to max characters when given.
local function quote(s, max)
  local cut = ""
  if max and #s > max then s, cut = s:sub(1, max), "..." end
  s = s:gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\%03d", c:byte())
  end)
  return '"' .. s .. '"' .. cut
end

local function hasmeta(v, name)
  local mt = getmetatable(v)
  return mt ~= nil and rawget(mt, name) ~= nil
end

-- Order of keys outside the array part: numbers, strings, then the rest.
local rank = { number = 1, string = 2 }
local function keyless(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (rank[ta] or 3) < (rank[tb] or 3) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local show

local function showtable(t, depth, seen)
  if seen[t] then return "<cycle>" end
  if depth >= M.MAXDEPTH then return "{...}" end
  seen[t] = true
  local n = rawlen(t)
  local items, shown, total = {}, 0, 0
  for i = 1, n do
    total = total + 1
    if shown < M.MAXITEMS then
      shown = shown + 1
      items[shown] = show(rawget(t, i), depth + 1, seen, true)
    end
  end
  local keys = {}
  for k in next, t do
    if not (mathtype(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  total = total + #keys
  if shown < M.MAXITEMS and #keys > 0 then
    sort(keys, keyless)
    for _, k in ipairs(keys) do
      if shown >= M.MAXITEMS then break end
      shown = shown + 1
      local ks = isname(k) and k or "[" .. show(k, depth + 1, seen, true) .. "]"
      items[shown] = ks .. " = " .. show(rawget(t, k), depth + 1, seen, true)
    end
  end
  seen[t] = nil
  if total > shown then items[#items + 1] = format("... (%d more)", total - shown) end
  if #items == 0 then return "{}" end
  return "{ " .. concat(items, ", ") .. " }"
end

-- One value as text. Inside a table (nested) long strings are cut.
function show(v, depth, seen, nested)
  local t = type(v)
  if t == "string" then return quote(v, nested and M.MAXSTRING or nil) end
  if t == "table" and not hasmeta(v, "__tostring") and not hasmeta(v, "__name") then
    return showtable(v, depth or 0, seen or {})
  end
  return tostring(v)
end

-- show(...) -> text: each result shown, separated by tabs.
function M.show(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = show((select(i, ...))) end
  return concat(out, "\t")
end

-- ---- completion ------------------------------------------------------------

-- v[k] without raising (an __index function may fail).
local function get(v, k)
  local tv = type(v)
  if tv ~= "table" and tv ~= "userdata" and tv ~= "string" then return nil end
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
  return nil
end

local function callable(v)
  return type(v) == "function" or hasmeta(v, "__call")
end

-- Names reachable from v with '.' (or ':' when methods): its own fields,
-- its metatables' __index tables (followed), names listed by a metatable's
-- __complete (a table, or a function(v) returning one), and, when __index
-- is a function, the metatable's own non-metamethod names and the tables
-- among the function's upvalues (the places bindings keep methods).
local function addnames(v, out, seen, inherited)
  if v == nil or seen[v] then return end
  seen[v] = true
  if type(v) == "table" then
    for k in next, v do         -- metamethods of a metatable used as __index stay hidden
      if isname(k) and not (inherited and k:match("^__")) then out[k] = true end
    end
  end
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return end
  local idx = rawget(mt, "__index")
  if type(idx) == "table" then
    addnames(idx, out, seen, true)
  elseif idx ~= nil then
    for k in next, mt do
      if isname(k) and not k:match("^__") then out[k] = true end
    end
    if type(idx) == "function" then          -- methods kept in an upvalue
      for i = 1, 8 do
        local name, up = debug.getupvalue(idx, i)
        if name == nil then break end
        if type(up) == "table" and up ~= _G then addnames(up, out, seen, true) end
      end
    end
  end
  local extra = rawget(mt, "__complete")
  if type(extra) == "function" then
    local ok, r = pcall(extra, v)
    extra = ok and r or nil
  end
  if type(extra) == "table" then
    for _, k in ipairs(extra) do
      if isname(k) then out[k] = true end
    end
  end
end

-- names(v) -> sorted list of the names reachable from v with '.'
function M.names(v)
  local set, list = {}, {}
  addnames(v, set, {})
  for k in pairs(set) do list[#list + 1] = k end
  sort(list)
  return list
end

-- Candidates for the word at the end of line: the word typed so far and
-- the sorted full names that extend it.
local function candidates(line)
  local chain = line:match("[%w_.:]*$")
  local path, sep, word = chain:match("^(.-)([.:]?)([%w_]*)$")
  local names, seen = {}, {}
  if sep == "" then
    if chain:match("^%d") then return word, {} end
    addnames(_G, names, seen)
    for k in pairs(keywords) do names[k] = true end
  else
    local v = _G
    for part in (path .. "."):gmatch("(.-)%.") do
      if not isname(part) then return word, {} end
      v = get(v, part)
      if v == nil then return word, {} end
    end
    addnames(v, names, seen)
    if sep == ":" then
      for k in pairs(names) do
        if not callable(get(v, k)) then names[k] = nil end
      end
    end
  end
  local list = {}
  for k in pairs(names) do
    if k:sub(1, #word) == word then list[#list + 1] = k end
  end
  sort(list)
  return word, list
end

local function commonprefix(list)
  local p = list[1]
  for i = 2, #list do
    local s = list[i]
    local j = 0
    while j < #p and j < #s and p:byte(j + 1) == s:byte(j + 1) do j = j + 1 end
    p = p:sub(1, j)
  end
  return p
end

-- The names laid out in columns no wider than width (text ends with "\n").
local function columns(list, width)
  local w = 0
  for _, s in ipairs(list) do w = math.max(w, #s) end
  w = w + 2
  local ncol = math.max(1, (width or 80) // w)
  local nrow = (#list + ncol - 1) // ncol
  local rows = {}
  for r = 1, nrow do
    local cells = {}
    for c = 1, ncol do
      local s = list[(c - 1) * nrow + r]
      if s then cells[#cells + 1] = s .. string.rep(" ", w - #s) end
    end
    rows[r] = concat(cells):gsub("%s+$", "")
  end
  return concat(rows, "\n") .. "\n"
end

M.columns = columns

-- complete(line, width) -> insert, listing
-- insert: the text to add at the cursor ("" if none); listing: the
-- candidates in columns when the TAB is ambiguous (nil otherwise).
function M.complete(line, width)
  local word, list = candidates(line)
  if #list == 0 then return "", nil end
  local p = commonprefix(list)
  if #p > #word then return p:sub(#word + 1), nil end
  if #list == 1 then return "", nil end
  local more = #list - M.MAXLIST
  if more > 0 then
    for i = #list, M.MAXLIST + 1, -1 do list[i] = nil end
    return "", columns(list, width) .. format("... and %d more: type more letters\n", more)
  end
  return "", columns(list, width)
end

-- candidates(line) -> word, names: the word before the end of line and
-- the sorted names that complete it (a Jupyter kernel's matches).
M.candidates = candidates

-- inspect(code, pos) -> text | nil: help for the name around byte pos
-- (0-based, as a cursor) of code: the help text of its value, the REPL's
-- view of a value without help, or the help of a cajal name or topic.
function M.inspect(code, pos)
  local before = code:sub(1, pos):match("[%w_.:]*$")
  local after = code:sub(pos + 1):match("^[%w_]*")
  local chain = (before .. after):gsub("^[.:]+", ""):gsub("[.:]+$", "")
  if chain == "" then return nil end
  local v = _G
  for part in chain:gmatch("[^.:]+") do
    if not isname(part) then v = nil; break end
    v = get(v, part)
    if v == nil then break end
  end
  local ok, h = pcall(require, "cajal.help")
  if not ok or type(h) ~= "table" or not h.text then return nil end
  if v == nil then
    local text = h.text(chain)
    if text:match("^no help for") then return nil end
    return text
  end
  local tv = type(v)
  local text = h.text(v)
  if tv ~= "function" and tv ~= "table" and text:match("^no help for") then
    return chain .. " = " .. show(v) .. " (" .. tv .. ")\n"
  end
  return text
end

-- Puts the REPL's globals in place: cj (the cajal module) and help.
function M.init()
  local ok, cj = pcall(require, "cajal")
  if ok then
    rawset(_G, "cj", cj)
    local okh, help = pcall(function() return cj.help end)
    if okh and help then rawset(_G, "help", help) end
  else
    io.stderr:write("cajal: cannot load the cajal module: ", tostring(cj), "\n")
  end
  if rawget(_G, "help") == nil then
    local okh, h = pcall(require, "cajal.help")
    if okh and type(h) == "table" then rawset(_G, "help", h.help) end
  end
end

local ok, core = pcall(require, "cajal.core")
if ok and core.doc then
  core.doc(M.show, "cajal.repl.show(...) -> string\nThe text the REPL prints for these values: strings quoted, tables\nas { a = 1, ... } (cut when large or deep), results separated by tabs.")
  core.doc(M.complete, "cajal.repl.complete(line [, width]) -> insert, listing\nTAB completion: the text to insert after the cursor, or the candidate\nnames in columns when several fit.")
  core.doc(M.names, "cajal.repl.names(v) -> { name, ... }\nThe names reachable from v with '.' (its fields and, through metatables, its\n__index tables and methods), sorted: what TAB completion offers.")
  core.doc(M.columns, "cajal.repl.columns(names [, width]) -> text\nThe names laid out in columns, " ..
    "down then across, in lines no wider than width (default 80),\nas TAB lists them.")
  core.doc(M.candidates, "cajal.repl.candidates(line) -> word, names\nThe word before the end of line and the sorted names that complete it.")
  core.doc(M.inspect, "cajal.repl.inspect(code, pos) -> text | nil\nHelp for the name around byte offset pos of code (a notebook's Shift-Tab).")
  core.doc(M.init, "cajal.repl.init()\nDefine the REPL's globals: cj (the cajal module) and help.")
end

return M
