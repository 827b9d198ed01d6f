/*
 * multikey_codec.h - the multi-key messages (PROTOCOL.md 6.22-6.30): BULK_LOAD,
 * BULK_WRITE, TRANSACT and LIST, and their answers RECORDS, OUTCOMES,
 * TRANSACT_CONFLICT and LIST_OK.  INTERNAL (not installed), no I/O, like
 * codec.h, whose decoders and pgs_msg they extend.
 *
 * Every one of these frames carries a variable number of ids, items or
 * entries.  As for STATS_OK, the decoders stay zero-copy: they check the whole
 * payload (kinds, flags, presences, results, UTF-8 text, the exact length) and
 * leave its wire bytes in pgs_msg.items; the iterators below read them one by
 * one without checking again.  The rules an argument must follow (section 8)
 * are defined here once, for the request decoder and for the client's checks
 * before sending (multikey_call.c).
 */
#ifndef PGSTATE_MULTIKEY_CODEC_H
#define PGSTATE_MULTIKEY_CODEC_H

#include "codec.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* ---- items of BULK_WRITE and TRANSACT (6.22) ---- */
#define PGS_ITEM_UPSERT 0x01u
#define PGS_ITEM_DELETE 0x02u
#define PGS_ITEM_FLAG_EXPECTED 0x01u /* DELETE items only, with CONDITIONAL_DELETE: a conditional delete */
#define PGS_ITEM_FLAG_TTL 0x04u      /* UPSERT items only, with the TTL capability */

/* One item as on the wire; id and state point into the frame (or the caller's memory when encoding). */
typedef struct pgs_item {
    uint8_t kind;               /* PGS_ITEM_UPSERT or PGS_ITEM_DELETE */
    const char *id;
    size_t id_len;
    int has_expected;           /* UPSERT: always 1; DELETE: the item flag EXPECTED_REVISION */
    uint64_t expected_revision;
    int has_ttl;                /* UPSERT: the item flag TTL */
    uint32_t ttl_seconds;
    const uint8_t *state;       /* UPSERT */
    size_t state_len;
} pgs_item;

/* Wire bytes of one item, and writing them at p (returns the byte after). */
uint64_t pgs_item_wire_size(const pgs_item *it);
uint8_t *pgs_put_item(uint8_t *p, const pgs_item *it);

/* The argument rules of one item (section 8, the rules of the single request it mirrors), in this order.  For
   PGS_ITEM_BAD_ID, *id says which rule of the id and *at where (pgs_id_check). */
typedef enum pgs_item_problem {
    PGS_ITEM_OK = 0,
    PGS_ITEM_BAD_ID,
    PGS_ITEM_BAD_EXPECTED, /* UPSERT above 2^63-2, DELETE above 2^63-1 */
    PGS_ITEM_BAD_TTL,      /* outside 1 .. 2^31-1 */
    PGS_ITEM_STATE_TOO_LARGE
} pgs_item_problem;

pgs_item_problem pgs_item_check(const pgs_item *it, const pgs_limits *lim, pgs_id_problem *id, size_t *at);

/* A byte string (an id), for the repeat finder. */
typedef struct pgs_span {
    const char *p;
    size_t len;
} pgs_span;

/* Whether two of the n ids are equal byte for byte (a TRANSACT names each id once): 1 with *first < *again the
   positions of the first repeat in order of *again, 0 when all differ, -1 when memory ran out.  O(n log n). */
int pgs_find_repeat(const pgs_span *ids, size_t n, size_t *first, size_t *again);

/* ---- entries of the answers ---- */
#define PGS_PRESENCE_ABSENT 0u
#define PGS_PRESENCE_FOUND 1u
#define PGS_PRESENCE_OMITTED 2u /* not sent: it did not fit the frame; the client loads it again */

typedef struct pgs_record_entry {
    uint8_t presence;
    uint64_t revision;        /* FOUND */
    int64_t updated_at_us;    /* FOUND */
    const uint8_t *state;     /* FOUND */
    size_t state_len;
} pgs_record_entry;

#define PGS_RESULT_WRITTEN 0x01u
#define PGS_RESULT_DELETED 0x02u
#define PGS_RESULT_CONFLICT 0x03u
#define PGS_RESULT_FAILED 0x04u

typedef struct pgs_outcome {
    uint8_t result;
    uint64_t revision;          /* WRITTEN */
    int64_t updated_at_us;      /* WRITTEN */
    uint64_t expected_revision; /* CONFLICT */
    uint64_t actual_revision;   /* CONFLICT */
    uint16_t status;            /* FAILED */
    const char *message;        /* FAILED: UTF-8, not NUL-terminated */
    size_t message_len;
} pgs_outcome;

