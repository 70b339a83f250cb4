/*
 * learn.h — learning rules on arrays: the Hebbian family (Hebb, covariance,
 * Oja, Sanger, BCM), Foldiak's anti-Hebbian network, weight normalisation,
 * k-winners-take-all with boosting, competitive learning and Kohonen maps,
 * sparse coding (ISTA, FISTA, LCA) and dictionary learning, whitening (PCA,
 * ZCA, the 1/f filter of natural images), patches, random projections and
 * the fly-olfaction hash. The Lua face is cj.learn (vm/bind/llearn.c); the
 * same rules exist as synapse models in stdlib/models/learning.cajal.
 *
 * Conventions shared by every function:
 * - Data are row-major doubles, one sample per row: X is n x d.
 * - Weights of a layer of k units are k x d (row i: the weights of unit i),
 *   so the layer's output is y = W x. A dictionary is d x m with one atom
 *   per column (Olshausen & Field's Phi), codes are n x m.
 * - Callers pass finite data; every function that iterates checks its state
 *   and fails with CJ_ERUNTIME naming the step (sample, epoch, iteration)
 *   where a value stopped being finite, so no NaN leaves silently.
 * - Randomness (initial weights, sample order, ties) comes only from the
 *   cj_rng the caller passes. Rules applied one sample at a time use plain C
 *   loops in a fixed order, so a seed gives the same weights bit for bit on
 *   every IEEE-754 machine; mini-batch updates and the batched sparse coders
 *   go through BLAS (the same bits run to run on one machine, the last bits
 *   may differ between BLAS builds).
 * - Outputs are caller-made; on failure they hold partial results.
 */
#ifndef CJ_LEARN_H
#define CJ_LEARN_H

#include "cj.h"
#include "rng.h"

/* ---- schedules ---------------------------------------------------------------
 * A rate (or radius) that moves from start to end over the T presentations
 * of a run (t = 0 .. T-1, u = t / max(T - 1, 1)):
 *   CONST   start
 *   EXP     start (end / start)^u             (start, end > 0)
 *   LINEAR  start + (end - start) u
 *   INV     start / (1 + u (start / end - 1)) (1/t decay reaching end at T-1) */
typedef enum { CJ_SCHED_CONST, CJ_SCHED_EXP, CJ_SCHED_LINEAR, CJ_SCHED_INV } cj_sched_kind;
typedef struct cj_sched { cj_sched_kind kind; double start, end; } cj_sched;
double cj_sched_at(const cj_sched *s, int64_t t, int64_t T);

/* Options of the sample loops (hebbian, competitive, som, foldiak). */
typedef struct cj_learn_loop {
  cj_sched eta;        /* rate per presentation (per sample; a batch uses its mean update) */
  int64_t epochs;      /* passes over the data (>= 1) */
  int64_t batch;       /* samples per update, >= 1 (1: online) */
  int shuffle;         /* 0: rows in order; 1: a new permutation each epoch from rng */
  cj_rng *rng;         /* order and ties; may be NULL when nothing is drawn */
  const char *name;    /* for messages: "oja", "sanger", ... */
} cj_learn_loop;

/* ---- the Hebbian family on linear units y = W x ------------------------------
 *   HEBB        dW = eta y x^T
 *   COVARIANCE  dW = eta (y - <y>) (x - <x>)^T
 *   OJA         dW_i = eta y_i (x - alpha y_i W_i)           (each unit alone)
 *   SANGER      dW = eta (y x^T - LT(y y^T) W)                (generalised Hebbian)
 *   BCM         dW = eta (y * (y - theta)) x^T,
 *               theta += (y^2 - theta) / tau after each sample
 * With batch b > 1 the update is the mean of the per-sample updates of the
 * batch, all computed with the weights at its start (BCM's theta still moves
 * sample by sample). Covariance means: tau <= 0 uses the column means of X
 * (<y> = W <x>); tau > 0 running means with that time constant (samples),
 * started at the data means. After each update, norm (if not NONE) rescales
 * every row (see cj_learn_normalize). */
