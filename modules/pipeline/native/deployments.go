package native

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// seedDeployments creates the bare repository bare, once, holding one
// commit on main with the repository's deployments/ folder at the same
// path (so overlays are at deployments/overlays/<env>). It is built aside
// and renamed into place, so a crash never leaves half a repository.
func seedDeployments(root, bare, tmp string) error {
	if _, err := os.Stat(filepath.Join(bare, "HEAD")); err == nil {
		return nil
	}
	src := filepath.Join(root, "deployments")
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("seeding the local deployments repository: %s is not a folder", src)
	}
	work, err := os.MkdirTemp(tmp, "seed-")
	if err != nil {
		return fmt.Errorf("seeding the local deployments repository: %w", err)
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "tree")
	if err := os.CopyFS(filepath.Join(tree, "deployments"), os.DirFS(src)); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	staged := filepath.Join(work, "deployments.git")
	steps := [][]string{
		{"init", "-q", "-b", "main", tree},
		{"-C", tree, "add", "-A"},
		{"-C", tree, "commit", "-q", "-m", seedMessage},
		{"init", "-q", "--bare", "-b", "main", staged},
		{"-C", tree, "push", "-q", staged, "main"},
	}
	for _, args := range steps {
		if err := git(args...); err != nil {
			return fmt.Errorf("seeding the local deployments repository: %w", err)
		}
	}
	if err := os.Rename(staged, bare); err != nil && !errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(filepath.Join(bare, "HEAD")); serr == nil {
			return nil // another run seeded it meanwhile
		}
		return fmt.Errorf("seeding the local deployments repository: %w", err)
	}
	return nil
}

func git(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=ferry", "GIT_AUTHOR_EMAIL=ferry@localhost",
		"GIT_COMMITTER_NAME=ferry", "GIT_COMMITTER_EMAIL=ferry@localhost",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args[:min(len(args), 3)], " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

const seedMessage = "Seed the local deployments repository from deployments/\n"
