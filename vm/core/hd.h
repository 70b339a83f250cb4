/*
 * hd.h — hyperdimensional computing (vector-symbolic architectures): blocks
 * of random high-dimensional vectors and the operations that compute with
 * them (bind, unbind, bundle, permute, similarity, normalise), encoders
 * (sequences, n-grams, levels, fractional powers) and clean-up by nearest
 * neighbour or by an autoassociative (Hopfield) iteration. The Lua face is
 * vm/bind/lhd.c (cj.hd); the models and conventions are in cajal-api(3).
 *
 * Four models, one storage layout each. A cj_hd is n vectors ("rows") of
 * dimension d, rows contiguous, one after the other:
 *   CJ_HD_BSC   binary spatter codes: each row is cj_hd_words(d) 64-bit
 *               words; element i is bit i % 64 of word i / 64; the bits past
 *               d in the last word are always zero. bind = XOR, bundle =
 *               majority (ties broken by random bits), similarity =
 *               1 - 2 hamming / d.
 *   CJ_HD_MAP   multiply-add-permute: d doubles (random vectors are +-1);
 *               bind = elementwise product (its own inverse for +-1),
 *               bundle = sum, normalise = sign (0 -> random +-1),
 *               similarity = cosine.
 *   CJ_HD_HRR   holographic reduced representations: d doubles, random
 *               elements N(0, 1/d); bind = circular convolution (by FFT),
 *               unbind = circular correlation (convolution with the
 *               involution x*[i] = x[-i mod d], Plate's approximate inverse),
 *               bundle = sum, normalise = unit Euclidean norm, similarity =
 *               cosine.
 *   CJ_HD_FHRR  Fourier HRR: d complex numbers of modulus 1 (phases),
 *               interleaved (re, im) doubles; bind = elementwise product
 *               (phases add), unbind = product with the conjugate (exact),
 *               bundle = sum, normalise = modulus 1 per element (0 -> random
 *               phase), similarity = Re <a, b> / (|a| |b|).
 * Permutations act on element positions: the cyclic shift by k is
 * out[i] = x[(i - k) mod d] (numpy.roll(x, k)).
 *
 * Every function checks its arguments and returns CJ_OK or a cj_fail
 * status (CJ_EINVAL naming what was wrong, CJ_ENOMEM). Outputs are made by
 * the caller, of the model and dimension of the inputs and with the number
 * of rows stated; they must not overlap the inputs. Randomness comes from
 * the cj_rng passed in, so one seed gives the same bits everywhere.
 */
#ifndef CJ_HD_H
#define CJ_HD_H

#include "cj.h"
#include "rng.h"

typedef enum { CJ_HD_BSC = 0, CJ_HD_MAP, CJ_HD_HRR, CJ_HD_FHRR, CJ_HD_NMODELS } cj_hd_model;

typedef struct cj_hd {
  cj_hd_model model;
  int64_t n;          /* rows (vectors), >= 0 */
  int64_t d;          /* dimension, >= 1 */
  void *data;         /* n * cj_hd_rowbytes(model, d) bytes */
} cj_hd;

const char *cj_hd_model_name(cj_hd_model m);             /* "bsc", "map", "hrr", "fhrr" */
int cj_hd_model_parse(const char *name, cj_hd_model *m);   /* CJ_EINVAL for other names */
int64_t cj_hd_words(int64_t d);                            /* 64-bit words of a bsc row */
size_t cj_hd_rowbytes(cj_hd_model m, int64_t d);
/* Address of row i. */
void *cj_hd_row(const cj_hd *x, int64_t i);
/* CJ_EINVAL unless d >= 1, n >= 0 and n * rowbytes fits in memory. */
int cj_hd_checksize(cj_hd_model m, int64_t n, int64_t d);

/* Fill every row of x with a random vector of its model (see above). With
 * unitary set, hrr rows have a Fourier transform of modulus 1 everywhere
 * (random phases, and +1 at frequency 0 and, for even d, d/2), so that
 * their fractional powers (cj_hd_fpe) are real and they have exact inverses;
 * other models ignore the flag. Draws, row after row: bsc two u32 per word
 * (low half first); map one u32 per 32 elements (bit j of the word gives
 * element j: 1 -> +1, 0 -> -1); hrr one normal per element; fhrr one
 * uniform u per element, phase 2 pi u. */
int cj_hd_random(cj_rng *r, cj_hd *x, int unitary);

/* out = bind(a, b), or unbind(a, b) (recover from a what was bound to b)
 * when unbind is set. Rows pair up: a->n == b->n, or either is 1 (it
 * meets every row of the other); out->n is the larger. */
int cj_hd_bind(cj_hd *out, const cj_hd *a, const cj_hd *b, int unbind);

