/*
 * reader.c - pgstate wire protocol v1: the incremental frame reader (bytes in,
 * whole frames out).  No I/O and no decoding; see codec.h.
 */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#define READER_READAHEAD ((size_t)64 * 1024)

void pgs_reader_init(pgs_reader *r, uint32_t max_frame_bytes) {
    memset(r, 0, sizeof *r);
    r->max_frame_bytes = max_frame_bytes;
}

void pgs_reader_free(pgs_reader *r) {
    free(r->buf);
    memset(r, 0, sizeof *r);
}

void pgs_reader_reset(pgs_reader *r) {
    r->start = r->end = 0;
    r->err_status = 0;
    r->err_length = 0;
}

void pgs_reader_set_max_frame(pgs_reader *r, uint32_t max_frame_bytes) {
    r->max_frame_bytes = max_frame_bytes;
}

size_t pgs_reader_buffered(const pgs_reader *r) {
    return r->end - r->start;
}

/* Most unconsumed bytes the reader may hold: one maximal frame. */
static size_t reader_bound(const pgs_reader *r) {
    return (size_t)PGS_LENGTH_BYTES + (size_t)r->max_frame_bytes;
}

/* Validates a complete length prefix; sets the sticky error. */
static int reader_check_length(pgs_reader *r, uint32_t length) {
    if (length > r->max_frame_bytes) {
        r->err_status = PGS_S_FRAME_TOO_LARGE;
        r->err_length = length;
        return -1;
    }
    if (length < PGS_HEADER_BYTES) {
        r->err_status = PGS_S_MALFORMED_FRAME;
        r->err_length = length;
        return -1;
    }
    return 0;
}

/* Moves the unconsumed bytes to the front of the buffer. */
static void reader_compact(pgs_reader *r) {
    if (r->start == 0) return;
    size_t u = r->end - r->start;
    if (u > 0) memmove(r->buf, r->buf + r->start, u);
    r->start = 0;
    r->end = u;
}

/* Ensures cap >= want (want <= bound); 0 or -1 (no memory). */
static int reader_reserve(pgs_reader *r, size_t want) {
    if (r->cap >= want) return 0;
    size_t ncap = r->cap ? r->cap : 4096;
    while (ncap < want) ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
    size_t bound = reader_bound(r);
    if (ncap > bound && want <= bound) ncap = bound;
    uint8_t *nb = realloc(r->buf, ncap);
    if (nb == NULL) return -1;
    r->buf = nb;
    r->cap = ncap;
    return 0;
}

int pgs_reader_space(pgs_reader *r, uint8_t **ptr, size_t *avail) {
    *ptr = NULL;
    *avail = 0;
    reader_compact(r);
    size_t u = r->end;
    size_t bound = reader_bound(r);
    if (r->err_status != 0 || u >= bound) return 0;
    /* Room for the current frame (once its length is known) or some readahead. */
    size_t want = u + READER_READAHEAD;
    if (u >= PGS_LENGTH_BYTES) {
        uint32_t length = be32(r->buf);
        if (length <= r->max_frame_bytes) {
            size_t frame = (size_t)PGS_LENGTH_BYTES + length;
            if (frame > want) want = frame;
        }
    }
    if (want > bound) want = bound;
    if (reader_reserve(r, want) != 0) return -1;
    *ptr = r->buf + u;
    *avail = (r->cap < bound ? r->cap : bound) - u;
    return 0;
}

void pgs_reader_commit(pgs_reader *r, size_t n) {
    r->end += n;
}

size_t pgs_reader_feed(pgs_reader *r, const void *data, size_t n) {
    reader_compact(r);
    size_t bound = reader_bound(r);
    size_t u = r->end;
    if (r->err_status != 0 || u >= bound || n == 0) return 0;
    size_t take = n < bound - u ? n : bound - u;
    if (reader_reserve(r, u + take) != 0) return (size_t)-1;
    memcpy(r->buf + u, data, take);
    r->end += take;
    return take;
}

int pgs_reader_next(pgs_reader *r, const uint8_t **body, uint32_t *body_len) {
    if (r->err_status != 0) return PGS_READ_ERROR;
    size_t u = r->end - r->start;
    if (u < PGS_LENGTH_BYTES) return PGS_NEED_MORE;
    uint32_t length = be32(r->buf + r->start);
    if (reader_check_length(r, length) != 0) return PGS_READ_ERROR;
    if (u - PGS_LENGTH_BYTES < length) return PGS_NEED_MORE; /* consume nothing */
    *body = r->buf + r->start + PGS_LENGTH_BYTES;
    *body_len = length;
    r->start += (size_t)PGS_LENGTH_BYTES + length;
    return PGS_FRAME;
}
