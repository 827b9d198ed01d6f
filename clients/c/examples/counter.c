/*
 * counter.c - N threads increment one counter in pgstated under contention.
 *
 * Each thread has its own handle (handles are not thread-safe; one per thread)
 * and runs the optimistic-concurrency loop:
 *
 *     load -> compute value + 1 -> upsert(expected = loaded revision)
 *          -> on PGSTATE_CONFLICT: load again and retry
 *
 * The state is text "<value> <writer-token>", so that after an unknown outcome
 * (PGSTATE_ERR_OUTCOME_UNKNOWN, PGSTATE_ERR_TIMEOUT or a server fault on the
 * upsert) a LOAD tells whether this writer's increment was applied.
 *
 * Usage: counter [threads=8] [increments-per-thread=50] [persistence-id=examples/counter]
 * Socket: $PGSTATE_SOCKET (else the library default /run/pgstated/pgstated.sock).
 * Prints the final value against the expected one; exit status 0 if they match.
 */
#include <pgstate.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    int index;
    int increments;
    const char *id;
    long conflicts;
    long unknown;
    int failed;
    char error[600];
} worker;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Parses "<value> <token>"; an absent record is value 0. */
static unsigned long long parse_value(const pgstate_record *r, char *token, size_t cap) {
    unsigned long long v = 0;
    token[0] = '\0';
    if (r == NULL) return 0;
    const char *s = r->state; /* NUL-terminated by the library */
    v = strtoull(s, NULL, 10);
    const char *sp = strchr(s, ' ');
    if (sp) snprintf(token, cap, "%s", sp + 1);
    return v;
}

/* Loads the counter; PGSTATE_OK with value/revision/token, or an error. */
static int load_counter(pgstate_client *c, const char *id, unsigned long long *value, uint64_t *revision,
                        char *token, size_t cap) {
    pgstate_record *r = NULL;
    int rc = pgstate_load(c, id, strlen(id), &r);
    if (rc == PGSTATE_NOT_FOUND) {
        *value = 0;
        *revision = 0;
        token[0] = '\0';
        return PGSTATE_OK;
    }
    if (rc == PGSTATE_OK) {
        *value = parse_value(r, token, cap);
        *revision = r->revision;
    }
    pgstate_record_free(r);
    return rc;
}

