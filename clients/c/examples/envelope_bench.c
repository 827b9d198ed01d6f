/*
 * envelope_bench - what the envelope costs per record: the pure codec (no daemon, no I/O), one thread.
 *
 *   envelope_bench [SECONDS_PER_CELL]      default 0.5
 *
 * For each mode (flags 0, gzip, zstd, AES-GCM, AES-GCM+gzip, AES-GCM+zstd, HMAC) and state size (200 B and
 * 64 KiB of JSON-like lines, compressible as application states usually are), encodes and then decodes the
 * same state for SECONDS_PER_CELL each, and prints per direction: records per second, MB/s of state, CPU
 * microseconds per record (process CPU time / records) and the stored size.  Compression at the library's
 * levels (zlib 6, zstd 3).
 */
#include <pgstate_envelope.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mode {
    const char *name;
    int compression, mode;
} mode;

static const mode MODES[] = {
    {"none (flags 0)", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_NONE},
    {"gzip", PGSTATE_ENVELOPE_COMPRESSION_GZIP, PGSTATE_ENVELOPE_MODE_NONE},
    {"zstd", PGSTATE_ENVELOPE_COMPRESSION_ZSTD, PGSTATE_ENVELOPE_MODE_NONE},
    {"AES-GCM", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"AES-GCM+gzip", PGSTATE_ENVELOPE_COMPRESSION_GZIP, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"AES-GCM+zstd", PGSTATE_ENVELOPE_COMPRESSION_ZSTD, PGSTATE_ENVELOPE_MODE_ENCRYPT},
    {"HMAC", PGSTATE_ENVELOPE_COMPRESSION_NONE, PGSTATE_ENVELOPE_MODE_INTEGRITY},
};

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *sample_state(size_t n) {
    uint8_t *s = malloc(n);
    char line[80];
    size_t o = 0;
    for (unsigned i = 0; o < n; i++) {
        int k = snprintf(line, sizeof line, "{\"line\":%05u,\"status\":\"open\",\"items\":%u,\"total\":%u.%02u}\n",
                         i, i % 7, (i * 7919u) % 10000u, i % 100u);
        for (int j = 0; j < k && o < n; j++) s[o++] = (uint8_t)line[j];
    }
    return s;
}

typedef struct figures {
    double per_second, mb_per_second, cpu_us;
} figures;

/* Runs one direction for `seconds`; returns 0, or -1 (message printed). */
static int run(pgstate_envelope_codec *codec, int decode, const uint8_t *state, size_t len, const uint8_t *env,
               size_t env_len, double seconds, figures *f) {
    long n = 0;
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), w1;
    do {
        for (int k = 0; k < 64; k++, n++) {
            uint8_t *out = NULL;
            size_t out_len = 0;
            int rc = decode ? pgstate_envelope_decode(codec, "billing", "order-42", 8, 2, env, env_len, &out, &out_len)
                            : pgstate_envelope_encode(codec, "billing", "order-42", 8, 2, state, len, &out, &out_len);
            if (rc != PGSTATE_OK) {
                fprintf(stderr, "envelope_bench: %s\n", pgstate_envelope_errmsg(codec));
                return -1;
            }
            pgstate_envelope_free(out);
        }
        w1 = now(CLOCK_MONOTONIC);
    } while (w1 - w0 < seconds);
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    f->per_second = (double)n / (w1 - w0);
    f->mb_per_second = f->per_second * (double)len / 1e6;
    f->cpu_us = cpu / (double)n * 1e6;
    return 0;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (seconds <= 0) seconds = 0.5;
    uint8_t k1[PGSTATE_ENVELOPE_KEY_BYTES];
    for (size_t i = 0; i < sizeof k1; i++) k1[i] = (uint8_t)(0x40 + i);
    pgstate_envelope_keyring *ring = pgstate_envelope_keyring_new();
    pgstate_envelope_keyring_add(ring, 1, k1, 1);
    static const size_t sizes[] = {200, 65536};
    printf("envelope_bench: libpgstate-envelope %s, pure codec, one thread, %.2f s per cell\n",
           PGSTATE_ENVELOPE_VERSION_STRING, seconds);
    printf("%-16s %7s %8s | %12s %9s %9s | %12s %9s %9s\n", "mode", "state", "stored", "encode rec/s", "MB/s",
           "CPU us", "decode rec/s", "MB/s", "CPU us");
    int failed = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint8_t *state = sample_state(sizes[s]);
        for (size_t m = 0; m < sizeof MODES / sizeof MODES[0]; m++) {
            pgstate_envelope_codec *codec = pgstate_envelope_codec_new(
                MODES[m].compression, MODES[m].mode ? ring : NULL, MODES[m].mode, "bench/orders", 0);
            if (pgstate_envelope_codec_status(codec) != PGSTATE_OK) {
                printf("%-16s %7zu  unavailable: %s\n", MODES[m].name, sizes[s], pgstate_envelope_errmsg(codec));
                pgstate_envelope_codec_free(codec);
                continue;
            }
            uint8_t *env = NULL;
            size_t env_len = 0;
            figures enc, dec;
            if (pgstate_envelope_encode(codec, "billing", "order-42", 8, 2, state, sizes[s], &env, &env_len) != 0 ||
                run(codec, 0, state, sizes[s], env, env_len, seconds, &enc) != 0 ||
                run(codec, 1, state, sizes[s], env, env_len, seconds, &dec) != 0) {
                failed = 1;
            } else {
                printf("%-16s %7zu %8zu | %12.0f %9.1f %9.2f | %12.0f %9.1f %9.2f\n", MODES[m].name, sizes[s],
                       env_len, enc.per_second, enc.mb_per_second, enc.cpu_us, dec.per_second, dec.mb_per_second,
                       dec.cpu_us);
            }
            pgstate_envelope_free(env);
            pgstate_envelope_codec_free(codec);
        }
        free(state);
    }
    pgstate_envelope_keyring_free(ring);
    return failed;
}
