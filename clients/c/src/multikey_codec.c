/*
 * multikey_codec.c - the multi-key messages: BULK_LOAD, BULK_WRITE, TRANSACT
 * and LIST decoded and checked against the argument rules, RECORDS, OUTCOMES,
 * TRANSACT_CONFLICT and LIST_OK decoded (checked whole, read by iterator), all
 * eight encoded.  No I/O; see multikey_codec.h.
 */
#include "multikey_codec.h"

#include "operator_codec.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Items and their rules                                                      */
/* ------------------------------------------------------------------------- */

/* The item flags byte follows from the item: nothing else is ever sent. */
static uint8_t item_flags(const pgs_item *it) {
    if (it->kind == PGS_ITEM_DELETE) return it->has_expected ? PGS_ITEM_FLAG_EXPECTED : 0;
    return it->has_ttl ? PGS_ITEM_FLAG_TTL : 0;
}

uint64_t pgs_item_wire_size(const pgs_item *it) {
    uint64_t n = 2 + 1 + (uint64_t)it->id_len;
    if (it->kind == PGS_ITEM_DELETE) return n + (it->has_expected ? 8 : 0);
    return n + 8 + (it->has_ttl ? 4 : 0) + 4 + (uint64_t)it->state_len;
}

uint8_t *pgs_put_item(uint8_t *p, const pgs_item *it) {
    *p++ = it->kind;
    *p++ = item_flags(it);
    *p++ = (uint8_t)it->id_len;
    p = pgs_put_bytes(p, it->id, it->id_len);
    if (it->kind == PGS_ITEM_DELETE) {
        if (it->has_expected) {
            pgs_put64(p, it->expected_revision);
            p += 8;
        }
        return p;
    }
    pgs_put64(p, it->expected_revision);
    p += 8;
    if (it->has_ttl) {
        pgs_put32(p, it->ttl_seconds);
        p += 4;
    }
    pgs_put32(p, (uint32_t)it->state_len);
    return pgs_put_bytes(p + 4, it->state, it->state_len);
}

pgs_item_problem pgs_item_check(const pgs_item *it, const pgs_limits *lim, pgs_id_problem *id, size_t *at) {
    *id = pgs_id_check((const uint8_t *)it->id, it->id_len, lim->max_id_bytes, at);
    if (*id != PGS_ID_OK) return PGS_ITEM_BAD_ID;
    if (it->kind == PGS_ITEM_DELETE) {
        return it->has_expected && it->expected_revision > PGS_MAX_REVISION ? PGS_ITEM_BAD_EXPECTED : PGS_ITEM_OK;
    }
    if (it->expected_revision > PGS_MAX_UPSERT_EXPECTED) return PGS_ITEM_BAD_EXPECTED;
    if (it->has_ttl && !pgs_ttl_valid(it->ttl_seconds)) return PGS_ITEM_BAD_TTL;
    if (it->state_len > lim->max_state_bytes) return PGS_ITEM_STATE_TOO_LARGE;
    return PGS_ITEM_OK;
}

/* An id and where it came from, sorted by bytes, then by position. */
typedef struct placed {
    const char *p;
    size_t len;
    size_t index;
} placed;

static int cmp_placed(const void *a, const void *b) {
    const placed *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->p, y->p, n) : 0;
    if (c != 0) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int pgs_find_repeat(const pgs_span *ids, size_t n, size_t *first, size_t *again) {
    if (n < 2) return 0;
    placed *s = malloc(n * sizeof *s);
    if (s == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        s[i].p = ids[i].p;
        s[i].len = ids[i].len;
        s[i].index = i;
    }
    qsort(s, n, sizeof *s, cmp_placed);
    int found = 0;
    for (size_t i = 1; i < n; i++) {
        /* equal ids are neighbours, in order of position: the earliest second occurrence of each is at the
           start of its run */
        if (s[i].len != s[i - 1].len || (s[i].len > 0 && memcmp(s[i].p, s[i - 1].p, s[i].len) != 0)) continue;
        if (i >= 2 && s[i - 2].len == s[i].len && (s[i].len == 0 || memcmp(s[i - 2].p, s[i].p, s[i].len) == 0)) {
            continue; /* not the run's second member */
        }
        if (!found || s[i].index < *again) {
            *first = s[i - 1].index;
            *again = s[i].index;
            found = 1;
        }
    }
    free(s);
    return found;
}

