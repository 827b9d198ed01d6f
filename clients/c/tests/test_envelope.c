/*
 * test_envelope.c - the envelope layer (libpgstate-envelope) without a daemon:
 *
 *   - every vector of proto-spec/vectors/envelope.json: subkeys (and the HKDF
 *     of RFC 5869), valid envelopes decoded (and encoded byte for byte where
 *     encode_exact), invalid ones refused with their error class;
 *   - every error class produced through the API, construction refusals;
 *   - compression bombs: gzip and zstd of 1 GiB of zeros claiming a small
 *     length (corrupt) or their true length over the bound (too_large), with
 *     the peak memory of the process watched;
 *   - key rotation;
 *   - the client calls (upsert, load, rewrap, the namespace from WHOAMI)
 *     against an in-memory fake store served by a forked child.
 *
 * Built twice by make test: with zstd, and with PGSTATE_ENVELOPE_NO_ZSTD (the
 * build without libzstd), where zstd is unavailable_mode.
 */
#include "codec.h"
#include "envelope_crypto.h"
#include "envelope_format.h"
#include "harness.h"
#include "pgstate_envelope.h"
#include "vector_json.h"

#include <zlib.h>
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
#include <zstd.h>
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef PGSTATE_ENVELOPE_NO_ZSTD
#define HAVE_ZSTD 0
#else
#define HAVE_ZSTD 1
#endif

static const char *INFO = "billing/orders";
static const char *NS = "billing";
static const char *ID = "order-42";

static json_object *g_vectors;

/* ------------------------------------------------------------------------- */
/* helpers                                                                    */
/* ------------------------------------------------------------------------- */

static int contains(const char *hay, const char *needle) {
    return hay != NULL && strstr(hay, needle) != NULL;
}

static int has_bytes(const uint8_t *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(hay + i, needle, k) == 0) return 1;
    }
    return 0;
}

static uint8_t *hex_field(json_object *v, const char *key, size_t *n) {
    size_t hl = 0;
    const char *h = vj_str(v, key, &hl);
    *n = 0;
    return h ? hex_decode(h, hl, n) : NULL;
}

static void key_bytes(uint8_t key[32], unsigned seed) {
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(seed * 0x20u + (unsigned)i);
}

/* A ring of the vector's keys, NULL when it has none. */
static pgstate_envelope_keyring *ring_of(json_object *v) {
    json_object *keys = vj_get(v, "keys");
    if (vj_keys(keys) == 0) return NULL;
    uint64_t active = 0;
    vj_u64(v, "active_key_id", &active);
    pgstate_envelope_keyring *ring = pgstate_envelope_keyring_new();
    json_object_object_foreach(keys, k, val) {
        size_t n = 0;
        const char *h = json_object_get_string(val);
        uint8_t *key = hex_decode(h, strlen(h), &n);
        uint32_t id = (uint32_t)strtoul(k, NULL, 10);
        CHECKF(key != NULL && n == 32, "key %s", k);
        if (key != NULL && n == 32) CHECK(pgstate_envelope_keyring_add(ring, id, key, id == active) == PGSTATE_OK);
        free(key);
    }
    return ring;
}

static int compression_of(json_object *v) {
    const char *c = vj_str(v, "compression", NULL);
    if (c == NULL || strcmp(c, "none") == 0) return PGSTATE_ENVELOPE_COMPRESSION_NONE;
    if (strcmp(c, "gzip") == 0) return PGSTATE_ENVELOPE_COMPRESSION_GZIP;
    if (strcmp(c, "zstd") == 0) return PGSTATE_ENVELOPE_COMPRESSION_ZSTD;
    return -1;
}

static int mode_of(json_object *v) {
    const char *m = vj_str(v, "mode", NULL);
    if (m == NULL || strcmp(m, "none") == 0) return PGSTATE_ENVELOPE_MODE_NONE;
    if (strcmp(m, "aes_gcm") == 0) return PGSTATE_ENVELOPE_MODE_ENCRYPT;
    if (strcmp(m, "hmac") == 0) return PGSTATE_ENVELOPE_MODE_INTEGRITY;
    return -1;
}

static int class_is(int rc, const char *cls) {
    const char *got = pgstate_envelope_error_class(rc);
    return got != NULL && strcmp(got, cls) == 0;
}

/* A state of n bytes: JSON-like lines, compressible like real states. */
static uint8_t *sample_state(size_t n) {
    uint8_t *s = malloc(n + 1);
    char line[64];
    size_t o = 0;
    for (unsigned i = 0; o < n; i++) {
        int k = snprintf(line, sizeof line, "{\"line\":%05u,\"status\":\"open\",\"items\":%u}\n", i, i % 7);
        for (int j = 0; j < k && o < n; j++) s[o++] = (uint8_t)line[j];
    }
    return s;
}

static pgstate_envelope_keyring *ring12(uint32_t active) {
    pgstate_envelope_keyring *ring = pgstate_envelope_keyring_new();
    uint8_t k1[32], k2[32];
    key_bytes(k1, 0);
    key_bytes(k2, 1);
    pgstate_envelope_keyring_add(ring, 1, k1, active == 1);
    pgstate_envelope_keyring_add(ring, 2, k2, active == 2);
    return ring;
}

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ------------------------------------------------------------------------- */
/* vectors                                                                    */
/* ------------------------------------------------------------------------- */

static void test_hkdf_rfc5869(void) {
    /* RFC 5869 A.1 (SHA-256): the first 32 bytes of its OKM are T(1), what the envelope uses. */
    uint8_t ikm[22], salt[13], info[10], prk[32], okm[32];
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 13; i++) salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
    size_t n;
    uint8_t *want_prk = hex_decode("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", 64, &n);
    uint8_t *want_okm = hex_decode("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf", 64, &n);
    pgse_crypto k;
    char why[200];
    CHECK(pgse_crypto_init(&k, why, sizeof why) == 0);
    CHECK(pgse_hkdf_extract(salt, sizeof salt, ikm, sizeof ikm, prk) == 0);
    CHECK(memcmp(prk, want_prk, 32) == 0);
    CHECK(pgse_hkdf_expand32(&k, prk, info, sizeof info, okm) == 0);
    CHECK(memcmp(okm, want_okm, 32) == 0);
    pgse_crypto_free(&k);
    free(want_prk);
    free(want_okm);
}

static void test_subkey_vectors(void) {
    json_object *arr = vj_array(g_vectors, "subkeys");
    CHECK(vj_len(arr) >= 3);
    pgse_crypto k;
    char why[200];
    CHECK(pgse_crypto_init(&k, why, sizeof why) == 0);
    static const char salt[] = PGSE_HKDF_SALT;
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *v = vj_at(arr, i);
        const char *name = vj_str(v, "name", NULL) ? vj_str(v, "name", NULL) : "(unnamed)";
        size_t kn = 0, in = 0, sn = 0, info_len = 0, ns_len = 0, id_len = 0;
        uint8_t *key = hex_field(v, "key_hex", &kn), *hinfo = hex_field(v, "hkdf_info_hex", &in),
                *want = hex_field(v, "subkey_hex", &sn);
        const char *info = vj_str(v, "info", &info_len), *ns = vj_str(v, "namespace", &ns_len),
                   *id = vj_str(v, "persistence_id", &id_len);
        CHECKF(key && kn == 32 && hinfo && want && sn == 32 && info && ns && id, "%s: fields", name);
        if (!(key && kn == 32 && hinfo && want && sn == 32 && info && ns && id)) continue;
        uint8_t prk[32], a[32], b[32];
        CHECK(pgse_hkdf_extract((const uint8_t *)salt, sizeof salt - 1, key, 32, prk) == 0);
        CHECK(pgse_hkdf_expand32(&k, prk, hinfo, in, a) == 0); /* from the vector's info bytes */
        CHECKF(memcmp(a, want, 32) == 0, "%s: HKDF of hkdf_info_hex", name);
        CHECK(pgse_subkey(&k, prk, info, info_len, ns, ns_len, id, id_len, b) == 0); /* from the fields */
        CHECKF(memcmp(b, want, 32) == 0, "%s: subkey from info, namespace, id", name);
        free(key);
        free(hinfo);
        free(want);
    }
    pgse_crypto_free(&k);
}

