// Package schema checks rendered objects against the schemas a Kubernetes
// API server would apply: built-in kinds against client-go's embedded
// structured-merge-diff schema (unknown fields, wrong types), custom
// resources against their CRDs with k8s.io/apiextensions-apiserver (types,
// enums, required fields, patterns, unknown fields found by pruning, CEL
// rules).
package schema

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
)

// Builtin validates built-in kinds; create it once with NewBuiltin.
type Builtin struct {
	tc managedfields.TypeConverter
}

// NewBuiltin returns a validator over client-go's scheme.
func NewBuiltin() *Builtin {
	return &Builtin{tc: applyconfigurations.NewTypeConverter(scheme.Scheme)}
}

// Recognizes reports whether the object is a built-in kind this validator
// knows.
func (b *Builtin) Recognizes(u *unstructured.Unstructured) bool {
	return scheme.Scheme.Recognizes(u.GroupVersionKind())
}

// Validate returns one finding per unknown field or type mismatch. file
// names the source manifest in the findings.
func (b *Builtin) Validate(file string, u *unstructured.Unstructured) []diag.Finding {
	id := objectID(u)
	_, err := b.tc.ObjectToTyped(u)
	if err == nil {
		return nil
	}
	var verrs typed.ValidationErrors
	if errors.As(err, &verrs) {
		out := make([]diag.Finding, 0, len(verrs))
		for _, ve := range verrs {
			out = append(out, diag.Finding{File: file, Object: id, Field: strings.TrimPrefix(ve.Path, "."),
				Rule: "schema", Message: ve.ErrorMessage})
		}
		return out
	}
	// A list of errors the converter flattened into one: one finding a line.
	var out []diag.Finding
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "errors:") {
			continue
		}
		field, msg := "", line
		if p, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(p, ".") {
			field, msg = strings.TrimPrefix(p, "."), rest
		}
		out = append(out, diag.Finding{File: file, Object: id, Field: field, Rule: "schema", Message: msg})
	}
	return out
}

func objectID(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}
