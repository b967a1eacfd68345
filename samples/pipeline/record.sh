#!/usr/bin/env bash
# Records app/pipeline.exs with `scope record` into trace/ (or the directory given).
#   samples/pipeline/record.sh [out-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/trace}"
scope="${SCOPE:-scope}"
rm -rf "$out"
"$scope" record --dir "$out" \
    --calls Pipeline.Parser,Pipeline.Stage,Pipeline.Store \
    --messages --procs \
    -- elixir "$here/app/pipeline.exs"
