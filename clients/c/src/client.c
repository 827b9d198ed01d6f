/*
 * client.c - libpgstate's public API: connecting (the handshake is an ordinary
 * request), blocking calls, pipelining and the non-blocking event-loop calls,
 * around ONE I/O loop (io_step).  Bytes move in net.c, requests in flight and
 * replies are routed in requests.c, what a reply means is decided in outcome.c,
 * argument checks and frames are in call.c, the accessors are in accessors.c.
 * No globals: all state is on the handle.
 */
#include "client_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_NAME "pgstate-c/" PGSTATE_VERSION_STRING
#define AUTOFLUSH_BYTES ((size_t)256 * 1024)
#define INITIAL_RING 16u /* the HELLO's ring, before HELLO_OK announces max_in_flight */

static const uint16_t OFFERED_VERSIONS[1] = {1};

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------- */

void pgs_fmt(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

void pgs_copy_text(char *dst, size_t cap, const char *src, size_t n) {
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
}

int pgs_set_err(pgstate_client *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->status = status;
    c->outcome = status;
    return status;
}

void pgs_begin_call(pgstate_client *c) {
    c->status = PGSTATE_OK;
    c->outcome = PGSTATE_OK;
    c->server_status = 0;
    c->conflict_expected = 0;
    c->conflict_actual = 0;
    c->errmsg[0] = '\0';
}

#define ERRTEXT(e) pgs_errno_text((e), (char[128]){0}, 128)

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
    case PGSTATE_ERR_WOULD_BLOCK: return "PGSTATE_ERR_WOULD_BLOCK";
    case PGSTATE_ERR_PERMISSION_DENIED: return "PGSTATE_ERR_PERMISSION_DENIED";
    default: return "PGSTATE_UNKNOWN_STATUS";
    }
}

void pgstate_record_free(pgstate_record *r) {
    free(r);
}

void pgstate_identity_free(pgstate_identity *who) {
    free(who);
}

void pgstate_reply_free(pgstate_reply *r) {
    pgs_pending_free((pgs_pending *)r); /* pub is the first member of pgs_pending */
}

/* Why no request can be sent now. */
static int not_ready(pgstate_client *c) {
    if (c->state == CS_DRAINING) return pgs_set_err(c, PGSTATE_ERR_UNAVAILABLE, "%s", c->close_msg);
    return pgs_set_err(c, PGSTATE_ERR_UNAVAILABLE, "not connected to pgstated (%s); call pgstate_reconnect()",
                       c->close_msg[0] ? c->close_msg : "no connection");
}

/* ------------------------------------------------------------------------- */
/* The I/O loop                                                               */
/* ------------------------------------------------------------------------- */

/* Output is written only while the server may receive requests (the HELLO
   during the handshake; nothing once it announced it is draining). */
static int may_write(const pgstate_client *c) {
    return c->state == CS_READY || c->state == CS_HANDSHAKE;
}

static void lost(pgstate_client *c, int err, const char *while_doing) {
    char why[PGS_ERRMSG_CAP];
    const char *during = c->state == CS_HANDSHAKE ? " during the handshake" : "";
    if (c->state == CS_DRAINING) {
        pgs_copy_text(why, sizeof why, c->close_msg, strlen(c->close_msg));
    } else if (err != 0) {
        pgs_fmt(why, sizeof why, "connection to pgstated at %s lost while %s%s: %s", c->path, while_doing, during,
                ERRTEXT(err));
    } else {
        pgs_fmt(why, sizeof why, "pgstated at %s closed the connection%s", c->path, during);
    }
    pgs_connection_lost(c, why);
}

/* Reads until the socket has nothing more (a short read says so without the
   extra read(2) that would only return EAGAIN), routing every frame. */
static void read_now(pgstate_client *c) {
    while (c->state != CS_DISCONNECTED) {
        int err;
        switch (pgs_net_read(&c->net, &err)) {
        case PGS_READ_GOT:
        case PGS_READ_FULL: pgs_route_frames(c); break;
        case PGS_READ_DRAINED: pgs_route_frames(c); return;
        case PGS_READ_AGAIN: return;
        case PGS_READ_EOF: lost(c, err, "reading"); return;
        case PGS_READ_NOMEM:
            pgs_connection_lost(c, "out of memory reading a response; connection closed");
            return;
        }
    }
}

