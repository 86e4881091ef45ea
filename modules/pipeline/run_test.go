package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) states() []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []State
	for _, e := range l.events {
		s = append(s, e.State)
	}
	return s
}

func newTestRecorder(log *eventLog, attempts int) (*Recorder, *[]time.Duration) {
	r := NewRecorder("svc", log.observe, Backoff{Attempts: attempts, Initial: time.Second, Max: 3 * time.Second})
	var waits []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return r, &waits
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		errs       []error // returned by successive attempts; then success
		attempts   int
		wantErr    bool
		wantClass  Class
		wantState  State
		wantCalls  int
		wantWaits  []time.Duration
		wantStates []State
	}{
		{
			name: "success first time", attempts: 3, wantState: StateSucceeded, wantCalls: 1,
			wantStates: []State{StateStarted, StateSucceeded},
		},
		{
			name: "retryable then success", errs: []error{MarkRetryable(errors.New("503")), MarkRetryable(errors.New("reset"))},
			attempts: 3, wantState: StateSucceeded, wantCalls: 3, wantWaits: []time.Duration{time.Second, 2 * time.Second},
			wantStates: []State{StateStarted, StateRetrying, StateRetrying, StateSucceeded},
		},
		{
			name: "retryable exhausted", errs: []error{MarkRetryable(errors.New("a")), MarkRetryable(errors.New("b")), MarkRetryable(errors.New("c"))},
			attempts: 2, wantErr: true, wantClass: Retryable, wantState: StateFailed, wantCalls: 2, wantWaits: []time.Duration{time.Second},
			wantStates: []State{StateStarted, StateRetrying, StateFailed},
		},
		{
			name: "terminal is never retried", errs: []error{errors.New("bad service.yaml")},
			attempts: 5, wantErr: true, wantClass: Terminal, wantState: StateFailed, wantCalls: 1,
			wantStates: []State{StateStarted, StateFailed},
		},
		{
			name: "skipped is not an error", errs: []error{Skip("fingerprint already pushed")},
			attempts: 3, wantState: StateSkipped, wantCalls: 1,
			wantStates: []State{StateStarted, StateSkipped},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log eventLog
			r, waits := newTestRecorder(&log, tc.attempts)
			calls := 0
			out, err := Run(context.Background(), r, StepPush, func(context.Context) (string, error) {
				calls++
				if calls <= len(tc.errs) {
					return "", tc.errs[calls-1]
				}
				return "digest", nil
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				var se *StepError
				if !errors.As(err, &se) || se.Class != tc.wantClass || se.Step != StepPush || se.Service != "svc" {
					t.Fatalf("err = %#v, want a %v StepError of push/svc", err, tc.wantClass)
				}
				if out != "" {
					t.Errorf("out = %q on failure", out)
				}
			}
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if !reflect.DeepEqual(*waits, tc.wantWaits) {
				t.Errorf("waits = %v, want %v", *waits, tc.wantWaits)
			}
			if got := log.states(); !reflect.DeepEqual(got, tc.wantStates) {
				t.Errorf("event states = %v, want %v", got, tc.wantStates)
			}
			res := r.Results()
			if len(res) != 1 || res[0].State != tc.wantState || res[0].Attempts != tc.wantCalls {
				t.Errorf("results = %+v, want one %s after %d attempts", res, tc.wantState, tc.wantCalls)
			}
		})
	}
}

func TestRunStopsRetryingWhenCanceled(t *testing.T) {
	var log eventLog
	r := NewRecorder("svc", log.observe, Backoff{Attempts: 10, Initial: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error)
	go func() {
		_, err := Run(ctx, r, StepPush, func(context.Context) (int, error) {
			calls++
			return 0, MarkRetryable(errors.New("503"))
		})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil || calls != 1 {
			t.Fatalf("err = %v after %d calls, want a failure after 1", err, calls)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept waiting after the context was canceled")
	}
}

func TestForEachBoundsConcurrencyAndKeepsEveryError(t *testing.T) {
	var running, peak atomic.Int32
	services := make([]string, 20)
	for i := range services {
		services[i] = fmt.Sprintf("svc-%02d", i)
	}
	errs := ForEach(context.Background(), services, 3, func(_ context.Context, svc string) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		if svc == "svc-04" || svc == "svc-17" {
			return errors.New("broken " + svc)
		}
		return nil
	})
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency = %d, want at most 3 (and some overlap)", p)
	}
	if len(errs) != 2 || errs["svc-04"] == nil || errs["svc-17"] == nil {
		t.Errorf("errs = %v, want exactly svc-04 and svc-17", errs)
	}
}

func TestForEachCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	errs := ForEach(ctx, []string{"a", "b", "c"}, 1, func(context.Context, string) error { ran.Add(1); return nil })
	if len(errs)+int(ran.Load()) != 3 {
		t.Fatalf("every service must either run or report the cancellation: ran %d, errs %v", ran.Load(), errs)
	}
	for svc, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", svc, err)
		}
	}
}
