/*
 * jit.c — the kernel compiler cache (see jit.h).
 *
 * compile:  source -> key -> <cache>/<key>.so present and intact? -> dlopen
 *                                  | no
 *           write tmp-<key>-<pid>-<n>.c, run the compiler into tmp-...so,
 *           append the trailer, rename(2) to <key>.so, dlopen.
 */
#include "config.h"
#include "jit.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* valgrind cannot execute every instruction -march=native may emit (3.19 has
 * no AVX-512): under valgrind kernels are compiled for the baseline machine,
 * detected the same way as in regex.c. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

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

#define TRAILER_MAGIC "cajalso1"
#define TRAILER 40                 /* content hash 16, key 16, magic 8 */
#define MAXARGS 32

struct cj_jit { void *dl; char *path; int cached; };

static cj_jitstats stats;
static long tmpcounter;

void cj_jit_stats(cj_jitstats *s) { *s = stats; }

/* ---- the 128-bit hash (FNV-1a) ----------------------------------------- */
typedef unsigned __int128 u128;

static u128 fnvinit(void)
{
  return ((u128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
}

static u128 fnv128(u128 h, const void *p, size_t n)
{
  const u128 prime = ((u128)1 << 88) | 0x13b;
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= prime; }
  return h;
}

static u128 fnvstr(u128 h, const char *s) { return fnv128(h, s, strlen(s) + 1); }

static void tobytes(u128 h, unsigned char out[16])
{
  for (int i = 0; i < 16; i++) out[i] = (unsigned char)(h >> (8 * i));
}

static void tohex(u128 h, char out[33])
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    unsigned char b = (unsigned char)(h >> (8 * (15 - i)));
    out[2 * i] = hex[b >> 4];
    out[2 * i + 1] = hex[b & 15];
  }
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
static u128 cpuid(u128 h)
{
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[8192];
  int seen = 0;
  if (!f) return fnvstr(h, "no-cpuinfo");
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "processor", 9) && seen++) break;    /* the first CPU only */
    if (!strncmp(line, "vendor_id", 9) || !strncmp(line, "cpu family", 10) ||
        !strncmp(line, "model", 5) || !strncmp(line, "flags", 5))
      h = fnvstr(h, line);
  }
  fclose(f);
  return h;
}

