/*
 * kcompile.c — reading and compiling IR kernels (see interp.h): the names
 * of the IR's operators and functions, the tree arena, the S-expression
 * reader of kernel text (tests and the C API), and the compiler of a kernel
 * tree into the register bytecode of kprog.h that interp.c executes.
 *
 * The compiler checks every written slot and falls back to blocks of one
 * element when a write through pre/post could meet another access of the
 * same array (IR.md §2); otherwise one instruction processes a block of
 * LANES elements before the next runs.
 */
#include "kprog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

/* ---- names ------------------------------------------------------------ */
static const char *const nopnames[CJ_NNODE] = {
  "num", "tmp", "var", "t", "dt", "i", "j", "n", "notref", "lastspike", "rand",
  "+", "-", "*", "/", "neg", "pow", "<", "<=", ">", ">=", "==", "~=",
  "and", "or", "not", "ifelse", "call", "let", "set", "add", "if"
};
#define FUNCNAME(E, n, a, C) #n,
#define FUNCCNAME(E, n, a, C) #C,
#define FUNCARITY(E, n, a, C) a,
static const char *const funcnames[CJ_NFUNC] = { CJ_KFUNCS(FUNCNAME) };
static const char *const funccnames[CJ_NFUNC] = { CJ_KFUNCS(FUNCCNAME) };
static const signed char funcarity[CJ_NFUNC] = { CJ_KFUNCS(FUNCARITY) };
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

int cj_func_arity(int f) { return (unsigned)f < CJ_NFUNC ? funcarity[f] : -1; }
const char *cj_func_cname(int f) { return (unsigned)f < CJ_NFUNC ? funccnames[f] : "?"; }

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

/* ---- the compiler -------------------------------------------------------- */
typedef struct slotuse { int reads, writes, hows; } slotuse;

typedef struct comp {
  cj_prog *p;
  const cj_kdef *k;
  slotuse *use;
  int mask;                    /* current mask register or NOREG */
  cj_ktree *rt;                /* nodes of the rewritten body (rewrite()) */
  cj_node **inl;               /* per tmp: the expression it stands for, or NULL */
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
  p->code[p->ncode] = (ins){ (uint16_t)op, (uint16_t)d, (uint16_t)a, (uint16_t)b, (uint16_t)x, NOREG, NOREG, NOREG };
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

static int fused(comp *c, const cj_node *e, int dest);
static int fused1(comp *c, const cj_node *e, int dest);

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
  if ((d = fused(c, e, dest)) >= 0) return d;
  if ((d = fused1(c, e, dest)) >= 0) return d;
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
    else if (n == 3) emit(c, I_CLIP, d, r[0], r[1], r[2]);   /* clip, the one of three */
    else emit(c, I_F2, d, r[0], r[1], e->fn);
    break;
  default: emit(c, binop[e->op], d, r[0], r[1], 0);
  }
  return d;
}

/* ---- superinstructions ----------------------------------------------------
 * A binary operator with a uniform operand (a constant, t, dt or n: one
 * value in every lane) reads it as a scalar; k * x + y and k * x + K are one
 * instruction; a variable read at the neuron itself is an operand of + - *
 * / (k * v included), of negation, of k * x + y and of ifelse without a
 * register of its own.
 * Each still rounds after every operation of the tree, in the tree's order
 * (addition and multiplication commute exactly in IEEE arithmetic; a
 * comparison k < x is x > k). */
static int uniform(const cj_node *e)
{
  return e && (e->op == CJ_N_NUM || e->op == CJ_N_T || e->op == CJ_N_DT || e->op == CJ_N_N);
}

/* A variable read at the element itself in a neurons kernel: loaded straight. */
static int contigvar(const comp *c, const cj_node *e)
{
  return e && e->op == CJ_N_VAR && e->how == CJ_HOW_I && c->k->domain == CJ_DOM_NEURONS &&
         e->slot >= 0 && e->slot < c->k->nrefs;
}

