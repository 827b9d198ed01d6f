/*
 * test_outcomes.c - the client-behaviour classifier (src/outcome.c) and the
 * argument checks (src/call.c), without sockets:
 *
 *   1. unit tests of the five decisions of PROTOCOL.md section 12 that ended the
 *      C client's divergences (a write answered 500; the statuses that drop the
 *      connection; HELLO_OK max_id_bytes outside 1..255; an over-long str8;
 *      the conditional-delete capability), of the rules around them, and of
 *      identity (106 PERMISSION_DENIED, WHOAMI_OK, the IDENTITY capability and
 *      the namespace rule), and of the operators' requests (OPERATOR, HEALTH_OK's
 *      bits, the CLIENTS_OK page rules);
 *   2. every vector of proto-spec/vectors/outcomes.json: each "outcomes" vector
 *      through the same frame path the library takes (pgs_reader, then
 *      pgs_decode_response, then pgs_classify_frame; or pgs_classify_lost /
 *      pgs_classify_timeout), each "calls" vector through pgs_call_check and
 *      pgs_call_encode.
 *
 * File: $PGSTATE_VECTORS_DIR/outcomes.json, else ../../proto-spec/vectors/.
 * Ends with "N passed, M failed".
 */
#include "call.h"
#include "codec.h"
#include "harness.h"
#include "multikey_codec.h"
#include "operator_codec.h"
#include "outcome.h"
#include "vector_json.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

static pgs_flight flight(pgs_op op, uint32_t rid, uint64_t expected, int written) {
    pgs_flight f = {op, rid, expected, written, 0, NULL};
    return f;
}

static pgs_limits small_limits(void) {
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_frame_bytes = 4112;
    l.max_state_bytes = 16;
    return l;
}

/* The library's path for one response: the next frame of the reader, decoded into m (which then points into
 * rd). Returns the decoder's status, or the reader's framing error. */
static int next_response(pgs_reader *rd, pgs_msg *m) {
    const uint8_t *body;
    uint32_t len;
    int r = pgs_reader_next(rd, &body, &len);
    if (r == PGS_READ_ERROR) return rd->err_status;
    if (r == PGS_FRAME) {
        uint32_t erid;
        return pgs_decode_response(body, len, m, &erid);
    }
    CHECKF(0, "the response is not a whole frame");
    return PGS_S_MALFORMED_FRAME;
}

/* Classifies an encoded response frame for req, as the library does. */
static pgs_verdict judge_bytes(const pgs_flight *req, const uint8_t *frame, size_t n, const pgs_limits *lim) {
    pgs_reader rd;
    pgs_reader_init(&rd, lim->max_frame_bytes);
    size_t took = pgs_reader_feed(&rd, frame, n);
    CHECKF(took != (size_t)-1, "out of memory");
    pgs_msg m;
    memset(&m, 0, sizeof m);
    int st = next_response(&rd, &m);
    pgs_verdict v = pgs_classify_frame(req, st, &m, lim);
    pgs_reader_free(&rd);
    return v;
}

static pgs_verdict judge_error(const pgs_flight *req, uint32_t rid, uint16_t status) {
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_error(&b, rid, status, "m", 1) == PGS_ENC_OK);
    pgs_limits lim = small_limits();
    pgs_verdict v = judge_bytes(req, b.data, b.len, &lim);
    pgs_buf_free(&b);
    return v;
}

static pgs_verdict judge_hello_ok(uint32_t max_id_bytes) {
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_id_bytes = max_id_bytes;
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_hello_ok(&b, 1, 1, "s", 1, &l) == PGS_ENC_OK);
    pgs_flight hello = flight(PGS_OP_HELLO, 1, 0, 1);
    pgs_limits lim;
    pgs_limits_default(&lim);
    pgs_verdict v = judge_bytes(&hello, b.data, b.len, &lim);
    pgs_buf_free(&b);
    return v;
}

/* ------------------------------------------------------------------------- */
/* 1. The decisions                                                           */
/* ------------------------------------------------------------------------- */

/* Decision 1: a write answered 500 (or a status of no class) may have been
   applied; a read so answered is a server error. */
static void test_write_answered_500_is_outcome_unknown(void) {
    const uint16_t statuses[] = {500, 503, 599, 0, 99, 404, 600, 65535};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        uint16_t s = statuses[i];
        pgs_flight up = flight(PGS_OP_UPSERT, 9, 3, 1), del = flight(PGS_OP_DELETE, 9, 0, 1);
        pgs_flight dif = flight(PGS_OP_DELETE_IF, 9, 3, 1), load = flight(PGS_OP_LOAD, 9, 0, 1);
        pgs_flight ping = flight(PGS_OP_PING, 9, 0, 1);
        pgs_verdict v;
        v = judge_error(&up, 9, s);
        CHECKF(v.cls == PGS_CLASS_OUTCOME_UNKNOWN && v.conn == PGS_CONN_KEEP && v.status == s, "upsert %u", s);
        v = judge_error(&del, 9, s);
        CHECKF(v.cls == PGS_CLASS_OUTCOME_UNKNOWN && v.conn == PGS_CONN_KEEP, "delete %u", s);
        v = judge_error(&dif, 9, s);
        CHECKF(v.cls == PGS_CLASS_OUTCOME_UNKNOWN, "conditional delete %u", s);
        v = judge_error(&load, 9, s);
        CHECKF(v.cls == PGS_CLASS_SERVER_ERROR && v.conn == PGS_CONN_KEEP, "load %u", s);
        v = judge_error(&ping, 9, s);
        CHECKF(v.cls == PGS_CLASS_SERVER_ERROR, "ping %u", s);
    }
    CHECK(pgs_class_status(PGS_CLASS_OUTCOME_UNKNOWN) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgs_class_status(PGS_CLASS_SERVER_ERROR) == PGSTATE_ERR_SERVER);
}

/* Decision 2: the client drops exactly after the statuses after which the server
   closes (100, 103, 104, 105; 201 and 202 with request id 0), and after a
   protocol error it detects. */
