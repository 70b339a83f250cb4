/*
 * jit.c — the kernel compiler cache (see jit.h).
 *
 * start:    open the cache directory once (checked on its descriptor)
 *           -> key = SipHash(secret; source, compiler, flags, uid, ...)
 *           -> <key>.so opened O_NOFOLLOW, checked on the descriptor
 *              (owner, mode, trailer MAC) -> dlopen /proc/self/fd/N
 *                  | missing or not intact: a job
 * job:      flock <key>.lock (concurrent loads compile once), look again,
 *           write tmp-<key>-<pid>-<n>.c, run the compiler in the cache
 *           directory (a child process in its own process group, a time
 *           limit), append the trailer, renameat to <key>.so.
 * poll:     advance the job without blocking (or wait for it); when it is
 *           done, load <key>.so as above.
 * compile:  start, then poll until done (the load waits for the compiler).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                /* pipe2, posix_spawn_file_actions_addfchdir_np */
#endif
#include "config.h"
#include "jit.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* valgrind cannot execute every instruction -march=native may emit (3.19 has
 * no AVX-512): under valgrind kernels are compiled for the baseline machine. */
#include "onvalgrind.h"

extern char **environ;

#ifndef CAJAL_JIT_CC
#define CAJAL_JIT_CC "cc"
#endif

/* The machine flag ("-march=native") is not in FLAGS: machflags() gives it,
 * replaced by $CAJAL_JIT_CFLAGS when set, and dropped under valgrind.
 * -fno-trapping-math lets gcc if-convert the ternaries of update loops (it
 * changes no value). -fno-builtin-*: GCC would fold calls with constant arguments using MPFR
 * (correctly rounded), which can differ in the last bit from the libm the
 * interpreter calls; these functions must always run in libm. */
static const char *const FLAGS[] = {
  "-O3", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno",
  "-fno-builtin-exp", "-fno-builtin-log", "-fno-builtin-log1p",
  "-fno-builtin-expm1", "-fno-builtin-sin", "-fno-builtin-cos", "-fno-builtin-tan",
  "-fno-builtin-tanh", "-fno-builtin-pow", "-fno-builtin-atan", "-fno-builtin-atan2",
  "-fno-trapping-math", NULL
};

#define MAXARGS 32

struct cj_jit { void *dl; char *path; int cached; };

static cj_jitstats stats;
static long tmpcounter;

void cj_jit_stats(cj_jitstats *s) { *s = stats; }

/* ---- SipHash-2-4, 128-bit output (Aumasson and Bernstein, 2012) ---------
 * A keyed pseudorandom function: without the key nobody can compute a value
 * for chosen data, so the per-user secret of the cache makes entry names
 * unpredictable and trailers unforgeable by other users. Incremental. */
typedef struct sip { uint64_t v[4]; unsigned char buf[8]; size_t nbuf, len; } sip;

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static void sipround(uint64_t *v)
{
  v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
  v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
  v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
  v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static uint64_t le64(const unsigned char *b)
{
  uint64_t x = 0;
  for (int i = 7; i >= 0; i--) x = (x << 8) | b[i];
  return x;
}

static void sipinit(sip *h, const unsigned char key[16])
{
  uint64_t k0 = le64(key), k1 = le64(key + 8);
  h->v[0] = k0 ^ 0x736f6d6570736575ull;
  h->v[1] = k1 ^ 0x646f72616e646f6dull ^ 0xee;      /* 0xee: the 128-bit variant */
  h->v[2] = k0 ^ 0x6c7967656e657261ull;
  h->v[3] = k1 ^ 0x7465646279746573ull;
  h->nbuf = h->len = 0;
}

static void sipblock(sip *h, uint64_t m)
{
  h->v[3] ^= m;
  sipround(h->v); sipround(h->v);
  h->v[0] ^= m;
}

static void sipadd(sip *h, const void *p, size_t n)
{
  const unsigned char *b = p;
  h->len += n;
  while (n && h->nbuf) {
    h->buf[h->nbuf++] = *b++; n--;
    if (h->nbuf == 8) { sipblock(h, le64(h->buf)); h->nbuf = 0; }
  }
  for (; n >= 8; b += 8, n -= 8) sipblock(h, le64(b));
  while (n--) h->buf[h->nbuf++] = *b++;
}

static void sipstr(sip *h, const char *s) { sipadd(h, s, strlen(s) + 1); }

static void sipend(sip *h, unsigned char out[16])
{
  uint64_t last = (uint64_t)(h->len & 0xff) << 56, r[2];
  for (size_t i = 0; i < h->nbuf; i++) last |= (uint64_t)h->buf[i] << (8 * i);
  sipblock(h, last);
  h->v[2] ^= 0xee;
  for (int k = 0; k < 2; k++) {
    if (k) h->v[1] ^= 0xdd;
    for (int i = 0; i < 4; i++) sipround(h->v);
    r[k] = h->v[0] ^ h->v[1] ^ h->v[2] ^ h->v[3];
  }
  for (int i = 0; i < 16; i++) out[i] = (unsigned char)(r[i / 8] >> (8 * (i % 8)));
}

void cj_jit_siphash128(const unsigned char key[16], const void *p, size_t n, unsigned char out[16])
{
  sip h;
  sipinit(&h, key);
  sipadd(&h, p, n);
  sipend(&h, out);
}

static void tohex(const unsigned char b[16], char out[33])
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) { out[2 * i] = hex[b[i] >> 4]; out[2 * i + 1] = hex[b[i] & 15]; }
  out[32] = '\0';
}

