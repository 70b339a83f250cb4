/*
 * threads.h — the thread count of the network runtime, and the pieces a
 * time step is run with by a team of threads (OpenMP; everything here runs
 * on one thread when configure found no OpenMP).
 *
 * A run opens one parallel region per chunk of steps (cj_thr_team); every
 * thread of the team runs every step (net.c). Each thread owns a fixed
 * contiguous range of every population's neurons (cj_thr_cut: cut at
 * multiples of CJ_THR_ALIGN, so the fused pass's blocks of 32 and the
 * cache lines of the state arrays do not straddle two threads), and does
 * all the per-neuron work of its range:
 * - synaptic delivery (on_pre events) and summed coupling: the events (or
 *   synapses) whose post neuron it owns, in their sequential order, so
 *   every target receives its contributions in the order one thread would
 *   add them and no two threads write one element: no atomics, and the
 *   same bits at any thread count. A kernel that writes through `pre` or
 *   reads through `pre` a variable it writes cannot be split so and runs
 *   on thread 0 between barriers;
 * - the update and threshold of its neurons (the JIT's fused pass, or the
 *   two kernels); its spikes go to its own part of the population's spike
 *   list (from the first neuron it owns) and are joined in range order, so
 *   the list stays ascending; then lastspike and reset of those spikes;
 * - synapse update kernels run over ranges of the synapses.
 * What is sequential (spike queues, monitors, Poisson and generator
 * populations, post events, the join) runs on thread 0 between barriers
 * (cj_thr_barrier). Random numbers of kernels are keyed by (seed, kernel,
 * element, step) (IR.md §4): splitting changes none of them.
 *
 * Below a size (CJ_THR_GRAIN neurons per thread) one thread runs: a barrier
 * costs about a microsecond, a step of a small network not much more.
 */
#ifndef CJ_THREADS_H
#define CJ_THREADS_H

#include "cj.h"
#include "interp.h"

#define CJ_THR_MAX 256         /* the most threads cj_threads_set accepts */
#define CJ_THR_GRAIN 8192      /* default: neurons per thread (measured: tests/bench/threads.lua) */
#define CJ_THR_ALIGN 64        /* thread ranges start at multiples of this many elements */

/* The thread count: set by cj_threads_set, else $CAJAL_THREADS, else the
 * processors this process may run on (sched_getaffinity). 1 without
 * OpenMP. */
int cj_threads(void);
/* Set it (1 .. CJ_THR_MAX); n > 1 without OpenMP is CJ_EINVAL. */
int cj_threads_set(int n);
/* 1 when built with OpenMP. */
int cj_threads_available(void);
/* The threads that run a network of `work` neurons: one, or at most one
 * per grain. */
int cj_threads_for(int64_t work);
/* The grain (>= 1 neurons per thread) after setting it to elems (0 leaves
 * it unchanged). Tests set 1 to split small networks. */
int64_t cj_threads_grain(int64_t elems);

/* Whether a run may put a chunk of steps on one thread when its team is
 * slower there (cj_thr_pace); on by default. on < 0 only reads it. */
int cj_threads_adapt(int on);

/* ---- pacing: a team on a busy machine -------------------------------------
 * A barrier waits for the slowest thread; when other work holds a core, that
 * thread is not running and a step at 2 threads can take many times a step
 * at 1 (8x was seen on 2 shared cores). Results do not depend on the thread
 * count, so a run may switch between chunks: it times each chunk (wall time
 * per step), and when the team was slower than one thread, runs the next 1,
 * 2, 4 ... 64 chunks on one thread before trying the team again. One thread
 * is first timed when the team's barriers had to sleep (more than once per
 * 4 steps): on a quiet machine they do not, and nothing is measured twice. */
typedef struct cj_thr_pace {
  double solo;                  /* wall seconds per step of the last chunk on one thread (0: none) */
  int solo_left, backoff;       /* chunks still to run on one thread; the last stretch */
} cj_thr_pace;
/* The team size for the next chunk: nt, or 1 while the pace says so. */
int cj_thr_pace_pick(cj_thr_pace *p, int nt);
/* After a chunk of `steps` steps run by `ran` threads (the plan was
 * `planned`): its wall seconds per step and the barrier sleeps it took. */