/* (* K x) with x not uniform: 1, *k the K node, *x the other. */
static int kproduct(const cj_node *e, const cj_node **k, const cj_node **x)
{
  if (!e || e->op != CJ_N_MUL || e->nargs != 2) return 0;
  if (uniform(e->arg[0]) && !uniform(e->arg[1])) { *k = e->arg[0]; *x = e->arg[1]; return 1; }
  if (uniform(e->arg[1]) && !uniform(e->arg[0])) { *k = e->arg[1]; *x = e->arg[0]; return 1; }
  return 0;
}

/* (neg x) */
static int isneg(const cj_node *e) { return e && e->op == CJ_N_NEG && e->nargs == 1 && e->arg[0]; }

/* (* V x) or (* x V), V a variable read straight and x not uniform (K * V
 * has forms of its own): 1, *v the variable, *x the other. */
static int vproduct(const comp *c, const cj_node *e, const cj_node **v, const cj_node **x)
{
  if (!e || e->op != CJ_N_MUL || e->nargs != 2 || uniform(e->arg[0]) || uniform(e->arg[1])) return 0;
  if (contigvar(c, e->arg[0])) { *v = e->arg[0]; *x = e->arg[1]; return 1; }
  if (contigvar(c, e->arg[1])) { *v = e->arg[1]; *x = e->arg[0]; return 1; }
  return 0;
}

/* The same comparison with its operands exchanged: K op x is x op' K. */
static int mirror(int op)
{
  switch (op) {
  case I_LTK: return I_GTK;
  case I_LEK: return I_GEK;
  case I_GTK: return I_LTK;
  case I_GEK: return I_LEK;
  default: return op;   /* ==, ~= */
  }
}

/* Take x, a contigvar, as a straight operand: its slot (checked, counted). */
static int varslot(comp *c, const cj_node *x)
{
  if (checkvar(c, x->slot, x->how)) return -1;
  c->use[x->slot].reads++;
  return x->slot;
}

/* The VB_* of a binary arithmetic node with its variable operand on the
 * left (vleft) or the right; -1 when op is not + - * /. */
static int vbop(int op, int vleft)
{
  switch (op) {
  case CJ_N_ADD: return vleft ? VB_VADD : VB_RADD;
  case CJ_N_SUB: return vleft ? VB_VSUB : VB_RSUB;
  case CJ_N_MUL: return vleft ? VB_VMUL : VB_RMUL;
  case CJ_N_DIV: return vleft ? VB_VDIV : VB_RDIV;
  default: return -1;
  }
}

/* (- t lastspike): the time since the neuron's last spike */
static int sincelast(const cj_node *e)
{
  return e && e->op == CJ_N_SUB && e->nargs == 2 && e->arg[0] && e->arg[0]->op == CJ_N_T &&
         e->arg[1] && e->arg[1]->op == CJ_N_LASTSPIKE;
}

/* Unary and three-operand superinstructions: -v and ifelse(x, a, v) read v
 * straight from the variable, ifelse(notref, a, b) in one pass; -1 when
 * none fits. */
