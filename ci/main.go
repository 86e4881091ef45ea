// A Dagger front door to ferry's release pipeline: thin typed functions that
// build a service's Dockerfile, test and lint it in a Go container with cache
// volumes, and publish its image under the tag policy.
//
// Rules the engine enforces and this module's tests check with no engine
// (see rules_test.go): only Dagger-supported types in exported signatures,
// no reserved names, exported constructor state, correctly spelled pragmas,
// and +cache="never" on every function with side effects. Plain-Go rules
// (service names, tags, addresses) live in internal/policy.
package main

import (
	"dagger/ci/internal/dagger"
)

// Ci is the module's main object; its exported fields survive between calls.
type Ci struct {
	// Source is the repository the functions build, test and publish.
	Source *dagger.Directory
	// Repo is the repository's git metadata, the default commit of a build.
	Repo *dagger.GitRepository
}

// New loads the repository; with no flags both default to the repository
// that holds dagger.json.
func New(
	// Repository tree to build, test and publish.
	// +defaultPath="/"
	// +ignore=[".git", "**/node_modules", "bin", ".ci/state", ".ci/tmp", "**/*.test", "**/*.out"]
	source *dagger.Directory,
	// Git repository whose HEAD commit labels and tags images when no --git-sha is given.
	// +defaultPath="/"
	repo *dagger.GitRepository,
) *Ci {
	return &Ci{Source: source, Repo: repo}
}
