/*
 * test_checkpoint.c — save and restore of a network (vm/core/checkpoint.c): continuity,
 * refusal of bad and crafted files.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netfix.h"
#include "rng.h"

Test(saverestore, run_save_restore_run_equals_one_long_run)
{
  char path[] = "/tmp/cj_test_netXXXXXX";
  int fd = mkstemp(path);
  close(fd);
  cj_net *a = mkrich(5), *b = mkrich(5), *c;
  OK(cj_net_build(a)); OK(cj_net_build(b));
  OK(cj_net_run(a, 3000, NULL, NULL));
  OK(cj_net_run(b, 1517, NULL, NULL));
  const int64_t *st; const int32_t *id;
  cr_assert_gt(cj_net_mon_spikes(b, 0, &st, &id), 100, "the network should be active");
  OK(cj_net_save(b, path));
  cj_net_free(b);
  c = mkrich(5);
  OK(cj_net_restore(c, path));
  cr_assert_eq(cj_net_step(c), 1517);
  OK(cj_net_run(c, 3000 - 1517, NULL, NULL));
  samenet(a, c);
  cj_net_free(c);
  /* and reset gives the first run again */
  cj_net *d = mkrich(5);
  OK(cj_net_build(d));
  OK(cj_net_run(d, 500, NULL, NULL));
  OK(cj_net_reset(d));
  OK(cj_net_run(d, 3000, NULL, NULL));
  samenet(a, d);
  cj_net_free(d);
  cj_net_free(a);
  unlink(path);
}

/* The rich network (seed 5) after 100 steps, and a fresh file at path (a
 * mkstemp template, filled in) for it to be saved to. */
static cj_net *ran100(char *path)
{
  int fd = mkstemp(path);
  close(fd);
  cj_net *a = mkrich(5);
  OK(cj_net_build(a));
  OK(cj_net_run(a, 100, NULL, NULL));
  return a;
}

Test(saverestore, bad_files_are_refused)
{
  char path[] = "/tmp/cj_test_netXXXXXX";
  cj_net *a = ran100(path);
  OK(cj_net_save(a, path));
  cj_net_free(a);
  /* another structure */
  cj_net *b = cj_net_new("other", 1e-4, 5);
  OK(addpop(b, "P", 400, 3, V3, 0, 0, 0, 0, 0));
  cr_assert_neq(cj_net_restore(b, path), 0);
  cr_assert(strstr(cj_errmsg(), "different network"), "%s", cj_errmsg());
  cj_net_free(b);
  /* corrupt byte */
  FILE *f = fopen(path, "r+b");
  fseek(f, 200, SEEK_SET);
  fputc(0x55, f);
  fclose(f);
  b = mkrich(5);
  cr_assert_neq(cj_net_restore(b, path), 0);
  cr_assert(strstr(cj_errmsg(), "corrupt or truncated"), "%s", cj_errmsg());
  cj_net_free(b);
  /* truncated and not a network file */
  cr_assert_eq(truncate(path, 20), 0);
  b = mkrich(5);
  cr_assert_neq(cj_net_restore(b, path), 0);
  cj_net_free(b);
  f = fopen(path, "wb"); fputs("hello", f); fclose(f);
  b = mkrich(5);
  cr_assert_neq(cj_net_restore(b, path), 0);
  cr_assert(strstr(cj_errmsg(), "not a cajal network file"), "%s", cj_errmsg());
  cj_net_free(b);
  unlink(path);
  b = mkrich(5);
  cr_assert_eq(cj_net_restore(b, "/nonexistent/dir/x.net"), CJ_EIO);
  cj_net_free(b);
}

/* Save files are untrusted (issue 13, item 2): every count and index the
 * restore reads is replaced by hostile values, the checksum recomputed (by
 * the test's own FNV-1a), and the file restored from memory. Each must be
 * refused with a message, or (for a value that happens to be valid)
 * restored and run; never read out of bounds (the sanitizer build checks).
 * Before, a projection's synapse count large enough for its pre/post
 * arrays but not for its variables moved the cursor past the end, and the
 * size left wrapped around. */
static uint64_t testfnv(const unsigned char *b, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
  return h;
}

static int restorebytes(unsigned char *b, size_t n)
{
  cj_savefile *s;
  uint64_t h = testfnv(b, n - 8);
  memcpy(b + n - 8, &h, 8);
  int st = cj_savefile_parse(b, n, "crafted", &s);
  if (st) return st;
  cj_net *c = mkrich(5);
  st = cj_net_restore_from(c, s);
  if (st) cr_assert(strlen(cj_errmsg()) > 0);
  else if (cj_net_run(c, 20, NULL, NULL)) cr_assert(strlen(cj_errmsg()) > 0);   /* a value that restores must run */
  cj_net_free(c);
  cj_savefile_free(s);
  return st;
}

