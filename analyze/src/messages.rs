//! Messages: each `send` paired with the `receive` that delivered it.
//!
//! Erlang delivers messages between one sender and one receiver in the order they were
//! sent, so the k-th send from A to B carrying a given message hash is the k-th receive by B
//! of that hash: pairing is exact per (sender, receiver) pair without trusting content hashes
//! to be unique. A `receive` does not name its sender, so a receive is paired with the
//! earliest unpaired send to that receiver with the same hash; identical messages from two
//! senders interleaved are the one case where the choice of sender is a guess (the
//! latencies are still right to within their gap).
//!
//! Sends to a registered name are resolved through the `register` events seen so far; sends
//! to a process alias (how `GenServer.call` replies travel since OTP 24) name no process, and
//! pair with whichever process receives their hash. On one
//! node a receive is never paired with a send stamped after it (its real send was not
//! traced); across nodes, clocks differ, so order is not required.
//!
//! A send never received is classified: the receiver exited (or the BEAM said
//! `send_to_non_existing_process`), the receiver's receives are not traced, or it was still
//! in flight when the trace ended.

use std::collections::{HashMap, VecDeque};

use scope_format::Kind;
use serde::Serialize;

use crate::columns::Columns;
use crate::table::Rows;

/// A send and the receive that delivered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Row of the `send`.
    pub send: usize,
    /// Row of the `receive`.
    pub receive: usize,
    pub sender: u32,
    pub receiver: u32,
    /// Delivery latency, ns: monotonic on one node, wall-clock across nodes.
    pub latency_ns: i64,
}

/// Why a send has no receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreceived {
    /// The receiver had exited, or did not exist.
    DeadReceiver,
    /// The receiver's events are not in the trace.
    NotTraced,
    /// Sent, not yet delivered when the trace ends.
    InFlight,
    /// Sent to an alias or a name no traced process holds, and not received by any traced
    /// process.
    UnknownReceiver,
}

/// Messages of a trace.
#[derive(Debug, Default)]
pub struct Messages {
    pub pairs: Vec<Pair>,
    /// Sends never received, with why.
    pub unreceived: Vec<(usize, Unreceived)>,
    /// Receives whose send is not in the trace (an untraced sender).
    pub unmatched_receives: u64,
    pub sends: u64,
    pub receives: u64,
}

/// Pairs sends and receives.
pub fn pair(rows: &Rows) -> Messages {
    let mut m = Messages::default();
    let mut registered: HashMap<(u32, u32), u32> = HashMap::new(); // (node, name) → pid
    let mut exited_at: HashMap<u32, usize> = HashMap::new();
    let mut receives_traced = vec![false; rows.pids.len()];
    // Unpaired sends per (receiver, hash, sender's node), oldest first. Split by node so a
    // receive looks only at queue fronts: on its own node, a front stamped after it means
    // every send behind it is too.
    let mut pending: HashMap<(u32, u32, u32), VecDeque<usize>> = HashMap::new();
    let mut receiver_of: HashMap<usize, u32> = HashMap::new();
    // Sends to a target that is neither a pid nor a known name (a process alias, which
    // `GenServer.call` replies use), by hash: whoever receives that hash got it.
    let mut pending_any: HashMap<(u32, u32, u32), VecDeque<usize>> = HashMap::new();
    let mut dead: Vec<usize> = Vec::new();
    for i in 0..rows.len() {
        match rows.kind[i] {
            Some(Kind::Register) => {
                if let Some(n) = rows.name[i] {
                    registered.insert((rows.node[i], n), rows.pid[i]);
                }
            }
            Some(Kind::Unregister) => {
                if let Some(n) = rows.name[i] {
                    registered.remove(&(rows.node[i], n));
                }
            }
            Some(Kind::Exit) => {
                exited_at.insert(rows.pid[i], i);
            }
            Some(Kind::SendToNonExistingProcess) => {
                m.sends += 1;
                dead.push(i);
            }
            Some(Kind::Send) => {
                m.sends += 1;
                let to = rows.peer[i].or_else(|| {
                    let n = rows.name[i]?;
                    registered.get(&(rows.node[i], n)).copied()
                });
                let Some(h) = rows.msg_hash[i] else { continue };
                let Some(to) = to else {
                    pending_any
                        .entry((u32::MAX, h, rows.node[i]))
                        .or_default()
                        .push_back(i);
                    continue;
                };
                pending
                    .entry((to, h, rows.node[i]))
                    .or_default()
                    .push_back(i);
                receiver_of.insert(i, to);
            }
            _ => {}
        }
    }
    // Receives, once every send is known: across nodes, a receive can come before its send
    // in wall-clock order (the nodes' clocks disagree; `crate::clock` repairs that later).
    for i in 0..rows.len() {
        if rows.kind[i] != Some(Kind::Receive) {
            continue;
        }
        m.receives += 1;
        let r = rows.pid[i];
        receives_traced[r as usize] = true;
        let Some(h) = rows.msg_hash[i] else { continue };
        let node = rows.node[i];
        let found = take(&mut pending, (r, h), node, i, rows)
            .or_else(|| take(&mut pending_any, (u32::MAX, h), node, i, rows));
        match found {
            Some(s) => {
                receiver_of.remove(&s);
                let latency_ns = if rows.node[s] == rows.node[i] {
                    rows.ts[i].saturating_sub(rows.ts[s])
                } else {
                    rows.time[i].saturating_sub(rows.time[s])
                };
                m.pairs.push(Pair {
                    send: s,
                    receive: i,
                    sender: rows.pid[s],
                    receiver: r,
                    latency_ns,
                });
            }
            None => m.unmatched_receives += 1,
        }
    }
    for i in dead {
        m.unreceived.push((i, Unreceived::DeadReceiver));
    }
    let mut left: Vec<(usize, u32)> = receiver_of.into_iter().collect();
    left.sort_unstable();
    for (s, to) in left {
        // A receiver that exited got no receive for it: it was dead, or died with it queued.
        let why = if exited_at.contains_key(&to) {
            Unreceived::DeadReceiver
        } else if !receives_traced.get(to as usize).copied().unwrap_or(false) {
            Unreceived::NotTraced
        } else {
            Unreceived::InFlight
        };
        m.unreceived.push((s, why));
    }
    for q in pending_any.into_values() {
        m.unreceived
            .extend(q.into_iter().map(|s| (s, Unreceived::UnknownReceiver)));
    }
    m.unreceived.sort_unstable();
    m
}