/* One valid vector: decodes to plaintext; encodes exactly where encode_exact, else round-trips. */
static void check_valid(json_object *v) {
    const char *name = vj_str(v, "name", NULL) ? vj_str(v, "name", NULL) : "(unnamed)";
    size_t info_len = 0, ns_len = 0, id_len = 0, env_len = 0, plain_len = 0, nonce_len = 0;
    const char *info = vj_str(v, "info", &info_len), *ns = vj_str(v, "namespace", &ns_len),
               *id = vj_str(v, "persistence_id", &id_len);
    uint64_t revision = 0, bound = 0;
    CHECKF(vj_u64(v, "revision", &revision), "%s: revision", name);
    vj_u64(v, "max_decompressed", &bound);
    uint8_t *env = hex_field(v, "envelope_hex", &env_len), *plain = hex_field(v, "plaintext_hex", &plain_len);
    uint8_t *nonce = hex_field(v, "nonce_hex", &nonce_len);
    CHECKF(env && plain && info && ns && id, "%s: fields", name);
    if (!(env && plain && info && ns && id)) goto out;
    int compression = compression_of(v), mode = mode_of(v);
    CHECKF(compression >= 0 && mode >= 0, "%s: compression / mode", name);
    pgstate_envelope_keyring *ring = ring_of(v);
    int writes_keyed = ring != NULL && pgstate_envelope_keyring_active(ring) != 0;
    /* A reader: any codec with the ring reads every mode. */
    pgstate_envelope_codec *reader =
        pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_NONE, ring, PGSTATE_ENVELOPE_MODE_NONE, info, bound);
    CHECKF(pgstate_envelope_codec_status(reader) == PGSTATE_OK, "%s: %s", name, pgstate_envelope_errmsg(reader));
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = pgstate_envelope_decode(reader, ns, id, id_len, revision, env, env_len, &out, &out_len);
    if (!HAVE_ZSTD && compression == PGSTATE_ENVELOPE_COMPRESSION_ZSTD) {
        CHECKF(class_is(rc, "unavailable_mode") && contains(pgstate_envelope_errmsg(reader), "libzstd"),
               "%s: without zstd: %s", name, pgstate_envelope_errmsg(reader));
    } else {
        CHECKF(rc == PGSTATE_OK, "%s: %s", name, pgstate_envelope_errmsg(reader));
        CHECKF(rc != PGSTATE_OK || (out_len == plain_len && memcmp(out, plain, plain_len) == 0 && out[out_len] == 0),
               "%s: decoded %zu bytes, want %zu", name, out_len, plain_len);
    }
    pgstate_envelope_free(out);

    /* The clear header as the vector names it. */
    pgstate_envelope_header h;
    CHECK(pgstate_envelope_peek(env, env_len, &h) == PGSTATE_OK);
    if (vj_true(v, "passthrough")) {
        CHECKF(h.enveloped == 0, "%s: not an envelope", name);
    } else {
        uint64_t flags = 0, key_id = 0;
        vj_u64(v, "flags", &flags);
        vj_u64(v, "key_id", &key_id);
        CHECKF(h.enveloped && h.flags == flags && h.key_id == key_id && h.revision == revision &&
                   h.length == plain_len && h.compression == compression && h.mode == mode,
               "%s: header", name);
        /* the associated data, byte for byte */
        size_t ad_len = 0;
        uint8_t *want_ad = hex_field(v, "associated_data_hex", &ad_len);
        if (want_ad != NULL) {
            uint8_t ad[PGSE_MAX_AD];
            size_t hl = PGSE_FIXED_HEADER + (mode == PGSTATE_ENVELOPE_MODE_ENCRYPT ? PGSE_NONCE_BYTES : 0);
            size_t n = pgse_put_ad(ad, env, hl, ns, ns_len, id, id_len);
            CHECKF(n == ad_len && memcmp(ad, want_ad, n) == 0, "%s: associated data", name);
        }
        free(want_ad);
    }

    /* Writing: exactly where the vector says so, else encode + decode again. */
    if (!vj_true(v, "passthrough") && (mode == PGSTATE_ENVELOPE_MODE_NONE || writes_keyed) &&
        (HAVE_ZSTD || compression != PGSTATE_ENVELOPE_COMPRESSION_ZSTD)) {
        uint64_t key_id = 0;
        vj_u64(v, "key_id", &key_id);
        uint64_t active = 0;
        vj_u64(v, "active_key_id", &active);
        /* a vector written under a retired key: write it with a ring where that key is active */
        pgstate_envelope_keyring *wring = ring;
        if (mode != PGSTATE_ENVELOPE_MODE_NONE && key_id != active) {
            wring = pgstate_envelope_keyring_new();
            json_object *val = vj_get(vj_get(v, "keys"), "1");
            size_t kn;
            uint8_t *k = val ? hex_decode(json_object_get_string(val), (size_t)json_object_get_string_len(val), &kn)
                             : NULL;
            CHECKF(k != NULL && key_id == 1, "%s: the retired key", name);
            if (k) pgstate_envelope_keyring_add(wring, (uint32_t)key_id, k, 1);
            free(k);
        }
        pgstate_envelope_codec *writer = pgstate_envelope_codec_new(compression, wring, mode, info, bound);
        CHECKF(pgstate_envelope_codec_status(writer) == PGSTATE_OK, "%s: %s", name, pgstate_envelope_errmsg(writer));
        uint8_t *w = NULL;
        size_t w_len = 0;
        rc = pgstate_envelope_encode_with_nonce(writer, ns, id, id_len, revision, plain, plain_len, nonce, &w, &w_len);
        CHECKF(rc == PGSTATE_OK, "%s: encode: %s", name, pgstate_envelope_errmsg(writer));
        if (vj_true(v, "encode_exact")) {
            CHECKF(rc == PGSTATE_OK && w_len == env_len && memcmp(w, env, env_len) == 0,
                   "%s: encoded %zu bytes, not the vector's %zu", name, w_len, env_len);
        } else if (rc == PGSTATE_OK) {
            uint8_t *back = NULL;
            size_t back_len = 0;
            CHECKF(pgstate_envelope_decode(reader, ns, id, id_len, revision, w, w_len, &back, &back_len) ==
                       PGSTATE_OK && back_len == plain_len && memcmp(back, plain, plain_len) == 0,
                   "%s: round trip: %s", name, pgstate_envelope_errmsg(reader));
            CHECKF(w_len >= 5 && w[5] == env[5], "%s: flags written", name);
            pgstate_envelope_free(back);
        }
        pgstate_envelope_free(w);
        pgstate_envelope_codec_free(writer);
        if (wring != ring) pgstate_envelope_keyring_free(wring);
    }
    pgstate_envelope_codec_free(reader);
    pgstate_envelope_keyring_free(ring);
out:
    free(env);
    free(plain);
    free(nonce);
}

static void test_valid_vectors(void) {
    json_object *arr = vj_array(g_vectors, "vectors");
    CHECK(vj_len(arr) >= 10);
    int exact = 0;
    for (size_t i = 0; i < vj_len(arr); i++) {
        check_valid(vj_at(arr, i));
        exact += vj_true(vj_at(arr, i), "encode_exact");
    }
    CHECK(exact >= 5);
}

static void test_invalid_vectors(void) {
    json_object *arr = vj_array(g_vectors, "invalid");
    CHECK(vj_len(arr) >= 20);
    int seen[8] = {0};
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *v = vj_at(arr, i);
        const char *name = vj_str(v, "name", NULL) ? vj_str(v, "name", NULL) : "(unnamed)";
        const char *want = vj_str(v, "error", NULL);
        size_t info_len = 0, ns_len = 0, id_len = 0, env_len = 0;
        const char *info = vj_str(v, "info", &info_len), *ns = vj_str(v, "namespace", &ns_len),
                   *id = vj_str(v, "persistence_id", &id_len);
        uint64_t revision = 0, bound = 0;
        vj_u64(v, "revision", &revision);
        vj_u64(v, "max_decompressed", &bound);
        uint8_t *env = hex_field(v, "envelope_hex", &env_len);
        CHECKF(env && want && info && ns && id, "%s: fields", name);
        if (!(env && want && info && ns && id)) {
            free(env);
            continue;
        }
        pgstate_envelope_keyring *ring = ring_of(v);
        pgstate_envelope_codec *reader = pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_NONE, ring,
                                                                    PGSTATE_ENVELOPE_MODE_NONE, info, bound);
        uint8_t *out = (uint8_t *)"sentinel";
        size_t out_len = 99;
        int rc = pgstate_envelope_decode(reader, ns, id, id_len, revision, env, env_len, &out, &out_len);
        int zstd_body = env_len > 5 && (env[5] & 3u) == 2u;
        int after_check_9 = strcmp(want, "tampered") == 0 || strcmp(want, "too_large") == 0;
        if (!HAVE_ZSTD && zstd_body && (after_check_9 || strcmp(want, "corrupt") == 0)) {
            /* without zstd, check 9 (unavailable_mode) comes first; corrupt may still come from the header */
            CHECKF(class_is(rc, "unavailable_mode") || (!after_check_9 && class_is(rc, want)), "%s: got %s", name,
                   pgstate_envelope_status_name(rc));
        } else {
            CHECKF(class_is(rc, want), "%s: want %s, got %s (%s)", name, want, pgstate_envelope_status_name(rc),
                   pgstate_envelope_errmsg(reader));
        }
        CHECKF(out == NULL && out_len == 0, "%s: output cleared", name);
        CHECKF(pgstate_envelope_errmsg(reader)[0] != '\0', "%s: a message", name);
        if (rc <= -101 && rc >= -107) seen[-rc - 101] = 1;
        pgstate_envelope_codec_free(reader);
        pgstate_envelope_keyring_free(ring);
        free(env);
    }
    /* the vectors cover every class a reader meets in a record (unavailable_mode is the build's) */
    for (int c = 0; c < 6; c++) CHECKF(seen[c], "no invalid vector of %s", pgstate_envelope_error_class(-101 - c));
}