typedef enum { CJ_RULE_HEBB, CJ_RULE_COVARIANCE, CJ_RULE_OJA, CJ_RULE_SANGER, CJ_RULE_BCM } cj_rule;
typedef enum { CJ_NORM_NONE, CJ_NORM_MULT, CJ_NORM_SUB } cj_norm;
typedef struct cj_hebb_opts {
  cj_rule rule;
  cj_learn_loop loop;
  double alpha;        /* OJA: decay factor (|w| -> 1/sqrt(alpha)) */
  double tau;          /* COVARIANCE: averaging constant (<= 0: data means); BCM: theta's */
  double *theta;       /* BCM: k thresholds, in and out */
  cj_norm norm;        /* weight normalisation after each update */
  double norm_target;  /* the norm or sum kept */
  int norm_p;          /* MULT: 1 or 2 (L1 or L2 norm) */
} cj_hebb_opts;
/* X n x d (finite), W k x d in/out. CJ_EINVAL for bad options, CJ_ERUNTIME
 * when the weights stop being finite (the message names sample and epoch). */
int cj_learn_hebbian(const double *X, int64_t n, int64_t d, double *W, int64_t k,
                     const cj_hebb_opts *o);

/* Normalise each row of W (k x d) in place:
 *   MULT  w *= target / |w|_p           (a zero row is left as is)
 *   SUB   w -= (sum(w) - target) / d    (the sum is kept at target) */
int cj_learn_normalize(double *W, int64_t k, int64_t d, cj_norm how, double target, int p);

/* ---- Foldiak (1990): sparse coding by anti-Hebbian lateral inhibition --------
 * Units y (n_out) with feed-forward weights Q (n_out x d), lateral weights
 * Wl (n_out x n_out, zero diagonal, kept <= 0) and thresholds t. For each
 * sample the rates settle by Euler steps of
 *   dy*_i/ds = f(sum_j Q_ij x_j + sum_j Wl_ij y*_j - t_i) - y*_i,
 *   f(u) = 1 / (1 + exp(-lambda u)),  y*(0) = 0,
 * then y_i = [y*_i > 0.5], and
 *   dWl_ij = -alpha (y_i y_j - p^2),  dQ_ij = beta y_i (x_j - Q_ij),  dt_i = gamma (y_i - p). */
typedef struct cj_foldiak_opts {
  double alpha, beta, gamma, p, lambda;
  double ds;           /* Euler step of the settling (in units of the time constant) */
  int64_t settle;      /* settling steps per sample */
  int64_t epochs;
  int shuffle;
  cj_rng *rng;
} cj_foldiak_opts;
int cj_learn_foldiak(const double *X, int64_t n, int64_t d, int64_t nout, double *Q,
                     double *Wl, double *t, const cj_foldiak_opts *o);
/* The binary responses Y (n x nout) of a trained network (no learning). */
int cj_learn_foldiak_respond(const double *X, int64_t n, int64_t d, int64_t nout,
                             const double *Q, const double *Wl, const double *t,
                             const cj_foldiak_opts *o, double *Y);

/* ---- k-winners-take-all with boosting ---------------------------------------
 * For each row a of A (n x m): the k units with the largest boosted values
 * b_i a_i win; Y gets a_i (or 1 with binary) for winners, 0 elsewhere.
 * Boosting (Hawkins & Ahmad's spatial pooler): b_i = exp(-boost (duty_i - k/m))
 * with duty the running mean of winning, duty += (won - duty) / tau after each
 * row (duty in/out, m values; tau in rows). Equal values at the boundary are
 * broken at random from rng (NULL: lowest index first). */
int cj_learn_kwta(const double *A, int64_t n, int64_t m, int64_t k, double boost, double tau,
                  int binary, double *duty, cj_rng *rng, double *Y);

/* ---- competitive learning and self-organising maps ---------------------------
 * Competitive: the unit nearest to x (Euclidean; ties at random from rng)
 * moves: dW_win = eta (x - W_win). W k x d in/out. */
int cj_learn_competitive(const double *X, int64_t n, int64_t d, double *W, int64_t k,
                         const cj_learn_loop *o);
/* Kohonen map of rows x cols units (cols = 1: a 1-D chain), unit u = r * cols + c
 * at grid point (r, c). For each sample, with b the best-matching unit:
 *   dW_u = eta h_u (x - W_u),  h_u = exp(-|g_u - g_b|^2 / (2 sigma^2)),
 * eta and sigma following their schedules over all presentations. */
int cj_learn_som(const double *X, int64_t n, int64_t d, double *W, int64_t rows, int64_t cols,
                 const cj_learn_loop *o, const cj_sched *sigma);
