/*
 * net.h — the network runtime: populations, projections (CSR connectivity
 * built from rules), spike queues, inputs, monitors, and the time step of
 * vm/core/IR.md §3, all in C.
 *
 * A network is assembled from definitions (the C form of the IR table that
 * vm/bind/lnet.c reads from Lua, or that tests write by hand):
 *
 *   cj_net *net = cj_net_new("cuba", 1e-4, seed);
 *   cj_net_add_kernel(net, &kdef, fn);     // fn: JIT function or NULL
 *   cj_net_add_pop(net, &pop); cj_net_add_proj(net, &proj); cj_net_add_monitor(...)
 *   cj_net_build(net);                     // or cj_net_restore(net, path)
 *   cj_net_run(net, nsteps, NULL, NULL);
 *
 * The cj_*def structures are read during the call that receives them and
 * may be freed right after (names, arrays and kernel trees are copied or
 * compiled). Every function returning int returns CJ_OK or a status with a
 * message in cj_errmsg(); after a failed add/build the network may only be
 * freed. Indices are 0-based. All state arrays are allocated once at build
 * and never move, so pointers from cj_net_popvar() and friends stay valid
 * for the life of the network (reset and restore write into them).
 */
#ifndef CJ_NET_H
#define CJ_NET_H

#include "cj.h"
#include "interp.h"

typedef struct cj_net cj_net;

enum { CJ_POP_NEURON, CJ_POP_POISSON, CJ_POP_SPIKEGEN };
enum { CJ_RULE_ALL, CJ_RULE_ONE, CJ_RULE_PROB, CJ_RULE_INDEG, CJ_RULE_OUTDEG, CJ_RULE_ARRAYS };
enum { CJ_MON_SPIKES, CJ_MON_STATE, CJ_MON_RATE };

/* A time-varying input: each step, var := row floor((t + dt/1000) / interval)
 * of values (rows x cols, row-major; past the last row the last row holds).
 * cols == 1: the same value for every driven neuron; otherwise one column
 * per driven neuron (all n, or the nindices listed). */
typedef struct cj_drivedef {
  int var;
  const double *values; int64_t rows, cols;
  const int64_t *indices; int64_t nindices;   /* NULL: every neuron */
  double interval;                            /* s, > 0 */
} cj_drivedef;

/* A Poisson drive (Brian2's PoissonInput): at the start of every step, each
 * neuron lo..hi of the population gets var += weight * k, k ~ Binomial(n,
 * rate dt): the summed effect of n independent Poisson sources of that rate
 * (rate dt <= 1). k comes from a counter-based cursor keyed by (seed, step,
 * neuron, drive): vm/core/IR.md §4. */
typedef struct cj_pinputdef {
  int var;
  int64_t n;                                  /* sources per neuron, >= 0 */
  double rate, weight;                        /* Hz (rate dt <= 1); in var's unit */
  int64_t lo, hi;                             /* inclusive slice of neurons */
} cj_pinputdef;

typedef struct cj_popdef {
  const char *name;
  int64_t n;
  int kind;                                   /* CJ_POP_* */
  int nvars; const char *const *varnames; const char *const *varunits;  /* units may be NULL */
  int spiking;
  int init, update, threshold, reset;         /* kernel ids, 0 = none */
  double refractory;                          /* s; 0 = none */
  double rate; int rate_kernel;               /* poisson: Hz, or a scalar kernel of t */
  const double *times; const int64_t *indices; int64_t nspikes;  /* spikegen (any order) */
  int ndrives; const cj_drivedef *drives;
  int defs;                                   /* kernel of the recorded definitions
                                                 (domain neurons), 0 = none */
  int rate_var;                               /* 1 + the var holding per-neuron Poisson
                                                 rates (Hz), checked against 1/dt after
                                                 init and every update; 0 = none */
  int npinputs; const cj_pinputdef *pinputs;
} cj_popdef;

typedef struct cj_sumdef { int post_var, kernel; } cj_sumdef;

