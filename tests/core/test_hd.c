/*
 * test_hd.c — hyperdimensional vectors (vm/core/hd.c) against independent
 * element-by-element re-computations: XOR, products, circular convolution
 * and correlation by their defining sums, majority by counting bits,
 * shifts and permutations bit by bit, Hamming distance and cosine by
 * loops, n-grams and sequences composed from shifts and binds; random
 * vectors' statistics; levels and fractional powers against their closed
 * forms; clean-up; errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hd.h"

static const cj_hd_model models[] = { CJ_HD_BSC, CJ_HD_MAP, CJ_HD_HRR, CJ_HD_FHRR };
#define NMODELS 4

static cj_hd make(cj_hd_model m, int64_t n, int64_t d)
{
  cj_hd x = { m, n, d, calloc((size_t)(n ? n : 1), cj_hd_rowbytes(m, d)) };
  return x;
}

static cj_hd randhd(cj_hd_model m, int64_t n, int64_t d, uint64_t seed)
{
  cj_rng r;
  cj_hd x = make(m, n, d);
  cj_rng_init(&r, seed, 0);
  cr_assert_eq(cj_hd_random(&r, &x, 0), CJ_OK, "%s", cj_errmsg());
  return x;
}

static int getbit(const cj_hd *x, int64_t i, int64_t j)
{
  const uint64_t *w = cj_hd_row(x, i);
  return (int)((w[j >> 6] >> (j & 63)) & 1);
}

/* Element j of row i as a real number (bsc: +1 for a 1 bit, -1 for 0),
 * or its real and imaginary parts (fhrr). */
static void elem(const cj_hd *x, int64_t i, int64_t j, double *re, double *im)
{
  const double *v = cj_hd_row(x, i);
  *im = 0;
  switch (x->model) {
  case CJ_HD_BSC: *re = getbit(x, i, j) ? 1 : -1; break;
  case CJ_HD_FHRR: *re = v[2 * j]; *im = v[2 * j + 1]; break;
  default: *re = v[j];
  }
}

static void fill_rows_equal(const cj_hd *a, int64_t ia, const cj_hd *b, int64_t ib, double tol, const char *what)
{
  for (int64_t j = 0; j < a->d; j++) {
    double ar, ai, br, bi;
    elem(a, ia, j, &ar, &ai);
    elem(b, ib, j, &br, &bi);
    cr_assert(fabs(ar - br) <= tol && fabs(ai - bi) <= tol, "%s (%s d=%lld) element %lld: %g%+gi vs %g%+gi",
              what, cj_hd_model_name(a->model), (long long)a->d, (long long)j, ar, ai, br, bi);
  }
}

Test(hd, model_names_parse_and_unknown_names_fail)
{
  cj_hd_model m;
  for (int i = 0; i < NMODELS; i++) {
    cr_assert_eq(cj_hd_model_parse(cj_hd_model_name(models[i]), &m), CJ_OK);
    cr_assert_eq(m, models[i]);
  }
  cr_assert_eq(cj_hd_model_parse("binary", &m), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "bsc, map, hrr or fhrr"), "%s", cj_errmsg());
}

Test(hd, random_vectors_have_their_models_statistics_and_repeat_with_the_seed)
{
  int64_t d = 10000;
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], 3, d, 7), y = randhd(models[mi], 3, d, 7);
    cr_assert(memcmp(x.data, y.data, 3 * cj_hd_rowbytes(x.model, d)) == 0, "same seed, same vectors");
    for (int64_t i = 0; i < 3; i++) {
      double s = 0, s2 = 0;
      for (int64_t j = 0; j < d; j++) {
        double re, im;
        elem(&x, i, j, &re, &im);
        s += re;
        s2 += re * re + im * im;
        if (x.model == CJ_HD_MAP || x.model == CJ_HD_BSC) cr_assert(re == 1 || re == -1);
        if (x.model == CJ_HD_FHRR) cr_assert(fabs(re * re + im * im - 1) < 1e-12, "modulus 1");
      }
      /* the mean of d independent unit-variance elements: |mean| < 5 / sqrt(d) */
      if (x.model != CJ_HD_HRR) cr_assert(fabs(s / d) < 5 / sqrt(d), "%s mean %g", cj_hd_model_name(x.model), s / d);
      /* hrr: elements N(0, 1/d), so the squared norm is 1 +- 5 sqrt(2/d) */
      if (x.model == CJ_HD_HRR) cr_assert(fabs(s2 - 1) < 5 * sqrt(2.0 / d), "hrr norm^2 %g", s2);
    }
    free(x.data);
    free(y.data);
  }
}

