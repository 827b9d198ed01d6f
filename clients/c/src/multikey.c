/*
 * multikey.c - the multi-key calls of the public API (pgstate_bulk_load,
 * pgstate_bulk_write, pgstate_transact, pgstate_list), the upsert with a TTL,
 * their pgstate_send_* forms, and what they return: the RECORDS entries,
 * OUTCOMES, TRANSACT_CONFLICT entries and LIST_OK page copied out of their
 * frames, each list in one allocation like a record.  The requests go through
 * client.c's machinery like every other call; what an answer means is decided
 * in outcome.c, the arguments are checked in multikey_call.c.
 */
#include "client_internal.h"
#include "multikey_codec.h"
#include "operator_codec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* What a request in flight keeps                                             */
/* ------------------------------------------------------------------------- */

#define ALIGN_UP(n) (((n) + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t))

int pgs_op_is_multikey(pgs_op op) {
    return op == PGS_OP_BULK_LOAD || op == PGS_OP_BULK_WRITE || op == PGS_OP_TRANSACT || op == PGS_OP_LIST;
}

/* The id of the call's id or item i. */
static pgs_span call_id(const pgs_call *call, size_t i) {
    pgs_span s;
    if (call->op == PGS_OP_BULK_LOAD) {
        s.p = call->ids[i];
        s.len = pgs_call_id_len(call, i);
    } else {
        s.p = call->items[i].id;
        s.len = call->items[i].id_len;
    }
    return s;
}

size_t pgs_shape_bytes(const pgs_call *call) {
    switch (call->op) {
    case PGS_OP_LIST: return call->prefix_len + 1 + (call->after != NULL ? call->after_len + 1 : 0);
    case PGS_OP_BULK_LOAD:
    case PGS_OP_BULK_WRITE:
    case PGS_OP_TRANSACT: {
        size_t n = ALIGN_UP(call->count * sizeof(pgs_span));
        if (call->op != PGS_OP_BULK_LOAD) n += ALIGN_UP(call->count * sizeof(pgs_item_shape));
        for (size_t i = 0; i < call->count; i++) n += call_id(call, i).len + 1;
        return n;
    }
    default: return 0;
    }
}

/* Copies n bytes to *at with a NUL after them; returns the copy and moves *at past it. */
static char *put_text(char **at, const char *src, size_t n) {
    char *dst = *at;
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
    *at = dst + n + 1;
    return dst;
}

void pgs_shape_copy(pgs_pending *p, void *mem, const pgs_call *call) {
    char *at = mem;
    pgs_shape *sh = &p->shape;
    if (call->op == PGS_OP_LIST) {
        sh->prefix = put_text(&at, call->prefix, call->prefix_len);
        sh->prefix_len = call->prefix_len;
        if (call->after != NULL) {
            sh->after = put_text(&at, call->after, call->after_len);
            sh->after_len = call->after_len;
        }
        sh->limit = call->limit;
        return;
    }
    pgs_span *ids = (pgs_span *)(void *)at;
    at += ALIGN_UP(call->count * sizeof(pgs_span));
    pgs_item_shape *items = NULL;
    if (call->op != PGS_OP_BULK_LOAD) {
        items = (pgs_item_shape *)(void *)at;
        at += ALIGN_UP(call->count * sizeof(pgs_item_shape));
    }
    for (size_t i = 0; i < call->count; i++) {
        pgs_span id = call_id(call, i);
        ids[i].p = put_text(&at, id.p, id.len);
        ids[i].len = id.len;
        if (items != NULL) {
            pgs_item it;
            pgs_item_of(&it, &call->items[i]);
            items[i].kind = it.kind;
            items[i].has_expected = (uint8_t)it.has_expected;
            items[i].expected_revision = it.expected_revision;
        }
    }
    sh->count = call->count;
    sh->items = items;
    p->ids = ids;
}

/* ------------------------------------------------------------------------- */
/* Results                                                                    */
/* ------------------------------------------------------------------------- */

