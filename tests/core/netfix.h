/*
 * netfix.h — fixtures shared by the tests of the network runtime
 * (netfix.c): kernels written as IR text, populations and projections in
 * one call, the rich network, a scratch compiler cache.
 */
#ifndef NETFIX_H
#define NETFIX_H

#include <criterion/criterion.h>
#include <stdint.h>

#include "net.h"
#include "interp.h"
#include "jit.h"

#define OK(x) cr_assert_eq((x), 0, "%s", cj_errmsg())

/* A kernel as text: refs "p0.1 j2.0" = pop 0 var 1, proj 2 var 0. */
typedef struct kspec {
  int id; const char *name; int domain, kind, ntmp;
  const char *refs, *body, *expr;   /* expr: threshold cond or sum value */
} kspec;
/* Fill a cj_kdef from text; nodes live in tree t, refs in refs[]. */
void mkdef(cj_ktree *t, const kspec *s, cj_kdef *d, cj_ref *refs);
int addk(cj_net *net, kspec s);
/* K(.id = 1, .name = ..., ...) adds a kernel to `net` or fails the test. */
#define K(...) cr_assert_eq(addk(net, (kspec){ __VA_ARGS__ }), 0, "%s", cj_errmsg())

extern const char *V1[], *V2[], *V3[];   /* variable names: x; x, y; v, ge, gi */
int addpop(cj_net *net, const char *name, int64_t n, int nvars, const char **vars,
           int init, int update, int thr, int reset, double ref);
int addgen(cj_net *net, const char *name, int64_t n, const double *times, const int64_t *idx, int64_t ns);
/* A projection name: pre -> post of sizes npre, npost by rule, delay 1. */
cj_projdef proj(const char *name, int pre, int post, int64_t npre, int64_t npost, int rule);

/* cj_net_build(net) fails with a message containing msg; net is freed. */
void buildfails(cj_net *net, const char *msg);

/* The rich network (netfix.c says what it holds): its 8 kernels, */
extern const kspec richk[8];
/* added interpreted, or as the functions of the compiled module j; */
void addrichkernels(cj_net *net, cj_jit *j);
/* its populations, projections and monitors (streaming into dir, or NULL); */
void addrichbody(cj_net *net, const char *dir);
cj_net *mkrichto(uint64_t seed, const char *dir);
cj_net *mkrich(uint64_t seed);
/* two rich networks in the same state, monitors and all */
void samenet(cj_net *a, cj_net *b);

/* A scratch compiler cache in cachedir (CAJAL_CACHE), counted and removed. */
extern char cachedir[64];
void freshcache(void);
int countfiles(const char *suffix);
void rmcache(void);

#endif
