#!/bin/sh
# Where the traced process's time goes, per event, by function: runs bench/workload.exs
# under `perf record` (software clock sampling works in VMs without hardware counters) for
# the counting floor and for the recorder, and prints the scheduler threads' samples as
# ns per event for the NIF's functions and the VM's NIF entry points.
#
#   cd recorder && MIX_ENV=test mix compile && bench/hot_path.sh [calls|returns|pingpong] [N]
#
# TRACERS_EXTRA=recorder256 adds the recorder with values captured (256 bytes).
#
# Per-function figures repeat to within a few ns between runs even when wall-clock ratios on a
# noisy VM are not. Needs `perf` (Debian: linux-perf) and +S1 keeps the workload on one
# scheduler so its samples are all in one thread.
set -eu
workload=${1:-calls}
n=${2:-5000000}
freq=4999
ebin=_build/test/lib/elixir_scope/ebin
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
command -v perf >/dev/null || { echo "perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
for tracer in floor recorder ${TRACERS_EXTRA:-}; do
  perf record -q -F $freq -o "$data/$tracer.data" -- \
    elixir --erl "+S1" -pa $ebin bench/workload.exs "$workload" $tracer "$n" 2>/dev/null
  events=$n
  [ "$workload" = returns ] && events=$((2 * n))
  echo "== $tracer (ns per event: samples x 1e9 / $freq / $events)"
  perf report -i "$data/$tracer.data" -n --no-children --sort comm,dso,sym 2>/dev/null |
    awk -v f=$freq -v e=$events '
      /scheduler/ && ($4 ~ /scope_nif/ || $6 ~ /^enif_/) {
        ns = $2 * 1e9 / f / e; total += ns
        sym = ""; for (i = 6; i <= NF; i++) sym = sym " " $i
        if (ns >= 0.5) printf "%7.1f %s\n", ns, sym
      }
      END { printf "%7.1f  total in the NIF and enif_ calls\n", total }'
done
