/*
 * call.h - one request as the caller asks for it: its kind, its arguments, the
 * argument checks made before anything is sent, and its request frame
 * (INTERNAL, not installed; no I/O).
 *
 * The checks are PROTOCOL.md section 8 against the limits HELLO_OK announced,
 * plus the rules of the client-behaviour section: a str8 that does not fit is
 * refused, never truncated; DELETE's EXPECTED_REVISION flag is sent only when
 * CONDITIONAL_DELETE was announced; WHOAMI and the NAMESPACE flag only when
 * IDENTITY was; HEALTH, STATS, CLIENTS, PAUSE and RESUME only when OPERATOR
 * was; the multi-key requests only when MULTI_KEY was, a TTL only when TTL
 * was, and within the announced batch limits.  The "calls" vectors of
 * proto-spec/vectors/outcomes.json run through exactly these two functions.
 */
#ifndef PGSTATE_CALL_H
#define PGSTATE_CALL_H

#include "codec.h"
#include "pgstate.h"

#include <stddef.h>
#include <stdint.h>

/* Request kinds: the public pgstate_op values plus the handshake's HELLO. */
typedef enum pgs_op {
    PGS_OP_HELLO = 0, /* pgstate_op values start at 1; a HELLO never reaches a pgstate_reply */
    PGS_OP_PING = PGSTATE_OP_PING,
    PGS_OP_LOAD = PGSTATE_OP_LOAD,
    PGS_OP_UPSERT = PGSTATE_OP_UPSERT,
    PGS_OP_DELETE = PGSTATE_OP_DELETE,
    PGS_OP_DELETE_IF = PGSTATE_OP_DELETE_IF,
    PGS_OP_WHOAMI = PGSTATE_OP_WHOAMI,
    PGS_OP_HEALTH = PGSTATE_OP_HEALTH,
    PGS_OP_STATS = PGSTATE_OP_STATS,
    PGS_OP_CLIENTS = PGSTATE_OP_CLIENTS,
    PGS_OP_PAUSE = PGSTATE_OP_PAUSE,
    PGS_OP_RESUME = PGSTATE_OP_RESUME,
    PGS_OP_BULK_LOAD = PGSTATE_OP_BULK_LOAD,
    PGS_OP_BULK_WRITE = PGSTATE_OP_BULK_WRITE,
    PGS_OP_TRANSACT = PGSTATE_OP_TRANSACT,
    PGS_OP_LIST = PGSTATE_OP_LIST
} pgs_op;

typedef struct pgs_call {
    pgs_op op;
    /* LOAD, UPSERT, DELETE, DELETE_IF */
    const char *id;
    size_t id_len;
    /* LOAD, UPSERT, DELETE, DELETE_IF and the multi-key requests: the namespace named (flag NAMESPACE), or
       NULL for none (the connection's own); ns_len 0 names the shared one */
    const char *ns;
    size_t ns_len;
    /* UPSERT (0 creates), DELETE_IF */
    uint64_t expected_revision;
    /* UPSERT; has_ttl selects the TTL flag */
    const void *state;
    size_t state_len;
    int has_ttl;
    uint32_t ttl_seconds;
    /* BULK_LOAD: count ids (id_lens NULL: NUL-terminated); BULK_WRITE, TRANSACT: count items */
    const char *const *ids;
    const size_t *id_lens;
    const pgstate_item *items;
    size_t count;
    /* LIST: after NULL sends no cursor; limit 1 .. max_batch_items */
    const char *prefix;
    size_t prefix_len;
    const char *after;
    size_t after_len;
    uint32_t limit;
    /* CLIENTS: the page after this connection id (0: the first) */
    uint64_t after_connection;
    /* PAUSE (0: no limit) */
    uint32_t timeout_ms;
    /* HELLO */
    const uint16_t *versions;
    size_t versions_count;
    const char *client_name;
    size_t client_name_len;
} pgs_call;

/* UPSERT, DELETE, DELETE_IF, BULK_WRITE and TRANSACT change the store. */
int pgs_op_is_write(pgs_op op);
/* "PING", "LOAD", ..., "DELETE (conditional)"; static storage. */
const char *pgs_op_name(pgs_op op);

/* PGSTATE_OK, or PGSTATE_ERR_INVALID_ARGUMENT with the caller's mistake in
   why (the call must then not be sent).  lim: what HELLO_OK announced (the
   defaults of section 9 for the HELLO itself). */
int pgs_call_check(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap);

/* The part of pgs_call_check about a namespace (ns NULL: none, PGSTATE_OK):
   the rule of section 8, then the IDENTITY capability.  pgstate_set_namespace
   makes it when the name is set, every keyed call again when it is sent. */
int pgs_call_check_namespace(const char *ns, size_t ns_len, const pgs_limits *lim, char *why, size_t why_cap);

/* Words a broken id rule (pgs_id_check's problem, at its offset) as a refusal of `what` ("persistence id",
   "item 3's id", ...): PGSTATE_ERR_INVALID_ARGUMENT, or PGSTATE_OK for PGS_ID_OK. */
int pgs_refuse_id(const char *what, pgs_id_problem problem, const char *id, size_t id_len, size_t at,
                  const pgs_limits *lim, char *why, size_t why_cap);

/* Appends the call's request frame with request id rid; PGS_ENC_* (RANGE only
   for a call that pgs_call_check refuses). */
int pgs_call_encode(pgs_buf *b, uint32_t rid, const pgs_call *call);

/* multikey_call.c: the same two for BULK_LOAD, BULK_WRITE, TRANSACT and LIST (pgs_call_check and
   pgs_call_encode hand those to them).  The check may also return PGSTATE_ERR_NOMEM (the repeat check of a
   TRANSACT allocates). */
int pgs_multikey_check(const pgs_call *call, const pgs_limits *lim, char *why, size_t why_cap);
int pgs_multikey_encode(pgs_buf *b, uint32_t rid, const pgs_call *call);
/* A public item as the wire sees it (PGSTATE_ITEM_EXPECTED and PGSTATE_ITEM_TTL select the optional fields). */
struct pgs_item;
void pgs_item_of(struct pgs_item *out, const pgstate_item *in);
/* The id of BULK_LOAD's id i. */
size_t pgs_call_id_len(const pgs_call *call, size_t i);

#endif /* PGSTATE_CALL_H */
