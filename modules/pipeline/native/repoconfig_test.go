package native

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/pipeline"
)

func TestLoadRepoConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // "" for no file
		want    []string
		wantErr string
	}{
		{name: "no file is no configuration"},
		{name: "globs", file: "affectsAll:\n  - go.work\n  - .github/workflows/**\n", want: []string{"go.work", ".github/workflows/**"}},
		{name: "empty file", file: "# nothing yet\n"},
		{name: "unknown field", file: "affectAll:\n  - go.work\n", wantErr: "parsing ferry.yaml: yaml: unmarshal errors:\n  line 1: field affectAll not found"},
		{name: "absolute path", file: "affectsAll: [/etc/passwd]\n", wantErr: `ferry.yaml: affectsAll[0]: "/etc/passwd" must be a clean repository-relative glob`},
		{name: "unclean path", file: "affectsAll: [go.work, ../x]\n", wantErr: `ferry.yaml: affectsAll[1]: "../x" must be a clean`},
		{name: "bad glob", file: "affectsAll: [\"[\"]\n", wantErr: `ferry.yaml: affectsAll[0]: "[": syntax error in pattern`},
		{name: "wrong type", file: "affectsAll: go.work\n", wantErr: "parsing ferry.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(root, RepoConfigFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := LoadRepoConfig(root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || pipeline.Classify(err) != pipeline.Terminal {
					t.Fatalf("err = %v, want a terminal error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(cfg.AffectsAll, tc.want) {
				t.Fatalf("LoadRepoConfig = %v, %v; want %v", cfg.AffectsAll, err, tc.want)
			}
		})
	}
}

// TestRepositoryConfig: the repository's own ferry.yaml loads and declares
// the workspace files, whose change must rebuild every service.
func TestRepositoryConfig(t *testing.T) {
	cfg, err := LoadRepoConfig(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.work", "go.work.sum"} {
		found := false
		for _, g := range cfg.AffectsAll {
			found = found || g == want
		}
		if !found {
			t.Errorf("ferry.yaml affectsAll = %v, want it to list %s", cfg.AffectsAll, want)
		}
	}
}
