package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{name: "bad reference", err: fmt.Errorf("pushing: %w", &ReferenceError{Input: "x", Reason: "y"}), want: Terminal},
		{name: "401", err: &transport.Error{StatusCode: http.StatusUnauthorized}, want: Terminal},
		{name: "403", err: &transport.Error{StatusCode: http.StatusForbidden}, want: Terminal},
		{name: "404", err: &transport.Error{StatusCode: http.StatusNotFound}, want: Terminal},
		{name: "400", err: &transport.Error{StatusCode: http.StatusBadRequest}, want: Terminal},
		{name: "500", err: fmt.Errorf("x: %w", &transport.Error{StatusCode: 500}), want: Retryable},
		{name: "503", err: &transport.Error{StatusCode: 503}, want: Retryable},
		{name: "429", err: &transport.Error{StatusCode: 429}, want: Retryable},
		{name: "reset", err: fmt.Errorf("x: %w", syscall.ECONNRESET), want: Retryable},
		{name: "refused", err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, want: Retryable},
		{name: "deadline", err: context.DeadlineExceeded, want: Retryable},
		{name: "canceled", err: context.Canceled, want: Terminal},
		{name: "unknown", err: errors.New("boom"), want: Terminal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if IsRetryable(nil) || IsTerminal(nil) {
		t.Error("nil classified as a failure")
	}
}
