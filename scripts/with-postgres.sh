#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server on a loopback port, then
# stops the server and removes its data. The command sees
# FERRY_TEST_DATABASE_URL: a superuser URL (password auth over TCP) whose tests
# create their own databases. Usage: scripts/with-postgres.sh CMD [ARG ...]
set -euo pipefail

pgbin=${PGBIN:-}
if [ -z "$pgbin" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "with-postgres: no PostgreSQL server found; install Debian's postgresql (make setup does)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX")
as_owner=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: the server runs as the postgres user.
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pass" >"$dir/pwfile"
chmod 600 "$dir/pwfile"
[ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"

cleanup() {
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }

started=
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  if "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -w -t 30 -l "$dir/server.log" \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off" \
      start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "with-postgres: the server did not start; its log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
fi

echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
export FERRY_TEST_DATABASE_URL="postgres://postgres:$pass@127.0.0.1:$port/postgres?sslmode=disable"
set +e
"$@"
rc=$?
exit $rc