static int fused1(comp *c, const cj_node *e, int dest)
{
  int save = c->p->sp, d, r, ra, rb;
  if (e->op == CJ_N_NEG && e->nargs == 1 && contigvar(c, e->arg[0])) {
    if ((r = varslot(c, e->arg[0])) < 0) return 0;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, I_NEGV, d, r, 0, 0);
    return d;
  }
  if (e->op == CJ_N_IFELSE && e->nargs == 3 && e->arg[0] && e->arg[0]->op == CJ_N_NOTREF &&
      c->k->domain == CJ_DOM_NEURONS) {
    c->p->usehow[CJ_HOW_I] = 1;
    ra = cexpr(c, e->arg[1], -1);
    rb = cexpr(c, e->arg[2], -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, I_SELNR, d, ra, rb, 0);
    return d;
  }
  if (e->op == CJ_N_IFELSE && e->nargs == 3 && contigvar(c, e->arg[2]) && e->arg[0] &&
      e->arg[0]->op == CJ_N_LT && e->arg[0]->nargs == 2 && sincelast(e->arg[0]->arg[0]) &&
      uniform(e->arg[0]->arg[1])) {          /* ifelse(t - lastspike < K, a, v) */
    if ((r = varslot(c, e->arg[2])) < 0) return 0;
    c->p->usehow[CJ_HOW_I] = 1;
    rb = cexpr(c, e->arg[0]->arg[1], -1);
    ra = cexpr(c, e->arg[1], -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, I_SELVREF, d, ra, r, rb);
    return d;
  }
  if (e->op == CJ_N_IFELSE && e->nargs == 3 && contigvar(c, e->arg[2])) {   /* ifelse(x, a, v) */
    if ((r = varslot(c, e->arg[2])) < 0) return 0;
    rb = cexpr(c, e->arg[0], -1);
    ra = cexpr(c, e->arg[1], -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, I_SELV, d, ra, r, rb);
    return d;
  }
  return -1;
}

/* Compile e as a superinstruction into dest (or a new register) when one
 * fits; -1 when none does (nothing emitted). */
