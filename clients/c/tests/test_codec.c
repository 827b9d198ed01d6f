/*
 * test_codec.c - unit tests of src/codec.c, src/operator_codec.c,
 * src/multikey_codec.c and src/reader.c (no sockets): UTF-8, id and metric-name rules, the incremental
 * reader's bounds and rewinding, encoder range checks, decoder edge cases not
 * covered by the shared vectors, mutated frames.  Ends with "N passed, M failed".
 */
#include "codec.h"
#include "harness.h"
#include "multikey_codec.h"
#include "operator_codec.h"

#include <stdlib.h>
#include <string.h>

#define U8(s) ((const uint8_t *)(s))

static void test_utf8(void) {
    CHECK(pgs_utf8_valid(U8(""), 0));
    CHECK(pgs_utf8_valid(U8("plain ascii"), 11));
    CHECK(pgs_utf8_valid(U8("\xc3\xbc"), 2));                 /* ü */
    CHECK(pgs_utf8_valid(U8("\xe8\xae\xa2"), 3));             /* 订 */
    CHECK(pgs_utf8_valid(U8("\xf0\x9f\x9b\x92"), 4));         /* U+1F6D2 */
    CHECK(pgs_utf8_valid(U8("\xf4\x8f\xbf\xbf"), 4));         /* U+10FFFF */
    CHECK(pgs_utf8_valid(U8("\xee\x80\x80"), 3));             /* U+E000 */
    CHECK(!pgs_utf8_valid(U8("\xc0\xaf"), 2));                /* overlong '/' */
    CHECK(!pgs_utf8_valid(U8("\xc1\xbf"), 2));                /* overlong */
    CHECK(!pgs_utf8_valid(U8("\xe0\x80\xaf"), 3));            /* overlong 3-byte */
    CHECK(!pgs_utf8_valid(U8("\xf0\x80\x80\xaf"), 4));        /* overlong 4-byte */
    CHECK(!pgs_utf8_valid(U8("\xed\xa0\x80"), 3));            /* U+D800 */
    CHECK(!pgs_utf8_valid(U8("\xed\xbf\xbf"), 3));            /* U+DFFF */
    CHECK(pgs_utf8_valid(U8("\xed\x9f\xbf"), 3));             /* U+D7FF */
    CHECK(!pgs_utf8_valid(U8("\xf4\x90\x80\x80"), 4));        /* U+110000 */
    CHECK(!pgs_utf8_valid(U8("\xf5\x80\x80\x80"), 4));
    CHECK(!pgs_utf8_valid(U8("\xff"), 1));
    CHECK(!pgs_utf8_valid(U8("\x80"), 1));                    /* lone continuation */
    CHECK(!pgs_utf8_valid(U8("ab\xe8\xae"), 4));              /* truncated */
    CHECK(!pgs_utf8_valid(U8("\xc3\x28"), 2));
    CHECK(!pgs_utf8_valid(U8("\xe8\x28\xa2"), 3));
    CHECK(pgs_utf8_valid(U8("a\0b"), 3));                     /* NUL is valid UTF-8 (ids reject it) */
}

static void test_id_rule(void) {
    char buf[300];
    memset(buf, 'a', sizeof buf);
    size_t at = 999;
    CHECK(pgs_id_check(U8(buf), 0, 255, NULL) == PGS_ID_EMPTY);
    CHECK(pgs_id_check(U8(buf), 1, 255, NULL) == PGS_ID_OK);
    CHECK(pgs_id_check(U8(buf), 255, 255, NULL) == PGS_ID_OK);
    CHECK(pgs_id_check(U8(buf), 256, 255, NULL) == PGS_ID_TOO_LONG);
    CHECK(pgs_id_check(U8(buf), 256, 1000, NULL) == PGS_ID_TOO_LONG); /* never above 255 (str8) */
    CHECK(pgs_id_check(U8(buf), 11, 10, NULL) == PGS_ID_TOO_LONG);
    CHECK(pgs_id_check(U8(buf), 10, 10, NULL) == PGS_ID_OK);
    CHECK(pgs_id_check(U8("a\0b"), 3, 255, &at) == PGS_ID_CONTROL && at == 1);
    CHECK(pgs_id_check(U8("a\x1f"), 2, 255, &at) == PGS_ID_CONTROL && at == 1);
    CHECK(pgs_id_check(U8("ab\x7f"), 3, 255, &at) == PGS_ID_CONTROL && at == 2);
    CHECK(pgs_id_check(U8("a\n"), 2, 255, NULL) == PGS_ID_CONTROL);
    CHECK(pgs_id_check(U8("\t"), 1, 255, &at) == PGS_ID_CONTROL && at == 0);
    CHECK(pgs_id_check(U8("a b"), 3, 255, NULL) == PGS_ID_OK);
    CHECK(pgs_id_check(U8("\xc2\x80"), 2, 255, NULL) == PGS_ID_OK); /* U+0080 (C1 control) is allowed by the rule */
    CHECK(pgs_id_check(U8("\xe8\xae\xa2\xe5\x8d\x95-42"), 9, 255, NULL) == PGS_ID_OK);
    CHECK(pgs_id_check(U8("\xc0\xaf"), 2, 255, NULL) == PGS_ID_NOT_UTF8);
    CHECK(pgs_id_check(U8("\xed\xa0\x80"), 3, 255, NULL) == PGS_ID_NOT_UTF8); /* surrogate */
    /* the order of the rules: length before content */
    CHECK(pgs_id_check(U8("\n\n\n"), 3, 2, NULL) == PGS_ID_TOO_LONG);
    CHECK(pgs_id_check(U8("\xff\n"), 2, 255, NULL) == PGS_ID_CONTROL);
}

