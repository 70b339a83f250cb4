/*
 * monitor.c — the monitors of the network runtime (net.h): spikes, state
 * and rates recorded while the network runs (IR.md §3, steps 0 and 5),
 * kept in memory or streamed to .npy files, and read back.
 */
#include "netimpl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cj_net_add_monitor(cj_net *net, const cj_mondef *d)
{
  mon *M;
  int st;
  if ((st = cj_nx_built(net, "cj_net_add_monitor"))) return st;
  if (d->kind < CJ_MON_SPIKES || d->kind > CJ_MON_RATE)
    return cj_fail(CJ_EINVAL, "monitor %d: unknown kind %d", net->nmon + 1, d->kind);
  if (d->proj >= 0 ? (d->kind != CJ_MON_STATE || d->proj >= net->nproj) : (d->pop < 0 || d->pop >= net->npop))
    return cj_fail(CJ_EINVAL, "monitor %d: population or projection out of range", net->nmon + 1);
  if (d->kind == CJ_MON_STATE && (d->every < 1 || (d->nindices < 0 && d->indices) || (d->nindices > 0 && !d->indices)))
    return cj_fail(CJ_EINVAL, "monitor %d: state monitors need indices and every >= 1 step", net->nmon + 1);
  if (d->kind == CJ_MON_RATE && d->every < 0)
    return cj_fail(CJ_EINVAL, "monitor %d: every must be >= 1 step", net->nmon + 1);
  if (cj_nx_addslot((void **)&net->mon, &net->nmon, &net->capmon, sizeof *net->mon)) return cj_nx_nomem();
  M = &net->mon[net->nmon];
  M->kind = d->kind; M->pop = d->proj >= 0 ? -1 : d->pop; M->proj = d->proj; M->var = d->var;
  M->lo = d->lo; M->hi = d->hi; M->every = d->every > 0 ? d->every : 1; M->nidx = d->nindices;
  M->all = d->kind == CJ_MON_STATE && d->nindices < 0;
  if ((d->nindices > 0 && !(M->idx = cj_nx_dupmem(d->indices, (size_t)d->nindices * sizeof *d->indices))) ||
      (d->file && !(M->file = cj_nx_dupstr(d->file)))) {
    cj_free(M->idx);
    memset(M, 0, sizeof *M);
    return cj_nx_nomem();
  }
  net->nmon++;
  return 0;
}


void cj_nx_clearmon(mon *M)
{
  M->steps.n = M->ids.n = M->vals.n = 0;
  M->acc = 0;
}


int cj_nx_checkmon(cj_net *net, mon *M, int m)
{
  if (M->kind == CJ_MON_STATE) {
    int nv = M->proj >= 0 ? net->proj[M->proj].nvars : net->pop[M->pop].nvars;
    int64_t lim = M->proj >= 0 ? net->proj[M->proj].nsyn : net->pop[M->pop].n;
    if (M->var < 0 || M->var >= nv) return cj_fail(CJ_EINVAL, "monitor %d: variable %d out of range", m + 1, M->var + 1);
    if (M->nidx < 0) {            /* all neurons or synapses */
      cj_free(M->idx);
      if (!(M->idx = cj_malloc((size_t)(lim > 0 ? lim : 1) * sizeof *M->idx))) return cj_nx_nomem();
      for (int64_t k = 0; k < lim; k++) M->idx[k] = k;
      M->nidx = lim;
    }
    for (int64_t k = 0; k < M->nidx; k++)
      if (M->idx[k] < 0 || M->idx[k] >= lim)
        return cj_fail(CJ_ERANGE, "monitor %d: index %lld out of range 0..%lld", m + 1, (long long)M->idx[k], (long long)lim - 1);
  } else {
    int64_t n = net->pop[M->pop].n;
    if (M->lo < 0 || M->hi >= n || M->lo > M->hi)
      return cj_fail(CJ_ERANGE, "monitor %d: range %lld..%lld outside population '%s' (0..%lld)", m + 1,
                     (long long)M->lo, (long long)M->hi, net->pop[M->pop].name, (long long)n - 1);
  }
  return 0;
}


/* ---- streaming monitors ---------------------------------------------------
 * A monitor with a file keeps at most STREAMROWS rows in memory; the rest is
 * in the .npy file: spikes as (N, 2) float64 rows [time (s), index], state
 * as (rows, indices) float64 values (row r recorded at step r * every since
 * reset), rate as a 1-D float64 array (Hz, one value per window). */
#define STREAMROWS 65536

static int64_t bufrows(const mon *M)
{
  return M->kind == CJ_MON_SPIKES ? M->ids.n : M->kind == CJ_MON_STATE ? M->steps.n : M->vals.n;
}

int cj_nx_openstream(cj_net *net, mon *M)
{
  int64_t row[1] = { M->kind == CJ_MON_SPIKES ? 2 : M->nidx };
  (void)net;
  if (cj_npy_writer_open_own(&M->w, M->file, CJ_F64, M->kind == CJ_MON_RATE ? 0 : 1, row)) {
    cj_errprefix("monitor file");
    return CJ_EIO;
  }
  M->written = 0;
  return 0;
}

