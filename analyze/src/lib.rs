//! `scope-analyze`: traces to Parquet, and the analyses behind `scope analyze`.
//!
//! - [`schema`]: the events table (one row per event) as Arrow batches; [`convert`] writes
//!   it to Parquet, one file or hive-partitioned by node.
//! - [`table`]: loads that table (from segments or Parquet, all of it or a time window) as
//!   vectors for the analyses, or as a Polars frame for `scope query`.
//! - [`summary`], [`clock`] (multi-node repair), [`spans`], [`messages`], [`processes`],
//!   [`mailbox`], [`correlation`], [`anomalies`]: the analyses; [`report`] runs them all.
//! - [`replay`]: what processes did, in order; [`export`] (Chrome JSON, folded stacks) and
//!   [`html`] (the one-file incident report) present a trace to people and other tools.
//! - [`plan`]: what to trace within an events/s budget, from a previous trace.
//! - [`units`]: how times, durations and sizes are printed.

pub mod anomalies;
pub mod clock;
mod columns;
pub mod convert;
pub mod correlation;
pub mod error;
pub mod export;
pub mod genserver;
pub mod html;
pub mod mailbox;
pub mod messages;
pub mod plan;
pub mod processes;
pub mod query;
pub mod replay;
pub mod report;
pub mod schema;
pub mod spans;
pub mod summary;
pub mod table;
pub mod units;

pub use error::{Error, Result};
