package main

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/fakeengine"
	"dagger/ci/internal/policy"
)

const (
	fakeForgeToken  = "ghp_fakeforgetoken0123456789"
	fakeDeployments = "https://github.com/ferry-ci/ferry.git"
)

// assertNativeRunner checks the container the native runner runs in: the
// pinned Go image with the caches, toolchain switching allowed, src at
// /repo, and a per-run nonce when the command must run fresh.
func assertNativeRunner(t *testing.T, e *fakeengine.Engine, c fakeengine.Chain, src string, fresh bool) {
	t.Helper()
	if c[1].Arg("address") != goImage {
		t.Errorf("chain starts %s, want container.from(%s)", c[:2], goImage)
	}
	var caches []string
	for _, f := range c.All("withMountedCache") {
		caches = append(caches, f.Arg("path")+"="+resolve(t, e, f, "cache").Leaf().Arg("key"))
	}
	if want := []string{"/go/pkg/mod=ferry-ci-go-mod", "/root/.cache/go-build=ferry-ci-go-build"}; !slices.Equal(caches, want) {
		t.Errorf("caches = %q, want %q", caches, want)
	}
	env := envOf(c)
	if env["GOTOOLCHAIN"] != "auto" || env["GOFLAGS"] != "-mod=readonly" {
		t.Errorf("env = %v, want GOTOOLCHAIN=auto and GOFLAGS=-mod=readonly", env)
	}
	if _, nonce := env[runIDVariable]; nonce != fresh || nonce && len(env[runIDVariable]) != 16 {
		t.Errorf("%s = %q: want a run nonce %v", runIDVariable, env[runIDVariable], fresh)
	}
	dirs := c.All("withDirectory")
	if len(dirs) != 1 || dirs[0].Arg("path") != runnerRoot {
		t.Fatalf("withDirectory = %v, want the repository at %s", dirs, runnerRoot)
	}
	if got := resolve(t, e, dirs[0], "source").String(); got != src {
		t.Errorf("%s = %s, want %s", runnerRoot, got, src)
	}
}

// runnerArgs is the native runner's command line for command and args.
func runnerArgs(command string, args ...string) []string {
	out := append([]string{"go", "run", "./cmd/ci", command}, args...)
	return append(out, "--root", "/repo", "--output", "json")
}

