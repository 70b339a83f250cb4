/*
 * jit.h — compiling generated kernel C into a shared object, through a
 * cache on disk, and loading it (vm/core/IR.md §5).
 *
 * The compiler is $CC when set (it may carry arguments: "ccache gcc"), else
 * the one found at configure time (CAJAL_JIT_CC). CAJAL_JIT=off, or no
 * compiler on the system, makes cj_jit_available() false and the network
 * runs on the interpreter. The compiler runs in the cache directory, in a
 * process group of its own, with a time limit of $CAJAL_JIT_TIMEOUT seconds
 * (default 300); past it the group is killed.
 *
 * Cache: $CAJAL_CACHE, else $XDG_CACHE_HOME/cajal, else ~/.cache/cajal,
 * created with mode 0700. Another local user must not be able to make this
 * process load their code, so the directory is opened once (O_NOFOLLOW: a
 * symbolic link in its place is refused) and checked on that descriptor:
 * ours, writable by nobody else; every folder above it (links resolved)
 * must be owned by root or us and not writable by others unless sticky
 * (/tmp). Every later step is relative to the descriptor (openat,
 * renameat; the compiler runs with it as working directory). An entry
 * <key>.so is opened O_NOFOLLOW, must be a regular file of ours that
 * nobody else may write, and is checked and dlopen'd through the same
 * descriptor (/proc/self/fd/N).
 *
 * Names and trailers are keyed: the directory holds a per-user secret
 * ('secret', 16 random bytes, 0600, made on first use); key = SipHash-2-4
 * (128 bits) under the secret of (uid, source, compiler command and the
 * compiler's resolved path and file identity, flags, CJ_VERSION, kernel
 * ABI, CPU identity — flags include -march=native); the trailer after the
 * ELF data holds the key and a SipHash MAC of the file under the secret,
 * checked before every load. Without the secret nobody can make an entry
 * that passes (the FNV hash used before could be recomputed by anyone).
 * A corrupt or truncated entry is compiled again. Entries are compiled
 * under a temporary name in the directory and renamed into place, so
 * concurrent processes never see a partial file; concurrent cold loads of
 * one model compile once (the others wait on <key>.lock, flock).
 *
 * Failures: cj_jit_compile returns CJ_ERUNTIME when the compiler rejected
 * the generated C (an error located in it; the message names the model
 * line) or a loaded object has the wrong ABI, and CJ_EIO when the
 * environment failed (no compiler, an unsafe or unwritable cache, a full
 * disk, no assembler, the compiler killed by a signal or past its time
 * limit): the message names the real cause, and the caller may run the
 * interpreter instead.
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
/* The same in the background (a tiered start): on a cache hit *out is the
 * loaded kernels and *job NULL; else *job is a compile running as a child
 * process (*out NULL), to be advanced by cj_jit_poll between steps. Errors
 * found before the compiler starts (no compiler, an unsafe cache) are
 * returned here, as by cj_jit_compile. */
typedef struct cj_jitjob cj_jitjob;
int cj_jit_start(const char *source, const cj_jitline *lines, int nlines, cj_jit **out, cj_jitjob **job);
/* Advance the job (every job of the process, in fact) without blocking, or
 * with wait until it has ended. 0 and *out NULL: still compiling; 0 and
 * *out: the kernels, loaded (a new handle at each such call); else the
 * failure, as cj_jit_compile reports it (CJ_ERUNTIME: the compiler rejected
 * the C; CJ_EIO: the environment). */
int cj_jit_poll(cj_jitjob *job, int wait, cj_jit **out);
/* 1 while the job waits for the lock or the compiler runs. */
int cj_jit_running(const cj_jitjob *job);
/* The owner is done with job. A compiler still running is not stopped: the
 * job stays in the process's list, is advanced by later polls of any job
 * and waited for at exit (within CAJAL_JIT_TIMEOUT), so the entry reaches
 * the cache for the next load. */
void cj_jit_job_release(cj_jitjob *job);

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

/* SipHash-2-4 with a 128-bit result (exposed for its test vectors). */
void cj_jit_siphash128(const unsigned char key[16], const void *p, size_t n, unsigned char out[16]);

/* The cache directory (not necessarily existing yet). */
int cj_jit_cache_dir(char *buf, size_t n);
/* Remove cache entries (and stale temporaries); *removed counts files. */
int cj_jit_cache_clear(long *removed);
/* The compiler command and flags in use (for messages and dumps). */
const char *cj_jit_flags(void);

#endif
