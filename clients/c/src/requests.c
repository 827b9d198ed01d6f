/*
 * requests.c - requests in flight (the ring, the done queue) and reply routing:
 * every frame read is decoded, attributed to its request in O(1), judged by the
 * classifier (outcome.c) and handed to the request's owner; when a verdict or
 * the transport ends the connection, every request still in flight is failed
 * the way the classifier says.  See requests.h and client_internal.h.
 */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Requests and the in-flight table                                           */
/* ------------------------------------------------------------------------- */

pgs_pending *pgs_pending_new(const pgs_call *call, pgs_owner owner) {
    size_t id_len = call->id != NULL ? call->id_len : 0;
    size_t align = sizeof(max_align_t);
    size_t shape_at = (sizeof(pgs_pending) + id_len + 1 + align - 1) / align * align;
    size_t shape_bytes = pgs_shape_bytes(call);
    pgs_pending *p = calloc(1, shape_at + shape_bytes);
    if (p == NULL) return NULL;
    if (shape_bytes > 0) pgs_shape_copy(p, (char *)p + shape_at, call);
    if (id_len > 0) memcpy(p->idbuf, call->id, id_len);
    p->idbuf[id_len] = '\0';
    p->op = call->op;
    p->owner = owner;
    p->pub.op = (int)call->op;
    p->pub.persistence_id = p->idbuf;
    p->pub.persistence_id_len = id_len;
    p->pub.expected_revision =
        (call->op == PGS_OP_UPSERT || call->op == PGS_OP_DELETE_IF) ? call->expected_revision : 0;
    p->after_connection = call->op == PGS_OP_CLIENTS ? call->after_connection : 0;
    p->pub.message = p->msgbuf;
    return p;
}

void pgs_pending_free(pgs_pending *p) {
    if (p == NULL) return;
    free(p->pub.record);
    free(p->pub.identity);
    pgstate_stats_list_free(p->pub.stats);
    pgstate_client_list_free(p->pub.clients);
    pgstate_record_list_free(p->pub.records);
    pgstate_outcome_list_free(p->pub.outcomes);
    pgstate_conflict_list_free(p->pub.conflicts);
    pgstate_page_free(p->pub.page);
    free(p);
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t c = 1;
    while (c < n && c < (UINT32_C(1) << 31)) c <<= 1;
    return c;
}

int pgs_inflight_init(pgs_inflight *f, uint32_t capacity) {
    memset(f, 0, sizeof *f);
    f->next_id = 1;
    uint32_t cap = pow2_at_least(capacity);
    f->ring = calloc(cap, sizeof *f->ring);
    if (f->ring == NULL) return -1;
    f->mask = cap - 1;
    return 0;
}

int pgs_inflight_resize(pgs_inflight *f, uint32_t capacity) {
    uint32_t cap = pow2_at_least(capacity);
    if (cap == f->mask + 1 || f->count != 0) return 0;
    pgs_pending **ring = calloc(cap, sizeof *ring);
    if (ring == NULL) return -1;
    free(f->ring);
    f->ring = ring;
    f->mask = cap - 1;
    return 0;
}

void pgs_inflight_free(pgs_inflight *f) {
    for (pgs_pending *p = f->oldest; p != NULL;) {
        pgs_pending *next = p->next;
        pgs_pending_free(p);
        p = next;
    }
    free(f->ring);
    memset(f, 0, sizeof *f);
}

static int done_has(const pgs_done *d, uint32_t rid) {
    for (const pgs_pending *p = d->head; p != NULL; p = p->next) {
        if (p->pub.request_id == rid) return 1;
    }
    return 0;
}

uint32_t pgs_inflight_next_id(pgs_inflight *f, const pgs_done *done) {
    for (;;) {
        uint32_t rid = f->next_id++;
        if (f->next_id == 0) {
            f->next_id = 1; /* 0 is reserved */
            f->wrapped = 1;
        }
        if (f->ring[rid & f->mask] != NULL) continue; /* an old request still holds the slot */
        if (f->wrapped && done->count > 0 && done_has(done, rid)) continue;
        return rid;
    }
}

