package crdsync_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/crdsync"
)

// TestCopiesMatchLock holds the committed CRDs equal to what crdsync
// recorded, and the folder to exactly the listed files.
func TestCopiesMatchLock(t *testing.T) {
	const dir = "../crds"
	srcs, err := crdsync.ReadSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := crdsync.ReadLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range srcs.Sources {
		for _, f := range s.Files {
			want[crdsync.Target(s, f)] = true
		}
	}
	locked := map[string]bool{}
	for _, e := range lock.Files {
		locked[e.To] = true
		if !want[e.To] {
			t.Errorf("lock.yaml names %s, which sources.yaml does not list: run go run ./cmd/crdsync", e.To)
		}
		if e.Sum == "" {
			t.Errorf("%s: no module hash recorded", e.To)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.To))
		if err != nil {
			t.Errorf("%s: %v", e.To, err)
			continue
		}
		if got := crdsync.Hash(b); got != e.SHA256 {
			t.Errorf("%s: sha256 %s, lock says %s: the copy was edited", e.To, got, e.SHA256)
		}
	}
	for f := range want {
		if !locked[f] {
			t.Errorf("%s listed but not synced: run go run ./cmd/crdsync", f)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel != "sources.yaml" && rel != "lock.yaml" && !locked[rel] {
			t.Errorf("%s is not in lock.yaml: delete it or list it in sources.yaml", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSyncFakeDownloader runs Sync against a module folder on disk.
func TestSyncFakeDownloader(t *testing.T) {
	mod := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mod, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "crds", "w.yaml"), []byte("kind: CustomResourceDefinition\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "sources:\n  - name: w\n    module: example.com/w\n    version: v1.0.0\n    files: [crds/w.yaml]\n"
	if err := os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := func(_ context.Context, s crdsync.Source) (crdsync.Module, error) {
		return crdsync.Module{Dir: mod, Sum: "h1:fake"}, nil
	}
	if err := crdsync.Sync(context.Background(), dir, fake, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "w-v1.0.0", "w.yaml"))
	if err != nil || string(b) != "kind: CustomResourceDefinition\n" {
		t.Fatalf("copy: %q, %v", b, err)
	}
	lock, err := crdsync.ReadLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Files) != 1 || lock.Files[0].Module != "example.com/w" || lock.Files[0].SHA256 != crdsync.Hash(b) {
		t.Fatalf("lock = %+v", lock)
	}
}