func TestFakeEngineRunnerCommands(t *testing.T) {
	const source = `loadDirectoryFromID(id:"source-id")`
	tests := []struct {
		name        string
		call        func(m *Ci, token, password *dagger.Secret) (string, error)
		wantArgs    []string
		wantSecrets map[string]string
		wantEnv     map[string]string
		wantFiles   map[string]string // mounted path -> source
	}{
		{
			name: "promote-pr",
			call: func(m *Ci, token, _ *dagger.Secret) (string, error) {
				return m.PromotePR(context.Background(), "scheduler-worker", fakeRef, "staging", fakeDeployments, "github", token, "", nil,
					releaseIdentity, "", defaultOIDCIssuer, nil)
			},
			wantArgs: runnerArgs("promote-pr", "--service", "scheduler-worker", "--image", fakeRef, "--env", "staging",
				"--deployments", fakeDeployments, "--forge", "github",
				"--keyless", "--certificate-oidc-issuer", defaultOIDCIssuer, "--certificate-identity", releaseIdentity),
			wantSecrets: map[string]string{"$" + forgeTokenVariable: "forge-token"},
		},
		{
			name: "promote with registry credentials",
			call: func(m *Ci, token, password *dagger.Secret) (string, error) {
				return m.Promote(context.Background(), "migrator", "staging", "production", fakeDeployments, "gitea", token, "ghcr.io/ferry-ci", "bot", password,
					"", `^https://gitea\.example\.test/.*$`, "https://gitea.example.test", nil)
			},
			wantArgs: runnerArgs("promote", "--service", "migrator", "--from", "staging", "--env", "production",
				"--deployments", fakeDeployments, "--forge", "gitea", "--registry", "ghcr.io/ferry-ci",
				"--keyless", "--certificate-oidc-issuer", "https://gitea.example.test", "--certificate-identity-regexp", `^https://gitea\.example\.test/.*$`),
			wantSecrets: map[string]string{"$" + forgeTokenVariable: "forge-token", "$" + registryPasswordVariable: "registry-password"},
			wantEnv:     map[string]string{registryUserVariable: "bot"},
		},
		{
			name: "rollback",
			call: func(m *Ci, token, _ *dagger.Secret) (string, error) {
				return m.Rollback(context.Background(), "scheduler-worker", "production", fakeDeployments, "github", token, "", "", nil,
					releaseIdentity, "", defaultOIDCIssuer, nil)
			},
			wantArgs: runnerArgs("rollback", "--service", "scheduler-worker", "--env", "production", "--deployments", fakeDeployments, "--forge", "github",
				"--keyless", "--certificate-oidc-issuer", defaultOIDCIssuer, "--certificate-identity", releaseIdentity),
			wantSecrets: map[string]string{"$" + forgeTokenVariable: "forge-token"},
		},
		{
			name: "promote-pr of a key-signed image",
			call: func(m *Ci, token, _ *dagger.Secret) (string, error) {
				return m.PromotePR(context.Background(), "migrator", fakeRef, "production", fakeDeployments, "github", token, "", nil,
					"", "", defaultOIDCIssuer, dag.LoadFileFromID("public-key-id"))
			},
			wantArgs: runnerArgs("promote-pr", "--service", "migrator", "--image", fakeRef, "--env", "production",
				"--deployments", fakeDeployments, "--forge", "github", "--public-key", runnerPublicKeyPath),
			wantSecrets: map[string]string{"$" + forgeTokenVariable: "forge-token"},
			wantFiles:   map[string]string{runnerPublicKeyPath: `loadFileFromID(id:"public-key-id")`},
		},
		{
			name: "rollback of a key-signed image",
			call: func(m *Ci, token, _ *dagger.Secret) (string, error) {
				return m.Rollback(context.Background(), "migrator", "staging", fakeDeployments, "gitea", token, "", "", nil,
					"", "", defaultOIDCIssuer, dag.LoadFileFromID("public-key-id"))
			},
			wantArgs:    runnerArgs("rollback", "--service", "migrator", "--env", "staging", "--deployments", fakeDeployments, "--forge", "gitea", "--public-key", runnerPublicKeyPath),
			wantSecrets: map[string]string{"$" + forgeTokenVariable: "forge-token"},
			wantFiles:   map[string]string{runnerPublicKeyPath: `loadFileFromID(id:"public-key-id")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			e.Handle(stdoutOf(`{"service":"x","action":"created"}`, nil, "./cmd/ci"))
			out, err := tt.call(newFakeCi(), dag.SetSecret("forge-token", fakeForgeToken), dag.SetSecret("registry-password", fakePassword))
			if err != nil {
				t.Fatalf("call = %v", err)
			}
			if out != `{"service":"x","action":"created"}` {
				t.Errorf("call = %q, want the runner's JSON", out)
			}
			c := onlyLeaf(t, e, "stdout").Chain
			assertNativeRunner(t, e, c, source, true)
			if got := lastExec(c); !slices.Equal(got, tt.wantArgs) {
				t.Errorf("exec = %q\nwant %q", got, tt.wantArgs)
			}
			if got := secretNames(t, e, c); !equalMaps(got, tt.wantSecrets) {
				t.Errorf("secrets = %v, want %v", got, tt.wantSecrets)
			}
			files := map[string]string{}
			for _, f := range c.All("withMountedFile") {
				files[f.Arg("path")] = resolve(t, e, f, "source").String()
			}
			if !equalMaps(files, tt.wantFiles) {
				t.Errorf("mounted files = %v, want %v", files, tt.wantFiles)
			}
			env := envOf(c)
			for k, v := range tt.wantEnv {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range []string{forgeTokenVariable, registryPasswordVariable} {
				if _, plain := env[k]; plain {
					t.Errorf("%s is a plain variable", k)
				}
			}
			assertNoSecretInQueries(t, e, fakeForgeToken, fakePassword)
		})
	}
}

func TestFakeEngineRunnerCommandsRefuseBadInput(t *testing.T) {
	token := func() *dagger.Secret { return dag.SetSecret("forge-token", fakeForgeToken) }
	tests := []struct {
		name, wantError string
		call            func(m *Ci) (string, error)
	}{
		{"promote-pr without deployments", "give --deployments", func(m *Ci) (string, error) {
			return m.PromotePR(context.Background(), "migrator", fakeRef, "staging", "", "github", token(), "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote-pr without token", "give --forge-token", func(m *Ci) (string, error) {
			return m.PromotePR(context.Background(), "migrator", fakeRef, "staging", fakeDeployments, "github", nil, "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote-pr of a tag", "not pinned by a sha256 digest", func(m *Ci) (string, error) {
			return m.PromotePR(context.Background(), "migrator", "ghcr.io/x/migrator:staging", "staging", fakeDeployments, "github", token(), "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote-pr to a bad env", "environment name", func(m *Ci) (string, error) {
			return m.PromotePR(context.Background(), "migrator", fakeRef, "Prod", fakeDeployments, "github", token(), "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"unknown forge", `--forge "gitlab"`, func(m *Ci) (string, error) {
			return m.Promote(context.Background(), "migrator", "staging", "production", fakeDeployments, "gitlab", token(), "", "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"deployments like an option", "must not start with a hyphen", func(m *Ci) (string, error) {
			return m.Promote(context.Background(), "migrator", "staging", "production", "--upload-pack=evil", "github", token(), "", "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote to itself", "are both", func(m *Ci) (string, error) {
			return m.Promote(context.Background(), "migrator", "production", "production", fakeDeployments, "github", token(), "", "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote with half the credentials", "--username and --password together", func(m *Ci) (string, error) {
			return m.Promote(context.Background(), "migrator", "staging", "production", fakeDeployments, "github", token(), "", "bot", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"promote with an unanchored signer", "must be anchored", func(m *Ci) (string, error) {
			return m.Promote(context.Background(), "migrator", "staging", "production", fakeDeployments, "github", token(), "", "", nil, "", "github.com/ferry-ci", defaultOIDCIssuer, nil)
		}},
		{"promote-pr with a key and an identity", "not keyless ones", func(m *Ci) (string, error) {
			return m.PromotePR(context.Background(), "migrator", fakeRef, "staging", fakeDeployments, "github", token(), "", nil, releaseIdentity, "", defaultOIDCIssuer, dag.LoadFileFromID("public-key-id"))
		}},
		{"rollback of a bad service", "service name", func(m *Ci) (string, error) {
			return m.Rollback(context.Background(), "../etc", "production", fakeDeployments, "github", token(), "", "", nil, "", "", defaultOIDCIssuer, nil)
		}},
		{"plan from an option", "is not a revision", func(m *Ci) (string, error) {
			return m.Plan(context.Background(), "--output=/etc/passwd", "", 100)
		}},
		{"plan to shell syntax", "a revision is letters", func(m *Ci) (string, error) {
			return m.Plan(context.Background(), "abc1234", "main;rm", 100)
		}},
		{"plan with no history", "--depth 0", func(m *Ci) (string, error) {
			return m.Plan(context.Background(), "abc1234", "", 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			_, err := tt.call(newFakeCi())
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("call = %v, want ErrInvalid with %q", err, tt.wantError)
			}
			if len(e.Leaves("stdout")) != 0 {
				t.Fatalf("ran the native runner after bad input:\n%s", dump(e))
			}
		})
	}
}

func TestFakeEnginePlanSince(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(stdoutOf(`[{"service":"migrator","fingerprint":"f1","tags":["migrator-f1"]},{"service":"scheduler-worker","fingerprint":"f2","tags":[]}]`, nil, "plan"))
	out, err := newFakeCi().Plan(context.Background(), "abc1234", "def5678", 50)
	if err != nil {
		t.Fatalf("Plan() = %v", err)
	}
	if out != `["migrator","scheduler-worker"]` {
		t.Errorf("Plan() = %s, want the planned services as a JSON list", out)
	}
	c := onlyLeaf(t, e, "stdout").Chain
	assertNativeRunner(t, e, c, `loadGitRepositoryFromID(id:"repo-id").commit(id:"def5678").tree(depth:50)`, false)
	if got, want := lastExec(c), runnerArgs("plan", "--since", "abc1234"); !slices.Equal(got, want) {
		t.Errorf("exec = %q\nwant %q", got, want)
	}
	if got := secretNames(t, e, c); len(got) != 0 {
		t.Errorf("plan binds secrets %v, want none", got)
	}
}

func TestFakeEnginePlanEverything(t *testing.T) {
	for _, base := range []string{"", policy.ZeroRevision} {
		t.Run("base="+base, func(t *testing.T) {
			e := fakeengine.Start(t,
				answer("entries", func(fakeengine.Chain) bool { return true }, []string{"README.md", "migrator/", "notes/", "scheduler-worker/"}, nil),
				answer("exists", pathIs("services/notes/service.yaml"), false, nil))
			out, err := newFakeCi().Plan(context.Background(), base, "", 100)
			if err != nil {
				t.Fatalf("Plan() = %v", err)
			}
			if out != `["migrator","scheduler-worker"]` {
				t.Errorf("Plan() = %s, want every folder with a service.yaml", out)
			}
			if len(e.Leaves("stdout")) != 0 {
				t.Errorf("a full plan ran the native runner:\n%s", dump(e))
			}
		})
	}
}

func TestFakeEnginePlanRejectsBadRunnerOutput(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(stdoutOf(`[{"service":"Bad Name"}]`, nil, "plan"))
	if _, err := newFakeCi().Plan(context.Background(), "abc1234", "", 100); err == nil || !strings.Contains(err.Error(), "reading the plan: target 0") {
		t.Fatalf("Plan() = %v, want the bad service name reported", err)
	}
}

// TestRunnerCommandsExist checks that the commands and flags the module
// passes to the native runner are in cmd/ci's usage, so the two front
// doors cannot drift apart silently.
func TestRunnerCommandsExist(t *testing.T) {
	src, err := os.ReadFile("../cmd/ci/main.go")
	if err != nil {
		t.Fatalf("reading the native runner: %v", err)
	}
	_, usage, ok := strings.Cut(string(src), "const usage = `")
	if !ok {
		t.Fatal("cmd/ci/main.go has no usage constant")
	}
	usage, _, _ = strings.Cut(usage, "`")
	used := []string{"plan", "promote", "rollback", "promote-pr", "check", "--service", "--since", "--env", "--from", "--output", "--root",
		"--registry", "--deployments", "--forge", "--image", "--public-key",
		"--keyless", "--certificate-identity", "--certificate-identity-regexp", "--certificate-oidc-issuer"}
	for _, word := range used {
		if !strings.Contains(usage, "  "+word+" ") {
			t.Errorf("cmd/ci's usage does not name %q, which the Dagger module passes it", word)
		}
	}
}