void cj_thr_pace_done(cj_thr_pace *p, int planned, int ran, double per, long sleeps, int64_t steps);
/* Barrier waits that ended in a sleep, since the process started. */
long cj_thr_sleeps(void);

/* ---- the team ------------------------------------------------------------- */
/* body(ud, t, nt) on nt threads at once, t = 0 .. nt - 1 (thread 0 is the
 * caller); nt <= 1, or no OpenMP: body(ud, 0, 1). The team may be smaller
 * than asked (nt in the call is what it got). */
void cj_thr_team(int nt, void (*body)(void *ud, int t, int nt), void *ud);
/* Wait until every thread of a team of nt has come here (nt <= 1: no-op).
 * Only inside cj_thr_team's body, reached by all its threads. Waits spin
 * briefly, then sleep (a loaded machine: see threads.c). */
void cj_thr_barrier(int nt);

/* The first element of thread t's part of n (t = nt: n); parts start at
 * multiples of CJ_THR_ALIGN, so some may be empty. */
static inline int64_t cj_thr_cut(int64_t n, int t, int nt)
{
  if (t >= nt) return n;
  int64_t a = (int64_t)((__int128)n * t / nt);
  return a - a % CJ_THR_ALIGN;
}

/* ---- kernels -------------------------------------------------------------- */
/* A kernel: the compiled function, else the interpreter's program. */
typedef struct cj_thr_kern { cj_kfn fn; cj_prog *prog; } cj_thr_kern;

/* Run k with context c as thread t of a team (the interpreter keeps a
 * register file per thread). */
void cj_thr_call(cj_thr_kern k, const cj_kctx *c, int t);
/* Make k runnable by nt threads (register files of the interpreter):
 * 0 or CJ_ENOMEM. */
int cj_thr_reserve(cj_thr_kern k, int nt);
/* Whether an events or sum kernel may be split by target (see above). */
int cj_thr_bytarget(cj_thr_kern k, int nrefs);

/* Thread t's share (of nt) of an events kernel: the synapses of `list`
 * (count, in order) whose post neuron is in j0 .. j1 - 1 (all of them with
 * whole != 0), gathered into ev (room for every event of the list) and
 * run. With rowptr non-NULL, list holds count PRE neurons whose rows
 * rowptr[i] .. rowptr[i+1] - 1 are the events, in order; sorted != 0: post
 * ascending within each row, and thread t's part of row i starts at offset
 * cut[i * (nt - 1) + t - 1] (cut NULL: found by bisection); otherwise each
 * post is tested. Without rowptr, list holds synapse ids. */
void cj_thr_events(cj_thr_kern k, const cj_kctx *c, const int64_t *list, int64_t count,
                   const int64_t *rowptr, int sorted, const int32_t *cut, int64_t j0, int64_t j1,
                   int whole, int64_t *ev, int t, int nt);

/* cut for cj_thr_events: nrows x (nt - 1) offsets, row i's first synapse
 * with post >= jstart[t] for t = 1 .. nt - 1 (rows post ascending, row
 * lengths below 2^31). */
void cj_thr_rowcuts(const int64_t *rowptr, int64_t nrows, const int32_t *post, const int64_t *jstart,
                    int nt, int32_t *cut);

/* Scratch of the team, owned by one network (NULL is an empty one): per
 * thread an event list, and padded counters. Grown on thread 0 only (the
 * allocator may be Lua's); freed with cj_thr_ws_free. */
typedef struct cj_thr_ws cj_thr_ws;
/* Room for `need` events in each of nt lists, and ncount counters per
 * thread: 0 or CJ_ENOMEM. */
int cj_thr_ws_room(cj_thr_ws **w, int nt, int64_t need, int ncount);
int64_t *cj_thr_ws_events(cj_thr_ws *w, int t);
/* Thread t's counters (ncount of them; no two threads share a cache line). */
int64_t *cj_thr_ws_counts(cj_thr_ws *w, int t);
void cj_thr_ws_free(cj_thr_ws *w);

#endif
