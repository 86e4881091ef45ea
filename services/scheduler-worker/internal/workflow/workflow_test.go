package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkwf "go.temporal.io/sdk/workflow"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/activities"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/idempotency"
	wf "github.com/ferry-ci/ferry/services/scheduler-worker/internal/workflow"
)

var slotTime = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// calls records what the fake activities were asked.
type calls struct {
	execute []wf.Slot
	created []wf.Slot
	updates []wf.UpdateRunInput
}

type scenario struct {
	grant   wf.GrantDecision
	created wf.RunState                                     // CreateRun's answer; default running
	execute func(n int) (wf.GraphRun, error)                // nth call, from 1
	update  func(in wf.UpdateRunInput) (wf.RunState, error) // default: echoes
}

func newEnv(t *testing.T, sc scenario, scheduled bool) (*testsuite.TestWorkflowEnvironment, *calls) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(wf.ScheduledGraphRun, sdkwf.RegisterOptions{Name: wf.Name})
	// The real activities register the names; the scenario stands in for
	// their dependencies.
	activities.New(nil, nil).Register(env)
	if scheduled {
		env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
			wf.ScheduledByID.ValueSet("nightly"),
			wf.ScheduledStartTime.ValueSet(slotTime),
		))
	}
	c := &calls{}
	env.OnActivity(wf.ValidateGrantName, mock.Anything, mock.Anything).Return(sc.grant, nil)
	created := sc.created
	if created.Status == "" {
		created.Status = wf.Running
	}
	env.OnActivity(wf.CreateRunName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, s wf.Slot) (wf.RunState, error) {
			c.created = append(c.created, s)
			return created, nil
		})
	env.OnActivity(wf.ExecuteGraphName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, s wf.Slot) (wf.GraphRun, error) {
			c.execute = append(c.execute, s)
			if sc.execute == nil {
				return wf.GraphRun{ID: "graph-run-1", StatusCode: 201}, nil
			}
			return sc.execute(len(c.execute))
		})
	env.OnActivity(wf.UpdateRunName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wf.UpdateRunInput) (wf.RunState, error) {
			c.updates = append(c.updates, in)
			if sc.update != nil {
				return sc.update(in)
			}
			return wf.RunState{Status: in.Status, Reason: in.Reason}, nil
		})
	return env, c
}