Test(hd, bsc_bits_past_the_dimension_stay_zero)
{
  int64_t ds[] = { 1, 63, 65, 130 };
  for (int k = 0; k < 4; k++) {
    cj_hd x = randhd(CJ_HD_BSC, 5, ds[k], 3), y = make(CJ_HD_BSC, 5, ds[k]), z = make(CJ_HD_BSC, 1, ds[k]);
    cj_rng r;
    cj_rng_init(&r, 1, 0);
    cj_hd_shift(&y, &x, 17);
    cj_hd_bundle(&z, &x, NULL, &r);
    for (int64_t i = 0; i < 5; i++) {
      const uint64_t *a = cj_hd_row(&x, i), *b = cj_hd_row(&y, i);
      int64_t last = cj_hd_words(ds[k]) - 1;
      int r0 = (int)(ds[k] & 63);
      if (r0) {
        cr_assert_eq(a[last] >> r0, 0);
        cr_assert_eq(b[last] >> r0, 0);
        cr_assert_eq(((uint64_t *)z.data)[last] >> r0, 0);
      }
    }
    free(x.data); free(y.data); free(z.data);
  }
}

Test(hd, unitary_hrr_vectors_have_unit_fourier_modulus)
{
  int64_t d = 30;
  cj_rng r;
  cj_hd x = make(CJ_HD_HRR, 2, d);
  cj_rng_init(&r, 5, 0);
  cr_assert_eq(cj_hd_random(&r, &x, 1), CJ_OK);
  for (int64_t i = 0; i < 2; i++) {
    const double *v = cj_hd_row(&x, i);
    for (int64_t k = 0; k < d; k++) {
      double re = 0, im = 0;
      for (int64_t j = 0; j < d; j++) {
        re += v[j] * cos(2 * M_PI * (double)(j * k) / d);
        im -= v[j] * sin(2 * M_PI * (double)(j * k) / d);
      }
      cr_assert(fabs(hypot(re, im) - 1) < 1e-12, "|X[%lld]| = %g", (long long)k, hypot(re, im));
      if (k == 0 || 2 * k == d) cr_assert(fabs(re - 1) < 1e-12, "X[0] and X[d/2] are +1");
    }
  }
  free(x.data);
}

/* Reference bind of row pair (a_i, b_i) into element j. */
static void refbind(const cj_hd *a, int64_t ia, const cj_hd *b, int64_t ib, int unbind, int64_t j,
                    double *re, double *im)
{
  int64_t d = a->d;
  double ar, ai, br, bi;
  if (a->model == CJ_HD_HRR) {
    long double s = 0;
    for (int64_t k = 0; k < d; k++) {
      /* bind: sum_k a[k] b[j-k]; unbind (correlation with b): sum_k b[k] a[j+k] */
      elem(a, ia, unbind ? (j + k) % d : k, &ar, &ai);
      elem(b, ib, unbind ? k : ((j - k) % d + d) % d, &br, &bi);
      s += (long double)ar * br;
    }
    *re = (double)s;
    *im = 0;
    return;
  }
  elem(a, ia, j, &ar, &ai);
  elem(b, ib, j, &br, &bi);
  if (unbind) bi = -bi;
  *re = ar * br - ai * bi;
  *im = ar * bi + ai * br;
}

