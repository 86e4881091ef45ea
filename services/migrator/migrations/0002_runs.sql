-- Scheduled graph runs, one row per schedule slot: the idempotency key is
-- derived from the schedule ID and the scheduled time, so a retried or reset
-- workflow finds the row it already wrote instead of adding a second one.
CREATE TABLE runs (
    idempotency_key text PRIMARY KEY CHECK (idempotency_key <> ''),
    schedule_id     text NOT NULL,
    scheduled_at    timestamptz,
    graph_id        text NOT NULL DEFAULT '',
    workflow_id     text NOT NULL,
    workflow_run_id text NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    reason          text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE INDEX runs_schedule_started ON runs (schedule_id, started_at DESC);
