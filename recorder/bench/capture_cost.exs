# What capturing a value costs by the size of the term: a large term must cost no more than
# its bound (`capture: {:bytes, 256}`) to capture.
#   cd recorder && MIX_ENV=test mix compile && \
#     elixir -pa _build/test/lib/elixir_scope/ebin bench/capture_cost.exs [calls]

Code.require_file("work.exs", __DIR__)

n = String.to_integer(List.first(System.argv()) || "200000")
nested = Enum.reduce(1..10_000, :leaf, fn i, acc -> {i, acc} end)

terms = [
  {"integer 42", 42},
  {"1 MiB binary", :binary.copy("x", 1_048_576)},
  {"list of 100,000 integers", Enum.to_list(1..100_000)},
  {"map of 10,000 keys", Map.new(1..10_000, &{&1, &1})},
  {"tuple nested 10,000 deep", nested}
]

median = fn l -> l |> Enum.sort() |> Enum.at(div(length(l), 2)) end

time = fn term, capture ->
  samples =
    for _ <- 1..5 do
      dir =
        Path.join(
          System.tmp_dir!(),
          "scope_cap_#{System.pid()}_#{System.unique_integer([:positive])}"
        )

      pid = Bench.Work.runner(fn -> Bench.Work.calls_same(term, n) end)

      if capture != :untraced do
        {:ok, _} = ElixirScope.start(dir: dir, capture: capture)

        :ok =
          ElixirScope.trace(pid,
            calls: [{Bench.Work, :same, 1}],
            returns: true,
            messages: false,
            procs: false
          )
      end

      us = Bench.Work.run(pid)
      if capture != :untraced, do: {:ok, _} = ElixirScope.stop()
      File.rm_rf!(dir)
      us
    end

  median.(samples)
end

IO.puts("#{n} calls of Bench.Work.same/1 with return values (2 events each), median of 5 runs\n")
IO.puts("| argument | untraced µs | capture :none, ns/event | capture 256 B, ns/event |")
IO.puts("|---|---|---|---|")

for {name, term} <- terms do
  base = time.(term, :untraced)
  none = time.(term, :none)
  bytes = time.(term, {:bytes, 256})
  per = fn us -> round((us - base) * 1000 / (2 * n)) end
  IO.puts("| #{name} | #{base} | #{per.(none)} | #{per.(bytes)} |")
end
