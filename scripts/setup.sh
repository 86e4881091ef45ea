#!/usr/bin/env bash
# Set-up for a new machine, idempotent and quiet when everything is there:
# Debian packages (as root; otherwise it says what is missing), the container
# runtime configuration podman needs on this kind of VM, and the pinned tools
# given as arguments (see .ci/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# netavark and aardvark-dns: podman networks with service-name DNS (the
# Compose bridge deploy test); only recommended by podman, hence named.
PACKAGES=(postgresql git ca-certificates podman runc netavark aardvark-dns iptables)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# podman with runc; this VM forbids raising rlimits, so containers get the
# limits it already has.
conf=/etc/containers/containers.conf
if [ "$(id -u)" = 0 ] && ! grep -qs '^runtime = "runc"' "$conf"; then
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
fi

if [ $# -gt 0 ]; then
  .ci/tools.sh "$@"
fi
