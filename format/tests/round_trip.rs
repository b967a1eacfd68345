//! Arbitrary events written and read back identically, across chunk boundaries, segment
//! rotations and retention deletions.

use std::collections::BTreeMap;

use proptest::prelude::*;
use scope_format::{
    ClockAnchor, Event, Kind, Mfa, Pid, ProblemKind, Sym, Trace, TraceWriter, Value, ValueEncoding,
    WriterConfig,
};

fn anchor() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 0,
        system_ns: 1_700_000_000_000_000_000,
    }
}

fn sym() -> impl Strategy<Value = Sym> {
    prop_oneof![
        prop::sample::select(vec!["Elixir.A", "lists", "handle_call", "ok", "é✓"])
            .prop_map(Sym::from),
        "[a-zA-Z_.]{0,40}".prop_map(|s| Sym::from(s.as_str())),
        ".{0,300}".prop_map(|s| Sym::from(s.as_str())),
    ]
}

fn pid() -> impl Strategy<Value = Pid> {
    (prop::option::weighted(0.1, sym()), any::<u32>(), 0u32..4).prop_map(
        |(node, number, serial)| Pid {
            node,
            number,
            serial,
        },
    )
}

fn value() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(etf, truncated, bytes)| Value {
            encoding: if etf {
                ValueEncoding::Etf
            } else {
                ValueEncoding::Text
            },
            truncated,
            bytes: bytes.into(),
        })
}

prop_compose! {
    fn event(streams: u16)(
        ts in prop_oneof![0i64..1_000_000_000_000, any::<i64>()],
        stream in 0..streams,
        kind in prop::sample::select(Kind::ALL.to_vec()),
        pid in pid(),
        mfa in prop::option::of((sym(), sym(), any::<u8>())),
        peer in prop::option::of(pid()),
        name in prop::option::of(sym()),
        msg_hash in prop::option::of(any::<u32>()),
        correlation in any::<u64>(),
        nums in any::<[i64; 4]>(),
        value in prop::option::of(value()),
    ) -> Event {
        Event {
            ts, seq: 0, stream, kind, pid,
            mfa: mfa.map(|(module, function, arity)| Mfa { module, function, arity }),
            peer, name, msg_hash, correlation, nums, value,
        }
    }
}

/// Writes `events`, returning them per stream with the sequence numbers the writer assigns.
fn write(
    dir: &std::path::Path,
    events: &[Event],
    chunk_events: usize,
    max_bytes: u64,
) -> (BTreeMap<u16, Vec<Event>>, scope_format::WriterStats) {
    let mut config = WriterConfig::new(dir, "prop@host");
    config.chunk_events = chunk_events;
    config.segment_bytes = 64 << 10;
    config.max_bytes = max_bytes;
    config.clock = anchor;
    let mut w = TraceWriter::create(config).unwrap();
    let mut by_stream: BTreeMap<u16, Vec<Event>> = BTreeMap::new();
    for e in events {
        w.push(e).unwrap();
        let s = by_stream.entry(e.stream).or_default();
        let mut e = e.clone();
        e.seq = s.len() as u64;
        s.push(e);
    }
    (by_stream, w.close().unwrap())
}

/// Reads everything back per stream; with `ordered`, also checks the merge is in time order
/// (which holds when every stream was written in time order, as the recorder does).
fn read(dir: &std::path::Path, ordered: bool) -> (BTreeMap<u16, Vec<Event>>, Trace) {
    let trace = Trace::open(&[dir]).unwrap();
    let mut by_stream: BTreeMap<u16, Vec<Event>> = BTreeMap::new();
    let mut last_wall = i64::MIN;
    let mut events = trace.events();
    for te in &mut events {
        assert!(
            !ordered || te.wall_ns >= last_wall,
            "merged output is in wall-clock order"
        );
        last_wall = te.wall_ns;
        assert_eq!(&*te.node, "prop@host");
        by_stream.entry(te.event.stream).or_default().push(te.event);
    }
    assert!(events.problems().is_empty(), "{:?}", events.problems());
    for v in by_stream.values_mut() {
        v.sort_by_key(|e| e.seq);
    }
    (by_stream, trace)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn events_read_back_identically_across_chunks_and_segments(
        mut events in prop::collection::vec(event(3), 0..400),
        chunk_events in 1usize..40,
        time_ordered in any::<bool>(),
    ) {
        if time_ordered {
            events.sort_by_key(|e| e.ts);
        }
        let dir = tempfile::tempdir().unwrap();
        let (written, stats) = write(dir.path(), &events, chunk_events, 1 << 40);
        if events.is_empty() {
            prop_assert!(Trace::open(&[dir.path()]).is_err(), "an empty directory is no trace");
            return Ok(());
        }
        let (read, trace) = read(dir.path(), time_ordered);
        prop_assert_eq!(&read, &written);
        let damage: Vec<_> = trace.problems().iter().filter(|p| p.is_damage()).collect();
        prop_assert!(damage.is_empty(), "{:?}", damage);
        prop_assert_eq!(trace.segments().len() as u64, stats.segments);
    }

    #[test]
    fn retention_keeps_a_suffix_of_every_stream(
        events in prop::collection::vec(event(2), 200..600),
        chunk_events in 1usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Two segments' worth: older segments are deleted as new ones open.
        let (written, stats) = write(dir.path(), &events, chunk_events, 2 * (64 << 10));
        let (read, trace) = read(dir.path(), false);
        for (stream, got) in &read {
            let all = &written[stream];
            let first = got[0].seq as usize;
            prop_assert_eq!(&all[first..], &got[..], "stream {} keeps a suffix", stream);
            if first > 0 {
                let reported = trace.problems().iter().any(|p| matches!(p.kind,
                    ProblemKind::EarlierSegmentsMissing { stream: s, first_seq } if s == *stream && first_seq == first as u64));
                prop_assert!(reported, "stream {} reports its missing start", stream);
            }
        }
        let damage: Vec<_> = trace.problems().iter().filter(|p| p.is_damage()).collect();
        prop_assert!(damage.is_empty(), "{:?}", damage);
        prop_assert_eq!(trace.segments().len() as u64, stats.segments - stats.segments_deleted);
        let on_disk: u64 = trace.segments().iter().map(|s| s.file_len).sum();
        prop_assert!(on_disk <= 2 * (64 << 10) || trace.segments().len() == 1);
    }
}

