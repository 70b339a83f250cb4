/*
 * connect.c — the connectivity rules of the network runtime (net.h,
 * IR.md §3): all-to-all, one-to-one, with probability (a constant or a
 * pairs kernel), fixed in- and out-degree, and arrays; the synapses of a
 * projection in CSR order by pre neuron (post[s] per synapse; pre[s] only
 * when a kernel reads it: cj_nx_makepre), and the index by post neuron.
 * Each projection draws from its own cj_rng stream (1000 + projection id).
 *
 * Across MPI ranks (netmpi.h) a rank keeps only the synapses whose post
 * neuron it owns (cj_nx_postrange: [own0, own1)); it walks the same streams
 * through every row, so what it keeps is exactly the one-rank synapses onto
 * its neurons, in the same order.
 */
#include "netimpl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- connectivity ------------------------------------------------------- */

/* Uniform k-subset of {0..m-1}, ascending, into out[0..k). Sequential
 * selection (Knuth's algorithm S) when k is a large part of m, else Floyd's
 * algorithm with a hash set, then a sort. */
typedef struct sampler { int64_t *tab, cap; } sampler;

static int cmpi64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int choose(sampler *S, cj_rng *r, int64_t m, int64_t k, int64_t *out)
{
  if (k * 8 >= m) {
    int64_t got = 0;
    for (int64_t c = 0; c < m && got < k; c++)
      if ((double)(m - c) * cj_rng_uniform(r) < (double)(k - got)) out[got++] = c;
    return 0;
  }
  int64_t cap = 16;
  while (cap < 2 * k) cap *= 2;
  if (cap > S->cap) {
    int64_t *nt = cj_realloc(S->tab, (size_t)cap * sizeof *nt);
    if (!nt) return cj_nx_nomem();
    S->tab = nt; S->cap = cap;
  }
  for (int64_t i = 0; i < cap; i++) S->tab[i] = -1;
  for (int64_t t = m - k, got = 0; t < m; t++, got++) {
    int64_t x = (int64_t)cj_rng_below(r, (uint64_t)t + 1), h;
    for (int pass = 0; pass < 2; pass++) {
      h = (int64_t)(((uint64_t)x * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
      while (S->tab[h] >= 0 && S->tab[h] != x) h = (h + 1) & (cap - 1);
      if (S->tab[h] < 0) break;
      x = t;                       /* x was taken: take t, which cannot be */
    }
    S->tab[h] = x;
    out[got] = x;
  }
  qsort(out, (size_t)k, sizeof *out, cmpi64);
  return 0;
}

/* Candidate c (0-based) of a slice [lo, lo + m) from which `skip` is removed. */
static inline int64_t candidate(int64_t lo, int64_t c, int64_t skip)
{
  int64_t x = lo + c;
  return skip >= 0 && x >= skip ? x + 1 : x;
}

typedef struct conn { i32vec post; int64_t *rowptr; int32_t *cpre, *cpost; double *prob; int64_t own0, own1; } conn;

/* Whether post neuron j is built here (always on one rank). */
static inline int mine(const conn *C, int64_t j) { return j >= C->own0 && j < C->own1; }

/* Keep post j in the row being made, when it is built here. */
static inline int keep(conn *C, int64_t j) { return mine(C, j) ? push(&C->post, (int32_t)j) : 0; }

/* The m candidates of a row (all kept by rule), those built here. */
static int keepall(conn *C, int64_t postlo, int64_t m, int64_t skip)
{
  if (reserve(&C->post, C->post.n + m)) return CJ_ENOMEM;
  for (int64_t c = 0; c < m; c++) {
    const int64_t j = candidate(postlo, c, skip);
    if (mine(C, j)) C->post.v[C->post.n++] = (int32_t)j;
  }
  return 0;
}

void cj_net_set_stop(cj_net *net, cj_stopf stop, void *ud)
{
  net->stop = stop;
  net->stopud = ud;
}

/* Non-zero (a failure status) when the stop test asks to stop while
 * projection P is being connected, at row `done` of `total`. */
int cj_nx_stopped(cj_net *net, const proj *P, int64_t done, int64_t total)
{
  if (!net->stop || !net->stop(net->stopud)) return 0;
  return cj_fail(CJ_ERUNTIME, "interrupted while building network '%s' (projection '%s', %lld of %lld rows)",
                 net->name, P->name, (long long)done, (long long)total);
}

/* Probability of each pair from a "pairs" kernel, called once per pre neuron
 * i over its candidate targets (ctx.step = i, so random draws in the kernel
 * are keyed by (i, candidate)); each pair is kept when a uniform draw of the
 * projection's stream falls below its probability. */
static int pairsrow(proj *P, cj_rng *r, int64_t i, int64_t m, int64_t skip, conn *C)
{
  bound *b = &P->pairs;
  for (int64_t c = 0; c < m; c++) {
    C->cpre[c] = (int32_t)i;
    C->cpost[c] = (int32_t)candidate(P->postlo, c, skip);
  }
  b->c.pre = C->cpre; b->c.post = C->cpost; b->c.result = C->prob;
  b->c.n = m; b->c.step = i; b->c.t = 0;
  cj_nx_run(b);
  if (reserve(&C->post, C->post.n + m)) return CJ_ENOMEM;
  for (int64_t c = 0; c < m; c++)
    if (cj_rng_uniform(r) < C->prob[c] && mine(C, C->cpost[c])) C->post.v[C->post.n++] = C->cpost[c];
  return 0;
}

#define GAPS 256

static int connrule(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre], *B = &net->pop[P->post];
  int64_t nb = P->posthi - P->postlo + 1, na = P->prehi - P->prelo + 1;
  int excl = P->pre == P->post && !P->self;
  int64_t *chosen = NULL;
  sampler S = { NULL, 0 };
  cj_rng r;
  cj_geom geo;
  int64_t gaps[GAPS], ngap = GAPS;  /* drawn ahead: the stream serves only the gaps */
  int st = 0;
  cj_rng_init(&r, net->seed, 1000 + (uint64_t)pid + 1);
  cj_geom_init(&geo, P->p);
  if (P->rule == CJ_RULE_OUTDEG && !(chosen = cj_malloc((size_t)(P->k > 0 ? P->k : 1) * sizeof *chosen)))
    return cj_nx_nomem();
  if (P->rule == CJ_RULE_PROB && !P->kpairs && P->p > 0) {
    /* the expected count plus 6 sigma: growing by doubling would copy and
     * touch the largest array of the network several times */
    double mean = (double)na * (double)nb * (P->p < 1 ? P->p : 1) * (double)(C->own1 - C->own0) / (double)B->n;
    double want = mean + 6 * sqrt(mean) + 16;
    if (want < 4e9 && reserve(&C->post, (int64_t)want)) return cj_nx_nomem();
  }
  if (P->kpairs) {
    if ((st = cj_nx_bind(net, &P->pairs, P->kpairs, CJ_DOM_PAIRS, CJ_KK_STMTS, -1, pid, "probability"))) return st;
    C->cpre = cj_malloc((size_t)nb * sizeof *C->cpre);
    C->cpost = cj_malloc((size_t)nb * sizeof *C->cpost);
    C->prob = cj_malloc((size_t)nb * sizeof *C->prob);
    if (!C->cpre || !C->cpost || !C->prob) st = cj_nx_nomem();
  }
  for (int64_t i = 0; i < A->n && !st; i++) {
    C->rowptr[i] = C->post.n;
    if (i < P->prelo || i > P->prehi) continue;
    if ((st = cj_nx_stopped(net, P, i - P->prelo, na))) break;
    int64_t skip = excl && i >= P->postlo && i <= P->posthi ? i : -1;
    int64_t m = nb - (skip >= 0);
    switch (P->rule) {
    case CJ_RULE_ALL:
      st = keepall(C, P->postlo, m, skip);
      break;
    case CJ_RULE_ONE: {
      int64_t j = P->postlo + (i - P->prelo);
      if (!(excl && j == i)) st = keep(C, j);
      break;
    }
    case CJ_RULE_PROB: {
      if (P->kpairs) { st = pairsrow(P, &r, i, m, skip, C); break; }
      if (P->p <= 0) break;
      if (P->p >= 1) {
        st = keepall(C, P->postlo, m, skip);
        break;
      }
      for (int64_t pos = -1;;) {   /* geometric gaps: exact Bernoulli(p) per candidate */
        if (ngap == GAPS) { cj_geom_fill(&geo, &r, gaps, GAPS); ngap = 0; }
        const int64_t g = gaps[ngap++];
        if (g >= m - pos - 1) break;
        pos += 1 + g;
        if ((st = keep(C, candidate(P->postlo, pos, skip)))) break;
      }
      break;
    }
    case CJ_RULE_OUTDEG:
      if (P->k > m) {
        st = cj_fail(CJ_EINVAL, "projection '%s': fixed out-degree %lld exceeds the %lld possible targets of neuron %lld",
                     P->name, (long long)P->k, (long long)m, (long long)i);
        break;
      }
      if ((st = choose(&S, &r, m, P->k, chosen)) || (st = reserve(&C->post, C->post.n + P->k))) break;
      for (int64_t c = 0; c < P->k; c++) {
        const int64_t j = candidate(P->postlo, chosen[c], skip);
        if (mine(C, j)) C->post.v[C->post.n++] = (int32_t)j;
      }
      break;
    }
  }
  C->rowptr[A->n] = C->post.n;
  cj_free(chosen);
  cj_free(S.tab);
  cj_free(C->cpre); cj_free(C->cpost); cj_free(C->prob);
  return st;
}

/* Fixed in-degree: sources chosen per target, then sorted into CSR rows. */
static int connindeg(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  int64_t nb = P->posthi - P->postlo + 1, na = P->prehi - P->prelo + 1, k = P->k;
  int excl = P->pre == P->post && !P->self;
  int64_t *src, *fill;
  sampler S = { NULL, 0 };
  cj_rng r;
  int st = 0;
  if (k < 0) return cj_fail(CJ_EINVAL, "projection '%s': in-degree must be >= 0", P->name);
  if (excl && P->postlo <= P->prehi && P->prelo <= P->posthi && k > na - 1)
    return cj_fail(CJ_EINVAL, "projection '%s': fixed in-degree %lld exceeds the %lld possible sources",
                   P->name, (long long)k, (long long)na - 1);
  if (k > na)
    return cj_fail(CJ_EINVAL, "projection '%s': fixed in-degree %lld exceeds the %lld possible sources",
                   P->name, (long long)k, (long long)na);
  if ((uint64_t)k * (uint64_t)nb > INT32_MAX * 4ull)
    return cj_fail(CJ_EINVAL, "projection '%s': too many synapses", P->name);
  /* targets built here: jlo .. jhi - 1 of the slice (all on one rank); the
   * stream is walked through every target so each draws what it draws
   * on one rank */
  const int64_t jlo = C->own0 > P->postlo ? C->own0 - P->postlo : 0;
  const int64_t jhi = C->own1 - P->postlo < nb ? (C->own1 - P->postlo > jlo ? C->own1 - P->postlo : jlo) : nb;
  const int64_t nl = jhi - jlo;
  int64_t *scratch = cj_malloc((size_t)(k > 0 ? k : 1) * sizeof *scratch);
  cj_rng_init(&r, net->seed, 1000 + (uint64_t)pid + 1);
  src = cj_malloc((size_t)(k * nl > 0 ? k * nl : 1) * sizeof *src);
  fill = cj_calloc((size_t)A->n + 1, sizeof *fill);
  if (!src || !fill || !scratch || reserve(&C->post, k * nl)) {
    cj_free(src); cj_free(fill); cj_free(scratch);
    return cj_nx_nomem();
  }
  for (int64_t jj = 0; jj < nb && !st; jj++) {
    int64_t j = P->postlo + jj;
    if ((st = cj_nx_stopped(net, P, jj, nb))) break;
    int64_t skip = excl && j >= P->prelo && j <= P->prehi ? j : -1;
    const int here = jj >= jlo && jj < jhi;
    int64_t *out = here ? src + (jj - jlo) * k : scratch;
    if (!(st = choose(&S, &r, na - (skip >= 0), k, out)) && here)
      for (int64_t c = 0; c < k; c++) { out[c] = candidate(P->prelo, out[c], skip); fill[out[c]]++; }
  }
  if (!st) {
    int64_t acc = 0;
    for (int64_t i = 0; i < A->n; i++) { C->rowptr[i] = acc; acc += fill[i]; fill[i] = C->rowptr[i]; }
    C->rowptr[A->n] = acc;
    for (int64_t jj = 0; jj < nl; jj++)      /* targets ascending: rows come out sorted */
      for (int64_t c = 0; c < k; c++) C->post.v[fill[src[jj * k + c]]++] = (int32_t)(P->postlo + jlo + jj);
    C->post.n = acc;
  }
  cj_free(src); cj_free(fill); cj_free(S.tab); cj_free(scratch);
  return st;
}

typedef struct akey { int64_t i, j, at; } akey;

static int cmpakey(const void *a, const void *b)
{
  const akey *x = a, *y = b;
  if (x->i != y->i) return x->i < y->i ? -1 : 1;
  if (x->j != y->j) return x->j < y->j ? -1 : 1;
  return (x->at > y->at) - (x->at < y->at);
}

/* Synapses from arrays (relative to the slices), sorted by (pre, post),
 * keeping the given order of duplicates; the var values follow. */
static int connarrays(cj_net *net, proj *P, conn *C)
{
  pop *A = &net->pop[P->pre];
  int64_t na = P->prehi - P->prelo + 1, nb = P->posthi - P->postlo + 1;
  akey *keys = cj_malloc((size_t)(P->na > 0 ? P->na : 1) * sizeof *keys);
  if (!keys) return cj_nx_nomem();
  for (int64_t s = 0; s < P->na; s++) {
    if (P->ai[s] < 0 || P->ai[s] >= na || P->aj[s] < 0 || P->aj[s] >= nb) {
      int st = cj_fail(CJ_ERANGE, "projection '%s': synapse %lld (i = %lld, j = %lld) outside the %lld x %lld slice",
                       P->name, (long long)s + 1, (long long)P->ai[s], (long long)P->aj[s], (long long)na, (long long)nb);
      cj_free(keys);
      return st;
    }
    keys[s] = (akey){ P->prelo + P->ai[s], P->postlo + P->aj[s], s };
  }
  qsort(keys, (size_t)P->na, sizeof *keys, cmpakey);
  int64_t nk = 0;                   /* the synapses built here, in order */
  for (int64_t s = 0; s < P->na; s++) if (mine(C, keys[s].j)) keys[nk++] = keys[s];
  if (reserve(&C->post, P->na) ||
      !(P->arrvals = cj_calloc((size_t)(P->nvars > 0 ? P->nvars : 1), sizeof *P->arrvals))) {
    cj_free(keys);
    return cj_nx_nomem();
  }
  for (int v = 0; v < P->nvars; v++) {
    if (!P->inval[v]) continue;
    if (!(P->arrvals[v] = cj_malloc((size_t)(P->na > 0 ? P->na : 1) * sizeof(double)))) { cj_free(keys); return cj_nx_nomem(); }
    for (int64_t s = 0; s < nk; s++) P->arrvals[v][s] = P->inval[v][keys[s].at];
  }
  int64_t s = 0;
  for (int64_t i = 0; i < A->n; i++) {
    C->rowptr[i] = s;
    while (s < nk && keys[s].i == i) C->post.v[s] = (int32_t)keys[s].j, s++;
  }
  C->rowptr[A->n] = s;
  C->post.n = s;
  cj_free(keys);
  return 0;
}

static int checkslices(cj_net *net, proj *P)
{
  pop *A = &net->pop[P->pre], *B = &net->pop[P->post];
  if (P->prelo < 0 || P->prehi >= A->n || P->prelo > P->prehi)
    return cj_fail(CJ_ERANGE, "projection '%s': pre slice %lld..%lld outside population '%s' (0..%lld)",
                   P->name, (long long)P->prelo, (long long)P->prehi, A->name, (long long)A->n - 1);
  if (P->postlo < 0 || P->posthi >= B->n || P->postlo > P->posthi)
    return cj_fail(CJ_ERANGE, "projection '%s': post slice %lld..%lld outside population '%s' (0..%lld)",
                   P->name, (long long)P->postlo, (long long)P->posthi, B->name, (long long)B->n - 1);
  if (P->rule == CJ_RULE_ONE && P->prehi - P->prelo != P->posthi - P->postlo)
    return cj_fail(CJ_EINVAL, "projection '%s': one-to-one needs slices of equal size (%lld and %lld)",
                   P->name, (long long)(P->prehi - P->prelo + 1), (long long)(P->posthi - P->postlo + 1));
  if (P->rule == CJ_RULE_PROB && !(P->p >= 0 && P->p <= 1))
    return cj_fail(CJ_EINVAL, "projection '%s': probability %g outside [0, 1]", P->name, P->p);
  if ((P->rule == CJ_RULE_OUTDEG || P->rule == CJ_RULE_INDEG) && P->k < 0)
    return cj_fail(CJ_EINVAL, "projection '%s': degree %lld must be >= 0", P->name, (long long)P->k);
  return 0;
}

/* Build the CSR of projection pid; leaves spost/rowptr/nsyn set. */
int cj_nx_connect(cj_net *net, proj *P, int pid)
{
  pop *A = &net->pop[P->pre];
  conn C = { { NULL, 0, 0 }, NULL, NULL, NULL, NULL, 0, 0 };
  int st;
  if ((st = checkslices(net, P))) return st;
  cj_nx_postrange(net, P, &C.own0, &C.own1);
  if (!(C.rowptr = cj_calloc((size_t)A->n + 1, sizeof *C.rowptr))) return cj_nx_nomem();
  if (P->rule == CJ_RULE_INDEG) st = connindeg(net, P, pid, &C);
  else if (P->rule == CJ_RULE_ARRAYS) st = connarrays(net, P, &C);
  else st = connrule(net, P, pid, &C);
  if (!st && C.post.n > INT32_MAX * 4ll)
    st = cj_fail(CJ_EINVAL, "projection '%s': too many synapses (%lld)", P->name, (long long)C.post.n);
  if (st) { cj_free(C.rowptr); cj_free(C.post.v); return st; }
  P->rowptr = C.rowptr;
  P->spost = C.post.v;
  P->nsyn = C.post.n;
  if (!P->spost && !(P->spost = cj_malloc(sizeof *P->spost))) return cj_nx_nomem();
  return 0;
}

/* pre[s] of every synapse from rowptr, kept in P->spre (a no-op when made). */
int cj_nx_makepre(cj_net *net, proj *P)
{
  if (P->spre) return 0;
  if (!(P->spre = cj_nx_bigalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->spre))) return cj_nx_nomem();
  for (int64_t i = 0; i < net->pop[P->pre].n; i++)
    for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++) P->spre[s] = (int32_t)i;
  return 0;
}

