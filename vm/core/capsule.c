/*
 * capsule.c — capsule routing (see capsule.h for shapes and contracts).
 *
 * Routing is plain loops over one example at a time, laid out so the
 * innermost loop runs along the D contiguous elements of a prediction (BLAS
 * calls on such small matrices cost more than they save, and OpenBLAS
 * threads them); predictions and their gradients are one BLAS product per
 * child capsule
 * (the child's transformations for all parents against the batch). The
 * gradient through routing is reverse-mode differentiation of Procedure 1:
 * the forward pass is recomputed per example keeping c, s and v of every
 * iteration, then walked back (see route_back).
 */
#include "capsule.h"

#include "array.h"

#include <math.h>
#include <string.h>

/* Hot loops: an AVX2 clone chosen at run time, vectorised. They are
 * elementwise or keep their order of summation (GCC does not reassociate
 * floating point without -ffast-math), so every clone gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HOT __attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#else
#define HOT
#endif

static int checkdims(int64_t B, int64_t I, int64_t J, int64_t D, const char *fn)
{
  if (B < 0 || I < 1 || J < 1 || D < 1)
    return cj_fail(CJ_EINVAL, "%s: sizes must be positive (batch %lld, children %lld, parents %lld, dim %lld)",
                   fn, (long long)B, (long long)I, (long long)J, (long long)D);
  if (I > ((int64_t)1 << 40) / J / D)
    return cj_fail(CJ_EINVAL, "%s: %lld x %lld x %lld is too large", fn, (long long)I, (long long)J, (long long)D);
  return CJ_OK;
}

/* ---- squash ---------------------------------------------------------------- */

void cj_capsule_squash(double *v, const double *s, int64_t n, int64_t dim)
{
  for (int64_t k = 0; k < n; k++, v += dim, s += dim) {
    double n2 = 0, f;
    for (int64_t j = 0; j < dim; j++) n2 += s[j] * s[j];
    f = sqrt(n2) / (1.0 + n2);
    for (int64_t j = 0; j < dim; j++) v[j] = s[j] * f;
  }
}

/* gs = J(s)^T gv for v = squash(s): J = g I + (g'/m) s s^T with m = |s|,
 * g(m) = m / (1 + m^2), g'(m) = (1 - m^2) / (1 + m^2)^2 (J is symmetric;
 * the second term vanishes as m -> 0). */
static void squash_back(double *gs, const double *s, const double *gv, int64_t dim)
{
  double n2 = 0, sg = 0, m, g, h;
  for (int64_t j = 0; j < dim; j++) {
    n2 += s[j] * s[j];
    sg += s[j] * gv[j];
  }
  m = sqrt(n2);
  g = m / (1.0 + n2);
  h = m > 0 ? (1.0 - n2) / ((1.0 + n2) * (1.0 + n2) * m) : 0.0;
  for (int64_t j = 0; j < dim; j++) gs[j] = g * gv[j] + h * sg * s[j];
}

/* ---- predictions ----------------------------------------------------------- */

int cj_capsule_predict(double *uhat, const double *u, const double *W,
                       int64_t B, int64_t I, int64_t J, int64_t dout, int64_t din)
{
  int st = checkdims(B, I, J, dout, "predict");
  if (st) return st;
  if (din < 1) return cj_fail(CJ_EINVAL, "predict: input dimension must be positive");
  for (int64_t i = 0; i < I && !st; i++)
    st = cj_dgemm(0, 1, B, J * dout, din, 1.0, u + i * din, I * din, W + i * J * dout * din, din,
                  0.0, uhat + i * J * dout, I * J * dout);
  return st;
}

