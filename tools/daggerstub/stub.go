package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"
)

// daggerModule is the Go client library whose names the stand-ins alias.
const daggerModule = "dagger.io/dagger"

// File is one generated stand-in, its path relative to the module folder.
type File struct {
	Path    string
	Content []byte
}

// Stub is what the stand-ins are rendered from.
type Stub struct {
	ModulePath    string   // the Dagger module's Go module path, e.g. dagger/ci
	DaggerVersion string   // the dagger.io/dagger version it requires
	Types         []string // exported non-generic type names to alias, sorted
	Consts        []string // exported constant names to alias, sorted
}

// Generate reads the module's go.mod, finds the source of the dagger.io/dagger
// version it requires in the module cache and renders both stand-ins.
func Generate(ctx context.Context, moduleDir string) ([]File, error) {
	modPath, version, err := readGoMod(filepath.Join(moduleDir, "go.mod"))
	if err != nil {
		return nil, err
	}
	dir, err := downloadSource(ctx, moduleDir, version)
	if err != nil {
		return nil, err
	}
	genPath := filepath.Join(dir, "dagger.gen.go")
	src, err := os.ReadFile(genPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", genPath, err)
	}
	types, consts, err := Scan(src)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", genPath, err)
	}
	return Render(Stub{ModulePath: modPath, DaggerVersion: version, Types: types, Consts: consts})
}

// readGoMod returns the module path and the dagger.io/dagger requirement.
func readGoMod(path string) (modPath, daggerVersion string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return "", "", fmt.Errorf("parsing %s: %w", path, err)
	}
	if f.Module == nil {
		return "", "", fmt.Errorf("parsing %s: no module line", path)
	}
	for _, r := range f.Require {
		if r.Mod.Path == daggerModule {
			return f.Module.Mod.Path, r.Mod.Version, nil
		}
	}
	return "", "", fmt.Errorf("reading %s: no requirement on %s", path, daggerModule)
}

// downloadSource returns the module cache folder of dagger.io/dagger@version,
// downloading it through the module proxy when absent.
func downloadSource(ctx context.Context, moduleDir, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", daggerModule+"@"+version)
	cmd.Dir = moduleDir
	// ci/ stays out of the workspace; its own go.mod decides.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct {
		Dir   string
		Error string
	}
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("downloading %s@%s: %s", daggerModule, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("downloading %s@%s: %w: %s", daggerModule, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("downloading %s@%s: go mod download named no folder", daggerModule, version)
	}
	return info.Dir, nil
}

// Scan lists the exported non-generic type names and exported constant names
// declared in the source of dagger.io/dagger's dagger.gen.go, sorted, minus
// the names the engine hides from modules.
func Scan(src []byte) (types, consts []string, err error) {
	f, err := parser.ParseFile(token.NewFileSet(), "dagger.gen.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, err
	}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gen.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() && s.TypeParams == nil && !HiddenFromModules(s.Name.Name) {
					types = append(types, s.Name.Name)
				}
			case *ast.ValueSpec:
				if gen.Tok != token.CONST {
					continue
				}
				for _, n := range s.Names {
					if n.IsExported() && !HiddenFromModules(n.Name) {
						consts = append(consts, n.Name)
					}
				}
			}
		}
	}
	if !slices.Contains(types, "Query") {
		return nil, nil, errors.New("no Query type: not the generated client of dagger.io/dagger")
	}
	// Client is declared in client.go, not in dagger.gen.go; the module's copy has it too.
	types = append(types, "Client")
	slices.Sort(types)
	slices.Sort(consts)
	return slices.Compact(types), slices.Compact(consts), nil
}

// HiddenFromModules reports whether the engine leaves name out of the client
// it generates for modules: the host and engine APIs, and the volume API that
// the v0.21 engine lacks. Leaving them out makes a module that uses them fail
// to compile here as it would in the engine.
func HiddenFromModules(name string) bool {
	for _, p := range []string{"Host", "Engine", "Volume", "SshfsVolume"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return name == "ContainerWithMountedVolumeOpts"
}

// Render returns the two stand-ins, gofmt-formatted.
func Render(s Stub) ([]File, error) {
	var files []File
	for _, t := range []struct {
		path string
		tmpl *template.Template
	}{
		{"dagger.gen.go", rootTemplate},
		{filepath.Join("internal", "dagger", "dagger.gen.go"), clientTemplate},
	} {
		var buf bytes.Buffer
		if err := t.tmpl.Execute(&buf, s); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", t.path, err)
		}
		src, err := format.Source(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("formatting %s: %w", t.path, err)
		}
		files = append(files, File{Path: t.path, Content: src})
	}
	return files, nil
}

// Write writes the stand-ins under moduleDir, leaving unchanged files alone.
func Write(moduleDir string, files []File) error {
	for _, f := range files {
		path := filepath.Join(moduleDir, f.Path)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// ErrStale reports a stand-in that is missing or differs from what Generate renders.
var ErrStale = errors.New("stand-in is missing or stale (run go run ./tools/daggerstub)")

// Check reports ErrStale for the first stand-in under moduleDir that is missing or differs.
func Check(moduleDir string, files []File) error {
	for _, f := range files {
		path := filepath.Join(moduleDir, f.Path)
		old, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(old, f.Content) {
			return fmt.Errorf("checking %s: %w", path, ErrStale)
		}
	}
	return nil
}
