/*
 * json.h - a minimal JSON reader for the tests (libc only, header-only).
 *
 * Objects, arrays, strings (all escapes, \u with surrogate pairs, decoded to
 * UTF-8 bytes, may contain NUL), integers (magnitude up to 2^64-1, with sign),
 * true, false, null.  Fractions and exponents are rejected: every number in the
 * vectors and scenarios is an integer and must not go through a double.
 */
#ifndef PGSTATE_TEST_JSON_H
#define PGSTATE_TEST_JSON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_INT, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype t;
    int b;           /* J_BOOL */
    int neg;         /* J_INT: value is -u when neg */
    uint64_t u;      /* J_INT magnitude */
    char *s;         /* J_STR bytes (NUL-terminated too) */
    size_t slen;
    struct jval *v;  /* J_ARR items / J_OBJ values */
    char **k;        /* J_OBJ keys */
    size_t n;
} jval;

typedef struct jparser {
    const char *p;
    const char *end;
    char err[160];
    int depth;
} jparser;

static inline void json_free(jval *j) {
    if (j == NULL) return;
    free(j->s);
    for (size_t i = 0; i < j->n; i++) {
        json_free(&j->v[i]);
        if (j->k) free(j->k[i]);
    }
    free(j->v);
    free(j->k);
    memset(j, 0, sizeof *j);
}

static inline int j_fail(jparser *ps, const char *what) {
    if (ps->err[0] == '\0') snprintf(ps->err, sizeof ps->err, "%s", what);
    return -1;
}