func TestScheduledGraphRun(t *testing.T) {
	wantKey := idempotency.Key("nightly", slotTime)
	retryable := func(int) (wf.GraphRun, error) {
		return wf.GraphRun{}, temporal.NewApplicationError("app API answered 503 Service Unavailable", "RetryableAPIError")
	}
	tests := []struct {
		name        string
		sc          scenario
		wantExec    int
		wantUpdate  *wf.UpdateRunInput
		wantStatus  wf.Status
		wantErrText string // workflow error, "" for none
	}{
		{
			name:       "success",
			sc:         scenario{grant: wf.GrantDecision{Allowed: true}},
			wantExec:   1,
			wantUpdate: &wf.UpdateRunInput{Key: wantKey, Status: wf.Succeeded},
			wantStatus: wf.Succeeded,
		},
		{
			name:       "grant denied is skipped with its reason",
			sc:         scenario{grant: wf.GrantDecision{Reason: "revoked at 2026-11-26T00:00:00Z: offboarded"}},
			wantExec:   0,
			wantUpdate: &wf.UpdateRunInput{Key: wantKey, Status: wf.Skipped, Reason: "grant denied: revoked at 2026-11-26T00:00:00Z: offboarded"},
			wantStatus: wf.Skipped,
		},
		{
			name:        "API retried with backoff, then the run failed",
			sc:          scenario{grant: wf.GrantDecision{Allowed: true}, execute: retryable},
			wantExec:    wf.APIAttempts,
			wantUpdate:  &wf.UpdateRunInput{Key: wantKey, Status: wf.Failed, Reason: "app API answered 503 Service Unavailable"},
			wantStatus:  wf.Failed,
			wantErrText: "graph run failed: app API answered 503 Service Unavailable",
		},
		{
			name: "API recovers on the third attempt",
			sc: scenario{grant: wf.GrantDecision{Allowed: true}, execute: func(n int) (wf.GraphRun, error) {
				if n < 3 {
					return retryable(n)
				}
				return wf.GraphRun{ID: "graph-run-3", StatusCode: 201}, nil
			}},
			wantExec:   3,
			wantUpdate: &wf.UpdateRunInput{Key: wantKey, Status: wf.Succeeded},
			wantStatus: wf.Succeeded,
		},
		{
			name: "terminal API answer is not retried",
			sc: scenario{grant: wf.GrantDecision{Allowed: true}, execute: func(int) (wf.GraphRun, error) {
				return wf.GraphRun{}, temporal.NewNonRetryableApplicationError("app API answered 403 Forbidden", wf.TerminalAPIError, nil)
			}},
			wantExec:    1,
			wantUpdate:  &wf.UpdateRunInput{Key: wantKey, Status: wf.Failed, Reason: "app API answered 403 Forbidden"},
			wantStatus:  wf.Failed,
			wantErrText: "graph run failed: app API answered 403 Forbidden",
		},
		{
			name:       "slot already finished: nothing is called again",
			sc:         scenario{grant: wf.GrantDecision{Allowed: true}, created: wf.RunState{Status: wf.Succeeded}},
			wantExec:   0,
			wantStatus: wf.Succeeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, c := newEnv(t, tt.sc, true)
			env.ExecuteWorkflow(wf.Name, wf.Input{GraphID: "g-1"})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if tt.wantErrText == "" && err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			if tt.wantErrText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrText)) {
				t.Fatalf("workflow error = %v, want one containing %q", err, tt.wantErrText)
			}
			if len(c.execute) != tt.wantExec {
				t.Fatalf("ExecuteGraph called %d times, want %d", len(c.execute), tt.wantExec)
			}
			for _, s := range c.execute {
				if s.Key != wantKey || s.ScheduleID != "nightly" || s.GraphID != "g-1" || s.ScheduledAt == nil || !s.ScheduledAt.Equal(slotTime) {
					t.Fatalf("ExecuteGraph slot = %+v, want key %s for nightly at %s", s, wantKey, slotTime)
				}
			}
			if len(c.created) != 1 || c.created[0].Key != wantKey {
				t.Fatalf("CreateRun calls = %+v, want one for %s", c.created, wantKey)
			}
			switch {
			case tt.wantUpdate == nil && len(c.updates) != 0:
				t.Fatalf("UpdateRun called with %+v, want no call", c.updates)
			case tt.wantUpdate != nil && (len(c.updates) != 1 || c.updates[0] != *tt.wantUpdate):
				t.Fatalf("UpdateRun calls = %+v, want one %+v", c.updates, *tt.wantUpdate)
			}
			if err == nil {
				var res wf.Result
				if err := env.GetWorkflowResult(&res); err != nil {
					t.Fatal(err)
				}
				if res.Status != tt.wantStatus || res.Key != wantKey {
					t.Fatalf("result = %+v, want status %s, key %s", res, tt.wantStatus, wantKey)
				}
			}
		})
	}
}

func TestManualStartFallsBackToTheWorkflowID(t *testing.T) {
	env, c := newEnv(t, scenario{grant: wf.GrantDecision{Allowed: true}}, false)
	env.ExecuteWorkflow(wf.Name, wf.Input{GraphID: "g-1", ScheduleID: "nightly"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	// The test environment's workflow ID.
	want := idempotency.FromWorkflowID(c.created[0].WorkflowID)
	if len(c.execute) != 1 || c.execute[0].Key != want || c.execute[0].ScheduledAt != nil || c.execute[0].ScheduleID != "nightly" {
		t.Fatalf("ExecuteGraph slots = %+v, want one keyed %s", c.execute, want)
	}
}

func TestManualStartWithoutScheduleIsSkipped(t *testing.T) {
	env, c := newEnv(t, scenario{grant: wf.GrantDecision{Allowed: true}}, false)
	env.ExecuteWorkflow(wf.Name, wf.Input{GraphID: "g-1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(c.execute) != 0 || len(c.updates) != 1 || c.updates[0].Status != wf.Skipped {
		t.Fatalf("execute %d, updates %+v; want no call and one skipped update", len(c.execute), c.updates)
	}
}

func TestDatabaseOutageDuringUpdateIsRetried(t *testing.T) {
	n := 0
	sc := scenario{grant: wf.GrantDecision{Allowed: true}, update: func(in wf.UpdateRunInput) (wf.RunState, error) {
		n++
		if n < 4 {
			return wf.RunState{}, errors.New("pinging postgres: connection refused")
		}
		return wf.RunState{Status: in.Status}, nil
	}}
	env, _ := newEnv(t, sc, true)
	env.ExecuteWorkflow(wf.Name, wf.Input{GraphID: "g-1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error after a passing outage: %v", err)
	}
	if n != 4 {
		t.Fatalf("UpdateRun attempts = %d, want 4", n)
	}
}
