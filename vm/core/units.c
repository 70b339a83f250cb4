/*
 * units.c — dimensions, the unit table, unit expressions and the printing
 * of quantities (see units.h).
 *
 * The table is the cross product of base symbols (s, m, g, A, V, S, ...)
 * with the SI prefixes each one takes, plus long names in Brian2's style
 * (second, msecond, millisecond, volt, mvolt, ...) and squares/cubes of
 * lengths (cm2, um2, metre3). It is built once, on first use, sorted by
 * name, and never changes afterwards; the Lua module and the network
 * compiler read the same table.
 */
#include "units.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cj_dim cj_dimless = {{0}};

/* ---- dimension algebra ------------------------------------------------ */

int cj_dim_eq(cj_dim a, cj_dim b)
{
  return memcmp(a.e, b.e, sizeof a.e) == 0;
}

int cj_dim_isless(cj_dim a)
{
  return cj_dim_eq(a, cj_dimless);
}

cj_dim cj_dim_base(int i)
{
  cj_dim d = cj_dimless;
  if (i >= 0 && i < CJ_NBASE) d.e[i] = 1;
  return d;
}

int cj_dim_mulx(cj_dim a, cj_dim b, int sign, cj_dim *out)
{
  cj_dim r;
  for (int i = 0; i < CJ_NBASE; i++) {
    int e = a.e[i] + sign * b.e[i];
    if (e < -127 || e > 127)
      return cj_fail(CJ_EUNIT, "dimension exponent out of range (%d)", e);
    r.e[i] = (signed char)e;
  }
  *out = r;
  return CJ_OK;
}

static cj_dim combine(cj_dim a, cj_dim b, int sign)
{
  cj_dim r;
  for (int i = 0; i < CJ_NBASE; i++) {
    int e = a.e[i] + sign * b.e[i];
    r.e[i] = (signed char)(e < -127 ? -127 : e > 127 ? 127 : e);
  }
  return r;
}

cj_dim cj_dim_mul(cj_dim a, cj_dim b) { return combine(a, b, 1); }
cj_dim cj_dim_div(cj_dim a, cj_dim b) { return combine(a, b, -1); }

int cj_dim_pow(cj_dim a, int num, int den, cj_dim *out)
{
  char buf[96];
  cj_dim r;
  if (den == 0) return cj_fail(CJ_EINVAL, "power with a zero denominator");
  if (den < 0) { num = -num; den = -den; }
  for (int i = 0; i < CJ_NBASE; i++) {
    long e = (long)a.e[i] * num;
    if (e % den != 0)
      return cj_fail(CJ_EUNIT, "cannot raise %s to the power %d/%d: "
                     "the exponents would not be integers",
                     cj_dim_format(a, buf, sizeof buf), num, den);
    e /= den;
    if (e < -127 || e > 127)
      return cj_fail(CJ_EUNIT, "dimension exponent out of range (%ld)", e);
    r.e[i] = (signed char)e;
  }
  *out = r;
  return CJ_OK;
}

/* ---- the unit table ---------------------------------------------------- */

#define DIM(m, kg, s, a, k, mol, cd) {{m, kg, s, a, k, mol, cd}}

typedef struct { const char *sym; double scale; cj_dim dim; const char *pfx; } basedef;

/* Symbols and the prefixes each takes. */
static const basedef bases[] = {
  { "s",   1,    DIM(0, 0, 1, 0, 0, 0, 0),   "fpnumk" },
  { "m",   1,    DIM(1, 0, 0, 0, 0, 0, 0),   "fpnumck" },
  { "g",   1e-3, DIM(0, 1, 0, 0, 0, 0, 0),   "fpnumk" },
  { "A",   1,    DIM(0, 0, 0, 1, 0, 0, 0),   "fpnumk" },
  { "K",   1,    DIM(0, 0, 0, 0, 1, 0, 0),   "mu" },
  { "mol", 1,    DIM(0, 0, 0, 0, 0, 1, 0),   "fpnum" },
  { "cd",  1,    DIM(0, 0, 0, 0, 0, 0, 1),   "" },
  { "V",   1,    DIM(2, 1, -3, -1, 0, 0, 0), "fpnumkM" },
  { "S",   1,    DIM(-2, -1, 3, 2, 0, 0, 0), "fpnumk" },
  { "F",   1,    DIM(-2, -1, 4, 2, 0, 0, 0), "fpnum" },
  { "ohm", 1,    DIM(2, 1, -3, -2, 0, 0, 0), "fpnumkMG" },
  { "Ohm", 1,    DIM(2, 1, -3, -2, 0, 0, 0), "kMG" },
  { "Hz",  1,    DIM(0, 0, -1, 0, 0, 0, 0),  "mkMG" },
  { "C",   1,    DIM(0, 0, 1, 1, 0, 0, 0),   "fpnum" },
  { "N",   1,    DIM(1, 1, -2, 0, 0, 0, 0),  "fpnumk" },
  { "J",   1,    DIM(2, 1, -2, 0, 0, 0, 0),  "fpnumkM" },
  { "W",   1,    DIM(2, 1, -3, 0, 0, 0, 0),  "fpnumkMG" },
  { "M",   1e3,  DIM(-3, 0, 0, 0, 0, 1, 0),  "fpnum" },   /* molar = mol/L */
  { "L",   1e-3, DIM(3, 0, 0, 0, 0, 0, 0),   "fpnumc" },
};

