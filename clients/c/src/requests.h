/*
 * requests.h - requests in flight and their replies (INTERNAL, not installed).
 *
 * Every request, the handshake's HELLO included, is a pgs_pending from the
 * moment it is queued until its reply is freed.  While it is unanswered it is
 * in the pgs_inflight table: a ring indexed by request id modulo a power-of-two
 * capacity (ids are allocated sequentially, so finding the request a response
 * answers is one array access), threaded on a list in submission order (for
 * failing them all in order when the connection ends).  Once answered, a
 * pipelined request's reply waits in the pgs_done FIFO until the caller takes
 * it.  The reply is allocated with the request, so failing it never allocates.
 */
#ifndef PGSTATE_REQUESTS_H
#define PGSTATE_REQUESTS_H

#include "call.h"
#include "multikey_codec.h"
#include "outcome.h"
#include "pgstate.h"

#include <stddef.h>
#include <stdint.h>

#define PGS_REPLY_MSG_CAP 512

/* Who receives the reply. */
typedef enum pgs_owner {
    PGS_OWN_PIPELINE, /* the pgs_done queue, read by pgstate_read_reply / pgstate_next_reply */
    PGS_OWN_BLOCKING, /* the blocking call waiting for it (it checks `done`) */
    PGS_OWN_ABANDONED /* its blocking call timed out: the reply is discarded when it comes */
} pgs_owner;

typedef struct pgs_pending {
    pgstate_reply pub; /* first member: pgstate_reply * <-> pgs_pending * */
    struct pgs_pending *prev, *next; /* in flight: submission order; answered: the done queue */
    pgs_op op;
    pgs_owner owner;
    int done;
    uint64_t start_off; /* stream offset of the request's first byte */
    uint64_t end_off;   /* stream offset one past its last byte */
    uint64_t after_connection; /* CLIENTS: what its answer's rows must follow */
    pgs_shape shape;      /* the multi-key requests: what their answer must fit (arrays and bytes in the block) */
    const pgs_span *ids;  /* BULK_LOAD: its ids; BULK_WRITE, TRANSACT: its items' ids (shape.count of them) */
    char msgbuf[PGS_REPLY_MSG_CAP];
    char idbuf[]; /* persistence_id_len + 1 */
} pgs_pending;

/* A new request (not yet in flight) for call, with its reply preallocated and, for a multi-key call, a copy of
   what its answer must fit (pgs_shape_bytes / pgs_shape_copy, multikey.c); NULL when out of memory. */
pgs_pending *pgs_pending_new(const pgs_call *call, pgs_owner owner);
void pgs_pending_free(pgs_pending *p);

typedef struct pgs_inflight {
    pgs_pending **ring;  /* request id r is at ring[r & mask] */
    uint32_t mask;       /* capacity - 1; capacity is a power of two >= the in-flight window */
    size_t count;        /* requests in flight, any owner */
    size_t pipelined;    /* of which PGS_OWN_PIPELINE */
    pgs_pending *oldest; /* submission order */
    pgs_pending *newest;
    uint32_t next_id;    /* next id to try: sequential, 1 .. 2^32-1, wrapping past 0 */
    int wrapped;         /* next_id has wrapped at least once */
} pgs_inflight;

typedef struct pgs_done {
    pgs_pending *head;
    pgs_pending *tail;
    size_t count;
} pgs_done;

/* Capacity: rounded up to a power of two (at least 1).  -1 when out of memory. */
int pgs_inflight_init(pgs_inflight *f, uint32_t capacity);
/* Only while nothing is in flight; -1 (table unchanged) when out of memory. */
int pgs_inflight_resize(pgs_inflight *f, uint32_t capacity);
/* Frees the table and every request still in it. */
void pgs_inflight_free(pgs_inflight *f);
/*
 * The id for a new request: the next one in sequence whose ring slot is free
 * (a slot stays taken while its request is unanswered, so an id is skipped
 * only behind a request that has been in flight for a whole lap of the ring).
 * Requires count < capacity.  Once the 32-bit counter has wrapped, ids of
 * replies still waiting in `done` are skipped too, so an id names one request
 * among those the caller can still see.
 */
uint32_t pgs_inflight_next_id(pgs_inflight *f, const pgs_done *done);
void pgs_inflight_add(pgs_inflight *f, pgs_pending *p);
/* The request in flight with this id, or NULL. */
pgs_pending *pgs_inflight_find(const pgs_inflight *f, uint32_t request_id);
void pgs_inflight_remove(pgs_inflight *f, pgs_pending *p);

void pgs_done_push(pgs_done *d, pgs_pending *p);
/* NULL when empty. */
pgs_pending *pgs_done_pop(pgs_done *d);
void pgs_done_free(pgs_done *d);

#endif /* PGSTATE_REQUESTS_H */