/* Move the buffered rows of M to its file. */
static int drain(cj_net *net, mon *M)
{
  int64_t n = bufrows(M);
  int st = 0;
  if (!M->w || n == 0) return 0;
  if (M->kind == CJ_MON_SPIKES) {
    double buf[2 * 512];
    for (int64_t k0 = 0; k0 < n && !st; k0 += 512) {
      int64_t m = n - k0 < 512 ? n - k0 : 512;
      for (int64_t k = 0; k < m; k++) {
        buf[2 * k] = (double)M->steps.v[k0 + k] * net->dt;
        buf[2 * k + 1] = (double)M->ids.v[k0 + k];
      }
      st = cj_npy_writer_append(M->w, buf, m);
    }
  } else {
    st = cj_npy_writer_append(M->w, M->vals.v, n);
  }
  if (st) return st;
  M->written += n;
  M->steps.n = M->ids.n = M->vals.n = 0;
  return 0;
}

int cj_net_flush(cj_net *net)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    int st;
    if (!M->w) continue;
    if ((st = drain(net, M)) || (st = cj_npy_writer_flush(M->w))) return st;
  }
  return 0;
}

static int drainfull(cj_net *net, mon *M)
{
  return M->w && bufrows(M) >= STREAMROWS ? drain(net, M) : 0;
}

/* State monitors record the state at time n dt, before step n runs (Brian2's
 * StateMonitor, when = 'start'): the initial state first. Definitions of a
 * population are evaluated from that state first. */
int cj_nx_recstate(cj_net *net, int64_t n)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->kind != CJ_MON_STATE || n % M->every) continue;
    if (M->proj < 0 && net->pop[M->pop].defstep != n) cj_nx_rundefs(net, &net->pop[M->pop], n);
    const void *x = M->proj >= 0 ? net->proj[M->proj].var[M->var] : net->pop[M->pop].var[M->var];
    if (reserve(&M->vals, M->vals.n + M->nidx) || push(&M->steps, n)) return CJ_ENOMEM;
    for (int64_t k = 0; k < M->nidx; k++) M->vals.v[M->vals.n++] = cj_nx_getx(net, x, M->idx[k]);
    int st = drainfull(net, M);
    if (st) return st;
  }
  return 0;
}

/* Spikes and rates of step n, after its threshold. */
int cj_nx_record(cj_net *net, int64_t n)
{
  for (int m = 0; m < net->nmon; m++) {
    mon *M = &net->mon[m];
    if (M->kind == CJ_MON_SPIKES) {
      pop *P = &net->pop[M->pop];
      if (reserve(&M->steps, M->steps.n + P->nspk) || reserve(&M->ids, M->ids.n + P->nspk)) return CJ_ENOMEM;
      for (int64_t k = 0; k < P->nspk; k++)
        if (P->spk[k] >= M->lo && P->spk[k] <= M->hi) {
          M->steps.v[M->steps.n++] = n;
          M->ids.v[M->ids.n++] = (int32_t)P->spk[k];
        }
    } else if (M->kind == CJ_MON_RATE) {
      pop *P = &net->pop[M->pop];
      for (int64_t k = 0; k < P->nspk; k++) M->acc += P->spk[k] >= M->lo && P->spk[k] <= M->hi;
      if ((n + 1) % M->every == 0) {
        if (push(&M->vals, (double)M->acc / ((double)(M->hi - M->lo + 1) * (double)M->every * net->dt)))
          return CJ_ENOMEM;
        M->acc = 0;
      }
    } else continue;
    int st = drainfull(net, M);
    if (st) return st;
  }
  return 0;
}

/* ---- inspection ------------------------------------------------------------ */
int cj_net_mon_kind(const cj_net *net, int m) { return net->mon[m].kind; }

void cj_net_mon_target(const cj_net *net, int m, int *ppop, int *pproj, int *pvar)
{
  const mon *M = &net->mon[m];
  *ppop = M->pop;
  *pproj = M->proj;
  *pvar = M->kind == CJ_MON_STATE ? M->var : -1;
}

int64_t cj_net_mon_spikes(const cj_net *net, int m, const int64_t **steps, const int32_t **idx)
{
  *steps = net->mon[m].steps.v;
  *idx = net->mon[m].ids.v;
  return net->mon[m].ids.n;
}

int64_t cj_net_mon_state(const cj_net *net, int m, const int64_t **steps, const double **vals, int64_t *cols)
{
  *steps = net->mon[m].steps.v;
  *vals = net->mon[m].vals.v;
  *cols = net->mon[m].nidx;
  return net->mon[m].steps.n;
}

int64_t cj_net_mon_every(const cj_net *net, int m) { return net->mon[m].every; }

void cj_net_mon_slice(const cj_net *net, int m, int64_t *lo, int64_t *hi)
{
  *lo = net->mon[m].lo;
  *hi = net->mon[m].hi;
}

int64_t cj_net_mon_indices(const cj_net *net, int m, const int64_t **idx)
{
  *idx = net->mon[m].idx;
  return net->mon[m].kind == CJ_MON_STATE ? net->mon[m].nidx : 0;
}

int64_t cj_net_mon_rate(const cj_net *net, int m, const double **rates)
{
  *rates = net->mon[m].vals.v;
  return net->mon[m].vals.n;
}

const char *cj_net_mon_file(const cj_net *net, int m) { return net->mon[m].file; }
