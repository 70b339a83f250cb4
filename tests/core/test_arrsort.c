/*
 * test_arrsort.c — sorting, searching, distinct values (arrsort.c),
 * histograms and bincount (arrhist.c) and spike-train binning
 * (spiketrain.c), each against a direct computation: qsort, linear scans,
 * counting loops.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arrhist.h"
#include "arrsort.h"
#include "spiketrain.h"

static double randu(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) / 16777216.0;
}

static int cmpd(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x)) return isnan(y) ? 0 : 1;
  if (isnan(y)) return -1;
  return (x > y) - (x < y);
}

static int cmpu(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

Test(arrsort, sort_matches_qsort_with_ties_and_nans)
{
  unsigned s = 7;
  for (int64_t n = 0; n < 300; n += 37) {
    double *x = malloc(sizeof(double) * (n + 1)), *r = malloc(sizeof(double) * (n + 1));
    for (int64_t i = 0; i < n; i++) x[i] = (i % 11 == 3) ? NAN : floor(randu(&s) * 20);
    memcpy(r, x, sizeof(double) * n);
    qsort(r, n, sizeof(double), cmpd);
    cr_assert_eq(cj_sort_f64(x, n), CJ_OK);
    for (int64_t i = 0; i < n; i++)
      cr_assert(x[i] == r[i] || (isnan(x[i]) && isnan(r[i])), "n=%lld [%lld]", (long long)n, (long long)i);
    free(x);
    free(r);
  }
}

Test(arrsort, argsort_is_stable)
{
  unsigned s = 3;
  int64_t n = 1000, perm[1000];
  double x[1000];
  for (int64_t i = 0; i < n; i++) x[i] = floor(randu(&s) * 10);
  cr_assert_eq(cj_argsort_f64(x, n, perm), CJ_OK);
  for (int64_t i = 1; i < n; i++) {
    double a = x[perm[i - 1]], b = x[perm[i]];
    cr_assert(a < b || (a == b && perm[i - 1] < perm[i]), "position %lld", (long long)i);
  }
}

Test(arrsort, radix_sort_of_u64_matches_qsort)
{
  unsigned s = 5;
  int64_t n = 5000;
  uint64_t *k = malloc(sizeof(uint64_t) * n), *r = malloc(sizeof(uint64_t) * n);
  for (int64_t i = 0; i < n; i++)
    k[i] = ((uint64_t)(randu(&s) * 4294967296.0) << 32) ^ (uint64_t)(randu(&s) * 4294967296.0) >> (i % 40);
  memcpy(r, k, sizeof(uint64_t) * n);
  qsort(r, n, sizeof(uint64_t), cmpu);
  cr_assert_eq(cj_sort_u64(k, n), CJ_OK);
  cr_assert(memcmp(k, r, sizeof(uint64_t) * n) == 0);
  free(k);
  free(r);
}

Test(arrsort, search_matches_a_linear_scan)
{
  double a[] = { 1, 2, 2, 2, 5, 9 };
  double probes[] = { 0, 1, 1.5, 2, 3, 9, 10, NAN };
  for (size_t p = 0; p < sizeof probes / sizeof *probes; p++)
    for (int right = 0; right < 2; right++) {
      int64_t i = 0;
      double x = probes[p];
      while (i < 6 && (isnan(x) || (right ? a[i] <= x : a[i] < x))) i++;
      cr_assert_eq(cj_search_f64(a, 6, x, right), i, "x=%g right=%d", x, right);
    }
}

Test(arrsort, sort_along_an_axis_of_a_strided_view)
{
  double d[12] = { 3, 1, 2, 9, 8, 7, 0, 5, 4, 6, 11, 10 };   /* 3 x 4 */
  int64_t shape[2] = { 3, 4 };
  cj_array a, t, out;
  cr_assert_eq(cj_array_wrap(&a, d, CJ_F64, 2, shape), CJ_OK);
  cr_assert_eq(cj_array_transpose(&t, &a, 0, 1), CJ_OK);     /* 4 x 3, strided */
  cr_assert_eq(cj_array_alloc(&out, CJ_I32, 2, t.shape), CJ_OK);
  cr_assert_eq(cj_array_argsort(&out, &t, 1), CJ_OK);        /* each row of t = column of a */
  /* column 0 of a is 3, 8, 4 -> order 0, 2, 1 */
  cr_assert_eq(cj_array_getflat(&out, 0), 0);
  cr_assert_eq(cj_array_getflat(&out, 1), 2);
  cr_assert_eq(cj_array_getflat(&out, 2), 1);
  cj_array_release(&out);
  cr_assert_neq(cj_array_sort(&a, &a, 2), CJ_OK, "axis out of range");
}

