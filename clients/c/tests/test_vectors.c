/*
 * test_vectors.c - runs every shared test vector in proto-spec/vectors/ (*.json)
 * through the C codec (src/codec.c), without sockets.
 *
 *   valid vectors:      encode(message) == hex byte for byte, and decode(hex) ==
 *                       message, fed all at once and one byte at a time;
 *   invalid vectors:    decoding yields the named status and request id (with
 *                       the vector's limits); header errors are seen after the
 *                       4 length bytes;
 *   incomplete vectors: no frame, nothing consumed.
 *
 * Directory: $PGSTATE_VECTORS_DIR, else ../../proto-spec/vectors (relative to
 * clients/c, where `make test` runs).  outcomes.json holds client behaviour,
 * not codec vectors: test_outcomes runs it (its in-flight request frames are
 * codec vectors and run here too).  envelope.json holds no frames but states
 * (the envelope of ENVELOPE.md): test_envelope runs it, so it is skipped here.
 * Ends with "N passed, M failed".
 */
#include "codec.h"
#include "harness.h"
#include "multikey_codec.h"
#include "operator_codec.h"
#include "vector_json.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint8_t type;
} TYPES[] = {
    {"HELLO", PGS_T_HELLO},       {"PING", PGS_T_PING},         {"LOAD", PGS_T_LOAD},
    {"UPSERT", PGS_T_UPSERT},     {"DELETE", PGS_T_DELETE},     {"WHOAMI", PGS_T_WHOAMI},
    {"HELLO_OK", PGS_T_HELLO_OK}, {"OK", PGS_T_OK},             {"RECORD", PGS_T_RECORD},
    {"NOT_FOUND", PGS_T_NOT_FOUND}, {"CONFLICT", PGS_T_CONFLICT}, {"ERROR", PGS_T_ERROR},
    {"WHOAMI_OK", PGS_T_WHOAMI_OK}, {"HEALTH", PGS_T_HEALTH},     {"STATS", PGS_T_STATS},
    {"CLIENTS", PGS_T_CLIENTS},   {"PAUSE", PGS_T_PAUSE},       {"RESUME", PGS_T_RESUME},
    {"HEALTH_OK", PGS_T_HEALTH_OK}, {"STATS_OK", PGS_T_STATS_OK}, {"CLIENTS_OK", PGS_T_CLIENTS_OK},
    {"BULK_LOAD", PGS_T_BULK_LOAD}, {"BULK_WRITE", PGS_T_BULK_WRITE}, {"TRANSACT", PGS_T_TRANSACT},
    {"LIST", PGS_T_LIST},         {"RECORDS", PGS_T_RECORDS},   {"OUTCOMES", PGS_T_OUTCOMES},
    {"TRANSACT_CONFLICT", PGS_T_TRANSACT_CONFLICT}, {"LIST_OK", PGS_T_LIST_OK},
};

/* Vectors per message type: each type of the protocol must be exercised by some valid vector. */
static int g_valid_of_type[256];
static int g_namespaced;
static int g_with_ttl; /* UPSERTs and items with a TTL */

static int type_code(const char *name) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        if (strcmp(TYPES[i].name, name) == 0) return TYPES[i].type;
    }
    return -1;
}

/* Fields of "message" per type, besides type / request_id / flags (and the optional ones: a request's
   "namespace" iff the NAMESPACE flag is set, UPSERT's "ttl_seconds" iff TTL, LIST's "after" iff AFTER, HELLO_OK's
   batch limits iff MULTI_KEY). */
static const char *const *fields_of(uint8_t t) {
    static const char *const hello[] = {"versions", "client_name", NULL};
    static const char *const none[] = {NULL};
    static const char *const load[] = {"persistence_id", NULL};
    static const char *const upsert[] = {"persistence_id", "expected_revision", "state_hex", NULL};
    static const char *const del[] = {"persistence_id", "expected_revision", NULL};
    static const char *const hello_ok[] = {"version", "server_version", "max_frame_bytes", "max_id_bytes",
                                           "max_state_bytes", "max_in_flight", "capabilities", NULL};
    static const char *const record[] = {"revision", "updated_at_us", "state_hex", NULL};
    static const char *const conflict[] = {"expected_revision", "actual_revision", NULL};
    static const char *const error[] = {"status", "message", NULL};
    static const char *const whoami_ok[] = {"uid", "gid", "pid", "user", "namespace", "permissions", "rule", NULL};
    static const char *const clients[] = {"after_connection", NULL};
    static const char *const pause[] = {"timeout_ms", NULL};
    static const char *const health_ok[] = {"state", "pool_up", "pool_size", "clients", "uptime_ms", NULL};
    static const char *const stats_ok[] = {"entries", NULL};
    static const char *const clients_ok[] = {"more", "rows", NULL};
    static const char *const bulk_load[] = {"ids", NULL};
    static const char *const items[] = {"items", NULL};
    static const char *const list[] = {"prefix", "limit", NULL};
    static const char *const records[] = {"entries", NULL};
    static const char *const outcomes[] = {"outcomes", NULL};
    static const char *const conflicts[] = {"conflicts", NULL};
    static const char *const list_ok[] = {"more", "entries", NULL};
    switch (t) {
    case PGS_T_BULK_LOAD: return bulk_load;
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT: return items;
    case PGS_T_LIST: return list;
    case PGS_T_RECORDS: return records;
    case PGS_T_OUTCOMES: return outcomes;
    case PGS_T_TRANSACT_CONFLICT: return conflicts;
    case PGS_T_LIST_OK: return list_ok;
    case PGS_T_CLIENTS: return clients;
    case PGS_T_PAUSE: return pause;
    case PGS_T_HEALTH_OK: return health_ok;
    case PGS_T_STATS_OK: return stats_ok;
    case PGS_T_CLIENTS_OK: return clients_ok;
    case PGS_T_HELLO: return hello;
    case PGS_T_LOAD: return load;
    case PGS_T_UPSERT: return upsert;
    case PGS_T_DELETE: return del;
    case PGS_T_HELLO_OK: return hello_ok;
    case PGS_T_RECORD: return record;
    case PGS_T_CONFLICT: return conflict;
    case PGS_T_ERROR: return error;
    case PGS_T_WHOAMI_OK: return whoami_ok;
    default: return none;
    }
}

/* Storage that a message built from JSON points into. */
typedef struct built {
    pgs_msg m;
    uint8_t *state;
    /* STATS_OK, CLIENTS_OK: the entries / rows (m.count of them), encoded by pgs_encode_stats_ok /
       pgs_encode_clients_ok */
    pgs_stat_entry *entries;
    pgs_client_row *rows;
    /* the multi-key messages: n of one of these, and the states they point to (nblobs of them) */
    size_t n;
    const char **ids;
    size_t *id_lens;
    pgs_item *items;
    pgs_record_entry *records;
    pgs_outcome *outcomes;
    pgs_conflict_entry *conflicts;
    pgs_list_entry *list;
    uint8_t **blobs;
    size_t nblobs;
} built;

