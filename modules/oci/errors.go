package oci

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Class says what a caller should do about a failure.
type Class int

const (
	// Terminal failures are bad input or refusals (400, 401, 403, 404, an
	// invalid reference, a missing file): retrying cannot help.
	Terminal Class = iota
	// Retryable failures are transient (5xx, 429, connection resets, refused
	// connections, timeouts): a bounded backoff may get through.
	Retryable
)

// String names the class.
func (c Class) String() string {
	if c == Retryable {
		return "retryable"
	}
	return "terminal"
}

// Classify sorts err into Terminal or Retryable. An error that implements
// Terminal() bool or Retryable() bool decides for itself; registry errors are
// classified by HTTP status; network failures and timeouts are retryable;
// everything unknown is terminal, so nothing loops on a bug.
func Classify(err error) Class {
	if err == nil {
		return Terminal
	}
	var term interface{ Terminal() bool }
	if errors.As(err, &term) && term.Terminal() {
		return Terminal
	}
	var retr interface{ Retryable() bool }
	if errors.As(err, &retr) && retr.Retryable() {
		return Retryable
	}
	if errors.Is(err, context.Canceled) {
		return Terminal
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusTooManyRequests, te.StatusCode == http.StatusRequestTimeout,
			te.StatusCode >= 500:
			return Retryable
		default:
			return Terminal
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return Retryable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Retryable
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Retryable
	}
	return Terminal
}

// IsRetryable reports whether Classify(err) is Retryable.
func IsRetryable(err error) bool { return err != nil && Classify(err) == Retryable }

// IsTerminal reports whether err is non-nil and Classify(err) is Terminal.
func IsTerminal(err error) bool { return err != nil && Classify(err) == Terminal }
