/*
 * test_client.c - transport tests of libpgstate against a FAKE pgstated.
 *
 * Each test forks a child that listens on a temporary Unix socket and plays a
 * scripted server (written with the library's own codec), while the parent
 * drives the public API and checks statuses, messages and data.  The child
 * checks what it receives and reports through its exit status.  One test plays
 * every "response" vector of proto-spec/vectors/outcomes.json this way, so the
 * library's routing (not only its classifier) is held to the spec.
 * Ends with "N passed, M failed".
 */
#include "codec.h"
#include "harness.h"
#include "multikey_codec.h"
#include "operator_codec.h"
#include "pgstate.h"
#include "vector_json.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000
#define BIG_TIMEOUT_STATE ((size_t)4 * 1024 * 1024)

/* ------------------------------------------------------------------------- */
/* Fake server                                                                */
/* ------------------------------------------------------------------------- */

static int g_child_failures;

#define SCHECK(cond)                                                                          \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "  SERVER FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            g_child_failures++;                                                               \
        }                                                                                     \
    } while (0)

typedef struct srv {
    int fd;
    pgs_reader rd;
    pgs_limits lim;
    pgs_buf out;
    uint32_t hello_rid;
    const uint8_t *body; /* the last request frame as received (no length prefix), until the next read */
    uint32_t body_len;
} srv;

typedef void (*script_fn)(srv *s, int conn_index);

typedef struct fake {
    pid_t pid;
    char dir[64];
    char path[128];
} fake;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next request frame: 1 (decoded into *m, valid until the next call), 0 on
   EOF, -1 on timeout / error / undecodable frame. */
static int srv_next(srv *s, pgs_msg *m) {
    for (;;) {
        const uint8_t *body;
        uint32_t len;
        int r = pgs_reader_next(&s->rd, &body, &len);
        if (r == PGS_FRAME) {
            uint32_t erid;
            s->body = body;
            s->body_len = len;
            int st = pgs_decode_request(body, len, &s->lim, m, &erid);
            if (st != 0) {
                fprintf(stderr, "  SERVER: undecodable request: status %d rid %u\n", st, erid);
                return -1;
            }
            return 1;
        }
        if (r == PGS_READ_ERROR) return -1;
        struct pollfd pfd = {s->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 5000);
        if (pr <= 0) return -1;
        uint8_t *ptr;
        size_t avail;
        if (pgs_reader_space(&s->rd, &ptr, &avail) != 0 || avail == 0) return -1;
        ssize_t n = read(s->fd, ptr, avail);
        if (n == 0) return 0;
        if (n < 0) return errno == EINTR ? -1 : (errno == ECONNRESET ? 0 : -1);
        pgs_reader_commit(&s->rd, (size_t)n);
    }
}

/* Expects a request of the given type. */
static int srv_expect(srv *s, uint8_t type, pgs_msg *m) {
    int r = srv_next(s, m);
    SCHECK(r == 1);
    if (r != 1) return 0;
    if (m->type != type) fprintf(stderr, "  SERVER: got type 0x%02x, expected 0x%02x\n", m->type, type);
    SCHECK(m->type == type);
    return m->type == type;
}

static void srv_expect_eof(srv *s) {
    pgs_msg m;
    int r = srv_next(s, &m);
    if (r != 0) fprintf(stderr, "  SERVER: expected EOF, got %d (type 0x%02x)\n", r, r == 1 ? m.type : 0);
    SCHECK(r == 0);
}

/* 1 if nothing arrives for ms milliseconds (and nothing is buffered). */
static int srv_quiet(srv *s, int ms) {
    if (pgs_reader_buffered(&s->rd) != 0) return 0;
    struct pollfd pfd = {s->fd, POLLIN, 0};
    return poll(&pfd, 1, ms) == 0;
}

static void srv_flush(srv *s) {
    size_t off = 0;
    while (off < s->out.len) {
        ssize_t n = write(s->fd, s->out.data + off, s->out.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the client may have gone away: that is its test's business */
        off += (size_t)n;
    }
    s->out.len = 0;
}

static void srv_ok(srv *s, uint32_t rid) {
    pgs_encode_ok(&s->out, rid);
    srv_flush(s);
}

static void srv_not_found(srv *s, uint32_t rid) {
    pgs_encode_not_found(&s->out, rid);
    srv_flush(s);
}

static void srv_record(srv *s, uint32_t rid, uint64_t rev, int64_t ts, const void *state, size_t len) {
    pgs_encode_record(&s->out, rid, rev, ts, state, len);
    srv_flush(s);
}

static void srv_conflict(srv *s, uint32_t rid, uint64_t expected, uint64_t actual) {
    pgs_encode_conflict(&s->out, rid, expected, actual);
    srv_flush(s);
}

static void srv_error(srv *s, uint32_t rid, uint16_t status, const char *msg) {
    pgs_encode_error(&s->out, rid, status, msg, strlen(msg));
    srv_flush(s);
}

/* Expects a request of the given type and answers it with an error of the given status. */
static void srv_answer_error(srv *s, uint8_t type, uint16_t status, const char *msg) {
    pgs_msg m;
    if (srv_expect(s, type, &m)) srv_error(s, m.request_id, status, msg);
}

/* Expects a request of the given type and answers it OK. */
static void srv_answer_ok(srv *s, uint8_t type) {
    pgs_msg m;
    if (srv_expect(s, type, &m)) srv_ok(s, m.request_id);
}

static void srv_raw(srv *s, const void *bytes, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(s->fd, (const uint8_t *)bytes + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
}

/* Reads HELLO and checks it; returns its request id (0 on failure). */
static uint32_t srv_read_hello(srv *s) {
    pgs_msg m;
    if (!srv_expect(s, PGS_T_HELLO, &m)) return 0;
    SCHECK(m.request_id != 0);
    SCHECK(m.versions_count >= 1);
    int has_v1 = 0;
    for (unsigned i = 0; i < m.versions_count; i++) has_v1 |= m.versions[i] == 1;
    SCHECK(has_v1);
    SCHECK(m.text_len == strlen("pgstate-c/" PGSTATE_VERSION_STRING) &&
           memcmp(m.text, "pgstate-c/" PGSTATE_VERSION_STRING, m.text_len) == 0);
    s->hello_rid = m.request_id;
    return m.request_id;
}

/* HELLO -> HELLO_OK with the given limits (NULL: defaults). */
static void srv_handshake(srv *s, const pgs_limits *lim) {
    pgs_limits l;
    if (lim) l = *lim;
    else pgs_limits_default(&l);
    uint32_t rid = srv_read_hello(s);
    s->lim = l;
    pgs_reader_set_max_frame(&s->rd, l.max_frame_bytes);
    pgs_encode_hello_ok(&s->out, rid, 1, "fake-pgstated 1.0", 17, &l);
    srv_flush(s);
}

static void small_limits(pgs_limits *l) {
    pgs_limits_default(l);
    l->max_frame_bytes = 4112;
    l->max_state_bytes = 16;
}

/* Starts a child serving nconns connections, one after the other, with fn. */
static int fake_start(fake *f, script_fn fn, int nconns) {
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pgstate-c-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->path, sizeof f->path, "%s/pgstated.sock", f->dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0) return -1;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1); /* < 64 bytes */
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 16) != 0) {
        close(lfd);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    f->pid = fork();
    if (f->pid < 0) {
        close(lfd);
        return -1;
    }
    if (f->pid == 0) {
        alarm(30); /* never hang the test run */
        signal(SIGPIPE, SIG_IGN); /* the fake server may write to a client that left */
        g_child_failures = 0;
        for (int i = 0; i < nconns; i++) {
            int cfd = accept(lfd, NULL, NULL);
            if (cfd < 0) {
                g_child_failures++;
                break;
            }
            srv s;
            memset(&s, 0, sizeof s);
            s.fd = cfd;
            pgs_limits_default(&s.lim);
            pgs_reader_init(&s.rd, PGS_DEFAULT_MAX_FRAME_BYTES);
            pgs_buf_init(&s.out);
            fn(&s, i);
            if (s.fd >= 0) close(s.fd); /* unless the script closed it (srv_close) */
            pgs_reader_free(&s.rd);
            pgs_buf_free(&s.out);
        }
        close(lfd);
        fflush(stderr);
        _exit(g_child_failures ? 1 : 0);
    }
    close(lfd);
    return 0;
}

/* Waits for the child; 0 if its script passed. */
static int fake_wait(fake *f) {
    int st = 0;
    if (f->pid > 0) {
        while (waitpid(f->pid, &st, 0) < 0 && errno == EINTR) {
        }
        f->pid = 0;
    }
    unlink(f->path);
    rmdir(f->dir);
    if (WIFSIGNALED(st)) fprintf(stderr, "  fake server killed by signal %d\n", WTERMSIG(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* Holding a write back until the fake server has closed                     */
/* ------------------------------------------------------------------------- */

/*
 * The library writes with send(2) (net.c).  This definition takes the place of
 * libc's in the test binary, so that a test can make a write happen after the
 * server closed, deterministically and without a sleep: while g_send_gate is a
 * descriptor (the read end of a pipe), the next send() first waits for a byte
 * on it - the fake server writes one once it has closed the connection
 * (srv_close) - then disarms the gate and records in g_gated_errno how the
 * write went (0 if it succeeded).  Otherwise it is sendto(2) without an
 * address, which is send(2).
 */
static int g_send_gate = -1;
static int g_gate_signal = -1; /* the write end, written by the fake server */
static int g_gated_errno = -1; /* -1: no gated write happened */
static int g_go_wait = -1;     /* read by the fake server: the client is ready for what comes next */
static int g_go_signal = -1;   /* its write end, the test's */

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    if (g_send_gate >= 0) {
        struct pollfd pfd = {g_send_gate, POLLIN, 0};
        char byte;
        if (poll(&pfd, 1, TIMEOUT_MS) != 1 || read(g_send_gate, &byte, 1) != 1) {
            fprintf(stderr, "  the fake server did not say it closed the connection\n");
        }
        g_send_gate = -1;
        ssize_t w = sendto(fd, buf, len, flags, NULL, 0);
        g_gated_errno = w < 0 ? errno : 0;
        return w;
    }
    return sendto(fd, buf, len, flags, NULL, 0);
}

/* Waits (up to 5 s) until the test says go on. */
static void srv_wait_go(void) {
    struct pollfd pfd = {g_go_wait, POLLIN, 0};
    char byte;
    SCHECK(poll(&pfd, 1, 5000) == 1 && read(g_go_wait, &byte, 1) == 1);
}

static void test_go(void) {
    CHECK(write(g_go_signal, "g", 1) == 1);
}

/* Closes the connection (as pgstated does after an id-0 ERROR), then lets the
   gated send() go on. */
static void srv_close(srv *s) {
    close(s->fd);
    s->fd = -1;
    SCHECK(write(g_gate_signal, "c", 1) == 1);
}

#define START(f, fn, n) CHECK(fake_start(&(f), (fn), (n)) == 0)
#define FINISH(f) CHECKF(fake_wait(&(f)) == 0, "fake server script failed")

static int contains(const char *hay, const char *needle) {
    return hay != NULL && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */
/* ------------------------------------------------------------------------- */

static void srv_handshake_ok(srv *s, int i) {
    (void)i;
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_frame_bytes = 1052672;
    l.max_id_bytes = 128;
    l.max_state_bytes = 1048576;
    l.max_in_flight = 64;
    l.capabilities = 0x80000001u; /* an unknown bit next to CONDITIONAL_DELETE */
    srv_handshake(s, &l);
    pgs_msg m;
    if (srv_expect(s, PGS_T_PING, &m)) {
        SCHECK(m.request_id != 0 && m.request_id != s->hello_rid);
        srv_ok(s, m.request_id);
    }
    srv_expect_eof(s);
}

static void test_handshake_ok(void) {
    fake f;
    START(f, srv_handshake_ok, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECK(c != NULL);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(strcmp(pgstate_errmsg(c), "") == 0);
    CHECK(pgstate_is_connected(c));
    CHECK(strcmp(pgstate_server_version(c), "fake-pgstated 1.0") == 0);
    CHECK(pgstate_max_state_bytes(c) == 1048576);
    CHECK(pgstate_max_id_bytes(c) == 128);
    CHECK(pgstate_max_in_flight(c) == 64);
    CHECK(pgstate_capabilities(c) & PGSTATE_CAP_CONDITIONAL_DELETE);
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_server_status(c) == 0);
    pgstate_free(c);
    FINISH(f);
}

static void srv_basic_ops(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    pgs_msg m;
    if (srv_expect(s, PGS_T_LOAD, &m)) {
        SCHECK(m.id_len == 7 && memcmp(m.id, "order-1", 7) == 0);
        srv_record(s, m.request_id, 3, -5, "abc", 3);
    }
    if (srv_expect(s, PGS_T_LOAD, &m)) {
        SCHECK(m.id_len == 4 && memcmp(m.id, "nope", 4) == 0);
        srv_not_found(s, m.request_id);
    }
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.expected_revision == 3 && m.state_len == 6 && memcmp(m.state, "hel\0lo", 6) == 0);
        srv_record(s, m.request_id, 4, 1773480413589793LL, m.state, m.state_len);
    }
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.expected_revision == 3 && m.state_len == 0);
        srv_conflict(s, m.request_id, 3, 4);
    }
    if (srv_expect(s, PGS_T_UPSERT, &m)) { /* out == NULL */
        SCHECK(m.expected_revision == 0);
        srv_record(s, m.request_id, 1, 0, m.state, m.state_len);
    }
    if (srv_expect(s, PGS_T_DELETE, &m)) {
        SCHECK(!m.has_expected && m.flags == 0 && m.id_len == 7);
        srv_ok(s, m.request_id);
    }
    if (srv_expect(s, PGS_T_DELETE, &m)) {
        SCHECK(m.has_expected && m.flags == 1 && m.expected_revision == 4);
        srv_conflict(s, m.request_id, 4, 0);
    }
    if (srv_expect(s, PGS_T_DELETE, &m)) {
        SCHECK(m.has_expected && m.expected_revision == UINT64_C(0x7fffffffffffffff));
        srv_ok(s, m.request_id);
    }
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.expected_revision == UINT64_C(0x7ffffffffffffffe));
        srv_record(s, m.request_id, UINT64_C(0x7fffffffffffffff), 0, "", 0);
    }
    srv_expect_eof(s);
}

static void test_basic_ops(void) {
    fake f;
    START(f, srv_basic_ops, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));

    pgstate_record *r = (pgstate_record *)1;
    CHECK(pgstate_load(c, "order-1", 7, &r) == PGSTATE_OK);
    CHECK(r != NULL);
    if (r) {
        CHECK(strcmp(r->persistence_id, "order-1") == 0 && r->persistence_id_len == 7);
        CHECK(r->revision == 3 && r->updated_at_us == -5);
        CHECK(r->state_len == 3 && memcmp(r->state, "abc", 4) == 0); /* NUL-terminated too */
    }
    pgstate_record_free(r);

    r = (pgstate_record *)1;
    CHECK(pgstate_load(c, "nope", 4, &r) == PGSTATE_NOT_FOUND);
    CHECK(r == NULL);
    CHECK(pgstate_status(c) == PGSTATE_NOT_FOUND);

    CHECK(pgstate_upsert(c, "order-1", 7, 3, "hel\0lo", 6, &r) == PGSTATE_OK);
    if (r) {
        CHECK(r->revision == 4 && r->updated_at_us == 1773480413589793LL);
        CHECK(r->state_len == 6 && memcmp(r->state, "hel\0lo", 6) == 0);
    }
    pgstate_record_free(r);

    r = (pgstate_record *)1;
    CHECK(pgstate_upsert(c, "order-1", 7, 3, NULL, 0, &r) == PGSTATE_CONFLICT);
    CHECK(r == NULL);
    CHECK(pgstate_conflict_expected(c) == 3 && pgstate_conflict_actual(c) == 4);

    CHECK(pgstate_upsert(c, "order-1", 7, 0, "x", 1, NULL) == PGSTATE_OK);
    CHECK(pgstate_conflict_actual(c) == 0); /* reset by the next call */

    CHECK(pgstate_delete(c, "order-1", 7) == PGSTATE_OK);
    CHECK(pgstate_delete_if(c, "order-1", 7, 4) == PGSTATE_CONFLICT);
    CHECK(pgstate_conflict_expected(c) == 4 && pgstate_conflict_actual(c) == 0);
    CHECK(pgstate_delete_if(c, "order-1", 7, UINT64_C(0x8000000000000000)) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_delete_if(c, "order-1", 7, UINT64_C(0x7fffffffffffffff)) == PGSTATE_OK);
    CHECK(pgstate_upsert(c, "order-1", 7, UINT64_C(0x7fffffffffffffff), "", 0, NULL) ==
          PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_upsert(c, "order-1", 7, UINT64_C(0x7ffffffffffffffe), "", 0, &r) == PGSTATE_OK);
    if (r) CHECK(r->revision == UINT64_C(0x7fffffffffffffff) && r->state_len == 0);
    pgstate_record_free(r);
    pgstate_free(c);
    FINISH(f);
}

static void srv_pipeline(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    pgs_msg m;
    uint32_t rid[4] = {0, 0, 0, 0};
    uint8_t types[4] = {PGS_T_LOAD, PGS_T_LOAD, PGS_T_UPSERT, PGS_T_PING};
    for (int k = 0; k < 4; k++) {
        if (srv_expect(s, types[k], &m)) rid[k] = m.request_id;
    }
    /* all four are in before any answer; answer in reverse order */
    SCHECK(rid[0] && rid[1] && rid[2] && rid[3]);
    SCHECK(rid[0] != rid[1] && rid[1] != rid[2] && rid[2] != rid[3] && rid[0] != rid[3]);
    srv_ok(s, rid[3]);
    srv_record(s, rid[2], 1, 42, "c-state", 7);
    srv_not_found(s, rid[1]);
    srv_record(s, rid[0], 9, 43, "a-state", 7);
    srv_expect_eof(s);
}

static void test_pipeline_out_of_order(void) {
    fake f;
    START(f, srv_pipeline, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    uint32_t a = pgstate_send_load(c, "a", 1);
    uint32_t b = pgstate_send_load(c, "b", 1);
    uint32_t cc = pgstate_send_upsert(c, "c", 1, 0, "c-state", 7);
    uint32_t p = pgstate_send_ping(c);
    CHECK(a && b && cc && p);
    CHECK(pgstate_pending(c) == 4);
    CHECK(pgstate_flush(c) == PGSTATE_OK);

    pgstate_reply *r = NULL;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == p && r->op == PGSTATE_OP_PING && r->kind == PGSTATE_REPLY_OK);
    CHECK(r && r->status == PGSTATE_OK && strcmp(r->message, "") == 0);
    pgstate_reply_free(r);

    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == cc && r->kind == PGSTATE_REPLY_RECORD && r->record != NULL);
    if (r && r->record) {
        CHECK(r->record->revision == 1 && r->record->updated_at_us == 42);
        CHECK(strcmp(r->record->persistence_id, "c") == 0 && strcmp(r->persistence_id, "c") == 0);
    }
    /* the caller may take the record */
    pgstate_record *taken = r ? r->record : NULL;
    if (r) r->record = NULL;
    pgstate_reply_free(r);
    CHECK(taken && taken->state_len == 7 && memcmp(taken->state, "c-state", 7) == 0);
    pgstate_record_free(taken);

    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == b && r->kind == PGSTATE_REPLY_NOT_FOUND && r->status == PGSTATE_NOT_FOUND);
    CHECK(r && r->record == NULL && strcmp(r->persistence_id, "b") == 0);
    pgstate_reply_free(r);

    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == a && r->kind == PGSTATE_REPLY_RECORD && r->record && r->record->revision == 9);
    pgstate_reply_free(r);

    CHECK(pgstate_pending(c) == 0);
    r = (pgstate_reply *)1;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_ERR_INVALID_ARGUMENT && r == NULL);
    pgstate_free(c);
    FINISH(f);
}

static void srv_in_flight(srv *s, int i) {
    (void)i;
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_in_flight = 2;
    srv_handshake(s, &l);
    uint32_t rids[5];
    int n_read = 0, n_answered = 0;
    pgs_msg m;
    while (n_answered < 5) {
        while (n_read - n_answered < 2 && n_read < 5) {
            if (!srv_expect(s, PGS_T_LOAD, &m)) return;
            rids[n_read++] = m.request_id;
        }
        if (n_read - n_answered == 2) SCHECK(srv_quiet(s, 150)); /* never a third in flight */
        srv_not_found(s, rids[n_answered++]);
    }
    srv_expect_eof(s);
}

