package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Backoff bounds the retries of a retryable step.
type Backoff struct {
	// Attempts is the most times a step runs, the first included (>= 1).
	Attempts int
	// Initial is the wait before the second attempt; it doubles each time.
	Initial time.Duration
	// Max caps a single wait.
	Max time.Duration
}

// DefaultBackoff is three attempts, waiting 500 ms then 1 s.
var DefaultBackoff = Backoff{Attempts: 3, Initial: 500 * time.Millisecond, Max: 10 * time.Second}

func (b Backoff) wait(attempt int) time.Duration {
	d := b.Initial
	for i := 1; i < attempt; i++ {
		d *= 2
		if b.Max > 0 && d >= b.Max {
			return b.Max
		}
	}
	return d
}

// StepResult records how one step of one service ended.
type StepResult struct {
	Step     Step          `json:"step"`
	State    State         `json:"state"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"duration"`
	// Class is set when State is failed: terminal or retryable.
	Class string `json:"class,omitempty"`
	// Message is the error, or the reason a step was skipped.
	Message string `json:"message,omitempty"`
}

// Recorder collects the results of one service's steps and reports their
// progress. It is safe for concurrent use.
type Recorder struct {
	service  string
	observer Observer
	backoff  Backoff
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error

	mu      sync.Mutex
	results []StepResult
}

// NewRecorder returns a recorder for service that reports to observer (nil:
// no reports) and retries retryable steps with backoff.
func NewRecorder(service string, observer Observer, backoff Backoff) *Recorder {
	if backoff.Attempts < 1 {
		backoff.Attempts = 1
	}
	return &Recorder{service: service, observer: observer, backoff: backoff, now: time.Now, sleep: sleepCtx}
}

// Results returns the results recorded so far, in the order the steps ended.
func (r *Recorder) Results() []StepResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StepResult(nil), r.results...)
}

// Run runs fn as step of the recorder's service: it reports the start,
// retries retryable failures within the backoff, and records the outcome. A
// skipped step returns the zero value and a nil error; its StepResult says
// skipped and why. Failures come back wrapped with the step and service.
func Run[T any](ctx context.Context, r *Recorder, step Step, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	start := r.now()
	r.observer.emit(Event{Time: start, Service: r.service, Step: step, State: StateStarted, Attempt: 1})
	for attempt := 1; ; attempt++ {
		out, err := fn(ctx)
		if err == nil {
			r.finish(step, StateSucceeded, attempt, start, "", "")
			return out, nil
		}
		class := Classify(err)
		if class == Skipped {
			r.finish(step, StateSkipped, attempt, start, "", err.Error())
			return zero, nil
		}
		if class == Retryable && attempt < r.backoff.Attempts && ctx.Err() == nil {
			wait := r.backoff.wait(attempt)
			r.observer.emit(Event{Time: r.now(), Service: r.service, Step: step, State: StateRetrying,
				Attempt: attempt + 1, Message: fmt.Sprintf("retrying in %s after: %v", wait, err)})
			if serr := r.sleep(ctx, wait); serr == nil {
				continue
			}
		}
		r.finish(step, StateFailed, attempt, start, class.String(), err.Error())
		return zero, &StepError{Service: r.service, Step: step, Class: class, Err: err}
	}
}

func (r *Recorder) finish(step Step, state State, attempts int, start time.Time, class, msg string) {
	d := r.now().Sub(start)
	r.mu.Lock()
	r.results = append(r.results, StepResult{Step: step, State: state, Attempts: attempts, Duration: d, Class: class, Message: msg})
	r.mu.Unlock()
	r.observer.emit(Event{Time: r.now(), Service: r.service, Step: step, State: state, Attempt: attempts, Duration: d, Message: msg})
}

// StepError is a failed step of one service's release.
type StepError struct {
	Service string
	Step    Step
	Class   Class
	Err     error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s of %s (%s): %v", e.Step, e.Service, e.Class, e.Err)
}

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// Retryable reports whether running the release again may succeed.
func (e *StepError) Retryable() bool { return e.Class == Retryable }

// ForEach runs fn for every service with at most limit running at once
// (limit < 1 means one at a time). One service's failure does not stop the
// others; the errors come back by service. A canceled ctx stops services that
// have not started.
func ForEach(ctx context.Context, services []string, limit int, fn func(ctx context.Context, service string) error) map[string]error {
	if limit < 1 {
		limit = 1
	}
	sorted := append([]string(nil), services...)
	sort.Strings(sorted)
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for _, svc := range sorted {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			errs[svc] = fmt.Errorf("releasing %s: %w", svc, ctx.Err())
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, svc); err != nil {
				mu.Lock()
				errs[svc] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
