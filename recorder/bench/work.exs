# The benchmarks' workloads and their timing, shared by overhead.exs, workload.exs,
# writer_cpu.exs and capture_cost.exs (each loads this file with Code.require_file/2).

defmodule Bench.Work do
  @moduledoc false

  def f(x), do: x + 1

  # Returns its argument (capture_cost.exs: the return value is the term under test).
  def same(x), do: x

  def calls(0), do: :ok

  def calls(n) do
    f(n)
    calls(n - 1)
  end

  def calls_same(_x, 0), do: :ok

  def calls_same(x, n) do
    same(x)
    calls_same(x, n - 1)
  end

  def pingpong(_peer, 0), do: :ok

  def pingpong(peer, n) do
    send(peer, {:ping, self(), n})

    receive do
      {:pong, ^n} -> pingpong(peer, n - 1)
    end
  end

  @doc """
  The function a `runner/1` runs for `workload` of `n` events ("calls" or "returns": `n`
  calls of `f/1`; "pingpong": `n / 4` ping-pongs with a ponger), and the other processes
  it uses.
  """
  def workload("pingpong", n) do
    peer = spawn(&ponger/0)
    {fn -> pingpong(peer, div(n, 4)) end, [peer]}
  end

  def workload(calls_or_returns, n) when calls_or_returns in ["calls", "returns"],
    do: {fn -> calls(n) end, []}

  # `n / 4` GenServer calls (a call and its reply: four message events), alternately
  # storing a small map under one of 100 keys and reading one back: the nested messages
  # of OTP's protocol (`{:"$gen_call", {pid, [:alias | ref]}, request}`, `{[:alias | ref],
  # reply}`), which the writer renders through a copy's tree.
  def workload("genserver", n) do
    {:ok, kv} = GenServer.start(Bench.KV, %{})
    {fn -> kv_calls(kv, div(n, 8)) end, [kv]}
  end

  def kv_calls(_kv, 0), do: :ok

  def kv_calls(kv, n) do
    key = rem(n, 100)
    :ok = GenServer.call(kv, {:put, key, %{id: n, name: "user", active: true}})
    %{id: ^n} = GenServer.call(kv, {:get, key})
    kv_calls(kv, n - 1)
  end

  def ponger do
    receive do
      {:ping, from, n} ->
        send(from, {:pong, n})
        ponger()
    end
  end

  @doc "Traces calls of `f/1` (and their returns when `returns`) wherever call tracing is on."
  def pattern(returns) do
    ms = if returns, do: [{:_, [], [{:return_trace}]}], else: true
    :erlang.trace_pattern({Bench.Work, :f, 1}, ms, [:local])
  end

  @doc "Traces `pids` for `flags` with the NIF tracer that only counts (the floor)."
  def count(pids, flags) do
    c = ElixirScope.Native.counter_new()
    for pid <- pids, do: :erlang.trace(pid, true, [{:tracer, ElixirScope.Native, c} | flags])
  end

  @doc """
  A process that runs `fun` when sent `:go` and then sends the caller `{:done, µs}`: the
  traced process's own time.
  """
  def runner(fun) do
    parent = self()

    spawn(fn ->
      receive do
        :go ->
          t0 = System.monotonic_time(:microsecond)
          fun.()
          send(parent, {:done, System.monotonic_time(:microsecond) - t0})
      end
    end)
  end

  @doc "Starts a `runner/1` process and waits for its µs."
  def run(pid) do
    send(pid, :go)

    receive do
      {:done, us} -> us
    end
  end
end

defmodule Bench.KV do
  @moduledoc false
  use GenServer

  @impl true
  def init(state), do: {:ok, state}

  @impl true
  def handle_call({:get, key}, _from, state), do: {:reply, Map.get(state, key), state}
  def handle_call({:put, key, value}, _from, state), do: {:reply, :ok, Map.put(state, key, value)}
end