static int fused(comp *c, const cj_node *e, int dest)
{
  static const unsigned char kop[] = {
    [CJ_N_ADD] = I_ADDK, [CJ_N_SUB] = I_SUBK, [CJ_N_MUL] = I_MULK, [CJ_N_DIV] = I_DIVK,
    [CJ_N_LT] = I_LTK, [CJ_N_LE] = I_LEK, [CJ_N_GT] = I_GTK, [CJ_N_GE] = I_GEK,
    [CJ_N_EQ] = I_EQK, [CJ_N_NE] = I_NEK };
  const cj_node *k, *x, *a, *b, *v;
  int save = c->p->sp, rk, rx, ry, d, op;
  if (e->nargs != 2 || e->op > CJ_N_NE || e->op == CJ_N_POW || !kop[e->op]) return -1;
  a = e->arg[0]; b = e->arg[1];
  if (!a || !b || (uniform(a) && uniform(b))) return -1;
  if (e->op >= CJ_N_LT && e->op <= CJ_N_NE && c->k->domain == CJ_DOM_NEURONS &&
      ((uniform(b) && sincelast(a)) || (uniform(a) && sincelast(b)))) {   /* t - lastspike < K */
    int left = uniform(b);
    c->p->usehow[CJ_HOW_I] = 1;
    rk = cexpr(c, left ? b : a, -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, I_SINCEK, d, 0, rk, left ? kop[e->op] : mirror(kop[e->op]));
    return d;
  }
  if (e->op == CJ_N_ADD) {                   /* K * x + y, y + K * x, K * x + K2 */
    const cj_node *y = NULL, *k2, *x2;
    if (kproduct(a, &k, &x) && kproduct(b, &k2, &x2)) {   /* K * x + K2 * y: a variable y read straight */
      const int swap = !contigvar(c, x2) && contigvar(c, x);   /* + commutes exactly */
      const cj_node *xa = swap ? x2 : x, *ka = swap ? k2 : k, *xb = swap ? x : x2, *kb = swap ? k : k2;
      const int yv = contigvar(c, xb);
      int rb = yv ? varslot(c, xb) : cexpr(c, xb, -1), rk2;
      if (rb < 0) return 0;
      rx = cexpr(c, xa, -1);
      rk = cexpr(c, ka, -1);
      rk2 = cexpr(c, kb, -1);
      c->p->sp = save;
      d = dest >= 0 ? dest : newreg(c);
      op = emit(c, yv ? I_MULK2V : I_MULK2, d, rx, rb, rk);
      if (op >= 0) c->p->code[op].k = (uint16_t)rk2;
      return d;
    }
    if (kproduct(a, &k, &x)) y = b;
    else if (kproduct(b, &k, &x)) y = a;
    if (y && contigvar(c, x) && contigvar(c, y)) {   /* K * v + w: both read straight */
      int rv = varslot(c, x), rw = varslot(c, y);
      if (rv < 0 || rw < 0) return 0;
      rk = cexpr(c, k, -1);
      c->p->sp = save;
      d = dest >= 0 ? dest : newreg(c);
      emit(c, I_MULKVV, d, rv, rw, rk);
      return d;
    }
    if (y && !uniform(y) && (contigvar(c, x) || contigvar(c, y))) {   /* a variable read straight */
      int xv = contigvar(c, x);
      int rv = varslot(c, xv ? x : y);
      if (rv < 0) return 0;
      rx = xv ? rv : cexpr(c, x, -1);
      rk = cexpr(c, k, -1);
      ry = xv ? cexpr(c, y, -1) : rv;
      c->p->sp = save;
      d = dest >= 0 ? dest : newreg(c);
      emit(c, xv ? I_MULKVADD : I_MULKADDV, d, rx, ry, rk);
      return d;
    }
    if (y) {
      rx = cexpr(c, x, -1);
      rk = cexpr(c, k, -1);
      ry = cexpr(c, y, -1);
      c->p->sp = save;
      d = dest >= 0 ? dest : newreg(c);
      emit(c, uniform(y) ? I_MULKADDK : I_MULKADD, d, rx, ry, rk);
      return d;
    }
  }
  if ((e->op == CJ_N_ADD || e->op == CJ_N_SUB) && (vproduct(c, a, &v, &x) || vproduct(c, b, &v, &x))) {
    const int pl = vproduct(c, a, &v, &x), neg = isneg(x);   /* V * x + y, y + V * x, V * x - y, y - V * x */
    int rv = varslot(c, v), form = (neg ? VM_NEG : 0) | (e->op == CJ_N_SUB ? VM_SUB | (pl ? 0 : VM_LEFT) : 0);
    if (rv < 0) return 0;
    rx = cexpr(c, neg ? x->arg[0] : x, -1);
    ry = cexpr(c, pl ? b : a, -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    op = emit(c, I_VMADD, d, rv, rx, ry);
    if (op >= 0) c->p->code[op].k = (uint16_t)form;
    return d;
  }
  if (e->op <= CJ_N_DIV && (contigvar(c, a) || contigvar(c, b))) {   /* V op x, x op V: x a K or a register */
    const int vleft = contigvar(c, a);
    const cj_node *o = vleft ? b : a;
    int rv = varslot(c, vleft ? a : b);
    const int neg = e->op == CJ_N_MUL && o->op == CJ_N_NEG && o->nargs == 1;   /* V * -x */
    if (rv < 0) return 0;
    ry = cexpr(c, neg ? o->arg[0] : o, -1);
    c->p->sp = save;
    d = dest >= 0 ? dest : newreg(c);
    emit(c, uniform(o) ? I_VK : I_VBIN, d, rv, ry, neg ? VB_NMUL : vbop(e->op, vleft));
    return d;
  }
  if (uniform(b)) { x = a; k = b; op = kop[e->op]; }
  else if (uniform(a)) {
    x = b; k = a;
    op = e->op == CJ_N_SUB ? I_KSUB : e->op == CJ_N_DIV ? I_KDIV : mirror(kop[e->op]);
  } else return -1;
  rx = cexpr(c, x, -1);
  rk = cexpr(c, k, -1);
  c->p->sp = save;
  d = dest >= 0 ? dest : newreg(c);
  emit(c, op, d, rx, rk, 0);
  return d;
}

/* Ops whose result may go straight to a variable (ins.v): those that write
 * their register through KLOOP or KVLOOP (kblock.h). */
static int dvarok(int op)
{
  return (op >= I_ADD && op <= I_NEG) || (op >= I_LT && op <= I_NOT) ||
         (op >= I_ADDK && op <= I_MULKADDK) || (op >= I_VBIN && op <= I_MULKADDV) || op >= I_MULKVV;
}

/* The value of a `set` at the neuron itself, computed into the scratch
 * register r by the last instruction emitted (at n0 or later): that
 * instruction writes the variable instead, and no store is needed. With
 * e != NOREG the set is ifelse(notref, r, e): only an op of KLOOP can take
 * the select too (ins.e). */
static int setlast(comp *c, int n0, int r, int save, int slot, int e)
{
  cj_prog *p = c->p;
  ins *in;
  if (p->err || p->ncode <= n0 || r < save) return 0;
  in = &p->code[p->ncode - 1];
  if (in->d != r || in->v != NOREG || !dvarok(in->op)) return 0;
  if (e != (int)NOREG && !((in->op >= I_ADD && in->op <= I_NEG) || (in->op >= I_LT && in->op <= I_NOT) ||
                           (in->op >= I_ADDK && in->op <= I_MULKADDK) || in->op == I_MULK2)) return 0;
  in->v = (uint16_t)slot;
  in->e = (uint16_t)e;
  return 1;
}

/* ---- the body rewritten before it is compiled ------------------------------
 * Exact rewrites that let more of a body fit the superinstructions:
 * - a let used once, by a later let, set or add at the top level, with no
 *   statement in between writing a variable or temporary it reads, takes
 *   the place of its use: the same operations on the same values, computed
 *   there (into the variable, when that is a set: setlast());
 * - a negation folded into its consumer where IEEE arithmetic gives the
 *   same bits: (-x) + y and y + (-x) are y - x, y - (-x) is y + x (IEEE
 *   defines y - x as y + (-x)), K * (-x) is (-K) * x (the sign of a product
 *   is the exclusive or of its operands', the magnitude rounds the same),
 *   -(-x) is x, and v * (-x) is one instruction (VB_NMUL). A NaN may come
 *   out with the other sign bit: it is a NaN on both backends. */

/* Does expression e read var slot or tmp k (-1: none)? */
static int reads(const cj_node *e, int slot, int k)
{
  if (!e) return 0;
  if ((e->op == CJ_N_VAR && e->slot == slot) || (e->op == CJ_N_TMP && e->k == k)) return 1;
  for (int i = 0; i < e->nargs && i < 3; i++)
    if (reads(e->arg[i], slot, k)) return 1;
  return 0;
}

/* Could statement s change the value of expression e (writes what e reads)? */
static int clobbers(const cj_node *s, const cj_node *e)
{
  if (!s) return 1;
  switch (s->op) {
  case CJ_N_SET: case CJ_N_ADDTO: return reads(e, s->slot, -1);
  case CJ_N_LET: return reads(e, -1, s->k);
  case CJ_N_IF:
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < s->nbody[b]; i++)
        if (!s->body[b] || clobbers(s->body[b][i], e)) return 1;
    return 0;
  default: return 1;
  }
}

