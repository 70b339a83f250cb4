/*
 * test_npy.c — .npy save/load and the streaming writer (vm/core/npy.h).
 * Foreign files (big-endian, Fortran order, versions 2.0 and 3.0) are
 * written byte by byte here, from the format's description, so the reader
 * is checked against an independent encoder. Interoperability with numpy
 * itself is tested from Lua (tests/lua/io.lua).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "testutil.h"


static void writefile(const char *path, const void *p, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

static size_t readfile(const char *path, char *buf, size_t cap)
{
  FILE *f = fopen(path, "rb");
  size_t n;
  cr_assert_not_null(f);
  n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* A v1.0 file with header dict text `dict` and raw data bytes. */
static size_t makefile(char *buf, int major, const char *dict, const void *data, size_t n)
{
  size_t pre = major == 1 ? 10 : 12, hl = strlen(dict);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (char)major;
  buf[7] = 0;
  buf[8] = (char)(hl & 0xff);
  buf[9] = (char)(hl >> 8);
  if (major > 1) { buf[10] = 0; buf[11] = 0; }
  memcpy(buf + pre, dict, hl);
  memcpy(buf + pre + hl, data, n);
  return pre + hl + n;
}

static cj_array loadok(const char *path)
{
  cj_array a;
  cr_assert_eq(cj_npy_load(path, &a), CJ_OK, "%s", cj_errmsg());
  return a;
}

static void loadfails(const char *path, const char *msg)
{
  cj_array a;
  int st = cj_npy_load(path, &a);
  cr_assert_neq(st, CJ_OK, "loading should fail with '%s'", msg);
  cr_assert_null(a.data);
  cr_assert(strstr(cj_errmsg(), msg), "message '%s' lacks '%s'", cj_errmsg(), msg);
  cr_assert(strstr(cj_errmsg(), path) == cj_errmsg(), "message names the file: %s", cj_errmsg());
}

TestSuite(npy, .init = scratch_setup, .fini = scratch_teardown);