Test(saverestore, crafted_counts_are_refused_never_read_out_of_bounds, .timeout = 600)
{
  char path[] = "/tmp/cj_test_netXXXXXX";
  cj_net *a = ran100(path);
  OK(cj_net_save_meta(a, path, "meta", 4));
  cj_net_free(a);
  FILE *f = fopen(path, "rb");
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  size_t n = (size_t)sb.st_size;
  unsigned char *orig = malloc(n), *b = malloc(n);
  cr_assert_eq(fread(orig, 1, n, f), n);
  fclose(f);
  unlink(path);
  memcpy(b, orig, n);
  OK(restorebytes(b, n));                                  /* the file itself restores */
  int tried = 0, refused = 0;
  /* every 4-byte position holding a small count or index (as int64) */
  for (size_t k = 8 + 16 + 8 + 4; k + 16 <= n; k += 4) {
    int64_t v;
    memcpy(&v, orig + k, 8);
    if (v < 0 || v > 100000) continue;
    const int64_t hostile[] = { -1, v + 1, (int64_t)(n / 8), (int64_t)(n / 4), INT64_MAX / 4, INT64_MAX, INT64_MIN };
    for (size_t q = 0; q < sizeof hostile / sizeof *hostile; q++) {
      memcpy(b, orig, n);
      memcpy(b + k, &hostile[q], 8);
      tried++;
      if (restorebytes(b, n)) refused++;
    }
  }
  /* most positions are state values (any double restores); the counts refuse */
  cr_assert_gt(tried, 1000, "only %d mutations", tried);
  cr_assert_gt(refused, 500, "only %d of %d hostile values refused", refused, tried);
  /* a truncated file at every length is refused */
  for (size_t len = 0; len < n; len += (len < 256 ? 1 : 997)) {
    memcpy(b, orig, n);
    unsigned char *t = malloc(len + 8);
    memcpy(t, b, len);
    memset(t + len, 0, 8);
    cr_assert_neq(len + 8 >= 40 ? restorebytes(t, len + 8) : cj_savefile_parse(t, len, "short", &(cj_savefile *){ NULL }), 0,
                  "truncated to %zu bytes", len);
    free(t);
  }
  free(orig);
  free(b);
}

/* A part of a save across MPI ranks (magic CAJALPRT) given as the main file
 * is refused with the way out; a format this cajal does not write, by
 * number; a main file of format 3 (across ranks) whose table of parts does
 * not add up, before any part is opened. The one-rank file is reshaped by
 * hand, the checksum recomputed. (tests/lua/netmpi.lua refuses bad parts
 * of real saves across ranks.) */
Test(saverestore, parts_and_unknown_formats_are_refused_by_name)
{
  char path[] = "/tmp/cj_test_netXXXXXX";
  cj_net *a = ran100(path);
  OK(cj_net_save(a, path));
  cj_net_free(a);
  FILE *f = fopen(path, "rb");
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  size_t n = (size_t)sb.st_size;
  unsigned char *b = malloc(n);
  cr_assert_eq(fread(b, 1, n, f), n);
  fclose(f);
  cj_savefile *s = NULL;
  memcpy(b, "CAJALPRT", 8);
  uint64_t h = testfnv(b, n - 8);
  memcpy(b + n - 8, &h, 8);
  cr_assert_neq(cj_savefile_parse(b, n, "x.rank1", &s), 0);
  cr_assert(strstr(cj_errmsg(), "'x.rank1' is one rank's part of a network saved across MPI ranks"), "%s", cj_errmsg());
  memcpy(b, "CAJALNET", 8);
  uint32_t fmt = 4;
  memcpy(b + 8, &fmt, 4);
  h = testfnv(b, n - 8);
  memcpy(b + n - 8, &h, 8);
  cr_assert_neq(cj_savefile_parse(b, n, "x", &s), 0);
  cr_assert(strstr(cj_errmsg(), "has format 4"), "%s", cj_errmsg());
  /* format 3: the step (after the seed) read as the save's id, K = 2
   * inserted; the one-rank projections where the table of parts should be */
  fmt = 3;
  memcpy(b + 8, &fmt, 4);
  int64_t metalen;
  memcpy(&metalen, b + 24, 8);
  const size_t at = 24 + 8 + (size_t)metalen + 24 + 8;   /* head, meta, shape, dt, seed; id */
  const int64_t K = 2;
  unsigned char *c = malloc(n + 8);
  memcpy(c, b, at);
  memcpy(c + at, &K, 8);
  memcpy(c + at + 8, b + at, n - at);
  h = testfnv(c, n);
  memcpy(c + n, &h, 8);
  OK(cj_savefile_parse(c, n + 8, "/nonexistent/x", &s));
  cj_net *d = mkrich(5);
  cr_assert_neq(cj_net_restore_from(d, s), 0);
  cr_assert(strstr(cj_errmsg(), "'/nonexistent/x' does not match the network"), "%s", cj_errmsg());
  cj_net_free(d);
  cj_savefile_free(s);
  free(b);
  free(c);
  unlink(path);
}
