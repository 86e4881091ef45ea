// Package gittest makes real git repositories on disk for tests and serves
// them over smart HTTP with git's own http-backend.
package gittest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// Server serves the bare repositories under root over smart HTTP and
// requires basic auth with the given token as password.
type Server struct {
	URL string
	// FailPushes makes receive-pack requests drop the connection midway
	// while it is non-zero (decremented per failure; negative: always).
	FailPushes atomic.Int64
}

// Serve starts an HTTP git server for root.
func Serve(t testing.TB, root, token string) *Server {
	t.Helper()
	execPath := Git(t, root, "--exec-path")
	h := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=bot"},
	}
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			if n := s.FailPushes.Load(); n != 0 {
				s.FailPushes.Add(-1)
				_, _ = io.CopyN(io.Discard, r.Body, 64)
				hj, ok := w.(http.Hijacker)
				if !ok {
					panic("no hijacker")
				}
				conn, _, err := hj.Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// WriteDeployments writes a deployments tree of n services (see
// deploytree.Write) under dir/deployments.
func WriteDeployments(t testing.TB, dir string, n int) {
	t.Helper()
	if err := deploytree.Write(dir, n); err != nil {
		t.Fatal(err)
	}
}