/* Best and second-best unit of each sample (second may be NULL; k >= 2 then),
 * and the distance to the best (may be NULL). Ties: lowest index. */
int cj_learn_bmu(const double *X, int64_t n, int64_t d, const double *W, int64_t k,
                 int64_t *best, int64_t *second, double *dist);
/* Mean distance from each sample to its best unit (Kohonen's quantisation error). */
int cj_learn_qerror(const double *X, int64_t n, int64_t d, const double *W, int64_t k,
                    double *err);
/* Fraction of samples whose best and second-best units are not neighbours on
 * the grid (4-neighbourhood; in 1-D adjacent units). */
int cj_learn_terror(const double *X, int64_t n, int64_t d, const double *W, int64_t rows,
                    int64_t cols, double *err);
/* U-matrix: for each unit, the mean distance of its weights to those of its
 * grid neighbours (4-neighbourhood). U has rows * cols values. */
int cj_learn_umatrix(const double *W, int64_t rows, int64_t cols, int64_t d, double *U);

/* ---- sparse coding ----------------------------------------------------------
 * For each row x of X (n x d) and dictionary D (d x m, atoms in columns), the
 * codes a (rows of A, n x m) minimise
 *   E(a) = 1/2 |x - D a|^2 + lambda |a|_1    (nonneg: subject to a >= 0)
 * by ISTA, FISTA (Beck & Teboulle 2009) or the LCA (Rozell et al. 2008),
 * a block of samples at once (the Gram matrix D^T D and one matrix product
 * per iteration), or by coordinate descent on the Gram form (Friedman et
 * al. 2007, as scikit-learn's lasso_cd), sample by sample: a sweep updates
 * each a_j in turn to its exact minimiser, keeping c = D^T x - G a current
 * (O(m) per changed code). Step 1/L with L the largest eigenvalue of D^T D;
 * the LCA's Euler step dt/tau is `step` (<= 0: 1 / max(L, 1)). A starts from
 * its content when warm, else from zero. Iterations (CD: sweeps) stop when
 * no code (LCA: no internal variable) moved by more than
 * tol * max(1, max |A|) (over the block; CD: over the sample), or after iters. */
typedef enum { CJ_SC_ISTA, CJ_SC_FISTA, CJ_SC_LCA, CJ_SC_CD } cj_sc_method;
typedef struct cj_sc_opts {
  cj_sc_method method;
  double lambda, tol, step;
  int64_t iters;
  int nonneg, warm;
  double *trace;       /* if not NULL: the mean objective after each iteration (iters values) */
  /* results */
  int64_t done;        /* iterations run */
  double objective;    /* mean E over the samples at the end */
  double L;            /* the Lipschitz constant used */
} cj_sc_opts;
int cj_learn_sparse_code(const double *X, int64_t n, int64_t d, const double *D, int64_t m,
                         double *A, cj_sc_opts *o);
/* Mean over the samples of E(a) (lambda |a|_1 included). */
int cj_learn_sc_objective(const double *X, int64_t n, int64_t d, const double *D, int64_t m,
                          const double *A, double lambda, double *obj);

/* Dictionary learning on mini-batches (D d x m in/out, columns kept at unit
 * norm). Codes of each batch by coordinate descent (code_iters sweeps at
 * most, tol as above),
 * then the dictionary:
 *   SGD  Olshausen & Field (1996): D += eta/b (X_b - A_b D^T)^T A_b
 *   BCD  Mairal et al. (2009): block coordinate descent on the running
 *        statistics S = sum beta a a^T, B = sum beta x a^T, forgetting
 *        beta_t = (1 - 1/t)^forget (t: the batch count)
 * each followed by normalising every column to unit length. With replace,
 * between epochs, atoms with fewer than 2 % of the mean number of nonzero
 * codes in the epoch, or within |cos| > 0.95 of a more used atom, restart
 * as the worst reconstructed samples of the last batch (K-SVD's remedy). */
typedef enum { CJ_DICT_BCD, CJ_DICT_SGD } cj_dict_method;
typedef struct cj_dict_opts {
  cj_dict_method method;
  cj_learn_loop loop;  /* eta (SGD), epochs, batch, shuffle, rng */
  double lambda, forget, tol;
  int64_t code_iters;
  int nonneg;
  int replace;         /* restart unused and repeated atoms between epochs */
  double objective;    /* result: mean objective of the last batch's codes */
  int64_t replaced;    /* result: atoms restarted */
} cj_dict_opts;
int cj_learn_dictionary(const double *X, int64_t n, int64_t d, double *D, int64_t m,
                        cj_dict_opts *o);

