/*
 * interp.c — the IR kernel interpreter (see interp.h).
 *
 * A kernel tree is compiled once into a register bytecode. Registers are
 * arrays of LANES doubles; one instruction processes the lanes of a block of
 * elements (neurons, synapses or list entries) before the next instruction
 * runs, so dispatch costs once per block, not per element. This reorders
 * work across elements, which is invisible unless one element can see what
 * another wrote: the compiler checks every written slot and falls back to
 * blocks of one element when a write through pre/post could meet another
 * access of the same array (IR.md §2). Expressions are pure (random numbers
 * are counter-based), so evaluating both sides of an `ifelse`, or a branch
 * body under a lane mask, gives the values the generated C computes.
 *
 * Arithmetic is plain IEEE double, one operation per IR node, in the order
 * the generated C performs it; functions are those of <math.h> and the
 * helpers below, which cj_kernel_prelude() hands to the generated C as text.
 */
#include "interp.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#define LANES 128                 /* elements per block (a multiple of 4) */
#define NOREG 0xFFFFu

/* ---- names ------------------------------------------------------------ */
static const char *const nopnames[CJ_NNODE] = {
  "num", "tmp", "var", "t", "dt", "i", "j", "n", "notref", "lastspike", "rand",
  "+", "-", "*", "/", "neg", "pow", "<", "<=", ">", ">=", "==", "~=",
  "and", "or", "not", "ifelse", "call", "let", "set", "add", "if"
};
static const char *const funcnames[CJ_NFUNC] = {
  "exp", "log", "log1p", "expm1", "sqrt", "abs", "sin", "cos", "tan", "tanh",
  "floor", "ceil", "sign", "pow", "min", "max", "clip", "sigmoid", "heaviside", "atan", "atan2"
};
static const char *const hownames[CJ_NHOW] = { "i", "pre", "post", "s" };
static const char *const domnames[CJ_NDOM] = { "neurons", "spikes", "synapses", "events", "scalar", "pairs" };
static const char *const kindnames[3] = { "stmts", "threshold", "sum" };

static int lookup(const char *const *names, int n, const char *s)
{
  if (!s) return -1;
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

const char *cj_nop_name(cj_nop op) { return (unsigned)op < CJ_NNODE ? nopnames[op] : "?"; }
int cj_nop_lookup(const char *name) { return lookup(nopnames, CJ_NNODE, name); }
const char *cj_func_name(int f) { return (unsigned)f < CJ_NFUNC ? funcnames[f] : "?"; }
int cj_func_lookup(const char *name) { return lookup(funcnames, CJ_NFUNC, name); }
const char *cj_how_name(int h) { return (unsigned)h < CJ_NHOW ? hownames[h] : "?"; }
int cj_how_lookup(const char *name) { return lookup(hownames, CJ_NHOW, name); }
const char *cj_domain_name(int d) { return (unsigned)d < CJ_NDOM ? domnames[d] : "?"; }
int cj_domain_lookup(const char *name) { return lookup(domnames, CJ_NDOM, name); }
const char *cj_kkind_name(int k) { return (unsigned)k < 3 ? kindnames[k] : "?"; }
int cj_kkind_lookup(const char *name) { return lookup(kindnames, 3, name); }

int cj_func_arity(int f)
{
  switch (f) {
  case CJ_F_POW: case CJ_F_MIN: case CJ_F_MAX: case CJ_F_ATAN2: return 2;
  case CJ_F_CLIP: return 3;
  default: return (unsigned)f < CJ_NFUNC ? 1 : -1;
  }
}

/* ---- the helpers shared with generated C ---------------------------------
 * HELPERS is compiled here and pasted, as text, into cj_kernel_prelude(): one
 * definition, so both backends run the same arithmetic. */
#define HELPERS(X) \
X(static inline double cj_sign(double x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : x); }) \
X(static inline double cj_heaviside(double x) { return x >= 0.0 ? 1.0 : (x < 0.0 ? 0.0 : x); }) \
X(static inline double cj_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }) \
X(static inline double cj_min(double a, double b) { return a < b ? a : (b < a ? b : (a != a ? b : a)); }) \
X(static inline double cj_max(double a, double b) { return a > b ? a : (b > a ? b : (a != a ? b : a)); }) \
X(static inline double cj_clip(double x, double lo, double hi) { return cj_min(cj_max(x, lo), hi); }) \
X(static inline double cj_u01(uint32_t hi, uint32_t lo) { return (double)(((uint64_t)hi << 21) ^ ((uint64_t)lo >> 11)) * 0x1.0p-53; }) \
X(static inline void cj_ctr(uint32_t ctr[4], uint32_t kid, int64_t step, int64_t e, int k) { ctr[0] = (uint32_t)(uint64_t)e; ctr[1] = (uint32_t)(uint64_t)step; ctr[2] = (uint32_t)((((uint64_t)step >> 32) & 0xFFFFu) << 16) | (kid & 0xFFFFu); ctr[3] = (uint32_t)k; }) \
X(static inline double cj_boxmuller(const uint32_t o[4]) { return sqrt(-2.0 * log(1.0 - cj_u01(o[0], o[1]))) * cos(6.283185307179586 * cj_u01(o[2], o[3])); })

#define EXPAND(...) __VA_ARGS__
#define STRINGIFY(...) #__VA_ARGS__ "\n"
HELPERS(EXPAND)

double cj_kuniform(const uint32_t key[2], uint32_t kid, int64_t step, int64_t e, int k)
{
  uint32_t ctr[4], o[4];
  cj_ctr(ctr, kid, step, e, k);
  cj_philox(ctr, key, o);
  return cj_u01(o[0], o[1]);
}

double cj_knormal(const uint32_t key[2], uint32_t kid, int64_t step, int64_t e, int k)
{
  uint32_t ctr[4], o[4];
  cj_ctr(ctr, kid, step, e, k);
  cj_philox(ctr, key, o);
  return cj_boxmuller(o);
}

