package overlay

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/filters/imagetag"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// imageFieldSpecs are the fields kustomize's default configuration gives
// the image transformer (api/internal/konfig/builtinpluginconsts/images.go
// of api v0.21.2, which is internal, hence the copy); the transformer also
// rewrites every containers[]/image anywhere, as krusty does.
var imageFieldSpecs = []types.FieldSpec{
	{Path: "spec/containers[]/image", CreateIfNotPresent: true},
	{Path: "spec/initContainers[]/image", CreateIfNotPresent: true},
	{Path: "spec/volumes[]/image/reference", CreateIfNotPresent: true},
	{Path: "spec/template/spec/containers[]/image", CreateIfNotPresent: true},
	{Path: "spec/template/spec/initContainers[]/image", CreateIfNotPresent: true},
	{Path: "spec/template/spec/volumes[]/image/reference", CreateIfNotPresent: true},
	{Path: "spec/jobTemplate/spec/template/spec/volumes[]/image/reference", CreateIfNotPresent: true},
}

// Base is an overlay rendered once without its images: entries: the
// resources exactly as kustomize's image transformer receives them. Krusty
// runs the overlay's images: entries after every other built-in transformer
// except replacements (which the render checks drop, see filterImages), so
// applying kustomize's own image transformer to these resources gives the
// workloads a full render gives, at a fraction of the cost: a full render
// reloads every base and runs each entry over every resource, which takes
// seconds for a 200-service overlay; CheckDigests runs each entry only over
// the resources carrying its name. A Base is read-only and safe for
// concurrent use.
type Base struct {
	resources []*resource.Resource
	images    [][]string                         // container images per resource
	byName    map[string][]int                   // image name -> resources holding it
	names     map[string]bool                    // every image name
	exact     bool                               // false: CheckDigests renders in full
	fsys      func() (filesys.FileSystem, error) // the files, for the full render
	ownFiles  bool                               // fsys is held in memory (RenderBase)
	dir, path string                             // the overlay, for the full render
}

// RenderBase renders the overlay in dir (kustomizationPath replaced by
// original) without its images: entries. The Base keeps fsys for full
// renders: its files must not change while the Base is in use.
func RenderBase(fsys filesys.FileSystem, dir, kustomizationPath string, original []byte) (*Base, error) {
	stripped, err := StripImages(original)
	if err != nil {
		return nil, err
	}
	rm, err := run(fsys, dir, kustomizationPath, stripped)
	if err != nil {
		return nil, err
	}
	b, err := newBase(rm.Resources(), func() (filesys.FileSystem, error) { return fsys, nil }, dir, kustomizationPath, original)
	if b != nil {
		b.ownFiles = true
	}
	return b, err
}

// ReadingFrom returns b reading the overlay's files from fsys when a check
// needs the full render: b itself if it holds its files (RenderBase), a
// copy otherwise (a Base loaded from a Cache, whose loader may belong to a
// clone that is gone). fsys must serve the files the render was made from.
func (b *Base) ReadingFrom(fsys func() (filesys.FileSystem, error)) *Base {
	if b.ownFiles {
		return b
	}
	c := *b
	c.fsys = sync.OnceValues(fsys)
	return &c
}

// newBase indexes the resources of an overlay rendered without its
// images: entries; original (the overlay with them) decides whether the
// shortcut applies.
func newBase(resources []*resource.Resource, fsys func() (filesys.FileSystem, error), dir, kustomizationPath string, original []byte) (*Base, error) {
	b := &Base{byName: map[string][]int{}, names: map[string]bool{}, exact: true, fsys: fsys, dir: dir, path: kustomizationPath}
	var k types.Kustomization
	if err := k.Unmarshal(original); err != nil || len(k.Transformers) > 0 || len(k.Configurations) > 0 || len(k.Crds) > 0 {
		// Transformer plugins run after the images: entries and
		// configurations or CRDs add image fields: only a full render
		// shows what they do.
		b.exact = false
	}
	for i, r := range resources {
		imgs, err := resourceImages(r)
		if err != nil {
			return nil, err
		}
		b.resources = append(b.resources, r)
		b.images = append(b.images, imgs)
		for _, ref := range imgs {
			n := imageName(ref)
			b.names[n] = true
			if !slices.Contains(b.byName[n], i) {
				b.byName[n] = append(b.byName[n], i)
			}
		}
	}
	return b, nil
}

