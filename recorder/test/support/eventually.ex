defmodule ElixirScope.Eventually do
  @moduledoc false
  # Waits for a condition the recorder reaches by itself (a limit, an error), polling: the
  # tests assert on the outcome, not on how long it took (up to 5 s).

  import ExUnit.Assertions, only: [flunk: 1]

  def wait_until(f, tries \\ 500) do
    cond do
      f.() -> :ok
      tries == 0 -> flunk("condition never became true")
      true -> Process.sleep(10) && wait_until(f, tries - 1)
    end
  end
end
