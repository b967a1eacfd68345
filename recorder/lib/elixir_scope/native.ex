defmodule ElixirScope.Native do
  @moduledoc false
  # The recorder NIF (native/scope_nif). It is also the `erl_tracer` module: the BEAM calls
  # `enabled/3`, `trace/5` and the per-category `trace_call/5`, `trace_send/5` and
  # `trace_receive/5` here, inside the traced process. Stubs raise until the NIF loads.

  @on_load :load_nif

  def load_nif do
    case :erlang.load_nif(nif_path(), 0) do
      :ok -> :ok
      {:error, {:reload, _}} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end

  # The application's priv directory; when the code was loaded from a directory not named
  # `elixir_scope` (a copy of ebin and priv, `scope record --recorder`), the priv beside
  # this module's ebin.
  defp nif_path do
    case :code.priv_dir(:elixir_scope) do
      priv when is_list(priv) ->
        :filename.join(priv, ~c"scope_nif")

      {:error, _} ->
        case :code.which(__MODULE__) do
          beam when is_list(beam) ->
            :filename.join([:filename.dirname(beam), ~c"..", ~c"priv", ~c"scope_nif"])

          _ ->
            ~c"scope_nif"
        end
    end
  end

  # Recorder control (dirty I/O schedulers: they create files and join threads).
  def start(_config), do: :erlang.nif_error(:nif_not_loaded)
  def stop(_recorder), do: :erlang.nif_error(:nif_not_loaded)
  def stats(_recorder), do: :erlang.nif_error(:nif_not_loaded)
  def set_sample(_recorder, _fraction), do: :erlang.nif_error(:nif_not_loaded)

  # Events from code: kind is :custom | :span_start | :span_stop | :telemetry.
  def event(_recorder, _kind, _name, _data, _correlation, _parent, _duration),
    do: :erlang.nif_error(:nif_not_loaded)

  # A tracer state that only counts (the benchmark's floor).
  def counter_new, do: :erlang.nif_error(:nif_not_loaded)
  def counter_value(_counter), do: :erlang.nif_error(:nif_not_loaded)

  # erl_tracer callbacks.
  def enabled(_tag, _state, _tracee), do: :erlang.nif_error(:nif_not_loaded)
  def trace(_tag, _state, _tracee, _term, _opts), do: :erlang.nif_error(:nif_not_loaded)
  # Per-category callbacks: the VM calls these instead of trace/5 for their tags.
  def trace_call(_tag, _state, _tracee, _term, _opts), do: :erlang.nif_error(:nif_not_loaded)
  def trace_send(_tag, _state, _tracee, _term, _opts), do: :erlang.nif_error(:nif_not_loaded)

  def trace_receive(_tag, _state, _tracee, _term, _opts),
    do: :erlang.nif_error(:nif_not_loaded)
end
