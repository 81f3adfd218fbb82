#!/usr/bin/env bash
# Measures a 50,000-course OpenSesame sync against the local fake (numbers for
# docs/PERFORMANCE.md): first run, no-change re-run, wall time and peak RSS.
#   bash bins/sync/perf.sh [COURSES]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-50000}"
cargo build --release -q -p coursebridge-sync --example fake_opensesame
cargo build --release -q -p coursebridge-sync
WORK=$(mktemp -d)
target/release/examples/fake_opensesame "$N" 18090 &
FAKE=$!
trap 'kill $FAKE 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
export PERF_SECRET=unused
SYNC="target/release/coursebridge-sync --database $WORK/perf.db"
$SYNC activate --integration perf --provider opensesame --group g --author perf@example.com \
  --setting base_url=http://127.0.0.1:18090 --setting token_url=http://127.0.0.1:18090/token \
  --setting customer_integration_id=perf --setting client_id=perf --setting client_secret_env=PERF_SECRET >/dev/null
for label in "first run" "no-change re-run"; do
  echo "== $label"
  COURSEBRIDGE_LOG=warn /usr/bin/time -f "wall %e s, peak RSS %M KiB" $SYNC run --integration perf
done
