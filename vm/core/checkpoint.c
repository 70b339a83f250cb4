/*
 * checkpoint.c — save and restore of a network (net.h): its connectivity,
 * state, random generators, spikes in flight and monitors in one file
 * (format 2), or across K MPI ranks in a main file and one part per rank
 * holding its synapses (format 3, "saves across ranks" below); each
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
#include <time.h>
#include <unistd.h>

/* ---- save / restore ------------------------------------------------------- */
#define MAGIC "CAJALNET"
#define PMAGIC "CAJALPRT"        /* one rank's part of a save across MPI ranks */
#define FORMAT 2u                /* one file */
#define FORMAT_SPLIT 3u          /* a main file and one part per rank */
#define MAXPARTS (1 << 24)

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

static void whead(wr *w, const cj_net *net, const char *magic, uint32_t format)
{
  const uint32_t hdr[4] = { format, 0x01020304u, CJ_KERNEL_ABI, (uint32_t)net->single };  /* [3]: precision */
  wbytes(w, magic, 8);
  wbytes(w, hdr, sizeof hdr);
}

/* The caller's bytes and what must agree with the restoring network. */
static void wmeta(wr *w, const cj_net *net, const void *meta, size_t metalen)
{
  wi64(w, (int64_t)metalen);
  wbytes(w, meta, metalen);
  wi64(w, (int64_t)shape(net)); wf64(w, net->dt); wi64(w, (int64_t)net->seed);
}

static void wpops(wr *w, const cj_net *net)
{
  wi64(w, net->step);
  for (int p = 0; p < net->npop; p++) {
    const pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->n * net->es);
    wbytes(w, P->lastspike, (size_t)P->n * sizeof(double));
    for (int h = 0; h < P->hlen; h++) wivec(w, &P->hist[h]);
    wrng(w, &P->rng);
    wi64(w, P->gpos);
  }
}

/* A projection's synapse variables and spikes in flight (local ids). */
static void wsyn(wr *w, const cj_net *net, const proj *P)
{
  for (int v = 0; v < P->nvars; v++) wbytes(w, P->var[v], (size_t)P->nsyn * net->es);
  wi64(w, P->nbucket);
  for (int64_t b = 0; b < P->nbucket; b++) wivec(w, &P->bucket[b]);
}

static void wmons(wr *w, const cj_net *net)
{
  for (int m = 0; m < net->nmon; m++) {
    const mon *M = &net->mon[m];
    wivec(w, &M->steps);
    wi64(w, M->ids.n); wbytes(w, M->ids.v, (size_t)M->ids.n * sizeof *M->ids.v);
    wi64(w, M->vals.n); wbytes(w, M->vals.v, (size_t)M->vals.n * sizeof *M->vals.v);
    wi64(w, M->acc);
    wi64(w, M->w ? M->written : 0);
  }
}

/* What a file of a save is made from. Across K ranks: the save's id and
 * every rank's row of counts (all: the id, then the synapses of each
 * projection). */
typedef struct job {
  const void *meta; size_t metalen;
  int64_t id, K;
  const int64_t *all;
} job;

/* The one-rank layout: everything in one file. */
static void fillone(wr *w, const cj_net *net, const job *J)
{
  whead(w, net, MAGIC, FORMAT);
  wmeta(w, net, J->meta, J->metalen);
  wpops(w, net);
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    wi64(w, P->nsyn);
    wpre(w, net, P);
    wbytes(w, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    wsyn(w, net, P);
  }
  wmons(w, net);
}

/* Across ranks, rank 0's main file: what every rank holds alike (neuron
 * state is current on every rank between runs), and per projection the
 * one-rank synapse count, the ring length and each part's count. */
static void fillmain(wr *w, const cj_net *net, const job *J)
{
  const int cols = net->nproj + 1;
  whead(w, net, MAGIC, FORMAT_SPLIT);
  wmeta(w, net, J->meta, J->metalen);
  wi64(w, J->id); wi64(w, J->K);
  wpops(w, net);
  for (int j = 0; j < net->nproj; j++) {
    int64_t total = 0;
    for (int64_t r = 0; r < J->K; r++) total += J->all[r * cols + 1 + j];
    wi64(w, total);
    wi64(w, net->proj[j].nbucket);
    for (int64_t r = 0; r < J->K; r++) wi64(w, J->all[r * cols + 1 + j]);
  }
  wmons(w, net);
}

/* The one-rank id of each local synapse (gfirst of its row + its place). */
static void wgid(wr *w, const cj_net *net, const proj *P)
{
  int64_t buf[2048];
  int n = 0;
  for (int64_t i = 0; i < net->pop[P->pre].n; i++)
    for (int64_t s = P->rowptr[i]; s < P->rowptr[i + 1]; s++) {
      buf[n++] = P->gfirst[i] + (s - P->rowptr[i]);
      if (n == 2048) { wbytes(w, buf, sizeof buf); n = 0; }
    }
  wbytes(w, buf, (size_t)n * sizeof *buf);
}

