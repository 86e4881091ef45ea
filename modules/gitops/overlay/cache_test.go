package overlay

import (
	"bytes"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const stagingPath = "/overlays/staging/kustomization.yaml"

func newCache(t *testing.T, keep int) *Cache {
	t.Helper()
	c, err := NewCache(filepath.Join(t.TempDir(), "render"), keep)
	must(t, err)
	return c
}

// TestCacheAgreesWithRender checks that a Base loaded from a Cache decides
// every agreement case as the fresh Base and the full render do, and reads
// the overlay's files only when the full render decides.
func TestCacheAgreesWithRender(t *testing.T) {
	c := newCache(t, 8)
	for _, tt := range agreementCases() {
		t.Run(tt.name, func(t *testing.T) {
			fs := memTree(t, []string{"api", "web"}, tt.extra)
			content, err := fs.ReadFile(stagingPath)
			must(t, err)
			fresh, err := RenderBase(fs, "/overlays/staging", stagingPath, content)
			must(t, err)
			key := "key " + tt.name
			if _, err := c.Load(stagingPath, key, nil, "/overlays/staging", stagingPath, content); !errors.Is(err, ErrCacheMiss) {
				t.Fatalf("Load before Store: %v, want ErrCacheMiss", err)
			}
			must(t, c.Store(stagingPath, key, fresh))
			reads := 0
			loaded, err := c.Load(stagingPath, key, func() (filesys.FileSystem, error) { reads++; return fs, nil }, "/overlays/staging", stagingPath, content)
			must(t, err)
			if got, want := strings.Join(slices.Sorted(maps.Keys(loaded.Names())), " "), strings.Join(slices.Sorted(maps.Keys(fresh.Names())), " "); got != want {
				t.Fatalf("Names from the cache %q, fresh %q", got, want)
			}
			want := fresh.CheckDigests(content, tt.images)
			got := loaded.CheckDigests(content, tt.images)
			if !errors.Is(got, tt.wantErr) || (tt.wantErr == nil) != (got == nil) || (want == nil) != (got == nil) {
				t.Fatalf("cached CheckDigests: %v, fresh: %v, want %v", got, want, tt.wantErr)
			}
			if full := tt.wantErr != nil || strings.Contains(tt.extra, "transformers:"); (reads > 0) != full {
				t.Fatalf("cached Base read the files %d times; full render needed: %v", reads, full)
			}
		})
	}
}

// storedTree renders and stores a two-service overlay under key and
// returns the cache file's path, the tree and the overlay.
func storedTree(t *testing.T, c *Cache, key string) (string, filesys.FileSystem, []byte) {
	t.Helper()
	fs := memTree(t, []string{"api", "web"}, "")
	content, err := fs.ReadFile(stagingPath)
	must(t, err)
	b, err := RenderBase(fs, "/overlays/staging", stagingPath, content)
	must(t, err)
	must(t, c.Store(stagingPath, key, b))
	return c.file(stagingPath, key), fs, content
}

// TestCacheCorruptFileIsAMiss checks that every damaged file is a miss
// (the caller renders), never a wrong Base nor a failure, and that the
// next Store repairs it.
func TestCacheCorruptFileIsAMiss(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, name string, data []byte)
	}{
		{"empty", func(t *testing.T, name string, _ []byte) { must(t, os.WriteFile(name, nil, 0o600)) }},
		{"truncated", func(t *testing.T, name string, data []byte) { must(t, os.WriteFile(name, data[:len(data)/2], 0o600)) }},
		{"not JSON", func(t *testing.T, name string, _ []byte) {
			must(t, os.WriteFile(name, []byte("\x00\xffgarbage"), 0o600))
		}},
		{"image changed", func(t *testing.T, name string, data []byte) {
			must(t, os.WriteFile(name, bytes.ReplaceAll(data, []byte("ghcr.io/acme/api:dev"), []byte("ghcr.io/acme/api@"+digestA)), 0o600))
		}},
		{"other format", func(t *testing.T, name string, data []byte) {
			must(t, os.WriteFile(name, bytes.Replace(data, []byte(`"format":1`), []byte(`"format":2`), 1), 0o600))
		}},
		{"other kustomize", func(t *testing.T, name string, data []byte) {
			must(t, os.WriteFile(name, bytes.Replace(data, []byte(`"kustomize":"`), []byte(`"kustomize":"x`), 1), 0o600))
		}},
		{"other key", func(t *testing.T, name string, data []byte) {
			must(t, os.WriteFile(name, bytes.Replace(data, []byte(`"key":"k`), []byte(`"key":"x`), 1), 0o600))
		}},
		{"unreadable", func(t *testing.T, name string, _ []byte) {
			must(t, os.Remove(name))
			must(t, os.Mkdir(name, 0o700))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, 8)
			name, fs, content := storedTree(t, c, "k1")
			data, err := os.ReadFile(name)
			must(t, err)
			tt.damage(t, name, data)
			loader := func() (filesys.FileSystem, error) { return fs, nil }
			if b, err := c.Load(stagingPath, "k1", loader, "/overlays/staging", stagingPath, content); !errors.Is(err, ErrCacheMiss) || b != nil {
				t.Fatalf("Load of a damaged file: %v, %v; want ErrCacheMiss", b, err)
			}
			if tt.name == "unreadable" {
				must(t, os.Remove(name))
			}
			fresh, err := RenderBase(fs, "/overlays/staging", stagingPath, content)
			must(t, err)
			must(t, c.Store(stagingPath, "k1", fresh))
			b, err := c.Load(stagingPath, "k1", loader, "/overlays/staging", stagingPath, content)
			must(t, err)
			edited := append(content, []byte("images:\n- name: ghcr.io/acme/api\n  digest: "+digestA+"\n")...)
			must(t, b.CheckDigests(edited, []Image{{Name: "ghcr.io/acme/api", Digest: digestA}}))
		})
	}
}

