package argocd_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/argocd"
	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/render"
)

var repo = argocd.Repo{URL: "https://example.com/r.git", Prefix: "deployments"}

const project = `
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: apps, namespace: argocd}
spec:
  sourceRepos: [https://example.com/r.git]
  destinations:
    - {server: https://kubernetes.default.svc, namespace: "env-*"}
  namespaceResourceWhitelist:
    - {group: apps, kind: Deployment}
`

const appset = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: apps, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: https://example.com/r.git
        revision: main
        directories:
          - path: deployments/overlays/*
          - path: deployments/overlays/skip
            exclude: true
  syncPolicy: {preserveResourcesOnDeletion: true}
  template:
    metadata: {name: 'app-{{.path.basename}}'}
    spec:
      project: PROJECT
      source: {repoURL: https://example.com/r.git, targetRevision: main, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: 'env-{{.path.basename}}'}
      syncPolicy: {automated: {prune: true, selfHeal: true}}
`

func objs(t *testing.T, docs ...string) []render.Object {
	t.Helper()
	var out []render.Object
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, render.Object{File: "argocd/x.yaml", Obj: &unstructured.Unstructured{Object: m}})
	}
	return out
}

// dirs plays the repository: three overlay folders, one excluded.
func dirs(glob string) ([]string, error) {
	if glob == "overlays/*" {
		return []string{"overlays/a", "overlays/b", "overlays/skip"}, nil
	}
	return nil, nil
}

func deploymentIn(ns string) argocd.Renderer {
	return func(dir string) ([]render.Object, error) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apps/v1")
		u.SetKind("Deployment")
		u.SetName("d")
		u.SetNamespace(ns + strings.TrimPrefix(dir, "overlays/"))
		return []render.Object{{File: dir + "/d.yaml", Obj: u}}, nil
	}
}

func TestExpand(t *testing.T) {
	o := objs(t, strings.Replace(appset, "PROJECT", "apps", 1))[0]
	apps, fs := argocd.Expand(repo, o, dirs)
	if len(fs) > 0 {
		t.Fatalf("findings: %v", diag.List(fs).Error())
	}
	var names []string
	for _, a := range apps {
		ns, _, _ := unstructured.NestedString(a.Obj.Object, "spec", "destination", "namespace")
		p, _, _ := unstructured.NestedString(a.Obj.Object, "spec", "source", "path")
		names = append(names, a.Obj.GetName()+"="+ns+"@"+p)
	}
	want := "app-a=env-a@deployments/overlays/a app-b=env-b@deployments/overlays/b"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("generated %q, want %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		docs     []string
		renderer argocd.Renderer
		rule     string
		field    string
	}{
		{name: "within limits", docs: []string{project, strings.Replace(appset, "PROJECT", "apps", 1)}, renderer: deploymentIn("env-")},
		{name: "default project", docs: []string{project, strings.Replace(appset, "PROJECT", "default", 1)}, rule: argocd.RuleProject, field: "spec.project"},
		{name: "unknown project", docs: []string{project, strings.Replace(appset, "PROJECT", "nope", 1)}, rule: argocd.RuleProject, field: "spec.project"},
		{name: "templated project", docs: []string{project, strings.Replace(appset, "PROJECT", "'{{.path.basename}}'", 1)}, rule: argocd.RuleAppSet, field: "spec.template.spec.project"},
		{name: "missingkey not error", docs: []string{project, strings.Replace(strings.Replace(appset, "PROJECT", "apps", 1), `["missingkey=error"]`, `[]`, 1)}, rule: argocd.RuleAppSet, field: "spec.goTemplateOptions"},
		{name: "missing key fails", docs: []string{project, strings.Replace(strings.Replace(appset, "PROJECT", "apps", 1), "{{.path.basename}}'}", "{{.path.nope}}'}", 1)}, rule: argocd.RuleAppSet, field: "spec.template"},
		{name: "resources not preserved", docs: []string{project, strings.Replace(strings.Replace(appset, "PROJECT", "apps", 1), "preserveResourcesOnDeletion: true", "preserveResourcesOnDeletion: false", 1)}, rule: argocd.RuleAppSet, field: "preserveResourcesOnDeletion"},
		{name: "no self-heal", docs: []string{project, strings.Replace(strings.Replace(appset, "PROJECT", "apps", 1), "selfHeal: true", "selfHeal: false", 1)}, rule: argocd.RuleSyncPolicy, field: "spec.syncPolicy.automated"},
		{name: "destination outside project", docs: []string{project, strings.Replace(strings.Replace(appset, "PROJECT", "apps", 1), "namespace: 'env-{{", "namespace: 'kube-{{", 1)}, rule: argocd.RuleProject, field: "spec.destination"},
		{name: "kind outside whitelist", docs: []string{project, strings.Replace(appset, "PROJECT", "apps", 1)}, renderer: func(dir string) ([]render.Object, error) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("Secret")
			u.SetName("s")
			u.SetNamespace("env-" + strings.TrimPrefix(dir, "overlays/"))
			return []render.Object{{File: dir + "/s.yaml", Obj: u}}, nil
		}, rule: argocd.RuleProjectKind, field: "kind"},
		{name: "cluster-scoped kind", docs: []string{project, strings.Replace(appset, "PROJECT", "apps", 1)}, renderer: func(dir string) ([]render.Object, error) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("rbac.authorization.k8s.io/v1")
			u.SetKind("ClusterRole")
			u.SetName("admin-ish")
			return []render.Object{{File: dir + "/r.yaml", Obj: u}}, nil
		}, rule: argocd.RuleProjectKind, field: "kind"},
		{name: "renders into another namespace", docs: []string{project, strings.Replace(appset, "PROJECT", "apps", 1)}, renderer: deploymentIn("other-"), rule: argocd.RuleProject, field: "metadata.namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := argocd.Check(repo, objs(t, tt.docs...), dirs, tt.renderer)
			if tt.rule == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got:\n%v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == tt.rule && strings.Contains(f.Field, tt.field) {
					return
				}
			}
			t.Fatalf("want %s on %q, got:\n%v", tt.rule, tt.field, diag.List(got).Error())
		})
	}
}
