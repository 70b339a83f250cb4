/*
 * capsule.h — capsule networks: the squashing nonlinearity, predictions
 * of parent poses by child capsules, routing by agreement (Sabour, Frosst
 * & Hinton 2017, Procedure 1) with its exact gradient, the margin loss, and
 * EM routing of matrix capsules (Hinton, Sabour & Frosst 2018). The Lua
 * face is vm/bind/lcapsule.c (cj.capsule).
 *
 * Shapes (all row-major doubles, the leading B is the batch):
 *   u      (B, I, din)          child capsule outputs
 *   W      (I, J, dout, din)    one transformation per child-parent pair
 *   uhat   (B, I, J, D)         predictions u_hat[j|i] = W[i][j] u[i], D = dout
 *   v      (B, J, D)            parent capsule outputs
 *   c, b   (B, I, J)            coupling coefficients and routing logits
 * Every function checks its sizes (CJ_EINVAL naming what was wrong), writes
 * only into the caller's outputs, and allocates scratch with cj_malloc
 * (CJ_ENOMEM). No randomness: the results are a function of the inputs.
 */
#ifndef CJ_CAPSULE_H
#define CJ_CAPSULE_H

#include "cj.h"

/* v = squash(s) = s |s| / (1 + |s|^2), for n rows of dim elements (rows
 * of length 0 stay 0). v may be s. */
void cj_capsule_squash(double *v, const double *s, int64_t n, int64_t dim);

/* uhat = predictions of the B x I children for the J parents (BLAS). */
int cj_capsule_predict(double *uhat, const double *u, const double *W,
                       int64_t B, int64_t I, int64_t J, int64_t dout, int64_t din);
/* The gradient of predict: dW (I, J, dout, din) = sum over the batch of
 * duhat[b][i][j] u[b][i]^T (overwritten), and du (B, I, din) = sum_j
 * W[i][j]^T duhat[b][i][j] (skipped when du is NULL). */
int cj_capsule_predict_grad(double *dW, double *du, const double *duhat, const double *u,
                            const double *W, int64_t B, int64_t I, int64_t J, int64_t dout,
                            int64_t din);

/* Routing by agreement, Procedure 1, for each example of the batch:
 *   b = 0; r times: c_i = softmax_j(b_i); s_j = sum_i c_ij uhat_j|i;
 *                   v_j = squash(s_j); b_ij += uhat_j|i . v_j
 * v, c and b are those of the last iteration: c is the coupling that made
 * v, b includes the last agreement update (so softmax(b) is not c). r >= 1.
 * c and b may be NULL. */
int cj_capsule_route(const double *uhat, int64_t B, int64_t I, int64_t J, int64_t D, int r,
                     double *v, double *c, double *b);
/* The gradient of a loss through the r iterations of routing: given dv =
 * dL/dv (B, J, D), duhat = dL/duhat (B, I, J, D), every path included (the
 * couplings depend on uhat too). The forward pass is recomputed. */
int cj_capsule_route_grad(const double *uhat, int64_t B, int64_t I, int64_t J, int64_t D, int r,
                          const double *dv, double *duhat);

/* Margin loss (Sabour et al. eq. 4), averaged over the batch:
 *   L = 1/B sum_b sum_k T_bk max(0, m+ - |v_bk|)^2
 *                      + lambda (1 - T_bk) max(0, |v_bk| - m-)^2
 * T (B, J) holds the targets (1 present, 0 absent). *loss = L and, when dv
 * is not NULL, dv = dL/dv (B, J, D) (0 where |v| = 0). */
int cj_capsule_margin(const double *v, const double *T, int64_t B, int64_t J, int64_t D,
                      double mplus, double mminus, double lambda, double *loss, double *dv);

/* EM routing (Hinton, Sabour & Frosst 2018, Procedure 1) for each example:
 * votes V (B, I, J, H), child activations a (B, I). R = 1/J; then for t =
 * 1..iters an M-step for every parent j
 *   R_ij <- R_ij a_i;  mu_j = sum_i R_ij V_ij / sum_i R_ij;
 *   var_j = sum_i R_ij (V_ij - mu_j)^2 / sum_i R_ij + eps   (per component h)
 *   cost_j^h = (beta_u[j] + log sigma_j^h) sum_i R_ij
 *   a_j = logistic(lambda_t (beta_a[j] - sum_h cost_j^h))
 * and an E-step for every child i
 *   p_j = N(V_ij; mu_j, diag var_j);  R_ij = a_j p_j / sum_k a_k p_k
 * (in the log domain). lambda: iters values (the inverse temperature of
 * each iteration); beta_u, beta_a: J values each. eps > 0 keeps a variance
 * of one vote finite (and a parent with no weight gets mu = 0, var = eps).
 * Outputs: aout (B, J), mu and var (B, J, H), R (B, I, J) after the last
 * E-step; var and R may be NULL. */
typedef struct cj_capsule_em {
  int iters;
  const double *lambda, *beta_u, *beta_a;
  double eps;
} cj_capsule_em;
int cj_capsule_em_route(const double *V, const double *a, int64_t B, int64_t I, int64_t J, int64_t H,
                        const cj_capsule_em *opt, double *aout, double *mu, double *var, double *R);

/* A capsule layer: I children of din elements, J parents of dout, routed
 * r times, transformations W (I, J, dout, din) owned by the caller (the
 * binding keeps them in an array the collector sees). */
typedef struct cj_capsule_layer {
  int64_t I, J, din, dout;
  int r;
  double *W;
} cj_capsule_layer;
/* Forward pass of a batch: uhat (B, I, J, dout) is filled (the caller
 * keeps it for the backward pass), then v, c, b as cj_capsule_route. */
int cj_capsule_layer_forward(const cj_capsule_layer *l, int64_t B, const double *u, double *uhat,
                             double *v, double *c, double *b);
/* Backward pass from dv = dL/dv: dW (I, J, dout, din) and du (B, I, din;
 * may be NULL), through the routing and the predictions. */
int cj_capsule_layer_backward(const cj_capsule_layer *l, int64_t B, const double *u,
                              const double *uhat, const double *dv, double *dW, double *du);

#endif
