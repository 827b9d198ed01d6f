/*
 * test_conformance.c - runs every scenario of proto-spec/conformance/scenarios.json
 * (format: proto-spec/conformance/README.md) through libpgstate against a LIVE
 * pgstated at $PGSTATE_SOCKET.
 *
 * Without $PGSTATE_SOCKET it only parses the scenarios and checks that this
 * runner understands every step (a dry run), then skips.  The file path is
 * ../../proto-spec/conformance/scenarios.json (relative to clients/c), or
 * $PGSTATE_SCENARIOS.  Ends with "N passed, M failed" (scenarios).  A step,
 * expectation or permission name it does not know fails the run.
 *
 * whoami steps: the runner is an operator (its uid is 0 or the daemon's,
 * taken to be the owner of the socket file) or not; an operator must also get
 * the identity expectation's "operator_extra" permissions.
 *
 * Multi-key steps (bulk_load, bulk_write, transact, list) need the daemon's
 * MULTI_KEY capability, a TTL its TTL: a scenario holding one is skipped, and
 * says so, when the daemon does not announce it.
 *
 * After the scenarios, two more checks that no scenario holds.  With
 * MULTI_KEY, a BULK_LOAD whose records do not fit one answer: two states of
 * more than half of max_frame_bytes each, so that the daemon marks the second
 * OMITTED (seen through pgstate_send_bulk_load) and pgstate_bulk_load asks
 * for it again.  And the operators' calls: HEALTH answers READY; an operator gets STATS and CLIENTS
 * (listing this very connection), anyone else PERMISSION_DENIED for them and
 * for PAUSE and RESUME.  An operator's PAUSE is not tried: it would hold back
 * every other client of the daemon.
 */
#include "harness.h"
#include "vector_json.h"
#include "pgstate.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 30000

typedef struct ctx {
    const char *socket_path; /* NULL: dry run */
    int as_operator;         /* uid 0 or the daemon's (see is_operator) */
    char prefix[64];
    pgstate_client *c;
    char why[512];
} ctx;

static int fail(ctx *x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- ids and states ---- */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

/* A template with {p} replaced by the run's prefix, padded with 'x' to pad bytes when has_pad. */
static int resolve_template(ctx *x, const char *tid, size_t tlen, int has_pad, uint64_t pad, bytes *out) {
    out->p = NULL;
    out->n = 0;
    size_t plen = strlen(x->prefix);
    size_t cap = tlen * (plen + 1) + (has_pad ? pad : 0) + 1;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) return fail(x, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < tlen;) {
        if (i + 3 <= tlen && memcmp(tid + i, "{p}", 3) == 0) {
            memcpy(buf + n, x->prefix, plen);
            n += plen;
            i += 3;
        } else {
            buf[n++] = (uint8_t)tid[i++];
        }
    }
    if (has_pad) {
        if (n > pad) {
            free(buf);
            return fail(x, "id is already longer than id_pad_to %llu", (unsigned long long)pad);
        }
        while (n < pad) buf[n++] = 'x';
    }
    out->p = buf;
    out->n = n;
    return 0;
}

static int resolve_id(ctx *x, json_object *step, bytes *out) {
    out->p = NULL;
    out->n = 0;
    if (vj_has(step, "id") == vj_has(step, "id_hex")) return fail(x, "step needs exactly one of id / id_hex");
    size_t hlen = 0;
    if (vj_has(step, "id_hex")) {
        const char *hid = vj_str(step, "id_hex", &hlen);
        if (hid == NULL) return fail(x, "id_hex is not a string");
        out->p = hex_decode(hid, hlen, &out->n);
        return out->p ? 0 : fail(x, "bad id_hex");
    }
    size_t tlen = 0;
    const char *tid = vj_str(step, "id", &tlen);
    if (tid == NULL) return fail(x, "id is not a string");
    uint64_t pad = 0;
    int has_pad = vj_u64(step, "id_pad_to", &pad);
    return resolve_template(x, tid, tlen, has_pad, pad, out);
}

/* The template under key (a string with {p}), or an absent key: 1 resolved, 0 absent, -1 bad. */
static int resolve_key(ctx *x, json_object *obj, const char *key, bytes *out) {
    out->p = NULL;
    out->n = 0;
    if (!vj_has(obj, key)) return 0;
    size_t tlen = 0;
    const char *t = vj_str(obj, key, &tlen);
    if (t == NULL) return fail(x, "%s is not a string", key);
    return resolve_template(x, t, tlen, 0, 0, out) == 0 ? 1 : -1;
}

/* From "state_hex" or "state_repeat" of obj. */
static int resolve_state(ctx *x, json_object *obj, bytes *out) {
    out->p = NULL;
    out->n = 0;
    if (vj_has(obj, "state_hex") == vj_has(obj, "state_repeat")) {
        return fail(x, "need exactly one of state_hex / state_repeat");
    }
    if (vj_has(obj, "state_hex")) {
        size_t hlen = 0;
        const char *h = vj_str(obj, "state_hex", &hlen);
        if (h == NULL) return fail(x, "state_hex is not a string");
        out->p = hex_decode(h, hlen, &out->n);
        return out->p ? 0 : fail(x, "bad state_hex");
    }
    json_object *r = vj_get(obj, "state_repeat");
    const char *hx = vj_str(r, "hex", NULL);
    uint64_t count;
    if (hx == NULL || !vj_u64(r, "count", &count)) return fail(x, "state_repeat needs hex and count");
    size_t plen;
    uint8_t *pat = hex_decode(hx, strlen(hx), &plen);
    if (pat == NULL) return fail(x, "bad state_repeat hex");
    if (count > ((uint64_t)1 << 32) || (plen > 0 && count > SIZE_MAX / plen)) {
        free(pat);
        return fail(x, "state_repeat too large");
    }
    size_t n = plen * (size_t)count;
    out->p = malloc(n + 1);
    if (out->p == NULL) {
        free(pat);
        return fail(x, "out of memory");
    }
    for (size_t i = 0; i < (size_t)count; i++) memcpy(out->p + i * plen, pat, plen);
    out->n = n;
    free(pat);
    return 0;
}

/* The step's "namespace": 1 with *ns set (a string of *ns_len bytes), 0 without the key. */
static int resolve_namespace(ctx *x, json_object *step, const char **ns, size_t *ns_len) {
    *ns = NULL;
    *ns_len = 0;
    if (!vj_has(step, "namespace")) return 0;
    *ns = vj_str(step, "namespace", ns_len);
    return *ns != NULL ? 1 : fail(x, "namespace is not a string");
}

/* Root, or the daemon's user: the owner of the socket file (the daemon binds it as its own user). */
static int is_operator(const char *socket_path) {
    struct stat st;
    uid_t me = getuid();
    return me == 0 || (stat(socket_path, &st) == 0 && st.st_uid == me);
}

