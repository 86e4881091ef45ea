#!/usr/bin/env bash
# Installs the pinned peer tools the tests and benchmarks drive, each built
# once with `go install` into a cache folder keyed by name and version, and
# skipped when already there. Usage: .ci/tools.sh [tool ...] (default: the
# tools `make test` needs). Prints nothing but progress on stderr.
#
# Cache: $FERRY_TOOLS_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools).
# Each tool lands in $FERRY_TOOLS_DIR/<name>@<version>/<name>; bin/<name> links
# to the pinned version, so putting $FERRY_TOOLS_DIR/bin on PATH is enough.
set -euo pipefail

TOOLS_DIR=${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}
mkdir -p "$TOOLS_DIR/bin"

# name version package
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

log() { printf 'tools: %s\n' "$*" >&2; }

install_go_tool() {
  local name=$1 version pkg
  read -r version pkg <<<"${PKG[$name]}"
  local dest="$TOOLS_DIR/$name@$version"
  if [ -x "$dest/$name" ]; then
    ln -sfn "$dest/$name" "$TOOLS_DIR/bin/$name"
    return 0
  fi
  # One build per tool at a time: a second caller waits, then finds it built.
  exec {lock}>"$TOOLS_DIR/.$name@$version.lock"
  flock "$lock"
  if [ -x "$dest/$name" ]; then
    ln -sfn "$dest/$name" "$TOOLS_DIR/bin/$name"
    flock -u "$lock"
    return 0
  fi
  log "building $name $version (cold: minutes)"
  local start=$SECONDS tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! GOBIN="$tmp" GOFLAGS=-mod=mod GOWORK=off go install "$pkg@$version"; then
    rm -rf "$tmp"
    flock -u "$lock"
    log "building $name $version failed"
    return 1
  fi
  rm -rf "$dest"
  mv "$tmp" "$dest"
  ln -sfn "$dest/$name" "$TOOLS_DIR/bin/$name"
  flock -u "$lock"
  log "built $name $version in $((SECONDS - start))s"
}

# gitea carries replace directives, so `go install` refuses it: build it inside a
# writable copy of its module folder, and keep options/ and templates/ beside
# the binary (a server copies them into its work path; it has no bindata).
install_gitea() {
  local version pkg
  read -r version pkg <<<"${PKG[gitea]}"
  local dest="$TOOLS_DIR/gitea@$version"
  if [ -x "$dest/gitea" ]; then
    ln -sfn "$dest/gitea" "$TOOLS_DIR/bin/gitea"
    return 0
  fi
  log "building gitea $version (cold: 15+ minutes)"
  local start=$SECONDS tmp="$dest.tmp.$$" dir
  rm -rf "$tmp"
  mkdir -p "$tmp"
  dir=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "$pkg@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
  if ! (cd "$tmp/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=1 go build \
    -tags 'sqlite sqlite_unlock_notify' -o "$tmp/gitea" .); then
    rm -rf "$tmp"
    log "building gitea $version failed"
    return 1
  fi
  mv "$tmp/src/options" "$tmp/src/templates" "$tmp/"
  rm -rf "$tmp/src" "$dest"
  mv "$tmp" "$dest"
  ln -sfn "$dest/gitea" "$TOOLS_DIR/bin/gitea"
  log "built gitea $version in $((SECONDS - start))s"
}

# opentofu replaces hcl/v2 with its fork, so `go install` refuses it too:
# build ./cmd/tofu inside a writable copy of its module folder.
install_tofu() {
  local version pkg
  read -r version pkg <<<"${PKG[tofu]}"
  local dest="$TOOLS_DIR/tofu@$version"
  if [ -x "$dest/tofu" ]; then
    ln -sfn "$dest/tofu" "$TOOLS_DIR/bin/tofu"
    return 0
  fi
  log "building tofu $version (cold: 6+ minutes)"
  local start=$SECONDS tmp="$dest.tmp.$$" dir
  rm -rf "$tmp"
  mkdir -p "$tmp"
  dir=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "$pkg@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
  if ! (cd "$tmp/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build \
    -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o "$tmp/tofu" ./cmd/tofu); then
    rm -rf "$tmp"
    log "building tofu $version failed"
    return 1
  fi
  rm -rf "$tmp/src" "$dest"
  mv "$tmp" "$dest"
  ln -sfn "$dest/tofu" "$TOOLS_DIR/bin/tofu"
  log "built tofu $version in $((SECONDS - start))s"
}

DEFAULT_TOOLS=(temporal)
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=("${DEFAULT_TOOLS[@]}")
for t in "${tools[@]}"; do
  if [ -z "${PKG[$t]:-}" ]; then
    log "unknown tool $t (known: ${!PKG[*]})"
    exit 2
  fi
  case $t in
  gitea) install_gitea ;;
  tofu) install_tofu ;;
  *) install_go_tool "$t" ;;
  esac
done
