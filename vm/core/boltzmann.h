/*
 * boltzmann.h — Boltzmann sampling and associative memory, the core of
 * cj.boltzmann (binding: vm/bind/lboltzmann.c). Four files share it:
 *
 *   boltzmann.c  Boltzmann machines on +-1 units: energy, exact enumeration
 *                (partition function, marginals, correlations), Gibbs /
 *                Metropolis sampling with annealing schedules, the keyed
 *                random numbers every sampler here draws from, and the
 *                {0,1} <-> +-1 change of variables;
 *   bmlearn.c    learning of Boltzmann machines with hidden units
 *                (<s_i s_j>_data - <s_i s_j>_model, clamped and free phases);
 *   hopfield.c   Hopfield networks and dense associative memory;
 *   rbm.c        restricted Boltzmann machines and deep belief nets;
 *   ising.c      the 2-D Ising model on a periodic lattice (checkerboard).
 *
 * Conventions. A Boltzmann machine has n units s_i = +-1 and the energy
 *   E(s) = -1/2 s'Ws - b's,   W symmetric with a zero diagonal,
 * and P(s) = exp(-beta E(s)) / Z. Matrices are row-major double arrays with
 * explicit sizes; callers own every buffer. A state of n units is coded as
 * the integer x = sum_i [s_i = +1] 2^i (unit 0 is the lowest bit) wherever a
 * distribution over all 2^n states is stored. RBMs use {0,1} units (see
 * rbm.c); cj_bz_binary_to_spin converts between the two conventions.
 *
 * Randomness. Every random number here is a pure function of
 * (seed, purpose, chain, sweep, unit) — never of how many numbers were drawn
 * before — so a chain gives the same states whatever the number of chains
 * run beside it, the order they are run in, or how a run is cut into calls.
 * One Philox4x32-10 block (cj_philox, rng.h) with key = seed and counter
 *   { unit >> 1, sweep & 0xffffffff, chain & 0xffffffff,
 *     0x40000000 | purpose << 24 | (sweep >> 32) & 0xffffff }
 * gives two uniforms, CJ_U01(w0, w1) for even units and CJ_U01(w2, w3) for
 * odd ones. Bit 30 of word 3 set and bit 31 clear keep these counters apart
 * from rng.h cursors (bit 31 set) and network kernels (word 3 a small draw
 * index). Normals (Gaussian units) use purposes of their own, one block per
 * unit: counter word 0 = unit, Box-Muller on (CJ_U01(w0,w1), CJ_U01(w2,w3)),
 * cosine branch. Purposes are below 32; a purpose p orders units by
 * p | 32. exp and log are computed from + - * / and bit operations (here
 * and in rng.h), so samplers that do not go through BLAS give the same bits
 * on every machine.
 */
#ifndef CJ_BOLTZMANN_H
#define CJ_BOLTZMANN_H

#include "cj.h"

/* ---- keyed random numbers (boltzmann.c) ------------------------------------ */

enum {
  CJ_BZ_INIT = 1,       /* initial states of chains */
  CJ_BZ_UPDATE,         /* Gibbs / Metropolis decisions of cj_bz_gibbs */
  CJ_BZ_CLAMPED,        /* BM learning: clamped phase */
  CJ_BZ_FREE,           /* BM learning: free phase */
  CJ_BZ_SHUFFLE,        /* minibatch order */
  CJ_BZ_HOPFIELD,       /* Hopfield asynchronous update order */
  CJ_BZ_RBM_H,          /* RBM hidden samples */
  CJ_BZ_RBM_V,          /* RBM binary visible samples */
  CJ_BZ_RBM_VN,         /* RBM Gaussian visible samples (normals) */
  CJ_BZ_RBM_PH,         /* RBM persistent chains: hidden */
  CJ_BZ_RBM_PV,         /* RBM persistent chains: binary visible */
  CJ_BZ_ISING,          /* the Ising lattice */
  CJ_BZ_WEIGHTS,        /* initial weights (normals) */
  CJ_BZ_PLL,            /* stochastic pseudo-likelihood: the flipped unit */
  CJ_BZ_CLAMPED_INIT,   /* BM learning: initial hidden states, clamped phase */
  CJ_BZ_FREE_INIT,      /* BM learning: initial states, free phase */
  CJ_BZ_RBM_PINIT,      /* RBM persistent chains: initial hidden states */
  CJ_BZ_NPURPOSES
};
#define CJ_BZ_ORDER 32  /* purpose | CJ_BZ_ORDER: the update order of purpose */

