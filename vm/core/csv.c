/*
 * csv.c — CSV tables (see csv.h for the accepted syntax).
 *
 * Reading makes two passes over the text held in memory: the first finds
 * the shape and which columns are numeric, the second fills the columns —
 * so a numeric column costs 8 bytes per row and nothing is re-allocated
 * when a column turns out to hold text only at its last row.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"

#define MAXCOLS (1 << 20)

void cj_csv_defaults(cj_csvopts *o)
{
  o->sep = ',';
  o->comment = '\0';
  o->header = 1;
  o->numeric = 0;
}

/* ---- the lexer ------------------------------------------------------------ */

typedef struct field {
  const char *p;
  size_t n;          /* raw length, quotes excluded */
  int esc;           /* holds doubled quotes to collapse */
  int64_t line, col;
} field;

typedef struct lexer {
  const char *p, *end, *bol;
  const char *what;
  int64_t line;
  int64_t eline, ecol;   /* where the current record ended */
  char sep, comment;
  field *f;          /* fields of the current record */
  int nf, cap;
} lexer;

static int lexfail(lexer *lx, int64_t line, int64_t col, const char *msg)
{
  return cj_fail(CJ_EFORMAT, "%s:%lld:%lld: %s", lx->what, (long long)line, (long long)col, msg);
}

static void newline(lexer *lx)
{
  lx->line++;
  lx->bol = lx->p;
}

/* At the end of a record: "\n", "\r\n" or the end of the text. */
static int atend(const lexer *lx, const char *p)
{
  return p >= lx->end || *p == '\n' || (*p == '\r' && p + 1 < lx->end && p[1] == '\n');
}

static void skipnewline(lexer *lx)
{
  if (lx->p < lx->end && *lx->p == '\r') lx->p++;
  if (lx->p < lx->end && *lx->p == '\n') { lx->p++; newline(lx); }
}

/* Skip blank and comment lines; 0 at the end of the text. */
static int skipblank(lexer *lx)
{
  while (lx->p < lx->end) {
    if (atend(lx, lx->p)) { skipnewline(lx); continue; }
    if (lx->comment && *lx->p == lx->comment) {
      const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
      lx->p = nl ? nl : lx->end;
      skipnewline(lx);
      continue;
    }
    return 1;
  }
  return 0;
}

static int quotedfield(lexer *lx, field *f)
{
  const char *p = ++lx->p;
  f->p = p;
  for (;;) {
    const char *q = memchr(p, '"', (size_t)(lx->end - p));
    const char *nl;
    while ((nl = memchr(p, '\n', (size_t)((q ? q : lx->end) - p)))) {
      p = nl + 1;
      lx->p = p;
      newline(lx);
    }
    if (!q) return lexfail(lx, f->line, f->col, "unterminated quoted field");
    if (q + 1 < lx->end && q[1] == '"') { f->esc = 1; p = q + 2; continue; }
    f->n = (size_t)(q - f->p);
    lx->p = q + 1;
    break;
  }
  if (!atend(lx, lx->p) && *lx->p != lx->sep)
    return lexfail(lx, lx->line, lx->p - lx->bol + 1,
                   "unexpected character after a closing quote");
  return CJ_OK;
}

/* Read one record into lx->f; *got is 0 at the end of the text. */
static int record(lexer *lx, int *got)
{
  *got = 0;
  lx->nf = 0;
  if (!skipblank(lx)) return CJ_OK;
  for (;;) {
    field f = { NULL, 0, 0, lx->line, lx->p - lx->bol + 1 };
    int st;
    if (lx->nf == lx->cap) {
      int cap = lx->cap ? 2 * lx->cap : 16;
      field *nf = cap > MAXCOLS ? NULL : cj_realloc(lx->f, sizeof *nf * (size_t)cap);
      if (!nf) return cap > MAXCOLS ? lexfail(lx, f.line, f.col, "too many fields")
                                    : cj_fail(CJ_ENOMEM, "%s: out of memory", lx->what);
      lx->f = nf;
      lx->cap = cap;
    }
    if (lx->p < lx->end && *lx->p == '"') {
      if ((st = quotedfield(lx, &f))) return st;
    } else {
      f.p = lx->p;
      while (!atend(lx, lx->p) && *lx->p != lx->sep) lx->p++;
      f.n = (size_t)(lx->p - f.p);
    }
    lx->f[lx->nf++] = f;
    if (lx->p < lx->end && *lx->p == lx->sep) { lx->p++; continue; }
    lx->eline = lx->line;
    lx->ecol = lx->p - lx->bol + 1;
    skipnewline(lx);
    *got = 1;
    return CJ_OK;
  }
}

