/*
 * test_connect.c — the connectivity rules of the network runtime (vm/core/connect.c),
 * driven through the C API with hand-written IR.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netfix.h"
#include "netmpi.h"
#include "rng.h"

/* ---- connectivity ---------------------------------------------------------- */

typedef struct built { cj_net *net; int64_t nsyn; const int32_t *pre, *post; } built;

static built mkconn(cj_projdef d, int64_t na, int64_t nb, int samepop, uint64_t seed)
{
  built b;
  b.net = cj_net_new("conn", 1e-4, seed);
  OK(addpop(b.net, "A", na, 1, V1, 0, 0, 0, 0, 0));
  if (!samepop) OK(addpop(b.net, "B", nb, 1, V1, 0, 0, 0, 0, 0));
  d.pre = 0; d.post = samepop ? 0 : 1;
  OK(cj_net_add_proj(b.net, &d));
  OK(cj_net_build(b.net));
  b.nsyn = cj_net_proj_nsyn(b.net, 0);
  b.pre = cj_net_proj_pre(b.net, 0);
  b.post = cj_net_proj_post(b.net, 0);
  /* the invariant of every rule: synapses ordered by pre, then post */
  for (int64_t s = 1; s < b.nsyn; s++)
    cr_assert(b.pre[s - 1] < b.pre[s] || (b.pre[s - 1] == b.pre[s] && b.post[s - 1] <= b.post[s]),
              "synapse order broken at %lld", (long long)s);
  return b;
}

Test(connect, all_to_all_counts_with_and_without_self)
{
  cj_projdef d = proj("all", 0, 0, 40, 30, CJ_RULE_ALL);
  built b = mkconn(d, 40, 30, 0, 1);
  cr_assert_eq(b.nsyn, 40 * 30);
  for (int64_t s = 0; s < b.nsyn; s++) { cr_assert_eq(b.pre[s], s / 30); cr_assert_eq(b.post[s], s % 30); }
  cj_net_free(b.net);
  d = proj("all", 0, 0, 50, 50, CJ_RULE_ALL);
  d.self = 0;
  b = mkconn(d, 50, 50, 1, 1);
  cr_assert_eq(b.nsyn, 50 * 49);
  for (int64_t s = 0; s < b.nsyn; s++) cr_assert_neq(b.pre[s], b.post[s]);
  cj_net_free(b.net);
  /* slices: pre 10..19 of 50, post 5..9 */
  d = proj("all", 0, 0, 50, 50, CJ_RULE_ALL);
  d.self = 0; d.pre_lo = 10; d.pre_hi = 19; d.post_lo = 5; d.post_hi = 12;
  b = mkconn(d, 50, 50, 1, 1);
  cr_assert_eq(b.nsyn, 10 * 8 - 3);   /* 10, 11, 12 would connect to themselves */
  for (int64_t s = 0; s < b.nsyn; s++) {
    cr_assert(b.pre[s] >= 10 && b.pre[s] <= 19 && b.post[s] >= 5 && b.post[s] <= 12);
    cr_assert_neq(b.pre[s], b.post[s]);
  }
  cj_net_free(b.net);
}

Test(connect, one_to_one)
{
  cj_projdef d = proj("one", 0, 0, 20, 20, CJ_RULE_ONE);
  d.pre_lo = 5; d.pre_hi = 14; d.post_lo = 0; d.post_hi = 9;
  built b = mkconn(d, 20, 20, 0, 1);
  cr_assert_eq(b.nsyn, 10);
  for (int64_t s = 0; s < 10; s++) { cr_assert_eq(b.pre[s], 5 + s); cr_assert_eq(b.post[s], s); }
  cj_net_free(b.net);
  d.post_hi = 10;
  cj_net *net = cj_net_new("x", 1e-4, 1);
  OK(addpop(net, "A", 20, 1, V1, 0, 0, 0, 0, 0));
  d.pre = d.post = 0;
  OK(cj_net_add_proj(net, &d));
  buildfails(net, "one-to-one needs slices of equal size (10 and 11)");
}