#[test]
fn a_time_range_returns_exactly_the_events_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = scope_format::synthetic::Workload::new(3, Default::default()).take(50_000);
    let mut config = WriterConfig::new(dir.path(), "range@host");
    config.chunk_events = 1000;
    config.clock = anchor;
    let mut w = TraceWriter::create(config).unwrap();
    for e in &events {
        w.push(e).unwrap();
    }
    w.close().unwrap();
    let trace = Trace::open(&[dir.path()]).unwrap();
    let all: Vec<_> = trace.events().collect();
    assert_eq!(all.len(), events.len());
    let (from, to) = (all[10_000].wall_ns, all[20_000].wall_ns);
    let expected: Vec<_> = all
        .iter()
        .filter(|e| (from..=to).contains(&e.wall_ns))
        .cloned()
        .collect();
    let got: Vec<_> = trace.events_between(from, to).collect();
    assert_eq!(got, expected);
}

#[test]
fn chunks_stay_under_the_readers_limit_whatever_the_events_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = WriterConfig::new(dir.path(), "wide@host");
    config.chunk_events = 1 << 20;
    config.chunk_bytes = 4 << 20;
    config.clock = anchor;
    let mut w = TraceWriter::create(config).unwrap();
    // Every varint at its longest: ~117 raw bytes per event, far above the 24-byte estimate.
    let mut e = Event::new(i64::MIN, 3, Kind::Send, Pid::local(u32::MAX, u32::MAX));
    e.peer = Some(Pid {
        node: Some(Sym::from("n@h")),
        number: u32::MAX,
        serial: u32::MAX,
    });
    e.correlation = u64::MAX;
    e.nums = [i64::MIN; 4];
    e.msg_hash = Some(u32::MAX);
    let n = 200_000;
    for i in 0..n {
        e.ts = if i % 2 == 0 { i64::MIN } else { i64::MAX };
        w.push(&e).unwrap();
    }
    w.close().unwrap();
    let trace = Trace::open(&[dir.path()]).unwrap();
    assert!(
        trace.problems().iter().all(|p| !p.is_damage()),
        "{:?}",
        trace.problems()
    );
    for c in &trace.segments()[0].chunks {
        assert!(c.header.raw_len <= scope_format::chunk::MAX_RAW_LEN / 2 + 128);
    }
    assert_eq!(trace.events().count(), n);
}

/// Calls of one function whose argument counts down (`f(399_999)`, `f(399_998)`, …, the
/// argument list stored as its bare elements, as the recorder does): the values differ in
/// their last digits, and a chunk should cost about those. zstd's level 1 looks for matches
/// of 6 bytes and kept every value as literals: 2.36 bytes per event here, against 0.48
/// with matches of 4 bytes, which the writer asks for.
#[test]
fn short_values_that_differ_a_little_compress_to_their_differences() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = WriterConfig::new(dir.path(), "calls@host");
    config.clock = anchor;
    let mut w = TraceWriter::create(config).unwrap();
    let mfa = Mfa {
        module: Sym::from("Elixir.Bench.Work"),
        function: Sym::from("f"),
        arity: 1,
    };
    let n = 40_000;
    for i in 0..n {
        let mut call = Event::new(i64::from(i) * 250, 1, Kind::Call, Pid::local(104, 0));
        call.mfa = Some(mfa.clone());
        call.value = Some(Value::text(&(399_999 - i).to_string()));
        w.push(&call).unwrap();
    }
    let stats = w.close().unwrap();
    let per_event = stats.stored_bytes as f64 / f64::from(n);
    assert!(per_event < 1.0, "{per_event:.2} bytes per event");
}
