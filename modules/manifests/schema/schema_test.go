package schema_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/schema"
)

func parse(t *testing.T, doc string) []byte {
	t.Helper()
	return []byte(doc)
}

func TestBuiltin(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		field string
		msg   string
	}{
		{name: "valid", doc: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: app, ports: [{containerPort: 9000}]}]
`},
		{name: "unknown field", doc: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    spec:
      containers: [{name: app, image: app, resourcez: {}}]
`, field: `resourcez`, msg: "field not declared in schema"},
		{name: "wrong type", doc: `
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{port: "nine thousand"}]
`, field: "port", msg: "expected numeric"},
	}
	b := schema.NewBuiltin()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := schema.ParseYAML(parse(t, tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !b.Recognizes(u) {
				t.Fatalf("%s not recognized as built-in", u.GroupVersionKind())
			}
			got := b.Validate("f.yaml", u)
			if tt.field == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if strings.Contains(f.Field, tt.field) && strings.Contains(f.Message, tt.msg) && f.File == "f.yaml" {
					return
				}
			}
			t.Fatalf("want %q on %q, got %v", tt.msg, tt.field, diag.List(got).Error())
		})
	}
}

func TestCRDs(t *testing.T) {
	crds, err := schema.LoadCRDs("../crds")
	if err != nil {
		t.Fatal(err)
	}
	local, err := schema.LoadCRDs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		crds  *schema.CRDs
		doc   string
		field string
		msg   string
	}{
		{name: "valid application", crds: crds, doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a, namespace: argocd}
spec:
  project: p
  source: {repoURL: https://example.com/r.git, path: x}
  destination: {server: https://kubernetes.default.svc, namespace: apps}
`},
		{name: "wrong type", crds: crds, doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a}
spec:
  project: p
  destination: {server: https://kubernetes.default.svc}
  syncPolicy: {automated: {prune: "yes"}}
`, field: "spec.syncPolicy.automated.prune", msg: "must be of type boolean"},
		{name: "required field", crds: crds, doc: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a}
spec:
  project: p
`, field: "spec.destination", msg: "Required value"},
		{name: "unknown field", crds: crds, doc: `
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: p}
spec:
  sourceRepo: [x]
`, field: "spec.sourceRepo", msg: "not declared"},
		{name: "enum", crds: local, doc: `
apiVersion: example.ferry.dev/v1
kind: Widget
metadata: {name: w}
spec: {size: medium, min: 1, max: 2}
`, field: "spec.size", msg: "Unsupported value"},
		{name: "CEL rule", crds: local, doc: `
apiVersion: example.ferry.dev/v1
kind: Widget
metadata: {name: w}
spec: {size: small, min: 3, max: 1}
`, field: "spec", msg: "min must not exceed max"},
		{name: "bad label value", crds: local, doc: `
apiVersion: example.ferry.dev/v1
kind: Widget
metadata: {name: w, labels: {tier: "not a label value!"}}
spec: {size: small, min: 1, max: 2}
`, field: "metadata.labels", msg: "Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := schema.ParseYAML([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.crds.Validate(context.Background(), "f.yaml", u)
			if err != nil {
				t.Fatal(err)
			}
			if tt.field == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Field == tt.field && strings.Contains(f.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("want %q on %q, got %v", tt.msg, tt.field, diag.List(got).Error())
		})
	}
}

func TestCRDsServeTheVendoredKinds(t *testing.T) {
	crds, err := schema.LoadCRDs("../crds")
	if err != nil {
		t.Fatal(err)
	}
	kinds := strings.Join(crds.Kinds(), " ")
	for _, k := range []string{"Application", "ApplicationSet", "AppProject", "Rollout", "AnalysisTemplate", "ClusterImagePolicy", "ClusterPolicy"} {
		if !strings.Contains(kinds, ", Kind="+k) {
			t.Errorf("no CRD serves %s (have %s)", k, kinds)
		}
	}
	u, _ := schema.ParseYAML([]byte("apiVersion: example.com/v1\nkind: Nope\nmetadata: {name: x}\n"))
	if _, err := crds.Validate(context.Background(), "f.yaml", u); !errors.Is(err, schema.ErrNoCRD) {
		t.Fatalf("want ErrNoCRD, got %v", err)
	}
}
