#!/usr/bin/env bash
# Counts the server's instructions per statement in steady state, by thread
# (numbers for docs/PERFORMANCE.md; deterministic where the hour is not).
#   bash bins/loadgen/instructions.sh [RELEASE_DIR]
# RELEASE_DIR (default target/release, built first) holds coursebridge-ingest
# and coursebridge-loadgen — another build's, e.g. of a `git worktree`, to
# compare. Needs valgrind. The server runs under callgrind with
# instrumentation off while WARM_SECONDS (default 25) of batches of 100 at 4
# connections give every learner a statistics row (its first statement
# refolds), then on for MEASURE_SECONDS (default 30) more; the statements
# stored meanwhile are the divisor. Prints, per kind of thread (group writer,
# request threads, log sync, the rest), instructions per statement.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bins/loadgen/lib.sh
if [ $# -ge 1 ]; then
    BIN=$(realpath "$1")
else
    cargo build --release -q -p coursebridge-ingest -p coursebridge-loadgen
    BIN=$(realpath "$BIN") # the server runs from its work directory
fi
WARM_SECONDS=${WARM_SECONDS:-25}
MEASURE_SECONDS=${MEASURE_SECONDS:-30}
PORT=${PORT:-18085}
WORK=$(mktemp -d)
VG=
trap '[ -n "$VG" ] && { kill $VG 2>/dev/null; wait $VG 2>/dev/null; }; rm -rf "$WORK"' EXIT
DB="$WORK/load.db"
SECRET=$(loadgen_setup "$DB")
(cd "$WORK" && COURSEBRIDGE_LOG=warn exec valgrind --tool=callgrind --separate-threads=yes \
    --instr-atstart=no "$BIN/coursebridge-ingest" --database "$DB" serve \
    --listen "127.0.0.1:$PORT" 2>"$WORK/server.log") &
VG=$!
# Valgrind starts slowly: wait for /healthz.
for _ in $(seq 1 60); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
    sleep 1
done
load() { "$BIN/coursebridge-loadgen" run --url "http://127.0.0.1:$PORT" --client-id wh_load \
    --secret="$SECRET" --seconds "$1" --concurrency 4 --batch 100 >/dev/null; }
count() { python3 -c "import sqlite3, sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute('select count(*) from statements').fetchone()[0])" "$DB"; }
load "$WARM_SECONDS"
before=$(count)
callgrind_control -i on "$VG" >/dev/null 2>&1
load "$MEASURE_SECONDS"
callgrind_control -i off "$VG" >/dev/null 2>&1
after=$(count)
kill -INT "$VG"
wait "$VG" || true
VG=
python3 - "$WORK" "$before" "$after" <<'EOF'
import glob, re, sys
work, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = after - before
kinds = {}
for f in glob.glob(work + "/callgrind.out.*"):
    text = open(f, errors="replace").read()
    m = re.search(r"^totals: (\d+)", text, re.M)
    if not m:
        continue
    if "write_group_once" in text:
        kind = "group writer"
    elif "parse_statement" in text:
        kind = "request threads"
    elif "LogSync" in text:
        kind = "log sync"
    else:
        kind = "the rest"
    kinds[kind] = kinds.get(kind, 0) + int(m.group(1))
print(f"statements measured: {n} (after {before} in the warm-up)")
for kind in ["request threads", "group writer", "log sync", "the rest"]:
    print(f"{kind:16s} {kinds.get(kind, 0) / max(n, 1) / 1000:8.1f} k instructions per statement")
print(f"{'all':16s} {sum(kinds.values()) / max(n, 1) / 1000:8.1f} k")
EOF
