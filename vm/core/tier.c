/*
 * tier.c — tiered start: the network on the interpreter until the
 * background compile (jit.c's job) has loaded its kernels, then on them
 * (see tier.h).
 */
#include "tier.h"

struct cj_tier {
  cj_jitjob *job;                 /* while compiling */
  cj_jit *jit;                    /* after the switch: the kernels the network runs */
  int state;
  int64_t at;                     /* the poll at or after this step waits (0: none) */
};

cj_tier *cj_tier_new(cj_jitjob *job)
{
  cj_tier *t = cj_calloc(1, sizeof *t);
  if (!t) return NULL;
  t->job = job;
  t->state = CJ_TIER_COMPILING;
  return t;
}

void cj_tier_wait_at(cj_tier *t, int64_t step) { t->at = step > 0 ? step : 0; }

int cj_tier_state(const cj_tier *t) { return t->state; }

static cj_kfn lookup(void *ud, int id) { return cj_jit_kernel(ud, id); }

int cj_tier_poll(cj_tier *t, cj_net *net, int wait)
{
  cj_jit *j = NULL;
  if (t->state != CJ_TIER_COMPILING) return 0;
  if (t->at > 0) {                                     /* switch exactly at the first poll from step at */
    if (cj_net_step(net) < t->at) return 0;
    wait = 1;
  }
  int st = cj_jit_poll(t->job, wait, &j);
  if (!st && !j) return 0;                             /* still compiling */
  cj_jit_job_release(t->job);
  t->job = NULL;
  if (!st && (st = cj_net_set_kernels(net, lookup, j))) cj_jit_release(j);
  if (st) { t->state = CJ_TIER_INTERP; return st; }
  t->jit = j;
  t->state = CJ_TIER_JIT;
  return 0;
}

void cj_tier_free(cj_tier *t)
{
  if (!t) return;
  cj_jit_job_release(t->job);
  cj_jit_release(t->jit);
  cj_free(t);
}