static const char prelude[] =
  "/* generated by cajal: kernel prelude (vm/core/interp.c), ABI 1 */\n"
  "#include <math.h>\n#include <stdint.h>\n#include <stddef.h>\n"
  "typedef struct cj_kctx {\n"
  "  int64_t n;\n  int64_t step;\n  double t, dt;\n  void **var;\n"
  "  const int64_t *list;\n  const int32_t *pre, *post;\n  const double *lastspike;\n"
  "  double refractory;\n  uint32_t key[2];\n  uint32_t kid;\n"
  "  void (*philox)(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);\n"
  "  int64_t *spikes, *nspikes;\n  double *result;\n  int64_t npop;\n"
  "} cj_kctx;\n"
  "int cj_kernel_abi = 1;\n"
  HELPERS(STRINGIFY)
  "static inline double cj_uniform(const cj_kctx *c, int64_t e, int k) { uint32_t ctr[4], o[4]; cj_ctr(ctr, c->kid, c->step, e, k); c->philox(ctr, c->key, o); return cj_u01(o[0], o[1]); }\n"
  "static inline double cj_normal(const cj_kctx *c, int64_t e, int k) { uint32_t ctr[4], o[4]; cj_ctr(ctr, c->kid, c->step, e, k); c->philox(ctr, c->key, o); return cj_boxmuller(o); }\n"
  "static inline double cj_notref(const cj_kctx *c, int64_t i) { return c->t - c->lastspike[i] >= c->refractory ? 1.0 : 0.0; }\n";

const char *cj_kernel_prelude(void)
{
  return prelude;
}

/* ---- the arena ---------------------------------------------------------- */
typedef struct chunk { struct chunk *next; size_t used, cap; max_align_t data[]; } chunk;
struct cj_ktree { chunk *head; };

cj_ktree *cj_ktree_new(void)
{
  cj_ktree *t = cj_malloc(sizeof *t);
  if (t) t->head = NULL;
  return t;
}

void cj_ktree_free(cj_ktree *t)
{
  if (!t) return;
  for (chunk *c = t->head, *nx; c; c = nx) { nx = c->next; cj_free(c); }
  cj_free(t);
}

static void *arena(cj_ktree *t, size_t n)
{
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!t->head || t->head->cap - t->head->used < n) {
    size_t cap = n > 16384 ? n : 16384;
    chunk *c = cj_malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->next = t->head; c->used = 0; c->cap = cap;
    t->head = c;
  }
  void *p = (char *)t->head->data + t->head->used;
  t->head->used += n;
  memset(p, 0, n);
  return p;
}

cj_node *cj_ktree_node(cj_ktree *t, cj_nop op)
{
  cj_node *n = arena(t, sizeof *n);
  if (n) { n->op = op; n->how = -1; }
  return n;
}

cj_node **cj_ktree_list(cj_ktree *t, int n)
{
  return arena(t, (size_t)(n > 0 ? n : 1) * sizeof(cj_node *));
}

/* ---- the s-expression reader ------------------------------------------- */
typedef struct reader { const char *s, *p; cj_ktree *t; int err; } reader;

static int rfail(reader *r, const char *what)
{
  if (!r->err)
    r->err = cj_fail(CJ_EFORMAT, "kernel text, column %d: %s", (int)(r->p - r->s) + 1, what);
  return r->err;
}

static void skipws(reader *r) { while (isspace((unsigned char)*r->p)) r->p++; }

/* An atom: letters, digits, signs and punctuation up to a blank or paren. */
static size_t atom(reader *r, char *buf, size_t n)
{
  size_t k = 0;
  skipws(r);
  while (*r->p && !isspace((unsigned char)*r->p) && *r->p != '(' && *r->p != ')') {
    if (k + 1 < n) buf[k++] = *r->p;
    r->p++;
  }
  buf[k] = '\0';
  return k;
}

static int isnumber(const char *a, double *v)
{
  char *end;
  if (!*a) return 0;
  *v = strtod(a, &end);
  return *end == '\0';
}

static int readint(reader *r, int *out)
{
  char buf[64]; double v;
  if (!atom(r, buf, sizeof buf) || !isnumber(buf, &v) || v != (int)v || v < 0)
    return rfail(r, "expected a non-negative integer");
  *out = (int)v;
  return 0;
}

static int readhow(reader *r, int *out)
{
  char buf[16];
  atom(r, buf, sizeof buf);
  if ((*out = cj_how_lookup(buf)) < 0) return rfail(r, "expected i, pre, post or s");
  return 0;
}

static cj_node *rexpr(reader *r);
static int rstmts(reader *r, cj_node ***list, int *n);

static int expect(reader *r, char c)
{
  skipws(r);
  if (*r->p != c) return rfail(r, c == ')' ? "expected ')'" : "expected '('");
  r->p++;
  return 0;
}

static const struct { const char *name; cj_nop op; } leaves[] = {
  {"t", CJ_N_T}, {"dt", CJ_N_DT}, {"i", CJ_N_I}, {"j", CJ_N_J}, {"n", CJ_N_N},
  {"notref", CJ_N_NOTREF}, {"lastspike", CJ_N_LASTSPIKE}, {NULL, 0}
};

static int nargs_of(cj_nop op)
{
  switch (op) {
  case CJ_N_NEG: case CJ_N_NOT: return 1;
  case CJ_N_IFELSE: return 3;
  default: return op >= CJ_N_ADD && op <= CJ_N_OR ? 2 : 0;
  }
}

static cj_node *rleaf(reader *r, const char *a)
{
  double v;
  cj_node *e;
  if (isnumber(a, &v)) {
    if (!(e = cj_ktree_node(r->t, CJ_N_NUM))) { rfail(r, "out of memory"); return NULL; }
    e->num = v;
    return e;
  }
  for (int i = 0; leaves[i].name; i++)
    if (strcmp(a, leaves[i].name) == 0) {
      if (!(e = cj_ktree_node(r->t, leaves[i].op))) rfail(r, "out of memory");
      return e;
    }
  rfail(r, "expected a number, a leaf (t, dt, i, j, n, notref, lastspike) or '('");
  return NULL;
}

