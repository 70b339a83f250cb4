/*
 * threads.c — the thread count and the parallel loops of a network step
 * (see threads.h). Every OpenMP construct of the runtime is in this file.
 */
#define _GNU_SOURCE
#include "threads.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int nthreads;           /* 0: not chosen yet */
static int64_t grain[2] = { CJ_THR_GRAIN, CJ_THR_EVGRAIN };

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

int cj_threads_for(int64_t work, int events)
{
  int t = cj_threads();
  const int64_t g = grain[events != 0];
  if (t <= 1 || work < 2 * g) return 1;
  int64_t most = work / g;
  return most < t ? (int)most : t;
}

void cj_threads_grain(int64_t elems, int64_t events, int64_t *out_elems, int64_t *out_events)
{
  if (elems > 0) grain[0] = elems;
  if (events > 0) grain[1] = events;
  if (out_elems) *out_elems = grain[0];
  if (out_events) *out_events = grain[1];
}

/* ---- kernels over ranges ------------------------------------------------ */
static inline void call(cj_thr_kern k, const cj_kctx *c, int tid)
{
  if (k.fn) k.fn(c);
  else cj_prog_run_thread(k.prog, c, tid);
}

/* Element a of n split in nt parts: the start of part t. */
static inline int64_t cut(int64_t n, int t, int nt) { return (int64_t)((__int128)n * t / nt); }

/* The interpreter needs a register file per thread; without one, one thread. */
static int team(cj_thr_kern k, int nt)
{
  if (nt <= 1) return 1;
  if (!k.fn && cj_prog_reserve(k.prog, nt)) return 1;
  return nt;
}

void cj_thr_range(cj_thr_kern k, const cj_kctx *c, int nt)
{
  if ((nt = team(k, nt)) <= 1) { call(k, c, 0); return; }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), m = omp_get_num_threads();
    cj_kctx my = *c;
    my.lo = c->lo + cut(c->n - c->lo, t, m);
    my.n = c->lo + cut(c->n - c->lo, t + 1, m);
    if (my.lo < my.n) call(k, &my, t);
  }
#endif
}

void cj_thr_threshold(cj_thr_kern k, const cj_kctx *c, int nt)
{
  if ((nt = team(k, nt)) <= 1) { call(k, c, 0); return; }
#ifdef _OPENMP
  int64_t lo[CJ_THR_MAX + 1], cnt[CJ_THR_MAX];
  int used = nt;
  const int64_t base = *c->nspikes;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), m = omp_get_num_threads();
    cj_kctx my = *c;
    /* each range appends into its own part of the list (as long as the
     * range), joined below */
    my.lo = c->lo + cut(c->n - c->lo, t, m);
    my.n = c->lo + cut(c->n - c->lo, t + 1, m);
    my.spikes = c->spikes + base + (my.lo - c->lo);
    cnt[t] = 0;
    my.nspikes = &cnt[t];
    lo[t] = my.lo;
#pragma omp single
    used = m;
    if (my.lo < my.n) call(k, &my, t);
  }
  int64_t at = base;
  for (int t = 0; t < used; t++) {
    if (cnt[t] && base + lo[t] - c->lo != at)
      memmove(c->spikes + at, c->spikes + base + lo[t] - c->lo, (size_t)cnt[t] * sizeof *c->spikes);
    at += cnt[t];
  }
  *c->nspikes = at;
#endif
}

/* ---- split by target ---------------------------------------------------- */
int cj_thr_bytarget(cj_thr_kern k, int nrefs)
{
  if (k.fn && !k.prog) return 0;
  for (int r = 0; r < nrefs; r++) {
    const int hows = cj_prog_slothows(k.prog, r);
    if (cj_prog_writes(k.prog, r) && (hows & ~((1 << CJ_HOW_POST) | (1 << CJ_HOW_S))))
      return 0;
  }
  return 1;
}

struct cj_thr_ws { int64_t *ev[CJ_THR_MAX]; int64_t cap[CJ_THR_MAX]; };

void cj_thr_ws_free(cj_thr_ws *w)
{
  if (!w) return;
  for (int t = 0; t < CJ_THR_MAX; t++) cj_free(w->ev[t]);
  cj_free(w);
}

/* Room for `need` events in each of nt lists. */
static int room(cj_thr_ws **pw, int nt, int64_t need)
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
  return 0;
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

int cj_thr_events(cj_thr_ws **pw, cj_thr_kern k, const cj_kctx *c, const int64_t *list,
                  int64_t count, const int64_t *rowptr, int64_t postlo, int64_t posthi, int nt)
{
  int64_t total = count;
  if (rowptr) {
    total = 0;
    for (int64_t q = 0; q < count; q++) total += rowptr[list[q] + 1] - rowptr[list[q]];
  }
  if ((nt = team(k, nt)) <= 1 || room(pw, nt, total)) return CJ_ENOMEM;
#ifdef _OPENMP
  cj_thr_ws *w = *pw;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), m = omp_get_num_threads();
    const int64_t span = posthi - postlo + 1;
    const int64_t j0 = postlo + cut(span, t, m), j1 = postlo + cut(span, t + 1, m);
    int64_t *restrict ev = w->ev[t], ne = 0;
    const int32_t *post = c->post;
    if (rowptr) {
      for (int64_t q = 0; q < count; q++) {
        const int64_t a = rowptr[list[q]], b = rowptr[list[q] + 1];
        const int64_t s0 = rowfind(post, a, b, j0), s1 = rowfind(post, s0, b, j1);
        for (int64_t s = s0; s < s1; s++) ev[ne++] = s;
      }
    } else {
      for (int64_t q = 0; q < count; q++) {
        const int64_t s = list[q];
        if (post[s] >= j0 && post[s] < j1) ev[ne++] = s;
      }
    }
    if (ne) {
      cj_kctx my = *c;
      my.list = ev; my.lo = 0; my.n = ne;
      call(k, &my, t);
    }
  }
#endif
  return 0;
}

void cj_thr_sum(cj_thr_kern k, const cj_kctx *c, const int64_t *postptr, const int64_t *postsyn,
                int64_t postlo, int64_t posthi, int nt)
{
  if ((nt = team(k, nt)) <= 1) { call(k, c, 0); return; }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), m = omp_get_num_threads();
    const int64_t span = posthi - postlo + 1;
    cj_kctx my = *c;
    my.list = postsyn;
    my.lo = postptr[postlo + cut(span, t, m)];
    my.n = postptr[postlo + cut(span, t + 1, m)];
    if (my.lo < my.n) call(k, &my, t);
  }
#endif
}
