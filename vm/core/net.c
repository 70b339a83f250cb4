/*
 * net.c — the network runtime (see net.h and vm/core/IR.md §3): creation,
 * binding kernels, allocation and the initial state, the time step, run
 * and the NaN check, inspection. Connectivity is in connect.c, monitors in
 * monitor.c, save and restore in checkpoint.c; netimpl.h holds the
 * structures they share.
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
 * Randomness: connectivity, Poisson groups use cj_rng cursors (streams keyed
 * by projection, row and block: connect.c; 2000 + population id, 1-based);
 * kernels use counter-based draws (interp.h), so nothing depends on the
 * backend.
 */
#include "netimpl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

void *cj_nx_bigalloc(size_t n)
{
  void *p = cj_malloc(n);
  hugepages(p, n);
  return p;
}

void *cj_nx_bigcalloc(size_t n, size_t size)
{
  void *p = cj_calloc(n, size);
  hugepages(p, n * size);
  return p;
}

/* A neuron population's state arrays start on a cache line: a 64-byte
 * vector of the kernels then never straddles two lines (malloc aligns to
 * 16 bytes only, and the fused pass can align itself to one array, not to
 * several at different offsets). Zeroed; the block's own address is kept
 * just before the array, for cj_nx_statefree. */
void *cj_nx_statealloc(size_t n, size_t size)
{
  if (size && n > ((size_t)-1 - 64 - sizeof(void *)) / size) return NULL;
  void *raw = cj_calloc(n * size + 64 + sizeof(void *), 1);
  if (!raw) return NULL;
  uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
  ((void **)a)[-1] = raw;
  hugepages((void *)a, n * size);
  return (void *)a;
}

void cj_nx_statefree(void *p)
{
  if (p) cj_free(((void **)p)[-1]);
}

int cj_nx_grow(void **v, int64_t *cap, int64_t need, size_t size)
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

/* ---- small helpers ------------------------------------------------------ */
char *cj_nx_dupstr(const char *s)
{
  size_t n = strlen(s ? s : "") + 1;
  char *d = cj_malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

void cj_nx_freestrs(char **v, int n)
{
  if (!v) return;
  for (int i = 0; i < n; i++) cj_free(v[i]);
  cj_free(v);
}

/* Copy n strings (NULL entries become ""); NULL on ENOMEM. */
char **cj_nx_dupstrs(const char *const *src, int n)
{
  char **v = cj_calloc((size_t)(n > 0 ? n : 1), sizeof *v);
  if (!v) return NULL;
  for (int i = 0; i < n; i++)
    if (!(v[i] = cj_nx_dupstr(src ? src[i] : ""))) { cj_nx_freestrs(v, n); return NULL; }
  return v;
}

void *cj_nx_dupmem(const void *src, size_t n)
{
  void *d = cj_malloc(n ? n : 1);
  if (d && n) memcpy(d, src, n);
  return d;
}

int cj_nx_nomem(void) { return cj_fail(CJ_ENOMEM, "network: out of memory"); }

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

/* ---- creation ----------------------------------------------------------- */
cj_net *cj_net_new(const char *name, double dt, uint64_t seed)
{
  cj_net *net = cj_calloc(1, sizeof *net);
  if (!net) return NULL;
  if (!(net->name = cj_nx_dupstr(name ? name : "network"))) { cj_free(net); return NULL; }
  net->dt = dt;
  net->seed = seed;
  net->key[0] = (uint32_t)seed;
  net->key[1] = (uint32_t)(seed >> 32);
  net->chunk = 100;
  net->badpop = -1;
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

void cj_net_set_chunk(cj_net *net, int64_t chunk) { net->chunk = chunk > 0 ? chunk : 100; }

int cj_nx_addslot(void **arr, int *n, int *cap, size_t size)
{
  int64_t c = *cap;
  if (cj_nx_grow(arr, &c, *n + 1, size)) return CJ_ENOMEM;
  *cap = (int)c;
  memset((char *)*arr + (size_t)*n * size, 0, size);
  return 0;
}

int cj_nx_built(cj_net *net, const char *fn)
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
  if ((st = cj_nx_built(net, "cj_net_add_kernel"))) return st;
  if (k->id < 1 || k->id > 0xFFFF)
    return cj_fail(CJ_EINVAL, "kernel id %d out of range (1..65535)", k->id);
  if (findkern(net, k->id)) return cj_fail(CJ_EINVAL, "kernel id %d defined twice", k->id);
  if (cj_nx_addslot((void **)&net->kern, &net->nkern, &net->capkern, sizeof *net->kern)) return cj_nx_nomem();
  K = &net->kern[net->nkern];
  K->id = k->id; K->domain = k->domain; K->kind = k->kind; K->line = k->line;
  K->nrefs = k->nrefs; K->fn = fn;
  K->rand = cj_nx_kdef_rand(k);
  if (!(K->name = cj_nx_dupstr(k->name ? k->name : "")) ||
      !(K->refs = cj_nx_dupmem(k->refs, (size_t)(k->nrefs > 0 ? k->nrefs : 0) * sizeof *k->refs))) {
    cj_free(K->name); cj_free(K->refs);
    return cj_nx_nomem();
  }
  if ((st = cj_prog_compile(k, &K->prog))) { cj_free(K->name); cj_free(K->refs); return st; }
  cj_prog_set_single(K->prog, net->single);
  net->nkern++;
  return 0;
}

static int copydrives(pop *P, const cj_popdef *d)
{
  if (d->ndrives <= 0) return 0;
  if (!(P->drv = cj_calloc((size_t)d->ndrives, sizeof *P->drv))) return cj_nx_nomem();
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
    if (!(D->values = cj_nx_dupmem(s->values, (size_t)(s->rows * s->cols) * sizeof(double)))) return cj_nx_nomem();
    if (s->indices && !(D->idx = cj_nx_dupmem(s->indices, (size_t)s->nindices * sizeof(int64_t)))) return cj_nx_nomem();
  }
  return 0;
}

static int copypinputs(cj_net *net, pop *P, const cj_popdef *d)
{
  if (d->npinputs <= 0) return 0;
  if (d->npinputs > 4095)
    return cj_fail(CJ_EINVAL, "population '%s': %d Poisson drives (at most 4095)", P->name, d->npinputs);
  if (!(P->pin = cj_calloc((size_t)d->npinputs, sizeof *P->pin))) return cj_nx_nomem();
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
      return cj_nx_nomem();
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
  if (!(pairs = cj_malloc((size_t)n * 2 * sizeof *pairs))) return cj_nx_nomem();
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
  if (!P->gstep || !P->gidx) { cj_free(pairs); return cj_nx_nomem(); }
  for (int64_t k = 0; k < n; k++) { P->gstep[k] = pairs[2 * k]; P->gidx[k] = pairs[2 * k + 1]; }
  P->ng = n;
  cj_free(pairs);
  return 0;
}

