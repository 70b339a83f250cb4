/*
 * cj.h — what every part of libcajal shares: the version, status codes and
 * the error channel.
 *
 * libcajal never includes Lua headers. A function that can fail returns an
 * int status (CJ_OK == 0) and, on failure, leaves a message retrievable with
 * cj_errmsg() — one per thread, overwritten by the next failure. Bindings
 * turn that message into a Lua error; C tests print it.
 */
#ifndef CJ_H
#define CJ_H

#include <stddef.h>
#include <stdint.h>

#define CJ_VERSION "0.1.0"

enum {
  CJ_OK = 0,
  CJ_ENOMEM,    /* allocation failed */
  CJ_EINVAL,    /* bad argument: wrong shape, dtype, value */
  CJ_ERANGE,    /* index or value out of range */
  CJ_EIO,       /* a file could not be opened, read or written */
  CJ_EFORMAT,   /* a file or string is malformed */
  CJ_EUNIT,     /* dimensions do not match */
  CJ_ERUNTIME   /* anything else found while running (NaN state, compiler failure) */
};

/* Record a failure: formats the message, returns code (so `return cj_fail(...)`). */
int cj_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;
/* The message of the last failure on this thread ("" if none). */
const char *cj_errmsg(void);
/* Add context in front of the current message: "ctx: old message". */
void cj_errprefix(const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 1, 2)))
#endif
  ;

/* Allocation hooks: all large allocations of libcajal go through these, so a
 * host can count them (fault injection) or report them to a collector. */
void *cj_malloc(size_t n);
void *cj_calloc(size_t n, size_t size);
void *cj_realloc(void *p, size_t n);
void cj_free(void *p);
typedef void *(*cj_allocf)(void *ud, void *ptr, size_t osize, size_t nsize);
/* Replace the allocator (NULL restores malloc/free). Not thread-safe: call at start-up. */
void cj_set_allocator(cj_allocf f, void *ud);

#endif