/* ---- the compiler --------------------------------------------------------- */
typedef struct cc { char buf[1024]; char *argv[MAXARGS]; int argc; char path[4096]; } cc;

static int jitoff(void)
{
  const char *s = getenv("CAJAL_JIT");
  return s && (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false"));
}

static int findexe(const char *name, char *out, size_t n)
{
  if (strchr(name, '/')) {
    snprintf(out, n, "%s", name);
    return access(out, X_OK) == 0;
  }
  const char *p = getenv("PATH");
  if (!p || !*p) p = "/usr/local/bin:/usr/bin:/bin";
  while (*p) {
    size_t len = strcspn(p, ":");
    snprintf(out, n, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", name);
    if (access(out, X_OK) == 0) return 1;
    p += len;
    if (*p == ':') p++;
  }
  return 0;
}

/* The compiler command split into words, its first word found on PATH. */
static int getcc(cc *c, char *why, size_t n)
{
  const char *s = getenv("CC");
  if (!s || !*s) s = CAJAL_JIT_CC;
  snprintf(c->buf, sizeof c->buf, "%s", s);
  c->argc = 0;
  for (char *tok = strtok(c->buf, " \t"); tok && c->argc < MAXARGS - 24; tok = strtok(NULL, " \t"))
    c->argv[c->argc++] = tok;
  if (!c->argc) {
    if (why) snprintf(why, n, "no C compiler configured (set CC)");
    return 0;
  }
  if (!findexe(c->argv[0], c->path, sizeof c->path)) {
    if (why) snprintf(why, n, "C compiler '%s' not found (set CC, or install gcc)", c->argv[0]);
    return 0;
  }
  return 1;
}

int cj_jit_available(char *why, size_t n)
{
  cc c;
  if (jitoff()) {
    if (why) snprintf(why, n, "disabled by CAJAL_JIT=%s", getenv("CAJAL_JIT"));
    return 0;
  }
  return getcc(&c, why, n);
}

/* The flags that choose the target machine: $CAJAL_JIT_CFLAGS when set (it
 * may be empty), else none under valgrind, else -march=native. */
static const char *machflags(void)
{
  const char *s = getenv("CAJAL_JIT_CFLAGS");
  if (s) return s;
  return RUNNING_ON_VALGRIND ? "" : "-march=native";
}

/* All flags as one string (part of the cache key). */
const char *cj_jit_flags(void)
{
  static char buf[1536];
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; FLAGS[i]; i++)
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? " " : "", FLAGS[i]);
  const char *m = machflags();
  if (*m && k < sizeof buf) snprintf(buf + k, sizeof buf - k, " %s", m);
  return buf;
}

/* What makes a compiled object specific to this machine (-march=native). */
static void cpuid(sip *h)
{
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[8192];
  int seen = 0;
  if (!f) { sipstr(h, "no-cpuinfo"); return; }
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "processor", 9) && seen++) break;    /* the first CPU only */
    if (!strncmp(line, "vendor_id", 9) || !strncmp(line, "cpu family", 10) ||
        !strncmp(line, "model", 5) || !strncmp(line, "flags", 5))
      sipstr(h, line);
  }
  fclose(f);
}

