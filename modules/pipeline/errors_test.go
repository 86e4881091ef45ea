package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
)

type retryableErr bool

func (r retryableErr) Error() string   { return "typed" }
func (r retryableErr) Retryable() bool { return bool(r) }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return false }

var _ net.Error = timeoutErr{}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Class
	}{
		{name: "plain error fails closed", err: errors.New("boom"), want: Terminal},
		{name: "marked retryable", err: MarkRetryable(errors.New("5xx")), want: Retryable},
		{name: "marked terminal wins over a retryable cause", err: MarkTerminal(retryableErr(true)), want: Terminal},
		{name: "mark survives wrapping", err: fmt.Errorf("pushing %q: %w", "x", MarkRetryable(errors.New("reset"))), want: Retryable},
		{name: "skip", err: Skip("nothing changed"), want: Skipped},
		{name: "typed error says retryable", err: fmt.Errorf("w: %w", retryableErr(true)), want: Retryable},
		{name: "typed error says not retryable", err: retryableErr(false), want: Terminal},
		{name: "network timeout", err: &net.OpError{Op: "dial", Err: timeoutErr{}}, want: Retryable},
		{name: "deadline exceeded", err: fmt.Errorf("w: %w", context.DeadlineExceeded), want: Retryable},
		{name: "canceled is terminal", err: fmt.Errorf("w: %w", context.Canceled), want: Terminal},
		{name: "missing file", err: fmt.Errorf("reading x: %w", os.ErrNotExist), want: Terminal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if MarkRetryable(nil) != nil || MarkTerminal(nil) != nil {
		t.Error("marking nil must stay nil")
	}
}
