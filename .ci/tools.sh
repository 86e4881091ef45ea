#!/usr/bin/env bash
# Installs the pinned peer tools the tests and benchmarks drive, each built
# once from the Go module proxy into a cache folder keyed by name and version,
# and skipped when already there. Usage: .ci/tools.sh [tool ...] (default:
# temporal). Prints nothing but progress on stderr.
#
# Cache: $FERRY_TOOLS_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools).
# Each tool lands in $FERRY_TOOLS_DIR/<name>@<version>/<name>; bin/<name> links
# to the pinned version, so putting $FERRY_TOOLS_DIR/bin on PATH is enough.
# $FERRY_TOOLS_JOBS builds run at once (default 2: one build rarely keeps
# two cores busy through its link steps).
set -euo pipefail

TOOLS_DIR=${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}
JOBS=${FERRY_TOOLS_JOBS:-2}
mkdir -p "$TOOLS_DIR/bin"

# name -> version and package. Most install with `go install`; the ones in
# FROM_MODULE_DIR carry replace directives, which `go install` refuses.
declare -A PKG=(
  [temporal]="v1.5.1 github.com/temporalio/cli/cmd/temporal"
  [crane]="v0.22.1 github.com/google/go-containerregistry/cmd/crane"
  [cosign]="v3.1.3 github.com/sigstore/cosign/v3/cmd/cosign"
  [ko]="v0.19.1 github.com/google/ko"
  [registry]="v3.1.2 github.com/distribution/distribution/v3/cmd/registry"
  [actionlint]="v1.7.12 github.com/rhysd/actionlint/cmd/actionlint"
  [sops]="v3.13.3 github.com/getsops/sops/v3/cmd/sops"
  [staticcheck]="v0.8.2 honnef.co/go/tools/cmd/staticcheck"
  [gitea]="v1.26.0 code.gitea.io/gitea"
  [kustomize]="v5.8.2 sigs.k8s.io/kustomize/kustomize/v5"
  [tofu]="v1.12.6 github.com/opentofu/opentofu"
)

# name -> how to build inside a writable copy of the module folder:
# "<main package> <cgo 0/1> <tags, comma-separated> <ldflags, | for space> <folders kept beside the binary>"
# ("-" for none).
# gitea: sqlite needs cgo; a server copies options/ and templates/ into its
# work path (no bindata). tofu: replaces hcl/v2 with its fork.
declare -A FROM_MODULE_DIR=(
  [gitea]=". 1 sqlite,sqlite_unlock_notify - options,templates"
  [tofu]="./cmd/tofu 0 - -X|github.com/opentofu/opentofu/version.dev=no -"
)

log() { printf 'tools: %s\n' "$*" >&2; }

# build_into NAME PKG VERSION DIR: puts the binary (and kept folders) in DIR.
build_into() {
  local name=$1 pkg=$2 version=$3 out=$4
  if [ -z "${FROM_MODULE_DIR[$name]:-}" ]; then
    GOBIN="$out" GOFLAGS=-mod=mod GOWORK=off go install "$pkg@$version"
    return
  fi
  local main cgo tags ldflags keep src
  read -r main cgo tags ldflags keep <<<"${FROM_MODULE_DIR[$name]}"
  [ "$tags" = - ] && tags=
  [ "$ldflags" = - ] && ldflags=
  src=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "$pkg@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || return 1
  cp -r "$src" "$out/src" && chmod -R u+w "$out/src"
  (cd "$out/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=$cgo \
    go build -tags "${tags//,/ }" -ldflags "${ldflags//|/ }" -o "$out/$name" "$main") || return 1
  if [ "$keep" != - ]; then
    local k
    for k in ${keep//,/ }; do mv "$out/src/$k" "$out/"; done
  fi
  rm -rf "$out/src"
}

install_tool() {
  local name=$1 version pkg
  read -r version pkg <<<"${PKG[$name]}"
  local dest="$TOOLS_DIR/$name@$version"
  # One build per tool at a time: a second caller waits, then finds it built.
  exec {lock}>"$TOOLS_DIR/.$name@$version.lock"
  flock "$lock"
  if [ ! -x "$dest/$name" ]; then
    log "building $name $version (cold: minutes)"
    local start=$SECONDS tmp="$dest.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! build_into "$name" "$pkg" "$version" "$tmp"; then
      rm -rf "$tmp"
      log "building $name $version failed"
      return 1
    fi
    rm -rf "$dest"
    mv "$tmp" "$dest"
    log "built $name $version in $((SECONDS - start))s"
  fi
  ln -sfn "$dest/$name" "$TOOLS_DIR/bin/$name"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(temporal)
for t in "${tools[@]}"; do
  if [ -z "${PKG[$t]:-}" ]; then
    log "unknown tool $t (known: ${!PKG[*]})"
    exit 2
  fi
done

status=$(mktemp -d)
trap 'rm -rf "$status"' EXIT
for t in "${tools[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  (install_tool "$t" || touch "$status/$t") &
done
wait
if [ -n "$(ls "$status")" ]; then
  log "failed: $(ls "$status" | tr '\n' ' ')"
  exit 1
fi
