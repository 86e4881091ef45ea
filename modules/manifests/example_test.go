package manifests_test

import (
	"context"
	"fmt"

	"github.com/ferry-ci/ferry/modules/manifests"
)

// Check names the file, object and field of every broken rule; here an
// overlay that pins an image by tag only.
func ExampleCheck() {
	rep, err := manifests.Check(context.Background(), "testdata/bad/tag-only-image/tree")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		if f.Rule == "image-digest" {
			fmt.Println(f.File + ": " + f.Field)
		}
	}
	// Output:
	// overlays/dev/kustomization.yaml: images[0] (name: app).digest
	// base/app/deployment.yaml: spec.template.spec.containers[name=app].image
}
