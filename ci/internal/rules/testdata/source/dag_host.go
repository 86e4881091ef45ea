// want: Host is hidden from modules

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

// Local reads the host.
func (m *Ci) Local() *dagger.Directory { return dag.Host().Directory(".") }
