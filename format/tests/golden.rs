//! Golden files: committed segments that must keep decoding to the same values, and a tiny
//! trace that must keep encoding to the same bytes. Regenerate with `SCOPE_BLESS=1` only when
//! the format version changes (then add a new golden file; keep the old ones, which older
//! versions' readability is tested on: `v1-*` are format 1, `v2-*` format 2).

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use scope_format::{Kind, Trace, FORMAT_VERSION};

const TINY: &str = "tests/golden/v2-tiny.scope";
const SMALL: &str = "tests/golden/v2-small.scope";
const TINY_V1: &str = "tests/golden/v1-tiny.scope";
const SMALL_V1: &str = "tests/golden/v1-small.scope";

#[test]
fn the_tiny_trace_encodes_to_the_committed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let written = std::fs::read(support::tiny_trace(dir.path())).unwrap();
    if support::bless() {
        std::fs::write(TINY, &written).unwrap();
    }
    let golden = std::fs::read(TINY).unwrap();
    assert_eq!(&golden[..8], b"SCOPESEG");
    assert_eq!(u16::from_le_bytes([golden[8], golden[9]]), FORMAT_VERSION);
    assert_eq!(golden[24], 1, "closed flag");
    assert_eq!(&golden[golden.len() - 8..], b"SCOPEEND");
    assert!(
        written == golden,
        "the writer's bytes changed: bump FORMAT_VERSION and add a golden file if the layout \
         changed on purpose; a change of the compressor's settings alone changes the bytes \
         but not the layout, and is re-blessed ({} bytes written, {} committed)",
        written.len(),
        golden.len()
    );
}

#[test]
fn the_tiny_trace_decodes_to_its_three_events_in_both_versions() {
    for (path, version) in [(TINY, 2), (TINY_V1, 1)] {
        tiny_decodes(path, version);
    }
}

fn tiny_decodes(path: &str, version: u16) {
    let trace = Trace::open(&[Path::new(path)]).unwrap();
    assert_eq!(trace.segments()[0].version, version);
    assert_eq!(
        trace.segments()[0].header.as_ref().unwrap().version,
        version
    );
    let events: Vec<_> = trace.events().map(|e| e.event).collect();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [Kind::Call, Kind::Send, Kind::ReturnFrom]);
    assert_eq!(
        events[0].mfa.as_ref().unwrap().to_string(),
        "Shop.Orders.place/1"
    );
    assert_eq!(
        &*events[0].value.as_ref().unwrap().bytes,
        b"[%{sku: \"A-1\"}]"
    );
    assert_eq!(events[1].peer.as_ref().unwrap().to_string(), "<0.90.1>");
    assert_eq!(events[1].msg_hash, Some(0xDEAD_BEEF));
    assert_eq!(events[2].ts - events[0].ts, 4000);
    let seg = &trace.segments()[0];
    let h = seg.header.as_ref().unwrap();
    assert_eq!(h.node, "tiny@golden");
    assert_eq!(h.otp_release, "25");
    assert!(seg.closed);
    assert!(trace.problems().is_empty(), "{:?}", trace.problems());
}

#[test]
fn the_small_golden_segment_decodes_to_pinned_counts_and_values_in_both_versions() {
    if support::bless() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = support::small_trace(dir.path());
        std::fs::copy(path, SMALL).unwrap();
    }
    // The synthetic trace's message hashes are random and rarely follow each other, so
    // format 2 gains nothing on it (the sizes differ by zstd's noise).
    for (path, version, len) in [(SMALL, 2, 40_632), (SMALL_V1, 1, 40_608)] {
        small_decodes(path, version, len);
    }
}