/* The text of a field with doubled quotes collapsed, into dst (f->n bytes
 * at most); returns its length. */
static size_t unescape(const field *f, char *dst)
{
  size_t k = 0;
  if (!f->esc) { memcpy(dst, f->p, f->n); return f->n; }
  for (size_t i = 0; i < f->n; i++) {
    dst[k++] = f->p[i];
    if (f->p[i] == '"') i++;
  }
  return k;
}

/* ---- numbers ---------------------------------------------------------------- */

typedef struct scratch { char *p; size_t cap; } scratch;

/* 1 and *v if the field is a number, 1 and NaN if it is blank, 0 if text,
 * -1 when out of memory. */
static int number(const field *f, scratch *s, double *v)
{
  size_t n;
  char *e;
  const char *a;
  if (f->n + 1 > s->cap) {
    char *p = cj_realloc(s->p, f->n + 1);
    if (!p) return -1;
    s->p = p;
    s->cap = f->n + 1;
  }
  n = unescape(f, s->p);
  a = s->p;
  while (n && (*a == ' ' || *a == '\t')) { a++; n--; }
  while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
  if (n == 0) { *v = NAN; return 1; }
  ((char *)a)[n] = '\0';
  if (memchr(a, '\0', n)) return 0;
  *v = strtod(a, &e);
  return e == a + n;
}

/* ---- the table -------------------------------------------------------------- */

void cj_csv_free(cj_csv *t)
{
  if (!t) return;
  for (int j = 0; t->cols && j < t->ncols; j++) {
    cj_free(t->cols[j].name);
    cj_free(t->cols[j].values);
    cj_free(t->cols[j].text);
    cj_free(t->cols[j].offsets);
  }
  cj_free(t->cols);
  cj_free(t);
}

static int nomem(lexer *lx)
{
  return cj_fail(CJ_ENOMEM, "%s: out of memory", lx->what);
}

static int fieldcount(lexer *lx, int ncols)
{
  char msg[96];
  snprintf(msg, sizeof msg, "expected %d field%s, found %d", ncols, ncols == 1 ? "" : "s", lx->nf);
  if (lx->nf < ncols) return lexfail(lx, lx->eline, lx->ecol, msg);
  return lexfail(lx, lx->f[ncols].line, lx->f[ncols].col, msg);
}

/* The header record into t (names), or column count of the first record. */
static int header(lexer *lx, const cj_csvopts *o, cj_csv *t)
{
  int got, st = record(lx, &got);
  if (st) return st;
  if (!got) {
    if (o->header) return cj_fail(CJ_EFORMAT, "%s: no header row (the file is empty)", lx->what);
    return CJ_OK;
  }
  t->ncols = lx->nf;
  t->cols = cj_calloc((size_t)t->ncols, sizeof *t->cols);
  if (!t->cols) return nomem(lx);
  if (!o->header) return CJ_OK;
  for (int j = 0; j < t->ncols; j++) {
    field *f = &lx->f[j];
    char *name = cj_malloc(f->n + 1);
    if (!name) return nomem(lx);
    name[unescape(f, name)] = '\0';
    t->cols[j].name = name;
    for (int i = 0; i < j; i++)
      if (strcmp(t->cols[i].name, name) == 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "duplicate column name '%.100s'", name);
        return lexfail(lx, f->line, f->col, msg);
      }
  }
  return CJ_OK;
}

/* Pass 1: count rows, decide which columns are numeric. */
static int survey(lexer *lx, const cj_csvopts *o, cj_csv *t, scratch *s)
{
  int got, st;
  for (int j = 0; j < t->ncols; j++) t->cols[j].numeric = 1;
  for (;;) {
    if ((st = record(lx, &got))) return st;
    if (!got) return CJ_OK;
    if (lx->nf != t->ncols) return fieldcount(lx, t->ncols);
    for (int j = 0; j < t->ncols; j++) {
      double v;
      int r;
      if (!t->cols[j].numeric) continue;
      if ((r = number(&lx->f[j], s, &v)) < 0) return nomem(lx);
      if (r == 0 && o->numeric) {
        char msg[200];
        const field *f = &lx->f[j];
        if (t->cols[j].name)
          snprintf(msg, sizeof msg, "column '%.60s': expected a number, got '%.60s'",
                   t->cols[j].name, s->p);
        else
          snprintf(msg, sizeof msg, "column %d: expected a number, got '%.60s'", j + 1, s->p);
        return lexfail(lx, f->line, f->col, msg);
      }
      if (r == 0) t->cols[j].numeric = 0;
    }
    t->nrows++;
  }
}

