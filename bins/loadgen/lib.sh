# Shared by load.sh and wal-pages.sh (sourced, from the repository root, after
# a release build of coursebridge-ingest and coursebridge-loadgen).
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release}"

# Prepares the load database DB (1,000 learners, one course); prints the
# webhook secret of its credential `wh_load`.
loadgen_setup() {
    "$BIN/coursebridge-loadgen" setup --database "$1" --learners 1000 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}

# Starts the server on database DB at 127.0.0.1:PORT, its log in LOG; sets
# SERVER to its pid. Fails if it did not start — most often another server
# holds the port, and measuring that one would be wrong.
start_server() {
    COURSEBRIDGE_LOG=warn "$BIN/coursebridge-ingest" --database "$1" serve --listen "127.0.0.1:$2" 2>"$3" &
    SERVER=$!
    sleep 1
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "the server did not start:" >&2
        cat "$3" >&2
        return 1
    fi
}
