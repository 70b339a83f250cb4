/*
 * info.h — information measures: entropy, conditional entropy, mutual and
 * conditional mutual information from count tables with finite-sample bias
 * corrections and error bars, KL and Jensen-Shannon divergences, binary
 * words of spike trains, incremental word counters, the direct method of
 * Strong et al. (1998) and the information per spike of Brenner et al.
 * (2000). The Lua face is vm/bind/linfo.c (cj.info).
 *
 * Everything here is in nats (natural logarithms); the binding converts to
 * bits. Tables are row-major double arrays of non-negative counts; for MI
 * the rows are the conditioning variable (the stimulus S) and the columns
 * the response R, I(S;R) = H(R) - sum_s p(s) H(R|s) with p(s) the observed
 * row frequencies (the experimenter's stimulus distribution). Resampling
 * (quadratic extrapolation, shuffles, bootstrap) draws from a cj_rng that
 * the caller passes, so a seed gives one result everywhere.
 *
 * Methods (cj_info_method):
 *   PLUGIN  the maximum-likelihood ("naive") estimate.
 *   MM      Miller-Madow: plug-in + (R - 1) / 2N per entropy, R the occupied bins.
 *   PT      Panzeri-Treves (1996): as MM with R replaced by the Bayesian count
 *           of relevant bins (cj_info_pt_bins).
 *   QE      quadratic extrapolation (Strong et al. 1998): plug-in estimates on
 *           the whole data, on halves and on quarters (random partitions,
 *           stratified by row), fitted as H(n) = H0 + a/n + b/n^2; H0 is returned.
 *   NSB     Nemenman-Shafee-Bialek (2002): the posterior mean of the entropy
 *           under a mixture of Dirichlet priors flat in the prior entropy,
 *           the integral over the concentration beta done numerically; the
 *           error bar is the posterior standard deviation.
 *   SHUFFLE (MI, CMI) plug-in minus the mean plug-in over tables whose
 *           response labels are permuted across trials (within each z slice
 *           for CMI): the bias under the null of independence.
 *   BOOT    bootstrap bias correction: 2 plug-in - mean plug-in over tables
 *           resampled with replacement; the error bar is their spread.
 * Error bars of PLUGIN, MM, PT, QE and SHUFFLE are the delta-method
 * standard error of the plug-in estimate (sqrt(Var/N), Var the variance of
 * the log-ratio whose mean the measure is), which these corrections shift
 * but do not shrink.
 *
 * Significance: with nshuffle > 0, the same estimator is applied to that
 * many permuted tables; pvalue = (1 + #{null >= estimate}) / (1 + nshuffle).
 */
#ifndef CJ_INFO_H
#define CJ_INFO_H

#include "array.h"
#include "rng.h"
#include "spiketrain.h"

typedef enum {
  CJ_INFO_PLUGIN, CJ_INFO_MM, CJ_INFO_PT, CJ_INFO_QE, CJ_INFO_NSB, CJ_INFO_SHUFFLE, CJ_INFO_BOOT,
  CJ_INFO_NMETHODS
} cj_info_method;

typedef struct cj_info_opts {
  cj_info_method method;
  double K;              /* alphabet size for NSB and PT (0: the table's size) */
  int64_t nresample;     /* shuffles (SHUFFLE) or replicates (BOOT); 0: 100 */
  int64_t nshuffle;      /* significance shuffles (0: none; SHUFFLE always has nresample) */
  cj_rng *rng;           /* QE, SHUFFLE, BOOT, nshuffle; may be NULL otherwise */
} cj_info_opts;

typedef struct cj_info_est {
  double value;          /* the estimate (nats) */
  double err;            /* its standard error (nats) */
  double plugin;         /* the plug-in estimate */
  double bias;           /* plugin - value */
  double N;              /* samples (the table's total) */
  double bins;           /* MM: occupied bins; PT: the Bayesian count (for entropies) */
  double pvalue;         /* permutation p-value (NaN unless shuffled) */
  double null_mean, null_sd;   /* the estimator over the shuffles (NaN unless shuffled) */
} cj_info_est;