Test(hd, bind_and_unbind_match_their_definitions_with_broadcasting)
{
  int64_t ds[] = { 1, 7, 8, 64, 100 };
  for (int mi = 0; mi < NMODELS; mi++)
    for (int k = 0; k < 5; k++)
      for (int unbind = 0; unbind <= 1; unbind++) {
        int64_t d = ds[k];
        cj_hd a = randhd(models[mi], 3, d, 11), b = randhd(models[mi], 1, d, 12), o = make(models[mi], 3, d);
        cr_assert_eq(cj_hd_bind(&o, &a, &b, unbind), CJ_OK, "%s", cj_errmsg());
        for (int64_t i = 0; i < 3; i++)
          for (int64_t j = 0; j < d; j++) {
            double re, im, er, ei;
            refbind(&a, i, &b, 0, unbind, j, &er, &ei);
            elem(&o, i, j, &re, &im);
            if (a.model == CJ_HD_BSC) er = er > 0 ? -1 : 1;   /* XOR: equal bits give 0 */
            cr_assert(fabs(re - er) < 1e-12 && fabs(im - ei) < 1e-12, "%s d=%lld unbind=%d [%lld,%lld]: %g vs %g",
                      cj_hd_model_name(a.model), (long long)d, unbind, (long long)i, (long long)j, re, er);
          }
        free(a.data); free(b.data); free(o.data);
      }
}

Test(hd, unbinding_recovers_the_bound_vector)
{
  int64_t d = 10000;
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd a = randhd(models[mi], 1, d, 1), b = randhd(models[mi], 1, d, 2);
    cj_hd c = make(models[mi], 1, d), back = make(models[mi], 1, d);
    double s;
    cj_hd_bind(&c, &a, &b, 0);
    cj_hd_bind(&back, &c, &b, 1);
    cj_hd_similarity(&s, &back, &a);
    /* exact for bsc, map and fhrr; hrr's involution is approximate: cosine
     * near 1/sqrt(2) for Gaussian vectors (the result is a plus noise of
     * equal power) */
    if (a.model == CJ_HD_HRR) cr_assert(s > 0.6 && s < 0.8, "hrr %g", s);
    else cr_assert(fabs(s - 1) < 1e-12, "%s %g", cj_hd_model_name(a.model), s);
    free(a.data); free(b.data); free(c.data); free(back.data);
  }
}

/* Majority of the bits of row set x at position j, with the tie bit t. */
static int refmajority(const cj_hd *x, const double *w, int64_t j, int tie)
{
  double s = 0;
  for (int64_t i = 0; i < x->n; i++) s += (w ? w[i] : 1) * (getbit(x, i, j) ? 1 : -1);
  return s > 0 || (s == 0 && tie);
}

Test(hd, bsc_majority_matches_counting_bits_with_the_drawn_tie_bits)
{
  int64_t ns[] = { 1, 2, 3, 4, 7, 64, 100, 129 };
  int64_t d = 200;
  for (int k = 0; k < 8; k++)
    for (int weighted = 0; weighted <= 1; weighted++) {
      int64_t n = ns[k];
      cj_hd x = randhd(CJ_HD_BSC, n, d, 20 + k), o = make(CJ_HD_BSC, 1, d);
      double *w = malloc(sizeof(double) * n);
      cj_rng r, r2;
      for (int64_t i = 0; i < n; i++) w[i] = (double)(i % 3) - 0.5;
      cj_rng_init(&r, 9, 0);
      r2 = r;
      cr_assert_eq(cj_hd_bundle(&o, &x, weighted ? w : NULL, &r), CJ_OK);
      for (int64_t wd = 0; wd < cj_hd_words(d); wd++) {
        uint64_t t = 0;
        if (weighted || n % 2 == 0) {
          t = cj_rng_u32(&r2);
          t |= (uint64_t)cj_rng_u32(&r2) << 32;
        }
        for (int64_t j = 64 * wd; j < d && j < 64 * wd + 64; j++)
          cr_assert_eq(getbit(&o, 0, j), refmajority(&x, weighted ? w : NULL, j, (int)((t >> (j & 63)) & 1)),
                       "n=%lld weighted=%d bit %lld", (long long)n, weighted, (long long)j);
      }
      cr_assert_eq(r.counter, r2.counter, "draws as documented");
      cr_assert_eq(r.used, r2.used, "draws as documented");
      free(x.data); free(o.data); free(w);
    }
}

