#!/usr/bin/env bash
# Benchmarks of modules/oci, printed with their ratios:
#   1. cold build+push of a Go service: ferry's daemonless build vs `ko build`
#      v0.19.1 (same package, same embedded registry, same base by digest,
#      linux/amd64 + linux/arm64); goal ratio <= 1.0;
#   2. rebuild with no change: ferry's fingerprint hit vs `ko build` again;
#      goal < 0.5 s and >= 10x faster;
#   3. fingerprints of a generated 200-service monorepo; goal < 1 s.
# Usage: modules/oci/bench/run.sh [service module dir [main package]]
# (default: the test service build/testdata/hello, "."), e.g.
#   modules/oci/bench/run.sh ../../services/scheduler-worker ./cmd/scheduler-worker
# (paths relative to modules/oci). Needs ko: .ci/tools.sh ko.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export GOTOOLCHAIN=local
tools=${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}/bin
ko=$(command -v ko || echo "$tools/ko")
[ -x "$ko" ] || { echo "ko not found: run .ci/tools.sh ko" >&2; exit 2; }
dir=${1:-build/testdata/hello}
pkg=${2:-.}
echo "machine: $(nproc) cores, $(uname -m), $(go env GOVERSION), $(date -u +%Y-%m-%dT%H:%MZ)"
go run ./bench -dir "$dir" -package "$pkg" -ko "$ko" -runs "${RUNS:-3}"
go test -run '^$' -bench 'Monorepo200' -benchtime 5x ./fingerprint |
  awk '/^BenchmarkMonorepo200/ { printf "fingerprint 200 services: %.3fs per run (goal < 1s)\n", $3/1e9 }'
