/*
 * test_units.c — dimension algebra, the unit table (against prefix x base
 * recomputed here), the unit-expression parser (good and bad strings) and
 * the printing of dimensions and quantities.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

#define D(m, kg, s, a, k, mol, cd) ((cj_dim){ { m, kg, s, a, k, mol, cd } })

static const cj_dim VOLT = D(2, 1, -3, -1, 0, 0, 0), SIEMENS = D(-2, -1, 3, 2, 0, 0, 0),
                    FARAD = D(-2, -1, 4, 2, 0, 0, 0), SEC = D(0, 0, 1, 0, 0, 0, 0),
                    METRE = D(1, 0, 0, 0, 0, 0, 0), AMP = D(0, 0, 0, 1, 0, 0, 0),
                    HZ = D(0, 0, -1, 0, 0, 0, 0), KG = D(0, 1, 0, 0, 0, 0, 0),
                    OHM = D(2, 1, -3, -2, 0, 0, 0), MOLAR = D(-3, 0, 0, 0, 0, 1, 0);

static int close(double a, double b) { return fabs(a - b) <= 1e-15 * fabs(b); }

/* ---- dimensions ------------------------------------------------------------ */

Test(dim, algebra)
{
  cj_dim d;
  cr_assert(cj_dim_eq(cj_dim_mul(AMP, OHM), VOLT));              /* V = A ohm */
  cr_assert(cj_dim_eq(cj_dim_div(AMP, VOLT), SIEMENS));          /* S = A / V */
  cr_assert(cj_dim_eq(cj_dim_mul(SIEMENS, SEC), FARAD));         /* F = S s */
  cr_assert(cj_dim_isless(cj_dim_mul(SEC, HZ)));
  cr_assert(!cj_dim_isless(SEC));
  cr_assert(cj_dim_eq(cj_dim_base(CJ_DIM_KG), KG));
  cr_assert(cj_dim_isless(cj_dim_base(99)));
  cr_assert_eq(cj_dim_pow(METRE, 3, 1, &d), CJ_OK);
  cr_assert_eq(d.e[CJ_DIM_M], 3);
  cr_assert_eq(cj_dim_pow(d, 2, 3, &d), CJ_OK);                   /* (m^3)^(2/3) = m^2 */
  cr_assert_eq(d.e[CJ_DIM_M], 2);
  cr_assert_eq(cj_dim_pow(d, -1, -2, &d), CJ_OK);                 /* sign of den folded */
  cr_assert(cj_dim_eq(d, METRE));
  cr_assert_eq(cj_dim_pow(HZ, 1, 2, &d), CJ_EUNIT);
  cr_assert(strstr(cj_errmsg(), "cannot raise Hz to the power 1/2"), "%s", cj_errmsg());
  cr_assert_eq(cj_dim_pow(HZ, 1, 0, &d), CJ_EINVAL);
  cr_assert_eq(cj_dim_pow(METRE, 200, 1, &d), CJ_EUNIT);
}

Test(dim, checked_and_saturating_products)
{
  cj_dim big = D(100, 0, 0, 0, 0, 0, 0), d;
  cr_assert_eq(cj_dim_mulx(big, big, 1, &d), CJ_EUNIT);
  cr_assert_eq(cj_dim_mulx(big, big, -1, &d), CJ_OK);
  cr_assert(cj_dim_isless(d));
  cr_assert_eq(cj_dim_mul(big, big).e[CJ_DIM_M], 127);
  cr_assert_eq(cj_dim_div(cj_dimless, cj_dim_mul(big, big)).e[CJ_DIM_M], -127);
}