void pgs_inflight_add(pgs_inflight *f, pgs_pending *p) {
    f->ring[p->pub.request_id & f->mask] = p;
    p->next = NULL;
    p->prev = f->newest;
    if (f->newest != NULL) f->newest->next = p;
    else f->oldest = p;
    f->newest = p;
    f->count++;
    if (p->owner == PGS_OWN_PIPELINE) f->pipelined++;
}

pgs_pending *pgs_inflight_find(const pgs_inflight *f, uint32_t request_id) {
    pgs_pending *p = f->ring[request_id & f->mask];
    return (p != NULL && p->pub.request_id == request_id) ? p : NULL;
}

void pgs_inflight_remove(pgs_inflight *f, pgs_pending *p) {
    f->ring[p->pub.request_id & f->mask] = NULL;
    if (p->prev != NULL) p->prev->next = p->next;
    else f->oldest = p->next;
    if (p->next != NULL) p->next->prev = p->prev;
    else f->newest = p->prev;
    p->prev = p->next = NULL;
    f->count--;
    if (p->owner == PGS_OWN_PIPELINE) f->pipelined--;
}

void pgs_done_push(pgs_done *d, pgs_pending *p) {
    p->next = NULL;
    p->prev = NULL;
    if (d->tail != NULL) d->tail->next = p;
    else d->head = p;
    d->tail = p;
    d->count++;
}

pgs_pending *pgs_done_pop(pgs_done *d) {
    pgs_pending *p = d->head;
    if (p == NULL) return NULL;
    d->head = p->next;
    if (d->head == NULL) d->tail = NULL;
    d->count--;
    p->next = NULL;
    return p;
}

void pgs_done_free(pgs_done *d) {
    for (pgs_pending *p = pgs_done_pop(d); p != NULL; p = pgs_done_pop(d)) pgs_pending_free(p);
}

/* ------------------------------------------------------------------------- */
/* Finishing requests                                                         */
/* ------------------------------------------------------------------------- */

int pgs_pending_written(const pgstate_client *c, const pgs_pending *p) {
    return c->net.written_off >= p->end_off;
}

static pgs_flight flight_of(const pgstate_client *c, const pgs_pending *p) {
    pgs_flight f;
    f.op = p->op;
    f.request_id = p->pub.request_id;
    f.expected_revision = p->pub.expected_revision;
    f.written = pgs_pending_written(c, p);
    f.after_connection = p->after_connection;
    f.shape = pgs_op_is_multikey(p->op) ? &p->shape : NULL;
    return f;
}

/* Hands a finished request (out of the table) to its owner. */
static void finish(pgstate_client *c, pgs_pending *p) {
    p->done = 1;
    switch (p->owner) {
    case PGS_OWN_PIPELINE: pgs_done_push(&c->done, p); break;
    case PGS_OWN_BLOCKING: break; /* the waiting call sees p->done */
    case PGS_OWN_ABANDONED: pgs_pending_free(p); break;
    }
}

/* What a failure class means for this request, appended to the reason. */
static const char *consequence(const pgstate_client *c, const pgs_pending *p, const pgs_verdict *v) {
    int write = pgs_op_is_write(p->op);
    switch (v->cls) {
    case PGS_CLASS_OUTCOME_UNKNOWN:
        return "; the write was sent and may or may not have been applied (LOAD to find out)";
    case PGS_CLASS_UNAVAILABLE:
        if (v->status == PGS_S_SHUTTING_DOWN) return "; the request was not executed (retry on a new connection)";
        if (write && !pgs_pending_written(c, p)) return "; the request was not sent (safe to retry)";
        return " (safe to retry)";
    case PGS_CLASS_PROTOCOL_ERROR: return write ? "; the write may or may not have been applied" : "";
    case PGS_CLASS_RECORDS:
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED:
    case PGS_CLASS_TRANSACTION_CONFLICT:
    case PGS_CLASS_PAGE:
    case PGS_CLASS_OK:
    case PGS_CLASS_IDENTITY:
    case PGS_CLASS_HEALTH:
    case PGS_CLASS_STATS:
    case PGS_CLASS_CLIENTS:
    case PGS_CLASS_RECORD:
    case PGS_CLASS_NOT_FOUND:
    case PGS_CLASS_CONFLICT:
    case PGS_CLASS_INVALID_ARGUMENT:
    case PGS_CLASS_PERMISSION_DENIED:
    case PGS_CLASS_SERVER_ERROR: return "";
    }
    return "";
}