/* Writes what the socket takes.  On a failed write (EPIPE, ECONNRESET), reads
   first what the server sent before it closed - without waiting: it is already
   in the receive buffer - so that an ERROR with request id 0 found there (201
   OVERLOADED from a server refusing the connection at accept, before the HELLO
   arrived; a final 202; a 1xx) decides the outcome, not a bare lost connection
   (PROTOCOL.md 12.4). */
static void write_now(pgstate_client *c) {
    if (!may_write(c) || pgs_net_unwritten(&c->net) == 0) return;
    int err = pgs_net_write(&c->net);
    if (err == 0) return;
    read_now(c);
    if (c->state != CS_DISCONNECTED) lost(c, err, "writing");
}

/*
 * The one I/O loop step shared by every call that waits (connect, the blocking
 * calls, read_reply, flush, waiting for an in-flight slot): waits until the
 * deadline for the socket, writes, reads and routes.  Returns PGSTATE_OK
 * (progress may or may not have been made), PGSTATE_ERR_TIMEOUT, or
 * PGSTATE_ERR_UNAVAILABLE when the connection has ended (every request then in
 * flight has been failed).
 */
static int io_step(pgstate_client *c, int64_t deadline) {
    if (c->state == CS_DISCONNECTED) return PGSTATE_ERR_UNAVAILABLE;
    int ready = pgs_net_wait(&c->net, may_write(c) && pgs_net_unwritten(&c->net) > 0, deadline);
    if (ready == 0) return PGSTATE_ERR_TIMEOUT;
    if (ready < 0) {
        if (errno == EINTR) return PGSTATE_OK;
        char why[PGS_ERRMSG_CAP];
        pgs_fmt(why, sizeof why, "poll() on the connection to %s failed: %s", c->path, ERRTEXT(errno));
        pgs_connection_lost(c, why);
        return PGSTATE_ERR_UNAVAILABLE;
    }
    if (ready & PGS_WAIT_WRITE) write_now(c);
    if ((ready & PGS_WAIT_READ) && c->state != CS_DISCONNECTED) read_now(c);
    return c->state == CS_DISCONNECTED ? PGSTATE_ERR_UNAVAILABLE : PGSTATE_OK;
}

/* ------------------------------------------------------------------------- */
/* Submitting and waiting                                                     */
/* ------------------------------------------------------------------------- */

static int check_call(pgstate_client *c, const pgs_call *call) {
    char why[PGS_ERRMSG_CAP];
    if (pgs_call_check(call, &c->limits, why, sizeof why) == PGSTATE_OK) return PGSTATE_OK;
    return pgs_set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "%s", why);
}

/*
 * Queues one request: waits for an in-flight slot (doing I/O; in non-blocking
 * mode a pipelined request fails with PGSTATE_ERR_WOULD_BLOCK instead),
 * encodes it and puts it in flight.  Returns the request, or NULL with the
 * error on c.  The arguments have been checked.
 */
static pgs_pending *submit(pgstate_client *c, const pgs_call *call, pgs_owner owner, int64_t deadline) {
    pgs_conn_state needed = call->op == PGS_OP_HELLO ? CS_HANDSHAKE : CS_READY;
    if (c->state != needed) {
        not_ready(c);
        return NULL;
    }
    while (c->flight.count >= c->window) {
        if (c->nonblocking && owner == PGS_OWN_PIPELINE) {
            pgs_set_err(c, PGSTATE_ERR_WOULD_BLOCK, "%u requests are in flight, the most pgstated at %s allows; read "
                        "replies before sending more", c->window, c->path);
            return NULL;
        }
        int rc = io_step(c, deadline);
        if (c->state != needed) {
            not_ready(c);
            return NULL;
        }
        if (rc == PGSTATE_ERR_TIMEOUT) {
            pgs_set_err(c, PGSTATE_ERR_TIMEOUT, "timed out waiting for one of %u in-flight requests to be answered",
                        c->window);
            return NULL;
        }
    }
    pgs_pending *p = pgs_pending_new(call, owner);
    if (p == NULL) {
        pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory queuing a request");
        return NULL;
    }
    uint32_t rid = pgs_inflight_next_id(&c->flight, &c->done);
    p->start_off = pgs_net_prepare_append(&c->net);
    size_t before = c->net.out.len;
    int enc = pgs_call_encode(&c->net.out, rid, call);
    if (enc != PGS_ENC_OK) {
        pgs_pending_free(p);
        if (enc == PGS_ENC_NOMEM) pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory encoding a request");
        else pgs_set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "request does not fit the wire format");
        return NULL;
    }
    c->net.queued_off += c->net.out.len - before;
    p->end_off = c->net.queued_off;
    p->pub.request_id = rid;
    pgs_inflight_add(&c->flight, p);
    return p;
}

