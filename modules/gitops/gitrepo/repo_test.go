package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

var bot = Identity{Name: "ferry-bot", Email: "bot@ferry.invalid"}

func cloneMain(t *testing.T, url string, auth Auth) (*Repo, plumbing.Hash) {
	t.Helper()
	r, err := Clone(t.Context(), url, filepath.Join(t.TempDir(), "clone"), "main", auth)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	base, ok, err := r.Fetch(t.Context(), "main")
	if err != nil || !ok {
		t.Fatalf("Fetch main: %v %v", ok, err)
	}
	return r, base
}

func TestCommitAndPushCrossCheckedWithGit(t *testing.T) {
	bare := gittest.NewBare(t, "../testdata/seed")
	r, base := cloneMain(t, bare, Auth{})
	when := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	path := "deployments/overlays/staging/kustomization.yaml"
	old, err := r.ReadFile(base, path)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte(strings.Replace(string(old), "staging-0000001-api", "staging-0000002-api", 1))
	h, err := r.CommitFiles(base, map[string][]byte{path: edited}, "promote api\n\nbody", bot, when)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(t.Context(), h, "promote/staging/api", plumbing.ZeroHash); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/promote/staging/api"); got != h.String() {
		t.Fatalf("remote branch at %s, want %s", got, h)
	}
	log := gittest.Git(t, bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s|%P|%cI", "promote/staging/api")
	want := "ferry-bot <bot@ferry.invalid>|ferry-bot <bot@ferry.invalid>|promote api|" + base.String() + "|2026-11-27T08:00:00+00:00"
	if log != want {
		t.Fatalf("git log:\n got %s\nwant %s", log, want)
	}
	gittest.Git(t, bare, "fsck", "--strict", "--no-dangling") // trees built without a worktree are well-formed
	if ls := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "promote/staging/api"); ls != gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main") {
		t.Fatalf("file list changed:\n%s", ls)
	}
	diff := gittest.Git(t, bare, "diff", "--stat", "main", "promote/staging/api")
	if !strings.Contains(diff, "1 file changed, 1 insertion(+), 1 deletion(-)") {
		t.Fatalf("git diff --stat: %s", diff)
	}

	// A second writer's lease on the old head is now stale.
	r2, base2 := cloneMain(t, bare, Auth{})
	h2, err := r2.CommitFiles(base2, map[string][]byte{path: []byte(strings.Replace(string(old), "0000001-web", "0000002-web", 1)), "deployments/new/dir/file.txt": []byte("new\n")}, "promote web", bot, when)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Push(t.Context(), h2, "promote/staging/api", plumbing.ZeroHash); !errors.Is(err, ErrStale) {
		t.Fatalf("push of a rival new branch: %v, want ErrStale", err)
	}
	if err := r2.Push(t.Context(), h2, "promote/staging/api", base2); !errors.Is(err, ErrStale) {
		t.Fatalf("push with a wrong lease: %v, want ErrStale", err)
	}
	if err := r2.Push(t.Context(), h2, "promote/staging/api", h); err != nil {
		t.Fatalf("push with the right lease: %v", err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "promote/staging/api"); got != h2.String() {
		t.Fatalf("branch at %s, want %s", got, h2)
	}
	if err := r2.Delete(t.Context(), "promote/staging/api", h); !errors.Is(err, ErrStale) {
		t.Fatalf("delete with a wrong lease: %v, want ErrStale", err)
	}
	if err := r2.Delete(t.Context(), "promote/staging/api", h2); err != nil {
		t.Fatal(err)
	}
	if _, err := gittest.GitErr(bare, "rev-parse", "--verify", "promote/staging/api"); err == nil {
		t.Fatal("branch still there after delete")
	}
}

func TestHTTPSTokenAuth(t *testing.T) {
	bare := gittest.NewBare(t, "../testdata/seed")
	srv := gittest.Serve(t, filepath.Dir(bare), "s3cret-token")
	url := srv.URL + "/" + filepath.Base(bare)
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "right token", token: "s3cret-token"},
		{name: "wrong token", token: "nope", wantErr: ErrAuth},
		{name: "no token", wantErr: ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Clone(t.Context(), url, filepath.Join(t.TempDir(), "c"), "main", Auth{Token: tt.token})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Clone: %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "nope") {
				t.Fatal("error leaks the token")
			}
		})
	}
}

// TestNetworkFailureMidPushLeavesRemoteUnchanged cuts the TCP connection
// of a push (a proxy in front of git http-backend) inside the ref commands
// and inside the pack: a retryable ErrNetwork, and the bare repository is
// byte for byte as before; the same push then succeeds.
func TestNetworkFailureMidPushLeavesRemoteUnchanged(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after int64
	}{
		{name: "inside the ref commands", after: 30},
		{name: "inside the pack", after: 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bare := gittest.NewBare(t, "../testdata/seed")
			srv := gittest.Serve(t, filepath.Dir(bare), "tok")
			proxy := gittest.NewCutProxy(t, srv.URL)
			r, base := cloneMain(t, proxy.URL+"/"+filepath.Base(bare), Auth{Token: "tok"})
			before, files := gittest.Snapshot(t, bare), gittest.Files(t, bare)
			h, err := r.CommitFiles(base, map[string][]byte{"deployments/x.txt": []byte(strings.Repeat("x", 4096))}, "x", bot, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			proxy.CutPushesAfter(tt.after)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err = r.Push(ctx, h, "promote/staging/api", plumbing.ZeroHash)
			if !errors.Is(err, ErrNetwork) || !Retryable(err) || proxy.Cuts.Load() != 1 {
				t.Fatalf("Push: %v (%d cuts), want retryable ErrNetwork", err, proxy.Cuts.Load())
			}
			if strings.Contains(err.Error(), "tok") {
				t.Fatal("error leaks the token")
			}
			if after := gittest.Snapshot(t, bare); after != before {
				t.Fatalf("refs changed:\n%s\n->\n%s", before, after)
			}
			if after := gittest.Files(t, bare); after != files {
				t.Fatalf("files changed:\n%s\n->\n%s", files, after)
			}
			proxy.CutPushesAfter(0)
			if err := r.Push(ctx, h, "promote/staging/api", plumbing.ZeroHash); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := gittest.Git(t, bare, "rev-parse", "promote/staging/api"); got != h.String() {
				t.Fatalf("branch at %s, want %s", got, h)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	bare := gittest.NewBare(t, "../testdata/seed")
	r, base := cloneMain(t, bare, Auth{})
	if _, err := r.ReadFile(base, "deployments/overlays/qa/kustomization.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile: %v", err)
	}
	if ok, err := r.DirExists(base, "deployments/overlays/staging"); !ok || err != nil {
		t.Fatalf("DirExists staging: %v %v", ok, err)
	}
	if ok, _ := r.DirExists(base, "deployments/overlays/qa"); ok {
		t.Fatal("DirExists qa")
	}
}