/* Fails p with verdict v and the message text (complete). */
static void fail_with(pgstate_client *c, pgs_pending *p, const pgs_verdict *v, const char *text) {
    pgstate_reply *r = &p->pub;
    r->kind = PGSTATE_REPLY_ERROR;
    r->status = pgs_class_status(v->cls);
    r->server_status = (int)v->status;
    pgs_copy_text(p->msgbuf, sizeof p->msgbuf, text, strlen(text));
    finish(c, p);
}

void pgs_fail_pending(pgstate_client *c, pgs_pending *p, const pgs_verdict *v, const char *why) {
    char text[PGS_REPLY_MSG_CAP];
    pgs_fmt(text, sizeof text, "%s%s", why, consequence(c, p, v));
    fail_with(c, p, v, text);
}

/* How the connection ended, for the requests still in flight. */
typedef enum end_rule { END_LOST, END_FRAME, END_LEFT } end_rule;

/* Fails every request in flight (oldest first) as the rule says, then shuts
   the connection down.  close_status: what later calls report. */
static void end_connection(pgstate_client *c, end_rule rule, int frame_status, const pgs_msg *m,
                           const pgs_verdict *cause, int close_status, const char *why) {
    if (why != c->close_msg) pgs_copy_text(c->close_msg, sizeof c->close_msg, why, strlen(why));
    while (c->flight.oldest != NULL) {
        pgs_pending *p = c->flight.oldest;
        pgs_flight f = flight_of(c, p);
        pgs_verdict v;
        switch (rule) {
        case END_LOST: v = pgs_classify_lost(&f); break;
        case END_FRAME: v = pgs_classify_frame(&f, frame_status, m, &c->limits); break;
        case END_LEFT: v = pgs_classify_left(&f, cause); break;
        }
        pgs_inflight_remove(&c->flight, p);
        pgs_fail_pending(c, p, &v, c->close_msg);
    }
    pgs_net_shutdown(&c->net);
    c->state = CS_DISCONNECTED;
    c->close_status = close_status;
}

void pgs_connection_lost(pgstate_client *c, const char *why) {
    end_connection(c, END_LOST, 0, NULL, NULL, PGSTATE_ERR_UNAVAILABLE, why);
}

/* ------------------------------------------------------------------------- */
/* Routing one frame                                                          */
/* ------------------------------------------------------------------------- */

static const char *type_name(uint8_t t) {
    switch (t) {
    case PGS_T_HELLO_OK: return "HELLO_OK";
    case PGS_T_OK: return "OK";
    case PGS_T_RECORD: return "RECORD";
    case PGS_T_NOT_FOUND: return "NOT_FOUND";
    case PGS_T_CONFLICT: return "CONFLICT";
    case PGS_T_ERROR: return "ERROR";
    case PGS_T_WHOAMI_OK: return "WHOAMI_OK";
    case PGS_T_HEALTH_OK: return "HEALTH_OK";
    case PGS_T_STATS_OK: return "STATS_OK";
    case PGS_T_CLIENTS_OK: return "CLIENTS_OK";
    case PGS_T_RECORDS: return "RECORDS";
    case PGS_T_OUTCOMES: return "OUTCOMES";
    case PGS_T_TRANSACT_CONFLICT: return "TRANSACT_CONFLICT";
    case PGS_T_LIST_OK: return "LIST_OK";
    default: return "a frame of unknown type";
    }
}

