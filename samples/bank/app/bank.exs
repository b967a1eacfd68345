# A small bank: accounts in a Ledger GenServer, a Fraud checker GenServer, an Audit log,
# all under one Supervisor; transfers are requests (ElixirScope spans) run by a pool of
# Tasks. Planted problems for `scope analyze` to find:
#   - every 97th transfer takes Bank.Fraud's slow path (a 40 ms "manual review");
#   - a statement job crashes on a closed account and takes its two linked helper
#     processes down with it (a crash cascade).
# Deterministic: fixed seed, fixed amounts. Recorded by ../record.sh with `scope record`.

defmodule Bank.Ledger do
  use GenServer

  def start_link(accounts), do: GenServer.start_link(__MODULE__, accounts, name: __MODULE__)
  def transfer(from, to, amount), do: GenServer.call(__MODULE__, {:transfer, from, to, amount})
  def balance(account), do: GenServer.call(__MODULE__, {:balance, account})

  def init(accounts), do: {:ok, %{balances: Map.new(accounts, &{&1, 1_000}), transfers: 0}}

  def handle_call({:transfer, from, to, amount}, _from, %{balances: b} = s) do
    if Map.fetch!(b, from) >= amount do
      b = b |> Map.update!(from, &(&1 - amount)) |> Map.update!(to, &(&1 + amount))
      {:reply, :ok, %{s | balances: b, transfers: s.transfers + 1}}
    else
      {:reply, {:error, :insufficient_funds}, s}
    end
  end

  def handle_call({:balance, account}, _from, s), do: {:reply, Map.fetch!(s.balances, account), s}
end

defmodule Bank.Fraud do
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, 0, name: __MODULE__)
  def check(id, amount), do: GenServer.call(__MODULE__, {:check, id, amount}, 5_000)

  def init(n), do: {:ok, n}

  def handle_call({:check, id, _amount}, _from, n) when rem(id, 97) == 0 do
    # The slow path: a "manual review".
    Process.sleep(40)
    {:reply, :ok, n + 1}
  end

  def handle_call({:check, _id, amount}, _from, n) do
    {:reply, if(Bank.Score.of(amount) > 0, do: :ok, else: :review), n + 1}
  end
end

defmodule Bank.Score do
  # A little CPU per check (not traced: only its caller's time matters).
  def of(amount), do: Enum.reduce(1..200, amount, fn i, acc -> rem(acc * 31 + i, 10_007) end)
end

defmodule Bank.Audit do
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)
  def record(entry), do: GenServer.cast(__MODULE__, {:record, entry})
  def count, do: GenServer.call(__MODULE__, :count)

  def init(log), do: {:ok, {0, log}}

  def handle_cast({:record, entry}, {n, log}),
    do: {:noreply, {n + 1, Enum.take([entry | log], 5)}}

  def handle_call(:count, _from, {n, _} = s), do: {:reply, n, s}
end

defmodule Bank.Transfers do
  # One request: check, move the money, audit it.
  def run({id, from, to, amount}) do
    ElixirScope.span("transfer", %{id: id, amount: amount}, fn ->
      :ok = Bank.Fraud.check(id, amount)
      result = Bank.Ledger.transfer(from, to, amount)
      Bank.Audit.record({id, result})
      result
    end)
  end
end

defmodule Bank.Statement do
  # A statement job with two linked helpers; a closed account makes it crash.
  def run(account, parent) do
    helpers = for _ <- 1..2, do: spawn_link(fn -> Process.sleep(:infinity) end)
    send(parent, {:helpers, helpers})
    Process.sleep(10)
    if account == :closed, do: raise(ArgumentError, "account #{inspect(account)} is closed")
    :ok
  end
end

accounts = Enum.map(1..20, &:"acct_#{&1}")

{:ok, sup} =
  Supervisor.start_link(
    [
      {Bank.Ledger, accounts},
      Bank.Fraud,
      Bank.Audit,
      {Task.Supervisor, name: Bank.Pool}
    ],
    strategy: :one_for_one
  )

:rand.seed(:exsss, {7, 7, 7})

transfers =
  for id <- 1..300 do
    [from, to] = Enum.take_random(accounts, 2)
    {id, from, to, :rand.uniform(50)}
  end

results =
  Task.Supervisor.async_stream(Bank.Pool, transfers, &Bank.Transfers.run/1,
    max_concurrency: 4,
    ordered: true
  )
  |> Enum.map(fn {:ok, r} -> r end)

# The statement job crashes; its helpers go down with it.
parent = self()
job = spawn(fn -> Bank.Statement.run(:closed, parent) end)
ref = Process.monitor(job)

receive do
  {:helpers, _} -> :ok
end

receive do
  {:DOWN, ^ref, _, _, _} -> :ok
end

Process.sleep(20)
300 = Bank.Audit.count()
IO.puts("transfers ok=#{Enum.count(results, &(&1 == :ok))} of #{length(results)}")
IO.puts("total #{Enum.sum(Enum.map(accounts, &Bank.Ledger.balance/1))}")
Supervisor.stop(sup)
