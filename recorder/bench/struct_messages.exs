# Struct-sized messages under the recorder: N self-sends (and receives) of `{:update, map}`,
# a map of 25 atom keys and short strings, whose copy (~625 bytes) is larger than the default
# 256-byte capture bound. Prints the traced process's ns per event, the writer thread's CPU
# per event (`stats/0`'s `writer_cpu_us`) and the values shed.
#
#   cd recorder && MIX_ENV=test mix compile && \
#     elixir -pa _build/test/lib/elixir_scope/ebin bench/struct_messages.exs 100000 none|256|4096

[n, capture] = System.argv()
n = String.to_integer(n)
wide = Map.new(1..25, fn i -> {:"field_#{i}", "value number #{i}"} end)
dir = Path.join(System.tmp_dir!(), "scope_struct_messages_#{System.pid()}")
parent = self()

loop = fn
  0, _ ->
    :ok

  k, loop ->
    send(self(), {:update, %{wide | field_1: k}})

    receive do
      {:update, _} -> :ok
    end

    loop.(k - 1, loop)
end

pid =
  spawn(fn ->
    receive do
      :go -> :ok
    end

    t0 = System.monotonic_time(:microsecond)
    loop.(n, loop)
    send(parent, {:done, System.monotonic_time(:microsecond) - t0})
  end)

capture = if capture == "none", do: :none, else: {:bytes, String.to_integer(capture)}
{:ok, _} = ElixirScope.start(dir: dir, capture: capture)
:ok = ElixirScope.trace([pid], messages: true, procs: false)
send(pid, :go)

us =
  receive do
    {:done, us} -> us
  end

{:ok, stats} = ElixirScope.stop()
File.rm_rf!(dir)

IO.puts(
  "capture #{inspect(capture)}: traced #{Float.round(us * 1000 / (2 * n), 1)} ns/event, " <>
    "writer #{Float.round(stats.writer_cpu_us * 1000 / max(stats.events, 1), 1)} ns/event, " <>
    "values shed #{stats.values_shed}"
)
