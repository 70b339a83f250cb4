/*
 * net.c — the network runtime (see net.h and vm/core/IR.md §3).
 *
 * Layout. Population state is structure-of-arrays (one double array per
 * variable). A projection stores its synapses in CSR order by pre neuron
 * (rowptr over the whole pre population, rows outside the slice empty), with
 * post[s] per synapse (int32: 4 bytes); pre[s] is made only when a kernel
 * of the projection reads the pre neuron (or cj_net_proj_pre asks), since
 * rowptr holds it; an index by post neuron when an on_post kernel needs it.
 *
 * Spike queues. A population keeps a ring of its last H spike lists (H = the
 * largest homogeneous delay of its outgoing projections + 1): a projection
 * with delay d delivers, at step n, the list of step n - d, expanding each
 * spike into its CSR row. Heterogeneous delays use per-projection buckets of
 * synapse ids, one per step of the maximum delay; a spike pushes each of its
 * synapses into the bucket of its arrival step. No allocation happens in the
 * steady state: buffers grow geometrically and are kept.
 *
 * Randomness: connectivity, Poisson groups use cj_rng cursors (streams 1000 +
 * projection id and 2000 + population id, ids 1-based as in the IR);
 * kernels use counter-based draws (interp.h), so nothing depends on the
 * backend.
 */
#include "net.h"
#include "npy.h"
#include "rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define INITSTEP 0xFFFFFFFFLL        /* the step of initialisation kernels (IR.md §4) */
#define MAXDELAY 10000000LL          /* steps */
#define MAXSTEP (1LL << 53)           /* a restored step count (the Lua layer runs at most this) */

/* Large arrays ask for transparent huge pages: building a big network
 * touches hundreds of megabytes once, and on virtual machines a page fault
 * per 4 KiB page costs more than the work done on the page. */
#define HUGE_MIN (4u << 20)

static void hugepages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
  if (n < HUGE_MIN || !p) return;
  uintptr_t a = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
  uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)((2u << 20) - 1);
  if (b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
  (void)p; (void)n;
#endif
}

static void *bigalloc(size_t n)
{
  void *p = cj_malloc(n);
  hugepages(p, n);
  return p;
}

static void *bigcalloc(size_t n, size_t size)
{
  void *p = cj_calloc(n, size);
  hugepages(p, n * size);
  return p;
}

/* ---- growable vectors --------------------------------------------------- */
typedef struct ivec { int64_t *v; int64_t n, cap; } ivec;
typedef struct i32vec { int32_t *v; int64_t n, cap; } i32vec;
typedef struct dvec { double *v; int64_t n, cap; } dvec;

static int grow(void **v, int64_t *cap, int64_t need, size_t size)
{
  if (need <= *cap) return 0;
  int64_t nc = *cap ? *cap : 16;
  while (nc < need) nc *= 2;
  void *nv = cj_realloc(*v, (size_t)nc * size);
  if (!nv) return cj_fail(CJ_ENOMEM, "network: out of memory (%lld elements)", (long long)nc);
  hugepages(nv, (size_t)nc * size);
  *v = nv;
  *cap = nc;
  return 0;
}

#define reserve(a, need) grow((void **)&(a)->v, &(a)->cap, (need), sizeof *(a)->v)
#define push(a, x) ((a)->n < (a)->cap || !reserve((a), (a)->n + 1) ? ((a)->v[(a)->n++] = (x), 0) : CJ_ENOMEM)

/* ---- the structures ----------------------------------------------------- */
typedef struct kern {
  int id, domain, kind, line, nrefs;
  char *name;
  cj_ref *refs;
  cj_prog *prog;
  cj_kfn fn;
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
  int hlen; ivec *hist;             /* spike lists of the last hlen steps */
  cj_rng rng;                       /* Poisson draws */
  int64_t *gstep, *gidx, ng, gpos;  /* spike generator, sorted by (step, index) */
  drive *drv; int ndrv;
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
  int32_t *dsteps; int64_t maxd;
  int64_t nsyn; int32_t *spre, *spost;
  int64_t *rowptr, *postptr, *postsyn;
  ivec *bucket; int64_t nbucket;
  ivec ev;
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
};