/* The entry's name: keyed by the user's secret, so names are the user's. */
static void cachekey(const unsigned char secret[16], const char *source, const cc *c, unsigned char key[16])
{
  sip h;
  struct stat st;
  char real[4096];
  int64_t uid = (int64_t)geteuid();
  sipinit(&h, secret);
  sipstr(&h, "cajal kernel cache 2");
  sipadd(&h, &uid, sizeof uid);
  sipstr(&h, source);
  for (int i = 0; i < c->argc; i++) sipstr(&h, c->argv[i]);
  if (realpath(c->path, real)) sipstr(&h, real);
  if (stat(c->path, &st) == 0) {
    int64_t id[4] = { (int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size, (int64_t)st.st_mtime };
    sipadd(&h, id, sizeof id);
  }
  sipstr(&h, cj_jit_flags());
  sipstr(&h, CJ_VERSION);
  sipadd(&h, &(int){ CJ_KERNEL_ABI }, sizeof(int));
  cpuid(&h);
  sipend(&h, key);
}

/* ---- the cache directory ---------------------------------------------------- */
int cj_jit_cache_dir(char *buf, size_t n)
{
  const char *s = getenv("CAJAL_CACHE");
  if (s && *s) { snprintf(buf, n, "%s", s); return 0; }
  if ((s = getenv("XDG_CACHE_HOME")) && *s) { snprintf(buf, n, "%s/cajal", s); return 0; }
  if ((s = getenv("HOME")) && *s) { snprintf(buf, n, "%s/.cache/cajal", s); return 0; }
  return cj_fail(CJ_EIO, "jit: no cache directory (set CAJAL_CACHE or HOME)");
}

/* The cache opened once; every later step is relative to dfd. */
typedef struct cache { int dfd; char dir[4000]; unsigned char secret[16]; } cache;

static int unsafe(const char *dir, const char *what, const char *why)
{
  return cj_fail(CJ_EIO, "jit: cache directory '%s': %s %s; refusing to load code from it "
                 "(set CAJAL_CACHE to a folder of your own)", dir, what, why);
}

/* st may hold code or lead to it: owned by root or us, and writable by
 * nobody else unless sticky (then others cannot rename what is ours). */
static int safedir(const struct stat *st)
{
  if (st->st_uid != 0 && st->st_uid != geteuid()) return 0;
  return !(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX);
}

/* Every folder above dir, symbolic links resolved, walked from / through
 * descriptors: each must be safedir (no other user can swap the path). */
static int checkparents(const char *dir)
{
  char parent[4096], real[PATH_MAX];
  struct stat st;
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (!slash) snprintf(parent, sizeof parent, ".");
  else if (slash == parent) parent[1] = '\0';
  else *slash = '\0';
  if (!realpath(parent, real))
    return cj_fail(CJ_EIO, "jit: cache directory '%s': %s", dir, strerror(errno));
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0) { if (fd >= 0) close(fd); return unsafe(dir, "/", "cannot be read"); }
  if (!safedir(&st)) { close(fd); return unsafe(dir, "/", "is writable by other users"); }
  for (char *p = real + 1, *q; *p; p = q) {
    q = p + strcspn(p, "/");
    char c = *q;
    *q = '\0';
    int nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    if (nfd < 0 || fstat(nfd, &st) != 0) {
      if (nfd >= 0) close(nfd);
      return unsafe(dir, real, "changed while it was checked");
    }
    fd = nfd;
    if (!safedir(&st)) {
      close(fd);
      return unsafe(dir, real, st.st_uid != 0 && st.st_uid != geteuid()
                    ? "is owned by another user" : "is writable by other users and not sticky");
    }
    *q = c;
    if (c) q++;
  }
  close(fd);
  return 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int makedirs(const char *dir)
{
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return cj_fail(CJ_EIO, "jit: cannot create cache directory '%s': %s", tmp, strerror(errno));
      *p = '/';
    }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
    return cj_fail(CJ_EIO, "jit: cannot create cache directory '%s': %s", tmp, strerror(errno));
  return 0;
}

/* The per-user secret of the cache: 16 random bytes in <dir>/secret (0600),
 * made once, published with link() so that concurrent first runs agree. */
static int secret(cache *C)
{
  struct stat st;
  for (int tries = 0; tries < 3; tries++) {
    int fd = openat(C->dfd, "secret", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t got = -1;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077) &&
          st.st_size == 16)
        got = pread(fd, C->secret, 16, 0);
      close(fd);
      if (got == 16) return 0;
      return unsafe(C->dir, "its file 'secret'", "is not a private 16-byte file of yours");
    }
    if (errno != ENOENT) return cj_fail(CJ_EIO, "jit: cache directory '%s': secret: %s", C->dir, strerror(errno));
    unsigned char b[16];
    char tmp[64];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
      return cj_fail(CJ_EIO, "jit: no random bytes for the cache secret: %s", strerror(errno));
    snprintf(tmp, sizeof tmp, "secret.tmp-%ld-%02x%02x%02x%02x", (long)getpid(), b[0], b[1], b[2], b[3]);
    fd = openat(C->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return cj_fail(CJ_EIO, "jit: cannot write in cache directory '%s': %s", C->dir, strerror(errno));
    int ok = write(fd, b, sizeof b) == (ssize_t)sizeof b && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (ok && linkat(C->dfd, tmp, C->dfd, "secret", 0) != 0 && errno != EEXIST) { ok = 0; e = errno; }
    unlinkat(C->dfd, tmp, 0);
    if (!ok) return cj_fail(CJ_EIO, "jit: cannot write in cache directory '%s': %s", C->dir, strerror(e));
  }
  return cj_fail(CJ_EIO, "jit: cache directory '%s': the secret keeps changing", C->dir);
}

/* Open (creating) the cache: dir checked through the descriptor it is
 * opened with (O_NOFOLLOW: a link in its place is refused), owned by us and
 * writable by nobody else; folders above it safe (checkparents). */
