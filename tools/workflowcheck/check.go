package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Reusable is the file name of the one reusable workflow every job calls.
const Reusable = "dagger.yml"

// daggerAction is the action that installs the pinned CLI and runs the call.
const daggerAction = "dagger/dagger-for-github"

// keylessJob is the only job that may request an OIDC token (file, job).
var keylessJob = [2]string{"release.yml", "release"}

var knownScopes = []string{
	"actions", "attestations", "checks", "contents", "deployments", "id-token",
	"issues", "packages", "pages", "pull-requests", "statuses",
}

var (
	pinnedUses     = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
	versionComment = regexp.MustCompile(`^#\s*v\d+(\.\d+){0,2}\b`)
)

// Finding is one broken rule.
type Finding struct {
	File    string
	Line    int
	Message string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message)
	}
	return f.File + ": " + f.Message
}

// Config is what the workflows are checked against.
type Config struct {
	DaggerVersion string   // the CLI version, dagger.json's engineVersion without "v"
	Functions     []string // dagger call names of the module's functions (kebab-case)
	// Flags are the argument flags of each function; a function absent
	// here has its flags unchecked (RepoConfig lists every function's).
	Flags    map[string][]string
	Services []string // folders under services/
}

// CheckRepo checks root/.github/workflows against the repository: the
// engine version of dagger.json, the functions of the module in ci/ and
// the services under services/.
func CheckRepo(root string) ([]Finding, error) {
	cfg, err := RepoConfig(root)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, ".github", "workflows")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if !strings.HasSuffix(e.Name(), ".yml") {
			files[e.Name()] = nil // reported: one extension for all
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		files[e.Name()] = data
	}
	return append(CheckWorkflows(files, cfg), RequireWorkflows(files)...), nil
}

// RepoConfig reads the Config of the repository at root.
func RepoConfig(root string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(filepath.Join(root, "dagger.json"))
	if err != nil {
		return cfg, fmt.Errorf("reading dagger.json: %w", err)
	}
	var dj struct {
		EngineVersion string `json:"engineVersion"`
		Source        string `json:"source"`
	}
	if err := json.Unmarshal(data, &dj); err != nil {
		return cfg, fmt.Errorf("parsing dagger.json: %w", err)
	}
	cfg.DaggerVersion = strings.TrimPrefix(dj.EngineVersion, "v")
	flags, err := moduleFunctions(filepath.Join(root, dj.Source))
	if err != nil {
		return cfg, err
	}
	cfg.Flags = flags
	for fn := range flags {
		cfg.Functions = append(cfg.Functions, fn)
	}
	sort.Strings(cfg.Functions)
	entries, err := os.ReadDir(filepath.Join(root, "services"))
	if err != nil {
		return cfg, fmt.Errorf("listing services: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			cfg.Services = append(cfg.Services, e.Name())
		}
	}
	return cfg, nil
}

// moduleFunctions maps the exported methods of the module's main object to
// their argument flags, in the kebab case of `dagger call`.
func moduleFunctions(dir string) (map[string][]string, error) {
	fset := token.NewFileSet()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") || strings.HasSuffix(m, ".gen.go") {
			continue
		}
		f, err := parser.ParseFile(fset, m, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", m, err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || !fd.Name.IsExported() {
				continue
			}
			t := fd.Recv.List[0].Type
			if s, ok := t.(*ast.StarExpr); ok {
				t = s.X
			}
			if id, ok := t.(*ast.Ident); !ok || id.Name != "Ci" {
				continue
			}
			flags := []string{}
			for _, p := range fd.Type.Params.List {
				for _, n := range p.Names {
					if n.Name != "ctx" {
						flags = append(flags, "--"+Kebab(n.Name))
					}
				}
			}
			out[Kebab(fd.Name.Name)] = flags
		}
	}
	return out, nil
}

