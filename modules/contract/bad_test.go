package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadCorpus walks testdata/bad: each folder is a repository root with
// one broken service and a want.txt holding a substring its error must
// contain. Every such error is terminal and never echoes a secret value.
func TestBadCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 40 {
		t.Fatalf("corpus has %d cases, expected at least 40", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			cat, err := Discover(dir)
			if err == nil {
				t.Fatalf("Discover accepted the service: %+v", cat.Services)
			}
			if cat != nil {
				t.Errorf("Discover returned a catalog beside its error")
			}
			if w := strings.TrimSpace(string(want)); !strings.Contains(err.Error(), w) {
				t.Errorf("error:\n%v\nlacks:\n%s", err, w)
			}
			if !IsTerminal(err) {
				t.Errorf("error is not terminal: %v", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error echoes a secret value: %v", err)
			}
		})
	}
}