typedef struct cj_projdef {
  const char *name;
  int pre, post;                              /* population indices */
  int64_t pre_lo, pre_hi, post_lo, post_hi;   /* inclusive slices */
  int rule;                                   /* CJ_RULE_* */
  double p;                                   /* prob: constant probability ... */
  int pkernel;                                /* ... or a "pairs" kernel of (i, j), 0 = none */
  int64_t k;                                  /* indegree / outdegree */
  const int64_t *ai, *aj; int64_t na;         /* arrays: relative to the slices */
  int self;                                   /* allow i == j within one population */
  int nvars; const char *const *varnames; const char *const *varunits;
  const double *const *varvalues;             /* arrays rule: per var na values or NULL */
  int init;                                   /* kernel ids, 0 = none */
  int64_t delay;                              /* homogeneous, steps >= 1 ... */
  int delay_var;                              /* ... or -1: var holding delays in seconds */
  int on_pre, on_post, update;
  int nsummed; const cj_sumdef *summed;
} cj_projdef;

typedef struct cj_mondef {
  int kind;                                   /* CJ_MON_* */
  int pop;                                    /* population, or -1 with proj >= 0 */
  int proj;                                   /* state of synapse variables, else -1 */
  int var;                                    /* state */
  int64_t lo, hi;                             /* spikes, rate: inclusive slice */
  const int64_t *indices; int64_t nindices;   /* state: neurons or synapses recorded;
                                                 NULL with nindices < 0: all of them */
  int64_t every;                              /* state: steps between records; rate: steps
                                                 averaged per record (>= 1) */
  const char *file;                           /* .npy file to stream to, or NULL */
} cj_mondef;

/* NULL when out of memory. */
cj_net *cj_net_new(const char *name, double dt, uint64_t seed);
/* Precision of the state (IR.md §7): single != 0 stores every population
 * and synapse variable as float (kernels compute in double, loading floats
 * and rounding on store); the default is double. Only before anything is
 * added. */
int cj_net_set_single(cj_net *net, int single);
int cj_net_single(const cj_net *net);
void cj_net_free(cj_net *net);

/* Kernels first (ids referenced later must exist), then populations,
 * projections, monitors; then build or restore. fn, when not NULL, is the
 * compiled C function of the kernel; the interpreter runs it otherwise. */
int cj_net_add_kernel(cj_net *net, const cj_kdef *k, cj_kfn fn);
int cj_net_add_pop(cj_net *net, const cj_popdef *p);
int cj_net_add_proj(cj_net *net, const cj_projdef *p);
int cj_net_add_monitor(cj_net *net, const cj_mondef *m);
/* Build connectivity, allocate state, run the initialisation kernels. */
int cj_net_build(cj_net *net);
/* A stop test for cj_net_build, consulted while connectivity is made (at
 * every presynaptic neuron of a rule, every postsynaptic neuron of a fixed
 * in-degree, between projections): a non-zero return stops the build, which
 * fails with "interrupted while building network ..." (CJ_ERUNTIME) and
 * leaves the network unbuilt, to be freed. ud is passed to stop; NULL stop:
 * never stop. (The binding sets it to Ctrl-C, as cj_net_run's progress.) */
typedef int (*cj_stopf)(void *ud);
void cj_net_set_stop(cj_net *net, cj_stopf stop, void *ud);

/* Called every `chunk` steps and at the end; a non-zero return stops the
 * run between two steps (cj_net_run then fails with "interrupted"). */
typedef int (*cj_progressf)(void *ud, int64_t done, int64_t total);
int cj_net_run(cj_net *net, int64_t nsteps, cj_progressf progress, void *ud);
/* After a run stopped on a non-finite state variable of a neuron: 1 and
 * where (population, variable, neuron from 0); 0 otherwise. */
int cj_net_nonfinite(const cj_net *net, int *pop, int *var, int64_t *i);
/* Steps between NaN checks and progress calls (default 100). */
void cj_net_set_chunk(cj_net *net, int64_t chunk);