static void freepop(pop *P)
{
  cj_free(P->name);
  cj_nx_freestrs(P->vname, P->nvars);
  cj_nx_freestrs(P->vunit, P->nvars);
  for (int v = 0; P->var && v < P->nvars; v++) cj_nx_statefree(P->var[v]);
  cj_free(P->var);
  cj_nx_statefree(P->lastspike);
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
  if ((st = cj_nx_built(net, "cj_net_add_pop"))) return st;
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
  if (cj_nx_addslot((void **)&net->pop, &net->npop, &net->cappop, sizeof *net->pop)) return cj_nx_nomem();
  P = &net->pop[net->npop];
  P->n = d->n; P->kind = d->kind; P->nvars = d->nvars;
  P->spiking = d->kind != CJ_POP_NEURON || d->spiking;
  P->kinit = d->init; P->kupdate = d->update; P->kthresh = d->threshold; P->kreset = d->reset;
  P->krate = d->rate_kernel; P->refractory = d->refractory; P->rate = d->rate;
  P->kdefs = d->defs; P->ratevar = d->rate_var - 1;
  if (!(P->name = cj_nx_dupstr(d->name)) || !(P->vname = cj_nx_dupstrs(d->varnames, d->nvars)) ||
      !(P->vunit = cj_nx_dupstrs(d->varunits, d->nvars))) { freepop(P); memset(P, 0, sizeof *P); return cj_nx_nomem(); }
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
  cj_nx_freestrs(P->vname, P->nvars);
  cj_nx_freestrs(P->vunit, P->nvars);
  cj_free(P->var); cj_free(P->arrvals); cj_free(P->inval); cj_free(P->checked);
  cj_free(P->init.vars); cj_free(P->onpre.vars); cj_free(P->onpost.vars); cj_free(P->update.vars);
  cj_free(P->pairs.vars);
  for (int i = 0; P->sums && i < P->nsum; i++) cj_free(P->sums[i].b.vars);
  cj_free(P->sums);
  cj_free(P->dsteps); cj_free(P->spre); cj_free(P->spost);
  cj_free(P->rowptr); cj_free(P->postptr); cj_free(P->postsyn); cj_free(P->rowcut);
  cj_free(P->gfirst); cj_free(P->gmap);
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
  if ((st = cj_nx_built(net, "cj_net_add_proj"))) return st;
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
  if (cj_nx_addslot((void **)&net->proj, &net->nproj, &net->capproj, sizeof *net->proj)) return cj_nx_nomem();
  P = &net->proj[net->nproj];
  P->pre = d->pre; P->post = d->post;
  P->prelo = d->pre_lo; P->prehi = d->pre_hi; P->postlo = d->post_lo; P->posthi = d->post_hi;
  P->rule = d->rule; P->self = d->self; P->p = d->p; P->k = d->k;
  P->nvars = d->nvars; P->delay = d->delay_var >= 0 ? 0 : d->delay; P->delay_var = d->delay_var;
  P->kinit = d->init; P->kpre = d->on_pre; P->kpost = d->on_post; P->kupdate = d->update;
  P->kpairs = d->rule == CJ_RULE_PROB ? d->pkernel : 0;
  if (!(P->name = cj_nx_dupstr(nm)) || !(P->vname = cj_nx_dupstrs(d->varnames, d->nvars)) ||
      !(P->vunit = cj_nx_dupstrs(d->varunits, d->nvars)))
    return projfail(P, cj_nx_nomem());
  for (int v = 0; v < d->nvars; v++)
    if (findname((const char *const *)P->vname, v, P->vname[v]) >= 0)
      return projfail(P, cj_fail(CJ_EINVAL, "projection '%s': variable '%s' defined twice", nm, P->vname[v]));
  if (d->rule == CJ_RULE_ARRAYS) {
    if (d->na < 0 || (d->na > 0 && (!d->ai || !d->aj)))
      return projfail(P, cj_fail(CJ_EINVAL, "projection '%s': rule arrays needs i and j", nm));
    P->na = d->na;
    if (!(P->ai = cj_nx_dupmem(d->ai, (size_t)d->na * sizeof *d->ai)) ||
        !(P->aj = cj_nx_dupmem(d->aj, (size_t)d->na * sizeof *d->aj)) ||
        !(P->inval = cj_calloc((size_t)(d->nvars > 0 ? d->nvars : 1), sizeof *P->inval)))
      return projfail(P, cj_nx_nomem());
    for (int v = 0; d->varvalues && v < d->nvars; v++)
      if (d->varvalues[v] && !(P->inval[v] = cj_nx_dupmem(d->varvalues[v], (size_t)d->na * sizeof(double))))
        return projfail(P, cj_nx_nomem());
  }
  if (d->nsummed > 0) {
    if (!d->summed || !(P->sums = cj_calloc((size_t)d->nsummed, sizeof *P->sums))) return projfail(P, cj_nx_nomem());
    P->nsum = d->nsummed;
    for (int i = 0; i < d->nsummed; i++) { P->sums[i].var = d->summed[i].post_var; P->sums[i].kid = d->summed[i].kernel; }
  }
  net->nproj++;
  return 0;
}

/* ---- binding kernels ---------------------------------------------------- */
static const char *const kindtext[] = { "stmts", "threshold", "sum" };

/* Resolve kernel kid for its owner: population `pp` (neuron domains) or
 * projection `pj` (synapse domains). */
int cj_nx_bind(cj_net *net, bound *b, int kid, int domain, int kind, int pp, int pj, const char *what)
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
  if (!(b->vars = cj_calloc((size_t)(K->nrefs > 0 ? K->nrefs : 1), sizeof *b->vars))) return cj_nx_nomem();
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
  if (P->kinit) st = cj_nx_bind(net, &P->init, P->kinit, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "init");
  if (!st && P->kupdate) st = cj_nx_bind(net, &P->update, P->kupdate, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "update");
  if (!st && P->kthresh) st = cj_nx_bind(net, &P->thresh, P->kthresh, CJ_DOM_NEURONS, CJ_KK_THRESHOLD, p, -1, "threshold");
  if (!st && P->kreset) st = cj_nx_bind(net, &P->reset, P->kreset, CJ_DOM_SPIKES, CJ_KK_STMTS, p, -1, "reset");
  if (!st && P->krate) st = cj_nx_bind(net, &P->ratek, P->krate, CJ_DOM_SCALAR, CJ_KK_STMTS, p, -1, "rate");
  if (!st && P->kdefs) st = cj_nx_bind(net, &P->defs, P->kdefs, CJ_DOM_NEURONS, CJ_KK_STMTS, p, -1, "definitions");
  return st;
}

