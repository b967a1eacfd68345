//! `scope-analyze`: conversion of traces to Parquet and analyses with Polars.
//!
//! Not built yet: issue 4 ("Convert to Parquet and analyze with Polars") fills this crate.
//! It stays free of polars/arrow until then so the workspace builds in seconds.
