package native

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckRepository: the repository itself passes its pre-push check.
func TestCheckRepository(t *testing.T) {
	rep, err := Check(context.Background(), filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Fatalf("findings on the repository:\n%s", strings.Join(rep.Findings, "\n"))
	}
	for _, want := range []string{"migrator", "scheduler-worker"} {
		if !slices.Contains(rep.Services, want) {
			t.Errorf("services = %v, want %s among them", rep.Services, want)
		}
	}
	if rep.Rendered["overlays/staging"] == 0 || rep.Rendered["overlays/production"] == 0 {
		t.Errorf("rendered = %v, want both overlays rendered", rep.Rendered)
	}
}

// TestCheckFindings: a broken service.yaml and a tag-only image in an
// overlay are both reported, each naming its file and field.
func TestCheckFindings(t *testing.T) {
	repo := filepath.Join("..", "..", "..")
	root := t.TempDir()
	for _, d := range []string{"services", "deployments", "modules/manifests/crds"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join(repo, d))); err != nil {
			t.Fatal(err)
		}
	}
	svc := filepath.Join(root, "services", "migrator", "service.yaml")
	b, err := os.ReadFile(svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svc, append(b, []byte("colour: blue\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(root, "deployments", "overlays", "staging", "kustomization.yaml")
	b, err = os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "    digest: sha256:")
	if i < 0 {
		t.Fatal("the staging overlay pins no digest")
	}
	j := i + strings.IndexByte(string(b[i:]), '\n')
	tagOnly := string(b[:i]) + "    newTag: v1" + string(b[j:])
	if err := os.WriteFile(overlay, []byte(tagOnly), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Findings, "\n")
	for _, want := range []string{"services/migrator/service.yaml", "colour", "overlays/staging/kustomization.yaml"} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
}
