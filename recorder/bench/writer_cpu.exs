# The writer thread's CPU time per event (what recording costs the node besides the traced
# process's own time), for the workloads of `bench/overhead.exs` and GenServer calls, three
# recordings each:
#
#   elixir -pa _build/test/lib/elixir_scope/ebin bench/writer_cpu.exs [SCALE [WORKLOAD...]]
#
# SCALE (default 1.0) multiplies the event counts (3M calls, 3M calls with values, 1.5M
# calls with returns and values, 2M ping-pong events without and with values, 2M message
# events of GenServer calls with values: `Bench.Work.workload/2`). The figure
# is `stats/0`'s `writer_cpu_us` over the events recorded, opening and closing the segment
# included. Default rings, the VM's schedulers. WORKLOADs (calls, returns, pingpong,
# genserver) keep only those rows.

Code.require_file("work.exs", __DIR__)

{scale, only} =
  case System.argv() do
    [s | only] -> {elem(Float.parse(s), 0), only}
    [] -> {1.0, []}
  end

dir = Path.join(System.tmp_dir!(), "scope_writer_cpu_#{System.pid()}")

one = fn workload, capture, n ->
  File.rm_rf!(dir)

  {fun, peers} = Bench.Work.workload(workload, n)

  pid = Bench.Work.runner(fun)
  calls? = workload in ["calls", "returns"]
  {:ok, _} = ElixirScope.start(dir: dir, capture: capture)

  :ok =
    ElixirScope.trace([pid | peers],
      calls: if(calls?, do: [{Bench.Work, :f, 1}], else: []),
      returns: workload == "returns",
      messages: not calls?,
      procs: false
    )

  Bench.Work.run(pid)
  {:ok, s} = ElixirScope.stop()
  for p <- peers, do: Process.exit(p, :kill)
  s.writer_cpu_us * 1000 / s.events
end

workloads = [
  {"calls", :none, 3_000_000},
  {"calls", {:bytes, 256}, 3_000_000},
  {"returns", {:bytes, 256}, 1_500_000},
  {"pingpong", :none, 2_000_000},
  {"pingpong", {:bytes, 256}, 2_000_000},
  {"genserver", {:bytes, 256}, 2_000_000}
]

IO.puts("| workload | capture | events | writer thread ns/event (3 recordings) |")
IO.puts("|---|---|---|---|")

for {w, c, n} <- workloads, only == [] or w in only do
  n = round(n * scale)
  ns = for _ <- 1..3, do: Float.round(one.(w, c, n), 1)
  IO.puts("| #{w} | #{inspect(c)} | #{n} | #{Enum.join(ns, ", ")} |")
end

File.rm_rf!(dir)