Test(hd, real_bundles_are_weighted_sums)
{
  int64_t d = 50, n = 6;
  double w[6] = { 1, -2, 0.5, 3, 0, 1 };
  for (int mi = 1; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], n, d, 4), o = make(models[mi], 1, d);
    cr_assert_eq(cj_hd_bundle(&o, &x, w, NULL), CJ_OK);
    for (int64_t j = 0; j < d; j++) {
      double re, im, er = 0, ei = 0, xr, xi;
      for (int64_t i = 0; i < n; i++) {
        elem(&x, i, j, &xr, &xi);
        er += w[i] * xr;
        ei += w[i] * xi;
      }
      elem(&o, 0, j, &re, &im);
      cr_assert(fabs(re - er) < 1e-12 && fabs(im - ei) < 1e-12);
    }
    free(x.data); free(o.data);
  }
}

Test(hd, shifts_move_every_element_cyclically)
{
  int64_t ds[] = { 1, 5, 63, 64, 65, 130, 1000 }, ks[] = { 0, 1, -1, 3, 64, 65, 999, -1001, 12345 };
  for (int mi = 0; mi < NMODELS; mi++)
    for (int a = 0; a < 7; a++)
      for (int b = 0; b < 9; b++) {
        int64_t d = ds[a], k = ks[b];
        cj_hd x = randhd(models[mi], 2, d, 8), o = make(models[mi], 2, d);
        cr_assert_eq(cj_hd_shift(&o, &x, k), CJ_OK);
        for (int64_t i = 0; i < 2; i++)
          for (int64_t j = 0; j < d; j++) {
            double re, im, er, ei;
            elem(&o, i, j, &re, &im);
            elem(&x, i, (((j - k) % d) + d) % d, &er, &ei);
            cr_assert(re == er && im == ei, "%s d=%lld k=%lld element %lld",
                      cj_hd_model_name(x.model), (long long)d, (long long)k, (long long)j);
          }
        free(x.data); free(o.data);
      }
}

Test(hd, arbitrary_permutations_and_their_inverses)
{
  int64_t d = 130;
  int64_t *perm = malloc(sizeof(int64_t) * d);
  for (int64_t j = 0; j < d; j++) perm[j] = (j * 37 + 11) % d;   /* 37 is prime to 130 */
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], 2, d, 8), o = make(models[mi], 2, d), back = make(models[mi], 2, d);
    cr_assert_eq(cj_hd_permute(&o, &x, perm, 0), CJ_OK, "%s", cj_errmsg());
    cr_assert_eq(cj_hd_permute(&back, &o, perm, 1), CJ_OK);
    for (int64_t i = 0; i < 2; i++) {
      for (int64_t j = 0; j < d; j++) {
        double re, im, er, ei;
        elem(&o, i, j, &re, &im);
        elem(&x, i, perm[j], &er, &ei);
        cr_assert(re == er && im == ei);
      }
      fill_rows_equal(&back, i, &x, i, 0, "inverse permutation");
    }
    free(x.data); free(o.data); free(back.data);
  }
  perm[5] = perm[6];
  {
    cj_hd x = randhd(CJ_HD_MAP, 1, d, 1), o = make(CJ_HD_MAP, 1, d);
    cr_assert_eq(cj_hd_permute(&o, &x, perm, 0), CJ_EINVAL);
    cr_assert(strstr(cj_errmsg(), "appears twice"), "%s", cj_errmsg());
    perm[5] = d;
    cr_assert_eq(cj_hd_permute(&o, &x, perm, 0), CJ_EINVAL);
    cr_assert(strstr(cj_errmsg(), "out of range"), "%s", cj_errmsg());
    free(x.data); free(o.data);
  }
  free(perm);
}

