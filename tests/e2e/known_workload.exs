# A program whose behaviour is known exactly, recorded by ElixirScope.
#   elixir -pa <elixir_scope ebin> known_workload.exs <trace dir>
# Prints the pids it created (`role <0.N.S>`) for the test to compare with the trace.

defmodule KnownWorkload do
  def square(x), do: x * x

  def pinger(ponger, k) do
    for n <- 1..k do
      send(ponger, {:ping, self(), n})

      receive do
        {:pong, ^n} -> :ok
      end
    end
  end

  def ponger do
    receive do
      {:ping, from, n} ->
        send(from, {:pong, n})
        ponger()

      :stop ->
        :ok
    end
  end
end

[dir] = System.argv()
{:ok, _} = ElixirScope.start(dir: dir, flush_ms: 20)
parent = self()
pid_text = fn pid -> List.to_string(:erlang.pid_to_list(pid)) end

ponger = spawn(&KnownWorkload.ponger/0)

worker =
  spawn(fn ->
    receive do
      :go -> :ok
    end

    for i <- 1..1000, do: KnownWorkload.square(i)
    KnownWorkload.pinger(ponger, 50)
    Process.flag(:trap_exit, true)
    crasher = spawn_link(fn -> exit({:crash, 42}) end)

    receive do
      {:EXIT, ^crasher, _} -> :ok
    end

    send(parent, {:done, crasher})
  end)

:ok = ElixirScope.trace(worker, calls: [{KnownWorkload, :square, 1}], messages: true, procs: true)
:ok = ElixirScope.trace(ponger, messages: true, procs: false)
send(worker, :go)

crasher =
  receive do
    {:done, c} -> c
  after
    10_000 -> raise "workload did not finish"
  end

send(ponger, :stop)
{:ok, stats} = ElixirScope.stop()
IO.puts("worker #{pid_text.(worker)}")
IO.puts("ponger #{pid_text.(ponger)}")
IO.puts("crasher #{pid_text.(crasher)}")
IO.puts("dropped #{stats.dropped}")