/* ------------------------------------------------------------------------- */
/* Reading fields (the decoders check, the iterators trust)                  */
/* ------------------------------------------------------------------------- */

/* One item at the cursor.  *flags is the item flags byte as sent; -1 when the kind is not defined or the item
   runs past the end. */
static int read_item(pgs_cursor *c, pgs_item *it, uint8_t *flags) {
    memset(it, 0, sizeof *it);
    it->kind = pgs_get8(c);
    *flags = pgs_get8(c);
    it->id = (const char *)pgs_get_sized(c, 1, &it->id_len);
    switch (it->kind) {
    case PGS_ITEM_UPSERT:
        it->has_expected = 1;
        it->expected_revision = pgs_get64(c);
        if (*flags & PGS_ITEM_FLAG_TTL) {
            it->has_ttl = 1;
            it->ttl_seconds = pgs_get32(c);
        }
        it->state = pgs_get_sized(c, 4, &it->state_len);
        break;
    case PGS_ITEM_DELETE:
        if (*flags & PGS_ITEM_FLAG_EXPECTED) {
            it->has_expected = 1;
            it->expected_revision = pgs_get64(c);
        }
        break;
    default:
        return -1;
    }
    if (it->state == NULL) it->state_len = 0;
    return c->bad ? -1 : 0;
}

/* One RECORDS entry; -1 for an undefined presence or a cut-off entry. */
static int read_record(pgs_cursor *c, pgs_record_entry *e) {
    memset(e, 0, sizeof *e);
    e->presence = pgs_get8(c);
    if (e->presence == PGS_PRESENCE_FOUND) {
        e->revision = pgs_get64(c);
        e->updated_at_us = pgs_to_i64(pgs_get64(c));
        e->state = pgs_get_sized(c, 4, &e->state_len);
        if (e->state == NULL) e->state_len = 0;
    } else if (e->presence != PGS_PRESENCE_ABSENT && e->presence != PGS_PRESENCE_OMITTED) {
        return -1;
    }
    return c->bad ? -1 : 0;
}

/* One OUTCOMES outcome; -1 for an undefined result or a cut-off outcome. */
static int read_outcome(pgs_cursor *c, pgs_outcome *o) {
    memset(o, 0, sizeof *o);
    o->result = pgs_get8(c);
    switch (o->result) {
    case PGS_RESULT_WRITTEN:
        o->revision = pgs_get64(c);
        o->updated_at_us = pgs_to_i64(pgs_get64(c));
        break;
    case PGS_RESULT_DELETED: break;
    case PGS_RESULT_CONFLICT:
        o->expected_revision = pgs_get64(c);
        o->actual_revision = pgs_get64(c);
        break;
    case PGS_RESULT_FAILED:
        o->status = pgs_get16(c);
        o->message = (const char *)pgs_get_sized(c, 2, &o->message_len);
        break;
    default: return -1;
    }
    return c->bad ? -1 : 0;
}

static int read_conflict(pgs_cursor *c, pgs_conflict_entry *e) {
    e->index = pgs_get16(c);
    e->expected_revision = pgs_get64(c);
    e->actual_revision = pgs_get64(c);
    return c->bad ? -1 : 0;
}

static int read_list_entry(pgs_cursor *c, pgs_list_entry *e) {
    e->id = (const char *)pgs_get_sized(c, 1, &e->id_len);
    e->revision = pgs_get64(c);
    e->updated_at_us = pgs_to_i64(pgs_get64(c));
    return c->bad ? -1 : 0;
}

static int utf8(const char *s, size_t n) {
    return pgs_utf8_valid((const uint8_t *)s, n);
}

/* ------------------------------------------------------------------------- */
/* Decoding requests                                                          */
/* ------------------------------------------------------------------------- */

