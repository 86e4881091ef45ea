package main

import (
	"context"
	"fmt"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// Push builds the service and publishes it as
// {registry}/{service}:{env}-{sha}-{service}; it returns the image's
// reference pinned by digest ({registry}/{service}@sha256:...). It refuses a
// worktree with uncommitted changes, which the tag's commit would not name.
// +cache="never"
func (m *Ci) Push(
	ctx context.Context,
	// Service to publish: a folder under services/ with a Dockerfile.
	service string,
	// Environment the tag names.
	// +default="staging"
	env string,
	// Repository prefix to publish under, host[:port][/path].
	// +default="ghcr.io/ferry-ci"
	registry string,
	// Registry user name; required with --password.
	// +optional
	username string,
	// Registry password or token, e.g. env://GITHUB_TOKEN.
	// +optional
	password *dagger.Secret,
	// Commit the image is built from; defaults to the repository's HEAD.
	// +optional
	gitSha string,
	// Build time, RFC 3339 UTC; defaults to 1970-01-01T00:00:00Z.
	// +optional
	buildTs string,
) (string, error) {
	if err := policy.ValidateRegistry(registry); err != nil {
		return "", err
	}
	if (username == "") != (password == nil) {
		return "", fmt.Errorf("reading registry credentials: %w: give --username and --password together", policy.ErrInvalid)
	}
	sha, ts, err := m.buildInputs(ctx, gitSha, buildTs)
	if err != nil {
		return "", err
	}
	if err := m.requireCleanWorktree(ctx); err != nil {
		return "", err
	}
	tag, err := policy.EnvTag(env, sha, service)
	if err != nil {
		return "", err
	}
	ctr, err := m.build(ctx, service, sha, ts)
	if err != nil {
		return "", err
	}
	if password != nil {
		ctr = ctr.WithRegistryAuth(policy.RegistryHost(registry), username, password)
	}
	address := policy.Address(registry, service, tag)
	published, err := ctr.Publish(ctx, address)
	if err != nil {
		return "", fmt.Errorf("pushing %q: %w", address, err)
	}
	ref, err := policy.DigestReference(published)
	if err != nil {
		return "", fmt.Errorf("pushing %q: %w", address, err)
	}
	return ref, nil
}

// requireCleanWorktree refuses to publish uncommitted changes under a tag
// that names a commit which does not hold them.
func (m *Ci) requireCleanWorktree(ctx context.Context) error {
	if m.Repo == nil {
		return nil
	}
	clean, err := m.Repo.Uncommitted().IsEmpty(ctx)
	if err != nil {
		return fmt.Errorf("checking the worktree for uncommitted changes: %w", err)
	}
	if !clean {
		return fmt.Errorf("checking the worktree: %w: it has uncommitted changes; commit them so the tag names what is pushed", policy.ErrInvalid)
	}
	return nil
}
