package pipeline

import (
	"context"
	"errors"
	"net"
)

// Class says what to do about a failure.
type Class int

// The classes of failure. Terminal failures are bad input or a refused
// request: never retried, reported with what to fix. Retryable failures are
// transient (network, 5xx, a lost race): retried with bounded backoff.
// Skipped is not a failure: there was nothing to do.
const (
	Terminal Class = iota
	Retryable
	Skipped
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Skipped:
		return "skipped"
	default:
		return "terminal"
	}
}

type classified struct {
	class Class
	err   error
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// MarkTerminal classifies err as terminal; nil stays nil.
func MarkTerminal(err error) error { return mark(Terminal, err) }

// MarkRetryable classifies err as retryable; nil stays nil.
func MarkRetryable(err error) error { return mark(Retryable, err) }

// Skip returns an error that ends a step as skipped, with the reason given.
func Skip(reason string) error { return &classified{class: Skipped, err: errors.New(reason)} }

func mark(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: c, err: err}
}

// Classify returns the class of err. An explicit mark wins; otherwise an
// error that says of itself Retryable() or Temporary() or Timeout() true (as
// net.Error and the libraries' typed errors do) is retryable, a canceled
// context is terminal, and everything else is terminal: the pipeline fails
// closed rather than retrying what it does not understand.
func Classify(err error) Class {
	if err == nil {
		return Terminal
	}
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	if errors.Is(err, context.Canceled) {
		return Terminal
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		if r.Retryable() {
			return Retryable
		}
		return Terminal
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return Retryable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Retryable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Retryable
	}
	return Terminal
}