static int readspre(const bound *b) { return b->k && cj_prog_useshow(b->k->prog, CJ_HOW_PRE); }

static int bindproj(cj_net *net, int j)
{
  proj *P = &net->proj[j];
  int st = 0;
  if (P->kinit) st = cj_nx_bind(net, &P->init, P->kinit, CJ_DOM_SYNAPSES, CJ_KK_STMTS, -1, j, "init");
  if (!st && P->kupdate) st = cj_nx_bind(net, &P->update, P->kupdate, CJ_DOM_SYNAPSES, CJ_KK_STMTS, -1, j, "update");
  if (!st && P->kpre) st = cj_nx_bind(net, &P->onpre, P->kpre, CJ_DOM_EVENTS, CJ_KK_STMTS, -1, j, "on_pre");
  if (!st && P->kpost) st = cj_nx_bind(net, &P->onpost, P->kpost, CJ_DOM_EVENTS, CJ_KK_STMTS, -1, j, "on_post");
  for (int i = 0; !st && i < P->nsum; i++) {
    sumk *S = &P->sums[i];
    pop *B = &net->pop[P->post];
    if (S->var < 0 || S->var >= B->nvars)
      return cj_fail(CJ_EINVAL, "projection '%s': summed variable %d out of range", P->name, S->var + 1);
    if (!(st = cj_nx_bind(net, &S->b, S->kid, CJ_DOM_SYNAPSES, CJ_KK_SUM, -1, j, "summed"))) {
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
    if ((st = cj_nx_makepre(net, P))) return st;
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
  if (!(P->var = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->var))) return cj_nx_nomem();
  for (int v = 0; v < P->nvars; v++)
    if (!(P->var[v] = cj_nx_statealloc((size_t)P->n, net->es))) return cj_nx_nomem();
  if (!(P->lastspike = cj_nx_statealloc((size_t)P->n, sizeof(double))) ||
      !(P->spk = cj_malloc((size_t)P->n * sizeof *P->spk))) return cj_nx_nomem();
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
  if (!(P->hist = cj_calloc((size_t)P->hlen, sizeof *P->hist))) { P->hlen = 0; return cj_nx_nomem(); }
  return 0;
}

static int allocproj(cj_net *net, proj *P)
{
  if (!(P->var = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->var)) ||
      !(P->checked = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), 1))) return cj_nx_nomem();
  for (int v = 0; v < P->nvars; v++)
    if (!(P->var[v] = cj_nx_bigcalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1), net->es))) return cj_nx_nomem();
  return 0;
}

static void runinit(bound *b)
{
  b->c.step = INITSTEP;
  b->c.t = 0;
  cj_nx_run(b);
}

/* Heterogeneous delays: steps from the delay variable (seconds), rounded
 * as Brian rounds them, at least one step. */
int cj_nx_setdelays(cj_net *net, proj *P)
{
  const void *dv = P->var[P->delay_var];
  int64_t maxd = 1, mind = INT64_MAX;
  if (!P->dsteps && !(P->dsteps = cj_malloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->dsteps))) return cj_nx_nomem();
  for (int64_t s = 0; s < P->nsyn; s++) {
    const double ds = cj_nx_getx(net, dv, s), x = ds / net->dt;
    if (!(ds >= 0) || !(x < (double)MAXDELAY))
      return cj_fail(CJ_EINVAL, "projection '%s': synapse %lld (%d -> %d) has delay %g s (expected 0 .. %g s)",
                     P->name, (long long)s, cj_nx_preof(net, P, s), P->spost[s], ds, (double)MAXDELAY * net->dt);
    int64_t k = (int64_t)llround(x);
    P->dsteps[s] = (int32_t)(k < 1 ? 1 : k);
    if (P->dsteps[s] > maxd) maxd = P->dsteps[s];
    if (P->dsteps[s] < mind) mind = P->dsteps[s];
  }
  P->mind = mind;
  if (!P->kpre) return 0;
  if (net->mpi && (maxd = cj_nx_mpi_maxd(maxd)) < 0) return CJ_ERUNTIME;   /* one ring length on every rank */
  if (maxd + 1 > P->nbucket) {
    ivec *nb = cj_realloc(P->bucket, (size_t)(maxd + 1) * sizeof *nb);
    if (!nb) return cj_nx_nomem();
    memset(nb + P->nbucket, 0, (size_t)(maxd + 1 - P->nbucket) * sizeof *nb);
    P->bucket = nb;
    P->nbucket = maxd + 1;
  }
  P->maxd = maxd;
  return 0;
}

/* The recorded definitions of P from its current state (at step n). */
void cj_nx_rundefs(cj_net *net, pop *P, int64_t n)
{
  if (!P->defs.k) return;
  P->defstep = n;
  P->defs.c.step = n;
  P->defs.c.t = (double)n * net->dt;
  cj_nx_run(&P->defs);
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

int cj_nx_checkrates(cj_net *net, pop *P, int64_t n)
{
  if (P->ratevar < 0) return 0;
  const void *x = P->var[P->ratevar];
  double worst = 0;
  for (int64_t i = 0; i < P->n; i++) {   /* a max first: no branch in the common case */
    const double r = cj_nx_getx(net, x, i);
    worst = r > worst ? r : worst;
  }
  if (worst * net->dt <= 1) return 0;
  for (int64_t i = 0; i < P->n; i++)
    if (cj_nx_getx(net, x, i) == worst) return ratefail(net, P, i, worst, n);
  return ratefail(net, P, -1, worst, n);
}

/* State at step 0: zeros, then the initialisation kernels. */
int cj_nx_startstate(cj_net *net)
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
    cj_nx_rundefs(net, P, 0);
    if ((st = cj_nx_checkrates(net, P, 0))) return st;
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    for (int v = 0; v < P->nvars; v++) memset(P->var[v], 0, (size_t)P->nsyn * net->es);
    if (P->init.k && net->mpi) cj_nx_mpi_syninit(net, P);
    else if (P->init.k) runinit(&P->init);
    for (int v = 0; P->arrvals && v < P->nvars; v++)
      if (P->arrvals[v]) for (int64_t s = 0; s < P->nsyn; s++) cj_nx_putx(net, P->var[v], s, P->arrvals[v][s]);
    if (P->delay_var >= 0 && (st = cj_nx_setdelays(net, P))) return st;
    for (int64_t b = 0; b < P->nbucket; b++) P->bucket[b].n = 0;
  }
  cj_nx_mpi_reset(net);
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    cj_nx_clearmon(M);
    if (M->file) {                    /* a fresh file */
      if (M->w && (st = cj_npy_writer_close(M->w))) { M->w = NULL; return st; }
      M->w = NULL;
      if ((st = cj_nx_openstream(net, M))) return st;
    }
  }
  return 0;
}

