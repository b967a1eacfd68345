//! Requests: spans and telemetry grouped by correlation id, with everything they caused in
//! other processes through messages and spawns.
//!
//! A request is a root span (`ElixirScope.span/3` or a telemetry start/stop pair with no
//! parent); spans whose parent chain leads to it, and telemetry or custom events carrying
//! one of those span ids, belong to it. What it caused is found by following activity:
//! - a process's activity inside a span is the span's window in that process;
//! - a message sent from an activity starts activity in its receiver: from the receive to
//!   the end of the callback that handled it (the receiver's next traced callback, and the
//!   reply sent right after it), or to the receiver's next send back, or just the receive;
//! - a process spawned from an activity belongs to the request for its whole life.
//!
//! Following stops after [`MAX_HOPS`] messages or spawns from the root.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use scope_format::Kind;
use serde::Serialize;

use crate::messages::Messages;
use crate::spans::Spans;
use crate::table::Rows;

/// Hops (messages or spawns) followed from a request's own spans.
pub const MAX_HOPS: u32 = 6;

/// One request and what it caused.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request {
    /// The root span's id (its correlation id).
    pub id: u64,
    /// The root span's name.
    pub name: String,
    /// The process the root span ran in.
    pub pid: String,
    /// Wall-clock ns of its start, and its duration (null while unfinished at trace end).
    pub start_ns: i64,
    pub duration_ns: Option<i64>,
    /// Spans in it (the root included).
    pub spans: u64,
    /// Telemetry and custom events carrying one of its span ids.
    pub events_tagged: u64,
    /// Processes it ran in or caused activity in (its own first).
    pub processes: Vec<String>,
    /// Messages sent from its activity.
    pub messages: u64,
    /// Events inside its activity windows, in every process.
    pub events: u64,
    /// The root span's start and stop event ids.
    pub evidence: Vec<u64>,
}

/// An activity window: a process, a monotonic interval, and how many hops from the root.
#[derive(Clone, Copy, Debug)]
struct Activity {
    pid: u32,
    from: i64,
    to: i64,
    hops: u32,
}

