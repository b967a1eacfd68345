#!/usr/bin/env escript
%% An Erlang escript that knows nothing of ElixirScope, for `scope record`: a worker
%% process fills a queue (module queue, on the code path) with 50 items and sends the
%% length back; 3 messages go each way.
%%
%%   scope record --calls :queue.in/2 --messages --procs --dir <trace> -- escript record_escript.escript
-module(record_escript).
-export([main/1]).

main(_) ->
    Parent = self(),
    Worker = spawn(fun() -> worker(Parent) end),
    [begin Worker ! {fill, N}, receive {len, L} -> L end end || N <- [10, 20, 20]],
    io:format("worker ~s~n", [pid_to_list(Worker)]).

worker(Parent) ->
    receive
        {fill, N} ->
            Q = lists:foldl(fun queue:in/2, queue:new(), lists:seq(1, N)),
            Parent ! {len, queue:len(Q)},
            worker(Parent)
    end.
