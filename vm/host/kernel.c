/*
 * kernel.c — cajal as a Jupyter kernel (`cajal --jupyter CONNECTION_FILE`,
 * protocol 5.3 through jupyter.c) and its kernel spec (`cajal
 * --install-kernel`).
 *
 * Cells run as REPL lines do, through the pieces repl.c shares (host.h):
 * cj_repl_load decides what is an expression and what is unfinished,
 * cajal.repl's show prints values, candidates completes, inspect is help.
 * One Lua state lives across cells.
 *
 * Threads. Lua runs on the main thread only, which serves the shell socket.
 *   control    interrupt_request, shutdown_request, kernel_info_request
 *              (answered while a cell runs);
 *   heartbeat  echoes the frontend's pings;
 *   output     fd 1 and fd 2 are pipes: this thread reads them and
 *              publishes stream messages, so print, io.write, C's stdio
 *              and child processes (gnuplot, the C compiler) all show up,
 *              while the cell runs.
 * The iopub socket is shared under K.lock, which also guards the header of
 * the request being served (the parent of stream messages). Before a
 * result, a display or the idle status, the main thread flushes stdio and
 * waits until the output thread has published everything written so far
 * (syncoutput), so outputs keep their order.
 *
 * Interrupts. The kernel spec asks for interrupt_mode "message": the
 * control thread answers interrupt_request by sending SIGINT to the main
 * thread, which is what Ctrl-C does in the REPL: a Lua loop stops at its
 * next instruction (main.c's handler), net:run between two chunks of steps
 * (lnet.c's). A SIGINT sent to the process (interrupt_mode "signal") has
 * the same effect, since the other threads block it. As in the REPL, a
 * second interrupt while C code that does not check runs for long (one
 * huge array operation) ends the process; Jupyter then restarts the kernel.
 *
 * What Lua sees in a kernel (cajal.host, see host.h): host.kernel = true;
 * host.display(data [, metadata]) publishes display_data (cj.plot uses it
 * for inline PNGs); registry["cajal.progress"] is the hook net:run reports
 * to (lnet.c), shown as a display updated in place (update_display_data).
 */
#include <lua.h>
#include <lauxlib.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cj.h"
#include "host.h"
#include "jupyter.h"

#define WAKE "inproc://cajal-kernel-wake"
#define SYNC_TIMEOUT 5          /* seconds to wait for the output thread */

typedef struct kernel {
  lua_State *L;
  int mod;                      /* stack index of cajal.repl (or nil) */
  jp_conn conn;
  jp_session sess, ctlsess;     /* one per receiving thread (replay memory) */
  void *ctx, *shell, *control, *iopub, *stdin_, *hb, *wakemain, *wakectl;
  pthread_t mainth, ctlth, hbth, outth;
  int threads;                  /* how many of ctl, hb, out were started */
  pthread_mutex_t lock;         /* iopub, parent, silent, syncs */
  pthread_cond_t synced;
  json_t *parent;               /* header of the request being served */
  int silent;
  unsigned long syncs;
  int outpipe[2], errpipe[2], syncpipe[2];
  int savedout, savederr;       /* the original fd 1 and 2 (kernel's own log) */
  volatile sig_atomic_t busy;   /* a cell is running */
  volatile sig_atomic_t stop;   /* shutdown requested */
  int restart;
  int count;                    /* execution_count */
  char *banner;
  char progid[37];              /* the progress display being updated */
  int progress;                 /* 1 while progid is shown */
} kernel;

static kernel K;

static void klog(const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  if (write(K.savederr >= 0 ? K.savederr : 2, "cajal kernel: ", 14) < 0) return;
  if (write(K.savederr >= 0 ? K.savederr : 2, buf, (size_t)n) < 0) return;
}

/* ---- iopub --------------------------------------------------------------- */

/* Publish on iopub with the current parent (content stolen). */
static void publish(const char *type, json_t *content)
{
  jp_msg parent;
  memset(&parent, 0, sizeof parent);
  pthread_mutex_lock(&K.lock);
  parent.header = K.parent;
  if (jp_send(K.iopub, &K.sess, &parent, type, type, content, NULL) < 0)
    klog("cannot publish %s: %s", type, zmq_strerror(errno));
  pthread_mutex_unlock(&K.lock);
}

/* Publish with req as parent (status of control requests, for instance). */
static void publishfor(const jp_msg *req, const char *type, json_t *content)
{
  pthread_mutex_lock(&K.lock);
  if (jp_send(K.iopub, &K.sess, req, type, type, content, NULL) < 0)
    klog("cannot publish %s: %s", type, zmq_strerror(errno));
  pthread_mutex_unlock(&K.lock);
}

static void status(const jp_msg *req, const char *state)
{
  publishfor(req, "status", json_pack("{s:s}", "execution_state", state));
}

