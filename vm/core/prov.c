/*
 * prov.c — provenance records in PNG, SVG and CSV files, and SHA-256.
 * See prov.h for where each kind of file keeps its record. Rewrites go to a
 * temporary file in the target's folder, renamed over it, so a failure
 * leaves the original file as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "cj.h"
#include "prov.h"

#define MAXFILE ((size_t)1 << 30)     /* plots larger than 1 GiB are not rewritten */

static const unsigned char PNGSIG[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
static const char SVGOPEN[] = "<metadata id=\"" CJ_PROV_KEYWORD "\">";
static const char SVGCLOSE[] = "</metadata>";

/* ---- SHA-256 ------------------------------------------------------------------ */

static void tohex(const unsigned char *h, char out[65])
{
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[h[i] >> 4];
    out[2 * i + 1] = digits[h[i] & 15];
  }
  out[64] = '\0';
}

void cj_sha256_hex(const void *data, size_t n, char out[65])
{
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, data, n);
  tohex(h, out);
}

int cj_sha256_file(const char *path, char out[65])
{
  unsigned char h[crypto_hash_sha256_BYTES], buf[1 << 16];
  crypto_hash_sha256_state st;
  FILE *f = fopen(path, "rb");
  size_t n;
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  crypto_hash_sha256_init(&st);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
  if (ferror(f)) {
    fclose(f);
    return cj_fail(CJ_EIO, "%s: read error", path);
  }
  fclose(f);
  crypto_hash_sha256_final(&st, h);
  tohex(h, out);
  return CJ_OK;
}

/* ---- whole files ---------------------------------------------------------------- */

/* Read the file at path (at most max bytes) into *buf (cj_malloc'd, one NUL
 * byte past the end). */
static int readall(const char *path, size_t max, unsigned char **buf, size_t *n)
{
  FILE *f = fopen(path, "rb");
  struct stat st;
  unsigned char *b;
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return cj_fail(CJ_EIO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > max) {
    fclose(f);
    return cj_fail(CJ_EFORMAT, "%s: file larger than %zu bytes", path, max);
  }
  if (!(b = cj_malloc((size_t)st.st_size + 1))) {
    fclose(f);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  *n = fread(b, 1, (size_t)st.st_size, f);
  if (ferror(f) || *n != (size_t)st.st_size) {
    fclose(f);
    cj_free(b);
    return cj_fail(CJ_EIO, "%s: read error", path);
  }
  fclose(f);
  b[*n] = 0;
  *buf = b;
  return CJ_OK;
}

/* Write the pieces (p[i], n[i]) to path through a temporary file in its
 * folder, keeping the mode of the file it replaces. */
static int replace(const char *path, int np, const void *const *p, const size_t *n)
{
  size_t len = strlen(path);
  char *tmp = cj_malloc(len + 8);
  struct stat st;
  FILE *f;
  int fd, bad = 0;
  if (!tmp) return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".XXXXXX", 8);
  if ((fd = mkstemp(tmp)) < 0) {
    cj_free(tmp);
    return cj_fail(CJ_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
  }
  if (stat(path, &st) == 0) fchmod(fd, st.st_mode & 07777);
  if (!(f = fdopen(fd, "wb"))) {
    close(fd);
    bad = 1;
  } else {
    for (int i = 0; i < np && !bad; i++) bad = fwrite(p[i], 1, n[i], f) != n[i];
    bad |= fclose(f) != 0;
  }
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    cj_free(tmp);
    return cj_fail(CJ_EIO, "%s: write error: %s", path, strerror(e));
  }
  cj_free(tmp);
  return CJ_OK;
}

static int copyout(const char *s, size_t n, char **json, size_t *len)
{
  char *r = cj_malloc(n + 1);
  if (!r) return cj_fail(CJ_ENOMEM, "provenance: out of memory");
  memcpy(r, s, n);
  r[n] = '\0';
  *json = r;
  *len = n;
  return CJ_OK;
}

/* ---- kinds --------------------------------------------------------------------- */

static int startswith(const unsigned char *b, size_t n, const char *s, size_t k)
{
  return n >= k && memcmp(b, s, k) == 0;
}

