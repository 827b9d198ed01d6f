/*
 * pgstate_envelope.h - the envelope v1 (proto-spec/ENVELOPE.md): compression
 * and encryption of states on the client side, for libpgstate.
 *
 * pgstated stores opaque bytes and never sees a key.  An envelope wraps a
 * state before UPSERT and is unwrapped after LOAD:
 *
 *   "PGSE" 01 | flags | key_id u32 | revision u64 | length u32 | [nonce 12] | body | [tag]
 *
 * compressed with gzip or zstd, then either encrypted (AES-256-GCM) or
 * authenticated in clear (HMAC-SHA256) under a per-record subkey derived
 * (HKDF-SHA256) from a key ring entry, the application's info, the namespace
 * and the persistence id.  The envelope is bound to the revision it is
 * written as, so a record rolled back or replayed under another revision is
 * refused (PGSTATE_ENVELOPE_ERR_ROLLED_BACK), and a record copied to another
 * id or namespace does not verify (PGSTATE_ENVELOPE_ERR_TAMPERED).  States
 * without the "PGSE" 01 prefix are returned as written, so plain records and
 * envelopes coexist.
 *
 * An optional layer: a library of its own (libpgstate-envelope, pkg-config
 * pgstate-envelope) on OpenSSL's libcrypto (>= 3.0), zlib and libzstd (the
 * zstd codec is left out of a build without it: zstd then fails with
 * PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE).  libpgstate itself stays libc only.
 *
 * Shape, as for libpgstate: a codec handle always returned (only out of
 * memory gives NULL; check pgstate_envelope_codec_status), status codes, the
 * text of the last error on the codec (pgstate_envelope_errmsg), one free
 * per allocation, every free accepting NULL.
 *
 * THREAD SAFETY: a codec is NOT thread-safe (it keeps the last error, cipher,
 * MAC and compressor contexts, and the namespace it learnt from a
 * connection): one codec per thread, like a pgstate_client.  A key ring is
 * copied into each codec made from it, so one ring may serve every thread's
 * codec and be freed once they are made.
 */
#ifndef PGSTATE_ENVELOPE_H
#define PGSTATE_ENVELOPE_H

#include <pgstate.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This library's version (libpgstate-envelope.so.0; its own, beside libpgstate's PGSTATE_VERSION_*). */
#define PGSTATE_ENVELOPE_VERSION_MAJOR 0
#define PGSTATE_ENVELOPE_VERSION_MINOR 1
#define PGSTATE_ENVELOPE_VERSION_PATCH 0
#define PGSTATE_ENVELOPE_VERSION_STRING "0.1.0"

/* The envelope format this library reads and writes (the version byte). */
#define PGSTATE_ENVELOPE_FORMAT 1

/* Key ring entries are exactly this long (AES-256 / HKDF input key material). */
#define PGSTATE_ENVELOPE_KEY_BYTES 32
/* AES-GCM nonce length (random per write). */
#define PGSTATE_ENVELOPE_NONCE_BYTES 12
/* The reader's default bound on a body's decompressed length (64 MiB). */
#define PGSTATE_ENVELOPE_DEFAULT_MAX_DECOMPRESSED (64u * 1024u * 1024u)

/*
 * Status codes of this layer.  Calls return PGSTATE_OK (0), one of these, or
 * one of libpgstate's codes (PGSTATE_ERR_INVALID_ARGUMENT for a caller's
 * mistake, PGSTATE_ERR_NOMEM, and from the calls that talk to the daemon
 * every code pgstate_load / pgstate_upsert can return).  They lie in
 * -101 .. -199, apart from libpgstate's, and only grow.  Each says who is at
 * fault; none is worth retrying unchanged.
 */
