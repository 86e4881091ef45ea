package main

import (
	"context"
	"fmt"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// goImage is the Go toolchain image of Test and Lint, pinned by digest to
// the GO_IMAGE the services' Dockerfiles build with, so tests run on the
// toolchain that builds the binary.
const goImage = "golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647"

// Test runs the service's Go tests in a Go container with cache volumes for
// modules and the build cache, and returns their output.
func (m *Ci) Test(
	ctx context.Context,
	// Service to test: a folder under services/ with a go.mod.
	service string,
) (string, error) {
	if err := m.requireServiceFile(ctx, service, "go.mod"); err != nil {
		return "", err
	}
	out, err := m.goContainer(service).WithExec([]string{"go", "test", "./..."}).Stdout(ctx)
	if err != nil {
		return "", fmt.Errorf("testing %q: %w", service, err)
	}
	return out, nil
}

// Lint checks the service's Go code with go vet and gofmt, and returns go vet's output.
func (m *Ci) Lint(
	ctx context.Context,
	// Service to lint: a folder under services/ with a go.mod.
	service string,
) (string, error) {
	if err := m.requireServiceFile(ctx, service, "go.mod"); err != nil {
		return "", err
	}
	out, err := m.goContainer(service).
		WithExec([]string{"go", "vet", "./..."}).
		WithExec([]string{"sh", "-c", `out=$(gofmt -l .); if [ -n "$out" ]; then echo "gofmt would change:"; echo "$out"; exit 1; fi`}).
		Stdout(ctx)
	if err != nil {
		return "", fmt.Errorf("linting %q: %w", service, err)
	}
	return out, nil
}

// goContainer is a Go toolchain with the service's folder at /src and
// namespaced cache volumes for the module and build caches.
func (m *Ci) goContainer(service string) *dagger.Container {
	return goToolchain().
		WithEnvVariable("GOWORK", "off").
		WithEnvVariable("GOFLAGS", "-mod=readonly").
		WithDirectory("/src", m.Source.Directory(policy.ServiceDir(service))).
		WithWorkdir("/src")
}

// goToolchain is the pinned Go image with the module's namespaced cache
// volumes for downloaded modules and the build cache, and no toolchain
// switching: everything that runs Go in this module starts from it.
func goToolchain() *dagger.Container {
	return dag.Container().
		From(goImage).
		WithEnvVariable("GOTOOLCHAIN", "local").
		WithMountedCache("/go/pkg/mod", dag.CacheVolume(policy.CacheVolume("go-mod"))).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume(policy.CacheVolume("go-build")))
}