Test(arrsort, unique_counts_and_inverse)
{
  double d[] = { 2, 1, 2, NAN, 1, NAN, 7 }, v[7];
  int64_t c[7], inv[7], u, shape = 7;
  cj_array a;
  cj_array_wrap(&a, d, CJ_F64, 1, &shape);
  cr_assert_eq(cj_array_unique(&a, v, c, inv, &u), CJ_OK);
  cr_assert_eq(u, 4);
  cr_assert(v[0] == 1 && v[1] == 2 && v[2] == 7 && isnan(v[3]));
  cr_assert(c[0] == 2 && c[1] == 2 && c[2] == 1 && c[3] == 2);
  for (int i = 0; i < 7; i++)
    cr_assert(v[inv[i]] == d[i] || (isnan(d[i]) && isnan(v[inv[i]])));
}

Test(arrhist, uniform_bins_agree_with_searching_the_edges)
{
  unsigned s = 9;
  double e[8];
  cj_bins u = { 7, e, 1 }, g = { 7, e, 0 };
  cr_assert_eq(cj_bins_uniform(e, 7, -0.3, 0.4), CJ_OK);
  cr_assert_eq(e[7], 0.4);
  for (int i = 0; i < 100000; i++) {
    double x = -0.4 + 0.9 * randu(&s);
    if (i < 8) x = e[i];                                    /* every edge exactly */
    cr_assert_eq(cj_bins_find(&u, x), cj_bins_find(&g, x), "x=%.17g", x);
  }
  cr_assert_eq(cj_bins_find(&u, 0.4), 6, "the last edge is in the last bin");
  cr_assert_eq(cj_bins_find(&u, NAN), -1);
  cr_assert_neq(cj_bins_uniform(e, 3, 1, 1), CJ_OK);
  cr_assert_neq(cj_bins_check((double[]){ 0, 1, 1 }, 2), CJ_OK);
}

Test(arrhist, histogram2d_and_bincount_match_counting_loops)
{
  double x[6] = { 0, 0.5, 1, 1.5, 2, 3 }, y[6] = { 0, 1, 0, 1, 0, 1 }, ex[3], ey[3], c[4] = { 0 };
  double lab[5] = { 2, 3, 3, 5, 2 }, bc[4] = { 0 };
  int64_t n = 6, m = 5;
  cj_array ax, ay, al;
  cj_bins bx = { 2, ex, 1 }, by = { 2, ey, 1 };
  cj_array_wrap(&ax, x, CJ_F64, 1, &n);
  cj_array_wrap(&ay, y, CJ_F64, 1, &n);
  cj_bins_uniform(ex, 2, 0, 2);
  cj_bins_uniform(ey, 2, 0, 1);
  cr_assert_eq(cj_histogram2d(&ax, &ay, NULL, &bx, &by, c), CJ_OK);
  /* pairs in range: (0,0) (0.5,1) (1,0) (1.5,1) (2,0); x bins [0,1) [1,2] */
  cr_assert(c[0] == 1 && c[1] == 1 && c[2] == 2 && c[3] == 1, "%g %g %g %g", c[0], c[1], c[2], c[3]);
  cj_array_wrap(&al, lab, CJ_F64, 1, &m);
  cr_assert_eq(cj_bincount(&al, NULL, 2, 4, bc), CJ_OK);
  cr_assert(bc[0] == 2 && bc[1] == 2 && bc[2] == 0 && bc[3] == 1);
  cr_assert_eq(cj_bincount(&al, NULL, 3, 4, bc), CJ_ERANGE);
  lab[1] = 2.5;
  cr_assert_eq(cj_bincount(&al, NULL, 2, 4, bc), CJ_EINVAL);
}

