/*
 * regex.c — PCRE2 behind the small API of regex.h.
 *
 * Each compiled pattern carries its own PCRE2 general context, whose
 * allocator is cj_malloc/cj_free, so fault injection and leak checks see
 * PCRE2's memory like the rest of libcajal's. JIT compilation is attempted
 * once; a pattern that the JIT refuses, or a match that overflows the JIT
 * stack, runs on PCRE2's interpreter instead (same results, slower).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "regex.h"

/* PCRE2's JIT scans subjects with vector loads that may read a few bytes
 * past the end of the string (never past its page), which memcheck reports
 * as uses of uninitialised memory. Under valgrind the interpreter runs
 * instead, so memcheck's findings stay meaningful. */
#include "onvalgrind.h"

struct cj_regex {
  pcre2_code *code;
  pcre2_general_context *gctx;
  unsigned flags;
  int jit;
  uint32_t ngroups, nnames, entrysize;
  PCRE2_SPTR nametable;
};

struct cj_rematch {
  pcre2_match_data *md;
  uint32_t npairs;   /* ovector pairs: ngroups + 1 */
  int valid;         /* the last exec matched */
};

static void *gmalloc(size_t n, void *ud) { (void)ud; return cj_malloc(n); }
static void gfree(void *p, void *ud) { (void)ud; cj_free(p); }

static const char flagchars[] = "imsxu";

int cj_regex_parseflags(const char *s, unsigned *flags)
{
  *flags = 0;
  if (!s) return CJ_OK;
  for (; *s; s++) {
    const char *p = strchr(flagchars, *s);
    if (!p)
      return cj_fail(CJ_EINVAL, "unknown regex flag '%c' (expected i, m, s, x or u)", *s);
    *flags |= 1u << (p - flagchars);
  }
  return CJ_OK;
}

void cj_regex_flagstring(unsigned flags, char buf[6])
{
  int n = 0;
  for (int i = 0; flagchars[i]; i++)
    if (flags & (1u << i)) buf[n++] = flagchars[i];
  buf[n] = '\0';
}

static uint32_t pcreoptions(unsigned flags)
{
  uint32_t o = 0;
  if (flags & CJ_RE_CASELESS) o |= PCRE2_CASELESS;
  if (flags & CJ_RE_MULTILINE) o |= PCRE2_MULTILINE;
  if (flags & CJ_RE_DOTALL) o |= PCRE2_DOTALL;
  if (flags & CJ_RE_EXTENDED) o |= PCRE2_EXTENDED;
  if (flags & CJ_RE_UTF) o |= PCRE2_UTF | PCRE2_UCP;
  return o;
}

static void errtext(int code, char *buf, size_t n)
{
  if (pcre2_get_error_message(code, (PCRE2_UCHAR *)buf, n) < 0)
    snprintf(buf, n, "PCRE2 error %d", code);
}

static void readinfo(cj_regex *re)
{
  pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
  pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &re->nnames);
  pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &re->entrysize);
  pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &re->nametable);
}

int cj_regex_compile(cj_regex **out, const char *pattern, size_t len,
                     unsigned flags, size_t *erroffset)
{
  int err;
  PCRE2_SIZE off = 0;
  pcre2_compile_context *cctx = NULL;
  cj_regex *re = cj_calloc(1, sizeof *re);
  *out = NULL;
  if (erroffset) *erroffset = 0;
  if (!re) return cj_fail(CJ_ENOMEM, "out of memory compiling a regex");
  re->flags = flags;
  re->gctx = pcre2_general_context_create(gmalloc, gfree, NULL);
  if (re->gctx) cctx = pcre2_compile_context_create(re->gctx);
  if (!cctx) {
    cj_regex_free(re);
    return cj_fail(CJ_ENOMEM, "out of memory compiling a regex");
  }
  re->code = pcre2_compile((PCRE2_SPTR)pattern, len, pcreoptions(flags),
                           &err, &off, cctx);
  pcre2_compile_context_free(cctx);
  if (!re->code) {
    char msg[256];
    cj_regex_free(re);
    if (err == PCRE2_ERROR_HEAP_FAILED)
      return cj_fail(CJ_ENOMEM, "out of memory compiling a regex");
    errtext(err, msg, sizeof msg);
    if (erroffset) *erroffset = off;
    return cj_fail(CJ_EINVAL, "invalid regex at offset %zu: %s", (size_t)off, msg);
  }
  re->jit = !RUNNING_ON_VALGRIND && pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
  readinfo(re);
  *out = re;
  return CJ_OK;
}

void cj_regex_free(cj_regex *re)
{
  if (!re) return;
  pcre2_code_free(re->code);
  pcre2_general_context_free(re->gctx);
  cj_free(re);
}

unsigned cj_regex_flags(const cj_regex *re) { return re->flags; }
int cj_regex_isjit(const cj_regex *re) { return re->jit; }
int cj_regex_ngroups(const cj_regex *re) { return (int)re->ngroups; }
int cj_regex_nnames(const cj_regex *re) { return (int)re->nnames; }