/* The uniform in [0, 1) of (seed, purpose, chain, sweep, unit). */
double cj_bz_uniform(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                     uint64_t unit);
/* u[k] = cj_bz_uniform(seed, purpose, chain, sweep, unit0 + k), k < n. */
void cj_bz_uniforms(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                    uint64_t unit0, int64_t n, double *u);
/* 32-bit words, four per block: w[k] is word (unit0 + k) & 3 of the block
 * with counter word 0 = (unit0 + k) >> 2. For samplers whose probabilities
 * need no more than 32 bits (the Ising lattice); a purpose used here must
 * not also be used for uniforms. */
void cj_bz_words(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep, uint64_t unit0,
                 int64_t n, uint32_t *w);
/* A standard normal of (seed, purpose, chain, sweep, unit); purpose must not
 * also be used for uniforms. */
double cj_bz_normal(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                    uint64_t unit);
/* perm := a uniformly random permutation of 0..n-1 keyed by (seed, purpose,
 * chain, sweep): Fisher-Yates from k = n-1 down, swapping k with
 * floor(u_k (k+1)), u_k = cj_bz_uniform(..., unit k) (bias below n 2^-53). */
void cj_bz_permutation(uint64_t seed, unsigned purpose, uint64_t chain, uint64_t sweep,
                       int64_t n, int64_t *perm);
/* The logistic function 1 / (1 + exp(-x)), exp computed from + - * / and
 * bit operations (the same bits on every machine); cj_bz_sigmoids applies
 * it in place to n values. */
double cj_bz_sigmoid(double x);
void cj_bz_sigmoids(double *x, int64_t n);
double cj_bz_exp(double x);     /* that exp: within 2 ulp of exp(x) */

/* ---- Boltzmann machines: checks, energy, conversion (boltzmann.c) ------------ */

/* Largest n for exact enumeration (2^24 states; about a second at n = 20). */
#define CJ_BZ_EXACT_MAX 24

/* W (n x n) symmetric with a zero diagonal and finite, b (n, may be NULL)
 * finite. CJ_EINVAL otherwise, with *i, *j the first offending element
 * (*j = -1 for b[*i]) and a message in 0-based indices. */
int cj_bz_check(const double *W, const double *b, int64_t n, int64_t *i, int64_t *j);
/* The first element of x (count n) that is neither -1 nor +1 (pm1 != 0) or
 * neither 0 nor 1 (pm1 == 0), or -1 if none. With frac != 0 (and pm1 == 0)
 * any value in [0, 1] is accepted. NaN always fails. */
int64_t cj_bz_find_nonbinary(const double *x, int64_t n, int pm1, int frac);

/* h = W s + b (b may be NULL), each sum taken in index order after b_i:
 * the same bits on every machine. */
void cj_bz_fields(const double *W, const double *b, int64_t n, const double *s, double *h);

/* E[r] = -1/2 s'Ws - b's for each row s of S (m x n). b may be NULL. */
void cj_bz_energy(const double *W, const double *b, int64_t n, const double *S, int64_t m,
                  double *E);

/* Change of variables z = (s + 1) / 2 between an energy on {0,1} units,
 * E01(z) = -1/2 z'Wz - b'z, and one on +-1 units, E(s) = -1/2 s'Js - h's:
 *   J = W / 4,  h = b / 2 + W 1 / 4,  E01(z) = E(s) + c,
 *   c = -1'W1 / 8 - b'1 / 2.
 * cj_bz_binary_to_spin writes J, h (n x n, n) and returns c through *c
 * (may be NULL); cj_bz_spin_to_binary is its inverse (W = 4J,
 * b = 2h - 2J1; *c as above for the result). In and out may not overlap. */
