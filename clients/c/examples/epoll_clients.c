/*
 * epoll_clients - many pgstate connections driven from ONE epoll loop with
 * libpgstate's non-blocking calls (pgstate_fd, pgstate_send_*, pgstate_flush,
 * pgstate_consume, pgstate_next_reply), on one thread.
 *
 * Each connection owns one record and pipelines UPSERTs on it with the
 * expected revisions 0, 1, 2, ... (up to --depth in flight): pgstated applies
 * requests for one id in the order they were sent, so every one must succeed
 * with revision expected + 1, and the replies of one connection must come back
 * in that order.  At the end each record is LOADed (blocking) and checked, then
 * deleted.  Exit status 0 only if everything matched.
 *
 *   epoll_clients [connections] [writes-per-connection] [depth]    (default 32 100 4)
 *   socket: $PGSTATE_SOCKET, else /run/pgstated/pgstated.sock
 *
 * Linux (epoll); the same pattern works with poll(2), libuv or libevent (see
 * clients/c/README.md).
 */
#include <pgstate.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    pgstate_client *c;
    int fd;
    int index;
    char id[64];
    size_t id_len;
    uint64_t sent;      /* UPSERTs queued so far: the next one expects revision `sent` */
    uint64_t answered;  /* replies seen: the next one must be revision answered + 1 */
    int in_flight;
    int watching_out;   /* EPOLLOUT registered: output is waiting for the socket */
    int failed;
    int finished;       /* out of the loop: all answered, or failed */
} conn;

static uint64_t g_writes = 100;
static int g_depth = 4;
static int g_epfd = -1;
static int g_active; /* connections still in the loop */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(conn *k, const char *what, const char *detail) {
    if (!k->failed) fprintf(stderr, "connection %d (%s): %s: %s\n", k->index, k->id, what, detail);
    k->failed = 1;
}

/* Watches the socket for reading always, and for writing while output waits. */
static void watch(conn *k, int want_out) {
    if (want_out == k->watching_out) return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
    ev.data.ptr = k;
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, k->fd, &ev) != 0) fail(k, "epoll_ctl", strerror(errno));
    k->watching_out = want_out;
}

/* Queues UPSERTs up to the depth, then writes what the socket takes. */
static void fill(conn *k) {
    while (!k->failed && k->in_flight < g_depth && k->sent < g_writes) {
        char state[32];
        int n = snprintf(state, sizeof state, "{\"n\":%" PRIu64 "}", k->sent + 1);
        uint32_t rid = pgstate_send_upsert(k->c, k->id, k->id_len, k->sent, state, (size_t)n);
        if (rid == 0) {
            if (pgstate_status(k->c) == PGSTATE_ERR_WOULD_BLOCK) break; /* the server's window is full */
            fail(k, "send", pgstate_errmsg(k->c));
            return;
        }
        k->sent++;
        k->in_flight++;
    }
    int fl = pgstate_flush(k->c); /* 0: all written, 1: output remains, < 0: error */
    if (fl < 0) fail(k, "flush", pgstate_errmsg(k->c));
    else watch(k, fl == 1);
}

/* Takes a connection out of the loop once it is done (or failed). */
static void finish_if_done(conn *k) {
    if (k->finished || (!k->failed && k->answered < g_writes)) return;
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, k->fd, NULL); /* before the descriptor can be closed */
    k->finished = 1;
    g_active--;
}

/* Takes every completed request: each must be the next revision. */
static void take_replies(conn *k) {
    pgstate_reply *r;
    while ((r = pgstate_next_reply(k->c)) != NULL) {
        k->in_flight--;
        if (r->kind != PGSTATE_REPLY_RECORD) {
            fail(k, pgstate_status_name(r->status), r->message);
        } else if (r->record->revision != k->answered + 1) {
            char d[96];
            snprintf(d, sizeof d, "revision %" PRIu64 ", expected %" PRIu64, r->record->revision, k->answered + 1);
            fail(k, "out of order", d);
        }
        k->answered++;
        pgstate_reply_free(r);
    }
}

