defmodule ElixirScopeTest do
  use ExUnit.Case, async: false

  alias ElixirScope.{TraceFiles, Workload}
  import ElixirScope.Traced, only: [run: 2]
  import ElixirScope.{Eventually, Traced}

  setup do
    dir = TraceFiles.tmp_dir("api")
    on_exit(fn -> ElixirScope.stop() end)
    {:ok, dir: dir, trace: Path.join(dir, "trace")}
  end

  test "start requires :dir and refuses bad options with their name" do
    assert {:error, {:invalid_option, :dir, "required"}} = ElixirScope.start([])

    assert {:error, {:invalid_option, :capture, _}} =
             ElixirScope.start(dir: "/tmp/x", capture: :all)

    assert {:error, {:invalid_option, :stop_after, _}} =
             ElixirScope.start(dir: "/tmp/x", stop_after: 5)

    assert {:error, {:invalid_option, :bogus, "unknown option"}} =
             ElixirScope.start(dir: "/tmp/x", bogus: 1)

    assert {:error, {:invalid_option, :flush_ms, _}} =
             ElixirScope.start(dir: "/tmp/x", flush_ms: 0)

    # Ranges the recorder itself checks come back in the same shape.
    assert {:error, {:invalid_option, :buffer_bytes, why}} =
             ElixirScope.start(dir: "/tmp/x", buffer_bytes: 1)

    assert why =~ "buffer_bytes"

    assert {:error, {:invalid_option, :max_bytes, _}} =
             ElixirScope.start(dir: "/tmp/x", max_bytes: 10 * 1024 * 1024)

    assert %{state: :not_recording} = ElixirScope.stats()
    assert {:error, :not_recording} = ElixirScope.stop()
  end

  test "a second start while recording is refused", %{trace: trace} do
    assert {:ok, pid} = ElixirScope.start(dir: trace)
    assert is_pid(pid)
    assert {:error, :already_started} = ElixirScope.start(dir: trace)
  end

  test "calls are recorded with arguments and return values", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, flush_ms: 10)

    {pid, 6} =
      run(
        [calls: [Workload], messages: false, procs: false],
        fn -> Workload.sum([1, 2, 3]) end
      )

    {:ok, stats} = ElixirScope.stop()
    assert stats.state == :stopped
    assert stats.events > 0

    calls = TraceFiles.events(dir, :call)
    adds = Enum.filter(calls, &(&1.mfa == "ElixirScope.Workload.add/2"))
    assert length(adds) == 3
    assert Enum.all?(adds, &(&1.pid == pid_text(pid)))
    assert Enum.map(adds, & &1.value) == ["1, 0", "2, 1", "3, 3"]

    [sum_call] = Enum.filter(calls, &(&1.mfa == "ElixirScope.Workload.sum/1"))
    assert sum_call.value == "[1, 2, 3]"

    returns = TraceFiles.events(dir, :return_from)

    assert Enum.map(Enum.filter(returns, &(&1.mfa == "ElixirScope.Workload.add/2")), & &1.value) ==
             ["1", "3", "6"]

    assert [%{value: "6"}] = Enum.filter(returns, &(&1.mfa == "ElixirScope.Workload.sum/1"))
  end

  test "exceptions are recorded as exception_from with class and reason", %{
    dir: dir,
    trace: trace
  } do
    {:ok, _} = ElixirScope.start(dir: trace)

    {_pid, :raised} =
      run(
        [calls: [{Workload, :boom, 1}], messages: false, procs: false],
        fn ->
          try do
            Workload.boom(7)
          rescue
            ArgumentError -> :raised
          end
        end
      )

    {:ok, _} = ElixirScope.stop()
    [ex] = TraceFiles.events(dir, :exception_from)
    assert ex.mfa == "ElixirScope.Workload.boom/1"
    assert ex.value =~ ~s({:error, %ArgumentError{)
    assert ex.value =~ ~s(message: "boom 7")
  end

  test "messages are recorded on both sides with equal hashes", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)
    echo = spawn(&Workload.echo_loop/0)
    :ok = ElixirScope.trace(echo, messages: true, procs: false)

    {_pid, :ok} =
      run(
        [messages: true, procs: false],
        fn ->
          for n <- 1..3 do
            send(echo, {:ping, self(), n})

            receive do
              {:pong, ^n} -> :ok
            end
          end

          :ok
        end
      )

    {:ok, _} = ElixirScope.stop()
    sends = TraceFiles.events(dir, :send)
    receives = TraceFiles.events(dir, :receive)
    pings = Enum.filter(sends, &String.starts_with?(&1.value, "{:ping"))
    assert length(pings) == 3
    assert Enum.all?(pings, &(&1.peer == pid_text(echo)))
    # (The echo process may also receive replies from the code server while loading code.)
    got =
      Enum.filter(
        receives,
        &(&1.pid == pid_text(echo) and String.starts_with?(&1.value, "{:ping"))
      )

    assert Enum.map(got, & &1.value) == Enum.map(pings, & &1.value)
    assert Enum.map(got, & &1.hash) == Enum.map(pings, & &1.hash)
    assert length(Enum.uniq(Enum.map(pings, & &1.hash))) == 3
  end

  test "capture: :none records no values but still pairs messages", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, capture: :none)
    {_pid, _} = run([calls: [Workload], procs: false], fn -> Workload.add(1, 2) end)
    {:ok, _} = ElixirScope.stop()
    {_summary, events} = TraceFiles.read(dir)
    assert Enum.any?(events, &(&1.kind == :call))

    assert Enum.all?(
             events,
             &(&1.value == :undefined or &1.kind in [:recorder_start, :recorder_stop])
           )
  end

  test "a receive … after that timed out is recorded as a receive of `timeout`, hash and all",
       %{dir: dir} do
    # Without values, scope-analyze tells such a receive inside a GenServer callback from a
    # queued message by this hash (TIMEOUT_HASH in analyze/src/mailbox.rs).
    timeout_hash = 0x651C1574
    values_dir = TraceFiles.tmp_dir("api_timeout")

    for {capture, d} <- [{:none, dir}, {{:bytes, 256}, values_dir}] do
      {:ok, _} = ElixirScope.start(dir: Path.join(d, "trace"), capture: capture)

      {pid, :slept} =
        run([messages: true, procs: false], fn ->
          receive do
          after
            1 -> :slept
          end
        end)

      {:ok, _} = ElixirScope.stop()
      mine = Enum.filter(TraceFiles.events(d, :receive), &(&1.pid == pid_text(pid)))
      assert [timeout] = Enum.filter(mine, &(&1.hash == timeout_hash)), inspect(mine)
      assert timeout.value == if(capture == :none, do: :undefined, else: ":timeout")
    end
  end

  test "without value capture the VM passes arities, not argument lists", %{
    dir: dir,
    trace: trace
  } do
    opts = [calls: [Workload], procs: false, messages: false]
    # The traced process's own flags, once tracing is set up.
    flags = fn -> elem(:erlang.trace_info(self(), :flags), 1) end

    {:ok, _} = ElixirScope.start(dir: trace, capture: :none)
    {_pid, {flags_none, 3}} = run(opts, fn -> {flags.(), Workload.add(1, 2)} end)
    assert :arity in flags_none
    {:ok, _} = ElixirScope.stop()
    [call] = TraceFiles.events(dir, :call)
    assert call.mfa == "ElixirScope.Workload.add/2"
    assert call.value == :undefined

    # With values captured, the arguments are needed.
    {:ok, _} = ElixirScope.start(dir: Path.join(trace, "values"))
    {_pid, flags_values} = run(opts, flags)
    assert :call in flags_values
    refute :arity in flags_values
    {:ok, _} = ElixirScope.stop()
  end

  test "a process left with the arity flag by an earlier recording gets its arguments captured",
       %{dir: dir, trace: trace} do
    parent = self()

    worker = fn ->
      receive do
        :go -> send(parent, {:done, Workload.add(1, 2)})
      end
    end

    {:ok, _} = ElixirScope.start(dir: Path.join(dir, "first"), capture: :none)

    pid =
      spawn(fn ->
        receive do
          :spawn -> send(parent, {:child, spawn(worker)})
        end

        Process.sleep(:infinity)
      end)

    :ok = ElixirScope.trace(pid, calls: [Workload], procs: false, messages: false)
    send(pid, :spawn)
    assert_receive {:child, child}
    {:ok, _} = ElixirScope.stop()
    # The child inherited the flags (set_on_spawn), `:arity` among them; stopping clears
    # only the traced pid's. The VM drops a gone tracer's flags when the next one is set
    # (OTP 25), so the second recording, which captures values, gets the arguments.

    {:ok, _} = ElixirScope.start(dir: trace)
    :ok = ElixirScope.trace(child, calls: [Workload], procs: false, messages: false)
    {:flags, flags} = :erlang.trace_info(child, :flags)
    refute :arity in flags
    send(child, :go)
    assert_receive {:done, 3}
    {:ok, _} = ElixirScope.stop()
    [call] = TraceFiles.events(dir, :call)
    assert call.mfa == "ElixirScope.Workload.add/2"
    assert call.value == "1, 2"
    Process.exit(pid, :kill)
  end

  test "redacted modules have no arguments or results captured", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, redact: [Workload])

    {_pid, {:ok, 6}} =
      run(
        [calls: [Workload], procs: true, messages: false],
        fn ->
          # Spawned to run one of its functions: the arguments are left out there too.
          spawn(Workload, :secret, ["hunter2"])
          Workload.secret("hunter")
        end
      )

    {:ok, _} = ElixirScope.stop()
    calls = TraceFiles.events(dir, :call)
    rets = TraceFiles.events(dir, :return_from)
    assert [_, _] = calls
    assert Enum.all?(calls, &(&1.mfa == "ElixirScope.Workload.secret/1"))
    assert Enum.all?(calls ++ rets, &(&1.value == :undefined))
    spawns = TraceFiles.events(dir, :spawn) ++ TraceFiles.events(dir, :spawned)
    secret = Enum.filter(spawns, &(&1.mfa == "ElixirScope.Workload.secret/1"))
    assert [_ | _] = secret
    assert Enum.all?(secret, &(&1.value == :undefined)), inspect(secret)
  end

  test "procs: spawn, link, exit with reason", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace)

    {_pid, child} =
      run(
        [procs: true, messages: false],
        fn ->
          Process.flag(:trap_exit, true)
          child = spawn_link(fn -> exit(:kaboom) end)
          Process.sleep(50)
          child
        end
      )

    {:ok, _} = ElixirScope.stop()
    [spawn] = TraceFiles.events(dir, :spawn)
    assert spawn.peer == pid_text(child)
    assert Enum.any?(TraceFiles.events(dir, :link), &(&1.peer == pid_text(child)))
    exits = TraceFiles.events(dir, :exit)
    assert Enum.any?(exits, &(&1.pid == pid_text(child) and &1.value == ":kaboom"))
  end

  test "event/2 and span/3 record names, data and linked correlation ids", %{
    dir: dir,
    trace: trace
  } do
    {:ok, _} = ElixirScope.start(dir: trace)
    :ok = ElixirScope.event("order.placed", %{id: 42})

    result =
      ElixirScope.span("checkout", %{cart: 1}, fn ->
        ElixirScope.span("payment", %{}, fn -> :paid end)
      end)

    assert result == :paid
    {:ok, _} = ElixirScope.stop()
    [custom] = TraceFiles.events(dir, :custom)
    assert custom.name == "order.placed"
    assert custom.value == "%{id: 42}"
    assert custom.pid == pid_text(self())
    starts = TraceFiles.events(dir, :span_start)
    stops = TraceFiles.events(dir, :span_stop)
    [outer, inner] = starts
    assert {outer.name, inner.name} == {"checkout", "payment"}
    assert hd(inner.nums) == outer.correlation
    assert hd(outer.nums) == 0
    assert Enum.map(stops, & &1.name) == ["payment", "checkout"]
    assert Enum.all?(stops, fn s -> Enum.at(s.nums, 1) > 0 end)
  end

  test "stats reports counters and stop returns the final ones", %{trace: trace} do
    t0 = System.monotonic_time(:microsecond)
    {:ok, _} = ElixirScope.start(dir: trace, flush_ms: 10)
    for i <- 1..10, do: ElixirScope.event("tick", i)
    Process.sleep(100)
    s = ElixirScope.stats()
    assert s.state == :running
    assert s.events >= 10
    assert s.dropped == 0
    assert s.last_error == nil
    assert s.dir == trace
    {:ok, final} = ElixirScope.stop()
    assert final.state == :stopped
    assert final.stop_reason == :requested
    assert final.events == 10
    # The writer thread's CPU time: some, and no more than the time it has existed.
    assert final.writer_cpu_us > 0
    assert final.writer_cpu_us <= System.monotonic_time(:microsecond) - t0
  end

  test "the rate is of events now: none once stopped", %{trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, flush_ms: 10)
    deadline = System.monotonic_time(:millisecond) + 200

    Stream.repeatedly(fn -> ElixirScope.event("tick", 1) end)
    |> Enum.find(fn _ -> System.monotonic_time(:millisecond) > deadline end)

    assert ElixirScope.stats().rate > 0
    {:ok, final} = ElixirScope.stop()
    assert final.rate == 0
  end

  test "stop_after {:events, n} ends the recording by itself", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, stop_after: {:events, 50}, flush_ms: 5)
    for i <- 1..1000, do: ElixirScope.event("tick", i)
    wait_until(fn -> ElixirScope.stats().state == :stopped end)
    assert ElixirScope.stats().stop_reason == :event_limit
    {:ok, _} = ElixirScope.stop()
    {summary, events} = TraceFiles.read(dir)
    assert summary.damage == []
    # Exactly the limit, whatever the writer's pace: counted as events are admitted.
    assert length(Enum.filter(events, &(&1.kind == :custom))) == 50
  end

  test "stop_after {:events, n} holds with several busy processes", %{dir: dir, trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, stop_after: {:events, 1000})
    busy = fn -> for i <- 1..20_000, do: Workload.add(i, 1) end

    {_pid, _} =
      run([calls: [Workload], returns: true, messages: false, procs: false], fn ->
        tasks = for _ <- 1..4, do: Task.async(busy)
        Enum.each(tasks, &Task.await(&1, 30_000))
      end)

    wait_until(fn -> ElixirScope.stats().state == :stopped end)
    {:ok, _} = ElixirScope.stop()
    {_, events} = TraceFiles.read(dir)
    assert length(Enum.filter(events, &(&1.kind in [:call, :return_from]))) == 1000
  end

  test "a recording that stopped by itself refuses more tracing and events", %{trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, stop_after: {:events, 3})
    for i <- 1..5, do: ElixirScope.event("tick", i)
    wait_until(fn -> ElixirScope.stats().state == :stopped end)
    assert {:error, :not_recording} = ElixirScope.event("late", 1)
    assert {:error, :not_recording} = ElixirScope.trace(self(), messages: true)
    # Nothing set on the process by the refused call.
    assert {:flags, []} = :erlang.trace_info(self(), :flags)
    assert {:ok, %{stop_reason: :event_limit}} = ElixirScope.stop()
  end

  test "stop_after {:ms, t} ends the recording by itself", %{trace: trace} do
    {:ok, _} = ElixirScope.start(dir: trace, stop_after: {:ms, 50}, flush_ms: 5)
    wait_until(fn -> ElixirScope.stats().state == :stopped end)
    assert ElixirScope.stats().stop_reason == :time_limit
  end
end
