# Everyday commands for coursebridge. `just` is optional: `pip install rust-just`.
# CI does not use this file; it runs .ci/run.

default:
    @just --list

# The tests, as CI runs them.
test:
    cargo test --workspace

# Review snapshot changes: regenerate, then read the diff like code.
snapshots:
    INSTA_UPDATE=always cargo test --workspace
    git status --short -- '*.snap'
    git diff --stat -- '*.snap'

# Benchmarks and load tests (numbers go to docs/PERFORMANCE.md with the command).
bench:
    cargo bench -p xapi-model --bench parse
    cargo bench -p stats-rules --bench fold
    cargo bench -p coursebridge-loadgen --bench write_path
    bash bins/sync/perf.sh 50000
    bash bins/loadgen/load.sh sqlite

# Pages each group commit writes, by table and index (docs/PERFORMANCE.md, "What a commit writes").
wal-pages *load:
    bash bins/loadgen/wal-pages.sh {{load}}

# Two builds through the server, interleaved, fresh each run (docs/PERFORMANCE.md, "How to measure").
ab old new:
    bash bins/loadgen/ab.sh {{old}} {{new}}

# The demo: sync the sample catalog into the embedded database; validate the statement fixtures.
demo:
    cargo run -p coursebridge-sync -- demo
    cargo run -p coursebridge-ingest -- validate fixtures/statements/valid/*.json

# Fuzz the input parsers (nightly + cargo-fuzz): SECONDS per target, optionally some targets only.
fuzz secs="60" *targets:
    bash fuzz/run.sh {{secs}} {{targets}}

# The PostgreSQL variants of the suites, against a throwaway cluster.
test-postgres:
    COURSEBRIDGE_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start) cargo test --workspace -- --ignored

# Format and lint as CI does.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs.
ci:
    bash .ci/run