/* ---- small helpers ------------------------------------------------------ */
static char *dupstr(const char *s)
{
  size_t n = strlen(s ? s : "") + 1;
  char *d = cj_malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

static void freestrs(char **v, int n)
{
  if (!v) return;
  for (int i = 0; i < n; i++) cj_free(v[i]);
  cj_free(v);
}

/* Copy n strings (NULL entries become ""); NULL on ENOMEM. */
static char **dupstrs(const char *const *src, int n)
{
  char **v = cj_calloc((size_t)(n > 0 ? n : 1), sizeof *v);
  if (!v) return NULL;
  for (int i = 0; i < n; i++)
    if (!(v[i] = dupstr(src ? src[i] : ""))) { freestrs(v, n); return NULL; }
  return v;
}

static void *dupmem(const void *src, size_t n)
{
  void *d = cj_malloc(n ? n : 1);
  if (d && n) memcpy(d, src, n);
  return d;
}

static int nomem(void) { return cj_fail(CJ_ENOMEM, "network: out of memory"); }

int64_t cj_timestep(double t, double dt)
{
  return (int64_t)floor((t + 1e-3 * dt) / dt);
}

static kern *findkern(cj_net *net, int id)
{
  for (int i = 0; i < net->nkern; i++)
    if (net->kern[i].id == id) return &net->kern[i];
  return NULL;
}

static int findname(const char *const *names, int n, const char *name)
{
  for (int i = 0; i < n; i++) if (strcmp(names[i], name) == 0) return i;
  return -1;
}

static int bind(cj_net *net, bound *b, int kid, int domain, int kind, int pp, int pj, const char *what);
static int openstream(cj_net *net, mon *M);

static void run(bound *b)
{
  if (b->k->fn) b->k->fn(&b->c);
  else cj_prog_run(b->k->prog, &b->c);
}

/* ---- creation ----------------------------------------------------------- */
cj_net *cj_net_new(const char *name, double dt, uint64_t seed)
{
  cj_net *net = cj_calloc(1, sizeof *net);
  if (!net) return NULL;
  if (!(net->name = dupstr(name ? name : "network"))) { cj_free(net); return NULL; }
  net->dt = dt;
  net->seed = seed;
  net->key[0] = (uint32_t)seed;
  net->key[1] = (uint32_t)(seed >> 32);
  net->chunk = 100;
  net->es = sizeof(double);
  return net;
}

int cj_net_set_single(cj_net *net, int single)
{
  if (net->nkern || net->npop || net->nproj)
    return cj_fail(CJ_EINVAL, "network '%s': the precision is set before kernels and populations are added", net->name);
  net->single = single != 0;
  net->es = single ? sizeof(float) : sizeof(double);
  return CJ_OK;
}

int cj_net_single(const cj_net *net) { return net->single; }

/* Element i of a state array (float or double), as a double; and a store
 * rounding to the array's precision (the kernels' conversions, IR.md §7). */
static inline double getx(const cj_net *net, const void *a, int64_t i)
{
  return net->single ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static inline void putx(const cj_net *net, void *a, int64_t i, double x)
{
  if (net->single) ((float *)a)[i] = (float)x;
  else ((double *)a)[i] = x;
}

void cj_net_set_chunk(cj_net *net, int64_t chunk) { net->chunk = chunk > 0 ? chunk : 100; }

static int addslot(void **arr, int *n, int *cap, size_t size)
{
  int64_t c = *cap;
  if (grow(arr, &c, *n + 1, size)) return CJ_ENOMEM;
  *cap = (int)c;
  memset((char *)*arr + (size_t)*n * size, 0, size);
  return 0;
}

static int built(cj_net *net, const char *fn)
{
  if (net->built) return cj_fail(CJ_EINVAL, "%s: network '%s' is already built", fn, net->name);
  if (!(net->dt > 0) || !isfinite(net->dt))
    return cj_fail(CJ_EINVAL, "%s: dt must be a positive number of seconds, got %g", fn, net->dt);
  return 0;
}

int cj_net_add_kernel(cj_net *net, const cj_kdef *k, cj_kfn fn)
{
  kern *K;
  int st;
  if ((st = built(net, "cj_net_add_kernel"))) return st;
  if (k->id < 1 || k->id > 0xFFFF)
    return cj_fail(CJ_EINVAL, "kernel id %d out of range (1..65535)", k->id);
  if (findkern(net, k->id)) return cj_fail(CJ_EINVAL, "kernel id %d defined twice", k->id);
  if (addslot((void **)&net->kern, &net->nkern, &net->capkern, sizeof *net->kern)) return nomem();
  K = &net->kern[net->nkern];
  K->id = k->id; K->domain = k->domain; K->kind = k->kind; K->line = k->line;
  K->nrefs = k->nrefs; K->fn = fn;
  if (!(K->name = dupstr(k->name ? k->name : "")) ||
      !(K->refs = dupmem(k->refs, (size_t)(k->nrefs > 0 ? k->nrefs : 0) * sizeof *k->refs))) {
    cj_free(K->name); cj_free(K->refs);
    return nomem();
  }
  if ((st = cj_prog_compile(k, &K->prog))) { cj_free(K->name); cj_free(K->refs); return st; }
  cj_prog_set_single(K->prog, net->single);
  net->nkern++;
  return 0;
}

static int copydrives(pop *P, const cj_popdef *d)
{
  if (d->ndrives <= 0) return 0;
  if (!(P->drv = cj_calloc((size_t)d->ndrives, sizeof *P->drv))) return nomem();
  P->ndrv = d->ndrives;
  for (int i = 0; i < d->ndrives; i++) {
    const cj_drivedef *s = &d->drives[i];
    drive *D = &P->drv[i];
    int64_t width = s->indices ? s->nindices : P->n;
    if (s->var < 0 || s->var >= P->nvars)
      return cj_fail(CJ_EINVAL, "population '%s': drive %d: variable %d out of range", P->name, i + 1, s->var + 1);
    if (!s->values || s->rows < 1 || (s->cols != 1 && s->cols != width))
      return cj_fail(CJ_EINVAL, "population '%s': drive %d: values must have 1 or %lld columns and at least one row",
                     P->name, i + 1, (long long)width);
    if (!(s->interval > 0) || !isfinite(s->interval))
      return cj_fail(CJ_EINVAL, "population '%s': drive %d: interval must be positive", P->name, i + 1);
    for (int64_t k = 0; s->indices && k < s->nindices; k++)
      if (s->indices[k] < 0 || s->indices[k] >= P->n)
        return cj_fail(CJ_ERANGE, "population '%s': drive %d: index %lld out of range 0..%lld",
                       P->name, i + 1, (long long)s->indices[k], (long long)P->n - 1);
    D->var = s->var; D->rows = s->rows; D->cols = s->cols; D->interval = s->interval;
    D->nidx = s->indices ? s->nindices : 0;
    if (!(D->values = dupmem(s->values, (size_t)(s->rows * s->cols) * sizeof(double)))) return nomem();
    if (s->indices && !(D->idx = dupmem(s->indices, (size_t)s->nindices * sizeof(int64_t)))) return nomem();
  }
  return 0;
}

static int copypinputs(cj_net *net, pop *P, const cj_popdef *d)
{
  if (d->npinputs <= 0) return 0;
  if (d->npinputs > 4095)
    return cj_fail(CJ_EINVAL, "population '%s': %d Poisson drives (at most 4095)", P->name, d->npinputs);
  if (!(P->pin = cj_calloc((size_t)d->npinputs, sizeof *P->pin))) return nomem();
  P->npin = d->npinputs;
  for (int q = 0; q < d->npinputs; q++) {
    const cj_pinputdef *s = &d->pinputs[q];
    const double p = s->rate * net->dt;
    if (s->var < 0 || s->var >= P->nvars)
      return cj_fail(CJ_EINVAL, "population '%s': Poisson drive %d: variable %d out of range", P->name, q + 1, s->var + 1);
    if (s->n < 0 || !(s->rate >= 0) || !(p <= 1) || !isfinite(s->weight))
      return cj_fail(CJ_EINVAL, "population '%s': Poisson drive %d: needs n >= 0 sources, a rate in 0 .. 1/dt "
                     "(%g Hz) and a finite weight (got n = %lld, rate = %g Hz, weight = %g)", P->name, q + 1,
                     1 / net->dt, (long long)s->n, s->rate, s->weight);
    if (s->lo < 0 || s->hi >= P->n || s->lo > s->hi)
      return cj_fail(CJ_ERANGE, "population '%s': Poisson drive %d: neurons %lld..%lld outside 0..%lld", P->name,
                     q + 1, (long long)s->lo, (long long)s->hi, (long long)P->n - 1);
    pinput *I = &P->pin[q];
    I->var = s->var; I->lo = s->lo; I->hi = s->hi; I->weight = s->weight;
    cj_binom_init(&I->B, s->n, p);
    int64_t len = cj_binom_tabulate(&I->B, NULL, 0);   /* a search instead of divisions */
    if (len && (!(I->cdf = cj_malloc((size_t)len * sizeof *I->cdf)) || !cj_binom_tabulate(&I->B, I->cdf, len)))
      return nomem();
  }
  return 0;
}

static int cmpgen(const void *a, const void *b)
{
  const int64_t *x = a, *y = b;
  return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] != y[1] ? (x[1] < y[1] ? -1 : 1) : 0;
}

/* Spike generator: times -> steps (Brian's timestep), sorted by (step, index). */
static int copygen(cj_net *net, pop *P, const cj_popdef *d)
{
  int64_t n = d->nspikes, *pairs;
  if (n <= 0) return 0;
  if (!d->times || !d->indices)
    return cj_fail(CJ_EINVAL, "population '%s': a spike generator needs times and indices", P->name);
  if (!(pairs = cj_malloc((size_t)n * 2 * sizeof *pairs))) return nomem();
  for (int64_t k = 0; k < n; k++) {
    double t = d->times[k];
    if (!(t >= 0) || !isfinite(t)) {
      cj_free(pairs);
      return cj_fail(CJ_EINVAL, "population '%s': spike %lld has time %g (expected a finite time >= 0)",
                     P->name, (long long)k + 1, t);
    }
    if (d->indices[k] < 0 || d->indices[k] >= P->n) {
      cj_free(pairs);
      return cj_fail(CJ_ERANGE, "population '%s': spike %lld has index %lld (expected 0..%lld)",
                     P->name, (long long)k + 1, (long long)d->indices[k], (long long)P->n - 1);
    }
    pairs[2 * k] = cj_timestep(t, net->dt);
    pairs[2 * k + 1] = d->indices[k];
  }
  qsort(pairs, (size_t)n, 2 * sizeof *pairs, cmpgen);
  for (int64_t k = 1; k < n; k++)
    if (pairs[2 * k] == pairs[2 * k - 2] && pairs[2 * k + 1] == pairs[2 * k - 1]) {
      int st = cj_fail(CJ_EINVAL, "population '%s': neuron %lld spikes twice in step %lld (t = %g s); use a smaller dt",
                       P->name, (long long)pairs[2 * k + 1], (long long)pairs[2 * k], (double)pairs[2 * k] * net->dt);
      cj_free(pairs);
      return st;
    }
  P->gstep = cj_malloc((size_t)n * sizeof *P->gstep);
  P->gidx = cj_malloc((size_t)n * sizeof *P->gidx);
  if (!P->gstep || !P->gidx) { cj_free(pairs); return nomem(); }
  for (int64_t k = 0; k < n; k++) { P->gstep[k] = pairs[2 * k]; P->gidx[k] = pairs[2 * k + 1]; }
  P->ng = n;
  cj_free(pairs);
  return 0;
}

static void freepop(pop *P)
{
  cj_free(P->name);
  freestrs(P->vname, P->nvars);
  freestrs(P->vunit, P->nvars);
  for (int v = 0; P->var && v < P->nvars; v++) cj_free(P->var[v]);
  cj_free(P->var);
  cj_free(P->lastspike);
  cj_free(P->init.vars); cj_free(P->update.vars); cj_free(P->thresh.vars);
  cj_free(P->reset.vars); cj_free(P->ratek.vars); cj_free(P->defs.vars);
  for (int q = 0; P->pin && q < P->npin; q++) cj_free(P->pin[q].cdf);
  cj_free(P->pin);
  cj_free(P->spk);
  for (int h = 0; P->hist && h < P->hlen; h++) cj_free(P->hist[h].v);
  cj_free(P->hist);
  cj_free(P->gstep); cj_free(P->gidx);
  for (int i = 0; P->drv && i < P->ndrv; i++) { cj_free(P->drv[i].values); cj_free(P->drv[i].idx); }
  cj_free(P->drv);
}

int cj_net_add_pop(cj_net *net, const cj_popdef *d)
{
  pop *P;
  int st;
  if ((st = built(net, "cj_net_add_pop"))) return st;
  if (!d->name || !*d->name) return cj_fail(CJ_EINVAL, "population %d: a name is required", net->npop + 1);
  for (int i = 0; i < net->npop; i++)
    if (strcmp(net->pop[i].name, d->name) == 0)
      return cj_fail(CJ_EINVAL, "population '%s' defined twice", d->name);
  if (d->n < 1 || d->n > INT32_MAX)
    return cj_fail(CJ_EINVAL, "population '%s': size %lld out of range (1..%d)", d->name, (long long)d->n, INT32_MAX);
  if (d->kind < CJ_POP_NEURON || d->kind > CJ_POP_SPIKEGEN)
    return cj_fail(CJ_EINVAL, "population '%s': unknown kind %d", d->name, d->kind);
  if (d->nvars < 0 || (d->nvars && !d->varnames))
    return cj_fail(CJ_EINVAL, "population '%s': bad variable list", d->name);
  if (!(d->refractory >= 0) || !isfinite(d->refractory))
    return cj_fail(CJ_EINVAL, "population '%s': refractory period must be >= 0 s, got %g", d->name, d->refractory);
  if (d->kind == CJ_POP_POISSON && !d->rate_kernel && (!(d->rate >= 0) || !isfinite(d->rate)))
    return cj_fail(CJ_EINVAL, "population '%s': Poisson rate must be >= 0 Hz, got %g", d->name, d->rate);
  if (addslot((void **)&net->pop, &net->npop, &net->cappop, sizeof *net->pop)) return nomem();
  P = &net->pop[net->npop];
  P->n = d->n; P->kind = d->kind; P->nvars = d->nvars;
  P->spiking = d->kind != CJ_POP_NEURON || d->spiking;
  P->kinit = d->init; P->kupdate = d->update; P->kthresh = d->threshold; P->kreset = d->reset;
  P->krate = d->rate_kernel; P->refractory = d->refractory; P->rate = d->rate;
  P->kdefs = d->defs; P->ratevar = d->rate_var - 1;
  if (!(P->name = dupstr(d->name)) || !(P->vname = dupstrs(d->varnames, d->nvars)) ||
      !(P->vunit = dupstrs(d->varunits, d->nvars))) { freepop(P); memset(P, 0, sizeof *P); return nomem(); }
  for (int v = 0; v < d->nvars; v++)
    if (findname((const char *const *)P->vname, v, P->vname[v]) >= 0) {
      st = cj_fail(CJ_EINVAL, "population '%s': variable '%s' defined twice", P->name, P->vname[v]);
      freepop(P); memset(P, 0, sizeof *P);
      return st;
    }
  st = 0;
  if (d->rate_var < 0 || d->rate_var > d->nvars) st = cj_fail(CJ_EINVAL, "population '%s': rate_var %d out of range",
                                                               P->name, d->rate_var);
  if (st || (st = copydrives(P, d)) || (st = copypinputs(net, P, d)) ||
      (d->kind == CJ_POP_SPIKEGEN && (st = copygen(net, P, d)))) {
    freepop(P); memset(P, 0, sizeof *P);
    return st;
  }
  net->npop++;
  return 0;
}

static void freeproj(proj *P)
{
  cj_free(P->name);
  cj_free(P->ai); cj_free(P->aj);
  for (int v = 0; v < P->nvars; v++) {
    if (P->var) cj_free(P->var[v]);
    if (P->arrvals) cj_free(P->arrvals[v]);
    if (P->inval) cj_free(P->inval[v]);
  }
  freestrs(P->vname, P->nvars);
  freestrs(P->vunit, P->nvars);
  cj_free(P->var); cj_free(P->arrvals); cj_free(P->inval); cj_free(P->checked);
  cj_free(P->init.vars); cj_free(P->onpre.vars); cj_free(P->onpost.vars); cj_free(P->update.vars);
  cj_free(P->pairs.vars);
  for (int i = 0; P->sums && i < P->nsum; i++) cj_free(P->sums[i].b.vars);
  cj_free(P->sums);
  cj_free(P->dsteps); cj_free(P->spre); cj_free(P->spost);
  cj_free(P->rowptr); cj_free(P->postptr); cj_free(P->postsyn);
  for (int64_t b = 0; P->bucket && b < P->nbucket; b++) cj_free(P->bucket[b].v);
  cj_free(P->bucket);
  cj_free(P->ev.v);
}

static int projfail(proj *P, int st)
{
  freeproj(P);
  memset(P, 0, sizeof *P);
  return st;
}

int cj_net_add_proj(cj_net *net, const cj_projdef *d)
{
  proj *P;
  int st;
  const char *nm = d->name ? d->name : "?";
  if ((st = built(net, "cj_net_add_proj"))) return st;
  if (d->pre < 0 || d->pre >= net->npop || d->post < 0 || d->post >= net->npop)
    return cj_fail(CJ_EINVAL, "projection '%s': pre/post population out of range (%d populations)", nm, net->npop);
  for (int i = 0; i < net->nproj; i++)
    if (d->name && strcmp(net->proj[i].name, d->name) == 0)
      return cj_fail(CJ_EINVAL, "projection '%s' defined twice", nm);
  if (d->rule < CJ_RULE_ALL || d->rule > CJ_RULE_ARRAYS)
    return cj_fail(CJ_EINVAL, "projection '%s': unknown rule %d", nm, d->rule);
  if (d->nvars < 0 || (d->nvars && !d->varnames))
    return cj_fail(CJ_EINVAL, "projection '%s': bad variable list", nm);
  if (d->delay_var >= d->nvars || (d->delay_var < 0 && (d->delay < 1 || d->delay > MAXDELAY)))
    return cj_fail(CJ_EINVAL, "projection '%s': delay must be 1..%lld steps, or a synapse variable (got %lld, var %d)",
                   nm, MAXDELAY, (long long)d->delay, d->delay_var + 1);
  if (addslot((void **)&net->proj, &net->nproj, &net->capproj, sizeof *net->proj)) return nomem();
  P = &net->proj[net->nproj];
  P->pre = d->pre; P->post = d->post;
  P->prelo = d->pre_lo; P->prehi = d->pre_hi; P->postlo = d->post_lo; P->posthi = d->post_hi;
  P->rule = d->rule; P->self = d->self; P->p = d->p; P->k = d->k;
  P->nvars = d->nvars; P->delay = d->delay_var >= 0 ? 0 : d->delay; P->delay_var = d->delay_var;
  P->kinit = d->init; P->kpre = d->on_pre; P->kpost = d->on_post; P->kupdate = d->update;
  P->kpairs = d->rule == CJ_RULE_PROB ? d->pkernel : 0;
  if (!(P->name = dupstr(nm)) || !(P->vname = dupstrs(d->varnames, d->nvars)) ||
      !(P->vunit = dupstrs(d->varunits, d->nvars)))
    return projfail(P, nomem());
  for (int v = 0; v < d->nvars; v++)
    if (findname((const char *const *)P->vname, v, P->vname[v]) >= 0)
      return projfail(P, cj_fail(CJ_EINVAL, "projection '%s': variable '%s' defined twice", nm, P->vname[v]));
  if (d->rule == CJ_RULE_ARRAYS) {
    if (d->na < 0 || (d->na > 0 && (!d->ai || !d->aj)))
      return projfail(P, cj_fail(CJ_EINVAL, "projection '%s': rule arrays needs i and j", nm));
    P->na = d->na;
    if (!(P->ai = dupmem(d->ai, (size_t)d->na * sizeof *d->ai)) ||
        !(P->aj = dupmem(d->aj, (size_t)d->na * sizeof *d->aj)) ||
        !(P->inval = cj_calloc((size_t)(d->nvars > 0 ? d->nvars : 1), sizeof *P->inval)))
      return projfail(P, nomem());
    for (int v = 0; d->varvalues && v < d->nvars; v++)
      if (d->varvalues[v] && !(P->inval[v] = dupmem(d->varvalues[v], (size_t)d->na * sizeof(double))))
        return projfail(P, nomem());
  }
  if (d->nsummed > 0) {
    if (!d->summed || !(P->sums = cj_calloc((size_t)d->nsummed, sizeof *P->sums))) return projfail(P, nomem());
    P->nsum = d->nsummed;
    for (int i = 0; i < d->nsummed; i++) { P->sums[i].var = d->summed[i].post_var; P->sums[i].kid = d->summed[i].kernel; }
  }
  net->nproj++;
  return 0;
}

int cj_net_add_monitor(cj_net *net, const cj_mondef *d)
{
  mon *M;
  int st;
  if ((st = built(net, "cj_net_add_monitor"))) return st;
  if (d->kind < CJ_MON_SPIKES || d->kind > CJ_MON_RATE)
    return cj_fail(CJ_EINVAL, "monitor %d: unknown kind %d", net->nmon + 1, d->kind);
  if (d->proj >= 0 ? (d->kind != CJ_MON_STATE || d->proj >= net->nproj) : (d->pop < 0 || d->pop >= net->npop))
    return cj_fail(CJ_EINVAL, "monitor %d: population or projection out of range", net->nmon + 1);
  if (d->kind == CJ_MON_STATE && (d->every < 1 || (d->nindices < 0 && d->indices) || (d->nindices > 0 && !d->indices)))
    return cj_fail(CJ_EINVAL, "monitor %d: state monitors need indices and every >= 1 step", net->nmon + 1);
  if (d->kind == CJ_MON_RATE && d->every < 0)
    return cj_fail(CJ_EINVAL, "monitor %d: every must be >= 1 step", net->nmon + 1);
  if (addslot((void **)&net->mon, &net->nmon, &net->capmon, sizeof *net->mon)) return nomem();
  M = &net->mon[net->nmon];
  M->kind = d->kind; M->pop = d->proj >= 0 ? -1 : d->pop; M->proj = d->proj; M->var = d->var;
  M->lo = d->lo; M->hi = d->hi; M->every = d->every > 0 ? d->every : 1; M->nidx = d->nindices;
  M->all = d->kind == CJ_MON_STATE && d->nindices < 0;
  if ((d->nindices > 0 && !(M->idx = dupmem(d->indices, (size_t)d->nindices * sizeof *d->indices))) ||
      (d->file && !(M->file = dupstr(d->file)))) {
    cj_free(M->idx);
    memset(M, 0, sizeof *M);
    return nomem();
  }
  net->nmon++;
  return 0;
}

/* ---- connectivity ------------------------------------------------------- */

/* Uniform k-subset of {0..m-1}, ascending, into out[0..k). Sequential
 * selection (Knuth's algorithm S) when k is a large part of m, else Floyd's
 * algorithm with a hash set, then a sort. */
typedef struct sampler { int64_t *tab, cap; } sampler;

static int cmpi64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int choose(sampler *S, cj_rng *r, int64_t m, int64_t k, int64_t *out)
{
  if (k * 8 >= m) {
    int64_t got = 0;
    for (int64_t c = 0; c < m && got < k; c++)
      if ((double)(m - c) * cj_rng_uniform(r) < (double)(k - got)) out[got++] = c;
    return 0;
  }
  int64_t cap = 16;
  while (cap < 2 * k) cap *= 2;
  if (cap > S->cap) {
    int64_t *nt = cj_realloc(S->tab, (size_t)cap * sizeof *nt);
    if (!nt) return nomem();
    S->tab = nt; S->cap = cap;
  }
  for (int64_t i = 0; i < cap; i++) S->tab[i] = -1;
  for (int64_t t = m - k, got = 0; t < m; t++, got++) {
    int64_t x = (int64_t)cj_rng_below(r, (uint64_t)t + 1), h;
    for (int pass = 0; pass < 2; pass++) {
      h = (int64_t)(((uint64_t)x * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
      while (S->tab[h] >= 0 && S->tab[h] != x) h = (h + 1) & (cap - 1);
      if (S->tab[h] < 0) break;
      x = t;                       /* x was taken: take t, which cannot be */
    }
    S->tab[h] = x;
    out[got] = x;
  }
  qsort(out, (size_t)k, sizeof *out, cmpi64);
  return 0;
}

/* Candidate c (0-based) of a slice [lo, lo + m) from which `skip` is removed. */
static inline int64_t candidate(int64_t lo, int64_t c, int64_t skip)
{
  int64_t x = lo + c;
  return skip >= 0 && x >= skip ? x + 1 : x;
}

typedef struct conn { i32vec post; int64_t *rowptr; int32_t *cpre, *cpost; double *prob; } conn;

void cj_net_set_stop(cj_net *net, cj_stopf stop, void *ud)
{
  net->stop = stop;
  net->stopud = ud;
}

/* Non-zero (a failure status) when the stop test asks to stop while
 * projection P is being connected, at row `done` of `total`. */
static int stopped(cj_net *net, const proj *P, int64_t done, int64_t total)
{
  if (!net->stop || !net->stop(net->stopud)) return 0;
  return cj_fail(CJ_ERUNTIME, "interrupted while building network '%s' (projection '%s', %lld of %lld rows)",
                 net->name, P->name, (long long)done, (long long)total);
}

/* Probability of each pair from a "pairs" kernel, called once per pre neuron
 * i over its candidate targets (ctx.step = i, so random draws in the kernel
 * are keyed by (i, candidate)); each pair is kept when a uniform draw of the
 * projection's stream falls below its probability. */
static int pairsrow(proj *P, cj_rng *r, int64_t i, int64_t m, int64_t skip, conn *C)
{
  bound *b = &P->pairs;
  for (int64_t c = 0; c < m; c++) {
    C->cpre[c] = (int32_t)i;
    C->cpost[c] = (int32_t)candidate(P->postlo, c, skip);
  }
  b->c.pre = C->cpre; b->c.post = C->cpost; b->c.result = C->prob;
  b->c.n = m; b->c.step = i; b->c.t = 0;
  run(b);
  if (reserve(&C->post, C->post.n + m)) return CJ_ENOMEM;
  for (int64_t c = 0; c < m; c++)
    if (cj_rng_uniform(r) < C->prob[c]) C->post.v[C->post.n++] = C->cpost[c];
  return 0;
}

#define GAPS 256

static int connrule(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  int64_t nb = P->posthi - P->postlo + 1, na = P->prehi - P->prelo + 1;
  int excl = P->pre == P->post && !P->self;
  int64_t *chosen = NULL;
  sampler S = { NULL, 0 };
  cj_rng r;
  cj_geom geo;
  int64_t gaps[GAPS], ngap = GAPS;  /* drawn ahead: the stream serves only the gaps */
  int st = 0;
  cj_rng_init(&r, net->seed, 1000 + (uint64_t)pid + 1);
  cj_geom_init(&geo, P->p);
  if (P->rule == CJ_RULE_OUTDEG && !(chosen = cj_malloc((size_t)(P->k > 0 ? P->k : 1) * sizeof *chosen)))
    return nomem();
  if (P->rule == CJ_RULE_PROB && !P->kpairs && P->p > 0) {
    /* the expected count plus 6 sigma: growing by doubling would copy and
     * touch the largest array of the network several times */
    double mean = (double)na * (double)nb * (P->p < 1 ? P->p : 1);
    double want = mean + 6 * sqrt(mean) + 16;
    if (want < 4e9 && reserve(&C->post, (int64_t)want)) return nomem();
  }
  if (P->kpairs) {
    if ((st = bind(net, &P->pairs, P->kpairs, CJ_DOM_PAIRS, CJ_KK_STMTS, -1, pid, "probability"))) return st;
    C->cpre = cj_malloc((size_t)nb * sizeof *C->cpre);
    C->cpost = cj_malloc((size_t)nb * sizeof *C->cpost);
    C->prob = cj_malloc((size_t)nb * sizeof *C->prob);
    if (!C->cpre || !C->cpost || !C->prob) st = nomem();
  }
  for (int64_t i = 0; i < A->n && !st; i++) {
    C->rowptr[i] = C->post.n;
    if (i < P->prelo || i > P->prehi) continue;
    if ((st = stopped(net, P, i - P->prelo, na))) break;
    int64_t skip = excl && i >= P->postlo && i <= P->posthi ? i : -1;
    int64_t m = nb - (skip >= 0);
    switch (P->rule) {
    case CJ_RULE_ALL:
      if ((st = reserve(&C->post, C->post.n + m))) break;
      for (int64_t c = 0; c < m; c++) C->post.v[C->post.n++] = (int32_t)candidate(P->postlo, c, skip);
      break;
    case CJ_RULE_ONE: {
      int64_t j = P->postlo + (i - P->prelo);
      if (!(excl && j == i)) st = push(&C->post, (int32_t)j);
      break;
    }
    case CJ_RULE_PROB: {
      if (P->kpairs) { st = pairsrow(P, &r, i, m, skip, C); break; }
      if (P->p <= 0) break;
      if (P->p >= 1) {
        if ((st = reserve(&C->post, C->post.n + m))) break;
        for (int64_t c = 0; c < m; c++) C->post.v[C->post.n++] = (int32_t)candidate(P->postlo, c, skip);
        break;
      }
      for (int64_t pos = -1;;) {   /* geometric gaps: exact Bernoulli(p) per candidate */
        if (ngap == GAPS) { cj_geom_fill(&geo, &r, gaps, GAPS); ngap = 0; }
        const int64_t g = gaps[ngap++];
        if (g >= m - pos - 1) break;
        pos += 1 + g;
        if ((st = push(&C->post, (int32_t)candidate(P->postlo, pos, skip)))) break;
      }
      break;
    }
    case CJ_RULE_OUTDEG:
      if (P->k > m) {
        st = cj_fail(CJ_EINVAL, "projection '%s': fixed out-degree %lld exceeds the %lld possible targets of neuron %lld",
                     P->name, (long long)P->k, (long long)m, (long long)i);
        break;
      }
      if ((st = choose(&S, &r, m, P->k, chosen)) || (st = reserve(&C->post, C->post.n + P->k))) break;
      for (int64_t c = 0; c < P->k; c++) C->post.v[C->post.n++] = (int32_t)candidate(P->postlo, chosen[c], skip);
      break;
    }
  }
  C->rowptr[A->n] = C->post.n;
  cj_free(chosen);
  cj_free(S.tab);
  cj_free(C->cpre); cj_free(C->cpost); cj_free(C->prob);
  return st;
}

/* Fixed in-degree: sources chosen per target, then sorted into CSR rows. */
static int connindeg(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  int64_t nb = P->posthi - P->postlo + 1, na = P->prehi - P->prelo + 1, k = P->k;
  int excl = P->pre == P->post && !P->self;
  int64_t *src, *fill;
  sampler S = { NULL, 0 };
  cj_rng r;
  int st = 0;
  if (k < 0) return cj_fail(CJ_EINVAL, "projection '%s': in-degree must be >= 0", P->name);
  if (excl && P->postlo <= P->prehi && P->prelo <= P->posthi && k > na - 1)
    return cj_fail(CJ_EINVAL, "projection '%s': fixed in-degree %lld exceeds the %lld possible sources",
                   P->name, (long long)k, (long long)na - 1);
  if (k > na)
    return cj_fail(CJ_EINVAL, "projection '%s': fixed in-degree %lld exceeds the %lld possible sources",
                   P->name, (long long)k, (long long)na);
  if ((uint64_t)k * (uint64_t)nb > INT32_MAX * 4ull)
    return cj_fail(CJ_EINVAL, "projection '%s': too many synapses", P->name);
  cj_rng_init(&r, net->seed, 1000 + (uint64_t)pid + 1);
  src = cj_malloc((size_t)(k * nb > 0 ? k * nb : 1) * sizeof *src);
  fill = cj_calloc((size_t)A->n + 1, sizeof *fill);
  if (!src || !fill || reserve(&C->post, k * nb)) { cj_free(src); cj_free(fill); return nomem(); }
  for (int64_t jj = 0; jj < nb && !st; jj++) {
    int64_t j = P->postlo + jj;
    if ((st = stopped(net, P, jj, nb))) break;
    int64_t skip = excl && j >= P->prelo && j <= P->prehi ? j : -1;
    int64_t *out = src + jj * k;
    if (!(st = choose(&S, &r, na - (skip >= 0), k, out)))
      for (int64_t c = 0; c < k; c++) { out[c] = candidate(P->prelo, out[c], skip); fill[out[c]]++; }
  }
  if (!st) {
    int64_t acc = 0;
    for (int64_t i = 0; i < A->n; i++) { C->rowptr[i] = acc; acc += fill[i]; fill[i] = C->rowptr[i]; }
    C->rowptr[A->n] = acc;
    for (int64_t jj = 0; jj < nb; jj++)      /* targets ascending: rows come out sorted */
      for (int64_t c = 0; c < k; c++) C->post.v[fill[src[jj * k + c]]++] = (int32_t)(P->postlo + jj);
    C->post.n = acc;
  }
  cj_free(src); cj_free(fill); cj_free(S.tab);
  return st;
}

typedef struct akey { int64_t i, j, at; } akey;

static int cmpakey(const void *a, const void *b)
{
  const akey *x = a, *y = b;
  if (x->i != y->i) return x->i < y->i ? -1 : 1;
  if (x->j != y->j) return x->j < y->j ? -1 : 1;
  return (x->at > y->at) - (x->at < y->at);
}

/* Synapses from arrays (relative to the slices), sorted by (pre, post),
 * keeping the given order of duplicates; the var values follow. */
static int connarrays(cj_net *net, proj *P, conn *C)
{
  pop *A = &net->pop[P->pre];
  int64_t na = P->prehi - P->prelo + 1, nb = P->posthi - P->postlo + 1;
  akey *keys = cj_malloc((size_t)(P->na > 0 ? P->na : 1) * sizeof *keys);
  if (!keys) return nomem();
  for (int64_t s = 0; s < P->na; s++) {
    if (P->ai[s] < 0 || P->ai[s] >= na || P->aj[s] < 0 || P->aj[s] >= nb) {
      int st = cj_fail(CJ_ERANGE, "projection '%s': synapse %lld (i = %lld, j = %lld) outside the %lld x %lld slice",
                       P->name, (long long)s + 1, (long long)P->ai[s], (long long)P->aj[s], (long long)na, (long long)nb);
      cj_free(keys);
      return st;
    }
    keys[s] = (akey){ P->prelo + P->ai[s], P->postlo + P->aj[s], s };
  }
  qsort(keys, (size_t)P->na, sizeof *keys, cmpakey);
  if (reserve(&C->post, P->na) ||
      !(P->arrvals = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->arrvals))) {
    cj_free(keys);
    return nomem();
  }
  for (int v = 0; v < P->nvars; v++) {
    if (!P->inval[v]) continue;
    if (!(P->arrvals[v] = cj_malloc((size_t)(P->na > 0 ? P->na : 1) * sizeof(double)))) { cj_free(keys); return nomem(); }
    for (int64_t s = 0; s < P->na; s++) P->arrvals[v][s] = P->inval[v][keys[s].at];
  }
  int64_t s = 0;
  for (int64_t i = 0; i < A->n; i++) {
    C->rowptr[i] = s;
    while (s < P->na && keys[s].i == i) C->post.v[s] = (int32_t)keys[s].j, s++;
  }
  C->rowptr[A->n] = s;
  C->post.n = s;
  cj_free(keys);
  return 0;
}

static int checkslices(cj_net *net, proj *P)
{
  pop *A = &net->pop[P->pre], *B = &net->pop[P->post];
  if (P->prelo < 0 || P->prehi >= A->n || P->prelo > P->prehi)
    return cj_fail(CJ_ERANGE, "projection '%s': pre slice %lld..%lld outside population '%s' (0..%lld)",
                   P->name, (long long)P->prelo, (long long)P->prehi, A->name, (long long)A->n - 1);
  if (P->postlo < 0 || P->posthi >= B->n || P->postlo > P->posthi)
    return cj_fail(CJ_ERANGE, "projection '%s': post slice %lld..%lld outside population '%s' (0..%lld)",
                   P->name, (long long)P->postlo, (long long)P->posthi, B->name, (long long)B->n - 1);
  if (P->rule == CJ_RULE_ONE && P->prehi - P->prelo != P->posthi - P->postlo)
    return cj_fail(CJ_EINVAL, "projection '%s': one-to-one needs slices of equal size (%lld and %lld)",
                   P->name, (long long)(P->prehi - P->prelo + 1), (long long)(P->posthi - P->postlo + 1));
  if (P->rule == CJ_RULE_PROB && !(P->p >= 0 && P->p <= 1))
    return cj_fail(CJ_EINVAL, "projection '%s': probability %g outside [0, 1]", P->name, P->p);
  if ((P->rule == CJ_RULE_OUTDEG || P->rule == CJ_RULE_INDEG) && P->k < 0)
    return cj_fail(CJ_EINVAL, "projection '%s': degree %lld must be >= 0", P->name, (long long)P->k);
  return 0;
}

/* Build the CSR of projection pid; leaves spost/rowptr/spre/nsyn set. */
static int connect(cj_net *net, proj *P, int pid)
{
  pop *A = &net->pop[P->pre];
  conn C = { { NULL, 0, 0 }, NULL, NULL, NULL, NULL };
  int st;
  if ((st = checkslices(net, P))) return st;
  if (!(C.rowptr = cj_calloc((size_t)A->n + 1, sizeof *C.rowptr))) return nomem();
  if (P->rule == CJ_RULE_INDEG) st = connindeg(net, P, pid, &C);
  else if (P->rule == CJ_RULE_ARRAYS) st = connarrays(net, P, &C);
  else st = connrule(net, P, pid, &C);
  if (!st && C.post.n > INT32_MAX * 4ll)
    st = cj_fail(CJ_EINVAL, "projection '%s': too many synapses (%lld)", P->name, (long long)C.post.n);
  if (st) { cj_free(C.rowptr); cj_free(C.post.v); return st; }
  P->rowptr = C.rowptr;
  P->spost = C.post.v;
  P->nsyn = C.post.n;
  if (!P->spost && !(P->spost = cj_malloc(sizeof *P->spost))) return nomem();
  return 0;
}

/* pre[s] of every synapse from rowptr, kept in P->spre (a no-op when made). */
static int makepre(cj_net *net, proj *P)
{
  if (P->spre) return 0;
  if (!(P->spre = bigalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->spre))) return nomem();
  for (int64_t i = 0; i < net->pop[P->pre].n; i++)
    for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++) P->spre[s] = (int32_t)i;
  return 0;
}

