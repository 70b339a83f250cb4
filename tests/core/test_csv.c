/*
 * test_csv.c — CSV reading and writing (vm/core/csv.h).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "testutil.h"

static cj_csv *parse(const char *text, const cj_csvopts *o)
{
  cj_csv *t;
  cr_assert_eq(cj_csv_parse(text, strlen(text), "mem.csv", o, &t), CJ_OK, "%s", cj_errmsg());
  return t;
}

static void fails(const char *text, const cj_csvopts *o, const char *msg)
{
  cj_csv *t = (cj_csv *)1;
  int st = cj_csv_parse(text, strlen(text), "mem.csv", o, &t);
  cr_assert_eq(st, CJ_EFORMAT, "'%s' should fail with '%s' (status %d)", text, msg, st);
  cr_assert_null(t);
  cr_assert_str_eq(cj_errmsg(), msg);
}

static const char *field(const cj_csvcol *c, int64_t i)
{
  return c->text + c->offsets[i];
}

Test(csv, numeric_and_text_columns)
{
  cj_csv *t = parse("t,name,v\n0.5,alpha,1\n1e-3,\"b, c\",\n-2,\"say \"\"hi\"\"\", nan \n", NULL);
  cr_assert_eq(t->ncols, 3);
  cr_assert_eq(t->nrows, 3);
  cr_assert_str_eq(t->cols[0].name, "t");
  cr_assert(t->cols[0].numeric);
  cr_assert_eq(t->cols[0].values[1], 1e-3);
  cr_assert_eq(t->cols[0].values[2], -2);
  cr_assert(!t->cols[1].numeric);
  cr_assert_str_eq(field(&t->cols[1], 0), "alpha");
  cr_assert_str_eq(field(&t->cols[1], 1), "b, c");
  cr_assert_str_eq(field(&t->cols[1], 2), "say \"hi\"");
  cr_assert(t->cols[2].numeric);
  cr_assert_eq(t->cols[2].values[0], 1);
  cr_assert(isnan(t->cols[2].values[1]), "an empty field is NaN");
  cr_assert(isnan(t->cols[2].values[2]));
  cj_csv_free(t);
}

Test(csv, crlf_bom_blank_lines_quoted_newlines)
{
  cj_csv *t = parse("\xef\xbb\xbf" "a,b\r\n\r\n1,\"x\r\ny\"\r\n\n2,\"\"\r\n", NULL);
  cr_assert_eq(t->nrows, 2);
  cr_assert_str_eq(t->cols[0].name, "a", "the byte order mark is not part of the name");
  cr_assert_str_eq(field(&t->cols[1], 0), "x\r\ny");
  cr_assert_str_eq(field(&t->cols[1], 1), "");
  cr_assert(!t->cols[1].numeric);
  cr_assert_eq(t->cols[0].values[1], 2);
  cj_csv_free(t);
  t = parse("a,b\n1,2", NULL);   /* no final newline */
  cr_assert_eq(t->nrows, 1);
  cr_assert_eq(t->cols[1].values[0], 2);
  cj_csv_free(t);
}

Test(csv, options_separator_comment_no_header_numeric)
{
  cj_csvopts o;
  cj_csv *t;
  cj_csv_defaults(&o);
  o.sep = ';';
  o.comment = '#';
  t = parse("# produced by a tool\nx;y\n1,5;2\n# mid comment\n3;4\n", &o);
  cr_assert_eq(t->nrows, 2);
  cr_assert(!t->cols[0].numeric, "1,5 is not a number with '.' decimals");
  cr_assert_eq(t->cols[1].values[1], 4);
  cj_csv_free(t);
  cj_csv_defaults(&o);
  o.header = 0;
  o.sep = '\t';
  t = parse("1\t2\n3\t4\n", &o);
  cr_assert_eq(t->nrows, 2);
  cr_assert_null(t->cols[0].name);
  cr_assert_eq(t->cols[0].values[0], 1);
  cr_assert_eq(t->cols[1].values[1], 4);
  cj_csv_free(t);
  cj_csv_defaults(&o);
  o.numeric = 1;
  fails("a,b\n1,2\n3,x4\n", &o, "mem.csv:3:3: column 'b': expected a number, got 'x4'");
  t = parse("a\n1\n\n", &o);
  cr_assert_eq(t->nrows, 1);
  cj_csv_free(t);
}

