/*
 * lunits.c — physical quantities in Lua: the "cajal.quantity" userdata
 * (a double in SI units and a cj_dim), its arithmetic, and the unit names
 * of the module (cj.ms, cj.mV, cj.nS, ..., cj.unit("uF/cm^2")).
 *
 * A quantity never has dimension one: such results are plain numbers. When
 * the other operand of an arithmetic metamethod is an array, the array's
 * metamethod does the work (arrays carry a dimension of their own).
 */
#include "lcajal.h"

#include <math.h>
#include <string.h>

#define testquantity(L, i) ((lquantity *)luaL_testudata(L, i, CJ_QUANTITY))
#define checkquantity(L, i) ((lquantity *)luaL_checkudata(L, i, CJ_QUANTITY))

/* ---- shared API (lcajal.h) ---------------------------------------------- */

int cj_toquantity(lua_State *L, int i, double *v, cj_dim *d)
{
  lquantity *q;
  if (lua_type(L, i) == LUA_TNUMBER) {
    *v = lua_tonumber(L, i);
    *d = cj_dimless;
    return 1;
  }
  if ((q = testquantity(L, i))) {
    *v = q->v;
    *d = q->dim;
    return 1;
  }
  return 0;
}

void cj_pushquantity(lua_State *L, double v, cj_dim d)
{
  lquantity *q;
  if (cj_dim_isless(d)) {
    lua_pushnumber(L, v);
    return;
  }
  q = lua_newuserdatauv(L, sizeof *q, 0);
  q->v = v;
  q->dim = d;
  luaL_setmetatable(L, CJ_QUANTITY);
}

/* Dimension as words for messages: "V", "m^2 kg", "dimensionless". */
static const char *dimwords(cj_dim d, char *buf, size_t n)
{
  if (cj_dim_isless(d)) {
    snprintf(buf, n, "dimensionless");
    return buf;
  }
  return cj_dim_format(d, buf, n);
}

int cj_uniterror(lua_State *L, const char *what, cj_dim a, cj_dim b)
{
  char da[96], db[96];
  return luaL_error(L, "cannot %s %s and %s", what, dimwords(a, da, sizeof da),
                    dimwords(b, db, sizeof db));
}

/* ---- metamethods ----------------------------------------------------------- */

/* If operand 1 or 2 is an array, call the array metatable's `event` with
 * both operands and return 1 (its result on the stack). */
