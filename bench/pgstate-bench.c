/*
 * pgstate-bench - load generator for pgstated, built on libpgstate.
 *
 * Opens N connections (one thread each, blocking in pgstate_read_reply; or
 * --threads T threads, each driving its connections from one epoll loop with
 * libpgstate's non-blocking calls), keeps up to --depth requests in flight on
 * each (pipelined: pgstate_send_*), runs a workload for
 * --warmup + --duration seconds and reports throughput, latency percentiles
 * from merged log-bucket histograms, conflicts and errors by status name.
 *
 * Workloads (ids are <prefix><k>, k in 0..keys-1; default prefix "bench-"):
 *   load     LOAD of a random key of the whole key space
 *   update   UPSERT with the expected revision; client i owns the keys with
 *            k % clients == i, so it knows their revisions (a key whose
 *            revision is unknown is LOADed first)
 *   create   UPSERT(expected 0) of fresh unique ids
 *   mixed    80% LOAD / 20% UPSERT on the client's own keys
 *   contend  every pipeline slot of every client loops over random keys of a
 *            (small) shared key space: LOAD -> UPSERT(expected) -> on CONFLICT
 *            LOAD again and retry
 *
 * C11 + POSIX (pthreads) + Linux epoll, libc only.  See README.md.
 */
#include <pgstate.h>

#include "config.h"
#include "hist.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>


#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

#define SETUP_CONNECT_TIMEOUT_MS 5000 /* connect + handshake during setup */
#define RECONNECT_TIMEOUT_MS 1000     /* connect + handshake while running */
#define SINGLE_IO_TIMEOUT_MS 100      /* read_reply wait, one connection per thread */
#define HOUSEKEEPING_NS (10 * NS_PER_MS) /* event loop: reconnects, backoff ends, request timeouts */
#define IDLE_SLEEP_NS (50 * NS_PER_MS)
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define PRELOAD_ATTEMPTS 10
#define REV_UNKNOWN UINT64_MAX

/* ------------------------------------------------------------------------- */
/* Configuration                                                              */
/* ------------------------------------------------------------------------- */

static config g_cfg;
static unsigned char *g_state; /* state_size random bytes, the template for every UPSERT */
static char g_runid[32];       /* makes create-workload ids unique across runs */

/* ------------------------------------------------------------------------- */
/* Shared run state                                                           */
/* ------------------------------------------------------------------------- */

static atomic_int g_abort;            /* setup failed or interrupted during setup */
static atomic_uint_fast64_t g_end_ns; /* end of the measured window (lowered on SIGINT) */
static uint64_t g_warm_end_ns;        /* start of the measured window */
static volatile sig_atomic_t g_signal;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_ready;
static int g_go;

/* First error message seen for each status (errors are counted by status name). */
#define NERR 11 /* index -status for -1..-9, 10: any other negative status */
static char g_first_err[NERR][512];
static char g_first_connect_err[512];

static unsigned err_index(int status) {
    return (status <= -1 && status >= -(NERR - 2)) ? (unsigned)-status : NERR - 1u;
}

static const char *err_name(unsigned idx) {
    return idx == NERR - 1u ? "PGSTATE_UNKNOWN_STATUS" : pgstate_status_name(-(int)idx);
}

static void note_first(char *slot, const char *msg) {
    pthread_mutex_lock(&g_mu);
    if (slot[0] == '\0') snprintf(slot, 512, "%s", msg && msg[0] ? msg : "(no message)");
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------------------- */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S)};
    nanosleep(&ts, NULL); /* an interrupted sleep just ends early */
}

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n) {
    return (uint32_t)((rng_next(s) >> 32) % n);
}

/* ------------------------------------------------------------------------- */
/* Per-thread statistics                                                      */
/* ------------------------------------------------------------------------- */

enum { OPK_LOAD, OPK_UPSERT, NOPK };
static const char *const OPK_NAMES[] = {"load", "upsert"};

typedef struct stats {
    hist lat[NOPK];           /* send -> reply of completed (non-error) requests */
    hist txn;                 /* contend: first LOAD -> successful UPSERT */
    uint64_t ops[NOPK];       /* completed requests (RECORD / NOT_FOUND / CONFLICT) */
    uint64_t not_found;       /* LOAD answered NOT_FOUND */
    uint64_t conflicts;       /* UPSERT answered CONFLICT */
    uint64_t commits;         /* contend: successful UPSERTs (increments) */
    uint64_t errors[NERR];    /* error replies / failed sends / timeouts, by status */
    uint64_t errors_outside;  /* errors during warmup or after the window */
    uint64_t connect_errors;  /* failed reconnects while running */
    uint64_t reconnects;      /* successful reconnects while running */
} stats;

typedef struct preload_stats {
    uint64_t existing, created, overwritten, errors;
} preload_stats;

/* ------------------------------------------------------------------------- */
/* Connections and pipeline slots                                             */
/* ------------------------------------------------------------------------- */

enum { PH_IDLE, PH_NEED_LOAD, PH_NEED_UPSERT };

typedef struct slot {
    int busy;           /* a request is in flight */
    uint32_t rid;
    int op;             /* OPK_* of the request in flight */
    uint32_t key;       /* update/mixed/preload: index in the client's slice; else the key */
    uint64_t t_send;
    int phase;          /* contend / preload: what the slot sends next */
    uint64_t rev;       /* contend / preload: revision for the next UPSERT */
    uint64_t txn_start; /* contend */
    int attempts;       /* preload: failures on the current key */
} slot;

typedef struct conn {
    int cidx; /* client index 0 .. clients-1 */
    pgstate_client *h;
    int fd;          /* event loop: the descriptor registered with epoll, -1 if none */
    int watch_out;   /* event loop: EPOLLOUT registered (output waits for the socket) */
    slot *slots;
    int nslots;
    int inflight;
    int *freelist; /* indices of slots not in flight */
    int nfree;
    /* key slice owned by this client: keys cidx, cidx + clients, ... */
    uint32_t slice_n;
    uint64_t *rev;   /* per slice key: known committed revision (0: absent) or REV_UNKNOWN */
    uint8_t *kbusy;  /* per slice key: a request for it is in flight */
    uint32_t kbusy_n;
    uint32_t pre_next;
    uint32_t pre_done;
    uint64_t create_seq; /* create workload: ids sent so far */
    uint64_t state_seq;  /* stamped into the first bytes of each state */
    uint64_t rng;
    uint64_t pause_until;
    uint32_t backoff_ms;
} conn;