int cj_capsule_predict_grad(double *dW, double *du, const double *duhat, const double *u,
                            const double *W, int64_t B, int64_t I, int64_t J, int64_t dout,
                            int64_t din)
{
  int st = checkdims(B, I, J, dout, "predict_grad");
  if (st) return st;
  if (din < 1) return cj_fail(CJ_EINVAL, "predict_grad: input dimension must be positive");
  for (int64_t i = 0; i < I && !st; i++) {
    const double *dh = duhat + i * J * dout, *Wi = W + i * J * dout * din;
    st = cj_dgemm(1, 0, J * dout, din, B, 1.0, dh, I * J * dout, u + i * din, I * din, 0.0,
                  dW + i * J * dout * din, din);
    if (!st && du)
      st = cj_dgemm(0, 0, B, din, J * dout, 1.0, dh, I * J * dout, Wi, din, 0.0, du + i * din, I * din);
  }
  return st;
}

/* ---- routing by agreement ------------------------------------------------------ */

/* c = softmax of each row of b (I rows of J). */
static void softmax_rows(double *c, const double *b, int64_t I, int64_t J)
{
  for (int64_t i = 0; i < I; i++, c += J, b += J) {
    double m = b[0], z = 0;
    for (int64_t j = 1; j < J; j++) m = b[j] > m ? b[j] : m;
    for (int64_t j = 0; j < J; j++) z += c[j] = exp(b[j] - m);
    z = 1.0 / z;
    for (int64_t j = 0; j < J; j++) c[j] *= z;
  }
}

/* s_j = sum_i c_ij uhat_j|i for every parent j. */
HOT static void sum_children(double *s, const double *c, const double *uh, int64_t I, int64_t J, int64_t D)
{
  memset(s, 0, sizeof(double) * (size_t)(J * D));
  for (int64_t i = 0; i < I; i++)
    for (int64_t j = 0; j < J; j++) {
      const double *p = uh + (i * J + j) * D;
      double cij = c[i * J + j], *sj = s + j * D;
      for (int64_t k = 0; k < D; k++) sj[k] += cij * p[k];
    }
}

/* b_ij += uhat_j|i . v_j */
HOT static void agree(double *b, const double *uh, const double *v, int64_t I, int64_t J, int64_t D)
{
  for (int64_t i = 0; i < I; i++)
    for (int64_t j = 0; j < J; j++) {
      const double *p = uh + (i * J + j) * D, *vj = v + j * D;
      double a = 0;
      for (int64_t k = 0; k < D; k++) a += p[k] * vj[k];
      b[i * J + j] += a;
    }
}

/* One iteration for one example: c from b (uniform while b is 0, on the
 * first iteration), s, v, then b += agreement. */
static void route_step(const double *uh, int64_t I, int64_t J, int64_t D, int first, double *b,
                       double *c, double *s, double *v)
{
  if (first)
    for (int64_t k = 0; k < I * J; k++) c[k] = 1.0 / (double)J;
  else
    softmax_rows(c, b, I, J);
  sum_children(s, c, uh, I, J, D);
  cj_capsule_squash(v, s, J, D);
  agree(b, uh, v, I, J, D);
}

int cj_capsule_route(const double *uhat, int64_t B, int64_t I, int64_t J, int64_t D, int r,
                     double *v, double *c, double *b)
{
  int64_t IJ = I * J;
  double *bw, *cw, *s;
  int st = checkdims(B, I, J, D, "route");
  if (st) return st;
  if (r < 1) return cj_fail(CJ_EINVAL, "route: iterations must be at least 1 (got %d)", r);
  bw = cj_malloc(sizeof(double) * (size_t)IJ);
  cw = cj_malloc(sizeof(double) * (size_t)IJ);
  s = cj_malloc(sizeof(double) * (size_t)(J * D));
  if (!bw || !cw || !s) st = cj_fail(CJ_ENOMEM, "route: out of memory");
  for (int64_t e = 0; e < B && !st; e++) {
    const double *uh = uhat + e * IJ * D;
    memset(bw, 0, sizeof(double) * (size_t)IJ);
    for (int t = 0; t < r; t++) route_step(uh, I, J, D, t == 0, bw, cw, s, v + e * J * D);
    if (c) memcpy(c + e * IJ, cw, sizeof(double) * (size_t)IJ);
    if (b) memcpy(b + e * IJ, bw, sizeof(double) * (size_t)IJ);
  }
  cj_free(bw);
  cj_free(cw);
  cj_free(s);
  return st;
}