/* ---- the operators' calls ---- */

static int run_operators(ctx *x) {
    pgstate_client *c = x->c;
    if (!(pgstate_capabilities(c) & PGSTATE_CAP_OPERATOR)) return fail(x, "pgstated does not announce OPERATOR");
    pgstate_health_info h;
    int rc = PGSTATE_OK;
    for (int tries = 0; tries < 50; tries++) { /* the pool may still be connecting */
        rc = pgstate_health(c, &h);
        if (rc != PGSTATE_OK || h.ready) break;
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
    }
    if (rc != PGSTATE_OK) return fail(x, "health: %s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    if (!h.ready) return fail(x, "health: not ready (state 0x%x, pool %u of %u up)", h.state, h.pool_up, h.pool_size);
    if (h.pool_size < 1 || h.pool_up > h.pool_size || h.clients < 1) {
        return fail(x, "health: pool %u of %u up, %u clients", h.pool_up, h.pool_size, h.clients);
    }
    pgstate_stats_list *st = NULL;
    pgstate_client_list *cl = NULL;
    if (!x->as_operator) { /* no ADMIN: refused, nothing done, the connection stays */
        if ((rc = pgstate_stats(c, &st)) != PGSTATE_ERR_PERMISSION_DENIED || st != NULL) {
            return fail(x, "stats without ADMIN: %s", pgstate_status_name(rc));
        }
        if ((rc = pgstate_clients(c, &cl)) != PGSTATE_ERR_PERMISSION_DENIED || cl != NULL) {
            return fail(x, "clients without ADMIN: %s", pgstate_status_name(rc));
        }
        if ((rc = pgstate_pause(c, 1)) != PGSTATE_ERR_PERMISSION_DENIED) {
            if (rc == PGSTATE_OK) pgstate_resume(c);
            return fail(x, "pause without ADMIN: %s", pgstate_status_name(rc));
        }
        if ((rc = pgstate_resume(c)) != PGSTATE_ERR_PERMISSION_DENIED) {
            return fail(x, "resume without ADMIN: %s", pgstate_status_name(rc));
        }
        rc = pgstate_ping(c);
        return rc == PGSTATE_OK ? 0 : fail(x, "ping after the refusals: %s", pgstate_status_name(rc));
    }
    if ((rc = pgstate_stats(c, &st)) != PGSTATE_OK) {
        return fail(x, "stats: %s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    }
    int up = 0, build = 0;
    for (size_t i = 0; i < st->count; i++) {
        const pgstate_stat *e = &st->entries[i];
        if (strcmp(e->name, "pgstate_up") == 0 && e->labels_len == 0 && e->value == 1.0) up = 1;
        if (strcmp(e->name, "pgstate_build_info") == 0 && strncmp(e->labels, "version=\"", 9) == 0) build = 1;
    }
    size_t nstats = st->count;
    pgstate_stats_list_free(st);
    if (!up || !build) return fail(x, "stats: %zu entries, without pgstate_up 1 or pgstate_build_info", nstats);
    if ((rc = pgstate_clients(c, &cl)) != PGSTATE_OK) {
        return fail(x, "clients: %s: %s", pgstate_status_name(rc), pgstate_errmsg(c));
    }
    int mine = 0;
    const char *name = "pgstate-c/" PGSTATE_VERSION_STRING;
    for (size_t i = 0; i < cl->count; i++) {
        const pgstate_client_row *r = &cl->rows[i];
        if (i > 0 && r->connection_id <= cl->rows[i - 1].connection_id) mine = -1000;
        if (strcmp(r->client_name, name) == 0 && r->uid == (uint32_t)getuid() && r->state == PGSTATE_CONN_READY) {
            mine++; /* this connection, at least */
        }
    }
    size_t nrows = cl->count;
    pgstate_client_list_free(cl);
    if (mine < 1) {
        return fail(x, "clients: %zu rows (ascending: %s), none READY for uid %lu named %s", nrows,
                    mine < 0 ? "no" : "yes", (unsigned long)getuid(), name);
    }
    return 0;
}

/* ---- a BULK_LOAD answered in more than one frame ---- */

static int run_omitted(ctx *x) {
    pgstate_client *c = x->c;
    uint32_t max_frame = pgstate_max_frame_bytes(c), max_state = pgstate_max_state_bytes(c);
    size_t n = (size_t)max_frame / 2 + 4096; /* two of them never fit one frame */
    if (n > max_state) return fail(x, "max_state_bytes %u is too small for the check", max_state);
    uint8_t *state = malloc(n);
    if (state == NULL) return fail(x, "out of memory");
    char id0[96], id1[96];
    snprintf(id0, sizeof id0, "%somitted-0", x->prefix);
    snprintf(id1, sizeof id1, "%somitted-1", x->prefix);
    const char *ids[3] = {id0, id1, id0};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        memset(state, 'a' + k, n);
        int s = pgstate_upsert(c, ids[k], strlen(ids[k]), 0, state, n, NULL);
        if (s != PGSTATE_OK) rc = fail(x, "upsert %s: %s: %s", ids[k], pgstate_status_name(s), pgstate_errmsg(c));
    }
    pgstate_reply *r = NULL;
    if (rc == 0 && (pgstate_send_bulk_load(c, ids, NULL, 3) == 0 || pgstate_read_reply(c, &r) != PGSTATE_OK ||
                    r->kind != PGSTATE_REPLY_RECORDS || r->records->omitted < 1)) {
        rc = fail(x, "one BULK_LOAD of two %zu-byte states: %s", n,
                  r == NULL ? pgstate_errmsg(c) : r->records ? "nothing OMITTED" : r->message);
    }
    pgstate_reply_free(r);
    pgstate_record_list *list = NULL;
    int s = rc == 0 ? pgstate_bulk_load(c, ids, NULL, 3, &list) : PGSTATE_OK;
    if (rc == 0 && s != PGSTATE_OK) rc = fail(x, "bulk_load: %s: %s", pgstate_status_name(s), pgstate_errmsg(c));
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        const pgstate_record *rec = list->entries[i].record;
        memset(state, i == 1 ? 'b' : 'a', n);
        if (list->omitted != 0 || rec == NULL || rec->revision != 1 || rec->state_len != n ||
            memcmp(rec->state, state, n) != 0) {
            rc = fail(x, "bulk_load entry %zu: presence %d", i, list->entries[i].presence);
        }
    }
    pgstate_record_list_free(list);
    pgstate_delete(c, id0, strlen(id0));
    pgstate_delete(c, id1, strlen(id1));
    free(state);
    return rc;
}

/* ---- expectations ---- */

enum { EX_RECORD, EX_NOT_FOUND, EX_OK, EX_CONFLICT, EX_ERROR, EX_IDENTITY };

typedef struct expect {
    int kind;
    uint64_t revision;
    bytes state;
    uint64_t expected, actual;
    int error_status;
    const char *ns; /* identity: namespace (ns_len bytes), permissions_include, operator_extra */
    size_t ns_len;
    uint32_t perms_include, perms_operator_extra;
} expect;

/* Permission names of PROTOCOL.md section 6.13, in lower case. */
static const struct {
    const char *name;
    uint32_t bit;
} permission_names[] = {
    {"read", PGSTATE_PERM_READ},
    {"write", PGSTATE_PERM_WRITE},
    {"admin", PGSTATE_PERM_ADMIN},
    {"any_namespace", PGSTATE_PERM_ANY_NAMESPACE},
};

/* The bits of the array of permission names obj[key]; an absent key is no permission when optional. */
static int parse_permissions(ctx *x, json_object *obj, const char *key, int optional, uint32_t *bits) {
    *bits = 0;
    if (!vj_has(obj, key)) return optional ? 0 : fail(x, "identity needs %s", key);
    json_object *arr = vj_array(obj, key);
    if (arr == NULL) return fail(x, "%s must be an array of permission names", key);
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *v = vj_at(arr, i);
        const char *name = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        size_t k = 0;
        while (name != NULL && k < sizeof permission_names / sizeof permission_names[0] &&
               strcmp(permission_names[k].name, name) != 0) {
            k++;
        }
        if (name == NULL || k == sizeof permission_names / sizeof permission_names[0]) {
            return fail(x, "%s: unknown permission %s", key, name ? name : "(not a string)");
        }
        *bits |= permission_names[k].bit;
    }
    return 0;
}

