// Package pgtest gives each test its own PostgreSQL database, created from
// the superuser URL in FERRY_TEST_DATABASE_URL (scripts/with-postgres.sh sets
// it) and dropped when the test ends, with the worker's schema applied by the
// real migrator program (services/migrator), built once per test binary.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable holding the superuser URL.
const EnvVar = "FERRY_TEST_DATABASE_URL"

// AdminURL returns the superuser URL, or stops the test: Fatal in CI (CI
// non-empty), Skip elsewhere.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is unset: run the tests under scripts/with-postgres.sh", EnvVar)
		}
		t.Skipf("%s is unset: run the tests under scripts/with-postgres.sh", EnvVar)
	}
	return u
}

// NewDatabase creates an empty database and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dropping database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Connect opens a connection to url closed at the end of the test.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Build compiles the main package at dir (relative to this service's module
// root, e.g. "./cmd/scheduler-worker", or "../migrator/cmd/migrator") with
// the linker flags service.yaml declares, once per test binary per name.
func Build(t testing.TB, dir, name string) string {
	t.Helper()
	buildOnce.Do(func() { buildDir, buildErr = os.MkdirTemp("", "ferry-sw-bin") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	bin := filepath.Join(buildDir, name)
	mu.Lock()
	defer mu.Unlock()
	if built[bin] {
		return bin
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Build inside the module that holds dir, so a sibling service (the
	// migrator) builds the same with or without the workspace (GOWORK=off).
	modDir, pkg, err := owningModule(filepath.Join(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-ldflags", "-X main.gitSHA=test-sha -X main.buildTS=2026-11-27T00:00:00Z", "-o", bin, pkg)
	cmd.Dir = modDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", dir, err, out)
	}
	built[bin] = true
	return bin
}

// moduleRoot is the folder of this service's go.mod, the nearest one above
// the test's working directory (its package folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, _, err := owningModule(dir)
	if err != nil {
		return "", err
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.Contains(string(b), "module github.com/ferry-ci/ferry/services/scheduler-worker\n") {
		return "", errors.New("finding the scheduler-worker module root: the nearest go.mod is not scheduler-worker's")
	}
	return root, nil
}

// owningModule returns the folder of the go.mod nearest above pkgDir and
// pkgDir as a ./-relative package path inside it.
func owningModule(pkgDir string) (modDir, pkg string, err error) {
	for dir := pkgDir; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, pkgDir)
			if err != nil {
				return "", "", err
			}
			return dir, "./" + filepath.ToSlash(rel), nil
		}
		if filepath.Dir(dir) == dir {
			return "", "", fmt.Errorf("finding the module of %s: no go.mod above it", pkgDir)
		}
	}
}

var (
	mu    sync.Mutex
	built = map[string]bool{}
)

// Cleanup removes the built binaries; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Migrate runs the real migrator against dbURL and fails the test unless it
// exits 0.
func Migrate(t testing.TB, dbURL string) {
	t.Helper()
	bin := Build(t, "../migrator/cmd/migrator", "migrator")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"DATABASE_URL=" + dbURL, "HEALTH_PORT=" + strconv.Itoa(FreePort(t)), "LOG_LEVEL=warn"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the migrator: %v\n%s", err, out)
	}
}

// NewMigratedDatabase is NewDatabase with the schema applied.
func NewMigratedDatabase(t testing.TB) string {
	t.Helper()
	u := NewDatabase(t)
	Migrate(t, u)
	return u
}