// TestCacheKeepsNoSecrets checks that a render holding Secrets (a
// secretGenerator, a Secret manifest) is cached without them, that a
// generators: entry (KSOPS) is not run, and the file and folder modes.
func TestCacheKeepsNoSecrets(t *testing.T) {
	fs := memTree(t, []string{"api", "web"}, "- secret.yaml\n"+
		"secretGenerator:\n- name: db\n  literals:\n  - password=hunter2\n"+
		"generators:\n- ksops-missing.yaml\n"+
		"commonAnnotations:\n  note: \"a&b<c>\"\n")
	must(t, fs.WriteFile("/overlays/staging/secret.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: s3cr3t-manifest\ndata:\n  key: "+base64.StdEncoding.EncodeToString([]byte("k3y-value"))+"\n")))
	content, err := fs.ReadFile(stagingPath)
	must(t, err)
	b, err := RenderBase(fs, "/overlays/staging", stagingPath, content)
	must(t, err)
	c := newCache(t, 8)
	must(t, c.Store(stagingPath, "k", b))
	name := c.file(stagingPath, "k")
	data, err := os.ReadFile(name)
	must(t, err)
	for _, secret := range []string{"hunter2", base64.StdEncoding.EncodeToString([]byte("hunter2")), "s3cr3t", "k3y-value",
		base64.StdEncoding.EncodeToString([]byte("k3y-value")), `"Secret"`} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("cache file holds %q", secret)
		}
	}
	for path, want := range map[string]os.FileMode{name: 0o600, filepath.Dir(name): 0o700, c.Dir(): 0o700} {
		info, err := os.Stat(path)
		must(t, err)
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
	}
	loaded, err := c.Load(stagingPath, "k", func() (filesys.FileSystem, error) { return fs, nil }, "/overlays/staging", stagingPath, content)
	must(t, err)
	edited := append(content, []byte("images:\n- name: ghcr.io/acme/web\n  digest: "+digestA+"\n")...)
	must(t, loaded.CheckDigests(edited, []Image{{Name: "ghcr.io/acme/web", Digest: digestA}}))
}

// TestCacheRefusesSecretWithImages checks that a Secret the index would
// need (it carries container images) keeps the render out of the cache.
func TestCacheRefusesSecretWithImages(t *testing.T) {
	fs := memTree(t, []string{"api"}, "- secret.yaml\n")
	must(t, fs.WriteFile("/overlays/staging/secret.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: odd\nspec:\n  containers:\n  - image: ghcr.io/acme/odd:1\nstringData:\n  token: s3cr3t\n")))
	content, err := fs.ReadFile(stagingPath)
	must(t, err)
	b, err := RenderBase(fs, "/overlays/staging", stagingPath, content)
	must(t, err)
	c := newCache(t, 8)
	if err := c.Store(stagingPath, "k", b); !IsUncacheable(err) {
		t.Fatalf("Store: %v, want uncacheable", err)
	}
	if _, err := os.Stat(c.file(stagingPath, "k")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was written: %v", err)
	}
}

// TestCachePrunesOldest checks the bound: the newest renders of an
// overlay stay, the oldest go, a Load makes a render newest.
func TestCachePrunesOldest(t *testing.T) {
	c := newCache(t, 2)
	old := time.Now().Add(-3 * time.Hour)
	k1, _, content := storedTree(t, c, "k1")
	k2, _, _ := storedTree(t, c, "k2")
	must(t, os.Chtimes(k2, old, old))
	must(t, os.Chtimes(k1, old.Add(time.Hour), old.Add(time.Hour)))
	// k2 is now the oldest; loading it makes it the newest.
	if _, err := c.Load(stagingPath, "k2", nil, "/overlays/staging", stagingPath, content); err != nil {
		t.Fatal(err)
	}
	k3, _, _ := storedTree(t, c, "k3")
	for name, want := range map[string]bool{k1: false, k2: true, k3: true} {
		if _, err := os.Stat(name); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(name), err == nil, want)
		}
	}
}

// TestNewCacheValidates checks the options of a Cache.
func TestNewCacheValidates(t *testing.T) {
	for _, tt := range []struct {
		name, dir string
		keep      int
		want      string
	}{
		{"empty folder", "", 8, "empty folder"},
		{"no renders kept", "x", 0, "keep 0 renders per overlay, want at least 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCache(tt.dir, tt.keep); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewCache: %v, want %q", err, tt.want)
			}
		})
	}
}
