-- Physical limit, load: 16 LOADs of random keys of this client's slice in one pipeline (one Sync:
-- one implicit transaction), what a perfect pipelining sidecar sends per round trip.
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
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k1;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k2;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k3;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k4;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k5;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k6;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k7;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k8;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k9;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k10;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k11;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k12;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k13;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k14;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k15;
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k16;
\endpipeline
