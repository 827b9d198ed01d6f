/*
 * client.c - libpgstate connection handling: Unix socket, handshake, blocking
 * and pipelined requests.  All wire encoding/decoding is in codec.c; this file
 * only moves bytes and keeps per-handle state (no globals).
 */
#include "pgstate.h"

#include "codec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_NAME "pgstate-c/" PGSTATE_VERSION_STRING
#define ERRMSG_CAP 512
#define REPLY_MSG_CAP 512
#define WINDOW_CAP 4096u                 /* client-side cap on requests in flight */
#define AUTOFLUSH_BYTES ((size_t)256 * 1024)

enum conn_state {
    CS_DISCONNECTED, /* no socket */
    CS_HANDSHAKE,    /* socket open, HELLO_OK not yet received */
    CS_READY,        /* handshaken; requests may be sent */
    CS_CLOSING       /* the server announced it is closing (202): read only */
};

enum owner {
    OWN_PIPELINE,  /* reply goes to the queue read by pgstate_read_reply */
    OWN_BLOCKING,  /* reply goes to the blocking call waiting for it */
    OWN_ABANDONED  /* its blocking call timed out: the reply is discarded */
};

/* One request from submission to the caller's pgstate_reply_free.  The reply
   is preallocated at submission so that failing it later never allocates. */
typedef struct pending {
    pgstate_reply pub; /* first member: pgstate_reply * <-> pending * */
    struct pending *next;
    int owner;
    int done;
    int is_write;
    uint64_t start_off; /* stream offset of the request's first byte */
    uint64_t end_off;   /* stream offset one past the request's last byte */
    char msgbuf[REPLY_MSG_CAP];
    char idbuf[]; /* persistence_id_len + 1 */
} pending;

struct pgstate_client {
    int fd;
    int state;
    char *path;
    int timeout_ms;

    /* result of the last call */
    int status;
    int server_status;
    uint64_t conflict_expected;
    uint64_t conflict_actual;
    char errmsg[ERRMSG_CAP];

    /* why the connection is (being) closed; reported by later calls */
    char close_msg[ERRMSG_CAP];

    /* what HELLO_OK announced (defaults before) */
    pgs_limits limits;
    char server_version[256];
    uint32_t window;

    /* I/O */
    pgs_reader rd;
    pgs_buf wbuf;
    size_t wpos;          /* bytes of wbuf already written */
    uint64_t queued_off;  /* bytes ever queued on this connection */
    uint64_t written_off; /* bytes ever written on this connection */

    /* requests sent, response outstanding (any owner) */
    pending **inflight;
    size_t n_inflight;
    size_t cap_inflight;
    size_t n_pipe_inflight; /* of which OWN_PIPELINE */

    /* finished pipelined replies, FIFO */
    pending *stash_head;
    pending *stash_tail;
    size_t n_stash;

    uint32_t next_rid;
    int rid_wrapped;
};

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------- */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline. */
static int64_t deadline_after(int timeout_ms) {
    return timeout_ms > 0 ? now_ms() + timeout_ms : -1;
}