/* Scratch of the backward pass for one example: c, s, v of every iteration
 * and the running gradients. */
typedef struct rtrace {
  double *c, *s, *v;      /* r * IJ, r * JD, r * JD */
  double *b, *gb, *gc, *gv, *gs;
} rtrace;

/* Walk Procedure 1 back for one example (see the header comment):
 * iteration t made c_t = softmax(b_(t-1)), s_t, v_t and b_t = b_(t-1) +
 * uhat . v_t; gb is dL/db_t (0 for the last b, which nothing reads). */
HOT static void route_back(const double *uh, int64_t I, int64_t J, int64_t D, int r, rtrace *w,
                       const double *dv, double *du)
{
  int64_t IJ = I * J, JD = J * D;
  memset(w->gb, 0, sizeof(double) * (size_t)IJ);
  memset(du, 0, sizeof(double) * (size_t)(IJ * D));
  for (int t = r - 1; t >= 0; t--) {
    const double *c = w->c + t * IJ, *s = w->s + t * JD, *v = w->v + t * JD;
    if (t == r - 1) memcpy(w->gv, dv, sizeof(double) * (size_t)JD);
    else memset(w->gv, 0, sizeof(double) * (size_t)JD);
    for (int64_t i = 0; i < I; i++)           /* b_t = b_(t-1) + uhat . v_t */
      for (int64_t j = 0; j < J; j++) {
        const double *p = uh + (i * J + j) * D, *vj = v + j * D;
        double g = w->gb[i * J + j], *dp = du + (i * J + j) * D, *gvj = w->gv + j * D;
        if (g == 0) continue;
        for (int64_t k = 0; k < D; k++) {
          gvj[k] += g * p[k];
          dp[k] += g * vj[k];
        }
      }
    for (int64_t j = 0; j < J; j++) squash_back(w->gs + j * D, s + j * D, w->gv + j * D, D);
    for (int64_t i = 0; i < I; i++) {          /* s_t = sum_i c uhat; c = softmax(b_(t-1)) */
      double dot = 0;
      for (int64_t j = 0; j < J; j++) {
        const double *p = uh + (i * J + j) * D, *gsj = w->gs + j * D;
        double g = 0, cij = c[i * J + j], *dp = du + (i * J + j) * D;
        for (int64_t k = 0; k < D; k++) {
          g += gsj[k] * p[k];
          dp[k] += cij * gsj[k];
        }
        w->gc[j] = g;
        dot += cij * g;
      }
      for (int64_t j = 0; j < J; j++) w->gb[i * J + j] += c[i * J + j] * (w->gc[j] - dot);
    }
  }
}

int cj_capsule_route_grad(const double *uhat, int64_t B, int64_t I, int64_t J, int64_t D, int r,
                          const double *dv, double *duhat)
{
  int64_t IJ = I * J, JD = J * D;
  rtrace w = { 0 };
  double *mem;
  int st = checkdims(B, I, J, D, "route_grad");
  if (st) return st;
  if (r < 1) return cj_fail(CJ_EINVAL, "route_grad: iterations must be at least 1 (got %d)", r);
  mem = cj_malloc(sizeof(double) * (size_t)((r + 2) * IJ + (2 * r + 2) * JD + J));
  if (!mem) return cj_fail(CJ_ENOMEM, "route_grad: out of memory");
  w.c = mem;
  w.b = w.c + r * IJ;
  w.gb = w.b + IJ;
  w.s = w.gb + IJ;
  w.v = w.s + r * JD;
  w.gv = w.v + r * JD;
  w.gs = w.gv + JD;
  w.gc = w.gs + JD;
  for (int64_t e = 0; e < B; e++) {
    const double *uh = uhat + e * IJ * D;
    memset(w.b, 0, sizeof(double) * (size_t)IJ);
    for (int t = 0; t < r; t++)
      route_step(uh, I, J, D, t == 0, w.b, w.c + t * IJ, w.s + t * JD, w.v + t * JD);
    route_back(uh, I, J, D, r, &w, dv + e * JD, duhat + e * IJ * D);
  }
  cj_free(mem);
  return CJ_OK;
}

