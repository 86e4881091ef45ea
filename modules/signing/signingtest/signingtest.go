// Package signingtest starts the real servers signing tests push to and
// sign in: the pinned distribution registry on loopback, optionally with
// htpasswd authentication. A missing tool skips the test, or fails it when
// CI is set. Only tests and test-support packages import it.
package signingtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Tool returns the pinned tool from PATH or $FERRY_TOOLS_DIR/bin (default
// $HOME/.cache/ferry/tools/bin); without it the test fails when CI is set,
// else it is skipped.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dir := os.Getenv("FERRY_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "ferry", "tools")
		}
	}
	p := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run .ci/tools.sh %s", name, name)
	}
	t.Skipf("%s not found: run .ci/tools.sh %s", name, name)
	return ""
}

// RegistryOption changes how StartRegistry configures the registry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	user, password string
	delete         bool
}

// WithBasicAuth makes the registry require user and password (htpasswd
// authentication, a bcrypt hash in a temporary file). An empty user
// leaves the registry open.
func WithBasicAuth(user, password string) RegistryOption {
	return func(c *registryConfig) { c.user, c.password = user, password }
}

// WithDelete lets clients delete manifests and blobs.
func WithDelete() RegistryOption {
	return func(c *registryConfig) { c.delete = true }
}

// StartRegistry runs the pinned distribution registry (v3.1.2) over plain
// HTTP on a loopback port, with filesystem storage in a temporary folder,
// until the test ends. It returns the registry's host:port once /v2/
// answers.
func StartRegistry(t testing.TB, opts ...RegistryOption) string {
	t.Helper()
	var rc registryConfig
	for _, o := range opts {
		o(&rc)
	}
	bin := Tool(t, "registry")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	auth, del := "", ""
	if rc.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(rc.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(rc.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", htpasswd)
	}
	if rc.delete {
		del = "  delete:\n    enabled: true\n"
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
%shttp:
  addr: %s
%s`, filepath.Join(dir, "data"), del, addr, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
	cmd.Env = []string{"HOME=" + dir, "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry did not start on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
