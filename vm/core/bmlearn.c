/*
 * bmlearn.c — Boltzmann machines with visible and hidden +-1 units and their
 * learning rule (Ackley, Hinton & Sejnowski 1985): the log-likelihood
 * gradient is <s_i s_j>_data - <s_i s_j>_model, the first average taken
 * with the visible units clamped to the data (the hidden ones sampled from
 * their conditional distribution), the second over the free-running
 * machine. Both phases are sampled by cj_bz_gibbs (persistent free-phase
 * chains: Younes 1989, Tieleman 2008) or, for small machines, computed
 * exactly by cj_bz_exact. Sufficient statistics are summed with cj_dsyrk.
 */
#include "boltzmann.h"

#include <math.h>
#include <string.h>

#include "array.h"

cj_bm *cj_bm_new(int64_t nv, int64_t nh, const unsigned char *mask, double sd, uint64_t seed)
{
  cj_bm *m;
  int64_t n = nv + nh;
  if (nv < 1 || nh < 0 || n > 46340) {
    cj_fail(CJ_EINVAL, "bm: bad sizes (%lld visible, %lld hidden)", (long long)nv, (long long)nh);
    return NULL;
  }
  if (!(sd >= 0) || !isfinite(sd)) {
    cj_fail(CJ_EINVAL, "bm: initial weight sd must be >= 0 and finite (got %g)", sd);
    return NULL;
  }
  if (mask)
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = i + 1; j < n; j++)
        if (!mask[i * n + j] != !mask[j * n + i]) {
          cj_fail(CJ_EINVAL, "bm: mask must be symmetric (element %lld, %lld)", (long long)i, (long long)j);
          return NULL;
        }
  if (!(m = cj_calloc(1, sizeof *m))) goto nomem;
  m->nv = nv;
  m->nh = nh;
  m->n = n;
  m->seed = seed;
  m->W = cj_calloc((size_t)(n * n), sizeof(double));
  m->b = cj_calloc((size_t)n, sizeof(double));
  m->mask = cj_calloc((size_t)(n * n), 1);
  m->vW = cj_calloc((size_t)(n * n), sizeof(double));
  m->vb = cj_calloc((size_t)n, sizeof(double));
  if (!m->W || !m->b || !m->mask || !m->vW || !m->vb) goto nomem;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++) {
      unsigned char on = mask ? mask[i * n + j] != 0 : 1;
      m->mask[i * n + j] = m->mask[j * n + i] = on;
      if (on && sd > 0)
        m->W[i * n + j] = m->W[j * n + i] =
          sd * cj_bz_normal(seed, CJ_BZ_WEIGHTS, 0, 0, (uint64_t)(i * n + j));
    }
  return m;
nomem:
  cj_bm_free(m);
  cj_fail(CJ_ENOMEM, "bm: out of memory");
  return NULL;
}

void cj_bm_free(cj_bm *m)
{
  if (!m) return;
  cj_free(m->W);
  cj_free(m->b);
  cj_free(m->mask);
  cj_free(m->vW);
  cj_free(m->vb);
  cj_free(m->chains);
  cj_free(m);
}

size_t cj_bm_memsize(const cj_bm *m)
{
  size_t n = (size_t)m->n;
  return sizeof *m + n * n * (2 * sizeof(double) + 1) + 2 * n * sizeof(double) +
         (size_t)m->nchains * n * sizeof(double);
}

void cj_bm_train_defaults(cj_bm_train_opts *o)
{
  memset(o, 0, sizeof *o);
  o->epochs = 10;
  o->batch = 10;
  o->lr = 0.05;
  o->persistent = 1;
  o->chains = 100;
  o->burnin = 20;
  o->sweeps = 1;
  o->shuffle = 1;
}

/* Scratch of one training call. */
typedef struct work {
  double *G, *g;          /* accumulated <s s'>, <s> of a phase */
  double *Gd, *gd;        /* the data phase's, kept while the model phase runs */
  double *buf;            /* samples: max(sweeps, chains * sweeps) x n */
  double *state;          /* fresh chains: chains x n */
  double *betas;          /* anneal ++ ones */
  double *Whh, *bh;       /* hidden sub-machine (exact clamped phase) */
  double *mh, *ch;        /* its exact mean and correlations */
  int64_t *perm;
  unsigned char *clamp;
} work;