static void setparent(const jp_msg *req, int silent)
{
  pthread_mutex_lock(&K.lock);
  json_decref(K.parent);
  K.parent = json_incref(req->header);
  K.silent = silent;
  pthread_mutex_unlock(&K.lock);
}

static void reply(void *sock, const jp_session *s, const jp_msg *req, json_t *content)
{
  char type[64];
  const char *t = req->type;
  size_t n = strlen(t);
  if (n > 8 && strcmp(t + n - 8, "_request") == 0) n -= 8;
  snprintf(type, sizeof type, "%.*s_reply", (int)n, t);
  if (jp_send(sock, s, req, NULL, type, content, NULL) < 0)
    klog("cannot send %s: %s", type, zmq_strerror(errno));
}

/* ---- output capture ------------------------------------------------------ */

typedef struct stream {
  const char *name;
  int fd;
  char carry[4];                /* an unfinished UTF-8 sequence */
  size_t ncarry;
} stream;

/* Read what is there on s and publish it. Returns bytes read, 0 at EOF or
 * when nothing is left (EAGAIN). */
static ssize_t pump(stream *s)
{
  char buf[65536 + 4];
  ssize_t n;
  size_t tail;
  json_t *text;
  if (s->fd < 0) return 0;
  memcpy(buf, s->carry, s->ncarry);
  do n = read(s->fd, buf + s->ncarry, sizeof buf - 4); while (n < 0 && errno == EINTR);
  if (n == 0) { s->fd = -1; return 0; }       /* every writer closed it */
  if (n < 0) return 0;
  text = jp_text(buf, s->ncarry + (size_t)n, &tail);
  memcpy(s->carry, buf + s->ncarry + (size_t)n - tail, tail);
  s->ncarry = tail;
  if (text && json_string_length(text) > 0) {
    pthread_mutex_lock(&K.lock);
    if (!K.silent) {
      jp_msg parent;
      memset(&parent, 0, sizeof parent);
      parent.header = K.parent;
      jp_send(K.iopub, &K.sess, &parent, "stream", "stream",
              json_pack("{s:s, s:o}", "name", s->name, "text", text), NULL);
      text = NULL;
    }
    pthread_mutex_unlock(&K.lock);
  }
  json_decref(text);
  return n;
}

static void *outputthread(void *ud)
{
  stream st[2] = { { "stdout", K.outpipe[0], "", 0 }, { "stderr", K.errpipe[0], "", 0 } };
  (void)ud;
  for (;;) {
    struct pollfd pf[3] = { { st[0].fd, POLLIN, 0 }, { st[1].fd, POLLIN, 0 },
                            { K.syncpipe[0], POLLIN, 0 } };
    char cmd = 0;
    if (poll(pf, 3, -1) < 0) {
      if (errno == EINTR) continue;
      klog("output thread: %s", strerror(errno));
      break;
    }
    for (int i = 0; i < 2; i++)
      if (pf[i].revents) pump(&st[i]);
    if (!pf[2].revents) continue;
    while (read(K.syncpipe[0], &cmd, 1) < 0 && errno == EINTR) {}
    for (int i = 0; i < 2; i++)
      while (pump(&st[i]) > 0) {}
    pthread_mutex_lock(&K.lock);
    K.syncs++;
    pthread_cond_broadcast(&K.synced);
    pthread_mutex_unlock(&K.lock);
    if (cmd != 's') break;                     /* 'q' (or EOF): done */
  }
  return NULL;
}

/* Flush stdio and wait until the output thread has published all that was
 * written so far. */
static void syncoutput(void)
{
  struct timespec until;
  unsigned long n;
  char c = 's';
  fflush(stdout);
  fflush(stderr);
  if (!(K.threads & 4)) return;
  pthread_mutex_lock(&K.lock);
  n = K.syncs;
  pthread_mutex_unlock(&K.lock);
  if (write(K.syncpipe[1], &c, 1) != 1) return;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += SYNC_TIMEOUT;
  pthread_mutex_lock(&K.lock);
  while (K.syncs == n)
    if (pthread_cond_timedwait(&K.synced, &K.lock, &until) == ETIMEDOUT) break;
  pthread_mutex_unlock(&K.lock);
}

/* fd 1 and 2 become pipes read by the output thread; the originals are
 * kept for the kernel's own messages and restored at the end; stdin reads
 * nothing (cells cannot ask for input). */
