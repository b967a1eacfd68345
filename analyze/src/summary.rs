//! The summary section: nodes, processes, time range, events by kind, and dropped events
//! (with a warning when drops, damage or a time window make the other sections partial).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use scope_format::Kind;

use crate::table::{Rows, Window};
use crate::units::rfc3339;

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
    /// The part of the trace analyzed, when not all of it.
    pub window: Option<Window>,
    /// Set when the results are partial, saying why.
    pub warning: Option<String>,
}

/// The summary of a trace's rows, as loaded (before clock repair: each node's times as
/// it recorded them); `dropped`, `problems` and `window` as the load reported them.
pub fn summarize(rows: &Rows, dropped: u64, problems: usize, window: Option<Window>) -> Summary {
    // Per node: events, processes (as `scope info` counts them: not the recorder's own
    // markers, `Kind::is_recorder_marker`), first and last time.
    let mut per_node: BTreeMap<&str, (u64, HashSet<u32>, i64, i64)> = BTreeMap::new();
    let mut by_kind: HashMap<&str, u64> = HashMap::new();
    for i in 0..rows.len() {
        let t = rows.time[i];
        let n = per_node
            .entry(rows.nodes.get(rows.node[i]))
            .or_insert((0, HashSet::new(), t, t));
        n.0 += 1;
        if !rows.kind[i].is_some_and(Kind::is_recorder_marker) {
            n.1.insert(rows.pid[i]);
        }
        n.2 = n.2.min(t);
        n.3 = n.3.max(t);
        *by_kind
            .entry(rows.kind[i].map_or("?", Kind::name))
            .or_default() += 1;
    }
    let nodes: Vec<NodeSummary> = per_node
        .into_iter()
        .map(|(node, (events, pids, first_ns, last_ns))| NodeSummary {
            node: node.to_string(),
            events,
            processes: pids.len() as u64,
            first_ns,
            last_ns,
        })
        .collect();
    let mut events_by_kind: Vec<(String, u64)> = by_kind
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    events_by_kind.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let total = rows.len() as u64;
    let mut partial = Vec::new();
    if dropped > 0 && window.is_some() {
        partial.push(format!(
            "the recorder dropped {dropped} events in the whole trace: spans, message pairs \
             and counts near the drops are partial"
        ));
    } else if dropped > 0 {
        partial.push(format!(
            "the recorder dropped {} events ({:.2}% of the events traced): spans, message pairs \
             and counts near the drops are partial",
            dropped,
            dropped as f64 * 100.0 / (total + dropped) as f64
        ));
    } else if problems > 0 {
        partial.push(format!(
            "the trace is damaged ({problems} problems; see `scope verify`): results cover what was recovered"
        ));
    }
    // How each recording ended, and whether it began in the trace: the recorder's markers.
    let mut started: HashSet<u32> = HashSet::new();
    let mut stops: Vec<String> = Vec::new();
    // Traces made by the recorder carry its markers (hand-made ones may not).
    let mut stopped_any = false;
    for i in 0..rows.len() {
        match rows.kind[i] {
            Some(Kind::RecorderStart) => {
                started.insert(rows.node[i]);
            }
            Some(Kind::RecorderStop) => {
                stopped_any = true;
                let why = rows.value.get(i).unwrap_or("requested");
                if why != "requested" && !stops.iter().any(|s| s == why) {
                    stops.push(why.to_string());
                }
            }
            _ => {}
        }
    }
    for why in &stops {
        partial.push(format!(
            "the recording stopped itself ({why}): what happened after it is not in the trace"
        ));
    }
    if window.is_none() {
        let mut cut: Vec<&str> = rows
            .node
            .iter()
            .copied()
            .collect::<HashSet<u32>>()
            .into_iter()
            .filter(|n| !started.contains(n))
            .map(|n| rows.nodes.get(n))
            .collect();
        cut.sort_unstable();
        if !cut.is_empty() && (stopped_any || !started.is_empty()) {
            partial.push(format!(
                "the start of {} is not in the trace (its first segments were deleted by retention, `max_bytes`, or not given): it begins after the recording did",
                cut.join(", ")
            ));
        }
    }
    if let Some(w) = window {
        let part = match (w.from_ns, w.to_ns) {
            (Some(f), Some(e)) => format!("{} .. {}", rfc3339(f), rfc3339(e)),
            (Some(f), None) => format!("from {}", rfc3339(f)),
            (None, Some(e)) => format!("up to {}", rfc3339(e)),
            (None, None) => "all".into(),
        };
        partial.push(format!(
            "only the events {part} are analyzed: calls and messages that cross the window's \
             edges are partial"
        ));
    }
    let warning = (!partial.is_empty()).then(|| partial.join("; "));
    Summary {
        events: total,
        processes: nodes.iter().map(|n| n.processes).sum(),
        first_ns: nodes.iter().map(|n| n.first_ns).min(),
        last_ns: nodes.iter().map(|n| n.last_ns).max(),
        nodes,
        events_by_kind,
        dropped,
        problems,
        window,
        warning,
    }
}