/* Milliseconds left for poll(): -1 (infinite) without a deadline, 0 if passed. */
static int remaining_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Copies at most cap-1 bytes of UTF-8 text without cutting a character. */
static void copy_text(char *dst, size_t cap, const char *src, size_t n) {
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
}

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* snprintf whose truncation is intended (messages are capped). */
static void sfmt(char *dst, size_t cap, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void sfmt(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static int set_err(pgstate_client *c, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int set_err(pgstate_client *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->status = status;
    return status;
}

static void begin_call(pgstate_client *c) {
    c->status = PGSTATE_OK;
    c->server_status = 0;
    c->conflict_expected = 0;
    c->conflict_actual = 0;
    c->errmsg[0] = '\0';
}

/* Thread-safe strerror (strerror itself need not be). */
typedef struct errbuf {
    char s[128];
} errbuf;

static const char *errtext(int e, errbuf *b) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, b->s, sizeof b->s); /* GNU variant */
#else
    if (strerror_r(e, b->s, sizeof b->s) != 0) sfmt(b->s, sizeof b->s, "errno %d", e);
    return b->s;
#endif
}
#define ERRTEXT(e) errtext((e), &(errbuf){{0}})

static const char *wire_name(unsigned status) {
    const char *n = pgs_status_wire_name(status);
    return n ? n : "unassigned";
}

/* Section 7: a status is handled by its class. */
static int map_server_status(unsigned status) {
    if (status == PGS_S_INVALID_ARGUMENT) return PGSTATE_ERR_INVALID_ARGUMENT;
    if (status >= 100 && status <= 199) return PGSTATE_ERR_PROTOCOL;
    if (status >= 200 && status <= 299) return PGSTATE_ERR_UNAVAILABLE;
    if (status >= 300 && status <= 399) return PGSTATE_ERR_OUTCOME_UNKNOWN;
    return PGSTATE_ERR_SERVER; /* 5xx, and 0 / 4xx / >= 600 like 500 */
}

/* Who is at fault, by status class (section 7). */
static const char *fault_of(unsigned status) {
    if (status == PGS_S_INVALID_ARGUMENT) return "client error: invalid argument, do not retry unchanged";
    if (status >= 100 && status <= 199) return "client error: protocol violation";
    if (status >= 200 && status <= 299) return "server unavailable: not executed, retry with backoff";
    if (status >= 300 && status <= 399) return "outcome unknown: LOAD before retrying";
    return "server error: outcome unknown";
}

/* The server closes after these (section 10), whatever the request id. */
static int status_closes(unsigned status) {
    return status == PGS_S_MALFORMED_FRAME || status == PGS_S_FRAME_TOO_LARGE ||
           status == PGS_S_UNSUPPORTED_VERSION || status == PGS_S_NOT_ALLOWED;
}

static const char *op_name(int op) {
    switch (op) {
    case PGSTATE_OP_PING: return "PING";
    case PGSTATE_OP_LOAD: return "LOAD";
    case PGSTATE_OP_UPSERT: return "UPSERT";
    case PGSTATE_OP_DELETE: return "DELETE";
    case PGSTATE_OP_DELETE_IF: return "DELETE (conditional)";
    default: return "?";
    }
}

static const char *type_name(uint8_t t) {
    switch (t) {
    case PGS_T_HELLO_OK: return "HELLO_OK";
    case PGS_T_OK: return "OK";
    case PGS_T_RECORD: return "RECORD";
    case PGS_T_NOT_FOUND: return "NOT_FOUND";
    case PGS_T_CONFLICT: return "CONFLICT";
    case PGS_T_ERROR: return "ERROR";
    default: return "unknown";
    }
}

const char *pgstate_status_name(int status) {
    switch (status) {
    case PGSTATE_OK: return "PGSTATE_OK";
    case PGSTATE_NOT_FOUND: return "PGSTATE_NOT_FOUND";
    case PGSTATE_CONFLICT: return "PGSTATE_CONFLICT";
    case PGSTATE_ERR_INVALID_ARGUMENT: return "PGSTATE_ERR_INVALID_ARGUMENT";
    case PGSTATE_ERR_UNAVAILABLE: return "PGSTATE_ERR_UNAVAILABLE";
    case PGSTATE_ERR_OUTCOME_UNKNOWN: return "PGSTATE_ERR_OUTCOME_UNKNOWN";
    case PGSTATE_ERR_TIMEOUT: return "PGSTATE_ERR_TIMEOUT";
    case PGSTATE_ERR_PROTOCOL: return "PGSTATE_ERR_PROTOCOL";
    case PGSTATE_ERR_SERVER: return "PGSTATE_ERR_SERVER";
    case PGSTATE_ERR_NOMEM: return "PGSTATE_ERR_NOMEM";
    case PGSTATE_ERR_IO: return "PGSTATE_ERR_IO";
    default: return "PGSTATE_UNKNOWN_STATUS";
    }
}

/* ------------------------------------------------------------------------- */
/* Records and replies                                                        */
/* ------------------------------------------------------------------------- */

static pgstate_record *record_new(const char *id, size_t id_len, uint64_t revision,
                                  int64_t updated_at_us, const uint8_t *state, size_t state_len) {
    size_t head = sizeof(pgstate_record);
    if (state_len > SIZE_MAX - head - id_len - 2) return NULL;
    pgstate_record *r = malloc(head + id_len + 1 + state_len + 1);
    if (r == NULL) return NULL;
    char *idp = (char *)r + head;
    char *sp = idp + id_len + 1;
    if (id_len > 0) memcpy(idp, id, id_len);
    idp[id_len] = '\0';
    if (state_len > 0) memcpy(sp, state, state_len);
    sp[state_len] = '\0';
    r->persistence_id = idp;
    r->persistence_id_len = id_len;
    r->revision = revision;
    r->updated_at_us = updated_at_us;
    r->state = sp;
    r->state_len = state_len;
    return r;
}

void pgstate_record_free(pgstate_record *r) {
    free(r);
}

void pgstate_reply_free(pgstate_reply *r) {
    if (r == NULL) return;
    pgstate_record_free(r->record);
    free((pending *)r); /* pub is the first member of pending */
}

static pending *pending_new(int op, const char *id, size_t id_len, uint64_t expected, int owner) {
    pending *p = calloc(1, sizeof(pending) + id_len + 1);
    if (p == NULL) return NULL;
    if (id_len > 0) memcpy(p->idbuf, id, id_len);
    p->idbuf[id_len] = '\0';
    p->owner = owner;
    p->is_write = op == PGSTATE_OP_UPSERT || op == PGSTATE_OP_DELETE || op == PGSTATE_OP_DELETE_IF;
    p->pub.op = op;
    p->pub.persistence_id = p->idbuf;
    p->pub.persistence_id_len = id_len;
    p->pub.expected_revision = expected;
    p->pub.message = p->msgbuf;
    return p;
}

static void pending_fail(pending *p, int status, int server_status, const char *msg) {
    p->pub.kind = PGSTATE_REPLY_ERROR;
    p->pub.status = status;
    p->pub.server_status = server_status;
    copy_text(p->msgbuf, sizeof p->msgbuf, msg, strlen(msg));
}

/* Routes a finished request (already removed from the in-flight table). */
static void pending_finish(pgstate_client *c, pending *p) {
    p->done = 1;
    switch (p->owner) {
    case OWN_PIPELINE:
        c->n_pipe_inflight--;
        p->next = NULL;
        if (c->stash_tail) c->stash_tail->next = p;
        else c->stash_head = p;
        c->stash_tail = p;
        c->n_stash++;
        break;
    case OWN_BLOCKING:
        break; /* the waiting call picks it up through p->done */
    case OWN_ABANDONED:
        pgstate_reply_free(&p->pub);
        break;
    }
}

static void inflight_remove_at(pgstate_client *c, size_t i) {
    memmove(&c->inflight[i], &c->inflight[i + 1], (c->n_inflight - i - 1) * sizeof *c->inflight);
    c->n_inflight--;
}

static ssize_t inflight_find(const pgstate_client *c, uint32_t rid) {
    for (size_t i = 0; i < c->n_inflight; i++) {
        if (c->inflight[i]->pub.request_id == rid) return (ssize_t)i;
    }
    return -1;
}

/* ------------------------------------------------------------------------- */
/* Connection teardown                                                        */
/* ------------------------------------------------------------------------- */

/*
 * Closes the socket and fails every request still in flight:
 *   cause PGSTATE_ERR_PROTOCOL: all PROTOCOL (the stream cannot be trusted);
 *   not_executed (the server said so: final ERROR 202 with request id 0): all
 *   UNAVAILABLE, writes included;
 *   otherwise a write whose bytes were all written -> OUTCOME_UNKNOWN, anything
 *   else (unwritten, or a read) -> UNAVAILABLE, or the cause itself when it is
 *   NOMEM / IO.
 */
static void conn_close_ex(pgstate_client *c, int cause, int server_status, const char *why, int not_executed) {
    if (why != c->close_msg) copy_text(c->close_msg, sizeof c->close_msg, why, strlen(why));
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = CS_DISCONNECTED;
    char msg[ERRMSG_CAP + 128];
    while (c->n_inflight > 0) {
        pending *p = c->inflight[0];
        inflight_remove_at(c, 0);
        int st;
        const char *what;
        if (cause == PGSTATE_ERR_PROTOCOL) {
            st = PGSTATE_ERR_PROTOCOL;
            what = p->is_write ? "; the write may or may not have been applied" : "";
        } else if (not_executed) {
            st = PGSTATE_ERR_UNAVAILABLE;
            what = "; the request was not executed (retry on a new connection)";
        } else if (p->is_write && c->written_off >= p->end_off) {
            st = PGSTATE_ERR_OUTCOME_UNKNOWN;
            what = "; the write was sent and may or may not have been applied (LOAD to find out)";
        } else {
            st = (cause == PGSTATE_ERR_NOMEM || cause == PGSTATE_ERR_IO) ? cause : PGSTATE_ERR_UNAVAILABLE;
            what = p->is_write ? "; the request was not sent (safe to retry)" : " (safe to retry)";
        }
        sfmt(msg, sizeof msg, "%s%s", c->close_msg, what);
        pending_fail(p, st, server_status, msg);
        pending_finish(c, p);
    }
    c->n_pipe_inflight = 0; /* all finished above; keeps the count exact */
    c->wbuf.len = 0;
    c->wpos = 0;
    c->queued_off = c->written_off = 0;
    pgs_reader_reset(&c->rd);
}

static void conn_close(pgstate_client *c, int cause, int server_status, const char *why) {
    conn_close_ex(c, cause, server_status, why, 0);
}

static void protocol_error(pgstate_client *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void protocol_error(pgstate_client *c, const char *fmt, ...) {
    char detail[ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    char why[ERRMSG_CAP];
    sfmt(why, sizeof why, "protocol error (client or server bug): %s; connection to %s closed",
             detail, c->path);
    conn_close(c, PGSTATE_ERR_PROTOCOL, 0, why);
}

/* ------------------------------------------------------------------------- */
/* Responses                                                                  */
/* ------------------------------------------------------------------------- */

static int response_allowed(int op, uint8_t type) {
    if (type == PGS_T_ERROR) return 1;
    switch (op) {
    case PGSTATE_OP_PING: return type == PGS_T_OK;
    case PGSTATE_OP_LOAD: return type == PGS_T_RECORD || type == PGS_T_NOT_FOUND;
    case PGSTATE_OP_UPSERT: return type == PGS_T_RECORD || type == PGS_T_CONFLICT;
    case PGSTATE_OP_DELETE: return type == PGS_T_OK;
    case PGSTATE_OP_DELETE_IF: return type == PGS_T_OK || type == PGS_T_CONFLICT;
    default: return 0;
    }
}

/* Handles one response frame on a READY / CLOSING connection. */
static void handle_frame(pgstate_client *c, const uint8_t *body, uint32_t len) {
    pgs_msg m;
    uint32_t erid;
    int st = pgs_decode_response(body, len, &m, &erid);
    if (st != 0) {
        protocol_error(c, "malformed response from pgstated (%d %s, request id %u)", st, wire_name((unsigned)st),
                       erid);
        return;
    }
    if (m.type == PGS_T_HELLO_OK) {
        protocol_error(c, "unexpected HELLO_OK (request id %u) after the handshake", m.request_id);
        return;
    }
    if (m.type == PGS_T_ERROR && m.request_id == 0 && m.status == PGS_S_SHUTTING_DOWN) {
        /* Section 10 case 3: the server's last frame; nothing unanswered ran. */
        char why[ERRMSG_CAP];
        sfmt(why, sizeof why, "pgstated at %s is shutting down (final ERROR 202 SHUTTING_DOWN) and closed the "
             "connection", c->path);
        conn_close_ex(c, PGSTATE_ERR_UNAVAILABLE, m.status, why, 1);
        return;
    }
    if (m.type == PGS_T_ERROR && m.request_id == 0) {
        /* Belongs to no request; the server closes after it (sections 3.3, 10). */
        char why[ERRMSG_CAP];
        sfmt(why, sizeof why, "pgstated at %s sent ERROR %u %s (\"%.*s\") and closed the connection",
                 c->path, m.status, wire_name(m.status), (int)(m.text_len > 200 ? 200 : m.text_len), m.text);
        int cause = (m.status >= 100 && m.status <= 199) ? PGSTATE_ERR_PROTOCOL : PGSTATE_ERR_UNAVAILABLE;
        conn_close(c, cause, m.status, why);
        return;
    }
    ssize_t idx = inflight_find(c, m.request_id);
    if (idx < 0) {
        protocol_error(c, "%s response for request id %u, which is not in flight", type_name(m.type),
                       m.request_id);
        return;
    }
    pending *p = c->inflight[idx];
    int op = p->pub.op;
    if (!response_allowed(op, m.type)) {
        protocol_error(c, "%s is not a valid response to %s (request id %u)", type_name(m.type), op_name(op),
                       m.request_id);
        return;
    }
    pgstate_reply *r = &p->pub;
    switch (m.type) {
    case PGS_T_OK:
        r->kind = PGSTATE_REPLY_OK;
        r->status = PGSTATE_OK;
        break;
    case PGS_T_NOT_FOUND:
        r->kind = PGSTATE_REPLY_NOT_FOUND;
        r->status = PGSTATE_NOT_FOUND;
        break;
    case PGS_T_RECORD:
        if (m.revision < 1 || m.revision > PGS_MAX_REVISION) {
            protocol_error(c, "RECORD with revision %llu out of range (request id %u)",
                           (unsigned long long)m.revision, m.request_id);
            return;
        }
        if (op == PGSTATE_OP_UPSERT && m.revision != r->expected_revision + 1) {
            protocol_error(c, "UPSERT expecting revision %llu answered with RECORD revision %llu (request id %u)",
                           (unsigned long long)r->expected_revision, (unsigned long long)m.revision,
                           m.request_id);
            return;
        }
        if (m.state_len > c->limits.max_state_bytes) {
            protocol_error(c, "RECORD state of %zu bytes exceeds max_state_bytes %u (request id %u)", m.state_len,
                           c->limits.max_state_bytes, m.request_id);
            return;
        }
        r->record = record_new(p->idbuf, r->persistence_id_len, m.revision, m.updated_at_us, m.state,
                               m.state_len);
        if (r->record == NULL) {
            pending_fail(p, PGSTATE_ERR_NOMEM, 0, "out of memory copying the record");
        } else {
            r->kind = PGSTATE_REPLY_RECORD;
            r->status = PGSTATE_OK;
        }
        break;
    case PGS_T_CONFLICT:
        if (m.expected_revision != r->expected_revision || m.actual_revision == m.expected_revision ||
            m.actual_revision > PGS_MAX_REVISION) {
            protocol_error(c, "CONFLICT(expected %llu, actual %llu) does not fit request id %u (expected %llu)",
                           (unsigned long long)m.expected_revision, (unsigned long long)m.actual_revision,
                           m.request_id, (unsigned long long)r->expected_revision);
            return;
        }
        r->kind = PGSTATE_REPLY_CONFLICT;
        r->status = PGSTATE_CONFLICT;
        r->actual_revision = m.actual_revision;
        break;
    case PGS_T_ERROR: {
        char msg[REPLY_MSG_CAP];
        sfmt(msg, sizeof msg, "pgstated answered ERROR %u %s (%s): %.*s", m.status, wire_name(m.status),
             fault_of(m.status), (int)(m.text_len > 400 ? 400 : m.text_len), m.text);
        pending_fail(p, map_server_status(m.status), m.status, msg);
        break;
    }
    default:
        protocol_error(c, "unexpected response type 0x%02x", m.type);
        return;
    }
    inflight_remove_at(c, (size_t)idx);
    pending_finish(c, p);

    if (m.type == PGS_T_ERROR) {
        if (status_closes(m.status)) {
            char why[ERRMSG_CAP];
            sfmt(why, sizeof why, "pgstated at %s answered ERROR %u %s and closed the connection", c->path,
                     m.status, wire_name(m.status));
            conn_close(c, PGSTATE_ERR_PROTOCOL, m.status, why);
        } else if (m.status == PGS_S_SHUTTING_DOWN && c->state == CS_READY) {
            /* Draining: in-flight requests are still answered, then it closes. */
            c->state = CS_CLOSING;
            sfmt(c->close_msg, sizeof c->close_msg,
                     "pgstated at %s is shutting down (ERROR 202); reconnect to continue", c->path);
        }
    }
}

/* Takes every complete frame out of the reader. */
static void process_frames(pgstate_client *c) {
    for (;;) {
        const uint8_t *body;
        uint32_t len;
        int r = pgs_reader_next(&c->rd, &body, &len);
        if (r == PGS_NEED_MORE) return;
        if (r == PGS_READ_ERROR) {
            if (c->rd.err_status == PGS_S_FRAME_TOO_LARGE) {
                protocol_error(c, "response frame length %u exceeds max_frame_bytes %u", c->rd.err_length,
                               c->rd.max_frame_bytes);
            } else {
                protocol_error(c, "response frame length %u is shorter than the 6-byte header", c->rd.err_length);
            }
            return;
        }
        handle_frame(c, body, len);
        if (c->fd < 0) return;
    }
}

/* ------------------------------------------------------------------------- */
/* Socket I/O                                                                 */
/* ------------------------------------------------------------------------- */

static ssize_t send_nosignal(int fd, const void *buf, size_t n) {
#ifdef MSG_NOSIGNAL
    return send(fd, buf, n, MSG_NOSIGNAL);
#else
    return send(fd, buf, n, 0); /* SO_NOSIGPIPE is set on the socket where available */
#endif
}

/* Reads what is available.  Returns 0, or 1 on EOF / error (the connection is
   then closed unless handle_eof is 0, in which case *eof_errno says why). */
static int do_read(pgstate_client *c, int *eof_errno) {
    *eof_errno = 0;
    for (int rounds = 0; rounds < 64 && c->fd >= 0; rounds++) {
        uint8_t *ptr;
        size_t avail;
        if (pgs_reader_space(&c->rd, &ptr, &avail) != 0) {
            conn_close(c, PGSTATE_ERR_NOMEM, 0, "out of memory reading a response; connection closed");
            return 1;
        }
        if (avail == 0) { /* a whole frame is buffered: take it out first */
            process_frames(c);
            continue;
        }
        ssize_t n = read(c->fd, ptr, avail);
        if (n > 0) {
            pgs_reader_commit(&c->rd, (size_t)n);
            process_frames(c);
            continue;
        }
        if (n == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        *eof_errno = errno;
        return 1;
    }
    return 0;
}

/* Writes what the socket takes.  Returns 0, or the errno of a failed write. */
static int do_write(pgstate_client *c) {
    while (c->wpos < c->wbuf.len) {
        ssize_t n = send_nosignal(c->fd, c->wbuf.data + c->wpos, c->wbuf.len - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
            c->written_off += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return n < 0 ? errno : EPIPE;
    }
    c->wbuf.len = 0;
    c->wpos = 0;
    return 0;
}

/* Connection lost (EOF or transport error): drain nothing more, fail all. */
static void conn_lost(pgstate_client *c, int err, const char *while_doing) {
    char why[ERRMSG_CAP];
    if (c->state == CS_CLOSING) {
        sfmt(why, sizeof why, "%s", c->close_msg);
    } else if (err != 0) {
        sfmt(why, sizeof why, "connection to pgstated at %s lost while %s: %s", c->path, while_doing,
                 ERRTEXT(err));
    } else {
        sfmt(why, sizeof why, "pgstated at %s closed the connection", c->path);
    }
    conn_close(c, PGSTATE_ERR_UNAVAILABLE, 0, why);
}

/*
 * One round of I/O: waits (until deadline) for the socket, writes buffered
 * requests when it can (READY only) and reads and dispatches responses.
 * Returns PGSTATE_OK (progress may or may not have been made), TIMEOUT, or
 * UNAVAILABLE when there is no connection (any in-flight request has then been
 * failed).
 */
static int io_step(pgstate_client *c, int64_t deadline) {
    if (c->fd < 0) return PGSTATE_ERR_UNAVAILABLE;
    struct pollfd pfd;
    pfd.fd = c->fd;
    pfd.events = POLLIN;
    if (c->state == CS_READY && c->wpos < c->wbuf.len) pfd.events |= POLLOUT;
    pfd.revents = 0;
    int r = poll(&pfd, 1, remaining_ms(deadline));
    if (r == 0) return PGSTATE_ERR_TIMEOUT;
    if (r < 0) {
        if (errno == EINTR) return PGSTATE_OK;
        char why[ERRMSG_CAP];
        sfmt(why, sizeof why, "poll() on the connection to %s failed: %s", c->path, ERRTEXT(errno));
        conn_close(c, PGSTATE_ERR_IO, 0, why);
        return PGSTATE_ERR_UNAVAILABLE;
    }
    if ((pfd.revents & POLLOUT) && c->state == CS_READY) {
        int werr = do_write(c);
        if (werr != 0) {
            /* The server may have answered and closed (e.g. ERROR 100): read what
               it sent before giving up on the connection. */
            int rerr;
            do_read(c, &rerr);
            if (c->fd >= 0) conn_lost(c, werr, "writing");
            return c->fd >= 0 ? PGSTATE_OK : PGSTATE_ERR_UNAVAILABLE;
        }
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        int rerr;
        if (do_read(c, &rerr) != 0 && c->fd >= 0) conn_lost(c, rerr, "reading");
    }
    return c->fd >= 0 ? PGSTATE_OK : PGSTATE_ERR_UNAVAILABLE;
}

/* Writes without waiting (and reads what has arrived), e.g. after a send_*
   call filled the buffer.  Errors surface through the requests. */
static void try_write_now(pgstate_client *c) {
    if (c->state != CS_READY || c->wpos >= c->wbuf.len) return;
    int werr = do_write(c);
    if (werr != 0) {
        int rerr;
        do_read(c, &rerr);
        if (c->fd >= 0) conn_lost(c, werr, "writing");
    }
}

/* ------------------------------------------------------------------------- */
/* Connecting and the handshake                                               */
/* ------------------------------------------------------------------------- */

static int open_socket(pgstate_client *c, int64_t deadline) {
    struct sockaddr_un sa;
    size_t plen = strlen(c->path);
    if (plen >= sizeof sa.sun_path) {
        return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "socket path is %zu bytes, longer than the %zu allowed: %s",
                       plen, sizeof sa.sun_path - 1, c->path);
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, c->path, plen + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return set_err(c, PGSTATE_ERR_IO, "socket(AF_UNIX) failed: %s", ERRTEXT(errno));
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return set_err(c, PGSTATE_ERR_IO, "fcntl(O_NONBLOCK) failed: %s", ERRTEXT(e));
    }
#ifdef SO_NOSIGPIPE
    {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) break;
        int e = errno;
        if (e == EINPROGRESS || e == EINTR || e == EALREADY) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int r;
            do {
                r = poll(&pfd, 1, remaining_ms(deadline));
            } while (r < 0 && errno == EINTR);
            if (r == 0) {
                close(fd);
                return set_err(c, PGSTATE_ERR_TIMEOUT, "timed out connecting to pgstated at %s", c->path);
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
            if (soerr == 0) break;
            e = soerr;
        } else if (e == EAGAIN) {
            /* Linux: the listen backlog is full; try again shortly. */
            if (deadline >= 0 && remaining_ms(deadline) == 0) {
                close(fd);
                return set_err(c, PGSTATE_ERR_TIMEOUT,
                               "timed out connecting to pgstated at %s (listen backlog full)", c->path);
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        close(fd);
        switch (e) {
        case ENOENT:
            return set_err(c, PGSTATE_ERR_UNAVAILABLE,
                           "no pgstated socket at %s (is pgstated running? the path comes from the "
                           "socket_path argument, else $PGSTATE_SOCKET, else " PGSTATE_DEFAULT_SOCKET ")",
                           c->path);
        case ECONNREFUSED:
            return set_err(c, PGSTATE_ERR_UNAVAILABLE,
                           "connection refused by %s (pgstated not running, or a stale socket file)", c->path);
        case ENOTDIR:
            return set_err(c, PGSTATE_ERR_UNAVAILABLE, "cannot reach pgstated socket %s: %s", c->path,
                           ERRTEXT(e));
        case EACCES:
        case EPERM:
            return set_err(c, PGSTATE_ERR_IO, "permission denied connecting to pgstated socket %s: %s", c->path,
                           ERRTEXT(e));
        default:
            return set_err(c, PGSTATE_ERR_IO, "cannot connect to pgstated socket %s: %s", c->path, ERRTEXT(e));
        }
    }
    c->fd = fd;
    return PGSTATE_OK;
}

static uint32_t alloc_rid(pgstate_client *c);

/* Fails the handshake: closes the socket, keeps the error on the handle. */
static int hs_fail(pgstate_client *c, int status, int server_status, const char *fmt, ...) PRINTF_LIKE(4, 5);
static int hs_fail(pgstate_client *c, int status, int server_status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->status = status;
    c->server_status = server_status;
    conn_close(c, status, server_status, c->errmsg);
    return status;
}

static int handshake(pgstate_client *c, int64_t deadline) {
    c->state = CS_HANDSHAKE;
    pgs_reader_reset(&c->rd);
    pgs_reader_set_max_frame(&c->rd, PGS_DEFAULT_MAX_FRAME_BYTES); /* until HELLO_OK */
    uint32_t rid = alloc_rid(c);
    static const uint16_t versions[1] = {1};
    if (pgs_encode_hello(&c->wbuf, rid, versions, 1, CLIENT_NAME, strlen(CLIENT_NAME)) != PGS_ENC_OK) {
        return hs_fail(c, PGSTATE_ERR_NOMEM, 0, "out of memory encoding HELLO");
    }
    c->queued_off = c->wbuf.len;

    const uint8_t *body = NULL;
    uint32_t len = 0;
    int write_err = 0;
    for (;;) {
        int r = pgs_reader_next(&c->rd, &body, &len);
        if (r == PGS_FRAME) break;
        if (r == PGS_READ_ERROR) {
            return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0,
                           "protocol error: handshake response from %s has invalid frame length %u", c->path,
                           c->rd.err_length);
        }
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (c->wpos < c->wbuf.len && write_err == 0) pfd.events |= POLLOUT;
        int pr = poll(&pfd, 1, remaining_ms(deadline));
        if (pr == 0) {
            return hs_fail(c, PGSTATE_ERR_TIMEOUT, 0, "timed out waiting for the handshake with pgstated at %s",
                           c->path);
        }
        if (pr < 0) {
            if (errno == EINTR) continue;
            return hs_fail(c, PGSTATE_ERR_IO, 0, "poll() failed during the handshake with %s: %s", c->path,
                           ERRTEXT(errno));
        }
        if (pfd.revents & POLLOUT) write_err = do_write(c);
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            uint8_t *ptr;
            size_t avail;
            if (pgs_reader_space(&c->rd, &ptr, &avail) != 0) {
                return hs_fail(c, PGSTATE_ERR_NOMEM, 0, "out of memory during the handshake");
            }
            ssize_t n = avail ? read(c->fd, ptr, avail) : 0;
            if (n > 0) {
                pgs_reader_commit(&c->rd, (size_t)n);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
                int e = n == 0 ? write_err : errno;
                if (e != 0) {
                    return hs_fail(c, PGSTATE_ERR_UNAVAILABLE, 0,
                                   "connection to pgstated at %s lost during the handshake: %s", c->path,
                                   ERRTEXT(e));
                }
                return hs_fail(c, PGSTATE_ERR_UNAVAILABLE, 0,
                               "pgstated at %s closed the connection during the handshake", c->path);
            }
        }
    }

    pgs_msg m;
    uint32_t erid;
    int st = pgs_decode_response(body, len, &m, &erid);
    if (st != 0) {
        return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0,
                       "protocol error: malformed handshake response from %s (%d %s, request id %u)", c->path, st,
                       wire_name((unsigned)st), erid);
    }
    if (m.type == PGS_T_ERROR && (m.request_id == rid || m.request_id == 0)) {
        int status = map_server_status(m.status);
        const char *hint = "";
        if (m.status == PGS_S_UNSUPPORTED_VERSION) hint = " (this client speaks protocol version 1 only)";
        else if (m.status == PGS_S_OVERLOADED) hint = " (connection limit reached; retry with backoff)";
        return hs_fail(c, status, m.status, "pgstated at %s refused the handshake: ERROR %u %s: %.*s%s", c->path,
                       m.status, wire_name(m.status), (int)(m.text_len > 300 ? 300 : m.text_len), m.text, hint);
    }
    if (m.type != PGS_T_HELLO_OK || m.request_id != rid) {
        return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0,
                       "protocol error: expected HELLO_OK for request id %u from %s, got %s for request id %u", rid,
                       c->path, type_name(m.type), m.request_id);
    }
    if (m.version != 1) {
        return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0,
                       "protocol error: pgstated at %s chose protocol version %u, which was not offered", c->path,
                       m.version);
    }
    if (m.max_frame_bytes < PGS_HEADER_BYTES || m.max_id_bytes < 1 || m.max_in_flight < 1) {
        return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0,
                       "protocol error: pgstated at %s announced unusable limits (max_frame_bytes %u, "
                       "max_id_bytes %u, max_in_flight %u)",
                       c->path, m.max_frame_bytes, m.max_id_bytes, m.max_in_flight);
    }
    c->limits.max_frame_bytes = m.max_frame_bytes;
    c->limits.max_id_bytes = m.max_id_bytes > 255 ? 255 : m.max_id_bytes;
    c->limits.max_state_bytes = m.max_state_bytes;
    c->limits.max_in_flight = m.max_in_flight;
    c->limits.capabilities = m.capabilities;
    copy_text(c->server_version, sizeof c->server_version, m.text, m.text_len);
    c->window = m.max_in_flight < WINDOW_CAP ? m.max_in_flight : WINDOW_CAP;
    pgs_reader_set_max_frame(&c->rd, m.max_frame_bytes);
    c->state = CS_READY;
    c->close_msg[0] = '\0';
    /* Frames after HELLO_OK cannot be there yet (nothing else was sent). */
    if (pgs_reader_buffered(&c->rd) != 0) {
        return hs_fail(c, PGSTATE_ERR_PROTOCOL, 0, "protocol error: unsolicited data after HELLO_OK from %s",
                       c->path);
    }
    return PGSTATE_OK;
}

