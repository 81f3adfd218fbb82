#!/usr/bin/env bash
# Where the group writer's commits write: pages per commit, by table and index
# (numbers for docs/PERFORMANCE.md, "What a commit writes").
#   bash bins/loadgen/wal-pages.sh                      # batches of 100, 4 connections
#   bash bins/loadgen/wal-pages.sh --concurrency 32     # single statements
# Builds in release, prepares a SQLite database as load.sh does (1,000
# learners, one course), runs the load given (default: batches of 100 at 4
# connections) for RUN_SECONDS (default 12), reads the group counters from
# /metrics, then kills the server with SIGKILL so that its write-ahead log
# stays as it was, and reads the log: each frame names the page it writes,
# the last frame of a commit says so, and SQLite's dbstat table says which
# table or index owns each page. Needs python3 (with its sqlite3 module).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_RUN="${RUN_SECONDS:-12}"
LOAD=("$@")
[ ${#LOAD[@]} -gt 0 ] || LOAD=(--concurrency 4 --batch 100)
cargo build --release -q -p coursebridge-ingest -p coursebridge-loadgen
. bins/loadgen/lib.sh
WORK=$(mktemp -d)
DB="$WORK/load.db"
SERVER=
trap '[ -n "$SERVER" ] && kill -9 $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
SECRET=$(loadgen_setup "$DB")
LMS=$("$BIN/coursebridge-ingest" --database "$DB" credentials create --lms --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["client_id"] + ":" + d["client_secret"])')
start_server "$DB" 18082 "$WORK/server.log"
"$BIN/coursebridge-loadgen" run --url http://127.0.0.1:18082 --client-id wh_load --secret="$SECRET" --seconds "$SECONDS_RUN" "${LOAD[@]}"
python3 - "$LMS" >"$WORK/groups" <<'EOF'
import base64, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:18082/metrics")
req.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[1].encode()).decode())
m = {}
for line in urllib.request.urlopen(req).read().decode().splitlines():
    if line.startswith("coursebridge_write_group") or line.startswith("coursebridge_log_syncs"):
        k, v = line.split()
        m[k] = int(float(v))
print(m["coursebridge_write_groups_total"], m["coursebridge_write_group_statements_total"],
      m["coursebridge_write_group_requests_total"], m["coursebridge_log_syncs_total"])
EOF
kill -9 "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=
python3 - "$DB" $(cat "$WORK/groups") <<'EOF'
import collections, shutil, sqlite3, struct, sys
db = sys.argv[1]
groups, statements, requests, syncs = map(int, sys.argv[2:6])
wal = open(db + "-wal", "rb").read()
_, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">8I", wal[:32])
commits, frames, off = [], [], 32
while off + 24 + page_size <= len(wal):
    page, commit, s1, s2, _, _ = struct.unpack(">6I", wal[off:off + 24])
    if (s1, s2) != (salt1, salt2):
        break  # frames of an earlier pass through the log
    frames.append(page)
    if commit:
        commits.append(frames)
        frames = []
    off += 24 + page_size
# Opening a copy replays the log into it; page numbers stay the same.
shutil.copy(db, db + ".copy")
shutil.copy(db + "-wal", db + ".copy-wal")
owner = dict(sqlite3.connect(db + ".copy").execute("SELECT pageno, name FROM dbstat"))
last = commits[-40:]
pages = collections.Counter()
for c in last:
    for p in set(c):
        pages[owner.get(p, "(free)")] += 1
per_commit = statements / groups
total = sum(pages.values()) / len(last)
print(f"groups {groups}, requests/group {requests / groups:.1f}, "
      f"statements/group {per_commit:.0f}, groups/sync {groups / max(syncs, 1):.2f}, page size {page_size}")
print(f"last {len(last)} commits: {total:.0f} distinct pages per commit, "
      f"{total / per_commit:.2f} per statement ({total / per_commit * (page_size + 24) / 1024:.1f} KiB of log)")
for name, n in pages.most_common():
    if n / len(last) >= 1:
        print(f"  {name:36s} {n / len(last):7.1f} pages/commit {n / len(last) / per_commit:6.2f}/statement")
EOF
