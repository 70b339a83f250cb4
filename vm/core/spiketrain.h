/*
 * spiketrain.h — sets of spike trains as the analysis modules (info.c,
 * coding.c) read them, and their binning.
 *
 * A cj_trains describes n trains (neurons of a population, or trials of
 * one neuron) in compressed form: train j holds the spike times
 * t[off[j]] .. t[off[j+1] - 1], in seconds, ascending, all inside the
 * observation window [t0, t1]. The descriptor owns nothing; the Lua binding
 * keeps the memory in a userdata (vm/bind/lanalysis.c).
 *
 * Binning: bin k of width dt covers [t0 + k dt, t0 + (k+1) dt); there are
 * floor((t1 - t0) / dt) bins (a last partial bin is dropped, with its
 * spikes). A spike is placed by floor((t - t0) / dt + 1e-9), so spikes of
 * a simulation on a grid of steps land in the bin they start, whatever the
 * rounding of t.
 *
 * Windows of a record: a network's spike monitor (net.h) records spikes as
 * (step, index) pairs in the order of their steps. cj_spikes_span finds
 * the records of a range of steps by binary search, and
 * cj_trains_fromlabels sorts a window's spikes into trains, so the spikes
 * of the last T ms of a long run are read in O(log records + window +
 * trains), never by a pass over the whole record (vm/bind/lwindow.c).
 */
#ifndef CJ_SPIKETRAIN_H
#define CJ_SPIKETRAIN_H

#include "array.h"

typedef struct cj_trains {
  int64_t n;            /* number of trains */
  const int64_t *off;   /* n + 1 offsets into t */
  const double *t;      /* spike times (s) */
  double t0, t1;        /* observation window (s), t0 < t1 */
} cj_trains;

/* CJ_EINVAL unless the window is finite with t0 < t1 and every train is
 * ascending, finite and inside the window. */
int cj_trains_check(const cj_trains *s);
int64_t cj_trains_count(const cj_trains *s);          /* all spikes */
/* Number of whole bins of width dt in the window (0 if dt does not fit). */
int64_t cj_trains_nbins(const cj_trains *s, double dt);
/* The bin of time t (may be out of 0..nbins-1). */
int64_t cj_trains_binof(const cj_trains *s, double dt, double t);
/* out (n x nbins, any dtype; a 1-D out of nbins when n == 1) = spike
 * counts per bin; counts saturate at the dtype's range (uint8: 255).
 * dt > 0; CJ_EINVAL when out has another shape. */
int cj_trains_bin(const cj_trains *s, double dt, cj_array *out);
/* counts[k] (nbins doubles, zeroed here) = spikes of all trains in bin k. */
int cj_trains_popcount(const cj_trains *s, double dt, int64_t nbins, double *counts);

/* The records [*k0, *k1) of a spike record whose step lies in [s0, s1):
 * steps[0..n) non-decreasing, as a monitor writes them. Two binary
 * searches, O(log n); *k0 <= *k1 always (an empty range when s1 <= s0).
 * Steps out of order (a corrupt record) give some in-bounds range. */
void cj_spikes_span(const int64_t *steps, int64_t n, int64_t s0, int64_t s1, int64_t *k0, int64_t *k1);
/* n spikes at times t (s) with 0-based labels id (train of each spike) as
 * ntr trains: off (ntr + 1 offsets) and tt (n times) written here. Stable:
 * spikes given in time order stay in time order within each train.
 * O(n + ntr). CJ_EINVAL when a label is outside 0..ntr-1 (nothing
 * meaningful is then in off and tt). */
int cj_trains_fromlabels(const double *t, const int32_t *id, int64_t n, int64_t ntr,
                         int64_t *off, double *tt);

#endif
