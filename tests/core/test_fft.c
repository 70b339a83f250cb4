/*
 * test_fft.c — cj_fft_* (vm/core/fft.c) against a direct O(n^2) DFT in long
 * double, for lengths that are powers of two, primes and products, one row
 * and many; round trips; circular convolution and correlation against
 * their defining sums; errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"

static double randu(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) / 16777216.0 - 0.5;
}

/* Direct DFT of a complex row (sign -1 forward, +1 inverse unscaled). */
static void dft(int64_t n, const double *x, double *X, int sign)
{
  for (int64_t k = 0; k < n; k++) {
    long double re = 0, im = 0;
    for (int64_t j = 0; j < n; j++) {
      long double a = sign * 2.0L * 3.14159265358979323846264338327950288L * (long double)((j * k) % n) / n;
      re += x[2 * j] * cosl(a) - x[2 * j + 1] * sinl(a);
      im += x[2 * j] * sinl(a) + x[2 * j + 1] * cosl(a);
    }
    X[2 * k] = (double)re;
    X[2 * k + 1] = (double)im;
  }
}

static const int64_t lengths[] = { 1, 2, 3, 8, 17, 30, 64, 97, 256 };

Test(fft, complex_forward_and_inverse_match_the_direct_sum)
{
  unsigned s = 1;
  for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
    int64_t n = lengths[li], rows = 3;
    double *x = malloc(sizeof(double) * 2 * n * rows), *X = malloc(sizeof(double) * 2 * n * rows);
    double *ref = malloc(sizeof(double) * 2 * n), *back = malloc(sizeof(double) * 2 * n * rows);
    for (int64_t i = 0; i < 2 * n * rows; i++) x[i] = randu(&s);
    cr_assert_eq(cj_fft_c2c(n, rows, x, X, 0), CJ_OK, "%s", cj_errmsg());
    for (int64_t r = 0; r < rows; r++) {
      dft(n, x + 2 * n * r, ref, -1);
      for (int64_t i = 0; i < 2 * n; i++)
        cr_assert(fabs(X[2 * n * r + i] - ref[i]) <= 1e-13 * n, "n=%lld row %lld [%lld]: %g vs %g",
                  (long long)n, (long long)r, (long long)i, X[2 * n * r + i], ref[i]);
    }
    cr_assert_eq(cj_fft_c2c(n, rows, X, back, 1), CJ_OK, "%s", cj_errmsg());
    for (int64_t i = 0; i < 2 * n * rows; i++)
      cr_assert(fabs(back[i] - x[i]) <= 1e-14 * n, "round trip n=%lld", (long long)n);
    free(x); free(X); free(ref); free(back);
  }
}

Test(fft, real_transforms_match_the_complex_one_and_invert)
{
  unsigned s = 7;
  for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
    int64_t n = lengths[li], c = n / 2 + 1, rows = 2;
    double *x = malloc(sizeof(double) * n * rows), *X = malloc(sizeof(double) * 2 * c * rows);
    double *cx = malloc(sizeof(double) * 2 * n), *ref = malloc(sizeof(double) * 2 * n);
    double *back = malloc(sizeof(double) * n * rows);
    for (int64_t i = 0; i < n * rows; i++) x[i] = randu(&s);
    cr_assert_eq(cj_fft_r2c(n, rows, x, X), CJ_OK, "%s", cj_errmsg());
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t j = 0; j < n; j++) { cx[2 * j] = x[n * r + j]; cx[2 * j + 1] = 0; }
      dft(n, cx, ref, -1);
      for (int64_t i = 0; i < 2 * c; i++)
        cr_assert(fabs(X[2 * c * r + i] - ref[i]) <= 1e-13 * n, "rfft n=%lld [%lld]", (long long)n, (long long)i);
    }
    cr_assert_eq(cj_fft_c2r(n, rows, X, back), CJ_OK, "%s", cj_errmsg());
    for (int64_t i = 0; i < n * rows; i++)
      cr_assert(fabs(back[i] - x[i]) <= 1e-14 * n, "irfft round trip n=%lld", (long long)n);
    free(x); free(X); free(cx); free(ref); free(back);
  }
}

