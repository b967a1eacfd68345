//! Replay of one process: everything it did, in order — calls as an indented tree with
//! arguments, results and durations, messages in and out with their peers and latency,
//! spawns, links and exits.
//!
//! A GenServer's state after each callback comes from the callback's captured return
//! value ([`crate::genserver`]).
//!
//! Built from the same pairing as the analyses (spans for durations, message pairs for the
//! other side of each message), so a replay agrees with `scope analyze`.

use std::collections::HashMap;

use scope_format::Kind;
use serde::Serialize;

use crate::messages::Messages;
use crate::spans::Spans;
use crate::table::Rows;
use crate::units::{clip, duration};

/// One line of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub event_id: u64,
    /// Wall-clock ns.
    pub time_ns: i64,
    /// Call depth at this point (for indentation).
    pub depth: u32,
    /// The event's kind (`call`, `send`, …).
    pub kind: &'static str,
    /// What happened, for people.
    pub text: String,
    /// A GenServer's state after the callback that returned here (from its captured
    /// return value), when this is such a return.
    pub state: Option<String>,
}

/// Parses `<0.1.0>`, `0.1.0` or `#PID<0.1.0>` into the `<0.1.0>` form.
pub fn parse_pid(s: &str) -> Option<String> {
    let t = s.trim();
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

/// The process ids whose text (`<0.1.0>`, or `<0.1.0> on node`) starts with `pid`.
pub fn find_pid(rows: &Rows, pid: &str) -> Vec<u32> {
    (0..rows.pids.len() as u32)
        .filter(|&p| {
            let t = rows.pid_text(p);
            t == pid || t.starts_with(&format!("{pid} on "))
        })
        .collect()
}

/// The replay of process `pid`.
pub fn process(rows: &Rows, spans: &Spans, msgs: &Messages, pid: u32) -> Vec<Entry> {
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
    let value = |i: usize| rows.value[i].as_deref().map(|v| clip(v, 200));
    let said = |i: usize| value(i).map(|v| format!(": {v}")).unwrap_or_default();
    let peer = |i: usize| rows.peer[i].map(|p| rows.pid_text(p));
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut state = None;
    for i in (0..rows.len()).filter(|&i| rows.pid[i] == pid) {
        let Some(kind) = rows.kind[i] else { continue };
        let mfa = rows.mfa[i].map(|m| rows.mfas.get(m)).unwrap_or("?");
        let mut at_depth = depth;
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
                    depth = at_depth + 1;
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
                depth = span_of_end
                    .get(&i)
                    .map_or(depth.saturating_sub(1), |&s| spans.spans[s].depth);
                at_depth = depth;
                let verb = if kind == Kind::ReturnFrom {
                    "returned"
                } else {
                    "raised"
                };
                if kind == Kind::ReturnFrom && crate::genserver::is_state_callback(mfa) {
                    state = rows.value[i]
                        .as_deref()
                        .and_then(crate::genserver::state_of)
                        .map(str::to_string);
                }
                format!(
                    "{mfa} {verb} {}",
                    value(i).unwrap_or_else(|| "(not captured)".into())
                )
            }
            Kind::Send | Kind::SendToNonExistingProcess => {
                let to = peer(i)
                    .or_else(|| rows.name[i].map(|n| rows.names.get(n).to_string()))
                    .unwrap_or_else(|| "an alias".into());
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
        out.push(Entry {
            event_id: rows.event_id[i],
            time_ns: rows.time[i],
            depth: at_depth,
            kind: kind.name(),
            text: text.trim_end().to_string(),
            state: state.take(),
        });
    }
    out
}
