package contract

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeFS is a read-only fs.FS over a git tree, so that the catalog loads a
// revision exactly as it was committed, whatever the work tree holds.
// Folders' trees are decoded once and cached.
type treeFS struct {
	mu    sync.Mutex
	trees map[string]*object.Tree // nil value: not a folder
	blobs map[string][]byte
}

var (
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// newTreeFS serves root; a nil root is the empty tree.
func newTreeFS(root *object.Tree) *treeFS {
	if root == nil {
		root = &object.Tree{}
	}
	return &treeFS{trees: map[string]*object.Tree{".": root}, blobs: map[string][]byte{}}
}

// tree returns the tree of folder dir, or fs.ErrNotExist. Callers hold mu.
func (t *treeFS) tree(dir string) (*object.Tree, error) {
	if tr, ok := t.trees[dir]; ok {
		if tr == nil {
			return nil, fs.ErrNotExist
		}
		return tr, nil
	}
	parent, err := t.tree(path.Dir(dir))
	if err != nil {
		return nil, err
	}
	var sub *object.Tree
	if e := findEntry(parent, path.Base(dir)); e != nil && e.Mode == filemode.Dir {
		if sub, err = parent.Tree(e.Name); err != nil {
			return nil, err
		}
	}
	t.trees[dir] = sub
	if sub == nil {
		return nil, fs.ErrNotExist
	}
	return sub, nil
}

func findEntry(t *object.Tree, name string) *object.TreeEntry {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

// entry returns the entry at name and the tree holding it (nil entry for
// the root).
func (t *treeFS) entry(op, name string) (*object.Tree, *object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil, nil
	}
	parent, err := t.tree(path.Dir(name))
	if err != nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	e := findEntry(parent, path.Base(name))
	if e == nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return parent, e, nil
}

// Open opens a file or a folder.
func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	parent, e, err := t.entry("open", name)
	if err != nil {
		return nil, err
	}
	info := t.info(parent, e, name)
	if info.IsDir() {
		entries, err := t.readDir(name)
		if err != nil {
			return nil, err
		}
		return &treeDir{info: info, entries: entries}, nil
	}
	data, err := t.read(parent, e, name)
	if err != nil {
		return nil, err
	}
	return &treeFile{info: info, r: bytes.NewReader(data)}, nil
}

// ReadFile reads a file's blob.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	parent, e, err := t.entry("read", name)
	if err != nil {
		return nil, err
	}
	if e == nil || e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a folder")}
	}
	return t.read(parent, e, name)
}

// read returns the blob of e; callers get their own copy, since the
// catalog reads some files (go.mod, Dockerfile) more than once.
func (t *treeFS) read(parent *object.Tree, e *object.TreeEntry, name string) ([]byte, error) {
	if data, ok := t.blobs[name]; ok {
		return append([]byte(nil), data...), nil
	}
	f, err := parent.TreeEntryFile(e)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	r, err := f.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	t.blobs[name] = data
	return append([]byte(nil), data...), nil
}

// Stat describes a file or folder without reading it.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	parent, e, err := t.entry("stat", name)
	if err != nil {
		return nil, err
	}
	return t.info(parent, e, name), nil
}

// ReadDir lists a folder, sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	return t.readDir(name)
}

func (t *treeFS) readDir(name string) ([]fs.DirEntry, error) {
	tr, err := t.tree(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(tr.Entries))
	for i := range tr.Entries {
		out = append(out, fs.FileInfoToDirEntry(t.info(tr, &tr.Entries[i], path.Join(name, tr.Entries[i].Name))))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (t *treeFS) info(parent *object.Tree, e *object.TreeEntry, name string) *treeInfo {
	if e == nil {
		return &treeInfo{name: ".", mode: fs.ModeDir | 0o755}
	}
	ti := &treeInfo{name: path.Base(name)}
	switch e.Mode {
	case filemode.Dir, filemode.Submodule:
		ti.mode = fs.ModeDir | 0o755
	case filemode.Symlink:
		ti.mode = fs.ModeSymlink | 0o777
	case filemode.Executable:
		ti.mode = 0o755
	default:
		ti.mode = 0o644
	}
	if !ti.mode.IsDir() {
		ti.fs, ti.parent, ti.entry = t, parent, e.Name
	}
	return ti
}

// treeInfo describes an entry; a file's size is looked up on first use,
// since listing folders must not read every object header.
type treeInfo struct {
	name   string
	mode   fs.FileMode
	fs     *treeFS
	parent *object.Tree
	entry  string
}

func (i *treeInfo) Name() string { return i.name }

// Size returns the blob size; 0 for folders or when the object is missing.
func (i *treeInfo) Size() int64 {
	if i.parent == nil {
		return 0
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	size, err := i.parent.Size(i.entry)
	if err != nil {
		return 0
	}
	return size
}

func (i *treeInfo) Mode() fs.FileMode  { return i.mode }
func (i *treeInfo) ModTime() time.Time { return time.Time{} }
func (i *treeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *treeInfo) Sys() any           { return nil }

type treeFile struct {
	info *treeInfo
	r    *bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *treeFile) Close() error               { return nil }

type treeDir struct {
	info    *treeInfo
	entries []fs.DirEntry
	off     int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a folder")}
}
func (d *treeDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
