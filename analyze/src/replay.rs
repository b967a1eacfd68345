//! Replay: what processes did, in order — calls as an indented tree with arguments, results
//! and durations, messages in and out with their peers and latency, spawns, links and
//! exits — for one process, a request and what it caused, an anomaly's evidence with
//! context, or a time window.
//!
//! A GenServer's state after each callback comes from the callback's captured return
//! value ([`crate::genserver`]), with what changed since its previous state, and the state
//! of every process at a chosen instant; a `gen_statem`'s state is `{state name, data}`.
//!
//! Built from the same pairing as the analyses (spans for durations, message pairs for the
//! other side of each message), so a replay agrees with `scope analyze`.

use std::collections::{HashMap, HashSet};

use scope_format::Kind;
use serde::Serialize;

use crate::genserver::{self, Change};
use crate::messages::Messages;
use crate::report::Prepared;
use crate::spans::Spans;
use crate::table::Rows;
use crate::units::{clip, duration};

/// One line of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub event_id: u64,
    /// Wall-clock ns.
    pub time_ns: i64,
    /// The process (`<0.1.0>`, or `<0.1.0> on node` in a multi-node trace).
    pub pid: String,
    #[serde(skip)]
    pub pid_id: u32,
    /// Call depth at this point (for indentation).
    pub depth: u32,
    /// The event's kind (`call`, `send`, …).
    pub kind: &'static str,
    /// What happened, for people.
    pub text: String,
    /// A GenServer's state after the callback that returned here (from its captured
    /// return value), when this is such a return.
    pub state: Option<String>,
    /// What changed since the process's previous state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Whether this event is evidence of the anomaly being replayed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub evidence: bool,
    /// Entries of this process left out just before this one (an anomaly's replay shows
    /// the context of each evidence event, not everything between them).
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_before: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A process's state at an instant: the state after its last state-carrying callback
/// before it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateAt {
    pub pid: String,
    pub state: String,
    /// When and at which event that callback returned.
    pub since_ns: i64,
    pub event_id: u64,
}

/// A replay, ready to print (schema `scope.replay/1` in `cli/JSON.md`).
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    pub schema: &'static str,
    /// What was replayed, for people (`process <0.1.0>`, `request 42 (checkout)`, …).
    pub title: String,
    /// The processes replayed.
    pub processes: Vec<String>,
    /// The time window, when one was given (wall-clock ns).
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    /// `--at`: the instant and each process's state then.
    pub at_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states_at: Option<Vec<StateAt>>,
    pub entries: Vec<Entry>,
}

impl Replay {
    /// `, from <time> to <time>` when a window was given, else empty.
    pub fn window_text(&self) -> String {
        match (self.from_ns, self.to_ns) {
            (None, None) => String::new(),
            (f, t) => format!(
                ", from {} to {}",
                f.map_or("the start".into(), crate::units::rfc3339),
                t.map_or("the end".into(), crate::units::rfc3339)
            ),
        }
    }
}

/// What to replay.
#[derive(Clone, Debug)]
pub enum Select {
    /// One process, all of it.
    Pid(u32),
    /// These rows (a request and what it caused) of these processes.
    Rows { pids: Vec<u32>, rows: Vec<usize> },
    /// Evidence events with `context` entries of their processes before and after.
    Evidence { events: Vec<u64>, context: usize },
    /// Every process (bounded by a time window).
    All,
}

/// Builds a replay: `select` cut to `from..=to` (wall-clock ns), and with `at`, each
/// replayed process's state at that instant (entries after it are left out).
pub fn build(
    p: &Prepared,
    title: String,
    select: &Select,
    from: Option<i64>,
    to: Option<i64>,
    at: Option<i64>,
) -> Replay {
    let rows = &p.rows;
    // Evidence as (process, event id), for the events the trace has.
    let evidence: Vec<(u32, u64)> = match select {
        Select::Evidence { events, .. } => {
            let row_of: HashMap<u64, usize> = rows
                .event_id
                .iter()
                .enumerate()
                .map(|(i, &e)| (e, i))
                .collect();
            events
                .iter()
                .filter_map(|e| row_of.get(e).map(|&i| (rows.pid[i], *e)))
                .collect()
        }
        _ => Vec::new(),
    };
    let pids: Vec<u32> = match select {
        Select::Pid(pid) => vec![*pid],
        Select::Rows { pids, .. } => pids.clone(),
        Select::Evidence { .. } => {
            let mut pids: Vec<u32> = Vec::new();
            for &(p, _) in &evidence {
                if !pids.contains(&p) {
                    pids.push(p);
                }
            }
            pids
        }
        Select::All => (0..rows.pids.len() as u32).collect(),
    };
    let history = history(rows, &p.spans, &p.msgs, &pids);
    let states_at = at.map(|t| {
        pids.iter()
            .filter_map(|&pid| state_at(&history, pid, t))
            .collect::<Vec<_>>()
    });
    let mut entries = match select {
        Select::Pid(_) | Select::All => history,
        Select::Rows { rows: keep, .. } => {
            let keep: HashSet<u64> = keep.iter().map(|&i| rows.event_id[i]).collect();
            history
                .into_iter()
                .filter(|e| keep.contains(&e.event_id))
                .collect()
        }
        Select::Evidence { context, .. } => around(history, &evidence, *context),
    };
    let to = match (to, at) {
        (Some(t), Some(a)) => Some(t.min(a)),
        (t, a) => t.or(a),
    };
    entries.retain(|e| from.is_none_or(|f| e.time_ns >= f) && to.is_none_or(|t| e.time_ns <= t));
    Replay {
        schema: "scope.replay/1",
        title,
        processes: pids.iter().map(|&p| rows.pid_text(p)).collect(),
        from_ns: from,
        to_ns: to,
        at_ns: at,
        states_at,
        entries,
    }
}

