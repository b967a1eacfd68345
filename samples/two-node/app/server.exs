# Node kv_a of the two-node sample: a key-value store (KV.Store, a registered GenServer)
# that node kv_b calls over distribution. Every 50th read takes a slow path (a 25 ms
# "disk read"). Stops when the client sends :stop. Run by ../record.sh.

defmodule KV.Store do
  use GenServer

  def start(_), do: GenServer.start(__MODULE__, %{}, name: __MODULE__)
  def init(s), do: {:ok, s}

  def handle_call({:put, k, v}, _from, s), do: {:reply, :ok, Map.put(s, k, v)}

  def handle_call({:get, k}, _from, s) do
    if rem(k, 50) == 0, do: Process.sleep(25)
    {:reply, Map.get(s, k), s}
  end

  def handle_info(:stop, s), do: {:stop, :normal, s}
end

{:ok, store} = KV.Store.start([])
ref = Process.monitor(store)
IO.puts("store #{List.to_string(:erlang.pid_to_list(store))} on #{node()}")

receive do
  {:DOWN, ^ref, _, _, _} -> :ok
after
  60_000 -> raise "no client came"
end
