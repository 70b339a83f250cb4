/*
 * netmpi.c — a network across MPI ranks (netmpi.h): the process's rank and
 * size, the partition of neurons, the spike exchange once per window,
 * the one-rank synapse ids that key random draws of synapse
 * initialisation, and what is made current on every rank (neuron state)
 * or on rank 0 (state monitors) at the end of a run, and what checkpoints
 * across ranks need (the section at the end).
 *
 * Everything here is called from net.c, connect.c and checkpoint.c through
 * the cj_nx_mpi_* hooks of netimpl.h; with one rank net->mpi is NULL and
 * none of them does anything.
 */
#include "config.h"
#include "netimpl.h"
#include "netmpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CAJAL_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1;
#ifdef CAJAL_MPI
static int started;                /* MPI_Init_thread ran */
#endif
static cj_mpi_stats stats;
int cj_nx_prof;
static int phase = -1;
static double phase0;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Charge the time since the last mark to the phase then running. */
void cj_nx_mark(int ph)
{
  double t = now();
  if (phase == CJ_PH_DELIVER) stats.deliver += t - phase0;
  else if (phase == CJ_PH_UPDATE) stats.update += t - phase0;
  else if (phase == CJ_PH_EXCHANGE) stats.exchange += t - phase0;
  else if (phase == CJ_PH_OTHER) stats.other += t - phase0;
  phase = ph;
  phase0 = t;
}

void cj_mpi_profile(int on) { cj_nx_prof = on != 0; phase = -1; }
int cj_mpi_profiling(void) { return cj_nx_prof; }
void cj_mpi_stats_get(cj_mpi_stats *s) { *s = stats; }
void cj_mpi_stats_reset(void) { memset(&stats, 0, sizeof stats); phase = -1; }

int cj_mpi_available(void)
{
#ifdef CAJAL_MPI
  return 1;
#else
  return 0;
#endif
}

int cj_mpi_rank(void) { return rank_; }
int cj_mpi_size(void) { return size_; }

void cj_mpi_range(int64_t n, int r, int size, int64_t *lo, int64_t *hi)
{
  int64_t q = n / size, extra = n % size;
  *lo = (int64_t)r * q + (r < extra ? r : extra);
  *hi = *lo + q + (r < extra);
}

#ifdef CAJAL_MPI
static void finalize(void)
{
  int fin = 0;
  if (!started) return;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
  started = 0;
}

/* Whether a launcher started this process (Open MPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE; PMIx and PMI launchers their rank). */
static int launched(void)
{
  const char *off = getenv("CAJAL_MPI");
  if (off && strcmp(off, "off") == 0) return 0;
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}
#endif

int cj_mpi_init(int *argc, char ***argv)
{
#ifdef CAJAL_MPI
  int provided = 0;
  if (started || !launched()) return 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    cj_fail(CJ_ERUNTIME, "MPI_Init_thread failed");
    return -1;
  }
  started = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  atexit(finalize);                /* os.exit() of a script finalizes too */
  return 1;
#else
  (void)argc; (void)argv;
  return 0;
#endif
}

void cj_mpi_finalize(void)
{
#ifdef CAJAL_MPI
  finalize();
#endif
}