/* ------------------------------------------------------------------------- */
/* the API                                                                    */
/* ------------------------------------------------------------------------- */

typedef struct combo {
    const char *name;
    int compression, mode;
} combo;

static const combo COMBOS[] = {
    {"flags 0", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_NONE},
    {"gzip", PGSTATE_ENVELOPE_COMPRESSION_GZIP, PGSTATE_ENVELOPE_MODE_NONE},
    {"zstd", PGSTATE_ENVELOPE_COMPRESSION_ZSTD, PGSTATE_ENVELOPE_MODE_NONE},
    {"AES-GCM", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"AES-GCM+gzip", PGSTATE_ENVELOPE_COMPRESSION_GZIP, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"AES-GCM+zstd", PGSTATE_ENVELOPE_COMPRESSION_ZSTD, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"HMAC", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_INTEGRITY},
    {"HMAC+gzip", PGSTATE_ENVELOPE_COMPRESSION_GZIP, PGSTATE_ENVELOPE_MODE_INTEGRITY},
    {"HMAC+zstd", PGSTATE_ENVELOPE_COMPRESSION_ZSTD, PGSTATE_ENVELOPE_MODE_INTEGRITY},
};

static void test_round_trips(void) {
    pgstate_envelope_keyring *ring = ring12(2);
    static const size_t sizes[] = {0, 1, 200, 65536, 1 << 20};
    for (size_t c = 0; c < sizeof COMBOS / sizeof COMBOS[0]; c++) {
        const combo *k = &COMBOS[c];
        pgstate_envelope_codec *codec = pgstate_envelope_codec_new(k->compression, ring, k->mode, INFO, 0);
        if (!HAVE_ZSTD && k->compression == PGSTATE_ENVELOPE_COMPRESSION_ZSTD) {
            CHECKF(class_is(pgstate_envelope_codec_status(codec), "unavailable_mode") &&
                       contains(pgstate_envelope_errmsg(codec), "libzstd-dev"),
                   "%s: %s", k->name, pgstate_envelope_errmsg(codec));
            pgstate_envelope_codec_free(codec);
            continue;
        }
        CHECKF(pgstate_envelope_codec_status(codec) == PGSTATE_OK, "%s: %s", k->name, pgstate_envelope_errmsg(codec));
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint8_t *state = sample_state(sizes[s]), *e1 = NULL, *e2 = NULL, *back = NULL;
            size_t l1 = 0, l2 = 0, lb = 0;
            CHECK(pgstate_envelope_encode(codec, NS, ID, strlen(ID), 5, state, sizes[s], &e1, &l1) == PGSTATE_OK);
            CHECK(pgstate_envelope_encode(codec, NS, ID, strlen(ID), 5, state, sizes[s], &e2, &l2) == PGSTATE_OK);
            pgstate_envelope_header h;
            CHECK(pgstate_envelope_peek(e1, l1, &h) == PGSTATE_OK && h.enveloped && h.revision == 5 &&
                  h.length == sizes[s] && h.compression == k->compression && h.mode == k->mode &&
                  h.key_id == (k->mode ? 2u : 0u));
            /* a fresh nonce per write: two encryptions of one state differ */
            if (k->mode == PGSTATE_ENVELOPE_MODE_ENCRYPT) {
                CHECKF(l1 == l2 && memcmp(e1, e2, l1) != 0, "%s: the same nonce twice", k->name);
            }
            CHECKF(pgstate_envelope_decode(codec, NS, ID, strlen(ID), 5, e1, l1, &back, &lb) == PGSTATE_OK &&
                       lb == sizes[s] && (lb == 0 || memcmp(back, state, lb) == 0),
                   "%s, %zu bytes: %s", k->name, sizes[s], pgstate_envelope_errmsg(codec));
            if (k->compression != PGSTATE_ENVELOPE_COMPRESSION_NONE && sizes[s] >= 65536) {
                CHECKF(l1 < sizes[s] / 4, "%s: %zu bytes compressed to %zu", k->name, sizes[s], l1);
            }
            /* encrypted: the state does not show */
            if (k->mode == PGSTATE_ENVELOPE_MODE_ENCRYPT && k->compression == 0 && sizes[s] >= 200) {
                CHECK(!has_bytes(e1, l1, "\"status\":\"open\""));
            }
            free(state);
            pgstate_envelope_free(e1);
            pgstate_envelope_free(e2);
            pgstate_envelope_free(back);
        }
        pgstate_envelope_codec_free(codec);
    }
    pgstate_envelope_keyring_free(ring);
}

/* Every error class from the API itself (the vectors do the same from bytes). */
static void test_error_classes(void) {
    pgstate_envelope_keyring *ring = ring12(2);
    pgstate_envelope_codec *gcm = pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_GZIP, ring,
                                                             PGSTATE_ENVELOPE_MODE_ENCRYPT, INFO, 0);
    uint8_t *state = sample_state(300), *env = NULL, *out = NULL;
    size_t env_len = 0, out_len = 0;
    CHECK(pgstate_envelope_encode(gcm, NS, ID, strlen(ID), 9, state, 300, &env, &env_len) == PGSTATE_OK);
    uint8_t *bad = malloc(env_len);
    int rc;
