// want: the generated code declares MarshalJSON
// want: Ci.MarshalJSON result: unsupported type []byte

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

// MarshalJSON is generated for every module struct.
func (m *Ci) MarshalJSON() ([]byte, error) { return nil, nil }
