package overlay

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Sentinel errors of the render checks; both are terminal.
var (
	ErrNoMatch     = errors.New("image name matches no container image in the rendered base")
	ErrNotRendered = errors.New("digest does not reach any workload")
	ErrRender      = errors.New("kustomize build failed")
)

// override serves one file's bytes from memory over a filesystem, so an
// edit can be rendered before it is written.
type override struct {
	filesys.FileSystem
	path    string
	content []byte
}

func (o override) ReadFile(path string) ([]byte, error) {
	if filepath.Clean(path) == o.path {
		return o.content, nil
	}
	return o.FileSystem.ReadFile(path)
}

// ContainerImages renders the kustomization in dir (with the file at
// kustomizationPath replaced by content) with kustomize's Go API and returns
// every container image reference of its workloads, sorted and unique.
func ContainerImages(fsys filesys.FileSystem, dir, kustomizationPath string, content []byte) ([]string, error) {
	opts := krusty.MakeDefaultOptions()
	k := krusty.MakeKustomizer(opts)
	abs, err := filepath.Abs(kustomizationPath)
	if err != nil {
		return nil, err
	}
	rm, err := k.Run(override{FileSystem: fsys, path: filepath.Clean(abs), content: content}, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRender, dir, err)
	}
	seen := map[string]bool{}
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrRender, r.CurId(), err)
		}
		collectImages(m, false, seen)
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// collectImages finds `image` fields of items under containers,
// initContainers or ephemeralContainers anywhere in a resource.
func collectImages(v any, inContainers bool, seen map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		if inContainers {
			if s, ok := t["image"].(string); ok {
				seen[s] = true
			}
		}
		for k, c := range t {
			collectImages(c, k == "containers" || k == "initContainers" || k == "ephemeralContainers", seen)
		}
	case []any:
		for _, c := range t {
			collectImages(c, inContainers, seen)
		}
	}
}

// imageName strips the tag and digest of a reference.
func imageName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// withoutImages removes the top-level images: key, to render what enters the
// overlay's image transformer. Formatting is irrelevant: it is never written.
func withoutImages(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "images" {
				m.Content = append(m.Content[:i], m.Content[i+2:]...)
				break
			}
		}
	}
	return yaml.Marshal(&doc)
}

// Verify renders the overlay in dir twice: without its images list, to check
// that every image name matches a container image coming from the base, and
// with the edited content, to check that every digest reaches a workload.
func Verify(fsys filesys.FileSystem, dir, kustomizationPath string, original, edited []byte, images []Image) error {
	stripped, err := withoutImages(original)
	if err != nil {
		return err
	}
	before, err := ContainerImages(fsys, dir, kustomizationPath, stripped)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, ref := range before {
		names[imageName(ref)] = true
	}
	for _, img := range images {
		if !names[img.Name] {
			known := slices.Sorted(func(yield func(string) bool) {
				for n := range names {
					if !yield(n) {
						return
					}
				}
			})
			return fmt.Errorf("%w: %q (base has %s)", ErrNoMatch, img.Name, strings.Join(known, ", "))
		}
	}
	after, err := ContainerImages(fsys, dir, kustomizationPath, edited)
	if err != nil {
		return err
	}
	for _, img := range images {
		if img.Digest == "" {
			continue
		}
		if !slices.ContainsFunc(after, func(ref string) bool { return strings.HasSuffix(ref, "@"+img.Digest) }) {
			return fmt.Errorf("%w: %s of %q (rendered images: %s)", ErrNotRendered, img.Digest, img.Name, strings.Join(after, ", "))
		}
	}
	return nil
}
