/*
 * jupyter.c — the Jupyter messaging protocol on the wire (see jupyter.h):
 * connection files (jansson), signed multipart messages (ZeroMQ, with
 * HMAC-SHA256 from libsodium, the crypto library ZeroMQ itself is built
 * on), UUIDs, dates, and the text conversions the protocol needs (UTF-8
 * strings, base64, cursor offsets in code points).
 */
#include "jupyter.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define DELIM "<IDS|MSG>"

/* ---- connection file ----------------------------------------------------- */

static int port(json_t *root, const char *name, int *out, char *err, size_t n)
{
  json_t *v = json_object_get(root, name);
  if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
    snprintf(err, n, "'%s' must be a port number (1..65535)", name);
    return -1;
  }
  *out = (int)json_integer_value(v);
  return 0;
}

static int text(json_t *root, const char *name, const char *dflt, char *out, size_t size,
                char *err, size_t n)
{
  json_t *v = json_object_get(root, name);
  const char *s = dflt;
  if (v && !json_is_string(v)) { snprintf(err, n, "'%s' must be a string", name); return -1; }
  if (v) s = json_string_value(v);
  if (!s) { snprintf(err, n, "'%s' is missing", name); return -1; }
  if (strlen(s) >= size) { snprintf(err, n, "'%s' is too long", name); return -1; }
  strcpy(out, s);
  return 0;
}

int jp_readconn(const char *path, jp_conn *c, char *err, size_t n)
{
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  json_t *key;
  char msg[200] = "";
  int bad;
  memset(c, 0, sizeof *c);
  if (!root) {
    snprintf(err, n, "%s:%d: %s", path, je.line, je.text);
    return -1;
  }
  bad = !json_is_object(root);
  if (bad) snprintf(msg, sizeof msg, "a JSON object expected");
  bad = bad || text(root, "transport", "tcp", c->transport, sizeof c->transport, msg, sizeof msg)
            || text(root, "ip", NULL, c->ip, sizeof c->ip, msg, sizeof msg)
            || text(root, "signature_scheme", "hmac-sha256", c->scheme, sizeof c->scheme, msg, sizeof msg)
            || port(root, "shell_port", &c->shell, msg, sizeof msg)
            || port(root, "iopub_port", &c->iopub, msg, sizeof msg)
            || port(root, "stdin_port", &c->stdin_, msg, sizeof msg)
            || port(root, "control_port", &c->control, msg, sizeof msg)
            || port(root, "hb_port", &c->hb, msg, sizeof msg);
  if (!bad && strcmp(c->transport, "tcp") && strcmp(c->transport, "ipc")) {
    snprintf(msg, sizeof msg, "transport '%s' is not supported (tcp or ipc)", c->transport);
    bad = 1;
  }
  key = bad ? NULL : json_object_get(root, "key");
  if (!bad && key && !json_is_string(key)) { snprintf(msg, sizeof msg, "'key' must be a string"); bad = 1; }
  if (!bad && strcmp(c->scheme, "hmac-sha256") != 0 && key && json_string_length(key) > 0) {
    snprintf(msg, sizeof msg, "signature_scheme '%s' is not supported (hmac-sha256)", c->scheme);
    bad = 1;
  }
  if (!bad && !(c->key = strdup(key ? json_string_value(key) : ""))) {
    snprintf(msg, sizeof msg, "out of memory");
    bad = 1;
  }
  json_decref(root);
  if (bad) {
    snprintf(err, n, "%s: %s", path, msg);
    return -1;
  }
  return 0;
}

void jp_freeconn(jp_conn *c)
{
  if (c->key) sodium_memzero(c->key, strlen(c->key));
  free(c->key);
  c->key = NULL;
}

void jp_endpoint(const jp_conn *c, int p, char *buf, size_t n)
{
  if (strcmp(c->transport, "ipc") == 0) snprintf(buf, n, "ipc://%s-%d", c->ip, p);
  else snprintf(buf, n, "tcp://%s:%d", c->ip, p);
}

/* ---- session, signatures ------------------------------------------------- */

int jp_session_init(jp_session *s, const char *key)
{
  memset(s, 0, sizeof *s);
  if (sodium_init() < 0) return -1;
  s->keylen = strlen(key);
  s->key = malloc(s->keylen + 1);
  if (!s->key) return -1;
  memcpy(s->key, key, s->keylen + 1);
  jp_uuid(s->id);
  return 0;
}

void jp_session_free(jp_session *s)
{
  if (s->key) sodium_memzero(s->key, s->keylen);
  free(s->key);
  s->key = NULL;
}

/* The HMAC of the four frames p[i][0..n[i]), as 64 hex digits and 32 bytes. */
static void sign(const jp_session *s, const void *const *p, const size_t *n, char hex[65],
                 unsigned char raw[32])
{
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, s->key, s->keylen);
  for (int i = 0; i < 4; i++) crypto_auth_hmacsha256_update(&st, p[i], n[i]);
  crypto_auth_hmacsha256_final(&st, raw);
  sodium_bin2hex(hex, 65, raw, 32);
}

