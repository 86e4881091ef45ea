// want: Plaintext reads a secret

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

// Token reads a secret into the module.
func (m *Ci) Token(ctx context.Context, token *dagger.Secret) (string, error) {
	return token.Plaintext(ctx)
}
