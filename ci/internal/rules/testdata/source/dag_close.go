// want: dag.Close exists only in the library's client

package main

import (
	"context"
	"time"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

var (
	_ context.Context
	_ time.Time
	_ policy.Arg
)

// Ci is the main object.
type Ci struct {
	// Source is the repository.
	Source *dagger.Directory
}

// New loads the repository.
func New(
	// +defaultPath="/"
	source *dagger.Directory,
) *Ci {
	return &Ci{Source: source}
}

// Done closes the client.
func (m *Ci) Done() error { return dag.Close() }
