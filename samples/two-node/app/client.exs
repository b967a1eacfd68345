# Node kv_b of the two-node sample: connects to kv_a on this machine, writes 100 keys and
# reads them back twice through KV.Store on kv_a (GenServer calls over distribution), then
# tells the store to stop. Run by ../record.sh.

defmodule KV.Client do
  def connect(server, tries \\ 200) do
    cond do
      Node.connect(server) and
          :rpc.call(server, Process, :whereis, [KV.Store]) not in [nil, :undefined] ->
        :ok

      tries == 0 ->
        raise "cannot reach #{server}"

      true ->
        Process.sleep(50)
        connect(server, tries - 1)
    end
  end

  def put(server, k, v), do: GenServer.call({KV.Store, server}, {:put, k, v})
  def get(server, k), do: GenServer.call({KV.Store, server}, {:get, k})
end

[_, host] = String.split(Atom.to_string(node()), "@")
server = :"kv_a@#{host}"
:ok = KV.Client.connect(server)

for k <- 1..100, do: :ok = KV.Client.put(server, k, k * k)

for _ <- 1..2, k <- 1..100 do
  v = KV.Client.get(server, k)
  ^v = k * k
end

send({KV.Store, server}, :stop)
IO.puts("200 reads from #{server}")