// Kebab turns a Go name into the CLI's spelling: PromotePR -> promote-pr.
func Kebab(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (unicode.IsUpper(r[i-1]) && nextLower) {
				b.WriteRune('-')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// RequireWorkflows checks that the four entry workflows exist with their triggers.
func RequireWorkflows(files map[string][]byte) []Finding {
	var fs []Finding
	want := []struct{ file, trigger, function string }{
		{"ci.yml", "pull_request", "check"},
		{"release.yml", "push", "release"},
		{"promote.yml", "workflow_dispatch", "promote"},
		{"rollback.yml", "workflow_dispatch", "rollback"},
		{Reusable, "workflow_call", ""},
	}
	for _, w := range want {
		data, ok := files[w.file]
		if !ok {
			fs = append(fs, Finding{File: w.file, Message: "missing"})
			continue
		}
		var wf workflow
		if yaml.Unmarshal(data, &wf) != nil {
			continue // reported by CheckWorkflows
		}
		if _, ok := wf.On[w.trigger]; !ok {
			fs = append(fs, Finding{File: w.file, Message: fmt.Sprintf("must run on %s", w.trigger)})
		}
		if w.function == "" {
			continue
		}
		called := false
		for _, j := range wf.Jobs {
			called = called || firstWord(j.With["args"]) == w.function
		}
		if !called {
			fs = append(fs, Finding{File: w.file, Message: fmt.Sprintf("no job calls %q", w.function)})
		}
	}
	return fs
}

type job struct {
	Uses        string            `yaml:"uses"`
	With        map[string]string `yaml:"with"`
	Permissions yaml.Node         `yaml:"permissions"`
	Secrets     any               `yaml:"secrets"`
	Steps       []step            `yaml:"steps"`
	RunsOn      any               `yaml:"runs-on"`
	Timeout     any               `yaml:"timeout-minutes"`
}

type step struct {
	ID   string            `yaml:"id"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

type workflow struct {
	On          map[string]yaml.Node `yaml:"on"`
	Permissions yaml.Node            `yaml:"permissions"`
	Jobs        map[string]job       `yaml:"jobs"`
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// CheckWorkflows checks workflow files by name.
func CheckWorkflows(files map[string][]byte, cfg Config) []Finding {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var fs []Finding
	for _, n := range names {
		fs = append(fs, checkWorkflow(n, files[n], cfg)...)
	}
	return fs
}

func checkWorkflow(name string, data []byte, cfg Config) []Finding {
	var fs []Finding
	bad := func(line int, format string, args ...any) {
		fs = append(fs, Finding{File: name, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if !strings.HasSuffix(name, ".yml") {
		bad(0, "workflows end in .yml")
		return fs
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		bad(0, "parsing: %v", err)
		return fs
	}
	var wf workflow
	if err := root.Decode(&wf); err != nil {
		bad(0, "parsing: %v", err)
		return fs
	}
	checkUses(&root, bad)

	if _, reusable := wf.On["workflow_call"]; reusable || name == Reusable {
		checkReusable(name, wf, cfg, bad)
		return fs
	}

	if wf.Permissions.Kind != yaml.MappingNode || len(wf.Permissions.Content) != 0 {
		bad(wf.Permissions.Line, "top-level permissions must be {} (each job grants its own)")
	}
	for trig, node := range wf.On {
		if trig != "push" && trig != "pull_request" {
			continue
		}
		var filter struct {
			Paths []string `yaml:"paths"`
		}
		_ = node.Decode(&filter)
		if len(filter.Paths) == 0 {
			bad(node.Line, "%s needs path filters (paths:), so unrelated changes release nothing", trig)
		}
	}
	jobNames := make([]string, 0, len(wf.Jobs))
	for j := range wf.Jobs {
		jobNames = append(jobNames, j)
	}
	sort.Strings(jobNames)
	for _, jn := range jobNames {
		j := wf.Jobs[jn]
		line := jobLine(&root, jn)
		if j.Uses != "./.github/workflows/"+Reusable {
			bad(line, "job %s must call ./.github/workflows/%s (one dagger call per job)", jn, Reusable)
		}
		if len(j.Steps) > 0 || j.RunsOn != nil {
			bad(line, "job %s has its own steps: workflows are thin wrappers around one dagger call", jn)
		}
		if j.Secrets != nil {
			bad(line, "job %s passes secrets to the reusable workflow: it reads only GITHUB_TOKEN", jn)
		}
		checkJobPermissions(name, jn, line, j.Permissions, bad)
		if j.Uses != "./.github/workflows/"+Reusable {
			continue
		}
		args := j.With["args"]
		fn := firstWord(args)
		if !contains(cfg.Functions, fn) {
			bad(line, "job %s calls %q, which is no function of the module", jn, fn)
		}
		if flags, ok := cfg.Flags[fn]; ok {
			for _, w := range strings.Fields(args)[1:] {
				flag, _, _ := strings.Cut(w, "=")
				if strings.HasPrefix(flag, "--") && !contains(flags, flag) {
					bad(line, "job %s: %s is no argument of %s (it takes %s)", jn, flag, fn, strings.Join(flags, " "))
				}
			}
		}
		if strings.Contains(args, "secrets.") || strings.Contains(args, "github.token") {
			bad(line, "job %s puts a secret in the call's arguments: pass it as env://NAME", jn)
		}
		for _, s := range cfg.Services {
			if strings.Contains(jn, s) || regexp.MustCompile(`--service[ =]`+regexp.QuoteMeta(s)+`\b`).MatchString(args) {
				bad(line, "job %s is specific to service %s: one workflow serves every service", jn, s)
			}
		}
	}
	return fs
}

func checkJobPermissions(file, jobName string, line int, p yaml.Node, bad func(int, string, ...any)) {
	if p.Kind == 0 {
		bad(line, "job %s has no permissions: grant the least it needs", jobName)
		return
	}
	if p.Kind != yaml.MappingNode {
		bad(p.Line, "job %s: permissions must list scopes, not %q", jobName, p.Value)
		return
	}
	for i := 0; i+1 < len(p.Content); i += 2 {
		k, v := p.Content[i], p.Content[i+1]
		if !contains(knownScopes, k.Value) {
			bad(k.Line, "job %s: unknown permission scope %q", jobName, k.Value)
		}
		if v.Value != "read" && v.Value != "write" && v.Value != "none" {
			bad(v.Line, "job %s: permission %s: %q is not read, write or none", jobName, k.Value, v.Value)
		}
		if k.Value == "id-token" && v.Value == "write" && [2]string{file, jobName} != keylessJob {
			bad(k.Line, "job %s: id-token: write is for keyless signing in %s job %s only", jobName, keylessJob[0], keylessJob[1])
		}
	}
}

func checkReusable(name string, wf workflow, cfg Config, bad func(int, string, ...any)) {
	if name != Reusable {
		bad(0, "a second reusable workflow: %s serves every job", Reusable)
	}
	if len(wf.On) != 1 {
		bad(0, "the reusable workflow runs only on workflow_call")
	}
	if wf.Permissions.Kind != 0 {
		bad(wf.Permissions.Line, "the reusable workflow declares no permissions: it runs with what the calling job grants")
	}
	if len(wf.Jobs) != 1 {
		bad(0, "the reusable workflow has exactly one job, got %d", len(wf.Jobs))
	}
	for jn, j := range wf.Jobs {
		if j.Permissions.Kind != 0 {
			bad(j.Permissions.Line, "job %s declares permissions: it inherits the calling job's", jn)
		}
		if j.Timeout == nil {
			bad(0, "job %s has no timeout-minutes", jn)
		}
		daggers, guarded, guard := 0, false, ""
		for _, s := range j.Steps {
			switch {
			case strings.HasPrefix(s.Uses, daggerAction+"@"):
				daggers++
				if !guarded {
					bad(0, "job %s runs dagger before refusing shell syntax in inputs.args", jn)
				}
				if got := s.With["version"]; got != cfg.DaggerVersion {
					bad(0, "dagger CLI version %q, want %q (dagger.json engineVersion)", got, cfg.DaggerVersion)
				}
				if s.With["verb"] != "call" {
					bad(0, "the dagger step's verb must be call")
				}
				// The guard passes the checked arguments on (with ghcr.io
				// paths lowercased) as its output "args".
				if want := "${{ steps." + guard + ".outputs.args }}"; guarded && s.With["args"] != want {
					bad(0, "the dagger step must pass the guard step's checked arguments (${{ steps.<guard id>.outputs.args }}) as args")
				}
				for k, v := range s.Env {
					if k != "GITHUB_TOKEN" || v != "${{ github.token }}" {
						bad(0, "the dagger step's env may hold only GITHUB_TOKEN: ${{ github.token }}, got %s", k)
					}
				}
			case s.Run != "":
				if s.Env["ARGS"] == "${{ inputs.args }}" && strings.Contains(s.Run, `[[ ! "$ARGS" =~ $re ]]`) {
					guarded, guard = true, s.ID
				}
				if strings.Contains(s.Run, "${{") {
					bad(0, "a run step interpolates an expression: pass it through env")
				}
			}
		}
		if daggers != 1 {
			bad(0, "job %s must run exactly one dagger call, got %d", jn, daggers)
		}
	}
}

// checkUses finds every uses: and requires a full commit SHA and a version comment.
func checkUses(n *yaml.Node, bad func(int, string, ...any)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "uses" && v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "./") {
				if !pinnedUses.MatchString(v.Value) {
					bad(v.Line, "%s is not pinned by a full commit SHA", v.Value)
				} else if !versionComment.MatchString(v.LineComment) {
					bad(v.Line, "%s needs its version in a comment (# vX.Y.Z)", v.Value)
				}
			}
		}
	}
	for _, c := range n.Content {
		checkUses(c, bad)
	}
}

// jobLine is the line of a job's key.
func jobLine(root *yaml.Node, name string) int {
	if len(root.Content) == 0 {
		return 0
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "jobs" {
			continue
		}
		jobs := doc.Content[i+1]
		for k := 0; k+1 < len(jobs.Content); k += 2 {
			if jobs.Content[k].Value == name {
				return jobs.Content[k].Line
			}
		}
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
