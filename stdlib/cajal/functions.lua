-- cajal.functions — the functions a model may call: the one table from
-- which the grammar's word list (grammar/cajal.lua) and the checker's
-- arities and dimension rules (check.lua) come. The runtime's own list
-- (what a kernel calls, CJ_KFUNCS in vm/core/interp.h) is smaller: a name
-- here that is not there is written by check.lua with those it has
-- (log10, sinh, cosh, exprel, round, mod, the draws).
--
-- name = { nargs, kind }; kind says how dimensions go:
--   less   argument and result dimensionless      keep  result in the argument's unit
--   sign   result dimensionless, any argument    same  arguments of one unit, result too
--   ratio  two arguments of one unit, result dimensionless (atan2)
--   sqrt   the unit's exponents halved             pow   x ^ y, y dimensionless
--   rand   a random draw (arguments: its parameters)
-- Adding a function the runtime has: an entry here and its CJ_KFUNCS line.
return {
  exp = {1, "less"}, expm1 = {1, "less"}, log = {1, "less"}, log1p = {1, "less"},
  log10 = {1, "less"}, sin = {1, "less"}, cos = {1, "less"}, tan = {1, "less"},
  sinh = {1, "less"}, cosh = {1, "less"}, tanh = {1, "less"}, atan = {1, "less"},
  sigmoid = {1, "less"}, exprel = {1, "less"},
  abs = {1, "keep"}, floor = {1, "keep"}, ceil = {1, "keep"}, round = {1, "keep"},
  sign = {1, "sign"}, heaviside = {1, "sign"},
  min = {2, "same"}, max = {2, "same"}, mod = {2, "same"}, clip = {3, "same"},
  atan2 = {2, "ratio"}, sqrt = {1, "sqrt"}, pow = {2, "pow"},
  rand = {0, "rand"}, randn = {0, "rand"}, uniform = {2, "rand"},
  normal = {2, "rand"}, exponential = {1, "rand"}, bernoulli = {1, "rand"},
}
