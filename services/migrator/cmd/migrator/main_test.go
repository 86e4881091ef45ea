package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/migrator/internal/migrate"
	"github.com/ferry-ci/ferry/services/migrator/internal/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the real program once with the linker flags
// service.yaml declares, as the Dockerfile does.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "migrator-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "migrator")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.gitSHA=abc123 -X main.buildTS=2026-11-27T00:00:00Z", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func runBinary(t *testing.T, bin string, env ...string) (int, []map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HEALTH_PORT=" + freePort(t)}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running: %v", err)
		}
		code = ee.ExitCode()
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return code, lines, stdout.String() + stderr.String()
}

func TestMigratorBinary(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	u, _ := url.Parse(dbURL)
	password, _ := u.User.Password()
	bin := buildBinary(t)

	for i, wantApplied := range []float64{2, 0} {
		code, lines, all := runBinary(t, bin, "DATABASE_URL="+dbURL)
		if code != 0 {
			t.Fatalf("run %d exited %d:\n%s", i+1, code, all)
		}
		last := lines[len(lines)-1]
		if last["msg"] != "schema current" || last["applied"] != wantApplied || last["version"] != float64(2) {
			t.Fatalf("run %d last line = %v, want schema current with %v applied at version 2", i+1, last, wantApplied)
		}
		if lines[0]["sha"] != "abc123" || lines[0]["build_ts"] != "2026-11-27T00:00:00Z" {
			t.Fatalf("start line = %v, want the linker-set sha and build time", lines[0])
		}
		if strings.Contains(all, password) {
			t.Fatalf("run %d output contains the database password", i+1)
		}
	}
}

func TestMigratorBinaryBadEnv(t *testing.T) {
	bin := buildBinary(t)
	start := time.Now()
	code, lines, all := runBinary(t, bin, "HEALTH_PORT=nope", "LOG_LEVEL=shout", "MIGRATE_TIMEOUT=soon")
	t.Logf("measured: exit on bad env after %s", time.Since(start).Round(time.Millisecond))
	if code == 0 || len(lines) != 1 {
		t.Fatalf("exit %d with %d lines, want non-zero and one line:\n%s", code, len(lines), all)
	}
	for _, name := range []string{"DATABASE_URL", "HEALTH_PORT", "LOG_LEVEL", "MIGRATE_TIMEOUT"} {
		if !strings.Contains(all, name) {
			t.Errorf("error line does not name %s: %s", name, all)
		}
	}
	for _, v := range []string{"nope", "shout", "soon"} {
		if strings.Contains(all, v) {
			t.Errorf("error line echoes the value %q: %s", v, all)
		}
	}
}

func TestMigratorBinaryGivesUpOnUnreachableDatabase(t *testing.T) {
	bin := buildBinary(t)
	code, lines, all := runBinary(t, bin, "DATABASE_URL=postgres://u:hunter2-pass@127.0.0.1:1/x", "MIGRATE_TIMEOUT=1500ms")
	if code == 0 {
		t.Fatalf("exit 0 with no database:\n%s", all)
	}
	retries := 0
	for _, l := range lines {
		if l["msg"] == "database unreachable, retrying" {
			retries++
		}
	}
	if retries < 2 {
		t.Fatalf("%d retries logged, want at least 2:\n%s", retries, all)
	}
	if strings.Contains(all, "hunter2-pass") {
		t.Fatalf("output contains the password:\n%s", all)
	}
}

// TestMigratorBinaryServesHealthWhileWaiting: blocked on another
// migrator's lock, the job is alive, not ready, and says what it is.
func TestMigratorBinaryServesHealthWhileWaiting(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	holder := pgtest.Connect(t, dbURL)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", migrate.DefaultLockKey); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"DATABASE_URL=" + dbURL, "HEALTH_PORT=" + port, "IMAGE_DIGEST=sha256:job"}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + port + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, _ := get("/livez"); c == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("livez never answered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The migrator may still be connecting: unlock only once the server
	// shows its session queued behind the holder's lock.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := holder.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the migrator never queued for the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c, _ := get("/readyz"); c != 503 {
		t.Fatalf("readyz while waiting for the lock = %d, want 503", c)
	}
	c, body := get("/version")
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); c != 200 || err != nil || len(v) != 4 ||
		v["sha"] != "abc123" || v["service"] != "migrator" || v["buildTs"] != "2026-11-27T00:00:00Z" || v["imageDigest"] != "sha256:job" {
		t.Fatalf("/version = %d %q", c, body)
	}
	var held bool
	if err := holder.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", migrate.DefaultLockKey).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("migrator after the lock was released: %v\n%s", err, out.String())
	}
	if !held {
		// The holder's session lost its lock before the unlock: the
		// premise of the test, not the migrator, failed. Name it plainly.
		t.Fatalf("the test's own lock holder no longer held the lock when it unlocked; migrator log:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "waiting for migration lock") {
		t.Fatalf("the log does not say it waited (the holder did hold the lock):\n%s", out.String())
	}
}
