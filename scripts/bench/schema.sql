-- make bench: :keys rows 'bench-0' .. 'bench-<keys-1>' (the ids of pgstate-bench's default --prefix) with revision 1
-- and a :state_size-byte state, loaded once before any run, into two tables of the FIRST schema (no namespace):
--   durable_state            pgstated's; pgstated migrates it in place when it starts (README, "The table"), so the
--                            bench never restates pgstated's current DDL and measures the table pgstated made;
--   durable_state_baseline   the same rows for an A/B baseline build, so that each build runs on a table of its own
--                            in the schema it was written for (a build of the current schema migrates it too).
-- bench.sh runs VACUUM ANALYZE and CHECKPOINT once the daemons have started (after the migration).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS durable_state, durable_state_baseline;
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
CREATE TABLE durable_state_baseline (LIKE durable_state INCLUDING ALL);
INSERT INTO durable_state_baseline SELECT * FROM durable_state;