Test(hd, similarity_matches_hamming_and_cosine_loops)
{
  int64_t ds[] = { 1, 64, 100, 257 };
  for (int mi = 0; mi < NMODELS; mi++)
    for (int k = 0; k < 4; k++) {
      int64_t d = ds[k];
      cj_hd a = randhd(models[mi], 3, d, 30), b = randhd(models[mi], 4, d, 31);
      double sim[12];
      if (models[mi] != CJ_HD_BSC) memset(cj_hd_row(&b, 2), 0, cj_hd_rowbytes(b.model, d));  /* a zero vector */
      cr_assert_eq(cj_hd_similarity(sim, &a, &b), CJ_OK, "%s", cj_errmsg());
      for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++) {
          double dot = 0, na = 0, nb = 0, ref;
          for (int64_t e = 0; e < d; e++) {
            double ar, ai, br, bi;
            elem(&a, i, e, &ar, &ai);
            elem(&b, j, e, &br, &bi);
            dot += ar * br + ai * bi;
            na += ar * ar + ai * ai;
            nb += br * br + bi * bi;
          }
          ref = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
          cr_assert(fabs(sim[i * 4 + j] - ref) < 1e-12, "%s d=%lld: %g vs %g", cj_hd_model_name(a.model),
                    (long long)d, sim[i * 4 + j], ref);
        }
      free(a.data); free(b.data);
    }
}

Test(hd, normalise_maps_back_to_the_model)
{
  int64_t d = 64;
  cj_rng r;
  cj_rng_init(&r, 2, 0);
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], 4, d, 5), s = make(models[mi], 1, d), o = make(models[mi], 1, d);
    cj_hd_bundle(&s, &x, NULL, &r);
    cr_assert_eq(cj_hd_normalise(&o, &s, &r), CJ_OK);
    if (x.model == CJ_HD_BSC) fill_rows_equal(&o, 0, &s, 0, 0, "bsc unchanged");
    for (int64_t j = 0; j < d; j++) {
      double re, im, sr, si;
      elem(&o, 0, j, &re, &im);
      elem(&s, 0, j, &sr, &si);
      if (x.model == CJ_HD_MAP) cr_assert(re == (sr > 0 ? 1 : sr < 0 ? -1 : re) && fabs(re) == 1);
      if (x.model == CJ_HD_FHRR) cr_assert(fabs(hypot(re, im) - 1) < 1e-12);
      if (x.model == CJ_HD_FHRR && hypot(sr, si) > 0) cr_assert(fabs(atan2(im, re) - atan2(si, sr)) < 1e-12);
    }
    if (x.model == CJ_HD_HRR) {
      double n2 = 0;
      for (int64_t j = 0; j < d; j++) n2 += ((double *)o.data)[j] * ((double *)o.data)[j];
      cr_assert(fabs(n2 - 1) < 1e-12);
    }
    free(x.data); free(s.data); free(o.data);
  }
}

Test(hd, ngram_is_the_binding_of_shifted_vectors)
{
  int64_t d = 100;
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], 3, d, 40), o = make(models[mi], 1, d);
    cj_hd s0 = make(models[mi], 1, d), s1 = make(models[mi], 1, d), t = make(models[mi], 1, d), ref = make(models[mi], 1, d);
    cj_hd r0 = { x.model, 1, d, cj_hd_row(&x, 0) }, r1 = { x.model, 1, d, cj_hd_row(&x, 1) },
          r2 = { x.model, 1, d, cj_hd_row(&x, 2) };
    cr_assert_eq(cj_hd_ngram(&o, &x), CJ_OK, "%s", cj_errmsg());
    cj_hd_shift(&s0, &r0, 2);
    cj_hd_shift(&s1, &r1, 1);
    cj_hd_bind(&t, &s0, &s1, 0);
    cj_hd_bind(&ref, &t, &r2, 0);
    fill_rows_equal(&o, 0, &ref, 0, 1e-12, "ngram");
    free(x.data); free(o.data); free(s0.data); free(s1.data); free(t.data); free(ref.data);
  }
}

