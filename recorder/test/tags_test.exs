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
end