int pgs_decode_multikey_request(pgs_cursor *c, pgs_msg *m, const pgs_limits *lim) {
    if (m->type == PGS_T_LIST) {
        m->prefix = (const char *)pgs_get_sized(c, 1, &m->prefix_len);
        if (m->flags & PGS_FLAG_AFTER) {
            m->has_after = 1;
            m->after = (const char *)pgs_get_sized(c, 1, &m->after_len);
        }
        m->limit = pgs_get16(c);
        return c->bad ? PGS_S_MALFORMED_FRAME : 0;
    }
    m->count = pgs_get16(c);
    if (c->bad) return PGS_S_MALFORMED_FRAME;
    m->items = c->p;
    for (unsigned i = 0; i < m->count; i++) {
        if (m->type == PGS_T_BULK_LOAD) {
            size_t n;
            pgs_get_sized(c, 1, &n);
            if (c->bad) return PGS_S_MALFORMED_FRAME;
            continue;
        }
        pgs_item it;
        uint8_t flags;
        if (read_item(c, &it, &flags) != 0) return PGS_S_MALFORMED_FRAME;
        /* like the flags of the single request the item mirrors: EXPECTED_REVISION with CONDITIONAL_DELETE, TTL
           with TTL; any other bit, or a bit on the wrong kind, is undefined */
        uint8_t allowed = 0;
        if (it.kind == PGS_ITEM_DELETE && (lim->capabilities & PGS_CAP_CONDITIONAL_DELETE)) {
            allowed = PGS_ITEM_FLAG_EXPECTED;
        }
        if (it.kind == PGS_ITEM_UPSERT && (lim->capabilities & PGS_CAP_TTL)) allowed = PGS_ITEM_FLAG_TTL;
        if (flags & (uint8_t)~allowed) return PGS_S_MALFORMED_FRAME;
    }
    m->items_len = (size_t)(c->p - m->items);
    return 0;
}

/* TRANSACT: whether two items name one id; 0, PGS_S_INVALID_ARGUMENT or PGS_S_INTERNAL_ERROR (no memory). */
static int check_repeats(const pgs_msg *m) {
    pgs_span *ids = malloc((m->count ? m->count : 1) * sizeof *ids);
    if (ids == NULL) return PGS_S_INTERNAL_ERROR;
    pgs_cursor it;
    pgs_item item;
    size_t n = 0, first, again;
    for (pgs_items_begin(&it, m); n < m->count && pgs_item_next(&it, &item); n++) {
        ids[n].p = item.id;
        ids[n].len = item.id_len;
    }
    int r = pgs_find_repeat(ids, n, &first, &again);
    free(ids);
    return r < 0 ? PGS_S_INTERNAL_ERROR : r > 0 ? PGS_S_INVALID_ARGUMENT : 0;
}

int pgs_check_multikey_request(const pgs_msg *m, const pgs_limits *lim) {
    pgs_cursor it;
    size_t at;
    if (m->type == PGS_T_LIST) {
        if (pgs_prefix_check((const uint8_t *)m->prefix, m->prefix_len, lim->max_id_bytes, &at) != PGS_ID_OK) {
            return PGS_S_INVALID_ARGUMENT;
        }
        if (m->has_after &&
            pgs_id_check((const uint8_t *)m->after, m->after_len, lim->max_id_bytes, &at) != PGS_ID_OK) {
            return PGS_S_INVALID_ARGUMENT;
        }
        return m->limit >= 1 && m->limit <= lim->max_batch_items ? 0 : PGS_S_INVALID_ARGUMENT;
    }
    if (m->count < 1 || m->count > lim->max_batch_items) return PGS_S_INVALID_ARGUMENT;
    pgs_items_begin(&it, m);
    if (m->type == PGS_T_BULK_LOAD) {
        const char *id;
        size_t id_len;
        while (pgs_ids_next(&it, &id, &id_len)) {
            if (pgs_id_check((const uint8_t *)id, id_len, lim->max_id_bytes, &at) != PGS_ID_OK) {
                return PGS_S_INVALID_ARGUMENT;
            }
        }
        return 0;
    }
    uint64_t state_bytes = 0;
    pgs_item item;
    while (pgs_item_next(&it, &item)) {
        pgs_id_problem idp;
        /* in a BULK_WRITE an item's own rules are that item's outcome (FAILED 102), not the request's */
        if (m->type == PGS_T_TRANSACT && pgs_item_check(&item, lim, &idp, &at) != PGS_ITEM_OK) {
            return PGS_S_INVALID_ARGUMENT;
        }
        state_bytes += item.state_len;
    }
    if (state_bytes > lim->max_batch_bytes) return PGS_S_INVALID_ARGUMENT;
    return m->type == PGS_T_TRANSACT ? check_repeats(m) : 0;
}

