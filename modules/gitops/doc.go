// Package gitops promotes image digests into a GitOps deployments
// repository by pull request, and rolls them back by reverting the pin.
//
// One promotion target (an environment and a service, or a named batch) has
// one branch, promote/<env>/<service>, rebuilt from the latest base on every
// run: the overlay edit is a pure function of the base and the wanted
// digests, so a push rejected by a concurrent writer is simply rebuilt and
// pushed again with a lease (bounded backoff). The branch head's commit
// carries the promotion state in a hidden JSON block, which later runs read
// (a batch branch accumulates images) and from which the pull request body
// is always rendered, so concurrent runs converge on one pull request.
//
// Gates run before anything is pushed and fail closed: the digest exists in
// the registry, its signature verifies for the environment, and (for an
// environment with an upstream, production by default) the digest is the
// one the upstream overlay pins. The registry and signature checks are small
// interfaces (DigestChecker, SignatureVerifier) that the pipeline wires to
// modules/oci and modules/signing.
package gitops
