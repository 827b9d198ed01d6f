/*
 * envelope_format.c - the envelope v1 header and associated data (see
 * envelope_format.h).  Pure: no keys, no compressors, no allocation.
 */
#include "envelope_format.h"

#include "wire.h"

#include <stdio.h>
#include <string.h>

static const uint8_t MAGIC[4] = {'P', 'G', 'S', 'E'};

unsigned pgse_flags(int compression, int mode) {
    unsigned f = (unsigned)compression & PGSE_FLAG_COMPRESSION;
    if (mode == PGSTATE_ENVELOPE_MODE_ENCRYPT) f |= PGSE_FLAG_ENCRYPTED;
    if (mode == PGSTATE_ENVELOPE_MODE_INTEGRITY) f |= PGSE_FLAG_INTEGRITY;
    return f;
}

size_t pgse_tag_len(unsigned flags) {
    if (flags & PGSE_FLAG_ENCRYPTED) return PGSE_GCM_TAG_BYTES;
    if (flags & PGSE_FLAG_INTEGRITY) return PGSE_HMAC_TAG_BYTES;
    return 0;
}

int pgse_parse(const uint8_t *in, size_t n, pgse_parts *p, char *why, size_t cap) {
    memset(p, 0, sizeof *p);
    why[0] = '\0';
    /* A state is an envelope only with the magic AND the version byte: a plain state of exactly "PGSE" (or
       shorter) is just a state.  The magic followed by any other byte is a format this reader does not know. */
    if (n < 5 || memcmp(in, MAGIC, sizeof MAGIC) != 0) return PGSTATE_OK;
    if (in[4] != PGSE_VERSION) {
        snprintf(why, cap, "envelope version %u (this library reads version %u): written by a newer writer",
                 (unsigned)in[4], PGSE_VERSION);
        return PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION;
    }
    /* The flags as soon as they are there: a newer format may have another layout, so its sizes mean nothing. */
    if (n < 6) {
        snprintf(why, cap, "envelope cut short after the version byte (no flags byte)");
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    unsigned flags = in[5];
    if (flags & PGSE_FLAG_RESERVED) {
        snprintf(why, cap, "envelope flags 0x%02x name reserved bits 4-7: written by a newer writer", flags);
        return PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION;
    }
    if ((flags & PGSE_FLAG_COMPRESSION) == 3u) {
        snprintf(why, cap, "envelope flags 0x%02x name the reserved compression 3: written by a newer writer",
                 flags);
        return PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION;
    }
    if ((flags & PGSE_FLAG_ENCRYPTED) && (flags & PGSE_FLAG_INTEGRITY)) {
        snprintf(why, cap, "envelope flags 0x%02x name ENCRYPTED and INTEGRITY together, which no version allows",
                 flags);
        return PGSTATE_ENVELOPE_ERR_UNKNOWN_VERSION;
    }
    p->h.enveloped = 1;
    p->h.flags = flags;
    p->h.compression = (int)(flags & PGSE_FLAG_COMPRESSION);
    p->h.mode = (flags & PGSE_FLAG_ENCRYPTED)   ? PGSTATE_ENVELOPE_MODE_ENCRYPT
                : (flags & PGSE_FLAG_INTEGRITY) ? PGSTATE_ENVELOPE_MODE_INTEGRITY
                                                : PGSTATE_ENVELOPE_MODE_NONE;
    p->header_len = PGSE_FIXED_HEADER + ((flags & PGSE_FLAG_ENCRYPTED) ? PGSE_NONCE_BYTES : 0u);
    p->tag_len = pgse_tag_len(flags);
    if (n < p->header_len + p->tag_len) {
        const char *part = n < PGSE_FIXED_HEADER ? "header" : n < p->header_len ? "nonce" : "tag";
        snprintf(why, cap, "envelope cut short in its %s: %zu bytes, header%s need %zu", part, n,
                 p->tag_len ? " and tag" : "", p->header_len + p->tag_len);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    p->h.key_id = pgs_be32(in + 6);
    p->h.revision = pgs_be64(in + 10);
    p->h.length = pgs_be32(in + 18);
    /* key id 0 means unkeyed, and only there (a ring's ids are 1 .. 2^32-1). */
    if (p->h.mode != PGSTATE_ENVELOPE_MODE_NONE && p->h.key_id == 0) {
        snprintf(why, cap, "keyed envelope with key id 0 (key ids are 1 .. 2^32-1)");
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    if (p->h.mode == PGSTATE_ENVELOPE_MODE_NONE && p->h.key_id != 0) {
        snprintf(why, cap, "unkeyed envelope with key id %lu (0 when neither encrypted nor authenticated)",
                 (unsigned long)p->h.key_id);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    p->nonce = (flags & PGSE_FLAG_ENCRYPTED) ? in + PGSE_FIXED_HEADER : NULL;
    p->body = in + p->header_len;
    p->body_len = n - p->header_len - p->tag_len;
    p->tag = p->tag_len > 0 ? p->body + p->body_len : NULL;
    return PGSTATE_OK;
}

size_t pgse_put_header(uint8_t *dst, unsigned flags, uint32_t key_id, uint64_t revision, uint32_t length,
                       const uint8_t *nonce) {
    memcpy(dst, MAGIC, sizeof MAGIC);
    dst[4] = (uint8_t)PGSE_VERSION;
    dst[5] = (uint8_t)flags;
    pgs_put32(dst + 6, key_id);
    pgs_put64(dst + 10, revision);
    pgs_put32(dst + 18, length);
    if (!(flags & PGSE_FLAG_ENCRYPTED)) return PGSE_FIXED_HEADER;
    memcpy(dst + PGSE_FIXED_HEADER, nonce, PGSE_NONCE_BYTES);
    return PGSE_FIXED_HEADER + PGSE_NONCE_BYTES;
}

size_t pgse_put_ad(uint8_t *dst, const uint8_t *header, size_t header_len, const char *ns, size_t ns_len,
                   const char *id, size_t id_len) {
    uint8_t *p = pgs_put_bytes(dst, header, header_len);
    *p++ = (uint8_t)ns_len;
    p = pgs_put_bytes(p, ns, ns_len);
    *p++ = (uint8_t)id_len;
    p = pgs_put_bytes(p, id, id_len);
    return (size_t)(p - dst);
}

int pgstate_envelope_peek(const void *in, size_t in_len, pgstate_envelope_header *h) {
    pgse_parts p;
    char why[256];
    int rc = in == NULL && in_len > 0 ? PGSTATE_ERR_INVALID_ARGUMENT
                                      : pgse_parse(in_len > 0 ? in : (const void *)"", in_len, &p, why, sizeof why);
    if (h != NULL) *h = rc == PGSTATE_OK ? p.h : (pgstate_envelope_header){0};
    return rc;
}
