package contract

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func svcYAML(name, extra string) string {
	return "schemaVersion: 1\nname: " + name + "\nkind: worker\ndescription: Test service " + name + ".\n" + extra +
		"health:\n  port: 9000\ndeploy:\n  manifest: deployments/base/" + name + "\n"
}

// monorepo is a repository with four services and shared modules:
//
//	api    requires example.com/lib (go.work), which requires example.com/shared (go.work)
//	worker requires example.com/replaced through a local replace directive,
//	       and example.com/workrep, which go.work replaces with a local folder
//	batch  has its own module and nothing else
//	web    has no go.mod; its Dockerfile lives in docker/ outside its folder
//
// modules/lib/nested is a nested module nobody requires.
func monorepo() map[string]string {
	files := map[string]string{
		"README.md": "# repo\n",
		"go.work":   "go 1.26.0\n\nuse (\n\t./modules/lib\n\t./modules/shared\n\t./services/api\n\t./services/batch\n)\n\nreplace example.com/workrep => ./modules/workrep\n",

		"modules/shared/go.mod":        "module example.com/shared\n\ngo 1.26.0\n",
		"modules/shared/shared.go":     "package shared\n",
		"modules/lib/go.mod":           "module example.com/lib\n\ngo 1.26.0\n\nrequire example.com/shared v0.0.0\n",
		"modules/lib/lib.go":           "package lib\n",
		"modules/lib/extra.go":         "package lib\n",
		"modules/lib/nested/go.mod":    "module example.com/lib/nested\n\ngo 1.26.0\n",
		"modules/lib/nested/nested.go": "package nested\n",
		"modules/replaced/go.mod":      "module example.com/replaced\n\ngo 1.26.0\n",
		"modules/replaced/r.go":        "package replaced\n",
		"modules/workrep/go.mod":       "module example.com/workrep\n\ngo 1.26.0\n",
		"modules/workrep/w.go":         "package workrep\n",
		"modules/unused/go.mod":        "module example.com/unused\n\ngo 1.26.0\n",
		"modules/unused/u.go":          "package unused\n",

		"services/api/service.yaml":    svcYAML("api", ""),
		"services/api/Dockerfile":      "FROM scratch\nCOPY . /src\n",
		"services/api/go.mod":          "module example.com/api\n\ngo 1.26.0\n\nrequire example.com/lib v0.0.0\n",
		"services/api/main.go":         "package main\n",
		"services/worker/service.yaml": svcYAML("worker", ""),
		"services/worker/Dockerfile":   "FROM scratch\nCOPY . /src\n",
		"services/worker/go.mod": "module example.com/worker\n\ngo 1.26.0\n\nrequire (\n\texample.com/replaced v0.0.0\n\texample.com/workrep v0.0.0\n)\n\n" +
			"replace example.com/replaced => ../../modules/replaced\n\n// not required, so not a dependency:\nreplace example.com/unused => ../../modules/unused\n",
		"services/worker/main.go":     "package main\n",
		"services/batch/service.yaml": svcYAML("batch", ""),
		"services/batch/Dockerfile":   "FROM scratch\nCOPY . /src\n",
		"services/batch/go.mod":       "module example.com/batch\n\ngo 1.26.0\n",
		"services/batch/a.go":         "package main\n",
		"services/web/service.yaml":   svcYAML("web", "build:\n  dockerfile: ../../docker/web.Dockerfile\n"),
		"services/web/index.html":     "<html></html>\n",
		"docker/web.Dockerfile":       "FROM scratch\nCOPY index.html /srv/\n",
		"docker/other.Dockerfile":     "FROM scratch\n",
	}
	for _, n := range []string{"api", "worker", "batch", "web"} {
		files["deployments/base/"+n+"/kustomization.yaml"] = "resources: []\n"
	}
	return files
}

