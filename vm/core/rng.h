/*
 * rng.h — counter-based random numbers (Philox4x32-10).
 *
 * Every number is a pure function of (seed, stream, counter): the same seed
 * gives the same numbers on every machine, whatever the thread count or the
 * backend (the network kernels use cj_philox directly, keyed by neuron and
 * step). A cj_rng is a cursor over one (seed, stream) sequence.
 */
#ifndef CJ_RNG_H
#define CJ_RNG_H

#include "cj.h"
#include "array.h"

/* One Philox4x32-10 block: 4 counter words, 2 key words -> 4 random words. */
void cj_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

typedef struct cj_rng {
  uint64_t seed;       /* key */
  uint64_t stream;     /* upper counter words: independent streams */
  uint64_t counter;    /* block counter within the stream */
  uint32_t buf[4];     /* current block */
  int used;            /* words of buf consumed (4 = empty) */
  int has_spare;       /* normal(): cached second Box-Muller value */
  double spare;
} cj_rng;

void cj_rng_init(cj_rng *r, uint64_t seed, uint64_t stream);
uint32_t cj_rng_u32(cj_rng *r);
double cj_rng_uniform(cj_rng *r);              /* [0, 1), 53 random bits */
double cj_rng_normal(cj_rng *r);               /* N(0, 1) */
double cj_rng_exponential(cj_rng *r);          /* mean 1 */
int64_t cj_rng_poisson(cj_rng *r, double lambda);
int64_t cj_rng_binomial(cj_rng *r, int64_t n, double p);
uint64_t cj_rng_below(cj_rng *r, uint64_t n);  /* uniform integer in [0, n), unbiased */

/* Turning 32/64-bit words into doubles, shared with generated kernels. */
#define CJ_U01(hi, lo) (((double)(((uint64_t)(hi) << 21) ^ ((uint64_t)(lo) >> 11))) * 0x1.0p-53)

/* ---- additions (rng.c) -----------------------------------------------------
 *
 * Counter layout of a cursor. Block j of stream s under seed k is
 *   cj_philox({ j & 0xffffffff, j >> 32, s & 0xffffffff, (s >> 32) | 0x80000000 },
 *             { k & 0xffffffff, k >> 32 })
 * Bit 31 of counter word 3 is always set, so cursor blocks never coincide
 * with the counters of network kernels (vm/core/IR.md section 4), whose word
 * 3 is a small draw index; streams are therefore 63-bit (s and s + 2^63 give
 * the same numbers). `counter` is the index of the next block to compute;
 * `used` counts the words of buf already consumed (4: none left), taken in
 * the order 0, 1, 2, 3.
 *
 * How each variate is made (all of it part of the reproducibility contract):
 * - u32: the next word.
 * - uniform: CJ_U01(w, w') of the next two words: a multiple of 2^-53 in [0, 1).
 * - normal: Box-Muller on u1 = uniform, u2 = uniform:
 *   r = sqrt(-2 log(1 - u1)), first r cos(2 pi u2), then (cached) r sin(2 pi u2).
 * - exponential: -log(1 - uniform).
 * - below(n): Lemire's multiply-and-reject on one word (n <= 2^32) or on
 *   two words as a 64-bit number (high word first).
 * - poisson: inversion (sequential search) for lambda < 10, PTRS
 *   (Hoermann 1993) for lambda >= 10.
 * - binomial: for p > 1/2, n - binomial(n, 1-p); inversion for n p < 10,
 *   BTRS (Hoermann 1993) otherwise.
 * log, exp, sin and cos are computed by cj_rng_log/exp/sincos2pi below from
 * +, -, *, / and sqrt only (compiled with -ffp-contract=off), so they give
 * the same bits on every IEEE-754 machine with FLT_EVAL_METHOD == 0,
 * whatever its libm. */

/* The generator of the module functions (cj.rand, cj.seed, ...), and the
 * seed a network uses when none is given. Starts as (seed 0, stream 0). */
cj_rng *cj_default_rng(void);

/* Restore a position saved from (counter, used) of a cursor (the spare
 * normal is cleared). CJ_EINVAL when used is not 0..4, or used < 4 with
 * counter 0. */
int cj_rng_setpos(cj_rng *r, uint64_t counter, int used);

/* Deterministic elementary functions (a few ulp; identical everywhere). */
double cj_rng_log(double x);                   /* x > 0; log(0) = -inf, NaN for x < 0 */
double cj_rng_exp(double x);
void cj_rng_sincos2pi(double t, double *s, double *c);  /* sin, cos of 2 pi t */
double cj_rng_logfact(int64_t k);              /* log(k!), k >= 0 */

/* Validity of distribution parameters: poisson wants 0 <= lambda <= 1e15
 * and binomial 0 <= n, 0 <= p <= 1; outside these, cj_rng_poisson and
 * cj_rng_binomial return -1 without drawing. cj_rng_below(r, 0) returns 0. */
#define CJ_POISSON_MAX 1e15

/* Bulk fills, in row-major order of a (any strides; the same numbers as the
 * same count of scalar calls). Continuous fills want a float dtype; discrete
 * ones take any dtype and fail with CJ_ERANGE when a value does not fit (the
 * array is then partly written). CJ_EINVAL on bad parameters, naming them. */