static void describe_permissions(uint32_t bits, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof permission_names / sizeof permission_names[0]; k++) {
        if ((bits & permission_names[k].bit) && n < cap) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", permission_names[k].name);
        }
    }
    if (n == 0) snprintf(buf, cap, "none");
}

static int parse_expect(ctx *x, json_object *step, expect *e) {
    memset(e, 0, sizeof *e);
    json_object *ex = vj_get(step, "expect");
    if (vj_keys(ex) != 1) return fail(x, "expect must be an object with one key");
    const char *k = NULL;
    json_object *v = NULL;
    json_object_object_foreach(ex, key, val) {
        k = key;
        v = val;
    }
    if (strcmp(k, "record") == 0) {
        e->kind = EX_RECORD;
        if (!vj_u64(v, "revision", &e->revision)) return fail(x, "record needs revision");
        return resolve_state(x, v, &e->state);
    }
    if (strcmp(k, "not_found") == 0) {
        e->kind = EX_NOT_FOUND;
        return vj_true(ex, k) ? 0 : fail(x, "not_found must be true");
    }
    if (strcmp(k, "ok") == 0) {
        e->kind = EX_OK;
        return vj_true(ex, k) ? 0 : fail(x, "ok must be true");
    }
    if (strcmp(k, "conflict") == 0) {
        e->kind = EX_CONFLICT;
        if (!vj_u64(v, "expected", &e->expected) || !vj_u64(v, "actual", &e->actual)) {
            return fail(x, "conflict needs expected and actual");
        }
        return 0;
    }
    if (strcmp(k, "error") == 0) {
        e->kind = EX_ERROR;
        const char *cls = vj_str(ex, k, NULL);
        if (cls == NULL) return fail(x, "error must be a string");
        if (strcmp(cls, "INVALID_ARGUMENT") == 0) e->error_status = PGSTATE_ERR_INVALID_ARGUMENT;
        else return fail(x, "unknown error class %s", cls);
        return 0;
    }
    if (strcmp(k, "identity") == 0) {
        e->kind = EX_IDENTITY;
        size_t known = vj_has(v, "namespace") + vj_has(v, "permissions_include") + vj_has(v, "operator_extra");
        if (vj_keys(v) != known) {
            return fail(x, "identity has a key other than namespace, permissions_include, operator_extra");
        }
        e->ns = vj_str(v, "namespace", &e->ns_len);
        if (e->ns == NULL) return fail(x, "identity needs namespace (a string)");
        if (parse_permissions(x, v, "permissions_include", 0, &e->perms_include) != 0) return -1;
        return parse_permissions(x, v, "operator_extra", 1, &e->perms_operator_extra);
    }
    return fail(x, "unknown expectation %s", k);
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int check_outcome(ctx *x, const expect *e, int rc, const pgstate_record *rec, uint64_t c_exp,
                         uint64_t c_act) {
    const char *got = pgstate_status_name(rc);
    switch (e->kind) {
    case EX_RECORD:
        if (rc != PGSTATE_OK || rec == NULL) {
            return fail(x, "expected a record, got %s (%s)", got, pgstate_errmsg(x->c));
        }
        if (rec->revision != e->revision) {
            return fail(x, "record revision %llu, expected %llu", (unsigned long long)rec->revision,
                        (unsigned long long)e->revision);
        }
        if (rec->state_len != e->state.n || (e->state.n && memcmp(rec->state, e->state.p, e->state.n) != 0)) {
            return fail(x, "record state differs (%zu bytes, expected %zu)", rec->state_len, e->state.n);
        }
        {
            int64_t skew = rec->updated_at_us - now_us();
            if (skew < 0) skew = -skew;
            if (skew > (int64_t)5 * 60 * 1000000) {
                return fail(x, "updated_at %lld is more than 5 minutes from the local clock",
                            (long long)rec->updated_at_us);
            }
        }
        return 0;
    case EX_NOT_FOUND:
        return rc == PGSTATE_NOT_FOUND ? 0 : fail(x, "expected not_found, got %s (%s)", got, pgstate_errmsg(x->c));
    case EX_OK:
        return rc == PGSTATE_OK ? 0 : fail(x, "expected ok, got %s (%s)", got, pgstate_errmsg(x->c));
    case EX_CONFLICT:
        if (rc != PGSTATE_CONFLICT) return fail(x, "expected a conflict, got %s (%s)", got, pgstate_errmsg(x->c));
        if (c_exp != e->expected || c_act != e->actual) {
            return fail(x, "conflict(%llu, %llu), expected conflict(%llu, %llu)", (unsigned long long)c_exp,
                        (unsigned long long)c_act, (unsigned long long)e->expected, (unsigned long long)e->actual);
        }
        return 0;
    case EX_ERROR:
        return rc == e->error_status ? 0 : fail(x, "expected %s, got %s (%s)", pgstate_status_name(e->error_status),
                                                got, pgstate_errmsg(x->c));
    case EX_IDENTITY:
        return fail(x, "expected an identity, got %s (%s)", got, pgstate_errmsg(x->c));
    default:
        return fail(x, "bad expectation");
    }
}

/* WHOAMI's answer against an identity expectation (README "Identity"). */
static int check_identity(ctx *x, const expect *e, int rc, const pgstate_identity *who) {
    if (e->kind != EX_IDENTITY) return check_outcome(x, e, rc, NULL, 0, 0);
    if (rc != PGSTATE_OK || who == NULL) {
        return fail(x, "expected an identity, got %s (%s)", pgstate_status_name(rc), pgstate_errmsg(x->c));
    }
    if (who->uid != (uint32_t)getuid()) {
        return fail(x, "WHOAMI says uid %lu, but this process runs as uid %lu", (unsigned long)who->uid,
                    (unsigned long)getuid());
    }
    if (who->ns_len != e->ns_len || memcmp(who->ns, e->ns, e->ns_len) != 0) {
        return fail(x, "namespace \"%s\", expected \"%.*s\"", who->ns, (int)e->ns_len, e->ns);
    }
    uint32_t need = e->perms_include | (x->as_operator ? e->perms_operator_extra : 0);
    if ((who->permissions & need) != need) {
        char got[64], missing[64];
        describe_permissions(who->permissions, got, sizeof got);
        describe_permissions(need & ~who->permissions, missing, sizeof missing);
        return fail(x, "permissions %s lack %s%s", got, missing,
                    x->as_operator ? " (this process is an operator)" : "");
    }
    return 0;
}

/* ---- steps ---- */

static int run_race(ctx *x, json_object *step, const bytes *id) {
    uint64_t writers, expected, want_win, want_conf;
    bytes state;
    if (!vj_u64(step, "writers", &writers) || writers < 1 || writers > 256) return fail(x, "race needs writers");
    if (!vj_u64(step, "expected_revision", &expected)) return fail(x, "race needs expected_revision");
    json_object *ex = vj_get(step, "expect");
    if (!vj_u64(ex, "winners", &want_win) || !vj_u64(ex, "conflicts", &want_conf)) {
        return fail(x, "race expect needs winners and conflicts");
    }
    if (want_win + want_conf != writers) return fail(x, "winners + conflicts != writers");
    if (resolve_state(x, step, &state) != 0) return -1;
    if (x->socket_path == NULL) {
        free(state.p);
        return 0;
    }
    int rc = 0;
    pgstate_client *cs[256];
    uint32_t ids[256];
    size_t n = (size_t)writers;
    memset(cs, 0, sizeof cs);
    /* open every connection first ... */
    for (size_t i = 0; i < n && rc == 0; i++) {
        cs[i] = pgstate_connect(x->socket_path, TIMEOUT_MS);
        if (cs[i] == NULL || pgstate_status(cs[i]) != PGSTATE_OK) {
            rc = fail(x, "race: connect %zu: %s", i, pgstate_errmsg(cs[i]));
        }
    }
    /* ... then release the writers together: queue on all, then write all */
    for (size_t i = 0; i < n && rc == 0; i++) {
        ids[i] = pgstate_send_upsert(cs[i], (const char *)id->p, id->n, expected, state.p, state.n);
        if (ids[i] == 0) rc = fail(x, "race: send %zu: %s", i, pgstate_errmsg(cs[i]));
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (pgstate_flush(cs[i]) != PGSTATE_OK) rc = fail(x, "race: flush %zu: %s", i, pgstate_errmsg(cs[i]));
    }
    uint64_t wins = 0, conflicts = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        pgstate_reply *r = NULL;
        if (pgstate_read_reply(cs[i], &r) != PGSTATE_OK) {
            rc = fail(x, "race: read %zu: %s", i, pgstate_errmsg(cs[i]));
            break;
        }
        if (r->kind == PGSTATE_REPLY_RECORD && r->record->revision == expected + 1 &&
            r->record->state_len == state.n && (state.n == 0 || memcmp(r->record->state, state.p, state.n) == 0)) {
            wins++;
        } else if (r->kind == PGSTATE_REPLY_CONFLICT && r->expected_revision == expected &&
                   r->actual_revision == expected + 1) {
            conflicts++;
        } else {
            rc = fail(x, "race: writer %zu got %s (%s)", i, pgstate_status_name(r->status), r->message);
        }
        pgstate_reply_free(r);
    }
    if (rc == 0 && (wins != want_win || conflicts != want_conf)) {
        rc = fail(x, "race: %llu winners and %llu conflicts, expected %llu and %llu", (unsigned long long)wins,
                  (unsigned long long)conflicts, (unsigned long long)want_win, (unsigned long long)want_conf);
    }
    for (size_t i = 0; i < n; i++) pgstate_free(cs[i]);
    free(state.p);
    return rc;
}

