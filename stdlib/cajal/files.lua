-- cajal.files — the one place the Lua modules read files: the compiler
-- (model sources and imports), cj.load and the plots (gnuplot's output).
local M = {}

-- readfile(path) -> the bytes of the file, or nil and the system's reason
-- ("No such file or directory"; the path is not repeated).
function M.readfile(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, (tostring(err):gsub("^.-: ", "", 1)) end
  local text, rerr = f:read("a")
  f:close()
  if type(text) ~= "string" then return nil, tostring(rerr or "cannot read") end
  return text
end

-- isfile(path) -> true when path can be opened and read (a folder cannot).
function M.isfile(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local ok = f:read(0) ~= nil or f:seek("end") ~= nil
  f:close()
  return ok
end

return M
