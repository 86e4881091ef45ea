// Package policy holds the plain-Go rules of the Dagger module's functions:
// service names, the tag policy, registry addresses, build args, OCI labels
// and cache volume names. It imports nothing from Dagger, so its tests run
// without the stand-ins and package main stays a thin layer of Dagger calls.
//
// TODO(issue 6): move the tag policy and reference helpers to modules/oci
// (oci.EnvTag, oci.ValidateService) once ci/go.mod can replace it with
// ../modules/oci; this copy follows the same rules.
package policy

import (
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