static void test_dropping_statuses(void) {
    pgs_flight load = flight(PGS_OP_LOAD, 9, 0, 1);
    for (unsigned s = 0; s <= 999; s++) {
        pgs_verdict v = judge_error(&load, 9, (uint16_t)s);
        int closes = s == 100 || s == 103 || s == 104 || s == 105;
        pgs_conn want = closes ? PGS_CONN_DROP : s == 202 ? PGS_CONN_DRAIN : PGS_CONN_KEEP;
        CHECKF(v.conn == want, "status %u with the request's id: %s", s, pgs_conn_name(v.conn));
        v = judge_error(&load, 0, (uint16_t)s); /* id 0: the server closes after every one */
        CHECKF(v.conn == PGS_CONN_DROP, "status %u with id 0: %s", s, pgs_conn_name(v.conn));
    }
    /* with id 0: 201 fails a written write as unknown, 202 as not executed */
    pgs_flight up = flight(PGS_OP_UPSERT, 9, 3, 1), unsent = flight(PGS_OP_UPSERT, 9, 3, 0);
    CHECK(judge_error(&up, 0, 201).cls == PGS_CLASS_OUTCOME_UNKNOWN);
    CHECK(judge_error(&unsent, 0, 201).cls == PGS_CLASS_UNAVAILABLE);
    CHECK(judge_error(&up, 0, 202).cls == PGS_CLASS_UNAVAILABLE);
    CHECK(judge_error(&up, 0, 100).cls == PGS_CLASS_PROTOCOL_ERROR);
    /* a protocol error detected: a RECORD not fitting the UPSERT */
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_record(&b, 9, 5, 0, "", 0) == PGS_ENC_OK);
    pgs_limits lim = small_limits();
    pgs_verdict v = judge_bytes(&up, b.data, b.len, &lim);
    CHECK(v.cls == PGS_CLASS_PROTOCOL_ERROR && v.conn == PGS_CONN_DROP && v.problem != NULL);
    /* the others in flight on a dropped connection */
    pgs_verdict other = pgs_classify_left(&up, &v);
    CHECK(other.cls == PGS_CLASS_PROTOCOL_ERROR);
    pgs_verdict lost = pgs_classify_lost(&up);
    CHECK(lost.cls == PGS_CLASS_OUTCOME_UNKNOWN && lost.conn == PGS_CONN_DROP);
    CHECK(pgs_classify_left(&load, &lost).cls == PGS_CLASS_UNAVAILABLE);
    pgs_buf_free(&b);
}

/* Decision 3: HELLO_OK with max_id_bytes outside 1 .. 255 is a protocol error
   (never clamped). */
static void test_hello_ok_max_id_bytes(void) {
    CHECK(judge_hello_ok(0).cls == PGS_CLASS_PROTOCOL_ERROR && judge_hello_ok(0).conn == PGS_CONN_DROP);
    CHECK(judge_hello_ok(1).cls == PGS_CLASS_OK && judge_hello_ok(1).conn == PGS_CONN_KEEP);
    CHECK(judge_hello_ok(255).cls == PGS_CLASS_OK);
    CHECK(judge_hello_ok(256).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(judge_hello_ok(65535).cls == PGS_CLASS_PROTOCOL_ERROR);
}

/* Decision 4: a str8 longer than 255 bytes is refused before sending. */
static void test_long_str8_refused(void) {
    char buf[300];
    memset(buf, 'a', sizeof buf);
    pgs_limits lim;
    pgs_limits_default(&lim);
    lim.max_id_bytes = 1000; /* even if a server announced more */
    char why[256];
    pgs_call k;
    memset(&k, 0, sizeof k);
    k.op = PGS_OP_LOAD;
    k.id = buf;
    k.id_len = 255;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    k.id_len = 256;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "256 bytes") != NULL, "%s", why);
    static const uint16_t v1[1] = {1};
    memset(&k, 0, sizeof k);
    k.op = PGS_OP_HELLO;
    k.versions = v1;
    k.versions_count = 1;
    k.client_name = buf;
    k.client_name_len = 255;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    k.client_name_len = 256;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    k.client_name_len = 3;
    k.versions_count = 0;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
}

/* Decision 5: a conditional DELETE only with the CONDITIONAL_DELETE capability. */
static void test_conditional_delete_needs_capability(void) {
    pgs_limits lim;
    pgs_limits_default(&lim);
    char why[256];
    pgs_call k;
    memset(&k, 0, sizeof k);
    k.op = PGS_OP_DELETE_IF;
    k.id = "k";
    k.id_len = 1;
    k.expected_revision = 3;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    lim.capabilities = 0x80000000u; /* unknown bits do not count */
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "CONDITIONAL_DELETE") != NULL, "%s", why);
    k.op = PGS_OP_DELETE; /* an unconditional one needs nothing */
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
}

/* 106 PERMISSION_DENIED: nothing was executed (a write too), the connection
   stays; answering HELLO the server closes. */
static void test_permission_denied(void) {
    const pgs_op ops[] = {PGS_OP_PING,   PGS_OP_LOAD,  PGS_OP_UPSERT,  PGS_OP_DELETE, PGS_OP_DELETE_IF, PGS_OP_WHOAMI,
                          PGS_OP_HEALTH, PGS_OP_STATS, PGS_OP_CLIENTS, PGS_OP_PAUSE,  PGS_OP_RESUME};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        pgs_flight f = flight(ops[i], 9, 3, 1);
        pgs_verdict v = judge_error(&f, 9, PGS_S_PERMISSION_DENIED);
        CHECKF(v.cls == PGS_CLASS_PERMISSION_DENIED && v.conn == PGS_CONN_KEEP && v.status == 106, "%s: %s %s",
               pgs_op_name(ops[i]), pgs_class_name(v.cls), pgs_conn_name(v.conn));
    }
    pgs_flight hello = flight(PGS_OP_HELLO, 1, 0, 1);
    pgs_verdict v = judge_error(&hello, 1, PGS_S_PERMISSION_DENIED);
    CHECK(v.cls == PGS_CLASS_PERMISSION_DENIED && v.conn == PGS_CONN_DROP && v.status == 106);
    CHECK(pgs_class_status(PGS_CLASS_PERMISSION_DENIED) == PGSTATE_ERR_PERMISSION_DENIED);
    CHECK(pgs_class_reply_kind(PGS_CLASS_PERMISSION_DENIED) == PGSTATE_REPLY_ERROR);
    /* with request id 0 it answers no request: a 1xx notice, the connection ends */
    pgs_flight load = flight(PGS_OP_LOAD, 9, 0, 1);
    v = judge_error(&load, 0, PGS_S_PERMISSION_DENIED);
    CHECK(v.cls == PGS_CLASS_PROTOCOL_ERROR && v.conn == PGS_CONN_DROP);
}

/* WHOAMI_OK answers WHOAMI only; the identity keeps the known permission bits. */
static void test_whoami_ok(void) {
    pgs_msg who;
    memset(&who, 0, sizeof who);
    who.uid = 1001;
    who.ns = "billing";
    who.ns_len = 7;
    who.permissions = 0xF6; /* reserved bits next to WRITE and ADMIN */
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_whoami_ok(&b, 9, &who) == PGS_ENC_OK);
    pgs_limits lim = small_limits();
    const pgs_op ops[] = {PGS_OP_HELLO, PGS_OP_PING, PGS_OP_LOAD, PGS_OP_UPSERT, PGS_OP_DELETE, PGS_OP_DELETE_IF};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        pgs_flight f = flight(ops[i], 9, 3, 1);
        pgs_verdict v = judge_bytes(&f, b.data, b.len, &lim);
        CHECKF(v.cls == PGS_CLASS_PROTOCOL_ERROR && v.conn == PGS_CONN_DROP && v.problem != NULL, "%s",
               pgs_op_name(ops[i]));
    }
    pgs_flight f = flight(PGS_OP_WHOAMI, 9, 0, 1);
    pgs_verdict v = judge_bytes(&f, b.data, b.len, &lim);
    CHECK(v.cls == PGS_CLASS_IDENTITY && v.conn == PGS_CONN_KEEP && v.status == 0);
    CHECK(pgs_class_status(PGS_CLASS_IDENTITY) == PGSTATE_OK);
    CHECK(pgs_class_reply_kind(PGS_CLASS_IDENTITY) == PGSTATE_REPLY_IDENTITY);
    CHECK(pgs_identity_permissions(&who) == (PGSTATE_PERM_WRITE | PGSTATE_PERM_ADMIN));
    /* a WHOAMI is a read: lost or timed out, it is safe to repeat */
    CHECK(!pgs_op_is_write(PGS_OP_WHOAMI));
    CHECK(pgs_classify_lost(&f).cls == PGS_CLASS_UNAVAILABLE && pgs_classify_timeout(&f).cls == PGS_CLASS_UNAVAILABLE);
    pgs_buf_free(&b);
}

