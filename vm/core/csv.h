/*
 * csv.h — comma-separated tables with a header row, read into columns and
 * written from columns.
 *
 * Reading (RFC 4180 plus what spreadsheets and numpy.savetxt produce):
 * fields separated by one character (',' by default); a field may be quoted
 * with '"', and inside quotes the separator, newlines and a doubled quote
 * ("") are literal; records end at LF or CRLF; blank lines, a UTF-8 byte
 * order mark and, when a comment character is set, lines starting with it
 * are skipped. A column is numeric when every non-empty field is a number
 * (strtod syntax with surrounding blanks allowed, including nan and inf);
 * its empty fields are NaN. Other columns keep their text.
 *
 * Errors name the place: "data.csv:7:12: expected 3 fields, found 4"
 * (line and byte column, 1-based), CJ_EFORMAT; an unreadable file is CJ_EIO.
 */
#ifndef CJ_CSV_H
#define CJ_CSV_H

#include "array.h"

typedef struct cj_csvopts {
  char sep;        /* field separator, default ',' */
  char comment;    /* lines starting with it are skipped; '\0' (default): none */
  int header;      /* first record holds the column names (default 1) */
  int numeric;     /* every column must be numeric: a non-number is an error */
} cj_csvopts;

void cj_csv_defaults(cj_csvopts *o);

typedef struct cj_csvcol {
  char *name;          /* NUL-terminated; NULL when there is no header */
  int numeric;
  double *values;      /* numeric: nrows values (NaN for empty fields) */
  char *text;          /* text column: all fields, each followed by a NUL */
  int64_t *offsets;    /* text column: field i is text + offsets[i], length
                          offsets[i+1] - offsets[i] - 1 (fields may hold NULs) */
} cj_csvcol;

typedef struct cj_csv {
  int ncols;
  int64_t nrows;
  cj_csvcol *cols;
} cj_csv;

/* Parse text[0..len) (what names it in messages) / the file at path. On
 * success *out owns the table (cj_csv_free); on failure *out is NULL. */
int cj_csv_parse(const char *text, size_t len, const char *what, const cj_csvopts *o,
                 cj_csv **out);
int cj_csv_read(const char *path, const cj_csvopts *o, cj_csv **out);
void cj_csv_free(cj_csv *t);

/* One column to write: either num (a 1-D array of nrows values, any dtype
 * and strides) or str[i] / len[i] (nrows strings; len may be NULL for
 * NUL-terminated strings). */
typedef struct cj_csvout {
  const char *name;
  const cj_array *num;
  const char *const *str;
  const size_t *len;
} cj_csvout;

/* Write a header row and nrows records. Numbers are written with the
 * fewest digits that read back to the same value (float32 at float32
 * precision), NaN as an empty field; text is quoted when it holds the
 * separator, a quote, CR or LF, or begins or ends with a blank. On failure
 * the partial file is removed (a regular file only). */
int cj_csv_write(const char *path, int ncols, const cj_csvout *cols, int64_t nrows, char sep);
/* As cj_csv_write, with preamble (NULL or "": none) written first: comment
 * lines, each starting with '#' (CJ_EINVAL otherwise), such as cajal's
 * provenance line. cj_csv_read skips '#' lines at the top of a file always. */
int cj_csv_write_with(const char *path, int ncols, const cj_csvout *cols, int64_t nrows, char sep,
                      const char *preamble);

#endif
