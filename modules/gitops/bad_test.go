package gitops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// FakeFailingForge is the local forge whose API answers every write with
// an HTTP status, standing for a forge refusing the bot.
type FakeFailingForge struct {
	*local.Forge
	status int
}

func (f *FakeFailingForge) fail() error {
	msg := map[int]string{401: "Bad credentials", 403: "Resource not accessible by integration", 422: "Validation Failed", 500: "Server Error"}[f.status]
	return &forge.StatusError{Method: "POST", URL: "https://forge.invalid/pulls", StatusCode: f.status, Message: msg}
}

func (f *FakeFailingForge) OpenPullRequest(context.Context, forge.NewPullRequest) (*forge.PullRequest, error) {
	return nil, f.fail()
}

type badCase struct {
	Env           string `json:"env"`
	Image         struct{ Service, Name, Tag, Digest string }
	Publish       bool   `json:"publish"`
	Sign          bool   `json:"sign"`
	Overlay       string `json:"overlay"`
	RemoveOverlay bool   `json:"removeOverlay"`
	ForgeStatus   int    `json:"forgeStatus"`
	// CutPushAfter cuts the connection of every push after this many
	// bytes of its request body (a TCP proxy in front of git http-backend).
	CutPushAfter int64  `json:"cutPushAfter"`
	Error        string `json:"error"`
}

// TestBadInputCorpus walks testdata/bad/*.json: each case must fail with
// its error text, leave every ref and the overlay of the deployments
// repository unchanged (every file, when a push was cut), leave no branch
// (the git CLI's ls-remote) and no clone behind.
func TestBadInputCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.json")
	if len(files) == 0 {
		t.Fatal("no bad-input cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var c badCase
			b, err := os.ReadFile(file)
			if err == nil {
				err = json.Unmarshal(b, &c)
			}
			if err != nil {
				t.Fatal(err)
			}
			seed := t.TempDir()
			if err := os.CopyFS(seed, os.DirFS("testdata/seed")); err != nil {
				t.Fatal(err)
			}
			kust := filepath.Join(seed, "deployments/overlays/staging/kustomization.yaml")
			if c.Overlay != "" {
				gittestWrite(t, kust, c.Overlay)
			}
			if c.RemoveOverlay {
				os.Remove(kust)
				gittestWrite(t, filepath.Join(filepath.Dir(kust), "README.md"), "no kustomization yet\n")
			}
			bare := gittest.NewBare(t, seed)
			lf, err := local.New(bare)
			if err != nil {
				t.Fatal(err)
			}
			var fg Forge = lf
			if c.ForgeStatus != 0 {
				fg = &FakeFailingForge{Forge: lf, status: c.ForgeStatus}
			}
			url, auth := bare, gitrepo.Auth{}
			var proxy *gittest.CutProxy
			if c.CutPushAfter > 0 {
				srv := gittest.Serve(t, filepath.Dir(bare), "tok")
				proxy = gittest.NewCutProxy(t, srv.URL)
				proxy.CutPushesAfter(c.CutPushAfter)
				url, auth = proxy.URL+"/"+filepath.Base(bare), gitrepo.Auth{Token: "tok"}
			}
			reg, ver := &FakeRegistry{}, &FakeVerifier{}
			ref := c.Image.Name + "@" + c.Image.Digest
			if c.Publish {
				reg.add(ref)
			}
			if c.Sign {
				ver.sign(ref)
			}
			work := t.TempDir()
			p, err := New(url, fg, WithDigestChecker(reg), WithSignatureVerifier(ver), WithAuth(auth), WithRetry(2, time.Millisecond), WithWorkDir(work))
			if err != nil {
				t.Fatal(err)
			}
			// The local forge keeps its records (and their lock file) beside
			// the repository: let it create them before the snapshot.
			if _, err := lf.List(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
			before, files := gittest.Snapshot(t, bare), gittest.Files(t, bare)
			overlayBefore, _ := gittest.GitErr(bare, "show", "main:deployments/overlays/staging/kustomization.yaml")
			_, err = p.Promote(t.Context(), Request{Env: c.Env, Images: []Image{{Service: c.Image.Service, Name: c.Image.Name, Tag: c.Image.Tag, Digest: c.Image.Digest}}})
			if err == nil || !strings.Contains(err.Error(), c.Error) {
				t.Fatalf("error:\n got %v\nwant …%s…", err, c.Error)
			}
			if strings.Contains(err.Error(), "tok") && proxy != nil {
				t.Fatal("error leaks the token")
			}
			if proxy != nil && proxy.Cuts.Load() == 0 {
				t.Fatal("no push was cut: the pack is shorter than cutPushAfter")
			}
			// Nothing reached the repository: not even an object.
			if after := gittest.Files(t, bare); proxy != nil && after != files {
				t.Fatalf("files changed:\n%s\n->\n%s", files, after)
			}
			if after := gittest.Snapshot(t, bare); after != before {
				t.Fatalf("refs changed:\n%s\n->\n%s", before, after)
			}
			if o, _ := gittest.GitErr(bare, "show", "main:deployments/overlays/staging/kustomization.yaml"); o != overlayBefore {
				t.Fatal("overlay changed")
			}
			if prs, _ := lf.List(t.Context(), ""); len(prs) != 0 {
				t.Fatalf("pull request left: %+v", prs)
			}
			if ls := gittest.Git(t, bare, "ls-remote", "--heads", bare); strings.Contains(ls, "promote/") {
				t.Fatalf("stray branch:\n%s", ls)
			}
			if left, _ := os.ReadDir(work); len(left) != 0 {
				t.Fatalf("the clone was left behind: %v", left)
			}
		})
	}
}

func gittestWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