/* ---- the multi-key steps ---- */

#define MAX_STEP_IDS 64

/* A multi-key step's arguments and the memory they point to. */
typedef struct multi_args {
    size_t count;
    bytes ids[MAX_STEP_IDS];
    bytes states[MAX_STEP_IDS];
    const char *id_ptrs[MAX_STEP_IDS];
    size_t id_lens[MAX_STEP_IDS];
    pgstate_item items[MAX_STEP_IDS];
    bytes prefix, after;
    int has_after;
    uint32_t limit;
} multi_args;

static void multi_free(multi_args *a) {
    for (size_t i = 0; i < MAX_STEP_IDS; i++) {
        free(a->ids[i].p);
        free(a->states[i].p);
    }
    free(a->prefix.p);
    free(a->after.p);
}

/* The keys an object may have besides those named: 0, or -1 with an unknown one named. */
static int only_keys(ctx *x, json_object *obj, const char *const *keys, const char *what) {
    size_t known = 0;
    for (size_t i = 0; keys[i] != NULL; i++) known += vj_has(obj, keys[i]);
    return vj_keys(obj) == known ? 0 : fail(x, "%s has a key this runner does not know", what);
}

static int parse_items(ctx *x, json_object *arr, multi_args *a) {
    static const char *const keys[] = {"kind", "id", "expected_revision", "state_hex", "state_repeat", "ttl_seconds",
                                       NULL};
    for (size_t i = 0; i < a->count; i++) {
        json_object *v = vj_at(arr, i);
        pgstate_item *it = &a->items[i];
        const char *kind = vj_str(v, "kind", NULL);
        if (only_keys(x, v, keys, "an item") != 0) return -1;
        if (kind == NULL || (strcmp(kind, "upsert") != 0 && strcmp(kind, "delete") != 0)) {
            return fail(x, "item %zu: kind must be upsert or delete", i);
        }
        if (resolve_id(x, v, &a->ids[i]) != 0) return -1;
        it->id = (const char *)a->ids[i].p;
        it->id_len = a->ids[i].n;
        int has_expected = vj_has(v, "expected_revision");
        if (has_expected && !vj_u64(v, "expected_revision", &it->expected_revision)) {
            return fail(x, "item %zu: expected_revision must be a non-negative integer", i);
        }
        if (strcmp(kind, "delete") == 0) {
            it->kind = PGSTATE_ITEM_DELETE;
            if (has_expected) it->flags = PGSTATE_ITEM_EXPECTED;
            if (vj_has(v, "ttl_seconds") || vj_has(v, "state_hex") || vj_has(v, "state_repeat")) {
                return fail(x, "item %zu: a delete item has no state or ttl_seconds", i);
            }
            continue;
        }
        it->kind = PGSTATE_ITEM_UPSERT;
        if (!has_expected) return fail(x, "item %zu: an upsert item needs expected_revision", i);
        if (resolve_state(x, v, &a->states[i]) != 0) return -1;
        it->state = a->states[i].p;
        it->state_len = a->states[i].n;
        if (vj_has(v, "ttl_seconds")) {
            uint64_t ttl = 0;
            if (!vj_u64(v, "ttl_seconds", &ttl) || ttl > UINT32_MAX) return fail(x, "item %zu: ttl_seconds", i);
            it->flags = PGSTATE_ITEM_TTL;
            it->ttl_seconds = (uint32_t)ttl;
        }
    }
    return 0;
}

