/*
 * pgstate.h - C client library for pgstated (pgstate wire protocol v1).
 *
 * pgstated keeps, for every persistence id, at most one record (revision, state
 * blob, commit time) in PostgreSQL and changes it only when the writer names the
 * revision it expects (optimistic concurrency).  This library speaks the binary
 * protocol of proto-spec/PROTOCOL.md over the daemon's Unix domain socket.
 *
 * Shape (like libpq / hiredis):
 *   - pgstate_connect() returns an opaque handle, even when connecting failed
 *     (check pgstate_status()); only out-of-memory gives NULL.
 *   - Every call returns a status code (enum pgstate_status_code).  The text of
 *     the last error lives on the handle: pgstate_errmsg().
 *   - Every allocation handed to the caller has exactly one matching free
 *     function, and every free function accepts NULL.
 *
 * Two ways to drive a handle: blocking calls (pgstate_load, ..., and the
 * pipelined pgstate_send_* + pgstate_read_reply), or an event loop of your own
 * (epoll, libuv, libevent, ...) around pgstate_fd(): see "Event-loop use" below.
 *
 * THREAD SAFETY: a pgstate_client handle is NOT thread-safe.  Use one handle per
 * thread (or serialise all use of a handle yourself); one event-loop thread may
 * drive any number of handles.  Different handles are completely independent:
 * the library has no global state, installs no signal handlers (writes use
 * MSG_NOSIGNAL / SO_NOSIGPIPE) and may be used from many threads at once as long
 * as no handle is shared.  Records and replies are plain memory and may be
 * passed between threads.
 *
 * Library: C11 + POSIX, libc only.
 */
#ifndef PGSTATE_H
#define PGSTATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGSTATE_VERSION_MAJOR 0
#define PGSTATE_VERSION_MINOR 5
#define PGSTATE_VERSION_PATCH 0
#define PGSTATE_VERSION_STRING "0.5.0"
/* Numeric version for compile-time comparisons: 0x00MMmmpp. */
#define PGSTATE_VERSION_NUMBER                                                  \
    ((PGSTATE_VERSION_MAJOR << 16) | (PGSTATE_VERSION_MINOR << 8) | PGSTATE_VERSION_PATCH)

/* Used when pgstate_connect() gets NULL and $PGSTATE_SOCKET is unset or empty. */
#define PGSTATE_DEFAULT_SOCKET "/run/pgstated/pgstated.sock"

#if defined(__GNUC__) || defined(__clang__)
#define PGSTATE_EXPORT __attribute__((visibility("default")))
#else
#define PGSTATE_EXPORT
#endif

/*
 * Status codes.  This enum only grows: new codes are added, existing values never
 * change.  Outcomes are >= 0, errors are < 0, so `rc < 0` always means "failed"
 * (also for error classes added later).  Unknown negative codes should be handled
 * like PGSTATE_ERR_SERVER.
 */
typedef enum pgstate_status_code {
    /* ---- outcomes (not errors) ---- */
    PGSTATE_OK = 0,        /* the call did what it was asked to do */
    PGSTATE_NOT_FOUND = 1, /* LOAD: no record for this persistence id */
    PGSTATE_CONFLICT = 2,  /* UPSERT / conditional DELETE: the expected revision did
                              not hold; nothing was changed.  See
                              pgstate_conflict_expected() / pgstate_conflict_actual().
                              TRANSACT: an item's expectation did not hold, nothing
                              was applied; the conflict list names every such item. */

    /* ---- errors; each names who is at fault and whether a retry may help ---- */
    /* Caller's fault, do not retry unchanged: an argument rule failed (checked
       before sending, or the server answered 102 INVALID_ARGUMENT), the server
       does not announce the capability the call needs (nothing was sent), or
       the call was used wrongly (e.g. pgstate_read_reply() with nothing
       outstanding). */
    PGSTATE_ERR_INVALID_ARGUMENT = -1,
    /* Not executed; retry (with backoff, on a new connection if this one is gone):
       no daemon / socket missing, connection refused, server statuses 2xx
       (UNAVAILABLE, OVERLOADED, SHUTTING_DOWN, ...), the connection was lost
       before the request was written, a request left unanswered by the server's
       final SHUTTING_DOWN notice (not executed), or a read (LOAD, PING, WHOAMI,
       BULK_LOAD, LIST, the operators' calls) lost with the connection (reads
       are always safe to repeat). */
    PGSTATE_ERR_UNAVAILABLE = -2,
    /* A write may or may not have been applied: server status 3xx; a write
       answered 500 or a status of no known class; or the connection was lost
       after an UPSERT / DELETE / BULK_WRITE / TRANSACT was written.  LOAD
       first to find out, then decide; never retry blindly.  (A transaction is
       never applied in part.) */
    PGSTATE_ERR_OUTCOME_UNKNOWN = -3,
    /* The call's timeout elapsed.  The connection stays usable (a handshake
       that times out leaves none).  If no byte of the request had been written
       it is withdrawn and never sent; otherwise a late response is discarded
       and, for the writes (UPSERT, DELETE, BULK_WRITE, TRANSACT), the outcome
       is unknown.  pgstate_outcome() says which: PGSTATE_ERR_UNAVAILABLE or
       PGSTATE_ERR_OUTCOME_UNKNOWN. */
    PGSTATE_ERR_TIMEOUT = -4,
    /* Protocol violation (a bug on one side, or a version mismatch): a malformed
       or unexpected response, HELLO refused (104), HELLO_OK with unusable limits
       (e.g. max_id_bytes outside 1 .. 255), or a server status 1xx other than
       102 and 106.  The connection is closed (except after 101
       UNKNOWN_MESSAGE_TYPE and unassigned 1xx statuses with a request id,
       which the server survives);
       every request then in flight fails the same way, and a write among them
       may or may not have been applied. */
    PGSTATE_ERR_PROTOCOL = -5,
    /* Server fault answering a read (LOAD, PING, WHOAMI, BULK_LOAD, LIST, the operators' calls):
       status 500 and statuses of no known class.  A write answered so is
       PGSTATE_ERR_OUTCOME_UNKNOWN. */
    PGSTATE_ERR_SERVER = -6,
    /* Out of memory in this process. */
    PGSTATE_ERR_NOMEM = -7,
    /* Other operating-system error (socket(), poll(), permission denied on the
       socket path, ...); errno text in pgstate_errmsg(). */
    PGSTATE_ERR_IO = -8,
    /* Non-blocking mode only (pgstate_set_nonblocking): the call would have to
       wait - pgstate_send_* with max_in_flight requests unanswered.  Nothing
       was queued; read replies (pgstate_consume + pgstate_next_reply), then
       send again. */
    PGSTATE_ERR_WOULD_BLOCK = -9,
    /* The server's access rules do not let this connection's identity do
       this (server status 106 PERMISSION_DENIED); nothing was executed.  On
       a request the connection stays usable; answering the handshake, the
       server grants this peer nothing and closed the connection.  Do not
       retry: an operator changes the access rules.  pgstate_whoami() says who
       the server takes you for and what you may do. */
    PGSTATE_ERR_PERMISSION_DENIED = -10
} pgstate_status_code;

