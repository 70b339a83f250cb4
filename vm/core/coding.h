/*
 * coding.h — neural coding: spike statistics (rates, intervals, CV, Fano
 * factor, PSTH, correlograms, population-rate spectrum, the time-rescaling
 * test), encoding models (spike-triggered average and covariance, the LNP
 * nonlinearity by Bayes' rule, the Poisson GLM of Pillow et al. 2008 on
 * raised-cosine bases) and decoding (population vector, Poisson
 * likelihoods and posteriors over a stimulus grid, likelihood-ratio test,
 * SPRT, optimal linear reconstruction). The Lua face is vm/bind/lcoding.c
 * (cj.coding).
 *
 * Units are SI without dimension bookkeeping (the binding attaches units):
 * times and widths in s, rates in Hz. Spike trains are cj_trains
 * (spiketrain.h); binned spikes are row-major double arrays, neurons x bins.
 * Stimuli are T x D row-major (T time bins of width dt, D dimensions).
 * Outputs are written into caller-made arrays of the sizes stated; every
 * function returns CJ_OK or a cj_fail status naming what was wrong.
 */
#ifndef CJ_CODING_H
#define CJ_CODING_H

#include "array.h"
#include "rng.h"
#include "spiketrain.h"

/* ---- spike statistics ------------------------------------------------------------------ */

/* rates[j] = spikes of train j / (t1 - t0), Hz. */
int cj_coding_rates(const cj_trains *s, double *rates);
/* Intervals between successive spikes of each train, concatenated (at most
 * cj_trains_count entries); owner[k] (may be NULL) the 0-based train. */
int cj_coding_isi(const cj_trains *s, double *isi, int64_t *owner, int64_t *n);
/* cv[j] = std / mean of train j's intervals (std with ddof 0, as
 * scipy.stats.variation); NaN with fewer than two intervals. */
int cj_coding_cv(const cj_trains *s, double *cv);
/* fano[j] = var / mean (ddof 0) of the spike counts of train j in the
 * floor((t1 - t0) / w) consecutive windows of width w from t0; NaN when the
 * mean is 0 or there are fewer than two windows. */
int cj_coding_fano(const cj_trains *s, double w, double *fano);
/* rate[b] = spikes of all trains in bin b / (n dt): the PSTH (Hz) over
 * cj_trains_nbins(s, dt) bins. */
int cj_coding_psth(const cj_trains *s, double dt, double *rate);
/* Correlogram: counts[k] += pairs (spike x of a train of a, spike y of a
 * train of b) with lag y - x in bin k of nb bins of width bin from -window
 * (nb = round(2 window / bin)). pairs: 0 every train of a with every train
 * of b; 1 train j of a with train j of b only; 2 (auto: b is a) train j
 * with itself, a spike never with itself. */
int cj_coding_correlogram(const cj_trains *a, const cj_trains *b, double bin, double window, int pairs,
                          double *counts, int64_t nb);
/* Welch power spectrum of x[0..n) sampled at fs: segments of nseg samples
 * overlapping by nover, mean removed, Hann window, one-sided density
 * (units of x^2 / Hz): psd[k] for f = k fs / nseg, k = 0 .. nseg/2, as
 * scipy.signal.welch(x, fs, 'hann', nseg, nover, detrend='constant'). */
int cj_coding_welch(const double *x, int64_t n, double fs, int64_t nseg, int64_t nover, double *psd);

/* Time rescaling (Brown et al. 2002). lambda: the intensity (Hz) in bins of
 * width dt from t0, either per train (nl == n trains, rows of nbins) or
 * shared (nl == 1); spikes past the last whole bin are ignored. z[0..*nz)
 * (at most cj_trains_count entries) = 1 - exp(-tau) for the rescaled
 * intervals tau (from t0 to the first spike, then between spikes), sorted
 * ascending; *ks the Kolmogorov-Smirnov distance of z from uniform, *p its
 * p-value (Kolmogorov's distribution with Stephens' correction). With rng,
 * the discrete-time version of Haslinger, Pipa & Brown (2010) for models of
 * binned spikes: tau = the integrated intensity of the whole bins between
 * two spikes' bins plus -log(1 - r (1 - exp(-q))), q the spike bin's
 * integrated intensity and r uniform; exactly uniform z under a model of
 * Poisson counts per bin (spikes sharing a bin each get their own r). */
int cj_coding_rescale(const cj_trains *s, const double *lambda, int64_t nl, int64_t nbins, double dt,
                      cj_rng *rng, double *z, int64_t *nz, double *ks, double *p);
/* The p-value of a KS distance d from n samples. */
double cj_coding_kspvalue(double d, int64_t n);

/* ---- encoding ------------------------------------------------------------------------------ */

/* Spike-triggered average: sta[l * D + d] = sum_t y[t] s[t - l][d] / nsp
 * over t >= lags - 1 (every lag has data), l = 0 .. lags - 1 (l = 0 the
 * stimulus in the spike's bin); *nsp the spikes counted. */
int cj_coding_sta(const double *s, int64_t T, int64_t D, const double *y, int64_t lags, double *sta,
                  double *nsp);
/* Spike-triggered covariance minus the prior covariance of the lagged
 * stimulus vectors x_t (p = lags D entries, entry l D + d = s[t - l][d]):
 * dc (p x p) = sum_t y_t (x_t - sta)(x_t - sta)^T / (nsp - 1) - Cov(x);
 * evals (p, descending) and evecs (p x p, column j the vector of evals[j])
 * its eigendecomposition (Jacobi). */
