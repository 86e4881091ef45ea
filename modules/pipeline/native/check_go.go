package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// checkChanges lints the Go modules that the change since o.since touches
// and tests the services it affects.
func checkChanges(ctx context.Context, root string, affectsAll []string, o checkOptions, rep *CheckReport) error {
	var aopts []contract.AffectedOption
	if len(affectsAll) > 0 {
		aopts = append(aopts, contract.WithAffectsAll(affectsAll...))
	}
	imp, err := contract.Affected(ctx, root, o.since, "HEAD", aopts...)
	if err != nil && slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Check == CheckContract }) {
		rep.Skipped = append(rep.Skipped, "gofmt, vet and test: which services changed is unknown until every service.yaml validates")
		return nil
	}
	if err != nil {
		return pipeline.MarkTerminal(fmt.Errorf("finding what changed since %q: %w", o.since, err))
	}
	mods, err := goModules(ctx, root, o.goCmd)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, m := range mods {
		known[m] = true
	}
	affected := map[string]bool{}
	for _, f := range imp.Changed {
		if m := moduleOf(root, f); m != "" && known[m] {
			affected[m] = true
		}
	}
	for _, s := range imp.Services {
		if g := s.Service.Build.Go; g != nil && known[g.ModuleDir] {
			affected[g.ModuleDir] = true
		}
		for _, r := range s.Reasons {
			if r.Kind == contract.ReasonGlobal {
				for _, m := range mods {
					affected[m] = true
				}
			}
		}
	}
	for _, m := range mods {
		if !affected[m] {
			continue
		}
		rep.Linted = append(rep.Linted, m)
		fs, err := gofmtModule(ctx, root, m, o.goCmd)
		if err != nil {
			return err
		}
		rep.add(fs...)
		fs, err = vetModule(ctx, root, m, o.goCmd)
		if err != nil {
			return err
		}
		rep.add(fs...)
	}
	if !o.tests {
		return nil
	}
	for _, s := range imp.Services {
		dir := s.Service.Dir
		if g := s.Service.Build.Go; g != nil {
			dir = g.ModuleDir
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dir), "go.mod")); err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("test: %s has no Go module at %s", s.Name, dir))
			continue
		}
		rep.Tested = append(rep.Tested, s.Name)
		fs, err := testService(ctx, root, s.Name, dir, o.goCmd)
		if err != nil {
			return err
		}
		rep.add(fs...)
	}
	return nil
}

// goModules lists the Go modules of the repository, as repository-relative
// folders ("." for the root): go.work's use list, else the root module.
func goModules(ctx context.Context, root, goCmd string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "go.work")); err == nil {
		cmd := exec.CommandContext(ctx, goCmd, "work", "edit", "-json")
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("reading go.work: %w%s", err, stderrOf(err)))
		}
		var w struct{ Use []struct{ DiskPath string } }
		if err := json.Unmarshal(out, &w); err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("reading go.work: %w", err))
		}
		var mods []string
		for _, u := range w.Use {
			mods = append(mods, path.Clean(filepath.ToSlash(u.DiskPath)))
		}
		sort.Strings(mods)
		return mods, nil
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
		return []string{"."}, nil
	}
	return nil, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// moduleOf returns the folder of the go.mod nearest above the
// repository-relative file (as it is on disk), "" when there is none.
func moduleOf(root, file string) string {
	for dir := path.Dir(file); ; dir = path.Dir(dir) {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dir), "go.mod")); err == nil {
			return dir
		}
		if dir == "." || dir == "/" {
			return ""
		}
	}
}

// gofmtModule reports the module's Go files (tracked, or untracked and not
// ignored) that gofmt would change or cannot parse.
func gofmtModule(ctx context.Context, root, mod, goCmd string) ([]Finding, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
		"--", ":(top,glob)"+strings.TrimPrefix(path.Join(mod, "**/*.go"), "./")).Output()
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("listing the Go files of %s: %w%s", mod, err, stderrOf(err)))
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || moduleOf(root, f) != mod {
			continue // another module's, or deleted
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	bin, err := gofmtPath(ctx, goCmd)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-l"}, files...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var fs []Finding
	for _, f := range strings.Fields(stdout.String()) {
		fs = append(fs, Finding{Check: CheckFormat, File: f, Message: "not gofmt-formatted", Fix: "run gofmt -w " + f})
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if m := goPos.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			fs = append(fs, Finding{Check: CheckFormat, File: repoPath(root, ".", m[1]), Line: n, Message: m[3],
				Fix: "correct the syntax error"})
		}
	}
	if runErr != nil && len(fs) == 0 {
		return nil, pipeline.MarkTerminal(fmt.Errorf("running gofmt on %s: %w: %s", mod, runErr, tail(stderr.String(), 10)))
	}
	return fs, nil
}

func gofmtPath(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOROOT").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "gofmt")
		if _, serr := os.Stat(p); serr == nil {
			return p, nil
		}
	}
	if p, lerr := exec.LookPath("gofmt"); lerr == nil {
		return p, nil
	}
	return "", pipeline.MarkTerminal(errors.New("finding gofmt: neither $(go env GOROOT)/bin/gofmt nor gofmt on PATH"))
}

