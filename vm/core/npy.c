/*
 * npy.c — NumPy .npy files (see npy.h for the contract).
 *
 * The header is a Python dict literal; it is parsed here by a small
 * recursive-descent reader that accepts exactly what numpy writes (keys
 * 'descr', 'fortran_order', 'shape'; string, True/False and int-tuple
 * values) and names what it finds otherwise. Data is moved in chunks
 * through cj_array_copy, which does strides and dtype conversion.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

#define MAGIC "\x93NUMPY"
#define MAXHEADER (1 << 20)        /* refuse headers longer than this */
#define CHUNK ((int64_t)1 << 16)    /* elements moved per copy when converting */

static int bigendian(void)
{
  const union { uint16_t u; unsigned char c[2]; } x = { 1 };
  return x.c[0] == 0;
}

static void swapbytes(void *p, int64_t n, size_t es)
{
  unsigned char *b = p;
  if (es == 1) return;
  for (int64_t i = 0; i < n; i++, b += es)
    for (size_t j = 0; j < es / 2; j++) {
      unsigned char t = b[j];
      b[j] = b[es - 1 - j];
      b[es - 1 - j] = t;
    }
}

/* ---- header parsing ------------------------------------------------------ */

typedef struct hparse {
  const char *p, *end;
  const char *what;
} hparse;

static void skipws(hparse *h)
{
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
    h->p++;
}

static int hfail(hparse *h, const char *msg)
{
  return cj_fail(CJ_EFORMAT, "%s: malformed .npy header: %s", h->what, msg);
}

/* A Python string literal ('...' or "...") into buf[n]. */
static int hstring(hparse *h, char *buf, size_t n)
{
  char q;
  size_t k = 0;
  skipws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return hfail(h, "expected a quoted string");
  q = *h->p++;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\' || k + 1 >= n) return hfail(h, "unexpected string in header");
    buf[k++] = *h->p++;
  }
  if (h->p >= h->end) return hfail(h, "unterminated string");
  h->p++;
  buf[k] = '\0';
  return CJ_OK;
}

static int hchar(hparse *h, char c, const char *msg)
{
  skipws(h);
  if (h->p >= h->end || *h->p != c) return hfail(h, msg);
  h->p++;
  return CJ_OK;
}

static int hbool(hparse *h, int *v)
{
  skipws(h);
  if (h->end - h->p >= 4 && memcmp(h->p, "True", 4) == 0) { *v = 1; h->p += 4; return CJ_OK; }
  if (h->end - h->p >= 5 && memcmp(h->p, "False", 5) == 0) { *v = 0; h->p += 5; return CJ_OK; }
  return hfail(h, "fortran_order must be True or False");
}

static int hint(hparse *h, int64_t *v)
{
  int64_t x = 0;
  skipws(h);
  if (h->p >= h->end || *h->p < '0' || *h->p > '9')
    return hfail(h, "shape must be a tuple of non-negative integers");
  while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
    if (x > (INT64_MAX - 9) / 10) return hfail(h, "a dimension of the shape is too large");
    x = 10 * x + (*h->p++ - '0');
  }
  if (h->p < h->end && *h->p == 'L') h->p++;     /* Python 2 longs */
  *v = x;
  return CJ_OK;
}

static int hshape(hparse *h, cj_npyinfo *info)
{
  int st;
  info->ndim = 0;
  if ((st = hchar(h, '(', "shape must be a tuple"))) return st;
  for (;;) {
    skipws(h);
    if (h->p < h->end && *h->p == ')') { h->p++; return CJ_OK; }
    if (info->ndim == CJ_MAXDIM)
      return cj_fail(CJ_EFORMAT, "%s: too many dimensions (cajal arrays have at most %d)",
                     h->what, CJ_MAXDIM);
    if ((st = hint(h, &info->shape[info->ndim++]))) return st;
    skipws(h);
    if (h->p < h->end && *h->p == ',') h->p++;
    else if (h->p >= h->end || *h->p != ')') return hfail(h, "expected ',' or ')' in shape");
  }
}

