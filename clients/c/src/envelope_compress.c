/*
 * envelope_compress.c - gzip and zstd for the envelope, decompression bounded
 * by the header's length (see envelope_compress.h).
 */
#include "envelope_compress.h"

#include "pgstate_envelope.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define NO_ZSTD_HINT "libpgstate-envelope was built without zstd: rebuild it with libzstd (Debian: libzstd-dev)"

int pgse_compression_available(int kind, char *why, size_t cap) {
    switch (kind) {
    case PGSTATE_ENVELOPE_COMPRESSION_NONE:
    case PGSTATE_ENVELOPE_COMPRESSION_GZIP: return 1;
    case PGSTATE_ENVELOPE_COMPRESSION_ZSTD:
#ifdef PGSTATE_ENVELOPE_NO_ZSTD
        snprintf(why, cap, "zstd compression unavailable: %s", NO_ZSTD_HINT);
        return 0;
#else
        return 1;
#endif
    default: snprintf(why, cap, "compression %d is not one this library knows", kind); return 0;
    }
}

void pgse_compressors_free(pgse_compressors *z) {
    if (z == NULL) return;
    if (z->deflater_ready) deflateEnd(&z->deflater);
    if (z->inflater_ready) inflateEnd(&z->inflater);
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
    ZSTD_freeCCtx(z->zc);
    ZSTD_freeDCtx(z->zd);
#endif
    memset(z, 0, sizeof *z);
}

/* windowBits 31: a gzip wrapper (RFC 1952) around a 32 KiB-window deflate stream. */
static int deflater(pgse_compressors *z, char *why, size_t cap) {
    if (z->deflater_ready) return deflateReset(&z->deflater) == Z_OK ? PGSTATE_OK : PGSTATE_ERR_NOMEM;
    memset(&z->deflater, 0, sizeof z->deflater);
    int rc = deflateInit2(&z->deflater, PGSE_GZIP_LEVEL, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        snprintf(why, cap, "zlib refused a gzip compressor: %s", rc == Z_MEM_ERROR ? "out of memory" : zError(rc));
        return PGSTATE_ERR_NOMEM;
    }
    z->deflater_ready = 1;
    return PGSTATE_OK;
}

static int inflater(pgse_compressors *z, char *why, size_t cap) {
    if (z->inflater_ready) return inflateReset(&z->inflater) == Z_OK ? PGSTATE_OK : PGSTATE_ERR_NOMEM;
    memset(&z->inflater, 0, sizeof z->inflater);
    /* 31 (not 47): gzip only; a zlib-wrapped or raw stream under the gzip flag is corrupt. */
    int rc = inflateInit2(&z->inflater, 31);
    if (rc != Z_OK) {
        snprintf(why, cap, "zlib refused a gzip decompressor: %s", rc == Z_MEM_ERROR ? "out of memory" : zError(rc));
        return PGSTATE_ERR_NOMEM;
    }
    z->inflater_ready = 1;
    return PGSTATE_OK;
}

int pgse_compress_bound(pgse_compressors *z, int kind, size_t n, size_t *bound, char *why, size_t cap) {
    *bound = 0;
    switch (kind) {
    case PGSTATE_ENVELOPE_COMPRESSION_NONE: *bound = n; return PGSTATE_OK;
    case PGSTATE_ENVELOPE_COMPRESSION_GZIP: {
        int rc = deflater(z, why, cap);
        if (rc != PGSTATE_OK) return rc;
        *bound = (size_t)deflateBound(&z->deflater, (uLong)n);
        return PGSTATE_OK;
    }
    case PGSTATE_ENVELOPE_COMPRESSION_ZSTD:
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
        *bound = ZSTD_compressBound(n);
        if (ZSTD_isError(*bound)) {
            snprintf(why, cap, "zstd cannot compress %zu bytes", n);
            return PGSTATE_ERR_INVALID_ARGUMENT;
        }
        return PGSTATE_OK;
#endif
    default: pgse_compression_available(kind, why, cap); return PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE;
    }
}

int pgse_compress(pgse_compressors *z, int kind, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len, char *why, size_t cap_why) {
    *out_len = 0;
    switch (kind) {
    case PGSTATE_ENVELOPE_COMPRESSION_NONE:
        if (n > 0) memcpy(out, in, n);
        *out_len = n;
        return PGSTATE_OK;
    case PGSTATE_ENVELOPE_COMPRESSION_GZIP: {
        int rc = deflater(z, why, cap_why);
        if (rc != PGSTATE_OK) return rc;
        z->deflater.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
        z->deflater.avail_in = (uInt)n;
        z->deflater.next_out = out;
        z->deflater.avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
        rc = deflate(&z->deflater, Z_FINISH);
        if (rc != Z_STREAM_END) {
            snprintf(why, cap_why, "zlib failed to compress %zu bytes: %s", n, zError(rc));
            return PGSTATE_ERR_NOMEM;
        }
        *out_len = (size_t)z->deflater.total_out;
        return PGSTATE_OK;
    }
    case PGSTATE_ENVELOPE_COMPRESSION_ZSTD:
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
    {
        if (z->zc == NULL && (z->zc = ZSTD_createCCtx()) == NULL) {
            snprintf(why, cap_why, "out of memory for a zstd compressor");
            return PGSTATE_ERR_NOMEM;
        }
        /* One frame with its content size in the header (ZSTD_compressCCtx writes it). */
        size_t got = ZSTD_compressCCtx(z->zc, out, cap, in, n, PGSE_ZSTD_LEVEL);
        if (ZSTD_isError(got)) {
            snprintf(why, cap_why, "zstd failed to compress %zu bytes: %s", n, ZSTD_getErrorName(got));
            return PGSTATE_ERR_NOMEM;
        }
        *out_len = got;
        return PGSTATE_OK;
    }
#endif
    default: pgse_compression_available(kind, why, cap_why); return PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE;
    }
}