static int do_connect(pgstate_client *c) {
    int64_t deadline = deadline_after(c->timeout_ms);
    pgs_limits_default(&c->limits);
    c->server_version[0] = '\0';
    c->window = 0;
    int rc = open_socket(c, deadline);
    if (rc != PGSTATE_OK) {
        copy_text(c->close_msg, sizeof c->close_msg, c->errmsg, strlen(c->errmsg));
        return rc;
    }
    return handshake(c, deadline);
}

pgstate_client *pgstate_connect(const char *socket_path, int timeout_ms) {
    pgstate_client *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->fd = -1;
    c->state = CS_DISCONNECTED;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    c->next_rid = 1;
    pgs_reader_init(&c->rd, PGS_DEFAULT_MAX_FRAME_BYTES);
    pgs_buf_init(&c->wbuf);
    pgs_limits_default(&c->limits);
    if (socket_path == NULL || socket_path[0] == '\0') {
        const char *env = getenv("PGSTATE_SOCKET");
        socket_path = (env != NULL && env[0] != '\0') ? env : PGSTATE_DEFAULT_SOCKET;
    }
    size_t n = strlen(socket_path);
    c->path = malloc(n + 1);
    if (c->path == NULL) {
        free(c);
        return NULL;
    }
    memcpy(c->path, socket_path, n + 1);
    begin_call(c);
    do_connect(c);
    return c;
}

