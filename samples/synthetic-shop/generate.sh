#!/usr/bin/env bash
# Regenerates trace/ from the synthetic workload (deterministic: same bytes every time).
set -euo pipefail
cd "$(dirname "$0")"
root=../..
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/elixir-scope/target}"
(cd "$root" && cargo build --quiet --bin synth-trace)
rm -rf trace
"$CARGO_TARGET_DIR/debug/synth-trace" trace 150000 --values --seed 1 --segment-bytes 524288