static const char *wire_name(unsigned status) {
    const char *n = pgs_status_wire_name(status);
    return n ? n : "unassigned";
}

/* Who is at fault, by class (section 7). */
static const char *fault_of(pgs_class cls) {
    switch (cls) {
    case PGS_CLASS_INVALID_ARGUMENT: return "client error: invalid argument, do not retry unchanged";
    case PGS_CLASS_PERMISSION_DENIED:
        return "permission denied: the access rules do not let this connection's identity do this; nothing was "
               "executed, do not retry (an operator changes the rules)";
    case PGS_CLASS_PROTOCOL_ERROR: return "client error: protocol violation";
    case PGS_CLASS_UNAVAILABLE: return "server unavailable: not executed, retry with backoff";
    case PGS_CLASS_OUTCOME_UNKNOWN: return "outcome unknown: LOAD before retrying";
    case PGS_CLASS_SERVER_ERROR: return "server error: do not retry automatically";
    case PGS_CLASS_RECORDS:
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED:
    case PGS_CLASS_TRANSACTION_CONFLICT:
    case PGS_CLASS_PAGE:
    case PGS_CLASS_OK:
    case PGS_CLASS_IDENTITY:
    case PGS_CLASS_HEALTH:
    case PGS_CLASS_STATS:
    case PGS_CLASS_CLIENTS:
    case PGS_CLASS_RECORD:
    case PGS_CLASS_NOT_FOUND:
    case PGS_CLASS_CONFLICT: return "";
    }
    return "";
}

/* The fields of a response that a protocol error is about. */
static void describe(char *dst, size_t cap, const pgs_msg *m) {
    switch (m->type) {
    case PGS_T_HELLO_OK:
        pgs_fmt(dst, cap, " (version %u, max_frame_bytes %u, max_id_bytes %u, max_in_flight %u)", m->version,
                m->max_frame_bytes, m->max_id_bytes, m->max_in_flight);
        break;
    case PGS_T_RECORD:
        pgs_fmt(dst, cap, " (revision %llu, %zu state bytes)", (unsigned long long)m->revision, m->state_len);
        break;
    case PGS_T_CONFLICT:
        pgs_fmt(dst, cap, " (expected %llu, actual %llu)", (unsigned long long)m->expected_revision,
                (unsigned long long)m->actual_revision);
        break;
    case PGS_T_CLIENTS_OK: pgs_fmt(dst, cap, " (more %u, %u rows)", m->more, m->count); break;
    case PGS_T_RECORDS:
    case PGS_T_OUTCOMES:
    case PGS_T_TRANSACT_CONFLICT: pgs_fmt(dst, cap, " (count %u)", m->count); break;
    case PGS_T_LIST_OK: pgs_fmt(dst, cap, " (more %u, %u ids)", m->more, m->count); break;
    default: dst[0] = '\0'; break;
    }
}

static pgstate_record *record_new(const char *id, size_t id_len, const pgs_msg *m) {
    size_t head = sizeof(pgstate_record);
    if (m->state_len > SIZE_MAX - head - id_len - 2) return NULL;
    pgstate_record *r = malloc(head + id_len + 1 + m->state_len + 1);
    if (r == NULL) return NULL;
    char *idp = (char *)r + head;
    char *sp = idp + id_len + 1;
    if (id_len > 0) memcpy(idp, id, id_len);
    idp[id_len] = '\0';
    if (m->state_len > 0) memcpy(sp, m->state, m->state_len);
    sp[m->state_len] = '\0';
    r->persistence_id = idp;
    r->persistence_id_len = id_len;
    r->revision = m->revision;
    r->updated_at_us = m->updated_at_us;
    r->state = sp;
    r->state_len = m->state_len;
    return r;
}

