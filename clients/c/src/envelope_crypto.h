/*
 * envelope_crypto.h - the envelope's cryptography on OpenSSL 3 (libcrypto):
 * HKDF-SHA256 (RFC 5869) for the per-record subkey, AES-256-GCM, HMAC-SHA256,
 * random nonces.  INTERNAL, not installed.
 *
 * The algorithms are fetched once per codec and their contexts reused (a
 * fetch takes a lock and a lookup; a record of 200 bytes should not pay for
 * it), which is one reason a codec is not thread-safe.
 */
#ifndef PGSTATE_ENVELOPE_CRYPTO_H
#define PGSTATE_ENVELOPE_CRYPTO_H

#include <openssl/evp.h>

#include <stddef.h>
#include <stdint.h>

#define PGSE_KEY_BYTES 32u
/* HKDF's salt: fixed, so that the ring key alone is the secret (RFC 5869 section 3.1) */
#define PGSE_HKDF_SALT "pgstate-envelope-v1"

typedef struct pgse_crypto {
    EVP_MAC *mac;          /* HMAC */
    EVP_MAC_CTX *mac_ctx;  /* HMAC with SHA-256, rekeyed per use */
    EVP_CIPHER *gcm;       /* AES-256-GCM */
    EVP_CIPHER_CTX *gcm_ctx;
} pgse_crypto;

/* 0, or -1 with the reason in why (the crypto library refused an algorithm). */
int pgse_crypto_init(pgse_crypto *k, char *why, size_t cap);
/* Accepts a zeroed or half-initialised k. */
void pgse_crypto_free(pgse_crypto *k);

/* HKDF-Extract: prk = HMAC-SHA256(salt, ikm).  0 or -1. */
int pgse_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                      uint8_t prk[PGSE_KEY_BYTES]);
/* HKDF-Expand for L = 32 (one block): okm = HMAC-SHA256(prk, info || 0x01).  0 or -1. */
int pgse_hkdf_expand32(pgse_crypto *k, const uint8_t prk[PGSE_KEY_BYTES], const uint8_t *info, size_t info_len,
                       uint8_t okm[PGSE_KEY_BYTES]);
/* The record's subkey from the ring key's PRK: info = u16 len(app_info) || app_info || u8 len(ns) || ns ||
   u8 len(id) || id.  0 or -1. */
int pgse_subkey(pgse_crypto *k, const uint8_t prk[PGSE_KEY_BYTES], const char *app_info, size_t app_info_len,
                const char *ns, size_t ns_len, const char *id, size_t id_len, uint8_t out[PGSE_KEY_BYTES]);

/* AES-256-GCM over buf in place, tag (16 bytes) out.  0 or -1. */
int pgse_gcm_seal(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *nonce, const uint8_t *ad,
                  size_t ad_len, uint8_t *buf, size_t len, uint8_t *tag);
/* AES-256-GCM decryption of ct into out (len bytes each): 1 verified, 0 verification failed (out is wiped),
   -1 the library failed. */
int pgse_gcm_open(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *nonce, const uint8_t *ad,
                  size_t ad_len, const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *out);
/* tag = HMAC-SHA256(key, ad || body) (32 bytes).  0 or -1. */
int pgse_hmac(pgse_crypto *k, const uint8_t key[PGSE_KEY_BYTES], const uint8_t *ad, size_t ad_len,
              const uint8_t *body, size_t body_len, uint8_t *tag);
/* Constant-time comparison: 1 equal. */
int pgse_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* n random bytes from the library's CSPRNG.  0 or -1. */
int pgse_random(uint8_t *buf, size_t n);
/* Wipes n bytes in a way the compiler keeps. */
void pgse_wipe(void *p, size_t n);

/* The library's last error text ("" if none), clearing its queue. */
void pgse_crypto_error(char *dst, size_t cap);

#endif /* PGSTATE_ENVELOPE_CRYPTO_H */
