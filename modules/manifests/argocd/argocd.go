// Package argocd checks the Argo CD side of the deployments tree offline:
// it expands ApplicationSet git directory generators over the folders on
// disk (as the controller would over the repository), and holds every
// Application, written or generated, inside its AppProject's limits: an
// existing project other than default, an allowed source repository and
// destination, and only the resource kinds the project permits in what the
// Application's path renders.
package argocd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/render"
)

// Rule names, as they appear in findings.
const (
	RuleProject     = "argocd-project"
	RuleAppSet      = "argocd-applicationset"
	RuleSyncPolicy  = "argocd-sync-policy"
	RuleProjectKind = "argocd-project-kinds"
)

// Repo says how Application sources map onto the folder being checked.
type Repo struct {
	// URL is the repository URL Applications name (spec.source.repoURL).
	URL string
	// Prefix is the path of the checked folder inside that repository
	// ("deployments"); source paths are relative to the repository root.
	Prefix string
}

// Renderer renders one folder (relative to the checked root).
type Renderer func(dir string) ([]render.Object, error)

// Application is one Application to hold to its project, with where it was
// written or generated.
type Application struct {
	File string
	Obj  *unstructured.Unstructured
}

type project struct {
	file         string
	sourceRepos  []string
	destinations []destination
	clusterKinds []groupKind
	nsKinds      []groupKind
	nsKindsSet   bool
}

type destination struct{ server, name, namespace string }

type groupKind struct{ group, kind string }

// Check holds every Application and ApplicationSet among objs to the
// AppProjects among objs. rendered renders an Application's source path so
// the kinds it deploys can be checked.
func Check(repo Repo, objs []render.Object, overlayDirs func(glob string) ([]string, error), rendered Renderer) []diag.Finding {
	var out []diag.Finding
	projects := map[string]*project{}
	for _, o := range objs {
		if o.Obj.GetKind() == "AppProject" {
			p, err := parseProject(o)
			if err != nil {
				out = append(out, diag.Finding{File: o.File, Object: o.ID(), Rule: RuleProject, Message: err.Error()})
				continue
			}
			projects[o.Obj.GetName()] = p
		}
	}
	var apps []Application
	for _, o := range objs {
		switch o.Obj.GetKind() {
		case "Application":
			apps = append(apps, Application{File: o.File, Obj: o.Obj})
		case "ApplicationSet":
			gen, fs := Expand(repo, o, overlayDirs)
			out = append(out, fs...)
			apps = append(apps, gen...)
		}
	}
	for _, a := range apps {
		out = append(out, checkApp(repo, a, projects, rendered)...)
	}
	return out
}

func parseProject(o render.Object) (*project, error) {
	u := o.Obj
	p := &project{file: o.File}
	p.sourceRepos, _, _ = unstructured.NestedStringSlice(u.Object, "spec", "sourceRepos")
	dests, _, _ := unstructured.NestedSlice(u.Object, "spec", "destinations")
	for _, d := range dests {
		m, _ := d.(map[string]any)
		p.destinations = append(p.destinations, destination{server: str(m["server"]), name: str(m["name"]), namespace: str(m["namespace"])})
	}
	p.clusterKinds = kinds(u, "clusterResourceWhitelist")
	var found bool
	p.nsKinds, found = kindsFound(u, "namespaceResourceWhitelist")
	p.nsKindsSet = found
	return p, nil
}

func kinds(u *unstructured.Unstructured, field string) []groupKind {
	k, _ := kindsFound(u, field)
	return k
}

