package manifests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/argocd"
	"github.com/ferry-ci/ferry/modules/manifests/compose"
	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/infra"
	"github.com/ferry-ci/ferry/modules/manifests/policy"
	"github.com/ferry-ci/ferry/modules/manifests/render"
	"github.com/ferry-ci/ferry/modules/manifests/schema"
	"github.com/ferry-ci/ferry/modules/manifests/sopsfile"
)

// Report is what Check found and what it looked at.
type Report struct {
	// Findings lists every violated rule; empty means the tree is valid.
	Findings diag.List
	// Rendered counts the objects rendered per folder ("overlays/staging").
	Rendered map[string]int
	// Checked counts what each check covered ("crd:Application" -> 3, ...).
	Checked map[string]int
}

// Check validates a deployments tree offline: it renders every overlay (and
// each overlay with the optional components), checks built-in objects
// against the Kubernetes schemas and custom resources against their CRDs,
// applies the policies, holds Argo CD Applications to their projects,
// checks the SOPS files, the Compose bridge and the OpenTofu code. Only an
// unusable input (no CRDs, an unreadable folder) is an error; everything
// else is a finding.
func Check(ctx context.Context, root string, opts ...Option) (*Report, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	crds, err := loadCRDs(o.crdDir)
	if err != nil {
		return nil, err
	}
	c := &checker{ctx: ctx, root: root, o: o, crds: crds, builtin: schema.NewBuiltin(),
		rep: &Report{Rendered: map[string]int{}, Checked: map[string]int{}}}
	steps := []func() error{c.overlays, c.argocd, c.policies, c.secrets, c.compose, c.infra}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c.rep, nil
}

// crdCache keeps loaded CRDs per folder: building the validators of a few
// MB of CRDs costs seconds, and a CRDs value is read-only once loaded.
var crdCache sync.Map // folder -> *schema.CRDs

func loadCRDs(dir string) (*schema.CRDs, error) {
	if c, ok := crdCache.Load(dir); ok {
		return c.(*schema.CRDs), nil
	}
	c, err := schema.LoadCRDs(dir)
	if err != nil {
		return nil, err
	}
	crdCache.Store(dir, c)
	return c, nil
}

type checker struct {
	ctx     context.Context
	root    string
	o       *options
	crds    *schema.CRDs
	builtin *schema.Builtin
	rep     *Report
}

func (c *checker) add(fs ...diag.Finding) { c.rep.Findings = append(c.rep.Findings, fs...) }

func (c *checker) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(rel)))
	return err == nil
}

// validate checks objects against schemas: built-ins with client-go's
// schema, the rest with the loaded CRDs; a kind neither knows is a finding.
func (c *checker) validate(objs []render.Object) {
	for _, ob := range objs {
		u := ob.Obj
		switch {
		case c.builtin.Recognizes(u):
			c.rep.Checked["schema:"+u.GetKind()]++
			c.add(c.builtin.Validate(ob.File, u)...)
		case c.crds.Serves(u):
			c.rep.Checked["crd:"+u.GetKind()]++
			fs, err := c.crds.Validate(c.ctx, ob.File, u)
			if err != nil {
				c.add(diag.Finding{File: ob.File, Object: ob.ID(), Rule: "crd-schema", Message: err.Error()})
			}
			c.add(fs...)
		default:
			c.add(diag.Finding{File: ob.File, Object: ob.ID(), Field: "apiVersion", Rule: "schema",
				Message: fmt.Sprintf("%s is neither a built-in kind nor served by a CRD in %s", u.GroupVersionKind(), c.o.crdDir)})
		}
	}
}

func (c *checker) overlays() error {
	dirs, err := render.Overlays(c.root, "overlays/*")
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		c.add(checkKustomizationImages(c.root, dir)...)
		objs, err := render.Build(c.root, dir)
		if err != nil {
			c.add(diag.Finding{File: dir, Rule: "render", Message: err.Error()})
			continue
		}
		c.rep.Rendered[dir] = len(objs)
		c.validate(objs)
		c.add(policy.Check(objs)...)
		for _, comp := range c.o.components[filepath.Base(dir)] {
			if !c.exists(comp) {
				continue
			}
			with, err := render.BuildWith(c.root, dir, comp)
			if err != nil {
				c.add(diag.Finding{File: comp, Rule: "render", Message: err.Error()})
				continue
			}
			c.rep.Rendered[dir+"+"+comp] = len(with)
			c.validate(with)
			c.add(policy.Check(with)...)
		}
	}
	return nil
}

