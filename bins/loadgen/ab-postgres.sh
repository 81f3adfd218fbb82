#!/usr/bin/env bash
# Compares two builds of coursebridge-ingest on PostgreSQL, interleaved: for
# each round and build, a fresh database on the throwaway cluster of
# .ci/postgres.sh (1,000 learners, one course) and a fresh server, then 10 s
# of batches of 100 at 4 connections.
# Usage: bash bins/loadgen/ab-postgres.sh OLD_RELEASE_DIR NEW_RELEASE_DIR
#   (each a `target/release` with coursebridge-ingest and coursebridge-loadgen);
#   ROUNDS (default 4), SECONDS_EACH (default 10), PORT (default 18085).
# Prints one line per round and build: statements/s and errors.
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,9p "$0"; exit 2; }
ROUNDS=${ROUNDS:-4}
SECONDS_EACH=${SECONDS_EACH:-10}
PORT=${PORT:-18085}
cd "$(dirname "$0")/../.."
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ADMIN=$(bash .ci/postgres.sh start)
SERVER=
trap '[ -n "$SERVER" ] && { kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; }' EXIT
for r in $(seq 1 "$ROUNDS"); do
    for build in old new; do
        if [ "$build" = old ]; then BIN=$OLD; else BIN=$NEW; fi
        name="cb_ab_${build}_${r}_$$"
        psql "$ADMIN" -qc "CREATE DATABASE $name" >/dev/null
        db="${ADMIN%/*}/$name"
        secret=$("$BIN/coursebridge-loadgen" setup --database "$db" --learners 1000 |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
        COURSEBRIDGE_LOG=warn "$BIN/coursebridge-ingest" --database "$db" serve --listen "127.0.0.1:$PORT" 2>/dev/null &
        SERVER=$!
        sleep 1
        out=$("$BIN/coursebridge-loadgen" run --url "http://127.0.0.1:$PORT" --client-id wh_load --secret="$secret" \
            --seconds "$SECONDS_EACH" --concurrency 4 --batch 100 |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["statements_per_sec"]), "errors", d["errors"])')
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
        psql "$ADMIN" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
        echo "round $r $build: $out"
    done
done
