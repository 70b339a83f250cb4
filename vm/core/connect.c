/*
 * connect.c — the connectivity rules of the network runtime (net.h,
 * IR.md §3): all-to-all, one-to-one, with probability (a constant or a
 * pairs kernel), fixed in- and out-degree, and arrays; the synapses of a
 * projection in CSR order by pre neuron (post[s] per synapse; pre[s] only
 * when a kernel reads it: cj_nx_makepre), and the index by post neuron.
 *
 * The random draws are keyed so that any range of post neurons can be
 * drawn alone (IR.md §4): row r (a pre neuron; for fixed in-degree, a post
 * neuron) of projection pid draws from stream 2^61 + (pid + 1) 2^31 + r of
 * the network's seed, block b of the row from block counter b 2^32.
 *  - probability p: the post slice cut into blocks of a power of two >= 4096
 *    post offsets holding >= 64 expected synapses (blocksize); geometric
 *    gaps from each block's start, so each candidate is still Bernoulli(p);
 *    a self-synapse excluded is dropped where it falls.
 *  - pairs kernel: blocks of 65536 post offsets, one kernel call per block
 *    (ctx.step = i + b 2^32), one uniform per candidate.
 *  - fixed in-degree: one stream per target (block 0).
 *  - fixed out-degree: one stream per row (block 0): k of the whole row.
 *
 * Across MPI ranks (netmpi.h) a rank builds only the synapses whose post
 * neuron it owns (cj_nx_postrange: [own0, own1)): the blocks meeting its
 * range, its own targets, the pairs of its range for the rules without
 * draws; so its work is its share of the synapses plus, in each row, less
 * than a block (two for a pairs kernel). Only fixed out-degree draws every row on every rank (a row's k
 * targets cannot be drawn by part). What a rank keeps is exactly the
 * one-rank synapses onto its neurons, in the same order
 * (cj_net_proj_part; tests/core/test_connect.c).
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

/* What a rank builds: the synapses onto post neurons [own0, own1), i.e. the
 * offsets [lo, hi) of the post slice (lo == hi: none). */
typedef struct conn {
  i32vec post; int64_t *rowptr; int32_t *cpre, *cpost; double *prob;
  int64_t own0, own1, lo, hi;
} conn;

/* Whether post neuron j is built here (always on one rank). */
static inline int mine(const conn *C, int64_t j) { return j >= C->own0 && j < C->own1; }

/* Position r at block b of the stream of row `row` (a pre neuron, or the
 * post neuron of a fixed in-degree) of projection pid: stream
 * 2^61 + (pid + 1) 2^31 + row, from block counter b 2^32 (rng.h). */
static void rowstream(cj_rng *r, const cj_net *net, int pid, int64_t row, int64_t b)
{
  cj_rng_init(r, net->seed, (UINT64_C(1) << 61) | ((uint64_t)pid + 1) << 31 | (uint64_t)row);
  r->counter = (uint64_t)b << 32;
}

/* The post offsets [C->lo, C->hi) of a row, all kept by rule (self `skip`,
 * an absolute index, dropped). */
static int keepall(conn *C, int64_t postlo, int64_t skip)
{
  if (reserve(&C->post, C->post.n + (C->hi - C->lo))) return CJ_ENOMEM;
  for (int64_t x = C->lo; x < C->hi; x++)
    if (postlo + x != skip) C->post.v[C->post.n++] = (int32_t)(postlo + x);
  return 0;
}

/* Post offsets per block of a row for a constant probability p: a power of
 * two holding at least 64 expected synapses, at least 4096. */
static int64_t blocksize(double p)
{
  int64_t b = 4096;
  while ((double)b * p < 64 && b < (INT64_C(1) << 40)) b *= 2;
  return b;
}

#define GAPS 256

/* One block [b0, b1) of post offsets of a row, its stream in r: each offset
 * is a synapse with probability p, by geometric gaps from b0 (exactly
 * Bernoulli(p) per candidate, cj_geom_walk); those in [C->lo, C->hi) are
 * kept, the self `skip` (an absolute index) dropped. The walk stops at
 * min(b1, C->hi). */
