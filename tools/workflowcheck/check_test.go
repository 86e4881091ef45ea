package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var corpusConfig = Config{
	DaggerVersion: "0.21.9",
	Functions:     []string{"build", "check", "plan", "promote", "push", "release", "rollback"},
	Services:      []string{"migrator", "scheduler-worker"},
	Flags:         map[string][]string{"check": {}, "push": {"--service", "--env"}},
}

func wants(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(l, "# want: "); ok {
			out = append(out, w)
		}
	}
	return out
}

// TestCorpus checks each bad workflow under testdata/ for exactly its
// expected findings. A reusable_* case stands in for dagger.yml; any other
// case is checked beside the repository's dagger.yml.
func TestCorpus(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", Reusable))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range cases {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := wants(data)
			if len(want) == 0 && !strings.HasPrefix(name, "good") {
				t.Fatalf("%s has no # want: line", file)
			}
			files := map[string][]byte{Reusable: real, name + ".yml": data}
			if strings.HasPrefix(name, "reusable_") {
				files = map[string][]byte{Reusable: data}
			}
			got := CheckWorkflows(files, corpusConfig)
			for _, w := range want {
				found := false
				for _, f := range got {
					found = found || strings.Contains(f.Message, w)
				}
				if !found {
					t.Errorf("no finding contains %q; findings: %v", w, got)
				}
			}
			for _, f := range got {
				wanted := false
				for _, w := range want {
					wanted = wanted || strings.Contains(f.Message, w)
				}
				if !wanted {
					t.Errorf("unexpected finding %s", f)
				}
			}
		})
	}
}

// TestRepoWorkflows checks the repository's own workflows.
func TestRepoWorkflows(t *testing.T) {
	findings, err := CheckRepo(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
}

func TestRepoConfig(t *testing.T) {
	cfg, err := RepoConfig(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DaggerVersion != "0.21.9" {
		t.Errorf("DaggerVersion = %q, want 0.21.9 from dagger.json", cfg.DaggerVersion)
	}
	for _, fn := range []string{"build", "test", "lint", "push", "check", "sign", "verify", "promote-pr", "release", "promote", "rollback", "plan"} {
		if !contains(cfg.Functions, fn) {
			t.Errorf("Functions = %v, want %s read from ci/", cfg.Functions, fn)
		}
		if _, ok := cfg.Flags[fn]; !ok {
			t.Errorf("Flags has no entry for %s: its flags would go unchecked", fn)
		}
	}
	if got := strings.Join(cfg.Flags["release"], " "); !strings.Contains(got, "--keyless --oidc-token --oidc-request-url --oidc-request-token --certificate-identity") {
		t.Errorf("release flags = %q", got)
	}
	if got := strings.Join(cfg.Flags["push"], " "); !strings.Contains(got, "--service --env --registry --username --password --git-sha --build-ts") {
		t.Errorf("push flags = %q", got)
	}
	if !contains(cfg.Services, "scheduler-worker") {
		t.Errorf("Services = %v, want scheduler-worker", cfg.Services)
	}
}

func TestRequireWorkflows(t *testing.T) {
	ci := []byte("on:\n  push:\n    paths: [x]\njobs:\n  check:\n    with:\n      args: check\n")
	got := RequireWorkflows(map[string][]byte{"ci.yml": ci})
	joined := ""
	for _, f := range got {
		joined += f.String() + "\n"
	}
	for _, want := range []string{"ci.yml: must run on pull_request", "release.yml: missing", "promote.yml: missing", "rollback.yml: missing", "dagger.yml: missing"} {
		if !strings.Contains(joined, want) {
			t.Errorf("findings lack %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, `no job calls "check"`) {
		t.Errorf("ci.yml calls check, yet: %s", joined)
	}
}

func TestKebab(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Build", "build"}, {"PromotePR", "promote-pr"}, {"ReleaseAll", "release-all"},
		{"SBOMFor", "sbom-for"}, {"Push2", "push2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Kebab(tt.name); got != tt.want {
				t.Fatalf("Kebab(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// lookTool finds a pinned tool on PATH or in the tools cache.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dir := os.Getenv("FERRY_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "ferry", "tools")
		}
	}
	p := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: run .ci/tools.sh %s", name, name)
	}
	t.Skipf("%s is not installed: run .ci/tools.sh %s", name, name)
	return ""
}

// TestActionlint runs actionlint v1.7.12 on the repository's workflows.
func TestActionlint(t *testing.T) {
	bin := lookTool(t, "actionlint")
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows: %v", err)
	}
	for i, f := range files {
		files[i], _ = filepath.Rel(root, f)
	}
	cmd := exec.Command(bin, append([]string{"-no-color"}, files...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("actionlint found problems:\n%s", out)
	}
	if err != nil {
		t.Fatalf("running actionlint: %v", err)
	}
}

// TestActionlintCatchesErrors proves the actionlint run above can fail.
func TestActionlintCatchesErrors(t *testing.T) {
	bin := lookTool(t, "actionlint")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nosuch }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-no-color", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nosuch") {
		t.Fatalf("actionlint accepted a broken workflow: %v\n%s", err, out)
	}
}

// TestArgsGuard runs the reusable workflow's guard step with bash on
// arguments a dispatch form could carry.
func TestArgsGuard(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", Reusable))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	script := ""
	for _, s := range wf.Jobs["call"].Steps {
		if s.Env["ARGS"] != "" {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatal("no guard step in the reusable workflow")
	}
	tests := []struct {
		name, args string
		ok         bool
		want       string // the args passed on; default: args unchanged
	}{
		{name: "check", args: "check", ok: true},
		{name: "release", args: "release --service scheduler-worker --env staging --git-sha 0123456789abcdef --registry ghcr.io/ferry-ci --password env://GITHUB_TOKEN", ok: true},
		{name: "owner with capitals", ok: true,
			args: "promote --registry ghcr.io/Acme-Org --username Bob --certificate-identity https://github.com/Acme-Org/App/.github/workflows/dagger.yml@refs/heads/main",
			want: "promote --registry ghcr.io/acme-org --username Bob --certificate-identity https://github.com/Acme-Org/App/.github/workflows/dagger.yml@refs/heads/main"},
		{name: "command separator", args: "check; curl evil.test"},
		{name: "substitution", args: "check $(id)"},
		{name: "backticks", args: "check `id`"},
		{name: "second line", args: "check\nrm -rf /"},
		{name: "quotes", args: `check --x="a b"`},
		{name: "pipe", args: "check | sh"},
		{name: "empty", args: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			output := filepath.Join(t.TempDir(), "output")
			cmd := exec.Command(bash, "-e", "-c", script)
			cmd.Env = append(os.Environ(), "ARGS="+tt.args, "GITHUB_OUTPUT="+output)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Fatalf("guard on %q: %v\n%s", tt.args, err, out)
			}
			if !tt.ok {
				return
			}
			want := tt.want
			if want == "" {
				want = tt.args
			}
			got, err := os.ReadFile(output)
			if err != nil || string(got) != "args="+want+"\n" {
				t.Fatalf("guard passed on %q, want %q (%v)", got, "args="+want+"\n", err)
			}
		})
	}
}
