/*
 * codec.c - pgstate wire protocol v1: statuses, limits, argument rules, decoders
 * and encoders.  No I/O; see codec.h.  The frame reader is in reader.c.
 */
#include "codec.h"
#include "multikey_codec.h"
#include "operator_codec.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Statuses and limits                                                        */
/* ------------------------------------------------------------------------- */

const char *pgs_status_wire_name(unsigned status) {
    switch (status) {
    case PGS_S_MALFORMED_FRAME: return "MALFORMED_FRAME";
    case PGS_S_UNKNOWN_MESSAGE_TYPE: return "UNKNOWN_MESSAGE_TYPE";
    case PGS_S_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case PGS_S_FRAME_TOO_LARGE: return "FRAME_TOO_LARGE";
    case PGS_S_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
    case PGS_S_NOT_ALLOWED: return "NOT_ALLOWED";
    case PGS_S_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case PGS_S_UNAVAILABLE: return "UNAVAILABLE";
    case PGS_S_OVERLOADED: return "OVERLOADED";
    case PGS_S_SHUTTING_DOWN: return "SHUTTING_DOWN";
    case PGS_S_OUTCOME_UNKNOWN: return "OUTCOME_UNKNOWN";
    case PGS_S_INTERNAL_ERROR: return "INTERNAL_ERROR";
    default: return NULL;
    }
}

void pgs_limits_default(pgs_limits *l) {
    l->max_frame_bytes = PGS_DEFAULT_MAX_FRAME_BYTES;
    l->max_id_bytes = PGS_DEFAULT_MAX_ID_BYTES;
    l->max_state_bytes = PGS_DEFAULT_MAX_STATE_BYTES;
    l->max_in_flight = PGS_DEFAULT_MAX_IN_FLIGHT;
    l->capabilities =
        PGS_CAP_CONDITIONAL_DELETE | PGS_CAP_IDENTITY | PGS_CAP_OPERATOR | PGS_CAP_MULTI_KEY | PGS_CAP_TTL;
    l->max_batch_items = PGS_DEFAULT_MAX_BATCH_ITEMS;
    l->max_batch_bytes = PGS_DEFAULT_MAX_BATCH_BYTES;
}

/* ------------------------------------------------------------------------- */
/* UTF-8, the persistence id rule and the namespace rule                     */
/* ------------------------------------------------------------------------- */

int pgs_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2; lo = 0xA0;          /* no overlong 3-byte forms */
        } else if (c == 0xED) {
            need = 2; hi = 0x9F;          /* no surrogates U+D800..U+DFFF */
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            need = 2;
        } else if (c == 0xF0) {
            need = 3; lo = 0x90;          /* no overlong 4-byte forms */
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3; hi = 0x8F;          /* <= U+10FFFF */
        } else {
            return 0;                     /* 0x80..0xC1 and 0xF5..0xFF never start a character */
        }
        if (n - i - 1 < need) return 0;   /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        }
        i += need + 1;
    }
    return 1;
}

pgs_id_problem pgs_id_check(const uint8_t *id, size_t n, uint32_t max_id_bytes, size_t *at) {
    if (n < 1) return PGS_ID_EMPTY;
    if (n > max_id_bytes || n > 255) return PGS_ID_TOO_LONG;
    /* Control characters U+0000-U+001F and U+007F are single ASCII bytes, and no
       byte of a multi-byte sequence is below 0x80, so a byte scan suffices. */
    for (size_t i = 0; i < n; i++) {
        if (id[i] < 0x20 || id[i] == 0x7F) {
            if (at != NULL) *at = i;
            return PGS_ID_CONTROL;
        }
    }
    return pgs_utf8_valid(id, n) ? PGS_ID_OK : PGS_ID_NOT_UTF8;
}

pgs_id_problem pgs_prefix_check(const uint8_t *prefix, size_t n, uint32_t max_id_bytes, size_t *at) {
    return n == 0 ? PGS_ID_OK : pgs_id_check(prefix, n, max_id_bytes, at);
}

int pgs_ttl_valid(uint64_t ttl_seconds) {
    return ttl_seconds >= 1 && ttl_seconds <= PGS_MAX_TTL_SECONDS;
}

