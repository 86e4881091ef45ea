// Package build is the native runner's Build: a daemonless image build for
// Go services. It runs `go build` per platform with reproducible flags
// (-trimpath, -buildvcs=false, CGO_ENABLED=0, -ldflags "-s -w -buildid=" and
// -X for the commit and the build time, SOURCE_DATE_EPOCH from the commit
// time), layers each binary onto a base (an image or index given by digest,
// or the built-in base: the host's CA bundle, a passwd with nonroot 65532,
// /tmp), configures user, entrypoint, ports, labels and env as the service's
// Dockerfile declares them (FromDockerfile), and pushes one OCI image index
// with an SPDX 2.3 SBOM beside it (an OCI 1.1 referrer with the index as
// subject, plus the tag sha256-<hex>.sbom). When the {service}-{fingerprint}
// tag already exists, Build returns its digest and builds nothing.
//
// Reproducible: every timestamp is the commit time (the built-in base uses
// the Unix epoch), tar entries are sorted with fixed owners and modes, gzip
// output is deterministic, so equal inputs give an equal index digest.
//
// # Why not ko's build package
//
// ko (github.com/google/ko/pkg/build) does the same core job and was
// weighed. This package is ~500 lines on go-containerregistry instead,
// because:
//   - dependencies: ko v0.19.1 pulls in cosign, sigstore-go, the AWS, Azure
//     and Google credential helpers, kind and the Docker client (its cold
//     `go install` took 29 minutes here); ferry already has ggcr;
//   - inputs: ko takes import paths and reads .ko.yaml and KO_* variables;
//     ferry's inputs are typed (service.yaml, the Dockerfile's final stage,
//     the commit), and the user, ports and labels must come from the
//     Dockerfile, which ko does not read;
//   - policy: the fingerprint skip, the tag policy, push-by-digest-then-tag
//     and the retry classification live in ferry's registry client, while
//     ko's publishers tag as they push;
//   - SBOM: ko writes its SBOM through cosign's attachment layout; ferry
//     writes an OCI 1.1 referrer with a tag fallback that any registry holds.
//
// What ko offers that this package does not (yet): per-package build
// parallelism across many services, kodata/ static files, and ko's
// debug-image variant.
package build