Test(npy, header_is_numpy_v1_aligned_to_64_bytes)
{
  cj_array a;
  int64_t shape[2] = {3, 4};
  char buf[4096];
  size_t n;
  cr_assert_eq(cj_array_alloc(&a, CJ_F32, 2, shape), CJ_OK);
  cr_assert_eq(cj_npy_save(scratch_path("h.npy"), &a), CJ_OK);
  n = readfile(scratch_path("h.npy"), buf, sizeof buf);
  cr_assert_eq(n, 128 + 12 * 4);
  cr_assert_eq(memcmp(buf, "\x93NUMPY\x01\x00\x76\x00", 10), 0);
  cr_assert_eq(memcmp(buf + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   ", 62), 0);
  cr_assert_eq(buf[127], '\n');
  cr_assert_eq(buf[126], ' ');
  cj_array_release(&a);
}

Test(npy, roundtrip_every_dtype_and_shape)
{
  static const int64_t shapes[][3] = { {0}, {1}, {7}, {3, 5}, {2, 3, 4}, {0, 3}, {4, 0} };
  static const int ndims[] = { 0, 1, 1, 2, 3, 2, 2 };
  for (int t = 0; t < CJ_NDTYPES; t++)
    for (size_t s = 0; s < sizeof ndims / sizeof *ndims; s++) {
      cj_array a, b;
      int64_t n;
      cr_assert_eq(cj_array_alloc(&a, (cj_dtype)t, ndims[s], shapes[s]), CJ_OK);
      n = cj_array_numel(&a);
      for (int64_t k = 0; k < n; k++) cj_array_setflat(&a, k, (double)(k * 37 % 251) - (t == CJ_U8 ? 0 : 100.25 * (t < 2)));
      cr_assert_eq(cj_npy_save(scratch_path("r.npy"), &a), CJ_OK, "%s", cj_errmsg());
      b = loadok(scratch_path("r.npy"));
      cr_assert_eq(b.dtype, a.dtype);
      cr_assert_eq(b.ndim, a.ndim);
      for (int d = 0; d < a.ndim; d++) cr_assert_eq(b.shape[d], a.shape[d]);
      cr_assert_eq(memcmp(a.data, b.data, (size_t)n * cj_dtype_size(a.dtype)), 0,
                   "dtype %s ndim %d", cj_dtype_name(a.dtype), a.ndim);
      cj_array_release(&a);
      cj_array_release(&b);
    }
}

Test(npy, strided_views_are_written_in_c_order)
{
  cj_array a, v, w, b;
  int64_t shape[2] = {4, 6};
  cr_assert_eq(cj_array_alloc(&a, CJ_F64, 2, shape), CJ_OK);
  for (int k = 0; k < 24; k++) cj_array_setflat(&a, k, k + 0.5);
  /* transpose: element (i, j) of the view is a[j][i] */
  cr_assert_eq(cj_array_transpose(&v, &a, 0, 1), CJ_OK);
  cr_assert_eq(cj_npy_save(scratch_path("t.npy"), &v), CJ_OK);
  b = loadok(scratch_path("t.npy"));
  cr_assert_eq(b.shape[0], 6);
  cr_assert_eq(b.shape[1], 4);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 4; j++)
      cr_assert_eq(((double *)b.data)[i * 4 + j], j * 6 + i + 0.5);
  cj_array_release(&b);
  /* every other column, reversed rows */
  cr_assert_eq(cj_array_slice(&v, &a, 1, 1, 3, 2), CJ_OK);
  cr_assert_eq(cj_array_slice(&w, &v, 0, 3, 4, -1), CJ_OK);
  cr_assert_eq(cj_npy_save(scratch_path("s.npy"), &w), CJ_OK);
  b = loadok(scratch_path("s.npy"));
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      cr_assert_eq(((double *)b.data)[i * 3 + j], (3 - i) * 6 + (1 + 2 * j) + 0.5);
  cj_array_release(&b);
  cj_array_release(&a);
}

Test(npy, large_strided_int_array_crosses_chunks)
{
  cj_array a, v, b;
  int64_t shape[1] = {300001};
  cr_assert_eq(cj_array_alloc(&a, CJ_I32, 1, shape), CJ_OK);
  for (int64_t k = 0; k < shape[0]; k++) ((int32_t *)a.data)[k] = (int32_t)(k * 7 - 1000000);
  cr_assert_eq(cj_array_slice(&v, &a, 0, 0, 100001, 3), CJ_OK);
  cr_assert_eq(cj_npy_save(scratch_path("big.npy"), &v), CJ_OK);
  b = loadok(scratch_path("big.npy"));
  cr_assert_eq(b.shape[0], 100001);
  for (int64_t k = 0; k < 100001; k++) cr_assert_eq(((int32_t *)b.data)[k], (int32_t)(3 * k * 7 - 1000000));
  cj_array_release(&b);
  cj_array_release(&a);
}

Test(npy, reads_big_endian_fortran_and_later_versions)
{
  char buf[512];
  size_t n;
  cj_array a;
  /* '>f8' 1.5 and -2 */
  const unsigned char be[16] = { 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0 };
  n = makefile(buf, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }\n", be, 16);
  writefile(scratch_path("be.npy"), buf, n);
  a = loadok(scratch_path("be.npy"));
  cr_assert_eq(((double *)a.data)[0], 1.5);
  cr_assert_eq(((double *)a.data)[1], -2.0);
  cj_array_release(&a);
  /* '>i4' 2x3 in Fortran order: columns (1,4) (2,5) (3,6) */
  unsigned char fi[24] = {0};
  const int col[6] = { 1, 4, 2, 5, 3, 6 };
  for (int k = 0; k < 6; k++) fi[4 * k + 3] = (unsigned char)col[k];
  n = makefile(buf, 1, "{\"descr\":\">i4\",\"fortran_order\":True,\"shape\":(2,3)}", fi, 24);
  writefile(scratch_path("fo.npy"), buf, n);
  a = loadok(scratch_path("fo.npy"));
  cr_assert_eq(a.dtype, CJ_I32);
  for (int k = 0; k < 6; k++) cr_assert_eq(((int32_t *)a.data)[k], k + 1);
  cj_array_release(&a);
  /* versions 2.0 and 3.0: 4-byte header length; keys in another order, Python 2 longs */
  const unsigned char u8[3] = { 7, 8, 255 };
  n = makefile(buf, 2, "{'shape': (3L,), 'fortran_order': False, 'descr': '|u1'}", u8, 3);
  writefile(scratch_path("v2.npy"), buf, n);
  a = loadok(scratch_path("v2.npy"));
  cr_assert_eq(a.dtype, CJ_U8);
  cr_assert_eq(((uint8_t *)a.data)[2], 255);
  cj_array_release(&a);
  const float f4[2] = { 0.25f, -3.0f };
  n = makefile(buf, 3, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", f4, 8);
  writefile(scratch_path("v3.npy"), buf, n);
  a = loadok(scratch_path("v3.npy"));
  cr_assert_eq(((float *)a.data)[1], -3.0f);
  cj_array_release(&a);
  /* a 0-d array */
  const double one = 42;
  n = makefile(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &one, 8);
  writefile(scratch_path("s0.npy"), buf, n);
  a = loadok(scratch_path("s0.npy"));
  cr_assert_eq(a.ndim, 0);
  cr_assert_eq(*(double *)a.data, 42);
  cj_array_release(&a);
}

Test(npy, malformed_files_are_named_errors)
{
  static const struct { const char *dict; size_t data; const char *msg; } cases[] = {
    { "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype '<i8'" },
    { "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", 2, "unsupported dtype '|i1'" },
    { "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 16, "structured dtypes" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 16, "truncated data: shape 3 of float64 needs 24 bytes, the file holds 16" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 16, "8 bytes after the data" },
    { "{'descr': '<f8', 'fortran_order': False, }", 8, "no 'shape' key" },
    { "{'descr': '<f8', 'fortran_order': maybe, 'shape': (1,), }", 8, "True or False" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", 8, "unexpected key 'x'" },
    { "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", 8, "repeated" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 8, "non-negative integers" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 8, "too many dimensions" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8, "too large" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8, "shape too large" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,) } junk", 8, "unexpected text" },
    { "['descr']", 8, "expected '{'" },
  };
  char buf[512];
  const double zeros[2] = {0, 0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = makefile(buf, 1, cases[i].dict, zeros, cases[i].data);
    writefile(scratch_path("bad.npy"), buf, n);
    loadfails(scratch_path("bad.npy"), cases[i].msg);
  }
  writefile(scratch_path("bad.npy"), "PK\x03\x04 a zip", 10);
  loadfails(scratch_path("bad.npy"), "not a .npy file (bad magic string)");
  writefile(scratch_path("bad.npy"), "\x93NUMPY\x04\x00\x10\x00", 10);
  loadfails(scratch_path("bad.npy"), "unsupported .npy format version 4.0");
  writefile(scratch_path("bad.npy"), "", 0);
  loadfails(scratch_path("bad.npy"), "truncated .npy header (0 bytes)");
  writefile(scratch_path("bad.npy"), "\x93NUMPY\x01\x00\x40\x00{'descr'", 17);
  loadfails(scratch_path("bad.npy"), "truncated .npy header");
  loadfails(scratch_path("missing.npy"), "No such file or directory");
  loadfails(scratch_dir, "");   /* a directory: a read error, not a crash */
}

/* Every truncation and many random byte flips of valid files: the loader
 * returns CJ_OK or a named error, never crashes (run under ASan / valgrind
 * too), and never returns success with a wrong data size. */
Test(npy, fuzz_truncations_and_byte_flips)
{
  static char good[2][1024], buf[1024];
  size_t len[2];
  cj_array a;
  int64_t shape[2] = {3, 5};
  unsigned seed = 12345;
  cr_assert_eq(cj_array_alloc(&a, CJ_F64, 2, shape), CJ_OK);
  for (int k = 0; k < 15; k++) ((double *)a.data)[k] = k * 1.25;
  cr_assert_eq(cj_npy_save(scratch_path("g.npy"), &a), CJ_OK);
  cj_array_release(&a);
  len[0] = readfile(scratch_path("g.npy"), good[0], sizeof good[0]);
  len[1] = makefile(good[1], 2, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }",
                    "\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4", 16);
  for (int g = 0; g < 2; g++) {
    for (size_t cut = 0; cut < len[g]; cut++) {
      writefile(scratch_path("f.npy"), good[g], cut);
      cr_assert_neq(cj_npy_load(scratch_path("f.npy"), &a), CJ_OK, "cut at %zu loaded", cut);
      cr_assert(strstr(cj_errmsg(), "f.npy: "), "%s", cj_errmsg());
    }
    for (int trial = 0; trial < 3000; trial++) {
      size_t hl = len[g] - (g ? 16 : 120);   /* flip within the header mostly */
      memcpy(buf, good[g], len[g]);
      for (int k = 0; k < 1 + trial % 3; k++) {
        seed = seed * 1103515245u + 12345u;
        size_t pos = (seed >> 8) % (hl + 4);
        seed = seed * 1103515245u + 12345u;
        buf[pos] = trial % 5 == 0 ? "0123456789(),:'{} <>|Ffiu"[(seed >> 8) % 25] : (char)(seed >> 16);
      }
      writefile(scratch_path("f.npy"), buf, len[g]);
      int st = cj_npy_load(scratch_path("f.npy"), &a);
      if (st == CJ_OK) {
        cr_assert_eq((int64_t)cj_array_numel(&a) * (int64_t)cj_dtype_size(a.dtype) + 0 <= (int64_t)len[g], 1);
        cj_array_release(&a);
      } else {
        cr_assert_null(a.data);
        cr_assert(strstr(cj_errmsg(), "f.npy: "), "%s", cj_errmsg());
      }
    }
  }
}

Test(npy, parseheader_on_memory_buffers)
{
  cj_npyinfo info;
  char buf[256];
  size_t n = makefile(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "", 0);
  cr_assert_eq(cj_npy_parseheader(buf, n, "mem", &info), CJ_OK);
  cr_assert_eq(info.dtype, CJ_F32);
  cr_assert_eq(info.fortran, 1);
  cr_assert_eq(info.ndim, 2);
  cr_assert_eq(info.shape[1], 3);
  cr_assert_eq(info.offset, (int64_t)n);
  cr_assert_eq(info.major, 1);
  for (size_t k = 0; k < n; k++) {
    cr_assert_eq(cj_npy_parseheader(buf, k, "mem", &info), CJ_EFORMAT);
    cr_assert(strstr(cj_errmsg(), "mem: truncated .npy header"), "%zu: %s", k, cj_errmsg());
  }
}

Test(npy, streaming_writer_grows_and_flushes)
{
  cj_npy_writer *w;
  int64_t row[1] = {3};
  double rows[6] = {1, 2, 3, 4, 5, 6};
  cj_array a, src;
  int64_t s1[1] = {3}, s2[2] = {2, 3};
  cr_assert_eq(cj_npy_writer_open(&w, scratch_path("w.npy"), CJ_F64, 1, row), CJ_OK);
  cr_assert_eq(cj_npy_writer_rowsize(w), 3);
  a = loadok(scratch_path("w.npy"));              /* a valid empty file from the start */
  cr_assert_eq(a.ndim, 2);
  cr_assert_eq(a.shape[0], 0);
  cj_array_release(&a);
  cr_assert_eq(cj_npy_writer_append(w, rows, 2), CJ_OK);
  cr_assert_eq(cj_npy_writer_flush(w), CJ_OK);
  a = loadok(scratch_path("w.npy"));
  cr_assert_eq(a.shape[0], 2);
  cr_assert_eq(((double *)a.data)[5], 6);
  cj_array_release(&a);
  /* one row of int32 (converted), then a transposed 2x3 view of uint8 */
  int32_t ir[3] = {-7, 8, 9};
  cr_assert_eq(cj_array_wrap(&src, ir, CJ_I32, 1, s1), CJ_OK);
  cr_assert_eq(cj_npy_writer_append_array(w, &src), CJ_OK);
  uint8_t ub[6] = {10, 11, 12, 13, 14, 15};
  int64_t s32[2] = {3, 2};
  cj_array u, ut;
  cr_assert_eq(cj_array_wrap(&u, ub, CJ_U8, 2, s32), CJ_OK);
  cr_assert_eq(cj_array_transpose(&ut, &u, 0, 1), CJ_OK);   /* 2x3: rows (10,12,14) (11,13,15) */
  cr_assert_eq(cj_npy_writer_append_array(w, &ut), CJ_OK);
  /* wrong shapes are refused and change nothing */
  cr_assert_eq(cj_array_wrap(&src, rows, CJ_F64, 2, s2), CJ_OK);
  src.shape[1] = 2;
  cr_assert_eq(cj_npy_writer_append_array(w, &src), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "rows of shape 3 expected, got an array of shape 2x2"), "%s", cj_errmsg());
  cr_assert_eq(cj_npy_writer_rows(w), 5);
  cr_assert_eq(cj_npy_writer_close(w), CJ_OK);
  a = loadok(scratch_path("w.npy"));
  cr_assert_eq(a.shape[0], 5);
  cr_assert_eq(a.shape[1], 3);
  const double want[15] = {1, 2, 3, 4, 5, 6, -7, 8, 9, 10, 12, 14, 11, 13, 15};
  for (int k = 0; k < 15; k++) cr_assert_eq(((double *)a.data)[k], want[k]);
  cj_array_release(&a);
}

Test(npy, streaming_writer_of_scalars_many_rows)
{
  cj_npy_writer *w;
  cj_array a;
  int64_t n = 0;
  cr_assert_eq(cj_npy_writer_open(&w, scratch_path("s.npy"), CJ_F32, 0, NULL), CJ_OK);
  for (int chunk = 0; chunk < 100; chunk++) {
    float v[1000];
    for (int k = 0; k < 1000; k++) v[k] = (float)(n + k);
    cr_assert_eq(cj_npy_writer_append(w, v, 1000), CJ_OK);
    n += 1000;
  }
  cr_assert_eq(cj_npy_writer_close(w), CJ_OK);
  a = loadok(scratch_path("s.npy"));
  cr_assert_eq(a.ndim, 1);
  cr_assert_eq(a.shape[0], 100000);
  for (int64_t k = 0; k < n; k++) cr_assert_eq(((float *)a.data)[k], (float)k);
  cj_array_release(&a);
}

Test(npy, write_failures_are_reported)
{
  cj_array a;
  int64_t shape[1] = {100000};
  cj_npy_writer *w;
  cr_assert_eq(cj_array_alloc(&a, CJ_F64, 1, shape), CJ_OK);
  cr_assert_eq(cj_npy_save("/nonexistent-dir/x.npy", &a), CJ_EIO);
  cr_assert(strstr(cj_errmsg(), "/nonexistent-dir/x.npy: No such file or directory"), "%s", cj_errmsg());
  if (access("/dev/full", W_OK) == 0) {
    cr_assert_eq(cj_npy_save("/dev/full", &a), CJ_EIO);
    cr_assert(strstr(cj_errmsg(), "/dev/full: write error: No space left on device"), "%s", cj_errmsg());
    cr_assert_eq(access("/dev/full", W_OK), 0, "a device is never removed");
    int64_t row[1] = {2};
    int st = cj_npy_writer_open(&w, "/dev/full", CJ_F64, 1, row);
    if (st == CJ_OK) {
      cr_assert_eq(cj_npy_writer_append(w, a.data, 50000), CJ_EIO);
      cr_assert_eq(cj_npy_writer_rows(w), 0);
      cr_assert_eq(cj_npy_writer_close(w), CJ_EIO);
    } else {
      cr_assert_eq(st, CJ_EIO);
    }
  }
  cj_array_release(&a);
}

/* A file a model names (`record ... to`) is untrusted (issue 13, item 8):
 * only a .npy name, and an existing file only if it holds float64 rows as
 * monitors write them; everything else is refused and left as it was. */
Test(npy, writer_open_own_replaces_only_float64_npy_files)
{
  cj_npy_writer *w;
  int64_t row[1] = { 2 };
  char buf[64];
  double x[2] = { 1, 2 };
  /* the suffix */
  cr_assert_eq(cj_npy_writer_open_own(&w, scratch_path("a.txt"), CJ_F64, 1, row), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "must end in .npy"), "%s", cj_errmsg());
  cr_assert_neq(access(scratch_path("a.txt"), F_OK), 0, "a refused file must not be created");
  /* a file that is not a .npy, named .npy */
  writefile(scratch_path("notes.npy"), "precious notes\n", 15);
  cr_assert_eq(cj_npy_writer_open_own(&w, scratch_path("notes.npy"), CJ_F64, 1, row), CJ_EIO);
  cr_assert(strstr(cj_errmsg(), "refusing to overwrite"), "%s", cj_errmsg());
  cr_assert_eq(readfile(scratch_path("notes.npy"), buf, sizeof buf), 15);
  cr_assert(memcmp(buf, "precious notes\n", 15) == 0);
  /* a .npy of another dtype (the user's own data) */
  int32_t iv[3] = { 1, 2, 3 };
  cj_array ia;
  int64_t ishape[1] = { 3 };
  cr_assert_eq(cj_array_wrap(&ia, iv, CJ_I32, 1, ishape), CJ_OK);
  cr_assert_eq(cj_npy_save(scratch_path("ints.npy"), &ia), CJ_OK);
  cr_assert_eq(cj_npy_writer_open_own(&w, scratch_path("ints.npy"), CJ_F64, 1, row), CJ_EIO);
  cj_array back = loadok(scratch_path("ints.npy"));
  cr_assert_eq(back.dtype, CJ_I32);
  cj_array_release(&back);
  /* a directory, a FIFO (refused at once, not waiting for a reader) */
  cr_assert_eq(mkdir(scratch_path("d.npy"), 0700), 0);
  cr_assert_neq(cj_npy_writer_open_own(&w, scratch_path("d.npy"), CJ_F64, 1, row), CJ_OK);
  cr_assert_eq(mkfifo(scratch_path("f.npy"), 0600), 0);
  cr_assert_eq(cj_npy_writer_open_own(&w, scratch_path("f.npy"), CJ_F64, 1, row), CJ_EIO);
  cr_assert(strstr(cj_errmsg(), "not a regular file"), "%s", cj_errmsg());
  /* a new file, then the same file again: a recording replaces a recording */
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(cj_npy_writer_open_own(&w, scratch_path("rec.npy"), CJ_F64, 1, row), CJ_OK, "%s", cj_errmsg());
    cr_assert_eq(cj_npy_writer_append(w, x, 1), CJ_OK);
    cr_assert_eq(cj_npy_writer_close(w), CJ_OK);
  }
  back = loadok(scratch_path("rec.npy"));
  cr_assert(back.ndim == 2 && back.shape[0] == 1 && back.shape[1] == 2);
  cj_array_release(&back);
}
