//! Requests: spans and telemetry grouped by correlation id, with everything they caused in
//! other processes through messages and spawns.
//!
//! A request is a root span (`ElixirScope.span/3` or a telemetry start/stop pair with no
//! parent); spans whose parent chain leads to it, and telemetry or custom events carrying
//! one of those span ids, belong to it. What it caused is found by following activity:
//! - a process's activity inside a span is the span's window in that process;
//! - a message sent from an activity starts activity in its receiver: the receive, and the
//!   GenServer callback that took the message out of the mailbox (callbacks take messages
//!   in the order they arrived, so a message queued behind others is handled by a later
//!   callback than the next one: `mailbox::handlers`) with the reply sent right after it;
//!   in a process without traced callbacks, from the receive to its next send back to the
//!   sender, or just the receive;
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

/// User spans by (node, id) — ids are unique per node only — and the activity they cause.
struct Index<'a> {
    rows: &'a Rows,
    /// Span start row and parent id.
    starts: BTreeMap<(u32, u64), (usize, u64)>,
    stops: HashMap<(u32, u64), usize>,
    /// Telemetry and custom events per span id.
    tagged: HashMap<(u32, u64), u64>,
    /// Per process: its rows in order.
    by_pid: Vec<Vec<usize>>,
    paired_by_send: HashMap<usize, usize>,
    /// Receive row → the `call` row of the callback that handled that message.
    handler: HashMap<usize, usize>,
    /// A callback's `call` row → its end (monotonic).
    callback_end: HashMap<usize, i64>,
    /// Processes that ran traced GenServer callbacks.
    has_callbacks: Vec<bool>,
    last_ts: Vec<i64>,
}

/// What following a set of spans found.
struct Followed {
    procs: Vec<u32>,
    rows: BTreeSet<usize>,
    messages: u64,
}

impl<'a> Index<'a> {
    fn new(rows: &'a Rows, spans: &Spans, msgs: &Messages) -> Self {
        let mut starts = BTreeMap::new();
        let mut stops = HashMap::new();
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
        let mut by_pid: Vec<Vec<usize>> = vec![Vec::new(); rows.pids.len()];
        let mut last_ts = vec![i64::MIN; rows.pids.len()];
        for i in 0..rows.len() {
            let p = rows.pid[i] as usize;
            by_pid[p].push(i);
            last_ts[p] = last_ts[p].max(rows.ts[i]);
        }
        let mut has_callbacks = vec![false; rows.pids.len()];
        let mut callback_end = HashMap::new();
        for s in &spans.spans {
            if crate::mailbox::is_callback(rows, s.mfa) {
                has_callbacks[s.pid as usize] = true;
                callback_end.insert(s.call, s.end_ts);
            }
        }
        Index {
            rows,
            starts,
            stops,
            tagged,
            by_pid,
            paired_by_send: msgs.pairs.iter().map(|p| (p.send, p.receive)).collect(),
            handler: crate::mailbox::handlers(rows, msgs),
            callback_end,
            has_callbacks,
            last_ts,
        }
    }

    /// The outermost span above `id`.
    fn root_of(&self, mut id: (u32, u64)) -> (u32, u64) {
        for _ in 0..64 {
            match self.starts.get(&id) {
                Some(&(_, parent)) if parent != 0 && self.starts.contains_key(&(id.0, parent)) => {
                    id = (id.0, parent)
                }
                _ => break,
            }
        }
        id
    }

    /// Span `root` and every span below it.
    fn members(&self, root: (u32, u64)) -> Vec<(u32, u64)> {
        let mut children: HashMap<(u32, u64), Vec<(u32, u64)>> = HashMap::new();
        for (&k, &(_, parent)) in &self.starts {
            if parent != 0 && (k.0, parent) != k {
                children.entry((k.0, parent)).or_default().push(k);
            }
        }
        let mut out = vec![root];
        let mut seen: BTreeSet<(u32, u64)> = out.iter().copied().collect();
        let mut i = 0;
        while i < out.len() {
            for &c in children.get(&out[i]).map_or(&[][..], Vec::as_slice) {
                if seen.insert(c) {
                    out.push(c);
                }
            }
            i += 1;
        }
        out
    }

    fn is_reply(&self, j: usize, sender: u32) -> bool {
        self.rows.kind[j] == Some(Kind::Send) && self.rows.peer[j].is_none_or(|p| p == sender)
    }