/* Inflates exactly one gzip member into exactly `length` bytes. */
static int gunzip(pgse_compressors *z, const uint8_t *in, size_t n, uint8_t *out, size_t length, char *why,
                  size_t cap) {
    if (n > UINT_MAX || length > UINT_MAX) {
        snprintf(why, cap, "gzip body of %zu bytes for %zu: larger than zlib takes at once", n, length);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    int rc = inflater(z, why, cap);
    if (rc != PGSTATE_OK) return rc;
    z_stream *s = &z->inflater;
    uint8_t probe; /* one byte past `length`: reaching it means the stream yields more */
    int probing = 0;
    s->next_in = (Bytef *)(uintptr_t)in;
    s->avail_in = (uInt)n;
    s->next_out = out;
    s->avail_out = (uInt)length;
    for (;;) {
        if (s->avail_out == 0 && !probing) {
            s->next_out = &probe;
            s->avail_out = 1;
            probing = 1;
        }
        rc = inflate(s, Z_NO_FLUSH);
        if (probing && s->avail_out == 0) {
            snprintf(why, cap, "gzip body yields more than the %zu bytes its header claims", length);
            return PGSTATE_ENVELOPE_ERR_CORRUPT;
        }
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK) continue;
        if (rc == Z_MEM_ERROR) {
            snprintf(why, cap, "out of memory decompressing gzip");
            return PGSTATE_ERR_NOMEM;
        }
        if (rc == Z_BUF_ERROR && s->avail_in == 0) {
            snprintf(why, cap, "gzip body cut short (%zu bytes decompressed of %zu)",
                     (size_t)(probing ? length : length - s->avail_out), length);
        } else {
            snprintf(why, cap, "gzip body does not decompress: %s", s->msg ? s->msg : zError(rc));
        }
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    size_t produced = probing ? length : length - s->avail_out;
    if (produced != length) {
        snprintf(why, cap, "gzip body yields %zu bytes, its header claims %zu", produced, length);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    if (s->avail_in != 0) {
        snprintf(why, cap, "%u bytes after the gzip member (the body is exactly one)", (unsigned)s->avail_in);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    return PGSTATE_OK;
}

#ifndef PGSTATE_ENVELOPE_NO_ZSTD
/* Decodes exactly one zstd frame, in one pass, into exactly `length` bytes. */
static int unzstd(pgse_compressors *z, const uint8_t *in, size_t n, uint8_t *out, size_t length, char *why,
                  size_t cap) {
    /* A data frame (not a skippable one) that is the whole body: zstd itself would go on to further frames. */
    if (n < 4 || in[0] != 0x28 || in[1] != 0xB5 || in[2] != 0x2F || in[3] != 0xFD) {
        snprintf(why, cap, "zstd body does not start with a zstd frame");
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    size_t frame = ZSTD_findFrameCompressedSize(in, n);
    if (ZSTD_isError(frame)) {
        snprintf(why, cap, "zstd body is not a whole zstd frame: %s", ZSTD_getErrorName(frame));
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    if (frame != n) {
        snprintf(why, cap, "%zu bytes after the zstd frame (the body is exactly one)", n - frame);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    unsigned long long claimed = ZSTD_getFrameContentSize(in, n);
    if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != ZSTD_CONTENTSIZE_ERROR && claimed != length) {
        snprintf(why, cap, "zstd frame claims %llu bytes, the envelope header %zu", claimed, length);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    if (z->zd == NULL && (z->zd = ZSTD_createDCtx()) == NULL) {
        snprintf(why, cap, "out of memory for a zstd decompressor");
        return PGSTATE_ERR_NOMEM;
    }
    /* One pass into the caller's buffer: a frame that would yield more stops with dstSize_tooSmall. */
    size_t got = ZSTD_decompressDCtx(z->zd, out, length, in, n);
    if (ZSTD_isError(got)) {
        if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall) {
            snprintf(why, cap, "zstd body yields more than the %zu bytes its header claims", length);
        } else {
            snprintf(why, cap, "zstd body does not decompress: %s", ZSTD_getErrorName(got));
        }
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    if (got != length) {
        snprintf(why, cap, "zstd body yields %zu bytes, its header claims %zu", got, length);
        return PGSTATE_ENVELOPE_ERR_CORRUPT;
    }
    return PGSTATE_OK;
}
#endif

int pgse_decompress(pgse_compressors *z, int kind, const uint8_t *in, size_t n, uint8_t *out, size_t length,
                    char *why, size_t cap) {
    switch (kind) {
    case PGSTATE_ENVELOPE_COMPRESSION_NONE:
        if (n != length) {
            snprintf(why, cap, "uncompressed body of %zu bytes, its header claims %zu", n, length);
            return PGSTATE_ENVELOPE_ERR_CORRUPT;
        }
        if (n > 0) memcpy(out, in, n);
        return PGSTATE_OK;
    case PGSTATE_ENVELOPE_COMPRESSION_GZIP: return gunzip(z, in, n, out, length, why, cap);
    case PGSTATE_ENVELOPE_COMPRESSION_ZSTD:
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
        return unzstd(z, in, n, out, length, why, cap);
#endif
    default: pgse_compression_available(kind, why, cap); return PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE;
    }
}
