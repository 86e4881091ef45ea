package contract

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDiscoverGood(t *testing.T) {
	cat, err := Discover("testdata/good")
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if got, want := cat.Names(), []string{"alpha", "beta"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	want := map[string]Service{
		"alpha": {
			Name: "alpha", Kind: KindServer, Description: "Serves the alpha API.", Owner: "team-a",
			Image: "ferry/alpha", Dir: "services/alpha", File: "services/alpha/service.yaml",
			Build: Build{
				Dockerfile: "services/alpha/Dockerfile",
				Context:    "services/alpha",
				Inputs:     []string{"**/*.go", "Dockerfile", "docs"},
				// tmp/ and *.md are ignored, docs/keep.md comes back by "!".
				Files: []string{
					"services/alpha/Dockerfile",
					"services/alpha/docs/diagram.svg",
					"services/alpha/docs/keep.md",
					"services/alpha/main.go",
				},
				Args: map[string]string{"CGO_ENABLED": "0"},
			},
			Health: Health{Port: 8080, Livez: "/livez", Readyz: "/readyz", Version: "/version", Metrics: "/metrics"},
			Env: []EnvVar{
				{Name: "HEALTH_PORT", Default: "8080", HasDefault: true, Description: "Port of the health endpoints."},
				{Name: "API_TOKEN", Required: true, Secret: true, Description: "Token for the upstream API."},
			},
			Manifest: "deployments/base/alpha",
		},
		"beta": {
			Name: "beta", Kind: KindWorker, Description: "Runs beta jobs.",
			Image: "beta", Dir: "services/beta", File: "services/beta/service.yaml",
			Build: Build{
				Dockerfile: "services/beta/Dockerfile",
				Context:    "services/beta",
				Inputs:     []string{"**"},
				Files: []string{
					"services/beta/Dockerfile",
					"services/beta/cmd/beta/main.go",
					"services/beta/go.mod",
					"services/beta/internal/x.go",
					"services/beta/service.yaml",
				},
				Args: map[string]string{},
				Go: &GoBuild{
					ModuleDir: "services/beta", ModulePath: "example.com/beta",
					Main: "./cmd/beta", MainDir: "services/beta/cmd/beta", Package: "example.com/beta/cmd/beta",
					Ldflags: Ldflags{SHA: "main.gitSHA", BuildTS: "main.buildTS"},
				},
			},
			Health:   Health{Port: 9000, Livez: "/healthz", Readyz: "/readyz", Version: "/version"},
			Manifest: "deployments/base/beta",
		},
	}
	for name, w := range want {
		got, ok := cat.Service(name)
		if !ok {
			t.Fatalf("Service(%q) missing", name)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("Service(%q) =\n%#v\nwant\n%#v", name, got, w)
		}
	}
	alpha, _ := cat.Service("alpha")
	if got := alpha.Build.Strategies(); !reflect.DeepEqual(got, []Strategy{StrategyDockerfile}) {
		t.Errorf("alpha strategies = %v", got)
	}
	beta, _ := cat.Service("beta")
	if got := beta.Build.Strategies(); !reflect.DeepEqual(got, []Strategy{StrategyDockerfile, StrategyGo}) {
		t.Errorf("beta strategies = %v", got)
	}
	if got, want := beta.Build.Go.Ldflags.Flags("abc", "2026-01-01T00:00:00Z"), []string{"-X", "main.gitSHA=abc", "-X", "main.buildTS=2026-01-01T00:00:00Z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Flags = %q, want %q", got, want)
	}
	if _, ok := cat.Service("notaservice"); ok {
		t.Error("a folder without service.yaml became a service")
	}
}

func TestDiscoverCollectsEveryServiceError(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"one", "two"} {
		writeFile(t, root, "services/"+name+"/service.yaml", "schemaVersion: 2\nname: "+name+"\n")
	}
	_, err := Discover(root)
	if err == nil {
		t.Fatal("Discover accepted two broken services")
	}
	if !IsTerminal(err) {
		t.Errorf("IsTerminal(%v) = false", err)
	}
	for _, want := range []string{
		"services/one/service.yaml: schemaVersion: 2 is not supported (want 1) (line 1)",
		"services/two/service.yaml: schemaVersion: 2 is not supported",
		"services/two/service.yaml: kind: required",
		"services/one/service.yaml: health.port: required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDiscoverNoServicesFolder(t *testing.T) {
	cat, err := Discover(t.TempDir())
	if err != nil || len(cat.Services) != 0 {
		t.Fatalf("Discover(empty) = %v, %v; want no services, no error", cat, err)
	}
	if _, err := Discover("testdata/does-not-exist"); err == nil {
		t.Fatal("Discover of a missing folder gave no error")
	}
}

func writeFile(t testing.TB, root, rel, content string) {
	t.Helper()
	p := root + "/" + rel
	if err := os.MkdirAll(p[:strings.LastIndex(p, "/")], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
