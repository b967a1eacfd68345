//! Multi-node time: traces from several nodes are merged by their wall-clock anchors, and
//! node clocks disagree. A message cannot be received before it was sent, so every
//! cross-node send → receive pair bounds the skew between two nodes. Repair, offline:
//!
//! 1. Per node, the smallest forward shift that puts every receive after its send
//!    (longest paths over the constraint graph, Bellman–Ford; nodes that need no shift keep
//!    their clock).
//! 2. What constant shifts cannot fix (clocks that drifted during the trace, or
//!    contradictory constraints) is fixed per event by a hybrid logical clock pass: each
//!    node's time never goes backwards, and a receive is at least 1 ns after its send.
//!
//! The report says which nodes moved and by how much, and how many receives preceded
//! their send before the repair.

use serde::Serialize;

use crate::messages::Messages;
use crate::table::Rows;

/// A node's correction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeShift {
    pub node: String,
    /// Constant shift applied to its wall clock (ns).
    pub shift_ns: i64,
    /// Largest further per-event correction from the hybrid-clock pass (ns).
    pub max_event_correction_ns: i64,
}

/// What the repair did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClockReport {
    /// Message pairs between nodes.
    pub cross_node_messages: u64,
    /// Of those, received before they were sent by the raw clocks.
    pub receives_before_send: u64,
    /// Nodes whose clock was corrected (none when no pair needed it).
    pub nodes: Vec<NodeShift>,
}

/// Repairs `rows.time` so that every paired receive follows its send, and recomputes the
/// latencies of cross-node pairs from the repaired times.
pub fn repair(rows: &mut Rows, msgs: &mut Messages) -> ClockReport {
    let n = rows.nodes.len();
    let mut report = ClockReport::default();
    if n < 2 {
        return report;
    }
    // need[a][b]: the least (time_b − time_a) shift difference required by a → b messages.
    let mut need = vec![vec![i64::MIN; n]; n];
    for p in &msgs.pairs {
        let (a, b) = (rows.node[p.send] as usize, rows.node[p.receive] as usize);
        if a == b {
            continue;
        }
        report.cross_node_messages += 1;
        let gap = rows.time[p.send].saturating_sub(rows.time[p.receive]);
        if gap >= 0 {
            report.receives_before_send += 1;
        }
        need[a][b] = need[a][b].max(gap.saturating_add(1));
    }
    let mut shift = vec![0i64; n];
    for _ in 0..n {
        let mut changed = false;
        for a in 0..n {
            for b in 0..n {
                let want = shift[a].saturating_add(need[a][b]);
                if need[a][b] > i64::MIN && shift[b] < want {
                    shift[b] = want;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Contradictory constraints keep raising shifts; only forward shifts that were needed
    // are kept (the hybrid clock pass handles the rest).
    let base = shift.iter().copied().min().unwrap_or(0);
    for s in &mut shift {
        *s = s.saturating_sub(base);
    }
    for i in 0..rows.len() {
        rows.time[i] = rows.time[i].saturating_add(shift[rows.node[i] as usize]);
    }

    // Hybrid logical clock over the event order, receives after their sends.
    let send_of: std::collections::HashMap<usize, usize> =
        msgs.pairs.iter().map(|p| (p.receive, p.send)).collect();
    let mut last = vec![i64::MIN; n];
    let mut extra = vec![0i64; n];
    let mut fixed = rows.time.clone();
    // Rows are in merged wall order; a receive whose send comes later in that order takes
    // the send's (already shifted) time.
    for i in 0..rows.len() {
        let node = rows.node[i] as usize;
        let mut t = rows.time[i].max(last[node]);
        if let Some(&s) = send_of.get(&i) {
            if rows.node[s] as usize != node {
                let st = if s < i { fixed[s] } else { rows.time[s] };
                t = t.max(st.saturating_add(1));
            }
        }
        extra[node] = extra[node].max(t.saturating_sub(rows.time[i]));
        last[node] = t;
        fixed[i] = t;
    }
    rows.time = fixed;
    for p in &mut msgs.pairs {
        if rows.node[p.send] != rows.node[p.receive] {
            p.latency_ns = rows.time[p.receive].saturating_sub(rows.time[p.send]);
        }
    }
    report.nodes = (0..n)
        .filter(|&k| shift[k] != 0 || extra[k] != 0)
        .map(|k| NodeShift {
            node: rows.nodes.get(k as u32).to_string(),
            shift_ns: shift[k],
            max_event_correction_ns: extra[k],
        })
        .collect();
    report
}
