package signing

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// startDistribution runs the pinned distribution registry (v3.1.2) on a
// loopback port with filesystem storage in a temporary directory, and
// returns its host:port.
func startDistribution(t testing.TB) string {
	t.Helper()
	bin := findTool(t, "registry")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
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

// TestDistributionInterop runs the signing round trips on a real
// distribution registry process, in both directions with the cosign CLI.
func TestDistributionInterop(t *testing.T) {
	host := startDistribution(t)
	c := newCosign(t)
	dir := t.TempDir()
	c.mustRun(t, "pw", "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	keyPath, pubPath := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	priv := loadKey(t, keyPath, "pw")
	s := newKeySigner(t, priv)

	probe := pushRandom(t, host, "probe")
	if resp, err := http.Get("http://" + host + "/v2/probe/referrers/" + probe.DigestStr()); err == nil {
		resp.Body.Close()
		t.Logf("distribution referrers API: HTTP %d (404 means the tag-schema fallback is used)", resp.StatusCode)
	}
	t.Run("ours, cosign verifies", func(t *testing.T) {
		for _, f := range []Format{FormatLegacy, FormatBundle, FormatBoth} {
			d := pushRandom(t, host, "ours")
			if _, err := Sign(ctx, d, s, WithFormat(f)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			c.mustRun(t, "", "verify", "--key", pubPath, "--insecure-ignore-tlog=true", d.String())
			if f == FormatBoth {
				c.mustRun(t, "", "verify", "--key", pubPath, "--insecure-ignore-tlog=true", "--new-bundle-format=false", d.String())
			}
			if _, err := Verify(ctx, d, keyPolicy(t, priv)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	})
	t.Run("cosign signs, we verify", func(t *testing.T) {
		for _, tc := range []struct {
			format Format
			flags  []string
		}{{FormatLegacy, []string{"--new-bundle-format=false"}}, {FormatBundle, nil}} {
			d := pushRandom(t, host, "theirs")
			args := append([]string{"sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "--yes"}, tc.flags...)
			c.mustRun(t, "pw", append(args, d.String())...)
			rep, err := Verify(ctx, d, keyPolicy(t, priv, WithFormats(tc.format)))
			if err != nil {
				t.Fatalf("%s: %v", tc.format, err)
			}
			if rep.Signatures[0].Format != tc.format {
				t.Fatalf("report %+v", rep.Signatures)
			}
		}
	})
	t.Run("concurrent signers", func(t *testing.T) {
		const n = 8
		d := pushRandom(t, host, "shared")
		ks := make([]*ecdsa.PrivateKey, n)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range ks {
			ks[i] = newKey(t)
			wg.Go(func() { _, errs[i] = Sign(ctx, d, newKeySigner(t, ks[i]), WithFormat(FormatBoth)) })
		}
		wg.Wait()
		for i, k := range ks {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			rep, err := Verify(ctx, d, keyPolicy(t, k))
			if err != nil {
				t.Fatalf("signer %d: %v", i, err)
			}
			if len(rep.Signatures) != 2 {
				t.Fatalf("signer %d: %d signatures, want legacy and bundle", i, len(rep.Signatures))
			}
		}
	})
}
