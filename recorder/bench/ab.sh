#!/bin/sh
# A/B runs of two builds of the recorder: bench/workload.exs alternating between two saved
# copies of the compiled app (and the counting floor), then the median traced µs of each.
# Runs of one build on this kind of VM spread by several percent; alternating lets a drift
# in the machine's speed land on both builds alike.
#
#   cd recorder && MIX_ENV=test mix compile && bench/ab.sh save /tmp/a   # build A
#   (change the code) && MIX_ENV=test mix compile && bench/ab.sh save /tmp/b
#   bench/ab.sh /tmp/a /tmp/b calls|returns|pingpong N RUNS [SCHEDULERS] [recorder|recorder256]
#
# SCHEDULERS defaults to the VM's default (one per core); 1 (`+S1`) gives the steadiest
# figures for the tracer's own code.
set -eu
ebin=_build/test/lib/elixir_scope
if [ "${1:-}" = save ]; then
  [ -n "${2:-}" ] || { echo "usage: bench/ab.sh save DIR" >&2; exit 2; }
  rm -rf "$2" && mkdir -p "$2" && cp -r "$ebin" "$2/"
  exit 0
fi
[ $# -ge 5 ] || { sed -n 2,12p "$0" >&2; exit 2; }
a=$1 b=$2 workload=$3 n=$4 runs=$5 schedulers=${6:-} tracer=${7:-recorder}
erl=""
[ -n "$schedulers" ] && erl="+S$schedulers"
run() { # dir tracer
  elixir --erl "$erl" -pa "$1/elixir_scope/ebin" bench/workload.exs "$workload" "$2" "$n" \
    2>/dev/null | awk 'NR == 1 { print $4 }'
}
i=0
while [ $i -lt "$runs" ]; do
  echo "A $(run "$a" "$tracer")"
  echo "B $(run "$b" "$tracer")"
  echo "floor $(run "$a" floor)"
  i=$((i + 1))
done | awk '
  { v[$1, ++c[$1]] = $2; all[$1] = all[$1] " " $2 }
  END {
    for (k in c) {
      m = c[k]
      for (i = 1; i <= m; i++) x[i] = v[k, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
      printf "%-5s median %d µs (%s)\n", k, x[int((m + 1) / 2)], all[k]
    }
  }' | sort
