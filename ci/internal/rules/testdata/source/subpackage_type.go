// want: foreign type policy.Arg

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

// Label returns a type of a sub-package.
func (m *Ci) Label() policy.Arg { return policy.Arg{} }