/* The identity of a WHOAMI_OK in one block: the struct, then user, namespace and rule, each NUL-terminated. */
static pgstate_identity *identity_new(const pgs_msg *m) {
    pgstate_identity *w = malloc(sizeof(pgstate_identity) + m->user_len + 1 + m->ns_len + 1 + m->rule_len + 1);
    if (w == NULL) return NULL;
    char *p = (char *)w + sizeof(pgstate_identity);
    const struct {
        const char *src;
        size_t n;
        const char **dst;
        size_t *dst_len;
    } texts[3] = {{m->user, m->user_len, &w->user, &w->user_len},
                  {m->ns, m->ns_len, &w->ns, &w->ns_len},
                  {m->rule, m->rule_len, &w->rule, &w->rule_len}};
    for (size_t i = 0; i < 3; i++) {
        if (texts[i].n > 0) memcpy(p, texts[i].src, texts[i].n);
        p[texts[i].n] = '\0';
        *texts[i].dst = p;
        *texts[i].dst_len = texts[i].n;
        p += texts[i].n + 1;
    }
    w->uid = m->uid;
    w->gid = m->gid;
    w->pid = m->pid;
    w->permissions = pgs_identity_permissions(m);
    return w;
}

/* HELLO_OK judged usable: the connection takes the server's limits. */
static void apply_hello_ok(pgstate_client *c, const pgs_msg *m) {
    c->limits.max_frame_bytes = m->max_frame_bytes;
    c->limits.max_id_bytes = m->max_id_bytes;
    c->limits.max_state_bytes = m->max_state_bytes;
    c->limits.max_in_flight = m->max_in_flight;
    c->limits.capabilities = m->capabilities;
    c->limits.max_batch_items = m->max_batch_items; /* 0 without MULTI_KEY: the decoder reads them only with it */
    c->limits.max_batch_bytes = m->max_batch_bytes;
    pgs_copy_text(c->server_version, sizeof c->server_version, m->text, m->text_len);
    uint32_t window = m->max_in_flight < PGS_WINDOW_CAP ? m->max_in_flight : PGS_WINDOW_CAP;
    /* The HELLO is out of the table, so the ring may change size; without the
       memory the window stays at the ring's present capacity. */
    if (pgs_inflight_resize(&c->flight, window) != 0 && window > c->flight.mask + 1) window = c->flight.mask + 1;
    c->window = window;
    pgs_reader_set_max_frame(&c->net.in, m->max_frame_bytes);
    c->state = CS_READY;
    c->handshaken = 1;
    c->close_msg[0] = '\0';
}

/* A result the reply carries (copied out of the frame into `made`, unless memory ran out). */
static void deliver(pgstate_client *c, pgs_pending *p, pgs_class cls, int made, const char *what) {
    pgstate_reply *r = &p->pub;
    if (made) {
        r->kind = pgs_class_reply_kind(cls);
        r->status = PGSTATE_OK;
    } else {
        r->kind = PGSTATE_REPLY_ERROR;
        r->status = PGSTATE_ERR_NOMEM;
        pgs_fmt(p->msgbuf, sizeof p->msgbuf, "out of memory copying %s", what);
    }
    finish(c, p);
}