/* One block: the list struct, then `count` elements of elem_size, then `more` bytes of aligned structs, then
   text_bytes.  NULL when out of memory or the sizes overflow. */
static void *block(size_t head, size_t count, size_t elem_size, size_t more, size_t text_bytes, void **elems,
                   void **structs, char **text) {
    size_t elems_at = ALIGN_UP(head);
    if (count > (SIZE_MAX / 2 - elems_at) / (elem_size ? elem_size : 1)) return NULL;
    size_t structs_at = ALIGN_UP(elems_at + count * elem_size);
    if (more > SIZE_MAX / 4 || text_bytes > SIZE_MAX / 4) return NULL;
    size_t text_at = structs_at + more;
    char *b = malloc(text_at + text_bytes);
    if (b == NULL) return NULL;
    *elems = b + elems_at;
    if (structs != NULL) *structs = b + structs_at;
    *text = b + text_at;
    return b;
}

/* One answer to one id, wherever it comes from (a frame, an earlier list). */
typedef struct loaded_src {
    const char *id;
    size_t id_len;
    int presence;
    uint64_t revision;
    int64_t updated_at_us;
    const void *state;
    size_t state_len;
} loaded_src;

static pgstate_record_list *record_list_of(const loaded_src *src, size_t count) {
    size_t found = 0, text = 0;
    for (size_t i = 0; i < count; i++) {
        text += src[i].id_len + 1;
        if (src[i].presence == PGSTATE_FOUND) {
            found++;
            text += src[i].state_len + 1;
        }
    }
    void *elems, *structs;
    char *at;
    pgstate_record_list *list =
        block(sizeof *list, count, sizeof(pgstate_loaded), found * sizeof(pgstate_record), text, &elems, &structs, &at);
    if (list == NULL) return NULL;
    pgstate_loaded *out = elems;
    pgstate_record *rec = structs;
    list->count = count;
    list->entries = out;
    list->omitted = 0;
    for (size_t i = 0; i < count; i++) {
        out[i].persistence_id = put_text(&at, src[i].id, src[i].id_len);
        out[i].persistence_id_len = src[i].id_len;
        out[i].presence = src[i].presence;
        out[i].record = NULL;
        if (src[i].presence == PGSTATE_OMITTED) list->omitted++;
        if (src[i].presence != PGSTATE_FOUND) continue;
        rec->persistence_id = out[i].persistence_id;
        rec->persistence_id_len = src[i].id_len;
        rec->revision = src[i].revision;
        rec->updated_at_us = src[i].updated_at_us;
        rec->state = put_text(&at, src[i].state, src[i].state_len);
        rec->state_len = src[i].state_len;
        out[i].record = rec++;
    }
    return list;
}

pgstate_record_list *pgs_record_list_new(const pgs_msg *m, const pgs_pending *p) {
    size_t n = p->shape.count; /* the classifier let only m->count == n through */
    loaded_src *src = calloc(n ? n : 1, sizeof *src);
    if (src == NULL) return NULL;
    pgs_cursor it;
    pgs_record_entry e;
    size_t i = 0;
    for (pgs_items_begin(&it, m); i < n && pgs_record_next(&it, &e); i++) {
        src[i].id = p->ids[i].p;
        src[i].id_len = p->ids[i].len;
        src[i].presence = e.presence == PGS_PRESENCE_FOUND     ? PGSTATE_FOUND
                          : e.presence == PGS_PRESENCE_OMITTED ? PGSTATE_OMITTED
                                                               : PGSTATE_ABSENT;
        src[i].revision = e.revision;
        src[i].updated_at_us = e.updated_at_us;
        src[i].state = e.state;
        src[i].state_len = e.state_len;
    }
    pgstate_record_list *list = record_list_of(src, i);
    free(src);
    return list;
}

void pgstate_record_list_free(pgstate_record_list *list) {
    free(list);
}