Test(dim, format_prefers_named_units)
{
  char b[64];
  cr_assert_str_eq(cj_dim_format(VOLT, b, sizeof b), "V");
  cr_assert_str_eq(cj_dim_format(SIEMENS, b, sizeof b), "S");
  cr_assert_str_eq(cj_dim_format(FARAD, b, sizeof b), "F");
  cr_assert_str_eq(cj_dim_format(AMP, b, sizeof b), "A");
  cr_assert_str_eq(cj_dim_format(HZ, b, sizeof b), "Hz");
  cr_assert_str_eq(cj_dim_format(OHM, b, sizeof b), "ohm");
  cr_assert_str_eq(cj_dim_format(KG, b, sizeof b), "kg");
  cr_assert_str_eq(cj_dim_format(cj_dimless, b, sizeof b), "1");
  cr_assert_str_eq(cj_dim_format(cj_dim_div(SIEMENS, cj_dim_mul(METRE, METRE)), b, sizeof b), "S/m^2");
  cr_assert_str_eq(cj_dim_format(cj_dim_div(VOLT, SEC), b, sizeof b), "V/s");
  cr_assert_str_eq(cj_dim_format(cj_dim_div(METRE, SEC), b, sizeof b), "m/s");
  cr_assert_str_eq(cj_dim_format(MOLAR, b, sizeof b), "mol/m^3");
  cr_assert_str_eq(cj_dim_format(D(2, 0, 0, 0, 0, 0, 0), b, sizeof b), "m^2");
  cr_assert_str_eq(cj_dim_format(D(-1, 0, 0, 0, 0, 0, 0), b, sizeof b), "m^-1");
  cr_assert_str_eq(cj_dim_format(D(2, 1, -2, -1, 0, 0, 0), b, sizeof b), "m^2 kg s^-2 A^-1");
  cr_assert_str_eq(cj_dim_format(D(0, 0, 0, 0, 1, -1, 1), b, sizeof b), "K mol^-1 cd");
  char tiny[6];                                   /* truncation stays terminated */
  cj_dim_format(D(2, 1, -2, -1, 0, 0, 0), tiny, sizeof tiny);
  cr_assert_lt(strlen(tiny), sizeof tiny);
}

/* ---- the table ------------------------------------------------------------------ */

Test(table, names_are_unique_and_sorted_and_plenty)
{
  int n = cj_unit_count();
  const char *prev = NULL;
  cr_assert_gt(n, 300);
  for (int i = 0; i < n; i++) {
    const char *name = cj_unit_name(i, NULL, NULL);
    cr_assert_not_null(name);
    if (prev) cr_assert_lt(strcmp(prev, name), 0, "%s before %s", prev, name);
    prev = name;
  }
  cr_assert_null(cj_unit_name(n, NULL, NULL));
  cr_assert_null(cj_unit_name(-1, NULL, NULL));
}

static void expect(const char *name, double scale, cj_dim dim)
{
  double s;
  cj_dim d;
  cr_assert_eq(cj_unit_lookup(name, &s, &d), CJ_OK, "%s: %s", name, cj_errmsg());
  cr_assert(close(s, scale), "%s: scale %.17g, expected %.17g", name, s, scale);
  cr_assert(cj_dim_eq(d, dim), "%s: wrong dimension", name);
}

