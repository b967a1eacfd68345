defmodule ElixirScope.TraceFiles do
  @moduledoc false
  # Reads what a recording wrote, through the `scope-events` helper (tests/src/bin), which
  # prints the trace as Erlang terms.

  def tmp_dir(name) do
    dir =
      Path.join(
        System.tmp_dir!(),
        "elixir_scope_test_#{name}_#{System.unique_integer([:positive])}"
      )

    File.rm_rf!(dir)
    File.mkdir_p!(dir)
    dir
  end

  @doc "The summary map and the events of the trace under `dir`."
  def read(dir) do
    out = Path.join(dir, "events.terms")
    {_, 0} = System.cmd(bin("scope-events"), [Path.join(dir, "trace")], into: File.stream!(out))
    {:ok, [summary | events]} = :file.consult(String.to_charlist(out))
    {summary, events}
  end

  @doc "Only the summary (with counts by kind): for traces too large to read as terms."
  def summary(dir) do
    {out, 0} = System.cmd(bin("scope-events"), ["--summary", Path.join(dir, "trace")])
    {:ok, tokens, _} = :erl_scan.string(String.to_charlist(out))
    {:ok, summary} = :erl_parse.parse_term(tokens)
    summary
  end

  def events(dir, kind) do
    {_, events} = read(dir)
    Enum.filter(events, &(&1.kind == kind))
  end

  # SCOPE_BIN_DIR (set by scripts/test.sh), else where the project's scripts and a plain
  # `cargo build` put the binaries.
  def bin(name) do
    target = System.get_env("CARGO_TARGET_DIR")

    candidates =
      [
        System.get_env("SCOPE_BIN_DIR"),
        target && Path.join(target, "debug"),
        Path.join(System.user_home!(), ".cache/elixir-scope/target/debug"),
        Path.expand("../target/debug", File.cwd!())
      ]
      |> Enum.reject(&is_nil/1)
      |> Enum.map(&Path.join(&1, name))

    Enum.find(candidates, &File.exists?/1) ||
      raise "#{name} not found in #{inspect(candidates)}: run `cargo build` at the project root"
  end
end
