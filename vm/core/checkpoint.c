/*
 * checkpoint.c — save and restore of a network (net.h): its connectivity,
 * state, random generators, spikes in flight and monitors in one file,
 * written to a temporary and renamed, read back with every advance checked
 * (a file of the wrong network or a damaged one is refused, never trusted).
 */
#include "netimpl.h"
#include "netmpi.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- save / restore ------------------------------------------------------- */
#define MAGIC "CAJALNET"
#define FORMAT 2u

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  if (!n) return h;                  /* p may be NULL (an empty list): no arithmetic on it */
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
  return h;
}

static uint64_t fnvstr(uint64_t h, const char *s) { return fnv(h, s, strlen(s) + 1); }
static uint64_t fnvi(uint64_t h, int64_t x) { return fnv(h, &x, sizeof x); }

/* What must agree between a saved network and the one restoring it. */
static uint64_t shape(const cj_net *net)
{
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnvi(h, net->npop); h = fnvi(h, net->nproj); h = fnvi(h, net->nmon);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    h = fnvstr(h, P->name); h = fnvi(h, P->n); h = fnvi(h, P->kind); h = fnvi(h, P->nvars);
    for (int v = 0; v < P->nvars; v++) h = fnvstr(h, P->vname[v]);
    h = fnvi(h, P->hlen); h = fnvi(h, P->ng);
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    h = fnvstr(h, P->name); h = fnvi(h, P->pre); h = fnvi(h, P->post);
    h = fnvi(h, P->prelo); h = fnvi(h, P->prehi); h = fnvi(h, P->postlo); h = fnvi(h, P->posthi);
    h = fnvi(h, P->nvars); h = fnvi(h, P->delay); h = fnvi(h, P->delay_var); h = fnvi(h, P->kpre != 0);
    for (int v = 0; v < P->nvars; v++) h = fnvstr(h, P->vname[v]);
  }
  for (int m = 0; m < net->nmon; m++) {
    const mon *M = &net->mon[m];
    h = fnvi(h, M->kind); h = fnvi(h, M->pop); h = fnvi(h, M->proj); h = fnvi(h, M->var);
    h = fnvi(h, M->lo); h = fnvi(h, M->hi); h = fnvi(h, M->every);
    /* "every neuron": its indices are made when the network is built, after
     * a restore has compared shapes */
    h = fnvi(h, M->all ? -1 : M->nidx);
    if (!M->all) h = fnv(h, M->idx, (size_t)M->nidx * sizeof *M->idx);
  }
  return h;
}

typedef struct wr { FILE *f; uint64_t h; int err; } wr;

static void wbytes(wr *w, const void *p, size_t n)
{
  if (w->err || !n) return;
  if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
  w->h = fnv(w->h, p, n);
}

static void wi64(wr *w, int64_t x) { wbytes(w, &x, sizeof x); }
static void wf64(wr *w, double x) { wbytes(w, &x, sizeof x); }
static void wivec(wr *w, const ivec *v) { wi64(w, v->n); wbytes(w, v->v, (size_t)v->n * sizeof *v->v); }

/* pre[s] of every synapse, from rowptr when pre[] is not kept. */
static void wpre(wr *w, const cj_net *net, const proj *P)
{
  int32_t buf[4096];
  int n = 0;
  if (P->spre) { wbytes(w, P->spre, (size_t)P->nsyn * sizeof *P->spre); return; }
  for (int64_t i = 0; i < net->pop[P->pre].n; i++)
    for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++) {
      buf[n++] = (int32_t)i;
      if (n == 4096) { wbytes(w, buf, sizeof buf); n = 0; }
    }
  wbytes(w, buf, (size_t)n * sizeof *buf);
}

static void wrng(wr *w, const cj_rng *r)
{
  wi64(w, (int64_t)r->seed); wi64(w, (int64_t)r->stream); wi64(w, (int64_t)r->counter);
  for (int i = 0; i < 4; i++) wi64(w, r->buf[i]);
  wi64(w, r->used); wi64(w, r->has_spare); wf64(w, r->spare);
}