int64_t cj_net_step(const cj_net *net);
double cj_net_time(const cj_net *net);
double cj_net_dt(const cj_net *net);
const char *cj_net_name(const cj_net *net);
/* Back to step 0: initialisation kernels again, spikes in flight dropped,
 * monitors emptied, Poisson streams restarted; connectivity is kept. */
int cj_net_reset(cj_net *net);
/* Everything that changes while running, and the connectivity, into a
 * versioned binary file. The file is created next to path by mkstemp (a
 * fresh random name, O_EXCL: nothing another user planted in the folder is
 * followed or overwritten), written, synced and renamed onto path.
 * cj_net_save_meta also stores meta (metalen bytes, opaque to the runtime:
 * the Lua layer keeps the model source and options there); one checksum
 * (64-bit FNV-1a) covers the whole file, meta included. The checksum
 * detects corruption and truncation; it is not a signature: whoever can
 * write the file can recompute it, so a save file is only as trustworthy
 * as its author. */
int cj_net_save(cj_net *net, const char *path);
int cj_net_save_meta(cj_net *net, const char *path, const void *meta, size_t metalen);

/* A save file in memory, its format and checksum checked; every size in it
 * is checked again when a network is restored from it (the file is
 * untrusted input: a crafted one gives CJ_EFORMAT, never a read out of
 * bounds). cj_savefile_parse copies data; name is used in messages. */
typedef struct cj_savefile cj_savefile;
int cj_savefile_read(const char *path, cj_savefile **out);
int cj_savefile_parse(const void *data, size_t len, const char *name, cj_savefile **out);
const void *cj_savefile_meta(const cj_savefile *s, size_t *len);
void cj_savefile_free(cj_savefile *s);
/* Instead of cj_net_build: take connectivity and state from a file written
 * by cj_net_save for a network with the same definitions. */
int cj_net_restore(cj_net *net, const char *path);
int cj_net_restore_from(cj_net *net, const cj_savefile *s);
/* Bytes allocated by the network (state, connectivity, queues, monitors). */
size_t cj_net_memsize(const cj_net *net);
/* The threads that ran the last chunk of steps (threads.h; 1 before a run). */
int cj_net_threads(const cj_net *net);
/* Backend of kernel id: 1 compiled C, 0 interpreter, -1 no such kernel. */
int cj_net_kernel_jit(const cj_net *net, int id);
/* From now on run every kernel through lookup(ud, id), the compiled
 * function of kernel id (a tiered start switching to the compiled kernels,
 * vm/core/tier.h): called between steps, never during a run. All or
 * nothing: a kernel without a function changes nothing (CJ_ERUNTIME). */
int cj_net_set_kernels(cj_net *net, cj_kfn (*lookup)(void *ud, int id), void *ud);
/* The fused update-and-threshold functions of the populations:
 * lookup(ud, update, threshold) gives the compiled cjf_<update>_<threshold>
 * or NULL (IR.md §7). A step calls one in place of the two kernels of a
 * population while both are compiled and nothing between them in a step
 * writes the population's state. Call after the populations are added. */
void cj_net_set_fused(cj_net *net, cj_kfn (*lookup)(void *ud, int update, int threshold), void *ud);

