/*
 * tpr.h — tensor product representations (Smolensky 1990): a structure
 * of n constituents, each a filler vector f_k (df elements) in a role r_k
 * (dr elements), is the superposition T = sum_k f_k r_k^T, a df x dr
 * matrix (flattened row-major it is the vector McCoy et al. compare with
 * embeddings). A filler comes back by multiplying T with the dual (unbinding)
 * vector u_k of its role: T u_k = f_k exactly when the roles are linearly
 * independent, the duals being the rows of U = (R R^T)^-1 R (U R^T = I).
 * The Lua face is vm/bind/ltpr.c (cj.tpr).
 *
 * Row-major doubles; a batch of B structures shares one set of roles R
 * (n x dr): fillers F (B, n, df), tensors T (B, df, dr). Products go
 * through BLAS (cj_dgemm). Failures: CJ_EINVAL naming the problem, CJ_ENOMEM.
 */
#ifndef CJ_TPR_H
#define CJ_TPR_H

#include "cj.h"

/* T (B, df, dr) = sum_k F[b][k] R[k]^T for each structure b. */
int cj_tpr_bind(double *T, const double *R, const double *F, int64_t B, int64_t n, int64_t dr, int64_t df);
/* F (B, n, df): F[b][k] = T[b] U[k] for the n unbinding vectors U (n x dr). */
int cj_tpr_unbind(double *F, const double *T, const double *U, int64_t B, int64_t n, int64_t dr, int64_t df);
/* U (n x dr) = (R R^T)^-1 R, the dual basis of the roles, by a Cholesky
 * factorisation of the Gram matrix. CJ_EINVAL when the roles are linearly
 * dependent (n > dr, or a pivot below 1e-12 times the largest diagonal
 * element of the Gram matrix). */
int cj_tpr_dual(double *U, const double *R, int64_t n, int64_t dr);

#endif