void cj_bz_binary_to_spin(const double *W, const double *b, int64_t n, double *J, double *h,
                          double *c);
void cj_bz_spin_to_binary(const double *J, const double *h, int64_t n, double *W, double *b,
                          double *c);

/* ---- exact enumeration (boltzmann.c) ------------------------------------- */

/* What cj_bz_exact computes; the caller sets the pointers of what it wants
 * (NULL: not computed). */
typedef struct cj_bz_exact_out {
  double logZ;         /* log sum_s exp(-beta E(s)) */
  double energy;       /* <E> */
  double energy2;      /* <E^2> */
  double *mean;        /* n: <s_i> */
  double *corr;        /* n x n: <s_i s_j> (1 on the diagonal) */
  double *p;           /* 2^n: P(state x), x coded as above */
  int64_t k;           /* with pk: the marginal over units 0..k-1 ... */
  double *pk;          /* 2^k: P(s_0..s_{k-1} = state x) */
} cj_bz_exact_out;

/* Enumerate all 2^n states of the machine (W, b) at inverse temperature
 * beta > 0 (n <= CJ_BZ_EXACT_MAX, b may be NULL). Energies of blocks of
 * states go through cj_dgemm; sums are shifted by the largest -beta E
 * (log-sum-exp). CJ_EINVAL on n out of range, beta <= 0 or k out of range;
 * CJ_ENOMEM; CJ_ERUNTIME without BLAS. Inputs are not checked (cj_bz_check). */
int cj_bz_exact(const double *W, const double *b, int64_t n, double beta, cj_bz_exact_out *o);

/* ---- Gibbs and Metropolis sampling (boltzmann.c) ---------------------------- */

typedef enum { CJ_BZ_HEATBATH = 0, CJ_BZ_METROPOLIS } cj_bz_method;
typedef enum { CJ_BZ_SEQUENTIAL = 0, CJ_BZ_RANDOM } cj_bz_order;

typedef struct cj_bz_gibbs_opts {
  int64_t chains;          /* chains run (rows of state) */
  int64_t chain0;          /* global index of the first: chain c is keyed chain0 + c */
  int64_t burnin;          /* sweeps before the first kept one */
  int64_t sweeps;          /* kept sweeps per chain */
  int64_t thin;            /* one kept sweep every thin sweeps (>= 1) */
  int64_t start;           /* sweep index of the first sweep (continuing a run) */
  double beta;             /* inverse temperature when betas is NULL */
  const double *betas;     /* burnin + sweeps * thin values, one per sweep, or NULL */
  uint64_t seed;
  unsigned purpose;        /* CJ_BZ_UPDATE unless the caller shares a seed */
  cj_bz_method method;
  cj_bz_order order;
  const unsigned char *clamp;  /* n flags or NULL: flagged units keep their values */
} cj_bz_gibbs_opts;

void cj_bz_gibbs_defaults(cj_bz_gibbs_opts *o);

/* Run o->chains chains of single-site updates on (W, b). A sweep visits
 * every unclamped unit once, in index order or in a random order keyed by
 * (chain, sweep). Heat bath (Gibbs): s_i = +1 with probability
 * sigmoid(2 beta h_i), h_i = sum_j W_ij s_j + b_i; Metropolis: flip s_i
 * with probability min(1, exp(-2 beta s_i h_i)). The decision of unit i at
 * sweep t of chain c uses cj_bz_uniform(seed, purpose, chain0 + c, start + t, i).
 * The local fields are recomputed from the state after every sweep (not
 * carried from call to call), so running 2T sweeps in one call or T and T
 * in two (start advanced, state passed on) gives the same bits.
 * state (chains x n): initial states in, final states out (+-1).
 * Outputs (NULL when not wanted), chain-major, row c * sweeps + k for the
 * k-th kept sweep of chain c: samples (x n), energies E(s), mags sum_i s_i / n.
 * Each chain is computed alone with plain C loops (no BLAS), so results do
 * not depend on the number of chains. CJ_EINVAL on bad sizes, beta <= 0 or
 * not finite; CJ_ENOMEM. */