static int opencache(cache *C)
{
  struct stat st;
  int st0;
  C->dfd = -1;
  if ((st0 = cj_jit_cache_dir(C->dir, sizeof C->dir)) || (st0 = makedirs(C->dir))) return st0;
  if ((st0 = checkparents(C->dir))) return st0;
  C->dfd = open(C->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (C->dfd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      return unsafe(C->dir, "it", "is a symbolic link or not a directory");
    return cj_fail(CJ_EIO, "jit: cannot open cache directory '%s': %s", C->dir, strerror(errno));
  }
  if (fstat(C->dfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
    close(C->dfd);
    C->dfd = -1;
    return unsafe(C->dir, "it", "is not yours or is writable by others");
  }
  if ((st0 = secret(C))) { close(C->dfd); C->dfd = -1; }
  return st0;
}

/* ---- entries --------------------------------------------------------------- */
#define TRAILER_MAGIC "cajalso2"
#define TRAILER 40                 /* MAC 16, key 16, magic 8 */

/* The MAC of an entry: keyed by the secret, over its name and content. */
static void entrymac(const cache *C, const unsigned char key[16], const unsigned char *b, size_t n,
                     unsigned char mac[16])
{
  sip h;
  sipinit(&h, C->secret);
  sipstr(&h, "cajal kernel entry 2");
  sipadd(&h, key, 16);
  sipadd(&h, b, n);
  sipend(&h, mac);
}

/* All of fd (a regular file) into *buf; 0 or -1 (errno set). */
static int readfd(int fd, unsigned char **buf, size_t *n)
{
  struct stat st;
  size_t got = 0;
  *buf = NULL;
  if (fstat(fd, &st) != 0) return -1;
  if (!(*buf = cj_malloc((size_t)st.st_size + 1))) { errno = ENOMEM; return -1; }
  while (got < (size_t)st.st_size) {
    ssize_t k = pread(fd, *buf + got, (size_t)st.st_size - got, (off_t)got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) { cj_free(*buf); *buf = NULL; if (!k) errno = EIO; return -1; }
    got += (size_t)k;
  }
  *n = got;
  return 0;
}

/* The entry `name` opened without following links, and checked on that
 * descriptor: a regular file of ours that nobody else may write, whose
 * trailer holds this key and the MAC of its content. The descriptor, or
 * -1 (missing or not intact). */
static int openentry(const cache *C, const char *name, const unsigned char key[16])
{
  struct stat st;
  unsigned char *b, mac[16];
  size_t n;
  int ok, fd = openat(C->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
      readfd(fd, &b, &n) != 0) {
    close(fd);
    return -1;
  }
  ok = n > TRAILER && !memcmp(b + n - 8, TRAILER_MAGIC, 8) && !memcmp(b + n - 24, key, 16);
  if (ok) {
    entrymac(C, key, b, n - TRAILER, mac);
    ok = !memcmp(b + n - TRAILER, mac, 16);
  }
  cj_free(b);
  if (!ok) { close(fd); return -1; }
  return fd;
}

/* A name for /proc/self/fd/N that no load of this process used before.
 * The dynamic loader takes an object whose name (or any name it was
 * loaded under) matches for that object, without looking at the file; fd
 * numbers are reused, so "/proc/self/fd/5" could name an older library.
 * The k-th load goes through "/proc/self/fd/" then one "./" or "../fd/"
 * per binary digit of k (leading 1 included), then N: every k spells a
 * different path to the same magic link. */
static void procname(char *buf, size_t n, int fd)
{
  static unsigned long loads;
  unsigned long k = __atomic_add_fetch(&loads, 1, __ATOMIC_RELAXED);
  size_t len = (size_t)snprintf(buf, n, "/proc/self/fd/");
  int top = 63;
  while (top > 0 && !((k >> top) & 1)) top--;
  for (int b = top; b >= 0 && len + 8 < n; b--)
    len += (size_t)snprintf(buf + len, n - len, "%s", ((k >> b) & 1) ? "../fd/" : "./");
  snprintf(buf + len, n - len, "%d", fd);
}

/* Load the checked descriptor fd (closed here): dlopen through
 * /proc/self/fd, so the object loaded is the object checked. */
static int load(const cache *C, int fd, const char *name, cj_jit **out, int cached)
{
  char proc[600], path[4200];
  cj_jit *j;
  procname(proc, sizeof proc, fd);
  snprintf(path, sizeof path, "%s/%s", C->dir, name);
  void *dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (!dl) return cj_fail(CJ_EIO, "jit: cannot load '%s': %s", path, dlerror());
  int *abi = dlsym(dl, "cj_kernel_abi");
  if (!abi || *abi != CJ_KERNEL_ABI) {
    dlclose(dl);
    return cj_fail(CJ_ERUNTIME, "jit: '%s' has kernel ABI %d, the runtime has %d (the C must start with cj_kernel_prelude())",
                   path, abi ? *abi : -1, CJ_KERNEL_ABI);
  }
  if (!(j = cj_malloc(sizeof *j)) || !(j->path = cj_malloc(strlen(path) + 1))) {
    cj_free(j);
    dlclose(dl);
    return cj_fail(CJ_ENOMEM, "jit: out of memory");
  }
  strcpy(j->path, path);
  j->dl = dl;
  j->cached = cached;
  *out = j;
  return 0;
}

/* Append the trailer to the new entry tmp (relative to the cache). */
static int seal(const cache *C, const char *tmp, const unsigned char key[16])
{
  unsigned char *b, t[TRAILER];
  size_t n;
  int fd = openat(C->dfd, tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC), ok;
  if (fd < 0) return -1;
  if (readfd(fd, &b, &n) != 0) { close(fd); return -1; }
  entrymac(C, key, b, n, t);
  cj_free(b);
  memcpy(t + 16, key, 16);
  memcpy(t + 32, TRAILER_MAGIC, 8);
  ok = pwrite(fd, t, TRAILER, (off_t)n) == TRAILER && fsync(fd) == 0;
  int e = errno;
  close(fd);
  errno = e;
  return ok ? 0 : -1;
}

static int writeat(const cache *C, const char *name, const char *text)
{
  size_t n = strlen(text), done = 0;
  int fd = openat(C->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  while (done < n) {
    ssize_t k = write(fd, text + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) { int e = k ? errno : ENOSPC; close(fd); errno = e; return -1; }
    done += (size_t)k;
  }
  return close(fd);
}

/* The kernel whose definition precedes generated line `line`. */
static const cj_jitline *kernelat(const char *src, int line, const cj_jitline *lines, int nlines)
{
  int cur = 1, id = -1;
  for (const char *p = src; *p && cur <= line; p++) {
    if ((p == src || p[-1] == '\n') && !strncmp(p, "void cjk_", 9)) id = atoi(p + 9);
    if (*p == '\n') cur++;
  }
  for (int i = 0; i < nlines && id >= 0; i++)
    if (lines[i].id == id) return &lines[i];
  return NULL;
}

/* The compiler's stderr when it failed. An error located in our C file
 * ("<cfile>:LINE:COL: error: ...") means it rejected the generated code:
 * CJ_ERUNTIME naming the model line. Anything else is the environment
 * (no assembler, a full disk, a linker failure): CJ_EIO with the real
 * cause, so the caller can fall back to the interpreter. */
static int compilerfail(const char *src, const char *cfile, const char *err, int status,
                        const cj_jitline *lines, int nlines)
{
  const char *e = NULL, *bol;
  char msg[600] = "";
  int gline = 0;
  size_t cl = strlen(cfile);
  for (bol = err; bol && *bol; bol += strcspn(bol, "\n"), bol += *bol == '\n') {
    if (!strncmp(bol, cfile, cl) && bol[cl] == ':' && (e = strstr(bol, ": error:")) &&
        e < bol + strcspn(bol, "\n")) {
      gline = atoi(bol + cl + 1);
      e += 2;
      break;
    }
    e = NULL;
  }
  if (e) {
    snprintf(msg, sizeof msg, "%.*s", (int)strcspn(e, "\n"), e);
    const cj_jitline *k = gline ? kernelat(src, gline, lines, nlines) : NULL;
    if (k)
      return cj_fail(CJ_ERUNTIME, "model line %d (kernel %d '%s'): C compiler %s (generated line %d)",
                     k->line, k->id, k->name ? k->name : "?", msg, gline);
    return cj_fail(CJ_ERUNTIME, "generated C line %d: C compiler %s", gline, msg);
  }
  const char *why = err ? strstr(err, "No space left on device") : NULL;
  if (!why && err) why = strstr(err, "fatal error:");
  if (!why && err) why = strstr(err, "error:");
  if (!why && err && *err) why = err;
  bol = why;
  while (bol && bol > err && bol[-1] != '\n') bol--;
  if (bol) snprintf(msg, sizeof msg, "%.*s", (int)strcspn(bol, "\n"), bol);
  else snprintf(msg, sizeof msg, "exit status %d and no message", status);
  return cj_fail(CJ_EIO, "jit: the C compiler failed: %s", msg);
}

/* The compiler's time limit: $CAJAL_JIT_TIMEOUT seconds, default 300. */
static double timelimit(void)
{
  const char *s = getenv("CAJAL_JIT_TIMEOUT");
  char *end;
  double t = s && *s ? strtod(s, &end) : 0;
  if (!s || !*s || *end || !(t > 0) || t > 1e6) t = 300;
  return t;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- jobs: the compiler as a child process, advanced between steps ----------
 * A job builds one entry: it waits for <key>.lock (concurrent loads of one
 * model compile once), looks for the entry again, writes the C under a
 * temporary name and runs the compiler on it in the cache directory
 * (fchdir to dfd: relative names only, no path to swap), in its own process
 * group, stdin and stdout /dev/null, stderr captured (at most 64 KiB), with
 * a time limit; then appends the trailer and renames the object into place.
 * pump() advances a job without blocking (or waiting up to ms for the
 * compiler's output); nothing here needs a thread.
 *
 * Jobs are kept in a list of this process: a job whose owner released it
 * while the compiler still runs (the network was collected, the script
 * ended) is advanced by later pumps of any job and, at exit, waited for
 * (within the compiler's time limit), so its entry reaches the cache and the
 * next load starts compiled. */
#define ERRCAP 65536

enum { J_LOCK, J_CC, J_DONE, J_FAILED };

struct cj_jitjob {
  cache C;
  cc c;
  unsigned char key[16];
  char hex[33], final[64], src[200], out[200];
  int state, lk, errfd, owned, found, code, nlines;
  pid_t pid, owner;
  double lockdeadline, deadline;
  char *err, *msg, *source;
  size_t nerr;
  cj_jitline *lines;
  cj_jitjob *next;
};

static cj_jitjob *jobs;

static int running(const cj_jitjob *J) { return J->state == J_LOCK || J->state == J_CC; }

/* Close and remove what the job holds on the way (not the cache itself). */
static void cleanup(cj_jitjob *J)
{
  if (J->errfd >= 0) close(J->errfd);
  J->errfd = -1;
  if (J->src[0]) unlinkat(J->C.dfd, J->src, 0);
  if (J->out[0]) unlinkat(J->C.dfd, J->out, 0);
  J->src[0] = J->out[0] = '\0';
  if (J->lk >= 0) close(J->lk);                      /* releases the lock */
  J->lk = -1;
  cj_free(J->err);
  J->err = NULL;
}

/* The job failed with status code (message in cj_errmsg): kept for its owner. */
static void jfail(cj_jitjob *J, int code)
{
  const char *m = cj_errmsg();
  J->code = code;
  if ((J->msg = cj_malloc(strlen(m) + 1))) strcpy(J->msg, m);
  J->state = J_FAILED;
  cleanup(J);
}

static int spawncc(cj_jitjob *J)
{
  char mbuf[1024];
  const char *argv[MAXARGS + 64];
  int k = 0, p[2];
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  if (!(J->err = cj_calloc(1, ERRCAP + 1))) return cj_fail(CJ_ENOMEM, "jit: out of memory");
  J->nerr = 0;
  for (int i = 0; i < J->c.argc; i++) argv[k++] = J->c.argv[i];
  for (int i = 0; FLAGS[i]; i++) argv[k++] = FLAGS[i];
  snprintf(mbuf, sizeof mbuf, "%s", machflags());
  for (char *sv, *tok = strtok_r(mbuf, " \t", &sv); tok && k < MAXARGS + 59; tok = strtok_r(NULL, " \t", &sv))
    argv[k++] = tok;
  argv[k++] = "-o"; argv[k++] = J->out; argv[k++] = J->src; argv[k++] = "-lm";
  argv[k] = NULL;
  argv[0] = J->c.path;
  if (pipe2(p, O_CLOEXEC) != 0)
    return cj_fail(CJ_EIO, "jit: cannot run the C compiler '%s': %s", J->c.path, strerror(errno));
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addfchdir_np(&fa, J->C.dfd);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  stats.compiles++;
  int e = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(p[1]);
  if (e != 0) {
    close(p[0]);
    return cj_fail(CJ_EIO, "jit: cannot run the C compiler '%s': %s", J->c.path, strerror(e));
  }
  J->pid = pid;
  J->errfd = p[0];
  J->deadline = now() + timelimit();
  J->state = J_CC;
  return 0;
}

/* With the lock held (or given up on): look for the entry again (another
 * process may have built it while we waited), else start the compiler. */
static int begin(cj_jitjob *J)
{
  int fd = openentry(&J->C, J->final, J->key);
  if (fd >= 0) {
    close(fd);
    J->found = 1;
    J->state = J_DONE;
    cleanup(J);
    return 0;
  }
  long n = ++tmpcounter;
  snprintf(J->src, sizeof J->src, "tmp-%s-%ld-%ld.c", J->hex, (long)getpid(), n);
  snprintf(J->out, sizeof J->out, "tmp-%s-%ld-%ld.so", J->hex, (long)getpid(), n);
  if (writeat(&J->C, J->src, J->source) != 0)
    return cj_fail(CJ_EIO, "jit: cannot write the kernels' C into '%s': %s", J->C.dir, strerror(errno));
  return spawncc(J);
}

/* The compiler ended: status as waitpid gave it (-1: lost, -3: timed out). */
static int ccdone(cj_jitjob *J, int status)
{
  if (status == -1)
    return cj_fail(CJ_EIO, "jit: lost the C compiler '%s' (waitpid: %s)", J->c.path, strerror(ECHILD));
  if (status == -3)
    return cj_fail(CJ_EIO, "jit: the C compiler '%s' did not finish within %g s (the limit is CAJAL_JIT_TIMEOUT)",
                   J->c.path, timelimit());
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return cj_fail(CJ_EIO, "jit: the C compiler '%s' was killed by signal %d (%s)", J->c.path, sig, strsignal(sig));
  }
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (rc) return compilerfail(J->source, J->src, J->err, rc, J->lines, J->nlines);
  if (seal(&J->C, J->out, J->key) != 0 || renameat(J->C.dfd, J->out, J->C.dfd, J->final) != 0)
    return cj_fail(CJ_EIO, "jit: cannot write cache entry '%s/%s': %s", J->C.dir, J->final, strerror(errno));
  return 0;
}

/* Read what the compiler wrote to stderr, waiting at most ms for it. */
static void readerr(cj_jitjob *J, int ms)
{
  struct pollfd pf = { J->errfd, POLLIN, 0 };
  if (J->errfd < 0 || poll(&pf, 1, ms) <= 0) return;
  char tmp[4096];
  ssize_t r = read(J->errfd, tmp, sizeof tmp);
  if (r > 0) {
    size_t keep = J->nerr + (size_t)r > ERRCAP ? ERRCAP - J->nerr : (size_t)r;
    memcpy(J->err + J->nerr, tmp, keep);
    J->nerr += keep;
  } else if (r == 0 || errno != EINTR) {
    close(J->errfd);
    J->errfd = -1;
  }
}

static void finish(cj_jitjob *J, int status)
{
  for (int k = 0; k < 64 && J->errfd >= 0; k++) readerr(J, 0);   /* what is left in the pipe */
  int st = ccdone(J, status);
  if (st) { jfail(J, st); return; }
  J->state = J_DONE;
  cleanup(J);
}

static void pause_ms(int ms)
{
  struct timespec ts = { 0, (long)(ms > 20 ? 20 : ms) * 1000000L };
  if (ms > 0) nanosleep(&ts, NULL);
}

/* Advance J; ms > 0 may wait that long (the compiler's output, or 20 ms for
 * a lock another process holds). */
static void pump(cj_jitjob *J, int ms)
{
  int status = 0, st;
  if (J->state == J_LOCK) {
    if (flock(J->lk, LOCK_EX | LOCK_NB) != 0 && (errno == EWOULDBLOCK || errno == EINTR) && now() <= J->lockdeadline) {
      pause_ms(ms);
      return;
    }
    if ((st = begin(J))) jfail(J, st);            /* locked, or compile anyway (no lock after the wait) */
    return;
  }
  if (J->state != J_CC) return;
  double left = J->deadline - now();
  int wait = left * 1000 < ms ? (int)(left * 1000) + 1 : ms;
  if (wait < 0) wait = 0;
  if (J->errfd >= 0) readerr(J, wait);
  else pause_ms(wait);
  pid_t w = waitpid(J->pid, &status, WNOHANG);
  if (w == J->pid) { J->pid = 0; finish(J, status); }
  else if (w < 0 && errno != EINTR) { J->pid = 0; finish(J, -1); }
  else if (now() >= J->deadline) {
    kill(-J->pid, SIGKILL);
    kill(J->pid, SIGKILL);
    while (waitpid(J->pid, &status, 0) < 0 && errno == EINTR) {}
    J->pid = 0;
    finish(J, -3);
  }
}

static void jobfree(cj_jitjob *J)
{
  for (cj_jitjob **p = &jobs; *p; p = &(*p)->next)
    if (*p == J) { *p = J->next; break; }
  cleanup(J);
  if (J->C.dfd >= 0) close(J->C.dfd);
  for (int i = 0; i < J->nlines; i++) cj_free((char *)J->lines[i].name);
  cj_free(J->lines);
  cj_free(J->source);
  cj_free(J->msg);
  cj_free(J);
}

/* Advance every job of this process once; free released ones that ended. */
static void pumpall(void)
{
  for (cj_jitjob *J = jobs, *next; J; J = next) {
    next = J->next;
    if (J->owner != getpid()) continue;            /* a copy in a forked child: not ours */
    pump(J, 0);
    if (!J->owned && !running(J)) jobfree(J);
  }
}

/* At exit: the compilers still running finish and fill the cache. */
static void finishall(void)
{
  for (cj_jitjob *J = jobs; J; J = J->next)
    if (J->owner == getpid() && J->state == J_CC)
      while (J->state == J_CC) pump(J, 1000);
}

static char *dupstr(const char *s)
{
  char *d = cj_malloc(strlen(s) + 1);
  if (d) strcpy(d, s);
  return d;
}

/* A new job for the entry of key: copies of source and lines, linked. */
static int newjob(const cache *C, const cc *c, const unsigned char key[16], const char *source,
                  const cj_jitline *lines, int nlines, cj_jitjob **out)
{
  static int atexit_set;
  cj_jitjob *J = cj_calloc(1, sizeof *J);
  if (!J) { close(C->dfd); return cj_fail(CJ_ENOMEM, "jit: out of memory"); }
  J->C = *C;
  J->c = *c;
  for (int i = 0; i < c->argc; i++) J->c.argv[i] = J->c.buf + (c->argv[i] - c->buf);
  memcpy(J->key, key, 16);
  tohex(key, J->hex);
  snprintf(J->final, sizeof J->final, "%s.so", J->hex);
  J->lk = J->errfd = -1;
  J->owner = getpid();
  J->owned = 1;
  J->next = jobs;
  jobs = J;
  if (!(J->source = dupstr(source)) ||
      (nlines > 0 && !(J->lines = cj_calloc((size_t)nlines, sizeof *J->lines)))) {
    jobfree(J);
    return cj_fail(CJ_ENOMEM, "jit: out of memory");
  }
  for (int i = 0; i < nlines; i++, J->nlines++) {
    J->lines[i] = lines[i];
    if (!(J->lines[i].name = dupstr(lines[i].name ? lines[i].name : "?"))) {
      jobfree(J);
      return cj_fail(CJ_ENOMEM, "jit: out of memory");
    }
  }
  if (!atexit_set && atexit(finishall) == 0) atexit_set = 1;
  *out = J;
  return 0;
}

int cj_jit_start(const char *source, const cj_jitline *lines, int nlines, cj_jit **out, cj_jitjob **job)
{
  cc c;
  cache C;
  char why[256], final[64], hex[33], name[64];
  unsigned char key[16];
  int st, fd;
  cj_jitjob *J = NULL;
  *out = NULL;
  *job = NULL;
  if (jitoff()) return cj_fail(CJ_EIO, "jit: disabled by CAJAL_JIT=%s", getenv("CAJAL_JIT"));
  if (!getcc(&c, why, sizeof why)) return cj_fail(CJ_EIO, "jit: %s", why);
  pumpall();
  if ((st = opencache(&C))) return st;
  cachekey(C.secret, source, &c, key);
  tohex(key, hex);
  snprintf(final, sizeof final, "%s.so", hex);
  if ((fd = openentry(&C, final, key)) >= 0) {
    if ((st = load(&C, fd, final, out, 1)) == 0) { stats.hits++; close(C.dfd); return 0; }
    if (st == CJ_ERUNTIME) { close(C.dfd); return st; }          /* an ABI mismatch */
  } else if (faccessat(C.dfd, final, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
    stats.rebuilds++;
  }
  if ((st = newjob(&C, &c, key, source, lines, nlines, &J))) return st;   /* J owns C.dfd now */
  snprintf(name, sizeof name, "%s.lock", hex);
  J->lk = openat(C.dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  J->lockdeadline = now() + timelimit() + 60;
  J->state = J_LOCK;
  if (J->lk < 0 || flock(J->lk, LOCK_EX | LOCK_NB) == 0 || (errno != EWOULDBLOCK && errno != EINTR)) {
    if ((st = begin(J))) { jobfree(J); return st; }            /* compile anyway without a lock */
  }
  *job = J;
  return 0;
}

int cj_jit_poll(cj_jitjob *J, int wait, cj_jit **out)
{
  int fd, st;
  *out = NULL;
  pumpall();
  while (wait && running(J)) {
    pump(J, 1000);
    pumpall();                  /* a lock we wait for may be held by a job of ours */
  }
  if (J->state == J_FAILED)
    return cj_fail(J->code ? J->code : CJ_EIO, "%s", J->msg ? J->msg : "jit: the compiler failed (out of memory)");
  if (J->state != J_DONE) return 0;
  if ((fd = openentry(&J->C, J->final, J->key)) < 0)
    return cj_fail(CJ_EIO, "jit: the new cache entry '%s/%s' cannot be read back", J->C.dir, J->final);
  if ((st = load(&J->C, fd, J->final, out, J->found)) == 0 && J->found) stats.hits++;
  return st;
}

int cj_jit_running(const cj_jitjob *J) { return running(J); }

void cj_jit_job_release(cj_jitjob *J)
{
  if (!J) return;
  J->owned = 0;
  if (!running(J)) jobfree(J);
}

int cj_jit_compile(const char *source, const cj_jitline *lines, int nlines, cj_jit **out)
{
  cj_jitjob *J;
  int st = cj_jit_start(source, lines, nlines, out, &J);
  if (st || *out) return st;
  st = cj_jit_poll(J, 1, out);
  cj_jit_job_release(J);
  return st;
}

cj_kfn cj_jit_kernel(cj_jit *j, int id)
{
  char name[32];
  snprintf(name, sizeof name, "cjk_%d", id);
  void *f = dlsym(j->dl, name);
  cj_kfn fn;
  memcpy(&fn, &f, sizeof fn);      /* object pointer to function pointer (POSIX guarantees it works) */
  return fn;
}

const char *cj_jit_path(const cj_jit *j) { return j->path; }
int cj_jit_cached(const cj_jit *j) { return j->cached; }

void cj_jit_release(cj_jit *j)
{
  if (!j) return;
  dlclose(j->dl);
  cj_free(j->path);
  cj_free(j);
}

/* 1: a compiled entry, 2: a temporary or a lock (removed, not counted). */
static int ours(const char *name)
{
  size_t n = strlen(name);
  if (n == 35 && !strcmp(name + 32, ".so") && strspn(name, "0123456789abcdef") == 32) return 1;
  if (n == 37 && !strcmp(name + 32, ".lock") && strspn(name, "0123456789abcdef") == 32) return 2;
  if (!strncmp(name, "tmp-", 4) && strspn(name + 4, "0123456789abcdef") == 32) return 1;
  return !strncmp(name, "secret.tmp-", 11) ? 2 : 0;
}

int cj_jit_cache_clear(long *removed)
{
  cache C;
  DIR *d;
  struct dirent *e;
  int st, dfd;
  *removed = 0;
  if ((st = cj_jit_cache_dir(C.dir, sizeof C.dir))) return st;
  if ((dfd = open(C.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
    if (errno == ENOENT) return 0;
    return cj_fail(CJ_EIO, "jit: cannot read cache directory '%s': %s", C.dir, strerror(errno));
  }
  int dfd2 = dup(dfd);
  if (dfd2 < 0 || !(d = fdopendir(dfd2))) {
    if (dfd2 >= 0) close(dfd2);
    close(dfd);
    return cj_fail(CJ_EIO, "jit: cannot read cache directory '%s': %s", C.dir, strerror(errno));
  }
  while ((e = readdir(d))) {
    int k = ours(e->d_name);
    if (k && unlinkat(dfd, e->d_name, 0) == 0 && k == 1) (*removed)++;
  }
  closedir(d);
  close(dfd);
  return 0;
}
