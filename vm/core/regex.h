/*
 * regex.h — regular expressions for libcajal: a thin, checked wrapper of
 * PCRE2 (8-bit code units; UTF-8 mode on request), JIT-compiled where the
 * platform allows.
 *
 * A cj_regex is compiled once and is immutable afterwards; matching needs a
 * cj_rematch (the capture offsets), so one pattern can be used by several
 * matches at a time, and a match can be read after the subject was scanned
 * again with another cj_rematch. All memory goes through cj_malloc/cj_free
 * (the JIT's executable pages excepted: PCRE2 maps those itself).
 *
 * Offsets are byte offsets, 0-based, and half-open: group i spans
 * [start, end). The binding converts them to Lua's 1-based inclusive ones.
 */
#ifndef CJ_REGEX_H
#define CJ_REGEX_H

#include "cj.h"

/* Compile flags (also spelled as a string: "i", "m", "s", "x", "u"). */
enum {
  CJ_RE_CASELESS  = 1 << 0,  /* "i": case-insensitive */
  CJ_RE_MULTILINE = 1 << 1,  /* "m": ^ and $ match at line breaks */
  CJ_RE_DOTALL    = 1 << 2,  /* "s": . matches a newline too */
  CJ_RE_EXTENDED  = 1 << 3,  /* "x": whitespace and # comments ignored */
  CJ_RE_UTF       = 1 << 4   /* "u": pattern and subjects are UTF-8, Unicode properties */
};

/* Match options of cj_regex_exec. */
enum {
  CJ_RE_ANCHORED   = 1 << 0,  /* match only at the start offset */
  CJ_RE_NOTEMPTY   = 1 << 1,  /* an empty match at the start offset is not a match */
  CJ_RE_NOUTFCHECK = 1 << 2   /* UTF mode: the subject was already checked */
};

typedef struct cj_regex cj_regex;
typedef struct cj_rematch cj_rematch;

/* Parse a flags string such as "im" into *flags. NULL means no flags.
 * CJ_EINVAL naming the unknown letter. */
int cj_regex_parseflags(const char *s, unsigned *flags);
/* The flags as a string in canonical order ("imsxu" subset) into buf[6]. */
void cj_regex_flagstring(unsigned flags, char buf[6]);

/* Compile pattern[0..len) (it may contain NUL bytes). On success *out owns
 * the compiled pattern (free with cj_regex_free). On failure *out is NULL
 * and the status is CJ_EINVAL with the message
 * "invalid regex at offset N: <PCRE2's message>" (N also stored in
 * *erroffset when erroffset is not NULL), or CJ_ENOMEM. */
int cj_regex_compile(cj_regex **out, const char *pattern, size_t len,
                     unsigned flags, size_t *erroffset);
void cj_regex_free(cj_regex *re);

unsigned cj_regex_flags(const cj_regex *re);
int cj_regex_isjit(const cj_regex *re);          /* 1 if JIT-compiled */
int cj_regex_ngroups(const cj_regex *re);        /* capturing groups, not counting group 0 */
/* Named groups: i in [0, cj_regex_nnames). Names come sorted; a name may
 * repeat (with (?J)) for several groups. Returns the name, fills *group. */
int cj_regex_nnames(const cj_regex *re);
const char *cj_regex_name(const cj_regex *re, int i, int *group);
/* The lowest-numbered group called name, or -1. */
int cj_regex_group(const cj_regex *re, const char *name);

/* Match storage for a pattern's groups. NULL when out of memory. */
cj_rematch *cj_rematch_new(const cj_regex *re);
void cj_rematch_free(cj_rematch *m);

/* Search subject[0..len) from byte offset start (lookbehinds see the text
 * before it). *found is 1 with the groups in m, or 0. Failures (start past
 * the end, invalid UTF-8 or a start inside a character in UTF mode, the
 * backtracking limit) return CJ_EINVAL / CJ_ERUNTIME with a message. */
int cj_regex_exec(const cj_regex *re, cj_rematch *m, const char *subject,
                  size_t len, size_t start, unsigned opts, int *found);
/* Span of group i of the last successful exec: 1 and [*start, *end) if the
 * group took part in the match, 0 if it did not (or i is out of range). */
int cj_rematch_span(const cj_rematch *m, int i, size_t *start, size_t *end);

/* Iteration over successive matches, the rule shared by gmatch, gsub,
 * findall and split: the search resumes where the last match ended, and an
 * empty match right where the previous match ended is not accepted (a
 * non-empty match there is looked for instead; failing that, the search
 * moves on by one character — a whole UTF-8 sequence in UTF mode). This is
 * Lua 5.4's rule: gsub("hello world", "\\w*", "X") gives "X X". */
typedef struct cj_reiter {
  size_t pos;      /* where the next search starts */
  size_t last;     /* end of the previous match, (size_t)-1 before the first */
  int checked;     /* UTF mode: the subject was validated */
  int done;
} cj_reiter;

void cj_reiter_init(cj_reiter *it, size_t start);
/* Next match into m: *found 1 or 0 (then the iteration is over). */
int cj_regex_next(const cj_regex *re, cj_rematch *m, const char *subject,
                  size_t len, cj_reiter *it, int *found);

#endif