/// Finds requests.
pub fn requests(rows: &Rows, spans: &Spans, msgs: &Messages) -> Vec<Request> {
    // User spans, by (node, id): ids are unique per node only. → (start row, parent id).
    let mut starts: BTreeMap<(u32, u64), (usize, u64)> = BTreeMap::new();
    let mut stops: HashMap<(u32, u64), usize> = HashMap::new();
    let mut tagged: HashMap<(u32, u64), u64> = HashMap::new();
    for i in 0..rows.len() {
        let Some(c) = rows.correlation[i] else {
            continue;
        };
        let c = (rows.node[i], c);
        match rows.kind[i] {
            Some(Kind::SpanStart) => {
                starts.insert(c, (i, rows.num0[i].max(0) as u64));
            }
            Some(Kind::SpanStop) => {
                stops.insert(c, i);
            }
            Some(Kind::Telemetry | Kind::Custom) => *tagged.entry(c).or_insert(0) += 1,
            _ => {}
        }
    }
    let root_of = |mut id: (u32, u64)| {
        for _ in 0..64 {
            match starts.get(&id) {
                Some(&(_, parent)) if parent != 0 && starts.contains_key(&(id.0, parent)) => {
                    id = (id.0, parent)
                }
                _ => break,
            }
        }
        id
    };
    let mut members: BTreeMap<(u32, u64), Vec<(u32, u64)>> = BTreeMap::new();
    for &id in starts.keys() {
        members.entry(root_of(id)).or_default().push(id);
    }

    // Per process: its rows in order (for counting), sends, spawns, callback spans.
    let mut by_pid: Vec<Vec<usize>> = vec![Vec::new(); rows.pids.len()];
    for i in 0..rows.len() {
        by_pid[rows.pid[i] as usize].push(i);
    }
    let paired_by_send: HashMap<usize, usize> =
        msgs.pairs.iter().map(|p| (p.send, p.receive)).collect();
    let mut callbacks: Vec<Vec<(i64, i64)>> = vec![Vec::new(); rows.pids.len()];
    for s in &spans.spans {
        if crate::mailbox::is_callback(rows, s.mfa) {
            callbacks[s.pid as usize].push((s.start_ts, s.end_ts));
        }
    }
    let mut last_ts = vec![i64::MIN; rows.pids.len()];
    for i in 0..rows.len() {
        let p = rows.pid[i] as usize;
        last_ts[p] = last_ts[p].max(rows.ts[i]);
    }
    let is_reply = |j: usize, sender: u32| {
        rows.kind[j] == Some(Kind::Send) && rows.peer[j].is_none_or(|p| p == sender)
    };
    let end_of_handling = |q: u32, recv: usize, sender: u32| -> i64 {
        let tr = rows.ts[recv];
        let list = &by_pid[q as usize];
        let cbs = &callbacks[q as usize];
        if let Some(&(_, end)) = cbs.get(cbs.partition_point(|c| c.0 < tr)) {
            // A GenServer replies right after its callback returns.
            let next = list.partition_point(|&j| rows.ts[j] <= end);
            return match list.get(next) {
                Some(&j) if is_reply(j, sender) => rows.ts[j],
                _ => end,
            };
        }
        list[list.partition_point(|&j| j <= recv)..]
            .iter()
            .find(|&&j| rows.kind[j] == Some(Kind::Send) && rows.peer[j] == Some(sender))
            .map_or(tr, |&j| rows.ts[j])
    };

    let mut out = Vec::new();
    for (&root, ids) in &members {
        let (start_row, _) = starts[&root];
        let stop_row = stops.get(&root).copied();
        let mut queue: VecDeque<Activity> = VecDeque::new();
        for id in ids {
            let (s, _) = starts[id];
            let p = rows.pid[s];
            let to = stops.get(id).map_or(last_ts[p as usize], |&e| rows.ts[e]);
            queue.push_back(Activity {
                pid: p,
                from: rows.ts[s],
                to,
                hops: 0,
            });
        }
        let mut procs: Vec<u32> = Vec::new();
        let mut seen_procs = BTreeSet::new();
        let mut counted: BTreeSet<usize> = BTreeSet::new();
        let mut messages = 0u64;
        while let Some(a) = queue.pop_front() {
            if seen_procs.insert(a.pid) {
                procs.push(a.pid);
            }
            let list = &by_pid[a.pid as usize];
            let lo = list.partition_point(|&j| rows.ts[j] < a.from);
            for &j in &list[lo..] {
                if rows.ts[j] > a.to {
                    break;
                }
                if !counted.insert(j) {
                    continue;
                }
                match rows.kind[j] {
                    Some(Kind::Send) => {
                        messages += 1;
                        if a.hops >= MAX_HOPS {
                            continue;
                        }
                        if let Some(&recv) = paired_by_send.get(&j) {
                            let q = rows.pid[recv];
                            queue.push_back(Activity {
                                pid: q,
                                from: rows.ts[recv],
                                to: end_of_handling(q, recv, a.pid),
                                hops: a.hops + 1,
                            });
                        }
                    }
                    Some(Kind::Spawn) if a.hops < MAX_HOPS => {
                        if let Some(c) = rows.peer[j] {
                            queue.push_back(Activity {
                                pid: c,
                                from: rows.ts[j],
                                to: last_ts[c as usize],
                                hops: a.hops + 1,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut evidence = vec![rows.event_id[start_row]];
        evidence.extend(stop_row.map(|r| rows.event_id[r]));
        out.push(Request {
            id: root.1,
            name: rows.name[start_row]
                .map(|n| rows.names.get(n).to_string())
                .unwrap_or_default(),
            pid: rows.pid_text(rows.pid[start_row]),
            start_ns: rows.time[start_row],
            duration_ns: stop_row.map(|r| rows.ts[r] - rows.ts[start_row]),
            spans: ids.len() as u64,
            events_tagged: ids
                .iter()
                .map(|id| tagged.get(id).copied().unwrap_or(0))
                .sum(),
            processes: procs.iter().map(|&p| rows.pid_text(p)).collect(),
            messages,
            events: counted.len() as u64,
            evidence,
        });
    }
    out.sort_by_key(|r| (r.start_ns, r.id));
    out
}