static void wstate(wr *w, const cj_net *net, const void *meta, size_t metalen)
{
  const uint32_t hdr[4] = { FORMAT, 0x01020304u, CJ_KERNEL_ABI, (uint32_t)net->single };  /* [3]: precision */
  wbytes(w, MAGIC, 8);
  wbytes(w, hdr, sizeof hdr);
  wi64(w, (int64_t)metalen);
  wbytes(w, meta, metalen);
  wi64(w, (int64_t)shape(net)); wf64(w, net->dt); wi64(w, (int64_t)net->seed); wi64(w, net->step);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->n * net->es);
    wbytes(w, P->lastspike, (size_t)P->n * sizeof(double));
    for (int h = 0; h < P->hlen; h++) wivec(w, &P->hist[h]);
    wrng(w, &P->rng);
    wi64(w, P->gpos);
  }
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    wi64(w, P->nsyn);
    wpre(w, net, P);
    wbytes(w, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->nsyn * net->es);
    wi64(w, P->nbucket);
    for (int64_t b = 0; b < P->nbucket; b++) wivec(w, &P->bucket[b]);
  }
  for (int m = 0; m < net->nmon; m++) {
    const mon *M = &net->mon[m];
    wivec(w, &M->steps);
    wi64(w, M->ids.n); wbytes(w, M->ids.v, (size_t)M->ids.n * sizeof *M->ids.v);
    wi64(w, M->vals.n); wbytes(w, M->vals.v, (size_t)M->vals.n * sizeof *M->vals.v);
    wi64(w, M->acc);
    wi64(w, M->w ? M->written : 0);
  }
}

/* The umask, read without changing it (umask(2) can only set it). */
static mode_t curmask(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned m = 022;
  if (!f) return 022;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Umask: %o", &m) == 1) break;
  fclose(f);
  return (mode_t)(m & 0777);
}

/* A new file next to path, made by mkstemp (O_EXCL, a random name), so no
 * file or link another user planted in the folder is followed. The name
 * goes to *tmp (free it with cj_free); the file gets the mode fopen would
 * have given it. NULL and errno on failure. */
static FILE *tmpnext(const char *path, char **tmp)
{
  size_t n = strlen(path) + 16;
  int fd;
  FILE *f;
  if (!(*tmp = cj_malloc(n))) { errno = ENOMEM; return NULL; }
  snprintf(*tmp, n, "%s.XXXXXX", path);
  if ((fd = mkstemp(*tmp)) < 0) { cj_free(*tmp); *tmp = NULL; return NULL; }
  (void)fchmod(fd, 0666 & ~curmask());
  if (!(f = fdopen(fd, "wb"))) {
    int e = errno;
    close(fd); remove(*tmp); cj_free(*tmp); *tmp = NULL;
    errno = e;
  }
  return f;
}

static int writesave(cj_net *net, const char *path, const void *meta, size_t metalen)
{
  char *tmp;
  wr w = { NULL, 0xcbf29ce484222325ull, 0 };
  if (!(w.f = tmpnext(path, &tmp)))
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(errno));
  errno = 0;
  wstate(&w, net, meta, metalen);
  uint64_t h = w.h;
  wbytes(&w, &h, sizeof h);
  if (!w.err && fflush(w.f) != 0) w.err = errno ? errno : EIO;
  if (!w.err && fsync(fileno(w.f)) != 0 && errno != EINVAL) w.err = errno;
  if (fclose(w.f) != 0 && !w.err) w.err = errno ? errno : EIO;
  if (!w.err && rename(tmp, path) != 0) w.err = errno;
  if (w.err) {
    remove(tmp);
    cj_free(tmp);
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(w.err));
  }
  cj_free(tmp);
  return 0;
}

/* Across MPI ranks (netmpi.c) every rank takes part in gathering the
 * synapses to rank 0, which writes the one-rank layout; the others write
 * nothing. */
int cj_net_save_meta(cj_net *net, const char *path, const void *meta, size_t metalen)
{
  proj *G = NULL, *mine = net->proj;
  int st;
  if (!net->built) return cj_fail(CJ_EINVAL, "save: network '%s' is not built", net->name);
  if (!meta) metalen = 0;
  if (cj_net_flush(net)) return CJ_EIO;
  if (!net->mpi) return writesave(net, path, meta, metalen);
  if ((st = cj_nx_mpi_gather(net, &G)) || cj_mpi_rank() != 0) {
    cj_nx_mpi_freegather(net, G);
    return st;
  }
  net->proj = G;
  st = writesave(net, path, meta, metalen);
  net->proj = mine;
  cj_nx_mpi_freegather(net, G);
  return st;
}

