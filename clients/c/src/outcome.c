/*
 * outcome.c - the client-behaviour classifier (pure); see outcome.h and the
 * client-behaviour section of proto-spec/PROTOCOL.md.
 */
#include "outcome.h"

#include "multikey_codec.h"
#include "operator_codec.h"
#include "pgstate.h"

#include <string.h>

#define PROTOCOL_VERSION 1

static pgs_verdict verdict(pgs_class cls, pgs_conn conn, unsigned status, const char *problem) {
    pgs_verdict v;
    v.cls = cls;
    v.conn = conn;
    v.status = status;
    v.problem = problem;
    return v;
}

static pgs_verdict broken(const char *problem) {
    return verdict(PGS_CLASS_PROTOCOL_ERROR, PGS_CONN_DROP, 0, problem);
}

/* Section 7: a status is handled by its class; a write answered 5xx (or a
   status of no class) may or may not have been applied. */
static pgs_class by_status(unsigned status, int write) {
    if (status == PGS_S_INVALID_ARGUMENT) return PGS_CLASS_INVALID_ARGUMENT;
    if (status == PGS_S_PERMISSION_DENIED) return PGS_CLASS_PERMISSION_DENIED; /* nothing was executed */
    switch (status / 100) {
    case 1: return PGS_CLASS_PROTOCOL_ERROR;
    case 2: return PGS_CLASS_UNAVAILABLE;
    case 3: return PGS_CLASS_OUTCOME_UNKNOWN;
    default: return write ? PGS_CLASS_OUTCOME_UNKNOWN : PGS_CLASS_SERVER_ERROR; /* 5xx, 0, 4xx, >= 600 */
    }
}

/* Section 10: the server closes after these, whatever the request id. */
static int status_closes(unsigned status) {
    return status == PGS_S_MALFORMED_FRAME || status == PGS_S_FRAME_TOO_LARGE ||
           status == PGS_S_UNSUPPORTED_VERSION || status == PGS_S_NOT_ALLOWED;
}

/* Section 6: the response types each request may be answered with. */
static int response_allowed(pgs_op op, uint8_t type) {
    if (type == PGS_T_ERROR) return 1;
    switch (op) {
    case PGS_OP_HELLO: return type == PGS_T_HELLO_OK;
    case PGS_OP_PING: return type == PGS_T_OK;
    case PGS_OP_LOAD: return type == PGS_T_RECORD || type == PGS_T_NOT_FOUND;
    case PGS_OP_UPSERT: return type == PGS_T_RECORD || type == PGS_T_CONFLICT;
    case PGS_OP_DELETE: return type == PGS_T_OK;
    case PGS_OP_DELETE_IF: return type == PGS_T_OK || type == PGS_T_CONFLICT;
    case PGS_OP_WHOAMI: return type == PGS_T_WHOAMI_OK;
    case PGS_OP_HEALTH: return type == PGS_T_HEALTH_OK;
    case PGS_OP_STATS: return type == PGS_T_STATS_OK;
    case PGS_OP_CLIENTS: return type == PGS_T_CLIENTS_OK;
    case PGS_OP_PAUSE:
    case PGS_OP_RESUME: return type == PGS_T_OK;
    case PGS_OP_BULK_LOAD: return type == PGS_T_RECORDS;
    case PGS_OP_BULK_WRITE: return type == PGS_T_OUTCOMES;
    case PGS_OP_TRANSACT: return type == PGS_T_OUTCOMES || type == PGS_T_TRANSACT_CONFLICT;
    case PGS_OP_LIST: return type == PGS_T_LIST_OK;
    }
    return 0;
}

static int unanswered_write(const pgs_flight *req) {
    return req->written && pgs_op_is_write(req->op);
}

