defmodule ElixirScope.TermAccessTest do
  use ExUnit.Case, async: false

  alias ElixirScope.{TraceFiles, Workload}
  import ElixirScope.Traced
  import Bitwise

  @moduledoc """
  The tracer reads terms from their words once it has checked how this VM lays them out, and
  writes compact ring records; with `ELIXIR_SCOPE_TERM_ACCESS=api` it reads them only
  through the NIF API and writes full records, as on a VM whose layout it does not
  recognise. Both must record the same events, message hashes included (a send recorded one
  way pairs with its receive recorded the other), and the same values: read from words, a
  value is copied and rendered by the writer thread (`term_copy.rs`); through the API it is
  rendered by the traced process.
  """

  @env "ELIXIR_SCOPE_TERM_ACCESS"

  setup do
    on_exit(fn ->
      System.delete_env(@env)
      ElixirScope.stop()
    end)
  end

  test "words and the NIF API record the same events" do
    # References made once, so that both recordings hash the same ones: an ordinary one, an
    # alias (five ID words, as every GenServer.call's) and a magic one (an atomics array's,
    # always read through the VM).
    alias_ref = :erlang.alias()
    refs = {make_ref(), alias_ref, :atomics.new(1, [])}

    for capture <- [:none, {:bytes, 256}] do
      fast = record(capture, false, refs)
      api = record(capture, true, refs)
      assert length(fast) > 10
      assert fast == api, "capture #{inspect(capture)}"
    end

    :erlang.unalias(alias_ref)
  end

  test "replies to aliases hash apart, read from words or through the API" do
    for api? <- [false, true] do
      if api?, do: System.put_env(@env, "api"), else: System.delete_env(@env)
      dir = TraceFiles.tmp_dir("refs")
      {:ok, _} = ElixirScope.start(dir: Path.join(dir, "trace"), capture: :none)

      # Five replies as GenServer sends them, each to its own alias, and five messages with
      # an ordinary and a magic reference each.
      {_pid, n} =
        run([messages: true, procs: false], fn ->
          aliases = for _ <- 1..5, do: :erlang.alias()
          for a <- aliases, do: send(self(), {[:alias | a], :ok})
          for _ <- 1..5, do: send(self(), {:refs, make_ref(), :atomics.new(1, [])})
          for _ <- 1..10, do: receive(do: (m -> m))
          Enum.each(aliases, &:erlang.unalias/1)
          10
        end)

      {:ok, _} = ElixirScope.stop()
      {_, events} = TraceFiles.read(dir)
      File.rm_rf!(dir)
      # After the `:go` the process waits for, before the `{:done, _}` it sends.
      sends = for(%{kind: :send, hash: h} <- events, do: h) |> Enum.take(n)
      receives = for(%{kind: :receive, hash: h} <- events, do: h) |> Enum.slice(1, n)
      assert length(receives) == n
      # Each receive has its own send's hash, and no other's.
      assert receives == sends, "api: #{api?}"
      assert length(Enum.uniq(sends)) == n, "api: #{api?}"
    end
  end

  test "integers beyond 64 bits render in decimal, up to 2,048 bits" do
    for api? <- [false, true] do
      if api?, do: System.put_env(@env, "api"), else: System.delete_env(@env)
      dir = TraceFiles.tmp_dir("big")
      {:ok, _} = ElixirScope.start(dir: Path.join(dir, "trace"), capture: {:bytes, 4096})
      big = {1 <<< 70, -(1 <<< 62) - 5, 1 <<< 2047, 1 <<< 10_000}

      {_pid, _} =
        run([messages: true, procs: false], fn ->
          send(self(), big)
          receive(do: (m -> m))
        end)

      {:ok, _} = ElixirScope.stop()
      {_, events} = TraceFiles.read(dir)
      File.rm_rf!(dir)
      [text | _] = for %{kind: :send, value: v} <- events, v =~ "1180591620717411303424", do: v

      assert text ==
               "{1180591620717411303424, -4611686018427387909, #{1 <<< 2047}, #BigInteger<…>}",
             "api: #{api?}"
    end
  end

  defp record(capture, api?, {ref, alias_ref, magic}) do
    if api?, do: System.put_env(@env, "api"), else: System.delete_env(@env)
    dir = TraceFiles.tmp_dir("access")
    {:ok, _} = ElixirScope.start(dir: Path.join(dir, "trace"), capture: capture)

    {_pid, :done} =
      run([calls: [Workload], returns: true, messages: true, procs: false], fn ->
        Process.register(self(), :elixir_scope_access_test)
        Workload.add(1, 2)
        Workload.sum([1, 2, 3])
        big = Enum.to_list(1..100)
        send(self(), {:ping, 1, "text", [1.5, :atom, -7, 1 <<< 70], %{k: :v}, {}, big})
        send(:elixir_scope_access_test, {:pong, [], <<1, 2, 3>>})
        send(self(), :bare_atom)
        # Copied whole and rendered by the writer (no bignum or remote pid in it; a pid that
        # is the same in both recordings; a ref, a port and a fun print and hash without
        # their contents).
        init = Process.whereis(:init)
        port = hd(Port.list())

        send(
          self(),
          {:copied, init, 1.5, -7, 1 <<< 40, 1 <<< 62, "bin", ~c"abc", [a: 1], [1 | 2], {},
           {:"$gen_call", {init, ref}, :get}, port, &Kernel.+/2}
        )

        # A GenServer reply to an alias, and references of the other kinds.
        send(self(), {[:alias | alias_ref], :ok})
        send(self(), {:magic, magic})

        # Maps are copied in the VM's iteration order, small ones read from the heap and
        # larger ones (over 32 keys) through the VM's iterator; a struct prints by its name.
        send(self(), {:maps, %{a: 1, b: [2]}, %{{1, 2} => "v"}, %{}})
        send(self(), %URI{scheme: "http", host: "x", path: "/y", port: 80})
        send(self(), {:large, Map.new(1..40, &{&1, -&1}), Map.new(1..5, &{&1, &1})})
        # A struct-sized map whose copy is larger than the capture bound: copied whole,
        # its text cut at the bound as rendering it in place cuts it.
        send(self(), {:wide, Map.new(1..25, &{:"field_#{&1}", "value number #{&1}"})})
        # A send to an alias (as every GenServer reply is): no peer, the same hash. (The
        # alias stays active until its message is in: one deactivated before drops it.)
        reply_to = :erlang.alias()
        send(reply_to, {:reply, %{ok: true}})
        Workload.merge(%URI{host: "h"}, %{y: 2})
        for _ <- 1..11, do: receive(do: (m -> m))
        :erlang.unalias(reply_to)
        Process.unregister(:elixir_scope_access_test)
        :done
      end)

    {:ok, _} = ElixirScope.stop()
    {_, events} = TraceFiles.read(dir)
    File.rm_rf!(dir)

    mine = Enum.filter(events, &(&1.kind in [:call, :return_from, :send, :receive]))
    roles = mine |> Enum.flat_map(&[&1.pid, &1.peer]) |> Enum.uniq()
    role = fn p -> Enum.find_index(roles, &(&1 == p)) end

    for e <- mine do
      e
      |> Map.take([:kind, :mfa, :value, :hash, :name, :truncated, :nums])
      |> Map.merge(%{pid: role.(e.pid), peer: role.(e.peer)})
    end
  end
end