int cj_net_save(cj_net *net, const char *path) { return cj_net_save_meta(net, path, NULL, 0); }

/* ---- reading: every advance is checked --------------------------------------
 * A save file is untrusted input: sizes in it are checked against what is
 * left before anything is allocated or skipped, and the cursor never moves
 * past the end (a failed check sets bad and leaves it where it was). */
typedef struct rd { const unsigned char *p, *end; int bad; } rd;

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static void skip(rd *r, size_t n)
{
  if (r->bad || n > left(r)) { r->bad = 1; return; }
  r->p += n;
}

/* n items of size es, skipped; overflow of n * es counts as too long */
static void skipn(rd *r, uint64_t n, size_t es)
{
  if (es && n > left(r) / es) { r->bad = 1; return; }
  skip(r, (size_t)n * es);
}

static void rbytes(rd *r, void *dst, size_t n)
{
  if (r->bad || n > left(r)) { r->bad = 1; if (n) memset(dst, 0, n); return; }
  if (n) memcpy(dst, r->p, n);
  r->p += n;
}

static int64_t ri64(rd *r) { int64_t x; rbytes(r, &x, sizeof x); return x; }
static double rf64(rd *r) { double x; rbytes(r, &x, sizeof x); return x; }

/* A count from the file: 0 <= n <= lim and n items of es bytes left. */
static int64_t rcount(rd *r, int64_t lim, size_t es)
{
  int64_t n = ri64(r);
  if (r->bad || n < 0 || n > lim || (es && (uint64_t)n > left(r) / es)) { r->bad = 1; return 0; }
  return n;
}

static int rivec(rd *r, ivec *v, int64_t lim)
{
  int64_t n = rcount(r, lim, sizeof *v->v);
  if (r->bad) return 0;
  if (reserve(v, n)) return CJ_ENOMEM;
  rbytes(r, v->v, (size_t)n * sizeof *v->v);
  v->n = r->bad ? 0 : n;
  for (int64_t k = 0; k < v->n; k++) if (v->v[k] < 0) r->bad = 1;
  return 0;
}

static void rrng(rd *r, cj_rng *g)
{
  g->seed = (uint64_t)ri64(r); g->stream = (uint64_t)ri64(r); g->counter = (uint64_t)ri64(r);
  for (int i = 0; i < 4; i++) g->buf[i] = (uint32_t)ri64(r);
  g->used = (int)ri64(r); g->has_spare = (int)ri64(r); g->spare = rf64(r);
  if (g->used < 0 || g->used > 4 || (g->has_spare != 0 && g->has_spare != 1)) r->bad = 1;
}

/* ---- save files in memory ------------------------------------------------- */
struct cj_savefile {
  unsigned char *buf;       /* the whole file */
  size_t len;
  size_t meta, metalen;     /* the caller's bytes: offset and length */
  size_t state;             /* offset of the state (the shape hash) */
  uint32_t single;          /* precision of the saved network */
  char *name;               /* for messages */
};

void cj_savefile_free(cj_savefile *s)
{
  if (!s) return;
  cj_free(s->buf);
  cj_free(s->name);
  cj_free(s);
}

const void *cj_savefile_meta(const cj_savefile *s, size_t *len)
{
  *len = s->metalen;
  return s->buf + s->meta;
}