/* An ERROR with request id 0: the server ends the connection (section 3.3). */
static pgs_verdict notice(const pgs_flight *req, unsigned status) {
    if (status / 100 == 1) return verdict(PGS_CLASS_PROTOCOL_ERROR, PGS_CONN_DROP, status, NULL);
    /* The final SHUTTING_DOWN: nothing left unanswered was executed (section 10). */
    if (status == PGS_S_SHUTTING_DOWN || req->op == PGS_OP_HELLO) {
        return verdict(PGS_CLASS_UNAVAILABLE, PGS_CONN_DROP, status, NULL);
    }
    return verdict(unanswered_write(req) ? PGS_CLASS_OUTCOME_UNKNOWN : PGS_CLASS_UNAVAILABLE, PGS_CONN_DROP,
                   status, NULL);
}

static pgs_verdict error_answer(const pgs_flight *req, unsigned status) {
    if (req->op == PGS_OP_HELLO) { /* a refused handshake (106 included) leaves no usable connection */
        return verdict(by_status(status, 0), PGS_CONN_DROP, status, NULL);
    }
    pgs_conn conn = status_closes(status) ? PGS_CONN_DROP
                    : status == PGS_S_SHUTTING_DOWN ? PGS_CONN_DRAIN
                                                    : PGS_CONN_KEEP;
    return verdict(by_status(status, pgs_op_is_write(req->op)), conn, status, NULL);
}

static pgs_verdict hello_ok(const pgs_msg *m) {
    if (m->version != PROTOCOL_VERSION) return broken("HELLO_OK chose a protocol version that was not offered");
    if (m->max_id_bytes < 1 || m->max_id_bytes > 255 || m->max_in_flight < 1 ||
        m->max_frame_bytes < PGS_HEADER_BYTES) {
        return broken("HELLO_OK announced unusable limits (max_id_bytes must be 1 .. 255, max_in_flight >= 1, "
                      "max_frame_bytes >= 6)");
    }
    /* a count of 0 allows no multi-key request; one above a u16be count cannot be sent (never clamped) */
    if ((m->capabilities & PGS_CAP_MULTI_KEY) && (m->max_batch_items < 1 || m->max_batch_items > PGS_MAX_BATCH_ITEMS)) {
        return broken("HELLO_OK announced MULTI_KEY with max_batch_items outside 1 .. 65535");
    }
    return verdict(PGS_CLASS_OK, PGS_CONN_KEEP, 0, NULL);
}

static pgs_verdict record(const pgs_flight *req, const pgs_msg *m, const pgs_limits *lim) {
    if (m->revision < 1 || m->revision > PGS_MAX_REVISION) return broken("RECORD revision outside 1 .. 2^63-1");
    if (req->op == PGS_OP_UPSERT && m->revision != req->expected_revision + 1) {
        return broken("RECORD answering UPSERT does not carry the expected revision + 1");
    }
    if (m->state_len > lim->max_state_bytes) return broken("RECORD state larger than max_state_bytes");
    return verdict(PGS_CLASS_RECORD, PGS_CONN_KEEP, 0, NULL);
}

/* A conflict copies the expected revision and reports another, valid one (6.10), for a request or an item. */
static int conflict_fits(uint64_t wanted, uint64_t expected, uint64_t actual) {
    return expected == wanted && actual != expected && actual <= PGS_MAX_REVISION;
}

static pgs_verdict conflict(const pgs_flight *req, const pgs_msg *m) {
    if (!conflict_fits(req->expected_revision, m->expected_revision, m->actual_revision)) {
        return broken("CONFLICT does not fit the request (expected revision differs, actual equals expected, "
                      "or actual above 2^63-1)");
    }
    return verdict(PGS_CLASS_CONFLICT, PGS_CONN_KEEP, 0, NULL);
}

static int revision_valid(uint64_t revision) {
    return revision >= 1 && revision <= PGS_MAX_REVISION;
}

