#!/usr/bin/env bash
# Compares two builds of coursebridge-ingest through the server, interleaved:
# for each round and each build, a fresh database (1,000 learners, one
# course) and a fresh server, then 10 s of batches of 100 at 4 connections
# and 10 s of single statements at 32 (ORDER=singles-first swaps them).
#
# Usage: bash bins/loadgen/ab.sh OLD_RELEASE_DIR NEW_RELEASE_DIR
#   each a `target/release` holding coursebridge-ingest and
#   coursebridge-loadgen, e.g. of a `git worktree` of the older commit built
#   with `cargo build --release -p coursebridge-ingest -p coursebridge-loadgen`.
#   ROUNDS (default 3), SECONDS_EACH (default 10), PORT (default 18084).
#   NEW_WEBHOOK=1: the new build's server delivers every event to a webhook
#   subscription (a loopback `coursebridge-loadgen receive` verifying each
#   signature) while it is measured.
# Prints one line per round and build: statements/s and p99 in ms.
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,12p "$0"; exit 2; }
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
PORT=${PORT:-18084}
ORDER=${ORDER:-batches-first}
cd "$(dirname "$0")/../.."
OLD=$(realpath "$1")
NEW=$(realpath "$2")
source bins/loadgen/lib.sh
SERVER=
RECEIVER=
dir=
# A failed run must not leave its server holding the port.
trap '[ -n "$SERVER" ] && { kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; }; [ -n "$RECEIVER" ] && kill $RECEIVER 2>/dev/null; [ -n "$dir" ] && rm -rf "$dir"' EXIT
summary() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["statements_per_sec"]), "p99", round(d["latency_ms"]["p99"], 1))'; }
run() { "$BIN/coursebridge-loadgen" run --url "http://127.0.0.1:$PORT" --client-id wh_load --secret="$secret" --seconds "$SECONDS_EACH" "$@" | summary; }
for r in $(seq 1 "$ROUNDS"); do
    for build in old new; do
        # lib.sh's functions run the binaries of $BIN.
        if [ "$build" = old ]; then BIN=$OLD; else BIN=$NEW; fi
        dir=$(mktemp -d)
        secret=$(loadgen_setup "$dir/load.db")
        if [ "$build" = new ] && [ "${NEW_WEBHOOK:-0}" = 1 ]; then
            printf '[delivery]\nallow_http = true\nallow_private_networks = true\n' >"$dir/ingest.toml"
            export COURSEBRIDGE_CONFIG="$dir/ingest.toml"
            hook=$("$BIN/coursebridge-ingest" --database "$dir/load.db" webhooks create \
                --url "http://127.0.0.1:$((PORT + 1))/hook" --events '*' --json)
            "$BIN/coursebridge-loadgen" receive --listen "127.0.0.1:$((PORT + 1))" --expect 100000000 \
                --secret "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$hook")" >/dev/null 2>&1 &
            RECEIVER=$!
        fi
        start_server "$dir/load.db" "$PORT" "$dir/server.log"
        unset COURSEBRIDGE_CONFIG
        if [ "$ORDER" = singles-first ]; then
            singles=$(run --concurrency 32 --batch 1)
            batches=$(run --concurrency 4 --batch 100)
        else
            batches=$(run --concurrency 4 --batch 100)
            singles=$(run --concurrency 32 --batch 1)
        fi
        kill "$SERVER"
        wait "$SERVER" 2>/dev/null || true
        SERVER=
        delivered=
        if [ -n "$RECEIVER" ]; then
            kill "$RECEIVER"; wait "$RECEIVER" 2>/dev/null || true; RECEIVER=
            delivered="; webhook delivered through seq $("$BIN/coursebridge-ingest" --database "$dir/load.db" webhooks list --json |
                python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["delivered_through"])')"
        fi
        echo "round $r $build: batches $batches; singles $singles$delivered"
        rm -rf "$dir"
        dir=
    done
done
