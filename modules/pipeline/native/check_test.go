package native

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository these tests validate and copy.
var repoRoot = filepath.Join("..", "..", "..")

// TestCheckRepository: the repository itself passes its pre-push check.
func TestCheckRepository(t *testing.T) {
	rep, err := Check(context.Background(), repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Fatalf("findings on the repository:\n%s", findingsText(rep))
	}
	for _, want := range []string{"migrator", "scheduler-worker"} {
		if !slices.Contains(rep.Services, want) {
			t.Errorf("services = %v, want %s among them", rep.Services, want)
		}
	}
	if rep.Rendered["overlays/staging"] == 0 || rep.Rendered["overlays/production"] == 0 {
		t.Errorf("rendered = %v, want both overlays rendered", rep.Rendered)
	}
	if len(rep.Linted)+len(rep.Tested) != 0 {
		t.Errorf("without a base revision nothing is linted or tested: %+v", rep)
	}
}

// TestCheckCorpus copies the repository into a temporary git repository,
// commits the bad-input corpus (testdata/check) on top and checks that
// each bad input is a finding naming its file and what to do. The static
// checks run on one copy, the checks of what changed (--since) on another,
// since a broken service.yaml hides which services changed.
func TestCheckCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the repository, vets and tests a service")
	}
	type want struct {
		name, check, file, message string
	}
	for _, tc := range []struct {
		name  string
		since bool
		edit  func(t *testing.T, root string)
		wants []want
		// within are the only places findings may name: the bad inputs and
		// what they break (a tag-only pin also breaks the overlay's render).
		within []string
	}{
		{
			name: "static",
			edit: func(t *testing.T, root string) {
				appendFile(t, filepath.Join(root, "services", "migrator", "service.yaml"), "colour: blue\n")
				tagOnly(t, filepath.Join(root, "deployments", "overlays", "staging", "kustomization.yaml"))
				copyFile(t, filepath.Join("testdata", "check", "bad.yml"), filepath.Join(root, ".github", "workflows", "bad.yml"))
			},
			wants: []want{
				{"bad service.yaml", CheckContract, "services/migrator/service.yaml", "colour"},
				{"tag-only image in an overlay", CheckDeployments, "deployments/overlays/staging/kustomization.yaml", `newTag "v1" alone is mutable; pin digest`},
				{"actionlint on a bad workflow", CheckWorkflows, ".github/workflows/bad.yml", "nosuch"},
				{"workflowcheck on a bad workflow", CheckWorkflows, ".github/workflows/bad.yml", "[workflowcheck]"},
			},
			within: []string{"services/migrator/service.yaml", "deployments/overlays/staging", "deployments/argocd/", ".github/workflows/bad.yml"},
		},
		{
			name: "since", since: true,
			edit: func(t *testing.T, root string) {
				// The failing test sits in another package than the vet
				// error, which go test's own vet would stop first.
				internal := filepath.Join(root, "services", "migrator", "internal")
				for f, dir := range map[string]string{"ugly.go": "logging", "vetbad.go": "logging", "broken_test.go": "health"} {
					copyFile(t, filepath.Join("testdata", "check", f+".txt"), filepath.Join(internal, dir, f))
				}
			},
			wants: []want{
				{"gofmt-dirty file", CheckFormat, "services/migrator/internal/logging/ugly.go", "not gofmt-formatted"},
				{"vet error", CheckVet, "services/migrator/internal/logging/vetbad.go", "wrong type"},
				{"failing test in an affected service", CheckTest, "services/migrator/internal/health/broken_test.go", "TestBrokenOnPurpose"},
			},
			within: []string{"services/migrator/internal/"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepository(t)
			base := gitRun(t, root, "rev-parse", "HEAD")
			tc.edit(t, root)
			gitRun(t, root, "add", "-A")
			gitRun(t, root, "commit", "-q", "-m", "bad input")
			var opts []CheckOption
			if tc.since {
				opts = append(opts, WithSince(base))
			}
			rep, err := Check(context.Background(), root, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report: linted %v, tested %v, skipped %v\n%s", rep.Linted, rep.Tested, rep.Skipped, findingsText(rep))
			for _, w := range tc.wants {
				found := slices.ContainsFunc(rep.Findings, func(f Finding) bool {
					return f.Check == w.check && f.File == w.file && strings.Contains(f.Message, w.message) && f.Fix != ""
				})
				if !found {
					t.Errorf("%s: no %s finding on %s containing %q with a fix", w.name, w.check, w.file, w.message)
				}
			}
			if tc.since && (!slices.Contains(rep.Linted, "services/migrator") || !slices.Equal(rep.Tested, []string{"migrator"})) {
				t.Errorf("linted %v, tested %v; want services/migrator linted and migrator alone tested", rep.Linted, rep.Tested)
			}
			// Nothing else: the untouched parts of the copy pass.
			for _, f := range rep.Findings {
				if !slices.ContainsFunc(tc.within, func(p string) bool { return strings.HasPrefix(f.File, p) }) {
					t.Errorf("unexpected finding %s", f)
				}
			}
		})
	}
}

func TestCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  CheckOption
		want string
	}{
		{name: "empty since", opt: WithSince(""), want: `since "": want a revision`},
		{name: "flag as since", opt: WithSince("--all"), want: `since "--all"`},
		{name: "empty go", opt: WithGoCommand(""), want: "empty go command"},
		{name: "empty actionlint", opt: WithActionlint(""), want: "empty actionlint path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), t.TempDir(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func findingsText(rep *CheckReport) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(f.String() + "\n    fix: " + f.Fix + "\n")
	}
	return b.String()
}

// copyRepository copies the files git tracks in the repository (with what
// is uncommitted in them) into a new git repository with one commit.
func copyRepository(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("listing the repository's files: %v", err)
	}
	root := t.TempDir()
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		src := filepath.Join(repoRoot, filepath.FromSlash(f))
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		copyFile(t, src, filepath.Join(root, filepath.FromSlash(f)))
		if fi.Mode()&0o111 != 0 {
			if err := os.Chmod(filepath.Join(root, filepath.FromSlash(f)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	gitRun(t, root, "init", "-q", "-b", "main")
	gitRun(t, root, "add", "-A")
	gitRun(t, root, "commit", "-q", "-m", "copy")
	return root
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, s...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tagOnly replaces the first digest pin of an overlay with a tag.
func tagOnly(t *testing.T, overlay string) {
	t.Helper()
	b, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "    digest: sha256:")
	if i < 0 {
		t.Fatalf("%s pins no digest", overlay)
	}
	j := i + strings.IndexByte(string(b[i:]), '\n')
	if err := os.WriteFile(overlay, []byte(string(b[:i])+"    newTag: v1"+string(b[j:])), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@localhost", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