static void test_max_in_flight(void) {
    fake f;
    START(f, srv_in_flight, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_max_in_flight(c) == 2);
    uint32_t ids[5];
    for (int k = 0; k < 5; k++) {
        ids[k] = pgstate_send_load(c, "k", 1);
        CHECKF(ids[k] != 0, "%s", pgstate_errmsg(c));
    }
    CHECK(pgstate_pending(c) == 5);
    int seen = 0;
    for (int k = 0; k < 5; k++) {
        pgstate_reply *r = NULL;
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        if (r) {
            CHECK(r->kind == PGSTATE_REPLY_NOT_FOUND);
            for (int j = 0; j < 5; j++) seen += r->request_id == ids[j];
        }
        pgstate_reply_free(r);
    }
    CHECK(seen == 5);
    pgstate_free(c);
    FINISH(f);
}

static const struct {
    uint16_t wire;
    int status;
} ERROR_MAP[] = {
    {102, PGSTATE_ERR_INVALID_ARGUMENT}, {101, PGSTATE_ERR_PROTOCOL},     {150, PGSTATE_ERR_PROTOCOL},
    {200, PGSTATE_ERR_UNAVAILABLE},      {201, PGSTATE_ERR_UNAVAILABLE},  {299, PGSTATE_ERR_UNAVAILABLE},
    {300, PGSTATE_ERR_OUTCOME_UNKNOWN},  {399, PGSTATE_ERR_OUTCOME_UNKNOWN}, {500, PGSTATE_ERR_SERVER},
    {503, PGSTATE_ERR_SERVER},           {0, PGSTATE_ERR_SERVER},         {404, PGSTATE_ERR_SERVER},
    {106, PGSTATE_ERR_PERMISSION_DENIED},
    {600, PGSTATE_ERR_SERVER},           {65535, PGSTATE_ERR_SERVER},
};
#define N_ERROR_MAP (sizeof ERROR_MAP / sizeof ERROR_MAP[0])

static void srv_error_classes(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    pgs_msg m;
    for (size_t k = 0; k < N_ERROR_MAP; k++) {
        if (!srv_expect(s, PGS_T_LOAD, &m)) return;
        char msg[64];
        snprintf(msg, sizeof msg, "boom-%u \xe2\x9c\x97", ERROR_MAP[k].wire);
        srv_error(s, m.request_id, ERROR_MAP[k].wire, msg);
    }
    srv_answer_error(s, PGS_T_UPSERT, 300, "db connection lost");
    /* a write answered 500, or a status of no class, may have been applied; a read so answered failed */
    srv_answer_error(s, PGS_T_DELETE, 500, "internal error");
    srv_answer_error(s, PGS_T_UPSERT, 0, "no class");
    srv_answer_error(s, PGS_T_DELETE, 600, "no class");
    srv_answer_error(s, PGS_T_PING, 500, "internal error");
    srv_answer_ok(s, PGS_T_PING);
    srv_expect_eof(s);
}

static void test_error_classes(void) {
    fake f;
    START(f, srv_error_classes, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    for (size_t k = 0; k < N_ERROR_MAP; k++) {
        pgstate_record *r = (pgstate_record *)1;
        int rc = pgstate_load(c, "k", 1, &r);
        CHECKF(rc == ERROR_MAP[k].status, "status %u -> %s, want %s", ERROR_MAP[k].wire, pgstate_status_name(rc),
               pgstate_status_name(ERROR_MAP[k].status));
        CHECK(r == NULL);
        CHECK(pgstate_status(c) == rc);
        CHECKF(pgstate_server_status(c) == ERROR_MAP[k].wire, "server_status %d", pgstate_server_status(c));
        char want[32];
        snprintf(want, sizeof want, "boom-%u", ERROR_MAP[k].wire);
        CHECKF(contains(pgstate_errmsg(c), want), "errmsg: %s", pgstate_errmsg(c));
        CHECK(pgstate_is_connected(c)); /* none of these closes the connection */
    }
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgstate_server_status(c) == 300);
    CHECK(pgstate_delete(c, "k", 1) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgstate_server_status(c) == 500);
    CHECKF(contains(pgstate_errmsg(c), "internal error"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgstate_server_status(c) == 0);
    CHECK(pgstate_delete_if(c, "k", 1, 3) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgstate_server_status(c) == 600);
    CHECK(pgstate_ping(c) == PGSTATE_ERR_SERVER);
    CHECK(pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_server_status(c) == 0 && strcmp(pgstate_errmsg(c), "") == 0);
    pgstate_free(c);
    FINISH(f);
}

static void srv_closing_errors(srv *s, int i) {
    pgs_msg m;
    srv_handshake(s, NULL);
    if (i == 0) {
        /* ERROR 100 echoing the request: the server closes */
        srv_answer_error(s, PGS_T_LOAD, 100, "trailing bytes");
    } else if (i == 1 || i == 2) {
        /* ERROR with request id 0 while two requests are in flight, then close */
        SCHECK(srv_expect(s, PGS_T_UPSERT, &m));
        SCHECK(srv_expect(s, PGS_T_LOAD, &m));
        if (i == 1) srv_error(s, 0, 100, "frame length 5 is shorter than the 6-byte header");
        else srv_error(s, 0, 201, "too many connections");
    } else if (i == 3) {
        /* draining: 202 to the first, still an answer to the second, then close */
        uint32_t r1 = 0, r2 = 0;
        if (srv_expect(s, PGS_T_LOAD, &m)) r1 = m.request_id;
        if (srv_expect(s, PGS_T_LOAD, &m)) r2 = m.request_id;
        srv_error(s, r1, 202, "server is shutting down");
        srv_not_found(s, r2);
        sleep_ms(100);
        srv_error(s, 0, 202, "server is shutting down"); /* the final notice */
    } else {
        /* i == 4: the final id-0 SHUTTING_DOWN while requests are in flight:
           they were not executed.  Half-close, then drain until the client closes. */
        SCHECK(srv_expect(s, PGS_T_UPSERT, &m));
        SCHECK(srv_expect(s, PGS_T_LOAD, &m));
        srv_error(s, 0, 202, "server is shutting down");
        shutdown(s->fd, SHUT_WR);
        while (srv_next(s, &m) == 1) {
        }
    }
}

static void test_closing_errors(void) {
    fake f;
    START(f, srv_closing_errors, 5);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    /* 0: ERROR 100 with an id */
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_PROTOCOL);
    CHECK(pgstate_server_status(c) == 100);
    CHECK(!pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), "not connected"), "%s", pgstate_errmsg(c));

    /* 1: ERROR 100 with id 0: everything outstanding is a protocol failure */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    uint32_t u = pgstate_send_upsert(c, "k", 1, 0, "v", 1);
    uint32_t l = pgstate_send_load(c, "k", 1);
    CHECK(u && l);
    pgstate_reply *r = NULL;
    for (int k = 0; k < 2; k++) {
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        CHECK(r && r->kind == PGSTATE_REPLY_ERROR && r->status == PGSTATE_ERR_PROTOCOL && r->server_status == 100);
        CHECK(r && (r->request_id == u || r->request_id == l));
        CHECKF(r && contains(r->message, "MALFORMED_FRAME"), "%s", r ? r->message : "");
        pgstate_reply_free(r);
    }
    CHECK(!pgstate_is_connected(c));

    /* 2: ERROR 201 with id 0: the written upsert has an unknown outcome, the load is retryable */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    u = pgstate_send_upsert(c, "k", 1, 0, "v", 1);
    l = pgstate_send_load(c, "k", 1);
    for (int k = 0; k < 2; k++) {
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        if (r && r->request_id == u) CHECK(r->status == PGSTATE_ERR_OUTCOME_UNKNOWN && r->server_status == 201);
        else if (r && r->request_id == l) CHECK(r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 201);
        else CHECK(0);
        pgstate_reply_free(r);
    }

    /* 3: SHUTTING_DOWN drains: later replies still arrive, new requests are refused */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    uint32_t a = pgstate_send_load(c, "a", 1);
    uint32_t b = pgstate_send_load(c, "b", 1);
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == a && r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 202);
    pgstate_reply_free(r);
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == b && r->status == PGSTATE_NOT_FOUND);
    pgstate_reply_free(r);
    CHECK(pgstate_send_ping(c) == 0);
    CHECK(pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), "shutting down"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_ping(c) == PGSTATE_ERR_UNAVAILABLE);

    /* 4: final SHUTTING_DOWN with id 0: unanswered requests were not executed,
       so even the written upsert is retryable, not of unknown outcome */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    u = pgstate_send_upsert(c, "k", 1, 0, "v", 1);
    l = pgstate_send_load(c, "k", 1);
    CHECK(pgstate_flush(c) == PGSTATE_OK);
    for (int k = 0; k < 2; k++) {
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        CHECK(r && (r->request_id == u || r->request_id == l));
        CHECKF(r && r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 202, "%s: %s",
               r ? pgstate_status_name(r->status) : "-", r ? r->message : "");
        CHECKF(r && contains(r->message, "not executed"), "%s", r ? r->message : "");
        pgstate_reply_free(r);
    }
    CHECK(!pgstate_is_connected(c));
    pgstate_free(c);
    FINISH(f);
}

static void srv_disconnects(srv *s, int i) {
    pgs_msg m;
    srv_handshake(s, NULL);
    if (i == 0) SCHECK(srv_expect(s, PGS_T_UPSERT, &m)); /* then close without answering */
    if (i == 1) SCHECK(srv_expect(s, PGS_T_LOAD, &m));
    if (i == 2) sleep_ms(200); /* then close, with the client connected and idle */
}

static void test_connection_lost(void) {
    fake f;
    START(f, srv_disconnects, 3);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    /* a write lost after it was sent: outcome unknown */
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECKF(contains(pgstate_errmsg(c), f.path) && contains(pgstate_errmsg(c), "may or may not"), "%s",
           pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_UNAVAILABLE);

    /* a read lost: retryable */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_UNAVAILABLE);

    /* a write on a connection that is already gone: never sent, retryable */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    FINISH(f); /* the server has closed for sure */
    int rc = pgstate_upsert(c, "k", 1, 0, "v", 1, NULL);
    CHECKF(rc == PGSTATE_ERR_UNAVAILABLE, "%s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    /* and with no server at all, reconnect names the path */
    CHECK(pgstate_reconnect(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), f.path), "%s", pgstate_errmsg(c));
    pgstate_free(c);
}

static void srv_timeouts(srv *s, int i) {
    (void)i;
    pgs_msg m;
    srv_handshake(s, NULL);
    uint32_t late = 0;
    if (srv_expect(s, PGS_T_LOAD, &m)) late = m.request_id;
    sleep_ms(1000);
    srv_not_found(s, late); /* for a request whose caller gave up */
    srv_answer_ok(s, PGS_T_PING);
    if (srv_expect(s, PGS_T_LOAD, &m)) {
        sleep_ms(400);
        srv_not_found(s, m.request_id);
    }
    srv_expect_eof(s);
}

static void test_timeouts(void) {
    fake f;
    START(f, srv_timeouts, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    pgstate_set_timeout(c, 200);
    int64_t t0 = mono_ms();
    CHECK(pgstate_load(c, "slow", 4, NULL) == PGSTATE_ERR_TIMEOUT);
    int64_t dt = mono_ms() - t0;
    CHECKF(dt >= 150 && dt < 3000, "timed out after %lld ms", (long long)dt);
    CHECKF(contains(pgstate_errmsg(c), "timed out"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_is_connected(c)); /* a timeout does not close the connection */
    pgstate_set_timeout(c, TIMEOUT_MS);
    CHECK(pgstate_ping(c) == PGSTATE_OK); /* the late NOT_FOUND is discarded */

    /* pipelined: a read_reply timeout is not fatal either */
    uint32_t id = pgstate_send_load(c, "slow", 4);
    CHECK(id != 0);
    pgstate_set_timeout(c, 100);
    pgstate_reply *r = (pgstate_reply *)1;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_ERR_TIMEOUT && r == NULL);
    pgstate_set_timeout(c, TIMEOUT_MS);
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == id && r->kind == PGSTATE_REPLY_NOT_FOUND);
    pgstate_reply_free(r);
    pgstate_free(c);
    FINISH(f);
}

static void srv_slow_reader(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    sleep_ms(800); /* not reading: the client's writes back up */
    pgs_msg m;
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.state_len == BIG_TIMEOUT_STATE);
        srv_record(s, m.request_id, 1, 0, "", 0);
    }
    /* the timed-out PING was withdrawn, so the next frame is the second PING */
    srv_answer_ok(s, PGS_T_PING);
    srv_expect_eof(s);
}

static void test_timeout_before_sending(void) {
    fake f;
    START(f, srv_slow_reader, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    uint8_t *big = calloc(1, BIG_TIMEOUT_STATE);
    uint32_t u = pgstate_send_upsert(c, "big", 3, 0, big, BIG_TIMEOUT_STATE);
    CHECK(u != 0);
    free(big);
    pgstate_set_timeout(c, 300);
    CHECK(pgstate_ping(c) == PGSTATE_ERR_TIMEOUT); /* stuck behind the big upsert */
    CHECKF(contains(pgstate_errmsg(c), "not sent"), "%s", pgstate_errmsg(c));
    pgstate_set_timeout(c, TIMEOUT_MS);
    pgstate_reply *r = NULL;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == u && r->kind == PGSTATE_REPLY_RECORD);
    pgstate_reply_free(r);
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);
    FINISH(f);
}

static void srv_silent(srv *s, int i) {
    (void)i;
    srv_read_hello(s);
    sleep_ms(1200); /* never answers */
}

static void test_connect_timeout(void) {
    fake f;
    START(f, srv_silent, 1);
    int64_t t0 = mono_ms();
    pgstate_client *c = pgstate_connect(f.path, 200);
    int64_t dt = mono_ms() - t0;
    CHECK(c != NULL);
    CHECK(pgstate_status(c) == PGSTATE_ERR_TIMEOUT);
    CHECKF(dt >= 150 && dt < 3000, "timed out after %lld ms", (long long)dt);
    CHECKF(contains(pgstate_errmsg(c), "timed out") && contains(pgstate_errmsg(c), f.path), "%s",
           pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_ERR_UNAVAILABLE);
    pgstate_free(c);
    FINISH(f);
}

static void srv_handshake_failures(srv *s, int i) {
    uint32_t rid;
    pgs_limits l;
    pgs_limits_default(&l);
    switch (i) {
    case 0:
        rid = srv_read_hello(s);
        srv_error(s, rid, 104, "no common protocol version; server speaks: 2");
        break;
    case 1:
        srv_error(s, 0, 201, "too many connections"); /* before even reading HELLO */
        break;
    case 2:
        rid = srv_read_hello(s);
        srv_not_found(s, rid);
        break;
    case 3:
        rid = srv_read_hello(s);
        pgs_encode_hello_ok(&s->out, rid + 1, 1, "x", 1, &l);
        srv_flush(s);
        break;
    case 4:
        srv_read_hello(s);
        break; /* close without answering */
    case 5:
        rid = srv_read_hello(s);
        pgs_encode_hello_ok(&s->out, rid, 2, "x", 1, &l);
        srv_flush(s);
        break;
    default:
        break;
    }
}

static void test_handshake_failures(void) {
    fake f;
    START(f, srv_handshake_failures, 6);
    struct {
        int status;
        int server_status;
        const char *text;
    } want[6] = {
        {PGSTATE_ERR_PROTOCOL, 104, "UNSUPPORTED_VERSION"},
        {PGSTATE_ERR_UNAVAILABLE, 201, "too many connections"},
        {PGSTATE_ERR_PROTOCOL, 0, "NOT_FOUND"},
        {PGSTATE_ERR_PROTOCOL, 0, "HELLO_OK"},
        {PGSTATE_ERR_UNAVAILABLE, 0, "handshake"},
        {PGSTATE_ERR_PROTOCOL, 0, "version 2"},
    };
    for (int i = 0; i < 6; i++) {
        pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
        CHECK(c != NULL);
        CHECKF(pgstate_status(c) == want[i].status, "case %d: %s: %s", i, pgstate_status_name(pgstate_status(c)),
               pgstate_errmsg(c));
        CHECKF(pgstate_server_status(c) == want[i].server_status, "case %d: server status %d", i,
               pgstate_server_status(c));
        CHECKF(contains(pgstate_errmsg(c), want[i].text), "case %d: %s", i, pgstate_errmsg(c));
        CHECK(!pgstate_is_connected(c));
        CHECK(pgstate_max_state_bytes(c) == 0);
        pgstate_free(c);
    }
    FINISH(f);
}

/* The server's id-0 ERROR, then a close, and only then the client's write
   (PROTOCOL.md 12.4, last paragraph): the write fails with EPIPE, the answer is
   in the client's receive buffer. */
static void srv_closed_before_write(srv *s, int i) {
    if (i == 0) {
        srv_error(s, 0, 201, "too many connections (limit 2)"); /* at accept, HELLO not read */
    } else {
        srv_handshake(s, NULL);
        srv_wait_go(); /* the client has its HELLO_OK: the notice does not end the handshake */
        srv_error(s, 0, 202, "server is shutting down"); /* the final notice; the grace period is over */
    }
    srv_close(s);
}