/* ---- inspection (after build) -------------------------------------------- */
int cj_net_npops(const cj_net *net);
int cj_net_nprojs(const cj_net *net);
int cj_net_nmonitors(const cj_net *net);
int cj_net_pop_find(const cj_net *net, const char *name);     /* -1 if none */
int cj_net_proj_find(const cj_net *net, const char *name);
const char *cj_net_pop_name(const cj_net *net, int p);
int64_t cj_net_pop_size(const cj_net *net, int p);
int cj_net_pop_nvars(const cj_net *net, int p);
int cj_net_pop_varfind(const cj_net *net, int p, const char *name);
const char *cj_net_pop_varname(const cj_net *net, int p, int v);
const char *cj_net_pop_varunit(const cj_net *net, int p, int v);   /* "" if none */
double *cj_net_pop_var(cj_net *net, int p, int v);                /* n doubles; NULL if single */
void *cj_net_pop_data(cj_net *net, int p, int v);                 /* n doubles, or n floats if single */
double *cj_net_pop_lastspike(cj_net *net, int p);
const char *cj_net_proj_name(const cj_net *net, int j);
int64_t cj_net_proj_nsyn(const cj_net *net, int j);
int cj_net_proj_nvars(const cj_net *net, int j);
int cj_net_proj_varfind(const cj_net *net, int j, const char *name);
const char *cj_net_proj_varname(const cj_net *net, int j, int v);
const char *cj_net_proj_varunit(const cj_net *net, int j, int v);
double *cj_net_proj_var(cj_net *net, int j, int v);               /* nsyn doubles; NULL if single */
void *cj_net_proj_data(cj_net *net, int j, int v);                /* nsyn doubles, or floats if single */
const int32_t *cj_net_proj_pre(cj_net *net, int j);   /* nsyn, 0-based; made on first call (NULL: no memory) */
const int32_t *cj_net_proj_post(const cj_net *net, int j);
const int32_t *cj_net_proj_delays(const cj_net *net, int j);      /* steps, NULL if homogeneous */
int64_t cj_net_proj_delay(const cj_net *net, int j);              /* homogeneous delay, 0 if not */
/* What an MPI rank owning post neurons [own0, own1) builds of projection j
 * (drawn by a rule, not from arrays), computed here whatever this process's
 * rank, after build: CSR rows by pre neuron (*rowptr, pre population size
 * + 1 entries) and the post neuron of each synapse, the caller's to
 * cj_free. The parts of ranks owning consecutive ranges, joined row by
 * row, are the one-rank projection (connect.c). */
int cj_net_proj_part(cj_net *net, int j, int64_t own0, int64_t own1, int64_t **rowptr, int32_t **post,
                     int64_t *nsyn);

/* Monitor contents (pointers valid until the next run/reset/free).
 * spikes: n records of (step, index); state: rows x cols values row-major,
 * with the step of each row; rate: one value (Hz) per `every` steps since
 * reset (the mean over those steps), with the first step of each window. */
int cj_net_mon_kind(const cj_net *net, int m);
/* What monitor m records: population (or -1), projection (or -1), variable (or -1). */
void cj_net_mon_target(const cj_net *net, int m, int *ppop, int *pproj, int *pvar);
int64_t cj_net_mon_spikes(const cj_net *net, int m, const int64_t **steps, const int32_t **idx);
/* Spikes and rate monitors: the recorded neurons lo..hi (0-based, inclusive). */
void cj_net_mon_slice(const cj_net *net, int m, int64_t *lo, int64_t *hi);
/* State monitors: the recorded neurons or synapses (0-based, in column order),
 * returned count of them; 0 for other monitors. */
int64_t cj_net_mon_indices(const cj_net *net, int m, const int64_t **idx);
int64_t cj_net_mon_state(const cj_net *net, int m, const int64_t **steps, const double **vals, int64_t *cols);
int64_t cj_net_mon_rate(const cj_net *net, int m, const double **rates);
int64_t cj_net_mon_every(const cj_net *net, int m);
const char *cj_net_mon_file(const cj_net *net, int m);            /* NULL if in memory */
/* Write buffered rows of streamed monitors to their files and make the
 * files complete .npy files (done at the end of every run, by save and by
 * free). Monitors with a file keep at most 65536 rows in memory:
 * spikes stream as (N, 2) float64 rows [time (s), index], state as
 * (rows, indices) float64, rate as 1-D float64 (Hz). */
int cj_net_flush(cj_net *net);

/* Brian2's timestep(): the step of time t, robust to rounding (t >= 0). */
int64_t cj_timestep(double t, double dt);

#endif
