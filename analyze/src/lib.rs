//! `scope-analyze`: traces to Parquet, and the analyses behind `scope analyze`.
//!
//! - [`schema`]: the events table (one row per event) as Arrow batches.
//! - [`convert`]: segments → Parquet, one file or hive-partitioned by node.

pub mod convert;
pub mod error;
pub mod schema;
pub mod spans;
pub mod table;

pub use error::{Error, Result};
