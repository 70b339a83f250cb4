/* test_prov.c — provenance containers (vm/core/prov.c): SHA-256 against the
 * FIPS 180-2 test vectors, PNG iTXt records (CRCs recomputed here with
 * zlib, the chunk layout walked independently), SVG <metadata> with XML
 * escaping, the CSV comment line, and damaged files refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cj.h"
#include "prov.h"

static char dir[] = "/tmp/cj_provXXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }
static void teardown(void)
{
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  (void)!system(cmd);
}
TestSuite(prov, .init = setup, .fini = teardown);

static const char *tmp(const char *name)
{
  static char path[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
  return path[k];
}

static void writebytes(const char *path, const void *b, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

static unsigned char *readbytes(const char *path, size_t *n)
{
  FILE *f = fopen(path, "rb");
  unsigned char *b;
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  rewind(f);
  b = malloc(*n + 1);
  cr_assert_eq(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

/* A minimal PNG: signature, IHDR (1x1 grey), IDAT, IEND, CRCs from zlib. */
static size_t chunk(unsigned char *p, const char *type, const unsigned char *d, uint32_t n)
{
  uLong crc;
  p[0] = (unsigned char)(n >> 24); p[1] = (unsigned char)(n >> 16);
  p[2] = (unsigned char)(n >> 8); p[3] = (unsigned char)n;
  memcpy(p + 4, type, 4);
  if (n) memcpy(p + 8, d, n);
  crc = crc32(0L, p + 4, n + 4);
  p[8 + n] = (unsigned char)(crc >> 24); p[9 + n] = (unsigned char)(crc >> 16);
  p[10 + n] = (unsigned char)(crc >> 8); p[11 + n] = (unsigned char)crc;
  return 12 + n;
}

static size_t minipng(unsigned char *b)
{
  static const unsigned char ihdr[13] = { 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0 };
  static const unsigned char idat[] = { 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01 };
  size_t n = 8;
  memcpy(b, "\x89PNG\r\n\x1a\n", 8);
  n += chunk(b + n, "IHDR", ihdr, 13);
  n += chunk(b + n, "IDAT", idat, sizeof idat);
  n += chunk(b + n, "IEND", NULL, 0);
  return n;
}