/* Long names: singular, plural (or NULL), the symbol they stand for. Each
 * also takes its symbol's prefixes, as a letter (Brian2's "msecond",
 * "nsiemens") and as a word ("millisecond", "nanosiemens"). */
static const struct { const char *name, *plural, *sym; } longnames[] = {
  { "second", "seconds", "s" },   { "metre", "metres", "m" },
  { "meter", "meters", "m" },     { "gram", "grams", "g" },
  { "amp", "amps", "A" },         { "ampere", "amperes", "A" },
  { "kelvin", NULL, "K" },        { "mole", "moles", "mol" },
  { "candela", NULL, "cd" },      { "volt", "volts", "V" },
  { "siemens", NULL, "S" },       { "farad", "farads", "F" },
  { "ohm", "ohms", "ohm" },       { "hertz", NULL, "Hz" },
  { "coulomb", "coulombs", "C" }, { "newton", "newtons", "N" },
  { "joule", "joules", "J" },     { "watt", "watts", "W" },
  { "molar", NULL, "M" },         { "litre", "litres", "L" },
  { "liter", "liters", "L" },
};

typedef struct { char letter; const char *word; double scale; } prefixdef;
static const prefixdef prefixes[] = {
  { 'f', "femto", 1e-15 }, { 'p', "pico", 1e-12 }, { 'n', "nano", 1e-9 },
  { 'u', "micro", 1e-6 },  { 'm', "milli", 1e-3 }, { 'c', "centi", 1e-2 },
  { 'k', "kilo", 1e3 },    { 'M', "mega", 1e6 },   { 'G', "giga", 1e9 },
};

static const prefixdef *findprefix(char c)
{
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (prefixes[i].letter == c) return &prefixes[i];
  return NULL;
}

#define MAXUNITS 1024
#define NAMELEN 24

typedef struct { char name[NAMELEN]; double scale; cj_dim dim; } unitent;

static unitent table[MAXUNITS];
static int ntable;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static const basedef *findbase(const char *sym)
{
  for (size_t i = 0; i < sizeof bases / sizeof *bases; i++)
    if (strcmp(bases[i].sym, sym) == 0) return &bases[i];
  return NULL;
}

/* Add one name; a name already present (such as "ohm", both a symbol and a
 * long name) keeps its first entry. */
static void add(const char *name, double scale, cj_dim dim)
{
  if (ntable >= MAXUNITS || strlen(name) >= NAMELEN) abort();  /* table bug */
  for (int i = 0; i < ntable; i++)
    if (strcmp(table[i].name, name) == 0) return;
  snprintf(table[ntable].name, NAMELEN, "%s", name);
  table[ntable].scale = scale;
  table[ntable].dim = dim;
  ntable++;
}

static void addfmt(double scale, cj_dim dim, const char *a, const char *b, const char *c)
{
  char name[NAMELEN];
  snprintf(name, sizeof name, "%s%s%s", a, b, c);
  add(name, scale, dim);
}

/* name, then name2 and name3 for lengths */
static void addpowers(const char *p, const char *n, double scale, cj_dim dim, int len)
{
  addfmt(scale, dim, p, n, "");
  if (!len) return;
  addfmt(scale * scale, cj_dim_mul(dim, dim), p, n, "2");
  addfmt(scale * scale * scale, cj_dim_mul(dim, cj_dim_mul(dim, dim)), p, n, "3");
}