int pgstate_reconnect(pgstate_client *c) {
    begin_call(c);
    if (c->fd >= 0) conn_close(c, PGSTATE_ERR_UNAVAILABLE, 0, "connection closed by pgstate_reconnect()");
    return do_connect(c);
}

void pgstate_free(pgstate_client *c) {
    if (c == NULL) return;
    if (c->fd >= 0) close(c->fd);
    for (size_t i = 0; i < c->n_inflight; i++) pgstate_reply_free(&c->inflight[i]->pub);
    free(c->inflight);
    for (pending *p = c->stash_head; p != NULL;) {
        pending *next = p->next;
        pgstate_reply_free(&p->pub);
        p = next;
    }
    pgs_reader_free(&c->rd);
    pgs_buf_free(&c->wbuf);
    free(c->path);
    free(c);
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------- */

int pgstate_status(const pgstate_client *c) {
    return c ? c->status : PGSTATE_ERR_INVALID_ARGUMENT;
}

const char *pgstate_errmsg(const pgstate_client *c) {
    return c ? c->errmsg : "no client handle (NULL)";
}

int pgstate_server_status(const pgstate_client *c) {
    return c ? c->server_status : 0;
}

void pgstate_set_timeout(pgstate_client *c, int timeout_ms) {
    if (c) c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int pgstate_is_connected(const pgstate_client *c) {
    return c != NULL && c->fd >= 0 && c->state == CS_READY;
}

const char *pgstate_server_version(const pgstate_client *c) {
    return c ? c->server_version : "";
}

static int handshaken(const pgstate_client *c) {
    return c != NULL && c->window > 0;
}

uint32_t pgstate_max_state_bytes(const pgstate_client *c) {
    return handshaken(c) ? c->limits.max_state_bytes : 0;
}

uint32_t pgstate_max_id_bytes(const pgstate_client *c) {
    return handshaken(c) ? c->limits.max_id_bytes : 0;
}

uint32_t pgstate_max_in_flight(const pgstate_client *c) {
    return handshaken(c) ? c->limits.max_in_flight : 0;
}

uint32_t pgstate_capabilities(const pgstate_client *c) {
    return handshaken(c) ? c->limits.capabilities : 0;
}

uint64_t pgstate_conflict_expected(const pgstate_client *c) {
    return c ? c->conflict_expected : 0;
}

uint64_t pgstate_conflict_actual(const pgstate_client *c) {
    return c ? c->conflict_actual : 0;
}

size_t pgstate_pending(const pgstate_client *c) {
    return c ? c->n_pipe_inflight + c->n_stash : 0;
}

/* ------------------------------------------------------------------------- */
/* Submitting requests                                                        */
/* ------------------------------------------------------------------------- */

static int rid_in_use(const pgstate_client *c, uint32_t rid) {
    if (inflight_find(c, rid) >= 0) return 1;
    for (const pending *p = c->stash_head; p != NULL; p = p->next) {
        if (p->pub.request_id == rid) return 1;
    }
    return 0;
}

/* 1..2^32-1, wrapping around 0, unique among requests in flight and replies
   not yet read (checked only once the counter has wrapped). */
static uint32_t alloc_rid(pgstate_client *c) {
    for (;;) {
        uint32_t rid = c->next_rid;
        c->next_rid++;
        if (c->next_rid == 0) {
            c->next_rid = 1;
            c->rid_wrapped = 1;
        }
        if (rid == 0) continue;
        if (c->rid_wrapped && rid_in_use(c, rid)) continue;
        return rid;
    }
}

static int check_id(pgstate_client *c, const char *id, size_t id_len) {
    if (id == NULL && id_len > 0) return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "persistence id is NULL");
    if (id_len == 0) return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "persistence id must not be empty");
    if (id_len > c->limits.max_id_bytes) {
        return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "persistence id is %zu bytes; the maximum is %u", id_len,
                       c->limits.max_id_bytes);
    }
    const uint8_t *b = (const uint8_t *)id;
    for (size_t i = 0; i < id_len; i++) {
        if (b[i] < 0x20 || b[i] == 0x7F) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT,
                           "persistence id contains control character 0x%02x at byte %zu", b[i], i);
        }
    }
    if (!pgs_utf8_valid(b, id_len)) {
        return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "persistence id is not valid UTF-8");
    }
    return PGSTATE_OK;
}

