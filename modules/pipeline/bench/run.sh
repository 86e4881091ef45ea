#!/usr/bin/env bash
# Benchmark of the release pipeline (cmd/ci, modules/pipeline): a full
# release of a service on the embedded defaults, against the service's own
# `go test ./...` and `go build` (the work a release cannot avoid):
#   1. cold: a fresh .ci/state (new registry, key, deployments repository),
#      warm Go build cache; overhead = release / (go test + go build) - 1,
#      goal < 20%;
#   2. no change: the same release again; goal < 1 s.
# Both sides run the tests for real (GOFLAGS=-count=1: no test result
# cache) with GOWORK=off, as the release's Test step does; the go build
# uses the flags of the daemonless build (modules/oci/build). The release
# runs a built ci binary, so `go run`'s compile and link of the tool are
# not counted (they are printed apart).
# Usage: modules/pipeline/bench/run.sh [service] (default scheduler-worker);
# RUNS=n repeats the no-change release (default 3). Run it beside a
# PostgreSQL (scripts/with-postgres.sh) so that the service's database
# tests run rather than skip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$repo"
export GOTOOLCHAIN=local
service=${1:-scheduler-worker}
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "machine: $(nproc) cores, $(uname -m), $(go env GOVERSION), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The tool, built once (what `go run ./cmd/ci` costs on top is printed).
t=$(now)
go build -o "$work/ci" ./cmd/ci
echo "build of cmd/ci (not counted): $(since "$t")s"

# The fixture: the committed services, deployments tree and ferry.yaml in
# a fresh git repository, so the shared work tree's state does not count.
mkdir "$work/repo"
git archive HEAD -- services deployments ferry.yaml | tar -x -C "$work/repo"
(
	cd "$work/repo"
	git init -q -b main
	git add -A
	git -c user.name=bench -c user.email=bench@localhost commit -q -m fixture
)
svcdir=services/$service
main=$(awk '/^    main:/ { print $2 }' "$work/repo/$svcdir/service.yaml")
export GOFLAGS=-count=1

gotest() { (cd "$work/repo/$svcdir" && GOWORK=off go test ./... >/dev/null); }
gobuild() {
	(cd "$work/repo/$svcdir" && GOWORK=off CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid=" -o "$work/bin" "$main")
}

# Warm the build cache for both sides, then the baseline.
gotest
gobuild
t=$(now); gotest; test_s=$(since "$t")
t=$(now); gobuild; build_s=$(since "$t")
base=$(awk -v a="$test_s" -v b="$build_s" 'BEGIN { printf "%.2f", a + b }')
echo "$service go test ./...: ${test_s}s, go build: ${build_s}s, together ${base}s"

release() { (cd "$work/repo" && "$work/ci" release --service "$service" --output json >"$work/out.json" 2>"$work/err.txt"); }

t=$(now)
release || { cat "$work/err.txt" >&2; exit 1; }
cold=$(since "$t")
awk -v r="$cold" -v b="$base" 'BEGIN { printf "cold release: %.2fs; overhead beyond go test + go build: %.2fs = %.0f%% (goal < 20%%)\n", r, r - b, (r - b) / b * 100 }'
sed 's/^/  /' "$work/err.txt"

best=""
for i in $(seq "$runs"); do
	t=$(now)
	release || { cat "$work/err.txt" >&2; exit 1; }
	n=$(since "$t")
	echo "no-change release $i: ${n}s"
	best=$(awk -v a="$n" -v b="${best:-$n}" 'BEGIN { print (a < b ? a : b) }')
done
awk -v n="$best" 'BEGIN { printf "no-change release: best %.2fs (goal < 1s)\n", n }'
sed 's/^/  /' "$work/err.txt"
