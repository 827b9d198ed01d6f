/*
 * codec.h - pgstate wire protocol v1 frame reader, decoders and encoders.
 *
 * INTERNAL to libpgstate (not installed).  No I/O here: bytes go in, frames and
 * messages come out, so everything is testable by feeding bytes (the unit tests
 * and the shared vectors in proto-spec/vectors/ do exactly that).
 *
 * Decoded messages point into the buffer they were decoded from (zero copy).
 */
#ifndef PGSTATE_CODEC_H
#define PGSTATE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* ---- message types (PROTOCOL.md section 6) ---- */
enum {
    PGS_T_HELLO = 0x01,
    PGS_T_PING = 0x02,
    PGS_T_LOAD = 0x03,
    PGS_T_UPSERT = 0x04,
    PGS_T_DELETE = 0x05,
    PGS_T_WHOAMI = 0x06,
    PGS_T_HEALTH = 0x07, /* the operators' requests (6.15-6.21), with OPERATOR */
    PGS_T_STATS = 0x08,
    PGS_T_CLIENTS = 0x09,
    PGS_T_PAUSE = 0x0A,
    PGS_T_RESUME = 0x0B,
    PGS_T_BULK_LOAD = 0x0C, /* the multi-key requests (6.22-6.30), with MULTI_KEY: multikey_codec.h */
    PGS_T_BULK_WRITE = 0x0D,
    PGS_T_TRANSACT = 0x0E,
    PGS_T_LIST = 0x0F,
    PGS_T_HELLO_OK = 0x81,
    PGS_T_OK = 0x82,
    PGS_T_RECORD = 0x83,
    PGS_T_NOT_FOUND = 0x84,
    PGS_T_CONFLICT = 0x85,
    PGS_T_ERROR = 0x86,
    PGS_T_WHOAMI_OK = 0x87,
    PGS_T_HEALTH_OK = 0x88,
    PGS_T_STATS_OK = 0x89,
    PGS_T_CLIENTS_OK = 0x8A,
    PGS_T_RECORDS = 0x8B,
    PGS_T_OUTCOMES = 0x8C,
    PGS_T_TRANSACT_CONFLICT = 0x8D,
    PGS_T_LIST_OK = 0x8E
};

#define PGS_FLAG_EXPECTED_REVISION 0x01u /* DELETE, with CONDITIONAL_DELETE */
#define PGS_FLAG_AFTER 0x01u             /* LIST: the cursor follows the prefix */
#define PGS_FLAG_NAMESPACE 0x02u         /* LOAD, UPSERT, DELETE and the multi-key requests, with IDENTITY (6.14) */
#define PGS_FLAG_TTL 0x04u               /* UPSERT: ttl_seconds follows expected_revision, with TTL (6.22) */
#define PGS_CAP_CONDITIONAL_DELETE 0x1u
#define PGS_CAP_IDENTITY 0x2u            /* WHOAMI and the NAMESPACE flag are served */
#define PGS_CAP_OPERATOR 0x4u            /* HEALTH, STATS, CLIENTS, PAUSE and RESUME are served */
#define PGS_CAP_MULTI_KEY 0x8u           /* BULK_LOAD, BULK_WRITE, TRANSACT, LIST; HELLO_OK carries the batch limits */
#define PGS_CAP_TTL 0x10u                /* the TTL flag of UPSERT and of upsert items */
/* WHOAMI_OK permissions known: READ 0x1, WRITE 0x2, ADMIN 0x4, ANY_NAMESPACE 0x8
   (pgstate.h's PGSTATE_PERM_*); the other bits are reserved */
#define PGS_PERM_KNOWN 0x0Fu

/* ---- status codes (section 7) ---- */
enum {
    PGS_S_MALFORMED_FRAME = 100,
    PGS_S_UNKNOWN_MESSAGE_TYPE = 101,
    PGS_S_INVALID_ARGUMENT = 102,
    PGS_S_FRAME_TOO_LARGE = 103,
    PGS_S_UNSUPPORTED_VERSION = 104,
    PGS_S_NOT_ALLOWED = 105,
    PGS_S_PERMISSION_DENIED = 106,
    PGS_S_UNAVAILABLE = 200,
    PGS_S_OVERLOADED = 201,
    PGS_S_SHUTTING_DOWN = 202,
    PGS_S_OUTCOME_UNKNOWN = 300,
    PGS_S_INTERNAL_ERROR = 500
};

/* Name of a defined status ("MALFORMED_FRAME"), NULL if unassigned. */
const char *pgs_status_wire_name(unsigned status);

