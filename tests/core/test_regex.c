/*
 * test_regex.c — the PCRE2 wrapper of libcajal (vm/core/regex.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"
#include "testutil.h"

static cj_regex *compile(const char *pat, const char *flags)
{
  unsigned f;
  cj_regex *re;
  cr_assert_eq(cj_regex_parseflags(flags, &f), CJ_OK);
  cr_assert_eq(cj_regex_compile(&re, pat, strlen(pat), f, NULL), CJ_OK, "%s", cj_errmsg());
  return re;
}

/* The text of group i of the last match, or "<unset>". */
static const char *group(cj_rematch *m, const char *s, int i)
{
  static char buf[256];
  size_t a, b;
  if (!cj_rematch_span(m, i, &a, &b)) return "<unset>";
  memcpy(buf, s + a, b - a);
  buf[b - a] = '\0';
  return buf;
}

/* All matches of pat in s joined as "[a,b)" spans. */
static void spans(const char *pat, const char *flags, const char *s, char *out)
{
  cj_regex *re = compile(pat, flags);
  cj_rematch *m = cj_rematch_new(re);
  cj_reiter it;
  int found;
  size_t a, b;
  out[0] = '\0';
  cj_reiter_init(&it, 0);
  while (cj_regex_next(re, m, s, strlen(s), &it, &found) == CJ_OK && found) {
    cj_rematch_span(m, 0, &a, &b);
    sprintf(out + strlen(out), "[%zu,%zu)", a, b);
  }
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, flags_parse_and_print)
{
  unsigned f;
  char buf[6];
  cr_assert_eq(cj_regex_parseflags("xiu", &f), CJ_OK);
  cr_assert_eq(f, CJ_RE_CASELESS | CJ_RE_EXTENDED | CJ_RE_UTF);
  cj_regex_flagstring(f, buf);
  cr_assert_str_eq(buf, "ixu");
  cr_assert_eq(cj_regex_parseflags(NULL, &f), CJ_OK);
  cr_assert_eq(f, 0);
  cr_assert_eq(cj_regex_parseflags("iq", &f), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "unknown regex flag 'q'"), "%s", cj_errmsg());
}

Test(regex, bad_pattern_reports_offset_and_message)
{
  cj_regex *re = (cj_regex *)1;
  size_t off = 99;
  cr_assert_eq(cj_regex_compile(&re, "(ab", 3, 0, &off), CJ_EINVAL);
  cr_assert_null(re);
  cr_assert_eq(off, 3);
  cr_assert_str_eq(cj_errmsg(), "invalid regex at offset 3: missing closing parenthesis");
  cr_assert_eq(cj_regex_compile(&re, "a{2,1}", 6, 0, &off), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "at offset 5:"), "%s", cj_errmsg());
  cr_assert_eq(cj_regex_compile(&re, "\\", 1, 0, &off), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "\\ at end of pattern"), "%s", cj_errmsg());
}

