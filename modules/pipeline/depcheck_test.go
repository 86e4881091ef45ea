package pipeline

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the pipeline engine-agnostic and its core free of
// the step backends: package pipeline reaches contract and oci only; the
// backends (signing, gitops, the registry) come in through package native.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"dagger.io/",
			"github.com/ferry-ci/ferry/modules/signing",
			"github.com/ferry-ci/ferry/modules/gitops",
			"github.com/ferry-ci/ferry/modules/oci/registry",
			"github.com/ferry-ci/ferry/modules/oci/build",
			"github.com/ferry-ci/ferry/services/",
		} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("package pipeline depends on %s", dep)
			}
		}
	}
}
