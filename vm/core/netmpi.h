/*
 * netmpi.h — a network across MPI ranks (Open MPI; configure --with-mpi).
 *
 * The same script runs on every rank (mpirun -n K cajal run.lua). Each
 * spiking neuron population is cut into K contiguous ranges, rank r owning
 * [lo_r, hi_r) (cj_mpi_range); a rank updates and thresholds its own
 * neurons only and builds only the synapses whose post neuron it owns,
 * walking the same generator streams as one rank (so the union over ranks
 * is the one-rank network). Once per minimum delay (a window of steps no
 * longer than any delay of events from split populations, cut at chunk
 * ends) the ranks' spike lists of those steps are joined in rank order (one
 * allgather), each step's the ascending list one rank makes; delivery,
 * summed coupling and plasticity run on local targets with the bits of one
 * rank, and what reads the joined lists takes the window's steps in order
 * after the exchange. Every rank keeps full-length neuron state (its
 * own range live; the rest made current at the end of every run), so the
 * memory of neuron state is O(N) per rank and synapses are O(S / K).
 * Poisson groups and spike generators draw the same lists on every rank and
 * exchange nothing. The page man/cajal-scale.7 ("Across machines") is the
 * user's description.
 *
 * Without MPI (not built with it, or not started by a launcher) the rank is
 * 0, the size 1, and the network runtime takes none of these paths: a
 * one-rank network is the network of a build without MPI, bit for bit.
 */
#ifndef CJ_NETMPI_H
#define CJ_NETMPI_H

#include "cj.h"

/* Start MPI when this process was started by mpirun (Open MPI's, or a PMI
 * launcher): MPI_Init_thread with MPI_THREAD_FUNNELED. 1 when MPI runs, 0
 * when not (no launcher, or built without MPI), -1 when it failed (a
 * message in cj_errmsg()). Call once, before anything else uses MPI. */
int cj_mpi_init(int *argc, char ***argv);
/* MPI_Finalize when cj_mpi_init started MPI (and nothing aborted). */
void cj_mpi_finalize(void);
/* Stop every rank (MPI_Abort) after an error on this one; returns only
 * when MPI is not running. */
void cj_mpi_abort(int code);
/* 1 when built with MPI. */
int cj_mpi_available(void);
int cj_mpi_rank(void);                 /* 0 without MPI */
int cj_mpi_size(void);                 /* 1 without MPI */
/* Rank r's range [lo, hi) of n elements cut into size contiguous parts
 * (the first n % size parts one longer). */
void cj_mpi_range(int64_t n, int r, int size, int64_t *lo, int64_t *hi);
/* A barrier (tests; a no-op without MPI). */
void cj_mpi_barrier(void);

/* Costs of the spike exchange of this process since the last reset:
 * seconds spent in the collectives (including waiting for slower ranks),
 * bytes this rank received, exchanges made. Phase timing of the steps:
 * seconds in delivery (on_pre events and summed coupling), in the update
 * and threshold of neurons, and in the rest of a step, measured only while
 * cj_mpi_profile(1) is set (a clock read per phase). */
typedef struct cj_mpi_stats {
  double exchange, deliver, update, other;
  int64_t bytes, exchanges;
} cj_mpi_stats;
void cj_mpi_stats_get(cj_mpi_stats *s);
void cj_mpi_stats_reset(void);
void cj_mpi_profile(int on);
int cj_mpi_profiling(void);

#endif
