#!/usr/bin/env bash
# Records the two-node sample: node kv_a (app/server.exs) and node kv_b (app/client.exs)
# on this machine, talking over Erlang distribution, each under `scope record`; the two
# nodes' traces end up side by side in trace/ (or the directory given).
#   samples/two-node/record.sh [out-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/trace}"
scope="${SCOPE:-scope}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
"$scope" record --dir "$tmp/a" --calls KV.Store --messages --procs \
    -- elixir --sname kv_a --cookie scope_sample "$here/app/server.exs" &
server=$!
"$scope" record --dir "$tmp/b" --calls KV.Client --messages --procs \
    -- elixir --sname kv_b --cookie scope_sample "$here/app/client.exs"
wait "$server"
mkdir -p "$out"
for side in a b; do
    for node in "$tmp/$side"/*@*; do
        mv "$node" "$out/"
        cp "$tmp/$side/record.config" "$out/record.$(basename "$node").config"
    done
done