Test(connect, probability_count_within_5_sigma_and_no_self)
{
  const double p = 0.02;
  const int64_t n = 4000;
  int64_t total = 0;
  for (uint64_t seed = 1; seed <= 3; seed++) {
    cj_projdef d = proj("prob", 0, 0, n, n, CJ_RULE_PROB);
    d.p = p; d.self = 0;
    built b = mkconn(d, n, n, 1, seed);
    double N = (double)n * (n - 1), mean = N * p, sd = sqrt(N * p * (1 - p));
    cr_assert(fabs(b.nsyn - mean) < 5 * sd, "%lld synapses, expected %g +- %g", (long long)b.nsyn, mean, 5 * sd);
    for (int64_t s = 0; s < b.nsyn; s++) cr_assert_neq(b.pre[s], b.post[s]);
    for (int64_t s = 1; s < b.nsyn; s++)
      cr_assert(b.pre[s] != b.pre[s - 1] || b.post[s] != b.post[s - 1], "duplicate synapse");
    /* in-degrees are Binomial(n-1, p): their variance too (5 sigma of the sample variance) */
    int64_t *deg = calloc(n, sizeof *deg);
    for (int64_t s = 0; s < b.nsyn; s++) deg[b.post[s]]++;
    double m = 0, v = 0;
    for (int64_t j = 0; j < n; j++) m += deg[j];
    m /= n;
    for (int64_t j = 0; j < n; j++) v += (deg[j] - m) * (deg[j] - m);
    v /= n - 1;
    double bv = (n - 1) * p * (1 - p);
    cr_assert(fabs(v - bv) < 5 * bv * sqrt(2.0 / n), "in-degree variance %g, expected %g", v, bv);
    free(deg);
    total += b.nsyn;
    cj_net_free(b.net);
  }
  cr_assert_gt(total, 0);
  /* p = 0 and p = 1 are exact */
  cj_projdef d = proj("p0", 0, 0, 30, 30, CJ_RULE_PROB);
  d.p = 0;
  built b = mkconn(d, 30, 30, 0, 1);
  cr_assert_eq(b.nsyn, 0);
  cj_net_free(b.net);
  d.p = 1; d.self = 0;
  b = mkconn(d, 30, 30, 1, 1);
  cr_assert_eq(b.nsyn, 30 * 29);
  cj_net_free(b.net);
}

Test(connect, same_seed_same_network_other_seed_other_network)
{
  cj_projdef d = proj("prob", 0, 0, 500, 500, CJ_RULE_PROB);
  d.p = 0.1;
  built a = mkconn(d, 500, 500, 1, 7), b = mkconn(d, 500, 500, 1, 7), c = mkconn(d, 500, 500, 1, 8);
  cr_assert_eq(a.nsyn, b.nsyn);
  cr_assert(memcmp(a.post, b.post, a.nsyn * 4) == 0);
  cr_assert(a.nsyn != c.nsyn || memcmp(a.post, c.post, a.nsyn * 4) != 0);
  cj_net_free(a.net); cj_net_free(b.net); cj_net_free(c.net);
}

static void checkdegree(int rule, int64_t na, int64_t nb, int64_t k, int same, int self)
{
  cj_projdef d = proj("deg", 0, 0, na, nb, rule);
  d.k = k; d.self = self;
  built b = mkconn(d, na, nb, same, 3);
  int64_t nfix = rule == CJ_RULE_INDEG ? nb : na, nfree = rule == CJ_RULE_INDEG ? na : nb;
  cr_assert_eq(b.nsyn, k * nfix);
  int64_t *deg = calloc(nfix, sizeof *deg), *use = calloc(nfree, sizeof *use);
  char *seen = calloc(nfix * nfree, 1);
  for (int64_t s = 0; s < b.nsyn; s++) {
    int64_t fixed = rule == CJ_RULE_INDEG ? b.post[s] : b.pre[s], other = rule == CJ_RULE_INDEG ? b.pre[s] : b.post[s];
    deg[fixed]++;
    use[other]++;
    cr_assert(!seen[fixed * nfree + other], "duplicate synapse %d -> %d", b.pre[s], b.post[s]);
    seen[fixed * nfree + other] = 1;
    if (same && !self) cr_assert_neq(b.pre[s], b.post[s]);
  }
  for (int64_t x = 0; x < nfix; x++) cr_assert_eq(deg[x], k, "degree of %lld is %lld", (long long)x, (long long)deg[x]);
  /* the free side is chosen uniformly: each is used ~ k nfix / nfree times (binomial-like, 6 sigma) */
  double mean = (double)k * nfix / nfree, sd = sqrt(mean * (1.0 - (double)k / nfree));
  for (int64_t x = 0; x < nfree; x++)
    cr_assert(fabs(use[x] - mean) < 6 * sd + 1, "neuron %lld used %lld times, expected %g", (long long)x, (long long)use[x], mean);
  free(deg); free(use); free(seen);
  cj_net_free(b.net);
}

