package oci

import (
	"fmt"
	"strings"
)

// ShortSHALength is the number of commit hex characters in an env tag.
const ShortSHALength = 7

// EnvTag returns the tag "{env}-{sha}-{service}", for example
// "prod-abc1234-scheduler-worker". env is a lowercase word without hyphens
// (so the tag splits back unambiguously), sha a git commit of at least 7 hex
// characters (shortened to 7), service a DNS label.
func EnvTag(env, sha, service string) (string, error) {
	if err := validateEnv(env); err != nil {
		return "", err
	}
	if err := validateSHA(sha); err != nil {
		return "", err
	}
	if err := ValidateService(service); err != nil {
		return "", err
	}
	tag := env + "-" + sha[:ShortSHALength] + "-" + service
	if err := validateTag(tag, tag); err != nil {
		return "", err
	}
	return tag, nil
}

// FingerprintTag returns the content-addressed tag "{service}-{fingerprint}".
// fingerprint is lowercase hex (see package fingerprint).
func FingerprintTag(service, fingerprint string) (string, error) {
	if err := ValidateService(service); err != nil {
		return "", err
	}
	if len(fingerprint) < 16 || !isLowerHex(fingerprint) {
		return "", &ReferenceError{Input: fingerprint, Reason: "fingerprint must be at least 16 lowercase hex characters"}
	}
	tag := service + "-" + fingerprint
	if err := validateTag(tag, tag); err != nil {
		return "", err
	}
	return tag, nil
}

// ValidateService checks a service name: a DNS label (RFC 1123) of at most
// 63 characters, lowercase letters, digits and inner hyphens.
func ValidateService(service string) error {
	bad := func(reason string) error {
		return &ReferenceError{Input: service, Reason: "service name " + reason}
	}
	if service == "" {
		return bad("is empty")
	}
	if len(service) > 63 {
		return bad(fmt.Sprintf("is %d characters, at most 63 allowed", len(service)))
	}
	if strings.HasPrefix(service, "-") || strings.HasSuffix(service, "-") {
		return bad("must not start or end with a hyphen")
	}
	for _, c := range service {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return bad(fmt.Sprintf("has %q; only lowercase letters, digits and hyphens are allowed", c))
		}
	}
	return nil
}

func validateEnv(env string) error {
	bad := func(reason string) error {
		return &ReferenceError{Input: env, Reason: "environment name " + reason}
	}
	if env == "" {
		return bad("is empty")
	}
	if len(env) > 32 {
		return bad("is longer than 32 characters")
	}
	if env[0] < 'a' || env[0] > 'z' {
		return bad("must start with a lowercase letter")
	}
	for _, c := range env {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return bad(fmt.Sprintf("has %q; only lowercase letters and digits are allowed", c))
		}
	}
	return nil
}

func validateSHA(sha string) error {
	if len(sha) < ShortSHALength || len(sha) > 64 || !isLowerHex(sha) {
		return &ReferenceError{Input: sha, Reason: "commit sha must be 7 to 64 lowercase hex characters"}
	}
	return nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