typedef struct worker {
    int index;
    pthread_t tid;
    conn *conns;
    int nconns;
    int epfd;          /* several connections: the thread's epoll loop; -1: blocking calls */
    int io_timeout_ms;
    unsigned char *state; /* this thread's copy of the state template */
    stats st;
    preload_stats pre;
    int failed;
    char error[768];
} worker;

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void setup_fail(worker *w, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void setup_fail(worker *w, const char *fmt, ...) {
    if (w->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
    w->failed = 1;
}

static size_t key_id(char *buf, size_t cap, uint32_t k) {
    int n = snprintf(buf, cap, "%s%u", g_cfg.prefix, (unsigned)k);
    return n < 0 ? 0 : (size_t)n;
}

static uint32_t slice_key(const conn *c, uint32_t j) {
    return (uint32_t)c->cidx + j * (uint32_t)g_cfg.clients;
}

static void bump_backoff(conn *c, uint64_t now) {
    if (now < c->pause_until) return; /* one step per episode, not per failed request */
    uint32_t b = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (b > BACKOFF_MAX_MS) b = BACKOFF_MAX_MS;
    c->backoff_ms = b;
    uint64_t ns = (uint64_t)b * NS_PER_MS;
    ns = ns / 2 + (rng_next(&c->rng) % (ns / 2 + 1)); /* jitter: 50%..100% */
    c->pause_until = now + ns;
}

static int in_window(uint64_t now) {
    return now >= g_warm_end_ns && now < atomic_load(&g_end_ns);
}

/* Counts an error of a request (reply, failed send or our timeout). */
static void count_error(worker *w, conn *c, int measure, int status, const char *msg, uint64_t now) {
    unsigned idx = err_index(status);
    if (!measure) w->pre.errors++;
    else if (in_window(now)) w->st.errors[idx]++;
    else w->st.errors_outside++;
    note_first(g_first_err[idx], msg);
    bump_backoff(c, now);
}

/* Sends one request for slot s.  Returns 1, or -1 if the send failed (counted). */
static int send_req(worker *w, conn *c, slot *s, int measure, int op, uint32_t key_for_id, const char *id_override,
                    uint64_t expected) {
    char id[320];
    size_t idlen;
    if (id_override) {
        idlen = strlen(id_override);
        memcpy(id, id_override, idlen + 1);
    } else {
        idlen = key_id(id, sizeof id, key_for_id);
    }
    uint32_t rid;
    if (op == OPK_LOAD) {
        rid = pgstate_send_load(c->h, id, idlen);
    } else {
        /* vary the first bytes so that consecutive states differ */
        if (g_cfg.state_size >= 8) {
            uint64_t v = ++c->state_seq;
            memcpy(w->state, &v, sizeof v);
        }
        rid = pgstate_send_upsert(c->h, id, idlen, expected, w->state, g_cfg.state_size);
    }
    uint64_t now = now_ns();
    if (rid == 0) {
        count_error(w, c, measure, pgstate_status(c->h), pgstate_errmsg(c->h), now);
        return -1;
    }
    s->busy = 1;
    s->rid = rid;
    s->op = op;
    s->t_send = now;
    c->inflight++;
    return 1;
}

/* Picks a random key of the client's slice with nothing in flight (linear probe). */
static int pick_slice_key(conn *c, uint32_t *out) {
    if (c->slice_n == 0 || c->kbusy_n >= c->slice_n) return 0;
    uint32_t j = rng_below(&c->rng, c->slice_n);
    for (uint32_t n = 0; n < c->slice_n; n++) {
        if (!c->kbusy[j]) {
            *out = j;
            return 1;
        }
        if (++j == c->slice_n) j = 0;
    }
    return 0;
}

/* Starts the next request of slot s.  1: sent; 0: nothing to do (only for an
   idle slot: no idle slot of this connection has work either); -1: send failed. */
static int start(worker *w, conn *c, slot *s, int measure, uint64_t now) {
    if (!measure) { /* preload: LOAD each key of the slice, create / overwrite if needed */
        if (s->phase == PH_IDLE) {
            if (c->pre_next >= c->slice_n) return 0;
            s->key = c->pre_next++;
            s->phase = PH_NEED_LOAD;
            s->attempts = 0;
        }
        uint32_t k = slice_key(c, s->key);
        return s->phase == PH_NEED_LOAD ? send_req(w, c, s, 0, OPK_LOAD, k, NULL, 0)
                                        : send_req(w, c, s, 0, OPK_UPSERT, k, NULL, s->rev);
    }
    switch (g_cfg.workload) {
    case WL_LOAD:
        s->key = rng_below(&c->rng, g_cfg.keys);
        return send_req(w, c, s, 1, OPK_LOAD, s->key, NULL, 0);
    case WL_UPDATE:
    case WL_MIXED: {
        uint32_t j;
        if (!pick_slice_key(c, &j)) return 0;
        int op = OPK_LOAD;
        if (c->rev[j] != REV_UNKNOWN) {
            if (g_cfg.workload == WL_UPDATE || rng_below(&c->rng, 100) < 20) op = OPK_UPSERT;
        }
        s->key = j;
        int r = send_req(w, c, s, 1, op, slice_key(c, j), NULL, op == OPK_UPSERT ? c->rev[j] : 0);
        if (r > 0) {
            c->kbusy[j] = 1;
            c->kbusy_n++;
        }
        return r;
    }
    case WL_CREATE: {
        char id[320];
        snprintf(id, sizeof id, "%snew-%s-%d-%llu", g_cfg.prefix, g_runid, c->cidx,
                 (unsigned long long)(c->create_seq + 1));
        int r = send_req(w, c, s, 1, OPK_UPSERT, 0, id, 0);
        if (r > 0) c->create_seq++;
        return r;
    }
    case WL_CONTEND:
    default:
        if (s->phase == PH_IDLE) {
            s->key = rng_below(&c->rng, g_cfg.keys);
            s->txn_start = now;
            s->phase = PH_NEED_LOAD;
        }
        if (s->phase == PH_NEED_LOAD) return send_req(w, c, s, 1, OPK_LOAD, s->key, NULL, 0);
        return send_req(w, c, s, 1, OPK_UPSERT, s->key, NULL, s->rev);
    }
}

/* Sends for every free slot that has work.  Returns the number sent. */
static int fill(worker *w, conn *c, int measure, uint64_t now) {
    int sent = 0;
    int no_idle_work = 0;
    for (int j = c->nfree - 1; j >= 0; j--) {
        slot *s = &c->slots[c->freelist[j]];
        if (s->phase == PH_IDLE && no_idle_work) continue;
        int r = start(w, c, s, measure, now);
        if (r < 0) break;
        if (r == 0) {
            no_idle_work = 1;
            continue;
        }
        c->freelist[j] = c->freelist[--c->nfree];
        sent++;
    }
    return sent;
}

/* What a request ended with (from a reply, or synthesized on our timeout). */
typedef struct outcome {
    int status;       /* PGSTATE_OK / NOT_FOUND / CONFLICT / error */
    int has_record;
    uint64_t revision;
    size_t state_len;
    uint64_t actual;  /* CONFLICT: committed revision */
    const char *msg;
} outcome;

static void release(conn *c, slot *s) {
    s->busy = 0;
    c->inflight--;
    c->freelist[c->nfree++] = (int)(s - c->slots);
}

static void complete(worker *w, conn *c, slot *s, int measure, uint64_t now, const outcome *o) {
    int op = s->op;
    release(c, s);
    if (o->status < 0) {
        count_error(w, c, measure, o->status, o->msg, now);
    } else {
        c->backoff_ms = 0;
        if (measure && in_window(now)) {
            h_record(&w->st.lat[op], now - s->t_send);
            w->st.ops[op]++;
            if (o->status == PGSTATE_NOT_FOUND) w->st.not_found++;
            if (o->status == PGSTATE_CONFLICT) w->st.conflicts++;
        }
    }

    if (!measure) { /* preload */
        uint32_t j = s->key;
        if (op == OPK_LOAD && o->status == PGSTATE_OK) {
            if (o->state_len == g_cfg.state_size) {
                c->rev[j] = o->revision;
                s->phase = PH_IDLE;
                c->pre_done++;
                w->pre.existing++;
            } else {
                s->rev = o->revision; /* overwrite with a state of the requested size */
                s->phase = PH_NEED_UPSERT;
            }
        } else if (op == OPK_LOAD && o->status == PGSTATE_NOT_FOUND) {
            s->rev = 0;
            s->phase = PH_NEED_UPSERT;
        } else if (op == OPK_UPSERT && o->status == PGSTATE_OK) {
            c->rev[j] = o->revision;
            if (o->revision == 1) w->pre.created++;
            else w->pre.overwritten++;
            s->phase = PH_IDLE;
            c->pre_done++;
        } else { /* CONFLICT (someone else wrote it) or an error: LOAD again */
            s->phase = PH_NEED_LOAD;
            if (o->status < 0 && ++s->attempts >= PRELOAD_ATTEMPTS) {
                char id[320];
                key_id(id, sizeof id, slice_key(c, j));
                setup_fail(w, "preload of \"%s\" failed %d times; last: %s: %s", id, s->attempts,
                           pgstate_status_name(o->status), o->msg ? o->msg : "");
            }
        }
        return;
    }

    switch (g_cfg.workload) {
    case WL_UPDATE:
    case WL_MIXED: {
        uint32_t j = s->key;
        c->kbusy[j] = 0;
        c->kbusy_n--;
        if (op == OPK_LOAD) {
            if (o->status == PGSTATE_OK) c->rev[j] = o->revision;
            else if (o->status == PGSTATE_NOT_FOUND) c->rev[j] = 0;
        } else {
            if (o->status == PGSTATE_OK) c->rev[j] = o->revision;
            else if (o->status == PGSTATE_CONFLICT) c->rev[j] = o->actual;
            else if (o->status != PGSTATE_ERR_UNAVAILABLE) c->rev[j] = REV_UNKNOWN; /* LOAD it next time */
            /* (UNAVAILABLE: the write was not executed; the revision still holds) */
        }
        break;
    }
    case WL_CONTEND:
        if (op == OPK_LOAD) {
            if (o->status == PGSTATE_OK || o->status == PGSTATE_NOT_FOUND) {
                s->rev = o->status == PGSTATE_OK ? o->revision : 0;
                s->phase = PH_NEED_UPSERT;
            } else {
                s->phase = PH_IDLE; /* give up this transaction */
            }
        } else {
            if (o->status == PGSTATE_OK) {
                if (in_window(now)) {
                    w->st.commits++;
                    h_record(&w->st.txn, now - s->txn_start);
                }
                s->phase = PH_IDLE;
            } else if (o->status == PGSTATE_CONFLICT) {
                s->phase = PH_NEED_LOAD; /* reload and retry the same key */
            } else {
                s->phase = PH_IDLE;
            }
        }
        break;
    default:
        break;
    }
}

static slot *find_slot(conn *c, uint32_t rid) {
    for (int i = 0; i < c->nslots; i++) {
        if (c->slots[i].busy && c->slots[i].rid == rid) return &c->slots[i];
    }
    return NULL;
}

static void on_reply(worker *w, conn *c, pgstate_reply *r, int measure, uint64_t now) {
    slot *s = find_slot(c, r->request_id);
    if (s == NULL) return; /* abandoned after our timeout */
    outcome o = {r->status, 0, 0, 0, 0, r->message};
    if (r->kind == PGSTATE_REPLY_RECORD && r->record != NULL) {
        o.has_record = 1;
        o.revision = r->record->revision;
        o.state_len = r->record->state_len;
    }
    if (r->kind == PGSTATE_REPLY_CONFLICT) o.actual = r->actual_revision;
    complete(w, c, s, measure, now, &o);
}

/* Event loop: watch the connection's socket for reading, and for writing
   while want_out (output waits for the socket). */
static void ev_watch(worker *w, conn *c, int want_out) {
    if (c->fd < 0 || want_out == c->watch_out) return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    (void)epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->watch_out = want_out;
}

static void ev_register(worker *w, conn *c) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    c->fd = pgstate_fd(c->h);
    c->watch_out = 0;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) c->fd = -1;
}

