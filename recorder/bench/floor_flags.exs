# What the BEAM's call tracing costs before any recording, by the flags and match spec it
# runs with: the counting NIF tracer (the floor of `bench/overhead.exs`) on N calls with
# `exception_trace`, with the argument list (`:call`, what value capture needs) or without
# it (`:arity`), and with the one argument handed over by the match spec instead
# (`{:message, :"$1"}`), over two loops: one that allocates nothing itself (the overhead
# workload's) and one that allocates a tuple per call. Medians of ROUNDS alternating runs,
# with the garbage collections each run took.
#
#   elixir -pa _build/test/lib/elixir_scope/ebin bench/floor_flags.exs N ROUNDS

Code.require_file("work.exs", __DIR__)

defmodule Bench.Alloc do
  @moduledoc false
  def f(x), do: x

  def calls(0), do: :ok

  def calls(n) do
    f({n, n})
    calls(n - 1)
  end
end

[n, rounds] = Enum.map(System.argv(), &String.to_integer/1)
ret = {:exception_trace}

variants = [
  {"argument list", [], [{:_, [], [ret]}]},
  {"arity", [:arity], [{:_, [], [ret]}]},
  {"arity, argument by match spec", [:arity], [{[:"$1"], [], [{:message, :"$1"}, ret]}]}
]

loops = [
  {"allocates nothing", Bench.Work, fn -> Bench.Work.calls(n) end},
  {"allocates a tuple per call", Bench.Alloc, fn -> Bench.Alloc.calls(n) end}
]

runs =
  for _ <- 1..rounds, {loop, mod, fun} <- loops, {name, flags, ms} <- variants do
    pid = Bench.Work.runner(fun)
    :erlang.trace_pattern({mod, :f, 1}, ms, [:local])
    c = ElixirScope.Native.counter_new()
    :erlang.trace(pid, true, [{:tracer, ElixirScope.Native, c}, :call | flags])
    {gcs, _, _} = :erlang.statistics(:garbage_collection)
    us = Bench.Work.run(pid)
    {gcs_after, _, _} = :erlang.statistics(:garbage_collection)
    :erlang.trace_pattern({mod, :f, 1}, false, [:local])
    {{loop, name}, {us, gcs_after - gcs}}
  end

IO.puts("| loop | flags | ns per call (median of #{rounds}) | garbage collections |")
IO.puts("|---|---|---|---|")

for {loop, _, _} <- loops, {name, _, _} <- variants do
  list = for {{^loop, ^name}, r} <- runs, do: r
  {us, gcs} = list |> Enum.sort() |> Enum.at(div(length(list), 2))
  IO.puts("| #{loop} | #{name} | #{round(us * 1000 / n)} | #{gcs} |")
end
