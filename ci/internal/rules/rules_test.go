package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wants reads the "// want: ..." lines of a corpus file.
func wants(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(l, "// want: "); ok {
			out = append(out, w)
		}
	}
	return out
}

// assertFindings checks that every wanted text is in some finding and that
// every finding is wanted.
func assertFindings(t *testing.T, got []Finding, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, f := range got {
			found = found || strings.Contains(f.Message, w)
		}
		if !found {
			t.Errorf("no finding contains %q; findings: %v", w, got)
		}
	}
	for _, f := range got {
		wanted := false
		for _, w := range want {
			wanted = wanted || strings.Contains(f.Message, w)
		}
		if !wanted {
			t.Errorf("unexpected finding %s", f)
		}
	}
}

func corpus(t *testing.T, dir, ext string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus under testdata/%s: %v", dir, err)
	}
	return files
}

// runCorpus checks each file of testdata/dir with check against its
// "// want:" lines; a file named good must have no finding.
func runCorpus(t *testing.T, dir, ext string, check func(name string, data []byte) ([]Finding, error)) {
	t.Helper()
	for _, file := range corpus(t, dir, ext) {
		name := strings.TrimSuffix(filepath.Base(file), ext)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := wants(data)
			if len(want) == 0 && name != "good" {
				t.Fatalf("%s has no // want: line", file)
			}
			got, err := check(filepath.Base(file), data)
			if err != nil {
				t.Fatal(err)
			}
			assertFindings(t, got, want)
		})
	}
}

func TestSourceCorpus(t *testing.T) {
	runCorpus(t, "source", ".go", func(name string, data []byte) ([]Finding, error) {
		return CheckSources(map[string][]byte{name: data}, "Ci")
	})
}

func goodConfig(t *testing.T) Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "daggerjson", "good.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, fs := CheckDaggerJSON(data, "ci", "ci")
	if len(fs) != 0 {
		t.Fatalf("good.json: %v", fs)
	}
	return cfg
}

func TestGoModCorpus(t *testing.T) {
	cfg := goodConfig(t)
	runCorpus(t, "gomod", ".mod", func(_ string, data []byte) ([]Finding, error) {
		return CheckGoMod(data, cfg), nil
	})
}

func TestDaggerJSONCorpus(t *testing.T) {
	for _, file := range corpus(t, "daggerjson", ".json") {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if name != "good" {
				w, err := os.ReadFile(strings.TrimSuffix(file, ".json") + ".want")
				if err != nil {
					t.Fatalf("reading the expected finding: %v", err)
				}
				want = strings.Split(strings.TrimSpace(string(w)), "\n")
			}
			_, got := CheckDaggerJSON(data, "ci", "ci")
			assertFindings(t, got, want)
		})
	}
}

func TestIncluded(t *testing.T) {
	tests := []struct {
		name, dir string
		want      bool
	}{
		{name: "library", dir: "modules/oci", want: true},
		{name: "the folder itself", dir: "modules", want: true},
		{name: "prefix is not a folder", dir: "modulesx/oci"},
		{name: "outside", dir: "services/migrator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := included(tt.dir, []string{"modules/**", "!go.work"}); got != tt.want {
				t.Fatalf("included(%q) = %v, want %v", tt.dir, got, tt.want)
			}
		})
	}
}
