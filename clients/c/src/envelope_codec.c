/*
 * envelope_codec.c - the codec handle and the pure envelope encode / decode
 * (proto-spec/ENVELOPE.md): compress, then encrypt (AES-256-GCM) or
 * authenticate (HMAC-SHA256) under the subkey of (key, info, namespace, id),
 * bound to the revision written.  No I/O.
 */
#include "envelope_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status names ---- */

const char *pgstate_envelope_status_name(int status) {
    switch (status) {
    case PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION: return "PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION";
    case PGSTATE_ENVELOPE_ERR_CORRUPT: return "PGSTATE_ENVELOPE_ERR_CORRUPT";
    case PGSTATE_ENVELOPE_ERR_ROLLED_BACK: return "PGSTATE_ENVELOPE_ERR_ROLLED_BACK";
    case PGSTATE_ENVELOPE_ERR_WRONG_KEY: return "PGSTATE_ENVELOPE_ERR_WRONG_KEY";
    case PGSTATE_ENVELOPE_ERR_TAMPERED: return "PGSTATE_ENVELOPE_ERR_TAMPERED";
    case PGSTATE_ENVELOPE_ERR_TOO_LARGE: return "PGSTATE_ENVELOPE_ERR_TOO_LARGE";
    case PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE: return "PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE";
    default: return pgstate_status_name(status);
    }
}

const char *pgstate_envelope_error_class(int status) {
    switch (status) {
    case PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION: return "unknown_version";
    case PGSTATE_ENVELOPE_ERR_CORRUPT: return "corrupt";
    case PGSTATE_ENVELOPE_ERR_ROLLED_BACK: return "rolled_back";
    case PGSTATE_ENVELOPE_ERR_WRONG_KEY: return "wrong_key";
    case PGSTATE_ENVELOPE_ERR_TAMPERED: return "tampered";
    case PGSTATE_ENVELOPE_ERR_TOO_LARGE: return "too_large";
    case PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE: return "unavailable_mode";
    default: return NULL;
    }
}

/* ---- errors on the codec ---- */

int pgse_fail(pgstate_envelope_codec *codec, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(codec->errmsg, sizeof codec->errmsg, fmt, ap);
    va_end(ap);
    codec->status = status;
    return status;
}

int pgse_ok(pgstate_envelope_codec *codec) {
    codec->status = PGSTATE_OK;
    codec->errmsg[0] = '\0';
    return PGSTATE_OK;
}

int pgse_begin(pgstate_envelope_codec *codec) {
    if (codec->usable) return pgse_ok(codec);
    return pgse_fail(codec, codec->construct_status, "%s", codec->construct_msg);
}

int pgstate_envelope_codec_status(const pgstate_envelope_codec *codec) {
    return codec ? codec->status : PGSTATE_ERR_INVALID_ARGUMENT;
}

const char *pgstate_envelope_errmsg(const pgstate_envelope_codec *codec) {
    return codec ? codec->errmsg : "no codec (NULL)";
}

void pgse_quote(char *dst, size_t cap, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    if (cap > 0) dst[o < cap ? o : cap - 1] = '\0';
}

/* ---- construction ---- */

static const char *mode_name(int m) {
    return m == PGSTATE_ENVELOPE_MODE_ENCRYPT ? "ENCRYPT (AES-256-GCM)"
           : m == PGSTATE_ENVELOPE_MODE_INTEGRITY ? "INTEGRITY (HMAC-SHA256)"
                                                  : "NONE";
}

static pgstate_envelope_codec *refuse(pgstate_envelope_codec *codec, int status, const char *fmt, ...)
    PGSE_PRINTF_LIKE(3, 4);

static pgstate_envelope_codec *refuse(pgstate_envelope_codec *codec, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(codec->construct_msg, sizeof codec->construct_msg, fmt, ap);
    va_end(ap);
    codec->usable = 0;
    codec->construct_status = status;
    pgse_fail(codec, status, "%s", codec->construct_msg);
    return codec;
}