static void test_namespace_rule(void) {
    char buf[80];
    memset(buf, 'n', sizeof buf);
    size_t at = 999;
    CHECK(pgs_ns_check(U8(""), 0, NULL) == PGS_NS_OK); /* the shared namespace */
    CHECK(pgs_ns_check(U8(buf), 63, NULL) == PGS_NS_OK);
    CHECK(pgs_ns_check(U8(buf), 64, NULL) == PGS_NS_TOO_LONG);
    CHECK(pgs_ns_check(U8("azAZ09._-"), 9, NULL) == PGS_NS_OK);
    CHECK(pgs_ns_check(U8("bill/ing"), 8, &at) == PGS_NS_BAD_BYTE && at == 4);
    CHECK(pgs_ns_check(U8("a b"), 3, &at) == PGS_NS_BAD_BYTE && at == 1);
    CHECK(pgs_ns_check(U8("b\xc3\xbcro"), 5, &at) == PGS_NS_BAD_BYTE && at == 1); /* a non-ASCII letter */
    CHECK(pgs_ns_check(U8("a\0"), 2, &at) == PGS_NS_BAD_BYTE && at == 1);
    /* every byte outside [A-Za-z0-9._-] is refused, every byte inside accepted */
    for (unsigned c = 0; c < 256; c++) {
        uint8_t b = (uint8_t)c;
        int allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
        CHECKF((pgs_ns_check(&b, 1, NULL) == PGS_NS_OK) == allowed, "byte 0x%02x", c);
    }
    /* length before content */
    memset(buf, '/', sizeof buf);
    CHECK(pgs_ns_check(U8(buf), 64, NULL) == PGS_NS_TOO_LONG);
}

static size_t frame_hex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void test_reader_bound_and_rewind(void) {
    pgs_reader r;
    pgs_reader_init(&r, 100); /* at most 104 bytes buffered */
    uint8_t big[1000];
    memset(big, 0, sizeof big);
    /* frames of length 94 (total 98): type OK, id 1.. */
    size_t off = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t *f = big + off;
        f[0] = 0; f[1] = 0; f[2] = 0; f[3] = 94;
        f[4] = PGS_T_OK;
        f[9] = (uint8_t)(i + 1);
        off += 98;
    }
    size_t took = pgs_reader_feed(&r, big, off);
    CHECKF(took == 104, "took %zu", took);
    CHECK(pgs_reader_buffered(&r) == 104);
    CHECK(pgs_reader_feed(&r, big + took, off - took) == 0); /* full */
    const uint8_t *body;
    uint32_t len;
    size_t fed = took;
    int frames = 0;
    for (;;) {
        int n = pgs_reader_next(&r, &body, &len);
        if (n == PGS_FRAME) {
            CHECK(len == 94);
            CHECK(body[5] == (uint8_t)(frames + 1));
            frames++;
            continue;
        }
        CHECK(n == PGS_NEED_MORE);
        if (fed == off) break;
        size_t t = pgs_reader_feed(&r, big + fed, off - fed);
        CHECK(t > 0 && t != (size_t)-1);
        CHECK(pgs_reader_buffered(&r) <= 104);
        fed += t;
    }
    CHECKF(frames == 10, "frames %d", frames);
    CHECK(pgs_reader_buffered(&r) == 0);
    pgs_reader_free(&r);
}

static void test_reader_partial_consumes_nothing(void) {
    uint8_t f[64];
    size_t n = frame_hex("0000000e030000000007076f726465722d31", f);
    pgs_reader r;
    pgs_reader_init(&r, PGS_DEFAULT_MAX_FRAME_BYTES);
    const uint8_t *body;
    uint32_t len;
    for (size_t i = 0; i < n - 1; i++) {
        CHECK(pgs_reader_feed(&r, f + i, 1) == 1);
        CHECK(pgs_reader_next(&r, &body, &len) == PGS_NEED_MORE);
        CHECK(pgs_reader_next(&r, &body, &len) == PGS_NEED_MORE); /* idempotent */
        CHECK(pgs_reader_buffered(&r) == i + 1);
    }
    CHECK(pgs_reader_feed(&r, f + n - 1, 1) == 1);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_FRAME);
    CHECK(len == n - 4 && memcmp(body, f + 4, len) == 0);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_NEED_MORE);
    pgs_reader_free(&r);
}