/* Everything but connectivity and state: shared by build and restore. */
int cj_nx_prepare(cj_net *net)
{
  int st;
  if (net->built) return cj_fail(CJ_EINVAL, "network '%s' is already built", net->name);
  if ((st = cj_nx_mpi_prepare(net))) return st;
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

/* Whether population p's fused update-and-threshold pass gives what its
 * two kernels give in step 4-5 (IR.md §3): between them run the updates
 * of later populations (they write only their own state) and of the
 * projections, so no projection update may write a variable of p. */
static int fusable(const cj_net *net, int p)
{
  for (int j = 0; j < net->nproj; j++) {
    const kern *K = net->proj[j].update.k;
    for (int r = 0; K && r < K->nrefs; r++)
      if (K->refs[r].owner == CJ_OWNER_POP && K->refs[r].id == p && cj_prog_writes(K->prog, r)) return 0;
  }
  return 1;
}

int cj_nx_finish(cj_net *net)
{
  int st;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if ((st = cj_nx_indexes(net, P)) || (st = allocproj(net, P))) return st;
    if (P->kpre && P->delay_var < 0 && P->delay < 1)
      return cj_fail(CJ_EINVAL, "projection '%s': delay must be >= 1 step", P->name);
  }
  for (int p = 0; p < net->npop; p++) if ((st = bindpop(net, p))) return st;
  for (int j = 0; j < net->nproj; j++) if ((st = bindproj(net, j))) return st;
  for (int p = 0; p < net->npop; p++) net->pop[p].fusable = fusable(net, p);
  for (int m = 0; m < net->nmon; m++) if ((st = cj_nx_checkmon(net, &net->mon[m], m))) return st;
  return cj_nx_mpi_check(net);
}

int cj_net_build(cj_net *net)
{
  int st;
  if ((st = cj_nx_prepare(net))) return st;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if ((st = cj_nx_stopped(net, P, 0, P->prehi - P->prelo + 1)) || (st = cj_nx_connect(net, P, j)) ||
        (st = cj_nx_mpi_rows(net, P))) return st;
    for (int v = 0; P->inval && v < P->nvars; v++) { cj_free(P->inval[v]); P->inval[v] = NULL; }
  }
  if ((st = cj_nx_finish(net)) || (st = cj_nx_startstate(net))) return st;
  net->built = 1;
  return 0;
}

int cj_net_reset(cj_net *net)
{
  if (!net->built) return cj_fail(CJ_EINVAL, "network '%s' is not built", net->name);
  return cj_nx_startstate(net);
}

/* ---- the time step (IR.md §3) ------------------------------------------- */
/* A run's steps are run by a team of threads (threads.h), every thread
 * every step: thread t does the per-neuron work of the neurons it owns
 * (its cut of each population's range on this MPI rank, [own0, own1)) and
 * thread 0 the sequential rest between barriers, the spike exchange
 * between ranks included (MPI is called from that thread only). One
 * thread is the same code with no-op barriers. */
typedef struct team {
  cj_net *net;
  int64_t steps;                    /* the steps of this chunk */
  int st;                           /* an error: written by thread 0 before a barrier */
  int sums, rates, synupd, prebar;  /* the step has these phases (see plan) */
  unsigned char bad[CJ_THR_MAX];    /* thread t saw a non-finite value in its ranges */
} team;

static cj_thr_kern thrk(const bound *b) { return (cj_thr_kern){ b->k->fn, b->k->prog }; }

/* b's context at step n (a thread's copy: the bound one is shared). */
static cj_kctx at(const bound *b, int64_t n, double t)
{
  cj_kctx c = b->c;
  c.step = n;
  c.t = t;
  return c;
}

/* The neurons thread t owns in population P: [*lo, *hi), its part of the
 * rank's range (all of P on one rank), cut at multiples of CJ_THR_ALIGN of
 * the whole population (cache lines of the state arrays stay one thread's). */
static void owned(const pop *P, int t, int nt, int64_t *lo, int64_t *hi)
{
  const int64_t base = P->own0 - P->own0 % CJ_THR_ALIGN;
  const int64_t a = base + cj_thr_cut(P->own1 - base, t, nt), b = base + cj_thr_cut(P->own1 - base, t + 1, nt);
  *lo = a > P->own0 ? a : P->own0;
  *hi = b > P->own0 ? b : P->own0;
}

/* The targets of projection P thread t owns: [*lo, *hi) within postlo .. posthi. */
static void ownedpost(const cj_net *net, const proj *P, int t, int nt, int64_t *lo, int64_t *hi)
{
  owned(&net->pop[P->post], t, nt, lo, hi);
  if (*lo < P->postlo) *lo = P->postlo;
  if (*hi > P->posthi + 1) *hi = P->posthi + 1;
}

/* The events of P due at step n: count synapse ids (*rowptr NULL), or
 * count pre neurons whose rows are the events. */
static const int64_t *due(const cj_net *net, const proj *P, int64_t n, int64_t *count, const int64_t **rowptr)
{
  if (P->delay_var >= 0) {
    const ivec *b = &P->bucket[n % P->nbucket];
    *rowptr = NULL;
    *count = b->n;
    return b->v;
  }
  const pop *A = &net->pop[P->pre];
  int64_t slot = n % A->hlen - P->delay;       /* delay < hlen */
  const ivec *h = &A->hist[slot < 0 ? slot + A->hlen : slot];
  *rowptr = P->rowptr;
  *count = h->n;
  return h->v;
}

/* Thread 0, before step n: state monitors, and room in every thread's
 * event list for the largest delivery of the step (a bound: the spikes
 * times the longest row, so no row is read here). */
