/*
 * interp.h — network kernels: the kernel ABI shared with generated C, the IR
 * tree of a kernel (vm/core/IR.md §2) and its interpreter.
 *
 * A kernel is run either by a function compiled from the C that emit.lua
 * writes (vm/core/jit.c loads it) or by the interpreter below; both receive
 * the same cj_kctx and must produce bit-identical results. The interpreter
 * compiles the tree once (cj_prog_compile) into a register bytecode that
 * works on blocks of elements at a time (one dispatch per instruction per
 * block), so it stays within a small factor of the compiled C.
 */
#ifndef CJ_INTERP_H
#define CJ_INTERP_H

#include "cj.h"

/* ---- the kernel ABI (IR.md §5) --------------------------------------------
 * Generated C declares this struct itself: cj_kernel_prelude() carries the
 * text below, copied at build time (vm/core/abi.awk -> kctx.inc; keep each
 * field on one line, comments are dropped). Any change here is an ABI
 * change: bump CJ_KERNEL_ABI. */
#define CJ_KERNEL_ABI 2

typedef struct cj_kctx {
  int64_t n;              /* elements in the domain (neurons, synapses, list entries) */
  int64_t step;           /* current step n (0xFFFFFFFF for initialisation kernels) */
  double t, dt;
  void **var;             /* var[r] = base pointer of the array of slot r: double *,
                             or float * in a single-precision network */
  const int64_t *list;    /* spikes / events: the element list */
  const int32_t *pre, *post;  /* synapse -> pre, post neuron (0-based in population) */
  const double *lastspike;    /* of the population (neurons/spikes domains) */
  double refractory;          /* comparison bound: notref = (t - lastspike[i]) >= refractory */
  uint32_t key[2];            /* philox key */
  uint32_t kid;               /* kernel id for the counter */
  void (*philox)(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
  int64_t *spikes, *nspikes;  /* threshold kernels: spikes[(*nspikes)++] = i */
  double *result;             /* scalar kernels: the value */
  int64_t npop;               /* population size (the `n` expression) */
  int64_t lo;                 /* first element: the kernel runs elements lo .. n - 1
                                 (a thread's range, threads.h); 0 otherwise. A
                                 synapses kernel with list != NULL runs the
                                 synapses list[lo .. n - 1] (a sum split by target) */
} cj_kctx;

typedef void (*cj_kfn)(const cj_kctx *c);

/* The C text every generated file starts with: includes, cj_kctx, the
 * helper functions (cj_sign, cj_uniform, ...) with exactly the arithmetic
 * of the interpreter, and `int cj_kernel_abi`. */
const char *cj_kernel_prelude(void);

enum { CJ_DOM_NEURONS, CJ_DOM_SPIKES, CJ_DOM_SYNAPSES, CJ_DOM_EVENTS, CJ_DOM_SCALAR,
       CJ_DOM_PAIRS,      /* candidate pairs of a probability rule: result[s] = tmp 0 */
       CJ_NDOM };
enum { CJ_KK_STMTS, CJ_KK_THRESHOLD, CJ_KK_SUM };
enum { CJ_HOW_I, CJ_HOW_PRE, CJ_HOW_POST, CJ_HOW_S, CJ_NHOW };
enum { CJ_OWNER_POP, CJ_OWNER_PROJ };

/* ---- the IR tree ------------------------------------------------------- */
typedef enum {
  /* leaves */
  CJ_N_NUM, CJ_N_TMP, CJ_N_VAR, CJ_N_T, CJ_N_DT, CJ_N_I, CJ_N_J, CJ_N_N,
  CJ_N_NOTREF, CJ_N_LASTSPIKE, CJ_N_RAND,
  /* operators */
  CJ_N_ADD, CJ_N_SUB, CJ_N_MUL, CJ_N_DIV, CJ_N_NEG, CJ_N_POW,
  CJ_N_LT, CJ_N_LE, CJ_N_GT, CJ_N_GE, CJ_N_EQ, CJ_N_NE,
  CJ_N_AND, CJ_N_OR, CJ_N_NOT, CJ_N_IFELSE, CJ_N_CALL,
  /* statements */
  CJ_N_LET, CJ_N_SET, CJ_N_ADDTO, CJ_N_IF,
  CJ_NNODE
} cj_nop;

/* The functions of { "call", name, ... }, one line each: X(ENUM, name,
 * nargs, C), C the function both backends call on doubles: the
 * interpreter (interp.c) and the generated C (emit.lua reads this list
 * through core.kernel_functions()). A function that is not <math.h>'s is
 * a cj_ helper of HELPERS in interp.c (pasted into the kernel prelude).
 * The language's names (which may lower to several of these) are the table
 * of stdlib/cajal/functions.lua. Adding a function: a line here (nargs 1
 * or 2; clip is the one of 3, with an instruction of its own), its helper
 * when needed, its entry in functions.lua, and a test. */
#define CJ_KFUNCS(X)                                                            \
  X(EXP, exp, 1, exp) X(LOG, log, 1, log) X(LOG1P, log1p, 1, log1p)            \
  X(EXPM1, expm1, 1, expm1) X(SQRT, sqrt, 1, sqrt) X(ABS, abs, 1, fabs)         \
  X(SIN, sin, 1, sin) X(COS, cos, 1, cos) X(TAN, tan, 1, tan)                   \
  X(TANH, tanh, 1, tanh) X(FLOOR, floor, 1, floor) X(CEIL, ceil, 1, ceil)       \
  X(SIGN, sign, 1, cj_sign) X(POW, pow, 2, pow) X(MIN, min, 2, cj_min)          \
  X(MAX, max, 2, cj_max) X(CLIP, clip, 3, cj_clip)                              \
  X(SIGMOID, sigmoid, 1, cj_sigmoid) X(HEAVISIDE, heaviside, 1, cj_heaviside)   \
  X(ATAN, atan, 1, atan) X(ATAN2, atan2, 2, atan2)
#define CJ_KFUNC_ENUM_(E, ...) CJ_F_##E,
typedef enum { CJ_KFUNCS(CJ_KFUNC_ENUM_) CJ_NFUNC } cj_func;

typedef struct cj_node cj_node;
struct cj_node {
  cj_nop op;
  int fn;           /* CJ_N_CALL: cj_func; CJ_N_RAND: 0 uniform, 1 normal */
  int k;            /* TMP, LET: temporary; RAND: draw index */
  int slot, how;    /* VAR, SET, ADDTO */
  double num;       /* NUM */
  int nargs;        /* operands in arg[] (expressions; SET/ADDTO/LET/IF: arg[0]) */
  cj_node *arg[3];
  cj_node **body[2];  /* IF: then / else statement lists */
  int nbody[2];
};

/* Name tables: op names as in IR.md ("+", "ifelse", "let", ...), function
 * names ("exp", ...), hows ("i", "pre", "post", "s"), domains, kinds.
 * Lookups return -1 for an unknown name. */
const char *cj_nop_name(cj_nop op);
int cj_nop_lookup(const char *name);
const char *cj_func_name(int f);
int cj_func_lookup(const char *name);
int cj_func_arity(int f);               /* number of arguments */
const char *cj_func_cname(int f);       /* the C function called ("fabs", "cj_min") */
const char *cj_how_name(int how);
int cj_how_lookup(const char *name);
const char *cj_domain_name(int d);
int cj_domain_lookup(const char *name);
const char *cj_kkind_name(int k);
int cj_kkind_lookup(const char *name);

/* An arena owning the nodes and lists of one or more trees. */
typedef struct cj_ktree cj_ktree;
cj_ktree *cj_ktree_new(void);                      /* NULL on ENOMEM */
void cj_ktree_free(cj_ktree *t);
cj_node *cj_ktree_node(cj_ktree *t, cj_nop op);    /* zeroed node; NULL on ENOMEM */
cj_node **cj_ktree_list(cj_ktree *t, int n);       /* n null pointers; NULL on ENOMEM */

/* Parse the s-expression form of IR.md (the Lua tables written with
 * parentheses): "(+ (var 0 i) 1.5)", "(let 0 (call exp (tmp 1)))",
 * "(if (> t 0.1) ((set 0 i 0)) ())"; bare numbers are `num`, bare t, dt, i,
 * j, n, notref, lastspike are leaves. Meant for tests and debugging.
 * cj_kbody_parse reads a sequence of statements. CJ_EFORMAT with the
 * offending column on a syntax error. */
int cj_kexpr_parse(cj_ktree *t, const char *src, cj_node **out);
int cj_kbody_parse(cj_ktree *t, const char *src, cj_node ***stmts, int *n);

/* ---- a kernel as the runtime receives it --------------------------------- */
typedef struct cj_ref { int owner, id, var; } cj_ref;  /* CJ_OWNER_*, 0-based id and var */

typedef struct cj_kdef {
  int id;                  /* IR id, 1 .. 65535 (the philox counter uses 16 bits) */
  const char *name;        /* for messages */
  int domain, kind, line;
  int nrefs; const cj_ref *refs;
  int ntmp;
  int nbody; cj_node *const *body;   /* statements (all kinds: run first) */
  const cj_node *cond;     /* threshold */
  const cj_node *value;    /* sum: value accumulated into slot 0 through post */
} cj_kdef;

/* ---- the interpreter -------------------------------------------------- */
typedef struct cj_prog cj_prog;

/* Check the kernel (ops, arity, temporaries < ntmp, slots < nrefs, hows and
 * leaves valid in its domain) and compile it. CJ_EINVAL with a message
 * naming the kernel and the problem. */
int cj_prog_compile(const cj_kdef *k, cj_prog **out);
void cj_prog_free(cj_prog *p);
/* Run over the domain described by c, exactly as the compiled C would. */
void cj_prog_run(cj_prog *p, const cj_kctx *c);
/* 1 if slot r is written by the kernel (set or add). */
int cj_prog_writes(const cj_prog *p, int r);
/* 1 when p is var[slot][post or pre of the element] += k, a fixed weight
 * (*how CJ_HOW_POST or CJ_HOW_PRE; *single: the variable is float): the
 * caller may then add k itself, in the elements' order, with the bits of
 * either backend. */
int cj_prog_addk(const cj_prog *p, int *how, int *slot, double *k, int *single);
/* Element selectors slot r is used with: bit (1 << CJ_HOW_*) per selector. */
int cj_prog_slothows(const cj_prog *p, int r);
/* 1 if the kernel reads the element index `how` (CJ_HOW_*) at all: through a
 * slot or as a value (i in a synapse kernel is the pre neuron). */
int cj_prog_useshow(const cj_prog *p, int how);
/* Variables of slots are float arrays (values widened to double on load,
 * rounded to float on store): a single-precision network. */
void cj_prog_set_single(cj_prog *p, int single);
/* Tests: run every program with the executor of kw doubles per vector (2,
 * 4 or 8; 0: the widest the processor runs, the default). 0 when this
 * build or processor has no such width. Not for use while kernels run. */
int cj_prog_set_width(int kw);
/* 1 if the kernel runs in blocks; 0 if element by element (its writes
 * through pre/post may meet reads of other elements: IR.md §2). */
int cj_prog_blocked(const cj_prog *p);
/* Threads (threads.h): cj_prog_reserve makes the program runnable by
 * nthreads threads at once (a register file each; CJ_ENOMEM, without a
 * message, when it cannot); cj_prog_run_thread(p, c, tid) is cj_prog_run
 * on the registers of thread tid (0 .. nthreads - 1). */
int cj_prog_reserve(cj_prog *p, int nthreads);
void cj_prog_run_thread(cj_prog *p, const cj_kctx *c, int tid);
/* Bytes held by the program (for memory accounting). */
size_t cj_prog_size(const cj_prog *p);

/* Random numbers of kernels, shared with generated C (IR.md §4): the k-th
 * uniform / normal draw of element e at step `step` of kernel kid. */
double cj_kuniform(const uint32_t key[2], uint32_t kid, int64_t step, int64_t e, int k);
double cj_knormal(const uint32_t key[2], uint32_t kid, int64_t step, int64_t e, int k);

#endif