Test(regex, numbered_and_named_groups)
{
  const char *s = "key=value; n=42";
  cj_regex *re = compile("(?<name>\\w+)=(?<num>\\d+)|(x)", NULL);
  cj_rematch *m = cj_rematch_new(re);
  int found, g;
  cr_assert_eq(cj_regex_ngroups(re), 3);
  cr_assert_eq(cj_regex_nnames(re), 2);
  cr_assert_str_eq(cj_regex_name(re, 0, &g), "name");
  cr_assert_eq(g, 1);
  cr_assert_str_eq(cj_regex_name(re, 1, &g), "num");
  cr_assert_eq(g, 2);
  cr_assert_null(cj_regex_name(re, 2, &g));
  cr_assert_eq(cj_regex_group(re, "num"), 2);
  cr_assert_eq(cj_regex_group(re, "nope"), -1);
  cr_assert_eq(cj_regex_exec(re, m, s, strlen(s), 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cr_assert_str_eq(group(m, s, 0), "n=42");
  cr_assert_str_eq(group(m, s, 1), "n");
  cr_assert_str_eq(group(m, s, 2), "42");
  cr_assert_str_eq(group(m, s, 3), "<unset>");
  cr_assert_str_eq(group(m, s, 9), "<unset>");
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, offset_search_sees_lookbehind_and_anchoring)
{
  const char *s = "ab ab";
  cj_regex *re = compile("(?<=a)b", NULL);
  cj_rematch *m = cj_rematch_new(re);
  size_t a, b;
  int found;
  cr_assert_eq(cj_regex_exec(re, m, s, 5, 4, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cj_rematch_span(m, 0, &a, &b);
  cr_assert_eq(a, 4);
  cr_assert_eq(b, 5);
  cr_assert_eq(cj_regex_exec(re, m, s, 5, 2, CJ_RE_ANCHORED, &found), CJ_OK);
  cr_assert_eq(found, 0);
  cr_assert_eq(cj_rematch_span(m, 0, &a, &b), 0, "a failed match leaves no spans");
  cr_assert_eq(cj_regex_exec(re, m, s, 5, 6, 0, &found), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "past the end"), "%s", cj_errmsg());
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, compile_flags_change_matching)
{
  const char *s = "One\ntwo";
  cj_regex *re = compile("^TWO$", "im");
  cj_regex *dot = compile("e.t", "s");
  cj_regex *ext = compile("t w o  # comment", "x");
  cj_rematch *m = cj_rematch_new(re);
  int found;
  cr_assert_eq(cj_regex_exec(re, m, s, 7, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cj_rematch_free(m);
  m = cj_rematch_new(dot);
  cr_assert_eq(cj_regex_exec(dot, m, s, 7, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cj_rematch_free(m);
  m = cj_rematch_new(ext);
  cr_assert_eq(cj_regex_exec(ext, m, s, 7, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cr_assert_str_eq(group(m, s, 0), "two");
  cj_rematch_free(m);
  cj_regex_free(re);
  cj_regex_free(dot);
  cj_regex_free(ext);
  re = compile("^two$", NULL);     /* without m, ^ and $ are the subject's ends */
  m = cj_rematch_new(re);
  cr_assert_eq(cj_regex_exec(re, m, s, 7, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 0);
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, utf_mode_counts_characters_and_rejects_bad_utf8)
{
  const char *s = "\xc3\xa9t\xc3\xa9";            /* "été" */
  cj_regex *re = compile("^.t.$", "u");
  cj_regex *bytes = compile("^.t.$", NULL);
  cj_regex *word = compile("\\w+", "u");
  cj_regex *bad = re;
  cj_rematch *m = cj_rematch_new(re), *mb = cj_rematch_new(bytes), *mw = cj_rematch_new(word);
  int found;
  cr_assert_eq(cj_regex_exec(re, m, s, 5, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cr_assert_eq(cj_regex_exec(bytes, mb, s, 5, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 0, "in byte mode '.' is one byte");
  cr_assert_eq(cj_regex_exec(word, mw, s, 5, 0, 0, &found), CJ_OK);
  cr_assert_str_eq(group(mw, s, 0), s, "\\w is Unicode-aware in UTF mode");
  cr_assert_eq(cj_regex_exec(re, m, "a\xff", 2, 0, 0, &found), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "invalid UTF-8 in subject at offset 1"), "%s", cj_errmsg());
  cr_assert_eq(cj_regex_exec(re, m, s, 5, 1, 0, &found), CJ_EINVAL);
  cr_assert(strstr(cj_errmsg(), "inside a UTF-8 character"), "%s", cj_errmsg());
  cr_assert_eq(cj_regex_compile(&bad, "\xff", 1, CJ_RE_UTF, NULL), CJ_EINVAL);
  cr_assert_null(bad, "a failed compile leaves *out NULL");
  cr_assert(strstr(cj_errmsg(), "invalid regex at offset 0: UTF-8 error"), "%s", cj_errmsg());
  cj_rematch_free(m);
  cj_regex_free(re);
  cj_rematch_free(mb);
  cj_rematch_free(mw);
  cj_regex_free(bytes);
  cj_regex_free(word);
}

Test(regex, pattern_and_subject_may_hold_nul_bytes)
{
  cj_regex *re;
  cj_rematch *m;
  int found;
  size_t a, b;
  cr_assert_eq(cj_regex_compile(&re, "b\0c", 3, 0, NULL), CJ_OK);
  m = cj_rematch_new(re);
  cr_assert_eq(cj_regex_exec(re, m, "ab\0cd", 5, 0, 0, &found), CJ_OK);
  cr_assert_eq(found, 1);
  cj_rematch_span(m, 0, &a, &b);
  cr_assert_eq(a, 1);
  cr_assert_eq(b, 4);
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, iteration_skips_empty_match_after_previous_match)
{
  char out[512];
  spans("\\w*", NULL, "hello world", out);           /* Lua 5.4: "X X" */
  cr_assert_str_eq(out, "[0,5)[6,11)");
  spans("x*", NULL, "abc", out);                     /* Lua 5.4: "-a-b-c-" */
  cr_assert_str_eq(out, "[0,0)[1,1)[2,2)[3,3)");
  spans("", NULL, "", out);
  cr_assert_str_eq(out, "[0,0)");
  spans("a|", NULL, "aab", out);                     /* empty after a match is skipped */
  cr_assert_str_eq(out, "[0,1)[1,2)[3,3)");
  spans("|b", NULL, "ab", out);                      /* a non-empty match is preferred there */
  cr_assert_str_eq(out, "[0,0)[1,1)[1,2)");
  spans("", "u", "\xc3\xa9\xe2\x82\xac", out);       /* "é€": advance by whole characters */
  cr_assert_str_eq(out, "[0,0)[2,2)[5,5)");
  spans("\\d+", NULL, "a1b22c333", out);
  cr_assert_str_eq(out, "[1,2)[3,5)[6,9)");
}

Test(regex, iteration_starts_at_offset)
{
  cj_regex *re = compile("\\d", NULL);
  cj_rematch *m = cj_rematch_new(re);
  cj_reiter it;
  int found, n = 0;
  cj_reiter_init(&it, 3);
  while (cj_regex_next(re, m, "1234", 4, &it, &found) == CJ_OK && found) n++;
  cr_assert_eq(n, 1);
  cj_reiter_init(&it, 5);   /* past the end: nothing, no error */
  cr_assert_eq(cj_regex_next(re, m, "1234", 4, &it, &found), CJ_OK);
  cr_assert_eq(found, 0);
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, catastrophic_backtracking_is_an_error_not_a_hang)
{
  cj_regex *re = compile("^(\\w+\\s?)*$", NULL);
  cj_rematch *m = cj_rematch_new(re);
  const char *s = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
  int found;
  cr_assert_eq(cj_regex_exec(re, m, s, strlen(s), 0, 0, &found), CJ_ERUNTIME);
  cr_assert(strstr(cj_errmsg(), "regex match failed: match limit exceeded"), "%s", cj_errmsg());
  cj_rematch_free(m);
  cj_regex_free(re);
}

Test(regex, many_groups_and_long_subjects)
{
  char pat[2000] = "";
  char *s = malloc(1 << 20);
  cj_regex *re;
  cj_rematch *m;
  cj_reiter it;
  int found, n = 0;
  for (int i = 0; i < 200; i++) strcat(pat, "(.)");
  re = compile(pat, NULL);
  cr_assert_eq(cj_regex_ngroups(re), 200);
  cj_regex_free(re);
  for (int i = 0; i < (1 << 20); i++) s[i] = (i % 7 == 0) ? ' ' : 'a' + i % 26;
  re = compile("\\S+", NULL);
  m = cj_rematch_new(re);
  cj_reiter_init(&it, 0);
  while (cj_regex_next(re, m, s, 1 << 20, &it, &found) == CJ_OK && found) n++;
  cr_assert_eq(n, ((1 << 20) + 6) / 7);   /* one word after each of the spaces */
  cj_rematch_free(m);
  cj_regex_free(re);
  free(s);
}


Test(regex, allocation_failures_are_reported_and_leak_nothing)
{
  int ok = 0;
  for (long n = 0; n < 40 && !ok; n++) {
    cj_regex *re = NULL;
    cj_rematch *m = NULL;
    int rc;
    failing_budget = n;
    failing_live = 0;
    cj_set_allocator(failing_alloc, NULL);
    rc = cj_regex_compile(&re, "(a+)(?<b>b)", 11, 0, NULL);
    if (rc == CJ_OK) {
      m = cj_rematch_new(re);
      ok = m != NULL;
    } else {
      cr_assert_eq(rc, CJ_ENOMEM, "n=%ld: %s", n, cj_errmsg());
      cr_assert_null(re);
    }
    cj_rematch_free(m);
    cj_regex_free(re);
    cj_set_allocator(NULL, NULL);
    cr_assert_eq(failing_live, 0, "n=%ld: %ld blocks leaked", n, failing_live);
  }
  cr_assert(ok, "compiling succeeds with enough memory");
}