static int prestep(cj_net *net, int64_t n, int nt)
{
  int64_t most = 1;
  int st;
  if ((st = cj_nx_recstate(net, n))) return st;
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    if (!P->kpre) continue;
    int64_t need;
    if (P->delay_var >= 0) need = P->bucket[n % P->nbucket].n;
    else {
      const pop *A = &net->pop[P->pre];
      int64_t slot = n % A->hlen - P->delay;
      need = A->hist[slot < 0 ? slot + A->hlen : slot].n * P->maxrow;
    }
    if (need > most) most = need;
  }
  if (cj_thr_ws_room(&net->thr, nt, most, net->npop)) return cj_nx_nomem();
  return 0;
}

/* 1: thread t's share of the deliveries of step n; a delivery that cannot
 * be split by target runs on thread 0 between barriers. */
static void deliver(cj_net *net, int t, int nt, int64_t n, double tm)
{
  int64_t *ev = cj_thr_ws_events(net->thr, t), count, j0, j1;
  const int64_t *rp;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if (!P->kpre) continue;
    const int whole = nt <= 1 || !P->splitpre;
    if (whole && nt > 1) cj_thr_barrier(nt);
    if (!whole || t == 0) {
      const int64_t *list = due(net, P, n, &count, &rp);
      const cj_kctx c = at(&P->onpre, n, tm);
      ownedpost(net, P, t, nt, &j0, &j1);
      if (count && (whole || j0 < j1))
        cj_thr_events(thrk(&P->onpre), &c, list, count, rp, P->rowsorted,
                      P->rowcutnt == nt ? P->rowcut : NULL, j0, j1, whole, ev, t, nt);
    }
    if (whole && nt > 1) cj_thr_barrier(nt);
  }
}

static void drive1(cj_net *net, pop *P, drive *D, double t, int64_t lo, int64_t hi)
{
  int64_t row = (int64_t)floor((t + 1e-3 * net->dt) / D->interval);
  void *x = P->var[D->var];
  const double *vals;
  if (row >= D->rows) row = D->rows - 1;
  if (row < 0) row = 0;
  vals = D->values + row * D->cols;
  if (!D->idx) {
    if (D->cols == 1) for (int64_t i = lo; i < hi; i++) cj_nx_putx(net, x, i, vals[0]);
    else for (int64_t i = lo; i < hi; i++) cj_nx_putx(net, x, i, vals[i]);
  } else {
    for (int64_t k = 0; k < D->nidx; k++)
      if (D->idx[k] >= lo && D->idx[k] < hi) cj_nx_putx(net, x, D->idx[k], D->cols == 1 ? vals[0] : vals[k]);
  }
}

/* Poisson drives of neurons lo .. hi - 1 of P at step n: var += weight *
 * Binomial(n_sources, rate dt) per neuron, each draw from its own counter
 * range (IR.md §4): stream 2^62 + step, blocks from (neuron << 32) |
 * (drive << 20). */
static void pinputs(cj_net *net, pop *P, int64_t n, int64_t lo, int64_t hi)
{
  for (int q = 0; q < P->npin; q++) {
    const pinput *I = &P->pin[q];
    void *x = P->var[I->var];
    if (I->B.kind == CJ_BINOM_ZERO) continue;
    const int64_t a = I->lo > lo ? I->lo : lo, b = I->hi + 1 < hi ? I->hi + 1 : hi;
    for (int64_t i = a; i < b; i++) {
      cj_rng r;
      cj_rng_init(&r, net->seed, (UINT64_C(1) << 62) | (uint64_t)n);
      r.counter = ((uint64_t)i << 32) | ((uint64_t)q << 20);
      const int64_t k = cj_binom_draw(&I->B, &r);
      if (k > 0) cj_nx_putx(net, x, i, cj_nx_getx(net, x, i) + I->weight * (double)k);
    }
  }
}

/* 2: Poisson drives and drives of the neurons thread t owns. */
static void drives(cj_net *net, int t, int nt, int64_t n, double tm)
{
  int64_t lo, hi;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (!P->npin && !P->ndrv) continue;
    owned(P, t, nt, &lo, &hi);
    if (P->npin) pinputs(net, P, n, lo, hi);
    for (int d = 0; d < P->ndrv; d++) drive1(net, P, &P->drv[d], tm, lo, hi);
  }
}

/* 3: summed coupling: thread t zeroes and sums the targets it owns; a sum
 * kernel that cannot be split runs on thread 0. Barriers around each
 * kernel: a sum may read (through pre) what another one writes. */
static void sums(cj_net *net, int t, int nt, int64_t n, double tm)
{
  int64_t j0, j1;
  cj_thr_barrier(nt);
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    ownedpost(net, P, t, nt, &j0, &j1);
    void **x = net->pop[P->post].var;
    for (int i = 0; i < P->nsum && j0 < j1; i++)
      memset((char *)x[P->sums[i].var] + (size_t)j0 * net->es, 0, (size_t)(j1 - j0) * net->es);
  }
  cj_thr_barrier(nt);
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    for (int i = 0; i < P->nsum; i++) {
      cj_kctx c = at(&P->sums[i].b, n, tm);
      if (nt > 1 && P->splitsum) {
        ownedpost(net, P, t, nt, &j0, &j1);
        c.list = P->postsyn;
        c.lo = j0 < j1 ? P->postptr[j0] : 0;
        c.n = j0 < j1 ? P->postptr[j1] : 0;
        if (c.lo < c.n) cj_thr_call(thrk(&P->sums[i].b), &c, t);
      } else if (t == 0) {
        cj_thr_call(thrk(&P->sums[i].b), &c, 0);
      }
      cj_thr_barrier(nt);
    }
  }
}

/* 4: thread t's neurons: the update, or the fused update and threshold
 * (its spikes from P->spk + lo, their count in cnt[p]). */
static void update(cj_net *net, int t, int nt, int64_t n, double tm, int64_t *cnt)
{
  int64_t lo, hi;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    cnt[p] = 0;
    if (!P->update.k) continue;
    owned(P, t, nt, &lo, &hi);
    if (lo >= hi) continue;
    cj_kctx c = at(&P->update, n, tm);
    c.lo = lo; c.n = hi;
    if (!P->fusedrun) { cj_thr_call(thrk(&P->update), &c, t); continue; }
    c.spikes = P->spk + lo;
    c.nspikes = &cnt[p];
    P->fused(&c);
  }
}