static int capture(void)
{
  int null;
  if (pipe(K.outpipe) || pipe(K.errpipe) || pipe(K.syncpipe)) return -1;
  fflush(stdout);
  fflush(stderr);
  K.savedout = fcntl(1, F_DUPFD_CLOEXEC, 3);
  K.savederr = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (K.savedout < 0 || K.savederr < 0) return -1;
  if (dup2(K.outpipe[1], 1) < 0 || dup2(K.errpipe[1], 2) < 0) return -1;
  close(K.outpipe[1]);
  close(K.errpipe[1]);
  K.outpipe[1] = K.errpipe[1] = -1;
  for (int i = 0; i < 2; i++) {
    int fd = i == 0 ? K.outpipe[0] : K.errpipe[0];
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  fcntl(K.syncpipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(K.syncpipe[1], F_SETFD, FD_CLOEXEC);
  if ((null = open("/dev/null", O_RDONLY)) >= 0) {
    dup2(null, 0);
    if (null > 0) close(null);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);           /* as on a terminal */
  return 0;
}

static void uncapture(void)
{
  fflush(stdout);
  fflush(stderr);
  if (K.savedout >= 0) dup2(K.savedout, 1);
  if (K.savederr >= 0) dup2(K.savederr, 2);
}

/* ---- threads: heartbeat, control ------------------------------------------ */

static void *heartbeat(void *ud)
{
  (void)ud;
  for (;;) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, K.hb, 0) < 0) {
      zmq_msg_close(&m);
      if (errno == EINTR) continue;
      break;                                   /* ETERM: shutting down */
    }
    while (zmq_msg_send(&m, K.hb, 0) < 0 && errno == EINTR) {}
    zmq_msg_close(&m);
  }
  zmq_close(K.hb);
  return NULL;
}

static json_t *kernelinfo(void)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:[]}",
                   "status", "ok", "protocol_version", JP_PROTOCOL, "implementation", "cajal",
                   "implementation_version", CJ_VERSION,
                   "language_info", "name", "lua", "version", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR,
                   "mimetype", "text/x-lua", "file_extension", ".lua", "pygments_lexer", "lua",
                   "codemirror_mode", "lua",
                   "banner", K.banner ? K.banner : "cajal", "help_links");
}

static void wakemain(void)
{
  zmq_send(K.wakectl, "w", 1, ZMQ_DONTWAIT);
}

static void shutdown_(const jp_msg *m, void *sock, const jp_session *s)
{
  json_t *r = json_object_get(m->content, "restart");
  K.restart = json_is_true(r);
  reply(sock, s, m, json_pack("{s:s, s:b}", "status", "ok", "restart", K.restart));
  K.stop = 1;
  if (K.busy) pthread_kill(K.mainth, SIGINT);
}

static void *controlthread(void *ud)
{
  (void)ud;
  for (;;) {
    jp_msg m;
    char err[128];
    int r = jp_recv(K.control, &K.ctlsess, &m, err, sizeof err);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;                                   /* ETERM */
    }
    if (r > 0) { klog("control: message rejected: %s", err); continue; }
    status(&m, "busy");
    if (strcmp(m.type, "interrupt_request") == 0) {
      pthread_kill(K.mainth, SIGINT);
      reply(K.control, &K.ctlsess, &m, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(m.type, "shutdown_request") == 0) {
      shutdown_(&m, K.control, &K.ctlsess);
      wakemain();
    } else if (strcmp(m.type, "kernel_info_request") == 0) {
      reply(K.control, &K.ctlsess, &m, kernelinfo());
    } else {
      klog("control: '%s' is not handled", m.type);
    }
    status(&m, "idle");
    jp_msg_free(&m);
  }
  zmq_close(K.control);
  zmq_close(K.wakectl);
  return NULL;
}

/* ---- Lua: values, errors ----------------------------------------------------- */

static int isinterrupt(const char *msg)
{
  return strncmp(msg, "interrupted", 11) == 0 || strstr(msg, ": interrupted at step") != NULL;
}

/* The error content of a failed cell: ename, evalue (the first line),
 * traceback (every line). Pops the message. */
static json_t *errorcontent(lua_State *L)
{
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  json_t *tb = json_array();
  const char *p, *nl;
  json_t *c;
  if (!msg) { msg = "(error object is not a string)"; len = strlen(msg); }
  for (p = msg; p < msg + len; p = nl + 1) {
    nl = memchr(p, '\n', (size_t)(msg + len - p));
    if (!nl) nl = msg + len;
    json_array_append_new(tb, jp_text(p, (size_t)(nl - p), NULL));
  }
  nl = memchr(msg, '\n', len);
  c = json_pack("{s:s, s:o, s:o}", "ename", isinterrupt(msg) ? "interrupted" : "error",
                "evalue", jp_text(msg, nl ? (size_t)(nl - msg) : len, NULL), "traceback", tb);
  lua_pop(L, 1);
  return c;
}

/* Run text as a cell: LUA_OK with the shown text of its values pushed (or
 * nil when there were none; nothing is pushed for an error, whose content
 * goes to *err). */