Test(spiketrain, binning_puts_grid_spikes_in_their_own_bin)
{
  /* spikes on a 0.1 ms grid, binned at 1 ms: step 10 k belongs to bin k */
  double t[4] = { 10 * 0.0001, 30 * 0.0001, 0.005, 0.004 };
  int64_t off[3] = { 0, 2, 4 };
  cj_trains s = { 2, off, t, 0, 0.01 };
  int64_t shape[2] = { 2, 10 };
  cj_array out;
  cr_assert_neq(cj_trains_check(&s), CJ_OK, "train 2 is not in order");
  t[2] = 0.0099;
  t[3] = 0.0099;
  cr_assert_eq(cj_trains_check(&s), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_trains_nbins(&s, 0.001), 10);
  cr_assert_eq(cj_array_alloc(&out, CJ_U8, 2, shape), CJ_OK);
  cr_assert_eq(cj_trains_bin(&s, 0.001, &out), CJ_OK);
  cr_assert_eq(cj_array_getflat(&out, 1), 1, "t = 10 steps is in bin 1 (0-based)");
  cr_assert_eq(cj_array_getflat(&out, 3), 1, "t = 30 steps is in bin 3");
  cr_assert_eq(cj_array_getflat(&out, 19), 2, "two spikes in the last bin of train 2");
  cj_array_release(&out);
}

Test(spiketrain, span_finds_the_records_of_a_range_of_steps)
{
  /* a monitor's record: steps non-decreasing, several spikes per step */
  int64_t steps[8] = { 0, 0, 3, 5, 5, 5, 9, 12 }, k0, k1;
  cj_spikes_span(steps, 8, 5, 10, &k0, &k1);
  cr_assert(k0 == 3 && k1 == 7, "steps 5..9 are records 3..6: %lld %lld", (long long)k0, (long long)k1);
  cj_spikes_span(steps, 8, 0, 1, &k0, &k1);
  cr_assert(k0 == 0 && k1 == 2, "step 0 is records 0..1");
  cj_spikes_span(steps, 8, 6, 9, &k0, &k1);
  cr_assert(k0 == 6 && k1 == 6, "no record in steps 6..8");
  cj_spikes_span(steps, 8, 13, 20, &k0, &k1);
  cr_assert(k0 == 8 && k1 == 8, "past the end");
  cj_spikes_span(steps, 8, 5, 5, &k0, &k1);
  cr_assert(k0 == k1, "an empty range of steps");
  cj_spikes_span(steps, 0, 0, 10, &k0, &k1);
  cr_assert(k0 == 0 && k1 == 0, "an empty record");
  /* every range against a linear scan */
  for (int64_t a = -1; a < 14; a++)
    for (int64_t b = a; b < 15; b++) {
      int64_t lo = 0, hi;
      while (lo < 8 && steps[lo] < a) lo++;
      hi = lo;
      while (hi < 8 && steps[hi] < b) hi++;
      cj_spikes_span(steps, 8, a, b, &k0, &k1);
      cr_assert(k0 == lo && k1 == hi, "[%lld, %lld)", (long long)a, (long long)b);
    }
}

Test(spiketrain, fromlabels_sorts_spikes_into_trains_stably)
{
  double t[6] = { 0.1, 0.2, 0.2, 0.3, 0.5, 0.7 }, tt[6];
  int32_t id[6] = { 2, 0, 2, 2, 0, 3 };
  int64_t off[5];
  cr_assert_eq(cj_trains_fromlabels(t, id, 6, 4, off, tt), CJ_OK);
  cr_assert(off[0] == 0 && off[1] == 2 && off[2] == 2 && off[3] == 5 && off[4] == 6);
  cr_assert(tt[0] == 0.2 && tt[1] == 0.5, "train 0 in time order");
  cr_assert(tt[2] == 0.1 && tt[3] == 0.2 && tt[4] == 0.3, "train 2 in time order");
  cr_assert(tt[5] == 0.7);
  id[4] = 4;
  cr_assert_eq(cj_trains_fromlabels(t, id, 6, 4, off, tt), CJ_EINVAL, "label 4 of 4 trains");
  id[4] = -1;
  cr_assert_eq(cj_trains_fromlabels(t, id, 6, 4, off, tt), CJ_EINVAL, "negative label");
  cr_assert_eq(cj_trains_fromlabels(t, id, 0, 2, off, tt), CJ_OK);
  cr_assert(off[0] == 0 && off[1] == 0 && off[2] == 0, "no spikes");
}
