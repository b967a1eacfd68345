defmodule ElixirScope.Workload do
  @moduledoc false
  # Code with known behaviour for the tests to trace.

  def add(a, b), do: a + b

  def sum(list), do: Enum.reduce(list, 0, &add/2)

  def merge(a, b), do: Map.merge(a, b)

  def boom(x), do: raise(ArgumentError, "boom #{x}")

  def secret(password), do: {:ok, String.length(password)}

  def echo_loop do
    receive do
      {:ping, from, n} ->
        send(from, {:pong, n})
        echo_loop()

      :stop ->
        :ok
    end
  end
end