/* Rule 6 for RECORDS: one entry per id, FOUND ones as a RECORD, and the first always sent. */
static pgs_verdict records(const pgs_flight *req, const pgs_msg *m, const pgs_limits *lim) {
    if (req->shape == NULL || m->count != req->shape->count) return broken("RECORDS count is not the request's");
    pgs_cursor it;
    pgs_record_entry e;
    size_t i = 0;
    for (pgs_items_begin(&it, m); pgs_record_next(&it, &e); i++) {
        if (i == 0 && e.presence == PGS_PRESENCE_OMITTED) return broken("RECORDS first entry is OMITTED");
        if (e.presence != PGS_PRESENCE_FOUND) continue;
        if (!revision_valid(e.revision)) return broken("RECORDS entry with a revision outside 1 .. 2^63-1");
        if (e.state_len > lim->max_state_bytes) return broken("RECORDS entry with a state larger than max_state_bytes");
    }
    return verdict(PGS_CLASS_RECORDS, PGS_CONN_KEEP, 0, NULL);
}

/* Rule 6 for OUTCOMES: one outcome per item that fits the item; answering TRANSACT only WRITTEN and DELETED. */
static pgs_verdict outcomes(const pgs_flight *req, const pgs_msg *m) {
    const pgs_shape *sh = req->shape;
    int transact = req->op == PGS_OP_TRANSACT;
    if (sh == NULL || m->count != sh->count) return broken("OUTCOMES count is not the request's item count");
    pgs_cursor it;
    pgs_outcome o;
    size_t i = 0;
    for (pgs_items_begin(&it, m); i < sh->count && pgs_outcome_next(&it, &o); i++) {
        const pgs_item_shape *item = &sh->items[i];
        switch (o.result) {
        case PGS_RESULT_WRITTEN:
            if (item->kind != PGS_ITEM_UPSERT) return broken("OUTCOMES WRITTEN for a delete item");
            if (o.revision != item->expected_revision + 1) {
                return broken("OUTCOMES WRITTEN with a revision other than the item's expected revision + 1");
            }
            break;
        case PGS_RESULT_DELETED:
            if (item->kind != PGS_ITEM_DELETE) return broken("OUTCOMES DELETED for an upsert item");
            break;
        case PGS_RESULT_CONFLICT:
            if (transact) return broken("OUTCOMES answering TRANSACT with a CONFLICT (only WRITTEN and DELETED)");
            if (!item->has_expected) return broken("OUTCOMES CONFLICT for an unconditional delete item");
            if (!conflict_fits(item->expected_revision, o.expected_revision, o.actual_revision)) {
                return broken("OUTCOMES CONFLICT does not fit its item (expected revision differs, actual equals "
                              "expected, or actual above 2^63-1)");
            }
            break;
        case PGS_RESULT_FAILED:
            if (transact) return broken("OUTCOMES answering TRANSACT with a FAILED item (never applied in part)");
            break;
        default: return broken("OUTCOMES result not defined"); /* the decoder lets none through */
        }
    }
    return verdict(transact ? PGS_CLASS_COMMITTED : PGS_CLASS_OUTCOMES, PGS_CONN_KEEP, 0, NULL);
}

/* Rule 6 for TRANSACT_CONFLICT: at least one item, by strictly ascending index, each able to fail and failing by
   the CONFLICT rules. */
static pgs_verdict transact_conflict(const pgs_flight *req, const pgs_msg *m) {
    const pgs_shape *sh = req->shape;
    if (sh == NULL || m->count == 0) return broken("TRANSACT_CONFLICT names no item");
    pgs_cursor it;
    pgs_conflict_entry e;
    size_t next = 0; /* the least index the next entry may have */
    for (pgs_items_begin(&it, m); pgs_conflict_next(&it, &e); next = (size_t)e.index + 1) {
        if (e.index < next || e.index >= sh->count) {
            return broken("TRANSACT_CONFLICT indexes do not ascend strictly through the request's items");
        }
        const pgs_item_shape *item = &sh->items[e.index];
        if (!item->has_expected) return broken("TRANSACT_CONFLICT names an unconditional delete item");
        if (!conflict_fits(item->expected_revision, e.expected_revision, e.actual_revision)) {
            return broken("TRANSACT_CONFLICT entry does not fit its item (expected revision differs, actual equals "
                          "expected, or actual above 2^63-1)");
        }
    }
    return verdict(PGS_CLASS_TRANSACTION_CONFLICT, PGS_CONN_KEEP, 0, NULL);
}