static void test_refused_before_write(void) {
    int gate[2], go[2];
    CHECK(pipe(gate) == 0 && pipe(go) == 0);
    g_gate_signal = gate[1];
    g_go_wait = go[0];
    g_go_signal = go[1];
    fake f;
    START(f, srv_closed_before_write, 3);
    close(gate[1]); /* the fake server's now: a gate it never opens reads EOF when it exits */
    close(go[0]);

    /* 0: refused at accept, HELLO written after the close: the server's reason, not a lost connection */
    g_gated_errno = -1;
    g_send_gate = gate[0];
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(g_gated_errno == EPIPE || g_gated_errno == ECONNRESET, "HELLO's write: %d (not after the close)",
           g_gated_errno);
    CHECKF(pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE, "%s: %s", pgstate_status_name(pgstate_status(c)),
           pgstate_errmsg(c));
    CHECKF(pgstate_server_status(c) == 201, "server status %d: %s", pgstate_server_status(c), pgstate_errmsg(c));
    CHECKF(contains(pgstate_errmsg(c), "OVERLOADED") && contains(pgstate_errmsg(c), "too many connections (limit 2)"),
           "%s", pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));

    /* 1: a blocking request written after the final notice and the close: not executed, retryable */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    test_go();
    g_gated_errno = -1;
    g_send_gate = gate[0];
    int rc = pgstate_upsert(c, "k", 1, 0, "v", 1, NULL);
    CHECKF(g_gated_errno == EPIPE || g_gated_errno == ECONNRESET, "UPSERT's write: %d", g_gated_errno);
    CHECKF(rc == PGSTATE_ERR_UNAVAILABLE, "%s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    CHECKF(pgstate_server_status(c) == 202, "server status %d: %s", pgstate_server_status(c), pgstate_errmsg(c));
    CHECKF(contains(pgstate_errmsg(c), "shutting down") && contains(pgstate_errmsg(c), "not executed"), "%s",
           pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));

    /* 2: pipelined requests flushed in non-blocking mode after the close: each is answered by the notice */
    rc = pgstate_reconnect(c);
    CHECKF(rc == PGSTATE_OK, "%s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    CHECK(pgstate_set_nonblocking(c, 1) == PGSTATE_OK);
    uint32_t u = pgstate_send_upsert(c, "k", 1, 0, "v", 1);
    uint32_t l = pgstate_send_load(c, "k", 1);
    CHECK(u != 0 && l != 0);
    test_go();
    g_gated_errno = -1;
    g_send_gate = gate[0];
    rc = pgstate_flush(c);
    CHECKF(g_gated_errno == EPIPE || g_gated_errno == ECONNRESET, "flush's write: %d", g_gated_errno);
    CHECKF(rc == PGSTATE_ERR_UNAVAILABLE, "%s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    CHECKF(contains(pgstate_errmsg(c), "shutting down"), "%s", pgstate_errmsg(c));
    for (int k = 0; k < 2; k++) {
        pgstate_reply *r = pgstate_next_reply(c);
        CHECK(r != NULL && (r->request_id == (k == 0 ? u : l)));
        CHECKF(r && r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 202, "%s %d: %s",
               r ? pgstate_status_name(r->status) : "-", r ? r->server_status : -1, r ? r->message : "");
        CHECKF(r && contains(r->message, "not executed"), "%s", r ? r->message : "");
        pgstate_reply_free(r);
    }
    CHECK(pgstate_next_reply(c) == NULL);
    pgstate_free(c);
    g_send_gate = -1;
    close(gate[0]);
    close(go[1]);
    FINISH(f);
}

/* Bad responses, one per connection. */
static void srv_bad_responses(srv *s, int i) {
    pgs_limits l;
    small_limits(&l);
    srv_handshake(s, &l);
    pgs_msg m;
    uint8_t t = (i == 2 || i == 7 || i == 8 || i == 9) ? PGS_T_UPSERT : (i == 3 ? PGS_T_DELETE : PGS_T_LOAD);
    if (!srv_expect(s, t, &m)) return;
    uint32_t rid = m.request_id;
    switch (i) {
    case 0: { /* RECORD with a trailing byte */
        pgs_encode_record(&s->out, rid, 1, 0, "x", 1);
        uint8_t fr[64];
        memcpy(fr, s->out.data, s->out.len);
        fr[3] += 1;
        fr[s->out.len] = 0;
        srv_raw(s, fr, s->out.len + 1);
        s->out.len = 0;
        break;
    }
    case 1: srv_not_found(s, rid + 100); break;       /* id not in flight */
    case 2: srv_not_found(s, rid); break;             /* NOT_FOUND to UPSERT */
    case 3: srv_conflict(s, rid, 0, 1); break;        /* CONFLICT to unconditional DELETE */
    case 4: {                                         /* over the announced max_frame_bytes */
        uint8_t hdr[4] = {0x00, 0x10, 0x00, 0x00};
        srv_raw(s, hdr, 4);
        break;
    }
    case 5: { /* unknown response type 0x90 */
        uint8_t fr[10] = {0, 0, 0, 6, 0x90, 0, 0, 0, 0, 0};
        fr[6] = (uint8_t)(rid >> 24); fr[7] = (uint8_t)(rid >> 16); fr[8] = (uint8_t)(rid >> 8); fr[9] = (uint8_t)rid;
        srv_raw(s, fr, 10);
        break;
    }
    case 6: { /* NOT_FOUND with a flag set */
        uint8_t fr[10] = {0, 0, 0, 6, PGS_T_NOT_FOUND, 1, 0, 0, 0, 0};
        fr[6] = (uint8_t)(rid >> 24); fr[7] = (uint8_t)(rid >> 16); fr[8] = (uint8_t)(rid >> 8); fr[9] = (uint8_t)rid;
        srv_raw(s, fr, 10);
        break;
    }
    case 7: srv_record(s, rid, 5, 0, "", 0); break;   /* UPSERT expected 0 answered with revision 5 */
    case 8: srv_conflict(s, rid, 3, 4); break;        /* CONFLICT not matching the request's expected 2 */
    case 9: {                                         /* pipelined: UPSERT + LOAD, LOAD answered by HELLO_OK */
        pgs_msg m2;
        if (srv_expect(s, PGS_T_LOAD, &m2)) {
            pgs_encode_hello_ok(&s->out, m2.request_id, 1, "x", 1, &l);
            srv_flush(s);
        }
        break;
    }
    case 10: srv_record(s, rid, 1, 0, "0123456789abcdefg", 17); break; /* state over max_state_bytes */
    default: break;
    }
    srv_expect_eof(s); /* the client closes after a protocol error */
}

static void test_bad_responses(void) {
    fake f;
    START(f, srv_bad_responses, 11);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    for (int i = 0; i < 11; i++) {
        if (i > 0) CHECK(pgstate_reconnect(c) == PGSTATE_OK);
        CHECKF(pgstate_is_connected(c), "case %d: %s", i, pgstate_errmsg(c));
        int rc;
        if (i == 2 || i == 7) {
            rc = pgstate_upsert(c, "k", 1, 0, "v", 1, NULL);
        } else if (i == 8) {
            rc = pgstate_upsert(c, "k", 1, 2, "v", 1, NULL);
        } else if (i == 3) {
            rc = pgstate_delete(c, "k", 1);
        } else if (i == 9) {
            uint32_t u = pgstate_send_upsert(c, "k", 1, 0, "v", 1);
            uint32_t l = pgstate_send_load(c, "k", 1);
            CHECK(u && l);
            pgstate_reply *r = NULL;
            rc = PGSTATE_ERR_PROTOCOL;
            for (int k = 0; k < 2; k++) {
                CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
                if (r && r->status != PGSTATE_ERR_PROTOCOL) rc = r->status;
                pgstate_reply_free(r);
            }
        } else {
            rc = pgstate_load(c, "k", 1, NULL);
        }
        CHECKF(rc == PGSTATE_ERR_PROTOCOL, "case %d: %s: %s", i, pgstate_status_name(rc), pgstate_errmsg(c));
        CHECKF(i == 9 || contains(pgstate_errmsg(c), "protocol error"), "case %d: %s", i, pgstate_errmsg(c));
        CHECK(!pgstate_is_connected(c));
    }
    pgstate_free(c);
    FINISH(f);
}

static void srv_arg_checks(srv *s, int i) {
    (void)i;
    pgs_limits l;
    small_limits(&l);
    l.max_id_bytes = 10;
    l.capabilities = 0;
    srv_handshake(s, &l);
    pgs_msg m;
    /* the first request to arrive must be the PING: nothing invalid was sent */
    srv_answer_ok(s, PGS_T_PING);
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.id_len == 10 && m.state_len == 16);
        srv_record(s, m.request_id, 1, 0, m.state, m.state_len);
    }
    srv_expect_eof(s);
}

static void test_argument_checks(void) {
    fake f;
    START(f, srv_arg_checks, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    const char *state17 = "0123456789abcdefg";
    struct {
        int rc;
        const char *what;
    } cases[16];
    int n = 0;
#define ARG_CASE(expr, text) do { cases[n].rc = (expr); cases[n].what = (text); n++; } while (0)
    ARG_CASE(pgstate_load(c, "", 0, NULL), "empty");
    ARG_CASE(pgstate_load(c, "0123456789x", 11, NULL), "maximum is 10");
    ARG_CASE(pgstate_load(c, "a\nb", 3, NULL), "control character");
    ARG_CASE(pgstate_load(c, "a\x7f", 2, NULL), "control character");
    ARG_CASE(pgstate_load(c, "a\0b", 3, NULL), "control character");
    ARG_CASE(pgstate_load(c, "\xc3\x28", 2, NULL), "UTF-8");
    ARG_CASE(pgstate_load(c, "\xed\xa0\x80", 3, NULL), "UTF-8");
    ARG_CASE(pgstate_load(c, NULL, 3, NULL), "NULL");
    ARG_CASE(pgstate_upsert(c, "k", 1, UINT64_C(0x7fffffffffffffff), "", 0, NULL), "out of range");
    ARG_CASE(pgstate_upsert(c, "k", 1, UINT64_MAX, "", 0, NULL), "out of range");
    ARG_CASE(pgstate_upsert(c, "k", 1, 0, state17, 17, NULL), "at most 16");
    ARG_CASE(pgstate_upsert(c, "k", 1, 0, NULL, 5, NULL), "NULL");
    ARG_CASE(pgstate_delete_if(c, "k", 1, 1), "CONDITIONAL_DELETE");
    ARG_CASE(pgstate_delete(c, "", 0), "empty");
    ARG_CASE((int)pgstate_send_load(c, "", 0) == 0 ? pgstate_status(c) : 0, "empty");
    ARG_CASE((int)pgstate_send_upsert(c, "k", 1, 0, state17, 17) == 0 ? pgstate_status(c) : 0, "at most 16");
#undef ARG_CASE
    for (int k = 0; k < n; k++) {
        CHECKF(cases[k].rc == PGSTATE_ERR_INVALID_ARGUMENT, "case %d: %s", k, pgstate_status_name(cases[k].rc));
    }
    /* messages (checked on fresh calls, since errmsg is per call) */
    for (int k = 0; k < n; k++) (void)cases[k].what;
    CHECK(pgstate_load(c, "0123456789x", 11, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "maximum is 10"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_upsert(c, "k", 1, 0, state17, 17, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "at most 16"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_delete_if(c, "k", 1, 1) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "CONDITIONAL_DELETE"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_server_status(c) == 0);
    CHECK(pgstate_pending(c) == 0);
    CHECK(pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_upsert(c, "0123456789", 10, 0, state17, 16, NULL) == PGSTATE_OK); /* limits are inclusive */
    pgstate_free(c);
    FINISH(f);
}

static void srv_interleave(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    pgs_msg m;
    uint32_t a = 0, p = 0;
    if (srv_expect(s, PGS_T_LOAD, &m)) a = m.request_id;
    if (srv_expect(s, PGS_T_PING, &m)) p = m.request_id;
    srv_not_found(s, a); /* the pipelined reply arrives while the blocking call waits */
    srv_ok(s, p);
    srv_expect_eof(s);
}

static void test_blocking_and_pipelined(void) {
    fake f;
    START(f, srv_interleave, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    uint32_t a = pgstate_send_load(c, "p1", 2);
    CHECK(a != 0);
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_pending(c) == 1);
    pgstate_reply *r = NULL;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == a && r->kind == PGSTATE_REPLY_NOT_FOUND);
    pgstate_reply_free(r);
    pgstate_free(c);
    FINISH(f);
}

#define BIG ((size_t)4 * 1024 * 1024 + 7)
#define MID ((size_t)1024 * 1024)

static uint8_t pattern(size_t i, unsigned seed) {
    return (uint8_t)((i * 131u + seed) ^ (i >> 9));
}

static void srv_large(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    pgs_msg m;
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        int ok = m.state_len == BIG;
        for (size_t k = 0; ok && k < BIG; k++) ok = m.state[k] == pattern(k, 1);
        SCHECK(ok);
        srv_record(s, m.request_id, 1, 0, m.state, m.state_len);
    }
    /* pipelined big writes answered at once with big records: both sides write
       megabytes at the same time, which deadlocks a client that does not read
       while it writes */
    for (int k = 0; k < 3; k++) {
        if (!srv_expect(s, PGS_T_UPSERT, &m)) return;
        int ok = m.state_len == MID;
        for (size_t j = 0; ok && j < MID; j++) ok = m.state[j] == pattern(j, (unsigned)k + 2);
        SCHECK(ok);
        srv_record(s, m.request_id, m.expected_revision + 1, k, m.state, m.state_len);
    }
    srv_expect_eof(s);
}

static void test_large_states(void) {
    fake f;
    START(f, srv_large, 1);
    pgstate_client *c = pgstate_connect(f.path, 20000);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    uint8_t *big = malloc(BIG);
    for (size_t k = 0; k < BIG; k++) big[k] = pattern(k, 1);
    pgstate_record *r = NULL;
    CHECK(pgstate_upsert(c, "big", 3, 0, big, BIG, &r) == PGSTATE_OK);
    CHECK(r && r->state_len == BIG && memcmp(r->state, big, BIG) == 0);
    pgstate_record_free(r);
    free(big);

    uint8_t *mids[3];
    uint32_t ids[3];
    for (int k = 0; k < 3; k++) {
        mids[k] = malloc(MID);
        for (size_t j = 0; j < MID; j++) mids[k][j] = pattern(j, (unsigned)k + 2);
        ids[k] = pgstate_send_upsert(c, "mid", 3, (uint64_t)k, mids[k], MID);
        CHECK(ids[k] != 0);
    }
    for (int k = 0; k < 3; k++) {
        pgstate_reply *rep = NULL;
        CHECK(pgstate_read_reply(c, &rep) == PGSTATE_OK);
        CHECK(rep && rep->kind == PGSTATE_REPLY_RECORD && rep->request_id == ids[k]); /* same id: in order */
        if (rep && rep->record) {
            CHECK(rep->record->revision == (uint64_t)k + 1);
            CHECK(rep->record->state_len == MID && memcmp(rep->record->state, mids[k], MID) == 0);
        }
        pgstate_reply_free(rep);
        free(mids[k]);
    }
    pgstate_free(c);
    FINISH(f);
}

static void srv_env(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    srv_answer_ok(s, PGS_T_PING);
    srv_expect_eof(s);
}

static void test_socket_from_env(void) {
    fake f;
    START(f, srv_env, 2);
    setenv("PGSTATE_SOCKET", f.path, 1);
    pgstate_client *c = pgstate_connect(NULL, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);
    c = pgstate_connect("", TIMEOUT_MS); /* "" also means: from the environment */
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);
    unsetenv("PGSTATE_SOCKET");
    FINISH(f);
}

static void test_missing_socket(void) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/pgstate-c-test-missing-%ld/pgstated.sock", (long)getpid());
    pgstate_client *c = pgstate_connect(path, TIMEOUT_MS);
    CHECK(c != NULL);
    CHECK(pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), path), "%s", pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), path), "%s", pgstate_errmsg(c));
    CHECK(pgstate_send_load(c, "k", 1) == 0 && pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);
    pgstate_free(c);

    setenv("PGSTATE_SOCKET", path, 1);
    c = pgstate_connect(NULL, TIMEOUT_MS);
    CHECK(pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), path), "%s", pgstate_errmsg(c));
    pgstate_free(c);
    unsetenv("PGSTATE_SOCKET");

    c = pgstate_connect(NULL, 1000);
    if (pgstate_status(c) != PGSTATE_OK) {
        CHECKF(contains(pgstate_errmsg(c), PGSTATE_DEFAULT_SOCKET), "%s", pgstate_errmsg(c));
    }
    pgstate_free(c);

    /* a path too long for sockaddr_un */
    char longpath[300];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    c = pgstate_connect(longpath, 1000);
    CHECK(pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT);
    pgstate_free(c);
}

