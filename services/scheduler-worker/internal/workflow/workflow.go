// Package workflow is the scheduled-run workflow: a Temporal Schedule
// (owned elsewhere) starts it once per slot, and it runs
// validateGrant → createRun → executeGraph → updateRun.
//
// The slot's idempotency key is computed here, deterministically, from the
// TemporalScheduledById and TemporalScheduledStartTime search attributes the
// schedule sets (the workflow ID when they are missing), and passed to every
// activity, so every attempt, replay or reset of one slot uses one key.
package workflow

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/idempotency"
)

// Name is the workflow type a schedule's action names.
const Name = "ScheduledGraphRun"

// Activity names, registered by the activities package.
const (
	ValidateGrantName = "ValidateGrant"
	CreateRunName     = "CreateRun"
	ExecuteGraphName  = "ExecuteGraph"
	UpdateRunName     = "UpdateRun"
)

// TerminalAPIError is the application error type of an API answer that
// retrying cannot change (a 4xx other than 408, 409 and 429).
const TerminalAPIError = "TerminalAPIError"

// APIAttempts bounds ExecuteGraph's attempts before the run is failed.
const APIAttempts = 5

// Search attributes a Temporal Schedule sets on the workflows it starts.
var (
	ScheduledByID      = temporal.NewSearchAttributeKeyKeyword("TemporalScheduledById")
	ScheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
)

// Status is a run's state.
type Status string

// Run statuses.
const (
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Input is the schedule action's argument.
type Input struct {
	// GraphID names the graph the app runs.
	GraphID string `json:"graphId"`
	// ScheduleID stands in for TemporalScheduledById when the workflow is
	// started by hand (no search attributes); ignored otherwise.
	ScheduleID string `json:"scheduleId,omitempty"`
}

// Slot identifies one scheduled run.
type Slot struct {
	Key           string     `json:"key"`
	ScheduleID    string     `json:"scheduleId"`
	ScheduledAt   *time.Time `json:"scheduledAt,omitempty"`
	GraphID       string     `json:"graphId"`
	WorkflowID    string     `json:"workflowId"`
	WorkflowRunID string     `json:"workflowRunId"`
}

// GrantDecision is ValidateGrant's answer.
type GrantDecision struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"` // why not, when not allowed
}

// RunState is CreateRun's and UpdateRun's answer: the row as stored.
type RunState struct {
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// GraphRun is ExecuteGraph's answer.
type GraphRun struct {
	ID         string `json:"id,omitempty"` // the app's ID for the graph run, when it says
	StatusCode int    `json:"statusCode"`
}

// UpdateRunInput is UpdateRun's argument.
type UpdateRunInput struct {
	Key    string `json:"key"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Result is the workflow's result.
type Result struct {
	Key        string `json:"key"`
	Status     Status `json:"status"`
	Reason     string `json:"reason,omitempty"`
	GraphRunID string `json:"graphRunId,omitempty"`
}

// Retry policies. Database activities retry for as long as an outage can
// reasonably last; the app's API gets a bounded number of attempts, after
// which the run is recorded as failed.
var (
	dbOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
	apiOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        APIAttempts,
			NonRetryableErrorTypes: []string{TerminalAPIError},
		},
	}
)

// ScheduledGraphRun is the workflow. A denied grant ends it as skipped; an
// API that keeps failing ends it as failed (the workflow then fails too, so
// the schedule's recent actions show it); a slot that already has a final
// run ends it with that run's status and calls nothing.
func ScheduledGraphRun(ctx workflow.Context, in Input) (Result, error) {
	slot := SlotOf(ctx, in)
	log := workflow.GetLogger(ctx)
	dbCtx := workflow.WithActivityOptions(ctx, dbOptions)

	var grant GrantDecision
	if slot.ScheduleID == "" {
		grant = GrantDecision{Reason: "not started by a schedule and no scheduleId given"}
	} else if err := workflow.ExecuteActivity(dbCtx, ValidateGrantName, slot.ScheduleID).Get(ctx, &grant); err != nil {
		return Result{Key: slot.Key}, fmt.Errorf("validating grant: %w", err)
	}

	var created RunState
	if err := workflow.ExecuteActivity(dbCtx, CreateRunName, slot).Get(ctx, &created); err != nil {
		return Result{Key: slot.Key}, fmt.Errorf("creating run: %w", err)
	}
	if created.Status != Running {
		log.Info("slot already has a final run", "key", slot.Key, "status", created.Status)
		return Result{Key: slot.Key, Status: created.Status, Reason: created.Reason}, nil
	}

	if !grant.Allowed {
		return finish(dbCtx, slot.Key, Skipped, "grant denied: "+grant.Reason, "")
	}

	var run GraphRun
	apiCtx := workflow.WithActivityOptions(ctx, apiOptions)
	if err := workflow.ExecuteActivity(apiCtx, ExecuteGraphName, slot).Get(ctx, &run); err != nil {
		res, ferr := finish(dbCtx, slot.Key, Failed, reasonOf(err), "")
		if ferr != nil {
			return res, ferr
		}
		return res, temporal.NewNonRetryableApplicationError("graph run failed: "+res.Reason, "GraphRunFailed", nil)
	}
	return finish(dbCtx, slot.Key, Succeeded, "", run.ID)
}

func finish(ctx workflow.Context, key string, status Status, reason, graphRunID string) (Result, error) {
	var st RunState
	err := workflow.ExecuteActivity(ctx, UpdateRunName, UpdateRunInput{Key: key, Status: status, Reason: reason}).Get(ctx, &st)
	if err != nil {
		return Result{Key: key}, fmt.Errorf("updating run: %w", err)
	}
	return Result{Key: key, Status: st.Status, Reason: st.Reason, GraphRunID: graphRunID}, nil
}

// reasonOf is the last attempt's message, without the SDK's wrapping.
func reasonOf(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out: " + timeout.TimeoutType().String()
	}
	return err.Error()
}

// SlotOf names the slot this execution runs for.
func SlotOf(ctx workflow.Context, in Input) Slot {
	info := workflow.GetInfo(ctx)
	s := Slot{GraphID: in.GraphID, WorkflowID: info.WorkflowExecution.ID, WorkflowRunID: info.WorkflowExecution.RunID}
	sa := workflow.GetTypedSearchAttributes(ctx)
	id, okID := sa.GetKeyword(ScheduledByID)
	at, okAt := sa.GetTime(ScheduledStartTime)
	switch {
	case okID && okAt && id != "":
		at = at.UTC()
		s.ScheduleID, s.ScheduledAt, s.Key = id, &at, idempotency.Key(id, at)
	default:
		s.ScheduleID, s.Key = in.ScheduleID, idempotency.FromWorkflowID(info.WorkflowExecution.ID)
	}
	return s
}