/* Rates of Poisson populations checked after their update (thread 0). */
static int checkrates(cj_net *net, int64_t n)
{
  int st;
  for (int p = 0; p < net->npop; p++)
    if (net->pop[p].update.k && (st = cj_nx_checkrates(net, &net->pop[p], n))) return st;
  return 0;
}

/* Synapse update kernels over ranges of synapses, or on thread 0 (one that
 * writes a neuron's variable). */
static void synupdate(cj_net *net, int t, int nt, int64_t n, double tm)
{
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if (!P->update.k) continue;
    cj_thr_barrier(nt);
    cj_kctx c = at(&P->update, n, tm);
    if (nt > 1 && P->splitupd) {
      c.lo = cj_thr_cut(P->nsyn, t, nt);
      c.n = cj_thr_cut(P->nsyn, t + 1, nt);
      if (c.lo < c.n) cj_thr_call(thrk(&P->update), &c, t);
    } else if (t == 0) {
      cj_thr_call(thrk(&P->update), &c, 0);
    }
  }
  cj_thr_barrier(nt);
}

/* 5, 6: threshold of thread t's neurons (unless the fused pass found the
 * spikes), then their lastspike and reset. */
static void threshold(cj_net *net, int t, int nt, int64_t n, double tm, int64_t *cnt)
{
  int64_t lo, hi;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (P->kind != CJ_POP_NEURON) continue;
    owned(P, t, nt, &lo, &hi);
    if (lo >= hi) continue;
    if (!P->fusedrun && P->spiking && P->thresh.k) {
      cj_kctx c = at(&P->thresh, n, tm);
      c.lo = lo; c.n = hi;
      c.spikes = P->spk + lo;
      c.nspikes = &cnt[p];
      cj_thr_call(thrk(&P->thresh), &c, t);
    }
    const int64_t *spk = P->spk + lo, m = cnt[p];
    for (int64_t k = 0; k < m; k++) P->lastspike[spk[k]] = tm;
    if (P->reset.k && m) {
      cj_kctx c = at(&P->reset, n, tm);
      c.list = spk;
      c.lo = 0; c.n = m;
      cj_thr_call(thrk(&P->reset), &c, t);
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

/* After the exchange of P's spikes across ranks: lastspike of the other
 * ranks' spikes (every rank keeps all of lastspike, as a checkpoint writes
 * it). Their reset is left to their own rank: the state of neurons
 * another rank steps is read by nothing here and is replaced by theirs at
 * the end of the run (netmpi.c). */
static void othersspiked(pop *P, double tm)
{
  for (int64_t k = 0; k < P->nspk; k++) {
    const int64_t i = P->spk[k];
    if (i < P->own0 || i >= P->own1) P->lastspike[i] = tm;
  }
}

/* Thread 0: the spike lists of step n. A neuron population's are the
 * threads' parts joined in range order (across MPI ranks, this rank's
 * part: endstep joins the ranks'); a Poisson population or a spike
 * generator makes its own here (with lastspike and reset). */
static int spikes(cj_net *net, int nt, int64_t n, double tm)
{
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (P->kind == CJ_POP_NEURON) {
      int64_t m = 0, lo, hi;
      for (int u = 0; u < nt; u++) {
        const int64_t c = cj_thr_ws_counts(net->thr, u)[p];
        owned(P, u, nt, &lo, &hi);
        if (c && lo != m) memmove(P->spk + m, P->spk + lo, (size_t)c * sizeof *P->spk);
        m += c;
      }
      P->nspk = m;
      continue;
    }
    P->nspk = 0;
    if (P->kind == CJ_POP_POISSON) {
      double rate = P->rate;
      if (P->ratek.k) {
        P->ratek.c.step = n; P->ratek.c.t = tm;
        cj_nx_run(&P->ratek);
        rate = P->ratev;
      }
      if (rate * net->dt > 1) return ratefail(net, P, -1, rate, n);
      poisson(P, rate * net->dt);
    } else {
      while (P->gpos < P->ng && P->gstep[P->gpos] < n) P->gpos++;   /* times before a restore point */
      while (P->gpos < P->ng && P->gstep[P->gpos] == n) P->spk[P->nspk++] = P->gidx[P->gpos++];
    }
    for (int64_t k = 0; k < P->nspk; k++) P->lastspike[P->spk[k]] = tm;
    if (P->reset.k && P->nspk) {
      P->reset.c.step = n; P->reset.c.t = tm;
      P->reset.c.list = P->spk; P->reset.c.n = P->nspk;
      cj_nx_run(&P->reset);
    }
  }
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
  P->onpost.c.step = n; P->onpost.c.t = t;
  P->onpost.c.list = P->ev.v;
  P->onpost.c.n = m;
  cj_nx_run(&P->onpost);
  return 0;
}

/* Thread 0: spike lists into the history rings and delay buckets (the
 * bucket of step n was delivered: emptied first), of the populations
 * split across MPI ranks (which = 1: cj_nx_splits), of the others (0), or
 * of all (-1). */
static int queue(cj_net *net, int64_t n, int which)
{
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (!P->hlen || (which >= 0 && cj_nx_splits(P) != which)) continue;
    ivec *h = &P->hist[n % P->hlen];
    if (reserve(h, P->nspk)) return CJ_ENOMEM;
    if (P->nspk) memcpy(h->v, P->spk, (size_t)P->nspk * sizeof *h->v);
    h->n = P->nspk;
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    pop *A = &net->pop[P->pre];
    if (P->delay_var < 0 || !P->kpre || (which >= 0 && cj_nx_splits(A) != which)) continue;
    P->bucket[n % P->nbucket].n = 0;          /* delays are >= 1 step: no push lands here */
    for (int64_t k = 0; k < A->nspk; k++) {
      int64_t i = A->spk[k];
      for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++)
        if (push(&P->bucket[(n + P->dsteps[s]) % P->nbucket], s)) return CJ_ENOMEM;
    }
  }
  return 0;
}

/* Across MPI ranks, the spikes of split populations (neurons) wait for
 * the exchange (netmpi.c: once per window of steps no longer than every
 * delay from a split population, and at the end of a chunk); the other
 * populations' (drawn alike on every rank) are queued at once. After the
 * exchange, for each step held, in order: the lists of every rank joined,
 * the last spike times of other ranks' neurons, 8 for the split
 * populations and 9, as one rank makes them. */