int main(int argc, char **argv) {
    int nconns = argc > 1 ? atoi(argv[1]) : 32;
    if (argc > 2) g_writes = (uint64_t)strtoull(argv[2], NULL, 10);
    if (argc > 3) g_depth = atoi(argv[3]);
    if (nconns < 1 || g_writes < 1 || g_depth < 1) {
        fprintf(stderr, "usage: epoll_clients [connections] [writes-per-connection] [depth]\n");
        return 2;
    }
    conn *ks = calloc((size_t)nconns, sizeof *ks);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ks == NULL || g_epfd < 0) {
        perror("epoll_clients");
        return 1;
    }
    int run_id = (int)getpid();
    for (int i = 0; i < nconns; i++) {
        conn *k = &ks[i];
        k->index = i;
        k->id_len = (size_t)snprintf(k->id, sizeof k->id, "epoll-example-%d-%d", run_id, i);
        k->c = pgstate_connect(NULL, 5000); /* connecting blocks (at most 5 s) */
        if (k->c == NULL || pgstate_status(k->c) != PGSTATE_OK) {
            fprintf(stderr, "epoll_clients: connect: %s\n", k->c ? pgstate_errmsg(k->c) : "out of memory");
            return 1;
        }
        pgstate_set_nonblocking(k->c, 1);
        k->fd = pgstate_fd(k->c);
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = k;
        if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, k->fd, &ev) != 0) {
            perror("epoll_ctl");
            return 1;
        }
    }

    double t0 = now_s();
    g_active = nconns;
    for (int i = 0; i < nconns; i++) {
        fill(&ks[i]);
        finish_if_done(&ks[i]);
    }
    while (g_active > 0) {
        struct epoll_event evs[64];
        int n = epoll_wait(g_epfd, evs, 64, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fprintf(stderr, "epoll_clients: %s\n", n == 0 ? "no progress for 10 s" : strerror(errno));
            return 1;
        }
        for (int e = 0; e < n; e++) {
            conn *k = evs[e].data.ptr;
            if (k->finished) continue;
            if (evs[e].events & EPOLLOUT) fill(k); /* more output fits now */
            if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                int rc = pgstate_consume(k->c); /* reads what arrived; never blocks */
                take_replies(k);              /* also the failed ones if the connection ended */
                if (rc != PGSTATE_OK) fail(k, "connection ended", pgstate_errmsg(k->c));
                else fill(k);
            }
            finish_if_done(k);
        }
    }
    double elapsed = now_s() - t0;

    int bad = 0;
    for (int i = 0; i < nconns; i++) {
        conn *k = &ks[i];
        bad += k->failed;
        pgstate_set_nonblocking(k->c, 0);
        pgstate_record *rec = NULL;
        if (!k->failed) { /* the blocking calls work on the same handle */
            int rc = pgstate_load(k->c, k->id, k->id_len, &rec);
            char want[32];
            int wn = snprintf(want, sizeof want, "{\"n\":%" PRIu64 "}", g_writes);
            if (rc != PGSTATE_OK || rec->revision != g_writes || rec->state_len != (size_t)wn ||
                memcmp(rec->state, want, (size_t)wn) != 0) {
                fail(k, "final LOAD", rc == PGSTATE_OK ? "wrong record" : pgstate_errmsg(k->c));
                bad++;
            }
        }
        pgstate_record_free(rec);
        pgstate_delete(k->c, k->id, k->id_len);
        pgstate_free(k->c);
    }
    close(g_epfd);
    uint64_t total = (uint64_t)nconns * g_writes;
    printf("epoll_clients: %d connections on one thread, %" PRIu64 " UPSERTs (depth %d) in %.2f s = %.0f/s; %s\n",
           nconns, total, g_depth, elapsed, elapsed > 0 ? (double)total / elapsed : 0.0,
           bad ? "MISMATCHES" : "every reply in order, every record exact");
    free(ks);
    return bad ? 1 : 0;
}
