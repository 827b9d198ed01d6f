/*
 * call.c - argument checks and request frames for one call (no I/O); see call.h.
 */
#include "call.h"

#include "operator_codec.h"

#include <stdio.h>

int pgs_op_is_write(pgs_op op) {
    switch (op) {
    case PGS_OP_HELLO:
    case PGS_OP_PING:
    case PGS_OP_LOAD:
    case PGS_OP_WHOAMI:
    case PGS_OP_HEALTH: /* the operators' requests change no record: a lost one may be sent again (6.21) */
    case PGS_OP_STATS:
    case PGS_OP_CLIENTS:
    case PGS_OP_PAUSE:
    case PGS_OP_RESUME:
    case PGS_OP_BULK_LOAD:
    case PGS_OP_LIST: return 0;
    case PGS_OP_UPSERT:
    case PGS_OP_DELETE:
    case PGS_OP_DELETE_IF:
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT: return 1;
    }
    return 0; /* not a pgs_op */
}

const char *pgs_op_name(pgs_op op) {
    switch (op) {
    case PGS_OP_HELLO: return "HELLO";
    case PGS_OP_PING: return "PING";
    case PGS_OP_LOAD: return "LOAD";
    case PGS_OP_UPSERT: return "UPSERT";
    case PGS_OP_DELETE: return "DELETE";
    case PGS_OP_DELETE_IF: return "DELETE (conditional)";
    case PGS_OP_WHOAMI: return "WHOAMI";
    case PGS_OP_HEALTH: return "HEALTH";
    case PGS_OP_STATS: return "STATS";
    case PGS_OP_CLIENTS: return "CLIENTS";
    case PGS_OP_PAUSE: return "PAUSE";
    case PGS_OP_RESUME: return "RESUME";
    case PGS_OP_BULK_LOAD: return "BULK_LOAD";
    case PGS_OP_BULK_WRITE: return "BULK_WRITE";
    case PGS_OP_TRANSACT: return "TRANSACT";
    case PGS_OP_LIST: return "LIST";
    }
    return "(not a request kind)";
}

#define REFUSE(...) (snprintf(why, why_cap, __VA_ARGS__), PGSTATE_ERR_INVALID_ARGUMENT)

int pgs_refuse_id(const char *what, pgs_id_problem problem, const char *id, size_t id_len, size_t at,
                  const pgs_limits *lim, char *why, size_t why_cap) {
    switch (problem) {
    case PGS_ID_OK: return PGSTATE_OK;
    case PGS_ID_EMPTY: return REFUSE("%s must not be empty", what);
    case PGS_ID_TOO_LONG:
        return REFUSE("%s is %zu bytes; the maximum is %u", what, id_len,
                      lim->max_id_bytes < 255 ? lim->max_id_bytes : 255u);
    case PGS_ID_CONTROL:
        return REFUSE("%s contains control character 0x%02x at byte %zu", what, (unsigned)(uint8_t)id[at], at);
    case PGS_ID_NOT_UTF8: return REFUSE("%s is not valid UTF-8", what);
    }
    return REFUSE("%s breaks an argument rule", what);
}

/* The id rule is pgs_id_check (codec.c, shared with the request decoder); pgs_refuse_id words the refusal. */
static int refuse_bad_id(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    if (call->id == NULL && call->id_len > 0) return REFUSE("persistence id is NULL");
    size_t at = 0;
    pgs_id_problem problem = pgs_id_check((const uint8_t *)call->id, call->id_len, lim->max_id_bytes, &at);
    return pgs_refuse_id("persistence id", problem, call->id, call->id_len, at, lim, why, why_cap);
}

#define NO_IDENTITY "pgstated does not announce IDENTITY; %s cannot be sent"

/* The namespace rule is pgs_ns_check (codec.c, shared with the request decoder); then the capability that defines
   the NAMESPACE flag. */
int pgs_call_check_namespace(const char *ns, size_t ns_len, const pgs_limits *lim, char *why, size_t why_cap) {
    if (ns == NULL) return PGSTATE_OK;
    size_t at = 0;
    switch (pgs_ns_check((const uint8_t *)ns, ns_len, &at)) {
    case PGS_NS_OK: break;
    case PGS_NS_TOO_LONG: return REFUSE("namespace is %zu bytes; the maximum is %u", ns_len, PGS_MAX_NAMESPACE_BYTES);
    case PGS_NS_BAD_BYTE:
        return REFUSE("namespace contains byte 0x%02x at byte %zu; only ASCII letters, digits, '.', '_' and '-' "
                      "are allowed", (unsigned)(uint8_t)ns[at], at);
    }
    if (!(lim->capabilities & PGS_CAP_IDENTITY)) return REFUSE(NO_IDENTITY, "a request naming a namespace");
    return PGSTATE_OK;
}

/* What every keyed request checks: its namespace, then its persistence id. */
static int refuse_bad_key(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    int rc = pgs_call_check_namespace(call->ns, call->ns_len, lim, why, why_cap);
    return rc != PGSTATE_OK ? rc : refuse_bad_id(call, lim, why, why_cap);
}

