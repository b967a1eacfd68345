# A door lock written with :gen_statem (state functions), recorded by ElixirScope with
# returns, for `scope replay`: the replay must show each {state, data} it went through.
#
#   elixir -pa <elixir_scope ebin> statem_workload.exs <trace dir>
# Prints `door <0.N.S>`, `steps N` and `state<i> <inspect(:sys.get_state(door))>` after
# start and after each event (:sys.get_state/1 runs no state callback).

defmodule Door do
  @behaviour :gen_statem

  def callback_mode, do: :state_functions
  def init(code), do: {:ok, :locked, %{code: code, tries: 0}}

  def locked({:call, from}, {:enter, code}, %{code: code} = d),
    do: {:next_state, :open, %{d | tries: 0}, [{:reply, from, :ok}]}

  def locked({:call, from}, {:enter, _wrong}, d),
    do: {:keep_state, %{d | tries: d.tries + 1}, [{:reply, from, :wrong}]}

  def locked(:cast, {:set_code, code}, d), do: {:keep_state, %{d | code: code}}

  def open({:call, from}, :lock, d), do: {:next_state, :locked, d, [{:reply, from, :ok}]}
end

[dir] = System.argv()
{:ok, _} = ElixirScope.start(dir: dir, flush_ms: 20, capture: {:bytes, 1024})
:ok = ElixirScope.trace(:new, calls: [Door], returns: true, messages: true, procs: true)

parent = self()

spawn(fn ->
  {:ok, door} = :gen_statem.start(Door, 42, [])
  step = fn f -> f.() && :sys.get_state(door) end

  states = [
    :sys.get_state(door),
    step.(fn -> :wrong = :gen_statem.call(door, {:enter, 7}) end),
    step.(fn -> :ok = :gen_statem.call(door, {:enter, 42}) end),
    step.(fn -> :ok = :gen_statem.call(door, :lock) end),
    step.(fn -> :ok = :gen_statem.cast(door, {:set_code, 99}) end)
  ]

  send(parent, {:done, door, states})
end)

{door, states} =
  receive do
    {:done, d, s} -> {d, s}
  after
    60_000 -> raise "workload did not finish"
  end

{:ok, stats} = ElixirScope.stop()
IO.puts("door #{List.to_string(:erlang.pid_to_list(door))}")
IO.puts("dropped #{stats.dropped}")
IO.puts("steps #{length(states)}")

states
|> Enum.with_index()
|> Enum.each(fn {s, i} -> IO.puts("state#{i} #{inspect(s, limit: :infinity)}") end)
