-- grammar/cajal.lua — the LPeg grammar of the cajal network language.
--
-- First stage of the model compiler (grammar -> check -> lower -> emit):
-- text in, a plain-table AST with a source position on every node out
-- (grammar/AST.md is the contract; man/cajal-lang.7 the language). It checks
-- syntax, reserved words and the shape of declarations, nothing else, and it
-- generates no code.
--
-- Errors are raised from inside the match (re.lua's patt_error trick): once a
-- construct is recognised by its first token, a missing piece raises a table
-- {pos, msg} that parse() turns into "file:line:col: message near 'token'"
-- plus the source line and a caret. A pre-scan rejects bad bytes and runaway
-- nesting before LPeg sees the text, so hostile input gives errors, never
-- crashes or stack overflows.
--
-- The language's vocabularies that later stages share come from their one
-- table: function names from cajal.functions, integration methods from
-- cajal.integrate.
local lpeg = require "lpeg"

local P, R, S, V = lpeg.P, lpeg.R, lpeg.S, lpeg.V
local C, Cc, Cp, Ct, Cmt, Carg = lpeg.C, lpeg.Cc, lpeg.Cp, lpeg.Ct, lpeg.Cmt, lpeg.Carg
local concat, format = table.concat, string.format
local sort, type, pairs, ipairs, tostring = table.sort, type, pairs, ipairs, tostring
local pcall, error, setmetatable, tonumber = pcall, error, setmetatable, tonumber

local M = {}

local function wordset(text)
  local set, list = {}, {}
  for w in text:gmatch("%S+") do set[w] = true; list[#list + 1] = w end
  return set, list
end

-- Words that can never be names (man/cajal-lang.7, "Reserved words").
local reserved = wordset [[
  and or not if then else
  import neuron synapse population connect record drive
  parameters state input output postsynaptic equations method
  spike when reset refractory clamp none on_pre on_post on_spike
  with from arrays weight delay onto self_connections
  all_to_all one_to_one probability in_degree out_degree
  every to of as scale ]]
-- Names with a built-in meaning in expressions: usable, never declared.
local builtins = wordset [[ t dt i j N N_pre N_post pi xi lastspike
  refractory not_refractory ]]
-- The fixed list of functions a model may call: the names of cajal.functions.
local functions = {}
for name in pairs(require "cajal.functions") do functions[name] = true end
-- The integration methods: cajal.integrate's list.
local integrate = require "cajal.integrate"
local methods = integrate.ISMETHOD
local _, toplist = wordset [[ import neuron synapse population connect record
  drive parameters dt seed ]]
local settings = { dt = true, seed = true }
local blockwords = {
  neuron = wordset "parameters state input equations spike reset refractory method",
  synapse = wordset [[ parameters state postsynaptic equations on_pre on_spike
    on_post output method ]],
}
local blocklists = {}
for kind, set in pairs(blockwords) do
  local l = {}
  for w in pairs(set) do l[#l + 1] = w end
  sort(l)
  blocklists[kind] = l
end

-- Nesting of ( [ { accepted by the pre-scan. Each level costs LPeg about ten
-- backtrack-stack entries, hence the larger LPeg limit (a global setting of
-- the lpeg module, raised, never lowered, from its default of 400).
local MAXDEPTH = 100
lpeg.setmaxstack(2000)

------------------------------------------------------------------------------
-- Positions, suggestions and error messages
------------------------------------------------------------------------------

-- Line number and start of the line holding byte pos.
local function lineof(src, pos)
  local line, start = 1, 1
  while true do
    local nl = src:find("\n", start, true)
    if not nl or nl >= pos then return line, start end
    line, start = line + 1, nl + 1
  end
end

-- The one edit distance of the compiler (the grammar's suggestions and
-- check.lua's use it): optimal string alignment, i.e. Levenshtein with a
-- swap of two neighbours as one edit (Ecx -> Exc is one edit). Huge for
-- words over 64 bytes.
local function distance(a, b)
  local la, lb = #a, #b
  if la > 64 or lb > 64 then return math.huge end
  local d = {}
  for q = 0, la do d[q] = { [0] = q } end
  for j = 0, lb do d[0][j] = j end
  for q = 1, la do
    local ca = a:byte(q)
    for j = 1, lb do
      local cb = b:byte(j)
      local v = math.min(d[q - 1][j] + 1, d[q][j - 1] + 1, d[q - 1][j - 1] + (ca == cb and 0 or 1))
      if q > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(q - 1) == cb then
        v = math.min(v, d[q - 2][j - 2] + 1)
      end
      d[q][j] = v
    end
  end
  return d[la][lb]
end
M.distance = distance

-- The candidate nearest to word, if near enough to be a likely typo: within
-- #word // 3 edits (at least 1, at most 3, fewer than #word); else the one
-- candidate that extends word (tau -> tau_m); else nil. candidates: a list
-- or a set-like table of strings (keys).
function M.suggest(word, candidates)
  local best, bestd = nil, math.huge
  local limit = math.min(#word - 1, math.max(1, math.min(3, #word // 3)))
  for k, v in pairs(candidates) do
    local c = type(k) == "string" and k or v
    if type(c) == "string" and c ~= word then
      local d = distance(word, c)
      if d < bestd or (d == bestd and best and c < best) then best, bestd = c, d end
    end
  end
  if best and bestd <= limit then return best end
  local ext
  if #word >= 3 then
    for k, v in pairs(candidates) do
      local c = type(k) == "string" and k or v
      if type(c) == "string" and c:sub(1, #word) == word and c ~= word then
        if ext then return nil end
        ext = c
      end
    end
  end
  return ext
end

local function didyoumean(word, candidates)
  local s = M.suggest(word, candidates)
  return s and format(" (did you mean '%s'?)", s) or ""
end

-- A byte shown safely: control bytes and stray high bytes as <\ddd>.
local function showbyte(b)
  if b == 0 then return "<\\0>" end
  return format("<\\%d>", b)
end

-- Length of the valid UTF-8 sequence at i (0 if invalid).
local function utf8len(s, i)
  local c = s:byte(i)
  if not c then return 0 end
  if c < 0x80 then return 1 end
  local n = c >= 0xF0 and c <= 0xF4 and 4 or c >= 0xE0 and 3 or c >= 0xC2 and c < 0xE0 and 2 or 0
  if n == 0 then return 0 end
  for k = 1, n - 1 do
    local d = s:byte(i + k)
    if not d or d < 0x80 or d > 0xBF then return 0 end
  end
  if utf8.len(s:sub(i, i + n - 1)) ~= 1 then return 0 end
  return n
end

-- The token at pos, for "near '...'" (nil at the end of the text).
local function neartoken(src, pos)
  if pos > #src then return nil end
  local c = src:sub(pos, pos)
  if c == "\n" then return "\n" end
  local tok = src:match("^[%a_][%w_]*", pos) or src:match("^%d[%w.]*", pos)
    or src:match('^"[^"\n]*"?', pos)
    or src:match("^%->", pos) or src:match("^%.%.", pos) or src:match("^[<>=!~+%-*/]=", pos)
    or src:match("^%*%*", pos) or src:match("^&&", pos) or src:match("^||", pos)
  if not tok then
    local b = src:byte(pos)
    if b < 32 or b == 127 then return showbyte(b) end
    local n = utf8len(src, pos)
    if n == 0 then return showbyte(b) end
    tok = src:sub(pos, pos + n - 1)
  end
  if #tok > 40 then tok = tok:sub(1, 37) .. "..." end
  return tok
end

-- The source line made printable, and the caret line under byte pos.
local function showline(src, start, pos)
  local stop = (src:find("\n", start, true) or #src + 1) - 1
  if src:byte(stop) == 13 then stop = stop - 1 end
  local shown, under = {}, {}
  local i, col = start, 1
  while i <= stop do
    local b = src:byte(i)
    local n = utf8len(src, i)
    local piece
    if b == 9 then piece = "\t"
    elseif n == 0 or b < 32 or b == 127 then piece, n = "?", 1
    else piece = src:sub(i, i + n - 1) end
    if i < pos then under[#under + 1] = b == 9 and "\t" or " "; col = col + 1 end
    shown[#shown + 1] = piece
    i = i + n
  end
  -- very long lines: keep a window around the column
  local first = 1
  if col > 120 then first = col - 80 end
  local last = math.min(#shown, first + 199)
  local line = concat(shown, "", first, math.max(last, first - 1))
  local caret = concat(under, "", first, #under)
  if first > 1 then line = "..." .. line; caret = "   " .. caret end
  if last < #shown then line = line .. "..." end
  return line, caret .. "^", col
end

-- __name marks a model error for the host: it prints the text alone, without a
-- traceback of the compiler's Lua files (vm/host/main.c, msghandler).
local errmeta = { __tostring = function(e) return e.text end, __name = "cajal.modelerror" }

-- An error table for byte pos of src (see AST.md, "Errors").
local function mkerror(file, src, pos, msg, withnear)
  if pos < 1 then pos = 1 end
  if pos > #src + 1 then pos = #src + 1 end
  local line, start = lineof(src, pos)
  local shown, caret, col = showline(src, start, pos)
  local near = neartoken(src, pos)
  local head = format("%s:%d:%d: %s", file, line, col, msg)
  if withnear then
    if near == nil then head = head .. " near <eof>"
    elseif near == "\n" then head = head .. " near end of line"
    else head = head .. " near '" .. near .. "'" end
  end
  return setmetatable({ file = file, line = line, col = col, pos = pos, msg = msg,
    near = near ~= "\n" and near or nil, text = head .. "\n" .. shown .. "\n" .. caret },
    errmeta)
end

-- error_at(root_or_source, pos, msg [, near [, file]]): an error formatted like
-- the parser's, for the compiler's semantic errors.
function M.error_at(root, pos, msg, near, file)
  local src
  if type(root) == "table" then
    src, file = root.source, file or root.file
  else
    src = root
  end
  if type(src) ~= "string" then
    error("bad argument #1 to 'error_at' (file node or source string expected)", 2)
  end
  if type(pos) ~= "number" then
    error("bad argument #2 to 'error_at' (position expected, got " .. type(pos) .. ")", 2)
  end
  return mkerror(file or "?", src, math.floor(pos), tostring(msg), near)
end

------------------------------------------------------------------------------
-- Raising from inside the match
--
-- Match-time captures (Cmt) are used only as predicates: they return true or
-- false (or raise) and never values, because LPeg keeps values returned by
-- Cmt on a stack limited to 32k entries. Nodes are built by function
-- captures; each top-level item is handed to a Cmt that stores it in st.body,
-- which forces its captures (and the errors they raise) item by item.
--
-- st is the state of one parse (M.parse makes it): the source, the body
-- being built, the brackets of the pre-scan and the positions the error
-- messages need. It is passed to lpeg.match as its extra argument and
-- reaches every function here as Carg(1), as re.lua passes its
-- definitions: the module keeps no state between parses, so parses cannot
-- disturb each other.
------------------------------------------------------------------------------

local SYNTAX = {}   -- marks our error tables apart from LPeg's own errors

local function raise(pos, msg, nonear)
  error({ [SYNTAX] = true, pos = pos, msg = msg, nonear = nonear }, 0)
end

-- A pattern that raises msg at the current position (msg may be a function
-- of the subject, the position and the parse state).
local function E(msg)
  return Cmt(Carg(1), function(s, p, st)
    raise(p, type(msg) == "function" and msg(s, p, st) or msg)
  end)
end

local function expect(patt, msg) return patt + E(msg) end

-- A predicate on the text matched by patt: f(s, p, start, text) returns
-- true to accept, false to fail, or raises. Produces no captures.
local function check(patt, f)
  return Cmt(Cp() * patt, function(s, p, start)
    return f(s, p, start, s:sub(start, p - 1)) and true or false
  end)
end

-- Position of the innermost bracket ch ('(' '[' '{') still open at p.
local function opener(st, p, ch)
  local opens = st.opens or {}
  for k = #opens, 1, -1 do
    local o = opens[k]
    if o.pos < p and o.ch == ch and (not o.close or o.close >= p) then return o.pos end
  end
  return nil
end

-- The closing bracket of a construct: on failure, "expected '}' to close
-- <what> opened at line N", what = describe(s, openpos).
local openof = { [")"] = "(", ["]"] = "[", ["}"] = "{" }
local function closing(ch, describe)
  return P(ch) + E(function(s, p, st)
    local o = opener(st, p, openof[ch])
    if not o then return format("expected '%s'", ch) end
    return format("expected '%s' to close %s opened at line %d", ch, describe(s, o),
      (lineof(s, o)))
  end)
end

-- The word right before position o (a model or function name before its bracket).
local function wordbefore(s, o)
  return s:sub(math.max(1, o - 80), o - 1):match("([%a_][%w_]*)[ \t]*$")
end

------------------------------------------------------------------------------
-- Lexical elements
------------------------------------------------------------------------------

local digit = R"09"
local idstart = R("az", "AZ") + "_"
local idchar = idstart + digit
local ident = idstart * idchar^0
local comment = "#" * (1 - P"\n")^0
-- A newline inside ( ) or [ ] is plain space (st.joined, from the pre-scan);
-- elsewhere it ends a statement.
local joined = Cmt(P"\n" * Carg(1), function(_, p, st) return st.joined[p - 1] == true end)
local hsp = (S" \t\r\f" + comment + joined)^0  -- space within a statement
local ws = (S" \t\r\f\n" + comment)^0         -- space across lines
local EOF = -P(1)

local function sym(s) return P(s) * hsp end   -- a token; the statement goes on
local function symc(s) return P(s) * ws end   -- a token after which a line may break
local function kw(w) return P(w) * -idchar * hsp end

local function prefixed(w)
  return w:sub(1, 3) == "cj_" and "cj_" or w:sub(1, 2) == "__" and "__" or nil
end

-- A name (captured as a string): never a reserved word; cj_ and __ raise.
local name = C(check(ident, function(_, _, start, w)
  if reserved[w] then return false end
  local pre = prefixed(w)
  if pre then raise(start, format("names may not start with '%s' ('%s')", pre, w), true) end
  return true
end))

-- A name being declared (captured): reserved words, built-ins, cj_/__ and
-- the _pre/_post suffixes raise. what: "parameter", "population", ...
local function declname(what)
  return C(check(ident, function(s, p, start, w)
    if reserved[w] then
      -- "weight = 1" in a block: say why; otherwise the enclosing construct
      -- reports what it expected there.
      if s:find("^[ \t]*=[^=]", p) then
        raise(start, format("'%s' is a reserved word and cannot be a %s name", w, what), true)
      end
      return false
    end
    local pre = prefixed(w)
    if pre then
      raise(start, format("the %s name '%s' starts with '%s', which is reserved", what, w, pre), true)
    end
    if builtins[w] then
      raise(start, format("cannot declare '%s': it is a built-in name", w), true)
    end
    local suffix = w:match("^.+_(pre)$") or w:match("^.+_(post)$")
    if suffix then
      raise(start, format("the %s name '%s' ends in '_%s', which refers to the %ssynaptic neuron",
        what, w, suffix, suffix), true)
    end
    return true
  end)) * hsp
end

-- A reference to a name in an expression or as an assignment target.
local function refnode(pos, w)
  local base = w:match("^(.+)_pre$")
  if base then return { tag = "name", pos = pos, name = base, side = "pre" } end
  base = w:match("^(.+)_post$")
  if base then return { tag = "name", pos = pos, name = base, side = "post" } end
  return { tag = "name", pos = pos, name = w }
end
local ref = Cp() * name * hsp / refnode

-- Numbers: 3  0.5  .5  1e-3  (a '.' followed by '.' belongs to a slice).
local numlit = (digit^1 * ("." * -P"." * digit^0)^-1 + "." * digit^1)
  * (S"eE" * S"+-"^-1 * digit^1)^-1
local numtext = C(check(numlit, function(_, _, start, text)
  local v = tonumber(text)
  if not v or v ~= v or v == math.huge then
    raise(start, format("number out of range: '%s'",
      #text > 30 and text:sub(1, 27) .. "..." or text), true)
  end
  return true
end))

-- A unit right after a number, written without spaces: mV  uF/cm^2  ms^-1
local usym = C(check(ident, function(_, _, _, w) return not reserved[w] end))
local ufactor = usym * (P"^" * C(P"-"^-1 * digit^1) + Cc("1"))
local function unitnode(pos, text, ...)
  local parts, factors, sign = { ... }, {}, 1
  for k = 1, #parts, 3 do   -- name, exp, op, name, exp, ...
    factors[#factors + 1] = { name = parts[k], exp = sign * tonumber(parts[k + 1]) }
    if parts[k + 2] then sign = parts[k + 2] == "/" and -1 or 1 end
  end
  return { tag = "unit", pos = pos, text = text, factors = factors }
end
local unit = Cp() * C(ufactor * (C(S"*/") * ufactor)^0) / unitnode
-- after "input X :", a unit or 1 (dimensionless)
local declunit = (Cp() * P"1" * -idchar / function(pos)
  return { tag = "unit", pos = pos, text = "1", factors = {} }
end + unit) * hsp

-- st.afternum: where the last number without a unit ended (for the message
-- "expected a unit or an operator after number").
local afternum = Cmt(Carg(1), function(_, p, st) st.afternum = p; return true end)
local number = Cp() * numtext * hsp * (unit * hsp + Cc(nil) * afternum)
  / function(pos, text, u)
    return { tag = "num", pos = pos, value = tonumber(text) + 0.0, text = text, unit = u }
  end

local str = Cp() * '"' * C((P"\\" * (1 - P"\n") + (1 - S'"\\\n'))^0)
  * expect('"', "unterminated string") * hsp
  / function(pos, body)
    return (body:gsub("\\(.)", function(c)
      if c == '"' or c == "\\" then return c end
      raise(pos, format("invalid escape '\\%s' in a string (only \\\" and \\\\)", c), true)
    end))
  end

------------------------------------------------------------------------------
-- Node builders
------------------------------------------------------------------------------

-- Expressions are recognised by one rule per precedence level but captured
-- flat (operands, {bin = op} and {pre = op} tokens), and built here by
-- precedence climbing: LPeg limits the nesting of captures to 200 levels, and
-- a capture per level would spend that limit ten times faster.
local binprec = { ["or"] = 1, ["and"] = 2, ["<"] = 4, ["<="] = 4, [">"] = 4, [">="] = 4,
  ["=="] = 4, ["!="] = 4, ["+"] = 5, ["-"] = 5, ["*"] = 6, ["/"] = 6, ["^"] = 8 }
local preprec = { ["not"] = 3, ["-"] = 7 }

local function buildexpr(list)
  local k = 1
  local climb
  local function prefix()
    local tok = list[k]
    k = k + 1
    if tok.pre then
      local arg = climb(preprec[tok.pre])
      return { tag = "unop", pos = tok.pos, op = tok.pre, arg = arg }
    end
    return tok
  end
  function climb(minprec)
    local lhs = prefix()
    while true do
      local tok = list[k]
      local prec = tok and tok.bin and binprec[tok.bin]
      if not prec or prec < minprec then return lhs end
      k = k + 1
      local rhs = climb(tok.bin == "^" and prec or prec + 1)
      lhs = { tag = "binop", pos = lhs.pos, opos = tok.pos, op = tok.bin, lhs = lhs, rhs = rhs }
    end
  end
  return climb(1)
end

local function bintok(pos, op) return { bin = op, pos = pos } end
local function pretok(pos, op) return { pre = op, pos = pos } end

local function item(kind)
  return function(pos, value) return { kind = kind, pos = pos, value = value } end
end

-- Turns the items of a model body into a neuron or synapse node.
local function buildmodel(st, kind, pos, mname, items)
  local node = { tag = kind, pos = pos, name = mname, parameters = {}, state = {},
    equations = {}, blocks = {} }
  if kind == "neuron" then node.inputs = {} else node.postsynaptic = {}; node.outputs = {} end
  local what = mname and format("%s '%s'", kind, mname) or "inline synapse"
  for _, it in ipairs(items) do
    local k = it.kind == "on_spike" and "on_pre" or it.kind
    local first = node.blocks[k]
    if first and k ~= "input" and k ~= "output" then
      raise(it.pos, format("duplicate '%s' in %s (first at line %d)", it.kind, what,
        (lineof(st.src, first))), true)
    end
    node.blocks[k] = first or it.pos
    if k == "input" then
      for _, inp in ipairs(it.value) do node.inputs[#node.inputs + 1] = inp end
    elseif k == "output" then
      node.outputs[#node.outputs + 1] = it.value
    else
      node[k] = it.value
    end
  end
  return node
end

-- Clauses {pos, kind, value} of a statement into node fields (once each).
local function clauses(node, list, stmt, rename)
  local seen = {}
  for _, c in ipairs(list) do
    if seen[c.kind] then raise(c.pos, format("duplicate '%s' clause in %s", c.kind, stmt), true) end
    seen[c.kind] = true
    node[rename and rename[c.kind] or c.kind] = c.value
  end
  return node
end

local function clause(pos, kind, value) return { pos = pos, kind = kind, value = value } end

-- Operators of other languages, with what to write instead.
local function foreignop(s, p)
  local two, one = s:sub(p, p + 1), s:sub(p, p)
  if two == "**" then return "'**' is not an operator: use '^' for powers" end
  if two == "&&" then return "'&&' is not an operator: use 'and'" end
  if two == "||" then return "'||' is not an operator: use 'or'" end
  if two == "~=" then return "'~=' is not an operator: use '!='" end
  if one == "!" and two ~= "!=" then return "'!' is not an operator: use 'not'" end
  return nil
end

-- The message when a statement does not end where it should.
local function enderror(s, p, st)
  local one, two = s:sub(p, p), s:sub(p, p + 1)
  local foreign = foreignop(s, p)
  if foreign then return foreign end
  -- a keyword after a statement inside braces: most likely a missing '}'
  local w = s:match("^[%a_][%w_]*", p)
  local o = w and reserved[w] and opener(st, p, "{")
  if o then return format("expected '}' to close '{' opened at line %d", (lineof(s, o))) end
  if st.afternum == p then return "expected a unit or an operator after number" end
  if st.afterexpr == p then
    if one == "=" and two ~= "==" then return "unexpected '=' (use '==' to compare)" end
    return "expected an operator, a newline or ';'"
  end
  return "expected a newline or ';'"
end

-- End of a statement inside braces / at the top level. st.laststmt marks
-- where the next statement starts (for errors LPeg raises itself).
-- After a closing '}' no separator is needed (st.afterbrace: where the last
-- block ended, trailing space included).
local mark = Cmt(Carg(1), function(_, p, st) st.laststmt = p; return true end)
local afterbrace = Cmt(Carg(1), function(_, p, st) return st.afterbrace == p end)
local End = (hsp * (S";\n" * ws + #P"}") + afterbrace + E(enderror)) * mark
local TopEnd = (hsp * (S";\n" * ws + EOF) + afterbrace + E(enderror)) * mark
local closebrace = Cmt(Carg(1), function(_, p, st) st.afterbrace = p; return true end)

------------------------------------------------------------------------------
-- Pattern builders used by the grammar (they refer to its rules with V)
------------------------------------------------------------------------------

-- An operand of rule; when missing, "expected an expression after 'X'", X
-- being after or else the operator written just before.
local function operand(rule, after)
  return V(rule) + E(function(s, p)
    local foreign = foreignop(s, p)
    if foreign then return foreign end
    local op = after or s:sub(math.max(1, p - 20), p - 1):match("([-+*/^<>=!]+)[ \t\r\n]*$") or "?"
    return "expected an expression after '" .. op .. "'"
  end)
end

-- '{' items '}' where describe names the construct in the closing message.
local function braces(items, describe)
  return P"{" * ws * Ct(items) * closing("}", describe) * hsp * closebrace
end
local function named(text) return function() return text end end

-- NAME = EXPR, one per statement (parameters, state, postsynaptic).
local function defs(what)
  return (Cp() * declname(what)
    * expect(sym"=" * -P"=", "expected '=' after the " .. what .. " name")
    * ws * operand("Expr", "=")
    / function(pos, n, value) return { tag = "def", pos = pos, name = n, value = value } end
    * End)^0
end

local function blockof(word, items)
  return kw(word) * expect(#P"{", format("expected '{' after '%s'", word))
    * braces(items, named("'" .. word .. "' block"))
end

-- on_pre { ... } or the one-line form on_pre: stmt; stmt
local function onevent(word)
  return kw(word) * (#P"{" * braces(V"Stmts", named("'" .. word .. "' block"))
    + sym":" * Ct(expect(V"Stmt", "expected a statement after ':'") * (sym";" * V"Stmt")^0)
    + E(format("expected '{' or ':' after '%s'", word)))
end

-- A name where a block keyword was expected in a model body.
local function baditem(kind)
  local other = kind == "neuron" and "synapse" or "neuron"
  return check(ident, function(s, p, start, w)
    if blockwords[other][w] then
      raise(start, format("'%s' is not allowed in a %s (it belongs in a %s)", w, kind, other), true)
    end
    if reserved[w] then return false end   -- a missing '}': the body reports it
    if w == "threshold" then
      raise(start, "unknown block 'threshold' in " .. kind .. " (write 'spike when CONDITION')", true)
    end
    if s:find("^[ \t]*[=/]", p) then
      raise(start, format("'%s' must be declared inside a 'parameters', 'state' or 'equations' block", w), true)
    end
    raise(start, format("unknown block '%s' in %s%s", w, kind, didyoumean(w, blocklists[kind])), true)
  end)
end

-- The body of a model: '{' items '}' (items separated like statements).
local function modelbody(kind, items)
  return expect(P"{", "expected '{' after the " .. kind .. " name") * ws
    * Ct((items * End)^0)
    * closing("}", function(s, o)
      local w = wordbefore(s, o)
      if w and w ~= kind and not reserved[w] then return format("%s '%s'", kind, w) end
      return "the " .. kind
    end) * hsp * closebrace
end

local function argsclose(s, o)
  local w = wordbefore(s, o)
  return w and format("the arguments of '%s'", w) or "'('"
end

local flag = Cp() * "(" * hsp * C((idchar + S"- \t")^1) * ")" * hsp / function(pos, f)
  f = f:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  if f == "event-driven" then return true end
  if f == "clock-driven" then return false end
  if f == "unless refractory" then
    raise(pos, "'(unless refractory)' is Brian syntax: write 'refractory T clamp v' in the neuron", true)
  end
  raise(pos, format("unknown flag '(%s)' (expected '(event-driven)' or '(clock-driven)')", f), true)
end

local cmpop = P"<=" + ">=" + "==" + "!=" + "<" + ">"
local rulemsg = "expected a connection rule: all_to_all, one_to_one, with probability P, "
  .. "with in_degree K, with out_degree K or from arrays NAME"

------------------------------------------------------------------------------
-- The grammar
------------------------------------------------------------------------------

local G = P{ "File",
  File = P"\239\187\191"^-1 * ws * (Cmt(V"Item" * Carg(1), function(_, p, node, st)
      st.body[#st.body + 1] = node
      return true
    end) * TopEnd)^0 * expect(EOF, "expected a statement"),

  ---------------------------------------------------------------- top level
  Item = V"Import" + V"Neuron" + V"Synapse" + V"Population" + V"Connect"
    + V"Record" + V"Drive" + V"TopParams" + V"Setting" + V"UnknownTop",

  Import = Cp() * kw"import" * expect(str, "expected a file name in double quotes after 'import'")
    / function(pos, path) return { tag = "import", pos = pos, path = path } end,

  Setting = Cp() * check(ident * hsp * "=" * -P"=", function(_, _, start, text)
      local n = text:match("^[%w_]+")
      if reserved[n] then return false end
      if not settings[n] then
        local sug = M.suggest(n, { "dt", "seed" })
        raise(start, sug and format("unknown setting '%s' (did you mean '%s'?)", n, sug)
          or format("unknown setting '%s' (only 'dt' and 'seed' are set at the top level; "
            .. "constants go in a 'parameters' block)", n), true)
      end
      return true
    end) * ws * operand("Expr", "=") * Carg(1)
    / function(pos, value, st)
      return { tag = "setting", pos = pos, name = st.src:match("^[%w_]+", pos), value = value }
    end,

  UnknownTop = check(ident, function(_, _, start, w)
    if reserved[w] then
      raise(start, format("'%s' cannot start a statement here (expected import, neuron, "
        .. "synapse, population, connect, record, drive, parameters, dt or seed)", w), true)
    end
    raise(start, format("unknown statement '%s'%s", w, didyoumean(w, toplist)), true)
  end),

  TopParams = Cp() * blockof("parameters", defs("parameter"))
    / function(pos, list) return { tag = "parameters", pos = pos, defs = list } end,

  ---------------------------------------------------------------- models
  Neuron = Cp() * kw"neuron" * expect(declname("model"), "expected a name after 'neuron'")
    * modelbody("neuron", V"NeuronItem") * Carg(1)
    / function(pos, n, items, st) return buildmodel(st, "neuron", pos, n, items) end,
  Synapse = Cp() * kw"synapse" * expect(declname("model"), "expected a name after 'synapse'")
    * modelbody("synapse", V"SynapseItem") * Carg(1)
    / function(pos, n, items, st) return buildmodel(st, "synapse", pos, n, items) end,

  Params = Cp() * blockof("parameters", defs("parameter")) / item"parameters",
  State = Cp() * blockof("state", defs("state variable")) / item"state",
  PostState = Cp() * blockof("postsynaptic", defs("postsynaptic variable")) / item"postsynaptic",
  Equations = Cp() * blockof("equations", (V"Eq" * End)^0) / item"equations",
  Method = Cp() * kw"method" * expect(Cp() * C(check(ident, function(_, _, start, w)
      if not methods[w] then
        raise(start, format("unknown method '%s': expected %s", w, integrate.CHOICES), true)
      end
      return true
    end)) * hsp, "expected an integration method after 'method'")
    / function(pos, mpos, w) return { kind = "method", pos = pos,
      value = { tag = "method", pos = mpos, name = w } } end,

  NeuronItem = V"Params" + V"State" + V"Equations" + V"Method"
    + Cp() * kw"input" * Ct(V"Input" * (symc"," * V"Input")^0) / item"input"
    + Cp() * kw"spike" * expect(kw"when", "expected 'when' after 'spike'")
      * operand("Expr", "when") / item"spike"
    + Cp() * blockof("reset", V"Stmts") / item"reset"
    + Cp() * V"Refractory" / function(pos, r)
      r.tag, r.pos = "refractory", pos
      return { kind = "refractory", pos = pos, value = r }
    end
    + baditem("neuron"),
  SynapseItem = V"Params" + V"State" + V"PostState" + V"Equations" + V"Method"
    + Cp() * onevent("on_pre") / item"on_pre"
    + Cp() * onevent("on_spike") / item"on_spike"
    + Cp() * onevent("on_post") / item"on_post"
    + Cp() * kw"output" * V"Output" / item"output"
    + baditem("synapse"),

  Input = Cp() * expect(declname("input"), "expected an input name")
    * expect(sym":", "expected ':' and a unit after the input name (e.g. 'input I_syn : pA')")
    * expect(declunit, "expected a unit after ':' (e.g. pA, nS, 1)")
    / function(pos, n, u) return { tag = "input", pos = pos, name = n, unit = u } end,

  Output = Cp() * expect(name * hsp, "expected the name of the input this output drives")
    * expect(sym"=" * -P"=", "expected '=' after the output name") * ws * operand("Expr", "=")
    / function(pos, n, value) return { tag = "output", pos = pos, name = n, value = value } end,

  Refractory = kw"refractory" * operand("Expr", "refractory")
    * (ws * kw"clamp" * expect(kw"none" / function() return {} end
      + Ct(Cp() * name * hsp * (symc"," * Cp() * expect(name * hsp, "expected a variable name after ','"))^0)
        / function(t)
          local names, poss = {}, {}
          for k = 1, #t, 2 do poss[#poss + 1] = t[k]; names[#names + 1] = t[k + 1] end
          return names, poss
        end, "expected variable names or 'none' after 'clamp'"))^-1
    / function(duration, clamp, poss)
      return { duration = duration, clamp = clamp, clamp_pos = poss }
    end,

  Eq = V"Ode" + V"Alg",
  Ode = Cp() * "d" * C(ident) * hsp * "/" * hsp
    * expect("dt" * -idchar, "expected 'dt' after '/' in a differential equation") * hsp
    * expect(P"=" * -P"=", "expected '=' after 'dX/dt'") * ws
    * operand("Expr", "=") * (flag + Cc(false))
    / function(pos, w, value, ev)
      if reserved[w] or builtins[w] or prefixed(w) or w:find(".+_pre$") or w:find(".+_post$") then
        raise(pos + 1, format("'%s' cannot be a state variable", w), true)
      end
      return { tag = "ode", pos = pos, name = w, value = value, event_driven = ev }
    end,
  Alg = Cp() * declname("variable")
    * expect(P"=" * -P"=", "expected '=' (a definition NAME = EXPR) or 'dX/dt = EXPR'") * ws
    * operand("Expr", "=")
    / function(pos, n, value) return { tag = "alg", pos = pos, name = n, value = value } end,

  ---------------------------------------------------------------- statements
  Stmts = (V"Stmt" * End)^0,
  Stmt = V"If" + V"Assign",
  If = Cp() * kw"if" * operand("Expr", "if")
    * (#P"{" + #kw"then" * E"an 'if' statement takes a block: 'if COND { ... }' ('if ... then ... else' is an expression)"
      + E"expected '{' after the condition of 'if'")
    * braces(V"Stmts", named("'if' block"))
    * (ws * kw"else" * (V"If" / function(n) return { n } end
      + expect(#P"{", "expected '{' or 'if' after 'else'") * braces(V"Stmts", named("'else' block"))))^-1
    / function(pos, cond, body, orelse)
      return { tag = "if", pos = pos, cond = cond, body = body, orelse = orelse }
    end,
  Assign = Cp() * name * hsp * (
      #P"==" * E"'==' compares; use '=' to assign"
      + C(P"+=" + "-=" + "*=" + "/=" + "=") * ws
      + E(function(s, p)
        return "expected '=', '+=', '-=', '*=' or '/=' after '"
          .. (wordbefore(s, p) or "name") .. "'"
      end))
    * operand("Expr", "=")
    / function(pos, n, op, value)
      return { tag = "assign", pos = pos, op = op, target = refnode(pos, n), value = value }
    end,

  ---------------------------------------------------------------- network
  Population = Cp() * kw"population" * expect(declname("population"), "expected a name after 'population'")
    * expect(sym"=" * -P"=", "expected '=' after the population name") * ws
    * expect(name * hsp, "expected a model name after '='")
    * expect(P"(", "expected '(' and the population size after the model name (e.g. lif(100))") * ws
    * (check(ident * hsp * "=" * -P"=", function(_, _, start)
        raise(start, "expected the population size as the first argument (e.g. lif(100, tau_m = 10 ms))", true)
      end) + operand("Expr", "("))
    * Ct((symc"," * V"NamedArg")^0) * ws * closing(")", argsclose) * hsp
    * (kw"from" * expect(kw"arrays", "expected 'arrays' after 'from'")
      * expect(name * hsp, "expected the name of an array set after 'from arrays'"))^-1
    / function(pos, n, model, size, args, arrays)
      return { tag = "population", pos = pos, name = n, model = model, size = size,
        args = args, arrays = arrays }
    end,
  NamedArg = Cp() * expect(name * hsp * P"=" * -P"=", "expected 'name = value' (only the population size is positional)")
    * ws * operand("Expr", "=")
    / function(pos, n, value) return { tag = "arg", pos = pos, name = n, value = value } end,
  UseArgs = P"(" * ws * Ct((-P")" * V"NamedArg" * (symc"," * V"NamedArg")^0)^-1) * ws
    * closing(")", argsclose) * hsp,

  PopRef = Cp() * name * hsp * (V"Slice" + Cc(nil))
    / function(pos, n, slice)
      local node = { tag = "popref", pos = pos, name = n }
      if slice then node.lo, node.hi, node.single = slice.lo, slice.hi, slice.single end
      return node
    end,
  Slice = P"[" * ws * operand("Expr", "[")
    * (symc".." * (V"Expr" + Cc(nil)) * Cc(nil) + Cc(nil) * Cc(true)) * ws
    * closing("]", named("'['")) * hsp
    / function(lo, hi, single) return { lo = lo, hi = hi, single = single } end,
  PopList = Ct(V"PopRef" * (symc"," * expect(V"PopRef", "expected a population after ','"))^0),

  Connect = Cp() * kw"connect"
    * expect(V"PopList", "expected a population after 'connect'")
    * expect(symc"->", "expected '->' after the presynaptic population(s)")
    * expect(V"PopList", "expected a population after '->'")
    * (ws * #P"{" * V"SynSpec" + V"SynSpec"
      + E"expected a synapse model or an inline '{ ... }' synapse after the postsynaptic population(s)")
    * (ws * V"Rule" + E(rulemsg))
    * Ct((ws * V"Clause")^0) * V"UnknownClause"
    / function(pos, pre, post, syn, rule, list)
      return clauses({ tag = "connect", pos = pos, pre = pre, post = post, synapse = syn,
        rule = rule }, list, "connect")
    end,
  SynSpec = Cp() * #P"{" * modelbody("synapse", V"SynapseItem") * Carg(1) / function(pos, items, st)
      local node = buildmodel(st, "synapse", pos, nil, items)
      node.inline = true
      return node
    end
    + Cp() * name * hsp * (V"UseArgs" + Cc(nil))
      / function(pos, model, args) return { tag = "use", pos = pos, model = model, args = args or {} } end,
  Rule = Cp() * (kw"all_to_all" * Cc"all_to_all" + kw"one_to_one" * Cc"one_to_one")
      / function(pos, kind) return { tag = "rule", pos = pos, kind = kind } end
    + Cp() * kw"with" * expect(kw"probability" * Cc"probability" + kw"in_degree" * Cc"in_degree"
        + kw"out_degree" * Cc"out_degree", "expected 'probability', 'in_degree' or 'out_degree' after 'with'")
      * operand("Expr", "with")
      / function(pos, kind, value) return { tag = "rule", pos = pos, kind = kind, value = value } end
    + Cp() * kw"from" * expect(kw"arrays", "expected 'arrays' after 'from'")
      * expect(name * hsp, "expected the name of an array set after 'from arrays'")
      / function(pos, n) return { tag = "rule", pos = pos, kind = "arrays", arrays = n } end,
  Clause = Cp() * (kw"weight" * Cc"weight" * operand("Expr", "weight")
      + kw"delay" * Cc"delay" * operand("Expr", "delay")
      + kw"self_connections" * Cc"self_connections"
        * expect(kw"on" * Cc(true) + kw"off" * Cc(false), "expected 'on' or 'off' after 'self_connections'")
      + kw"onto" * Cc"onto" * expect(name * hsp, "expected an input name after 'onto'")
      + kw"as" * Cc"as" * expect(declname("projection"), "expected a name after 'as'"))
    / clause,
  UnknownClause = check(ident, function(_, _, start, w)
      if reserved[w] then return false end
      raise(start, format("unknown clause '%s'%s", w, didyoumean(w,
        { "weight", "delay", "self_connections", "onto", "as", "every", "scale", "to" })), true)
    end)^-1,

  Record = Cp() * kw"record"
    * expect(Ct(Cp() * name * hsp * (symc"," * Cp() * expect(name * hsp, "expected a variable name after ','"))^0),
      "expected 'spikes', 'rate' or variable names after 'record'")
    * expect(kw"of", "expected 'of' after the recorded variables")
    * expect(V"PopList", "expected a population after 'of'")
    * Ct((ws * V"RecClause")^0) * V"UnknownClause"
    / function(pos, vl, targets, list)
      local node = { tag = "record", pos = pos, targets = targets }
      local vars, poss = {}, {}
      for k = 1, #vl, 2 do poss[#poss + 1] = vl[k]; vars[#vars + 1] = vl[k + 1] end
      for k, v in ipairs(vars) do
        if (v == "spikes" or v == "rate") and #vars > 1 then
          raise(poss[k], format("'%s' cannot be recorded together with other variables: "
            .. "use a separate 'record' statement", v), true)
        end
      end
      if #vars == 1 and (vars[1] == "spikes" or vars[1] == "rate") then
        node.kind = vars[1]
      else
        node.kind, node.vars, node.vars_pos = "state", vars, poss
      end
      for _, c in ipairs(list) do
        if c.kind == "every" and node.kind == "spikes" then
          raise(c.pos, "'every' does not apply to a spike monitor (every spike is recorded)", true)
        end
        -- a model is untrusted: it may write only .npy files (see cajal-lang(7))
        if c.kind == "to" and not c.value:find("[^/]%.npy$") then
          raise(c.pos, format("'record ... to' writes a .npy file: the file name must end in '.npy', "
            .. "got \"%s\"", c.value:sub(1, 80)), true)
        end
      end
      return clauses(node, list, "record", { to = "file" })
    end,
  RecClause = Cp() * (kw"every" * Cc"every" * operand("Expr", "every")
      + kw"to" * Cc"to" * expect(str, "expected a file name in double quotes after 'to'")
      + kw"as" * Cc"as" * expect(declname("monitor"), "expected a name after 'as'"))
    / clause,

  Drive = Cp() * kw"drive" * expect(name * hsp, "expected a variable name after 'drive'")
    * expect(kw"of", "expected 'of' after the driven variable")
    * expect(V"PopRef", "expected a population after 'of'")
    * (ws * kw"from" + E"expected 'from arrays NAME' or 'from poisson(K, rate = R)' after the population")
    * (V"DriveArrays" + V"DrivePoisson"
      + E"expected 'arrays NAME' or 'poisson(K, rate = R)' after 'from'")
    * V"UnknownClause"
    / function(pos, var, target, spec)
      spec.tag, spec.pos, spec.var, spec.target = "drive", pos, var, target
      return spec
    end,
  DriveArrays = kw"arrays" * expect(name * hsp, "expected the name of an array set after 'from arrays'")
    * (ws * kw"every" + E"expected 'every' and the sampling interval of the array")
    * operand("Expr", "every")
    * (ws * kw"scale" * operand("Expr", "scale") + Cc(nil))
    / function(arrays, every, scale) return { arrays = arrays, every = every, scale = scale } end,
  -- drive v of E from poisson(K, rate = R) weight W: K Poisson sources per neuron
  DrivePoisson = Cp() * P"poisson" * -idchar * hsp
    * expect(P"(", "expected '(' after 'poisson': poisson(K, rate = R)") * ws
    * operand("Expr", "(")
    * (symc"," + E"expected ', rate = R' after the number of sources K in poisson(K, rate = R)")
    * V"NamedArg" * ws * closing(")", argsclose) * hsp
    * (ws * kw"weight" + E"expected 'weight W' (what one spike of a source adds) after poisson(K, rate = R)")
    * operand("Expr", "weight")
    / function(pos, k, rate, weight)
      return { poisson = { pos = pos, n = k, rate = rate, weight = weight } }
    end,

  ---------------------------------------------------------------- expressions
  -- st.afterexpr: where the last expression ended (for end-of-statement messages)
  Expr = (V"IfExpr" + Ct(V"Or") / buildexpr)
    * Cmt(Carg(1), function(_, p, st) st.afterexpr = p; return true end),
  IfExpr = Cp() * kw"if" * operand("Expr", "if")
    * expect(ws * kw"then", "expected 'then' after the condition of 'if'") * ws * operand("Expr", "then")
    * expect(ws * kw"else", "expected 'else': an 'if ... then' expression needs an 'else' value") * ws
    * operand("Expr", "else")
    / function(pos, cond, yes, no) return { tag = "ifelse", pos = pos, cond = cond, yes = yes, no = no } end,
  Or = V"And" * (Cp() * C"or" * -idchar / bintok * ws * operand("And", "or"))^0,
  And = V"Not" * (Cp() * C"and" * -idchar / bintok * ws * operand("Not", "and"))^0,
  Not = Cp() * C"not" * -idchar / pretok * ws * operand("Not", "not") + V"Cmp",
  Cmp = V"Sum" * (Cp() * C(cmpop) / bintok * ws * operand("Sum")
      * (#cmpop * E"comparisons do not chain: write 'a < b and b < c'" + P(true)))^-1,
  Sum = V"Prod" * (Cp() * C(P"+" * -P"=" + P"-" * -S">=") / bintok * ws * operand("Prod"))^0,
  Prod = V"Unary" * (Cp() * C(P"*" * -S"*=" + P"/" * -P"=") / bintok * ws * operand("Unary"))^0,
  Unary = Cp() * C"-" * -P"=" / pretok * ws * operand("Unary", "-")
    + P"+" * -P"=" * ws * operand("Unary", "+")
    + V"Pow",
  Pow = V"Atom" * (Cp() * C"^" / bintok * ws * operand("Unary", "^"))^-1,
  Atom = number + V"Call" + V"SpacedCall" + V"Paren"
    + Cp() * kw"refractory" / function(pos) return { tag = "name", pos = pos, name = "refractory" } end
    + ref,
  Call = Cp() * name * P"(" * ws * Ct((V"Expr" * (symc"," * operand("Expr", ","))^0)^-1) * ws
    * closing(")", argsclose) * hsp
    / function(pos, fname, args) return { tag = "call", pos = pos, name = fname, args = args } end,
  SpacedCall = check(ident * S" \t"^1 * #P"(", function(_, _, start, text)
    local w = text:match("^[%w_]+")
    if functions[w] then
      raise(start, format("no space is allowed between the function name '%s' and '('", w), true)
    end
    return false
  end),
  Paren = P"(" * ws * operand("Expr", "(") * ws * closing(")", named("'('")) * hsp,
}

------------------------------------------------------------------------------
-- The pre-scan: bytes and nesting, before LPeg sees the text
------------------------------------------------------------------------------

local closer = { [40] = 41, [91] = 93, [123] = 125 }   -- ( [ {

-- Returns pos, msg of the first problem, or nil, opens, joined: the list of
-- opening brackets {pos, ch, close} in source order (close = the matching
-- position or nil), and the set of positions of newlines inside ( ) or [ ].
local function prescan(src)
  local n, i, depth = #src, 1, 0
  local opens, stack, joined = {}, {}, {}
  if src:sub(1, 3) == "\239\187\191" then i = 4 end   -- a UTF-8 byte order mark
  while i <= n do
    -- jump over the plain ASCII that needs no attention
    local j = src:find('[\n#"%(%)%[%]{}%z\1-\8\11\12\14-\31\127-\255]', i)
    if not j then return nil, nil, opens, joined end
    local b = src:byte(j)
    if b == 10 then
      if depth > 0 and stack[depth].ch ~= "{" then joined[j] = true end
      i = j + 1
    elseif b == 35 then                                    -- '#': a comment
      local stop = src:find("\n", j, true) or n + 1
      local k = j + 1
      while k < stop do
        local c = src:byte(k)
        if c == 0 then return k, "NUL byte in a comment" end
        if c >= 128 then
          local len = utf8len(src, k)
          if len == 0 then return k, "invalid UTF-8 in a comment (save the file as UTF-8)" end
          k = k + len
        else
          k = k + 1
        end
      end
      i = stop
    elseif b == 34 then                                -- '"': a string
      local k = j + 1
      while true do
        local c = src:byte(k)
        if not c or c == 10 then return j, "unterminated string" end
        if c == 34 then break end
        if c == 92 then k = k + 1; c = src:byte(k); if not c or c == 10 then return j, "unterminated string" end end
        if c < 32 or c == 127 then return k, "control character in a string" end
        if c >= 128 then
          local len = utf8len(src, k)
          if len == 0 then return k, "invalid UTF-8 in a string" end
          k = k + len
        else
          k = k + 1
        end
      end
      i = k + 1
    elseif closer[b] then
      depth = depth + 1
      if depth > MAXDEPTH then
        return j, format("nesting too deep (more than %d levels of brackets)", MAXDEPTH)
      end
      local o = { pos = j, ch = string.char(b), want = closer[b] }
      opens[#opens + 1] = o
      stack[depth] = o
      i = j + 1
    elseif b == 41 or b == 93 or b == 125 then
      -- pop to the innermost bracket this one closes; those skipped stay unclosed
      for d = depth, 1, -1 do
        if stack[d].want == b then
          stack[d].close = j
          for e = d, depth do stack[e] = nil end
          depth = d - 1
          break
        end
      end
      i = j + 1
    elseif b == 0 then
      return j, "NUL byte in the source"
    elseif b < 128 then
      return j, format("unexpected control character %s", showbyte(b))
    else
      local len = utf8len(src, j)
      if len == 0 then return j, format("invalid UTF-8 byte %s (save the file as UTF-8)", showbyte(b)) end
      local ch = src:sub(j, j + len - 1)
      if ch == "\194\181" or ch == "\206\188" then
        return j, "unexpected character '" .. ch .. "' (write 'u' for micro: us, uF, uS)"
      elseif ch == "\206\169" or ch == "\226\132\166" then
        return j, "unexpected character '" .. ch .. "' (write 'ohm' for the unit of resistance)"
      end
      return j, "unexpected character '" .. ch .. "' (outside comments and strings, only ASCII is allowed)"
    end
  end
  return nil, nil, opens, joined
end

------------------------------------------------------------------------------
-- parse, dump
------------------------------------------------------------------------------

-- parse(source [, filename]) -> ast | nil, err (see grammar/AST.md)
function M.parse(src, file)
  if type(src) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(src) .. ")", 2)
  end
  file = file == nil and "<string>" or file
  if type(file) ~= "string" then
    error("bad argument #2 to 'parse' (string expected, got " .. type(file) .. ")", 2)
  end
  local bad, msg, opens, joined = prescan(src)
  if bad then return nil, mkerror(file, src, bad, msg, false) end
  local state = { src = src, body = {}, opens = opens, joined = joined, laststmt = 1 }
  local ok, err = pcall(lpeg.match, G, src, 1, state)
  if not ok then
    if type(err) == "table" and err[SYNTAX] then
      return nil, mkerror(file, src, err.pos, err.msg, not err.nonear)
    end
    -- LPeg's own limits (backtrack stack, capture nesting): absurd depths
    local text = tostring(err)
    if text:find("overflow", 1, true) or text:find("nesting too deep", 1, true) then
      return nil, mkerror(file, src, state.laststmt,
        "expression nested too deeply in this statement", false)
    end
    error(err, 0)   -- a bug in the grammar, not in the input
  end
  return { tag = "file", pos = 1, file = file, source = src, body = state.body }
end

local function scalar(v)
  if type(v) == "string" then
    if v:find("^[%w_.%-/^*]+$") then return v end
    return format("%q", v)
  elseif type(v) == "number" then
    for digits = 15, 17 do
      local t = format("%." .. digits .. "g", v)
      if tonumber(t) == v then return t end
    end
  end
  return tostring(v)
end

local function isnode(v) return type(v) == "table" and v.tag ~= nil end

-- dump(ast) -> text: one node per line, indented (cajal --dump=ast).
function M.dump(ast)
  if type(ast) ~= "table" then
    error("bad argument #1 to 'dump' (AST node expected, got " .. type(ast) .. ")", 2)
  end
  local src = ast.source
  local out = {}
  local function where(pos)
    if not src or type(pos) ~= "number" then return tostring(pos) end
    local line, start = lineof(src, pos)
    local col = 1
    for k = start, pos - 1 do
      local b = src:byte(k)
      if b and (b < 0x80 or b > 0xBF) then col = col + 1 end
    end
    return line .. ":" .. col
  end
  local function node(t, indent)
    local keys, kids = {}, {}
    for k, v in pairs(t) do
      if k ~= "tag" and k ~= "pos" and k ~= "source" then
        if isnode(v) or (type(v) == "table" and isnode(v[1])) then kids[#kids + 1] = k
        else keys[#keys + 1] = k end
      end
    end
    sort(keys); sort(kids)
    local line = { indent .. (t.tag or "?") .. " " .. where(t.pos) }
    for _, k in ipairs(keys) do
      local v = t[k]
      if type(v) == "table" then
        local parts = {}
        if k:find("_pos$") or k == "blocks" then
          local names = {}
          for kk in pairs(v) do names[#names + 1] = kk end
          sort(names, function(a, b) return tostring(a) < tostring(b) end)
          for _, kk in ipairs(names) do
            parts[#parts + 1] = (type(kk) == "string" and kk .. "@" or "") .. where(v[kk])
          end
        else
          for _, e in ipairs(v) do
            if type(e) == "table" then
              parts[#parts + 1] = scalar(e.name) .. "^" .. scalar(e.exp)
            else
              parts[#parts + 1] = scalar(e)
            end
          end
        end
        line[#line + 1] = k .. "=[" .. concat(parts, ", ") .. "]"
      elseif k == "opos" then
        line[#line + 1] = k .. "=" .. where(v)
      else
        line[#line + 1] = k .. "=" .. scalar(v)
      end
    end
    out[#out + 1] = concat(line, " ")
    for _, k in ipairs(kids) do
      local v = t[k]
      out[#out + 1] = indent .. "  " .. k .. ":"
      if isnode(v) then node(v, indent .. "    ")
      else for _, e in ipairs(v) do node(e, indent .. "    ") end end
    end
  end
  node(ast, "")
  return concat(out, "\n") .. "\n"
end

-- The word lists, for the compiler (read-only by convention).
M.reserved, M.builtins, M.functions, M.methods = reserved, builtins, functions, methods

local okcore, core = pcall(require, "cajal.core")
if okcore and type(core) == "table" and type(core.doc) == "function" then
  core.doc(M.parse, [[
parse(source [, filename]) -> ast | nil, err
Parses a .cajal text into the AST of grammar/AST.md; err has file, line, col, msg, text.]])
  core.doc(M.dump, [[
dump(ast) -> string
The AST as indented text, one node per line with line:col (cajal --dump=ast).]])
  core.doc(M.error_at, [==[
error_at(ast_or_source, pos, msg [, near [, file]]) -> err
An error table formatted like the parser's ("file:line:col: msg", the line, a caret).]==])
  core.doc(M.suggest, [[
suggest(word, candidates) -> string | nil
The candidate nearest to word by edit distance (within #word // 3 edits, 1 to 3), or the
one candidate extending word; nil if none. candidates: a list or a set of strings.]])
  core.doc(M.distance, [[
distance(a, b) -> integer
The edit distance between two words, a swap of neighbours counting as one edit (optimal
string alignment; huge for words over 64 bytes).]])
end

return M
