// A module that breaks no rule: every finding here is a false positive.

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
	// Repo is its git metadata.
	Repo *dagger.GitRepository
	// Names is a list.
	// +private
	Names []string
	cache string `json:"-"`
}

// Level is an enum.
type Level string

// The levels.
const (
	LevelLow  Level = "LOW"
	LevelHigh Level = "HIGH"
)

// Result is an object of the module.
type Result struct {
	// Ref is a digest reference.
	Ref string
	// Image is the container.
	Image *dagger.Container
}

// Step is a module interface.
type Step interface {
	DaggerObject
	Run(ctx context.Context) error
}

// New loads the repository.
func New(
	ctx context.Context,
	// Repository tree.
	// +defaultPath="/"
	// +ignore=[
	//   ".git",
	//   "**/node_modules"
	// ]
	source *dagger.Directory,
	// +defaultPath="/"
	repo *dagger.GitRepository,
) (*Ci, error) {
	return &Ci{Source: source, Repo: repo}, nil
}

// Push publishes.
// +cache="never"
func (m *Ci) Push(
	ctx context.Context,
	service string,
	// +default="staging"
	env string,
	// +optional
	password *dagger.Secret,
	// +default=3
	retries int,
	// +optional
	platform dagger.Platform,
	// +optional
	level Level,
) (string, error) {
	return m.Source.DockerBuild().Publish(ctx, "registry.test/"+service+":"+env)
}

// Release runs everything and reports on it.
// +cache="session"
func (m *Ci) Release(ctx context.Context, services ...string) ([]*Result, error) {
	return nil, nil
}

// Lint is cached for ten minutes.
// +cache="10m"
func (m *Ci) Lint(ctx context.Context, strict bool) (string, error) { return "", nil }

// Check is for dagger check.
// +check
func (m *Ci) Check(ctx context.Context) error { return nil }

// Smoke is a check that returns a container.
// +check
func (m *Ci) Smoke(
	// +optional
	verbose bool,
) (*dagger.Container, error) {
	return dag.Container(), nil
}

// Use takes a module interface.
func (m *Ci) Use(s Step, weight float64, opts []string) *Result { return &Result{} }

// Old is deprecated.
// +deprecated="use Push"
func (m *Ci) Old(
	// +optional
	// +deprecated="unused"
	flag string,
) {
}

func (m *Ci) helper(x map[string]uint) {}

func (r *Result) String() string { return r.Ref }
