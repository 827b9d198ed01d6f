/*
 * systemd_probe_client.c - the C side of the systemd probe (deploy/tests/systemd_probe.sh).
 *
 * Compiled inside the test container against the installed libpgstate-dev:
 *     cc -o probe_client systemd_probe_client.c $(pkg-config --cflags --libs pgstate)
 * and run as a user in the group pgstate against the packaged pgstated on the library's default socket
 * (/run/pgstated/pgstated.sock): creates a record, loads it back, asks who the server took it for.
 * Prints one line; exit status 0 when all of that worked.
 */
#include <pgstate.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    /* Unique across runs: the database outlives the container, whose pids repeat from boot to boot. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char id[64];
    snprintf(id, sizeof id, "probe-c-%lld-%09ld-%ld", (long long)now.tv_sec, now.tv_nsec, (long)getpid());
    const char *state = "from c";

    pgstate_client *c = pgstate_connect(NULL, 20000);
    if (c == NULL || pgstate_status(c) != PGSTATE_OK) {
        printf("connect: %s\n", c ? pgstate_errmsg(c) : "out of memory");
        pgstate_free(c);
        return 1;
    }
    pgstate_record *created = NULL, *loaded = NULL;
    pgstate_identity *who = NULL;
    int rc = pgstate_upsert(c, id, strlen(id), 0, state, strlen(state), &created);
    if (rc != PGSTATE_OK) {
        printf("upsert: %s %s\n", pgstate_status_name(rc), pgstate_errmsg(c));
        pgstate_free(c);
        return 1;
    }
    rc = pgstate_load(c, id, strlen(id), &loaded);
    int ok = rc == PGSTATE_OK && loaded->revision == 1 && loaded->state_len == strlen(state) &&
             memcmp(loaded->state, state, strlen(state)) == 0;
    if (!ok) printf("load: %s\n", rc == PGSTATE_OK ? "a different record" : pgstate_errmsg(c));
    if (ok && pgstate_whoami(c, &who) != PGSTATE_OK) {
        printf("whoami: %s\n", pgstate_errmsg(c));
        ok = 0;
    }
    if (ok) {
        printf("libpgstate %s -> %s: upsert rev %llu, load back; served as uid %u (%s)\n",
               PGSTATE_VERSION_STRING, pgstate_server_version(c), (unsigned long long)created->revision,
               who->uid, who->user);
    }
    pgstate_identity_free(who);
    pgstate_record_free(loaded);
    pgstate_record_free(created);
    pgstate_free(c);
    return ok ? 0 : 1;
}