/* The pre neuron of synapse s: the row of rowptr holding s. */
static int32_t preof(const cj_net *net, const proj *P, int64_t s)
{
  int64_t lo = 0, hi = net->pop[P->pre].n - 1;
  if (P->spre) return P->spre[s];
  while (lo < hi) {                /* the last row starting at or before s */
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (P->rowptr[mid] <= s) lo = mid; else hi = mid - 1;
  }
  return (int32_t)lo;
}

/* rowptr from spre (restore), and the index by post neuron when needed. */
static int indexes(cj_net *net, proj *P)
{
  pop *A = &net->pop[P->pre], *B = &net->pop[P->post];
  if (!P->rowptr) {
    if (!(P->rowptr = cj_calloc((size_t)A->n + 1, sizeof *P->rowptr))) return nomem();
    for (int64_t s = 0; s < P->nsyn; s++) P->rowptr[P->spre[s] + 1]++;
    for (int64_t i = 0; i < A->n; i++) P->rowptr[i + 1] += P->rowptr[i];
  }
  if (!P->kpost) return 0;
  P->postptr = cj_calloc((size_t)B->n + 1, sizeof *P->postptr);
  P->postsyn = bigalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->postsyn);
  int64_t *fill = cj_calloc((size_t)B->n + 1, sizeof *fill);
  if (!P->postptr || !P->postsyn || !fill) { cj_free(fill); return nomem(); }
  for (int64_t s = 0; s < P->nsyn; s++) P->postptr[P->spost[s] + 1]++;
  for (int64_t j = 0; j < B->n; j++) { P->postptr[j + 1] += P->postptr[j]; fill[j] = P->postptr[j]; }
  for (int64_t s = 0; s < P->nsyn; s++) P->postsyn[fill[P->spost[s]]++] = s;
  cj_free(fill);
  return 0;
}