int cj_bz_gibbs(const double *W, const double *b, int64_t n, const cj_bz_gibbs_opts *o,
                double *state, double *samples, double *energies, double *mags);

/* Random +-1 states for chains chain0 .. chain0 + chains - 1:
 * s_i = +1 when cj_bz_uniform(seed, purpose, chain, sweep, i) < 1/2. */
void cj_bz_random_states(uint64_t seed, unsigned purpose, int64_t chain0, int64_t chains,
                         uint64_t sweep, int64_t n, double *state);

/* Annealing schedule: out[k] for k < n, from beta0 to beta1 (both > 0):
 * linear in beta (kind 0), or geometric (kind 1: beta0 (beta1/beta0)^(k/(n-1))).
 * n == 1 gives beta1. */
int cj_bz_schedule(double beta0, double beta1, int64_t n, int kind, double *out);

/* ---- Boltzmann machines with hidden units, learning (bmlearn.c) ------------- */

/* A Boltzmann machine of nv visible then nh hidden +-1 units (n = nv + nh),
 * fully connected where mask allows. W, b are allocated once at creation
 * (their addresses never change); chains and velocities are owned here. */
typedef struct cj_bm {
  int64_t nv, nh, n;
  double *W, *b;           /* n x n, n */
  unsigned char *mask;     /* n x n: 1 where W_ij may be nonzero (symmetric, 0 on the diagonal) */
  double *vW, *vb;         /* momentum velocities */
  double *chains;          /* nchains x n persistent free-phase chains, or NULL */
  int64_t nchains;
  uint64_t seed;
  int64_t updates;         /* parameter updates done (keys the free phase) */
  int64_t epochs;          /* epochs done (keys the clamped phase and the order) */
} cj_bm;

/* A new machine: W_ij ~ N(0, sd^2) (keyed by seed, symmetric, masked),
 * b = 0. mask (n x n) may be NULL (all pairs). NULL when out of memory or
 * on bad sizes (cj_errmsg says which). */
cj_bm *cj_bm_new(int64_t nv, int64_t nh, const unsigned char *mask, double sd, uint64_t seed);
void cj_bm_free(cj_bm *m);
size_t cj_bm_memsize(const cj_bm *m);

typedef struct cj_bm_train_opts {
  int64_t epochs, batch;   /* passes over the data; rows per update */
  double lr, momentum, decay;  /* W += v; v = momentum v + lr (grad - decay W) */
  int exact;               /* 1: both phases by enumeration (n, nh <= CJ_BZ_EXACT_MAX) */
  int persistent;          /* 1: the free phase advances persistent chains */
  int64_t chains;          /* free-phase chains */
  int64_t burnin;          /* sweeps before statistics in a fresh chain */
  int64_t sweeps;          /* sweeps whose states are averaged, per phase and update */
  const double *anneal;    /* nanneal betas replacing burnin sweeps, or NULL */
  int64_t nanneal;
  int shuffle;             /* 1: rows in a random order each epoch */
} cj_bm_train_opts;

void cj_bm_train_defaults(cj_bm_train_opts *o);
/* Train on rows of X (m x nv, +-1 each, unchecked here) by gradient ascent
 * on the log-likelihood: dW_ij = <s_i s_j>_data - <s_i s_j>_model,
 * db_i = <s_i>_data - <s_i>_model. Clamped phase: per data row, the hidden
 * units are sampled with the visible ones clamped (fresh chain keyed by the
 * row and epoch: burnin or anneal, then sweeps kept) or, exact, averaged
 * over their exact posterior. Free phase: o->chains chains (persistent:
 * kept in m->chains and advanced sweeps sweeps per update; else fresh,
 * burnin or anneal then sweeps) or the exact model averages. */
int cj_bm_train(cj_bm *m, const double *X, int64_t rows, const cj_bm_train_opts *o);