Test(connect, fixed_indegree_is_exact)
{
  checkdegree(CJ_RULE_INDEG, 1000, 300, 40, 0, 1);    /* Floyd sampling */
  checkdegree(CJ_RULE_INDEG, 200, 200, 150, 1, 0);    /* selection sampling, no self */
  checkdegree(CJ_RULE_INDEG, 50, 50, 49, 1, 0);       /* every other neuron */
}

Test(connect, fixed_outdegree_is_exact)
{
  checkdegree(CJ_RULE_OUTDEG, 300, 1000, 40, 0, 1);
  checkdegree(CJ_RULE_OUTDEG, 200, 200, 150, 1, 0);
}

Test(connect, degree_larger_than_possible_is_an_error)
{
  cj_net *net = cj_net_new("x", 1e-4, 1);
  OK(addpop(net, "A", 10, 1, V1, 0, 0, 0, 0, 0));
  cj_projdef d = proj("big", 0, 0, 10, 10, CJ_RULE_INDEG);
  d.k = 10; d.self = 0;
  OK(cj_net_add_proj(net, &d));
  buildfails(net, "fixed in-degree 10 exceeds the 9 possible sources");
}

Test(connect, from_arrays_sorted_with_values)
{
  cj_net *net = cj_net_new("arr", 1e-4, 1);
  OK(addpop(net, "A", 10, 1, V1, 0, 0, 0, 0, 0));
  OK(addpop(net, "B", 10, 1, V1, 0, 0, 0, 0, 0));
  int64_t ai[] = { 3, 1, 3, 0, 1 }, aj[] = { 2, 4, 0, 1, 4 };
  double w[] = { 30.2, 10.4, 30.0, 0.1, 10.41 };
  const double *vals[] = { w };
  const char *wn[] = { "w" };
  cj_projdef d = proj("arr", 0, 1, 10, 10, CJ_RULE_ARRAYS);
  d.pre_lo = 2; d.pre_hi = 9; d.post_lo = 1; d.post_hi = 9;
  d.ai = ai; d.aj = aj; d.na = 5; d.nvars = 1; d.varnames = wn; d.varvalues = vals;
  OK(cj_net_add_proj(net, &d));
  OK(cj_net_build(net));
  cr_assert_eq(cj_net_proj_nsyn(net, 0), 5);
  const int32_t *pre = cj_net_proj_pre(net, 0), *post = cj_net_proj_post(net, 0);
  const double *x = cj_net_proj_var(net, 0, 0);
  int32_t wp[] = { 2, 3, 3, 5, 5 }, wq[] = { 2, 5, 5, 1, 3 };
  double wx[] = { 0.1, 10.4, 10.41, 30.0, 30.2 };
  for (int s = 0; s < 5; s++) {
    cr_assert_eq(pre[s], wp[s]); cr_assert_eq(post[s], wq[s]); cr_assert_eq(x[s], wx[s]);
  }
  cj_net_free(net);
  /* out of the slice */
  net = cj_net_new("arr", 1e-4, 1);
  OK(addpop(net, "A", 10, 1, V1, 0, 0, 0, 0, 0));
  ai[0] = 8;
  d.pre = d.post = 0; d.varvalues = NULL;
  OK(cj_net_add_proj(net, &d));
  buildfails(net, "synapse 1 (i = 8, j = 2) outside the 8 x 9 slice");
}

Test(connect, probability_from_a_pairs_kernel)
{
  /* p(i, j) = 1 if j == i + 1, 0.5 if j == i + 2, else 0 */
  cj_net *net = cj_net_new("pairs", 1e-4, 9);
  K(.id = 1, .name = "p", .domain = CJ_DOM_PAIRS, .ntmp = 1,
    .body = "(let 0 (ifelse (== j (+ i 1)) 1 (ifelse (== j (+ i 2)) 0.5 0)))");
  OK(addpop(net, "A", 2000, 1, V1, 0, 0, 0, 0, 0));
  cj_projdef d = proj("chain", 0, 0, 2000, 2000, CJ_RULE_PROB);
  d.pkernel = 1;
  OK(cj_net_add_proj(net, &d));
  OK(cj_net_build(net));
  int64_t n = cj_net_proj_nsyn(net, 0), one = 0, two = 0;
  const int32_t *pre = cj_net_proj_pre(net, 0), *post = cj_net_proj_post(net, 0);
  for (int64_t s = 0; s < n; s++) {
    cr_assert(post[s] == pre[s] + 1 || post[s] == pre[s] + 2, "synapse %d -> %d", pre[s], post[s]);
    one += post[s] == pre[s] + 1;
    two += post[s] == pre[s] + 2;
  }
  cr_assert_eq(one, 1999);
  cr_assert(fabs(two - 999.0) < 5 * sqrt(1998 * 0.25), "%lld pairs at distance 2", (long long)two);
  cj_net_free(net);
}

