package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

// tool finds a pinned tool, or skips (fails under CI) when it is missing.
func tool(t *testing.T, name, hint string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "ferry", "tools", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; %s", name, hint)
	}
	t.Skipf("%s not found; %s", name, hint)
	return ""
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

var commitTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const commitSHA = "abc1234def5678abc1234def5678abc1234def56"

// buildHello builds the daemonless image of build/testdata/hello into the
// embedded registry.
func buildHello(t *testing.T, reg *embedded.Registry, platforms []v1.Platform, tags ...string) build.Result {
	t.Helper()
	c, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build.New(c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dockerfile.Read("../build/testdata/hello/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := oci.ParseRepository(reg.Host() + "/ferry/hello")
	res, err := b.Build(context.Background(), build.Config{
		Service: "hello", Repository: repo, Dir: "../build/testdata/hello", GoWork: "off",
		Platforms: platforms, CommitSHA: commitSHA, CommitTime: commitTime,
		LDFlags: build.LDFlags{SHA: "main.sha", BuildTime: "main.buildTs"},
		Image:   build.FromDockerfile(st), Tags: tags,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func startRegistry(t *testing.T) *embedded.Registry {
	t.Helper()
	reg, err := embedded.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func TestCraneReadsWhatWePush(t *testing.T) {
	crane := tool(t, "crane", "run .ci/tools.sh crane")
	reg := startRegistry(t)
	res := buildHello(t, reg, nil, "prod-abc1234-hello")
	tagRef := res.Ref.Repository().String() + ":prod-abc1234-hello"

	if got := run(t, crane, "digest", "--insecure", tagRef); got != res.Ref.Digest().String() {
		t.Errorf("crane digest %s = %s, want %s", tagRef, got, res.Ref.Digest())
	}
	// crane re-hashes every blob and manifest it pulls.
	run(t, crane, "validate", "--insecure", "--remote", res.Ref.String())
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := run(t, crane, "config", "--insecure", "--platform", "linux/"+arch, res.Ref.String())
		var cf v1.ConfigFile
		if err := json.Unmarshal([]byte(cfg), &cf); err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != arch || cf.Config.User != "65532:65532" {
			t.Errorf("crane config linux/%s: arch %s user %s", arch, cf.Architecture, cf.Config.User)
		}
	}
	// Copy with crane into another repository: the digest survives.
	dst := reg.Host() + "/mirror/hello:staging-abc1234-hello"
	run(t, crane, "copy", "--insecure", res.Ref.String(), dst)
	if got := run(t, crane, "digest", "--insecure", dst); got != res.Ref.Digest().String() {
		t.Errorf("digest after crane copy %s, want %s", got, res.Ref.Digest())
	}
	if got := run(t, crane, "ls", "--insecure", res.Ref.Repository().String()); !strings.Contains(got, "prod-abc1234-hello") || !strings.Contains(got, ".sbom") {
		t.Errorf("crane ls = %q, want the env tag and the sbom tag", got)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestPodmanRunsDaemonlessImage is the first run of a ferry-built image as
// a container: podman pulls it by digest from the embedded registry (no
// other pull) and runs it under runc; the service answers its probes as the
// non-root user the Dockerfile declares.
func TestPodmanRunsDaemonlessImage(t *testing.T) {
	podman := tool(t, "podman", "install podman and runc (apt-get install podman runc)")
	reg := startRegistry(t)
	res := buildHello(t, reg, []v1.Platform{{OS: "linux", Architecture: "amd64"}})

	run(t, podman, "pull", "--quiet", "--tls-verify=false", res.Ref.String())
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", res.Ref.String()).Run() })
	port := freePort(t)
	name := "ferry-interop-" + port
	// Explicit nofile and nproc limits: podman's defaults (over a million)
	// exceed the hard limits of small VMs, and runc may not raise them.
	run(t, podman, "run", "--detach", "--rm", "--name", name, "--runtime", "runc",
		"--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--env", "PORT="+port, res.Ref.String())
	t.Cleanup(func() { exec.Command(podman, "rm", "--force", "--time", "1", name).Run() })

	base := "http://127.0.0.1:" + port
	var v struct {
		SHA     string  `json:"sha"`
		BuildTs string  `json:"buildTs"`
		UID     float64 `json:"uid"`
	}
	waitVersion(t, podman, name, base, &v)
	if v.SHA != commitSHA || v.BuildTs != commitTime.Format(time.RFC3339) || v.UID != 65532 {
		t.Errorf("/version = %+v, want the stamped commit running as 65532", v)
	}
	for _, p := range []string{"/livez", "/readyz"} {
		r, err := http.Get(base + p)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", p, r, err)
			continue
		}
		r.Body.Close()
	}
	inspect := run(t, podman, "image", "inspect", "--format", "{{.Digest}}", res.Ref.String())
	if inspect != res.Ref.Digest().String() {
		t.Logf("podman reports digest %s for %s (podman may record the platform manifest)", inspect, res.Ref)
	}
}

// waitVersion polls base/version for up to 30s and decodes the answer into
// v; on failure it shows the container's logs.
func waitVersion(t *testing.T, podman, container, base string, v any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var resp *http.Response
	var err error
	for {
		resp, err = http.Get(base + "/version")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		logs, _ := exec.Command(podman, "logs", container).CombinedOutput()
		t.Fatalf("probing container %s: %v\nlogs: %s", container, err, logs)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s/version: %v", base, err)
	}
}

// testContext ends 30s before the test binary's deadline, so that a slow
// cold compile fails with go build's own error rather than a timeout panic.
func testContext(t *testing.T) context.Context {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		return context.Background()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	t.Cleanup(cancel)
	return ctx
}