static void test_reader_too_large_without_body(void) {
    pgs_reader r;
    pgs_reader_init(&r, 4112);
    const uint8_t *body;
    uint32_t len;
    uint8_t hdr[4] = {0x00, 0x00, 0x10, 0x11}; /* 4113 */
    CHECK(pgs_reader_feed(&r, hdr, 3) == 3);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_NEED_MORE);
    CHECK(pgs_reader_feed(&r, hdr + 3, 1) == 1);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_READ_ERROR);
    CHECK(r.err_status == PGS_S_FRAME_TOO_LARGE && r.err_length == 4113);
    /* sticky, and nothing more is taken */
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_READ_ERROR);
    CHECK(pgs_reader_feed(&r, hdr, 4) == 0);
    uint8_t *ptr;
    size_t avail;
    CHECK(pgs_reader_space(&r, &ptr, &avail) == 0 && avail == 0);
    /* never allocated room for the body */
    CHECK(r.cap < 4113);
    pgs_reader_reset(&r);
    CHECK(pgs_reader_buffered(&r) == 0 && r.err_status == 0);
    pgs_reader_free(&r);

    pgs_reader_init(&r, PGS_DEFAULT_MAX_FRAME_BYTES);
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    CHECK(pgs_reader_feed(&r, huge, 4) == 4);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_READ_ERROR && r.err_status == PGS_S_FRAME_TOO_LARGE);
    pgs_reader_free(&r);

    pgs_reader_init(&r, PGS_DEFAULT_MAX_FRAME_BYTES);
    uint8_t shorty[4] = {0, 0, 0, 5};
    CHECK(pgs_reader_feed(&r, shorty, 4) == 4);
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_READ_ERROR && r.err_status == PGS_S_MALFORMED_FRAME);
    pgs_reader_free(&r);
}

static void test_reader_space_commit(void) {
    /* write straight into the reader, as the socket code does */
    pgs_buf b;
    pgs_buf_init(&b);
    uint8_t state[5000];
    for (size_t i = 0; i < sizeof state; i++) state[i] = (uint8_t)(i * 7);
    CHECK(pgs_encode_record(&b, 9, 3, -1, state, sizeof state) == 0);
    CHECK(pgs_encode_not_found(&b, 10) == 0);
    pgs_reader r;
    pgs_reader_init(&r, 6000);
    size_t off = 0;
    int frames = 0;
    while (frames < 2) {
        uint8_t *ptr;
        size_t avail;
        CHECK(pgs_reader_space(&r, &ptr, &avail) == 0);
        CHECK(r.end + avail <= 4 + 6000);
        size_t n = b.len - off < 777 ? b.len - off : 777; /* odd chunk size */
        if (n > avail) n = avail;
        if (n > 0) memcpy(ptr, b.data + off, n);
        pgs_reader_commit(&r, n);
        off += n;
        const uint8_t *body;
        uint32_t len;
        int k;
        while ((k = pgs_reader_next(&r, &body, &len)) == PGS_FRAME) {
            pgs_msg m;
            uint32_t erid;
            CHECK(pgs_decode_response(body, len, &m, &erid) == 0);
            if (frames == 0) {
                CHECK(m.type == PGS_T_RECORD && m.request_id == 9 && m.revision == 3 && m.updated_at_us == -1);
                CHECK(m.state_len == sizeof state && memcmp(m.state, state, sizeof state) == 0);
            } else {
                CHECK(m.type == PGS_T_NOT_FOUND && m.request_id == 10);
            }
            frames++;
        }
        CHECK(k == PGS_NEED_MORE);
        if (n == 0 && off == b.len) break;
    }
    CHECK(frames == 2);
    pgs_reader_free(&r);
    pgs_buf_free(&b);
}

static void test_encoder_ranges(void) {
    pgs_buf b;
    pgs_buf_init(&b);
    char id[256];
    memset(id, 'x', sizeof id);
    CHECK(pgs_encode_load(&b, 1, NULL, 0, id, 256) == PGS_ENC_RANGE);
    CHECK(pgs_encode_upsert(&b, 1, NULL, 0, id, 256, 0, "", 0) == PGS_ENC_RANGE);
    CHECK(pgs_encode_delete(&b, 1, NULL, 0, id, 256, 0, 0) == PGS_ENC_RANGE);
    CHECK(pgs_encode_load(&b, 1, id, 256, "k", 1) == PGS_ENC_RANGE); /* a namespace is a str8 too */
    CHECK(pgs_encode_upsert(&b, 1, id, 256, "k", 1, 0, "", 0) == PGS_ENC_RANGE);
    CHECK(pgs_encode_delete(&b, 1, id, 256, "k", 1, 1, 0) == PGS_ENC_RANGE);
    CHECK(b.len == 0);
    pgs_msg who;
    memset(&who, 0, sizeof who);
    who.user = id;
    who.user_len = 256;
    CHECK(pgs_encode_whoami_ok(&b, 1, &who) == PGS_ENC_RANGE);
    who.user_len = 255;
    who.ns = id;
    who.ns_len = 256;
    CHECK(pgs_encode_whoami_ok(&b, 1, &who) == PGS_ENC_RANGE);
    who.ns_len = 0;
    who.rule = id;
    who.rule_len = 256;
    CHECK(pgs_encode_whoami_ok(&b, 1, &who) == PGS_ENC_RANGE);
    CHECK(b.len == 0);
    uint16_t v[1] = {1};
    CHECK(pgs_encode_hello(&b, 1, v, 0, "", 0) == PGS_ENC_RANGE);
    CHECK(pgs_encode_hello(&b, 1, v, 1, id, 256) == PGS_ENC_RANGE);
    char *msg = malloc(70000);
    if (msg) {
        memset(msg, 'm', 70000);
        CHECK(pgs_encode_error(&b, 1, 500, msg, 65536) == PGS_ENC_RANGE);
        CHECK(pgs_encode_error(&b, 1, 500, msg, 65535) == PGS_ENC_OK);
        CHECK(b.len == 4 + 6 + 4 + 65535);
        free(msg);
    }
    pgs_buf_consume(&b, b.len);
    CHECK(b.len == 0);
    CHECK(pgs_encode_load(&b, 1, NULL, 0, id, 255) == PGS_ENC_OK && b.len == 4 + 6 + 1 + 255);
    pgs_buf_free(&b);
}

