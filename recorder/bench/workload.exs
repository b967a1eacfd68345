# One workload under one tracer, for profiling (`bench/hot_path.sh` runs it under `perf`):
#
#   elixir -pa _build/test/lib/elixir_scope/ebin bench/workload.exs \
#     calls|returns|pingpong|genserver floor|recorder|recorder256 N
#
# calls: N calls of a local function (N events); returns: the same with return_trace (2N);
# pingpong: N/4 ping-pongs between two traced processes (N events); genserver: N/4
# GenServer calls (N message events). "floor" is the NIF tracer that only counts;
# "recorder" is ElixirScope with `capture: :none`, "recorder256" with values captured up
# to 256 bytes (the default). Prints the traced process's µs and, for the recorder, the
# events recorded and dropped.

Code.require_file("work.exs", __DIR__)

[workload, tracer, n] = System.argv()
n = String.to_integer(n)
returns = workload == "returns"

{fun, peers} = Bench.Work.workload(workload, n)

pid = Bench.Work.runner(fun)
pids = [pid | peers]
calls? = workload in ["calls", "returns"]
flags = if calls?, do: [:call], else: [:send, :receive]
dir = Path.join(System.tmp_dir!(), "scope_workload_#{System.pid()}")

case tracer do
  "floor" ->
    if calls?, do: Bench.Work.pattern(returns)
    Bench.Work.count(pids, flags)

  recorder when recorder in ["recorder", "recorder256"] ->
    capture = if recorder == "recorder", do: :none, else: {:bytes, 256}
    {:ok, _} = ElixirScope.start(dir: dir, capture: capture)

    :ok =
      ElixirScope.trace(pids,
        calls: if(calls?, do: [{Bench.Work, :f, 1}], else: []),
        returns: returns,
        messages: not calls?,
        procs: false
      )
end

us = Bench.Work.run(pid)
IO.puts("#{workload} under #{tracer}: #{us} µs")

if tracer != "floor" do
  {:ok, stats} = ElixirScope.stop()

  IO.puts(
    "recorded #{stats.events} events, dropped #{stats.dropped}, values shed #{stats.values_shed}"
  )

  File.rm_rf!(dir)
end