int cj_prov_kind(const char *path, cj_provkind *kind)
{
  unsigned char b[64];
  size_t n, i = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  n = fread(b, 1, sizeof b, f);
  fclose(f);
  if (startswith(b, n, (const char *)PNGSIG, 8)) *kind = CJ_PROV_PNG;
  else if (startswith(b, n, "\x89HDF\r\n\x1a\n", 8)) *kind = CJ_PROV_NWB;
  else if (startswith(b, n, "\x93NUMPY", 6)) *kind = CJ_PROV_NPY;
  else if (startswith(b, n, "CAJALNET", 8)) *kind = CJ_PROV_SAVE;
  else if (startswith(b, n, "%PDF-", 5)) *kind = CJ_PROV_PDF;
  else {
    if (startswith(b, n, "\xef\xbb\xbf", 3)) i = 3;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    if (startswith(b + i, n - i, "<?xml", 5) || startswith(b + i, n - i, "<svg", 4) ||
        startswith(b + i, n - i, "<!DOCTYPE svg", 13))
      *kind = CJ_PROV_SVG;
    else *kind = n == 0 ? CJ_PROV_UNKNOWN : CJ_PROV_CSV;
  }
  return CJ_OK;
}

const char *cj_prov_kindname(cj_provkind kind)
{
  static const char *const names[] = { "unknown", "PNG", "SVG", "CSV", "NPY", "NWB", "save file", "PDF" };
  return names[kind];
}

/* ---- PNG ----------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void putbe32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* The chunk at b[*at]: its data length, checked against n; *at moves past it. */
static int chunk(const char *path, const unsigned char *b, size_t n, size_t *at, uint32_t *len)
{
  if (n - *at < 12) return cj_fail(CJ_EFORMAT, "%s: truncated PNG chunk at byte %zu", path, *at);
  *len = be32(b + *at);
  if (*len > 0x7fffffffu || (size_t)*len > n - *at - 12)
    return cj_fail(CJ_EFORMAT, "%s: PNG chunk at byte %zu runs past the end of the file", path, *at);
  *at += 12 + (size_t)*len;
  return CJ_OK;
}

/* Is the chunk at b + at (length len) our iTXt? */
static int ours(const unsigned char *b, size_t at, uint32_t len)
{
  size_t k = sizeof CJ_PROV_KEYWORD;          /* keyword and its NUL */
  return memcmp(b + at + 4, "iTXt", 4) == 0 && len >= k &&
         memcmp(b + at + 8, CJ_PROV_KEYWORD, k) == 0;
}

int cj_prov_png_get(const char *path, char **json, size_t *n)
{
  unsigned char *b;
  size_t len, at = 8;
  int st = readall(path, MAXFILE, &b, &len);
  if (st) return st;
  if (!startswith(b, len, (const char *)PNGSIG, 8)) {
    cj_free(b);
    return cj_fail(CJ_EFORMAT, "%s: not a PNG file", path);
  }
  while (at < len) {
    size_t start = at, k = sizeof CJ_PROV_KEYWORD;
    uint32_t clen;
    if ((st = chunk(path, b, len, &at, &clen))) break;
    if (ours(b, start, clen)) {
      const unsigned char *d = b + start + 8, *end = d + clen, *p = d + k, *q;
      uLong crc = crc32(0L, b + start + 4, clen + 4);
      if (crc != be32(b + start + 8 + clen)) {
        st = cj_fail(CJ_EFORMAT, "%s: the provenance chunk has a bad CRC (the file is damaged)", path);
        break;
      }
      /* compression flag, method, language\0, translated keyword\0, text */
      if (end - p < 2 || p[0] != 0) {
        st = cj_fail(CJ_EFORMAT, "%s: malformed provenance chunk (compressed or truncated)", path);
        break;
      }
      p += 2;
      for (int field = 0; field < 2; field++) {
        q = memchr(p, 0, (size_t)(end - p));
        if (!q) break;
        p = q + 1;
      }
      if (!q || (size_t)(end - p) > CJ_PROV_MAX || memchr(p, 0, (size_t)(end - p))) {
        st = cj_fail(CJ_EFORMAT, "%s: malformed provenance chunk", path);
        break;
      }
      st = copyout((const char *)p, (size_t)(end - p), json, n);
      cj_free(b);
      return st;
    }
    if (memcmp(b + start + 4, "IEND", 4) == 0) break;
  }
  cj_free(b);
  return st ? st : cj_fail(CJ_EFORMAT, "%s: this PNG file has no cajal provenance", path);
}