static void roundtrip_response(pgs_buf *b, pgs_msg *out) {
    pgs_reader r;
    pgs_reader_init(&r, PGS_DEFAULT_MAX_FRAME_BYTES);
    CHECK(pgs_reader_feed(&r, b->data, b->len) == b->len);
    const uint8_t *body;
    uint32_t len;
    CHECK(pgs_reader_next(&r, &body, &len) == PGS_FRAME);
    uint32_t erid;
    static uint8_t keep[1 << 16];
    memcpy(keep, body, len < sizeof keep ? len : sizeof keep);
    CHECK(pgs_decode_response(keep, len, out, &erid) == 0);
    pgs_reader_free(&r);
    pgs_buf_consume(b, b->len);
}

static void test_decode_response_edges(void) {
    pgs_buf b;
    pgs_buf_init(&b);
    pgs_msg m;
    uint32_t erid;
    /* non-ERROR response with request id 0 is malformed, echoed as 0 */
    CHECK(pgs_encode_ok(&b, 0) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 0);
    pgs_buf_consume(&b, b.len);
    /* ERROR with request id 0 is fine */
    CHECK(pgs_encode_error(&b, 0, 201, "too many", 8) == 0);
    roundtrip_response(&b, &m);
    CHECK(m.type == PGS_T_ERROR && m.request_id == 0 && m.status == 201 && m.text_len == 8);
    /* ERROR with invalid UTF-8 message */
    CHECK(pgs_encode_error(&b, 4, 500, "\xff", 1) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 4);
    pgs_buf_consume(&b, b.len);
    /* HELLO_OK with invalid UTF-8 server_version */
    pgs_limits l;
    pgs_limits_default(&l);
    CHECK(pgs_encode_hello_ok(&b, 1, 1, "\xc0\xaf", 2, &l) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 1);
    pgs_buf_consume(&b, b.len);
    /* request types are unknown response types */
    CHECK(pgs_encode_ping(&b, 5) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_UNKNOWN_MESSAGE_TYPE && erid == 5);
    pgs_buf_consume(&b, b.len);
    /* CONFLICT truncated */
    CHECK(pgs_encode_conflict(&b, 6, 1, 2) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4 - 1, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 6);
    pgs_buf_consume(&b, b.len);
    /* WHOAMI_OK: every string must be UTF-8 (user, namespace, rule); the namespace rule is not checked on a
       response, and the permissions byte arrives as sent (the classifier ignores unknown bits) */
    pgs_msg who;
    memset(&who, 0, sizeof who);
    who.uid = 0xFFFFFFFFu;
    who.gid = 7;
    who.pid = 0;
    who.user = "op";
    who.user_len = 2;
    who.ns = "not/a-name";
    who.ns_len = 10;
    who.permissions = 0xFF;
    who.rule = "r";
    who.rule_len = 1;
    CHECK(pgs_encode_whoami_ok(&b, 8, &who) == 0);
    roundtrip_response(&b, &m);
    CHECK(m.type == PGS_T_WHOAMI_OK && m.request_id == 8 && m.uid == 0xFFFFFFFFu && m.gid == 7 && m.pid == 0);
    CHECK(m.permissions == 0xFF && m.ns_len == 10 && m.user_len == 2 && m.rule_len == 1 && !m.has_ns);
    const char *bad[3] = {"user", "namespace", "rule"};
    for (int k = 0; k < 3; k++) {
        pgs_msg w = who;
        if (k == 0) w.user = "\xc0\xaf";
        if (k == 1) w.ns = "\xed\xa0\x80"; /* a surrogate */
        if (k == 2) w.rule = "\xff";
        if (k == 0) w.user_len = 2;
        if (k == 1) w.ns_len = 3;
        CHECK(pgs_encode_whoami_ok(&b, 9, &w) == 0);
        CHECKF(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 9,
               "invalid UTF-8 in the %s", bad[k]);
        pgs_buf_consume(&b, b.len);
    }
    /* WHOAMI is a request type: an unknown response type */
    CHECK(pgs_encode_whoami(&b, 5) == 0);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_UNKNOWN_MESSAGE_TYPE && erid == 5);
    pgs_buf_consume(&b, b.len);
    /* RECORD with the smallest updated_at */
    CHECK(pgs_encode_record(&b, 7, 1, INT64_MIN, "", 0) == 0);
    roundtrip_response(&b, &m);
    CHECK(m.updated_at_us == INT64_MIN && m.state_len == 0);
    pgs_buf_free(&b);
}

