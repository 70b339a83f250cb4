/*
 * test_monitor.c — the monitors of the network runtime (vm/core/monitor.c): rate windows,
 * state of all synapses, streaming to .npy files.
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
#include "npy.h"
#include "rng.h"

Test(monitors, rate_windows_and_all_synapses)
{
  /* generator: neuron k of 4 spikes at steps 2k and 2k+1 (k < 4); rate monitor every 3 steps */
  cj_net *net = cj_net_new("mon", 1e-4, 1);
  double tm[8]; int64_t ix[8];
  for (int k = 0; k < 8; k++) { tm[k] = k * 1e-4; ix[k] = k / 2; }
  K(.id = 1, .name = "winit", .domain = CJ_DOM_SYNAPSES, .refs = "j0.0", .body = "(set 0 s (+ (* 10 i) j))");
  K(.id = 2, .name = "grow", .domain = CJ_DOM_SYNAPSES, .refs = "j0.0", .body = "(add 0 s 1)");
  OK(addgen(net, "G", 4, tm, ix, 8));
  cj_projdef d = proj("G->G", 0, 0, 4, 4, CJ_RULE_ALL);
  const char *wn[] = { "w" };
  d.nvars = 1; d.varnames = wn; d.init = 1; d.update = 2;
  OK(cj_net_add_proj(net, &d));
  cj_mondef r = { .kind = CJ_MON_RATE, .pop = 0, .proj = -1, .lo = 0, .hi = 3, .every = 3 };
  cj_mondef w = { .kind = CJ_MON_STATE, .pop = -1, .proj = 0, .var = 0, .nindices = -1, .every = 5 };
  OK(cj_net_add_monitor(net, &r));
  OK(cj_net_add_monitor(net, &w));
  OK(cj_net_build(net));
  OK(cj_net_run(net, 10, NULL, NULL));
  const double *rate;
  cr_assert_eq(cj_net_mon_rate(net, 0, &rate), 3);           /* windows 0-2, 3-5, 6-8 */
  cr_assert_eq(cj_net_mon_every(net, 0), 3);
  const double want[3] = { 3, 3, 2 };          /* one spike per step at steps 0..7 */
  for (int k = 0; k < 3; k++) cr_assert(fabs(rate[k] - want[k] / (4 * 3e-4)) < 1e-9, "window %d: %g Hz", k, rate[k]);
  const int64_t *st; const double *v; int64_t cols;
  cr_assert_eq(cj_net_mon_state(net, 1, &st, &v, &cols), 2);  /* steps 0 and 5, before they run */
  cr_assert_eq(cols, 16);
  for (int s = 0; s < 16; s++) {
    cr_assert_eq(v[s], 10 * (s / 4) + s % 4);
    cr_assert_eq(v[16 + s], 10 * (s / 4) + s % 4 + 5);
  }
  cj_net_free(net);
}

/* ---- monitors streamed to .npy files ------------------------------------------ */

/* mkrich with its monitors streaming into dir (or in memory when dir is NULL) */
static cj_net *mkstream(const char *dir)
{
  return mkrichto(21, dir);
}

/* The files of a streaming network hold what the memory monitors hold. */
static void samefiles(cj_net *mem, const char *dir)
{
  for (int m = 0; m < 4; m++) {
    char path[200];
    cj_array a;
    snprintf(path, sizeof path, "%s/m%d.npy", dir, m);
    OK(cj_npy_load(path, &a));
    const double *x = a.data;
    const int64_t *st; const int32_t *id; const double *v; int64_t cols, n;
    switch (cj_net_mon_kind(mem, m)) {
    case CJ_MON_SPIKES:
      n = cj_net_mon_spikes(mem, m, &st, &id);
      cr_assert_eq(a.ndim, 2); cr_assert_eq(a.shape[0], n); cr_assert_eq(a.shape[1], 2);
      for (int64_t k = 0; k < n; k++) { cr_assert_eq(x[2 * k], st[k] * 1e-4); cr_assert_eq(x[2 * k + 1], id[k]); }
      break;
    case CJ_MON_STATE:
      n = cj_net_mon_state(mem, m, &st, &v, &cols);
      cr_assert_eq(a.shape[0], n); cr_assert_eq(a.shape[1], cols);
      cr_assert(memcmp(x, v, n * cols * 8) == 0);
      break;
    default:
      n = cj_net_mon_rate(mem, m, &v);
      cr_assert_eq(a.ndim, 1); cr_assert_eq(a.shape[0], n);
      cr_assert(memcmp(x, v, n * 8) == 0);
    }
    cj_array_release(&a);
  }
}

Test(monitors, streamed_files_equal_memory_monitors_and_survive_restore)
{
  char dir[] = "/tmp/cj_test_streamXXXXXX", path[200];
  cr_assert_not_null(mkdtemp(dir));
  cj_net *mem = mkstream(NULL), *fs = mkstream(dir);
  OK(cj_net_build(mem)); OK(cj_net_build(fs));
  cr_assert_str_eq(cj_net_mon_file(fs, 0) + strlen(dir), "/m0.npy");
  OK(cj_net_run(mem, 2500, NULL, NULL));
  OK(cj_net_run(fs, 2500, NULL, NULL));
  const int64_t *st; const int32_t *id;
  cr_assert_eq(cj_net_mon_spikes(fs, 0, &st, &id), 0);      /* all of it went to the file */
  samefiles(mem, dir);
  /* save at 2500, run on, restore and run on again: the files continue */
  snprintf(path, sizeof path, "%s/net.save", dir);
  OK(cj_net_save(fs, path));
  OK(cj_net_run(fs, 700, NULL, NULL));
  cj_net_free(fs);
  fs = mkstream(dir);
  OK(cj_net_restore(fs, path));
  OK(cj_net_run(fs, 1500, NULL, NULL));
  OK(cj_net_run(mem, 1500, NULL, NULL));
  cj_net_free(fs);
  samefiles(mem, dir);
  /* reset starts the files again */
  fs = mkstream(dir);
  OK(cj_net_build(fs));
  OK(cj_net_run(fs, 300, NULL, NULL));
  OK(cj_net_reset(fs));
  OK(cj_net_run(fs, 100, NULL, NULL));
  cj_net_free(fs);
  cj_net_free(mem);
  mem = mkstream(NULL);
  OK(cj_net_build(mem));
  OK(cj_net_run(mem, 100, NULL, NULL));
  samefiles(mem, dir);
  cj_net_free(mem);
  char cmd[120];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  (void)!system(cmd);
}

Test(monitors, unwritable_monitor_file_fails_the_build)
{
  cj_net *net = cj_net_new("x", 1e-4, 1);
  OK(addpop(net, "A", 10, 1, V1, 0, 0, 0, 0, 0));
  cj_mondef m = { .kind = CJ_MON_RATE, .pop = 0, .proj = -1, .lo = 0, .hi = 9, .file = "/nonexistent/dir/r.npy" };
  OK(cj_net_add_monitor(net, &m));
  cr_assert_eq(cj_net_build(net), CJ_EIO);
  cr_assert(strstr(cj_errmsg(), "monitor file: /nonexistent/dir/r.npy: No such file"), "%s", cj_errmsg());
  cj_net_free(net);
}