/* Check magic, format and checksum of buf (taken over: freed on failure). */
static int parsesave(unsigned char *buf, size_t len, const char *name, cj_savefile **out)
{
  uint32_t hdr[4];
  uint64_t sum;
  cj_savefile *s;
  *out = NULL;
  if (len < 8 + 16 + 8 + 8 || memcmp(buf, MAGIC, 8) != 0) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is not a cajal network file", name);
  }
  rd r = { buf + 8, buf + len - 8, 0 };
  rbytes(&r, hdr, sizeof hdr);
  if (hdr[1] != 0x01020304u || hdr[0] != FORMAT || hdr[2] != CJ_KERNEL_ABI) {
    cj_free(buf);
    if (hdr[1] == 0x01020304u && hdr[0] == 1)
      return cj_fail(CJ_EFORMAT, "restore: '%s' has format 1 (written before cajal read save files as data only); "
                     "it cannot be read: run the model again and save it", name);
    return cj_fail(CJ_EFORMAT, "restore: '%s' has format %u (ABI %u); this cajal reads format %u (ABI %d)",
                   name, hdr[0], hdr[2], FORMAT, CJ_KERNEL_ABI);
  }
  memcpy(&sum, buf + len - 8, 8);
  if (fnv(0xcbf29ce484222325ull, buf, len - 8) != sum) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt or truncated (checksum mismatch)", name);
  }
  if (hdr[3] > 1) r.bad = 1;
  int64_t metalen = rcount(&r, INT64_MAX, 1);
  size_t meta = (size_t)(r.p - buf);
  skip(&r, (size_t)metalen);
  if (r.bad) {
    cj_free(buf);
    return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt (bad header)", name);
  }
  if (!(s = cj_calloc(1, sizeof *s)) || !(s->name = cj_malloc(strlen(name) + 1))) {
    cj_free(s);
    cj_free(buf);
    return cj_nx_nomem();
  }
  strcpy(s->name, name);
  s->buf = buf; s->len = len;
  s->meta = meta; s->metalen = (size_t)metalen;
  s->state = (size_t)(r.p - buf);
  s->single = hdr[3];
  *out = s;
  return 0;
}

int cj_savefile_parse(const void *data, size_t len, const char *name, cj_savefile **out)
{
  unsigned char *buf = cj_malloc(len ? len : 1);
  *out = NULL;
  if (!buf) return cj_nx_nomem();
  if (len) memcpy(buf, data, len);
  return parsesave(buf, len, name, out);
}

/* The whole file, through one descriptor: a regular file, its size from
 * fstat, read until that size (a file that changes meanwhile is caught by
 * the checksum). */
int cj_savefile_read(const char *path, cj_savefile **out)
{
  struct stat st;
  unsigned char *buf;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  *out = NULL;
  if (fd < 0) return cj_fail(CJ_EIO, "restore: cannot open '%s': %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cj_fail(CJ_EIO, "restore: '%s' is not a regular file", path);
  }
  if (!(buf = cj_malloc((size_t)st.st_size + 1))) { close(fd); return cj_nx_nomem(); }
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      close(fd);
      cj_free(buf);
      return cj_fail(CJ_EIO, "restore: cannot read '%s': %s", path, k < 0 ? strerror(e) : "file shrank while read");
    }
    got += (size_t)k;
  }
  close(fd);
  return parsesave(buf, got, path, out);
}

/* Projections: connectivity from the file; then the state of everything. */
static int rconn(cj_net *net, rd *r)
{
  for (int j = 0; j < net->nproj; j++) {
    proj *P = &net->proj[j];
    int64_t na = net->pop[P->pre].n, nb = net->pop[P->post].n;
    P->nsyn = rcount(r, INT64_MAX, 2 * sizeof *P->spre);
    if (r->bad) return 0;
    P->spre = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *P->spre);
    P->spost = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *P->spost);
    if (!P->spre || !P->spost) return cj_nx_nomem();
    rbytes(r, P->spre, (size_t)P->nsyn * sizeof *P->spre);
    rbytes(r, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    for (int64_t s = 0; s < P->nsyn && !r->bad; s++)
      if (P->spre[s] < 0 || P->spre[s] >= na || P->spost[s] < 0 || P->spost[s] >= nb ||
          (s && P->spre[s] < P->spre[s - 1])) r->bad = 1;
    if (r->bad) return 0;
    for (int v = 0; v < P->nvars; v++) skipn(r, (uint64_t)P->nsyn, net->es);   /* read after allocation */
    int64_t nb2 = rcount(r, MAXDELAY + 1, 8);
    for (int64_t b = 0; b < nb2 && !r->bad; b++) skipn(r, (uint64_t)rcount(r, P->nsyn, 8), 8);
    int st = cj_nx_mpi_keepproj(net, P);        /* across ranks: the synapses onto this rank's neurons */
    if (st) return st;
  }
  return 0;
}

