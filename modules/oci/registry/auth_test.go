package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func resolve(t *testing.T, k authn.Keychain, registry string) *authn.AuthConfig {
	t.Helper()
	r, err := name.NewRegistry(registry)
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Resolve(r)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", registry, err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDockerConfigKeychain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	os.WriteFile(path, []byte(`{"auths":{"registry.example.com":{"auth":"`+auth+`"},"https://index.docker.io/v1/":{"username":"bob","password":"hub"}}}`), 0o600)
	k := DockerConfigKeychain(path)
	tests := []struct {
		name, registry, user, pass string
	}{
		{name: "auth field", registry: "registry.example.com", user: "alice", pass: "s3cret"},
		{name: "docker hub key", registry: "index.docker.io", user: "bob", pass: "hub"},
		{name: "unknown registry is anonymous", registry: "other.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := resolve(t, k, tt.registry)
			if cfg.Username != tt.user || cfg.Password != tt.pass {
				t.Errorf("got %q/%q, want %q/%q", cfg.Username, cfg.Password, tt.user, tt.pass)
			}
		})
	}
	if cfg := resolve(t, DockerConfigKeychain(filepath.Join(dir, "missing.json")), "registry.example.com"); cfg.Username != "" {
		t.Errorf("missing config resolved to %q", cfg.Username)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o600)
	r, _ := name.NewRegistry("registry.example.com")
	if _, err := DockerConfigKeychain(bad).Resolve(r); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed config: err = %v, want one naming %s", err, bad)
	}
}

func TestGitHubTokenKeychain(t *testing.T) {
	k := GitHubTokenKeychain("ghs_token")
	if cfg := resolve(t, k, "ghcr.io"); cfg.Password != "ghs_token" || cfg.Username == "" {
		t.Errorf("ghcr.io: %+v", cfg)
	}
	if cfg := resolve(t, k, "registry.example.com"); cfg.Password != "" {
		t.Error("token leaked to another registry")
	}
}

func TestDefaultKeychainReadsEnvironment(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"ghcr.io":{"username":"file","password":"filepw"},"r.example.com":{"username":"u","password":"p"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("GITHUB_TOKEN", "envtoken")
	k := DefaultKeychain()
	if cfg := resolve(t, k, "ghcr.io"); cfg.Password != "envtoken" {
		t.Errorf("ghcr.io used %q, want GITHUB_TOKEN first", cfg.Password)
	}
	if cfg := resolve(t, k, "r.example.com"); cfg.Username != "u" {
		t.Errorf("r.example.com: %+v", cfg)
	}
}