/* ---- limits (section 9) ---- */
#define PGS_HEADER_BYTES 6u
#define PGS_LENGTH_BYTES 4u
#define PGS_DEFAULT_MAX_FRAME_BYTES 8392704u /* 8 MiB + 4 KiB */
#define PGS_DEFAULT_MAX_ID_BYTES 255u
#define PGS_DEFAULT_MAX_STATE_BYTES 8388608u /* 8 MiB */
#define PGS_DEFAULT_MAX_IN_FLIGHT 1024u
#define PGS_MAX_REVISION UINT64_C(0x7fffffffffffffff)       /* 2^63-1 */
#define PGS_MAX_UPSERT_EXPECTED UINT64_C(0x7ffffffffffffffe) /* 2^63-2 */
#define PGS_MAX_NAMESPACE_BYTES 63u
#define PGS_DEFAULT_MAX_BATCH_ITEMS 1000u
#define PGS_DEFAULT_MAX_BATCH_BYTES 4194304u /* 4 MiB */
#define PGS_MAX_BATCH_ITEMS 65535u            /* a u16be count holds no more */
#define PGS_MAX_TTL_SECONDS 2147483647u       /* 2^31-1 */

typedef struct pgs_limits {
    uint32_t max_frame_bytes;
    uint32_t max_id_bytes;
    uint32_t max_state_bytes;
    uint32_t max_in_flight;
    uint32_t capabilities; /* decides which request types and flag bits are defined (requests), and whether
                              HELLO_OK carries the batch limits */
    uint32_t max_batch_items; /* with MULTI_KEY: ids / items of one multi-key request, the largest LIST limit */
    uint32_t max_batch_bytes; /* with MULTI_KEY: state bytes of all items of one BULK_WRITE or TRANSACT */
} pgs_limits;

/* The defaults of section 9, with every capability (what pgstated 0.4.0 announces: 0x1F). */
void pgs_limits_default(pgs_limits *l);

/* ---- text and argument rules ---- */

/* 1 if s[0..n) is valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
int pgs_utf8_valid(const uint8_t *s, size_t n);

/* The persistence_id argument rule of section 8, the one definition used by the
   request decoder and by the client's argument checks: 1..max_id_bytes bytes
   (never above 255, the str8 limit), valid UTF-8, no U+0000-U+001F and no
   U+007F.  Returns PGS_ID_OK or the first rule broken, checked in the order of
   the enum; for PGS_ID_CONTROL, *at (if not NULL) is the offending byte's offset. */
typedef enum pgs_id_problem {
    PGS_ID_OK = 0,
    PGS_ID_EMPTY,     /* 0 bytes */
    PGS_ID_TOO_LONG,  /* more than max_id_bytes (or 255) bytes */
    PGS_ID_CONTROL,   /* a byte 0x00-0x1F or 0x7F */
    PGS_ID_NOT_UTF8   /* not valid UTF-8 */
} pgs_id_problem;

pgs_id_problem pgs_id_check(const uint8_t *id, size_t n, uint32_t max_id_bytes, size_t *at);

/* The LIST prefix rule (section 8): like an id, except that it may be empty. */
pgs_id_problem pgs_prefix_check(const uint8_t *prefix, size_t n, uint32_t max_id_bytes, size_t *at);

/* The ttl_seconds rule (section 8): 1 .. 2^31-1. */
int pgs_ttl_valid(uint64_t ttl_seconds);

/* The namespace argument rule of section 8, likewise shared: 0..63 bytes, each
   an ASCII letter, digit, '.', '_' or '-' (empty names the shared namespace).
   For PGS_NS_BAD_BYTE, *at (if not NULL) is the offending byte's offset. */
typedef enum pgs_ns_problem {
    PGS_NS_OK = 0,
    PGS_NS_TOO_LONG, /* more than 63 bytes */
    PGS_NS_BAD_BYTE  /* a byte other than [A-Za-z0-9._-] */
} pgs_ns_problem;

pgs_ns_problem pgs_ns_check(const uint8_t *ns, size_t n, size_t *at);

/* ---- incremental frame reader ----
 *
 * Feed bytes in (pgs_reader_feed, or pgs_reader_space + pgs_reader_commit to
 * read() straight into the buffer), take whole frames out (pgs_reader_next).
 *   - The length prefix is checked against max_frame_bytes as soon as its 4
 *     bytes are there (FRAME_TOO_LARGE, request id 0) and against the 6-byte
 *     header (MALFORMED_FRAME, request id 0), before any body byte is needed.
 *   - A partial frame consumes nothing ("rewind"): next() reports NEED_MORE and
 *     leaves every byte buffered.
 *   - The reader never holds more than 4 + max_frame_bytes unconsumed bytes:
 *     feed() accepts only what fits and returns how much it took.
 *   - Errors are sticky: after one, next() keeps returning it.
 */