/* ---- margin loss ------------------------------------------------------------------ */

int cj_capsule_margin(const double *v, const double *T, int64_t B, int64_t J, int64_t D,
                      double mplus, double mminus, double lambda, double *loss, double *dv)
{
  double total = 0;
  int st = checkdims(B, 1, J, D, "margin_loss");
  if (st) return st;
  if (B < 1) return cj_fail(CJ_EINVAL, "margin_loss: empty batch");
  for (int64_t k = 0; k < B * J; k++) {
    const double *vk = v + k * D;
    double n2 = 0, n, up, down, g;
    for (int64_t j = 0; j < D; j++) n2 += vk[j] * vk[j];
    n = sqrt(n2);
    up = mplus - n > 0 ? mplus - n : 0;
    down = n - mminus > 0 ? n - mminus : 0;
    total += T[k] * up * up + lambda * (1 - T[k]) * down * down;
    if (!dv) continue;
    g = n > 0 ? (-2 * T[k] * up + 2 * lambda * (1 - T[k]) * down) / (n * (double)B) : 0;
    for (int64_t j = 0; j < D; j++) dv[k * D + j] = g * vk[j];
  }
  *loss = total / (double)B;
  return CJ_OK;
}

/* ---- EM routing ------------------------------------------------------------------- */

