package nativetest

import (
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/forge/gitea/giteatest"
)

// Gitea is a real Gitea server on loopback with an admin user "bot" and
// its API token (URL, Token, and the API, CreateRepo and PullRequests
// helpers); see giteatest.Server.
type Gitea = giteatest.Server

// PullRequest is what the tests read of a Gitea pull request.
type PullRequest = giteatest.PullRequest

// StartGitea runs the pinned Gitea (.ci/tools.sh gitea) with SQLite in a
// temporary folder until the test ends; see giteatest.Start.
func StartGitea(t testing.TB) *Gitea {
	t.Helper()
	return giteatest.Start(t)
}
