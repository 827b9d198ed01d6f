-- mixed, load part: LOAD of a random key of this client's own slice (k mod clients = client_id),
-- as pgstate-bench's mixed workload does.
\set k :client_id + :clients * random(0, :keys / :clients - 1)
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k;
