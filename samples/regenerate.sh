#!/usr/bin/env bash
# Re-records every sample from its program (samples/*/record.sh) into samples/*/trace.
# Needs Elixir and the `scope` binary: SCOPE, or the dev build in the shared target dir.
#   samples/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
export SCOPE="${SCOPE:-${CARGO_TARGET_DIR:-$HOME/.cache/elixir-scope/target}/debug/scope}"
[ -x "$SCOPE" ] || { echo "no scope binary at $SCOPE: run scripts/test.sh or cargo build first" >&2; exit 2; }
for sample in bank pipeline two-node; do
    echo "== $sample"
    "./$sample/record.sh"
done
du -sh ./*/trace
