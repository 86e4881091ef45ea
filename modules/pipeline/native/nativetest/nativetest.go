// Package nativetest starts the servers the native runner's tests release
// into, all on loopback: a distribution registry with htpasswd
// authentication, a Gitea server and an offline Fulcio and Rekor. It keeps
// the names cmd/ci and the native runner's tests use; the servers
// themselves live in modules/signing/signingtest and
// modules/gitops/forge/gitea/giteatest. A missing tool skips the test, or
// fails it when CI is set.
package nativetest

import (
	"testing"

	"github.com/ferry-ci/ferry/modules/signing/signingtest"
)

// Tool returns the pinned tool from PATH or $HOME/.cache/ferry/tools/bin;
// without it the test fails when CI is set, else it is skipped. See
// signingtest.Tool.
func Tool(t testing.TB, name string) string {
	t.Helper()
	return signingtest.Tool(t, name)
}

// StartRegistry runs the pinned distribution registry (v3.1.2) over plain
// HTTP on a loopback port, with filesystem storage in a temporary folder
// and, when user is not empty, htpasswd authentication of user and
// password. It returns the registry's host:port. See
// signingtest.StartRegistry.
func StartRegistry(t testing.TB, user, password string) string {
	t.Helper()
	return signingtest.StartRegistry(t, signingtest.WithBasicAuth(user, password))
}