static void test_decode_request_edges(void) {
    pgs_buf b;
    pgs_buf_init(&b);
    pgs_msg m;
    uint32_t erid;
    pgs_limits l;
    pgs_limits_default(&l);
    /* conditional DELETE without the capability: flag undefined */
    CHECK(pgs_encode_delete(&b, 3, NULL, 0, "a", 1, 1, 2) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0 && m.has_expected && m.expected_revision == 2);
    l.capabilities = 0;
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 3);
    pgs_buf_consume(&b, b.len);
    /* a smaller max_id_bytes applies */
    l.max_id_bytes = 3;
    CHECK(pgs_encode_load(&b, 4, NULL, 0, "abcd", 4) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_INVALID_ARGUMENT && erid == 4);
    pgs_buf_consume(&b, b.len);
    /* the NAMESPACE flag is defined only with IDENTITY, only on LOAD, UPSERT and DELETE */
    pgs_limits_default(&l);
    CHECK(pgs_encode_delete(&b, 5, "billing", 7, "a", 1, 1, 2) == 0);
    CHECK(b.data[5] == (PGS_FLAG_NAMESPACE | PGS_FLAG_EXPECTED_REVISION));
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0 && m.has_ns && m.ns_len == 7 &&
          memcmp(m.ns, "billing", 7) == 0 && m.id_len == 1 && m.id[0] == 'a' && m.expected_revision == 2);
    l.capabilities = PGS_CAP_CONDITIONAL_DELETE;
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 5);
    pgs_limits_default(&l);
    pgs_buf_consume(&b, b.len);
    CHECK(pgs_encode_upsert(&b, 6, "", 0, "k", 1, 0, "s", 1) == 0); /* the shared namespace, named */
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0 && m.has_ns && m.ns_len == 0 &&
          m.state_len == 1);
    pgs_buf_consume(&b, b.len);
    CHECK(pgs_encode_load(&b, 7, "bill ing", 8, "k", 1) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_INVALID_ARGUMENT && erid == 7);
    pgs_buf_consume(&b, b.len);
    /* the namespace rule before the id rule makes no difference to the status: both are 102 */
    CHECK(pgs_encode_load(&b, 8, "ok", 2, "", 0) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_INVALID_ARGUMENT && erid == 8);
    pgs_buf_consume(&b, b.len);
    /* WHOAMI: flags 0, empty payload */
    CHECK(pgs_encode_whoami(&b, 9) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0 && m.type == PGS_T_WHOAMI);
    b.data[5] = PGS_FLAG_NAMESPACE;
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 9);
    pgs_buf_consume(&b, b.len);
    /* HELLO with 255 versions */
    uint16_t vs[255];
    for (int i = 0; i < 255; i++) vs[i] = (uint16_t)(i + 1);
    CHECK(pgs_encode_hello(&b, 9, vs, 255, "n", 1) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0);
    CHECK(m.versions_count == 255 && m.versions[254] == 255 && m.text_len == 1);
    pgs_buf_free(&b);
}

/* Deterministic mutation fuzzing: random edits of valid frames must never
   crash or overread (run under `make asan`), and whatever decodes must
   re-encode to the same bytes. */
static void test_metric_names(void) {
    const char *good[] = {"pgstate_up", "a", "_", ":", "process_cpu_seconds_total", "x:y_9", "A9"};
    const char *bad[] = {"", "9lives", "pgstate up", "pgstate-up", "pgstate.up", "b\xc3\xbcro", "a{b}", "a\"",
                         "up\n"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECKF(pgs_metric_name_valid(U8(good[i]), strlen(good[i])), "%s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(!pgs_metric_name_valid(U8(bad[i]), strlen(bad[i])), "%s", bad[i]);
    }
    char name[256];
    memset(name, 'n', sizeof name);
    CHECK(pgs_metric_name_valid(U8(name), 255));
}

static void test_operator_codec(void) {
    pgs_buf b;
    pgs_buf_init(&b);
    char text[256];
    memset(text, 't', sizeof text);
    /* str8 fields and the u16 count bound what can be encoded */
    pgs_stat_entry e = {text, 256, "", 0, 1.0};
    CHECK(pgs_encode_stats_ok(&b, 1, &e, 1) == PGS_ENC_RANGE);
    e.name_len = 255;
    e.labels = text;
    e.labels_len = 256;
    CHECK(pgs_encode_stats_ok(&b, 1, &e, 1) == PGS_ENC_RANGE);
    CHECK(pgs_encode_stats_ok(&b, 1, NULL, 65536) == PGS_ENC_RANGE);
    pgs_client_row r;
    memset(&r, 0, sizeof r);
    r.client_name = text;
    r.client_name_len = 256;
    CHECK(pgs_encode_clients_ok(&b, 1, 0, &r, 1) == PGS_ENC_RANGE);
    CHECK(pgs_encode_clients_ok(&b, 1, 0, NULL, 65536) == PGS_ENC_RANGE);
    CHECK(b.len == 0);
    /* the largest entry round-trips; iterating gives it back */
    e.labels_len = 255;
    e.value = -0.0;
    CHECK(pgs_encode_stats_ok(&b, 7, &e, 1) == PGS_ENC_OK);
    CHECK(b.len == 4 + 6 + 2 + 1 + 255 + 1 + 255 + 8);
    pgs_msg m;
    uint32_t erid;
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == 0 && m.type == PGS_T_STATS_OK && m.count == 1);
    pgs_cursor it;
    pgs_stat_entry got;
    pgs_items_begin(&it, &m);
    CHECK(pgs_stats_next(&it, &got) == 1 && got.name_len == 255 && got.labels_len == 255);
    CHECK(memcmp(&got.value, &e.value, sizeof got.value) == 0); /* -0.0 bit for bit */
    CHECK(pgs_stats_next(&it, &got) == 0);
    /* HEALTH_OK of any other payload length, and a STATS_OK whose count says more than it holds */
    pgs_buf_consume(&b, b.len);
    pgs_msg h;
    memset(&h, 0, sizeof h);
    CHECK(pgs_encode_health_ok(&b, 9, &h) == 0 && b.len == 4 + 6 + 17);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == 0 && m.type == PGS_T_HEALTH_OK);
    CHECK(pgs_decode_response(b.data + 4, b.len - 5, &m, &erid) == PGS_S_MALFORMED_FRAME && erid == 9);
    pgs_buf_consume(&b, b.len);
    CHECK(pgs_encode_stats_ok(&b, 9, NULL, 0) == 0);
    b.data[4 + 6 + 1] = 1; /* count 1, no entry */
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_MALFORMED_FRAME);
    /* operators' requests are requests; their answers responses */
    pgs_buf_consume(&b, b.len);
    pgs_limits l;
    pgs_limits_default(&l);
    CHECK(pgs_encode_pause(&b, 9, 0xFFFFFFFFu) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == 0 && m.timeout_ms == 0xFFFFFFFFu);
    CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == PGS_S_UNKNOWN_MESSAGE_TYPE);
    pgs_buf_consume(&b, b.len);
    CHECK(pgs_encode_clients_ok(&b, 9, 0, NULL, 0) == 0);
    CHECK(pgs_decode_request(b.data + 4, b.len - 4, &l, &m, &erid) == PGS_S_UNKNOWN_MESSAGE_TYPE);
    pgs_buf_free(&b);
}

