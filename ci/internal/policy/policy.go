// Package policy holds the plain-Go rules of the Dagger module's functions:
// service names, the tag policy, registry addresses, build args, OCI labels,
// cache volume names, signature tags, signer identities and the plan the
// native runner prints. It imports nothing from Dagger, so its tests run
// without the stand-ins and package main stays a thin layer of Dagger calls.
//
// TODO(issue 6): move the tag policy and reference helpers to modules/oci
// (oci.EnvTag, oci.ValidateService) once ci/go.mod can replace it with
// ../modules/oci; this copy follows the same rules.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ShortSHALength is the number of commit hex characters in an env tag.
const ShortSHALength = 7

// DefaultBuildTS is the BUILD_TS of a build that names none: a fixed instant
// keeps builds of one commit reproducible (the same idea as SOURCE_DATE_EPOCH=0).
const DefaultBuildTS = "1970-01-01T00:00:00Z"

// CacheNamespace prefixes every cache volume the module mounts; the engine
// shares volumes by name, so the prefix keeps ours apart from other modules'.
const CacheNamespace = "ferry-ci-"

// ErrInvalid marks bad input: terminal, never retried.
var ErrInvalid = errors.New("invalid input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidateService checks a service name: a DNS label (RFC 1123) of at most
// 63 characters, lowercase letters, digits and inner hyphens, so it is safe
// as a path element, a repository name and a tag part.
func ValidateService(service string) error {
	switch {
	case service == "":
		return invalid("service name is empty")
	case len(service) > 63:
		return invalid("service name %q is %d characters, at most 63 allowed", service, len(service))
	case strings.HasPrefix(service, "-") || strings.HasSuffix(service, "-"):
		return invalid("service name %q must not start or end with a hyphen", service)
	}
	for _, c := range service {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return invalid("service name %q has %q; only lowercase letters, digits and hyphens are allowed", service, c)
		}
	}
	return nil
}

// ServiceDir is the folder of a service in the repository.
func ServiceDir(service string) string { return "services/" + service }

// ValidateEnv checks an environment name: a lowercase word of letters and
// digits without hyphens, so an env tag splits back unambiguously.
func ValidateEnv(env string) error {
	if env == "" {
		return invalid("environment name is empty")
	}
	if len(env) > 32 {
		return invalid("environment name %q is longer than 32 characters", env)
	}
	if env[0] < 'a' || env[0] > 'z' {
		return invalid("environment name %q must start with a lowercase letter", env)
	}
	for _, c := range env {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return invalid("environment name %q has %q; only lowercase letters and digits are allowed", env, c)
		}
	}
	return nil
}

// ValidateSHA checks a git commit: 7 to 64 lowercase hex characters.
func ValidateSHA(sha string) error {
	if len(sha) < ShortSHALength || len(sha) > 64 || !isLowerHex(sha) {
		return invalid("commit %q must be 7 to 64 lowercase hex characters", sha)
	}
	return nil
}

// ValidateBuildTS checks a build timestamp: RFC 3339 in UTC, e.g. 2026-11-27T08:00:00Z.
func ValidateBuildTS(ts string) error {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || t.Format(time.RFC3339) != ts {
		return invalid("build timestamp %q must be RFC 3339 in UTC, like %s", ts, DefaultBuildTS)
	}
	return nil
}

// EnvTag returns the tag "{env}-{sha}-{service}" with the commit shortened
// to ShortSHALength characters, e.g. "staging-abc1234-scheduler-worker".
func EnvTag(env, sha, service string) (string, error) {
	if err := ValidateEnv(env); err != nil {
		return "", err
	}
	if err := ValidateSHA(sha); err != nil {
		return "", err
	}
	if err := ValidateService(service); err != nil {
		return "", err
	}
	return env + "-" + sha[:ShortSHALength] + "-" + service, nil
}

// ValidateRegistry checks a registry repository prefix such as
// "ghcr.io/ferry-ci" or "127.0.0.1:5000/team": a host, optionally with a
// port, then lowercase path components; no scheme, tag or digest.
func ValidateRegistry(registry string) error {
	if registry == "" {
		return invalid("registry is empty")
	}
	if strings.Contains(registry, "://") {
		return invalid("registry %q must not have a scheme", registry)
	}
	if strings.ContainsAny(registry, "@ \t") || strings.HasSuffix(registry, "/") {
		return invalid("registry %q must be host[:port][/path] without a digest, spaces or a trailing slash", registry)
	}
	host, path, _ := strings.Cut(registry, "/")
	if host == "" || strings.ContainsAny(host, "_") {
		return invalid("registry %q has no valid host", registry)
	}
	if path != "" && strings.ContainsAny(path, ":ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return invalid("registry %q: its path must be lowercase and carry no tag", registry)
	}
	return nil
}

// RegistryHost is the host[:port] of a registry prefix, the key of its credentials.
func RegistryHost(registry string) string {
	host, _, _ := strings.Cut(registry, "/")
	return host
}

// Address returns "{registry}/{service}:{tag}", the address Push publishes to.
func Address(registry, service, tag string) string {
	return registry + "/" + service + ":" + tag
}

// ValidateDigestAddress checks what a publish returns: an address pinned by
// a sha256 digest ("repo[:tag]@sha256:<64 hex>").
func ValidateDigestAddress(ref string) error {
	_, digest, ok := strings.Cut(ref, "@")
	hexPart, found := strings.CutPrefix(digest, "sha256:")
	if !ok || !found || len(hexPart) != 64 || !isLowerHex(hexPart) {
		return invalid("published address %q is not pinned by a sha256 digest", ref)
	}
	return nil
}

