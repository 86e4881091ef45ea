package service

import (
	"context"
	"sync/atomic"

	"go.temporal.io/sdk/interceptor"
)

// Tracker counts activities as the worker runs them, for the drain log
// line: how many were in flight when shutdown began, and how they ended.
type Tracker struct {
	interceptor.WorkerInterceptorBase
	inFlight, completed, failed atomic.Int64
}

var _ interceptor.WorkerInterceptor = (*Tracker)(nil)

// Counts is a snapshot of the tracker.
type Counts struct {
	InFlight, Completed, Failed int64
}

// Counts returns the current counts.
func (t *Tracker) Counts() Counts {
	return Counts{InFlight: t.inFlight.Load(), Completed: t.completed.Load(), Failed: t.failed.Load()}
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (t *Tracker) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &trackedActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, t: t}
}

type trackedActivity struct {
	interceptor.ActivityInboundInterceptorBase
	t *Tracker
}

func (a *trackedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	a.t.inFlight.Add(1)
	defer a.t.inFlight.Add(-1)
	res, err := a.Next.ExecuteActivity(ctx, in)
	if err != nil {
		a.t.failed.Add(1)
	} else {
		a.t.completed.Add(1)
	}
	return res, err
}