Test(hd, ngrams_of_a_sequence_sum_its_windows)
{
  int64_t d = 64, seq[] = { 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 3, 3 }, len = 13;
  for (int mi = 0; mi < NMODELS; mi++)
    for (int n = 1; n <= 4; n++) {
      cj_hd cb = randhd(models[mi], 4, d, 50), o = make(models[mi], 1, d);
      cj_hd win = make(models[mi], n, d), g = make(models[mi], len, d), ref = make(models[mi], 1, d);
      cj_rng r, r2;
      cj_rng_init(&r, 3, 0);
      r2 = r;
      cr_assert_eq(cj_hd_ngrams(&o, &cb, seq, len, n, &r), CJ_OK, "%s", cj_errmsg());
      g.n = len - n + 1;
      for (int64_t p = 0; p + n <= len; p++) {
        cj_hd gp = { g.model, 1, d, cj_hd_row(&g, p) };
        for (int j = 0; j < n; j++) memcpy(cj_hd_row(&win, j), cj_hd_row(&cb, seq[p + j]), cj_hd_rowbytes(cb.model, d));
        cj_hd_ngram(&gp, &win);
      }
      if (cb.model == CJ_HD_BSC) {
        /* majority of the windows: counts tie where the weighted sum is 0,
         * broken by the same draws (one u32 pair per word) */
        double *w = malloc(sizeof(double) * g.n);
        for (int64_t i = 0; i < g.n; i++) w[i] = 1;
        cj_hd_bundle(&ref, &g, w, &r2);
        free(w);
      } else {
        cj_hd_bundle(&ref, &g, NULL, &r2);
      }
      fill_rows_equal(&o, 0, &ref, 0, 1e-12, "ngrams");
      free(cb.data); free(o.data); free(win.data); free(g.data); free(ref.data);
    }
}

Test(hd, sequence_bundles_shifted_positions)
{
  int64_t d = 70, n = 5;
  for (int mi = 1; mi < NMODELS; mi++) {
    cj_hd x = randhd(models[mi], n, d, 60), o = make(models[mi], 1, d);
    cr_assert_eq(cj_hd_sequence(&o, &x, NULL), CJ_OK);
    for (int64_t j = 0; j < d; j++) {
      double re, im, er = 0, ei = 0, xr, xi;
      for (int64_t i = 0; i < n; i++) {
        elem(&x, i, ((j - i) % d + d) % d, &xr, &xi);
        er += xr;
        ei += xi;
      }
      elem(&o, 0, j, &re, &im);
      cr_assert(fabs(re - er) < 1e-12 && fabs(im - ei) < 1e-12);
    }
    free(x.data); free(o.data);
  }
}

Test(hd, levels_fall_linearly_in_similarity)
{
  int64_t d = 10000, n = 11;
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd lv = make(models[mi], n, d);
    double sim[121];
    cj_rng r;
    cj_rng_init(&r, 70, 0);
    cr_assert_eq(cj_hd_levels(&r, &lv), CJ_OK);
    cj_hd_similarity(sim, &lv, &lv);
    /* expected 1 - |j - k| / (n - 1); the fluctuation of the fraction of
     * changed elements and of the random pair are each below 4 / sqrt(d) */
    for (int64_t j = 0; j < n; j++)
      for (int64_t k = 0; k < n; k++)
        cr_assert(fabs(sim[j * n + k] - (1 - fabs((double)(j - k)) / (n - 1))) < 0.04, "%s levels %lld %lld: %g",
                  cj_hd_model_name(lv.model), (long long)j, (long long)k, sim[j * n + k]);
    free(lv.data);
  }
}

