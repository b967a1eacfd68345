//! The exit hook (`drain::stop_all`): its own test binary, because it stops every recording
//! in the process — other tests' too.

mod support;

use scope_format::{Kind, Trace};
use scope_recorder::drain;
use scope_recorder::record::{RawEvent, RawPid};
use scope_recorder::recorder::State;
use support::{push, recorder};

#[test]
fn recordings_still_running_at_exit_are_closed_with_their_footer() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path(), |_| {});
    let mut call = RawEvent::new(Kind::Call, 1500, RawPid::Word(85 << 8));
    call.mfa = Some((1, 2, 1));
    assert!(push(&rec, 0, &call, None));
    // What the NIF's exit hook runs: no ElixirScope.stop/0 came.
    drain::stop_all(std::time::Duration::from_secs(10));
    assert_eq!(rec.state(), State::Stopped);
    let trace = Trace::open(&[dir.path()]).unwrap();
    assert!(trace.problems().is_empty(), "{:?}", trace.problems());
    assert!(trace.segments()[0].closed, "closed with a footer");
    let kinds: Vec<_> = trace.events().map(|e| e.event.kind).collect();
    assert_eq!(kinds, [Kind::RecorderStart, Kind::Call, Kind::RecorderStop]);
    // Stopped recordings are not stopped twice.
    drain::stop_all(std::time::Duration::from_secs(1));
}
