/*
 * units.h — physical dimensions and the unit table.
 *
 * A dimension is a vector of integer exponents of the seven SI base units
 * (m, kg, s, A, K, mol, cd). Quantities are plain doubles in SI base units
 * plus a cj_dim; 20 ms is (0.02, s^1). The unit table (names such as "ms",
 * "mV", "nS", "uF", "cm2", "Hz", with their scale and dimension) is shared
 * by the Lua bindings and the network-language compiler.
 */
#ifndef CJ_UNITS_H
#define CJ_UNITS_H

#include "cj.h"

enum { CJ_DIM_M, CJ_DIM_KG, CJ_DIM_S, CJ_DIM_A, CJ_DIM_K, CJ_DIM_MOL, CJ_DIM_CD, CJ_NBASE };

typedef struct { signed char e[CJ_NBASE]; } cj_dim;

extern const cj_dim cj_dimless;

int cj_dim_eq(cj_dim a, cj_dim b);
int cj_dim_isless(cj_dim a);                 /* dimensionless? */
cj_dim cj_dim_mul(cj_dim a, cj_dim b);
cj_dim cj_dim_div(cj_dim a, cj_dim b);
/* a^(num/den): CJ_EUNIT when an exponent would not be an integer. */
int cj_dim_pow(cj_dim a, int num, int den, cj_dim *out);
/* Human form, e.g. "V", "s", "S", "A", "s^-1", "m^-2 kg^-1 s^4 A^2" (fills buf). */
const char *cj_dim_format(cj_dim a, char *buf, size_t n);

/* Look up a unit symbol ("ms", "mV", "uF/cm2" is not one symbol: see cj_unit_parse). */
int cj_unit_lookup(const char *name, double *scale, cj_dim *dim);
/* Iterate over the unit table: returns the name of entry i, or NULL past the end. */
const char *cj_unit_name(int i, double *scale, cj_dim *dim);
/* Print value (SI) with the best-fitting unit: 0.02, s -> "20 ms". */
const char *cj_quantity_format(double v, cj_dim d, char *buf, size_t n);

#endif