static inline void j_ws(jparser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static inline int j_hex4(jparser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return j_fail(ps, "short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = *ps->p++;
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return j_fail(ps, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static inline int j_string(jparser *ps, char **out, size_t *outlen) {
    /* ps->p is at the opening quote */
    ps->p++;
    size_t cap = 16, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return j_fail(ps, "out of memory");
    for (;;) {
        if (ps->p >= ps->end) {
            free(buf);
            return j_fail(ps, "unterminated string");
        }
        if (len + 5 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return j_fail(ps, "out of memory");
            }
            buf = nb;
        }
        unsigned char ch = (unsigned char)*ps->p++;
        if (ch == '"') break;
        if (ch < 0x20) {
            free(buf);
            return j_fail(ps, "control character in string");
        }
        if (ch != '\\') {
            buf[len++] = (char)ch;
            continue;
        }
        if (ps->p >= ps->end) {
            free(buf);
            return j_fail(ps, "unterminated escape");
        }
        char e = *ps->p++;
        unsigned cp;
        switch (e) {
        case '"': buf[len++] = '"'; continue;
        case '\\': buf[len++] = '\\'; continue;
        case '/': buf[len++] = '/'; continue;
        case 'b': buf[len++] = '\b'; continue;
        case 'f': buf[len++] = '\f'; continue;
        case 'n': buf[len++] = '\n'; continue;
        case 'r': buf[len++] = '\r'; continue;
        case 't': buf[len++] = '\t'; continue;
        case 'u':
            if (j_hex4(ps, &cp) != 0) {
                free(buf);
                return -1;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    free(buf);
                    return j_fail(ps, "high surrogate without a low surrogate");
                }
                ps->p += 2;
                if (j_hex4(ps, &lo) != 0) {
                    free(buf);
                    return -1;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return j_fail(ps, "bad low surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return j_fail(ps, "lone low surrogate");
            }
            if (cp < 0x80) {
                buf[len++] = (char)cp;
            } else if (cp < 0x800) {
                buf[len++] = (char)(0xC0 | (cp >> 6));
                buf[len++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[len++] = (char)(0xE0 | (cp >> 12));
                buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[len++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[len++] = (char)(0xF0 | (cp >> 18));
                buf[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[len++] = (char)(0x80 | (cp & 0x3F));
            }
            continue;
        default:
            free(buf);
            return j_fail(ps, "unknown escape");
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

static inline int j_value(jparser *ps, jval *out);

static inline int j_push(jparser *ps, jval *arr, size_t *cap, jval *item, char *key) {
    if (arr->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        jval *nv = realloc(arr->v, ncap * sizeof *nv);
        if (nv == NULL) return j_fail(ps, "out of memory");
        arr->v = nv;
        if (arr->t == J_OBJ) {
            char **nk = realloc(arr->k, ncap * sizeof *nk);
            if (nk == NULL) return j_fail(ps, "out of memory");
            arr->k = nk;
        }
        *cap = ncap;
    }
    arr->v[arr->n] = *item;
    if (arr->t == J_OBJ) arr->k[arr->n] = key;
    arr->n++;
    return 0;
}

static inline int j_value(jparser *ps, jval *out) {
    memset(out, 0, sizeof *out);
    j_ws(ps);
    if (ps->p >= ps->end) return j_fail(ps, "unexpected end of input");
    if (++ps->depth > 64) return j_fail(ps, "nesting too deep");
    char ch = *ps->p;
    int rc = 0;
    if (ch == '{' || ch == '[') {
        int obj = ch == '{';
        out->t = obj ? J_OBJ : J_ARR;
        size_t cap = 0;
        ps->p++;
        j_ws(ps);
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
            ps->p++;
        } else {
            for (;;) {
                char *key = NULL;
                size_t klen;
                if (obj) {
                    j_ws(ps);
                    if (ps->p >= ps->end || *ps->p != '"') {
                        rc = j_fail(ps, "expected a key");
                        break;
                    }
                    if (j_string(ps, &key, &klen) != 0) {
                        rc = -1;
                        break;
                    }
                    j_ws(ps);
                    if (ps->p >= ps->end || *ps->p != ':') {
                        free(key);
                        rc = j_fail(ps, "expected ':'");
                        break;
                    }
                    ps->p++;
                }
                jval item;
                if (j_value(ps, &item) != 0) {
                    free(key);
                    json_free(&item);
                    rc = -1;
                    break;
                }
                if (j_push(ps, out, &cap, &item, key) != 0) {
                    free(key);
                    json_free(&item);
                    rc = -1;
                    break;
                }
                j_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                    ps->p++;
                    continue;
                }
                if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
                    ps->p++;
                    break;
                }
                rc = j_fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
                break;
            }
        }
    } else if (ch == '"') {
        out->t = J_STR;
        rc = j_string(ps, &out->s, &out->slen);
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        out->t = J_INT;
        if (ch == '-') {
            out->neg = 1;
            ps->p++;
        }
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            rc = j_fail(ps, "bad number");
        } else if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9') {
            rc = j_fail(ps, "leading zero");
        } else {
            uint64_t v = 0;
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
                unsigned d = (unsigned)(*ps->p++ - '0');
                if (v > (UINT64_MAX - d) / 10) {
                    rc = j_fail(ps, "integer out of 64-bit range");
                    break;
                }
                v = v * 10 + d;
            }
            out->u = v;
            if (rc == 0 && ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')) {
                rc = j_fail(ps, "non-integer number");
            }
            if (rc == 0 && out->neg && v > (uint64_t)1 << 63) rc = j_fail(ps, "negative integer out of range");
            if (v == 0) out->neg = 0;
        }
    } else if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0) {
        out->t = J_BOOL;
        out->b = 1;
        ps->p += 4;
    } else if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0) {
        out->t = J_BOOL;
        ps->p += 5;
    } else if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
        out->t = J_NULL;
        ps->p += 4;
    } else {
        rc = j_fail(ps, "unexpected character");
    }
    ps->depth--;
    return rc;
}

/* Parses text[0..len) into *out; on error returns -1 and writes a message. */
static inline int json_parse(const char *text, size_t len, jval *out, char *err, size_t errcap) {
    jparser ps;
    memset(&ps, 0, sizeof ps);
    ps.p = text;
    ps.end = text + len;
    int rc = j_value(&ps, out);
    if (rc == 0) {
        j_ws(&ps);
        if (ps.p != ps.end) rc = j_fail(&ps, "trailing data after the JSON value");
    }
    if (rc != 0) {
        snprintf(err, errcap, "%s (offset %ld)", ps.err, (long)(ps.p - text));
        json_free(out);
    }
    return rc;
}

/* Reads and parses a whole file. */
static inline int json_parse_file(const char *path, jval *out, char *err, size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errcap, "cannot open the file");
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    fclose(f);
    if (buf == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = json_parse(buf, len, out, err, errcap);
    free(buf);
    return rc;
}

static inline const jval *json_get(const jval *obj, const char *key) {
    if (obj == NULL || obj->t != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->k[i], key) == 0) return &obj->v[i];
    }
    return NULL;
}

/* The string value of key, or NULL. */
static inline const char *json_str(const jval *obj, const char *key) {
    const jval *v = json_get(obj, key);
    return v && v->t == J_STR ? v->s : NULL;
}

/* 1 and *out when key holds a non-negative integer. */
static inline int json_u64(const jval *obj, const char *key, uint64_t *out) {
    const jval *v = json_get(obj, key);
    if (v == NULL || v->t != J_INT || v->neg) return 0;
    *out = v->u;
    return 1;
}

/* 1 and *out when key holds an integer in int64 range. */
static inline int json_i64(const jval *obj, const char *key, int64_t *out) {
    const jval *v = json_get(obj, key);
    if (v == NULL || v->t != J_INT) return 0;
    if (v->neg) {
        if (v->u > (uint64_t)1 << 63) return 0;
        *out = v->u == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)v->u;
    } else {
        if (v->u > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v->u;
    }
    return 1;
}

/* Decodes lowercase/uppercase hex; returns malloc'd bytes (at least 1 byte
   allocated) or NULL on bad input. */
static inline uint8_t *hex_decode(const char *hex, size_t hexlen, size_t *outlen) {
    if (hexlen % 2 != 0) return NULL;
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

#endif /* PGSTATE_TEST_JSON_H */
