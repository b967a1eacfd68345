#!/usr/bin/env bash
# The main job on a committed sample: builds `scope` and runs it on samples/synthetic-shop.
#   ./scripts/try.sh            # info and verify on the sample
#   ./scripts/try.sh info PATH  # any scope subcommand
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
need_rust
use_shared_target_dir
cargo build --release --bin scope --quiet
scope="$CARGO_TARGET_DIR/release/scope"
if [ $# -gt 0 ]; then
    exec "$scope" "$@"
fi
sample=samples/synthetic-shop/trace
echo "\$ scope info $sample"
"$scope" info "$sample"
echo
echo "\$ scope verify $sample"
"$scope" verify "$sample"
