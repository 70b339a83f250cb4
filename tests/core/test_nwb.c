/* test_nwb.c — nwb.c: the units table (spike trains grouped per neuron, time
 * order kept), time series, the file-level layout, and failures (a spike
 * outside its slice, a bad folder, a repeated name) that leave no file.
 * Read back with the HDF5 C API, independently of the writer's code. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nwb.h"

static char path[256];

static void setup(void)
{
  snprintf(path, sizeof path, "/tmp/cajal-test-nwb-%ld.nwb", (long)getpid());
  remove(path);
}

static void teardown(void)
{
  remove(path);
}

TestSuite(nwb, .init = setup, .fini = teardown);

static cj_nwb *create(void)
{
  cj_nwb_meta m = { .session_description = "test", .identifier = "id-1",
                    .session_start_time = "2020-01-01T00:00:00+00:00" };
  cj_nwb *f = cj_nwb_create(path, &m);
  cr_assert(f, "%s", cj_errmsg());
  return f;
}

static void readf64(hid_t file, const char *name, double *out, size_t n)
{
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  cr_assert_eq((size_t)H5Sget_simple_extent_npoints(s), n, "%s has %lld values", name,
               (long long)H5Sget_simple_extent_npoints(s));
  if (n) cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
  H5Sclose(s);
  H5Dclose(d);
}

static char *readtext(hid_t loc, const char *attr)
{
  hid_t a = H5Aopen(loc, attr, H5P_DEFAULT), t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
  char *v = NULL, *copy;
  H5Tset_size(mt, H5T_VARIABLE);
  H5Tset_cset(mt, H5T_CSET_UTF8);
  cr_assert(H5Tis_variable_str(t) > 0, "attribute %s is a variable-length string", attr);
  cr_assert(H5Aread(a, mt, &v) >= 0);
  copy = strdup(v);
  H5free_memory(v);
  H5Tclose(mt);
  H5Tclose(t);
  H5Aclose(a);
  return copy;
}

Test(nwb, units_group_spikes_per_neuron_in_time_order)
{
  /* population A, neurons 3..5; spikes in time order from several neurons */
  double ta[] = { 0.001, 0.002, 0.002, 0.004, 0.005, 0.007 };
  int32_t na[] = { 5, 3, 5, 3, 5, 5 };
  double tb[] = { 0.003 };
  int32_t nb[] = { 0 };
  cj_nwb_spikes g[2] = { { "A", 3, 3, 6, ta, na }, { "B", 0, 2, 1, tb, nb } };
  cj_nwb *f = create();
  double times[7], ends[5], neuron[5], obs[10];
  double want_t[] = { 0.002, 0.004, 0.001, 0.002, 0.005, 0.007, 0.003 };
  double want_e[] = { 2, 2, 6, 7, 7 }, want_n[] = { 3, 4, 5, 0, 1 };
  hid_t file;
  cr_assert_eq(cj_nwb_units(f, g, 2, 0.01, 1e-4), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_nwb_close(f), CJ_OK, "%s", cj_errmsg());
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(file >= 0);
  readf64(file, "units/spike_times", times, 7);
  readf64(file, "units/spike_times_index", ends, 5);
  readf64(file, "units/neuron", neuron, 5);
  readf64(file, "units/obs_intervals", obs, 10);
  for (int i = 0; i < 7; i++) cr_expect_eq(times[i], want_t[i], "spike %d: %g", i, times[i]);
  for (int i = 0; i < 5; i++) {
    cr_expect_eq(ends[i], want_e[i], "end of unit %d: %g", i, ends[i]);
    cr_expect_eq(neuron[i], want_n[i], "neuron of unit %d", i);
    cr_expect(obs[2 * i] == 0 && obs[2 * i + 1] == 0.01);
  }
  {
    char *t = readtext(file, "neurodata_type"), *v = readtext(file, "nwb_version");
    hid_t u = H5Gopen2(file, "units", H5P_DEFAULT);
    char *ut = readtext(u, "neurodata_type");
    cr_expect_str_eq(t, "NWBFile");
    cr_expect_str_eq(v, CJ_NWB_VERSION);
    cr_expect_str_eq(ut, "Units");
    free(t); free(v); free(ut);
    H5Gclose(u);
  }
  for (const char *const *n = (const char *const[]){ "acquisition", "analysis", "processing",
         "stimulus/presentation", "stimulus/templates", "general", "identifier",
         "session_description", "session_start_time", "timestamps_reference_time",
         "file_create_date", NULL }; *n; n++)
    cr_expect(H5Lexists(file, *n, H5P_DEFAULT) > 0 || strchr(*n, '/'), "/%s exists", *n);
  cr_expect(H5Lexists(file, "stimulus", H5P_DEFAULT) > 0);
  H5Fclose(file);
}

Test(nwb, timeseries_round_trip)
{
  double data[6] = { -0.07, -0.065, -0.06, -0.055, 1e-300, 3.5 }, ts[3] = { 0, 1e-4, 2e-4 };
  double back[6], tback[3];
  cj_nwb_series s = { "E_v", "v of E", NULL, "V", 2, 3, 2, CJ_F64, data, ts };
  cj_nwb *f = create();
  hid_t file, d;
  hsize_t dims[2];
  cr_assert_eq(cj_nwb_timeseries(f, &s), CJ_OK, "%s", cj_errmsg());
  cr_expect_eq(cj_nwb_timeseries(f, &s), CJ_EINVAL, "a second series of the same name");
  cr_assert_eq(cj_nwb_close(f), CJ_OK, "%s", cj_errmsg());
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  readf64(file, "acquisition/E_v/data", back, 6);
  readf64(file, "acquisition/E_v/timestamps", tback, 3);
  for (int i = 0; i < 6; i++) cr_expect_eq(back[i], data[i]);
  for (int i = 0; i < 3; i++) cr_expect_eq(tback[i], ts[i]);
  d = H5Dopen2(file, "acquisition/E_v/data", H5P_DEFAULT);
  {
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
  }
  cr_expect(dims[0] == 3 && dims[1] == 2, "time x columns");
  {
    char *u = readtext(d, "unit");
    cr_expect_str_eq(u, "V");
    free(u);
  }
  H5Dclose(d);
  H5Fclose(file);
}

Test(nwb, spike_outside_its_slice_fails_and_leaves_no_file)
{
  double t[] = { 0.001 };
  int32_t n[] = { 9 };
  cj_nwb_spikes g = { "A", 0, 4, 1, t, n };
  cj_nwb *f = create();
  char tmp[300];
  cr_assert_eq(cj_nwb_units(f, &g, 1, 0.01, 1e-4), CJ_EINVAL);
  cr_expect(strstr(cj_errmsg(), "outside 0..3") != NULL, "%s", cj_errmsg());
  cj_nwb_abort(f);
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  cr_expect(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "no file is left");
}

Test(nwb, missing_folder_is_an_error_naming_it)
{
  cj_nwb_meta m = { .session_description = "x" };
  cr_expect_null(cj_nwb_create("/nonexistent-cajal-dir/x.nwb", &m));
  cr_expect(strstr(cj_errmsg(), "/nonexistent-cajal-dir/x.nwb") != NULL, "%s", cj_errmsg());
}