const char *cj_regex_name(const cj_regex *re, int i, int *group)
{
  PCRE2_SPTR e;
  if (i < 0 || (uint32_t)i >= re->nnames) return NULL;
  e = re->nametable + (size_t)i * re->entrysize;
  if (group) *group = (e[0] << 8) | e[1];
  return (const char *)(e + 2);
}

int cj_regex_group(const cj_regex *re, const char *name)
{
  int best = -1;
  for (uint32_t i = 0; i < re->nnames; i++) {
    int g = 0;
    const char *n = cj_regex_name(re, (int)i, &g);
    if (strcmp(n, name) == 0 && (best < 0 || g < best)) best = g;
  }
  return best;
}

cj_rematch *cj_rematch_new(const cj_regex *re)
{
  cj_rematch *m = cj_calloc(1, sizeof *m);
  if (!m) return NULL;
  m->md = pcre2_match_data_create_from_pattern(re->code, re->gctx);
  if (!m->md) { cj_free(m); return NULL; }
  m->npairs = pcre2_get_ovector_count(m->md);
  return m;
}

void cj_rematch_free(cj_rematch *m)
{
  if (!m) return;
  pcre2_match_data_free(m->md);
  cj_free(m);
}

/* A failed pcre2_match (other than "no match") as a cajal error. */
static int matcherror(cj_rematch *m, int rc, size_t start)
{
  char msg[256];
  errtext(rc, msg, sizeof msg);
  if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
    return cj_fail(CJ_EINVAL, "invalid UTF-8 in subject at offset %zu: %s",
                   (size_t)pcre2_get_startchar(m->md), msg);
  if (rc == PCRE2_ERROR_BADUTFOFFSET)
    return cj_fail(CJ_EINVAL, "start offset %zu is inside a UTF-8 character", start);
  if (rc == PCRE2_ERROR_NOMEMORY || rc == PCRE2_ERROR_HEAPLIMIT)
    return cj_fail(CJ_ENOMEM, "out of memory matching a regex");
  return cj_fail(CJ_ERUNTIME, "regex match failed: %s", msg);
}

int cj_regex_exec(const cj_regex *re, cj_rematch *m, const char *subject,
                  size_t len, size_t start, unsigned opts, int *found)
{
  uint32_t o = 0;
  int rc;
  *found = 0;
  m->valid = 0;
  if (start > len)
    return cj_fail(CJ_EINVAL, "start offset %zu is past the end of the subject (length %zu)",
                   start, len);
  if (opts & CJ_RE_ANCHORED) o |= PCRE2_ANCHORED;
  if (opts & CJ_RE_NOTEMPTY) o |= PCRE2_NOTEMPTY_ATSTART;
  if (opts & CJ_RE_NOUTFCHECK) o |= PCRE2_NO_UTF_CHECK;
  rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, start, o, m->md, NULL);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
    rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, start, o | PCRE2_NO_JIT,
                     m->md, NULL);
  if (rc == PCRE2_ERROR_NOMATCH) return CJ_OK;
  if (rc < 0) return matcherror(m, rc, start);
  m->valid = 1;
  *found = 1;
  return CJ_OK;
}

int cj_rematch_span(const cj_rematch *m, int i, size_t *start, size_t *end)
{
  const PCRE2_SIZE *ov;
  if (!m->valid || i < 0 || (uint32_t)i >= m->npairs) return 0;
  ov = pcre2_get_ovector_pointer(m->md);
  if (ov[2 * i] == PCRE2_UNSET) return 0;
  *start = ov[2 * i];
  *end = ov[2 * i + 1];
  if (*end < *start) *end = *start;   /* \K cases: never a negative span */
  return 1;
}

void cj_reiter_init(cj_reiter *it, size_t start)
{
  it->pos = start;
  it->last = (size_t)-1;
  it->checked = 0;
  it->done = 0;
}

/* One character forward from p: a whole UTF-8 sequence in UTF mode. */
static size_t nextchar(const cj_regex *re, const char *s, size_t len, size_t p)
{
  p++;
  if (re->flags & CJ_RE_UTF)
    while (p < len && ((unsigned char)s[p] & 0xC0) == 0x80) p++;
  return p;
}

int cj_regex_next(const cj_regex *re, cj_rematch *m, const char *subject,
                  size_t len, cj_reiter *it, int *found)
{
  *found = 0;
  while (!it->done && it->pos <= len) {
    size_t a = 0, b = 0;
    unsigned o = it->checked ? CJ_RE_NOUTFCHECK : 0;
    int f, rc = cj_regex_exec(re, m, subject, len, it->pos, o, &f);
    if (rc) { it->done = 1; return rc; }
    it->checked = 1;
    if (!f) break;
    cj_rematch_span(m, 0, &a, &b);
    if (a == b && a == it->last) {
      rc = cj_regex_exec(re, m, subject, len, a,
                         o | CJ_RE_NOUTFCHECK | CJ_RE_ANCHORED | CJ_RE_NOTEMPTY, &f);
      if (rc) { it->done = 1; return rc; }
      if (!f) { it->pos = nextchar(re, subject, len, a); continue; }
      cj_rematch_span(m, 0, &a, &b);
    }
    it->last = it->pos = b;
    *found = 1;
    return CJ_OK;
  }
  it->done = 1;
  return CJ_OK;
}