Test(csv, errors_name_line_and_column)
{
  fails("a,b\n1,2\n3,4,5\n", NULL, "mem.csv:3:5: expected 2 fields, found 3");
  fails("a,b,c\n1,2\n", NULL, "mem.csv:2:4: expected 3 fields, found 2");
  fails("a,b\n1,\"open\n\n", NULL, "mem.csv:2:3: unterminated quoted field");
  fails("a,b\n\"x\n y\"z,1\n", NULL, "mem.csv:3:4: unexpected character after a closing quote");
  fails("a,b,a\n", NULL, "mem.csv:1:5: duplicate column name 'a'");
  fails("", NULL, "mem.csv: no header row (the file is empty)");
  fails("\n\n", NULL, "mem.csv: no header row (the file is empty)");
}

Test(csv, header_only_and_headerless_empty)
{
  cj_csvopts o;
  cj_csv *t = parse("a,b\n", NULL);
  cr_assert_eq(t->ncols, 2);
  cr_assert_eq(t->nrows, 0);
  cj_csv_free(t);
  cj_csv_defaults(&o);
  o.header = 0;
  t = parse("", &o);
  cr_assert_eq(t->ncols, 0);
  cj_csv_free(t);
}


Test(csv, write_then_read_is_exact, .init = scratch_setup, .fini = scratch_teardown)
{
  enum { N = 2000 };
  double *d = malloc(N * sizeof *d);
  float *f = malloc(N * sizeof *f);
  int32_t *k = malloc(N * sizeof *k);
  const char **s = malloc(N * sizeof *s);
  static const char *words[] = { "plain", "with,comma", "with \"quotes\"", "two\nlines",
                                 " padded ", "", "crlf\r\nend", "ünïcödé" };
  cj_array ad, af, ak, ev;
  int64_t n[1] = {N};
  cj_csv *t;
  unsigned seed = 99;
  for (int i = 0; i < N; i++) {
    seed = seed * 1664525u + 1013904223u;
    d[i] = ldexp((double)seed / 4294967296.0 - 0.5, (int)(seed % 200) - 100);
    f[i] = (float)d[i] * 3.0f;
    k[i] = (int32_t)seed;
    s[i] = words[seed % 8];
  }
  d[3] = NAN;
  d[4] = INFINITY;
  d[5] = -INFINITY;
  d[6] = 0.1;
  cj_array_wrap(&ad, d, CJ_F64, 1, n);
  cj_array_wrap(&af, f, CJ_F32, 1, n);
  cj_array_wrap(&ak, k, CJ_I32, 1, n);
  /* a strided column: every other double of d, reversed */
  int64_t half[1] = {N / 2};
  cj_array_wrap(&ev, d, CJ_F64, 1, half);
  ev.strides[0] = -2;
  ev.data = d + N - 2;
  cj_csvout cols[5] = {
    {"d", &ad, NULL, NULL}, {"f, single", &af, NULL, NULL}, {"k", &ak, NULL, NULL},
    {"s", NULL, s, NULL}, {"e", NULL, NULL, NULL},
  };
  cr_assert_eq(cj_csv_write(scratch_path("w.csv"), 4, cols, N, ','), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_csv_read(scratch_path("w.csv"), NULL, &t), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(t->ncols, 4);
  cr_assert_eq(t->nrows, N);
  cr_assert_str_eq(t->cols[1].name, "f, single");
  for (int i = 0; i < N; i++) {
    if (isnan(d[i])) cr_assert(isnan(t->cols[0].values[i]));
    else cr_assert_eq(t->cols[0].values[i], d[i], "row %d: %.17g vs %.17g", i, t->cols[0].values[i], d[i]);
    cr_assert_eq((float)t->cols[1].values[i], f[i]);
    cr_assert_eq(t->cols[2].values[i], k[i]);
    cr_assert_str_eq(field(&t->cols[3], i), s[i]);
  }
  cj_csv_free(t);
  /* shortest digits: 0.1 is written as 0.1 */
  FILE *fp = fopen(scratch_path("w.csv"), "rb");
  char buf[4096];
  size_t got = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[got] = '\0';
  cr_assert(strstr(buf, "\n0.1,"), "0.1 keeps its short form");
  /* strided column; a text column without strings is refused */
  cols[0].num = &ev;
  cr_assert_eq(cj_csv_write(scratch_path("e.csv"), 1, cols, N / 2, ','), CJ_OK);
  cr_assert_eq(cj_csv_read(scratch_path("e.csv"), NULL, &t), CJ_OK);
  for (int i = 0; i < N / 2; i++)
    if (!isnan(d[N - 2 - 2 * i])) cr_assert_eq(t->cols[0].values[i], d[N - 2 - 2 * i]);
  cj_csv_free(t);
  cr_assert_eq(cj_csv_write(scratch_path("x.csv"), 5, cols, N / 2, ','), CJ_EINVAL);
  cr_assert_eq(cj_csv_write("/nonexistent/x.csv", 1, cols, N / 2, ','), CJ_EIO);
  cr_assert(strstr(cj_errmsg(), "/nonexistent/x.csv: No such file or directory"), "%s", cj_errmsg());
  if (access("/dev/full", W_OK) == 0) {
    cr_assert_eq(cj_csv_write("/dev/full", 1, cols, N / 2, ','), CJ_EIO);
    cr_assert(strstr(cj_errmsg(), "No space left on device"), "%s", cj_errmsg());
    cr_assert_eq(access("/dev/full", W_OK), 0);
  }
  free(d); free(f); free(k); free(s);
}

Test(csv, fuzz_truncations_and_byte_flips)
{
  const char *good = "t,\"na,me\",v\r\n0.5,\"a\"\"b\",1\n\n1e-3,\"x\ny\",\n-2,z,nan\n";
  size_t len = strlen(good);
  char buf[256];
  unsigned seed = 7;
  for (size_t cut = 0; cut <= len; cut++) {
    cj_csv *t;
    int st = cj_csv_parse(good, cut, "f.csv", NULL, &t);
    cr_assert(st == CJ_OK || st == CJ_EFORMAT, "cut %zu: status %d", cut, st);
    if (st == CJ_OK) cj_csv_free(t);
    else cr_assert(strncmp(cj_errmsg(), "f.csv:", 6) == 0, "%s", cj_errmsg());
  }
  for (int trial = 0; trial < 20000; trial++) {
    cj_csv *t;
    int st;
    memcpy(buf, good, len);
    for (int k = 0; k < 1 + trial % 4; k++) {
      seed = seed * 1103515245u + 12345u;
      buf[(seed >> 8) % len] = ",\"\n\r x1."[(seed >> 20) % 8];
    }
    st = cj_csv_parse(buf, len, "f.csv", NULL, &t);
    cr_assert(st == CJ_OK || st == CJ_EFORMAT, "trial %d: status %d", trial, st);
    if (st == CJ_OK) {
      for (int j = 0; j < t->ncols; j++)
        if (!t->cols[j].numeric) cr_assert_eq(t->cols[j].offsets[0], 0);
      cj_csv_free(t);
    }
  }
}


Test(csv, allocation_failures_are_reported_and_leak_nothing)
{
  const char *text = "a,b,c\n1,x,3\n4,y,6\n";
  int ok = 0;
  for (long n = 0; n < 60 && !ok; n++) {
    cj_csv *t;
    int st;
    failing_budget = n;
    failing_live = 0;
    cj_set_allocator(failing_alloc, NULL);
    st = cj_csv_parse(text, strlen(text), "m.csv", NULL, &t);
    if (st == CJ_OK) { ok = 1; cj_csv_free(t); }
    else cr_assert_eq(st, CJ_ENOMEM, "n=%ld: %s", n, cj_errmsg());
    cj_set_allocator(NULL, NULL);
    cr_assert_eq(failing_live, 0, "n=%ld: %ld blocks leaked", n, failing_live);
  }
  cr_assert(ok);
}
