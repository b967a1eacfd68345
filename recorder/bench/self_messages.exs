# Realistic messages under the recorder: N self-sends (and receives) of `{:update, term}`,
# whose values the writer thread renders, faster than it can render them. The term is a
# `%URI{}` (`uri`, the default) or a map of 25 atom keys and short strings (`wide`), whose
# copy (~625 bytes) is larger than the default 256-byte capture bound. CAPTURE is `none` or
# a byte bound (default: the recorder's default). Prints the traced process's µs and ns per
# event, the writer thread's CPU per event (`stats/0`'s `writer_cpu_us`) and the events
# recorded, dropped and recorded with their value shed.
#
#   cd recorder && MIX_ENV=test mix compile && \
#     elixir -pa _build/test/lib/elixir_scope/ebin bench/self_messages.exs N [uri|wide] [CAPTURE]

{n, kind, capture} =
  case System.argv() do
    [n] -> {n, "uri", []}
    [n, kind] -> {n, kind, []}
    [n, kind, "none"] -> {n, kind, [capture: :none]}
    [n, kind, bytes] -> {n, kind, [capture: {:bytes, String.to_integer(bytes)}]}
  end

n = String.to_integer(n)

term =
  case kind do
    "uri" -> URI.parse("https://user@example.com:8443/path/to/resource?query=1&b=2#frag")
    "wide" -> Map.new(1..25, fn i -> {:"field_#{i}", "value number #{i}"} end)
  end

# Each message differs from the last in one field.
vary = if kind == "uri", do: &%{term | port: &1}, else: &%{term | field_1: &1}
dir = Path.join(System.tmp_dir!(), "scope_self_messages_#{System.pid()}")

parent = self()

loop = fn
  0, _ ->
    :ok

  k, loop ->
    send(self(), {:update, vary.(k)})

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

{:ok, _} = ElixirScope.start([dir: dir] ++ capture)
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
  "traced #{us} µs (#{Float.round(us * 1000 / (2 * n), 1)} ns/event), " <>
    "writer #{Float.round(writer_ns, 1)} ns/event, events #{stats.events}, " <>
    "dropped #{stats.dropped}, values shed #{stats.values_shed}"
)