static int runcell(const char *code, size_t len, const char *name, int show, json_t **err)
{
  lua_State *L = K.L;
  int top = lua_gettop(L), more, st;
  st = cj_repl_load(L, code, len, name, &more);
  if (st == LUA_OK) {
    K.busy = 1;
    st = cj_host_docall(L, 0, LUA_MULTRET);
    K.busy = 0;
  }
  if (st == LUA_OK) {
    int n = lua_gettop(L) - top;
    if (n > 0 && show) st = cj_repl_show(L, K.mod, n);
    else { lua_settop(L, top); lua_pushnil(L); }
  }
  if (st != LUA_OK) {
    *err = errorcontent(L);
    lua_settop(L, top);
  }
  return st;
}

static json_t *textdata(const char *s, size_t n)
{
  return json_pack("{s:o}", "text/plain", jp_text(s, n, NULL));
}

static json_t *userexpressions(json_t *exprs)
{
  json_t *out = json_object();
  const char *key;
  json_t *v;
  if (!json_is_object(exprs)) return out;
  json_object_foreach(exprs, key, v) {
    json_t *err = NULL, *r;
    const char *code = json_string_value(v);
    if (!code) code = "nil";
    if (runcell(code, strlen(code), "=user_expressions", 1, &err) == LUA_OK) {
      size_t n = 0;
      const char *s = lua_tolstring(K.L, -1, &n);
      r = json_pack("{s:s, s:o, s:{}}", "status", "ok", "data", textdata(s ? s : "nil", s ? n : 3),
                    "metadata");
      lua_pop(K.L, 1);
    } else {
      json_object_set_new(err, "status", json_string("error"));
      r = err;
    }
    json_object_set_new(out, key, r);
  }
  return out;
}

/* ---- shell requests ------------------------------------------------------------- */

static int handle(jp_msg *m);

/* After a failed cell with stop_on_error, before its reply: execute
 * requests already queued (sent before the frontend could know of the
 * error, as when it runs several cells at once) are answered "aborted";
 * other requests are served. */
static void abortqueued(void)
{
  for (;;) {
    zmq_pollitem_t it = { K.shell, 0, ZMQ_POLLIN, 0 };
    jp_msg m;
    char err[128];
    int r;
    if (zmq_poll(&it, 1, 0) <= 0 || !(it.revents & ZMQ_POLLIN)) return;
    r = jp_recv(K.shell, &K.sess, &m, err, sizeof err);
    if (r < 0) return;
    if (r > 0) { klog("shell: message rejected: %s", err); continue; }
    if (strcmp(m.type, "execute_request") == 0) {
      status(&m, "busy");
      reply(K.shell, &K.sess, &m, json_pack("{s:s, s:i, s:{}, s:[]}", "status", "aborted",
                                             "execution_count", K.count, "user_expressions", "payload"));
      status(&m, "idle");
    } else {
      handle(&m);
    }
    jp_msg_free(&m);
  }
}

static void execute(const jp_msg *m)
{
  json_t *c = m->content, *err = NULL, *v;
  const char *code = json_string_value(json_object_get(c, "code"));
  int silent = json_is_true(json_object_get(c, "silent"));
  int store = !silent && (!(v = json_object_get(c, "store_history")) || json_is_true(v));
  int stoponerror = !(v = json_object_get(c, "stop_on_error")) || json_is_true(v);
  char name[48];
  int st;
  if (!code) code = "";
  if (store) K.count++;
  if (!silent)
    publish("execute_input", json_pack("{s:o, s:i}", "code", jp_text(code, strlen(code), NULL),
                                       "execution_count", K.count));
  snprintf(name, sizeof name, "=In [%d]", K.count);
  st = runcell(code, strlen(code), name, !silent, &err);
  syncoutput();
  K.progress = 0;
  if (st == LUA_OK) {
    size_t n;
    const char *s = lua_tolstring(K.L, -1, &n);
    if (s && !silent)
      publish("execute_result", json_pack("{s:i, s:o, s:{}}", "execution_count", K.count,
                                          "data", textdata(s, n), "metadata"));
    lua_pop(K.L, 1);
  } else if (!silent) {
    publish("error", json_deep_copy(err));
  }
  v = userexpressions(json_object_get(c, "user_expressions"));
  if (st != LUA_OK && stoponerror && !silent) abortqueued();   /* before the reply: only */
  if (st == LUA_OK) {                          /* what was sent before it is aborted */
    reply(K.shell, &K.sess, m, json_pack("{s:s, s:i, s:o, s:[]}", "status", "ok", "execution_count",
                                         K.count, "user_expressions", v, "payload"));
  } else {
    json_object_set_new(err, "status", json_string("error"));
    json_object_set_new(err, "execution_count", json_integer(K.count));
    json_object_set_new(err, "user_expressions", v);
    json_object_set_new(err, "payload", json_array());
    reply(K.shell, &K.sess, m, err);
  }
}

