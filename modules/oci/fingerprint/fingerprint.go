package fingerprint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Scheme names the record format; it is hashed first so a future format
// change cannot collide with this one.
const Scheme = "ferry-fingerprint/v1"

// TagLength is the number of hex characters of the hash used in tags.
const TagLength = 32

// Inputs are the build inputs of one service. Paths are relative to Root and
// use forward slashes.
type Inputs struct {
	// Root is the repository root on disk; it never enters the hash.
	Root string
	// Files are the files and directories the build reads (directories are
	// walked).
	Files []string
	// Dockerfile is the service's Dockerfile; required.
	Dockerfile string
	// GoVersion is the toolchain that compiles, such as "go1.26.8"; required.
	GoVersion string
	// BuildArgs are the build arguments that change the output.
	BuildArgs map[string]string
	// Platforms are the target platforms such as "linux/amd64"; at least one.
	Platforms []string
}

// Fingerprint is the full SHA-256 of the inputs.
type Fingerprint [sha256.Size]byte

// String returns the full 64 hex characters.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Short returns the first TagLength hex characters, the tag form.
func (f Fingerprint) Short() string { return f.String()[:TagLength] }

// Cache remembers file hashes by absolute path so that many services sharing
// modules (a monorepo) hash each shared file once. It assumes the files do not
// change while it lives: use one per pipeline run. Safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries map[string]entry
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: map[string]entry{}} }

// Compute hashes the inputs. A missing file or a path that leaves Root is a
// terminal error naming the path.
func Compute(in Inputs) (Fingerprint, error) { return compute(in, nil) }

// Compute is the package Compute with file hashes shared through c.
func (c *Cache) Compute(in Inputs) (Fingerprint, error) { return compute(in, c) }

func compute(in Inputs, c *Cache) (Fingerprint, error) {
	if in.Root == "" {
		return Fingerprint{}, errors.New("computing fingerprint: no root directory")
	}
	if in.Dockerfile == "" {
		return Fingerprint{}, errors.New("computing fingerprint: no Dockerfile")
	}
	if in.GoVersion == "" {
		return Fingerprint{}, errors.New("computing fingerprint: no Go version")
	}
	if len(in.Platforms) == 0 {
		return Fingerprint{}, errors.New("computing fingerprint: no target platform")
	}
	files, err := expand(in.Root, in.Files)
	if err != nil {
		return Fingerprint{}, err
	}
	dockerfile, err := cleanRel(in.Dockerfile)
	if err != nil {
		return Fingerprint{}, err
	}
	entries := make([]entry, len(files)+1)
	for i, f := range files {
		entries[i].path = f
	}
	entries[len(files)].path = dockerfile
	if err := hashAll(in.Root, entries, c); err != nil {
		return Fingerprint{}, err
	}
	if entries[len(files)].mode == 'l' {
		return Fingerprint{}, fmt.Errorf("computing fingerprint: Dockerfile %q is a symbolic link", dockerfile)
	}

	h := sha256.New()
	record(h, Scheme)
	record(h, "files")
	record(h, fmt.Sprint(len(files)))
	for _, e := range entries[:len(files)] {
		record(h, e.path)
		record(h, string(e.mode))
		h.Write(e.sum[:])
	}
	record(h, "dockerfile")
	record(h, dockerfile)
	h.Write(entries[len(files)].sum[:])
	record(h, "go")
	record(h, in.GoVersion)
	record(h, "args")
	keys := make([]string, 0, len(in.BuildArgs))
	for k := range in.BuildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	record(h, fmt.Sprint(len(keys)))
	for _, k := range keys {
		record(h, k)
		record(h, in.BuildArgs[k])
	}
	platforms := slices.Clone(in.Platforms)
	slices.Sort(platforms)
	platforms = slices.Compact(platforms)
	record(h, "platforms")
	record(h, fmt.Sprint(len(platforms)))
	for _, p := range platforms {
		record(h, p)
	}
	var fp Fingerprint
	copy(fp[:], h.Sum(nil))
	return fp, nil
}

// record writes a length-prefixed string so concatenations cannot collide.
func record(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	io.WriteString(h, s)
}

type entry struct {
	path string
	mode byte
	sum  [sha256.Size]byte
}

func cleanRel(p string) (string, error) {
	s := filepath.ToSlash(p)
	if s == "" || path.IsAbs(s) || filepath.IsAbs(p) {
		return "", fmt.Errorf("computing fingerprint: input %q must be relative to the repository root", p)
	}
	s = path.Clean(s)
	if s == ".." || strings.HasPrefix(s, "../") {
		return "", fmt.Errorf("computing fingerprint: input %q leaves the repository root", p)
	}
	return s, nil
}

// expand cleans, walks directories and returns the sorted unique file list.
func expand(root string, inputs []string) ([]string, error) {
	seen := make(map[string]bool, len(inputs))
	var out []string
	for _, in := range inputs {
		rel, err := cleanRel(in)
		if err != nil {
			return nil, err
		}
		abs := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, fmt.Errorf("computing fingerprint: reading input %q: %w", rel, err)
		}
		if !fi.IsDir() {
			if !seen[rel] {
				seen[rel] = true
				out = append(out, rel)
			}
			continue
		}
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			r, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			r = filepath.ToSlash(r)
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("computing fingerprint: walking input %q: %w", rel, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// hashAll fills in mode and content hash of each entry, in parallel.
func hashAll(root string, entries []entry, c *Cache) error {
	var todo []int
	if c != nil {
		c.mu.Lock()
		for i := range entries {
			if e, ok := c.entries[filepath.Join(root, entries[i].path)]; ok {
				entries[i] = e
			} else {
				todo = append(todo, i)
			}
		}
		c.mu.Unlock()
	} else {
		for i := range entries {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0)*2, len(todo))
	next := make(chan int)
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				errs[i] = hashOne(root, &entries[i])
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c != nil {
		c.mu.Lock()
		for _, i := range todo {
			c.entries[filepath.Join(root, entries[i].path)] = entries[i]
		}
		c.mu.Unlock()
	}
	return nil
}

func hashOne(root string, e *entry) error {
	abs := filepath.Join(root, filepath.FromSlash(e.path))
	fi, err := os.Lstat(abs)
	if err != nil {
		return fmt.Errorf("computing fingerprint: reading %q: %w", e.path, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return fmt.Errorf("computing fingerprint: reading link %q: %w", e.path, err)
		}
		e.mode = 'l'
		e.sum = sha256.Sum256([]byte(filepath.ToSlash(target)))
		return nil
	case !fi.Mode().IsRegular():
		return fmt.Errorf("computing fingerprint: %q is not a regular file", e.path)
	}
	e.mode = '-'
	if fi.Mode().Perm()&0o111 != 0 {
		e.mode = 'x'
	}
	f, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("computing fingerprint: opening %q: %w", e.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("computing fingerprint: reading %q: %w", e.path, err)
	}
	copy(e.sum[:], h.Sum(nil))
	return nil
}