static int allocate(lexer *lx, cj_csv *t)
{
  size_t n = (size_t)t->nrows;
  for (int j = 0; j < t->ncols; j++) {
    cj_csvcol *c = &t->cols[j];
    if (c->numeric) {
      if (!(c->values = cj_malloc(n * sizeof *c->values))) return nomem(lx);
    } else if (!(c->offsets = cj_malloc((n + 1) * sizeof *c->offsets))) {
      return nomem(lx);
    }
  }
  return CJ_OK;
}

typedef struct textbuf { size_t n, cap; } textbuf;

static int addtext(cj_csvcol *c, textbuf *b, const field *f)
{
  if (b->n + f->n + 1 > b->cap) {
    size_t cap = 2 * (b->n + f->n + 1) + 64;
    char *p = cj_realloc(c->text, cap);
    if (!p) return CJ_ENOMEM;
    c->text = p;
    b->cap = cap;
  }
  b->n += unescape(f, c->text + b->n);
  c->text[b->n++] = '\0';
  return CJ_OK;
}

/* Pass 2: fill the columns. */
static int fill(lexer *lx, cj_csv *t, scratch *s)
{
  textbuf *tb = cj_calloc((size_t)t->ncols, sizeof *tb);
  int got, st = tb ? CJ_OK : nomem(lx);
  for (int64_t i = 0; !st && i < t->nrows; i++) {
    if ((st = record(lx, &got))) break;
    for (int j = 0; j < t->ncols; j++) {
      cj_csvcol *c = &t->cols[j];
      if (c->numeric) {
        if (number(&lx->f[j], s, &c->values[i]) < 0) { st = nomem(lx); break; }
      } else {
        c->offsets[i] = (int64_t)tb[j].n;
        if (addtext(c, &tb[j], &lx->f[j])) { st = nomem(lx); break; }
      }
    }
  }
  for (int j = 0; !st && j < t->ncols; j++)
    if (!t->cols[j].numeric) {
      t->cols[j].offsets[t->nrows] = (int64_t)tb[j].n;
      if (!t->cols[j].text && !(t->cols[j].text = cj_malloc(1))) st = nomem(lx);
    }
  cj_free(tb);
  return st;
}

static void lexinit(lexer *lx, const char *text, size_t len, const char *what, const cj_csvopts *o)
{
  lx->p = lx->bol = text;
  lx->end = text + len;
  lx->line = 1;
  lx->what = what;
  lx->sep = o->sep;
  lx->comment = o->comment;
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) lx->p += 3;
  /* the comment header cajal writes (provenance): '#' lines at the very top */
  while (lx->p < lx->end && *lx->p == '#') {
    const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
    lx->p = nl ? nl + 1 : lx->end;
    newline(lx);
  }
}

int cj_csv_parse(const char *text, size_t len, const char *what, const cj_csvopts *o,
                 cj_csv **out)
{
  cj_csvopts def;
  lexer lx = {0};
  scratch s = {0};
  cj_csv *t;
  int st;
  *out = NULL;
  if (!o) { cj_csv_defaults(&def); o = &def; }
  if (o->sep == '"' || o->sep == '\n' || o->sep == '\r' || o->sep == '\0')
    return cj_fail(CJ_EINVAL, "%s: bad separator", what);
  if (!(t = cj_calloc(1, sizeof *t))) return cj_fail(CJ_ENOMEM, "%s: out of memory", what);
  lexinit(&lx, text, len, what, o);
  st = header(&lx, o, t);
  if (!st && !o->header) lexinit(&lx, text, len, what, o);   /* the first record is data */
  if (!st && t->ncols) {
    const char *data = lx.p, *bol = lx.bol;
    int64_t line = lx.line;
    st = survey(&lx, o, t, &s);
    if (!st) st = allocate(&lx, t);
    lx.p = data;
    lx.bol = bol;
    lx.line = line;
    if (!st) st = fill(&lx, t, &s);
  }
  cj_free(lx.f);
  cj_free(s.p);
  if (st) { cj_csv_free(t); return st; }
  *out = t;
  return CJ_OK;
}

