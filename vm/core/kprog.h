/*
 * kprog.h — private to the kernel compiler (kcompile.c) and the interpreter
 * (interp.c): the register bytecode of a compiled kernel, cj_prog.
 * Registers are arrays of LANES doubles; an instruction is (op, d, a, b, c,
 * v, e, k), register numbers or operands by op (see the compiler and
 * block()). v is NOREG, or the variable slot the result goes to instead of
 * register d (neurons domain, at the neuron itself: a `set` whose value
 * this instruction computes last; kcompile.c's dvarok() lists the ops);
 * e is NOREG, or the register whose lanes a refractory neuron's result
 * takes instead (set v = ifelse(notref, x, e), x computed by this
 * instruction; ops of KLOOP only); k a second K for the ops that have one.
 */
#ifndef CJ_KPROG_H
#define CJ_KPROG_H

#include "interp.h"

#define LANES 256                 /* elements per block (a multiple of 4) */
#define NOREG 0xFFFFu

enum {
  I_END, I_LOADC, I_LOADX, I_LS, I_NOTREF, I_IDX, I_RAND,
  I_ADD, I_SUB, I_MUL, I_DIV, I_NEG, I_POW,
  I_LT, I_LE, I_GT, I_GE, I_EQ, I_NE, I_AND, I_OR, I_NOT, I_SEL,
  I_F1, I_F2, I_CLIP, I_MOV, I_BLEND,
  I_STOREC, I_STOREX, I_ADDC, I_ADDX,
  I_MAND, I_MANDN, I_JNONE, I_THRESH, I_RESULT, I_RESULTV,
  /* superinstructions (kcompile.c makes them from the tree; K is the value
   * of a uniform register b or c: a constant, t, dt or n) */
  I_ADDK, I_SUBK, I_KSUB, I_MULK, I_DIVK, I_KDIV,   /* a+K a-K K-a a*K a/K K/a */
  I_LTK, I_LEK, I_GTK, I_GEK, I_EQK, I_NEK,         /* a < K ... a ~= K */
  I_MULKADD,     /* d = K(c) * a + b (two roundings, as the tree) */
  I_MULKADDK,    /* d = K(c) * a + K(b): the exact decay v = A*v + B */
  I_THRESHV,     /* spike where var a [base + l] <c> K(b) and not refractory; c an I_*K compare */
  /* operands read straight from a variable at the neuron itself (neurons
   * domain, selector i; V = var a [base + l]): no register is loaded */
  I_VBIN,        /* d = V op b, or b op V: c a VB_* below */
  I_VK,          /* d = V op K(b), or K(b) op V: c a VB_* (the register side is K) */
  I_NEGV,        /* d = -V */
  I_MULKVADD,    /* d = K(c) * V + b */
  I_MULKADDV,    /* d = K(c) * a + var b [base + l] */
  I_SINCEK,      /* d = (t - lastspike[base + l]) <c> K(b): the refractory clock; c an I_*K compare */
  I_SELNR,       /* d = not refractory ? a : b */
  I_SELV,        /* d = c != 0 ? a : var b [base + l] */
  I_SELVREF,     /* d = t - lastspike[base + l] < K(c) ? a : var b [base + l]: the refractory clamp */
  I_STORESELNR,  /* var d [base + l] = not refractory ? a : b (set, no mask) */
  I_MULKVV,      /* d = K(c) * var a [base + l] + var b [base + l] */
  I_MULK2,       /* d = K(c) * a + K(k) * b */
  I_MULK2V,      /* d = K(c) * a + K(k) * var b [base + l] */
  I_VMADD        /* d = V * b + c, V * b - c or c - V * b (k a VM_* set; V = var a [base + l]) */
};

/* the operator of I_VBIN / I_VK, R the register (or K) operand */
enum { VB_VADD, VB_RADD, VB_VSUB, VB_RSUB, VB_VMUL, VB_RMUL, VB_VDIV, VB_RDIV,
       VB_NMUL };   /* V * -R (exactly -(V * R) and (-R) * V) */

/* the form of I_VMADD: the product V * -b, a difference, c on the left of it */
enum { VM_NEG = 1, VM_SUB = 2, VM_LEFT = 4 };

typedef struct ins { uint16_t op, d, a, b, c, v, e, k; } ins;

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
  cj_prog **team; int nteam;   /* copies with their own registers, for threads 1 .. nteam */
  int addk;                    /* the program is var b[how] += K (a fixed weight): how, or -1 */
  int addkslot; double addkv;
};

/* d[0..LANES) = v */
static inline void fill(double *d, double v)
{
  for (int l = 0; l < LANES; l++) d[l] = v;
}

#endif
