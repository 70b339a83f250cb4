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
/* Significant digits of printed quantities and array elements: 8, numpy's
 * default print precision (numpy counts them after the decimal point in
 * fixed notation, cajal in the mantissa after the prefix is chosen:
 * 495.33333 Hz, 333.33333 us). */
#define CJ_PRINT_DIGITS 8

/* ---- additions (units.c) ---------------------------------------------- */

/* a * b (sign +1) or a / b (sign -1), checked: CJ_EUNIT when an exponent
 * would leave [-127, 127] (cj_dim_mul/div saturate instead). */
int cj_dim_mulx(cj_dim a, cj_dim b, int sign, cj_dim *out);
/* The dimension of the SI base unit i (CJ_DIM_M .. CJ_DIM_CD). */
cj_dim cj_dim_base(int i);
/* Number of entries in the unit table (cj_unit_name(i) for i < this). */
int cj_unit_count(void);
/* As cj_quantity_format with `digits` significant digits (1..17; anything
 * else means CJ_PRINT_DIGITS) for the mantissa. */
const char *cj_quantity_formatp(double v, cj_dim d, int digits, char *buf, size_t n);

/* Parse a unit expression into a scale (SI value of the expression) and a
 * dimension. Grammar (juxtaposition binds tighter than '*' and '/', which
 * are left-associative, so "J/kg K" is J/(kg K)):
 *   expr  := prod (('*' | '/') prod)*
 *   prod  := power (power)*            (separated by blanks)
 *   power := atom (('^' | '**') exponent | digits)?   "cm^2", "s^-1", "m2"
 *   atom  := number | symbol | '(' expr ')'
 *   exponent := [+-]int | '(' [+-]int ['/' int] ')' | [+-]decimal
 * Symbols are table names ("mV", "uF", "cm2", "msecond"); "µ"/"μ" may stand
 * for the prefix u. Examples: "uF/cm^2", "mS/cm2", "1/ms", "mV/ms",
 * "m^2 kg s^-3 A^-1". CJ_EFORMAT for an unknown symbol or bad syntax (the
 * message names the symbol and its 1-based column), CJ_EUNIT when a
 * fractional power leaves non-integer exponents. */
int cj_unit_parse(const char *expr, double *scale, cj_dim *dim);

#endif