static int check_args(pgstate_client *c, int op, const char *id, size_t id_len, uint64_t expected,
                      const void *state, size_t state_len) {
    if (c->state == CS_HANDSHAKE) { /* cannot happen through the API */
        return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "handshake in progress");
    }
    if (op == PGSTATE_OP_PING) return PGSTATE_OK;
    int rc = check_id(c, id, id_len);
    if (rc != PGSTATE_OK) return rc;
    if (op == PGSTATE_OP_UPSERT) {
        if (expected > PGS_MAX_UPSERT_EXPECTED) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT,
                           "expected_revision %llu is out of range for UPSERT (0 .. 2^63-2)",
                           (unsigned long long)expected);
        }
        if (state == NULL && state_len > 0) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "state is NULL but state_len is %zu", state_len);
        }
        if (state_len > c->limits.max_state_bytes) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "state is %zu bytes; pgstated allows at most %u",
                           state_len, c->limits.max_state_bytes);
        }
        uint64_t frame = PGS_HEADER_BYTES + 1 + (uint64_t)id_len + 8 + 4 + (uint64_t)state_len;
        if (frame > c->limits.max_frame_bytes) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT,
                           "request would be a %llu-byte frame; pgstated allows at most %u",
                           (unsigned long long)frame, c->limits.max_frame_bytes);
        }
    }
    if (op == PGSTATE_OP_DELETE_IF) {
        if (expected > PGS_MAX_REVISION) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT,
                           "expected_revision %llu is out of range for a conditional DELETE (0 .. 2^63-1)",
                           (unsigned long long)expected);
        }
        if (handshaken(c) && !(c->limits.capabilities & PGS_CAP_CONDITIONAL_DELETE)) {
            return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT,
                           "pgstated at %s does not announce CONDITIONAL_DELETE; conditional delete unavailable",
                           c->path);
        }
    }
    return PGSTATE_OK;
}

