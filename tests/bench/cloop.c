/*
 * cloop.c — the plain C loops that cajal's elementwise array operations are
 * measured against (tests/bench/array.lua compiles and runs this file).
 *
 * Run by hand:  cc -O2 tests/bench/cloop.c -o cloop -lm && ./cloop [n]
 * Prints, for n doubles (default 1e7), the best CPU time (this process)
 * of one operation:
 *   BENCH c_<op>_ms <ms> ms        output written into a preallocated array
 *   BENCH c_<op>_alloc_ms <ms> ms  output malloc'ed (and freed) each time,
 *                                  as an allocating `a + b` in cajal or numpy
 * for op in add (a + b), muladd (a * b + c) and exp (exp(a)).
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void add(long n, double *o, const double *a, const double *b, const double *c)
{
  (void)c;
  for (long i = 0; i < n; i++) o[i] = a[i] + b[i];
}

static void muladd(long n, double *o, const double *a, const double *b, const double *c)
{
  for (long i = 0; i < n; i++) o[i] = a[i] * b[i] + c[i];
}

static void expo(long n, double *o, const double *a, const double *b, const double *c)
{
  (void)b; (void)c;
  for (long i = 0; i < n; i++) o[i] = exp(a[i]);
}

typedef void (*op)(long, double *, const double *, const double *, const double *);

/* best of reps runs, in ms; with alloc set the output is malloc'ed each run */
static double best(op f, long n, double *o, const double *a, const double *b, const double *c,
                   int alloc, int reps, double *sink)
{
  double bestt = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now(), t;
    double *out = alloc ? malloc(sizeof(double) * (size_t)n) : o;
    if (!out) { perror("malloc"); exit(1); }
    f(n, out, a, b, c);
    *sink += out[n / 2];
    if (alloc) free(out);
    t = (now() - t0) * 1e3;
    if (t < bestt) bestt = t;
  }
  return bestt;
}

int main(int argc, char **argv)
{
  long n = argc > 1 ? atol(argv[1]) : 10000000;
  double *a = malloc(sizeof(double) * (size_t)n), *b = malloc(sizeof(double) * (size_t)n);
  double *c = malloc(sizeof(double) * (size_t)n), *o = malloc(sizeof(double) * (size_t)n);
  double sink = 0;
  static const struct { const char *name; op f; } ops[] = {
    { "add", add }, { "muladd", muladd }, { "exp", expo },
  };
  if (!a || !b || !c || !o) { perror("malloc"); return 1; }
  for (long i = 0; i < n; i++) {
    a[i] = (double)i / (double)n;
    b[i] = 1 - a[i];
    c[i] = 0.5;
    o[i] = 0;
  }
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    printf("BENCH c_%s_ms %.2f ms\n", ops[k].name, best(ops[k].f, n, o, a, b, c, 0, 7, &sink));
    printf("BENCH c_%s_alloc_ms %.2f ms\n", ops[k].name, best(ops[k].f, n, o, a, b, c, 1, 7, &sink));
  }
  fprintf(stderr, "(checksum %g)\n", sink);
  free(a); free(b); free(c); free(o);
  return 0;
}