/* After '(' and the op name: the operands of op. */
static cj_node *rform(reader *r, int op, const char *name)
{
  cj_node *e = cj_ktree_node(r->t, op);
  char buf[32];
  if (!e) { rfail(r, "out of memory"); return NULL; }
  switch (op) {
  case CJ_N_NUM:
    atom(r, buf, sizeof buf);
    if (!isnumber(buf, &e->num)) { rfail(r, "expected a number"); return NULL; }
    break;
  case CJ_N_TMP: if (readint(r, &e->k)) return NULL; break;
  case CJ_N_VAR: if (readint(r, &e->slot) || readhow(r, &e->how)) return NULL; break;
  case CJ_N_RAND:
    atom(r, buf, sizeof buf);
    if (strcmp(buf, "uniform") && strcmp(buf, "normal")) { rfail(r, "expected uniform or normal"); return NULL; }
    e->fn = strcmp(buf, "normal") == 0;
    if (readint(r, &e->k)) return NULL;
    break;
  case CJ_N_CALL:
    atom(r, buf, sizeof buf);
    if ((e->fn = cj_func_lookup(buf)) < 0) { rfail(r, "unknown function"); return NULL; }
    e->nargs = cj_func_arity(e->fn);
    for (int i = 0; i < e->nargs; i++)
      if (!(e->arg[i] = rexpr(r))) return NULL;
    break;
  case CJ_N_LET:
    if (readint(r, &e->k) || !(e->arg[0] = rexpr(r))) return NULL;
    e->nargs = 1;
    break;
  case CJ_N_SET: case CJ_N_ADDTO:
    if (readint(r, &e->slot) || readhow(r, &e->how) || !(e->arg[0] = rexpr(r))) return NULL;
    e->nargs = 1;
    break;
  case CJ_N_IF:
    if (!(e->arg[0] = rexpr(r))) return NULL;
    e->nargs = 1;
    if (rstmts(r, &e->body[0], &e->nbody[0])) return NULL;
    skipws(r);
    if (*r->p == '(') { if (rstmts(r, &e->body[1], &e->nbody[1])) return NULL; }
    else if (!(e->body[1] = cj_ktree_list(r->t, 0))) { rfail(r, "out of memory"); return NULL; }
    break;
  default:
    if (op >= CJ_N_T && op <= CJ_N_LASTSPIKE) break;
    e->nargs = nargs_of(op);
    for (int i = 0; i < e->nargs; i++)
      if (!(e->arg[i] = rexpr(r))) return NULL;
  }
  (void)name;
  if (expect(r, ')')) return NULL;
  return e;
}

static cj_node *rexpr(reader *r)
{
  char buf[64];
  int op;
  skipws(r);
  if (*r->p != '(') {
    if (!atom(r, buf, sizeof buf)) { rfail(r, "expected an expression"); return NULL; }
    return rleaf(r, buf);
  }
  r->p++;
  atom(r, buf, sizeof buf);
  if ((op = cj_nop_lookup(buf)) < 0) { rfail(r, "unknown operator"); return NULL; }
  return rform(r, op, buf);
}

/* "(" stmt* ")" */
static int rstmts(reader *r, cj_node ***list, int *n)
{
  cj_node *tmp[256];
  int k = 0;
  if (expect(r, '(')) return r->err;
  for (skipws(r); *r->p && *r->p != ')'; skipws(r)) {
    if (k == 256) return rfail(r, "too many statements in one list");
    if (!(tmp[k++] = rexpr(r))) return r->err;
  }
  if (expect(r, ')')) return r->err;
  if (!(*list = cj_ktree_list(r->t, k))) return rfail(r, "out of memory");
  memcpy(*list, tmp, (size_t)k * sizeof *tmp);
  *n = k;
  return 0;
}

int cj_kexpr_parse(cj_ktree *t, const char *src, cj_node **out)
{
  reader r = { src, src, t, 0 };
  *out = rexpr(&r);
  if (!*out) return r.err;
  skipws(&r);
  if (*r.p) return rfail(&r, "text after the expression");
  return 0;
}

int cj_kbody_parse(cj_ktree *t, const char *src, cj_node ***stmts, int *n)
{
  char *wrapped = cj_malloc(strlen(src) + 3);
  int st;
  if (!wrapped) return cj_fail(CJ_ENOMEM, "kernel text: out of memory");
  wrapped[0] = '(';
  strcpy(wrapped + 1, src);
  strcat(wrapped, ")");
  reader r = { wrapped, wrapped, t, 0 };
  st = rstmts(&r, stmts, n);
  if (!st) { skipws(&r); if (*r.p) st = rfail(&r, "unbalanced ')'"); }
  cj_free(wrapped);
  return st;
}

/* ---- the bytecode -------------------------------------------------------- */
enum {
  I_END, I_LOADC, I_LOADX, I_LS, I_NOTREF, I_IDX, I_RAND,
  I_ADD, I_SUB, I_MUL, I_DIV, I_NEG, I_POW,
  I_LT, I_LE, I_GT, I_GE, I_EQ, I_NE, I_AND, I_OR, I_NOT, I_SEL,
  I_F1, I_F2, I_CLIP, I_MOV, I_BLEND,
  I_STOREC, I_STOREX, I_ADDC, I_ADDX,
  I_MAND, I_MANDN, I_JNONE, I_THRESH, I_RESULT, I_RESULTV
};

typedef struct ins { uint16_t op, d, a, b, c; } ins;

typedef struct cst { uint16_t reg; double v; } cst;

struct cj_prog {
  char name[64];
  int domain, kind, nrefs, ntmp;
  int blocked;                 /* lanes per block: LANES or 1 */
  ins *code; int ncode, capcode;
  cst *consts; int nconst, capconst;
  int reg_t, reg_dt, reg_n;    /* special registers (NOREG if unused) */
  int nregs, sp;
  unsigned char *writes;       /* per slot: written? */
  unsigned char *hows;         /* per slot: selectors used (bits) */
  int usehow[CJ_NHOW];         /* index lanes needed */
  int needix;                  /* neurons domain: element indices needed (i, rand) */
  int single;                  /* variables are float arrays */
  double *regs;                /* nregs * LANES, 64-byte aligned inside rawregs */
  void *rawregs;
  int64_t *ix[CJ_NHOW];        /* per block: element indices by how */
  int err;
};

typedef struct slotuse { int reads, writes, hows; } slotuse;

typedef struct comp {
  cj_prog *p;
  const cj_kdef *k;
  slotuse *use;
  int mask;                    /* current mask register or NOREG */
} comp;