static void freework(work *w)
{
  cj_free(w->G);
  cj_free(w->g);
  cj_free(w->Gd);
  cj_free(w->gd);
  cj_free(w->buf);
  cj_free(w->state);
  cj_free(w->betas);
  cj_free(w->Whh);
  cj_free(w->bh);
  cj_free(w->mh);
  cj_free(w->ch);
  cj_free(w->perm);
  cj_free(w->clamp);
}

/* G += alpha S'S, g += alpha S'1 for the cnt x n samples S. */
static int accumulate(double *G, double *g, const double *S, int64_t cnt, int64_t n, double alpha)
{
  for (int64_t r = 0; r < cnt; r++)
    for (int64_t i = 0; i < n; i++) g[i] += alpha * S[r * n + i];
  return cj_dsyrk(1, n, cnt, alpha, S, n, 1.0, G, n);
}

/* The clamped phase for one data row v (weight alpha): exact posterior of
 * the hidden units. */
static int clamped_exact(const cj_bm *m, work *w, const double *v, double alpha)
{
  int64_t nv = m->nv, nh = m->nh, n = m->n;
  cj_bz_exact_out x;
  int rc;
  for (int64_t j = 0; j < nh; j++) {
    double acc = m->b[nv + j];
    for (int64_t i = 0; i < nv; i++) acc += m->W[(nv + j) * n + i] * v[i];
    w->bh[j] = acc;
  }
  memset(&x, 0, sizeof x);
  x.mean = w->mh;
  x.corr = w->ch;
  if ((rc = cj_bz_exact(w->Whh, w->bh, nh, 1.0, &x))) return rc;
  for (int64_t i = 0; i < n; i++) {
    double si = i < nv ? v[i] : w->mh[i - nv];
    w->g[i] += alpha * si;
    for (int64_t j = 0; j < n; j++) {
      double sij;
      if (i < nv && j < nv) sij = v[i] * v[j];
      else if (i < nv) sij = v[i] * w->mh[j - nv];
      else if (j < nv) sij = w->mh[i - nv] * v[j];
      else sij = w->ch[(i - nv) * nh + (j - nv)];
      w->G[i * n + j] += alpha * sij;
    }
  }
  return CJ_OK;
}

/* The clamped phase for data row `row` of epoch e, sampled. */
static int clamped_sampled(const cj_bm *m, const cj_bm_train_opts *o, work *w, const double *v,
                           int64_t row, int64_t e, double alpha)
{
  cj_bz_gibbs_opts g;
  int64_t n = m->n, pre = o->anneal ? o->nanneal : o->burnin;
  int rc;
  memcpy(w->state, v, sizeof(double) * (size_t)m->nv);
  cj_bz_uniforms(m->seed, CJ_BZ_CLAMPED_INIT, (uint64_t)row, (uint64_t)e, 0, m->nh, w->state + m->nv);
  for (int64_t j = m->nv; j < n; j++) w->state[j] = w->state[j] < 0.5 ? 1.0 : -1.0;
  cj_bz_gibbs_defaults(&g);
  g.chain0 = row;
  g.burnin = pre;
  g.sweeps = o->sweeps;
  g.start = e * (pre + o->sweeps);
  g.betas = o->anneal ? w->betas : NULL;
  g.seed = m->seed;
  g.purpose = CJ_BZ_CLAMPED;
  g.clamp = w->clamp;
  if ((rc = cj_bz_gibbs(m->W, m->b, n, &g, w->state, w->buf, NULL, NULL))) return rc;
  return accumulate(w->G, w->g, w->buf, o->sweeps, n, alpha / (double)o->sweeps);
}

