/*
 * rbm.c — restricted Boltzmann machines (Smolensky 1986; Hinton 2002) with
 * binary or Gaussian visible units and binary hidden units, trained by
 * minibatch contrastive divergence (CD-k) or persistent CD (Tieleman 2008)
 * with momentum and weight decay (Hinton, "A practical guide to training
 * restricted Boltzmann machines", UTML TR 2010-003); free energy, exact log
 * partition function by enumerating the smaller layer, pseudo-likelihood,
 * reconstruction error, block Gibbs sampling; and deep belief nets made by
 * greedy layer-wise stacking (Hinton, Osindero & Teh 2006).
 *
 * Units are {0,1}, as in Hinton's guide and sklearn's BernoulliRBM, not the
 * +-1 of boltzmann.c: an RBM is the Boltzmann machine of boltzmann.h on
 * s = 2z - 1 after cj_bz_binary_to_spin. Every minibatch product goes
 * through cj_dgemm; the random decisions are keyed (boltzmann.h) by the
 * data row or chain, the step and the unit.
 */
#include "boltzmann.h"

#include <math.h>
#include <string.h>

#include "array.h"
#include "rng.h"

#define SBLOCK 64   /* chains per block in cj_rbm_sample */

cj_rbm *cj_rbm_new(int64_t nv, int64_t nh, cj_rbm_visible vis, double sd, uint64_t seed)
{
  cj_rbm *r;
  if (nv < 1 || nh < 1 || nv > INT32_MAX || nh > INT32_MAX || nv > INT64_MAX / 8 / nh) {
    cj_fail(CJ_EINVAL, "rbm: bad sizes (%lld visible, %lld hidden)", (long long)nv, (long long)nh);
    return NULL;
  }
  if (!(sd >= 0) || !isfinite(sd)) {
    cj_fail(CJ_EINVAL, "rbm: initial weight sd must be >= 0 and finite (got %g)", sd);
    return NULL;
  }
  if (!(r = cj_calloc(1, sizeof *r))) goto nomem;
  r->nv = nv;
  r->nh = nh;
  r->visible = vis;
  r->seed = seed;
  r->W = cj_malloc(sizeof(double) * (size_t)(nv * nh));
  r->a = cj_calloc((size_t)nv, sizeof(double));
  r->c = cj_calloc((size_t)nh, sizeof(double));
  r->vW = cj_calloc((size_t)(nv * nh), sizeof(double));
  r->va = cj_calloc((size_t)nv, sizeof(double));
  r->vc = cj_calloc((size_t)nh, sizeof(double));
  if (!r->W || !r->a || !r->c || !r->vW || !r->va || !r->vc) goto nomem;
  for (int64_t k = 0; k < nv * nh; k++)
    r->W[k] = sd > 0 ? sd * cj_bz_normal(seed, CJ_BZ_WEIGHTS, 0, 0, (uint64_t)k) : 0.0;
  return r;
nomem:
  cj_rbm_free(r);
  cj_fail(CJ_ENOMEM, "rbm: out of memory");
  return NULL;
}

void cj_rbm_free(cj_rbm *r)
{
  if (!r) return;
  cj_free(r->W);
  cj_free(r->a);
  cj_free(r->c);
  cj_free(r->vW);
  cj_free(r->va);
  cj_free(r->vc);
  cj_free(r->pchains);
  cj_free(r);
}

size_t cj_rbm_memsize(const cj_rbm *r)
{
  return sizeof *r + 2 * sizeof(double) * (size_t)(r->nv * r->nh + r->nv + r->nh) +
         sizeof(double) * (size_t)(r->npc * r->nh);
}

void cj_rbm_train_defaults(cj_rbm_train_opts *o)
{
  memset(o, 0, sizeof *o);
  o->epochs = 10;
  o->batch = 10;
  o->k = 1;
  o->lr = 0.1;
  o->shuffle = 1;
}

/* ---- layer maps --------------------------------------------------------------- */

