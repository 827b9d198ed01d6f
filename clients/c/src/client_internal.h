/*
 * client_internal.h - the pgstate_client handle, shared by client.c (the
 * public API and the one I/O loop) and requests.c (requests in flight and
 * reply routing).  INTERNAL, not installed: callers only see the opaque type.
 */
#ifndef PGSTATE_CLIENT_INTERNAL_H
#define PGSTATE_CLIENT_INTERNAL_H

#include "codec.h"
#include "net.h"
#include "outcome.h"
#include "pgstate.h"
#include "requests.h"

#define PGS_ERRMSG_CAP 512
#define PGS_WINDOW_CAP 4096u /* client-side cap on requests in flight */

#if defined(__GNUC__) || defined(__clang__)
#define PGS_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PGS_PRINTF_LIKE(f, a)
#endif

typedef enum pgs_conn_state {
    CS_DISCONNECTED, /* no connection (the descriptor may still be open: pgs_net.shut) */
    CS_HANDSHAKE,    /* socket open, the HELLO in flight */
    CS_READY,        /* handshaken; requests may be sent */
    CS_DRAINING      /* the server is shutting down (202): nothing new is sent, answers still read */
} pgs_conn_state;

struct pgstate_client {
    /* touched on every request and reply first, the texts last (fewer cache lines per request) */
    pgs_net net;
    pgs_conn_state state;
    int nonblocking;
    int timeout_ms;
    uint32_t window; /* requests allowed in flight: 1 for the HELLO, then min(max_in_flight, 4096) */
    pgs_inflight flight;
    pgs_done done; /* answered pipelined requests, oldest first */
    pgs_limits limits; /* what HELLO_OK announced (the section 9 defaults before) */
    int handshaken;    /* the last handshake succeeded (limits are the server's) */
    int has_ns;        /* pgstate_set_namespace named one: keyed requests carry it (flag NAMESPACE) */
    size_t ns_len;
    char ns[PGS_MAX_NAMESPACE_BYTES + 1];

    /* result of the last call */
    int status;
    int outcome; /* the class's status: equals status, except after PGSTATE_ERR_TIMEOUT */
    int server_status;
    uint64_t conflict_expected;
    uint64_t conflict_actual;
    char errmsg[PGS_ERRMSG_CAP];

    /* why the connection is closed or draining, and as which status; reported by later calls */
    int close_status;
    char close_msg[PGS_ERRMSG_CAP];

    char *path;
    char server_version[256];
};

/* snprintf whose truncation is intended (messages are capped). */
void pgs_fmt(char *dst, size_t cap, const char *fmt, ...) PGS_PRINTF_LIKE(3, 4);
/* Copies at most cap-1 bytes of UTF-8 text without cutting a character. */
void pgs_copy_text(char *dst, size_t cap, const char *src, size_t n);

/* client.c: the calls' machinery, for the calls defined elsewhere (operator.c) */

/* Starts a call: clears the last call's result on the handle. */
void pgs_begin_call(pgstate_client *c);
/* The last call failed with status and this text (printf-style); returns status. */
int pgs_set_err(pgstate_client *c, int status, const char *fmt, ...) PGS_PRINTF_LIKE(3, 4);
/* A call of this kind without arguments. */
pgs_call pgs_bare_call(pgs_op op);
/* One blocking round trip, until deadline: checks the arguments, queues the
   request, waits for its reply.  Returns the answered request, whose status,
   server status, conflict revisions and error text are now the handle's (the
   caller takes what it wants from p->pub, then pgs_pending_free(p)); or NULL
   with the error (refused, not sent, timed out) on the handle. */
pgs_pending *pgs_roundtrip(pgstate_client *c, const pgs_call *req, int64_t deadline);
/* A pipelined request: checks, queues, returns its id; 0 with the error on the handle. */
uint32_t pgs_send_call(pgstate_client *c, const pgs_call *req);

/* requests.c: reply routing */

/* Whether p's last byte reached the socket. */
int pgs_pending_written(const pgstate_client *c, const pgs_pending *p);
/* Takes every complete frame out of the reader and routes it; stops when the
   connection ends. */
void pgs_route_frames(pgstate_client *c);
/* The connection ended without a frame saying why (EOF, reset, I/O error, out
   of memory): every request in flight fails as pgs_classify_lost says. */
void pgs_connection_lost(pgstate_client *c, const char *why);
/* Fails one request with verdict v (message: why + what the class means for
   it) and hands it to its owner.  p must already be out of the table. */
void pgs_fail_pending(pgstate_client *c, pgs_pending *p, const pgs_verdict *v, const char *why);

/* operator.c: the results of STATS_OK and CLIENTS_OK (one page), each in one
   allocation (NULL when out of memory). */
pgstate_stats_list *pgs_stats_list_new(const pgs_msg *m);
pgstate_client_list *pgs_client_list_new(const pgs_msg *m);

/* multikey.c: what a multi-key request keeps while in flight (its ids, its items' kinds and expectations, its
   LIST arguments: pgs_shape_bytes of them, copied by pgs_shape_copy into mem, in p's block), and the results
   of its answers, each in one allocation (NULL when out of memory); p is the request answered. */
int pgs_op_is_multikey(pgs_op op);
size_t pgs_shape_bytes(const pgs_call *call);
void pgs_shape_copy(pgs_pending *p, void *mem, const pgs_call *call);
pgstate_record_list *pgs_record_list_new(const pgs_msg *m, const pgs_pending *p);
pgstate_outcome_list *pgs_outcome_list_new(const pgs_msg *m, const pgs_pending *p);
pgstate_conflict_list *pgs_conflict_list_new(const pgs_msg *m, const pgs_pending *p);
pgstate_page *pgs_page_new(const pgs_msg *m);

#endif /* PGSTATE_CLIENT_INTERNAL_H */