/* 1 when the signature was seen among the last JP_REPLAY; records it. */
static int replayed(jp_session *s, const unsigned char raw[32])
{
  for (int i = 0; i < s->nseen; i++)
    if (memcmp(s->seen[i], raw, 32) == 0) return 1;
  memcpy(s->seen[s->nextseen], raw, 32);
  s->nextseen = (s->nextseen + 1) % JP_REPLAY;
  if (s->nseen < JP_REPLAY) s->nseen++;
  return 0;
}

/* ---- receiving ----------------------------------------------------------- */

typedef struct frames {
  zmq_msg_t *f;
  int n, cap;
} frames;

static void freeframes(frames *fr)
{
  for (int i = 0; i < fr->n; i++) zmq_msg_close(&fr->f[i]);
  free(fr->f);
}

/* All frames of one multipart message. */
static int recvall(void *sock, frames *fr)
{
  int more;
  size_t sz = sizeof more;
  memset(fr, 0, sizeof *fr);
  do {
    if (fr->n == fr->cap) {
      int cap = fr->cap ? 2 * fr->cap : 8;
      zmq_msg_t *nf = realloc(fr->f, (size_t)cap * sizeof *nf);
      if (!nf) { freeframes(fr); errno = ENOMEM; return -1; }
      fr->f = nf;
      fr->cap = cap;
    }
    zmq_msg_init(&fr->f[fr->n]);
    if (zmq_msg_recv(&fr->f[fr->n], sock, 0) < 0) {
      int e = errno;
      zmq_msg_close(&fr->f[fr->n]);
      if (e == EINTR && fr->n == 0) { free(fr->f); errno = e; return -1; }
      if (e == EINTR) continue;              /* a signal inside a message: go on */
      freeframes(fr);
      errno = e;
      return -1;
    }
    fr->n++;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
  } while (more);
  return 0;
}

static json_t *parseframe(zmq_msg_t *f)
{
  return json_loadb(zmq_msg_data(f), zmq_msg_size(f), 0, NULL);
}

void jp_msg_free(jp_msg *m)
{
  for (int i = 0; i < m->nids; i++) free(m->ids[i]);
  free(m->ids);
  free(m->idlen);
  json_decref(m->header);
  json_decref(m->parent);
  json_decref(m->metadata);
  json_decref(m->content);
  memset(m, 0, sizeof *m);
}

static int reject(frames *fr, jp_msg *m, char *err, size_t n, const char *why)
{
  snprintf(err, n, "%s", why);
  freeframes(fr);
  jp_msg_free(m);
  return 1;
}

