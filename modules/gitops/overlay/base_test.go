package overlay

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestF = "sha256:" + strings.Repeat("f", 64)
)

// memTree writes base/<name>/ deployments (one container each, image
// ghcr.io/acme/<name>:dev) and the overlay at /overlays/staging.
func memTree(t *testing.T, names []string, kustomization string) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	var res strings.Builder
	for _, n := range names {
		dep := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %[1]s\nspec:\n  template:\n    spec:\n      containers:\n      - name: %[1]s\n        image: ghcr.io/acme/%[1]s:dev\n", n)
		must(t, fs.MkdirAll("/base/"+n))
		must(t, fs.WriteFile("/base/"+n+"/deployment.yaml", []byte(dep)))
		must(t, fs.WriteFile("/base/"+n+"/kustomization.yaml", []byte("resources:\n- deployment.yaml\n")))
		fmt.Fprintf(&res, "- ../../base/%s\n", n)
	}
	must(t, fs.MkdirAll("/overlays/staging"))
	must(t, fs.WriteFile("/overlays/staging/kustomization.yaml", []byte("resources:\n"+res.String()+kustomization)))
	return fs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// agreementCase is an overlay edit whose render check a Base (fresh or
// from a Cache) must decide as a full render does.
type agreementCase struct {
	name    string
	extra   string // kustomization after resources:
	images  []Image
	wantErr error
}

func agreementCases() []agreementCase {
	return []agreementCase{
		{name: "tag and digest", extra: "images:\n- name: ghcr.io/acme/api\n  newTag: v2\n  digest: " + digestA + "\n",
			images: []Image{{Name: "ghcr.io/acme/api", NewTag: "v2", Digest: digestA}}},
		{name: "new name", extra: "images:\n- name: ghcr.io/acme/api\n  newName: registry.example.com/api\n  digest: " + digestA + "\n",
			images: []Image{{Name: "ghcr.io/acme/api", NewName: "registry.example.com/api", Digest: digestA}}},
		{name: "entry renamed by an earlier entry", extra: "images:\n- name: ghcr.io/acme/web\n  newName: ghcr.io/acme/api\n- name: ghcr.io/acme/api\n  digest: " + digestA + "\n",
			images: []Image{{Name: "ghcr.io/acme/api", Digest: digestA}}},
		{name: "entry renamed only by a later entry", extra: "images:\n- name: ghcr.io/acme/gone\n  digest: " + digestA + "\n- name: ghcr.io/acme/web\n  newName: ghcr.io/acme/gone\n",
			images: []Image{{Name: "ghcr.io/acme/gone", Digest: digestA}}, wantErr: ErrNotRendered},
		{name: "transformer plugin overrides the digest", extra: "images:\n- name: ghcr.io/acme/api\n  digest: " + digestA + "\n" +
			"transformers:\n- |-\n  apiVersion: builtin\n  kind: ImageTagTransformer\n  metadata:\n    name: pin\n  imageTag:\n    name: ghcr.io/acme/api\n    digest: " + digestF + "\n",
			images: []Image{{Name: "ghcr.io/acme/api", Digest: digestA}}, wantErr: ErrNotRendered},
		{name: "patch before the images", extra: "images:\n- name: ghcr.io/acme/other\n  digest: " + digestA + "\n" +
			"patches:\n- patch: |-\n    - op: replace\n      path: /spec/template/spec/containers/0/image\n      value: ghcr.io/acme/other:x\n  target:\n    kind: Deployment\n    name: api\n",
			images: []Image{{Name: "ghcr.io/acme/other", Digest: digestA}}},
	}
}

// TestBaseCheckDigestsAgreesWithFullRender checks that the rendered-once
// Base decides exactly as a full krusty render of the edited overlay,
// including cases its shortcut cannot model.
func TestBaseCheckDigestsAgreesWithFullRender(t *testing.T) {
	const path = "/overlays/staging/kustomization.yaml"
	for _, tt := range agreementCases() {
		t.Run(tt.name, func(t *testing.T) {
			fs := memTree(t, []string{"api", "web"}, tt.extra)
			content, err := fs.ReadFile(path)
			must(t, err)
			full := CheckDigests(fs, "/overlays/staging", path, content, tt.images)
			b, err := RenderBase(fs, "/overlays/staging", path, content)
			must(t, err)
			got := b.CheckDigests(content, tt.images)
			if !errors.Is(full, tt.wantErr) || (tt.wantErr == nil) != (full == nil) {
				t.Fatalf("full render: %v, want %v", full, tt.wantErr)
			}
			if !errors.Is(got, tt.wantErr) || (tt.wantErr == nil) != (got == nil) {
				t.Fatalf("Base.CheckDigests: %v, want %v", got, tt.wantErr)
			}
		})
	}
}

// TestBaseCheckDigestsRendersOnce proves the shortcut: once a Base is
// rendered, checking an edit reads no file (the bases are deleted here,
// which a full render would report), while a digest that does not arrive
// still goes to the full render, which decides.
func TestBaseCheckDigestsRendersOnce(t *testing.T) {
	const path = "/overlays/staging/kustomization.yaml"
	names := make([]string, 50)
	var images []Image
	var entries strings.Builder
	entries.WriteString("images:\n")
	for i := range names {
		names[i] = fmt.Sprintf("svc%02d", i)
		d := fmt.Sprintf("sha256:%064x", i)
		images = append(images, Image{Name: "ghcr.io/acme/" + names[i], NewTag: "v1", Digest: d})
		fmt.Fprintf(&entries, "- name: ghcr.io/acme/%s\n  newTag: v1\n  digest: %s\n", names[i], d)
	}
	fs := memTree(t, names, "")
	original, err := fs.ReadFile(path)
	must(t, err)
	b, err := RenderBase(fs, "/overlays/staging", path, original)
	must(t, err)
	if n := b.Names(); len(n) != 50 || !n["ghcr.io/acme/svc07"] {
		t.Fatalf("Names: %v", n)
	}
	must(t, fs.RemoveAll("/base"))
	edited := []byte(string(original) + entries.String())
	if err := b.CheckDigests(edited, images); err != nil {
		t.Fatalf("CheckDigests after the files are gone: %v", err)
	}
	missing := append(images, Image{Name: "ghcr.io/acme/svc07", Digest: digestF})
	if err := b.CheckDigests(edited, missing); !errors.Is(err, ErrRender) {
		t.Fatalf("a digest the edit lacks: %v, want the full render's ErrRender", err)
	}
}
