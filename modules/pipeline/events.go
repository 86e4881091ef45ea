package pipeline

import "time"

// Step names a pipeline step in events and results.
type Step string

// The steps of a release, in the order they run.
const (
	StepPlan    Step = "plan"
	StepTest    Step = "test"
	StepBuild   Step = "build"
	StepPush    Step = "push"
	StepSign    Step = "sign"
	StepVerify  Step = "verify"
	StepPromote Step = "promote"
)

// State is where a step stands when an Event is sent.
type State string

// The states of a step. A step starts once, may be retried, and ends in
// exactly one of succeeded, failed or skipped.
const (
	StateStarted   State = "started"
	StateRetrying  State = "retrying"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateSkipped   State = "skipped"
)

// Final reports whether s ends a step.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateSkipped
}

// Event is one progress report: which service, which step, what state, and
// what it waits on or why it ended. Front doors render events on stderr.
type Event struct {
	Time     time.Time     `json:"time"`
	Service  string        `json:"service"`
	Step     Step          `json:"step"`
	State    State         `json:"state"`
	Attempt  int           `json:"attempt,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Message  string        `json:"message,omitempty"`
}

// Observer receives events. It is called from the goroutine running the
// step, possibly from several at once, and must not block for long.
type Observer func(Event)

func (o Observer) emit(e Event) {
	if o != nil {
		o(e)
	}
}