Test(hd, fractional_powers_compose_and_have_the_sinc_kernel)
{
  int64_t d = 10000;
  for (int mi = 2; mi < NMODELS; mi++) {
    cj_rng r;
    cj_hd z = make(models[mi], 1, d), p = make(models[mi], 4, d), zz = make(models[mi], 1, d);
    double x[4] = { 0, 1, 2, 0.5 }, sim[16];
    cj_rng_init(&r, 80, 0);
    cj_hd_random(&r, &z, 1);
    cr_assert_eq(cj_hd_fpe(&p, &z, x), CJ_OK, "%s", cj_errmsg());
    {
      cj_hd p1 = { z.model, 1, d, cj_hd_row(&p, 1) }, p2 = { z.model, 1, d, cj_hd_row(&p, 2) };
      fill_rows_equal(&p1, 0, &z, 0, 1e-12, "z^1 = z");
      cj_hd_bind(&zz, &z, &z, 0);
      fill_rows_equal(&p2, 0, &zz, 0, 1e-12, "z^2 = z bound with z");
    }
    cj_hd_similarity(sim, &p, &p);
    /* phases uniform on (-pi, pi]: E cos(theta dx) = sin(pi dx) / (pi dx);
     * the sample mean of d terms lies within 4 / sqrt(d) */
    for (int a = 0; a < 4; a++)
      for (int b = 0; b < 4; b++) {
        double dx = x[a] - x[b], k = dx == 0 ? 1 : sin(M_PI * dx) / (M_PI * dx);
        cr_assert(fabs(sim[a * 4 + b] - k) < 4 / sqrt((double)d), "%s x=%g,%g: %g vs %g",
                  cj_hd_model_name(z.model), x[a], x[b], sim[a * 4 + b], k);
      }
    free(z.data); free(p.data); free(zz.data);
  }
  {
    cj_hd z = randhd(CJ_HD_MAP, 1, 10, 1), p = make(CJ_HD_MAP, 1, 10);
    double x = 1;
    cr_assert_eq(cj_hd_fpe(&p, &z, &x), CJ_EINVAL);
    cr_assert(strstr(cj_errmsg(), "hrr or fhrr"), "%s", cj_errmsg());
    free(z.data); free(p.data);
  }
}

Test(hd, nearest_finds_the_stored_vector_under_noise)
{
  int64_t d = 10000, k = 50;
  for (int mi = 0; mi < NMODELS; mi++) {
    cj_hd mem = randhd(models[mi], k, d, 90), noise = randhd(models[mi], k, d, 91), q = make(models[mi], k, d);
    cj_hd two = make(models[mi], 2, d), one = make(models[mi], 1, d);
    int64_t idx[50];
    double sim[50];
    cj_rng r;
    cj_rng_init(&r, 1, 0);
    for (int64_t i = 0; i < k; i++) {   /* query i: bundle of stored i, noise i and stored (i+1) % k, ties random */
      memcpy(cj_hd_row(&two, 0), cj_hd_row(&mem, i), cj_hd_rowbytes(mem.model, d));
      memcpy(cj_hd_row(&two, 1), cj_hd_row(&noise, i), cj_hd_rowbytes(mem.model, d));
      {
        double w[2] = { 1.0, 0.8 };
        cj_hd_bundle(&one, &two, w, &r);
      }
      memcpy(cj_hd_row(&q, i), one.data, cj_hd_rowbytes(mem.model, d));
    }
    cr_assert_eq(cj_hd_nearest(&mem, &q, idx, sim), CJ_OK);
    for (int64_t i = 0; i < k; i++) {
      cr_assert_eq(idx[i], i, "%s query %lld -> %lld", cj_hd_model_name(mem.model), (long long)i, (long long)idx[i]);
      cr_assert(sim[i] > 0.3);
    }
    free(mem.data); free(noise.data); free(q.data); free(two.data); free(one.data);
  }
}

