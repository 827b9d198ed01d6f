/*
 * operator_codec.h - the operators' messages (PROTOCOL.md 6.15-6.21): HEALTH,
 * STATS, CLIENTS, PAUSE and RESUME, and their answers HEALTH_OK, STATS_OK and
 * CLIENTS_OK.  INTERNAL (not installed), no I/O, like codec.h, whose
 * decoders and pgs_msg they extend.
 *
 * STATS_OK and CLIENTS_OK carry a variable number of entries or rows.  The
 * decoder stays zero-copy: it checks every entry (the metric name, UTF-8 text,
 * the exact length) and leaves their wire bytes in pgs_msg.items; the
 * iterators below then read them one by one without checking again.
 */
#ifndef PGSTATE_OPERATOR_CODEC_H
#define PGSTATE_OPERATOR_CODEC_H

#include "codec.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* HEALTH_OK state bits (6.16); the others are reserved */
#define PGS_HEALTH_POOL_UP 0x1u
#define PGS_HEALTH_PAUSED 0x2u
#define PGS_HEALTH_DRAINING 0x4u
#define PGS_HEALTH_KNOWN 0x7u
#define PGS_HEALTH_OK_BYTES 17u /* HEALTH_OK's payload, exactly */

/* One STATS_OK entry; name and labels point into the frame (not NUL-terminated). */
typedef struct pgs_stat_entry {
    const char *name; /* 1..255 bytes of [a-zA-Z_:][a-zA-Z0-9_:]* */
    size_t name_len;
    const char *labels; /* UTF-8, exposition syntax without braces; empty when none */
    size_t labels_len;
    double value;
} pgs_stat_entry;

/* One CLIENTS_OK row; the strings point into the frame (not NUL-terminated). */
typedef struct pgs_client_row {
    uint64_t connection_id;
    uint32_t uid;
    uint32_t pid;
    const char *user;
    size_t user_len;
    const char *ns;
    size_t ns_len;
    const char *client_name;
    size_t client_name_len;
    uint8_t state; /* as sent: 0 HANDSHAKE, 1 READY, 2 DRAINING, others unknown */
    uint64_t connected_ms;
    uint64_t requests;
    uint32_t in_flight;
} pgs_client_row;

/* 1 if s[0..n) is a Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, at least one byte. */
int pgs_metric_name_valid(const uint8_t *s, size_t n);

/* The payload of HEALTH_OK, STATS_OK or CLIENTS_OK (m->type) at the cursor,
   into m; 0, or PGS_S_MALFORMED_FRAME (the caller then also checks that the
   cursor is at the end).  Called by pgs_decode_response. */
int pgs_decode_operator_response(pgs_cursor *c, pgs_msg *m);

/* Reading a decoded STATS_OK or CLIENTS_OK: start with pgs_items_begin, then
   each call gives the next entry / row (1), or 0 after the last. */
void pgs_items_begin(pgs_cursor *it, const pgs_msg *m);
int pgs_stats_next(pgs_cursor *it, pgs_stat_entry *e);
int pgs_clients_next(pgs_cursor *it, pgs_client_row *r);

/* ---- encoders (as codec.h's: whole frames, wire ranges only) ---- */
int pgs_encode_health(pgs_buf *b, uint32_t rid);
int pgs_encode_stats(pgs_buf *b, uint32_t rid);
int pgs_encode_clients(pgs_buf *b, uint32_t rid, uint64_t after_connection);
int pgs_encode_pause(pgs_buf *b, uint32_t rid, uint32_t timeout_ms);
int pgs_encode_resume(pgs_buf *b, uint32_t rid);
/* HEALTH_OK from m's health_state, pool_up, pool_size, clients and uptime_ms. */
int pgs_encode_health_ok(pgs_buf *b, uint32_t rid, const pgs_msg *m);
/* count <= 65535 entries / rows; names and strings <= 255 bytes.  The metric-name rule is
   not checked, so that invalid frames can be produced for tests. */
int pgs_encode_stats_ok(pgs_buf *b, uint32_t rid, const pgs_stat_entry *entries, size_t count);
int pgs_encode_clients_ok(pgs_buf *b, uint32_t rid, uint8_t more, const pgs_client_row *rows, size_t count);
/* STATS_OK or CLIENTS_OK again from a decoded message (count and items as they came). */
int pgs_encode_items(pgs_buf *b, const pgs_msg *m);

#endif /* PGSTATE_OPERATOR_CODEC_H */