/* descr -> dtype and byte order. */
static int hdescr(hparse *h, const char *d, cj_npyinfo *info)
{
  static const struct { const char *code; cj_dtype t; } codes[] = {
    {"f8", CJ_F64}, {"f4", CJ_F32}, {"i4", CJ_I32}, {"u1", CJ_U8}, {NULL, CJ_F64}
  };
  char order = '=';
  const char *c = d;
  if (*c == '<' || *c == '>' || *c == '|' || *c == '=') order = *c++;
  for (int i = 0; codes[i].code; i++)
    if (strcmp(c, codes[i].code) == 0) {
      info->dtype = codes[i].t;
      info->swap = codes[i].t != CJ_U8 &&
                   ((order == '<' && bigendian()) || (order == '>' && !bigendian()));
      return CJ_OK;
    }
  return cj_fail(CJ_EFORMAT, "%s: unsupported dtype '%s' (cajal reads float64 '<f8', "
                 "float32 '<f4', int32 '<i4' and uint8 '|u1', in either byte order)", h->what, d);
}

static int hdict(hparse *h, cj_npyinfo *info)
{
  int st, seen = 0;
  char key[32], descr[32];
  if ((st = hchar(h, '{', "expected '{'"))) return st;
  for (;;) {
    int bit;
    skipws(h);
    if (h->p < h->end && *h->p == '}') { h->p++; break; }
    if ((st = hstring(h, key, sizeof key))) return st;
    if ((st = hchar(h, ':', "expected ':' after a key"))) return st;
    if (strcmp(key, "descr") == 0) {
      bit = 1;
      skipws(h);
      if (h->p < h->end && *h->p == '[')
        return cj_fail(CJ_EFORMAT, "%s: structured dtypes are not supported", h->what);
      if ((st = hstring(h, descr, sizeof descr))) return st;
    } else if (strcmp(key, "fortran_order") == 0) {
      bit = 2;
      if ((st = hbool(h, &info->fortran))) return st;
    } else if (strcmp(key, "shape") == 0) {
      bit = 4;
      if ((st = hshape(h, info))) return st;
    } else {
      return cj_fail(CJ_EFORMAT, "%s: malformed .npy header: unexpected key '%s'", h->what, key);
    }
    if (seen & bit)
      return cj_fail(CJ_EFORMAT, "%s: malformed .npy header: key '%s' repeated", h->what, key);
    seen |= bit;
    skipws(h);
    if (h->p < h->end && *h->p == ',') h->p++;
    else if (h->p >= h->end || *h->p != '}') return hfail(h, "expected ',' or '}'");
  }
  if (seen != 7)
    return cj_fail(CJ_EFORMAT, "%s: malformed .npy header: no '%s' key", h->what,
                   !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
  skipws(h);
  while (h->p < h->end && *h->p == '\0') h->p++;
  if (h->p != h->end) return hfail(h, "unexpected text after the dictionary");
  return hdescr(h, descr, info);
}

/* Length of the fixed prefix and of the header text, from the first bytes. */
static int prefix(const unsigned char *b, size_t n, const char *what, cj_npyinfo *info,
                  size_t *hlen)
{
  if (n < 8 || memcmp(b, MAGIC, 6) != 0) {
    if (n < 8 && memcmp(b, MAGIC, n < 6 ? n : 6) == 0)
      return cj_fail(CJ_EFORMAT, "%s: truncated .npy header (%zu bytes)", what, n);
    return cj_fail(CJ_EFORMAT, "%s: not a .npy file (bad magic string)", what);
  }
  info->major = b[6];
  info->minor = b[7];
  if (info->major < 1 || info->major > 3)
    return cj_fail(CJ_EFORMAT, "%s: unsupported .npy format version %d.%d", what,
                   info->major, info->minor);
  if (info->major == 1) {
    if (n < 10) return cj_fail(CJ_EFORMAT, "%s: truncated .npy header (%zu bytes)", what, n);
    *hlen = b[8] | (size_t)b[9] << 8;
    info->offset = 10;
  } else {
    if (n < 12) return cj_fail(CJ_EFORMAT, "%s: truncated .npy header (%zu bytes)", what, n);
    *hlen = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    info->offset = 12;
  }
  if (*hlen > MAXHEADER)
    return cj_fail(CJ_EFORMAT, "%s: .npy header too long (%zu bytes)", what, *hlen);
  info->offset += (int64_t)*hlen;
  return CJ_OK;
}

int cj_npy_parseheader(const char *buf, size_t n, const char *what, cj_npyinfo *info)
{
  size_t hlen;
  hparse h;
  int st;
  memset(info, 0, sizeof *info);
  if ((st = prefix((const unsigned char *)buf, n, what, info, &hlen))) return st;
  if ((uint64_t)info->offset > n)
    return cj_fail(CJ_EFORMAT, "%s: truncated .npy header (%zu of %lld bytes)", what, n,
                   (long long)info->offset);
  h.p = buf + info->offset - hlen;
  h.end = buf + info->offset;
  h.what = what;
  return hdict(&h, info);
}

/* ---- reading --------------------------------------------------------------- */

struct cj_npy_reader {
  FILE *f;
  cj_npyinfo info;
  char *path;
};

void cj_npy_close(cj_npy_reader *r)
{
  if (!r) return;
  if (r->f) fclose(r->f);
  cj_free(r->path);
  cj_free(r);
}

static char *dupstr(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = cj_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Read exactly n bytes or fail naming what was short. */
static int readall(cj_npy_reader *r, void *p, size_t n, const char *what)
{
  size_t got = fread(p, 1, n, r->f);
  if (got == n) return CJ_OK;
  if (ferror(r->f))
    return cj_fail(CJ_EIO, "%s: read error: %s", r->path, strerror(errno));
  return cj_fail(CJ_EFORMAT, "%s: truncated %s (%zu of %zu bytes)", r->path, what, got, n);
}

/* Check the data size against the file size (regular files only). */
static int checksize(cj_npy_reader *r)
{
  struct stat st;
  int64_t n, need;
  char sh[128];
  size_t es = cj_dtype_size(r->info.dtype);
  if (cj_shape_numel(r->info.ndim, r->info.shape, &n) || (n && (uint64_t)n > INT64_MAX / es))
    return cj_fail(CJ_EFORMAT, "%s: shape too large", r->path);
  if (fstat(fileno(r->f), &st) != 0 || !S_ISREG(st.st_mode)) return CJ_OK;
  need = n * (int64_t)es;
  cj_shape_format(r->info.ndim, r->info.shape, sh, sizeof sh);
  if (st.st_size - r->info.offset < need)
    return cj_fail(CJ_EFORMAT, "%s: truncated data: shape %s of %s needs %lld bytes, "
                   "the file holds %lld", r->path, sh, cj_dtype_name(r->info.dtype),
                   (long long)need, (long long)(st.st_size - r->info.offset));
  if (st.st_size - r->info.offset > need)
    return cj_fail(CJ_EFORMAT, "%s: %lld bytes after the data of shape %s of %s "
                   "(file size does not match the header)", r->path,
                   (long long)(st.st_size - r->info.offset - need), sh,
                   cj_dtype_name(r->info.dtype));
  return CJ_OK;
}

static int readheader(cj_npy_reader *r)
{
  unsigned char pre[12];
  size_t hlen, got = fread(pre, 1, sizeof pre, r->f);
  char *buf;
  int st;
  if (ferror(r->f)) return cj_fail(CJ_EIO, "%s: read error: %s", r->path, strerror(errno));
  if ((st = prefix(pre, got, r->path, &r->info, &hlen))) return st;
  buf = cj_malloc((size_t)r->info.offset);
  if (!buf) return cj_fail(CJ_ENOMEM, "%s: out of memory reading the header", r->path);
  memcpy(buf, pre, got < (size_t)r->info.offset ? got : (size_t)r->info.offset);
  if ((size_t)r->info.offset > got)
    st = readall(r, buf + got, (size_t)r->info.offset - got, ".npy header");
  if (!st) st = cj_npy_parseheader(buf, (size_t)r->info.offset, r->path, &r->info);
  cj_free(buf);
  if (!st) st = checksize(r);
  if (!st && fseeko(r->f, (off_t)r->info.offset, SEEK_SET) != 0)
    st = cj_fail(CJ_EIO, "%s: cannot seek to the data: %s", r->path, strerror(errno));
  return st;
}

int cj_npy_open(cj_npy_reader **out, const char *path, cj_npyinfo *info)
{
  int st;
  cj_npy_reader *r = cj_calloc(1, sizeof *r);
  *out = NULL;
  if (!r || !(r->path = dupstr(path))) {
    cj_npy_close(r);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  r->f = fopen(path, "rb");
  if (!r->f) {
    st = cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
    cj_npy_close(r);
    return st;
  }
  if ((st = readheader(r))) {
    cj_npy_close(r);
    return st;
  }
  *info = r->info;
  *out = r;
  return CJ_OK;
}

int cj_npy_read(cj_npy_reader *r, cj_array *dst)
{
  const cj_npyinfo *in = &r->info;
  size_t es = cj_dtype_size(in->dtype);
  int64_t n;
  int st;
  if (dst->dtype != in->dtype || dst->ndim != in->ndim ||
      memcmp(dst->shape, in->shape, sizeof(int64_t) * (size_t)in->ndim) != 0)
    return cj_fail(CJ_EINVAL, "%s: destination does not match the file's dtype and shape", r->path);
  n = cj_array_numel(dst);
  if (n == 0) return CJ_OK;
  if (!cj_array_iscontig(dst))
    return cj_fail(CJ_EINVAL, "%s: destination is not contiguous", r->path);
  if (!in->fortran || in->ndim < 2) {
    if ((st = readall(r, dst->data, (size_t)n * es, "data"))) return st;
    if (in->swap) swapbytes(dst->data, n, es);
    return CJ_OK;
  }
  /* Fortran order: read as is, then copy through a column-major view. */
  cj_array src = *dst;
  src.data = cj_malloc((size_t)n * es);
  if (!src.data) return cj_fail(CJ_ENOMEM, "%s: out of memory reading Fortran-order data", r->path);
  src.strides[0] = 1;
  for (int d = 1; d < in->ndim; d++) src.strides[d] = src.strides[d - 1] * in->shape[d - 1];
  st = readall(r, src.data, (size_t)n * es, "data");
  if (!st && in->swap) swapbytes(src.data, n, es);
  if (!st) st = cj_array_copy(dst, &src);
  cj_free(src.data);
  return st;
}

int cj_npy_load(const char *path, cj_array *out)
{
  cj_npy_reader *r;
  cj_npyinfo info;
  int st = cj_npy_open(&r, path, &info);
  out->data = NULL;
  if (st) return st;
  st = cj_array_alloc(out, info.dtype, info.ndim, info.shape);
  if (!st) st = cj_npy_read(r, out);
  cj_npy_close(r);
  if (st) cj_array_release(out);
  return st;
}

/* ---- writing ------------------------------------------------------------- */

/* Remove a file we failed to write, but only a regular file: never a
 * device such as /dev/full or a pipe that happened to be the path. */
static void discard(FILE *f, const char *path)
{
  struct stat st;
  int reg = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  fclose(f);
  if (reg) remove(path);
}

static const char *descr(cj_dtype t)
{
  static const char *d[] = { "<f8", "<f4", "<i4", "|u1" };
  return d[t];
}

/* The header for dtype t and shape into buf; padded with spaces and a
 * newline to a multiple of 64 bytes, or to exactly `total` bytes when total
 * is not 0. Returns its length (0 if it does not fit in n). */
static size_t makeheader(char *buf, size_t n, cj_dtype t, int ndim, const int64_t *shape,
                         size_t total)
{
  char dict[512];
  int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   descr(t));
  size_t len, pre;
  for (int d = 0; d < ndim; d++)
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s", (long long)shape[d],
                  ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
  k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
  pre = 10;
  len = pre + (size_t)k + 1;
  if (!total) total = (len + 63) / 64 * 64;
  if (len > total || total > n || total - pre > 65535) return 0;
  memcpy(buf, MAGIC "\x01\x00", 8);
  buf[8] = (char)((total - pre) & 0xff);
  buf[9] = (char)((total - pre) >> 8);
  memcpy(buf + pre, dict, (size_t)k);
  memset(buf + pre + k, ' ', total - pre - (size_t)k - 1);
  buf[total - 1] = '\n';
  return total;
}

/* Write the elements of a in C order as little-endian values of dtype t. */
static int writedata(FILE *f, const cj_array *a, cj_dtype t, const char *path)
{
  size_t es = cj_dtype_size(t);
  int64_t n = cj_array_numel(a), row, per, done = 0;
  cj_array src, dst;
  void *buf;
  int st = CJ_OK;
  if (n == 0) return CJ_OK;
  if (a->dtype == t && cj_array_iscontig(a) && (es == 1 || !bigendian())) {
    if (fwrite(a->data, es, (size_t)n, f) != (size_t)n)
      return cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
    return CJ_OK;
  }
  /* blocks of whole rows along dimension 0, converted through a buffer */
  row = a->ndim ? n / a->shape[0] : 1;
  per = row >= CHUNK ? 1 : CHUNK / row;
  buf = cj_malloc((size_t)(per * row) * es);
  if (!buf) return cj_fail(CJ_ENOMEM, "%s: out of memory writing", path);
  while (done < n && !st) {
    int64_t rows = a->ndim ? (a->shape[0] - done / row < per ? a->shape[0] - done / row : per) : 1;
    if (a->ndim) cj_array_slice(&src, a, 0, done / row, rows, 1);
    else src = *a;
    dst = src;
    cj_array_wrap(&dst, buf, t, src.ndim, src.shape);
    st = cj_array_copy(&dst, &src);
    if (!st && es > 1 && bigendian()) swapbytes(buf, rows * row, es);
    if (!st && fwrite(buf, es, (size_t)(rows * row), f) != (size_t)(rows * row))
      st = cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
    done += rows * row;
  }
  cj_free(buf);
  return st;
}

int cj_npy_save(const char *path, const cj_array *a)
{
  char head[1024];
  size_t hl = makeheader(head, sizeof head, a->dtype, a->ndim, a->shape, 0);
  FILE *f;
  int st;
  if (!hl) return cj_fail(CJ_EINVAL, "%s: cannot make a header for this shape", path);
  f = fopen(path, "wb");
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  st = fwrite(head, 1, hl, f) == hl ? CJ_OK
       : cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
  if (!st) st = writedata(f, a, a->dtype, path);
  if (!st && fflush(f) != 0) st = cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
  if (st) {
    discard(f, path);
    return st;
  }
  if (fclose(f) != 0) return cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(errno));
  return CJ_OK;
}

/* ---- the streaming writer -------------------------------------------------- */

struct cj_npy_writer {
  FILE *f;
  char *path;
  cj_dtype dtype;
  int ndim;                    /* of the file: rowndim + 1 */
  int64_t shape[CJ_MAXDIM];    /* shape[0] is the row count */
  int64_t rowsize;             /* values per row */
  size_t headsize;             /* fixed header size */
};

static int writeheader(cj_npy_writer *w)
{
  char head[1024];
  if (!makeheader(head, sizeof head, w->dtype, w->ndim, w->shape, w->headsize))
    return cj_fail(CJ_EINVAL, "%s: header does not fit", w->path);
  if (fseeko(w->f, 0, SEEK_SET) != 0 || fwrite(head, 1, w->headsize, w->f) != w->headsize ||
      fseeko(w->f, 0, SEEK_END) != 0)
    return cj_fail(CJ_EIO, "%s: write error: %s", w->path, strerror(errno));
  return CJ_OK;
}

/* The file for cj_npy_writer_open_own: path ends in .npy; an existing file
 * is truncated only if its header says float64 in C order (what cajal's
 * monitors write). Checked and truncated through one descriptor, opened
 * without blocking (a FIFO would wait for a reader) and refused unless it
 * is a regular file. */
static int openown(const char *path, FILE **out)
{
  size_t n = strlen(path);
  struct stat st;
  char head[4096];
  cj_npyinfo info;
  int fd, fl;
  FILE *f;
  if (n < 5 || strcmp(path + n - 4, ".npy") != 0 || path[n - 5] == '/') {
    return cj_fail(CJ_EINVAL, "%s: the file name of a recording must end in .npy", path);
  }
  *out = NULL;
  if ((fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666)) < 0)
    return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cj_fail(CJ_EIO, "%s: not a regular file: refusing to write a recording there", path);
  }
  if (st.st_size > 0) {
    ssize_t got = pread(fd, head, sizeof head, 0);
    if (got <= 0 || cj_npy_parseheader(head, (size_t)got, path, &info) != CJ_OK ||
        info.dtype != CJ_F64 || info.fortran || info.swap || info.ndim < 1 || info.ndim > 2) {
      close(fd);
      return cj_fail(CJ_EIO, "%s: the file exists and is not a .npy file of float64 rows as cajal "
                     "records them: refusing to overwrite it (remove it, or record to another name)", path);
    }
  }
  if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
      ftruncate(fd, 0) != 0 || !(f = fdopen(fd, "wb"))) {
    int e = errno;
    close(fd);
    return cj_fail(CJ_EIO, "%s: %s", path, strerror(e));
  }
  *out = f;
  return CJ_OK;
}

