package gitops

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// TestRenderCacheAcrossPromoters checks the render cache as one-shot runs
// see it: each step is a new Promoter over one cache folder. A render is
// loaded when only images: entries changed, rendered again when a base
// patch or resource changed, and a corrupt file is ignored.
func TestRenderCacheAcrossPromoters(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "render")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newPromoter := func() *Promoter {
		t.Helper()
		p, err := New(f.bare, f.forge, WithDigestChecker(f.reg), WithSignatureVerifier(f.ver), WithRenderCache(dir), WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.publish("ghcr.io/acme/worker", digest("c"), true)
	f.publish("ghcr.io/acme/api", digest("a"), true)
	worker := Request{Env: "staging", Images: []Image{{Service: "worker", Name: "ghcr.io/acme/worker", Tag: "staging-2-worker", Digest: digest("c")}}}
	var diffs []string
	plan := func(wantLog string, wantFiles int) {
		t.Helper()
		logs.Reset()
		res, err := newPromoter().Plan(ctx, worker)
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		diffs = append(diffs, res.Diff)
		if !strings.Contains(logs.String(), wantLog) {
			t.Fatalf("log lacks %q:\n%s", wantLog, logs.String())
		}
		files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
		if err != nil || len(files) != wantFiles {
			t.Fatalf("%d cache files (%v), want %d", len(files), err, wantFiles)
		}
	}
	commit := func(files map[string]string) {
		t.Helper()
		work := filepath.Join(t.TempDir(), "work")
		gittest.Git(t, filepath.Dir(work), "clone", "-q", f.bare, work)
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gittest.Git(t, work, "add", "-A")
		gittest.Git(t, work, "commit", "-q", "-m", "change the base")
		gittest.Git(t, work, "push", "-q", "origin", "main")
	}

	plan("render cache stored", 1)
	plan("render cache hit", 1)
	if diffs[0] != diffs[1] {
		t.Fatalf("plans differ:\n%s\n%s", diffs[0], diffs[1])
	}

	// A promotion merged changes only images: entries: the render stays.
	res, err := newPromoter().Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.forge.Merge(ctx, res.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	plan("render cache hit", 1)

	// A patch in a base and a new resource each change the key.
	commit(map[string]string{"deployments/base/api/kustomization.yaml": "resources:\n- deployment.yaml\ncommonLabels:\n  tier: api\n"})
	plan("render cache stored", 2)
	commit(map[string]string{
		"deployments/base/api/kustomization.yaml": "resources:\n- deployment.yaml\n- job.yaml\ncommonLabels:\n  tier: api\n",
		"deployments/base/api/job.yaml":           "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n    spec:\n      containers:\n      - name: migrate\n        image: ghcr.io/acme/api:dev\n",
	})
	plan("render cache stored", 3)
	plan("render cache hit", 3)

	// Corrupt files are ignored and rewritten.
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	for _, name := range files {
		if err := os.WriteFile(name, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plan("render cache file ignored", 3)
	if !strings.Contains(logs.String(), "render cache stored") {
		t.Fatalf("the corrupt file was not rewritten:\n%s", logs.String())
	}
	plan("render cache hit", 3)

	// An overlay with a transformer plugin is decided by the full render,
	// which reads the files of the run that loaded the cached render, also
	// when the same Promoter uses the render again.
	const overlayPath = "deployments/overlays/staging/kustomization.yaml"
	staging := gittest.Git(t, f.bare, "show", "main:"+overlayPath) + "\n" +
		"transformers:\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata:\n    name: team\n  labels:\n    team: acme\n  fieldSpecs:\n  - path: metadata/labels\n    create: true\n"
	commit(map[string]string{overlayPath: staging})
	plan("render cache stored", 4)
	logs.Reset()
	p := newPromoter()
	for i := range 2 {
		res, err := p.Plan(ctx, worker)
		if err != nil || res.Action != Created {
			t.Fatalf("plan %d with a transformer: %+v %v", i, res, err)
		}
	}
	if n := strings.Count(logs.String(), "render cache hit"); n != 1 {
		t.Fatalf("%d disk hits, want 1 (then memory):\n%s", n, logs.String())
	}
}

// TestWithRenderCacheValidates checks the option's bad input.
func TestWithRenderCacheValidates(t *testing.T) {
	if _, err := makeOptions([]Option{WithoutGatesUnsafe(), WithRenderCache("")}); !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "render cache: empty folder") {
		t.Fatalf("WithRenderCache(\"\"): %v", err)
	}
}
