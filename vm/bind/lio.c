/*
 * lio.c — cj.io: arrays to and from files (vm/core/npy.h, vm/core/csv.h).
 *
 *   cj.io.save_npy(path, a)            cj.io.load_npy(path) -> array
 *   cj.io.npy_writer(path [, dtype [, ncols [, opts]]]) -> writer (:append, :flush, :close)
 *   cj.io.save_csv(path, columns [, header [, opts]])
 *   cj.io.load_csv(path [, opts]) -> columns, header
 *   cj.io.save_columns(path, columns [, "binary"|"text"])   (gnuplot-style data)
 *
 * A file or its contents being wrong is an error naming the function and the
 * file ("load_npy: run.npy: truncated data ..."); a wrong argument is an
 * argument error. Raw resources (an open file, a parsed table) are held by
 * a box (cj_newbox, lcajal.h) while anything that can raise runs, so an
 * error never leaks them. Array elements are stored in SI units (arrays
 * with a unit are written as their SI values; no unit is recorded).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "lcajal.h"
#include "lopt.h"
#include "npy.h"

#define CJ_NPYWRITER "cajal.npywriter"

static void freereader(void *p) { cj_npy_close(p); }
static void freecsv(void *p) { cj_csv_free(p); }
static void freewriter(void *p) { cj_npy_writer_close(p); }
static void closefile(void *p) { fclose(p); }

static int ioerror(lua_State *L, const char *fn)
{
  return luaL_error(L, "%s: %s", fn, cj_errmsg());
}

/* ---- .npy ------------------------------------------------------------------ */

/* save_npy(path, a [, opts]): the array, then its provenance sidecar
 * path..".prov.json" (opts.net, opts.provenance: see provenance.lua). */
static int io_save_npy(lua_State *L)
{
  static const char *const known[] = { "net", "provenance", NULL };
  const char *path = luaL_checkstring(L, 1);
  larray *a;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lopt_at(L, 3, known);
  }
  lua_settop(L, 3);
  a = cj_optarray(L, 2);
  if (cj_npy_save(path, &a->a)) return ioerror(L, "save_npy");
  cj_prov_record(L, 3, "npy", path);
  return 0;
}

static int io_load_npy(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  cj_box *b = cj_newbox(L, freereader);           /* stack: path, box */
  cj_npy_reader *r;
  cj_npyinfo info;
  larray *a;
  if (cj_npy_open(&r, path, &info)) return ioerror(L, "load_npy");
  b->p = r;
  a = cj_newarray(L, info.dtype, info.ndim, info.shape);
  if (cj_npy_read(r, &a->a)) return ioerror(L, "load_npy");
  cj_boxfree(b);
  return 1;
}

/* ---- the streaming writer -------------------------------------------------- */

typedef struct lwriter { cj_npy_writer *w; } lwriter;

static lwriter *checkwriter(lua_State *L, int i)
{
  lwriter *w = luaL_checkudata(L, i, CJ_NPYWRITER);
  if (!w->w) luaL_argerror(L, i, "npy writer is closed");
  return w;
}

static cj_dtype optdtype(lua_State *L, int i)
{
  cj_dtype t = CJ_F64;
  if (!lua_isnoneornil(L, i) && cj_dtype_parse(luaL_checkstring(L, i), &t))
    luaL_argerror(L, i, cj_errmsg());
  return t;
}

/* ncols: nil (one value per row), a count, or a row shape table. */
static int rowshape(lua_State *L, int i, int64_t *shape)
{
  int n;
  if (lua_isnoneornil(L, i)) return 0;
  if (lua_isinteger(L, i)) {
    shape[0] = lua_tointeger(L, i);
    luaL_argcheck(L, shape[0] >= 1, i, "number of columns must be at least 1");
    return 1;
  }
  luaL_argexpected(L, lua_istable(L, i), i, "integer or shape table");
  n = (int)luaL_len(L, i);
  luaL_argcheck(L, n < CJ_MAXDIM, i, "too many dimensions");
  for (int d = 0; d < n; d++) {
    lua_geti(L, i, d + 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
      luaL_argerror(L, i, "shape must hold non-negative integers");
    shape[d] = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return n;
}

/* User values of a writer: 1 its path, 2 its options (net, provenance) for the
 * provenance sidecar that :close writes. */
static int io_npy_writer(lua_State *L)
{
  static const char *const known[] = { "net", "provenance", NULL };
  const char *path = luaL_checkstring(L, 1);
  cj_dtype t = optdtype(L, 2);
  int64_t shape[CJ_MAXDIM];
  int n = rowshape(L, 3, shape);
  lwriter *w;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lopt_at(L, 4, known);
  }
  lua_settop(L, 4);
  w = lua_newuserdatauv(L, sizeof *w, 2);
  w->w = NULL;
  luaL_setmetatable(L, CJ_NPYWRITER);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, -2, 2);
  if (cj_npy_writer_open(&w->w, path, t, n, shape)) return ioerror(L, "npy_writer");
  return 1;
}

