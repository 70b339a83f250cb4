/*
 * lcajal.h — what the Lua bindings of libcajal share: the userdata types
 * that cross areas (arrays, quantities), the help registry, and the opener
 * of each area.
 *
 * Conventions (../STYLE): checks first, then allocation, then computation;
 * misuse raises through luaL_argerror/luaL_error with a short lowercase
 * message; indices are 1-based here and 0-based in vm/core.
 */
#ifndef LCAJAL_H
#define LCAJAL_H

#include <lua.h>
#include <lauxlib.h>

#include "array.h"
#include "units.h"

/* ---- arrays (larray.c) -------------------------------------------------- */
#define CJ_ARRAY "cajal.array"

/* The userdata of an array. An owning array keeps its elements in the same
 * userdata, right after this header (data points there); a view keeps its
 * base (another array or any object owning the memory) in user value 1. */
typedef struct larray {
  cj_array a;
  cj_dim dim;     /* physical dimension of the elements (cj_dimless if none) */
} larray;

larray *cj_checkarray(lua_State *L, int i);       /* raises "array expected" */
larray *cj_testarray(lua_State *L, int i);        /* NULL if not an array */
/* Push a new zeroed contiguous array. Raises on bad shape / out of memory. */
larray *cj_newarray(lua_State *L, cj_dtype t, int ndim, const int64_t *shape);
/* Push a view over memory owned by the object at stack index `base`, which
 * the view keeps alive. */
larray *cj_pushview(lua_State *L, int base, const cj_array *view, cj_dim dim);
/* Argument i as an array: an array is returned as is; a number or a (nested)
 * table of numbers is converted into a new float64 array pushed on the stack
 * (the caller must account for the extra slot: check lua_gettop). */
larray *cj_optarray(lua_State *L, int i);

/* ---- quantities and units (lunits.c) ------------------------------------- */
#define CJ_QUANTITY "cajal.quantity"
typedef struct lquantity { double v; cj_dim dim; } lquantity;

/* Argument i as a number or a quantity: returns 1 and fills v and d (d is
 * cj_dimless for numbers), 0 if it is neither. */
int cj_toquantity(lua_State *L, int i, double *v, cj_dim *d);
/* Push v with dimension d: a plain number when d is dimensionless. */
void cj_pushquantity(lua_State *L, double v, cj_dim d);
/* Raise "cannot <what> <dim a> and <dim b>" uniformly; what is a verb:
 * cj_uniterror(L, "add", V, s) -> "cannot add V and s" (dimension one is
 * written "dimensionless"). Never returns. */
int cj_uniterror(lua_State *L, const char *what, cj_dim a, cj_dim b);

/* ---- boxes (lcajal.c) ------------------------------------------------------
 * A raw C resource held by a userdata while code that can raise runs, so
 * an error never leaks it (STYLE: never raise holding a raw resource).
 * cj_newbox pushes a box with p = NULL; the caller stores its pointer in
 * p; free(p) runs at __gc unless cj_boxfree ran it first. */
typedef struct cj_box { void *p; void (*free)(void *); } cj_box;
cj_box *cj_newbox(lua_State *L, void (*free)(void *));
void cj_boxfree(cj_box *b);   /* frees p now (when set); p becomes NULL */

/* ---- help registry (lcajal.c) -------------------------------------------- */
typedef struct cj_doc { const char *name; const char *text; } cj_doc;
/* For each entry, looks up t[name] in the table at stack index t and records
 * text as its help (help(f) prints it). The first line of text is the
 * signature, e.g. "cj.zeros(shape [, dtype]) -> array". */
void cj_setdocs(lua_State *L, int t, const cj_doc *docs);

/* ---- area openers: each adds its functions to the module table on top ---- */
void cj_open_array(lua_State *L);
void cj_open_units(lua_State *L);
void cj_open_mpi(lua_State *L);
void cj_open_rng(lua_State *L);
void cj_open_regex(lua_State *L);
void cj_open_io(lua_State *L);
void cj_open_net(lua_State *L);
void cj_open_nwb(lua_State *L);     /* adds cj.io.save_nwb: after cj_open_io */
void cj_open_learn(lua_State *L);     /* cj.learn (llearn.c) */
void cj_open_boltzmann(lua_State *L);
/* structured representations (issue 8) */
void cj_open_hd(lua_State *L);
void cj_open_capsule(lua_State *L);
void cj_open_tpr(lua_State *L);
/* sorting, counting, FFT, information measures, neural coding (issue 9) */
void cj_open_arrsort(lua_State *L);
void cj_open_arrhist(lua_State *L);
void cj_open_fft(lua_State *L);
void cj_open_info(lua_State *L);
void cj_open_coding(lua_State *L);
void cj_open_window(lua_State *L);      /* spike windows of monitors (lwindow.c) */
/* lprov.c: preloads "cajal.prov"; cj_prov_record pushes the provenance record
 * (JSON text) of a file of kind ("npy", "csv", "png", ...) at path being
 * written, from the options table at index opts (its net / provenance keys;
 * nil: the script alone), through stdlib/cajal/provenance.lua. */
void cj_open_prov(lua_State *L);
void cj_prov_record(lua_State *L, int opts, const char *kind, const char *path);

int luaopen_cajal_core(lua_State *L);

#endif