static int parse_multi(ctx *x, json_object *step, const char *op, multi_args *a) {
    memset(a, 0, sizeof *a);
    if (strcmp(op, "list") == 0) {
        static const char *const keys[] = {"op", "namespace", "prefix", "after", "limit", "expect", NULL};
        uint64_t limit = 0;
        if (only_keys(x, step, keys, "a list step") != 0) return -1;
        if (resolve_key(x, step, "prefix", &a->prefix) != 1) return fail(x, "list needs a prefix (a template)");
        a->has_after = resolve_key(x, step, "after", &a->after);
        if (a->has_after < 0) return -1;
        if (!vj_u64(step, "limit", &limit) || limit > UINT32_MAX) return fail(x, "list needs a limit");
        a->limit = (uint32_t)limit;
        return 0;
    }
    int load = strcmp(op, "bulk_load") == 0;
    static const char *const keys[] = {"op", "namespace", "ids", "items", "expect", NULL};
    json_object *arr = vj_array(step, load ? "ids" : "items");
    if (only_keys(x, step, keys, "a multi-key step") != 0) return -1;
    if (arr == NULL || vj_has(step, load ? "items" : "ids")) return fail(x, "%s needs %s", op, load ? "ids" : "items");
    if (vj_len(arr) > MAX_STEP_IDS) return fail(x, "more than %d ids or items", MAX_STEP_IDS);
    a->count = vj_len(arr);
    if (!load) return parse_items(x, arr, a);
    for (size_t i = 0; i < a->count; i++) {
        json_object *v = vj_at(arr, i);
        if (!json_object_is_type(v, json_type_string)) return fail(x, "id %zu is not a string", i);
        if (resolve_template(x, json_object_get_string(v), (size_t)json_object_get_string_len(v), 0, 0,
                             &a->ids[i]) != 0) {
            return -1;
        }
        a->id_ptrs[i] = (const char *)a->ids[i].p;
        a->id_lens[i] = a->ids[i].n;
    }
    return 0;
}

/* The one key of a step's "expect", and its value. */
static const char *expect_key(ctx *x, json_object *step, json_object **value) {
    json_object *ex = vj_get(step, "expect");
    const char *k = NULL;
    *value = NULL;
    if (vj_keys(ex) != 1) {
        fail(x, "expect must be an object with one key");
        return NULL;
    }
    json_object_object_foreach(ex, key, val) {
        k = key;
        *value = val;
    }
    return k;
}

/* A RECORD expectation ({"revision", "state_hex"|"state_repeat"}) against rec (NULL in a dry run). */
static int check_record(ctx *x, json_object *want, const pgstate_record *rec, int dry, size_t i) {
    uint64_t revision = 0;
    bytes state;
    if (!vj_u64(want, "revision", &revision)) return fail(x, "record %zu needs revision", i);
    if (resolve_state(x, want, &state) != 0) return -1;
    int rc = 0;
    if (!dry && (rec == NULL || rec->revision != revision || rec->state_len != state.n ||
                 (state.n > 0 && memcmp(rec->state, state.p, state.n) != 0))) {
        rc = fail(x, "entry %zu: %s revision %llu (%zu state bytes), expected revision %llu (%zu bytes)", i,
                  rec ? "record" : "no record", rec ? (unsigned long long)rec->revision : 0ULL,
                  rec ? rec->state_len : 0, (unsigned long long)revision, state.n);
    }
    free(state.p);
    return rc;
}

static int check_records(ctx *x, json_object *want, const pgstate_record_list *got, int dry) {
    json_object *arr = json_object_is_type(want, json_type_array) ? want : NULL;
    if (arr == NULL) return fail(x, "records must be an array");
    if (!dry && got->count != vj_len(arr)) return fail(x, "%zu entries, expected %zu", got->count, vj_len(arr));
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *w = vj_at(arr, i);
        const pgstate_loaded *e = dry ? NULL : &got->entries[i];
        if (w == NULL) { /* null: absent */
            if (!dry && e->presence != PGSTATE_ABSENT) return fail(x, "entry %zu: found, expected absent", i);
            continue;
        }
        if (!dry && e->presence != PGSTATE_FOUND) return fail(x, "entry %zu: absent, expected a record", i);
        if (check_record(x, w, dry ? NULL : e->record, dry, i) != 0) return -1;
    }
    return 0;
}

static int check_outcomes(ctx *x, json_object *want, const pgstate_outcome_list *got, int dry) {
    json_object *arr = json_object_is_type(want, json_type_array) ? want : NULL;
    if (arr == NULL) return fail(x, "outcomes must be an array");
    if (!dry && got->count != vj_len(arr)) return fail(x, "%zu outcomes, expected %zu", got->count, vj_len(arr));
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *w = vj_at(arr, i), *c = vj_get(w, "conflict");
        const pgstate_item_outcome *o = dry ? NULL : &got->items[i];
        uint64_t n = 0, expected = 0, actual = 0;
        if (vj_keys(w) != 1) return fail(x, "outcome %zu must have one key", i);
        if (vj_u64(w, "written", &n)) {
            if (!dry && (o->result != PGSTATE_ITEM_WRITTEN || o->revision != n)) {
                return fail(x, "item %zu: result %d (revision %llu, %s), expected written %llu", i, o->result,
                            (unsigned long long)o->revision, o->message, (unsigned long long)n);
            }
        } else if (vj_true(w, "deleted")) {
            if (!dry && o->result != PGSTATE_ITEM_DELETED) {
                return fail(x, "item %zu: result %d (%s), expected deleted", i, o->result, o->message);
            }
        } else if (c != NULL && vj_u64(c, "expected", &expected) && vj_u64(c, "actual", &actual)) {
            if (!dry && (o->result != PGSTATE_ITEM_CONFLICT || o->expected_revision != expected ||
                         o->actual_revision != actual)) {
                return fail(x, "item %zu: result %d (%llu, %llu; %s), expected conflict(%llu, %llu)", i, o->result,
                            (unsigned long long)o->expected_revision, (unsigned long long)o->actual_revision,
                            o->message, (unsigned long long)expected, (unsigned long long)actual);
            }
        } else {
            return fail(x, "outcome %zu: written, deleted or conflict", i);
        }
    }
    return 0;
}

