/*
 * hopfield.c — Hopfield networks (Hopfield 1982) with Hebbian or
 * pseudo-inverse (projection; Personnaz, Guyon & Dreyfus 1986) storage, and
 * dense associative memory (Krotov & Hopfield 2016; the exponential
 * variant of Demircigil et al. 2017). Recall runs deterministic
 * zero-temperature dynamics, asynchronous (random or index order) or
 * synchronous, to a fixed point. Fields are plain C sums recomputed at the
 * start of every sweep, so a recall is a pure function of the cue, the
 * patterns and (seed, row, sweep).
 */
#include "boltzmann.h"

#include <math.h>
#include <string.h>

#include "array.h"
#include "rng.h"

cj_hopfield *cj_hopfield_new(int64_t N, cj_hop_rule rule, cj_hop_fn fn, int degree)
{
  cj_hopfield *h;
  if (N < 1 || N > 46340) {
    cj_fail(CJ_EINVAL, "hopfield: N must be 1 .. 46340 (got %lld)", (long long)N);
    return NULL;
  }
  if (rule == CJ_HOP_DENSE && fn != CJ_HOP_EXP && (degree < 1 || degree > 64)) {
    cj_fail(CJ_EINVAL, "hopfield: degree n of F(x) = x^n must be 1 .. 64 (got %d)", degree);
    return NULL;
  }
  if (!(h = cj_calloc(1, sizeof *h))) goto nomem;
  h->N = N;
  h->rule = rule;
  h->fn = fn;
  h->degree = degree;
  if (rule != CJ_HOP_DENSE && (!(h->W = cj_calloc((size_t)(N * N), sizeof(double))) ||
                               !(h->rowabs = cj_calloc((size_t)N, sizeof(double)))))
    goto nomem;
  return h;
nomem:
  cj_hopfield_free(h);
  cj_fail(CJ_ENOMEM, "hopfield: out of memory");
  return NULL;
}

void cj_hopfield_free(cj_hopfield *h)
{
  if (!h) return;
  cj_free(h->W);
  cj_free(h->rowabs);
  cj_free(h->xi);
  cj_free(h);
}

size_t cj_hopfield_memsize(const cj_hopfield *h)
{
  return sizeof *h + (h->W ? (size_t)(h->N * h->N + h->N) * sizeof(double) : 0) +
         (size_t)(h->cap * h->N) * sizeof(double);
}

void cj_hopfield_clear(cj_hopfield *h)
{
  h->P = 0;
  if (h->W) memset(h->W, 0, sizeof(double) * (size_t)(h->N * h->N));
  if (h->rowabs) memset(h->rowabs, 0, sizeof(double) * (size_t)h->N);
}

/* W = X' (X X')^-1 X for the P x N patterns X, by a Cholesky factor of the
 * Gram matrix; the diagonal is zeroed and W made exactly symmetric.
 * CJ_EINVAL when the patterns are linearly dependent (W untouched). */
