/*
 * operator.c - the operators' calls of the public API (pgstate_health,
 * pgstate_stats, pgstate_clients, pgstate_pause, pgstate_resume and their
 * pgstate_send_* forms) and what they return: the STATS entries and CLIENTS
 * rows copied out of their frames, each list in one allocation like a record.
 * The requests go through client.c's machinery like every other call; what
 * an answer means is decided in outcome.c.
 */
#include "client_internal.h"
#include "operator_codec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Results                                                                    */
/* ------------------------------------------------------------------------- */

/* Copies n bytes to *at and a NUL after them; returns the copy and moves *at past it. */
static const char *put_text(char **at, const char *src, size_t n) {
    char *dst = *at;
    if (n > 0) memcpy(dst, src, n);
    dst[n] = '\0';
    *at = dst + n + 1;
    return dst;
}

/* One block: the list struct, then `count` elements of elem_size (aligned for any element), then text_bytes. */
static void *list_block(size_t head, size_t count, size_t elem_size, size_t text_bytes, void **elems, char **text) {
    size_t elems_at = (head + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (count > (SIZE_MAX - elems_at - text_bytes) / elem_size) return NULL;
    char *block = malloc(elems_at + count * elem_size + text_bytes);
    if (block == NULL) return NULL;
    *elems = block + elems_at;
    *text = block + elems_at + count * elem_size;
    return block;
}

pgstate_stats_list *pgs_stats_list_new(const pgs_msg *m) {
    pgs_cursor it;
    pgs_stat_entry e;
    size_t text = 0;
    for (pgs_items_begin(&it, m); pgs_stats_next(&it, &e);) text += e.name_len + 1 + e.labels_len + 1;
    void *elems;
    char *at;
    pgstate_stats_list *list = list_block(sizeof *list, m->count, sizeof(pgstate_stat), text, &elems, &at);
    if (list == NULL) return NULL;
    pgstate_stat *out = elems;
    size_t n = 0;
    for (pgs_items_begin(&it, m); n < m->count && pgs_stats_next(&it, &e); n++) {
        out[n].name = put_text(&at, e.name, e.name_len);
        out[n].name_len = e.name_len;
        out[n].labels = put_text(&at, e.labels, e.labels_len);
        out[n].labels_len = e.labels_len;
        out[n].value = e.value;
    }
    list->count = n;
    list->entries = out;
    return list;
}

void pgstate_stats_list_free(pgstate_stats_list *list) {
    free(list);
}

/* The rows of `pages` pages (one list each), or of one CLIENTS_OK m, as one list. */
static pgstate_client_list *client_list_of(pgstate_client_list *const *pages, size_t npages, const pgs_msg *m) {
    size_t count = 0, text = 0;
    pgs_cursor it;
    pgs_client_row w;
    if (m != NULL) {
        for (pgs_items_begin(&it, m); pgs_clients_next(&it, &w); count++) {
            text += w.user_len + 1 + w.ns_len + 1 + w.client_name_len + 1;
        }
    }
    for (size_t i = 0; i < npages; i++) {
        for (size_t k = 0; k < pages[i]->count; k++) {
            const pgstate_client_row *r = &pages[i]->rows[k];
            text += r->user_len + 1 + r->ns_len + 1 + r->client_name_len + 1;
        }
        count += pages[i]->count;
    }
    void *elems;
    char *at;
    pgstate_client_list *list = list_block(sizeof *list, count, sizeof(pgstate_client_row), text, &elems, &at);
    if (list == NULL) return NULL;
    pgstate_client_row *out = elems;
    size_t n = 0;
    if (m != NULL) {
        for (pgs_items_begin(&it, m); n < count && pgs_clients_next(&it, &w); n++) {
            pgstate_client_row *r = &out[n];
            r->connection_id = w.connection_id;
            r->uid = w.uid;
            r->pid = w.pid;
            r->user = put_text(&at, w.user, w.user_len);
            r->user_len = w.user_len;
            r->ns = put_text(&at, w.ns, w.ns_len);
            r->ns_len = w.ns_len;
            r->client_name = put_text(&at, w.client_name, w.client_name_len);
            r->client_name_len = w.client_name_len;
            r->state = w.state;
            r->connected_ms = w.connected_ms;
            r->requests = w.requests;
            r->in_flight = w.in_flight;
        }
    }
    for (size_t i = 0; i < npages; i++) {
        for (size_t k = 0; k < pages[i]->count; k++, n++) {
            out[n] = pages[i]->rows[k];
            out[n].user = put_text(&at, out[n].user, out[n].user_len);
            out[n].ns = put_text(&at, out[n].ns, out[n].ns_len);
            out[n].client_name = put_text(&at, out[n].client_name, out[n].client_name_len);
        }
    }
    list->count = n;
    list->rows = out;
    list->more = m != NULL ? m->more : 0;
    return list;
}

pgstate_client_list *pgs_client_list_new(const pgs_msg *m) {
    return client_list_of(NULL, 0, m);
}

void pgstate_client_list_free(pgstate_client_list *list) {
    free(list);
}

const char *pgstate_client_state_name(int state) {
    switch (state) {
    case PGSTATE_CONN_HANDSHAKE: return "HANDSHAKE";
    case PGSTATE_CONN_READY: return "READY";
    case PGSTATE_CONN_DRAINING: return "DRAINING";
    default: return "UNKNOWN";
    }
}

/* ------------------------------------------------------------------------- */
/* Blocking calls                                                             */
/* ------------------------------------------------------------------------- */

/* One blocking operator's request: the answered request (free it), or NULL with the error on c. */
static pgs_pending *blocking(pgstate_client *c, const pgs_call *k) {
    pgs_begin_call(c);
    return pgs_roundtrip(c, k, pgs_deadline_after(c->timeout_ms));
}

/* The status of an answered request, which is then freed. */
static int done(pgs_pending *p) {
    int rc = p->pub.status;
    pgs_pending_free(p);
    return rc;
}

int pgstate_health(pgstate_client *c, pgstate_health_info *out) {
    if (out) memset(out, 0, sizeof *out);
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_call k = pgs_bare_call(PGS_OP_HEALTH);
    pgs_pending *p = blocking(c, &k);
    if (p == NULL) return c->status;
    if (out && p->pub.kind == PGSTATE_REPLY_HEALTH) *out = p->pub.health;
    return done(p);
}

int pgstate_stats(pgstate_client *c, pgstate_stats_list **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_call k = pgs_bare_call(PGS_OP_STATS);
    pgs_pending *p = blocking(c, &k);
    if (p == NULL) return c->status;
    if (out && p->pub.kind == PGSTATE_REPLY_STATS) {
        *out = p->pub.stats;
        p->pub.stats = NULL;
    }
    return done(p);
}

static void free_pages(pgstate_client_list **pages, size_t n) {
    for (size_t i = 0; i < n; i++) pgstate_client_list_free(pages[i]);
    free(pages);
}

int pgstate_clients(pgstate_client *c, pgstate_client_list **out) {
    if (out) *out = NULL;
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_begin_call(c);
    int64_t deadline = pgs_deadline_after(c->timeout_ms); /* one for every page */
    pgstate_client_list **pages = NULL;
    size_t npages = 0, cap = 0;
    pgs_call k = pgs_bare_call(PGS_OP_CLIENTS); /* after_connection 0: from the first */
    for (;;) {
        if (npages == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            pgstate_client_list **np = realloc(pages, ncap * sizeof *np);
            if (np == NULL) {
                free_pages(pages, npages);
                return pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory listing the clients");
            }
            pages = np;
            cap = ncap;
        }
        pgs_pending *p = pgs_roundtrip(c, &k, deadline);
        if (p == NULL || p->pub.kind != PGSTATE_REPLY_CLIENTS) {
            free_pages(pages, npages);
            return p == NULL ? c->status : done(p);
        }
        pgstate_client_list *page = p->pub.clients;
        p->pub.clients = NULL;
        pgs_pending_free(p);
        pages[npages++] = page;
        /* The classifier let a page with more 1 through only with rows, each greater than the last page's, so
           this ends. */
        if (!page->more || page->count == 0) break;
        k.after_connection = page->rows[page->count - 1].connection_id;
    }
    pgstate_client_list *all = npages == 1 ? pages[0] : client_list_of(pages, npages, NULL);
    if (all == NULL) {
        free_pages(pages, npages);
        return pgs_set_err(c, PGSTATE_ERR_NOMEM, "out of memory listing the clients");
    }
    if (npages == 1) npages = 0; /* pages[0] is the result */
    free_pages(pages, npages);
    all->more = 0;
    if (out) *out = all;
    else pgstate_client_list_free(all);
    return PGSTATE_OK;
}

static int bare(pgstate_client *c, pgs_op op, uint32_t timeout_ms) {
    if (c == NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    pgs_call k = pgs_bare_call(op);
    k.timeout_ms = timeout_ms;
    pgs_pending *p = blocking(c, &k);
    return p == NULL ? c->status : done(p);
}

int pgstate_pause(pgstate_client *c, uint32_t timeout_ms) {
    return bare(c, PGS_OP_PAUSE, timeout_ms);
}

int pgstate_resume(pgstate_client *c) {
    return bare(c, PGS_OP_RESUME, 0);
}

/* ------------------------------------------------------------------------- */
/* Pipelining                                                                 */
/* ------------------------------------------------------------------------- */

uint32_t pgstate_send_health(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_HEALTH);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_stats(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_STATS);
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_clients(pgstate_client *c, uint64_t after_connection) {
    pgs_call k = pgs_bare_call(PGS_OP_CLIENTS);
    k.after_connection = after_connection;
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_pause(pgstate_client *c, uint32_t timeout_ms) {
    pgs_call k = pgs_bare_call(PGS_OP_PAUSE);
    k.timeout_ms = timeout_ms;
    return pgs_send_call(c, &k);
}

uint32_t pgstate_send_resume(pgstate_client *c) {
    pgs_call k = pgs_bare_call(PGS_OP_RESUME);
    return pgs_send_call(c, &k);
}