static int cmpent(const void *a, const void *b)
{
  return strcmp(((const unitent *)a)->name, ((const unitent *)b)->name);
}

static void build(void)
{
  for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
    const basedef *b = &bases[i];
    int len = strcmp(b->sym, "m") == 0;
    addpowers("", b->sym, b->scale, b->dim, len);
    for (const char *q = b->pfx; *q; q++) {
      char p[2] = { *q, 0 };
      addpowers(p, b->sym, findprefix(*q)->scale * b->scale, b->dim, len);
    }
  }
  for (size_t i = 0; i < sizeof longnames / sizeof *longnames; i++) {
    const basedef *b = findbase(longnames[i].sym);
    const char *nm = longnames[i].name, *pl = longnames[i].plural;
    int len = strcmp(b->sym, "m") == 0;
    addpowers("", nm, b->scale, b->dim, len);
    if (pl) add(pl, b->scale, b->dim);
    for (const char *q = b->pfx; *q; q++) {
      const prefixdef *p = findprefix(*q);
      char letter[2] = { *q, 0 };
      double s = p->scale * b->scale;
      addpowers(letter, nm, s, b->dim, len);
      addfmt(s, b->dim, p->word, nm, "");
      if (pl) addfmt(s, b->dim, p->word, pl, "");
    }
  }
  qsort(table, (size_t)ntable, sizeof *table, cmpent);
}

static void ensure(void)
{
  pthread_once(&table_once, build);
}

int cj_unit_count(void)
{
  ensure();
  return ntable;
}

const char *cj_unit_name(int i, double *scale, cj_dim *dim)
{
  ensure();
  if (i < 0 || i >= ntable) return NULL;
  if (scale) *scale = table[i].scale;
  if (dim) *dim = table[i].dim;
  return table[i].name;
}

/* "µ" (U+00B5) and "μ" (U+03BC) stand for the prefix u. */
static int mulen(const char *s)
{
  const unsigned char *u = (const unsigned char *)s;
  if ((u[0] == 0xC2 && u[1] == 0xB5) || (u[0] == 0xCE && u[1] == 0xBC)) return 2;
  return 0;
}

int cj_unit_lookup(const char *name, double *scale, cj_dim *dim)
{
  char key[NAMELEN];
  unitent probe, *e;
  ensure();
  if (!name) return cj_fail(CJ_EINVAL, "unit name expected");
  if (mulen(name)) {
    snprintf(key, sizeof key, "u%s", name + 2);
    name = key;
  }
  if (strlen(name) >= NAMELEN) return cj_fail(CJ_EINVAL, "unknown unit '%s'", name);
  snprintf(probe.name, NAMELEN, "%s", name);
  e = bsearch(&probe, table, (size_t)ntable, sizeof *table, cmpent);
  if (!e) return cj_fail(CJ_EINVAL, "unknown unit '%s'", name);
  if (scale) *scale = e->scale;
  if (dim) *dim = e->dim;
  return CJ_OK;
}

/* ---- printing dimensions ------------------------------------------------ */

/* Units with a name of their own, in the order they are preferred. */
static const struct { const char *sym; cj_dim dim; } named[] = {
  { "V", DIM(2, 1, -3, -1, 0, 0, 0) },  { "A", DIM(0, 0, 0, 1, 0, 0, 0) },
  { "S", DIM(-2, -1, 3, 2, 0, 0, 0) },  { "F", DIM(-2, -1, 4, 2, 0, 0, 0) },
  { "ohm", DIM(2, 1, -3, -2, 0, 0, 0) }, { "Hz", DIM(0, 0, -1, 0, 0, 0, 0) },
  { "C", DIM(0, 0, 1, 1, 0, 0, 0) },    { "N", DIM(1, 1, -2, 0, 0, 0, 0) },
  { "J", DIM(2, 1, -2, 0, 0, 0, 0) },   { "W", DIM(2, 1, -3, 0, 0, 0, 0) },
  { "s", DIM(0, 0, 1, 0, 0, 0, 0) },    { "m", DIM(1, 0, 0, 0, 0, 0, 0) },
  { "kg", DIM(0, 1, 0, 0, 0, 0, 0) },   { "K", DIM(0, 0, 0, 0, 1, 0, 0) },
  { "mol", DIM(0, 0, 0, 0, 0, 1, 0) },  { "cd", DIM(0, 0, 0, 0, 0, 0, 1) },
};
#define NNAMED ((int)(sizeof named / sizeof *named))