pgstate_outcome_list *pgs_outcome_list_new(const pgs_msg *m, const pgs_pending *p) {
    size_t n = p->shape.count, text = 0;
    pgs_cursor it;
    pgs_outcome o;
    size_t i = 0;
    for (pgs_items_begin(&it, m); i < n && pgs_outcome_next(&it, &o); i++) {
        text += p->ids[i].len + 1 + o.message_len + 1;
    }
    void *elems;
    char *at;
    pgstate_outcome_list *list = block(sizeof *list, n, sizeof(pgstate_item_outcome), 0, text, &elems, NULL, &at);
    if (list == NULL) return NULL;
    pgstate_item_outcome *out = elems;
    i = 0;
    for (pgs_items_begin(&it, m); i < n && pgs_outcome_next(&it, &o); i++) {
        pgstate_item_outcome *w = &out[i];
        memset(w, 0, sizeof *w);
        w->persistence_id = put_text(&at, p->ids[i].p, p->ids[i].len);
        w->persistence_id_len = p->ids[i].len;
        w->message = put_text(&at, o.message, o.message_len);
        w->message_len = o.message_len;
        switch (o.result) {
        case PGS_RESULT_WRITTEN:
            w->result = PGSTATE_ITEM_WRITTEN;
            w->status = PGSTATE_OK;
            w->revision = o.revision;
            w->updated_at_us = o.updated_at_us;
            break;
        case PGS_RESULT_DELETED:
            w->result = PGSTATE_ITEM_DELETED;
            w->status = PGSTATE_OK;
            break;
        case PGS_RESULT_CONFLICT:
            w->result = PGSTATE_ITEM_CONFLICT;
            w->status = PGSTATE_CONFLICT;
            w->expected_revision = o.expected_revision;
            w->actual_revision = o.actual_revision;
            break;
        default: /* FAILED: the decoder lets no other result through */
            w->result = PGSTATE_ITEM_FAILED;
            w->status = pgs_class_status(pgs_item_failure_class(o.status));
            w->server_status = o.status;
            break;
        }
    }
    list->count = i;
    list->items = out;
    return list;
}

void pgstate_outcome_list_free(pgstate_outcome_list *list) {
    free(list);
}

pgstate_conflict_list *pgs_conflict_list_new(const pgs_msg *m, const pgs_pending *p) {
    size_t text = 0;
    pgs_cursor it;
    pgs_conflict_entry e;
    /* the classifier let only indexes of the request's items through */
    for (pgs_items_begin(&it, m); pgs_conflict_next(&it, &e);) text += p->ids[e.index].len + 1;
    void *elems;
    char *at;
    pgstate_conflict_list *list =
        block(sizeof *list, m->count, sizeof(pgstate_item_conflict), 0, text, &elems, NULL, &at);
    if (list == NULL) return NULL;
    pgstate_item_conflict *out = elems;
    size_t i = 0;
    for (pgs_items_begin(&it, m); i < m->count && pgs_conflict_next(&it, &e); i++) {
        out[i].index = e.index;
        out[i].persistence_id = put_text(&at, p->ids[e.index].p, p->ids[e.index].len);
        out[i].persistence_id_len = p->ids[e.index].len;
        out[i].expected_revision = e.expected_revision;
        out[i].actual_revision = e.actual_revision;
    }
    list->count = i;
    list->items = out;
    return list;
}

void pgstate_conflict_list_free(pgstate_conflict_list *list) {
    free(list);
}

pgstate_page *pgs_page_new(const pgs_msg *m) {
    size_t text = 0;
    pgs_cursor it;
    pgs_list_entry e;
    for (pgs_items_begin(&it, m); pgs_list_next(&it, &e);) text += e.id_len + 1;
    void *elems;
    char *at;
    pgstate_page *page = block(sizeof *page, m->count, sizeof(pgstate_list_entry), 0, text, &elems, NULL, &at);
    if (page == NULL) return NULL;
    pgstate_list_entry *out = elems;
    size_t i = 0;
    for (pgs_items_begin(&it, m); i < m->count && pgs_list_next(&it, &e); i++) {
        out[i].persistence_id = put_text(&at, e.id, e.id_len);
        out[i].persistence_id_len = e.id_len;
        out[i].revision = e.revision;
        out[i].updated_at_us = e.updated_at_us;
    }
    page->count = i;
    page->entries = out;
    page->more = m->more != 0 && i > 0; /* the classifier let more 1 through only with entries */
    page->next_after = page->more ? out[i - 1].persistence_id : NULL;
    page->next_after_len = page->more ? out[i - 1].persistence_id_len : 0;
    return page;
}