Test(table, the_names_neuroscientists_use)
{
  cj_dim m2 = cj_dim_mul(METRE, METRE), m3 = cj_dim_mul(m2, METRE);
  expect("s", 1, SEC);             expect("second", 1, SEC);      expect("seconds", 1, SEC);
  expect("ms", 1e-3, SEC);         expect("msecond", 1e-3, SEC);  expect("millisecond", 1e-3, SEC);
  expect("milliseconds", 1e-3, SEC); expect("us", 1e-6, SEC);     expect("ns", 1e-9, SEC);
  expect("mV", 1e-3, VOLT);        expect("uV", 1e-6, VOLT);      expect("volt", 1, VOLT);
  expect("mvolt", 1e-3, VOLT);     expect("millivolts", 1e-3, VOLT);
  expect("nA", 1e-9, AMP);         expect("pA", 1e-12, AMP);      expect("amp", 1, AMP);
  expect("pamp", 1e-12, AMP);      expect("ampere", 1, AMP);
  expect("nS", 1e-9, SIEMENS);     expect("uS", 1e-6, SIEMENS);   expect("mS", 1e-3, SIEMENS);
  expect("siemens", 1, SIEMENS);   expect("nsiemens", 1e-9, SIEMENS);
  expect("pF", 1e-12, FARAD);      expect("nF", 1e-9, FARAD);     expect("uF", 1e-6, FARAD);
  expect("ufarad", 1e-6, FARAD);
  expect("ohm", 1, OHM);           expect("Ohm", 1, OHM);         expect("Mohm", 1e6, OHM);
  expect("Gohm", 1e9, OHM);        expect("kOhm", 1e3, OHM);      expect("ohms", 1, OHM);
  expect("Hz", 1, HZ);             expect("kHz", 1e3, HZ);        expect("hertz", 1, HZ);
  expect("khertz", 1e3, HZ);
  expect("M", 1e3, MOLAR);         expect("mM", 1, MOLAR);        expect("uM", 1e-3, MOLAR);
  expect("molar", 1e3, MOLAR);     expect("mmolar", 1, MOLAR);
  expect("L", 1e-3, m3);           expect("litre", 1e-3, m3);     expect("mL", 1e-6, m3);
  expect("m", 1, METRE);           expect("cm", 1e-2, METRE);     expect("um", 1e-6, METRE);
  expect("mm", 1e-3, METRE);       expect("metre", 1, METRE);     expect("meter", 1, METRE);
  expect("umetre", 1e-6, METRE);   expect("centimetre", 1e-2, METRE);
  expect("cm2", 1e-4, m2);         expect("um2", 1e-12, m2);      expect("mm2", 1e-6, m2);
  expect("m2", 1, m2);             expect("cm3", 1e-6, m3);       expect("cmetre2", 1e-4, m2);
  expect("g", 1e-3, KG);           expect("kg", 1, KG);           expect("mg", 1e-6, KG);
  expect("kilogram", 1, KG);       expect("gram", 1e-3, KG);
  expect("K", 1, cj_dim_base(CJ_DIM_K));
  expect("mol", 1, cj_dim_base(CJ_DIM_MOL));
  expect("mmol", 1e-3, cj_dim_base(CJ_DIM_MOL));
  expect("cd", 1, cj_dim_base(CJ_DIM_CD));
  expect("C", 1, D(0, 0, 1, 1, 0, 0, 0));
  expect("nC", 1e-9, D(0, 0, 1, 1, 0, 0, 0));
  expect("N", 1, D(1, 1, -2, 0, 0, 0, 0));
  expect("J", 1, D(2, 1, -2, 0, 0, 0, 0));
  expect("W", 1, D(2, 1, -3, 0, 0, 0, 0));
  expect("mW", 1e-3, D(2, 1, -3, 0, 0, 0, 0));
  expect("\xc2\xb5m", 1e-6, METRE);              /* µm (micro sign) */
  expect("\xce\xbc" "F", 1e-6, FARAD);              /* μF (Greek mu) */
}

Test(table, unknown_names_fail)
{
  double s;
  cj_dim d;
  cr_assert_eq(cj_unit_lookup("xyz", &s, &d), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "unknown unit 'xyz'"));
  cr_assert_eq(cj_unit_lookup("", &s, &d), CJ_EINVAL);
  cr_assert_eq(cj_unit_lookup("Ms", &s, &d), CJ_EINVAL);        /* no megaseconds */
  cr_assert_eq(cj_unit_lookup("Mg", &s, &d), CJ_EINVAL);        /* Mg stays free for magnesium */
  cr_assert_eq(cj_unit_lookup("averyveryverylongunitnamethatisnotthere", &s, &d), CJ_EINVAL);
  cr_assert_eq(cj_unit_lookup(NULL, &s, &d), CJ_EINVAL);
}

/* Every "<prefix letter><symbol>" entry against prefix scale x symbol scale,
 * recomputed here from the SI definitions. */
Test(table, prefixed_symbols_match_si)
{
  static const struct { char c; double s; } pf[] = {
    { 'f', 1e-15 }, { 'p', 1e-12 }, { 'n', 1e-9 }, { 'u', 1e-6 }, { 'm', 1e-3 },
    { 'c', 1e-2 }, { 'k', 1e3 }, { 'M', 1e6 }, { 'G', 1e9 }
  };
  static const char *syms[] = { "s", "m", "g", "A", "V", "S", "F", "ohm", "Hz", "C", "N", "J",
                                "W", "M", "L", "mol" };
  int checked = 0;
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    double bs, s;
    cj_dim bd, d;
    cr_assert_eq(cj_unit_lookup(syms[i], &bs, &bd), CJ_OK);
    for (size_t j = 0; j < sizeof pf / sizeof *pf; j++) {
      char name[16];
      snprintf(name, sizeof name, "%c%s", pf[j].c, syms[i]);
      if (cj_unit_lookup(name, &s, &d) != CJ_OK) continue;
      cr_assert(cj_dim_eq(d, bd), "%s", name);
      cr_assert(close(s, pf[j].s * bs), "%s: %g vs %g", name, s, pf[j].s * bs);
      checked++;
    }
  }
  cr_assert_gt(checked, 90);
}

