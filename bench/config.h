/*
 * config.h - pgstate-bench's options and their command line (cli.c).
 */
#ifndef PGSTATE_BENCH_CONFIG_H
#define PGSTATE_BENCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_VERSION "0.1.0"

enum { WL_LOAD, WL_UPDATE, WL_CREATE, WL_MIXED, WL_CONTEND, WL_COUNT };
extern const char *const WL_NAMES[WL_COUNT];

enum { FMT_NONE, FMT_JSON, FMT_TSV };

typedef struct config {
    const char *socket; /* NULL: library default ($PGSTATE_SOCKET, else its default path) */
    int clients;
    int threads;
    int depth;
    double duration_s;
    double warmup_s;
    double request_timeout_s;
    uint32_t keys;
    size_t state_size;
    int workload;
    int preload;
    int format;
    int header;
    const char *prefix;
    uint64_t seed;
    int seed_set; /* 0: --seed not given, the caller picks one */
} config;

/* Fills c from the command line (defaults for what is not given); exits 0 after
   --help / --version.  0, or -1 after printing why on stderr. */
int parse_args(int argc, char **argv, config *c);

#endif
