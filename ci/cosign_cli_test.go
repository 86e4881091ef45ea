package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/ci/internal/policy"
)

// The registry's only user: htpasswdLine is the bcrypt (cost 4) hash of
// registryTestPassword.
const (
	registryTestUser     = "ferry"
	registryTestPassword = "registry-test-password"
	htpasswdLine         = "ferry:$2b$04$1bCoK6Av7POBj1G3kUIQVOTXdtylrm2MvEfV7VPvuF/q3ubdMslI."
)

// findTool returns the pinned tool from PATH or the tools cache; without it
// the test fails in CI and skips elsewhere.
func findTool(t testing.TB, tool string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	dir := os.Getenv("FERRY_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "ferry", "tools")
		}
	}
	p := filepath.Join(dir, "bin", tool)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run .ci/tools.sh %s", tool, tool)
	}
	t.Skipf("%s not found: run .ci/tools.sh %s", tool, tool)
	return ""
}

// startAuthRegistry runs the pinned distribution registry on a loopback
// port with htpasswd authentication and returns its host:port.
func startAuthRegistry(t *testing.T) string {
	t.Helper()
	bin := findTool(t, "registry")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(htpasswdLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nauth:\n  htpasswd:\n    realm: ferry\n    path: %s\n",
		filepath.Join(dir, "data"), addr, htpasswd)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
	cmd.Env = []string{"HOME=" + dir, "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	// Generous: the machine may be starved; this waits for readiness, it
	// asserts no timing.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not start on %s: %v\n%s", addr, err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pushTestImage pushes a one-layer image with crane and returns it pinned
// by digest.
func pushTestImage(t *testing.T, host string) string {
	t.Helper()
	crane := findTool(t, "crane")
	dir := t.TempDir()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	body := []byte("ferry " + t.Name())
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerPath := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(layerPath, layer.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(registryTestUser + ":" + registryTestPassword))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tag := host + "/ferry/app:v1"
	env := []string{"HOME=" + dir, "DOCKER_CONFIG=" + dir}
	run := func(args ...string) string {
		cmd := exec.Command(crane, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("append", "--insecure", "-f", layerPath, "-t", tag)
	digest := run("digest", "--insecure", tag)
	return host + "/ferry/app@" + digest
}

// cosignRun runs the module's cosign wrapper script with args, as the
// signing container does, and returns cosign's combined output.
func cosignRun(t *testing.T, env []string, args []string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", cosignScript, "cosign"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCosignCommandLines runs the exact command lines Sign and Verify give
// cosign, through the same credential wrapper, with the real cosign CLI
// against a real registry that requires a login: the signature lands under
// the tag Sign reports, verifies, and the password reaches cosign only
// through the wrapper's docker config.
func TestCosignCommandLines(t *testing.T) {
	cosign := findTool(t, "cosign")
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	host := startAuthRegistry(t)
	ref := pushTestImage(t, host)

	home := t.TempDir()
	base := []string{"HOME=" + home, "PATH=" + filepath.Dir(cosign) + ":/usr/bin:/bin", "TUF_ROOT=" + filepath.Join(home, "tuf"),
		"SIGSTORE_NO_CACHE=1", "COSIGN_PASSWORD=key-password"}
	keys := t.TempDir()
	if out, err := cosignRun(t, base, []string{"generate-key-pair", "--output-key-prefix", filepath.Join(keys, "cosign")}); err != nil {
		t.Fatalf("generating a key pair: %v\n%s", err, out)
	}
	// Each run gets an empty docker config folder, as the tmpfs in the
	// container is: only the wrapper can put a credential there.
	env := func(withPassword bool) []string {
		e := append([]string{"DOCKER_CONFIG=" + t.TempDir()}, base...)
		if withPassword {
			e = append(e, "REGISTRY_HOST="+host, "REGISTRY_USERNAME="+registryTestUser, "REGISTRY_PASSWORD="+registryTestPassword)
		}
		return e
	}

	if out, err := cosignRun(t, env(false), signArgs(filepath.Join(keys, "cosign.key"), ref)); err == nil {
		t.Fatalf("signing without the registry password succeeded; the test registry does not require a login:\n%s", out)
	}
	out, err := cosignRun(t, env(true), signArgs(filepath.Join(keys, "cosign.key"), ref))
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(signArgs("KEY", ref), " "), err, out)
	}
	if strings.Contains(out, registryTestPassword) {
		t.Errorf("cosign's output shows the registry password:\n%s", out)
	}

	sigTag, err := policy.SignatureTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	verify := verifyArgs(filepath.Join(keys, "cosign.pub"), verifyOpts{}, ref)
	out, err = cosignRun(t, env(true), verify)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(verify, " "), err, out)
	}
	var payloads []map[string]any
	if i := strings.Index(out, "["); i < 0 || json.Unmarshal([]byte(out[i:strings.LastIndex(out, "]")+1]), &payloads) != nil || len(payloads) != 1 {
		t.Fatalf("cosign verify printed no JSON list of one payload:\n%s", out)
	}
	// cosign triangulate prints where the signature of ref lives, last
	// (after a deprecation notice on stderr).
	out, err = cosignRun(t, env(true), []string{"triangulate", ref})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || lines[len(lines)-1] != sigTag {
		t.Errorf("cosign triangulate = %q, %v; want Sign's tag %q last", out, err, sigTag)
	}
}
