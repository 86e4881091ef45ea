package contract

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the catalog a leaf library: no Dagger, no other
// module of this repository (the pipeline depends on it, not the reverse).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "dagger.io/"):
			t.Errorf("contract imports %s: nothing under modules/ may import Dagger", pkg)
		case strings.HasPrefix(pkg, "github.com/ferry-ci/ferry/") && pkg != "github.com/ferry-ci/ferry/modules/contract":
			t.Errorf("contract imports %s: it must not depend on other ferry modules", pkg)
		}
	}
}
