// Package health holds the worker's health state machine and serves the
// contract endpoints: /livez, /readyz, /version and /metrics.
//
// Liveness never depends on Temporal or PostgreSQL (an outage must not
// restart every pod); readiness is true only in the Ready phase.
package health

import (
	"fmt"
	"sync"
	"time"
)

// Phase is where the worker is in its life.
type Phase int

// The phases. Draining and Stopped are one-way: once shutdown begins,
// nothing can make the worker ready again.
const (
	Starting Phase = iota // connecting to Temporal and PostgreSQL, or starting the worker
	Ready                 // polling, dependencies reachable
	Degraded              // polling, but a dependency is unreachable
	Draining              // shutdown begun: no new polls, in-flight work finishing
	Stopped               // drained, clients closed
)

var phaseNames = [...]string{"starting", "ready", "degraded", "draining", "stopped"}

// String returns the phase's lowercase name.
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// allowed lists the legal transitions. Staying in a phase is always legal
// (it updates the reason).
var allowed = map[Phase][]Phase{
	Starting: {Ready, Degraded, Draining},
	Ready:    {Degraded, Starting, Draining},
	Degraded: {Ready, Starting, Draining},
	Draining: {Stopped},
	Stopped:  {},
}

// State is the worker's phase, safe for concurrent use.
type State struct {
	mu     sync.Mutex
	phase  Phase
	reason string
	since  time.Time
}

// NewState returns a State in Starting.
func NewState() *State {
	return &State{phase: Starting, reason: "starting", since: time.Now()}
}

// Set moves to phase to with a short, secret-free reason. It returns false
// and changes nothing when the transition is not allowed, e.g. a health
// check that succeeds after shutdown began must not make the worker ready.
func (s *State) Set(to Phase, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if to != s.phase {
		ok := false
		for _, p := range allowed[s.phase] {
			if p == to {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
		s.since = time.Now()
	}
	s.phase, s.reason = to, reason
	return true
}

// Phase returns the current phase and its reason.
func (s *State) Phase() (Phase, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase, s.reason
}

// Ready reports whether /readyz answers 200.
func (s *State) Ready() bool {
	p, _ := s.Phase()
	return p == Ready
}
