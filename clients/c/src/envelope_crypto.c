/*
 * envelope_crypto.c - HKDF-SHA256, AES-256-GCM and HMAC-SHA256 on OpenSSL 3
 * (see envelope_crypto.h).
 */
#include "envelope_crypto.h"

#include "wire.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* EVP's update calls take int lengths: feed larger buffers in pieces. */
#define CHUNK ((size_t)1 << 30)

void pgse_crypto_error(char *dst, size_t cap) {
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(dst, cap, "no error queued by libcrypto");
    } else {
        ERR_error_string_n(e, dst, cap);
    }
    ERR_clear_error();
}

int pgse_crypto_init(pgse_crypto *k, char *why, size_t cap) {
    memset(k, 0, sizeof *k);
    char err[200];
    k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    k->mac_ctx = k->mac ? EVP_MAC_CTX_new(k->mac) : NULL;
    if (k->mac_ctx != NULL) {
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        if (!EVP_MAC_CTX_set_params(k->mac_ctx, params)) {
            EVP_MAC_CTX_free(k->mac_ctx);
            k->mac_ctx = NULL;
        }
    }
    if (k->mac_ctx == NULL) {
        pgse_crypto_error(err, sizeof err);
        snprintf(why, cap, "libcrypto offers no HMAC-SHA256 (%s): install OpenSSL 3 with its default provider "
                 "(Debian: libssl3)", err);
        pgse_crypto_free(k);
        return -1;
    }
    k->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    k->gcm_ctx = k->gcm ? EVP_CIPHER_CTX_new() : NULL;
    if (k->gcm_ctx == NULL) {
        pgse_crypto_error(err, sizeof err);
        snprintf(why, cap, "libcrypto offers no AES-256-GCM (%s): install OpenSSL 3 with its default provider "
                 "(Debian: libssl3)", err);
        pgse_crypto_free(k);
        return -1;
    }
    return 0;
}

void pgse_crypto_free(pgse_crypto *k) {
    if (k == NULL) return;
    EVP_CIPHER_CTX_free(k->gcm_ctx);
    EVP_CIPHER_free(k->gcm);
    EVP_MAC_CTX_free(k->mac_ctx);
    EVP_MAC_free(k->mac);
    memset(k, 0, sizeof *k);
}

int pgse_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                      uint8_t prk[PGSE_KEY_BYTES]) {
    size_t out_len = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, salt, salt_len, ikm, ikm_len, prk, PGSE_KEY_BYTES,
                  &out_len) == NULL) {
        return -1;
    }
    return out_len == PGSE_KEY_BYTES ? 0 : -1;
}

static int mac_update(EVP_MAC_CTX *ctx, const uint8_t *p, size_t n) {
    return n == 0 || EVP_MAC_update(ctx, p, n) ? 0 : -1;
}

static int mac_final(EVP_MAC_CTX *ctx, uint8_t *out) {
    size_t n = 0;
    return EVP_MAC_final(ctx, out, &n, PGSE_KEY_BYTES) && n == PGSE_KEY_BYTES ? 0 : -1;
}

int pgse_hkdf_expand32(pgse_crypto *k, const uint8_t prk[PGSE_KEY_BYTES], const uint8_t *info, size_t info_len,
                       uint8_t okm[PGSE_KEY_BYTES]) {
    static const uint8_t one = 0x01; /* T(1) = HMAC(PRK, T(0) || info || 0x01), T(0) empty */
    if (!EVP_MAC_init(k->mac_ctx, prk, PGSE_KEY_BYTES, NULL)) return -1;
    if (mac_update(k->mac_ctx, info, info_len) != 0 || mac_update(k->mac_ctx, &one, 1) != 0) return -1;
    return mac_final(k->mac_ctx, okm);
}