func TestAffected(t *testing.T) {
	repo := newGitRepo(t)
	repo.write(monorepo())
	base := repo.commit("base")
	opts := []AffectedOption{WithAffectsAll("go.work", ".github/workflows/**")}

	t.Run("from nothing every service is affected", func(t *testing.T) {
		imp, err := Affected(t.Context(), repo.dir, "", base, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := imp.Names(), []string{"api", "batch", "web", "worker"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Names() = %v, want %v", got, want)
		}
	})

	tests := []struct {
		name    string
		change  map[string]string
		want    []string
		reasons map[string][]Reason // optional exact reasons per service
		removed []string
	}{
		{name: "service file", change: map[string]string{"services/api/main.go": "package main // v2\n"}, want: []string{"api"},
			reasons: map[string][]Reason{"api": {{Kind: ReasonFolder, Path: "services/api/main.go"}}}},
		{name: "workspace module required directly", change: map[string]string{"modules/lib/lib.go": "package lib // v2\n"}, want: []string{"api"},
			reasons: map[string][]Reason{"api": {{Kind: ReasonModule, Path: "modules/lib/lib.go", Detail: "example.com/lib"}}}},
		{name: "workspace module required transitively", change: map[string]string{"modules/shared/shared.go": "package shared // v2\n"}, want: []string{"api"},
			reasons: map[string][]Reason{"api": {{Kind: ReasonModule, Path: "modules/shared/shared.go", Detail: "example.com/shared"}}}},
		{name: "nested module is not its parent", change: map[string]string{"modules/lib/nested/nested.go": "package nested // v2\n"}, want: nil},
		{name: "local replace target", change: map[string]string{"modules/replaced/r.go": "package replaced // v2\n"}, want: []string{"worker"},
			reasons: map[string][]Reason{"worker": {{Kind: ReasonModule, Path: "modules/replaced/r.go", Detail: "example.com/replaced"}}}},
		{name: "go.work replace target", change: map[string]string{"modules/workrep/w.go": "package workrep // v2\n"}, want: []string{"worker"},
			reasons: map[string][]Reason{"worker": {{Kind: ReasonModule, Path: "modules/workrep/w.go", Detail: "example.com/workrep"}}}},
		{name: "replace of a module not required", change: map[string]string{"modules/unused/u.go": "package unused // v2\n"}, want: nil},
		{name: "dockerfile outside the folder", change: map[string]string{"docker/web.Dockerfile": "FROM scratch\nCOPY index.html /srv/app/\n"}, want: []string{"web"},
			reasons: map[string][]Reason{"web": {{Kind: ReasonDockerfile, Path: "docker/web.Dockerfile"}}}},
		{name: "another dockerfile", change: map[string]string{"docker/other.Dockerfile": "FROM scratch\nUSER 1\n"}, want: nil},
		{name: "declared global file", change: map[string]string{"go.work": "go 1.26.0\n\nuse (\n\t./modules/lib\n\t./modules/shared\n\t./services/api\n\t./services/batch\n\t./services/worker\n)\n\nreplace example.com/workrep => ./modules/workrep\n"},
			want:    []string{"api", "batch", "web", "worker"},
			reasons: map[string][]Reason{"web": {{Kind: ReasonGlobal, Path: "go.work", Detail: "go.work"}}}},
		{name: "declared global folder", change: map[string]string{".github/workflows/release.yml": "on: push\n"}, want: []string{"api", "batch", "web", "worker"},
			reasons: map[string][]Reason{"batch": {{Kind: ReasonGlobal, Path: ".github/workflows/release.yml", Detail: ".github/workflows/**"}}}},
		{name: "unrelated file", change: map[string]string{"README.md": "# repo v2\n"}, want: nil},
		{name: "manifest only", change: map[string]string{"deployments/base/api/kustomization.yaml": "resources: [a.yaml]\n"}, want: nil},
		{name: "deleted module file", change: map[string]string{"modules/lib/extra.go": ""}, want: []string{"api"}},
		{name: "removed service", change: map[string]string{"services/batch/service.yaml": "", "services/batch/Dockerfile": "", "services/batch/go.mod": "", "services/batch/a.go": ""},
			want: nil, removed: []string{"batch"}},
		{name: "service back", change: map[string]string{"services/batch/service.yaml": svcYAML("batch", ""), "services/batch/Dockerfile": "FROM scratch\nCOPY . /src\n", "services/batch/go.mod": "module example.com/batch\n\ngo 1.26.0\n", "services/batch/a.go": "package main\n"},
			want: []string{"batch"}},
		{name: "two services at once", change: map[string]string{"services/batch/a.go": "", "services/batch/b.go": "package main\n", "services/web/index.html": "<html>v2</html>\n"},
			want: []string{"batch", "web"}},
	}
	prev := base
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo.write(tc.change)
			head := repo.commit(tc.name)
			from := prev
			prev = head
			imp, err := Affected(t.Context(), repo.dir, from, head, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := imp.Names(); !reflect.DeepEqual(got, append([]string{}, tc.want...)) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("affected = %v, want %v\nreasons: %+v", got, tc.want, imp.Services)
			}
			if !reflect.DeepEqual(imp.Removed, tc.removed) {
				t.Errorf("Removed = %v, want %v", imp.Removed, tc.removed)
			}
			for name, want := range tc.reasons {
				for _, s := range imp.Services {
					if s.Name == name && !reflect.DeepEqual(s.Reasons, want) {
						t.Errorf("reasons of %s = %+v, want %+v", name, s.Reasons, want)
					}
				}
			}
			// The changed paths agree with the real git.
			if out, ok := repo.gitCLI("diff", "--no-renames", "--name-only", from, head); ok {
				names := strings.Fields(out)
				sort.Strings(names)
				if !reflect.DeepEqual(names, imp.Changed) {
					t.Errorf("Changed = %v, git diff says %v", imp.Changed, names)
				}
			}
			if imp.From != from || imp.To != head {
				t.Errorf("From, To = %s, %s; want %s, %s", imp.From, imp.To, from, head)
			}
		})
	}

	t.Run("revision expressions", func(t *testing.T) {
		imp, err := Affected(t.Context(), repo.dir+"/services", "HEAD~1", "HEAD", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := imp.Names(), []string{"batch", "web"}; !reflect.DeepEqual(got, want) {
			t.Errorf("HEAD~1..HEAD affected %v, want %v", got, want)
		}
	})
	t.Run("no globals declared", func(t *testing.T) {
		imp, err := Affected(t.Context(), repo.dir, base, prev)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range imp.Services {
			for _, r := range s.Reasons {
				if r.Kind == ReasonGlobal {
					t.Errorf("global reason without WithAffectsAll: %+v", r)
				}
			}
		}
	})
}