/* ---- Hopfield networks and dense associative memory (hopfield.c) ------------ */

typedef enum { CJ_HOP_HEBB = 0, CJ_HOP_PINV, CJ_HOP_DENSE } cj_hop_rule;
typedef enum { CJ_HOP_POLY = 0, CJ_HOP_RECTPOLY, CJ_HOP_EXP } cj_hop_fn;
typedef enum { CJ_HOP_ASYNC = 0, CJ_HOP_SEQUENTIAL, CJ_HOP_SYNC } cj_hop_mode;

/* A network of N +-1 units. Hebbian: W = (1/N) sum_mu xi_mu xi_mu' with the
 * diagonal zeroed; pseudo-inverse (projection): W = X' (X X')^-1 X with X
 * the P x N patterns, diagonal zeroed; dense (Krotov & Hopfield 2016): no W,
 * energy E = -sum_mu F(xi_mu . s) with F(x) = x^n, max(x,0)^n or exp(x).
 * W (N x N, for hebb and pinv) is allocated once; patterns grow. */
typedef struct cj_hopfield {
  int64_t N, P, cap;
  cj_hop_rule rule;
  cj_hop_fn fn;
  int degree;              /* n of F(x) = x^n */
  double *W;               /* N x N or NULL (dense) */
  double *rowabs;          /* N: sum_j |W_ij| (the largest field unit i can have) */
  double *xi;              /* cap x N, P rows used */
} cj_hopfield;

/* A field (or energy difference) within CJ_HOP_TIE of the largest it could
 * be (sum_j |W_ij|; for dense memory the sum of the |F| terms) is a tie:
 * the rounding of the sums never decides a tie, and Hebbian fields, integers
 * over N, are never mistaken for one (N P < 1e10). */
#define CJ_HOP_TIE 1e-10

cj_hopfield *cj_hopfield_new(int64_t N, cj_hop_rule rule, cj_hop_fn fn, int degree);
void cj_hopfield_free(cj_hopfield *h);
size_t cj_hopfield_memsize(const cj_hopfield *h);
/* Append P patterns (P x N, +-1, unchecked) and recompute W from all stored
 * patterns. CJ_EINVAL for the pseudo-inverse rule when the patterns are
 * linearly dependent (X X' singular); the network is then unchanged. */
int cj_hopfield_store(cj_hopfield *h, const double *patterns, int64_t P);
void cj_hopfield_clear(cj_hopfield *h);

typedef struct cj_hopfield_opts {
  cj_hop_mode mode;        /* async: random order per sweep; sequential; sync */
  int64_t max_sweeps;      /* give up after this many sweeps */
  uint64_t seed;           /* async order: permutation keyed (seed, row0 + r, sweep) */
  int64_t row0;
} cj_hopfield_opts;

/* Run each of m states (m x N, +-1, in place) to a fixed point: a unit
 * becomes the sign of its field (of the energy difference for dense
 * memory) and keeps its value on a tie (zero, see CJ_HOP_TIE). Converged: a whole sweep
 * (or synchronous step) changed nothing. A synchronous run that returns to
 * the state of two steps before is in a 2-cycle: it stops, not converged.
 * sweeps[r] (may be NULL): sweeps made, the last one unchanged included;
 * converged[r] (may be NULL): 1 or 0. */
int cj_hopfield_recall(const cj_hopfield *h, double *S, int64_t m, const cj_hopfield_opts *o,
                       int64_t *sweeps, unsigned char *converged);
/* E[r] for each of m states: -1/2 s'Ws, or -sum_mu F(xi_mu . s) (dense;
 * -inf when exp overflows, past x = 709). */
void cj_hopfield_energy(const cj_hopfield *h, const double *S, int64_t m, double *E);

/* ---- restricted Boltzmann machines (rbm.c) ------------------------------- */

typedef enum { CJ_RBM_BINARY = 0, CJ_RBM_GAUSSIAN } cj_rbm_visible;

