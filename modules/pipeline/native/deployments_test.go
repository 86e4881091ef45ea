package native

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedDeployments seeds a bare repository from the repository's own
// deployments tree: one commit on main, every file byte for byte unchanged,
// and a second seed is a no-op.
func TestSeedDeployments(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "deployments"), os.DirFS("../../../deployments")); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	bare := filepath.Join(state, "deployments.git")
	for range 2 {
		if err := seedDeployments(root, bare, state); err != nil {
			t.Fatal(err)
		}
	}
	if n := gitIn(t, bare, "rev-list", "--count", "main"); n != "1" {
		t.Fatalf("main has %s commits, want 1", n)
	}
	for _, env := range []string{"staging", "production"} {
		orig, err := os.ReadFile(filepath.Join(root, "deployments", "overlays", env, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		seeded := gitIn(t, bare, "show", "main:deployments/overlays/"+env+"/kustomization.yaml")
		if seeded+"\n" != string(orig) {
			t.Errorf("%s: the seed changed the overlay:\n%s\nwant:\n%s", env, seeded, orig)
		}
	}
}

func TestSeedDeploymentsMissingTree(t *testing.T) {
	state := t.TempDir()
	err := seedDeployments(t.TempDir(), filepath.Join(state, "d.git"), state)
	if err == nil || !strings.Contains(err.Error(), "deployments is not a folder") {
		t.Fatalf("err = %v, want the missing deployments folder named", err)
	}
	if _, err := os.Stat(filepath.Join(state, "d.git")); err == nil {
		t.Error("a failed seed left a repository behind")
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
