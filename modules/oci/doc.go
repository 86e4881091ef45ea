// Package oci holds ferry's image vocabulary: references that cannot be
// illegal (Pinned always carries a sha256 digest; "latest" and tag-only
// references are refused where something will be deployed), the tag policy
// ({env}-{sha}-{service} and {service}-{fingerprint}) and the classification
// of failures into terminal and retryable.
//
// Sibling packages do the work: fingerprint hashes build inputs, registry
// talks to OCI registries, embedded runs a distribution registry in-process,
// build makes daemonless images of Go services, dockerfile reads what a
// service's Dockerfile declares.
package oci