/* ---- whitening ----------------------------------------------------------------
 * Principal components of X (n x d): mean (d), the k leading unit eigenvectors
 * of the covariance (divisor n - 1) as rows of V (k x d), largest first, each
 * signed so that its largest-magnitude element is positive, and their
 * variances var (k). */
int cj_learn_pca(const double *X, int64_t n, int64_t d, int64_t k, double *mean, double *V,
                 double *var);
/* Whitening matrix from the same decomposition: PCA (k x d rows
 * V_i / sqrt(var_i + eps)) or ZCA (d x d, U diag(1/sqrt(var + eps)) U^T, k = d).
 * Whitened data: Z = (X - mean) W^T. */
int cj_learn_whitening(const double *X, int64_t n, int64_t d, int64_t k, int zca, double eps,
                       double *mean, double *W);

/* The whitening filter of natural images (Olshausen & Field 1997): in the 2-D
 * Fourier domain multiply by R(f) = f exp(-(f / f0)^4), f the radial
 * frequency in cycles per pixel, then scale the result to unit variance
 * (unless it is all zero). img, out: h x w (may be the same). */
int cj_learn_whiten_image(const double *img, int64_t h, int64_t w, double f0, double *out);

/* Patches of ph x pw pixels from nimg images of h x w (stacked rows), as rows
 * of P (count x ph*pw). Positions: random (image and corner uniform from rng)
 * when rng is not NULL, else every stride-th corner in raster order, image by
 * image (count must then be the number of such corners). */
int cj_learn_patches(const double *img, int64_t nimg, int64_t h, int64_t w, int64_t ph,
                     int64_t pw, int64_t stride, int64_t count, cj_rng *rng, double *P);
/* Number of stride-th corners: nimg * ((h - ph) / stride + 1) * ((w - pw) / stride + 1). */
int64_t cj_learn_npatches(int64_t nimg, int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t stride);

/* A dead-leaves image (h x w): opaque discs with radii of density r^-3 on
 * [rmin, rmax] pixels, centres uniform, grey levels uniform on [0, 1),
 * falling one behind the other until every pixel is covered (Lee, Mumford &
 * Huang 2001): occlusion gives edges, the radius law a power spectrum close
 * to 1/f^2 (an amplitude spectrum close to 1/f), as natural images. */
int cj_learn_dead_leaves(int64_t h, int64_t w, double rmin, double rmax, cj_rng *rng, double *img);

/* ---- random projections and the fly hash ---------------------------------------
 * P (m x d):
 *   GAUSSIAN  N(0, 1/m) entries (Johnson-Lindenstrauss)
 *   SPARSE    +-sqrt(s/m) with probability 1/(2s) each, 0 otherwise,
 *             s = sqrt(d) (Li, Hastie & Church 2006)
 *   BINARY    each row has `fanin` ones at distinct random columns
 *             (the Kenyon cells of the fly, Dasgupta et al. 2017) */
typedef enum { CJ_PROJ_GAUSSIAN, CJ_PROJ_SPARSE, CJ_PROJ_BINARY } cj_proj_kind;
int cj_learn_projection(int64_t d, int64_t m, cj_proj_kind kind, int64_t fanin, cj_rng *rng,
                        double *P);
/* The fly hash (Dasgupta, Stevens & Navlakha 2017): each row of X centred
 * (its own mean removed) when center, projected by P (m x d), and the k
 * largest of the m values set to 1, the rest 0 (ties at random from rng).
 * H: n x m bytes. */
int cj_learn_fly_hash(const double *X, int64_t n, int64_t d, const double *P, int64_t m,
                      int64_t k, int center, cj_rng *rng, uint8_t *H);
/* The r nearest other rows of each row of X (n x d, Euclidean), nearest
 * first, as 0-based indices (n x r); equal distances are ordered at random
 * from rng (NULL: lower index first). */
int cj_learn_knn(const double *X, int64_t n, int64_t d, int64_t r, cj_rng *rng, int64_t *idx);

#endif