fn small_decodes(path: &str, version: u16, file_len: u64) {
    let trace = Trace::open(&[Path::new(path)]).unwrap();
    let seg = &trace.segments()[0];
    assert_eq!((seg.version, seg.file_len), (version, file_len));
    assert_eq!(seg.chunks.len(), 13);
    let events: Vec<_> = trace.events().collect();
    assert_eq!(events.len(), 3001);
    let mut by_kind = BTreeMap::new();
    for e in &events {
        *by_kind.entry(e.event.kind.name()).or_insert(0) += 1;
    }
    let expected: BTreeMap<&str, i32> = [
        ("call", 1192),
        ("return_from", 1175),
        ("send", 359),
        ("receive", 119),
        ("in", 54),
        ("out", 54),
        ("link", 16),
        ("spawn", 12),
        ("exception_from", 10),
        ("custom", 7),
        ("gc_minor_end", 2),
        ("dropped", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_kind, expected);
    assert_eq!(trace.dropped(), 5);
    let e = &events[1000];
    assert_eq!(e.wall_ns, 1_795_424_400_000_402_138);
    assert_eq!(
        (e.event.stream, e.event.seq, e.event.kind),
        (2, 499, Kind::ReturnFrom)
    );
    assert_eq!(e.event.pid.to_string(), "<0.135.0>");
    assert_eq!(
        e.event.mfa.as_ref().unwrap().to_string(),
        "Shop.Payments.map/2"
    );
    assert_eq!(
        &*e.event.value.as_ref().unwrap().bytes,
        b"{:ok, %{id: 867, status: :ok, items: [6]}}"
    );
    let with_values = events.iter().filter(|e| e.event.value.is_some()).count();
    let ts_sum: i64 = events.iter().map(|e| e.event.ts - 1_000_000_000).sum();
    assert_eq!((with_values, ts_sum), (2862, 1_852_242_231));
}

/// The recorder's writer thread passes events by interned name ([`TraceWriter::push_ref`]);
/// the same events must make the same segment as owned ones.
#[test]
fn events_pushed_by_interned_names_write_the_bytes_owned_events_write() {
    use scope_format::{EventRef, PidRef, TraceWriter, ValueRef};
    let dir = tempfile::tempdir().unwrap();
    let (owned, events) = support::small_trace(&dir.path().join("owned"));
    let mut c = support::config(&dir.path().join("interned"), "small@golden");
    c.chunk_events = 256;
    let mut w = TraceWriter::create(c).unwrap();
    for e in &events {
        let pid = |w: &mut TraceWriter, p: &scope_format::Pid| PidRef {
            node: p.node.as_ref().map(|n| w.intern(n).unwrap()),
            number: p.number,
            serial: p.serial,
        };
        let mut r = EventRef::new(e.ts, e.stream, e.kind, pid(&mut w, &e.pid));
        r.mfa = e.mfa.as_ref().map(|m| {
            let module = w.intern(&m.module).unwrap();
            (module, w.intern(&m.function).unwrap(), m.arity)
        });
        r.peer = e.peer.as_ref().map(|p| pid(&mut w, p));
        r.name = e.name.as_ref().map(|n| w.intern(n).unwrap());
        r.msg_hash = e.msg_hash;
        r.correlation = e.correlation;
        r.nums = e.nums;
        r.value = e.value.as_ref().map(|v| ValueRef {
            encoding: v.encoding,
            truncated: v.truncated,
            bytes: &v.bytes,
        });
        w.push_ref(&r).unwrap();
    }
    w.note_dropped(1, 5, 1_000_500_000, 0).unwrap();
    let interned = w.node_dir().join("seg-000001.scope");
    w.close().unwrap();
    assert!(std::fs::read(owned).unwrap() == std::fs::read(interned).unwrap());
}

#[test]
fn a_name_id_from_another_writer_is_refused() {
    use scope_format::{EventRef, PidRef, Sym, TraceWriter};
    let dir = tempfile::tempdir().unwrap();
    let mut a = TraceWriter::create(support::config(&dir.path().join("a"), "a@h")).unwrap();
    let mut b = TraceWriter::create(support::config(&dir.path().join("b"), "b@h")).unwrap();
    let _ = a.intern(&Sym::from("first")).unwrap();
    let foreign = a.intern(&Sym::from("second")).unwrap();
    let mut e = EventRef::new(1, 1, Kind::Register, PidRef::local(1, 0));
    e.name = Some(foreign);
    let err = b.push_ref(&e).unwrap_err().to_string();
    assert!(err.contains("not this writer's"), "{err}");
}
