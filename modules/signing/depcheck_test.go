package signing

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the layering: signing imports no other ferry
// module and nothing of Dagger.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/ferry-ci/ferry/") && !strings.HasPrefix(pkg, "github.com/ferry-ci/ferry/modules/signing") {
			t.Errorf("signing depends on %s", pkg)
		}
		if strings.HasPrefix(pkg, "dagger.io/") {
			t.Errorf("signing depends on %s", pkg)
		}
	}
}