/* Byte order of ids (memcmp, then the shorter first): the order LIST pages by. */
static int id_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return alen < blen ? -1 : alen > blen;
}

/* Rule 6 for LIST_OK: at most limit ids, strictly ascending, each with the prefix and past the cursor; a page
   promising more has a last id to ask after - which is also what makes following the pages end. */
static pgs_verdict page(const pgs_flight *req, const pgs_msg *m) {
    const pgs_shape *sh = req->shape;
    if (sh == NULL || m->count > sh->limit) return broken("LIST_OK has more entries than the request's limit");
    if (m->more && m->count == 0) return broken("LIST_OK has more 1 and no entry to ask after");
    pgs_cursor it;
    pgs_list_entry e;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (pgs_items_begin(&it, m); pgs_list_next(&it, &e); prev = e.id, prev_len = e.id_len) {
        if (!revision_valid(e.revision)) return broken("LIST_OK entry with a revision outside 1 .. 2^63-1");
        if (e.id_len < sh->prefix_len || (sh->prefix_len > 0 && memcmp(e.id, sh->prefix, sh->prefix_len) != 0)) {
            return broken("LIST_OK id that does not start with the request's prefix");
        }
        if (sh->after != NULL && id_cmp(e.id, e.id_len, sh->after, sh->after_len) <= 0) {
            return broken("LIST_OK id not greater than the request's cursor (after)");
        }
        if (prev != NULL && id_cmp(e.id, e.id_len, prev, prev_len) <= 0) {
            return broken("LIST_OK ids do not ascend strictly");
        }
    }
    return verdict(PGS_CLASS_PAGE, PGS_CONN_KEEP, 0, NULL);
}

/* Rule 6 for CLIENTS_OK: ids ascend strictly from the request's after_connection, and a page promising more has a
   last id to ask after - which is also what makes following the pages end. */
static pgs_verdict clients_page(const pgs_flight *req, const pgs_msg *m) {
    uint64_t previous = req->after_connection;
    pgs_cursor it;
    pgs_client_row row;
    pgs_items_begin(&it, m);
    while (pgs_clients_next(&it, &row)) {
        if (row.connection_id <= previous) {
            return broken("CLIENTS_OK rows do not ascend strictly from the request's after_connection");
        }
        previous = row.connection_id;
    }
    if (m->more && m->count == 0) return broken("CLIENTS_OK has more 1 and no row to ask after");
    return verdict(PGS_CLASS_CLIENTS, PGS_CONN_KEEP, 0, NULL);
}

pgs_verdict pgs_classify_frame(const pgs_flight *req, int frame_status, const pgs_msg *m, const pgs_limits *lim) {
    if (frame_status != 0) return broken("malformed response frame");
    if (m->type == PGS_T_ERROR && m->request_id == 0) return notice(req, m->status);
    if (m->request_id != req->request_id) return broken("response for a request id that is not in flight");
    if (!response_allowed(req->op, m->type)) return broken("response type not allowed for the request");
    switch (m->type) {
    case PGS_T_ERROR: return error_answer(req, m->status);
    case PGS_T_HELLO_OK: return hello_ok(m);
    case PGS_T_OK: return verdict(PGS_CLASS_OK, PGS_CONN_KEEP, 0, NULL);
    case PGS_T_NOT_FOUND: return verdict(PGS_CLASS_NOT_FOUND, PGS_CONN_KEEP, 0, NULL);
    case PGS_T_RECORD: return record(req, m, lim);
    case PGS_T_CONFLICT: return conflict(req, m);
    case PGS_T_WHOAMI_OK: return verdict(PGS_CLASS_IDENTITY, PGS_CONN_KEEP, 0, NULL);
    case PGS_T_HEALTH_OK: return verdict(PGS_CLASS_HEALTH, PGS_CONN_KEEP, 0, NULL); /* not ready is an answer too */
    case PGS_T_STATS_OK: return verdict(PGS_CLASS_STATS, PGS_CONN_KEEP, 0, NULL);   /* unknown names included */
    case PGS_T_CLIENTS_OK: return clients_page(req, m);
    case PGS_T_RECORDS: return records(req, m, lim);
    case PGS_T_OUTCOMES: return outcomes(req, m);
    case PGS_T_TRANSACT_CONFLICT: return transact_conflict(req, m);
    case PGS_T_LIST_OK: return page(req, m);
    default: return broken("not a response type"); /* the decoder lets only response types through */
    }
}