/* ---- blocks of a row, and the split across ranks ---------------------------- */

/* With p = 0.05 a row is cut into blocks of 4096 post offsets (connect.c:
 * a power of two >= 4096 holding >= 64 expected synapses), each drawn from
 * its own stream by geometric gaps from its start. Exactness does not care
 * where a block starts: the count at each offset is Binomial(rows, p). Here
 * 2000 rows over a post slice starting at 3 (blocks not aligned with the
 * population), 4 blocks: counts by offset modulo 4096 are Binomial(8000,
 * 0.05), mean 400, sd 19.5. A chi-square over 64 bins of 64 offsets (63
 * degrees of freedom; bound 130, P about 2e-6) and 5-sigma bounds on the
 * first two and last two offsets of a block, where an off-by-one would show. */
Test(connect, probability_blocks_leave_no_mark_at_their_boundaries)
{
  const int64_t na = 2000, nb = 4 * 4096, lo = 3, bs = 4096;
  const double p = 0.05;
  cj_projdef d = proj("prob", 0, 1, na, nb + lo, CJ_RULE_PROB);
  d.p = p; d.post_lo = lo; d.post_hi = lo + nb - 1;
  built b = mkconn(d, na, nb + lo, 0, 11);
  int64_t *res = calloc(bs, sizeof *res);
  for (int64_t s = 0; s < b.nsyn; s++) {
    cr_assert(b.post[s] >= lo && b.post[s] < lo + nb);
    res[(b.post[s] - lo) % bs]++;
  }
  const double mean = (double)na * 4 * p, sd = sqrt(mean * (1 - p));
  static const int64_t edge[] = { 0, 1, 4094, 4095 };
  for (int e = 0; e < 4; e++)
    cr_assert_lt(fabs((double)res[edge[e]] - mean), 5 * sd, "offset %lld of the blocks: %lld synapses, expected %g +- %g",
                 (long long)edge[e], (long long)res[edge[e]], mean, 5 * sd);
  double chi2 = 0, e64 = 64 * mean;
  for (int bin = 0; bin < 64; bin++) {
    int64_t c = 0;
    for (int k = 0; k < 64; k++) c += res[bin * 64 + k];
    chi2 += ((double)c - e64) * ((double)c - e64) / e64;
  }
  cr_assert_lt(chi2, 130, "chi-square of the counts by offset in the block: %g (63 degrees of freedom)", chi2);
  free(res);
  cj_net_free(b.net);
}

/* What ranks owning the cuts [cut[r], cut[r + 1]) of the post population
 * build (cj_net_proj_part; npre: the pre population's size), joined row by row in rank order, is the
 * one-rank projection synapse by synapse, each part inside its cut. */
static void samesplit(cj_net *net, int j, int64_t npre, const int64_t *cut, int nr)
{
  const char *name = cj_net_proj_name(net, j);
  const int64_t n1 = cj_net_proj_nsyn(net, j);
  const int32_t *pre1 = cj_net_proj_pre(net, j), *post1 = cj_net_proj_post(net, j);
  int64_t *rows[8], nsyn[8], total = 0, s = 0;
  int32_t *post[8];
  cr_assert(nr <= 8);
  for (int r = 0; r < nr; r++) {
    OK(cj_net_proj_part(net, j, cut[r], cut[r + 1], &rows[r], &post[r], &nsyn[r]));
    total += nsyn[r];
  }
  cr_assert_eq(total, n1, "%s, %d parts: %lld synapses, one rank %lld", name, nr, (long long)total, (long long)n1);
  for (int64_t i = 0; i < npre; i++) {
    const int64_t s0 = s;
    for (int r = 0; r < nr; r++)
      for (int64_t t = rows[r][i]; t < rows[r][i + 1]; t++, s++) {
        cr_assert(post[r][t] >= cut[r] && post[r][t] < cut[r + 1], "%s: post %d outside part %d", name, post[r][t], r);
        cr_assert(s < n1 && pre1[s] == i && post1[s] == post[r][t], "%s, %d parts: row %lld differs at synapse %lld",
                  name, nr, (long long)i, (long long)s);
      }
    cr_assert(s == n1 || pre1[s] != i, "%s, %d parts: row %lld has %lld synapses, fewer than on one rank", name, nr,
              (long long)i, (long long)(s - s0));
  }
  cr_assert_eq(s, n1);
  for (int r = 0; r < nr; r++) { cj_free(rows[r]); cj_free(post[r]); }
}