/* The parser reads every table name back to the table's value. */
Test(table, parser_agrees_with_every_entry)
{
  for (int i = 0; i < cj_unit_count(); i++) {
    double s, ps;
    cj_dim d, pd;
    const char *name = cj_unit_name(i, &s, &d);
    cr_assert_eq(cj_unit_parse(name, &ps, &pd), CJ_OK, "%s: %s", name, cj_errmsg());
    cr_assert(ps == s && cj_dim_eq(d, pd), "%s", name);
  }
}

/* ---- parsing ------------------------------------------------------------------------ */

static void parses(const char *e, double scale, cj_dim dim)
{
  double s;
  cj_dim d;
  cr_assert_eq(cj_unit_parse(e, &s, &d), CJ_OK, "'%s': %s", e, cj_errmsg());
  cr_assert(close(s, scale), "'%s': scale %.17g, expected %.17g", e, s, scale);
  cr_assert(cj_dim_eq(d, dim), "'%s': wrong dimension", e);
}

Test(parse, good_expressions)
{
  cj_dim m2 = cj_dim_mul(METRE, METRE);
  parses("uF/cm^2", 1e-2, cj_dim_div(FARAD, m2));
  parses("uF/cm2", 1e-2, cj_dim_div(FARAD, m2));
  parses("mS/cm2", 10, cj_dim_div(SIEMENS, m2));
  parses("mS / cm ^ 2", 10, cj_dim_div(SIEMENS, m2));
  parses("nS", 1e-9, SIEMENS);
  parses("1/ms", 1e3, HZ);
  parses("mV/ms", 1, cj_dim_div(VOLT, SEC));
  parses("m^2 kg s^-3 A^-1", 1, VOLT);
  parses("m**2 kg s**-3 A**-1", 1, VOLT);
  parses("m2 kg s-3 A-1", 1, VOLT);                      /* exponents glued to symbols */
  parses("kg m^2/s^3/A", 1, VOLT);
  parses("J/kg K", 1, D(2, 0, -2, 0, -1, 0, 0));         /* juxtaposition first: J/(kg K) */
  parses("m/s*s", 1, METRE);                              /* '*' and '/' left to right */
  parses("(mV)^2", 1e-6, cj_dim_mul(VOLT, VOLT));
  parses("(m^2)^(1/2)", 1, METRE);
  parses("(cm^3)^(2/3)", 1e-4, m2);
  parses("um2^0.5", 1e-6, METRE);
  parses("10 ms", 1e-2, SEC);
  parses("2.5e-3 s", 2.5e-3, SEC);
  parses("1e3/s", 1e3, HZ);
  parses("2", 2, cj_dimless);
  parses("ms/s", 1e-3, cj_dimless);
  parses("  mV  ", 1e-3, VOLT);
  parses("\xc2\xb5" "F/cm^2", 1e-2, cj_dim_div(FARAD, m2));
  parses("((mV))", 1e-3, VOLT);
  parses("mol/L", 1e3, MOLAR);
}

static void rejects(const char *e, int code, const char *msg)
{
  double s = 7;
  cj_dim d = SEC;
  cr_assert_eq(cj_unit_parse(e, &s, &d), code, "'%s' should fail with %d", e, code);
  cr_assert(strstr(cj_errmsg(), msg), "'%s': message '%s' lacks '%s'", e, cj_errmsg(), msg);
  cr_assert_eq(s, 7);                                     /* outputs untouched on failure */
  cr_assert(cj_dim_eq(d, SEC));
}

