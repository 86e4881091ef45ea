package overlay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// cacheFormat is the version of the cache file layout; changing what a
// file holds or how a Base is rebuilt from it must change it.
const cacheFormat = 1

// ErrCacheMiss reports that a Cache holds no usable render for a key: none
// was stored, or the file is unreadable, corrupt, of another format or of
// another kustomize. Every such case means "render".
var ErrCacheMiss = errors.New("render cache miss")

// errUncacheable marks a Base a Cache must not write (a Secret carrying
// container images: its data would reach the file).
var errUncacheable = errors.New("render holds a Secret with container images; not cached")

// Cache keeps rendered Bases on disk so that a new process (a one-shot CLI
// run) loads an overlay's render instead of running krusty over every
// kustomization again. A file is named by a hash of the caller's key (which
// must cover every input of the render: the overlay without its images:
// entries and every file it can read), the cache format and the kustomize
// module versions; it holds only the resources that carry container images
// (the only ones CheckDigests reads), never a Secret, and a checksum. Files
// are written atomically with mode 0600 in folders of mode 0700; the newest
// keep files per overlay are kept. A Cache is safe for concurrent use, also
// by several processes.
type Cache struct {
	dir  string
	keep int
}

// NewCache returns a Cache in dir (created on first store) keeping the
// newest keep renders per overlay.
func NewCache(dir string, keep int) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("render cache: empty folder")
	}
	if keep < 1 {
		return nil, fmt.Errorf("render cache %q: keep %d renders per overlay, want at least 1", dir, keep)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving render cache %q: %w", dir, err)
	}
	return &Cache{dir: abs, keep: keep}, nil
}

// Dir returns the cache's folder.
func (c *Cache) Dir() string { return c.dir }

type cacheFile struct {
	Format    int               `json:"format"`
	Kustomize string            `json:"kustomize"`
	Key       string            `json:"key"`
	Sum       string            `json:"sum"`
	Resources []json.RawMessage `json:"resources"`
}

// kustomizeVersion names the kustomize modules this binary renders with.
var kustomizeVersion = sync.OnceValue(func() string {
	v := "api ? kyaml ?"
	if bi, ok := debug.ReadBuildInfo(); ok {
		var parts []string
		for _, d := range bi.Deps {
			if d.Path == "sigs.k8s.io/kustomize/api" || d.Path == "sigs.k8s.io/kustomize/kyaml" {
				if d.Replace != nil {
					d = d.Replace
				}
				parts = append(parts, d.Path+"@"+d.Version+d.Sum)
			}
		}
		if len(parts) > 0 {
			slices.Sort(parts)
			v = strings.Join(parts, " ")
		}
	}
	return v
})

// file returns the path of key's render of the overlay at overlayPath.
func (c *Cache) file(overlayPath, key string) string {
	o := sha256.Sum256([]byte(overlayPath))
	h := sha256.New()
	fmt.Fprintf(h, "ferry render cache\x00%d\x00%s\x00%s", cacheFormat, kustomizeVersion(), key)
	return filepath.Join(c.dir, hex.EncodeToString(o[:8]), hex.EncodeToString(h.Sum(nil))+".json")
}

func resourcesSum(res []json.RawMessage) string {
	h := sha256.New()
	for _, r := range res {
		fmt.Fprintf(h, "%d\x00%s\x00", len(r), r)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Load returns key's render of the overlay at overlayPath (a name: the
// repository path of its kustomization), rebuilt as RenderBase(fsys, dir,
// kustomizationPath, original) would return it. fsys is called only if a
// check needs the full render. Any problem with the file is an
// ErrCacheMiss.
func (c *Cache) Load(overlayPath, key string, fsys func() (filesys.FileSystem, error), dir, kustomizationPath string, original []byte) (*Base, error) {
	name := c.file(overlayPath, key)
	data, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrCacheMiss
		}
		return nil, fmt.Errorf("%w: reading %s: %v", ErrCacheMiss, name, err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not a render cache file", ErrCacheMiss, name)
	}
	if f.Format != cacheFormat || f.Kustomize != kustomizeVersion() || f.Key != key || f.Sum != resourcesSum(f.Resources) {
		return nil, fmt.Errorf("%w: %s is of another format, kustomize or key, or corrupt", ErrCacheMiss, name)
	}
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	res := make([]*resource.Resource, 0, len(f.Resources))
	for _, raw := range f.Resources {
		r, err := rf.FromBytes(raw)
		if err != nil || r.GetKind() == "Secret" {
			return nil, fmt.Errorf("%w: %s holds a bad resource", ErrCacheMiss, name)
		}
		res = append(res, r)
	}
	b, err := newBase(res, sync.OnceValues(fsys), dir, kustomizationPath, original)
	if err != nil {
		return nil, fmt.Errorf("%w: %s holds a bad resource", ErrCacheMiss, name)
	}
	now := time.Now()
	_ = os.Chtimes(name, now, now) // newest first when pruning
	return b, nil
}

// Store writes b as key's render of the overlay at overlayPath and removes
// the overlay's oldest renders beyond the cache's bound. A Base holding a
// Secret with container images is not written.
func (c *Cache) Store(overlayPath, key string, b *Base) error {
	f := cacheFile{Format: cacheFormat, Kustomize: kustomizeVersion(), Key: key, Resources: []json.RawMessage{}}
	for i, r := range b.resources {
		if len(b.images[i]) == 0 {
			continue // CheckDigests never reads it
		}
		if r.GetKind() == "Secret" {
			return errUncacheable
		}
		raw, err := r.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encoding %s: %w", r.CurId(), err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return fmt.Errorf("encoding %s: %w", r.CurId(), err)
		}
		f.Resources = append(f.Resources, buf.Bytes())
	}
	f.Sum = resourcesSum(f.Resources)
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // the resources' bytes stay as summed
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encoding render cache file: %w", err)
	}
	name := c.file(overlayPath, key)
	folder := filepath.Dir(name)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return fmt.Errorf("creating render cache %s: %w", folder, err)
	}
	tmp, err := os.CreateTemp(folder, ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing render cache %s: %w", folder, err)
	}
	_, werr := tmp.Write(data.Bytes())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), name)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing render cache %s: %w", name, werr)
	}
	return c.prune(folder)
}

// prune removes the oldest files of an overlay's folder beyond c.keep, and
// temporary files a crashed writer left over an hour ago.
func (c *Cache) prune(folder string) error {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return fmt.Errorf("pruning render cache %s: %w", folder, err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if time.Since(info.ModTime()) > time.Hour {
				_ = os.Remove(filepath.Join(folder, e.Name()))
			}
			continue
		}
		if strings.HasSuffix(e.Name(), ".json") {
			files = append(files, file{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return b.mod.Compare(a.mod) })
	for _, f := range files[min(len(files), c.keep):] {
		if err := os.Remove(filepath.Join(folder, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pruning render cache %s: %w", folder, err)
		}
	}
	return nil
}

// IsUncacheable reports whether Store refused a Base on purpose (it holds
// a Secret with container images) rather than failing to write it.
func IsUncacheable(err error) bool { return errors.Is(err, errUncacheable) }
