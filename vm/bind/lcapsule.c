/*
 * lcapsule.c — cj.capsule, capsule networks in Lua (core: vm/core/capsule.c):
 * squash, predictions, routing by agreement (returning v, c and b) with its
 * gradient, the margin loss, EM routing, and the layer object
 * "cajal.capsulelayer", which holds its transformations W in an array
 * (user value 1, the same array object every time layer.W is read) and
 * keeps the input and predictions of its last forward pass (user values 2
 * and 3) for backward.
 *
 * Single examples and batches: a leading batch dimension is optional on
 * every input, and outputs drop it when the input had none.
 */
#include "lcajal.h"
#include "lopt.h"
#include "capsule.h"
#include "rng.h"

#include <string.h>

#define CJ_CAPSLAYER "cajal.capsulelayer"

typedef struct llayer {
  cj_capsule_layer l;
} llayer;

#define checklayer(L, i) ((llayer *)luaL_checkudata(L, i, CJ_CAPSLAYER))

static int corefail(lua_State *L)
{
  return luaL_error(L, "%s", cj_errmsg());
}

static double *data(larray *a)
{
  return (double *)a->a.data;
}

/* A new float64 array of shape (B?, rest...): the batch size is left out
 * when batched is 0. */
static larray *newresult(lua_State *L, int batched, int64_t B, int n, const int64_t *rest)
{
  int64_t shape[CJ_MAXDIM];
  int nd = 0;
  if (batched) shape[nd++] = B;
  for (int k = 0; k < n; k++) shape[nd++] = rest[k];
  return cj_newarray(L, CJ_F64, nd, shape);
}

static int checkiters(lua_State *L, int i)
{
  int isint;
  lua_Integer r = lua_tointegerx(L, i, &isint);
  if (lua_isnoneornil(L, i)) return 3;
  if (!isint || r < 1 || r > 1000000) luaL_argerror(L, i, "iterations must be a positive integer");
  return (int)r;
}

/* squash(s) -> v, along the last dimension */
static int caps_squash(lua_State *L)
{
  lua_settop(L, 1);
  larray *s = cj_optarray(L, 1), *v;
  int64_t dim, n;
  luaL_argcheck(L, s->a.ndim >= 1, 1, "an array of at least one dimension expected");
  s = lopt_f64(L, 1, s->a.ndim, 0, "s");
  dim = s->a.shape[s->a.ndim - 1];
  n = cj_array_numel(&s->a) / dim;
  v = cj_newarray(L, CJ_F64, s->a.ndim, s->a.shape);
  cj_capsule_squash(data(v), data(s), n, dim);
  return 1;
}

/* route(u_hat, r) -> v, c, b */
static int caps_route(lua_State *L)
{
  lua_settop(L, 2);
  larray *uh = lopt_f64(L, 1, 3, 4, "u_hat"), *v, *c, *b;
  int r = checkiters(L, 2), batched = uh->a.ndim == 4;
  const int64_t *sh = uh->a.shape + batched;
  int64_t B = batched ? uh->a.shape[0] : 1, jd[2] = { sh[1], sh[2] }, ij[2] = { sh[0], sh[1] };
  v = newresult(L, batched, B, 2, jd);
  c = newresult(L, batched, B, 2, ij);
  b = newresult(L, batched, B, 2, ij);
  if (cj_capsule_route(data(uh), B, sh[0], sh[1], sh[2], r, data(v), data(c), data(b))) corefail(L);
  /* a NaN or infinity anywhere in u_hat reaches v (every c_ij > 0): checking
   * the small output costs less than scanning the input */
  for (int64_t k = 0, n = cj_array_numel(&v->a); k < n; k++)
    if (!isfinite(data(v)[k])) luaL_argerror(L, 1, "u_hat: contains NaN or infinity");
  return 3;
}

