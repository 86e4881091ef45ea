// Package activities implements the scheduled-run workflow's activities
// over a store (grants, runs) and the app's API. Failures are classified:
// database errors are retryable (the workflow's retry policy rides out an
// outage), API answers that retrying cannot change are terminal.
package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/appapi"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/store"
	wf "github.com/ferry-ci/ferry/services/scheduler-worker/internal/workflow"
)

// Store is what the activities need from PostgreSQL.
type Store interface {
	Grant(ctx context.Context, scheduleID string) (store.Grant, error)
	CreateRun(ctx context.Context, r store.Run) (store.Run, error)
	FinishRun(ctx context.Context, key string, status store.Status, reason string) (store.Run, error)
}

// App starts graph runs.
type App interface {
	StartGraphRun(ctx context.Context, r appapi.Request) (appapi.Response, error)
}

var (
	_ Store = (*store.Store)(nil)
	_ App   = (*appapi.Client)(nil)
)

// Registry is where activities are registered (a worker.Worker).
type Registry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Activities holds the dependencies.
type Activities struct {
	store     Store
	app       App
	now       func() time.Time
	heartbeat time.Duration
}

// New returns the activities over s and app.
func New(s Store, app App) *Activities {
	return &Activities{store: s, app: app, now: time.Now, heartbeat: 5 * time.Second}
}

// Register registers every activity under the names the workflow uses.
func (a *Activities) Register(r Registry) {
	r.RegisterActivityWithOptions(a.ValidateGrant, activity.RegisterOptions{Name: wf.ValidateGrantName})
	r.RegisterActivityWithOptions(a.CreateRun, activity.RegisterOptions{Name: wf.CreateRunName})
	r.RegisterActivityWithOptions(a.ExecuteGraph, activity.RegisterOptions{Name: wf.ExecuteGraphName})
	r.RegisterActivityWithOptions(a.UpdateRun, activity.RegisterOptions{Name: wf.UpdateRunName})
}

// ValidateGrant allows the run when scheduleID has a grant that is neither
// revoked nor expired now.
func (a *Activities) ValidateGrant(ctx context.Context, scheduleID string) (wf.GrantDecision, error) {
	g, err := a.store.Grant(ctx, scheduleID)
	if errors.Is(err, store.ErrNoGrant) {
		return wf.GrantDecision{Reason: "no grant for schedule " + scheduleID}, nil
	}
	if err != nil {
		return wf.GrantDecision{}, err
	}
	now := a.now()
	if g.RevokedAt != nil && !g.RevokedAt.After(now) {
		reason := "revoked at " + g.RevokedAt.UTC().Format(time.RFC3339)
		if g.RevokedReason != "" {
			reason += ": " + g.RevokedReason
		}
		return wf.GrantDecision{Reason: reason}, nil
	}
	if g.ExpiresAt != nil && !g.ExpiresAt.After(now) {
		return wf.GrantDecision{Reason: "expired at " + g.ExpiresAt.UTC().Format(time.RFC3339)}, nil
	}
	return wf.GrantDecision{Allowed: true}, nil
}

// CreateRun writes the slot's run as running, or returns the run already
// written for it.
func (a *Activities) CreateRun(ctx context.Context, s wf.Slot) (wf.RunState, error) {
	r, err := a.store.CreateRun(ctx, store.Run{
		Key: s.Key, ScheduleID: s.ScheduleID, ScheduledAt: s.ScheduledAt, GraphID: s.GraphID,
		WorkflowID: s.WorkflowID, WorkflowRunID: s.WorkflowRunID,
	})
	if err != nil {
		return wf.RunState{}, err
	}
	return wf.RunState{Status: wf.Status(r.Status), Reason: r.Reason}, nil
}

// ExecuteGraph asks the app to run the slot's graph, heartbeating while the
// call lasts so a dead worker is noticed before the start-to-close timeout.
func (a *Activities) ExecuteGraph(ctx context.Context, s wf.Slot) (wf.GraphRun, error) {
	stop := a.heartbeatWhile(ctx)
	defer stop()
	resp, err := a.app.StartGraphRun(ctx, appapi.Request{
		IdempotencyKey: s.Key, ScheduleID: s.ScheduleID, ScheduledAt: s.ScheduledAt, GraphID: s.GraphID,
	})
	if err != nil {
		if !appapi.Retryable(err) {
			return wf.GraphRun{}, temporal.NewNonRetryableApplicationError(err.Error(), wf.TerminalAPIError, nil)
		}
		return wf.GraphRun{}, temporal.NewApplicationError(err.Error(), "RetryableAPIError")
	}
	return wf.GraphRun{ID: resp.RunID, StatusCode: resp.StatusCode}, nil
}

func (a *Activities) heartbeatWhile(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(a.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// UpdateRun records the run's final status. Finishing a final run changes
// nothing and returns it as stored.
func (a *Activities) UpdateRun(ctx context.Context, in wf.UpdateRunInput) (wf.RunState, error) {
	r, err := a.store.FinishRun(ctx, in.Key, store.Status(in.Status), in.Reason)
	if errors.Is(err, store.ErrNoRun) {
		return wf.RunState{}, temporal.NewNonRetryableApplicationError(err.Error(), "RunNotFound", nil)
	}
	if err != nil {
		return wf.RunState{}, err
	}
	return wf.RunState{Status: wf.Status(r.Status), Reason: r.Reason}, nil
}
