/*
 * jupyter.h — the Jupyter messaging protocol (v5.3) on the wire: the
 * connection file, signed multipart messages over ZeroMQ, identifiers and
 * dates. No Lua here; kernel.c is the kernel built on it.
 *
 * A message on a ROUTER socket is
 *   [identities...] "<IDS|MSG>" signature header parent_header metadata content [buffers...]
 * where signature is the hex HMAC-SHA256 (key from the connection file) of
 * the four JSON frames as sent. An empty key turns signing off, as the
 * protocol allows. Messages whose signature does not verify, or that repeat
 * the signature of one of the last JP_REPLAY messages, are rejected.
 */
#ifndef CJ_JUPYTER_H
#define CJ_JUPYTER_H

#include <jansson.h>
#include <stddef.h>

#define JP_PROTOCOL "5.3"
#define JP_REPLAY 1024           /* signatures remembered against replays */

typedef struct jp_conn {
  char transport[16];            /* "tcp" or "ipc" */
  char ip[256];
  int shell, iopub, stdin_, control, hb;   /* ports */
  char *key;                     /* malloc'd; "" when unsigned */
  char scheme[32];               /* "hmac-sha256" */
} jp_conn;

/* Read a connection file. Returns 0, or -1 with a message in err. Every
 * field is checked (ports in 1..65535, a known transport and scheme). */
int jp_readconn(const char *path, jp_conn *c, char *err, size_t errlen);
void jp_freeconn(jp_conn *c);
/* "tcp://127.0.0.1:5555" or "ipc://name-5555" into buf. */
void jp_endpoint(const jp_conn *c, int port, char *buf, size_t n);

/* The signing state of a kernel session. Not shared between threads
 * without a lock (the replay memory is written by jp_recv). */
typedef struct jp_session {
  unsigned char *key;
  size_t keylen;
  char id[37];                   /* this kernel's session (a UUID) */
  unsigned char seen[JP_REPLAY][32];
  int nseen, nextseen;
} jp_session;

/* Start a session with the key (copied). Returns 0, -1 when out of memory
 * or when the crypto library cannot start. */
int jp_session_init(jp_session *s, const char *key);
void jp_session_free(jp_session *s);

typedef struct jp_msg {
  int nids;                      /* routing identities (ROUTER sockets) */
  char **ids;
  size_t *idlen;
  json_t *header, *parent, *metadata, *content;
  const char *type;              /* header.msg_type (owned by header) */
} jp_msg;

/* Receive one message. Returns 0 (m filled; free with jp_msg_free), 1 when
 * a message came but was rejected (why in err: bad signature, replay,
 * malformed), -1 on a socket error (errno set; ETERM when the context is
 * shutting down). */
int jp_recv(void *sock, jp_session *s, jp_msg *m, char *err, size_t errlen);
void jp_msg_free(jp_msg *m);

/* Send a message of type whose parent is req (NULL for none): to req's
 * identities, or under topic (iopub) when topic is not NULL. content and
 * metadata (NULL for {}) are stolen. Returns 0, or -1 (errno). */
int jp_send(void *sock, const jp_session *s, const jp_msg *req, const char *topic,
            const char *type, json_t *content, json_t *metadata);

/* A random UUID (version 4) into out[37]. */
void jp_uuid(char out[37]);
/* The current time, ISO 8601 in UTC with microseconds, into out[32]. */
void jp_now(char out[32]);
/* A JSON string of s[0..n) with invalid UTF-8 replaced by U+FFFD. When
 * tail is not NULL, an incomplete sequence at the very end is left out
 * and its length stored there (to be prepended to the next piece). */
json_t *jp_text(const char *s, size_t n, size_t *tail);
/* Base64 of n bytes as a JSON string (NULL when out of memory). */
json_t *jp_base64(const void *p, size_t n);
/* Unicode code points in s[0..n) up to byte offset b, and back: the byte
 * offset of code point c (clamped to n). Jupyter counts cursors in code
 * points. */
size_t jp_bytes2chars(const char *s, size_t n, size_t b);
size_t jp_chars2bytes(const char *s, size_t n, size_t c);

#endif
