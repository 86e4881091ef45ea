package native

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedDeployments seeds a bare repository from the repository's own
// deployments tree: one commit on main, the overlays without their KSOPS
// generators and digest replacements, otherwise byte for byte unchanged, and a second seed is a no-op.
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
		if strings.Contains(seeded, "generators:") || strings.Contains(seeded, "replacements:") {
			t.Errorf("%s: generators survived the seed:\n%s", env, seeded)
		}
		if want := withoutGenerators(string(orig)); seeded+"\n" != want {
			t.Errorf("%s: the seed changed more than the generators:\n%s\nwant:\n%s", env, seeded, want)
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

// withoutGenerators drops the generators: and replacements: blocks and
// the comments right above them, the edit the seed makes.
func withoutGenerators(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		if lines[i] != "generators:" && lines[i] != "replacements:" {
			out = append(out, lines[i])
			continue
		}
		for len(out) > 0 && strings.HasPrefix(out[len(out)-1], "#") {
			out = out[:len(out)-1]
		}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") {
			i++
		}
	}
	return strings.Join(out, "\n")
}
