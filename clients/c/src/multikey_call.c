/*
 * multikey_call.c - argument checks and request frames for BULK_LOAD,
 * BULK_WRITE, TRANSACT and LIST (no I/O); see call.h.  The rules themselves
 * (an id, an item, a prefix, a repeat) are defined once in codec.c and
 * multikey_codec.c, shared with the request decoder; this file applies them to
 * the caller's arguments, adds what only a client checks (the capabilities,
 * the frame size), and words each refusal so that it names the item at fault.
 */
#include "call.h"
#include "multikey_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFUSE(...) (snprintf(why, why_cap, __VA_ARGS__), PGSTATE_ERR_INVALID_ARGUMENT)

size_t pgs_call_id_len(const pgs_call *call, size_t i) {
    if (call->id_lens != NULL) return call->id_lens[i];
    return call->ids[i] != NULL ? strlen(call->ids[i]) : 0;
}

void pgs_item_of(pgs_item *out, const pgstate_item *in) {
    memset(out, 0, sizeof *out);
    out->kind = in->kind == PGSTATE_ITEM_UPSERT ? PGS_ITEM_UPSERT : PGS_ITEM_DELETE;
    out->id = in->id;
    out->id_len = in->id_len;
    out->expected_revision = in->expected_revision;
    if (in->kind == PGSTATE_ITEM_UPSERT) {
        out->has_expected = 1; /* an upsert always names the revision it expects */
        out->has_ttl = (in->flags & PGSTATE_ITEM_TTL) != 0;
        out->ttl_seconds = in->ttl_seconds;
        out->state = (const uint8_t *)in->state;
        out->state_len = in->state_len;
    } else {
        out->has_expected = (in->flags & PGSTATE_ITEM_EXPECTED) != 0;
    }
}

static void public_item(const void *items, size_t i, pgs_item *out) {
    pgs_item_of(out, &((const pgstate_item *)items)[i]);
}

/* The frame must fit what the server accepts (12.5). */
static int check_frame(uint64_t payload, const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    uint64_t frame = PGS_HEADER_BYTES + (call->ns != NULL ? 1 + (uint64_t)call->ns_len : 0) + payload;
    if (frame > lim->max_frame_bytes) {
        return REFUSE("%s would be a %llu-byte frame; pgstated allows at most %u", pgs_op_name(call->op),
                      (unsigned long long)frame, lim->max_frame_bytes);
    }
    return PGSTATE_OK;
}

static int check_list(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    size_t at = 0;
    if (call->prefix == NULL && call->prefix_len > 0) return REFUSE("LIST prefix is NULL");
    pgs_id_problem p = pgs_prefix_check((const uint8_t *)call->prefix, call->prefix_len, lim->max_id_bytes, &at);
    if (p != PGS_ID_OK) return pgs_refuse_id("LIST prefix", p, call->prefix, call->prefix_len, at, lim, why, why_cap);
    if (call->after != NULL) {
        p = pgs_id_check((const uint8_t *)call->after, call->after_len, lim->max_id_bytes, &at);
        if (p != PGS_ID_OK) {
            return pgs_refuse_id("LIST cursor (after)", p, call->after, call->after_len, at, lim, why, why_cap);
        }
    }
    if (call->limit < 1 || call->limit > lim->max_batch_items) {
        return REFUSE("LIST limit %u is out of range (1 .. %u, the max_batch_items pgstated announced)",
                      call->limit, lim->max_batch_items);
    }
    uint64_t payload = 1 + (uint64_t)call->prefix_len + (call->after != NULL ? 1 + (uint64_t)call->after_len : 0) + 2;
    return check_frame(payload, call, lim, why, why_cap);
}

static int check_ids(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    if (call->ids == NULL) return REFUSE("BULK_LOAD ids is NULL");
    uint64_t payload = 2;
    for (size_t i = 0; i < call->count; i++) {
        size_t n = pgs_call_id_len(call, i), at = 0;
        char what[48];
        snprintf(what, sizeof what, "BULK_LOAD id %zu", i);
        if (call->ids[i] == NULL && n > 0) return REFUSE("%s is NULL", what);
        pgs_id_problem p = pgs_id_check((const uint8_t *)call->ids[i], n, lim->max_id_bytes, &at);
        if (p != PGS_ID_OK) return pgs_refuse_id(what, p, call->ids[i], n, at, lim, why, why_cap);
        payload += 1 + (uint64_t)n;
    }
    return check_frame(payload, call, lim, why, why_cap);
}

/* What pgs_item_check found, worded for item i. */
static int refuse_item(size_t i, pgs_item_problem problem, pgs_id_problem idp, size_t at, const pgs_item *it,
                       const pgs_limits *lim, char *why, size_t why_cap) {
    char what[48];
    switch (problem) {
    case PGS_ITEM_OK: return PGSTATE_OK;
    case PGS_ITEM_BAD_ID:
        snprintf(what, sizeof what, "item %zu's id", i);
        return pgs_refuse_id(what, idp, it->id, it->id_len, at, lim, why, why_cap);
    case PGS_ITEM_BAD_EXPECTED:
        return REFUSE("item %zu: expected_revision %llu is out of range for %s (0 .. 2^63-%d)", i,
                      (unsigned long long)it->expected_revision,
                      it->kind == PGS_ITEM_UPSERT ? "an upsert" : "a conditional delete",
                      it->kind == PGS_ITEM_UPSERT ? 2 : 1);
    case PGS_ITEM_BAD_TTL: return REFUSE("item %zu: ttl_seconds %u is out of range (1 .. 2^31-1)", i, it->ttl_seconds);
    case PGS_ITEM_STATE_TOO_LARGE:
        return REFUSE("item %zu: state is %zu bytes; pgstated allows at most %u", i, it->state_len,
                      lim->max_state_bytes);
    }
    return REFUSE("item %zu breaks an argument rule", i);
}