static void *run_worker(void *arg) {
    worker *w = arg;
    pgstate_client *c = pgstate_connect(NULL, 10000); /* its own handle */
    if (c == NULL || pgstate_status(c) != PGSTATE_OK) {
        snprintf(w->error, sizeof w->error, "connect: %s", c ? pgstate_errmsg(c) : "out of memory");
        w->failed = 1;
        pgstate_free(c);
        return NULL;
    }
    for (int n = 0; n < w->increments && !w->failed; n++) {
        char mytoken[64];
        snprintf(mytoken, sizeof mytoken, "w%d-%d", w->index, n);
        int unsure = 0;          /* an upsert expecting unsure_rev may or may not have been applied */
        uint64_t unsure_rev = 0;
        for (int attempts = 1;; attempts++) {
            if (attempts > 10000) {
                snprintf(w->error, sizeof w->error, "giving up after %d attempts", attempts);
                w->failed = 1;
                break;
            }
            unsigned long long value;
            uint64_t rev;
            char token[64];
            int rc = load_counter(c, w->id, &value, &rev, token, sizeof token);
            if (rc == PGSTATE_ERR_UNAVAILABLE || rc == PGSTATE_ERR_TIMEOUT) { /* reads are safe to repeat */
                sleep_ms(50);
                if (!pgstate_is_connected(c)) pgstate_reconnect(c);
                continue;
            }
            if (rc != PGSTATE_OK) {
                snprintf(w->error, sizeof w->error, "load: %s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
                w->failed = 1;
                break;
            }
            if (unsure) {
                /* Only an upsert expecting unsure_rev can create revision
                   unsure_rev + 1: with our token it was ours (done); at
                   unsure_rev, or unsure_rev + 1 with another token, ours was
                   not applied (retry); beyond that we cannot tell. */
                if (rev == unsure_rev + 1 && strcmp(token, mytoken) == 0) break;
                if (rev != unsure_rev && rev != unsure_rev + 1) {
                    snprintf(w->error, sizeof w->error,
                             "outcome of increment %s unknown and no longer checkable (revision moved on to %llu)",
                             mytoken, (unsigned long long)rev);
                    w->failed = 1;
                    break;
                }
                unsure = 0;
            }
            char state[96];
            int len = snprintf(state, sizeof state, "%llu %s", value + 1, mytoken);
            rc = pgstate_upsert(c, w->id, strlen(w->id), rev, state, (size_t)len, NULL);
            if (rc == PGSTATE_OK) break;
            if (rc == PGSTATE_CONFLICT) { /* someone else won: reload and retry */
                w->conflicts++;
                continue;
            }
            if (rc == PGSTATE_ERR_UNAVAILABLE) { /* not executed: back off and retry */
                sleep_ms(50);
                if (!pgstate_is_connected(c)) pgstate_reconnect(c);
                continue;
            }
            if (rc == PGSTATE_ERR_OUTCOME_UNKNOWN || rc == PGSTATE_ERR_TIMEOUT || rc == PGSTATE_ERR_SERVER) {
                /* Maybe applied: the next LOAD decides (never retry blindly). */
                w->unknown++;
                unsure = 1;
                unsure_rev = rev;
                if (!pgstate_is_connected(c)) pgstate_reconnect(c);
                continue;
            }
            snprintf(w->error, sizeof w->error, "upsert: %s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
            w->failed = 1;
            break;
        }
    }
    pgstate_free(c);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    int increments = argc > 2 ? atoi(argv[2]) : 50;
    const char *id = argc > 3 ? argv[3] : "examples/counter";
    if (threads < 1 || threads > 1024 || increments < 0) {
        fprintf(stderr, "usage: %s [threads=8] [increments-per-thread=50] [persistence-id]\n", argv[0]);
        return 2;
    }

    pgstate_client *c = pgstate_connect(NULL, 10000);
    if (c == NULL || pgstate_status(c) != PGSTATE_OK) {
        fprintf(stderr, "counter: %s\n", c ? pgstate_errmsg(c) : "out of memory");
        pgstate_free(c);
        return 1;
    }
    unsigned long long initial;
    uint64_t rev;
    char token[64];
    int rc = load_counter(c, id, &initial, &rev, token, sizeof token);
    if (rc != PGSTATE_OK) {
        fprintf(stderr, "counter: load %s: %s\n", id, pgstate_errmsg(c));
        pgstate_free(c);
        return 1;
    }
    printf("counter '%s' on %s: starting at %llu (revision %llu), %d threads x %d increments\n", id,
           pgstate_server_version(c), initial, (unsigned long long)rev, threads, increments);

    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (ws == NULL || tids == NULL) {
        fprintf(stderr, "counter: out of memory\n");
        return 1;
    }
    for (int i = 0; i < threads; i++) {
        ws[i].index = i;
        ws[i].increments = increments;
        ws[i].id = id;
        if (pthread_create(&tids[i], NULL, run_worker, &ws[i]) != 0) {
            fprintf(stderr, "counter: pthread_create failed\n");
            return 1;
        }
    }
    long conflicts = 0, unknown = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        conflicts += ws[i].conflicts;
        unknown += ws[i].unknown;
        if (ws[i].failed) {
            failed = 1;
            fprintf(stderr, "counter: thread %d: %s\n", i, ws[i].error);
        }
    }

    unsigned long long final;
    rc = load_counter(c, id, &final, &rev, token, sizeof token);
    if (rc != PGSTATE_OK) {
        fprintf(stderr, "counter: final load: %s\n", pgstate_errmsg(c));
        failed = 1;
    }
    unsigned long long expected = initial + (unsigned long long)threads * (unsigned long long)increments;
    printf("final value %llu, expected %llu (revision %llu; %ld conflicts retried, %ld unknown outcomes checked)"
           " -> %s\n",
           final, expected, (unsigned long long)rev, conflicts, unknown,
           final == expected && !failed ? "OK" : "MISMATCH");
    pgstate_free(c);
    free(ws);
    free(tids);
    return final == expected && !failed ? 0 : 1;
}