func TestAffectedErrors(t *testing.T) {
	repo := newGitRepo(t)
	repo.write(monorepo())
	base := repo.commit("base")
	repo.write(map[string]string{"services/api/service.yaml": svcYAML("api", "") + "bogus: 1\n"})
	broken := repo.commit("broken contract")
	repo.write(map[string]string{"services/api/service.yaml": svcYAML("api", ""), "modules/lib/go.mod": "module example.com/lib\n\nrequire example.com/shared v0.0.0\nreplace example.com/shared => ../gone\n"})
	badReplace := repo.commit("replace to a missing folder")

	tests := []struct {
		name, dir, from, to string
		opts                []AffectedOption
		want                string
		terminal            bool
	}{
		{name: "not a repository", dir: t.TempDir(), from: base, to: base, want: "opening git repository"},
		{name: "unknown revision", dir: repo.dir, from: "nope", to: base, want: `resolving revision "nope"`},
		{name: "bad global glob", dir: repo.dir, from: base, to: base, opts: []AffectedOption{WithAffectsAll("../x")}, want: `WithAffectsAll: "../x" must be a relative glob`},
		{name: "invalid service at to", dir: repo.dir, from: base, to: broken, want: "services/api/service.yaml: bogus: unknown field", terminal: true},
		{name: "replace to a missing module", dir: repo.dir, from: broken, to: badReplace, want: "modules/gone/go.mod: does not exist", terminal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imp, err := Affected(t.Context(), tc.dir, tc.from, tc.to, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Affected = %+v, %v; want error %q", imp, err, tc.want)
			}
			// Broken files in the repository are terminal; the rest is not.
			if got, want := IsTerminal(err), tc.terminal; got != want {
				t.Errorf("IsTerminal(%v) = %v, want %v", err, got, want)
			}
		})
	}
}

// TestServiceReasonsDockerfileFake exercises the Dockerfile rule with a
// context wider than the service folder, which service.yaml forbids today
// but the rule must handle: only files the Dockerfile reads, minus the
// .dockerignore, count.
func TestServiceReasonsDockerfileFake(t *testing.T) {
	fsys := fstest.MapFS{
		"Dockerfile":    {Data: []byte("FROM golang AS build\nCOPY --from=base /x /x\nCOPY go.mod go.sum /src/\nCOPY pkg/ /src/pkg/\nCOPY cmd/*.go /src/\n")},
		".dockerignore": {Data: []byte("pkg/**/testdata\n")},
	}
	svc := Service{Name: "wide", Dir: "services/wide", Build: Build{Dockerfile: "Dockerfile", Context: "."}}
	changed := []string{".dockerignore", "README.md", "cmd/main.go", "cmd/sub/x.go", "go.sum", "pkg/a/a.go", "pkg/a/testdata/t.txt", "services/wide/x"}
	got, err := serviceReasons(svc, changed, fsys, fsys, &modGraph{fsys: fsys, mods: map[string]*goModule{}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Reason{
		{Kind: ReasonFolder, Path: "services/wide/x"},
		{Kind: ReasonDockerfile, Path: ".dockerignore"},
		{Kind: ReasonDockerfile, Path: "cmd/main.go", Detail: "cmd/*.go"},
		{Kind: ReasonDockerfile, Path: "go.sum", Detail: "go.sum"},
		{Kind: ReasonDockerfile, Path: "pkg/a/a.go", Detail: "pkg"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reasons =\n%+v\nwant\n%+v", got, want)
	}
}

func TestTreeFS(t *testing.T) {
	repo := newGitRepo(t)
	repo.write(map[string]string{"a.txt": "a\n", "dir/b.txt": "bb\n", "dir/sub/c.txt": "ccc\n", "dir-x/d": "d\n"})
	h := repo.commit("files")
	c, err := resolveCommit(repo.repo, h)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(newTreeFS(tree), "a.txt", "dir/b.txt", "dir/sub/c.txt", "dir-x/d"); err != nil {
		t.Fatal(err)
	}
}
