/*
 * jit.h — compiling generated kernel C into a shared object, through a
 * cache on disk, and loading it (vm/core/IR.md §5).
 *
 * The compiler is $CC when set (it may carry arguments: "ccache gcc"), else
 * the one found at configure time (CAJAL_JIT_CC). CAJAL_JIT=off, or no
 * compiler on the system, makes cj_jit_available() false and the network
 * runs on the interpreter.
 *
 * Cache: $CAJAL_CACHE, else $XDG_CACHE_HOME/cajal, else ~/.cache/cajal,
 * created with mode 0700 and refused when writable by others. An entry is
 * <key>.so, key = 128-bit FNV-1a hash of (source, compiler command, the
 * compiler's resolved path and file identity, flags, CJ_VERSION, kernel
 * ABI, CPU identity — flags include -march=native). A trailer after the ELF
 * data holds the key and a hash of the file, checked before every load; a
 * corrupt or truncated entry is compiled again. Entries are compiled under
 * a temporary name in the same directory and renamed into place, so
 * concurrent processes never see a partial file.
 */
#ifndef CJ_JIT_H
#define CJ_JIT_H

#include "cj.h"
#include "interp.h"

typedef struct cj_jit cj_jit;

/* Which model line produced kernel `id`: used to explain compiler errors. */
typedef struct cj_jitline { int id, line; const char *name; } cj_jitline;

/* 1 if kernels can be compiled; else 0 and why (buf may be NULL). */
int cj_jit_available(char *why, size_t n);

/* Compile (or find in the cache) and load. On a compiler error the
 * message names the model line of the kernel whose code failed:
 * "model line 12 (kernel 3 'E_update'): C compiler error: ..." */
int cj_jit_compile(const char *source, const cj_jitline *lines, int nlines, cj_jit **out);
/* The function cjk_<id>, or NULL. */
cj_kfn cj_jit_kernel(cj_jit *j, int id);
const char *cj_jit_path(const cj_jit *j);
/* 1 if this handle came from the cache without running the compiler. */
int cj_jit_cached(const cj_jit *j);
void cj_jit_release(cj_jit *j);

typedef struct cj_jitstats {
  long compiles;   /* compiler runs (successful or not) */
  long hits;       /* loads from the cache */
  long rebuilds;   /* corrupt entries compiled again */
} cj_jitstats;
void cj_jit_stats(cj_jitstats *s);

/* The cache directory (not necessarily existing yet). */
int cj_jit_cache_dir(char *buf, size_t n);
/* Remove cache entries (and stale temporaries); *removed counts files. */
int cj_jit_cache_clear(long *removed);
/* The compiler command and flags in use (for messages and dumps). */
const char *cj_jit_flags(void);

#endif
