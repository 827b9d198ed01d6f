/*
 * cli.c - pgstate-bench's command line; see config.h.
 */
#include "config.h"

#include <pgstate.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const WL_NAMES[WL_COUNT] = {"load", "update", "create", "mixed", "contend"};


static void usage(FILE *f) {
    fprintf(f,
            "usage: pgstate-bench [options]\n"
            "  --socket PATH          pgstated socket (default: $PGSTATE_SOCKET, else %s)\n"
            "  --clients N            connections (default 1)\n"
            "  --threads T            threads; connections are spread over them and a thread with\n"
            "                         several drives them from one epoll loop (default: one per connection)\n"
            "  --depth D              requests in flight per connection; 1 = request/response (default 1)\n"
            "  --duration S           measured seconds (default 10)\n"
            "  --warmup S             seconds run before measuring (default 1)\n"
            "  --keys K               key space size: ids <prefix>0 .. <prefix>K-1 (default 10000)\n"
            "  --prefix P             id prefix (default \"bench-\")\n"
            "  --state-size B         bytes of state per UPSERT (default 200)\n"
            "  --workload W           load | update | create | mixed | contend (default update)\n"
            "  --preload              before measuring, make every key exist (LOAD, create if missing,\n"
            "                         overwrite if its state is not --state-size bytes) and learn revisions\n"
            "  --request-timeout S    a request unanswered this long counts as PGSTATE_ERR_TIMEOUT and\n"
            "                         its connection is dropped and reopened (default 10)\n"
            "  --seed N               random seed (default: from the clock)\n"
            "  --json                 also print one JSON line on stdout (same as --format json)\n"
            "  --format json|tsv      machine-readable line on stdout (tsv: header line + data line)\n"
            "  --no-header            with --format tsv: omit the header line\n"
            "  --version, --help\n"
            "Human-readable summary on stderr.  Exit status: 0 after a run (whatever the errors),\n"
            "1 if setup failed (options, connect, preload), 130 if interrupted before measuring.\n",
            PGSTATE_DEFAULT_SOCKET);
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_ulong(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max) return -1;
    *out = v;
    return 0;
}

int parse_args(int argc, char **argv, config *c) {
    c->socket = NULL;
    c->clients = 1;
    c->threads = 0;
    c->depth = 1;
    c->duration_s = 10;
    c->warmup_s = 1;
    c->request_timeout_s = 10;
    c->keys = 10000;
    c->state_size = 200;
    c->workload = WL_UPDATE;
    c->preload = 0;
    c->format = FMT_NONE;
    c->header = 1;
    c->prefix = "bench-";
    c->seed = 0;
    c->seed_set = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[64];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "pgstate-bench: unexpected argument '%s'\n", a);
            return -1;
        }
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        /* flags */
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(name, "--version")) {
            printf("pgstate-bench %s (libpgstate %s)\n", BENCH_VERSION, PGSTATE_VERSION_STRING);
            exit(0);
        }
        if (!strcmp(name, "--preload")) { c->preload = 1; continue; }
        if (!strcmp(name, "--json")) { c->format = FMT_JSON; continue; }
        if (!strcmp(name, "--no-header")) { c->header = 0; continue; }
        /* options with a value */
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pgstate-bench: %s needs a value\n", name);
                return -1;
            }
            val = argv[++i];
        }
        unsigned long long u = 0;
        double d = 0;
        int bad = 0;
        if (!strcmp(name, "--socket")) c->socket = val;
        else if (!strcmp(name, "--clients")) { bad = parse_ulong(val, 1000000, &u) || u < 1; c->clients = (int)u; }
        else if (!strcmp(name, "--threads")) { bad = parse_ulong(val, 1000000, &u) || u < 1; c->threads = (int)u; }
        else if (!strcmp(name, "--depth")) { bad = parse_ulong(val, 65536, &u) || u < 1; c->depth = (int)u; }
        else if (!strcmp(name, "--duration")) { bad = parse_double(val, &d) || !(d > 0 && d < 1e6); c->duration_s = d; }
        else if (!strcmp(name, "--warmup")) { bad = parse_double(val, &d) || !(d >= 0 && d < 1e6); c->warmup_s = d; }
        else if (!strcmp(name, "--request-timeout")) {
            bad = parse_double(val, &d) || !(d > 0 && d < 1e6);
            c->request_timeout_s = d;
        }
        else if (!strcmp(name, "--keys")) { bad = parse_ulong(val, 0xFFFFFFFFull / 2, &u) || u < 1; c->keys = (uint32_t)u; }
        else if (!strcmp(name, "--state-size")) { bad = parse_ulong(val, 0xFFFFFFFFull, &u); c->state_size = (size_t)u; }
        else if (!strcmp(name, "--prefix")) c->prefix = val;
        else if (!strcmp(name, "--seed")) { bad = parse_ulong(val, UINT64_MAX, &u); c->seed = u; c->seed_set = 1; }
        else if (!strcmp(name, "--workload")) {
            bad = 1;
            for (int k = 0; k < WL_COUNT; k++) {
                if (!strcmp(val, WL_NAMES[k])) { c->workload = k; bad = 0; }
            }
        } else if (!strcmp(name, "--format")) {
            if (!strcmp(val, "json")) c->format = FMT_JSON;
            else if (!strcmp(val, "tsv")) c->format = FMT_TSV;
            else if (!strcmp(val, "human") || !strcmp(val, "none")) c->format = FMT_NONE;
            else bad = 1;
        } else {
            fprintf(stderr, "pgstate-bench: unknown option %s (see --help)\n", name);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "pgstate-bench: bad value for %s: '%s'\n", name, val);
            return -1;
        }
    }
    if (c->socket == NULL || c->socket[0] == '\0') {
        const char *env = getenv("PGSTATE_SOCKET");
        c->socket = (env && env[0]) ? env : NULL;
    }
    if (c->threads == 0 || c->threads > c->clients) c->threads = c->clients;
    if ((c->workload == WL_UPDATE || c->workload == WL_MIXED) && c->keys < (uint32_t)c->clients) {
        fprintf(stderr, "pgstate-bench: workload %s gives every client its own keys: --keys (%u) must be >= "
                        "--clients (%d)\n", WL_NAMES[c->workload], (unsigned)c->keys, c->clients);
        return -1;
    }
    return 0;
}