/* The pre neuron of synapse s: the row of rowptr holding s. */
int32_t cj_nx_preof(const cj_net *net, const proj *P, int64_t s)
{
  int64_t lo = 0, hi = net->pop[P->pre].n - 1;
  if (P->spre) return P->spre[s];
  while (lo < hi) {                /* the last row starting at or before s */
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (P->rowptr[mid] <= s) lo = mid; else hi = mid - 1;
  }
  return (int32_t)lo;
}

/* rowptr from spre (restore), and the index by post neuron when needed. */
int cj_nx_indexes(cj_net *net, proj *P)
{
  pop *A = &net->pop[P->pre], *B = &net->pop[P->post];
  if (!P->rowptr) {
    if (!(P->rowptr = cj_calloc((size_t)A->n + 1, sizeof *P->rowptr))) return cj_nx_nomem();
    for (int64_t s = 0; s < P->nsyn; s++) P->rowptr[P->spre[s] + 1]++;
    for (int64_t i = 0; i < A->n; i++) P->rowptr[i + 1] += P->rowptr[i];
  }
  P->maxrow = 0;
  for (int64_t i = 0; i < A->n; i++)
    if (P->rowptr[i + 1] - P->rowptr[i] > P->maxrow) P->maxrow = P->rowptr[i + 1] - P->rowptr[i];
  P->rowsorted = 1;
  for (int64_t i = 0; i < A->n && P->rowsorted; i++)
    for (int64_t s = P->rowptr[i] + 1; s < P->rowptr[i + 1]; s++)
      if (P->spost[s] < P->spost[s - 1]) { P->rowsorted = 0; break; }
  /* the index by post: post events, and sums that threads may split (a
   * network of at least two grains of neurons, threads.h) */
  int64_t work = 0;
  for (int p = 0; p < net->npop; p++) work += net->pop[p].n;
  if (!P->kpost && !(P->nsum && work >= 2 * cj_threads_grain(0))) return 0;
  P->postptr = cj_calloc((size_t)B->n + 1, sizeof *P->postptr);
  P->postsyn = cj_nx_bigalloc((size_t)(P->nsyn > 0 ? P->nsyn : 1) * sizeof *P->postsyn);
  int64_t *fill = cj_calloc((size_t)B->n + 1, sizeof *fill);
  if (!P->postptr || !P->postsyn || !fill) { cj_free(fill); return cj_nx_nomem(); }
  for (int64_t s = 0; s < P->nsyn; s++) P->postptr[P->spost[s] + 1]++;
  for (int64_t j = 0; j < B->n; j++) { P->postptr[j + 1] += P->postptr[j]; fill[j] = P->postptr[j]; }
  for (int64_t s = 0; s < P->nsyn; s++) P->postsyn[fill[P->spost[s]]++] = s;
  cj_free(fill);
  return 0;
}
