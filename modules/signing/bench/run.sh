#!/usr/bin/env bash
# Benchmarks modules/signing against the real cosign CLI and prints the
# wall-time ratio (goal: ours <= 0.5 of cosign's). Needs cosign on PATH or in
# the tools cache (.ci/tools.sh cosign). Usage: bench/run.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
export PATH="${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}/bin:$PATH"
export GOTOOLCHAIN=local
out=$(go test -run '^$' -bench 'SignVerifyKey|Sign100Concurrent' -benchtime "${n}x" -count 1 .)
echo "$out"
echo "$out" | awk '
  /^BenchmarkSignVerifyKey-/      { ours = $3 }
  /^BenchmarkSignVerifyKeyCold/   { cold = $3 }
  /^BenchmarkCosignSignVerifyKey/ { theirs = $3 }
  /^BenchmarkSign100Concurrent/   { for (i = 1; i <= NF; i++) if ($i == "digests/s") rate = $(i-1) }
  END {
    if (ours == "" || theirs == "") { print "missing results (is cosign installed?)"; exit 1 }
    printf "sign+verify one digest, key loaded once: in-process %.1f ms, cosign %.1f ms, ratio %.3f (goal <= 0.5)\n", ours/1e6, theirs/1e6, ours/theirs
    if (cold != "") printf "sign+verify one digest, cosign.key decrypted each time: in-process %.1f ms, ratio %.3f\n", cold/1e6, cold/theirs
    if (rate != "") printf "100 digests signed concurrently: %s digests/s, none lost\n", rate
  }'
