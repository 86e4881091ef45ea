// Package oci holds ferry's image vocabulary: references that cannot be
// illegal (Pinned always carries a sha256 digest; "latest" and tag-only
// references are refused where something will be deployed), the tag policy
// ({env}-{sha}-{service} and {service}-{fingerprint}) and the classification
// of failures into terminal and retryable (Classify).
//
// Sibling packages do the work, each taking typed inputs (paths, file
// lists, configs) rather than ferry's service catalog:
//   - fingerprint: the content address of a service's build inputs;
//   - registry: push by digest then tag, resolve, exists, copy, list,
//     referrers, with explicit keychains and a classified retry loop;
//   - embedded: the distribution registry in-process, persisted under a
//     folder, the native runner's default;
//   - dockerfile: what a Dockerfile's final stage declares (BuildKit parser);
//   - build: the daemonless, reproducible Go image build with an SBOM;
//   - internal/faultproxy: a fault-injecting proxy for tests;
//   - interop: tests only, against crane and podman;
//   - bench: ferry vs ko timings (bench/run.sh, results in docs/benchmarks-oci.md).
package oci