/* ---- special functions ----------------------------------------------------------
 * Digamma psi(x) and trigamma psi'(x) for x > 0 (recurrence to x >= 6, then
 * the asymptotic series; absolute error below 1e-14 for psi, relative 1e-14
 * for psi'). NaN for x <= 0. */
double cj_digamma(double x);
double cj_trigamma(double x);

/* ---- estimators on count tables --------------------------------------------------
 * Counts: finite, >= 0 (CJ_EINVAL otherwise, naming the first bad cell). A
 * table with no counts is CJ_EINVAL. QE, SHUFFLE, BOOT and nshuffle need
 * whole-number counts (CJ_EINVAL otherwise) and o->rng. */

/* H of the distribution with counts c[0..n). K: alphabet size (0: n). */
int cj_info_entropy(const double *c, int64_t n, const cj_info_opts *o, cj_info_est *r);
/* H(R|S) of the joint table (ns x nr, rows S). */
int cj_info_condentropy(const double *joint, int64_t ns, int64_t nr, const cj_info_opts *o,
                        cj_info_est *r);
/* I(S;R) of the joint table (ns x nr, rows S). */
int cj_info_mi(const double *joint, int64_t ns, int64_t nr, const cj_info_opts *o, cj_info_est *r);
/* I(X;Y|Z) of the table nx x ny x nz (row-major, z fastest): sum_z p(z) I(X;Y|z). */
int cj_info_cmi(const double *t, int64_t nx, int64_t ny, int64_t nz, const cj_info_opts *o,
                cj_info_est *r);

/* Entropy from a count profile: m distinct positive counts val[k], each
 * held by mult[k] bins, alphabet size K (>= the occupied bins sum(mult)).
 * PLUGIN, MM, PT and NSB only (the others need the table). */
int cj_info_entropy_profile(const double *val, const double *mult, int64_t m, double K,
                            cj_info_method method, cj_info_est *r);
/* The NSB posterior mean *H and standard deviation *sd (nats) for a profile. */
int cj_info_nsb(const double *val, const double *mult, int64_t m, double K, double *H, double *sd);
/* Panzeri-Treves' Bayesian count of relevant bins: R~ = R + x, with x
 * (0 .. K - R) the first local minimum of |R - E_x|, E_x the expected
 * number of occupied bins after N draws from the observed frequencies
 * scaled by (1 - x q) plus x unseen bins of probability q each, where
 * (1 - q)^N = N / (N + R) (the probability that an unseen bin stays unseen). */
double cj_info_pt_bins(const double *val, const double *mult, int64_t m, double K);

/* D(p || q) and the Jensen-Shannon divergence of two distributions given as
 * non-negative weights (normalised here) of n entries each. KL is +inf
 * when q is 0 where p is not. CJ_EINVAL on negative, non-finite or all-zero
 * weights. */
int cj_info_kl(const double *p, const double *q, int64_t n, double *d);
int cj_info_js(const double *p, const double *q, int64_t n, double *d);

/* ---- spike words ------------------------------------------------------------------
 * A word is L consecutive bins of width dt; each letter is the spike count
 * of its bin capped at maxcount (1: binary words). Letters take
 * b = bits(maxcount) bits each; the first bin is the most significant.
 * Modes: CJ_WORDS_EACH (one word per train and start bin: key bits L b),
 * CJ_WORDS_POOL (the same, all trains' words counted together),
 * CJ_WORDS_POPULATION (one word per start bin holding all trains, train 1
 * most significant: n L b bits). Words start at bins 0, step, 2 step, ...
 * while the word fits in the window. */
enum { CJ_WORDS_EACH, CJ_WORDS_POOL, CJ_WORDS_POPULATION };
typedef struct cj_words_spec {
  double dt;             /* bin width (s), > 0 */
  int L;                 /* letters per word, >= 1 */
  int maxcount;          /* letter cap, 1..255 */
  int64_t step;          /* bins between word starts, >= 1 */
  int mode;
} cj_words_spec;

