package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const fakeClientSource = `package dagger

type Query struct{}
type Container struct{}
type Host struct{}
type HostDirectoryOpts struct{}
type EngineCache struct{}
type Volume struct{}
type VolumeID string
type ContainerWithMountedVolumeOpts struct{}
type CacheVolume struct{}
type Loadable[T any] interface{}
type gqlExtendedError struct{}
type CacheSharingMode string

const (
	CacheSharingModeShared CacheSharingMode = "SHARED"
	CacheSharingModeLocked CacheSharingMode = "LOCKED"
	internalThing = 1
)

var marshalCtx = 1

func Ref() {}
`

func TestScan(t *testing.T) {
	types, consts, err := Scan([]byte(fakeClientSource))
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"CacheSharingMode", "CacheVolume", "Client", "Container", "Query"}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("types = %v, want %v (no generics, unexported or hidden names; Client added)", types, wantTypes)
	}
	wantConsts := []string{"CacheSharingModeLocked", "CacheSharingModeShared"}
	if !slices.Equal(consts, wantConsts) {
		t.Errorf("consts = %v, want %v", consts, wantConsts)
	}
}

func TestScanRejectsOtherSource(t *testing.T) {
	if _, _, err := Scan([]byte("package x\n\ntype A struct{}\n")); err == nil || !strings.Contains(err.Error(), "no Query type") {
		t.Fatalf("Scan() = %v, want a refusal of a file that is not the client", err)
	}
}

func TestHiddenFromModules(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Host", true}, {"HostID", true}, {"Engine", true}, {"EngineCacheEntry", true},
		{"Volume", true}, {"SshfsVolumeOpts", true}, {"ContainerWithMountedVolumeOpts", true},
		{"CacheVolume", false}, {"Container", false}, {"ContainerWithMountedCacheOpts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HiddenFromModules(tt.name); got != tt.want {
				t.Fatalf("HiddenFromModules(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestRenderGolden pins the stand-ins' text; run with -update after a deliberate change.
func TestRenderGolden(t *testing.T) {
	files, err := Render(Stub{
		ModulePath:    "dagger/ci",
		DaggerVersion: "v0.21.9",
		Types:         []string{"Client", "Container", "Query"},
		Consts:        []string{"CacheSharingModeShared"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		golden := filepath.Join("testdata", strings.ReplaceAll(f.Path, string(filepath.Separator), "_")+".golden")
		if *update {
			if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("reading %s (run with -update): %v", golden, err)
		}
		if !bytes.Equal(f.Content, want) {
			t.Errorf("%s differs from %s (run with -update after a deliberate change)", f.Path, golden)
		}
	}
}

func TestWriteAndCheck(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Path: "dagger.gen.go", Content: []byte("package main\n")}, {Path: filepath.Join("internal", "dagger", "dagger.gen.go"), Content: []byte("package dagger\n")}}
	if err := Check(dir, files); !errors.Is(err, ErrStale) {
		t.Fatalf("Check() before Write = %v, want ErrStale", err)
	}
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	if err := Check(dir, files); err != nil {
		t.Fatalf("Check() after Write = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dagger.gen.go"), []byte("package main // edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(dir, files); !errors.Is(err, ErrStale) {
		t.Fatalf("Check() after an edit = %v, want ErrStale", err)
	}
}

// TestGenerateTypeChecksModules generates the stand-ins for a scratch module
// that requires what ci/go.mod requires, and type-checks module code
// against them with the real go command: good code passes, and code the
// engine would reject fails here too.
func TestGenerateTypeChecksModules(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles dagger.io/dagger")
	}
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "ci", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	files, err := Generate(ctx, dir)
	if err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	again, err := Generate(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if !bytes.Equal(files[i].Content, again[i].Content) {
			t.Fatalf("Generate() is not deterministic for %s", files[i].Path)
		}
	}
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	client := string(files[1].Content)
	for _, name := range []string{"Container", "CacheSharingModeShared", "Client"} {
		if !regexp.MustCompile(`\b` + name + `\s+= upstream\.` + name + `\n`).MatchString(client) {
			t.Errorf("client stand-in lacks the alias of %s", name)
		}
	}
	if regexp.MustCompile(`\bHost\s+= upstream\.Host\n`).MatchString(client) {
		t.Errorf("client stand-in aliases Host, which modules cannot use")
	}

	tests := []struct {
		name, src, wantErr string
	}{
		{name: "module code", src: `package main

import (
	"context"

	"dagger/ci/internal/dagger"
)

type Ci struct{ Source *dagger.Directory }

func (m *Ci) Push(ctx context.Context, password *dagger.Secret) (string, error) {
	return m.Source.DockerBuild(dagger.DirectoryDockerBuildOpts{BuildArgs: []dagger.BuildArg{{Name: "A", Value: "b"}}}).
		WithMountedCache("/c", dag.CacheVolume("k"), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithRegistryAuth("ghcr.io", "u", password).
		Publish(ctx, "ghcr.io/x/y:t", dagger.ContainerPublishOpts{ForcedCompression: dagger.ImageLayerCompressionGzip})
}

func asExecError(err error) (*ExecError, bool) {
	e, ok := err.(*ExecError)
	return e, ok
}

var _ DaggerObject = (*dagger.Container)(nil)
`},
		{name: "hidden type", wantErr: "undefined: dagger.Host", src: `package main

import "dagger/ci/internal/dagger"

var _ *dagger.Host
`},
		{name: "redeclared generated name", wantErr: "ptr redeclared", src: `package main

func ptr(s string) *string { return &s }
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "vet", ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
			out, err := cmd.CombinedOutput()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("go vet: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tt.wantErr) {
				t.Fatalf("go vet = %v\n%s\nwant %q", err, out, tt.wantErr)
			}
		})
	}
}