/* An RBM with nv visible and nh hidden units, hidden units in {0,1};
 * visible units in {0,1} (binary) or real with unit variance (Gaussian).
 * Energies:
 *   binary:   E(v,h) = -a'v - c'h - v'Wh
 *   Gaussian: E(v,h) = |v - a|^2 / 2 - c'h - v'Wh
 * W is nv x nh (sklearn's components_ is its transpose). W, a, c are
 * allocated once; velocities and persistent chains are owned here. */
typedef struct cj_rbm {
  int64_t nv, nh;
  cj_rbm_visible visible;
  double *W, *a, *c;
  double *vW, *va, *vc;    /* momentum velocities */
  double *pchains;         /* npc x nh persistent hidden states, or NULL */
  int64_t npc;
  uint64_t seed;
  int64_t updates, epochs;
} cj_rbm;

/* W_ij ~ N(0, sd^2) keyed by seed, a = c = 0. NULL on bad sizes or memory. */
cj_rbm *cj_rbm_new(int64_t nv, int64_t nh, cj_rbm_visible vis, double sd, uint64_t seed);
void cj_rbm_free(cj_rbm *r);
size_t cj_rbm_memsize(const cj_rbm *r);

typedef struct cj_rbm_train_opts {
  int64_t epochs, batch, k;    /* CD-k */
  int persistent;              /* PCD: npc = batch chains carried across updates */
  double lr, momentum, decay;
  int shuffle;
} cj_rbm_train_opts;

void cj_rbm_train_defaults(cj_rbm_train_opts *o);
/* Minibatch contrastive divergence on X (m x nv; binary visible units take
 * values in [0, 1], fractional ones acting as probabilities). Per batch of
 * B rows: positive statistics v0' p(h|v0); h0 ~ p(h|v0); k steps of block
 * Gibbs (binary v sampled; Gaussian v = its mean, noise-free, as Hinton's
 * practical guide advises); negative statistics vk' p(h|vk). PCD starts the
 * k steps from the persistent hidden states instead (as sklearn's
 * BernoulliRBM, which is PCD-1). Update dW = lr ((pos - neg) / B - decay W)
 * + momentum dW_prev, biases alike without decay. Products go through
 * cj_dgemm. recon (may be NULL): per epoch, the mean over rows of
 * sum_i (v0_i - v1_i)^2 with v1 the first reconstruction's mean. */
int cj_rbm_train(cj_rbm *r, const double *X, int64_t m, const cj_rbm_train_opts *o,
                 double *recon);

/* P (m x nh) = p(h = 1 | v) for rows of V (m x nv). */
int cj_rbm_hidden(const cj_rbm *r, const double *V, int64_t m, double *P);
/* M (m x nv) = E[v | h] for rows of H (m x nh): sigmoid(a + Wh) or a + Wh. */
int cj_rbm_visible_mean(const cj_rbm *r, const double *H, int64_t m, double *M);
/* F[r] = -log sum_h exp(-E(v, h)):
 *   binary:   -a'v - sum_j softplus(c_j + v'W_j)
 *   Gaussian: |v - a|^2 / 2 - sum_j softplus(c_j + v'W_j) */
int cj_rbm_free_energy(const cj_rbm *r, const double *V, int64_t m, double *F);
/* log Z by enumerating the smaller layer (the hidden one for Gaussian
 * visible units, where log Z includes (nv/2) log(2 pi)); CJ_EINVAL when it
 * has more than CJ_BZ_EXACT_MAX units. */
int cj_rbm_logZ(const cj_rbm *r, double *logZ);
/* Pseudo-log-likelihood of binary rows: sum_i log p(v_i | v_-i), or, with
 * stochastic, nv log p(v_i | v_-i) for one unit i per row drawn with
 * (seed, CJ_BZ_PLL, row, 0, 0) — sklearn's score_samples estimator. */
int cj_rbm_pseudo_loglik(const cj_rbm *r, const double *V, int64_t m, int stochastic,
                         uint64_t seed, double *out);
/* err[r] = sum_i (v_i - m_i)^2, m = E[v | p(h|v)] (mean field, no sampling). */
int cj_rbm_recon_error(const cj_rbm *r, const double *V, int64_t m, double *err);

