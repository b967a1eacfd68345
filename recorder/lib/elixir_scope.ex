defmodule ElixirScope do
  @moduledoc """
  Record what a BEAM node does into crash-safe trace files, for `scope` to analyze offline.

      {:ok, _} = ElixirScope.start(dir: "/var/tmp/trace")
      :ok = ElixirScope.trace(:new, calls: [MyApp.Worker], messages: true)
      # ... run the workload ...
      {:ok, stats} = ElixirScope.stop()

  Events are written by a NIF tracer (`erl_tracer`) inside the traced processes into
  per-scheduler buffers; a background thread compresses them into segment files under
  `dir/<node>/`. No tracer process, no mailbox: a traced process never waits for the
  recorder. When buffers are full, events are dropped and the drops are written into the
  files; the node is never slowed down to save an event.

  ## Safety limits

  - `:stop_after` (`{:events, n}` or `{:ms, t}`) ends recording by itself, like the limits of
    `recon_trace` and `redbug`.
  - `:max_events_per_sec` discards events above a rate; the discards are counted in the files.
  - Disk full or any I/O error stops recording; the node keeps running, `stats/0` says why,
    and the files written so far stay valid.

  ## Return values and tail recursion

  `returns: true` sets `exception_trace` on the traced functions so every call is paired with
  its `return_from` (or `exception_from`). The BEAM implements this by keeping a return frame
  on the stack, which turns a tail-recursive loop into a body-recursive one: a loop of 200,000
  iterations traced this way took 16 s instead of 0.18 s in our measurements, with the stack
  growing all the while. Do not use `returns: true` on tail-recursive functions (server
  loops, `Enum.reduce` bodies over huge inputs); use `returns: false` with `return_to: true`
  (records where each call returned to, without holding frames), and keep `:stop_after` set.
  """

  alias ElixirScope.Recorder

  @type start_opt ::
          {:dir, Path.t()}
          | {:segment_bytes, pos_integer}
          | {:max_bytes, pos_integer}
          | {:buffer_bytes, pos_integer}
          | {:flush_ms, pos_integer}
          | {:capture, :none | {:bytes, pos_integer}}
          | {:redact, [module]}
          | {:max_events_per_sec, pos_integer}
          | {:stop_after, {:events, pos_integer} | {:ms, pos_integer}}

  @doc """
  Starts recording into `opts[:dir]` (required). Options and defaults: `segment_bytes:
  64 MiB`, `max_bytes: 1 GiB` (retention: oldest segments deleted beyond it), `buffer_bytes:
  8 MiB` per scheduler, `flush_ms: 100`, `capture: {:bytes, 256}` (or `:none`), `redact: []`
  (modules whose arguments and return values are never captured), `max_events_per_sec`,
  `stop_after`.

  Returns `{:ok, pid}` of the process that owns the recording, or `{:error, reason}`.
  """
  @spec start([start_opt]) :: {:ok, pid} | {:error, term}
  def start(opts), do: Recorder.start(opts)

  @doc """
  Traces `target` (`pid`, `[pid]`, `:all`, `:new` or `:existing`). Options:
  `calls: [module | {module, function, arity}]`, `returns: true`, `return_to: false`,
  `messages: true`, `procs: true`, `gc: false`, `scheduling: false`, `sample: 1.0` (the
  fraction of processes recorded, chosen by pid so a recorded process is recorded whole).
  """
  @spec trace(pid | [pid] | :all | :new | :existing, keyword) :: :ok | {:error, term}
  def trace(target, opts \\ []), do: Recorder.trace(target, opts)

  @doc """
  Traces `target` (as `trace/2`; default `:new`) as a plan from `scope plan` says: `plan` is
  the path of the file it wrote (a string, or an Erlang charlist), or its terms. Functions
  marked full are traced as
  `calls:`; sampled ones have their trace patterns on for the plan's fraction of every
  100 ms (longer for fractions under 10%; a call traced is traced with its return) unless
  already traced in full; `messages` and `procs` as planned.
  """
  @spec trace_plan(Path.t() | charlist | [tuple], pid | [pid] | :all | :new | :existing) ::
          :ok | {:error, term}
  def trace_plan(plan, target \\ :new), do: Recorder.trace_plan(plan, target)

  @doc "Records a custom event `name` with `data` (captured like a value)."
  @spec event(String.t() | atom, term) :: :ok | {:error, :not_recording}
  def event(name, data \\ nil), do: Recorder.event(:custom, name, data, 0, 0, 0)

  @doc """
  Runs `fun` inside a span: a `span_start` and a `span_stop` event with a fresh correlation id,
  linked to the enclosing span of the same process (if any). Returns what `fun` returns; if
  `fun` raises, the span is stopped and the exception re-raised.
  """
  @spec span(String.t() | atom, term, (() -> result)) :: result when result: var
  def span(name, metadata \\ %{}, fun) when is_function(fun, 0) do
    parent = Process.get(:elixir_scope_span, 0)
    id = :erlang.unique_integer([:positive, :monotonic])
    started = System.monotonic_time()
    Recorder.event(:span_start, name, metadata, id, parent, 0)
    Process.put(:elixir_scope_span, id)

    try do
      fun.()
    after
      Process.put(:elixir_scope_span, parent)
      duration = System.convert_time_unit(System.monotonic_time() - started, :native, :nanosecond)
      Recorder.event(:span_stop, name, metadata, id, parent, duration)
    end
  end

  @doc "Counters: events, dropped (ring full or over budget), values shed under pressure, the writer thread's CPU time (`writer_cpu_us`), bytes, segments, current rate, state and last error."
  @spec stats() :: map
  def stats, do: Recorder.stats()

  @doc "Stops tracing, writes what is buffered, closes the segments with their footers."
  @spec stop() :: {:ok, map} | {:error, :not_recording}
  def stop, do: Recorder.stop()
end
