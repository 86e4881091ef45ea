package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoadService feeds arbitrary service.yaml bytes to the loader: it
// must never panic, and every failure must be a terminal FieldError that
// names the file.
func FuzzLoadService(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*/services/*/service.yaml")
	seeds = append(seeds, "testdata/good/services/alpha/service.yaml", "testdata/good/services/beta/service.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nenv: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"services/x/service.yaml":               {Data: data},
			"services/x/Dockerfile":                 {Data: []byte("FROM scratch\n")},
			"deployments/base/x/kustomization.yaml": {Data: []byte("resources: []\n")},
		}
		_, err := LoadService(fsys, "services/x/service.yaml")
		if err == nil {
			return
		}
		if !IsTerminal(err) {
			t.Fatalf("not terminal: %v", err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "services/x/service.yaml: ") {
				t.Fatalf("error line does not name the file: %q", line)
			}
		}
	})
}
