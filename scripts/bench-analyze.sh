#!/usr/bin/env bash
# Speed and peak memory of `scope convert`, `analyze`, `query`, `report`, `replay` and
# `export` on a synthetic trace (release build). Usage: scripts/bench-analyze.sh [events] (default 1,000,000).
# Prints one Markdown table row per command; BENCHMARKS.md records the results.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
use_shared_target_dir
[ -x /usr/bin/time ] || apt_install time
n="${1:-1000000}"
cargo build --release --workspace --bins --quiet
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin/synth-trace" "$work/trace" "$n" --values --seed 7 --node "bench@host" >/dev/null
size=$(du -sb "$work/trace" | cut -f1)
echo "trace: $n events, $size bytes of segments"
echo
echo "| command | wall s | events/s | peak RSS MiB |"
echo "|---|---|---|---|"
measure() {
    local label="$1"
    shift
    local start end rss
    start=$(date +%s.%N)
    rss=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -1)
    end=$(date +%s.%N)
    awk -v l="$label" -v s="$start" -v e="$end" -v n="$n" -v r="$rss" \
        'BEGIN { d = e - s; printf "| %s | %.2f | %.2f M | %.0f |\n", l, d, n / d / 1e6, r / 1024 }'
}
measure "scope convert (one file)" "$bin/scope" convert "$work/trace" -o "$work/events.parquet"
measure "scope convert --partition" "$bin/scope" convert "$work/trace" -o "$work/ds" --partition
measure "scope analyze (segments)" "$bin/scope" analyze "$work/trace"
measure "scope analyze (Parquet)" "$bin/scope" analyze "$work/events.parquet"
measure "scope query (GROUP BY over spans)" "$bin/scope" query "$work/events.parquet" \
    "SELECT mfa, count(*) AS calls, QUANTILE_DISC(duration, 0.99) AS p99 FROM spans GROUP BY mfa"
measure "scope report (HTML, Parquet input)" "$bin/scope" report "$work/events.parquet" -o "$work/report.html"
busiest=$("$bin/scope" query "$work/events.parquet" \
    "SELECT pid, count(*) AS n FROM events GROUP BY pid ORDER BY n DESC LIMIT 1" --format csv | tail -1 | cut -d, -f1)
measure "scope replay --pid (busiest process)" "$bin/scope" replay "$work/events.parquet" --pid "$busiest"
measure "scope export --format chrome" "$bin/scope" export "$work/events.parquet" --format chrome -o "$work/trace.json"
echo
echo "Parquet: $(stat -c %s "$work/events.parquet") bytes; report: $(stat -c %s "$work/report.html") bytes; Chrome JSON: $(stat -c %s "$work/trace.json") bytes"