/* Why no request can be sent now (not READY). */
static int not_ready(pgstate_client *c) {
    if (c->state == CS_CLOSING) return set_err(c, PGSTATE_ERR_UNAVAILABLE, "%s", c->close_msg);
    return set_err(c, PGSTATE_ERR_UNAVAILABLE, "not connected to pgstated (%s); call pgstate_reconnect()",
                   c->close_msg[0] ? c->close_msg : "no connection");
}

/*
 * Queues one request: waits for an in-flight slot (doing I/O), encodes it and
 * registers it.  Returns the pending request, or NULL with the error on c.
 */
static pending *submit(pgstate_client *c, int op, const char *id, size_t id_len, uint64_t expected,
                       const void *state, size_t state_len, int owner, int64_t deadline) {
    if (c->state != CS_READY) {
        not_ready(c);
        return NULL;
    }
    while (c->n_inflight >= c->window) {
        int rc = io_step(c, deadline);
        if (c->state != CS_READY) {
            not_ready(c);
            return NULL;
        }
        if (rc == PGSTATE_ERR_TIMEOUT) {
            set_err(c, PGSTATE_ERR_TIMEOUT, "timed out waiting for one of %u in-flight requests to be answered",
                    c->window);
            return NULL;
        }
    }
    if (c->n_inflight == c->cap_inflight) {
        size_t ncap = c->cap_inflight ? c->cap_inflight * 2 : 16;
        pending **ni = realloc(c->inflight, ncap * sizeof *ni);
        if (ni == NULL) {
            set_err(c, PGSTATE_ERR_NOMEM, "out of memory queuing a request");
            return NULL;
        }
        c->inflight = ni;
        c->cap_inflight = ncap;
    }
    pending *p = pending_new(op, id ? id : "", id ? id_len : 0, expected, owner);
    if (p == NULL) {
        set_err(c, PGSTATE_ERR_NOMEM, "out of memory queuing a request");
        return NULL;
    }
    uint32_t rid = alloc_rid(c);
    p->pub.request_id = rid;

    /* Reclaim written bytes before appending (when that halves the buffer). */
    if (c->wpos > 0 && c->wpos >= c->wbuf.len / 2) {
        pgs_buf_consume(&c->wbuf, c->wpos);
        c->wpos = 0;
    }
    size_t before = c->wbuf.len;
    int enc;
    switch (op) {
    case PGSTATE_OP_PING: enc = pgs_encode_ping(&c->wbuf, rid); break;
    case PGSTATE_OP_LOAD: enc = pgs_encode_load(&c->wbuf, rid, id, id_len); break;
    case PGSTATE_OP_UPSERT: enc = pgs_encode_upsert(&c->wbuf, rid, id, id_len, expected, state, state_len); break;
    case PGSTATE_OP_DELETE: enc = pgs_encode_delete(&c->wbuf, rid, id, id_len, 0, 0); break;
    default: enc = pgs_encode_delete(&c->wbuf, rid, id, id_len, 1, expected); break;
    }
    if (enc != PGS_ENC_OK) {
        free(p);
        if (enc == PGS_ENC_NOMEM) set_err(c, PGSTATE_ERR_NOMEM, "out of memory encoding a request");
        else set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "request does not fit the wire format");
        return NULL;
    }
    p->start_off = c->queued_off;
    c->queued_off += c->wbuf.len - before;
    p->end_off = c->queued_off;
    c->inflight[c->n_inflight++] = p;
    if (owner == OWN_PIPELINE) c->n_pipe_inflight++;
    return p;
}