static int cfail(comp *c, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;
static int cfail(comp *c, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  if (c->p->err) return c->p->err;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return c->p->err = cj_fail(CJ_EINVAL, "kernel %d '%s' (line %d): %s", c->k->id,
                             c->k->name ? c->k->name : "?", c->k->line, msg);
}

static int emit(comp *c, int op, int d, int a, int b, int x)
{
  cj_prog *p = c->p;
  if (p->err) return -1;
  if (p->ncode == p->capcode) {
    int cap = p->capcode ? 2 * p->capcode : 64;
    ins *nc = cj_realloc(p->code, (size_t)cap * sizeof *nc);
    if (!nc) return p->err = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory"), -1;
    p->code = nc; p->capcode = cap;
  }
  p->code[p->ncode] = (ins){ (uint16_t)op, (uint16_t)d, (uint16_t)a, (uint16_t)b, (uint16_t)x };
  return p->ncode++;
}

static int newreg(comp *c)
{
  int r = c->p->sp++;
  if (c->p->sp > c->p->nregs) c->p->nregs = c->p->sp;
  if (c->p->sp >= (int)NOREG) { cfail(c, "expression too large (%d registers)", c->p->sp); return 0; }
  return r;
}

static int addconst(comp *c, double v)
{
  cj_prog *p = c->p;
  for (int i = 0; i < p->nconst; i++)
    if (memcmp(&p->consts[i].v, &v, sizeof v) == 0) return p->consts[i].reg;
  if (p->nconst == p->capconst) {
    int cap = p->capconst ? 2 * p->capconst : 16;
    cst *nc = cj_realloc(p->consts, (size_t)cap * sizeof *nc);
    if (!nc) { p->err = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory"); return 0; }
    p->consts = nc; p->capconst = cap;
  }
  int r = newreg(c);
  p->consts[p->nconst++] = (cst){ (uint16_t)r, v };
  return r;
}

/* Constants and t, dt, n get registers below the scratch stack, before any
 * code is compiled, so scratch reuse never overwrites them. */
static void prescan(comp *c, const cj_node *e, int depth)
{
  cj_prog *p = c->p;
  if (!e || p->err) return;
  if (depth > 1000) { cfail(c, "expression nested too deeply"); return; }
  switch (e->op) {
  case CJ_N_NUM: addconst(c, e->num); return;
  case CJ_N_T: if (p->reg_t == (int)NOREG) p->reg_t = newreg(c); return;
  case CJ_N_DT: if (p->reg_dt == (int)NOREG) p->reg_dt = newreg(c); return;
  case CJ_N_N: if (p->reg_n == (int)NOREG) p->reg_n = newreg(c); return;
  default: break;
  }
  for (int i = 0; i < e->nargs && i < 3; i++) prescan(c, e->arg[i], depth + 1);
  if (e->op == CJ_N_IF)
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < e->nbody[b] && e->body[b]; i++) prescan(c, e->body[b][i], depth + 1);
}

static int constreg(comp *c, double v)
{
  cj_prog *p = c->p;
  for (int i = 0; i < p->nconst; i++)
    if (memcmp(&p->consts[i].v, &v, sizeof v) == 0) return p->consts[i].reg;
  return cfail(c, "internal: constant not registered"), 0;
}

static int specialreg(comp *c, int *slot)
{
  if (*slot == (int)NOREG) return cfail(c, "internal: register not reserved"), 0;
  return *slot;
}

static int insyn(const comp *c)
{
  return c->k->domain == CJ_DOM_SYNAPSES || c->k->domain == CJ_DOM_EVENTS || c->k->domain == CJ_DOM_PAIRS;
}
static int inneu(const comp *c) { return c->k->domain == CJ_DOM_NEURONS || c->k->domain == CJ_DOM_SPIKES; }

static int cj_fail_pairs(comp *c, int r)
{
  return cfail(c, "slot %d: pairs kernels read neuron variables through pre or post only", r);
}

/* Is how h valid for slot r in this kernel's domain? */
static int checkvar(comp *c, int r, int h)
{
  if (r < 0 || r >= c->k->nrefs) return cfail(c, "slot %d out of range (%d refs)", r, c->k->nrefs);
  if (h < 0 || h >= CJ_NHOW) return cfail(c, "bad element selector for slot %d", r);
  int owner = c->k->refs[r].owner;
  if (inneu(c) && h != CJ_HOW_I)
    return cfail(c, "element '%s' is not valid in a %s kernel (use i)", hownames[h], domnames[c->k->domain]);
  if (insyn(c) && h == CJ_HOW_I)
    return cfail(c, "element 'i' is not valid in a %s kernel (use pre, post or s)", domnames[c->k->domain]);
  if (c->k->domain == CJ_DOM_SCALAR)
    return cfail(c, "scalar kernels cannot read or write state (slot %d)", r);
  if (c->k->domain == CJ_DOM_PAIRS && (h == CJ_HOW_S || owner == CJ_OWNER_PROJ))
    return cj_fail_pairs(c, r);
  if ((h == CJ_HOW_S) != (owner == CJ_OWNER_PROJ))
    return cfail(c, "slot %d: synapse variables are selected with s, neuron variables with i, pre or post", r);
  c->use[r].hows |= 1 << h;
  c->p->usehow[h] = 1;
  return 0;
}

static int cexpr(comp *c, const cj_node *e, int dest);

static int leaf(comp *c, const cj_node *e, int dest)
{
  cj_prog *p = c->p;
  int d;
  switch (e->op) {
  case CJ_N_NUM: return constreg(c, e->num);
  case CJ_N_TMP:
    if (e->k < 0 || e->k >= p->ntmp) return cfail(c, "temporary %d out of range (ntmp %d)", e->k, p->ntmp), 0;
    return e->k;
  case CJ_N_T: return specialreg(c, &p->reg_t);
  case CJ_N_DT: return specialreg(c, &p->reg_dt);
  case CJ_N_N:
    if (!inneu(c)) return cfail(c, "'n' is only valid in neuron kernels"), 0;
    return specialreg(c, &p->reg_n);
  default: break;
  }
  d = dest >= 0 ? dest : newreg(c);
  switch (e->op) {
  case CJ_N_VAR:
    if (checkvar(c, e->slot, e->how)) return 0;
    c->use[e->slot].reads++;
    if (e->how == CJ_HOW_I && c->k->domain == CJ_DOM_NEURONS) emit(c, I_LOADC, d, e->slot, 0, 0);
    else emit(c, I_LOADX, d, e->slot, e->how, 0);
    break;
  case CJ_N_I: case CJ_N_J:
    if (c->k->domain == CJ_DOM_SCALAR || (e->op == CJ_N_J && !insyn(c)))
      return cfail(c, "'%s' is not valid in a %s kernel", nopnames[e->op], domnames[c->k->domain]), 0;
    {
      int h = inneu(c) ? CJ_HOW_I : e->op == CJ_N_I ? CJ_HOW_PRE : CJ_HOW_POST;
      p->usehow[h] = 1;
      p->needix = 1;
      emit(c, I_IDX, d, h, 0, 0);
    }
    break;
  case CJ_N_NOTREF: case CJ_N_LASTSPIKE:
    if (!inneu(c)) return cfail(c, "'%s' is only valid in neuron kernels", nopnames[e->op]), 0;
    p->usehow[CJ_HOW_I] = 1;
    emit(c, e->op == CJ_N_NOTREF ? I_NOTREF : I_LS, d, 0, 0, 0);
    break;
  case CJ_N_RAND:
    if (e->k < 0 || e->k > 0xFFFF) return cfail(c, "draw index %d out of range", e->k), 0;
    p->usehow[insyn(c) ? CJ_HOW_S : CJ_HOW_I] = 1;
    p->needix = 1;
    emit(c, I_RAND, d, e->k, e->fn, 0);
    break;
  default:
    return cfail(c, "'%s' is not an expression", cj_nop_name(e->op)), 0;
  }
  return d;
}

static int cexpr(comp *c, const cj_node *e, int dest)
{
  static const unsigned char binop[] = {
    [CJ_N_ADD] = I_ADD, [CJ_N_SUB] = I_SUB, [CJ_N_MUL] = I_MUL, [CJ_N_DIV] = I_DIV,
    [CJ_N_POW] = I_POW, [CJ_N_LT] = I_LT, [CJ_N_LE] = I_LE, [CJ_N_GT] = I_GT,
    [CJ_N_GE] = I_GE, [CJ_N_EQ] = I_EQ, [CJ_N_NE] = I_NE, [CJ_N_AND] = I_AND,
    [CJ_N_OR] = I_OR };
  int save, r[3], d, n;
  if (!e) return cfail(c, "missing expression"), 0;
  if (c->p->err) return 0;
  if ((unsigned)e->op >= CJ_NNODE) return cfail(c, "unknown operator %d", (int)e->op), 0;
  if (e->op < CJ_N_ADD) return leaf(c, e, dest);
  n = e->op == CJ_N_CALL ? cj_func_arity(e->fn) : nargs_of(e->op);
  if (e->op == CJ_N_CALL && n < 0) return cfail(c, "unknown function %d", e->fn), 0;
  if (e->op > CJ_N_CALL) return cfail(c, "'%s' is a statement, not an expression", nopnames[e->op]), 0;
  if (e->nargs != n) return cfail(c, "'%s' takes %d operands, not %d", e->op == CJ_N_CALL ? funcnames[e->fn] : nopnames[e->op], n, e->nargs), 0;
  save = c->p->sp;
  for (int i = 0; i < n; i++) r[i] = cexpr(c, e->arg[i], -1);
  c->p->sp = save;                         /* operands die here: the result may reuse them */
  d = dest >= 0 ? dest : newreg(c);
  switch (e->op) {
  case CJ_N_NEG: emit(c, I_NEG, d, r[0], 0, 0); break;
  case CJ_N_NOT: emit(c, I_NOT, d, r[0], 0, 0); break;
  case CJ_N_IFELSE: emit(c, I_SEL, d, r[1], r[2], r[0]); break;
  case CJ_N_CALL:
    if (n == 1) emit(c, I_F1, d, r[0], 0, e->fn);
    else if (e->fn == CJ_F_CLIP) emit(c, I_CLIP, d, r[0], r[1], r[2]);
    else emit(c, I_F2, d, r[0], r[1], e->fn);
    break;
  default: emit(c, binop[e->op], d, r[0], r[1], 0);
  }
  return d;
}

static int cstmts(comp *c, cj_node *const *list, int n);

static int cstore(comp *c, const cj_node *s)
{
  int save = c->p->sp, v, contig;
  if (c->k->domain == CJ_DOM_PAIRS) return cfail(c, "pairs kernels cannot write state (only 'let')");
  if (checkvar(c, s->slot, s->how)) return c->p->err;
  if (s->nargs != 1) return cfail(c, "'%s' takes one expression", nopnames[s->op]);
  v = cexpr(c, s->arg[0], -1);
  contig = s->how == CJ_HOW_I && c->k->domain == CJ_DOM_NEURONS;
  if (s->op == CJ_N_SET) emit(c, contig ? I_STOREC : I_STOREX, s->slot, v, s->how, c->mask);
  else emit(c, contig ? I_ADDC : I_ADDX, s->slot, v, s->how, c->mask);
  c->use[s->slot].writes++;
  c->p->writes[s->slot] = 1;
  c->p->sp = save;
  return c->p->err;
}

static int cif(comp *c, const cj_node *s)
{
  int save = c->p->sp, outer = c->mask, cond, m, j;
  if (s->nargs != 1) return cfail(c, "'if' takes one condition");
  cond = cexpr(c, s->arg[0], -1);
  m = newreg(c);
  for (int b = 0; b < 2; b++) {
    if (s->nbody[b] == 0) continue;
    emit(c, b ? I_MANDN : I_MAND, m, cond, outer, 0);
    j = emit(c, I_JNONE, 0, m, 0, 0);
    c->mask = m;
    cstmts(c, s->body[b], s->nbody[b]);
    c->mask = outer;
    if (!c->p->err) c->p->code[j].b = (uint16_t)c->p->ncode;
  }
  c->p->sp = save;
  return c->p->err;
}

static int cstmts(comp *c, cj_node *const *list, int n)
{
  for (int i = 0; i < n && !c->p->err; i++) {
    const cj_node *s = list[i];
    if (!s) return cfail(c, "missing statement");
    switch (s->op) {
    case CJ_N_LET: {
      int save = c->p->sp, v;
      if (s->k < 0 || s->k >= c->p->ntmp) return cfail(c, "temporary %d out of range (ntmp %d)", s->k, c->p->ntmp);
      if (s->nargs != 1) return cfail(c, "'let' takes one expression");
      if (c->mask == (int)NOREG) {
        v = cexpr(c, s->arg[0], s->k);
        if (v != s->k) emit(c, I_MOV, s->k, v, 0, 0);
      } else {
        v = cexpr(c, s->arg[0], -1);
        emit(c, I_BLEND, s->k, v, c->mask, 0);
      }
      c->p->sp = save;
      break;
    }
    case CJ_N_SET: case CJ_N_ADDTO: cstore(c, s); break;
    case CJ_N_IF: cif(c, s); break;
    default: return cfail(c, "'%s' is not a statement", cj_nop_name(s->op));
    }
  }
  return c->p->err;
}

/* Block execution is exact unless a slot written through pre/post (not
 * one-to-one with the elements) is touched by more than that one write, or a
 * slot is written and also accessed through a different element selector. */
static int blocksafe(const comp *c)
{
  for (int r = 0; r < c->k->nrefs; r++) {
    const slotuse *u = &c->use[r];
    if (!u->writes) continue;
    if (u->hows & (u->hows - 1)) return 0;
    if ((u->hows & ((1 << CJ_HOW_PRE) | (1 << CJ_HOW_POST))) && (u->writes > 1 || u->reads))
      return 0;
  }
  return 1;
}

static int checkdef(comp *c)
{
  const cj_kdef *k = c->k;
  if (k->domain < 0 || k->domain >= CJ_NDOM) return cfail(c, "unknown domain %d", k->domain);
  if (k->kind == CJ_KK_THRESHOLD && k->domain != CJ_DOM_NEURONS)
    return cfail(c, "threshold kernels must have domain 'neurons'");
  if (k->kind == CJ_KK_SUM && k->domain != CJ_DOM_SYNAPSES)
    return cfail(c, "sum kernels must have domain 'synapses'");
  if (k->kind < 0 || k->kind > CJ_KK_SUM) return cfail(c, "unknown kind %d", k->kind);
  if (k->ntmp < 0 || k->ntmp > 4096) return cfail(c, "ntmp %d out of range", k->ntmp);
  if (k->nrefs < 0 || (k->nrefs && !k->refs)) return cfail(c, "bad refs");
  if ((k->domain == CJ_DOM_SCALAR || k->domain == CJ_DOM_PAIRS) && k->ntmp < 1)
    return cfail(c, "%s kernels leave their value in tmp 0 (ntmp >= 1)", domnames[k->domain]);
  for (int r = 0; r < k->nrefs; r++) {
    if (k->refs[r].owner != CJ_OWNER_POP && k->refs[r].owner != CJ_OWNER_PROJ)
      return cfail(c, "ref %d: owner must be pop or proj", r + 1);
    for (int q = 0; q < r; q++)
      if (k->refs[q].owner == k->refs[r].owner && k->refs[q].id == k->refs[r].id &&
          k->refs[q].var == k->refs[r].var)
        return cfail(c, "ref %d names the same variable as an earlier ref", r + 1);
  }
  return 0;
}

static int compile(comp *c)
{
  cj_prog *p = c->p;
  const cj_kdef *k = c->k;
  if (checkdef(c)) return p->err;
  p->sp = p->nregs = k->ntmp;
  for (int i = 0; i < k->nbody && k->body; i++) prescan(c, k->body[i], 0);
  prescan(c, k->cond, 0);
  prescan(c, k->value, 0);
  if (p->err) return p->err;
  cstmts(c, k->body, k->nbody);
  if (k->kind == CJ_KK_THRESHOLD) {
    int r = cexpr(c, k->cond, -1);
    p->usehow[CJ_HOW_I] = 1;
    emit(c, I_THRESH, 0, r, 0, 0);
  } else if (k->kind == CJ_KK_SUM) {
    int r;
    if (k->nrefs < 1 || k->refs[0].owner != CJ_OWNER_POP)
      return cfail(c, "sum kernels accumulate into slot 0, a neuron variable");
    if (checkvar(c, 0, CJ_HOW_POST)) return p->err;
    r = cexpr(c, k->value, -1);
    emit(c, I_ADDX, 0, r, CJ_HOW_POST, NOREG);
    c->use[0].writes++;
    p->writes[0] = 1;
  } else if (k->domain == CJ_DOM_SCALAR) {
    emit(c, I_RESULT, 0, 0, 0, 0);
  } else if (k->domain == CJ_DOM_PAIRS) {
    emit(c, I_RESULTV, 0, 0, 0, 0);
  }
  emit(c, I_END, 0, 0, 0, 0);
  if (insyn(c)) p->usehow[CJ_HOW_S] = 1;
  if (k->domain == CJ_DOM_NEURONS || k->domain == CJ_DOM_SPIKES) p->usehow[CJ_HOW_I] = 1;
  return p->err;
}

static void fill(double *d, double v)
{
  for (int l = 0; l < LANES; l++) d[l] = v;
}

static int allocregs(cj_prog *p)
{
  size_t nr = (size_t)(p->nregs ? p->nregs : 1);
  if (!(p->rawregs = cj_malloc(nr * LANES * sizeof(double) + 64)))
    return cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  p->regs = (double *)(((uintptr_t)p->rawregs + 63) & ~(uintptr_t)63);   /* vector aligned */
  memset(p->regs, 0, nr * LANES * sizeof(double));
  for (int i = 0; i < p->nconst; i++)           /* constant registers are never written */
    fill(p->regs + (size_t)p->consts[i].reg * LANES, p->consts[i].v);
  for (int h = 0; h < CJ_NHOW; h++)
    if (p->usehow[h] && !(p->ix[h] = cj_calloc(LANES, sizeof(int64_t))))
      return cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  return 0;
}

int cj_prog_compile(const cj_kdef *k, cj_prog **out)
{
  cj_prog *p = cj_calloc(1, sizeof *p);
  comp c = { p, k, NULL, NOREG };
  int st;
  *out = NULL;
  if (!p) return cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  snprintf(p->name, sizeof p->name, "%s", k->name ? k->name : "?");
  p->domain = k->domain; p->kind = k->kind; p->nrefs = k->nrefs; p->ntmp = k->ntmp;
  p->reg_t = p->reg_dt = p->reg_n = NOREG;
  c.use = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), sizeof *c.use);
  p->writes = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), 1);
  if (!c.use || !p->writes) st = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  else st = compile(&c);
  if (!st) {
    p->blocked = blocksafe(&c) ? LANES : 1;
    st = allocregs(p);
  }
  if (!st && !(p->hows = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), 1)))
    st = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  for (int r = 0; !st && r < k->nrefs; r++) p->hows[r] = (unsigned char)c.use[r].hows;
  cj_free(c.use);
  if (st) { cj_prog_free(p); return st; }
  *out = p;
  return 0;
}