pgstate_envelope_codec *pgstate_envelope_codec_new(int compression, const pgstate_envelope_keyring *ring, int mode,
                                                   const char *info, uint64_t max_decompressed) {
    pgstate_envelope_codec *codec = calloc(1, sizeof *codec);
    if (codec == NULL) return NULL;
    codec->compression = compression;
    codec->mode = mode;
    codec->max_decompressed = max_decompressed == 0 ? PGSTATE_ENVELOPE_DEFAULT_MAX_DECOMPRESSED
                              : max_decompressed > UINT32_MAX ? UINT32_MAX /* no length can exceed it */
                                                              : max_decompressed;
    char why[300];
    if (compression < PGSTATE_ENVELOPE_COMPRESSION_NONE || compression > PGSTATE_ENVELOPE_COMPRESSION_ZSTD) {
        return refuse(codec, PGSTATE_ERR_INVALID_ARGUMENT, "compression %d is none of "
                      "PGSTATE_ENVELOPE_COMPRESSION_NONE, _GZIP, _ZSTD (caller's error)", compression);
    }
    if (!pgse_compression_available(compression, why, sizeof why)) {
        return refuse(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "%s", why);
    }
    if (mode < PGSTATE_ENVELOPE_MODE_NONE || mode > PGSTATE_ENVELOPE_MODE_INTEGRITY) {
        return refuse(codec, PGSTATE_ERR_INVALID_ARGUMENT, "mode %d is none of PGSTATE_ENVELOPE_MODE_NONE, "
                      "_ENCRYPT, _INTEGRITY (caller's error)", mode);
    }
    if (mode != PGSTATE_ENVELOPE_MODE_NONE && (ring == NULL || ring->active == 0)) {
        return refuse(codec, PGSTATE_ERR_INVALID_ARGUMENT, "mode %s writes with a key: it needs a key ring with "
                      "an active key (caller's error)", mode_name(mode));
    }
    size_t info_len = info ? strlen(info) : 0;
    if (ring != NULL && info_len == 0) {
        return refuse(codec, PGSTATE_ERR_INVALID_ARGUMENT, "no info: a codec with keys needs the application's "
                      "info (its security domain, e.g. \"billing/orders\"; there is no default), the same as the "
                      "writers' (caller's error)");
    }
    if (info_len > UINT16_MAX) {
        return refuse(codec, PGSTATE_ERR_INVALID_ARGUMENT, "info of %zu bytes: at most 65535 (caller's error)",
                      info_len);
    }
    codec->info = malloc(info_len + 1);
    if (codec->info == NULL || pgse_ring_copy(&codec->ring, ring) != PGSTATE_OK) {
        pgstate_envelope_codec_free(codec);
        return NULL;
    }
    if (info_len > 0) memcpy(codec->info, info, info_len);
    codec->info[info_len] = '\0';
    codec->info_len = info_len;
    if (ring != NULL) {
        if (pgse_crypto_init(&codec->crypto, why, sizeof why) != 0) {
            return refuse(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "%s", why);
        }
        codec->crypto_ready = 1;
    }
    codec->usable = 1;
    pgse_ok(codec);
    return codec;
}

int pgstate_envelope_codec_set_keyed_only(pgstate_envelope_codec *codec, int on) {
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    if (rc != PGSTATE_OK) return rc;
    if (on && codec->ring.count == 0) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "keyed envelopes only needs a codec with keys "
                         "(caller's error)");
    }
    codec->keyed_only = on != 0;
    return PGSTATE_OK;
}

void pgstate_envelope_codec_free(pgstate_envelope_codec *codec) {
    if (codec == NULL) return;
    pgse_ring_clear(&codec->ring);
    if (codec->crypto_ready) pgse_crypto_free(&codec->crypto);
    pgse_compressors_free(&codec->z);
    free(codec->info);
    pgse_wipe(codec, sizeof *codec);
    free(codec);
}

void pgstate_envelope_free(void *p) {
    free(p);
}

/* ---- encode ---- */

/* The arguments both directions share: PGSTATE_OK or the caller's error on the codec. */
static int check_binding(pgstate_envelope_codec *codec, const char *ns, size_t *ns_len, const char *id,
                         size_t id_len, const void *data, size_t len, uint8_t **out, size_t *out_len) {
    if (out == NULL || out_len == NULL) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "out and out_len must not be NULL (caller's error)");
    }
    *out = NULL;
    *out_len = 0;
    *ns_len = ns ? strnlen(ns, PGSE_MAX_NS_BYTES + 1) : 0;
    if (*ns_len > PGSE_MAX_NS_BYTES) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "namespace longer than 255 bytes (caller's error)");
    }
    if (id == NULL && id_len > 0) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "id is NULL with id_len %zu (caller's error)", id_len);
    }
    if (id_len > PGSE_MAX_ID_BYTES) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "id of %zu bytes: at most 255 (caller's error)",
                         id_len);
    }
    if (data == NULL && len > 0) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "input is NULL with length %zu (caller's error)", len);
    }
    return PGSTATE_OK;
}