/* log(logistic(x)), without overflow. */
static double loglogistic(double x)
{
  return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

/* M-step for parent j of one example: R (I x J, already times a), votes V. */
static void mstep(const double *V, const double *R, int64_t I, int64_t J, int64_t H, int64_t j,
                  const cj_capsule_em *o, double lam, double *mu, double *var, double *loga)
{
  double rs = 0, cost = 0;
  for (int64_t i = 0; i < I; i++) rs += R[i * J + j];
  for (int64_t h = 0; h < H; h++) {
    double m = 0, q = 0;
    if (rs > 0) {
      for (int64_t i = 0; i < I; i++) m += R[i * J + j] * V[(i * J + j) * H + h];
      m /= rs;
      for (int64_t i = 0; i < I; i++) {
        double e = V[(i * J + j) * H + h] - m;
        q += R[i * J + j] * e * e;
      }
      q /= rs;
    }
    mu[h] = m;
    var[h] = q + o->eps;
    cost += (o->beta_u[j] + 0.5 * log(var[h])) * rs;
  }
  *loga = loglogistic(lam * (o->beta_a[j] - cost));
}

/* E-step for every child of one example: R_ij = softmax_j(log a_j + log p_j). */
static void estep(const double *V, int64_t I, int64_t J, int64_t H, const double *mu,
                  const double *var, const double *loga, double *R)
{
  for (int64_t i = 0; i < I; i++) {
    double *Ri = R + i * J, m = -INFINITY, z = 0;
    for (int64_t j = 0; j < J; j++) {
      double lp = 0;
      for (int64_t h = 0; h < H; h++) {
        double e = V[(i * J + j) * H + h] - mu[j * H + h];
        lp -= 0.5 * (log(2 * M_PI * var[j * H + h]) + e * e / var[j * H + h]);
      }
      Ri[j] = loga[j] + lp;
      m = Ri[j] > m ? Ri[j] : m;
    }
    for (int64_t j = 0; j < J; j++) z += Ri[j] = m == -INFINITY ? 1.0 : exp(Ri[j] - m);
    for (int64_t j = 0; j < J; j++) Ri[j] /= z;
  }
}

static int checkem(const cj_capsule_em *o, int64_t J)
{
  if (o->iters < 1) return cj_fail(CJ_EINVAL, "em_route: iterations must be at least 1 (got %d)", o->iters);
  if (!(o->eps > 0)) return cj_fail(CJ_EINVAL, "em_route: eps must be positive");
  for (int t = 0; t < o->iters; t++)
    if (!isfinite(o->lambda[t])) return cj_fail(CJ_EINVAL, "em_route: lambda must be finite");
  for (int64_t j = 0; j < J; j++)
    if (!isfinite(o->beta_u[j]) || !isfinite(o->beta_a[j]))
      return cj_fail(CJ_EINVAL, "em_route: beta_u and beta_a must be finite");
  return CJ_OK;
}

int cj_capsule_em_route(const double *V, const double *a, int64_t B, int64_t I, int64_t J, int64_t H,
                        const cj_capsule_em *o, double *aout, double *mu, double *var, double *R)
{
  int64_t IJ = I * J;
  double *Rw, *vw, *loga;
  int st = checkdims(B, I, J, H, "em_route");
  if (st || (st = checkem(o, J))) return st;
  for (int64_t k = 0; k < B * I; k++)
    if (!(a[k] >= 0) || !isfinite(a[k])) return cj_fail(CJ_EINVAL, "em_route: activations must be finite and >= 0");
  Rw = cj_malloc(sizeof(double) * (size_t)IJ);
  vw = cj_malloc(sizeof(double) * (size_t)(J * H));
  loga = cj_malloc(sizeof(double) * (size_t)J);
  if (!Rw || !vw || !loga) st = cj_fail(CJ_ENOMEM, "em_route: out of memory");
  for (int64_t e = 0; e < B && !st; e++) {
    const double *Ve = V + e * IJ * H, *ae = a + e * I;
    double *mue = mu + e * J * H;
    for (int64_t k = 0; k < IJ; k++) Rw[k] = 1.0 / (double)J;
    for (int t = 0; t < o->iters; t++) {
      for (int64_t k = 0; k < IJ; k++) Rw[k] *= ae[k / J];
      for (int64_t j = 0; j < J; j++) mstep(Ve, Rw, I, J, H, j, o, o->lambda[t], mue + j * H, vw + j * H, &loga[j]);
      estep(Ve, I, J, H, mue, vw, loga, Rw);
    }
    for (int64_t j = 0; j < J; j++) aout[e * J + j] = exp(loga[j]);
    if (var) memcpy(var + e * J * H, vw, sizeof(double) * (size_t)(J * H));
    if (R) memcpy(R + e * IJ, Rw, sizeof(double) * (size_t)IJ);
  }
  cj_free(Rw);
  cj_free(vw);
  cj_free(loga);
  return st;
}

/* ---- the layer --------------------------------------------------------------------- */

int cj_capsule_layer_forward(const cj_capsule_layer *l, int64_t B, const double *u, double *uhat,
                             double *v, double *c, double *b)
{
  int st = cj_capsule_predict(uhat, u, l->W, B, l->I, l->J, l->dout, l->din);
  return st ? st : cj_capsule_route(uhat, B, l->I, l->J, l->dout, l->r, v, c, b);
}

int cj_capsule_layer_backward(const cj_capsule_layer *l, int64_t B, const double *u,
                              const double *uhat, const double *dv, double *dW, double *du)
{
  double *duhat;
  int st;
  if ((st = checkdims(B, l->I, l->J, l->dout, "backward"))) return st;
  if (!(duhat = cj_malloc(sizeof(double) * (size_t)(B * l->I * l->J * l->dout + 1))))
    return cj_fail(CJ_ENOMEM, "backward: out of memory");
  st = cj_capsule_route_grad(uhat, B, l->I, l->J, l->dout, l->r, dv, duhat);
  if (!st) st = cj_capsule_predict_grad(dW, du, duhat, u, l->W, B, l->I, l->J, l->dout, l->din);
  cj_free(duhat);
  return st;
}
