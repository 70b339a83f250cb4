/*
 * netfix.c — fixtures of the network runtime's tests (test_net.c,
 * test_connect.c, test_monitor.c, test_checkpoint.c): kernels from text,
 * populations and projections, the rich network that carries every kind of
 * runtime state, and a scratch compiler cache. See netfix.h.
 */
#include "netfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers: kernels from text ----------------------------------------- */

/* refs: "p0.1 j2.0" = pop 0 var 1, proj 2 var 0. */
static int parserefs(const char *s, cj_ref *refs)
{
  int n = 0;
  while (s && *s) {
    while (*s == ' ') s++;
    if (!*s) break;
    char kind = *s++;
    int id = (int)strtol(s, (char **)&s, 10);
    cr_assert_eq(*s, '.');
    s++;
    int var = (int)strtol(s, (char **)&s, 10);
    refs[n++] = (cj_ref){ kind == 'j' ? CJ_OWNER_PROJ : CJ_OWNER_POP, id, var };
  }
  return n;
}


/* Fill a cj_kdef from text; nodes live in tree t. */
void mkdef(cj_ktree *t, const kspec *s, cj_kdef *d, cj_ref *refs)
{
  cj_node **body = NULL;
  cj_node *e = NULL;
  int nbody = 0;
  memset(d, 0, sizeof *d);
  d->id = s->id; d->name = s->name; d->domain = s->domain; d->kind = s->kind;
  d->ntmp = s->ntmp; d->line = 100 + s->id;
  d->nrefs = parserefs(s->refs, refs);
  d->refs = refs;
  if (s->body) cr_assert_eq(cj_kbody_parse(t, s->body, &body, &nbody), 0, "%s", cj_errmsg());
  d->body = body; d->nbody = nbody;
  if (s->expr) {
    cr_assert_eq(cj_kexpr_parse(t, s->expr, &e), 0, "%s", cj_errmsg());
    if (s->kind == CJ_KK_THRESHOLD) d->cond = e; else d->value = e;
  }
}

int addk(cj_net *net, kspec s)
{
  cj_ktree *t = cj_ktree_new();
  cj_ref refs[32];
  cj_kdef d;
  mkdef(t, &s, &d, refs);
  int st = cj_net_add_kernel(net, &d, NULL);
  cj_ktree_free(t);
  return st;
}


const char *V1[] = { "x" };
const char *V2[] = { "x", "y" };
const char *V3[] = { "v", "ge", "gi" };

int addpop(cj_net *net, const char *name, int64_t n, int nvars, const char **vars,
                  int init, int update, int thr, int reset, double ref)
{
  cj_popdef p = { 0 };
  p.name = name; p.n = n; p.kind = CJ_POP_NEURON; p.nvars = nvars; p.varnames = vars;
  p.spiking = thr != 0; p.init = init; p.update = update; p.threshold = thr; p.reset = reset;
  p.refractory = ref;
  return cj_net_add_pop(net, &p);
}

int addgen(cj_net *net, const char *name, int64_t n, const double *times, const int64_t *idx, int64_t ns)
{
  cj_popdef p = { 0 };
  p.name = name; p.n = n; p.kind = CJ_POP_SPIKEGEN; p.times = times; p.indices = idx; p.nspikes = ns;
  return cj_net_add_pop(net, &p);
}

cj_projdef proj(const char *name, int pre, int post, int64_t npre, int64_t npost, int rule)
{
  cj_projdef d = { 0 };
  d.name = name; d.pre = pre; d.post = post;
  d.pre_lo = 0; d.pre_hi = npre - 1; d.post_lo = 0; d.post_hi = npost - 1;
  d.rule = rule; d.self = 1; d.delay = 1; d.delay_var = -1;
  return d;
}


/* ---- save and restore --------------------------------------------------------- */

/* A small CUBA-like network with every runtime feature that carries state:
 * Poisson input, random init, refractoriness, homogeneous and heterogeneous
 * delays, a plastic synapse variable, monitors of each kind. */