static void built_free(built *b) {
    free(b->state);
    free(b->entries);
    free(b->rows);
    free(b->ids);
    free(b->id_lens);
    free(b->items);
    free(b->records);
    free(b->outcomes);
    free(b->conflicts);
    free(b->list);
    for (size_t i = 0; i < b->nblobs; i++) free(b->blobs[i]);
    free(b->blobs);
}

/* Keys of every STATS_OK entry and CLIENTS_OK row. */
static const char *const ENTRY_KEYS[] = {"name", "labels", "value", NULL};
static const char *const ROW_KEYS[] = {"connection_id", "uid", "pid", "user", "namespace", "client_name", "state",
                                       "connected_ms", "requests", "in_flight", NULL};

static void check_keys(json_object *obj, const char *const *keys, const char *what) {
    size_t n = 0;
    for (; keys[n] != NULL; n++) CHECKF(vj_has(obj, keys[n]), "%s lacks %s", what, keys[n]);
    CHECKF(vj_keys(obj) == n, "%s has %zu keys, expected %zu", what, vj_keys(obj), n);
}

/* An unsigned field of at most max. */
static uint64_t field_u(json_object *obj, const char *key, uint64_t max) {
    uint64_t u = 0;
    CHECKF(vj_u64(obj, key, &u) && u <= max, "%s", key);
    return u;
}

static const char *field_s(json_object *obj, const char *key, size_t *len) {
    const char *v = vj_str(obj, key, len);
    CHECKF(v != NULL, "%s is not a string", key);
    if (v == NULL) *len = 0;
    return v;
}

/* STATS_OK "entries" into b->entries. */
static void build_entries(json_object *arr, built *b) {
    size_t n = vj_len(arr);
    CHECKF(arr != NULL && n <= 0xFFFF, "entries");
    b->entries = calloc(n + 1, sizeof *b->entries);
    if (b->entries == NULL || n > 0xFFFF) return;
    for (size_t i = 0; i < n; i++) {
        json_object *e = vj_at(arr, i), *val = vj_get(e, "value");
        check_keys(e, ENTRY_KEYS, "entry");
        b->entries[i].name = field_s(e, "name", &b->entries[i].name_len);
        b->entries[i].labels = field_s(e, "labels", &b->entries[i].labels_len);
        CHECKF(val != NULL && (json_object_is_type(val, json_type_double) || json_object_is_type(val, json_type_int)),
               "value is not a number");
        b->entries[i].value = val != NULL ? json_object_get_double(val) : 0;
    }
    b->m.count = (uint16_t)n;
}

/* CLIENTS_OK "rows" into b->rows. */
static void build_rows(json_object *arr, built *b) {
    size_t n = vj_len(arr);
    CHECKF(arr != NULL && n <= 0xFFFF, "rows");
    b->rows = calloc(n + 1, sizeof *b->rows);
    if (b->rows == NULL || n > 0xFFFF) return;
    for (size_t i = 0; i < n; i++) {
        json_object *r = vj_at(arr, i);
        pgs_client_row *w = &b->rows[i];
        check_keys(r, ROW_KEYS, "row");
        w->connection_id = field_u(r, "connection_id", UINT64_MAX);
        w->uid = (uint32_t)field_u(r, "uid", UINT32_MAX);
        w->pid = (uint32_t)field_u(r, "pid", UINT32_MAX);
        w->user = field_s(r, "user", &w->user_len);
        w->ns = field_s(r, "namespace", &w->ns_len);
        w->client_name = field_s(r, "client_name", &w->client_name_len);
        w->state = (uint8_t)field_u(r, "state", 255);
        w->connected_ms = field_u(r, "connected_ms", UINT64_MAX);
        w->requests = field_u(r, "requests", UINT64_MAX);
        w->in_flight = (uint32_t)field_u(r, "in_flight", UINT32_MAX);
    }
    b->m.count = (uint16_t)n;
}

/* A state from "state_hex" of obj, owned by b (NULL and *len 0 on failure). */
static const uint8_t *blob(json_object *obj, built *b, size_t *len) {
    size_t hlen = 0;
    const char *hx = vj_str(obj, "state_hex", &hlen);
    *len = 0;
    CHECKF(hx != NULL, "state_hex is not a string");
    uint8_t *bytes = hx ? hex_decode(hx, hlen, len) : NULL;
    CHECKF(hx == NULL || bytes != NULL, "bad state_hex");
    uint8_t **nb = realloc(b->blobs, (b->nblobs + 1) * sizeof *nb);
    if (bytes == NULL || nb == NULL) {
        free(bytes);
        if (nb != NULL) b->blobs = nb;
        *len = 0;
        return NULL;
    }
    b->blobs = nb;
    b->blobs[b->nblobs++] = bytes;
    return bytes;
}

/* The length of the array under key (at most 65535), as b->n and the message count. */
static size_t array_of(json_object *jm, const char *key, built *b) {
    json_object *arr = vj_array(jm, key);
    CHECKF(arr != NULL && vj_len(arr) <= 0xFFFF, "%s is not an array of at most 65535", key);
    b->n = arr != NULL && vj_len(arr) <= 0xFFFF ? vj_len(arr) : 0;
    b->m.count = (uint16_t)b->n;
    return b->n;
}

static int64_t field_i(json_object *obj, const char *key) {
    int64_t v = 0;
    CHECKF(vj_i64(obj, key, &v), "%s", key);
    return v;
}

