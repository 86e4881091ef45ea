package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// goModule is what the affected-services computation needs of one go.mod.
type goModule struct {
	dir      string            // repository-relative folder
	path     string            // module path
	requires map[string]bool   // required module paths, direct or indirect
	replaces map[string]string // module path -> local folder (repository-relative)
}

// modGraph reads go.mod files and the go.work of one revision, on demand.
type modGraph struct {
	fsys    fs.FS
	mods    map[string]*goModule // by folder
	work    map[string]string    // workspace module path -> folder
	workRep map[string]string    // go.work local replaces
}

func newModGraph(fsys fs.FS) (*modGraph, error) {
	g := &modGraph{fsys: fsys, mods: map[string]*goModule{}, work: map[string]string{}, workRep: map[string]string{}}
	data, err := fs.ReadFile(fsys, "go.work")
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading go.work: %w", err)
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, &FieldError{File: "go.work", Msg: fmt.Sprintf("parsing: %v", err)}
	}
	for _, u := range wf.Use {
		dir, ok := inside(".", u.Path, ".")
		if !ok {
			continue // a module outside the repository cannot change here
		}
		m, err := g.module(dir)
		if err != nil {
			return nil, fmt.Errorf("reading go.work use %s: %w", u.Path, err)
		}
		if m != nil {
			g.work[m.path] = m.dir
		}
	}
	for _, r := range wf.Replace {
		if dir, ok := localDir(".", r.New.Path); ok {
			g.workRep[r.Old.Path] = dir
		}
	}
	return g, nil
}

// localDir resolves a replacement path that names a folder (./x, ../x) in
// the repository.
func localDir(base, p string) (string, bool) {
	if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") && p != "." && p != ".." {
		return "", false
	}
	return inside(base, p, ".")
}

// module returns the module whose go.mod is in dir, or nil when there is
// no go.mod there.
func (g *modGraph) module(dir string) (*goModule, error) {
	if m, ok := g.mods[dir]; ok {
		return m, nil
	}
	file := path.Join(dir, "go.mod")
	data, err := fs.ReadFile(g.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		g.mods[dir] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	mf, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("parsing: %v", err)}
	}
	if mf.Module == nil {
		return nil, &FieldError{File: file, Field: "module", Msg: "missing"}
	}
	m := &goModule{dir: dir, path: mf.Module.Mod.Path, requires: map[string]bool{}, replaces: map[string]string{}}
	for _, r := range mf.Require {
		m.requires[r.Mod.Path] = true
	}
	for _, r := range mf.Replace {
		if d, ok := localDir(dir, r.New.Path); ok {
			m.replaces[r.Old.Path] = d
		}
	}
	g.mods[dir] = m
	return m, nil
}

// deps returns the folders of every module in the repository that the
// module in dir builds with (itself included): local replace targets and
// workspace modules of required paths, followed transitively. Sorted.
func (g *modGraph) deps(dir string) ([]string, error) {
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		m, err := g.module(d)
		if err != nil {
			return nil, err
		}
		if m == nil {
			if d == dir {
				return nil, nil
			}
			return nil, &FieldError{File: path.Join(d, "go.mod"), Msg: "does not exist, but a replace directive or go.work points at its folder"}
		}
		seen[d] = true
		for req := range m.requires {
			if r, ok := m.replaces[req]; ok {
				queue = append(queue, r)
			}
			if r, ok := g.workRep[req]; ok {
				queue = append(queue, r)
			}
			if w, ok := g.work[req]; ok {
				queue = append(queue, w)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// ownedBy reports whether the file p belongs to the module in dir rather
// than to a module nested below it (a go.mod in a folder between them).
func ownedBy(fsys fs.FS, dir, p string) bool {
	if !inDir(p, dir) {
		return false
	}
	for d := path.Dir(p); d != dir && d != "."; d = path.Dir(d) {
		if _, err := fs.Stat(fsys, path.Join(d, "go.mod")); err == nil {
			return false
		}
	}
	return true
}