/* committed: each item's new revision, null for a delete item. */
static int check_committed(ctx *x, json_object *want, const pgstate_outcome_list *got, int dry) {
    json_object *arr = json_object_is_type(want, json_type_array) ? want : NULL;
    if (arr == NULL) return fail(x, "committed must be an array");
    if (!dry && got->count != vj_len(arr)) return fail(x, "%zu outcomes, expected %zu", got->count, vj_len(arr));
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *w = vj_at(arr, i);
        uint64_t n = 0;
        if (w != NULL && !vj_as_u64(w, &n)) return fail(x, "committed %zu: a revision or null", i);
        if (dry) continue;
        const pgstate_item_outcome *o = &got->items[i];
        int ok = w == NULL ? o->result == PGSTATE_ITEM_DELETED : o->result == PGSTATE_ITEM_WRITTEN && o->revision == n;
        if (!ok) return fail(x, "item %zu: result %d revision %llu", i, o->result, (unsigned long long)o->revision);
    }
    return 0;
}

static int check_conflicts(ctx *x, json_object *want, const pgstate_conflict_list *got, int dry) {
    json_object *arr = json_object_is_type(want, json_type_array) ? want : NULL;
    if (arr == NULL) return fail(x, "transaction_conflict must be an array");
    if (!dry && got->count != vj_len(arr)) return fail(x, "%zu conflicts, expected %zu", got->count, vj_len(arr));
    for (size_t i = 0; i < vj_len(arr); i++) {
        json_object *w = vj_at(arr, i);
        uint64_t index = 0, expected = 0, actual = 0;
        if (!vj_u64(w, "index", &index) || !vj_u64(w, "expected", &expected) || !vj_u64(w, "actual", &actual)) {
            return fail(x, "transaction_conflict %zu needs index, expected and actual", i);
        }
        if (dry) continue;
        const pgstate_item_conflict *c = &got->items[i];
        if (c->index != index || c->expected_revision != expected || c->actual_revision != actual) {
            return fail(x, "conflict %zu: item %zu (%llu, %llu), expected item %llu (%llu, %llu)", i, c->index,
                        (unsigned long long)c->expected_revision, (unsigned long long)c->actual_revision,
                        (unsigned long long)index, (unsigned long long)expected, (unsigned long long)actual);
        }
    }
    return 0;
}

static int check_page(ctx *x, json_object *want, const pgstate_page *got, int dry) {
    json_object *ids = vj_array(want, "ids"), *more = vj_get(want, "more");
    if (ids == NULL || more == NULL || !json_object_is_type(more, json_type_boolean) || vj_keys(want) != 2) {
        return fail(x, "page needs ids and more");
    }
    if (!dry && got->count != vj_len(ids)) return fail(x, "%zu ids, expected %zu", got->count, vj_len(ids));
    if (!dry && got->more != json_object_get_boolean(more)) return fail(x, "more %d", got->more);
    for (size_t i = 0; i < vj_len(ids); i++) {
        json_object *v = vj_at(ids, i);
        bytes id;
        if (!json_object_is_type(v, json_type_string)) return fail(x, "page id %zu is not a string", i);
        if (resolve_template(x, json_object_get_string(v), (size_t)json_object_get_string_len(v), 0, 0, &id) != 0) {
            return -1;
        }
        int differs = !dry && (got->entries[i].persistence_id_len != id.n ||
                               memcmp(got->entries[i].persistence_id, id.p, id.n) != 0);
        free(id.p);
        if (differs) return fail(x, "id %zu is %s", i, got->entries[i].persistence_id);
    }
    return 0;
}

/* Runs (or, dry, only checks) one multi-key step. */
static int run_multi(ctx *x, json_object *step, const char *op, int dry) {
    multi_args a;
    json_object *want;
    int rc = -1;
    if (parse_multi(x, step, op, &a) != 0) goto out;
    const char *k = expect_key(x, step, &want);
    if (k == NULL) goto out;
    int is_error = strcmp(k, "error") == 0;
    const char *cls = is_error ? json_object_get_string(want) : NULL;
    if (is_error && (cls == NULL || strcmp(cls, "INVALID_ARGUMENT") != 0)) {
        rc = fail(x, "unknown error class %s", cls ? cls : "(not a string)");
        goto out;
    }
    int load = strcmp(op, "bulk_load") == 0, write = strcmp(op, "bulk_write") == 0;
    int transact = strcmp(op, "transact") == 0;
    const char *allowed = load ? "records" : write ? "outcomes" : transact ? "committed" : "page";
    if (!is_error && strcmp(k, allowed) != 0 && !(transact && strcmp(k, "transaction_conflict") == 0)) {
        rc = fail(x, "%s cannot expect %s", op, k);
        goto out;
    }
    pgstate_record_list *records = NULL;
    pgstate_outcome_list *outs = NULL;
    pgstate_conflict_list *conflicts = NULL;
    pgstate_page *page = NULL;
    int s = PGSTATE_OK;
    if (!dry) {
        if (load) s = pgstate_bulk_load(x->c, a.id_ptrs, a.id_lens, a.count, &records);
        else if (write) s = pgstate_bulk_write(x->c, a.items, a.count, &outs);
        else if (transact) s = pgstate_transact(x->c, a.items, a.count, &outs, &conflicts);
        else {
            s = pgstate_list(x->c, (const char *)a.prefix.p, a.prefix.n, a.has_after ? (const char *)a.after.p : NULL,
                             a.after.n, a.limit, &page);
        }
    }
    int want_status = is_error ? PGSTATE_ERR_INVALID_ARGUMENT
                      : strcmp(k, "transaction_conflict") == 0 ? PGSTATE_CONFLICT
                                                              : PGSTATE_OK;
    if (!dry && s != want_status) {
        rc = fail(x, "%s, expected %s (%s)", pgstate_status_name(s), pgstate_status_name(want_status),
                  pgstate_errmsg(x->c));
    } else if (is_error) {
        rc = 0;
    } else if (load) {
        rc = check_records(x, want, records, dry);
    } else if (write) {
        rc = check_outcomes(x, want, outs, dry);
    } else if (transact) {
        rc = strcmp(k, "committed") == 0 ? check_committed(x, want, outs, dry)
                                         : check_conflicts(x, want, conflicts, dry);
    } else {
        rc = check_page(x, want, page, dry);
    }
    pgstate_record_list_free(records);
    pgstate_outcome_list_free(outs);
    pgstate_conflict_list_free(conflicts);
    pgstate_page_free(page);
out:
    multi_free(&a);
    return rc;
}

