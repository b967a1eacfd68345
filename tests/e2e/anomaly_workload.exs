# A program with three known problems, recorded by ElixirScope, for `scope analyze`:
#   - one call of AnomalyWorkload.Slow.handle_call/3 takes 300 ms (the others ~1 ms);
#   - a process crashes and takes its two linked workers down (a crash cascade);
#   - AnomalyWorkload.Sink is cast 400 messages faster than it handles them (mailbox growth);
#   - one request (an ElixirScope span) calls the Slow server.
#
#   elixir -pa <elixir_scope ebin> anomaly_workload.exs <trace dir>
# Prints `role <0.N.S>` lines for the test to compare with the analysis.

defmodule AnomalyWorkload.Work do
  # About a millisecond of CPU, the same every time (no sleeping: timers are coarse).
  def spin(n \\ 60_000), do: Enum.reduce(1..n, 0, fn i, acc -> rem(acc + i * i, 1_000_003) end)
end

defmodule AnomalyWorkload.Slow do
  use GenServer

  def init(n), do: {:ok, n}

  def handle_call({:work, 77}, _from, n) do
    Process.sleep(300)
    {:reply, :slow, n + 1}
  end

  def handle_call({:work, i}, _from, n) do
    AnomalyWorkload.Work.spin()
    {:reply, i, n + 1}
  end
end

defmodule AnomalyWorkload.Sink do
  use GenServer

  def init(n), do: {:ok, n}

  def handle_cast({:item, _}, n) do
    AnomalyWorkload.Work.spin(30_000)
    {:noreply, n + 1}
  end

  def handle_call(:count, _from, n), do: {:reply, n, n}
end

[dir] = System.argv()
pid_text = fn pid -> List.to_string(:erlang.pid_to_list(pid)) end
{:ok, _} = ElixirScope.start(dir: dir, flush_ms: 20)

:ok =
  ElixirScope.trace(:new,
    calls: [AnomalyWorkload.Slow, AnomalyWorkload.Sink],
    returns: true,
    messages: true,
    procs: true
  )

# Everything runs in processes spawned after trace(:new).
parent = self()

main =
  spawn(fn ->
    {:ok, slow} = GenServer.start(AnomalyWorkload.Slow, 0)
    for i <- 1..120, do: GenServer.call(slow, {:work, i}, 10_000)

    # One request, in a span: it reaches the Slow server through a call.
    ElixirScope.span("checkout", %{order: 1}, fn -> GenServer.call(slow, {:work, 500}) end)

    {:ok, sink} = GenServer.start(AnomalyWorkload.Sink, 0)
    for i <- 1..400, do: GenServer.cast(sink, {:item, i})
    400 = GenServer.call(sink, :count, 60_000)

    me = self()

    root =
      spawn(fn ->
        w1 = spawn_link(fn -> Process.sleep(:infinity) end)
        w2 = spawn_link(fn -> Process.sleep(:infinity) end)
        send(me, {:workers, w1, w2})
        Process.sleep(20)
        raise "boom"
      end)

    ref = Process.monitor(root)

    {w1, w2} =
      receive do
        {:workers, a, b} -> {a, b}
      end

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    end

    Process.sleep(50)
    send(parent, {:done, slow, sink, root, w1, w2})
  end)

{slow, sink, root, w1, w2} =
  receive do
    {:done, s, k, r, a, b} -> {s, k, r, a, b}
  after
    120_000 -> raise "workload did not finish"
  end

{:ok, stats} = ElixirScope.stop()
IO.puts("main #{pid_text.(main)}")
IO.puts("slow #{pid_text.(slow)}")
IO.puts("sink #{pid_text.(sink)}")
IO.puts("root #{pid_text.(root)}")
IO.puts("w1 #{pid_text.(w1)}")
IO.puts("w2 #{pid_text.(w2)}")
IO.puts("dropped #{stats.dropped}")
