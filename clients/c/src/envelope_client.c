/*
 * envelope_client.c - the envelope around libpgstate's blocking calls:
 * upsert, load, and rewrap for key rotation.  Only libpgstate's public API is
 * used, so this library links against any libpgstate.so.0.
 */
#include "envelope_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void pgstate_envelope_record_free(pgstate_envelope_record *r) {
    free(r);
}

/* A record in one block: struct, id + NUL, state + NUL. */
static pgstate_envelope_record *record_new(const char *id, size_t id_len, uint64_t revision, int64_t updated_at_us,
                                           const void *state, size_t state_len, const pgstate_envelope_header *h,
                                           size_t stored_len) {
    pgstate_envelope_record *r = malloc(sizeof *r + id_len + 1 + state_len + 1);
    if (r == NULL) return NULL;
    char *pid = (char *)(r + 1);
    char *st = pid + id_len + 1;
    if (id_len > 0) memcpy(pid, id, id_len);
    pid[id_len] = '\0';
    if (state_len > 0) memcpy(st, state, state_len);
    st[state_len] = '\0';
    r->persistence_id = pid;
    r->persistence_id_len = id_len;
    r->revision = revision;
    r->updated_at_us = updated_at_us;
    r->state = st;
    r->state_len = state_len;
    r->envelope = *h;
    r->stored_len = stored_len;
    return r;
}

/* libpgstate's failure as the codec's: same status, its text. */
static int client_failed(pgstate_envelope_codec *codec, const pgstate_client *c, int status) {
    return pgse_fail(codec, status, "%s", pgstate_errmsg(c));
}

/* The connection the handle has now: its socket's inode (a reconnect gets a new socket, most often under the
   same descriptor number, so the number alone would not tell).  0 when there is none. */
static uint64_t connection_of(const pgstate_client *c) {
    struct stat st;
    int fd = pgstate_fd(c);
    if (fd < 0 || fstat(fd, &st) != 0) return 0;
    return ((uint64_t)st.st_dev << 32) ^ (uint64_t)st.st_ino ^ ((uint64_t)(unsigned)fd << 56);
}

/*
 * The namespace an envelope is bound to: the handle's, else the connection's
 * own as WHOAMI says (asked once per handle and connection), else "" (a
 * server without IDENTITY has one namespace).  *ns points into the codec or
 * the handle, valid until the next call on either.
 */
static int effective_namespace(pgstate_client *c, pgstate_envelope_codec *codec, const char **ns) {
    const char *set = pgstate_namespace(c);
    if (set != NULL) {
        *ns = set;
        return PGSTATE_OK;
    }
    if (!(pgstate_capabilities(c) & PGSTATE_CAP_IDENTITY)) {
        *ns = "";
        return PGSTATE_OK;
    }
    uint64_t conn = connection_of(c);
    if (codec->ns_client == c && codec->ns_conn == conn && conn != 0) {
        *ns = codec->ns;
        return PGSTATE_OK;
    }
    pgstate_identity *who = NULL;
    int rc = pgstate_whoami(c, &who);
    if (rc != PGSTATE_OK) return client_failed(codec, c, rc);
    size_t n = who->ns_len > PGSE_MAX_NS_BYTES ? PGSE_MAX_NS_BYTES : who->ns_len;
    memcpy(codec->ns, who->ns, n);
    codec->ns[n] = '\0';
    codec->ns_len = n;
    codec->ns_client = c;
    codec->ns_conn = conn;
    pgstate_identity_free(who);
    *ns = codec->ns;
    return PGSTATE_OK;
}

int pgstate_envelope_upsert(pgstate_client *c, pgstate_envelope_codec *codec, const char *id, size_t id_len,
                            uint64_t expected_revision, const void *state, size_t state_len,
                            pgstate_envelope_record **out) {
    if (out != NULL) *out = NULL;
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    if (rc != PGSTATE_OK) return rc;
    if (c == NULL) return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "client is NULL (caller's error)");
    if (expected_revision >= (uint64_t)INT64_MAX) {
        /* the core refuses it too; checked here so that revision + 1 below cannot wrap */
        return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "expected_revision %llu: at most 2^63-2 "
                         "(caller's error)", (unsigned long long)expected_revision);
    }
    const char *ns;
    rc = effective_namespace(c, codec, &ns);
    if (rc != PGSTATE_OK) return rc;
    uint8_t *env = NULL;
    size_t env_len = 0;
    rc = pgstate_envelope_encode(codec, ns, id, id_len, expected_revision + 1, state, state_len, &env, &env_len);
    if (rc != PGSTATE_OK) return rc;
    pgstate_record *r = NULL;
    rc = pgstate_upsert(c, id, id_len, expected_revision, env, env_len, out != NULL ? &r : NULL);
    pgstate_envelope_header h;
    pgstate_envelope_peek(env, env_len, &h);
    pgstate_envelope_free(env);
    if (rc == PGSTATE_CONFLICT) {
        pgse_fail(codec, rc, "%s", pgstate_errmsg(c));
        return rc;
    }
    if (rc != PGSTATE_OK) return client_failed(codec, c, rc);
    if (out != NULL) {
        *out = record_new(r->persistence_id, r->persistence_id_len, r->revision, r->updated_at_us, state, state_len,
                          &h, r->state_len);
        pgstate_record_free(r);
        if (*out == NULL) return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for the written record");
    }
    return pgse_ok(codec);
}