/* A noisy copy of row i of mem: normalise(mem_i + 0.6 n1 + 0.6 n2), about a
 * quarter of the elements flipped for bsc and map. */
static cj_hd noisy(const cj_hd *mem, int64_t i, cj_rng *r)
{
  cj_hd three = randhd(mem->model, 3, mem->d, 101), q = make(mem->model, 1, mem->d);
  double w[3] = { 1.0, 0.6, 0.6 };
  memcpy(cj_hd_row(&three, 0), cj_hd_row(mem, i), cj_hd_rowbytes(mem->model, mem->d));
  cj_hd_bundle(&q, &three, w, r);
  cj_hd_normalise(&q, &q, r);
  free(three.data);
  return q;
}

Test(hd, recall_settles_on_the_stored_pattern)
{
  int64_t d = 2000, k = 20;
  for (int mi = 0; mi < NMODELS; mi++)
    for (int dense = 0; dense <= 1; dense++) {
      cj_hd mem = randhd(models[mi], k, d, 100), out = make(models[mi], 1, d), q;
      cj_hd want = { mem.model, 1, d, cj_hd_row(&mem, 3) };
      double s, beta = dense ? 50 : 0;
      cj_rng r;
      int iters;
      cj_rng_init(&r, 2, 0);
      q = noisy(&mem, 3, &r);
      cj_hd_similarity(&s, &q, &want);
      cr_assert(s < 0.8, "the query is noisy (%g)", s);
      if (mem.model == CJ_HD_HRR && !dense) {
        cr_assert_eq(cj_hd_recall(&out, &mem, &q, 0, 10, &r, &iters), CJ_EINVAL);
        cr_assert(strstr(cj_errmsg(), "beta > 0"), "%s", cj_errmsg());
      } else {
        cr_assert_eq(cj_hd_recall(&out, &mem, &q, beta, 20, &r, &iters), CJ_OK, "%s", cj_errmsg());
        cj_hd_similarity(&s, &out, &want);
        /* the sign (bsc, map) and the softmax remove the crosstalk of the
         * other patterns; the linear phasor rule leaves a phase error of
         * about sqrt(k - 1) / sqrt(2 d) radians per element */
        if (mem.model == CJ_HD_FHRR && !dense) cr_assert(s > 0.98, "fhrr phasor recall %g", s);
        else {
          cr_assert(s > 1 - 1e-9, "%s beta=%g recall similarity %g after %d steps", cj_hd_model_name(mem.model), beta, s, iters);
          cr_assert(iters < 20, "converged (%d steps)", iters);
        }
      }
      free(mem.data); free(q.data); free(out.data);
    }
}

Test(hd, mismatched_inputs_are_errors)
{
  cj_hd a = randhd(CJ_HD_MAP, 2, 100, 1), b = randhd(CJ_HD_BSC, 2, 100, 1), c = randhd(CJ_HD_MAP, 3, 100, 1);
  cj_hd e = randhd(CJ_HD_MAP, 2, 50, 1), o = make(CJ_HD_MAP, 2, 100);
  cj_hd z = { CJ_HD_MAP, 0, 100, NULL }, one = make(CJ_HD_MAP, 1, 100);
  cr_assert_eq(cj_hd_bind(&o, &a, &b, 0), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "vectors of one model expected, got map and bsc"), "%s", cj_errmsg());
  cr_assert_eq(cj_hd_bind(&o, &a, &e, 0), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "one dimension expected, got 100 and 50"), "%s", cj_errmsg());
  cr_assert_eq(cj_hd_bind(&o, &a, &c, 0), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "do not match"), "%s", cj_errmsg());
  cr_assert_eq(cj_hd_bundle(&one, &z, NULL, NULL), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "no vectors"), "%s", cj_errmsg());
  cr_assert_eq(cj_hd_checksize(CJ_HD_MAP, 1, 0), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "dimension must be at least 1"), "%s", cj_errmsg());
  free(a.data); free(b.data); free(c.data); free(e.data); free(o.data); free(one.data);
}
