-- load: pgstated's LOAD statement on a uniformly random key of the whole key space (as pgstate-bench's load).
\set k random(0, :keys - 1)
SELECT revision, state, updated_at FROM durable_state WHERE namespace = '' AND persistence_id = 'bench-' || :k;