/* Every drawn rule, with self-exclusion and pre/post slices, split 2, 3,
 * 4 and 7 ways as ranks split populations (cj_mpi_range), and at cuts next
 * to block boundaries, a rank of 2 neurons and empty ranks. A (10^4) holds
 * rows of 3 blocks of 4096 (p = 0.05, slice from 7); B (140000) rows of 5
 * blocks of 32768 (p = 0.002) and of 3 blocks of a pairs kernel (65536),
 * whose probability draws random numbers (keyed by the block). */
Test(connect, ranks_build_together_the_one_rank_network)
{
  cj_net *net = cj_net_new("split", 1e-4, 21);
  K(.id = 1, .name = "p", .domain = CJ_DOM_PAIRS, .ntmp = 1, .body = "(let 0 (* 0.01 (rand uniform 0)))");
  OK(addpop(net, "A", 10000, 1, V1, 0, 0, 0, 0, 0));
  OK(addpop(net, "B", 140000, 1, V1, 0, 0, 0, 0, 0));
  static const struct { const char *name; int post, rule, self, pkernel; double p; int64_t k, prelo, prehi, postlo, posthi; } c[7] = {
    { "AA_prob", 0, CJ_RULE_PROB, 0, 0, 0.05, 0, 4000, 4199, 7, 9999 },
    { "AB_prob", 1, CJ_RULE_PROB, 1, 0, 0.002, 0, 0, 299, 0, 139999 },
    { "AB_pairs", 1, CJ_RULE_PROB, 1, 1, 0, 0, 5, 7, 1, 139998 },
    { "AA_indeg", 0, CJ_RULE_INDEG, 0, 0, 0, 30, 100, 2999, 2000, 5999 },
    { "AA_outdeg", 0, CJ_RULE_OUTDEG, 0, 0, 0, 20, 0, 2999, 1000, 8999 },
    { "AA_all", 0, CJ_RULE_ALL, 0, 0, 0, 0, 4090, 4109, 7, 9999 },
    { "AA_one", 0, CJ_RULE_ONE, 0, 0, 0, 0, 0, 4999, 3000, 7999 },
  };
  cj_projdef d[7];
  for (int j = 0; j < 7; j++) {
    d[j] = proj(c[j].name, 0, c[j].post, 10000, c[j].post ? 140000 : 10000, c[j].rule);
    d[j].self = c[j].self; d[j].pkernel = c[j].pkernel; d[j].p = c[j].p; d[j].k = c[j].k;
    d[j].pre_lo = c[j].prelo; d[j].pre_hi = c[j].prehi; d[j].post_lo = c[j].postlo; d[j].post_hi = c[j].posthi;
  }
  for (int j = 0; j < 7; j++) OK(cj_net_add_proj(net, &d[j]));
  OK(cj_net_build(net));
  for (int j = 0; j < 7; j++) cr_assert_gt(cj_net_proj_nsyn(net, j), 0, "%s is empty", d[j].name);
  for (int j = 0; j < 7; j++) {
    const int64_t n = c[j].post ? 140000 : 10000;
    int64_t cut[9];
    for (int K = 2; K <= 7; K += K == 4 ? 3 : 1) {
      for (int r = 0; r < K; r++) cj_mpi_range(n, r, K, &cut[r], &cut[r + 1]);
      samesplit(net, j, 10000, cut, K);
    }
    const int64_t edges[] = { 0, 4102, 4104, 8199, 8199, n };   /* A: blocks start at 7, 4103, 8199 */
    const int64_t edgesB[] = { 0, 32767, 32769, 65537, 65537, n };  /* B: at 0, 32768, ... and 1, 65537 */
    samesplit(net, j, 10000, c[j].post ? edgesB : edges, 5);
  }
  cj_net_free(net);
}
