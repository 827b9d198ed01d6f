/*
 * outcome.h - the client-behaviour classifier (INTERNAL, not installed; pure:
 * no I/O, no allocation, no handle).
 *
 * For one request in flight and one event - a frame received, the connection
 * lost, the caller's deadline passed - it says the outcome class the caller
 * sees and what the client does with the connection (keep, drain, drop), as
 * the client-behaviour section of PROTOCOL.md specifies.  The library decides
 * every reply through these functions (requests.c, client.c) and the tests run
 * them against every vector of proto-spec/vectors/outcomes.json
 * (tests/test_outcomes.c), so the C client cannot drift from the spec.
 */
#ifndef PGSTATE_OUTCOME_H
#define PGSTATE_OUTCOME_H

#include "call.h"
#include "codec.h"

#include <stdint.h>

/* Outcome classes, named as in outcomes.json. */
typedef enum pgs_class {
    PGS_CLASS_OK,               /* done, nothing to return (PING, DELETE, the handshake) */
    PGS_CLASS_IDENTITY,         /* WHOAMI_OK answering WHOAMI */
    PGS_CLASS_HEALTH,           /* HEALTH_OK answering HEALTH, ready or not */
    PGS_CLASS_STATS,            /* STATS_OK answering STATS */
    PGS_CLASS_CLIENTS,          /* CLIENTS_OK answering CLIENTS: one page that follows after_connection */
    PGS_CLASS_RECORD,           /* RECORD answering LOAD or UPSERT */
    PGS_CLASS_NOT_FOUND,        /* LOAD: no record */
    PGS_CLASS_CONFLICT,         /* UPSERT / conditional DELETE: the expected revision did not hold */
    PGS_CLASS_RECORDS,          /* RECORDS answering BULK_LOAD: one entry per id */
    PGS_CLASS_OUTCOMES,         /* OUTCOMES answering BULK_WRITE: one outcome per item, each its own */
    PGS_CLASS_COMMITTED,        /* OUTCOMES answering TRANSACT: every item applied */
    PGS_CLASS_TRANSACTION_CONFLICT, /* TRANSACT_CONFLICT: nothing applied, the failed items named */
    PGS_CLASS_PAGE,             /* LIST_OK answering LIST: one page */
    PGS_CLASS_INVALID_ARGUMENT, /* refused before sending, or ERROR 102 */
    PGS_CLASS_PERMISSION_DENIED, /* ERROR 106: the connection's identity may not do this */
    PGS_CLASS_UNAVAILABLE,      /* not executed, or a read that can be repeated */
    PGS_CLASS_OUTCOME_UNKNOWN,  /* a write may or may not have been applied */
    PGS_CLASS_SERVER_ERROR,     /* 5xx or a status outside every class, answering a read */
    PGS_CLASS_PROTOCOL_ERROR    /* the peers disagree about the protocol */
} pgs_class;

/* What the client does with the connection afterwards. */
typedef enum pgs_conn {
    PGS_CONN_KEEP,  /* stays usable */
    PGS_CONN_DRAIN, /* send nothing new; keep reading answers until the server closes */
    PGS_CONN_DROP   /* close now; every other request in flight fails (pgs_classify_left) */
} pgs_conn;

typedef struct pgs_verdict {
    pgs_class cls;
    pgs_conn conn;
    unsigned status;     /* the ERROR status the class comes from, 0 if none */
    const char *problem; /* a protocol error the client found: what was wrong (static text); else NULL */
} pgs_verdict;

/* What the answer of a multi-key request must fit (12.2 rule 6): its ids or items, or its LIST arguments. */
typedef struct pgs_item_shape {
    uint8_t kind;               /* PGS_ITEM_UPSERT or PGS_ITEM_DELETE (multikey_codec.h) */
    uint8_t has_expected;       /* an upsert, or a conditional delete: it can conflict */
    uint64_t expected_revision;
} pgs_item_shape;

typedef struct pgs_shape {
    size_t count;                 /* BULK_LOAD: ids; BULK_WRITE, TRANSACT: items */
    const pgs_item_shape *items;  /* BULK_WRITE, TRANSACT: count of them */
    const char *prefix;           /* LIST */
    size_t prefix_len;
    const char *after;            /* LIST: the cursor, NULL without one */
    size_t after_len;
    uint32_t limit;               /* LIST */
} pgs_shape;

/* A request in flight, as far as its outcome depends on it. */
typedef struct pgs_flight {
    pgs_op op;
    uint32_t request_id;
    uint64_t expected_revision; /* UPSERT, DELETE_IF */
    int written;                /* its last byte reached the socket */
    uint64_t after_connection;  /* CLIENTS: every row of its answer must have a greater id */
    const pgs_shape *shape;     /* BULK_LOAD, BULK_WRITE, TRANSACT, LIST; else NULL */
} pgs_flight;

/*
 * A frame arrived while req was in flight.  frame_status is 0 when the frame
 * was read and decoded into *m (pgs_reader_next + pgs_decode_response), else
 * the status the reader or decoder found (100, 101, 103; m unused).  lim: the
 * limits in effect (max_state_bytes bounds a RECORD's state and a RECORDS entry's).
 *
 * The frame is req's answer when its request id is req's; an ERROR with
 * request id 0 ends the connection for every request; any other frame means
 * nothing for req unless it cannot be attributed to a request in flight
 * (callers pass, for each request in flight, only frames that answer it or
 * answer none: the library looks the id up first).
 */
pgs_verdict pgs_classify_frame(const pgs_flight *req, int frame_status, const pgs_msg *m, const pgs_limits *lim);

/* The connection was lost (EOF, reset, I/O error) before req was answered. */
pgs_verdict pgs_classify_lost(const pgs_flight *req);

/* The caller's deadline passed before req was answered (blocking calls; the
   C library then returns PGSTATE_ERR_TIMEOUT, and the class says what the
   caller may assume). */
pgs_verdict pgs_classify_timeout(const pgs_flight *req);

/* req was still in flight when the client dropped the connection because of
   another request's verdict `cause`. */
pgs_verdict pgs_classify_left(const pgs_flight *req, const pgs_verdict *cause);

/* For IDENTITY: the permissions the caller gets from a WHOAMI_OK, its known
   bits (PGSTATE_PERM_*; a client ignores the bits it does not know). */
uint32_t pgs_identity_permissions(const pgs_msg *m);

/* For HEALTH: the known bits of a HEALTH_OK's state (PGSTATE_HEALTH_*; a
   client ignores reserved bits), and whether they make the server READY
   (POOL_UP, neither PAUSED nor DRAINING). */
uint32_t pgs_health_state(const pgs_msg *m);
int pgs_health_ready(uint32_t state);

/* A FAILED item of OUTCOMES: its class, as if its status had answered the single write it mirrors. */
pgs_class pgs_item_failure_class(unsigned status);

/* The public status for a class: PGSTATE_OK (OK, IDENTITY, HEALTH, STATS, CLIENTS, RECORD, RECORDS, OUTCOMES,
   COMMITTED, PAGE), PGSTATE_NOT_FOUND, PGSTATE_CONFLICT (CONFLICT, TRANSACTION_CONFLICT), PGSTATE_ERR_*; and the
   pgstate_reply_kind. */
int pgs_class_status(pgs_class cls);
int pgs_class_reply_kind(pgs_class cls);
/* "ok", "record", ..., as in outcomes.json. */
const char *pgs_class_name(pgs_class cls);
const char *pgs_conn_name(pgs_conn conn);

#endif /* PGSTATE_OUTCOME_H */
