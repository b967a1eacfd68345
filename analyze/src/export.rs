//! Exports for other tools: the Chrome Trace Event Format (opens in ui.perfetto.dev,
//! chrome://tracing and speedscope) and folded stacks (flamegraph.pl, inferno).
//!
//! Chrome JSON: each node is a process (`pid` = node number, named by metadata), each
//! Erlang process a thread (`tid`, named `<0.123.0>` plus what it was spawned as). Function
//! spans and user spans are complete events (`X`); every paired message is a flow (`s` at
//! the send, `f` at the receive, matching `id`) drawn between two instant events; custom
//! and telemetry events are instants. Times are µs from the trace's first event.
//!
//! Folded: one line per distinct call stack (`A;B;C weight`), weighted by the self time in
//! ns of the spans with that stack, so the lines sum to the total self time.

use std::collections::BTreeMap;
use std::io::Write;

use scope_format::Kind;
use serde_json::{json, Value};

use crate::messages::Messages;
use crate::processes::Process;
use crate::spans::{Outcome, Spans};
use crate::table::Rows;

/// Counts of what an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub spans: u64,
    pub flows: u64,
    pub instants: u64,
}

fn us(ns: i64) -> f64 {
    ns as f64 / 1000.0
}

/// The thread id of an Erlang process: its number in the table (stable within one export).
fn tid(pid: u32) -> u64 {
    u64::from(pid) + 1
}

/// Writes the Chrome Trace Event JSON (object form, `traceEvents`).
pub fn chrome(
    rows: &Rows,
    spans: &Spans,
    msgs: &Messages,
    procs: &[Process],
    out: &mut dyn Write,
) -> std::io::Result<Written> {
    let t0 = rows.time.iter().copied().min().unwrap_or(0);
    let at = |row: usize| us(rows.time[row].saturating_sub(t0));
    let node_pid = |pid: u32| u64::from(rows.pid_node(pid)) + 1;
    let mut w = Written::default();
    // Streamed out one event at a time: a large trace's export never sits in memory whole.
    let mut events = EventStream::start(out)?;

    for k in 0..rows.nodes.len() as u32 {
        events.push(
            json!({"ph": "M", "name": "process_name", "pid": u64::from(k) + 1,
            "tid": 0, "args": {"name": rows.nodes.get(k)}}),
        )?;
    }
    let spawned: BTreeMap<&str, &str> = procs
        .iter()
        .filter_map(|p| Some((p.pid.as_str(), p.spawned_as.as_deref()?)))
        .collect();
    for p in 0..rows.pids.len() as u32 {
        let text = rows.pid_text(p);
        let name = match spawned.get(text.as_str()) {
            Some(f) => format!("{text} {f}"),
            None => text,
        };
        events.push(json!({"ph": "M", "name": "thread_name", "pid": node_pid(p),
            "tid": tid(p), "args": {"name": name}}))?;
    }
    for s in &spans.spans {
        let mut args = json!({"outcome": s.outcome.name(), "event_id": rows.event_id[s.call]});
        if let Some(v) = rows.value.get(s.call) {
            args["args"] = json!(v);
        }
        if let Some(v) = s.end.and_then(|e| rows.value.get(e)) {
            if matches!(s.outcome, Outcome::Return | Outcome::Exception) {
                args["result"] = json!(v);
            }
        }
        events.push(
            json!({"ph": "X", "name": rows.mfas.get(s.mfa), "cat": "call",
            "pid": node_pid(s.pid), "tid": tid(s.pid), "ts": at(s.call),
            "dur": us(s.duration()), "args": args}),
        )?;
        w.spans += 1;
    }
    // User spans: start/stop pairs by (node, id).
    let mut open: BTreeMap<(u32, u64), usize> = BTreeMap::new();
    for i in 0..rows.len() {
        match rows.kind[i] {
            Some(Kind::SpanStart) => {
                if let Some(c) = rows.correlation[i] {
                    open.insert((rows.node[i], c), i);
                }
            }
            Some(Kind::SpanStop) => {
                let Some(c) = rows.correlation[i] else {
                    continue;
                };
                let Some(s) = open.remove(&(rows.node[i], c)) else {
                    continue;
                };
                let p = rows.pid[s];
                let name = rows.name[s].map_or("span", |n| rows.names.get(n));
                events.push(json!({"ph": "X", "name": name, "cat": "span",
                    "pid": node_pid(p), "tid": tid(p), "ts": at(s),
                    "dur": us(rows.ts[i].saturating_sub(rows.ts[s])),
                    "args": {"span_id": c, "event_id": rows.event_id[s]}}))?;
                w.spans += 1;
            }
            Some(Kind::Custom | Kind::Telemetry) => {
                let p = rows.pid[i];
                let name = rows.name[i].map_or("event", |n| rows.names.get(n));
                let mut args = json!({"event_id": rows.event_id[i]});
                if let Some(v) = rows.value.get(i) {
                    args["data"] = json!(v);
                }
                events.push(json!({"ph": "i", "s": "t", "name": name, "cat": "event",
                    "pid": node_pid(p), "tid": tid(p), "ts": at(i), "args": args}))?;
                w.instants += 1;
            }
            _ => {}
        }
    }
    for (n, p) in msgs.pairs.iter().enumerate() {
        let (s, r) = (p.send, p.receive);
        let preview = rows.value.get(s).map(|v| crate::units::clip(v, 60));
        for (row, ph, name) in [(s, "s", "send"), (r, "f", "receive")] {
            let (pid, ts) = (rows.pid[row], at(row));
            events.push(json!({"ph": "i", "s": "t", "name": name, "cat": "message",
                "pid": node_pid(pid), "tid": tid(pid), "ts": ts,
                "args": {"event_id": rows.event_id[row], "message": preview}}))?;
            let mut flow = json!({"ph": ph, "name": "message", "cat": "message", "id": n,
                "pid": node_pid(pid), "tid": tid(pid), "ts": ts});
            if ph == "f" {
                flow["bp"] = json!("e");
            }
            events.push(flow)?;
            w.instants += 1;
        }
        w.flows += 1;
    }
    events.finish()?;
    Ok(w)
}

