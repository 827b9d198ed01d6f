/*
 * wire.h - the field-level helpers every codec file shares (INTERNAL, not
 * installed; no I/O): big-endian integers, a bounds-checked read cursor, and
 * the start of an encoded frame.  codec.c codes the store's messages with
 * them, operator_codec.c the operators'.
 */
#ifndef PGSTATE_WIRE_H
#define PGSTATE_WIRE_H

#include "codec.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- big-endian integers ---- */

static inline uint32_t pgs_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t pgs_be64(const uint8_t *p) {
    return ((uint64_t)pgs_be32(p) << 32) | (uint64_t)pgs_be32(p + 4);
}

/* Two's-complement reinterpretation without implementation-defined conversion. */
static inline int64_t pgs_to_i64(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX) return (int64_t)v;
    return -(int64_t)(~v) - 1;
}

static inline void pgs_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void pgs_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void pgs_put64(uint8_t *p, uint64_t v) {
    pgs_put32(p, (uint32_t)(v >> 32));
    pgs_put32(p + 4, (uint32_t)v);
}

static inline uint8_t *pgs_put_bytes(uint8_t *p, const void *src, size_t n) {
    if (n > 0) memcpy(p, src, n);
    return p + n;
}

/* ---- the read cursor: a field that runs past the end sets `bad` and reads as 0 / NULL ---- */

typedef struct pgs_cursor {
    const uint8_t *p;
    size_t left;
    int bad; /* a field ran past the end of the body */
} pgs_cursor;

static inline const uint8_t *pgs_take(pgs_cursor *c, size_t n) {
    if (c->bad || c->left < n) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static inline uint8_t pgs_get8(pgs_cursor *c) {
    const uint8_t *p = pgs_take(c, 1);
    return p ? p[0] : 0;
}

static inline uint16_t pgs_get16(pgs_cursor *c) {
    const uint8_t *p = pgs_take(c, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static inline uint32_t pgs_get32(pgs_cursor *c) {
    const uint8_t *p = pgs_take(c, 4);
    return p ? pgs_be32(p) : 0;
}

static inline uint64_t pgs_get64(pgs_cursor *c) {
    const uint8_t *p = pgs_take(c, 8);
    return p ? pgs_be64(p) : 0;
}

/* Length-prefixed field; len_bytes is 1, 2 or 4.  *n is 0 when the field is cut off. */
static inline const uint8_t *pgs_get_sized(pgs_cursor *c, int len_bytes, size_t *n) {
    size_t len = len_bytes == 1 ? pgs_get8(c) : len_bytes == 2 ? pgs_get16(c) : pgs_get32(c);
    *n = 0;
    if (c->bad) return NULL;
    const uint8_t *p = pgs_take(c, len);
    if (p != NULL) *n = len;
    return p;
}

/* ---- encoding (codec.c) ---- */

/* Reserves a whole frame in b and writes its length prefix and header; returns
   where its payload_len payload bytes go, or NULL with *rc set (PGS_ENC_NOMEM,
   or PGS_ENC_RANGE when the frame would not fit a u32 length). */
uint8_t *pgs_frame_begin(pgs_buf *b, uint8_t type, uint8_t flags, uint32_t rid, uint64_t payload_len, int *rc);

#endif /* PGSTATE_WIRE_H */