static int exchanged(cj_net *net, int64_t n, int last)
{
  int st, due, steps;
  if ((st = queue(net, n, 0)) || (st = cj_nx_mpi_hold(net, last, &due)) || !due) return st;
  if ((st = cj_nx_mpi_exchange(net, &steps))) return st;
  for (int k = 0; k < steps; k++) {
    const int64_t s = n - (steps - 1) + k;
    cj_nx_mpi_replay(net, k);
    for (int p = 0; p < net->npop; p++)
      if (cj_nx_splits(&net->pop[p])) othersspiked(&net->pop[p], (double)s * net->dt);
    if ((st = queue(net, s, 1)) || (st = cj_nx_record(net, s))) return st;
  }
  return 0;
}

/* Thread 0, the sequential end of step n: the spike lists (exchanged
 * across MPI ranks), 7-10, and the start of the next step when the chunk
 * goes on. */
static int endstep(cj_net *net, int nt, int64_t n, double tm, int more)
{
  int st;
  if ((st = spikes(net, nt, n, tm))) return st;                        /* 5, 6 (the rest) */
  phasemark(CJ_PH_DELIVER);
  for (int j = 0; j < net->nproj; j++)                                  /* 7 post events */
    if (net->proj[j].kpost && (st = postevents(net, &net->proj[j], n, tm))) return st;
  phasemark(CJ_PH_OTHER);
  if (!net->mpi) {
    if ((st = queue(net, n, -1)) || (st = cj_nx_record(net, n))) return st;  /* 8, 9 spikes, rates */
  } else if ((st = exchanged(net, n, !more))) return st;
  net->step = n + 1;                                                    /* 10 */
  return more ? prestep(net, n + 1, nt) : 0;
}

/* One step, run by thread t of nt (IR.md §3; 0, the state monitors, ran
 * in prestep). */
static void onestep(team *T, int t, int nt, int more)
{
  cj_net *net = T->net;
  const int64_t n = net->step;
  const double tm = (double)n * net->dt;
  int64_t *cnt = cj_thr_ws_counts(net->thr, t);
  if (t == 0) phasemark(CJ_PH_DELIVER);                                /* (thread 0's clock) */
  deliver(net, t, nt, n, tm);                                           /* 1 deliver */
  if (T->prebar) cj_thr_barrier(nt);                                    /* (they read pre state) */
  if (t == 0) phasemark(CJ_PH_UPDATE);
  drives(net, t, nt, n, tm);                                            /* 2 Poisson drives, drives */
  if (t == 0 && T->sums) phasemark(CJ_PH_DELIVER);
  if (T->sums) sums(net, t, nt, n, tm);                                 /* 3 summed */
  if (t == 0 && T->sums) phasemark(CJ_PH_UPDATE);
  update(net, t, nt, n, tm, cnt);                                       /* 4 update */
  if (T->rates) {
    cj_thr_barrier(nt);
    if (t == 0) T->st = checkrates(net, n);
    cj_thr_barrier(nt);
    if (T->st) return;
  }
  if (T->synupd) synupdate(net, t, nt, n, tm);
  threshold(net, t, nt, n, tm, cnt);                                    /* 5, 6 threshold, reset */
  cj_thr_barrier(nt);
  if (t == 0) T->st = endstep(net, nt, n, tm, more);                    /* exchange, 7-10 */
  cj_thr_barrier(nt);
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
      if (i >= 0) {
        net->badpop = p; net->badvar = v; net->badi = i;
        return cj_fail(CJ_ERUNTIME, "network '%s': population '%s', variable '%s', neuron %lld is %s "
                       "at step %lld (t = %g s; state is checked every %lld steps)",
                       net->name, P->name, P->vname[v], (long long)i, isnan(cj_nx_getx(net, x, i)) ? "NaN" : "infinite",
                       (long long)net->step, (double)net->step * net->dt, (long long)net->chunk);
      }
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
                       net->name, P->name, P->vname[v], (long long)s, cj_nx_preof(net, P, s), P->spost[s],
                       isnan(cj_nx_getx(net, P->var[v], s)) ? "NaN" : "infinite", (long long)net->step,
                       (double)net->step * net->dt, (long long)net->chunk);
    }
  }
  return 0;
}

/* Definitions as of the current step, for reads between runs. */
static void enddefs(cj_net *net)
{
  for (int p = 0; p < net->npop; p++) cj_nx_rundefs(net, &net->pop[p], net->step);
}

int cj_net_nonfinite(const cj_net *net, int *ppop, int *pvar, int64_t *pi)
{
  if (net->badpop < 0) return 0;
  *ppop = net->badpop; *pvar = net->badvar; *pi = net->badi;
  return 1;
}

/* Thread t: whether a value of its ranges is NaN or infinite (the exact
 * first one is then found by nancheck, on one thread). */
static int anybad(const cj_net *net, int t, int nt)
{
  int64_t lo, hi;
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    owned(P, t, nt, &lo, &hi);
    for (int v = 0; v < P->nvars && lo < hi; v++)
      if (firstbadx(net, (const char *)P->var[v] + (size_t)lo * net->es, hi - lo) >= 0) return 1;
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    lo = cj_thr_cut(P->nsyn, t, nt);
    hi = cj_thr_cut(P->nsyn, t + 1, nt);
    for (int v = 0; v < P->nvars && lo < hi; v++)
      if (P->checked[v] && firstbadx(net, (const char *)P->var[v] + (size_t)lo * net->es, hi - lo) >= 0) return 1;
  }
  return 0;
}

/* The body of a team: T->steps steps, then the scan for non-finite values. */
static void chunk(void *ud, int t, int nt)
{
  team *T = ud;
  for (int64_t k = 0; k < T->steps; k++) {
    onestep(T, t, nt, k + 1 < T->steps);
    if (T->st) return;              /* written before the step's last barrier: every thread stops */
  }
  T->bad[t] = (unsigned char)anybad(T->net, t, nt);
}

/* P's row cuts for a team of nt (cj_thr_rowcuts), when its deliveries
 * split by target; without memory for them, threads bisect the rows. */
static void rowcuts(cj_net *net, proj *P, int nt)
{
  if (!P->splitpre || !P->rowsorted || P->delay_var >= 0 || P->rowcutnt == nt) return;
  const int64_t npre = net->pop[P->pre].n;
  int64_t jstart[CJ_THR_MAX], hi;
  int32_t *cut = cj_realloc(P->rowcut, (size_t)(npre * (nt - 1)) * sizeof *cut);
  if (!cut) return;
  for (int t = 1; t < nt; t++) ownedpost(net, P, t, nt, &jstart[t], &hi);
  cj_thr_rowcuts(P->rowptr, npre, P->spost, jstart, nt, cut);
  P->rowcut = cut;
  P->rowcutnt = nt;
}