/* Before the library closes the descriptor (reconnect, free). */
static void ev_unregister(worker *w, conn *c) {
    if (c->fd >= 0) (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->fd = -1;
}

/* Reconnects (after the connection was lost).  Returns 1 if connected. */
static int try_reconnect(worker *w, conn *c, int measure, uint64_t now) {
    if (w->epfd >= 0) ev_unregister(w, c);
    pgstate_set_timeout(c->h, RECONNECT_TIMEOUT_MS);
    int rc = pgstate_reconnect(c->h);
    pgstate_set_timeout(c->h, w->io_timeout_ms);
    if (rc != PGSTATE_OK) {
        if (measure) w->st.connect_errors++;
        else w->pre.errors++;
        note_first(g_first_connect_err, pgstate_errmsg(c->h));
        bump_backoff(c, now);
        return 0;
    }
    if (measure) w->st.reconnects++;
    if (w->epfd >= 0) ev_register(w, c);
    return 1;
}

/* If the oldest request in flight is older than the request timeout, count
   every request in flight as PGSTATE_ERR_TIMEOUT, drop the connection and
   reconnect. */
static void check_stuck(worker *w, conn *c, int measure, uint64_t now) {
    uint64_t oldest = UINT64_MAX;
    for (int i = 0; i < c->nslots; i++) {
        if (c->slots[i].busy && c->slots[i].t_send < oldest) oldest = c->slots[i].t_send;
    }
    uint64_t limit = (uint64_t)(g_cfg.request_timeout_s * (double)NS_PER_S);
    if (oldest == UINT64_MAX || now - oldest < limit) return;
    char msg[200];
    snprintf(msg, sizeof msg, "no reply within the request timeout of %.3f s; connection dropped",
             g_cfg.request_timeout_s);
    outcome o = {PGSTATE_ERR_TIMEOUT, 0, 0, 0, 0, msg};
    for (int i = 0; i < c->nslots; i++) {
        if (c->slots[i].busy) complete(w, c, &c->slots[i], measure, now, &o);
    }
    /* Reconnecting closes the connection; its requests are failed into the
       reply queue, which is drained (and ignored: the slots are free). */
    try_reconnect(w, c, measure, now);
    for (pgstate_reply *r = pgstate_next_reply(c->h); r != NULL; r = pgstate_next_reply(c->h)) {
        pgstate_reply_free(r);
    }
}

static int preload_done(const worker *w) {
    for (int i = 0; i < w->nconns; i++) {
        if (w->conns[i].pre_done < w->conns[i].slice_n) return 0;
    }
    return 1;
}

static int run_over(const worker *w, int measure, uint64_t now) {
    if (atomic_load(&g_abort) || w->failed) return 1;
    return measure ? now >= atomic_load(&g_end_ns) : preload_done(w);
}

/* Nothing in flight: sleeps until the connection's backoff ends (at most
   IDLE_SLEEP_NS, never past the end of the window). */
static void idle_until_resume(const conn *c, int measure, uint64_t now) {
    uint64_t until = now + IDLE_SLEEP_NS;
    if (c->pause_until > now && c->pause_until < until) until = c->pause_until;
    if (measure && atomic_load(&g_end_ns) < until) until = atomic_load(&g_end_ns);
    if (until > now) sleep_ns(until - now);
}

/* One connection on this thread: blocking calls (read_reply waits up to
   SINGLE_IO_TIMEOUT_MS, then the clock and the request timeout are checked). */
static void run_blocking(worker *w, int measure) {
    conn *c = &w->conns[0];
    for (;;) {
        uint64_t now = now_ns();
        if (run_over(w, measure, now)) return;
        if (!pgstate_is_connected(c->h) && c->inflight == 0) { /* read the failed replies first */
            if (now < c->pause_until || !try_reconnect(w, c, measure, now)) {
                idle_until_resume(c, measure, now_ns());
                continue;
            }
            now = now_ns();
        }
        if (pgstate_is_connected(c->h) && now >= c->pause_until) fill(w, c, measure, now);
        if (c->inflight == 0) { /* paused (or nothing to send): sleep until the backoff ends */
            idle_until_resume(c, measure, now);
            continue;
        }
        pgstate_reply *r = NULL;
        int rc = pgstate_read_reply(c->h, &r); /* flushes first */
        now = now_ns();
        if (rc == PGSTATE_OK) {
            on_reply(w, c, r, measure, now);
            pgstate_reply_free(r);
        } else if (rc == PGSTATE_ERR_TIMEOUT) {
            check_stuck(w, c, measure, now);
        } else if (rc == PGSTATE_ERR_INVALID_ARGUMENT) {
            /* nothing pending in the library: our books are off; free the slots */
            outcome o = {PGSTATE_ERR_INVALID_ARGUMENT, 0, 0, 0, 0, pgstate_errmsg(c->h)};
            for (int k = 0; k < c->nslots; k++) {
                if (c->slots[k].busy) complete(w, c, &c->slots[k], measure, now, &o);
            }
        } else { /* NOMEM / IO: count once, back off */
            count_error(w, c, measure, rc, pgstate_errmsg(c->h), now);
            sleep_ns(BACKOFF_MIN_MS * NS_PER_MS);
        }
    }
}

/* Event loop: takes every completed request of the connection. */
static void ev_take_replies(worker *w, conn *c, int measure) {
    for (pgstate_reply *r = pgstate_next_reply(c->h); r != NULL; r = pgstate_next_reply(c->h)) {
        on_reply(w, c, r, measure, now_ns());
        pgstate_reply_free(r);
    }
}

/* Event loop: queues what the connection's free slots have to send and writes
   what the socket takes (never waits). */
static void ev_fill(worker *w, conn *c, int measure, uint64_t now) {
    if (!pgstate_is_connected(c->h) || now < c->pause_until) return;
    fill(w, c, measure, now);
    int fl = pgstate_flush(c->h); /* 0: all written, 1: output remains, < 0: the connection ended */
    if (fl >= 0) ev_watch(w, c, fl == 1);
}

/* Several connections on this thread: one epoll loop over all of them, with
   libpgstate's non-blocking calls.  A reply is taken as soon as its socket is
   readable, whichever connection it is on. */
static void run_events(worker *w, int measure) {
    struct epoll_event evs[64];
    uint64_t next_housekeeping = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (run_over(w, measure, now)) return;
        if (now >= next_housekeeping) {
            /* reconnect ended connections, resume those whose backoff ended, enforce the request timeout */
            for (int i = 0; i < w->nconns; i++) {
                conn *c = &w->conns[i];
                if (c->fd < 0) { /* ended (pgstate_consume said so): the library failed what was in flight */
                    ev_take_replies(w, c, measure);
                    if (c->inflight > 0 || now < c->pause_until || !try_reconnect(w, c, measure, now)) continue;
                    now = now_ns();
                } else {
                    /* connected, or draining (the server is shutting down: keep reading its answers) */
                    check_stuck(w, c, measure, now);
                }
                ev_fill(w, c, measure, now);
            }
            next_housekeeping = now + HOUSEKEEPING_NS;
        }
        uint64_t wait_ns = next_housekeeping > now ? next_housekeeping - now : 0;
        if (measure) {
            uint64_t end = atomic_load(&g_end_ns);
            if (end > now && end - now < wait_ns) wait_ns = end - now;
        }
        int n = epoll_wait(w->epfd, evs, 64, (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS));
        now = now_ns();
        for (int e = 0; e < n; e++) {
            conn *c = evs[e].data.ptr;
            if ((evs[e].events & EPOLLOUT) && pgstate_is_connected(c->h)) {
                int fl = pgstate_flush(c->h);
                if (fl >= 0) ev_watch(w, c, fl == 1);
            }
            if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                int rc = pgstate_consume(c->h); /* reads what arrived, never blocks */
                ev_take_replies(w, c, measure);
                if (rc != PGSTATE_OK) {
                    ev_unregister(w, c); /* the connection ended: reconnect at the next housekeeping */
                    next_housekeeping = now;
                    continue;
                }
                ev_fill(w, c, measure, now_ns());
            }
        }
    }
}

