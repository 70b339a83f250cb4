/*
 * netimpl.h — private to the network runtime (net.c, connect.c, monitor.c,
 * checkpoint.c): its structures and the functions the files share. Not
 * part of the API (net.h); the shared functions are named cj_nx_*.
 *
 *   net.c         creation, binding kernels, allocation, the time step, run,
 *                 the NaN check, inspection
 *   connect.c     connectivity rules (all, one-to-one, probability, degrees,
 *                 arrays), the CSR and post indexes
 *   monitor.c     monitors: recording, streaming to .npy files, reading
 *   checkpoint.c  save and restore (the format, checked on every read)
 *   netmpi.c      across MPI ranks: the partition, the spike exchange
 */
#ifndef CJ_NETIMPL_H
#define CJ_NETIMPL_H

#include "net.h"
#include "npy.h"
#include "rng.h"
#include "threads.h"

#include <stdint.h>
#include <string.h>

#define INITSTEP 0xFFFFFFFFLL        /* the step of initialisation kernels (IR.md §4) */
#define MAXDELAY 10000000LL          /* steps */
#define MAXSTEP (1LL << 53)           /* a restored step count (the Lua layer runs at most this) */

/* ---- growable vectors --------------------------------------------------- */
typedef struct ivec { int64_t *v; int64_t n, cap; } ivec;
typedef struct i32vec { int32_t *v; int64_t n, cap; } i32vec;
typedef struct dvec { double *v; int64_t n, cap; } dvec;

#define reserve(a, need) cj_nx_grow((void **)&(a)->v, &(a)->cap, (need), sizeof *(a)->v)
#define push(a, x) ((a)->n < (a)->cap || !reserve((a), (a)->n + 1) ? ((a)->v[(a)->n++] = (x), 0) : CJ_ENOMEM)

/* ---- the structures ----------------------------------------------------- */
typedef struct kern {
  int id, domain, kind, line, nrefs;
  char *name;
  cj_ref *refs;
  cj_prog *prog;
  cj_kfn fn;
  int rand;                         /* draws random numbers (netmpi.c) */
} kern;

/* A kernel bound to its owner: slot pointers resolved, context prefilled. */
typedef struct bound { kern *k; void **vars; cj_kctx c; } bound;

typedef struct drive {
  int var;
  double *values; int64_t rows, cols;
  int64_t *idx; int64_t nidx;
  double interval;
} drive;

typedef struct pinput { int var; int64_t lo, hi; double weight; cj_binom B; double *cdf; } pinput;

typedef struct pop {
  char *name; int64_t n; int kind, spiking, nvars;
  char **vname, **vunit;
  void **var; double *lastspike;    /* var: float or double arrays (net->single) */
  int kinit, kupdate, kthresh, kreset, krate, kdefs;
  bound init, update, thresh, reset, ratek, defs;
  int ratevar;                      /* per-neuron Poisson rates (Hz), or -1 */
  int64_t defstep;                  /* step of the last run of `defs`, -1 none */
  pinput *pin; int npin;            /* Poisson drives */
  double refractory, refbound, rate, ratev;
  int64_t *spk, nspk;               /* this step's spikes */
  cj_kfn fused;                     /* update and threshold in one pass (JIT), or NULL */
  int fusable, fusedrun;            /* fused may replace them; it does in this run */
  int hlen; ivec *hist;             /* spike lists of the last hlen steps */
  cj_rng rng;                       /* Poisson draws */
  int64_t *gstep, *gidx, ng, gpos;  /* spike generator, sorted by (step, index) */
  drive *drv; int ndrv;
  int64_t own0, own1;               /* the neurons this MPI rank steps (all on one rank) */
} pop;

typedef struct sumk { int var, kid; bound b; } sumk;

