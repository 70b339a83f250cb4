/*
 * testutil.h — small fixtures shared by the Criterion tests of vm/core:
 * a scratch folder per test (scratch_setup / scratch_teardown as .init and
 * .fini, scratch_path(name) a file in it) and an allocator that fails from
 * the n-th allocation on (failing_alloc: set failing_budget, read
 * failing_live, the blocks still allocated). Header-only: each test
 * program is one file plus this.
 */
#ifndef CJ_TESTUTIL_H
#define CJ_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char scratch_dir[64] __attribute__((unused)), scratch_buf[256] __attribute__((unused));

static inline void scratch_setup(void)
{
  strcpy(scratch_dir, "/tmp/cajal-test-XXXXXX");
  cr_assert_not_null(mkdtemp(scratch_dir));
}

static inline void scratch_teardown(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
  cr_assert_eq(system(cmd), 0);
}

/* The path of name in the scratch folder (a static buffer: use it before
 * the next call). */
static inline const char *scratch_path(const char *name)
{
  snprintf(scratch_buf, sizeof scratch_buf, "%s/%s", scratch_dir, name);
  return scratch_buf;
}

static long failing_budget __attribute__((unused)), failing_live __attribute__((unused));

/* A cj_set_allocator allocator: NULL once failing_budget allocations are done. */
static inline void *failing_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
  (void)ud; (void)osize;
  if (nsize == 0) { if (p) failing_live--; free(p); return NULL; }
  if (failing_budget-- <= 0) return NULL;
  if (!p) failing_live++;
  return realloc(p, nsize);
}

#endif