/* The free phase of update number u. */
static int freephase(cj_bm *m, const cj_bm_train_opts *o, work *w, int64_t u)
{
  int64_t n = m->n, pre = o->anneal ? o->nanneal : o->burnin;
  cj_bz_gibbs_opts g;
  int rc;
  if (o->exact) {
    cj_bz_exact_out x;
    memset(&x, 0, sizeof x);
    x.mean = w->g;
    x.corr = w->G;
    return cj_bz_exact(m->W, m->b, n, 1.0, &x);
  }
  cj_bz_gibbs_defaults(&g);
  g.chains = o->chains;
  g.sweeps = o->sweeps;
  g.seed = m->seed;
  g.purpose = CJ_BZ_FREE;
  if (o->persistent) {
    g.burnin = 0;
    g.start = m->updates * o->sweeps;
    rc = cj_bz_gibbs(m->W, m->b, n, &g, m->chains, w->buf, NULL, NULL);
  } else {
    cj_bz_random_states(m->seed, CJ_BZ_FREE_INIT, 0, o->chains, (uint64_t)u, n, w->state);
    g.burnin = pre;
    g.start = u * (pre + o->sweeps);
    g.betas = o->anneal ? w->betas : NULL;
    rc = cj_bz_gibbs(m->W, m->b, n, &g, w->state, w->buf, NULL, NULL);
  }
  if (rc) return rc;
  return accumulate(w->G, w->g, w->buf, o->chains * o->sweeps, n,
                    1.0 / (double)(o->chains * o->sweeps));
}

static int checkopts(const cj_bm *m, const cj_bm_train_opts *o)
{
  if (o->epochs < 0 || o->batch < 1 || o->chains < 1 || o->burnin < 0 || o->sweeps < 1 ||
      (o->anneal && o->nanneal < 1))
    return cj_fail(CJ_EINVAL, "bm train: bad sizes (epochs %lld, batch %lld, chains %lld, burnin %lld, sweeps %lld)",
                   (long long)o->epochs, (long long)o->batch, (long long)o->chains,
                   (long long)o->burnin, (long long)o->sweeps);
  if (!isfinite(o->lr) || !(o->momentum >= 0 && o->momentum < 1) || !(o->decay >= 0) || !isfinite(o->decay))
    return cj_fail(CJ_EINVAL, "bm train: lr must be finite, momentum in [0, 1), decay >= 0");
  if (o->exact && (m->n > CJ_BZ_EXACT_MAX))
    return cj_fail(CJ_EINVAL, "bm train: exact learning enumerates all %lld units (at most %d)",
                   (long long)m->n, CJ_BZ_EXACT_MAX);
  if (o->anneal)
    for (int64_t k = 0; k < o->nanneal; k++)
      if (!(o->anneal[k] > 0) || !isfinite(o->anneal[k]))
        return cj_fail(CJ_EINVAL, "bm train: anneal: beta must be positive and finite (step %lld: %g)",
                       (long long)k, o->anneal[k]);
  if (o->chains > INT64_MAX / o->sweeps / (m->n ? m->n : 1))
    return cj_fail(CJ_EINVAL, "bm train: too many chains");
  return CJ_OK;
}

static int allocwork(const cj_bm *m, const cj_bm_train_opts *o, int64_t rows, work *w)
{
  int64_t n = m->n, nh = m->nh, pre = o->anneal ? o->nanneal : o->burnin;
  int64_t nbuf = o->chains * o->sweeps > o->sweeps ? o->chains * o->sweeps : o->sweeps;
  int64_t nstate = o->chains > 1 ? o->chains : 1;
  memset(w, 0, sizeof *w);
  w->G = cj_malloc(sizeof(double) * (size_t)(n * n));
  w->g = cj_malloc(sizeof(double) * (size_t)n);
  w->Gd = cj_malloc(sizeof(double) * (size_t)(n * n));
  w->gd = cj_malloc(sizeof(double) * (size_t)n);
  w->buf = cj_malloc(sizeof(double) * (size_t)(nbuf * n));
  w->state = cj_malloc(sizeof(double) * (size_t)(nstate * n));
  w->betas = cj_malloc(sizeof(double) * (size_t)(pre + o->sweeps + 1));
  w->perm = cj_malloc(sizeof(int64_t) * (size_t)(rows > 0 ? rows : 1));
  w->clamp = cj_calloc((size_t)n, 1);
  if (o->exact && nh > 0) {
    w->Whh = cj_malloc(sizeof(double) * (size_t)(nh * nh));
    w->bh = cj_malloc(sizeof(double) * (size_t)nh);
    w->mh = cj_malloc(sizeof(double) * (size_t)nh);
    w->ch = cj_malloc(sizeof(double) * (size_t)(nh * nh));
    if (!w->Whh || !w->bh || !w->mh || !w->ch) return cj_fail(CJ_ENOMEM, "bm train: out of memory");
  }
  if (!w->G || !w->g || !w->Gd || !w->gd || !w->buf || !w->state || !w->betas || !w->perm || !w->clamp)
    return cj_fail(CJ_ENOMEM, "bm train: out of memory");
  for (int64_t i = 0; i < m->nv; i++) w->clamp[i] = 1;
  if (o->anneal) memcpy(w->betas, o->anneal, sizeof(double) * (size_t)o->nanneal);
  for (int64_t k = o->anneal ? o->nanneal : pre; k < pre + o->sweeps; k++) w->betas[k] = 1.0;
  return CJ_OK;
}