/* ---- binding kernels ---------------------------------------------------- */
static const char *const kindtext[] = { "stmts", "threshold", "sum" };

/* Resolve kernel kid for its owner: population `pp` (neuron domains) or
 * projection `pj` (synapse domains). */
static int bind(cj_net *net, bound *b, int kid, int domain, int kind, int pp, int pj, const char *what)
{
  kern *K = findkern(net, kid);
  const char *owner = pj >= 0 ? net->proj[pj].name : net->pop[pp].name;
  const char *okind = pj >= 0 ? "projection" : "population";
  if (!K) return cj_fail(CJ_EINVAL, "%s '%s': %s kernel %d is not defined", okind, owner, what, kid);
  if (K->domain != domain || K->kind != kind)
    return cj_fail(CJ_EINVAL, "%s '%s': %s kernel %d '%s' has domain '%s' and kind '%s' (expected '%s', '%s')",
                   okind, owner, what, kid, K->name, cj_domain_name(K->domain), kindtext[K->kind],
                   cj_domain_name(domain), kindtext[kind]);
  b->k = K;
  if (!(b->vars = cj_calloc((size_t)(K->nrefs > 0 ? K->nrefs : 1), sizeof *b->vars))) return nomem();
  for (int r = 0; r < K->nrefs; r++) {
    const cj_ref *ref = &K->refs[r];
    int hows = cj_prog_slothows(K->prog, r), ok;
    if (ref->owner == CJ_OWNER_PROJ) {
      ok = pj >= 0 && ref->id == pj && ref->var >= 0 && ref->var < net->proj[pj].nvars;
      if (ok) b->vars[r] = net->proj[pj].var[ref->var];
    } else {
      ok = ref->id >= 0 && ref->id < net->npop && ref->var >= 0 && ref->var < net->pop[ref->id].nvars;
      if (pj < 0) ok = ok && ref->id == pp;
      else {
        if (hows & (1 << CJ_HOW_PRE)) ok = ok && ref->id == net->proj[pj].pre;
        if (hows & (1 << CJ_HOW_POST)) ok = ok && ref->id == net->proj[pj].post;
      }
      if (ok) b->vars[r] = net->pop[ref->id].var[ref->var];
    }
    if (!ok)
      return cj_fail(CJ_EINVAL, "%s '%s': %s kernel %d '%s': ref %d (%s %d, var %d) is not a variable this kernel can reach",
                     okind, owner, what, kid, K->name, r + 1, ref->owner == CJ_OWNER_PROJ ? "proj" : "pop",
                     ref->id + 1, ref->var + 1);
  }
  memset(&b->c, 0, sizeof b->c);
  b->c.var = b->vars;
  b->c.dt = net->dt;
  b->c.key[0] = net->key[0]; b->c.key[1] = net->key[1];
  b->c.kid = (uint32_t)K->id;
  b->c.philox = cj_philox;
  if (pj >= 0) {
    proj *P = &net->proj[pj];
    b->c.pre = P->spre; b->c.post = P->spost;
    b->c.n = P->nsyn;
    b->c.npop = net->pop[P->post].n;
  } else {
    pop *P = &net->pop[pp];
    b->c.n = P->n;
    b->c.npop = P->n;
    b->c.lastspike = P->lastspike;
    b->c.refractory = P->refbound;
    b->c.spikes = P->spk;
    b->c.nspikes = &P->nspk;
    b->c.result = &P->ratev;
  }
  return 0;
}

static int bindpop(cj_net *net, int p)
{
  pop *P = &net->pop[p];
  int st = 0;
  if (P->kinit) st = bind(net, &P->init, P->kinit, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "init");
  if (!st && P->kupdate) st = bind(net, &P->update, P->kupdate, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "update");
  if (!st && P->kthresh) st = bind(net, &P->thresh, P->kthresh, CJ_DOM_NEURONS, CJ_KK_THRESHOLD, p, -1, "threshold");
  if (!st && P->kreset) st = bind(net, &P->reset, P->kreset, CJ_DOM_SPIKES, CJ_KK_STMTS, p, -1, "reset");
  if (!st && P->krate) st = bind(net, &P->ratek, P->krate, CJ_DOM_SCALAR, CJ_KK_STMTS, p, -1, "rate");
  if (!st && P->kdefs) st = bind(net, &P->defs, P->kdefs, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "definitions");
  return st;
}

static int readspre(const bound *b) { return b->k && cj_prog_useshow(b->k->prog, CJ_HOW_PRE); }

static int bindproj(cj_net *net, int j)
{
  proj *P = &net->proj[j];
  int st = 0;
  if (P->kinit) st = bind(net, &P->init, P->kinit, CJ_DOM_SYNAPSES, CJ_KK_STMTS, -1, j, "init");
  if (!st && P->kupdate) st = bind(net, &P->update, P->kupdate, CJ_DOM_SYNAPSES, CJ_KK_STMTS, -1, j, "update");
  if (!st && P->kpre) st = bind(net, &P->onpre, P->kpre, CJ_DOM_EVENTS, CJ_KK_STMTS, -1, j, "on_pre");
  if (!st && P->kpost) st = bind(net, &P->onpost, P->kpost, CJ_DOM_EVENTS, CJ_KK_STMTS, -1, j, "on_post");
  for (int i = 0; !st && i < P->nsum; i++) {
    sumk *S = &P->sums[i];
    pop *B = &net->pop[P->post];
    if (S->var < 0 || S->var >= B->nvars)
      return cj_fail(CJ_EINVAL, "projection '%s': summed variable %d out of range", P->name, S->var + 1);
    if (!(st = bind(net, &S->b, S->kid, CJ_DOM_SYNAPSES, CJ_KK_SUM, -1, j, "summed"))) {
      const cj_ref *r0 = &S->b.k->refs[0];
      if (r0->owner != CJ_OWNER_POP || r0->id != P->post || r0->var != S->var)
        return cj_fail(CJ_EINVAL, "projection '%s': summed kernel %d must name post variable '%s' as its first ref",
                       P->name, S->kid, B->vname[S->var]);
    }
  }
  /* pre[s] only for kernels that read it (i, or a variable of the pre
   * neuron); otherwise rowptr is enough and pre[] is not kept */
  bound *all[4] = { &P->init, &P->update, &P->onpre, &P->onpost };
  int usepre = 0;
  if (st) return st;
  for (int q = 0; q < 4; q++) usepre |= readspre(all[q]);
  for (int i = 0; i < P->nsum; i++) usepre |= readspre(&P->sums[i].b);
  if (usepre) {
    if ((st = makepre(net, P))) return st;
    for (int q = 0; q < 4; q++) all[q]->c.pre = P->spre;
    for (int i = 0; i < P->nsum; i++) P->sums[i].b.c.pre = P->spre;
  } else {
    cj_free(P->spre);              /* read by a restore, or asked for before */
    P->spre = NULL;
  }
  /* synapse variables written while running are checked for NaN */
  bound *bs[3] = { &P->update, &P->onpre, &P->onpost };
  for (int q = 0; q < 3; q++)
    for (int r = 0; bs[q]->k && r < bs[q]->k->nrefs; r++)
      if (bs[q]->k->refs[r].owner == CJ_OWNER_PROJ && cj_prog_writes(bs[q]->k->prog, r))
        P->checked[bs[q]->k->refs[r].var] = 1;
  return st;
}

/* ---- allocation and initial state --------------------------------------- */
static int allocpop(cj_net *net, pop *P)
{
  int64_t ref = cj_timestep(P->refractory, net->dt);
  P->refbound = ref >= 1 ? ((double)ref - 0.5) * net->dt : -INFINITY;
  if (!(P->var = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->var))) return nomem();
  for (int v = 0; v < P->nvars; v++)
    if (!(P->var[v] = bigcalloc((size_t)P->n, net->es))) return nomem();
  if (!(P->lastspike = cj_malloc((size_t)P->n * sizeof(double))) ||
      !(P->spk = cj_malloc((size_t)P->n * sizeof *P->spk))) return nomem();
  return 0;
}

/* History ring length: largest homogeneous delay of outgoing projections
 * that deliver events, plus one. */
static int allochist(cj_net *net, int p)
{
  pop *P = &net->pop[p];
  int64_t h = 0;
  for (int j = 0; j < net->nproj; j++)
    if (net->proj[j].pre == p && net->proj[j].kpre && net->proj[j].delay > h) h = net->proj[j].delay;
  if (h == 0) return 0;
  P->hlen = (int)(h + 1);
  if (!(P->hist = cj_calloc((size_t)P->hlen, sizeof *P->hist))) { P->hlen = 0; return nomem(); }
  return 0;
}

static int allocproj(cj_net *net, proj *P)
{
  if (!(P->var = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->var)) ||
      !(P->checked = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), 1))) return nomem();
  for (int v = 0; v < P->nvars; v++)
    if (!(P->var[v] = bigcalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1), net->es))) return nomem();
  return 0;
}

static void runinit(bound *b)
{
  b->c.step = INITSTEP;
  b->c.t = 0;
  run(b);
}

/* Heterogeneous delays: steps from the delay variable (seconds), rounded
 * as Brian rounds them, at least one step. */
static int setdelays(cj_net *net, proj *P)
{
  const void *dv = P->var[P->delay_var];
  int64_t maxd = 1;
  if (!P->dsteps && !(P->dsteps = cj_malloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->dsteps))) return nomem();
  for (int64_t s = 0; s < P->nsyn; s++) {
    const double ds = getx(net, dv, s), x = ds / net->dt;
    if (!(ds >= 0) || !(x < (double)MAXDELAY))
      return cj_fail(CJ_EINVAL, "projection '%s': synapse %lld (%d -> %d) has delay %g s (expected 0 .. %g s)",
                     P->name, (long long)s, preof(net, P, s), P->spost[s], ds, (double)MAXDELAY * net->dt);
    int64_t k = (int64_t)llround(x);
    P->dsteps[s] = (int32_t)(k < 1 ? 1 : k);
    if (P->dsteps[s] > maxd) maxd = P->dsteps[s];
  }
  if (!P->kpre) return 0;
  if (maxd + 1 > P->nbucket) {
    ivec *nb = cj_realloc(P->bucket, (size_t)(maxd + 1) * sizeof *nb);
    if (!nb) return nomem();
    memset(nb + P->nbucket, 0, (size_t)(maxd + 1 - P->nbucket) * sizeof *nb);
    P->bucket = nb;
    P->nbucket = maxd + 1;
  }
  P->maxd = maxd;
  return 0;
}

