package render

import (
	"fmt"
	"path"

	"sigs.k8s.io/yaml"
)

// BuildWith renders the kustomization in dir with extra kustomize
// components applied on top (e.g. an optional canary), through a synthetic
// kustomization in the in-memory copy; nothing on disk changes.
func BuildWith(root, dir string, components ...string) ([]Object, error) {
	mem, err := load(root)
	if err != nil {
		return nil, err
	}
	synth := path.Join(".render", path.Base(dir)+"-with-components")
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{rel(synth, dir)},
	}
	var comps []string
	for _, c := range components {
		comps = append(comps, rel(synth, c))
	}
	k["components"] = comps
	b, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := mem.WriteFile("/"+synth+"/kustomization.yaml", b); err != nil {
		return nil, fmt.Errorf("writing synthetic kustomization: %w", err)
	}
	objs, err := build(mem, synth)
	if err != nil {
		return nil, fmt.Errorf("rendering %q with %v: %w", dir, components, err)
	}
	return objs, nil
}

// rel is the path from folder from to folder to, both relative to the root.
func rel(from, to string) string {
	up := ""
	for d := path.Clean(from); d != "."; d = path.Dir(d) {
		up += "../"
	}
	return path.Clean(up + to)
}