/* What a chunk needs: the fused passes, the kernels that split, the phases
 * that need barriers (T); and the team size, one thread when the
 * interpreter cannot have a register file per thread. */
static int plan(cj_net *net, team *T)
{
  int64_t work = 0;
  memset(T, 0, sizeof *T);
  T->net = net;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    work += P->own1 - P->own0;      /* this rank's */
    P->fusedrun = P->fused && P->fusable && P->kind == CJ_POP_NEURON && P->spiking && P->thresh.k &&
                  P->update.k && P->update.k->fn && P->thresh.k->fn;
    T->rates |= P->update.k && P->ratevar >= 0;
  }
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    P->splitpre = P->kpre && cj_thr_bytarget(thrk(&P->onpre), P->onpre.k->nrefs);
    T->prebar |= P->kpre && readspre(&P->onpre);
    P->splitsum = P->postsyn != NULL;
    for (int i = 0; i < P->nsum; i++)
      P->splitsum &= cj_thr_bytarget(thrk(&P->sums[i].b), P->sums[i].b.k->nrefs);
    T->sums |= P->nsum > 0;
    P->splitupd = P->update.k != NULL;
    for (int r = 0; P->update.k && r < P->update.k->nrefs; r++)
      if (cj_prog_writes(P->update.k->prog, r) && cj_prog_slothows(P->update.k->prog, r) != 1 << CJ_HOW_S)
        P->splitupd = 0;
    T->synupd |= P->update.k != NULL;
  }
  int nt = cj_threads_for(work), st = 0;
  for (int j = 0; j < net->nproj && nt > 1; j++) rowcuts(net, &net->proj[j], nt);
  for (int p = 0; p < net->npop && nt > 1; p++) {
    const bound *b[3] = { &net->pop[p].update, &net->pop[p].thresh, &net->pop[p].reset };
    for (int q = 0; q < 3; q++) if (b[q]->k) st |= cj_thr_reserve(thrk(b[q]), nt);
  }
  for (int j = 0; j < net->nproj && nt > 1; j++) {
    const proj *P = &net->proj[j];
    if (P->kpre) st |= cj_thr_reserve(thrk(&P->onpre), nt);
    if (P->update.k) st |= cj_thr_reserve(thrk(&P->update), nt);
    for (int i = 0; i < P->nsum; i++) st |= cj_thr_reserve(thrk(&P->sums[i].b), nt);
  }
  return st ? 1 : nt;
}

static double wallclock(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cj_net_run(cj_net *net, int64_t nsteps, cj_progressf progress, void *ud)
{
  team T;
  int st;
  if (!net->built) return cj_fail(CJ_EINVAL, "network '%s' is not built", net->name);
  if (nsteps < 0) return cj_fail(CJ_EINVAL, "run: number of steps must be >= 0, got %lld", (long long)nsteps);
  for (int p = 0; p < net->npop; p++) net->pop[p].defstep = -1;   /* state may have been written */
  net->badpop = -1;
  if ((st = cj_nx_mpi_window(net))) return st;
  for (int64_t done = 0; done < nsteps;) {
    int64_t m = net->chunk - net->step % net->chunk;   /* chunks end at multiples of chunk */
    if (m > nsteps - done) m = nsteps - done;
    const int planned = plan(net, &T);                 /* the kernels may change in progress() */
    const int nt = cj_thr_pace_pick(&net->pace, planned);
    net->team = nt;
    phasemark(CJ_PH_OTHER);
    if ((st = prestep(net, net->step, nt))) return st;
    T.steps = m;
    memset(T.bad, 0, sizeof T.bad);
    const long slept = cj_thr_sleeps();
    const double w0 = wallclock();
    cj_thr_team(nt, chunk, &T);
    if (T.st) return T.st;
    cj_thr_pace_done(&net->pace, planned, nt, (wallclock() - w0) / (double)m, cj_thr_sleeps() - slept, m);
    done += m;
    int bad = 0;
    for (int t = 0; t < nt; t++) bad |= T.bad[t];
    if (bad && (st = nancheck(net))) { cj_net_flush(net); return st; }
    if (progress && progress(ud, done, nsteps)) {
      enddefs(net);
      cj_net_flush(net);
      return cj_fail(CJ_ERUNTIME, "network '%s': interrupted at step %lld (t = %g s)", net->name,
                     (long long)net->step, (double)net->step * net->dt);
    }
  }
  if ((st = cj_nx_mpi_endrun(net))) return st;
  enddefs(net);
  return cj_net_flush(net);
}

/* ---- inspection ------------------------------------------------------------ */
int64_t cj_net_step(const cj_net *net) { return net->step; }
double cj_net_time(const cj_net *net) { return (double)net->step * net->dt; }
double cj_net_dt(const cj_net *net) { return net->dt; }
int cj_net_threads(const cj_net *net) { return net->team > 0 ? net->team : 1; }
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

int cj_net_set_kernels(cj_net *net, cj_kfn (*lookup)(void *ud, int id), void *ud)
{
  for (int i = 0; i < net->nkern; i++)
    if (!lookup(ud, net->kern[i].id))
      return cj_fail(CJ_ERUNTIME, "the compiled C has no function cjk_%d for kernel %d '%s'",
                     net->kern[i].id, net->kern[i].id, net->kern[i].name);
  for (int i = 0; i < net->nkern; i++) net->kern[i].fn = lookup(ud, net->kern[i].id);
  return 0;
}

void cj_net_set_fused(cj_net *net, cj_kfn (*lookup)(void *ud, int update, int threshold), void *ud)
{
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    P->fused = P->kupdate && P->kthresh ? lookup(ud, P->kupdate, P->kthresh) : NULL;
  }
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
  return cj_nx_makepre(net, &net->proj[j]) ? NULL : net->proj[j].spre;
}
const int32_t *cj_net_proj_post(const cj_net *net, int j) { return net->proj[j].spost; }
const int32_t *cj_net_proj_delays(const cj_net *net, int j) { return net->proj[j].dsteps; }
int64_t cj_net_proj_delay(const cj_net *net, int j) { return net->proj[j].delay; }

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
    if (P->rowcut) b += (size_t)net->pop[P->pre].n * (size_t)(P->rowcutnt - 1) * 4;
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
  cj_thr_ws_free(net->thr);
  cj_nx_mpi_free(net);
  cj_free(net->name);
  cj_free(net);
}