typedef enum pgstate_envelope_status_code {
    /* The state starts with "PGSE" but a version byte other than 1, or names
       reserved flags, compression 3, or ENCRYPTED and INTEGRITY together:
       written by a newer (or foreign) writer.  Upgrade the reader. */
    PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION = -101,
    /* The envelope is malformed: header, nonce, body or tag cut short, or the
       body does not decompress to exactly `length` bytes (fails, yields more
       or fewer).  An unkeyed envelope is not authenticated, so this is also
       what a damaged unkeyed record gives. */
    PGSTATE_ENVELOPE_ERR_CORRUPT = -102,
    /* The envelope was written as another revision than the record's: the
       record was rolled back or replayed (restored from a backup, copied
       from an older revision).  Checked before any key work. */
    PGSTATE_ENVELOPE_ERR_ROLLED_BACK = -103,
    /* The envelope is keyed with a key id the reader's ring does not hold
       (the message names it): add the key (a retired key may stay in the
       ring for reading). */
    PGSTATE_ENVELOPE_ERR_WRONG_KEY = -104,
    /* AES-GCM or HMAC verification failed: body, header, namespace or id
       changed, or a different key under the same key id, or another info. */
    PGSTATE_ENVELOPE_ERR_TAMPERED = -105,
    /* The body claims a decompressed length above the reader's bound
       (max_decompressed): refused before decompressing. */
    PGSTATE_ENVELOPE_ERR_TOO_LARGE = -106,
    /* The mode is not available in this build or runtime (zstd left out, the
       crypto library refused AES-256-GCM / HMAC-SHA256 or random bytes); the
       message names what to install. */
    PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE = -107
} pgstate_envelope_status_code;

/* "PGSTATE_ENVELOPE_ERR_TAMPERED", ...; libpgstate's names for its codes (pgstate_status_name).
   Never NULL; static storage. */
PGSTATE_EXPORT const char *pgstate_envelope_status_name(int status);

/* The short class name of the design and of the Python client ("unknown_version", "corrupt", "rolled_back",
   "wrong_key", "tampered", "too_large", "unavailable_mode"), or NULL for any other code. */
PGSTATE_EXPORT const char *pgstate_envelope_error_class(int status);

/* ------------------------------------------------------------------------- */
/* Key ring                                                                   */
/* ------------------------------------------------------------------------- */

/*
 * Key id (1 .. 2^32-1) -> 32-byte key, one of them active for writing; the
 * others are retired: still read, never written.  Rotation: add the new key
 * as active, make new codecs from the ring; records are re-encrypted on their
 * next write, or by pgstate_envelope_rewrap.  Keys are wiped when freed.
 */
typedef struct pgstate_envelope_keyring pgstate_envelope_keyring;

/* An empty ring, or NULL when out of memory. */
PGSTATE_EXPORT pgstate_envelope_keyring *pgstate_envelope_keyring_new(void);

/* Adds key_id -> key (PGSTATE_ENVELOPE_KEY_BYTES bytes, copied); active != 0 makes it the key written with.
   PGSTATE_OK, PGSTATE_ERR_INVALID_ARGUMENT (key_id 0, key NULL, key_id already in the ring),
   PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE (the crypto library refused HMAC-SHA256) or PGSTATE_ERR_NOMEM. */
PGSTATE_EXPORT int pgstate_envelope_keyring_add(pgstate_envelope_keyring *ring, uint32_t key_id,
                                                const uint8_t key[PGSTATE_ENVELOPE_KEY_BYTES], int active);

/* The active key id, 0 when none is. */
PGSTATE_EXPORT uint32_t pgstate_envelope_keyring_active(const pgstate_envelope_keyring *ring);

/* Number of keys in the ring. */
PGSTATE_EXPORT size_t pgstate_envelope_keyring_count(const pgstate_envelope_keyring *ring);

/* Wipes the keys and frees the ring.  Accepts NULL.  Codecs made from it keep their own copy. */
PGSTATE_EXPORT void pgstate_envelope_keyring_free(pgstate_envelope_keyring *ring);

/* ------------------------------------------------------------------------- */
/* Codec                                                                      */
/* ------------------------------------------------------------------------- */