int pgse_subkey(pgse_crypto *k, const uint8_t prk[PGSE_KEY_BYTES], const char *app_info, size_t app_info_len,
                const char *ns, size_t ns_len, const char *id, size_t id_len, uint8_t out[PGSE_KEY_BYTES]) {
    /* The HKDF info, fed to the MAC in pieces (app_info may be up to 64 KiB): equal to hashing it whole. */
    static const uint8_t one = 0x01;
    uint8_t len16[2], len8;
    pgs_put16(len16, (uint16_t)app_info_len);
    if (!EVP_MAC_init(k->mac_ctx, prk, PGSE_KEY_BYTES, NULL)) return -1;
    if (mac_update(k->mac_ctx, len16, 2) != 0 ||
        mac_update(k->mac_ctx, (const uint8_t *)app_info, app_info_len) != 0) {
        return -1;
    }
    len8 = (uint8_t)ns_len;
    if (mac_update(k->mac_ctx, &len8, 1) != 0 || mac_update(k->mac_ctx, (const uint8_t *)ns, ns_len) != 0) return -1;
    len8 = (uint8_t)id_len;
    if (mac_update(k->mac_ctx, &len8, 1) != 0 || mac_update(k->mac_ctx, (const uint8_t *)id, id_len) != 0) return -1;
    if (mac_update(k->mac_ctx, &one, 1) != 0) return -1;
    return mac_final(k->mac_ctx, out);
}

/* Feeds n bytes through an encrypt or decrypt update (out NULL: associated data). */
static int cipher_update(EVP_CIPHER_CTX *ctx, int encrypt, uint8_t *out, const uint8_t *in, size_t n) {
    while (n > 0) {
        int piece = (int)(n < CHUNK ? n : CHUNK), got = 0;
        int ok = encrypt ? EVP_EncryptUpdate(ctx, out, &got, in, piece) : EVP_DecryptUpdate(ctx, out, &got, in, piece);
        if (!ok || (out != NULL && got != piece)) return -1; /* GCM is a stream mode: all of it, at once */
        in += piece;
        if (out != NULL) out += piece;
        n -= (size_t)piece;
    }
    return 0;
}

int pgse_gcm_seal(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *nonce, const uint8_t *ad,
                  size_t ad_len, uint8_t *buf, size_t len, uint8_t *tag) {
    EVP_CIPHER_CTX *ctx = k->gcm_ctx;
    int got = 0;
    /* The default GCM IV length is the envelope's 12 bytes. */
    if (!EVP_EncryptInit_ex2(ctx, k->gcm, key, nonce, NULL)) return -1;
    if (cipher_update(ctx, 1, NULL, ad, ad_len) != 0 || cipher_update(ctx, 1, buf, buf, len) != 0) return -1;
    if (!EVP_EncryptFinal_ex(ctx, buf + len, &got) || got != 0) return -1;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) ? 0 : -1;
}

int pgse_gcm_open(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *nonce, const uint8_t *ad,
                  size_t ad_len, const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *out) {
    EVP_CIPHER_CTX *ctx = k->gcm_ctx;
    int got = 0;
    if (!EVP_DecryptInit_ex2(ctx, k->gcm, key, nonce, NULL)) return -1;
    if (cipher_update(ctx, 0, NULL, ad, ad_len) != 0 || cipher_update(ctx, 0, out, ct, len) != 0) return -1;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag)) return -1;
    if (EVP_DecryptFinal_ex(ctx, out + len, &got) > 0) return 1;
    ERR_clear_error();
    pgse_wipe(out, len); /* never hand out unauthenticated plaintext */
    return 0;
}

int pgse_hmac(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *ad, size_t ad_len,
              const uint8_t *body, size_t body_len, uint8_t *tag) {
    if (!EVP_MAC_init(k->mac_ctx, key, PGSE_KEY_BYTES, NULL)) return -1;
    if (mac_update(k->mac_ctx, ad, ad_len) != 0 || mac_update(k->mac_ctx, body, body_len) != 0) return -1;
    return mac_final(k->mac_ctx, tag);
}

int pgse_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}

int pgse_random(uint8_t *buf, size_t n) {
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void pgse_wipe(void *p, size_t n) {
    if (p != NULL && n > 0) OPENSSL_cleanse(p, n);
}