/* "PGSTATE_OK", "PGSTATE_ERR_TIMEOUT", ...; "PGSTATE_UNKNOWN_STATUS" otherwise.
   Never NULL; static storage. */
PGSTATE_EXPORT const char *pgstate_status_name(int status);

/* ------------------------------------------------------------------------- */
/* Connection handle                                                          */
/* ------------------------------------------------------------------------- */

typedef struct pgstate_client pgstate_client;

/*
 * Connects to pgstated at socket_path (NULL or "": $PGSTATE_SOCKET, else
 * PGSTATE_DEFAULT_SOCKET) and performs the HELLO handshake.
 *
 * timeout_ms bounds the connect + handshake and becomes the handle's default
 * timeout for every later call (see pgstate_set_timeout); <= 0 means no timeout.
 *
 * Always returns a handle (free it with pgstate_free) unless memory ran out, in
 * which case it returns NULL.  Check pgstate_status(c) == PGSTATE_OK; otherwise
 * pgstate_errmsg(c) says what went wrong (and names the socket path).
 */
PGSTATE_EXPORT pgstate_client *pgstate_connect(const char *socket_path, int timeout_ms);

/* Closes the connection (if any), fails what was outstanding, connects again to
   the same path and redoes the handshake.  Replies not yet read with
   pgstate_read_reply() stay readable.  Returns the new pgstate_status(). */
PGSTATE_EXPORT int pgstate_reconnect(pgstate_client *c);

/* Closes the connection and frees everything owned by the handle.  Accepts NULL.
   Requests not yet flushed are dropped. */
PGSTATE_EXPORT void pgstate_free(pgstate_client *c);

/* Status of the last call made on the handle (for a new handle: of the connect). */
PGSTATE_EXPORT int pgstate_status(const pgstate_client *c);

/* What the caller may assume about the last call's request: pgstate_status(c),
   except after PGSTATE_ERR_TIMEOUT, where it is PGSTATE_ERR_UNAVAILABLE (the
   request was never sent, or it was a read: LOAD, PING, WHOAMI, BULK_LOAD, LIST, an operator's call) or
   PGSTATE_ERR_OUTCOME_UNKNOWN (a write - UPSERT, DELETE, BULK_WRITE, TRANSACT - was sent: LOAD to find
   out). */
PGSTATE_EXPORT int pgstate_outcome(const pgstate_client *c);

/* Text of the last error on this handle ("" after a successful call).  Says who
   is at fault; for a missing socket it names the path.  Valid until the next
   call on the handle.  Never NULL (also for c == NULL). */
PGSTATE_EXPORT const char *pgstate_errmsg(const pgstate_client *c);

/* Raw u16 status of the ERROR frame behind the last call's failure (e.g. 102,
   201, 300), 0 if the last call did not end in a server ERROR. */
PGSTATE_EXPORT int pgstate_server_status(const pgstate_client *c);

/* Timeout in milliseconds for each later call on the handle (<= 0: none).  A
   blocking call's timeout covers the whole call (waiting for an in-flight slot,
   writing, waiting for the response). */
PGSTATE_EXPORT void pgstate_set_timeout(pgstate_client *c, int timeout_ms);

/* Nonzero while the handle has a live, handshaken connection that accepts new
   requests (0 once the server announced it is shutting down). */
PGSTATE_EXPORT int pgstate_is_connected(const pgstate_client *c);