/* ------------------------------------------------------------------------- */
/* Decoding responses                                                         */
/* ------------------------------------------------------------------------- */

int pgs_decode_multikey_response(pgs_cursor *c, pgs_msg *m) {
    if (m->type == PGS_T_LIST_OK) {
        m->more = pgs_get8(c);
        if (c->bad || m->more > 1) return PGS_S_MALFORMED_FRAME;
    }
    m->count = pgs_get16(c);
    if (c->bad) return PGS_S_MALFORMED_FRAME;
    m->items = c->p;
    for (unsigned i = 0; i < m->count; i++) {
        int bad;
        switch (m->type) {
        case PGS_T_RECORDS: {
            pgs_record_entry e;
            bad = read_record(c, &e);
            break;
        }
        case PGS_T_OUTCOMES: {
            pgs_outcome o;
            bad = read_outcome(c, &o) != 0 || (o.result == PGS_RESULT_FAILED && !utf8(o.message, o.message_len));
            break;
        }
        case PGS_T_TRANSACT_CONFLICT: {
            pgs_conflict_entry e;
            bad = read_conflict(c, &e);
            break;
        }
        case PGS_T_LIST_OK: {
            pgs_list_entry e;
            bad = read_list_entry(c, &e) != 0 || !utf8(e.id, e.id_len);
            break;
        }
        default: return PGS_S_UNKNOWN_MESSAGE_TYPE;
        }
        if (bad) return PGS_S_MALFORMED_FRAME;
    }
    m->items_len = (size_t)(c->p - m->items);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Iterators                                                                  */
/* ------------------------------------------------------------------------- */

int pgs_ids_next(pgs_cursor *it, const char **id, size_t *id_len) {
    if (it->left == 0) return 0;
    *id = (const char *)pgs_get_sized(it, 1, id_len);
    return !it->bad;
}

int pgs_item_next(pgs_cursor *it, pgs_item *item) {
    uint8_t flags;
    return it->left != 0 && read_item(it, item, &flags) == 0;
}

int pgs_record_next(pgs_cursor *it, pgs_record_entry *e) {
    return it->left != 0 && read_record(it, e) == 0;
}

int pgs_outcome_next(pgs_cursor *it, pgs_outcome *o) {
    return it->left != 0 && read_outcome(it, o) == 0;
}

int pgs_conflict_next(pgs_cursor *it, pgs_conflict_entry *e) {
    return it->left != 0 && read_conflict(it, e) == 0;
}

int pgs_list_next(pgs_cursor *it, pgs_list_entry *e) {
    return it->left != 0 && read_list_entry(it, e) == 0;
}

/* ------------------------------------------------------------------------- */
/* Encoding                                                                   */
/* ------------------------------------------------------------------------- */

/* Reserves a request frame whose payload is [namespace] then `rest` bytes; returns where those go. */
static uint8_t *ns_begin(pgs_buf *b, uint8_t type, uint8_t flags, uint32_t rid, const char *ns, size_t ns_len,
                         uint64_t rest, int *rc) {
    if (ns != NULL && ns_len > 255) {
        *rc = PGS_ENC_RANGE;
        return NULL;
    }
    if (ns != NULL) flags |= PGS_FLAG_NAMESPACE;
    uint8_t *p = pgs_frame_begin(b, type, flags, rid, (ns != NULL ? 1 + (uint64_t)ns_len : 0) + rest, rc);
    if (p == NULL || ns == NULL) return p;
    *p++ = (uint8_t)ns_len;
    return pgs_put_bytes(p, ns, ns_len);
}

int pgs_encode_bulk_load(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *const *ids,
                         const size_t *id_lens, size_t count) {
    int rc;
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t rest = 2;
    for (size_t i = 0; i < count; i++) {
        size_t n = id_lens != NULL ? id_lens[i] : strlen(ids[i]);
        if (n > 255) return PGS_ENC_RANGE;
        rest += 1 + (uint64_t)n;
    }
    uint8_t *p = ns_begin(b, PGS_T_BULK_LOAD, 0, rid, ns, ns_len, rest, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        size_t n = id_lens != NULL ? id_lens[i] : strlen(ids[i]);
        *p++ = (uint8_t)n;
        p = pgs_put_bytes(p, ids[i], n);
    }
    return PGS_ENC_OK;
}

void pgs_item_at(const void *items, size_t i, pgs_item *out) {
    *out = ((const pgs_item *)items)[i];
}

int pgs_encode_item_request(pgs_buf *b, uint8_t type, uint32_t rid, const char *ns, size_t ns_len,
                            const void *items, size_t count, pgs_item_source get) {
    int rc;
    pgs_item it;
    if (count > 0xFFFF || (type != PGS_T_BULK_WRITE && type != PGS_T_TRANSACT)) return PGS_ENC_RANGE;
    uint64_t rest = 2;
    for (size_t i = 0; i < count; i++) {
        get(items, i, &it);
        if (it.id_len > 255 || (uint64_t)it.state_len > UINT32_MAX) return PGS_ENC_RANGE;
        rest += pgs_item_wire_size(&it);
    }
    uint8_t *p = ns_begin(b, type, 0, rid, ns, ns_len, rest, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        get(items, i, &it);
        p = pgs_put_item(p, &it);
    }
    return PGS_ENC_OK;
}

int pgs_encode_list(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *prefix, size_t prefix_len,
                    const char *after, size_t after_len, uint16_t limit) {
    int rc;
    if (prefix_len > 255 || (after != NULL && after_len > 255)) return PGS_ENC_RANGE;
    uint64_t rest = 1 + (uint64_t)prefix_len + (after != NULL ? 1 + (uint64_t)after_len : 0) + 2;
    uint8_t *p = ns_begin(b, PGS_T_LIST, after != NULL ? PGS_FLAG_AFTER : 0, rid, ns, ns_len, rest, &rc);
    if (p == NULL) return rc;
    *p++ = (uint8_t)prefix_len;
    p = pgs_put_bytes(p, prefix, prefix_len);
    if (after != NULL) {
        *p++ = (uint8_t)after_len;
        p = pgs_put_bytes(p, after, after_len);
    }
    pgs_put16(p, limit);
    return PGS_ENC_OK;
}

int pgs_encode_records(pgs_buf *b, uint32_t rid, const pgs_record_entry *entries, size_t count) {
    int rc;
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t len = 2;
    for (size_t i = 0; i < count; i++) {
        if ((uint64_t)entries[i].state_len > UINT32_MAX) return PGS_ENC_RANGE;
        len += 1 + (entries[i].presence == PGS_PRESENCE_FOUND ? 8 + 8 + 4 + (uint64_t)entries[i].state_len : 0);
    }
    uint8_t *p = pgs_frame_begin(b, PGS_T_RECORDS, 0, rid, len, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        const pgs_record_entry *e = &entries[i];
        *p++ = e->presence;
        if (e->presence != PGS_PRESENCE_FOUND) continue;
        pgs_put64(p, e->revision);
        pgs_put64(p + 8, (uint64_t)e->updated_at_us);
        pgs_put32(p + 16, (uint32_t)e->state_len);
        p = pgs_put_bytes(p + 20, e->state, e->state_len);
    }
    return PGS_ENC_OK;
}

/* The wire bytes of one outcome after its result byte. */
static uint64_t outcome_size(const pgs_outcome *o) {
    switch (o->result) {
    case PGS_RESULT_WRITTEN:
    case PGS_RESULT_CONFLICT: return 16;
    case PGS_RESULT_FAILED: return 2 + 2 + (uint64_t)o->message_len;
    default: return 0;
    }
}

int pgs_encode_outcomes(pgs_buf *b, uint32_t rid, const pgs_outcome *outcomes, size_t count) {
    int rc;
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t len = 2;
    for (size_t i = 0; i < count; i++) {
        if (outcomes[i].message_len > 0xFFFF) return PGS_ENC_RANGE;
        len += 1 + outcome_size(&outcomes[i]);
    }
    uint8_t *p = pgs_frame_begin(b, PGS_T_OUTCOMES, 0, rid, len, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        const pgs_outcome *o = &outcomes[i];
        *p++ = o->result;
        switch (o->result) {
        case PGS_RESULT_WRITTEN:
            pgs_put64(p, o->revision);
            pgs_put64(p + 8, (uint64_t)o->updated_at_us);
            p += 16;
            break;
        case PGS_RESULT_CONFLICT:
            pgs_put64(p, o->expected_revision);
            pgs_put64(p + 8, o->actual_revision);
            p += 16;
            break;
        case PGS_RESULT_FAILED:
            pgs_put16(p, o->status);
            pgs_put16(p + 2, (uint16_t)o->message_len);
            p = pgs_put_bytes(p + 4, o->message, o->message_len);
            break;
        default: break; /* DELETED, or an undefined result for a test: the byte alone */
        }
    }
    return PGS_ENC_OK;
}

int pgs_encode_transact_conflict(pgs_buf *b, uint32_t rid, const pgs_conflict_entry *entries, size_t count) {
    int rc;
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint8_t *p = pgs_frame_begin(b, PGS_T_TRANSACT_CONFLICT, 0, rid, 2 + 18 * (uint64_t)count, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++, p += 18) {
        pgs_put16(p, entries[i].index);
        pgs_put64(p + 2, entries[i].expected_revision);
        pgs_put64(p + 10, entries[i].actual_revision);
    }
    return PGS_ENC_OK;
}

int pgs_encode_list_ok(pgs_buf *b, uint32_t rid, uint8_t more, const pgs_list_entry *entries, size_t count) {
    int rc;
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t len = 1 + 2;
    for (size_t i = 0; i < count; i++) {
        if (entries[i].id_len > 255) return PGS_ENC_RANGE;
        len += 1 + (uint64_t)entries[i].id_len + 16;
    }
    uint8_t *p = pgs_frame_begin(b, PGS_T_LIST_OK, 0, rid, len, &rc);
    if (p == NULL) return rc;
    *p++ = more;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        *p++ = (uint8_t)entries[i].id_len;
        p = pgs_put_bytes(p, entries[i].id, entries[i].id_len);
        pgs_put64(p, entries[i].revision);
        pgs_put64(p + 8, (uint64_t)entries[i].updated_at_us);
        p += 16;
    }
    return PGS_ENC_OK;
}