/* ------------------------------------------------------------------------- */
/* Blocking calls                                                             */
/* ------------------------------------------------------------------------- */

/* Takes a request whose first byte has not been written back out of the
   output buffer and the in-flight table, so that it is never sent.  Returns 1
   if it was withdrawn (and freed), 0 if it is (partly) on the wire already. */
static int withdraw_unsent(pgstate_client *c, pending *p) {
    if (c->fd < 0 || c->written_off > p->start_off) return 0;
    ssize_t idx = -1;
    for (size_t i = 0; i < c->n_inflight; i++) {
        if (c->inflight[i] == p) idx = (ssize_t)i;
    }
    if (idx < 0) return 0;
    uint64_t base = c->written_off - c->wpos; /* stream offset of wbuf.data[0] */
    size_t from = (size_t)(p->start_off - base);
    size_t len = (size_t)(p->end_off - p->start_off);
    memmove(c->wbuf.data + from, c->wbuf.data + from + len, c->wbuf.len - from - len);
    c->wbuf.len -= len;
    c->queued_off -= len;
    for (size_t i = 0; i < c->n_inflight; i++) {
        pending *q = c->inflight[i];
        if (q->start_off > p->start_off) {
            q->start_off -= len;
            q->end_off -= len;
        }
    }
    inflight_remove_at(c, (size_t)idx);
    if (p->owner == OWN_PIPELINE) c->n_pipe_inflight--;
    pgstate_reply_free(&p->pub);
    return 1;
}

