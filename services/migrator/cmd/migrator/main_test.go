package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("bad env took %s to exit", took)
	}
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
