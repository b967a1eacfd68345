defmodule ElixirScope.Boot do
  @moduledoc """
  Starts a recording before the user's code runs, with no change to that code: what
  `scope record` uses. The runtime's command line gets `-s Elixir.ElixirScope.Boot start`
  (through `ERL_AFLAGS`) and `ELIXIR_SCOPE_RECORD` names a file of Erlang terms:

      {dir, "."}.                                      % relative to this file's directory
      {start, [{capture, {bytes, 256}}, {stop_after, {ms, 30000}}]}.   % ElixirScope.start/1
      {trace, [{calls, ['Elixir.MyApp.Worker']}, {messages, true}]}.   % ElixirScope.trace/2
      {plan, "plan.config"}.              % ElixirScope.trace_plan/2 (scope plan), relative as dir

  Every process spawned afterwards is traced (`ElixirScope.trace(:new, …)`), and the
  process that runs the command line's later `-s` functions (an escript's `main/1`). A module named
  in `calls` that is not loaded yet (defined by a script, or on a Mix project's code path
  that Mix adds later) gets its trace pattern as soon as it exists: a compiler tracer sees
  modules compiled in this VM (before any of their code runs), and a watcher loads the
  others from the code path as soon as it changes. A module compiled and loaded by other
  means and run at once — an escript's own module, with `-mode(compile).` — is caught only
  by the watcher's 2 ms polling, so its first calls can be missed, and an escript's
  functions without it are interpreted, never traced: put such code in a module on the
  code path (`scope record` names the `--calls` items that no recorded call matches).

  The recording closes its files when the node halts (the NIF closes them at exit). If it
  cannot start, the reason is printed and the program runs unrecorded: tracing never
  stops the user's program.
  """

  alias ElixirScope.Recorder

  @pending {__MODULE__, :pending}
  # Every pattern that waited for its module: set again when the module is recompiled (new
  # code does not keep the old code's trace patterns).
  @wanted {__MODULE__, :wanted}
  @tick_ms 2
  @load_every 25
  # 5 s of 2 ms ticks, then 50 ms ticks.
  @patient_ticks 2500
  @slow_tick_ms 50

  @doc "The `-s` entry point: starts the recording named by `ELIXIR_SCOPE_RECORD`, if any."
  def start do
    case System.get_env("ELIXIR_SCOPE_RECORD") do
      nil -> :ok
      "" -> :ok
      path -> boot(path)
    end
  end

  defp boot(path) do
    with {:ok, terms} <- consult(path),
         {:ok, dir} <- fetch(terms, :dir),
         # `scope record` writes the file into the trace directory and names it ".".
         dir = Path.expand(List.to_string(dir), Path.dirname(path)),
         {:ok, _} <- ElixirScope.start([dir: dir] ++ get(terms, :start, [])),
         trace = get(terms, :trace, nil),
         plan = get(terms, :plan, nil),
         # The watcher exists before tracing starts, so it is not traced itself.
         :ok <- watch(),
         # This process goes on to run the command line's later `-s` functions (an
         # escript's main/1), so it is traced too.
         :ok <- each_target(trace, &ElixirScope.trace(&1, trace)),
         plan = plan && Path.expand(List.to_string(plan), Path.dirname(path)),
         :ok <- each_target(plan, &ElixirScope.trace_plan(plan, &1)) do
      :ok
    else
      {:error, reason} ->
        # Half a configuration is not what was asked for: stop whatever started.
        ElixirScope.stop()
        IO.puts(:stderr, "ElixirScope: not recording: #{inspect(reason)}")
        :ok
    end
  rescue
    e ->
      IO.puts(:stderr, "ElixirScope: not recording: #{Exception.message(e)}")
      :ok
  catch
    kind, reason ->
      IO.puts(:stderr, "ElixirScope: not recording: #{inspect({kind, reason})}")
      :ok
  end

  defp each_target(nil, _), do: :ok

  defp each_target(_, fun) do
    with :ok <- fun.(:new), do: fun.(self())
  end

  defp consult(path) do
    case :file.consult(String.to_charlist(path)) do
      {:ok, terms} -> {:ok, terms}
      {:error, reason} -> {:error, {:config, path, reason}}
    end
  end

  defp fetch(terms, key) do
    case List.keyfind(terms, key, 0) do
      {^key, value} -> {:ok, value}
      nil -> {:error, {:config, "missing #{key}"}}
    end
  end

  defp get(terms, key, default) do
    case List.keyfind(terms, key, 0) do
      {^key, value} -> value
      nil -> default
    end
  end

  # --- Modules not loaded yet --------------------------------------------------------------

  @doc false
  # Called by the recorder with the patterns whose modules are not loaded.
  def pending(patterns) do
    :persistent_term.put(@pending, patterns ++ :persistent_term.get(@pending, []))
    :persistent_term.put(@wanted, patterns ++ :persistent_term.get(@wanted, []))
  end

  defp watch do
    :persistent_term.put(@pending, [])
    :persistent_term.put(@wanted, [])
    spawn(fn -> loop(0, false, nil) end)
    :ok
  end

  defp loop(n, tracer?, path) do
    tracer? = tracer? or (n < @patient_ticks and install_tracer())
    pending = :persistent_term.get(@pending, [])
    # Mix adds a project's code path at run time: try loading as soon as it changes.
    new_path = if pending != [], do: length(:code.get_path()), else: path

    if pending != [] do
      load? = rem(n, @load_every) == 0 or new_path != path

      ready =
        for {m, _, _} = p <- pending,
            :erlang.module_loaded(m) or (load? and Code.ensure_loaded?(m)),
            do: p

      if ready != [], do: add(ready)
    end

    # A module still missing after the patient phase and absent from the code path is
    # most likely misspelt: say so once (and keep watching, slowly).
    if n == @patient_ticks do
      for {m, _, _} <- pending, :code.which(m) == :non_existing, uniq: true do
        IO.puts(:stderr, "ElixirScope: #{inspect(m)} has not been loaded yet (no such module?)")
      end
    end

    # Nothing to wait for once the tracer is in and every pattern is set; a node without
    # Elixir's compiler (erl, an escript) stops looking for it after a while, and checks
    # for late modules less often.
    cond do
      pending == [] and (tracer? or n >= @patient_ticks) -> :ok
      n < @patient_ticks -> Process.sleep(@tick_ms)
      true -> Process.sleep(@slow_tick_ms)
    end

    if pending != [] or not (tracer? or n >= @patient_ticks),
      do: loop(n + 1, tracer?, new_path)
  end

  defp add(ready) do
    left = :persistent_term.get(@pending, []) -- ready
    :persistent_term.put(@pending, left)
    Recorder.add_patterns(ready)
  end

  # Once Elixir's compiler is up: modules compiled in this VM announce themselves.
  defp install_tracer do
    if :ets.whereis(:elixir_config) != :undefined do
      tracers = Code.get_compiler_option(:tracers)
      Code.put_compiler_option(:tracers, Enum.uniq([__MODULE__ | tracers]))
      true
    else
      false
    end
  rescue
    _ -> false
  catch
    _, _ -> false
  end

  @doc false
  # Compiler tracer callback: a module was just defined and loaded.
  def trace({:on_module, _bytecode, _}, env) do
    ready = for {m, _, _} = p <- :persistent_term.get(@wanted, []), m == env.module, do: p
    if ready != [], do: add(ready)
    :ok
  end

  def trace(_event, _env), do: :ok
end
