// want: +cache="8d" must be "never", "session" or a quoted duration

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

// Lint is cached too long.
// +cache="8d"
func (m *Ci) Lint(ctx context.Context) (string, error) { return "", nil }