#define DECODE(codec, ns, id, rev, bytes, n) \
    (out = NULL, rc = pgstate_envelope_decode(codec, ns, id, strlen(id), rev, bytes, n, &out, &out_len), \
     pgstate_envelope_free(out), rc)

    memcpy(bad, env, env_len);
    bad[4] = 2;
    CHECK(DECODE(gcm, NS, ID, 9, bad, env_len) == PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION);
    CHECK(contains(pgstate_envelope_errmsg(gcm), "version 2"));
    memcpy(bad, env, env_len);
    bad[5] |= 0x40;
    CHECK(DECODE(gcm, NS, ID, 9, bad, env_len) == PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION);
    for (size_t cut = 5; cut < PGSE_MAX_HEADER + PGSE_GCM_TAG_BYTES; cut++) {
        CHECKF(DECODE(gcm, NS, ID, 9, env, cut) == PGSTATE_ENVELOPE_ERR_CORRUPT, "cut at %zu", cut);
    }
    CHECK(DECODE(gcm, NS, ID, 9, env, env_len - 1) == PGSTATE_ENVELOPE_ERR_TAMPERED); /* the tag moved */
    CHECK(DECODE(gcm, NS, ID, 10, env, env_len) == PGSTATE_ENVELOPE_ERR_ROLLED_BACK);
    CHECK(contains(pgstate_envelope_errmsg(gcm), "revision 9") && contains(pgstate_envelope_errmsg(gcm), "10") &&
          contains(pgstate_envelope_errmsg(gcm), ID));
    CHECK(DECODE(gcm, NS, ID, 8, env, env_len) == PGSTATE_ENVELOPE_ERR_ROLLED_BACK);
    /* every byte of header, nonce, body and tag is covered */
    for (size_t i = 6; i < env_len; i++) {
        if (i >= 10 && i < 18) continue; /* the revision: rolled_back, above */
        memcpy(bad, env, env_len);
        bad[i] ^= 0x01;
        rc = DECODE(gcm, NS, ID, 9, bad, env_len);
        int want = i < 10 ? PGSTATE_ENVELOPE_ERR_WRONG_KEY /* key id 2 -> 3 */ : PGSTATE_ENVELOPE_ERR_TAMPERED;
        if (i == 5) want = PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION;
        CHECKF(rc == want, "bit flipped at %zu: %s", i, pgstate_envelope_status_name(rc));
    }
    CHECK(DECODE(gcm, NS, "order-43", 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    CHECK(DECODE(gcm, "shipping", ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    CHECK(DECODE(gcm, "", ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    /* another info is another security domain */
    pgstate_envelope_codec *other_info = pgstate_envelope_codec_new(0, ring, 0, "billing/invoices", 0);
    CHECK(DECODE(other_info, NS, ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    /* a ring without key 2 */
    pgstate_envelope_keyring *only1 = pgstate_envelope_keyring_new();
    uint8_t k1[32];
    key_bytes(k1, 0);
    pgstate_envelope_keyring_add(only1, 1, k1, 1);
    pgstate_envelope_codec *old = pgstate_envelope_codec_new(0, only1, 0, INFO, 0);
    CHECK(DECODE(old, NS, ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_WRONG_KEY);
    CHECK(contains(pgstate_envelope_errmsg(old), "key id 2"));
    pgstate_envelope_codec *keyless = pgstate_envelope_codec_new(0, NULL, 0, NULL, 0);
    CHECK(DECODE(keyless, NS, ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_WRONG_KEY);
    CHECK(contains(pgstate_envelope_errmsg(keyless), "no keys"));
    /* another key under id 2 */
    pgstate_envelope_keyring *impostor = pgstate_envelope_keyring_new();
    pgstate_envelope_keyring_add(impostor, 2, k1, 1);
    pgstate_envelope_codec *imp = pgstate_envelope_codec_new(0, impostor, 0, INFO, 0);
    CHECK(DECODE(imp, NS, ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    /* the bound: checked after authentication, before decompressing */
    pgstate_envelope_codec *small = pgstate_envelope_codec_new(0, ring, 0, INFO, 299);
    CHECK(DECODE(small, NS, ID, 9, env, env_len) == PGSTATE_ENVELOPE_ERR_TOO_LARGE);
    CHECK(contains(pgstate_envelope_errmsg(small), "299"));
    pgstate_envelope_codec *exact = pgstate_envelope_codec_new(0, ring, 0, INFO, 300);
    CHECK(DECODE(exact, NS, ID, 9, env, env_len) == PGSTATE_OK);
    /* a writer does not write what its own bound would refuse */
    uint8_t *big = NULL;
    size_t big_len = 0;
    CHECK(pgstate_envelope_encode(small, NS, ID, strlen(ID), 1, state, 300, &big, &big_len) ==
          PGSTATE_ENVELOPE_ERR_TOO_LARGE);
    CHECK(big == NULL && contains(pgstate_envelope_errmsg(small), "299"));
    CHECK(pgstate_envelope_encode(exact, NS, ID, strlen(ID), 1, state, 300, &big, &big_len) == PGSTATE_OK);
    pgstate_envelope_free(big);
    /* unavailable_mode: zstd in a build without it */
    pgstate_envelope_codec *z = pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_ZSTD, NULL, 0, NULL, 0);
    CHECK(pgstate_envelope_codec_status(z) == (HAVE_ZSTD ? PGSTATE_OK : PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE));
    if (!HAVE_ZSTD) {
        uint8_t *e = NULL;
        size_t el = 0;
        CHECK(pgstate_envelope_encode(z, NS, ID, 2, 1, "x", 1, &e, &el) == PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE);
        CHECK(e == NULL && contains(pgstate_envelope_errmsg(z), "libzstd"));
        /* an unkeyed zstd envelope, by hand: the reader says what to install */
        uint8_t hand[PGSE_FIXED_HEADER + 4];
        pgse_put_header(hand, PGSTATE_ENVELOPE_COMPRESSION_ZSTD, 0, 1, 1, NULL);
        memcpy(hand + PGSE_FIXED_HEADER, "\x28\xb5\x2f\xfd", 4);
        CHECK(DECODE(keyless, NS, ID, 1, hand, sizeof hand) == PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE);
        CHECK(contains(pgstate_envelope_errmsg(keyless), "libzstd"));
        /* check 9 comes before the bound (11) */
        pgse_put_header(hand, PGSTATE_ENVELOPE_COMPRESSION_ZSTD, 0, 1, UINT32_MAX, NULL);
        CHECK(DECODE(keyless, NS, ID, 1, hand, sizeof hand) == PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE);
    }
    /* keyed envelopes only: plain states and unkeyed envelopes are substitutes */
    CHECK(pgstate_envelope_codec_set_keyed_only(keyless, 1) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_codec_set_keyed_only(gcm, 1) == PGSTATE_OK);
    CHECK(DECODE(gcm, NS, ID, 9, env, env_len) == PGSTATE_OK);
    CHECK(DECODE(gcm, NS, ID, 9, "plain", 5) == PGSTATE_ENVELOPE_ERR_TAMPERED);
    CHECK(contains(pgstate_envelope_errmsg(gcm), "not an envelope"));
    uint8_t unkeyed_env[PGSE_FIXED_HEADER + 1];
    pgse_put_header(unkeyed_env, 0, 0, 3, 1, NULL);
    unkeyed_env[PGSE_FIXED_HEADER] = 'x';
    CHECK(DECODE(gcm, NS, ID, 9, unkeyed_env, sizeof unkeyed_env) == PGSTATE_ENVELOPE_ERR_TAMPERED); /* not rolled_back */
    CHECK(DECODE(gcm, NS, ID, 9, "PGSE\x01", 5) == PGSTATE_ENVELOPE_ERR_CORRUPT); /* checks 1-6 first */
    CHECK(pgstate_envelope_codec_set_keyed_only(gcm, 0) == PGSTATE_OK);
    CHECK(DECODE(gcm, NS, ID, 3, unkeyed_env, sizeof unkeyed_env) == PGSTATE_OK);
    /* plain states pass, whatever the codec */
    CHECK(DECODE(keyless, NS, ID, 1, "PGSE", 4) == PGSTATE_OK);
    CHECK(DECODE(keyless, NS, ID, 1, "plain", 5) == PGSTATE_OK);
    CHECK(DECODE(keyless, NS, ID, 1, "", 0) == PGSTATE_OK);
    CHECK(DECODE(keyless, NS, ID, 1, "PGSE\x02", 5) == PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION);
    CHECK(strcmp(pgstate_envelope_status_name(PGSTATE_ENVELOPE_ERR_TAMPERED), "PGSTATE_ENVELOPE_ERR_TAMPERED") == 0);
    CHECK(strcmp(pgstate_envelope_status_name(PGSTATE_CONFLICT), "PGSTATE_CONFLICT") == 0);
    CHECK(pgstate_envelope_error_class(PGSTATE_ERR_NOMEM) == NULL);
#undef DECODE
    pgstate_envelope_codec_free(gcm);
    pgstate_envelope_codec_free(other_info);
    pgstate_envelope_codec_free(old);
    pgstate_envelope_codec_free(keyless);
    pgstate_envelope_codec_free(imp);
    pgstate_envelope_codec_free(small);
    pgstate_envelope_codec_free(exact);
    pgstate_envelope_codec_free(z);
    pgstate_envelope_keyring_free(ring);
    pgstate_envelope_keyring_free(only1);
    pgstate_envelope_keyring_free(impostor);
    free(state);
    free(bad);
    pgstate_envelope_free(env);
}

static void test_construction(void) {
    pgstate_envelope_keyring *ring = ring12(2), *no_active = ring12(0);
    uint8_t key[32];
    key_bytes(key, 3);
    CHECK(pgstate_envelope_keyring_add(ring, 0, key, 0) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_keyring_add(ring, 2, key, 0) == PGSTATE_ERR_INVALID_ARGUMENT); /* already there */
    CHECK(pgstate_envelope_keyring_add(ring, 3, NULL, 0) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_keyring_add(ring, UINT32_MAX, key, 0) == PGSTATE_OK);
    CHECK(pgstate_envelope_keyring_count(ring) == 3 && pgstate_envelope_keyring_active(ring) == 2);
    CHECK(pgstate_envelope_keyring_active(no_active) == 0);
    struct {
        int compression, mode;
        const pgstate_envelope_keyring *ring;
        const char *info;
        int status;
        const char *says;
    } cases[] = {
        {0, PGSTATE_ENVELOPE_MODE_ENCRYPT, NULL, INFO, PGSTATE_ERR_INVALID_ARGUMENT, "active key"},
        {0, PGSTATE_ENVELOPE_MODE_INTEGRITY, no_active, INFO, PGSTATE_ERR_INVALID_ARGUMENT, "active key"},
        {0, PGSTATE_ENVELOPE_MODE_ENCRYPT, ring, "", PGSTATE_ERR_INVALID_ARGUMENT, "info"},
        {0, PGSTATE_ENVELOPE_MODE_NONE, ring, NULL, PGSTATE_ERR_INVALID_ARGUMENT, "no default"},
        {3, PGSTATE_ENVELOPE_MODE_NONE, NULL, NULL, PGSTATE_ERR_INVALID_ARGUMENT, "compression 3"},
        {0, 3, NULL, NULL, PGSTATE_ERR_INVALID_ARGUMENT, "mode 3"},
        {0, PGSTATE_ENVELOPE_MODE_NONE, NULL, NULL, PGSTATE_OK, ""},
        {1, PGSTATE_ENVELOPE_MODE_ENCRYPT, ring, INFO, PGSTATE_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pgstate_envelope_codec *c =
            pgstate_envelope_codec_new(cases[i].compression, cases[i].ring, cases[i].mode, cases[i].info, 0);
        CHECKF(c != NULL && pgstate_envelope_codec_status(c) == cases[i].status &&
                   contains(pgstate_envelope_errmsg(c), cases[i].says),
               "case %zu: %s", i, pgstate_envelope_errmsg(c));
        /* a refused codec refuses every call the same way */
        uint8_t *o = (uint8_t *)"x";
        size_t ol = 1;
        int rc = pgstate_envelope_encode(c, NS, ID, 2, 1, "s", 1, &o, &ol);
        CHECKF(rc == cases[i].status && (rc != PGSTATE_OK || o != NULL), "case %zu: encode %d", i, rc);
        if (rc == PGSTATE_OK) pgstate_envelope_free(o);
        pgstate_envelope_codec_free(c);
    }
    /* the ring is copied: freeing it leaves the codec whole */
    pgstate_envelope_codec *c = pgstate_envelope_codec_new(0, ring, PGSTATE_ENVELOPE_MODE_INTEGRITY, INFO, 0);
    pgstate_envelope_keyring_free(ring);
    uint8_t *e = NULL, *back = NULL;
    size_t el, bl;
    CHECK(pgstate_envelope_encode(c, NS, ID, 2, 1, "s", 1, &e, &el) == PGSTATE_OK);
    CHECK(pgstate_envelope_decode(c, NS, ID, 2, 1, e, el, &back, &bl) == PGSTATE_OK && bl == 1);
    pgstate_envelope_free(e);
    /* argument rules */
    char long_ns[300];
    memset(long_ns, 'n', sizeof long_ns - 1);
    long_ns[sizeof long_ns - 1] = '\0';
    CHECK(pgstate_envelope_encode(c, long_ns, ID, 2, 1, "s", 1, &e, &el) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_encode(c, NS, long_ns, 256, 1, "s", 1, &e, &el) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(e == NULL);
    CHECK(pgstate_envelope_encode(c, NS, ID, 2, 1, NULL, 1, &e, &el) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_encode(c, NS, ID, 2, 1, "s", 1, NULL, &el) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_envelope_encode_with_nonce(c, NS, ID, 2, 1, "s", 1, NULL, &e, &el) == PGSTATE_OK); /* no GCM */
    pgstate_envelope_free(e);
    pgstate_envelope_free(back);
    pgstate_envelope_codec_free(c);
    pgstate_envelope_keyring_free(no_active);
    pgstate_envelope_codec_free(NULL);
    pgstate_envelope_keyring_free(NULL);
    pgstate_envelope_free(NULL);
    pgstate_envelope_record_free(NULL);
    CHECK(contains(pgstate_envelope_errmsg(NULL), "NULL"));
}

static void test_rotation(void) {
    pgstate_envelope_keyring *r1 = pgstate_envelope_keyring_new(), *r2 = ring12(2);
    pgstate_envelope_keyring *only2 = pgstate_envelope_keyring_new();
    uint8_t k1[32], k2[32];
    key_bytes(k1, 0);
    key_bytes(k2, 1);
    pgstate_envelope_keyring_add(r1, 1, k1, 1);
    pgstate_envelope_keyring_add(only2, 2, k2, 1);
    pgstate_envelope_codec *before = pgstate_envelope_codec_new(1, r1, PGSTATE_ENVELOPE_MODE_ENCRYPT, INFO, 0),
                           *after = pgstate_envelope_codec_new(1, r2, PGSTATE_ENVELOPE_MODE_ENCRYPT, INFO, 0),
                           *retired = pgstate_envelope_codec_new(1, only2, PGSTATE_ENVELOPE_MODE_ENCRYPT, INFO, 0);
    uint8_t *old = NULL, *fresh = NULL, *out = NULL;
    size_t ol, fl, len;
    CHECK(pgstate_envelope_encode(before, NS, ID, 8, 3, "state", 5, &old, &ol) == PGSTATE_OK);
    /* the new ring still reads the old key and writes the new one */
    CHECK(pgstate_envelope_decode(after, NS, ID, 8, 3, old, ol, &out, &len) == PGSTATE_OK && len == 5);
    pgstate_envelope_free(out);
    CHECK(pgstate_envelope_encode(after, NS, ID, 8, 4, "state", 5, &fresh, &fl) == PGSTATE_OK);
    pgstate_envelope_header h;
    pgstate_envelope_peek(old, ol, &h);
    CHECK(h.key_id == 1);
    pgstate_envelope_peek(fresh, fl, &h);
    CHECK(h.key_id == 2);
    /* once key 1 is dropped: old records are wrong_key, rewritten ones read */
    CHECK(pgstate_envelope_decode(retired, NS, ID, 8, 3, old, ol, &out, &len) == PGSTATE_ENVELOPE_ERR_WRONG_KEY);
    CHECK(pgstate_envelope_decode(retired, NS, ID, 8, 4, fresh, fl, &out, &len) == PGSTATE_OK);
    pgstate_envelope_free(out);
    /* a reader that has not got key 2 yet */
    CHECK(pgstate_envelope_decode(before, NS, ID, 8, 4, fresh, fl, &out, &len) == PGSTATE_ENVELOPE_ERR_WRONG_KEY);
    pgstate_envelope_free(old);
    pgstate_envelope_free(fresh);
    pgstate_envelope_codec_free(before);
    pgstate_envelope_codec_free(after);
    pgstate_envelope_codec_free(retired);
    pgstate_envelope_keyring_free(r1);
    pgstate_envelope_keyring_free(r2);
    pgstate_envelope_keyring_free(only2);
}

/* ------------------------------------------------------------------------- */
/* compression bombs                                                          */
/* ------------------------------------------------------------------------- */

#define GIB ((uint64_t)1 << 30)
#define MIB ((size_t)1 << 20)

static void append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n) {
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/*
 * A gzip member of 1 GiB of zeros (about 1 MB) without deflating 1 GiB: one
 * MiB of zeros deflated with a full flush (which resets the compressor, so
 * every further MiB deflates to the same bytes) repeated 1024 times, the
 * final empty block, then the CRC-32 (combined) and ISIZE trailer.
 */
static uint8_t *gzip_bomb(size_t *n) {
    uint8_t *zeros = calloc(1, MIB), *piece = malloc(2 * MIB), fin[64];
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    s.next_in = zeros;
    s.avail_in = (uInt)MIB;
    s.next_out = piece;
    s.avail_out = (uInt)(2 * MIB);
    deflate(&s, Z_FULL_FLUSH);
    size_t piece_len = 2 * MIB - s.avail_out;
    s.next_out = fin;
    s.avail_out = sizeof fin;
    deflate(&s, Z_FINISH);
    size_t fin_len = sizeof fin - s.avail_out;
    deflateEnd(&s);
    uLong crc_mib = crc32(0L, zeros, (uInt)MIB), crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < 1024; i++) crc = crc32_combine(crc, crc_mib, (z_off_t)MIB);
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
    append(&out, &len, &cap, header, sizeof header);
    for (int i = 0; i < 1024; i++) append(&out, &len, &cap, piece, piece_len);
    append(&out, &len, &cap, fin, fin_len);
    uint8_t trailer[8] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24), 0, 0, 0, 0x40};
    append(&out, &len, &cap, trailer, sizeof trailer); /* ISIZE = 2^30 mod 2^32 */
    free(zeros);
    free(piece);
    *n = len;
    return out;
}

/* What a gzip member really expands to, inflated through a small buffer. */
static uint64_t gunzip_count(const uint8_t *in, size_t n, int *ok) {
    static uint8_t sink[1 << 16];
    z_stream s;
    memset(&s, 0, sizeof s);
    inflateInit2(&s, 31);
    s.next_in = (Bytef *)(uintptr_t)in;
    s.avail_in = (uInt)n;
    int rc;
    do {
        s.next_out = sink;
        s.avail_out = sizeof sink;
        rc = inflate(&s, Z_NO_FLUSH);
    } while (rc == Z_OK);
    *ok = rc == Z_STREAM_END && s.avail_in == 0;
    uint64_t total = s.total_out;
    inflateEnd(&s);
    return total;
}

#ifndef PGSTATE_ENVELOPE_NO_ZSTD
/* A zstd frame of 1 GiB of zeros (a few tens of KB), with or without the content size in its header. */
static uint8_t *zstd_bomb(int with_size, size_t *n) {
    uint8_t *zeros = calloc(1, MIB), *out = NULL, chunk[1 << 16];
    size_t len = 0, cap = 0;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
    if (with_size) ZSTD_CCtx_setPledgedSrcSize(c, GIB);
    for (int i = 0; i < 1024; i++) {
        ZSTD_inBuffer in = {zeros, MIB, 0};
        ZSTD_EndDirective end = i == 1023 ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            ZSTD_outBuffer o = {chunk, sizeof chunk, 0};
            left = ZSTD_compressStream2(c, &o, &in, end);
            append(&out, &len, &cap, chunk, o.pos);
        } while (in.pos < in.size || (end == ZSTD_e_end && left != 0 && !ZSTD_isError(left)));
    }
    ZSTD_freeCCtx(c);
    free(zeros);
    *n = len;
    return out;
}

static uint64_t unzstd_count(const uint8_t *in, size_t n, int *ok) {
    static uint8_t sink[1 << 17];
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in, n, 0};
    uint64_t total = 0;
    size_t rc = 1;
    while (ib.pos < ib.size && rc != 0 && !ZSTD_isError(rc)) {
        ZSTD_outBuffer o = {sink, sizeof sink, 0};
        rc = ZSTD_decompressStream(d, &o, &ib);
        total += o.pos;
    }
    *ok = rc == 0;
    ZSTD_freeDCtx(d);
    return total;
}
#endif

/* An unkeyed envelope around a body, claiming `length`. */
static uint8_t *wrap(int compression, uint32_t length, const uint8_t *body, size_t body_len, size_t *n) {
    uint8_t *e = malloc(PGSE_FIXED_HEADER + body_len);
    pgse_put_header(e, (unsigned)compression, 0, 1, length, NULL);
    memcpy(e + PGSE_FIXED_HEADER, body, body_len);
    *n = PGSE_FIXED_HEADER + body_len;
    return e;
}

/* Decoding the bomb claiming each length: the expected class, and the process's peak memory barely moves. */
static void check_bomb(const char *what, int compression, const uint8_t *body, size_t body_len) {
    pgstate_envelope_codec *codec = pgstate_envelope_codec_new(compression, NULL, 0, NULL, 0); /* bound 64 MiB */
    struct {
        uint32_t length;
        int want;
    } claims[] = {
        {4096, PGSTATE_ENVELOPE_ERR_CORRUPT},           /* small: stops one byte past it */
        {0, PGSTATE_ENVELOPE_ERR_CORRUPT},              /* nothing at all */
        {(uint32_t)GIB, PGSTATE_ENVELOPE_ERR_TOO_LARGE}, /* the truth, over the bound: never decompressed */
        {UINT32_MAX, PGSTATE_ENVELOPE_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        size_t n;
        uint8_t *env = wrap(compression, claims[i].length, body, body_len, &n), *out = NULL;
        size_t out_len = 0;
        long before = max_rss_kib();
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = pgstate_envelope_decode(codec, NS, ID, strlen(ID), 1, env, n, &out, &out_len);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long grown = max_rss_kib() - before;
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECKF(rc == claims[i].want, "%s claiming %lu: %s (%s)", what, (unsigned long)claims[i].length,
               pgstate_envelope_status_name(rc), pgstate_envelope_errmsg(codec));
        CHECKF(grown < 16 * 1024, "%s claiming %lu: peak memory grew by %ld KiB", what,
               (unsigned long)claims[i].length, grown);
        printf("     %s, %zu bytes claiming %lu: %s in %.2f ms, peak memory +%ld KiB\n", what, body_len,
               (unsigned long)claims[i].length, pgstate_envelope_error_class(rc), ms, grown);
        free(env);
        pgstate_envelope_free(out);
    }
    pgstate_envelope_codec_free(codec);
}

static void test_bombs(void) {
    size_t gz_len;
    uint8_t *gz = gzip_bomb(&gz_len);
    int ok = 0;
    uint64_t real = gunzip_count(gz, gz_len, &ok); /* a real bomb, or this test proves nothing */
    CHECKF(ok && real == GIB, "the gzip bomb expands to %llu bytes", (unsigned long long)real);
    check_bomb("gzip of 1 GiB of zeros", PGSTATE_ENVELOPE_COMPRESSION_GZIP, gz, gz_len);
    free(gz);
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
    for (int with_size = 0; with_size < 2; with_size++) {
        size_t zl;
        uint8_t *zb = zstd_bomb(with_size, &zl);
        real = unzstd_count(zb, zl, &ok);
        CHECKF(ok && real == GIB, "the zstd bomb expands to %llu bytes", (unsigned long long)real);
        CHECK(ZSTD_getFrameContentSize(zb, zl) == (with_size ? GIB : ZSTD_CONTENTSIZE_UNKNOWN));
        check_bomb(with_size ? "zstd of 1 GiB of zeros (size in the frame)" : "zstd of 1 GiB of zeros (no size)",
                   PGSTATE_ENVELOPE_COMPRESSION_ZSTD, zb, zl);
        free(zb);
    }
#endif
}

/* ------------------------------------------------------------------------- */
/* the client calls, against an in-memory fake store                          */
/* ------------------------------------------------------------------------- */

/*
 * The child keeps records per (namespace, id) like pgstated, knows its
 * connection as namespace "billing" (WHOAMI), and has two quirks for the
 * tests: an id starting with "race-" is written by "someone else" just
 * before each UPSERT of it (so that one conflicts), and LOAD of "whoami-count"
 * answers how many WHOAMI requests it has seen.
 */
typedef struct rec {
    char ns[64];
    size_t ns_len;
    char id[256];
    size_t id_len;
    uint64_t rev;
    uint8_t *state;
    size_t len;
} rec;

static rec g_store[64];
static size_t g_nrec;
static unsigned g_whoamis;

static rec *store_find(const char *ns, size_t ns_len, const char *id, size_t id_len, int create) {
    for (size_t i = 0; i < g_nrec; i++) {
        rec *r = &g_store[i];
        if (r->ns_len == ns_len && r->id_len == id_len && memcmp(r->ns, ns, ns_len) == 0 &&
            memcmp(r->id, id, id_len) == 0)
            return r;
    }
    if (!create || g_nrec == 64) return NULL;
    rec *r = &g_store[g_nrec++];
    memset(r, 0, sizeof *r);
    memcpy(r->ns, ns, ns_len);
    r->ns_len = ns_len;
    memcpy(r->id, id, id_len);
    r->id_len = id_len;
    return r;
}

static void store_put(rec *r, uint64_t rev, const uint8_t *state, size_t len) {
    free(r->state);
    r->state = malloc(len + 1);
    if (len) memcpy(r->state, state, len);
    r->len = len;
    r->rev = rev;
}

static void send_all(int fd, pgs_buf *b) {
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n <= 0 && errno != EINTR) break;
        if (n > 0) off += (size_t)n;
    }
    b->len = 0;
}

/* Serves one connection; identity: whether HELLO_OK announces IDENTITY. */
static void store_serve(int fd, int identity) {
    pgs_reader rd;
    pgs_buf out;
    pgs_limits lim;
    pgs_limits_default(&lim);
    if (!identity) lim.capabilities &= ~PGS_CAP_IDENTITY;
    pgs_reader_init(&rd, lim.max_frame_bytes);
    pgs_buf_init(&out);
    for (;;) {
        const uint8_t *body;
        uint32_t blen;
        int r = pgs_reader_next(&rd, &body, &blen);
        if (r == PGS_READ_ERROR) break;
        if (r == PGS_NEED_MORE) {
            uint8_t *p;
            size_t avail;
            if (pgs_reader_space(&rd, &p, &avail) != 0 || avail == 0) break;
            ssize_t n = read(fd, p, avail);
            if (n <= 0) break;
            pgs_reader_commit(&rd, (size_t)n);
            continue;
        }
        pgs_msg m;
        uint32_t erid;
        if (pgs_decode_request(body, blen, &lim, &m, &erid) != 0) break;
        const char *ns = m.has_ns ? m.ns : "billing";
        size_t ns_len = m.has_ns ? m.ns_len : 7;
        switch (m.type) {
        case PGS_T_HELLO: pgs_encode_hello_ok(&out, m.request_id, 1, "fake-store", 10, &lim); break;
        case PGS_T_WHOAMI: {
            g_whoamis++;
            pgs_msg w;
            memset(&w, 0, sizeof w);
            w.type = PGS_T_WHOAMI_OK;
            w.uid = 1001;
            w.gid = 1001;
            w.user = "billing";
            w.user_len = 7;
            w.ns = "billing";
            w.ns_len = 7;
            w.permissions = 0x0F;
            w.rule = "";
            pgs_encode_whoami_ok(&out, m.request_id, &w);
            break;
        }
        case PGS_T_LOAD: {
            if (m.id_len == 12 && memcmp(m.id, "whoami-count", 12) == 0) {
                char txt[16];
                int k = snprintf(txt, sizeof txt, "%u", g_whoamis);
                pgs_encode_record(&out, m.request_id, 1, 0, txt, (size_t)k);
                break;
            }
            rec *rc = store_find(ns, ns_len, m.id, m.id_len, 0);
            if (rc == NULL || rc->rev == 0) pgs_encode_not_found(&out, m.request_id);
            else pgs_encode_record(&out, m.request_id, rc->rev, 1700000000000000, rc->state, rc->len);
            break;
        }
        case PGS_T_UPSERT: {
            rec *rc = store_find(ns, ns_len, m.id, m.id_len, 1);
            if (rc != NULL && m.id_len > 5 && memcmp(m.id, "race-", 5) == 0 && rc->rev > 0) {
                store_put(rc, rc->rev + 1, (const uint8_t *)"someone else", 12);
            }
            if (rc == NULL || rc->rev != m.expected_revision) {
                pgs_encode_conflict(&out, m.request_id, m.expected_revision, rc ? rc->rev : 0);
            } else {
                store_put(rc, m.expected_revision + 1, m.state, m.state_len);
                pgs_encode_record(&out, m.request_id, rc->rev, 1700000000000000, rc->state, rc->len);
            }
            break;
        }
        default: pgs_encode_error(&out, m.request_id, 102, "not in the fake store", 21); break;
        }
        send_all(fd, &out);
    }
    pgs_reader_free(&rd);
    pgs_buf_free(&out);
}

typedef struct fake_store {
    pid_t pid;
    char dir[64];
    char path[128];
} fake_store;

/* A child serving the connections in turn; identity[i] says whether connection i gets IDENTITY. */
static int fake_store_start(fake_store *f, const int *identity, int nconns) {
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pgstate-envelope-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->path, sizeof f->path, "%s/pgstated.sock", f->dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    f->pid = fork();
    if (f->pid == 0) {
        alarm(30);
        signal(SIGPIPE, SIG_IGN);
        for (int i = 0; i < nconns; i++) {
            int cfd = accept(lfd, NULL, NULL);
            if (cfd < 0) _exit(1);
            store_serve(cfd, identity[i]);
            close(cfd);
        }
        _exit(0);
    }
    close(lfd);
    return f->pid > 0 ? 0 : -1;
}

static void fake_store_stop(fake_store *f) {
    int st = 0;
    if (f->pid > 0) waitpid(f->pid, &st, 0);
    unlink(f->path);
    rmdir(f->dir);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fake store exited with %d", st);
}

static unsigned whoami_count(pgstate_client *c) {
    pgstate_record *r = NULL;
    unsigned n = 9999;
    if (pgstate_load(c, "whoami-count", 12, &r) == PGSTATE_OK) n = (unsigned)strtoul(r->state, NULL, 10);
    pgstate_record_free(r);
    return n;
}

static void test_client_calls(void) {
    static const int identity[] = {1, 1, 0};
    fake_store f;
    CHECK(fake_store_start(&f, identity, 3) == 0);
    pgstate_envelope_keyring *r1 = ring12(1), *r2 = ring12(2);
    pgstate_envelope_codec *v1 = pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_GZIP, r1,
                                                            PGSTATE_ENVELOPE_MODE_ENCRYPT, INFO, 0);
    pgstate_envelope_codec *v2 = pgstate_envelope_codec_new(PGSTATE_ENVELOPE_COMPRESSION_NONE, r2,
                                                            PGSTATE_ENVELOPE_MODE_INTEGRITY, INFO, 0);
    pgstate_client *c = pgstate_connect(f.path, 5000);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));

    /* write and read back; the namespace is the connection's, asked once */
    pgstate_envelope_record *r = NULL;
    CHECK(pgstate_envelope_upsert(c, v1, "a", 1, 0, "alpha", 5, &r) == PGSTATE_OK);
    CHECK(r && r->revision == 1 && r->state_len == 5 && memcmp(r->state, "alpha", 5) == 0 &&
          r->envelope.enveloped && r->envelope.key_id == 1 && r->envelope.revision == 1 &&
          r->envelope.mode == PGSTATE_ENVELOPE_MODE_ENCRYPT && r->stored_len > 5 + 22 + 12 + 16);
    pgstate_envelope_record_free(r);
    CHECK(pgstate_envelope_upsert(c, v1, "a", 1, 1, "alpha2", 6, NULL) == PGSTATE_OK);
    CHECK(pgstate_envelope_load(c, v1, "a", 1, &r) == PGSTATE_OK);
    CHECK(r && r->revision == 2 && r->state_len == 6 && memcmp(r->state, "alpha2", 6) == 0 &&
          ((const char *)r->state)[6] == '\0' && strcmp(r->persistence_id, "a") == 0);
    pgstate_envelope_record_free(r);
    CHECK(whoami_count(c) == 1);
    /* the envelope is bound to "billing": the raw bytes decode only so */
    pgstate_record *raw = NULL;
    CHECK(pgstate_load(c, "a", 1, &raw) == PGSTATE_OK);
    uint8_t *out = NULL;
    size_t out_len;
    CHECK(pgstate_envelope_decode(v1, "billing", "a", 1, raw->revision, raw->state, raw->state_len, &out,
                                  &out_len) == PGSTATE_OK);
    pgstate_envelope_free(out);
    CHECK(pgstate_envelope_decode(v1, "", "a", 1, raw->revision, raw->state, raw->state_len, &out, &out_len) ==
          PGSTATE_ENVELOPE_ERR_TAMPERED);

    /* outcomes pass through */
    CHECK(pgstate_envelope_upsert(c, v1, "a", 1, 1, "stale", 5, &r) == PGSTATE_CONFLICT && r == NULL);
    CHECK(pgstate_conflict_actual(c) == 2);
    CHECK(pgstate_envelope_load(c, v1, "nothing", 7, &r) == PGSTATE_NOT_FOUND && r == NULL);
    CHECK(pgstate_envelope_upsert(c, v1, "", 0, 0, "x", 1, &r) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(contains(pgstate_envelope_errmsg(v1), "id"));

    /* tampering through a plain client: the header made to name the next revision (else it is rolled_back),
       a bit of the body flipped */
    uint8_t *flipped = malloc(raw->state_len);
    memcpy(flipped, raw->state, raw->state_len);
    flipped[17] = 3; /* revision 2 -> 3, big-endian at 10..17 */
    flipped[raw->state_len - 1] ^= 0x80;
    pgstate_record *w = NULL;
    CHECK(pgstate_upsert(c, "a", 1, 2, flipped, raw->state_len, &w) == PGSTATE_OK);
    CHECK(pgstate_envelope_load(c, v1, "a", 1, &r) == PGSTATE_ENVELOPE_ERR_TAMPERED && r == NULL);
    CHECK(contains(pgstate_envelope_errmsg(v1), "\"a\"") && contains(pgstate_envelope_errmsg(v1), "billing"));
    /* replaying an old envelope at a later revision */
    CHECK(pgstate_upsert(c, "a", 1, 3, raw->state, raw->state_len, NULL) == PGSTATE_OK);
    CHECK(pgstate_envelope_load(c, v1, "a", 1, &r) == PGSTATE_ENVELOPE_ERR_ROLLED_BACK);
    CHECK(contains(pgstate_envelope_errmsg(v1), "revision 2") && contains(pgstate_envelope_errmsg(v1), "4"));
    /* and back to a good one */
    CHECK(pgstate_envelope_upsert(c, v1, "a", 1, 4, "alpha5", 6, NULL) == PGSTATE_OK);
    free(flipped);
    pgstate_record_free(w);
    pgstate_record_free(raw);

    /* a namespace named on the handle is the one bound */
    CHECK(pgstate_set_namespace(c, "other") == PGSTATE_OK);
    CHECK(pgstate_envelope_upsert(c, v1, "a", 1, 0, "in other", 8, NULL) == PGSTATE_OK);
    CHECK(pgstate_load(c, "a", 1, &raw) == PGSTATE_OK);
    CHECK(pgstate_envelope_decode(v1, "other", "a", 1, 1, raw->state, raw->state_len, &out, &out_len) ==
          PGSTATE_OK);
    pgstate_envelope_free(out);
    pgstate_record_free(raw);
    pgstate_set_namespace(c, NULL);
    CHECK(whoami_count(c) == 1);

    /* rotation: ids under key 1, a plain record, one written meanwhile, one missing */
    CHECK(pgstate_envelope_upsert(c, v1, "b", 1, 0, "bravo", 5, NULL) == PGSTATE_OK);
    CHECK(pgstate_upsert(c, "plain", 5, 0, "as written", 10, NULL) == PGSTATE_OK);
    CHECK(pgstate_envelope_upsert(c, v1, "race-c", 6, 0, "charlie", 7, NULL) == PGSTATE_OK);
    const char *ids[] = {"a", "b", "plain", "race-c", "missing"};
    pgstate_envelope_rewrap_counts counts;
    CHECK(pgstate_envelope_rewrap(c, v2, ids, NULL, 5, 0, &counts) == PGSTATE_OK);
    CHECKF(counts.rewritten == 3 && counts.conflicts == 1 && counts.missing == 1 && counts.current == 0 &&
               counts.done == 5,
           "rewritten %zu conflicts %zu missing %zu done %zu: %s", counts.rewritten, counts.conflicts, counts.missing,
           counts.done, pgstate_envelope_errmsg(v2));
    /* again: what was rewritten is current now */
    CHECK(pgstate_envelope_rewrap(c, v2, ids, NULL, 3, 0, &counts) == PGSTATE_OK);
    CHECK(counts.current == 3 && counts.rewritten == 0 && counts.done == 3);
    CHECK(pgstate_envelope_rewrap(c, v2, ids, NULL, 1, PGSTATE_ENVELOPE_REWRAP_FORCE, &counts) == PGSTATE_OK);
    CHECK(counts.current == 0 && counts.rewritten == 1);
    const char *want[] = {"alpha5", "bravo", "as written"};
    pgstate_envelope_keyring *only2 = pgstate_envelope_keyring_new();
    uint8_t k2[32];
    key_bytes(k2, 1);
    pgstate_envelope_keyring_add(only2, 2, k2, 1);
    pgstate_envelope_codec *after = pgstate_envelope_codec_new(0, only2, 0, INFO, 0);
    for (int i = 0; i < 3; i++) {
        CHECKF(pgstate_envelope_load(c, after, ids[i], strlen(ids[i]), &r) == PGSTATE_OK, "%s: %s", ids[i],
               pgstate_envelope_errmsg(after));
        CHECKF(r && r->state_len == strlen(want[i]) && memcmp(r->state, want[i], r->state_len) == 0 &&
                   r->envelope.key_id == 2 && r->envelope.mode == PGSTATE_ENVELOPE_MODE_INTEGRITY,
               "%s rewrapped", ids[i]);
        pgstate_envelope_record_free(r);
    }
    /* a rewrap that meets a record it cannot read stops there */
    const char *stop[] = {"b", "race-c", "a"}; /* race-c holds "someone else", a plain state: fine */
    CHECK(pgstate_upsert(c, "b", 1, 2, "PGSE\x01\x00", 6, NULL) == PGSTATE_OK); /* corrupt */
    CHECK(pgstate_envelope_rewrap(c, v2, stop, NULL, 3, 0, &counts) == PGSTATE_ENVELOPE_ERR_CORRUPT);
    CHECK(counts.done == 0 && counts.rewritten == 0);
    CHECK(contains(pgstate_envelope_errmsg(v2), "rewrap stopped at id \"b\""));
    CHECK(pgstate_envelope_rewrap(c, v2, stop + 1, NULL, 2, 0, &counts) == PGSTATE_OK && counts.current == 1 &&
          counts.conflicts == 1);
    /* a codec without keys rewraps too (unkeyed envelopes, e.g. to compress) */
    pgstate_envelope_codec *unkeyed = pgstate_envelope_codec_new(0, NULL, 0, NULL, 0);
    CHECK(pgstate_envelope_rewrap(c, unkeyed, stop + 1, NULL, 1, 0, &counts) == PGSTATE_OK && counts.conflicts == 1);
    CHECK(pgstate_envelope_rewrap(NULL, unkeyed, stop, NULL, 3, 0, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(whoami_count(c) == 4); /* once per codec: v1, v2, after, unkeyed */

    /* after a reconnect the codec asks again */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(pgstate_envelope_load(c, after, "a", 1, &r) == PGSTATE_OK);
    CHECK(pgstate_envelope_load(c, after, "a", 1, NULL) == PGSTATE_OK);
    pgstate_envelope_record_free(r);
    CHECK(whoami_count(c) == 5);
    pgstate_free(c);

    /* a server without IDENTITY: the namespace is "" and nobody asks */
    c = pgstate_connect(f.path, 5000);
    CHECK(pgstate_status(c) == PGSTATE_OK && !(pgstate_capabilities(c) & PGSTATE_CAP_IDENTITY));
    CHECK(pgstate_envelope_upsert(c, v2, "n", 1, 0, "no identity", 11, NULL) == PGSTATE_OK);
    CHECK(pgstate_load(c, "n", 1, &raw) == PGSTATE_OK);
    CHECK(pgstate_envelope_decode(v2, "", "n", 1, 1, raw->state, raw->state_len, &out, &out_len) == PGSTATE_OK);
    pgstate_envelope_free(out);
    pgstate_record_free(raw);
    CHECK(whoami_count(c) == 5);
    pgstate_free(c);

    /* a lost connection is libpgstate's error, its text on the codec too */
    c = pgstate_connect(f.path, 1000);
    CHECK(pgstate_envelope_load(c, v2, "a", 1, &r) == PGSTATE_ERR_UNAVAILABLE);
    CHECK(strcmp(pgstate_envelope_errmsg(v2), pgstate_errmsg(c)) == 0);
    pgstate_free(c);

    fake_store_stop(&f);
    pgstate_envelope_codec_free(v1);
    pgstate_envelope_codec_free(v2);
    pgstate_envelope_codec_free(after);
    pgstate_envelope_codec_free(unkeyed);
    pgstate_envelope_keyring_free(r1);
    pgstate_envelope_keyring_free(r2);
    pgstate_envelope_keyring_free(only2);
}

int main(void) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/envelope.json", vj_vectors_dir());
    g_vectors = vj_load(path, err, sizeof err);
    if (g_vectors == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", path, err);
        return 1;
    }
    printf("(built %s zstd)\n", HAVE_ZSTD ? "with" : "WITHOUT");
    RUN(test_hkdf_rfc5869);
    RUN(test_subkey_vectors);
    RUN(test_valid_vectors);
    RUN(test_invalid_vectors);
    RUN(test_round_trips);
    RUN(test_error_classes);
    RUN(test_construction);
    RUN(test_rotation);
    RUN(test_bombs);
    RUN(test_client_calls);
    json_object_put(g_vectors);
    return harness_summary();
}
