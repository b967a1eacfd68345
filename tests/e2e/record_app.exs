# An ordinary Elixir script that knows nothing of ElixirScope, for `scope record`: a
# GenServer defined right here (compiled when the script runs) answers 25 calls and 5 casts,
# a task crashes, and the script ends with System.halt(3).
#
#   scope record --calls RecordApp.Counter --dir <trace> -- elixir record_app.exs

defmodule RecordApp.Counter do
  use GenServer

  def init(n), do: {:ok, n}
  def handle_call(:bump, _from, n), do: {:reply, n + 1, n + 1}
  def handle_cast({:add, k}, n), do: {:noreply, n + k}
end

{:ok, pid} = GenServer.start(RecordApp.Counter, 0)
for _ <- 1..25, do: GenServer.call(pid, :bump)
for k <- 1..5, do: GenServer.cast(pid, {:add, k})
41 = GenServer.call(pid, :bump)
IO.puts("counter #{List.to_string(:erlang.pid_to_list(pid))}")
System.halt(3)
