// Package store reads grants and writes runs in PostgreSQL (the schema of
// services/migrator). Every write is idempotent: a run is keyed by its slot's
// idempotency key, and finishing a run that is already final changes nothing.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Status is a run's state.
type Status string

// Run statuses, as the runs table's CHECK constraint allows.
const (
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Final reports whether s ends a run.
func (s Status) Final() bool { return s == Succeeded || s == Failed || s == Skipped }

// ErrNoGrant reports a schedule without a grant row.
var ErrNoGrant = errors.New("no grant")

// ErrNoRun reports a run key without a row.
var ErrNoRun = errors.New("no run")

// Grant is a schedule's permission to run.
type Grant struct {
	ScheduleID    string
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	RevokedReason string
}

// Run is one row of runs.
type Run struct {
	Key           string
	ScheduleID    string
	ScheduledAt   *time.Time
	GraphID       string
	WorkflowID    string
	WorkflowRunID string
	Status        Status
	Reason        string
	StartedAt     time.Time
	FinishedAt    *time.Time
}

// Store is a connection pool over the schema.
type Store struct{ pool *pgxpool.Pool }

// New wraps pool; the caller closes it.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging postgres: %w", err)
	}
	return nil
}

// Grant returns the grant of scheduleID, or ErrNoGrant.
func (s *Store) Grant(ctx context.Context, scheduleID string) (Grant, error) {
	g := Grant{ScheduleID: scheduleID}
	err := s.pool.QueryRow(ctx,
		`SELECT expires_at, revoked_at, revoked_reason FROM grants WHERE schedule_id = $1`, scheduleID,
	).Scan(&g.ExpiresAt, &g.RevokedAt, &g.RevokedReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return Grant{}, fmt.Errorf("reading grant %q: %w", scheduleID, ErrNoGrant)
	}
	if err != nil {
		return Grant{}, fmt.Errorf("reading grant %q: %w", scheduleID, err)
	}
	return g, nil
}

// CreateRun inserts r as running unless a row with its key exists, and
// returns the row as stored: the existing one wins, so a second call for the
// same slot returns the first call's run (possibly already final).
func (s *Store) CreateRun(ctx context.Context, r Run) (Run, error) {
	_, err := s.pool.Exec(ctx, `
INSERT INTO runs (idempotency_key, schedule_id, scheduled_at, graph_id, workflow_id, workflow_run_id, status)
VALUES ($1, $2, $3, $4, $5, $6, 'running')
ON CONFLICT (idempotency_key) DO NOTHING`,
		r.Key, r.ScheduleID, r.ScheduledAt, r.GraphID, r.WorkflowID, r.WorkflowRunID)
	if err != nil {
		return Run{}, fmt.Errorf("creating run %q: %w", r.Key, err)
	}
	return s.Run(ctx, r.Key)
}

// FinishRun sets a running run's final status, reason and finish time. A
// run that is already final is left as it is (a retried activity, or a
// replay); the stored row is returned either way.
func (s *Store) FinishRun(ctx context.Context, key string, status Status, reason string) (Run, error) {
	if !status.Final() {
		return Run{}, fmt.Errorf("finishing run %q: status %q is not final", key, status)
	}
	_, err := s.pool.Exec(ctx, `
UPDATE runs SET status = $2, reason = $3, finished_at = now()
WHERE idempotency_key = $1 AND status = 'running'`, key, string(status), reason)
	if err != nil {
		return Run{}, fmt.Errorf("finishing run %q: %w", key, err)
	}
	return s.Run(ctx, key)
}

// Run returns the run with key, or ErrNoRun.
func (s *Store) Run(ctx context.Context, key string) (Run, error) {
	var r Run
	var status string
	err := s.pool.QueryRow(ctx, `
SELECT idempotency_key, schedule_id, scheduled_at, graph_id, workflow_id, workflow_run_id, status, reason, started_at, finished_at
FROM runs WHERE idempotency_key = $1`, key).Scan(
		&r.Key, &r.ScheduleID, &r.ScheduledAt, &r.GraphID, &r.WorkflowID, &r.WorkflowRunID, &status, &r.Reason, &r.StartedAt, &r.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("reading run %q: %w", key, ErrNoRun)
	}
	if err != nil {
		return Run{}, fmt.Errorf("reading run %q: %w", key, err)
	}
	r.Status = Status(status)
	return r, nil
}