void cj_prog_free(cj_prog *p)
{
  if (!p) return;
  cj_free(p->code);
  cj_free(p->consts);
  cj_free(p->writes);
  cj_free(p->hows);
  cj_free(p->rawregs);
  for (int h = 0; h < CJ_NHOW; h++) cj_free(p->ix[h]);
  cj_free(p);
}

int cj_prog_writes(const cj_prog *p, int r) { return r >= 0 && r < p->nrefs && p->writes[r]; }
int cj_prog_blocked(const cj_prog *p) { return p->blocked > 1; }
int cj_prog_slothows(const cj_prog *p, int r) { return r >= 0 && r < p->nrefs ? p->hows[r] : 0; }
int cj_prog_useshow(const cj_prog *p, int how) { return how >= 0 && how < CJ_NHOW && p->usehow[how]; }
void cj_prog_set_single(cj_prog *p, int single) { p->single = single != 0; }

size_t cj_prog_size(const cj_prog *p)
{
  return sizeof *p + (size_t)p->capcode * sizeof(ins) + (size_t)p->capconst * sizeof(cst) +
         (size_t)(p->nregs ? p->nregs : 1) * LANES * sizeof(double) + CJ_NHOW * LANES * sizeof(int64_t);
}

/* ---- execution ---------------------------------------------------------- */
/* Vectors of the machine's native width for this build (SSE2 on plain
 * x86-64: wider types would be split and spilled). */