typedef struct pgs_reader {
    uint8_t *buf;
    size_t cap;   /* allocated bytes */
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last buffered byte */
    uint32_t max_frame_bytes;
    int err_status;         /* 0, or 100 / 103 */
    uint32_t err_length;    /* the offending length prefix */
} pgs_reader;

enum { PGS_NEED_MORE = 0, PGS_FRAME = 1, PGS_READ_ERROR = -1 };

void pgs_reader_init(pgs_reader *r, uint32_t max_frame_bytes);
void pgs_reader_free(pgs_reader *r);
/* Drops all buffered bytes and any error; keeps the allocation. */
void pgs_reader_reset(pgs_reader *r);
void pgs_reader_set_max_frame(pgs_reader *r, uint32_t max_frame_bytes);
/* Unconsumed bytes held. */
size_t pgs_reader_buffered(const pgs_reader *r);
/* Copies up to n bytes in; returns how many were taken (fewer when the bound on
   buffered bytes is reached: take frames out, then feed the rest), or
   (size_t)-1 when memory ran out (nothing taken). */
size_t pgs_reader_feed(pgs_reader *r, const void *data, size_t n);
/* Sets *ptr to where up to *avail bytes may be written (then call
   pgs_reader_commit with the count actually written).  *avail is 0 when the
   reader is full (take a frame out first) or in error.  Returns 0, or -1 when
   memory ran out. */
int pgs_reader_space(pgs_reader *r, uint8_t **ptr, size_t *avail);
void pgs_reader_commit(pgs_reader *r, size_t n);
/* PGS_FRAME: *body / *body_len is the frame without its length prefix (header +
   payload, body_len >= 6), valid until the next call on the reader; the frame is
   consumed.  PGS_NEED_MORE: nothing consumed.  PGS_READ_ERROR: r->err_status is
   103 FRAME_TOO_LARGE or 100 MALFORMED_FRAME; the request id is 0. */
int pgs_reader_next(pgs_reader *r, const uint8_t **body, uint32_t *body_len);

/* ---- messages ---- */

typedef struct pgs_msg {
    uint8_t type;
    uint8_t flags;
    uint32_t request_id;
    /* HELLO */
    uint8_t versions_count;
    uint16_t versions[255];
    /* HELLO client_name, HELLO_OK server_version, ERROR message (not NUL-terminated) */
    const char *text;
    size_t text_len;
    /* LOAD, UPSERT, DELETE */
    const char *id;
    size_t id_len;
    /* LOAD, UPSERT, DELETE: has_ns iff flag NAMESPACE; WHOAMI_OK: the connection's namespace (has_ns 0) */
    int has_ns;
    const char *ns;
    size_t ns_len;
    /* UPSERT, DELETE (when has_expected), CONFLICT */
    int has_expected;
    uint64_t expected_revision;
    /* UPSERT: has_ttl iff flag TTL */
    int has_ttl;
    uint32_t ttl_seconds;
    /* UPSERT, RECORD */
    const uint8_t *state;
    size_t state_len;
    /* HELLO_OK */
    uint16_t version;
    uint32_t max_frame_bytes;
    uint16_t max_id_bytes;
    uint32_t max_state_bytes;
    uint32_t max_in_flight;
    uint32_t capabilities;
    uint32_t max_batch_items; /* present iff capabilities hold MULTI_KEY (else 0) */
    uint32_t max_batch_bytes;
    /* RECORD */
    uint64_t revision;
    int64_t updated_at_us;
    /* CONFLICT */
    uint64_t actual_revision;
    /* ERROR */
    uint16_t status;
    /* WHOAMI_OK (and ns above); user and rule are not NUL-terminated */
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
    const char *user;
    size_t user_len;
    uint8_t permissions;
    const char *rule;
    size_t rule_len;
    /* CLIENTS */
    uint64_t after_connection;
    /* PAUSE */
    uint32_t timeout_ms;
    /* HEALTH_OK: state as sent (reserved bits included) */
    uint8_t health_state;
    uint16_t pool_up;
    uint16_t pool_size;
    uint32_t clients;
    uint64_t uptime_ms;
    /* CLIENTS_OK */
    uint8_t more;
    /* LIST (the namespace is ns above); after iff has_after (flag AFTER) */
    const char *prefix;
    size_t prefix_len;
    int has_after;
    const char *after;
    size_t after_len;
    uint16_t limit;
    /* STATS_OK, CLIENTS_OK, BULK_LOAD, BULK_WRITE, TRANSACT, RECORDS, OUTCOMES, TRANSACT_CONFLICT, LIST_OK
       (LIST_OK's `more` above): count entries / rows / ids / items whose wire bytes are items[0..items_len),
       already checked by the decoder; read them with the iterators of operator_codec.h and multikey_codec.h */
    uint16_t count;
    const uint8_t *items;
    size_t items_len;
} pgs_msg;