func kindsFound(u *unstructured.Unstructured, field string) ([]groupKind, bool) {
	list, found, _ := unstructured.NestedSlice(u.Object, "spec", field)
	var out []groupKind
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, groupKind{group: str(m["group"]), kind: str(m["kind"])})
	}
	return out, found
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// globMatch matches Argo CD's glob patterns ("*" matches anything).
func globMatch(pattern, s string) bool {
	if pattern == s || pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func checkApp(repo Repo, a Application, projects map[string]*project, rendered Renderer) []diag.Finding {
	u := a.Obj
	id := render.ID(u)
	var out []diag.Finding
	add := func(field, rule, format string, args ...any) {
		out = append(out, diag.Finding{File: a.File, Object: id, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	projName, _, _ := unstructured.NestedString(u.Object, "spec", "project")
	if projName == "" || projName == "default" {
		add("spec.project", RuleProject, "%q: use a dedicated AppProject, never default", projName)
		return out
	}
	p, ok := projects[projName]
	if !ok {
		add("spec.project", RuleProject, "AppProject %q is not defined in this tree", projName)
		return out
	}
	repoURL, _, _ := unstructured.NestedString(u.Object, "spec", "source", "repoURL")
	srcPath, _, _ := unstructured.NestedString(u.Object, "spec", "source", "path")
	if !anyMatch(p.sourceRepos, repoURL) {
		add("spec.source.repoURL", RuleProject, "%q is not among AppProject %q's sourceRepos %v", repoURL, projName, p.sourceRepos)
	}
	server, _, _ := unstructured.NestedString(u.Object, "spec", "destination", "server")
	dname, _, _ := unstructured.NestedString(u.Object, "spec", "destination", "name")
	ns, _, _ := unstructured.NestedString(u.Object, "spec", "destination", "namespace")
	destOK := false
	for _, d := range p.destinations {
		serverOK := (server != "" && d.server != "" && globMatch(d.server, server)) || (dname != "" && d.name != "" && globMatch(d.name, dname))
		if serverOK && globMatch(d.namespace, ns) {
			destOK = true
			break
		}
	}
	if !destOK {
		add("spec.destination", RuleProject, "server %q namespace %q is not among AppProject %q's destinations", server+dname, ns, projName)
	}
	auto, found, _ := unstructured.NestedMap(u.Object, "spec", "syncPolicy", "automated")
	if !found || auto["prune"] != true || auto["selfHeal"] != true {
		add("spec.syncPolicy.automated", RuleSyncPolicy, "automated sync needs prune: true and selfHeal: true (rollback is a git revert)")
	}
	if repoURL != repo.URL || rendered == nil {
		return out
	}
	rel, ok := strings.CutPrefix(path.Clean(srcPath), path.Clean(repo.Prefix)+"/")
	if !ok {
		add("spec.source.path", RuleProject, "%q is outside %q, the folder checked", srcPath, repo.Prefix)
		return out
	}
	objs, err := rendered(rel)
	if err != nil {
		add("spec.source.path", RuleProject, "rendering %q: %v", srcPath, err)
		return out
	}
	for _, o := range objs {
		gvk := o.Obj.GroupVersionKind()
		gk := groupKind{group: gvk.Group, kind: gvk.Kind}
		if o.Obj.GetNamespace() == "" {
			if !kindAllowed(p.clusterKinds, gk) {
				out = append(out, diag.Finding{File: o.File, Object: o.ID(), Field: "kind", Rule: RuleProjectKind,
					Message: fmt.Sprintf("cluster-scoped %s is not in AppProject %q's clusterResourceWhitelist (Application %s)", groupKindString(gk), projName, u.GetName())})
			}
			continue
		}
		if p.nsKindsSet && !kindAllowed(p.nsKinds, gk) {
			out = append(out, diag.Finding{File: o.File, Object: o.ID(), Field: "kind", Rule: RuleProjectKind,
				Message: fmt.Sprintf("%s is not in AppProject %q's namespaceResourceWhitelist (Application %s)", groupKindString(gk), projName, u.GetName())})
		}
		if o.Obj.GetNamespace() != ns && ns != "" {
			out = append(out, diag.Finding{File: o.File, Object: o.ID(), Field: "metadata.namespace", Rule: RuleProject,
				Message: fmt.Sprintf("renders into %q but Application %s deploys to %q", o.Obj.GetNamespace(), u.GetName(), ns)})
		}
	}
	return out
}

func groupKindString(gk groupKind) string {
	if gk.group == "" {
		return gk.kind
	}
	return gk.kind + "." + gk.group
}

func kindAllowed(list []groupKind, gk groupKind) bool {
	for _, k := range list {
		if globMatch(k.group, gk.group) && globMatch(k.kind, gk.kind) {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

var templated = regexp.MustCompile(`\{\{`)

// Expand emulates an ApplicationSet's git directory generators over this
// tree and returns the Applications it would create, plus findings on the
// ApplicationSet itself (goTemplate with missingkey=error, resources
// preserved on deletion, an untemplated project).
func Expand(repo Repo, o render.Object, overlayDirs func(glob string) ([]string, error)) ([]Application, []diag.Finding) {
	u := o.Obj
	id := o.ID()
	var out []diag.Finding
	add := func(field, format string, args ...any) {
		out = append(out, diag.Finding{File: o.File, Object: id, Field: field, Rule: RuleAppSet, Message: fmt.Sprintf(format, args...)})
	}
	goTemplate, _, _ := unstructured.NestedBool(u.Object, "spec", "goTemplate")
	if !goTemplate {
		add("spec.goTemplate", "must be true")
	}
	opts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "goTemplateOptions")
	if !contains(opts, "missingkey=error") {
		add("spec.goTemplateOptions", "must contain missingkey=error, so a typo fails instead of rendering empty")
	}
	if keep, _, _ := unstructured.NestedBool(u.Object, "spec", "syncPolicy", "preserveResourcesOnDeletion"); !keep {
		add("spec.syncPolicy.preserveResourcesOnDeletion", "must be true: deleting a folder must not delete what runs (data included)")
	}
	tmpl, _, _ := unstructured.NestedMap(u.Object, "spec", "template")
	if proj, _, _ := unstructured.NestedString(tmpl, "spec", "project"); templated.MatchString(proj) {
		add("spec.template.spec.project", "%q: a templated project lets a folder name pick its privileges", proj)
	}
	gens, _, _ := unstructured.NestedSlice(u.Object, "spec", "generators")
	var apps []Application
	for gi, g := range gens {
		gm, _ := g.(map[string]any)
		git, ok := gm["git"].(map[string]any)
		if !ok {
			add(fmt.Sprintf("spec.generators[%d]", gi), "only git directory generators can be expanded offline")
			continue
		}
		if str(git["repoURL"]) != repo.URL {
			add(fmt.Sprintf("spec.generators[%d].git.repoURL", gi), "%q is not this repository (%q)", str(git["repoURL"]), repo.URL)
			continue
		}
		dirs, _ := git["directories"].([]any)
		var include, exclude []string
		for _, d := range dirs {
			dm, _ := d.(map[string]any)
			p := str(dm["path"])
			rel, ok := strings.CutPrefix(p, path.Clean(repo.Prefix)+"/")
			if !ok {
				add(fmt.Sprintf("spec.generators[%d].git.directories", gi), "%q is outside %q", p, repo.Prefix)
				continue
			}
			if ex, _ := dm["exclude"].(bool); ex {
				exclude = append(exclude, rel)
			} else {
				include = append(include, rel)
			}
		}
		seen := map[string]bool{}
		var paths []string
		for _, inc := range include {
			ds, err := overlayDirs(inc)
			if err != nil {
				add(fmt.Sprintf("spec.generators[%d].git.directories", gi), "%v", err)
				continue
			}
			for _, d := range ds {
				if !seen[d] && !anyMatch(exclude, d) {
					seen[d] = true
					paths = append(paths, d)
				}
			}
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			add(fmt.Sprintf("spec.generators[%d].git.directories", gi), "matches no folder")
		}
		for _, rel := range paths {
			full := path.Join(repo.Prefix, rel)
			app, err := instantiate(tmpl, params(full), opts)
			if err != nil {
				add("spec.template", "expanding for %q: %v", full, err)
				continue
			}
			app.SetAPIVersion("argoproj.io/v1alpha1")
			app.SetKind("Application")
			if app.GetNamespace() == "" {
				app.SetNamespace(u.GetNamespace())
			}
			apps = append(apps, Application{File: o.File + " (generated for " + full + ")", Obj: app})
		}
	}
	return apps, out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9-.]`)

// params are the git directory generator's parameters for one folder.
func params(p string) map[string]any {
	segs := strings.Split(p, "/")
	base := segs[len(segs)-1]
	return map[string]any{"path": map[string]any{
		"path":               p,
		"basename":           base,
		"basenameNormalized": nonAlnum.ReplaceAllString(strings.ToLower(base), "-"),
		"segments":           segs,
		"filename":           "",
	}}
}

// instantiate renders every string of the template as a Go template (the
// way the ApplicationSet controller does with goTemplate: true).
func instantiate(tmpl map[string]any, p map[string]any, opts []string) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	var copyT any
	if err := json.Unmarshal(b, &copyT); err != nil {
		return nil, err
	}
	res, err := walk(copyT, p, opts)
	if err != nil {
		return nil, err
	}
	m, _ := res.(map[string]any)
	return &unstructured.Unstructured{Object: m}, nil
}

func walk(v any, p map[string]any, opts []string) (any, error) {
	switch t := v.(type) {
	case string:
		if !templated.MatchString(t) {
			return t, nil
		}
		tp, err := template.New("").Option(templateOptions(opts)...).Parse(t)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := tp.Execute(&buf, p); err != nil {
			return nil, err
		}
		return buf.String(), nil
	case map[string]any:
		for k, e := range t {
			r, err := walk(e, p, opts)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
		return t, nil
	case []any:
		for i, e := range t {
			r, err := walk(e, p, opts)
			if err != nil {
				return nil, err
			}
			t[i] = r
		}
		return t, nil
	}
	return v, nil
}

// templateOptions keeps the goTemplateOptions text/template understands
// (missingkey=...); text/template panics on any other.
func templateOptions(opts []string) []string {
	var out []string
	for _, o := range opts {
		switch o {
		case "missingkey=error", "missingkey=zero", "missingkey=default", "missingkey=invalid":
			out = append(out, o)
		}
	}
	return out
}
