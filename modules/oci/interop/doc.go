// Package interop holds only tests: what ferry pushes is read back by other
// tools (crane reports the same digests; podman with runc pulls the
// daemonless image from the embedded registry and runs it). Tools are found
// on PATH or in $HOME/.cache/ferry/tools/bin; a missing tool skips the test
// unless $CI is set, then it fails.
package interop