/* The recorded definitions of P from its current state (at step n). */
static void rundefs(cj_net *net, pop *P, int64_t n)
{
  if (!P->defs.k) return;
  P->defstep = n;
  P->defs.c.step = n;
  P->defs.c.t = (double)n * net->dt;
  run(&P->defs);
}

/* Poisson rates must fit one spike per step: rate dt <= 1 (IR.md §7). */
static int ratefail(cj_net *net, pop *P, int64_t i, double rate, int64_t n)
{
  char who[64] = "";
  if (i >= 0) snprintf(who, sizeof who, " of neuron %lld", (long long)i);
  return cj_fail(CJ_ERUNTIME, "network '%s': population '%s': the Poisson rate%s is %.6g Hz at t = %g s, more "
                 "than one spike per step can carry (at most 1/dt = %.6g Hz with dt = %g s): use a smaller dt, "
                 "or spread the rate over more neurons or a Poisson drive (drive VAR of POP from poisson(K, rate = R))",
                 net->name, P->name, who, rate, (double)n * net->dt, 1 / net->dt, net->dt);
}

static int checkrates(cj_net *net, pop *P, int64_t n)
{
  if (P->ratevar < 0) return 0;
  const void *x = P->var[P->ratevar];
  double worst = 0;
  for (int64_t i = 0; i < P->n; i++) {   /* a max first: no branch in the common case */
    const double r = getx(net, x, i);
    worst = r > worst ? r : worst;
  }
  if (worst * net->dt <= 1) return 0;
  for (int64_t i = 0; i < P->n; i++)
    if (getx(net, x, i) == worst) return ratefail(net, P, i, worst, n);
  return ratefail(net, P, -1, worst, n);
}

static void clearmon(mon *M)
{
  M->steps.n = M->ids.n = M->vals.n = 0;
  M->acc = 0;
}

/* State at step 0: zeros, then the initialisation kernels. */
static int startstate(cj_net *net)
{
  int st;
  net->step = 0;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) memset(P->var[v], 0, (size_t)P->n * net->es);
    for (int64_t i = 0; i < P->n; i++) P->lastspike[i] = -INFINITY;
    for (int h = 0; h < P->hlen; h++) P->hist[h].n = 0;
    P->nspk = 0;
    P->gpos = 0;
    cj_rng_init(&P->rng, net->seed, 2000 + (uint64_t)p + 1);
    if (P->init.k) runinit(&P->init);
    rundefs(net, P, 0);
    if ((st = checkrates(net, P, 0))) return st;
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    for (int v = 0; v < P->nvars; v++) memset(P->var[v], 0, (size_t)P->nsyn * net->es);
    if (P->init.k) runinit(&P->init);
    for (int v = 0; P->arrvals && v < P->nvars; v++)
      if (P->arrvals[v]) for (int64_t s = 0; s < P->nsyn; s++) putx(net, P->var[v], s, P->arrvals[v][s]);
    if (P->delay_var >= 0 && (st = setdelays(net, P))) return st;
    for (int64_t b = 0; b < P->nbucket; b++) P->bucket[b].n = 0;
  }
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    clearmon(M);
    if (M->file) {                    /* a fresh file */
      if (M->w && (st = cj_npy_writer_close(M->w))) { M->w = NULL; return st; }
      M->w = NULL;
      if ((st = openstream(net, M))) return st;
    }
  }
  return 0;
}

static int checkmon(cj_net *net, mon *M, int m)
{
  if (M->kind == CJ_MON_STATE) {
    int nv = M->proj >= 0 ? net->proj[M->proj].nvars : net->pop[M->pop].nvars;
    int64_t lim = M->proj >= 0 ? net->proj[M->proj].nsyn : net->pop[M->pop].n;
    if (M->var < 0 || M->var >= nv) return cj_fail(CJ_EINVAL, "monitor %d: variable %d out of range", m + 1, M->var + 1);
    if (M->nidx < 0) {            /* all neurons or synapses */
      cj_free(M->idx);
      if (!(M->idx = cj_malloc((size_t)(lim > 0 ? lim : 1) * sizeof *M->idx))) return nomem();
      for (int64_t k = 0; k < lim; k++) M->idx[k] = k;
      M->nidx = lim;
    }
    for (int64_t k = 0; k < M->nidx; k++)
      if (M->idx[k] < 0 || M->idx[k] >= lim)
        return cj_fail(CJ_ERANGE, "monitor %d: index %lld out of range 0..%lld", m + 1, (long long)M->idx[k], (long long)lim - 1);
  } else {
    int64_t n = net->pop[M->pop].n;
    if (M->lo < 0 || M->hi >= n || M->lo > M->hi)
      return cj_fail(CJ_ERANGE, "monitor %d: range %lld..%lld outside population '%s' (0..%lld)", m + 1,
                     (long long)M->lo, (long long)M->hi, net->pop[M->pop].name, (long long)n - 1);
  }
  return 0;
}

/* Everything but connectivity and state: shared by build and restore. */
static int prepare(cj_net *net)
{
  int st;
  if (net->built) return cj_fail(CJ_EINVAL, "network '%s' is already built", net->name);
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if ((st = allocpop(net, P)) || (st = allochist(net, p))) return st;
    if (P->kind == CJ_POP_NEURON && P->spiking && !P->kthresh)
      return cj_fail(CJ_EINVAL, "population '%s': spiking neurons need a threshold kernel", P->name);
    if (P->kind == CJ_POP_POISSON && P->krate == 0 && !(P->rate >= 0))
      return cj_fail(CJ_EINVAL, "population '%s': bad Poisson rate", P->name);
    if (P->kind == CJ_POP_POISSON && P->krate == 0 && P->rate * net->dt > 1)
      return ratefail(net, P, -1, P->rate, 0);
  }
  return 0;
}

static int finish(cj_net *net)
{
  int st;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if ((st = indexes(net, P)) || (st = allocproj(net, P))) return st;
    if (P->kpre && P->delay_var < 0 && P->delay < 1)
      return cj_fail(CJ_EINVAL, "projection '%s': delay must be >= 1 step", P->name);
  }
  for (int p = 0; p < net->npop; p++) if ((st = bindpop(net, p))) return st;
  for (int j = 0; j < net->nproj; j++) if ((st = bindproj(net, j))) return st;
  for (int m = 0; m < net->nmon; m++) if ((st = checkmon(net, &net->mon[m], m))) return st;
  return 0;
}

int cj_net_build(cj_net *net)
{
  int st;
  if ((st = prepare(net))) return st;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if ((st = stopped(net, P, 0, P->prehi - P->prelo + 1)) || (st = connect(net, P, j))) return st;
    for (int v = 0; P->inval && v < P->nvars; v++) { cj_free(P->inval[v]); P->inval[v] = NULL; }
  }
  if ((st = finish(net)) || (st = startstate(net))) return st;
  net->built = 1;
  return 0;
}

int cj_net_reset(cj_net *net)
{
  if (!net->built) return cj_fail(CJ_EINVAL, "network '%s' is not built", net->name);
  return startstate(net);
}

/* ---- the time step (IR.md §3) ------------------------------------------- */
static void settime(bound *b, int64_t n, double t)
{
  b->c.step = n;
  b->c.t = t;
}

/* Deliver the events due now to the on_pre kernel of projection P. */
static int deliver(cj_net *net, proj *P, int64_t n, double t)
{
  const int64_t *list;
  int64_t count;
  if (P->delay_var >= 0) {
    ivec *b = &P->bucket[n % P->nbucket];
    list = b->v; count = b->n;
    b->n = 0;                      /* the kernel runs before anything is pushed again */
  } else {
    pop *A = &net->pop[P->pre];
    int64_t slot = n % A->hlen - P->delay;       /* delay < hlen */
    ivec *h = &A->hist[slot < 0 ? slot + A->hlen : slot];
    const int64_t *rp = P->rowptr;
    int64_t total = 0, m = 0;
    for (int64_t k = 0; k < h->n; k++) total += rp[h->v[k] + 1] - rp[h->v[k]];
    if (total == 0) return 0;
    if (reserve(&P->ev, total)) return CJ_ENOMEM;
    for (int64_t k = 0; k < h->n; k++) {         /* each row is a run of synapse ids */
      const int64_t s0 = rp[h->v[k]], len = rp[h->v[k] + 1] - s0;
      int64_t *restrict dst = P->ev.v + m;
      for (int64_t q = 0; q < len; q++) dst[q] = s0 + q;
      m += len;
    }
    list = P->ev.v; count = m;
  }
  if (count == 0) return 0;
  settime(&P->onpre, n, t);
  P->onpre.c.list = list;
  P->onpre.c.n = count;
  run(&P->onpre);
  return 0;
}

static void drive1(cj_net *net, pop *P, drive *D, double t)
{
  int64_t row = (int64_t)floor((t + 1e-3 * net->dt) / D->interval);
  void *x = P->var[D->var];
  const double *vals;
  if (row >= D->rows) row = D->rows - 1;
  if (row < 0) row = 0;
  vals = D->values + row * D->cols;
  if (!D->idx) {
    if (D->cols == 1) for (int64_t i = 0; i < P->n; i++) putx(net, x, i, vals[0]);
    else for (int64_t i = 0; i < P->n; i++) putx(net, x, i, vals[i]);
  } else {
    for (int64_t k = 0; k < D->nidx; k++) putx(net, x, D->idx[k], D->cols == 1 ? vals[0] : vals[k]);
  }
}

/* Poisson drives of P at step n: var += weight * Binomial(n_sources, rate dt)
 * per neuron, each draw from its own counter range (IR.md §4): stream
 * 2^62 + step, blocks from (neuron << 32) | (drive << 20). */
static void pinputs(cj_net *net, pop *P, int64_t n)
{
  for (int q = 0; q < P->npin; q++) {
    const pinput *I = &P->pin[q];
    void *x = P->var[I->var];
    if (I->B.kind == CJ_BINOM_ZERO) continue;
    for (int64_t i = I->lo; i <= I->hi; i++) {
      cj_rng r;
      cj_rng_init(&r, net->seed, (UINT64_C(1) << 62) | (uint64_t)n);
      r.counter = ((uint64_t)i << 32) | ((uint64_t)q << 20);
      const int64_t k = cj_binom_draw(&I->B, &r);
      if (k > 0) putx(net, x, i, getx(net, x, i) + I->weight * (double)k);
    }
  }
}

static void poisson(pop *P, double p)
{
  P->nspk = 0;
  if (!(p > 0)) return;
  if (p >= 1) { for (int64_t i = 0; i < P->n; i++) P->spk[i] = i; P->nspk = P->n; return; }
  double lq = log1p(-p);
  for (int64_t i = -1;;) {        /* geometric gaps: exact Bernoulli(p) per neuron */
    double g = floor(log1p(-cj_rng_uniform(&P->rng)) / lq);
    if (!(g < (double)(P->n - i - 1))) break;
    i += 1 + (int64_t)g;
    P->spk[P->nspk++] = i;
  }
}

static int threshold(cj_net *net, pop *P, int64_t n, double t)
{
  P->nspk = 0;
  if (P->kind == CJ_POP_NEURON) {
    if (!P->spiking || !P->thresh.k) return 0;
    settime(&P->thresh, n, t);
    run(&P->thresh);
  } else if (P->kind == CJ_POP_POISSON) {
    double rate = P->rate;
    if (P->ratek.k) { settime(&P->ratek, n, t); run(&P->ratek); rate = P->ratev; }
    if (rate * net->dt > 1) return ratefail(net, P, -1, rate, n);
    poisson(P, rate * net->dt);
  } else {
    while (P->gpos < P->ng && P->gstep[P->gpos] < n) P->gpos++;   /* times before a restore point */
    while (P->gpos < P->ng && P->gstep[P->gpos] == n) P->spk[P->nspk++] = P->gidx[P->gpos++];
  }
  for (int64_t k = 0; k < P->nspk; k++) P->lastspike[P->spk[k]] = t;
  return 0;
}

static int postevents(cj_net *net, proj *P, int64_t n, double t)
{
  pop *B = &net->pop[P->post];
  int64_t total = 0, m = 0;
  for (int64_t k = 0; k < B->nspk; k++) total += P->postptr[B->spk[k] + 1] - P->postptr[B->spk[k]];
  if (total == 0) return 0;
  if (reserve(&P->ev, total)) return CJ_ENOMEM;
  for (int64_t k = 0; k < B->nspk; k++)
    for (int64_t q = P->postptr[B->spk[k]], e = P->postptr[B->spk[k] + 1]; q < e; q++) P->ev.v[m++] = P->postsyn[q];
  settime(&P->onpost, n, t);
  P->onpost.c.list = P->ev.v;
  P->onpost.c.n = m;
  run(&P->onpost);
  return 0;
}

