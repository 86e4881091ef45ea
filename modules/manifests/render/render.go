// Package render builds kustomizations in-process with kustomize's own Go
// API (krusty), the engine Argo CD runs, with builtin plugins only and no
// remote bases.
//
// KSOPS generators (the SOPS-encrypted Secrets of an overlay) are exec
// plugins that cannot run offline; render stands each one in with a builtin
// SecretGenerator that has the same Secret names and keys and redacted
// values, read from the encrypted files without decrypting them. The rendered
// set thus holds every object the cluster would get, and references to
// Secret keys can be checked.
package render

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Redacted is the value the KSOPS stand-in gives every secret key.
const Redacted = "redacted-by-render"

// originAnnotation is where kustomize records the file an object came from.
const originAnnotation = "config.kubernetes.io/origin"

// Object is one rendered object with the file it came from.
type Object struct {
	// File is the source manifest, relative to the root given to Build.
	File string
	// Obj is the rendered object, origin annotations removed.
	Obj *unstructured.Unstructured
}

// ID names the object as "Kind/namespace/name" (namespace omitted when
// empty).
func (o Object) ID() string { return ID(o.Obj) }

// ID names an object as "Kind/namespace/name" (namespace omitted when empty).
func ID(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// Build renders the kustomization in dir (relative to root) and returns its
// objects in kustomize's output order. Files under root are read into memory
// first, so nothing on disk changes and nothing outside root is reachable.
func Build(root, dir string) ([]Object, error) {
	mem, err := load(root)
	if err != nil {
		return nil, err
	}
	return build(mem, dir)
}

func build(mem filesys.FileSystem, dir string) ([]Object, error) {
	dir = path.Clean(filepath.ToSlash(dir))
	if err := markOrigins(mem, dir); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.DisabledPluginConfig()
	m, err := krusty.MakeKustomizer(opts).Run(mem, "/"+dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	var out []Object
	for _, res := range m.Resources() {
		// Through JSON, so numbers are int64/float64 as everywhere in
		// apimachinery (kyaml's maps hold int).
		js, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("rendering %q: %s: %w", dir, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("rendering %q: %s: %w", dir, res.CurId(), err)
		}
		file := dir
		if ann := u.GetAnnotations(); ann != nil {
			if o, ok := ann[originAnnotation]; ok {
				file = originFile(dir, o)
				delete(ann, originAnnotation)
				if len(ann) == 0 {
					ann = nil
				}
				u.SetAnnotations(ann)
			}
		}
		out = append(out, Object{File: file, Obj: u})
	}
	return out, nil
}

// originFile turns an origin annotation ("path: ../../base/x/a.yaml") into a
// path relative to the root.
func originFile(dir, origin string) string {
	var o struct {
		Path         string `json:"path"`
		ConfiguredIn string `json:"configuredIn"`
	}
	if err := yaml.Unmarshal([]byte(origin), &o); err != nil {
		return dir
	}
	p := o.Path
	if p == "" {
		p = o.ConfiguredIn
	}
	if p == "" {
		return dir
	}
	return path.Clean(path.Join(dir, filepath.ToSlash(p)))
}

// load copies the YAML files under root into an in-memory file system
// rooted at "/".
func load(root string) (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if ext != ".yaml" && ext != ".yml" && d.Name() != "Kustomization" {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.ToSlash(rel), b)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", root, err)
	}
	return mem, nil
}

// Overlays lists the directories matching glob (relative to root, e.g.
// "overlays/*") that hold a kustomization, sorted; hidden directories are
// skipped, as Argo CD's git directory generator skips them.
func Overlays(root, glob string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(glob)))
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", glob, err)
	}
	var dirs []string
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !fi.IsDir() || strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		rel, err := filepath.Rel(root, m)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.ToSlash(rel))
	}
	sort.Strings(dirs)
	return dirs, nil
}