/* The frame answers p (already out of the table) with verdict v. */
static void answer(pgstate_client *c, pgs_pending *p, const pgs_verdict *v, const pgs_msg *m, const char *why) {
    pgstate_reply *r = &p->pub;
    switch (v->cls) {
    case PGS_CLASS_OK:
    case PGS_CLASS_NOT_FOUND:
    case PGS_CLASS_CONFLICT:
        r->kind = pgs_class_reply_kind(v->cls);
        r->status = pgs_class_status(v->cls);
        if (v->cls == PGS_CLASS_CONFLICT) r->actual_revision = m->actual_revision;
        if (p->op == PGS_OP_HELLO) apply_hello_ok(c, m);
        finish(c, p);
        return;
    case PGS_CLASS_RECORD:
        r->record = record_new(p->idbuf, r->persistence_id_len, m);
        deliver(c, p, v->cls, r->record != NULL, "a record");
        return;
    case PGS_CLASS_IDENTITY:
        r->identity = identity_new(m);
        deliver(c, p, v->cls, r->identity != NULL, "an identity");
        return;
    case PGS_CLASS_HEALTH:
        r->health.state = pgs_health_state(m);
        r->health.ready = pgs_health_ready(r->health.state);
        r->health.pool_up = m->pool_up;
        r->health.pool_size = m->pool_size;
        r->health.clients = m->clients;
        r->health.uptime_ms = m->uptime_ms;
        deliver(c, p, v->cls, 1, "");
        return;
    case PGS_CLASS_STATS:
        r->stats = pgs_stats_list_new(m);
        deliver(c, p, v->cls, r->stats != NULL, "the STATS entries");
        return;
    case PGS_CLASS_CLIENTS:
        r->clients = pgs_client_list_new(m);
        deliver(c, p, v->cls, r->clients != NULL, "the CLIENTS rows");
        return;
    case PGS_CLASS_RECORDS:
        r->records = pgs_record_list_new(m, p);
        deliver(c, p, v->cls, r->records != NULL, "the RECORDS entries");
        return;
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED:
        r->outcomes = pgs_outcome_list_new(m, p);
        deliver(c, p, v->cls, r->outcomes != NULL, "the OUTCOMES");
        return;
    case PGS_CLASS_TRANSACTION_CONFLICT:
        r->conflicts = pgs_conflict_list_new(m, p);
        if (r->conflicts != NULL) { /* an outcome with its own status, like CONFLICT */
            r->kind = pgs_class_reply_kind(v->cls);
            r->status = pgs_class_status(v->cls);
            finish(c, p);
        } else {
            deliver(c, p, v->cls, 0, "the TRANSACT_CONFLICT entries");
        }
        return;
    case PGS_CLASS_PAGE:
        r->page = pgs_page_new(m);
        deliver(c, p, v->cls, r->page != NULL, "the LIST_OK page");
        return;
    case PGS_CLASS_INVALID_ARGUMENT:
    case PGS_CLASS_PERMISSION_DENIED:
    case PGS_CLASS_UNAVAILABLE:
    case PGS_CLASS_OUTCOME_UNKNOWN:
    case PGS_CLASS_SERVER_ERROR:
    case PGS_CLASS_PROTOCOL_ERROR:
        if (m->type == PGS_T_ERROR) fail_with(c, p, v, why); /* the message already says what it means */
        else pgs_fail_pending(c, p, v, why);
        return;
    }
}