int jp_recv(void *sock, jp_session *s, jp_msg *m, char *err, size_t n)
{
  frames fr;
  int d = -1;
  memset(m, 0, sizeof *m);
  if (recvall(sock, &fr) < 0) return -1;
  for (int i = 0; i < fr.n; i++) {
    if (zmq_msg_size(&fr.f[i]) == sizeof DELIM - 1 &&
        memcmp(zmq_msg_data(&fr.f[i]), DELIM, sizeof DELIM - 1) == 0) { d = i; break; }
  }
  if (d < 0 || fr.n < d + 6) return reject(&fr, m, err, n, "malformed message (no delimiter or too few frames)");
  if (s->keylen > 0) {
    char hex[65];
    unsigned char raw[32];
    zmq_msg_t *sig = &fr.f[d + 1];
    const void *p[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
      p[i] = zmq_msg_data(&fr.f[d + 2 + i]);
      len[i] = zmq_msg_size(&fr.f[d + 2 + i]);
    }
    sign(s, p, len, hex, raw);
    if (zmq_msg_size(sig) != 64 || sodium_memcmp(zmq_msg_data(sig), hex, 64) != 0)
      return reject(&fr, m, err, n, "invalid signature");
    if (replayed(s, raw)) return reject(&fr, m, err, n, "duplicate signature (a replayed message)");
  }
  m->nids = d;
  m->ids = calloc((size_t)(d ? d : 1), sizeof *m->ids);
  m->idlen = calloc((size_t)(d ? d : 1), sizeof *m->idlen);
  if (!m->ids || !m->idlen) return reject(&fr, m, err, n, "out of memory");
  for (int i = 0; i < d; i++) {
    m->idlen[i] = zmq_msg_size(&fr.f[i]);
    m->ids[i] = malloc(m->idlen[i] + 1);
    if (!m->ids[i]) { m->nids = i; return reject(&fr, m, err, n, "out of memory"); }
    memcpy(m->ids[i], zmq_msg_data(&fr.f[i]), m->idlen[i]);
  }
  m->header = parseframe(&fr.f[d + 2]);
  m->parent = parseframe(&fr.f[d + 3]);
  m->metadata = parseframe(&fr.f[d + 4]);
  m->content = parseframe(&fr.f[d + 5]);
  if (!json_is_object(m->header) || !json_is_object(m->parent) || !json_is_object(m->metadata) ||
      !json_is_object(m->content))
    return reject(&fr, m, err, n, "malformed message (a part is not a JSON object)");
  m->type = json_string_value(json_object_get(m->header, "msg_type"));
  if (!m->type) return reject(&fr, m, err, n, "malformed message (no msg_type)");
  freeframes(&fr);
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

static int sendframe(void *sock, const void *p, size_t n, int more)
{
  while (zmq_send(sock, p, n, more ? ZMQ_SNDMORE : 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return 0;
}

static json_t *header(const jp_session *s, const char *type)
{
  char id[37], date[32];
  jp_uuid(id);
  jp_now(date);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", id, "session", s->id,
                   "username", "cajal", "date", date, "msg_type", type, "version", JP_PROTOCOL);
}

int jp_send(void *sock, const jp_session *s, const jp_msg *req, const char *topic,
            const char *type, json_t *content, json_t *metadata)
{
  json_t *parts[4];
  char *text[4] = { NULL, NULL, NULL, NULL };
  size_t len[4];
  char hex[65] = "";
  unsigned char raw[32];
  int rc = -1;
  parts[0] = header(s, type);
  parts[1] = req && req->header ? json_incref(req->header) : json_object();
  parts[2] = metadata ? metadata : json_object();
  parts[3] = content ? content : json_object();
  for (int i = 0; i < 4; i++) {
    text[i] = parts[i] ? json_dumps(parts[i], JSON_COMPACT) : NULL;
    if (!text[i]) { errno = ENOMEM; goto done; }
    len[i] = strlen(text[i]);
  }
  if (s->keylen > 0) sign(s, (const void *const *)text, len, hex, raw);
  if (topic) {
    if (sendframe(sock, topic, strlen(topic), 1)) goto done;
  } else if (req) {
    for (int i = 0; i < req->nids; i++)
      if (sendframe(sock, req->ids[i], req->idlen[i], 1)) goto done;
  }
  if (sendframe(sock, DELIM, sizeof DELIM - 1, 1) || sendframe(sock, hex, strlen(hex), 1)) goto done;
  rc = 0;
  for (int i = 0; i < 4 && rc == 0; i++) rc = sendframe(sock, text[i], len[i], i < 3);
done:
  for (int i = 0; i < 4; i++) {
    free(text[i]);
    json_decref(parts[i]);
  }
  return rc;
}

/* ---- identifiers, dates, text -------------------------------------------- */

void jp_uuid(char out[37])
{
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);     /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

void jp_now(char out[32])
{
  struct timespec ts;
  struct tm tm;
  char buf[24];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%.19s.%06dZ", buf, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid, or -k when
 * the n bytes are a valid start of a k-byte sequence cut short. */
static int utf8len(const unsigned char *s, size_t n)
{
  int k;
  unsigned lo = 0x80, hi = 0xbf;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) k = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    k = 3;
    if (s[0] == 0xe0) lo = 0xa0;
    if (s[0] == 0xed) hi = 0x9f;             /* no surrogates */
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    k = 4;
    if (s[0] == 0xf0) lo = 0x90;
    if (s[0] == 0xf4) hi = 0x8f;
  } else return 0;
  for (int i = 1; i < k; i++) {
    if ((size_t)i >= n) return -k;
    if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf)) return 0;
  }
  return k;
}

json_t *jp_text(const char *p, size_t n, size_t *tail)
{
  const unsigned char *s = (const unsigned char *)p;
  char *out = malloc(3 * n + 1);            /* each bad byte becomes 3 bytes */
  size_t o = 0;
  json_t *j;
  if (tail) *tail = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n;) {
    int k = utf8len(s + i, n - i);
    if (k < 0 && tail) { *tail = n - i; break; }
    if (k <= 0) {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
      continue;
    }
    memcpy(out + o, s + i, (size_t)k);
    o += (size_t)k;
    i += (size_t)k;
  }
  j = json_stringn(out, o);
  free(out);
  return j;
}

json_t *jp_base64(const void *p, size_t n)
{
  size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  char *b = malloc(len);
  json_t *j;
  if (!b) return NULL;
  sodium_bin2base64(b, len, p, n, sodium_base64_VARIANT_ORIGINAL);
  j = json_string(b);
  free(b);
  return j;
}

size_t jp_bytes2chars(const char *s, size_t n, size_t b)
{
  size_t c = 0;
  if (b > n) b = n;
  for (size_t i = 0; i < b; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80) c++;
  return c;
}

size_t jp_chars2bytes(const char *s, size_t n, size_t c)
{
  size_t i = 0;
  for (size_t k = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xc0) != 0x80) {
      if (k == c) return i;
      k++;
    }
  }
  return n;
}
