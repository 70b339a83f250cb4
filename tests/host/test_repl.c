/*
 * test_repl.c — the REPL driven through a pseudo-terminal, as a person at a
 * terminal would: cajal runs under forkpty, keys are written to the master
 * side, and the screen output is searched for what should appear.
 *
 * The interpreter is $CAJAL (tests/run.sh sets it) or ./cajal. Each wait
 * has a deadline (scaled by $CAJAL_TEST_SLOW for valgrind runs), and each
 * test a Criterion timeout, so a hang fails instead of blocking make check.
 * History goes to a temporary file through $CAJAL_HISTORY.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct session {
  pid_t pid;
  int fd;
  char out[1 << 16];     /* everything the terminal showed */
  size_t len;
  size_t mark;           /* searches start here */
  char hist[64];
} session;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* How much slower than usual the interpreter runs (valgrind): $CAJAL_TEST_SLOW. */
static double slowness(void)
{
  const char *slow = getenv("CAJAL_TEST_SLOW");
  double k = slow ? atof(slow) : 1;
  return k > 1 ? k : 1;
}

static double deadline(double seconds)
{
  return now() + seconds * slowness();
}

/* Read what is available within ms milliseconds; 0 at end of output. */
static int pump(session *s, int ms)
{
  struct pollfd p = { s->fd, POLLIN, 0 };
  ssize_t n;
  if (poll(&p, 1, ms) <= 0) return 1;
  if (s->len + 1 >= sizeof s->out) return 0;
  n = read(s->fd, s->out + s->len, sizeof s->out - 1 - s->len);
  if (n <= 0) return 0;                     /* EIO once the child is gone */
  s->len += (size_t)n;
  s->out[s->len] = '\0';
  return 1;
}

/* Wait until text appears after the mark; move the mark past it. */
static int expect(session *s, const char *text, double seconds)
{
  double end = deadline(seconds);
  for (;;) {
    char *hit = strstr(s->out + s->mark, text);
    if (hit) {
      s->mark = (size_t)(hit - s->out) + strlen(text);
      return 1;
    }
    if (now() > end || !pump(s, 50)) break;
  }
  cr_log_error("waited for \"%s\"; the terminal showed after the mark:\n%s", text,
               s->out + s->mark);
  return 0;
}

static void keys(session *s, const char *k)
{
  size_t n = strlen(k);
  while (n > 0) {
    ssize_t w = write(s->fd, k, n);
    if (w < 0 && errno == EINTR) continue;
    cr_assert(w > 0, "cannot write to the terminal: %s", strerror(errno));
    k += w;
    n -= (size_t)w;
  }
}

static void settle(session *s, int ms);

/* Wait for the next prompt, then type k. libedit shows the prompt a moment
 * before it switches the terminal to its editing mode; keys typed in that
 * window reach the terminal's line discipline instead (Ctrl-D and Ctrl-C
 * would mean EOF and SIGINT there), so wait a little longer, as a person
 * would. */
static void type(session *s, const char *k)
{
  cr_assert(expect(s, "> ", 10), "no prompt before typing \"%s\"", k);
  settle(s, 100);
  keys(s, k);
}

/* Let output settle for ms milliseconds (e.g. before a key that must reach
 * a running computation rather than the line editor). */
static void settle(session *s, int ms)
{
  double end = now() + ms / 1000.0;
  while (now() < end) pump(s, 20);
}