/* WHOAMI and a namespace need IDENTITY; the namespace rule is checked before sending. */
static void test_identity_needs_capability(void) {
    pgs_limits lim;
    pgs_limits_default(&lim);
    char why[256];
    pgs_call k;
    memset(&k, 0, sizeof k);
    k.op = PGS_OP_WHOAMI;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    lim.capabilities = PGS_CAP_CONDITIONAL_DELETE | 0x80000000u; /* unknown bits do not count */
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "IDENTITY") != NULL, "%s", why);
    const pgs_op keyed[] = {PGS_OP_LOAD, PGS_OP_UPSERT, PGS_OP_DELETE, PGS_OP_DELETE_IF};
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        memset(&k, 0, sizeof k);
        k.op = keyed[i];
        k.id = "k";
        k.id_len = 1;
        pgs_limits_default(&lim);
        CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
        k.ns = "";
        CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK); /* the shared namespace, named */
        k.ns = "billing";
        k.ns_len = 7;
        CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
        lim.capabilities = PGS_CAP_CONDITIONAL_DELETE;
        CHECKF(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT, "%s without IDENTITY",
               pgs_op_name(keyed[i]));
        CHECKF(strstr(why, "IDENTITY") != NULL, "%s", why);
        k.ns = NULL; /* without a namespace the capability is not needed */
        CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    }
    pgs_limits_default(&lim);
    CHECK(pgs_call_check_namespace("bill/ing", 8, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "0x2f at byte 4") != NULL, "%s", why);
    char long_ns[64];
    memset(long_ns, 'n', sizeof long_ns);
    CHECK(pgs_call_check_namespace(long_ns, 63, &lim, why, sizeof why) == PGSTATE_OK);
    CHECK(pgs_call_check_namespace(long_ns, 64, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "64 bytes") != NULL, "%s", why);
    /* the namespace counts towards the frame: an UPSERT that fits only without it */
    lim.max_frame_bytes = PGS_HEADER_BYTES + 1 + 1 + 8 + 4 + 4;
    lim.max_state_bytes = 4;
    memset(&k, 0, sizeof k);
    k.op = PGS_OP_UPSERT;
    k.id = "k";
    k.id_len = 1;
    k.state = "abcd";
    k.state_len = 4;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
    k.ns = "b";
    k.ns_len = 1;
    CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(why, "frame") != NULL, "%s", why);
}

/* The operators' requests need OPERATOR (unknown bits do not count) and are reads. */
static void test_operators_need_capability(void) {
    const pgs_op ops[] = {PGS_OP_HEALTH, PGS_OP_STATS, PGS_OP_CLIENTS, PGS_OP_PAUSE, PGS_OP_RESUME};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        pgs_limits lim;
        pgs_limits_default(&lim);
        char why[256];
        pgs_call k;
        memset(&k, 0, sizeof k);
        k.op = ops[i];
        k.after_connection = UINT64_MAX; /* every value of the C types is sent as it is */
        k.timeout_ms = UINT32_MAX;
        CHECKF(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK, "%s: %s", pgs_op_name(ops[i]), why);
        lim.capabilities = PGS_CAP_CONDITIONAL_DELETE | PGS_CAP_IDENTITY | 0x80000000u;
        CHECKF(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_ERR_INVALID_ARGUMENT, "%s",
               pgs_op_name(ops[i]));
        CHECKF(strstr(why, "OPERATOR") != NULL && strstr(why, pgs_op_name(ops[i])) != NULL, "%s", why);
        lim.capabilities = PGS_CAP_OPERATOR;
        CHECK(pgs_call_check(&k, &lim, why, sizeof why) == PGSTATE_OK);
        CHECK(!pgs_op_is_write(ops[i]));
        pgs_flight f = flight(ops[i], 9, 0, 1);
        CHECK(pgs_classify_lost(&f).cls == PGS_CLASS_UNAVAILABLE);
        CHECK(pgs_classify_timeout(&f).cls == PGS_CLASS_UNAVAILABLE);
        CHECK(judge_error(&f, 9, 500).cls == PGS_CLASS_SERVER_ERROR);
    }
}

static pgs_verdict judge_health_ok(const pgs_flight *req, uint8_t state, pgs_msg *out) {
    pgs_msg h;
    memset(&h, 0, sizeof h);
    h.health_state = state;
    h.pool_up = 3;
    h.pool_size = 4;
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_health_ok(&b, 9, &h) == PGS_ENC_OK);
    uint32_t erid;
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, out, &erid) == 0);
    pgs_limits lim = small_limits();
    pgs_verdict v = judge_bytes(req, b.data, b.len, &lim);
    pgs_buf_free(&b);
    return v;
}

/* HEALTH_OK answers HEALTH only, ready or not; READY comes from the known bits. */
static void test_health_ok(void) {
    static const struct {
        uint8_t sent;
        uint32_t known;
        int ready;
    } cases[] = {{0x01, 0x1, 1}, {0x00, 0x0, 0}, {0x03, 0x3, 0}, {0x05, 0x5, 0}, {0xF9, 0x1, 1}, {0xFF, 0x7, 0}};
    pgs_flight health = flight(PGS_OP_HEALTH, 9, 0, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pgs_msg m;
        pgs_verdict v = judge_health_ok(&health, cases[i].sent, &m);
        CHECKF(v.cls == PGS_CLASS_HEALTH && v.conn == PGS_CONN_KEEP, "state 0x%02x", cases[i].sent);
        uint32_t known = pgs_health_state(&m);
        CHECKF(known == cases[i].known && pgs_health_ready(known) == cases[i].ready, "state 0x%02x: 0x%x ready %d",
               cases[i].sent, known, pgs_health_ready(known));
    }
    const pgs_op others[] = {PGS_OP_PING, PGS_OP_WHOAMI, PGS_OP_STATS, PGS_OP_PAUSE, PGS_OP_LOAD};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        pgs_msg m;
        pgs_flight f = flight(others[i], 9, 0, 1);
        pgs_verdict v = judge_health_ok(&f, 1, &m);
        CHECKF(v.cls == PGS_CLASS_PROTOCOL_ERROR && v.conn == PGS_CONN_DROP, "%s", pgs_op_name(others[i]));
    }
    CHECK(pgs_class_status(PGS_CLASS_HEALTH) == PGSTATE_OK);
    CHECK(pgs_class_reply_kind(PGS_CLASS_HEALTH) == PGSTATE_REPLY_HEALTH);
    /* OK answers PAUSE and RESUME, not HEALTH, STATS or CLIENTS */
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_ok(&b, 9) == PGS_ENC_OK);
    pgs_limits lim = small_limits();
    const struct {
        pgs_op op;
        pgs_class cls;
    } ok_to[] = {{PGS_OP_PAUSE, PGS_CLASS_OK},
                 {PGS_OP_RESUME, PGS_CLASS_OK},
                 {PGS_OP_HEALTH, PGS_CLASS_PROTOCOL_ERROR},
                 {PGS_OP_STATS, PGS_CLASS_PROTOCOL_ERROR},
                 {PGS_OP_CLIENTS, PGS_CLASS_PROTOCOL_ERROR}};
    for (size_t i = 0; i < sizeof ok_to / sizeof ok_to[0]; i++) {
        pgs_flight f = flight(ok_to[i].op, 9, 0, 1);
        CHECKF(judge_bytes(&f, b.data, b.len, &lim).cls == ok_to[i].cls, "OK answering %s", pgs_op_name(ok_to[i].op));
    }
    pgs_buf_free(&b);
}

