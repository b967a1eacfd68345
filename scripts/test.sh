#!/usr/bin/env bash
# Every test: installs what is missing (Rust, Erlang/OTP, Elixir, a headless chromium),
# then checks formatting and lints, builds, and runs all tests: Rust (unit, property, corpus,
# mutation, crash, CLI), the recorder's ExUnit suite against the real NIF, the end-to-end
# recordings, and the HTML report in the browser (screenshot kept in $SCOPE_ARTIFACTS).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
need_rust
need_erlang
need_chromium
use_shared_target_dir
export SCOPE_ARTIFACTS="${SCOPE_ARTIFACTS:-$CARGO_TARGET_DIR/artifacts}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
unset RUST_BACKTRACE # assertion diffs stay readable; set it when you need one

echo "== versions"
cargo --version
erl -noshell -eval 'io:format("OTP ~s~n", [erlang:system_info(otp_release)]), halt().'
elixir --version | tail -1

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== the recorder NIF (its own cargo workspace) and Elixir formatting"
export SCOPE_NIF_TARGET_DIR="${SCOPE_NIF_TARGET_DIR:-$(dirname "$CARGO_TARGET_DIR")/nif}"
nif=recorder/native/scope_nif/Cargo.toml
cargo fmt --manifest-path "$nif" -- --check
CARGO_TARGET_DIR="$SCOPE_NIF_TARGET_DIR" cargo clippy --manifest-path "$nif" --release --quiet -- -D warnings
(cd recorder && mix format --check-formatted && MIX_ENV=test mix compile --warnings-as-errors)

echo "== Python with pyarrow and DuckDB (the Parquet interop test and the README's DuckDB example)"
need_python_interop

echo "== build and test (dev profile)"
cargo build --workspace --all-targets --quiet
export SCOPE_BIN_DIR="$CARGO_TARGET_DIR/debug"
export SCOPE_RECORDER_EBIN="$PWD/recorder/_build/test/lib/elixir_scope/ebin"
cargo test --workspace --quiet

echo "== recorder ExUnit tests (real NIF)"
(cd recorder && mix test)

echo "== Parquet interop: pyarrow and DuckDB read what scope convert writes"
interop="$(mktemp -d)"
trap 'rm -rf "$interop"' EXIT
bin="$CARGO_TARGET_DIR/debug"
"$bin/synth-trace" "$interop/trace" 30000 --values --seed 3 --node "a@host" >/dev/null
"$bin/synth-trace" "$interop/trace" 20000 --values --seed 4 --node "b@host" >/dev/null
"$bin/scope" convert "$interop/trace" -o "$interop/events.parquet" >/dev/null
"$bin/scope" convert "$interop/trace" -o "$interop/dataset" --partition >/dev/null
counts="$("$bin/scope" info --format json "$interop/trace" | "$SCOPE_PY" -c \
    'import json, sys; s = json.load(sys.stdin); print(s["events"], len(s["nodes"]))')"
"$SCOPE_PY" tests/interop/parquet_interop.py "$interop/events.parquet" "$interop/dataset" $counts

echo "== the README's main job on the committed sample"
for sample in samples/*/trace; do "$CARGO_TARGET_DIR/debug/scope" verify "$sample" >/dev/null; done
"$CARGO_TARGET_DIR/debug/scope" analyze samples/bank/trace >/dev/null

echo "artifacts (the HTML report of a real recording and its screenshot): $SCOPE_ARTIFACTS"
echo "all tests passed"