static double softplus(double x)
{
  return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* P (B x nh) = sigmoid(V W + c) */
static int uphid(const cj_rbm *r, const double *V, int64_t B, double *P)
{
  int64_t nh = r->nh;
  int rc;
  for (int64_t q = 0; q < B; q++) memcpy(P + q * nh, r->c, sizeof(double) * (size_t)nh);
  if ((rc = cj_dgemm(0, 0, B, nh, r->nv, 1.0, V, r->nv, r->W, nh, 1.0, P, nh))) return rc;
  cj_bz_sigmoids(P, B * nh);
  return CJ_OK;
}

/* M (B x nv) = a + H W' (sigmoid of it for binary visible units) */
static int downvis(const cj_rbm *r, const double *H, int64_t B, double *M)
{
  int64_t nv = r->nv;
  int rc;
  for (int64_t q = 0; q < B; q++) memcpy(M + q * nv, r->a, sizeof(double) * (size_t)nv);
  if ((rc = cj_dgemm(0, 1, B, nv, r->nh, 1.0, H, r->nh, r->W, r->nh, 1.0, M, nv))) return rc;
  if (r->visible == CJ_RBM_BINARY)
    cj_bz_sigmoids(M, B * nv);
  return CJ_OK;
}

/* out[q, j] = 1 if u < P[q, j] else 0, u keyed by (seed, purpose, ids[q], sweep, j).
 * out may be P. */
static void bernoulli(uint64_t seed, unsigned purpose, const int64_t *ids, uint64_t sweep,
                      int64_t B, int64_t n, const double *P, double *out, double *u)
{
  for (int64_t q = 0; q < B; q++) {
    cj_bz_uniforms(seed, purpose, (uint64_t)ids[q], sweep, 0, n, u);
    for (int64_t j = 0; j < n; j++) out[q * n + j] = u[j] < P[q * n + j] ? 1.0 : 0.0;
  }
}

/* Gaussian visible units: out = M + N(0, 1) keyed like bernoulli (normals). */
static void gaussian(uint64_t seed, unsigned purpose, const int64_t *ids, uint64_t sweep,
                     int64_t B, int64_t n, const double *M, double *out)
{
  for (int64_t q = 0; q < B; q++)
    for (int64_t j = 0; j < n; j++)
      out[q * n + j] = M[q * n + j] + cj_bz_normal(seed, purpose, (uint64_t)ids[q], sweep, (uint64_t)j);
}

int cj_rbm_hidden(const cj_rbm *r, const double *V, int64_t m, double *P)
{
  if (m < 0) return cj_fail(CJ_EINVAL, "rbm: negative row count");
  return uphid(r, V, m, P);
}

int cj_rbm_visible_mean(const cj_rbm *r, const double *H, int64_t m, double *M)
{
  if (m < 0) return cj_fail(CJ_EINVAL, "rbm: negative row count");
  return downvis(r, H, m, M);
}

/* ---- training -------------------------------------------------------------------- */

/* Training scratch. V0 and Vk are consecutive rows of one matrix, as are
 * PH0 and PHk, so that the whole gradient [V0; Vk]' [PH0; -PHk] is one
 * product written straight into W (or the velocity). */
typedef struct tbuf {
  double *Vc, *Pc, *H, *u;
  double *V0, *Vk, *PH0, *PHk;   /* views into Vc, Pc for the current batch */
  int64_t *perm, *ids, *cids;
} tbuf;

static void freetbuf(tbuf *t)
{
  cj_free(t->Vc);
  cj_free(t->Pc);
  cj_free(t->H);
  cj_free(t->u);
  cj_free(t->perm);
  cj_free(t->ids);
  cj_free(t->cids);
}

static int alloctbuf(const cj_rbm *r, int64_t B, int64_t m, tbuf *t)
{
  int64_t nv = r->nv, nh = r->nh;
  memset(t, 0, sizeof *t);
  t->Vc = cj_malloc(sizeof(double) * (size_t)(2 * B * nv));
  t->Pc = cj_malloc(sizeof(double) * (size_t)(2 * B * nh));
  t->H = cj_malloc(sizeof(double) * (size_t)(B * nh));
  t->u = cj_malloc(sizeof(double) * (size_t)(nv > nh ? nv : nh));
  t->perm = cj_malloc(sizeof(int64_t) * (size_t)m);
  t->ids = cj_malloc(sizeof(int64_t) * (size_t)B);
  t->cids = cj_malloc(sizeof(int64_t) * (size_t)B);
  if (!t->Vc || !t->Pc || !t->H || !t->u || !t->perm || !t->ids || !t->cids)
    return cj_fail(CJ_ENOMEM, "rbm train: out of memory");
  for (int64_t q = 0; q < B; q++) t->cids[q] = q;
  return CJ_OK;
}

/* Persistent hidden chains, B of them; (re)started at random when their
 * number changes. */
static int ensurechains(cj_rbm *r, int64_t B, double *u)
{
  if (r->pchains && r->npc == B) return CJ_OK;
  cj_free(r->pchains);
  r->npc = 0;
  if (!(r->pchains = cj_malloc(sizeof(double) * (size_t)(B * r->nh))))
    return cj_fail(CJ_ENOMEM, "rbm train: out of memory");
  r->npc = B;
  for (int64_t q = 0; q < B; q++) {
    cj_bz_uniforms(r->seed, CJ_BZ_RBM_PINIT, (uint64_t)q, 0, 0, r->nh, u);
    for (int64_t j = 0; j < r->nh; j++) r->pchains[q * r->nh + j] = u[j] < 0.5 ? 1.0 : 0.0;
  }
  return CJ_OK;
}

/* Sum of squared differences of B x n matrices. */
static double sqdiff(const double *a, const double *b, int64_t cnt)
{
  double s = 0;
  for (int64_t k = 0; k < cnt; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

/* Parameters from the batch statistics: with momentum or decay,
 * v = momentum v - lr decay W + (lr/B) grad and W += v; without them
 * W += (lr/B) grad directly (the velocities then stay as they were). */
static int applyupdate(cj_rbm *r, const cj_rbm_train_opts *o, tbuf *t, int64_t B)
{
  int64_t nv = r->nv, nh = r->nh;
  double s = o->lr / (double)B;
  int plain = o->momentum == 0 && o->decay == 0, rc;
  for (int64_t i = 0; i < nv; i++) {
    double g = 0;
    for (int64_t q = 0; q < B; q++) g += t->V0[q * nv + i] - t->Vk[q * nv + i];
    r->va[i] = o->momentum * r->va[i] + s * g;
    r->a[i] += r->va[i];
  }
  for (int64_t j = 0; j < nh; j++) {
    double g = 0;
    for (int64_t q = 0; q < B; q++) g += t->PH0[q * nh + j] - t->PHk[q * nh + j];
    r->vc[j] = o->momentum * r->vc[j] + s * g;
    r->c[j] += r->vc[j];
  }
  for (int64_t k = 0; k < B * nh; k++) t->PHk[k] = -t->PHk[k];
  if (plain) return cj_dgemm(1, 0, nv, nh, 2 * B, s, t->V0, nv, t->PH0, nh, 1.0, r->W, nh);
  for (int64_t k = 0; k < nv * nh; k++) r->vW[k] = o->momentum * r->vW[k] - o->lr * o->decay * r->W[k];
  if ((rc = cj_dgemm(1, 0, nv, nh, 2 * B, s, t->V0, nv, t->PH0, nh, 1.0, r->vW, nh))) return rc;
  for (int64_t k = 0; k < nv * nh; k++) r->W[k] += r->vW[k];
  return CJ_OK;
}

/* One minibatch (rows t->ids[0..B-1] of X already in t->V0) of epoch e.
 * *err += the reconstruction error when err is not NULL. */
static int batchstep(cj_rbm *r, const cj_rbm_train_opts *o, tbuf *t, int64_t B, int64_t e,
                     double *err)
{
  int64_t nv = r->nv, nh = r->nh, k = o->k;
  const int64_t *cid = o->persistent ? t->cids : t->ids;
  unsigned ph = o->persistent ? CJ_BZ_RBM_PH : CJ_BZ_RBM_H;
  unsigned pv = o->persistent ? CJ_BZ_RBM_PV : CJ_BZ_RBM_V;
  uint64_t hsw = o->persistent ? (uint64_t)(r->updates * k) : (uint64_t)(e * (k + 1));
  uint64_t vsw = o->persistent ? (uint64_t)(r->updates * k) : (uint64_t)(e * k);
  int rc;
  if ((rc = uphid(r, t->V0, B, t->PH0))) return rc;
  if (err && o->persistent) {                  /* reconstruction from h0 ~ p(h | v0) */
    bernoulli(r->seed, CJ_BZ_RBM_H, t->ids, (uint64_t)(e * (k + 1)), B, nh, t->PH0, t->PHk, t->u);
    if ((rc = downvis(r, t->PHk, B, t->Vk))) return rc;
    *err += sqdiff(t->V0, t->Vk, B * nv);
  }
  if (o->persistent) memcpy(t->H, r->pchains, sizeof(double) * (size_t)(B * nh));
  else bernoulli(r->seed, ph, cid, hsw, B, nh, t->PH0, t->H, t->u);
  for (int64_t s = 1; s <= k; s++) {
    if ((rc = downvis(r, t->H, B, t->Vk))) return rc;
    if (s == 1 && err && !o->persistent) *err += sqdiff(t->V0, t->Vk, B * nv);
    if (r->visible == CJ_RBM_BINARY) bernoulli(r->seed, pv, cid, vsw + (uint64_t)(s - 1), B, nv, t->Vk, t->Vk, t->u);
    if ((rc = uphid(r, t->Vk, B, t->PHk))) return rc;
    if (o->persistent)
      bernoulli(r->seed, ph, cid, hsw + (uint64_t)(s - 1), B, nh, t->PHk, t->H, t->u);
    else if (s < k)
      bernoulli(r->seed, ph, cid, hsw + (uint64_t)s, B, nh, t->PHk, t->H, t->u);
  }
  if (o->persistent) memcpy(r->pchains, t->H, sizeof(double) * (size_t)(B * nh));
  if ((rc = applyupdate(r, o, t, B))) return rc;
  r->updates++;
  return CJ_OK;
}

int cj_rbm_train(cj_rbm *r, const double *X, int64_t m, const cj_rbm_train_opts *o,
                 double *recon)
{
  int64_t nv = r->nv, nh = r->nh, B;
  tbuf t;
  int rc;
  if (m < 1) return cj_fail(CJ_EINVAL, "rbm train: no data rows");
  if (o->epochs < 0 || o->batch < 1 || o->k < 1)
    return cj_fail(CJ_EINVAL, "rbm train: bad sizes (epochs %lld, batch %lld, k %lld)",
                   (long long)o->epochs, (long long)o->batch, (long long)o->k);
  if (!isfinite(o->lr) || !(o->momentum >= 0 && o->momentum < 1) || !(o->decay >= 0) || !isfinite(o->decay))
    return cj_fail(CJ_EINVAL, "rbm train: lr must be finite, momentum in [0, 1), decay >= 0");
  B = o->batch < m ? o->batch : m;
  if ((rc = alloctbuf(r, B, m, &t))) goto done;
  if (o->persistent && (rc = ensurechains(r, B, t.u))) goto done;
  for (int64_t ep = 0; ep < o->epochs; ep++) {
    int64_t e = r->epochs;
    double err = 0;
    if (o->shuffle) cj_bz_permutation(r->seed, CJ_BZ_SHUFFLE, 0, (uint64_t)e, m, t.perm);
    else for (int64_t q = 0; q < m; q++) t.perm[q] = q;
    for (int64_t b0 = 0; b0 < m; b0 += B) {
      int64_t Bb = m - b0 < B ? m - b0 : B;
      t.V0 = t.Vc;
      t.Vk = t.Vc + Bb * nv;
      t.PH0 = t.Pc;
      t.PHk = t.Pc + Bb * nh;
      for (int64_t q = 0; q < Bb; q++) {
        t.ids[q] = t.perm[b0 + q];
        memcpy(t.V0 + q * nv, X + t.ids[q] * nv, sizeof(double) * (size_t)nv);
      }
      if ((rc = batchstep(r, o, &t, Bb, e, recon ? &err : NULL))) goto done;
    }
    if (recon) recon[ep] = err / (double)m;
    r->epochs++;
  }
done:
  freetbuf(&t);
  return rc;
}

/* ---- measures ------------------------------------------------------------------- */

int cj_rbm_free_energy(const cj_rbm *r, const double *V, int64_t m, double *F)
{
  int64_t nv = r->nv, nh = r->nh, blk = 256;
  double *X = cj_malloc(sizeof(double) * (size_t)(blk * nh));
  int rc = CJ_OK;
  if (!X) return cj_fail(CJ_ENOMEM, "rbm: out of memory");
  for (int64_t r0 = 0; r0 < m; r0 += blk) {
    int64_t B = m - r0 < blk ? m - r0 : blk;
    for (int64_t q = 0; q < B; q++) memcpy(X + q * nh, r->c, sizeof(double) * (size_t)nh);
    if ((rc = cj_dgemm(0, 0, B, nh, nv, 1.0, V + r0 * nv, nv, r->W, nh, 1.0, X, nh))) break;
    for (int64_t q = 0; q < B; q++) {
      const double *v = V + (r0 + q) * nv;
      double f = 0;
      for (int64_t i = 0; i < nv; i++)
        f += r->visible == CJ_RBM_BINARY ? -r->a[i] * v[i] : 0.5 * (v[i] - r->a[i]) * (v[i] - r->a[i]);
      for (int64_t j = 0; j < nh; j++) f -= softplus(X[q * nh + j]);
      F[r0 + q] = f;
    }
  }
  cj_free(X);
  return rc;
}

/* Running log-sum-exp. */
typedef struct lse { double mx, s; } lse;
static void lseadd(lse *l, double x)
{
  if (x > l->mx) {
    l->s = l->s * exp(l->mx - x) + 1.0;
    l->mx = x;
  } else {
    l->s += exp(x - l->mx);
  }
}

int cj_rbm_logZ(const cj_rbm *r, double *logZ)
{
  int64_t nv = r->nv, nh = r->nh, blk, N;
  int hid = r->visible == CJ_RBM_GAUSSIAN || nh <= nv;
  int64_t ne = hid ? nh : nv, no = hid ? nv : nh;
  double *S, *X;
  lse l = { -INFINITY, 0 };
  int rc = CJ_OK;
  if (ne > CJ_BZ_EXACT_MAX)
    return cj_fail(CJ_EINVAL, "rbm log partition function: enumerating %lld %s units (at most %d)",
                   (long long)ne, hid ? "hidden" : "visible", CJ_BZ_EXACT_MAX);
  N = (int64_t)1 << ne;
  blk = N < 1024 ? N : 1024;
  S = cj_malloc(sizeof(double) * (size_t)(blk * ne));
  X = cj_malloc(sizeof(double) * (size_t)(blk * no));
  if (!S || !X) {
    rc = cj_fail(CJ_ENOMEM, "rbm: out of memory");
    goto done;
  }
  for (int64_t x0 = 0; x0 < N; x0 += blk) {
    for (int64_t q = 0; q < blk; q++)
      for (int64_t i = 0; i < ne; i++) S[q * ne + i] = (double)(((uint64_t)(x0 + q) >> i) & 1);
    if (hid) rc = cj_dgemm(0, 1, blk, nv, nh, 1.0, S, nh, r->W, nh, 0.0, X, nv);
    else rc = cj_dgemm(0, 0, blk, nh, nv, 1.0, S, nv, r->W, nh, 0.0, X, nh);
    if (rc) goto done;
    for (int64_t q = 0; q < blk; q++) {
      const double *s = S + q * ne, *x = X + q * no;
      const double *own = hid ? r->c : r->a, *other = hid ? r->a : r->c;
      double val = 0;
      for (int64_t i = 0; i < ne; i++) val += own[i] * s[i];
      if (r->visible == CJ_RBM_GAUSSIAN)
        for (int64_t i = 0; i < no; i++) val += other[i] * x[i] + 0.5 * x[i] * x[i];
      else
        for (int64_t i = 0; i < no; i++) val += softplus(other[i] + x[i]);
      lseadd(&l, val);
    }
  }
  *logZ = l.mx + log(l.s);
  if (r->visible == CJ_RBM_GAUSSIAN) *logZ += 0.5 * (double)nv * log(2 * M_PI);
done:
  cj_free(S);
  cj_free(X);
  return rc;
}

int cj_rbm_pseudo_loglik(const cj_rbm *r, const double *V, int64_t m, int stochastic,
                         uint64_t seed, double *out)
{
  int64_t nv = r->nv, nh = r->nh;
  double *x;
  int rc;
  if (r->visible != CJ_RBM_BINARY)
    return cj_fail(CJ_EINVAL, "pseudo-likelihood needs binary visible units");
  if (!(x = cj_malloc(sizeof(double) * (size_t)nh))) return cj_fail(CJ_ENOMEM, "rbm: out of memory");
  for (int64_t q = 0; q < m; q++) {
    const double *v = V + q * nv;
    double base = 0, tot = 0;
    int64_t i0 = 0, i1 = nv;
    memcpy(x, r->c, sizeof(double) * (size_t)nh);
    if ((rc = cj_dgemv(1, nv, nh, 1.0, r->W, nh, v, 1, 1.0, x, 1))) {
      cj_free(x);
      return rc;
    }
    for (int64_t j = 0; j < nh; j++) base += softplus(x[j]);
    if (stochastic) {
      i0 = (int64_t)(cj_bz_uniform(seed, CJ_BZ_PLL, (uint64_t)q, 0, 0) * (double)nv);
      if (i0 >= nv) i0 = nv - 1;
      i1 = i0 + 1;
    }
    for (int64_t i = i0; i < i1; i++) {
      /* v' = v with unit i flipped (d = v'_i - v_i): F(v) - F(v') =
       * flip - base + d a_i, and log p(v_i | rest) = -softplus(F(v) - F(v')) */
      double d = 1.0 - 2.0 * v[i], flip = 0;
      const double *w = r->W + i * nh;
      for (int64_t j = 0; j < nh; j++) flip += softplus(x[j] + d * w[j]);
      tot -= softplus(flip - base + d * r->a[i]);
    }
    out[q] = stochastic ? (double)nv * tot : tot;
  }
  cj_free(x);
  return CJ_OK;
}

int cj_rbm_recon_error(const cj_rbm *r, const double *V, int64_t m, double *err)
{
  int64_t nv = r->nv, nh = r->nh, blk = 256;
  double *P = cj_malloc(sizeof(double) * (size_t)(blk * nh));
  double *M = cj_malloc(sizeof(double) * (size_t)(blk * nv));
  int rc = CJ_OK;
  if (!P || !M) {
    rc = cj_fail(CJ_ENOMEM, "rbm: out of memory");
    goto done;
  }
  for (int64_t r0 = 0; r0 < m; r0 += blk) {
    int64_t B = m - r0 < blk ? m - r0 : blk;
    if ((rc = uphid(r, V + r0 * nv, B, P)) || (rc = downvis(r, P, B, M))) goto done;
    for (int64_t q = 0; q < B; q++) err[r0 + q] = sqdiff(V + (r0 + q) * nv, M + q * nv, nv);
  }
done:
  cj_free(P);
  cj_free(M);
  return rc;
}

/* ---- sampling -------------------------------------------------------------------- */

/* Block Gibbs for chains g0 .. g0 + SBLOCK - 1 (V, H: SBLOCK rows, V holding
 * the initial states). */
static int sampleblock(const cj_rbm *r, int64_t g0, int64_t steps, uint64_t seed, int meanv,
                       double *V, double *H, double *M, int64_t *ids, double *u)
{
  int64_t nv = r->nv, nh = r->nh;
  int rc;
  for (int64_t q = 0; q < SBLOCK; q++) ids[q] = g0 + q;
  for (int64_t t = 0; t < steps; t++) {
    if ((rc = uphid(r, V, SBLOCK, H))) return rc;
    bernoulli(seed, CJ_BZ_RBM_H, ids, (uint64_t)t, SBLOCK, nh, H, H, u);
    if ((rc = downvis(r, H, SBLOCK, M))) return rc;
    if (t == steps - 1 && meanv) memcpy(V, M, sizeof(double) * (size_t)(SBLOCK * nv));
    else if (r->visible == CJ_RBM_BINARY) bernoulli(seed, CJ_BZ_RBM_V, ids, (uint64_t)t + 1, SBLOCK, nv, M, V, u);
    else gaussian(seed, CJ_BZ_RBM_VN, ids, (uint64_t)t + 1, SBLOCK, nv, M, V);
  }
  return CJ_OK;
}

int cj_rbm_sample(const cj_rbm *r, int64_t n, int64_t chain0, int64_t steps, uint64_t seed,
                  const double *init, int mean_visible, double *Vout, double *Hout)
{
  int64_t nv = r->nv, nh = r->nh;
  double *V, *H, *M, *u;
  int64_t ids[SBLOCK];
  int rc = CJ_OK;
  if (n < 0 || chain0 < 0 || steps < 0) return cj_fail(CJ_EINVAL, "rbm sample: bad sizes");
  V = cj_malloc(sizeof(double) * (size_t)(SBLOCK * nv));
  H = cj_calloc((size_t)(SBLOCK * nh), sizeof(double));
  M = cj_malloc(sizeof(double) * (size_t)(SBLOCK * nv));
  u = cj_malloc(sizeof(double) * (size_t)(nv > nh ? nv : nh));
  if (!V || !H || !M || !u) {
    rc = cj_fail(CJ_ENOMEM, "rbm sample: out of memory");
    goto done;
  }
  for (int64_t g0 = chain0 / SBLOCK * SBLOCK; g0 < chain0 + n; g0 += SBLOCK) {
    for (int64_t q = 0; q < SBLOCK; q++) {     /* initial states */
      int64_t g = g0 + q;
      double *v = V + q * nv;
      if (init && g >= chain0 && g < chain0 + n) {
        memcpy(v, init + (g - chain0) * nv, sizeof(double) * (size_t)nv);
      } else if (r->visible == CJ_RBM_BINARY) {
        cj_bz_uniforms(seed, CJ_BZ_RBM_V, (uint64_t)g, 0, 0, nv, v);
        for (int64_t i = 0; i < nv; i++) v[i] = v[i] < 0.5 ? 1.0 : 0.0;
      } else {
        for (int64_t i = 0; i < nv; i++) v[i] = cj_bz_normal(seed, CJ_BZ_RBM_VN, (uint64_t)g, 0, (uint64_t)i);
      }
    }
    if ((rc = sampleblock(r, g0, steps, seed, mean_visible, V, H, M, ids, u))) goto done;
    for (int64_t q = 0; q < SBLOCK; q++) {
      int64_t g = g0 + q;
      if (g < chain0 || g >= chain0 + n) continue;
      memcpy(Vout + (g - chain0) * nv, V + q * nv, sizeof(double) * (size_t)nv);
      if (Hout) memcpy(Hout + (g - chain0) * nh, H + q * nh, sizeof(double) * (size_t)nh);
    }
  }
done:
  cj_free(V);
  cj_free(H);
  cj_free(M);
  cj_free(u);
  return rc;
}

/* ---- deep belief nets ------------------------------------------------------------ */

static int checkstack(cj_rbm *const *L, int nl)
{
  if (nl < 1) return cj_fail(CJ_EINVAL, "dbn: no layers");
  for (int l = 1; l < nl; l++) {
    if (L[l]->nv != L[l - 1]->nh)
      return cj_fail(CJ_EINVAL, "dbn: layer %d has %lld visible units but layer %d has %lld hidden ones",
                     l + 1, (long long)L[l]->nv, l, (long long)L[l - 1]->nh);
    if (L[l]->visible != CJ_RBM_BINARY)
      return cj_fail(CJ_EINVAL, "dbn: layer %d must have binary visible units", l + 1);
  }
  return CJ_OK;
}

/* Up to layer upto (exclusive): *out (m x nh of layer upto-1) = probabilities,
 * allocated here (the caller frees), or X itself when upto == 0. */
static int uppass(cj_rbm *const *L, int upto, const double *X, int64_t m, double **out)
{
  const double *cur = X;
  double *own = NULL;
  for (int l = 0; l < upto; l++) {
    double *next = cj_malloc(sizeof(double) * (size_t)(m * L[l]->nh) + 1);
    int rc;
    if (!next) {
      cj_free(own);
      return cj_fail(CJ_ENOMEM, "dbn: out of memory");
    }
    if ((rc = uphid(L[l], cur, m, next))) {
      cj_free(next);
      cj_free(own);
      return rc;
    }
    cj_free(own);
    cur = own = next;
  }
  *out = own;
  return CJ_OK;
}

int cj_dbn_train(cj_rbm *const *L, int nl, const double *X, int64_t m, const cj_rbm_train_opts *o)
{
  int rc;
  if ((rc = checkstack(L, nl))) return rc;
  for (int l = 0; l < nl; l++) {
    double *in = NULL;
    if ((rc = uppass(L, l, X, m, &in))) return rc;
    rc = cj_rbm_train(L[l], in ? in : X, m, o, NULL);
    cj_free(in);
    if (rc) return rc;
  }
  return CJ_OK;
}

int cj_dbn_transform(cj_rbm *const *L, int nl, const double *X, int64_t m, double *out)
{
  double *in = NULL;
  int rc;
  if ((rc = checkstack(L, nl)) || (rc = uppass(L, nl - 1, X, m, &in))) return rc;
  rc = uphid(L[nl - 1], in ? in : X, m, out);
  cj_free(in);
  return rc;
}

int cj_dbn_sample(cj_rbm *const *L, int nl, int64_t n, int64_t chain0, int64_t steps, uint64_t seed,
                  int mean_visible, double *V)
{
  int64_t maxw = 0, ids[SBLOCK];
  double *A, *B, *u;
  int rc;
  if ((rc = checkstack(L, nl))) return rc;
  if (n < 0 || chain0 < 0 || steps < 0) return cj_fail(CJ_EINVAL, "dbn sample: bad sizes");
  for (int l = 0; l < nl; l++) maxw = L[l]->nv > maxw ? L[l]->nv : maxw;
  A = cj_malloc(sizeof(double) * (size_t)(SBLOCK * maxw));
  B = cj_malloc(sizeof(double) * (size_t)(SBLOCK * maxw));
  u = cj_malloc(sizeof(double) * (size_t)maxw);
  if (!A || !B || !u) {
    rc = cj_fail(CJ_ENOMEM, "dbn sample: out of memory");
    goto done;
  }
  for (int64_t g0 = chain0 / SBLOCK * SBLOCK; g0 < chain0 + n; g0 += SBLOCK) {
    double *cur = A, *nxt = B, *t;
    for (int64_t q = 0; q < SBLOCK; q++) ids[q] = g0 + q;
    if ((rc = cj_rbm_sample(L[nl - 1], SBLOCK, g0, steps, seed, NULL, 0, cur, NULL))) goto done;
    for (int l = nl - 2; l >= 0; l--) {        /* down pass: v ~ p(v | h) of layer l */
      const cj_rbm *r = L[l];
      if ((rc = downvis(r, cur, SBLOCK, nxt))) goto done;
      if (l > 0 || !mean_visible) {
        uint64_t sw = ((uint64_t)1 << 40) + (uint64_t)l;
        if (r->visible == CJ_RBM_BINARY) bernoulli(seed, CJ_BZ_RBM_V, ids, sw, SBLOCK, r->nv, nxt, nxt, u);
        else gaussian(seed, CJ_BZ_RBM_VN, ids, sw, SBLOCK, r->nv, nxt, nxt);
      }
      t = cur;
      cur = nxt;
      nxt = t;
    }
    for (int64_t q = 0; q < SBLOCK; q++) {
      int64_t g = g0 + q;
      if (g >= chain0 && g < chain0 + n)
        memcpy(V + (g - chain0) * L[0]->nv, cur + q * L[0]->nv, sizeof(double) * (size_t)L[0]->nv);
    }
  }
done:
  cj_free(A);
  cj_free(B);
  cj_free(u);
  return rc;
}
