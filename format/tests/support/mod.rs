//! Shared fixtures: the deterministic traces golden files and corpora are made from.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use scope_format::synthetic::{Shape, Workload};
use scope_format::{ClockAnchor, Event, Kind, Mfa, Pid, Sym, TraceWriter, Value, WriterConfig};

pub fn anchor() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 1_000_000_000,
        system_ns: 1_795_424_400_000_000_000, // 2026-11-23T09:00:00Z
    }
}

pub fn config(dir: &Path, node: &str) -> WriterConfig {
    let mut c = WriterConfig::new(dir, node);
    c.otp_release = "25".into();
    c.run_id = 0x5c09e;
    c.clock = anchor;
    c.settings = vec![("capture".into(), "bytes:256".into())];
    c
}

/// The standard small trace: 3000 synthetic events with values, two streams, chunks of 256
/// events, one segment. Returns its path and the events as written (seq assigned).
pub fn small_trace(dir: &Path) -> (PathBuf, Vec<Event>) {
    let mut c = config(dir, "small@golden");
    c.chunk_events = 256;
    let mut w = TraceWriter::create(c).unwrap();
    let shape = Shape {
        values: true,
        ..Shape::default()
    };
    let mut events = Workload::new(11, shape).take(3000);
    let mut seqs = [0u64; 8];
    for e in &mut events {
        w.push(e).unwrap();
        e.seq = seqs[usize::from(e.stream)];
        seqs[usize::from(e.stream)] += 1;
    }
    w.note_dropped(1, 5, 1_000_500_000, 0).unwrap();
    let node_dir = w.node_dir().to_path_buf();
    w.close().unwrap();
    (node_dir.join("seg-000001.scope"), events)
}

/// The small trace as a crashed writer leaves it: no footer, the preallocated zero tail.
pub fn small_trace_unclosed(dir: &Path) -> Vec<u8> {
    let (path, _) = small_trace(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let seg = scope_format::Segment::scan(&path, &bytes).unwrap();
    let footer_at = seg
        .chunks
        .last()
        .map(|c| c.offset + c.header.span())
        .unwrap() as usize;
    bytes.truncate(footer_at);
    bytes[24] = 0; // closed flag off
    bytes.resize(footer_at + 4096, 0); // an unused preallocated tail
    bytes
}

/// A tiny trace of three hand-written events.
pub fn tiny_trace(dir: &Path) -> PathBuf {
    let mut w = TraceWriter::create(config(dir, "tiny@golden")).unwrap();
    let pid = Pid::local(85, 0);
    let mut call = Event::new(1_000_000_100, 1, Kind::Call, pid.clone());
    call.mfa = Some(Mfa {
        module: Sym::from("Elixir.Shop.Orders"),
        function: Sym::from("place"),
        arity: 1,
    });
    call.value = Some(Value::text("[%{sku: \"A-1\"}]"));
    let mut ret = Event::new(1_000_004_100, 1, Kind::ReturnFrom, pid.clone());
    ret.mfa = call.mfa.clone();
    ret.value = Some(Value::text("{:ok, 42}"));
    let mut send = Event::new(1_000_002_000, 1, Kind::Send, pid);
    send.peer = Some(Pid::local(90, 1));
    send.msg_hash = Some(0xDEAD_BEEF);
    for e in [&call, &send, &ret] {
        w.push(e).unwrap();
    }
    let node_dir = w.node_dir().to_path_buf();
    w.close().unwrap();
    node_dir.join("seg-000001.scope")
}

/// Whether to rewrite golden files instead of comparing (`SCOPE_BLESS=1`).
pub fn bless() -> bool {
    std::env::var_os("SCOPE_BLESS").is_some_and(|v| v == "1")
}
