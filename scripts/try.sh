#!/usr/bin/env bash
# The main job on a committed sample: builds `scope` and analyzes samples/bank (a real
# recording; no Erlang needed).
#   ./scripts/try.sh               # info and analyze on the sample
#   ./scripts/try.sh analyze PATH  # any scope subcommand
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
need_rust
use_shared_target_dir
# The same build as scripts/test.sh (dev profile, whole workspace): shared and incremental.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo build --workspace --all-targets --quiet
scope="$CARGO_TARGET_DIR/debug/scope"
if [ $# -gt 0 ]; then
    exec "$scope" "$@"
fi
sample=samples/bank/trace
echo "\$ scope info $sample"
"$scope" info "$sample"
echo
echo "\$ scope analyze $sample"
"$scope" analyze "$sample"
