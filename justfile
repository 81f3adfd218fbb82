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

# Benchmarks (numbers go to docs/PERFORMANCE.md with the command that produced them).
bench:
    cargo bench -p xapi-model --bench parse

# The demo: validate every statement fixture the way ingest will.
demo:
    cargo run -p coursebridge-ingest -- validate fixtures/statements/valid/*.json

# Format and lint as CI does.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs.
ci:
    bash .ci/run
