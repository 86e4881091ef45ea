package overlay_test

import (
	"fmt"
	"strings"

	"github.com/ferry-ci/ferry/modules/gitops/overlay"
)

func ExampleSetImages() {
	src := []byte(`kind: Kustomization
images:
  # the API
  - name: ghcr.io/acme/api
    newTag: "staging-1-api" # {"$imagepolicy": "flux-system:api:tag"}
    digest: sha256:` + strings.Repeat("1", 64) + `
`)
	res, err := overlay.SetImages(src, []overlay.Image{{
		Name:   "ghcr.io/acme/api",
		NewTag: "staging-2-api",
		Digest: "sha256:" + strings.Repeat("2", 64),
	}})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(res.Content))
	for _, c := range res.Changes {
		fmt.Printf("%s: %s\n", c.Field, c.New[:13])
	}
	// Output:
	// kind: Kustomization
	// images:
	//   # the API
	//   - name: ghcr.io/acme/api
	//     newTag: "staging-2-api" # {"$imagepolicy": "flux-system:api:tag"}
	//     digest: sha256:2222222222222222222222222222222222222222222222222222222222222222
	// newTag: staging-2-api
	// digest: sha256:222222
}
