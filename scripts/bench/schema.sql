-- make bench: the table pgstated uses (its own DDL: README, "The table") and :keys rows 'bench-0' ..
-- 'bench-<keys-1>' (the ids of pgstate-bench's default --prefix) in the shared namespace '' (pgstated runs without
-- an access file), with revision 1 and a :state_size-byte state, loaded once before any run.
--
-- durable_state_baseline holds the same rows in the first schema (no namespace column) for an A/B baseline
-- build: each build runs on a table of its own, in the schema it was written for (a build of the current schema
-- migrates it in place at start-up). Sharing one table would let the later build's schema decide for both.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS durable_state, durable_state_baseline;
CREATE TABLE durable_state (
    namespace text NOT NULL DEFAULT '',
    persistence_id text NOT NULL,
    revision bigint NOT NULL,
    state bytea NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, persistence_id)
);
INSERT INTO durable_state (namespace, persistence_id, revision, state, updated_at)
SELECT '', 'bench-' || k, 1,
       decode(substr(repeat(md5(k::text), (:state_size * 2 + 31) / 32), 1, :state_size * 2), 'hex'),
       clock_timestamp()
FROM generate_series(0, :keys - 1) AS k;
CREATE TABLE durable_state_baseline (
    persistence_id text PRIMARY KEY,
    revision bigint NOT NULL,
    state bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
INSERT INTO durable_state_baseline SELECT persistence_id, revision, state, updated_at FROM durable_state;
VACUUM ANALYZE durable_state;
VACUUM ANALYZE durable_state_baseline;
CHECKPOINT;
