#!/usr/bin/env bash
# Measures delivery to the LMS (numbers for docs/PERFORMANCE.md), on SQLite:
# 1. a webhook subscription (course.*) to a loopback receiver that verifies
#    every signature (`coursebridge-loadgen receive`), then a first sync of a
#    COURSES-course OpenSesame catalog from the local fake; prints the sync's
#    wall time and how long after the sync ended the last course.created
#    event arrived;
# 2. the change feed read from its start to its head
#    (`coursebridge-loadgen read-feed`) in pages of 1,000 and 5,000.
#   bash bins/loadgen/delivery.sh [COURSES]      (default 50000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-50000}"
cargo build --release -q -p coursebridge-sync --example fake_opensesame
cargo build --release -q -p coursebridge-sync -p coursebridge-ingest -p coursebridge-loadgen
BIN=target/release
WORK=$(mktemp -d)
DB="$WORK/delivery.db"
FAKE= SERVER= RECEIVER=
trap 'for p in $FAKE $SERVER $RECEIVER; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/ingest.toml" <<TOML
[delivery]
allow_http = true
allow_private_networks = true
TOML
export COURSEBRIDGE_CONFIG="$WORK/ingest.toml" COURSEBRIDGE_LOG=warn PERF_SECRET=unused
"$BIN/examples/fake_opensesame" "$N" 18090 &
FAKE=$!
SYNC="$BIN/coursebridge-sync --database $DB"
INGEST="$BIN/coursebridge-ingest --database $DB"
$INGEST migrate >/dev/null
$SYNC activate --integration perf --provider opensesame --group g --author perf@example.com \
  --setting base_url=http://127.0.0.1:18090 --setting token_url=http://127.0.0.1:18090/token \
  --setting customer_integration_id=perf --setting client_id=perf --setting client_secret_env=PERF_SECRET >/dev/null
LMS=$($INGEST credentials create --lms --json)
LMS_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$LMS")
LMS_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$LMS")
HOOK=$($INGEST webhooks create --url http://127.0.0.1:18099/hook --events 'course.*' --json)
HOOK_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$HOOK")
"$BIN/coursebridge-loadgen" receive --listen 127.0.0.1:18099 --secret "$HOOK_SECRET" --expect "$N" >"$WORK/received.json" &
RECEIVER=$!
$INGEST serve --listen 127.0.0.1:18081 2>"$WORK/server.log" &
SERVER=$!
sleep 1
kill -0 "$SERVER" || { cat "$WORK/server.log"; exit 1; }
echo "== first sync of $N courses, subscription active"
/usr/bin/time -f "sync: wall %e s, peak RSS %M KiB" $SYNC run --integration perf >/dev/null
SYNC_END=$(python3 -c 'import time; print(int(time.time() * 1000))')
wait "$RECEIVER"
RECEIVER=
python3 - "$WORK/received.json" "$SYNC_END" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
after = (r["done_unix_ms"] - int(sys.argv[2])) / 1000
print(f"received {r['events']} events ({r['deliveries']} deliveries, {r['bad_signatures']} bad signatures, "
      f"{r['out_of_order']} out of order); the last {after:.2f} s after the sync ended; "
      f"first to last {r['first_to_last_s']} s")
PY
for limit in 1000 5000; do
  echo "== the change feed, pages of $limit"
  "$BIN/coursebridge-loadgen" read-feed --url http://127.0.0.1:18081 --client-id "$LMS_ID" --secret "$LMS_SECRET" --limit "$limit"
done