static uint32_t lcg(uint32_t *st) {
    *st = *st * 1664525u + 1013904223u;
    return *st >> 8;
}

static void test_decoder_mutations(void) {
    pgs_buf seeds;
    pgs_buf_init(&seeds);
    size_t starts[32];
    int n = 0;
    pgs_limits l;
    pgs_limits_default(&l);
    uint16_t v[2] = {1, 2};
#define SEED(expr) do { starts[n++] = seeds.len; CHECK((expr) == 0); } while (0)
    SEED(pgs_encode_hello(&seeds, 1, v, 2, "c", 1));
    SEED(pgs_encode_load(&seeds, 2, NULL, 0, "order-1", 7));
    SEED(pgs_encode_upsert(&seeds, 3, NULL, 0, "k", 1, 5, "state", 5));
    SEED(pgs_encode_delete(&seeds, 4, NULL, 0, "k", 1, 1, 9));
    SEED(pgs_encode_hello_ok(&seeds, 1, 1, "srv", 3, &l));
    SEED(pgs_encode_record(&seeds, 5, 2, -3, "xyz", 3));
    SEED(pgs_encode_conflict(&seeds, 6, 1, 2));
    SEED(pgs_encode_error(&seeds, 7, 102, "bad id", 6));
    SEED(pgs_encode_ok(&seeds, 8));
    SEED(pgs_encode_whoami(&seeds, 9));
    SEED(pgs_encode_load(&seeds, 10, "billing", 7, "k", 1));
    SEED(pgs_encode_delete(&seeds, 11, "ns", 2, "k", 1, 1, 4));
    pgs_msg who;
    memset(&who, 0, sizeof who);
    who.uid = 1001;
    who.user = "billing";
    who.user_len = 7;
    who.ns = "billing";
    who.ns_len = 7;
    who.permissions = 3;
    who.rule = "a:2";
    who.rule_len = 3;
    SEED(pgs_encode_whoami_ok(&seeds, 12, &who));
    SEED(pgs_encode_health(&seeds, 13));
    SEED(pgs_encode_clients(&seeds, 14, 5));
    SEED(pgs_encode_pause(&seeds, 15, 30000));
    pgs_msg h;
    memset(&h, 0, sizeof h);
    h.health_state = 1;
    h.pool_up = h.pool_size = 8;
    SEED(pgs_encode_health_ok(&seeds, 16, &h));
    const pgs_stat_entry entries[2] = {{"up", 2, "", 0, 1.0}, {"q", 1, "a=\"b\"", 5, 0.5}};
    SEED(pgs_encode_stats_ok(&seeds, 17, entries, 2));
    pgs_client_row row;
    memset(&row, 0, sizeof row);
    row.connection_id = 7;
    row.user = "u";
    row.user_len = 1;
    row.client_name = "c";
    row.client_name_len = 1;
    SEED(pgs_encode_clients_ok(&seeds, 18, 1, &row, 1));
#undef SEED
    starts[n] = seeds.len;
    uint32_t st = 12345;
    int decoded = 0;
    for (int iter = 0; iter < 20000; iter++) {
        int k = (int)(lcg(&st) % (uint32_t)n);
        size_t len = starts[k + 1] - starts[k];
        uint8_t f[64];
        CHECKF(len <= sizeof f, "seed %d is %zu bytes", k, len);
        if (len > sizeof f) continue;
        memcpy(f, seeds.data + starts[k], len);
        int edits = 1 + (int)(lcg(&st) % 3);
        for (int e = 0; e < edits; e++) f[lcg(&st) % len] = (uint8_t)lcg(&st);
        if (lcg(&st) % 4 == 0) len = lcg(&st) % (len + 1); /* truncate */
        /* exact-size heap copy so that ASan sees any overread */
        uint8_t *heap = malloc(len ? len : 1);
        memcpy(heap, f, len);
        pgs_reader r;
        pgs_reader_init(&r, 4096);
        CHECK(pgs_reader_feed(&r, heap, len) == len);
        const uint8_t *body;
        uint32_t blen;
        if (pgs_reader_next(&r, &body, &blen) == PGS_FRAME) {
            pgs_msg m;
            uint32_t erid;
            for (int dir = 0; dir < 2; dir++) {
                int st2 = dir ? pgs_decode_response(body, blen, &m, &erid)
                              : pgs_decode_request(body, blen, &l, &m, &erid);
                if (st2 != 0) continue;
                decoded++;
                pgs_buf out;
                pgs_buf_init(&out);
                CHECK(pgs_encode_msg(&out, &m) == 0);
                CHECK(out.len == 4 + (size_t)blen && memcmp(out.data + 4, body, blen) == 0);
                pgs_buf_free(&out);
            }
        }
        pgs_reader_free(&r);
        free(heap);
    }
    CHECK(decoded > 100);
    pgs_buf_free(&seeds);
}

