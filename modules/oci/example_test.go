package oci_test

import (
	"fmt"

	"github.com/ferry-ci/ferry/modules/oci"
)

func ExampleParsePinned() {
	p, err := oci.ParsePinned("ghcr.io/ferry-ci/scheduler-worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	fmt.Println(p.Repository(), p.Digest().Hex()[:12], err)

	_, err = oci.ParsePinned("ghcr.io/ferry-ci/scheduler-worker:latest")
	fmt.Println(err)
	// Output:
	// ghcr.io/ferry-ci/scheduler-worker 0123456789ab <nil>
	// parsing reference "ghcr.io/ferry-ci/scheduler-worker:latest": tag "latest" is mutable and never deployed; pin a digest (repo@sha256:...)
}

func ExampleEnvTag() {
	tag, _ := oci.EnvTag("prod", "abc1234def5678", "scheduler-worker")
	fmt.Println(tag)
	// Output: prod-abc1234-scheduler-worker
}