void cj_mpi_abort(int code)
{
#ifdef CAJAL_MPI
  if (started && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
  (void)code;
#endif
}

void cj_mpi_barrier(void)
{
#ifdef CAJAL_MPI
  if (started) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

/* ---- the network across ranks ------------------------------------------ */
struct cj_nxmpi {
  int *counts, *displs;            /* per rank: the exchange's scratch */
  int64_t *gathered;               /* per monitor: state rows already on rank 0 */
  int32_t *spk; int64_t capspk;    /* the exchanged spikes, 4 bytes each (neurons < 2^31) */
  /* The window: the steps since the last exchange (at most `window` of
   * them), each population's list of each step, 4 bytes per spike. */
  int64_t window;                  /* the shortest delay of an event from a split population, steps */
  int nsplit;                      /* split populations */
  int nwin;                        /* steps held */
  int *cnt; int64_t capcnt;        /* per step held and population: the list's length (this rank's part) */
  int32_t *mine; int64_t nmine, capmine;   /* split populations' parts, in (step, population) order */
  int32_t *same; int64_t nsame, capsame;   /* the others' lists: drawn alike on every rank */
  int *allcnt; int64_t capall;     /* after the exchange: every rank's cnt of split populations */
  int64_t *at;                     /* per rank: where replay reads next in spk */
  int64_t atsame;                  /* where replay reads next in same */
};

void cj_nx_mpi_free(cj_net *net)
{
  struct cj_nxmpi *X = net->mpi;
  if (!X) return;
  cj_free(X->counts); cj_free(X->displs); cj_free(X->gathered); cj_free(X->spk);
  cj_free(X->cnt); cj_free(X->mine); cj_free(X->same); cj_free(X->allcnt); cj_free(X->at);
  cj_free(X);
  net->mpi = NULL;
}


int cj_nx_mpi_prepare(cj_net *net)
{
  for (int p = 0; p < net->npop; p++) { net->pop[p].own0 = 0; net->pop[p].own1 = net->pop[p].n; }
  if (size_ <= 1) return 0;
  if (!net->mpi) {
    if (!(net->mpi = cj_calloc(1, sizeof *net->mpi)) ||
        !(net->mpi->counts = cj_calloc((size_t)size_, sizeof(int))) ||
        !(net->mpi->displs = cj_calloc((size_t)size_, sizeof(int))) ||
        !(net->mpi->gathered = cj_calloc((size_t)(net->nmon > 0 ? net->nmon : 1), sizeof(int64_t))) ||
        !(net->mpi->at = cj_calloc((size_t)size_, sizeof(int64_t))))
      return cj_nx_nomem();
  }
  for (int p = 0; p < net->npop; p++)
    if (cj_nx_splits(&net->pop[p])) cj_mpi_range(net->pop[p].n, rank_, size_, &net->pop[p].own0, &net->pop[p].own1);
  for (int m = 0; m < net->nmon; m++) {     /* one file per rank: ranks do not write one file */
    mon *M = &net->mon[m];
    if (!M->file || rank_ == 0) continue;
    size_t len = strlen(M->file) + 32;
    char *f = cj_malloc(len);
    if (!f) return cj_nx_nomem();
    snprintf(f, len, "%s.rank%d", M->file, rank_);
    cj_free(M->file);
    M->file = f;
  }
  return 0;
}

void cj_nx_postrange(const cj_net *net, const proj *P, int64_t *lo, int64_t *hi)
{
  const pop *B = &net->pop[P->post];
  *lo = net->mpi ? B->own0 : 0;
  *hi = net->mpi ? B->own1 : B->n;
}

/* What cannot run split: a kernel of synapses that runs every step and
 * draws random numbers (keyed by the synapse id, which is the rank's own)
 * or reads a variable of a pre neuron another rank may own (only its own
 * neurons are current). Refused when the network is built, the same way on
 * every rank. */
static int refuse(cj_net *net, const proj *P, const bound *b, const char *what)
{
  const kern *K = b->k;
  const pop *A = &net->pop[P->pre];
  if (!K) return 0;
  if (K->rand)
    return cj_fail(CJ_EINVAL, "projection '%s': the %s kernel '%s' draws random numbers, which a network split "
                   "over %d MPI ranks cannot key by the one-rank synapse ids yet (run it on one rank)",
                   P->name, what, K->name, size_);
  for (int r = 0; r < K->nrefs; r++)
    if (K->refs[r].owner == CJ_OWNER_POP && (cj_prog_slothows(K->prog, r) & (1 << CJ_HOW_PRE)) && cj_nx_splits(A))
      return cj_fail(CJ_EINVAL, "projection '%s': the %s kernel '%s' reads variable '%s' of the pre neurons "
                     "('%s'), which are split over %d MPI ranks and current only on their own rank "
                     "(run it on one rank)", P->name, what, K->name, A->vname[K->refs[r].var], A->name, size_);
  return 0;
}

static int checkmon(cj_net *net, int m)
{
  const mon *M = &net->mon[m];
  if (M->kind != CJ_MON_STATE) return 0;
  if (M->proj >= 0)
    return cj_fail(CJ_EINVAL, "monitor %d: state of synapses ('%s') cannot be recorded across %d MPI ranks "
                   "(synapses are split by post neuron; record it on one rank)", m + 1, net->proj[M->proj].name, size_);
  if (M->file && cj_nx_splits(&net->pop[M->pop]))
    return cj_fail(CJ_EINVAL, "monitor %d: a state monitor of '%s' streamed to a file cannot be written across %d "
                   "MPI ranks (record it in memory: rank 0 gathers it at the end of each run)", m + 1,
                   net->pop[M->pop].name, size_);
  return 0;
}

int cj_nx_mpi_check(cj_net *net)
{
  int st;
  if (!net->mpi) return 0;
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    if ((st = refuse(net, P, &P->update, "update")) || (st = refuse(net, P, &P->onpre, "on_pre")) ||
        (st = refuse(net, P, &P->onpost, "on_post"))) return st;
    for (int i = 0; i < P->nsum; i++) if ((st = refuse(net, P, &P->sums[i].b, "summed"))) return st;
  }
  for (int m = 0; m < net->nmon; m++) if ((st = checkmon(net, m))) return st;
  for (int p = 0; p < net->npop; p++) {     /* each rank steps its own neurons */
    pop *P = &net->pop[p];
    if (!cj_nx_splits(P)) continue;
    if (P->update.k) { P->update.c.lo = P->own0; P->update.c.n = P->own1; }
    if (P->thresh.k) { P->thresh.c.lo = P->own0; P->thresh.c.n = P->own1; }
  }
  return 0;
}

#ifdef CAJAL_MPI
static int mpifail(const char *what)
{
  return cj_fail(CJ_ERUNTIME, "MPI rank %d of %d: %s failed", rank_, size_, what);
}
#endif

/* The one-rank id of the first synapse of each row (gfirst): the rows of
 * every rank counted, ranks below this one first (synapses of a row ascend
 * by post neuron, and ranks own ascending post ranges). */
int cj_nx_mpi_rows(cj_net *net, proj *P)
{
#ifdef CAJAL_MPI
  const int64_t n = net->pop[P->pre].n;
  int64_t *cnt, *below, *tot;
  int st = 0;
  if (!net->mpi) return 0;
  cj_free(P->gfirst);
  P->gfirst = cj_nx_bigalloc((size_t)n * sizeof *P->gfirst);
  cnt = cj_malloc((size_t)n * sizeof *cnt);
  below = cj_calloc((size_t)n, sizeof *below);
  tot = cj_malloc((size_t)n * sizeof *tot);
  if (!P->gfirst || !cnt || !below || !tot) st = cj_nx_nomem();
  for (int64_t i = 0; !st && i < n; i++) cnt[i] = P->rowptr[i + 1] - P->rowptr[i];
  for (int64_t i = 0, c; !st && i < n; i += c) {   /* counts are int in MPI */
    c = n - i < (1 << 28) ? n - i : (1 << 28);
    if (MPI_Exscan(cnt + i, below + i, (int)c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Allreduce(cnt + i, tot + i, (int)c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      st = mpifail("MPI_Exscan of synapse rows");
  }
  if (!st && rank_ == 0) memset(below, 0, (size_t)n * sizeof *below);   /* Exscan leaves rank 0's undefined */
  for (int64_t i = 0, acc = 0; !st && i < n; i++) { P->gfirst[i] = acc + below[i]; acc += tot[i]; }
  cj_free(cnt); cj_free(below); cj_free(tot);
  return st;
#else
  (void)net; (void)P;
  return 0;
#endif
}

/* The init kernel of P's synapses keyed as on one rank: row by row, the
 * kernel runs over the one-rank ids of the row's local synapses, its
 * synapse arrays (and pre, post) shifted so that id lands on the local
 * element. */
void cj_nx_mpi_syninit(cj_net *net, proj *P)
{
  bound *b = &P->init;
  const kern *K = b->k;
  const int64_t n = net->pop[P->pre].n;
  void **base = b->vars;
  void *shifted[K->nrefs > 0 ? K->nrefs : 1];
  cj_kctx c = b->c;
  c.var = shifted;
  c.step = INITSTEP;
  c.t = 0;
  for (int64_t i = 0; i < n; i++) {
    const int64_t a = P->rowptr[i], e = P->rowptr[i + 1], off = P->gfirst[i] - a;
    if (a == e) continue;
    for (int r = 0; r < K->nrefs; r++)
      shifted[r] = K->refs[r].owner == CJ_OWNER_PROJ ? (char *)base[r] - off * (int64_t)net->es : base[r];
    c.pre = P->spre ? P->spre - off : NULL;
    c.post = P->spost - off;
    c.lo = P->gfirst[i];
    c.n = P->gfirst[i] + (e - a);
    if (K->fn) K->fn(&c);
    else cj_prog_run(K->prog, &c);
  }
}

/* ---- the spike exchange, once per window ----------------------------------
 * A spike of a split population at step s is needed on the other ranks
 * first by a delivery at step s + d, d >= window (the shortest delay of an
 * event from a split population over every rank): so the ranks step up to
 * `window` steps on their own lists, then join every list of those steps
 * at once. Nothing else reads other ranks' spikes during a run: kernels
 * reading pre neurons of a split population are refused (refuse above),
 * post events use the synapses onto this rank's neurons, whose post spikes
 * are this rank's. What reads the joined lists (history rings, delay
 * buckets, monitors, other ranks' last spike times) is done by net.c for
 * each step of the window, in step order, after the exchange: the same
 * calls on the same lists as one rank makes, so the same bits. */
int cj_nx_mpi_window(cj_net *net)
{
  struct cj_nxmpi *X = net->mpi;
  int64_t d = INT64_MAX;
  if (!X) return 0;
  X->nwin = 0; X->nmine = 0; X->nsame = 0; X->nsplit = 0;
  for (int p = 0; p < net->npop; p++) X->nsplit += cj_nx_splits(&net->pop[p]);
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    if (!P->kpre || !cj_nx_splits(&net->pop[P->pre])) continue;
    if (P->delay_var < 0) { if (P->delay < d) d = P->delay; continue; }
    if (P->mind < d) d = P->mind;
  }
#ifdef CAJAL_MPI
  if (MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Allreduce of the shortest delay");
#endif
  X->window = d < 1 ? 1 : d;
  return 0;
}

/* Step n's lists held (this rank's part of a split population's); *due
 * is set when the window is to be exchanged now: full, or `last` (the
 * end of a chunk, after which a run may stop). */
int cj_nx_mpi_hold(cj_net *net, int last, int *due)
{
  struct cj_nxmpi *X = net->mpi;
  const int np = net->npop;
  if (cj_nx_grow((void **)&X->cnt, &X->capcnt, (int64_t)(X->nwin + 1) * np, sizeof *X->cnt)) return CJ_ENOMEM;
  for (int p = 0; p < np; p++) {
    const pop *P = &net->pop[p];
    const int sp = cj_nx_splits(P);
    int32_t **v = sp ? &X->mine : &X->same;
    int64_t *n = sp ? &X->nmine : &X->nsame, *cap = sp ? &X->capmine : &X->capsame;
    if (cj_nx_grow((void **)v, cap, *n + P->nspk, sizeof **v)) return CJ_ENOMEM;
    for (int64_t k = 0; k < P->nspk; k++) (*v)[*n + k] = (int32_t)P->spk[k];
    *n += P->nspk;
    X->cnt[(int64_t)X->nwin * np + p] = (int)P->nspk;
  }
  X->nwin++;
  *due = last || X->nwin >= X->window;
  return 0;
}

/* Every rank's parts of the window held, joined into spk; the number of
 * steps held into *nsteps (replayed with cj_nx_mpi_replay 0 .. *nsteps - 1). */
int cj_nx_mpi_exchange(cj_net *net, int *nsteps)
{
  struct cj_nxmpi *X = net->mpi;
  const int np = net->npop;
  *nsteps = X->nwin;
  X->atsame = 0;
#ifdef CAJAL_MPI
  int back = phase;
  const int64_t per = (int64_t)X->nwin * X->nsplit;     /* counts per rank */
  if (per == 0) return 0;
  if (per > INT32_MAX / size_ || X->nmine > INT32_MAX)
    return cj_fail(CJ_ERUNTIME, "MPI rank %d of %d: the spikes of %d steps are too many for one exchange",
                   rank_, size_, X->nwin);
  if (cj_nx_prof) cj_nx_mark(CJ_PH_EXCHANGE);
  if (cj_nx_grow((void **)&X->allcnt, &X->capall, per * size_, sizeof *X->allcnt)) return CJ_ENOMEM;
  int *own = X->allcnt + per * rank_;
  for (int s = 0, q = 0; s < X->nwin; s++)
    for (int p = 0; p < np; p++) if (cj_nx_splits(&net->pop[p])) own[q++] = X->cnt[(int64_t)s * np + p];
  if (MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, X->allcnt, (int)per, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Allgather of spike counts");
  int64_t total = 0;
  for (int r = 0; r < size_; r++) {
    int64_t c = 0;
    for (int64_t q = 0; q < per; q++) c += X->allcnt[per * r + q];
    if (total + c > INT32_MAX)
      return cj_fail(CJ_ERUNTIME, "MPI rank %d of %d: more than 2^31 spikes in one exchange", rank_, size_);
    X->counts[r] = (int)c;
    X->displs[r] = (int)total;
    X->at[r] = total;
    total += c;
  }
  if (cj_nx_grow((void **)&X->spk, &X->capspk, total > 0 ? total : 1, sizeof *X->spk)) return CJ_ENOMEM;
  if (X->nmine) memcpy(X->spk + X->displs[rank_], X->mine, (size_t)X->nmine * sizeof *X->spk);
  if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, X->spk, X->counts, X->displs, MPI_INT32_T,
                     MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Allgatherv of spikes");
  stats.bytes += (total - X->nmine) * (int64_t)sizeof *X->spk + (size_ - 1) * per * (int64_t)sizeof(int);
  stats.exchanges++;
  if (cj_nx_prof) cj_nx_mark(back);
#else
  (void)np;
#endif
  return 0;
}

/* Every population's list of the k-th step held (k ascending, each once,
 * after cj_nx_mpi_exchange): a split population's is the ranks' parts
 * joined in rank order, the ascending list of one rank. The window is
 * emptied after its last step. */
void cj_nx_mpi_replay(cj_net *net, int k)
{
  struct cj_nxmpi *X = net->mpi;
  const int np = net->npop;
  const int ns = X->nsplit;
  int q = 0;
  for (int p = 0; p < np; p++) {
    pop *P = &net->pop[p];
    int64_t m = 0;
    if (!cj_nx_splits(P)) {
      m = X->cnt[(int64_t)k * np + p];
      for (int64_t i = 0; i < m; i++) P->spk[i] = X->same[X->atsame + i];
      X->atsame += m;
    } else {
      for (int r = 0; r < size_; r++) {
        const int c = X->allcnt[(int64_t)X->nwin * ns * r + (int64_t)k * ns + q];
        for (int i = 0; i < c; i++) P->spk[m + i] = X->spk[X->at[r] + i];
        X->at[r] += c;
        m += c;
      }
      q++;
    }
    P->nspk = m;
  }
  if (k == X->nwin - 1) { X->nwin = 0; X->nmine = 0; X->nsame = 0; }
}

#ifdef CAJAL_MPI
/* Every rank's range of a split population's variable onto every rank. */
static int sharevar(cj_net *net, pop *P, void *x)
{
  struct cj_nxmpi *X = net->mpi;
  for (int r = 0; r < size_; r++) {
    int64_t lo, hi;
    cj_mpi_range(P->n, r, size_, &lo, &hi);
    X->counts[r] = (int)(hi - lo);
    X->displs[r] = (int)lo;
  }
  if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, X->counts, X->displs,
                     net->single ? MPI_FLOAT : MPI_DOUBLE, MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Allgatherv of neuron state");
  return 0;
}

/* Rank 0's state monitor M made exact: the rows recorded since the last
 * gather, each column from the rank owning its neuron (the others send
 * zero bits; a bitwise or joins them). Other ranks keep their own columns. */
static int gathermon(cj_net *net, int m)
{
  mon *M = &net->mon[m];
  const pop *P = &net->pop[M->pop];
  int64_t from = net->mpi->gathered[m] * M->nidx, len = M->vals.n - from;
  for (int64_t k = 0; k < M->nidx; k++) {
    if (M->idx[k] >= P->own0 && M->idx[k] < P->own1) continue;
    for (int64_t q = from + k; q < M->vals.n; q += M->nidx) M->vals.v[q] = 0;
  }
  for (int64_t at = 0; at < len;) {
    int c = len - at < (1 << 28) ? (int)(len - at) : (1 << 28);
    void *buf = M->vals.v + from + at;
    int rc = rank_ == 0 ? MPI_Reduce(MPI_IN_PLACE, buf, c, MPI_UINT64_T, MPI_BOR, 0, MPI_COMM_WORLD)
                        : MPI_Reduce(buf, NULL, c, MPI_UINT64_T, MPI_BOR, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpifail("MPI_Reduce of a state monitor");
    at += c;
  }
  net->mpi->gathered[m] = M->steps.n;
  return 0;
}
#endif

/* At the end of a run: the neuron state of every rank's range on every
 * rank, and rank 0's state monitors. */
int cj_nx_mpi_endrun(cj_net *net)
{
#ifdef CAJAL_MPI
  int st;
  if (!net->mpi) return 0;
  for (int p = 0; p < net->npop; p++) {
    pop *P = &net->pop[p];
    if (!cj_nx_splits(P)) continue;
    for (int v = 0; v < P->nvars; v++) if ((st = sharevar(net, P, P->var[v]))) return st;
  }
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->kind != CJ_MON_STATE || !cj_nx_splits(&net->pop[M->pop])) continue;
    if (net->mpi->gathered[m] > M->steps.n) net->mpi->gathered[m] = 0;   /* cleared by a reset */
    if ((st = gathermon(net, m))) return st;
  }
  return 0;
#else
  (void)net;
  return 0;
#endif
}

void cj_nx_mpi_reset(cj_net *net)
{
  for (int m = 0; net->mpi && m < net->nmon; m++) net->mpi->gathered[m] = 0;
}

/* Whether kernel tree k draws random numbers. */
static int randnode(const cj_node *x)
{
  if (!x) return 0;
  if (x->op == CJ_N_RAND) return 1;
  for (int a = 0; a < x->nargs && a < 3; a++) if (randnode(x->arg[a])) return 1;
  for (int b = 0; b < 2; b++)
    for (int s = 0; x->body[b] && s < x->nbody[b]; s++) if (randnode(x->body[b][s])) return 1;
  return 0;
}

int cj_nx_kdef_rand(const cj_kdef *k)
{
  for (int s = 0; s < k->nbody; s++) if (randnode(k->body[s])) return 1;
  return randnode(k->cond) || randnode(k->value);
}

/* ---- checkpoints across ranks -------------------------------------------
 * A save made on K ranks is K + 1 files (checkpoint.c): each rank writes
 * the synapses it holds, with their one-rank ids, to its part, and rank 0
 * what every rank holds alike (neuron state, history rings, monitors) to
 * the main file. The collectives a save and a restore need are here: the
 * counts every rank learns, the agreement on whether every rank succeeded,
 * and the range a part of a save on K ranks must hold. A restore of a
 * one-rank save on K ranks keeps the synapses onto the rank's neurons
 * (cj_nx_mpi_keepproj and friends below). */

/* The range of P's post neurons whose synapses rank r of size holds:
 * its part of a split population, all of another. */
void cj_nx_mpi_partrange(const cj_net *net, const proj *P, int r, int size, int64_t *lo, int64_t *hi)
{
  const pop *B = &net->pop[P->post];
  *lo = 0;
  *hi = B->n;
  if (cj_nx_splits(B)) cj_mpi_range(B->n, r, size, lo, hi);
}

/* n values of every rank into all (rank r's at all + r * n). */
int cj_nx_mpi_allgather(const cj_net *net, const int64_t *mine, int n, int64_t *all)
{
#ifdef CAJAL_MPI
  if (net->mpi) {
    if (MPI_Allgather(mine, n, MPI_INT64_T, all, n, MPI_INT64_T, MPI_COMM_WORLD) != MPI_SUCCESS)
      return mpifail("MPI_Allgather of checkpoint counts");
    return 0;
  }
#endif
  (void)net;
  memcpy(all, mine, (size_t)n * sizeof *all);
  return 0;
}

/* Every rank learns whether every rank succeeded: st is this rank's status
 * (its message in cj_errmsg()). When some failed, every rank returns a
 * failure: its own when all failed, else the status of the lowest failing
 * rank and its message, as "what: rank R of K: message" (its own leading
 * "what: " dropped). A collective: every rank calls it at the same point,
 * which is what keeps a rank that failed from leaving the others waiting
 * in the next one. */
int cj_nx_mpi_agree(const cj_net *net, int st, const char *what)
{
#ifdef CAJAL_MPI
  int mine[2] = { st ? rank_ : size_, st != 0 }, all[2] = { size_, 0 }, code = st;
  char msg[1024];
  size_t n = strlen(what);
  if (!net->mpi) return st;
  if (MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Allreduce of a checkpoint's status");
  if (all[0] == size_) return 0;
  if (all[1]) return st;                     /* every rank failed: each says why */
  if (rank_ == all[0]) {
    const char *m = cj_errmsg();
    if (!strncmp(m, what, n) && !strncmp(m + n, ": ", 2)) m += n + 2;
    snprintf(msg, sizeof msg, "%s", m);
  }
  if (MPI_Bcast(&code, 1, MPI_INT, all[0], MPI_COMM_WORLD) != MPI_SUCCESS ||
      MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, all[0], MPI_COMM_WORLD) != MPI_SUCCESS)
    return mpifail("MPI_Bcast of a checkpoint's error");
  return cj_fail(code ? code : CJ_ERUNTIME, "%s: rank %d of %d: %s", what, all[0], size_, msg);
#else
  (void)net; (void)what;
  return st;
#endif
}

/* P holds the one-rank synapses just read (spre, spost, nsyn): keep those
 * onto this rank's neurons, in order; gmap maps the one-rank ids. */
int cj_nx_mpi_keepproj(cj_net *net, proj *P)
{
  int64_t lo, hi, m = 0;
  const int64_t na = net->pop[P->pre].n;
  if (!net->mpi) return 0;
  cj_nx_postrange(net, P, &lo, &hi);
  P->gtotal = P->nsyn;
  cj_free(P->gmap); cj_free(P->gfirst);
  P->gmap = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *P->gmap);
  P->gfirst = cj_malloc((size_t)na * sizeof *P->gfirst);
  if (!P->gmap || !P->gfirst) return cj_nx_nomem();
  for (int64_t i = 0; i < na; i++) P->gfirst[i] = -1;
  for (int64_t s = 0; s < P->nsyn; s++) {
    if (P->spost[s] < lo || P->spost[s] >= hi) { P->gmap[s] = -1; continue; }
    if (P->gfirst[P->spre[s]] < 0) P->gfirst[P->spre[s]] = s;
    P->gmap[s] = m;
    P->spre[m] = P->spre[s]; P->spost[m] = P->spost[s];
    m++;
  }
  for (int64_t i = 0; i < na; i++) if (P->gfirst[i] < 0) P->gfirst[i] = 0;   /* an empty row here */
  P->nsyn = m;
  return 0;
}

/* x holds gtotal one-rank values: keep this rank's, in place. */
void cj_nx_mpi_keepvals(const cj_net *net, const proj *P, void *x)
{
  for (int64_t s = 0; s < P->gtotal; s++)
    if (P->gmap[s] >= 0) memmove((char *)x + P->gmap[s] * (int64_t)net->es, (char *)x + s * (int64_t)net->es, net->es);
}

void cj_nx_mpi_keepbucket(const proj *P, ivec *b)
{
  int64_t m = 0;
  for (int64_t k = 0; k < b->n; k++) if (P->gmap[b->v[k]] >= 0) b->v[m++] = P->gmap[b->v[k]];
  b->n = m;
}

int64_t cj_nx_mpi_maxd(int64_t maxd)
{
#ifdef CAJAL_MPI
  int64_t all = maxd;
  if (started && MPI_Allreduce(&maxd, &all, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) {
    mpifail("MPI_Allreduce of the longest delay");
    return -1;
  }
  return all;
#else
  return maxd;
#endif
}
