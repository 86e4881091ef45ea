// want: Ci.Ship has side effects but no +cache="never"

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

// Ship publishes under another name.
func (m *Ci) Ship(ctx context.Context) (string, error) {
	return m.Source.DockerBuild().Publish(ctx, "registry.test/x:y")
}
