defmodule Mix.Tasks.Compile.ElixirScopeNif do
  @moduledoc """
  Builds the recorder NIF (`native/scope_nif`, a Rust crate) with cargo and copies it to
  the application's `priv/scope_nif.so` under `_build`. Cargo decides what is stale, so a no-op build takes about a second.

  Build output goes to `SCOPE_NIF_TARGET_DIR` when set (to reuse it across checkouts), else
  under `_build/cargo`. The NIF crate is its own cargo workspace, so this never disturbs the
  build of the rest of the project.
  """
  use Mix.Task.Compiler

  @native Path.expand("native/scope_nif", __DIR__)

  @impl true
  def run(_args) do
    target =
      System.get_env("SCOPE_NIF_TARGET_DIR") || Path.join(Mix.Project.build_path(), "cargo")

    cargo =
      System.find_executable("cargo") ||
        Mix.raise("cargo not found: install Rust to build the recorder NIF")

    {out, status} =
      System.cmd(
        cargo,
        ["build", "--release", "--quiet", "--manifest-path", Path.join(@native, "Cargo.toml")],
        env: [{"CARGO_TARGET_DIR", target}],
        stderr_to_stdout: true
      )

    if status != 0 do
      Mix.shell().error(out)
      Mix.raise("cargo build of the recorder NIF failed (exit #{status})")
    end

    ext = if match?({:unix, :darwin}, :os.type()), do: "dylib", else: "so"
    built = Path.join([target, "release", "libscope_nif.#{ext}"])
    priv = Path.join(Mix.Project.app_path(), "priv")
    File.mkdir_p!(priv)
    dest = Path.join(priv, "scope_nif.so")

    if not File.exists?(dest) or File.stat!(built).mtime > File.stat!(dest).mtime or
         File.stat!(built).size != File.stat!(dest).size do
      File.cp!(built, dest)
      {:ok, []}
    else
      {:noop, []}
    end
  end
end

defmodule ElixirScope.MixProject do
  use Mix.Project

  def project do
    [
      app: :elixir_scope,
      version: "0.1.0",
      elixir: "~> 1.14",
      # The NIF first: modules load it (@on_load) as soon as they are compiled.
      compilers: [:elixir_scope_nif | Mix.compilers()],
      start_permanent: false,
      deps: [],
      test_coverage: [],
      elixirc_paths: elixirc_paths(Mix.env())
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]
end
