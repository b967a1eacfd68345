defmodule ElixirScope.Recorder do
  @moduledoc false
  # The process that owns a recording: it holds the NIF recorder, sets and clears trace flags
  # and patterns, and notices when the recording stops by itself (a `stop_after` limit or a
  # write error) so it can clear what it set. One recording per node at a time.

  use GenServer

  alias ElixirScope.Native

  @key {ElixirScope, :recorder}
  @check_ms 50
  @sample_period_ms 100

  # --- API used by ElixirScope -------------------------------------------------------------

  def start(opts) when is_list(opts) do
    with {:ok, config} <- config(opts) do
      case GenServer.start(__MODULE__, config, name: __MODULE__) do
        {:ok, pid} -> {:ok, pid}
        {:error, {:already_started, _}} -> {:error, :already_started}
        {:error, {:shutdown, reason}} -> {:error, option_error(reason)}
        {:error, reason} -> {:error, reason}
      end
    end
  end

  def start(_), do: {:error, {:invalid_option, :opts, "expected a keyword list"}}

  def trace(target, opts) do
    with {:ok, spec} <- trace_spec(target, opts) do
      call({:trace, spec})
    end
  end

  def stats do
    case recorder() do
      nil -> %{state: :not_recording}
      ref -> Native.stats(ref)
    end
  end

  def stop, do: call(:stop)

  # Trace patterns for modules loaded after `trace/2` (ElixirScope.Boot's watcher).
  def add_patterns(patterns), do: call({:patterns, patterns})

  def trace_plan(path, target) when is_binary(path) do
    case :file.consult(String.to_charlist(path)) do
      {:ok, terms} -> trace_plan(terms, target)
      {:error, reason} -> {:error, {:plan, path, reason}}
    end
  end

  # An Erlang string (a charlist: what `"plan.config"` is in Erlang) names a file too.
  def trace_plan([c | _] = path, target) when is_integer(c),
    do: trace_plan(List.to_string(path), target)

  def trace_plan(terms, target) when is_list(terms) do
    with {:ok, plan} <- plan(terms),
         :ok <-
           trace(target,
             calls: plan.full,
             returns: plan.returns,
             messages: plan.messages,
             procs: plan.procs
           ) do
      with {:ok, targets} <- targets(target) do
        if plan.sample != [] and plan.fraction > 0,
          do: call({:sample, plan.sample, plan.fraction, plan.returns, targets}),
          else: :ok
      end
    end
  end

  def trace_plan(other, _), do: {:error, {:plan, "expected a path or a list of terms", other}}

  defp plan(terms) do
    get = fn key, default ->
      case List.keyfind(terms, key, 0) do
        {^key, v} -> v
        nil -> default
      end
    end

    {fraction, sample} =
      case List.keyfind(terms, :sample, 0) do
        {:sample, f, list}
        when is_number(f) and (f == 0 or f >= 0.001) and f <= 1 and is_list(list) ->
          {f, list}

        nil ->
          {0, []}

        other ->
          {:error, other}
      end

    plan = %{
      full: get.(:full, []),
      sample: sample,
      fraction: fraction,
      returns: get.(:returns, true),
      messages: get.(:messages, false),
      procs: get.(:procs, true)
    }

    cond do
      List.keyfind(terms, :elixir_scope_plan, 0) != {:elixir_scope_plan, 1} ->
        {:error, {:plan, "not a scope plan (version 1)"}}

      fraction == :error ->
        {:error, {:plan, "bad sample entry", sample}}

      not Enum.all?(
        plan.full ++ plan.sample,
        &match?({m, f, a} when is_atom(m) and is_atom(f) and is_integer(a), &1)
      ) ->
        {:error, {:plan, "expected {module, function, arity} entries"}}

      true ->
        {:ok, plan}
    end
  end

  def event(kind, name, data, correlation, parent, duration) do
    case recorder() do
      nil ->
        {:error, :not_recording}

      ref ->
        case Native.event(ref, kind, to_string(name), data, correlation, parent, duration) do
          :ok -> :ok
          # The recording stopped by itself (a limit, an error).
          :not_recording -> {:error, :not_recording}
        end
    end
  end

  defp recorder, do: :persistent_term.get(@key, nil)

  defp call(msg) do
    GenServer.call(__MODULE__, msg, :infinity)
  catch
    :exit, {:noproc, _} -> {:error, :not_recording}
  end

  # --- Options -----------------------------------------------------------------------------

  @defaults [
    segment_bytes: 64 * 1024 * 1024,
    max_bytes: 1024 * 1024 * 1024,
    buffer_bytes: 8 * 1024 * 1024,
    flush_ms: 100,
    capture: {:bytes, 256},
    redact: [],
    max_events_per_sec: nil,
    stop_after: nil
  ]

  # The recorder's own range checks name the option first (":max_bytes (10485760) must be
  # at least :segment_bytes …"): given as `{:invalid_option, key, why}`, as the checks made
  # here are.
  defp option_error(":" <> rest = why) do
    [name | _] = String.split(rest, [" ", ","], parts: 2)

    case Enum.find([:dir | Keyword.keys(@defaults)], &(Atom.to_string(&1) == name)) do
      nil -> why
      key -> {:invalid_option, key, why}
    end
  end

  defp option_error(reason), do: reason

  defp config(opts) do
    known = [:dir | Keyword.keys(@defaults)]

    with :ok <- only(opts, known),
         {:ok, dir} <- fetch_dir(opts) do
      o = Keyword.merge(@defaults, opts)

      with {:ok, capture} <- capture(o[:capture]),
           {:ok, stop_events, stop_ms} <- stop_after(o[:stop_after]),
           :ok <- all_atoms(o[:redact], :redact),
           :ok <- positive(o, [:segment_bytes, :max_bytes, :buffer_bytes, :flush_ms]),
           :ok <- optional_positive(o[:max_events_per_sec], :max_events_per_sec) do
        {:ok,
         %{
           dir: dir,
           node: Atom.to_string(node()),
           otp_release: List.to_string(:erlang.system_info(:otp_release)),
           segment_bytes: o[:segment_bytes],
           max_bytes: o[:max_bytes],
           buffer_bytes: o[:buffer_bytes],
           flush_ms: o[:flush_ms],
           capture: capture,
           redact: o[:redact],
           max_events_per_sec: o[:max_events_per_sec],
           stop_after_events: stop_events,
           stop_after_ms: stop_ms,
           schedulers: :erlang.system_info(:schedulers),
           # Read here, not by the NIF: the VM keeps its own copy of the environment, which
           # System.put_env/2 changes and the C library's getenv does not see (README).
           term_access_api: System.get_env("ELIXIR_SCOPE_TERM_ACCESS") == "api",
           clock_monotonic: System.get_env("ELIXIR_SCOPE_CLOCK") == "monotonic"
         }}
      end
    end
  end

  defp only(opts, known) do
    case Enum.find(opts, fn {k, _} -> k not in known end) do
      nil -> :ok
      {k, _} -> {:error, {:invalid_option, k, "unknown option"}}
    end
  end

  defp fetch_dir(opts) do
    case opts[:dir] do
      nil -> {:error, {:invalid_option, :dir, "required"}}
      dir when is_binary(dir) -> {:ok, Path.expand(dir)}
      dir when is_list(dir) -> {:ok, Path.expand(List.to_string(dir))}
      other -> {:error, {:invalid_option, :dir, "expected a path, got #{inspect(other)}"}}
    end
  end

  defp capture(:none), do: {:ok, nil}
  defp capture({:bytes, n}) when is_integer(n) and n > 0 and n <= 65_536, do: {:ok, n}

  defp capture(other),
    do:
      {:error,
       {:invalid_option, :capture, "expected :none or {:bytes, 1..65536}, got #{inspect(other)}"}}

  defp stop_after(nil), do: {:ok, nil, nil}
  defp stop_after({:events, n}) when is_integer(n) and n > 0, do: {:ok, n, nil}
  defp stop_after({:ms, t}) when is_integer(t) and t > 0, do: {:ok, nil, t}

  defp stop_after(other),
    do:
      {:error,
       {:invalid_option, :stop_after, "expected {:events, n} or {:ms, t}, got #{inspect(other)}"}}

  defp all_atoms(list, name) when is_list(list) do
    if Enum.all?(list, &is_atom/1),
      do: :ok,
      else: {:error, {:invalid_option, name, "expected a list of modules"}}
  end

  defp all_atoms(_, name), do: {:error, {:invalid_option, name, "expected a list of modules"}}

  defp positive(o, keys) do
    case Enum.find(keys, fn k -> not (is_integer(o[k]) and o[k] > 0) end) do
      nil -> :ok
      k -> {:error, {:invalid_option, k, "expected a positive integer, got #{inspect(o[k])}"}}
    end
  end

  defp optional_positive(nil, _), do: :ok
  defp optional_positive(n, _) when is_integer(n) and n > 0, do: :ok

  defp optional_positive(v, k),
    do: {:error, {:invalid_option, k, "expected a positive integer, got #{inspect(v)}"}}

  @trace_defaults [
    calls: [],
    returns: true,
    return_to: false,
    messages: true,
    procs: true,
    gc: false,
    scheduling: false,
    sample: 1.0
  ]

  defp trace_spec(target, opts) do
    with :ok <- only(opts, Keyword.keys(@trace_defaults)),
         {:ok, targets} <- targets(target) do
      o = Keyword.merge(@trace_defaults, opts)

      with {:ok, patterns} <- patterns(o[:calls]),
           :ok <- booleans(o, [:returns, :return_to, :messages, :procs, :gc, :scheduling]),
           :ok <- sample(o[:sample]) do
        flags =
          if(patterns != [], do: [:call], else: []) ++
            if(o[:return_to], do: [:return_to], else: []) ++
            if(o[:messages], do: [:send, :receive], else: []) ++
            if(o[:procs], do: [:procs], else: []) ++
            if(o[:gc], do: [:garbage_collection], else: []) ++
            if o[:scheduling], do: [:running], else: []

        {:ok,
         %{
           targets: targets,
           flags: flags,
           patterns: patterns,
           returns: o[:returns],
           sample: o[:sample] * 1.0
         }}
      end
    end
  end

  defp targets(t) when t in [:all, :new, :existing], do: {:ok, [t]}
  defp targets(p) when is_pid(p), do: {:ok, [p]}

  defp targets(list) when is_list(list) do
    if list != [] and Enum.all?(list, &is_pid/1),
      do: {:ok, list},
      else: {:error, {:invalid_target, list}}
  end

  defp targets(other), do: {:error, {:invalid_target, other}}

  defp patterns(calls) when is_list(calls) do
    Enum.reduce_while(calls, {:ok, []}, fn
      m, {:ok, acc} when is_atom(m) ->
        {:cont, {:ok, [{m, :_, :_} | acc]}}

      {m, f, a} = mfa, {:ok, acc} when is_atom(m) and is_atom(f) and (is_integer(a) or a == :_) ->
        {:cont, {:ok, [mfa | acc]}}

      other, _ ->
        {:halt,
         {:error,
          {:invalid_option, :calls,
           "expected a module or {module, function, arity}, got #{inspect(other)}"}}}
    end)
    |> case do
      {:ok, list} -> {:ok, Enum.reverse(list)}
      error -> error
    end
  end

  defp patterns(other),
    do: {:error, {:invalid_option, :calls, "expected a list, got #{inspect(other)}"}}

  defp booleans(o, keys) do
    case Enum.find(keys, fn k -> not is_boolean(o[k]) end) do
      nil -> :ok
      k -> {:error, {:invalid_option, k, "expected true or false, got #{inspect(o[k])}"}}
    end
  end

  defp sample(s) when is_number(s) and s > 0 and s <= 1, do: :ok

  defp sample(s),
    do: {:error, {:invalid_option, :sample, "expected a number in (0, 1], got #{inspect(s)}"}}

  # --- Server ------------------------------------------------------------------------------

  @impl true
  def init(config) do
    # References of each kind the VM makes (an alias is what every GenServer.call replies
    # to), for the NIF's check of their layout: the message hash takes their ID words.
    alias = :erlang.alias()
    monitor = :erlang.monitor(:process, self(), alias: :explicit_unalias)
    samples = [make_ref(), alias, monitor, :atomics.new(1, [])]
    started = Native.start(Map.put(config, :ref_samples, samples))
    :erlang.unalias(alias)
    :erlang.demonitor(monitor, [:flush])
    :erlang.unalias(monitor)

    case started do
      {:ok, ref} ->
        :persistent_term.put(@key, ref)
        Process.send_after(self(), :check, @check_ms)
        # Without value capture, calls are traced with `:arity`: the VM then passes
        # {M, F, Arity} instead of building a list of the arguments (~8 ns per call event
        # with one argument, more with more).
        arity = if config.capture == nil, do: [:arity], else: []

        {:ok,
         %{
           ref: ref,
           flags: [],
           targets: [],
           patterns: [],
           returns: true,
           sampled: nil,
           arity: arity
         }}

      {:error, reason} ->
        {:stop, {:shutdown, reason}}
    end
  end

  @impl true
  def handle_call({:trace, spec}, _from, s) do
    # Stopped by itself (a limit, an error): tracing now would only cost the traced
    # processes, with nothing recorded.
    if Native.stats(s.ref).state == :running,
      do: trace_running(spec, s),
      else: {:reply, {:error, :not_recording}, s}
  end

  def handle_call({:patterns, patterns}, _from, s) do
    ms = match_spec(s.returns)
    for p <- patterns, do: :erlang.trace_pattern(p, ms, [:local])
    {:reply, :ok, s}
  end

  # Time-sampled patterns: on for `fraction` of every period, then off. Functions already
  # traced in full (by module or by name) are not sampled: that would switch them off.
  def handle_call({:sample, patterns, fraction, returns, targets}, _from, s) do
    covered = fn {m, f, a} ->
      Enum.any?(s.patterns, &(&1 in [{m, :_, :_}, {m, f, :_}, {m, f, a}]))
    end

    earlier = if s.sampled, do: elem(s.sampled, 0), else: []
    patterns = Enum.uniq(earlier ++ Enum.reject(patterns, covered))
    for {m, _, _} <- patterns, do: Code.ensure_loaded(m)
    tracer = {:tracer, Native, s.ref}
    inherit = fn t -> if is_pid(t), do: [:set_on_spawn], else: [] end

    # The targets need the call flag even when the plan traces nothing in full.
    try do
      for t <- targets, do: :erlang.trace(t, true, [tracer, :call | inherit.(t) ++ s.arity])
    rescue
      ArgumentError -> :ok
    end

    # One on/off cycle, whatever the number of plans applied (one per target).
    if s.sampled == nil and patterns != [], do: send(self(), :sample_on)

    s = %{
      s
      | sampled: {patterns, fraction, match_spec(returns)},
        flags: Enum.uniq(s.flags ++ [:call | s.arity]),
        targets: s.targets ++ targets
    }

    {:reply, :ok, s}
  end

  def handle_call(:stop, _from, s) do
    s = clear(s)
    :ok = Native.stop(s.ref)
    stats = Native.stats(s.ref)
    :persistent_term.erase(@key)
    {:stop, :normal, {:ok, stats}, s}
  end

  # `trace/2` while the recording runs.
  defp trace_running(spec, s) do
    # A pattern only reaches loaded code: load the modules first (embedded or lazy loading).
    for {m, _, _} <- spec.patterns, do: Code.ensure_loaded(m)
    unloaded = for {m, _, _} = p <- spec.patterns, not :erlang.module_loaded(m), do: p
    # Modules that do not exist yet get their pattern when they load, when a recording
    # started by ElixirScope.Boot watches for them; otherwise they never would.
    watched? = :persistent_term.get({ElixirScope.Boot, :pending}, nil) != nil

    if unloaded != [] and not watched? do
      missing = unloaded |> Enum.map(&elem(&1, 0)) |> Enum.uniq() |> Enum.map(&inspect/1)

      {:reply,
       {:error,
        {:invalid_option, :calls,
         "no such module (not loaded, and not found on the code path): " <>
           Enum.join(missing, ", ")}}, s}
    else
      apply_trace(spec, unloaded, s)
    end
  end

  # `ElixirScope.trace/2`'s spec applied: flags on its targets, patterns on its functions
  # (`unloaded`: those waiting for their module, which ElixirScope.Boot watches for).
  defp apply_trace(spec, unloaded, s) do
    Native.set_sample(s.ref, spec.sample)
    spec = if :call in spec.flags, do: %{spec | flags: spec.flags ++ s.arity}, else: spec
    tracer = {:tracer, Native, s.ref}
    # Processes spawned by a traced pid are traced too (`:all`/`:new` cover them already).
    inherit = fn t -> if is_pid(t), do: [:set_on_spawn], else: [] end

    try do
      for t <- spec.targets,
          spec.flags != [],
          do: :erlang.trace(t, true, [tracer | inherit.(t) ++ spec.flags])

      ms = match_spec(spec.returns)
      for p <- spec.patterns, do: :erlang.trace_pattern(p, ms, [:local])
      if unloaded != [], do: ElixirScope.Boot.pending(unloaded)

      {:reply, :ok,
       %{
         s
         | flags: Enum.uniq(s.flags ++ spec.flags),
           targets: s.targets ++ spec.targets,
           patterns: s.patterns ++ spec.patterns,
           returns: spec.returns
       }}
    rescue
      e in ArgumentError -> {:reply, {:error, {:trace_failed, Exception.message(e)}}, s}
    end
  end

  @impl true
  def handle_info(:sample_on, %{sampled: {patterns, fraction, ms}} = s) do
    for p <- patterns, do: :erlang.trace_pattern(p, ms, [:local])
    Process.send_after(self(), :sample_off, round(sample_period(fraction) * fraction))
    {:noreply, s}
  end

  def handle_info(:sample_off, %{sampled: {patterns, fraction, _}} = s) do
    for p <- patterns, do: :erlang.trace_pattern(p, false, [:local])

    if fraction < 1,
      do: Process.send_after(self(), :sample_on, round(sample_period(fraction) * (1 - fraction))),
      else: send(self(), :sample_on)

    {:noreply, s}
  end

  def handle_info(msg, s) when msg in [:sample_on, :sample_off], do: {:noreply, s}

  def handle_info(:check, s) do
    case Native.stats(s.ref).state do
      :running ->
        Process.send_after(self(), :check, @check_ms)
        {:noreply, s}

      _stopped_by_itself ->
        # A limit or an error ended the recording: clear what was set, keep the stats.
        {:noreply, clear(s)}
    end
  end

  @impl true
  def terminate(_reason, s) do
    clear(s)
    Native.stop(s.ref)
    :persistent_term.erase(@key)
  end

  # 100 ms, or longer for small fractions so the on-time is at least 10 ms and whole
  # milliseconds keep the fraction within 5% (plans refuse fractions under 0.001).
  defp sample_period(fraction), do: max(@sample_period_ms, round(10 / fraction))

  defp match_spec(true), do: [{:_, [], [{:exception_trace}]}]
  defp match_spec(false), do: true

  # Clears the trace flags and patterns this recording set.
  defp clear(%{flags: [], patterns: [], sampled: nil} = s), do: s

  defp clear(s) do
    sampled = if s.sampled, do: elem(s.sampled, 0), else: []
    for p <- s.patterns ++ sampled, do: :erlang.trace_pattern(p, false, [:local])

    for t <- Enum.uniq(s.targets) do
      t = if t in [:new, :existing], do: :all, else: t

      try do
        :erlang.trace(t, false, [:set_on_spawn | s.flags])
      rescue
        ArgumentError -> :ok
      end
    end

    %{s | flags: [], patterns: [], targets: [], sampled: nil}
  end
end