static int run_step(ctx *x, json_object *step) {
    const char *op = vj_str(step, "op", NULL);
    if (op == NULL) return fail(x, "step without op");
    static const char *const ops[] = {"ping",      "whoami",     "load",     "upsert", "delete",
                                      "race",      "bulk_load",  "bulk_write", "transact", "list", "sleep"};
    size_t known = 0;
    while (known < sizeof ops / sizeof ops[0] && strcmp(ops[known], op) != 0) known++;
    if (known == sizeof ops / sizeof ops[0]) return fail(x, "unknown op %s", op);
    int dry = x->socket_path == NULL;
    if (strcmp(op, "sleep") == 0) {
        uint64_t ms = 0;
        if (!vj_u64(step, "ms", &ms) || ms > 600000 || vj_keys(step) != 2) return fail(x, "sleep needs ms (alone)");
        if (!dry) nanosleep(&(struct timespec){(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L}, NULL);
        return 0;
    }
    const char *ns;
    size_t ns_len;
    int has_ns = resolve_namespace(x, step, &ns, &ns_len);
    if (has_ns < 0) return -1;
    int multi = known >= 6;
    if (has_ns && strcmp(op, "load") != 0 && strcmp(op, "upsert") != 0 && strcmp(op, "delete") != 0 && !multi) {
        return fail(x, "%s takes no namespace", op);
    }
    if (multi) {
        if (has_ns && !dry) {
            int s = strlen(ns) == ns_len ? pgstate_set_namespace(x->c, ns) : PGSTATE_ERR_INVALID_ARGUMENT;
            if (s != PGSTATE_OK) return fail(x, "namespace refused: %s", pgstate_errmsg(x->c));
        }
        int rc = run_multi(x, step, op, dry);
        if (has_ns && !dry && pgstate_set_namespace(x->c, NULL) != PGSTATE_OK && rc == 0) {
            rc = fail(x, "clearing the namespace: %s", pgstate_errmsg(x->c));
        }
        return rc;
    }
    if (strcmp(op, "ping") == 0 || strcmp(op, "whoami") == 0) {
        expect e;
        if (vj_has(step, "id") || vj_has(step, "id_hex")) return fail(x, "%s takes no id", op);
        if (parse_expect(x, step, &e) != 0) return -1;
        if (dry) return 0;
        if (strcmp(op, "ping") == 0) return check_outcome(x, &e, pgstate_ping(x->c), NULL, 0, 0);
        pgstate_identity *who = NULL;
        int s = pgstate_whoami(x->c, &who); /* before who is read */
        int rc = check_identity(x, &e, s, who);
        pgstate_identity_free(who);
        return rc;
    }
    bytes id;
    if (resolve_id(x, step, &id) != 0) return -1;
    int rc = -1;
    if (strcmp(op, "race") == 0) {
        rc = run_race(x, step, &id);
        free(id.p);
        return rc;
    }
    expect e;
    bytes state = {NULL, 0};
    uint64_t expected = 0;
    int has_expected = vj_has(step, "expected_revision");
    if (has_expected && !vj_u64(step, "expected_revision", &expected)) {
        rc = fail(x, "expected_revision must be a non-negative integer");
        goto done;
    }
    if (parse_expect(x, step, &e) != 0) goto done;
    const char *cid = (const char *)id.p;
    pgstate_record *rec = NULL;
    if (has_ns && !dry) {
        /* The handle's namespace for this one request.  A name the library refuses (or, holding a NUL,
           cannot even take) is the step's outcome: refused before sending. */
        int s = strlen(ns) == ns_len ? pgstate_set_namespace(x->c, ns) : PGSTATE_ERR_INVALID_ARGUMENT;
        if (s != PGSTATE_OK) {
            rc = check_outcome(x, &e, s, NULL, 0, 0);
            goto checked;
        }
    }
    if (strcmp(op, "load") == 0) {
        if (dry) {
            rc = 0;
        } else {
            int s = pgstate_load(x->c, cid, id.n, &rec); /* before rec is read */
            rc = check_outcome(x, &e, s, rec, 0, 0);
        }
    } else if (strcmp(op, "upsert") == 0) {
        uint64_t ttl = 0;
        int has_ttl = vj_has(step, "ttl_seconds");
        if (!has_expected) {
            rc = fail(x, "upsert needs expected_revision");
        } else if (has_ttl && (!vj_u64(step, "ttl_seconds", &ttl) || ttl > UINT32_MAX)) {
            rc = fail(x, "ttl_seconds must be an integer of 0 .. 2^32-1");
        } else if (resolve_state(x, step, &state) == 0) {
            if (dry) {
                rc = 0;
            } else {
                int s = has_ttl ? pgstate_upsert_ttl(x->c, cid, id.n, expected, state.p, state.n, (uint32_t)ttl, &rec)
                                : pgstate_upsert(x->c, cid, id.n, expected, state.p, state.n, &rec);
                rc = check_outcome(x, &e, s, rec, pgstate_conflict_expected(x->c), pgstate_conflict_actual(x->c));
            }
        }
    } else if (strcmp(op, "delete") == 0) {
        if (dry) {
            rc = 0;
        } else {
            int s = has_expected ? pgstate_delete_if(x->c, cid, id.n, expected) : pgstate_delete(x->c, cid, id.n);
            rc = check_outcome(x, &e, s, NULL, pgstate_conflict_expected(x->c), pgstate_conflict_actual(x->c));
        }
    } else {
        rc = fail(x, "unknown op %s", op);
    }
    if (has_ns && !dry && pgstate_set_namespace(x->c, NULL) != PGSTATE_OK && rc == 0) {
        rc = fail(x, "clearing the namespace: %s", pgstate_errmsg(x->c));
    }
checked:
    pgstate_record_free(rec);
    free(e.state.p);
done:
    free(state.p);
    free(id.p);
    return rc;
}

/* The capability a scenario needs that the daemon does not announce (MULTI_KEY for a multi-key step, TTL for a
   ttl_seconds), or NULL. */
static const char *scenario_needs(json_object *steps, uint32_t caps) {
    for (size_t k = 0; k < vj_len(steps); k++) {
        json_object *step = vj_at(steps, k), *items = vj_array(step, "items");
        const char *op = vj_str(step, "op", NULL);
        int multi = op != NULL && (strcmp(op, "bulk_load") == 0 || strcmp(op, "bulk_write") == 0 ||
                                   strcmp(op, "transact") == 0 || strcmp(op, "list") == 0);
        if (multi && !(caps & PGSTATE_CAP_MULTI_KEY)) return "MULTI_KEY";
        int ttl = vj_has(step, "ttl_seconds");
        for (size_t i = 0; i < vj_len(items); i++) ttl |= vj_has(vj_at(items, i), "ttl_seconds");
        if (ttl && !(caps & PGSTATE_CAP_TTL)) return "TTL";
    }
    return NULL;
}

static void make_prefix(ctx *x) {
    unsigned char rnd[6] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f) fclose(f);
    if (got != sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(v >> (8 * i));
    }
    snprintf(x->prefix, sizeof x->prefix, "conf-c-%ld-%02x%02x%02x%02x%02x%02x-", (long)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
}

int main(void) {
    const char *file = getenv("PGSTATE_SCENARIOS");
    if (file == NULL || file[0] == '\0') file = "../../proto-spec/conformance/scenarios.json";
    const char *sock = getenv("PGSTATE_SOCKET");
    if (sock != NULL && sock[0] == '\0') sock = NULL;

    if (access(file, R_OK) != 0) {
        if (sock == NULL) {
            printf("test_conformance: skipped: PGSTATE_SOCKET is not set (and %s does not exist yet)\n", file);
            return 0;
        }
        fprintf(stderr, "test_conformance: cannot read %s (set PGSTATE_SCENARIOS)\n", file);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    char err[256];
    json_object *root = vj_load(file, err, sizeof err);
    if (root == NULL) {
        fprintf(stderr, "test_conformance: %s: %s\n", file, err);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    json_object *scen = vj_array(root, "scenarios");
    if (scen == NULL) {
        fprintf(stderr, "test_conformance: %s: no \"scenarios\" array\n", file);
        json_object_put(root);
        printf("0 passed, 1 failed\n");
        return 1;
    }

    ctx x;
    memset(&x, 0, sizeof x);
    make_prefix(&x);

    /* Dry run first: every step must be understood, with or without a daemon. */
    int dry_failed = 0;
    size_t nscen = vj_len(scen);
    for (size_t i = 0; i < nscen; i++) {
        json_object *s = vj_at(scen, i);
        const char *name = vj_str(s, "name", NULL);
        json_object *steps = vj_array(s, "steps");
        if (name == NULL || steps == NULL) {
            fprintf(stderr, "scenario %zu: needs name and steps\n", i);
            dry_failed++;
            continue;
        }
        for (size_t k = 0; k < i; k++) {
            const char *other = vj_str(vj_at(scen, k), "name", NULL);
            if (other && strcmp(other, name) == 0) {
                fprintf(stderr, "scenario %s: duplicate name\n", name);
                dry_failed++;
            }
        }
        for (size_t k = 0; k < vj_len(steps); k++) {
            if (run_step(&x, vj_at(steps, k)) != 0) {
                fprintf(stderr, "scenario %s: step %zu not understood: %s\n", name, k + 1, x.why);
                dry_failed++;
                break;
            }
        }
    }
    if (sock == NULL) {
        printf("test_conformance: skipped: PGSTATE_SOCKET is not set (%zu scenarios parsed, %s)\n", nscen,
               dry_failed ? "SOME NOT UNDERSTOOD" : "all understood");
        json_object_put(root);
        return dry_failed ? 1 : 0;
    }
    if (dry_failed) {
        h_failed += dry_failed;
    }

    printf("test_conformance: %zu scenarios against %s, id prefix %s\n", nscen, sock, x.prefix);
    x.socket_path = sock;
    x.as_operator = is_operator(sock);
    printf("test_conformance: uid %lu, %s\n", (unsigned long)getuid(),
           x.as_operator ? "an operator (root or the socket's owner)" : "not an operator");
    for (size_t i = 0; i < nscen; i++) {
        json_object *s = vj_at(scen, i);
        const char *name = vj_str(s, "name", NULL);
        json_object *steps = vj_array(s, "steps");
        if (name == NULL || steps == NULL) continue;
        x.c = pgstate_connect(sock, TIMEOUT_MS);
        if (x.c == NULL || pgstate_status(x.c) != PGSTATE_OK) {
            printf("FAIL %s: connect: %s\n", name, pgstate_errmsg(x.c));
            h_failed++;
            pgstate_free(x.c);
            continue;
        }
        const char *needs = scenario_needs(steps, pgstate_capabilities(x.c));
        if (needs != NULL) {
            printf("skip %s: pgstated does not announce %s\n", name, needs);
            pgstate_free(x.c);
            x.c = NULL;
            continue;
        }
        int ok = 1;
        for (size_t k = 0; k < vj_len(steps); k++) {
            if (run_step(&x, vj_at(steps, k)) != 0) {
                const char *op = vj_str(vj_at(steps, k), "op", NULL);
                printf("FAIL %s: step %zu (%s): %s\n", name, k + 1, op ? op : "?", x.why);
                ok = 0;
                break;
            }
        }
        if (ok) {
            printf("ok   %s\n", name);
            h_passed++;
        } else {
            h_failed++;
        }
        pgstate_free(x.c);
        x.c = NULL;
    }
    x.c = pgstate_connect(sock, TIMEOUT_MS);
    if (pgstate_status(x.c) == PGSTATE_OK && !(pgstate_capabilities(x.c) & PGSTATE_CAP_MULTI_KEY)) {
        printf("skip a BULK_LOAD answered in more than one frame: pgstated does not announce MULTI_KEY\n");
    } else if (pgstate_status(x.c) == PGSTATE_OK && run_omitted(&x) == 0) {
        printf("ok   a BULK_LOAD answered in more than one frame (OMITTED ids loaded again)\n");
        h_passed++;
    } else {
        printf("FAIL a BULK_LOAD answered in more than one frame: %s\n",
               pgstate_status(x.c) == PGSTATE_OK ? x.why : pgstate_errmsg(x.c));
        h_failed++;
    }
    if (pgstate_status(x.c) == PGSTATE_OK && run_operators(&x) == 0) {
        printf("ok   operators' calls (%s)\n",
               x.as_operator ? "ADMIN: health, stats, clients" : "health; the others refused without ADMIN");
        h_passed++;
    } else {
        printf("FAIL operators' calls: %s\n", pgstate_status(x.c) == PGSTATE_OK ? x.why : pgstate_errmsg(x.c));
        h_failed++;
    }
    pgstate_free(x.c);
    x.c = NULL;
    json_object_put(root);
    return harness_summary();
}