Test(parse, bad_expressions_name_the_place)
{
  rejects("", CJ_EFORMAT, "empty unit expression");
  rejects("   ", CJ_EFORMAT, "empty unit expression");
  rejects("xyz", CJ_EFORMAT, "unknown unit 'xyz' at column 1 in unit 'xyz'");
  rejects("uF/xyz", CJ_EFORMAT, "unknown unit 'xyz' at column 4");
  rejects("mV/", CJ_EFORMAT, "expected a unit, a number or '(' (end of text) at column 4");
  rejects("(mV", CJ_EFORMAT, "unbalanced '(' at column 1");
  rejects("mV)", CJ_EFORMAT, "unbalanced ')' at column 3");
  rejects("m^", CJ_EFORMAT, "expected an exponent at column 3");
  rejects("m^x", CJ_EFORMAT, "expected an exponent at column 3");
  rejects("m^(1/0)", CJ_EFORMAT, "zero denominator");
  rejects("m^(1/2", CJ_EFORMAT, "expected ')' after an exponent");
  rejects("m^0.123456", CJ_EFORMAT, "exponent is not a small fraction");
  rejects("mV $", CJ_EFORMAT, "unexpected '$' at column 4");
  rejects("m^2^3", CJ_EFORMAT, "unexpected '^' at column 4");
  rejects("0 mV", CJ_EFORMAT, "has scale 0");
  rejects("Hz^(1/2)", CJ_EUNIT, "cannot raise Hz to the power 1/2");
  rejects("Hz^0.5", CJ_EUNIT, "column 3");
  rejects("s2^0.5 V", CJ_EFORMAT, "two exponents on one unit");
  rejects("m^100 m^100", CJ_EFORMAT, "out of range");
  rejects("m^200", CJ_EUNIT, "out of range");
  rejects("((((((((((((((((((((((((((((((((((m))))))))))))))))))))))))))))))))))",
          CJ_EFORMAT, "nested too deeply");
  rejects("averyveryveryveryveryveryveryveryveryveryveryveryveryveryverylongname",
          CJ_EFORMAT, "unit name too long");
  double s;
  cj_dim d;
  cr_assert_eq(cj_unit_parse(NULL, &s, &d), CJ_EINVAL);
}

/* ---- printing quantities ------------------------------------------------------------ */

static void prints(double v, cj_dim d, const char *want)
{
  char b[64];
  cr_assert_str_eq(cj_quantity_format(v, d, b, sizeof b), want);
}

Test(format, picks_prefix_for_mantissa_in_1_to_1000)
{
  cj_dim m2 = cj_dim_mul(METRE, METRE);
  prints(0.02, SEC, "20 ms");
  prints(-0.065, VOLT, "-65 mV");
  prints(0, VOLT, "0 V");
  prints(1e-9, SIEMENS, "1 nS");
  prints(2.5e-12, AMP, "2.5 pA");
  prints(200e-12, FARAD, "200 pF");
  prints(1, SEC, "1 s");
  prints(3600, SEC, "3600 s");                         /* no kiloseconds */
  prints(999.5e-6, SEC, "999.5 us");
  prints(0.9999999999999999e-3, SEC, "1 ms");           /* rounding moves up a prefix */
  prints(0.1 * 3 * 1e-3, SEC, "300 us");
  prints(1.0 / 3 * 1e-3, SEC, "333.33333 us");          /* 8 digits, as arrays print */
  prints(1486.0 / 3, HZ, "495.33333 Hz");
  prints(-20.000000001e-3, VOLT, "-20 mV");
  prints(5, HZ, "5 Hz");
  prints(1000, HZ, "1 kHz");
  prints(1.5e9, HZ, "1.5 GHz");
  prints(5e-4, HZ, "0.0005 Hz");                       /* no millihertz: plain */
  prints(1e8, OHM, "100 Mohm");
  prints(70, KG, "70 kg");
  prints(1e-3, KG, "1 g");
  prints(1, MOLAR, "1 mM");
  prints(1e-20, VOLT, "1e-20 V");                      /* below every prefix */
  prints(1e-8, m2, "10000 um^2");
  prints(1e-4, m2, "100 mm^2");
  prints(0.01, cj_dim_div(FARAD, m2), "1 uF/cm^2");
  prints(1200, cj_dim_div(SIEMENS, m2), "120 mS/cm^2");
  prints(1, cj_dim_div(VOLT, SEC), "1 V/s");
  prints(3, cj_dimless, "3");
  prints(2, D(2, 1, -2, -1, 0, 0, 0), "2 m^2 kg s^-2 A^-1");
  prints(NAN, VOLT, "nan V");
  prints(-INFINITY, SEC, "-inf s");
}

Test(format, digits_and_small_buffers)
{
  char b[64], tiny[5];
  cr_assert_str_eq(cj_quantity_formatp(1.0 / 3 * 1e-3, SEC, 3, b, sizeof b), "333 us");
  cr_assert_str_eq(cj_quantity_formatp(0.9996e-3, SEC, 3, b, sizeof b), "1 ms");
  cr_assert_str_eq(cj_quantity_formatp(0.02, SEC, 0, b, sizeof b), "20 ms");
  cj_quantity_format(123.456e-3, VOLT, tiny, sizeof tiny);
  cr_assert_str_eq(tiny, "123.");
  cr_assert_eq(cj_quantity_format(1, VOLT, tiny, 0), tiny);
}
