/*
 * threads.c — the thread count, the team that runs a network's steps and
 * the kernels' shares of a step (see threads.h). Every OpenMP construct of
 * the runtime is in this file.
 */
#define _GNU_SOURCE
#include "threads.h"

#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static int nthreads;           /* 0: not chosen yet */
static int64_t grain = CJ_THR_GRAIN;

static int available(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n < CJ_THR_MAX ? n : CJ_THR_MAX;
  }
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

/* $CAJAL_THREADS when it is a count 1 .. CJ_THR_MAX (a warning otherwise),
 * else the processors available. */
static int initial(void)
{
  const char *s = getenv("CAJAL_THREADS");
  if (s && *s) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == '\0' && n >= 1 && n <= CJ_THR_MAX) return (int)n;
    fprintf(stderr, "cajal: CAJAL_THREADS='%s' ignored (expected a count from 1 to %d)\n", s, CJ_THR_MAX);
  }
  return available();
}

int cj_threads_available(void)
{
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}

int cj_threads(void)
{
  if (!cj_threads_available()) return 1;
  if (!nthreads) nthreads = initial();
  return nthreads;
}

int cj_threads_set(int n)
{
  if (n < 1 || n > CJ_THR_MAX)
    return cj_fail(CJ_EINVAL, "threads: a count from 1 to %d expected, got %d", CJ_THR_MAX, n);
  if (n > 1 && !cj_threads_available())
    return cj_fail(CJ_EINVAL, "threads: this cajal was built without OpenMP (one thread only)");
  nthreads = n;
  return CJ_OK;
}

int cj_threads_for(int64_t work)
{
  int t = cj_threads();
  if (t <= 1 || work < 2 * grain) return 1;
  int64_t most = work / grain;
  return most < t ? (int)most : t;
}

int64_t cj_threads_grain(int64_t elems)
{
  if (elems > 0) grain = elems;
  return grain;
}

static int adapt = 1;

int cj_threads_adapt(int on)
{
  if (on >= 0) adapt = on != 0;
  return adapt;
}

/* ---- pacing (threads.h) -------------------------------------------------- */
#define PACE_MAX 64             /* chunks on one thread at most before the team is tried again */

int cj_thr_pace_pick(cj_thr_pace *p, int nt)
{
  if (nt <= 1 || !adapt || p->solo_left <= 0) return nt;
  p->solo_left--;
  return 1;
}

void cj_thr_pace_done(cj_thr_pace *p, int planned, int ran, double per, long sleeps, int64_t steps)
{
  if (planned <= 1 || !adapt || steps <= 0 || !(per > 0)) return;
  if (ran <= 1) { p->solo = per; return; }
  if (p->solo > 0 && per > p->solo) {                   /* the team lost: one thread a while */
    p->backoff = p->backoff ? (2 * p->backoff < PACE_MAX ? 2 * p->backoff : PACE_MAX) : 1;
    p->solo_left = p->backoff;
  } else {
    if (p->solo > 0) p->backoff = 0;
    if (4 * sleeps > steps) p->solo_left = 1;           /* barriers slept: time one thread */
  }
}

/* ---- the team ------------------------------------------------------------ */
void cj_thr_team(int nt, void (*body)(void *ud, int t, int nt), void *ud)
{
#ifdef _OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    body(ud, omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  (void)nt;
  body(ud, 0, 1);
}

/* The barrier of the team: a generation counter, waited on by spinning a
 * while (a step's threads arrive within microseconds of each other), then
 * by sleeping on a futex. libgomp's barrier spins far longer (about
 * 300 000 rounds by default): on a machine busy with other work the
 * spinning thread takes the processor from the one it waits for, and
 * CUBA 40 000 ran 4x slower at 2 threads than at 1 (0.86 s with a
 * sleeping wait). Only one team runs at a time (runs do not nest). */
#define SPIN 4000               /* rounds of pause, some 50-200 microseconds */

static struct {
  _Atomic unsigned gen;         /* barriers completed */
  _Atomic int count;            /* threads arrived at the current one */
  _Atomic int sleepers;         /* threads asleep on gen */
  _Atomic long slept;           /* waits that slept */
} bar;