const kspec richk[8] = {
  { 1, "init", CJ_DOM_NEURONS, 0, 0, "p1.0 p1.1 p1.2", "(set 0 i (+ -0.06 (* 0.01 (rand uniform 0)))) (set 1 i 0) (set 2 i 0)", NULL },
  { 2, "update", CJ_DOM_NEURONS, 0, 3, "p1.0 p1.1 p1.2",
    "(let 0 (ifelse notref (+ (+ (* (- (var 0 i) -0.049) 0.995012479192682) -0.049) "
    "(+ (* (var 1 i) 0.0012) (* (var 2 i) 0.0011))) (var 0 i)))"
    "(let 1 (* (var 1 i) 0.98019867330675525)) (let 2 (* (var 2 i) 0.99004983374916811))"
    "(set 0 i (tmp 0)) (set 1 i (tmp 1)) (set 2 i (tmp 2))", NULL },
  { 3, "thr", CJ_DOM_NEURONS, CJ_KK_THRESHOLD, 0, "p1.0", NULL, "(> (var 0 i) -0.05)" },
  { 4, "reset", CJ_DOM_SPIKES, 0, 0, "p1.0", "(set 0 i -0.06)", NULL },
  { 5, "exc", CJ_DOM_EVENTS, 0, 0, "p1.1", "(add 0 post 0.0025)", NULL },
  { 6, "inh", CJ_DOM_EVENTS, 0, 0, "p1.2 j1.0", "(add 0 post (var 1 s)) (set 1 s (* (var 1 s) 0.999))", NULL },
  { 7, "winit", CJ_DOM_SYNAPSES, 0, 0, "j1.0 j1.1",
    "(set 0 s (* -0.009 (+ 1 (* 0.1 (rand normal 0))))) (set 1 s (* 0.0001 (+ 1 (call floor (* 20 (rand uniform 1))))))", NULL },
  { 8, "inexc", CJ_DOM_EVENTS, 0, 0, "p1.1", "(add 0 post 0.004)", NULL },
};

/* richk's kernels added to net: interpreted, or the functions of the
 * compiled module j (NULL: none) */
void addrichkernels(cj_net *net, cj_jit *j)
{
  for (int k = 0; k < 8; k++) {
    cj_ktree *t = cj_ktree_new();
    cj_ref refs[8];
    cj_kdef d;
    cj_kfn f = NULL;
    mkdef(t, &richk[k], &d, refs);
    if (j) cr_assert_not_null(f = cj_jit_kernel(j, richk[k].id));
    OK(cj_net_add_kernel(net, &d, f));
    cj_ktree_free(t);
  }
}

/* The populations, projections and monitors of the rich network (its
 * kernels already in), monitors streaming into dir (NULL: in memory). */
void addrichbody(cj_net *net, const char *dir)
{
  static char f[4][200];
  cj_popdef in = { .name = "In", .n = 100, .kind = CJ_POP_POISSON, .rate = 20 };
  OK(cj_net_add_pop(net, &in));
  OK(addpop(net, "P", 400, 3, V3, 1, 2, 3, 4, 0.005));
  cj_projdef e = proj("E", 1, 1, 400, 400, CJ_RULE_PROB);
  e.pre_hi = 319; e.p = 0.05; e.on_pre = 5; e.delay = 3;
  OK(cj_net_add_proj(net, &e));
  const char *iv[] = { "w", "d" };
  cj_projdef i = proj("I", 1, 1, 400, 400, CJ_RULE_INDEG);
  i.pre_lo = 320; i.k = 10; i.self = 0; i.on_pre = 6; i.nvars = 2; i.varnames = iv; i.init = 7; i.delay_var = 1;
  OK(cj_net_add_proj(net, &i));
  cj_projdef x = proj("X", 0, 1, 100, 400, CJ_RULE_OUTDEG);
  x.k = 8; x.on_pre = 8; x.delay = 1;
  OK(cj_net_add_proj(net, &x));
  for (int k = 0; dir && k < 4; k++) snprintf(f[k], sizeof f[k], "%s/m%d.npy", dir, k);
  int64_t idx[] = { 0, 5, 399 }, sidx[] = { 0, 3 };
  cj_mondef ms = { .kind = CJ_MON_SPIKES, .pop = 1, .proj = -1, .lo = 0, .hi = 399, .file = dir ? f[0] : NULL };
  cj_mondef mv = { .kind = CJ_MON_STATE, .pop = 1, .proj = -1, .var = 0, .indices = idx, .nindices = 3, .every = 7, .file = dir ? f[1] : NULL };
  cj_mondef mw = { .kind = CJ_MON_STATE, .pop = -1, .proj = 1, .var = 0, .indices = sidx, .nindices = 2, .every = 10, .file = dir ? f[2] : NULL };
  cj_mondef mr = { .kind = CJ_MON_RATE, .pop = 0, .proj = -1, .lo = 0, .hi = 99, .file = dir ? f[3] : NULL };
  OK(cj_net_add_monitor(net, &ms)); OK(cj_net_add_monitor(net, &mv));
  OK(cj_net_add_monitor(net, &mw)); OK(cj_net_add_monitor(net, &mr));
}


