/*
 * envelope_internal.h - the key ring and the codec handle, shared by
 * envelope_keyring.c, envelope_codec.c (the pure encode / decode) and
 * envelope_client.c (the calls through a pgstate_client).  INTERNAL, not
 * installed: callers only see the opaque types.
 */
#ifndef PGSTATE_ENVELOPE_INTERNAL_H
#define PGSTATE_ENVELOPE_INTERNAL_H

#include "envelope_compress.h"
#include "envelope_crypto.h"
#include "envelope_format.h"
#include "pgstate_envelope.h"

#include <stddef.h>
#include <stdint.h>

#define PGSE_ERRMSG_CAP 512

#if defined(__GNUC__) || defined(__clang__)
#define PGSE_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PGSE_PRINTF_LIKE(f, a)
#endif

typedef struct pgse_key {
    uint32_t id;
    /* HKDF-Extract(salt, ring key), computed once: every subkey is one HMAC of it (HKDF-Expand, one block).
       The ring key itself is not kept. */
    uint8_t prk[PGSE_KEY_BYTES];
} pgse_key;

struct pgstate_envelope_keyring {
    pgse_key *keys; /* count entries, in the order added */
    size_t count;
    size_t cap;
    uint32_t active; /* 0: none */
};

struct pgstate_envelope_codec {
    int compression; /* written */
    int mode;        /* written */
    uint64_t max_decompressed;
    int keyed_only;  /* plain states and unkeyed envelopes are tampered (pgstate_envelope_codec_set_keyed_only) */
    pgstate_envelope_keyring ring; /* a copy of the caller's */
    char *info;                    /* the application's info, info_len bytes + NUL */
    size_t info_len;
    int crypto_ready;
    pgse_crypto crypto;
    pgse_compressors z;

    /* the connection namespace learnt through WHOAMI, for one handle and connection (envelope_client.c) */
    const pgstate_client *ns_client;
    uint64_t ns_conn; /* the socket it was asked on: device, inode and descriptor */
    size_t ns_len;
    char ns[PGSE_MAX_NS_BYTES + 1];

    int usable; /* construction succeeded; else every call fails with construct_status */
    int construct_status;
    int status; /* of the last call */
    char errmsg[PGSE_ERRMSG_CAP];
    char construct_msg[PGSE_ERRMSG_CAP];
};

/* The key of a ring by id, NULL when absent. */
const pgse_key *pgse_ring_find(const pgstate_envelope_keyring *ring, uint32_t id);
/* Copies src into dst (dst zeroed first); PGSTATE_OK or PGSTATE_ERR_NOMEM. */
int pgse_ring_copy(pgstate_envelope_keyring *dst, const pgstate_envelope_keyring *src);
/* Wipes and frees the keys of a ring held in place (the codec's copy). */
void pgse_ring_clear(pgstate_envelope_keyring *ring);

/* Starts a call on the codec: PGSTATE_OK, or the construction's failure (set as the call's). */
int pgse_begin(pgstate_envelope_codec *codec);
/* The call failed with status and this text; returns status. */
int pgse_fail(pgstate_envelope_codec *codec, int status, const char *fmt, ...) PGSE_PRINTF_LIKE(3, 4);
/* The call succeeded; returns PGSTATE_OK. */
int pgse_ok(pgstate_envelope_codec *codec);

/* A persistence id or namespace quoted for a message (printable ASCII kept, other bytes as \xNN, cut at cap). */
void pgse_quote(char *dst, size_t cap, const char *s, size_t n);

#endif /* PGSTATE_ENVELOPE_INTERNAL_H */
