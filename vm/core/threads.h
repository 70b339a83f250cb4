/*
 * threads.h — the thread count of the network runtime, and the parallel
 * loops of a time step (OpenMP; everything here runs on one thread when
 * configure found no OpenMP).
 *
 * A network step stays sequential; the heavy kernels inside it are split:
 * - neuron kernels (update, threshold) and synapse kernels (projection
 *   updates) over contiguous ranges of their elements, one per thread
 *   (cj_kctx.lo .. n - 1); a threshold's spikes are gathered in the order
 *   of the ranges, so the list stays ascending;
 * - synaptic delivery (on_pre events) and summed coupling over contiguous
 *   ranges of the TARGET neurons: each thread runs the events (or synapses)
 *   whose post neuron it owns, in their sequential order, so every target
 *   receives its contributions in the order one thread would add them and
 *   no two threads write one element: no atomics, and the same bits at any
 *   thread count. A kernel that writes through `pre` or reads through `pre`
 *   a variable it writes cannot be split so and runs on one thread.
 * Random numbers of kernels are keyed by (seed, kernel, element, step)
 * (IR.md §4): splitting changes none of them.
 *
 * Below a size threshold (CJ_THR_GRAIN elements per thread) one thread
 * runs: for small networks the start of a parallel region costs more than
 * it saves.
 */
#ifndef CJ_THREADS_H
#define CJ_THREADS_H

#include "cj.h"
#include "interp.h"

#define CJ_THR_MAX 256         /* the most threads cj_threads_set accepts */
#define CJ_THR_GRAIN 20000     /* default: elements (neurons, synapses) per extra thread;
                                * measured: CUBA 40 000 (E = 32 000) is slower split in two,
                                * 100 000 (E = 80 000) 1.5x faster (tests/bench/threads.lua) */
#define CJ_THR_EVGRAIN 4096    /* default: events per extra thread in a delivery */

/* The thread count: set by cj_threads_set, else $CAJAL_THREADS, else the
 * processors this process may run on (sched_getaffinity). 1 without
 * OpenMP. */
int cj_threads(void);
/* Set it (1 .. CJ_THR_MAX); n > 1 without OpenMP is CJ_EINVAL. */
int cj_threads_set(int n);
/* 1 when built with OpenMP. */
int cj_threads_available(void);
/* The threads to use for `work` elements (events != 0: events of a
 * delivery): one, or at most one per grain of work. */
int cj_threads_for(int64_t work, int events);
/* The grains (>= 1; elements, events): 0 leaves one unchanged. Tests set
 * them to 1 to split small networks. */
void cj_threads_grain(int64_t elems, int64_t events, int64_t *out_elems, int64_t *out_events);

/* Scratch of the parallel loops (per-thread event lists), owned by one
 * network; NULL is an empty one. Freed with cj_thr_ws_free. */
typedef struct cj_thr_ws cj_thr_ws;
void cj_thr_ws_free(cj_thr_ws *w);

/* A kernel: the compiled function, else the interpreter's program. */
typedef struct cj_thr_kern { cj_kfn fn; cj_prog *prog; } cj_thr_kern;

/* Run k over elements c->lo .. c->n - 1 (a rank's range under MPI), split into
 * ranges over nt threads (nt <= 1: one call). Neurons and synapse-update
 * kernels. */
void cj_thr_range(cj_thr_kern k, const cj_kctx *c, int nt);
/* A threshold kernel over neurons c->lo .. c->n - 1 into c->spikes from *c->nspikes
 * (0 on entry); the spikes of the ranges are joined in order. */
void cj_thr_threshold(cj_thr_kern k, const cj_kctx *c, int nt);

/* Whether an events or sum kernel may be split by target (see above). */
int cj_thr_bytarget(cj_thr_kern k, int nrefs);

/* Events kernel k over the synapses of `list` (count, in order), split by
 * post neuron into nt ranges of postlo .. posthi. With rowptr non-NULL,
 * list holds count PRE neurons whose rows rowptr[i] .. rowptr[i+1] - 1
 * (post ascending within a row) are the events, in order; otherwise list
 * holds synapse ids. CJ_ENOMEM when the lists cannot be made (nothing ran). */
int cj_thr_events(cj_thr_ws **w, cj_thr_kern k, const cj_kctx *c, const int64_t *list,
                  int64_t count, const int64_t *rowptr, int64_t postlo, int64_t posthi, int nt);
/* A sum kernel over all synapses, by post neuron: postptr/postsyn index
 * the synapses of each post neuron (ascending), postlo .. posthi the
 * targets. */
void cj_thr_sum(cj_thr_kern k, const cj_kctx *c, const int64_t *postptr, const int64_t *postsyn,
                int64_t postlo, int64_t posthi, int nt);

#endif
