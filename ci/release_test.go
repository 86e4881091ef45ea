package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/fakeengine"
	"dagger/ci/internal/policy"
)

const releaseIdentity = "https://github.com/ferry-ci/ferry/.github/workflows/dagger.yml@refs/heads/main"

// releaseKeyless runs Release as release.yml does: keyless on GitHub
// Actions, registry and forge tokens from the job.
func releaseKeyless(m *Ci, forgeToken *dagger.Secret) (string, error) {
	password := dag.SetSecret("registry-password", fakePassword)
	return m.Release(context.Background(), "scheduler-worker", "staging", "ghcr.io/ferry-ci", "bot", password, "abcdef0123456789", "",
		nil, nil, nil, true, nil, dag.SetSecret("oidc-url", fakeOIDCURL), dag.SetSecret("oidc-request-token", fakeOIDCToken),
		releaseIdentity, "", defaultOIDCIssuer, fakeDeployments, "github", forgeToken, "")
}

// step names the pipeline step a recorded query belongs to ("" when it
// runs nothing).
func step(q fakeengine.Query) string {
	switch args := lastExec(q.Chain); {
	case q.Chain.Leaf().Name == "publish":
		return "push"
	case len(args) == 0:
		return ""
	case slices.Equal(args, []string{"go", "test", "./..."}):
		return "test"
	case slices.Contains(args, "cosign") && slices.Contains(args, "sign"):
		return "sign"
	case slices.Contains(args, "cosign") && slices.Contains(args, "verify"):
		return "verify"
	case slices.Contains(args, "./cmd/ci"):
		return args[3]
	}
	return ""
}

func steps(e *fakeengine.Engine) []string {
	var out []string
	for _, q := range e.Queries() {
		if s := step(q); s != "" && q.Chain.Leaf().Name != "id" {
			out = append(out, s)
		}
	}
	return out
}

// unsignedUntilSigned answers cosign verify with "no signatures" until a
// cosign sign has run, then with a verified payload.
func unsignedUntilSigned(e *fakeengine.Engine) fakeengine.Answer {
	return func(q fakeengine.Query) (any, bool, error) {
		if q.Chain.Leaf().Name != "stdout" || step(q) != "verify" {
			return nil, false, nil
		}
		if !slices.Contains(steps(e), "sign") {
			return nil, true, fakeengine.ExecError(lastExec(q.Chain), 10, "", "Error: no signatures found")
		}
		return `[{"critical":{"identity":{}}}]`, true, nil
	}
}

func TestFakeEngineRelease(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(unsignedUntilSigned(e))
	e.Handle(stdoutOf(`{"service":"scheduler-worker","env":"staging","action":"created","pullRequest":{"number":7}}`, nil, "promote-pr"))

	out, err := releaseKeyless(newFakeCi(), dag.SetSecret("forge-token", fakeForgeToken))
	if err != nil {
		t.Fatalf("Release() = %v", err)
	}
	if got, want := steps(e), []string{"test", "push", "verify", "sign", "verify", "promote-pr"}; !slices.Equal(got, want) {
		t.Fatalf("steps = %q, want %q:\n%s", got, want, dump(e))
	}

	var res releaseResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("Release() = %s: %v", out, err)
	}
	published := onlyLeaf(t, e, "publish")
	if got := published.Chain.Leaf().Arg("address"); got != "ghcr.io/ferry-ci/scheduler-worker:staging-abcdef0-scheduler-worker" {
		t.Errorf("published address = %q", got)
	}
	if !strings.HasPrefix(res.Image, "ghcr.io/ferry-ci/scheduler-worker@sha256:") {
		t.Fatalf("image = %q, want the pushed digest reference", res.Image)
	}
	// Every step after Push speaks the digest Push returned.
	for _, q := range e.Queries() {
		switch s := step(q); s {
		case "sign", "verify", "promote-pr":
			if args := lastExec(q.Chain); !slices.Contains(args, res.Image) {
				t.Errorf("%s runs %q, not on the pushed digest %s", s, args, res.Image)
			}
		}
	}
	if want, _ := policy.SignatureTag(res.Image); res.Signature != want || !res.Signed {
		t.Errorf("signature = %q (signed %v), want %q signed now", res.Signature, res.Signed, want)
	}
	if compact(t, res.Verified) != `[{"critical":{"identity":{}}}]` || !strings.Contains(compact(t, res.Promotion), `"number":7`) {
		t.Errorf("result = %s, want cosign's verification and the runner's promotion", out)
	}
	for _, q := range e.Queries() {
		switch s := step(q); s {
		case "sign":
			if got := secretNames(t, e, q.Chain); !equalMaps(got, map[string]string{"$ACTIONS_ID_TOKEN_REQUEST_URL": "oidc-url",
				"$ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-request-token", "$REGISTRY_PASSWORD": "registry-password"}) {
				t.Errorf("sign secrets = %v", got)
			}
		case "verify":
			if args := lastExec(q.Chain); !slices.Contains(args, releaseIdentity) {
				t.Errorf("verify = %q, want the workflow identity", args)
			}
		case "promote-pr":
			if got := secretNames(t, e, q.Chain); !equalMaps(got, map[string]string{"$" + forgeTokenVariable: "forge-token",
				"$" + registryPasswordVariable: "registry-password"}) {
				t.Errorf("promote-pr secrets = %v", got)
			}
			if args := strings.Join(lastExec(q.Chain), " "); !strings.Contains(args, "--keyless --certificate-oidc-issuer "+defaultOIDCIssuer+" --certificate-identity "+releaseIdentity) {
				t.Errorf("promote-pr = %q: its gate must require the signer Verify required", args)
			}
		}
	}
	assertNoSecretInQueries(t, e, fakePassword, fakeOIDCURL, fakeOIDCToken, fakeForgeToken)
}

