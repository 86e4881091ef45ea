// Package contract is the service catalog: it finds the services of a
// repository, reads and validates each one's service.yaml (its contract,
// see docs/service-yaml.md), probes a running service's health endpoints,
// and says which services a change between two git revisions affects.
//
// # Catalog
//
// A service is a folder services/<name>/ holding a service.yaml. Discover
// (or DiscoverFS over any fs.FS rooted at the repository) loads every one
// and returns a Catalog of typed Service values whose paths are all
// repository-relative slash paths: the Dockerfile, the build context, the
// resolved build inputs, the Go module and main package of the daemonless
// build, the base manifest folder. The pipeline asks the catalog; it never
// reads service.yaml itself.
//
// Decoding is strict. A walk over the YAML node tree checks every key and
// the shape of every value against the schema before anything is decoded,
// so an unknown field, a duplicate key or a string where a number belongs
// is reported with its full dotted path and line ("build.go.mian: unknown
// field"), which yaml.v3's KnownFields cannot do. Then the rules of the
// schema run. Every problem of every service is collected (errors.Join) so
// one run shows them all; each is a *FieldError rendered as
// "services/x/service.yaml: health.port: 70000 is out of range 1..65535
// (line 6)". They are terminal (IsTerminal): no retry can fix them.
// Secret env defaults are never echoed.
//
// Build inputs (Build.Files) are the files of the build context that
// build.inputs match and the context's .dockerignore does not exclude. Both
// use the pattern rules of Docker's own matcher (moby/patternmatcher), so a
// glob means here what it means to docker build.
//
// # Probe
//
// Probe checks a running service: /livez 200, /readyz 200 (or 503 with
// WithStartingAllowed), /version a JSON object of exactly the string keys
// sha, service, buildTs and imageDigest. Every check runs and is reported;
// failures are *CheckError values classified as retryable (no answer, 5xx:
// the service may be starting) or contract violations
// (ErrContractViolation), so a caller knows whether waiting can help.
//
// # Affected services
//
// Affected compares two commits with go-git and returns the services the
// change touches, each with the reasons (a file in its folder, a file of a
// Go module it builds with, a file its Dockerfile reads, a file matching a
// glob declared with WithAffectsAll). Everything is read from the committed
// tree of the target revision through an fs.FS over git objects, not from
// the work tree, so the answer depends on the two revisions only.
//
// Go module dependencies follow go.mod local replace directives and the
// go.work use list (a workspace module counts when the service's go.mod
// requires its path), transitively; a file in a nested module belongs to
// that module, not to the folder around it. Dockerfile sources come from a
// small reader of COPY, ADD and RUN --mount=type=bind (COPY --from reads
// nothing from the context); when a source is unknowable (a variable) it
// counts as the whole context, so doubt makes a service affected, never
// skipped. Files that affect every service are never hard-coded: the
// caller passes them from its configuration.
//
// The tree diff is our own: it descends only into folders whose hashes
// differ and never reads a blob, and its decoded trees are reused by the
// catalog. On a generated 200-service monorepo Affected costs about 135 ms
// of CPU (see BenchmarkAffected).
package contract
