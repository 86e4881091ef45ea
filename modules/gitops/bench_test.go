package gitops

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/gitops/internal/deploytree"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// benchPromoter is a promoter over a fresh n-service deployments repository.
func benchPromoter(b *testing.B, n int, opts ...Option) (*Promoter, *FakeRegistry, *FakeVerifier) {
	seed := b.TempDir()
	gittest.WriteDeployments(b, seed, n)
	bare := gittest.NewBare(b, seed)
	lf, err := local.New(bare)
	if err != nil {
		b.Fatal(err)
	}
	reg, ver := &FakeRegistry{}, &FakeVerifier{}
	p, err := New(bare, lf, append([]Option{WithDigestChecker(reg), WithSignatureVerifier(ver), WithRetry(3, 10*time.Millisecond)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return p, reg, ver
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

func benchmarkPromote(b *testing.B, services, promoted int, plan bool, opts ...Option) {
	p, reg, ver := benchPromoter(b, services, opts...)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		req := Request{Env: "staging", Batch: "bench", Images: benchImages(reg, ver, promoted, i)}
		b.StartTimer()
		run := p.Promote
		if plan {
			run = p.Plan
		}
		res, err := run(b.Context(), req)
		if err != nil || res.Action == Noop {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkPromote1 promotes one service of a 50-service overlay in one PR.
func BenchmarkPromote1(b *testing.B) { benchmarkPromote(b, 50, 1, false) }

// BenchmarkPromote50 promotes 50 services in one PR.
func BenchmarkPromote50(b *testing.B) { benchmarkPromote(b, 50, 50, false) }

// BenchmarkPlan200 plans (edit, render check, diff, body) 200 services.
func BenchmarkPlan200(b *testing.B) { benchmarkPromote(b, 200, 200, true) }

// BenchmarkPromote200 plans, edits, commits and pushes 200 services.
func BenchmarkPromote200(b *testing.B) { benchmarkPromote(b, 200, 200, false) }

// BenchmarkPlan200NoRender plans 200 services without kustomize's render.
func BenchmarkPlan200NoRender(b *testing.B) {
	benchmarkPromote(b, 200, 200, true, WithoutRenderCheckUnsafe())
}

// BenchmarkPromote200NoRender edits, commits, pushes and opens the PR for
// 200 services without kustomize's render.
func BenchmarkPromote200NoRender(b *testing.B) {
	benchmarkPromote(b, 200, 200, false, WithoutRenderCheckUnsafe())
}