/* n samples of block Gibbs: chain q (q = chain0 .. chain0 + n - 1) starts
 * from init (n x nv, or NULL: v uniform in {0,1} / N(0,1), keyed) and runs
 * steps steps v -> h -> v, every draw keyed by (seed, q, step, unit).
 * Chains go through cj_dgemm in fixed blocks of 64 (padded), so a chain's
 * bits do not depend on n. V (n x nv): the last visible sample (Gaussian:
 * its mean when mean_visible); H (n x nh, may be NULL): the last hidden
 * sample. */
int cj_rbm_sample(const cj_rbm *r, int64_t n, int64_t chain0, int64_t steps, uint64_t seed,
                  const double *init, int mean_visible, double *V, double *H);

/* Deep belief nets: a stack of RBMs, layer l + 1's visible units being
 * layer l's hidden ones (binary above the first layer).
 * cj_dbn_train: greedy layer-wise, layer 0 on X (m x nv0), layer l on the
 * hidden probabilities p(h | .) of the layers below, each trained with o.
 * cj_dbn_transform: out (m x nh of the top) = the up pass in probabilities.
 * cj_dbn_sample: n samples (V: n x nv0): block Gibbs in the top RBM
 * (cj_rbm_sample: steps, seed, chains chain0 ..), then a down pass drawing
 * v ~ p(v | h) of each lower layer with (seed, CJ_BZ_RBM_V or _VN, chain,
 * 2^40 + layer, unit); the bottom layer gives its mean when mean_visible. */
int cj_dbn_train(cj_rbm *const *layers, int nl, const double *X, int64_t m,
                 const cj_rbm_train_opts *o);
int cj_dbn_transform(cj_rbm *const *layers, int nl, const double *X, int64_t m, double *out);
int cj_dbn_sample(cj_rbm *const *layers, int nl, int64_t n, int64_t chain0, int64_t steps,
                  uint64_t seed, int mean_visible, double *V);

/* ---- the 2-D Ising model (ising.c) ----------------------------------------- */

typedef enum { CJ_ISING_METROPOLIS = 0, CJ_ISING_HEATBATH } cj_ising_method;

/* Spins s = +-1 on a rows x cols periodic lattice (both even, >= 4),
 * E = -J sum_<ij> s_i s_j - h sum_i s_i over nearest-neighbour pairs. */
typedef struct cj_ising {
  int64_t rows, cols;
  double J, h;
  uint64_t seed;
  int64_t sweep;           /* sweeps done: keys the next one */
  signed char *s;          /* rows x cols */
  int64_t M, B;            /* sum_i s_i and sum_<ij> s_i s_j, exact */
} cj_ising;

/* init: +1 / -1 all up / down, 0 random (keyed by seed, CJ_BZ_INIT). */
cj_ising *cj_ising_new(int64_t rows, int64_t cols, double J, double h, uint64_t seed, int init);
void cj_ising_free(cj_ising *m);
/* Set the spins from x (rows * cols values, +-1, unchecked). */
void cj_ising_set(cj_ising *m, const double *x);
/* Run sweeps checkerboard sweeps at inverse temperature beta > 0: all sites
 * with (i + j) even, then all odd, each by a Metropolis flip with
 * probability min(1, exp(-beta dE)) or a heat-bath draw (s = +1 with
 * probability sigmoid(2 beta (J nb + h))). Site (i, j) of colour c at
 * sweep t draws the 32-bit word w = cj_bz_words(seed, CJ_BZ_ISING, c, t,
 * i * cols/2 + j/2) and takes the event when w < ceil(p 2^32): its
 * probability is p to within 2^-32.
 * mag, energy (may be NULL): per sweep, sum s / N and E / N after it. */
int cj_ising_run(cj_ising *m, int64_t sweeps, double beta, cj_ising_method method,
                 double *mag, double *energy);
double cj_ising_energy(const cj_ising *m);     /* E / N */
double cj_ising_magnetization(const cj_ising *m); /* sum s / N */

#endif
