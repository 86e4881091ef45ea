// Command bench compares ferry's daemonless build with `ko build` of the
// same Go package, pushing to the same embedded registry, on the same base
// (the built-in base, pushed by digest and given to both) and platforms
// (linux/amd64, linux/arm64). It prints the timings and ratios; run.sh
// drives it. Go's build cache is warmed for both tools first, so "cold"
// means: nothing in the registry yet.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/fingerprint"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

func main() {
	dir := flag.String("dir", "build/testdata/hello", "module folder of the Go service")
	pkg := flag.String("package", ".", "main package, relative to -dir")
	ko := flag.String("ko", "ko", "ko binary (v0.19.1)")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is reported)")
	flag.Parse()
	if err := run(context.Background(), *dir, *pkg, *ko, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func run(ctx context.Context, dir, pkg, ko string, runs int) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	reg, err := embedded.Start(filepath.Join(tmp, "registry"))
	if err != nil {
		return err
	}
	defer reg.Close()
	client, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		return err
	}
	builder, err := build.New(client)
	if err != nil {
		return err
	}

	// The same base for both: the built-in base, by digest.
	var baseRef oci.Pinned
	{
		base, err := build.BuiltinBase("", nil)
		if err != nil {
			return err
		}
		repo, _ := oci.ParseRepository(reg.Host() + "/bases/static")
		res, err := client.Push(ctx, repo, base)
		if err != nil {
			return err
		}
		baseRef = res.Ref
	}

	st, err := dockerfile.Read(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return err
	}
	commit := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	fpIn := fingerprint.Inputs{Root: dir, Files: []string{"."}, Dockerfile: "Dockerfile", GoVersion: goVersion,
		Platforms: []string{"linux/amd64", "linux/arm64"}}
	cfg := func(i int, fp string) build.Config {
		repo, _ := oci.ParseRepository(fmt.Sprintf("%s/ferry/run%d", reg.Host(), i))
		return build.Config{
			Service: "bench", Repository: repo, Dir: dir, Package: pkg, GoWork: "off", CommitSHA: "abc1234", CommitTime: commit,
			LDFlags: build.LDFlags{SHA: "main.sha", BuildTime: "main.buildTs"},
			Base:    baseRef, Image: build.FromDockerfile(st), Fingerprint: fp,
		}
	}
	// An empty ko config, so no .ko.yaml of the host changes ko's behaviour.
	if err := os.WriteFile(filepath.Join(tmp, ".ko.yaml"), []byte("{}\n"), 0o644); err != nil {
		return err
	}
	koRun := func(repo string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, ko, "build", "--bare", "--platform=linux/amd64,linux/arm64", "--tags=bench", pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KO_DOCKER_REPO="+repo, "KO_DEFAULTBASEIMAGE="+baseRef.String(),
			"GOWORK=off", "SOURCE_DATE_EPOCH="+strconv.FormatInt(commit.Unix(), 10), "KO_CONFIG_PATH="+tmp)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("ko build: %v\n%s", err, out)
		}
		return time.Since(start), nil
	}

	// Warm Go's build cache for both tools.
	if _, err := builder.Build(ctx, cfg(0, "")); err != nil {
		return err
	}
	if _, err := koRun(reg.Host() + "/ko/warm"); err != nil {
		return err
	}

	var ours, kos, hits, koAgain []time.Duration
	for i := 1; i <= runs; i++ {
		start := time.Now()
		fp, err := fingerprint.Compute(fpIn)
		if err != nil {
			return err
		}
		c := cfg(i, fp.Short())
		if _, err := builder.Build(ctx, c); err != nil {
			return err
		}
		ours = append(ours, time.Since(start))

		d, err := koRun(fmt.Sprintf("%s/ko/run%d", reg.Host(), i))
		if err != nil {
			return err
		}
		kos = append(kos, d)

		start = time.Now()
		fp, err = fingerprint.Compute(fpIn)
		if err != nil {
			return err
		}
		res, err := builder.Build(ctx, cfg(i, fp.Short()))
		if err != nil {
			return err
		}
		if !res.Skipped {
			return fmt.Errorf("rebuild %d was not a fingerprint hit", i)
		}
		hits = append(hits, time.Since(start))

		d, err = koRun(fmt.Sprintf("%s/ko/run%d", reg.Host(), i))
		if err != nil {
			return err
		}
		koAgain = append(koAgain, d)
	}
	o, k, h, ka := median(ours), median(kos), median(hits), median(koAgain)
	fmt.Printf("package: %s %s (platforms linux/amd64,linux/arm64; base %s; %d runs, medians)\n", dir, pkg, baseRef.Digest(), runs)
	fmt.Printf("cold build+push:   ferry %8.3fs   ko %8.3fs   ratio ferry/ko %.2f (goal <= 1.0)\n", o.Seconds(), k.Seconds(), o.Seconds()/k.Seconds())
	fmt.Printf("rebuild, no change: ferry %8.3fs   ko %8.3fs   ko/ferry %.0fx (goal < 0.5s and >= 10x)\n", h.Seconds(), ka.Seconds(), ka.Seconds()/h.Seconds())
	return nil
}