int cj_rng_fill_uniform(cj_rng *r, cj_array *a, double lo, double hi);  /* [lo, hi) */
int cj_rng_fill_normal(cj_rng *r, cj_array *a, double mu, double sigma);
int cj_rng_fill_exponential(cj_rng *r, cj_array *a, double scale);
int cj_rng_fill_poisson(cj_rng *r, cj_array *a, double lambda);
int cj_rng_fill_binomial(cj_rng *r, cj_array *a, int64_t n, double p);
int cj_rng_fill_below(cj_rng *r, cj_array *a, uint64_t n, int64_t offset); /* offset + [0, n) */

/* A binomial distribution prepared for many draws: cj_binom_draw(B, r)
 * gives the same numbers as cj_rng_binomial(r, n, p) (which is built on it)
 * without recomputing the constants of (n, p). Bad parameters (n < 0, p
 * outside [0, 1]) make every draw -1. */
enum { CJ_BINOM_BAD, CJ_BINOM_ZERO, CJ_BINOM_ALL, CJ_BINOM_INV, CJ_BINOM_BTRS };
typedef struct cj_binom {
  int64_t n; double p;
  int kind, flip;                  /* flip: draws n - binomial(n, 1 - p) */
  double s, a, p0;                 /* inversion (a is also BTRS's) */
  double b, c, vr, alpha, lpq, m, h;   /* BTRS */
  const double *cdf; int64_t ncdf;     /* inversion's cumulative sums, if tabulated */
} cj_binom;
void cj_binom_init(cj_binom *B, int64_t n, double p);
int64_t cj_binom_draw(const cj_binom *B, cj_rng *r);
/* For the inversion branch (n p < 10 after the flip): the number of
 * cumulative sums the draws can look at (min(n, 1000) + 1), 0 for the other
 * branches. With buf holding at least that many doubles, fills it (the sums
 * computed exactly as the draw computes them) and makes B use it, so each draw
 * is a search without divisions, giving the same numbers; buf must outlive
 * B's use. */
int64_t cj_binom_tabulate(cj_binom *B, double *buf, int64_t cap);

/* Geometric gaps: the number of failures before the first success of
 * Bernoulli(p) trials, P(G >= k) = (1 - p)^k, for skipping over the
 * candidates of a random connection. G = floor(E / lambda), lambda =
 * -log(1 - p), with E ~ Exp(1) from a 256-layer ziggurat (Marsaglia and
 * Tsang 2000): one 64-bit draw (two words, high first: the low 8 bits pick
 * the layer, the high 53 the position), one table look-up and one multiply
 * in the common case (about 99 %); the wedges test against cj_rng_exp with
 * one more uniform, the base layer's tail adds r to a fresh draw. No log per
 * draw; exact (a rejection sampler) up to the rounding of the tables, which
 * cj_geom_init computes with cj_rng_exp/log, so the draws are the same on
 * every machine. p <= 0 draws INT64_MAX (never), p >= 1 draws 0, both
 * without consuming words; NaN p is treated as 0. A draw beyond 2^62 is
 * returned as INT64_MAX. */
typedef struct cj_geom {
  double p, il;                    /* il = 1 / lambda */
  double x[257], fx[257];          /* layer edges x[0] > ... > x[256] = 0, exp(-x) */
} cj_geom;
void cj_geom_init(cj_geom *G, double p);
int64_t cj_geom_draw(const cj_geom *G, cj_rng *r);
/* n draws into out: the numbers of n cj_geom_draw calls, the cursor left
 * where they leave it, faster (the generator's blocks are made in runs). */
void cj_geom_fill(const cj_geom *G, cj_rng *r, int64_t *out, int64_t n);
/* The successes among Bernoulli(p) trials at positions from .. end - 1,
 * ascending into out (at most cap): from + g1, from + g1 + 1 + g2, ... for
 * the gaps g1, g2, ... of cj_geom_draw, until a gap passes end - 1 (that
 * gap and up to 31 after it are consumed) or cap are out; returns how many.
 * With cap reached, the cursor is just after the last gap used, so a call
 * from out[cap - 1] + 1 continues the same walk. Words are made in runs
 * while many successes are still expected, a block at a time near the end
 * (little made in vain). */
int64_t cj_geom_walk(const cj_geom *G, cj_rng *r, int64_t from, int64_t end, int64_t *out, int64_t cap);

/* Shuffle a 1-D array in place (Fisher-Yates, i = n-1 .. 1 swapping with
 * below(i + 1)); any dtype and stride. */
int cj_rng_shuffle(cj_rng *r, cj_array *a);
/* a (1-D) := a permutation of base, base+1, ..., base+n-1: the values in
 * order, then cj_rng_shuffle. CJ_ERANGE when they do not fit the dtype. */
int cj_rng_permutation(cj_rng *r, cj_array *a, int64_t base);

/* k indices out of 0..n-1 into out[k].
 * - with replacement, no weights: below(n) each;
 * - without replacement, no weights: Floyd's algorithm then a shuffle of
 *   the k picks (k <= n/4), else a partial Fisher-Yates over 0..n-1;
 * - with weights w (1-D, n elements, finite, >= 0, positive sum):
 *   with replacement, inversion of the cumulative sums; without, the k
 *   smallest keys E_i / w_i (E_i exponential; Efraimidis-Spirakis), in
 *   increasing order, which is the order of successive weighted draws.
 * CJ_EINVAL for bad n, k or weights; CJ_ENOMEM. */
int cj_rng_choice(cj_rng *r, int64_t n, int64_t k, int replace, const cj_array *w,
                  int64_t *out);

#endif
