//! `scope-recorder`: the erl_tracer NIF, per-scheduler rings and writer thread.
//!
//! Not built yet: issue 3 ("Recorder: an erl_tracer NIF and the `ElixirScope` Elixir API
//! writing segment files") fills this crate and the Mix project beside it. Until then the
//! only way to produce a trace is `scope_format::TraceWriter`.