static int w_append(lua_State *L)
{
  lwriter *w = checkwriter(L, 1);
  larray *a = cj_optarray(L, 2);
  int st = cj_npy_writer_append_array(w->w, &a->a);
  if (st == CJ_EINVAL) return luaL_argerror(L, 2, cj_errmsg());
  if (st) return ioerror(L, "append");
  lua_settop(L, 1);
  return 1;
}

static int w_flush(lua_State *L)
{
  lwriter *w = checkwriter(L, 1);
  if (cj_npy_writer_flush(w->w)) return ioerror(L, "flush");
  lua_settop(L, 1);
  return 1;
}

static int w_rows(lua_State *L)
{
  lua_pushinteger(L, cj_npy_writer_rows(checkwriter(L, 1)->w));
  return 1;
}

static int w_close(lua_State *L)
{
  lwriter *w = luaL_checkudata(L, 1, CJ_NPYWRITER);
  int64_t rows;
  cj_npy_writer *p = w->w;
  if (!p) return 0;
  rows = cj_npy_writer_rows(p);
  w->w = NULL;
  if (cj_npy_writer_close(p)) return ioerror(L, "close");
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, 1);                 /* stack: writer, path, opts */
  lua_getiuservalue(L, 1, 2);
  cj_prov_record(L, 3, "npy", lua_tostring(L, 2));
  lua_pushinteger(L, rows);
  return 1;
}

static int w_gc(lua_State *L)
{
  lwriter *w = luaL_checkudata(L, 1, CJ_NPYWRITER);
  if (w->w) freewriter(w->w);
  w->w = NULL;
  return 0;
}

static int w_tostring(lua_State *L)
{
  lwriter *w = luaL_checkudata(L, 1, CJ_NPYWRITER);
  lua_getiuservalue(L, 1, 1);
  if (!w->w) {
    lua_pushfstring(L, "npy_writer %s (closed)", lua_tostring(L, -1));
  } else {
    lua_pushfstring(L, "npy_writer %s (%s, %I rows of %I)", lua_tostring(L, -1),
                    cj_dtype_name(cj_npy_writer_dtype(w->w)),
                    (lua_Integer)cj_npy_writer_rows(w->w),
                    (lua_Integer)cj_npy_writer_rowsize(w->w));
  }
  return 1;
}

/* ---- CSV ------------------------------------------------------------------- */

static char optchar(lua_State *L, int o, const char *key, char def)
{
  size_t n;
  const char *s;
  char msg[64];
  if (lua_getfield(L, o, key) == LUA_TNIL) { lua_pop(L, 1); return def; }
  s = lua_tolstring(L, -1, &n);
  snprintf(msg, sizeof msg, "option '%s' must be one character", key);
  if (!s || n != 1 || lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, o, msg);
  lua_pop(L, 1);
  return s[0];
}

static int optbool(lua_State *L, int o, const char *key, int def)
{
  int t = lua_getfield(L, o, key);
  int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
  char msg[64];
  snprintf(msg, sizeof msg, "option '%s' must be a boolean", key);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) luaL_argerror(L, o, msg);
  lua_pop(L, 1);
  return v;
}

/* Refuse option names outside `known` (a typo would otherwise go unseen). */

static void csvopts(lua_State *L, int o, cj_csvopts *opts)
{
  static const char *const known[] = { "sep", "comment", "header", "numeric", NULL };
  cj_csv_defaults(opts);
  if (lua_isnoneornil(L, o)) return;
  luaL_checktype(L, o, LUA_TTABLE);
  lopt_at(L, o, known);
  opts->sep = optchar(L, o, "sep", ',');
  opts->comment = optchar(L, o, "comment", '\0');
  opts->header = optbool(L, o, "header", 1);
  opts->numeric = optbool(L, o, "numeric", 0);
  if (opts->sep == '"' || opts->sep == '\n' || opts->sep == '\r')
    luaL_argerror(L, o, "option 'sep' cannot be a quote or a line break");
}

