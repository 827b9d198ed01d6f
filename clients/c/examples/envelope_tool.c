/*
 * envelope_tool - records in envelopes (libpgstate-envelope) from the shell, against a live pgstated.
 *
 *   envelope_tool write ID EXPECTED MODE < state     upsert the state in an envelope; prints the new revision
 *   envelope_tool read ID [MODE] > state             load and decode; the state, byte for byte, on stdout
 *   envelope_tool rewrap MODE ID...                  rewrite the records under MODE and the active key
 *
 * MODE: none | gzip | zstd | aes_gcm | gzip+aes_gcm | zstd+aes_gcm | hmac | gzip+hmac | zstd+hmac (the names
 * of the Python client's Envelope.mode; "-" for "_" is accepted too).  Reading decodes every mode whatever MODE
 * says (read's MODE only chooses the codec).
 *
 * Environment:
 *   PGSTATE_SOCKET                     the daemon's socket (libpgstate's default otherwise)
 *   PGSTATE_ENVELOPE_KEYS="1:hex,2:hex"  the key ring (32-byte keys in hex), or
 *   PGSTATE_ENVELOPE_KEYS_FILE=path    one "id:hex" per line (# comments); better than the environment for secrets
 *   PGSTATE_ENVELOPE_ACTIVE=2          the active key id (default: the highest)
 *   PGSTATE_ENVELOPE_INFO=billing/orders  the application's info (required with keys)
 *   PGSTATE_ENVELOPE_MAX_DECOMPRESSED  the decompression bound in bytes (default 64 MiB)
 *   PGSTATE_ENVELOPE_KEYED_ONLY=1      refuse plain states and unkeyed envelopes as tampered
 *   PGSTATE_NAMESPACE                  a namespace to name (pgstate_set_namespace; needs ANY_NAMESPACE)
 *
 * Exit status: 0 done; 1 read: no record, write: conflict (the committed revision on stderr); 2 usage or
 * configuration; 3 an envelope error ("<class>: <message>" on stderr, class as in ENVELOPE.md section 7);
 * 4 any other error of the call.
 */
#include <pgstate.h>
#include <pgstate_envelope.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: envelope_tool write ID EXPECTED MODE < state\n"
                    "       envelope_tool read ID [MODE] > state\n"
                    "       envelope_tool rewrap MODE ID...\n"
                    "MODE: none|gzip|zstd|aes_gcm|gzip+aes_gcm|zstd+aes_gcm|hmac|gzip+hmac|zstd+hmac\n");
    return 2;
}

/* "zstd+aes_gcm" -> compression and mode; 0, or -1 for an unknown word. */
static int parse_mode(const char *s, int *compression, int *mode) {
    *compression = PGSTATE_ENVELOPE_COMPRESSION_NONE;
    *mode = PGSTATE_ENVELOPE_MODE_NONE;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *p = buf; *p; p++) {
        if (*p == '-') *p = '_';
    }
    for (char *tok = strtok(buf, "+"); tok != NULL; tok = strtok(NULL, "+")) {
        if (strcmp(tok, "none") == 0) continue;
        if (strcmp(tok, "gzip") == 0) *compression = PGSTATE_ENVELOPE_COMPRESSION_GZIP;
        else if (strcmp(tok, "zstd") == 0) *compression = PGSTATE_ENVELOPE_COMPRESSION_ZSTD;
        else if (strcmp(tok, "aes_gcm") == 0) *mode = PGSTATE_ENVELOPE_MODE_ENCRYPT;
        else if (strcmp(tok, "hmac") == 0) *mode = PGSTATE_ENVELOPE_MODE_INTEGRITY;
        else return -1;
    }
    return 0;
}

static uint8_t *read_all(FILE *f, size_t *n);

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

typedef struct entry {
    uint32_t id;
    uint8_t key[PGSTATE_ENVELOPE_KEY_BYTES];
} entry;

#define MAX_KEYS 64

/* One "id:hex" entry; 0 or -1 (message printed). */
static int parse_entry(const char *text, size_t n, entry *e) {
    const char *colon = memchr(text, ':', n);
    char idtxt[16];
    size_t il = colon ? (size_t)(colon - text) : 0;
    if (colon == NULL || il == 0 || il >= sizeof idtxt) {
        fprintf(stderr, "envelope_tool: key entry %.*s is not id:64-hex-digits\n", (int)(il ? il : n), text);
        return -1;
    }
    memcpy(idtxt, text, il);
    idtxt[il] = '\0';
    char *end;
    errno = 0;
    unsigned long id = strtoul(idtxt, &end, 10);
    if (*end != '\0' || errno != 0 || id == 0 || id > UINT32_MAX) {
        fprintf(stderr, "envelope_tool: key id %s is not 1..4294967295\n", idtxt);
        return -1;
    }
    const char *hex = colon + 1;
    size_t hl = n - il - 1;
    if (hl != 2 * sizeof e->key) {
        fprintf(stderr, "envelope_tool: key %lu has %zu hex digits, not 64 (32 bytes)\n", id, hl);
        return -1;
    }
    for (size_t i = 0; i < sizeof e->key; i++) {
        int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);
        if (a < 0 || b < 0) return fprintf(stderr, "envelope_tool: key %lu is not hex\n", id), -1;
        e->key[i] = (uint8_t)(a << 4 | b);
    }
    e->id = (uint32_t)id;
    return 0;
}