/* The cursor of a request as a byte offset of code. */
static size_t cursor(const jp_msg *m, const char *code, size_t len)
{
  json_t *p = json_object_get(m->content, "cursor_pos");
  if (!json_is_integer(p) || json_integer_value(p) < 0) return len;
  return jp_chars2bytes(code, len, (size_t)json_integer_value(p));
}

static void complete(const jp_msg *m)
{
  lua_State *L = K.L;
  const char *code = json_string_value(json_object_get(m->content, "code"));
  size_t len, pos, start;
  json_t *matches = json_array();
  int top = lua_gettop(L);
  if (!code) code = "";
  len = strlen(code);
  pos = cursor(m, code, len);
  start = pos;
  if (lua_type(L, K.mod) == LUA_TTABLE) {
    lua_getfield(L, K.mod, "candidates");
    lua_pushlstring(L, code, pos);
    if (lua_pcall(L, 1, 2, 0) == LUA_OK && lua_istable(L, -1)) {
      size_t wl = 0;
      lua_tolstring(L, -2, &wl);
      start = wl <= pos ? pos - wl : pos;
      for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        json_array_append_new(matches, jp_text(s, n, NULL));
        lua_pop(L, 1);
      }
    }
  }
  lua_settop(L, top);
  reply(K.shell, &K.sess, m, json_pack("{s:s, s:o, s:I, s:I, s:{}}", "status", "ok", "matches", matches,
                                       "cursor_start", (json_int_t)jp_bytes2chars(code, len, start),
                                       "cursor_end", (json_int_t)jp_bytes2chars(code, len, pos),
                                       "metadata"));
}

static void inspect(const jp_msg *m)
{
  lua_State *L = K.L;
  const char *code = json_string_value(json_object_get(m->content, "code"));
  json_t *data = json_object();
  int top = lua_gettop(L), found = 0;
  if (!code) code = "";
  if (lua_type(L, K.mod) == LUA_TTABLE) {
    size_t len = strlen(code);
    lua_getfield(L, K.mod, "inspect");
    lua_pushstring(L, code);
    lua_pushinteger(L, (lua_Integer)cursor(m, code, len));
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      json_object_set_new(data, "text/plain", jp_text(s, n, NULL));
      found = 1;
    }
  }
  lua_settop(L, top);
  reply(K.shell, &K.sess, m, json_pack("{s:s, s:b, s:o, s:{}}", "status", "ok", "found", found,
                                       "data", data, "metadata"));
}

static void iscomplete(const jp_msg *m)
{
  lua_State *L = K.L;
  const char *code = json_string_value(json_object_get(m->content, "code"));
  int more, st;
  if (!code) code = "";
  st = cj_repl_load(L, code, strlen(code), "=cell", &more);
  lua_pop(L, 1);
  if (more)
    reply(K.shell, &K.sess, m, json_pack("{s:s, s:s}", "status", "incomplete", "indent", ""));
  else
    reply(K.shell, &K.sess, m, json_pack("{s:s}", "status", st == LUA_OK ? "complete" : "invalid"));
}

static int handle(jp_msg *m)
{
  const char *t = m->type;
  status(m, "busy");
  if (strcmp(t, "execute_request") == 0) {
    setparent(m, json_is_true(json_object_get(m->content, "silent")));
    execute(m);
  } else if (strcmp(t, "kernel_info_request") == 0) {
    reply(K.shell, &K.sess, m, kernelinfo());
  } else if (strcmp(t, "complete_request") == 0) {
    complete(m);
  } else if (strcmp(t, "inspect_request") == 0) {
    inspect(m);
  } else if (strcmp(t, "is_complete_request") == 0) {
    iscomplete(m);
  } else if (strcmp(t, "history_request") == 0) {
    reply(K.shell, &K.sess, m, json_pack("{s:s, s:[]}", "status", "ok", "history"));
  } else if (strcmp(t, "comm_info_request") == 0) {
    reply(K.shell, &K.sess, m, json_pack("{s:s, s:{}}", "status", "ok", "comms"));
  } else if (strcmp(t, "comm_open") == 0) {          /* no comm targets: close it */
    json_t *id = json_object_get(m->content, "comm_id");
    publishfor(m, "comm_close", json_pack("{s:O?, s:{}}", "comm_id", id, "data"));
  } else if (strcmp(t, "connect_request") == 0) {
    reply(K.shell, &K.sess, m, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "status", "ok",
                                         "shell_port", K.conn.shell, "iopub_port", K.conn.iopub,
                                         "stdin_port", K.conn.stdin_, "hb_port", K.conn.hb,
                                         "control_port", K.conn.control));
  } else if (strcmp(t, "shutdown_request") == 0) {
    shutdown_(m, K.shell, &K.sess);
  } else {
    klog("shell: '%s' is not handled", t);
  }
  status(m, "idle");
  return 0;
}

/* ---- what Lua sees: host.display, the progress hook ------------------------------ */

static json_t *tojson(lua_State *L, int i, int depth);

