defmodule ElixirScope.OptionsTest do
  use ExUnit.Case, async: false

  alias ElixirScope.{TraceFiles, Workload}
  import ElixirScope.{Eventually, Traced}

  setup do
    dir = TraceFiles.tmp_dir("opts")
    on_exit(fn -> ElixirScope.stop() end)
    {:ok, dir: dir, trace: Path.join(dir, "trace")}
  end

  test "telemetry start/stop pairs become spans with scalar metadata only", %{
    dir: dir,
    trace: trace
  } do
    {:ok, _} = ElixirScope.start(dir: trace)

    :ok =
      ElixirScope.Telemetry.attach([
        [:shop, :order, :start],
        [:shop, :order, :stop],
        [:shop, :cache, :hit]
      ])

    big = %{__struct__: Plug.Conn, body: String.duplicate("x", 10_000)}
    :telemetry.execute([:shop, :order, :start], %{system_time: 1}, %{order_id: 7, conn: big})
    :telemetry.execute([:shop, :cache, :hit], %{count: 1}, %{key: "a"})

    :telemetry.execute(
      [:shop, :order, :stop],
      %{duration: System.convert_time_unit(5, :millisecond, :native)},
      %{order_id: 7}
    )

    :ok = ElixirScope.Telemetry.detach()
    {:ok, _} = ElixirScope.stop()

    [start] = TraceFiles.events(dir, :span_start)
    [stop] = TraceFiles.events(dir, :span_stop)
    [hit] = TraceFiles.events(dir, :telemetry)
    assert start.name == "shop.order.start"
    assert stop.name == "shop.order.stop"
    assert start.correlation == stop.correlation and start.correlation > 0
    assert Enum.at(stop.nums, 1) == 5_000_000
    assert start.value =~ "order_id: 7"
    refute start.value =~ "conn"
    assert hit.name == "shop.cache.hit"
    assert hit.value =~ ~s(key: "a")
  end

  test "telemetry spans started inside another are its children", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)
    events = for e <- [:req, :db], p <- [:start, :stop], do: [:app, e, p]
    :ok = ElixirScope.Telemetry.attach(events)

    run = fn e, fun ->
      :telemetry.execute([:app, e, :start], %{}, %{})
      fun.()
      :telemetry.execute([:app, e, :stop], %{duration: 1}, %{})
    end

    run.(:req, fn ->
      run.(:db, fn -> :ok end)
      run.(:db, fn -> :ok end)
    end)

    # And inside a span of ElixirScope's own.
    ElixirScope.span("outer", %{}, fn -> run.(:db, fn -> :ok end) end)
    :ok = ElixirScope.Telemetry.detach()
    {:ok, _} = ElixirScope.stop()

    starts = TraceFiles.events(dir, :span_start)
    parent = fn s -> hd(s.nums) end
    [req] = Enum.filter(starts, &(&1.name == "app.req.start"))
    [outer] = Enum.filter(starts, &(&1.name == "outer"))
    [db1, db2, db3] = Enum.filter(starts, &(&1.name == "app.db.start"))
    assert parent.(req) == 0
    assert parent.(db1) == req.correlation and parent.(db2) == req.correlation
    assert parent.(db3) == outer.correlation
    # Closed, the request no longer encloses what follows.
    assert Process.get(:elixir_scope_span, 0) == 0
  end

  test "telemetry attach without :telemetry loaded is a clear error" do
    # The fake module is loaded in tests; the real check is Code.ensure_loaded?/1.
    assert Code.ensure_loaded?(:telemetry)
    assert {:error, :not_found} = ElixirScope.Telemetry.detach()
  end

  test "trace_plan traces full functions always and sampled ones part of the time", %{
    dir: dir,
    trace: trace
  } do
    {:ok, _} = ElixirScope.start(dir: trace)

    plan = [
      {:elixir_scope_plan, 1},
      {:returns, true},
      {:messages, false},
      {:procs, false},
      {:full, [{Workload, :sum, 1}]},
      {:sample, 0.5, [{Workload, :add, 2}]}
    ]

    path = Path.join(dir, "plan.config")
    File.write!(path, Enum.map(plan, &[:io_lib.format(~c"~p.~n", [&1])]))
    :ok = ElixirScope.trace_plan(path, self())

    # Calls for 300 ms: at least one whole on/off cycle of the 100 ms sampling period.
    deadline = System.monotonic_time(:millisecond) + 300

    calls =
      Stream.iterate(0, &(&1 + 1))
      |> Enum.find(fn n ->
        Workload.add(n, 1)
        Process.sleep(1)
        System.monotonic_time(:millisecond) >= deadline
      end)

    Workload.sum([1, 2, 3])
    {:ok, _} = ElixirScope.stop()

    {_, events} = TraceFiles.read(dir)
    of = fn kind, mfa -> Enum.filter(events, &(&1.kind == kind and &1.mfa == mfa)) end
    adds = of.(:call, "ElixirScope.Workload.add/2")
    add_returns = of.(:return_from, "ElixirScope.Workload.add/2")
    sums = of.(:call, "ElixirScope.Workload.sum/1")

    # Sampled: some calls, not all; each with its return. Full: the one call.
    assert length(adds) > 0 and length(adds) < calls + 1
    assert length(add_returns) >= length(adds) - 1
    assert length(sums) == 1
  end

  test "a plan that only samples still records those calls", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)

    plan = [
      {:elixir_scope_plan, 1},
      {:messages, false},
      {:procs, false},
      {:full, []},
      {:sample, 1.0, [{Workload, :add, 2}]}
    ]

    :ok = ElixirScope.trace_plan(plan, self())
    # The first on-phase starts once the recorder handles its own message.
    _ = ElixirScope.stats()
    :sys.get_state(ElixirScope.Recorder)
    Workload.add(1, 2)
    {:ok, _} = ElixirScope.stop()
    assert [_] = TraceFiles.events(dir, :call)
  end

  test "trace_plan refuses what is not a plan", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)
    missing = Path.join(dir, "nope.config")
    assert {:error, {:plan, ^missing, :enoent}} = ElixirScope.trace_plan(missing)
    # As Erlang passes it: a charlist names the same file.
    assert {:error, {:plan, ^missing, :enoent}} =
             ElixirScope.trace_plan(String.to_charlist(missing))

    assert {:error, {:plan, _}} = ElixirScope.trace_plan([{:budget, 10}])

    assert {:error, {:plan, _}} =
             ElixirScope.trace_plan([{:elixir_scope_plan, 1}, {:full, [:not_an_mfa]}])
  end

  test "max_events_per_sec discards above the budget and counts it", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, max_events_per_sec: 100, flush_ms: 10)

    {_pid, _} =
      run([calls: [Workload], messages: false, procs: false], fn ->
        for i <- 1..2000, do: Workload.add(i, 1)
      end)

    {:ok, stats} = ElixirScope.stop()
    assert stats.dropped_budget > 3000
    assert stats.events < 1000
    {summary, events} = TraceFiles.read(dir)
    assert summary.dropped == stats.dropped
    assert Enum.any?(events, &(&1.kind == :dropped and Enum.at(&1.nums, 1) == 1))
  end

  test "sample: 0.0001 keeps almost no processes, whole or not at all", %{trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)

    {_pid, _} =
      run([calls: [Workload], sample: 0.0001, procs: false], fn ->
        Workload.add(1, 2)
      end)

    s = ElixirScope.stats()
    assert s.events == 0 or s.events >= 3
    assert {:error, {:invalid_option, :sample, _}} = ElixirScope.trace(self(), sample: 2)
  end

  test "gc and scheduling events carry sizes and functions", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)

    {_pid, _} =
      run([gc: true, scheduling: true, messages: false, procs: false], fn ->
        _ = Enum.map(1..50_000, &{&1, &1})
        :erlang.garbage_collect()
        Process.sleep(5)
      end)

    {:ok, _} = ElixirScope.stop()
    gcs = TraceFiles.events(dir, :gc_major_start) ++ TraceFiles.events(dir, :gc_minor_start)
    assert gcs != []
    assert Enum.all?(gcs, fn g -> hd(g.nums) > 0 end), "heap_size recorded"
    assert TraceFiles.events(dir, :in) != []
    assert TraceFiles.events(dir, :out) != []
  end

  test "ELIXIR_SCOPE_CLOCK=monotonic set from Elixir is heeded", %{dir: dir, trace: trace} do
    System.put_env("ELIXIR_SCOPE_CLOCK", "monotonic")

    try do
      {:ok, _} = ElixirScope.start(dir: trace)
      {_pid, 3} = run([calls: [Workload], procs: false], fn -> Workload.add(1, 2) end)
      {:ok, _} = ElixirScope.stop()
    after
      System.delete_env("ELIXIR_SCOPE_CLOCK")
    end

    %{clocks: clocks} = TraceFiles.summary(dir)
    assert clocks != []
    assert Enum.all?(clocks, &(&1 == "monotonic")), inspect(clocks)
  end

  test "trace/2 refuses bad targets and options", %{trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)
    assert {:error, {:invalid_target, :everything}} = ElixirScope.trace(:everything, [])
    assert {:error, {:invalid_option, :calls, _}} = ElixirScope.trace(self(), calls: ["x"])
    assert {:error, {:invalid_option, :bogus, _}} = ElixirScope.trace(self(), bogus: true)
    # A module that does not exist (a typo) would never be traced: refused, with its name.
    assert {:error, {:invalid_option, :calls, why}} =
             ElixirScope.trace(:new, calls: [ElixirScope.Workload, No.Such.Mod, {:nope, :f, 1}])

    assert why =~ "No.Such.Mod" and why =~ ":nope"
    refute why =~ "Workload"
    assert :ok = ElixirScope.trace([self()], messages: true)
  end

  test "a write error stops recording; the node runs on and stats say why", %{
    dir: dir,
    trace: trace
  } do
    node_dir = Path.join(trace, Atom.to_string(node()))
    # Segment 2 cannot be created: a directory is in its place.
    for seq <- 2..20,
        do:
          File.mkdir_p!(
            Path.join(node_dir, "seg-" <> String.pad_leading("#{seq}", 6, "0") <> ".scope")
          )

    {:ok, _} =
      ElixirScope.start(dir: trace, segment_bytes: 65_536, max_bytes: 10_000_000, flush_ms: 5)

    # Incompressible values fill the 64 KiB segment after a few hundred events.
    data = Base.encode64(:crypto.strong_rand_bytes(150))

    # Small batches: each flush commits a small chunk, so segment 1 fills with several before
    # the rotation to segment 2 fails.
    Enum.reduce_while(1..2000, 0, fn batch, _ ->
      for i <- 1..20,
          do:
            ElixirScope.event(
              "fill",
              {batch, i, Base.encode64(:crypto.strong_rand_bytes(150)), data}
            )

      Process.sleep(10)
      if ElixirScope.stats().state == :running, do: {:cont, batch}, else: {:halt, batch}
    end)

    wait_until(fn -> ElixirScope.stats().state == :failed end)
    s = ElixirScope.stats()
    assert s.stop_reason == :error
    assert s.last_error =~ "seg-000002.scope"

    assert {:error, :not_recording} == ElixirScope.event("after", 1),
           "calls after the failure are harmless, and told so"

    {:ok, _} = ElixirScope.stop()
    {summary, events} = TraceFiles.read(dir)
    assert summary.damage == []
    assert length(events) > 10
  end
end
