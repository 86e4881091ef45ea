package native

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
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
	if err := dropGenerators(filepath.Join(tree, "deployments", "overlays")); err != nil {
		return fmt.Errorf("seeding the local deployments repository: %w", err)
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

const seedMessage = `Seed the local deployments repository from deployments/

The overlays' generators (KSOPS, an exec plugin) and replacements (which
copy the pinned digest into IMAGE_DIGEST) are left out: this repository has
no SOPS keys, the promotion's kustomize render runs with plugins disabled,
and it renders with images: entries stripped, which the digest
replacements cannot resolve.`

// localOnlyDropped are the overlay fields the local repository leaves out
// (see seedMessage).
var localOnlyDropped = []string{"generators", "replacements"}

// dropGenerators removes the localOnlyDropped fields (with their head
// comments) of every overlay's kustomization.yaml under dir, cutting exactly its lines so
// every other byte stays. Only the seed of the local repository does this;
// promotion itself edits nothing but images: entries.
func dropGenerators(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*", "kustomization.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, field := range localOnlyDropped {
			if b, err = cutField(b, field); err != nil {
				return fmt.Errorf("editing %s: %w", f, err)
			}
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cutField removes a top-level field's lines, from its head comment to the
// line before the next field's head comment.
func cutField(b []byte, field string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return b, nil
	}
	m := doc.Content[0]
	lines := strings.SplitAfter(string(b), "\n")
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != field {
			continue
		}
		start := m.Content[i].Line - commentLines(m.Content[i].HeadComment)
		end := len(lines) + 1
		if i+2 < len(m.Content) {
			next := m.Content[i+2]
			end = next.Line - commentLines(next.HeadComment)
		}
		return []byte(strings.Join(append(lines[:start-1:start-1], lines[end-1:]...), "")), nil
	}
	return b, nil
}

func commentLines(c string) int {
	if c == "" {
		return 0
	}
	return strings.Count(c, "\n") + 1
}
