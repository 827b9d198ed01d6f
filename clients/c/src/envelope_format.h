/*
 * envelope_format.h - the envelope v1 layout (proto-spec/ENVELOPE.md) without
 * keys or compressors: the clear header read and written, and the associated
 * data every keyed mode authenticates.  INTERNAL, not installed; pure.
 *
 *   offset 0  "PGSE"  4 | 4 version 1 | 5 flags 1 | 6 key_id u32be | 10 revision u64be | 18 length u32be
 *   22        nonce 12 (ENCRYPTED only) | body | tag 16 (GCM) / 32 (HMAC)
 */
#ifndef PGSTATE_ENVELOPE_FORMAT_H
#define PGSTATE_ENVELOPE_FORMAT_H

#include "pgstate_envelope.h"

#include <stddef.h>
#include <stdint.h>

#define PGSE_VERSION 1u
#define PGSE_FIXED_HEADER 22u
#define PGSE_NONCE_BYTES 12u
#define PGSE_GCM_TAG_BYTES 16u
#define PGSE_HMAC_TAG_BYTES 32u
#define PGSE_MAX_HEADER (PGSE_FIXED_HEADER + PGSE_NONCE_BYTES)

#define PGSE_FLAG_COMPRESSION 0x03u /* bits 0-1: 0 none, 1 gzip, 2 zstd, 3 reserved */
#define PGSE_FLAG_ENCRYPTED 0x04u   /* AES-256-GCM */
#define PGSE_FLAG_INTEGRITY 0x08u   /* HMAC-SHA256 */
#define PGSE_FLAG_RESERVED 0xF0u    /* must be 0 */

/* namespace and persistence id are bound with a u8 length each */
#define PGSE_MAX_NS_BYTES 255u
#define PGSE_MAX_ID_BYTES 255u
/* header || u8 len || namespace || u8 len || id */
#define PGSE_MAX_AD (PGSE_MAX_HEADER + 1u + PGSE_MAX_NS_BYTES + 1u + PGSE_MAX_ID_BYTES)

/* An envelope taken apart (pointers into the caller's bytes). */
typedef struct pgse_parts {
    pgstate_envelope_header h;
    size_t header_len;    /* 22, or 34 with the nonce: what the associated data starts with */
    const uint8_t *nonce; /* NULL unless ENCRYPTED */
    const uint8_t *body;
    size_t body_len;
    const uint8_t *tag;   /* NULL when unkeyed */
    size_t tag_len;
} pgse_parts;

/* What a state is: PGSTATE_OK with p->h.enveloped 0 (no "PGSE" 01 prefix: a plain state) or 1 (every part in
   place), PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION or PGSTATE_ENVELOPE_ERR_CORRUPT with the reason in why.  Checks,
   in this order: the prefix (another version byte: unknown_version), the flags byte (missing: corrupt; reserved
   bits, compression 3, ENCRYPTED with INTEGRITY: unknown_version), header + nonce + tag present (corrupt), key id
   0 exactly when unkeyed (corrupt). */
int pgse_parse(const uint8_t *in, size_t n, pgse_parts *p, char *why, size_t cap);

/* The flags byte of a write. */
unsigned pgse_flags(int compression, int mode);

/* Tag length of the flags' mode (0 unkeyed). */
size_t pgse_tag_len(unsigned flags);

/* Writes the header (22 bytes, + the nonce when flags say ENCRYPTED) at dst; returns its length. */
size_t pgse_put_header(uint8_t *dst, unsigned flags, uint32_t key_id, uint64_t revision, uint32_t length,
                       const uint8_t *nonce);

/* The associated data AD = header || u8 len(ns) || ns || u8 len(id) || id into dst (PGSE_MAX_AD bytes); returns
   its length.  ns_len and id_len must be <= 255. */
size_t pgse_put_ad(uint8_t *dst, const uint8_t *header, size_t header_len, const char *ns, size_t ns_len,
                   const char *id, size_t id_len);

#endif /* PGSTATE_ENVELOPE_FORMAT_H */
