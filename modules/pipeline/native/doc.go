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
// # Real targets
//
// Each field of Config replaces one default; the zero value keeps it.
// Credentials come only from the environment, never from flags, and never
// reach logs, errors or output.
//
//   - Registry (--registry host[:port]/namespace, e.g. ghcr.io/org): images
//     go to Registry/<image>. Credentials from FERRY_REGISTRY_USERNAME and
//     FERRY_REGISTRY_PASSWORD, else the Docker config (docker login, and
//     GITHUB_TOKEN for ghcr.io); push access is checked before anything is
//     built. Plain HTTP is allowed to loopback, and elsewhere only with
//     InsecureRegistry (--insecure-registry).
//   - Deployments (--deployments) and Forge (--forge local|github|gitea):
//     a local bare repository for the local forge, or the HTTPS URL of a
//     repository on GitHub or Gitea, cloned with FERRY_GIT_TOKEN, else the
//     forge's API token (FERRY_FORGE_TOKEN, else GITHUB_TOKEN or
//     GITEA_TOKEN). ForgeURL (--forge-url) names Gitea's or GitHub
//     Enterprise Server's address when it is not derived from Deployments.
//   - Keyless (--keyless): sign with a short-lived Fulcio certificate for
//     the OIDC identity in SIGSTORE_ID_TOKEN (else GitHub Actions' token
//     request), logged in Rekor; verification chains to the TrustedRoot
//     file and accepts only the configured certificate identity and issuer.
//   - PublicKey (--public-key): verify key signatures with this cosign
//     public key instead of the local one, so that verify and the promotion
//     gates accept what another machine's key signed (the Dagger module's
//     Sign, inside a container); a signature by another key fails the gate
//     closed, naming the key.
//
// PromotePR (the promote-pr command) pins an image pushed and signed
// elsewhere, given by digest, behind the same gates as a release: the
// registry holds the digest, its signature verifies, and an environment
// with an upstream (production after staging) runs only what the upstream
// pins. Without Registry, an image off loopback is read from its own
// registry with the credentials above.
//
// Tests and builds of a service run with GOWORK=off: a service is a product
// built alone, as its Dockerfile builds it, never against the tool's
// workspace. Images are built for the host's linux platform only.
package native
