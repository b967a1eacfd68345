//! Hand-built traces for the analysis tests: events with chosen times, processes and
//! functions, written with the format writer under a fixed clock anchor.

#![allow(dead_code)]

use std::path::PathBuf;

use scope_analyze::table::{self, Rows};
use scope_format::{ClockAnchor, Event, Kind, Mfa, Pid, TraceWriter, Value, WriterConfig};

/// Wall-clock ns of monotonic 0 in these traces (2026-11-23T09:00:00Z).
pub const EPOCH_NS: i64 = 1_795_424_400_000_000_000;

fn anchor() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 0,
        system_ns: EPOCH_NS,
    }
}

pub fn mfa(m: &str, f: &str, a: u8) -> Mfa {
    Mfa {
        module: m.into(),
        function: f.into(),
        arity: a,
    }
}

/// `(ts µs, pid number, kind, function)`; functions are `Elixir.M.<f>/1` (none when "").
pub type Row<'a> = (i64, u32, Kind, &'a str);

/// Writes the rows as node `t@host`; exceptions carry `{:error, :boom}`.
pub fn write(rows: &[Row<'_>]) -> (tempfile::TempDir, PathBuf) {
    let events: Vec<Event> = rows
        .iter()
        .map(|&(us, pid, kind, f)| {
            let mut e = Event::new(us * 1000, 1, kind, Pid::local(pid, 0));
            if !f.is_empty() {
                e.mfa = Some(mfa("Elixir.M", f, 1));
            }
            if kind == Kind::ExceptionFrom {
                e.value = Some(Value::text("{:error, :boom}"));
            }
            e
        })
        .collect();
    write_events(&events)
}

/// Writes events as node `t@host`.
pub fn write_events(events: &[Event]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = WriterConfig::new(dir.path(), "t@host");
    cfg.clock = anchor;
    let mut w = TraceWriter::create(cfg).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    w.close().unwrap();
    let p = dir.path().to_path_buf();
    (dir, p)
}

/// Writes one trace directory holding several nodes; each node's clock anchor is
/// `EPOCH_NS + skew_ns` at monotonic 0 (a node whose clock runs behind has a negative skew).
pub fn write_nodes(nodes: &[(&str, i64, Vec<Event>)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (node, skew, events) in nodes {
        let mut cfg = WriterConfig::new(dir.path(), *node);
        // The skew moves the node's timestamps under the common anchor, which moves its
        // wall clock the same way.
        cfg.clock = anchor;
        let mut w = TraceWriter::create(cfg).unwrap();
        for e in events {
            let mut e = e.clone();
            e.ts += skew;
            w.push(&e).unwrap();
        }
        w.close().unwrap();
    }
    let p = dir.path().to_path_buf();
    (dir, p)
}

/// Loads a written trace.
pub fn load(path: &std::path::Path) -> (table::Loaded, Rows) {
    let loaded = table::load(&[path.to_path_buf()]).unwrap();
    let rows = Rows::from_frame(&loaded.events).unwrap();
    (loaded, rows)
}

/// Event builders for message and process tests (times in µs, pids by number).
pub mod ev {
    use super::*;

    fn at(us: i64, kind: Kind, pid: u32) -> Event {
        Event::new(us * 1000, 1, kind, Pid::local(pid, 0))
    }

    pub fn send(us: i64, from: u32, to: u32, hash: u32) -> Event {
        let mut e = at(us, Kind::Send, from);
        e.peer = Some(Pid::local(to, 0));
        e.msg_hash = Some(hash);
        e
    }

    pub fn send_to_name(us: i64, from: u32, name: &str, hash: u32) -> Event {
        let mut e = at(us, Kind::Send, from);
        e.name = Some(name.into());
        e.msg_hash = Some(hash);
        e
    }

    pub fn send_dead(us: i64, from: u32, to: u32, hash: u32) -> Event {
        let mut e = send(us, from, to, hash);
        e.kind = Kind::SendToNonExistingProcess;
        e
    }

    /// A send to process `<0.to.0>` on another node.
    pub fn send_remote(us: i64, from: u32, node: &str, to: u32, hash: u32) -> Event {
        let mut e = send(us, from, to, hash);
        e.peer = Some(Pid {
            node: Some(node.into()),
            number: to,
            serial: 0,
        });
        e
    }

    pub fn recv(us: i64, pid: u32, hash: u32) -> Event {
        let mut e = at(us, Kind::Receive, pid);
        e.msg_hash = Some(hash);
        e
    }

    pub fn register(us: i64, pid: u32, name: &str) -> Event {
        let mut e = at(us, Kind::Register, pid);
        e.name = Some(name.into());
        e
    }

    pub fn spawn(us: i64, parent: u32, child: u32, f: &str) -> Event {
        let mut e = at(us, Kind::Spawn, parent);
        e.peer = Some(Pid::local(child, 0));
        e.mfa = Some(mfa("Elixir.M", f, 0));
        e
    }

    pub fn link(us: i64, a: u32, b: u32) -> Event {
        let mut e = at(us, Kind::Link, a);
        e.peer = Some(Pid::local(b, 0));
        e
    }

    pub fn unlink(us: i64, a: u32, b: u32) -> Event {
        let mut e = at(us, Kind::Unlink, a);
        e.peer = Some(Pid::local(b, 0));
        e
    }

    /// A call of `Elixir.M.<f>/<arity>`.
    pub fn call(us: i64, pid: u32, f: &str, arity: u8) -> Event {
        let mut e = at(us, Kind::Call, pid);
        e.mfa = Some(mfa("Elixir.M", f, arity));
        e
    }

    pub fn span_start(us: i64, pid: u32, name: &str, id: u64, parent: u64) -> Event {
        let mut e = at(us, Kind::SpanStart, pid);
        e.name = Some(name.into());
        e.correlation = id;
        e.nums[0] = parent as i64;
        e
    }

    pub fn span_stop(us: i64, pid: u32, name: &str, id: u64, parent: u64) -> Event {
        let mut e = span_start(us, pid, name, id, parent);
        e.kind = Kind::SpanStop;
        e
    }

    pub fn telemetry(us: i64, pid: u32, name: &str, id: u64) -> Event {
        let mut e = at(us, Kind::Telemetry, pid);
        e.name = Some(name.into());
        e.correlation = id;
        e
    }

    pub fn ret(us: i64, pid: u32, f: &str, arity: u8) -> Event {
        let mut e = call(us, pid, f, arity);
        e.kind = Kind::ReturnFrom;
        e
    }

    pub fn exit(us: i64, pid: u32, reason: &str) -> Event {
        let mut e = at(us, Kind::Exit, pid);
        e.value = Some(Value::text(reason));
        e
    }
}
