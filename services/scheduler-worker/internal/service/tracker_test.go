package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

func TestTrackerCountsActivities(t *testing.T) {
	tr := &Tracker{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{tr}})
	release := make(chan struct{})
	entered := make(chan struct{})
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		close(entered)
		<-release
		return nil
	}, activity.RegisterOptions{Name: "Slow"})
	env.RegisterActivityWithOptions(func(ctx context.Context) error {
		return errors.New("boom")
	}, activity.RegisterOptions{Name: "Failing"})

	done := make(chan error, 1)
	go func() { _, err := env.ExecuteActivity("Slow"); done <- err }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the activity never started")
	}
	if got := tr.Counts(); got != (Counts{InFlight: 1}) {
		t.Fatalf("counts while running = %+v, want one in flight", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity("Failing"); err == nil {
		t.Fatal("the failing activity succeeded")
	}
	if got := tr.Counts(); got != (Counts{Completed: 1, Failed: 1}) {
		t.Fatalf("counts after = %+v, want one completed, one failed", got)
	}
}
