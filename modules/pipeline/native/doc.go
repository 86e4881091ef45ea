// Package native is the native runner's side of the release pipeline: the
// step implementations that need no container engine (go test on the host,
// the daemonless build of modules/oci/build, a push with
// modules/oci/registry, key signing with modules/signing, promotion with
// modules/gitops) and the embedded defaults that let a new user release
// with no flags: an in-process registry, a local signing key and a local
// deployments repository with its forge, all under .ci/state.
//
// The order of the steps, the skips and the classification live in package
// pipeline; this package only supplies the steps.
package native