/* Across ranks, each rank's part: the synapses it holds, by one-rank id. */
static void fillpart(wr *w, const cj_net *net, const job *J)
{
  whead(w, net, PMAGIC, FORMAT_SPLIT);
  wi64(w, J->id); wi64(w, J->K); wi64(w, cj_mpi_rank());
  wi64(w, (int64_t)shape(net)); wi64(w, net->step);
  for (int j = 0; j < net->nproj; j++) {
    const proj *P = &net->proj[j];
    int64_t lo, hi;
    cj_nx_postrange(net, P, &lo, &hi);
    wi64(w, lo); wi64(w, hi);
    wi64(w, P->nsyn);
    wgid(w, net, P);
    wpre(w, net, P);
    wbytes(w, P->spost, (size_t)P->nsyn * sizeof *P->spost);
    wsyn(w, net, P);
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

/* The file fill writes, to a fresh temporary next to path (its name in
 * *tmp: commit renames or removes it). On failure nothing is left. */
static int writetmp(const cj_net *net, const char *path, void (*fill)(wr *, const cj_net *, const job *),
                    const job *J, char **tmp)
{
  wr w = { NULL, 0xcbf29ce484222325ull, 0 };
  if (!(w.f = tmpnext(path, tmp)))
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(errno));
  errno = 0;
  fill(&w, net, J);
  uint64_t h = w.h;
  wbytes(&w, &h, sizeof h);
  if (!w.err && fflush(w.f) != 0) w.err = errno ? errno : EIO;
  if (!w.err && fsync(fileno(w.f)) != 0 && errno != EINVAL) w.err = errno;
  if (fclose(w.f) != 0 && !w.err) w.err = errno ? errno : EIO;
  if (w.err) {
    remove(*tmp);
    cj_free(*tmp);
    *tmp = NULL;
    return cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(w.err));
  }
  return 0;
}

/* tmp (may be NULL) renamed to path when st is 0, else removed; freed. */
static int commit(char *tmp, const char *path, int st)
{
  if (!tmp) return st;
  if (!st && rename(tmp, path) != 0) st = cj_fail(CJ_EIO, "save: cannot write '%s': %s", path, strerror(errno));
  if (st) remove(tmp);
  cj_free(tmp);
  return st;
}

/* The name of rank r's part of the save at path: path.rankR (NULL: no memory). */
static char *partname(const char *path, int64_t r)
{
  size_t n = strlen(path) + 32;
  char *s = cj_malloc(n);
  if (s) snprintf(s, n, "%s.rank%lld", path, (long long)r);
  return s;
}

/* An id for the files of one save across ranks (rank 0's is taken). */
static int64_t newid(const cj_net *net)
{
  struct timespec ts;
  int64_t x[4];
  clock_gettime(CLOCK_REALTIME, &ts);
  x[0] = (int64_t)ts.tv_sec; x[1] = (int64_t)ts.tv_nsec; x[2] = (int64_t)getpid(); x[3] = net->step;
  return (int64_t)fnv(shape(net), x, sizeof x);
}

/* Across K ranks: every rank writes its part, then rank 0 the main file,
 * each under a temporary name first. Every rank reaches every collective
 * (the statuses are agreed between the steps), so a failure on one rank
 * fails the save on all, with its message, and leaves no main file that
 * names a part not in place. */
static int savesplit(cj_net *net, const char *path, const void *meta, size_t metalen)
{
  const int K = cj_mpi_size(), rank = cj_mpi_rank(), cols = net->nproj + 1;
  int64_t *mine = cj_malloc((size_t)cols * sizeof *mine), *all = cj_malloc((size_t)K * (size_t)cols * sizeof *all);
  char *part = partname(path, rank), *tmp = NULL;
  job J = { meta, metalen, 0, K, all };
  int st = mine && all && part ? 0 : cj_nx_nomem();
  for (int j = 0; !st && j < net->nproj; j++)
    if (!net->proj[j].gfirst)
      st = cj_fail(CJ_ERUNTIME, "save: projection '%s' has no one-rank synapse ids", net->proj[j].name);
  if (!st && cj_net_flush(net)) st = CJ_EIO;
  if (!st) {
    mine[0] = newid(net);
    for (int j = 0; j < net->nproj; j++) mine[1 + j] = net->proj[j].nsyn;
  }
  if (!(st = cj_nx_mpi_agree(net, st, "save"))) {
    if (!(st = cj_nx_mpi_allgather(net, mine, cols, all))) J.id = all[0];
    if (!st) st = writetmp(net, part, fillpart, &J, &tmp);
    st = cj_nx_mpi_agree(net, st, "save");
  }
  if (!st) {                                 /* every part is written: in place */
    st = commit(tmp, part, 0);
    tmp = NULL;
    st = cj_nx_mpi_agree(net, st, "save");
  }
  if (!st) {
    if (rank == 0 && !(st = writetmp(net, path, fillmain, &J, &tmp))) st = commit(tmp, path, 0);
    tmp = NULL;
    st = cj_nx_mpi_agree(net, st, "save");
  }
  commit(tmp, part, 1);
  cj_free(mine); cj_free(all); cj_free(part);
  return st;
}

