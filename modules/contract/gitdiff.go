package contract

import (
	"context"
	"path"
	"sort"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// changedPaths lists the files that differ between the trees of a and b
// (added, deleted, modified, or changed mode), sorted. It descends only
// into folders whose hashes differ and never reads a blob, and the trees it
// decodes stay cached in a and b for the catalog to reuse. (go-git's
// DiffTree decodes every sibling folder of a changed one to count its
// children, which in a monorepo is every service.)
func changedPaths(ctx context.Context, a, b *treeFS) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a != b {
		b.mu.Lock()
		defer b.mu.Unlock()
	}
	var out []string
	if err := diffDir(ctx, a, b, ".", &out); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func diffDir(ctx context.Context, a, b *treeFS, dir string, out *[]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ta, _ := a.tree(dir)
	tb, _ := b.tree(dir)
	entries := map[string][2]*object.TreeEntry{}
	if ta != nil {
		for i := range ta.Entries {
			e := entries[ta.Entries[i].Name]
			e[0] = &ta.Entries[i]
			entries[ta.Entries[i].Name] = e
		}
	}
	if tb != nil {
		for i := range tb.Entries {
			e := entries[tb.Entries[i].Name]
			e[1] = &tb.Entries[i]
			entries[tb.Entries[i].Name] = e
		}
	}
	for name, e := range entries {
		ea, eb := e[0], e[1]
		if ea != nil && eb != nil && ea.Hash == eb.Hash && ea.Mode == eb.Mode {
			continue
		}
		p := path.Join(dir, name)
		aDir := ea != nil && ea.Mode == filemode.Dir
		bDir := eb != nil && eb.Mode == filemode.Dir
		if (ea != nil && !aDir) || (eb != nil && !bDir) {
			*out = append(*out, p) // a file (or submodule) on at least one side
		}
		if aDir || bDir {
			// Folders on either side: recurse; a missing side lists as empty.
			if err := diffDir(ctx, a, b, p, out); err != nil {
				return err
			}
		}
	}
	return nil
}