long cj_thr_sleeps(void) { return atomic_load(&bar.slept); }

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Sleep while *word is val; wake the sleepers of word. */
static void sleepon(_Atomic unsigned *word, unsigned val)
{
#ifdef SYS_futex
  syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
  (void)word; (void)val;
  sched_yield();
#endif
}

static void wake(_Atomic unsigned *word)
{
#ifdef SYS_futex
  syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
  (void)word;
#endif
}

void cj_thr_barrier(int nt)
{
  if (nt <= 1) return;
  const unsigned g = atomic_load(&bar.gen);
  if (atomic_fetch_add(&bar.count, 1) == nt - 1) {    /* the last one releases the others */
    atomic_store(&bar.count, 0);
    atomic_store(&bar.gen, g + 1);
    if (atomic_load(&bar.sleepers)) wake(&bar.gen);
    return;
  }
  for (int k = 0; atomic_load(&bar.gen) == g; k++) {
    if (k < SPIN) { relax(); continue; }
    atomic_fetch_add(&bar.sleepers, 1);
    if (atomic_load(&bar.gen) == g) { atomic_fetch_add(&bar.slept, 1); sleepon(&bar.gen, g); }
    atomic_fetch_sub(&bar.sleepers, 1);
  }
}

/* ---- kernels ------------------------------------------------------------- */
void cj_thr_call(cj_thr_kern k, const cj_kctx *c, int t)
{
  if (k.fn) k.fn(c);
  else cj_prog_run_thread(k.prog, c, t);
}

int cj_thr_reserve(cj_thr_kern k, int nt)
{
  return !k.fn && k.prog && nt > 1 ? cj_prog_reserve(k.prog, nt) : 0;
}

int cj_thr_bytarget(cj_thr_kern k, int nrefs)
{
  if (!k.prog) return 0;
  for (int r = 0; r < nrefs; r++) {
    const int hows = cj_prog_slothows(k.prog, r);
    if (cj_prog_writes(k.prog, r) && (hows & ~((1 << CJ_HOW_POST) | (1 << CJ_HOW_S))))
      return 0;
  }
  return 1;
}

/* First synapse of row [a, b) (post ascending) whose post is >= j. */
static inline int64_t rowfind(const int32_t *post, int64_t a, int64_t b, int64_t j)
{
  while (a < b) {
    int64_t m = a + (b - a) / 2;
    if (post[m] < j) a = m + 1; else b = m;
  }
  return a;
}

/* How thread t of nt takes its part of a row (cj_thr_events). */
typedef struct rowsplit { int sorted, whole, t, nt; const int32_t *cut; int64_t j0, j1; } rowsplit;

/* Thread t's part [*a, *b) of row i: 1, or 0 when the row is not sorted by
 * target and [*a, *b) is the whole row, to be filtered by target. */
static inline int rowpart(const int64_t *rowptr, int64_t i, const int32_t *post, const rowsplit *rs,
                          int64_t *pa, int64_t *pb)
{
  int64_t a = rowptr[i], b = rowptr[i + 1];
  if (rs->whole) {
  } else if (rs->sorted && rs->cut) {        /* the part of the row thread t owns */
    const int32_t *ci = rs->cut + i * (rs->nt - 1);
    if (rs->t < rs->nt - 1) b = a + ci[rs->t];
    if (rs->t > 0) a += ci[rs->t - 1];
  } else if (rs->sorted) {
    a = rowfind(post, a, b, rs->j0);
    b = rowfind(post, a, b, rs->j1);
  } else {
    *pa = a; *pb = b;
    return 0;
  }
  *pa = a; *pb = b;
  return 1;
}

/* The deliveries of a fixed weight, x[post] += w, straight from the rows:
 * no list of synapses is made, and the additions come in the order the
 * kernel would take them from that list (row by row, each in synapse
 * order), so the bits are the kernel's. */
static void addrows(double *restrict x, double w, const int32_t *post, const int64_t *list, int64_t count,
                    const int64_t *rowptr, const rowsplit *rs)
{
  for (int64_t q = 0; q < count; q++) {
    int64_t a, b;
    if (rowpart(rowptr, list[q], post, rs, &a, &b)) {
      for (int64_t s = a; s < b; s++) x[post[s]] += w;
    } else {
      for (int64_t s = a; s < b; s++) if (post[s] >= rs->j0 && post[s] < rs->j1) x[post[s]] += w;
    }
  }
}

