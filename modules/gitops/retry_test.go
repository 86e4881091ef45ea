package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "lost lease", err: fmt.Errorf("pushing: %w", gitrepo.ErrStale), want: true},
		{name: "git network", err: fmt.Errorf("pushing: %w", gitrepo.ErrNetwork), want: true},
		{name: "git auth", err: fmt.Errorf("cloning: %w", gitrepo.ErrAuth)},
		{name: "forge 502", err: &forge.StatusError{StatusCode: 502}, want: true},
		{name: "forge 429", err: &forge.StatusError{StatusCode: 429}, want: true},
		{name: "forge 401", err: &forge.StatusError{StatusCode: 401}},
		{name: "forge 422", err: fmt.Errorf("opening: %w", &forge.StatusError{StatusCode: 422})},
		{name: "forge unreachable", err: &url.Error{Op: "Post", URL: "https://forge.invalid", Err: &timeoutErr{}}, want: true},
		{name: "gate", err: fmt.Errorf("%w: unsigned", ErrGateFailed)},
		{name: "foreign commit", err: ErrForeignCommit},
		{name: "plain", err: errors.New("x")},
		{name: "errno", err: syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }
