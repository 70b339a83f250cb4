/*
 * coding.c — spike statistics, encoding and decoding models (see coding.h).
 *
 * Dense algebra (the GLM's Newton steps, the spike-triggered covariance,
 * linear reconstruction) goes through the raw BLAS calls of array.h on
 * row-major design matrices; small systems are solved here by Cholesky
 * and Jacobi. Spectra go through fft.h. Loops over spikes touch each spike
 * a constant number of times.
 */
#include "coding.h"

#include <math.h>
#include <string.h>

#include "arrsort.h"
#include "fft.h"

/* ---- spike statistics ------------------------------------------------------------------- */

int cj_coding_rates(const cj_trains *s, double *rates)
{
  double T = s->t1 - s->t0;
  for (int64_t j = 0; j < s->n; j++) rates[j] = (double)(s->off[j + 1] - s->off[j]) / T;
  return CJ_OK;
}

int cj_coding_isi(const cj_trains *s, double *isi, int64_t *owner, int64_t *n)
{
  int64_t k = 0;
  for (int64_t j = 0; j < s->n; j++)
    for (int64_t i = s->off[j] + 1; i < s->off[j + 1]; i++) {
      isi[k] = s->t[i] - s->t[i - 1];
      if (owner) owner[k] = j;
      k++;
    }
  *n = k;
  return CJ_OK;
}

int cj_coding_cv(const cj_trains *s, double *cv)
{
  for (int64_t j = 0; j < s->n; j++) {
    int64_t m = s->off[j + 1] - s->off[j] - 1;
    double mean = 0, var = 0;
    if (m < 2) { cv[j] = NAN; continue; }
    for (int64_t i = s->off[j] + 1; i < s->off[j + 1]; i++) mean += s->t[i] - s->t[i - 1];
    mean /= (double)m;
    for (int64_t i = s->off[j] + 1; i < s->off[j + 1]; i++) {
      double d = s->t[i] - s->t[i - 1] - mean;
      var += d * d;
    }
    cv[j] = mean > 0 ? sqrt(var / (double)m) / mean : NAN;
  }
  return CJ_OK;
}

int cj_coding_fano(const cj_trains *s, double w, double *fano)
{
  int64_t nw = cj_trains_nbins(s, w);
  double *c;
  if (!(w > 0)) return cj_fail(CJ_EINVAL, "fano: window must be positive (got %g)", w);
  if (nw < 2) {
    for (int64_t j = 0; j < s->n; j++) fano[j] = NAN;
    return CJ_OK;
  }
  if (!(c = cj_malloc(sizeof(double) * (size_t)nw))) return cj_fail(CJ_ENOMEM, "fano: out of memory");
  for (int64_t j = 0; j < s->n; j++) {
    cj_trains one = { 1, s->off + j, s->t, s->t0, s->t1 };
    double mean = 0, var = 0;
    cj_trains_popcount(&one, w, nw, c);
    for (int64_t b = 0; b < nw; b++) mean += c[b];
    mean /= (double)nw;
    for (int64_t b = 0; b < nw; b++) var += (c[b] - mean) * (c[b] - mean);
    fano[j] = mean > 0 ? var / (double)nw / mean : NAN;
  }
  cj_free(c);
  return CJ_OK;
}

int cj_coding_psth(const cj_trains *s, double dt, double *rate)
{
  int64_t nb = cj_trains_nbins(s, dt);
  int st;
  if (s->n < 1) return cj_fail(CJ_EINVAL, "psth: no trains");
  if ((st = cj_trains_popcount(s, dt, nb, rate))) return st;
  for (int64_t b = 0; b < nb; b++) rate[b] /= (double)s->n * dt;
  return CJ_OK;
}

/* Lags y - x of spikes of train ta (of a) and tb (of b) into counts. */
static void ccg(const double *x, int64_t nx, const double *y, int64_t ny, double bin, double window,
                int self, double *counts, int64_t nb)
{
  int64_t lo = 0;
  for (int64_t i = 0; i < nx; i++) {
    while (lo < ny && y[lo] < x[i] - window) lo++;
    for (int64_t j = lo; j < ny && y[j] <= x[i] + window; j++) {
      int64_t k;
      if (self && j == i) continue;
      k = (int64_t)floor((y[j] - x[i] + window) / bin);
      if (k == nb && y[j] - x[i] <= window) k = nb - 1;   /* the right edge */
      if (k >= 0 && k < nb) counts[k] += 1;
    }
  }
}

int cj_coding_correlogram(const cj_trains *a, const cj_trains *b, double bin, double window, int pairs,
                          double *counts, int64_t nb)
{
  if (!(bin > 0) || !(window > 0)) return cj_fail(CJ_EINVAL, "correlogram: bin and window must be positive");
  if (pairs != 0 && a->n != b->n)
    return cj_fail(CJ_EINVAL, "correlogram: matched pairs need as many trains in both sets (%lld and %lld)",
                   (long long)a->n, (long long)b->n);
  for (int64_t k = 0; k < nb; k++) counts[k] = 0;
  for (int64_t i = 0; i < a->n; i++)
    for (int64_t j = pairs ? i : 0; j < (pairs ? i + 1 : b->n); j++)
      ccg(a->t + a->off[i], a->off[i + 1] - a->off[i], b->t + b->off[j], b->off[j + 1] - b->off[j], bin, window,
          pairs == 2, counts, nb);
  return CJ_OK;
}

