/*
 * kblock.h — private to interp.c, which includes it once per vector width:
 * the executor of one block of a compiled kernel (kprog.h). The includer
 * defines
 *   KW       doubles per vector (2, 4 or 8)
 *   KBLOCK   the name of the function made
 *   KTARGET  its attribute (a target("...") or nothing)
 * and this file undefines them. Every lane does the IEEE operations of the
 * tree in the tree's order whatever the width: the widths differ in speed,
 * never in results (the build has -ffp-contract=off, so no multiply-add is
 * fused, and no target here enables fast-math).
 */
#define KCAT_(a, b) a##b
#define KCAT(a, b) KCAT_(a, b)
#define KV KCAT(KBLOCK, _vd)      /* registers: aligned vectors of KW doubles */
#define KVI KCAT(KBLOCK, _vi)
#define KVU KCAT(KBLOCK, _vu)     /* variables: unaligned */
typedef double KV __attribute__((vector_size(8 * KW), may_alias));
typedef int64_t KVI __attribute__((vector_size(8 * KW), may_alias));
typedef double KVU __attribute__((vector_size(8 * KW), may_alias, aligned(8)));

/* A comparison mask (all ones / zero per lane) as 1.0 / 0.0: the bits of 1.0 or +0. */
#define KBOOL(mk) ((KV)((mk) & 0x3FF0000000000000LL))
#define KR(x) (p->regs + (size_t)(x) * LANES)
#define KVR(x) ((KV *)KR(x))
/* d[v] = f over the nv vectors of a block (registers hold LANES >= nv * KW);
 * into a variable (dw = mv) the lanes after the last whole vector are
 * computed as one vector and only the live ones stored. With a refractory
 * select (in->e) a lane of a refractory neuron takes register e's instead,
 * tested as I_STORESELNR does; the lanes after the whole vectors one by one
 * (lastspike ends with the population). */
#define KLOOP(expr) do {                                                             \
    if (in->e == NOREG) {                                                            \
      for (int v = 0; v < dw; v++) vd[v] = (expr);                                   \
      if (dw < nv) {                                                                 \
        const int v = dw;                                                            \
        const KV t_ = (expr);                                                        \
        for (int j = 0; j < m - dw * KW; j++) d[dw * KW + j] = t_[j];                \
      }                                                                              \
    } else {                                                                         \
      const double tt_ = c->t, rb_ = c->refractory, *ls_ = c->lastspike + base, *e_ = KR(in->e); \
      const KV *ve_ = KVR(in->e);                                                    \
      for (int v = 0; v < mv; v++) {                                                 \
        const KVI k_ = tt_ - ((const KVU *)ls_)[v] >= rb_;                           \
        vd[v] = (KV)(((KVI)(expr) & k_) | ((KVI)ve_[v] & ~k_));                      \
      }                                                                              \
      if (mv < nv) {                                                                 \
        const int v = mv;                                                            \
        const KV t_ = (expr);                                                        \
        for (int l = mv * KW; l < m; l++) d[l] = tt_ - ls_[l] >= rb_ ? t_[l - mv * KW] : e_[l]; \
      }                                                                              \
    }                                                                                \
  } while (0)

/* d = expr over X, the variable slot read at the block's neurons: whole
 * vectors (vexpr; register lanes v) then the lanes left (sexpr; lanes l),
 * or lane by lane from a float variable. Both forms do the same IEEE
 * operations. */
#define KVLOOP(slot, vexpr, sexpr) do {                                              \
    if (sgl) {                                                                       \
      const float *s_ = (const float *)c->var[slot] + base;                          \
      for (int l = 0; l < m; l++) { const double X = (double)s_[l]; d[l] = (sexpr); } \
    } else {                                                                         \
      const double *s_ = (const double *)c->var[slot] + base;                        \
      for (int v = 0; v < mv; v++) { const KV X = ((const KVU *)s_)[v]; vd[v] = (vexpr); } \
      for (int l = mv * KW; l < m; l++) { const double X = s_[l]; d[l] = (sexpr); }  \
    }                                                                                \
  } while (0)