#if defined(__AVX__)
#define VW 4
#else
#define VW 2
#endif
typedef double v4d __attribute__((vector_size(8 * VW), may_alias));
typedef int64_t v4i __attribute__((vector_size(8 * VW), may_alias));

#define R(x) (p->regs + (size_t)(x) * LANES)
#define V(x) ((v4d *)R(x))

/* A comparison mask (all ones / zero per lane) as 1.0 / 0.0: the bits of 1.0 or +0. */
#define tobool(m) ((v4d)((m) & ONEBITS))
#define ONEBITS 0x3FF0000000000000LL

static double call1(int fn, double x)
{
  switch (fn) {
  case CJ_F_EXP: return exp(x);
  case CJ_F_LOG: return log(x);
  case CJ_F_LOG1P: return log1p(x);
  case CJ_F_EXPM1: return expm1(x);
  case CJ_F_SQRT: return sqrt(x);
  case CJ_F_ABS: return fabs(x);
  case CJ_F_SIN: return sin(x);
  case CJ_F_COS: return cos(x);
  case CJ_F_TAN: return tan(x);
  case CJ_F_TANH: return tanh(x);
  case CJ_F_FLOOR: return floor(x);
  case CJ_F_CEIL: return ceil(x);
  case CJ_F_SIGN: return cj_sign(x);
  case CJ_F_SIGMOID: return cj_sigmoid(x);
  case CJ_F_ATAN: return atan(x);
  default: return cj_heaviside(x);
  }
}