void cj_thr_events(cj_thr_kern k, const cj_kctx *c, const int64_t *list, int64_t count,
                   const int64_t *rowptr, int sorted, const int32_t *cut, int64_t j0, int64_t j1,
                   int whole, int64_t *restrict ev, int t, int nt)
{
  const int32_t *post = c->post;
  const int64_t *run = ev;
  int64_t ne = 0;
  const rowsplit rs = { sorted, whole, t, nt, cut, j0, j1 };
  int how, slot, single;
  double w;
  if (rowptr && cj_prog_addk(k.prog, &how, &slot, &w, &single) && how == CJ_HOW_POST && !single) {
    addrows(c->var[slot], w, post, list, count, rowptr, &rs);
    return;
  }
  if (rowptr) {
    for (int64_t q = 0; q < count; q++) {
      int64_t a, b;
      if (rowpart(rowptr, list[q], post, &rs, &a, &b)) {
        for (int64_t s = a; s < b; s++) ev[ne++] = s;
      } else {
        for (int64_t s = a; s < b; s++) if (post[s] >= j0 && post[s] < j1) ev[ne++] = s;
      }
    }
  } else if (whole) {
    run = list;                   /* the list itself, unchanged */
    ne = count;
  } else {
    for (int64_t q = 0; q < count; q++) {
      const int64_t s = list[q];
      if (post[s] >= j0 && post[s] < j1) ev[ne++] = s;
    }
  }
  if (!ne) return;
  cj_kctx my = *c;
  my.list = run; my.lo = 0; my.n = ne;
  cj_thr_call(k, &my, t);
}

/* For each row i of a row-sorted projection, where the synapses to
 * targets >= j start, for the starts j of threads 1 .. nt - 1 (offsets in
 * the row; cj_thr_events). */
void cj_thr_rowcuts(const int64_t *rowptr, int64_t nrows, const int32_t *post, const int64_t *jstart,
                    int nt, int32_t *cut)
{
  for (int64_t i = 0; i < nrows; i++) {
    int64_t a = rowptr[i];
    for (int t = 1; t < nt; t++) {
      a = rowfind(post, a, rowptr[i + 1], jstart[t]);
      cut[i * (nt - 1) + t - 1] = (int32_t)(a - rowptr[i]);
    }
  }
}

/* ---- scratch ------------------------------------------------------------- */
#define PAD 8                   /* int64 counters per cache line */

struct cj_thr_ws {
  int64_t *ev[CJ_THR_MAX], cap[CJ_THR_MAX];
  int64_t *count; int64_t stride, capcount;
};

int cj_thr_ws_room(cj_thr_ws **pw, int nt, int64_t need, int ncount)
{
  if (!*pw && !(*pw = cj_calloc(1, sizeof **pw))) return CJ_ENOMEM;
  cj_thr_ws *w = *pw;
  for (int t = 0; t < nt; t++) {
    if (w->cap[t] >= need) continue;
    int64_t cap = need > 2 * w->cap[t] ? need : 2 * w->cap[t];
    int64_t *v = cj_realloc(w->ev[t], (size_t)cap * sizeof *v);
    if (!v) return CJ_ENOMEM;
    w->ev[t] = v; w->cap[t] = cap;
  }
  const int64_t stride = (ncount + PAD - 1) / PAD * PAD + PAD;
  if (stride * nt > w->capcount) {
    /* one line more than needed: the first counter starts a line */
    int64_t *v = cj_realloc(w->count, (size_t)(stride * nt + PAD) * sizeof *v);
    if (!v) return CJ_ENOMEM;
    w->count = v; w->capcount = stride * nt;
  }
  w->stride = stride;
  return 0;
}

int64_t *cj_thr_ws_events(cj_thr_ws *w, int t) { return w->ev[t]; }

int64_t *cj_thr_ws_counts(cj_thr_ws *w, int t)
{
  int64_t *base = (int64_t *)(((uintptr_t)w->count + 63) & ~(uintptr_t)63);
  return base + (int64_t)t * w->stride;
}

void cj_thr_ws_free(cj_thr_ws *w)
{
  if (!w) return;
  for (int t = 0; t < CJ_THR_MAX; t++) cj_free(w->ev[t]);
  cj_free(w->count);
  cj_free(w);
}