pgs_verdict pgs_classify_lost(const pgs_flight *req) {
    if (req->op == PGS_OP_HELLO) return verdict(PGS_CLASS_UNAVAILABLE, PGS_CONN_DROP, 0, NULL);
    return verdict(unanswered_write(req) ? PGS_CLASS_OUTCOME_UNKNOWN : PGS_CLASS_UNAVAILABLE, PGS_CONN_DROP, 0,
                   NULL);
}

pgs_verdict pgs_classify_timeout(const pgs_flight *req) {
    if (req->op == PGS_OP_HELLO) return verdict(PGS_CLASS_UNAVAILABLE, PGS_CONN_DROP, 0, NULL);
    /* The connection stays: a late answer is recognised by its id and discarded. */
    return verdict(unanswered_write(req) ? PGS_CLASS_OUTCOME_UNKNOWN : PGS_CLASS_UNAVAILABLE, PGS_CONN_KEEP, 0,
                   NULL);
}

pgs_verdict pgs_classify_left(const pgs_flight *req, const pgs_verdict *cause) {
    if (cause->cls == PGS_CLASS_PROTOCOL_ERROR) {
        return verdict(PGS_CLASS_PROTOCOL_ERROR, PGS_CONN_DROP, cause->status, NULL);
    }
    pgs_verdict v = pgs_classify_lost(req);
    v.status = cause->status;
    return v;
}

pgs_class pgs_item_failure_class(unsigned status) {
    return by_status(status, 1);
}

uint32_t pgs_identity_permissions(const pgs_msg *m) {
    return m->permissions & PGS_PERM_KNOWN;
}

uint32_t pgs_health_state(const pgs_msg *m) {
    return m->health_state & PGS_HEALTH_KNOWN;
}

int pgs_health_ready(uint32_t state) {
    return (state & PGS_HEALTH_POOL_UP) && !(state & (PGS_HEALTH_PAUSED | PGS_HEALTH_DRAINING));
}

int pgs_class_status(pgs_class cls) {
    switch (cls) {
    case PGS_CLASS_OK:
    case PGS_CLASS_IDENTITY:
    case PGS_CLASS_HEALTH:
    case PGS_CLASS_STATS:
    case PGS_CLASS_CLIENTS:
    case PGS_CLASS_RECORD:
    case PGS_CLASS_RECORDS:
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED:
    case PGS_CLASS_PAGE: return PGSTATE_OK;
    case PGS_CLASS_NOT_FOUND: return PGSTATE_NOT_FOUND;
    case PGS_CLASS_CONFLICT:
    case PGS_CLASS_TRANSACTION_CONFLICT: return PGSTATE_CONFLICT;
    case PGS_CLASS_INVALID_ARGUMENT: return PGSTATE_ERR_INVALID_ARGUMENT;
    case PGS_CLASS_PERMISSION_DENIED: return PGSTATE_ERR_PERMISSION_DENIED;
    case PGS_CLASS_UNAVAILABLE: return PGSTATE_ERR_UNAVAILABLE;
    case PGS_CLASS_OUTCOME_UNKNOWN: return PGSTATE_ERR_OUTCOME_UNKNOWN;
    case PGS_CLASS_SERVER_ERROR: return PGSTATE_ERR_SERVER;
    case PGS_CLASS_PROTOCOL_ERROR: return PGSTATE_ERR_PROTOCOL;
    }
    return PGSTATE_ERR_PROTOCOL;
}

