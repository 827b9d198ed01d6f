-- Physical limit, update: 16 UPDATE + read-back pairs on random keys of this client's slice in one pipeline
-- (one Sync: one implicit transaction, one commit), what a perfect pipelining sidecar sends per round trip.
\set k1 :client_id + :clients * random(0, :keys / :clients - 1)
\set k2 :client_id + :clients * random(0, :keys / :clients - 1)
\set k3 :client_id + :clients * random(0, :keys / :clients - 1)
\set k4 :client_id + :clients * random(0, :keys / :clients - 1)
\set k5 :client_id + :clients * random(0, :keys / :clients - 1)
\set k6 :client_id + :clients * random(0, :keys / :clients - 1)
\set k7 :client_id + :clients * random(0, :keys / :clients - 1)
\set k8 :client_id + :clients * random(0, :keys / :clients - 1)
\set k9 :client_id + :clients * random(0, :keys / :clients - 1)
\set k10 :client_id + :clients * random(0, :keys / :clients - 1)
\set k11 :client_id + :clients * random(0, :keys / :clients - 1)
\set k12 :client_id + :clients * random(0, :keys / :clients - 1)
\set k13 :client_id + :clients * random(0, :keys / :clients - 1)
\set k14 :client_id + :clients * random(0, :keys / :clients - 1)
\set k15 :client_id + :clients * random(0, :keys / :clients - 1)
\set k16 :client_id + :clients * random(0, :keys / :clients - 1)
\startpipeline
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k1 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k1;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k2 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k2;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k3 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k3;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k4 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k4;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k5 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k5;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k6 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k6;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k7 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k7;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k8 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k8;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k9 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k9;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k10 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k10;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k11 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k11;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k12 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k12;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k13 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k13;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k14 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k14;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k15 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k15;
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k16 RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k16;
\endpipeline
