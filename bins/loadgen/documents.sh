#!/usr/bin/env bash
# The State resource under load (numbers for docs/PERFORMANCE.md):
#   bash bins/loadgen/documents.sh
# Builds in release, prepares a SQLite database (1,000 learners), starts the
# server on 127.0.0.1:18081, then for SECONDS_EACH (10) each: State PUTs at
# 32 and 64 connections (every PUT a new document, durable before its 204),
# then GETs of what they wrote at 32 and 64 connections.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${SECONDS_EACH:-10}"
cargo build --release -q -p coursebridge-ingest -p coursebridge-loadgen
. bins/loadgen/lib.sh
WORK=$(mktemp -d)
SECRET=$(loadgen_setup "$WORK/load.db")
SERVER=
trap '[ -n "$SERVER" ] && { kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; }; rm -rf "$WORK"' EXIT
start_server "$WORK/load.db" 18081 "$WORK/server.log"
run() { "$BIN/coursebridge-loadgen" documents --url http://127.0.0.1:18081 --client-id wh_load --secret="$SECRET" --seconds "$SECONDS_EACH" "$@"; }
python3 -c 'import time
t = time.perf_counter()
s = 0
for i in range(10**7): s += i
print("cpu probe: %.2f s" % (time.perf_counter() - t))'
run --mode put --concurrency 32
run --mode put --concurrency 64
run --mode get --concurrency 32
run --mode get --concurrency 64
