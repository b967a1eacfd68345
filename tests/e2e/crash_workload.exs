# Records a busy process until killed:
#   elixir -pa <elixir_scope ebin> crash_workload.exs <trace dir>
# Prints `os_pid <pid>` once, then `committed <n>` (events safely in the files) every 20 ms.

defmodule Busy do
  def work(n), do: n + 1

  def loop(n) do
    work(n)
    if rem(n, 200) == 0, do: Process.sleep(1)
    loop(n + 1)
  end
end

[dir] = System.argv()
{:ok, _} = ElixirScope.start(dir: dir, flush_ms: 10)
busy = spawn(fn -> receive(do: (:go -> Busy.loop(0))) end)
:ok = ElixirScope.trace(busy, calls: [{Busy, :work, 1}], returns: false, messages: false, procs: false)
send(busy, :go)
IO.puts("os_pid #{System.pid()}")

Stream.repeatedly(fn ->
  Process.sleep(20)
  IO.puts("committed #{ElixirScope.stats().committed}")
end)
|> Stream.run()
