/*
 * test_jit.c — the kernel cache against another local user (issue 13,
 * item 1): the keyed hash, a symbolic link or a foreign folder where the
 * cache should be, folders above it that others may write, entries planted
 * with a forged trailer, and a second user flipping a link while this one
 * loads. The second user is real where the tests run as root (a child
 * process with setuid to 65534, "nobody"); otherwise those tests skip and
 * say why. Tests of the cache's ordinary life are in test_net.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jit.h"

#define OTHER 65534                 /* the second user (nobody on Debian) */

static char top[64];
static pid_t flipperpid;            /* killed by teardown, also when a test fails */

static void setup(void)
{
  strcpy(top, "/tmp/cj_test_secXXXXXX");
  cr_assert_not_null(mkdtemp(top));
  unsetenv("CAJAL_JIT");
}

static void teardown(void)
{
  char cmd[128];
  if (flipperpid > 0) { kill(flipperpid, SIGKILL); waitpid(flipperpid, NULL, 0); flipperpid = 0; }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
  (void)!system(cmd);
}

TestSuite(jitsec, .init = setup, .fini = teardown);

static const char *at(const char *name)
{
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", top, name);
  return buf[k];
}

/* A kernel file whose cjk_1 stores `value` into var 0. */
static char *kernel(double value)
{
  char *src = malloc(8192);
  snprintf(src, 8192, "%svoid cjk_1(const cj_kctx *c)\n{\n  ((double *)c->var[0])[0] = %.17g;\n}\n",
           cj_kernel_prelude(), value);
  return src;
}

/* Compile src through the cache dir; the value its kernel stores, or NAN
 * with the failure message in why. */
static double run(const char *dir, const char *src, char *why, size_t n)
{
  cj_jit *j = NULL;
  double x = 0, *v[1] = { &x };
  cj_kctx c = { .n = 1, .var = (void **)v };
  setenv("CAJAL_CACHE", dir, 1);
  if (cj_jit_compile(src, NULL, 0, &j)) {
    snprintf(why, n, "%s", cj_errmsg());
    return NAN;
  }
  cj_jit_kernel(j, 1)(&c);
  cj_jit_release(j);
  return x;
}

static void needcc(void)
{
  char why[200];
  if (!cj_jit_available(why, sizeof why)) cr_skip_test("no C compiler: %s", why);
}

static void needroot(void)
{
  if (geteuid() != 0) cr_skip_test("needs root to play a second user (setuid %d); run the tests as root", OTHER);
}

/* Run f(arg) in a child that has become the second user; its status. */
static int asother(void (*f)(const char *), const char *arg)
{
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(OTHER) != 0 || setuid(OTHER) != 0) _exit(99);
    f(arg);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

Test(jitsec, siphash128_matches_the_reference_vectors)
{
  /* Aumasson & Bernstein's vectors: key 00..0f, message 00 01 .. (n-1) */
  static const unsigned char want[3][16] = {
    { 0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93 },
    { 0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45 },
    { 0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a, 0xff, 0xe4 },
  };
  unsigned char key[16], msg[64], out[16];
  for (int i = 0; i < 16; i++) key[i] = (unsigned char)i;
  for (int i = 0; i < 64; i++) msg[i] = (unsigned char)i;
  for (int n = 0; n < 3; n++) {
    cj_jit_siphash128(key, msg, (size_t)n, out);
    cr_assert(memcmp(out, want[n], 16) == 0, "length %d", n);
  }
  /* every length up to 64 differs from its neighbours (the padding counts) */
  unsigned char prev[16] = { 0 };
  for (int n = 0; n < 64; n++) {
    cj_jit_siphash128(key, msg, (size_t)n, out);
    cr_assert(memcmp(out, prev, 16) != 0);
    memcpy(prev, out, 16);
  }
}