static void test_connection_refused(void) {
    char dir[64] = "/tmp/pgstate-c-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/stale.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1); /* < 64 bytes */
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    close(fd); /* a socket file nobody listens on */
    pgstate_client *c = pgstate_connect(path, TIMEOUT_MS);
    CHECK(pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECKF(contains(pgstate_errmsg(c), "refused") && contains(pgstate_errmsg(c), path), "%s", pgstate_errmsg(c));
    pgstate_free(c);
    unlink(path);
    rmdir(dir);
}

static void test_misc_api(void) {
    pgstate_free(NULL);
    pgstate_record_free(NULL);
    pgstate_reply_free(NULL);
    CHECK(strcmp(pgstate_status_name(PGSTATE_OK), "PGSTATE_OK") == 0);
    CHECK(strcmp(pgstate_status_name(PGSTATE_CONFLICT), "PGSTATE_CONFLICT") == 0);
    CHECK(strcmp(pgstate_status_name(PGSTATE_ERR_OUTCOME_UNKNOWN), "PGSTATE_ERR_OUTCOME_UNKNOWN") == 0);
    CHECK(strcmp(pgstate_status_name(PGSTATE_ERR_IO), "PGSTATE_ERR_IO") == 0);
    CHECK(strcmp(pgstate_status_name(12345), "PGSTATE_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(pgstate_status_name(PGSTATE_ERR_PERMISSION_DENIED), "PGSTATE_ERR_PERMISSION_DENIED") == 0);
    for (int s = PGSTATE_ERR_PERMISSION_DENIED; s <= PGSTATE_CONFLICT; s++) {
        CHECK(strcmp(pgstate_status_name(s), "PGSTATE_UNKNOWN_STATUS") != 0);
    }
    CHECK(pgstate_errmsg(NULL) != NULL);
    CHECK(pgstate_server_status(NULL) == 0);
    CHECK(pgstate_pending(NULL) == 0);
    CHECK(PGSTATE_VERSION_MAJOR == 0 && PGSTATE_VERSION_MINOR == 5 && PGSTATE_VERSION_PATCH == 0);
    CHECK(PGSTATE_VERSION_NUMBER == 0x000500);
    CHECK(strcmp(pgstate_status_name(PGSTATE_ERR_WOULD_BLOCK), "PGSTATE_ERR_WOULD_BLOCK") == 0);
    CHECK(pgstate_fd(NULL) == -1 && pgstate_next_reply(NULL) == NULL);
    CHECK(pgstate_consume(NULL) == PGSTATE_ERR_INVALID_ARGUMENT && pgstate_outcome(NULL) < 0);
    pgstate_identity_free(NULL);
    pgstate_identity *who = (pgstate_identity *)1;
    CHECK(pgstate_whoami(NULL, &who) == PGSTATE_ERR_INVALID_ARGUMENT && who == NULL);
    CHECK(pgstate_send_whoami(NULL) == 0);
    CHECK(pgstate_set_namespace(NULL, "x") == PGSTATE_ERR_INVALID_ARGUMENT && pgstate_namespace(NULL) == NULL);
    /* the multi-key calls and their results with NULL */
    pgstate_record_list *records = (pgstate_record_list *)1;
    const char *ids[1] = {"a"};
    CHECK(pgstate_bulk_load(NULL, ids, NULL, 1, &records) == PGSTATE_ERR_INVALID_ARGUMENT && records == NULL);
    pgstate_item item = pgstate_item_delete("a", 1);
    pgstate_outcome_list *outcomes = (pgstate_outcome_list *)1;
    pgstate_conflict_list *conflicts = (pgstate_conflict_list *)1;
    CHECK(pgstate_bulk_write(NULL, &item, 1, &outcomes) == PGSTATE_ERR_INVALID_ARGUMENT && outcomes == NULL);
    outcomes = (pgstate_outcome_list *)1;
    CHECK(pgstate_transact(NULL, &item, 1, &outcomes, &conflicts) == PGSTATE_ERR_INVALID_ARGUMENT && outcomes == NULL &&
          conflicts == NULL);
    pgstate_page *page = (pgstate_page *)1;
    CHECK(pgstate_list(NULL, "", 0, NULL, 0, 10, &page) == PGSTATE_ERR_INVALID_ARGUMENT && page == NULL);
    pgstate_record *rec = (pgstate_record *)1;
    CHECK(pgstate_upsert_ttl(NULL, "a", 1, 0, "", 0, 60, &rec) == PGSTATE_ERR_INVALID_ARGUMENT && rec == NULL);
    CHECK(pgstate_send_bulk_load(NULL, ids, NULL, 1) == 0 && pgstate_send_bulk_write(NULL, &item, 1) == 0 &&
          pgstate_send_transact(NULL, &item, 1) == 0 && pgstate_send_list(NULL, "", 0, NULL, 0, 1) == 0 &&
          pgstate_send_upsert_ttl(NULL, "a", 1, 0, "", 0, 60) == 0);
    CHECK(pgstate_max_batch_items(NULL) == 0 && pgstate_max_batch_bytes(NULL) == 0);
    pgstate_record_list_free(NULL);
    pgstate_outcome_list_free(NULL);
    pgstate_conflict_list_free(NULL);
    pgstate_page_free(NULL);
}


/* ------------------------------------------------------------------------- */
/* Decisions of PROTOCOL.md section 12 through the library                   */
/* ------------------------------------------------------------------------- */

static void srv_hello_ok_limits(srv *s, int i) {
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_id_bytes = i == 0 ? 0 : i == 1 ? 256 : 1;
    uint32_t rid = srv_read_hello(s);
    pgs_encode_hello_ok(&s->out, rid, 1, "x", 1, &l);
    srv_flush(s);
    if (i == 2) { /* max_id_bytes 1 is usable: a 1-byte id goes out, a 2-byte one does not */
        pgs_msg m;
        s->lim = l;
        if (srv_expect(s, PGS_T_LOAD, &m)) {
            SCHECK(m.id_len == 1);
            srv_not_found(s, m.request_id);
        }
    }
    srv_expect_eof(s);
}

/* HELLO_OK announcing max_id_bytes 0 or 256 is a protocol error, never clamped. */
static void test_hello_ok_max_id_bytes(void) {
    fake f;
    START(f, srv_hello_ok_limits, 3);
    for (int i = 0; i < 2; i++) {
        pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
        CHECKF(pgstate_status(c) == PGSTATE_ERR_PROTOCOL, "case %d: %s", i, pgstate_errmsg(c));
        CHECKF(contains(pgstate_errmsg(c), "max_id_bytes"), "%s", pgstate_errmsg(c));
        CHECK(!pgstate_is_connected(c) && pgstate_max_id_bytes(c) == 0);
        pgstate_free(c);
    }
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_max_id_bytes(c) == 1);
    CHECK(pgstate_load(c, "ab", 2, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_load(c, "a", 1, NULL) == PGSTATE_NOT_FOUND);
    pgstate_free(c);
    FINISH(f);
}

static void srv_keep_drain_drop(srv *s, int i) {
    srv_handshake(s, NULL);
    if (i == 0) { /* 201 with a request id: the request was not executed, the connection stays */
        srv_answer_error(s, PGS_T_UPSERT, 201, "queue full");
        srv_answer_ok(s, PGS_T_PING);
    } else if (i == 1) { /* 105 with a request id: the server closes */
        srv_answer_error(s, PGS_T_LOAD, 105, "not allowed");
    } else { /* 101: the server stays */
        srv_answer_error(s, PGS_T_LOAD, 101, "unknown type");
        srv_answer_ok(s, PGS_T_PING);
    }
    srv_expect_eof(s);
}

static void test_keep_drain_drop(void) {
    fake f;
    START(f, srv_keep_drain_drop, 3);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_UNAVAILABLE);
    CHECK(pgstate_server_status(c) == 201 && pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_PROTOCOL);
    CHECK(pgstate_server_status(c) == 105 && !pgstate_is_connected(c));
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_PROTOCOL);
    CHECK(pgstate_server_status(c) == 101 && pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);
    FINISH(f);
}

/* After a timeout, pgstate_outcome says what the caller may assume. */
static void srv_timeout_outcomes(srv *s, int i) {
    (void)i;
    pgs_msg m;
    srv_handshake(s, NULL);
    uint32_t r1 = 0, r2 = 0;
    if (srv_expect(s, PGS_T_UPSERT, &m)) r1 = m.request_id;
    if (srv_expect(s, PGS_T_LOAD, &m)) r2 = m.request_id;
    sleep_ms(400);
    srv_record(s, r1, 1, 0, "v", 1); /* late answers, discarded */
    srv_not_found(s, r2);
    srv_answer_ok(s, PGS_T_PING);
    srv_expect_eof(s);
}

static void test_timeout_outcome(void) {
    fake f;
    START(f, srv_timeout_outcomes, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    pgstate_set_timeout(c, 100);
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_TIMEOUT);
    CHECK(pgstate_outcome(c) == PGSTATE_ERR_OUTCOME_UNKNOWN);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_TIMEOUT);
    CHECK(pgstate_outcome(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECK(pgstate_is_connected(c));
    pgstate_set_timeout(c, TIMEOUT_MS);
    CHECK(pgstate_ping(c) == PGSTATE_OK && pgstate_outcome(c) == PGSTATE_OK);
    pgstate_free(c);
    FINISH(f);
}

/* ------------------------------------------------------------------------- */
/* Requests in flight: sequential ids in a ring                               */
/* ------------------------------------------------------------------------- */

#define RING_REQUESTS 40

static void srv_ring(srv *s, int i) {
    (void)i;
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_in_flight = 4; /* a ring of 4 slots */
    srv_handshake(s, &l);
    pgs_msg m;
    uint32_t stuck = 0, prev = s->hello_rid;
    /* the first LOAD stays unanswered while RING_REQUESTS others go through */
    if (srv_expect(s, PGS_T_LOAD, &m)) {
        stuck = m.request_id;
        SCHECK(stuck == prev + 1); /* ids are sequential */
        prev = stuck;
    }
    for (int k = 0; k < RING_REQUESTS; k++) {
        if (!srv_expect(s, PGS_T_PING, &m)) return;
        /* sequential, skipping only the id whose slot the stuck request holds */
        uint32_t want = prev + 1;
        if ((want & 3u) == (stuck & 3u)) want++;
        if (m.request_id != want) fprintf(stderr, "  SERVER: id %u, expected %u\n", m.request_id, want);
        SCHECK(m.request_id == want && m.request_id != stuck);
        prev = m.request_id;
        srv_ok(s, m.request_id);
    }
    srv_not_found(s, stuck);
    srv_expect_eof(s);
}

static void test_ring_ids(void) {
    fake f;
    START(f, srv_ring, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    uint32_t stuck = pgstate_send_load(c, "stuck", 5);
    CHECK(stuck != 0 && pgstate_flush(c) == PGSTATE_OK);
    for (int k = 0; k < RING_REQUESTS; k++) CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_reply *r = NULL;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == stuck && r->kind == PGSTATE_REPLY_NOT_FOUND && strcmp(r->persistence_id, "stuck") == 0);
    pgstate_reply_free(r);
    pgstate_free(c);
    FINISH(f);
}

/* ------------------------------------------------------------------------- */
/* Event-loop use                                                             */
/* ------------------------------------------------------------------------- */

#define EV_STATE ((size_t)3 * 1024 * 1024)

static void srv_event_loop(srv *s, int i) {
    pgs_msg m;
    pgs_limits l;
    pgs_limits_default(&l);
    l.max_in_flight = 3;
    srv_handshake(s, &l);
    if (i == 0) {
        uint32_t rid[3];
        for (int k = 0; k < 3; k++) {
            if (!srv_expect(s, k == 2 ? PGS_T_UPSERT : PGS_T_LOAD, &m)) return;
            rid[k] = m.request_id;
        }
        srv_record(s, rid[2], 1, 7, "x", 1); /* out of order */
        srv_not_found(s, rid[0]);
        sleep_ms(100);
        srv_not_found(s, rid[1]);
        /* then a big upsert while the server does not read: the client's flush reports output left */
        sleep_ms(300);
        if (srv_expect(s, PGS_T_UPSERT, &m)) {
            SCHECK(m.state_len == EV_STATE);
            srv_record(s, m.request_id, 1, 0, "", 0);
        }
        srv_expect_eof(s);
    } else if (i == 1) {
        if (srv_expect(s, PGS_T_LOAD, &m)) srv_error(s, 0, 201, "going away"); /* the connection ends */
    } else { /* draining: 202 to the first, an answer to the second, then the final notice */
        uint32_t r1 = 0, r2 = 0;
        if (srv_expect(s, PGS_T_LOAD, &m)) r1 = m.request_id;
        if (srv_expect(s, PGS_T_LOAD, &m)) r2 = m.request_id;
        srv_error(s, r1, 202, "shutting down");
        sleep_ms(150);
        srv_not_found(s, r2);
        sleep_ms(150);
        srv_error(s, 0, 202, "shutting down");
        shutdown(s->fd, SHUT_WR);
        while (srv_next(s, &m) == 1) {
        }
    }
}

/* Waits (poll) until fd is readable; 1 if it became so within ms. */
static int wait_readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

static void test_event_loop_api(void) {
    fake f;
    START(f, srv_event_loop, 3);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_fd(c) >= 0);
    CHECK(!pgstate_is_nonblocking(c));
    CHECK(pgstate_set_nonblocking(c, 1) == PGSTATE_OK && pgstate_is_nonblocking(c));
    CHECK(pgstate_next_reply(c) == NULL);
    CHECK(pgstate_consume(c) == PGSTATE_OK && pgstate_next_reply(c) == NULL); /* nothing has arrived */

    uint32_t a = pgstate_send_load(c, "a", 1), b = pgstate_send_load(c, "b", 1);
    uint32_t u = pgstate_send_upsert(c, "u", 1, 0, "x", 1);
    CHECK(a && b && u);
    /* the window (3) is full: a non-blocking send fails at once and queues nothing */
    int64_t t0 = mono_ms();
    CHECK(pgstate_send_ping(c) == 0 && pgstate_status(c) == PGSTATE_ERR_WOULD_BLOCK);
    CHECK(mono_ms() - t0 < 50 && pgstate_pending(c) == 3);
    CHECK(pgstate_flush(c) == 0); /* small: all written */

    uint32_t seen[3];
    int n = 0;
    int64_t deadline = mono_ms() + 3000;
    while (n < 3 && mono_ms() < deadline) {
        if (!wait_readable(pgstate_fd(c), 1000)) continue;
        CHECK(pgstate_consume(c) == PGSTATE_OK);
        for (pgstate_reply *r = pgstate_next_reply(c); r != NULL; r = pgstate_next_reply(c)) {
            if (n < 3) seen[n++] = r->request_id;
            if (r->request_id == u) CHECK(r->kind == PGSTATE_REPLY_RECORD && r->record && r->record->revision == 1);
            else CHECK(r->kind == PGSTATE_REPLY_NOT_FOUND);
            pgstate_reply_free(r);
        }
    }
    CHECK(n == 3 && seen[0] == u && seen[1] == a && seen[2] == b);
    CHECK(pgstate_pending(c) == 0);

    /* output larger than the socket takes while the server does not read */
    uint8_t *big = calloc(1, EV_STATE);
    uint32_t bu = pgstate_send_upsert(c, "big", 3, 0, big, EV_STATE);
    free(big);
    CHECK(bu != 0);
    int fl = pgstate_flush(c);
    CHECKF(fl == 1, "flush returned %d", fl);
    int rounds = 0;
    deadline = mono_ms() + 5000;
    while (fl == 1 && mono_ms() < deadline) {
        struct pollfd p = {pgstate_fd(c), POLLOUT, 0};
        if (poll(&p, 1, 1000) == 1) fl = pgstate_flush(c);
        rounds++;
    }
    CHECK(fl == 0 && rounds > 0);
    pgstate_reply *r = NULL;
    while (r == NULL && mono_ms() < deadline) {
        if (wait_readable(pgstate_fd(c), 1000)) CHECK(pgstate_consume(c) == PGSTATE_OK);
        r = pgstate_next_reply(c);
    }
    CHECK(r && r->request_id == bu && r->kind == PGSTATE_REPLY_RECORD);
    pgstate_reply_free(r);

    /* the connection ends: the failed reply is waiting, the descriptor stays open until reconnect */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(pgstate_is_nonblocking(c)); /* a property of the handle */
    uint32_t l = pgstate_send_load(c, "l", 1);
    CHECK(l != 0 && pgstate_flush(c) == 0);
    int fd = pgstate_fd(c), rc = PGSTATE_OK;
    deadline = mono_ms() + 3000;
    while (rc == PGSTATE_OK && mono_ms() < deadline) {
        if (wait_readable(fd, 1000)) rc = pgstate_consume(c);
    }
    CHECK(rc == PGSTATE_ERR_UNAVAILABLE && !pgstate_is_connected(c));
    CHECK(pgstate_fd(c) == fd); /* still open, so an event loop can unregister it */
    r = pgstate_next_reply(c);
    CHECK(r && r->request_id == l && r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 201);
    pgstate_reply_free(r);
    CHECK(pgstate_next_reply(c) == NULL);
    CHECK(pgstate_consume(c) == PGSTATE_ERR_UNAVAILABLE);
    CHECK(pgstate_flush(c) == PGSTATE_OK); /* nothing to write */
    CHECK(pgstate_send_ping(c) == 0 && pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE);

    /* draining: not connected for new requests, but consume keeps delivering answers until the end */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    uint32_t d1 = pgstate_send_load(c, "d1", 2), d2 = pgstate_send_load(c, "d2", 2);
    CHECK(d1 && d2 && pgstate_flush(c) == 0);
    int got = 0, drained_ok = 0;
    rc = PGSTATE_OK;
    deadline = mono_ms() + 3000;
    while (rc == PGSTATE_OK && mono_ms() < deadline) {
        if (!wait_readable(pgstate_fd(c), 1000)) continue;
        rc = pgstate_consume(c);
        if (rc == PGSTATE_OK && !pgstate_is_connected(c)) drained_ok = 1;
        for (r = pgstate_next_reply(c); r != NULL; r = pgstate_next_reply(c)) {
            if (r->request_id == d1) CHECK(r->status == PGSTATE_ERR_UNAVAILABLE && r->server_status == 202);
            if (r->request_id == d2) CHECK(r->status == PGSTATE_NOT_FOUND);
            got++;
            pgstate_reply_free(r);
        }
    }
    CHECK(drained_ok && got == 2 && rc == PGSTATE_ERR_UNAVAILABLE);
    pgstate_free(c);
    FINISH(f);
}

/* ------------------------------------------------------------------------- */
/* Identity and namespaces                                                    */
/* ------------------------------------------------------------------------- */

static pgs_msg identity_msg(uint32_t uid, const char *user, const char *ns, uint8_t permissions, const char *rule) {
    pgs_msg w;
    memset(&w, 0, sizeof w);
    w.uid = uid;
    w.gid = uid;
    w.pid = 4242;
    w.user = user;
    w.user_len = strlen(user);
    w.ns = ns;
    w.ns_len = strlen(ns);
    w.permissions = permissions;
    w.rule = rule;
    w.rule_len = strlen(rule);
    return w;
}

static void srv_whoami_ok(srv *s, uint32_t rid, const pgs_msg *who) {
    pgs_encode_whoami_ok(&s->out, rid, who);
    srv_flush(s);
}

static void srv_whoami(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL); /* the defaults announce IDENTITY */
    pgs_msg billing = identity_msg(1001, "billing", "billing", 0xF3, "/etc/pgstated/access.conf:2");
    pgs_msg root = identity_msg(0, "root", "", 0x0F, "");
    pgs_msg m;
    for (int k = 0; k < 2; k++) { /* blocking, with and without out */
        if (srv_expect(s, PGS_T_WHOAMI, &m)) {
            SCHECK(m.flags == 0 && s->body_len == PGS_HEADER_BYTES); /* empty payload */
            srv_whoami_ok(s, m.request_id, &billing);
        }
    }
    uint32_t w = 0, l = 0; /* pipelined next to a LOAD, answered in reverse */
    if (srv_expect(s, PGS_T_WHOAMI, &m)) w = m.request_id;
    if (srv_expect(s, PGS_T_LOAD, &m)) l = m.request_id;
    srv_not_found(s, l);
    srv_whoami_ok(s, w, &billing);
    if (srv_expect(s, PGS_T_WHOAMI, &m)) srv_whoami_ok(s, m.request_id, &root); /* from the event loop */
    srv_expect_eof(s);
}

static void test_whoami(void) {
    fake f;
    START(f, srv_whoami, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_capabilities(c) & PGSTATE_CAP_IDENTITY);
    pgstate_identity *who = (pgstate_identity *)1;
    CHECKF(pgstate_whoami(c, &who) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(who != NULL);
    if (who) {
        CHECK(who->uid == 1001 && who->gid == 1001 && who->pid == 4242);
        CHECK(strcmp(who->user, "billing") == 0 && who->user_len == 7);
        CHECK(strcmp(who->ns, "billing") == 0 && who->ns_len == 7);
        /* 0xF3 on the wire: the reserved bits are ignored */
        CHECKF(who->permissions == (PGSTATE_PERM_READ | PGSTATE_PERM_WRITE), "permissions 0x%x", who->permissions);
        CHECK(strcmp(who->rule, "/etc/pgstated/access.conf:2") == 0 && who->rule_len == 27);
    }
    pgstate_identity_free(who);
    CHECK(pgstate_whoami(c, NULL) == PGSTATE_OK);

    uint32_t w = pgstate_send_whoami(c), l = pgstate_send_load(c, "k", 1);
    CHECK(w && l && w != l);
    pgstate_reply *r = NULL;
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == l && r->kind == PGSTATE_REPLY_NOT_FOUND && r->identity == NULL);
    pgstate_reply_free(r);
    CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == w && r->op == PGSTATE_OP_WHOAMI && r->kind == PGSTATE_REPLY_IDENTITY);
    CHECK(r && r->status == PGSTATE_OK && r->record == NULL && strcmp(r->persistence_id, "") == 0);
    who = r ? r->identity : NULL; /* the caller may take it */
    if (r) r->identity = NULL;
    pgstate_reply_free(r);
    CHECK(who && who->uid == 1001 && strcmp(who->ns, "billing") == 0);
    pgstate_identity_free(who);

    /* the event-loop calls; the reply frees its identity */
    CHECK(pgstate_set_nonblocking(c, 1) == PGSTATE_OK);
    w = pgstate_send_whoami(c);
    CHECK(w != 0 && pgstate_flush(c) == 0);
    r = NULL;
    int64_t deadline = mono_ms() + 3000;
    while (r == NULL && mono_ms() < deadline) {
        if (wait_readable(pgstate_fd(c), 1000)) CHECK(pgstate_consume(c) == PGSTATE_OK);
        r = pgstate_next_reply(c);
    }
    CHECK(r && r->request_id == w && r->kind == PGSTATE_REPLY_IDENTITY && r->identity != NULL);
    if (r && r->identity) {
        CHECK(r->identity->uid == 0 && strcmp(r->identity->user, "root") == 0);
        CHECK(r->identity->ns_len == 0 && strcmp(r->identity->ns, "") == 0 && strcmp(r->identity->rule, "") == 0);
        CHECK(r->identity->permissions == (PGSTATE_PERM_READ | PGSTATE_PERM_WRITE | PGSTATE_PERM_ADMIN |
                                           PGSTATE_PERM_ANY_NAMESPACE));
    }
    pgstate_reply_free(r);
    pgstate_free(c);
    FINISH(f);
}

/* Payload bytes, written out by hand (not by the library's encoder). */
typedef struct bytes_out {
    uint8_t b[512];
    size_t n;
} bytes_out;

static void put_str8(bytes_out *o, const char *text) {
    size_t n = strlen(text);
    o->b[o->n++] = (uint8_t)n;
    memcpy(o->b + o->n, text, n);
    o->n += n;
}

static void put_be(bytes_out *o, uint64_t v, int nbytes) {
    for (int k = nbytes - 1; k >= 0; k--) o->b[o->n++] = (uint8_t)(v >> (8 * k));
}

/* What the client must send: type, flags, the payload after the request id. */
typedef struct wire_want {
    uint8_t type;
    uint8_t flags;
    bytes_out payload;
} wire_want;

#define NS63 "Tenant_0.9-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"

/* A keyed request: flags, [namespace], persistence id (ns NULL: no namespace). */
static bytes_out *want_keyed(wire_want *w, uint8_t type, uint8_t flags, const char *ns, const char *id) {
    w->type = type;
    w->flags = flags;
    if (ns != NULL) put_str8(&w->payload, ns);
    put_str8(&w->payload, id);
    return &w->payload;
}

/* The requests of test_namespace_on_the_wire, in order. */
static int namespaced_wants(wire_want *w) {
    int n = 0;
    memset(w, 0, 12 * sizeof *w);
    /* "billing": LOAD, UPSERT, DELETE, conditional DELETE carry flag 0x02 and the namespace first; PING and
       WHOAMI do not */
    want_keyed(&w[n++], PGS_T_LOAD, 0x02, "billing", "k");
    bytes_out *up = want_keyed(&w[n++], PGS_T_UPSERT, 0x02, "billing", "k");
    put_be(up, 0, 8);     /* expected_revision */
    put_be(up, 1, 4);     /* state length */
    up->b[up->n++] = 'v'; /* state */
    want_keyed(&w[n++], PGS_T_DELETE, 0x02, "billing", "k");
    put_be(want_keyed(&w[n++], PGS_T_DELETE, 0x03, "billing", "k"), 4, 8);
    w[n++].type = PGS_T_PING;
    w[n++].type = PGS_T_WHOAMI;
    want_keyed(&w[n++], PGS_T_LOAD, 0x02, "", "k");   /* the shared namespace, named: an empty str8 */
    want_keyed(&w[n++], PGS_T_LOAD, 0x02, NS63, "k"); /* the longest name */
    want_keyed(&w[n++], PGS_T_LOAD, 0x00, NULL, "k"); /* cleared: the connection's own namespace, no flag */
    want_keyed(&w[n++], PGS_T_DELETE, 0x02, "a.b_c-D9", "k"); /* pipelined */
    return n;
}

