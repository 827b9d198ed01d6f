/*
 * envelope_compress.h - the envelope's compressors: gzip (zlib, one RFC 1952
 * member) and zstd (one frame), with decompression bounded by the length the
 * header claims.  INTERNAL, not installed.
 *
 * Bounded: the caller allocates exactly `length` bytes (after checking it
 * against its max_decompressed) and decompression writes into that buffer
 * and nowhere else: a body that would yield one byte more, or fewer, is
 * corrupt.  So a compression bomb costs at most `length` bytes and the
 * compressors' own fixed state (zlib's 32 KiB window; zstd decodes a frame in
 * one pass straight into the buffer, so it allocates no window at all,
 * whatever window size the frame claims).
 */
#ifndef PGSTATE_ENVELOPE_COMPRESS_H
#define PGSTATE_ENVELOPE_COMPRESS_H

#include <zlib.h>
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include <stddef.h>
#include <stdint.h>

/* Levels written: zlib's default (6) and zstd's (3), the usual trade of speed for size. */
#define PGSE_GZIP_LEVEL Z_DEFAULT_COMPRESSION
#define PGSE_ZSTD_LEVEL 3

/* Contexts kept per codec and reset per use, each made on first use. */
typedef struct pgse_compressors {
    z_stream deflater;
    int deflater_ready;
    z_stream inflater;
    int inflater_ready;
#ifndef PGSTATE_ENVELOPE_NO_ZSTD
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
#endif
} pgse_compressors;

/* Whether this build has the compression (PGSTATE_ENVELOPE_COMPRESSION_*); 0 with why (what to install). */
int pgse_compression_available(int kind, char *why, size_t cap);

/* Accepts a zeroed z. */
void pgse_compressors_free(pgse_compressors *z);

/* PGSTATE_OK with *bound = the most bytes compressing n bytes can take, or an error with why. */
int pgse_compress_bound(pgse_compressors *z, int kind, size_t n, size_t *bound, char *why, size_t cap);

/* Compresses n bytes (n <= 2^32-1) into out (cap >= the bound): PGSTATE_OK with *out_len, or an error
   (PGSTATE_ERR_NOMEM, PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE) with why. */
int pgse_compress(pgse_compressors *z, int kind, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len, char *why, size_t cap_why);

/* Decompresses the body into out, exactly `length` bytes: PGSTATE_OK, PGSTATE_ENVELOPE_ERR_CORRUPT (not one
   gzip member / zstd frame, fails, yields more or fewer than length, bytes after it), PGSTATE_ERR_NOMEM or
   PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE, with why. */
int pgse_decompress(pgse_compressors *z, int kind, const uint8_t *in, size_t n, uint8_t *out, size_t length,
                    char *why, size_t cap);

#endif /* PGSTATE_ENVELOPE_COMPRESS_H */