typedef struct pgs_conflict_entry {
    uint16_t index; /* the item's position in the request */
    uint64_t expected_revision;
    uint64_t actual_revision;
} pgs_conflict_entry;

typedef struct pgs_list_entry {
    const char *id; /* UTF-8, not NUL-terminated */
    size_t id_len;
    uint64_t revision;
    int64_t updated_at_us;
} pgs_list_entry;

/* ---- decoding (called by pgs_decode_request / pgs_decode_response) ---- */

/* The payload of BULK_LOAD, BULK_WRITE, TRANSACT or LIST (m->type) after its namespace, at the cursor: 0 or
   PGS_S_MALFORMED_FRAME (an item kind or item flag that is not defined: EXPECTED_REVISION only with lim's
   CONDITIONAL_DELETE, TTL only with its TTL).  The caller then checks that the cursor is at the end. */
int pgs_decode_multikey_request(pgs_cursor *c, pgs_msg *m, const pgs_limits *lim);

/* The argument rules of a decoded multi-key request (section 8 and 6.22) against lim: 0, PGS_S_INVALID_ARGUMENT,
   or PGS_S_INTERNAL_ERROR when memory for the repeat check ran out.  A BULK_WRITE item breaking a rule is not a
   request error (the server answers FAILED 102 in its place): only its request-wide rules count. */
int pgs_check_multikey_request(const pgs_msg *m, const pgs_limits *lim);

/* The payload of RECORDS, OUTCOMES, TRANSACT_CONFLICT or LIST_OK at the cursor: 0 or PGS_S_MALFORMED_FRAME. */
int pgs_decode_multikey_response(pgs_cursor *c, pgs_msg *m);

/* ---- reading a decoded message: pgs_items_begin (operator_codec.h), then each call gives the next (1), or 0
   after the last ---- */
int pgs_ids_next(pgs_cursor *it, const char **id, size_t *id_len); /* BULK_LOAD */
int pgs_item_next(pgs_cursor *it, pgs_item *item);                 /* BULK_WRITE, TRANSACT */
int pgs_record_next(pgs_cursor *it, pgs_record_entry *e);          /* RECORDS */
int pgs_outcome_next(pgs_cursor *it, pgs_outcome *o);              /* OUTCOMES */
int pgs_conflict_next(pgs_cursor *it, pgs_conflict_entry *e);      /* TRANSACT_CONFLICT */
int pgs_list_next(pgs_cursor *it, pgs_list_entry *e);              /* LIST_OK */

/* ---- encoders (as codec.h's: whole frames, wire ranges only, no argument rules) ---- */

/* BULK_LOAD of count ids (id_lens NULL: each id is NUL-terminated); ns NULL: no namespace. */
int pgs_encode_bulk_load(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *const *ids,
                         const size_t *id_lens, size_t count);
/* BULK_WRITE or TRANSACT (type) of count items, item i as get(items, i, &out) gives it: the caller's items need
   not be pgs_items (pgs_item_at reads an array of them). */
typedef void (*pgs_item_source)(const void *items, size_t i, pgs_item *out);
void pgs_item_at(const void *items, size_t i, pgs_item *out);
int pgs_encode_item_request(pgs_buf *b, uint8_t type, uint32_t rid, const char *ns, size_t ns_len,
                            const void *items, size_t count, pgs_item_source get);
/* LIST; after NULL: no cursor (flag AFTER clear). */
int pgs_encode_list(pgs_buf *b, uint32_t rid, const char *ns, size_t ns_len, const char *prefix, size_t prefix_len,
                    const char *after, size_t after_len, uint16_t limit);
int pgs_encode_records(pgs_buf *b, uint32_t rid, const pgs_record_entry *entries, size_t count);
int pgs_encode_outcomes(pgs_buf *b, uint32_t rid, const pgs_outcome *outcomes, size_t count);
int pgs_encode_transact_conflict(pgs_buf *b, uint32_t rid, const pgs_conflict_entry *entries, size_t count);
int pgs_encode_list_ok(pgs_buf *b, uint32_t rid, uint8_t more, const pgs_list_entry *entries, size_t count);
/* Any of the eight again from a decoded message (namespace, count and items as they came). */
int pgs_encode_multikey_msg(pgs_buf *b, const pgs_msg *m);

#endif /* PGSTATE_MULTIKEY_CODEC_H */