static int projection(cj_hopfield *h)
{
  int64_t N = h->N, P = h->P;
  double *G = cj_malloc(sizeof(double) * (size_t)(P * P));
  double *Y = cj_malloc(sizeof(double) * (size_t)(P * N));
  int rc = CJ_OK;
  if (!G || !Y) {
    rc = cj_fail(CJ_ENOMEM, "hopfield: out of memory");
    goto done;
  }
  if ((rc = cj_dsyrk(0, P, N, 1.0, h->xi, N, 0.0, G, P))) goto done;
  for (int64_t i = 0; i < P; i++) {            /* G = L L', L in the lower triangle */
    double d = G[i * P + i];
    for (int64_t k = 0; k < i; k++) d -= G[i * P + k] * G[i * P + k];
    if (!(d > 1e-9 * (double)N)) {
      rc = cj_fail(CJ_EINVAL, "pattern %lld is a linear combination of the ones before it: "
                   "the pseudo-inverse rule needs linearly independent patterns", (long long)i);
      goto done;
    }
    d = sqrt(d);
    G[i * P + i] = d;
    for (int64_t j = i + 1; j < P; j++) {
      double s = G[j * P + i];
      for (int64_t k = 0; k < i; k++) s -= G[j * P + k] * G[i * P + k];
      G[j * P + i] = s / d;
    }
  }
  for (int64_t i = 0; i < P; i++) {            /* L Z = X, rows of Z in Y */
    double *y = Y + i * N;
    memcpy(y, h->xi + i * N, sizeof(double) * (size_t)N);
    for (int64_t k = 0; k < i; k++) {
      double l = G[i * P + k];
      const double *z = Y + k * N;
      for (int64_t c = 0; c < N; c++) y[c] -= l * z[c];
    }
    for (int64_t c = 0; c < N; c++) y[c] /= G[i * P + i];
  }
  for (int64_t i = P - 1; i >= 0; i--) {       /* L' Y = Z */
    double *y = Y + i * N;
    for (int64_t k = i + 1; k < P; k++) {
      double l = G[k * P + i];
      const double *z = Y + k * N;
      for (int64_t c = 0; c < N; c++) y[c] -= l * z[c];
    }
    for (int64_t c = 0; c < N; c++) y[c] /= G[i * P + i];
  }
  if ((rc = cj_dgemm(1, 0, N, N, P, 1.0, h->xi, N, Y, N, 0.0, h->W, N))) goto done;
  for (int64_t i = 0; i < N; i++) {
    h->W[i * N + i] = 0;
    for (int64_t j = i + 1; j < N; j++)
      h->W[i * N + j] = h->W[j * N + i] = 0.5 * (h->W[i * N + j] + h->W[j * N + i]);
  }
done:
  cj_free(G);
  cj_free(Y);
  return rc;
}

int cj_hopfield_store(cj_hopfield *h, const double *patterns, int64_t P)
{
  int64_t N = h->N, old = h->P;
  int rc = CJ_OK;
  if (P < 0) return cj_fail(CJ_EINVAL, "hopfield store: negative pattern count");
  if (h->P + P > h->cap) {
    int64_t cap = h->cap ? h->cap : 8;
    double *xi;
    while (cap < h->P + P) cap *= 2;
    if (!(xi = cj_realloc(h->xi, sizeof(double) * (size_t)(cap * N))))
      return cj_fail(CJ_ENOMEM, "hopfield: out of memory");
    h->xi = xi;
    h->cap = cap;
  }
  if (P) memcpy(h->xi + h->P * N, patterns, sizeof(double) * (size_t)(P * N));
  h->P += P;
  if (h->rule == CJ_HOP_HEBB) {
    if ((rc = cj_dsyrk(1, N, h->P, 1.0 / (double)N, h->xi, N, 0.0, h->W, N))) h->P = old;
    else for (int64_t i = 0; i < N; i++) h->W[i * N + i] = 0;
  } else if (h->rule == CJ_HOP_PINV) {
    if (h->P > 0 && (rc = projection(h))) h->P = old;
  }
  if (h->W && !rc)
    for (int64_t i = 0; i < N; i++) {
      double acc = 0;
      for (int64_t j = 0; j < N; j++) acc += fabs(h->W[i * N + j]);
      h->rowabs[i] = acc;
    }
  return rc;
}

/* ---- dense associative memory ------------------------------------------------ */

static double Fpoly(double x, int n)
{
  double r = 1;
  for (int k = 0; k < n; k++) r *= x;
  return r;
}

static double F(const cj_hopfield *h, double x)
{
  switch (h->fn) {
  case CJ_HOP_POLY: return Fpoly(x, h->degree);
  case CJ_HOP_RECTPOLY: return x > 0 ? Fpoly(x, h->degree) : 0.0;
  default: return cj_bz_exp(x);
  }
}