/* out (1 row) = the superposition of the rows of x, weighted by w (x->n
 * values; NULL: all 1): the weighted sum for map, hrr and fhrr; for bsc the
 * weighted majority of the bits (bit = 1 where sum_i w_i (2 x_i - 1) > 0),
 * ties broken by bits drawn from r: one u32 pair per word when n is even or
 * weights are given, none otherwise. x->n >= 1. */
int cj_hd_bundle(cj_hd *out, const cj_hd *x, const double *w, cj_rng *r);

/* out = x brought back to its model's space, row by row: bsc unchanged;
 * map sign (a zero element becomes +-1 by one random bit, drawn in order
 * from r); hrr divided by its Euclidean norm (a zero row stays zero); fhrr
 * each element divided by its modulus (a zero element gets a random phase). */
int cj_hd_normalise(cj_hd *out, const cj_hd *x, cj_rng *r);

/* out = x with every row shifted cyclically by k (any integer). */
int cj_hd_shift(cj_hd *out, const cj_hd *x, int64_t k);
/* out[i] = x[perm[i]] for each row (perm: d distinct 0-based positions;
 * CJ_EINVAL otherwise); with inverse set, out[perm[i]] = x[i]. */
int cj_hd_permute(cj_hd *out, const cj_hd *x, const int64_t *perm, int inverse);

/* sim (a->n x b->n, row-major) = similarity of every row of a with every
 * row of b (see the models above; a zero vector has similarity 0 with
 * everything). */
int cj_hd_similarity(double *sim, const cj_hd *a, const cj_hd *b);

/* Encoders. cj_hd_sequence: out (1 row) = the bundle of rho^i(x_i), row i
 * shifted by i (0-based); bsc ties as in cj_hd_bundle.
 * cj_hd_ngram: out (1 row) = the binding of rho^(n-1-i)(x_i) over the n
 * rows of x (the first row shifted most: rho(rho(t)) * rho(h) * e for "the").
 * cj_hd_ngrams: out (1 row) = the bundle of the n-grams of the sequence
 * idx[0..len-1] (0-based rows of the codebook cb, len >= n >= 1), one
 * n-gram per window, as cj_hd_ngram of those rows; computed per distinct
 * n-gram with its count as weight (so the cost grows with the number of
 * distinct n-grams, not with len). */
int cj_hd_sequence(cj_hd *out, const cj_hd *x, cj_rng *r);
int cj_hd_ngram(cj_hd *out, const cj_hd *x);
int cj_hd_ngrams(cj_hd *out, const cj_hd *cb, const int64_t *idx, int64_t len, int n, cj_rng *r);

/* Level vectors for scalars: out->n levels (>= 1) interpolating between two
 * random vectors a and b: element i of level k is b[i] where t_i < k/(n-1)
 * and a[i] otherwise, t_i uniform on [0, 1). Level 0 is a, level n-1 is b,
 * and similarity falls linearly with the distance between levels
 * (1 - |j - k| / (n - 1) on average). Draws a, b (cj_hd_random), then t. */
int cj_hd_levels(cj_rng *r, cj_hd *out);

/* Fractional power encoding: out row k = base^x[k] (out->n values of x),
 * for hrr (powers of the Fourier coefficients) and fhrr (powers of each
 * element): |z|^x exp(i x arg z). CJ_EINVAL for bsc and map. base: 1 row. */
int cj_hd_fpe(cj_hd *out, const cj_hd *base, const double *x);

/* Clean-up. cj_hd_nearest: for every row of q, the 0-based row of mem with
 * the largest similarity (the first of equals) in idx[q->n], and that
 * similarity in sim[q->n] (sim may be NULL). mem->n >= 1.
 * cj_hd_recall: the autoassociative variant, an attractor network whose
 * stored patterns are the rows of mem; each row of q evolves by
 *   x <- normalise( sum_i w_i mem_i ),  w_i = s_i           (beta == 0)
 *                                       w_i = softmax(beta s)_i (beta > 0)
 * with s_i = similarity(mem_i, x), for at most steps steps or until x stops
 * changing. beta == 0 is Hopfield's outer-product rule (for bsc and map the
 * bipolar Hopfield network, for fhrr the phasor network); it is refused for
 * hrr, whose normalisation is linear and has no attractors: use beta > 0
 * (the dense associative memory of Ramsauer et al. 2020). out: q->n rows.
 * *iters (may be NULL) receives the largest number of steps taken. */
int cj_hd_nearest(const cj_hd *mem, const cj_hd *q, int64_t *idx, double *sim);
int cj_hd_recall(cj_hd *out, const cj_hd *mem, const cj_hd *q, double beta, int steps,
                 cj_rng *r, int *iters);

#endif
