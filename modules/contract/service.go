package contract

import (
	"strings"
)

// SchemaVersion is the only service.yaml schemaVersion this package reads.
const SchemaVersion = 1

// Kind says how a service runs.
type Kind string

// The kinds a service.yaml may declare.
const (
	// KindWorker is a long-running process without a public API.
	KindWorker Kind = "worker"
	// KindServer is a long-running process that serves requests.
	KindServer Kind = "server"
	// KindJob runs to completion (for example a migration).
	KindJob Kind = "job"
)

// Strategy names a way to build a service's image.
type Strategy string

// The build strategies.
const (
	// StrategyDockerfile builds the service's Dockerfile in its build
	// context (the Dagger runner's Build). Every service has it.
	StrategyDockerfile Strategy = "dockerfile"
	// StrategyGo is the daemonless Go build (the native runner's Build); a
	// service has it when its service.yaml sets build.go.
	StrategyGo Strategy = "go"
)

// Service is one validated services/<name>/service.yaml, with every path
// resolved to a slash-separated path relative to the repository root.
type Service struct {
	// Name is the service's DNS-label name, equal to its folder name.
	Name string
	// Kind is worker, server or job.
	Kind Kind
	// Description is the one-line description.
	Description string
	// Owner is the owning team or person; may be empty.
	Owner string
	// Image is the repository name under the registry (default: Name).
	Image string
	// Dir is the service folder, e.g. "services/scheduler-worker".
	Dir string
	// File is the service.yaml path, e.g. "services/scheduler-worker/service.yaml".
	File string
	// Build says how the image is built.
	Build Build
	// Health is the port and paths of the health endpoints.
	Health Health
	// Env is the env schema, in declaration order.
	Env []EnvVar
	// Manifest is the base manifest folder, e.g. "deployments/base/scheduler-worker".
	Manifest string
}

// Build says how a service's image is built.
type Build struct {
	// Dockerfile is the Dockerfile path.
	Dockerfile string
	// Context is the Docker build context folder.
	Context string
	// Inputs are the globs of build.inputs as declared, relative to Context
	// (default ["**"]).
	Inputs []string
	// Files are the resolved build inputs: every regular file (or symlink)
	// under Context that Inputs match and the context's .dockerignore, when
	// present, does not exclude. Sorted, repository-relative.
	Files []string
	// Args are the extra build args that change the output; never nil.
	Args map[string]string
	// Go is the daemonless Go build; nil when build.go is absent.
	Go *GoBuild
}

// Strategies lists the ways this service can be built: always
// StrategyDockerfile, then StrategyGo when build.go is set.
func (b Build) Strategies() []Strategy {
	if b.Go != nil {
		return []Strategy{StrategyDockerfile, StrategyGo}
	}
	return []Strategy{StrategyDockerfile}
}

// GoBuild is the daemonless build of a Go service.
type GoBuild struct {
	// ModuleDir is the folder of the service's go.mod (the nearest one at
	// or above the service folder); "." for the repository root.
	ModuleDir string
	// ModulePath is the module path that go.mod declares.
	ModulePath string
	// Main is the main package as declared, relative to ModuleDir ("./cmd/x").
	Main string
	// MainDir is the main package's folder, repository-relative.
	MainDir string
	// Package is the main package's import path.
	Package string
	// Ldflags are the linker variables the build sets with -X.
	Ldflags Ldflags
}

// Ldflags names the linker variables (import path + "." + variable) that
// carry build facts; an empty field is not set.
type Ldflags struct {
	// SHA receives the source commit (GIT_SHA).
	SHA string
	// BuildTS receives the build time, RFC 3339 UTC (BUILD_TS).
	BuildTS string
}

// Flags returns the -X flags that set the declared variables to sha and
// buildTS, in a stable order; variables that are not declared are left out.
func (l Ldflags) Flags(sha, buildTS string) []string {
	var out []string
	if l.SHA != "" {
		out = append(out, "-X", l.SHA+"="+sha)
	}
	if l.BuildTS != "" {
		out = append(out, "-X", l.BuildTS+"="+buildTS)
	}
	return out
}

// Health is the port and paths of a service's health endpoints.
type Health struct {
	// Port is the HEALTH_PORT default, 1..65535.
	Port int
	// Livez is the liveness path (default /livez).
	Livez string
	// Readyz is the readiness path (default /readyz).
	Readyz string
	// Version is the version path (default /version).
	Version string
	// Metrics is the metrics path; empty when the service has none.
	Metrics string
}

// EnvVar is one entry of a service's env schema.
type EnvVar struct {
	// Name is UPPER_SNAKE_CASE and unique within the service.
	Name string
	// Required means the service refuses to start without it.
	Required bool
	// Secret means the value is never logged nor echoed in errors.
	Secret bool
	// Default is the value used when unset; meaningful when HasDefault.
	Default string
	// HasDefault says whether the schema declares a default (which may be "").
	HasDefault bool
	// Description says what the variable carries.
	Description string
}

// EnvVar returns the schema entry called name.
func (s Service) EnvVar(name string) (EnvVar, bool) {
	for _, e := range s.Env {
		if e.Name == name {
			return e, true
		}
	}
	return EnvVar{}, false
}

// inDir reports whether the slash path p is dir or lies under it; "." holds
// everything.
func inDir(p, dir string) bool {
	if dir == "." || dir == "" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}