typedef struct proj {
  char *name; int pre, post;
  int64_t prelo, prehi, postlo, posthi;
  int rule, self; double p; int64_t k;
  int64_t *ai, *aj, na;
  int nvars; char **vname, **vunit;
  void **var; double **arrvals;     /* var: float or double; arrvals: rule arrays, in synapse order */
  double **inval;                   /* arrays rule before sorting (freed at build) */
  unsigned char *checked;           /* vars written while running: NaN-checked */
  int kinit, kpre, kpost, kupdate, kpairs;
  bound init, onpre, onpost, update, pairs;
  int nsum; sumk *sums;
  int64_t delay; int delay_var;
  int32_t *dsteps; int64_t maxd, mind;   /* heterogeneous delays, steps; mind: this rank's shortest */
  int64_t nsyn; int32_t *spre, *spost;
  int64_t *rowptr, *postptr, *postsyn;
  int64_t maxrow;                   /* the most synapses of one pre neuron */
  int32_t *rowcut; int rowcutnt;    /* a team of rowcutnt: where thread t's targets start in each
                                     * row, t = 1 .. nt - 1 (offsets; rowsorted rows) */
  int rowsorted;                    /* posts ascend within each row (threads split by target) */
  int splitpre, splitsum, splitupd; /* threads may split on_pre and sums by target, update by synapse */
  ivec *bucket; int64_t nbucket;
  ivec ev;                          /* post events */
  int64_t *gfirst;                  /* across MPI ranks: one-rank id of each row's first synapse */
  int64_t *gmap, gtotal;            /* while restoring across ranks: one-rank id -> local id or -1 */
} proj;

typedef struct mon {
  int kind, pop, proj, var;
  int64_t lo, hi, *idx, nidx, every;
  int all;                          /* state of every neuron or synapse (nidx < 0 until built) */
  int64_t acc;                      /* rate: spikes counted in the current window */
  char *file;                       /* stream to this .npy file ... */
  cj_npy_writer *w;                 /* ... through this writer; the vectors buffer rows */
  int64_t written;                  /* rows already in the file */
  ivec steps; i32vec ids; dvec vals;
} mon;

struct cj_net {
  char *name;
  double dt;
  uint64_t seed;
  uint32_t key[2];
  int64_t step, chunk;
  int built;
  int single;                       /* state arrays are float (else double) */
  size_t es;                        /* bytes per state element: 4 or 8 */
  kern *kern; int nkern, capkern;
  pop *pop; int npop, cappop;
  proj *proj; int nproj, capproj;
  mon *mon; int nmon, capmon;
  cj_stopf stop; void *stopud;      /* consulted while connectivity is built */
  cj_thr_ws *thr;                   /* the team's event lists and spike counts (threads.c) */
  int badpop, badvar; int64_t badi;  /* the non-finite state that stopped the last run (badpop -1: none) */
  struct cj_nxmpi *mpi;             /* across MPI ranks (netmpi.c); NULL on one rank */
  int team;                         /* threads that ran the last chunk of steps (0: none yet) */
  cj_thr_pace pace;                 /* chunk times at the team and at one thread (threads.h) */
};

/* ---- shared helpers (net.c) ---------------------------------------------- */
void *cj_nx_bigalloc(size_t n);                 /* cj_malloc + huge pages */
void *cj_nx_bigcalloc(size_t n, size_t size);
void *cj_nx_statealloc(size_t n, size_t size);   /* zeroed, 64-byte aligned; cj_nx_statefree */
void cj_nx_statefree(void *p);
/* Grow *v (capacity *cap elements of size bytes) to hold need: 0 or CJ_ENOMEM. */
int cj_nx_grow(void **v, int64_t *cap, int64_t need, size_t size);
char *cj_nx_dupstr(const char *s);
void cj_nx_freestrs(char **v, int n);
char **cj_nx_dupstrs(const char *const *src, int n);
void *cj_nx_dupmem(const void *src, size_t n);
int cj_nx_nomem(void);
void cj_nx_rundefs(cj_net *net, pop *P, int64_t n);
/* net is not built yet and has a valid dt (else an error naming fn) */
int cj_nx_built(cj_net *net, const char *fn);
/* One more zeroed element of size bytes in *arr (n elements, capacity cap). */
int cj_nx_addslot(void **arr, int *n, int *cap, size_t size);
/* Kernel kid bound to population pp or projection pj as domain/kind. */
int cj_nx_bind(cj_net *net, bound *b, int kid, int domain, int kind, int pp, int pj, const char *what);

static inline void cj_nx_run(bound *b)
{
  if (b->k->fn) b->k->fn(&b->c);
  else cj_prog_run(b->k->prog, &b->c);
}

/* Element i of a state array (float or double), as a double; and a store
 * rounding to the array's precision (the kernels' conversions, IR.md §7). */
