-- update: pgstated's UPDATE and its read-back SELECT, on a random key of this client's own slice
-- (k mod clients = client_id, as pgstate-bench's update). pgbench cannot track revisions, so the UPDATE is
-- unconditional (no "AND revision = $2"); :state is a constant 200-byte bytea given with -D.
\set k :client_id + :clients * random(0, :keys / :clients - 1)
UPDATE durable_state SET revision = revision + 1, state = :state, updated_at = clock_timestamp() WHERE namespace = '' AND persistence_id = 'bench-' || :k RETURNING revision, updated_at;
SELECT revision FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k;
