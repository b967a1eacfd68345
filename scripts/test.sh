#!/usr/bin/env bash
# Every test: installs what is missing (Rust, Erlang/OTP, Elixir), then checks formatting and
# lints, builds, and runs all Rust tests (unit, property, corpus, mutation, crash, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
need_rust
need_erlang
use_shared_target_dir
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
unset RUST_BACKTRACE # assertion diffs stay readable; set it when you need one

echo "== versions"
cargo --version
erl -noshell -eval 'io:format("OTP ~s~n", [erlang:system_info(otp_release)]), halt().'
elixir --version | tail -1

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== build and test (dev profile)"
cargo build --workspace --all-targets --quiet
cargo test --workspace --quiet

echo "== the README's main job on the committed sample"
"$CARGO_TARGET_DIR/debug/scope" verify samples/synthetic-shop/trace >/dev/null

echo "all tests passed"