/// The entries near the evidence (`(process, event id)`): per process, `context` entries
/// before and after each evidence event. Evidence entries are marked, and an entry after a
/// stretch of its process left out says how long it was.
fn around(history: Vec<Entry>, evidence: &[(u32, u64)], context: usize) -> Vec<Entry> {
    let mut by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, e) in history.iter().enumerate() {
        by_pid.entry(e.pid_id).or_default().push(i);
    }
    let mut keep = vec![false; history.len()];
    let mut skipped = vec![0usize; history.len()];
    for (pid, list) in &by_pid {
        // Evidence may be an event the replay does not show (scheduling, GC): the nearest
        // shown entry after it stands in.
        let hits = evidence.iter().filter(|(p, _)| p == pid).map(|&(_, ev)| {
            list.partition_point(|&i| history[i].event_id < ev)
                .min(list.len() - 1)
        });
        let mut kept_any = false;
        for k in hits {
            kept_any = true;
            for &i in &list[k.saturating_sub(context)
                ..k.saturating_add(context).saturating_add(1).min(list.len())]
            {
                keep[i] = true;
            }
        }
        if !kept_any {
            continue;
        }
        // Gaps between the kept stretches (not before the first one).
        let mut last_kept: Option<usize> = None;
        for (n, &i) in list.iter().enumerate() {
            if keep[i] {
                if let Some(prev) = last_kept {
                    skipped[i] = n - prev - 1;
                }
                last_kept = Some(n);
            }
        }
    }
    let marked: HashSet<u64> = evidence.iter().map(|&(_, e)| e).collect();
    history
        .into_iter()
        .zip(keep)
        .zip(skipped)
        .filter(|((_, k), _)| *k)
        .map(|((mut e, _), skipped)| {
            e.evidence = marked.contains(&e.event_id);
            e.skipped_before = skipped;
            e
        })
        .collect()
}

/// The state of process `pid` at `t`: after its last state-carrying callback at or before
/// `t`.
pub fn state_at(history: &[Entry], pid: u32, t: i64) -> Option<StateAt> {
    history
        .iter()
        .rev()
        .filter(|e| e.pid_id == pid && e.time_ns <= t)
        .find_map(|e| {
            Some(StateAt {
                pid: e.pid.clone(),
                state: e.state.clone()?,
                since_ns: e.time_ns,
                event_id: e.event_id,
            })
        })
}

/// Parses `<0.1.0>`, `0.1.0` or `#PID<0.1.0>` into the `<0.1.0>` form, keeping a
/// ` on node` suffix (`<0.1.0> on a@host`) that names the node in a multi-node trace.
pub fn parse_pid(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some((pid, node)) = s.split_once(" on ") {
        let node = node.trim();
        if node.is_empty() || node.contains(char::is_whitespace) {
            return None;
        }
        return Some(format!("{} on {node}", parse_pid(pid)?));
    }
    let t = s;
    let t = t.strip_prefix("#PID").unwrap_or(t);
    let t = match (t.strip_prefix('<'), t.ends_with('>')) {
        (Some(inner), true) => inner.strip_suffix('>')?,
        (None, false) => t,
        _ => return None, // unbalanced brackets
    };
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(format!("<{t}>"))
}

/// The processes `pid` names: `<0.1.0>` (on any node) or `<0.1.0> on node`. A process of a
/// node that recorded nothing (seen only as a message's peer) has no story of its own, so
/// it is left out when a recording node has one of that number too.
pub fn find_pid(rows: &Rows, pid: &str) -> Vec<u32> {
    let (want, node) = match pid.split_once(" on ") {
        Some((p, n)) => (p, Some(n)),
        None => (pid, None),
    };
    let found: Vec<u32> = (0..rows.pids.len() as u32)
        .filter(|&p| {
            let key = rows.pids.get(p);
            let (n, local) = key.split_once('\u{0}').unwrap_or(("", key));
            local == want && node.is_none_or(|w| w == n)
        })
        .collect();
    if found.len() <= 1 {
        return found;
    }
    let mut has_events = vec![false; rows.pids.len()];
    for &p in &rows.pid {
        has_events[p as usize] = true;
    }
    let own: Vec<u32> = found
        .iter()
        .copied()
        .filter(|&p| has_events[p as usize])
        .collect();
    if own.is_empty() {
        found
    } else {
        own
    }
}

