# An ingest pipeline: a Producer casts raw lines to a Parser stage, which parses each one
# and casts the result to a Store. Planted problems for `scope analyze` to find:
#   - after four seconds of steady input a backfill of 1500 lines arrives at once; the
#     Store takes ~0.2 ms per record, so its mailbox grows past a thousand messages
#     (mailbox_growth) before it drains;
#   - 150 corrupt lines arrive at once after two seconds: Pipeline.Parser.parse/1 raises
#     for each and the stage rescues and counts them (an exception_burst: most of that
#     second's calls raised, none elsewhere).
# Deterministic input. Recorded by ../record.sh with `scope record`.

defmodule Pipeline.Parser do
  # "id,amount" → %{id: id, amount: amount}; raises on anything else.
  def parse(line) do
    [id, amount] = String.split(line, ",")
    %{id: String.to_integer(id), amount: String.to_integer(amount)}
  end
end

defmodule Pipeline.Stage do
  use GenServer

  def start_link(store), do: GenServer.start_link(__MODULE__, store, name: __MODULE__)
  def push(line), do: GenServer.cast(__MODULE__, {:line, line})
  def errors, do: GenServer.call(__MODULE__, :errors, 60_000)

  def init(store), do: {:ok, %{store: store, errors: 0}}

  def handle_cast({:line, line}, s) do
    try do
      GenServer.cast(s.store, {:store, Pipeline.Parser.parse(line)})
      {:noreply, s}
    rescue
      _ in [MatchError, ArgumentError] -> {:noreply, %{s | errors: s.errors + 1}}
    end
  end

  def handle_call(:errors, _from, s), do: {:reply, s.errors, s}
end

defmodule Pipeline.Store do
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, %{count: 0, total: 0}, name: __MODULE__)
  def totals, do: GenServer.call(__MODULE__, :totals, 60_000)

  def init(s), do: {:ok, s}

  def handle_cast({:store, rec}, s) do
    # About 0.2 ms of work per record: fine for steady input, not for a backfill.
    Pipeline.Work.spin(12_000)
    {:noreply, %{s | count: s.count + 1, total: s.total + rec.amount}}
  end

  def handle_call(:totals, _from, s), do: {:reply, s, s}
end

defmodule Pipeline.Work do
  def spin(n), do: Enum.reduce(1..n, 0, fn i, acc -> rem(acc + i * i, 1_000_003) end)
end

{:ok, _} = Pipeline.Store.start_link([])
{:ok, _} = Pipeline.Stage.start_link(Pipeline.Store)

line = fn i -> "#{i},#{rem(i * 37, 100)}" end

producer =
  Task.async(fn ->
    # Four seconds of steady input (20 lines every 200 ms) …
    1..400
    |> Enum.chunk_every(20)
    |> Enum.with_index()
    |> Enum.each(fn {chunk, k} ->
      Enum.each(chunk, &Pipeline.Stage.push(line.(&1)))
      # … with 150 corrupt lines at once after two seconds …
      if k == 10, do: Enum.each(1..150, &Pipeline.Stage.push("#{&1};corrupt"))
      Process.sleep(200)
    end)

    # … then a backfill of 1500 lines at once.
    Enum.each(401..1900, &Pipeline.Stage.push(line.(&1)))
  end)

Task.await(producer, 60_000)
150 = Pipeline.Stage.errors()
%{count: 1900} = Pipeline.Store.totals()
IO.puts("stored 1900, rejected 150")