/* Denominators tried when no named unit fits: X/m^2, X/s, X/m, X/m^3. */
static const struct { const char *sym; const char *qsym; double qscale; cj_dim dim; } denoms[] = {
  { "m^2", "cm^2", 1e-4, DIM(2, 0, 0, 0, 0, 0, 0) },
  { "s", "s", 1, DIM(0, 0, 1, 0, 0, 0, 0) },
  { "m", "m", 1, DIM(1, 0, 0, 0, 0, 0, 0) },
  { "m^3", "m^3", 1, DIM(3, 0, 0, 0, 0, 0, 0) },
};
#define NDENOMS ((int)(sizeof denoms / sizeof *denoms))

static int findnamed(cj_dim d)
{
  for (int i = 0; i < NNAMED; i++)
    if (cj_dim_eq(named[i].dim, d)) return i;
  return -1;
}

/* A named unit n and denominator k with d = n / k: returns 1. */
static int findratio(cj_dim d, int *n, int *k)
{
  for (int j = 0; j < NDENOMS; j++) {
    int i = findnamed(cj_dim_mul(d, denoms[j].dim));
    /* not "m/m^2" for m^-1, nor "Hz/s" for s^-2: those read better as powers */
    int overm = denoms[j].dim.e[CJ_DIM_M] != 0, overs = denoms[j].dim.e[CJ_DIM_S] != 0;
    if (i < 0) continue;
    if (overm && strcmp(named[i].sym, "m") == 0) continue;
    if (overs && (strcmp(named[i].sym, "s") == 0 || strcmp(named[i].sym, "Hz") == 0)) continue;
    *n = i;
    *k = j;
    return 1;
  }
  return 0;
}

static const char *basesyms[CJ_NBASE] = { "m", "kg", "s", "A", "K", "mol", "cd" };

const char *cj_dim_format(cj_dim a, char *buf, size_t n)
{
  int i, k;
  size_t len = 0;
  if (n == 0) return buf;
  buf[0] = '\0';
  if (cj_dim_isless(a)) { snprintf(buf, n, "1"); return buf; }
  if ((i = findnamed(a)) >= 0) { snprintf(buf, n, "%s", named[i].sym); return buf; }
  if (findratio(a, &i, &k)) {
    snprintf(buf, n, "%s/%s", named[i].sym, denoms[k].sym);
    return buf;
  }
  for (i = 0; i < CJ_NBASE; i++) {
    int w;
    if (!a.e[i]) continue;
    if (a.e[i] == 1)
      w = snprintf(buf + len, n - len, "%s%s", len ? " " : "", basesyms[i]);
    else
      w = snprintf(buf + len, n - len, "%s%s^%d", len ? " " : "", basesyms[i], a.e[i]);
    if (w < 0 || (size_t)w >= n - len) break;   /* truncated, still terminated */
    len += (size_t)w;
  }
  return buf;
}

/* ---- printing quantities ------------------------------------------------ */

/* Units for printing values: symbol, SI value of one unit, the power the
 * prefix is raised to (um^2 = (1e-6 m)^2), dimension, prefixes allowed. */
typedef struct { const char *sym; double scale; int power; cj_dim dim; const char *pfx; } dispdef;
static const dispdef disp[] = {
  { "V", 1, 1, DIM(2, 1, -3, -1, 0, 0, 0), "fpnumkM" },
  { "A", 1, 1, DIM(0, 0, 0, 1, 0, 0, 0), "fpnumk" },
  { "S", 1, 1, DIM(-2, -1, 3, 2, 0, 0, 0), "fpnumk" },
  { "F", 1, 1, DIM(-2, -1, 4, 2, 0, 0, 0), "fpnum" },
  { "ohm", 1, 1, DIM(2, 1, -3, -2, 0, 0, 0), "mkMG" },
  { "Hz", 1, 1, DIM(0, 0, -1, 0, 0, 0, 0), "kMG" },
  { "C", 1, 1, DIM(0, 0, 1, 1, 0, 0, 0), "fpnum" },
  { "N", 1, 1, DIM(1, 1, -2, 0, 0, 0, 0), "fpnumk" },
  { "J", 1, 1, DIM(2, 1, -2, 0, 0, 0, 0), "fpnumk" },
  { "W", 1, 1, DIM(2, 1, -3, 0, 0, 0, 0), "fpnumkMG" },
  { "s", 1, 1, DIM(0, 0, 1, 0, 0, 0, 0), "fpnum" },
  { "m", 1, 1, DIM(1, 0, 0, 0, 0, 0, 0), "fpnumk" },
  { "g", 1e-3, 1, DIM(0, 1, 0, 0, 0, 0, 0), "fpnumk" },
  { "K", 1, 1, DIM(0, 0, 0, 0, 1, 0, 0), "mu" },
  { "mol", 1, 1, DIM(0, 0, 0, 0, 0, 1, 0), "fpnum" },
  { "cd", 1, 1, DIM(0, 0, 0, 0, 0, 0, 1), "" },
  { "M", 1e3, 1, DIM(-3, 0, 0, 0, 0, 1, 0), "fpnum" },
  { "m^2", 1, 2, DIM(2, 0, 0, 0, 0, 0, 0), "fpnumk" },
  { "m^3", 1, 3, DIM(3, 0, 0, 0, 0, 0, 0), "fpnum" },
};
#define NDISP ((int)(sizeof disp / sizeof *disp))