int cj_csv_read(const char *path, const cj_csvopts *o, cj_csv **out)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  int st;
  *out = NULL;
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  for (;;) {
    size_t got;
    if (n == cap) {
      char *p = cj_realloc(buf, cap = cap ? 2 * cap : 65536);
      if (!p) { fclose(f); cj_free(buf); return cj_fail(CJ_ENOMEM, "%s: out of memory", path); }
      buf = p;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) st = cj_fail(CJ_EIO, "%s: read error: %s", path, strerror(errno));
  else st = cj_csv_parse(buf, n, path, o, out);
  fclose(f);
  cj_free(buf);
  return st;
}

/* ---- writing ---------------------------------------------------------------- */

/* The shortest decimal that reads back as the same value of dtype t. */
static void fmtnum(char *buf, size_t n, double v, cj_dtype t)
{
  if (isnan(v)) { buf[0] = '\0'; return; }
  if (isinf(v)) { snprintf(buf, n, v > 0 ? "inf" : "-inf"); return; }
  if (t == CJ_I32 || t == CJ_U8) { snprintf(buf, n, "%lld", (long long)v); return; }
  for (int prec = t == CJ_F32 ? 6 : 15; prec <= 17; prec++) {
    double back;
    snprintf(buf, n, "%.*g", prec, v);
    back = strtod(buf, NULL);
    if (t == CJ_F32 ? (float)back == (float)v : back == v) return;
  }
}

static int needsquotes(const char *s, size_t n, char sep)
{
  if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')) return 1;
  for (size_t i = 0; i < n; i++)
    if (s[i] == sep || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
  return 0;
}

static void puttext(FILE *f, const char *s, size_t n, char sep)
{
  if (!needsquotes(s, n, sep)) { fwrite(s, 1, n, f); return; }
  putc('"', f);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') putc('"', f);
    putc(s[i], f);
  }
  putc('"', f);
}

static void discard(FILE *f, const char *path)
{
  struct stat st;
  int reg = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  fclose(f);
  if (reg) remove(path);
}

int cj_csv_write(const char *path, int ncols, const cj_csvout *cols, int64_t nrows, char sep)
{
  return cj_csv_write_with(path, ncols, cols, nrows, sep, NULL);
}

/* A preamble is comment lines: each line starts with '#', none is empty. */
static int goodpreamble(const char *s)
{
  if (!*s) return 1;
  for (;;) {
    const char *nl = strchr(s, '\n');
    if (*s != '#' || memchr(s, '\r', nl ? (size_t)(nl - s) : strlen(s))) return 0;
    if (!nl || !nl[1]) return 1;
    s = nl + 1;
  }
}

int cj_csv_write_with(const char *path, int ncols, const cj_csvout *cols, int64_t nrows, char sep,
                      const char *preamble)
{
  FILE *f;
  char num[64];
  for (int j = 0; j < ncols; j++) {
    const cj_csvout *c = &cols[j];
    if (c->num ? c->num->ndim != 1 || c->num->shape[0] != nrows : !c->str)
      return cj_fail(CJ_EINVAL, "%s: column %d is not a 1-D column of %lld rows", path, j + 1,
                     (long long)nrows);
  }
  if (sep == '"' || sep == '\n' || sep == '\r' || sep == '\0')
    return cj_fail(CJ_EINVAL, "%s: bad separator", path);
  if (preamble && !goodpreamble(preamble))
    return cj_fail(CJ_EINVAL, "%s: the comment header must be lines starting with '#'", path);
  if (!(f = fopen(path, "wb"))) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  if (preamble && *preamble) {
    fputs(preamble, f);
    if (preamble[strlen(preamble) - 1] != '\n') putc('\n', f);
  }
  for (int j = 0; j < ncols; j++) {
    const char *name = cols[j].name ? cols[j].name : "";
    if (j) putc(sep, f);
    puttext(f, name, strlen(name), sep);
  }
  putc('\n', f);
  for (int64_t i = 0; i < nrows && !ferror(f); i++) {
    for (int j = 0; j < ncols; j++) {
      const cj_csvout *c = &cols[j];
      if (j) putc(sep, f);
      if (c->num) {
        fmtnum(num, sizeof num, cj_array_getflat(c->num, i), c->num->dtype);
        fputs(num, f);
      } else {
        const char *s = c->str[i] ? c->str[i] : "";
        puttext(f, s, c->len ? c->len[i] : strlen(s), sep);
      }
    }
    putc('\n', f);
  }
  if (ferror(f) || fflush(f) != 0) {
    int st = cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
    discard(f, path);
    return st;
  }
  if (fclose(f) != 0) return cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
  return CJ_OK;
}
