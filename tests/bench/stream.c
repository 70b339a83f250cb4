/*
 * stream.c — a STREAM-like memory-bandwidth probe (McCalpin's four kernels:
 * copy c = a, scale b = s c, add c = a + b, triad a = b + s c) on double
 * arrays, for working sets from cache-resident to main memory, so that the
 * cost of a neuron step can be set against the bandwidth at the size of
 * its state (tests/bench/vsbrian.lua compiles and runs it, pinned to one
 * core with taskset).
 *
 * Run by hand:  cc -O3 -march=native tests/bench/stream.c -o stream && taskset -c 1 ./stream [bytes ...]
 * Each argument is a working set in bytes (the three arrays together;
 * default 128 KiB, 1.25 MiB, 12.5 MiB and 192 MiB). For each it prints
 *   STREAM <bytes> copy <GB/s> scale <GB/s> add <GB/s> triad <GB/s>
 * with bytes counted as STREAM counts them (copy and scale move 16 bytes per
 * element, add and triad 24; write-allocate traffic is not counted), the
 * best of several timed batches, each batch repeating the kernel until it
 * lasts at least 20 ms of wall-clock time.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { COPY, SCALE, ADD, TRIAD };

static void kernel(int k, long n, double *restrict a, double *restrict b, double *restrict c)
{
  const double s = 3.0;
  switch (k) {
  case COPY: for (long i = 0; i < n; i++) c[i] = a[i]; break;
  case SCALE: for (long i = 0; i < n; i++) b[i] = s * c[i]; break;
  case ADD: for (long i = 0; i < n; i++) c[i] = a[i] + b[i]; break;
  default: for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i]; break;
  }
}

/* GB/s of kernel k on arrays of n doubles: best of 5 batches of >= 20 ms */
static double bandwidth(int k, long n, double *a, double *b, double *c)
{
  static const double bytes[] = { 16, 16, 24, 24 };
  long reps = 1;
  double best = 0, t = 0;
  for (;;) {                                   /* find a batch size */
    double t0 = now();
    for (long r = 0; r < reps; r++) kernel(k, n, a, b, c);
    t = now() - t0;
    if (t >= 0.02) break;
    reps *= 2;
  }
  for (int batch = 0; batch < 5; batch++) {
    double t0 = now(), gbs;
    for (long r = 0; r < reps; r++) kernel(k, n, a, b, c);
    t = now() - t0;
    gbs = bytes[k] * (double)n * (double)reps / t / 1e9;
    if (gbs > best) best = gbs;
  }
  return best;
}

static int probe(double total)
{
  long n = (long)(total / 3 / sizeof(double));
  double *a, *b, *c, bw[4];
  if (n < 64) n = 64;
  a = malloc(sizeof(double) * (size_t)n);
  b = malloc(sizeof(double) * (size_t)n);
  c = malloc(sizeof(double) * (size_t)n);
  if (!a || !b || !c) {
    fprintf(stderr, "stream: out of memory for %.0f bytes\n", total);
    free(a); free(b); free(c);
    return 1;
  }
  for (long i = 0; i < n; i++) { a[i] = 1.0; b[i] = 2.0; c[i] = 0.0; }
  for (int k = 0; k < 4; k++) bw[k] = bandwidth(k, n, a, b, c);
  printf("STREAM %ld copy %.2f scale %.2f add %.2f triad %.2f\n", 3 * n * (long)sizeof(double),
         bw[0], bw[1], bw[2], bw[3]);
  fflush(stdout);
  if (a[n / 2] < 0) puts("");                  /* keep the results alive */
  free(a); free(b); free(c);
  return 0;
}

int main(int argc, char **argv)
{
  static const double defaults[] = { 131072, 1310720, 13107200, 201326592 };
  int st = 0;
  if (argc < 2)
    for (int i = 0; i < 4; i++) st |= probe(defaults[i]);
  for (int i = 1; i < argc; i++) {
    char *end;
    double v = strtod(argv[i], &end);
    if (*end || !(v > 0)) {
      fprintf(stderr, "stream: bad working-set size '%s' (bytes expected)\n", argv[i]);
      return 2;
    }
    st |= probe(v);
  }
  return st;
}
