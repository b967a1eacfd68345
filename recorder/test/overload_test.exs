defmodule ElixirScope.OverloadTest do
  use ExUnit.Case, async: false

  alias ElixirScope.{TraceFiles, Workload}

  @moduledoc """
  Every call of a busy node traced into tiny buffers: events are dropped and counted in the
  files, values are left out of events while a ring is nearly full (counted, and written
  empty and marked truncated), memory stays bounded, and the node keeps answering. The
  bounds are generous on purpose (this is a safety test, not a benchmark).
  """

  defp rss_kb do
    "/proc/self/status"
    |> File.read!()
    |> String.split("\n")
    |> Enum.find_value(fn l ->
      with "VmRSS:" <> rest <- l,
           do: rest |> String.trim() |> String.trim_trailing(" kB") |> String.to_integer(),
           else: (_ -> nil)
    end)
  end

  defp hammer(stop_at) do
    if System.monotonic_time(:millisecond) < stop_at do
      for i <- 1..1000, do: Workload.add(i, i)
      hammer(stop_at)
    end
  end

  test "tiny buffers under a flood: drops counted, memory bounded, node responsive" do
    dir = TraceFiles.tmp_dir("overload")

    {:ok, _} =
      ElixirScope.start(
        dir: Path.join(dir, "trace"),
        buffer_bytes: 65_536,
        flush_ms: 200,
        capture: {:bytes, 64}
      )

    rss_before = rss_kb()
    stop_at = System.monotonic_time(:millisecond) + 1500
    workers = for _ <- 1..4, do: spawn(fn -> hammer(stop_at) end)

    for w <- workers,
        do: :ok = ElixirScope.trace(w, calls: [Workload], messages: false, procs: false)

    probe =
      spawn(fn ->
        Stream.repeatedly(fn -> receive(do: ({:ping, from} -> send(from, :pong))) end)
        |> Stream.run()
      end)

    worst =
      for _ <- 1..20, reduce: 0 do
        acc ->
          t0 = System.monotonic_time(:microsecond)
          send(probe, {:ping, self()})
          assert_receive :pong, 5_000
          Process.sleep(50)
          max(acc, System.monotonic_time(:microsecond) - t0 - 50_000)
      end

    for w <- workers do
      ref = Process.monitor(w)
      assert_receive {:DOWN, ^ref, _, _, _}, 10_000
    end

    rss_after = rss_kb()
    {:ok, stats} = ElixirScope.stop()

    assert stats.dropped_full > 0, "tiny buffers must overflow under this load"
    assert stats.values_shed > 0, "a nearly full 64 KiB ring sheds values"
    assert worst < 2_000_000, "a probe answered in #{worst} µs"
    # Rings: (schedulers + 1) × 64 KiB; allow generous slack for the VM itself.
    assert rss_after - rss_before < 200_000, "RSS grew by #{rss_after - rss_before} kB"
    summary = TraceFiles.summary(dir)
    assert summary.dropped == stats.dropped
    assert summary.damage == []
    assert summary.kinds[:dropped] > 0

    # The shed values are in the files, each as an empty value marked truncated.
    small = TraceFiles.tmp_dir("overload_small")
    {:ok, _} = ElixirScope.start(dir: Path.join(small, "trace"), buffer_bytes: 65_536)
    stop_at = System.monotonic_time(:millisecond) + 300
    worker = spawn(fn -> hammer(stop_at) end)
    :ok = ElixirScope.trace(worker, calls: [Workload], messages: false, procs: false)
    ref = Process.monitor(worker)
    assert_receive {:DOWN, ^ref, _, _, _}, 10_000
    {:ok, stats} = ElixirScope.stop()
    assert stats.values_shed > 0
    assert TraceFiles.summary(small).empty_truncated == stats.values_shed
  end

  test "messages whose values are shed still pair a send with its receive" do
    dir = TraceFiles.tmp_dir("overload_messages")
    # Rings of 2 MiB: the writer renders these messages slower than the process sends them,
    # falls behind, and the process sheds values, with room left for the shed records.
    {:ok, _} = ElixirScope.start(dir: Path.join(dir, "trace"), buffer_bytes: 2_097_152)
    uri = URI.parse("https://user@example.com:8443/path/to/resource?query=1#frag")
    n = 20_000

    worker =
      spawn(fn ->
        receive do
          :go -> :ok
        end

        for port <- 1..n do
          send(self(), {:update, %{uri | port: port}})

          receive do
            {:update, _} -> :ok
          end
        end
      end)

    :ok = ElixirScope.trace(worker, messages: true, procs: false)
    ref = Process.monitor(worker)
    send(worker, :go)
    assert_receive {:DOWN, ^ref, _, _, _}, 10_000
    {:ok, stats} = ElixirScope.stop()

    assert stats.values_shed > 0, "the writer fell behind these messages"
    {_summary, events} = TraceFiles.read(dir)
    hashes = fn kind -> for %{kind: ^kind, hash: h} <- events, do: h end
    sends = hashes.(:send)
    receives = hashes.(:receive)
    # The n messages, and the receive of :go.
    assert length(sends) + length(receives) == 2 * n + 1 - stats.dropped
    # Each message hashes apart (the port differs), so pairing is exact: a receive without
    # its send is :go's, or one whose send was dropped (none, with rings this size, here).
    assert length(Enum.uniq(sends)) == length(sends)
    unmatched = Enum.sort(receives) -- Enum.sort(sends)
    assert length(unmatched) <= stats.dropped + 1

    shed = Enum.count(events, &(&1.value == "" and &1.truncated))
    assert shed == stats.values_shed
  end
end