/* The repeat finder a TRANSACT needs: the earliest second occurrence, byte for byte. */
static void test_find_repeat(void) {
    size_t first = 99, again = 99;
    pgs_span none[3] = {{"a", 1}, {"ab", 2}, {"b", 1}};
    CHECK(pgs_find_repeat(none, 3, &first, &again) == 0);
    CHECK(pgs_find_repeat(none, 0, &first, &again) == 0 && pgs_find_repeat(none, 1, &first, &again) == 0);
    pgs_span late[4] = {{"x", 1}, {"y", 1}, {"y", 1}, {"x", 1}};
    CHECK(pgs_find_repeat(late, 4, &first, &again) == 1 && first == 1 && again == 2);
    pgs_span crossed[5] = {{"x", 1}, {"y", 1}, {"z", 1}, {"y", 1}, {"x", 1}};
    CHECK(pgs_find_repeat(crossed, 5, &first, &again) == 1 && first == 1 && again == 3);
    pgs_span thrice[4] = {{"k", 1}, {"q", 1}, {"k", 1}, {"k", 1}};
    CHECK(pgs_find_repeat(thrice, 4, &first, &again) == 1 && first == 0 && again == 2);
    pgs_span bytes[2] = {{"a\0b", 3}, {"a\0c", 3}}; /* compared as bytes, not C strings */
    CHECK(pgs_find_repeat(bytes, 2, &first, &again) == 0);
    bytes[1].p = "a\0b";
    CHECK(pgs_find_repeat(bytes, 2, &first, &again) == 1 && first == 0 && again == 1);
}

/* Decodes an item request frame (without its length prefix) with these capabilities. */
static int decode_items(const pgs_item *items, size_t n, uint8_t type, uint32_t caps) {
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_item_request(&b, type, 5, NULL, 0, items, n, pgs_item_at) == PGS_ENC_OK);
    pgs_limits lim;
    pgs_limits_default(&lim);
    lim.capabilities = caps;
    pgs_msg m;
    uint32_t erid;
    int st = pgs_decode_request(b.data + 4, b.len - 4, &lim, &m, &erid);
    pgs_buf_free(&b);
    return st;
}

/* Item flags are defined only with the capability of the single request the item mirrors; item rules are the
   request's in a TRANSACT, each item's own in a BULK_WRITE; the multi-key types need MULTI_KEY. */
static void test_multikey_request_rules(void) {
    const uint32_t all = PGS_CAP_CONDITIONAL_DELETE | PGS_CAP_MULTI_KEY | PGS_CAP_TTL;
    pgs_item cond = {PGS_ITEM_DELETE, "k", 1, 1, 3, 0, 0, NULL, 0};
    pgs_item ttl = {PGS_ITEM_UPSERT, "k", 1, 1, 0, 1, 60, U8("s"), 1};
    CHECK(decode_items(&cond, 1, PGS_T_TRANSACT, all) == 0);
    CHECK(decode_items(&cond, 1, PGS_T_TRANSACT, all & ~PGS_CAP_CONDITIONAL_DELETE) == PGS_S_MALFORMED_FRAME);
    CHECK(decode_items(&ttl, 1, PGS_T_BULK_WRITE, all) == 0);
    CHECK(decode_items(&ttl, 1, PGS_T_BULK_WRITE, all & ~PGS_CAP_TTL) == PGS_S_MALFORMED_FRAME);
    CHECK(decode_items(&ttl, 1, PGS_T_BULK_WRITE, all & ~PGS_CAP_MULTI_KEY) == PGS_S_UNKNOWN_MESSAGE_TYPE);
    ttl.ttl_seconds = 0; /* an item rule: the whole TRANSACT, but only that item of a BULK_WRITE */
    CHECK(decode_items(&ttl, 1, PGS_T_TRANSACT, all) == PGS_S_INVALID_ARGUMENT);
    CHECK(decode_items(&ttl, 1, PGS_T_BULK_WRITE, all) == 0);
    pgs_item twice[2] = {cond, cond};
    CHECK(decode_items(twice, 2, PGS_T_TRANSACT, all) == PGS_S_INVALID_ARGUMENT);
    CHECK(decode_items(twice, 2, PGS_T_BULK_WRITE, all) == 0); /* two items for one id apply in item order */
    CHECK(decode_items(twice, 0, PGS_T_BULK_WRITE, all) == PGS_S_INVALID_ARGUMENT);
    /* the item check, one definition for both sides */
    pgs_limits lim;
    pgs_limits_default(&lim);
    lim.max_state_bytes = 4;
    pgs_id_problem idp;
    size_t at;
    pgs_item up = {PGS_ITEM_UPSERT, "k", 1, 1, PGS_MAX_UPSERT_EXPECTED, 1, PGS_MAX_TTL_SECONDS, U8("abcd"), 4};
    CHECK(pgs_item_check(&up, &lim, &idp, &at) == PGS_ITEM_OK);
    up.state_len = 5;
    CHECK(pgs_item_check(&up, &lim, &idp, &at) == PGS_ITEM_STATE_TOO_LARGE);
    up.ttl_seconds = PGS_MAX_TTL_SECONDS + 1u;
    CHECK(pgs_item_check(&up, &lim, &idp, &at) == PGS_ITEM_BAD_TTL);
    up.expected_revision = PGS_MAX_UPSERT_EXPECTED + 1;
    CHECK(pgs_item_check(&up, &lim, &idp, &at) == PGS_ITEM_BAD_EXPECTED);
    up.id = "a\x7f";
    up.id_len = 2;
    CHECK(pgs_item_check(&up, &lim, &idp, &at) == PGS_ITEM_BAD_ID && idp == PGS_ID_CONTROL && at == 1);
    pgs_item del = {PGS_ITEM_DELETE, "k", 1, 1, PGS_MAX_REVISION, 0, 0, NULL, 0};
    CHECK(pgs_item_check(&del, &lim, &idp, &at) == PGS_ITEM_OK);
    del.expected_revision = PGS_MAX_REVISION + 1;
    CHECK(pgs_item_check(&del, &lim, &idp, &at) == PGS_ITEM_BAD_EXPECTED);
    del.has_expected = 0; /* unconditional: no expectation to check */
    CHECK(pgs_item_check(&del, &lim, &idp, &at) == PGS_ITEM_OK);
    /* the LIST prefix may be empty, an id may not */
    CHECK(pgs_prefix_check(U8(""), 0, 255, &at) == PGS_ID_OK && pgs_id_check(U8(""), 0, 255, &at) == PGS_ID_EMPTY);
    CHECK(pgs_prefix_check(U8("a\x01"), 2, 255, &at) == PGS_ID_CONTROL);
    CHECK(pgs_prefix_check(U8("abc"), 3, 2, &at) == PGS_ID_TOO_LONG);
}

