# Tracing overhead, all in one run: untraced, a NIF tracer that only counts (the BEAM's floor
# for erl_tracer; also with the `arity` flag ElixirScope sets without value capture),
# ElixirScope (values captured, and not), dbg's process tracer, and dbg:trace_port(file).
# Prints ns/event over untraced, bytes/event on disk, ratios, and for ElixirScope the CPU its
# writer thread used per event (the node pays it besides the traced process's time).
#
#   cd recorder && MIX_ENV=test mix compile && \
#     elixir -pa _build/test/lib/elixir_scope/ebin bench/overhead.exs [calls]
#
# Workloads: N calls of a local function; the same with return_trace (call + return events);
# a message ping-pong (send + receive events, both processes traced). Each measurement is
# the median of 7 runs of the traced process's own time (what tracing costs the application;
# dbg's process tracer may still be working through its mailbox afterwards). Runs go
# round-robin over the tracers, 7 rounds, and each figure is the median.

Code.require_file("work.exs", __DIR__)

defmodule Bench do
  def median(list), do: list |> Enum.sort() |> Enum.at(div(length(list), 2))

  # Runs `fun` in a fresh process traced by `setup` (which returns a teardown fun); returns
  # the traced process's elapsed µs.
  def timed(setup, fun) do
    pid = Bench.Work.runner(fun)
    teardown = setup.(pid)
    us = Bench.Work.run(pid)
    teardown.()
    # Outside the timed part: write back what the tracer left dirty (trace_port's ~90 MB
    # files), so that the kernel's writeback does not land on the next tracer's run.
    System.cmd("sync", [])
    us
  end

  def clear do
    :erlang.trace_pattern({Bench.Work, :f, 1}, false, [:local])
    :erlang.trace(:all, false, [:all])
  end

  # The NIF tracer that only counts, tracing what `flags` asks for (plus `call_extra` when
  # that includes calls): {setup, measure}.
  def floor(flags, ret, call_extra) do
    flags = if :call in flags, do: flags ++ call_extra, else: flags

    setup = fn pids ->
      Bench.Work.pattern(ret)
      Bench.Work.count(pids, flags)
      fn -> clear() end
    end

    {setup, fn -> {0, 0} end}
  end

  # ElixirScope started with `start_opts`, tracing what `flags` asks for: {setup, measure},
  # measure giving {bytes on disk, events dropped + values shed, writer thread CPU µs}.
  def recorder(flags, ret, start_opts) do
    dir = tmp()

    setup = fn pids ->
      {:ok, _} = ElixirScope.start([dir: dir] ++ start_opts)

      :ok =
        ElixirScope.trace(pids,
          calls: if(:call in flags, do: [{Bench.Work, :f, 1}], else: []),
          returns: ret,
          messages: :send in flags,
          procs: false
        )

      fn ->
        {:ok, stats} = ElixirScope.stop()
        Process.put(:stats, stats)
      end
    end

    measure = fn ->
      bytes = du(dir)
      File.rm_rf!(dir)
      stats = Process.get(:stats)
      # Values left out while the writer was behind count with the drops (expected: none).
      {bytes, stats.dropped + stats.values_shed, stats.writer_cpu_us}
    end

    {setup, measure}
  end

  def du(dir) do
    Path.wildcard(Path.join(dir, "**/*"))
    |> Enum.filter(&File.regular?/1)
    |> Enum.map(&File.stat!(&1).size)
    |> Enum.sum()
  end

  def tmp,
    do:
      Path.join(
        System.tmp_dir!(),
        "scope_bench_#{System.pid()}_#{System.unique_integer([:positive])}"
      )
end

n = String.to_integer(List.first(System.argv()) || "1000000")
pongs = div(n, 10)

workloads = [
  {"#{n} calls", fn -> Bench.Work.calls(n) end, false, [:call], n},
  {"#{n} calls + return_trace", fn -> Bench.Work.calls(n) end, true, [:call], 2 * n},
  {"#{pongs} ping-pongs", :pingpong, false, [:send, :receive], 4 * pongs}
]