// checkKustomizationImages names the exact images: entry that leaves an
// image mutable, before rendering hides where the tag came from.
func checkKustomizationImages(root, dir string) []diag.Finding {
	rel := dir + "/kustomization.yaml"
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil
	}
	var k struct {
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
			Digest  string `json:"digest"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return []diag.Finding{{File: rel, Rule: "render", Message: fmt.Sprintf("parsing: %v", err)}}
	}
	var out []diag.Finding
	for i, im := range k.Images {
		field := fmt.Sprintf("images[%d] (name: %s)", i, im.Name)
		switch {
		case im.Digest == "":
			out = append(out, diag.Finding{File: rel, Field: field + ".digest", Rule: policy.RuleImageDigest,
				Message: fmt.Sprintf("missing: newTag %q alone is mutable; pin digest: sha256:<64 hex>", im.NewTag)})
		case im.NewTag != "":
			out = append(out, diag.Finding{File: rel, Field: field + ".newTag", Rule: policy.RuleImageDigest,
				Message: "set beside digest: the digest wins and the tag misleads; drop it"})
		}
		if im.Digest != "" {
			repo := im.NewName
			if repo == "" {
				repo = im.Name
			}
			if msg := policy.ImageUnpinned(repo + "@" + im.Digest); msg != "" {
				out = append(out, diag.Finding{File: rel, Field: field + ".digest", Rule: policy.RuleImageDigest, Message: msg})
			}
		}
	}
	return out
}

func (c *checker) argocd() error {
	if !c.exists("argocd/kustomization.yaml") {
		return nil
	}
	objs, err := render.Build(c.root, "argocd")
	if err != nil {
		c.add(diag.Finding{File: "argocd", Rule: "render", Message: err.Error()})
		return nil
	}
	// Files beside the kustomization that it does not list (the root
	// Application, applied once by the bootstrap) are checked too.
	extra, err := loosefiles(c.root, "argocd", objs)
	if err != nil {
		return err
	}
	objs = append(objs, extra...)
	c.rep.Rendered["argocd"] = len(objs)
	c.validate(objs)
	repo := argocd.Repo{URL: c.o.repoURL, Prefix: c.o.repoPrefix}
	globs := func(glob string) ([]string, error) { return render.Overlays(c.root, glob) }
	renderer := func(dir string) ([]render.Object, error) {
		if c.exists(dir + "/kustomization.yaml") {
			return render.Build(c.root, dir)
		}
		// A plain directory source: Argo CD applies its YAML files as they are.
		return plainDir(c.root, dir)
	}
	fs := argocd.Check(repo, objs, globs, renderer)
	for _, o := range objs {
		if k := o.Obj.GetKind(); k == "Application" || k == "ApplicationSet" || k == "AppProject" {
			c.rep.Checked["argocd:"+k]++
		}
	}
	c.add(fs...)
	return nil
}

// loosefiles parses the YAML files directly in dir that the rendered set
// does not already hold.
func loosefiles(root, dir string, have []render.Object) ([]render.Object, error) {
	seen := map[string]bool{dir + "/kustomization.yaml": true}
	for _, o := range have {
		seen[o.File] = true
	}
	all, err := plainDir(root, dir)
	if err != nil {
		return nil, err
	}
	var out []render.Object
	for _, o := range all {
		if !seen[o.File] {
			out = append(out, o)
		}
	}
	return out, nil
}

func parseFile(root, rel string) ([]render.Object, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", rel, err)
	}
	var out []render.Object
	for _, doc := range strings.Split("\n"+string(b), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, fmt.Errorf("parsing %q: %w", rel, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, render.Object{File: rel, Obj: &unstructured.Unstructured{Object: m}})
	}
	return out, nil
}

// plainDir parses the YAML files directly in dir, as an Argo CD directory
// source (without recurse) reads them.
func plainDir(root, dir string) ([]render.Object, error) {
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", dir, err)
	}
	var out []render.Object
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		objs, err := parseFile(root, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func (c *checker) policies() error {
	if !c.exists("policies") {
		return nil
	}
	var files []string
	err := filepath.WalkDir(filepath.Join(c.root, "policies"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			rel, _ := filepath.Rel(c.root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walking policies: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		objs, err := parseFile(c.root, f)
		if err != nil {
			c.add(diag.Finding{File: f, Rule: "schema", Message: err.Error()})
			continue
		}
		var kept []render.Object
		for _, o := range objs {
			// A kustomization beside the policies is configuration, not an object.
			if o.Obj.GetKind() != "Kustomization" {
				kept = append(kept, o)
			}
		}
		c.rep.Rendered["policies"] += len(kept)
		c.validate(kept)
	}
	return nil
}

func (c *checker) secrets() error {
	skip := func(rel string) bool {
		return rel == "compose" || rel == "infra" || strings.HasPrefix(rel, "testdata")
	}
	fs, err := sopsfile.Check(c.root, skip)
	if err != nil {
		return err
	}
	c.add(fs...)
	return nil
}

func (c *checker) compose() error {
	rel := "compose/compose.yaml"
	if !c.exists(rel) {
		return nil
	}
	fs, err := compose.Check(c.ctx, filepath.Join(c.root, rel), rel, c.o.composeEnv)
	if err != nil {
		return err
	}
	c.rep.Checked["compose"]++
	c.add(fs...)
	return nil
}

func (c *checker) infra() error {
	if !c.exists("infra") {
		return nil
	}
	fs, err := infra.Check(filepath.Join(c.root, "infra"), "infra")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	c.rep.Checked["infra"]++
	c.add(fs...)
	return nil
}