/* Entries separated by sep (',' or newlines); '#' starts a comment.  0 or -1. */
static int parse_entries(const char *text, const char *sep, entry *out, size_t *count) {
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, sep), use = strcspn(p, "#");
        if (use > n) use = n;
        while (use > 0 && (p[use - 1] == ' ' || p[use - 1] == '\t' || p[use - 1] == '\r')) use--;
        while (use > 0 && (*p == ' ' || *p == '\t')) p++, n--, use--;
        if (use > 0) {
            if (*count == MAX_KEYS) return fprintf(stderr, "envelope_tool: more than %d keys\n", MAX_KEYS), -1;
            if (parse_entry(p, use, &out[*count]) != 0) return -1;
            (*count)++;
        }
        p += n;
        if (*p) p++;
    }
    return 0;
}

/* The ring from the environment, NULL when none is configured; *bad on a configuration error. */
static pgstate_envelope_keyring *ring_from_env(int *bad) {
    const char *keys = getenv("PGSTATE_ENVELOPE_KEYS"), *file = getenv("PGSTATE_ENVELOPE_KEYS_FILE");
    const char *act = getenv("PGSTATE_ENVELOPE_ACTIVE");
    entry entries[MAX_KEYS];
    size_t count = 0;
    *bad = 0;
    if (keys != NULL && *keys != '\0') {
        *bad = parse_entries(keys, ",", entries, &count) != 0;
    } else if (file != NULL && *file != '\0') {
        FILE *f = fopen(file, "r");
        size_t n = 0;
        char *text = f ? (char *)read_all(f, &n) : NULL;
        if (f) fclose(f);
        if (text == NULL) {
            fprintf(stderr, "envelope_tool: cannot read %s: %s\n", file, strerror(errno));
            *bad = 1;
        } else {
            text[n] = '\0';
            *bad = parse_entries(text, "\n", entries, &count) != 0;
            memset(text, 0, n);
            free(text);
        }
    }
    if (*bad || count == 0) return NULL;
    uint32_t active = 0;
    if (act != NULL && *act != '\0') {
        active = (uint32_t)strtoul(act, NULL, 10);
    } else {
        for (size_t i = 0; i < count; i++) active = entries[i].id > active ? entries[i].id : active;
    }
    pgstate_envelope_keyring *ring = pgstate_envelope_keyring_new();
    for (size_t i = 0; ring != NULL && i < count; i++) {
        int rc = pgstate_envelope_keyring_add(ring, entries[i].id, entries[i].key, entries[i].id == active);
        if (rc != PGSTATE_OK) {
            fprintf(stderr, "envelope_tool: key %u refused (%s): listed twice?\n", entries[i].id,
                    pgstate_envelope_status_name(rc));
            *bad = 1;
        }
    }
    memset(entries, 0, sizeof entries);
    if (!*bad && pgstate_envelope_keyring_active(ring) != active) {
        fprintf(stderr, "envelope_tool: PGSTATE_ENVELOPE_ACTIVE=%u is not a key of the ring\n", active);
        *bad = 1;
    }
    return ring;
}

/* All of f, with room for one more byte; NULL when out of memory. */
static uint8_t *read_all(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) return NULL;
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
        if (len == cap - 1) {
            cap *= 2;
            uint8_t *bigger = realloc(buf, cap);
            if (bigger == NULL) free(buf);
            buf = bigger;
        }
    }
    *n = len;
    return buf;
}