int pgs_class_reply_kind(pgs_class cls) {
    switch (cls) {
    case PGS_CLASS_OK: return PGSTATE_REPLY_OK;
    case PGS_CLASS_IDENTITY: return PGSTATE_REPLY_IDENTITY;
    case PGS_CLASS_HEALTH: return PGSTATE_REPLY_HEALTH;
    case PGS_CLASS_STATS: return PGSTATE_REPLY_STATS;
    case PGS_CLASS_CLIENTS: return PGSTATE_REPLY_CLIENTS;
    case PGS_CLASS_RECORD: return PGSTATE_REPLY_RECORD;
    case PGS_CLASS_NOT_FOUND: return PGSTATE_REPLY_NOT_FOUND;
    case PGS_CLASS_CONFLICT: return PGSTATE_REPLY_CONFLICT;
    case PGS_CLASS_RECORDS: return PGSTATE_REPLY_RECORDS;
    case PGS_CLASS_OUTCOMES: return PGSTATE_REPLY_OUTCOMES;
    case PGS_CLASS_COMMITTED: return PGSTATE_REPLY_COMMITTED;
    case PGS_CLASS_TRANSACTION_CONFLICT: return PGSTATE_REPLY_TRANSACTION_CONFLICT;
    case PGS_CLASS_PAGE: return PGSTATE_REPLY_PAGE;
    case PGS_CLASS_INVALID_ARGUMENT:
    case PGS_CLASS_PERMISSION_DENIED:
    case PGS_CLASS_UNAVAILABLE:
    case PGS_CLASS_OUTCOME_UNKNOWN:
    case PGS_CLASS_SERVER_ERROR:
    case PGS_CLASS_PROTOCOL_ERROR: return PGSTATE_REPLY_ERROR;
    }
    return PGSTATE_REPLY_ERROR;
}

const char *pgs_class_name(pgs_class cls) {
    switch (cls) {
    case PGS_CLASS_OK: return "ok";
    case PGS_CLASS_IDENTITY: return "identity";
    case PGS_CLASS_HEALTH: return "health";
    case PGS_CLASS_STATS: return "stats";
    case PGS_CLASS_CLIENTS: return "clients";
    case PGS_CLASS_RECORD: return "record";
    case PGS_CLASS_NOT_FOUND: return "not_found";
    case PGS_CLASS_CONFLICT: return "conflict";
    case PGS_CLASS_RECORDS: return "records";
    case PGS_CLASS_OUTCOMES: return "outcomes";
    case PGS_CLASS_COMMITTED: return "committed";
    case PGS_CLASS_TRANSACTION_CONFLICT: return "transaction_conflict";
    case PGS_CLASS_PAGE: return "page";
    case PGS_CLASS_INVALID_ARGUMENT: return "invalid_argument";
    case PGS_CLASS_PERMISSION_DENIED: return "permission_denied";
    case PGS_CLASS_UNAVAILABLE: return "unavailable";
    case PGS_CLASS_OUTCOME_UNKNOWN: return "outcome_unknown";
    case PGS_CLASS_SERVER_ERROR: return "server_error";
    case PGS_CLASS_PROTOCOL_ERROR: return "protocol_error";
    }
    return "(not a class)";
}

const char *pgs_conn_name(pgs_conn conn) {
    switch (conn) {
    case PGS_CONN_KEEP: return "keep";
    case PGS_CONN_DRAIN: return "drain";
    case PGS_CONN_DROP: return "drop";
    }
    return "(not a connection decision)";
}