func TestFakeEngineReleaseStopsAtFailedStep(t *testing.T) {
	tests := []struct {
		name, failing string
		want          []string
	}{
		{name: "tests fail", failing: "test", want: []string{"test"}},
		{name: "signing fails", failing: "sign", want: []string{"test", "push", "verify", "sign"}},
		{name: "verification fails", failing: "verify", want: []string{"test", "push", "verify", "sign", "verify"}},
		{name: "promotion fails", failing: "promote-pr", want: []string{"test", "push", "verify", "sign", "verify", "promote-pr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			e.Handle(func(q fakeengine.Query) (any, bool, error) {
				if q.Chain.Leaf().Name == "stdout" && step(q) == tt.failing {
					return nil, true, fakeengine.ExecError(lastExec(q.Chain), 1, "", tt.failing+" failed")
				}
				return nil, false, nil
			})
			e.Handle(unsignedUntilSigned(e))
			_, err := releaseKeyless(newFakeCi(), dag.SetSecret("forge-token", fakeForgeToken))
			step := map[string]string{"test": "test", "sign": "sign", "verify": "verify", "promote-pr": "promote"}[tt.failing]
			if err == nil || !strings.Contains(err.Error(), `releasing "scheduler-worker": step `+step+":") {
				t.Fatalf("Release() = %v, want the failed step %s named", err, step)
			}
			if got := steps(e); !slices.Equal(got, tt.want) {
				t.Errorf("steps = %q, want %q: nothing after the failed step runs", got, tt.want)
			}
		})
	}
}

func TestFakeEngineReleaseKeepsAnAcceptedSignature(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(stdoutOf(`[{"critical":{}}]`, nil, "verify"))
	out, err := releaseKeyless(newFakeCi(), dag.SetSecret("forge-token", fakeForgeToken))
	if err != nil {
		t.Fatalf("Release() = %v", err)
	}
	if got, want := steps(e), []string{"test", "push", "verify", "promote-pr"}; !slices.Equal(got, want) {
		t.Fatalf("steps = %q, want %q: a digest already signed is not signed again", got, want)
	}
	var res releaseResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if want, _ := policy.SignatureTag(res.Image); res.Signed || res.Signature != want {
		t.Errorf("signature = %q (signed %v), want the existing %q, not signed now", res.Signature, res.Signed, want)
	}
}

func TestFakeEngineReleaseChecksEveryInputBeforePushing(t *testing.T) {
	tests := []struct {
		name, wantError string
		forgeToken      bool
		identity        string
	}{
		{name: "no forge token", identity: releaseIdentity, wantError: "give --forge-token"},
		{name: "keyless without identity", forgeToken: true, wantError: "--certificate-identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			var token *dagger.Secret
			if tt.forgeToken {
				token = dag.SetSecret("forge-token", fakeForgeToken)
			}
			_, err := newFakeCi().Release(context.Background(), "migrator", "staging", "ghcr.io/ferry-ci", "", nil, "abcdef0", "",
				nil, nil, nil, true, dag.SetSecret("oidc-token", fakeIDToken), nil, nil, tt.identity, "", defaultOIDCIssuer,
				fakeDeployments, "github", token, "")
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("Release() = %v, want ErrInvalid with %q", err, tt.wantError)
			}
			if got := steps(e); len(got) != 0 {
				t.Fatalf("Release() ran %q before refusing its input", got)
			}
		})
	}
}

func TestFakeEngineReleaseWithKey(t *testing.T) {
	e := fakeengine.Start(t)
	_, err := newFakeCi().Release(context.Background(), "migrator", "staging", "registry.example.test:5000/team", "", nil, "abcdef0", "",
		dag.SetSecret("cosign-key", fakeKey), dag.SetSecret("cosign-password", fakeKeyPassword), dag.LoadFileFromID("public-key-id"),
		false, nil, nil, nil, "", "", defaultOIDCIssuer, fakeDeployments, "gitea", dag.SetSecret("forge-token", fakeForgeToken), "")
	if err != nil {
		t.Fatalf("Release() = %v", err)
	}
	for _, q := range e.Queries() {
		switch s := step(q); s {
		case "sign":
			if got := secretNames(t, e, q.Chain); !equalMaps(got, map[string]string{cosignKeyPath: "cosign-key", "$COSIGN_PASSWORD": "cosign-password"}) {
				t.Errorf("sign secrets = %v", got)
			}
		case "verify":
			if args := lastExec(q.Chain); !slices.Contains(args, cosignPubPath) {
				t.Errorf("verify = %q, want the public key", args)
			}
		case "promote-pr":
			if args := lastExec(q.Chain); slices.Contains(args, "--keyless") || !slices.Contains(args, "--public-key") {
				t.Errorf("promote-pr = %q: a key release is not keyless, and its gates check Verify's key", args)
			}
			mounted := q.Chain.All("withMountedFile")
			if len(mounted) != 1 || mounted[0].Arg("path") != runnerPublicKeyPath ||
				resolve(t, e, mounted[0], "source").String() != `loadFileFromID(id:"public-key-id")` {
				t.Errorf("promote-pr mounts %v, want the --public-key file at %s", mounted, runnerPublicKeyPath)
			}
		}
	}
	assertNoSecretInQueries(t, e, fakeKey, fakeKeyPassword, fakeForgeToken)
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compacting %s: %v", raw, err)
	}
	return b.String()
}