/* compression written (the flags' bits 0-1) */
#define PGSTATE_ENVELOPE_COMPRESSION_NONE 0
#define PGSTATE_ENVELOPE_COMPRESSION_GZIP 1 /* one RFC 1952 member (zlib, windowBits 31) */
#define PGSTATE_ENVELOPE_COMPRESSION_ZSTD 2 /* one zstd frame */

/* what a write protects the body with */
#define PGSTATE_ENVELOPE_MODE_NONE 0      /* no key (compression only, or flags 0) */
#define PGSTATE_ENVELOPE_MODE_ENCRYPT 1   /* AES-256-GCM: confidential and authenticated */
#define PGSTATE_ENVELOPE_MODE_INTEGRITY 2 /* HMAC-SHA256: body in clear, authenticated */

typedef struct pgstate_envelope_codec pgstate_envelope_codec;

/*
 * A codec writing `compression` under `mode`, and reading every envelope its
 * key ring can open.
 *
 *   ring: copied (NULL: no keys; then only unkeyed envelopes are read, keyed
 *         ones fail with PGSTATE_ENVELOPE_ERR_WRONG_KEY).  A keyed mode needs
 *         a ring with an active key.
 *   info: the application's security domain (e.g. "billing/orders"),
 *         NUL-terminated, 1 .. 65535 bytes, part of every subkey: readers must
 *         name the same info as the writer.  There is no default: required
 *         whenever a ring is given; may be NULL or "" without one.
 *   max_decompressed: the reader's bound on a body's decompressed length
 *         (0: PGSTATE_ENVELOPE_DEFAULT_MAX_DECOMPRESSED, at most 2^32-1).
 *
 * Always returns a codec (free it with pgstate_envelope_codec_free) unless
 * memory ran out (NULL).  pgstate_envelope_codec_status(codec) is PGSTATE_OK,
 * or says why it cannot be used (PGSTATE_ERR_INVALID_ARGUMENT,
 * PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE: e.g. zstd left out of this build),
 * with pgstate_envelope_errmsg(codec) giving the reason; every call on such a
 * codec fails the same way.
 */
PGSTATE_EXPORT pgstate_envelope_codec *pgstate_envelope_codec_new(int compression,
                                                                  const pgstate_envelope_keyring *ring, int mode,
                                                                  const char *info, uint64_t max_decompressed);

/* Keyed envelopes only (on != 0; ENVELOPE.md section 6.2, the Python client's allow_unkeyed=False): a state
   that is not an envelope, and an unkeyed envelope, then fail as PGSTATE_ENVELOPE_ERR_TAMPERED, so that nobody
   with write access to the store can substitute a plain state for an encrypted or authenticated one.  Off by
   default, so that a store can move to the envelope record by record.  PGSTATE_OK, or
   PGSTATE_ERR_INVALID_ARGUMENT for a codec without keys. */
PGSTATE_EXPORT int pgstate_envelope_codec_set_keyed_only(pgstate_envelope_codec *codec, int on);

/* Wipes the keys and frees the codec.  Accepts NULL. */
PGSTATE_EXPORT void pgstate_envelope_codec_free(pgstate_envelope_codec *codec);

/* Status of the last call on the codec (for a new codec: of its construction). */
PGSTATE_EXPORT int pgstate_envelope_codec_status(const pgstate_envelope_codec *codec);

/* Text of the last error on the codec ("" after a successful call), naming the id and namespace involved and
   who is at fault.  After the client calls below failed in libpgstate, libpgstate's text.  Valid until the next
   call on the codec.  Never NULL (also for NULL). */
PGSTATE_EXPORT const char *pgstate_envelope_errmsg(const pgstate_envelope_codec *codec);

