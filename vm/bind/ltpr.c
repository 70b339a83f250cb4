/*
 * ltpr.c — cj.tpr, tensor product representations in Lua (core:
 * vm/core/tpr.c). Roles are the rows of an (n, dr) array (or one role, a
 * 1-D array), fillers the rows of (n, df) or (batch, n, df); a structure
 * is the (df, dr) array sum_k f_k r_k^T, or (batch, df, dr). Plain cajal
 * arrays throughout: a TPR is an ordinary matrix.
 */
#include "lcajal.h"
#include "lopt.h"
#include "tpr.h"

static int corefail(lua_State *L)
{
  return luaL_error(L, "%s", cj_errmsg());
}

static double *data(larray *a)
{
  return (double *)a->a.data;
}

/* bind(roles, fillers) -> T */
static int tpr_bind(lua_State *L)
{
  lua_settop(L, 2);
  larray *R = lopt_f64(L, 1, 1, 2, "roles"), *F, *T;
  int one = R->a.ndim == 1, batched;
  int64_t n = one ? 1 : R->a.shape[0], dr = R->a.shape[R->a.ndim - 1], B, df, shape[3];
  F = lopt_f64(L, 2, one ? 1 : 2, one ? 2 : 3, "fillers");
  batched = F->a.ndim == (one ? 2 : 3);
  B = batched ? F->a.shape[0] : 1;
  df = F->a.shape[F->a.ndim - 1];
  if (!one && F->a.shape[batched] != n) {
    lua_pushfstring(L, "one filler per role expected (%I roles, %I fillers)", (lua_Integer)n,
                    (lua_Integer)F->a.shape[batched]);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  lopt_finite(L, 1, R, "roles");
  lopt_finite(L, 2, F, "fillers");
  shape[0] = B;
  shape[1] = df;
  shape[2] = dr;
  T = cj_newarray(L, CJ_F64, 2 + batched, shape + !batched);
  if (cj_tpr_bind(data(T), data(R), data(F), B, n, dr, df)) corefail(L);
  return 1;
}

/* The unbinding vectors of the roles at i (pushed): their duals, or the
 * roles themselves. */
static larray *unbinders(lua_State *L, int i, larray *R, int dual)
{
  int64_t n = R->a.ndim == 1 ? 1 : R->a.shape[0], dr = R->a.shape[R->a.ndim - 1];
  larray *U;
  if (!dual) return R;
  U = cj_newarray(L, CJ_F64, R->a.ndim, R->a.shape);
  if (cj_tpr_dual(data(U), data(R), n, dr)) luaL_argerror(L, i, cj_errmsg());
  return U;
}

/* unbind(T, roles [, opts]) -> fillers */
static int tpr_unbind(lua_State *L)
{
  lua_settop(L, 3);
  static const char *const known[] = { "dual", NULL };
  larray *T = lopt_f64(L, 1, 2, 3, "T"), *R = lopt_f64(L, 2, 1, 2, "roles"), *U, *F;
  int o = lopt_at(L, 3, known), batched = T->a.ndim == 3, one = R->a.ndim == 1, nd = 0;
  int64_t B = batched ? T->a.shape[0] : 1, df = T->a.shape[batched], dr = T->a.shape[batched + 1];
  int64_t n = one ? 1 : R->a.shape[0], shape[3];
  if (R->a.shape[R->a.ndim - 1] != dr) {
    lua_pushfstring(L, "roles of dimension %I expected (T is %I x %I), got %I", (lua_Integer)dr,
                    (lua_Integer)df, (lua_Integer)dr, (lua_Integer)R->a.shape[R->a.ndim - 1]);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  lopt_finite(L, 2, R, "roles");
  U = unbinders(L, 2, R, lopt_bool(L, o, "dual", 1));
  if (batched) shape[nd++] = B;
  if (!one) shape[nd++] = n;
  shape[nd++] = df;
  F = cj_newarray(L, CJ_F64, nd, shape);
  if (cj_tpr_unbind(data(F), data(T), data(U), B, n, dr, df)) corefail(L);
  return 1;
}

/* dual(roles) -> U */
static int tpr_dual(lua_State *L)
{
  lua_settop(L, 1);
  larray *R = lopt_f64(L, 1, 1, 2, "roles");
  lopt_finite(L, 1, R, "roles");
  unbinders(L, 1, R, 1);
  return 1;
}

/* flatten(T) -> vector(s): T:reshape(df * dr) or (batch, df * dr) */
static int tpr_flatten(lua_State *L)
{
  lua_settop(L, 1);
  larray *T = lopt_f64(L, 1, 2, 3, "T");
  int batched = T->a.ndim == 3, t = lua_gettop(L);
  lua_getfield(L, t, "reshape");
  lua_pushvalue(L, t);
  if (batched) lua_pushinteger(L, (lua_Integer)T->a.shape[0]);
  lua_pushinteger(L, (lua_Integer)(T->a.shape[batched] * T->a.shape[batched + 1]));
  lua_call(L, 2 + batched, 1);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"bind", tpr_bind}, {"unbind", tpr_unbind}, {"dual", tpr_dual}, {"flatten", tpr_flatten},
  {NULL, NULL}
};

static const cj_doc docs[] = {
  {"bind", "cj.tpr.bind(roles, fillers) -> T\n"
   "The tensor product representation T = sum_k f_k r_k^T (Smolensky 1990): roles (n, dr)\n"
   "or one role (dr); fillers (n, df), (batch, n, df), or one filler (df) with one role.\n"
   "T is (df, dr) or (batch, df, dr): binding by outer product, superposition by the sum."},
  {"unbind", "cj.tpr.unbind(T, roles [, opts]) -> fillers\n"
   "The fillers of the given roles: f_k = T u_k with u_k the dual (unbinding) vectors of\n"
   "the roles, U = (R R^T)^-1 R, so recovery is exact when the roles (all of those bound)\n"
   "are linearly independent; dependent roles are an error. opts.dual = false unbinds\n"
   "with the roles themselves (exact for orthonormal roles, approximate for random ones)."},
  {"dual", "cj.tpr.dual(roles) -> U\n"
   "The dual basis of linearly independent roles: U R^T = I (U = R for orthonormal roles)."},
  {"flatten", "cj.tpr.flatten(T) -> array\n"
   "T as a vector of df * dr elements (row-major; (batch, df * dr) for a batch), to compare\n"
   "with embeddings (McCoy et al. 2019)."},
  {NULL, NULL}
};

void cj_open_tpr(lua_State *L)
{
  luaL_newlib(L, funcs);
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "tpr");
}