int pgs_encode_multikey_msg(pgs_buf *b, const pgs_msg *m) {
    const char *ns = m->has_ns ? (m->ns != NULL ? m->ns : "") : NULL;
    size_t n = m->items != NULL ? m->items_len : 0;
    uint8_t *p;
    int rc;
    switch (m->type) {
    case PGS_T_LIST:
        return pgs_encode_list(b, m->request_id, ns, m->ns_len, m->prefix, m->prefix_len,
                               m->has_after ? (m->after != NULL ? m->after : "") : NULL, m->after_len, m->limit);
    case PGS_T_BULK_LOAD:
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT:
        p = ns_begin(b, m->type, 0, m->request_id, ns, m->ns_len, 2 + (uint64_t)n, &rc);
        break;
    case PGS_T_RECORDS:
    case PGS_T_OUTCOMES:
    case PGS_T_TRANSACT_CONFLICT:
    case PGS_T_LIST_OK:
        p = pgs_frame_begin(b, m->type, 0, m->request_id, (m->type == PGS_T_LIST_OK ? 3 : 2) + (uint64_t)n, &rc);
        if (p != NULL && m->type == PGS_T_LIST_OK) *p++ = m->more;
        break;
    default: return PGS_ENC_RANGE;
    }
    if (p == NULL) return rc;
    pgs_put16(p, m->count);
    pgs_put_bytes(p + 2, m->items, n);
    return PGS_ENC_OK;
}
