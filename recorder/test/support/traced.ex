defmodule ElixirScope.Traced do
  @moduledoc false
  # Runs a function in a fresh process traced with `opts`, after tracing is set up.

  import ExUnit.Assertions, only: [assert_receive: 2, flunk: 1]

  @doc "Runs `fun` in a new process traced with `opts`; returns `{pid, fun's result}`."
  def run(opts, fun) do
    parent = self()
    pid = spawn(fn -> receive(do: (:go -> send(parent, {:done, fun.()}))) end)
    :ok = ElixirScope.trace(pid, opts)
    send(pid, :go)
    assert_receive {:done, result}, 5000
    {pid, result}
  end

  @doc "A pid as the trace files show it: `<0.85.0>`."
  def pid_text(pid), do: pid |> :erlang.pid_to_list() |> List.to_string()
end
