package gitops

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/gitops/internal/deploytree"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// benchPromoter returns a constructor of promoters over one fresh
// n-service deployments repository.
func benchPromoter(b *testing.B, n int, opts ...Option) (func() *Promoter, *FakeRegistry, *FakeVerifier) {
	seed := b.TempDir()
	gittest.WriteDeployments(b, seed, n)
	bare := gittest.NewBare(b, seed)
	lf, err := local.New(bare)
	if err != nil {
		b.Fatal(err)
	}
	reg, ver := &FakeRegistry{}, &FakeVerifier{}
	return func() *Promoter {
		p, err := New(bare, lf, append([]Option{WithDigestChecker(reg), WithSignatureVerifier(ver), WithRetry(3, 10*time.Millisecond)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}, reg, ver
}

func benchImages(reg *FakeRegistry, ver *FakeVerifier, k, round int) []Image {
	ims := make([]Image, k)
	for i := range k {
		name := fmt.Sprintf("ghcr.io/acme/svc%03d", i)
		d := deploytree.Digest(round, i)
		reg.add(name + "@" + d)
		ver.sign(name + "@" + d)
		ims[i] = Image{Service: fmt.Sprintf("svc%03d", i), Name: name, Tag: deploytree.Tag(round, i), Digest: d}
	}
	return ims
}

// benchmarkPromote times Promote (or Plan) of promoted services of an
// overlay of services. A warm Promoter has rendered the overlay's base
// once (a plan of other digests before the timer starts), as a
// long-running bot has; cold means a new Promoter, as a one-shot CLI run
// (with WithRenderCache, one whose cache a previous run filled).
func benchmarkPromote(b *testing.B, services, promoted int, plan, cold bool, opts ...Option) {
	newPromoter, reg, ver := benchPromoter(b, services, opts...)
	p := newPromoter()
	if cold && p.o.renders != nil {
		// A previous run filled the render cache.
		if _, err := newPromoter().Plan(b.Context(), Request{Env: "staging", Batch: "bench", Images: benchImages(reg, ver, promoted, 1<<20)}); err != nil {
			b.Fatal(err)
		}
	}
	if !cold {
		if _, err := p.Plan(b.Context(), Request{Env: "staging", Batch: "bench", Images: benchImages(reg, ver, promoted, 1<<20)}); err != nil {
			b.Fatal(err)
		}
	}
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		req := Request{Env: "staging", Batch: "bench", Images: benchImages(reg, ver, promoted, i)}
		if cold {
			p = newPromoter()
		}
		b.StartTimer()
		run := p.Promote
		if plan {
			run = p.Plan
		}
		before := cpuTime()
		res, err := run(b.Context(), req)
		cpu += cpuTime() - before
		if err != nil || res.Action == Noop {
			b.Fatalf("%+v %v", res, err)
		}
	}
	// CPU time (user + system, this process) is steadier than wall time
	// on a shared machine.
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPromote1 promotes one service of a 50-service overlay in one PR.
func BenchmarkPromote1(b *testing.B) { benchmarkPromote(b, 50, 1, false, false) }

// BenchmarkPromote50 promotes 50 services in one PR.
func BenchmarkPromote50(b *testing.B) { benchmarkPromote(b, 50, 50, false, false) }

// BenchmarkPromote50Cold promotes 50 services with a new Promoter.
func BenchmarkPromote50Cold(b *testing.B) { benchmarkPromote(b, 50, 50, false, true) }

// BenchmarkPlan200 plans (edit, render check, diff, body) 200 services.
func BenchmarkPlan200(b *testing.B) { benchmarkPromote(b, 200, 200, true, false) }

// BenchmarkPromote200 plans, edits, commits and pushes 200 services and
// opens their pull request.
func BenchmarkPromote200(b *testing.B) { benchmarkPromote(b, 200, 200, false, false) }

// BenchmarkPromote200Cold is BenchmarkPromote200 with a new Promoter, which
// renders the 200 bases first.
func BenchmarkPromote200Cold(b *testing.B) { benchmarkPromote(b, 200, 200, false, true) }

// BenchmarkPromote200ColdRenderCache is BenchmarkPromote200Cold with a
// render cache on disk that a previous run filled: a one-shot run loads
// the rendered bases instead of rendering them.
func BenchmarkPromote200ColdRenderCache(b *testing.B) {
	benchmarkPromote(b, 200, 200, false, true, WithRenderCache(b.TempDir()))
}

// BenchmarkPromote1Of200 promotes one service of a 200-service overlay.
func BenchmarkPromote1Of200(b *testing.B) { benchmarkPromote(b, 200, 1, false, false) }

// BenchmarkPlan200NoRender plans 200 services without kustomize's render.
func BenchmarkPlan200NoRender(b *testing.B) {
	benchmarkPromote(b, 200, 200, true, false, WithoutRenderCheckUnsafe())
}

// BenchmarkPromote200NoRender edits, commits, pushes and opens the PR for
// 200 services without kustomize's render.
func BenchmarkPromote200NoRender(b *testing.B) {
	benchmarkPromote(b, 200, 200, false, false, WithoutRenderCheckUnsafe())
}