int cj_prov_png_put(const char *path, const char *json, size_t n)
{
  unsigned char *b, *c;
  size_t len, at = 8, k = sizeof CJ_PROV_KEYWORD, clen = k + 4 + n, nout = 0;
  uint32_t l;
  int st;
  if (n > CJ_PROV_MAX || memchr(json, 0, n))
    return cj_fail(CJ_EINVAL, "%s: provenance record too long or with a NUL byte", path);
  if ((st = readall(path, MAXFILE, &b, &len))) return st;
  if (!startswith(b, len, (const char *)PNGSIG, 8) || len < 8 + 12 || memcmp(b + 12, "IHDR", 4) != 0) {
    cj_free(b);
    return cj_fail(CJ_EFORMAT, "%s: not a PNG file (no signature and IHDR chunk)", path);
  }
  if (!(c = cj_malloc(len + clen + 12))) {
    cj_free(b);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  memcpy(c, b, 8);
  nout = 8;
  while (at < len) {                         /* copy the chunks, ours after IHDR */
    size_t start = at;
    if ((st = chunk(path, b, len, &at, &l))) break;
    if (ours(b, start, l)) continue;
    memcpy(c + nout, b + start, at - start);
    nout += at - start;
    if (start == 8) {
      putbe32(c + nout, (uint32_t)clen);
      memcpy(c + nout + 4, "iTXt", 4);
      memcpy(c + nout + 8, CJ_PROV_KEYWORD, k);
      memset(c + nout + 8 + k, 0, 4);       /* uncompressed, method 0, no language, no translation */
      memcpy(c + nout + 8 + k + 4, json, n);
      putbe32(c + nout + 8 + clen, (uint32_t)crc32(0L, c + nout + 4, (uInt)(clen + 4)));
      nout += clen + 12;
    }
    if (memcmp(b + start + 4, "IEND", 4) == 0) break;
  }
  cj_free(b);
  if (!st) {
    const void *p[1] = { c };
    st = replace(path, 1, p, &nout);
  }
  cj_free(c);
  return st;
}

/* ---- SVG ----------------------------------------------------------------------- */

/* The end of the opening <svg ...> tag of text (one past its '>'), or NULL. */
static const char *svgtag(const char *s)
{
  const char *p = s;
  while ((p = strstr(p, "<svg"))) {
    char c = p[4];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>') break;
    p += 4;
  }
  if (!p) return NULL;
  for (char quote = 0; *p; p++) {
    if (quote) { if (*p == quote) quote = 0; }
    else if (*p == '"' || *p == '\'') quote = *p;
    else if (*p == '>') return p + 1;
  }
  return NULL;
}

int cj_prov_svg_put(const char *path, const char *json, size_t n)
{
  unsigned char *b;
  size_t len, ne = 0;
  char *esc;
  const char *tag, *old, *oldend = NULL;
  int st;
  if (n > CJ_PROV_MAX || memchr(json, 0, n))
    return cj_fail(CJ_EINVAL, "%s: provenance record too long or with a NUL byte", path);
  if ((st = readall(path, MAXFILE, &b, &len))) return st;
  if (strlen((char *)b) != len || !(tag = svgtag((char *)b))) {
    cj_free(b);
    return cj_fail(CJ_EFORMAT, "%s: not an SVG file (no <svg> element)", path);
  }
  if (!(esc = cj_malloc(5 * n + sizeof SVGOPEN + sizeof SVGCLOSE + 4))) {
    cj_free(b);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  ne = (size_t)sprintf(esc, "\n%s", SVGOPEN);
  for (size_t i = 0; i < n; i++) {
    const char *r = json[i] == '&' ? "&amp;" : json[i] == '<' ? "&lt;" : json[i] == '>' ? "&gt;" : NULL;
    if (r) { memcpy(esc + ne, r, strlen(r)); ne += strlen(r); }
    else esc[ne++] = json[i];
  }
  ne += (size_t)sprintf(esc + ne, "%s", SVGCLOSE);
  if ((old = strstr((char *)b, SVGOPEN)) && (oldend = strstr(old, SVGCLOSE))) {
    /* replace the record in place (with the newline before it) */
    const char *from = old > (char *)b && old[-1] == '\n' ? old - 1 : old;
    const void *p[3] = { b, esc, oldend + sizeof SVGCLOSE - 1 };
    size_t k[3] = { (size_t)(from - (char *)b), ne, len - (size_t)(oldend + sizeof SVGCLOSE - 1 - (char *)b) };
    st = replace(path, 3, p, k);
  } else {
    const void *p[3] = { b, esc, tag };
    size_t k[3] = { (size_t)(tag - (char *)b), ne, len - (size_t)(tag - (char *)b) };
    st = replace(path, 3, p, k);
  }
  cj_free(esc);
  cj_free(b);
  return st;
}

int cj_prov_svg_get(const char *path, char **json, size_t *n)
{
  unsigned char *b;
  size_t len, k = 0;
  const char *p, *end;
  char *r;
  int st = readall(path, MAXFILE, &b, &len);
  if (st) return st;
  if (!(p = strstr((char *)b, SVGOPEN))) {
    cj_free(b);
    return cj_fail(CJ_EFORMAT, "%s: this SVG file has no cajal provenance", path);
  }
  p += sizeof SVGOPEN - 1;
  if (!(end = strstr(p, SVGCLOSE)) || (size_t)(end - p) > CJ_PROV_MAX) {
    cj_free(b);
    return cj_fail(CJ_EFORMAT, "%s: malformed provenance element (unclosed or too long)", path);
  }
  if (!(r = cj_malloc((size_t)(end - p) + 1))) {
    cj_free(b);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  while (p < end) {
    static const struct { const char *ent; char c; } ents[] = {
      { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' } };
    size_t e = 0;
    if (*p != '&') { r[k++] = *p++; continue; }
    while (e < 5 && strncmp(p, ents[e].ent, strlen(ents[e].ent)) != 0) e++;
    if (e == 5) {
      cj_free(r);
      cj_free(b);
      return cj_fail(CJ_EFORMAT, "%s: malformed provenance element (unknown entity)", path);
    }
    r[k++] = ents[e].c;
    p += strlen(ents[e].ent);
  }
  r[k] = '\0';
  cj_free(b);
  *json = r;
  *n = k;
  return CJ_OK;
}

/* ---- CSV ----------------------------------------------------------------------- */

int cj_prov_csv_get(const char *path, char **json, size_t *n)
{
  static const char head[] = "# " CJ_PROV_KEYWORD ": ";
  FILE *f = fopen(path, "rb");
  char first[sizeof head + 3];
  char *line;
  size_t k, got = 0;
  int c;
  if (!f) return cj_fail(CJ_EIO, "%s: %s", path, strerror(errno));
  k = fread(first, 1, 3, f);
  if (!(k == 3 && memcmp(first, "\xef\xbb\xbf", 3) == 0)) rewind(f);
  k = fread(first, 1, sizeof head - 1, f);
  if (k != sizeof head - 1 || memcmp(first, head, k) != 0) {
    fclose(f);
    return cj_fail(CJ_EFORMAT, "%s: this file has no cajal provenance (its first line is not "
                   "'# cajal-provenance: ...')", path);
  }
  if (!(line = cj_malloc(4096))) {
    fclose(f);
    return cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  }
  for (size_t cap = 4096; (c = getc(f)) != EOF && c != '\n'; line[got++] = (char)c) {
    if (got + 1 >= cap) {                    /* grow, up to the record's limit */
      char *bigger = got < CJ_PROV_MAX ? cj_realloc(line, cap * 2) : NULL;
      if (!bigger) break;
      line = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if ((c != '\n' && c != EOF) || got == 0 || memchr(line, 0, got)) {
    cj_free(line);
    return cj_fail(CJ_EFORMAT, "%s: malformed provenance line (empty, too long or with a NUL)", path);
  }
  if (line[got - 1] == '\r') got--;
  line[got] = '\0';
  *json = line;
  *n = got;
  return CJ_OK;
}