static json_t *tableto(lua_State *L, int i, int depth)
{
  json_t *o;
  lua_Integer n = (lua_Integer)lua_rawlen(L, i);
  if (n > 0) {
    o = json_array();
    for (lua_Integer k = 1; k <= n; k++) {
      lua_rawgeti(L, i, k);
      json_array_append_new(o, tojson(L, lua_gettop(L), depth + 1));
      lua_pop(L, 1);
    }
    return o;
  }
  o = json_object();
  lua_pushnil(L);
  while (lua_next(L, i)) {
    if (lua_type(L, -2) == LUA_TSTRING)
      json_object_set_new(o, lua_tostring(L, -2), tojson(L, lua_gettop(L), depth + 1));
    lua_pop(L, 1);
  }
  return o;
}

/* A Lua value as JSON: tables (a sequence as an array), strings, numbers,
 * booleans; anything else (and depth past 16) as null. */
static json_t *tojson(lua_State *L, int i, int depth)
{
  switch (lua_type(L, i)) {
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, i));
  case LUA_TNUMBER:
    if (lua_isinteger(L, i)) return json_integer((json_int_t)lua_tointeger(L, i));
    return json_real(lua_tonumber(L, i));
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    return jp_text(s, n, NULL);
  }
  case LUA_TTABLE:
    if (depth < 16) return tableto(L, i, depth);
    return json_null();
  default: return json_null();
  }
}

/* Binary MIME types travel in base64. */
static int isbinary(const char *mime)
{
  return (strncmp(mime, "image/", 6) == 0 && strcmp(mime, "image/svg+xml") != 0) ||
         strcmp(mime, "application/pdf") == 0;
}

/* host.display(data [, metadata]): data maps MIME types to their content
 * (strings: PNG bytes, HTML text, ...); metadata is any table. */
static int h_display(lua_State *L)
{
  json_t *data, *meta;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, "a table of MIME type = content (strings) expected");
    lua_pop(L, 1);
  }
  data = json_object();
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    size_t n;
    const char *mime = lua_tostring(L, -2), *s = lua_tolstring(L, -1, &n);
    json_object_set_new(data, mime, isbinary(mime) ? jp_base64(s, n) : jp_text(s, n, NULL));
    lua_pop(L, 1);
  }
  meta = lua_istable(L, 2) ? tableto(L, 2, 0) : json_object();
  if (json_is_array(meta)) { json_decref(meta); meta = json_object(); }
  syncoutput();                                /* what was printed before comes first */
  publish("display_data", json_pack("{s:o, s:o, s:{}}", "data", data, "metadata", meta, "transient"));
  return 0;
}

/* registry["cajal.progress"](done, total, dt, elapsed, state): state is
 * "running", "done" or "stopped". The first "running" call of a run shows
 * a display, later calls update it in place; a run that ends before any
 * "running" call (a short one) shows nothing. */
static int h_progress(lua_State *L)
{
  double done = luaL_checknumber(L, 1), total = luaL_checknumber(L, 2);
  double dt = luaL_checknumber(L, 3), el = luaL_checknumber(L, 4);
  const char *state = luaL_checkstring(L, 5);
  int running = strcmp(state, "running") == 0;
  double frac = total > 0 ? done / total : 1;
  char text[256], html[512];
  int w = 30, k = (int)(w * frac);
  const char *type = "update_display_data";
  if (!K.progress) {
    if (!running) return 0;
    jp_uuid(K.progid);
    K.progress = 1;
    type = "display_data";
    syncoutput();
  }
  if (running) {
    double eta = done > 0 ? el * (total - done) / done : 0;
    snprintf(text, sizeof text, "[%.*s%*s] %3d%%  %.4g / %.4g s simulated, %.1f s left", k,
             "##############################", w - k, "", (int)(100 * frac), done * dt, total * dt, eta);
  } else {
    snprintf(text, sizeof text, "%s: %.4g / %.4g s simulated in %.1f s",
             strcmp(state, "done") == 0 ? "done" : "stopped", done * dt, total * dt, el);
    K.progress = 0;
  }
  snprintf(html, sizeof html, "<progress value=\"%d\" max=\"1000\" style=\"width:20em\"></progress>"
           "&nbsp;<code>%s</code>", (int)(1000 * frac), running ? text + w + 3 : text);
  publish(type, json_pack("{s:{s:s, s:s}, s:{}, s:{s:s}}", "data", "text/plain", text, "text/html",
                          html, "metadata", "transient", "display_id", K.progid));
  return 0;
}

static void installhooks(lua_State *L, int on)
{
  if (on) lua_pushcfunction(L, h_progress);
  else lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "cajal.progress");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cajal.host");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    if (on) lua_pushcfunction(L, h_display);
    else lua_pushnil(L);
    lua_setfield(L, -2, "display");
    lua_pushboolean(L, on);
    lua_setfield(L, -2, "kernel");
  }
  lua_pop(L, 1);
}