/* A restored network continues its monitor files: the first `written` rows
 * of the existing file are copied into the new stream. */
static int restream(cj_net *net, mon *M, int64_t written)
{
  cj_array a;
  int st;
  if (written == 0) return cj_nx_openstream(net, M);
  if (cj_npy_load(M->file, &a)) {       /* (cj_errprefix: the message is in the buffer cj_fail writes) */
    cj_errprefix("restore: monitor file '%s' cannot be read back", M->file);
    return CJ_EIO;
  }
  if (a.dtype != CJ_F64 || a.shape[0] < written || (M->kind != CJ_MON_RATE && a.ndim != 2) ||
      (M->kind == CJ_MON_RATE && a.ndim != 1) ||
      (a.ndim == 2 && a.shape[1] != (M->kind == CJ_MON_SPIKES ? 2 : M->nidx))) {
    cj_array_release(&a);
    return cj_fail(CJ_EIO, "restore: monitor file '%s' does not hold the %lld rows written before the save",
                   M->file, (long long)written);
  }
  if (!(st = cj_nx_openstream(net, M))) {
    st = cj_npy_writer_append(M->w, a.data, written);
    if (!st) M->written = written;
  }
  cj_array_release(&a);
  return st;
}

/* The buffered data of a monitor must be what its kind keeps: spikes as
 * (step, index) pairs of its slice in the order of their steps (spike
 * windows search them by step), state as rows of nidx values, rates. */
static int monok(const cj_net *net, const mon *M)
{
  if (M->kind == CJ_MON_SPIKES) {
    if (M->steps.n != M->ids.n || M->vals.n != 0) return 0;
    for (int64_t k = 0; k < M->ids.n; k++)
      if (M->ids.v[k] < M->lo || M->ids.v[k] > M->hi || (k > 0 && M->steps.v[k] < M->steps.v[k - 1])) return 0;
  } else if (M->kind == CJ_MON_STATE) {
    if (M->ids.n != 0 || M->nidx <= 0 || M->vals.n / M->nidx != M->steps.n || M->vals.n % M->nidx) return 0;
  } else if (M->steps.n != 0 || M->ids.n != 0 || M->acc > (M->hi - M->lo + 1) * M->every) {
    return 0;                                  /* acc: spikes of the current window */
  }
  if (M->kind != CJ_MON_RATE && M->acc != 0) return 0;
  for (int64_t k = 0; k < M->steps.n; k++) if (M->steps.v[k] > net->step) return 0;
  return 1;
}