Test(jitsec, a_link_or_an_open_folder_in_place_of_the_cache_is_refused)
{
  needcc();
  char why[1024];
  char *src = kernel(1.5);
  cr_assert_eq(mkdir(at("mine"), 0700), 0);
  cr_assert_eq(run(at("mine"), src, why, sizeof why), 1.5, "%s", why);
  /* a symbolic link to a good cache */
  cr_assert_eq(symlink(at("mine"), at("link")), 0);
  cr_assert(isnan(run(at("link"), src, why, sizeof why)));
  cr_assert(strstr(why, "symbolic link"), "%s", why);
  /* a cache others may write */
  cr_assert_eq(mkdir(at("open"), 0700), 0);
  cr_assert_eq(chmod(at("open"), 0777), 0);
  cr_assert(isnan(run(at("open"), src, why, sizeof why)));
  cr_assert(strstr(why, "writable by others"), "%s", why);
  /* under a folder others may write (not sticky) */
  cr_assert_eq(mkdir(at("shared"), 0777), 0);
  cr_assert_eq(chmod(at("shared"), 0777), 0);
  cr_assert(isnan(run(at("shared/cache"), src, why, sizeof why)));
  cr_assert(strstr(why, "writable by other users and not sticky"), "%s", why);
  /* under a sticky one (as /tmp), a cache of ours is fine */
  cr_assert_eq(chmod(at("shared"), 01777), 0);
  cr_assert_eq(run(at("shared/cache"), src, why, sizeof why), 1.5, "%s", why);
  free(src);
}

Test(jitsec, a_planted_entry_with_a_forged_trailer_is_compiled_again)
{
  needcc();
  char why[1024], *good = kernel(2.5), *evil = kernel(666);
  cr_assert_eq(mkdir(at("c"), 0700), 0);
  cr_assert_eq(run(at("c"), evil, why, sizeof why), 666, "%s", why);
  cr_assert_eq(run(at("c"), good, why, sizeof why), 2.5, "%s", why);
  /* put the evil object under the good one's name, with a trailer made as
   * an attacker could: the right key in it (names are not secret to one
   * who can list the folder) and a MAC under a secret of their own */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && ls -t *.so", at("c"));
  FILE *p = popen(cmd, "r");
  char newest[64] = "", older[64] = "";
  cr_assert(fscanf(p, "%63s %63s", newest, older) == 2);
  pclose(p);
  FILE *f = fopen(at("c/secret"), "rb");
  unsigned char secret[16], forged[16];
  cr_assert_eq(fread(secret, 1, 16, f), 16);
  fclose(f);
  for (int i = 0; i < 16; i++) forged[i] = secret[i] ^ 0x5a;
  char gpath[256], epath[256];
  snprintf(gpath, sizeof gpath, "%s/%s", at("c"), newest);
  snprintf(epath, sizeof epath, "%s/%s", at("c"), older);
  struct stat st;
  cr_assert_eq(stat(epath, &st), 0);
  size_t n = (size_t)st.st_size;
  unsigned char *b = malloc(n), key[16];
  f = fopen(epath, "rb");
  cr_assert_eq(fread(b, 1, n, f), n);
  fclose(f);
  f = fopen(gpath, "rb");
  fseek(f, -24, SEEK_END);
  cr_assert_eq(fread(key, 1, 16, f), 16);                      /* the good entry's key */
  fclose(f);
  memcpy(b + n - 24, key, 16);
  /* the MAC as jit.c makes it, under the forged secret */
  size_t body = n - 40, mn = 21 + 16 + body;
  unsigned char *m = malloc(mn);
  memcpy(m, "cajal kernel entry 2", 21);
  memcpy(m + 21, key, 16);
  memcpy(m + 37, b, body);
  cj_jit_siphash128(forged, m, mn, b + body);
  f = fopen(gpath, "wb");
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
  cj_jitstats s0, s1;
  cj_jit_stats(&s0);
  cr_assert_eq(run(at("c"), good, why, sizeof why), 2.5, "the planted code ran (%s)", why);
  cj_jit_stats(&s1);
  cr_assert_eq(s1.rebuilds, s0.rebuilds + 1);
  /* and with the real secret the same forgery would have passed: the MAC
   * is what protects the entry (this checks the test, not the cache) */
  cj_jit_siphash128(secret, m, mn, b + body);
  f = fopen(gpath, "wb");
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
  cr_assert_eq(run(at("c"), good, why, sizeof why), 666);
  free(b); free(m); free(good); free(evil);
}

