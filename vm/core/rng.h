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

#endif