/// The oldest send in `queues` for (receiver, hash) that receive `i` (on `node`) can have
/// received: on its own node one stamped no later than it; else the earliest of the other
/// nodes' fronts (their clocks are not comparable with this node's until repaired).
fn take(
    queues: &mut HashMap<(u32, u32, u32), VecDeque<usize>>,
    (r, h): (u32, u32),
    node: u32,
    i: usize,
    rows: &Rows,
) -> Option<usize> {
    if let Some(q) = queues.get_mut(&(r, h, node)) {
        if q.front().is_some_and(|&s| rows.ts[s] <= rows.ts[i]) {
            return q.pop_front();
        }
    }
    let other = (0..rows.nodes.len() as u32)
        .filter(|&k| k != node)
        .filter_map(|k| Some((*queues.get(&(r, h, k))?.front()?, k)))
        .min()?;
    queues.get_mut(&(r, h, other.1))?.pop_front()
}

/// The messages section of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageSummary {
    pub sends: u64,
    pub receives: u64,
    /// Sends paired with their receive.
    pub paired: u64,
    /// Receives whose send is not in the trace.
    pub unmatched_receives: u64,
    /// Sends never received, by reason.
    pub dead_receiver: u64,
    pub not_traced: u64,
    pub in_flight: u64,
    pub unknown_receiver: u64,
    /// Delivery latency of paired messages (ns).
    pub latency_p50_ns: Option<i64>,
    pub latency_p90_ns: Option<i64>,
    pub latency_p99_ns: Option<i64>,
    pub latency_max_ns: Option<i64>,
    /// Busiest sender → receiver pairs.
    pub pairs: Vec<PairSummary>,
}

/// Traffic between two processes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairSummary {
    pub sender: String,
    pub receiver: String,
    pub messages: u64,
    pub latency_p50_ns: Option<i64>,
    pub latency_max_ns: Option<i64>,
}

/// Summarizes pairs with Polars: latency percentiles, and the `top` busiest pairs.
pub fn summarize(rows: &Rows, m: &Messages, top: usize) -> crate::Result<MessageSummary> {
    use polars::prelude::*;
    let e = |err| crate::Error::polars("message statistics", err);
    let df = DataFrame::new(
        m.pairs.len(),
        vec![
            Column::new(
                "sender".into(),
                m.pairs
                    .iter()
                    .map(|p| rows.pid_text(p.sender))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "receiver".into(),
                m.pairs
                    .iter()
                    .map(|p| rows.pid_text(p.receiver))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "latency".into(),
                m.pairs.iter().map(|p| p.latency_ns).collect::<Vec<i64>>(),
            ),
        ],
    )
    .map_err(e)?;
    let q = |p: f64| crate::columns::percentile_ns("latency", p);
    let overall = df
        .clone()
        .lazy()
        .select([
            q(0.5).alias("p50"),
            q(0.9).alias("p90"),
            q(0.99).alias("p99"),
            col("latency").max().alias("max"),
        ])
        .collect()
        .map_err(e)?;
    let cols_overall = Columns::new(&overall, "message statistics");
    let get = |c: &str| -> crate::Result<Option<i64>> { Ok(cols_overall.i64(c)?.get(0)) };
    let by_pair = df
        .lazy()
        .group_by([col("sender"), col("receiver")])
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            q(0.5).alias("p50"),
            col("latency").max().alias("max"),
        ])
        .sort_by_exprs(
            [col("n"), col("sender"), col("receiver")],
            SortMultipleOptions::default().with_order_descending_multi([true, false, false]),
        )
        .limit(top as IdxSize)
        .collect()
        .map_err(e)?;
    let cols_by_pair = Columns::new(&by_pair, "message statistics");
    let snd = cols_by_pair.str("sender")?;
    let rcv = cols_by_pair.str("receiver")?;
    let n = cols_by_pair.u64("n")?;
    let p50 = cols_by_pair.i64("p50")?;
    let max = cols_by_pair.i64("max")?;
    let pairs = (0..by_pair.height())
        .map(|i| PairSummary {
            sender: snd.get(i).unwrap_or("?").to_string(),
            receiver: rcv.get(i).unwrap_or("?").to_string(),
            messages: n.get(i).unwrap_or(0),
            latency_p50_ns: p50.get(i),
            latency_max_ns: max.get(i),
        })
        .collect();
    let count = |w: Unreceived| m.unreceived.iter().filter(|u| u.1 == w).count() as u64;
    Ok(MessageSummary {
        sends: m.sends,
        receives: m.receives,
        paired: m.pairs.len() as u64,
        unmatched_receives: m.unmatched_receives,
        dead_receiver: count(Unreceived::DeadReceiver),
        not_traced: count(Unreceived::NotTraced),
        in_flight: count(Unreceived::InFlight),
        unknown_receiver: count(Unreceived::UnknownReceiver),
        latency_p50_ns: get("p50")?,
        latency_p90_ns: get("p90")?,
        latency_p99_ns: get("p99")?,
        latency_max_ns: get("max")?,
        pairs,
    })
}