/* ---- a second user ---------------------------------------------------------- */

static void makeplanted(const char *dir)
{
  /* the second user makes a cache folder open to all, as a CI script in
   * /tmp might find it */
  if (mkdir(dir, 0777) != 0 || chmod(dir, 0777) != 0) _exit(1);
}

Test(jitsec, a_cache_folder_made_by_another_user_is_refused)
{
  needcc();
  needroot();
  char why[1024], *src = kernel(3.5);
  cr_assert_eq(chmod(top, 01777), 0);                            /* a /tmp of our own */
  cr_assert_eq(asother(makeplanted, at("theirs")), 0);
  cr_assert(isnan(run(at("theirs"), src, why, sizeof why)));
  cr_assert(strstr(why, "not yours"), "%s", why);
  /* a folder of ours inside theirs: they could swap it */
  cr_assert(isnan(run(at("theirs/cache"), src, why, sizeof why)));
  cr_assert(strstr(why, "owned by another user"), "%s", why);
  free(src);
}

/* The second user flips <top>/cache, a link, between the victim's own
 * good cache (<top>/mine) and their folder, as fast as they can, until
 * killed: a check that follows the link and a load that follows it again
 * (stat, then dlopen of a path) could see different folders. */
static void flipper(const char *arg)
{
  char link[256], tmp[256], target[2][256];
  snprintf(link, sizeof link, "%s/cache", arg);
  snprintf(tmp, sizeof tmp, "%s/cache.new", arg);
  snprintf(target[0], sizeof target[0], "%s/mine", arg);
  snprintf(target[1], sizeof target[1], "%s/evil", arg);
  for (unsigned k = 0;; k++) {
    unlink(tmp);
    if (symlink(target[k & 1], tmp) == 0) rename(tmp, link);
  }
}

static void makelink(const char *arg)
{
  char link[256], target[256];
  snprintf(link, sizeof link, "%s/cache", arg);
  snprintf(target, sizeof target, "%s/mine", arg);
  if (symlink(target, link) != 0) _exit(1);
}

static void makeevil(const char *dir)
{
  if (mkdir(dir, 0700) != 0) _exit(1);
}

Test(jitsec, a_link_flipped_by_another_user_never_loads_their_code, .timeout = 300)
{
  needcc();
  needroot();
  char why[1024], *src = kernel(4.5), *evil = kernel(666);
  cr_assert_eq(chmod(top, 01777), 0);
  cr_assert_eq(asother(makeevil, at("evil")), 0);
  /* the second user's own cache, with an entry for the victim's source:
   * compiled by them, so it would pass any check but ownership */
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(OTHER) != 0 || setuid(OTHER) != 0) _exit(99);
    setenv("HOME", at("evil"), 1);
    char w[256];
    _exit(run(at("evil"), evil, w, sizeof w) == 666 ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert_eq(WIFEXITED(status) && WEXITSTATUS(status), 0, "the second user could not build their entry");
  /* the victim's good cache, and the link the second user controls */
  cr_assert_eq(mkdir(at("mine"), 0700), 0);
  cr_assert_eq(run(at("mine"), src, why, sizeof why), 4.5, "%s", why);
  cr_assert_eq(asother(makelink, top), 0);
  pid_t parent = getpid();
  pid = fork();
  if (pid == 0) {
    if (setgid(OTHER) != 0 || setuid(OTHER) != 0) _exit(99);
    prctl(PR_SET_PDEATHSIG, SIGKILL);            /* never outlive the test (set after setuid, which clears it) */
    if (getppid() != parent) _exit(98);
    flipper(top);
  }
  flipperpid = pid;
  int loaded = 0;
  for (int k = 0; k < 200; k++) {
    double x = run(at("cache"), src, why, sizeof why);
    cr_assert(x != 666, "the other user's code ran");
    if (x == 4.5) loaded++;
    else cr_assert(strstr(why, "symbolic link"), "%s", why);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  flipperpid = 0;
  cr_assert_eq(loaded, 0, "a link in place of the cache was followed %d times", loaded);
  free(src); free(evil);
}
