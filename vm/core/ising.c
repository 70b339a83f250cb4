/*
 * ising.c — the 2-D Ising model on a periodic rows x cols lattice, updated
 * by checkerboard sweeps (all sites of one colour are independent given the
 * other colour): Metropolis or heat bath, each site's decision keyed by
 * (seed, colour, sweep, site) so the result does not depend on how the
 * sweep is ordered inside a colour (one 32-bit word per site, compared with
 * a threshold: probabilities to 2^-32). The magnetisation sum M and the bond sum
 * B = sum_<ij> s_i s_j are integers kept exactly as spins flip, so the
 * energy E = -J B - h M of every sweep costs nothing. Couplings other than
 * nearest neighbours on a lattice are the general machine of boltzmann.c.
 */
#include "boltzmann.h"

#include <math.h>
#include <string.h>

#include "rng.h"

static void recount(cj_ising *m)
{
  int64_t R = m->rows, C = m->cols, M = 0, B = 0;
  for (int64_t i = 0; i < R; i++)
    for (int64_t j = 0; j < C; j++) {
      int s = m->s[i * C + j];
      M += s;
      B += s * (m->s[i * C + (j + 1) % C] + m->s[((i + 1) % R) * C + j]);
    }
  m->M = M;
  m->B = B;
}

cj_ising *cj_ising_new(int64_t rows, int64_t cols, double J, double h, uint64_t seed, int init)
{
  cj_ising *m;
  if (rows < 4 || cols < 4 || rows % 2 || cols % 2 || rows > (1 << 20) || cols > (1 << 20) ||
      rows * cols > ((int64_t)1 << 34)) {
    cj_fail(CJ_EINVAL, "ising: the lattice needs even sizes >= 4 (got %lld x %lld)",
            (long long)rows, (long long)cols);
    return NULL;
  }
  if (!isfinite(J) || !isfinite(h)) {
    cj_fail(CJ_EINVAL, "ising: J and h must be finite");
    return NULL;
  }
  if (!(m = cj_calloc(1, sizeof *m)) || !(m->s = cj_malloc((size_t)(rows * cols)))) {
    cj_ising_free(m);
    cj_fail(CJ_ENOMEM, "ising: out of memory");
    return NULL;
  }
  m->rows = rows;
  m->cols = cols;
  m->J = J;
  m->h = h;
  m->seed = seed;
  for (int64_t k = 0; k < rows * cols; k++)
    m->s[k] = init > 0 ? 1 : init < 0 ? -1 : cj_bz_uniform(seed, CJ_BZ_INIT, 0, 0, (uint64_t)k) < 0.5 ? 1 : -1;
  recount(m);
  return m;
}

void cj_ising_free(cj_ising *m)
{
  if (!m) return;
  cj_free(m->s);
  cj_free(m);
}

void cj_ising_set(cj_ising *m, const double *x)
{
  for (int64_t k = 0; k < m->rows * m->cols; k++) m->s[k] = x[k] > 0 ? 1 : -1;
  recount(m);
}

double cj_ising_energy(const cj_ising *m)
{
  return (-m->J * (double)m->B - m->h * (double)m->M) / (double)(m->rows * m->cols);
}

double cj_ising_magnetization(const cj_ising *m)
{
  return (double)m->M / (double)(m->rows * m->cols);
}

/* One colour c of sweep sw. A site with spin s (index (s+1)/2) and
 * neighbour sum nb (index (nb+4)/2) ends at +1 (heat bath) or flips
 * (Metropolis) when its word is below th[s][nb] = ceil(p 2^32). */
static void halfsweep(cj_ising *m, int c, uint64_t sw, const uint64_t th[2][5], int heat, uint32_t *u)
{
  int64_t R = m->rows, C = m->cols, half = C / 2, M = 0, Bs = 0;
  signed char *s = m->s;
  for (int64_t i = 0; i < R; i++) {
    const signed char *up = s + ((i + R - 1) % R) * C, *dn = s + ((i + 1) % R) * C;
    signed char *row = s + i * C;
    int64_t j0 = (i + c) & 1;
    cj_bz_words(m->seed, CJ_BZ_ISING, (uint64_t)c, sw, (uint64_t)(i * half), half, u);
    for (int64_t j = j0; j < C; j += 2) {       /* branch-free: flips are coin tosses near T_c */
      int64_t jl = j ? j - 1 : C - 1, jr = j + 1 < C ? j + 1 : 0;
      int nb = up[j] + dn[j] + row[jl] + row[jr], old = row[j];
      int yes = (uint64_t)u[j >> 1] < th[(old + 1) >> 1][(nb + 4) >> 1];
      int nw = heat ? 2 * yes - 1 : old - 2 * old * yes;
      row[j] = (signed char)nw;
      M += nw - old;
      Bs += (nw - old) * nb;
    }
  }
  m->M += M;
  m->B += Bs;
}

int cj_ising_run(cj_ising *m, int64_t sweeps, double beta, cj_ising_method method,
                 double *mag, double *energy)
{
  uint64_t th[2][5];
  uint32_t *u;
  if (sweeps < 0) return cj_fail(CJ_EINVAL, "ising: negative number of sweeps");
  if (!(beta > 0) || !isfinite(beta))
    return cj_fail(CJ_EINVAL, "ising: beta must be positive and finite (got %g)", beta);
  for (int si = 0; si < 2; si++)
    for (int k = 0; k < 5; k++) {
      double s = 2 * si - 1, nb = 2 * k - 4, hloc = m->J * nb + m->h;
      double dE = 2 * s * hloc;
      double p = method == CJ_ISING_HEATBATH ? cj_bz_sigmoid(2 * beta * hloc)
                 : dE <= 0 ? 1.0 : cj_bz_exp(-beta * dE);
      th[si][k] = (uint64_t)ceil(p * 4294967296.0);     /* exact: p 2^32 scales by a power of 2 */
    }
  if (!(u = cj_malloc(sizeof(uint32_t) * (size_t)(m->cols / 2))))
    return cj_fail(CJ_ENOMEM, "ising: out of memory");
  for (int64_t t = 0; t < sweeps; t++) {
    halfsweep(m, 0, (uint64_t)m->sweep, th, method == CJ_ISING_HEATBATH, u);
    halfsweep(m, 1, (uint64_t)m->sweep, th, method == CJ_ISING_HEATBATH, u);
    m->sweep++;
    if (mag) mag[t] = cj_ising_magnetization(m);
    if (energy) energy[t] = cj_ising_energy(m);
  }
  cj_free(u);
  return CJ_OK;
}