int cj_coding_welch(const double *x, int64_t n, double fs, int64_t nseg, int64_t nover, double *psd)
{
  int64_t step = nseg - nover, nsegs, nf = nseg / 2 + 1;
  double *buf, *spec, *win, wsum = 0;
  int st;
  if (nseg < 1 || nseg > n) return cj_fail(CJ_EINVAL, "spectrum: segment length %lld must be 1 .. %lld", (long long)nseg, (long long)n);
  if (nover < 0 || nover >= nseg) return cj_fail(CJ_EINVAL, "spectrum: overlap must be 0 .. segment length - 1");
  nsegs = (n - nseg) / step + 1;
  buf = cj_malloc(sizeof(double) * (size_t)(nsegs * nseg + nseg));
  spec = cj_malloc(sizeof(double) * (size_t)(2 * nsegs * nf));
  if (!buf || !spec) {
    cj_free(buf);
    cj_free(spec);
    return cj_fail(CJ_ENOMEM, "spectrum: out of memory");
  }
  win = buf + nsegs * nseg;
  for (int64_t k = 0; k < nseg; k++) {
    win[k] = 0.5 - 0.5 * cos(2 * M_PI * (double)k / (double)nseg);   /* periodic Hann, as scipy */
    wsum += win[k] * win[k];
  }
  for (int64_t sgi = 0; sgi < nsegs; sgi++) {
    const double *seg = x + sgi * step;
    double mean = 0, *o = buf + sgi * nseg;
    for (int64_t k = 0; k < nseg; k++) mean += seg[k];
    mean /= (double)nseg;
    for (int64_t k = 0; k < nseg; k++) o[k] = (seg[k] - mean) * win[k];
  }
  if (!(st = cj_fft_r2c(nseg, nsegs, buf, spec))) {
    for (int64_t f = 0; f < nf; f++) {
      double acc = 0;
      for (int64_t sgi = 0; sgi < nsegs; sgi++) {
        double re = spec[2 * (sgi * nf + f)], im = spec[2 * (sgi * nf + f) + 1];
        acc += re * re + im * im;
      }
      psd[f] = acc / (double)nsegs / (fs * wsum);
      if (f > 0 && !(nseg % 2 == 0 && f == nf - 1)) psd[f] *= 2;
    }
  }
  cj_free(buf);
  cj_free(spec);
  return st;
}

double cj_coding_kspvalue(double d, int64_t n)
{
  double sn = sqrt((double)n), l = (sn + 0.12 + 0.11 / sn) * d, q = 0;
  if (n < 1 || !(d > 0)) return 1;
  if (l < 1.18) {                               /* the theta-function form converges fast here */
    double s = 0;
    for (int k = 1; k <= 8; k++) s += exp(-(2 * k - 1) * (2 * k - 1) * M_PI * M_PI / (8 * l * l));
    q = 1 - sqrt(2 * M_PI) / l * s;
  } else {
    for (int k = 1; k <= 100; k++) q += 2 * ((k % 2) ? 1 : -1) * exp(-2.0 * k * k * l * l);
  }
  return q < 0 ? 0 : q > 1 ? 1 : q;
}

int cj_coding_rescale(const cj_trains *s, const double *lambda, int64_t nl, int64_t nbins, double dt,
                      cj_rng *rng, double *z, int64_t *nz, double *ks, double *p)
{
  double *cum = cj_malloc(sizeof(double) * (size_t)(nbins + 1)), tend = s->t0 + (double)nbins * dt, d = 0;
  int64_t k = 0;
  int st;
  if (!cum) return cj_fail(CJ_ENOMEM, "time rescaling: out of memory");
  if (nl != 1 && nl != s->n) {
    cj_free(cum);
    return cj_fail(CJ_EINVAL, "time rescaling: %lld intensity rows for %lld trains", (long long)nl, (long long)s->n);
  }
  for (int64_t j = 0; j < s->n; j++) {
    const double *lam = lambda + (nl == 1 ? 0 : j * nbins);
    double prev = 0;
    if (j == 0 || nl > 1) {
      cum[0] = 0;
      for (int64_t b = 0; b < nbins; b++) {
        if (!(lam[b] >= 0) || !isfinite(lam[b])) {
          cj_free(cum);
          return cj_fail(CJ_EINVAL, "time rescaling: intensities must be finite and >= 0 (bin %lld is %g)",
                         (long long)b + 1, lam[b]);
        }
        cum[b + 1] = cum[b] + lam[b] * dt;
      }
    }
    for (int64_t i = s->off[j]; i < s->off[j + 1]; i++) {
      double t = s->t[i], L;
      int64_t b;
      if (t >= tend) break;
      b = (int64_t)floor((t - s->t0) / dt);
      if (b < 0) b = 0;
      if (b >= nbins) b = nbins - 1;
      if (rng) {
        /* discrete time (Haslinger et al. 2010): the bins before the
         * spike's bin count whole, the spike's bin a random part of the
         * probability that it holds a spike */
        double q = lam[b] * dt, r = cj_rng_uniform(rng);
        double last = prev > cum[b] ? 0 : cum[b] - prev;
        double tau = last - log1p(-r * -expm1(-q));
        z[k++] = -expm1(-tau);
        prev = cum[b + 1];
        continue;
      }
      L = cum[b] + lam[b] * (t - (s->t0 + (double)b * dt));
      z[k++] = -expm1(-(L - prev));
      prev = L;
    }
  }
  cj_free(cum);
  *nz = k;
  if ((st = cj_sort_f64(z, k))) return st;
  for (int64_t i = 0; i < k; i++) {
    double a = (double)(i + 1) / (double)k - z[i], b = z[i] - (double)i / (double)k;
    if (a > d) d = a;
    if (b > d) d = b;
  }
  *ks = k ? d : NAN;
  *p = k ? cj_coding_kspvalue(d, k) : NAN;
  return CJ_OK;
}

/* ---- small dense algebra ------------------------------------------------------------------- */

