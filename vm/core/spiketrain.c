/*
 * spiketrain.c — checks and binning of spike-train sets (see spiketrain.h).
 */
#include "spiketrain.h"

#include <math.h>

#define BINTOL 1e-9

int cj_trains_check(const cj_trains *s)
{
  if (!isfinite(s->t0) || !isfinite(s->t1) || !(s->t0 < s->t1))
    return cj_fail(CJ_EINVAL, "the window must be finite with t_start < t_stop (got %g, %g)", s->t0, s->t1);
  if (s->n < 0) return cj_fail(CJ_EINVAL, "negative number of trains");
  for (int64_t j = 0; j < s->n; j++) {
    if (s->off[j + 1] < s->off[j]) return cj_fail(CJ_EINVAL, "train %lld: bad offsets", (long long)j + 1);
    for (int64_t k = s->off[j]; k < s->off[j + 1]; k++) {
      double t = s->t[k];
      if (!isfinite(t) || t < s->t0 || t > s->t1)
        return cj_fail(CJ_EINVAL, "train %lld: spike time %g outside the window [%g, %g]",
                       (long long)j + 1, t, s->t0, s->t1);
      if (k > s->off[j] && t < s->t[k - 1])
        return cj_fail(CJ_EINVAL, "train %lld: spike times are not in order", (long long)j + 1);
    }
  }
  return CJ_OK;
}

int64_t cj_trains_count(const cj_trains *s)
{
  return s->n > 0 ? s->off[s->n] - s->off[0] : 0;
}

int64_t cj_trains_nbins(const cj_trains *s, double dt)
{
  double x = (s->t1 - s->t0) / dt;
  if (!(dt > 0) || !isfinite(x)) return 0;
  return (int64_t)floor(x + BINTOL);
}

int64_t cj_trains_binof(const cj_trains *s, double dt, double t)
{
  return (int64_t)floor((t - s->t0) / dt + BINTOL);
}

int cj_trains_bin(const cj_trains *s, double dt, cj_array *out)
{
  int64_t nb = cj_trains_nbins(s, dt), idx[2];
  int one = out->ndim == 1;
  if (!(dt > 0)) return cj_fail(CJ_EINVAL, "bin width must be positive (got %g)", dt);
  if (one ? !(s->n == 1 && out->shape[0] == nb)
          : !(out->ndim == 2 && out->shape[0] == s->n && out->shape[1] == nb))
    return cj_fail(CJ_EINVAL, "bin: output must be %lld x %lld", (long long)s->n, (long long)nb);
  cj_array_fill(out, 0);
  for (int64_t j = 0; j < s->n; j++) {
    for (int64_t k = s->off[j]; k < s->off[j + 1]; k++) {
      int64_t b = cj_trains_binof(s, dt, s->t[k]);
      if (b < 0 || b >= nb) continue;
      idx[0] = one ? b : j;
      idx[1] = b;
      cj_array_set(out, idx, cj_array_get(out, idx) + 1);
    }
  }
  return CJ_OK;
}

int cj_trains_popcount(const cj_trains *s, double dt, int64_t nbins, double *counts)
{
  if (!(dt > 0)) return cj_fail(CJ_EINVAL, "bin width must be positive (got %g)", dt);
  for (int64_t b = 0; b < nbins; b++) counts[b] = 0;
  for (int64_t k = s->off[0]; s->n > 0 && k < s->off[s->n]; k++) {
    int64_t b = cj_trains_binof(s, dt, s->t[k]);
    if (b >= 0 && b < nbins) counts[b] += 1;
  }
  return CJ_OK;
}

/* The first k in [lo, hi) with steps[k] >= s (hi when none). */
static int64_t lowerbound(const int64_t *steps, int64_t lo, int64_t hi, int64_t s)
{
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (steps[mid] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void cj_spikes_span(const int64_t *steps, int64_t n, int64_t s0, int64_t s1, int64_t *k0, int64_t *k1)
{
  *k0 = lowerbound(steps, 0, n, s0);
  *k1 = s1 > s0 ? lowerbound(steps, *k0, n, s1) : *k0;
}

int cj_trains_fromlabels(const double *t, const int32_t *id, int64_t n, int64_t ntr,
                         int64_t *off, double *tt)
{
  for (int64_t j = 0; j <= ntr; j++) off[j] = 0;
  for (int64_t k = 0; k < n; k++) {
    if (id[k] < 0 || id[k] >= ntr)
      return cj_fail(CJ_EINVAL, "spike %lld: train %ld outside 0..%lld", (long long)k + 1, (long)id[k],
                     (long long)ntr - 1);
    off[id[k] + 1]++;
  }
  for (int64_t j = 0; j < ntr; j++) off[j + 1] += off[j];
  for (int64_t k = 0; k < n; k++) tt[off[id[k]]++] = t[k];     /* off[j] ends at the start of j + 1 */
  for (int64_t j = ntr; j > 0; j--) off[j] = off[j - 1];
  off[0] = 0;
  return CJ_OK;
}