/* Run cajal on a new terminal, history in s->hist; wait for the prompt. */
static void launch(session *s)
{
  const char *cajal = getenv("CAJAL");
  struct winsize ws = { 24, 80, 0, 0 };
  s->len = s->mark = 0;
  s->out[0] = '\0';
  if (!cajal || !*cajal) cajal = "./cajal";
  s->pid = forkpty(&s->fd, NULL, NULL, &ws);
  /* CI may run without pseudo-terminals (no /dev/ptmx or devpts): a REPL
   * test cannot run there, which is a skip with its reason, not a failure. */
  if (s->pid < 0 && (errno == ENOENT || errno == ENXIO || errno == EACCES || errno == ENODEV))
    cr_skip_test("no pseudo-terminal available (forkpty: %s)", strerror(errno));
  cr_assert(s->pid >= 0, "forkpty: %s", strerror(errno));
  if (s->pid == 0) {
    setenv("CAJAL_HISTORY", s->hist, 1);
    setenv("TERM", "xterm", 1);
    execl(cajal, cajal, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", cajal, strerror(errno));
    _exit(127);
  }
}

/* A session with a new, empty history file. */
static void start(session *s)
{
  int fd;
  strcpy(s->hist, "/tmp/cajal-histXXXXXX");
  fd = mkstemp(s->hist);
  cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
  close(fd);
  launch(s);
}

/* Ctrl-D, then the exit status (-1 if cajal had to be killed). */
static int finish(session *s)
{
  int status = 0;
  double end;
  pid_t r = 0;
  type(s, "\004");
  end = deadline(10);
  while (now() < end && (r = waitpid(s->pid, &status, WNOHANG)) == 0) pump(s, 50);
  if (r == 0) {
    cr_log_error("cajal did not end after Ctrl-D; the terminal showed:\n%s", s->out);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
  }
  close(s->fd);
  return r == s->pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
  static char buf[1 << 14];
  FILE *f = fopen(path, "r");
  size_t n = 0;
  buf[0] = '\0';
  if (f) {
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  return buf;
}

static session S;

static void cleanup(void)
{
  if (S.hist[0]) unlink(S.hist);
}

TestSuite(repl, .timeout = 120, .fini = cleanup);

Test(repl, prompt_and_expression_value)
{
  start(&S);
  type(&S, "1+1\r");
  cr_expect(expect(&S, "\r\n2\r\n", 10));
  type(&S, "=3*4\r");
  cr_expect(expect(&S, "\r\n12\r\n", 10));
  type(&S, "'a\\tb', 7, nil\r");
  cr_expect(expect(&S, "\"a\\tb\"\t7\tnil\r\n", 10), "several results, tab-separated");
  type(&S, "{1, 'x', k = {2}}\r");
  cr_expect(expect(&S, "{ 1, \"x\", k = { 2 } }", 10));
  cr_expect_eq(finish(&S), 0, "Ctrl-D ends the REPL with status 0");
}

Test(repl, multiline_function_definition)
{
  start(&S);
  type(&S, "function sq(x)\r");
  cr_expect(expect(&S, ">> ", 10), "continuation prompt");
  keys(&S, "  return x * x\r");
  cr_expect(expect(&S, ">> ", 10));
  keys(&S, "end\r");
  type(&S, "sq(7)\r");
  cr_expect(expect(&S, "\r\n49\r\n", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, error_then_next_line_works)
{
  start(&S);
  type(&S, "error('boom')\r");
  cr_expect(expect(&S, "boom", 10));
  cr_expect(expect(&S, "stack traceback:", 10));
  type(&S, "x = = 1\r");
  cr_expect(expect(&S, "unexpected symbol", 10), "syntax errors are reported");
  type(&S, "1+2\r");
  cr_expect(expect(&S, "\r\n3\r\n", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, tab_completes_module_field)
{
  start(&S);
  /* if TAB completes cj.ze to cj.zeros, the line compares a function to itself */
  type(&S, "cj.ze\t");
  settle(&S, 300);
  keys(&S, " == cj.zeros\r");
  cr_expect(expect(&S, "\r\ntrue\r\n", 10), "cj.ze<TAB> should complete to cj.zeros");
  type(&S, "local_name_for_test = 5\r");
  type(&S, "local_name_f\t");
  settle(&S, 300);
  keys(&S, " + 1\r");
  cr_expect(expect(&S, "\r\n6\r\n", 10), "globals complete too");
  cr_expect_eq(finish(&S), 0);
}

Test(repl, tab_completes_method_through_metatable)
{
  start(&S);
  type(&S, "obj = setmetatable({}, {__index = {reshape_me = function() return 42 end}})\r");
  type(&S, "obj:res\t");
  settle(&S, 300);
  keys(&S, "()\r");
  cr_expect(expect(&S, "\r\n42\r\n", 10), "obj:res<TAB> should complete to obj:reshape_me");
  cr_expect_eq(finish(&S), 0);
}

Test(repl, tab_lists_candidates_when_ambiguous)
{
  start(&S);
  type(&S, "abc_one, abc_two = 1, 2\r");
  type(&S, "abc_\t");
  cr_expect(expect(&S, "abc_one  abc_two", 10), "both candidates listed");
  settle(&S, 200);
  keys(&S, "\003");
  cr_expect(expect(&S, "^C\r\n", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, help_prints_signature)
{
  start(&S);
  type(&S, "help(cj.zeros)\r");
  cr_expect(expect(&S, "cj.zeros(", 10), "the registered help of cj.zeros");
  type(&S, "help(help)\r");
  cr_expect(expect(&S, "help([f | name | topic])", 10));
  type(&S, "help()\r");
  cr_expect(expect(&S, "Topics:", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, ctrl_c_interrupts_loop)
{
  start(&S);
  type(&S, "while true do end\r");
  settle(&S, 500);
  keys(&S, "\003");
  cr_expect(expect(&S, "interrupted", 10), "Ctrl-C stops the loop");
  type(&S, "2+3\r");
  cr_expect(expect(&S, "\r\n5\r\n", 10), "and the REPL goes on");
  cr_expect_eq(finish(&S), 0);
}

Test(repl, ctrl_c_interrupts_loop_inside_coroutine)
{
  start(&S);
  type(&S, "co = coroutine.wrap(function() local i = 0; while true do i = i + 1 end end)\r");
  type(&S, "co()\r");
  settle(&S, 500);
  keys(&S, "\003");
  cr_expect(expect(&S, "interrupted", 10), "Ctrl-C stops a loop in a coroutine");
  type(&S, "2+4\r");
  cr_expect(expect(&S, "\r\n6\r\n", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, ctrl_c_clears_line)
{
  start(&S);
  type(&S, "this is not lua\003");
  cr_expect(expect(&S, "^C\r\n", 10));
  type(&S, "function f()\r");
  cr_expect(expect(&S, ">> ", 10));
  settle(&S, 100);
  keys(&S, "\003");
  cr_expect(expect(&S, "^C\r\n", 10), "Ctrl-C drops a pending multi-line chunk");
  type(&S, "4*4\r");
  cr_expect(expect(&S, "\r\n16\r\n", 10));
  cr_expect(strstr(S.out, "syntax error") == NULL && strstr(S.out, "unexpected") == NULL,
            "the cleared text was not run:\n%s", S.out);
  cr_expect_eq(finish(&S), 0);
}

/* A network whose connectivity takes minutes to build: a probability that
 * depends on i and j is evaluated for each of the 10^10 pairs (run on the
 * interpreter, so no C compiler runs first). */
#define SLOWNET "net = cj.network('import \"models/lif\"\\npopulation E = lif(100000)\\n" \
  "connect E -> E { on_pre: v += 0.1 mV } with probability 1e-9 * (1 + i - j)', {backend = 'interp'})\r"

Test(repl, ctrl_c_interrupts_network_load)
{
  start(&S);
  type(&S, SLOWNET);
  settle(&S, (int)(1500 * slowness()));
  keys(&S, "\003");
  cr_expect(expect(&S, "interrupted while building network", 10),
            "Ctrl-C stops the building of connectivity");
  cr_expect(expect(&S, "projection 'E->E'", 10));
  type(&S, "net == nil, 2+3\r");
  cr_expect(expect(&S, "\r\ntrue\t5\r\n", 10), "the REPL goes on; no network was made");
  cr_expect_eq(finish(&S), 0);
}

#define SMALLNET "net = cj.network('import \"models/lif\"\\npopulation Exc = cuba_lif(10)\\n" \
  "record spikes of Exc', {backend = 'interp'})\r"

Test(repl, network_run_prints_nothing_tab_and_help_reach_parts)
{
  start(&S);
  type(&S, SMALLNET);
  type(&S, "net:run(1 * cj.ms)\r");
  cr_expect(expect(&S, "net:run(1 * cj.ms)\r\n", 10));
  settle(&S, 300);
  {                                        /* between the line and the next prompt: nothing */
    const char *from = S.out + S.mark, *prompt = strstr(from, "> ");
    cr_expect(prompt != NULL, "no prompt after net:run");
    cr_expect(prompt == NULL || strcspn(from, "0123456789") >= (size_t)(prompt - from),
              "net:run printed something: [%.*s]", prompt ? (int)(prompt - from) : 0, from);
  }
  type(&S, "net.step\r");
  cr_expect(expect(&S, "\r\n10\r\n", 10), "the steps are in net.step");
  type(&S, "net.Ex\t");
  settle(&S, 300);
  keys(&S, ".N\r");
  cr_expect(expect(&S, "\r\n10\r\n", 10), "net.Ex<TAB> completes to the population net.Exc");
  type(&S, "net.Exc.g\t");
  cr_expect(expect(&S, "ge  gi", 10), "net.Exc.g<TAB> lists the state variables ge and gi");
  settle(&S, 200);
  keys(&S, "\003");
  type(&S, "help(net)\r");
  cr_expect(expect(&S, "net.Exc ", 10), "help(net) shows how to reach the population");
  cr_expect(expect(&S, "net.spikes.Exc ", 10));
  type(&S, "net.Exd\r");
  cr_expect(expect(&S, "has no population, projection or monitor 'Exd' (it has Exc;", 10));
  cr_expect_eq(finish(&S), 0);
}

Test(repl, history_file_written)
{
  start(&S);
  type(&S, "hist_check = 40 + 2\r");
  type(&S, "hist_check\r");
  cr_expect(expect(&S, "\r\n42\r\n", 10));
  cr_expect_eq(finish(&S), 0);
  cr_expect(strstr(slurp(S.hist), "hist_check = 40 + 2\nhist_check\n") != NULL,
            "history file holds the lines: [%s]", slurp(S.hist));
}

Test(repl, history_recalled_in_new_session)
{
  FILE *f;
  start(&S);                               /* creates S.hist */
  cr_expect_eq(finish(&S), 0);
  f = fopen(S.hist, "w");
  cr_assert(f);
  fputs("recalled_value = 99\n", f);
  fclose(f);
  launch(&S);
  type(&S, "\033[A");                      /* Up */
  settle(&S, 300);
  keys(&S, "\r");
  type(&S, "recalled_value\r");
  cr_expect(expect(&S, "\r\n99\r\n", 10), "the line from the history file ran");
  cr_expect_eq(finish(&S), 0);
}