static int check_upsert(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    if (call->expected_revision > PGS_MAX_UPSERT_EXPECTED) {
        return REFUSE("expected_revision %llu is out of range for UPSERT (0 .. 2^63-2)",
                      (unsigned long long)call->expected_revision);
    }
    if (call->state == NULL && call->state_len > 0) {
        return REFUSE("state is NULL but state_len is %zu", call->state_len);
    }
    if (call->state_len > lim->max_state_bytes) {
        return REFUSE("state is %zu bytes; pgstated allows at most %u", call->state_len, lim->max_state_bytes);
    }
    if (call->has_ttl && !pgs_ttl_valid(call->ttl_seconds)) {
        return REFUSE("ttl_seconds %u is out of range (1 .. 2^31-1)", call->ttl_seconds);
    }
    if (call->has_ttl && !(lim->capabilities & PGS_CAP_TTL)) {
        return REFUSE("pgstated does not announce TTL; an upsert with a TTL cannot be sent");
    }
    uint64_t ns_bytes = call->ns != NULL ? 1 + (uint64_t)call->ns_len : 0;
    uint64_t frame = PGS_HEADER_BYTES + ns_bytes + 1 + (uint64_t)call->id_len + 8 + (call->has_ttl ? 4 : 0) + 4 +
                     (uint64_t)call->state_len;
    if (frame > lim->max_frame_bytes) {
        return REFUSE("request would be a %llu-byte frame; pgstated allows at most %u", (unsigned long long)frame,
                      lim->max_frame_bytes);
    }
    return PGSTATE_OK;
}

int pgs_call_check(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    int rc;
    switch (call->op) {
    case PGS_OP_HELLO:
        if (call->versions_count < 1 || call->versions_count > 255) {
            return REFUSE("HELLO must offer 1 .. 255 protocol versions, not %zu", call->versions_count);
        }
        if (call->client_name_len > 255) {
            return REFUSE("client name is %zu bytes; a str8 holds at most 255 (never truncated)",
                          call->client_name_len);
        }
        if (!pgs_utf8_valid((const uint8_t *)call->client_name, call->client_name_len)) {
            return REFUSE("client name is not valid UTF-8");
        }
        return PGSTATE_OK;
    case PGS_OP_PING: return PGSTATE_OK;
    case PGS_OP_WHOAMI:
        if (!(lim->capabilities & PGS_CAP_IDENTITY)) return REFUSE(NO_IDENTITY, "WHOAMI");
        return PGSTATE_OK;
    case PGS_OP_HEALTH:
    case PGS_OP_STATS:
    case PGS_OP_CLIENTS: /* after_connection and timeout_ms: every value of their C type is on the wire */
    case PGS_OP_PAUSE:
    case PGS_OP_RESUME:
        if (!(lim->capabilities & PGS_CAP_OPERATOR)) {
            return REFUSE("pgstated does not announce OPERATOR; %s cannot be sent", pgs_op_name(call->op));
        }
        return PGSTATE_OK;
    case PGS_OP_LOAD:
    case PGS_OP_DELETE: return refuse_bad_key(call, lim, why, why_cap);
    case PGS_OP_UPSERT:
        rc = refuse_bad_key(call, lim, why, why_cap);
        return rc != PGSTATE_OK ? rc : check_upsert(call, lim, why, why_cap);
    case PGS_OP_DELETE_IF:
        rc = refuse_bad_key(call, lim, why, why_cap);
        if (rc != PGSTATE_OK) return rc;
        if (call->expected_revision > PGS_MAX_REVISION) {
            return REFUSE("expected_revision %llu is out of range for a conditional DELETE (0 .. 2^63-1)",
                          (unsigned long long)call->expected_revision);
        }
        if (!(lim->capabilities & PGS_CAP_CONDITIONAL_DELETE)) {
            return REFUSE("pgstated does not announce CONDITIONAL_DELETE; a conditional delete cannot be sent");
        }
        return PGSTATE_OK;
    case PGS_OP_BULK_LOAD:
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT:
    case PGS_OP_LIST: return pgs_multikey_check(call, lim, why, why_cap);
    }
    return REFUSE("request kind %d does not exist", (int)call->op);
}

int pgs_call_encode(pgs_buf *b, uint32_t rid, const pgs_call *call) {
    switch (call->op) {
    case PGS_OP_HELLO:
        return pgs_encode_hello(b, rid, call->versions, call->versions_count, call->client_name,
                                call->client_name_len);
    case PGS_OP_PING: return pgs_encode_ping(b, rid);
    case PGS_OP_WHOAMI: return pgs_encode_whoami(b, rid);
    case PGS_OP_HEALTH: return pgs_encode_health(b, rid);
    case PGS_OP_STATS: return pgs_encode_stats(b, rid);
    case PGS_OP_CLIENTS: return pgs_encode_clients(b, rid, call->after_connection);
    case PGS_OP_PAUSE: return pgs_encode_pause(b, rid, call->timeout_ms);
    case PGS_OP_RESUME: return pgs_encode_resume(b, rid);
    case PGS_OP_LOAD: return pgs_encode_load(b, rid, call->ns, call->ns_len, call->id, call->id_len);
    case PGS_OP_UPSERT:
        return pgs_encode_upsert_ttl(b, rid, call->ns, call->ns_len, call->id, call->id_len, call->expected_revision,
                                     call->has_ttl, call->ttl_seconds, call->state, call->state_len);
    case PGS_OP_DELETE: return pgs_encode_delete(b, rid, call->ns, call->ns_len, call->id, call->id_len, 0, 0);
    case PGS_OP_DELETE_IF:
        return pgs_encode_delete(b, rid, call->ns, call->ns_len, call->id, call->id_len, 1,
                                 call->expected_revision);
    case PGS_OP_BULK_LOAD:
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT:
    case PGS_OP_LIST: return pgs_multikey_encode(b, rid, call);
    }
    return PGS_ENC_RANGE; /* not a pgs_op */
}
