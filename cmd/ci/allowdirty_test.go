package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/pipeline"
)

// TestReleaseAllowDirtyEndToEnd: with --allow-dirty a service with
// uncommitted changes is released from the work tree as it is, under its
// content-addressed tag alone: no tag and no promotion record names a
// commit the image was not built from.
func TestReleaseAllowDirtyEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the release command on a copy of the repository")
	}
	root := archiveRepo(t, "services", "deployments")
	f := filepath.Join(root, "services", "migrator", "cmd", "migrator", "main.go")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(b, "\n// An uncommitted change.\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"release", "--service", "migrator", "--root", root, "--output", "json", "--allow-dirty"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var rep pipeline.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, stdout.String())
	}
	if len(rep.Services) != 1 {
		t.Fatalf("report = %+v, want one service", rep)
	}
	s := rep.Services[0]
	if s.Image == "" || s.Promotion == nil {
		t.Fatalf("released %+v, want an image and a promotion", s)
	}
	if s.Target.Commit != "" || len(s.Target.Tags) != 1 || !strings.HasPrefix(s.Target.Tags[0], "migrator-") {
		t.Fatalf("target commit %q, tags %v; want no commit and the content-addressed tag alone", s.Target.Commit, s.Target.Tags)
	}
	// The embedded registry's storage: every tag of every repository,
	// without the signature and SBOM tags (sha256-<hex>.sig/.sbom).
	repos := filepath.Join(root, ".ci", "state", "registry", "data", "docker", "registry", "v2", "repositories")
	var tags []string
	err = filepath.WalkDir(repos, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && filepath.Base(filepath.Dir(p)) == "tags" && filepath.Base(filepath.Dir(filepath.Dir(p))) == "_manifests" {
			if !strings.HasPrefix(d.Name(), "sha256-") {
				tags = append(tags, d.Name())
			}
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tags)
	if len(tags) != 1 || tags[0] != s.Target.Tags[0] {
		t.Fatalf("registry tags %v, want [%s] alone", tags, s.Target.Tags[0])
	}
}