/* Takes a request none of whose bytes was written back out of the output and
   the table, so that it is never sent.  1 if withdrawn (and freed). */
static int withdraw_unsent(pgstate_client *c, pgs_pending *p) {
    if (c->state == CS_DISCONNECTED || c->net.written_off > p->start_off) return 0;
    size_t len = (size_t)(p->end_off - p->start_off);
    pgs_net_unqueue(&c->net, p->start_off, len);
    for (pgs_pending *q = p->next; q != NULL; q = q->next) { /* later requests, later bytes */
        q->start_off -= len;
        q->end_off -= len;
    }
    pgs_inflight_remove(&c->flight, p);
    pgs_pending_free(p);
    return 1;
}

/* Waits (until deadline) for a blocking request's reply.  PGSTATE_OK when
   p->done, else PGSTATE_ERR_TIMEOUT (p is still in flight). */
static int wait_done(pgstate_client *c, pgs_pending *p, int64_t deadline) {
    while (!p->done) {
        int rc = io_step(c, deadline);
        if (!p->done && rc == PGSTATE_ERR_TIMEOUT) return PGSTATE_ERR_TIMEOUT;
    }
    return PGSTATE_OK;
}

/* The caller's deadline passed with p unanswered (PGSTATE_ERR_TIMEOUT).  The
   classifier says what the caller may assume and whether the connection stays
   (it does, except for the handshake); the request is withdrawn if unsent,
   else its late answer will be discarded. */
static int timed_out(pgstate_client *c, pgs_pending *p) {
    /* A frame partly written is completed before any other (it shares the
       stream), so it counts as written (PROTOCOL.md 12.4). */
    int started = c->state != CS_DISCONNECTED && c->net.written_off > p->start_off;
    pgs_flight f = {p->op, p->pub.request_id, p->pub.expected_revision, started, p->after_connection,
                    pgs_op_is_multikey(p->op) ? &p->shape : NULL};
    pgs_verdict v = pgs_classify_timeout(&f);
    const char *what = pgs_op_name(p->op);
    if (withdraw_unsent(c, p)) {
        pgs_set_err(c, PGSTATE_ERR_TIMEOUT, "timed out after %d ms writing %s to pgstated at %s; the request was not "
                    "sent", c->timeout_ms, what, c->path);
    } else {
        pgs_set_err(c, PGSTATE_ERR_TIMEOUT, "timed out after %d ms waiting for pgstated at %s to answer %s%s",
                    c->timeout_ms, c->path, what,
                    v.cls == PGS_CLASS_OUTCOME_UNKNOWN ? "; the write may or may not be applied" : "");
        p->owner = PGS_OWN_ABANDONED; /* its late answer is discarded */
    }
    if (v.conn == PGS_CONN_DROP) pgs_connection_lost(c, c->errmsg);
    c->outcome = pgs_class_status(v.cls);
    return PGSTATE_ERR_TIMEOUT;
}

/* ------------------------------------------------------------------------- */
/* Blocking calls                                                             */
/* ------------------------------------------------------------------------- */

pgs_pending *pgs_roundtrip(pgstate_client *c, const pgs_call *req, int64_t deadline) {
    if (check_call(c, req) != PGSTATE_OK) return NULL;
    pgs_pending *p = submit(c, req, PGS_OWN_BLOCKING, deadline);
    if (p == NULL) return NULL;
    if (wait_done(c, p, deadline) == PGSTATE_ERR_TIMEOUT) {
        timed_out(c, p);
        return NULL;
    }
    pgstate_reply *r = &p->pub;
    c->status = c->outcome = r->status;
    c->server_status = r->server_status;
    if (r->kind == PGSTATE_REPLY_CONFLICT) {
        c->conflict_expected = r->expected_revision;
        c->conflict_actual = r->actual_revision;
    } else if (r->kind == PGSTATE_REPLY_ERROR) {
        pgs_copy_text(c->errmsg, sizeof c->errmsg, r->message, strlen(r->message));
    }
    return p;
}