// StripImages returns the copy of a kustomization that a Base is rendered
// from: without images:, generators: and replacements: (see filterImages).
// Two overlays with equal stripped copies over equal files render equal
// Bases, so it serves as a cache key.
func StripImages(src []byte) ([]byte, error) { return filterImages(src, nil) }

// Names returns the image names (no tag or digest) that enter the
// overlay's image transformer.
func (b *Base) Names() map[string]bool { return maps.Clone(b.names) }

func resourceImages(r *resource.Resource) ([]string, error) {
	m, err := r.Map()
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrRender, r.CurId(), err)
	}
	seen := map[string]bool{}
	collectImages(m, false, seen)
	return slices.Sorted(maps.Keys(seen)), nil
}

// CheckDigests proves that every digest of images reaches a workload when
// the edited overlay is rendered: it reads the edited file's images:
// entries with kustomize's own Kustomization type and applies them, in
// order, with kustomize's image transformer to copies of the resources
// that carry each entry's name. When the overlay uses what this shortcut
// cannot model (transformer plugins, configurations, CRDs), or a digest
// seems not to arrive, the overlay is rendered in full over the files the
// Base was rendered from, and that render decides: the shortcut can only
// save time, never pass what a full render fails.
func (b *Base) CheckDigests(edited []byte, images []Image) error {
	if b.exact && b.quickCheck(edited, images) == nil {
		return nil
	}
	fsys, err := b.fsys()
	if err != nil {
		return err
	}
	return CheckDigests(fsys, b.dir, b.path, edited, images)
}

var errQuick = errors.New("quick render check inconclusive")

func (b *Base) quickCheck(edited []byte, images []Image) error {
	var k types.Kustomization
	if err := k.Unmarshal(edited); err != nil {
		return errQuick
	}
	k.FixKustomization()
	if len(k.Transformers) > 0 || len(k.Configurations) > 0 || len(k.Crds) > 0 {
		return errQuick
	}
	byName := map[string][]int{}
	for n, ix := range b.byName {
		byName[n] = slices.Clone(ix)
	}
	touched := map[int]*resource.Resource{}
	current := map[int][]string{}
	for _, entry := range k.Images {
		ix := slices.Clone(byName[entry.Name])
		if len(ix) == 0 {
			continue
		}
		rm := resmap.New()
		for _, i := range ix {
			if touched[i] == nil {
				touched[i] = b.resources[i].DeepCopy()
			}
			if err := rm.Append(touched[i]); err != nil {
				return errQuick
			}
		}
		// What kustomize's ImageTagTransformer plugin runs.
		if err := rm.ApplyFilter(imagetag.LegacyFilter{ImageTag: entry}); err != nil {
			return errQuick
		}
		if err := rm.ApplyFilter(imagetag.Filter{ImageTag: entry, FsSlice: imageFieldSpecs}); err != nil {
			return errQuick
		}
		for _, i := range ix {
			old := current[i]
			if old == nil {
				old = b.images[i]
			}
			imgs, err := resourceImages(touched[i])
			if err != nil {
				return errQuick
			}
			current[i] = imgs
			for _, ref := range old {
				n := imageName(ref)
				byName[n] = slices.DeleteFunc(byName[n], func(j int) bool { return j == i })
			}
			for _, ref := range imgs {
				n := imageName(ref)
				if !slices.Contains(byName[n], i) {
					byName[n] = append(byName[n], i)
				}
			}
		}
	}
	reached := map[string]bool{}
	for i, imgs := range b.images {
		if now, ok := current[i]; ok {
			imgs = now
		}
		for _, ref := range imgs {
			if _, d, ok := strings.Cut(ref, "@"); ok {
				reached[d] = true
			}
		}
	}
	for _, img := range images {
		if img.Digest != "" && !reached[img.Digest] {
			return errQuick
		}
	}
	return nil
}

// run renders the kustomization in dir with krusty, the file at
// kustomizationPath replaced by content.
func run(fsys filesys.FileSystem, dir, kustomizationPath string, content []byte) (resmap.ResMap, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	abs, err := filepath.Abs(kustomizationPath)
	if err != nil {
		return nil, err
	}
	rm, err := k.Run(override{FileSystem: fsys, path: filepath.Clean(abs), content: content}, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRender, dir, err)
	}
	return rm, nil
}