static const char prefixorder[] = "fpnu m kMG";  /* ascending, ' ' = none */

static double pfscale(char c, int power)
{
  const prefixdef *p = c == ' ' ? NULL : findprefix(c);
  double s = p ? p->scale : 1.0;
  double r = 1.0;
  for (int i = 0; i < power; i++) r *= s;
  return r;
}

/* The printed mantissa |x| with `digits` digits, as it will read. */
static double printed(double x, int digits)
{
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.*g", digits, fabs(x));
  return strtod(tmp, NULL);
}

/* Choose the prefix for |a| (in units of the display unit): the largest
 * allowed one that leaves a printed mantissa >= 1; ' ' for none. */
static char chooseprefix(double a, const char *allowed, int power, int digits)
{
  char best = 0;
  if (a == 0 || !isfinite(a)) return ' ';
  for (const char *q = prefixorder; *q; q++) {
    if (*q != ' ' && !strchr(allowed, *q)) continue;
    if (printed(a / pfscale(*q, power), digits) >= 1) best = *q;
  }
  if (!best) return ' ';  /* below every prefix: plain unit, %g exponent */
  return best;
}

static const char *fmtwith(double v, double unitscale, const char *sym, const char *allowed,
                           int power, const char *tail, int digits, char *buf, size_t n)
{
  char p = chooseprefix(fabs(v) / unitscale, allowed, power, digits);
  double m = v / unitscale / pfscale(p, power);
  if (p == ' ')
    snprintf(buf, n, "%.*g %s%s", digits, m, sym, tail);
  else
    snprintf(buf, n, "%.*g %c%s%s", digits, m, p, sym, tail);
  return buf;
}

const char *cj_quantity_formatp(double v, cj_dim d, int digits, char *buf, size_t n)
{
  char dims[128];
  int i, k;
  if (n == 0) return buf;
  if (digits < 1 || digits > 17) digits = CJ_PRINT_DIGITS;
  if (cj_dim_isless(d)) { snprintf(buf, n, "%.*g", digits, v); return buf; }
  for (i = 0; i < NDISP; i++)
    if (cj_dim_eq(disp[i].dim, d))
      return fmtwith(v, disp[i].scale, disp[i].sym, disp[i].pfx, disp[i].power, "",
                     digits, buf, n);
  if (findratio(d, &i, &k)) {
    char tail[16];
    const dispdef *u = NULL;
    for (int j = 0; j < NDISP; j++)
      if (cj_dim_eq(disp[j].dim, named[i].dim)) { u = &disp[j]; break; }
    snprintf(tail, sizeof tail, "/%s", denoms[k].qsym);
    if (u)
      return fmtwith(v * denoms[k].qscale, u->scale, u->sym, u->pfx, u->power, tail,
                     digits, buf, n);
  }
  snprintf(buf, n, "%.*g %s", digits, v, cj_dim_format(d, dims, sizeof dims));
  return buf;
}

const char *cj_quantity_format(double v, cj_dim d, char *buf, size_t n)
{
  return cj_quantity_formatp(v, d, CJ_PRINT_DIGITS, buf, n);
}

/* ---- parsing unit expressions --------------------------------------------- */

typedef struct { const char *src, *p; } parser;

static int col(const parser *ps, const char *at) { return (int)(at - ps->src) + 1; }