// Arg is a name and value pair: a build arg or an image label.
type Arg struct {
	Name  string
	Value string
}

// BuildArgs are the build args every service's Dockerfile receives.
func BuildArgs(sha, buildTS string) []Arg {
	return []Arg{{Name: "GIT_SHA", Value: sha}, {Name: "BUILD_TS", Value: buildTS}}
}

// Labels are the OCI image labels of a service's image, in a fixed order.
func Labels(service, sha, buildTS string) []Arg {
	return []Arg{
		{Name: "org.opencontainers.image.created", Value: buildTS},
		{Name: "org.opencontainers.image.revision", Value: sha},
		{Name: "org.opencontainers.image.title", Value: service},
		{Name: "org.opencontainers.image.vendor", Value: "ferry"},
	}
}

// CacheVolume returns the namespaced name of a cache volume, e.g. "ferry-ci-go-mod".
func CacheVolume(purpose string) string { return CacheNamespace + purpose }

// ServiceFromEntry turns a Directory.Entries item of services/ into a
// candidate service name (engines list folders with a trailing slash);
// entries that cannot be service names, like README.md, are not.
func ServiceFromEntry(entry string) (string, bool) {
	name := strings.TrimSuffix(entry, "/")
	if ValidateService(name) != nil {
		return "", false
	}
	return name, true
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// DigestReference turns what a publish returns ("repo[:tag]@sha256:...")
// into the reference the rest of the pipeline speaks: "repo@sha256:...".
func DigestReference(published string) (string, error) {
	if err := ValidateDigestAddress(published); err != nil {
		return "", err
	}
	name, digest, _ := strings.Cut(published, "@")
	slash := strings.LastIndex(name, "/")
	if colon := strings.LastIndex(name, ":"); colon > slash {
		name = name[:colon]
	}
	return name + "@" + digest, nil
}

// SignatureTag returns where cosign's legacy signature of a digest
// reference lives: "{repo}:sha256-{hex}.sig".
func SignatureTag(ref string) (string, error) {
	if err := ValidateDigestAddress(ref); err != nil {
		return "", err
	}
	name, digest, _ := strings.Cut(ref, "@")
	return name + ":" + strings.Replace(digest, ":", "-", 1) + ".sig", nil
}

// ValidateImageRef checks an image reference the module pulls a tool from:
// it must be pinned by a sha256 digest, so a moved tag cannot change what
// signs or verifies.
func ValidateImageRef(flag, ref string) error {
	if err := ValidateDigestAddress(ref); err != nil {
		return invalid("--%s %q must be pinned by a sha256 digest (name@sha256:<64 hex>)", flag, ref)
	}
	return nil
}

// ValidateIdentity checks a keyless signer identity: an exact certificate
// identity or an anchored regular expression, and an OIDC issuer URL.
func ValidateIdentity(identity, identityRegexp, issuer string) error {
	if (identity == "") == (identityRegexp == "") {
		return invalid("keyless verification needs one of --certificate-identity or --certificate-identity-regexp")
	}
	if identityRegexp != "" && (!strings.HasPrefix(identityRegexp, "^") || !strings.HasSuffix(identityRegexp, "$")) {
		return invalid("--certificate-identity-regexp %q must be anchored with ^ and $", identityRegexp)
	}
	if !strings.HasPrefix(issuer, "https://") {
		return invalid("--certificate-oidc-issuer %q must be an https URL", issuer)
	}
	return nil
}

// PlanServices reads what `ci plan --output json` prints (a JSON list of
// targets with a "service" field) and returns the service names in order,
// the list release.yml feeds to its matrix.
func PlanServices(planJSON string) ([]string, error) {
	var targets []struct {
		Service string `json:"service"`
	}
	if err := json.Unmarshal([]byte(planJSON), &targets); err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	names := make([]string, 0, len(targets))
	for i, t := range targets {
		if err := ValidateService(t.Service); err != nil {
			return nil, fmt.Errorf("reading the plan: target %d: %w", i, err)
		}
		names = append(names, t.Service)
	}
	return names, nil
}

// ZeroRevision is what GitHub sends as the "before" of a push that created
// the branch: no base to diff against, so every service is planned.
const ZeroRevision = "0000000000000000000000000000000000000000"

// ValidateRevision checks a git revision given to Plan: a commit hash
// (abbreviated or full), or a branch or tag name without shell syntax or
// option-like prefix.
func ValidateRevision(flag, rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.Contains(rev, "..") {
		return invalid("--%s %q is not a revision", flag, rev)
	}
	for _, c := range rev {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-", c)) {
			return invalid("--%s %q: a revision is letters, digits and /._-", flag, rev)
		}
	}
	return nil
}

// ValidateFlagValue checks a value the module passes on to a command line
// (the native runner's or cosign's): not empty, no leading hyphen (it would
// read as an option) and no whitespace or control characters.
func ValidateFlagValue(flag, value string) error {
	if value == "" {
		return invalid("--%s is empty", flag)
	}
	if strings.HasPrefix(value, "-") {
		return invalid("--%s %q must not start with a hyphen", flag, value)
	}
	for _, c := range value {
		if c <= ' ' || c == 0x7f {
			return invalid("--%s %q must not contain whitespace or control characters", flag, value)
		}
	}
	return nil
}