/* Push column j of t: a float64 array or a table of strings. */
static void pushcolumn(lua_State *L, const cj_csv *t, int j)
{
  const cj_csvcol *c = &t->cols[j];
  if (c->numeric) {
    int64_t n = t->nrows;
    larray *a = cj_newarray(L, CJ_F64, 1, &n);
    if (n) memcpy(a->a.data, c->values, (size_t)n * sizeof(double));
    return;
  }
  lua_createtable(L, t->nrows < INT32_MAX ? (int)t->nrows : 0, 0);
  for (int64_t i = 0; i < t->nrows; i++) {
    lua_pushlstring(L, c->text + c->offsets[i], (size_t)(c->offsets[i + 1] - c->offsets[i] - 1));
    lua_rawseti(L, -2, i + 1);
  }
}

static int io_load_csv(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  cj_csvopts opts;
  cj_box *b;
  cj_csv *t;
  csvopts(L, 2, &opts);
  lua_settop(L, 2);
  b = cj_newbox(L, freecsv);                  /* stack: path, opts, box */
  if (cj_csv_read(path, &opts, &t)) return ioerror(L, "load_csv");
  b->p = t;
  lua_createtable(L, 0, t->ncols);         /* stack: ..., box, columns */
  lua_createtable(L, t->ncols, 0);         /* stack: ..., box, columns, header */
  for (int j = 0; j < t->ncols; j++) {
    if (t->cols[j].name) lua_pushstring(L, t->cols[j].name);
    else lua_pushinteger(L, j + 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, j + 1);             /* header[j+1] = name */
    pushcolumn(L, t, j);
    lua_rawset(L, -4);                     /* columns[name] = column */
  }
  cj_boxfree(b);
  return 2;
}

/* The rows of a column value at index v: an array (1-D), or a table of
 * numbers (converted into a float64 array) or of strings / numbers (text).
 * Fills out; anchors what it creates in the table at index anchor. */