/// The `traceEvents` array written as it is built, then closed with the rest of the object.
struct EventStream<'a> {
    out: &'a mut dyn Write,
    first: bool,
}

impl<'a> EventStream<'a> {
    fn start(out: &'a mut dyn Write) -> std::io::Result<Self> {
        out.write_all(b"{\"traceEvents\":[")?;
        Ok(EventStream { out, first: true })
    }

    fn push(&mut self, event: Value) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, &event)?;
        Ok(())
    }

    fn finish(self) -> std::io::Result<()> {
        self.out.write_all(b"],\"displayTimeUnit\":\"ns\"}\n")
    }
}

/// Writes folded stacks weighted by self time (ns); returns the total weight.
pub fn folded(rows: &Rows, spans: &Spans, out: &mut dyn Write) -> std::io::Result<i64> {
    let mut stacks: BTreeMap<String, i64> = BTreeMap::new();
    // Several nodes' stacks would merge where their functions are alike: each node is a
    // root frame of its own.
    let by_node = rows.event_nodes() > 1;
    for s in spans.spans.iter().filter(|s| s.outcome.measured()) {
        let mut names = vec![rows.mfas.get(s.mfa)];
        let mut p = s.parent;
        while let Some(i) = p {
            names.push(rows.mfas.get(spans.spans[i].mfa));
            p = spans.spans[i].parent;
        }
        if by_node {
            names.push(rows.nodes.get(rows.pid_node(s.pid)));
        }
        names.reverse();
        *stacks.entry(names.join(";")).or_insert(0) += s.self_ns;
    }
    let mut total = 0;
    for (stack, ns) in &stacks {
        if *ns > 0 {
            writeln!(out, "{stack} {ns}")?;
            total += ns;
        }
    }
    Ok(total)
}
