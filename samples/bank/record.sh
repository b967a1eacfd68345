#!/usr/bin/env bash
# Records app/bank.exs with `scope record` into trace/ (or the directory given).
#   samples/bank/record.sh [out-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/trace}"
scope="${SCOPE:-scope}"
rm -rf "$out"
"$scope" record --dir "$out" \
    --calls Bank.Ledger,Bank.Fraud,Bank.Audit,Bank.Transfers,Bank.Statement \
    --messages --procs --capture-bytes 1024 \
    -- elixir "$here/app/bank.exs"
