package fingerprint

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (path -> content; a path ending in "*" is
// executable) under a fresh directory.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "*") {
			p, mode = strings.TrimSuffix(p, "*"), 0o755
		}
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(abs, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
}

var baseTree = map[string]string{
	"services/api/main.go":     "package main\nfunc main() {}\n",
	"services/api/go.mod":      "module example.com/api\n",
	"services/api/Dockerfile":  "FROM scratch\n",
	"services/api/run.sh*":     "#!/bin/sh\n",
	"modules/lib/lib.go":       "package lib\n",
	"modules/lib/sub/inner.go": "package sub\n",
}

func baseInputs(root string) Inputs {
	return Inputs{
		Root:       root,
		Files:      []string{"services/api", "modules/lib"},
		Dockerfile: "services/api/Dockerfile",
		GoVersion:  "go1.26.8",
		BuildArgs:  map[string]string{"VERSION": "1"},
		Platforms:  []string{"linux/amd64", "linux/arm64"},
	}
}

func mustCompute(t *testing.T, in Inputs) Fingerprint {
	t.Helper()
	fp, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestStableValue pins the scheme: a change here changes every tag, so it
// must be deliberate (bump Scheme).
func TestStableValue(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	const want = "475dcfc688045eea65bc6f4965f31e9d6320091f46edc527e489af2babe3eb8f"
	got := mustCompute(t, baseInputs(root)).String()
	if got != want {
		t.Errorf("fingerprint = %s, want %s (did the scheme change on purpose?)", got, want)
	}
}

func TestPathAndMetadataIndependence(t *testing.T) {
	a := filepath.Join(t.TempDir(), "checkout-one")
	b := filepath.Join(t.TempDir(), "deeper", "checkout-two")
	writeTree(t, a, baseTree)
	writeTree(t, b, baseTree)
	want := mustCompute(t, baseInputs(a))

	tests := []struct {
		name   string
		mutate func(root string, in *Inputs)
	}{
		{name: "other checkout path", mutate: func(string, *Inputs) {}},
		{name: "mtime", mutate: func(root string, _ *Inputs) {
			old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			os.Chtimes(filepath.Join(root, "services/api/main.go"), old, old)
		}},
		{name: "non-exec permission bits", mutate: func(root string, _ *Inputs) {
			os.Chmod(filepath.Join(root, "services/api/main.go"), 0o600)
		}},
		{name: "input order and duplicates", mutate: func(_ string, in *Inputs) {
			in.Files = []string{"modules/lib", "./services/api/", "services/api/main.go", "modules/lib/lib.go"}
		}},
		{name: "platform order and duplicates", mutate: func(_ string, in *Inputs) {
			in.Platforms = []string{"linux/arm64", "linux/amd64", "linux/arm64"}
		}},
		{name: "empty directory", mutate: func(root string, _ *Inputs) {
			os.MkdirAll(filepath.Join(root, "services/api/empty"), 0o755)
		}},
		{name: "files outside the inputs", mutate: func(root string, _ *Inputs) {
			writeTree(t, root, map[string]string{"README.md": "unrelated\n", "services/other/x.go": "package x\n"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "c")
			writeTree(t, root, baseTree)
			in := baseInputs(root)
			tt.mutate(root, &in)
			if got := mustCompute(t, in); got != want {
				t.Errorf("fingerprint changed: %s != %s", got, want)
			}
		})
	}
	if got := mustCompute(t, baseInputs(b)); got != want {
		t.Errorf("second checkout: %s != %s", got, want)
	}
}

func TestEachInputChangesIt(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	base := mustCompute(t, baseInputs(root))

	tests := []struct {
		name   string
		mutate func(root string, in *Inputs)
	}{
		{name: "file content", mutate: func(root string, _ *Inputs) {
			writeTree(t, root, map[string]string{"services/api/main.go": "package main\nfunc main() { }\n"})
		}},
		{name: "file in a dependency module", mutate: func(root string, _ *Inputs) {
			writeTree(t, root, map[string]string{"modules/lib/sub/inner.go": "package sub // changed\n"})
		}},
		{name: "file added", mutate: func(root string, _ *Inputs) {
			writeTree(t, root, map[string]string{"services/api/new.go": "package main\n"})
		}},
		{name: "file removed", mutate: func(root string, _ *Inputs) {
			os.Remove(filepath.Join(root, "modules/lib/lib.go"))
		}},
		{name: "file renamed", mutate: func(root string, _ *Inputs) {
			os.Rename(filepath.Join(root, "modules/lib/lib.go"), filepath.Join(root, "modules/lib/lib2.go"))
		}},
		{name: "executable bit set", mutate: func(root string, _ *Inputs) {
			os.Chmod(filepath.Join(root, "services/api/main.go"), 0o744)
		}},
		{name: "executable bit cleared", mutate: func(root string, _ *Inputs) {
			os.Chmod(filepath.Join(root, "services/api/run.sh"), 0o644)
		}},
		{name: "file becomes a symlink", mutate: func(root string, _ *Inputs) {
			p := filepath.Join(root, "modules/lib/lib.go")
			os.Remove(p)
			os.Symlink("sub/inner.go", p)
		}},
		{name: "dockerfile content", mutate: func(root string, _ *Inputs) {
			writeTree(t, root, map[string]string{"services/api/Dockerfile": "FROM scratch\nUSER 65532\n"})
		}},
		{name: "dockerfile path", mutate: func(root string, in *Inputs) {
			writeTree(t, root, map[string]string{"services/api/Containerfile": "FROM scratch\n"})
			in.Dockerfile = "services/api/Containerfile"
		}},
		{name: "go version", mutate: func(_ string, in *Inputs) { in.GoVersion = "go1.26.9" }},
		{name: "build arg value", mutate: func(_ string, in *Inputs) { in.BuildArgs = map[string]string{"VERSION": "2"} }},
		{name: "build arg added", mutate: func(_ string, in *Inputs) {
			in.BuildArgs = map[string]string{"VERSION": "1", "TAGS": ""}
		}},
		{name: "build args removed", mutate: func(_ string, in *Inputs) { in.BuildArgs = nil }},
		{name: "build arg key/value boundary", mutate: func(_ string, in *Inputs) {
			in.BuildArgs = map[string]string{"VERSION1": ""}
		}},
		{name: "platform dropped", mutate: func(_ string, in *Inputs) { in.Platforms = []string{"linux/amd64"} }},
		{name: "platform added", mutate: func(_ string, in *Inputs) {
			in.Platforms = []string{"linux/amd64", "linux/arm64", "linux/riscv64"}
		}},
		{name: "input set narrowed", mutate: func(_ string, in *Inputs) { in.Files = []string{"services/api"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, baseTree)
			in := baseInputs(root)
			tt.mutate(root, &in)
			if got := mustCompute(t, in); got == base {
				t.Errorf("fingerprint unchanged: %s", got)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, baseTree)
	tests := []struct {
		name    string
		mutate  func(in *Inputs)
		wantErr string
	}{
		{name: "missing file", mutate: func(in *Inputs) { in.Files = []string{"services/api/nope.go"} }, wantErr: `reading input "services/api/nope.go"`},
		{name: "missing dockerfile", mutate: func(in *Inputs) { in.Dockerfile = "services/api/Dockerfile.missing" }, wantErr: `reading "services/api/Dockerfile.missing"`},
		{name: "no dockerfile", mutate: func(in *Inputs) { in.Dockerfile = "" }, wantErr: "no Dockerfile"},
		{name: "escapes root", mutate: func(in *Inputs) { in.Files = []string{"../etc"} }, wantErr: `input "../etc" leaves the repository root`},
		{name: "absolute", mutate: func(in *Inputs) { in.Files = []string{"/etc/passwd"} }, wantErr: "must be relative"},
		{name: "no go version", mutate: func(in *Inputs) { in.GoVersion = "" }, wantErr: "no Go version"},
		{name: "no platform", mutate: func(in *Inputs) { in.Platforms = nil }, wantErr: "no target platform"},
		{name: "no root", mutate: func(in *Inputs) { in.Root = "" }, wantErr: "no root directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs(root)
			tt.mutate(&in)
			_, err := Compute(in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Compute error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestShort(t *testing.T) {
	var fp Fingerprint
	fp[0] = 0xab
	if s := fp.Short(); len(s) != TagLength || !strings.HasPrefix(s, "ab00") {
		t.Errorf("Short() = %q", s)
	}
}

// GenerateMonorepo writes n services, each with its own module and
// Dockerfile, all depending on a shared library module, and returns the
// inputs of each service.
func generateMonorepo(tb testing.TB, root string, n int) []Inputs {
	tb.Helper()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("modules/shared/f%02d.go", i)] = fmt.Sprintf("package shared\n\nconst C%d = %d\n%s", i, i, strings.Repeat("// padding\n", 200))
	}
	var ins []Inputs
	for s := range n {
		dir := fmt.Sprintf("services/svc%03d", s)
		files[dir+"/go.mod"] = fmt.Sprintf("module example.com/svc%03d\n", s)
		files[dir+"/Dockerfile"] = "FROM scratch\nUSER 65532\n"
		for f := range 8 {
			files[fmt.Sprintf("%s/pkg/f%d.go", dir, f)] = fmt.Sprintf("package pkg\n\nconst S = %d\n%s", s*f, strings.Repeat("// body\n", 300))
		}
		ins = append(ins, Inputs{
			Root: root, Files: []string{dir, "modules/shared"}, Dockerfile: dir + "/Dockerfile",
			GoVersion: "go1.26.8", Platforms: []string{"linux/amd64", "linux/arm64"},
		})
	}
	writeTree(tb, root, files)
	return ins
}

func TestCacheAgrees(t *testing.T) {
	root := t.TempDir()
	ins := generateMonorepo(t, root, 5)
	c := NewCache()
	for _, in := range ins {
		want := mustCompute(t, in)
		for range 2 {
			got, err := c.Compute(in)
			if err != nil || got != want {
				t.Fatalf("cached %s, %v; uncached %s", got, err, want)
			}
		}
	}
}

// BenchmarkMonorepo200 fingerprints every service of a generated
// 200-service monorepo (about 2,000 files, the shared module hashed by each
// service, once per run through a Cache); goal: one iteration under a
// second.
func BenchmarkMonorepo200(b *testing.B) {
	ins := generateMonorepo(b, b.TempDir(), 200)
	b.ResetTimer()
	for b.Loop() {
		c := NewCache()
		for _, in := range ins {
			if _, err := c.Compute(in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