/* Sign of sum_mu F(x_mu + xi_mu) - F(x_mu - xi_mu) for the column xi of unit
 * i (P values) and x_mu = a_mu - xi_mu s_i: the energy drop of s_i = +1
 * against s_i = -1. The exponential is compared in a log-sum-exp scale. */
static int densesign(const cj_hopfield *h, const double *a, const double *xi, double si)
{
  double d = 0, mag = 0;
  if (h->fn == CJ_HOP_EXP) {
    double mx = -INFINITY, sp = 0, sm = 0;
    for (int64_t mu = 0; mu < h->P; mu++)
      if (a[mu] - xi[mu] * si > mx) mx = a[mu] - xi[mu] * si;
    for (int64_t mu = 0; mu < h->P; mu++) {
      double x = a[mu] - xi[mu] * si - mx;
      sp += cj_bz_exp(x + xi[mu]);
      sm += cj_bz_exp(x - xi[mu]);
    }
    d = sp - sm;
    mag = sp + sm;
  } else {
    for (int64_t mu = 0; mu < h->P; mu++) {
      double x = a[mu] - xi[mu] * si, fp = F(h, x + xi[mu]), fm = F(h, x - xi[mu]);
      d += fp - fm;
      mag += fabs(fp) + fabs(fm);
    }
  }
  return d > CJ_HOP_TIE * mag ? 1 : d < -CJ_HOP_TIE * mag ? -1 : 0;
}

/* a_mu = xi_mu . s */
static void overlaps(const cj_hopfield *h, const double *s, double *a)
{
  for (int64_t mu = 0; mu < h->P; mu++) {
    const double *x = h->xi + mu * h->N;
    double acc = 0;
    for (int64_t j = 0; j < h->N; j++) acc += x[j] * s[j];
    a[mu] = acc;
  }
}

/* ---- recall ---------------------------------------------------------------------- */

typedef struct scratch {
  double *f;               /* fields (N) or overlaps (P) */
  double *xt;              /* N x P transposed patterns (dense) */
  double *next, *prev;     /* synchronous: N each */
  int64_t *perm;
} scratch;

/* The new value of unit i: the sign of its field, or s_i on a tie. */
static double newvalue(const cj_hopfield *h, const scratch *w, const double *s, int64_t i)
{
  int sg;
  if (h->rule == CJ_HOP_DENSE) sg = h->P ? densesign(h, w->f, w->xt + i * h->P, s[i]) : 0;
  else sg = w->f[i] > CJ_HOP_TIE * h->rowabs[i] ? 1 : w->f[i] < -CJ_HOP_TIE * h->rowabs[i] ? -1 : 0;
  return sg ? (double)sg : s[i];
}

static void refresh(const cj_hopfield *h, const scratch *w, const double *s)
{
  if (h->rule == CJ_HOP_DENSE) overlaps(h, s, w->f);
  else cj_bz_fields(h->W, NULL, h->N, s, w->f);
}

/* One asynchronous sweep of row r at sweep t; returns the units changed. */
static int64_t asweep(const cj_hopfield *h, const cj_hopfield_opts *o, scratch *w, double *s,
                      int64_t r, int64_t t)
{
  int64_t N = h->N, changed = 0;
  refresh(h, w, s);
  if (o->mode == CJ_HOP_ASYNC)
    cj_bz_permutation(o->seed, CJ_BZ_HOPFIELD | CJ_BZ_ORDER, (uint64_t)(o->row0 + r), (uint64_t)t, N, w->perm);
  for (int64_t q = 0; q < N; q++) {
    int64_t i = o->mode == CJ_HOP_ASYNC ? w->perm[q] : q;
    double v = newvalue(h, w, s, i), d = v - s[i];
    if (d == 0) continue;
    changed++;
    if (h->rule == CJ_HOP_DENSE) {
      const double *x = w->xt + i * h->P;
      for (int64_t mu = 0; mu < h->P; mu++) w->f[mu] += d * x[mu];
    } else {
      const double *wi = h->W + i * N;
      for (int64_t j = 0; j < N; j++) w->f[j] += d * wi[j];
    }
    s[i] = v;
  }
  return changed;
}