/* Decoders take a frame body as returned by pgs_reader_next (no length prefix).
   They return 0 with *m filled, or a wire status (100, 101, 102) with *err_rid
   set to the request id an ERROR would echo.  Checks, in the order of section
   3.4: request id (requests), type, flags, payload structure incl. UTF-8 text
   and trailing bytes (HEALTH_OK: exactly 17 payload bytes; STATS_OK: metric
   names; CLIENTS_OK: `more` 0 or 1), then (requests only) the argument rules
   of section 8 against *lim.  Responses: a non-ERROR response with request
   id 0 is 100. */
int pgs_decode_request(const uint8_t *body, size_t len, const pgs_limits *lim,
                       pgs_msg *m, uint32_t *err_rid);
int pgs_decode_response(const uint8_t *body, size_t len, pgs_msg *m, uint32_t *err_rid);

/* ---- encoders ----
 * Append one whole frame (length prefix included) to a growable buffer.  They
 * check only that the fields fit the wire types (str8 <= 255 bytes, str16 <=
 * 65535, bytes32 and frame length < 2^32, 1..255 versions); argument rules are
 * the caller's business, so that invalid frames can be produced for tests.
 * Return 0, PGS_ENC_NOMEM or PGS_ENC_RANGE (buffer unchanged on error). */
typedef struct pgs_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pgs_buf;

enum { PGS_ENC_OK = 0, PGS_ENC_NOMEM = -1, PGS_ENC_RANGE = -2 };

void pgs_buf_init(pgs_buf *b);
void pgs_buf_free(pgs_buf *b);
/* Removes the first n bytes. */
void pgs_buf_consume(pgs_buf *b, size_t n);

int pgs_encode_hello(pgs_buf *b, uint32_t rid, const uint16_t *versions, size_t count,
                     const char *client_name, size_t name_len);
int pgs_encode_ping(pgs_buf *b, uint32_t rid);
int pgs_encode_whoami(pgs_buf *b, uint32_t rid);
/* LOAD, UPSERT, DELETE: ns NULL sends no namespace; otherwise flag NAMESPACE
   and the ns_len bytes of ns come first (ns_len 0: the shared namespace). */
int pgs_encode_load(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len);
int pgs_encode_upsert(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                      uint64_t expected_revision, const void *state, size_t state_len);
/* The same with has_ttl selecting the TTL flag and ttl_seconds. */
int pgs_encode_upsert_ttl(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                          uint64_t expected_revision, int has_ttl, uint32_t ttl_seconds, const void *state,
                          size_t state_len);
/* has_expected selects the conditional form (flag 0x01 + expected_revision). */
int pgs_encode_delete(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *id, size_t id_len,
                      int has_expected, uint64_t expected_revision);
/* With MULTI_KEY in lim->capabilities, max_batch_items and max_batch_bytes follow the capabilities. */
int pgs_encode_hello_ok(pgs_buf *b, uint32_t rid, uint16_t version, const char *server_version,
                        size_t sv_len, const pgs_limits *lim);
int pgs_encode_ok(pgs_buf *b, uint32_t rid);
int pgs_encode_record(pgs_buf *b, uint32_t rid, uint64_t revision, int64_t updated_at_us,
                      const void *state, size_t state_len);
int pgs_encode_not_found(pgs_buf *b, uint32_t rid);
int pgs_encode_conflict(pgs_buf *b, uint32_t rid, uint64_t expected_revision,
                        uint64_t actual_revision);
int pgs_encode_error(pgs_buf *b, uint32_t rid, uint16_t status, const char *msg, size_t msg_len);
/* WHOAMI_OK from m's uid, gid, pid, user, ns, permissions and rule. */
int pgs_encode_whoami_ok(pgs_buf *b, uint32_t rid, const pgs_msg *m);
/* Any message by type, from the fields above (flags: m->flags decides nothing -
   has_expected, has_ns, has_ttl and has_after do; other types always encode flags 0).  STATS_OK,
   CLIENTS_OK and the multi-key messages take count and items as a decoder left them; their other
   encoders are in operator_codec.h and multikey_codec.h. */
int pgs_encode_msg(pgs_buf *b, const pgs_msg *m);

#endif /* PGSTATE_CODEC_H */