static int encode(pgstate_envelope_codec *codec, const char *ns, const char *id, size_t id_len, uint64_t revision,
                  const void *in, size_t in_len, const uint8_t *fixed_nonce, uint8_t **out, size_t *out_len) {
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    size_t ns_len;
    if (rc == PGSTATE_OK) rc = check_binding(codec, ns, &ns_len, id, id_len, in, in_len, out, out_len);
    if (rc != PGSTATE_OK) return rc;
    if (in_len > UINT32_MAX) {
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "state of %zu bytes: an envelope holds at most "
                         "2^32-1 (caller's error)", in_len);
    }
    /* ENVELOPE.md 6.1: what is written must read back under the writer's own bound */
    if (in_len > codec->max_decompressed) {
        return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_TOO_LARGE, "state of %zu bytes for id \"%.*s\": above this "
                         "codec's decompression bound of %llu (max_decompressed), so it would not read back", in_len,
                         (int)(id_len < 64 ? id_len : 64), id ? id : "", (unsigned long long)codec->max_decompressed);
    }
    char why[300];
    unsigned flags = pgse_flags(codec->compression, codec->mode);
    const pgse_key *key = codec->mode != PGSTATE_ENVELOPE_MODE_NONE ? pgse_ring_find(&codec->ring, codec->ring.active)
                                                                    : NULL;
    size_t tag_len = pgse_tag_len(flags);
    size_t bound;
    rc = pgse_compress_bound(&codec->z, codec->compression, in_len, &bound, why, sizeof why);
    if (rc != PGSTATE_OK) return pgse_fail(codec, rc, "%s", why);
    size_t cap = PGSE_MAX_HEADER + bound + tag_len + 1;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for an envelope of %zu bytes", cap);

    uint8_t nonce[PGSE_NONCE_BYTES];
    if (flags & PGSE_FLAG_ENCRYPTED) {
        if (fixed_nonce != NULL) {
            memcpy(nonce, fixed_nonce, sizeof nonce);
        } else if (pgse_random(nonce, sizeof nonce) != 0) {
            char err[200];
            pgse_crypto_error(err, sizeof err);
            free(buf);
            return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "no random nonce from libcrypto (%s)",
                             err);
        }
    }
    size_t header_len = pgse_put_header(buf, flags, key ? key->id : 0, revision, (uint32_t)in_len, nonce);
    uint8_t *body = buf + header_len;
    size_t body_len;
    rc = pgse_compress(&codec->z, codec->compression, in, in_len, body, bound, &body_len, why, sizeof why);
    if (rc != PGSTATE_OK) {
        free(buf);
        return pgse_fail(codec, rc, "%s", why);
    }
    if (key != NULL) {
        uint8_t subkey[PGSE_KEY_BYTES], ad[PGSE_MAX_AD];
        size_t ad_len = pgse_put_ad(ad, buf, header_len, ns, ns_len, id, id_len);
        int crc = pgse_subkey(&codec->crypto, key->prk, codec->info, codec->info_len, ns, ns_len, id, id_len, subkey);
        if (crc == 0) {
            crc = (flags & PGSE_FLAG_ENCRYPTED)
                      ? pgse_gcm_seal(&codec->crypto, subkey, nonce, ad, ad_len, body, body_len, body + body_len)
                      : pgse_hmac(&codec->crypto, subkey, ad, ad_len, body, body_len, body + body_len);
        }
        pgse_wipe(subkey, sizeof subkey);
        if (crc != 0) {
            char err[200];
            pgse_crypto_error(err, sizeof err);
            free(buf);
            return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "libcrypto failed to %s: %s",
                             (flags & PGSE_FLAG_ENCRYPTED) ? "encrypt" : "authenticate", err);
        }
    }
    size_t total = header_len + body_len + tag_len;
    buf[total] = '\0';
    /* A compressible state leaves most of the compressor's bound unused: give it back. */
    if (cap - total > 4096) {
        uint8_t *smaller = realloc(buf, total + 1);
        if (smaller != NULL) buf = smaller;
    }
    *out = buf;
    *out_len = total;
    return pgse_ok(codec);
}