static inline double cj_nx_getx(const cj_net *net, const void *a, int64_t i)
{
  return net->single ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static inline void cj_nx_putx(const cj_net *net, void *a, int64_t i, double x)
{
  if (net->single) ((float *)a)[i] = (float)x;
  else ((double *)a)[i] = x;
}


/* ---- connectivity (connect.c) --------------------------------------------- */
int cj_nx_stopped(cj_net *net, const proj *P, int64_t done, int64_t total);
int cj_nx_connect(cj_net *net, proj *P, int pid);
int cj_nx_indexes(cj_net *net, proj *P);
int cj_nx_makepre(cj_net *net, proj *P);
int32_t cj_nx_preof(const cj_net *net, const proj *P, int64_t s);

/* ---- monitors (monitor.c) -------------------------------------------------- */
void cj_nx_clearmon(mon *M);
int cj_nx_checkmon(cj_net *net, mon *M, int m);
int cj_nx_openstream(cj_net *net, mon *M);
int cj_nx_recstate(cj_net *net, int64_t n);
int cj_nx_record(cj_net *net, int64_t n);

/* ---- checkpoint.c uses from net.c ------------------------------------------ */
int cj_nx_prepare(cj_net *net);
int cj_nx_finish(cj_net *net);
int cj_nx_startstate(cj_net *net);
int cj_nx_setdelays(cj_net *net, proj *P);
int cj_nx_checkrates(cj_net *net, pop *P, int64_t n);

/* ---- across MPI ranks (netmpi.c; all no-ops while net->mpi is NULL) -------- */
/* A population is split across ranks when it is made of neurons each rank
 * updates in its own range; the others are drawn alike on every rank. */
static inline int cj_nx_splits(const pop *P) { return P->kind == CJ_POP_NEURON; }
int cj_nx_mpi_prepare(cj_net *net);            /* the partition (cj_nx_prepare) */
void cj_nx_postrange(const cj_net *net, const proj *P, int64_t *lo, int64_t *hi);  /* posts built here */
int cj_nx_mpi_rows(cj_net *net, proj *P);      /* gfirst, after connecting */
int cj_nx_mpi_check(cj_net *net);              /* refusals and ranges (cj_nx_finish) */
void cj_nx_mpi_syninit(cj_net *net, proj *P);  /* synapse init keyed by one-rank ids */
int cj_nx_mpi_window(cj_net *net);             /* steps per exchange, at the start of a run */
int cj_nx_mpi_hold(cj_net *net, int last, int *due);   /* a step's lists, until the exchange */
int cj_nx_mpi_exchange(cj_net *net, int *nsteps);      /* every rank's lists of the steps held */
void cj_nx_mpi_replay(cj_net *net, int k);             /* the k-th step's lists joined, into P->spk */
int cj_nx_mpi_endrun(cj_net *net);             /* state made current at the end of a run */
void cj_nx_mpi_reset(cj_net *net);
void cj_nx_mpi_free(cj_net *net);
int cj_nx_kdef_rand(const cj_kdef *k);
int64_t cj_nx_mpi_maxd(int64_t maxd);           /* the largest over the ranks, -1 on failure */
/* Checkpoints across ranks (checkpoint.c): the post range rank r of size
 * holds of P's synapses; n values of every rank on every rank; whether
 * every rank succeeded (a collective; the first failure's message on all);
 * and after a restore has read a one-rank layout, P cut down to the
 * synapses of this rank (gmap kept until the state is read). */
void cj_nx_mpi_partrange(const cj_net *net, const proj *P, int r, int size, int64_t *lo, int64_t *hi);
int cj_nx_mpi_allgather(const cj_net *net, const int64_t *mine, int n, int64_t *all);
int cj_nx_mpi_agree(const cj_net *net, int st, const char *what);
int cj_nx_mpi_keepproj(cj_net *net, proj *P);
void cj_nx_mpi_keepvals(const cj_net *net, const proj *P, void *x);
void cj_nx_mpi_keepbucket(const proj *P, ivec *b);

/* Phase timing of steps (cj_mpi_profile): a clock read per mark, only while on. */
enum { CJ_PH_DELIVER, CJ_PH_UPDATE, CJ_PH_EXCHANGE, CJ_PH_OTHER };
extern int cj_nx_prof;
void cj_nx_mark(int ph);
#define phasemark(ph) do { if (cj_nx_prof) cj_nx_mark(ph); } while (0)

#endif
