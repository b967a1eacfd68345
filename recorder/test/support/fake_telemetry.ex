defmodule :telemetry do
  @moduledoc false
  # The part of `:telemetry`'s API that ElixirScope.Telemetry uses (hex is not reachable
  # here): handlers in an ETS table, `execute/3` calling them in the emitting process.

  def attach_many(id, events, fun, config) do
    ensure_table()

    if :ets.member(:fake_telemetry, id) do
      {:error, :already_exists}
    else
      :ets.insert(:fake_telemetry, {id, events, fun, config})
      :ok
    end
  end

  def detach(id) do
    ensure_table()

    if :ets.member(:fake_telemetry, id) do
      :ets.delete(:fake_telemetry, id)
      :ok
    else
      {:error, :not_found}
    end
  end

  def execute(event, measurements, metadata) do
    ensure_table()

    for {_id, events, fun, config} <- :ets.tab2list(:fake_telemetry), event in events do
      fun.(event, measurements, metadata, config)
    end

    :ok
  end

  defp ensure_table do
    if :ets.whereis(:fake_telemetry) == :undefined do
      :ets.new(:fake_telemetry, [
        :named_table,
        :public,
        :set,
        {:heir, Process.whereis(:init), nil}
      ])
    end
  end
end