tracers = [
  {"untraced", fn _flags, _ret -> {fn _pids -> fn -> :ok end end, fn -> {0, 0} end} end},
  {"NIF counting only (floor)", &Bench.floor(&1, &2, [])},
  # The floor with the flags ElixirScope uses without value capture: `arity` makes the VM
  # pass {M, F, Arity} instead of building the argument list (messages are unaffected).
  {"NIF counting only, arity flag", &Bench.floor(&1, &2, [:arity])},
  {"ElixirScope, capture none", &Bench.recorder(&1, &2, capture: :none)},
  {"ElixirScope, capture 256 B", &Bench.recorder(&1, &2, [])},
  {"dbg process tracer",
   fn flags, ret ->
     setup = fn pids ->
       {:ok, _} = :dbg.tracer(:process, {fn _msg, k -> k + 1 end, 0})
       Bench.Work.pattern(ret)
       for pid <- pids, do: {:ok, _} = :dbg.p(pid, flags)
       fn -> :dbg.stop() end
     end

     {setup, fn -> {0, 0} end}
   end},
  {"dbg:trace_port(file)",
   fn flags, ret ->
     file = Bench.tmp()

     setup = fn pids ->
       {:ok, _} = :dbg.tracer(:port, :dbg.trace_port(:file, String.to_charlist(file)))
       Bench.Work.pattern(ret)
       for pid <- pids, do: {:ok, _} = :dbg.p(pid, flags)

       fn ->
         :dbg.flush_trace_port()
         :dbg.stop()
       end
     end

     measure = fn ->
       bytes = File.stat!(file).size
       File.rm!(file)
       {bytes, 0}
     end

     {setup, measure}
   end}
]

runs = 7

IO.puts(
  "OTP #{:erlang.system_info(:otp_release)}, #{:erlang.system_info(:schedulers)} schedulers, " <>
    "median of #{runs} rounds (each round runs every tracer once)"
)

for {wname, work, ret, flags, events} <- workloads do
  IO.puts("\n## #{wname} (#{events} events when traced)\n")

  IO.puts(
    "| tracer | µs (median) | ns/event over untraced | × floor | trace_port ÷ this | bytes/event | dropped (+ values shed) | writer thread ns/event |"
  )

  IO.puts("|---|---|---|---|---|---|---|---|")

  run = fn ->
    case work do
      :pingpong ->
        peer = spawn(&Bench.Work.ponger/0)
        fun = fn -> Bench.Work.pingpong(peer, pongs) end
        {peer, fun}

      f ->
        {nil, f}
    end
  end

  # Round-robin: each round runs every tracer once, so a drift in the machine's speed
  # (a noisy neighbour on a VM) lands on all tracers alike instead of on one block of runs.
  rounds =
    for _ <- 1..runs do
      for {tname, make} <- tracers do
        {peer, fun} = run.()
        {setup, measure} = make.(flags, ret)

        setup2 = fn pid -> setup.(Enum.reject([pid, peer], &is_nil/1)) end

        us = Bench.timed(setup2, fun)
        # Only ElixirScope has a writer thread to measure.
        {bytes, dropped, writer_us} =
          case measure.() do
            {bytes, dropped} -> {bytes, dropped, nil}
            measured -> measured
          end

        if peer, do: Process.exit(peer, :kill)
        {tname, {us, bytes, dropped, writer_us}}
      end
    end

  results =
    for {tname, _} <- tracers do
      samples = for round <- rounds, {^tname, sample} <- round, do: sample
      us = Bench.median(Enum.map(samples, &elem(&1, 0)))
      bytes = Bench.median(Enum.map(samples, &elem(&1, 1)))
      dropped = Enum.max(Enum.map(samples, &elem(&1, 2)))

      writer =
        case Enum.map(samples, &elem(&1, 3)) do
          [nil | _] -> "—"
          writer_us -> round(Bench.median(writer_us) * 1000 / events)
        end

      {tname, us, bytes, dropped, writer}
    end

  {_, base, _, _, _} = Enum.find(results, &(elem(&1, 0) == "untraced"))
  {_, floor, _, _, _} = Enum.find(results, &(elem(&1, 0) == "NIF counting only (floor)"))
  floor_ns = max((floor - base) * 1000 / events, 1.0e-9)
  {_, port, _, _, _} = Enum.find(results, &(elem(&1, 0) == "dbg:trace_port(file)"))
  port_ns = (port - base) * 1000 / events

  for {tname, us, bytes, dropped, writer} <- results do
    ns = (us - base) * 1000 / events

    ratio =
      if tname == "untraced", do: "—", else: :erlang.float_to_binary(ns / floor_ns, decimals: 2)

    below_port =
      if tname == "untraced", do: "—", else: :erlang.float_to_binary(port_ns / ns, decimals: 2)

    bpe = if bytes > 0, do: :erlang.float_to_binary(bytes / events, decimals: 2), else: "—"

    IO.puts(
      "| #{tname} | #{us} | #{round(ns)} | #{ratio} | #{below_port} | #{bpe} | #{dropped} | #{writer} |"
    )
  end
end