/* Element indices of a block [base, base+m): ix[how][l]. */
static void setindex(cj_prog *p, const cj_kctx *c, int64_t base, int m)
{
  int64_t *ie = p->ix[p->domain == CJ_DOM_NEURONS || p->domain == CJ_DOM_SPIKES || p->domain == CJ_DOM_SCALAR ? CJ_HOW_I : CJ_HOW_S];
  switch (p->domain) {
  case CJ_DOM_NEURONS: case CJ_DOM_SYNAPSES: case CJ_DOM_PAIRS:
    for (int l = 0; l < m; l++) ie[l] = base + l;
    break;
  case CJ_DOM_SPIKES: case CJ_DOM_EVENTS:
    memcpy(ie, c->list + base, (size_t)m * sizeof *ie);
    break;
  default:
    for (int h = 0; h < CJ_NHOW; h++) if (p->ix[h]) p->ix[h][0] = 0;
    return;
  }
  if (p->domain != CJ_DOM_NEURONS && p->domain != CJ_DOM_SPIKES) {
    if (p->ix[CJ_HOW_PRE]) for (int l = 0; l < m; l++) p->ix[CJ_HOW_PRE][l] = c->pre[ie[l]];
    if (p->ix[CJ_HOW_POST]) for (int l = 0; l < m; l++) p->ix[CJ_HOW_POST][l] = c->post[ie[l]];
  }
}

static int anyset(const double *m, int n)
{
  for (int l = 0; l < n; l++) if (m[l] != 0.0) return 1;
  return 0;
}

/* Stores and read-modify-writes into float variables (single precision):
 * the sum is formed in double and rounded once, as the generated C's
 * `v[i] = (float)((double)v[i] + x)` does. */
static void storef(cj_prog *p, const cj_kctx *c, const ins *in, int64_t base, int m)
{
  const double *a = R(in->a), *k = in->c == NOREG ? NULL : R(in->c);
  const int contig = in->op == I_STOREC || in->op == I_ADDC;
  const int add = in->op == I_ADDC || in->op == I_ADDX;
  float *dst = (float *)c->var[in->d] + (contig ? base : 0);
  const int64_t *ix = contig ? NULL : p->ix[in->b];
  for (int l = 0; l < m; l++) {
    if (k && k[l] == 0.0) continue;
    float *e = contig ? &dst[l] : &dst[ix[l]];
    *e = add ? (float)((double)*e + a[l]) : (float)a[l];
  }
}

