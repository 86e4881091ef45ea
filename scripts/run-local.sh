#!/usr/bin/env bash
# The main job until the release pipeline exists: runs scheduler-worker
# locally, end to end, and shows its health and version. It builds both
# binaries, starts a throwaway PostgreSQL (scripts/with-postgres.sh) and a
# Temporal dev server (the pinned temporal CLI, built by .ci/tools.sh when
# missing), runs the migrator, starts the worker, prints /readyz and
# /version, then stops everything (SIGTERM to the worker, which drains).
# Everything listens on 127.0.0.1 only. Works as root and as a normal user.
# Usage: scripts/run-local.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

if [ -z "${FERRY_RUN_LOCAL_INNER:-}" ]; then
  export FERRY_RUN_LOCAL_INNER=1
  exec scripts/with-postgres.sh scripts/run-local.sh "$@"
fi

say() { printf 'run-local: %s\n' "$*" >&2; }

tools_dir=${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}
temporal=$tools_dir/bin/temporal
if [ ! -x "$temporal" ]; then
  say "temporal CLI missing: building it (cold: about 20 minutes)"
  .ci/tools.sh temporal
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-run-local.XXXXXX")
worker_pid= temporal_pid=
cleanup() {
  local rc=$?
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  [ -n "$temporal_pid" ] && kill -INT "$temporal_pid" 2>/dev/null && wait "$temporal_pid" 2>/dev/null
  if [ "$rc" != 0 ]; then
    for f in "$work"/*.log; do
      [ -s "$f" ] && { say "--- $(basename "$f")"; tail -n 20 "$f" >&2; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a loopback port nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  say "no free port found"
  return 1
}

# http_get PORT PATH: prints "STATUS BODY" (no curl needed).
http_get() {
  local resp
  resp=$(exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 && cat <&3) || { echo "000 unreachable"; return 0; }
  printf '%s %s\n' "$(printf '%s' "$resp" | head -n 1 | awk '{print $2}')" "$(printf '%s' "$resp" | sed '1,/^\r$/d' | tr -d '\r')"
}

# wait_for SECONDS WHAT CMD...: retries CMD every 0.2 s.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

sha=$(git -c safe.directory="$PWD" rev-parse HEAD 2>/dev/null || echo unknown)
ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "building scheduler-worker and migrator at ${sha:0:12}"
for svc in scheduler-worker migrator; do
  (cd "services/$svc" && go build -ldflags "-X main.gitSHA=$sha -X main.buildTS=$ts" -o "$work/$svc" "./cmd/$svc")
done

temporal_port=$(free_port)
say "starting Temporal dev server on 127.0.0.1:$temporal_port"
"$temporal" server start-dev --headless --ip 127.0.0.1 --port "$temporal_port" \
  --log-level error --db-filename "$work/temporal.db" >"$work/temporal.log" 2>&1 &
temporal_pid=$!
wait_for 60 "the Temporal dev server" port_open "$temporal_port"

say "running migrator"
DATABASE_URL=$FERRY_TEST_DATABASE_URL HEALTH_PORT=$(free_port) "$work/migrator" | tee "$work/migrator.log"

health_port=$(free_port)
token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
say "starting scheduler-worker (health on 127.0.0.1:$health_port)"
start=$SECONDS
TEMPORAL_ADDRESS=127.0.0.1:$temporal_port \
  TEMPORAL_NAMESPACE=default \
  TEMPORAL_TASK_QUEUE=scheduled-graph-runs \
  DATABASE_URL=$FERRY_TEST_DATABASE_URL \
  APP_BASE_URL=http://127.0.0.1:9 \
  SCHEDULER_API_TOKEN=$token \
  HEALTH_PORT=$health_port \
  IMAGE_DIGEST=local-build \
  "$work/scheduler-worker" >"$work/worker.log" 2>&1 &
worker_pid=$!
ready() { [ "$(http_get "$health_port" /readyz | cut -d' ' -f1)" = 200 ]; }
wait_for 60 "scheduler-worker /readyz" ready
say "ready after $((SECONDS - start))s"

echo "GET /livez   -> $(http_get "$health_port" /livez)"
echo "GET /readyz  -> $(http_get "$health_port" /readyz)"
echo "GET /version -> $(http_get "$health_port" /version)"

say "stopping scheduler-worker (SIGTERM: drains, then exits)"
kill -TERM "$worker_pid"
rc=0
wait "$worker_pid" || rc=$?
worker_pid=
grep '"drain completed"' "$work/worker.log" >&2 || true
if [ "$rc" != 0 ]; then
  say "scheduler-worker exited $rc"
  exit 1
fi
if grep -qF "$token" "$work/worker.log"; then
  say "the worker's log contains the API token"
  exit 1
fi
kill -INT "$temporal_pid" && wait "$temporal_pid" 2>/dev/null || true
temporal_pid=
say "done: scheduler-worker ran, answered its probes and stopped cleanly"