Test(prov, sha256_matches_the_fips_vectors)
{
  char hex[65];
  cj_sha256_hex("abc", 3, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  cj_sha256_hex("", 0, hex);
  cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  writebytes(tmp("abc"), "abc", 3);
  cr_assert_eq(cj_sha256_file(tmp("abc"), hex), CJ_OK);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  cr_assert_eq(cj_sha256_file(tmp("none"), hex), CJ_EIO);
}

Test(prov, png_record_is_an_itxt_chunk_after_ihdr_with_valid_crcs)
{
  unsigned char b[256], *out;
  const char *json = "{\"a\":\"<x> & y\"}";
  size_t n = minipng(b), m, at = 8, len;
  char *got;
  int chunks = 0;
  cj_provkind k;
  writebytes(tmp("a.png"), b, n);
  cr_assert_eq(cj_prov_kind(tmp("a.png"), &k), CJ_OK);
  cr_assert_eq(k, CJ_PROV_PNG);
  cr_assert_eq(cj_prov_png_get(tmp("a.png"), &got, &len), CJ_EFORMAT);
  cr_assert(strstr(cj_errmsg(), "no cajal provenance"), "%s", cj_errmsg());
  cr_assert_eq(cj_prov_png_put(tmp("a.png"), json, strlen(json)), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_prov_png_put(tmp("a.png"), json, strlen(json)), CJ_OK);   /* replaced, not added */
  out = readbytes(tmp("a.png"), &m);
  cr_assert_eq(m, n + 12 + sizeof CJ_PROV_KEYWORD + 4 + strlen(json));
  while (at < m) {                             /* walk and check every CRC */
    uint32_t l = (uint32_t)out[at] << 24 | (uint32_t)out[at + 1] << 16 | (uint32_t)out[at + 2] << 8 | out[at + 3];
    uLong crc = crc32(0L, out + at + 4, l + 4);
    cr_assert_eq(crc, (uLong)out[at + 8 + l] << 24 | (uLong)out[at + 9 + l] << 16 |
                      (uLong)out[at + 10 + l] << 8 | out[at + 11 + l]);
    if (chunks == 1) cr_assert(memcmp(out + at + 4, "iTXt", 4) == 0, "the record follows IHDR");
    chunks++;
    at += 12 + l;
  }
  cr_assert_eq(chunks, 4);
  cr_assert_eq(cj_prov_png_get(tmp("a.png"), &got, &len), CJ_OK, "%s", cj_errmsg());
  cr_assert_str_eq(got, json);
  cr_assert_eq(len, strlen(json));
  cj_free(got);
  /* a flipped byte in the record: bad CRC; the file cut short: past the end */
  out[8 + 25 + 8 + sizeof CJ_PROV_KEYWORD + 5] ^= 1;
  writebytes(tmp("b.png"), out, m);
  cr_assert_eq(cj_prov_png_get(tmp("b.png"), &got, &len), CJ_EFORMAT);
  cr_assert(strstr(cj_errmsg(), "bad CRC"), "%s", cj_errmsg());
  writebytes(tmp("c.png"), out, 8 + 25 + 20);
  cr_assert_eq(cj_prov_png_get(tmp("c.png"), &got, &len), CJ_EFORMAT);
  cr_assert(strstr(cj_errmsg(), "past the end"), "%s", cj_errmsg());
  cr_assert_eq(cj_prov_png_put(tmp("c.png"), json, strlen(json)), CJ_EFORMAT);
  free(out);
}

Test(prov, svg_record_is_escaped_metadata_after_the_svg_tag)
{
  const char *svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" data-x=\"a>b\"\n>\n<g/>\n</svg>\n";
  const char *json = "{\"t\":\"a < b && c > d\"}";
  size_t len, m;
  char *got;
  unsigned char *out;
  writebytes(tmp("a.svg"), svg, strlen(svg));
  cr_assert_eq(cj_prov_svg_put(tmp("a.svg"), json, strlen(json)), CJ_OK, "%s", cj_errmsg());
  cr_assert_eq(cj_prov_svg_put(tmp("a.svg"), json, strlen(json)), CJ_OK);
  out = readbytes(tmp("a.svg"), &m);
  out[m] = 0;
  cr_assert(strstr((char *)out, "\n>\n<metadata id=\"cajal-provenance\">{\"t\":\"a &lt; b &amp;&amp; c &gt; d\"}"
                   "</metadata>\n<g/>"), "%s", out);
  cr_assert_null(strstr(strstr((char *)out, "</metadata>") + 1, "<metadata"), "one record");
  free(out);
  cr_assert_eq(cj_prov_svg_get(tmp("a.svg"), &got, &len), CJ_OK, "%s", cj_errmsg());
  cr_assert_str_eq(got, json);
  cj_free(got);
  writebytes(tmp("b.svg"), "<svg><metadata id=\"cajal-provenance\">{", 38);
  cr_assert_eq(cj_prov_svg_get(tmp("b.svg"), &got, &len), CJ_EFORMAT);
  writebytes(tmp("c.txt"), "plain text", 10);
  cr_assert_eq(cj_prov_svg_put(tmp("c.txt"), json, strlen(json)), CJ_EFORMAT);
}

Test(prov, csv_record_is_the_first_comment_line)
{
  const char *csv = "# cajal-provenance: {\"x\":1}\r\na,b\n1,2\n";
  size_t len;
  char *got;
  cj_provkind k;
  writebytes(tmp("a.csv"), csv, strlen(csv));
  cr_assert_eq(cj_prov_kind(tmp("a.csv"), &k), CJ_OK);
  cr_assert_eq(k, CJ_PROV_CSV);
  cr_assert_eq(cj_prov_csv_get(tmp("a.csv"), &got, &len), CJ_OK, "%s", cj_errmsg());
  cr_assert_str_eq(got, "{\"x\":1}");
  cj_free(got);
  writebytes(tmp("b.csv"), "a,b\n", 4);
  cr_assert_eq(cj_prov_csv_get(tmp("b.csv"), &got, &len), CJ_EFORMAT);
  writebytes(tmp("c.csv"), "# cajal-provenance: \n", 21);
  cr_assert_eq(cj_prov_csv_get(tmp("c.csv"), &got, &len), CJ_EFORMAT);
}
