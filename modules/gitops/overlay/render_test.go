package overlay

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestVerify(t *testing.T) {
	dir, err := filepath.Abs("testdata/render/overlays/staging")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kustomization.yaml")
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		images  []Image
		wantErr error
		want    string
	}{
		{name: "existing entry", images: []Image{{Name: "ghcr.io/acme/api", NewTag: "staging-2-api", Digest: digest}},
			want: "ghcr.io/acme/api:staging-2-api@" + digest},
		{name: "appended init container", images: []Image{{Name: "ghcr.io/acme/migrator", Digest: digest}},
			want: "ghcr.io/acme/migrator@" + digest},
		{name: "job with new name", images: []Image{{Name: "ghcr.io/acme/seed", NewName: "registry.example.com/seed", NewTag: "v2", Digest: digest}},
			want: "registry.example.com/seed:v2@" + digest},
		{name: "name not in base", images: []Image{{Name: "ghcr.io/acme/apii", Digest: digest}}, wantErr: ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := SetImages(original, tt.images)
			if err != nil {
				t.Fatal(err)
			}
			err = Verify(filesys.MakeFsOnDisk(), dir, path, original, res.Content, tt.images)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			got, err := ContainerImages(filesys.MakeFsOnDisk(), dir, path, res.Content)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(got, tt.want) {
				t.Fatalf("rendered images %v lack %s", got, tt.want)
			}
		})
	}
	if b, _ := os.ReadFile(path); string(b) != string(original) {
		t.Fatal("Verify wrote the overlay")
	}
}

func TestVerifyCorruptOverlay(t *testing.T) {
	dir, _ := filepath.Abs("testdata/render/overlays/staging")
	path := filepath.Join(dir, "kustomization.yaml")
	err := Verify(filesys.MakeFsOnDisk(), dir, path, []byte("resources:\n- ../../base/missing\n"), []byte("resources: [../../base/missing]\n"), nil)
	if !errors.Is(err, ErrRender) {
		t.Fatalf("Verify: %v, want ErrRender", err)
	}
}

// TestVerifyRepositoryOverlays promotes into the repository's own overlays
// (deployments/overlays/*), which use what real overlays use around the
// images: a KSOPS generator (a plugin that cannot run in-process) and
// replacements that read the digest the images: entries set.
func TestVerifyRepositoryOverlays(t *testing.T) {
	envs, err := filepath.Glob("../../../deployments/overlays/*/kustomization.yaml")
	if err != nil || len(envs) == 0 {
		t.Fatalf("no overlays under deployments/overlays: %v", err)
	}
	digest := "sha256:" + strings.Repeat("cd", 32)
	for _, path := range envs {
		path, err := filepath.Abs(path)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			original, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(original), "generators:") || !strings.Contains(string(original), "replacements:") {
				t.Skip("this overlay has no generator or replacement to exercise")
			}
			for _, tc := range []struct {
				name    string
				images  []Image
				wantErr error
			}{
				{name: "one service", images: []Image{{Name: "scheduler-worker", NewName: "ghcr.io/ferry-ci/scheduler-worker", Digest: digest}}},
				{name: "two services", images: []Image{
					{Name: "scheduler-worker", NewName: "ghcr.io/ferry-ci/scheduler-worker", Digest: digest},
					{Name: "migrator", NewName: "ghcr.io/ferry-ci/migrator", Digest: digest},
				}},
				{name: "unknown name", images: []Image{{Name: "schedulr-worker", Digest: digest}}, wantErr: ErrNoMatch},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res, err := SetImages(original, tc.images)
					if err != nil {
						t.Fatal(err)
					}
					if err := Verify(filesys.MakeFsOnDisk(), dir, path, original, res.Content, tc.images); !errors.Is(err, tc.wantErr) {
						t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
					}
				})
			}
			if b, _ := os.ReadFile(path); string(b) != string(original) {
				t.Fatal("Verify wrote the overlay")
			}
		})
	}
}