/*
 * Pure functions: bytes in, bytes out, no I/O.
 *
 *   ns: the effective namespace of the request (NUL-terminated, 0 .. 255
 *       bytes; NULL = ""): the one the handle names (pgstate_set_namespace),
 *       else the connection's own (pgstate_whoami) when the server announces
 *       IDENTITY, else "".  The client calls below work it out.
 *   id, id_len: the persistence id (0 .. 255 bytes, need not be NUL-terminated).
 *
 * On PGSTATE_OK, *out (malloc'd; free it with pgstate_envelope_free) holds
 * *out_len bytes followed by one NUL byte (not counted); otherwise *out is
 * NULL and *out_len 0.
 */

/* The envelope of `in` bound to `revision` (the revision the record will be written as: the UPSERT's
   expected_revision + 1), with a fresh random nonce when encrypting.  in_len at most 2^32-1 and at most the
   codec's max_decompressed (else PGSTATE_ENVELOPE_ERR_TOO_LARGE: it would not read back). */
PGSTATE_EXPORT int pgstate_envelope_encode(pgstate_envelope_codec *codec, const char *ns, const char *id,
                                           size_t id_len, uint64_t revision, const void *in, size_t in_len,
                                           uint8_t **out, size_t *out_len);

/* The same with the caller's nonce, FOR TESTS AND VECTORS ONLY: two envelopes under one key id, namespace and
   persistence id with the same nonce reveal both states' XOR and let the GCM key be forged.  Ignored unless the
   codec encrypts. */
PGSTATE_EXPORT int pgstate_envelope_encode_with_nonce(pgstate_envelope_codec *codec, const char *ns,
                                                      const char *id, size_t id_len, uint64_t revision,
                                                      const void *in, size_t in_len,
                                                      const uint8_t nonce[PGSTATE_ENVELOPE_NONCE_BYTES],
                                                      uint8_t **out, size_t *out_len);

/* The state a record holds: `in` is the record's state, record_revision its revision.  A state without the
   "PGSE" 01 prefix is returned as written (a copy), unless the codec takes keyed envelopes only.  Errors: PGSTATE_ENVELOPE_ERR_* in the order of
   ENVELOPE.md section 6.2 (unknown_version / corrupt from the header, rolled_back before any key work,
   wrong_key, unavailable_mode, tampered, too_large before decompressing, corrupt from decompression); never
   allocates more than the body's `length` (checked against max_decompressed first) for the output. */
PGSTATE_EXPORT int pgstate_envelope_decode(pgstate_envelope_codec *codec, const char *ns, const char *id,
                                           size_t id_len, uint64_t record_revision, const void *in, size_t in_len,
                                           uint8_t **out, size_t *out_len);

/* Frees what encode / decode returned.  Accepts NULL. */
PGSTATE_EXPORT void pgstate_envelope_free(void *p);

/* What the clear header of a state says, without keys (nothing is verified). */
typedef struct pgstate_envelope_header {
    int enveloped;        /* 0: no "PGSE" 01 prefix (a plain state; the other fields are 0) */
    unsigned flags;       /* the flags byte */
    int compression;      /* PGSTATE_ENVELOPE_COMPRESSION_* */
    int mode;             /* PGSTATE_ENVELOPE_MODE_* */
    uint32_t key_id;      /* 0 when unkeyed */
    uint64_t revision;    /* the revision it was written as */
    uint32_t length;      /* the body's length before compression */
} pgstate_envelope_header;

/* Fills *h from a state: PGSTATE_OK (also for a plain state: h->enveloped 0), PGSTATE_ENVELOPE_ERR_CORRUPT
   (cut short) or PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION.  Pure; no codec needed. */
PGSTATE_EXPORT int pgstate_envelope_peek(const void *in, size_t in_len, pgstate_envelope_header *h);

/* ------------------------------------------------------------------------- */
/* With a client                                                              */
/* ------------------------------------------------------------------------- */