static int geomblock(conn *C, const cj_geom *G, cj_rng *r, int64_t postlo, int64_t b0, int64_t b1, int64_t skip)
{
  int64_t at[GAPS], n = GAPS;
  const int64_t end = b1 < C->hi ? b1 : C->hi;
  for (int64_t from = b0; n == GAPS; from = at[GAPS - 1] + 1) {
    n = cj_geom_walk(G, r, from, end, at, GAPS);
    if (reserve(&C->post, C->post.n + n)) return CJ_ENOMEM;
    for (int64_t k = 0; k < n; k++)
      if (at[k] >= C->lo && postlo + at[k] != skip) C->post.v[C->post.n++] = (int32_t)(postlo + at[k]);
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

#define PCHUNK 65536

/* Probability of each pair from a "pairs" kernel, over the row of pre
 * neuron i in blocks of PCHUNK post offsets, those meeting [C->lo, C->hi):
 * one call per block b over its candidates (self excluded), ctx.step =
 * i + b 2^32, so random draws in the kernel are keyed by (i, b, position in
 * the block); each pair is kept when a uniform draw of the block's stream
 * falls below its probability. */
static int pairsrow(cj_net *net, proj *P, int pid, int64_t i, int64_t skip, conn *C)
{
  bound *b = &P->pairs;
  const int64_t nb = P->posthi - P->postlo + 1;
  cj_rng r;
  for (int64_t blk = C->lo / PCHUNK; blk * PCHUNK < C->hi; blk++) {
    const int64_t c1 = (blk + 1) * PCHUNK < nb ? (blk + 1) * PCHUNK : nb;
    int64_t m = 0;
    for (int64_t x = blk * PCHUNK; x < c1; x++)
      if (P->postlo + x != skip) { C->cpre[m] = (int32_t)i; C->cpost[m++] = (int32_t)(P->postlo + x); }
    b->c.pre = C->cpre; b->c.post = C->cpost; b->c.result = C->prob;
    b->c.n = m; b->c.step = i + (blk << 32); b->c.t = 0;
    cj_nx_run(b);
    if (reserve(&C->post, C->post.n + m)) return CJ_ENOMEM;
    rowstream(&r, net, pid, i, blk);
    for (int64_t c = 0; c < m; c++)
      if (cj_rng_uniform(&r) < C->prob[c] && mine(C, C->cpost[c])) C->post.v[C->post.n++] = C->cpost[c];
  }
  return 0;
}

/* The synapses of row i by P's rule (not in-degree, not arrays). */
static int connrow(cj_net *net, proj *P, int pid, int64_t i, int excl, const cj_geom *geo, sampler *S,
                   int64_t *chosen, conn *C)
{
  const int64_t nb = P->posthi - P->postlo + 1;
  const int64_t skip = excl && i >= P->postlo && i <= P->posthi ? i : -1, m = nb - (skip >= 0);
  cj_rng r;
  int st = 0;
  switch (P->rule) {
  case CJ_RULE_ALL:
    return keepall(C, P->postlo, skip);
  case CJ_RULE_ONE: {
    const int64_t j = P->postlo + (i - P->prelo);
    return !(excl && j == i) && mine(C, j) ? push(&C->post, (int32_t)j) : 0;
  }
  case CJ_RULE_PROB:
    if (P->kpairs) return pairsrow(net, P, pid, i, skip, C);
    if (P->p <= 0) return 0;
    if (P->p >= 1) return keepall(C, P->postlo, skip);
    for (int64_t bs = blocksize(P->p), b = C->lo / bs; b * bs < C->hi && !st; b++) {
      rowstream(&r, net, pid, i, b);
      st = geomblock(C, geo, &r, P->postlo, b * bs, (b + 1) * bs < nb ? (b + 1) * bs : nb, skip);
    }
    return st;
  case CJ_RULE_OUTDEG:        /* k of the whole row: every rank draws all of it */
    if (P->k > m)
      return cj_fail(CJ_EINVAL, "projection '%s': fixed out-degree %lld exceeds the %lld possible targets of neuron %lld",
                     P->name, (long long)P->k, (long long)m, (long long)i);
    rowstream(&r, net, pid, i, 0);
    if ((st = choose(S, &r, m, P->k, chosen)) || (st = reserve(&C->post, C->post.n + P->k))) return st;
    for (int64_t c = 0; c < P->k; c++) {
      const int64_t j = candidate(P->postlo, chosen[c], skip);
      if (mine(C, j)) C->post.v[C->post.n++] = (int32_t)j;
    }
    return 0;
  }
  return 0;
}

static int connrule(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  const int64_t nb = P->posthi - P->postlo + 1, na = P->prehi - P->prelo + 1;
  const int excl = P->pre == P->post && !P->self;
  int64_t *chosen = NULL;
  sampler S = { NULL, 0 };
  cj_geom geo;
  int st = 0;
  cj_geom_init(&geo, P->p);
  if (P->rule == CJ_RULE_OUTDEG && !(chosen = cj_malloc((size_t)(P->k > 0 ? P->k : 1) * sizeof *chosen)))
    return cj_nx_nomem();
  if (P->rule == CJ_RULE_PROB && !P->kpairs && P->p > 0) {
    /* the expected count plus 6 sigma: growing by doubling would copy and
     * touch the largest array of the network several times */
    double mean = (double)na * (double)(C->hi - C->lo) * (P->p < 1 ? P->p : 1);
    double want = mean + 6 * sqrt(mean) + 16;
    if (want < 4e9 && reserve(&C->post, (int64_t)want)) return cj_nx_nomem();
  }
  if (P->kpairs) {
    const int64_t n = nb < PCHUNK ? nb : PCHUNK;
    if (!P->pairs.k &&
        (st = cj_nx_bind(net, &P->pairs, P->kpairs, CJ_DOM_PAIRS, CJ_KK_STMTS, -1, pid, "probability"))) return st;
    C->cpre = cj_malloc((size_t)n * sizeof *C->cpre);
    C->cpost = cj_malloc((size_t)n * sizeof *C->cpost);
    C->prob = cj_malloc((size_t)n * sizeof *C->prob);
    if (!C->cpre || !C->cpost || !C->prob) st = cj_nx_nomem();
  }
  for (int64_t i = 0; i < A->n && !st; i++) {
    C->rowptr[i] = C->post.n;
    if (i < P->prelo || i > P->prehi || (C->lo == C->hi && P->rule != CJ_RULE_OUTDEG)) continue;
    if (!(st = cj_nx_stopped(net, P, i - P->prelo, na)) &&
        (st = connrow(net, P, pid, i, excl, &geo, &S, chosen, C)) == CJ_ENOMEM) st = cj_nx_nomem();
  }
  C->rowptr[A->n] = C->post.n;
  cj_free(chosen);
  cj_free(S.tab);
  cj_free(C->cpre); cj_free(C->cpost); cj_free(C->prob);
  return st;
}

/* Fixed in-degree: sources chosen per target, each target from its own
 * stream (so a rank draws only for its own targets), then sorted into CSR
 * rows. */
static int connindeg(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  const int64_t na = P->prehi - P->prelo + 1, k = P->k;
  const int excl = P->pre == P->post && !P->self;
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
  if ((uint64_t)k * (uint64_t)(P->posthi - P->postlo + 1) > INT32_MAX * 4ull)
    return cj_fail(CJ_EINVAL, "projection '%s': too many synapses", P->name);
  const int64_t nl = C->hi - C->lo;          /* targets built here: offsets lo .. hi - 1 */
  src = cj_malloc((size_t)(k * nl > 0 ? k * nl : 1) * sizeof *src);
  fill = cj_calloc((size_t)A->n + 1, sizeof *fill);
  if (!src || !fill || reserve(&C->post, k * nl)) {
    cj_free(src); cj_free(fill);
    return cj_nx_nomem();
  }
  for (int64_t jj = C->lo; jj < C->hi && !st; jj++) {
    const int64_t j = P->postlo + jj, skip = excl && j >= P->prelo && j <= P->prehi ? j : -1;
    int64_t *out = src + (jj - C->lo) * k;
    if ((st = cj_nx_stopped(net, P, jj - C->lo, nl))) break;
    rowstream(&r, net, pid, j, 0);
    if (!(st = choose(&S, &r, na - (skip >= 0), k, out)))
      for (int64_t c = 0; c < k; c++) { out[c] = candidate(P->prelo, out[c], skip); fill[out[c]]++; }
  }
  if (!st) {
    int64_t acc = 0;
    for (int64_t i = 0; i < A->n; i++) { C->rowptr[i] = acc; acc += fill[i]; fill[i] = C->rowptr[i]; }
    C->rowptr[A->n] = acc;
    for (int64_t jj = 0; jj < nl; jj++)      /* targets ascending: rows come out sorted */
      for (int64_t c = 0; c < k; c++) C->post.v[fill[src[jj * k + c]]++] = (int32_t)(P->postlo + C->lo + jj);
    C->post.n = acc;
  }
  cj_free(src); cj_free(fill); cj_free(S.tab);
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

/* The CSR of projection pid onto its post neurons [own0, own1) into C. */
static int connpart(cj_net *net, proj *P, int pid, conn *C)
{
  pop *A = &net->pop[P->pre];
  int st;
  if ((st = checkslices(net, P))) return st;
  C->lo = C->own0 > P->postlo ? C->own0 - P->postlo : 0;
  C->hi = C->own1 - P->postlo < P->posthi - P->postlo + 1 ? C->own1 - P->postlo : P->posthi - P->postlo + 1;
  if (C->hi < C->lo) C->hi = C->lo;
  if (!(C->rowptr = cj_calloc((size_t)A->n + 1, sizeof *C->rowptr))) return cj_nx_nomem();
  if (P->rule == CJ_RULE_INDEG) st = connindeg(net, P, pid, C);
  else if (P->rule == CJ_RULE_ARRAYS) st = connarrays(net, P, C);
  else st = connrule(net, P, pid, C);
  if (!st && C->post.n > INT32_MAX * 4ll)
    st = cj_fail(CJ_EINVAL, "projection '%s': too many synapses (%lld)", P->name, (long long)C->post.n);
  if (!st && !C->post.v && reserve(&C->post, 1)) st = cj_nx_nomem();
  if (st) { cj_free(C->rowptr); cj_free(C->post.v); }
  return st;
}

/* Build the CSR of projection pid; leaves spost/rowptr/nsyn set. */
int cj_nx_connect(cj_net *net, proj *P, int pid)
{
  conn C = { .own0 = 0 };
  int st;
  cj_nx_postrange(net, P, &C.own0, &C.own1);
  if ((st = connpart(net, P, pid, &C))) return st;
  P->rowptr = C.rowptr;
  P->spost = C.post.v;
  P->nsyn = C.post.n;
  return 0;
}

int cj_net_proj_part(cj_net *net, int j, int64_t own0, int64_t own1, int64_t **rowptr, int32_t **post,
                     int64_t *nsyn)
{
  conn C = { .own0 = own0, .own1 = own1 };
  int st;
  if (!net->built) return cj_fail(CJ_EINVAL, "network '%s' is not built", net->name);
  if (j < 0 || j >= net->nproj) return cj_fail(CJ_ERANGE, "projection %d out of range (0..%d)", j, net->nproj - 1);
  proj *P = &net->proj[j];
  if (P->rule == CJ_RULE_ARRAYS)
    return cj_fail(CJ_EINVAL, "projection '%s': synapses from arrays are selected, not drawn", P->name);
  if ((st = connpart(net, P, j, &C))) return st;
  *rowptr = C.rowptr;
  *post = C.post.v;
  *nsyn = C.post.n;
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
