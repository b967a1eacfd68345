# Realistic messages under the recorder's default settings: N self-sends (and receives) of
# `{:update, %URI{…}}`, whose values the writer thread renders, faster than it can render
# them. Prints the traced process's µs, the writer thread's CPU per event (`stats/0`'s
# `writer_cpu_us`) and the events recorded, dropped and recorded with their value shed.
#
#   cd recorder && MIX_ENV=test mix compile && \
#     elixir -pa _build/test/lib/elixir_scope/ebin bench/uri_messages.exs 200000

[n] = System.argv()
n = String.to_integer(n)
uri = URI.parse("https://user@example.com:8443/path/to/resource?query=1&b=2#frag")
dir = Path.join(System.tmp_dir!(), "scope_uri_messages_#{System.pid()}")

parent = self()

loop = fn
  0, _ ->
    :ok

  k, loop ->
    send(self(), {:update, %{uri | port: k}})

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

{:ok, _} = ElixirScope.start(dir: dir)
:ok = ElixirScope.trace([pid], messages: true, procs: false)
send(pid, :go)

us =
  receive do
    {:done, us} -> us
  end

{:ok, stats} = ElixirScope.stop()
File.rm_rf!(dir)
writer_ns = stats.writer_cpu_us * 1000 / max(stats.events, 1)

IO.puts(
  "traced #{us} µs, writer #{Float.round(writer_ns, 1)} ns/event, " <>
    "events #{stats.events}, dropped #{stats.dropped}, values shed #{stats.values_shed}"
)