/* One blocking call; out receives a RECORD, who an identity (either may be NULL). */
static int call(pgstate_client *c, const pgs_call *req, pgstate_record **out, pgstate_identity **who) {
    if (out) *out = NULL;
    if (who) *who = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    pgs_pending *p = pgs_roundtrip(c, req, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return c->status;
    pgstate_reply *r = &p->pub;
    if (out && r->kind == PGSTATE_REPLY_RECORD) {
        *out = r->record;
        r->record = NULL;
    }
    if (who && r->kind == PGSTATE_REPLY_IDENTITY) {
        *who = r->identity;
        r->identity = NULL;
    }
    int rc = r->status;
    pgs_pending_free(p);
    return rc;
}

/* A request without arguments (PING, WHOAMI). */
pgs_call pgs_bare_call(pgs_op op) {
    pgs_call k;
    memset(&k, 0, sizeof k);
    k.op = op;
    return k;
}

/* A request about one persistence id, in the handle's namespace if it names one. */
static pgs_call id_call(const pgstate_client *c, pgs_op op, const char *id, size_t id_len) {
    pgs_call k = pgs_bare_call(op);
    k.id = id;
    k.id_len = id_len;
    if (c != NULL && c->has_ns) {
        k.ns = c->ns;
        k.ns_len = c->ns_len;
    }
    return k;
}

static pgs_call upsert_call(const pgstate_client *c, const char *id, size_t id_len, uint64_t expected,
                            const void *state, size_t len) {
    pgs_call k = id_call(c, PGS_OP_UPSERT, id, id_len);
    k.expected_revision = expected;
    k.state = state;
    k.state_len = len;
    return k;
}

static pgs_call delete_if_call(const pgstate_client *c, const char *id, size_t id_len, uint64_t expected) {
    pgs_call k = id_call(c, PGS_OP_DELETE_IF, id, id_len);
    k.expected_revision = expected;
    return k;
}

int pgstate_load(pgstate_client *c, const char *id, size_t id_len, pgstate_record **out) {
    pgs_call k = id_call(c, PGS_OP_LOAD, id, id_len);
    return call(c, &k, out, NULL);
}

int pgstate_upsert(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision, const void *state,
                   size_t state_len, pgstate_record **out) {
    pgs_call k = upsert_call(c, id, id_len, expected_revision, state, state_len);
    return call(c, &k, out, NULL);
}

int pgstate_delete(pgstate_client *c, const char *id, size_t id_len) {
    pgs_call k = id_call(c, PGS_OP_DELETE, id, id_len);
    return call(c, &k, NULL, NULL);
}

int pgstate_delete_if(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision) {
    pgs_call k = delete_if_call(c, id, id_len, expected_revision);
    return call(c, &k, NULL, NULL);
}

int pgstate_ping(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_PING);
    return call(c, &k, NULL, NULL);
}

int pgstate_whoami(pgstate_client *c, pgstate_identity **out) {
    pgs_call k = pgs_bare_call(PGS_OP_WHOAMI);
    return call(c, &k, NULL, out);
}

int pgstate_set_namespace(pgstate_client *c, const char *ns) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    if (ns == NULL) {
        c->has_ns = 0;
        c->ns_len = 0;
        c->ns[0] = '\0';
        return PGSTATE_OK;
    }
    /* The checks every request naming it makes again, now against what the server announced. */
    size_t n = strnlen(ns, PGS_MAX_NAMESPACE_BYTES + 1);
    pgs_limits announced = c->limits;
    if (!c->handshaken) announced.capabilities = 0; /* nothing announced yet */
    char why[PGS_ERRMSG_CAP];
    if (pgs_call_check_namespace(ns, n, &announced, why, sizeof why) != PGSTATE_OK) {
        return pgs_set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "%s%s", why,
                           c->handshaken ? "" : " (no handshake with pgstated has completed)");
    }
    memcpy(c->ns, ns, n);
    c->ns[n] = '\0';
    c->ns_len = n;
    c->has_ns = 1;
    return PGSTATE_OK;
}