/* The ids, items, entries, outcomes or conflicts of a multi-key message into b. */
static void build_multikey(json_object *jm, built *b) {
    pgs_msg *m = &b->m;
    json_object *arr;
    size_t n;
    static const char *const upsert_keys[] = {"kind", "persistence_id", "expected_revision", "state_hex", NULL};
    static const char *const delete_keys[] = {"kind", "persistence_id", "expected_revision", NULL};
    static const char *const conflict_keys[] = {"index", "expected_revision", "actual_revision", NULL};
    static const char *const list_keys[] = {"persistence_id", "revision", "updated_at_us", NULL};
    switch (m->type) {
    case PGS_T_BULK_LOAD:
        n = array_of(jm, "ids", b);
        arr = vj_array(jm, "ids");
        b->ids = calloc(n + 1, sizeof *b->ids);
        b->id_lens = calloc(n + 1, sizeof *b->id_lens);
        for (size_t i = 0; b->ids && b->id_lens && i < n; i++) {
            json_object *v = vj_at(arr, i);
            CHECKF(json_object_is_type(v, json_type_string), "id %zu is not a string", i);
            b->ids[i] = json_object_get_string(v);
            b->id_lens[i] = (size_t)json_object_get_string_len(v);
        }
        break;
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT:
        n = array_of(jm, "items", b);
        arr = vj_array(jm, "items");
        b->items = calloc(n + 1, sizeof *b->items);
        for (size_t i = 0; b->items && i < n; i++) {
            json_object *v = vj_at(arr, i);
            pgs_item *it = &b->items[i];
            const char *kind = vj_str(v, "kind", NULL);
            CHECKF(kind && (strcmp(kind, "upsert") == 0 || strcmp(kind, "delete") == 0), "item %zu kind", i);
            it->kind = kind && strcmp(kind, "upsert") == 0 ? PGS_ITEM_UPSERT : PGS_ITEM_DELETE;
            it->id = field_s(v, "persistence_id", &it->id_len);
            if (it->kind == PGS_ITEM_UPSERT) {
                it->has_expected = 1;
                it->expected_revision = field_u(v, "expected_revision", UINT64_MAX);
                it->has_ttl = vj_has(v, "ttl_seconds");
                if (it->has_ttl) it->ttl_seconds = (uint32_t)field_u(v, "ttl_seconds", UINT32_MAX);
                g_with_ttl += it->has_ttl;
                it->state = blob(v, b, &it->state_len);
                CHECKF(vj_keys(v) == 4 + (size_t)it->has_ttl, "item %zu has other keys", i);
                for (size_t k = 0; upsert_keys[k]; k++) CHECKF(vj_has(v, upsert_keys[k]), "item %zu", i);
            } else {
                CHECKF(vj_has(v, "expected_revision"), "delete item %zu lacks expected_revision", i);
                it->has_expected = vj_get(v, "expected_revision") != NULL; /* null: unconditional */
                if (it->has_expected) it->expected_revision = field_u(v, "expected_revision", UINT64_MAX);
                check_keys(v, delete_keys, "delete item");
            }
        }
        break;
    case PGS_T_RECORDS:
        n = array_of(jm, "entries", b);
        arr = vj_array(jm, "entries");
        b->records = calloc(n + 1, sizeof *b->records);
        for (size_t i = 0; b->records && i < n; i++) {
            json_object *v = vj_at(arr, i);
            pgs_record_entry *e = &b->records[i];
            e->presence = (uint8_t)field_u(v, "presence", 255);
            if (e->presence == PGS_PRESENCE_FOUND) {
                e->revision = field_u(v, "revision", UINT64_MAX);
                e->updated_at_us = field_i(v, "updated_at_us");
                e->state = blob(v, b, &e->state_len);
            }
            CHECKF(vj_keys(v) == (e->presence == PGS_PRESENCE_FOUND ? 4u : 1u), "entry %zu has other keys", i);
        }
        break;
    case PGS_T_OUTCOMES:
        n = array_of(jm, "outcomes", b);
        arr = vj_array(jm, "outcomes");
        b->outcomes = calloc(n + 1, sizeof *b->outcomes);
        for (size_t i = 0; b->outcomes && i < n; i++) {
            json_object *v = vj_at(arr, i);
            pgs_outcome *o = &b->outcomes[i];
            o->result = (uint8_t)field_u(v, "result", 255);
            size_t keys = 1;
            switch (o->result) {
            case PGS_RESULT_WRITTEN:
                o->revision = field_u(v, "revision", UINT64_MAX);
                o->updated_at_us = field_i(v, "updated_at_us");
                keys = 3;
                break;
            case PGS_RESULT_CONFLICT:
                o->expected_revision = field_u(v, "expected_revision", UINT64_MAX);
                o->actual_revision = field_u(v, "actual_revision", UINT64_MAX);
                keys = 3;
                break;
            case PGS_RESULT_FAILED:
                o->status = (uint16_t)field_u(v, "status", 0xFFFF);
                o->message = field_s(v, "message", &o->message_len);
                keys = 3;
                break;
            default: break;
            }
            CHECKF(vj_keys(v) == keys, "outcome %zu has other keys", i);
        }
        break;
    case PGS_T_TRANSACT_CONFLICT:
        n = array_of(jm, "conflicts", b);
        arr = vj_array(jm, "conflicts");
        b->conflicts = calloc(n + 1, sizeof *b->conflicts);
        for (size_t i = 0; b->conflicts && i < n; i++) {
            json_object *v = vj_at(arr, i);
            check_keys(v, conflict_keys, "conflict");
            b->conflicts[i].index = (uint16_t)field_u(v, "index", 0xFFFF);
            b->conflicts[i].expected_revision = field_u(v, "expected_revision", UINT64_MAX);
            b->conflicts[i].actual_revision = field_u(v, "actual_revision", UINT64_MAX);
        }
        break;
    case PGS_T_LIST_OK:
        m->more = (uint8_t)field_u(jm, "more", 255);
        n = array_of(jm, "entries", b);
        arr = vj_array(jm, "entries");
        b->list = calloc(n + 1, sizeof *b->list);
        for (size_t i = 0; b->list && i < n; i++) {
            json_object *v = vj_at(arr, i);
            check_keys(v, list_keys, "LIST_OK entry");
            b->list[i].id = field_s(v, "persistence_id", &b->list[i].id_len);
            b->list[i].revision = field_u(v, "revision", UINT64_MAX);
            b->list[i].updated_at_us = field_i(v, "updated_at_us");
        }
        break;
    case PGS_T_LIST:
        m->prefix = field_s(jm, "prefix", &m->prefix_len);
        m->has_after = (m->flags & PGS_FLAG_AFTER) != 0;
        if (m->has_after) m->after = field_s(jm, "after", &m->after_len);
        m->limit = (uint16_t)field_u(jm, "limit", 0xFFFF);
        break;
    default: break;
    }
}

/* The expected frame of a built message: STATS_OK, CLIENTS_OK and the multi-key messages through their array
   encoders, the rest through pgs_encode_msg. */
static int encode_built(pgs_buf *out, const built *b) {
    const pgs_msg *m = &b->m;
    const char *ns = m->has_ns ? (m->ns != NULL ? m->ns : "") : NULL;
    switch (m->type) {
    case PGS_T_STATS_OK: return pgs_encode_stats_ok(out, m->request_id, b->entries, m->count);
    case PGS_T_CLIENTS_OK: return pgs_encode_clients_ok(out, m->request_id, m->more, b->rows, m->count);
    case PGS_T_BULK_LOAD: return pgs_encode_bulk_load(out, m->request_id, ns, m->ns_len, b->ids, b->id_lens, b->n);
    case PGS_T_BULK_WRITE:
    case PGS_T_TRANSACT:
        return pgs_encode_item_request(out, m->type, m->request_id, ns, m->ns_len, b->items, b->n, pgs_item_at);
    case PGS_T_RECORDS: return pgs_encode_records(out, m->request_id, b->records, b->n);
    case PGS_T_OUTCOMES: return pgs_encode_outcomes(out, m->request_id, b->outcomes, b->n);
    case PGS_T_TRANSACT_CONFLICT: return pgs_encode_transact_conflict(out, m->request_id, b->conflicts, b->n);
    case PGS_T_LIST_OK: return pgs_encode_list_ok(out, m->request_id, m->more, b->list, b->n);
    default: return pgs_encode_msg(out, m);
    }
}

