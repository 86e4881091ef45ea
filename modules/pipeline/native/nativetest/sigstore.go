package nativetest

import (
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/signing/signingtest"
)

// FakeIssuer and FakeIdentity are the OIDC issuer and the certificate
// identity of the tokens Token makes: a GitHub Actions release workflow.
const (
	FakeIssuer   = signingtest.FakeIssuer
	FakeIdentity = signingtest.FakeIdentity
)

// Sigstore is an offline Fulcio and Rekor over HTTP (FulcioURL, RekorURL,
// TrustedRoot); see signingtest.Sigstore.
type Sigstore = signingtest.Sigstore

// StartSigstore starts the fake Fulcio and Rekor.
func StartSigstore(t testing.TB) *Sigstore {
	t.Helper()
	return signingtest.StartSigstore(t)
}

// Token is an unsigned JWT shaped like a GitHub Actions OIDC token for
// FakeIdentity, expiring in hours (Fulcio checks the signature; the fake
// does not).
func Token(t testing.TB, hours int) string {
	t.Helper()
	return signingtest.FakeReleaseToken(t, time.Duration(hours)*time.Hour)
}