static void blanks(parser *ps)
{
  while (*ps->p == ' ' || *ps->p == '\t') ps->p++;
}

static int isnamechar(unsigned char c, int first)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
         (!first && c >= '0' && c <= '9');
}

static int isdig(char c) { return c >= '0' && c <= '9'; }

/* Length of a decimal number at s (digits [. digits] [e [+-] digits]), or 0. */
static size_t numlen(const char *s)
{
  size_t i = 0, d = 0;
  while (isdig(s[i])) i++, d++;
  if (s[i] == '.') { i++; while (isdig(s[i])) i++, d++; }
  if (d == 0) return 0;
  if (s[i] == 'e' || s[i] == 'E') {
    size_t j = i + 1;
    if (s[j] == '+' || s[j] == '-') j++;
    if (isdig(s[j])) { while (isdig(s[j])) j++; i = j; }
  }
  return i;
}

static int perr(parser *ps, const char *at, const char *what)
{
  return cj_fail(CJ_EFORMAT, "%s at column %d in unit '%s'", what, col(ps, at), ps->src);
}

/* A rational p/q (q <= 12) equal to x, or 0. */
static int rationalize(double x, int *num, int *den)
{
  for (int q = 1; q <= 12; q++) {
    double p = x * q;
    if (fabs(p - nearbyint(p)) < 1e-9 && fabs(p) < 1e6) {
      *num = (int)nearbyint(p);
      *den = q;
      return 1;
    }
  }
  return 0;
}

static int parse_exponent(parser *ps, int *num, int *den)
{
  const char *start;
  int paren = 0, sign = 1;
  double x;
  blanks(ps);
  start = ps->p;
  if (*ps->p == '(') { paren = 1; ps->p++; blanks(ps); }
  if (*ps->p == '-' || *ps->p == '+') { sign = *ps->p == '-' ? -1 : 1; ps->p++; }
  size_t l = numlen(ps->p);
  if (!l) return perr(ps, ps->p, "expected an exponent");
  x = sign * strtod(ps->p, NULL);
  ps->p += l;
  if (paren) {
    blanks(ps);
    if (*ps->p == '/') {
      ps->p++;
      blanks(ps);
      l = numlen(ps->p);
      if (!l) return perr(ps, ps->p, "expected the denominator of an exponent");
      double q = strtod(ps->p, NULL);
      if (q == 0) return perr(ps, ps->p, "zero denominator in an exponent");
      x /= q;
      ps->p += l;
      blanks(ps);
    }
    if (*ps->p != ')') return perr(ps, ps->p, "expected ')' after an exponent");
    ps->p++;
  }
  if (!rationalize(x, num, den)) return perr(ps, start, "exponent is not a small fraction");
  return CJ_OK;
}

static int parse_expr(parser *ps, double *scale, cj_dim *dim, int depth);

/* A unit symbol at ps->p, with optional trailing digits as an exponent. */
static int parse_symbol(parser *ps, double *scale, cj_dim *dim, int *num, int *den)
{
  const char *s = ps->p, *e = s, *digits;
  char name[64];
  size_t n;
  while (isnamechar((unsigned char)*e, e == s)) e++;
  n = (size_t)(e - s);
  if (n >= sizeof name) return perr(ps, s, "unit name too long");
  memcpy(name, s, n);
  name[n] = '\0';
  ps->p = e;
  *num = *den = 1;
  if (cj_unit_lookup(name, scale, dim) == CJ_OK) goto minus;
  digits = name + n;                    /* "s2": symbol s, exponent 2 */
  while (digits > name && isdig(digits[-1])) digits--;
  if (digits > name && *digits) {
    *num = atoi(digits);
    name[digits - name] = '\0';
    if (cj_unit_lookup(name, scale, dim) == CJ_OK) return CJ_OK;
  }
  snprintf(name, sizeof name, "%.*s", (int)n, s);
  return cj_fail(CJ_EFORMAT, "unknown unit '%s' at column %d in unit '%s'", name, col(ps, s),
                 ps->src);
minus:                                  /* "s-1": symbol s, exponent -1 */
  if (*ps->p == '-' && isdig(ps->p[1])) {
    ps->p++;
    *num = -atoi(ps->p);
    while (isdig(*ps->p)) ps->p++;
  }
  return CJ_OK;
}