/* One block: m live lanes (nv vectors of VW) starting at element base. */
static void block(cj_prog *p, const cj_kctx *c, int64_t base, int m, int64_t *ns)
{
  const int nv = (m + VW - 1) / VW;
  const ins *code = p->code;
  const int64_t *ii = p->ix[CJ_HOW_I];
  const int contig = p->domain == CJ_DOM_NEURONS, sgl = p->single;
  for (int pc = 0;; pc++) {
    const ins *in = &code[pc];
    double *d = R(in->d);
    v4d *vd = V(in->d), *va = V(in->a), *vb = V(in->b);
    switch (in->op) {
    case I_END: return;
    case I_LOADC:
      if (sgl) { const float *src = (const float *)c->var[in->a] + base; for (int l = 0; l < m; l++) d[l] = (double)src[l]; }
      else memcpy(d, (const double *)c->var[in->a] + base, (size_t)m * sizeof *d);
      break;
    case I_LOADX: {
      const int64_t *ix = p->ix[in->b];
      if (sgl) { const float *src = c->var[in->a]; for (int l = 0; l < m; l++) d[l] = (double)src[ix[l]]; }
      else { const double *src = c->var[in->a]; for (int l = 0; l < m; l++) d[l] = src[ix[l]]; }
      break;
    }
    case I_LS:
      if (contig) memcpy(d, c->lastspike + base, (size_t)m * sizeof *d);
      else for (int l = 0; l < m; l++) d[l] = c->lastspike[ii[l]];
      break;
    case I_NOTREF: {
      const double t = c->t, rb = c->refractory, *ls = c->lastspike + (contig ? base : 0);
      if (contig) for (int l = 0; l < m; l++) d[l] = t - ls[l] >= rb ? 1.0 : 0.0;
      else for (int l = 0; l < m; l++) d[l] = t - ls[ii[l]] >= rb ? 1.0 : 0.0;
      break;
    }
    case I_IDX: { const int64_t *ix = p->ix[in->a]; for (int l = 0; l < m; l++) d[l] = (double)ix[l]; break; }
    case I_RAND: {
      const int64_t *ie = p->ix[p->domain == CJ_DOM_NEURONS || p->domain == CJ_DOM_SPIKES || p->domain == CJ_DOM_SCALAR ? CJ_HOW_I : CJ_HOW_S];
      for (int l = 0; l < m; l++)
        d[l] = in->b ? cj_knormal(c->key, c->kid, c->step, ie[l], in->a)
                     : cj_kuniform(c->key, c->kid, c->step, ie[l], in->a);
      break;
    }
    case I_ADD: for (int v = 0; v < nv; v++) vd[v] = va[v] + vb[v]; break;
    case I_SUB: for (int v = 0; v < nv; v++) vd[v] = va[v] - vb[v]; break;
    case I_MUL: for (int v = 0; v < nv; v++) vd[v] = va[v] * vb[v]; break;
    case I_DIV: for (int v = 0; v < nv; v++) vd[v] = va[v] / vb[v]; break;
    case I_NEG: for (int v = 0; v < nv; v++) vd[v] = -va[v]; break;
    case I_POW: { const double *a = R(in->a), *b = R(in->b); for (int l = 0; l < m; l++) d[l] = pow(a[l], b[l]); break; }
    case I_LT: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] < vb[v]); break;
    case I_LE: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] <= vb[v]); break;
    case I_GT: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] > vb[v]); break;
    case I_GE: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] >= vb[v]); break;
    case I_EQ: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] == vb[v]); break;
    case I_NE: for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] != vb[v]); break;
    case I_AND: {
      const v4d z = { 0 };
      for (int v = 0; v < nv; v++) vd[v] = tobool((va[v] != z) & (vb[v] != z));
      break;
    }
    case I_OR: {
      const v4d z = { 0 };
      for (int v = 0; v < nv; v++) vd[v] = tobool((va[v] != z) | (vb[v] != z));
      break;
    }
    case I_NOT: { const v4d z = { 0 }; for (int v = 0; v < nv; v++) vd[v] = tobool(va[v] == z); break; }
    case I_SEL: {   /* d = c != 0 ? a : b */
      const v4d z = { 0 };
      v4d *vc = V(in->c);
      for (int v = 0; v < nv; v++) {
        v4i k = vc[v] != z;
        vd[v] = (v4d)(((v4i)va[v] & k) | ((v4i)vb[v] & ~k));
      }
      break;
    }
    case I_F1: { const double *a = R(in->a); for (int l = 0; l < m; l++) d[l] = call1(in->c, a[l]); break; }
    case I_F2: {
      const double *a = R(in->a), *b = R(in->b);
      if (in->c == CJ_F_POW) for (int l = 0; l < m; l++) d[l] = pow(a[l], b[l]);
      else if (in->c == CJ_F_ATAN2) for (int l = 0; l < m; l++) d[l] = atan2(a[l], b[l]);
      else if (in->c == CJ_F_MIN) for (int l = 0; l < m; l++) d[l] = cj_min(a[l], b[l]);
      else for (int l = 0; l < m; l++) d[l] = cj_max(a[l], b[l]);
      break;
    }
    case I_CLIP: {
      const double *a = R(in->a), *b = R(in->b), *x = R(in->c);
      for (int l = 0; l < m; l++) d[l] = cj_clip(a[l], b[l], x[l]);
      break;
    }
    case I_MOV: memcpy(d, R(in->a), (size_t)nv * VW * sizeof *d); break;
    case I_BLEND: {
      const double *a = R(in->a), *k = R(in->b);
      for (int l = 0; l < m; l++) if (k[l] != 0.0) d[l] = a[l];
      break;
    }
    case I_STOREC: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = (double *)c->var[in->d] + base;
      const double *a = R(in->a);
      if (in->c == NOREG) memcpy(dst, a, (size_t)m * sizeof *dst);
      else { const double *k = R(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[l] = a[l]; }
      break;
    }
    case I_STOREX: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = c->var[in->d];
      const double *a = R(in->a);
      const int64_t *ix = p->ix[in->b];
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[ix[l]] = a[l];
      else { const double *k = R(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[ix[l]] = a[l]; }
      break;
    }
    case I_ADDC: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = (double *)c->var[in->d] + base;
      const double *a = R(in->a);
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[l] += a[l];
      else { const double *k = R(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[l] += a[l]; }
      break;
    }
    case I_ADDX: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = c->var[in->d];
      const double *a = R(in->a);
      const int64_t *ix = p->ix[in->b];
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[ix[l]] += a[l];
      else { const double *k = R(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[ix[l]] += a[l]; }
      break;
    }
    case I_MAND: case I_MANDN: {
      const double *a = R(in->a);
      const int neg = in->op == I_MANDN;
      if (in->b == NOREG) for (int l = 0; l < m; l++) d[l] = ((a[l] != 0.0) != neg) ? 1.0 : 0.0;
      else {
        const double *k = R(in->b);
        for (int l = 0; l < m; l++) d[l] = (k[l] != 0.0 && ((a[l] != 0.0) != neg)) ? 1.0 : 0.0;
      }
      break;
    }
    case I_JNONE: if (!anyset(R(in->a), m)) pc = in->b - 1; break;
    case I_THRESH: {   /* neurons domain: element l is neuron base + l */
      const double *a = R(in->a), *ls = c->lastspike + base, t = c->t, rb = c->refractory;
      for (int l = 0; l < m; l++)
        if (a[l] != 0.0 && t - ls[l] >= rb) c->spikes[(*ns)++] = base + l;
      break;
    }
    case I_RESULT: *c->result = R(0)[0]; break;
    case I_RESULTV: memcpy(c->result + base, R(0), (size_t)m * sizeof *d); break;
    }
  }
}

void cj_prog_run(cj_prog *p, const cj_kctx *c)
{
  int64_t n = p->domain == CJ_DOM_SCALAR ? 1 : c->n, ns = 0;
  int bs = p->blocked;
  if (p->reg_t != (int)NOREG) fill(R(p->reg_t), c->t);
  if (p->reg_dt != (int)NOREG) fill(R(p->reg_dt), c->dt);
  if (p->reg_n != (int)NOREG) fill(R(p->reg_n), (double)c->npop);
  if (p->kind == CJ_KK_THRESHOLD) ns = *c->nspikes;
  for (int64_t base = 0; base < n; base += bs) {
    int m = n - base < bs ? (int)(n - base) : bs;
    if (p->domain != CJ_DOM_NEURONS || p->needix) setindex(p, c, base, m);
    block(p, c, base, m, &ns);
  }
  if (p->kind == CJ_KK_THRESHOLD) *c->nspikes = ns;
}