/* ---- start, loop, stop ------------------------------------------------------------- */

static void noop(int sig) { (void)sig; }

static void *sock(int type, int port, const char *what)
{
  char ep[300];
  int zero = 0;
  void *s = zmq_socket(K.ctx, type);
  if (!s) return NULL;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  if (port < 0) return s;
  jp_endpoint(&K.conn, port, ep, sizeof ep);
  if (zmq_bind(s, ep) != 0) {
    fprintf(stderr, "cajal: cannot bind the %s socket to %s: %s\n", what, ep, zmq_strerror(errno));
    zmq_close(s);
    return NULL;
  }
  return s;
}

static int opensockets(void)
{
  if (!(K.ctx = zmq_ctx_new())) return -1;
  K.shell = sock(ZMQ_ROUTER, K.conn.shell, "shell");
  K.control = sock(ZMQ_ROUTER, K.conn.control, "control");
  K.stdin_ = sock(ZMQ_ROUTER, K.conn.stdin_, "stdin");
  K.iopub = sock(ZMQ_PUB, K.conn.iopub, "iopub");
  K.hb = sock(ZMQ_REP, K.conn.hb, "heartbeat");
  K.wakemain = sock(ZMQ_PAIR, -1, "wake");
  K.wakectl = sock(ZMQ_PAIR, -1, "wake");
  if (!K.shell || !K.control || !K.stdin_ || !K.iopub || !K.hb || !K.wakemain || !K.wakectl)
    return -1;
  if (zmq_bind(K.wakemain, WAKE) || zmq_connect(K.wakectl, WAKE)) return -1;
  return 0;
}

static void closesockets(void)
{
  void **own[] = { &K.shell, &K.stdin_, &K.iopub, &K.wakemain };
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (*own[i]) zmq_close(*own[i]);
  if (!(K.threads & 1)) { if (K.control) zmq_close(K.control); if (K.wakectl) zmq_close(K.wakectl); }
  if (!(K.threads & 2) && K.hb) zmq_close(K.hb);
  if (K.ctx) zmq_ctx_term(K.ctx);
}

/* The helper threads start with SIGINT blocked, so it reaches only the
 * main thread (zmq's own threads too: the context is made under the mask). */
static int startthreads(void)
{
  if (pthread_create(&K.ctlth, NULL, controlthread, NULL) == 0) K.threads |= 1;
  if (pthread_create(&K.hbth, NULL, heartbeat, NULL) == 0) K.threads |= 2;
  if (pthread_create(&K.outth, NULL, outputthread, NULL) == 0) K.threads |= 4;
  return K.threads == 7 ? 0 : -1;
}

static void stopthreads(void)
{
  char q = 'q';
  if (K.threads & 4) {
    if (write(K.syncpipe[1], &q, 1) == 1) pthread_join(K.outth, NULL);
    else pthread_detach(K.outth);
  }
  if (K.ctx) zmq_ctx_shutdown(K.ctx);          /* control and heartbeat see ETERM */
  if (K.threads & 1) pthread_join(K.ctlth, NULL);
  if (K.threads & 2) pthread_join(K.hbth, NULL);
}

static void serve(void)
{
  while (!K.stop) {
    zmq_pollitem_t it[2] = { { K.shell, 0, ZMQ_POLLIN, 0 }, { K.wakemain, 0, ZMQ_POLLIN, 0 } };
    if (zmq_poll(it, 2, -1) < 0) {
      if (errno == EINTR) continue;
      klog("poll: %s", zmq_strerror(errno));
      break;
    }
    if (it[1].revents & ZMQ_POLLIN) {
      char c;
      zmq_recv(K.wakemain, &c, 1, ZMQ_DONTWAIT);
    }
    if (it[0].revents & ZMQ_POLLIN) {
      jp_msg m;
      char err[128];
      int r = jp_recv(K.shell, &K.sess, &m, err, sizeof err);
      if (r > 0) klog("shell: message rejected: %s", err);
      if (r != 0) continue;
      handle(&m);
      jp_msg_free(&m);
    }
  }
}

