package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// markOrigins prepares the in-memory copy for a build of dir: the top
// kustomization asks for origin annotations (so findings name source files)
// and every KSOPS generator becomes its offline stand-in.
func markOrigins(mem filesys.FileSystem, dir string) error {
	kfile := ""
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if mem.Exists(path.Join("/", dir, name)) {
			kfile = path.Join("/", dir, name)
			break
		}
	}
	if kfile == "" {
		return fmt.Errorf("rendering %q: no kustomization file", dir)
	}
	b, err := mem.ReadFile(kfile)
	if err != nil {
		return fmt.Errorf("reading %q: %w", kfile, err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("parsing %q: %w", kfile, err)
	}
	k["buildMetadata"] = []any{"originAnnotations"}
	out, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	if err := mem.WriteFile(kfile, out); err != nil {
		return err
	}
	return standInKSOPS(mem)
}

// ksopsGenerator is the part of a KSOPS generator config render reads.
type ksopsGenerator struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Files      []string `json:"files"`
}

// encryptedSecret is the part of a SOPS-encrypted Secret render reads: its
// name, type and keys, never its values.
type encryptedSecret struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Type       string         `json:"type"`
	Data       map[string]any `json:"data"`
	StringData map[string]any `json:"stringData"`
}

// IsKSOPS reports whether a YAML document is a KSOPS generator config.
func IsKSOPS(doc []byte) bool {
	var g ksopsGenerator
	return yaml.Unmarshal(doc, &g) == nil && g.Kind == "ksops" && path.Dir(g.APIVersion) == "viaduct.ai"
}

func standInKSOPS(mem filesys.FileSystem) error {
	return mem.Walk("/", func(p string, info fs.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := mem.ReadFile(p)
		if err != nil {
			return err
		}
		if !IsKSOPS(b) {
			return nil
		}
		var g ksopsGenerator
		if err := yaml.Unmarshal(b, &g); err != nil {
			return fmt.Errorf("parsing %q: %w", p, err)
		}
		var docs [][]byte
		for _, f := range g.Files {
			sp := path.Join(path.Dir(p), f)
			sb, err := mem.ReadFile(sp)
			if err != nil {
				return fmt.Errorf("reading %q (listed in %q): %w", sp, p, err)
			}
			var s encryptedSecret
			if err := yaml.Unmarshal(sb, &s); err != nil {
				return fmt.Errorf("parsing %q: %w", sp, err)
			}
			if s.Kind != "Secret" || s.Metadata.Name == "" {
				return fmt.Errorf("reading %q: not a named Secret", sp)
			}
			var lits []string
			for key := range s.Data {
				lits = append(lits, key+"="+Redacted)
			}
			for key := range s.StringData {
				lits = append(lits, key+"="+Redacted)
			}
			sort.Strings(lits)
			gen := map[string]any{
				"apiVersion": "builtin",
				"kind":       "SecretGenerator",
				"metadata":   map[string]any{"name": s.Metadata.Name},
				"literals":   lits,
				"options":    map[string]any{"disableNameSuffixHash": true},
			}
			if s.Type != "" {
				gen["type"] = s.Type
			}
			d, err := yaml.Marshal(gen)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		return mem.WriteFile(p, bytes.Join(docs, []byte("---\n")))
	})
}