static void route_frame(pgstate_client *c, const uint8_t *body, uint32_t len) {
    char why[PGS_ERRMSG_CAP];
    pgs_msg m;
    uint32_t erid;
    int st = pgs_decode_response(body, len, &m, &erid);
    if (st != 0) {
        pgs_fmt(why, sizeof why,
                "protocol error (client or server bug): malformed response from pgstated (%d %s, request id %u); "
                "connection to %s closed", st, wire_name((unsigned)st), erid, c->path);
        end_connection(c, END_FRAME, st, NULL, NULL, PGSTATE_ERR_PROTOCOL, why);
        return;
    }
    if (m.type == PGS_T_ERROR && m.request_id == 0) { /* belongs to no request; the server closes */
        if (m.status == PGS_S_SHUTTING_DOWN) {
            pgs_fmt(why, sizeof why, "pgstated at %s is shutting down (final ERROR 202 SHUTTING_DOWN) and closed "
                    "the connection", c->path);
        } else {
            pgs_fmt(why, sizeof why, "pgstated at %s sent ERROR %u %s (\"%.*s\") and closed the connection",
                    c->path, m.status, wire_name(m.status), (int)(m.text_len > 200 ? 200 : m.text_len), m.text);
        }
        end_connection(c, END_FRAME, 0, &m, NULL,
                       m.status / 100 == 1 ? PGSTATE_ERR_PROTOCOL : PGSTATE_ERR_UNAVAILABLE, why);
        return;
    }
    pgs_pending *p = pgs_inflight_find(&c->flight, m.request_id);
    if (p == NULL) {
        pgs_fmt(why, sizeof why, "protocol error (client or server bug): %s response for request id %u, which "
                "is not in flight; connection to %s closed", type_name(m.type), m.request_id, c->path);
        end_connection(c, END_FRAME, 0, &m, NULL, PGSTATE_ERR_PROTOCOL, why);
        return;
    }
    pgs_flight f = flight_of(c, p);
    pgs_verdict v = pgs_classify_frame(&f, 0, &m, &c->limits);
    pgs_inflight_remove(&c->flight, p);
    if (v.problem != NULL) {
        char detail[160];
        describe(detail, sizeof detail, &m);
        pgs_fmt(why, sizeof why, "protocol error (client or server bug): %s%s answering %s (request id %u): %s; "
                "connection to %s closed", type_name(m.type), detail, pgs_op_name(p->op), m.request_id,
                v.problem, c->path);
    } else if (m.type == PGS_T_ERROR && p->op == PGS_OP_HELLO) {
        const char *hint = m.status == PGS_S_UNSUPPORTED_VERSION ? " (this client speaks protocol version 1 only)"
                           : m.status == PGS_S_OVERLOADED         ? " (retry with backoff)"
                           : m.status == PGS_S_PERMISSION_DENIED
                               ? " (the access rules grant this user nothing; an operator changes them)"
                               : "";
        pgs_fmt(why, sizeof why, "pgstated at %s refused the handshake: ERROR %u %s: %.*s%s", c->path, m.status,
                wire_name(m.status), (int)(m.text_len > 300 ? 300 : m.text_len), m.text, hint);
    } else if (m.type == PGS_T_ERROR) {
        pgs_fmt(why, sizeof why, "pgstated answered ERROR %u %s (%s): %.*s", m.status, wire_name(m.status),
                fault_of(v.cls), (int)(m.text_len > 400 ? 400 : m.text_len), m.text);
    } else {
        why[0] = '\0';
    }
    answer(c, p, &v, &m, why);

    switch (v.conn) {
    case PGS_CONN_KEEP: break;
    case PGS_CONN_DRAIN:
        if (c->state == CS_READY) { /* in-flight requests are still answered, then the server closes */
            c->state = CS_DRAINING;
            pgs_fmt(c->close_msg, sizeof c->close_msg,
                    "pgstated at %s is shutting down (ERROR 202); reconnect to continue", c->path);
        }
        break;
    case PGS_CONN_DROP: {
        char closed[PGS_ERRMSG_CAP];
        if (m.type == PGS_T_ERROR) {
            pgs_fmt(closed, sizeof closed, "pgstated at %s answered ERROR %u %s and closed the connection",
                    c->path, m.status, wire_name(m.status));
        } else {
            pgs_copy_text(closed, sizeof closed, why, strlen(why));
        }
        end_connection(c, END_LEFT, 0, NULL, &v, pgs_class_status(v.cls), closed);
        break;
    }
    }
}

void pgs_route_frames(pgstate_client *c) {
    while (c->state != CS_DISCONNECTED) {
        const uint8_t *body;
        uint32_t len;
        int r = pgs_reader_next(&c->net.in, &body, &len);
        if (r == PGS_NEED_MORE) return;
        if (r == PGS_READ_ERROR) {
            char why[PGS_ERRMSG_CAP];
            if (c->net.in.err_status == PGS_S_FRAME_TOO_LARGE) {
                pgs_fmt(why, sizeof why, "protocol error (client or server bug): response frame length %u exceeds "
                        "max_frame_bytes %u; connection to %s closed", c->net.in.err_length,
                        c->net.in.max_frame_bytes, c->path);
            } else {
                pgs_fmt(why, sizeof why, "protocol error (client or server bug): response frame length %u is "
                        "shorter than the 6-byte header; connection to %s closed", c->net.in.err_length, c->path);
            }
            end_connection(c, END_FRAME, c->net.in.err_status, NULL, NULL, PGSTATE_ERR_PROTOCOL, why);
            return;
        }
        route_frame(c, body, len);
    }
}