int cj_coding_cholsolve(double *a, int64_t n, double *b)
{
  for (int64_t j = 0; j < n; j++) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return cj_fail(CJ_ERUNTIME, "the system is not positive definite (pivot %lld)", (long long)j + 1);
    d = sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; i++) {
      double v = a[i * n + j];
      for (int64_t k = 0; k < j; k++) v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / d;
    }
  }
  for (int64_t i = 0; i < n; i++) {               /* L y = b */
    double v = b[i];
    for (int64_t k = 0; k < i; k++) v -= a[i * n + k] * b[k];
    b[i] = v / a[i * n + i];
  }
  for (int64_t i = n - 1; i >= 0; i--) {          /* L^T x = y */
    double v = b[i];
    for (int64_t k = i + 1; k < n; k++) v -= a[k * n + i] * b[k];
    b[i] = v / a[i * n + i];
  }
  return CJ_OK;
}

int cj_coding_eigsym(double *a, int64_t n, double *evals, double *evecs)
{
  int64_t *perm;
  double *v = evecs;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) v[i * n + j] = i == j;
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0, tot = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) {
        tot += a[i * n + j] * a[i * n + j];
        if (i != j) off += a[i * n + j] * a[i * n + j];
      }
    if (off <= 1e-30 * tot || off == 0) break;
    for (int64_t p = 0; p < n; p++)
      for (int64_t q = p + 1; q < n; q++) {
        double apq = a[p * n + q], theta, t, c, sn;
        if (apq == 0) continue;
        theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        c = 1 / sqrt(t * t + 1);
        sn = t * c;
        for (int64_t k = 0; k < n; k++) {          /* columns p, q */
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (int64_t k = 0; k < n; k++) {          /* rows p, q */
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; k++) {
          double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
  }
  /* descending order: sort the diagonal, permute the columns */
  if (!(perm = cj_malloc(sizeof(int64_t) * (size_t)(n + 1)))) return cj_fail(CJ_ENOMEM, "eig: out of memory");
  for (int64_t i = 0; i < n; i++) evals[i] = -a[i * n + i];
  if (cj_argsort_f64(evals, n, perm)) { cj_free(perm); return CJ_ENOMEM; }
  for (int64_t i = 0; i < n; i++) evals[i] = a[perm[i] * n + perm[i]];
  for (int64_t i = 0; i < n; i++)                 /* a is free now: reuse it */
    for (int64_t j = 0; j < n; j++) a[i * n + j] = v[i * n + perm[j]];
  memcpy(evecs, a, sizeof(double) * (size_t)(n * n));
  cj_free(perm);
  return CJ_OK;
}

/* ---- spike-triggered statistics ------------------------------------------------------------ */

static int stimcheck(int64_t T, int64_t D, int64_t lags, const char *fn)
{
  if (T < 1 || D < 1) return cj_fail(CJ_EINVAL, "%s: empty stimulus", fn);
  if (lags < 1 || lags > T) return cj_fail(CJ_EINVAL, "%s: lags must be 1 .. %lld (got %lld)", fn, (long long)T, (long long)lags);
  return CJ_OK;
}

int cj_coding_sta(const double *s, int64_t T, int64_t D, const double *y, int64_t lags, double *sta, double *nsp)
{
  int st;
  double n = 0;
  if ((st = stimcheck(T, D, lags, "sta"))) return st;
  memset(sta, 0, sizeof(double) * (size_t)(lags * D));
  for (int64_t t = lags - 1; t < T; t++) {
    if (y[t] == 0) continue;
    n += y[t];
    for (int64_t l = 0; l < lags; l++)
      for (int64_t d = 0; d < D; d++) sta[l * D + d] += y[t] * s[(t - l) * D + d];
  }
  if (n > 0)
    for (int64_t i = 0; i < lags * D; i++) sta[i] /= n;
  *nsp = n;
  return CJ_OK;
}

int cj_coding_project(const double *s, int64_t T, int64_t D, const double *k, int64_t lags, double *x)
{
  int st;
  if ((st = stimcheck(T, D, lags, "project"))) return st;
  for (int64_t t = 0; t < T; t++) {
    double acc = 0;
    if (t < lags - 1) { x[t] = NAN; continue; }
    for (int64_t l = 0; l < lags; l++)
      for (int64_t d = 0; d < D; d++) acc += k[l * D + d] * s[(t - l) * D + d];
    x[t] = acc;
  }
  return CJ_OK;
}

int cj_coding_stc(const double *s, int64_t T, int64_t D, const double *y, int64_t lags, double *dc, double *evals,
                  double *evecs)
{
  enum { CH = 2048 };
  int64_t p = lags * D, n0 = T - lags + 1;
  double *sta, *mean, *chunk, *cs, *cp, nsp, ws = 0;
  int st;
  if ((st = stimcheck(T, D, lags, "stc"))) return st;
  sta = cj_malloc(sizeof(double) * (size_t)(2 * p + CH * p + 2 * p * p));
  if (!sta) return cj_fail(CJ_ENOMEM, "stc: out of memory");
  mean = sta + p;
  chunk = mean + p;
  cs = chunk + CH * p;
  cp = cs + p * p;
  cj_coding_sta(s, T, D, y, lags, sta, &nsp);
  if (nsp < 2) { cj_free(sta); return cj_fail(CJ_EINVAL, "stc: at least two spikes needed (got %g)", nsp); }
  memset(mean, 0, sizeof(double) * (size_t)p);
  for (int64_t t = lags - 1; t < T; t++)
    for (int64_t i = 0; i < p; i++) mean[i] += s[(t - i / D) * D + i % D];
  for (int64_t i = 0; i < p; i++) mean[i] /= (double)n0;
  memset(cs, 0, sizeof(double) * (size_t)(p * p));
  memset(cp, 0, sizeof(double) * (size_t)(p * p));
  /* prior and spike-weighted second moments about their means, in chunks through dsyrk */
  for (int pass = 0; pass < 2 && !st; pass++) {
    const double *mu = pass ? sta : mean;
    double *acc = pass ? cs : cp;
    for (int64_t t0 = lags - 1; t0 < T && !st; t0 += CH) {
      int64_t rows = 0;
      for (int64_t t = t0; t < T && t < t0 + CH; t++) {
        double w = pass ? y[t] : 1;
        if (w == 0) continue;
        for (int64_t i = 0; i < p; i++) chunk[rows * p + i] = sqrt(w) * (s[(t - i / D) * D + i % D] - mu[i]);
        rows++;
      }
      if (rows) st = cj_dsyrk(1, p, rows, 1.0, chunk, p, 1.0, acc, p);
    }
  }
  if (!st) {
    for (int64_t t = lags - 1; t < T; t++) ws += y[t];
    for (int64_t i = 0; i < p * p; i++) dc[i] = cs[i] / (ws - 1) - cp[i] / (double)(n0 - 1);
    memcpy(cs, dc, sizeof(double) * (size_t)(p * p));
    st = cj_coding_eigsym(cs, p, evals, evecs);
  }
  cj_free(sta);
  return st;
}

int cj_coding_raised_cosine(int64_t lags, int64_t nb, double first, double last, double offset, double *out)
{
  double a, b, delta;
  if (lags < 1 || nb < 1) return cj_fail(CJ_EINVAL, "raised cosine: lags and basis size must be positive");
  if (!(offset >= 0) || !(last >= first) || !(first >= 0) || !isfinite(last))
    return cj_fail(CJ_EINVAL, "raised cosine: peaks must satisfy 0 <= first <= last and offset >= 0");
  a = offset > 0 ? log(first + offset) : first;
  b = offset > 0 ? log(last + offset) : last;
  delta = nb > 1 ? (b - a) / (double)(nb - 1) : (b - a > 0 ? b - a : 1);
  if (!(delta > 0)) delta = 1;
  for (int64_t t = 0; t < lags; t++) {
    double ph = offset > 0 ? log((double)t + offset) : (double)t;
    for (int64_t j = 0; j < nb; j++) {
      double arg = (ph - (a + (double)j * delta)) * M_PI / (2 * delta);
      if (arg < -M_PI) arg = -M_PI;
      if (arg > M_PI) arg = M_PI;
      out[t * nb + j] = (cos(arg) + 1) / 2;
    }
  }
  return CJ_OK;
}

/* ---- the Poisson GLM --------------------------------------------------------------------------- */

/* col[t] = sum_l basis[l * nb + j] x[(t - l - shift) * stride] (0 before the start) */
static void filtcol(const double *x, int64_t stride, int64_t T, const double *basis, int64_t len, int64_t nb,
                    int64_t j, int64_t shift, double *col, int64_t cstride)
{
  if (!basis) {                                 /* identity: column j is x delayed by j + shift */
    for (int64_t t = 0; t < T; t++) col[t * cstride] = t - j - shift >= 0 ? x[(t - j - shift) * stride] : 0;
    return;
  }
  for (int64_t t = 0; t < T; t++) {
    double acc = 0;
    for (int64_t l = 0; l < len; l++) {
      int64_t u = t - l - shift;
      double w = basis ? basis[l * nb + j] : (l == j);
      if (u < 0) break;
      if (w != 0) acc += w * x[u * stride];
    }
    col[t * cstride] = acc;
  }
}

/* The design of one neuron: a dense part Xd (T x pd: the bias and the
 * stimulus through its basis) and a sparse part for the spike-history
 * columns (ph of them), stored by rows (CSR, duplicates allowed: entries
 * of one cell add up). Spikes are rare in 1 ms bins, so the history block
 * of X^T W X costs the number of its nonzeros instead of T ph^2. */
typedef struct {
  int64_t T, pd, ph, p;
  double *Xd, *Xs, *eta, *mu, *r, *H, *Hc, *Hdd, *g, *w, *w2, *wt, dt, l2;
  int64_t *rp, *ci;                             /* CSR: row t holds ci[rp[t] .. rp[t+1]) */
  double *cv;
  const double *y;
} newton;

/* Penalised log-likelihood at w (eta, mu filled). */
static double loglik(newton *nt, const double *w)
{
  double ll = 0, pen = 0, ldt = log(nt->dt);
  cj_dgemv(0, nt->T, nt->pd, 1.0, nt->Xd, nt->pd, w, 1, 0.0, nt->eta, 1);
  for (int64_t t = 0; t < nt->T; t++) {
    double e = nt->eta[t];
    for (int64_t k = nt->rp[t]; k < nt->rp[t + 1]; k++) e += nt->cv[k] * w[nt->pd + nt->ci[k]];
    e = e > 700 ? 700 : e;
    nt->eta[t] = e;
    nt->mu[t] = nt->dt * exp(e);
    ll += nt->y[t] * (e + ldt) - nt->mu[t] - (nt->y[t] > 1 ? lgamma(nt->y[t] + 1) : 0);
  }
  for (int64_t j = 1; j < nt->p; j++) pen += w[j] * w[j];
  return ll - nt->l2 / 2 * pen;
}

/* g = X^T (y - mu) - l2 w and H = X^T diag(mu) X + l2 I (bias unpenalised). */
static int gradhess(newton *nt)
{
  int64_t T = nt->T, pd = nt->pd, p = nt->p;
  int st;
  for (int64_t t = 0; t < T; t++) {
    double sq = sqrt(nt->mu[t]);
    nt->r[t] = nt->y[t] - nt->mu[t];
    for (int64_t j = 0; j < pd; j++) nt->Xs[t * pd + j] = sq * nt->Xd[t * pd + j];
  }
  if ((st = cj_dgemv(1, T, pd, 1.0, nt->Xd, pd, nt->r, 1, 0.0, nt->g, 1))) return st;
  if ((st = cj_dsyrk(1, pd, T, 1.0, nt->Xs, pd, 0.0, nt->Hdd, pd))) return st;
  memset(nt->H, 0, sizeof(double) * (size_t)(p * p));
  memset(nt->g + pd, 0, sizeof(double) * (size_t)nt->ph);
  for (int64_t a = 0; a < pd; a++)
    for (int64_t b = 0; b < pd; b++) nt->H[a * p + b] = nt->Hdd[a * pd + b];
  for (int64_t t = 0; t < T; t++) {
    const double *xd = nt->Xd + t * pd;
    double m = nt->mu[t];
    for (int64_t k = nt->rp[t]; k < nt->rp[t + 1]; k++) {
      int64_t b = pd + nt->ci[k];
      double v = nt->cv[k], mv = m * v;
      nt->g[b] += v * nt->r[t];
      for (int64_t a = 0; a < pd; a++) nt->H[a * p + b] += mv * xd[a];               /* dense x history */
      for (int64_t k2 = nt->rp[t]; k2 < nt->rp[t + 1]; k2++) nt->H[b * p + pd + nt->ci[k2]] += mv * nt->cv[k2];
    }
  }
  for (int64_t a = 0; a < pd; a++)
    for (int64_t b = pd; b < p; b++) nt->H[b * p + a] = nt->H[a * p + b];
  for (int64_t j = 1; j < p; j++) {
    nt->g[j] -= nt->l2 * nt->w[j];
    nt->H[j * p + j] += nt->l2;
  }
  return CJ_OK;
}

/* w2 = H^-1 g; where the curvature vanishes (a weight driven to -inf by
 * bins that never spike, e.g. inside the refractory period) H is damped by
 * a growing multiple of its largest diagonal element. */
static int direction(newton *nt)
{
  int64_t p = nt->p;
  double dmax = 0, damp = 0;
  int st;
  for (int64_t j = 0; j < p; j++) dmax = fmax(dmax, nt->H[j * p + j]);
  memcpy(nt->Hc, nt->H, sizeof(double) * (size_t)(p * p));
  for (int tries = 0;; tries++) {
    memcpy(nt->w2, nt->g, sizeof(double) * (size_t)p);
    if (!(st = cj_coding_cholsolve(nt->H, p, nt->w2))) return CJ_OK;
    if (tries == 12 || !(dmax > 0)) {
      cj_errprefix("the Hessian is singular (a filter with no data, or collinear bases; try l2 > 0)");
      return st;
    }
    damp = damp > 0 ? damp * 100 : 1e-12 * dmax;
    memcpy(nt->H, nt->Hc, sizeof(double) * (size_t)(p * p));
    for (int64_t j = 0; j < p; j++) nt->H[j * p + j] += damp;
  }
}

static int fitone(newton *nt, int maxit, double tol, double *llout, int *iters, int *conv)
{
  double ll = loglik(nt, nt->w);
  int64_t p = nt->p;
  int st = CJ_OK;
  *conv = 0;
  for (*iters = 0; *iters < maxit; (*iters)++) {
    double dec = 0, a = 1, ll2 = -INFINITY;
    if ((st = gradhess(nt)) || (st = direction(nt))) break;
    for (int64_t j = 0; j < p; j++) dec += nt->g[j] * nt->w2[j];
    if (dec <= tol * (1 + fabs(ll))) {         /* converged: the last Newton step is exact enough */
      for (int64_t j = 0; j < p; j++) nt->wt[j] = nt->w[j] + nt->w2[j];
      if (loglik(nt, nt->wt) >= ll) memcpy(nt->w, nt->wt, sizeof(double) * (size_t)p);
      *conv = 1;
      break;
    }
    for (int half = 0; half < 40; half++, a /= 2) {      /* backtracking along the Newton step */
      for (int64_t j = 0; j < p; j++) nt->wt[j] = nt->w[j] + a * nt->w2[j];
      ll2 = loglik(nt, nt->wt);
      if (ll2 >= ll + 1e-4 * a * dec) break;
    }
    if (!(ll2 >= ll)) { *conv = 1; loglik(nt, nt->w); break; }    /* no ascent left: at the optimum to rounding */
    memcpy(nt->w, nt->wt, sizeof(double) * (size_t)p);
    ll = ll2;
  }
  *llout = loglik(nt, nt->w);
  return st;
}

/* CSR of the history columns of neurons ms[0..nm) (their counts y[m * T ..])
 * through the basis (hlags x nh; NULL: identity): entry (t, i * nh + j) +=
 * y_m[t - 1 - l] B[l][j]. rp: T + 1; ci, cv: room for *nnz entries (first
 * call with ci == NULL counts them). */
static void histcsr(const double *y, int64_t T, const int64_t *ms, int64_t nm, const double *B, int64_t hlags, int64_t nh,
                    int64_t *rp, int64_t *ci, double *cv, int64_t *nnz)
{
  int64_t *pos = rp;                            /* counting pass: rp[t + 1] = entries of row t */
  if (!ci) {
    memset(rp, 0, sizeof(int64_t) * (size_t)(T + 1));
    for (int64_t i = 0; i < nm; i++)
      for (int64_t u = 0; u < T; u++) {
        if (y[ms[i] * T + u] == 0) continue;
        for (int64_t l = 0; l < hlags && u + 1 + l < T; l++)
          for (int64_t j = 0; j < nh; j++)
            if (B ? B[l * nh + j] != 0 : l == j) rp[u + 2 + l]++;
      }
    for (int64_t t = 0; t < T; t++) rp[t + 1] += rp[t];
    *nnz = rp[T];
    return;
  }
  {
    int64_t *fill = cj_malloc(sizeof(int64_t) * (size_t)(T + 1));
    if (!fill) { *nnz = -1; return; }
    memcpy(fill, pos, sizeof(int64_t) * (size_t)(T + 1));
    for (int64_t i = 0; i < nm; i++)
      for (int64_t u = 0; u < T; u++) {
        double c = y[ms[i] * T + u];
        if (c == 0) continue;
        for (int64_t l = 0; l < hlags && u + 1 + l < T; l++)
          for (int64_t j = 0; j < nh; j++) {
            double b = B ? B[l * nh + j] : (l == j);
            if (b == 0) continue;
            ci[fill[u + 1 + l]] = i * nh + j;
            cv[fill[u + 1 + l]++] = c * b;
          }
      }
    cj_free(fill);
  }
}

int cj_glm_fit_model(const cj_glm_spec *g, const double *s, const double *y, cj_glm_fit *out)
{
  int64_t T = g->T, N = g->N, D = g->D, nk = g->Bk ? g->nk : g->lags, nh = g->hlags > 0 ? (g->Bh ? g->nh : g->hlags) : 0;
  int64_t nhist = nh ? (g->coupling ? N : 1) : 0, pd = 1 + (D > 0 ? D * nk : 0), ph = nhist * nh, p = pd + ph;
  int64_t maxnnz = 0, *ms = NULL;
  newton nt;
  double *mem;
  size_t need;
  int st = CJ_OK;
  if (T < 2 || N < 1 || !(g->dt > 0)) return cj_fail(CJ_EINVAL, "glm: need T >= 2 bins, N >= 1 neurons and dt > 0");
  if (D > 0 && (g->lags < 1 || g->lags > T)) return cj_fail(CJ_EINVAL, "glm: stimulus lags must be 1 .. T");
  if (g->hlags < 0 || g->hlags >= T) return cj_fail(CJ_EINVAL, "glm: history lags must be 0 .. T - 1");
  if (!(g->l2 >= 0)) return cj_fail(CJ_EINVAL, "glm: l2 must be >= 0");
  if ((double)T * (double)pd > 4e8 || p > 20000) return cj_fail(CJ_EINVAL, "glm: the model is too large (%lld bins x %lld weights)", (long long)T, (long long)p);
  for (int64_t i = 0; i < N * T; i++)
    if (!(y[i] >= 0) || y[i] != floor(y[i]))
      return cj_fail(CJ_EINVAL, "glm: spike counts must be whole and >= 0 (neuron %lld, bin %lld is %g)",
                     (long long)(i / T) + 1, (long long)(i % T) + 1, y[i]);
  need = sizeof(double) * (size_t)(2 * T * pd + 3 * T + 3 * p * p + pd * pd + 4 * p) + sizeof(int64_t) * (size_t)(T + 1 + N);
  if (!(mem = cj_malloc(need))) return cj_fail(CJ_ENOMEM, "glm: out of memory for a %lld x %lld design", (long long)T, (long long)p);
  memset(&nt, 0, sizeof nt);
  nt.T = T; nt.pd = pd; nt.ph = ph; nt.p = p; nt.dt = g->dt; nt.l2 = g->l2;
  nt.Xd = mem; nt.Xs = nt.Xd + T * pd; nt.eta = nt.Xs + T * pd; nt.mu = nt.eta + T; nt.r = nt.mu + T;
  nt.H = nt.r + T; nt.Hc = nt.H + p * p; nt.Hdd = nt.Hc + p * p; nt.g = nt.Hdd + pd * pd; nt.w = nt.g + p;
  nt.w2 = nt.w + p; nt.wt = nt.w2 + p;
  nt.rp = (int64_t *)(nt.wt + p);
  ms = nt.rp + T + 1;
  /* dense columns: the bias and the stimulus through its basis */
  for (int64_t t = 0; t < T; t++) nt.Xd[t * pd] = 1;
  for (int64_t d = 0; d < D; d++)
    for (int64_t j = 0; j < nk; j++) filtcol(s + d, D, T, g->Bk, g->lags, nk, j, 0, nt.Xd + 1 + d * nk + j, pd);
  /* room for the largest history block */
  for (int64_t n = 0; n < N && nh; n++) {
    int64_t cnt;
    if (g->coupling) { for (int64_t m = 0; m < N; m++) ms[m] = m; histcsr(y, T, ms, N, g->Bh, g->hlags, nh, nt.rp, NULL, NULL, &cnt); }
    else { ms[0] = n; histcsr(y, T, ms, 1, g->Bh, g->hlags, nh, nt.rp, NULL, NULL, &cnt); }
    if (cnt > maxnnz) maxnnz = cnt;
    if (g->coupling) break;
  }
  nt.ci = cj_malloc(sizeof(int64_t) * (size_t)(maxnnz + 1));
  nt.cv = cj_malloc(sizeof(double) * (size_t)(maxnnz + 1));
  if (!nt.ci || !nt.cv) st = cj_fail(CJ_ENOMEM, "glm: out of memory for the history design");
  if (!nh) memset(nt.rp, 0, sizeof(int64_t) * (size_t)(T + 1));
  for (int64_t n = 0; n < N && !st; n++) {
    double sum = 0, *w = nt.w;
    int64_t cnt;
    nt.y = y + n * T;
    if (nh && (n == 0 || !g->coupling)) {         /* the history block: every neuron (coupled) or n's own */
      int64_t nm = g->coupling ? N : 1;
      for (int64_t m = 0; m < nm; m++) ms[m] = g->coupling ? m : n;
      histcsr(y, T, ms, nm, g->Bh, g->hlags, nh, nt.rp, NULL, NULL, &cnt);
      histcsr(y, T, ms, nm, g->Bh, g->hlags, nh, nt.rp, nt.ci, nt.cv, &cnt);
      if (cnt < 0) { st = cj_fail(CJ_ENOMEM, "glm: out of memory"); break; }
    }
    for (int64_t t = 0; t < T; t++) sum += nt.y[t];
    if (sum == 0) { st = cj_fail(CJ_EINVAL, "glm: neuron %lld has no spikes (the likelihood has no maximum)", (long long)n + 1); break; }
    memset(w, 0, sizeof(double) * (size_t)p);
    w[0] = log(sum / (double)T / g->dt);
    if ((st = fitone(&nt, g->maxit > 0 ? g->maxit : 50, g->tol > 0 ? g->tol : 1e-10, &out->loglik[n], &out->iters[n], &out->conv[n]))) {
      cj_errprefix("glm: neuron %lld", (long long)n + 1);
      break;
    }
    out->bias[n] = w[0];
    for (int64_t l = 0; l < g->lags && D > 0; l++)
      for (int64_t d = 0; d < D; d++) {
        double acc = 0;
        for (int64_t j = 0; j < nk; j++) acc += (g->Bk ? g->Bk[l * nk + j] : (l == j)) * w[1 + d * nk + j];
        out->k[(n * g->lags + l) * D + d] = acc;
      }
    for (int64_t m = 0; m < N && g->hlags > 0; m++)
      for (int64_t l = 0; l < g->hlags; l++) {
        int64_t blk = g->coupling ? m : (m == n ? 0 : -1);
        double acc = 0;
        if (blk >= 0)
          for (int64_t j = 0; j < nh; j++) acc += (g->Bh ? g->Bh[l * nh + j] : (l == j)) * w[pd + blk * nh + j];
        out->h[(n * N + m) * g->hlags + l] = acc;
      }
  }
  cj_free(nt.ci);
  cj_free(nt.cv);
  cj_free(mem);
  return st;
}

/* drive[n * T + t] = bias_n + stimulus term */
static void stimdrive(int64_t T, int64_t D, int64_t N, const double *s, const double *bias, const double *k,
                      int64_t lags, double *drive)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t t = 0; t < T; t++) {
      double acc = bias[n];
      for (int64_t l = 0; l < lags && l <= t && D > 0; l++)
        for (int64_t d = 0; d < D; d++) acc += k[(n * lags + l) * D + d] * s[(t - l) * D + d];
      drive[n * T + t] = acc;
    }
}

