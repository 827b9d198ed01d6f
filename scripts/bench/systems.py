"""The systems `make bench` compares, as bench.py runs them and report.py names them."""

from __future__ import annotations

SYSTEMS = ["direct", "direct-ext", "pgbouncer", "pgstated-d1", "pgstated-d16"]
BASELINE_SYSTEMS = ["pgstated-baseline-d1", "pgstated-baseline-d16"]  # only with --baseline-socket
LABELS = {
    "direct": "direct -M prepared",
    "direct-ext": "direct -M extended",
    "pgbouncer": "pgbouncer -M extended",
    "pgstated-d1": "pgstated depth 1",
    "pgstated-d16": "pgstated depth 16",
    "pgstated-baseline-d1": "pgstated-baseline depth 1",
    "pgstated-baseline-d16": "pgstated-baseline depth 16",
}
# The pgstate-bench rows: which daemon serves them ("pgstated" or "baseline") and at which depth.
PGSTATED_ROWS = {
    "pgstated-d1": ("pgstated", 1),
    "pgstated-d16": ("pgstated", 16),
    "pgstated-baseline-d1": ("baseline", 1),
    "pgstated-baseline-d16": ("baseline", 16),
}