    /// The window in which process `q` handled the message it received at row `recv` from
    /// `sender`: the callback that took it out of the mailbox and the reply sent right
    /// after it; without traced callbacks, from the receive to `q`'s next send back to
    /// `sender`; else (a message still queued, or a reply a callback awaited) nothing.
    fn handling(&self, q: u32, recv: usize, sender: u32) -> Option<(i64, i64)> {
        let rows = self.rows;
        let list = &self.by_pid[q as usize];
        if let Some(&call) = self.handler.get(&recv) {
            let end = self
                .callback_end
                .get(&call)
                .copied()
                .unwrap_or(rows.ts[call]);
            // A GenServer replies right after its callback returns.
            let next = list.partition_point(|&j| rows.ts[j] <= end);
            let to = match list.get(next) {
                Some(&j) if self.is_reply(j, sender) => rows.ts[j],
                _ => end,
            };
            return Some((rows.ts[call], to));
        }
        if self.has_callbacks[q as usize] {
            return None;
        }
        list[list.partition_point(|&j| j <= recv)..]
            .iter()
            .find(|&&j| rows.kind[j] == Some(Kind::Send) && rows.peer[j] == Some(sender))
            .map(|&j| (rows.ts[recv], rows.ts[j]))
    }

    /// Everything spans `ids` did and caused.
    fn follow(&self, ids: &[(u32, u64)]) -> Followed {
        let rows = self.rows;
        let mut queue: VecDeque<Activity> = VecDeque::new();
        for id in ids {
            let (s, _) = self.starts[id];
            let p = rows.pid[s];
            let to = self
                .stops
                .get(id)
                .map_or(self.last_ts[p as usize], |&e| rows.ts[e]);
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
            let list = &self.by_pid[a.pid as usize];
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
                        if let Some(&recv) = self.paired_by_send.get(&j) {
                            let q = rows.pid[recv];
                            // The receive itself, whether or not anything handled it.
                            queue.push_back(Activity {
                                pid: q,
                                from: rows.ts[recv],
                                to: rows.ts[recv],
                                hops: a.hops + 1,
                            });
                            if let Some((from, to)) = self.handling(q, recv, a.pid) {
                                queue.push_back(Activity {
                                    pid: q,
                                    from,
                                    to,
                                    hops: a.hops + 1,
                                });
                            }
                        }
                    }
                    Some(Kind::Spawn) if a.hops < MAX_HOPS => {
                        if let Some(c) = rows.peer[j] {
                            queue.push_back(Activity {
                                pid: c,
                                from: rows.ts[j],
                                to: self.last_ts[c as usize],
                                hops: a.hops + 1,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        Followed {
            procs,
            rows: counted,
            messages,
        }
    }
}

/// Finds requests.
pub fn requests(rows: &Rows, spans: &Spans, msgs: &Messages) -> Vec<Request> {
    let ix = Index::new(rows, spans, msgs);
    let mut members: BTreeMap<(u32, u64), Vec<(u32, u64)>> = BTreeMap::new();
    for &id in ix.starts.keys() {
        members.entry(ix.root_of(id)).or_default().push(id);
    }
    let mut out = Vec::new();
    for (&root, ids) in &members {
        let (start_row, _) = ix.starts[&root];
        let stop_row = ix.stops.get(&root).copied();
        let f = ix.follow(ids);
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
                .map(|id| ix.tagged.get(id).copied().unwrap_or(0))
                .sum(),
            processes: f.procs.iter().map(|&p| rows.pid_text(p)).collect(),
            messages: f.messages,
            events: f.rows.len() as u64,
            evidence,
        });
    }
    out.sort_by_key(|r| (r.start_ns, r.id));
    out
}

/// The events of one span (a request's root, or any span inside it) and of everything it
/// caused, as row indices in order, with the processes involved (its own first).
#[derive(Clone, Debug, PartialEq)]
pub struct Caused {
    /// The span's name.
    pub name: String,
    pub rows: Vec<usize>,
    pub processes: Vec<u32>,
}

/// What span `id` (on `node`, needed only when several nodes have a span with that id) did
/// and caused; `Err` says why there is no such single span.
pub fn caused_by(
    rows: &Rows,
    spans: &Spans,
    msgs: &Messages,
    id: u64,
    node: Option<&str>,
) -> Result<Caused, String> {
    let ix = Index::new(rows, spans, msgs);
    let found: Vec<(u32, u64)> = ix
        .starts
        .keys()
        .filter(|k| k.1 == id && node.is_none_or(|n| rows.nodes.get(k.0) == n))
        .copied()
        .collect();
    let key = match found.as_slice() {
        [k] => *k,
        [] => {
            return Err(match node {
                Some(n) => format!("no span with correlation id {id} on node {n}"),
                None => format!("no span with correlation id {id} in the trace"),
            })
        }
        many => {
            return Err(format!(
                "correlation id {id} names a span on each of several nodes ({}); \
                 choose one with {id}@node",
                many.iter()
                    .map(|k| rows.nodes.get(k.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    let f = ix.follow(&ix.members(key));
    let (start_row, _) = ix.starts[&key];
    let mut all = f.rows;
    // The span's own markers and tagged events, wherever its windows put them.
    for i in 0..rows.len() {
        if rows.correlation[i] == Some(id) && rows.node[i] == key.0 {
            all.insert(i);
        }
    }
    Ok(Caused {
        name: rows.name[start_row]
            .map(|n| rows.names.get(n).to_string())
            .unwrap_or_default(),
        rows: all.into_iter().collect(),
        processes: f.procs,
    })
}