static int queue(cj_net *net, int64_t n)
{
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (!P->hlen) continue;
    ivec *h = &P->hist[n % P->hlen];
    if (reserve(h, P->nspk)) return CJ_ENOMEM;
    if (P->nspk) memcpy(h->v, P->spk, (size_t)P->nspk * sizeof *h->v);
    h->n = P->nspk;
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    pop *A = &net->pop[P->pre];
    if (P->delay_var < 0 || !P->kpre) continue;
    for (int64_t k = 0; k < A->nspk; k++) {
      int64_t i = A->spk[k];
      for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++)
        if (push(&P->bucket[(n + P->dsteps[s]) % P->nbucket], s)) return CJ_ENOMEM;
    }
  }
  return 0;
}

/* ---- streaming monitors ---------------------------------------------------
 * A monitor with a file keeps at most STREAMROWS rows in memory; the rest is
 * in the .npy file: spikes as (N, 2) float64 rows [time (s), index], state
 * as (rows, indices) float64 values (row r recorded at step r * every since
 * reset), rate as a 1-D float64 array (Hz, one value per window). */
#define STREAMROWS 65536

static int64_t bufrows(const mon *M)
{
  return M->kind == CJ_MON_SPIKES ? M->ids.n : M->kind == CJ_MON_STATE ? M->steps.n : M->vals.n;
}

static int openstream(cj_net *net, mon *M)
{
  int64_t row[1] = { M->kind == CJ_MON_SPIKES ? 2 : M->nidx };
  (void)net;
  if (cj_npy_writer_open_own(&M->w, M->file, CJ_F64, M->kind == CJ_MON_RATE ? 0 : 1, row)) {
    cj_errprefix("monitor file");
    return CJ_EIO;
  }
  M->written = 0;
  return 0;
}

/* Move the buffered rows of M to its file. */
static int drain(cj_net *net, mon *M)
{
  int64_t n = bufrows(M);
  int st = 0;
  if (!M->w || n == 0) return 0;
  if (M->kind == CJ_MON_SPIKES) {
    double buf[2 * 512];
    for (int64_t k0 = 0; k0 < n && !st; k0 += 512) {
      int64_t m = n - k0 < 512 ? n - k0 : 512;
      for (int64_t k = 0; k < m; k++) {
        buf[2 * k] = (double)M->steps.v[k0 + k] * net->dt;
        buf[2 * k + 1] = (double)M->ids.v[k0 + k];
      }
      st = cj_npy_writer_append(M->w, buf, m);
    }
  } else {
    st = cj_npy_writer_append(M->w, M->vals.v, n);
  }
  if (st) return st;
  M->written += n;
  M->steps.n = M->ids.n = M->vals.n = 0;
  return 0;
}

int cj_net_flush(cj_net *net)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    int st;
    if (!M->w) continue;
    if ((st = drain(net, M)) || (st = cj_npy_writer_flush(M->w))) return st;
  }
  return 0;
}

static int drainfull(cj_net *net, mon *M)
{
  return M->w && bufrows(M) >= STREAMROWS ? drain(net, M) : 0;
}

/* State monitors record the state at time n dt, before step n runs (Brian2's
 * StateMonitor, when = 'start'): the initial state first. Definitions of a
 * population are evaluated from that state first. */
static int recstate(cj_net *net, int64_t n)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->kind != CJ_MON_STATE || n % M->every) continue;
    if (M->proj < 0 && net->pop[M->pop].defstep != n) rundefs(net, &net->pop[M->pop], n);
    const void *x = M->proj >= 0 ? net->proj[M->proj].var[M->var] : net->pop[M->pop].var[M->var];
    if (reserve(&M->vals, M->vals.n + M->nidx) || push(&M->steps, n)) return CJ_ENOMEM;
    for (int64_t k = 0; k < M->nidx; k++) M->vals.v[M->vals.n++] = getx(net, x, M->idx[k]);
    int st = drainfull(net, M);
    if (st) return st;
  }
  return 0;
}

/* Spikes and rates of step n, after its threshold. */
static int record(cj_net *net, int64_t n)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->kind == CJ_MON_SPIKES) {
      pop *P = &net->pop[M->pop];
      if (reserve(&M->steps, M->steps.n + P->nspk) || reserve(&M->ids, M->ids.n + P->nspk)) return CJ_ENOMEM;
      for (int64_t k = 0; k < P->nspk; k++)
        if (P->spk[k] >= M->lo && P->spk[k] <= M->hi) {
          M->steps.v[M->steps.n++] = n;
          M->ids.v[M->ids.n++] = (int32_t)P->spk[k];
        }
    } else if (M->kind == CJ_MON_RATE) {
      pop *P = &net->pop[M->pop];
      for (int64_t k = 0; k < P->nspk; k++) M->acc += P->spk[k] >= M->lo && P->spk[k] <= M->hi;
      if ((n + 1) % M->every == 0) {
        if (push(&M->vals, (double)M->acc / ((double)(M->hi - M->lo + 1) * (double)M->every * net->dt)))
          return CJ_ENOMEM;
        M->acc = 0;
      }
    } else continue;
    int st = drainfull(net, M);
    if (st) return st;
  }
  return 0;
}

static int onestep(cj_net *net)
{
  const int64_t n = net->step;
  const double t = (double)n * net->dt;
  int st;
  if ((st = recstate(net, n))) return st;                              /* 0 state monitors */
  for (int j = 0; j < net->nproj; j++)                                  /* 1 deliver */
    if (net->proj[j].kpre && (st = deliver(net, &net->proj[j], n, t))) return st;
  for (int p = 0; p < net->npop; p++) {                                 /* 2 Poisson drives, drives */
    if (net->pop[p].npin) pinputs(net, &net->pop[p], n);
    for (int d = 0; d < net->pop[p].ndrv; d++) drive1(net, &net->pop[p], &net->pop[p].drv[d], t);
  }
  for (int j = 0; j < net->nproj; j++) {                                /* 3 summed */
    proj *P = &net->proj[j];
    void **x = net->pop[P->post].var;
    for (int i = 0; i < P->nsum; i++)
      memset((char *)x[P->sums[i].var] + (size_t)P->postlo * net->es, 0, (size_t)(P->posthi - P->postlo + 1) * net->es);
  }
  for (int j = 0; j < net->nproj; j++)
    for (int i = 0; i < net->proj[j].nsum; i++) {
      bound *b = &net->proj[j].sums[i].b;
      settime(b, n, t);
      run(b);
    }
  for (int p = 0; p < net->npop; p++) {                                 /* 4 update */
    pop *P = &net->pop[p];
    if (!P->update.k) continue;
    settime(&P->update, n, t);
    run(&P->update);
    if ((st = checkrates(net, P, n))) return st;
  }
  for (int j = 0; j < net->nproj; j++)
    if (net->proj[j].update.k) { settime(&net->proj[j].update, n, t); run(&net->proj[j].update); }
  for (int p = 0; p < net->npop; p++)                                   /* 5 threshold */
    if ((st = threshold(net, &net->pop[p], n, t))) return st;
  for (int p = 0; p < net->npop; p++) {                                 /* 6 reset */
    pop *P = &net->pop[p];
    if (!P->reset.k || !P->nspk) continue;
    settime(&P->reset, n, t);
    P->reset.c.list = P->spk;
    P->reset.c.n = P->nspk;
    run(&P->reset);
  }
  for (int j = 0; j < net->nproj; j++)                                  /* 7 post events */
    if (net->proj[j].kpost && (st = postevents(net, &net->proj[j], n, t))) return st;
  if ((st = queue(net, n)) || (st = record(net, n))) return st;         /* 8, 9 spikes, rates */
  net->step = n + 1;                                                    /* 10 */
  return 0;
}

/* Index of the first NaN or infinity in x[0..n), or -1: a branch-free scan
 * of the exponent bits, then the exact place in the block that has one. */
static int64_t firstbad(const double *x, int64_t n)
{
  for (int64_t b = 0; b < n; b += 256) {
    const int64_t e = n - b < 256 ? n : b + 256;
    uint64_t bad = 0;
    for (int64_t i = b; i < e; i++) {
      uint64_t u;
      memcpy(&u, x + i, sizeof u);
      bad |= (~u & 0x7FF0000000000000ull) == 0;
    }
    if (bad)
      for (int64_t i = b; i < e; i++) if (!isfinite(x[i])) return i;
  }
  return -1;
}

static int64_t firstbadf(const float *x, int64_t n)
{
  for (int64_t b = 0; b < n; b += 256) {
    const int64_t e = n - b < 256 ? n : b + 256;
    uint32_t bad = 0;
    for (int64_t i = b; i < e; i++) {
      uint32_t u;
      memcpy(&u, x + i, sizeof u);
      bad |= (~u & 0x7F800000u) == 0;
    }
    if (bad)
      for (int64_t i = b; i < e; i++) if (!isfinite(x[i])) return i;
  }
  return -1;
}

static int64_t firstbadx(const cj_net *net, const void *x, int64_t n)
{
  return net->single ? firstbadf(x, n) : firstbad(x, n);
}

/* The first non-finite value of a checked variable. */
static int nancheck(cj_net *net)
{
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) {
      const void *x = P->var[v];
      int64_t i = firstbadx(net, x, P->n);
      if (i >= 0)
        return cj_fail(CJ_ERUNTIME, "network '%s': population '%s', variable '%s', neuron %lld is %s "
                       "at step %lld (t = %g s; state is checked every %lld steps)",
                       net->name, P->name, P->vname[v], (long long)i, isnan(getx(net, x, i)) ? "NaN" : "infinite",
                       (long long)net->step, (double)net->step * net->dt, (long long)net->chunk);
    }
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    for (int v = 0; v < P->nvars; v++) {
      if (!P->checked[v]) continue;
      int64_t s = firstbadx(net, P->var[v], P->nsyn);
      if (s >= 0)
        return cj_fail(CJ_ERUNTIME, "network '%s': projection '%s', variable '%s', synapse %lld (%d -> %d) is %s "
                       "at step %lld (t = %g s; state is checked every %lld steps)",
                       net->name, P->name, P->vname[v], (long long)s, preof(net, P, s), P->spost[s],
                       isnan(getx(net, P->var[v], s)) ? "NaN" : "infinite", (long long)net->step,
                       (double)net->step * net->dt, (long long)net->chunk);
    }
  }
  return 0;
}

/* Definitions as of the current step, for reads between runs. */
static void enddefs(cj_net *net)
{
  for (int p = 0; p < net->npop; p++) rundefs(net, &net->pop[p], net->step);
}

int cj_net_run(cj_net *net, int64_t nsteps, cj_progressf progress, void *ud)
{
  int st;
  if (!net->built) return cj_fail(CJ_EINVAL, "network '%s' is not built", net->name);
  if (nsteps < 0) return cj_fail(CJ_EINVAL, "run: number of steps must be >= 0, got %lld", (long long)nsteps);
  for (int p = 0; p < net->npop; p++) net->pop[p].defstep = -1;   /* state may have been written */
  for (int64_t done = 0; done < nsteps;) {
    int64_t m = net->chunk - net->step % net->chunk;   /* chunks end at multiples of chunk */
    if (m > nsteps - done) m = nsteps - done;
    for (int64_t k = 0; k < m; k++)
      if ((st = onestep(net))) return st;
    done += m;
    if ((st = nancheck(net))) { cj_net_flush(net); return st; }
    if (progress && progress(ud, done, nsteps)) {
      enddefs(net);
      cj_net_flush(net);
      return cj_fail(CJ_ERUNTIME, "network '%s': interrupted at step %lld (t = %g s)", net->name,
                     (long long)net->step, (double)net->step * net->dt);
    }
  }
  enddefs(net);
  return cj_net_flush(net);
}

/* ---- save / restore ------------------------------------------------------- */
#define MAGIC "CAJALNET"
#define FORMAT 2u

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  if (!n) return h;                  /* p may be NULL (an empty list): no arithmetic on it */
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
  return h;
}

static uint64_t fnvstr(uint64_t h, const char *s) { return fnv(h, s, strlen(s) + 1); }
static uint64_t fnvi(uint64_t h, int64_t x) { return fnv(h, &x, sizeof x); }

/* What must agree between a saved network and the one restoring it. */
static uint64_t shape(const cj_net *net)
{
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnvi(h, net->npop); h = fnvi(h, net->nproj); h = fnvi(h, net->nmon);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    h = fnvstr(h, P->name); h = fnvi(h, P->n); h = fnvi(h, P->kind); h = fnvi(h, P->nvars);
    for (int v = 0; v < P->nvars; v++) h = fnvstr(h, P->vname[v]);
    h = fnvi(h, P->hlen); h = fnvi(h, P->ng);
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    h = fnvstr(h, P->name); h = fnvi(h, P->pre); h = fnvi(h, P->post);
    h = fnvi(h, P->prelo); h = fnvi(h, P->prehi); h = fnvi(h, P->postlo); h = fnvi(h, P->posthi);
    h = fnvi(h, P->nvars); h = fnvi(h, P->delay); h = fnvi(h, P->delay_var); h = fnvi(h, P->kpre != 0);
    for (int v = 0; v < P->nvars; v++) h = fnvstr(h, P->vname[v]);
  }
  for (int m = 0; m < net->nmon; m++) {
    const mon *M = &net->mon[m];
    h = fnvi(h, M->kind); h = fnvi(h, M->pop); h = fnvi(h, M->proj); h = fnvi(h, M->var);
    h = fnvi(h, M->lo); h = fnvi(h, M->hi); h = fnvi(h, M->every);
    /* "every neuron": its indices are made when the network is built, after
     * a restore has compared shapes */
    h = fnvi(h, M->all ? -1 : M->nidx);
    if (!M->all) h = fnv(h, M->idx, (size_t)M->nidx * sizeof *M->idx);
  }
  return h;
}

typedef struct wr { FILE *f; uint64_t h; int err; } wr;

static void wbytes(wr *w, const void *p, size_t n)
{
  if (w->err || !n) return;
  if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
  w->h = fnv(w->h, p, n);
}