cj_net *mkrichto(uint64_t seed, const char *dir)
{
  cj_net *net = cj_net_new("rich", 1e-4, seed);
  addrichkernels(net, NULL);
  addrichbody(net, dir);
  return net;
}

cj_net *mkrich(uint64_t seed)
{
  return mkrichto(seed, NULL);
}

void samenet(cj_net *a, cj_net *b)
{
  cr_assert_eq(cj_net_step(a), cj_net_step(b));
  for (int m = 0; m < 4; m++) {
    const int64_t *sa, *sb; const int32_t *ia, *ib; const double *va, *vb; int64_t ca, cb;
    switch (cj_net_mon_kind(a, m)) {
    case CJ_MON_SPIKES: {
      int64_t na = cj_net_mon_spikes(a, m, &sa, &ia), nb = cj_net_mon_spikes(b, m, &sb, &ib);
      cr_assert_eq(na, nb, "monitor %d: %lld vs %lld spikes", m, (long long)na, (long long)nb);
      cr_assert(na == 0 || (memcmp(sa, sb, na * 8) == 0 && memcmp(ia, ib, na * 4) == 0), "monitor %d differs", m);
      break;
    }
    case CJ_MON_STATE: {
      int64_t na = cj_net_mon_state(a, m, &sa, &va, &ca), nb = cj_net_mon_state(b, m, &sb, &vb, &cb);
      cr_assert_eq(na, nb);
      cr_assert(memcmp(va, vb, na * ca * 8) == 0 && memcmp(sa, sb, na * 8) == 0, "monitor %d differs", m);
      break;
    }
    default: {
      int64_t na = cj_net_mon_rate(a, m, &va), nb = cj_net_mon_rate(b, m, &vb);
      cr_assert_eq(na, nb);
      cr_assert(memcmp(va, vb, na * 8) == 0);
    }
    }
  }
  for (int v = 0; v < 3; v++) cr_assert(memcmp(cj_net_pop_var(a, 1, v), cj_net_pop_var(b, 1, v), 400 * 8) == 0);
  cr_assert(memcmp(cj_net_proj_var(a, 1, 0), cj_net_proj_var(b, 1, 0), cj_net_proj_nsyn(a, 1) * 8) == 0);
}


/* ---- the compiler cache ------------------------------------------------------- */

char cachedir[64];

void freshcache(void)
{
  strcpy(cachedir, "/tmp/cj_test_jitXXXXXX");
  cr_assert_not_null(mkdtemp(cachedir));
  setenv("CAJAL_CACHE", cachedir, 1);
  unsetenv("CAJAL_JIT");
}

int countfiles(const char *suffix)
{
  char cmd[200];
  snprintf(cmd, sizeof cmd, "ls %s | grep -c '%s$' > %s/count.txt", cachedir, suffix, cachedir);
  (void)!system(cmd);
  char path[100];
  snprintf(path, sizeof path, "%s/count.txt", cachedir);
  FILE *f = fopen(path, "r");
  int n = -1;
  if (f) { (void)!fscanf(f, "%d", &n); fclose(f); }
  remove(path);
  return n;
}

void rmcache(void)
{
  char cmd[120];
  snprintf(cmd, sizeof cmd, "rm -rf %s", cachedir);
  (void)!system(cmd);
}

void buildfails(cj_net *net, const char *msg)
{
  cr_assert_neq(cj_net_build(net), 0);
  cr_assert(strstr(cj_errmsg(), msg), "%s", cj_errmsg());
  cj_net_free(net);
}
