/*
 * fft.h — discrete Fourier transforms of double data through FFTW (Debian
 * libfftw3-dev), for the array module (cj.fft) and the primitive modules
 * that convolve (holographic reduced representations, spectra).
 *
 * Complex numbers are interleaved (re, im) pairs of doubles, the layout of
 * C99 complex and of FFTW: a complex array of n elements is 2n doubles. Every
 * function transforms `howmany` contiguous rows at once (row r of the input
 * starts r * (input row length) doubles after `in`), out of place: in and out
 * must not overlap (a temporary is made here when they do).
 *
 * Conventions (numpy's): the forward transform is unnormalised,
 *   X[k] = sum_j x[j] exp(-2 pi i j k / n);
 * the inverse divides by n, so inverse(forward(x)) == x to rounding.
 *
 * Plans are made with FFTW_ESTIMATE (no timing runs, so results do not depend
 * on the machine's load) and cached per (kind, n, howmany); the planner is
 * serialised by a mutex, executing is thread-safe. Failures: CJ_EINVAL for
 * n < 1 or howmany < 0, CJ_ENOMEM, CJ_ERUNTIME when FFTW returns no plan.
 */
#ifndef CJ_FFT_H
#define CJ_FFT_H

#include "cj.h"

/* Complex to complex: in and out are howmany rows of n complex numbers.
 * inverse nonzero: the inverse transform (scaled by 1/n). */
int cj_fft_c2c(int64_t n, int64_t howmany, const double *in, double *out, int inverse);
/* Real to complex: rows of n reals in, rows of n/2 + 1 complex numbers out
 * (the non-negative frequencies; the rest are their conjugates). */
int cj_fft_r2c(int64_t n, int64_t howmany, const double *in, double *out);
/* Complex to real, the inverse of cj_fft_r2c (scaled by 1/n): rows of
 * n/2 + 1 complex numbers in, rows of n reals out. The imaginary parts of
 * X[0] (and of X[n/2] for even n) are ignored, as numpy's irfft does. */
int cj_fft_c2r(int64_t n, int64_t howmany, const double *in, double *out);

/* Circular convolution and correlation of real rows of length n, through
 * the real transforms:
 *   conv: out[k] = sum_j a[j] b[(k - j) mod n]
 *   corr: out[k] = sum_j a[j] b[(k + j) mod n]   (HRR's approximate unbinding)
 * a, b and out are howmany rows each; out may be a or b. */
int cj_fft_cconv(int64_t n, int64_t howmany, const double *a, const double *b, double *out);
int cj_fft_ccorr(int64_t n, int64_t howmany, const double *a, const double *b, double *out);

#endif