static int64_t csvcolumn(lua_State *L, int v, const char *name, int anchor, cj_csvout *out)
{
  larray *a = cj_testarray(L, v);
  int64_t n;
  int text = 0;
  if (a) {
    if (a->a.ndim != 1)
      luaL_error(L, "save_csv: column '%s' must be 1-D (got %d dimensions)", name, a->a.ndim);
    out->num = &a->a;
    return a->a.shape[0];
  }
  if (!lua_istable(L, v))
    luaL_error(L, "save_csv: column '%s' must be an array or a table (got %s)", name,
               luaL_typename(L, v));
  n = luaL_len(L, v);
  for (int64_t i = 1; i <= n && !text; i++) {
    int t = lua_geti(L, v, i);
    if (t == LUA_TSTRING) text = 1;
    else if (t != LUA_TNUMBER)
      luaL_error(L, "save_csv: column '%s', row %I: expected a number or a string, got %s",
                 name, (lua_Integer)i, luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  if (!text) {
    a = cj_newarray(L, CJ_F64, 1, &n);
    for (int64_t i = 0; i < n; i++) {
      lua_geti(L, v, i + 1);
      ((double *)a->a.data)[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    out->num = &a->a;
  } else {
    const char **s = lua_newuserdatauv(L, (size_t)(n ? n : 1) * (sizeof *s + sizeof(size_t)), 0);
    size_t *len = (size_t *)(s + n);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);   /* the strings, kept alive */
    for (int64_t i = 0; i < n; i++) {
      lua_geti(L, v, i + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "save_csv: column '%s', row %I: expected a string, got %s", name,
                   (lua_Integer)i + 1, luaL_typename(L, -1));
      s[i] = lua_tolstring(L, -1, &len[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_rawseti(L, anchor, (lua_Integer)luaL_len(L, anchor) + 1);
    out->str = s;
    out->len = len;
  }
  lua_rawseti(L, anchor, (lua_Integer)luaL_len(L, anchor) + 1);
  return n;
}

static int sortnames(lua_State *L, int cols)
{
  int n = 0;
  lua_newtable(L);                             /* stack: ..., names */
  lua_pushnil(L);
  while (lua_next(L, cols)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, cols, "column names must be strings (or give a header list)");
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, ++n);
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_remove(L, -2);
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
  return n;
}

/* The header of save_csv: pushes nothing or the sorted names; returns the
 * number of columns and sets *hdr to the stack index of the name list. */
static int csvheader(lua_State *L, larray *m, int *hdr)
{
  int ncols;
  *hdr = 3;
  if (!m) {
    luaL_argexpected(L, lua_istable(L, 2), 2, "array or table of columns");
    if (lua_isnil(L, 3)) {
      ncols = sortnames(L, 2);
      *hdr = lua_gettop(L);
      return ncols;
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    return (int)luaL_len(L, 3);
  }
  luaL_argcheck(L, m->a.ndim == 1 || m->a.ndim == 2, 2, "array must be 1-D or 2-D");
  ncols = m->a.ndim == 1 ? 1 : (int)m->a.shape[1];
  luaL_argexpected(L, lua_istable(L, 3), 3, "header list");
  if (luaL_len(L, 3) != ncols) {
    lua_pushfstring(L, "header has %I names for %d columns", (lua_Integer)luaL_len(L, 3), ncols);
    luaL_argerror(L, 3, lua_tostring(L, -1));
  }
  return ncols;
}

/* Column j of save_csv into *o; returns its number of rows. */
static int64_t csvout(lua_State *L, larray *m, int hdr, int j, int anchor, cj_csvout *o)
{
  int64_t n;
  if (lua_geti(L, hdr, j + 1) != LUA_TSTRING) {
    lua_pushfstring(L, "header entry %d must be a string", j + 1);
    luaL_argerror(L, 3, lua_tostring(L, -1));
  }
  o->name = lua_tostring(L, -1);              /* kept alive by the header table */
  if (m) {
    cj_array *v = lua_newuserdatauv(L, sizeof *v, 0);
    if (m->a.ndim == 1) *v = m->a;
    else cj_array_select(v, &m->a, 1, j);
    lua_rawseti(L, anchor, (lua_Integer)luaL_len(L, anchor) + 1);
    o->num = v;
    n = v->shape[0];
  } else {
    if (lua_getfield(L, 2, o->name) == LUA_TNIL) {
      lua_pushfstring(L, "no column '%s' in the columns table", o->name);
      luaL_argerror(L, 3, lua_tostring(L, -1));
    }
    n = csvcolumn(L, lua_gettop(L), o->name, anchor, o);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

/* save_csv(path, columns [, header [, opts]]) */
static int io_save_csv(lua_State *L)
{
  static const char *const known[] = { "sep", "net", "provenance", NULL };
  const char *path = luaL_checkstring(L, 1);
  larray *m = cj_testarray(L, 2);
  int ncols, anchor, hdr;
  int64_t nrows = 0;
  cj_csvout *out;
  char sep = ',';
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lopt_at(L, 4, known);
    sep = optchar(L, 4, "sep", ',');
  }
  lua_settop(L, 4);
  cj_prov_record(L, 4, "csv", path);         /* stack: path, columns, header, opts, line */
  ncols = csvheader(L, m, &hdr);
  lua_newtable(L);                            /* stack: ..., anchor */
  anchor = lua_gettop(L);
  out = lua_newuserdatauv(L, sizeof *out * (size_t)(ncols ? ncols : 1), 0);
  memset(out, 0, sizeof *out * (size_t)(ncols ? ncols : 1));
  lua_rawseti(L, anchor, 1);
  for (int j = 0; j < ncols; j++) {
    int64_t n = csvout(L, m, hdr, j, anchor, &out[j]);
    if (j > 0 && n != nrows)
      luaL_error(L, "save_csv: column '%s' has %I rows, column '%s' has %I", out[j].name,
                 (lua_Integer)n, out[0].name, (lua_Integer)nrows);
    nrows = n;
  }
  if (cj_csv_write_with(path, ncols, out, nrows, sep, lua_tostring(L, 5))) return ioerror(L, "save_csv");
  return 0;
}

/* ---- plain data columns (for gnuplot) ---------------------------------------- */

/* The columns of save_columns as views, in a userdata anchored at
 * anchor[1]; a single array is one flat column (copied if strided). */
static cj_array *flatcolumn(lua_State *L, int anchor, int64_t *nrows)
{
  larray *a = cj_checkarray(L, 2);
  int64_t n = cj_array_numel(&a->a);
  cj_array *col = lua_newuserdatauv(L, sizeof *col, 0);
  lua_rawseti(L, anchor, 1);
  if (!cj_array_iscontig(&a->a) && n > 0) {
    larray *c = cj_newarray(L, a->a.dtype, a->a.ndim, a->a.shape);
    if (cj_array_copy(&c->a, &a->a)) ioerror(L, "save_columns");
    lua_rawseti(L, anchor, 2);
    a = c;
  }
  cj_array_wrap(col, a->a.data, a->a.dtype, 1, &n);
  *nrows = n;
  return col;
}

static cj_array *listcolumns(lua_State *L, int anchor, int *ncols, int64_t *nrows)
{
  int n = (int)luaL_len(L, 2);
  cj_array *cols;
  luaL_argcheck(L, n >= 1, 2, "no columns (a list of 1-D or 2-D arrays expected)");
  *ncols = 0;
  for (int j = 0; j < n; j++) {               /* convert and count the columns */
    larray *a;
    lua_geti(L, 2, j + 1);
    a = cj_optarray(L, lua_gettop(L));
    if (a->a.ndim != 1 && a->a.ndim != 2) {
      lua_pushfstring(L, "entry %d must be a 1-D or 2-D array", j + 1);
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    if (j > 0 && a->a.shape[0] != *nrows) {
      lua_pushfstring(L, "entry %d has %I rows, entry 1 has %I", j + 1,
                      (lua_Integer)a->a.shape[0], (lua_Integer)*nrows);
      luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    if (a->a.ndim == 2 && a->a.shape[1] > INT32_MAX - *ncols) luaL_argerror(L, 2, "too many columns");
    *nrows = a->a.shape[0];
    *ncols += a->a.ndim == 1 ? 1 : (int)a->a.shape[1];
    lua_rawseti(L, anchor, j + 1);
    lua_settop(L, anchor);
  }
  luaL_argcheck(L, *ncols >= 1, 2, "no columns");
  cols = lua_newuserdatauv(L, sizeof *cols * (size_t)*ncols, 0);
  lua_rawseti(L, anchor, n + 1);
  for (int j = 0, k = 0; j < n; j++) {        /* a 2-D entry gives one view per column */
    larray *a;
    lua_rawgeti(L, anchor, j + 1);
    a = cj_checkarray(L, -1);
    if (a->a.ndim == 1) cols[k++] = a->a;
    else for (int64_t c = 0; c < a->a.shape[1]; c++) cj_array_select(&cols[k++], &a->a, 1, c);
    lua_pop(L, 1);
  }
  return cols;
}

static void writerows(FILE *f, const cj_array *cols, int ncols, int64_t nrows, int text, double *row)
{
  for (int64_t i = 0; i < nrows; i++) {
    for (int j = 0; j < ncols; j++) row[j] = cj_array_getflat(&cols[j], i);
    if (!text) {
      fwrite(row, sizeof *row, (size_t)ncols, f);
      continue;
    }
    for (int j = 0; j < ncols; j++) {
      if (isnan(row[j])) fputs("NaN", f);
      else fprintf(f, "%.17g", row[j]);
      putc(j + 1 < ncols ? ' ' : '\n', f);
    }
  }
}

/* save_columns(path, columns [, format]): columns is a list of 1-D arrays
 * (or tables of numbers) and 2-D arrays (one column each of their columns),
 * all with the same number of rows; or one array, written flat in C order.
 * format "binary" (default): rows of float64 values, native byte order;
 * "text": one row per line, values separated by spaces, NaN as "NaN". */
static int io_save_columns(lua_State *L)
{
  static const char *const fmts[] = { "binary", "text", NULL };
  const char *path = luaL_checkstring(L, 1);
  int text = luaL_checkoption(L, 3, "binary", fmts), ncols = 1, anchor, bad;
  int64_t nrows = 0;
  cj_array *cols;
  double *row;
  cj_box *b;
  lua_settop(L, 3);
  lua_newtable(L);
  anchor = lua_gettop(L);
  if (cj_testarray(L, 2)) cols = flatcolumn(L, anchor, &nrows);
  else {
    luaL_argexpected(L, lua_istable(L, 2), 2, "array or list of columns");
    cols = listcolumns(L, anchor, &ncols, &nrows);
  }
  row = lua_newuserdatauv(L, sizeof *row * (size_t)ncols, 0);
  b = cj_newbox(L, closefile);
  if (!(b->p = fopen(path, text ? "w" : "wb")))
    return luaL_error(L, "save_columns: %s: %s", path, strerror(errno));
  writerows(b->p, cols, ncols, nrows, text, row);
  bad = ferror((FILE *)b->p);
  bad |= fclose(b->p) != 0;
  b->p = NULL;
  if (bad) return luaL_error(L, "save_columns: %s: write error: %s", path, strerror(errno));
  lua_pushinteger(L, nrows);
  return 1;
}

/* ---- registration ------------------------------------------------------------ */

static const luaL_Reg funcs[] = {
  {"save_npy", io_save_npy}, {"load_npy", io_load_npy}, {"npy_writer", io_npy_writer},
  {"save_csv", io_save_csv}, {"load_csv", io_load_csv}, {"save_columns", io_save_columns},
  {NULL, NULL}
};

static const luaL_Reg wmethods[] = {
  {"append", w_append}, {"flush", w_flush}, {"rows", w_rows}, {"close", w_close},
  {NULL, NULL}
};

static const cj_doc docs[] = {
  {"save_npy", "cj.io.save_npy(path, a [, opts])\n"
               "Write array a (any strides; float64, float32, int32 or uint8) to a NumPy .npy\n"
               "file in C order. Values are in SI units; no unit is recorded. Its provenance goes\n"
               "to the sidecar path..\".prov.json\": cajal version, date, script; the network's\n"
               "(model hash, parameters, seed, dt, ...) with opts.net = net or opts.provenance =\n"
               "a provenance table (cj.provenance)."},
  {"load_npy", "cj.io.load_npy(path) -> array\n"
               "Read a .npy file (format 1.0-3.0; '<f8' '<f4' '<i4' '|u1', either byte order,\n"
               "C or Fortran order). A malformed file is an error naming the file."},
  {"npy_writer", "cj.io.npy_writer(path [, dtype [, ncols [, opts]]]) -> writer\n"
                 "A .npy file that grows by rows: w:append(a) adds a row (shape ncols) or n rows\n"
                 "(n x ncols); w:flush() makes the file readable so far; w:close() -> rows.\n"
                 "ncols nil: one value per row (a 1-D file); a table: the shape of a row.\n"
                 "w:close() writes the provenance sidecar path..'.prov.json' as save_npy does\n"
                 "(opts.net: the network as it is at close; opts.provenance: a record)."},
  {"save_csv", "cj.io.save_csv(path, columns [, header [, opts]])\n"
               "columns: a table name -> 1-D array / table of numbers / table of strings, with\n"
               "header the order (default: sorted names); or a 2-D array with header the list of\n"
               "names. NaN is written as an empty field. opts.sep (default ','); opts.net,\n"
               "opts.provenance as for save_npy: the provenance is the first line,\n"
               "'# cajal-provenance: JSON' (load_csv skips '#' lines at the top of a file)."},
  {"load_csv", "cj.io.load_csv(path [, opts]) -> columns, header\n"
               "Read a CSV file with a header row: columns[name] is a float64 array (empty\n"
               "fields NaN) or, for non-numeric columns, a table of strings; header lists the\n"
               "names in file order. opts: sep, comment (a character), header (false: columns\n"
               "numbered 1..n), numeric (true: a non-number is an error)."},
  {"save_columns", "cj.io.save_columns(path, columns [, \"binary\"|\"text\"]) -> rows\n"
                   "A list of 1-D arrays and 2-D arrays (each of their columns) with the same\n"
                   "number of rows, or one array (flat), as rows of float64 values: raw binary\n"
                   "(default, native byte order) or space-separated text, as gnuplot reads them."},
  {NULL, NULL}
};

static const cj_doc wdocs[] = {
  {"append", "w:append(a) -> w\nAppend one row (shape of a row) or n rows (n x row shape), converted to the writer's dtype."},
  {"flush", "w:flush() -> w\nRewrite the header with the rows so far and flush: the file is a valid .npy."},
  {"rows", "w:rows() -> integer\nRows appended so far."},
  {"close", "w:close() -> rows\nFinish the file and write its provenance sidecar (so does __close; __gc\nfinishes the file without a sidecar)."},
  {NULL, NULL}
};

void cj_open_io(lua_State *L)
{
  luaL_newmetatable(L, CJ_NPYWRITER);         /* stack: mod, mt */
  luaL_newlib(L, wmethods);
  cj_setdocs(L, -1, wdocs);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, w_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, w_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, w_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);                      /* stack: mod, io */
  cj_setdocs(L, -1, docs);
  lua_setfield(L, -2, "io");
}
