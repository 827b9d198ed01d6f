/*
 * vector_json.h - reading the shared JSON vectors and scenarios in the tests,
 * through json-c (Debian: libjson-c-dev; a test-only dependency, the library
 * itself is libc only).  json-c keeps integers as int64 / uint64, so ids,
 * revisions and timestamps up to 2^64-1 arrive exactly (PROTOCOL.md section
 * 13: "MUST be parsed as 64-bit integers, not doubles").  These are accessors
 * only; no JSON is parsed here.
 */
#ifndef PGSTATE_TEST_VECTOR_JSON_H
#define PGSTATE_TEST_VECTOR_JSON_H

#include <json-c/json.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the shared vectors are: $PGSTATE_VECTORS_DIR, else ../../proto-spec/vectors (from clients/c). */
static inline const char *vj_vectors_dir(void) {
    const char *dir = getenv("PGSTATE_VECTORS_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : "../../proto-spec/vectors";
}

/* The parsed file (release with json_object_put), or NULL with the reason in err. */
static inline json_object *vj_load(const char *path, char *err, size_t errcap) {
    json_object *root = json_object_from_file(path);
    if (root == NULL) snprintf(err, errcap, "%s", json_util_get_last_err() ? json_util_get_last_err() : "unreadable");
    return root;
}

/* Whether obj is an object holding key (its value may be null). */
static inline int vj_has(json_object *obj, const char *key) {
    return obj != NULL && json_object_is_type(obj, json_type_object) && json_object_object_get_ex(obj, key, NULL);
}

/* The value of key, or NULL when it is absent or null. */
static inline json_object *vj_get(json_object *obj, const char *key) {
    json_object *v = NULL;
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) return NULL;
    if (!json_object_object_get_ex(obj, key, &v)) return NULL;
    return v;
}

/* The string value of key (bytes; *len if len != NULL, NULs included), or NULL. */
static inline const char *vj_str(json_object *obj, const char *key, size_t *len) {
    json_object *v = vj_get(obj, key);
    if (v == NULL || !json_object_is_type(v, json_type_string)) return NULL;
    if (len) *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* 1 and *out when v is a non-negative integer. */
static inline int vj_as_u64(json_object *v, uint64_t *out) {
    if (v == NULL || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) return 0;
    *out = json_object_get_uint64(v);
    return 1;
}

static inline int vj_u64(json_object *obj, const char *key, uint64_t *out) {
    return vj_as_u64(vj_get(obj, key), out);
}

/* 1 and *out when key holds an integer in int64 range. */
static inline int vj_i64(json_object *obj, const char *key, int64_t *out) {
    json_object *v = vj_get(obj, key);
    if (v == NULL || !json_object_is_type(v, json_type_int)) return 0;
    int64_t s = json_object_get_int64(v);
    if (s == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX) return 0; /* above 2^63-1 */
    *out = s;
    return 1;
}

/* 1 when key holds true. */
static inline int vj_true(json_object *obj, const char *key) {
    json_object *v = vj_get(obj, key);
    return v != NULL && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* The array under key, or NULL. */
static inline json_object *vj_array(json_object *obj, const char *key) {
    json_object *v = vj_get(obj, key);
    return v != NULL && json_object_is_type(v, json_type_array) ? v : NULL;
}

static inline size_t vj_len(json_object *arr) {
    return arr ? json_object_array_length(arr) : 0;
}

static inline json_object *vj_at(json_object *arr, size_t i) {
    return json_object_array_get_idx(arr, i);
}

/* Keys of an object (0 for anything else). */
static inline size_t vj_keys(json_object *obj) {
    return obj != NULL && json_object_is_type(obj, json_type_object) ? (size_t)json_object_object_length(obj) : 0;
}

/* Decodes lowercase/uppercase hex; returns malloc'd bytes (at least 1 byte
   allocated) or NULL on bad input. */
static inline uint8_t *hex_decode(const char *hex, size_t hexlen, size_t *outlen) {
    if (hex == NULL || hexlen % 2 != 0) return NULL;
    uint8_t *out = malloc(hexlen / 2 + 1);
    if (out == NULL) return NULL;
    for (size_t i = 0; i < hexlen / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = hex[2 * i + (size_t)k];
            v <<= 4;
            if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
            else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
            else {
                free(out);
                return NULL;
            }
        }
        out[i] = (uint8_t)v;
    }
    *outlen = hexlen / 2;
    return out;
}

#endif /* PGSTATE_TEST_VECTOR_JSON_H */