int cj_net_save_meta(cj_net *net, const char *path, const void *meta, size_t metalen)
{
  char *tmp;
  job J = { meta, meta ? metalen : 0, 0, 1, NULL };
  int st;
  if (!net->built) return cj_fail(CJ_EINVAL, "save: network '%s' is not built", net->name);
  if (net->mpi) return savesplit(net, path, J.meta, J.metalen);   /* (which flushes the monitors too) */
  if (cj_net_flush(net)) return CJ_EIO;
  if ((st = writetmp(net, path, fillone, &J, &tmp))) return st;
  return commit(tmp, path, 0);
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
  uint32_t format;          /* FORMAT or FORMAT_SPLIT */
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

/* Magic (main or part), format and checksum of the len bytes of buf: 0
 * with the header in hdr, or a message naming the file. */
static int checkfile(const unsigned char *buf, size_t len, const char *magic, const char *name, uint32_t hdr[4])
{
  uint64_t sum;
  const int part = !strcmp(magic, PMAGIC);
  if (len >= 8 && !part && !memcmp(buf, PMAGIC, 8))
    return cj_fail(CJ_EFORMAT, "restore: '%s' is one rank's part of a network saved across MPI ranks; "
                   "restore its main file (the name without '.rankR')", name);
  if (len < 8 + 16 + 8 + 8 || memcmp(buf, magic, 8) != 0)
    return cj_fail(CJ_EFORMAT, "restore: '%s' is not a cajal network %s", name, part ? "part file" : "file");
  memcpy(hdr, buf + 8, 16);
  if (hdr[1] != 0x01020304u || hdr[2] != CJ_KERNEL_ABI || !(hdr[0] == FORMAT_SPLIT || (!part && hdr[0] == FORMAT))) {
    if (hdr[1] == 0x01020304u && hdr[0] == 1)
      return cj_fail(CJ_EFORMAT, "restore: '%s' has format 1 (written before cajal read save files as data only); "
                     "it cannot be read: run the model again and save it", name);
    return cj_fail(CJ_EFORMAT, "restore: '%s' has format %u (ABI %u); this cajal reads format %u%s (ABI %d)",
                   name, hdr[0], hdr[2], part ? FORMAT_SPLIT : FORMAT, part ? "" : " and 3", CJ_KERNEL_ABI);
  }
  memcpy(&sum, buf + len - 8, 8);
  if (fnv(0xcbf29ce484222325ull, buf, len - 8) != sum)
    return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt or truncated (checksum mismatch)", name);
  if (hdr[3] > 1) return cj_fail(CJ_EFORMAT, "restore: '%s' is corrupt (bad header)", name);
  return 0;
}

/* Check the header of buf (taken over: freed on failure). */
static int parsesave(unsigned char *buf, size_t len, const char *name, cj_savefile **out)
{
  uint32_t hdr[4];
  cj_savefile *s;
  int st;
  *out = NULL;
  if ((st = checkfile(buf, len, MAGIC, name, hdr))) {
    cj_free(buf);
    return st;
  }
  rd r = { buf + 8 + 16, buf + len - 8, 0 };
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
  s->format = hdr[0];
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

/* The whole file into *buf (cj_free it), through one descriptor: a regular
 * file, its size from fstat, read until that size (a file that changes
 * meanwhile is caught by the checksum). */
static int readall(const char *path, unsigned char **buf, size_t *len)
{
  struct stat st;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  *buf = NULL;
  if (fd < 0) return cj_fail(CJ_EIO, "restore: cannot open '%s': %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cj_fail(CJ_EIO, "restore: '%s' is not a regular file", path);
  }
  if (!(*buf = cj_malloc((size_t)st.st_size + 1))) { close(fd); return cj_nx_nomem(); }
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, *buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      close(fd);
      cj_free(*buf);
      *buf = NULL;
      return cj_fail(CJ_EIO, "restore: cannot read '%s': %s", path, k < 0 ? strerror(e) : "file shrank while read");
    }
    got += (size_t)k;
  }
  close(fd);
  *len = got;
  return 0;
}

