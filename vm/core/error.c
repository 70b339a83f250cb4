/*
 * error.c — the error channel and allocation hooks of libcajal (see cj.h).
 */
#include "cj.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[1024];

int cj_fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return code;
}

const char *cj_errmsg(void)
{
  return errbuf;
}

void cj_errprefix(const char *fmt, ...)
{
  char old[sizeof errbuf];
  size_t n;
  va_list ap;
  memcpy(old, errbuf, sizeof old);
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  n = strlen(errbuf);
  if (n + 2 < sizeof errbuf) {
    memcpy(errbuf + n, ": ", 2);
    strncpy(errbuf + n + 2, old, sizeof errbuf - n - 3);
    errbuf[sizeof errbuf - 1] = '\0';
  }
}

static cj_allocf allocf = NULL;
static void *alloc_ud = NULL;

void cj_set_allocator(cj_allocf f, void *ud)
{
  allocf = f;
  alloc_ud = ud;
}

/* A size header keeps osize available to allocators that want it. */
typedef union { size_t n; max_align_t align; } hdr;

void *cj_malloc(size_t n)
{
  if (!allocf) return malloc(n ? n : 1);
  hdr *h = allocf(alloc_ud, NULL, 0, n + sizeof(hdr));
  if (!h) return NULL;
  h->n = n;
  return h + 1;
}

void *cj_calloc(size_t n, size_t size)
{
  if (size && n > (size_t)-1 / size) return NULL;
  if (!allocf) return calloc(n ? n : 1, size ? size : 1);
  void *p = cj_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *cj_realloc(void *p, size_t n)
{
  if (!allocf) return realloc(p, n ? n : 1);
  if (!p) return cj_malloc(n);
  hdr *h = (hdr *)p - 1;
  hdr *q = allocf(alloc_ud, h, h->n + sizeof(hdr), n + sizeof(hdr));
  if (!q) return NULL;
  q->n = n;
  return q + 1;
}

void cj_free(void *p)
{
  if (!p) return;
  if (!allocf) { free(p); return; }
  hdr *h = (hdr *)p - 1;
  allocf(alloc_ud, h, h->n + sizeof(hdr), 0);
}
