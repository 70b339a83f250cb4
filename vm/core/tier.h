/*
 * tier.h — tiered start (issue 11): a network starts at once on the IR
 * interpreter while the C compiler builds its kernels in the background (a
 * job of jit.h, a child process: no thread), and switches to the compiled
 * kernels between two steps once they are loaded. The two backends compute
 * bit for bit the same (IR.md), so the switch changes no result. A compile
 * that fails leaves the network on the interpreter, its state untouched.
 *
 *   cj_tier *t = cj_tier_new(job);          (job from cj_jit_start)
 *   ... between steps: cj_tier_poll(t, net, 0) ...
 *   cj_tier_free(t);                         (after cj_net_free)
 */
#ifndef CJ_TIER_H
#define CJ_TIER_H

#include <stdint.h>
#include "jit.h"
#include "net.h"

typedef struct cj_tier cj_tier;

enum { CJ_TIER_COMPILING, CJ_TIER_JIT, CJ_TIER_INTERP };

/* Take job (it is released by the switch or by cj_tier_free); NULL when
 * out of memory (job is then still the caller's). */
cj_tier *cj_tier_new(cj_jitjob *job);
/* Switch exactly at the first poll at step >= step, waiting there for the
 * compiler; polls before it do nothing (step <= 0: polls never wait and
 * switch as soon as the kernels are loaded). A switch point that does not
 * depend on timing, for tests and benchmarks. */
void cj_tier_wait_at(cj_tier *t, int64_t step);
/* Between steps: advance the compile; once its kernels are loaded, run net
 * on them (cj_net_set_kernels). wait: until the compile has ended. Returns
 * 0, or once the failure of the compile (message in cj_errmsg; the network
 * stays on the interpreter and later polls return 0). */
int cj_tier_poll(cj_tier *t, cj_net *net, int wait);
/* CJ_TIER_COMPILING, CJ_TIER_JIT (switched) or CJ_TIER_INTERP (failed). */
int cj_tier_state(const cj_tier *t);
/* Release the job (a compile still running finishes for the cache, see
 * cj_jit_job_release) and the compiled kernels: after cj_net_free of the
 * network that runs them. NULL is allowed. */
void cj_tier_free(cj_tier *t);

#endif