/* A CLIENTS_OK page with these ids, answering CLIENTS after `after`. */
static pgs_verdict judge_page(uint64_t after, uint8_t more, const uint64_t *ids, size_t n) {
    pgs_client_row rows[8];
    memset(rows, 0, sizeof rows);
    for (size_t i = 0; i < n; i++) rows[i].connection_id = ids[i];
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_clients_ok(&b, 9, more, rows, n) == PGS_ENC_OK);
    pgs_flight f = flight(PGS_OP_CLIENTS, 9, 0, 1);
    f.after_connection = after;
    pgs_limits lim = small_limits();
    pgs_verdict v = judge_bytes(&f, b.data, b.len, &lim);
    pgs_buf_free(&b);
    return v;
}

/* Section 12.2 rule 6 for CLIENTS_OK: ids ascend strictly from after_connection; more 1 needs a row. */
static void test_clients_page_rules(void) {
    static const uint64_t six_seven[] = {6, 7}, five[] = {5}, four[] = {4}, seven_seven[] = {7, 7},
                          eight_six[] = {8, 6}, top[] = {UINT64_MAX};
    CHECK(judge_page(5, 1, six_seven, 2).cls == PGS_CLASS_CLIENTS);
    CHECK(judge_page(5, 0, six_seven, 2).cls == PGS_CLASS_CLIENTS);
    CHECK(judge_page(0, 0, NULL, 0).cls == PGS_CLASS_CLIENTS);
    CHECK(judge_page(5, 0, NULL, 0).cls == PGS_CLASS_CLIENTS);
    CHECK(judge_page(UINT64_MAX - 1, 0, top, 1).cls == PGS_CLASS_CLIENTS);
    pgs_verdict v = judge_page(5, 1, NULL, 0);
    CHECK(v.cls == PGS_CLASS_PROTOCOL_ERROR && v.conn == PGS_CONN_DROP && v.problem != NULL);
    CHECKF(v.problem && strstr(v.problem, "more 1") != NULL, "%s", v.problem ? v.problem : "");
    CHECK(judge_page(5, 0, five, 1).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(judge_page(5, 0, four, 1).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(judge_page(5, 0, seven_seven, 2).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(judge_page(5, 1, eight_six, 2).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(judge_page(UINT64_MAX, 0, top, 1).cls == PGS_CLASS_PROTOCOL_ERROR);
    CHECK(pgs_class_status(PGS_CLASS_CLIENTS) == PGSTATE_OK);
    CHECK(pgs_class_reply_kind(PGS_CLASS_CLIENTS) == PGSTATE_REPLY_CLIENTS);
    CHECK(pgs_class_status(PGS_CLASS_STATS) == PGSTATE_OK);
    CHECK(pgs_class_reply_kind(PGS_CLASS_STATS) == PGSTATE_REPLY_STATS);
}

/* The rules around them: timeouts keep the connection, losses drop it, the
   handshake drops on everything. */
static void test_no_answer(void) {
    pgs_flight w0 = flight(PGS_OP_UPSERT, 9, 0, 0), w1 = flight(PGS_OP_DELETE, 9, 0, 1);
    pgs_flight r1 = flight(PGS_OP_LOAD, 9, 0, 1), h1 = flight(PGS_OP_HELLO, 1, 0, 1);
    CHECK(pgs_classify_timeout(&w0).cls == PGS_CLASS_UNAVAILABLE && pgs_classify_timeout(&w0).conn == PGS_CONN_KEEP);
    CHECK(pgs_classify_timeout(&w1).cls == PGS_CLASS_OUTCOME_UNKNOWN);
    CHECK(pgs_classify_timeout(&r1).cls == PGS_CLASS_UNAVAILABLE);
    CHECK(pgs_classify_timeout(&h1).cls == PGS_CLASS_UNAVAILABLE && pgs_classify_timeout(&h1).conn == PGS_CONN_DROP);
    CHECK(pgs_classify_lost(&w0).cls == PGS_CLASS_UNAVAILABLE && pgs_classify_lost(&w0).conn == PGS_CONN_DROP);
    CHECK(pgs_classify_lost(&w1).cls == PGS_CLASS_OUTCOME_UNKNOWN);
    CHECK(pgs_classify_lost(&r1).cls == PGS_CLASS_UNAVAILABLE);
    /* a refused handshake: the class of the status, always dropped */
    CHECK(judge_error(&h1, 1, 104).cls == PGS_CLASS_PROTOCOL_ERROR && judge_error(&h1, 1, 104).conn == PGS_CONN_DROP);
    CHECK(judge_error(&h1, 1, 201).cls == PGS_CLASS_UNAVAILABLE && judge_error(&h1, 1, 201).conn == PGS_CONN_DROP);
    CHECK(judge_error(&h1, 1, 500).cls == PGS_CLASS_SERVER_ERROR);
    CHECK(judge_error(&h1, 0, 201).cls == PGS_CLASS_UNAVAILABLE);
}

/* ------------------------------------------------------------------------- */
/* 2. outcomes.json                                                           */
/* ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    pgs_op op;
} KINDS[] = {
    {"hello", PGS_OP_HELLO},   {"ping", PGS_OP_PING},     {"load", PGS_OP_LOAD},
    {"upsert", PGS_OP_UPSERT}, {"delete", PGS_OP_DELETE}, {"conditional_delete", PGS_OP_DELETE_IF},
    {"whoami", PGS_OP_WHOAMI}, {"health", PGS_OP_HEALTH},   {"stats", PGS_OP_STATS},
    {"clients", PGS_OP_CLIENTS}, {"pause", PGS_OP_PAUSE},    {"resume", PGS_OP_RESUME},
    {"bulk_load", PGS_OP_BULK_LOAD}, {"bulk_write", PGS_OP_BULK_WRITE}, {"transact", PGS_OP_TRANSACT},
    {"list", PGS_OP_LIST},
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

#define MAX_SHAPE_ITEMS 64

/* Per request kind: the request in flight, from the file's "vectors" (a multi-key one with its shape). */
typedef struct in_flight {
    int known;
    pgs_flight f;
    pgs_shape shape;
    pgs_item_shape items[MAX_SHAPE_ITEMS];
    char prefix[256];
    char after[256];
} in_flight;

/* What the answer of a decoded multi-key request must fit, as the library keeps it for a request it sent. */
static void shape_of(const pgs_msg *m, in_flight *k) {
    pgs_shape *sh = &k->shape;
    memset(sh, 0, sizeof *sh);
    if (m->type == PGS_T_LIST) {
        memcpy(k->prefix, m->prefix, m->prefix_len);
        sh->prefix = k->prefix;
        sh->prefix_len = m->prefix_len;
        if (m->has_after) {
            memcpy(k->after, m->after, m->after_len);
            sh->after = k->after;
            sh->after_len = m->after_len;
        }
        sh->limit = m->limit;
    } else {
        pgs_cursor it;
        pgs_item item;
        sh->count = m->count;
        CHECKF(m->count <= MAX_SHAPE_ITEMS, "more than %d items in flight", MAX_SHAPE_ITEMS);
        pgs_items_begin(&it, m);
        for (size_t i = 0; m->type != PGS_T_BULK_LOAD && i < MAX_SHAPE_ITEMS && pgs_item_next(&it, &item); i++) {
            k->items[i].kind = item.kind;
            k->items[i].has_expected = (uint8_t)item.has_expected;
            k->items[i].expected_revision = item.expected_revision;
        }
        sh->items = k->items;
    }
    k->f.shape = sh;
}

static int kind_index(const char *name) {
    for (size_t i = 0; name && i < N_KINDS; i++) {
        if (strcmp(KINDS[i].name, name) == 0) return (int)i;
    }
    return -1;
}

/* The requests in flight: decoded with the codec; their kind and write flag checked. */
static void load_in_flight(json_object *vecs, in_flight *kinds) {
    for (size_t i = 0; i < vj_len(vecs); i++) {
        json_object *v = vj_at(vecs, i);
        const char *kname = vj_str(v, "request", NULL);
        int k = kind_index(kname);
        h_cur_name = vj_str(v, "name", NULL) ? vj_str(v, "name", NULL) : "(unnamed)";
        CHECKF(k >= 0, "unknown request kind %s", kname ? kname : "(none)");
        if (k < 0) continue;
        size_t hlen = 0, n = 0;
        const char *hex = vj_str(v, "hex", &hlen);
        uint8_t *frame = hex_decode(hex, hlen, &n);
        CHECKF(frame != NULL && n >= 4 + PGS_HEADER_BYTES, "bad hex");
        if (frame == NULL || n < 4 + PGS_HEADER_BYTES) {
            free(frame);
            continue;
        }
        pgs_limits lim;
        pgs_limits_default(&lim);
        pgs_msg m;
        uint32_t erid;
        int st = pgs_decode_request(frame + 4, n - 4, &lim, &m, &erid);
        CHECKF(st == 0, "in-flight request does not decode: %d", st);
        if (st == 0) {
            kinds[k].known = 1;
            kinds[k].f = flight(KINDS[k].op, m.request_id, m.expected_revision, 1);
            kinds[k].f.after_connection = m.after_connection;
            pgs_op want = m.type == PGS_T_HELLO ? PGS_OP_HELLO
                          : m.type == PGS_T_PING ? PGS_OP_PING
                          : m.type == PGS_T_WHOAMI ? PGS_OP_WHOAMI
                          : m.type == PGS_T_LOAD ? PGS_OP_LOAD
                          : m.type == PGS_T_UPSERT ? PGS_OP_UPSERT
                          : m.type == PGS_T_HEALTH ? PGS_OP_HEALTH
                          : m.type == PGS_T_STATS ? PGS_OP_STATS
                          : m.type == PGS_T_CLIENTS ? PGS_OP_CLIENTS
                          : m.type == PGS_T_PAUSE ? PGS_OP_PAUSE
                          : m.type == PGS_T_RESUME ? PGS_OP_RESUME
                          : m.type == PGS_T_BULK_LOAD ? PGS_OP_BULK_LOAD
                          : m.type == PGS_T_BULK_WRITE ? PGS_OP_BULK_WRITE
                          : m.type == PGS_T_TRANSACT ? PGS_OP_TRANSACT
                          : m.type == PGS_T_LIST ? PGS_OP_LIST
                          : m.has_expected ? PGS_OP_DELETE_IF
                                           : PGS_OP_DELETE;
            if (m.type >= PGS_T_BULK_LOAD && m.type <= PGS_T_LIST) shape_of(&m, &kinds[k]);
            CHECKF(want == KINDS[k].op, "the frame is not a %s", kname);
            CHECKF(vj_true(v, "write") == pgs_op_is_write(KINDS[k].op), "write flag of %s", kname);
        }
        free(frame);
    }
}

/* The limits HELLO_OK announced in the file (with a call's "server" overrides). */
static void announced(json_object *hello_ok, json_object *server, pgs_limits *lim) {
    pgs_limits_default(lim);
    uint64_t u;
    json_object *srcs[2] = {hello_ok, server};
    for (int i = 0; i < 2; i++) {
        if (vj_u64(srcs[i], "max_frame_bytes", &u)) lim->max_frame_bytes = (uint32_t)u;
        if (vj_u64(srcs[i], "max_id_bytes", &u)) lim->max_id_bytes = (uint32_t)u;
        if (vj_u64(srcs[i], "max_state_bytes", &u)) lim->max_state_bytes = (uint32_t)u;
        if (vj_u64(srcs[i], "max_in_flight", &u)) lim->max_in_flight = (uint32_t)u;
        if (vj_u64(srcs[i], "capabilities", &u)) lim->capabilities = (uint32_t)u;
        if (vj_u64(srcs[i], "max_batch_items", &u)) lim->max_batch_items = (uint32_t)u;
        if (vj_u64(srcs[i], "max_batch_bytes", &u)) lim->max_batch_bytes = (uint32_t)u;
    }
    if (!(lim->capabilities & PGS_CAP_MULTI_KEY)) { /* the batch limits count only with MULTI_KEY (13.1) */
        lim->max_batch_items = 0;
        lim->max_batch_bytes = 0;
    }
}

/* For records, outcomes, committed, transaction_conflict and page: the counts the vector's outcome names. */
static void check_multikey_outcome(pgs_class cls, const pgs_msg *m, json_object *want) {
    pgs_cursor it;
    size_t n = 0, omitted = 0;
    uint64_t u = 0;
    pgs_items_begin(&it, m);
    switch (cls) {
    case PGS_CLASS_RECORDS: {
        pgs_record_entry e;
        for (; pgs_record_next(&it, &e); n++) omitted += e.presence == PGS_PRESENCE_OMITTED;
        CHECKF(vj_u64(want, "entries", &u) && u == n, "%zu entries", n);
        CHECKF(vj_u64(want, "omitted", &u) && u == omitted, "%zu omitted", omitted);
        break;
    }
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED: {
        pgs_outcome o;
        while (pgs_outcome_next(&it, &o)) n++;
        CHECKF(vj_u64(want, "items", &u) && u == n, "%zu items", n);
        break;
    }
    case PGS_CLASS_TRANSACTION_CONFLICT: {
        pgs_conflict_entry e;
        while (pgs_conflict_next(&it, &e)) n++;
        CHECKF(vj_u64(want, "conflicts", &u) && u == n, "%zu conflicts", n);
        break;
    }
    case PGS_CLASS_PAGE: {
        pgs_list_entry e;
        while (pgs_list_next(&it, &e)) n++;
        CHECKF(vj_u64(want, "entries", &u) && u == n, "%zu entries", n);
        json_object *more = vj_get(want, "more");
        CHECKF(more != NULL && json_object_is_type(more, json_type_boolean) &&
                   json_object_get_boolean(more) == (m->more == 1),
               "more %u", m->more);
        break;
    }
    default: break;
    }
}

static void run_outcome(json_object *v, const in_flight *kinds, json_object *hello_ok) {
    int k = kind_index(vj_str(v, "request", NULL));
    CHECKF(k >= 0 && kinds[k].known, "no request in flight for this kind");
    if (k < 0 || !kinds[k].known) return;
    pgs_flight req = kinds[k].f;
    json_object *ev = vj_get(v, "event");
    const char *ekind = vj_str(ev, "kind", NULL);
    CHECKF(ekind != NULL, "event without kind");
    if (ekind == NULL) return;
    pgs_limits lim;
    if (req.op == PGS_OP_HELLO) pgs_limits_default(&lim); /* before HELLO_OK: the defaults */
    else announced(hello_ok, NULL, &lim);

    pgs_verdict got;
    pgs_msg m;
    memset(&m, 0, sizeof m);
    uint8_t *frame = NULL;
    pgs_reader rd;
    pgs_reader_init(&rd, lim.max_frame_bytes);
    if (strcmp(ekind, "response") == 0) {
        size_t hlen = 0, n = 0;
        const char *hex = vj_str(ev, "hex", &hlen);
        frame = hex_decode(hex, hlen, &n);
        CHECKF(frame != NULL, "bad hex");
        if (frame == NULL) {
            pgs_reader_free(&rd);
            return;
        }
        /* the library's path: reader, decoder, classifier (m points into rd) */
        CHECK(pgs_reader_feed(&rd, frame, n) != (size_t)-1);
        int st = next_response(&rd, &m);
        got = pgs_classify_frame(&req, st, &m, &lim);
    } else if (strcmp(ekind, "connection_lost") == 0 || strcmp(ekind, "timeout") == 0) {
        CHECKF(vj_has(ev, "written"), "event without written");
        req.written = vj_true(ev, "written");
        got = ekind[0] == 'c' ? pgs_classify_lost(&req) : pgs_classify_timeout(&req);
    } else {
        CHECKF(0, "unknown event kind %s", ekind);
        pgs_reader_free(&rd);
        return;
    }

    json_object *want = vj_get(v, "outcome");
    const char *cls = vj_str(want, "class", NULL);
    const char *conn = vj_str(v, "connection", NULL);
    CHECKF(cls && strcmp(cls, pgs_class_name(got.cls)) == 0, "class %s, want %s", pgs_class_name(got.cls),
           cls ? cls : "(none)");
    CHECKF(conn && strcmp(conn, pgs_conn_name(got.conn)) == 0, "connection %s, want %s", pgs_conn_name(got.conn),
           conn ? conn : "(none)");
    uint64_t u = 0;
    if (vj_has(want, "status")) {
        CHECKF(vj_u64(want, "status", &u) && u == got.status, "status %u, want %llu", got.status,
               (unsigned long long)u);
    } else {
        CHECKF(got.status == 0, "status %u, want none", got.status);
    }
    if (got.cls == PGS_CLASS_RECORD) {
        CHECKF(vj_u64(want, "revision", &u) && u == m.revision, "revision %llu", (unsigned long long)m.revision);
    }
    if (got.cls == PGS_CLASS_CONFLICT) {
        uint64_t e = 0, a = 0;
        CHECK(vj_u64(want, "expected_revision", &e) && e == m.expected_revision);
        CHECK(vj_u64(want, "actual_revision", &a) && a == m.actual_revision);
    }
    if (got.cls == PGS_CLASS_IDENTITY) {
        uint64_t uid = 0, perms = 0;
        size_t ns_len = 0;
        const char *ns = vj_str(want, "namespace", &ns_len);
        CHECKF(vj_u64(want, "uid", &uid) && uid == m.uid, "uid %u", m.uid);
        CHECKF(ns != NULL && ns_len == m.ns_len && memcmp(ns, m.ns, ns_len) == 0, "namespace %.*s", (int)m.ns_len,
               m.ns);
        CHECKF(vj_u64(want, "permissions", &perms) && perms == pgs_identity_permissions(&m),
               "permissions 0x%x (0x%02x sent), want 0x%llx", pgs_identity_permissions(&m), m.permissions,
               (unsigned long long)perms);
    }
    if (got.cls == PGS_CLASS_HEALTH) {
        uint32_t state = pgs_health_state(&m);
        CHECKF(vj_u64(want, "state", &u) && u == state, "state 0x%x (0x%02x sent)", state, m.health_state);
        json_object *ready = vj_get(want, "ready");
        CHECKF(ready != NULL && json_object_is_type(ready, json_type_boolean) &&
                   json_object_get_boolean(ready) == pgs_health_ready(state),
               "ready %d", pgs_health_ready(state));
    }
    if (got.cls == PGS_CLASS_STATS || got.cls == PGS_CLASS_CLIENTS) { /* count what the iterators give */
        pgs_cursor it;
        pgs_stat_entry e;
        pgs_client_row row;
        size_t n = 0;
        pgs_items_begin(&it, &m);
        if (got.cls == PGS_CLASS_STATS) {
            while (pgs_stats_next(&it, &e)) n++;
        } else {
            while (pgs_clients_next(&it, &row)) n++;
        }
        const char *key = got.cls == PGS_CLASS_STATS ? "entries" : "rows";
        CHECKF(vj_u64(want, key, &u) && u == n, "%zu %s", n, key);
    }
    if (got.cls == PGS_CLASS_CLIENTS) {
        json_object *more = vj_get(want, "more");
        CHECKF(more != NULL && json_object_is_type(more, json_type_boolean) &&
                   json_object_get_boolean(more) == (m.more == 1),
               "more %u", m.more);
    }
    check_multikey_outcome(got.cls, &m, want);
    /* the vector's outcome has no fields besides those of its class */
    size_t fields = 1 + vj_has(want, "status");
    switch (got.cls) {
    case PGS_CLASS_RECORDS: fields += 2; break;
    case PGS_CLASS_OUTCOMES:
    case PGS_CLASS_COMMITTED:
    case PGS_CLASS_TRANSACTION_CONFLICT: fields += 1; break;
    case PGS_CLASS_PAGE: fields += 2; break;
    case PGS_CLASS_RECORD: fields += 1; break;
    case PGS_CLASS_CONFLICT: fields += 2; break;
    case PGS_CLASS_IDENTITY: fields += 3; break;
    case PGS_CLASS_HEALTH: fields += 2; break;
    case PGS_CLASS_STATS: fields += 1; break;
    case PGS_CLASS_CLIENTS: fields += 2; break;
    default: break;
    }
    CHECKF(vj_keys(want) == fields, "the outcome has %zu fields, want %zu", vj_keys(want), fields);
    /* a protocol error the client found names what was wrong; one from a status does not */
    if (got.cls == PGS_CLASS_PROTOCOL_ERROR) CHECK((got.problem != NULL) == (got.status == 0));
    free(frame);
    pgs_reader_free(&rd);
}

static int g_namespaced_calls;
static int g_unrepresentable; /* call vectors whose argument no C value of its type holds */

#define MAX_CALL_ITEMS 16

/* The arguments of a call vector as C values, and the memory they point to. */
typedef struct call_args {
    uint16_t versions[256];
    uint8_t *states[MAX_CALL_ITEMS + 1]; /* [MAX_CALL_ITEMS]: an UPSERT's */
    const char *ids[MAX_CALL_ITEMS];
    size_t id_lens[MAX_CALL_ITEMS];
    pgstate_item items[MAX_CALL_ITEMS];
} call_args;

static void call_args_free(call_args *a) {
    for (size_t i = 0; i <= MAX_CALL_ITEMS; i++) free(a->states[i]);
}

/* An unsigned argument of at most max: 1, or 0 when its C type cannot hold the vector's value (a negative
   number, or one too large). */
static int arg_u(json_object *obj, const char *key, uint64_t max, uint64_t *out) {
    *out = 0;
    return vj_u64(obj, key, out) && *out <= max;
}

static uint8_t *arg_state(json_object *obj, size_t *n) {
    size_t hlen = 0;
    const char *hx = vj_str(obj, "state_hex", &hlen);
    uint8_t *state = hx ? hex_decode(hx, hlen, n) : NULL;
    CHECKF(state != NULL, "state_hex");
    if (state == NULL) *n = 0;
    return state;
}

/* BULK_LOAD's ids, the items of BULK_WRITE and TRANSACT, LIST's arguments: 1, or 0 when a value does not fit its
   C type. */
static int multikey_args(json_object *args, pgs_call *call, call_args *a) {
    uint64_t u;
    if (call->op == PGS_OP_LIST) {
        call->prefix = vj_str(args, "prefix", &call->prefix_len);
        CHECKF(call->prefix != NULL, "prefix is not a string");
        if (vj_has(args, "after")) {
            call->after = vj_str(args, "after", &call->after_len);
            CHECKF(call->after != NULL, "after is not a string");
        }
        if (!arg_u(args, "limit", UINT32_MAX, &u)) return 0;
        call->limit = (uint32_t)u;
        return 1;
    }
    json_object *arr = vj_array(args, call->op == PGS_OP_BULK_LOAD ? "ids" : "items");
    CHECKF(arr != NULL && vj_len(arr) <= MAX_CALL_ITEMS, "ids / items: an array of at most %d", MAX_CALL_ITEMS);
    call->count = vj_len(arr) <= MAX_CALL_ITEMS ? vj_len(arr) : 0;
    for (size_t i = 0; i < call->count; i++) {
        json_object *e = vj_at(arr, i);
        if (call->op == PGS_OP_BULK_LOAD) {
            CHECKF(json_object_is_type(e, json_type_string), "id %zu is not a string", i);
            a->ids[i] = json_object_get_string(e);
            a->id_lens[i] = (size_t)json_object_get_string_len(e);
            continue;
        }
        pgstate_item *it = &a->items[i];
        const char *kind = vj_str(e, "kind", NULL);
        CHECKF(kind && (strcmp(kind, "upsert") == 0 || strcmp(kind, "delete") == 0), "item %zu kind", i);
        it->kind = kind && strcmp(kind, "upsert") == 0 ? PGSTATE_ITEM_UPSERT : PGSTATE_ITEM_DELETE;
        it->id = vj_str(e, "persistence_id", &it->id_len);
        CHECKF(it->id != NULL, "item %zu id", i);
        if (it->kind == PGSTATE_ITEM_UPSERT) {
            if (!arg_u(e, "expected_revision", UINT64_MAX, &it->expected_revision)) return 0;
            if (vj_has(e, "ttl_seconds")) {
                if (!arg_u(e, "ttl_seconds", UINT32_MAX, &u)) return 0;
                it->flags |= PGSTATE_ITEM_TTL;
                it->ttl_seconds = (uint32_t)u;
            }
            a->states[i] = arg_state(e, &it->state_len);
            it->state = a->states[i];
        } else if (vj_get(e, "expected_revision") != NULL) { /* null: unconditional */
            if (!arg_u(e, "expected_revision", UINT64_MAX, &it->expected_revision)) return 0;
            it->flags |= PGSTATE_ITEM_EXPECTED;
        }
    }
    if (call->op == PGS_OP_BULK_LOAD) {
        call->ids = a->ids;
        call->id_lens = a->id_lens;
    } else {
        call->items = a->items;
    }
    return 1;
}

/* The call's arguments as C values into call: 1, or 0 when one does not fit its C type (a negative
   after_connection or ttl_seconds, a timeout_ms of 2^32 or more): such a value cannot be passed at all, the C
   type refuses it before pgs_call_check could, and the vector must expect a refusal. */
static int call_of(json_object *args, pgs_call *call, call_args *a) {
    uint64_t u = 0;
    switch (call->op) {
    case PGS_OP_HELLO: {
        json_object *vs = vj_array(args, "versions");
        for (size_t i = 0; i < vj_len(vs) && i < 256; i++) {
            uint64_t ver = 0;
            CHECK(vj_as_u64(vj_at(vs, i), &ver) && ver <= 0xFFFF);
            a->versions[i] = (uint16_t)ver;
        }
        call->versions = a->versions;
        call->versions_count = vj_len(vs);
        call->client_name = vj_str(args, "client_name", &call->client_name_len);
        return 1;
    }
    case PGS_OP_CLIENTS: return arg_u(args, "after_connection", UINT64_MAX, &call->after_connection);
    case PGS_OP_PAUSE:
        if (!arg_u(args, "timeout_ms", UINT32_MAX, &u)) return 0;
        call->timeout_ms = (uint32_t)u;
        return 1;
    case PGS_OP_PING:
    case PGS_OP_WHOAMI:
    case PGS_OP_HEALTH:
    case PGS_OP_STATS:
    case PGS_OP_RESUME: return 1;
    case PGS_OP_LOAD:
    case PGS_OP_UPSERT:
    case PGS_OP_DELETE:
    case PGS_OP_DELETE_IF:
    case PGS_OP_BULK_LOAD:
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT:
    case PGS_OP_LIST: break;
    }
    if (vj_has(args, "namespace")) { /* the call names a namespace: flag NAMESPACE */
        call->ns = vj_str(args, "namespace", &call->ns_len);
        CHECKF(call->ns != NULL, "namespace is not a string");
        g_namespaced_calls++;
    }
    if (call->op == PGS_OP_BULK_LOAD || call->op == PGS_OP_BULK_WRITE || call->op == PGS_OP_TRANSACT ||
        call->op == PGS_OP_LIST) {
        return multikey_args(args, call, a);
    }
    call->id = vj_str(args, "persistence_id", &call->id_len);
    CHECK(call->id != NULL);
    if (call->op == PGS_OP_UPSERT || call->op == PGS_OP_DELETE_IF) {
        CHECK(vj_u64(args, "expected_revision", &call->expected_revision));
    }
    if (call->op == PGS_OP_UPSERT) {
        if (vj_has(args, "ttl_seconds")) {
            if (!arg_u(args, "ttl_seconds", UINT32_MAX, &u)) return 0;
            call->has_ttl = 1;
            call->ttl_seconds = (uint32_t)u;
        }
        a->states[MAX_CALL_ITEMS] = arg_state(args, &call->state_len);
        call->state = a->states[MAX_CALL_ITEMS];
    }
    return 1;
}

static void run_call(json_object *v, const in_flight *kinds, json_object *hello_ok) {
    int k = kind_index(vj_str(v, "request", NULL));
    CHECKF(k >= 0 && kinds[k].known, "no request in flight for this kind");
    if (k < 0 || !kinds[k].known) return;
    json_object *args = vj_get(v, "arguments");
    pgs_limits lim;
    announced(hello_ok, vj_get(v, "server"), &lim);
    pgs_call call;
    memset(&call, 0, sizeof call);
    call.op = KINDS[k].op;
    call_args a;
    memset(&a, 0, sizeof a);
    if (!call_of(args, &call, &a)) {
        const char *cls = vj_str(vj_get(v, "outcome"), "class", NULL);
        CHECKF(cls != NULL && strcmp(cls, "invalid_argument") == 0,
               "an argument does not fit its C type, but the call is not refused");
        g_unrepresentable++;
        call_args_free(&a);
        return;
    }
    char why[512];
    int rc = pgs_call_check(&call, &lim, why, sizeof why);
    if (vj_has(v, "outcome")) {
        const char *cls = vj_str(vj_get(v, "outcome"), "class", NULL);
        CHECKF(cls && strcmp(cls, "invalid_argument") == 0, "a refused call's class is %s", cls ? cls : "-");
        CHECKF(rc == PGSTATE_ERR_INVALID_ARGUMENT, "not refused");
    } else {
        size_t hlen = 0, want_n = 0;
        const char *hx = vj_str(v, "sends", &hlen);
        uint8_t *want = hex_decode(hx, hlen, &want_n);
        CHECKF(want != NULL, "a call vector needs \"outcome\" or \"sends\"");
        CHECKF(rc == PGSTATE_OK, "refused: %s", why);
        pgs_buf b;
        pgs_buf_init(&b);
        if (rc == PGSTATE_OK && want != NULL) {
            CHECK(pgs_call_encode(&b, kinds[k].f.request_id, &call) == PGS_ENC_OK);
            CHECKF(b.len == want_n && memcmp(b.data, want, want_n) == 0, "sends other bytes (%zu vs %zu)", b.len,
                   want_n);
        }
        pgs_buf_free(&b);
        free(want);
    }
    call_args_free(&a);
}

/* Runs one list of vectors, each counted as a test. */
static void run_list(json_object *list, const char *what, const in_flight *kinds, json_object *hello_ok,
                     void (*fn)(json_object *, const in_flight *, json_object *)) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < vj_len(list); i++) {
        json_object *v = vj_at(list, i);
        h_cur_name = vj_str(v, "name", NULL) ? vj_str(v, "name", NULL) : "(unnamed)";
        h_cur_failures = 0;
        fn(v, kinds, hello_ok);
        if (h_cur_failures == 0) {
            h_passed++;
            passed++;
        } else {
            h_failed++;
            failed++;
            printf("FAIL outcomes.json %s/%s\n", what, h_cur_name);
        }
    }
    printf("outcomes.json    %-8s %d vectors passed, %d failed\n", what, passed, failed);
}

static void run_file(void) {
    const char *dir = vj_vectors_dir();
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/outcomes.json", dir);
    json_object *root = vj_load(path, err, sizeof err);
    if (root == NULL) {
        fprintf(stderr, "test_outcomes: %s: %s (set PGSTATE_VECTORS_DIR)\n", path, err);
        h_failed++;
        return;
    }
    in_flight kinds[N_KINDS];
    memset(kinds, 0, sizeof kinds);
    int before = h_failed;
    h_cur_failures = 0;
    load_in_flight(vj_array(root, "vectors"), kinds);
    for (size_t k = 0; k < N_KINDS; k++) CHECKF(kinds[k].known, "no request in flight of kind %s", KINDS[k].name);
    if (h_cur_failures) h_failed++;
    json_object *hello_ok = vj_get(root, "hello_ok");
    json_object *outcomes = vj_array(root, "outcomes");
    json_object *calls = vj_array(root, "calls");
    if (hello_ok == NULL || outcomes == NULL || calls == NULL || vj_len(outcomes) == 0 || vj_len(calls) == 0) {
        fprintf(stderr, "test_outcomes: %s needs \"hello_ok\", \"outcomes\" and \"calls\"\n", path);
        h_failed++;
    } else if (h_failed == before) {
        run_list(outcomes, "outcomes", kinds, hello_ok, run_outcome);
        run_list(calls, "calls", kinds, hello_ok, run_call);
        if (g_namespaced_calls == 0) {
            fprintf(stderr, "test_outcomes: %s: no call names a namespace\n", path);
            h_failed++;
        }
        printf("outcomes.json    %d calls naming a namespace, %d with an argument outside its C type\n",
               g_namespaced_calls, g_unrepresentable);
    }
    json_object_put(root);
}

int main(void) {
    RUN(test_write_answered_500_is_outcome_unknown);
    RUN(test_dropping_statuses);
    RUN(test_hello_ok_max_id_bytes);
    RUN(test_long_str8_refused);
    RUN(test_conditional_delete_needs_capability);
    RUN(test_no_answer);
    RUN(test_permission_denied);
    RUN(test_whoami_ok);
    RUN(test_identity_needs_capability);
    RUN(test_operators_need_capability);
    RUN(test_health_ok);
    RUN(test_clients_page_rules);
    run_file();
    return harness_summary();
}
