//! The summary section: nodes, processes, time range, events by kind, and dropped events
//! (with a warning when drops make the other sections partial).

use polars::prelude::*;
use serde::Serialize;

use scope_format::Kind;

use crate::columns::Columns;
use crate::error::{Error, Result};
use crate::table::Loaded;

/// One node of the trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeSummary {
    pub node: String,
    pub events: u64,
    pub processes: u64,
    /// Wall-clock ns of its first and last event.
    pub first_ns: i64,
    pub last_ns: i64,
}

/// The summary section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub events: u64,
    pub processes: u64,
    /// Wall-clock ns of the first and last event (`None` for an empty trace).
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub nodes: Vec<NodeSummary>,
    /// `(kind, events)`, most frequent first.
    pub events_by_kind: Vec<(String, u64)>,
    /// Events the recorder dropped.
    pub dropped: u64,
    /// Problems the reader reported (damage, gaps).
    pub problems: usize,
    /// Set when the results are partial, saying why.
    pub warning: Option<String>,
}

/// Rows that are not the recorder's own markers.
fn recorded_activity() -> Expr {
    let kind = col("kind").cast(DataType::String);
    Kind::ALL
        .iter()
        .filter(|k| k.is_recorder_marker())
        .fold(lit(true), |keep, k| {
            keep.and(kind.clone().neq(lit(k.name())))
        })
}

/// Computes the summary of a loaded table.
pub fn summarize(loaded: &Loaded) -> Result<Summary> {
    let err = |e| Error::polars("summary", e);
    let df = &loaded.events;
    let by_node = df
        .clone()
        .lazy()
        .group_by([col("node")])
        .agg([
            len().cast(DataType::UInt64).alias("events"),
            // As `scope info` counts them (`Kind::is_recorder_marker`).
            col("pid")
                .filter(recorded_activity())
                .n_unique()
                .cast(DataType::UInt64)
                .alias("processes"),
            col("time").min().alias("first"),
            col("time").max().alias("last"),
        ])
        .sort(["node"], SortMultipleOptions::default())
        .collect()
        .map_err(err)?;
    let cols_by_node = Columns::new(&by_node, "summary");
    let names = cols_by_node.str("node")?;
    let events = cols_by_node.u64("events")?;
    let procs = cols_by_node.u64("processes")?;
    let first = cols_by_node.i64("first")?;
    let last = cols_by_node.i64("last")?;
    let nodes: Vec<NodeSummary> = (0..by_node.height())
        .map(|i| NodeSummary {
            node: names.get(i).unwrap_or("?").to_string(),
            events: events.get(i).unwrap_or(0),
            processes: procs.get(i).unwrap_or(0),
            first_ns: first.get(i).unwrap_or(0),
            last_ns: last.get(i).unwrap_or(0),
        })
        .collect();

    let by_kind = df
        .clone()
        .lazy()
        .group_by([col("kind")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .sort_by_exprs(
            [col("n"), col("kind")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()
        .map_err(err)?;
    let cols_by_kind = Columns::new(&by_kind, "summary");
    let kinds = cols_by_kind.str("kind")?;
    let counts = cols_by_kind.u64("n")?;
    let events_by_kind = (0..by_kind.height())
        .map(|i| {
            (
                kinds.get(i).unwrap_or("?").to_string(),
                counts.get(i).unwrap_or(0),
            )
        })
        .collect();

    let total = df.height() as u64;
    let warning = if loaded.dropped > 0 {
        Some(format!(
            "the recorder dropped {} events ({:.2}% of those recorded): spans, message pairs \
             and counts near the drops are partial",
            loaded.dropped,
            loaded.dropped as f64 * 100.0 / (total + loaded.dropped) as f64
        ))
    } else if loaded.problems > 0 {
        Some(format!(
            "the trace is damaged ({} problems; see `scope verify`): results cover what was recovered",
            loaded.problems
        ))
    } else {
        None
    };
    Ok(Summary {
        events: total,
        processes: nodes.iter().map(|n| n.processes).sum(),
        first_ns: nodes.iter().map(|n| n.first_ns).min(),
        last_ns: nodes.iter().map(|n| n.last_ns).max(),
        nodes,
        events_by_kind,
        dropped: loaded.dropped,
        problems: loaded.problems,
        warning,
    })
}
