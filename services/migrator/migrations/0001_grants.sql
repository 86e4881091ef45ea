-- Execution grants: a schedule may run only while its grant is neither
-- revoked nor expired. The schedule's owner writes these rows; the worker
-- only reads them.
CREATE TABLE grants (
    schedule_id    text PRIMARY KEY CHECK (schedule_id <> ''),
    granted_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    revoked_reason text NOT NULL DEFAULT ''
);
