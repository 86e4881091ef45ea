// Package signing signs and verifies container image digests in the formats
// cosign reads and writes, without shelling out to cosign.
//
// Signing takes a digest reference (never a tag) and a Signer: a durable
// ECDSA P-256 key (KeySigner, cosign.key files via package keys) or an
// OIDC identity certified by Fulcio (KeylessSigner). Signatures are stored
// as cosign stores them:
//
//   - FormatLegacy (default): the `sha256-<hex>.sig` tag, one simple-signing
//     payload layer per signature, with the signature, certificate, chain and
//     Rekor bundle as layer annotations. Every cosign, the sigstore
//     policy-controller and Kyverno read it.
//   - FormatBundle: a Sigstore bundle v0.3 over a DSSE in-toto statement
//     with predicate type https://sigstore.dev/cosign/sign/v1, stored as an
//     OCI 1.1 referrer (or the `sha256-<hex>` tag-schema index where the
//     registry lacks the referrers API). cosign v3 writes this by default.
//   - FormatBoth: both.
//
// Signing is offline unless a TransparencyLog is given; keyless signing
// requires one. The `.sig` tag is shared by every signer of a digest, so it
// is updated by read-modify-write, serialised per tag within the process
// and read back after each write, retrying when a concurrent writer in
// another process replaced it.
//
// Verify reads both formats and accepts an image when at least one
// signature satisfies a Policy: a public key (offline), or a keyless
// identity (issuer, subject, GitHub workflow extensions) checked against a
// trusted_root.json. A bundle must carry the cosign signature predicate
// type, so an attestation never passes as a signature. Rejections are
// *VerifyError values naming the failed check of each signature.
//
// All signing and verification is done with sigstore-go; registry access
// with go-containerregistry.
package signing