static u128 cachekey(const char *source, const cc *c)
{
  u128 h = fnvinit();
  struct stat st;
  char real[4096];
  h = fnvstr(h, "cajal kernel cache 1");
  h = fnvstr(h, source);
  for (int i = 0; i < c->argc; i++) h = fnvstr(h, c->argv[i]);
  if (realpath(c->path, real)) h = fnvstr(h, real);
  if (stat(c->path, &st) == 0) {
    int64_t id[4] = { (int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size, (int64_t)st.st_mtime };
    h = fnv128(h, id, sizeof id);
  }
  h = fnvstr(h, cj_jit_flags());
  h = fnvstr(h, CJ_VERSION);
  h = fnv128(h, &(int){ CJ_KERNEL_ABI }, sizeof(int));
  return cpuid(h);
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

/* mkdir -p with mode 0700 for what it creates; the leaf must be ours and
 * not writable by others (a planted .so would run in this process). */
static int makedir(const char *dir)
{
  char tmp[4096];
  struct stat st;
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
  if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
    return cj_fail(CJ_EIO, "jit: cache '%s' is not a directory", tmp);
  if (st.st_uid != getuid() || (st.st_mode & 022))
    return cj_fail(CJ_EIO, "jit: cache directory '%s' is writable by others or not yours; refusing to load code from it", tmp);
  return 0;
}

/* ---- entries ------------------------------------------------------------- */
static int readall(const char *path, unsigned char **buf, size_t *n)
{
  FILE *f = fopen(path, "rb");
  long len;
  *buf = NULL;
  if (!f) return -1;
  if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { fclose(f); return -1; }
  if (!(*buf = cj_malloc((size_t)len + 1)) || fread(*buf, 1, (size_t)len, f) != (size_t)len) {
    cj_free(*buf); *buf = NULL; fclose(f);
    return -1;
  }
  fclose(f);
  *n = (size_t)len;
  return 0;
}

/* 1 if path is a complete entry for key. */
static int intact(const char *path, u128 key)
{
  unsigned char *b, kb[16], hb[16];
  size_t n;
  int ok;
  if (readall(path, &b, &n) != 0) return 0;
  tobytes(key, kb);
  ok = n > TRAILER && !memcmp(b + n - 8, TRAILER_MAGIC, 8) && !memcmp(b + n - 24, kb, 16);
  if (ok) {
    tobytes(fnv128(fnvinit(), b, n - TRAILER), hb);
    ok = !memcmp(b + n - TRAILER, hb, 16);
  }
  cj_free(b);
  return ok;
}

static int addtrailer(const char *path, u128 key)
{
  unsigned char *b, t[TRAILER];
  size_t n;
  FILE *f;
  if (readall(path, &b, &n) != 0) return -1;
  tobytes(fnv128(fnvinit(), b, n), t);
  tobytes(key, t + 16);
  memcpy(t + 32, TRAILER_MAGIC, 8);
  cj_free(b);
  if (!(f = fopen(path, "ab"))) return -1;
  if (fwrite(t, 1, TRAILER, f) != TRAILER) { fclose(f); return -1; }
  if (fflush(f) || fsync(fileno(f))) { fclose(f); return -1; }
  return fclose(f);
}

static int writefile(const char *path, const char *text)
{
  FILE *f = fopen(path, "wb");
  size_t n = strlen(text);
  if (!f) return -1;
  if (fwrite(text, 1, n, f) != n) { fclose(f); return -1; }
  return fclose(f);
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

/* Turn the compiler's stderr into one message about the model. */
static int compilerfail(const char *src, const char *cfile, const char *err, int status,
                        const cj_jitline *lines, int nlines)
{
  const char *e = err ? strstr(err, "error:") : NULL;
  char msg[600] = "";
  int gline = 0;
  if (e) {
    /* "<cfile>:LINE:COL: error: message" — find LINE on the same line */
    const char *bol = e;
    while (bol > err && bol[-1] != '\n') bol--;
    const char *at = strstr(bol, cfile);
    if (at && at < e && at[strlen(cfile)] == ':') gline = atoi(at + strlen(cfile) + 1);
    snprintf(msg, sizeof msg, "%.*s", (int)strcspn(e, "\n"), e);
  } else if (err && *err) {
    snprintf(msg, sizeof msg, "%.*s", (int)strcspn(err, "\n"), err);
  } else {
    snprintf(msg, sizeof msg, "exit status %d", status);
  }
  const cj_jitline *k = gline ? kernelat(src, gline, lines, nlines) : NULL;
  if (k)
    return cj_fail(CJ_ERUNTIME, "model line %d (kernel %d '%s'): C compiler %s (generated line %d)",
                   k->line, k->id, k->name ? k->name : "?", msg, gline);
  if (gline) return cj_fail(CJ_ERUNTIME, "generated C line %d: C compiler %s", gline, msg);
  return cj_fail(CJ_ERUNTIME, "C compiler failed: %s", msg);
}

/* Run the compiler: src -> out, stderr into errpath. Returns the exit status
 * (-1 if it could not start). */
static int runcc(const cc *c0, const char *src, const char *out, const char *errpath)
{
  cc c = *c0;
  char mbuf[1024];
  const char *argv[MAXARGS + 64];
  int k = 0, status;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  for (int i = 0; i < c.argc; i++) argv[k++] = c.argv[i];
  for (int i = 0; FLAGS[i]; i++) argv[k++] = FLAGS[i];
  snprintf(mbuf, sizeof mbuf, "%s", machflags());
  for (char *sv, *tok = strtok_r(mbuf, " \t", &sv); tok && k < MAXARGS + 59; tok = strtok_r(NULL, " \t", &sv))
    argv[k++] = tok;
  argv[k++] = "-o"; argv[k++] = out; argv[k++] = src; argv[k++] = "-lm";
  argv[k] = NULL;
  argv[0] = c0->path;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  stats.compiles++;
  if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int build(const char *dir, const char *hex, const char *final, u128 key, const cc *c,
                 const char *source, const cj_jitline *lines, int nlines)
{
  char src[4200], out[4200], errp[4200];
  int st = 0, status;
  long n = ++tmpcounter;
  snprintf(src, sizeof src, "%s/tmp-%s-%ld-%ld.c", dir, hex, (long)getpid(), n);
  snprintf(out, sizeof out, "%s/tmp-%s-%ld-%ld.so", dir, hex, (long)getpid(), n);
  snprintf(errp, sizeof errp, "%s/tmp-%s-%ld-%ld.err", dir, hex, (long)getpid(), n);
  if (writefile(src, source) != 0) {
    st = cj_fail(CJ_EIO, "jit: cannot write '%s': %s", src, strerror(errno));
  } else if ((status = runcc(c, src, out, errp)) != 0) {
    unsigned char *err = NULL;
    size_t en = 0;
    if (status < 0) st = cj_fail(CJ_ERUNTIME, "jit: cannot run the C compiler '%s': %s", c->path, strerror(errno));
    else {
      readall(errp, &err, &en);
      if (err) err[en] = '\0';
      st = compilerfail(source, src, (char *)err, status, lines, nlines);
      cj_free(err);
    }
  } else if (addtrailer(out, key) != 0 || rename(out, final) != 0) {
    st = cj_fail(CJ_EIO, "jit: cannot write cache entry '%s': %s", final, strerror(errno));
  }
  remove(src); remove(errp); remove(out);
  return st;
}

static int load(const char *path, cj_jit **out, int cached)
{
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  cj_jit *j;
  if (!dl) return cj_fail(CJ_ERUNTIME, "jit: cannot load '%s': %s", path, dlerror());
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

int cj_jit_compile(const char *source, const cj_jitline *lines, int nlines, cj_jit **out)
{
  cc c;
  char why[256], dir[4000], final[4200], hex[33];
  int st;
  *out = NULL;
  if (jitoff()) return cj_fail(CJ_ERUNTIME, "jit: disabled by CAJAL_JIT=%s", getenv("CAJAL_JIT"));
  if (!getcc(&c, why, sizeof why)) return cj_fail(CJ_ERUNTIME, "jit: %s", why);
  if ((st = cj_jit_cache_dir(dir, sizeof dir)) || (st = makedir(dir))) return st;
  u128 key = cachekey(source, &c);
  tohex(key, hex);
  snprintf(final, sizeof final, "%s/%s.so", dir, hex);
  if (access(final, F_OK) == 0) {
    if (intact(final, key) && load(final, out, 1) == 0) { stats.hits++; return 0; }
    stats.rebuilds++;
  }
  if ((st = build(dir, hex, final, key, &c, source, lines, nlines))) return st;
  return load(final, out, 0);
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

static int ours(const char *name)
{
  size_t n = strlen(name);
  if (n == 35 && !strcmp(name + 32, ".so") && strspn(name, "0123456789abcdef") == 32) return 1;
  return !strncmp(name, "tmp-", 4) && strspn(name + 4, "0123456789abcdef") == 32;
}

int cj_jit_cache_clear(long *removed)
{
  char dir[4000], path[4400];
  DIR *d;
  struct dirent *e;
  int st;
  *removed = 0;
  if ((st = cj_jit_cache_dir(dir, sizeof dir))) return st;
  if (!(d = opendir(dir))) {
    if (errno == ENOENT) return 0;
    return cj_fail(CJ_EIO, "jit: cannot read cache directory '%s': %s", dir, strerror(errno));
  }
  while ((e = readdir(d)))
    if (ours(e->d_name)) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (remove(path) == 0) (*removed)++;
    }
  closedir(d);
  return 0;
}
