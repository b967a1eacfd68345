//! The writer thread end to end without a VM: records pushed into lanes come out of the
//! files resolved, drops are written as markers, limits stop the recording.

mod support;

use scope_format::{Kind, Trace};
use scope_recorder::drain;
use scope_recorder::record::{RawEvent, RawPid};
use scope_recorder::recorder::{State, StopReason};
use support::{push, recorder};

#[test]
fn records_are_resolved_into_events_with_names_pids_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path(), |_| {});
    let mut call = RawEvent::new(Kind::Call, 1500, RawPid::Word(85 << 8));
    call.mfa = Some((1, 2, 1));
    assert!(push(&rec, 0, &call, Some(b"%{sku: 1}")));
    let mut reg = RawEvent::new(Kind::Register, 1600, RawPid::Word(86 << 8 | 2));
    reg.name = Some(3);
    assert!(push(&rec, 2, &reg, None));
    drain::stop(&rec);
    assert_eq!(rec.state(), State::Stopped);

    let trace = Trace::open(&[dir.path()]).unwrap();
    let events: Vec<_> = trace.events().map(|e| e.event).collect();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::RecorderStart,
            Kind::Call,
            Kind::Register,
            Kind::RecorderStop
        ]
    );
    let c = &events[1];
    assert_eq!(c.stream, 1);
    assert_eq!(c.pid.to_string(), "<0.85.0>");
    assert_eq!(c.mfa.as_ref().unwrap().to_string(), "Shop.Orders.place/1");
    assert_eq!(&*c.value.as_ref().unwrap().bytes, b"%{sku: 1}");
    let r = &events[2];
    assert_eq!(r.stream, 0, "the shared lane is stream 0");
    assert_eq!(r.pid.to_string(), "<0.86.2>");
    assert_eq!(r.name.as_deref(), Some("worker"));
    assert_eq!(
        rec.stats.events.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let h = trace.segments()[0].header.as_ref().unwrap();
    assert!(h.settings.contains(&("capture".into(), "bytes:256".into())));
    assert!(h.settings.contains(&("clock".into(), "monotonic".into())));
    assert!(h
        .settings
        .contains(&("msg_hash".into(), "structural-4".into())));
}

#[test]
fn a_full_ring_drops_are_counted_and_written_into_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    // A long flush interval: the test fills the ring before the writer looks.
    let rec = recorder(dir.path(), |c| c.flush_ms = 60_000);
    let mut e = RawEvent::new(Kind::Call, 1, RawPid::Word(90 << 8));
    e.mfa = Some((1, 2, 0));
    let accepted = (0..10_000).filter(|_| push(&rec, 1, &e, None)).count() as u64;
    assert!(accepted < 10_000);
    drain::stop(&rec);
    let trace = Trace::open(&[dir.path()]).unwrap();
    assert_eq!(trace.dropped(), 10_000 - accepted);
    let marker = trace
        .events()
        .find(|e| e.event.kind == Kind::Dropped)
        .unwrap();
    assert_eq!(marker.event.stream, 2);
    assert_eq!(marker.event.nums[..2], [(10_000 - accepted) as i64, 0]);
}

#[test]
fn an_event_limit_stops_the_recording_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path(), |c| c.stop_after_events = Some(10));
    let e = RawEvent::new(Kind::Exit, 1, RawPid::Word(90 << 8));
    for _ in 0..50 {
        push(&rec, 0, &e, Some(b":normal"));
    }
    // No stop request: the limit must end it.
    while rec.state() == State::Running {
        std::thread::yield_now();
    }
    drain::stop(&rec);
    assert_eq!(rec.state(), State::Stopped);
    assert_eq!(
        *rec.stop_reason.lock().unwrap(),
        Some(StopReason::EventLimit)
    );
}

#[test]
fn a_write_error_stops_recording_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path(), |c| {
        c.segment_bytes = 64 << 10;
        c.max_bytes = 64 << 10;
    });
    // Make the next segment impossible to create: a directory where the file would go.
    let node_dir = dir.path().join("w@host");
    for seq in 2..50 {
        std::fs::create_dir_all(node_dir.join(scope_format::segment_name(seq))).unwrap();
    }
    let e = RawEvent::new(Kind::Exit, 1, RawPid::Word(90 << 8));
    let value = vec![b'x'; 2000];
    while rec.state() == State::Running {
        push(&rec, 0, &e, Some(&value));
    }
    drain::stop(&rec);
    assert_eq!(rec.state(), State::Failed);
    let reason = rec.stop_reason.lock().unwrap().clone();
    match reason {
        Some(StopReason::Error(msg)) => assert!(msg.contains("seg-000002.scope"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // What was written stays readable.
    let trace = Trace::open(&[node_dir.join("seg-000001.scope")]).unwrap();
    assert!(trace.events().count() > 10);
    assert!(trace.problems().iter().all(|p| !p.is_damage()));
}

/// A VM whose TSC runs at 3 GHz from 10^12 and whose monotonic clock moves a second per
/// reading.
struct TscVm(support::FakeVm);

impl drain::Resolve for TscVm {
    fn atom(&mut self, word: u64) -> Option<String> {
        self.0.atom(word)
    }
    fn pid(&mut self, word: u64) -> Option<(u32, u32)> {
        self.0.pid(word)
    }
    fn now(&self) -> i64 {
        self.0.now()
    }
    fn clock_pair(&self) -> (u64, i64) {
        let ns = self.now();
        (tsc_at(ns), ns)
    }
}

fn tsc_at(ns: i64) -> u64 {
    1_000_000_000_000 + 3 * ns as u64
}

#[test]
fn tsc_stamps_are_written_as_nanoseconds_and_never_step_back_in_a_lane() {
    use scope_recorder::clock::{Clock, TickMap};
    let dir = tempfile::tempdir().unwrap();
    let mut c = scope_recorder::recorder::Config::new(dir.path(), "w@host");
    c.buffer_bytes = 64 << 10;
    let mut rec = scope_recorder::recorder::Recorder::new(c).unwrap();
    let map = TickMap::calibrate((tsc_at(0), 0), (tsc_at(1_000_000), 1_000_000)).unwrap();
    rec.set_clock(Clock::Ticks(map));
    assert_eq!(rec.second, 3_000_000_000, "the budget's second is in ticks");
    let rec = std::sync::Arc::new(rec);
    // Stamps in ticks; the third steps back (a seam between two drains' lines).
    for ns in [2_000, 5_000_000, 4_999_990, 7_000_000] {
        let e = RawEvent::new(Kind::Exit, tsc_at(ns) as i64, RawPid::Word(90 << 8));
        assert!(push(&rec, 0, &e, None));
    }
    let vm = TscVm(support::FakeVm(1000.into()));
    drain::start(rec.clone(), Box::new(vm), support::anchor).unwrap();
    drain::stop(&rec);
    let trace = Trace::open(&[dir.path()]).unwrap();
    let ts: Vec<i64> = trace
        .events()
        .filter(|e| e.event.kind == Kind::Exit)
        .map(|e| e.event.ts)
        .collect();
    assert_eq!(ts, [2_000, 5_000_000, 5_000_000, 7_000_000]);
    let h = trace.segments()[0].header.as_ref().unwrap();
    assert!(h.settings.contains(&("clock".into(), "tsc".into())));
}
