package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/signing"
)

// TestPromotePRRefusedBeforeStart: a reference without a digest, or
// --public-key beside --keyless, is a terminal error before anything under
// the state folder exists.
func TestPromotePRRefusedBeforeStart(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name    string
		image   string
		cfg     func(*Config)
		wantErr string
	}{
		{name: "tag only", image: "ghcr.io/org/migrator:v1", wantErr: "not pinned by a sha256 digest"},
		{name: "latest", image: "ghcr.io/org/migrator:latest", wantErr: "not pinned by a sha256 digest"},
		{name: "bad digest", image: "ghcr.io/org/migrator@sha256:abc", wantErr: "not pinned by a sha256 digest"},
		{name: "public key and keyless", image: "127.0.0.1:5000/migrator@" + digest,
			cfg: func(c *Config) {
				c.PublicKey = "k.pub"
				c.Keyless = &Keyless{TrustedRoot: "root.json", Identity: signing.Identity{Issuer: "https://issuer.example", Subject: "ci@example"}}
			},
			wantErr: "--public-key verifies key signatures, --keyless certificate ones"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cfg := Config{Root: root, Env: "production"}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := PromotePR(context.Background(), cfg, "migrator", tc.image)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || pipeline.Classify(err) != pipeline.Terminal {
				t.Fatalf("PromotePR(%q) = %v (%v), want a terminal error saying %q", tc.image, err, pipeline.Classify(err), tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(root, ".ci")); err == nil {
				t.Errorf("a refused promote-pr created .ci")
			}
		})
	}
}

// TestImageRegistry: promote-pr reads an image off loopback from its own
// registry (with the environment's registry credentials), one on loopback
// from the embedded registry, and any image from --registry when given.
func TestImageRegistry(t *testing.T) {
	const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, registry, image, want string
	}{
		{name: "ghcr", image: "ghcr.io/org/migrator" + digest, want: "ghcr.io/org"},
		{name: "registry with a port", image: "registry.example:5443/ns/migrator" + digest, want: "registry.example:5443/ns"},
		{name: "no namespace", image: "registry.example/migrator" + digest, want: "registry.example"},
		{name: "docker hub", image: "docker.io/org/migrator" + digest, want: "index.docker.io/org"},
		{name: "embedded on loopback", image: "127.0.0.1:41234/migrator" + digest, want: ""},
		{name: "localhost", image: "localhost:5000/migrator" + digest, want: ""},
		{name: "--registry wins", registry: "ghcr.io/org", image: "quay.io/org/migrator" + digest, want: "ghcr.io/org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := parseImage(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			got := imageRegistry(Config{Registry: tc.registry}, ref)
			if got.Registry != tc.want {
				t.Errorf("registry = %q, want %q", got.Registry, tc.want)
			}
			if got.Registry != "" {
				if _, _, err := parseRegistry(got.Registry); err != nil {
					t.Errorf("the derived registry does not validate: %v", err)
				}
			}
		})
	}
}
