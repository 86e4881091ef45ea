package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native/nativetest"
	"github.com/ferry-ci/ferry/modules/signing"
)

// TestConfigTargets: every combination of target flags is validated, with
// the tokens it needs, before anything runs; a bad one is a terminal error
// saying what to do, and never echoes a token.
func TestConfigTargets(t *testing.T) {
	bare := t.TempDir()
	if err := os.WriteFile(filepath.Join(bare, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const token = "forge-token-value"
	keyless := func(edit func(*Keyless)) *Keyless {
		k := &Keyless{TrustedRoot: "trusted_root.json", Identity: signing.Identity{Issuer: "https://issuer.example", SubjectRegexp: "^ci@example$"}}
		if edit != nil {
			edit(k)
		}
		return k
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		env  map[string]string
		err  string // empty: valid
		want *deploymentsSpec
	}{
		{name: "defaults", cfg: Config{}},
		{name: "local bare repository", cfg: Config{Deployments: bare}, want: &deploymentsSpec{path: bare}},
		{name: "file URL", cfg: Config{Deployments: "file://" + bare}, want: &deploymentsSpec{path: bare}},
		{name: "not a repository", cfg: Config{Deployments: t.TempDir()}, err: "is not a bare git repository"},
		{name: "local path with gitea", cfg: Config{Deployments: bare, Forge: ForgeGitea}, err: "use --forge local"},
		{name: "gitea without deployments", cfg: Config{Forge: ForgeGitea}, err: "--forge gitea needs --deployments"},
		{name: "gitea", cfg: Config{Deployments: "https://git.example/sub/acme/deployments.git", Forge: ForgeGitea},
			env: map[string]string{GiteaTokenEnv: token},
			want: &deploymentsSpec{url: "https://git.example/sub/acme/deployments.git", owner: "acme", repo: "deployments",
				forgeURL: "https://git.example/sub", forgeToken: token, tokenEnv: GiteaTokenEnv, gitToken: token}},
		{name: "gitea on loopback over http, FERRY tokens win", cfg: Config{Deployments: "http://127.0.0.1:3000/bot/deployments.git", Forge: ForgeGitea, ForgeURL: "http://127.0.0.1:3000"},
			env: map[string]string{GiteaTokenEnv: "other", ForgeTokenEnv: token, GitTokenEnv: "git-token"},
			want: &deploymentsSpec{url: "http://127.0.0.1:3000/bot/deployments.git", owner: "bot", repo: "deployments",
				forgeURL: "http://127.0.0.1:3000", forgeToken: token, tokenEnv: GiteaTokenEnv, gitToken: "git-token"}},
		{name: "github.com", cfg: Config{Deployments: "https://github.com/acme/deployments", Forge: ForgeGitHub},
			env: map[string]string{GitHubTokenEnv: token},
			want: &deploymentsSpec{url: "https://github.com/acme/deployments", owner: "acme", repo: "deployments",
				forgeToken: token, tokenEnv: GitHubTokenEnv, gitToken: token}},
		{name: "GHES web root", cfg: Config{Deployments: "https://ghes.example/acme/deployments.git", Forge: ForgeGitHub, ForgeURL: "https://ghes.example"},
			env: map[string]string{GitHubTokenEnv: token},
			want: &deploymentsSpec{url: "https://ghes.example/acme/deployments.git", owner: "acme", repo: "deployments",
				forgeURL: "https://ghes.example/api/v3", forgeToken: token, tokenEnv: GitHubTokenEnv, gitToken: token}},
		{name: "GHES derived", cfg: Config{Deployments: "https://ghes.example/acme/deployments.git", Forge: ForgeGitHub},
			env: map[string]string{ForgeTokenEnv: token},
			want: &deploymentsSpec{url: "https://ghes.example/acme/deployments.git", owner: "acme", repo: "deployments",
				forgeURL: "https://ghes.example/api/v3", forgeToken: token, tokenEnv: GitHubTokenEnv, gitToken: token}},
		{name: "no token", cfg: Config{Deployments: "https://github.com/acme/deployments", Forge: ForgeGitHub},
			err: "forge github needs an API token: set GITHUB_TOKEN or FERRY_FORGE_TOKEN"},
		{name: "token in the URL", cfg: Config{Deployments: "https://bot:" + token + "@github.com/acme/deployments", Forge: ForgeGitHub},
			env: map[string]string{GitHubTokenEnv: token}, err: "put the token in FERRY_GIT_TOKEN"},
		{name: "remote with the local forge", cfg: Config{Deployments: "https://github.com/acme/deployments"},
			err: "name --forge github or gitea"},
		{name: "ssh", cfg: Config{Deployments: "git@github.com:acme/deployments.git", Forge: ForgeGitHub},
			env: map[string]string{GitHubTokenEnv: token}, err: "SSH remotes are not supported"},
		{name: "http off loopback", cfg: Config{Deployments: "http://git.example/acme/deployments", Forge: ForgeGitea},
			env: map[string]string{GiteaTokenEnv: token}, err: "plain HTTP off loopback"},
		{name: "no owner", cfg: Config{Deployments: "https://github.com/deployments", Forge: ForgeGitHub},
			env: map[string]string{GitHubTokenEnv: token}, err: "want https://HOST/OWNER/REPO"},
		{name: "unknown forge", cfg: Config{Forge: "gitlab"}, err: `unknown forge "gitlab"`},
		{name: "forge URL with the local forge", cfg: Config{ForgeURL: "https://git.example"}, err: "the local forge has none"},
		{name: "bad forge URL", cfg: Config{Deployments: "https://git.example/a/b", Forge: ForgeGitea, ForgeURL: "git.example"},
			env: map[string]string{GiteaTokenEnv: token}, err: "--forge-url"},
		{name: "insecure without registry", cfg: Config{InsecureRegistry: true}, err: "--insecure-registry needs --registry"},
		{name: "bad registry", cfg: Config{Registry: "https://ghcr.io/org"}, err: "drop the scheme"},
		{name: "keyless", cfg: Config{Keyless: keyless(nil)}},
		{name: "keyless without trusted root", cfg: Config{Keyless: keyless(func(k *Keyless) { k.TrustedRoot = "" })}, err: "--trusted-root is required"},
		{name: "keyless without issuer", cfg: Config{Keyless: keyless(func(k *Keyless) { k.Identity.Issuer = "" })}, err: "--certificate-oidc-issuer"},
		{name: "keyless without identity", cfg: Config{Keyless: keyless(func(k *Keyless) { k.Identity.SubjectRegexp = "" })}, err: "--certificate-identity"},
		{name: "keyless fulcio over http", cfg: Config{Keyless: keyless(func(k *Keyless) { k.FulcioURL = "http://fulcio.example" })}, err: "--fulcio-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Root = t.TempDir()
			cfg.Getenv = func(k string) string { return tc.env[k] }
			err := cfg.validate()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || pipeline.Classify(err) != pipeline.Terminal {
					t.Fatalf("validate = %v, want a terminal error with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("the error echoes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if tc.want != nil && *cfg.deployments != *tc.want {
				t.Errorf("deployments = %+v\nwant %+v", *cfg.deployments, *tc.want)
			}
			if k := cfg.Keyless; k != nil && (k.FulcioURL != PublicFulcio || k.RekorURL != PublicRekor) {
				t.Errorf("keyless defaults = %s, %s; want the public instances", k.FulcioURL, k.RekorURL)
			}
		})
	}
}

func TestTokenSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  string
	}{
		{name: "static", env: map[string]string{IDTokenEnv: nativetest.Token(t, 1)}},
		{name: "github actions", env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://actions.example/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"}},
		{name: "expired", env: map[string]string{IDTokenEnv: nativetest.Token(t, -1)}, err: "reading " + IDTokenEnv},
		{name: "malformed", env: map[string]string{IDTokenEnv: "not-a-jwt"}, err: "malformed identity token"},
		{name: "none", err: "set " + IDTokenEnv + ", or run in GitHub Actions with permissions: id-token: write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokenSource(func(k string) string { return tc.env[k] })
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || pipeline.Classify(err) != pipeline.Terminal {
				t.Fatalf("tokenSource = %v, want a terminal error with %q", err, tc.err)
			}
			if tok := tc.env[IDTokenEnv]; tok != "" && strings.Contains(err.Error(), tok) {
				t.Errorf("the error echoes the token: %v", err)
			}
		})
	}
}