/* ------------------------------------------------------------------------- */
/* Pipelining                                                                 */
/* ------------------------------------------------------------------------- */

uint32_t pgs_send_call(pgstate_client *c, const pgs_call *req) {
    if (c == NULL) return 0;
    pgs_begin_call(c);
    if (check_call(c, req) != PGSTATE_OK) return 0;
    pgs_pending *p = submit(c, req, PGS_OWN_PIPELINE, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return 0;
    uint32_t rid = p->pub.request_id;
    if (pgs_net_unwritten(&c->net) > AUTOFLUSH_BYTES) write_now(c); /* never waits */
    return rid;
}

uint32_t pgstate_send_load(pgstate_client *c, const char *id, size_t id_len) {
    pgs_call k = id_call(c, PGS_OP_LOAD, id, id_len);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_upsert(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision,
                             const void *state, size_t state_len) {
    pgs_call k = upsert_call(c, id, id_len, expected_revision, state, state_len);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_delete(pgstate_client *c, const char *id, size_t id_len) {
    pgs_call k = id_call(c, PGS_OP_DELETE, id, id_len);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_delete_if(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision) {
    pgs_call k = delete_if_call(c, id, id_len, expected_revision);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_ping(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_PING);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_whoami(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_WHOAMI);
    return pgs_send_call(c, &k);
}

int pgstate_flush(pgstate_client *c) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    if (pgs_net_unwritten(&c->net) == 0) return PGSTATE_OK;
    if (c->state != CS_READY) return not_ready(c);
    if (c->nonblocking) {
        write_now(c);
        if (c->state != CS_READY) return not_ready(c);
        return pgs_net_unwritten(&c->net) > 0 ? 1 : 0;
    }
    int64_t deadline = pgs_deadline_after(c->timeout_ms);
    while (pgs_net_unwritten(&c->net) > 0) {
        if (c->state != CS_READY) return not_ready(c);
        if (io_step(c, deadline) == PGSTATE_ERR_TIMEOUT) {
            return pgs_set_err(c, PGSTATE_ERR_TIMEOUT, "timed out writing %zu buffered bytes to pgstated at %s",
                               pgs_net_unwritten(&c->net), c->path);
        }
    }
    return PGSTATE_OK;
}

size_t pgstate_pending(const pgstate_client *c) {
    return c ? c->flight.pipelined + c->done.count : 0;
}

int pgstate_read_reply(pgstate_client *c, pgstate_reply **out) {
    if (out) *out = NULL;
    if (c == NULL || out == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    if (c->done.head == NULL && c->flight.pipelined == 0) {
        return pgs_set_err(c, PGSTATE_ERR_INVALID_ARGUMENT, "no pipelined request is pending");
    }
    int64_t deadline = pgs_deadline_after(c->timeout_ms);
    while (c->done.head == NULL) {
        /* Cannot end without a reply: an ended connection fails everything in flight. */
        if (io_step(c, deadline) == PGSTATE_ERR_TIMEOUT && c->done.head == NULL) {
            return pgs_set_err(c, PGSTATE_ERR_TIMEOUT, "timed out after %d ms waiting for a reply from pgstated at %s",
                               c->timeout_ms, c->path);
        }
    }
    *out = &pgs_done_pop(&c->done)->pub;
    return PGSTATE_OK;
}

/* ------------------------------------------------------------------------- */
/* Event-loop use                                                             */
/* ------------------------------------------------------------------------- */

int pgstate_fd(const pgstate_client *c) {
    return c ? c->net.fd : -1;
}

int pgstate_set_nonblocking(pgstate_client *c, int on) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    c->nonblocking = on != 0;
    return PGSTATE_OK;
}

int pgstate_is_nonblocking(const pgstate_client *c) {
    return c != NULL && c->nonblocking;
}

int pgstate_consume(pgstate_client *c) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    if (c->state != CS_DISCONNECTED) read_now(c);
    if (c->state == CS_DISCONNECTED) {
        return pgs_set_err(c, c->close_status < 0 ? c->close_status : PGSTATE_ERR_UNAVAILABLE, "%s",
                           c->close_msg[0] ? c->close_msg : "not connected to pgstated");
    }
    return PGSTATE_OK;
}

pgstate_reply *pgstate_next_reply(pgstate_client *c) {
    if (c == NULL) return NULL;
    pgs_pending *p = pgs_done_pop(&c->done);
    return p ? &p->pub : NULL;
}

/* ------------------------------------------------------------------------- */
/* Connecting: the handshake is the connection's first request               */
/* ------------------------------------------------------------------------- */

/* Ends the connection (if any) from the caller's side and closes the descriptor. */
static void disconnect(pgstate_client *c, const char *why) {
    if (c->state != CS_DISCONNECTED) pgs_connection_lost(c, why);
    pgs_net_close(&c->net);
}

static int do_connect(pgstate_client *c) {
    int64_t deadline = pgs_deadline_after(c->timeout_ms);
    pgs_limits_default(&c->limits); /* until HELLO_OK */
    c->server_version[0] = '\0';
    c->handshaken = 0;
    c->window = 1; /* the HELLO */
    int rc = pgs_net_connect(&c->net, c->path, deadline, c->errmsg, sizeof c->errmsg);
    if (rc != PGSTATE_OK) {
        pgs_copy_text(c->close_msg, sizeof c->close_msg, c->errmsg, strlen(c->errmsg));
        c->close_status = rc;
        c->status = c->outcome = rc;
        return rc;
    }
    c->state = CS_HANDSHAKE;
    pgs_call hello;
    memset(&hello, 0, sizeof hello);
    hello.op = PGS_OP_HELLO;
    hello.versions = OFFERED_VERSIONS;
    hello.versions_count = sizeof OFFERED_VERSIONS / sizeof OFFERED_VERSIONS[0];
    hello.client_name = CLIENT_NAME;
    hello.client_name_len = strlen(CLIENT_NAME);
    if (check_call(c, &hello) != PGSTATE_OK) return c->status; /* cannot happen: a constant call */
    pgs_pending *p = submit(c, &hello, PGS_OWN_BLOCKING, deadline);
    if (p == NULL) {
        disconnect(c, c->errmsg);
        return c->status;
    }
    if (wait_done(c, p, deadline) == PGSTATE_ERR_TIMEOUT) {
        timed_out(c, p); /* the classifier drops a connection whose handshake timed out */
        c->close_status = PGSTATE_ERR_TIMEOUT;
        return PGSTATE_ERR_TIMEOUT;
    }
    rc = p->pub.status;
    c->server_status = p->pub.server_status;
    if (rc != PGSTATE_OK) pgs_copy_text(c->errmsg, sizeof c->errmsg, p->pub.message, strlen(p->pub.message));
    pgs_pending_free(p);
    if (rc == PGSTATE_OK && c->state != CS_READY) { /* ended right after HELLO_OK */
        rc = c->close_status < 0 ? c->close_status : PGSTATE_ERR_UNAVAILABLE;
        pgs_copy_text(c->errmsg, sizeof c->errmsg, c->close_msg, strlen(c->close_msg));
    }
    c->status = c->outcome = rc;
    return rc;
}

pgstate_client *pgstate_connect(const char *socket_path, int timeout_ms) {
    pgstate_client *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    pgs_net_init(&c->net);
    c->state = CS_DISCONNECTED;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    pgs_limits_default(&c->limits);
    if (socket_path == NULL || socket_path[0] == '\0') {
        const char *env = getenv("PGSTATE_SOCKET");
        socket_path = (env != NULL && env[0] != '\0') ? env : PGSTATE_DEFAULT_SOCKET;
    }
    size_t n = strlen(socket_path);
    c->path = malloc(n + 1);
    if (c->path == NULL || pgs_inflight_init(&c->flight, INITIAL_RING) != 0) {
        free(c->path);
        pgs_net_free(&c->net);
        free(c);
        return NULL;
    }
    memcpy(c->path, socket_path, n + 1);
    pgs_begin_call(c);
    do_connect(c);
    return c;
}

int pgstate_reconnect(pgstate_client *c) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    disconnect(c, "connection closed by pgstate_reconnect()");
    return do_connect(c);
}

void pgstate_free(pgstate_client *c) {
    if (c == NULL) return;
    pgs_net_free(&c->net);
    pgs_inflight_free(&c->flight);
    pgs_done_free(&c->done);
    free(c->path);
    free(c);
}