/* The writer on file f (NULL: open path for writing). */
static int writeropen(cj_npy_writer **out, const char *path, cj_dtype t,
                      int rowndim, const int64_t *rowshape, FILE *f)
{
  cj_npy_writer *w;
  char head[1024];
  int st;
  *out = NULL;
  if ((unsigned)t >= CJ_NDTYPES) return cj_fail(CJ_EINVAL, "npy writer: bad dtype");
  if (rowndim < 0 || rowndim >= CJ_MAXDIM)
    return cj_fail(CJ_EINVAL, "npy writer: rows must have 0 to %d dimensions", CJ_MAXDIM - 1);
  w = cj_calloc(1, sizeof *w);
  if (!w || !(w->path = dupstr(path))) {
    st = cj_fail(CJ_ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  w->dtype = t;
  w->ndim = rowndim + 1;
  w->rowsize = 1;
  for (int d = 0; d < rowndim; d++) {
    w->shape[d + 1] = rowshape[d];
    if (rowshape[d] < 0 || (rowshape[d] && w->rowsize > INT64_MAX / rowshape[d])) {
      st = cj_fail(CJ_EINVAL, "npy writer: bad row shape");
      goto fail;
    }
    w->rowsize *= rowshape[d];
  }
  w->shape[0] = INT64_MAX;     /* size the header for the longest row count */
  w->headsize = makeheader(head, sizeof head, t, w->ndim, w->shape, 0);
  w->shape[0] = 0;
  w->f = f ? f : fopen(path, "wb");
  f = NULL;
  if (!w->f) { st = cj_fail(CJ_EIO, "%s: %s", path, strerror(errno)); goto fail; }
  if ((st = writeheader(w))) goto fail;
  *out = w;
  return CJ_OK;
fail:
  if (f) fclose(f);
  if (w && w->f) discard(w->f, path);
  if (w) cj_free(w->path);
  cj_free(w);
  return st;
}

int cj_npy_writer_open(cj_npy_writer **out, const char *path, cj_dtype t,
                       int rowndim, const int64_t *rowshape)
{
  return writeropen(out, path, t, rowndim, rowshape, NULL);
}

int cj_npy_writer_open_own(cj_npy_writer **out, const char *path, cj_dtype t,
                           int rowndim, const int64_t *rowshape)
{
  FILE *f;
  int st;
  *out = NULL;
  if ((unsigned)t >= CJ_NDTYPES || rowndim < 0 || rowndim >= CJ_MAXDIM)
    return cj_fail(CJ_EINVAL, "npy writer: bad dtype or row shape");
  if ((st = openown(path, &f))) return st;
  return writeropen(out, path, t, rowndim, rowshape, f);
}

/* Undo a partial append: cut the file back to the rows already counted. */
static void rollback(cj_npy_writer *w)
{
  off_t keep = (off_t)w->headsize +
               (off_t)(w->shape[0] * w->rowsize * (int64_t)cj_dtype_size(w->dtype));
  fflush(w->f);
  if (ftruncate(fileno(w->f), keep) == 0) fseeko(w->f, keep, SEEK_SET);
}

int cj_npy_writer_append(cj_npy_writer *w, const void *rows, int64_t nrows)
{
  cj_array a;
  int64_t shape[CJ_MAXDIM];
  memcpy(shape, w->shape, sizeof shape);
  shape[0] = nrows;
  if (nrows < 0) return cj_fail(CJ_EINVAL, "%s: negative row count", w->path);
  if (cj_array_wrap(&a, (void *)rows, w->dtype, w->ndim, shape)) return CJ_EINVAL;
  return cj_npy_writer_append_array(w, &a);
}

int cj_npy_writer_append_array(cj_npy_writer *w, const cj_array *a)
{
  int rowndim = w->ndim - 1, st;
  int64_t nrows;
  char want[128], got[128];
  if (a->ndim == rowndim &&
      memcmp(a->shape, w->shape + 1, sizeof(int64_t) * (size_t)rowndim) == 0) {
    nrows = 1;
  } else if (a->ndim == w->ndim &&
             memcmp(a->shape + 1, w->shape + 1, sizeof(int64_t) * (size_t)rowndim) == 0) {
    nrows = a->shape[0];
  } else {
    cj_shape_format(rowndim, w->shape + 1, want, sizeof want);
    cj_shape_format(a->ndim, a->shape, got, sizeof got);
    return cj_fail(CJ_EINVAL, "%s: rows of shape %s expected, got an array of shape %s",
                   w->path, want, got);
  }
  if (w->shape[0] > INT64_MAX - nrows) return cj_fail(CJ_ERANGE, "%s: too many rows", w->path);
  if ((st = writedata(w->f, a, w->dtype, w->path))) {
    rollback(w);
    return st;
  }
  w->shape[0] += nrows;
  return CJ_OK;
}

int cj_npy_writer_flush(cj_npy_writer *w)
{
  int st = writeheader(w);
  if (!st && fflush(w->f) != 0)
    st = cj_fail(CJ_EIO, "%s: write error: %s", w->path, strerror(errno));
  return st;
}

int64_t cj_npy_writer_rows(const cj_npy_writer *w) { return w->shape[0]; }
int64_t cj_npy_writer_rowsize(const cj_npy_writer *w) { return w->rowsize; }
cj_dtype cj_npy_writer_dtype(const cj_npy_writer *w) { return w->dtype; }

int cj_npy_writer_close(cj_npy_writer *w)
{
  int st;
  if (!w) return CJ_OK;
  st = writeheader(w);
  if (fclose(w->f) != 0 && !st) st = cj_fail(CJ_EIO, "%s: write error: %s", w->path, strerror(errno));
  cj_free(w->path);
  cj_free(w);
  return st;
}
