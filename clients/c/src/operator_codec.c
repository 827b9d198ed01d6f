/*
 * operator_codec.c - the operators' messages: HEALTH_OK, STATS_OK and
 * CLIENTS_OK decoded (checked whole, read by iterator), the five requests and
 * the three answers encoded.  No I/O; see operator_codec.h.
 */
#include "operator_codec.h"

#include <string.h>

_Static_assert(sizeof(double) == sizeof(uint64_t), "STATS_OK values are IEEE 754 binary64");

/* ------------------------------------------------------------------------- */
/* Fields                                                                     */
/* ------------------------------------------------------------------------- */

static double f64_of(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t bits_of(double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static int metric_first(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

int pgs_metric_name_valid(const uint8_t *s, size_t n) {
    if (n < 1 || !metric_first(s[0])) return 0;
    for (size_t i = 1; i < n; i++) {
        if (!metric_first(s[i]) && !(s[i] >= '0' && s[i] <= '9')) return 0;
    }
    return 1;
}

/* One entry / row at the cursor, unchecked beyond its length: -1 when it runs past the end. */
static int read_entry(pgs_cursor *c, pgs_stat_entry *e) {
    e->name = (const char *)pgs_get_sized(c, 1, &e->name_len);
    e->labels = (const char *)pgs_get_sized(c, 1, &e->labels_len);
    e->value = f64_of(pgs_get64(c));
    return c->bad ? -1 : 0;
}

static int read_row(pgs_cursor *c, pgs_client_row *r) {
    r->connection_id = pgs_get64(c);
    r->uid = pgs_get32(c);
    r->pid = pgs_get32(c);
    r->user = (const char *)pgs_get_sized(c, 1, &r->user_len);
    r->ns = (const char *)pgs_get_sized(c, 1, &r->ns_len);
    r->client_name = (const char *)pgs_get_sized(c, 1, &r->client_name_len);
    r->state = pgs_get8(c);
    r->connected_ms = pgs_get64(c);
    r->requests = pgs_get64(c);
    r->in_flight = pgs_get32(c);
    return c->bad ? -1 : 0;
}

static int utf8(const char *s, size_t n) {
    return pgs_utf8_valid((const uint8_t *)s, n);
}

/* ------------------------------------------------------------------------- */
/* Decoding                                                                   */
/* ------------------------------------------------------------------------- */

int pgs_decode_operator_response(pgs_cursor *c, pgs_msg *m) {
    switch (m->type) {
    case PGS_T_HEALTH_OK:
        /* exactly 17 bytes: a longer payload is not a newer HEALTH_OK, it is malformed (6.16) */
        if (c->left != PGS_HEALTH_OK_BYTES) return PGS_S_MALFORMED_FRAME;
        m->health_state = pgs_get8(c);
        m->pool_up = pgs_get16(c);
        m->pool_size = pgs_get16(c);
        m->clients = pgs_get32(c);
        m->uptime_ms = pgs_get64(c);
        return 0;
    case PGS_T_STATS_OK: {
        m->count = pgs_get16(c);
        if (c->bad) return PGS_S_MALFORMED_FRAME;
        m->items = c->p;
        for (unsigned i = 0; i < m->count; i++) {
            pgs_stat_entry e;
            if (read_entry(c, &e) != 0) return PGS_S_MALFORMED_FRAME;
            if (!pgs_metric_name_valid((const uint8_t *)e.name, e.name_len)) return PGS_S_MALFORMED_FRAME;
            if (!utf8(e.labels, e.labels_len)) return PGS_S_MALFORMED_FRAME;
        }
        m->items_len = (size_t)(c->p - m->items);
        return 0;
    }
    case PGS_T_CLIENTS_OK: {
        m->more = pgs_get8(c);
        m->count = pgs_get16(c);
        if (c->bad || m->more > 1) return PGS_S_MALFORMED_FRAME;
        m->items = c->p;
        for (unsigned i = 0; i < m->count; i++) {
            pgs_client_row r;
            if (read_row(c, &r) != 0) return PGS_S_MALFORMED_FRAME;
            if (!utf8(r.user, r.user_len) || !utf8(r.ns, r.ns_len) || !utf8(r.client_name, r.client_name_len)) {
                return PGS_S_MALFORMED_FRAME;
            }
            /* a row's state outside 0..2 is shown as unknown, not refused (6.20) */
        }
        m->items_len = (size_t)(c->p - m->items);
        return 0;
    }
    default:
        return PGS_S_UNKNOWN_MESSAGE_TYPE;
    }
}

void pgs_items_begin(pgs_cursor *it, const pgs_msg *m) {
    it->p = m->items;
    it->left = m->items != NULL ? m->items_len : 0;
    it->bad = 0;
}

int pgs_stats_next(pgs_cursor *it, pgs_stat_entry *e) {
    if (it->left == 0) return 0; /* every entry takes at least 10 bytes */
    return read_entry(it, e) == 0;
}

int pgs_clients_next(pgs_cursor *it, pgs_client_row *r) {
    if (it->left == 0) return 0; /* every row takes at least 40 bytes */
    return read_row(it, r) == 0;
}

/* ------------------------------------------------------------------------- */
/* Encoding                                                                   */
/* ------------------------------------------------------------------------- */

static int encode_fixed(pgs_buf *b, uint8_t type, uint32_t rid, int bytes, uint64_t value) {
    int rc;
    uint8_t *p = pgs_frame_begin(b, type, 0, rid, (uint64_t)bytes, &rc);
    if (p == NULL) return rc;
    if (bytes == 8) pgs_put64(p, value);
    else if (bytes == 4) pgs_put32(p, (uint32_t)value);
    return PGS_ENC_OK;
}

int pgs_encode_health(pgs_buf *b, uint32_t rid) {
    return encode_fixed(b, PGS_T_HEALTH, rid, 0, 0);
}

int pgs_encode_stats(pgs_buf *b, uint32_t rid) {
    return encode_fixed(b, PGS_T_STATS, rid, 0, 0);
}

int pgs_encode_clients(pgs_buf *b, uint32_t rid, uint64_t after_connection) {
    return encode_fixed(b, PGS_T_CLIENTS, rid, 8, after_connection);
}

int pgs_encode_pause(pgs_buf *b, uint32_t rid, uint32_t timeout_ms) {
    return encode_fixed(b, PGS_T_PAUSE, rid, 4, timeout_ms);
}

int pgs_encode_resume(pgs_buf *b, uint32_t rid) {
    return encode_fixed(b, PGS_T_RESUME, rid, 0, 0);
}

int pgs_encode_health_ok(pgs_buf *b, uint32_t rid, const pgs_msg *m) {
    int rc;
    uint8_t *p = pgs_frame_begin(b, PGS_T_HEALTH_OK, 0, rid, PGS_HEALTH_OK_BYTES, &rc);
    if (p == NULL) return rc;
    p[0] = m->health_state;
    pgs_put16(p + 1, m->pool_up);
    pgs_put16(p + 3, m->pool_size);
    pgs_put32(p + 5, m->clients);
    pgs_put64(p + 9, m->uptime_ms);
    return PGS_ENC_OK;
}

static uint8_t *put_str8(uint8_t *p, const char *s, size_t n) {
    *p++ = (uint8_t)n;
    return pgs_put_bytes(p, s, n);
}

int pgs_encode_stats_ok(pgs_buf *b, uint32_t rid, const pgs_stat_entry *entries, size_t count) {
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t payload = 2;
    for (size_t i = 0; i < count; i++) {
        if (entries[i].name_len > 255 || entries[i].labels_len > 255) return PGS_ENC_RANGE;
        payload += 1 + (uint64_t)entries[i].name_len + 1 + entries[i].labels_len + 8;
    }
    int rc;
    uint8_t *p = pgs_frame_begin(b, PGS_T_STATS_OK, 0, rid, payload, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        p = put_str8(p, entries[i].name, entries[i].name_len);
        p = put_str8(p, entries[i].labels, entries[i].labels_len);
        pgs_put64(p, bits_of(entries[i].value));
        p += 8;
    }
    return PGS_ENC_OK;
}

int pgs_encode_clients_ok(pgs_buf *b, uint32_t rid, uint8_t more, const pgs_client_row *rows, size_t count) {
    if (count > 0xFFFF) return PGS_ENC_RANGE;
    uint64_t payload = 1 + 2;
    for (size_t i = 0; i < count; i++) {
        const pgs_client_row *r = &rows[i];
        if (r->user_len > 255 || r->ns_len > 255 || r->client_name_len > 255) return PGS_ENC_RANGE;
        payload += 8 + 4 + 4 + 3 + (uint64_t)r->user_len + r->ns_len + r->client_name_len + 1 + 8 + 8 + 4;
    }
    int rc;
    uint8_t *p = pgs_frame_begin(b, PGS_T_CLIENTS_OK, 0, rid, payload, &rc);
    if (p == NULL) return rc;
    *p++ = more;
    pgs_put16(p, (uint16_t)count);
    p += 2;
    for (size_t i = 0; i < count; i++) {
        const pgs_client_row *r = &rows[i];
        pgs_put64(p, r->connection_id);
        pgs_put32(p + 8, r->uid);
        pgs_put32(p + 12, r->pid);
        p = put_str8(p + 16, r->user, r->user_len);
        p = put_str8(p, r->ns, r->ns_len);
        p = put_str8(p, r->client_name, r->client_name_len);
        *p++ = r->state;
        pgs_put64(p, r->connected_ms);
        pgs_put64(p + 8, r->requests);
        pgs_put32(p + 16, r->in_flight);
        p += 20;
    }
    return PGS_ENC_OK;
}

int pgs_encode_items(pgs_buf *b, const pgs_msg *m) {
    if (m->type != PGS_T_STATS_OK && m->type != PGS_T_CLIENTS_OK) return PGS_ENC_RANGE;
    size_t head = m->type == PGS_T_CLIENTS_OK ? 3 : 2;
    size_t n = m->items != NULL ? m->items_len : 0;
    int rc;
    uint8_t *p = pgs_frame_begin(b, m->type, 0, m->request_id, head + (uint64_t)n, &rc);
    if (p == NULL) return rc;
    if (m->type == PGS_T_CLIENTS_OK) *p++ = m->more;
    pgs_put16(p, m->count);
    pgs_put_bytes(p + 2, m->items, n);
    return PGS_ENC_OK;
}
