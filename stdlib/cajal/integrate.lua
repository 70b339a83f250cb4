-- cajal.integrate — the integration methods of the network language: the
-- one list of their names, from which the grammar (`method NAME`), its error
-- text, compile's opts.method check and lower's dispatch are derived.
local M = {}

-- In the order messages list them.
M.METHODS = { "exact", "euler", "rk2", "rk4", "exponential_euler" }

M.ISMETHOD = {}
for _, m in ipairs(M.METHODS) do M.ISMETHOD[m] = true end

-- "exact, euler, rk2, rk4 or exponential_euler"
M.CHOICES = table.concat(M.METHODS, ", ", 1, #M.METHODS - 1) .. " or " .. M.METHODS[#M.METHODS]

return M