static void srv_namespaced(srv *s, int i) {
    (void)i;
    srv_handshake(s, NULL);
    wire_want want[12];
    int n = namespaced_wants(want);
    pgs_msg m;
    for (int k = 0; k < n; k++) {
        if (!srv_expect(s, want[k].type, &m)) return;
        const uint8_t *body = s->body;
        int same = s->body_len == PGS_HEADER_BYTES + want[k].payload.n && body[1] == want[k].flags &&
                   memcmp(body + PGS_HEADER_BYTES, want[k].payload.b, want[k].payload.n) == 0;
        if (!same) fprintf(stderr, "  SERVER: request %d: flags 0x%02x, %u bytes\n", k, body[1], s->body_len);
        SCHECK(same);
        switch (m.type) {
        case PGS_T_LOAD: srv_not_found(s, m.request_id); break;
        case PGS_T_UPSERT: srv_record(s, m.request_id, 1, 0, m.state, m.state_len); break;
        case PGS_T_WHOAMI: {
            pgs_msg who = identity_msg(1, "ops", "ops", 0x0F, "r");
            srv_whoami_ok(s, m.request_id, &who);
            break;
        }
        default: srv_ok(s, m.request_id); break;
        }
    }
    srv_expect_eof(s);
}

static void test_namespace_on_the_wire(void) {
    fake f;
    START(f, srv_namespaced, 1);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_namespace(c) == NULL);
    CHECK(pgstate_set_namespace(c, "billing") == PGSTATE_OK);
    CHECK(pgstate_namespace(c) && strcmp(pgstate_namespace(c), "billing") == 0);
    pgstate_record *r = NULL;
    CHECK(pgstate_load(c, "k", 1, &r) == PGSTATE_NOT_FOUND);
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, &r) == PGSTATE_OK);
    CHECK(r && strcmp(r->persistence_id, "k") == 0);
    pgstate_record_free(r);
    CHECK(pgstate_delete(c, "k", 1) == PGSTATE_OK);
    CHECK(pgstate_delete_if(c, "k", 1, 4) == PGSTATE_OK);
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_whoami(c, NULL) == PGSTATE_OK);

    /* refused by pgstate_set_namespace itself, which leaves the setting as it was */
    char ns64[65];
    memset(ns64, 'n', 64);
    ns64[64] = '\0';
    const char *bad[] = {ns64, "bill/ing", "bill ing", "b\xc3\xbcro", "tab\t"};
    const char *why[] = {"64 bytes", "0x2f", "0x20", "0xc3", "0x09"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECKF(pgstate_set_namespace(c, bad[k]) == PGSTATE_ERR_INVALID_ARGUMENT, "%s", bad[k]);
        CHECKF(contains(pgstate_errmsg(c), why[k]), "%s", pgstate_errmsg(c));
        CHECK(pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT);
        CHECK(strcmp(pgstate_namespace(c), "billing") == 0);
    }
    CHECK(pgstate_set_namespace(c, "") == PGSTATE_OK && strcmp(pgstate_namespace(c), "") == 0);
    CHECK(strcmp(pgstate_errmsg(c), "") == 0);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_NOT_FOUND);
    CHECK(pgstate_set_namespace(c, NS63) == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_NOT_FOUND);
    CHECK(pgstate_set_namespace(c, NULL) == PGSTATE_OK && pgstate_namespace(c) == NULL);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_NOT_FOUND);
    CHECK(pgstate_set_namespace(c, "a.b_c-D9") == PGSTATE_OK);
    uint32_t d = pgstate_send_delete(c, "k", 1);
    CHECK(d != 0);
    pgstate_reply *rep = NULL;
    CHECK(pgstate_read_reply(c, &rep) == PGSTATE_OK);
    CHECK(rep && rep->request_id == d && rep->kind == PGSTATE_REPLY_OK);
    pgstate_reply_free(rep);
    pgstate_free(c);
    FINISH(f);
}

static void srv_no_identity(srv *s, int i) {
    pgs_limits l;
    pgs_limits_default(&l);
    if (i == 1) l.capabilities = PGS_CAP_CONDITIONAL_DELETE; /* a server without IDENTITY */
    srv_handshake(s, &l);
    pgs_msg m;
    if (i == 0) {
        if (srv_expect(s, PGS_T_LOAD, &m)) {
            SCHECK(m.has_ns && m.ns_len == 7 && memcmp(m.ns, "billing", 7) == 0);
            srv_not_found(s, m.request_id);
        }
    } else {
        srv_answer_ok(s, PGS_T_PING); /* the first request: nothing refused was sent */
        if (srv_expect(s, PGS_T_LOAD, &m)) {
            SCHECK(!m.has_ns && m.flags == 0);
            srv_not_found(s, m.request_id);
        }
    }
    srv_expect_eof(s);
}

static void test_identity_needs_capability(void) {
    fake f;
    START(f, srv_no_identity, 2);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_set_namespace(c, "billing") == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_NOT_FOUND);
    /* the namespace is the handle's: it stays across the reconnect, to a server without IDENTITY */
    CHECK(pgstate_reconnect(c) == PGSTATE_OK);
    CHECK(!(pgstate_capabilities(c) & PGSTATE_CAP_IDENTITY));
    CHECK(strcmp(pgstate_namespace(c), "billing") == 0);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT); /* the request builder checks again */
    CHECKF(contains(pgstate_errmsg(c), "IDENTITY"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_delete_if(c, "k", 1, 1) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_send_delete(c, "k", 1) == 0 && pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT);
    pgstate_identity *who = (pgstate_identity *)1;
    CHECK(pgstate_whoami(c, &who) == PGSTATE_ERR_INVALID_ARGUMENT && who == NULL);
    CHECKF(contains(pgstate_errmsg(c), "IDENTITY") && contains(pgstate_errmsg(c), "WHOAMI"), "%s",
           pgstate_errmsg(c));
    CHECK(pgstate_send_whoami(c) == 0 && pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_set_namespace(c, "other") == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "IDENTITY"), "%s", pgstate_errmsg(c));
    CHECK(strcmp(pgstate_namespace(c), "billing") == 0);
    CHECK(pgstate_server_status(c) == 0 && pgstate_pending(c) == 0 && pgstate_is_connected(c));
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    CHECK(pgstate_set_namespace(c, NULL) == PGSTATE_OK); /* clearing needs nothing */
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_NOT_FOUND);
    pgstate_free(c);
    FINISH(f);

    /* a handle that never completed a handshake knows of no IDENTITY */
    char path[128];
    snprintf(path, sizeof path, "/tmp/pgstate-c-test-missing-%ld/pgstated.sock", (long)getpid());
    c = pgstate_connect(path, TIMEOUT_MS);
    CHECK(pgstate_set_namespace(c, "billing") == PGSTATE_ERR_INVALID_ARGUMENT && pgstate_namespace(c) == NULL);
    CHECKF(contains(pgstate_errmsg(c), "handshake"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_set_namespace(c, "bill/ing") == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "0x2f"), "%s", pgstate_errmsg(c)); /* the rule first */
    pgstate_free(c);
}

static void srv_permission_denied(srv *s, int i) {
    if (i == 1) { /* the access rules grant this peer nothing: ERROR 106 answering HELLO, then close */
        uint32_t rid = srv_read_hello(s);
        srv_error(s, rid, PGS_S_PERMISSION_DENIED, "uid 1002 is granted nothing by /etc/pgstated/access.conf");
        return;
    }
    srv_handshake(s, NULL);
    pgs_msg m;
    srv_answer_error(s, PGS_T_UPSERT, PGS_S_PERMISSION_DENIED, "uid 1001 may not write (access.conf:2 grants READ)");
    if (srv_expect(s, PGS_T_LOAD, &m)) {
        SCHECK(m.has_ns && m.ns_len == 5 && memcmp(m.ns, "other", 5) == 0);
        srv_error(s, m.request_id, PGS_S_PERMISSION_DENIED, "uid 1001 may not name namespace other");
    }
    srv_answer_error(s, PGS_T_DELETE, PGS_S_PERMISSION_DENIED, "uid 1001 may not write");
    srv_answer_ok(s, PGS_T_PING); /* the connection stayed */
    srv_expect_eof(s);
}

static void test_permission_denied(void) {
    fake f;
    START(f, srv_permission_denied, 2);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    /* a write refused: not executed, so not of unknown outcome */
    CHECK(pgstate_upsert(c, "k", 1, 0, "v", 1, NULL) == PGSTATE_ERR_PERMISSION_DENIED);
    CHECK(pgstate_outcome(c) == PGSTATE_ERR_PERMISSION_DENIED && pgstate_server_status(c) == 106);
    CHECKF(contains(pgstate_errmsg(c), "PERMISSION_DENIED") && contains(pgstate_errmsg(c), "may not write") &&
               contains(pgstate_errmsg(c), "nothing was executed"),
           "%s", pgstate_errmsg(c));
    CHECK(pgstate_is_connected(c));
    CHECK(pgstate_set_namespace(c, "other") == PGSTATE_OK);
    CHECK(pgstate_load(c, "k", 1, NULL) == PGSTATE_ERR_PERMISSION_DENIED && pgstate_is_connected(c));
    CHECK(pgstate_set_namespace(c, NULL) == PGSTATE_OK);
    uint32_t d = pgstate_send_delete(c, "k", 1);
    pgstate_reply *r = NULL;
    CHECK(d != 0 && pgstate_read_reply(c, &r) == PGSTATE_OK);
    CHECK(r && r->request_id == d && r->kind == PGSTATE_REPLY_ERROR && r->status == PGSTATE_ERR_PERMISSION_DENIED &&
          r->server_status == 106);
    CHECKF(r && contains(r->message, "may not write"), "%s", r ? r->message : "");
    pgstate_reply_free(r);
    CHECK(pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);

    /* answering HELLO: no connection */
    c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECK(c != NULL);
    CHECKF(pgstate_status(c) == PGSTATE_ERR_PERMISSION_DENIED, "%s: %s", pgstate_status_name(pgstate_status(c)),
           pgstate_errmsg(c));
    CHECK(pgstate_server_status(c) == 106 && !pgstate_is_connected(c) && pgstate_max_state_bytes(c) == 0);
    CHECKF(contains(pgstate_errmsg(c), "refused the handshake") && contains(pgstate_errmsg(c), "granted nothing") &&
               contains(pgstate_errmsg(c), f.path),
           "%s", pgstate_errmsg(c));
    CHECK(pgstate_ping(c) == PGSTATE_ERR_UNAVAILABLE);
    pgstate_free(c);
    FINISH(f);
}

/* ------------------------------------------------------------------------- */
/* The operators' calls                                                       */
/* ------------------------------------------------------------------------- */

static void srv_health_ok(srv *s, uint32_t rid, uint8_t state) {
    pgs_msg h;
    memset(&h, 0, sizeof h);
    h.health_state = state;
    h.pool_up = 3;
    h.pool_size = 4;
    h.clients = 2;
    h.uptime_ms = 93784567;
    pgs_encode_health_ok(&s->out, rid, &h);
    srv_flush(s);
}

#define TEXT(s) s, sizeof(s) - 1
static const pgs_stat_entry STATS_SENT[] = {
    {TEXT("pgstate_build_info"), TEXT("version=\"0.4.0\""), 1.0},
    {TEXT("pgstate_requests_total"), TEXT("namespace=\"b\xc3\xbcro\",op=\"load\",outcome=\"ok\""), 9007199254740992.0},
    {TEXT("some_future:figure_total"), TEXT(""), 0.000512}, /* a name this library does not know */
};
#undef TEXT

static pgs_client_row client_row(uint64_t id, const char *user, const char *ns, const char *name, uint8_t state) {
    pgs_client_row r;
    memset(&r, 0, sizeof r);
    r.connection_id = id;
    r.uid = 1000 + (uint32_t)id;
    r.pid = 4000 + (uint32_t)id;
    r.user = user;
    r.user_len = strlen(user);
    r.ns = ns;
    r.ns_len = strlen(ns);
    r.client_name = name;
    r.client_name_len = strlen(name);
    r.state = state;
    r.connected_ms = UINT64_C(1773480413589) + id;
    r.requests = id * 100;
    r.in_flight = (uint32_t)id % 3;
    return r;
}

/* Expects CLIENTS after `after` and answers one page. */
static void srv_clients_page(srv *s, uint64_t after, uint8_t more, const pgs_client_row *rows, size_t n) {
    pgs_msg m;
    if (!srv_expect(s, PGS_T_CLIENTS, &m)) return;
    if (m.after_connection != after) {
        fprintf(stderr, "  SERVER: CLIENTS after %llu, expected %llu\n", (unsigned long long)m.after_connection,
                (unsigned long long)after);
    }
    SCHECK(m.after_connection == after && m.flags == 0 && s->body_len == PGS_HEADER_BYTES + 8);
    pgs_encode_clients_ok(&s->out, m.request_id, more, rows, n);
    srv_flush(s);
}

/* Expects PAUSE with this timeout (or RESUME when resume) and answers OK. */
static void srv_pause(srv *s, int resume, uint32_t timeout_ms) {
    pgs_msg m;
    if (!srv_expect(s, resume ? PGS_T_RESUME : PGS_T_PAUSE, &m)) return;
    SCHECK(m.flags == 0 && s->body_len == PGS_HEADER_BYTES + (resume ? 0u : 4u));
    SCHECK(resume || m.timeout_ms == timeout_ms);
    srv_ok(s, m.request_id);
}

static void srv_operators(srv *s, int i) {
    pgs_msg m;
    if (i == 1) { /* a server without OPERATOR: nothing of the five arrives */
        pgs_limits l;
        pgs_limits_default(&l);
        l.capabilities = PGS_CAP_CONDITIONAL_DELETE | PGS_CAP_IDENTITY;
        srv_handshake(s, &l);
        srv_answer_ok(s, PGS_T_PING);
        srv_expect_eof(s);
        return;
    }
    srv_handshake(s, NULL); /* the defaults announce OPERATOR */
    /* blocking: HEALTH ready (with reserved bits), HEALTH paused */
    if (srv_expect(s, PGS_T_HEALTH, &m)) {
        SCHECK(m.flags == 0 && s->body_len == PGS_HEADER_BYTES);
        srv_health_ok(s, m.request_id, 0xF9);
    }
    if (srv_expect(s, PGS_T_HEALTH, &m)) srv_health_ok(s, m.request_id, 0x03);
    if (srv_expect(s, PGS_T_STATS, &m)) {
        SCHECK(m.flags == 0 && s->body_len == PGS_HEADER_BYTES);
        pgs_encode_stats_ok(&s->out, m.request_id, STATS_SENT, 3);
        srv_flush(s);
    }
    if (srv_expect(s, PGS_T_STATS, &m)) { /* out NULL: only the status */
        pgs_encode_stats_ok(&s->out, m.request_id, NULL, 0);
        srv_flush(s);
    }
    /* CLIENTS in three pages: after 0, after 9, after 12 (the last one empty) */
    pgs_client_row p1[2] = {client_row(7, "billing", "billing", "pgstate-py/0.3.0", 1), client_row(9, "", "", "", 0)};
    pgs_client_row p2[1] = {client_row(12, "j\xc3\xbcrgen", "team-7", "pgstate-c/0.4.0", 7)};
    srv_clients_page(s, 0, 1, p1, 2);
    srv_clients_page(s, 9, 1, p2, 1);
    srv_clients_page(s, 12, 0, NULL, 0);
    srv_clients_page(s, 0, 0, p2, 1); /* one page; out NULL */
    srv_pause(s, 0, 30000);
    srv_pause(s, 0, 0);
    srv_pause(s, 0, UINT32_MAX);
    srv_pause(s, 1, 0);
    /* without ADMIN: 106, nothing done, the connection stays; a refused page ends pgstate_clients */
    srv_answer_error(s, PGS_T_STATS, PGS_S_PERMISSION_DENIED, "uid 1001 may not ask for STATS (no ADMIN)");
    srv_clients_page(s, 0, 1, p1, 2);
    srv_answer_error(s, PGS_T_CLIENTS, PGS_S_PERMISSION_DENIED, "no ADMIN");
    srv_answer_error(s, PGS_T_PAUSE, PGS_S_PERMISSION_DENIED, "no ADMIN");
    srv_answer_error(s, PGS_T_RESUME, PGS_S_PERMISSION_DENIED, "no ADMIN");
    srv_answer_ok(s, PGS_T_PING);
    /* pipelined, answered in reverse order */
    uint32_t rid[5] = {0};
    const uint8_t types[5] = {PGS_T_HEALTH, PGS_T_STATS, PGS_T_CLIENTS, PGS_T_PAUSE, PGS_T_RESUME};
    for (int k = 0; k < 5; k++) {
        if (srv_expect(s, types[k], &m)) rid[k] = m.request_id;
        if (k == 2) SCHECK(m.after_connection == 5);
        if (k == 3) SCHECK(m.timeout_ms == 1000);
    }
    srv_ok(s, rid[4]);
    srv_ok(s, rid[3]);
    pgs_encode_clients_ok(&s->out, rid[2], 1, p1, 2);
    srv_flush(s);
    pgs_encode_stats_ok(&s->out, rid[1], STATS_SENT + 2, 1);
    srv_flush(s);
    srv_health_ok(s, rid[0], 0x00);
    /* a second page that does not follow the first: a protocol error, the connection dropped */
    pgs_client_row bad[1] = {client_row(3, "", "", "", 1)};
    srv_clients_page(s, 0, 1, p2, 1);
    srv_clients_page(s, 12, 0, bad, 1);
    srv_expect_eof(s);
}

static void check_row(const pgstate_client_row *r, const pgs_client_row *w) {
    CHECKF(r->connection_id == w->connection_id && r->uid == w->uid && r->pid == w->pid, "row %llu",
           (unsigned long long)r->connection_id);
    CHECK(r->user_len == w->user_len && strlen(r->user) == w->user_len && memcmp(r->user, w->user, w->user_len) == 0);
    CHECK(r->ns_len == w->ns_len && strlen(r->ns) == w->ns_len && memcmp(r->ns, w->ns, w->ns_len) == 0);
    CHECK(r->client_name_len == w->client_name_len && strlen(r->client_name) == w->client_name_len &&
          memcmp(r->client_name, w->client_name, w->client_name_len) == 0);
    CHECK(r->state == w->state && r->connected_ms == w->connected_ms && r->requests == w->requests &&
          r->in_flight == w->in_flight);
}

static void check_stats(const pgstate_stats_list *l, const pgs_stat_entry *want, size_t n) {
    CHECKF(l != NULL && l->count == n, "%zu entries, want %zu", l ? l->count : 0, n);
    for (size_t k = 0; l != NULL && k < n && k < l->count; k++) {
        const pgstate_stat *e = &l->entries[k];
        CHECKF(e->name_len == want[k].name_len && strcmp(e->name, want[k].name) == 0, "entry %zu: %s", k, e->name);
        CHECKF(e->labels_len == want[k].labels_len && strcmp(e->labels, want[k].labels) == 0, "entry %zu: %s", k,
               e->labels);
        CHECKF(e->value == want[k].value, "entry %zu: %.17g", k, e->value);
    }
}