/* route_grad(u_hat, r, dv) -> du_hat */
static int caps_route_grad(lua_State *L)
{
  lua_settop(L, 3);
  larray *uh = lopt_f64(L, 1, 3, 4, "u_hat"), *dv, *g;
  int r = checkiters(L, 2), batched = uh->a.ndim == 4;
  const int64_t *sh = uh->a.shape + batched;
  int64_t B = batched ? uh->a.shape[0] : 1;
  dv = lopt_f64(L, 3, 2 + batched, 0, "dv");
  if ((batched && dv->a.shape[0] != B) || dv->a.shape[batched] != sh[1] || dv->a.shape[batched + 1] != sh[2])
    luaL_argerror(L, 3, "dv must have the shape of v (batch?, parents, dim)");
  g = cj_newarray(L, CJ_F64, uh->a.ndim, uh->a.shape);
  if (cj_capsule_route_grad(data(uh), B, sh[0], sh[1], sh[2], r, data(dv), data(g))) corefail(L);
  return 1;
}

/* predict(u, W) -> u_hat */
static int caps_predict(lua_State *L)
{
  lua_settop(L, 2);
  larray *u = lopt_f64(L, 1, 2, 3, "u"), *W = lopt_f64(L, 2, 4, 0, "W"), *uh;
  int batched = u->a.ndim == 3;
  int64_t B = batched ? u->a.shape[0] : 1, I = u->a.shape[batched], din = u->a.shape[batched + 1];
  int64_t rest[3] = { I, W->a.shape[1], W->a.shape[2] };
  if (W->a.shape[0] != I || W->a.shape[3] != din) {
    lua_pushfstring(L, "W must be (children, parents, dim_out, dim_in) = (%I, ?, ?, %I)", (lua_Integer)I,
                    (lua_Integer)din);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  uh = newresult(L, batched, B, 3, rest);
  if (cj_capsule_predict(data(uh), data(u), data(W), B, I, rest[1], rest[2], din)) corefail(L);
  return 1;
}

/* Targets of B examples of J classes as a (B, J) 0/1 matrix (pushed): one
 * class index (single example), a list / array of B class indices, or a
 * one-hot array of v's shape without the last dimension. */
static double *targets(lua_State *L, int i, int batched, int64_t B, int64_t J)
{
  larray *t = cj_testarray(L, i);
  double *T = lua_newuserdatauv(L, sizeof(double) * (size_t)(B * J), 0);
  memset(T, 0, sizeof(double) * (size_t)(B * J));
  if (t && t->a.ndim == 1 + batched && t->a.shape[batched] == J && (!batched || t->a.shape[0] == B)) {
    for (int64_t k = 0; k < B * J; k++) T[k] = cj_array_getflat(&t->a, k);
    return T;
  }
  for (int64_t e = 0; e < B; e++) {
    double k;
    if (lua_type(L, i) == LUA_TNUMBER && !batched) k = lua_tonumber(L, i);
    else if (t && t->a.ndim == 1 && t->a.shape[0] == B) k = cj_array_getflat(&t->a, e);
    else if (lua_istable(L, i) && (int64_t)lua_rawlen(L, i) == B) {
      lua_rawgeti(L, i, e + 1);
      k = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
      lua_pop(L, 1);
    } else {
      luaL_argerror(L, i, batched ? "one class per example (list or array) or a one-hot (batch, parents) array expected"
                                  : "a class number or a one-hot array of the parents expected");
      return NULL;
    }
    if (!(k >= 1 && k <= (double)J && k == (double)(int64_t)k)) {
      if (k == floor(k) && fabs(k) < 1e15) lua_pushfstring(L, "class %I out of range 1..%I", (lua_Integer)k, (lua_Integer)J);
      else lua_pushfstring(L, "class %f out of range 1..%I", k, (lua_Integer)J);
      luaL_argerror(L, i, lua_tostring(L, -1));
    }
    T[e * J + (int64_t)k - 1] = 1;
  }
  return T;
}

static const char *const marginopts[] = { "m_plus", "m_minus", "lambda", NULL };

/* margin_loss(v, targets [, opts]) -> loss, dv */
static int caps_margin(lua_State *L)
{
  lua_settop(L, 3);
  larray *v = lopt_f64(L, 1, 2, 3, "v"), *dv;
  int o = lopt_at(L, 3, marginopts), batched = v->a.ndim == 3;
  int64_t B = batched ? v->a.shape[0] : 1, J = v->a.shape[batched], D = v->a.shape[batched + 1];
  double mp = lopt_number(L, o, "m_plus", 0.9), mm = lopt_number(L, o, "m_minus", 0.1);
  double lam = lopt_number(L, o, "lambda", 0.5), loss, *T = targets(L, 2, batched, B, J);
  dv = cj_newarray(L, CJ_F64, v->a.ndim, v->a.shape);
  if (cj_capsule_margin(data(v), T, B, J, D, mp, mm, lam, &loss, data(dv))) corefail(L);
  lua_pushnumber(L, loss);
  lua_insert(L, -2);
  return 2;
}

/* n values from option key (a number for all, or a list of n), pushed. */
static double *optvalues(lua_State *L, int o, const char *key, int64_t n, double def)
{
  double *v = lua_newuserdatauv(L, sizeof(double) * (size_t)n, 0);
  for (int64_t k = 0; k < n; k++) v[k] = def;
  if (!lopt_get(L, o, key)) return v;
  if (lua_type(L, -1) == LUA_TNUMBER) {
    for (int64_t k = 0; k < n; k++) v[k] = lua_tonumber(L, -1);
  } else if (lua_istable(L, -1) && (int64_t)lua_rawlen(L, -1) == n) {
    for (int64_t k = 0; k < n; k++) {
      lua_rawgeti(L, -1, k + 1);
      if (!lua_isnumber(L, -1)) lopt_bad(L, o, key, "a number or a list of numbers");
      v[k] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  } else {
    lua_pushfstring(L, "a number or a list of %I numbers", (lua_Integer)n);
    lopt_bad(L, o, key, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

/* em_route(votes, a, r [, opts]) -> a_out, mu, R, var */
static int caps_em_route(lua_State *L)
{
  lua_settop(L, 4);
  static const char *const known[] = { "lambda", "beta_u", "beta_a", "eps", NULL };
  larray *V = lopt_f64(L, 1, 3, 4, "votes"), *a, *ao, *mu, *var, *R;
  int batched = V->a.ndim == 4, r = checkiters(L, 3), o = lopt_at(L, 4, known);
  const int64_t *sh = V->a.shape + batched;
  int64_t B = batched ? V->a.shape[0] : 1, jh[2] = { sh[1], sh[2] }, ij[2] = { sh[0], sh[1] };
  cj_capsule_em em;
  a = lopt_f64(L, 2, 1 + batched, 0, "a");
  if (a->a.shape[batched] != sh[0] || (batched && a->a.shape[0] != B))
    luaL_argerror(L, 2, "one activation per child (and example) expected");
  lopt_finite(L, 1, V, "votes");
  em.iters = r;
  em.lambda = optvalues(L, o, "lambda", r, 1.0);
  em.beta_u = optvalues(L, o, "beta_u", sh[1], 0.0);
  em.beta_a = optvalues(L, o, "beta_a", sh[1], 0.0);
  em.eps = lopt_number(L, o, "eps", 1e-8);
  if (!(em.eps > 0)) lopt_bad(L, o, "eps", "positive");
  ao = newresult(L, batched, B, 1, &sh[1]);
  mu = newresult(L, batched, B, 2, jh);
  R = newresult(L, batched, B, 2, ij);
  var = newresult(L, batched, B, 2, jh);
  if (cj_capsule_em_route(data(V), data(a), B, sh[0], sh[1], sh[2], &em, data(ao), data(mu), data(var), data(R)))
    corefail(L);
  return 4;                                    /* stack: ..., a_out, mu, R, var */
}

/* ---- the layer ---------------------------------------------------------------- */

/* layer(children, parents, dim_in, dim_out [, opts]) */
static int caps_layer(lua_State *L)
{
  lua_settop(L, 5);
  static const char *const known[] = { "iterations", "seed", "std", NULL };
  int64_t n[4];
  const char *what[4] = { "children", "parents", "dim_in", "dim_out" };
  int o = lopt_at(L, 5, known);
  lua_Integer r = lopt_integer(L, o, "iterations", 3);
  double sd = lopt_number(L, o, "std", 0.01);
  cj_rng own, *rng = lopt_rng(L, o, 0, &own);
  llayer *l;
  larray *W;
  for (int k = 0; k < 4; k++) {
    int isint;
    lua_Integer v = lua_tointegerx(L, k + 1, &isint);
    if (!isint || v < 1 || v > (1 << 24)) {
      lua_pushfstring(L, "%s must be a positive integer", what[k]);
      luaL_argerror(L, k + 1, lua_tostring(L, -1));
    }
    n[k] = v;
  }
  if (r < 1 || r > 1000000) lopt_bad(L, o, "iterations", "a positive integer");
  if (sd < 0) lopt_bad(L, o, "std", ">= 0");
  l = lua_newuserdatauv(L, sizeof(llayer), 3);
  memset(l, 0, sizeof *l);
  luaL_setmetatable(L, CJ_CAPSLAYER);
  {
    int64_t shape[4] = { n[0], n[1], n[3], n[2] };
    W = cj_newarray(L, CJ_F64, 4, shape);
  }
  if (cj_rng_fill_normal(rng, &W->a, 0.0, sd)) corefail(L);
  lua_setiuservalue(L, -2, 1);
  l->l = (cj_capsule_layer){ n[0], n[1], n[2], n[3], (int)r, data(W) };
  return 1;
}

/* layer:forward(u) -> v, c, b */
static int l_forward(lua_State *L)
{
  lua_settop(L, 2);
  llayer *l = checklayer(L, 1);
  larray *u = lopt_f64(L, 2, 2, 3, "u"), *uc, *uh, *v, *c, *b;
  int batched = u->a.ndim == 3;
  int64_t B = batched ? u->a.shape[0] : 1, jd[2] = { l->l.J, l->l.dout }, ij[2] = { l->l.I, l->l.J };
  int64_t uhs[4] = { B, l->l.I, l->l.J, l->l.dout };
  if (u->a.shape[batched] != l->l.I || u->a.shape[batched + 1] != l->l.din) {
    lua_pushfstring(L, "u must be (batch?, %I, %I), the layer's children and dim_in", (lua_Integer)l->l.I,
                    (lua_Integer)l->l.din);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  lopt_finite(L, 2, u, "u");
  uc = cj_newarray(L, CJ_F64, u->a.ndim, u->a.shape);     /* kept for backward */
  memcpy(uc->a.data, u->a.data, sizeof(double) * (size_t)cj_array_numel(&u->a));
  uh = cj_newarray(L, CJ_F64, 4, uhs);
  v = newresult(L, batched, B, 2, jd);
  c = newresult(L, batched, B, 2, ij);
  b = newresult(L, batched, B, 2, ij);
  if (cj_capsule_layer_forward(&l->l, B, data(uc), data(uh), data(v), data(c), data(b))) corefail(L);
  lua_pushvalue(L, -4);                        /* stack: ..., uc, uh, v, c, b */
  lua_setiuservalue(L, 1, 3);
  lua_pushvalue(L, -5);
  lua_setiuservalue(L, 1, 2);
  return 3;
}

/* layer:backward(dv) -> dW, du */
static int l_backward(lua_State *L)
{
  lua_settop(L, 2);
  llayer *l = checklayer(L, 1);
  larray *u, *uh, *dv, *dW, *du;
  int batched;
  int64_t B, Ws[4] = { l->l.I, l->l.J, l->l.dout, l->l.din };
  lua_getiuservalue(L, 1, 2);
  if (!(u = cj_testarray(L, -1))) luaL_argerror(L, 1, "backward before forward: no input to differentiate at");
  lua_getiuservalue(L, 1, 3);
  uh = cj_testarray(L, -1);
  batched = u->a.ndim == 3;
  B = batched ? u->a.shape[0] : 1;
  dv = lopt_f64(L, 2, 2 + batched, 0, "dv");
  if ((batched && dv->a.shape[0] != B) || dv->a.shape[batched] != l->l.J || dv->a.shape[batched + 1] != l->l.dout)
    luaL_argerror(L, 2, "dv must have the shape of the last forward's v");
  dW = cj_newarray(L, CJ_F64, 4, Ws);
  du = cj_newarray(L, CJ_F64, u->a.ndim, u->a.shape);
  if (cj_capsule_layer_backward(&l->l, B, data(u), data(uh), data(dv), data(dW), data(du))) corefail(L);
  return 2;
}

/* layer:train(u, targets, rate [, opts]) -> loss */
static int l_train(lua_State *L)
{
  llayer *l = checklayer(L, 1);
  double rate = luaL_checknumber(L, 4), *dW;
  int64_t nW = l->l.I * l->l.J * l->l.dout * l->l.din;
  luaL_argcheck(L, rate > 0 && isfinite(rate), 4, "learning rate must be positive");
  lopt_at(L, 5, marginopts);
  lua_settop(L, 5);
  lua_pushcfunction(L, l_forward);             /* stack: layer, u, t, rate, opts, forward */
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);                           /* stack: ..., v */
  lua_pushcfunction(L, caps_margin);
  lua_pushvalue(L, 6);
  lua_pushvalue(L, 3);
  lua_pushvalue(L, 5);
  lua_call(L, 3, 2);                           /* stack: ..., v, loss, dv */
  lua_pushcfunction(L, l_backward);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 8);
  lua_call(L, 2, 1);                           /* stack: ..., v, loss, dv, dW */
  dW = data(cj_checkarray(L, -1));
  for (int64_t k = 0; k < nW; k++) l->l.W[k] -= rate * dW[k];
  lua_pushvalue(L, 7);
  return 1;
}

static int l_index(lua_State *L)
{
  llayer *l = checklayer(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL) return 1;
  if (strcmp(k, "W") == 0) lua_getiuservalue(L, 1, 1);
  else if (strcmp(k, "iterations") == 0) lua_pushinteger(L, l->l.r);
  else if (strcmp(k, "children") == 0) lua_pushinteger(L, (lua_Integer)l->l.I);
  else if (strcmp(k, "parents") == 0) lua_pushinteger(L, (lua_Integer)l->l.J);
  else if (strcmp(k, "dim_in") == 0) lua_pushinteger(L, (lua_Integer)l->l.din);
  else if (strcmp(k, "dim_out") == 0) lua_pushinteger(L, (lua_Integer)l->l.dout);
  else lua_pushnil(L);
  return 1;
}

/* layer.W = array (copied into the layer's W); layer.iterations = r */
static int l_newindex(lua_State *L)
{
  llayer *l = checklayer(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "W") == 0) {
    larray *src = cj_optarray(L, 3), *W;
    lua_getiuservalue(L, 1, 1);
    W = cj_testarray(L, -1);
    if (!cj_array_sameshape(&src->a, &W->a)) luaL_argerror(L, 3, "W must keep its shape (children, parents, dim_out, dim_in)");
    if (!cj_dim_isless(src->dim)) luaL_argerror(L, 3, "W must be dimensionless");
    if (cj_array_copy(&W->a, &src->a)) corefail(L);
  } else if (strcmp(k, "iterations") == 0) {
    int isint;
    lua_Integer r = lua_tointegerx(L, 3, &isint);
    luaL_argcheck(L, isint && r >= 1 && r <= 1000000, 3, "iterations must be a positive integer");
    l->l.r = (int)r;
  } else {
    lua_pushfstring(L, "no field '%s' to set (W and iterations can be set)", k);
    luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  return 0;
}

static int l_tostring(lua_State *L)
{
  llayer *l = checklayer(L, 1);
  lua_pushfstring(L, "capsule layer(%I x %I -> %I x %I, %d iterations)", (lua_Integer)l->l.I,
                  (lua_Integer)l->l.din, (lua_Integer)l->l.J, (lua_Integer)l->l.dout, l->l.r);
  return 1;
}

/* ---- registration ------------------------------------------------------------ */

static const luaL_Reg funcs[] = {
  {"squash", caps_squash}, {"route", caps_route}, {"route_grad", caps_route_grad},
  {"predict", caps_predict}, {"margin_loss", caps_margin}, {"em_route", caps_em_route},
  {"layer", caps_layer},
  {NULL, NULL}
};

static const luaL_Reg lmethods[] = {
  {"forward", l_forward}, {"backward", l_backward}, {"train", l_train},
  {NULL, NULL}
};

static const cj_doc docs[] = {
  {"squash", "cj.capsule.squash(s) -> array\n"
   "v = s |s| / (1 + |s|^2) along the last dimension: the direction of s, length below 1\n"
   "(Sabour, Frosst & Hinton 2017, eq. 1)."},
  {"route", "cj.capsule.route(u_hat, r) -> v, c, b\n"
   "Routing by agreement, Procedure 1 of Sabour et al. (2017): b = 0; r times (default 3)\n"
   "c_i = softmax_j(b_i), s_j = sum_i c_ij u_hat_j|i, v_j = squash(s_j), b_ij += u_hat_j|i . v_j.\n"
   "u_hat (children, parents, dim) or (batch, children, parents, dim); v (batch?, parents,\n"
   "dim), c and b (batch?, children, parents): c is the coupling that made v, b the logits\n"
   "after the last update."},
  {"route_grad", "cj.capsule.route_grad(u_hat, r, dv) -> du_hat\n"
   "The gradient dL/du_hat given dL/dv, through all r iterations of routing (the couplings\n"
   "depend on u_hat too), for layers built by hand."},
  {"predict", "cj.capsule.predict(u, W) -> u_hat\n"
   "Predictions u_hat_j|i = W_ij u_i: u (batch?, children, dim_in), W (children, parents,\n"
   "dim_out, dim_in) -> (batch?, children, parents, dim_out)."},
  {"margin_loss", "cj.capsule.margin_loss(v, targets [, opts]) -> loss, dv\n"
   "Sabour et al.'s margin loss sum_k T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0,\n"
   "|v_k| - m-)^2, averaged over the batch, and its gradient dL/dv. targets: a class number\n"
   "(1-based; for a batch a list or array of them) or one-hot T. opts: m_plus (0.9),\n"
   "m_minus (0.1), lambda (0.5)."},
  {"em_route", "cj.capsule.em_route(votes, a, r [, opts]) -> a_out, mu, R, var\n"
   "EM routing of matrix capsules (Hinton, Sabour & Frosst 2018, Procedure 1): votes\n"
   "(batch?, children, parents, h), child activations a (batch?, children); r iterations of\n"
   "an M-step (R <- R a; Gaussian mean mu and variance var per parent; cost (beta_u + log\n"
   "sigma) sum R; a_out = logistic(lambda (beta_a - sum_h cost))) and an E-step (R_ij ~\n"
   "a_j N(V_ij; mu_j, var_j)). opts: lambda (inverse temperature: a number or r of them,\n"
   "default 1), beta_u, beta_a (a number or one per parent, default 0), eps (added to var,\n"
   "1e-8)."},
  {"layer", "cj.capsule.layer(children, parents, dim_in, dim_out [, opts]) -> layer\n"
   "A capsule layer holding W (children, parents, dim_out, dim_in), drawn N(0, std^2).\n"
   "opts: iterations (of routing, 3), std (0.01), seed. layer.W is its weight array (write\n"
   "into it, or assign an array of its shape); layer.iterations can be set."},
  {NULL, NULL}
};

static const cj_doc ldocs[] = {
  {"forward", "capsulelayer:forward(u) -> v, c, b\n"
   "Predictions from u (batch?, children, dim_in) and routing; the input and predictions\n"
   "are kept for layer:backward."},
  {"backward", "capsulelayer:backward(dv) -> dW, du\n"
   "Gradients of a loss with respect to W and to the last forward's input, given dL/dv,\n"
   "through routing (exact reverse-mode differentiation of Procedure 1)."},
  {"train", "capsulelayer:train(u, targets, rate [, opts]) -> loss\n"
   "One step of gradient descent on the margin loss (opts as cj.capsule.margin_loss):\n"
   "forward, loss, backward, W <- W - rate dW. Returns the loss before the step."},
  {NULL, NULL}
};

void cj_open_capsule(lua_State *L)
{
  luaL_newmetatable(L, CJ_CAPSLAYER);          /* stack: mod, mt */
  luaL_newlib(L, lmethods);
  cj_setdocs(L, -1, ldocs);
  lua_pushcclosure(L, l_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "capsule");
}