int pgstate_envelope_encode(pgstate_envelope_codec *codec, const char *ns, const char *id, size_t id_len,
                            uint64_t revision, const void *in, size_t in_len, uint8_t **out, size_t *out_len) {
    return encode(codec, ns, id, id_len, revision, in, in_len, NULL, out, out_len);
}

int pgstate_envelope_encode_with_nonce(pgstate_envelope_codec *codec, const char *ns, const char *id, size_t id_len,
                                       uint64_t revision, const void *in, size_t in_len,
                                       const uint8_t nonce[PGSTATE_ENVELOPE_NONCE_BYTES], uint8_t **out,
                                       size_t *out_len) {
    if (codec != NULL && nonce == NULL && codec->mode == PGSTATE_ENVELOPE_MODE_ENCRYPT) {
        if (out) *out = NULL;
        if (out_len) *out_len = 0;
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "nonce is NULL (caller's error)");
    }
    return encode(codec, ns, id, id_len, revision, in, in_len, nonce, out, out_len);
}

/* ---- decode ---- */

int pgstate_envelope_decode(pgstate_envelope_codec *codec, const char *ns, const char *id, size_t id_len,
                            uint64_t record_revision, const void *in, size_t in_len, uint8_t **out,
                            size_t *out_len) {
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    size_t ns_len;
    if (rc == PGSTATE_OK) rc = check_binding(codec, ns, &ns_len, id, id_len, in, in_len, out, out_len);
    if (rc != PGSTATE_OK) return rc;
    char qid[PGSE_MAX_ID_BYTES + 1], qns[PGSE_MAX_NS_BYTES + 1], why[300];
    pgse_quote(qid, sizeof qid, id, id_len);
    pgse_quote(qns, sizeof qns, ns ? ns : "", ns_len);
    const uint8_t *src = in_len > 0 ? in : (const uint8_t *)"";
    pgse_parts p;
    rc = pgse_parse(src, in_len, &p, why, sizeof why);
    if (rc != PGSTATE_OK) {
        return pgse_fail(codec, rc, "state of id \"%s\" in namespace \"%s\": %s", qid, qns, why);
    }
    /* keyed only (6.2): a plain state (check 1) or an unkeyed envelope (after check 6) may be a substitute */
    if (codec->keyed_only && (!p.h.enveloped || p.h.mode == PGSTATE_ENVELOPE_MODE_NONE)) {
        return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_TAMPERED, "state of id \"%s\" in namespace \"%s\" is %s, "
                         "and this codec takes keyed envelopes only: a substitute for an encrypted or authenticated "
                         "record, or one written before the move to keys", qid, qns,
                         p.h.enveloped ? "an unkeyed envelope" : "not an envelope");
    }
    if (!p.h.enveloped) { /* a plain record: as written */
        uint8_t *copy = malloc(in_len + 1);
        if (copy == NULL) return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for a state of %zu bytes", in_len);
        if (in_len > 0) memcpy(copy, src, in_len);
        copy[in_len] = '\0';
        *out = copy;
        *out_len = in_len;
        return pgse_ok(codec);
    }
    /* The revision is in the clear header: refused before any key work (the tag covers it, so a header
       rewritten to match would not verify). */
    if (p.h.revision != record_revision) {
        return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_ROLLED_BACK, "envelope of id \"%s\" in namespace \"%s\" was "
                         "written as revision %llu but the record is revision %llu: rolled back or replayed "
                         "(restored from a backup, copied from another revision)", qid, qns,
                         (unsigned long long)p.h.revision, (unsigned long long)record_revision);
    }
    const uint8_t *body = p.body;
    size_t body_len = p.body_len;
    uint8_t *opened = NULL; /* the decrypted body, body_len bytes */
    if (p.h.mode != PGSTATE_ENVELOPE_MODE_NONE) {
        const pgse_key *key = pgse_ring_find(&codec->ring, p.h.key_id);
        if (key == NULL) {
            return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_WRONG_KEY, "envelope of id \"%s\" in namespace \"%s\" "
                             "is keyed with key id %lu, which the key ring does not hold%s", qid, qns,
                             (unsigned long)p.h.key_id, codec->ring.count == 0 ? " (the codec has no keys)" : "");
        }
        if (!pgse_compression_available(p.h.compression, why, sizeof why)) {
            return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "envelope of id \"%s\" in namespace "
                             "\"%s\": %s", qid, qns, why);
        }
        uint8_t subkey[PGSE_KEY_BYTES], ad[PGSE_MAX_AD];
        size_t ad_len = pgse_put_ad(ad, src, p.header_len, ns, ns_len, id, id_len);
        int verified = -1;
        if (pgse_subkey(&codec->crypto, key->prk, codec->info, codec->info_len, ns, ns_len, id, id_len, subkey) ==
            0) {
            if (p.h.mode == PGSTATE_ENVELOPE_MODE_ENCRYPT) {
                opened = malloc(body_len + 1);
                if (opened == NULL) {
                    pgse_wipe(subkey, sizeof subkey);
                    return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for a body of %zu bytes", body_len);
                }
                verified = pgse_gcm_open(&codec->crypto, subkey, p.nonce, ad, ad_len, body, body_len, p.tag, opened);
                body = opened;
            } else {
                uint8_t tag[PGSE_HMAC_TAG_BYTES];
                if (pgse_hmac(&codec->crypto, subkey, ad, ad_len, body, body_len, tag) == 0) {
                    verified = pgse_equal(tag, p.tag, sizeof tag);
                }
            }
        }
        pgse_wipe(subkey, sizeof subkey);
        if (verified != 1) {
            free(opened);
            if (verified < 0) {
                char err[200];
                pgse_crypto_error(err, sizeof err);
                return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "libcrypto failed to verify: %s", err);
            }
            return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_TAMPERED, "envelope of id \"%s\" in namespace \"%s\" "
                             "(revision %llu, key id %lu) does not verify (%s): its body, header, namespace or id "
                             "changed, or key %lu or the info differ from the writer's", qid, qns,
                             (unsigned long long)p.h.revision, (unsigned long)p.h.key_id,
                             p.h.mode == PGSTATE_ENVELOPE_MODE_ENCRYPT ? "AES-GCM" : "HMAC-SHA256",
                             (unsigned long)p.h.key_id);
        }
    }
    /* ENVELOPE.md 6.2 check 9 (keyed envelopes made it above, before their key work) */
    if (p.h.mode == PGSTATE_ENVELOPE_MODE_NONE && !pgse_compression_available(p.h.compression, why, sizeof why)) {
        return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, "envelope of id \"%s\" in namespace \"%s\": "
                         "%s", qid, qns, why);
    }
    if (p.h.length > codec->max_decompressed) {
        free(opened);
        return pgse_fail(codec, PGSTATE_ENVELOPE_ERR_TOO_LARGE, "envelope of id \"%s\" in namespace \"%s\" claims "
                         "%lu bytes, above this reader's bound of %llu (max_decompressed): refused before "
                         "decompressing", qid, qns, (unsigned long)p.h.length,
                         (unsigned long long)codec->max_decompressed);
    }
    size_t length = p.h.length;
    uint8_t *plain;
    if (opened != NULL && p.h.compression == PGSTATE_ENVELOPE_COMPRESSION_NONE && body_len == length) {
        plain = opened; /* the decrypted body is the state */
        opened = NULL;
    } else {
        /* exactly `length` (+ the NUL): never more, whatever the body would expand to */
        plain = malloc(length + 1);
        if (plain == NULL) {
            free(opened);
            return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for a state of %zu bytes", length);
        }
        rc = pgse_decompress(&codec->z, p.h.compression, body, body_len, plain, length, why, sizeof why);
        if (opened != NULL) pgse_wipe(opened, body_len);
        free(opened);
        if (rc != PGSTATE_OK) {
            free(plain);
            return pgse_fail(codec, rc, "envelope of id \"%s\" in namespace \"%s\": %s", qid, qns, why);
        }
    }
    plain[length] = '\0';
    *out = plain;
    *out_len = length;
    return pgse_ok(codec);
}
