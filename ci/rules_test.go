package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dagger/ci/internal/rules"
)

// TestModuleRules checks this module's source for what the engine would
// reject or silently mis-handle (see internal/rules).
func TestModuleRules(t *testing.T) {
	findings, err := rules.CheckDir(".", "Ci")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
}

// TestModuleConfig checks dagger.json and go.mod against each other and the pins.
func TestModuleConfig(t *testing.T) {
	data, err := os.ReadFile("../dagger.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, findings := rules.CheckDaggerJSON(data, "ci", "ci")
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	findings = append(findings, rules.CheckGoMod(mod, cfg)...)
	for _, f := range findings {
		t.Errorf("%s", f)
	}
}

// TestModuleFilesNotGitignored checks that no file the engine must upload
// is gitignored: the engine applies .gitignore when it loads the module and
// drops such files without a word. Only the generated stand-ins may be.
func TestModuleFilesNotGitignored(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skip("not a git work tree")
	}
	files := []string{"dagger.json"}
	walk := func(dir string, keep func(rel string) bool) {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() && (d.Name() == "testdata" || rel == "ci/internal/dagger") {
				return filepath.SkipDir
			}
			if !d.IsDir() && keep(rel) {
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	walk("ci", func(rel string) bool { return rel != "ci/dagger.gen.go" })
	walk("modules", func(rel string) bool {
		base := filepath.Base(rel)
		return strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum"
	})

	cmd := exec.Command("git", "-C", root, "check-ignore", "--no-index", "--stdin")
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return // nothing ignored
	}
	if err != nil {
		t.Fatalf("git check-ignore: %v", err)
	}
	t.Errorf("gitignored, so the engine would not upload them:\n%s", out.String())
}
