// Package forge holds the values every forge backend speaks (pull requests,
// their states, classified API errors). Backends live in sibling packages:
// local (a bare repository on disk), github and gitea.
package forge

import (
	"errors"
	"fmt"
	"net/http"
)

// State of a pull request.
type State string

// Pull request states.
const (
	Open   State = "open"
	Closed State = "closed"
	Merged State = "merged"
)

// PullRequest is a forge's pull request, as far as promotion needs it.
type PullRequest struct {
	Number   int    `json:"number"`
	URL      string `json:"url"`
	Head     string `json:"head"`
	Base     string `json:"base"`
	HeadSHA  string `json:"headSHA,omitempty"`
	Title    string `json:"title"`
	Body     string `json:"body"`
	State    State  `json:"state"`
	MergeSHA string `json:"mergeSHA,omitempty"`
}

// NewPullRequest is what opening a pull request needs.
type NewPullRequest struct {
	Head  string
	Base  string
	Title string
	Body  string
}

// Sentinel errors; StatusError wraps the HTTP ones.
var (
	// ErrAlreadyExists means an open pull request already has this head.
	ErrAlreadyExists = errors.New("pull request already exists")
	// ErrNotFound means no such pull request or repository.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized means the credentials were refused (HTTP 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means the credentials lack a permission (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnprocessable means the forge rejected the request (HTTP 422).
	ErrUnprocessable = errors.New("unprocessable request")
	// ErrNotMergeable means the pull request cannot be merged as it is.
	ErrNotMergeable = errors.New("pull request not mergeable")
)

// StatusError is an HTTP failure of a forge API. Temporary reports whether
// a retry may succeed (429 and 5xx).
type StatusError struct {
	Method     string
	URL        string // without credentials or query
	StatusCode int
	Message    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Temporary reports whether retrying may succeed.
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Is maps status codes onto the sentinels.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrUnprocessable:
		return e.StatusCode == http.StatusUnprocessableEntity
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}
