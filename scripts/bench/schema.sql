-- make bench: the table pgstated uses (its own DDL) and :keys rows 'bench-0' .. 'bench-<keys-1>' (the ids of
-- pgstate-bench's default --prefix) with revision 1 and a :state_size-byte state, loaded once before any run.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS durable_state;
CREATE TABLE durable_state (
    persistence_id text PRIMARY KEY,
    revision bigint NOT NULL,
    state bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
INSERT INTO durable_state (persistence_id, revision, state, updated_at)
SELECT 'bench-' || k, 1,
       decode(substr(repeat(md5(k::text), (:state_size * 2 + 31) / 32), 1, :state_size * 2), 'hex'),
       clock_timestamp()
FROM generate_series(0, :keys - 1) AS k;
VACUUM ANALYZE durable_state;
CHECKPOINT;