/* The message's state from the vector's "state_hex" (owned by b). */
static void set_state(json_object *jm, built *b) {
    size_t hlen = 0;
    const char *hx = vj_str(jm, "state_hex", &hlen);
    CHECK(hx != NULL);
    if (hx) {
        b->state = hex_decode(hx, hlen, &b->m.state_len);
        CHECKF(b->state != NULL, "bad state_hex");
        b->m.state = b->state;
    }
}

/* Builds a pgs_msg from a vector's "message" object. */
static int build_msg(json_object *jm, built *b) {
    memset(b, 0, sizeof *b);
    pgs_msg *m = &b->m;
    const char *tname = vj_str(jm, "type", NULL);
    int t = tname ? type_code(tname) : -1;
    uint64_t u = 0;
    CHECKF(t >= 0, "unknown message type %s", tname ? tname : "(missing)");
    if (t < 0) return -1;
    m->type = (uint8_t)t;
    CHECKF(vj_u64(jm, "request_id", &u) && u <= UINT32_MAX, "request_id");
    m->request_id = (uint32_t)u;
    CHECKF(vj_u64(jm, "flags", &u) && u <= 255, "flags");
    m->flags = (uint8_t)u;
    /* no unknown keys, no missing keys */
    const char *const *fl = fields_of(m->type);
    size_t nfields = 0;
    while (fl[nfields]) nfields++;
    size_t optional = 0;
    int keyed = m->type == PGS_T_LOAD || m->type == PGS_T_UPSERT || m->type == PGS_T_DELETE ||
                (m->type >= PGS_T_BULK_LOAD && m->type <= PGS_T_LIST);
    if (keyed) {
        m->has_ns = (m->flags & PGS_FLAG_NAMESPACE) != 0;
        CHECKF(vj_has(jm, "namespace") == m->has_ns, "\"namespace\" present iff flag 0x02: flags %u", m->flags);
        if (vj_has(jm, "namespace")) {
            m->ns = vj_str(jm, "namespace", &m->ns_len);
            CHECKF(m->ns != NULL, "namespace is not a string");
            optional++;
        }
    }
    if (m->type == PGS_T_UPSERT) {
        m->has_ttl = (m->flags & PGS_FLAG_TTL) != 0;
        CHECKF(vj_has(jm, "ttl_seconds") == m->has_ttl, "\"ttl_seconds\" present iff flag 0x04: flags %u", m->flags);
        if (m->has_ttl) {
            m->ttl_seconds = (uint32_t)field_u(jm, "ttl_seconds", UINT32_MAX);
            optional++;
            g_with_ttl++;
        }
    }
    if (m->type == PGS_T_LIST) {
        CHECKF(vj_has(jm, "after") == ((m->flags & PGS_FLAG_AFTER) != 0), "\"after\" present iff flag 0x01");
        optional += vj_has(jm, "after");
    }
    if (m->type == PGS_T_HELLO_OK) {
        uint64_t caps = 0;
        int batch = vj_u64(jm, "capabilities", &caps) && (caps & PGS_CAP_MULTI_KEY);
        CHECKF(vj_has(jm, "max_batch_items") == batch && vj_has(jm, "max_batch_bytes") == batch,
               "batch limits present iff MULTI_KEY");
        if (batch) {
            m->max_batch_items = (uint32_t)field_u(jm, "max_batch_items", UINT32_MAX);
            m->max_batch_bytes = (uint32_t)field_u(jm, "max_batch_bytes", UINT32_MAX);
            optional += 2;
        }
    }
    CHECKF(vj_keys(jm) == 3 + nfields + optional, "message has %zu keys, expected %zu for %s", vj_keys(jm),
           3 + nfields + optional, tname);
    for (size_t i = 0; i < nfields; i++) CHECKF(vj_has(jm, fl[i]), "missing field %s", fl[i]);

    json_object *v;
    switch (m->type) {
    case PGS_T_HELLO:
        if ((v = vj_array(jm, "versions")) != NULL) {
            CHECK(vj_len(v) <= 255);
            m->versions_count = (uint8_t)(vj_len(v) > 255 ? 255 : vj_len(v));
            for (size_t i = 0; i < m->versions_count; i++) {
                uint64_t ver = 0;
                CHECK(vj_as_u64(vj_at(v, i), &ver) && ver <= 0xFFFF);
                m->versions[i] = (uint16_t)ver;
            }
        }
        m->text = vj_str(jm, "client_name", &m->text_len);
        break;
    case PGS_T_LOAD:
    case PGS_T_UPSERT:
    case PGS_T_DELETE:
        m->id = vj_str(jm, "persistence_id", &m->id_len);
        CHECKF(m->id != NULL, "persistence_id is not a string");
        if (m->type != PGS_T_LOAD) {
            if (vj_has(jm, "expected_revision") && vj_get(jm, "expected_revision") == NULL &&
                m->type == PGS_T_DELETE) { /* null */
                m->has_expected = 0;
            } else {
                CHECKF(vj_u64(jm, "expected_revision", &m->expected_revision), "expected_revision");
                m->has_expected = 1;
            }
        }
        if (m->type == PGS_T_UPSERT) set_state(jm, b);
        break;
    case PGS_T_HELLO_OK:
        CHECK(vj_u64(jm, "version", &u) && u <= 0xFFFF);
        m->version = (uint16_t)u;
        m->text = vj_str(jm, "server_version", &m->text_len);
        CHECK(vj_u64(jm, "max_frame_bytes", &u) && u <= UINT32_MAX);
        m->max_frame_bytes = (uint32_t)u;
        CHECK(vj_u64(jm, "max_id_bytes", &u) && u <= 0xFFFF);
        m->max_id_bytes = (uint16_t)u;
        CHECK(vj_u64(jm, "max_state_bytes", &u) && u <= UINT32_MAX);
        m->max_state_bytes = (uint32_t)u;
        CHECK(vj_u64(jm, "max_in_flight", &u) && u <= UINT32_MAX);
        m->max_in_flight = (uint32_t)u;
        CHECK(vj_u64(jm, "capabilities", &u) && u <= UINT32_MAX);
        m->capabilities = (uint32_t)u;
        break;
    case PGS_T_RECORD: {
        CHECK(vj_u64(jm, "revision", &m->revision));
        CHECK(vj_i64(jm, "updated_at_us", &m->updated_at_us));
        set_state(jm, b);
        break;
    }
    case PGS_T_CONFLICT:
        CHECK(vj_u64(jm, "expected_revision", &m->expected_revision));
        CHECK(vj_u64(jm, "actual_revision", &m->actual_revision));
        break;
    case PGS_T_ERROR:
        CHECK(vj_u64(jm, "status", &u) && u <= 0xFFFF);
        m->status = (uint16_t)u;
        m->text = vj_str(jm, "message", &m->text_len);
        break;
    case PGS_T_WHOAMI_OK:
        CHECK(vj_u64(jm, "uid", &u) && u <= UINT32_MAX);
        m->uid = (uint32_t)u;
        CHECK(vj_u64(jm, "gid", &u) && u <= UINT32_MAX);
        m->gid = (uint32_t)u;
        CHECK(vj_u64(jm, "pid", &u) && u <= UINT32_MAX);
        m->pid = (uint32_t)u;
        m->user = vj_str(jm, "user", &m->user_len);
        m->ns = vj_str(jm, "namespace", &m->ns_len);
        CHECK(vj_u64(jm, "permissions", &u) && u <= 255);
        m->permissions = (uint8_t)u;
        m->rule = vj_str(jm, "rule", &m->rule_len);
        CHECK(m->user != NULL && m->ns != NULL && m->rule != NULL);
        break;
    case PGS_T_CLIENTS:
        m->after_connection = field_u(jm, "after_connection", UINT64_MAX);
        break;
    case PGS_T_PAUSE:
        m->timeout_ms = (uint32_t)field_u(jm, "timeout_ms", UINT32_MAX);
        break;
    case PGS_T_HEALTH_OK:
        m->health_state = (uint8_t)field_u(jm, "state", 255);
        m->pool_up = (uint16_t)field_u(jm, "pool_up", 0xFFFF);
        m->pool_size = (uint16_t)field_u(jm, "pool_size", 0xFFFF);
        m->clients = (uint32_t)field_u(jm, "clients", UINT32_MAX);
        m->uptime_ms = field_u(jm, "uptime_ms", UINT64_MAX);
        break;
    case PGS_T_STATS_OK:
        build_entries(vj_array(jm, "entries"), b);
        break;
    case PGS_T_CLIENTS_OK:
        m->more = (uint8_t)field_u(jm, "more", 255);
        build_rows(vj_array(jm, "rows"), b);
        break;
    default:
        build_multikey(jm, b);
        break;
    }
    return 0;
}