/* HELLO_OK carries the batch limits exactly when it announces MULTI_KEY; the encoders refuse what the wire
   cannot hold. */
static void test_multikey_frames(void) {
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_batch_items = 7;
    l.max_batch_bytes = 99;
    for (int with = 0; with < 2; with++) {
        l.capabilities = with ? PGS_CAP_MULTI_KEY : PGS_CAP_IDENTITY;
        pgs_buf b;
        pgs_buf_init(&b);
        CHECK(pgs_encode_hello_ok(&b, 1, 1, "s", 1, &l) == PGS_ENC_OK);
        CHECK(b.len == 4 + 6 + 2 + 2 + 4 + 2 + 4 + 4 + 4 + (with ? 8u : 0u));
        pgs_msg m;
        uint32_t erid;
        CHECK(pgs_decode_response(b.data + 4, b.len - 4, &m, &erid) == 0);
        CHECK(m.max_batch_items == (with ? 7u : 0u) && m.max_batch_bytes == (with ? 99u : 0u));
        pgs_buf_free(&b);
    }
    char long_id[256];
    memset(long_id, 'i', sizeof long_id);
    const char *ids[1] = {long_id};
    size_t lens[1] = {256};
    pgs_buf b;
    pgs_buf_init(&b);
    CHECK(pgs_encode_bulk_load(&b, 1, NULL, 0, ids, lens, 1) == PGS_ENC_RANGE && b.len == 0);
    lens[0] = 255;
    CHECK(pgs_encode_bulk_load(&b, 1, NULL, 0, ids, lens, 1) == PGS_ENC_OK);
    CHECK(pgs_encode_bulk_load(&b, 1, NULL, 0, ids, lens, 65536) == PGS_ENC_RANGE);
    CHECK(pgs_encode_list(&b, 1, NULL, 0, long_id, 256, NULL, 0, 1) == PGS_ENC_RANGE);
    pgs_outcome failed = {PGS_RESULT_FAILED, 0, 0, 0, 0, 500, long_id, 65536};
    CHECK(pgs_encode_outcomes(&b, 1, &failed, 1) == PGS_ENC_RANGE);
    pgs_buf_free(&b);
}

static void test_status_names(void) {
    CHECK(strcmp(pgs_status_wire_name(102), "INVALID_ARGUMENT") == 0);
    CHECK(strcmp(pgs_status_wire_name(300), "OUTCOME_UNKNOWN") == 0);
    CHECK(strcmp(pgs_status_wire_name(106), "PERMISSION_DENIED") == 0);
    CHECK(pgs_status_wire_name(107) == NULL);
    CHECK(pgs_status_wire_name(299) == NULL);
    CHECK(pgs_status_wire_name(0) == NULL);
}

int main(void) {
    RUN(test_utf8);
    RUN(test_id_rule);
    RUN(test_namespace_rule);
    RUN(test_reader_bound_and_rewind);
    RUN(test_reader_partial_consumes_nothing);
    RUN(test_reader_too_large_without_body);
    RUN(test_reader_space_commit);
    RUN(test_encoder_ranges);
    RUN(test_decode_response_edges);
    RUN(test_decode_request_edges);
    RUN(test_metric_names);
    RUN(test_operator_codec);
    RUN(test_decoder_mutations);
    RUN(test_find_repeat);
    RUN(test_multikey_request_rules);
    RUN(test_multikey_frames);
    RUN(test_status_names);
    return harness_summary();
}
