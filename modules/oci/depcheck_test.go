package oci_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencies enforces the layering: modules/oci takes typed inputs
// and imports no other ferry module (nor Dagger), and the reference
// package's own code stays free of registries and builds.
func TestDependencies(t *testing.T) {
	forbidden := []string{
		"github.com/ferry-ci/ferry/modules/contract",
		"github.com/ferry-ci/ferry/modules/pipeline",
		"github.com/ferry-ci/ferry/modules/signing",
		"github.com/ferry-ci/ferry/modules/gitops",
		"github.com/ferry-ci/ferry/services/",
		"dagger.io/",
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if strings.HasPrefix(p, bad) {
					t.Errorf("%s imports %s", path, p)
				}
			}
			if filepath.Dir(path) == "." && !strings.HasSuffix(path, "_test.go") && strings.HasPrefix(p, "github.com/ferry-ci/ferry/") {
				t.Errorf("%s: package oci must not import %s (it is the vocabulary the others use)", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