static int bytes_eq(const void *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int same_double(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0; /* bit for bit: -0.0 is not 0.0 */
}

/* The entries of a decoded STATS_OK against the expected ones. */
static void compare_entries(const pgs_msg *got, const built *want, const char *how) {
    pgs_cursor it;
    pgs_stat_entry e;
    size_t n = 0;
    for (pgs_items_begin(&it, got); pgs_stats_next(&it, &e); n++) {
        if (n >= want->m.count) continue;
        const pgs_stat_entry *w = &want->entries[n];
        CHECKF(bytes_eq(e.name, e.name_len, w->name, w->name_len), "%s: entry %zu name %.*s", how, n,
               (int)e.name_len, e.name);
        CHECKF(bytes_eq(e.labels, e.labels_len, w->labels, w->labels_len), "%s: entry %zu labels", how, n);
        CHECKF(same_double(e.value, w->value), "%s: entry %zu value %.17g, want %.17g", how, n, e.value, w->value);
    }
    CHECKF(n == want->m.count && got->count == want->m.count, "%s: %zu entries (count %u), want %u", how, n,
           got->count, want->m.count);
}

/* The rows of a decoded CLIENTS_OK against the expected ones. */
static void compare_rows(const pgs_msg *got, const built *want, const char *how) {
    pgs_cursor it;
    pgs_client_row r;
    size_t n = 0;
    CHECKF(got->more == want->m.more, "%s: more %u, want %u", how, got->more, want->m.more);
    for (pgs_items_begin(&it, got); pgs_clients_next(&it, &r); n++) {
        if (n >= want->m.count) continue;
        const pgs_client_row *w = &want->rows[n];
        CHECKF(r.connection_id == w->connection_id && r.uid == w->uid && r.pid == w->pid,
               "%s: row %zu connection_id/uid/pid %llu/%u/%u", how, n, (unsigned long long)r.connection_id, r.uid,
               r.pid);
        CHECKF(bytes_eq(r.user, r.user_len, w->user, w->user_len), "%s: row %zu user", how, n);
        CHECKF(bytes_eq(r.ns, r.ns_len, w->ns, w->ns_len), "%s: row %zu namespace", how, n);
        CHECKF(bytes_eq(r.client_name, r.client_name_len, w->client_name, w->client_name_len),
               "%s: row %zu client_name", how, n);
        CHECKF(r.state == w->state, "%s: row %zu state %u, want %u", how, n, r.state, w->state);
        CHECKF(r.connected_ms == w->connected_ms && r.requests == w->requests && r.in_flight == w->in_flight,
               "%s: row %zu connected_ms/requests/in_flight", how, n);
    }
    CHECKF(n == want->m.count && got->count == want->m.count, "%s: %zu rows (count %u), want %u", how, n,
           got->count, want->m.count);
}

/* The ids, items, entries, outcomes or conflicts of a decoded multi-key message against the expected ones. */
static void compare_multikey(const pgs_msg *got, const built *wb, const char *how) {
    const pgs_msg *want = &wb->m;
    pgs_cursor it;
    size_t n = 0;
    if (want->type >= PGS_T_BULK_LOAD && want->type <= PGS_T_LIST) {
        CHECKF(got->has_ns == want->has_ns, "%s: namespace presence", how);
        if (want->has_ns) CHECKF(bytes_eq(got->ns, got->ns_len, want->ns, want->ns_len), "%s: namespace", how);
    }
    if (want->type == PGS_T_LIST) {
        CHECKF(bytes_eq(got->prefix, got->prefix_len, want->prefix, want->prefix_len), "%s: prefix", how);
        CHECKF(got->has_after == want->has_after, "%s: after presence", how);
        if (want->has_after) CHECKF(bytes_eq(got->after, got->after_len, want->after, want->after_len), "%s", how);
        CHECKF(got->limit == want->limit, "%s: limit %u, want %u", how, got->limit, want->limit);
        return;
    }
    if (want->type == PGS_T_LIST_OK) CHECKF(got->more == want->more, "%s: more %u", how, got->more);
    pgs_items_begin(&it, got);
    for (;; n++) {
        int more;
        switch (want->type) {
        case PGS_T_BULK_LOAD: {
            const char *id;
            size_t len;
            if (!(more = pgs_ids_next(&it, &id, &len)) || n >= wb->n) break;
            CHECKF(bytes_eq(id, len, wb->ids[n], wb->id_lens[n]), "%s: id %zu", how, n);
            break;
        }
        case PGS_T_BULK_WRITE:
        case PGS_T_TRANSACT: {
            pgs_item g;
            if (!(more = pgs_item_next(&it, &g)) || n >= wb->n) break;
            const pgs_item *w = &wb->items[n];
            CHECKF(g.kind == w->kind && g.has_expected == w->has_expected &&
                       g.expected_revision == w->expected_revision && g.has_ttl == w->has_ttl &&
                       g.ttl_seconds == w->ttl_seconds,
                   "%s: item %zu kind %u expected %d/%llu ttl %d/%u", how, n, g.kind, g.has_expected,
                   (unsigned long long)g.expected_revision, g.has_ttl, g.ttl_seconds);
            CHECKF(bytes_eq(g.id, g.id_len, w->id, w->id_len), "%s: item %zu id", how, n);
            CHECKF(bytes_eq(g.state, g.state_len, w->state, w->state_len), "%s: item %zu state", how, n);
            break;
        }
        case PGS_T_RECORDS: {
            pgs_record_entry g;
            if (!(more = pgs_record_next(&it, &g)) || n >= wb->n) break;
            const pgs_record_entry *w = &wb->records[n];
            CHECKF(g.presence == w->presence && g.revision == w->revision && g.updated_at_us == w->updated_at_us,
                   "%s: entry %zu presence %u revision %llu", how, n, g.presence, (unsigned long long)g.revision);
            CHECKF(bytes_eq(g.state, g.state_len, w->state, w->state_len), "%s: entry %zu state", how, n);
            break;
        }
        case PGS_T_OUTCOMES: {
            pgs_outcome g;
            if (!(more = pgs_outcome_next(&it, &g)) || n >= wb->n) break;
            const pgs_outcome *w = &wb->outcomes[n];
            CHECKF(g.result == w->result && g.revision == w->revision && g.updated_at_us == w->updated_at_us &&
                       g.expected_revision == w->expected_revision && g.actual_revision == w->actual_revision &&
                       g.status == w->status,
                   "%s: outcome %zu result %u", how, n, g.result);
            CHECKF(bytes_eq(g.message, g.message_len, w->message, w->message_len), "%s: outcome %zu message", how, n);
            break;
        }
        case PGS_T_TRANSACT_CONFLICT: {
            pgs_conflict_entry g;
            if (!(more = pgs_conflict_next(&it, &g)) || n >= wb->n) break;
            const pgs_conflict_entry *w = &wb->conflicts[n];
            CHECKF(g.index == w->index && g.expected_revision == w->expected_revision &&
                       g.actual_revision == w->actual_revision,
                   "%s: conflict %zu index %u", how, n, g.index);
            break;
        }
        case PGS_T_LIST_OK: {
            pgs_list_entry g;
            if (!(more = pgs_list_next(&it, &g)) || n >= wb->n) break;
            const pgs_list_entry *w = &wb->list[n];
            CHECKF(bytes_eq(g.id, g.id_len, w->id, w->id_len) && g.revision == w->revision &&
                       g.updated_at_us == w->updated_at_us,
                   "%s: entry %zu", how, n);
            break;
        }
        default: return;
        }
        if (!more) break;
    }
    CHECKF(n == wb->n && got->count == want->count, "%s: %zu entries (count %u), want %zu", how, n, got->count,
           wb->n);
}

/* Compares a decoded message with the expected one, field by field. */
static void compare_msg(const pgs_msg *got, const built *wb, const char *how) {
    const pgs_msg *want = &wb->m;
    CHECKF(got->type == want->type, "%s: type 0x%02x, want 0x%02x", how, got->type, want->type);
    CHECKF(got->request_id == want->request_id, "%s: request_id %u, want %u", how, got->request_id,
           want->request_id);
    CHECKF(got->flags == want->flags, "%s: flags %u, want %u", how, got->flags, want->flags);
    switch (want->type) {
    case PGS_T_HELLO:
        CHECKF(got->versions_count == want->versions_count, "%s: versions_count", how);
        CHECKF(bytes_eq(got->versions, got->versions_count * 2u, want->versions, want->versions_count * 2u),
               "%s: versions", how);
        CHECKF(bytes_eq(got->text, got->text_len, want->text, want->text_len), "%s: client_name", how);
        break;
    case PGS_T_LOAD:
    case PGS_T_UPSERT:
    case PGS_T_DELETE:
        CHECKF(got->has_ttl == want->has_ttl && got->ttl_seconds == want->ttl_seconds, "%s: ttl_seconds %u (%d)",
               how, got->ttl_seconds, got->has_ttl);
        CHECKF(got->has_ns == want->has_ns, "%s: namespace presence %d, want %d", how, got->has_ns, want->has_ns);
        if (want->has_ns) CHECKF(bytes_eq(got->ns, got->ns_len, want->ns, want->ns_len), "%s: namespace", how);
        CHECKF(bytes_eq(got->id, got->id_len, want->id, want->id_len), "%s: persistence_id", how);
        CHECKF(got->has_expected == want->has_expected, "%s: expected_revision presence %d, want %d", how,
               got->has_expected, want->has_expected);
        CHECKF(got->expected_revision == want->expected_revision, "%s: expected_revision %llu, want %llu", how,
               (unsigned long long)got->expected_revision, (unsigned long long)want->expected_revision);
        CHECKF(bytes_eq(got->state, got->state_len, want->state, want->state_len), "%s: state (%zu vs %zu bytes)",
               how, got->state_len, want->state_len);
        break;
    case PGS_T_HELLO_OK:
        CHECKF(got->version == want->version, "%s: version", how);
        CHECKF(bytes_eq(got->text, got->text_len, want->text, want->text_len), "%s: server_version", how);
        CHECKF(got->max_frame_bytes == want->max_frame_bytes, "%s: max_frame_bytes", how);
        CHECKF(got->max_id_bytes == want->max_id_bytes, "%s: max_id_bytes", how);
        CHECKF(got->max_state_bytes == want->max_state_bytes, "%s: max_state_bytes", how);
        CHECKF(got->max_in_flight == want->max_in_flight, "%s: max_in_flight", how);
        CHECKF(got->capabilities == want->capabilities, "%s: capabilities", how);
        CHECKF(got->max_batch_items == want->max_batch_items && got->max_batch_bytes == want->max_batch_bytes,
               "%s: batch limits %u / %u", how, got->max_batch_items, got->max_batch_bytes);
        break;
    case PGS_T_RECORD:
        CHECKF(got->revision == want->revision, "%s: revision", how);
        CHECKF(got->updated_at_us == want->updated_at_us, "%s: updated_at_us %lld, want %lld", how,
               (long long)got->updated_at_us, (long long)want->updated_at_us);
        CHECKF(bytes_eq(got->state, got->state_len, want->state, want->state_len), "%s: state", how);
        break;
    case PGS_T_CONFLICT:
        CHECKF(got->expected_revision == want->expected_revision, "%s: expected_revision", how);
        CHECKF(got->actual_revision == want->actual_revision, "%s: actual_revision", how);
        break;
    case PGS_T_ERROR:
        CHECKF(got->status == want->status, "%s: status %u, want %u", how, got->status, want->status);
        CHECKF(bytes_eq(got->text, got->text_len, want->text, want->text_len), "%s: message", how);
        break;
    case PGS_T_WHOAMI_OK:
        CHECKF(got->uid == want->uid && got->gid == want->gid && got->pid == want->pid, "%s: uid/gid/pid %u/%u/%u",
               how, got->uid, got->gid, got->pid);
        CHECKF(bytes_eq(got->user, got->user_len, want->user, want->user_len), "%s: user", how);
        CHECKF(bytes_eq(got->ns, got->ns_len, want->ns, want->ns_len), "%s: namespace", how);
        CHECKF(got->permissions == want->permissions, "%s: permissions 0x%02x, want 0x%02x", how, got->permissions,
               want->permissions);
        CHECKF(bytes_eq(got->rule, got->rule_len, want->rule, want->rule_len), "%s: rule", how);
        break;
    case PGS_T_CLIENTS:
        CHECKF(got->after_connection == want->after_connection, "%s: after_connection %llu, want %llu", how,
               (unsigned long long)got->after_connection, (unsigned long long)want->after_connection);
        break;
    case PGS_T_PAUSE:
        CHECKF(got->timeout_ms == want->timeout_ms, "%s: timeout_ms %u, want %u", how, got->timeout_ms,
               want->timeout_ms);
        break;
    case PGS_T_HEALTH_OK:
        CHECKF(got->health_state == want->health_state, "%s: state 0x%02x, want 0x%02x", how, got->health_state,
               want->health_state);
        CHECKF(got->pool_up == want->pool_up && got->pool_size == want->pool_size, "%s: pool %u/%u", how,
               got->pool_up, got->pool_size);
        CHECKF(got->clients == want->clients, "%s: clients %u", how, got->clients);
        CHECKF(got->uptime_ms == want->uptime_ms, "%s: uptime_ms %llu", how, (unsigned long long)got->uptime_ms);
        break;
    case PGS_T_STATS_OK: compare_entries(got, wb, how); break;
    case PGS_T_CLIENTS_OK: compare_rows(got, wb, how); break;
    default:
        compare_multikey(got, wb, how);
        break;
    }
}

/* Outcome of decoding one frame from the start of a byte string. */
typedef struct outcome {
    int kind; /* 0 need more, 1 message, 2 error */
    int status;
    uint32_t rid;
    pgs_msg m;
    size_t consumed_after; /* unconsumed bytes left in the reader */
} outcome;

/* Decodes the frame the reader holds (if any) in the vector's direction. */
static void decode_next(pgs_reader *r, int is_request, const pgs_limits *lim, outcome *o) {
    const uint8_t *body;
    uint32_t len;
    memset(o, 0, sizeof *o);
    int n = pgs_reader_next(r, &body, &len);
    if (n == PGS_NEED_MORE) {
        o->kind = 0;
    } else if (n == PGS_READ_ERROR) {
        o->kind = 2;
        o->status = r->err_status;
        o->rid = 0;
    } else {
        uint32_t erid;
        int st = is_request ? pgs_decode_request(body, len, lim, &o->m, &erid)
                            : pgs_decode_response(body, len, &o->m, &erid);
        if (st == 0) {
            o->kind = 1;
        } else {
            o->kind = 2;
            o->status = st;
            o->rid = erid;
        }
    }
    o->consumed_after = pgs_reader_buffered(r);
}

/* Feeds all bytes at once (as much as the reader takes: it holds at most one
   maximal frame), then decodes; *fed says how many bytes went in. */
static void decode_all(const uint8_t *data, size_t n, int is_request, const pgs_limits *lim, pgs_reader *r,
                       outcome *o, size_t *fed) {
    pgs_reader_init(r, lim->max_frame_bytes);
    size_t off = 0;
    for (;;) {
        size_t took = pgs_reader_feed(r, data + off, n - off);
        CHECK(took != (size_t)-1);
        if (took == (size_t)-1) took = 0;
        off += took;
        decode_next(r, is_request, lim, o);
        if (o->kind != 0 || off == n || took == 0) break;
    }
    *fed = off;
}

static void run_vector(json_object *v, const char *file) {
    const char *name = vj_str(v, "name", NULL);
    const char *dir = vj_str(v, "direction", NULL);
    size_t hexlen = 0;
    const char *hex = vj_str(v, "hex", &hexlen);
    CHECKF(name && dir && hex, "%s: vector lacks name/direction/hex", file);
    if (!name || !dir || !hex) return;
    int is_request = strcmp(dir, "request") == 0;
    CHECKF(is_request || strcmp(dir, "response") == 0, "bad direction %s", dir);

    pgs_limits lim;
    pgs_limits_default(&lim);
    json_object *jl = vj_get(v, "limits");
    if (jl) {
        uint64_t u;
        if (vj_u64(jl, "max_frame_bytes", &u)) lim.max_frame_bytes = (uint32_t)u;
        if (vj_u64(jl, "max_state_bytes", &u)) lim.max_state_bytes = (uint32_t)u;
        if (vj_u64(jl, "max_id_bytes", &u)) lim.max_id_bytes = (uint32_t)u;
        if (vj_u64(jl, "capabilities", &u)) lim.capabilities = (uint32_t)u;
        if (vj_u64(jl, "max_batch_items", &u)) lim.max_batch_items = (uint32_t)u;
        if (vj_u64(jl, "max_batch_bytes", &u)) lim.max_batch_bytes = (uint32_t)u;
    }

    size_t n;
    uint8_t *data = hex_decode(hex, hexlen, &n);
    CHECKF(data != NULL, "bad hex");
    if (data == NULL) return;

    json_object *jmsg = vj_get(v, "message");
    json_object *jerr = vj_get(v, "error");
    int incomplete = vj_true(v, "incomplete");
    CHECKF((jmsg != NULL) + (jerr != NULL) + incomplete == 1, "vector must be exactly one of valid/invalid/incomplete");

    pgs_reader r;
    outcome all;
    size_t fed_all;
    decode_all(data, n, is_request, &lim, &r, &all, &fed_all);

    if (jmsg) {
        built want;
        if (build_msg(jmsg, &want) == 0) {
            /* encode */
            pgs_buf b;
            pgs_buf_init(&b);
            int rc = encode_built(&b, &want);
            CHECKF(rc == PGS_ENC_OK, "encode failed: %d", rc);
            CHECKF(bytes_eq(b.data, b.len, data, n), "encoding differs from hex (%zu vs %zu bytes)", b.len, n);
            /* decode all at once; the decoded message encodes to the same bytes */
            CHECKF(all.kind == 1, "decode: kind %d status %d rid %u", all.kind, all.status, all.rid);
            if (all.kind == 1) {
                compare_msg(&all.m, &want, "all at once");
                b.len = 0;
                CHECK(pgs_encode_msg(&b, &all.m) == PGS_ENC_OK);
                CHECKF(bytes_eq(b.data, b.len, data, n), "the decoded message encodes to other bytes");
            }
            pgs_buf_free(&b);
            CHECKF(fed_all == n && all.consumed_after == 0, "frame not fully consumed (%zu left)",
                   all.consumed_after);
            /* one byte at a time: no frame before the last byte */
            pgs_reader r1;
            pgs_reader_init(&r1, lim.max_frame_bytes);
            outcome o;
            for (size_t i = 0; i < n; i++) {
                CHECK(pgs_reader_feed(&r1, data + i, 1) == 1);
                decode_next(&r1, is_request, &lim, &o);
                if (i + 1 < n) {
                    if (o.kind != 0) {
                        CHECKF(0, "byte-at-a-time: got kind %d after %zu of %zu bytes", o.kind, i + 1, n);
                        break;
                    }
                    CHECKF(o.consumed_after == i + 1, "partial frame consumed bytes");
                } else {
                    CHECKF(o.kind == 1, "byte-at-a-time: kind %d at the end", o.kind);
                    if (o.kind == 1) compare_msg(&o.m, &want, "byte at a time");
                }
            }
            pgs_reader_free(&r1);
            /* two copies back to back: two identical frames, nothing left */
            pgs_reader r2;
            pgs_reader_init(&r2, lim.max_frame_bytes);
            uint8_t *two = malloc(2 * n);
            if (two) {
                memcpy(two, data, n);
                memcpy(two + n, data, n);
                size_t off = 0;
                int frames = 0;
                while (off < 2 * n) {
                    size_t took = pgs_reader_feed(&r2, two + off, 2 * n - off);
                    CHECK(took != (size_t)-1);
                    if (took == (size_t)-1) break;
                    off += took;
                    for (;;) {
                        decode_next(&r2, is_request, &lim, &o);
                        if (o.kind != 1) break;
                        compare_msg(&o.m, &want, "back to back");
                        frames++;
                    }
                    if (took == 0 && o.kind != 1) break;
                }
                CHECKF(frames == 2 && pgs_reader_buffered(&r2) == 0, "back to back: %d frames", frames);
                free(two);
            }
            pgs_reader_free(&r2);
            /* a vector's type must match its direction */
            CHECKF((want.m.type < 0x80) == is_request, "type/direction mismatch");
            g_valid_of_type[want.m.type]++;
            g_namespaced += want.m.has_ns;
        }
        built_free(&want);
    } else if (jerr) {
        uint64_t want_status = 0, want_rid = 0;
        CHECK(vj_u64(jerr, "status", &want_status));
        CHECK(vj_u64(v, "request_id", &want_rid));
        const char *sname = vj_str(jerr, "name", NULL);
        const char *known = pgs_status_wire_name((unsigned)want_status);
        CHECKF(sname && known && strcmp(sname, known) == 0, "status name %s", sname ? sname : "(none)");
        CHECKF(all.kind == 2, "expected error %llu, got kind %d", (unsigned long long)want_status, all.kind);
        CHECKF((uint64_t)all.status == want_status, "status %d, want %llu", all.status,
               (unsigned long long)want_status);
        CHECKF((uint64_t)all.rid == want_rid, "request id %u, want %llu", all.rid, (unsigned long long)want_rid);
        /* byte at a time: the same outcome, with header errors found right after
           the 4 length bytes (never waiting for the body) */
        pgs_reader r1;
        pgs_reader_init(&r1, lim.max_frame_bytes);
        outcome o;
        memset(&o, 0, sizeof o);
        size_t fed = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(pgs_reader_feed(&r1, data + i, 1) == 1);
            fed++;
            decode_next(&r1, is_request, &lim, &o);
            if (o.kind != 0) break;
        }
        CHECKF(o.kind == 2 && o.status == all.status && o.rid == all.rid, "byte-at-a-time outcome differs");
        if (o.kind == 2 && r1.err_status != 0) {
            CHECKF(fed == 4, "header error reported after %zu bytes instead of 4", fed);
        }
        pgs_reader_free(&r1);
    } else {
        CHECKF(all.kind == 0, "incomplete vector produced kind %d (status %d)", all.kind, all.status);
        CHECKF(fed_all == n && all.consumed_after == n, "incomplete vector consumed bytes (%zu of %zu left)",
               all.consumed_after, n);
        /* also byte by byte */
        pgs_reader r1;
        pgs_reader_init(&r1, lim.max_frame_bytes);
        for (size_t i = 0; i < n; i++) {
            outcome o;
            CHECK(pgs_reader_feed(&r1, data + i, 1) == 1);
            decode_next(&r1, is_request, &lim, &o);
            CHECKF(o.kind == 0 && o.consumed_after == i + 1, "byte %zu: kind %d", i, o.kind);
        }
        pgs_reader_free(&r1);
    }
    pgs_reader_free(&r);
    free(data);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void) {
    const char *dir = vj_vectors_dir();
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "test_vectors: cannot open vector directory %s (set PGSTATE_VECTORS_DIR)\n", dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    char *files[256];
    size_t nfiles = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nfiles < 256) {
        size_t l = strlen(de->d_name);
        if (strcmp(de->d_name, "envelope.json") == 0) continue; /* states, not frames: test_envelope */
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) files[nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof files[0], cmp_str);
    if (nfiles == 0) {
        fprintf(stderr, "test_vectors: no *.json files in %s\n", dir);
        h_failed++;
    }

    char *names[4096];
    size_t nnames = 0;
    for (size_t f = 0; f < nfiles; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        char err[256];
        json_object *root = vj_load(path, err, sizeof err);
        if (root == NULL) {
            fprintf(stderr, "test_vectors: %s: %s\n", path, err);
            h_failed++;
            continue;
        }
        json_object *vecs = vj_array(root, "vectors");
        if (vecs == NULL) {
            fprintf(stderr, "test_vectors: %s: no \"vectors\" array\n", path);
            h_failed++;
            json_object_put(root);
            continue;
        }
        int file_passed = 0, file_failed = 0;
        for (size_t i = 0; i < vj_len(vecs); i++) {
            json_object *v = vj_at(vecs, i);
            const char *name = vj_str(v, "name", NULL);
            h_cur_name = name ? name : "(unnamed)";
            h_cur_failures = 0;
            for (size_t k = 0; name && k < nnames; k++) {
                CHECKF(strcmp(names[k], name) != 0, "duplicate vector name");
            }
            if (name && nnames < 4096) names[nnames++] = strdup(name);
            run_vector(v, files[f]);
            if (h_cur_failures == 0) {
                h_passed++;
                file_passed++;
            } else {
                h_failed++;
                file_failed++;
                printf("FAIL %s/%s\n", files[f], h_cur_name);
            }
        }
        printf("%-16s %d vectors passed, %d failed\n", files[f], file_passed, file_failed);
        json_object_put(root);
    }
    for (size_t k = 0; k < nnames; k++) free(names[k]);
    for (size_t f = 0; f < nfiles; f++) free(files[f]);
    /* every message type of the protocol was exercised, and namespaced requests among them */
    h_cur_name = "every message type has a valid vector";
    h_cur_failures = 0;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        CHECKF(g_valid_of_type[TYPES[i].type] > 0, "no valid %s vector", TYPES[i].name);
    }
    CHECKF(g_namespaced > 0, "no valid vector of a request naming a namespace");
    CHECKF(g_with_ttl > 0, "no valid vector of an upsert or an item with a TTL");
    if (h_cur_failures == 0) h_passed++;
    else h_failed++;
    printf("%-16s %d namespaced requests, %d upserts and items with a TTL, %zu message types\n", "(all files)",
           g_namespaced, g_with_ttl, sizeof TYPES / sizeof TYPES[0]);
    return harness_summary();
}
