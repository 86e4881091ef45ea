package overlay

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
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
	rm, err := run(fsys, dir, kustomizationPath, content)
	if err != nil {
		return nil, err
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

// filterImages returns the in-memory copy of a kustomization that the
// render checks build: only the images: entries named in keep (all removed
// when keep is nil), and without the fields that cannot or need not run
// there. generators: is dropped because generator plugins (KSOPS decrypting
// SOPS Secrets, say) do not run in-process and generated objects carry no
// container images; replacements: is dropped because a replacement may read
// a value the removed images: entries would have set (the digest after "@",
// for IMAGE_DIGEST) and fail, and replacements do not decide which images
// the workloads run. Formatting is irrelevant: the copy is never written.
func filterImages(src []byte, keep map[string]bool) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); {
			key := m.Content[i].Value
			if key == "generators" || key == "replacements" || (key == "images" && (keep == nil || m.Content[i+1].Kind != yaml.SequenceNode)) {
				m.Content = append(m.Content[:i], m.Content[i+2:]...)
				continue
			}
			if key == "images" {
				seq := m.Content[i+1]
				var kept []*yaml.Node
				for _, item := range seq.Content {
					for j := 0; j+1 < len(item.Content); j += 2 {
						if item.Content[j].Value == "name" && keep[item.Content[j+1].Value] {
							kept = append(kept, item)
						}
					}
				}
				seq.Content = kept
			}
			i += 2
		}
	}
	return yaml.Marshal(&doc)
}

// Verify renders the overlay in dir twice: without its images list, to check
// that every image name matches a container image coming from the base, and
// with the edited content, to check that every digest reaches a workload.
func Verify(fsys filesys.FileSystem, dir, kustomizationPath string, original, edited []byte, images []Image) error {
	names, err := BaseImageNames(fsys, dir, kustomizationPath, original)
	if err != nil {
		return err
	}
	if err := CheckNames(names, images); err != nil {
		return err
	}
	return CheckDigests(fsys, dir, kustomizationPath, edited, images)
}

// BaseImageNames renders the overlay without its images: list and returns
// the image names (no tag or digest) that enter its image transformer.
func BaseImageNames(fsys filesys.FileSystem, dir, kustomizationPath string, original []byte) (map[string]bool, error) {
	stripped, err := filterImages(original, nil)
	if err != nil {
		return nil, err
	}
	before, err := ContainerImages(fsys, dir, kustomizationPath, stripped)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, ref := range before {
		names[imageName(ref)] = true
	}
	return names, nil
}

// CheckNames fails with ErrNoMatch for an image whose name no container
// image of the base has (kustomize would silently ignore the entry).
func CheckNames(names map[string]bool, images []Image) error {
	for _, img := range images {
		if !names[img.Name] {
			return fmt.Errorf("%w: %q (base has %s)", ErrNoMatch, img.Name, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
		}
	}
	return nil
}

// CheckDigests renders the edited overlay and fails with ErrNotRendered for
// a digest that reaches no workload. Only the given images' entries are kept
// in the rendered copy: kustomize's image transformer costs one regexp per
// entry and container, so a 200-entry overlay would otherwise take seconds
// for a one-image promotion.
func CheckDigests(fsys filesys.FileSystem, dir, kustomizationPath string, edited []byte, images []Image) error {
	keep := map[string]bool{}
	for _, img := range images {
		keep[img.Name] = true
	}
	pruned, err := filterImages(edited, keep)
	if err != nil {
		return err
	}
	after, err := ContainerImages(fsys, dir, kustomizationPath, pruned)
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