static void wi64(wr *w, int64_t x) { wbytes(w, &x, sizeof x); }
static void wf64(wr *w, double x) { wbytes(w, &x, sizeof x); }
static void wivec(wr *w, const ivec *v) { wi64(w, v->n); wbytes(w, v->v, (size_t)v->n * sizeof *v->v); }

/* pre[s] of every synapse, from rowptr when pre[] is not kept. */
static void wpre(wr *w, const cj_net *net, const proj *P)
{
  int32_t buf[4096];
  int n = 0;
  if (P->spre) { wbytes(w, P->spre, (size_t)P->nsyn * sizeof *P->spre); return; }
  for (int64_t i = 0; i < net->pop[P->pre].n; i++)
    for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++) {
      buf[n++] = (int32_t)i;
      if (n == 4096) { wbytes(w, buf, sizeof buf); n = 0; }
    }
  wbytes(w, buf, (size_t)n * sizeof *buf);
}

static void wrng(wr *w, const cj_rng *r)
{
  wi64(w, (int64_t)r->seed); wi64(w, (int64_t)r->stream); wi64(w, (int64_t)r->counter);
  for (int i = 0; i < 4; i++) wi64(w, r->buf[i]);
  wi64(w, r->used); wi64(w, r->has_spare); wf64(w, r->spare);
}

static void wstate(wr *w, const cj_net *net, const void *meta, size_t metalen)
{
  const uint32_t hdr[4] = { FORMAT, 0x01020304u, CJ_KERNEL_ABI, (uint32_t)net->single };  /* [3]: precision */
  wbytes(w, MAGIC, 8);
  wbytes(w, hdr, sizeof hdr);
  wi64(w, (int64_t)metalen);
  wbytes(w, meta, metalen);
  wi64(w, (int64_t)shape(net)); wf64(w, net->dt); wi64(w, (int64_t)net->seed); wi64(w, net->step);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->n * net->es);
    wbytes(w, P->lastspike, (size_t)P->n * sizeof(double));
    for (int h = 0; h < P->hlen; h++) wivec(w, &P->hist[h]);
    wrng(w, &P->rng);
    wi64(w, P->gpos);
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    wi64(w, P->nsyn);
    wpre(w, net, P);
    wbytes(w, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->nsyn * net->es);
    wi64(w, P->nbucket);
    for (int64_t b = 0; b < P->nbucket; b++) wivec(w, &P->bucket[b]);
  }
  for (int m = 0; m < net->nmon; m++) {
    const mon *M = &net->mon[m];
    wivec(w, &M->steps);
    wi64(w, M->ids.n); wbytes(w, M->ids.v, (size_t)M->ids.n * sizeof *M->ids.v);
    wi64(w, M->vals.n); wbytes(w, M->vals.v, (size_t)M->vals.n * sizeof *M->vals.v);
    wi64(w, M->acc);
    wi64(w, M->w ? M->written : 0);
  }
}

/* The umask, read without changing it (umask(2) can only set it). */
static mode_t curmask(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned m = 022;
  if (!f) return 022;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Umask: %o", &m) == 1) break;
  fclose(f);
  return (mode_t)(m & 0777);
}

/* A new file next to path, made by mkstemp (O_EXCL, a random name), so no
 * file or link another user planted in the folder is followed. The name
 * goes to *tmp (free it with cj_free); the file gets the mode fopen would
 * have given it. NULL and errno on failure. */
static FILE *tmpnext(const char *path, char **tmp)
{
  size_t n = strlen(path) + 16;
  int fd;
  FILE *f;
  if (!(*tmp = cj_malloc(n))) { errno = ENOMEM; return NULL; }
  snprintf(*tmp, n, "%s.XXXXXX", path);
  if ((fd = mkstemp(*tmp)) < 0) { cj_free(*tmp); *tmp = NULL; return NULL; }
  (void)fchmod(fd, 0666 & ~curmask());
  if (!(f = fdopen(fd, "wb"))) {
    int e = errno;
    close(fd); remove(*tmp); cj_free(*tmp); *tmp = NULL;
    errno = e;
  }
  return f;
}

int cj_net_save_meta(cj_net *net, const char *path, const void *meta, size_t metalen)
{
  char *tmp;
  wr w = { NULL, 0xcbf29ce484222325ull, 0 };
  if (!net->built) return cj_fail(CJ_EINVAL, "save: network '%s' is not built", net->name);
  if (!meta) metalen = 0;
  if (cj_net_flush(net)) return CJ_EIO;
  if (!(w.f = tmpnext(path, &tmp)))
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(errno));
  errno = 0;
  wstate(&w, net, meta, metalen);
  uint64_t h = w.h;
  wbytes(&w, &h, sizeof h);
  if (!w.err && fflush(w.f) != 0) w.err = errno ? errno : EIO;
  if (!w.err && fsync(fileno(w.f)) != 0 && errno != EINVAL) w.err = errno;
  if (fclose(w.f) != 0 && !w.err) w.err = errno ? errno : EIO;
  if (!w.err && rename(tmp, path) != 0) w.err = errno;
  if (w.err) {
    remove(tmp);
    cj_free(tmp);
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(w.err));
  }
  cj_free(tmp);
  return 0;
}

int cj_net_save(cj_net *net, const char *path) { return cj_net_save_meta(net, path, NULL, 0); }

/* ---- reading: every advance is checked --------------------------------------
 * A save file is untrusted input: sizes in it are checked against what is
 * left before anything is allocated or skipped, and the cursor never moves
 * past the end (a failed check sets bad and leaves it where it was). */
typedef struct rd { const unsigned char *p, *end; int bad; } rd;

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static void skip(rd *r, size_t n)
{
  if (r->bad || n > left(r)) { r->bad = 1; return; }
  r->p += n;
}

/* n items of size es, skipped; overflow of n * es counts as too long */
static void skipn(rd *r, uint64_t n, size_t es)
{
  if (es && n > left(r) / es) { r->bad = 1; return; }
  skip(r, (size_t)n * es);
}

static void rbytes(rd *r, void *dst, size_t n)
{
  if (r->bad || n > left(r)) { r->bad = 1; if (n) memset(dst, 0, n); return; }
  if (n) memcpy(dst, r->p, n);
  r->p += n;
}

static int64_t ri64(rd *r) { int64_t x; rbytes(r, &x, sizeof x); return x; }
static double rf64(rd *r) { double x; rbytes(r, &x, sizeof x); return x; }

/* A count from the file: 0 <= n <= lim and n items of es bytes left. */
static int64_t rcount(rd *r, int64_t lim, size_t es)
{
  int64_t n = ri64(r);
  if (r->bad || n < 0 || n > lim || (es && (uint64_t)n > left(r) / es)) { r->bad = 1; return 0; }
  return n;
}

static int rivec(rd *r, ivec *v, int64_t lim)
{
  int64_t n = rcount(r, lim, sizeof *v->v);
  if (r->bad) return 0;
  if (reserve(v, n)) return CJ_ENOMEM;
  rbytes(r, v->v, (size_t)n * sizeof *v->v);
  v->n = r->bad ? 0 : n;
  for (int64_t k = 0; k < v->n; k++) if (v->v[k] < 0) r->bad = 1;
  return 0;
}

static void rrng(rd *r, cj_rng *g)
{
  g->seed = (uint64_t)ri64(r); g->stream = (uint64_t)ri64(r); g->counter = (uint64_t)ri64(r);
  for (int i = 0; i < 4; i++) g->buf[i] = (uint32_t)ri64(r);
  g->used = (int)ri64(r); g->has_spare = (int)ri64(r); g->spare = rf64(r);
  if (g->used < 0 || g->used > 4 || (g->has_spare != 0 && g->has_spare != 1)) r->bad = 1;
}

/* ---- save files in memory ------------------------------------------------- */
struct cj_savefile {
  unsigned char *buf;       /* the whole file */
  size_t len;
  size_t meta, metalen;     /* the caller's bytes: offset and length */
  size_t state;             /* offset of the state (the shape hash) */
  uint32_t single;          /* precision of the saved network */
  char *name;               /* for messages */
};

void cj_savefile_free(cj_savefile *s)
{
  if (!s) return;
  cj_free(s->buf);
  cj_free(s->name);
  cj_free(s);
}

const void *cj_savefile_meta(const cj_savefile *s, size_t *len)
{
  *len = s->metalen;
  return s->buf + s->meta;
}

/* Check magic, format and checksum of buf (taken over: freed on failure). */
static int parsesave(unsigned char *buf, size_t len, const char *name, cj_savefile **out)
{
  uint32_t hdr[4];
  uint64_t sum;
  cj_savefile *s;
  *out = NULL;
  if (len < 8 + 16 + 8 + 8 || memcmp(buf, MAGIC, 8) != 0) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is not a cajal network file", name);
  }
  rd r = { buf + 8, buf + len - 8, 0 };
  rbytes(&r, hdr, sizeof hdr);
  if (hdr[1] != 0x01020304u || hdr[0] != FORMAT || hdr[2] != CJ_KERNEL_ABI) {
    cj_free(buf);
    if (hdr[1] == 0x01020304u && hdr[0] == 1)
      return cj_fail(CJ_EFORMAT, "restore: '%s' has format 1 (written before cajal read save files as data only); "
                     "it cannot be read: run the model again and save it", name);
    return cj_fail(CJ_EFORMAT, "restore: '%s' has format %u (ABI %u); this cajal reads format %u (ABI %d)",
                   name, hdr[0], hdr[2], FORMAT, CJ_KERNEL_ABI);
  }
  memcpy(&sum, buf + len - 8, 8);
  if (fnv(0xcbf29ce484222325ull, buf, len - 8) != sum) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt or truncated (checksum mismatch)", name);
  }
  if (hdr[3] > 1) r.bad = 1;
  int64_t metalen = rcount(&r, INT64_MAX, 1);
  size_t meta = (size_t)(r.p - buf);
  skip(&r, (size_t)metalen);
  if (r.bad) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt (bad header)", name);
  }
  if (!(s = cj_calloc(1, sizeof *s)) || !(s->name = cj_malloc(strlen(name) + 1))) {
    cj_free(s);
    cj_free(buf);
    return nomem();
  }
  strcpy(s->name, name);
  s->buf = buf; s->len = len;
  s->meta = meta; s->metalen = (size_t)metalen;
  s->state = (size_t)(r.p - buf);
  s->single = hdr[3];
  *out = s;
  return 0;
}

int cj_savefile_parse(const void *data, size_t len, const char *name, cj_savefile **out)
{
  unsigned char *buf = cj_malloc(len ? len : 1);
  *out = NULL;
  if (!buf) return nomem();
  if (len) memcpy(buf, data, len);
  return parsesave(buf, len, name, out);
}

/* The whole file, through one descriptor: a regular file, its size from
 * fstat, read until that size (a file that changes meanwhile is caught by
 * the checksum). */
int cj_savefile_read(const char *path, cj_savefile **out)
{
  struct stat st;
  unsigned char *buf;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  *out = NULL;
  if (fd < 0) return cj_fail(CJ_EIO, "restore: cannot open '%s': %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cj_fail(CJ_EIO, "restore: '%s' is not a regular file", path);
  }
  if (!(buf = cj_malloc((size_t)st.st_size + 1))) { close(fd); return nomem(); }
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      close(fd);
      cj_free(buf);
      return cj_fail(CJ_EIO, "restore: cannot read '%s': %s", path, k < 0 ? strerror(e) : "file shrank while read");
    }
    got += (size_t)k;
  }
  close(fd);
  return parsesave(buf, got, path, out);
}

/* Projections: connectivity from the file; then the state of everything. */
static int rconn(cj_net *net, rd *r)
{
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    int64_t na = net->pop[P->pre].n, nb = net->pop[P->post].n;
    P->nsyn = rcount(r, INT64_MAX, 2 * sizeof *P->spre);
    if (r->bad) return 0;
    P->spre = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *P->spre);
    P->spost = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *P->spost);
    if (!P->spre || !P->spost) return nomem();
    rbytes(r, P->spre, (size_t)P->nsyn * sizeof *P->spre);
    rbytes(r, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    for (int64_t s = 0; s < P->nsyn && !r->bad; s++)
      if (P->spre[s] < 0 || P->spre[s] >= na || P->spost[s] < 0 || P->spost[s] >= nb ||
          (s && P->spre[s] < P->spre[s - 1])) r->bad = 1;
    if (r->bad) return 0;
    for (int v = 0; v < P->nvars; v++) skipn(r, (uint64_t)P->nsyn, net->es);   /* read after allocation */
    int64_t nb2 = rcount(r, MAXDELAY + 1, 8);
    for (int64_t b = 0; b < nb2 && !r->bad; b++) skipn(r, (uint64_t)rcount(r, P->nsyn, 8), 8);
  }
  return 0;
}

/* A restored network continues its monitor files: the first `written` rows
 * of the existing file are copied into the new stream. */
static int restream(cj_net *net, mon *M, int64_t written)
{
  cj_array a;
  int st;
  if (written == 0) return openstream(net, M);
  if (cj_npy_load(M->file, &a)) {       /* (cj_errprefix: the message is in the buffer cj_fail writes) */
    cj_errprefix("restore: monitor file '%s' cannot be read back", M->file);
    return CJ_EIO;
  }
  if (a.dtype != CJ_F64 || a.shape[0] < written || (M->kind != CJ_MON_RATE && a.ndim != 2) ||
      (M->kind == CJ_MON_RATE && a.ndim != 1) ||
      (a.ndim == 2 && a.shape[1] != (M->kind == CJ_MON_SPIKES ? 2 : M->nidx))) {
    cj_array_release(&a);
    return cj_fail(CJ_EIO, "restore: monitor file '%s' does not hold the %lld rows written before the save",
                   M->file, (long long)written);
  }
  if (!(st = openstream(net, M))) {
    st = cj_npy_writer_append(M->w, a.data, written);
    if (!st) M->written = written;
  }
  cj_array_release(&a);
  return st;
}

