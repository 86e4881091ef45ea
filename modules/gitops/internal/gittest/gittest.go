// Package gittest makes real git repositories on disk for tests and serves
// them over smart HTTP with git's own http-backend.
package gittest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/internal/deploytree"
)

// Git runs the git CLI in dir and returns its trimmed stdout.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// GitErr runs the git CLI in dir without failing the test.
func GitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Person", "GIT_AUTHOR_EMAIL=person@example.com",
		"GIT_COMMITTER_NAME=Person", "GIT_COMMITTER_EMAIL=person@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out) + stderr.String()), err
	}
	return strings.TrimSpace(string(out)), nil
}

// NewBare creates a bare repository whose main branch holds one commit of
// the files under seed (copied recursively), and returns its path.
func NewBare(t testing.TB, seed string) string {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "deployments.git")
	work := filepath.Join(root, "seed")
	Git(t, root, "init", "-q", "--bare", "-b", "main", bare)
	Git(t, root, "init", "-q", "-b", "main", work)
	if err := os.CopyFS(work, os.DirFS(seed)); err != nil {
		t.Fatal(err)
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", "seed deployments")
	Git(t, work, "push", "-q", bare, "main")
	Git(t, bare, "config", "http.receivepack", "true")
	return bare
}

// Snapshot describes every ref and object count of a bare repository, to
// prove that a failed operation left it byte-for-byte unchanged.
func Snapshot(t testing.TB, bare string) string {
	t.Helper()
	return Git(t, bare, "for-each-ref", "--format=%(refname) %(objectname)")
}

// Files describes every file of a folder (path, mode and content hash), to
// prove that a failed operation left a repository byte for byte unchanged.
func Files(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v %x\n", rel, info.Mode(), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Server serves the bare repositories under root over smart HTTP.
type Server struct {
	URL string
}

// Serve starts an HTTP git server (git's own http-backend) for root that
// requires basic auth with token as password.
func Serve(t testing.TB, root, token string) *Server {
	t.Helper()
	execPath := Git(t, root, "--exec-path")
	h := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=bot"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		// Buffer the request body, as a front web server does: git
		// http-backend spins forever on a body shorter than its
		// Content-Length (git 2.39), so a cut push must not reach it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.TransferEncoding = nil
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL}
}

// WriteDeployments writes a deployments tree of n services (see
// deploytree.Write) under dir/deployments.
func WriteDeployments(t testing.TB, dir string, n int) {
	t.Helper()
	if err := deploytree.Write(dir, n); err != nil {
		t.Fatal(err)
	}
}