/* Every item by the rules of the single call it mirrors, then the request-wide rules. */
static int check_items(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    if (call->items == NULL) return REFUSE("%s items is NULL", pgs_op_name(call->op));
    uint64_t payload = 2, state_bytes = 0;
    for (size_t i = 0; i < call->count; i++) {
        const pgstate_item *in = &call->items[i];
        if (in->kind != PGSTATE_ITEM_UPSERT && in->kind != PGSTATE_ITEM_DELETE) {
            return REFUSE("item %zu: kind %d is neither PGSTATE_ITEM_UPSERT nor PGSTATE_ITEM_DELETE", i, in->kind);
        }
        unsigned allowed = in->kind == PGSTATE_ITEM_UPSERT ? PGSTATE_ITEM_TTL : PGSTATE_ITEM_EXPECTED;
        if (in->flags & ~allowed) {
            return REFUSE("item %zu: flags 0x%x; %s", i, in->flags,
                          in->kind == PGSTATE_ITEM_UPSERT
                              ? "an upsert item takes only PGSTATE_ITEM_TTL (it always names its expected revision)"
                              : "a delete item takes only PGSTATE_ITEM_EXPECTED");
        }
        if (in->id == NULL && in->id_len > 0) return REFUSE("item %zu's id is NULL", i);
        if (in->kind == PGSTATE_ITEM_UPSERT && in->state == NULL && in->state_len > 0) {
            return REFUSE("item %zu: state is NULL but state_len is %zu", i, in->state_len);
        }
        pgs_item it;
        pgs_item_of(&it, in);
        pgs_id_problem idp;
        size_t at = 0;
        pgs_item_problem problem = pgs_item_check(&it, lim, &idp, &at);
        if (problem != PGS_ITEM_OK) return refuse_item(i, problem, idp, at, &it, lim, why, why_cap);
        if (it.has_ttl && !(lim->capabilities & PGS_CAP_TTL)) {
            return REFUSE("pgstated does not announce TTL; item %zu (with a TTL) cannot be sent", i);
        }
        if (it.kind == PGS_ITEM_DELETE && it.has_expected && !(lim->capabilities & PGS_CAP_CONDITIONAL_DELETE)) {
            return REFUSE("pgstated does not announce CONDITIONAL_DELETE; item %zu (a conditional delete) cannot be "
                          "sent", i);
        }
        payload += pgs_item_wire_size(&it);
        state_bytes += it.state_len;
    }
    if (state_bytes > lim->max_batch_bytes) {
        return REFUSE("the states of the %zu items are %llu bytes together; pgstated allows at most %u per request "
                      "(max_batch_bytes)", call->count, (unsigned long long)state_bytes, lim->max_batch_bytes);
    }
    if (call->op == PGS_OP_TRANSACT) {
        pgs_span *ids = malloc(call->count * sizeof *ids);
        if (ids == NULL) return (snprintf(why, why_cap, "out of memory checking a TRANSACT"), PGSTATE_ERR_NOMEM);
        for (size_t i = 0; i < call->count; i++) {
            ids[i].p = call->items[i].id;
            ids[i].len = call->items[i].id_len;
        }
        size_t first = 0, again = 0;
        int r = pgs_find_repeat(ids, call->count, &first, &again);
        free(ids);
        if (r < 0) return (snprintf(why, why_cap, "out of memory checking a TRANSACT"), PGSTATE_ERR_NOMEM);
        if (r > 0) return REFUSE("items %zu and %zu name the same id: a TRANSACT names each id once", first, again);
    }
    return check_frame(payload, call, lim, why, why_cap);
}

int pgs_multikey_check(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap) {
    const char *what = pgs_op_name(call->op);
    if (!(lim->capabilities & PGS_CAP_MULTI_KEY)) {
        return REFUSE("pgstated does not announce MULTI_KEY; %s cannot be sent", what);
    }
    int rc = pgs_call_check_namespace(call->ns, call->ns_len, lim, why, why_cap);
    if (rc != PGSTATE_OK) return rc;
    if (call->op == PGS_OP_LIST) return check_list(call, lim, why, why_cap);
    const char *unit = call->op == PGS_OP_BULK_LOAD ? "ids" : "items";
    if (call->count < 1) return REFUSE("%s needs at least one of its %s", what, unit);
    if (call->count > lim->max_batch_items) {
        return REFUSE("%s of %zu %s; pgstated allows at most %u per request (max_batch_items)", what, call->count,
                      unit, lim->max_batch_items);
    }
    return call->op == PGS_OP_BULK_LOAD ? check_ids(call, lim, why, why_cap) : check_items(call, lim, why, why_cap);
}

int pgs_multikey_encode(pgs_buf *b, uint32_t rid, const pgs_call *call) {
    switch (call->op) {
    case PGS_OP_BULK_LOAD:
        return pgs_encode_bulk_load(b, rid, call->ns, call->ns_len, call->ids, call->id_lens, call->count);
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT:
        return pgs_encode_item_request(b, call->op == PGS_OP_TRANSACT ? PGS_T_TRANSACT : PGS_T_BULK_WRITE, rid,
                                       call->ns, call->ns_len, call->items, call->count, public_item);
    case PGS_OP_LIST:
        if (call->limit > 0xFFFF) return PGS_ENC_RANGE;
        return pgs_encode_list(b, rid, call->ns, call->ns_len, call->prefix, call->prefix_len, call->after,
                               call->after_len, (uint16_t)call->limit);
    default: return PGS_ENC_RANGE;
    }
}