/*
 * The blocking calls of libpgstate with a codec around them.  The namespace
 * bound into the envelope is the handle's (pgstate_namespace) when it names
 * one, else the connection's own, which the codec asks once (WHOAMI) when
 * the server announces IDENTITY and remembers for this handle and
 * connection (after pgstate_reconnect it asks again), else "".
 *
 * Returns PGSTATE_OK, PGSTATE_NOT_FOUND, PGSTATE_CONFLICT, libpgstate's
 * errors (text: pgstate_errmsg(c), copied to pgstate_envelope_errmsg) or
 * this layer's.
 */

/* A record with its state decoded, in one allocation owned by the caller: free it with
   pgstate_envelope_record_free.  Fields may be appended in later versions. */
typedef struct pgstate_envelope_record {
    const char *persistence_id; /* persistence_id_len bytes + a NUL */
    size_t persistence_id_len;
    uint64_t revision;
    int64_t updated_at_us;      /* commit time, microseconds since the Unix epoch; informational */
    const void *state;          /* the decoded state, state_len bytes + a NUL (not counted) */
    size_t state_len;
    pgstate_envelope_header envelope; /* the stored header (envelope.enveloped 0: a plain record) */
    size_t stored_len;          /* the bytes the daemon holds */
} pgstate_envelope_record;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_envelope_record_free(pgstate_envelope_record *r);

/* UPSERT of the envelope of `state`, bound to expected_revision + 1, the namespace and the id.  *out (out may
   be NULL): the new record with `state` as given, only on PGSTATE_OK. */
PGSTATE_EXPORT int pgstate_envelope_upsert(pgstate_client *c, pgstate_envelope_codec *codec, const char *id,
                                           size_t id_len, uint64_t expected_revision, const void *state,
                                           size_t state_len, pgstate_envelope_record **out);

/* LOAD and decode with the record's revision.  PGSTATE_OK with *out, PGSTATE_NOT_FOUND, or an error (a record
   that does not decode: this layer's code, the message naming id and revision); *out NULL unless OK. */
PGSTATE_EXPORT int pgstate_envelope_load(pgstate_client *c, pgstate_envelope_codec *codec, const char *id,
                                         size_t id_len, pgstate_envelope_record **out);

/* What pgstate_envelope_rewrap did. */
typedef struct pgstate_envelope_rewrap_counts {
    size_t rewritten; /* loaded, decoded, written again as the codec writes (its flags, its active key) */
    size_t conflicts; /* written meanwhile by someone else (so already under that writer's codec): skipped */
    size_t missing;   /* no record (also one deleted between the load and the upsert): skipped */
    size_t current;   /* already an envelope as the codec writes it (header only, not verified): skipped;
                         0 with PGSTATE_ENVELOPE_REWRAP_FORCE */
    size_t done;      /* ids handled; < count when an error stopped the run at ids[done] */
} pgstate_envelope_rewrap_counts;

/* pgstate_envelope_rewrap options */
#define PGSTATE_ENVELOPE_REWRAP_FORCE 0x1u /* rewrite records that are already current too */

/*
 * Rotation (ENVELOPE.md section 8): for each id, LOAD -> decode -> UPSERT
 * with expected = its revision, so the record gets a new envelope bound to
 * revision + 1 under the codec's active key and flags (plain records get
 * wrapped too).  A record whose header already shows the codec's flags and
 * active key is skipped (unless options has PGSTATE_ENVELOPE_REWRAP_FORCE).
 * A CONFLICT means another writer got there first, so its write is already
 * under that writer's codec: counted and skipped (as missing when the record
 * was deleted meanwhile); so is a missing record.  Stops at the first other
 * error (a record that does not decode, a lost connection) and returns it,
 * the message naming the id; running it again is safe.  id_lens may be NULL
 * (then every id is NUL-terminated).  counts may be NULL.
 */
PGSTATE_EXPORT int pgstate_envelope_rewrap(pgstate_client *c, pgstate_envelope_codec *codec,
                                           const char *const *ids, const size_t *id_lens, size_t count,
                                           unsigned options, pgstate_envelope_rewrap_counts *counts);

#ifdef __cplusplus
}
#endif

#endif /* PGSTATE_ENVELOPE_H */