/* Persistent chains: o->chains of them, started at random the first time
 * (or when their number changes). */
static int ensurechains(cj_bm *m, const cj_bm_train_opts *o)
{
  if (!o->persistent || o->exact || (m->chains && m->nchains == o->chains)) return CJ_OK;
  cj_free(m->chains);
  m->nchains = 0;
  if (!(m->chains = cj_malloc(sizeof(double) * (size_t)(o->chains * m->n))))
    return cj_fail(CJ_ENOMEM, "bm train: out of memory");
  m->nchains = o->chains;
  cj_bz_random_states(m->seed, CJ_BZ_FREE_INIT, 0, o->chains, UINT64_C(0xffffffffffff), m->n, m->chains);
  return CJ_OK;
}

static void update(cj_bm *m, const cj_bm_train_opts *o, const work *w)
{
  int64_t n = m->n;
  for (int64_t i = 0; i < n; i++) {
    double gb = w->gd[i] - w->g[i];
    m->vb[i] = o->momentum * m->vb[i] + o->lr * gb;
    m->b[i] += m->vb[i];
    for (int64_t j = i + 1; j < n; j++) {
      int64_t k = i * n + j;
      double gw;
      if (!m->mask[k]) continue;
      gw = w->Gd[k] - w->G[k] - o->decay * m->W[k];
      m->vW[k] = o->momentum * m->vW[k] + o->lr * gw;
      m->W[k] += m->vW[k];
      m->W[j * n + i] = m->W[k];
    }
  }
}

int cj_bm_train(cj_bm *m, const double *X, int64_t rows, const cj_bm_train_opts *o)
{
  int64_t n = m->n, nv = m->nv, nh = m->nh;
  work w;
  int rc;
  if ((rc = checkopts(m, o))) return rc;
  if (rows < 1) return cj_fail(CJ_EINVAL, "bm train: no data rows");
  if ((rc = allocwork(m, o, rows, &w)) || (rc = ensurechains(m, o))) goto done;
  for (int64_t ep = 0; ep < o->epochs; ep++) {
    int64_t e = m->epochs;
    if (o->shuffle) cj_bz_permutation(m->seed, CJ_BZ_SHUFFLE, 0, (uint64_t)e, rows, w.perm);
    else for (int64_t r = 0; r < rows; r++) w.perm[r] = r;
    for (int64_t b0 = 0; b0 < rows; b0 += o->batch) {
      int64_t B = rows - b0 < o->batch ? rows - b0 : o->batch;
      memset(w.G, 0, sizeof(double) * (size_t)(n * n));
      memset(w.g, 0, sizeof(double) * (size_t)n);
      if (o->exact && nh > 0)
        for (int64_t i = 0; i < nh; i++)
          for (int64_t j = 0; j < nh; j++) w.Whh[i * nh + j] = m->W[(nv + i) * n + nv + j];
      for (int64_t q = 0; q < B; q++) {
        int64_t row = w.perm[b0 + q];
        const double *v = X + row * nv;
        if (nh == 0) rc = accumulate(w.G, w.g, v, 1, n, 1.0 / (double)B);
        else if (o->exact) rc = clamped_exact(m, &w, v, 1.0 / (double)B);
        else rc = clamped_sampled(m, o, &w, v, row, e, 1.0 / (double)B);
        if (rc) goto done;
      }
      memcpy(w.Gd, w.G, sizeof(double) * (size_t)(n * n));
      memcpy(w.gd, w.g, sizeof(double) * (size_t)n);
      memset(w.G, 0, sizeof(double) * (size_t)(n * n));
      memset(w.g, 0, sizeof(double) * (size_t)n);
      if ((rc = freephase(m, o, &w, m->updates))) goto done;
      update(m, o, &w);
      m->updates++;
    }
    m->epochs++;
  }
done:
  freework(&w);
  return rc;
}