static int rstate(cj_net *net, rd *r)
{
  int st;
  net->step = ri64(r);
  if (net->step < 0 || net->step > MAXSTEP) r->bad = 1;
  for (int p = 0; p < net->npop && !r->bad; p++) {
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) rbytes(r, P->var[v], (size_t)P->n * net->es);
    rbytes(r, P->lastspike, (size_t)P->n * sizeof(double));
    for (int h = 0; h < P->hlen; h++) {
      if ((st = rivec(r, &P->hist[h], P->n))) return st;
      for (int64_t k = 0; k < P->hist[h].n; k++) if (P->hist[h].v[k] >= P->n) r->bad = 1;
    }
    rrng(r, &P->rng);
    P->gpos = ri64(r);
    if (P->gpos < 0 || P->gpos > P->ng) r->bad = 1;
  }
  for (int j = 0; j < net->nproj && !r->bad; j++) {
    proj *P = &net->proj[j];
    const int64_t total = P->gmap ? P->gtotal : P->nsyn;  /* the file's synapses */
    skip(r, 8);                                          /* nsyn, pre, post: read by rconn */
    skipn(r, (uint64_t)total, 2 * sizeof *P->spre);
    for (int v = 0; v < P->nvars && !P->gmap; v++) rbytes(r, P->var[v], (size_t)P->nsyn * net->es);
    for (int v = 0; v < P->nvars && P->gmap && !r->bad; v++) {
      void *all = cj_malloc((size_t)(total ? total : 1) * net->es);
      if (!all) return cj_nx_nomem();
      rbytes(r, all, (size_t)total * net->es);
      cj_nx_mpi_keepvals(net, P, all);
      memcpy(P->var[v], all, (size_t)P->nsyn * net->es);
      cj_free(all);
    }
    if (r->bad) break;
    if (P->delay_var >= 0 && (st = cj_nx_setdelays(net, P))) return st;
    int64_t nb = ri64(r);
    if (nb != P->nbucket) { r->bad = 1; break; }
    for (int64_t b = 0; b < nb && !r->bad; b++) {
      if ((st = rivec(r, &P->bucket[b], total))) return st;
      for (int64_t k = 0; k < P->bucket[b].n; k++) if (P->bucket[b].v[k] < 0 || P->bucket[b].v[k] >= total) r->bad = 1;
      if (P->gmap && !r->bad) cj_nx_mpi_keepbucket(P, &P->bucket[b]);
    }
    cj_free(P->gmap);
    P->gmap = NULL;
  }
  for (int m = 0; m < net->nmon && !r->bad; m++) {
    mon *M = &net->mon[m];
    int64_t n;
    if ((st = rivec(r, &M->steps, INT64_MAX))) return st;
    n = rcount(r, INT64_MAX, 4);
    if (r->bad) break;
    if (reserve(&M->ids, n)) return CJ_ENOMEM;
    rbytes(r, M->ids.v, (size_t)n * 4); M->ids.n = n;
    n = rcount(r, INT64_MAX, 8);
    if (r->bad) break;
    if (reserve(&M->vals, n)) return CJ_ENOMEM;
    rbytes(r, M->vals.v, (size_t)n * 8); M->vals.n = n;
    M->acc = ri64(r);
    if (M->acc < 0) r->bad = 1;
    int64_t written = ri64(r);
    if (written < 0 || (written > 0 && !M->file)) r->bad = 1;
    if (!r->bad && !monok(net, M)) r->bad = 1;
    if (!r->bad && M->file && (st = restream(net, M, written))) return st;
  }
  return 0;
}

int cj_net_restore_from(cj_net *net, const cj_savefile *s)
{
  const char *path = s->name;
  int st;
  if (s->single != (uint32_t)net->single)
    return cj_fail(CJ_EINVAL, "restore: '%s' holds a network of precision '%s'; this one has precision '%s'",
                   path, s->single ? "single" : "double", net->single ? "single" : "double");
  rd r = { s->buf + s->state, s->buf + s->len - 8, 0 };
  uint64_t h = (uint64_t)ri64(&r);
  double dt = rf64(&r);
  uint64_t seed = (uint64_t)ri64(&r);
  if (r.bad) return cj_fail(CJ_EFORMAT, "restore: '%s' is truncated", path);
  if ((st = cj_nx_prepare(net))) return st;
  if (dt != net->dt)
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved with dt = %g s, the network has dt = %g s", path, dt, net->dt);
  if (h != shape(net))
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved from a different network (populations, projections or monitors differ)", path);
  net->seed = seed;
  net->key[0] = (uint32_t)seed; net->key[1] = (uint32_t)(seed >> 32);
  const unsigned char *mark = r.p;
  (void)ri64(&r);                                        /* step: read again by rstate */
  for (int p = 0; p < net->npop && !r.bad; p++) {        /* skip population state */
    pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) skipn(&r, (uint64_t)P->n, net->es);
    skipn(&r, (uint64_t)P->n, 8);                        /* lastspike */
    for (int q = 0; q < P->hlen && !r.bad; q++) skipn(&r, (uint64_t)rcount(&r, P->n, 8), 8);
    skip(&r, 10 * 8 + 8);                                /* rng, gpos */
  }
  if (!r.bad) st = rconn(net, &r);
  if (!st && !r.bad) st = cj_nx_finish(net);
  if (!st && !r.bad) {
    r.p = mark;
    st = rstate(net, &r);
  }
  if (!st && (r.bad || r.p != r.end))
    st = cj_fail(CJ_EFORMAT, "restore: '%s' does not match the network (bad sizes or indices)", path);
  if (!st) net->built = 1;
  return st;
}

int cj_net_restore(cj_net *net, const char *path)
{
  cj_savefile *s;
  int st = cj_savefile_read(path, &s);
  if (st) return st;
  st = cj_net_restore_from(net, s);
  cj_savefile_free(s);
  return st;
}
