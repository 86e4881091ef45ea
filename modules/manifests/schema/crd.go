package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
)

// ErrNoCRD is returned (wrapped) by CRDs.Validate for a kind no loaded CRD
// serves.
var ErrNoCRD = errors.New("no CRD serves this kind")

// CRDs validates custom resources against a set of CRDs; build it with
// LoadCRDs.
type CRDs struct {
	versions map[schema.GroupVersionKind]*crdVersion
}

type crdVersion struct {
	file       string
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

// LoadCRDs reads every CRD in the YAML files under dir (recursively) and
// prepares a validator per served version.
func LoadCRDs(dir string) (*CRDs, error) {
	c := &CRDs{versions: map[schema.GroupVersionKind]*crdVersion{}}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing CRDs in %q: %w", dir, err)
	}
	sort.Strings(files)
	for _, f := range files {
		if err := c.loadFile(f); err != nil {
			return nil, err
		}
	}
	if len(c.versions) == 0 {
		return nil, fmt.Errorf("loading CRDs from %q: none found", dir)
	}
	return c, nil
}

func (c *CRDs) loadFile(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading %q: %w", file, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := dec.Decode(&crd); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decoding %q: %w", file, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		if err := c.add(file, &crd); err != nil {
			return err
		}
	}
}

func (c *CRDs) add(file string, crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil {
			continue
		}
		var internal apiextensionsinternal.CustomResourceValidation
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, &internal, nil); err != nil {
			return fmt.Errorf("converting %q %s: %w", file, v.Name, err)
		}
		validator, _, err := validation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("building validator for %q %s: %w", file, v.Name, err)
		}
		structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("building structural schema for %q %s: %w", file, v.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		c.versions[gvk] = &crdVersion{
			file:       file,
			validator:  validator,
			structural: structural,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

// Kinds lists the group/version/kinds the loaded CRDs serve, sorted.
func (c *CRDs) Kinds() []string {
	var out []string
	for gvk := range c.versions {
		out = append(out, gvk.String())
	}
	sort.Strings(out)
	return out
}

// Serves reports whether a loaded CRD serves the object's kind.
func (c *CRDs) Serves(u *unstructured.Unstructured) bool {
	_, ok := c.versions[u.GroupVersionKind()]
	return ok
}

// Validate checks one custom resource as an API server would on create:
// schema (types, enums, required, patterns), unknown fields (what pruning
// would drop), metadata, and CEL rules. It returns ErrNoCRD (wrapped) when
// no CRD serves the kind.
func (c *CRDs) Validate(ctx context.Context, file string, u *unstructured.Unstructured) ([]diag.Finding, error) {
	gvk := u.GroupVersionKind()
	v, ok := c.versions[gvk]
	if !ok {
		return nil, fmt.Errorf("validating %s in %q: %w", gvk, file, ErrNoCRD)
	}
	id := objectID(u)
	obj := runtime.DeepCopyJSON(u.Object)
	var out []diag.Finding
	add := func(errs field.ErrorList) {
		for _, e := range errs {
			out = append(out, diag.Finding{File: file, Object: id, Field: e.Field, Rule: "crd-schema", Message: e.ErrorBody()})
		}
	}
	add(validation.ValidateCustomResource(nil, obj, v.validator))
	pruned := runtime.DeepCopyJSON(obj)
	unknown := pruning.PruneWithOptions(pruned, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	sort.Strings(unknown)
	for _, p := range unknown {
		out = append(out, diag.Finding{File: file, Object: id, Field: p, Rule: "crd-schema", Message: "field not declared in schema (the API server would drop it)"})
	}
	add(objectmeta.Validate(ctx, nil, obj, v.structural, true))
	errs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	add(errs)
	return out, nil
}

// ParseYAML decodes one YAML document into an unstructured object.
func ParseYAML(doc []byte) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}
