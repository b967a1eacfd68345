defmodule ElixirScope.Telemetry do
  @moduledoc """
  Records `:telemetry` events into the running recording.

      ElixirScope.Telemetry.attach([[:my_app, :repo, :query], [:phoenix, :endpoint, :start],
                                    [:phoenix, :endpoint, :stop]])

  Each event is recorded with its dotted name (`"phoenix.endpoint.stop"`), its numeric
  measurements and its scalar metadata (atoms, numbers, short strings, pids); whole structs
  such as `conn` or `socket` are never captured. An event whose name ends in `:start`
  opens a span and the matching `:stop` or `:exception` (same prefix, same process) closes it,
  with the `:duration` measurement as the span's duration. Spans nest: one that starts
  inside another (an Ecto query inside a Phoenix request, or inside `ElixirScope.span/3`)
  is its child.

  `:telemetry` is not a dependency of ElixirScope: `attach/1` uses it when the application
  that has it is loaded, and returns `{:error, :telemetry_not_available}` otherwise.
  """

  @handler_id "elixir_scope"

  @doc "Attaches the recording handler to `event_names`."
  @spec attach([[atom]]) :: :ok | {:error, term}
  def attach(event_names) when is_list(event_names) do
    if Code.ensure_loaded?(:telemetry) do
      apply(:telemetry, :attach_many, [@handler_id, event_names, &__MODULE__.handle_event/4, nil])
    else
      {:error, :telemetry_not_available}
    end
  end

  @doc "Detaches the handler."
  @spec detach() :: :ok | {:error, :not_found}
  def detach do
    if Code.ensure_loaded?(:telemetry),
      do: apply(:telemetry, :detach, [@handler_id]),
      else: {:error, :not_found}
  end

  @doc false
  # The `:telemetry` handler: runs in the process that emitted the event.
  def handle_event(event, measurements, metadata, _config) when is_list(event) do
    name = Enum.map_join(event, ".", &to_string/1)
    data = %{measurements: numeric(measurements), metadata: scalars(metadata)}
    {prefix, last} = Enum.split(event, -1)
    key = {:elixir_scope_telemetry, prefix}

    case last do
      [:start] ->
        id = :erlang.unique_integer([:positive, :monotonic])
        parent = Process.get(:elixir_scope_span, 0)
        Process.put(key, [{id, parent} | Process.get(key, [])])
        # The enclosing span of what starts inside it (a query inside a request), as
        # `ElixirScope.span/3` sets it.
        Process.put(:elixir_scope_span, id)
        ElixirScope.Recorder.event(:span_start, name, data, id, parent, 0)

      [stop] when stop in [:stop, :exception] ->
        case Process.get(key, []) do
          [{id, parent} | rest] ->
            Process.put(key, rest)
            Process.put(:elixir_scope_span, parent)

            ElixirScope.Recorder.event(
              :span_stop,
              name,
              data,
              id,
              parent,
              duration_ns(measurements)
            )

          [] ->
            ElixirScope.Recorder.event(:telemetry, name, data, 0, 0, 0)
        end

      _ ->
        ElixirScope.Recorder.event(:telemetry, name, data, 0, 0, 0)
    end

    :ok
  end

  defp duration_ns(%{duration: d}) when is_integer(d) and d >= 0,
    do: System.convert_time_unit(d, :native, :nanosecond)

  defp duration_ns(_), do: 0

  defp numeric(m) when is_map(m), do: for({k, v} <- m, is_number(v), into: %{}, do: {k, v})
  defp numeric(_), do: %{}

  defp scalars(m) when is_map(m) do
    for {k, v} <- m, scalar?(v), into: %{}, do: {k, v}
  end

  defp scalars(_), do: %{}

  defp scalar?(v) when is_atom(v) or is_number(v) or is_pid(v) or is_reference(v), do: true
  defp scalar?(v) when is_binary(v), do: byte_size(v) <= 256
  defp scalar?(_), do: false
end