Test(fft, circular_convolution_and_correlation_are_the_defining_sums)
{
  unsigned s = 11;
  for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
    int64_t n = lengths[li], rows = 2;
    double *a = malloc(sizeof(double) * n * rows), *b = malloc(sizeof(double) * n * rows);
    double *cv = malloc(sizeof(double) * n * rows), *cr = malloc(sizeof(double) * n * rows);
    for (int64_t i = 0; i < n * rows; i++) { a[i] = randu(&s); b[i] = randu(&s); }
    cr_assert_eq(cj_fft_cconv(n, rows, a, b, cv), CJ_OK, "%s", cj_errmsg());
    cr_assert_eq(cj_fft_ccorr(n, rows, a, b, cr), CJ_OK, "%s", cj_errmsg());
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < n; k++) {
        double sc = 0, sr = 0;
        for (int64_t j = 0; j < n; j++) {
          sc += a[r * n + j] * b[r * n + ((k - j) % n + n) % n];
          sr += a[r * n + j] * b[r * n + (k + j) % n];
        }
        cr_assert(fabs(cv[r * n + k] - sc) <= 1e-13 * n, "conv n=%lld k=%lld: %g vs %g", (long long)n, (long long)k, cv[r * n + k], sc);
        cr_assert(fabs(cr[r * n + k] - sr) <= 1e-13 * n, "corr n=%lld k=%lld", (long long)n, (long long)k);
      }
    /* in place: out is a */
    cr_assert_eq(cj_fft_cconv(n, rows, a, b, a), CJ_OK);
    for (int64_t i = 0; i < n * rows; i++) cr_assert(a[i] == cv[i], "in-place convolution");
    free(a); free(b); free(cv); free(cr);
  }
}

Test(fft, overlapping_input_and_output_and_many_plans)
{
  double x[2 * 16], y[2 * 16];
  unsigned s = 5;
  for (int i = 0; i < 32; i++) x[i] = y[i] = randu(&s);
  cr_assert_eq(cj_fft_c2c(16, 1, x, x, 0), CJ_OK);       /* in place */
  cr_assert_eq(cj_fft_c2c(16, 1, x, x, 1), CJ_OK);
  for (int i = 0; i < 32; i++) cr_assert(fabs(x[i] - y[i]) < 1e-15, "in-place round trip");
  /* more distinct plans than the cache holds: every one still correct */
  for (int n = 1; n <= 80; n++) {
    double a[2 * 80], b[2 * 80];
    for (int i = 0; i < 2 * n; i++) a[i] = randu(&s);
    cr_assert_eq(cj_fft_c2c(n, 1, a, b, 0), CJ_OK, "n=%d: %s", n, cj_errmsg());
    cr_assert_eq(cj_fft_c2c(n, 1, b, b, 1), CJ_OK, "n=%d: %s", n, cj_errmsg());
    for (int i = 0; i < 2 * n; i++) cr_assert(fabs(a[i] - b[i]) < 1e-13, "n=%d round trip", n);
  }
}

Test(fft, bad_lengths_are_errors)
{
  double x[4] = { 0 };
  cr_assert_eq(cj_fft_c2c(0, 1, x, x, 0), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "length must be positive"), "%s", cj_errmsg());
  cr_assert_eq(cj_fft_r2c(-3, 1, x, x), CJ_EINVAL);
  cr_assert_eq(cj_fft_c2c(4, -1, x, x, 0), CJ_EINVAL);
  cr_assert_eq(cj_fft_c2c((int64_t)1 << 40, 1, x, x, 0), CJ_ERANGE);
  cr_assert_eq(cj_fft_c2c(2, 0, x, x, 0), CJ_OK);        /* no rows: nothing to do */
}
