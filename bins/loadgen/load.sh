#!/usr/bin/env bash
# Measures coursebridge-ingest with coursebridge-loadgen (numbers for docs/PERFORMANCE.md).
#   bash bins/loadgen/load.sh sqlite
#   bash bins/loadgen/load.sh postgres    # starts a throwaway cluster with .ci/postgres.sh
# Builds in release, prepares a database (1,000 learners, one course), starts the
# server on 127.0.0.1:18080, runs single-statement POSTs at 32 and 64 connections
# and batches of 100 at 4 and 8 connections, 10 s each, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
ENGINE="${1:-sqlite}"
SECONDS_EACH="${SECONDS_EACH:-10}"
cargo build --release -q -p coursebridge-ingest -p coursebridge-loadgen
. bins/loadgen/lib.sh
WORK=$(mktemp -d)
case "$ENGINE" in
sqlite) DB="$WORK/load.db" ;;
postgres)
    ADMIN=$(bash .ci/postgres.sh start)
    NAME="cb_load_$$"
    psql "$ADMIN" -qc "CREATE DATABASE $NAME" >/dev/null
    DB="${ADMIN%/*}/$NAME"
    ;;
*) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac
SECRET=$(loadgen_setup "$DB")
SERVER=
trap '[ -n "$SERVER" ] && { kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; }; rm -rf "$WORK"' EXIT
start_server "$DB" 18080 "$WORK/server.log"
run() { "$BIN/coursebridge-loadgen" run --url http://127.0.0.1:18080 --client-id wh_load --secret="$SECRET" --seconds "$SECONDS_EACH" "$@"; }
echo "engine: $ENGINE"
# A fixed CPU-bound probe: the VM's speed varies between hours, and the
# numbers below are only comparable between runs whose probes are close.
# It sees the processor only: an hour with a fast probe can still be slow for
# the writer (memory, disk), which `cargo bench -p coursebridge-loadgen
# --bench write_path` measures directly (docs/PERFORMANCE.md).
python3 -c 'import time
t = time.perf_counter()
s = 0
for i in range(10**7): s += i
print("cpu probe: %.2f s" % (time.perf_counter() - t))'
run --concurrency 32
run --concurrency 64
run --concurrency 4 --batch 100
run --concurrency 8 --batch 100
