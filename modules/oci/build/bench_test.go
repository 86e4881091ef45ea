package build

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBuildPush is a full build and push of the test service (both
// platforms, SBOM) into ggcr's in-process registry, with Go's build cache
// warm after the first iteration.
func BenchmarkBuildPush(b *testing.B) {
	reg, host := newRegistry(b)
	bld, _ := New(reg)
	cfg := helloConfig(b, host)
	i := 0
	for b.Loop() {
		i++
		c := cfg
		c.Fingerprint = fmt.Sprintf("%032x", i)
		if _, err := bld.Build(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuildFingerprintHit is a rebuild with no change: one tag lookup.
func BenchmarkRebuildFingerprintHit(b *testing.B) {
	reg, host := newRegistry(b)
	bld, _ := New(reg)
	cfg := helloConfig(b, host)
	if _, err := bld.Build(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := bld.Build(context.Background(), cfg)
		if err != nil || !res.Skipped {
			b.Fatalf("%+v, %v", res, err)
		}
	}
}