int pgstate_envelope_load(pgstate_client *c, pgstate_envelope_codec *codec, const char *id, size_t id_len,
                          pgstate_envelope_record **out) {
    if (out != NULL) *out = NULL;
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    if (rc != PGSTATE_OK) return rc;
    if (c == NULL) return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "client is NULL (caller's error)");
    const char *ns;
    rc = effective_namespace(c, codec, &ns);
    if (rc != PGSTATE_OK) return rc;
    pgstate_record *r = NULL;
    rc = pgstate_load(c, id, id_len, &r);
    if (rc == PGSTATE_NOT_FOUND) {
        pgse_ok(codec);
        codec->status = PGSTATE_NOT_FOUND;
        return rc;
    }
    if (rc != PGSTATE_OK) return client_failed(codec, c, rc);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    rc = pgstate_envelope_decode(codec, ns, id, id_len, r->revision, r->state, r->state_len, &plain, &plain_len);
    if (rc != PGSTATE_OK) {
        pgstate_record_free(r);
        return rc;
    }
    pgstate_envelope_header h;
    pgstate_envelope_peek(r->state, r->state_len, &h);
    if (out != NULL) {
        *out = record_new(r->persistence_id, r->persistence_id_len, r->revision, r->updated_at_us, plain, plain_len,
                          &h, r->state_len);
    }
    pgse_wipe(plain, plain_len);
    pgstate_envelope_free(plain);
    pgstate_record_free(r);
    if (out != NULL && *out == NULL) return pgse_fail(codec, PGSTATE_ERR_NOMEM, "out of memory for the record");
    return pgse_ok(codec);
}

/* Whether a stored state is already what the codec writes: its flags under its active key (header only). */
static int is_current(const pgstate_envelope_codec *codec, const void *state, size_t len) {
    pgstate_envelope_header h;
    if (pgstate_envelope_peek(state, len, &h) != PGSTATE_OK || !h.enveloped) return 0;
    uint32_t key = codec->mode == PGSTATE_ENVELOPE_MODE_NONE ? 0 : codec->ring.active;
    return h.flags == pgse_flags(codec->compression, codec->mode) && h.key_id == key;
}

int pgstate_envelope_rewrap(pgstate_client *c, pgstate_envelope_codec *codec, const char *const *ids,
                            const size_t *id_lens, size_t count, unsigned options,
                            pgstate_envelope_rewrap_counts *counts) {
    pgstate_envelope_rewrap_counts local;
    if (counts == NULL) counts = &local;
    memset(counts, 0, sizeof *counts);
    if (codec == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    int rc = pgse_begin(codec);
    if (rc != PGSTATE_OK) return rc;
    if (c == NULL) return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "client is NULL (caller's error)");
    if (ids == NULL && count > 0) return pgse_fail(codec, PGSTATE_ERR_INVALID_ARGUMENT, "ids is NULL (caller's error)");
    for (size_t i = 0; i < count; i++, counts->done = i) {
        const char *id = ids[i];
        size_t id_len = id_lens ? id_lens[i] : (id ? strlen(id) : 0);
        char qid[PGSE_MAX_ID_BYTES + 1];
        pgse_quote(qid, sizeof qid, id ? id : "", id_len);
        const char *ns;
        pgstate_record *stored = NULL;
        rc = effective_namespace(c, codec, &ns);
        if (rc == PGSTATE_OK) {
            rc = pgstate_load(c, id, id_len, &stored);
            if (rc != PGSTATE_OK && rc != PGSTATE_NOT_FOUND) client_failed(codec, c, rc);
        }
        if (rc == PGSTATE_NOT_FOUND) {
            counts->missing++;
            continue;
        }
        if (rc == PGSTATE_OK && !(options & PGSTATE_ENVELOPE_REWRAP_FORCE) &&
            is_current(codec, stored->state, stored->state_len)) {
            pgstate_record_free(stored);
            counts->current++;
            continue;
        }
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        if (rc == PGSTATE_OK) {
            rc = pgstate_envelope_decode(codec, ns, id, id_len, stored->revision, stored->state, stored->state_len,
                                         &plain, &plain_len);
        }
        if (rc == PGSTATE_OK) {
            rc = pgstate_envelope_upsert(c, codec, id, id_len, stored->revision, plain, plain_len, NULL);
            pgse_wipe(plain, plain_len);
            pgstate_envelope_free(plain);
        }
        pgstate_record_free(stored);
        if (rc == PGSTATE_OK) {
            counts->rewritten++;
            continue;
        }
        if (rc == PGSTATE_CONFLICT) { /* written meanwhile (actual > 0), or deleted meanwhile (actual 0) */
            if (pgstate_conflict_actual(c) == 0) counts->missing++;
            else counts->conflicts++;
            continue;
        }
        char why[PGSE_ERRMSG_CAP];
        memcpy(why, codec->errmsg, sizeof why);
        return pgse_fail(codec, rc, "rewrap stopped at id \"%s\" (%zu of %zu): %s", qid, i + 1, count, why);
    }
    counts->done = count;
    return pgse_ok(codec);
}
