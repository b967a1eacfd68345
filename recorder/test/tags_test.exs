defmodule ElixirScope.TagsTest do
  use ExUnit.Case, async: false

  alias ElixirScope.{TraceFiles, Workload}
  import ElixirScope.Traced

  @moduledoc "The trace tags the other tests do not reach, each recorded with its data."

  setup do
    dir = TraceFiles.tmp_dir("tags")
    on_exit(fn -> ElixirScope.stop() end)
    {:ok, _} = ElixirScope.start(dir: Path.join(dir, "trace"))
    {:ok, dir: dir}
  end

  test "register, unregister, unlink, spawned and a send to a dead process", %{dir: dir} do
    dead = spawn(fn -> :ok end)
    ref = Process.monitor(dead)
    assert_receive {:DOWN, ^ref, _, _, _}

    {pid, child} =
      run([procs: true, messages: true], fn ->
        Process.register(self(), :elixir_scope_tags_test)
        Process.unregister(:elixir_scope_tags_test)
        child = spawn_link(fn -> receive(do: (:bye -> :ok)) end)
        Process.unlink(child)
        send(dead, :anyone_there?)
        send(child, :bye)
        child
      end)

    {:ok, _} = ElixirScope.stop()
    me = pid_text(pid)
    assert [%{name: "elixir_scope_tags_test", pid: ^me}] = TraceFiles.events(dir, :register)
    assert [%{name: "elixir_scope_tags_test"}] = TraceFiles.events(dir, :unregister)
    assert Enum.any?(TraceFiles.events(dir, :unlink), &(&1.peer == pid_text(child)))
    [spawned] = TraceFiles.events(dir, :spawned)
    assert spawned.pid == pid_text(child)
    assert spawned.peer == me
    [lost] = TraceFiles.events(dir, :send_to_non_existing_process)
    assert lost.peer == pid_text(dead)
    assert lost.value == ":anyone_there?"
  end

  test "return_to records where calls returned to", %{dir: dir} do
    {_pid, 6} =
      run(
        [calls: [Workload], returns: false, return_to: true, messages: false, procs: false],
        fn -> Workload.sum([1, 2, 3]) end
      )

    {:ok, _} = ElixirScope.stop()
    returns_to = TraceFiles.events(dir, :return_to)
    assert returns_to != []
    assert Enum.all?(returns_to, &is_binary(&1.mfa))
    assert TraceFiles.events(dir, :return_from) == []
  end

  test "trace/5 records the tags the per-category callbacks take, as they do", %{dir: dir} do
    # The VM calls trace_call/5, trace_send/5 and trace_receive/5 for their tags; trace/5
    # must still record them alike (a VM that calls it for every tag).
    state = :persistent_term.get({ElixirScope, :recorder})
    native = ElixirScope.Native
    me = self()
    peer = spawn(fn -> :ok end)
    mfa = {Workload, :add, 2}

    for {callback, tag, term, opts} <- [
          {:trace_call, :call, mfa, %{}},
          {:trace_call, :return_from, mfa, %{extra: 3}},
          {:trace_send, :send, {:hello, 1}, %{extra: peer}},
          {:trace_receive, :receive, {:hello, 1}, %{}}
        ] do
      :ok = apply(native, callback, [tag, state, me, term, opts])
      :ok = native.trace(tag, state, me, term, opts)
    end

    {:ok, _} = ElixirScope.stop()
    {_, events} = TraceFiles.read(dir)
    mine = Enum.filter(events, &(&1.pid == pid_text(me)))

    for kind <- [:call, :return_from, :send, :receive] do
      assert [a, b] = Enum.filter(mine, &(&1.kind == kind)), "two #{kind} events"
      assert Map.drop(a, [:seq, :ts, :wall_ns]) == Map.drop(b, [:seq, :ts, :wall_ns])
    end

    [send | _] = Enum.filter(mine, &(&1.kind == :send))
    assert send.peer == pid_text(peer)
    assert send.value == "{:hello, 1}"
    [ret | _] = Enum.filter(mine, &(&1.kind == :return_from))
    assert ret.value == "3"
  end

  test "pids in values keep their numbers and serials", %{dir: dir} do
    # Local pids' numbers are read from their words once the layout is checked at start.
    state = :persistent_term.get({ElixirScope, :recorder})

    pids =
      for text <- ~w(<0.12345.1> <0.32767.8191> <0.0.4096>), do: :erlang.list_to_pid(~c"#{text}")

    :ok = ElixirScope.Native.trace_receive(:receive, state, self(), {:pids, pids}, %{})
    {:ok, _} = ElixirScope.stop()
    [event] = TraceFiles.events(dir, :receive)
    assert event.value == "{:pids, [#PID<0.12345.1>, #PID<0.32767.8191>, #PID<0.0.4096>]}"
  end
end
