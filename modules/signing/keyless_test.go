package signing

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/signing/oidc"
)

func keylessSigner(t testing.TB, f *fakeSigstore, token string) *KeylessSigner {
	t.Helper()
	s, err := NewKeylessSigner(oidc.Static(token), f.FulcioURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func githubIdentity() Identity {
	return Identity{
		Issuer:                   githubIssuer,
		SubjectRegexp:            `^https://github\.com/ferry-ci/ferry/\.github/workflows/release\.yml@refs/heads/main$`,
		GitHubWorkflowRepository: testRepo,
		GitHubWorkflowRef:        "refs/heads/main",
		GitHubWorkflowTrigger:    "push",
	}
}

func TestKeylessSignVerify(t *testing.T) {
	f := newFakeSigstore(t)
	tok := githubToken(t, "ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main", testRepo, "refs/heads/main", "push")
	for _, referrers := range []bool{true, false} {
		for _, format := range []Format{FormatLegacy, FormatBundle} {
			t.Run(fmt.Sprintf("%s/referrers=%v", format, referrers), func(t *testing.T) {
				host := newRegistry(t, referrers)
				d := pushRandom(t, host, "app")
				res, err := Sign(ctx, d, keylessSigner(t, f, tok), WithFormat(format), WithTransparencyLog(f.tlog()))
				if err != nil {
					t.Fatal(err)
				}
				if res.LogIndex < 0 {
					t.Fatalf("no log index in %+v", res)
				}
				p, err := KeylessPolicy(githubIdentity(), f.trusted(t), SkipSCTUnsafe())
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Verify(ctx, d, p)
				if err != nil {
					t.Fatal(err)
				}
				s := rep.Signatures[0]
				if s.Subject != testWorkflow || s.Issuer != githubIssuer || s.GitHubWorkflowRepository != testRepo ||
					s.GitHubWorkflowTrigger != "push" || s.LogIndex < 0 || time.Since(s.Time) > time.Minute || s.Format != format {
					t.Fatalf("report %+v", s)
				}
			})
		}
	}
}

func TestKeylessRejects(t *testing.T) {
	f := newFakeSigstore(t)
	tok := githubToken(t, "ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main", testRepo, "refs/heads/main", "push")
	for _, format := range []Format{FormatLegacy, FormatBundle} {
		host := newRegistry(t, true)
		good := pushRandom(t, host, "app")
		if _, err := Sign(ctx, good, keylessSigner(t, f, tok), WithFormat(format), WithTransparencyLog(f.tlog())); err != nil {
			t.Fatal(err)
		}
		// A certificate that had expired when the log saw the signature.
		expired := pushRandom(t, host, "app")
		f.SetCertWindow(time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
		_, err := Sign(ctx, expired, keylessSigner(t, f, tok), WithFormat(format), WithTransparencyLog(f.tlog()))
		f.SetCertWindow(time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		other := newFakeSigstore(t)
		tests := []struct {
			name   string
			digest func() string
			edit   func(*Identity)
			opts   []PolicyOption
			root   *fakeSigstore
			check  string
		}{
			{"wrong identity", nil, func(i *Identity) {
				i.SubjectRegexp = `^https://github\.com/ferry-ci/ferry/\.github/workflows/other\.yml@refs/heads/main$`
			}, nil, f, CheckSubject},
			{"wrong exact identity", nil, func(i *Identity) { i.SubjectRegexp, i.Subject = "", testWorkflow+"x" }, nil, f, CheckSubject},
			{"wrong issuer", nil, func(i *Identity) { i.Issuer = "https://accounts.google.com" }, nil, f, CheckIssuer},
			{"wrong repository", nil, func(i *Identity) { i.GitHubWorkflowRepository = "evil/ferry" }, nil, f, CheckRepository},
			{"wrong ref", nil, func(i *Identity) { i.GitHubWorkflowRef = "refs/heads/dev" }, nil, f, CheckRef},
			{"wrong trigger", nil, func(i *Identity) { i.GitHubWorkflowTrigger = "pull_request" }, nil, f, CheckTrigger},
			{"untrusted CA", nil, func(*Identity) {}, nil, other, CheckTlog},
			{"SCT required", nil, func(*Identity) {}, []PolicyOption{}, f, CheckSCT},
			{"expired certificate", func() string { return expired.String() }, func(*Identity) {}, nil, f, CheckCertificate},
		}
		for _, tc := range tests {
			t.Run(string(format)+"/"+tc.name, func(t *testing.T) {
				id := githubIdentity()
				tc.edit(&id)
				opts := tc.opts
				if opts == nil {
					opts = []PolicyOption{SkipSCTUnsafe()}
				}
				p, err := KeylessPolicy(id, tc.root.trusted(t), opts...)
				if err != nil {
					t.Fatal(err)
				}
				d := good
				if tc.digest != nil {
					d = expired
				}
				_, err = Verify(ctx, d, p)
				assertChecks(t, err, tc.check)
			})
		}
		// A key policy never accepts a keyless signature, and vice versa.
		t.Run(string(format)+"/key policy", func(t *testing.T) {
			_, err := Verify(ctx, good, keyPolicy(t, newKey(t)))
			assertChecks(t, err, CheckKey)
		})
	}
}

func TestKeylessPolicyInvalid(t *testing.T) {
	f := newFakeSigstore(t)
	tests := []struct {
		name string
		id   Identity
		want string
	}{
		{"no issuer", Identity{Subject: "x"}, "one of Issuer or IssuerRegexp is required"},
		{"no subject", Identity{Issuer: githubIssuer}, "one of Subject or SubjectRegexp is required"},
		{"both subject forms", Identity{Issuer: githubIssuer, Subject: "a", SubjectRegexp: "^a$"}, "both Subject and SubjectRegexp are set"},
		{"unanchored regexp", Identity{Issuer: githubIssuer, SubjectRegexp: "https://github.com/ferry-ci/.*"}, "must be anchored with ^ and $"},
		{"bad regexp", Identity{Issuer: githubIssuer, SubjectRegexp: "^(a$"}, "parsing SubjectRegexp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KeylessPolicy(tc.id, f.trusted(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestKeyWithRekor: a key signature may also be logged; a policy that
// requires the log then reports its index and time, and rejects an offline
// signature.
func TestKeyWithRekor(t *testing.T) {
	f := newFakeSigstore(t)
	k := newKey(t)
	for _, format := range []Format{FormatLegacy, FormatBundle} {
		t.Run(string(format), func(t *testing.T) {
			host := newRegistry(t, true)
			logged := pushRandom(t, host, "app")
			if _, err := Sign(ctx, logged, newKeySigner(t, k), WithFormat(format), WithTransparencyLog(f.tlog())); err != nil {
				t.Fatal(err)
			}
			p := keyPolicy(t, k, WithTlog(f.trusted(t)))
			rep, err := Verify(ctx, logged, p)
			if err != nil {
				t.Fatal(err)
			}
			if s := rep.Signatures[0]; s.LogIndex < 0 || s.Time.IsZero() {
				t.Fatalf("report %+v: want log index and time", s)
			}
			// The offline policy accepts it too.
			if _, err := Verify(ctx, logged, keyPolicy(t, k)); err != nil {
				t.Fatal(err)
			}
			offline := pushRandom(t, host, "app")
			mustSign(t, offline, k, format)
			_, err = Verify(ctx, offline, p)
			assertChecks(t, err, CheckTlog)
		})
	}
}

// TestKeylessFromGitHubActionsFake runs the whole keyless chain as on a
// GitHub runner: ACTIONS_ID_TOKEN_REQUEST_* (a fake token endpoint) ->
// Fulcio (fake) -> Rekor (VirtualSigstore) -> registry -> Verify.
func TestKeylessFromGitHubActionsFake(t *testing.T) {
	f := newFakeSigstore(t)
	tok := githubToken(t, "ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main", testRepo, "refs/heads/main", "push")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer runner-secret" || r.URL.Query().Get("audience") != "sigstore" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = fmt.Fprintf(w, `{"value":%q}`, tok)
	}))
	defer srv.Close()
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-secret")
	tokens, err := oidc.GitHubActionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewKeylessSigner(tokens, f.FulcioURL)
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, false)
	d := pushRandom(t, host, "app")
	if _, err := Sign(ctx, d, s, WithFormat(FormatBoth), WithTransparencyLog(f.tlog())); err != nil {
		t.Fatal(err)
	}
	p, err := KeylessPolicy(githubIdentity(), f.trusted(t), SkipSCTUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, d, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 {
		t.Fatalf("%d signatures, want legacy and bundle", len(rep.Signatures))
	}
}
