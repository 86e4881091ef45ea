#!/bin/sh
# Restores a dump that the postgres-backup CronJob wrote into a database.
# Not part of the kustomization: run it where pg_restore can reach the
# server (docs/deployments.md "Restore" gives the in-cluster steps).
#
# Usage: restore.sh DUMP_FILE
# Connection from the libpq environment (PGHOST, PGPORT, PGUSER,
# PGPASSWORD); PGDATABASE names the target database, which must exist and be
# empty. One transaction: a failed restore leaves the target unchanged.
set -eu
dump=${1:?usage: restore.sh DUMP_FILE}
: "${PGDATABASE:?set PGDATABASE to the (empty) target database}"
pg_restore --list "$dump" >/dev/null
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$PGDATABASE" "$dump"
echo "restored $dump into $PGDATABASE"