static void run_loop(worker *w, int measure) {
    if (w->epfd >= 0) run_events(w, measure);
    else run_blocking(w, measure);
}

static int conn_init(worker *w, conn *c, int cidx) {
    c->cidx = cidx;
    c->fd = -1;
    c->nslots = g_cfg.depth;
    c->slots = calloc((size_t)c->nslots, sizeof *c->slots);
    c->freelist = calloc((size_t)c->nslots, sizeof *c->freelist);
    uint32_t n = (uint32_t)g_cfg.clients;
    c->slice_n = (uint32_t)cidx < g_cfg.keys ? (g_cfg.keys - (uint32_t)cidx + n - 1) / n : 0;
    c->rev = malloc((c->slice_n ? c->slice_n : 1) * sizeof *c->rev);
    c->kbusy = calloc(c->slice_n ? c->slice_n : 1, 1);
    if (!c->slots || !c->freelist || !c->rev || !c->kbusy) {
        setup_fail(w, "out of memory");
        return -1;
    }
    for (uint32_t j = 0; j < c->slice_n; j++) c->rev[j] = REV_UNKNOWN;
    for (int i = 0; i < c->nslots; i++) c->freelist[i] = c->nslots - 1 - i;
    c->nfree = c->nslots;
    c->rng = splitmix(g_cfg.seed ^ splitmix((uint64_t)cidx + 1));
    if (c->rng == 0) c->rng = 1;
    c->h = pgstate_connect(g_cfg.socket, SETUP_CONNECT_TIMEOUT_MS);
    if (c->h == NULL) {
        setup_fail(w, "client %d: out of memory", cidx);
        return -1;
    }
    if (pgstate_status(c->h) != PGSTATE_OK) {
        setup_fail(w, "client %d: connect failed: %s: %s", cidx, pgstate_status_name(pgstate_status(c->h)),
                   pgstate_errmsg(c->h));
        return -1;
    }
    pgstate_set_timeout(c->h, w->io_timeout_ms);
    if (w->epfd >= 0) {
        pgstate_set_nonblocking(c->h, 1);
        ev_register(w, c);
        if (c->fd < 0) {
            setup_fail(w, "client %d: epoll_ctl: %s", cidx, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    for (int i = 0; i < w->nconns && !w->failed; i++) {
        if (atomic_load(&g_abort)) break;
        conn_init(w, &w->conns[i], w->index + i * g_cfg.threads);
    }
    if (!w->failed && g_cfg.preload && g_cfg.workload != WL_CREATE && !atomic_load(&g_abort)) {
        run_loop(w, 0);
        /* abandon what is still in flight (only after a failure) */
        for (int i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            for (int k = 0; k < c->nslots; k++) c->slots[k].phase = PH_IDLE;
        }
    }
    pthread_mutex_lock(&g_mu);
    g_ready++;
    pthread_cond_broadcast(&g_cv);
    while (!g_go) pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    if (!atomic_load(&g_abort) && !w->failed) run_loop(w, 1);
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if (w->epfd >= 0) ev_unregister(w, c);
        pgstate_free(c->h);
        c->h = NULL;
    }
    if (w->epfd >= 0) close(w->epfd);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Output                                                                     */
/* ------------------------------------------------------------------------- */

static double us(uint64_t ns) { return (double)ns / (double)NS_PER_US; }

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_hist(FILE *f, const hist *h) {
    fprintf(f, "{\"count\":%llu,\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
               "\"p99_9\":%.1f,\"max\":%.1f}",
            (unsigned long long)h->count, us(h->min), h->count ? us(h->sum / h->count) : 0.0,
            us(h_percentile(h, 50)), us(h_percentile(h, 90)), us(h_percentile(h, 99)),
            us(h_percentile(h, 99.9)), us(h->max));
}

static void human_hist(const char *label, const hist *h) {
    if (h->count == 0) {
        fprintf(stderr, "%-12s no samples\n", label);
        return;
    }
    fprintf(stderr, "%-12s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (min %.1f, mean %.1f, n=%llu)\n",
            label, us(h_percentile(h, 50)), us(h_percentile(h, 90)), us(h_percentile(h, 99)),
            us(h_percentile(h, 99.9)), us(h->max), us(h->min), us(h->sum / h->count),
            (unsigned long long)h->count);
}

/* ------------------------------------------------------------------------- */
/* main                                                                       */
/* ------------------------------------------------------------------------- */

static void on_signal(int sig) {
    g_signal = sig;
}

/* CPU seconds (user + system) of the whole process so far. */
static double process_cpu_s(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (parse_args(argc, argv, &g_cfg) != 0) return 1;
    if (!g_cfg.seed_set) g_cfg.seed = splitmix(now_ns() ^ ((uint64_t)getpid() << 32));
    const char *shown_socket = g_cfg.socket ? g_cfg.socket : PGSTATE_DEFAULT_SOCKET;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Probe connection: server limits decide whether the options can work. */
    pgstate_client *probe = pgstate_connect(g_cfg.socket, SETUP_CONNECT_TIMEOUT_MS);
    if (probe == NULL || pgstate_status(probe) != PGSTATE_OK) {
        fprintf(stderr, "pgstate-bench: setup failed: cannot connect to %s: %s: %s\n", shown_socket,
                probe ? pgstate_status_name(pgstate_status(probe)) : "PGSTATE_ERR_NOMEM",
                probe ? pgstate_errmsg(probe) : "out of memory");
        pgstate_free(probe);
        return 1;
    }
    char server_version[256];
    snprintf(server_version, sizeof server_version, "%s", pgstate_server_version(probe));
    uint32_t max_state = pgstate_max_state_bytes(probe);
    uint32_t max_inflight = pgstate_max_in_flight(probe);
    uint32_t max_id = pgstate_max_id_bytes(probe);
    pgstate_free(probe);
    uint32_t window = max_inflight < 4096 ? max_inflight : 4096; /* the library caps at 4096 */
    if (g_cfg.state_size > max_state) {
        fprintf(stderr, "pgstate-bench: setup failed: --state-size %zu exceeds the server's max_state_bytes %u\n",
                g_cfg.state_size, max_state);
        return 1;
    }
    if ((uint32_t)g_cfg.depth > window) {
        fprintf(stderr, "pgstate-bench: setup failed: --depth %d exceeds the in-flight limit %u (server "
                        "max_in_flight %u, library cap 4096)\n", g_cfg.depth, window, max_inflight);
        return 1;
    }
    size_t longest_id = strlen(g_cfg.prefix) + (g_cfg.workload == WL_CREATE ? 4 + 16 + 1 + 7 + 1 + 20 : 10);
    if (longest_id > max_id) {
        fprintf(stderr, "pgstate-bench: setup failed: ids may be up to %zu bytes, the server allows %u "
                        "(shorten --prefix)\n", longest_id, max_id);
        return 1;
    }

    g_state = malloc(g_cfg.state_size ? g_cfg.state_size : 1);
    if (!g_state) return 1;
    uint64_t r = g_cfg.seed | 1;
    for (size_t i = 0; i < g_cfg.state_size; i++) g_state[i] = (unsigned char)(rng_next(&r) >> 56);
    snprintf(g_runid, sizeof g_runid, "%016llx", (unsigned long long)splitmix(g_cfg.seed ^ now_ns()));

    int T = g_cfg.threads;
    worker *ws = calloc((size_t)T, sizeof *ws);
    if (!ws) return 1;
    for (int t = 0; t < T; t++) {
        worker *w = &ws[t];
        w->index = t;
        w->nconns = (g_cfg.clients - t + T - 1) / T; /* clients t, t+T, t+2T, ... */
        w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
        w->state = malloc(g_cfg.state_size ? g_cfg.state_size : 1);
        if (!w->conns || !w->state) return 1;
        memcpy(w->state, g_state, g_cfg.state_size);
        w->io_timeout_ms = SINGLE_IO_TIMEOUT_MS;
        w->epfd = w->nconns > 1 ? epoll_create1(EPOLL_CLOEXEC) : -1;
        if (w->nconns > 1 && w->epfd < 0) {
            fprintf(stderr, "pgstate-bench: setup failed: epoll_create1: %s\n", strerror(errno));
            return 1;
        }
    }

    fprintf(stderr, "pgstate-bench %s: %s, workload %s, %d clients on %d threads, depth %d, keys %u, state %zu B, "
                    "warmup %.1f s, duration %.1f s%s\n", BENCH_VERSION, server_version, WL_NAMES[g_cfg.workload],
            g_cfg.clients, T, g_cfg.depth, (unsigned)g_cfg.keys, g_cfg.state_size, g_cfg.warmup_s,
            g_cfg.duration_s, g_cfg.preload ? ", preload" : "");
    if ((g_cfg.workload == WL_UPDATE || g_cfg.workload == WL_MIXED) &&
        (uint32_t)g_cfg.depth > g_cfg.keys / (uint32_t)g_cfg.clients) {
        fprintf(stderr, "note: a client owns about %u keys and never has two requests for one key in "
                        "flight, so the effective depth is at most that\n", g_cfg.keys / (uint32_t)g_cfg.clients);
    }
    if (g_cfg.preload && g_cfg.workload == WL_CREATE) fprintf(stderr, "note: --preload has no effect on create\n");
    if (!g_cfg.preload && g_cfg.workload == WL_LOAD) {
        fprintf(stderr, "note: load without --preload: keys that do not exist are answered NOT_FOUND\n");
    }

    /* Connect (and preload) in the worker threads, then start them together. */
    uint64_t setup_start = now_ns();
    double cpu_start = 0, cpu_end = 0;
    int started = 0;
    for (int t = 0; t < T; t++) {
        if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "pgstate-bench: setup failed: cannot create thread %d: %s\n", t, strerror(errno));
            atomic_store(&g_abort, 1);
            break;
        }
        started++;
    }
    pthread_mutex_lock(&g_mu);
    while (g_ready < started) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
        if (g_signal) atomic_store(&g_abort, 1);
    }
    int setup_failed = atomic_load(&g_abort) ? 1 : 0;
    for (int t = 0; t < started; t++) setup_failed |= ws[t].failed;
    if (setup_failed) atomic_store(&g_abort, 1);
    uint64_t t0 = now_ns();
    g_warm_end_ns = t0 + (uint64_t)(g_cfg.warmup_s * (double)NS_PER_S);
    atomic_store(&g_end_ns, g_warm_end_ns + (uint64_t)(g_cfg.duration_s * (double)NS_PER_S));
    g_go = 1;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);

    if (!setup_failed) {
        if (g_cfg.preload && g_cfg.workload != WL_CREATE) {
            preload_stats p = {0, 0, 0, 0};
            for (int t = 0; t < T; t++) {
                p.existing += ws[t].pre.existing;
                p.created += ws[t].pre.created;
                p.overwritten += ws[t].pre.overwritten;
                p.errors += ws[t].pre.errors;
            }
            fprintf(stderr, "preload: %u keys in %.2f s (%llu existed, %llu created, %llu overwritten, %llu "
                            "errors retried)\n", (unsigned)g_cfg.keys, (double)(t0 - setup_start) / 1e9,
                    (unsigned long long)p.existing, (unsigned long long)p.created,
                    (unsigned long long)p.overwritten, (unsigned long long)p.errors);
        }
        /* Wait for the end of the window; a signal ends it early.  The process's
           CPU time is sampled at both ends of the window. */
        int sampled = 0;
        for (;;) {
            if (!sampled && now_ns() >= g_warm_end_ns) {
                cpu_start = process_cpu_s();
                sampled = 1;
            }
            uint64_t now = now_ns(), end = atomic_load(&g_end_ns);
            if (now >= end) break;
            if (g_signal) {
                atomic_store(&g_end_ns, now > g_warm_end_ns ? now : g_warm_end_ns);
                break;
            }
            uint64_t step = end - now < 20 * NS_PER_MS ? end - now : 20 * NS_PER_MS;
            if (!sampled && g_warm_end_ns > now && g_warm_end_ns - now < step) step = g_warm_end_ns - now;
            sleep_ns(step);
        }
        if (!sampled) cpu_start = process_cpu_s();
        cpu_end = process_cpu_s();
    }
    for (int t = 0; t < started; t++) pthread_join(ws[t].tid, NULL);

    if (setup_failed) {
        for (int t = 0; t < started; t++) {
            if (ws[t].failed) fprintf(stderr, "pgstate-bench: setup failed: %s\n", ws[t].error);
        }
        if (g_signal) fprintf(stderr, "pgstate-bench: interrupted during setup\n");
        return g_signal ? 130 : 1;
    }

    /* Merge. */
    stats *tot = calloc(1, sizeof *tot);
    hist *all = calloc(1, sizeof *all);
    if (!tot || !all) return 1;
    for (int t = 0; t < T; t++) {
        stats *s = &ws[t].st;
        for (int k = 0; k < NOPK; k++) {
            h_merge(&tot->lat[k], &s->lat[k]);
            tot->ops[k] += s->ops[k];
        }
        h_merge(&tot->txn, &s->txn);
        tot->not_found += s->not_found;
        tot->conflicts += s->conflicts;
        tot->commits += s->commits;
        for (int k = 0; k < NERR; k++) tot->errors[k] += s->errors[k];
        tot->errors_outside += s->errors_outside;
        tot->connect_errors += s->connect_errors;
        tot->reconnects += s->reconnects;
    }
    for (int k = 0; k < NOPK; k++) h_merge(all, &tot->lat[k]);
    uint64_t end = atomic_load(&g_end_ns);
    double window_s = end > g_warm_end_ns ? (double)(end - g_warm_end_ns) / 1e9 : 0.0;
    int interrupted = g_signal != 0;
    uint64_t ops = tot->ops[OPK_LOAD] + tot->ops[OPK_UPSERT];
    double ops_s = window_s > 0 ? (double)ops / window_s : 0.0;
    uint64_t errors_total = 0;
    for (int k = 0; k < NERR; k++) errors_total += tot->errors[k];

    /* Human summary (stderr). */
    fprintf(stderr, "ops:         %llu in %.2f s = %.1f ops/s  (load %llu, upsert %llu)%s\n",
            (unsigned long long)ops, window_s, ops_s, (unsigned long long)tot->ops[OPK_LOAD],
            (unsigned long long)tot->ops[OPK_UPSERT], interrupted ? "  [interrupted]" : "");
    human_hist("latency:", all);
    if (tot->ops[OPK_LOAD] && tot->ops[OPK_UPSERT]) {
        human_hist("  load:", &tot->lat[OPK_LOAD]);
        human_hist("  upsert:", &tot->lat[OPK_UPSERT]);
    }
    fprintf(stderr, "conflicts:   %llu   not_found: %llu\n", (unsigned long long)tot->conflicts,
            (unsigned long long)tot->not_found);
    double cpu_s = cpu_end > cpu_start ? cpu_end - cpu_start : 0.0;
    double cpu_us_per_op = ops ? cpu_s * 1e6 / (double)ops : 0.0;
    fprintf(stderr, "client CPU:  %.2f s user+system in the window = %.1f us per request (%.0f%% of one CPU)\n",
            cpu_s, cpu_us_per_op, window_s > 0 ? 100.0 * cpu_s / window_s : 0.0);
    if (g_cfg.workload == WL_CONTEND) {
        fprintf(stderr, "commits:     %llu = %.1f/s  (%.2f conflicts per commit)\n",
                (unsigned long long)tot->commits, window_s > 0 ? (double)tot->commits / window_s : 0.0,
                tot->commits ? (double)tot->conflicts / (double)tot->commits : 0.0);
        human_hist("txn latency:", &tot->txn);
    }
    fprintf(stderr, "errors:      %llu", (unsigned long long)errors_total);
    for (int k = 1; k < NERR; k++) {
        if (tot->errors[k]) fprintf(stderr, "  %s=%llu", err_name((unsigned)k), (unsigned long long)tot->errors[k]);
    }
    if (tot->errors_outside) fprintf(stderr, "  (+%llu outside the window)", (unsigned long long)tot->errors_outside);
    fputc('\n', stderr);
    if (tot->connect_errors || tot->reconnects) {
        fprintf(stderr, "connections: %llu reconnects, %llu failed reconnect attempts\n",
                (unsigned long long)tot->reconnects, (unsigned long long)tot->connect_errors);
    }
    for (int k = 1; k < NERR; k++) {
        if (g_first_err[k][0]) fprintf(stderr, "  first %s: %s\n", err_name((unsigned)k), g_first_err[k]);
    }
    if (g_first_connect_err[0]) fprintf(stderr, "  first reconnect failure: %s\n", g_first_connect_err);

    /* Machine-readable line (stdout). */
    if (g_cfg.format == FMT_JSON) {
        FILE *f = stdout;
        fprintf(f, "{\"tool\":\"pgstate-bench\",\"version\":\"%s\",\"server_version\":", BENCH_VERSION);
        json_str(f, server_version);
        fprintf(f, ",\"socket\":");
        json_str(f, shown_socket);
        fprintf(f, ",\"workload\":\"%s\",\"clients\":%d,\"threads\":%d,\"depth\":%d,\"keys\":%u,\"state_size\":%zu,"
                   "\"preload\":%s,\"warmup_s\":%.3f,\"duration_s\":%.3f,\"interrupted\":%s,"
                   "\"ops\":%llu,\"ops_per_s\":%.1f,\"ops_by_op\":{\"load\":%llu,\"upsert\":%llu},\"latency_us\":",
                WL_NAMES[g_cfg.workload], g_cfg.clients, T, g_cfg.depth, (unsigned)g_cfg.keys, g_cfg.state_size,
                g_cfg.preload ? "true" : "false", g_cfg.warmup_s, window_s, interrupted ? "true" : "false",
                (unsigned long long)ops, ops_s, (unsigned long long)tot->ops[OPK_LOAD],
                (unsigned long long)tot->ops[OPK_UPSERT]);
        json_hist(f, all);
        fprintf(f, ",\"latency_us_by_op\":{");
        for (int k = 0; k < NOPK; k++) {
            fprintf(f, "%s\"%s\":", k ? "," : "", OPK_NAMES[k]);
            json_hist(f, &tot->lat[k]);
        }
        fprintf(f, "},\"conflicts\":%llu,\"not_found\":%llu,\"client_cpu_s\":%.3f,\"client_cpu_us_per_op\":%.2f",
                (unsigned long long)tot->conflicts, (unsigned long long)tot->not_found, cpu_s, cpu_us_per_op);
        if (g_cfg.workload == WL_CONTEND) {
            fprintf(f, ",\"commits\":%llu,\"commits_per_s\":%.1f,\"txn_latency_us\":",
                    (unsigned long long)tot->commits, window_s > 0 ? (double)tot->commits / window_s : 0.0);
            json_hist(f, &tot->txn);
        }
        fprintf(f, ",\"errors_total\":%llu,\"errors\":{", (unsigned long long)errors_total);
        int first = 1;
        for (int k = 1; k < NERR; k++) {
            if (!tot->errors[k]) continue;
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", err_name((unsigned)k), (unsigned long long)tot->errors[k]);
            first = 0;
        }
        fprintf(f, "},\"errors_outside_window\":%llu,\"reconnects\":%llu,\"reconnect_failures\":%llu}\n",
                (unsigned long long)tot->errors_outside, (unsigned long long)tot->reconnects,
                (unsigned long long)tot->connect_errors);
        fflush(f);
    } else if (g_cfg.format == FMT_TSV) {
        FILE *f = stdout;
        if (g_cfg.header) {
            fprintf(f, "workload\tclients\tthreads\tdepth\tkeys\tstate_size\tpreload\tduration_s\tops\tops_per_s\t"
                       "p50_us\tp90_us\tp99_us\tp99_9_us\tmax_us\tconflicts\tnot_found\tcommits\terrors_total\t"
                       "errors\n");
        }
        fprintf(f, "%s\t%d\t%d\t%d\t%u\t%zu\t%d\t%.3f\t%llu\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%llu\t%llu\t%llu\t%llu\t",
                WL_NAMES[g_cfg.workload], g_cfg.clients, T, g_cfg.depth, (unsigned)g_cfg.keys, g_cfg.state_size,
                g_cfg.preload, window_s, (unsigned long long)ops, ops_s, us(h_percentile(all, 50)),
                us(h_percentile(all, 90)), us(h_percentile(all, 99)), us(h_percentile(all, 99.9)), us(all->max),
                (unsigned long long)tot->conflicts, (unsigned long long)tot->not_found,
                (unsigned long long)tot->commits, (unsigned long long)errors_total);
        int first = 1;
        for (int k = 1; k < NERR; k++) {
            if (!tot->errors[k]) continue;
            fprintf(f, "%s%s=%llu", first ? "" : ",", err_name((unsigned)k), (unsigned long long)tot->errors[k]);
            first = 0;
        }
        if (first) fputc('-', f);
        fputc('\n', f);
        fflush(f);
    }

    for (int t = 0; t < T; t++) {
        for (int i = 0; i < ws[t].nconns; i++) {
            free(ws[t].conns[i].slots);
            free(ws[t].conns[i].freelist);
            free(ws[t].conns[i].rev);
            free(ws[t].conns[i].kbusy);
        }
        free(ws[t].conns);
        free(ws[t].state);
    }
    free(ws);
    free(tot);
    free(all);
    free(g_state);
    return 0;
}
