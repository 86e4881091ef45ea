// Package native is the native runner's side of the release pipeline: the
// step implementations that need no container engine (go test on the host,
// the daemonless build of modules/oci/build, a push with
// modules/oci/registry, key signing with modules/signing, promotion with
// modules/gitops) and the embedded defaults that let a new user release
// with no flags. The order of the steps, the skips and the classification
// live in package pipeline; this package only supplies the steps.
//
// # Embedded defaults
//
// Everything lives under .ci/state in the repository (gitignored):
//
//   - registry/: the embedded distribution registry's storage; it listens on
//     loopback, on the port it had last time when that is free, so pinned
//     references stay valid across runs.
//   - keys/cosign.key, keys/cosign.pub: an ECDSA P-256 pair in cosign's
//     formats, generated on first use. The private key is encrypted with
//     the password in FERRY_SIGNING_PASSWORD, or with the empty password
//     when that is unset (cosign's COSIGN_PASSWORD="" convention; the file
//     is mode 0600). It is decrypted only when something is signed.
//   - deployments.git: a bare repository seeded once from deployments/
//     (byte for byte), with the local forge's pull request records beside
//     it.
//
// Tests and builds of a service run with GOWORK=off: a service is a product
// built alone, as its Dockerfile builds it, never against the tool's
// workspace. Images are built for the host's linux platform only.
package native
