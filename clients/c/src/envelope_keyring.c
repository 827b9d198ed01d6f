/*
 * envelope_keyring.c - the key ring: key id -> key, one active for writing.
 * A ring keeps each key's HKDF pseudorandom key (its extract step) rather
 * than the key: a subkey is then one HMAC per record.
 */
#include "envelope_internal.h"

#include <stdlib.h>
#include <string.h>

pgstate_envelope_keyring *pgstate_envelope_keyring_new(void) {
    return calloc(1, sizeof(pgstate_envelope_keyring));
}

const pgse_key *pgse_ring_find(const pgstate_envelope_keyring *ring, uint32_t id) {
    if (ring == NULL || id == 0) return NULL;
    for (size_t i = 0; i < ring->count; i++) {
        if (ring->keys[i].id == id) return &ring->keys[i];
    }
    return NULL;
}

int pgstate_envelope_keyring_add(pgstate_envelope_keyring *ring, uint32_t key_id,
                                 const uint8_t key[PGSTATE_ENVELOPE_KEY_BYTES], int active) {
    if (ring == NULL || key == NULL || key_id == 0) return PGSTATE_ERR_INVALID_ARGUMENT;
    if (pgse_ring_find(ring, key_id) != NULL) return PGSTATE_ERR_INVALID_ARGUMENT;
    if (ring->count == ring->cap) {
        size_t cap = ring->cap ? ring->cap * 2 : 4;
        pgse_key *keys = malloc(cap * sizeof *keys);
        if (keys == NULL) return PGSTATE_ERR_NOMEM;
        if (ring->count > 0) memcpy(keys, ring->keys, ring->count * sizeof *keys);
        pgse_wipe(ring->keys, ring->count * sizeof *keys); /* not realloc: the old block would keep the keys */
        free(ring->keys);
        ring->keys = keys;
        ring->cap = cap;
    }
    pgse_key *k = &ring->keys[ring->count];
    static const char salt[] = PGSE_HKDF_SALT;
    if (pgse_hkdf_extract((const uint8_t *)salt, sizeof salt - 1, key, PGSTATE_ENVELOPE_KEY_BYTES, k->prk) != 0) {
        pgse_wipe(k->prk, sizeof k->prk);
        return PGSTATE_ENVELOPE_ERR_UNAVAILABLE_MODE;
    }
    k->id = key_id;
    ring->count++;
    if (active) ring->active = key_id;
    return PGSTATE_OK;
}

uint32_t pgstate_envelope_keyring_active(const pgstate_envelope_keyring *ring) {
    return ring ? ring->active : 0;
}

size_t pgstate_envelope_keyring_count(const pgstate_envelope_keyring *ring) {
    return ring ? ring->count : 0;
}

void pgse_ring_clear(pgstate_envelope_keyring *ring) {
    if (ring == NULL) return;
    pgse_wipe(ring->keys, ring->cap * sizeof *ring->keys);
    free(ring->keys);
    memset(ring, 0, sizeof *ring);
}

int pgse_ring_copy(pgstate_envelope_keyring *dst, const pgstate_envelope_keyring *src) {
    memset(dst, 0, sizeof *dst);
    if (src == NULL || src->count == 0) {
        if (src != NULL) dst->active = src->active;
        return PGSTATE_OK;
    }
    dst->keys = malloc(src->count * sizeof *dst->keys);
    if (dst->keys == NULL) return PGSTATE_ERR_NOMEM;
    memcpy(dst->keys, src->keys, src->count * sizeof *dst->keys);
    dst->count = dst->cap = src->count;
    dst->active = src->active;
    return PGSTATE_OK;
}

void pgstate_envelope_keyring_free(pgstate_envelope_keyring *ring) {
    pgse_ring_clear(ring);
    free(ring);
}
