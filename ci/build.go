package main

import (
	"context"
	"fmt"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// Build builds services/<service>/Dockerfile in its folder with the build
// args GIT_SHA and BUILD_TS and the OCI labels, and returns the image.
func (m *Ci) Build(
	ctx context.Context,
	// Service to build: a folder under services/.
	service string,
	// Commit the image is built from; defaults to the repository's HEAD.
	// +optional
	gitSha string,
	// Build time, RFC 3339 UTC; defaults to 1970-01-01T00:00:00Z for reproducible builds.
	// +optional
	buildTs string,
) (*dagger.Container, error) {
	sha, ts, err := m.buildInputs(ctx, gitSha, buildTs)
	if err != nil {
		return nil, err
	}
	return m.build(ctx, service, sha, ts)
}

// build is Build once the inputs are known.
func (m *Ci) build(ctx context.Context, service, sha, ts string) (*dagger.Container, error) {
	// TODO(issue 6): take the Dockerfile and context from service.yaml through modules/contract.
	if err := m.requireServiceFile(ctx, service, "Dockerfile"); err != nil {
		return nil, err
	}
	var args []dagger.BuildArg
	for _, a := range policy.BuildArgs(sha, ts) {
		args = append(args, dagger.BuildArg{Name: a.Name, Value: a.Value})
	}
	ctr := m.Source.Directory(policy.ServiceDir(service)).DockerBuild(dagger.DirectoryDockerBuildOpts{
		Dockerfile: "Dockerfile",
		BuildArgs:  args,
	})
	for _, l := range policy.Labels(service, sha, ts) {
		ctr = ctr.WithLabel(l.Name, l.Value)
	}
	return ctr, nil
}

// buildInputs validates the commit and build time, defaulting the commit to
// the repository's HEAD and the time to policy.DefaultBuildTS.
func (m *Ci) buildInputs(ctx context.Context, gitSha, buildTs string) (sha, ts string, err error) {
	sha = gitSha
	if sha == "" {
		if m.Repo == nil {
			return "", "", fmt.Errorf("reading the commit: %w: no --git-sha and no git repository", policy.ErrInvalid)
		}
		if sha, err = m.Repo.Head().Commit(ctx); err != nil {
			return "", "", fmt.Errorf("reading the HEAD commit: %w", err)
		}
	}
	if err := policy.ValidateSHA(sha); err != nil {
		return "", "", err
	}
	ts = buildTs
	if ts == "" {
		ts = policy.DefaultBuildTS
	}
	if err := policy.ValidateBuildTS(ts); err != nil {
		return "", "", err
	}
	return sha, ts, nil
}

// requireServiceFile checks that service is a valid name and that
// services/<service>/<file> exists in the source.
func (m *Ci) requireServiceFile(ctx context.Context, service, file string) error {
	if err := policy.ValidateService(service); err != nil {
		return err
	}
	path := policy.ServiceDir(service) + "/" + file
	ok, err := m.Source.Exists(ctx, path)
	if err != nil {
		return fmt.Errorf("looking for %q: %w", path, err)
	}
	if !ok {
		return fmt.Errorf("finding service %q: %w: %s does not exist", service, policy.ErrInvalid, path)
	}
	return nil
}