/* The threshold scan of the whole vectors of I_THRESHV, x OP k: the masks of
 * 64 lanes are or-ed and tested once (a spike is rare), then a passing group
 * is looked at vector by vector and a passing vector lane by lane, in order. */
#define KTHRESH(OP) do {                                                             \
    for (int g = 0; g < mv; g += 64 / KW) {                                          \
      const int ge = g + 64 / KW < mv ? g + 64 / KW : mv;                            \
      KVI acc = { 0 };                                                               \
      int64_t any = 0;                                                               \
      for (int v = g; v < ge; v++) acc |= ((const KVU *)x)[v] OP k;                  \
      for (int j = 0; j < KW; j++) any |= acc[j];                                    \
      if (!any) continue;                                                            \
      for (int v = g; v < ge; v++) {                                                 \
        const KVI mk = ((const KVU *)x)[v] OP k;                                     \
        any = 0;                                                                     \
        for (int j = 0; j < KW; j++) any |= mk[j];                                   \
        if (!any) continue;                                                          \
        for (int j = 0; j < KW; j++)                                                 \
          if (mk[j] && t - ls[v * KW + j] >= rb) c->spikes[(*ns)++] = base + v * KW + j; \
      }                                                                              \
    }                                                                                \
  } while (0)

#if KW == 8 && defined(KMASK8)
/* The same with AVX-512's compare into a mask register (P a _CMP_ predicate
 * with C's meaning: ordered and false on a NaN, but != true): the masks of
 * 8 vectors make a 64-bit word whose set bits are the passing lanes, in order. */
#define KTHRESH8(P) do {                                                             \
    for (int g = 0; g < mv; g += 8) {                                                \
      const int ge = g + 8 < mv ? g + 8 : mv;                                        \
      uint64_t bits = 0;                                                             \
      for (int v = g; v < ge; v++)                                                   \
        bits |= (uint64_t)_mm512_cmp_pd_mask(_mm512_loadu_pd(x + v * 8), kv, P) << (8 * (v - g)); \
      while (bits) {                                                                 \
        const int l = g * 8 + __builtin_ctzll(bits);                                 \
        bits &= bits - 1;                                                            \
        if (t - ls[l] >= rb) c->spikes[(*ns)++] = base + l;                          \
      }                                                                              \
    }                                                                                \
  } while (0)
#endif

/* 1 if lane l of the comparison cmp (an I_*K op) holds for x against k. */
static inline int KCAT(KBLOCK, _cmp1)(int cmp, double x, double k)
{
  switch (cmp) {
  case I_LTK: return x < k;
  case I_LEK: return x <= k;
  case I_GTK: return x > k;
  case I_GEK: return x >= k;
  case I_EQK: return x == k;
  default: return x != k;
  }
}