// goPos matches a compiler or vet position line: "file.go:12:3: message".
var goPos = regexp.MustCompile(`^(?:vet: )?(\S+\.go):(\d+)(?::\d+)?: (.+)$`)

// repoPath makes a path go printed relative to dir (repository-relative)
// repository-relative.
func repoPath(root, dir, p string) string {
	if filepath.IsAbs(p) {
		if rel, err := filepath.Rel(root, p); err == nil {
			return filepath.ToSlash(rel)
		}
		return p
	}
	return path.Join(dir, filepath.ToSlash(p))
}

// goIn runs the go command in dir with env added, returning its combined
// output and whether it failed; err is set only when the context ended.
func goIn(ctx context.Context, goCmd, dir string, env []string, args ...string) (*bytes.Buffer, bool, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if cmd.Run() == nil {
		return &out, false, nil
	}
	return &out, ctx.Err() == nil, ctx.Err()
}

// vetModule runs go vet ./... in the module and reports each position it
// prints.
func vetModule(ctx context.Context, root, mod, goCmd string) ([]Finding, error) {
	out, failed, err := goIn(ctx, goCmd, filepath.Join(root, filepath.FromSlash(mod)), nil, "vet", "./...")
	if !failed {
		return nil, err
	}
	var fs []Finding
	for _, line := range strings.Split(out.String(), "\n") {
		if m := goPos.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			n, _ := strconv.Atoi(m[2])
			fs = append(fs, Finding{Check: CheckVet, File: repoPath(root, mod, m[1]), Line: n, Message: m[3],
				Fix: "correct the code; `cd " + mod + " && go vet ./...` re-checks"})
		}
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Check: CheckVet, File: path.Join(mod, "go.mod"), Message: "go vet failed: " + tail(out.String(), 10),
			Fix: "`cd " + mod + " && go vet ./...` shows the problem"})
	}
	return fs, nil
}

// testFailure matches "--- FAIL: TestName (0.01s)"; testPackage matches
// "FAIL\tpkg\t0.1s" or "FAIL\tpkg [build failed]"; testDetail a
// t.Error line "    file_test.go:12: message".
var (
	testFailure = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	testPackage = regexp.MustCompile(`^FAIL\s+(\S+)(?:\s+(.*))?$`)
	testDetail  = regexp.MustCompile(`^\s+(\S+_test\.go):(\d+): (.+)$`)
)

// testService runs the service's tests as the release's Test step does
// (go test ./... in its module, GOWORK=off) and reports each failing
// package with its failing tests.
func testService(ctx context.Context, root, name, dir, goCmd string) ([]Finding, error) {
	out, failed, err := goIn(ctx, goCmd, filepath.Join(root, filepath.FromSlash(dir)), []string{"GOWORK=off"}, "test", "./...")
	if !failed {
		return nil, err
	}
	fix := "`cd " + dir + " && GOWORK=off go test ./...` reproduces it (the release's Test step runs exactly that)"
	type pos struct {
		file   string
		line   int
		detail string
	}
	var (
		fs       []Finding
		tests    []string
		failure  pos                // the first t.Error line of the package's failing tests
		building string             // the package whose build errors follow ("# pkg")
		builds   = map[string]pos{} // the first build error per package
	)
	for _, l := range strings.Split(out.String(), "\n") {
		if pkg, ok := strings.CutPrefix(l, "# "); ok {
			building, _, _ = strings.Cut(pkg, " ")
			continue
		}
		if m := testFailure.FindStringSubmatch(l); m != nil {
			tests = append(tests, m[1])
			continue
		}
		if m := testDetail.FindStringSubmatch(l); m != nil && len(tests) > 0 && failure.file == "" {
			n, _ := strconv.Atoi(m[2])
			failure = pos{m[1], n, m[3]}
			continue
		}
		if m := goPos.FindStringSubmatch(strings.TrimSpace(l)); m != nil && building != "" {
			if _, seen := builds[building]; !seen {
				n, _ := strconv.Atoi(m[2])
				builds[building] = pos{repoPath(root, dir, m[1]), n, m[3]}
			}
			continue
		}
		m := testPackage.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		pkg := m[1]
		msg := fmt.Sprintf("%s: tests of %s fail", name, pkg)
		at := failure
		if strings.Contains(m[2], "build failed") {
			msg = fmt.Sprintf("%s: tests of %s do not build", name, pkg)
			at = builds[pkg]
		} else if len(tests) > 0 {
			msg += ": " + strings.Join(tests, ", ")
		}
		if at.detail != "" {
			msg += ": " + at.detail
		}
		f := Finding{Check: CheckTest, File: dir, Message: msg, Fix: fix}
		if at.file != "" {
			if !strings.Contains(at.file, "/") {
				// t.Error prints the base name; name the package's folder too.
				at.file = path.Join(dir, strings.TrimPrefix(pkg, modulePathOf(root, dir)), at.file)
			}
			f.File, f.Line = at.file, at.line
		}
		fs = append(fs, f)
		tests, failure = nil, pos{}
	}
	if len(fs) == 0 {
		fs = append(fs, Finding{Check: CheckTest, File: dir, Message: name + ": go test failed: " + tail(out.String(), 10), Fix: fix})
	}
	return fs, nil
}

// modulePathOf reads the module path of dir/go.mod ("" when unreadable).
func modulePathOf(root, dir string) string {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
