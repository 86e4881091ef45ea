#!/usr/bin/env bash
# Benchmarks promotion against the peer: `kustomize edit set image` run N
# times plus `git commit`, on the same synthetic N-service overlay. Prints
# wall times, their ratio (goal: <= 0.3 at N=50) and the size of each diff
# (goal: ours changes only the values). Needs git and the kustomize CLI
# (.ci/tools.sh kustomize). Usage: modules/gitops/bench/run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
tools=${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}
export PATH="$tools/bin:$PATH"
command -v kustomize >/dev/null || { echo "run .ci/tools.sh kustomize" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/tool" ./bench/tool
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# fresh N-service repository at $work/repo
fresh() {
  rm -rf "$work/repo"
  mkdir -p "$work/repo"
  "$work/tool" gen "$work/repo" 50 && (cd "$work/repo" && git init -q -b main && git add -A && git commit -qm seed)
}

peer() { # N: kustomize edit set image N times + git commit; prints ms
  local n=$1 start i name
  fresh
  start=$(ms)
  (
    cd "$work/repo/deployments/overlays/staging"
    for ((i = 0; i < n; i++)); do
      name=$(printf 'ghcr.io/acme/svc%03d' "$i")
      kustomize edit set image "$name=$name:$(printf 'staging-1-svc%03d' "$i")@$(printf 'sha256:%032x%032x' 2 "$i")"
    done
    git commit -qam "promote $n"
  )
  echo $(( $(ms) - start ))
}

ours_diff() { # N: our editor's diff on the same tree
  fresh
  "$work/tool" edit "$work/repo/deployments/overlays/staging/kustomization.yaml" "$1" 1
  (cd "$work/repo" && git diff --shortstat && git diff | wc -c)
}

peer_diff() {
  fresh
  (
    cd "$work/repo/deployments/overlays/staging"
    for ((i = 0; i < $1; i++)); do
      name=$(printf 'ghcr.io/acme/svc%03d' "$i")
      kustomize edit set image "$name=$name:$(printf 'staging-1-svc%03d' "$i")@$(printf 'sha256:%032x%032x' 2 "$i")"
    done
  )
  (cd "$work/repo" && git diff --shortstat && git diff | wc -c)
}

echo "== ours (go test -bench, $rounds rounds each; full promotion: clone, gates, edit, render check, commit, push, PR)"
go test -run XXX -bench 'BenchmarkPromote(1|50|50Cold|200|200Cold|1Of200|200NoRender)$|BenchmarkPlan200(NoRender)?$' -benchtime "${rounds}x" . | tee "$work/ours.txt" | grep -E '^Benchmark'
for n in 1 50; do
  total=0
  for ((r = 0; r < rounds; r++)); do total=$((total + $(peer "$n"))); done
  peer_ms=$((total / rounds))
  ours_ns=$(awk -v b="BenchmarkPromote$n-" 'index($1, b) == 1 {print $3}' "$work/ours.txt")
  ours_ms=$((${ours_ns%.*} / 1000000))
  echo "N=$n: ours ${ours_ms} ms, kustomize edit x$n + git commit ${peer_ms} ms, ratio $(awk -v a="$ours_ms" -v b="$peer_ms" 'BEGIN { printf "%.2f", a / b }')"
done
for n in 1 50; do
  echo "diff N=$n ours:      $(ours_diff "$n" | tr '\n' ' ') bytes"
  echo "diff N=$n kustomize: $(peer_diff "$n" | tr '\n' ' ') bytes"
done