static void recallrow(const cj_hopfield *h, const cj_hopfield_opts *o, scratch *w, double *s,
                      int64_t r, int64_t *sweeps, unsigned char *conv)
{
  int64_t N = h->N, t;
  *conv = 0;
  for (t = 0; t < o->max_sweeps; t++) {
    if (o->mode != CJ_HOP_SYNC) {
      if (asweep(h, o, w, s, r, t) == 0) {
        *conv = 1;
        t++;
        break;
      }
      continue;
    }
    refresh(h, w, s);
    for (int64_t i = 0; i < N; i++) w->next[i] = newvalue(h, w, s, i);
    if (memcmp(w->next, s, sizeof(double) * (size_t)N) == 0) {
      *conv = 1;
      t++;
      break;
    }
    if (t > 0 && memcmp(w->next, w->prev, sizeof(double) * (size_t)N) == 0) {
      memcpy(s, w->next, sizeof(double) * (size_t)N);   /* a 2-cycle: stop */
      t++;
      break;
    }
    memcpy(w->prev, s, sizeof(double) * (size_t)N);
    memcpy(s, w->next, sizeof(double) * (size_t)N);
  }
  *sweeps = t;
}

int cj_hopfield_recall(const cj_hopfield *h, double *S, int64_t m, const cj_hopfield_opts *o,
                       int64_t *sweeps, unsigned char *converged)
{
  int64_t N = h->N, P = h->P;
  scratch w;
  int rc = CJ_OK;
  if (m < 0 || o->max_sweeps < 0 || o->row0 < 0)
    return cj_fail(CJ_EINVAL, "hopfield recall: bad sizes");
  memset(&w, 0, sizeof w);
  w.f = cj_malloc(sizeof(double) * (size_t)(N > P ? N : P) + 1);
  w.next = cj_malloc(sizeof(double) * (size_t)N);
  w.prev = cj_malloc(sizeof(double) * (size_t)N);
  w.perm = cj_malloc(sizeof(int64_t) * (size_t)N);
  if (h->rule == CJ_HOP_DENSE) w.xt = cj_malloc(sizeof(double) * (size_t)(N * P) + 1);
  if (!w.f || !w.next || !w.prev || !w.perm || (h->rule == CJ_HOP_DENSE && !w.xt)) {
    rc = cj_fail(CJ_ENOMEM, "hopfield recall: out of memory");
    goto done;
  }
  if (w.xt)
    for (int64_t mu = 0; mu < P; mu++)
      for (int64_t i = 0; i < N; i++) w.xt[i * P + mu] = h->xi[mu * N + i];
  for (int64_t r = 0; r < m; r++) {
    int64_t sw;
    unsigned char cv;
    recallrow(h, o, &w, S + r * N, r, &sw, &cv);
    if (sweeps) sweeps[r] = sw;
    if (converged) converged[r] = cv;
  }
done:
  cj_free(w.f);
  cj_free(w.xt);
  cj_free(w.next);
  cj_free(w.prev);
  cj_free(w.perm);
  return rc;
}

void cj_hopfield_energy(const cj_hopfield *h, const double *S, int64_t m, double *E)
{
  if (h->rule != CJ_HOP_DENSE) {
    cj_bz_energy(h->W, NULL, h->N, S, m, E);
    return;
  }
  for (int64_t r = 0; r < m; r++) {
    const double *s = S + r * h->N;
    double e = 0;
    for (int64_t mu = 0; mu < h->P; mu++) {
      const double *x = h->xi + mu * h->N;
      double a = 0;
      for (int64_t j = 0; j < h->N; j++) a += x[j] * s[j];
      e += F(h, a);
    }
    E[r] = -e;
  }
}