void pgstate_page_free(pgstate_page *page) {
    free(page);
}

/* ------------------------------------------------------------------------- */
/* Calls                                                                      */
/* ------------------------------------------------------------------------- */

/* A call of this kind in the handle's namespace, if it names one. */
static pgs_call multi_call(const pgstate_client *c, pgs_op op) {
    pgs_call k = pgs_bare_call(op);
    if (c->has_ns) {
        k.ns = c->ns;
        k.ns_len = c->ns_len;
    }
    return k;
}

static pgs_call upsert_ttl_call(const pgstate_client *c, const char *id, size_t id_len, uint64_t expected,
                                const void *state, size_t state_len, uint32_t ttl_seconds) {
    pgs_call k = multi_call(c, PGS_OP_UPSERT);
    k.id = id;
    k.id_len = id_len;
    k.expected_revision = expected;
    k.state = state;
    k.state_len = state_len;
    k.has_ttl = 1;
    k.ttl_seconds = ttl_seconds;
    return k;
}

static pgs_call bulk_load_call(const pgstate_client *c, const char *const *ids, const size_t *id_lens, size_t n) {
    pgs_call k = multi_call(c, PGS_OP_BULK_LOAD);
    k.ids = ids;
    k.id_lens = id_lens;
    k.count = n;
    return k;
}

static pgs_call items_call(const pgstate_client *c, pgs_op op, const pgstate_item *items, size_t n) {
    pgs_call k = multi_call(c, op);
    k.items = items;
    k.count = n;
    return k;
}

static pgs_call list_call(const pgstate_client *c, const char *prefix, size_t prefix_len, const char *after,
                          size_t after_len, uint32_t limit) {
    pgs_call k = multi_call(c, PGS_OP_LIST);
    k.prefix = prefix;
    k.prefix_len = prefix_len;
    k.after = after;
    k.after_len = after_len;
    k.limit = limit;
    return k;
}

/* The status of an answered request, which is then freed. */
static int done(pgs_pending *p) {
    int rc = p->pub.status;
    pgs_pending_free(p);
    return rc;
}