int cj_jupyter(lua_State *L, const char *connfile)
{
  char err[400];
  sigset_t intr, old;
  struct sigaction sa, oldsa;
  int ok = 0, top = lua_gettop(L);
  memset(&K, 0, sizeof K);
  K.L = L;
  K.savedout = K.savederr = -1;
  K.outpipe[0] = K.outpipe[1] = K.errpipe[0] = K.errpipe[1] = K.syncpipe[0] = K.syncpipe[1] = -1;
  if (jp_readconn(connfile, &K.conn, err, sizeof err) < 0) {
    fprintf(stderr, "cajal: --jupyter: %s\n", err);
    return 1;
  }
  if (jp_session_init(&K.sess, K.conn.key) || jp_session_init(&K.ctlsess, K.conn.key)) {
    fprintf(stderr, "cajal: --jupyter: cannot start the session (libsodium)\n");
    jp_freeconn(&K.conn);
    return 1;
  }
  memcpy(K.ctlsess.id, K.sess.id, sizeof K.sess.id);
  pthread_mutex_init(&K.lock, NULL);
  pthread_cond_init(&K.synced, NULL);
  K.mainth = pthread_self();
  cj_host_pushversion(L);
  K.banner = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  sigemptyset(&intr);
  sigaddset(&intr, SIGINT);
  pthread_sigmask(SIG_BLOCK, &intr, &old);
  signal(SIGPIPE, SIG_IGN);
  if (opensockets() == 0 && capture() == 0 && startthreads() == 0) ok = 1;
  else if (!K.threads) fprintf(stderr, "cajal: --jupyter: cannot start: %s\n", strerror(errno));
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop;                        /* an interrupt between cells: nothing to stop */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &oldsa);
  if (ok) {
    cj_repl_openmodule(L);
    K.mod = lua_gettop(L);
    installhooks(L, 1);
    serve();
    installhooks(L, 0);
  }
  uncapture();
  stopthreads();
  closesockets();
  sigaction(SIGINT, &oldsa, NULL);
  for (int i = 0; i < 2; i++) {
    int *p[] = { K.outpipe, K.errpipe, K.syncpipe };
    for (int j = 0; j < 3; j++) if (p[j][i] >= 0) close(p[j][i]);
  }
  if (K.savedout >= 0) close(K.savedout);
  if (K.savederr >= 0) close(K.savederr);
  json_decref(K.parent);
  free(K.banner);
  jp_session_free(&K.sess);
  jp_session_free(&K.ctlsess);
  jp_freeconn(&K.conn);
  pthread_cond_destroy(&K.synced);
  pthread_mutex_destroy(&K.lock);
  lua_settop(L, top);
  return ok ? 0 : 1;
}

/* ---- the kernel spec ------------------------------------------------------------------ */

static int mkdirs(char *path)
{
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) { *p = '/'; return -1; }
    *p = '/';
  }
  return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Where the spec goes: prefix/share/jupyter, the user's Jupyter data
 * folder ($JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
 * ~/.local/share/jupyter), or the system's (/usr/local/share/jupyter, the
 * first of Jupyter's system paths). */
static int specdir(int user, const char *prefix, char *buf, size_t n)
{
  const char *env;
  int w;
  if (prefix) w = snprintf(buf, n, "%s/share/jupyter/kernels/cajal", prefix);
  else if (!user) w = snprintf(buf, n, "/usr/local/share/jupyter/kernels/cajal");
  else if ((env = getenv("JUPYTER_DATA_DIR")) && *env) w = snprintf(buf, n, "%s/kernels/cajal", env);
  else if ((env = getenv("XDG_DATA_HOME")) && *env) w = snprintf(buf, n, "%s/jupyter/kernels/cajal", env);
  else if ((env = getenv("HOME")) && *env) w = snprintf(buf, n, "%s/.local/share/jupyter/kernels/cajal", env);
  else return -1;
  return w > 0 && (size_t)w < n ? 0 : -1;
}

int cj_jupyter_install(int user, const char *prefix)
{
  char exe[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + 32], tmp[PATH_MAX + 48];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  json_t *spec;
  int rc;
  if (n <= 0) { fprintf(stderr, "cajal: --install-kernel: cannot find this program's path\n"); return 1; }
  exe[n] = '\0';
  if (specdir(user, prefix, dir, sizeof dir) < 0) {
    fprintf(stderr, "cajal: --install-kernel: no folder for the kernel spec (HOME is not set?)\n");
    return 1;
  }
  if (mkdirs(dir) < 0) {
    fprintf(stderr, "cajal: --install-kernel: cannot create '%s': %s\n", dir, strerror(errno));
    return 1;
  }
  snprintf(file, sizeof file, "%s/kernel.json", dir);
  snprintf(tmp, sizeof tmp, "%s/.kernel.json.%ld", dir, (long)getpid());
  spec = json_pack("{s:[s, s, s], s:s, s:s, s:s, s:{s:b}}", "argv", exe, "--jupyter", "{connection_file}",
                   "display_name", "cajal", "language", "lua", "interrupt_mode", "message",
                   "metadata", "debugger", 0);
  rc = spec ? json_dump_file(spec, tmp, JSON_INDENT(2)) : -1;
  json_decref(spec);
  if (rc != 0 || rename(tmp, file) != 0) {
    fprintf(stderr, "cajal: --install-kernel: cannot write '%s': %s\n", file, strerror(errno));
    remove(tmp);
    return 1;
  }
  printf("installed the Jupyter kernel spec 'cajal' in %s\n", dir);
  return 0;
}