static int toarray(lua_State *L, const char *event)
{
  if (!cj_testarray(L, 1) && !cj_testarray(L, 2)) return 0;
  luaL_getmetatable(L, CJ_ARRAY);                       /* stack: a, b, mt */
  if (lua_getfield(L, -1, event) == LUA_TNIL)
    luaL_error(L, "arrays do not support '%s' with quantities", event + 2);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

/* Both operands as quantities; raises for other types. */
static void operands(lua_State *L, const char *op, double *a, cj_dim *da, double *b, cj_dim *db)
{
  if (!cj_toquantity(L, 1, a, da))
    luaL_error(L, "cannot %s a %s and a quantity", op, luaL_typename(L, 1));
  if (!cj_toquantity(L, 2, b, db))
    luaL_error(L, "cannot %s a quantity and a %s", op, luaL_typename(L, 2));
}

static int addsub(lua_State *L, const char *event, const char *verb, int sign)
{
  double a, b;
  cj_dim da, db;
  if (toarray(L, event)) return 1;
  operands(L, verb, &a, &da, &b, &db);
  if (!cj_dim_eq(da, db)) return cj_uniterror(L, verb, da, db);
  cj_pushquantity(L, sign > 0 ? a + b : a - b, da);
  return 1;
}

static int q_add(lua_State *L) { return addsub(L, "__add", "add", 1); }
static int q_sub(lua_State *L) { return addsub(L, "__sub", "subtract", -1); }

static int muldiv(lua_State *L, const char *event, const char *verb, int sign)
{
  double a, b;
  cj_dim da, db, d;
  if (toarray(L, event)) return 1;
  operands(L, verb, &a, &da, &b, &db);
  if (cj_dim_mulx(da, db, sign, &d)) return luaL_error(L, "%s", cj_errmsg());
  cj_pushquantity(L, sign > 0 ? a * b : a / b, d);
  return 1;
}

static int q_mul(lua_State *L) { return muldiv(L, "__mul", "multiply", 1); }
static int q_div(lua_State *L) { return muldiv(L, "__div", "divide", -1); }

/* a % b and a // b: same dimensions, as Lua defines them for floats. */
static int q_mod(lua_State *L)
{
  double a, b, m;
  cj_dim da, db;
  if (toarray(L, "__mod")) return 1;
  operands(L, "take the remainder of", &a, &da, &b, &db);
  if (!cj_dim_eq(da, db)) return cj_uniterror(L, "take the remainder of", da, db);
  m = fmod(a, b);
  if (m != 0 && (m > 0) != (b > 0)) m += b;
  cj_pushquantity(L, m, da);
  return 1;
}

static int q_idiv(lua_State *L)
{
  double a, b;
  cj_dim da, db;
  if (toarray(L, "__idiv")) return 1;
  operands(L, "floor-divide", &a, &da, &b, &db);
  if (!cj_dim_eq(da, db)) return cj_uniterror(L, "floor-divide", da, db);
  lua_pushnumber(L, floor(a / b));
  return 1;
}

/* The rational num/den (den <= 12) equal to x, or 0. */
static int rational(double x, int *num, int *den)
{
  for (int q = 1; q <= 12; q++) {
    double p = x * q;
    if (fabs(p - nearbyint(p)) < 1e-9 && fabs(p) <= 1e4) {
      *num = (int)nearbyint(p);
      *den = q;
      return 1;
    }
  }
  return 0;
}

static int q_pow(lua_State *L)
{
  double a, x;
  cj_dim da, dx, d;
  int num, den;
  char buf[96];
  if (toarray(L, "__pow")) return 1;
  operands(L, "raise", &a, &da, &x, &dx);
  if (!cj_dim_isless(dx))
    return luaL_error(L, "cannot raise to the power of a quantity (%s): the exponent "
                      "must be a number", dimwords(dx, buf, sizeof buf));
  if (!rational(x, &num, &den))
    return luaL_error(L, "cannot raise %s to the power %f: the exponent must be a "
                      "fraction giving integer dimensions", dimwords(da, buf, sizeof buf), x);
  if (cj_dim_pow(da, num, den, &d)) return luaL_error(L, "%s", cj_errmsg());
  cj_pushquantity(L, pow(a, x), d);
  return 1;
}

static int q_unm(lua_State *L)
{
  lquantity *q = checkquantity(L, 1);
  cj_pushquantity(L, -q->v, q->dim);
  return 1;
}

static int compare(lua_State *L, const char *event, int op)
{
  double a, b;
  cj_dim da, db;
  if (toarray(L, event)) return 1;
  operands(L, "compare", &a, &da, &b, &db);
  if (!cj_dim_eq(da, db)) return cj_uniterror(L, "compare", da, db);
  lua_pushboolean(L, op == 0 ? a == b : op == 1 ? a < b : a <= b);
  return 1;
}

static int q_eq(lua_State *L) { return compare(L, "__eq", 0); }
static int q_lt(lua_State *L) { return compare(L, "__lt", 1); }
static int q_le(lua_State *L) { return compare(L, "__le", 2); }

static int q_tostring(lua_State *L)
{
  lquantity *q = checkquantity(L, 1);
  char buf[160];
  lua_pushstring(L, cj_quantity_format(q->v, q->dim, buf, sizeof buf));
  return 1;
}

static int q_concat(lua_State *L)
{
  luaL_tolstring(L, 1, NULL);
  luaL_tolstring(L, 2, NULL);
  lua_concat(L, 2);
  return 1;
}

/* Argument i as a unit: a quantity, a number, or a unit expression string. */
static void checkunit(lua_State *L, int i, double *v, cj_dim *d)
{
  if (lua_type(L, i) == LUA_TSTRING) {
    if (cj_unit_parse(lua_tostring(L, i), v, d))
      luaL_argerror(L, i, cj_errmsg());
    return;
  }
  if (!cj_toquantity(L, i, v, d))
    luaL_typeerror(L, i, "unit (quantity or string)");
}

/* {m, kg, s, A, K, mol, cd} exponents of d (pushed) */
static void pushexponents(lua_State *L, cj_dim d)
{
  lua_createtable(L, CJ_NBASE, 0);
  for (int i = 0; i < CJ_NBASE; i++) {
    lua_pushinteger(L, d.e[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* q:to(unit) -> the value of q counted in `unit` (a number). ("in", as the
 * brief had it, is a Lua keyword: q:in(u) does not parse; q["in"] exists.) */
static int m_in(lua_State *L)
{
  lquantity *q = checkquantity(L, 1);
  double u;
  cj_dim du;
  checkunit(L, 2, &u, &du);
  if (!cj_dim_eq(q->dim, du)) {
    char b1[96], b2[96];
    lua_pushfstring(L, "cannot convert %s to %s", dimwords(q->dim, b1, sizeof b1),
                    dimwords(du, b2, sizeof b2));
    return luaL_argerror(L, 2, lua_tostring(L, -1));
  }
  lua_pushnumber(L, q->v / u);
  return 1;
}

static int q_index(lua_State *L)
{
  lquantity *q = checkquantity(L, 1);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  char buf[128];
  if (strcmp(k, "value") == 0) lua_pushnumber(L, q->v);
  else if (strcmp(k, "dim") == 0) lua_pushstring(L, cj_dim_format(q->dim, buf, sizeof buf));
  else if (strcmp(k, "exponents") == 0) pushexponents(L, q->dim);
  else if (strcmp(k, "to") == 0 || strcmp(k, "in") == 0) lua_pushcfunction(L, m_in);
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg qmeta[] = {
  { "__add", q_add }, { "__sub", q_sub }, { "__mul", q_mul }, { "__div", q_div },
  { "__mod", q_mod }, { "__idiv", q_idiv }, { "__pow", q_pow }, { "__unm", q_unm },
  { "__eq", q_eq }, { "__lt", q_lt }, { "__le", q_le }, { "__tostring", q_tostring },
  { "__concat", q_concat }, { "__index", q_index }, { NULL, NULL }
};

/* ---- module functions ------------------------------------------------------- */

/* cj.unit(expr) -> quantity (or number when dimensionless) */
static int u_unit(lua_State *L)
{
  const char *s = luaL_checkstring(L, 1);
  double v;
  cj_dim d;
  if (cj_unit_parse(s, &v, &d)) return luaL_argerror(L, 1, cj_errmsg());
  cj_pushquantity(L, v, d);
  return 1;
}

/* cj.dimension(x) -> "V", "m^-2 kg^-1 s^4 A^2", "1" */
static int u_dimension(lua_State *L)
{
  double v;
  cj_dim d;
  larray *a;
  char buf[128];
  if ((a = cj_testarray(L, 1))) d = a->dim;
  else if (lua_type(L, 1) == LUA_TSTRING) {
    if (cj_unit_parse(lua_tostring(L, 1), &v, &d)) return luaL_argerror(L, 1, cj_errmsg());
  }
  else if (!cj_toquantity(L, 1, &v, &d))
    return luaL_typeerror(L, 1, "number, quantity, array or unit string");
  lua_pushstring(L, cj_dim_format(d, buf, sizeof buf));
  return 1;
}

/* cj.exponents(x) -> { m, kg, s, A, K, mol, cd } exponents as integers */
static int u_exponents(lua_State *L)
{
  double v;
  cj_dim d;
  larray *a;
  if ((a = cj_testarray(L, 1))) d = a->dim;
  else if (lua_type(L, 1) == LUA_TSTRING) {
    if (cj_unit_parse(lua_tostring(L, 1), &v, &d)) return luaL_argerror(L, 1, cj_errmsg());
  }
  else if (!cj_toquantity(L, 1, &v, &d))
    return luaL_typeerror(L, 1, "number, quantity, array or unit string");
  pushexponents(L, d);
  return 1;
}

/* cj.isquantity(x) -> boolean */
static int u_isquantity(lua_State *L)
{
  lua_pushboolean(L, testquantity(L, 1) != NULL);
  return 1;
}

static const luaL_Reg funcs[] = {
  { "unit", u_unit }, { "dimension", u_dimension }, { "isquantity", u_isquantity },
  { "exponents", u_exponents }, { NULL, NULL }
};

static const cj_doc docs[] = {
  { "unit", "cj.unit(expr) -> quantity\n"
    "Parse a unit expression such as \"uF/cm^2\", \"mS/cm2\", \"1/ms\" or\n"
    "\"m^2 kg s^-3 A^-1\"; a dimensionless expression gives a number." },
  { "dimension", "cj.dimension(x) -> string\n"
    "The dimension of a number (\"1\"), quantity, array or unit string, e.g. \"V\", \"S/m^2\"." },
  { "exponents", "cj.exponents(x) -> {m, kg, s, A, K, mol, cd}\n"
    "The SI base exponents of a number, quantity, array or unit string, e.g. {2, 1, -3, -1, 0, 0, 0} for V." },
  { "isquantity", "cj.isquantity(x) -> boolean\n"
    "True when x is a quantity (a number with a unit)." },
  { NULL, NULL }
};

static const cj_doc qdocs[] = {
  { "to", "q:to(unit) -> number\n"
    "The value of quantity q counted in unit (a quantity or a string such as \"ms\"):\n"
    "(20*cj.ms):to(\"us\") is 20000. Fields: q.value (SI number), q.dim, q.exponents." },
  { NULL, NULL }
};

void cj_open_units(lua_State *L)
{
  int i, n;
  luaL_newmetatable(L, CJ_QUANTITY);                     /* stack: M, mt */
  luaL_setfuncs(L, qmeta, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  cj_setdocs(L, -1, docs);
  lua_newtable(L);                                        /* help for q:to */
  lua_pushcfunction(L, m_in);
  lua_setfield(L, -2, "to");
  cj_setdocs(L, -1, qdocs);
  lua_pop(L, 1);
  n = cj_unit_count();
  lua_createtable(L, 0, n);                               /* stack: M, units */
  for (i = 0; i < n; i++) {
    double v;
    cj_dim d;
    const char *name = cj_unit_name(i, &v, &d);
    cj_pushquantity(L, v, d);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);                            /* units[name] = q */
    lua_setfield(L, -3, name);                            /* M[name] = q */
  }
  lua_setfield(L, -2, "units");
}