/* What the server announced in HELLO_OK (0 / "" before a successful handshake). */
PGSTATE_EXPORT const char *pgstate_server_version(const pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_max_state_bytes(const pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_max_id_bytes(const pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_max_in_flight(const pgstate_client *c);
/* The largest frame the server takes and sends (a request over it is refused before sending; a BULK_LOAD answer
   that would exceed it leaves records OMITTED). */
PGSTATE_EXPORT uint32_t pgstate_max_frame_bytes(const pgstate_client *c);
#define PGSTATE_CAP_CONDITIONAL_DELETE 0x1u /* pgstate_delete_if */
#define PGSTATE_CAP_IDENTITY 0x2u           /* pgstate_whoami, pgstate_set_namespace */
#define PGSTATE_CAP_OPERATOR 0x4u           /* pgstate_health, _stats, _clients, _pause, _resume */
#define PGSTATE_CAP_MULTI_KEY 0x8u          /* pgstate_bulk_load, _bulk_write, _transact, _list */
#define PGSTATE_CAP_TTL 0x10u               /* pgstate_upsert_ttl, PGSTATE_ITEM_TTL */
PGSTATE_EXPORT uint32_t pgstate_capabilities(const pgstate_client *c);
/* With MULTI_KEY (else 0): the most ids or items of one multi-key call (also the largest LIST limit), and the
   most state bytes of all items of one pgstate_bulk_write / pgstate_transact together. */
PGSTATE_EXPORT uint32_t pgstate_max_batch_items(const pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_max_batch_bytes(const pgstate_client *c);

/* ------------------------------------------------------------------------- */
/* Records                                                                    */
/* ------------------------------------------------------------------------- */

/*
 * A stored record, allocated by the library in a single block and owned by the
 * caller once returned; free it with pgstate_record_free().  Fields are
 * read-only.  New fields may be appended at the end in later versions (the
 * library always allocates the struct, so this is ABI-safe).
 */
typedef struct pgstate_record {
    const char *persistence_id; /* persistence_id_len bytes + a terminating NUL */
    size_t persistence_id_len;
    uint64_t revision;          /* 1 .. 2^63-1 */
    int64_t updated_at_us;      /* commit time, microseconds since the Unix epoch;
                                   informational, never use it to order revisions */
    const void *state;          /* state_len opaque bytes, followed by one NUL byte
                                   (not part of the state) for convenience */
    size_t state_len;
} pgstate_record;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_record_free(pgstate_record *r);

/* ------------------------------------------------------------------------- */
/* Identity and namespaces                                                    */
/* ------------------------------------------------------------------------- */

/*
 * The server identifies each connection by the peer credentials the kernel
 * reports (never by anything the client sends) and its access rules map that
 * identity to a namespace and permissions.  Records live per namespace: the
 * same persistence id in two namespaces names two records.  Requests address
 * the connection's namespace unless the handle names another one
 * (pgstate_set_namespace, which needs ANY_NAMESPACE for any but its own).
 * Both calls below need the server's IDENTITY capability.
 */

/* permissions bits (unknown bits the server may send are cleared) */
#define PGSTATE_PERM_READ 0x1u          /* LOAD, BULK_LOAD, LIST */
#define PGSTATE_PERM_WRITE 0x2u         /* UPSERT, DELETE, BULK_WRITE, TRANSACT */
#define PGSTATE_PERM_ADMIN 0x4u
#define PGSTATE_PERM_ANY_NAMESPACE 0x8u /* may name any namespace, not only its own */

/*
 * Who the server takes the connection's peer to be, allocated by the library
 * in a single block (like a record) and owned by the caller once returned;
 * free it with pgstate_identity_free().  The strings are NUL-terminated UTF-8
 * inside the block.  Fields may be appended in later versions.
 */
typedef struct pgstate_identity {
    uint32_t uid;         /* the peer's user id, from the kernel when the server accepted it */
    uint32_t gid;         /* its primary group id */
    uint32_t pid;         /* its process id as the server sees it, 0 if unknown; informational
                             (a pid can be reused) */
    const char *user;     /* the name of uid, "" when it has none */
    size_t user_len;
    const char *ns;       /* the namespace the connection's requests address ("" = the shared
                             namespace); called ns because namespace is a C++ keyword */
    size_t ns_len;
    uint32_t permissions; /* PGSTATE_PERM_* bits */
    const char *rule;     /* the access rule that granted them (e.g. "/etc/pgstated/access.conf:4"),
                             "" when the server has no access rules; informational */
    size_t rule_len;
} pgstate_identity;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_identity_free(pgstate_identity *who);

/* WHOAMI: PGSTATE_OK with *out = the connection's identity, or an error with
   *out = NULL (out may be NULL).  Any connection may ask, whatever its
   permissions.  Without the server's IDENTITY capability it fails with
   PGSTATE_ERR_INVALID_ARGUMENT and sends nothing. */
PGSTATE_EXPORT int pgstate_whoami(pgstate_client *c, pgstate_identity **out);

/* Names the namespace that this handle's later loads, upserts, deletes and
   multi-key calls (blocking and pipelined) address, instead of the connection's own: ns is a
   NUL-terminated name of 0 .. 63 bytes, each an ASCII letter, digit, '.', '_'
   or '-' ("" is the shared namespace).  NULL clears it (requests address the
   connection's namespace again).  A property of the handle: it stays across
   pgstate_reconnect.  Returns PGSTATE_OK, or PGSTATE_ERR_INVALID_ARGUMENT
   (the name breaks the rule, or the server did not announce IDENTITY; the
   setting is then unchanged).  Naming a namespace other than the
   connection's own needs PGSTATE_PERM_ANY_NAMESPACE: without it each request
   fails with PGSTATE_ERR_PERMISSION_DENIED. */
PGSTATE_EXPORT int pgstate_set_namespace(pgstate_client *c, const char *ns);
/* The namespace set with pgstate_set_namespace, or NULL if none is. */
PGSTATE_EXPORT const char *pgstate_namespace(const pgstate_client *c);

/* ------------------------------------------------------------------------- */
/* Blocking calls                                                             */
/* ------------------------------------------------------------------------- */

/*
 * Argument rules, checked before anything is sent (PGSTATE_ERR_INVALID_ARGUMENT):
 *   - id: 1 .. max_id_bytes (<= 255) bytes of valid UTF-8 (no overlong forms, no
 *     surrogates), no character U+0000-U+001F or U+007F.  Ids are compared byte
 *     for byte.  id_len counts bytes; the id need not be NUL-terminated.
 *   - upsert expected_revision: 0 (create) .. 2^63-2;
 *   - delete_if expected_revision: 0 .. 2^63-1 (0 means "only if absent");
 *   - state: 0 .. max_state_bytes bytes (state may be NULL when state_len is 0).
 *   - with a namespace set (pgstate_set_namespace): the server's IDENTITY
 *     capability (checked again for every request, e.g. after a reconnect).
 *
 * Each call waits for its own response.  If pipelined requests (pgstate_send_*)
 * are outstanding, their responses arriving meanwhile are queued for
 * pgstate_read_reply().
 */

/* PGSTATE_OK with *out = the record, or PGSTATE_NOT_FOUND with *out = NULL, or an
   error with *out = NULL.  out may be NULL (only the status is wanted). */
PGSTATE_EXPORT int pgstate_load(pgstate_client *c, const char *id, size_t id_len,
                                pgstate_record **out);

/* expected_revision 0 creates (no record may exist), N > 0 replaces revision N.
   PGSTATE_OK with *out = the new record (revision expected_revision + 1), or
   PGSTATE_CONFLICT (nothing changed; see pgstate_conflict_actual()), or an error;
   *out is NULL unless PGSTATE_OK.  out may be NULL. */
PGSTATE_EXPORT int pgstate_upsert(pgstate_client *c, const char *id, size_t id_len,
                                  uint64_t expected_revision, const void *state,
                                  size_t state_len, pgstate_record **out);

/* Unconditional delete: PGSTATE_OK whether or not a record existed. */
PGSTATE_EXPORT int pgstate_delete(pgstate_client *c, const char *id, size_t id_len);

/* Conditional delete of revision expected_revision (0: succeed only if absent):
   PGSTATE_OK or PGSTATE_CONFLICT.  Requires the server's CONDITIONAL_DELETE
   capability; without it the call fails with PGSTATE_ERR_INVALID_ARGUMENT and
   sends nothing. */
PGSTATE_EXPORT int pgstate_delete_if(pgstate_client *c, const char *id, size_t id_len,
                                     uint64_t expected_revision);

/* Round trip to the server: PGSTATE_OK if it answered. */
PGSTATE_EXPORT int pgstate_ping(pgstate_client *c);

/* After PGSTATE_CONFLICT: the revision the request expected, and the revision
   committed when the server checked (0: no record).  0 after other outcomes. */
PGSTATE_EXPORT uint64_t pgstate_conflict_expected(const pgstate_client *c);
PGSTATE_EXPORT uint64_t pgstate_conflict_actual(const pgstate_client *c);

/* ------------------------------------------------------------------------- */
/* Multi-key calls and TTL                                                    */
/* ------------------------------------------------------------------------- */

/*
 * Many ids in one round trip (PROTOCOL.md 6.22 - 6.30).  The multi-key calls
 * need the server's MULTI_KEY capability, a TTL needs TTL
 * (pgstate_capabilities(c) & PGSTATE_CAP_MULTI_KEY / PGSTATE_CAP_TTL); without
 * it the call fails with PGSTATE_ERR_INVALID_ARGUMENT and sends nothing.  They
 * address the handle's namespace, like the single-key calls.
 *
 * Checked before anything is sent (PGSTATE_ERR_INVALID_ARGUMENT, the whole
 * call refused, nothing sent):
 *   - 1 .. pgstate_max_batch_items(c) ids or items per call, and a LIST limit
 *     of 1 .. pgstate_max_batch_items(c) - never split or clamped;
 *   - the states of all upsert items of one call at most
 *     pgstate_max_batch_bytes(c) bytes together;
 *   - every id, expected revision and state by the rules of the single calls
 *     (a bad item refuses pgstate_bulk_write too: the caller fixes the call);
 *     ttl_seconds 1 .. 2^31-1;
 *   - a transaction names each id once;
 *   - the request frame fits the server's max_frame_bytes.
 *
 * Results are allocated by the library in one block each and owned by the
 * caller; free each with its own free function (which accepts NULL).  The
 * structs may get fields appended; the element structs of their arrays
 * (pgstate_loaded, pgstate_item_outcome, pgstate_item_conflict,
 * pgstate_list_entry) and pgstate_item, which the caller allocates, keep their
 * layout for this soname.
 */

/* An upsert whose new revision expires ttl_seconds (1 .. 2^31-1) after its
   commit, by the database's clock: from then on the id has no record for every
   call (a load finds nothing, an update conflicts with actual revision 0, a
   create succeeds at revision 1).  An upsert without TTL clears an expiry.
   Otherwise exactly pgstate_upsert.  Needs TTL. */
PGSTATE_EXPORT int pgstate_upsert_ttl(pgstate_client *c, const char *id, size_t id_len,
                                      uint64_t expected_revision, const void *state, size_t state_len,
                                      uint32_t ttl_seconds, pgstate_record **out);

/* ---- BULK_LOAD ---- */

/* pgstate_loaded.presence */
#define PGSTATE_ABSENT 0  /* no record (none, or expired) */
#define PGSTATE_FOUND 1   /* record is set */
#define PGSTATE_OMITTED 2 /* pipelined form only: the answer had no room for it; load it again */

typedef struct pgstate_loaded {
    const char *persistence_id;   /* the id asked for, NUL-terminated */
    size_t persistence_id_len;
    int presence;                 /* PGSTATE_ABSENT, PGSTATE_FOUND or PGSTATE_OMITTED */
    const pgstate_record *record; /* FOUND: the record, inside the list's block (never free it alone); else NULL */
} pgstate_loaded;

typedef struct pgstate_record_list {
    size_t count;                  /* the number of ids asked for */
    const pgstate_loaded *entries; /* one per id, in the order asked (an id asked twice is there twice) */
    size_t omitted;                /* entries OMITTED (always 0 from pgstate_bulk_load) */
} pgstate_record_list;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_record_list_free(pgstate_record_list *list);

/* Loads count ids (ids[i] of id_lens[i] bytes; id_lens NULL: each id is a
   NUL-terminated string).  PGSTATE_OK with *out = one entry per id, FOUND or
   ABSENT, or an error with *out = NULL (out may be NULL).  When the server's
   answer had no room for every record (it marks the rest OMITTED), the call
   asks again for those, until every id is answered, within the one timeout;
   every FOUND record was committed when it was read, but the records were not
   necessarily all read at one moment. */
PGSTATE_EXPORT int pgstate_bulk_load(pgstate_client *c, const char *const *ids, const size_t *id_lens, size_t count,
                                     pgstate_record_list **out);

/* ---- BULK_WRITE and TRANSACT ---- */

/* pgstate_item.kind */
#define PGSTATE_ITEM_UPSERT 1
#define PGSTATE_ITEM_DELETE 2
/* pgstate_item.flags */
#define PGSTATE_ITEM_EXPECTED 0x1u /* a delete item is conditional on expected_revision (0: only if absent;
                                      needs CONDITIONAL_DELETE); without it a delete item is unconditional */
#define PGSTATE_ITEM_TTL 0x2u      /* an upsert item's revision expires after ttl_seconds (needs TTL) */

/* One write of a batch, in the caller's memory: each means exactly the
   single call it mirrors (pgstate_upsert, pgstate_upsert_ttl, pgstate_delete,
   pgstate_delete_if).  Zero-initialise it, or use the pgstate_item_* helpers
   below. */
typedef struct pgstate_item {
    int kind;                   /* PGSTATE_ITEM_UPSERT or PGSTATE_ITEM_DELETE */
    unsigned flags;             /* PGSTATE_ITEM_* bits: 0 for a plain upsert or an unconditional delete */
    const char *id;             /* id_len bytes */
    size_t id_len;
    uint64_t expected_revision; /* upsert: 0 creates, N replaces revision N; delete: with PGSTATE_ITEM_EXPECTED */
    const void *state;          /* upsert: state_len bytes (may be NULL when state_len is 0) */
    size_t state_len;
    uint32_t ttl_seconds;       /* upsert with PGSTATE_ITEM_TTL: 1 .. 2^31-1 */
} pgstate_item;

static inline pgstate_item pgstate_item_upsert(const char *id, size_t id_len, uint64_t expected_revision,
                                               const void *state, size_t state_len) {
    pgstate_item it; /* every field set: also warning-free C++ */
    it.kind = PGSTATE_ITEM_UPSERT;
    it.flags = 0;
    it.id = id;
    it.id_len = id_len;
    it.expected_revision = expected_revision;
    it.state = state;
    it.state_len = state_len;
    it.ttl_seconds = 0;
    return it;
}

static inline pgstate_item pgstate_item_upsert_ttl(const char *id, size_t id_len, uint64_t expected_revision,
                                                   const void *state, size_t state_len, uint32_t ttl_seconds) {
    pgstate_item it = pgstate_item_upsert(id, id_len, expected_revision, state, state_len);
    it.flags = PGSTATE_ITEM_TTL;
    it.ttl_seconds = ttl_seconds;
    return it;
}

static inline pgstate_item pgstate_item_delete(const char *id, size_t id_len) {
    pgstate_item it = pgstate_item_upsert(id, id_len, 0, NULL, 0);
    it.kind = PGSTATE_ITEM_DELETE;
    return it;
}

static inline pgstate_item pgstate_item_delete_if(const char *id, size_t id_len, uint64_t expected_revision) {
    pgstate_item it = pgstate_item_delete(id, id_len);
    it.flags = PGSTATE_ITEM_EXPECTED;
    it.expected_revision = expected_revision;
    return it;
}

/* pgstate_item_outcome.result */
#define PGSTATE_ITEM_WRITTEN 1  /* an upsert item applied: revision (expected + 1) and updated_at_us */
#define PGSTATE_ITEM_DELETED 2  /* a delete item answered OK (also when there was nothing to delete) */
#define PGSTATE_ITEM_CONFLICT 3 /* its expectation did not hold; nothing changed for this item */
#define PGSTATE_ITEM_FAILED 4   /* this item alone failed: status, server_status, message */

typedef struct pgstate_item_outcome {
    const char *persistence_id; /* the item's id, NUL-terminated */
    size_t persistence_id_len;
    int result;                 /* PGSTATE_ITEM_WRITTEN, _DELETED, _CONFLICT or _FAILED */
    int status;                 /* what the single call would have returned: PGSTATE_OK (written, deleted),
                                   PGSTATE_CONFLICT, or for a failed item its class: PGSTATE_ERR_INVALID_ARGUMENT
                                   (102), PGSTATE_ERR_UNAVAILABLE (2xx: not executed), PGSTATE_ERR_OUTCOME_UNKNOWN
                                   (3xx, 500: this item may or may not have been applied), ... */
    uint64_t revision;          /* WRITTEN: the new revision */
    int64_t updated_at_us;      /* WRITTEN: its commit time */
    uint64_t expected_revision; /* CONFLICT: the item's */
    uint64_t actual_revision;   /* CONFLICT: the committed revision (0: no record, or expired) */
    int server_status;          /* FAILED: the raw status, e.g. 102, 201, 300, 500; else 0 */
    const char *message;        /* FAILED: the server's text (never decide on it); else ""; NUL-terminated */
    size_t message_len;
} pgstate_item_outcome;

typedef struct pgstate_outcome_list {
    size_t count;                       /* the number of items */
    const pgstate_item_outcome *items;  /* one per item, in item order */
} pgstate_outcome_list;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_outcome_list_free(pgstate_outcome_list *list);

/* BULK_WRITE: every item applied or not by its own rules, independently: one
   item's conflict or failure never changes another's outcome (two items for
   one id apply in item order).  PGSTATE_OK with *out = one outcome per item
   (conflicts and failed items included: read each), or an error with *out =
   NULL (out may be NULL); PGSTATE_ERR_OUTCOME_UNKNOWN when the request as a
   whole may or may not have been applied (any item of it). */
PGSTATE_EXPORT int pgstate_bulk_write(pgstate_client *c, const pgstate_item *items, size_t count,
                                      pgstate_outcome_list **out);

typedef struct pgstate_item_conflict {
    size_t index;               /* the item's position in the call's array, from 0 */
    const char *persistence_id; /* the item's id, NUL-terminated */
    size_t persistence_id_len;
    uint64_t expected_revision; /* the item's */
    uint64_t actual_revision;   /* the committed revision (0: no record, or expired) */
} pgstate_item_conflict;

typedef struct pgstate_conflict_list {
    size_t count;                       /* at least 1 */
    const pgstate_item_conflict *items; /* every item whose expectation failed, by ascending index */
} pgstate_conflict_list;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_conflict_list_free(pgstate_conflict_list *list);

/* TRANSACT: all items or none, in one database transaction (an unconditional
   delete item never fails; an id may appear only once).  PGSTATE_OK with
   *committed = every item's outcome (WRITTEN with its new revision, or
   DELETED); PGSTATE_CONFLICT with *conflicts = every item whose expectation
   did not hold - nothing was applied: load, merge, try again; or an error with
   both NULL (PGSTATE_ERR_OUTCOME_UNKNOWN: all or nothing was applied, never a
   part).  committed and conflicts may be NULL. */
PGSTATE_EXPORT int pgstate_transact(pgstate_client *c, const pgstate_item *items, size_t count,
                                    pgstate_outcome_list **committed, pgstate_conflict_list **conflicts);

/* ---- LIST ---- */

typedef struct pgstate_list_entry {
    const char *persistence_id; /* NUL-terminated */
    size_t persistence_id_len;
    uint64_t revision;          /* its current revision */
    int64_t updated_at_us;      /* its commit time */
} pgstate_list_entry;

typedef struct pgstate_page {
    size_t count;
    const pgstate_list_entry *entries; /* ascending byte order of id */
    int more;                          /* 1: ids may follow - list again with after = next_after */
    const char *next_after;            /* more: the last entry's id (NUL-terminated), else NULL */
    size_t next_after_len;
} pgstate_page;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_page_free(pgstate_page *page);

/* LIST: one page of the ids (of the handle's namespace) that start with
   prefix (prefix_len bytes, may be 0: every id; the characters of an id) and,
   when after is not NULL, are greater than after (after_len bytes, an id: the
   cursor), in ascending byte order, at most limit (1 ..
   pgstate_max_batch_items(c)).  Expired records are left out.  PGSTATE_OK with
   *out = the page, or an error with *out = NULL (out may be NULL).  Following
   next_after from the first page to the last sees every id that existed
   throughout exactly once, in order. */
PGSTATE_EXPORT int pgstate_list(pgstate_client *c, const char *prefix, size_t prefix_len, const char *after,
                                size_t after_len, uint32_t limit, pgstate_page **out);

/* ------------------------------------------------------------------------- */
/* Operators' calls                                                           */
/* ------------------------------------------------------------------------- */

/*
 * For supervisors and operator tools (PROTOCOL.md sections 6.15 - 6.21).  All
 * five need the server's OPERATOR capability (pgstate_capabilities(c) &
 * PGSTATE_CAP_OPERATOR): without it they fail with
 * PGSTATE_ERR_INVALID_ARGUMENT and send nothing.  pgstate_health needs no
 * permission; the other four need PGSTATE_PERM_ADMIN, without which the
 * server answers PGSTATE_ERR_PERMISSION_DENIED (nothing done, the connection
 * stays).  None of them changes a record: lost or timed out, each may simply
 * be sent again (they are reads for pgstate_outcome).
 */

/* pgstate_health_info.state bits (bits the library does not know are cleared) */
#define PGSTATE_HEALTH_POOL_UP 0x1u  /* every server thread has a database connection up: requests can execute */
#define PGSTATE_HEALTH_PAUSED 0x2u   /* paused by an operator (pgstate_pause) until pgstate_resume */
#define PGSTATE_HEALTH_DRAINING 0x4u /* the server is shutting down */

/*
 * The server's health.  That it answered at all is its liveness; `ready` is its
 * readiness.  Filled in by pgstate_health in the caller's memory, so this
 * struct keeps its layout for this soname (more figures would come in a new
 * call).
 */
typedef struct pgstate_health_info {
    uint32_t state;     /* PGSTATE_HEALTH_* bits */
    int ready;          /* 1: POOL_UP and neither PAUSED nor DRAINING - the server executes requests now */
    uint32_t pool_up;   /* database connections up now */
    uint32_t pool_size; /* the configured pool size */
    uint32_t clients;   /* client connections open now, this one included */
    uint64_t uptime_ms; /* milliseconds since the server started */
} pgstate_health_info;

/* HEALTH: PGSTATE_OK with *out filled (ready or not: a server that is not
   ready still answers), or an error with *out zeroed (out may be NULL).  It is
   answered while the server is paused and while its database is down. */
PGSTATE_EXPORT int pgstate_health(pgstate_client *c, pgstate_health_info *out);

/* One figure of pgstate_stats, named as the server's metrics endpoint names it. */
typedef struct pgstate_stat {
    const char *name;   /* a Prometheus metric name, e.g. "pgstate_requests_total" (PROTOCOL.md 6.18 lists
                           them; a newer server may send names this library does not know); NUL-terminated */
    size_t name_len;
    const char *labels; /* the label set in exposition syntax without braces, e.g. op="load",outcome="ok";
                           "" when none; UTF-8, NUL-terminated */
    size_t labels_len;
    double value;       /* counts are exact up to 2^53 */
} pgstate_stat;

/* Every STATS entry, sorted by (name, labels), in one allocation owned by the
   caller: free it with pgstate_stats_list_free.  Fields may be appended to this
   struct (not to pgstate_stat, which is an array element). */
typedef struct pgstate_stats_list {
    size_t count;
    const pgstate_stat *entries; /* count entries */
} pgstate_stats_list;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_stats_list_free(pgstate_stats_list *list);

/* STATS (needs ADMIN): PGSTATE_OK with *out = the snapshot, or an error with
   *out = NULL (out may be NULL). */
PGSTATE_EXPORT int pgstate_stats(pgstate_client *c, pgstate_stats_list **out);

/* pgstate_client_row.state: what the server's connection is doing */
#define PGSTATE_CONN_HANDSHAKE 0 /* before its HELLO was answered */
#define PGSTATE_CONN_READY 1
#define PGSTATE_CONN_DRAINING 2  /* the server is shutting down */

/* One client connection of the server (not a pgstate_client handle). */
typedef struct pgstate_client_row {
    uint64_t connection_id;  /* unique for the server's lifetime, >= 1; rows ascend by it */
    uint32_t uid;            /* the peer's user id when the server accepted it */
    uint32_t pid;            /* its process id then, 0 if unknown; informational */
    const char *user;        /* the name of uid, "" when it has none (NUL-terminated, like the next two) */
    size_t user_len;
    const char *ns;          /* the connection's namespace, "" for the shared one */
    size_t ns_len;
    const char *client_name; /* the client name its HELLO gave, "" before HELLO */
    size_t client_name_len;
    int state;               /* PGSTATE_CONN_*, or another value from a newer server (show it as unknown) */
    uint64_t connected_ms;   /* Unix time in milliseconds when the server accepted it */
    uint64_t requests;       /* requests it has had answered */
    uint32_t in_flight;      /* requests read from it and not yet answered */
} pgstate_client_row;

/* Client connections of the server, in one allocation owned by the caller:
   free it with pgstate_client_list_free.  Fields may be appended to this
   struct (not to pgstate_client_row). */
typedef struct pgstate_client_list {
    size_t count;
    const pgstate_client_row *rows; /* count rows, ascending by connection_id */
    int more; /* one page (pgstate_send_clients): 1 when connections with a greater id remain - ask
                 again after the last row's id; 0 from pgstate_clients, which follows every page */
} pgstate_client_list;

/* Accepts NULL. */
PGSTATE_EXPORT void pgstate_client_list_free(pgstate_client_list *list);

/* "HANDSHAKE", "READY", "DRAINING", or "UNKNOWN" for a state this library does not know.  Static storage. */
PGSTATE_EXPORT const char *pgstate_client_state_name(int state);

/* CLIENTS (needs ADMIN): every client connection of the server, asked page by
   page (at most 512 rows each) until the last; the handle's timeout covers all
   pages.  PGSTATE_OK with *out = the rows, or an error with *out = NULL (out
   may be NULL).  The listing is not a snapshot (connections come and go
   between pages), but none open throughout is left out or shown twice. */
PGSTATE_EXPORT int pgstate_clients(pgstate_client *c, pgstate_client_list **out);

/* PAUSE (needs ADMIN): the server stops sending requests to PostgreSQL (loads,
   upserts and deletes wait; everything else is still answered) and this call
   returns PGSTATE_OK once none is executing there any more, so that an
   operator may switch the database over.  A request waiting longer than
   timeout_ms fails with PGSTATE_ERR_UNAVAILABLE (not executed); 0 means no
   limit.  Pausing again replaces the timeout.  The pause lasts until
   pgstate_resume, also after this connection closes.  The handle's timeout
   applies as usual: on PGSTATE_ERR_TIMEOUT the server may already be paused
   (PAUSE again, or RESUME). */
PGSTATE_EXPORT int pgstate_pause(pgstate_client *c, uint32_t timeout_ms);

/* RESUME (needs ADMIN): the requests held back by a pause run.  PGSTATE_OK, also
   when the server was not paused. */
PGSTATE_EXPORT int pgstate_resume(pgstate_client *c);

/* ------------------------------------------------------------------------- */
/* Pipelining                                                                 */
/* ------------------------------------------------------------------------- */

/*
 * pgstate_send_* check the arguments (rules above), encode the request into the
 * handle's output buffer and return its request id (1 .. 2^32-1), or 0 on error
 * (pgstate_status / pgstate_errmsg say why; nothing was queued).  The caller's
 * id and state buffers may be reused as soon as the call returns.  Ids are
 * allocated in sequence (skipping 0, and any id still in use).
 *
 * Requests are written by pgstate_flush() and by pgstate_read_reply() (which
 * flushes first).  A send_* call also writes by itself when the output buffer
 * exceeds 256 KiB.
 *
 * In-flight limit: when max_in_flight requests (the limit the server announced,
 * capped at 4096 by the library) are unanswered, send_* FLUSHES AND BLOCKS,
 * reading responses until a slot frees up (up to the handle's timeout; on
 * timeout it returns 0 with PGSTATE_ERR_TIMEOUT and queues nothing; in
 * non-blocking mode it returns 0 with PGSTATE_ERR_WOULD_BLOCK at once).
 * Responses read this way are queued and returned later by pgstate_read_reply()
 * (or pgstate_next_reply()), so the protocol limit is never exceeded.  While
 * writing, the library keeps reading responses, so a long pipeline cannot
 * deadlock against server back-pressure.
 *
 * Responses may come in any order (except in send order for the same id);
 * match them by request id.  Every request gets exactly one reply; when the
 * connection ends, each outstanding request gets a reply of kind
 * PGSTATE_REPLY_ERROR (UNAVAILABLE, OUTCOME_UNKNOWN or PROTOCOL, as above).
 */
PGSTATE_EXPORT uint32_t pgstate_send_load(pgstate_client *c, const char *id, size_t id_len);
PGSTATE_EXPORT uint32_t pgstate_send_upsert(pgstate_client *c, const char *id, size_t id_len,
                                            uint64_t expected_revision, const void *state,
                                            size_t state_len);
PGSTATE_EXPORT uint32_t pgstate_send_delete(pgstate_client *c, const char *id, size_t id_len);
PGSTATE_EXPORT uint32_t pgstate_send_delete_if(pgstate_client *c, const char *id, size_t id_len,
                                               uint64_t expected_revision);
PGSTATE_EXPORT uint32_t pgstate_send_ping(pgstate_client *c);
/* Reply of kind PGSTATE_REPLY_IDENTITY; needs the IDENTITY capability. */
PGSTATE_EXPORT uint32_t pgstate_send_whoami(pgstate_client *c);
/* The operators' requests (they need the OPERATOR capability): replies of kind
   PGSTATE_REPLY_HEALTH (reply->health), PGSTATE_REPLY_STATS (reply->stats),
   PGSTATE_REPLY_CLIENTS (reply->clients: ONE page, the connections whose id is
   greater than after_connection, 0 for the first; while its `more` is 1, send
   again after the last row's connection_id), and PGSTATE_REPLY_OK for PAUSE
   and RESUME. */
PGSTATE_EXPORT uint32_t pgstate_send_health(pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_send_stats(pgstate_client *c);
PGSTATE_EXPORT uint32_t pgstate_send_clients(pgstate_client *c, uint64_t after_connection);
PGSTATE_EXPORT uint32_t pgstate_send_pause(pgstate_client *c, uint32_t timeout_ms);
PGSTATE_EXPORT uint32_t pgstate_send_resume(pgstate_client *c);
/* The multi-key requests and TTL (same rules as their blocking calls): replies
   of kind PGSTATE_REPLY_RECORDS (reply->records: ONE answer, whose OMITTED
   entries the caller loads again), PGSTATE_REPLY_OUTCOMES (reply->outcomes),
   PGSTATE_REPLY_COMMITTED (reply->outcomes) or PGSTATE_REPLY_TRANSACTION_CONFLICT
   (reply->conflicts, status PGSTATE_CONFLICT), PGSTATE_REPLY_PAGE
   (reply->page), and RECORD / CONFLICT for an upsert with TTL. */
PGSTATE_EXPORT uint32_t pgstate_send_upsert_ttl(pgstate_client *c, const char *id, size_t id_len,
                                                uint64_t expected_revision, const void *state, size_t state_len,
                                                uint32_t ttl_seconds);
PGSTATE_EXPORT uint32_t pgstate_send_bulk_load(pgstate_client *c, const char *const *ids, const size_t *id_lens,
                                               size_t count);
PGSTATE_EXPORT uint32_t pgstate_send_bulk_write(pgstate_client *c, const pgstate_item *items, size_t count);
PGSTATE_EXPORT uint32_t pgstate_send_transact(pgstate_client *c, const pgstate_item *items, size_t count);
PGSTATE_EXPORT uint32_t pgstate_send_list(pgstate_client *c, const char *prefix, size_t prefix_len,
                                          const char *after, size_t after_len, uint32_t limit);

/* Writes buffered requests.  Blocking mode (the default): writes all of them
   (reading responses meanwhile) and returns PGSTATE_OK (0), or an error
   (PGSTATE_ERR_TIMEOUT leaves the rest buffered for the next flush).
   Non-blocking mode: writes what the socket takes now and returns 0 when
   nothing remains, 1 when output remains (wait until pgstate_fd() is writable
   and call it again), or an error (< 0). */
PGSTATE_EXPORT int pgstate_flush(pgstate_client *c);

/* Number of pipelined requests whose reply has not yet been returned by
   pgstate_read_reply() (in flight or queued). */
PGSTATE_EXPORT size_t pgstate_pending(const pgstate_client *c);

typedef enum pgstate_reply_kind {
    PGSTATE_REPLY_RECORD = 1,    /* record != NULL (LOAD found, UPSERT succeeded) */
    PGSTATE_REPLY_NOT_FOUND = 2, /* LOAD: no record */
    PGSTATE_REPLY_OK = 3,        /* DELETE / PING / PAUSE / RESUME succeeded */
    PGSTATE_REPLY_CONFLICT = 4,  /* expected_revision / actual_revision set */
    PGSTATE_REPLY_ERROR = 5,     /* status < 0; server_status, message */
    PGSTATE_REPLY_IDENTITY = 6,  /* WHOAMI answered: identity != NULL */
    PGSTATE_REPLY_HEALTH = 7,    /* HEALTH answered: health filled in */
    PGSTATE_REPLY_STATS = 8,     /* STATS answered: stats != NULL */
    PGSTATE_REPLY_CLIENTS = 9,   /* CLIENTS answered: clients != NULL (one page) */
    PGSTATE_REPLY_RECORDS = 10,  /* BULK_LOAD answered: records != NULL (OMITTED entries included) */
    PGSTATE_REPLY_OUTCOMES = 11, /* BULK_WRITE answered: outcomes != NULL, one per item */
    PGSTATE_REPLY_COMMITTED = 12, /* TRANSACT applied: outcomes != NULL (all WRITTEN or DELETED) */
    PGSTATE_REPLY_TRANSACTION_CONFLICT = 13, /* TRANSACT not applied: conflicts != NULL, status PGSTATE_CONFLICT */
    PGSTATE_REPLY_PAGE = 14      /* LIST answered: page != NULL */
} pgstate_reply_kind;

typedef enum pgstate_op {
    PGSTATE_OP_PING = 1,
    PGSTATE_OP_LOAD = 2,
    PGSTATE_OP_UPSERT = 3,
    PGSTATE_OP_DELETE = 4,
    PGSTATE_OP_DELETE_IF = 5,
    PGSTATE_OP_WHOAMI = 6,
    PGSTATE_OP_HEALTH = 7,
    PGSTATE_OP_STATS = 8,
    PGSTATE_OP_CLIENTS = 9,
    PGSTATE_OP_PAUSE = 10,
    PGSTATE_OP_RESUME = 11,
    PGSTATE_OP_BULK_LOAD = 12,
    PGSTATE_OP_BULK_WRITE = 13,
    PGSTATE_OP_TRANSACT = 14,
    PGSTATE_OP_LIST = 15
} pgstate_op;

/*
 * One reply, owned by the caller; free with pgstate_reply_free().  Fields are
 * read-only, except that the caller may take `record` (set the field to NULL
 * and later free the record with pgstate_record_free), `identity` (likewise,
 * pgstate_identity_free), `stats` (pgstate_stats_list_free), `clients`
 * (pgstate_client_list_free), `records` (pgstate_record_list_free), `outcomes`
 * (pgstate_outcome_list_free), `conflicts` (pgstate_conflict_list_free) and
 * `page` (pgstate_page_free).  Fields may be appended in later versions.
 */
typedef struct pgstate_reply {
    uint32_t request_id;        /* as returned by pgstate_send_* */
    int op;                     /* pgstate_op of the request */
    int kind;                   /* pgstate_reply_kind */
    int status;                 /* what the blocking call would have returned:
                                   PGSTATE_OK / NOT_FOUND / CONFLICT / PGSTATE_ERR_* */
    const char *persistence_id; /* the request's id (NUL-terminated; "" for requests without one) */
    size_t persistence_id_len;
    pgstate_record *record;     /* kind RECORD, else NULL */
    uint64_t expected_revision; /* kind CONFLICT: from the request */
    uint64_t actual_revision;   /* kind CONFLICT: committed revision (0: none) */
    int server_status;          /* kind ERROR: raw ERROR status, 0 if the error was
                                   detected by the client (e.g. connection lost) */
    const char *message;        /* kind ERROR: human-readable text (server message
                                   or client explanation, maybe truncated); "" otherwise.
                                   Never decide on it. */
    pgstate_identity *identity; /* kind IDENTITY, else NULL */
    pgstate_health_info health; /* kind HEALTH, else zero */
    pgstate_stats_list *stats;  /* kind STATS, else NULL */
    pgstate_client_list *clients; /* kind CLIENTS (one page), else NULL */
    pgstate_record_list *records;   /* kind RECORDS, else NULL */
    pgstate_outcome_list *outcomes; /* kind OUTCOMES or COMMITTED, else NULL */
    pgstate_conflict_list *conflicts; /* kind TRANSACTION_CONFLICT, else NULL */
    pgstate_page *page;             /* kind PAGE, else NULL */
} pgstate_reply;

/* Blocks (up to the handle's timeout) for the next reply of a pipelined request,
   in whatever order the server answers, flushing buffered requests first.
   Returns PGSTATE_OK with *out set (the reply's own status may be an error), or
   an error with *out = NULL: PGSTATE_ERR_INVALID_ARGUMENT when no pipelined
   request is pending, PGSTATE_ERR_TIMEOUT (call again later), NOMEM, IO. */
PGSTATE_EXPORT int pgstate_read_reply(pgstate_client *c, pgstate_reply **out);

/* Accepts NULL; also frees reply->record, ->identity, ->stats, ->clients, ->records, ->outcomes, ->conflicts
   and ->page unless the caller took them. */
PGSTATE_EXPORT void pgstate_reply_free(pgstate_reply *r);

/* ------------------------------------------------------------------------- */
/* Event-loop use                                                             */
/* ------------------------------------------------------------------------- */

/*
 * Like libpq's PQsocket / PQconsumeInput / PQisBusy and hiredis' async API: the
 * caller's event loop (epoll, poll, libuv, libevent, ...) waits on the
 * handle's socket, and these calls never block:
 *
 *   pgstate_set_nonblocking(c, 1);            once, after pgstate_connect
 *   watch pgstate_fd(c) for reading, always
 *   id = pgstate_send_load(c, ...); ...       queue requests, WHOAMI too (0 +
 *                                             PGSTATE_ERR_WOULD_BLOCK when
 *                                             max_in_flight are unanswered)
 *   if (pgstate_flush(c) == 1) also watch for writing, and call pgstate_flush
 *                              again when writable, until it returns 0
 *   when readable: pgstate_consume(c), then
 *       while ((r = pgstate_next_reply(c)) != NULL) { ...; pgstate_reply_free(r); }
 *
 * When pgstate_consume (or pgstate_flush) returns < 0, the connection has
 * ended and every request that was in flight already has its (failed) reply
 * waiting for pgstate_next_reply.  The descriptor stays open (shut down: it
 * polls readable) until pgstate_reconnect or pgstate_free, so remove it from
 * your loop first.  While the server drains (ERROR 202 answered a request),
 * pgstate_is_connected() is already 0 but answers still arrive: keep watching
 * the descriptor until pgstate_consume returns < 0.  Connecting and
 * reconnecting block (for at most the handle's timeout); the blocking calls keep
 * working in non-blocking mode and block as documented.  clients/c/README.md
 * shows the pattern for epoll, libuv and libevent; examples/epoll_clients.c
 * drives many connections from one epoll loop.
 */

/* The connection's socket descriptor, -1 if there is none.  It changes on
   pgstate_reconnect.  Never read, write or close it yourself. */
PGSTATE_EXPORT int pgstate_fd(const pgstate_client *c);

/* Non-blocking mode on (nonzero) or off (0): changes pgstate_send_* (never
   wait for an in-flight slot: PGSTATE_ERR_WOULD_BLOCK) and pgstate_flush
   (write what the socket takes, return 1 while output remains).  Returns
   PGSTATE_OK. */
PGSTATE_EXPORT int pgstate_set_nonblocking(pgstate_client *c, int on);
PGSTATE_EXPORT int pgstate_is_nonblocking(const pgstate_client *c);

/* Reads whatever has arrived, without blocking, and completes the requests it
   answers (their replies then wait for pgstate_next_reply; a blocking call's
   own reply is kept for it).  Returns PGSTATE_OK, or PGSTATE_ERR_UNAVAILABLE
   (or PGSTATE_ERR_PROTOCOL) when the connection has ended, now or before. */
PGSTATE_EXPORT int pgstate_consume(pgstate_client *c);

/* The next completed pipelined request, oldest first, or NULL if none is
   complete (never blocks, never reads).  Free it with pgstate_reply_free. */
PGSTATE_EXPORT pgstate_reply *pgstate_next_reply(pgstate_client *c);

#ifdef __cplusplus
}
#endif

#endif /* PGSTATE_H */