/* Uses and lets of each temporary (k < n) in e and below. */
static void tmpcount(const cj_node *e, int *use, int *let, int n)
{
  if (!e) return;
  if (e->op == CJ_N_TMP && e->k >= 0 && e->k < n) use[e->k]++;
  if (e->op == CJ_N_LET && e->k >= 0 && e->k < n) let[e->k]++;
  for (int i = 0; i < e->nargs && i < 3; i++) tmpcount(e->arg[i], use, let, n);
  if (e->op == CJ_N_IF)
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < e->nbody[b] && e->body[b]; i++) tmpcount(e->body[b][i], use, let, n);
}

/* May `let k x`, statement i of the top level, take the place of its one use? */
static int inlinable(cj_node *const *body, int n, int i, int k, const cj_node *x)
{
  for (int j = i + 1; j < n; j++) {
    const cj_node *s = body[j];
    if (!s) return 0;
    if (s->op != CJ_N_IF && s->nargs == 1 && reads(s->arg[0], -1, k))
      return s->op == CJ_N_LET || s->op == CJ_N_SET || s->op == CJ_N_ADDTO;
    if (clobbers(s, x)) return 0;
  }
  return 0;   /* used in an if (or not at all) */
}

static cj_node *newnode(comp *c, cj_nop op, const cj_node *from)
{
  cj_node *e = cj_ktree_node(c->rt, op);
  if (!e) { if (!c->p->err) c->p->err = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory"); return NULL; }
  if (from) *e = *from;
  return e;
}

static cj_node *binary(comp *c, cj_nop op, cj_node *a, cj_node *b)
{
  cj_node *e = newnode(c, op, NULL);
  if (e) { e->nargs = 2; e->arg[0] = a; e->arg[1] = b; }
  return e;
}

static cj_node *negnum(comp *c, const cj_node *k)
{
  cj_node *e = newnode(c, CJ_N_NUM, NULL);
  if (e) e->num = -k->num;
  return e;
}

/* e with the inlined temporaries put in and the negations folded. */
static cj_node *rewrite(comp *c, cj_node *e)
{
  cj_node *a[3] = { NULL, NULL, NULL }, *r;
  int changed = 0;
  if (!e || c->p->err) return e;
  if (e->op == CJ_N_TMP) return e->k >= 0 && e->k < c->p->ntmp && c->inl[e->k] ? c->inl[e->k] : e;
  if (e->op < CJ_N_ADD || e->op > CJ_N_CALL) return e;
  for (int i = 0; i < e->nargs && i < 3; i++) changed |= (a[i] = rewrite(c, e->arg[i])) != e->arg[i];
  if (e->nargs == 2 && a[0] && a[1]) {
    if (e->op == CJ_N_ADD && isneg(a[0])) return binary(c, CJ_N_SUB, a[1], a[0]->arg[0]);
    if (e->op == CJ_N_ADD && isneg(a[1])) return binary(c, CJ_N_SUB, a[0], a[1]->arg[0]);
    if (e->op == CJ_N_SUB && isneg(a[1])) return binary(c, CJ_N_ADD, a[0], a[1]->arg[0]);
    if (e->op == CJ_N_MUL && a[0]->op == CJ_N_NUM && isneg(a[1])) return binary(c, CJ_N_MUL, negnum(c, a[0]), a[1]->arg[0]);
    if (e->op == CJ_N_MUL && a[1]->op == CJ_N_NUM && isneg(a[0])) return binary(c, CJ_N_MUL, a[0]->arg[0], negnum(c, a[1]));
  }
  if (e->op == CJ_N_NEG && isneg(a[0])) return a[0]->arg[0];
  if (!changed || !(r = newnode(c, e->op, e))) return e;
  for (int i = 0; i < e->nargs && i < 3; i++) r->arg[i] = a[i];
  return r;
}

/* The top-level statements of the body rewritten (see above): *out, *nout. */
static int rewritebody(comp *c, cj_node *const *body, int n, cj_node ***out, int *nout)
{
  cj_prog *p = c->p;
  const int nt = p->ntmp;
  int *use = cj_calloc((size_t)nt + 1, sizeof *use), *let = cj_calloc((size_t)nt + 1, sizeof *let), m = 0;
  cj_node **list = cj_ktree_list(c->rt, n);
  if (!use || !let || !list || !(c->inl = cj_calloc((size_t)nt + 1, sizeof *c->inl))) {
    cj_free(use); cj_free(let);
    return p->err = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  }
  for (int i = 0; i < n; i++) tmpcount(body[i], use, let, nt);
  tmpcount(c->k->cond, use, let, nt);
  tmpcount(c->k->value, use, let, nt);
  for (int i = 0; i < n && !p->err; i++) {
    cj_node *s = body[i], *x;
    if (!s || s->nargs != 1 || (s->op != CJ_N_LET && s->op != CJ_N_SET && s->op != CJ_N_ADDTO)) {
      list[m++] = s;
      continue;
    }
    x = rewrite(c, s->arg[0]);
    if (s->op == CJ_N_LET && s->k >= 0 && s->k < nt && use[s->k] == 1 && let[s->k] == 1 &&
        inlinable(body, n, i, s->k, x)) {
      c->inl[s->k] = x;
      continue;
    }
    if (x != s->arg[0] && (s = newnode(c, s->op, s))) s->arg[0] = x;
    list[m++] = s;
  }
  cj_free(use); cj_free(let);
  *out = list; *nout = m;
  return p->err;
}

static int cstmts(comp *c, cj_node *const *list, int n);

static int cstore(comp *c, const cj_node *s)
{
  int save = c->p->sp, v, contig, n0;
  if (c->k->domain == CJ_DOM_PAIRS) return cfail(c, "pairs kernels cannot write state (only 'let')");
  if (checkvar(c, s->slot, s->how)) return c->p->err;
  if (s->nargs != 1) return cfail(c, "'%s' takes one expression", nopnames[s->op]);
  contig = s->how == CJ_HOW_I && c->k->domain == CJ_DOM_NEURONS;
  if (contig && s->op == CJ_N_SET && c->mask == (int)NOREG && s->arg[0] && s->arg[0]->op == CJ_N_IFELSE &&
      s->arg[0]->nargs == 3 && s->arg[0]->arg[0] && s->arg[0]->arg[0]->op == CJ_N_NOTREF) {
    int rb = cexpr(c, s->arg[0]->arg[2], -1), ra;   /* v = ifelse(notref, a, b) */
    n0 = c->p->ncode;
    ra = cexpr(c, s->arg[0]->arg[1], -1);
    c->p->usehow[CJ_HOW_I] = 1;
    if (!setlast(c, n0, ra, save, s->slot, rb)) emit(c, I_STORESELNR, s->slot, ra, rb, 0);
    c->use[s->slot].writes++;
    c->p->writes[s->slot] = 1;
    c->p->sp = save;
    return c->p->err;
  }
  n0 = c->p->ncode;
  v = cexpr(c, s->arg[0], -1);
  if (s->op == CJ_N_SET && contig && c->mask == (int)NOREG && setlast(c, n0, v, save, s->slot, NOREG)) {}
  else if (s->op == CJ_N_SET) emit(c, contig ? I_STOREC : I_STOREX, s->slot, v, s->how, c->mask);
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
  cj_node **body = NULL;
  int nbody = 0;
  if (checkdef(c)) return p->err;
  p->sp = p->nregs = k->ntmp;
  for (int i = 0; i < k->nbody && k->body; i++) prescan(c, k->body[i], 0);
  prescan(c, k->cond, 0);
  prescan(c, k->value, 0);
  if (p->err || rewritebody(c, k->body, k->nbody, &body, &nbody)) return p->err;
  for (int i = 0; i < nbody; i++) prescan(c, body[i], 0);   /* the constants of the rewrites (-K) */
  if (p->err) return p->err;
  cstmts(c, body, nbody);
  if (k->kind == CJ_KK_THRESHOLD) {
    const cj_node *e = k->cond;
    p->usehow[CJ_HOW_I] = 1;
    if (e && e->op >= CJ_N_LT && e->op <= CJ_N_NE && e->nargs == 2 &&
        ((contigvar(c, e->arg[0]) && uniform(e->arg[1])) || (uniform(e->arg[0]) && contigvar(c, e->arg[1])))) {
      /* v <op> K: compared and scanned a vector at a time, straight from v */
      static const unsigned char kop[] = { [CJ_N_LT] = I_LTK, [CJ_N_LE] = I_LEK, [CJ_N_GT] = I_GTK,
                                           [CJ_N_GE] = I_GEK, [CJ_N_EQ] = I_EQK, [CJ_N_NE] = I_NEK };
      int left = contigvar(c, e->arg[0]);
      const cj_node *v = e->arg[left ? 0 : 1];
      if (checkvar(c, v->slot, v->how)) return p->err;
      c->use[v->slot].reads++;
      int rk = cexpr(c, e->arg[left ? 1 : 0], -1);
      emit(c, I_THRESHV, 0, v->slot, rk, left ? kop[e->op] : mirror(kop[e->op]));
    } else emit(c, I_THRESH, 0, cexpr(c, e, -1), 0, 0);
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
  comp c = { p, k, NULL, NOREG, NULL, NULL };
  int st;
  *out = NULL;
  if (!p) return cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  snprintf(p->name, sizeof p->name, "%s", k->name ? k->name : "?");
  p->domain = k->domain; p->kind = k->kind; p->nrefs = k->nrefs; p->ntmp = k->ntmp;
  p->reg_t = p->reg_dt = p->reg_n = NOREG;
  c.use = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), sizeof *c.use);
  p->writes = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), 1);
  c.rt = cj_ktree_new();
  if (!c.use || !p->writes || !c.rt) st = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  else st = compile(&c);
  cj_ktree_free(c.rt);
  cj_free(c.inl);
  if (!st) {
    p->blocked = blocksafe(&c) ? LANES : 1;
    st = allocregs(p);
  }
  p->addk = -1;
  if (!st && (p->domain == CJ_DOM_EVENTS || p->domain == CJ_DOM_SYNAPSES) && p->ncode == 2 &&
      p->code[0].op == I_ADDX && p->code[0].c == NOREG && p->code[1].op == I_END &&
      (p->code[0].b == CJ_HOW_PRE || p->code[0].b == CJ_HOW_POST))
    for (int i = 0; i < p->nconst; i++)
      if (p->consts[i].reg == p->code[0].a) {
        p->addk = p->code[0].b; p->addkslot = p->code[0].d; p->addkv = p->consts[i].v;
      }
  if (!st && !(p->hows = cj_calloc((size_t)(k->nrefs > 0 ? k->nrefs : 1), 1)))
    st = cj_fail(CJ_ENOMEM, "kernel compiler: out of memory");
  for (int r = 0; !st && r < k->nrefs; r++) p->hows[r] = (unsigned char)c.use[r].hows;
  cj_free(c.use);
  if (st) { cj_prog_free(p); return st; }
  *out = p;
  return 0;
}

static void freecopy(cj_prog *q)
{
  cj_free(q->rawregs);
  for (int h = 0; h < CJ_NHOW; h++) cj_free(q->ix[h]);
  cj_free(q);
}

void cj_prog_free(cj_prog *p)
{
  if (!p) return;
  for (int t = 0; t < p->nteam; t++) freecopy(p->team[t]);
  cj_free(p->team);
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

/* ---- threads: a register file per thread -------------------------------- */
int cj_prog_reserve(cj_prog *p, int nthreads)
{
  if (nthreads - 1 <= p->nteam) return 0;
  cj_prog **team = cj_realloc(p->team, (size_t)(nthreads - 1) * sizeof *team);
  if (!team) return CJ_ENOMEM;
  p->team = team;
  while (p->nteam < nthreads - 1) {
    cj_prog *q = cj_malloc(sizeof *q);
    if (!q) return CJ_ENOMEM;
    *q = *p;                                  /* code and tables shared, read only */
    q->rawregs = NULL; q->team = NULL; q->nteam = 0;
    memset(q->ix, 0, sizeof q->ix);
    if (allocregs(q)) { freecopy(q); return CJ_ENOMEM; }
    p->team[p->nteam++] = q;
  }
  return 0;
}