static int ns_byte(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

pgs_ns_problem pgs_ns_check(const uint8_t *ns, size_t n, size_t *at) {
    if (n > PGS_MAX_NAMESPACE_BYTES) return PGS_NS_TOO_LONG;
    for (size_t i = 0; i < n; i++) {
        if (!ns_byte(ns[i])) {
            if (at != NULL) *at = i;
            return PGS_NS_BAD_BYTE;
        }
    }
    return PGS_NS_OK;
}

/* ------------------------------------------------------------------------- */
/* Decoders                                                                   */
/* ------------------------------------------------------------------------- */

static void header(const uint8_t *body, pgs_msg *m) {
    memset(m, 0, sizeof *m);
    m->type = body[0];
    m->flags = body[1];
    m->request_id = pgs_be32(body + 2);
}

int pgs_decode_request(const uint8_t *body, size_t len, const pgs_limits *lim, pgs_msg *m,
                       uint32_t *err_rid) {
    *err_rid = 0;
    if (len < PGS_HEADER_BYTES) return PGS_S_MALFORMED_FRAME;
    header(body, m);
    uint32_t rid = m->request_id;
    if (rid == 0) return PGS_S_MALFORMED_FRAME; /* check 3: id 0 is echoed as 0 */
    *err_rid = rid;
    int multi = m->type >= PGS_T_BULK_LOAD && m->type <= PGS_T_LIST;
    /* without MULTI_KEY the multi-key types are not request types of this server (6.22) */
    if (m->type < PGS_T_HELLO || m->type > PGS_T_LIST || (multi && !(lim->capabilities & PGS_CAP_MULTI_KEY))) {
        return PGS_S_UNKNOWN_MESSAGE_TYPE;
    }
    int keyed = m->type == PGS_T_LOAD || m->type == PGS_T_UPSERT || m->type == PGS_T_DELETE;
    uint8_t allowed = 0;
    if (m->type == PGS_T_DELETE && (lim->capabilities & PGS_CAP_CONDITIONAL_DELETE)) {
        allowed |= PGS_FLAG_EXPECTED_REVISION;
    }
    if (m->type == PGS_T_UPSERT && (lim->capabilities & PGS_CAP_TTL)) allowed |= PGS_FLAG_TTL;
    if (m->type == PGS_T_LIST) allowed |= PGS_FLAG_AFTER;
    if ((keyed || multi) && (lim->capabilities & PGS_CAP_IDENTITY)) allowed |= PGS_FLAG_NAMESPACE;
    if (m->flags & (uint8_t)~allowed) return PGS_S_MALFORMED_FRAME;

    pgs_cursor c = {body + PGS_HEADER_BYTES, len - PGS_HEADER_BYTES, 0};
    const uint8_t *idp = NULL, *nsp = NULL;
    if ((keyed || multi) && (m->flags & PGS_FLAG_NAMESPACE)) { /* the namespace comes before everything else */
        m->has_ns = 1;
        nsp = pgs_get_sized(&c, 1, &m->ns_len);
    }
    switch (m->type) {
    case PGS_T_HELLO: {
        m->versions_count = pgs_get8(&c);
        if (c.bad || m->versions_count == 0) return PGS_S_MALFORMED_FRAME;
        for (unsigned i = 0; i < m->versions_count; i++) m->versions[i] = pgs_get16(&c);
        const uint8_t *name = pgs_get_sized(&c, 1, &m->text_len);
        if (c.bad) return PGS_S_MALFORMED_FRAME;
        if (!pgs_utf8_valid(name, m->text_len)) return PGS_S_MALFORMED_FRAME;
        m->text = (const char *)name;
        break;
    }
    case PGS_T_PING:
    case PGS_T_WHOAMI:
    case PGS_T_HEALTH:
    case PGS_T_STATS:
    case PGS_T_RESUME:
        break;
    case PGS_T_CLIENTS: /* any after_connection is allowed (6.19) */
        m->after_connection = pgs_get64(&c);
        break;
    case PGS_T_PAUSE: /* any timeout_ms (0: no limit) */
        m->timeout_ms = pgs_get32(&c);
        break;
    case PGS_T_LOAD:
        idp = pgs_get_sized(&c, 1, &m->id_len);
        break;
    case PGS_T_UPSERT:
        idp = pgs_get_sized(&c, 1, &m->id_len);
        m->has_expected = 1;
        m->expected_revision = pgs_get64(&c);
        if (m->flags & PGS_FLAG_TTL) {
            m->has_ttl = 1;
            m->ttl_seconds = pgs_get32(&c);
        }
        m->state = pgs_get_sized(&c, 4, &m->state_len);
        break;
    case PGS_T_DELETE:
        idp = pgs_get_sized(&c, 1, &m->id_len);
        if (m->flags & PGS_FLAG_EXPECTED_REVISION) {
            m->has_expected = 1;
            m->expected_revision = pgs_get64(&c);
        }
        break;
    case PGS_T_BULK_LOAD:
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT:
    case PGS_T_LIST:
        if (c.bad || pgs_decode_multikey_request(&c, m, lim) != 0) return PGS_S_MALFORMED_FRAME;
        break;
    default:
        return PGS_S_UNKNOWN_MESSAGE_TYPE;
    }
    if (c.bad || c.left != 0) return PGS_S_MALFORMED_FRAME; /* truncated / trailing bytes */
    if (m->state == NULL) m->state_len = 0;

    /* ---- argument rules (section 8) ---- */
    if (m->has_ns) {
        m->ns = (const char *)nsp;
        if (pgs_ns_check(nsp, m->ns_len, NULL) != PGS_NS_OK) return PGS_S_INVALID_ARGUMENT;
    }
    if (keyed) {
        m->id = (const char *)idp;
        if (pgs_id_check(idp, m->id_len, lim->max_id_bytes, NULL) != PGS_ID_OK) return PGS_S_INVALID_ARGUMENT;
    }
    if (m->type == PGS_T_UPSERT) {
        if (m->expected_revision > PGS_MAX_UPSERT_EXPECTED) return PGS_S_INVALID_ARGUMENT;
        if (m->has_ttl && !pgs_ttl_valid(m->ttl_seconds)) return PGS_S_INVALID_ARGUMENT;
        if (m->state_len > lim->max_state_bytes) return PGS_S_INVALID_ARGUMENT;
    }
    if (multi) return pgs_check_multikey_request(m, lim);
    if (m->type == PGS_T_DELETE && m->has_expected && m->expected_revision > PGS_MAX_REVISION) {
        return PGS_S_INVALID_ARGUMENT;
    }
    return 0;
}

int pgs_decode_response(const uint8_t *body, size_t len, pgs_msg *m, uint32_t *err_rid) {
    *err_rid = 0;
    if (len < PGS_HEADER_BYTES) return PGS_S_MALFORMED_FRAME;
    header(body, m);
    uint32_t rid = m->request_id;
    *err_rid = rid;
    if (m->type < PGS_T_HELLO_OK || m->type > PGS_T_LIST_OK) return PGS_S_UNKNOWN_MESSAGE_TYPE;
    if (rid == 0 && m->type != PGS_T_ERROR) {
        *err_rid = 0;
        return PGS_S_MALFORMED_FRAME;
    }
    if (m->flags != 0) return PGS_S_MALFORMED_FRAME;

    pgs_cursor c = {body + PGS_HEADER_BYTES, len - PGS_HEADER_BYTES, 0};
    switch (m->type) {
    case PGS_T_HELLO_OK: {
        m->version = pgs_get16(&c);
        const uint8_t *sv = pgs_get_sized(&c, 1, &m->text_len);
        m->max_frame_bytes = pgs_get32(&c);
        m->max_id_bytes = pgs_get16(&c);
        m->max_state_bytes = pgs_get32(&c);
        m->max_in_flight = pgs_get32(&c);
        m->capabilities = pgs_get32(&c);
        if (m->capabilities & PGS_CAP_MULTI_KEY) { /* present iff announced: else trailing bytes (6.2) */
            m->max_batch_items = pgs_get32(&c);
            m->max_batch_bytes = pgs_get32(&c);
        }
        if (c.bad || c.left != 0) return PGS_S_MALFORMED_FRAME;
        if (!pgs_utf8_valid(sv, m->text_len)) return PGS_S_MALFORMED_FRAME;
        m->text = (const char *)sv;
        break;
    }
    case PGS_T_OK:
    case PGS_T_NOT_FOUND:
        break;
    case PGS_T_RECORD:
        m->revision = pgs_get64(&c);
        m->updated_at_us = pgs_to_i64(pgs_get64(&c));
        m->state = pgs_get_sized(&c, 4, &m->state_len);
        break;
    case PGS_T_CONFLICT:
        m->has_expected = 1;
        m->expected_revision = pgs_get64(&c);
        m->actual_revision = pgs_get64(&c);
        break;
    case PGS_T_ERROR: {
        m->status = pgs_get16(&c);
        const uint8_t *msg = pgs_get_sized(&c, 2, &m->text_len);
        if (c.bad || c.left != 0) return PGS_S_MALFORMED_FRAME;
        if (!pgs_utf8_valid(msg, m->text_len)) return PGS_S_MALFORMED_FRAME;
        m->text = (const char *)msg;
        break;
    }
    case PGS_T_WHOAMI_OK: {
        m->uid = pgs_get32(&c);
        m->gid = pgs_get32(&c);
        m->pid = pgs_get32(&c);
        const uint8_t *user = pgs_get_sized(&c, 1, &m->user_len);
        const uint8_t *ns = pgs_get_sized(&c, 1, &m->ns_len);
        m->permissions = pgs_get8(&c);
        const uint8_t *rule = pgs_get_sized(&c, 1, &m->rule_len);
        if (c.bad || c.left != 0) return PGS_S_MALFORMED_FRAME;
        if (!pgs_utf8_valid(user, m->user_len) || !pgs_utf8_valid(ns, m->ns_len) ||
            !pgs_utf8_valid(rule, m->rule_len)) {
            return PGS_S_MALFORMED_FRAME;
        }
        m->user = (const char *)user;
        m->ns = (const char *)ns;
        m->rule = (const char *)rule;
        break;
    }
    case PGS_T_HEALTH_OK:
    case PGS_T_STATS_OK:
    case PGS_T_CLIENTS_OK: {
        int st = pgs_decode_operator_response(&c, m);
        if (st != 0) return st;
        break;
    }
    case PGS_T_RECORDS:
    case PGS_T_OUTCOMES:
    case PGS_T_TRANSACT_CONFLICT:
    case PGS_T_LIST_OK:
        if (pgs_decode_multikey_response(&c, m) != 0) return PGS_S_MALFORMED_FRAME;
        break;
    default:
        return PGS_S_UNKNOWN_MESSAGE_TYPE;
    }
    if (c.bad || c.left != 0) return PGS_S_MALFORMED_FRAME;
    if (m->state == NULL) m->state_len = 0;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Encoders                                                                   */
/* ------------------------------------------------------------------------- */

void pgs_buf_init(pgs_buf *b) {
    memset(b, 0, sizeof *b);
}

void pgs_buf_free(pgs_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void pgs_buf_consume(pgs_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static int buf_reserve(pgs_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) return PGS_ENC_NOMEM;
    size_t want = b->len + extra;
    if (want <= b->cap) return PGS_ENC_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < want) ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
    uint8_t *nd = realloc(b->data, ncap);
    if (nd == NULL) return PGS_ENC_NOMEM;
    b->data = nd;
    b->cap = ncap;
    return PGS_ENC_OK;
}

uint8_t *pgs_frame_begin(pgs_buf *b, uint8_t type, uint8_t flags, uint32_t rid, uint64_t payload_len, int *rc) {
    if (payload_len > (uint64_t)UINT32_MAX - PGS_HEADER_BYTES) {
        *rc = PGS_ENC_RANGE;
        return NULL;
    }
    size_t total = (size_t)PGS_LENGTH_BYTES + PGS_HEADER_BYTES + (size_t)payload_len;
    if ((*rc = buf_reserve(b, total)) != PGS_ENC_OK) return NULL;
    uint8_t *p = b->data + b->len;
    pgs_put32(p, (uint32_t)(PGS_HEADER_BYTES + payload_len));
    p[4] = type;
    p[5] = flags;
    pgs_put32(p + 6, rid);
    b->len += total;
    return p + PGS_LENGTH_BYTES + PGS_HEADER_BYTES;
}

int pgs_encode_hello(pgs_buf *b, uint32_t rid, const uint16_t *versions, size_t count,
                     const char *client_name, size_t name_len) {
    int rc;
    if (count < 1 || count > 255 || name_len > 255) return PGS_ENC_RANGE;
    uint8_t *p = pgs_frame_begin(b, PGS_T_HELLO, 0, rid, 1 + 2 * count + 1 + name_len, &rc);
    if (p == NULL) return rc;
    *p++ = (uint8_t)count;
    for (size_t i = 0; i < count; i++, p += 2) pgs_put16(p, versions[i]);
    *p++ = (uint8_t)name_len;
    pgs_put_bytes(p, client_name, name_len);
    return PGS_ENC_OK;
}

static int encode_empty(pgs_buf *b, uint8_t type, uint32_t rid) {
    int rc;
    return pgs_frame_begin(b, type, 0, rid, 0, &rc) == NULL ? rc : PGS_ENC_OK;
}

int pgs_encode_ping(pgs_buf *b, uint32_t rid) {
    return encode_empty(b, PGS_T_PING, rid);
}

int pgs_encode_whoami(pgs_buf *b, uint32_t rid) {
    return encode_empty(b, PGS_T_WHOAMI, rid);
}

/* The part LOAD, UPSERT and DELETE share: [namespace] persistence_id.  Reserves
   the frame with `rest` more payload bytes and returns where they go. */
static uint8_t *keyed_begin(pgs_buf *b, uint8_t type, uint8_t flags, uint32_t rid, const char *ns, size_t ns_len,
                            const char *id, size_t id_len, uint64_t rest, int *rc) {
    if (id_len > 255 || (ns != NULL && ns_len > 255)) {
        *rc = PGS_ENC_RANGE;
        return NULL;
    }
    uint64_t ns_bytes = ns != NULL ? 1 + (uint64_t)ns_len : 0;
    if (ns != NULL) flags |= PGS_FLAG_NAMESPACE;
    uint8_t *p = pgs_frame_begin(b, type, flags, rid, ns_bytes + 1 + (uint64_t)id_len + rest, rc);
    if (p == NULL) return NULL;
    if (ns != NULL) {
        *p++ = (uint8_t)ns_len;
        p = pgs_put_bytes(p, ns, ns_len);
    }
    *p++ = (uint8_t)id_len;
    return pgs_put_bytes(p, id, id_len);
}

int pgs_encode_load(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len) {
    int rc;
    return keyed_begin(b, PGS_T_LOAD, 0, rid, ns, ns_len, id, id_len, 0, &rc) == NULL ? rc : PGS_ENC_OK;
}

int pgs_encode_upsert(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                      uint64_t expected_revision, const void *state, size_t state_len) {
    return pgs_encode_upsert_ttl(b, rid, ns, ns_len, id, id_len, expected_revision, 0, 0, state, state_len);
}

int pgs_encode_upsert_ttl(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                          uint64_t expected_revision, int has_ttl, uint32_t ttl_seconds, const void *state,
                          size_t state_len) {
    int rc;
    if ((uint64_t)state_len > UINT32_MAX) return PGS_ENC_RANGE;
    uint64_t ttl_bytes = has_ttl ? 4 : 0;
    uint8_t *p = keyed_begin(b, PGS_T_UPSERT, has_ttl ? PGS_FLAG_TTL : 0, rid, ns, ns_len, id, id_len,
                             8 + ttl_bytes + 4 + (uint64_t)state_len, &rc);
    if (p == NULL) return rc;
    pgs_put64(p, expected_revision);
    p += 8;
    if (has_ttl) {
        pgs_put32(p, ttl_seconds);
        p += 4;
    }
    pgs_put32(p, (uint32_t)state_len);
    pgs_put_bytes(p + 4, state, state_len);
    return PGS_ENC_OK;
}

int pgs_encode_delete(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                      int has_expected, uint64_t expected_revision) {
    int rc;
    uint8_t flags = has_expected ? PGS_FLAG_EXPECTED_REVISION : 0;
    uint8_t *p = keyed_begin(b, PGS_T_DELETE, flags, rid, ns, ns_len, id, id_len, has_expected ? 8 : 0, &rc);
    if (p == NULL) return rc;
    if (has_expected) pgs_put64(p, expected_revision);
    return PGS_ENC_OK;
}

int pgs_encode_hello_ok(pgs_buf *b, uint32_t rid, uint16_t version, const char *server_version,
                        size_t sv_len, const pgs_limits *lim) {
    int rc;
    if (sv_len > 255 || lim->max_id_bytes > 0xFFFF) return PGS_ENC_RANGE;
    int batch = (lim->capabilities & PGS_CAP_MULTI_KEY) != 0;
    uint8_t *p = pgs_frame_begin(b, PGS_T_HELLO_OK, 0, rid, 2 + 1 + sv_len + 4 + 2 + 4 + 4 + 4 + (batch ? 8 : 0), &rc);
    if (p == NULL) return rc;
    pgs_put16(p, version);
    p[2] = (uint8_t)sv_len;
    p = pgs_put_bytes(p + 3, server_version, sv_len);
    pgs_put32(p, lim->max_frame_bytes);
    pgs_put16(p + 4, (uint16_t)lim->max_id_bytes);
    pgs_put32(p + 6, lim->max_state_bytes);
    pgs_put32(p + 10, lim->max_in_flight);
    pgs_put32(p + 14, lim->capabilities);
    if (batch) {
        pgs_put32(p + 18, lim->max_batch_items);
        pgs_put32(p + 22, lim->max_batch_bytes);
    }
    return PGS_ENC_OK;
}

int pgs_encode_ok(pgs_buf *b, uint32_t rid) {
    return encode_empty(b, PGS_T_OK, rid);
}

int pgs_encode_not_found(pgs_buf *b, uint32_t rid) {
    return encode_empty(b, PGS_T_NOT_FOUND, rid);
}

int pgs_encode_record(pgs_buf *b, uint32_t rid, uint64_t revision, int64_t updated_at_us,
                      const void *state, size_t state_len) {
    int rc;
    if ((uint64_t)state_len > UINT32_MAX) return PGS_ENC_RANGE;
    uint8_t *p = pgs_frame_begin(b, PGS_T_RECORD, 0, rid, 8 + 8 + 4 + (uint64_t)state_len, &rc);
    if (p == NULL) return rc;
    pgs_put64(p, revision);
    pgs_put64(p + 8, (uint64_t)updated_at_us);
    pgs_put32(p + 16, (uint32_t)state_len);
    pgs_put_bytes(p + 20, state, state_len);
    return PGS_ENC_OK;
}

int pgs_encode_conflict(pgs_buf *b, uint32_t rid, uint64_t expected_revision,
                        uint64_t actual_revision) {
    int rc;
    uint8_t *p = pgs_frame_begin(b, PGS_T_CONFLICT, 0, rid, 16, &rc);
    if (p == NULL) return rc;
    pgs_put64(p, expected_revision);
    pgs_put64(p + 8, actual_revision);
    return PGS_ENC_OK;
}

int pgs_encode_error(pgs_buf *b, uint32_t rid, uint16_t status, const char *msg, size_t msg_len) {
    int rc;
    if (msg_len > 0xFFFF) return PGS_ENC_RANGE;
    uint8_t *p = pgs_frame_begin(b, PGS_T_ERROR, 0, rid, 2 + 2 + msg_len, &rc);
    if (p == NULL) return rc;
    pgs_put16(p, status);
    pgs_put16(p + 2, (uint16_t)msg_len);
    pgs_put_bytes(p + 4, msg, msg_len);
    return PGS_ENC_OK;
}

int pgs_encode_whoami_ok(pgs_buf *b, uint32_t rid, const pgs_msg *m) {
    int rc;
    if (m->user_len > 255 || m->ns_len > 255 || m->rule_len > 255) return PGS_ENC_RANGE;
    uint8_t *p = pgs_frame_begin(b, PGS_T_WHOAMI_OK, 0, rid,
                                 12 + 1 + (uint64_t)m->user_len + 1 + m->ns_len + 1 + 1 + m->rule_len, &rc);
    if (p == NULL) return rc;
    pgs_put32(p, m->uid);
    pgs_put32(p + 4, m->gid);
    pgs_put32(p + 8, m->pid);
    p += 12;
    *p++ = (uint8_t)m->user_len;
    p = pgs_put_bytes(p, m->user, m->user_len);
    *p++ = (uint8_t)m->ns_len;
    p = pgs_put_bytes(p, m->ns, m->ns_len);
    *p++ = m->permissions;
    *p++ = (uint8_t)m->rule_len;
    pgs_put_bytes(p, m->rule, m->rule_len);
    return PGS_ENC_OK;
}

int pgs_encode_msg(pgs_buf *b, const pgs_msg *m) {
    const char *ns = m->has_ns ? (m->ns != NULL ? m->ns : "") : NULL;
    switch (m->type) {
    case PGS_T_HELLO:
        return pgs_encode_hello(b, m->request_id, m->versions, m->versions_count, m->text, m->text_len);
    case PGS_T_PING:
        return pgs_encode_ping(b, m->request_id);
    case PGS_T_WHOAMI:
        return pgs_encode_whoami(b, m->request_id);
    case PGS_T_LOAD:
        return pgs_encode_load(b, m->request_id, ns, m->ns_len, m->id, m->id_len);
    case PGS_T_UPSERT:
        return pgs_encode_upsert_ttl(b, m->request_id, ns, m->ns_len, m->id, m->id_len, m->expected_revision,
                                     m->has_ttl, m->ttl_seconds, m->state, m->state_len);
    case PGS_T_DELETE:
        return pgs_encode_delete(b, m->request_id, ns, m->ns_len, m->id, m->id_len, m->has_expected,
                                 m->expected_revision);
    case PGS_T_HELLO_OK: {
        pgs_limits l = {m->max_frame_bytes, m->max_id_bytes, m->max_state_bytes, m->max_in_flight,
                        m->capabilities, m->max_batch_items, m->max_batch_bytes};
        return pgs_encode_hello_ok(b, m->request_id, m->version, m->text, m->text_len, &l);
    }
    case PGS_T_OK:
        return pgs_encode_ok(b, m->request_id);
    case PGS_T_RECORD:
        return pgs_encode_record(b, m->request_id, m->revision, m->updated_at_us, m->state,
                                 m->state_len);
    case PGS_T_NOT_FOUND:
        return pgs_encode_not_found(b, m->request_id);
    case PGS_T_CONFLICT:
        return pgs_encode_conflict(b, m->request_id, m->expected_revision, m->actual_revision);
    case PGS_T_ERROR:
        return pgs_encode_error(b, m->request_id, m->status, m->text, m->text_len);
    case PGS_T_WHOAMI_OK:
        return pgs_encode_whoami_ok(b, m->request_id, m);
    case PGS_T_HEALTH:
        return pgs_encode_health(b, m->request_id);
    case PGS_T_STATS:
        return pgs_encode_stats(b, m->request_id);
    case PGS_T_CLIENTS:
        return pgs_encode_clients(b, m->request_id, m->after_connection);
    case PGS_T_PAUSE:
        return pgs_encode_pause(b, m->request_id, m->timeout_ms);
    case PGS_T_RESUME:
        return pgs_encode_resume(b, m->request_id);
    case PGS_T_HEALTH_OK:
        return pgs_encode_health_ok(b, m->request_id, m);
    case PGS_T_STATS_OK:
    case PGS_T_CLIENTS_OK:
        return pgs_encode_items(b, m);
    case PGS_T_BULK_LOAD:
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT:
    case PGS_T_LIST:
    case PGS_T_RECORDS:
    case PGS_T_OUTCOMES:
    case PGS_T_TRANSACT_CONFLICT:
    case PGS_T_LIST_OK:
        return pgs_encode_multikey_msg(b, m);
    default:
        return PGS_ENC_RANGE;
    }
}
