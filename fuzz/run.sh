#!/usr/bin/env bash
# Runs coursebridge's fuzz targets (cargo-fuzz, libFuzzer) on the nightly
# toolchain, each from a seed corpus made of fixtures/ and fuzz/seeds/.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]     # default: 60 s each, every target
#   FUZZ_RUNS=10000000 bash fuzz/run.sh 1800   # stop at 10M executions or 30 min
#
# Prints executions and coverage per target; exits non-zero when a target
# crashed (the input is in fuzz/artifacts/<target>/: fix the bug, then add the
# input to fixtures/fuzz/<target>/, which seeds every later run).
# Without a nightly toolchain it says so and exits 0 (CI runs it that way).
set -euo pipefail
cd "$(dirname "$0")"
SECS="${1:-60}"
shift || true

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain on this machine; the fuzz targets were not run"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked --version 0.13.2 >&2
fi

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi

# The seed corpus: what the tests already feed each parser.
seed() {
    local target=$1
    shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] && cp -n "$f" "corpus/$target/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "corpus/$target/"; fi
    if [ -d "../fixtures/fuzz/$target" ]; then cp -n ../fixtures/fuzz/"$target"/* "corpus/$target/"; fi
}
seed statement ../fixtures/statements/valid/*.json ../fixtures/statements/invalid/*.json ../fixtures/attachments/signed-statement.json
seed multipart
seed statements_query
seed scorm_xml ../fixtures/scorm-cloud/*.xml
seed scorm_json ../fixtures/scorm-cloud/v2/*.json
seed scorm_postback
seed catalog ../fixtures/catalog/*/*.json
seed launch_link
seed documents

cargo +nightly fuzz build >&2
RUNS_ARG=()
if [ -n "${FUZZ_RUNS:-}" ]; then RUNS_ARG=("-runs=$FUZZ_RUNS"); fi
mkdir -p logs
failed=()
printf '%-18s %14s %10s %8s %s\n' target executions exec/s cover result
for t in "${TARGETS[@]}"; do
    log="logs/$t.log"
    status=ok
    # -rss_limit_mb: generous for the JSON targets; -max_len: large enough for a batch.
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$SECS" "${RUNS_ARG[@]}" -max_len=65536 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        status=CRASH
        failed+=("$t")
    fi
    # A run that stopped before reporting has none of these: "?".
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1 || true)
    cover=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }' || true)
    printf '%-18s %14s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cover:-?}" "$status"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}; inputs in fuzz/artifacts/, logs in fuzz/logs/" >&2
    exit 1
fi
