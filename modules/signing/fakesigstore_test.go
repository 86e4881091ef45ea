package signing

import (
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/ferry-ci/ferry/modules/signing/signingtest"
)

const (
	githubIssuer = signingtest.FakeIssuer
	testRepo     = signingtest.FakeRepo
	testWorkflow = signingtest.FakeIdentity
)

// fakeSigstore is signingtest's offline Fulcio and Rekor, with the
// package's own views of it: its trusted root loaded by LoadTrustedRoot
// and its Rekor as a TransparencyLog, so sigstore-go's own Fulcio and
// Rekor clients run.
type fakeSigstore struct {
	*signingtest.Sigstore
}

func newFakeSigstore(t testing.TB) *fakeSigstore {
	t.Helper()
	return &fakeSigstore{signingtest.StartSigstore(t)}
}

func (f *fakeSigstore) trusted(t testing.TB) root.TrustedMaterial {
	t.Helper()
	tm, err := LoadTrustedRoot(f.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// tlog returns a TransparencyLog backed by the virtual Rekor.
func (f *fakeSigstore) tlog() TransparencyLog {
	return sign.NewRekor(&sign.RekorOptions{Client: f.RekorClient(), Version: 1})
}

// githubToken is an unsigned JWT shaped like a GitHub Actions OIDC token,
// valid for an hour (Fulcio verifies the signature; this fake does not).
func githubToken(t testing.TB, workflowRef, repo, ref, event string) string {
	t.Helper()
	return signingtest.FakeToken(t, workflowRef, repo, ref, event, time.Hour)
}