int cj_glm_intensity(int64_t T, int64_t D, int64_t N, double dt, const double *s, const double *y,
                     const double *bias, const double *k, int64_t lags, const double *h, int64_t hlags, double *lam)
{
  if (T < 1 || N < 1 || !(dt > 0)) return cj_fail(CJ_EINVAL, "glm: empty input");
  stimdrive(T, D, N, s, bias, k, lags, lam);
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < N && hlags > 0; m++) {
      const double *hf = h + (n * N + m) * hlags;
      for (int64_t t = 0; t < T; t++) {
        double acc = 0;
        for (int64_t l = 0; l < hlags && t - 1 - l >= 0; l++) acc += hf[l] * y[m * T + t - 1 - l];
        lam[n * T + t] += acc;
      }
    }
  for (int64_t i = 0; i < N * T; i++) lam[i] = exp(lam[i] > 700 ? 700 : lam[i]);
  return CJ_OK;
}

int cj_glm_simulate(int64_t T, int64_t D, int64_t N, double dt, const double *s, const double *bias,
                    const double *k, int64_t lags, const double *h, int64_t hlags, int maxcount, cj_rng *rng,
                    double *y)
{
  double *drive;
  if (T < 1 || N < 1 || !(dt > 0)) return cj_fail(CJ_EINVAL, "glm: empty input");
  if (!(drive = cj_malloc(sizeof(double) * (size_t)(N * T)))) return cj_fail(CJ_ENOMEM, "glm: out of memory");
  stimdrive(T, D, N, s, bias, k, lags, drive);
  for (int64_t t = 0; t < T; t++)
    for (int64_t m = 0; m < N; m++) {
      double e = drive[m * T + t], lam = exp(e > 30 ? 30 : e) * dt;
      int64_t c = cj_rng_poisson(rng, lam);
      if (c < 0) c = 0;
      if (maxcount > 0 && c > maxcount) c = maxcount;
      y[m * T + t] = (double)c;
      if (c == 0 || hlags <= 0) continue;
      for (int64_t n = 0; n < N; n++) {          /* spike of m: history of n from t + 1 */
        const double *hf = h + (n * N + m) * hlags;
        for (int64_t l = 0; l < hlags && t + 1 + l < T; l++) drive[n * T + t + 1 + l] += (double)c * hf[l];
      }
    }
  cj_free(drive);
  return CJ_OK;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

int cj_decode_loglik(const double *n, int64_t trials, int64_t N, const double *f, int64_t G, double w, double *ll)
{
  if (!(w > 0)) return cj_fail(CJ_EINVAL, "decode: window must be positive");
  for (int64_t i = 0; i < G * N; i++)
    if (!(f[i] >= 0) || !isfinite(f[i])) return cj_fail(CJ_EINVAL, "decode: tuning rates must be finite and >= 0");
  for (int64_t tr = 0; tr < trials; tr++) {
    const double *c = n + tr * N;
    double lf = 0;
    for (int64_t i = 0; i < N; i++) {
      if (!(c[i] >= 0) || c[i] != floor(c[i])) return cj_fail(CJ_EINVAL, "decode: counts must be whole and >= 0");
      lf += lgamma(c[i] + 1);
    }
    for (int64_t gi = 0; gi < G; gi++) {
      const double *r = f + gi * N;
      double acc = -lf;
      for (int64_t i = 0; i < N; i++) {
        double m = r[i] * w;
        if (c[i] > 0) acc += m > 0 ? c[i] * log(m) : -INFINITY;
        acc -= m;
      }
      ll[tr * G + gi] = acc;
    }
  }
  return CJ_OK;
}

int cj_decode_posterior(const double *ll, int64_t trials, int64_t G, const double *prior, double *post)
{
  for (int64_t gi = 0; prior && gi < G; gi++)
    if (!(prior[gi] >= 0) || !isfinite(prior[gi])) return cj_fail(CJ_EINVAL, "decode: prior must be finite and >= 0");
  for (int64_t tr = 0; tr < trials; tr++) {
    double mx = -INFINITY, sum = 0;
    for (int64_t gi = 0; gi < G; gi++) {
      double v = ll[tr * G + gi] + (prior ? log(prior[gi]) : 0);
      post[tr * G + gi] = v;
      if (v > mx) mx = v;
    }
    if (!(mx > -INFINITY)) return cj_fail(CJ_EINVAL, "decode: trial %lld is impossible under every stimulus", (long long)tr + 1);
    for (int64_t gi = 0; gi < G; gi++) sum += (post[tr * G + gi] = exp(post[tr * G + gi] - mx));
    for (int64_t gi = 0; gi < G; gi++) post[tr * G + gi] /= sum;
  }
  return CJ_OK;
}

double cj_decode_argmax(const double *v, int64_t G, int interp)
{
  int64_t best = 0;
  for (int64_t gi = 1; gi < G; gi++) if (v[gi] > v[best]) best = gi;
  if (interp && best > 0 && best < G - 1 && isfinite(v[best - 1]) && isfinite(v[best + 1])) {
    double a = v[best - 1], b = v[best], c = v[best + 1], den = a - 2 * b + c;
    if (den < 0) return (double)best + 0.5 * (a - c) / den;
  }
  return (double)best;
}

/* Design row t of the reconstruction: 1, then y_i[t - l] for l = -pre .. post. */
static void recrow(const double *y, int64_t N, int64_t T, int64_t pre, int64_t post, int64_t t, double *row)
{
  int64_t nl = pre + post + 1;
  row[0] = 1;
  for (int64_t i = 0; i < N; i++)
    for (int64_t l = -pre; l <= post; l++) {
      int64_t u = t - l;
      row[1 + i * nl + l + pre] = (u >= 0 && u < T) ? y[i * T + u] : 0;
    }
}

int cj_decode_linear(const double *y, int64_t N, int64_t T, const double *s, int64_t pre, int64_t post, double l2,
                     double *K, double *c, double *est)
{
  enum { CH = 2048 };
  int64_t nl = pre + post + 1, p = 1 + N * nl;
  double *A, *b, *chunk;
  int st = CJ_OK;
  if (pre < 0 || post < 0 || N < 1 || T < p) return cj_fail(CJ_EINVAL, "reconstruct: need pre, post >= 0 and more bins than parameters (%lld)", (long long)p);
  if (!(l2 >= 0)) return cj_fail(CJ_EINVAL, "reconstruct: l2 must be >= 0");
  if (!(A = cj_malloc(sizeof(double) * (size_t)(p * p + p + CH * p)))) return cj_fail(CJ_ENOMEM, "reconstruct: out of memory");
  b = A + p * p;
  chunk = b + p;
  memset(A, 0, sizeof(double) * (size_t)(p * p + p));
  for (int64_t t0 = 0; t0 < T && !st; t0 += CH) {
    int64_t rows = T - t0 < CH ? T - t0 : CH;
    for (int64_t r = 0; r < rows; r++) recrow(y, N, T, pre, post, t0 + r, chunk + r * p);
    if (!(st = cj_dsyrk(1, p, rows, 1.0, chunk, p, 1.0, A, p)))
      st = cj_dgemv(1, rows, p, 1.0, chunk, p, s + t0, 1, 1.0, b, 1);
  }
  for (int64_t j = 1; j < p && !st; j++) A[j * p + j] += l2;
  if (!st && (st = cj_coding_cholsolve(A, p, b)))
    cj_errprefix("reconstruct: the normal equations are singular (silent neurons? try l2 > 0)");
  if (!st) {
    *c = b[0];
    memcpy(K, b + 1, sizeof(double) * (size_t)(N * nl));
    st = cj_decode_apply(y, N, T, K, pre, post, *c, est);
  }
  cj_free(A);
  return st;
}

int cj_decode_apply(const double *y, int64_t N, int64_t T, const double *K, int64_t pre, int64_t post, double c, double *est)
{
  int64_t nl = pre + post + 1;
  for (int64_t t = 0; t < T; t++) est[t] = c;
  for (int64_t i = 0; i < N; i++)                /* scatter each spike through its filter */
    for (int64_t u = 0; u < T; u++) {
      double v = y[i * T + u];
      if (v == 0) continue;
      for (int64_t l = -pre; l <= post; l++) {
        int64_t t = u + l;
        if (t >= 0 && t < T) est[t] += v * K[i * nl + l + pre];
      }
    }
  return CJ_OK;
}