/* Exit status of a call's result. */
static int report(int rc, pgstate_envelope_codec *codec) {
    const char *cls = pgstate_envelope_error_class(rc);
    if (cls != NULL) {
        fprintf(stderr, "%s: %s\n", cls, pgstate_envelope_errmsg(codec));
        return 3;
    }
    fprintf(stderr, "envelope_tool: %s: %s\n", pgstate_envelope_status_name(rc), pgstate_envelope_errmsg(codec));
    return 4;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    const char *cmd = argv[1];
    const char *mode_arg = strcmp(cmd, "write") == 0 ? (argc == 5 ? argv[4] : NULL)
                           : strcmp(cmd, "read") == 0 ? (argc == 3 ? "none" : argc == 4 ? argv[3] : NULL)
                           : strcmp(cmd, "rewrap") == 0 ? argv[2]
                                                        : NULL;
    int compression, mode;
    if (mode_arg == NULL) return usage();
    if (parse_mode(mode_arg, &compression, &mode) != 0) {
        fprintf(stderr, "envelope_tool: unknown MODE %s\n", mode_arg);
        return usage();
    }
    int bad;
    pgstate_envelope_keyring *ring = ring_from_env(&bad);
    if (bad) {
        pgstate_envelope_keyring_free(ring);
        return 2;
    }
    const char *bound = getenv("PGSTATE_ENVELOPE_MAX_DECOMPRESSED");
    pgstate_envelope_codec *codec = pgstate_envelope_codec_new(compression, ring, mode,
                                                               getenv("PGSTATE_ENVELOPE_INFO"),
                                                               bound ? strtoull(bound, NULL, 10) : 0);
    pgstate_envelope_keyring_free(ring); /* the codec has its copy */
    if (codec == NULL) return 4;
    const char *keyed_only = getenv("PGSTATE_ENVELOPE_KEYED_ONLY");
    if (keyed_only != NULL && strcmp(keyed_only, "1") == 0) pgstate_envelope_codec_set_keyed_only(codec, 1);
    int rc = pgstate_envelope_codec_status(codec);
    if (rc != PGSTATE_OK) {
        fprintf(stderr, "envelope_tool: %s: %s\n", pgstate_envelope_status_name(rc), pgstate_envelope_errmsg(codec));
        pgstate_envelope_codec_free(codec);
        return rc == PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE ? 3 : 2;
    }
    pgstate_client *c = pgstate_connect(NULL, 10000);
    if (c == NULL || pgstate_status(c) != PGSTATE_OK) {
        fprintf(stderr, "envelope_tool: %s\n", c ? pgstate_errmsg(c) : "out of memory");
        pgstate_free(c);
        pgstate_envelope_codec_free(codec);
        return 4;
    }
    const char *ns = getenv("PGSTATE_NAMESPACE");
    if (ns != NULL && pgstate_set_namespace(c, ns) != PGSTATE_OK) {
        fprintf(stderr, "envelope_tool: %s\n", pgstate_errmsg(c));
        pgstate_free(c);
        pgstate_envelope_codec_free(codec);
        return 2;
    }
    int status = 0;
    const char *id = argv[2];
    if (strcmp(cmd, "write") == 0) {
        char *end;
        errno = 0;
        unsigned long long expected = strtoull(argv[3], &end, 10);
        size_t n = 0;
        uint8_t *state = *end == '\0' && errno == 0 ? read_all(stdin, &n) : NULL;
        if (state == NULL) {
            status = usage();
        } else {
            pgstate_envelope_record *r = NULL;
            rc = pgstate_envelope_upsert(c, codec, id, strlen(id), expected, state, n, &r);
            if (rc == PGSTATE_OK) {
                printf("%llu\n", (unsigned long long)r->revision);
            } else if (rc == PGSTATE_CONFLICT) {
                fprintf(stderr, "conflict: the record is at revision %llu\n",
                        (unsigned long long)pgstate_conflict_actual(c));
                status = 1;
            } else {
                status = report(rc, codec);
            }
            pgstate_envelope_record_free(r);
            free(state);
        }
    } else if (strcmp(cmd, "read") == 0) {
        pgstate_envelope_record *r = NULL;
        rc = pgstate_envelope_load(c, codec, id, strlen(id), &r);
        if (rc == PGSTATE_OK) {
            fwrite(r->state, 1, r->state_len, stdout);
            fprintf(stderr, "revision %llu, %s\n", (unsigned long long)r->revision,
                    r->envelope.enveloped ? "enveloped" : "plain");
        } else if (rc == PGSTATE_NOT_FOUND) {
            fprintf(stderr, "not found: %s\n", id);
            status = 1;
        } else {
            status = report(rc, codec);
        }
        pgstate_envelope_record_free(r);
    } else {
        pgstate_envelope_rewrap_counts counts;
        rc = pgstate_envelope_rewrap(c, codec, (const char *const *)argv + 3, NULL, (size_t)(argc - 3), 0, &counts);
        printf("rewritten %zu, conflicts %zu, missing %zu, current %zu\n", counts.rewritten, counts.conflicts,
               counts.missing, counts.current);
        if (rc != PGSTATE_OK) status = report(rc, codec);
    }
    pgstate_free(c);
    pgstate_envelope_codec_free(codec);
    return status;
}