static int parse_atom(parser *ps, double *scale, cj_dim *dim, int *num, int *den, int depth)
{
  size_t l;
  int st;
  blanks(ps);
  *num = *den = 1;
  if (*ps->p == '(') {
    const char *open = ps->p++;
    if ((st = parse_expr(ps, scale, dim, depth + 1))) return st;
    blanks(ps);
    if (*ps->p != ')') return perr(ps, open, "unbalanced '('");
    ps->p++;
    return CJ_OK;
  }
  if ((l = numlen(ps->p))) {
    *scale = strtod(ps->p, NULL);
    *dim = cj_dimless;
    ps->p += l;
    return CJ_OK;
  }
  if (isnamechar((unsigned char)*ps->p, 1)) return parse_symbol(ps, scale, dim, num, den);
  if (!*ps->p) return perr(ps, ps->p, "expected a unit, a number or '(' (end of text)");
  return cj_fail(CJ_EFORMAT, "unexpected '%c' at column %d in unit '%s'", *ps->p,
                 col(ps, ps->p), ps->src);
}

static int parse_power(parser *ps, double *scale, cj_dim *dim, int depth)
{
  int num, den, st;
  const char *at;
  if ((st = parse_atom(ps, scale, dim, &num, &den, depth))) return st;
  blanks(ps);
  at = ps->p;
  if (*ps->p == '^' || (ps->p[0] == '*' && ps->p[1] == '*')) {
    ps->p += *ps->p == '^' ? 1 : 2;
    if (num != 1) return perr(ps, at, "two exponents on one unit");
    if ((st = parse_exponent(ps, &num, &den))) return st;
  }
  if (num == 1 && den == 1) return CJ_OK;
  if (cj_dim_pow(*dim, num, den, dim)) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s", cj_errmsg());
    return cj_fail(CJ_EUNIT, "%s (column %d in unit '%s')", msg, col(ps, at), ps->src);
  }
  *scale = pow(*scale, (double)num / den);
  return CJ_OK;
}

static int startsatom(const char *p)
{
  return *p == '(' || numlen(p) || isnamechar((unsigned char)*p, 1);
}

static int parse_prod(parser *ps, double *scale, cj_dim *dim, int depth)
{
  int st;
  if ((st = parse_power(ps, scale, dim, depth))) return st;
  for (;;) {
    double s2;
    cj_dim d2;
    blanks(ps);
    if (!startsatom(ps->p)) return CJ_OK;
    const char *at = ps->p;
    if ((st = parse_power(ps, &s2, &d2, depth))) return st;
    if (cj_dim_mulx(*dim, d2, 1, dim)) return perr(ps, at, "dimension exponent out of range");
    *scale *= s2;
  }
}

static int parse_expr(parser *ps, double *scale, cj_dim *dim, int depth)
{
  int st;
  if (depth > 32) return perr(ps, ps->p, "parentheses nested too deeply");
  if ((st = parse_prod(ps, scale, dim, depth))) return st;
  for (;;) {
    double s2;
    cj_dim d2;
    int sign;
    blanks(ps);
    if (*ps->p == '/') sign = -1;
    else if (*ps->p == '*' && ps->p[1] != '*') sign = 1;
    else return CJ_OK;
    const char *at = ps->p++;
    if ((st = parse_prod(ps, &s2, &d2, depth))) return st;
    if (cj_dim_mulx(*dim, d2, sign, dim)) return perr(ps, at, "dimension exponent out of range");
    *scale = sign > 0 ? *scale * s2 : *scale / s2;
  }
}

int cj_unit_parse(const char *expr, double *scale, cj_dim *dim)
{
  parser ps;
  double s;
  cj_dim d;
  int st;
  if (!expr) return cj_fail(CJ_EINVAL, "unit expression expected");
  ps.src = ps.p = expr;
  blanks(&ps);
  if (!*ps.p) return cj_fail(CJ_EFORMAT, "empty unit expression");
  if ((st = parse_expr(&ps, &s, &d, 0))) return st;
  blanks(&ps);
  if (*ps.p == ')') return perr(&ps, ps.p, "unbalanced ')'");
  if (*ps.p)
    return cj_fail(CJ_EFORMAT, "unexpected '%c' at column %d in unit '%s'", *ps.p,
                   col(&ps, ps.p), ps.src);
  if (!isfinite(s) || s == 0)
    return cj_fail(CJ_EFORMAT, "unit '%s' has scale %g", expr, s);
  *scale = s;
  *dim = d;
  return CJ_OK;
}
