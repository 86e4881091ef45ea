// Package crdsync copies pinned CRD files out of Go modules into the
// repository and records their provenance, so the offline checks validate
// custom resources against exactly the schemas of the versions deployed.
package crdsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"sigs.k8s.io/yaml"
)

// Source is one module and the CRD files to take from it.
type Source struct {
	Name      string   `json:"name"`
	Module    string   `json:"module"`
	Version   string   `json:"version"`
	Toolchain string   `json:"toolchain,omitempty"`
	Files     []string `json:"files"`
}

// Sources is the content of sources.yaml.
type Sources struct {
	Sources []Source `json:"sources"`
}

// LockEntry records one copied file.
type LockEntry struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Sum is the module zip's hash as go.sum records it (h1:...).
	Sum    string `json:"sum"`
	From   string `json:"from"`
	To     string `json:"to"`
	SHA256 string `json:"sha256"`
}

// Lock is the content of lock.yaml.
type Lock struct {
	Files []LockEntry `json:"files"`
}

// Module is what a download yields: the unpacked module folder and its hash.
type Module struct {
	Dir string
	Sum string
}

// Downloader fetches a module version; GoModDownload is the real one.
type Downloader func(ctx context.Context, src Source) (Module, error)

// GoModDownload runs `go mod download -json module@version` outside any
// workspace, with the source's toolchain when it names one.
func GoModDownload(ctx context.Context, src Source) (Module, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", src.Module+"@"+src.Version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if src.Toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+src.Toolchain)
	}
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct{ Dir, Sum, Error string }
	if jerr := json.Unmarshal(out, &res); jerr == nil && res.Error != "" {
		return Module{}, fmt.Errorf("downloading %s@%s: %s", src.Module, src.Version, res.Error)
	}
	if err != nil {
		return Module{}, fmt.Errorf("downloading %s@%s: %w: %s", src.Module, src.Version, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if res.Dir == "" {
		return Module{}, fmt.Errorf("downloading %s@%s: no module folder reported", src.Module, src.Version)
	}
	return Module{Dir: res.Dir, Sum: res.Sum}, nil
}

// ReadSources loads dir/sources.yaml.
func ReadSources(dir string) (Sources, error) {
	var s Sources
	b, err := os.ReadFile(filepath.Join(dir, "sources.yaml"))
	if err != nil {
		return s, fmt.Errorf("reading sources: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return s, fmt.Errorf("parsing %q: %w", filepath.Join(dir, "sources.yaml"), err)
	}
	for i, src := range s.Sources {
		if src.Name == "" || src.Module == "" || src.Version == "" || len(src.Files) == 0 {
			return s, fmt.Errorf("parsing %q: sources[%d]: name, module, version and files are required", filepath.Join(dir, "sources.yaml"), i)
		}
	}
	return s, nil
}

// ReadLock loads dir/lock.yaml.
func ReadLock(dir string) (Lock, error) {
	var l Lock
	b, err := os.ReadFile(filepath.Join(dir, "lock.yaml"))
	if err != nil {
		return l, fmt.Errorf("reading lock: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &l); err != nil {
		return l, fmt.Errorf("parsing %q: %w", filepath.Join(dir, "lock.yaml"), err)
	}
	return l, nil
}

// Target is where a source's file lands, relative to dir.
func Target(src Source, file string) string {
	return filepath.ToSlash(filepath.Join(src.Name+"-"+src.Version, filepath.Base(file)))
}

// Sync copies every listed file and rewrites lock.yaml. Folders of earlier
// versions are left for the reader to delete (the lock no longer names
// them, and a test flags unlisted files).
func Sync(ctx context.Context, dir string, download Downloader, progress func(msg string, args ...any)) error {
	srcs, err := ReadSources(dir)
	if err != nil {
		return err
	}
	var lock Lock
	for _, src := range srcs.Sources {
		progress("downloading", "module", src.Module, "version", src.Version)
		mod, err := download(ctx, src)
		if err != nil {
			return err
		}
		for _, f := range src.Files {
			b, err := os.ReadFile(filepath.Join(mod.Dir, filepath.FromSlash(f)))
			if err != nil {
				return fmt.Errorf("reading %s from %s@%s: %w", f, src.Module, src.Version, err)
			}
			to := Target(src, f)
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
				return fmt.Errorf("writing %q: %w", to, err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(to)), b, 0o644); err != nil {
				return fmt.Errorf("writing %q: %w", to, err)
			}
			lock.Files = append(lock.Files, LockEntry{Module: src.Module, Version: src.Version, Sum: mod.Sum,
				From: f, To: to, SHA256: Hash(b)})
			progress("copied", "file", to)
		}
	}
	sort.Slice(lock.Files, func(i, j int) bool { return lock.Files[i].To < lock.Files[j].To })
	out, err := yaml.Marshal(lock)
	if err != nil {
		return err
	}
	header := []byte("# Written by `go run ./cmd/crdsync`; do not edit. Provenance of every CRD copy here.\n")
	if err := os.WriteFile(filepath.Join(dir, "lock.yaml"), append(header, out...), 0o644); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	return nil
}

// Hash is the hex sha256 of b.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