KTARGET
static void KBLOCK(cj_prog *p, const cj_kctx *c, int64_t base, int m, int64_t *ns)
{
  const int nv = (m + KW - 1) / KW, mv = m / KW;   /* vectors; whole ones of live lanes */
  const ins *code = p->code;
  const int64_t *ii = p->ix[CJ_HOW_I];
  const int contig = p->domain == CJ_DOM_NEURONS, sgl = p->single;
  for (int pc = 0;; pc++) {
    const ins *in = &code[pc];
    const int dvar = in->v != NOREG && !sgl;   /* the result goes to a variable (float: after the op) */
    double *d = dvar ? (double *)c->var[in->v] + base : KR(in->d);
    KVU *vd = (KVU *)d;
    KV *va = KVR(in->a), *vb = KVR(in->b);
    const int dw = dvar ? mv : nv;               /* vectors stored whole */
    switch (in->op) {
    case I_END: return;
    case I_LOADC:
      if (sgl) { const float *src = (const float *)c->var[in->a] + base; for (int l = 0; l < m; l++) d[l] = (double)src[l]; }
      else {
        const double *src = (const double *)c->var[in->a] + base;
        for (int v = 0; v < mv; v++) vd[v] = ((const KVU *)src)[v];
        for (int l = mv * KW; l < m; l++) d[l] = src[l];
      }
      break;
    case I_LOADX: {
      const int64_t *ix = p->ix[in->b];
      if (sgl) { const float *src = c->var[in->a]; for (int l = 0; l < m; l++) d[l] = (double)src[ix[l]]; }
      else { const double *src = c->var[in->a]; for (int l = 0; l < m; l++) d[l] = src[ix[l]]; }
      break;
    }
    case I_LS:
      if (contig) {
        const double *ls = c->lastspike + base;
        for (int v = 0; v < mv; v++) vd[v] = ((const KVU *)ls)[v];
        for (int l = mv * KW; l < m; l++) d[l] = ls[l];
      } else for (int l = 0; l < m; l++) d[l] = c->lastspike[ii[l]];
      break;
    case I_NOTREF: {
      const double t = c->t, rb = c->refractory, *ls = c->lastspike + (contig ? base : 0);
      if (contig) {
        for (int v = 0; v < mv; v++) vd[v] = KBOOL(t - ((const KVU *)ls)[v] >= rb);
        for (int l = mv * KW; l < m; l++) d[l] = t - ls[l] >= rb ? 1.0 : 0.0;
      } else for (int l = 0; l < m; l++) d[l] = t - ls[ii[l]] >= rb ? 1.0 : 0.0;
      break;
    }
    case I_IDX: { const int64_t *ix = p->ix[in->a]; for (int l = 0; l < m; l++) d[l] = (double)ix[l]; break; }
    case I_RAND: {
      const int64_t *ie = p->ix[p->domain == CJ_DOM_NEURONS || p->domain == CJ_DOM_SPIKES || p->domain == CJ_DOM_SCALAR ? CJ_HOW_I : CJ_HOW_S];
      for (int l = 0; l < m; l++)
        d[l] = in->b ? cj_knormal(c->key, c->kid, c->step, ie[l], in->a)
                     : cj_kuniform(c->key, c->kid, c->step, ie[l], in->a);
      break;
    }
    case I_ADD: KLOOP(va[v] + vb[v]); break;
    case I_SUB: KLOOP(va[v] - vb[v]); break;
    case I_MUL: KLOOP(va[v] * vb[v]); break;
    case I_DIV: KLOOP(va[v] / vb[v]); break;
    case I_NEG: KLOOP(-va[v]); break;
    case I_POW: { const double *a = KR(in->a), *b = KR(in->b); for (int l = 0; l < m; l++) d[l] = pow(a[l], b[l]); break; }
    case I_LT: KLOOP(KBOOL(va[v] < vb[v])); break;
    case I_LE: KLOOP(KBOOL(va[v] <= vb[v])); break;
    case I_GT: KLOOP(KBOOL(va[v] > vb[v])); break;
    case I_GE: KLOOP(KBOOL(va[v] >= vb[v])); break;
    case I_EQ: KLOOP(KBOOL(va[v] == vb[v])); break;
    case I_NE: KLOOP(KBOOL(va[v] != vb[v])); break;
    case I_AND: { const KV z = { 0 }; KLOOP(KBOOL((va[v] != z) & (vb[v] != z))); break; }
    case I_OR: { const KV z = { 0 }; KLOOP(KBOOL((va[v] != z) | (vb[v] != z))); break; }
    case I_NOT: { const KV z = { 0 }; KLOOP(KBOOL(va[v] == z)); break; }
    case I_SEL: {   /* d = c != 0 ? a : b */
      const KV z = { 0 };
      KV *vc = KVR(in->c);
      for (int v = 0; v < nv; v++) {
        KVI k = vc[v] != z;
        vd[v] = (KV)(((KVI)va[v] & k) | ((KVI)vb[v] & ~k));
      }
      break;
    }
    case I_F1: call1(in->c, d, KR(in->a), m); break;
    case I_F2: call2(in->c, d, KR(in->a), KR(in->b), m); break;
    case I_CLIP: {
      const double *a = KR(in->a), *b = KR(in->b), *x = KR(in->c);
      for (int l = 0; l < m; l++) d[l] = cj_clip(a[l], b[l], x[l]);
      break;
    }
    case I_MOV: for (int v = 0; v < nv; v++) vd[v] = va[v]; break;
    case I_BLEND: {
      const double *a = KR(in->a), *k = KR(in->b);
      for (int l = 0; l < m; l++) if (k[l] != 0.0) d[l] = a[l];
      break;
    }
    case I_STOREC: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = (double *)c->var[in->d] + base;
      const double *a = KR(in->a);
      if (in->c == NOREG) {
        for (int v = 0; v < mv; v++) ((KVU *)dst)[v] = va[v];
        for (int l = mv * KW; l < m; l++) dst[l] = a[l];
      } else { const double *k = KR(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[l] = a[l]; }
      break;
    }
    case I_STOREX: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = c->var[in->d];
      const double *a = KR(in->a);
      const int64_t *ix = p->ix[in->b];
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[ix[l]] = a[l];
      else { const double *k = KR(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[ix[l]] = a[l]; }
      break;
    }
    case I_ADDC: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = (double *)c->var[in->d] + base;
      const double *a = KR(in->a);
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[l] += a[l];
      else { const double *k = KR(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[l] += a[l]; }
      break;
    }
    case I_ADDX: if (sgl) { storef(p, c, in, base, m); break; } else {
      double *dst = c->var[in->d];
      const double *a = KR(in->a);
      const int64_t *ix = p->ix[in->b];
      if (in->c == NOREG) for (int l = 0; l < m; l++) dst[ix[l]] += a[l];
      else { const double *k = KR(in->c); for (int l = 0; l < m; l++) if (k[l] != 0.0) dst[ix[l]] += a[l]; }
      break;
    }
    case I_MAND: case I_MANDN: {
      const double *a = KR(in->a);
      const int neg = in->op == I_MANDN;
      if (in->b == NOREG) for (int l = 0; l < m; l++) d[l] = ((a[l] != 0.0) != neg) ? 1.0 : 0.0;
      else {
        const double *k = KR(in->b);
        for (int l = 0; l < m; l++) d[l] = (k[l] != 0.0 && ((a[l] != 0.0) != neg)) ? 1.0 : 0.0;
      }
      break;
    }
    case I_JNONE: if (!anyset(KR(in->a), m)) pc = in->b - 1; break;
    case I_THRESH: {   /* neurons domain: element l is neuron base + l; scanned a vector at a time */
      const double *a = KR(in->a), *ls = c->lastspike + base, t = c->t, rb = c->refractory;
      const KV z = { 0 };
      for (int v = 0; v < nv; v++) {
        KVI k = va[v] != z;
        int64_t any = 0;
        for (int j = 0; j < KW; j++) any |= k[j];
        if (!any) continue;
        for (int l = v * KW; l < (v + 1) * KW && l < m; l++)
          if (a[l] != 0.0 && t - ls[l] >= rb) c->spikes[(*ns)++] = base + l;
      }
      break;
    }
    case I_RESULT: *c->result = KR(0)[0]; break;
    case I_RESULTV: memcpy(c->result + base, KR(0), (size_t)m * sizeof *d); break;
    /* superinstructions: K = the value of a uniform register */
    case I_ADDK: { const double k = KR(in->b)[0]; KLOOP(va[v] + k); break; }
    case I_SUBK: { const double k = KR(in->b)[0]; KLOOP(va[v] - k); break; }
    case I_KSUB: { const double k = KR(in->b)[0]; KLOOP(k - va[v]); break; }
    case I_MULK: { const double k = KR(in->b)[0]; KLOOP(va[v] * k); break; }
    case I_DIVK: { const double k = KR(in->b)[0]; KLOOP(va[v] / k); break; }
    case I_KDIV: { const double k = KR(in->b)[0]; KLOOP(k / va[v]); break; }
    case I_LTK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] < k)); break; }
    case I_LEK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] <= k)); break; }
    case I_GTK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] > k)); break; }
    case I_GEK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] >= k)); break; }
    case I_EQK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] == k)); break; }
    case I_NEK: { const double k = KR(in->b)[0]; KLOOP(KBOOL(va[v] != k)); break; }
    case I_MULKADD: { const double k = KR(in->c)[0]; KLOOP(k * va[v] + vb[v]); break; }
    case I_MULKADDK: { const double k = KR(in->c)[0], k2 = KR(in->b)[0]; KLOOP(k * va[v] + k2); break; }
    case I_VBIN: {
      const double *b = KR(in->b);
      switch (in->c) {
      case VB_VADD: KVLOOP(in->a, X + vb[v], X + b[l]); break;
      case VB_RADD: KVLOOP(in->a, vb[v] + X, b[l] + X); break;
      case VB_VSUB: KVLOOP(in->a, X - vb[v], X - b[l]); break;
      case VB_RSUB: KVLOOP(in->a, vb[v] - X, b[l] - X); break;
      case VB_VMUL: KVLOOP(in->a, X * vb[v], X * b[l]); break;
      case VB_RMUL: KVLOOP(in->a, vb[v] * X, b[l] * X); break;
      case VB_VDIV: KVLOOP(in->a, X / vb[v], X / b[l]); break;
      case VB_RDIV: KVLOOP(in->a, vb[v] / X, b[l] / X); break;
      default: KVLOOP(in->a, X * -vb[v], X * -b[l]); break;
      }
      break;
    }
    case I_VK: {
      const double k = KR(in->b)[0];
      switch (in->c) {
      case VB_VADD: KVLOOP(in->a, X + k, X + k); break;
      case VB_RADD: KVLOOP(in->a, k + X, k + X); break;
      case VB_VSUB: KVLOOP(in->a, X - k, X - k); break;
      case VB_RSUB: KVLOOP(in->a, k - X, k - X); break;
      case VB_VMUL: KVLOOP(in->a, X * k, X * k); break;
      case VB_RMUL: KVLOOP(in->a, k * X, k * X); break;
      case VB_VDIV: KVLOOP(in->a, X / k, X / k); break;
      default: KVLOOP(in->a, k / X, k / X); break;
      }
      break;
    }
    case I_NEGV: KVLOOP(in->a, -X, -X); break;
    case I_MULKVADD: {
      const double k = KR(in->c)[0], *b = KR(in->b);
      KVLOOP(in->a, k * X + vb[v], k * X + b[l]);
      break;
    }
    case I_MULKADDV: {
      const double k = KR(in->c)[0], *a = KR(in->a);
      KVLOOP(in->b, k * va[v] + X, k * a[l] + X);
      break;
    }
    case I_MULKVV: {
      const double k = KR(in->c)[0];
      if (sgl) {
        const float *x = (const float *)c->var[in->a] + base, *y = (const float *)c->var[in->b] + base;
        for (int l = 0; l < m; l++) d[l] = k * (double)x[l] + (double)y[l];
        break;
      }
      const double *x = (const double *)c->var[in->a] + base, *y = (const double *)c->var[in->b] + base;
      for (int v = 0; v < mv; v++) vd[v] = k * ((const KVU *)x)[v] + ((const KVU *)y)[v];
      for (int l = mv * KW; l < m; l++) d[l] = k * x[l] + y[l];
      break;
    }
    case I_MULK2: { const double k = KR(in->c)[0], k2 = KR(in->k)[0]; KLOOP(k * va[v] + k2 * vb[v]); break; }
    case I_MULK2V: {
      const double k = KR(in->c)[0], k2 = KR(in->k)[0], *a = KR(in->a);
      KVLOOP(in->b, k * va[v] + k2 * X, k * a[l] + k2 * X);
      break;
    }
    case I_VMADD: {
      const double *b = KR(in->b), *y = KR(in->c);
      const KV *vy = KVR(in->c);
      switch (in->k) {
      case 0: KVLOOP(in->a, X * vb[v] + vy[v], X * b[l] + y[l]); break;
      case VM_NEG: KVLOOP(in->a, X * -vb[v] + vy[v], X * -b[l] + y[l]); break;
      case VM_SUB: KVLOOP(in->a, X * vb[v] - vy[v], X * b[l] - y[l]); break;
      case VM_SUB | VM_NEG: KVLOOP(in->a, X * -vb[v] - vy[v], X * -b[l] - y[l]); break;
      case VM_SUB | VM_LEFT: KVLOOP(in->a, vy[v] - X * vb[v], y[l] - X * b[l]); break;
      default: KVLOOP(in->a, vy[v] - X * -vb[v], y[l] - X * -b[l]); break;
      }
      break;
    }
    case I_SINCEK: {   /* t - lastspike <c> K, neurons domain */
      const double k = KR(in->b)[0], t = c->t, *ls = c->lastspike + base;
      for (int v = 0; v < mv; v++) {
        const KV s = t - ((const KVU *)ls)[v];
        switch (in->c) {
        case I_LTK: vd[v] = KBOOL(s < k); break;
        case I_LEK: vd[v] = KBOOL(s <= k); break;
        case I_GTK: vd[v] = KBOOL(s > k); break;
        case I_GEK: vd[v] = KBOOL(s >= k); break;
        case I_EQK: vd[v] = KBOOL(s == k); break;
        default: vd[v] = KBOOL(s != k); break;
        }
      }
      for (int l = mv * KW; l < m; l++) d[l] = KCAT(KBLOCK, _cmp1)(in->c, t - ls[l], k) ? 1.0 : 0.0;
      break;
    }
    case I_SELNR: {   /* not refractory (t - lastspike >= refractory, as I_NOTREF) ? a : b */
      const double t = c->t, rb = c->refractory, *ls = c->lastspike + base, *a = KR(in->a), *b = KR(in->b);
      for (int v = 0; v < mv; v++) {
        KVI k = t - ((const KVU *)ls)[v] >= rb;
        vd[v] = (KV)(((KVI)va[v] & k) | ((KVI)vb[v] & ~k));
      }
      for (int l = mv * KW; l < m; l++) d[l] = t - ls[l] >= rb ? a[l] : b[l];
      break;
    }
    case I_SELV: {
      const KV z = { 0 };
      const double *a = KR(in->a), *x = KR(in->c);
      KV *vc = KVR(in->c);
      if (sgl) {
        const float *s_ = (const float *)c->var[in->b] + base;
        for (int l = 0; l < m; l++) d[l] = x[l] != 0.0 ? a[l] : (double)s_[l];
        break;
      }
      const double *s_ = (const double *)c->var[in->b] + base;
      for (int v = 0; v < mv; v++) {
        KVI k = vc[v] != z;
        vd[v] = (KV)(((KVI)va[v] & k) | ((KVI)((const KVU *)s_)[v] & ~k));
      }
      for (int l = mv * KW; l < m; l++) d[l] = x[l] != 0.0 ? a[l] : s_[l];
      break;
    }
    case I_SELVREF: {
      const double k = KR(in->c)[0], t = c->t, *ls = c->lastspike + base, *a = KR(in->a);
      if (sgl) {
        const float *s_ = (const float *)c->var[in->b] + base;
        for (int l = 0; l < m; l++) d[l] = t - ls[l] < k ? a[l] : (double)s_[l];
        break;
      }
      const double *s_ = (const double *)c->var[in->b] + base;
      for (int v = 0; v < mv; v++) {
        KVI mk = t - ((const KVU *)ls)[v] < k;
        vd[v] = (KV)(((KVI)va[v] & mk) | ((KVI)((const KVU *)s_)[v] & ~mk));
      }
      for (int l = mv * KW; l < m; l++) d[l] = t - ls[l] < k ? a[l] : s_[l];
      break;
    }
    case I_STORESELNR: {
      const double t = c->t, rb = c->refractory, *ls = c->lastspike + base, *a = KR(in->a), *b = KR(in->b);
      if (sgl) {
        float *dst = (float *)c->var[in->d] + base;
        for (int l = 0; l < m; l++) dst[l] = (float)(t - ls[l] >= rb ? a[l] : b[l]);
        break;
      }
      double *dst = (double *)c->var[in->d] + base;
      for (int v = 0; v < mv; v++) {
        KVI k = t - ((const KVU *)ls)[v] >= rb;
        ((KVU *)dst)[v] = (KV)(((KVI)va[v] & k) | ((KVI)vb[v] & ~k));
      }
      for (int l = mv * KW; l < m; l++) dst[l] = t - ls[l] >= rb ? a[l] : b[l];
      break;
    }
    case I_THRESHV: {  /* block-wise: compare a vector of neurons, look closer only where one passes */
      const double k = KR(in->b)[0], t = c->t, rb = c->refractory, *ls = c->lastspike + base;
      const int cmp = in->c;
      if (sgl) {
        const float *x = (const float *)c->var[in->a] + base;
        for (int l = 0; l < m; l++)
          if (KCAT(KBLOCK, _cmp1)(cmp, (double)x[l], k) && t - ls[l] >= rb) c->spikes[(*ns)++] = base + l;
        break;
      }
      const double *x = (const double *)c->var[in->a] + base;
#if KW == 8 && defined(KMASK8)
      const __m512d kv = _mm512_set1_pd(k);
      switch (cmp) {
      case I_LTK: KTHRESH8(_CMP_LT_OQ); break;
      case I_LEK: KTHRESH8(_CMP_LE_OQ); break;
      case I_GTK: KTHRESH8(_CMP_GT_OQ); break;
      case I_GEK: KTHRESH8(_CMP_GE_OQ); break;
      case I_EQK: KTHRESH8(_CMP_EQ_OQ); break;
      default: KTHRESH8(_CMP_NEQ_UQ); break;
      }
#else
      switch (cmp) {
      case I_LTK: KTHRESH(<); break;
      case I_LEK: KTHRESH(<=); break;
      case I_GTK: KTHRESH(>); break;
      case I_GEK: KTHRESH(>=); break;
      case I_EQK: KTHRESH(==); break;
      default: KTHRESH(!=); break;
      }
#endif
      for (int l = mv * KW; l < m; l++)
        if (KCAT(KBLOCK, _cmp1)(cmp, x[l], k) && t - ls[l] >= rb) c->spikes[(*ns)++] = base + l;
      break;
    }
    }
    if (in->v != NOREG && sgl) {   /* float variable: the register rounded once, as a store */
      float *dst = (float *)c->var[in->v] + base;
      for (int l = 0; l < m; l++) dst[l] = (float)d[l];
    }
  }
}

#undef KLOOP
#undef KTHRESH
#undef KTHRESH8
#undef KVLOOP
#undef KVR
#undef KR
#undef KBOOL
#undef KVU
#undef KVI
#undef KV
#undef KCAT
#undef KCAT_
#undef KW
#undef KBLOCK
#undef KTARGET