int cj_savefile_read(const char *path, cj_savefile **out)
{
  unsigned char *buf;
  size_t len;
  int st = readall(path, &buf, &len);
  *out = NULL;
  return st ? st : parsesave(buf, len, path, out);
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

/* ---- saves across ranks: the parts ------------------------------------------
 * A save made on K ranks (format 3) is a main file (rank 0's: the header,
 * the neuron state, the monitors, per projection the one-rank synapse
 * count, the ring length of its delays and each part's count) and one part
 * per rank, path.rankR: the synapses the rank held (the post range it
 * owned), each with its one-rank id, pre and post neuron and variables,
 * and its spikes in flight by the part's own synapse index. A restore on
 * K' ranks reads, one part at a time, the parts whose post range meets
 * its own and keeps the synapses onto its neurons, in one-rank order.
 *
 *   main  "CAJALNET" u32 3, 0x01020304, ABI, precision; i64 metalen, meta;
 *         shape, f64 dt, seed, id, K; step and populations as format 2;
 *         per projection: total, ring length, K counts; monitors as format 2
 *   part  "CAJALPRT" u32 3, 0x01020304, ABI, precision; id, K, rank, shape,
 *         step (64 bytes so far); per projection: post lo, hi, n, n one-rank
 *         ids, n pre (i32), n post (i32), each variable's n values, ring
 *         length, per slot: count, part synapse indices
 *   both  end with the FNV-1a of all that comes before (u64); other
 *         numbers are i64, in the writer's byte order */
typedef struct kept {             /* one projection's synapses taken from the parts */
  int64_t n;
  int64_t *gid; int32_t *pre, *post;
  unsigned char **var;            /* nvars arrays of n values */
  ivec *bucket;                   /* the main file's ring length; entries index the kept arrays */
  int64_t *order;                 /* after settle: place in one-rank order -> kept index */
} kept;

typedef struct parts {
  const char *name;               /* the main file */
  int64_t id, K, step;
  int64_t *total, *nbucket, *cnt; /* per projection j; cnt[j * K + r]: part r's synapses */
  kept *kp;
} parts;

static void freeparts(const cj_net *net, parts *S)
{
  for (int j = 0; S->kp && j < net->nproj; j++) {
    kept *k = &S->kp[j];
    cj_free(k->gid); cj_free(k->pre); cj_free(k->post); cj_free(k->order);
    for (int v = 0; k->var && v < net->proj[j].nvars; v++) cj_free(k->var[v]);
    cj_free(k->var);
    for (int64_t b = 0; k->bucket && b < S->nbucket[j]; b++) cj_free(k->bucket[b].v);
    cj_free(k->bucket);
  }
  cj_free(S->kp); cj_free(S->total); cj_free(S->nbucket); cj_free(S->cnt);
}

/* The main file's table of parts (r at its start). */
static int rsummary(cj_net *net, rd *r, parts *S)
{
  const int np = net->nproj > 0 ? net->nproj : 1;
  if (!(S->total = cj_calloc((size_t)np, 8)) || !(S->nbucket = cj_calloc((size_t)np, 8)) ||
      !(S->cnt = cj_calloc((size_t)np * (size_t)S->K, 8)) || !(S->kp = cj_calloc((size_t)np, sizeof *S->kp)))
    return cj_nx_nomem();
  for (int j = 0; j < net->nproj && !r->bad; j++) {
    int64_t sum = 0;
    kept *k = &S->kp[j];
    S->total[j] = rcount(r, INT64_MAX / 4, 0);
    S->nbucket[j] = rcount(r, MAXDELAY + 1, 0);
    for (int64_t q = 0; q < S->K && !r->bad; q++) sum += (S->cnt[j * S->K + q] = rcount(r, S->total[j], 0));
    if (sum != S->total[j]) r->bad = 1;
    if (!(k->var = cj_calloc((size_t)(net->proj[j].nvars > 0 ? net->proj[j].nvars : 1), sizeof *k->var)) ||
        !(k->bucket = cj_calloc((size_t)(S->nbucket[j] > 0 ? S->nbucket[j] : 1), sizeof *k->bucket)))
      return cj_nx_nomem();
  }
  return 0;
}

static int64_t at64(const unsigned char *p, int64_t k) { int64_t x; memcpy(&x, p + 8 * k, 8); return x; }
static int32_t at32(const unsigned char *p, int64_t k) { int32_t x; memcpy(&x, p + 4 * k, 4); return x; }

/* Whether this rank reads part q of projection P (post range [lo, hi) in
 * it): the range meets this rank's; of a population not split (every part
 * holds all of it), part 0 only. */
static int reads(const cj_net *net, const proj *P, const parts *S, int64_t q, int64_t lo, int64_t hi)
{
  int64_t a, b, plo, phi;
  cj_nx_postrange(net, P, &a, &b);
  if (q > 0) {
    cj_nx_mpi_partrange(net, P, (int)q - 1, (int)S->K, &plo, &phi);
    if (phi > lo) return 0;
  }
  return (lo > a ? lo : a) < (hi < b ? hi : b);
}

/* Room for what projection j keeps from the parts this rank reads: their
 * counts in the main file's table (all of it from a part inside the
 * rank's range, some of it from one at an end). */
static int roomkept(const cj_net *net, const parts *S, int j)
{
  const proj *P = &net->proj[j];
  kept *k = &S->kp[j];
  int64_t n = 1, lo, hi;
  for (int64_t q = 0; q < S->K; q++) {
    cj_nx_mpi_partrange(net, P, (int)q, (int)S->K, &lo, &hi);
    if (reads(net, P, S, q, lo, hi)) n += S->cnt[j * S->K + q];
  }
  if (!(k->gid = cj_malloc((size_t)n * 8)) || !(k->pre = cj_malloc((size_t)n * 4)) ||
      !(k->post = cj_malloc((size_t)n * 4))) return cj_nx_nomem();
  for (int v = 0; v < P->nvars; v++) if (!(k->var[v] = cj_malloc((size_t)n * net->es))) return cj_nx_nomem();
  return 0;
}

/* A part's rows of projection j (r after its synapse count n): checked,
 * and those onto this rank's neurons kept when keep. */
static int rpartproj(cj_net *net, rd *r, parts *S, int j, int64_t n, int keep, int64_t lo, int64_t hi)
{
  proj *P = &net->proj[j];
  kept *k = &S->kp[j];
  const int64_t na = net->pop[P->pre].n;
  int64_t a, b, *map = NULL;
  const unsigned char *gid = r->p, *pre, *post, *var[P->nvars > 0 ? P->nvars : 1];
  int st = 0;
  skipn(r, (uint64_t)n, 8); pre = r->p;
  skipn(r, (uint64_t)n, 4); post = r->p;
  skipn(r, (uint64_t)n, 4);
  for (int v = 0; v < P->nvars; v++) { var[v] = r->p; skipn(r, (uint64_t)n, net->es); }
  for (int64_t s = 0; s < n && !r->bad; s++) {
    const int64_t g = at64(gid, s);
    const int32_t i = at32(pre, s), o = at32(post, s);
    if (g < 0 || g >= S->total[j] || i < 0 || i >= na || o < lo || o >= hi ||
        (s && (g <= at64(gid, s - 1) || i < at32(pre, s - 1)))) r->bad = 1;
  }
  if (r->bad) return 0;
  cj_nx_postrange(net, P, &a, &b);
  if (keep && !(map = cj_malloc((size_t)(n ? n : 1) * 8))) return cj_nx_nomem();
  for (int64_t s = 0; keep && s < n; s++) {
    const int32_t o = at32(post, s);
    map[s] = -1;
    if (o < a || o >= b) continue;
    map[s] = k->n;
    k->gid[k->n] = at64(gid, s); k->pre[k->n] = at32(pre, s); k->post[k->n] = o;
    for (int v = 0; v < P->nvars; v++)
      memcpy(k->var[v] + k->n * (int64_t)net->es, var[v] + s * (int64_t)net->es, net->es);
    if (P->delay_var >= 0) {                   /* refused here, before the ranks agree, as setdelays would */
      const double ds = cj_nx_getx(net, k->var[P->delay_var], k->n);
      if (!(ds >= 0) || !(ds / net->dt < (double)MAXDELAY)) {
        cj_free(map);
        return cj_fail(CJ_EFORMAT, "projection '%s': synapse %lld (%d -> %d) has delay %g s (expected 0 .. %g s)",
                       P->name, (long long)at64(gid, s), at32(pre, s), o, ds, (double)MAXDELAY * net->dt);
      }
    }
    k->n++;
  }
  if (ri64(r) != S->nbucket[j]) r->bad = 1;
  for (int64_t q = 0; q < S->nbucket[j] && !r->bad && !st; q++) {
    const int64_t c = rcount(r, n, 8);
    const unsigned char *ids = r->p;
    skipn(r, (uint64_t)c, 8);
    for (int64_t e = 0; e < c && !r->bad && !st; e++) {
      const int64_t x = at64(ids, e);
      if (x < 0 || x >= n) r->bad = 1;
      else if (keep && map[x] >= 0) st = push(&k->bucket[q], map[x]);
    }
  }
  cj_free(map);
  return st;
}

/* Part q of the save (all its checks), its synapses onto this rank kept. */
static int rpart(cj_net *net, parts *S, int64_t q, const unsigned char *buf, size_t len, const char *name)
{
  uint32_t hdr[4];
  int st;
  if ((st = checkfile(buf, len, PMAGIC, name, hdr))) return st;
  rd r = { buf + 8 + 16, buf + len - 8, 0 };
  const int64_t id = ri64(&r), K = ri64(&r), rank = ri64(&r), h = ri64(&r), step = ri64(&r);
  if (hdr[3] != (uint32_t)net->single)
    return cj_fail(CJ_EFORMAT, "restore: '%s' holds synapses of precision '%s'; '%s' has precision '%s'",
                   name, hdr[3] ? "single" : "double", S->name, net->single ? "single" : "double");
  if (K != S->K || rank != q)
    return cj_fail(CJ_EFORMAT, "restore: '%s' is part %lld of a save across %lld MPI ranks; expected part %lld of "
                   "the %lld of '%s'", name, (long long)rank, (long long)K, (long long)q, (long long)S->K, S->name);
  if (id != S->id || (uint64_t)h != shape(net) || step != S->step) {
    char when[96] = "made at another time";
    if (step != S->step) snprintf(when, sizeof when, "made at step %lld, the main file at step %lld", (long long)step,
                                  (long long)S->step);
    return cj_fail(CJ_EFORMAT, "restore: '%s' belongs to another save than '%s' (%s)", name, S->name, when);
  }
  for (int j = 0; j < net->nproj && !r.bad && !st; j++) {
    proj *P = &net->proj[j];
    int64_t lo, hi;
    cj_nx_mpi_partrange(net, P, (int)q, (int)K, &lo, &hi);
    const int64_t a = ri64(&r), b = ri64(&r), n = ri64(&r);
    if (r.bad) break;
    if (a != lo || b != hi)
      return cj_fail(CJ_EFORMAT, "restore: '%s' holds projection '%s' onto neurons [%lld, %lld) of '%s'; part %lld of "
                     "a save across %lld MPI ranks holds [%lld, %lld)", name, P->name, (long long)a, (long long)b,
                     net->pop[P->post].name, (long long)q, (long long)K, (long long)lo, (long long)hi);
    if (n != S->cnt[j * K + q])
      return cj_fail(CJ_EFORMAT, "restore: '%s' holds %lld synapses of projection '%s'; '%s' counts %lld",
                     name, (long long)n, P->name, S->name, (long long)S->cnt[j * K + q]);
    st = rpartproj(net, &r, S, j, n, reads(net, P, S, q, lo, hi), lo, hi);
  }
  if (st) {
    cj_errprefix("restore: '%s'", name);
    return st;
  }
  if (r.bad || r.p != r.end)
    return cj_fail(CJ_EFORMAT, "restore: '%s' does not match the network of '%s' (bad sizes or indices)",
                   name, S->name);
  return 0;
}

/* Kept synapses by one-rank id (a row whose parts' ids do not ascend: its
 * posts do not ascend in one-rank order). */
static const int64_t *gsort;
static int cmpid(const void *a, const void *b)
{
  const int64_t x = gsort[*(const int64_t *)a], y = gsort[*(const int64_t *)b];
  return (x > y) - (x < y);
}

/* The kept synapses in one-rank order (order), by a stable count by row
 * (the parts were read in order, each in order); then every id must
 * ascend, each once. */
static int byrow(const cj_net *net, const proj *P, kept *k, const char *name)
{
  const int64_t n = k->n, na = net->pop[P->pre].n;
  int64_t *at = cj_calloc((size_t)na + 1, sizeof *at);
  if (!at) return cj_nx_nomem();
  for (int64_t s = 0; s < n; s++) at[k->pre[s] + 1]++;
  for (int64_t i = 0; i < na; i++) at[i + 1] += at[i];
  for (int64_t s = 0; s < n; s++) k->order[at[k->pre[s]]++] = s;   /* at[i]: the end of row i */
  gsort = k->gid;
  for (int64_t i = 0, a = 0; i < na; a = at[i++])
    for (int64_t s = a + 1; s < at[i]; s++)
      if (k->gid[k->order[s]] < k->gid[k->order[s - 1]]) {
        qsort(k->order + a, (size_t)(at[i] - a), sizeof *k->order, cmpid);
        break;
      }
  cj_free(at);
  for (int64_t s = 1; s < n; s++) {
    const int64_t g = k->gid[k->order[s]], g0 = k->gid[k->order[s - 1]];
    if (g <= g0)
      return cj_fail(CJ_EFORMAT, "restore: the parts of '%s' hold synapse %lld of projection '%s' %s", name,
                     (long long)g, P->name, g == g0 ? "twice" : "out of the order of its rows");
  }
  return 0;
}

/* P's synapses from what was kept, in one-rank order; gfirst across ranks.
 * The kept ids, pre and post neurons are freed. */
static int settle(cj_net *net, proj *P, kept *k, const char *name)
{
  const int64_t n = k->n, na = net->pop[P->pre].n;
  int st = 0;
  P->spre = cj_malloc((size_t)(n ? n : 1) * sizeof *P->spre);
  P->spost = cj_malloc((size_t)(n ? n : 1) * sizeof *P->spost);
  k->order = cj_malloc((size_t)(n ? n : 1) * sizeof *k->order);
  if (net->mpi && !(P->gfirst = cj_calloc((size_t)(na ? na : 1), sizeof *P->gfirst))) st = cj_nx_nomem();
  if (!P->spre || !P->spost || !k->order) st = cj_nx_nomem();
  if (!st) st = byrow(net, P, k, name);
  for (int64_t s = 0; !st && s < n; s++) {
    const int64_t i = k->order[s];
    P->spre[s] = k->pre[i];
    P->spost[s] = k->post[i];
    if (P->gfirst && (s == 0 || P->spre[s] != P->spre[s - 1])) P->gfirst[P->spre[s]] = k->gid[i];
  }
  P->nsyn = st ? 0 : n;
  cj_free(k->gid); cj_free(k->pre); cj_free(k->post);
  k->gid = NULL; k->pre = NULL; k->post = NULL;
  return st;
}

/* The synapses onto this rank's neurons from the parts of a save across
 * ranks (r after the population state, at the table of parts). */
static int rparts(cj_net *net, rd *r, parts *S)
{
  int st = rsummary(net, r, S);
  for (int j = 0; !st && !r->bad && j < net->nproj; j++) st = roomkept(net, S, j);
  for (int64_t q = 0; !st && !r->bad && q < S->K; q++) {
    unsigned char *buf = NULL;
    size_t len = 0;
    int any = 0;
    for (int j = 0; j < net->nproj && !any; j++) {
      int64_t lo, hi;
      cj_nx_mpi_partrange(net, &net->proj[j], (int)q, (int)S->K, &lo, &hi);
      any = reads(net, &net->proj[j], S, q, lo, hi);
    }
    if (!any) continue;
    char *name = partname(S->name, q);
    if (!name) return cj_nx_nomem();
    if (!(st = readall(name, &buf, &len))) st = rpart(net, S, q, buf, len, name);
    if (st && strncmp(cj_errmsg(), "restore: ", 9) == 0) {   /* which save the part belongs to */
      char msg[900];
      snprintf(msg, sizeof msg, "%s", cj_errmsg() + 9);
      st = cj_fail(st, "restore: %s (part %lld of the %lld of '%s', saved across MPI ranks)", msg, (long long)q,
                   (long long)S->K, S->name);
    }
    cj_free(buf);
    cj_free(name);
  }
  for (int j = 0; !st && !r->bad && j < net->nproj; j++) st = settle(net, &net->proj[j], &S->kp[j], S->name);
  return st;
}

/* One-rank order of a bucket: pushed earlier first (a longer delay), then
 * by synapse (spikes ascend, rows ascend). */
static const int32_t *dsort;
static int cmpbucket(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (dsort && dsort[x] != dsort[y]) return dsort[x] > dsort[y] ? -1 : 1;
  return (x > y) - (x < y);
}

/* After the network is made: the kept variables and spikes in flight in
 * place (r at the table of parts, which it skips). */
static int rinstall(cj_net *net, rd *r, parts *S)
{
  int st;
  for (int j = 0; j < net->nproj && !r->bad; j++) {
    proj *P = &net->proj[j];
    kept *k = &S->kp[j];
    int64_t *inv;
    skipn(r, (uint64_t)S->K + 2, 8);
    for (int v = 0; v < P->nvars; v++) {
      for (int64_t s = 0; s < P->nsyn; s++)
        memcpy((char *)P->var[v] + s * (int64_t)net->es, k->var[v] + k->order[s] * (int64_t)net->es, net->es);
      cj_free(k->var[v]);
      k->var[v] = NULL;
    }
    if (P->delay_var >= 0 && (st = cj_nx_setdelays(net, P))) return st;
    if (S->nbucket[j] != P->nbucket) { r->bad = 1; break; }
    if (!(inv = cj_malloc((size_t)(P->nsyn ? P->nsyn : 1) * sizeof *inv))) return cj_nx_nomem();
    for (int64_t s = 0; s < P->nsyn; s++) inv[k->order[s]] = s;
    for (int64_t b = 0; b < P->nbucket; b++) {
      ivec *B = &k->bucket[b];
      for (int64_t e = 0; e < B->n; e++) B->v[e] = inv[B->v[e]];
      dsort = P->dsteps;
      if (B->n > 1) qsort(B->v, (size_t)B->n, sizeof *B->v, cmpbucket);
      cj_free(P->bucket[b].v);
      P->bucket[b] = *B;
      *B = (ivec){ NULL, 0, 0 };
    }
    cj_free(inv);
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

static int rpops(cj_net *net, rd *r)
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
  return 0;
}

/* The one-rank layout's synapse state (on K ranks: this rank's of it). */
static int rprojs(cj_net *net, rd *r)
{
  int st;
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
  return 0;
}

static int rmons(cj_net *net, rd *r)
{
  int st;
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

/* The head of the state: what must agree with the network (precision,
 * shape, dt), the seed; across ranks the save's id and K. */
static int rhead(cj_net *net, const cj_savefile *s, rd *r, parts *S)
{
  const char *path = s->name;
  int st;
  if (s->single != (uint32_t)net->single)
    return cj_fail(CJ_EINVAL, "restore: '%s' holds a network of precision '%s'; this one has precision '%s'",
                   path, s->single ? "single" : "double", net->single ? "single" : "double");
  uint64_t h = (uint64_t)ri64(r);
  double dt = rf64(r);
  uint64_t seed = (uint64_t)ri64(r);
  if (s->format == FORMAT_SPLIT) {
    S->id = ri64(r);
    S->K = ri64(r);
    if (S->K < 2 || S->K > MAXPARTS || (uint64_t)S->K * (uint64_t)net->nproj > left(r) / 8)
      r->bad = 1;                                       /* a count per part and projection follows */
  }
  if (r->bad) return cj_fail(CJ_EFORMAT, "restore: '%s' is truncated", path);
  if ((st = cj_nx_prepare(net))) return st;
  if (dt != net->dt)
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved with dt = %g s, the network has dt = %g s", path, dt, net->dt);
  if (h != shape(net))
    return cj_fail(CJ_EINVAL, "restore: '%s' was saved from a different network (populations, projections or monitors differ)", path);
  net->seed = seed;
  net->key[0] = (uint32_t)seed; net->key[1] = (uint32_t)(seed >> 32);
  return 0;
}

/* The population state, skipped (r at the step, which is returned). */
static int64_t skippops(const cj_net *net, rd *r)
{
  const int64_t step = ri64(r);
  for (int p = 0; p < net->npop && !r->bad; p++) {
    const pop *P = &net->pop[p];
    for (int v = 0; v < P->nvars; v++) skipn(r, (uint64_t)P->n, net->es);
    skipn(r, (uint64_t)P->n, 8);                        /* lastspike */
    for (int q = 0; q < P->hlen && !r->bad; q++) skipn(r, (uint64_t)rcount(r, P->n, 8), 8);
    skip(r, 10 * 8 + 8);                                /* rng, gpos */
  }
  return step;
}

/* Connectivity first (every rank's own; then the ranks agree, so a rank
 * that failed stops them all with its message), the network made, then
 * the state. Across ranks a failure of one rank after the agreement can
 * only be a lack of memory (the rest reads the main file, the same on
 * every rank), and the ranks agree again at the end. */
int cj_net_restore_from(cj_net *net, const cj_savefile *s)
{
  parts S;
  const char *path = s->name;
  const unsigned char *mark = NULL;
  memset(&S, 0, sizeof S);
  S.name = path;
  rd r = { s->buf + s->state, s->buf + s->len - 8, 0 };
  int st = rhead(net, s, &r, &S);
  if (!st) {
    mark = r.p;
    S.step = skippops(net, &r);
    if (!r.bad) st = s->format == FORMAT ? rconn(net, &r) : rparts(net, &r, &S);
    if (!st && r.bad) st = cj_fail(CJ_EFORMAT, "restore: '%s' does not match the network (bad sizes or indices)", path);
  }
  if (!(st = cj_nx_mpi_agree(net, st, "restore"))) {
    if (!(st = cj_nx_finish(net))) {
      r.p = mark;
      if (!(st = rpops(net, &r)) && !r.bad)
        st = s->format == FORMAT ? rprojs(net, &r) : rinstall(net, &r, &S);
      if (!st && !r.bad) st = rmons(net, &r);
    }
    if (!st && (r.bad || r.p != r.end))
      st = cj_fail(CJ_EFORMAT, "restore: '%s' does not match the network (bad sizes or indices)", path);
    st = cj_nx_mpi_agree(net, st, "restore");
  }
  freeparts(net, &S);
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