static void test_operators(void) {
    fake f;
    START(f, srv_operators, 2);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_capabilities(c) & PGSTATE_CAP_OPERATOR);

    pgstate_health_info h;
    CHECKF(pgstate_health(c, &h) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECKF(h.state == PGSTATE_HEALTH_POOL_UP && h.ready == 1, "state 0x%x ready %d (0xF9 sent)", h.state, h.ready);
    CHECK(h.pool_up == 3 && h.pool_size == 4 && h.clients == 2 && h.uptime_ms == 93784567);
    CHECK(pgstate_health(c, &h) == PGSTATE_OK); /* not ready is an answer, not an error */
    CHECK(h.state == (PGSTATE_HEALTH_POOL_UP | PGSTATE_HEALTH_PAUSED) && h.ready == 0);
    CHECK(strcmp(pgstate_errmsg(c), "") == 0 && pgstate_is_connected(c));

    pgstate_stats_list *st = (pgstate_stats_list *)1;
    CHECKF(pgstate_stats(c, &st) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    check_stats(st, STATS_SENT, 3);
    pgstate_stats_list_free(st);
    CHECK(pgstate_stats(c, NULL) == PGSTATE_OK);

    pgstate_client_list *cl = (pgstate_client_list *)1;
    CHECKF(pgstate_clients(c, &cl) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECKF(cl != NULL && cl->count == 3 && cl->more == 0, "%zu rows", cl ? cl->count : 0);
    if (cl != NULL && cl->count == 3) {
        pgs_client_row w7 = client_row(7, "billing", "billing", "pgstate-py/0.3.0", 1);
        pgs_client_row w9 = client_row(9, "", "", "", 0);
        pgs_client_row w12 = client_row(12, "j\xc3\xbcrgen", "team-7", "pgstate-c/0.4.0", 7);
        check_row(&cl->rows[0], &w7);
        check_row(&cl->rows[1], &w9);
        check_row(&cl->rows[2], &w12);
        CHECK(strcmp(pgstate_client_state_name(cl->rows[0].state), "READY") == 0);
        CHECK(strcmp(pgstate_client_state_name(cl->rows[1].state), "HANDSHAKE") == 0);
        CHECK(strcmp(pgstate_client_state_name(cl->rows[2].state), "UNKNOWN") == 0);
    }
    pgstate_client_list_free(cl);
    CHECK(pgstate_clients(c, NULL) == PGSTATE_OK);
    CHECK(strcmp(pgstate_client_state_name(PGSTATE_CONN_DRAINING), "DRAINING") == 0);

    CHECK(pgstate_pause(c, 30000) == PGSTATE_OK);
    CHECK(pgstate_pause(c, 0) == PGSTATE_OK);
    CHECK(pgstate_pause(c, UINT32_MAX) == PGSTATE_OK);
    CHECK(pgstate_resume(c) == PGSTATE_OK);

    st = (pgstate_stats_list *)1;
    CHECK(pgstate_stats(c, &st) == PGSTATE_ERR_PERMISSION_DENIED && st == NULL);
    CHECK(pgstate_server_status(c) == 106 && pgstate_outcome(c) == PGSTATE_ERR_PERMISSION_DENIED);
    CHECKF(contains(pgstate_errmsg(c), "PERMISSION_DENIED") && contains(pgstate_errmsg(c), "no ADMIN"), "%s",
           pgstate_errmsg(c));
    cl = (pgstate_client_list *)1;
    CHECK(pgstate_clients(c, &cl) == PGSTATE_ERR_PERMISSION_DENIED && cl == NULL); /* refused on the second page */
    CHECK(pgstate_server_status(c) == 106);
    CHECK(pgstate_pause(c, 1) == PGSTATE_ERR_PERMISSION_DENIED);
    CHECK(pgstate_resume(c) == PGSTATE_ERR_PERMISSION_DENIED);
    CHECK(pgstate_is_connected(c) && pgstate_ping(c) == PGSTATE_OK);

    uint32_t rid[5];
    rid[0] = pgstate_send_health(c);
    rid[1] = pgstate_send_stats(c);
    rid[2] = pgstate_send_clients(c, 5);
    rid[3] = pgstate_send_pause(c, 1000);
    rid[4] = pgstate_send_resume(c);
    for (int k = 0; k < 5; k++) CHECKF(rid[k] != 0, "send %d: %s", k, pgstate_errmsg(c));
    const int ops[5] = {PGSTATE_OP_HEALTH, PGSTATE_OP_STATS, PGSTATE_OP_CLIENTS, PGSTATE_OP_PAUSE,
                        PGSTATE_OP_RESUME};
    const int kinds[5] = {PGSTATE_REPLY_HEALTH, PGSTATE_REPLY_STATS, PGSTATE_REPLY_CLIENTS, PGSTATE_REPLY_OK,
                          PGSTATE_REPLY_OK};
    for (int k = 4; k >= 0; k--) { /* answered in reverse */
        pgstate_reply *r = NULL;
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        CHECKF(r && r->request_id == rid[k] && r->op == ops[k] && r->kind == kinds[k] && r->status == PGSTATE_OK,
               "reply %d: kind %d", k, r ? r->kind : -1);
        if (r == NULL) continue;
        CHECK(strcmp(r->persistence_id, "") == 0 && r->record == NULL && r->identity == NULL);
        CHECK((r->stats != NULL) == (k == 1) && (r->clients != NULL) == (k == 2));
        if (k == 0) CHECK(r->health.state == 0 && r->health.ready == 0 && r->health.pool_size == 4);
        if (k == 1) check_stats(r->stats, STATS_SENT + 2, 1);
        if (k == 2) {
            CHECK(r->clients->count == 2 && r->clients->more == 1 && r->clients->rows[1].connection_id == 9);
            pgstate_client_list *taken = r->clients; /* the caller may take it */
            r->clients = NULL;
            pgstate_reply_free(r);
            CHECK(taken->rows[0].connection_id == 7 && strcmp(taken->rows[0].user, "billing") == 0);
            pgstate_client_list_free(taken);
            continue;
        }
        pgstate_reply_free(r);
    }

    cl = (pgstate_client_list *)1;
    CHECK(pgstate_clients(c, &cl) == PGSTATE_ERR_PROTOCOL && cl == NULL);
    CHECKF(contains(pgstate_errmsg(c), "CLIENTS_OK") && contains(pgstate_errmsg(c), "after_connection"), "%s",
           pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));
    pgstate_free(c);

    /* without OPERATOR: refused before sending, the connection untouched */
    c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(!(pgstate_capabilities(c) & PGSTATE_CAP_OPERATOR));
    memset(&h, 0xA5, sizeof h);
    CHECK(pgstate_health(c, &h) == PGSTATE_ERR_INVALID_ARGUMENT && h.state == 0 && h.uptime_ms == 0);
    CHECKF(contains(pgstate_errmsg(c), "OPERATOR") && contains(pgstate_errmsg(c), "HEALTH"), "%s",
           pgstate_errmsg(c));
    st = (pgstate_stats_list *)1;
    CHECK(pgstate_stats(c, &st) == PGSTATE_ERR_INVALID_ARGUMENT && st == NULL);
    cl = (pgstate_client_list *)1;
    CHECK(pgstate_clients(c, &cl) == PGSTATE_ERR_INVALID_ARGUMENT && cl == NULL);
    CHECK(pgstate_pause(c, 30000) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_resume(c) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "OPERATOR") && contains(pgstate_errmsg(c), "RESUME"), "%s",
           pgstate_errmsg(c));
    CHECK(pgstate_send_health(c) == 0 && pgstate_send_stats(c) == 0 && pgstate_send_clients(c, 0) == 0 &&
          pgstate_send_pause(c, 1) == 0 && pgstate_send_resume(c) == 0);
    CHECK(pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT && pgstate_pending(c) == 0);
    CHECK(pgstate_is_connected(c) && pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);
    FINISH(f);

    /* NULL handles and NULL lists */
    CHECK(pgstate_health(NULL, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_stats(NULL, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_clients(NULL, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_pause(NULL, 0) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_resume(NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_send_health(NULL) == 0 && pgstate_send_clients(NULL, 0) == 0);
    pgstate_stats_list_free(NULL);
    pgstate_client_list_free(NULL);
}

/* ------------------------------------------------------------------------- */
/* Multi-key requests and TTL                                                 */
/* ------------------------------------------------------------------------- */

/* Expects BULK_LOAD of exactly these ids (in the namespace ns, NULL: none) and returns its request id (0). */
static uint32_t srv_bulk_load(srv *s, const char *ns, const char *const *ids, size_t n) {
    pgs_msg m;
    if (!srv_expect(s, PGS_T_BULK_LOAD, &m)) return 0;
    SCHECK(m.count == n && m.has_ns == (ns != NULL));
    if (ns != NULL) SCHECK(m.ns_len == strlen(ns) && memcmp(m.ns, ns, m.ns_len) == 0);
    pgs_cursor it;
    const char *id;
    size_t len, k = 0;
    for (pgs_items_begin(&it, &m); pgs_ids_next(&it, &id, &len); k++) {
        int same = k < n && len == strlen(ids[k]) && memcmp(id, ids[k], len) == 0;
        if (!same) fprintf(stderr, "  SERVER: BULK_LOAD id %zu is %.*s\n", k, (int)len, id);
        SCHECK(same);
    }
    SCHECK(k == n);
    return m.request_id;
}

static pgs_record_entry found(uint64_t revision, const char *state) {
    pgs_record_entry e = {PGS_PRESENCE_FOUND, revision, 1773480413589793 + (int64_t)revision, (const uint8_t *)state,
                          strlen(state)};
    return e;
}

static const pgs_record_entry ABSENT = {PGS_PRESENCE_ABSENT, 0, 0, NULL, 0};
static const pgs_record_entry OMITTED = {PGS_PRESENCE_OMITTED, 0, 0, NULL, 0};

static void srv_records(srv *s, uint32_t rid, const pgs_record_entry *e, size_t n) {
    pgs_encode_records(&s->out, rid, e, n);
    srv_flush(s);
}

/* Expects BULK_WRITE or TRANSACT whose items have these kinds, ids, expectations and TTLs; returns its id. */
typedef struct want_item {
    uint8_t kind;
    const char *id;
    int has_expected;
    uint64_t expected;
    int has_ttl;
    uint32_t ttl;
    const char *state;
} want_item;

static uint32_t srv_items(srv *s, uint8_t type, const want_item *w, size_t n) {
    pgs_msg m;
    if (!srv_expect(s, type, &m)) return 0;
    SCHECK(m.count == n && m.flags == 0);
    pgs_cursor it;
    pgs_item item;
    size_t k = 0;
    for (pgs_items_begin(&it, &m); pgs_item_next(&it, &item); k++) {
        if (k >= n) break;
        int same = item.kind == w[k].kind && item.id_len == strlen(w[k].id) &&
                   memcmp(item.id, w[k].id, item.id_len) == 0 && item.has_expected == w[k].has_expected &&
                   item.expected_revision == w[k].expected && item.has_ttl == w[k].has_ttl &&
                   item.ttl_seconds == w[k].ttl &&
                   (w[k].state == NULL ? item.state_len == 0
                                       : item.state_len == strlen(w[k].state) &&
                                             memcmp(item.state, w[k].state, item.state_len) == 0);
        if (!same) {
            fprintf(stderr, "  SERVER: item %zu differs (kind %u, %.*s)\n", k, item.kind, (int)item.id_len, item.id);
        }
        SCHECK(same);
    }
    SCHECK(k == n);
    return m.request_id;
}

static void srv_outcomes(srv *s, uint32_t rid, const pgs_outcome *o, size_t n) {
    pgs_encode_outcomes(&s->out, rid, o, n);
    srv_flush(s);
}

/* Expects LIST with these arguments; returns its id. */
static uint32_t srv_list(srv *s, const char *prefix, const char *after, uint16_t limit) {
    pgs_msg m;
    if (!srv_expect(s, PGS_T_LIST, &m)) return 0;
    SCHECK(m.prefix_len == strlen(prefix) && memcmp(m.prefix, prefix, m.prefix_len) == 0);
    SCHECK(m.has_after == (after != NULL) && (m.flags & PGS_FLAG_AFTER) == (after != NULL ? PGS_FLAG_AFTER : 0));
    if (after != NULL) SCHECK(m.after_len == strlen(after) && memcmp(m.after, after, m.after_len) == 0);
    SCHECK(m.limit == limit);
    return m.request_id;
}

static pgs_list_entry listed(const char *id, uint64_t revision) {
    pgs_list_entry e = {id, strlen(id), revision, 1773480413589793};
    return e;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const want_item MIXED[4] = {
    {PGS_ITEM_UPSERT, "order-1", 1, 0, 0, 0, "open"},
    {PGS_ITEM_UPSERT, "order-2", 1, 4, 1, 3600, "paid"},
    {PGS_ITEM_DELETE, "order-3", 0, 0, 0, 0, NULL},
    {PGS_ITEM_DELETE, "order-4", 1, 7, 0, 0, NULL},
};

static void srv_multikey(srv *s, int i) {
    uint32_t rid;
    if (i == 1) { /* pgstated 0.3.0: no MULTI_KEY, no TTL, and a HELLO_OK without the batch limits */
        pgs_limits l;
        pgs_limits_default(&l);
        l.capabilities = PGS_CAP_CONDITIONAL_DELETE | PGS_CAP_IDENTITY | PGS_CAP_OPERATOR;
        srv_handshake(s, &l);
        srv_answer_ok(s, PGS_T_PING);
        srv_expect_eof(s);
        return;
    }
    if (i == 2) { /* MULTI_KEY alone, small batch limits: no TTL, no conditional delete, no namespace */
        pgs_limits l;
        pgs_limits_default(&l);
        l.capabilities = PGS_CAP_MULTI_KEY;
        l.max_batch_items = 3;
        l.max_batch_bytes = 8;
        srv_handshake(s, &l);
        static const want_item three[3] = {{PGS_ITEM_UPSERT, "a", 1, 0, 0, 0, "1234"},
                                           {PGS_ITEM_UPSERT, "b", 1, 0, 0, 0, "5678"},
                                           {PGS_ITEM_DELETE, "c", 0, 0, 0, 0, NULL}};
        rid = srv_items(s, PGS_T_BULK_WRITE, three, 3);
        pgs_outcome o[3] = {{PGS_RESULT_WRITTEN, 1, 5, 0, 0, 0, NULL, 0},
                            {PGS_RESULT_WRITTEN, 1, 5, 0, 0, 0, NULL, 0},
                            {PGS_RESULT_DELETED, 0, 0, 0, 0, 0, NULL, 0}};
        srv_outcomes(s, rid, o, 3);
        srv_expect_eof(s);
        return;
    }
    srv_handshake(s, NULL); /* the defaults announce every capability */
    /* pgstate_bulk_load: two ids OMITTED, asked again; one OMITTED again, asked again */
    static const char *const ids[4] = {"a", "b", "c", "a"};
    rid = srv_bulk_load(s, NULL, ids, 4);
    pgs_record_entry r1[4] = {found(3, "alpha"), OMITTED, OMITTED, OMITTED};
    srv_records(s, rid, r1, 4);
    rid = srv_bulk_load(s, NULL, ids + 1, 3);
    pgs_record_entry r2[3] = {found(9, "beta"), ABSENT, OMITTED};
    srv_records(s, rid, r2, 3);
    rid = srv_bulk_load(s, NULL, ids + 3, 1);
    pgs_record_entry r3[1] = {found(3, "alpha")};
    srv_records(s, rid, r3, 1);
    /* a second pgstate_bulk_load whose second round fails: the call fails, nothing is returned */
    rid = srv_bulk_load(s, NULL, ids, 2);
    pgs_record_entry r4[2] = {ABSENT, OMITTED};
    srv_records(s, rid, r4, 2);
    rid = srv_bulk_load(s, NULL, ids + 1, 1);
    srv_error(s, rid, 200, "database unreachable");
    /* pgstate_bulk_write: one outcome per item, each its own */
    rid = srv_items(s, PGS_T_BULK_WRITE, MIXED, 4);
    pgs_outcome bw[4] = {{PGS_RESULT_WRITTEN, 1, 1773480413589793, 0, 0, 0, NULL, 0},
                         {PGS_RESULT_CONFLICT, 0, 0, 4, 6, 0, NULL, 0},
                         {PGS_RESULT_DELETED, 0, 0, 0, 0, 0, NULL, 0},
                         {PGS_RESULT_FAILED, 0, 0, 0, 0, 300, "database connection lost", 24}};
    srv_outcomes(s, rid, bw, 4);
    /* pgstate_transact: committed, then a transaction conflict naming items 1 and 3 */
    rid = srv_items(s, PGS_T_TRANSACT, MIXED, 4);
    pgs_outcome tx[4] = {{PGS_RESULT_WRITTEN, 1, 7, 0, 0, 0, NULL, 0},
                         {PGS_RESULT_WRITTEN, 5, 7, 0, 0, 0, NULL, 0},
                         {PGS_RESULT_DELETED, 0, 0, 0, 0, 0, NULL, 0},
                         {PGS_RESULT_DELETED, 0, 0, 0, 0, 0, NULL, 0}};
    srv_outcomes(s, rid, tx, 4);
    rid = srv_items(s, PGS_T_TRANSACT, MIXED, 4);
    pgs_conflict_entry tc[2] = {{1, 4, 6}, {3, 7, 0}};
    pgs_encode_transact_conflict(&s->out, rid, tc, 2);
    srv_flush(s);
    /* pgstate_list: two pages, the second after the first's last id */
    rid = srv_list(s, "order-", NULL, 2);
    pgs_list_entry p1[2] = {listed("order-1", 1), listed("order-2", 5)};
    pgs_encode_list_ok(&s->out, rid, 1, p1, 2);
    srv_flush(s);
    rid = srv_list(s, "order-", "order-2", 2);
    pgs_list_entry p2[1] = {listed("order-9", 2)};
    pgs_encode_list_ok(&s->out, rid, 0, p2, 1);
    srv_flush(s);
    /* pgstate_upsert_ttl */
    pgs_msg m;
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.flags == PGS_FLAG_TTL && m.has_ttl && m.ttl_seconds == 60 && m.expected_revision == 2);
        srv_record(s, m.request_id, 3, 0, m.state, m.state_len);
    }
    /* in the handle's namespace */
    rid = srv_bulk_load(s, "billing", ids, 1);
    pgs_record_entry r5[1] = {ABSENT};
    srv_records(s, rid, r5, 1);
    if (srv_expect(s, PGS_T_LIST, &m)) {
        SCHECK(m.has_ns && m.ns_len == 7 && memcmp(m.ns, "billing", 7) == 0 && !m.has_after);
        pgs_encode_list_ok(&s->out, m.request_id, 0, NULL, 0);
        srv_flush(s);
    }
    /* pipelined: the five, answered in reverse order */
    uint32_t prid[5] = {0};
    prid[0] = srv_bulk_load(s, NULL, ids, 2);
    prid[1] = srv_items(s, PGS_T_BULK_WRITE, MIXED, 4);
    prid[2] = srv_items(s, PGS_T_TRANSACT, MIXED, 4);
    prid[3] = srv_list(s, "", "order-1", 10);
    if (srv_expect(s, PGS_T_UPSERT, &m)) {
        SCHECK(m.has_ttl && m.ttl_seconds == PGS_MAX_TTL_SECONDS);
        prid[4] = m.request_id;
    }
    pgs_encode_conflict(&s->out, prid[4], 0, 4);
    srv_flush(s);
    pgs_list_entry p3[1] = {listed("order-2", 5)};
    pgs_encode_list_ok(&s->out, prid[3], 1, p3, 1);
    srv_flush(s);
    pgs_conflict_entry tc1[1] = {{0, 0, 1}};
    pgs_encode_transact_conflict(&s->out, prid[2], tc1, 1);
    srv_flush(s);
    srv_outcomes(s, prid[1], bw, 4);
    pgs_record_entry r6[2] = {found(3, "alpha"), OMITTED}; /* the pipelined form returns OMITTED as it came */
    srv_records(s, prid[0], r6, 2);
    /* an answer that does not fit: TRANSACT_CONFLICT naming an unconditional delete item; the connection drops */
    rid = srv_items(s, PGS_T_TRANSACT, MIXED, 4);
    pgs_conflict_entry bad[1] = {{2, 0, 1}};
    pgs_encode_transact_conflict(&s->out, rid, bad, 1);
    srv_flush(s);
    srv_expect_eof(s);
}

static pgstate_item mixed_item(size_t k) {
    const want_item *w = &MIXED[k];
    if (w->kind == PGS_ITEM_UPSERT) {
        size_t n = strlen(w->state);
        return w->has_ttl ? pgstate_item_upsert_ttl(w->id, strlen(w->id), w->expected, w->state, n, w->ttl)
                          : pgstate_item_upsert(w->id, strlen(w->id), w->expected, w->state, n);
    }
    return w->has_expected ? pgstate_item_delete_if(w->id, strlen(w->id), w->expected)
                           : pgstate_item_delete(w->id, strlen(w->id));
}

static void check_loaded(const pgstate_loaded *e, const char *id, int presence, uint64_t revision, const char *state) {
    CHECKF(strcmp(e->persistence_id, id) == 0 && e->persistence_id_len == strlen(id), "entry %s", e->persistence_id);
    CHECKF(e->presence == presence, "%s: presence %d, want %d", id, e->presence, presence);
    CHECKF((e->record != NULL) == (presence == PGSTATE_FOUND), "%s: record", id);
    if (e->record != NULL && state != NULL) {
        CHECKF(e->record->revision == revision && e->record->state_len == strlen(state) &&
                   strcmp((const char *)e->record->state, state) == 0 && strcmp(e->record->persistence_id, id) == 0 &&
                   e->record->updated_at_us == 1773480413589793 + (int64_t)revision,
               "%s: revision %llu", id, (unsigned long long)e->record->revision);
    }
}

/* The outcomes of MIXED as srv_multikey's BULK_WRITE answers them. */
static void check_bulk_written(const pgstate_outcome_list *o) {
    CHECKF(o != NULL && o->count == 4, "%zu outcomes", o ? o->count : 0);
    if (o == NULL || o->count != 4) return;
    CHECK(o->items[0].result == PGSTATE_ITEM_WRITTEN && o->items[0].status == PGSTATE_OK &&
          o->items[0].revision == 1 && o->items[0].updated_at_us == 1773480413589793 &&
          strcmp(o->items[0].persistence_id, "order-1") == 0 && strcmp(o->items[0].message, "") == 0);
    CHECK(o->items[1].result == PGSTATE_ITEM_CONFLICT && o->items[1].status == PGSTATE_CONFLICT &&
          o->items[1].expected_revision == 4 && o->items[1].actual_revision == 6);
    CHECK(o->items[2].result == PGSTATE_ITEM_DELETED && o->items[2].status == PGSTATE_OK);
    CHECK(o->items[3].result == PGSTATE_ITEM_FAILED && o->items[3].status == PGSTATE_ERR_OUTCOME_UNKNOWN &&
          o->items[3].server_status == 300 && strcmp(o->items[3].message, "database connection lost") == 0 &&
          strcmp(o->items[3].persistence_id, "order-4") == 0);
}

static void test_multikey(void) {
    fake f;
    START(f, srv_multikey, 3);
    pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK((pgstate_capabilities(c) & (PGSTATE_CAP_MULTI_KEY | PGSTATE_CAP_TTL)) ==
          (PGSTATE_CAP_MULTI_KEY | PGSTATE_CAP_TTL));
    CHECK(pgstate_max_batch_items(c) == 1000 && pgstate_max_batch_bytes(c) == 4194304);
    CHECK(pgstate_max_frame_bytes(c) == 8392704 && pgstate_max_frame_bytes(NULL) == 0);

    /* the OMITTED ids are loaded again, inside the one call, until every id has its answer */
    const char *ids[4] = {"a", "b", "c", "a"};
    pgstate_record_list *rl = NULL;
    CHECKF(pgstate_bulk_load(c, ids, NULL, 4, &rl) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECKF(rl != NULL && rl->count == 4 && rl->omitted == 0, "%zu entries, %zu omitted", rl ? rl->count : 0,
           rl ? rl->omitted : 0);
    if (rl != NULL && rl->count == 4) {
        check_loaded(&rl->entries[0], "a", PGSTATE_FOUND, 3, "alpha");
        check_loaded(&rl->entries[1], "b", PGSTATE_FOUND, 9, "beta");
        check_loaded(&rl->entries[2], "c", PGSTATE_ABSENT, 0, NULL);
        check_loaded(&rl->entries[3], "a", PGSTATE_FOUND, 3, "alpha");
    }
    pgstate_record_list_free(rl);
    size_t lens[2] = {1, 1};
    rl = (pgstate_record_list *)1;
    CHECK(pgstate_bulk_load(c, ids, lens, 2, &rl) == PGSTATE_ERR_UNAVAILABLE && rl == NULL);
    CHECKF(pgstate_server_status(c) == 200 && contains(pgstate_errmsg(c), "database unreachable"), "%s",
           pgstate_errmsg(c));

    pgstate_item items[4];
    for (size_t k = 0; k < 4; k++) items[k] = mixed_item(k);
    pgstate_outcome_list *ol = NULL;
    CHECKF(pgstate_bulk_write(c, items, 4, &ol) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    check_bulk_written(ol);
    pgstate_outcome_list_free(ol);

    pgstate_conflict_list *cl = (pgstate_conflict_list *)1;
    ol = NULL;
    CHECKF(pgstate_transact(c, items, 4, &ol, &cl) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(cl == NULL && ol != NULL && ol->count == 4);
    if (ol != NULL && ol->count == 4) {
        CHECK(ol->items[0].result == PGSTATE_ITEM_WRITTEN && ol->items[0].revision == 1);
        CHECK(ol->items[1].result == PGSTATE_ITEM_WRITTEN && ol->items[1].revision == 5);
        CHECK(ol->items[2].result == PGSTATE_ITEM_DELETED && ol->items[3].result == PGSTATE_ITEM_DELETED);
    }
    pgstate_outcome_list_free(ol);
    ol = (pgstate_outcome_list *)1;
    CHECK(pgstate_transact(c, items, 4, &ol, &cl) == PGSTATE_CONFLICT && ol == NULL);
    CHECKF(cl != NULL && cl->count == 2, "%zu conflicts", cl ? cl->count : 0);
    if (cl != NULL && cl->count == 2) {
        CHECK(cl->items[0].index == 1 && strcmp(cl->items[0].persistence_id, "order-2") == 0 &&
              cl->items[0].expected_revision == 4 && cl->items[0].actual_revision == 6);
        CHECK(cl->items[1].index == 3 && strcmp(cl->items[1].persistence_id, "order-4") == 0 &&
              cl->items[1].persistence_id_len == 7 && cl->items[1].expected_revision == 7 &&
              cl->items[1].actual_revision == 0);
    }
    pgstate_conflict_list_free(cl);
    CHECK(pgstate_is_connected(c));

    pgstate_page *pg = NULL;
    CHECKF(pgstate_list(c, "order-", 6, NULL, 0, 2, &pg) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pg != NULL && pg->count == 2 && pg->more == 1 && pg->next_after != NULL &&
          strcmp(pg->next_after, "order-2") == 0 && pg->next_after_len == 7);
    if (pg != NULL && pg->count == 2) {
        CHECK(strcmp(pg->entries[0].persistence_id, "order-1") == 0 && pg->entries[1].revision == 5 &&
              pg->entries[1].updated_at_us == 1773480413589793);
    }
    pgstate_page *pg2 = NULL;
    CHECK(pg && pgstate_list(c, "order-", 6, pg->next_after, pg->next_after_len, 2, &pg2) == PGSTATE_OK);
    CHECK(pg2 != NULL && pg2->count == 1 && pg2->more == 0 && pg2->next_after == NULL &&
          strcmp(pg2->entries[0].persistence_id, "order-9") == 0);
    pgstate_page_free(pg);
    pgstate_page_free(pg2);

    pgstate_record *rec = NULL;
    CHECK(pgstate_upsert_ttl(c, "s", 1, 2, "x", 1, 60, &rec) == PGSTATE_OK && rec && rec->revision == 3);
    pgstate_record_free(rec);

    CHECK(pgstate_set_namespace(c, "billing") == PGSTATE_OK);
    CHECK(pgstate_bulk_load(c, ids, NULL, 1, NULL) == PGSTATE_OK);
    CHECK(pgstate_list(c, NULL, 0, NULL, 0, 5, NULL) == PGSTATE_OK);
    CHECK(pgstate_set_namespace(c, NULL) == PGSTATE_OK);

    /* refused before sending: nothing reaches the server (its script would fail) */
    pgstate_item twice[2] = {pgstate_item_upsert("k", 1, 0, "", 0), pgstate_item_delete("k", 1)};
    ol = (pgstate_outcome_list *)1;
    cl = (pgstate_conflict_list *)1;
    CHECK(pgstate_transact(c, twice, 2, &ol, &cl) == PGSTATE_ERR_INVALID_ARGUMENT && ol == NULL && cl == NULL);
    CHECKF(contains(pgstate_errmsg(c), "items 0 and 1"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_bulk_load(c, ids, NULL, 0, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_bulk_load(c, NULL, NULL, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    const char *bad_ids[2] = {"ok", "a\nb"};
    CHECK(pgstate_bulk_load(c, bad_ids, NULL, 2, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "BULK_LOAD id 1") && contains(pgstate_errmsg(c), "0x0a"), "%s",
           pgstate_errmsg(c));
    CHECK(pgstate_list(c, "p", 1, "", 0, 5, NULL) == PGSTATE_ERR_INVALID_ARGUMENT); /* an empty cursor */
    CHECK(pgstate_list(c, "p", 1, NULL, 0, 0, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_list(c, "p", 1, NULL, 0, 1001, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "1001") && contains(pgstate_errmsg(c), "max_batch_items"), "%s",
           pgstate_errmsg(c));
    CHECK(pgstate_upsert_ttl(c, "s", 1, 0, "", 0, 0, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_upsert_ttl(c, "s", 1, 0, "", 0, UINT32_C(2147483648), NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    pgstate_item odd = pgstate_item_upsert("k", 1, 0, "", 0);
    odd.flags = PGSTATE_ITEM_EXPECTED; /* an upsert always names its expected revision: not a flag of it */
    CHECK(pgstate_bulk_write(c, &odd, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "item 0"), "%s", pgstate_errmsg(c));
    odd = pgstate_item_delete("k", 1);
    odd.kind = 3;
    CHECK(pgstate_bulk_write(c, &odd, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    odd = pgstate_item_upsert_ttl("k", 1, 0, "", 0, 0);
    CHECK(pgstate_send_bulk_write(c, &odd, 1) == 0 && pgstate_status(c) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_pending(c) == 0 && pgstate_is_connected(c));

    /* pipelined: replies of their own kinds, answered in reverse */
    uint32_t rid[5];
    rid[0] = pgstate_send_bulk_load(c, ids, NULL, 2);
    rid[1] = pgstate_send_bulk_write(c, items, 4);
    rid[2] = pgstate_send_transact(c, items, 4);
    rid[3] = pgstate_send_list(c, "", 0, "order-1", 7, 10);
    rid[4] = pgstate_send_upsert_ttl(c, "s", 1, 0, "", 0, 2147483647u);
    for (int k = 0; k < 5; k++) CHECKF(rid[k] != 0, "send %d: %s", k, pgstate_errmsg(c));
    const int ops[5] = {PGSTATE_OP_BULK_LOAD, PGSTATE_OP_BULK_WRITE, PGSTATE_OP_TRANSACT, PGSTATE_OP_LIST,
                        PGSTATE_OP_UPSERT};
    const int kinds[5] = {PGSTATE_REPLY_RECORDS, PGSTATE_REPLY_OUTCOMES, PGSTATE_REPLY_TRANSACTION_CONFLICT,
                          PGSTATE_REPLY_PAGE, PGSTATE_REPLY_CONFLICT};
    const int statuses[5] = {PGSTATE_OK, PGSTATE_OK, PGSTATE_CONFLICT, PGSTATE_OK, PGSTATE_CONFLICT};
    for (int k = 4; k >= 0; k--) {
        pgstate_reply *r = NULL;
        CHECK(pgstate_read_reply(c, &r) == PGSTATE_OK);
        CHECKF(r && r->request_id == rid[k] && r->op == ops[k] && r->kind == kinds[k] && r->status == statuses[k],
               "reply %d: kind %d status %d", k, r ? r->kind : -1, r ? r->status : 0);
        if (r == NULL) continue;
        CHECK((r->records != NULL) == (k == 0) && (r->outcomes != NULL) == (k == 1) &&
              (r->conflicts != NULL) == (k == 2) && (r->page != NULL) == (k == 3));
        if (k == 0) {
            CHECK(r->records->count == 2 && r->records->omitted == 1);
            check_loaded(&r->records->entries[0], "a", PGSTATE_FOUND, 3, "alpha");
            check_loaded(&r->records->entries[1], "b", PGSTATE_OMITTED, 0, NULL);
        }
        if (k == 1) check_bulk_written(r->outcomes);
        if (k == 2) {
            CHECK(r->conflicts->count == 1 && r->conflicts->items[0].index == 0 &&
                  strcmp(r->conflicts->items[0].persistence_id, "order-1") == 0);
        }
        if (k == 3) {
            pgstate_page *taken = r->page; /* the caller may take it */
            r->page = NULL;
            pgstate_reply_free(r);
            CHECK(taken->count == 1 && taken->more == 1 && strcmp(taken->next_after, "order-2") == 0);
            pgstate_page_free(taken);
            continue;
        }
        if (k == 4) CHECK(r->expected_revision == 0 && r->actual_revision == 4);
        pgstate_reply_free(r);
    }

    /* an answer that does not fit its request is a protocol error: the connection is dropped */
    cl = (pgstate_conflict_list *)1;
    CHECK(pgstate_transact(c, items, 4, NULL, &cl) == PGSTATE_ERR_PROTOCOL && cl == NULL);
    CHECKF(contains(pgstate_errmsg(c), "TRANSACT_CONFLICT") && contains(pgstate_errmsg(c), "unconditional"), "%s",
           pgstate_errmsg(c));
    CHECK(!pgstate_is_connected(c));
    pgstate_free(c);

    /* a server without MULTI_KEY and TTL (its HELLO_OK without the batch limits): refused before sending */
    c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(!(pgstate_capabilities(c) & PGSTATE_CAP_MULTI_KEY) && pgstate_max_batch_items(c) == 0 &&
          pgstate_max_batch_bytes(c) == 0);
    rl = (pgstate_record_list *)1;
    CHECK(pgstate_bulk_load(c, ids, NULL, 1, &rl) == PGSTATE_ERR_INVALID_ARGUMENT && rl == NULL);
    CHECKF(contains(pgstate_errmsg(c), "MULTI_KEY") && contains(pgstate_errmsg(c), "BULK_LOAD"), "%s",
           pgstate_errmsg(c));
    CHECK(pgstate_bulk_write(c, items, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_transact(c, items, 1, NULL, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_list(c, "", 0, NULL, 0, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECK(pgstate_upsert_ttl(c, "s", 1, 0, "", 0, 60, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "TTL"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_send_bulk_load(c, ids, NULL, 1) == 0 && pgstate_send_list(c, "", 0, NULL, 0, 1) == 0);
    CHECK(pgstate_pending(c) == 0 && pgstate_is_connected(c) && pgstate_ping(c) == PGSTATE_OK);
    pgstate_free(c);

    /* MULTI_KEY alone, 3 items and 8 state bytes per request */
    c = pgstate_connect(f.path, TIMEOUT_MS);
    CHECKF(pgstate_status(c) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(pgstate_max_batch_items(c) == 3 && pgstate_max_batch_bytes(c) == 8);
    pgstate_item four[4] = {pgstate_item_upsert("a", 1, 0, "1234", 4), pgstate_item_upsert("b", 1, 0, "5678", 4),
                            pgstate_item_delete("c", 1), pgstate_item_delete("d", 1)};
    CHECK(pgstate_bulk_write(c, four, 4, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "4 items") && contains(pgstate_errmsg(c), "at most 3"), "%s",
           pgstate_errmsg(c));
    four[1].state_len = 5; /* "5678" and its NUL: 9 state bytes */
    CHECK(pgstate_bulk_write(c, four, 3, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "9 bytes") && contains(pgstate_errmsg(c), "max_batch_bytes"), "%s",
           pgstate_errmsg(c));
    four[1].state_len = 4;
    pgstate_item cond = pgstate_item_delete_if("c", 1, 2);
    CHECK(pgstate_bulk_write(c, &cond, 1, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "CONDITIONAL_DELETE"), "%s", pgstate_errmsg(c));
    pgstate_item ttl = pgstate_item_upsert_ttl("a", 1, 0, "", 0, 60);
    CHECK(pgstate_transact(c, &ttl, 1, NULL, NULL) == PGSTATE_ERR_INVALID_ARGUMENT);
    CHECKF(contains(pgstate_errmsg(c), "TTL"), "%s", pgstate_errmsg(c));
    CHECK(pgstate_set_namespace(c, "billing") == PGSTATE_ERR_INVALID_ARGUMENT); /* no IDENTITY */
    ol = NULL;
    CHECKF(pgstate_bulk_write(c, four, 3, &ol) == PGSTATE_OK, "%s", pgstate_errmsg(c));
    CHECK(ol && ol->count == 3 && ol->items[2].result == PGSTATE_ITEM_DELETED);
    pgstate_outcome_list_free(ol);
    pgstate_free(c);
    FINISH(f);
}

/* ------------------------------------------------------------------------- */
/* Every response vector of outcomes.json, through the library                */
/* ------------------------------------------------------------------------- */

#define OV_MAX 1024

typedef struct ov_request {
    int known;
    uint32_t rid;
    char id[64];
    size_t id_len;
    uint64_t expected;
    uint8_t state[64];
    size_t state_len;
    uint64_t after_connection; /* CLIENTS */
    uint64_t timeout_ms;       /* PAUSE */
    uint8_t *frame;            /* the request's frame as the vector has it (the library must send exactly it) */
    size_t frame_n;
    /* BULK_LOAD: ids; BULK_WRITE, TRANSACT: items (their ids and states in text); LIST: prefix, after, limit */
    size_t count;
    const char *ids[8];
    size_t id_lens[8];
    pgstate_item items[8];
    char text[512];
    const char *prefix;
    size_t prefix_len;
    const char *after;
    size_t after_len;
    uint32_t limit;
} ov_request;

typedef struct ov_vector {
    const char *name;
    int kind; /* index into OV_KINDS */
    uint8_t *event;
    size_t event_n;
    int status;   /* the public status the call must return */
    int server_status;
    uint64_t revision, expected, actual;
    int identity; /* the outcome is an identity: */
    uint64_t uid, permissions;
    const char *ns;
    const char *cls; /* the class's name */
    uint64_t state;  /* health: known bits, and READY */
    int ready;
    uint64_t items;  /* stats: entries; clients: rows; records, page: entries; outcomes, committed: items;
                        transaction_conflict: conflicts */
    uint64_t omitted; /* records */
    int more;        /* clients, page */
    char conn;    /* 'k' keep, 'd' drain, 'x' drop */
} ov_vector;

enum { OV_HELLO, OV_PING, OV_LOAD, OV_UPSERT, OV_DELETE, OV_DELETE_IF, OV_WHOAMI, OV_HEALTH, OV_STATS, OV_CLIENTS,
       OV_PAUSE, OV_RESUME, OV_BULK_LOAD, OV_BULK_WRITE, OV_TRANSACT, OV_LIST };
static const char *const OV_KINDS[] = {"hello",  "ping",   "load",  "upsert",  "delete", "conditional_delete",
                                       "whoami", "health", "stats", "clients", "pause",  "resume",
                                       "bulk_load", "bulk_write", "transact", "list"};
#define OV_NKINDS (sizeof OV_KINDS / sizeof OV_KINDS[0])
static ov_request g_ov_req[OV_NKINDS];
static ov_vector g_ov[OV_MAX];
static size_t g_nov;
static pgs_limits g_ov_limits;

static int ov_kind(const char *name) {
    for (int k = 0; name && k < (int)OV_NKINDS; k++) {
        if (strcmp(OV_KINDS[k], name) == 0) return k;
    }
    return -1;
}

static int ov_status_of(const char *cls) {
    static const struct {
        const char *name;
        int status;
    } map[] = {{"ok", PGSTATE_OK},
               {"identity", PGSTATE_OK},
               {"health", PGSTATE_OK},
               {"stats", PGSTATE_OK},
               {"clients", PGSTATE_OK},
               {"records", PGSTATE_OK},
               {"outcomes", PGSTATE_OK},
               {"committed", PGSTATE_OK},
               {"transaction_conflict", PGSTATE_CONFLICT},
               {"page", PGSTATE_OK},
               {"record", PGSTATE_OK},
               {"not_found", PGSTATE_NOT_FOUND},
               {"conflict", PGSTATE_CONFLICT},
               {"invalid_argument", PGSTATE_ERR_INVALID_ARGUMENT},
               {"permission_denied", PGSTATE_ERR_PERMISSION_DENIED},
               {"unavailable", PGSTATE_ERR_UNAVAILABLE},
               {"outcome_unknown", PGSTATE_ERR_OUTCOME_UNKNOWN},
               {"server_error", PGSTATE_ERR_SERVER},
               {"protocol_error", PGSTATE_ERR_PROTOCOL}};
    for (size_t i = 0; cls && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].name, cls) == 0) return map[i].status;
    }
    return 1000;
}

/* Copies n bytes into r->text (NUL-terminated); NULL when it is full. */
static const char *ov_text(ov_request *r, size_t *used, const char *src, size_t n) {
    if (n + 1 > sizeof r->text - *used) return NULL;
    char *dst = r->text + *used;
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
    *used += n + 1;
    return dst;
}

/* The ids, items or LIST arguments of a multi-key request in flight, as the call's arguments. */
static int ov_multikey(ov_request *r, json_object *m) {
    size_t used = 0, n = 0;
    json_object *arr = vj_array(m, "ids") ? vj_array(m, "ids") : vj_array(m, "items");
    if (vj_has(m, "prefix")) {
        const char *prefix = vj_str(m, "prefix", &n);
        uint64_t limit = 0;
        if (prefix == NULL || (r->prefix = ov_text(r, &used, prefix, n)) == NULL || !vj_u64(m, "limit", &limit)) {
            return -1;
        }
        r->prefix_len = n;
        r->limit = (uint32_t)limit;
        const char *after = vj_str(m, "after", &n);
        if (after != NULL && (r->after = ov_text(r, &used, after, n)) == NULL) return -1;
        r->after_len = after != NULL ? n : 0;
        return 0;
    }
    if (arr == NULL || vj_len(arr) > 8) return -1;
    r->count = vj_len(arr);
    for (size_t i = 0; i < r->count; i++) {
        json_object *e = vj_at(arr, i);
        if (json_object_is_type(e, json_type_string)) { /* a BULK_LOAD id */
            r->ids[i] = ov_text(r, &used, json_object_get_string(e), (size_t)json_object_get_string_len(e));
            r->id_lens[i] = (size_t)json_object_get_string_len(e);
            if (r->ids[i] == NULL) return -1;
            continue;
        }
        pgstate_item *it = &r->items[i];
        const char *kind = vj_str(e, "kind", NULL), *id = vj_str(e, "persistence_id", &n);
        if (kind == NULL || id == NULL || (it->id = ov_text(r, &used, id, n)) == NULL) return -1;
        it->id_len = n;
        it->kind = strcmp(kind, "upsert") == 0 ? PGSTATE_ITEM_UPSERT : PGSTATE_ITEM_DELETE;
        uint64_t u = 0;
        if (vj_u64(e, "expected_revision", &it->expected_revision) && it->kind == PGSTATE_ITEM_DELETE) {
            it->flags |= PGSTATE_ITEM_EXPECTED;
        }
        if (vj_u64(e, "ttl_seconds", &u)) {
            it->flags |= PGSTATE_ITEM_TTL;
            it->ttl_seconds = (uint32_t)u;
        }
        if (it->kind == PGSTATE_ITEM_UPSERT) {
            size_t hl = 0;
            const char *hx = vj_str(e, "state_hex", &hl);
            uint8_t *st = hx ? hex_decode(hx, hl, &n) : NULL;
            it->state = st ? ov_text(r, &used, (const char *)st, n) : NULL;
            it->state_len = n;
            free(st);
            if (it->state == NULL) return -1;
        }
    }
    return 0;
}

/* Reads the response vectors (the others need no wire: test_outcomes runs them). */
static int ov_load(json_object *root) {
    json_object *vecs = vj_array(root, "vectors");
    for (size_t i = 0; i < vj_len(vecs); i++) {
        json_object *v = vj_at(vecs, i), *m = vj_get(v, "message");
        int k = ov_kind(vj_str(v, "request", NULL));
        if (k < 0 || m == NULL) return -1;
        ov_request *r = &g_ov_req[k];
        uint64_t u = 0;
        if (!vj_u64(m, "request_id", &u)) return -1;
        r->rid = (uint32_t)u;
        size_t n = 0;
        const char *id = vj_str(m, "persistence_id", &n);
        if (id != NULL && n < sizeof r->id) {
            memcpy(r->id, id, n);
            r->id_len = n;
        }
        vj_u64(m, "expected_revision", &r->expected);
        size_t hl = 0;
        const char *hx = vj_str(m, "state_hex", &hl);
        uint8_t *st = hx ? hex_decode(hx, hl, &n) : NULL;
        if (st != NULL && n <= sizeof r->state) {
            memcpy(r->state, st, n);
            r->state_len = n;
        }
        free(st);
        vj_u64(m, "after_connection", &r->after_connection);
        vj_u64(m, "timeout_ms", &r->timeout_ms);
        const char *fx = vj_str(v, "hex", &hl);
        r->frame = fx ? hex_decode(fx, hl, &r->frame_n) : NULL;
        if (r->frame == NULL || r->frame_n < 4) return -1;
        if (k >= OV_BULK_LOAD && ov_multikey(r, m) != 0) return -1;
        r->known = 1;
    }
    json_object *h = vj_get(root, "hello_ok");
    pgs_limits_default(&g_ov_limits);
    uint64_t u;
    if (vj_u64(h, "max_frame_bytes", &u)) g_ov_limits.max_frame_bytes = (uint32_t)u;
    if (vj_u64(h, "max_id_bytes", &u)) g_ov_limits.max_id_bytes = (uint32_t)u;
    if (vj_u64(h, "max_state_bytes", &u)) g_ov_limits.max_state_bytes = (uint32_t)u;
    if (vj_u64(h, "max_in_flight", &u)) g_ov_limits.max_in_flight = (uint32_t)u;
    if (vj_u64(h, "capabilities", &u)) g_ov_limits.capabilities = (uint32_t)u;
    if (vj_u64(h, "max_batch_items", &u)) g_ov_limits.max_batch_items = (uint32_t)u;
    if (vj_u64(h, "max_batch_bytes", &u)) g_ov_limits.max_batch_bytes = (uint32_t)u;
    json_object *outs = vj_array(root, "outcomes");
    for (size_t i = 0; i < vj_len(outs) && g_nov < OV_MAX; i++) {
        json_object *v = vj_at(outs, i), *ev = vj_get(v, "event"), *o = vj_get(v, "outcome");
        const char *ek = vj_str(ev, "kind", NULL);
        if (ek == NULL || strcmp(ek, "response") != 0) continue;
        ov_vector *w = &g_ov[g_nov];
        memset(w, 0, sizeof *w);
        w->name = vj_str(v, "name", NULL);
        w->kind = ov_kind(vj_str(v, "request", NULL));
        size_t hl = 0;
        const char *hx = vj_str(ev, "hex", &hl);
        w->event = hex_decode(hx, hl, &w->event_n);
        w->status = ov_status_of(vj_str(o, "class", NULL));
        if (vj_u64(o, "status", &u)) w->server_status = (int)u;
        vj_u64(o, "revision", &w->revision);
        vj_u64(o, "expected_revision", &w->expected);
        vj_u64(o, "actual_revision", &w->actual);
        w->cls = vj_str(o, "class", NULL);
        if (w->cls == NULL) return -1;
        w->identity = strcmp(w->cls, "identity") == 0;
        if (w->identity && (!vj_u64(o, "uid", &w->uid) || !vj_u64(o, "permissions", &w->permissions) ||
                            (w->ns = vj_str(o, "namespace", NULL)) == NULL)) {
            return -1;
        }
        if (strcmp(w->cls, "health") == 0) {
            if (!vj_u64(o, "state", &w->state) || !vj_has(o, "ready")) return -1;
            w->ready = vj_true(o, "ready");
        }
        if (strcmp(w->cls, "stats") == 0 && !vj_u64(o, "entries", &w->items)) return -1;
        if (strcmp(w->cls, "clients") == 0) {
            if (!vj_u64(o, "rows", &w->items) || !vj_has(o, "more")) return -1;
            w->more = vj_true(o, "more");
        }
        if (strcmp(w->cls, "records") == 0 &&
            (!vj_u64(o, "entries", &w->items) || !vj_u64(o, "omitted", &w->omitted))) {
            return -1;
        }
        if ((strcmp(w->cls, "outcomes") == 0 || strcmp(w->cls, "committed") == 0) && !vj_u64(o, "items", &w->items)) {
            return -1;
        }
        if (strcmp(w->cls, "transaction_conflict") == 0 && !vj_u64(o, "conflicts", &w->items)) return -1;
        if (strcmp(w->cls, "page") == 0) {
            if (!vj_u64(o, "entries", &w->items) || !vj_has(o, "more")) return -1;
            w->more = vj_true(o, "more");
        }
        const char *conn = vj_str(v, "connection", NULL);
        w->conn = conn == NULL ? '?' : strcmp(conn, "keep") == 0 ? 'k' : strcmp(conn, "drain") == 0 ? 'd' : 'x';
        if (w->name == NULL || w->kind < 0 || !g_ov_req[w->kind].known || w->event == NULL || w->status == 1000 ||
            w->conn == '?') {
            return -1;
        }
        g_nov++;
    }
    return g_nov > 0 ? 0 : -1;
}

static const uint8_t OV_TYPES[OV_NKINDS] = {PGS_T_HELLO,     PGS_T_PING,       PGS_T_LOAD,     PGS_T_UPSERT,
                                           PGS_T_DELETE,    PGS_T_DELETE,     PGS_T_WHOAMI,   PGS_T_HEALTH,
                                           PGS_T_STATS,     PGS_T_CLIENTS,    PGS_T_PAUSE,    PGS_T_RESUME,
                                           PGS_T_BULK_LOAD, PGS_T_BULK_WRITE, PGS_T_TRANSACT, PGS_T_LIST};

static void srv_outcome(srv *s, int i) {
    const ov_vector *w = &g_ov[i];
    const ov_request *r = &g_ov_req[w->kind];
    pgs_msg m;
    if (w->kind == 0) {
        srv_read_hello(s);
        srv_raw(s, w->event, w->event_n); /* in place of HELLO_OK */
    } else {
        srv_handshake(s, &g_ov_limits);
        /* PINGs move the client's sequential ids up to the vector's request id */
        for (uint32_t k = s->hello_rid + 1; k < r->rid; k++) {
            srv_answer_ok(s, PGS_T_PING);
        }
        if (!srv_expect(s, OV_TYPES[w->kind], &m)) return;
        SCHECK(m.request_id == r->rid);
        SCHECK(m.after_connection == r->after_connection && m.timeout_ms == r->timeout_ms);
        /* the library sends the vector's request byte for byte */
        SCHECK(s->body_len == r->frame_n - 4 && memcmp(s->body, r->frame + 4, s->body_len) == 0);
        srv_raw(s, w->event, w->event_n);
    }
    if (w->conn == 'k' && srv_expect(s, PGS_T_PING, &m)) srv_ok(s, m.request_id);
    srv_expect_eof(s); /* drain and drop: the client sends nothing more */
}

static void test_outcome_vectors_through_the_library(void) {
    const char *dir = vj_vectors_dir();
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/outcomes.json", dir);
    json_object *root = vj_load(path, err, sizeof err);
    CHECKF(root != NULL, "%s: %s", path, err);
    if (root == NULL) return;
    CHECKF(ov_load(root) == 0, "%s: not the expected shape", path);
    fake f;
    START(f, srv_outcome, (int)g_nov);
    int failed = 0;
    for (size_t i = 0; i < g_nov; i++) {
        const ov_vector *w = &g_ov[i];
        const ov_request *r = &g_ov_req[w->kind];
        int before = h_cur_failures;
        pgstate_client *c = pgstate_connect(f.path, TIMEOUT_MS);
        int rc = pgstate_status(c);
        pgstate_record *rec = NULL;
        pgstate_identity *who = NULL;
        pgstate_health_info health;
        memset(&health, 0xA5, sizeof health);
        pgstate_stats_list *stats = NULL;
        pgstate_reply *page = NULL; /* CLIENTS and BULK_LOAD: one answer, through the pipeline */
        pgstate_outcome_list *outs = NULL;
        pgstate_conflict_list *conflicts = NULL;
        pgstate_page *ids = NULL;
        const char *msg = NULL;
        int server_status = 0;
        if (w->kind != OV_HELLO) {
            CHECKF(rc == PGSTATE_OK, "%s: connect: %s", w->name, pgstate_errmsg(c));
            for (uint32_t k = 2; k < r->rid; k++) CHECK(pgstate_ping(c) == PGSTATE_OK);
            switch (w->kind) {
            case OV_PING: rc = pgstate_ping(c); break;
            case OV_LOAD: rc = pgstate_load(c, r->id, r->id_len, &rec); break;
            case OV_UPSERT: rc = pgstate_upsert(c, r->id, r->id_len, r->expected, r->state, r->state_len, &rec); break;
            case OV_DELETE: rc = pgstate_delete(c, r->id, r->id_len); break;
            case OV_DELETE_IF: rc = pgstate_delete_if(c, r->id, r->id_len, r->expected); break;
            case OV_WHOAMI: rc = pgstate_whoami(c, &who); break;
            case OV_HEALTH: rc = pgstate_health(c, &health); break;
            case OV_STATS: rc = pgstate_stats(c, &stats); break;
            case OV_CLIENTS:
                CHECK(pgstate_send_clients(c, r->after_connection) == r->rid);
                CHECK(pgstate_read_reply(c, &page) == PGSTATE_OK && page != NULL);
                rc = page ? page->status : PGSTATE_ERR_INVALID_ARGUMENT;
                break;
            case OV_PAUSE: rc = pgstate_pause(c, (uint32_t)r->timeout_ms); break;
            case OV_RESUME: rc = pgstate_resume(c); break;
            case OV_BULK_LOAD: /* one RECORDS as it came: the blocking call would load the OMITTED ids again */
                CHECK(pgstate_send_bulk_load(c, r->ids, r->id_lens, r->count) == r->rid);
                CHECK(pgstate_read_reply(c, &page) == PGSTATE_OK && page != NULL);
                rc = page ? page->status : PGSTATE_ERR_INVALID_ARGUMENT;
                break;
            case OV_BULK_WRITE: rc = pgstate_bulk_write(c, r->items, r->count, &outs); break;
            case OV_TRANSACT: rc = pgstate_transact(c, r->items, r->count, &outs, &conflicts); break;
            default:
                rc = pgstate_list(c, r->prefix, r->prefix_len, r->after, r->after_len, r->limit, &ids);
                break;
            }
        }
        server_status = page ? page->server_status : pgstate_server_status(c);
        msg = page ? page->message : pgstate_errmsg(c);
        CHECKF(rc == w->status, "%s: %s, want %s (%s)", w->name, pgstate_status_name(rc),
               pgstate_status_name(w->status), msg);
        CHECKF(server_status == w->server_status, "%s: server status %d, want %d", w->name, server_status,
               w->server_status);
        if (w->kind == OV_HEALTH && strcmp(w->cls, "health") == 0) {
            CHECKF(health.state == w->state && health.ready == w->ready, "%s: health state 0x%x ready %d", w->name,
                   health.state, health.ready);
        } else if (w->kind == OV_HEALTH) {
            CHECKF(health.state == 0 && health.ready == 0 && health.uptime_ms == 0, "%s: health not zeroed",
                   w->name);
        }
        if (strcmp(w->cls, "stats") == 0) {
            CHECKF(stats && stats->count == w->items, "%s: %zu entries", w->name, stats ? stats->count : 0);
        } else {
            CHECKF(stats == NULL, "%s: entries without the class", w->name);
        }
        if (w->kind == OV_CLIENTS && page != NULL) {
            pgstate_client_list *l = page->clients;
            if (strcmp(w->cls, "clients") == 0) {
                CHECKF(page->kind == PGSTATE_REPLY_CLIENTS && l && l->count == w->items && l->more == w->more,
                       "%s: page of %zu rows, more %d", w->name, l ? l->count : 0, l ? l->more : -1);
            } else {
                CHECKF(page->kind == PGSTATE_REPLY_ERROR && l == NULL, "%s: rows without the class", w->name);
            }
        }
        if (w->kind == OV_BULK_LOAD && page != NULL) {
            pgstate_record_list *l = page->records;
            if (strcmp(w->cls, "records") == 0) {
                CHECKF(page->kind == PGSTATE_REPLY_RECORDS && l && l->count == w->items && l->omitted == w->omitted,
                       "%s: %zu entries, %zu omitted", w->name, l ? l->count : 0, l ? l->omitted : 0);
                for (size_t k = 0; l && k < l->count && k < r->count; k++) {
                    CHECKF(strcmp(l->entries[k].persistence_id, r->ids[k]) == 0 &&
                               (l->entries[k].record != NULL) == (l->entries[k].presence == PGSTATE_FOUND),
                           "%s: entry %zu", w->name, k);
                }
            } else {
                CHECKF(page->kind == PGSTATE_REPLY_ERROR && l == NULL, "%s: entries without the class", w->name);
            }
        }
        if (strcmp(w->cls, "outcomes") == 0 || strcmp(w->cls, "committed") == 0) {
            CHECKF(outs && outs->count == w->items, "%s: %zu outcomes", w->name, outs ? outs->count : 0);
        } else {
            CHECKF(outs == NULL, "%s: outcomes without the class", w->name);
        }
        if (strcmp(w->cls, "transaction_conflict") == 0) {
            CHECKF(conflicts && conflicts->count == w->items, "%s: %zu conflicts", w->name,
                   conflicts ? conflicts->count : 0);
        } else {
            CHECKF(conflicts == NULL, "%s: conflicts without the class", w->name);
        }
        if (strcmp(w->cls, "page") == 0) {
            CHECKF(ids && ids->count == w->items && ids->more == w->more &&
                       (ids->next_after != NULL) == w->more,
                   "%s: page of %zu ids, more %d", w->name, ids ? ids->count : 0, ids ? ids->more : -1);
        } else {
            CHECKF(ids == NULL, "%s: a page without the class", w->name);
        }
        pgstate_outcome_list_free(outs);
        pgstate_conflict_list_free(conflicts);
        pgstate_page_free(ids);
        pgstate_stats_list_free(stats);
        pgstate_reply_free(page);
        if (w->revision) CHECKF(rec && rec->revision == w->revision, "%s: record", w->name);
        if (w->status == PGSTATE_CONFLICT) {
            CHECKF(pgstate_conflict_expected(c) == w->expected && pgstate_conflict_actual(c) == w->actual,
                   "%s: conflict", w->name);
        }
        if (w->identity) {
            CHECKF(who && who->uid == w->uid && who->permissions == w->permissions && strcmp(who->ns, w->ns) == 0,
                   "%s: identity", w->name);
        } else {
            CHECKF(who == NULL, "%s: an identity without the class", w->name);
        }
        pgstate_identity_free(who);
        pgstate_record_free(rec);
        if (w->conn == 'k') {
            CHECKF(pgstate_is_connected(c) && pgstate_ping(c) == PGSTATE_OK, "%s: connection not kept", w->name);
        } else {
            CHECKF(!pgstate_is_connected(c), "%s: connection still accepts requests", w->name);
            CHECKF(pgstate_send_ping(c) == 0 && pgstate_status(c) == PGSTATE_ERR_UNAVAILABLE, "%s: sent", w->name);
            if (w->conn == 'd') CHECKF(contains(pgstate_errmsg(c), "shutting down"), "%s: %s", w->name,
                                       pgstate_errmsg(c));
        }
        pgstate_free(c);
        if (h_cur_failures != before) failed++;
    }
    FINISH(f);
    printf("     outcomes.json: %zu response vectors through the library, %d failed\n", g_nov, failed);
    for (size_t i = 0; i < g_nov; i++) free(g_ov[i].event);
    for (size_t k = 0; k < OV_NKINDS; k++) free(g_ov_req[k].frame);
    json_object_put(root); /* the vectors' names point into it */
}

int main(void) {
    /* SIGPIPE stays at its default (fatal) in this process: the library must
       never raise it, also when writing to a connection the server closed. */
    alarm(300);
    RUN(test_misc_api);
    RUN(test_handshake_ok);
    RUN(test_basic_ops);
    RUN(test_pipeline_out_of_order);
    RUN(test_max_in_flight);
    RUN(test_error_classes);
    RUN(test_closing_errors);
    RUN(test_connection_lost);
    RUN(test_timeouts);
    RUN(test_timeout_before_sending);
    RUN(test_connect_timeout);
    RUN(test_handshake_failures);
    RUN(test_refused_before_write);
    RUN(test_bad_responses);
    RUN(test_argument_checks);
    RUN(test_blocking_and_pipelined);
    RUN(test_large_states);
    RUN(test_socket_from_env);
    RUN(test_missing_socket);
    RUN(test_connection_refused);
    RUN(test_hello_ok_max_id_bytes);
    RUN(test_keep_drain_drop);
    RUN(test_timeout_outcome);
    RUN(test_ring_ids);
    RUN(test_event_loop_api);
    RUN(test_whoami);
    RUN(test_namespace_on_the_wire);
    RUN(test_identity_needs_capability);
    RUN(test_permission_denied);
    RUN(test_operators);
    RUN(test_multikey);
    RUN(test_outcome_vectors_through_the_library);
    return harness_summary();
}