static int call(pgstate_client *c, int op, const char *id, size_t id_len, uint64_t expected, const void *state,
                size_t state_len, pgstate_record **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    begin_call(c);
    int64_t deadline = deadline_after(c->timeout_ms);
    int rc = check_args(c, op, id, id_len, expected, state, state_len);
    if (rc != PGSTATE_OK) return rc;
    pending *p = submit(c, op, id, id_len, expected, state, state_len, OWN_BLOCKING, deadline);
    if (p == NULL) return c->status;
    while (!p->done) {
        rc = io_step(c, deadline);
        if (p->done) break;
        if (rc == PGSTATE_ERR_TIMEOUT) {
            if (withdraw_unsent(c, p)) {
                return set_err(c, PGSTATE_ERR_TIMEOUT,
                               "timed out after %d ms writing %s to pgstated at %s; the request was not sent",
                               c->timeout_ms, op_name(op), c->path);
            }
            p->owner = OWN_ABANDONED; /* its late response will be discarded */
            return set_err(c, PGSTATE_ERR_TIMEOUT,
                           "timed out after %d ms waiting for pgstated at %s to answer %s%s", c->timeout_ms,
                           c->path, op_name(op),
                           p->is_write ? "; the write may or may not be applied" : "");
        }
    }
    pgstate_reply *r = &p->pub;
    c->status = r->status;
    c->server_status = r->server_status;
    switch (r->kind) {
    case PGSTATE_REPLY_RECORD:
        if (out) {
            *out = r->record;
            r->record = NULL;
        }
        break;
    case PGSTATE_REPLY_CONFLICT:
        c->conflict_expected = r->expected_revision;
        c->conflict_actual = r->actual_revision;
        break;
    case PGSTATE_REPLY_ERROR:
        copy_text(c->errmsg, sizeof c->errmsg, r->message, strlen(r->message));
        break;
    default:
        break;
    }
    rc = r->status;
    pgstate_reply_free(r);
    return rc;
}

int pgstate_load(pgstate_client *c, const char *id, size_t id_len, pgstate_record **out) {
    return call(c, PGSTATE_OP_LOAD, id, id_len, 0, NULL, 0, out);
}

int pgstate_upsert(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision, const void *state,
                   size_t state_len, pgstate_record **out) {
    return call(c, PGSTATE_OP_UPSERT, id, id_len, expected_revision, state, state_len, out);
}

int pgstate_delete(pgstate_client *c, const char *id, size_t id_len) {
    return call(c, PGSTATE_OP_DELETE, id, id_len, 0, NULL, 0, NULL);
}

int pgstate_delete_if(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision) {
    return call(c, PGSTATE_OP_DELETE_IF, id, id_len, expected_revision, NULL, 0, NULL);
}

int pgstate_ping(pgstate_client *c) {
    return call(c, PGSTATE_OP_PING, NULL, 0, 0, NULL, 0, NULL);
}

/* ------------------------------------------------------------------------- */
/* Pipelining                                                                 */
/* ------------------------------------------------------------------------- */

static uint32_t send_req(pgstate_client *c, int op, const char *id, size_t id_len, uint64_t expected,
                         const void *state, size_t state_len) {
    if (c == NULL) return 0;
    begin_call(c);
    if (check_args(c, op, id, id_len, expected, state, state_len) != PGSTATE_OK) return 0;
    pending *p = submit(c, op, id, id_len, expected, state, state_len, OWN_PIPELINE,
                        deadline_after(c->timeout_ms));
    if (p == NULL) return 0;
    uint32_t rid = p->pub.request_id;
    if (c->wbuf.len - c->wpos > AUTOFLUSH_BYTES) try_write_now(c);
    return rid;
}

uint32_t pgstate_send_load(pgstate_client *c, const char *id, size_t id_len) {
    return send_req(c, PGSTATE_OP_LOAD, id, id_len, 0, NULL, 0);
}

uint32_t pgstate_send_upsert(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision,
                             const void *state, size_t state_len) {
    return send_req(c, PGSTATE_OP_UPSERT, id, id_len, expected_revision, state, state_len);
}

uint32_t pgstate_send_delete(pgstate_client *c, const char *id, size_t id_len) {
    return send_req(c, PGSTATE_OP_DELETE, id, id_len, 0, NULL, 0);
}

uint32_t pgstate_send_delete_if(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision) {
    return send_req(c, PGSTATE_OP_DELETE_IF, id, id_len, expected_revision, NULL, 0);
}

uint32_t pgstate_send_ping(pgstate_client *c) {
    return send_req(c, PGSTATE_OP_PING, NULL, 0, 0, NULL, 0);
}

int pgstate_flush(pgstate_client *c) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    begin_call(c);
    int64_t deadline = deadline_after(c->timeout_ms);
    while (c->wpos < c->wbuf.len) {
        if (c->state != CS_READY) return not_ready(c);
        int rc = io_step(c, deadline);
        if (rc == PGSTATE_ERR_TIMEOUT) {
            return set_err(c, PGSTATE_ERR_TIMEOUT, "timed out writing %zu buffered bytes to pgstated at %s",
                           c->wbuf.len - c->wpos, c->path);
        }
    }
    return PGSTATE_OK;
}

int pgstate_read_reply(pgstate_client *c, pgstate_reply **out) {
    if (out) *out = NULL;
    if (c == NULL || out == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    begin_call(c);
    if (c->stash_head == NULL && c->n_pipe_inflight == 0) {
        return set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "no pipelined request is pending");
    }
    int64_t deadline = deadline_after(c->timeout_ms);
    while (c->stash_head == NULL) {
        int rc = io_step(c, deadline);
        if (c->stash_head != NULL) break;
        if (rc == PGSTATE_ERR_TIMEOUT) {
            return set_err(c, PGSTATE_ERR_TIMEOUT, "timed out after %d ms waiting for a reply from pgstated at %s",
                           c->timeout_ms, c->path);
        }
        if (rc != PGSTATE_OK && c->stash_head == NULL) { /* cannot happen: closing fails all */
            return set_err(c, PGSTATE_ERR_UNAVAILABLE, "%s", c->close_msg);
        }
    }
    pending *p = c->stash_head;
    c->stash_head = p->next;
    if (c->stash_head == NULL) c->stash_tail = NULL;
    c->n_stash--;
    p->next = NULL;
    *out = &p->pub;
    return PGSTATE_OK;
}