/* The buffered data of a monitor must be what its kind keeps: spikes as
 * (step, index) pairs of its slice in the order of their steps (spike
 * windows search them by step), state as rows of nidx values, rates. */
static int monok(const cj_net *net, const mon *M)
{
  if (M->kind == CJ_MON_SPIKES) {
    if (M->steps.n != M->ids.n || M->vals.n != 0) return 0;
    for (int64_t k = 0; k < M->ids.n; k++)
      if (M->ids.v[k] < M->lo || M->ids.v[k] > M->hi || (k > 0 && M->steps.v[k] < M->steps.v[k - 1])) return 0;
  } else if (M->kind == CJ_MON_STATE) {
    if (M->ids.n != 0 || M->nidx <= 0 || M->vals.n / M->nidx != M->steps.n || M->vals.n % M->nidx) return 0;
  } else if (M->steps.n != 0 || M->ids.n != 0 || M->acc > (M->hi - M->lo + 1) * M->every) {
    return 0;                                  /* acc: spikes of the current window */
  }
  if (M->kind != CJ_MON_RATE && M->acc != 0) return 0;
  for (int64_t k = 0; k < M->steps.n; k++) if (M->steps.v[k] > net->step) return 0;
  return 1;
}

static int rstate(cj_net *net, rd *r)
{
  int st;
  net->step = ri64(r);
  if (net->step < 0 || net->step > MAXSTEP) r->bad = 1;
  for (int p = 0; p < net->npop && !r->bad; p++) {
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) rbytes(r, P->var[v], (size_t)P->n * net->es);
    rbytes(r, P->lastspike, (size_t)P->n * sizeof(double));
    for (int h = 0; h < P->hlen; h++) {
      if ((st = rivec(r, &P->hist[h], P->n))) return st;
      for (int64_t k = 0; k < P->hist[h].n; k++) if (P->hist[h].v[k] >= P->n) r->bad = 1;
    }
    rrng(r, &P->rng);
    P->gpos = ri64(r);
    if (P->gpos < 0 || P->gpos > P->ng) r->bad = 1;
  }
  for (int j = 0; j < net->nproj && !r->bad; j++) {
    proj *P = &net->proj[j];
    skip(r, 8);                                          /* nsyn, pre, post: read by rconn */
    skipn(r, (uint64_t)P->nsyn, 2 * sizeof *P->spre);
    for (int v = 0; v < P->nvars; v++) rbytes(r, P->var[v], (size_t)P->nsyn * net->es);
    if (r->bad) break;
    if (P->delay_var >= 0 && (st = setdelays(net, P))) return st;
    int64_t nb = ri64(r);
    if (nb != P->nbucket) { r->bad = 1; break; }
    for (int64_t b = 0; b < nb && !r->bad; b++) {
      if ((st = rivec(r, &P->bucket[b], P->nsyn))) return st;
      for (int64_t k = 0; k < P->bucket[b].n; k++) if (P->bucket[b].v[k] >= P->nsyn) r->bad = 1;
    }
  }
  for (int m = 0; m < net->nmon && !r->bad; m++) {
    mon *M = &net->mon[m];
    int64_t n;
    if ((st = rivec(r, &M->steps, INT64_MAX))) return st;
    n = rcount(r, INT64_MAX, 4);
    if (r->bad) break;
    if (reserve(&M->ids, n)) return CJ_ENOMEM;
    rbytes(r, M->ids.v, (size_t)n * 4); M->ids.n = n;
    n = rcount(r, INT64_MAX, 8);
    if (r->bad) break;
    if (reserve(&M->vals, n)) return CJ_ENOMEM;
    rbytes(r, M->vals.v, (size_t)n * 8); M->vals.n = n;
    M->acc = ri64(r);
    if (M->acc < 0) r->bad = 1;
    int64_t written = ri64(r);
    if (written < 0 || (written > 0 && !M->file)) r->bad = 1;
    if (!r->bad && !monok(net, M)) r->bad = 1;
    if (!r->bad && M->file && (st = restream(net, M, written))) return st;
  }
  return 0;
}

int cj_net_restore_from(cj_net *net, const cj_savefile *s)
{
  const char *path = s->name;
  int st;
  if (s->single != (uint32_t)net->single)
    return cj_fail(CJ_EINVAL, "restore: '%s' holds a network of precision '%s'; this one has precision '%s'",
                   path, s->single ? "single" : "double", net->single ? "single" : "double");
  rd r = { s->buf + s->state, s->buf + s->len - 8, 0 };
  uint64_t h = (uint64_t)ri64(&r);
  double dt = rf64(&r);
  uint64_t seed = (uint64_t)ri64(&r);
  if (r.bad) return cj_fail(CJ_EFORMAT, "restore: '%s' is truncated", path);
  if ((st = prepare(net))) return st;
  if (dt != net->dt)
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved with dt = %g s, the network has dt = %g s", path, dt, net->dt);
  if (h != shape(net))
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved from a different network (populations, projections or monitors differ)", path);
  net->seed = seed;
  net->key[0] = (uint32_t)seed; net->key[1] = (uint32_t)(seed >> 32);
  const unsigned char *mark = r.p;
  (void)ri64(&r);                                        /* step: read again by rstate */
  for (int p = 0; p < net->npop && !r.bad; p++) {        /* skip population state */
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) skipn(&r, (uint64_t)P->n, net->es);
    skipn(&r, (uint64_t)P->n, 8);                        /* lastspike */
    for (int q = 0; q < P->hlen && !r.bad; q++) skipn(&r, (uint64_t)rcount(&r, P->n, 8), 8);
    skip(&r, 10 * 8 + 8);                                /* rng, gpos */
  }
  if (!r.bad) st = rconn(net, &r);
  if (!st && !r.bad) st = finish(net);
  if (!st && !r.bad) {
    r.p = mark;
    st = rstate(net, &r);
  }
  if (!st && (r.bad || r.p != r.end))
    st = cj_fail(CJ_EFORMAT, "restore: '%s' does not match the network (bad sizes or indices)", path);
  if (!st) net->built = 1;
  return st;
}

int cj_net_restore(cj_net *net, const char *path)
{
  cj_savefile *s;
  int st = cj_savefile_read(path, &s);
  if (st) return st;
  st = cj_net_restore_from(net, s);
  cj_savefile_free(s);
  return st;
}

/* ---- inspection ------------------------------------------------------------ */
int64_t cj_net_step(const cj_net *net) { return net->step; }
double cj_net_time(const cj_net *net) { return (double)net->step * net->dt; }
double cj_net_dt(const cj_net *net) { return net->dt; }
const char *cj_net_name(const cj_net *net) { return net->name; }
int cj_net_npops(const cj_net *net) { return net->npop; }
int cj_net_nprojs(const cj_net *net) { return net->nproj; }
int cj_net_nmonitors(const cj_net *net) { return net->nmon; }

int cj_net_kernel_jit(const cj_net *net, int id)
{
  for (int i = 0; i < net->nkern; i++)
    if (net->kern[i].id == id) return net->kern[i].fn != NULL;
  return -1;
}

int cj_net_pop_find(const cj_net *net, const char *name)
{
  for (int p = 0; p < net->npop; p++) if (strcmp(net->pop[p].name, name) == 0) return p;
  return -1;
}

int cj_net_proj_find(const cj_net *net, const char *name)
{
  for (int j = 0; j < net->nproj; j++) if (strcmp(net->proj[j].name, name) == 0) return j;
  return -1;
}

const char *cj_net_pop_name(const cj_net *net, int p) { return net->pop[p].name; }
int64_t cj_net_pop_size(const cj_net *net, int p) { return net->pop[p].n; }
int cj_net_pop_nvars(const cj_net *net, int p) { return net->pop[p].nvars; }
int cj_net_pop_varfind(const cj_net *net, int p, const char *name)
{
  return findname((const char *const *)net->pop[p].vname, net->pop[p].nvars, name);
}
const char *cj_net_pop_varname(const cj_net *net, int p, int v) { return net->pop[p].vname[v]; }
const char *cj_net_pop_varunit(const cj_net *net, int p, int v) { return net->pop[p].vunit[v]; }
double *cj_net_pop_var(cj_net *net, int p, int v) { return net->single ? NULL : cj_net_pop_data(net, p, v); }
void *cj_net_pop_data(cj_net *net, int p, int v) { return net->built ? net->pop[p].var[v] : NULL; }
double *cj_net_pop_lastspike(cj_net *net, int p) { return net->built ? net->pop[p].lastspike : NULL; }
const char *cj_net_proj_name(const cj_net *net, int j) { return net->proj[j].name; }
int64_t cj_net_proj_nsyn(const cj_net *net, int j) { return net->proj[j].nsyn; }
int cj_net_proj_nvars(const cj_net *net, int j) { return net->proj[j].nvars; }
int cj_net_proj_varfind(const cj_net *net, int j, const char *name)
{
  return findname((const char *const *)net->proj[j].vname, net->proj[j].nvars, name);
}
const char *cj_net_proj_varname(const cj_net *net, int j, int v) { return net->proj[j].vname[v]; }
const char *cj_net_proj_varunit(const cj_net *net, int j, int v) { return net->proj[j].vunit[v]; }
double *cj_net_proj_var(cj_net *net, int j, int v) { return net->single ? NULL : cj_net_proj_data(net, j, v); }
void *cj_net_proj_data(cj_net *net, int j, int v) { return net->built ? net->proj[j].var[v] : NULL; }
const int32_t *cj_net_proj_pre(cj_net *net, int j)
{
  if (!net->built) return net->proj[j].spre;
  return makepre(net, &net->proj[j]) ? NULL : net->proj[j].spre;
}
const int32_t *cj_net_proj_post(const cj_net *net, int j) { return net->proj[j].spost; }
const int32_t *cj_net_proj_delays(const cj_net *net, int j) { return net->proj[j].dsteps; }
int64_t cj_net_proj_delay(const cj_net *net, int j) { return net->proj[j].delay; }

int cj_net_mon_kind(const cj_net *net, int m) { return net->mon[m].kind; }

void cj_net_mon_target(const cj_net *net, int m, int *ppop, int *pproj, int *pvar)
{
  const mon *M = &net->mon[m];
  *ppop = M->pop;
  *pproj = M->proj;
  *pvar = M->kind == CJ_MON_STATE ? M->var : -1;
}

int64_t cj_net_mon_spikes(const cj_net *net, int m, const int64_t **steps, const int32_t **idx)
{
  *steps = net->mon[m].steps.v;
  *idx = net->mon[m].ids.v;
  return net->mon[m].ids.n;
}

int64_t cj_net_mon_state(const cj_net *net, int m, const int64_t **steps, const double **vals, int64_t *cols)
{
  *steps = net->mon[m].steps.v;
  *vals = net->mon[m].vals.v;
  *cols = net->mon[m].nidx;
  return net->mon[m].steps.n;
}

int64_t cj_net_mon_every(const cj_net *net, int m) { return net->mon[m].every; }

void cj_net_mon_slice(const cj_net *net, int m, int64_t *lo, int64_t *hi)
{
  *lo = net->mon[m].lo;
  *hi = net->mon[m].hi;
}

int64_t cj_net_mon_rate(const cj_net *net, int m, const double **rates)
{
  *rates = net->mon[m].vals.v;
  return net->mon[m].vals.n;
}

const char *cj_net_mon_file(const cj_net *net, int m) { return net->mon[m].file; }

size_t cj_net_memsize(const cj_net *net)
{
  size_t b = sizeof *net;
  for (int i = 0; i < net->nkern; i++) b += cj_prog_size(net->kern[i].prog);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    b += (size_t)P->n * (net->es * (size_t)P->nvars + 16) + (size_t)P->ng * 16;
    for (int h = 0; h < P->hlen; h++) b += (size_t)P->hist[h].cap * 8;
    for (int d = 0; d < P->ndrv; d++) b += (size_t)(P->drv[d].rows * P->drv[d].cols + P->drv[d].nidx) * 8;
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    b += (size_t)P->nsyn * ((P->spre ? 8 : 4) + net->es * (size_t)P->nvars) + (size_t)(net->pop[P->pre].n + 1) * 8;
    if (P->postsyn) b += (size_t)P->nsyn * 8 + (size_t)(net->pop[P->post].n + 1) * 8;
    if (P->dsteps) b += (size_t)P->nsyn * 4;
    for (int64_t k = 0; k < P->nbucket; k++) b += (size_t)P->bucket[k].cap * 8;
    b += (size_t)P->ev.cap * 8;
  }
  for (int m = 0; m < net->nmon; m++)
    b += (size_t)(net->mon[m].steps.cap * 8 + net->mon[m].ids.cap * 4 + net->mon[m].vals.cap * 8);
  return b;
}

void cj_net_free(cj_net *net)
{
  if (!net) return;
  cj_net_flush(net);
  for (int i = 0; i < net->nkern; i++) {
    cj_free(net->kern[i].name);
    cj_free(net->kern[i].refs);
    cj_prog_free(net->kern[i].prog);
  }
  for (int p = 0; p < net->npop; p++) freepop(&net->pop[p]);
  for (int j = 0; j < net->nproj; j++) freeproj(&net->proj[j]);
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->w) cj_npy_writer_close(M->w);
    cj_free(M->idx); cj_free(M->file); cj_free(M->steps.v); cj_free(M->ids.v); cj_free(M->vals.v);
  }
  cj_free(net->kern); cj_free(net->pop); cj_free(net->proj); cj_free(net->mon);
  cj_free(net->name);
  cj_free(net);
}