int pgstate_upsert_ttl(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision,
                       const void *state, size_t state_len, uint32_t ttl_seconds, pgstate_record **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    pgs_call k = upsert_ttl_call(c, id, id_len, expected_revision, state, state_len, ttl_seconds);
    pgs_pending *p = pgs_roundtrip(c, &k, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return c->status;
    if (out && p->pub.kind == PGSTATE_REPLY_RECORD) {
        *out = p->pub.record;
        p->pub.record = NULL;
    }
    return done(p);
}

/* One BULK_LOAD round trip: PGSTATE_OK with *list (owned), or the error (the handle has it). */
static int load_round(pgstate_client *c, const pgs_call *k, int64_t deadline, pgstate_record_list **list) {
    *list = NULL;
    pgs_pending *p = pgs_roundtrip(c, k, deadline);
    if (p == NULL) return c->status;
    if (p->pub.kind != PGSTATE_REPLY_RECORDS) return done(p);
    *list = p->pub.records;
    p->pub.records = NULL;
    return done(p);
}

/* The scratch of load_omitted, n of each. */
typedef struct load_scratch {
    const pgstate_loaded **answer; /* the entry that answers id i */
    size_t *todo;                  /* positions still OMITTED */
    const char **ids;              /* the ids of the next round */
    size_t *lens;
    loaded_src *src;               /* the merged answers */
    pgstate_record_list **rounds;  /* every list received, each freed at the end */
    size_t nrounds;
    size_t cap;
} load_scratch;

static int scratch_init(load_scratch *s, size_t n) {
    memset(s, 0, sizeof *s);
    s->answer = calloc(n, sizeof *s->answer);
    s->todo = malloc(n * sizeof *s->todo);
    s->ids = malloc(n * sizeof *s->ids);
    s->lens = malloc(n * sizeof *s->lens);
    s->src = malloc(n * sizeof *s->src);
    s->cap = 4;
    s->rounds = malloc(s->cap * sizeof *s->rounds);
    return s->answer && s->todo && s->ids && s->lens && s->src && s->rounds ? 0 : -1;
}

static void scratch_free(load_scratch *s) {
    for (size_t r = 0; r < s->nrounds; r++) pgstate_record_list_free(s->rounds[r]);
    free(s->answer);
    free(s->todo);
    free(s->ids);
    free(s->lens);
    free(s->src);
    free(s->rounds);
}

static int keep_round(load_scratch *s, pgstate_record_list *round) {
    if (s->nrounds == s->cap) {
        pgstate_record_list **nr = realloc(s->rounds, 2 * s->cap * sizeof *nr);
        if (nr == NULL) return -1;
        s->rounds = nr;
        s->cap *= 2;
    }
    s->rounds[s->nrounds++] = round;
    return 0;
}

/* Asks again for the OMITTED ids of `first` until each has an answer (each round answers at least its first id:
   the classifier refuses a RECORDS whose first entry is OMITTED), then merges every answer into *out in the order
   asked.  Takes `first`. */
static int load_omitted(pgstate_client *c, pgs_call k, int64_t deadline, pgstate_record_list *first,
                        pgstate_record_list **out) {
    size_t n = first->count, ntodo = 0;
    load_scratch s;
    if (scratch_init(&s, n) != 0 || keep_round(&s, first) != 0) {
        pgstate_record_list_free(first);
        scratch_free(&s);
        return pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory loading the OMITTED ids again");
    }
    for (size_t i = 0; i < n; i++) {
        s.answer[i] = &first->entries[i];
        if (first->entries[i].presence == PGSTATE_OMITTED) s.todo[ntodo++] = i;
    }
    const char *const *asked = k.ids;
    const size_t *asked_lens = k.id_lens;
    int rc = PGSTATE_OK;
    while (ntodo > 0 && rc == PGSTATE_OK) {
        for (size_t j = 0; j < ntodo; j++) {
            s.ids[j] = asked[s.todo[j]];
            s.lens[j] = asked_lens != NULL ? asked_lens[s.todo[j]] : strlen(asked[s.todo[j]]);
        }
        k.ids = s.ids;
        k.id_lens = s.lens;
        k.count = ntodo;
        pgstate_record_list *round;
        rc = load_round(c, &k, deadline, &round);
        if (round == NULL) break;
        if (keep_round(&s, round) != 0) {
            pgstate_record_list_free(round);
            rc = pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory loading the OMITTED ids again");
            break;
        }
        size_t left = 0;
        for (size_t j = 0; j < ntodo; j++) {
            if (round->entries[j].presence == PGSTATE_OMITTED) s.todo[left++] = s.todo[j];
            else s.answer[s.todo[j]] = &round->entries[j];
        }
        ntodo = left;
    }
    if (rc == PGSTATE_OK) {
        for (size_t i = 0; i < n; i++) {
            const pgstate_loaded *a = s.answer[i];
            s.src[i].id = a->persistence_id;
            s.src[i].id_len = a->persistence_id_len;
            s.src[i].presence = a->presence;
            s.src[i].revision = a->record ? a->record->revision : 0;
            s.src[i].updated_at_us = a->record ? a->record->updated_at_us : 0;
            s.src[i].state = a->record ? a->record->state : NULL;
            s.src[i].state_len = a->record ? a->record->state_len : 0;
        }
        *out = record_list_of(s.src, n);
        if (*out == NULL) rc = pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory merging the BULK_LOAD answers");
    }
    scratch_free(&s);
    return rc;
}

int pgstate_bulk_load(pgstate_client *c, const char *const *ids, const size_t *id_lens, size_t count,
                      pgstate_record_list **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    int64_t deadline = pgs_deadline_after(c->timeout_ms); /* one for every round */
    pgs_call k = bulk_load_call(c, ids, id_lens, count);
    pgstate_record_list *list;
    int rc = load_round(c, &k, deadline, &list);
    if (list == NULL) return rc;
    if (list->omitted > 0) {
        pgstate_record_list *merged = NULL;
        rc = load_omitted(c, k, deadline, list, &merged);
        if (rc != PGSTATE_OK) return rc;
        list = merged;
    }
    if (out) *out = list;
    else pgstate_record_list_free(list);
    return PGSTATE_OK;
}

int pgstate_bulk_write(pgstate_client *c, const pgstate_item *items, size_t count, pgstate_outcome_list **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    pgs_call k = items_call(c, PGS_OP_BULK_WRITE, items, count);
    pgs_pending *p = pgs_roundtrip(c, &k, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return c->status;
    if (out && p->pub.kind == PGSTATE_REPLY_OUTCOMES) {
        *out = p->pub.outcomes;
        p->pub.outcomes = NULL;
    }
    return done(p);
}

int pgstate_transact(pgstate_client *c, const pgstate_item *items, size_t count, pgstate_outcome_list **committed,
                     pgstate_conflict_list **conflicts) {
    if (committed) *committed = NULL;
    if (conflicts) *conflicts = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    pgs_call k = items_call(c, PGS_OP_TRANSACT, items, count);
    pgs_pending *p = pgs_roundtrip(c, &k, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return c->status;
    if (committed && p->pub.kind == PGSTATE_REPLY_COMMITTED) {
        *committed = p->pub.outcomes;
        p->pub.outcomes = NULL;
    }
    if (conflicts && p->pub.kind == PGSTATE_REPLY_TRANSACTION_CONFLICT) {
        *conflicts = p->pub.conflicts;
        p->pub.conflicts = NULL;
    }
    return done(p);
}

int pgstate_list(pgstate_client *c, const char *prefix, size_t prefix_len, const char *after, size_t after_len,
                 uint32_t limit, pgstate_page **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    pgs_call k = list_call(c, prefix, prefix_len, after, after_len, limit);
    pgs_pending *p = pgs_roundtrip(c, &k, pgs_deadline_after(c->timeout_ms));
    if (p == NULL) return c->status;
    if (out && p->pub.kind == PGSTATE_REPLY_PAGE) {
        *out = p->pub.page;
        p->pub.page = NULL;
    }
    return done(p);
}

/* ------------------------------------------------------------------------- */
/* Pipelining                                                                 */
/* ------------------------------------------------------------------------- */

uint32_t pgstate_send_upsert_ttl(pgstate_client *c, const char *id, size_t id_len, uint64_t expected_revision,
                                 const void *state, size_t state_len, uint32_t ttl_seconds) {
    if (c == NULL) return 0;
    pgs_call k = upsert_ttl_call(c, id, id_len, expected_revision, state, state_len, ttl_seconds);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_bulk_load(pgstate_client *c, const char *const *ids, const size_t *id_lens, size_t count) {
    if (c == NULL) return 0;
    pgs_call k = bulk_load_call(c, ids, id_lens, count);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_bulk_write(pgstate_client *c, const pgstate_item *items, size_t count) {
    if (c == NULL) return 0;
    pgs_call k = items_call(c, PGS_OP_BULK_WRITE, items, count);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_transact(pgstate_client *c, const pgstate_item *items, size_t count) {
    if (c == NULL) return 0;
    pgs_call k = items_call(c, PGS_OP_TRANSACT, items, count);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_list(pgstate_client *c, const char *prefix, size_t prefix_len, const char *after,
                           size_t after_len, uint32_t limit) {
    if (c == NULL) return 0;
    pgs_call k = list_call(c, prefix, prefix_len, after, after_len, limit);
    return pgs_send_call(c, &k);
}
