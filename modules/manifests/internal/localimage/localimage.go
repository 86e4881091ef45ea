// Package localimage builds, with podman and no pull, the images the
// Compose deploy test runs where no registry is reachable: images FROM
// scratch whose root file systems are assembled from host files (a binary
// and the shared libraries ldd names, data trees, a passwd entry), and the
// services' own images from their Dockerfiles' final stage over such a
// base. Every image is referenced by the digest podman records for it.
package localimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Builder builds images under one repository prefix and tag, so that
// Remove can delete them all.
type Builder struct {
	podman string
	prefix string
	tag    string
	dir    string
	built  []string
}

// NewBuilder returns a Builder that runs podman (a path), names images
// prefix/<name>:tag and keeps build contexts under dir.
func NewBuilder(podman, prefix, tag, dir string) *Builder {
	return &Builder{podman: podman, prefix: prefix, tag: tag, dir: dir}
}

// Remove deletes every image the Builder built, newest first so that no
// image is removed before the ones built on it. It never forces: a forced
// rmi also deletes the build containers of any other podman build that
// shares a layer with these images, which breaks a concurrent run on the
// same storage.
func (b *Builder) Remove(ctx context.Context) error {
	var errs []error
	for i := len(b.built) - 1; i >= 0; i-- {
		ref := b.built[i]
		if out, err := exec.CommandContext(ctx, b.podman, "rmi", ref).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("removing image %q: %w: %s", ref, err, bytes.TrimSpace(out)))
		}
	}
	b.built = nil
	return errors.Join(errs...)
}

// RootFS is a root file system being assembled in a build context.
type RootFS struct {
	dir string
	err error
}

// Err returns the first error of the calls so far.
func (r *RootFS) Err() error { return r.err }

func (r *RootFS) path(dst string) string {
	return filepath.Join(r.dir, "rootfs", filepath.FromSlash(dst))
}

// File copies (or hard-links) the host file src to dst, following links.
func (r *RootFS) File(src, dst string) {
	if r.err != nil {
		return
	}
	r.err = place(src, r.path(dst))
}

// Binary adds the host executable src at dst, with its ELF interpreter
// and the shared libraries ldd resolves, at their host paths.
func (r *RootFS) Binary(src, dst string) {
	r.File(src, dst)
	r.Libraries(src)
}

// Libraries adds the shared libraries (and the interpreter) ldd resolves
// for the host file src, at their host paths.
func (r *RootFS) Libraries(src string) {
	if r.err != nil {
		return
	}
	libs, err := ldd(src)
	if err != nil {
		r.err = err
		return
	}
	for _, l := range libs {
		if _, err := os.Lstat(r.path(l)); err == nil {
			continue
		}
		r.File(l, l)
	}
}

// Tree copies the host directory src to dst; skip, when it returns true
// for a path relative to src, leaves that file or directory out.
func (r *RootFS) Tree(src, dst string, skip func(rel string) bool) {
	if r.err != nil {
		return
	}
	r.err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip != nil && rel != "." && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(r.path(dst), rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			return place(p, target)
		}
	})
}

// Write writes data to dst with mode.
func (r *RootFS) Write(dst string, data string, mode os.FileMode) {
	if r.err != nil {
		return
	}
	p := r.path(dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.err = err
		return
	}
	r.err = os.WriteFile(p, []byte(data), mode)
}

// Dir creates the directory dst with mode (its missing parents 0755).
func (r *RootFS) Dir(dst string, mode os.FileMode) {
	if r.err != nil {
		return
	}
	p := r.path(dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.err = err
		return
	}
	if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		r.err = err
		return
	}
	r.err = os.Chmod(p, mode)
}

// Scratch builds the image name FROM scratch: fill assembles its root
// file system, which a single COPY adds; config is the Containerfile text
// after it (USER, ENV, ENTRYPOINT...). It returns prefix/name@sha256:...
func (b *Builder) Scratch(ctx context.Context, name string, fill func(*RootFS), config string) (string, error) {
	dir, err := os.MkdirTemp(b.dir, name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	r := &RootFS{dir: dir}
	if err := os.MkdirAll(r.path("/"), 0o755); err != nil {
		return "", err
	}
	fill(r)
	if r.err != nil {
		return "", fmt.Errorf("assembling the root file system of %s: %w", name, r.err)
	}
	return b.Build(ctx, name, dir, "FROM scratch\nCOPY rootfs/ /\n"+config, nil)
}

// Build runs podman build on the context dir with the given Containerfile
// text and build arguments, and returns prefix/name@sha256:...
func (b *Builder) Build(ctx context.Context, name, dir, containerfile string, args map[string]string) (string, error) {
	cf := filepath.Join(dir, "Containerfile.ferry-local")
	if err := os.WriteFile(cf, []byte(containerfile), 0o644); err != nil {
		return "", err
	}
	tagged := b.prefix + "/" + name + ":" + b.tag
	argv := []string{"build", "--quiet", "--pull=never", "--file", cf, "--tag", tagged}
	for k, v := range args {
		argv = append(argv, "--build-arg", k+"="+v)
	}
	argv = append(argv, dir)
	if out, err := exec.CommandContext(ctx, b.podman, argv...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building image %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	b.built = append(b.built, tagged)
	out, err := exec.CommandContext(ctx, b.podman, "image", "inspect", "--format", "{{.Digest}}", tagged).Output()
	if err != nil {
		return "", fmt.Errorf("inspecting image %s: %w", tagged, err)
	}
	d := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(d) {
		return "", fmt.Errorf("image %s has digest %q, want sha256:<64 hex>", tagged, d)
	}
	return b.prefix + "/" + name + "@" + d, nil
}

// FinalStage returns the global ARG lines and the last stage of the
// Dockerfile at path, with each COPY --from=<stage> /out/... rewritten to
// COPY out/... from the context: the binary the earlier stages would have
// built is put there by the caller.
func FinalStage(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %q: %w", path, err)
	}
	lines := strings.Split(string(b), "\n")
	var global []string
	last := -1
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			last = i
		case "ARG":
			if last < 0 {
				global = append(global, l)
			}
		}
	}
	if last < 0 {
		return "", fmt.Errorf("reading %q: no FROM", path)
	}
	copyFrom := regexp.MustCompile(`(?i)^COPY\s+--from=\S+\s+/out/`)
	var out []string
	found := false
	for _, l := range lines[last:] {
		if copyFrom.MatchString(l) {
			l = copyFrom.ReplaceAllString(l, "COPY out/")
			found = true
		}
		out = append(out, l)
	}
	if !found {
		return "", fmt.Errorf("reading %q: the final stage copies nothing from /out/ of a build stage", path)
	}
	return strings.Join(global, "\n") + "\n" + strings.Join(out, "\n"), nil
}

func place(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	if err := os.Link(real, dst); err == nil {
		return nil
	}
	in, err := os.Open(real)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

var lddLine = regexp.MustCompile(`(?:=>\s+)?(/\S+)\s+\(0x`)

// ldd lists the absolute paths of the shared objects path needs.
func ldd(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("running ldd %q: %w: %s", path, err, bytes.TrimSpace(out))
	}
	var libs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "not found") {
			return nil, fmt.Errorf("running ldd %q: %s", path, strings.TrimSpace(l))
		}
		if m := lddLine.FindStringSubmatch(l); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, nil
}