int cj_coding_stc(const double *s, int64_t T, int64_t D, const double *y, int64_t lags, double *dc,
                  double *evals, double *evecs);
/* x[t] = sum_l sum_d k[l D + d] s[t - l][d] for t >= lags - 1, NaN before. */
int cj_coding_project(const double *s, int64_t T, int64_t D, const double *k, int64_t lags, double *x);
/* Symmetric eigendecomposition by cyclic Jacobi: a (n x n) is destroyed. */
int cj_coding_eigsym(double *a, int64_t n, double *evals, double *evecs);

/* Raised-cosine basis (Pillow et al. 2005, 2008): out (lags x nb) column j
 * = (cos(clamp((phi(t) - c_j) pi / (2 delta), -pi, pi)) + 1) / 2 at t = 0
 * .. lags - 1 bins, phi(t) = log(t + offset) (offset > 0) or t (offset 0),
 * centres c_j spaced by delta from phi(first) to phi(last). */
int cj_coding_raised_cosine(int64_t lags, int64_t nb, double first, double last, double offset, double *out);

/* The Poisson GLM of Pillow et al. (2008) for N neurons binned at dt:
 *   lambda_n(t) = exp(b_n + sum_{l,d} k_n[l][d] s[t-l][d]
 *                 + sum_m sum_j hc_n[m][j] y_m[t-1-j])
 * with k_n = Bk wk (lags x D per dimension), hc_n[m] = Bh wh_m (hlags),
 * m = n the post-spike filter, m != n the coupling. y[n * T + t] counts.
 * Fit per neuron by Newton's method on the concave log-likelihood
 *   sum_t y log(lambda dt) - lambda dt - log y!  -  l2/2 |w|^2 (bias free)
 * with a backtracking line search; stops when the Newton decrement is
 * below tol (relative to T) or after maxit steps. */
typedef struct cj_glm_spec {
  int64_t T, D, N;           /* bins, stimulus dimensions (0: no stimulus), neurons */
  double dt;
  int64_t lags, nk;          /* stimulus filter length and basis size */
  const double *Bk;          /* lags x nk (NULL: identity, nk = lags) */
  int64_t hlags, nh;         /* history filter length and basis size (0: none) */
  const double *Bh;          /* hlags x nh (NULL: identity) */
  int coupling;              /* fit coupling filters between neurons */
  double l2;                 /* ridge penalty on every weight but the bias */
  int maxit;
  double tol;
} cj_glm_spec;
/* Per neuron n: bias[n]; k[n * lags * D + l * D + d]; h[(n * N + m) *
 * hlags + j] (m = n post-spike, others coupling, zero when not fitted);
 * loglik[n] (with the log y! term), iters[n], conv[n]. */
typedef struct cj_glm_fit {
  double *bias, *k, *h, *loglik;
  int *iters, *conv;
} cj_glm_fit;
int cj_glm_fit_model(const cj_glm_spec *g, const double *s, const double *y, cj_glm_fit *out);
/* Conditional intensity (Hz) of each neuron given stimulus s and spikes y:
 * lam[n * T + t]. Filters as in cj_glm_fit (full lengths, not weights). */
int cj_glm_intensity(int64_t T, int64_t D, int64_t N, double dt, const double *s, const double *y,
                     const double *bias, const double *k, int64_t lags, const double *h, int64_t hlags,
                     double *lam);
/* Simulate the GLM: y[n * T + t] ~ Poisson(lambda_n(t) dt) in time order,
 * the history from the spikes drawn so far (rng: the caller's). Counts
 * are capped at maxcount per bin (0: no cap). */
int cj_glm_simulate(int64_t T, int64_t D, int64_t N, double dt, const double *s, const double *bias,
                    const double *k, int64_t lags, const double *h, int64_t hlags, int maxcount,
                    cj_rng *rng, double *y);

/* ---- decoding ----------------------------------------------------------------------------- */

/* Poisson log-likelihood of counts n (trials x N) in a window of width w
 * under rates f (G x N, Hz): ll[tr * G + g] = sum_i n log(f w) - f w -
 * log n!. A zero rate with a spike gives -inf. */
int cj_decode_loglik(const double *n, int64_t trials, int64_t N, const double *f, int64_t G, double w,
                     double *ll);
/* Posterior over the grid from log-likelihoods and a prior (G, NULL:
 * flat): post[tr * G + g], each row summing to one. */
int cj_decode_posterior(const double *ll, int64_t trials, int64_t G, const double *prior, double *post);
/* The grid point of the largest value of row v (G entries); with
 * interp and an equally spaced grid, the vertex of the parabola through it
 * and its neighbours (in grid units, as a fractional index). */
double cj_decode_argmax(const double *v, int64_t G, int interp);
/* Optimal linear reconstruction: least squares (with ridge l2) of the
 * stimulus s (T) on the binned spikes y (N x T) at lags -pre .. post
 * (s[t] ~ c + sum_i sum_l K[i][l] y_i[t - l]); K (N x (pre + post + 1)),
 * *c, and est (T). */
int cj_decode_linear(const double *y, int64_t N, int64_t T, const double *s, int64_t pre, int64_t post,
                     double l2, double *K, double *c, double *est);
/* est (T) = c + the filters K (N x (pre + post + 1)) applied to y. */
int cj_decode_apply(const double *y, int64_t N, int64_t T, const double *K, int64_t pre, int64_t post,
                    double c, double *est);

/* Cholesky solve of the symmetric positive definite a (n x n, destroyed)
 * x = a^-1 b (b overwritten). CJ_ERUNTIME when a is not positive definite. */
int cj_coding_cholsolve(double *a, int64_t n, double *b);

#endif