/// The processes that registered `name` in the trace (`kv`, `Bank.Ledger` or
/// `Elixir.Bank.Ledger`), each once.
pub fn find_registered(rows: &Rows, name: &str) -> Vec<u32> {
    let elixir = format!("Elixir.{name}");
    let ids: Vec<u32> = [name, elixir.as_str()]
        .iter()
        .filter_map(|n| rows.names.id(n))
        .collect();
    let mut found: Vec<u32> = Vec::new();
    for i in 0..rows.len() {
        if rows.kind[i] == Some(Kind::Register)
            && rows.name[i].is_some_and(|n| ids.contains(&n))
            && !found.contains(&rows.pid[i])
        {
            found.push(rows.pid[i]);
        }
    }
    found
}

/// A process with its node, always (`<0.1.0> on a@host`): to tell apart processes of the
/// same number on different nodes.
pub fn pid_with_node(rows: &Rows, pid: u32) -> String {
    let key = rows.pids.get(pid);
    match key.split_once('\u{0}') {
        Some((node, p)) => format!("{p} on {node}"),
        None => key.to_string(),
    }
}

/// The replay of processes `pids`, all of their events in order.
pub fn history(rows: &Rows, spans: &Spans, msgs: &Messages, pids: &[u32]) -> Vec<Entry> {
    let mut wanted = vec![false; rows.pids.len()];
    let mut pid_texts = HashMap::new();
    for &p in pids {
        wanted[p as usize] = true;
        pid_texts.insert(p, rows.pid_text(p));
    }
    let span_of_call: HashMap<usize, usize> = spans
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.call, i))
        .collect();
    let span_of_end: HashMap<usize, usize> = spans
        .spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.outcome.measured())
        .filter_map(|(i, s)| Some((s.end?, i)))
        .collect();
    let recv_of_send: HashMap<usize, usize> =
        msgs.pairs.iter().map(|p| (p.send, p.receive)).collect();
    let send_of_recv: HashMap<usize, usize> =
        msgs.pairs.iter().map(|p| (p.receive, p.send)).collect();
    let value = |i: usize| rows.value.get(i).map(|v| clip(v, 200));
    let said = |i: usize| value(i).map(|v| format!(": {v}")).unwrap_or_default();
    let peer = |i: usize| rows.peer[i].map(|p| rows.pid_text(p));
    // gen_statem processes: they ask their module for its callback_mode/0 (after init/1, so
    // found first). Their state is (state name, data), from any of their module's returns.
    let mut statem: HashMap<u32, &str> = HashMap::new();
    for i in (0..rows.len()).filter(|&i| wanted[rows.pid[i] as usize]) {
        if rows.kind[i] == Some(Kind::Call) {
            if let Some(module) = rows.mfa[i]
                .map(|m| rows.mfas.get(m))
                .and_then(genserver::statem_module)
            {
                statem.insert(rows.pid[i], module);
            }
        }
    }
    let mut statem_last: HashMap<u32, (String, String)> = HashMap::new();
    let mut out = Vec::new();
    let mut depths: HashMap<u32, u32> = HashMap::new();
    let mut last_state: HashMap<u32, String> = HashMap::new();
    for i in (0..rows.len()).filter(|&i| wanted[rows.pid[i] as usize]) {
        let Some(kind) = rows.kind[i] else { continue };
        let pid = rows.pid[i];
        let depth = depths.entry(pid).or_insert(0);
        let mut state = None;
        let mut changes = Vec::new();
        let mfa = rows.mfa[i].map(|m| rows.mfas.get(m)).unwrap_or("?");
        let mut at_depth = *depth;
        let text = match kind {
            Kind::Call => {
                let timing = span_of_call.get(&i).map(|&s| &spans.spans[s]).map(|s| {
                    if s.outcome.measured() {
                        format!("  [{}]", duration(s.duration()))
                    } else {
                        format!("  [{}]", s.outcome.name())
                    }
                });
                if let Some(&s) = span_of_call.get(&i) {
                    at_depth = spans.spans[s].depth;
                    *depth = at_depth + 1;
                }
                format!(
                    "{mfa}({}){}",
                    value(i).unwrap_or_default(),
                    timing.unwrap_or_default()
                )
            }
            Kind::ReturnFrom | Kind::ExceptionFrom => {
                // Frames above the returning one closed with it (their own returns never
                // came): the depth is the returning frame's.
                *depth = span_of_end
                    .get(&i)
                    .map_or(depth.saturating_sub(1), |&s| spans.spans[s].depth);
                at_depth = *depth;
                let verb = if kind == Kind::ReturnFrom {
                    "returned"
                } else {
                    "raised"
                };
                let returned = rows.value.get(i).filter(|_| kind == Kind::ReturnFrom);
                // A state callback: a function of the module itself (not a submodule), called
                // by gen_statem's own (untraced) loop, so at depth 0 — not a helper it calls.
                let own = |module: &str| {
                    mfa.strip_prefix(module)
                        .and_then(|r| r.strip_prefix('.'))
                        .is_some_and(|r| !r.contains('.'))
                };
                match (statem.get(&pid), returned) {
                    (Some(module), Some(r)) if own(module) && at_depth == 0 => {
                        let before = statem_last.get(&pid);
                        if r.ends_with('…') {
                            // A cut capture: the state is no longer known.
                            statem_last.remove(&pid);
                        } else if let Some(now) =
                            genserver::statem_state_of(r, before.map(|b| b.0.as_str()))
                        {
                            if let Some(b) = before {
                                changes = genserver::statem_diff((&b.0, &b.1), (&now.0, &now.1));
                            }
                            state = Some(genserver::statem_text(&now.0, &now.1));
                            statem_last.insert(pid, now);
                        }
                    }
                    (None, Some(r)) if genserver::is_state_callback(mfa) => {
                        state = genserver::state_of(r).map(str::to_string);
                        if let (Some(now), Some(before)) = (&state, last_state.get(&pid)) {
                            changes = genserver::diff(before, now);
                        }
                    }
                    _ => {}
                }
                format!(
                    "{mfa} {verb} {}",
                    value(i).unwrap_or_else(|| "(not captured)".into())
                )
            }
            Kind::Send | Kind::SendToNonExistingProcess => {
                let to = peer(i)
                    .or_else(|| rows.name[i].map(|n| rows.names.get(n).to_string()))
                    // No pid and no local name: an alias (every GenServer reply), or
                    // `{name, node}`, or a port.
                    .unwrap_or_else(|| "an alias or {name, node}".into());
                let fate = match recv_of_send.get(&i) {
                    Some(&r) => format!(
                        "  (received by {} after {})",
                        rows.pid_text(rows.pid[r]),
                        duration(rows.time[r].saturating_sub(rows.time[i]))
                    ),
                    None if kind == Kind::SendToNonExistingProcess => "  (no such process)".into(),
                    None => "  (not received in the trace)".into(),
                };
                format!("send to {to}{}{fate}", said(i))
            }
            Kind::Receive => {
                let from = match send_of_recv.get(&i) {
                    Some(&s) => format!(
                        " from {} (sent {} earlier)",
                        rows.pid_text(rows.pid[s]),
                        duration(rows.time[i].saturating_sub(rows.time[s]))
                    ),
                    None => String::new(),
                };
                format!("receive{from}{}", said(i))
            }
            Kind::Spawn => format!(
                "spawned {} running {mfa}",
                peer(i).unwrap_or_else(|| "?".into())
            ),
            Kind::Spawned => format!("started by {}", peer(i).unwrap_or_else(|| "?".into())),
            Kind::Link | Kind::GettingLinked => {
                format!("linked to {}", peer(i).unwrap_or_else(|| "?".into()))
            }
            Kind::Unlink | Kind::GettingUnlinked => {
                format!("unlinked from {}", peer(i).unwrap_or_else(|| "?".into()))
            }
            Kind::Exit => format!(
                "exited: {}",
                value(i).unwrap_or_else(|| "(reason not captured)".into())
            ),
            Kind::Register | Kind::Unregister => format!(
                "{} {}",
                kind.name(),
                rows.name[i].map_or("?", |n| rows.names.get(n))
            ),
            Kind::SpanStart | Kind::SpanStop | Kind::Custom | Kind::Telemetry => format!(
                "{} {} {}",
                kind.name().replace('_', " "),
                rows.name[i].map_or("?", |n| rows.names.get(n)),
                value(i).unwrap_or_default()
            ),
            // Scheduling, GC and recorder markers would drown the story; `scope query` has them.
            _ => continue,
        };
        if let Some(now) = &state {
            last_state.insert(pid, now.clone());
        }
        out.push(Entry {
            event_id: rows.event_id[i],
            time_ns: rows.time[i],
            pid: pid_texts[&pid].clone(),
            pid_id: pid,
            depth: at_depth,
            kind: kind.name(),
            text: text.trim_end().to_string(),
            state,
            changes,
            evidence: false,
            skipped_before: 0,
        });
    }
    out
}
