// want: field Ci.source is unexported: its value is lost between calls

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
	source *dagger.Directory
}

// New loads the repository.
func New(
	// +defaultPath="/"
	source *dagger.Directory,
) *Ci {
	return &Ci{source: source}
}
