/*
 * accessors.c - libpgstate's read-only views of the handle (and its timeout
 * setter); see pgstate.h.  Every one accepts NULL.
 */
#include "client_internal.h"

int pgstate_status(const pgstate_client *c) {
    return c ? c->status : PGSTATE_ERR_INVALID_ARGUMENT;
}

int pgstate_outcome(const pgstate_client *c) {
    return c ? c->outcome : PGSTATE_ERR_INVALID_ARGUMENT;
}

const char *pgstate_errmsg(const pgstate_client *c) {
    return c ? c->errmsg : "no client handle (NULL)";
}

int pgstate_server_status(const pgstate_client *c) {
    return c ? c->server_status : 0;
}

void pgstate_set_timeout(pgstate_client *c, int timeout_ms) {
    if (c) c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int pgstate_is_connected(const pgstate_client *c) {
    return c != NULL && c->state == CS_READY;
}

const char *pgstate_server_version(const pgstate_client *c) {
    return c ? c->server_version : "";
}

uint32_t pgstate_max_state_bytes(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_state_bytes : 0;
}

uint32_t pgstate_max_id_bytes(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_id_bytes : 0;
}

uint32_t pgstate_max_in_flight(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_in_flight : 0;
}

uint32_t pgstate_max_frame_bytes(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_frame_bytes : 0;
}

uint32_t pgstate_capabilities(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.capabilities : 0;
}

uint32_t pgstate_max_batch_items(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_batch_items : 0;
}

uint32_t pgstate_max_batch_bytes(const pgstate_client *c) {
    return c && c->handshaken ? c->limits.max_batch_bytes : 0;
}

const char *pgstate_namespace(const pgstate_client *c) {
    return c && c->has_ns ? c->ns : NULL;
}

uint64_t pgstate_conflict_expected(const pgstate_client *c) {
    return c ? c->conflict_expected : 0;
}

uint64_t pgstate_conflict_actual(const pgstate_client *c) {
    return c ? c->conflict_actual : 0;
}