/* Bits of one letter for a cap (1 -> 1, 2..3 -> 2, ...). */
int cj_words_letterbits(int maxcount);
/* Word starts per train (0 when a word does not fit). */
int64_t cj_words_count(const cj_trains *s, const cj_words_spec *w);
/* The letters of trains s (n x nbins, uint8, capped): letters[j * nbins + b]. */
int cj_words_letters(const cj_trains *s, const cj_words_spec *w, uint8_t *letters, int64_t nbins);
/* keys[j * nw + k] (EACH/POOL: n x nw) or keys[k] (POPULATION) = the words
 * as integers; CJ_EINVAL when a word needs more than 64 bits. */
int cj_words_keys(const cj_trains *s, const cj_words_spec *w, uint64_t *keys);

/* Counts of distinct 64-bit keys: sorts keys[0..n) in place, writes the
 * distinct keys to uniq (may be keys) and their counts (doubles) to cnt;
 * *m their number. */
int cj_words_tally(uint64_t *keys, int64_t n, uint64_t *uniq, double *cnt, int64_t *m);

/* An incremental word counter: a hash table of key -> count plus the
 * profile (count -> number of keys) and sum n ln n, kept current on every
 * update, so the entropy of what has been added so far costs O(distinct
 * counts) — a sliding window adds the new words and removes the old. */
typedef struct cj_info_counter cj_info_counter;
cj_info_counter *cj_info_counter_new(void);
void cj_info_counter_free(cj_info_counter *c);
/* Add (n > 0) or remove (n < 0) n copies of key. Removing more than is
 * there is CJ_EINVAL (the counter is unchanged); CJ_ENOMEM. */
int cj_info_counter_add(cj_info_counter *c, uint64_t key, int64_t n);
void cj_info_counter_clear(cj_info_counter *c);
int64_t cj_info_counter_total(const cj_info_counter *c);
/* Bytes of memory the counter holds (for reporting to a collector). */
size_t cj_info_counter_bytes(const cj_info_counter *c);
int64_t cj_info_counter_distinct(const cj_info_counter *c);
/* The count of key (0 if absent). */
int64_t cj_info_counter_get(const cj_info_counter *c, uint64_t key);
/* keys and counts of the distinct entries, keys ascending
 * (cj_info_counter_distinct entries each). */
int cj_info_counter_items(const cj_info_counter *c, uint64_t *keys, double *counts);
/* Entropy of the counted distribution: PLUGIN, MM, PT, NSB from the
 * profile; QE, BOOT from the counts. K as in cj_info_entropy (0: the
 * distinct keys). */
int cj_info_counter_entropy(const cj_info_counter *c, const cj_info_opts *o, cj_info_est *r);

/* ---- the direct method (Strong et al. 1998) -------------------------------------------
 * Trials: repeated presentations of one stimulus (train j = trial j, all
 * aligned to stimulus onset). For each word length L[i]: the total entropy
 * H_tot(L) of all words (all trials, all start bins, step 1) and the noise
 * entropy H_noise(L) = the mean over start bins t (every `step` bins) of
 * the entropy of the words at t across trials, each with method o (QE is
 * Strong's extrapolation to infinite data). Rates are entropies / (L dt).
 * Extrapolation to infinite word length: rate(L) = rate_inf + a / L fitted
 * by least squares over the lengths with fit[i] != 0. */
typedef struct cj_direct_out {
  double *htot, *htot_err, *hnoise, *hnoise_err;   /* per L (nats per word) */
  double tot_rate, noise_rate, info_rate;          /* extrapolated (nats/s) */
  double tot_rate_err, noise_rate_err, info_rate_err;
  double spike_rate;                               /* mean rate over trials (Hz) */
} cj_direct_out;
int cj_info_direct(const cj_trains *s, double dt, const int *L, const int *fit, int nL, int maxcount,
                   int64_t step, const cj_info_opts *o, cj_direct_out *out);

/* Information per spike carried by a time-varying rate (Brenner et al.
 * 2000): I = (1/T) sum_t dt (r(t)/rbar) ln(r(t)/rbar) nats per spike, rbar
 * the mean of r[0..n) (r >= 0, not all zero). */
int cj_info_spike_information(const double *r, int64_t n, double *nats_per_spike);

#endif
