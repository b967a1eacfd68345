# A bank account GenServer driven through every state-changing callback — init/1,
# handle_continue/2, handle_call/3, handle_cast/2, handle_info/2 — recorded by ElixirScope
# with returns, for `scope replay`: the replay must show each state it went through, in order.
#
#   elixir -pa <elixir_scope ebin> genserver_workload.exs <trace dir>
# Prints `account <0.N.S>`, `init <its first state>`, `transitions N` and `state<i> <inspect(state)>` for every state
# the server reached (read back with :sys.get_state/1, which runs no callback).

defmodule Bank.Account do
  use GenServer

  def init(owner), do: {:ok, %{owner: owner, balance: 0, log: []}, {:continue, :open}}

  def handle_continue(:open, s), do: {:noreply, %{s | log: [:opened | s.log]}}

  def handle_call({:deposit, n}, _from, s) do
    s = %{s | balance: s.balance + n, log: [{:deposit, n} | s.log]}
    {:reply, {:ok, s.balance}, s}
  end

  def handle_call({:withdraw, n}, _from, %{balance: b} = s) when n > b,
    do: {:reply, {:error, :insufficient}, s}

  def handle_call({:withdraw, n}, _from, s) do
    s = %{s | balance: s.balance - n, log: [{:withdraw, n} | s.log]}
    {:reply, {:ok, s.balance}, s}
  end

  def handle_cast({:rename, owner}, s), do: {:noreply, %{s | owner: owner}}

  def handle_info(:interest, s) do
    {:noreply, Map.put(%{s | balance: s.balance + 1}, :interest_paid, true)}
  end
end

[dir] = System.argv()
pid_text = fn pid -> List.to_string(:erlang.pid_to_list(pid)) end
{:ok, _} = ElixirScope.start(dir: dir, flush_ms: 20, capture: {:bytes, 1024})
:ok = ElixirScope.trace(:new, calls: [Bank.Account], returns: true, messages: true, procs: true)

parent = self()

spawn(fn ->
  {:ok, acct} = GenServer.start(Bank.Account, "ada")
  states = [:sys.get_state(acct)]

  step = fn f ->
    f.()
    :sys.get_state(acct)
  end

  states = states ++ [step.(fn -> {:ok, 100} = GenServer.call(acct, {:deposit, 100}) end)]
  states = states ++ [step.(fn -> {:ok, 70} = GenServer.call(acct, {:withdraw, 30}) end)]

  states =
    states ++ [step.(fn -> {:error, :insufficient} = GenServer.call(acct, {:withdraw, 500}) end)]

  states = states ++ [step.(fn -> GenServer.cast(acct, {:rename, "grace"}) end)]
  states = states ++ [step.(fn -> send(acct, :interest) end)]
  send(parent, {:done, acct, states})
end)

{acct, states} =
  receive do
    {:done, a, s} -> {a, s}
  after
    60_000 -> raise "workload did not finish"
  end

{:ok, stats} = ElixirScope.stop()
IO.puts("account #{pid_text.(acct)}")
# init/1's state, which handle_continue/2 replaced before anyone could read it.
IO.puts("init #{inspect(elem(Bank.Account.init("ada"), 1), limit: :infinity)}")
IO.puts("dropped #{stats.dropped}")
IO.puts("transitions #{length(states)}")

states
|> Enum.with_index()
|> Enum.each(fn {s, i} -> IO.puts("state#{i} #{inspect(s, limit: :infinity)}") end)
